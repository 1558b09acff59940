/**
 * `vpn connect --no-host-check` without `--remote-id` is a usage error (exit 2), found before any
 * secret is asked for or any privileged step runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT } from '../../src/cli/exit-codes.js';

const BIN = fileURLToPath(new URL('../../../bin/vpn.js', import.meta.url));

test('--no-host-check without --remote-id: exit 2 naming --remote-id', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vpn-cli-'));
  try {
    for (const auth of [
      ['--eap-identity', 'carol', '--eap', 'tls'],
      ['--eap-identity', 'carol', '--eap', 'mschapv2'],
    ]) {
      const r = spawnSync(
        process.execPath,
        [BIN, 'connect', '192.0.2.1', '--no-host-check', ...auth],
        {
          encoding: 'utf8',
          env: { ...process.env, VPN_EAP_PASSWORD: 'x', VPN_RUNTIME_DIR: dir },
          timeout: 20000,
        },
      );
      assert.equal(r.status, EXIT.USAGE, r.stderr);
      assert.match(r.stderr, /--no-host-check needs --remote-id/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
