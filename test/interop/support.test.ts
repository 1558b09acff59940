/** The interop helpers' own guarantees: a missing tool is a named skip, not a hang. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { missingTools, skipReason, firstOutput } from './support.js';

test('missingTools names every tool that is not installed, and only those', () => {
  assert.equal(missingTools('sh'), undefined);
  const r = missingTools('sh', 'no-such-tool-xyz', 'conntrack-but-not-really');
  assert.match(r!, /^no-such-tool-xyz, conntrack-but-not-really not installed/);
  assert.match(r!, /install-deps\.sh/);
  // skipReason passes a file's extra tools on.
  const s = skipReason('no-such-tool-xyz');
  assert.ok(s !== undefined, 'a missing tool is always a skip reason');
});

test('firstOutput rejects when the process exits silently or says nothing in time', async () => {
  const quiet = spawn(process.execPath, ['-e', 'process.exit(3)']);
  await assert.rejects(firstOutput(quiet, 'quiet'), /quiet exited \(3\) before it was ready/);
  const mute = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)']);
  try {
    await assert.rejects(firstOutput(mute, 'mute', 300), /mute: no output in 300 ms/);
  } finally {
    mute.kill('SIGKILL');
  }
  const talker = spawn(process.execPath, ['-e', 'console.log("ready"); setTimeout(() => {}, 200)']);
  try {
    await firstOutput(talker, 'talker');
  } finally {
    talker.kill('SIGKILL');
  }
});
