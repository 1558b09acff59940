/**
 * The runtime directory (finding 3 of issue 11): created 0700, and an existing one is used only
 * when it is a real directory of ours that nobody else can enter — a /tmp/ikev2-vpn-<uid> planted
 * by another local user is refused, naming the directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePrivateDir, ensureRuntimeDir, openPrivateAppend } from '../../src/config/load.js';
import { VpnError } from '../../src/core/errors.js';

const isRoot = process.getuid?.() === 0;

function refused(dir: string, why: RegExp) {
  return (e: unknown): boolean =>
    e instanceof VpnError &&
    e.code === 'ERR_PRIVILEGE' &&
    e.message.includes(dir) &&
    why.test(e.message);
}

test('a missing runtime directory is created with mode 0700 (parents too)', () => {
  const base = mkdtempSync(join(tmpdir(), 'vpn-rt-'));
  try {
    const dir = join(base, 'a', 'run');
    assert.equal(ensureRuntimeDir(dir), dir);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    // Again: it exists and is fine.
    assert.equal(ensureRuntimeDir(dir), dir);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('a runtime directory that is a symbolic link is refused', () => {
  const base = mkdtempSync(join(tmpdir(), 'vpn-rt-'));
  try {
    const real = join(base, 'real');
    mkdirSync(real, { mode: 0o700 });
    const link = join(base, 'run');
    symlinkSync(real, link);
    assert.throws(() => ensureRuntimeDir(link), refused(link, /symbolic link/));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('a runtime directory with group or other access is refused (0770, 0755, 0777, 0701)', () => {
  const base = mkdtempSync(join(tmpdir(), 'vpn-rt-'));
  try {
    const dir = join(base, 'run');
    mkdirSync(dir);
    for (const mode of [0o770, 0o755, 0o777, 0o701]) {
      chmodSync(dir, mode);
      assert.throws(
        () => ensureRuntimeDir(dir),
        refused(dir, new RegExp(`mode 0${mode.toString(8)}`)),
      );
    }
    chmodSync(dir, 0o700);
    assert.equal(ensureRuntimeDir(dir), dir);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test(
  'a runtime directory owned by another user is refused, even with mode 0700',
  { skip: isRoot ? undefined : 'needs root to chown' },
  () => {
    const base = mkdtempSync(join(tmpdir(), 'vpn-rt-'));
    try {
      const dir = join(base, 'run');
      mkdirSync(dir, { mode: 0o700 });
      chownSync(dir, 65534, 65534);
      assert.throws(() => ensureRuntimeDir(dir), refused(dir, /owned by uid 65534, not by us/));
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  },
);

test('a regular file in place of the directory is refused', () => {
  const base = mkdtempSync(join(tmpdir(), 'vpn-rt-'));
  try {
    const f = join(base, 'run');
    writeFileSync(f, '');
    assert.throws(() => ensurePrivateDir(f, 'runtime directory'), refused(f, /not a directory/));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('the background log is never opened through a symbolic link', () => {
  const base = mkdtempSync(join(tmpdir(), 'vpn-rt-'));
  try {
    const victim = join(base, 'victim');
    writeFileSync(victim, 'precious\n');
    const log = join(base, 'default.log');
    symlinkSync(victim, log);
    assert.throws(() => openPrivateAppend(log), /symbolic link/);
    assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
    rmSync(log);
    const fd = openPrivateAppend(log);
    writeSync(fd, 'line\n');
    closeSync(fd);
    assert.equal(statSync(log).mode & 0o777, 0o600);
    assert.ok(existsSync(log));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
