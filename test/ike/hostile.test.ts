/**
 * A hostile or broken gateway (issue 11): the in-memory test responder breaks one rule at a time
 * and our IkeSession must end in a clear error or a counted drop — never an exception out of
 * handle(), never a hang (every run is driven by a fake clock until it closes or goes quiet).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRandom } from '../../src/core/random.js';
import { toHex } from '../../src/core/bytes.js';
import { IkeSession } from '../../src/ike/session.js';
import type { IkeOutput, IkeEvent } from '../../src/ike/session.js';
import { ExchangeType, HeaderFlag, PayloadType, ProtocolId } from '../../src/ike/constants.js';
import {
  decodeMessage,
  decodePayloadChain,
  encodePayloadChain,
  findPayload,
} from '../../src/ike/codec/index.js';
import type { Payload } from '../../src/ike/codec/index.js';
import { parseProposals } from '../../src/ike/sa/proposals.js';
import { tsFromCidr } from '../../src/ike/sa/traffic-selectors.js';
import { LIMITS, MAX_IKE_MESSAGE_BYTES } from '../../src/ike/limits.js';
import { CLIENT, GW, closedEvent, config, pump, responder } from '../support/session-harness.js';
import type { Run } from '../support/session-harness.js';
import type { HostileOptions } from '../support/test-responder.js';

type Send = Extract<IkeOutput, { kind: 'send' }>;
const FROM = { address: GW.address, port: 4500 };

function sends(outs: IkeOutput[]): Send[] {
  return outs.filter((o): o is Send => o.kind === 'send');
}

/** The retransmit timer as the outputs left it (set and not cleared since). */
function pendingRetransmit(outputs: IkeOutput[]): number | undefined {
  for (let i = outputs.length - 1; i >= 0; i--) {
    const o = outputs[i]!;
    if (o.kind === 'clearTimer' && o.timer === 'retransmit') return undefined;
    if (o.kind === 'setTimer' && o.timer === 'retransmit') return o.at;
  }
  return undefined;
}

/** Fires the retransmit timer until the session closes or nothing is pending (bounded). */
function drive(run: Run, deliver = true): void {
  for (let i = 0; i < 200 && run.session.state !== 'closed'; i++) {
    const at = pendingRetransmit(run.outputs);
    if (at === undefined) return;
    run.now = Math.max(run.now, at);
    pump(run, run.session.handle({ kind: 'timer', timer: 'retransmit' }, run.now), deliver);
  }
}

function hostile(h: HostileOptions, over: Parameters<typeof config>[0] = {}, seed = 1): Run {
  const session = new IkeSession(config(over), new SeededRandom(seed));
  const run: Run = {
    session,
    resp: responder({ hostile: h }),
    outputs: [],
    events: [],
    sent: [],
    now: 0,
  };
  pump(run, session.handle({ kind: 'start', local: CLIENT, remote: GW }, 0));
  drive(run);
  return run;
}

function established(over: Parameters<typeof responder>[0] = {}): Run {
  const session = new IkeSession(config(), new SeededRandom(1));
  const run: Run = { session, resp: responder(over), outputs: [], events: [], sent: [], now: 0 };
  pump(run, session.handle({ kind: 'start', local: CLIENT, remote: GW }, 0));
  assert.equal(session.state, 'established');
  return run;
}

/** The session ended with a clear error of this code (not an internal error). */
function assertFailed(run: Run, code: string, message?: RegExp): Error {
  assert.equal(run.session.state, 'closed');
  const ev = closedEvent(run);
  assert.ok(ev?.error, 'closed with an error');
  assert.equal(ev.error.code, code, ev.error.message);
  assert.doesNotMatch(ev.error.message, /internal error/);
  if (message) assert.match(ev.error.message, message);
  assert.ok(!run.events.some((e) => e.type === 'established'), 'never established');
  assert.ok(!run.outputs.some((o) => o.kind === 'installChild'), 'no CHILD_SA installed');
  return ev.error;
}

function warnings(events: IkeEvent[]): string[] {
  return events.flatMap((e) => (e.type === 'warning' ? [e.message] : []));
}

function feed(run: Run, data: Uint8Array, at = run.now): IkeOutput[] {
  const outs = run.session.handle({ kind: 'datagram', data, from: FROM }, at);
  run.outputs.push(...outs);
  for (const o of outs) if (o.kind === 'event') run.events.push(o.event);
  return outs;
}

