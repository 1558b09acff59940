/**
 * `vpn connect` through the real bin against a fake gateway (the in-memory test responder behind a
 * UDP socket on loopback), both in a private network namespace (`unshare -n`) so the TUN device
 * the client opens never touches the host. Needs root and the TUN addon; skipped otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT } from '../../src/cli/exit-codes.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const FIXTURE = join(ROOT, 'dist/test/cli/fixtures/fake-gateway.js');

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (a network namespace and a TUN device)';
  if (spawnSync('unshare', ['--version']).status !== 0) return 'unshare (util-linux) not found';
  if (!existsSync(join(ROOT, 'build/Release/tun.node')))
    return 'TUN addon not built (npm run build:addon)';
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun';
  return undefined;
}
const skip = skipReason();

/** What the review's hostile gateway sends as its identity: OSC retitle, C1 CSI, RLO. */
const HOSTILE = 'gw\x1b]0;pwned\x07\u009b31m\u202eevil';

const RAW =
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

interface Run {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  links: string;
  leftover: string[];
}

function connect(args: string[], env: Record<string, string> = {}): Run {
  const dir = mkdtempSync(join(tmpdir(), 'vpn-cli-gw-'));
  try {
    const r = spawnSync('unshare', ['-n', process.execPath, FIXTURE, '--timeout', '5', ...args], {
      encoding: 'utf8',
      env: {
        ...process.env,
        VPN_PSK: 'correct horse',
        VPN_RUNTIME_DIR: dir,
        VPN_DNS_BACKEND: 'file',
        CI: 'true',
        ...env,
      },
      // The fixture SIGKILLs the client after 30 s; this only guards the fixture itself.
      timeout: 45000,
      killSignal: 'SIGKILL',
    });
    assert.equal(r.status, 0, `fixture failed: ${r.stderr}`);
    const run = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Omit<Run, 'leftover'>;
    // The journal of host changes is removed once everything is restored.
    return { ...run, leftover: readdirSync(dir).filter((f) => f.endsWith('.journal')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a hostile gateway identity is escaped in text mode', { skip }, () => {
  const r = connect(['--remote-id', '@gw.example', '--no-ipv6'], { FAKE_GW_ID: HOSTILE });
  assert.equal(r.code, EXIT.AUTH_FAILED, r.stderr);
  assert.equal(RAW.test(r.stderr), false, JSON.stringify(r.stderr));
  assert.ok(
    r.stderr.includes('gateway identified as "gw\\x1b]0;pwned\\x07\\u009b31m\\u202eevil"'),
    r.stderr,
  );
});

test(
  'a hostile gateway identity is escaped in --json mode, which stays valid JSON',
  { skip },
  () => {
    const r = connect(['--remote-id', '@gw.example', '--no-ipv6', '--json'], {
      FAKE_GW_ID: HOSTILE,
    });
    assert.equal(r.code, EXIT.AUTH_FAILED, r.stdout);
    assert.equal(RAW.test(r.stdout), false, JSON.stringify(r.stdout));
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const err = events.at(-1)!;
    assert.equal(err['event'], 'error');
    assert.equal(err['error'], `gateway identified as "${HOSTILE}", expected "gw.example"`);
  },
);

test('AUTHENTICATION_FAILED from the gateway: the hint names --remote-id', { skip }, () => {
  const r = connect(['--remote-id', '@gw', '--no-ipv6'], { VPN_PSK: 'wrong horse' });
  assert.equal(r.code, EXIT.AUTH_FAILED, r.stderr);
  assert.match(r.stderr, /AUTHENTICATION_FAILED\): check the pre-shared key, --id .*--remote-id/);
});

for (const [sig, code] of [
  ['SIGINT', EXIT.CANCELLED],
  ['SIGTERM', EXIT.TERMINATED],
] as const) {
  test(`${sig} while connecting: exit ${code}, "cancelled", host restored`, { skip }, () => {
    const r = connect(['--no-ipv6'], { FAKE_GW_SILENT: '1', FAKE_GW_SIGNAL: sig });
    assert.equal(r.code, code, r.stderr);
    assert.match(r.stderr, new RegExp(`cancelled \\(${sig}\\)`));
    // The TUN device opened before IKE_SA_INIT is gone, and so is the journal.
    assert.doesNotMatch(r.links, /vpn\d/);
    assert.deepEqual(r.leftover, []);
  });
}

test('SIGINT while connecting with --json: the last line is the JSON error', { skip }, () => {
  const r = connect(['--no-ipv6', '--json'], { FAKE_GW_SILENT: '1', FAKE_GW_SIGNAL: 'SIGINT' });
  assert.equal(r.code, EXIT.CANCELLED);
  const last = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  assert.equal(last['event'], 'error');
  assert.match(String(last['error']), /cancelled/);
  assert.equal(last['exitCode'], EXIT.CANCELLED);
});

for (const [what, stty] of [
  ['a sized terminal (spinner)', 'stty cols 100 rows 30; '],
  ['an unsized (0-column) terminal', ''],
] as const)
  test(`Ctrl-C in ${what} while connecting: exit 130, "cancelled"`, { skip }, async () => {
    if (spawnSync('script', ['--version']).status !== 0) return;
    const dir = mkdtempSync(join(tmpdir(), 'vpn-cli-gw-'));
    // script(1) gives vpn a terminal (spinners on); nothing answers on 127.0.0.1:9, so it stays in
    // IKE_SA_INIT until Ctrl-C, which the terminal turns into SIGINT (it must not be in raw mode).
    const cmd = `${stty}ip link set lo up; exec ${process.execPath} ${join(ROOT, 'bin/vpn.js')} connect 127.0.0.1 --port 9 --timeout 15 --no-ipv6`;
    // No CI variable at all: ora (like vpn) draws no spinner when it is set, even empty.
    const env: NodeJS.ProcessEnv = { ...process.env, VPN_PSK: 'x', VPN_RUNTIME_DIR: dir };
    delete env['CI'];
    env['TERM'] = 'xterm';
    const proc = spawn('unshare', ['-n', 'script', '-qec', cmd, '/dev/null'], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const killer = setTimeout(() => proc.kill('SIGKILL'), 25000);
    try {
      let out = '';
      let sent = false;
      proc.stdout.setEncoding('utf8');
      proc.stdout.on('data', (d: string) => {
        out += d;
        if (!sent && out.includes('IKE_SA_INIT')) {
          sent = true;
          setTimeout(() => proc.stdin.write('\x03'), 1000);
        }
      });
      const code = await new Promise<number | null>((r) => proc.on('close', (c) => r(c)));
      assert.ok(sent, out);
      assert.equal(code, EXIT.CANCELLED, out);
      assert.match(out, /cancelled \(SIGINT\)/);
      // ora in a 0-column terminal wrote cursor-up/clear-line forever (megabytes a second).
      assert.ok(out.length < 100_000, `${out.length} bytes of output`);
    } finally {
      clearTimeout(killer);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
