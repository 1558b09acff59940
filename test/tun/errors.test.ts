/**
 * Failures are clear ERR_TUN errors and never crash the process: no privilege, no TUN support,
 * bad names, and bad arguments handed straight to the addon.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { VpnError } from '../../src/core/errors.js';
import { openTun, openTunFromFd } from '../../src/tun/linux.js';
import { ADDON, LINUX_JS, ROOT, nsSkipReason } from './helpers.js';

const rootSkip = nsSkipReason();
const addonSkip = existsSync(ADDON) ? undefined : `TUN addon not built (${ADDON})`;
const FIXTURE = join(ROOT, 'test/tun/fixtures/open-error.mjs');

function lastJson(out: string): { code?: string; message?: string; opened?: boolean } {
  const line = out.trim().split('\n').at(-1) ?? '{}';
  return JSON.parse(line) as { code?: string; message?: string; opened?: boolean };
}

test(
  'as an unprivileged user (setpriv 65534, no capabilities): ERR_TUN with the permission advice',
  { skip: rootSkip },
  () => {
    const r = spawnSync(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        '--inh-caps=-all',
        process.execPath,
        FIXTURE,
        LINUX_JS,
      ],
      { encoding: 'utf8', timeout: 20000 },
    );
    const out = lastJson(r.stdout);
    assert.equal(out.code, 'ERR_TUN', r.stdout + r.stderr);
    assert.equal(
      out.message,
      'cannot create a TUN device: permission denied — run as root or grant CAP_NET_ADMIN',
    );
  },
);

test(
  'without /dev/net/tun (hidden by a tmpfs in a private mount namespace): "no TUN support"',
  { skip: rootSkip },
  () => {
    const r = spawnSync(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        'mount -t tmpfs none /dev/net && exec "$0" "$@"',
        process.execPath,
        FIXTURE,
        LINUX_JS,
      ],
      { encoding: 'utf8', timeout: 20000 },
    );
    const out = lastJson(r.stdout);
    assert.equal(out.code, 'ERR_TUN', r.stdout + r.stderr);
    assert.match(out.message ?? '', /^no TUN support: \/dev\/net\/tun is missing/);
  },
);

test('bad interface names and MTUs are ERR_TUN before anything is opened', () => {
  for (const name of ['', 'a-name-longer-than-15', 'a/b', 'x:1', 'has space', '..']) {
    assert.throws(
      () => openTun({ name }),
      (e: unknown) =>
        e instanceof VpnError && e.code === 'ERR_TUN' && /invalid interface name/.test(e.message),
      name,
    );
  }
  for (const mtu of [0, 100, 575, 65536, 1400.5, Number.NaN]) {
    assert.throws(() => openTun({ name: 'vt0', mtu }), /invalid MTU/);
  }
  assert.throws(() => openTunFromFd(-1), /invalid file descriptor/);
});

test('the addon validates its arguments: TypeErrors, never a crash', { skip: addonSkip }, () => {
  const a = createRequire(import.meta.url)(ADDON) as Record<
    string,
    (...args: unknown[]) => unknown
  >;
  const call =
    (fn: string, ...args: unknown[]) =>
    () =>
      a[fn]!(...args);
  assert.throws(call('open'), TypeError);
  assert.throws(call('open', 42), TypeError);
  assert.throws(call('open', 'x'.repeat(16)), /invalid interface name/);
  assert.throws(call('adopt', 'x'), TypeError);
  assert.throws(call('adopt', -1), TypeError);
  assert.throws(call('adopt', 1.5), TypeError);
  assert.throws(call('startReading', 0), TypeError);
  assert.throws(call('startReading', 0, 'not a function'), TypeError);
  assert.throws(call('stopReading', {}), TypeError);
  assert.throws(call('stopReading', null), TypeError);
  assert.throws(call('readErrors', 7), TypeError);
  assert.throws(call('write', 0), TypeError);
  assert.throws(call('write', 0, 'text'), TypeError);
  assert.throws(call('write', 0, new Uint16Array(4)), TypeError);
  assert.throws(call('write', Number.NaN, new Uint8Array(4)), TypeError);
  assert.throws(call('writeBatch', 0, [new Uint8Array(1), 'x']), TypeError);
  assert.throws(call('writeBatch', 0, 'x'), TypeError);
  assert.throws(call('close', '3'), TypeError);
  // Not a TUN device: TUNGETIFF fails with ENOTTY/EBADFD, as an Error with a code.
  const fd = openSync('/dev/null', 'r+');
  try {
    assert.throws(
      call('adopt', fd),
      (e: unknown) => typeof (e as { code?: unknown }).code === 'string',
    );
    // write(2) results come back as numbers: bytes written, or -errno (EBADF = 9).
    assert.equal(a['write']!(fd, new Uint8Array(5)), 5);
    assert.equal(a['writeBatch']!(fd, [new Uint8Array(3), Buffer.alloc(2)]), 2);
  } finally {
    closeSync(fd);
  }
  assert.equal(a['write']!(2 ** 30, new Uint8Array(1)), -9);
});