function deletes(inner: Payload[]): { protocol: number; spis: number[] }[] {
  return inner
    .filter((p) => p.type === PayloadType.DELETE)
    .map((p) => {
      const d = p as Extract<Payload, { spis: Uint8Array[] }>;
      return {
        protocol: d.protocol,
        spis: d.spis.map((s) => new DataView(s.buffer, s.byteOffset, 4).getUint32(0)),
      };
    });
}

// ---------------------------------------------------------------------------------------------
// Unknown critical payloads in responses (RFC 7296 §2.5)

test('hostile: an unknown critical payload in the IKE_SA_INIT response fails the connect (§2.5)', () => {
  const run = hostile({ criticalIn: 'IKE_SA_INIT' });
  assertFailed(run, 'ERR_IKE_PROTOCOL', /IKE_SA_INIT response .*unknown type 200 marked critical/);
  assert.equal(run.sent.length, 1, 'no IKE_AUTH was sent on that SA');
});

test('hostile: an unknown critical payload in the IKE_AUTH response fails the connect (§2.5)', () => {
  const run = hostile({ criticalIn: 'IKE_AUTH' });
  assertFailed(run, 'ERR_IKE_PROTOCOL', /IKE_AUTH response .*unknown type 200 marked critical/);
});

test('hostile: an unknown critical payload in an INFORMATIONAL response ends the SA (§2.5)', () => {
  const run = established();
  pump(run, run.session.handle({ kind: 'probe' }, 1000), false);
  const dpd = decodeMessage(run.sent.at(-1)!).header;
  const unknown: Payload = { type: 200, critical: true, unknown: true, body: Uint8Array.of(1) };
  const answer = run.resp.sealInner(
    ExchangeType.INFORMATIONAL,
    dpd.messageId,
    true,
    200,
    encodeChain([unknown]),
  );
  const outs = feed(run, answer, 1100);
  assert.equal(run.session.state, 'closed');
  assert.match(closedEvent(run)!.error!.message, /INFORMATIONAL response .*unknown type 200/);
  // Our DELETE of the IKE SA takes the next message ID.
  assert.equal(decodeMessage(sends(outs)[0]!.data).header.messageId, dpd.messageId + 1);
});

// ---------------------------------------------------------------------------------------------
// Bounded messages and bounded work (finding 6)

test('hostile: a CP reply with 10,000 attributes (60 KB) is dropped as oversized; the error says answers came', () => {
  const run = hostile({ cp: { dns4: 4999, junk: 5001 } });
  const err = assertFailed(run, 'ERR_IKE_TIMEOUT', /none could be verified or parsed/);
  assert.match(err.message, /oversized: \d+ bytes > 32768/);
  assert.ok(run.session.counters.dropped['oversized']! >= 1);
});

test('hostile: an authenticated IKE_AUTH response above the size bound is dropped, whole or in fragments', () => {
  const whole = hostile({ authPadding: MAX_IKE_MESSAGE_BYTES + 1000 });
  assertFailed(whole, 'ERR_IKE_TIMEOUT', /oversized/);
  const session = new IkeSession(config(), new SeededRandom(1));
  const run: Run = {
    session,
    resp: responder({ fragmentSize: 1280, hostile: { authPadding: MAX_IKE_MESSAGE_BYTES } }),
    outputs: [],
    events: [],
    sent: [],
    now: 0,
  };
  pump(run, session.handle({ kind: 'start', local: CLIENT, remote: GW }, 0));
  drive(run);
  assertFailed(run, 'ERR_IKE_TIMEOUT', /reassembled message would exceed 32768 bytes/);
});

