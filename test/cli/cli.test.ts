/**
 * The `vpn` command as a script sees it: exit codes and messages, without a terminal.
 * These cases fail before any privileged step, so they run anywhere.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { mkdtempSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT } from '../../src/cli/exit-codes.js';

const BIN = fileURLToPath(new URL('../../../bin/vpn.js', import.meta.url));

function vpn(args: string[], env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'vpn-cli-'));
  try {
    const r = spawnSync(process.execPath, [BIN, ...args], {
      encoding: 'utf8',
      env: { ...process.env, VPN_PSK: '', VPN_RUNTIME_DIR: dir, ...env },
      timeout: 20000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('--help and --version exit 0', () => {
  const h = vpn(['--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /connect/);
  const c = vpn(['connect', '--help']);
  assert.equal(c.code, 0);
  for (const flag of [
    '--id',
    '--remote-id',
    '--psk-file',
    '--port',
    '--ike',
    '--esp',
    '--dns',
    '--background',
    '--json',
    '--verbose',
  ]) {
    assert.ok(c.stdout.includes(flag), flag);
  }
  assert.equal(vpn(['--version']).code, 0);
});

test('usage errors exit 2', () => {
  assert.equal(vpn(['connect']).code, EXIT.USAGE);
  assert.equal(vpn(['connect', 'gw', '--port', '70000']).code, EXIT.USAGE);
  assert.equal(vpn(['connect', 'gw', '--dns', 'maybe']).code, EXIT.USAGE);
  assert.equal(vpn(['frobnicate']).code, EXIT.USAGE);
});

test('no PSK without a terminal: exit 2 with a hint', () => {
  const r = vpn(['connect', '198.51.100.10']);
  assert.equal(r.code, EXIT.USAGE);
  assert.match(r.stderr, /--psk-file|VPN_PSK/);
});

test('a PSK file readable by others is refused before anything happens', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vpn-psk-'));
  try {
    const f = join(dir, 'psk');
    writeFileSync(f, 'secret\n');
    chmodSync(f, 0o644);
    const r = vpn(['connect', '198.51.100.10', '--psk-file', f, '--json']);
    assert.equal(r.code, EXIT.USAGE);
    const last = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
      event: string;
      error: string;
    };
    assert.equal(last.event, 'error');
    assert.match(last.error, /accessible by others/);
    // Every --json failure line says how the command ends.
    assert.equal((last as { exitCode?: number }).exitCode, EXIT.USAGE);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bad proposal string is a usage error naming the token', () => {
  const r = vpn(['connect', '198.51.100.10', '--ike', 'aes256gcm16-prfsha256-x25519-rot13'], {
    VPN_PSK: 'x',
  });
  assert.equal(r.code, EXIT.USAGE);
  assert.match(r.stderr, /unknown algorithm "rot13"/);
});

test('status and disconnect with no tunnel running exit 11', () => {
  const s = vpn(['status']);
  assert.equal(s.code, EXIT.NOT_RUNNING);
  assert.match(s.stderr, /no tunnel is running/);
  const j = vpn(['status', '--json']);
  assert.equal(j.code, EXIT.NOT_RUNNING);
  const down = JSON.parse(j.stdout) as { state: string; exitCode: number };
  assert.equal(down.state, 'down');
  assert.equal(down.exitCode, EXIT.NOT_RUNNING);
  assert.equal(vpn(['disconnect']).code, EXIT.NOT_RUNNING);
});

/** A stand-in for a running tunnel's control socket: answers every request with `result`. */
async function fakeTunnel(dir: string, name: string, result: unknown): Promise<Server> {
  const server = createServer((sock) => {
    sock.once('data', () => sock.end(JSON.stringify({ ok: true, result }) + '\n'));
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(join(dir, `${name}.sock`), () => r()));
  return server;
}

/**
 * Runs vpn without blocking this process (the fake tunnel answers from here). With `slowMs` the
 * reader of its stdout waits that long before it reads anything, as a slow `| jq` would.
 */
function vpnAsync(
  args: string[],
  env: Record<string, string>,
  slowMs = 0,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, VPN_PSK: '', CI: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  if (slowMs) {
    proc.stdout.pause();
    setTimeout(() => proc.stdout.resume(), slowMs);
  }
  const killer = setTimeout(() => proc.kill('SIGKILL'), 20000);
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    proc.on('close', (code) => resolve({ code, stdout, stderr })),
  ).finally(() => {
    clearTimeout(killer);
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
}

test('disconnect --json prints one JSON line when it fails', () => {
  const r = vpn(['disconnect', '--json']);
  assert.equal(r.code, EXIT.NOT_RUNNING);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1);
  const j = JSON.parse(lines[0]!) as { disconnected: boolean; exitCode: number; error: string };
  assert.equal(j.disconnected, false);
  assert.equal(j.exitCode, EXIT.NOT_RUNNING);
  assert.match(j.error, /no tunnel is running/);
});

test('a usage error with --json still prints a JSON line on stdout', () => {
  const r = vpn(['status', '--json', '--bogus']);
  assert.equal(r.code, EXIT.USAGE);
  const j = JSON.parse(r.stdout.trim()) as { event: string; exitCode: number };
  assert.equal(j.event, 'error');
  assert.equal(j.exitCode, EXIT.USAGE);
});

test('status --json larger than a pipe buffer reaches a slow reader whole', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vpn-cli-'));
  // 4,000 routes and a long domain list: about 300 KB of JSON, several times the 64 KB pipe.
  const big = {
    state: 'up',
    summary: { routes: Array.from({ length: 4000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`) },
    esp: {},
    ike: { retransmits: 0 },
    pad: 'x'.repeat(250_000),
  };
  const server = await fakeTunnel(dir, 'default', big);
  try {
    const r = await vpnAsync(['status', '--json'], { VPN_RUNTIME_DIR: dir }, 1500);
    assert.equal(r.code, EXIT.OK, r.stderr);
    assert.ok(r.stdout.length > 250_000, `only ${r.stdout.length} bytes arrived`);
    assert.deepEqual(JSON.parse(r.stdout), big);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const background of [false, true]) {
  test(`connect${background ? ' --background' : ''} with the --name of a running tunnel: exit 17`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vpn-cli-'));
    const server = await fakeTunnel(dir, 'work', { state: 'up', pid: 4242, esp: {} });
    try {
      const r = await vpnAsync(
        ['connect', '198.51.100.10', '--name', 'work', ...(background ? ['--background'] : [])],
        { VPN_RUNTIME_DIR: dir, VPN_PSK: 'x' },
      );
      assert.equal(r.code, EXIT.ALREADY_RUNNING, r.stderr);
      assert.match(
        r.stderr,
        /a tunnel named work is already running \(pid 4242\); disconnect it first \(vpn disconnect --name work\) or pick another --name/,
      );
      assert.doesNotMatch(r.stderr, /internal error|at .*\.js:\d+/);
      // Nothing of the running tunnel's was touched: its socket still answers.
      const s = await vpnAsync(['status', '--json', '--name', 'work'], { VPN_RUNTIME_DIR: dir });
      assert.equal((JSON.parse(s.stdout) as { pid: number }).pid, 4242);
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('Ctrl-C at the PSK prompt exits 130 with "cancelled"', { skip: hasScript() }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vpn-cli-'));
  // script(1) gives vpn a terminal, so it prompts; Ctrl-C arrives as a character in raw mode.
  const cmd = `exec ${process.execPath} ${BIN} connect 198.51.100.10`;
  const proc = spawn('script', ['-qec', cmd, '/dev/null'], {
    env: { ...process.env, VPN_PSK: '', CI: '', VPN_RUNTIME_DIR: dir, TERM: 'dumb' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const killer = setTimeout(() => proc.kill('SIGKILL'), 20000);
  try {
    let out = '';
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (d: string) => {
      out += d;
      if (out.includes('Pre-shared key:') && !proc.stdin.writableEnded) proc.stdin.end('\x03');
    });
    const code = await new Promise<number | null>((r) => proc.on('close', (c) => r(c)));
    assert.match(out, /Pre-shared key:/);
    assert.equal(code, EXIT.CANCELLED, out);
    assert.match(out, /cancelled/);
    assert.doesNotMatch(out, /internal error/);
  } finally {
    clearTimeout(killer);
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

function hasScript(): string | false {
  return spawnSync('script', ['--version']).status === 0 ? false : 'script (util-linux) not found';
}

test('connect --background whose tunnel process dies at once: its exit code and log, no crash', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vpn-cli-'));
  try {
    // Preloaded into both processes; only the --daemon-child one exits, before it reads the
    // secrets: the IPC channel closes under the parent.
    const die = join(dir, 'die.cjs');
    writeFileSync(die, "if (process.argv.includes('--daemon-child')) process.exit(9);\n");
    const r = vpn(['connect', '198.51.100.10', '--background'], {
      VPN_PSK: 'x',
      NODE_OPTIONS: `--require ${die}`,
    });
    assert.equal(r.code, 9, r.stderr);
    assert.match(r.stderr, /tunnel process exited \(9\); see .*default\.log/);
    assert.doesNotMatch(r.stderr, /internal error|ERR_IPC/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
