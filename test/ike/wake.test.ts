/**
 * issue 14 item 5: the IKE session's reaction to a sleep (the 'wake' input the driver feeds when
 * its timers fire late): one liveness check with a short deadline (RFC 7296 §2.4), a request in
 * flight resent once instead of a pile of stale retransmissions; and the DPD timer never spins
 * while a request is outstanding.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { equalBytes } from '../../src/core/bytes.js';
import { ExchangeType } from '../../src/ike/constants.js';
import { decodeMessage } from '../../src/ike/codec/index.js';
import type { IkeOutput } from '../../src/ike/session.js';
import { CLIENT, GW, closedEvent, start } from '../support/session-harness.js';

const sends = (outs: IkeOutput[]): Extract<IkeOutput, { kind: 'send' }>[] =>
  outs.filter((o): o is Extract<IkeOutput, { kind: 'send' }> => o.kind === 'send');
const timer = (outs: IkeOutput[], name: string) =>
  outs.find(
    (o): o is Extract<IkeOutput, { kind: 'setTimer' }> => o.kind === 'setTimer' && o.timer === name,
  );

/** Fires the retransmit timer until none is set or the session closed; returns the last time. */
function runOut(run: ReturnType<typeof start>, outs: IkeOutput[], limit: number): number {
  let now = 0;
  for (let i = 0; i < 20 && run.session.state !== 'closed'; i++) {
    const t = timer(outs, 'retransmit');
    if (!t) break;
    now = t.at;
    assert.ok(now <= limit, `retransmit timer at +${now - limit} ms past the deadline`);
    outs = run.session.handle({ kind: 'timer', timer: 'retransmit' }, now);
    run.events.push(...outs.flatMap((o) => (o.kind === 'event' ? [o.event] : [])));
  }
  return now;
}

test('wake with nothing in flight: one INFORMATIONAL now, and no answer within the budget ends the SA', () => {
  const run = start();
  const woke = run.now + 600000;
  const outs = run.session.handle({ kind: 'wake', sleptMs: 600000, budgetMs: 3000 }, woke);
  const s = sends(outs);
  assert.equal(s.length, 1, 'one liveness check');
  assert.equal(decodeMessage(s[0]!.data).header.exchangeType, ExchangeType.INFORMATIONAL);
  assert.ok(timer(outs, 'retransmit')!.at <= woke + 3000);
  const end = runOut(run, outs, woke + 3000);
  assert.equal(run.session.state, 'closed');
  assert.equal(end, woke + 3000, 'given up exactly at the deadline');
  const ev = closedEvent(run)!;
  assert.equal(ev.error?.code, 'ERR_IKE_TIMEOUT');
  assert.match(ev.error.message, /waking from a sleep/);
  // DEFAULT_RETRANSMIT (2 s first timeout): the check and one retransmission.
  assert.equal(run.session.counters.retransmits, 1);
});

test('wake answered: the SA stays up and nothing is retransmitted', () => {
  const run = start();
  const woke = run.now + 600000;
  const outs = run.session.handle({ kind: 'wake', sleptMs: 600000, budgetMs: 3000 }, woke);
  const answer = run.resp.receive(sends(outs)[0]!.data, CLIENT)!;
  assert.ok(answer, 'the gateway answered');
  run.session.handle(
    { kind: 'datagram', data: answer, from: { address: GW.address, port: 4500 } },
    woke + 5,
  );
  assert.equal(run.session.state, 'established');
  // A stale retransmit timer firing after the answer does nothing.
  assert.deepEqual(
    sends(run.session.handle({ kind: 'timer', timer: 'retransmit' }, woke + 2000)),
    [],
  );
  assert.equal(run.session.counters.retransmits, 0);
});

test('wake with a request in flight: its exact bytes resent once, then the deadline decides', () => {
  const run = start();
  const t0 = run.now + 30000;
  const dpd = run.session.handle({ kind: 'timer', timer: 'dpd' }, t0);
  const first = sends(dpd)[0]!.data;
  const woke = t0 + 300000;
  const outs = run.session.handle({ kind: 'wake', sleptMs: 300000, budgetMs: 3000 }, woke);
  const s = sends(outs);
  assert.equal(s.length, 1, 'one datagram on wake, not a burst');
  assert.ok(equalBytes(s[0]!.data, first), 'the same request (RFC 7296 §2.1)');
  runOut(run, outs, woke + 3000);
  assert.equal(run.session.state, 'closed');
  assert.equal(closedEvent(run)?.error?.code, 'ERR_IKE_TIMEOUT');
});

test('the DPD timer, due while a request is unanswered and nothing was heard, re-arms a delay later (it spun at "now")', () => {
  const run = start();
  const t0 = run.now + 30000;
  run.session.handle({ kind: 'timer', timer: 'dpd' }, t0); // the check is out, unanswered
  const again = run.session.handle({ kind: 'timer', timer: 'dpd' }, t0 + 31000);
  const t = timer(again, 'dpd');
  assert.ok(t, 're-armed');
  assert.equal(t.at, t0 + 31000 + 30000);
  assert.deepEqual(sends(again), [], 'no second check while one is in flight');
});

test('wake with a request that had used up its retries before the sleep: the deadline, not the stale count, decides', () => {
  const run = start();
  const t0 = run.now + 30000;
  let outs = run.session.handle({ kind: 'timer', timer: 'dpd' }, t0);
  // DEFAULT_RETRANSMIT has 4 tries: use 3 of them before the sleep.
  let now = t0;
  for (let i = 0; i < 3; i++) {
    now = timer(outs, 'retransmit')!.at;
    outs = run.session.handle({ kind: 'timer', timer: 'retransmit' }, now);
  }
  const woke = now + 300000;
  outs = run.session.handle({ kind: 'wake', sleptMs: 300000, budgetMs: 3000 }, woke);
  assert.equal(sends(outs).length, 1);
  const at = timer(outs, 'retransmit')!.at;
  outs = run.session.handle({ kind: 'timer', timer: 'retransmit' }, at);
  assert.equal(run.session.state, 'established', `still waiting ${at - woke} ms after waking`);
  runOut(run, outs, woke + 3000);
  assert.equal(run.session.state, 'closed');
});