test('hostile: DNS servers, domains and selectors in one reply are capped with a counted warning', () => {
  const session = new IkeSession(config(), new SeededRandom(1));
  const tsr = Array.from({ length: 40 }, (_, i) => `203.0.113.${i}/32`);
  const run: Run = {
    session,
    resp: responder({ hostile: { cp: { dns4: 300, dns6: 300, domains: 100, junk: 300 }, tsr } }),
    outputs: [],
    events: [],
    sent: [],
    now: 0,
  };
  pump(run, session.handle({ kind: 'start', local: CLIENT, remote: GW }, 0));
  assert.equal(session.state, 'established');
  const info = run.events.find((e) => e.type === 'established')!;
  assert.ok(info.type === 'established');
  assert.equal(info.info.config.dns4.length, LIMITS.dnsPerFamily);
  assert.equal(info.info.config.dns6.length, LIMITS.dnsPerFamily);
  assert.equal(info.info.config.domains.length, LIMITS.domains);
  assert.equal(info.info.tsRemote.length, LIMITS.selectorsPerSide);
  const child = run.outputs.find((o) => o.kind === 'installChild');
  assert.ok(child?.kind === 'installChild');
  assert.equal(child.child.tsRemote.length, LIMITS.selectorsPerSide);
  const w = warnings(run.events);
  assert.ok(
    w.includes("gateway's configuration: ignored 293 IPv4 DNS servers beyond the first 8"),
    w.join('; '),
  );
  assert.ok(w.includes("gateway's configuration: ignored 292 IPv6 DNS servers beyond the first 8"));
  assert.ok(w.includes("gateway's configuration: ignored 84 DNS domains beyond the first 16"));
  assert.ok(w.includes("gateway's CHILD_SA: ignored 8 TSr traffic selectors beyond the first 32"));
});

test('hostile: traffic selectors wider than we asked are refused, never installed (§2.9)', () => {
  const over = { tsRemote: [tsFromCidr('203.0.113.0/24')] };
  const wide = hostile({ tsr: ['0.0.0.0/0'] }, over);
  assertFailed(wide, 'ERR_IKE_TS_UNACCEPTABLE', /widened TSr selector 0\.0\.0\.0\/0/);
  const v6 = hostile({ tsi: ['203.0.113.130/32', '::/0'] });
  assertFailed(v6, 'ERR_IKE_TS_UNACCEPTABLE', /widened TSi selector ::\/0/);
});

test("hostile: a gateway's CHILD_SA rekey with wider selectors is narrowed to the old SA's (§2.9.2)", () => {
  const run = established();
  const req = run.resp.rekeyChild();
  // Re-seal the rekey with TSi widened to 0.0.0.0/0 (the gateway's side).
  const { first, plain } = run.resp.openOwn(req);
  const chain = decodeChain(first, plain);
  const tsi = chain.find((p) => p.type === PayloadType.TSi)!;
  (tsi as { selectors: unknown }).selectors = [tsFromCidr('0.0.0.0/0')];
  const wider = run.resp.sealInner(
    ExchangeType.CREATE_CHILD_SA,
    decodeMessage(req).header.messageId,
    false,
    first,
    encodeChain(chain),
  );
  const outs = feed(run, wider, 1000);
  const install = outs.find((o) => o.kind === 'installChild');
  assert.ok(install?.kind === 'installChild');
  assert.deepEqual(
    install.child.tsRemote.map((t) => toHex(t.startAddr) + toHex(t.endAddr)),
    ['cb007100cb00717f'],
    'the old CHILD_SA selector 203.0.113.0/25, not 0.0.0.0/0',
  );
  const answer = run.resp.decryptForTest(sends(outs)[0]!.data);
  const tsiAnswer = findPayload(answer, PayloadType.TSi)!;
  assert.equal(tsiAnswer.selectors.length, 1);
  assert.equal(toHex(tsiAnswer.selectors[0]!.startAddr), 'cb007100');
});

// ---------------------------------------------------------------------------------------------
// Broken IKE_SA_INIT answers

