import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, chmodSync, chownSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSecretFile } from '../../src/config/load.js';
import { VpnError } from '../../src/core/errors.js';

test('PSK files: owner-only files are read (trailing newline stripped); others refused like ssh', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vpn-psk-'));
  try {
    const f = join(dir, 'psk');
    writeFileSync(f, 'secret value\n');
    chmodSync(f, 0o600);
    assert.equal(new TextDecoder().decode(readSecretFile(f, 'PSK')), 'secret value');
    // Owned by someone other than root:root: the 0640 root:root exception of the shared
    // owner-only rule is covered in credentials.test.ts.
    if (process.getuid?.() === 0) chownSync(f, 65534, 65534);
    for (const mode of [0o644, 0o640, 0o604, 0o660]) {
      chmodSync(f, mode);
      assert.throws(
        () => readSecretFile(f, 'PSK'),
        (e: unknown) =>
          e instanceof VpnError &&
          e.code === 'ERR_CONFIG' &&
          /accessible by others.*chmod 600/.test(e.message),
      );
    }
    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n');
    chmodSync(empty, 0o600);
    assert.throws(() => readSecretFile(empty, 'PSK'), /empty/);
    assert.throws(() => readSecretFile(join(dir, 'missing'), 'PSK'), /no such file/);
    mkdirSync(join(dir, 'd'), { mode: 0o700 });
    assert.throws(() => readSecretFile(join(dir, 'd'), 'PSK'), /not a regular file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
