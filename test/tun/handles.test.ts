/**
 * Issue 11, finding 8: the addons' handles are type-tagged and safe after free. Each case runs in
 * a child process (test/tun/fixtures/handles.mjs), so that a crash or a use-after-free that kills
 * the process fails the test instead of the runner: a handle of the other kind or a plain object
 * is a TypeError; stop/close/wipe twice is a no-op; calls after them are clear errors; a closed
 * TUN descriptor whose number now belongs to another file is never written to or closed again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ADDON, ROOT, Netns, nsSkipReason } from './helpers.js';

const ESP = join(ROOT, 'build/Release/esp.node');
const FIXTURE = join(ROOT, 'test/tun/fixtures/handles.mjs');
const skip = !existsSync(ADDON)
  ? `TUN addon not built (${ADDON})`
  : !existsSync(ESP)
    ? `esp addon not built (${ESP})`
    : undefined;

function run(which: string, prefix: string[] = []): void {
  const [cmd, ...pre] = [...prefix, process.execPath];
  const r = spawnSync(cmd, [...pre, '--expose-gc', FIXTURE, ADDON, ESP, which], {
    encoding: 'utf8',
    timeout: 30000,
  });
  const detail = `exit ${String(r.status)}, signal ${String(r.signal)}\n${r.stdout}${r.stderr}`;
  assert.equal(r.signal, null, `the fixture crashed: ${detail}`);
  assert.equal(r.status, 0, detail);
  assert.match(r.stdout, /"event":"ok"/, detail);
}

test(
  'a handle of the other addon, or a plain value, is a TypeError in every entry point',
  { skip },
  () => {
    run('wrong-handles');
  },
);

test('stop, close and wipe twice are no-ops; calls after them are clear errors', { skip }, () => {
  run('after-free');
});

test(
  'a closed TUN descriptor whose number another file took is neither written nor closed again',
  { skip: skip ?? nsSkipReason() },
  () => {
    const ns = new Netns();
    try {
      run('tun-closed', ['ip', 'netns', 'exec', ns.name]);
    } finally {
      ns.close();
    }
  },
);