test('hostile: truncated answers end in a clear error that says answers arrived', () => {
  const run = hostile({ truncateTo: 100 });
  const err = assertFailed(run, 'ERR_IKE_TIMEOUT');
  assert.match(
    err.message,
    /^\d+ datagrams arrived from 198\.51\.100\.10:500 in answer to IKE_SA_INIT/,
  );
  assert.match(err.message, /none could be verified or parsed \(last: malformed/);
});

for (const [name, group, data] of [
  ['X25519 all-zero (low-order) point', 31, new Uint8Array(32)],
  ['X25519 short value', 31, new Uint8Array(5).fill(9)],
  ['ECP-256 point not on the curve', 19, new Uint8Array(64).fill(1)],
  ['ECP-256 identity (all zero)', 19, new Uint8Array(64)],
  ['MODP-2048 value 1', 14, Uint8Array.from({ length: 256 }, (_, i) => (i === 255 ? 1 : 0))],
  [
    'MODP-2048 value p-1',
    14,
    Uint8Array.from({ length: 256 }, (_, i) => (i === 255 ? 0xfe : 0xff)),
  ],
] as const) {
  test(`hostile: invalid key exchange value (${name}) fails with a clear error`, () => {
    const proposals =
      group === 14
        ? 'aes256gcm16-prfsha256-modp2048'
        : group === 19
          ? 'aes256gcm16-prfsha256-ecp256'
          : 'aes256gcm16-prfsha256-x25519';
    const run = hostile({ keData: data }, { ikeProposals: parseProposals(proposals, 'ike') });
    assertFailed(run, 'ERR_IKE_PROTOCOL', /key exchange value is invalid/);
  });
}

test('hostile: forged SPIs and message IDs are counted drops; the time-out says what came', () => {
  const spi = hostile({ forgeSpiI: new Uint8Array(8).fill(0x5a) });
  assertFailed(spi, 'ERR_IKE_TIMEOUT', /none could be verified or parsed \(last: unknown-spi\)/);
  const mid = hostile({ midOffset: 1 });
  assertFailed(mid, 'ERR_IKE_TIMEOUT', /\(last: unexpected-response: mid 1\)/);
});

test('hostile: a COOKIE loop is bounded with a clear error', () => {
  const run = hostile({ cookieLoop: true });
  assertFailed(run, 'ERR_IKE_PROTOCOL', /keeps demanding cookies/);
  assert.equal(run.resp.initsSeen, config().maxInitRetries + 1);
});

test('hostile: an INVALID_KE_PAYLOAD loop between offered groups is bounded with a clear error', () => {
  const run = hostile({ invalidKeLoop: [19, 31] });
  assertFailed(run, 'ERR_IKE_PROTOCOL', /kept answering INVALID_KE_PAYLOAD \(5 retries/);
  assert.equal(run.resp.initsSeen, config().maxInitRetries + 1);
});

test('hostile: INVALID_KE_PAYLOAD naming the group we sent is not called a group "we did not offer"', () => {
  const same = hostile({ invalidKeData: (g) => Uint8Array.of(g >> 8, g & 255) });
  const err = assertFailed(same, 'ERR_IKE_PROTOCOL', /the group our KE payload already used/);
  assert.doesNotMatch(err.message, /did not offer/);
  const bad = hostile({ invalidKeData: () => Uint8Array.of(1) });
  assertFailed(bad, 'ERR_IKE_PROTOCOL', /malformed INVALID_KE_PAYLOAD/);
  const other = hostile({ invalidKeData: () => Uint8Array.of(0, 14) });
  assertFailed(
    other,
    'ERR_IKE_NO_PROPOSAL',
    /MODP_2048.*which we did not offer|which we did not offer/,
  );
});

// ---------------------------------------------------------------------------------------------
// Broken IKE_AUTH answers

test('hostile: undecryptable SK payloads: "5 datagrams arrived … but none could be verified" (one per attempt)', () => {
  const run = hostile({ corruptSk: true });
  const err = assertFailed(run, 'ERR_IKE_TIMEOUT');
  const attempts = run.session.totalTimeoutMs() > 0 ? config().retransmit.tries + 1 : 0;
  assert.equal(
    err.message.split(' ')[0],
    String(attempts),
    `one dropped answer per attempt: ${err.message}`,
  );
  assert.match(
    err.message,
    /in answer to IKE_AUTH .*none could be verified or parsed \(last: integrity/,
  );
});

test('hostile: a bad AUTH fails with ERR_IKE_AUTH_FAILED', () => {
  const run = hostile({ badAuth: true });
  assertFailed(run, 'ERR_IKE_AUTH_FAILED', /does not match our pre-shared key/);
});

// ---------------------------------------------------------------------------------------------
// DELETE handling (RFC 7296 §1.4.1)

test('hostile: CHILD_SA DELETE then IKE SA DELETE: the exact responses §1.4.1 asks for', () => {
  const run = established();
  const ourInbound = run.resp.child!.outSpi;
  const gwInbound = run.resp.child!.inSpi;
  // 1. The gateway deletes our only CHILD_SA (its request mid 0).
  const o1 = feed(run, run.resp.request('delete-child'), 1000);
  const s1 = sends(o1);
  assert.equal(s1.length, 2);
  const r1 = decodeMessage(s1[0]!.data).header;
  assert.equal(r1.exchangeType, ExchangeType.INFORMATIONAL);
  assert.equal(r1.messageId, 0);
  assert.ok(r1.flags & HeaderFlag.RESPONSE);
  assert.deepEqual(deletes(run.resp.decryptForTest(s1[0]!.data)), [
    { protocol: ProtocolId.ESP, spis: [ourInbound] },
  ]);
  assert.ok(o1.some((o) => o.kind === 'removeChild' && o.outboundSpi === gwInbound));
  // 2. Then our own IKE SA DELETE, a request with our next message ID (IKE_SA_INIT 0, IKE_AUTH 1).
  const q = decodeMessage(s1[1]!.data).header;
  assert.equal(q.flags & HeaderFlag.RESPONSE, 0);
  assert.equal(q.messageId, 2);
  assert.deepEqual(deletes(run.resp.decryptForTest(s1[1]!.data)), [
    { protocol: ProtocolId.IKE, spis: [] },
  ]);
  assert.equal(run.session.state, 'deleting');
  // 3. The gateway's IKE SA DELETE (mid 1) crosses ours: an empty response, then closed.
  const ikeDel = run.resp.request('delete-ike');
  const o3 = feed(run, ikeDel, 1100);
  const s3 = sends(o3);
  assert.equal(s3.length, 1);
  const r3 = decodeMessage(s3[0]!.data).header;
  assert.equal(r3.messageId, 1);
  assert.ok(r3.flags & HeaderFlag.RESPONSE);
  assert.deepEqual(run.resp.decryptForTest(s3[0]!.data), []);
  assert.equal(run.session.state, 'closed');
  assert.equal(closedEvent(run)?.byPeer, true);
  // 4. Our response was lost: its retransmission is answered with the same bytes, once closed.
  const o4 = feed(run, ikeDel, 1500);
  assert.equal(sends(o4).length, 1);
  assert.equal(toHex(sends(o4)[0]!.data), toHex(s3[0]!.data));
  // A forged datagram is not answered.
  const forged = ikeDel.slice();
  forged[forged.length - 1]! ^= 1;
  assert.equal(sends(feed(run, forged, 1600)).length, 0);
});

test('crossing CHILD_SA DELETEs (§1.4.1): no Delete payload for an SA we are deleting, removed once', () => {
  const run = established();
  const oldOutbound = run.resp.child!.inSpi;
  const rekey = sends(run.session.handle({ kind: 'rekeyChild' }, 1000))[0]!;
  const answer = run.resp.receiveAll(rekey.data, CLIENT)[0]!;
  const ourDelete = sends(feed(run, answer, 1001))[0]!;
  assert.deepEqual(deletes(run.resp.decryptForTest(ourDelete.data))[0]!.protocol, ProtocolId.ESP);
  // The gateway deletes the same old SA before our DELETE reaches it.
  const crossing = run.resp.deleteChild(run.resp.previousChild!.inSpi);
  const o = feed(run, crossing, 1002);
  assert.deepEqual(run.resp.decryptForTest(sends(o)[0]!.data), [], 'no Delete payload');
  // Then the answer to our DELETE: the old SA is not removed a second time.
  for (const a of run.resp.receiveAll(ourDelete.data, CLIENT)) feed(run, a, 1003);
  const removed = run.outputs.filter(
    (x) => x.kind === 'removeChild' && x.outboundSpi === oldOutbound,
  );
  assert.equal(removed.length, 1);
  assert.equal(run.session.state, 'established');
});

test('hostile: a DELETE storm: every DELETE answered exactly once, in order, with no crash', () => {
  const run = established();
  const ourInbound = run.resp.child!.outSpi;
  const storm = run.resp.deleteStorm(200, [0xdead0001, 0xdead0002]);
  storm.forEach((req, i) => {
    const s = sends(feed(run, req, 1000 + i));
    assert.equal(s.length, 1, `DELETE ${i} answered`);
    const h = decodeMessage(s[0]!.data).header;
    assert.equal(h.messageId, i);
    assert.ok(h.flags & HeaderFlag.RESPONSE);
    // SPIs we do not have: an empty INFORMATIONAL response (§1.4.1).
    assert.deepEqual(run.resp.decryptForTest(s[0]!.data), []);
  });
  assert.equal(run.session.state, 'established');
  // Then a storm that names our SA too (and again): one Delete payload, then empty answers.
  const named = run.resp.deleteStorm(3, [0xdead0003, run.resp.child!.inSpi]);
  const first = sends(feed(run, named[0]!, 2000));
  assert.deepEqual(deletes(run.resp.decryptForTest(first[0]!.data)), [
    { protocol: ProtocolId.ESP, spis: [ourInbound] },
  ]);
  for (const req of named.slice(1)) {
    const s = sends(feed(run, req, 2100));
    assert.equal(s.length, 1, 'answered while deleting');
    assert.deepEqual(run.resp.decryptForTest(s[0]!.data), []);
  }
  assert.equal(run.session.state, 'deleting');
});

test('hostile: a cached response is re-sent only for an authentic retransmission (no reflection)', () => {
  const run = established();
  const dpd = run.resp.request('dpd');
  assert.equal(sends(feed(run, dpd, 1000)).length, 1);
  let answered = 0;
  for (let i = 0; i < 110; i++) {
    const forged = dpd.slice();
    forged[forged.length - 1 - (i % 16)]! ^= 1 + (i % 255);
    answered += sends(feed(run, forged, 1100 + i)).length;
  }
  assert.equal(answered, 0, 'no answer to forged datagrams with the cached message ID');
  assert.equal(run.session.counters.dropped['integrity'], 110);
  assert.equal(sends(feed(run, dpd, 1300)).length, 1, 'the genuine retransmission is answered');
});

test('hostile: a retransmitted fragmented request is answered once, not once per fragment', () => {
  const run = established({ fragmentSize: 300 });
  run.resp.lastDatagrams = [];
  run.resp.deleteStorm(
    1,
    Array.from({ length: 100 }, (_, i) => 0xbeef0000 + i),
  );
  const frags = run.resp.lastDatagrams.slice();
  assert.ok(frags.length >= 3, `${frags.length} fragments`);
  const first = frags.flatMap((f) => sends(feed(run, f, 1000)));
  assert.equal(first.length, 1, 'answered once the request is whole');
  const again = frags.flatMap((f) => sends(feed(run, f, 1100)));
  assert.equal(again.length, 1, 'the retransmission is answered once (RFC 7383 §2.6.1)');
  assert.equal(toHex(again[0]!.data), toHex(first[0]!.data));
});

test('hostile: the DELETE after a timed-out request takes the next message ID', () => {
  const run = established();
  pump(run, run.session.handle({ kind: 'probe' }, 1000), false);
  const dpd = decodeMessage(run.sent.at(-1)!).header;
  drive(run, false);
  assert.equal(run.session.state, 'closed');
  const last = decodeMessage(run.sent.at(-1)!).header;
  assert.deepEqual(deletes(run.resp.decryptForTest(run.sent.at(-1)!)), [
    { protocol: ProtocolId.IKE, spis: [] },
  ]);
  assert.equal(last.messageId, dpd.messageId + 1);
});

// ---------------------------------------------------------------------------------------------
// CHILD_SA rekeys without deletes (finding 4)

test('hostile: 9 CHILD_SA rekeys without deletes keep at most 4 CHILD_SAs; the oldest are deleted', () => {
  const run = established();
  let live = 1;
  let maxLive = 1;
  const ourDeletes: number[] = [];
  for (let i = 0; i < 9; i++) {
    const outs = feed(run, run.resp.rekeyChild(), 1000 + i);
    for (const o of outs) {
      if (o.kind === 'installChild') live++;
      if (o.kind === 'removeChild') live--;
      maxLive = Math.max(maxLive, live);
    }
    for (const s of sends(outs)) {
      // Our response to the rekey, then (deliver to the gateway) the DELETEs of evicted SAs.
      const h = decodeMessage(s.data).header;
      if (h.flags & HeaderFlag.RESPONSE) run.resp.receive(s.data, CLIENT);
      else {
        for (const d of deletes(run.resp.decryptForTest(s.data))) ourDeletes.push(...d.spis);
        pump(run, [s]);
      }
    }
  }
  assert.equal(run.session.state, 'established');
  assert.ok(maxLive <= LIMITS.childSas, `at most ${LIMITS.childSas} live, saw ${maxLive}`);
  assert.equal(live, LIMITS.childSas);
  assert.equal(ourDeletes.length, 10 - LIMITS.childSas, 'one DELETE per evicted CHILD_SA');
  assert.ok(warnings(run.events).some((w) => /deleted the oldest/.test(w)));
});

// ---------------------------------------------------------------------------------------------
// Property: mutated responder messages never throw out of handle()

function mutate(rng: SeededRandom, d: Uint8Array): Uint8Array {
  const r = (n: number): number => new DataView(rng.bytes(4).buffer).getUint32(0) % n;
  let out = d.slice();
  const kind = r(5);
  if (kind === 0) out = out.slice(0, r(out.length + 1));
  else if (kind === 1) out = Uint8Array.from([...out, ...rng.bytes(r(64) + 1)]);
  else if (kind === 2) {
    const i = r(out.length);
    const v = new DataView(out.buffer);
    if (i + 2 <= out.length) v.setUint16(i, r(65536));
  } else {
    for (let k = 0, n = r(8) + 1; k < n; k++) out[r(out.length)]! ^= 1 << r(8);
  }
  return out;
}

test('property: random mutations of valid responder messages never throw out of handle()', () => {
  const rng = new SeededRandom(2026);
  let closedWithError = 0;
  // IKE_SA_INIT responses (parsed in the clear) to fresh sessions.
  for (let i = 0; i < 300; i++) {
    const session = new IkeSession(config(), new SeededRandom(i));
    const resp = responder({ random: new SeededRandom(1000 + i) });
    const init = sends(session.handle({ kind: 'start', local: CLIENT, remote: GW }, 0))[0]!;
    const answer = resp.receive(init.data, CLIENT)!;
    const outs = session.handle({ kind: 'datagram', data: mutate(rng, answer), from: GW }, 1);
    for (const o of outs) {
      if (o.kind === 'event' && o.event.type === 'closed' && o.event.error) {
        closedWithError++;
        assert.doesNotMatch(o.event.error.message, /internal error/);
      }
    }
  }
  // Authentic IKE_AUTH responses whose plaintext payload chain was mutated, then gateway requests.
  for (let i = 0; i < 300; i++) {
    const session = new IkeSession(config(), new SeededRandom(i));
    const resp = responder({ random: new SeededRandom(1000 + i) });
    const init = sends(session.handle({ kind: 'start', local: CLIENT, remote: GW }, 0))[0]!;
    const auth = sends(
      session.handle({ kind: 'datagram', data: resp.receive(init.data, CLIENT)!, from: GW }, 1),
    )[0]!;
    const good = resp.receive(auth.data, CLIENT)!;
    const { first, plain } = resp.openOwn(good);
    const bad = resp.sealInner(ExchangeType.IKE_AUTH, 1, true, first, mutate(rng, plain));
    const outs = [
      ...session.handle({ kind: 'datagram', data: bad, from: FROM }, 2),
      ...session.handle({ kind: 'datagram', data: mutate(rng, good), from: FROM }, 3),
      ...session.handle({ kind: 'datagram', data: good, from: FROM }, 4),
    ];
    if (session.state === 'established') {
      for (const kind of ['dpd', 'delete-child', 'delete-ike'] as const) {
        const req = resp.request(kind);
        const p = resp.openOwn(req);
        outs.push(
          ...session.handle(
            {
              kind: 'datagram',
              data: resp.sealInner(
                ExchangeType.INFORMATIONAL,
                decodeMessage(req).header.messageId,
                false,
                p.first,
                mutate(rng, p.plain),
              ),
              from: FROM,
            },
            5,
          ),
        );
      }
    }
    for (const o of outs) {
      if (o.kind === 'event' && o.event.type === 'closed' && o.event.error) {
        closedWithError++;
        assert.doesNotMatch(o.event.error.message, /internal error/);
      }
    }
  }
  assert.ok(closedWithError > 0, 'some mutations were caught as clear errors');
});

// Payload chain helpers for re-sealing a modified plaintext.
function decodeChain(first: number, plain: Uint8Array): Payload[] {
  return decodePayloadChain(first, plain, 0);
}
function encodeChain(payloads: Payload[]): Uint8Array {
  return encodePayloadChain(payloads).bytes;
}
