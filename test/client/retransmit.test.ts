import { test } from 'node:test';
import assert from 'node:assert/strict';
import { retransmitPolicyFor, totalWait } from '../../src/client/retransmit.js';

test('retransmit schedules fit the --timeout budget and grow the attempt count with it', () => {
  let prevTries = -1;
  for (const secs of [1, 3, 10, 30, 60, 120, 600]) {
    const p = retransmitPolicyFor(secs * 1000);
    assert.ok(totalWait(p) <= secs * 1000, `${secs}s: waits ${totalWait(p)}`);
    assert.ok(totalWait(p) >= secs * 1000 * 0.5, `${secs}s: uses the budget (${totalWait(p)})`);
    assert.ok(p.tries >= prevTries, `${secs}s: ${p.tries} retransmits`);
    assert.ok(p.maxTimeoutMs <= 10000);
    prevTries = p.tries;
  }
  assert.ok(retransmitPolicyFor(30000).tries >= 4);
  assert.ok(retransmitPolicyFor(90000).tries >= 10);
});
