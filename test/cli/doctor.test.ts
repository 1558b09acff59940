/**
 * `vpn doctor`: which addon files this installation loads (here: the checkout's prebuilds/ or
 * build/Release/, whichever src/native/addons.ts finds first), without privilege.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { addonCandidates } from '../../src/native/addons.js';

const BIN = fileURLToPath(new URL('../../../bin/vpn.js', import.meta.url));

function vpn(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 20000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('vpn doctor --json names the addon files it loaded, the first candidates found', () => {
  const r = vpn(['doctor', '--json']);
  const rep = JSON.parse(r.out) as {
    addons: Record<string, { available: boolean; source?: string; path?: string }>;
    espPath: string;
    tunMode: boolean;
  };
  for (const name of ['tun', 'esp'] as const) {
    const a = rep.addons[name]!;
    const first = addonCandidates(name)[0];
    if (!first) {
      assert.equal(a.available, false);
      continue;
    }
    assert.equal(a.available, true, JSON.stringify(a));
    assert.deepEqual({ source: a.source, path: a.path }, first);
    assert.ok(existsSync(a.path!));
  }
  assert.equal(r.code, rep.tunMode ? 0 : 8);
  assert.equal(rep.tunMode, rep.addons['tun']!.available);
});

test('vpn doctor: VPN_FAST_PATH=0 reports the JavaScript ESP path and why', () => {
  const r = vpn(['doctor'], { VPN_FAST_PATH: '0' });
  assert.match(r.out, /^TUN addon: {2}/m);
  assert.match(r.out, /^ESP path: {3}JavaScript \(turned off \(VPN_FAST_PATH=0\)\)$/m);
});
