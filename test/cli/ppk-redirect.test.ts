/**
 * The PPK (RFC 8784) and redirect (RFC 5685) flags of `vpn connect` as a script sees them: the
 * PPK file is a secret (mode 600, sane length), the flags go together, and the summary says
 * whether the PPK is in use and which gateway we were redirected to. Nothing here needs root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT } from '../../src/cli/exit-codes.js';
import { summaryLines } from '../../src/cli/ui.js';
import type { TunnelSummary } from '../../src/client/tunnel.js';

const BIN = fileURLToPath(new URL('../../../bin/vpn.js', import.meta.url));

function vpn(args: string[]): { code: number | null; stderr: string; stdout: string } {
  const dir = mkdtempSync(join(tmpdir(), 'vpn-ppk-'));
  try {
    const r = spawnSync(process.execPath, [BIN, ...args], {
      encoding: 'utf8',
      env: { ...process.env, VPN_PSK: 'x', VPN_RUNTIME_DIR: dir },
      timeout: 20000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function withPpkFile(content: string, mode: number, fn: (path: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'vpn-ppkf-'));
  try {
    const f = join(dir, 'ppk');
    writeFileSync(f, content);
    chmodSync(f, mode);
    fn(f);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const GOOD_PPK = 'an RFC 8784 PPK of more than 32 bytes\n';

test('connect --help lists the PPK and redirect flags', () => {
  const c = vpn(['connect', '--help']);
  assert.equal(c.code, 0);
  for (const flag of ['--ppk-file', '--ppk-id', '--ppk-required', '--no-redirect'])
    assert.ok(c.stdout.includes(flag), flag);
});

test('PPK flag combinations and PPK files are checked before anything happens (exit 2)', () => {
  withPpkFile(GOOD_PPK, 0o600, (f) => {
    const alone = vpn(['connect', '198.51.100.10', '--ppk-file', f]);
    assert.equal(alone.code, EXIT.USAGE);
    assert.match(alone.stderr, /--ppk-file and --ppk-id go together/);
    const req = vpn(['connect', '198.51.100.10', '--ppk-required']);
    assert.equal(req.code, EXIT.USAGE);
    assert.match(req.stderr, /--ppk-required needs --ppk-file/);
    const eap = vpn([
      'connect',
      '198.51.100.10',
      '--eap-identity',
      'carol',
      '--eap',
      'md5',
      '--ppk-file',
      f,
      '--ppk-id',
      'x',
    ]);
    assert.equal(eap.code, EXIT.USAGE);
    assert.match(eap.stderr, /RFC 8784 with EAP is not implemented/);
  });
  withPpkFile(GOOD_PPK, 0o644, (f) => {
    const r = vpn(['connect', '198.51.100.10', '--ppk-file', f, '--ppk-id', 'x']);
    assert.equal(r.code, EXIT.USAGE);
    assert.match(r.stderr, /accessible by others/);
  });
  withPpkFile('short\n', 0o600, (f) => {
    const r = vpn(['connect', '198.51.100.10', '--ppk-file', f, '--ppk-id', 'x']);
    assert.equal(r.code, EXIT.USAGE);
    assert.match(r.stderr, /has 5 bytes; RFC 8784 §3 wants at least 16/);
  });
});

test('the summary (and vpn status) say whether the PPK is in use and where we were redirected', () => {
  const s: TunnelSummary = {
    gateway: 'vpn.example.com',
    gatewayAddress: '198.51.100.20',
    redirectedFrom: '198.51.100.10',
    device: 'vpn0',
    mtu: 1400,
    virtualIp4: '203.0.113.130',
    dns: [],
    domains: [],
    routes: ['0.0.0.0/0'],
    connectMs: 120,
    espPath: 'js',
    ike: {
      localId: 'client@test',
      remoteId: 'gw.test',
      ikeProposal: 'aes256gcm16-prfsha256-x25519',
      espProposal: 'aes256gcm16',
      natHere: false,
      natThere: false,
      config: { dns4: [], dns6: [], domains: [] } as unknown as TunnelSummary['ike']['config'],
      tsLocal: [],
      tsRemote: [],
      spiI: '00',
      spiR: '00',
      remote: { address: '198.51.100.20', port: 4500 },
      ppk: true,
    },
  };
  const lines = summaryLines(s);
  assert.match(lines[0]!, /Connected to vpn\.example\.com \(198\.51\.100\.20\)/);
  assert.ok(lines.includes('Gateway:     198.51.100.20 (redirected from 198.51.100.10, RFC 5685)'));
  assert.ok(lines.some((l) => /^PPK: +in use/.test(l)));
  // vpn status prints the lines after the first: the new gateway and the PPK are among them.
  assert.ok(lines.slice(1).some((l) => l.includes('198.51.100.20')));
  const without = summaryLines({ ...s, ike: { ...s.ike, ppk: false } });
  assert.ok(without.some((l) => /^PPK: +NOT in use/.test(l)));
  const noPpk = { ...s.ike };
  delete noPpk.ppk;
  assert.ok(!summaryLines({ ...s, ike: noPpk }).some((l) => l.startsWith('PPK:')));
});

test('a profile holds the PPK and redirect settings (ppk-file, ppk-id, ppk-required, redirect)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vpn-ppkprof-'));
  try {
    writeFileSync(join(dir, 'ppk'), GOOD_PPK);
    chmodSync(join(dir, 'ppk'), 0o600);
    writeFileSync(
      join(dir, 'pq.conf'),
      'gateway = 198.51.100.10\nppk-file = ppk\nppk-id = ppk-2026\nppk-required = true\nredirect = false\n',
    );
    const r = spawnSync(process.execPath, [BIN, 'show', 'pq', '--json'], {
      encoding: 'utf8',
      env: { ...process.env, VPN_PROFILE_DIR: dir, VPN_RUNTIME_DIR: dir },
      timeout: 20000,
    });
    assert.equal(r.status, 0, r.stderr);
    const s = (JSON.parse(r.stdout) as { settings: Record<string, unknown> }).settings;
    assert.equal(s['ppk-file'], join(dir, 'ppk'));
    assert.equal(s['ppk-id'], 'ppk-2026');
    assert.equal(String(s['ppk-required']), 'true');
    assert.equal(String(s['redirect']), 'false');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
