/**
 * The `vpn` command as a script sees it: exit codes and messages, without a terminal.
 * These cases fail before any privileged step, so they run anywhere.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
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
  assert.equal((JSON.parse(j.stdout) as { state: string }).state, 'down');
  assert.equal(vpn(['disconnect']).code, EXIT.NOT_RUNNING);
});
