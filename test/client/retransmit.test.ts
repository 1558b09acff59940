import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  handshakeSuccessProbability,
  retransmitPolicyFor,
  totalWait,
} from '../../src/client/retransmit.js';

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

test('with 30 % loss each way the default --timeout 30 schedule completes a handshake ≥ 99.99 % (issue 11)', () => {
  const p = retransmitPolicyFor(30000);
  // The former schedule (first 1 s, ×1.8, capped at 10 s) had 5 attempts: 93.2 %, 1 failure in 14.7.
  const former = { timeoutMs: 1000, base: 1.8, tries: 4, maxTimeoutMs: 10000 };
  assert.ok(handshakeSuccessProbability(former) < 0.94);
  assert.ok(p.tries + 1 >= 15, `${p.tries + 1} attempts per exchange`);
  assert.ok(handshakeSuccessProbability(p) >= 0.9999, `${handshakeSuccessProbability(p)}`);
  // EAP needs more IKE_AUTH round trips (e.g. 5 for MSCHAPv2): still ≥ 99.99 %.
  assert.ok(handshakeSuccessProbability(p, 0.49, 6) >= 0.9999);
  // The first retransmission comes within 1 s; no single wait exceeds a twentieth of the budget.
  assert.equal(p.timeoutMs, 1000);
  assert.ok(p.maxTimeoutMs <= 1500);
});
