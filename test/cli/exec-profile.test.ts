/**
 * `vpn exec NAME -- COMMAND` reads profile NAME as `vpn connect NAME` does: a bad profile is
 * refused before anything else (exit 2, one line naming the file, line and fix), also without
 * root. The tunnel through a good profile: test/interop/exec.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT } from '../../src/cli/exit-codes.js';

const BIN = fileURLToPath(new URL('../../../bin/vpn.js', import.meta.url));

test('vpn exec PROFILE: a bad profile is refused with exit 2 naming the file and line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vpn-exec-profile-'));
  try {
    const conf = join(dir, 'office.conf');
    writeFileSync(conf, 'gateway = 192.0.2.1\nremote_id = @gw.test\n', { mode: 0o600 });
    const r = spawnSync(process.execPath, [BIN, 'exec', 'office', '--', 'true'], {
      encoding: 'utf8',
      timeout: 20000,
      env: {
        ...process.env,
        VPN_PSK: '',
        VPN_PROFILE_DIR: dir,
        VPN_RUNTIME_DIR: join(dir, 'run'),
      },
    });
    assert.equal(r.status, EXIT.USAGE, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /unknown key 'remote_id' at .*office\.conf:2; did you mean 'remote-id'\?/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
