/**
 * Two-party exchange tests: our IkeSession against the test-only responder, in memory, with
 * seeded randomness and a fake clock. Each test spells out the exchange it drives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRandom } from '../../src/core/random.js';
import { toHex } from '../../src/core/bytes.js';
import { IkeSession, DEFAULT_RETRANSMIT } from '../../src/ike/session.js';
import { parseProposals } from '../../src/ike/sa/proposals.js';
import type { IkeOutput, ChildSaInfo, IkeEvent } from '../../src/ike/session.js';
import {
  DhGroup,
  ExchangeType,
  HeaderFlag,
  NotifyType,
  PayloadType,
} from '../../src/ike/constants.js';
import { decodeMessage, filterPayloads, findPayload } from '../../src/ike/codec/index.js';
import {
  CLIENT,
  GW,
  closedEvent,
  config,
  pump,
  responder,
  start,
} from '../support/session-harness.js';
import type { Run } from '../support/session-harness.js';

test('IKE_SA_INIT + IKE_AUTH with PSK establish an IKE SA and a CHILD_SA with matching keys', () => {
  // IKE_SA_INIT { SA, KE, Ni, N(NAT_D)x2, N(FRAG), N(SIG_HASH) } -->  <-- { SA, KE, Nr, N(NAT_D)x2 }
  // IKE_AUTH SK{ IDi, N(INITIAL_CONTACT), IDr, AUTH, CP, SA, TSi, TSr } -->  <-- SK{ IDr, AUTH, CP, SA, TSi, TSr }
  const run = start();
  assert.equal(run.session.state, 'established');
  const install = run.outputs.find(
    (o): o is Extract<IkeOutput, { kind: 'installChild' }> => o.kind === 'installChild',
  );
  assert.ok(install, 'CHILD_SA installed');
  const child: ChildSaInfo = install.child;
  const rc = run.resp.child!;
  // Our outbound = responder's inbound, and the keys agree in both directions (RFC 7296 §2.17).
  assert.equal(child.outbound.spi, rc.inSpi);
  assert.equal(child.inbound.spi, rc.outSpi);
  assert.equal(toHex(child.outbound.keymat), toHex(rc.keyI));
  assert.equal(toHex(child.inbound.keymat), toHex(rc.keyR));
  assert.equal(child.outbound.keymat.length, 36);
  const est = run.events.find(
    (e): e is Extract<IkeEvent, { type: 'established' }> => e.type === 'established',
  );
  assert.ok(est);
  assert.equal(est.info.config.ip4, '203.0.113.130');
  assert.deepEqual(est.info.config.dns4, ['203.0.113.53']);
  assert.deepEqual(est.info.tsRemote, ['203.0.113.0/25']);
  assert.equal(est.info.ikeProposal, 'aes256gcm16-prfsha256-x25519');
  assert.equal(est.info.espProposal, 'aes256gcm16');
  assert.equal(est.info.remoteId, 'gw.test');
  // forceEncap: after IKE_SA_INIT everything goes to port 4500 with the non-ESP marker.
  const sends = run.outputs.filter(
    (o): o is Extract<IkeOutput, { kind: 'send' }> => o.kind === 'send',
  );
  assert.equal(sends[0]!.to.port, 500);
  assert.equal(sends[0]!.nonEspMarker, false);
  assert.equal(sends[1]!.to.port, 4500);
  assert.equal(sends[1]!.nonEspMarker, true);
});

test('the same seeds give a byte-identical transcript (time and randomness are injected)', () => {
  const a = start(config(), responder(), 5);
  const b = start(config(), responder(), 5);
  assert.deepEqual(a.sent.map(toHex), b.sent.map(toHex));
  const c = start(config(), responder(), 6);
  assert.notEqual(toHex(a.sent[0]!), toHex(c.sent[0]!));
});

test('COOKIE: the initiator repeats IKE_SA_INIT with the cookie first (RFC 7296 §2.6)', () => {
  const run = start(config(), responder({ demandCookie: true }));
  assert.equal(run.session.state, 'established');
  const second = decodeMessage(run.sent[1]!);
  assert.equal(second.header.exchangeType, ExchangeType.IKE_SA_INIT);
  const first = second.payloads[0]!;
  assert.equal(first.type, PayloadType.NOTIFY);
});

test('INVALID_KE_PAYLOAD: retry with the group the gateway asks for when we offered it', () => {
  const run = start(config(), responder({ requireGroup: DhGroup.ECP_256 }));
  assert.equal(run.session.state, 'established');
  const retry = decodeMessage(run.sent[1]!);
  const ke = findPayload(retry.payloads, PayloadType.KE);
  assert.ok(ke);
  assert.equal(ke.dhGroup, DhGroup.ECP_256);
  assert.equal(ke.data.length, 64);
});

test('INVALID_KE_PAYLOAD for a group we never offered fails with NO_PROPOSAL', () => {
  const run = start(config(), responder({ requireGroup: DhGroup.MODP_2048 }));
  assert.equal(run.session.state, 'closed');
  assert.equal(closedEvent(run)?.error?.code, 'ERR_IKE_NO_PROPOSAL');
});

test('wrong PSK: the gateway answers AUTHENTICATION_FAILED and we report it', () => {
  const run = start(
    config({
      auth: { kind: 'psk', psk: new TextEncoder().encode('wrong') },
      gatewayAuth: { psk: new TextEncoder().encode('wrong') },
    }),
  );
  assert.equal(run.session.state, 'closed');
  const ev = closedEvent(run);
  assert.equal(ev?.error?.code, 'ERR_IKE_AUTH_FAILED');
  assert.match(ev.error.message, /AUTHENTICATION_FAILED/);
  assert.ok(!run.outputs.some((o) => o.kind === 'installChild'));
});

test('a gateway that does not know our PSK is caught by checking its AUTH', () => {
  const run = start(
    config(),
    responder({ psk: new TextEncoder().encode('other'), checkAuth: false }),
  );
  assert.equal(closedEvent(run)?.error?.code, 'ERR_IKE_AUTH_FAILED');
  assert.ok(!run.outputs.some((o) => o.kind === 'installChild'));
});

test('NO_PROPOSAL_CHOSEN names what we offered', () => {
  const run = start(config(), responder({ refuseIke: true }));
  const ev = closedEvent(run);
  assert.equal(ev?.error?.code, 'ERR_IKE_NO_PROPOSAL');
  assert.match(ev.error.message, /aes256gcm16-prfsha256-x25519-ecp256/);
});

test('unanswered requests are retransmitted byte for byte with backoff, then time out', () => {
  const session = new IkeSession(config(), new SeededRandom(3));
  const run: Run = { session, resp: responder(), outputs: [], events: [], sent: [], now: 0 };
  pump(run, session.handle({ kind: 'start', local: CLIENT, remote: GW }, 0), false);
  const timers: number[] = [];
  for (let i = 0; i < 10 && session.state !== 'closed'; i++) {
    const t = run.outputs
      .filter((o): o is Extract<IkeOutput, { kind: 'setTimer' }> => o.kind === 'setTimer')
      .at(-1)!;
    timers.push(t.at);
    run.now = t.at;
    pump(run, session.handle({ kind: 'timer', timer: 'retransmit' }, t.at), false);
  }
  assert.equal(session.state, 'closed');
  assert.equal(run.sent.length, DEFAULT_RETRANSMIT.tries + 1);
  for (const s of run.sent) assert.equal(toHex(s), toHex(run.sent[0]!));
  // Exponential backoff: each gap is larger than the previous one.
  const gaps = timers.map((t, i) => t - (i === 0 ? 0 : timers[i - 1]!));
  for (let i = 1; i < gaps.length; i++) assert.ok(gaps[i]! > gaps[i - 1]!, `gap ${i} grows`);
  const ev = closedEvent(run);
  assert.equal(ev?.error?.code, 'ERR_IKE_TIMEOUT');
  assert.match(ev.error.message, /198\.51\.100\.10:500/);
  assert.equal(run.now, timers.at(-1));
  assert.ok(run.now <= session.totalTimeoutMs());
});

test('a tampered response is dropped without consuming the message ID; the genuine one still works', () => {
  const session = new IkeSession(config(), new SeededRandom(4));
  const resp = responder();
  const run: Run = { session, resp, outputs: [], events: [], sent: [], now: 0 };
  const outs = session.handle({ kind: 'start', local: CLIENT, remote: GW }, 0);
  const init = outs.find((o): o is Extract<IkeOutput, { kind: 'send' }> => o.kind === 'send')!;
  const initResp = resp.receive(init.data, CLIENT)!;
  const authOuts = session.handle({ kind: 'datagram', data: initResp, from: GW }, 0);
  const auth = authOuts.find((o): o is Extract<IkeOutput, { kind: 'send' }> => o.kind === 'send')!;
  const authResp = resp.receive(auth.data, CLIENT)!;
  const bad = authResp.slice();
  bad[bad.length - 3]! ^= 0x40;
  const r1 = session.handle(
    { kind: 'datagram', data: bad, from: { address: GW.address, port: 4500 } },
    0,
  );
  assert.equal(r1.length, 0);
  assert.equal(session.counters.dropped['integrity'], 1);
  assert.equal(session.state, 'connecting');
  pump(
    run,
    session.handle(
      { kind: 'datagram', data: authResp, from: { address: GW.address, port: 4500 } },
      0,
    ),
  );
  assert.equal(session.state, 'established');
});

test('gateway liveness check gets an empty response; its retransmission gets the same bytes', () => {
  const run = start();
  const dpd = run.resp.request('dpd');
  const o1 = run.session.handle(
    { kind: 'datagram', data: dpd, from: { address: GW.address, port: 4500 } },
    2000,
  );
  const o2 = run.session.handle(
    { kind: 'datagram', data: dpd, from: { address: GW.address, port: 4500 } },
    2100,
  );
  const s1 = o1.find((o): o is Extract<IkeOutput, { kind: 'send' }> => o.kind === 'send')!;
  const s2 = o2.find((o): o is Extract<IkeOutput, { kind: 'send' }> => o.kind === 'send')!;
  assert.equal(toHex(s1.data), toHex(s2.data));
  const decoded = decodeMessage(s1.data);
  assert.equal(decoded.header.exchangeType, ExchangeType.INFORMATIONAL);
  assert.equal(decoded.header.messageId, 0);
  assert.equal(run.session.state, 'established');
});

test('a DELETE of the IKE SA from the gateway is acknowledged and closes the session', () => {
  const run = start();
  const del = run.resp.request('delete-ike');
  pump(
    run,
    run.session.handle(
      { kind: 'datagram', data: del, from: { address: GW.address, port: 4500 } },
      2000,
    ),
  );
  assert.equal(run.session.state, 'closed');
  const ev = closedEvent(run)!;
  assert.equal(ev.byPeer, true);
  assert.equal(ev.error?.code, 'ERR_IKE_DELETED');
  assert.ok(run.outputs.some((o) => o.kind === 'removeChild'));
});

test('a DELETE of our only CHILD_SA is answered with our SPI, then we delete the IKE SA (§1.4.1)', () => {
  const run = start();
  const inSpi = run.resp.child!.outSpi;
  const del = run.resp.request('delete-child');
  const outs = run.session.handle(
    { kind: 'datagram', data: del, from: { address: GW.address, port: 4500 } },
    2000,
  );
  const sends = outs.filter((o): o is Extract<IkeOutput, { kind: 'send' }> => o.kind === 'send');
  assert.equal(sends.length, 2, 'our response, then our own IKE SA DELETE request');
  run.resp.receive(sends[0]!.data, CLIENT);
  const inner = run.resp.informationalsReceived.at(-1)!;
  const d = findPayload(inner, PayloadType.DELETE);
  assert.ok(d);
  assert.equal(new DataView(d.spis[0]!.buffer, d.spis[0]!.byteOffset).getUint32(0), inSpi);
  assert.equal(run.session.state, 'deleting');
  pump(run, [sends[1]!]);
  assert.ok(run.resp.deleted, 'the gateway saw our IKE SA DELETE');
  assert.equal(run.session.state, 'closed');
  assert.equal(closedEvent(run)?.error?.code, 'ERR_IKE_DELETED');
});

test('close sends an INFORMATIONAL DELETE and ends when the gateway answers', () => {
  const run = start();
  pump(run, run.session.handle({ kind: 'close' }, 3000));
  assert.ok(run.resp.deleted, 'gateway saw the DELETE');
  assert.equal(run.session.state, 'closed');
  const ev = closedEvent(run)!;
  assert.equal(ev.error, undefined);
});

test('garbage and datagrams for other SPIs are counted, never thrown', () => {
  const run = start();
  for (const junk of [
    new Uint8Array(0),
    new Uint8Array(5),
    new Uint8Array(28),
    new Uint8Array(200).fill(0xaa),
  ]) {
    const outs = run.session.handle({ kind: 'datagram', data: junk, from: GW }, 5000);
    assert.ok(!outs.some((o) => o.kind === 'event' && o.event.type === 'closed'));
  }
  const total = Object.values(run.session.counters.dropped).reduce((a, b) => a + b, 0);
  assert.equal(total, 4);
  assert.equal(run.session.state, 'established');
});

function sendOf(outs: IkeOutput[]): Extract<IkeOutput, { kind: 'send' }> {
  const s = outs.find((o): o is Extract<IkeOutput, { kind: 'send' }> => o.kind === 'send');
  assert.ok(s, 'the session answered');
  return s;
}

for (const pfs of [undefined, DhGroup.CURVE25519, DhGroup.ECP_256]) {
  test(`CHILD_SA rekey started by the gateway (RFC 7296 §1.3.3)${pfs ? `, PFS group ${pfs}` : ''}: make-before-break`, () => {
    const run = start();
    const oldChild = run.resp.child!;
    // CREATE_CHILD_SA { N(REKEY_SA), SA, Ni, [KEi], TSi, TSr } -->  <-- { SA, Nr, [KEr], TSi, TSr }
    const outs = run.session.handle(
      {
        kind: 'datagram',
        data: run.resp.rekeyChild(pfs),
        from: { address: GW.address, port: 4500 },
      },
      5000,
    );
    run.resp.receive(sendOf(outs).data, CLIENT);
    const install = outs.find(
      (o): o is Extract<IkeOutput, { kind: 'installChild' }> => o.kind === 'installChild',
    );
    assert.ok(install, 'new CHILD_SA installed');
    const nc = run.resp.child!;
    assert.notEqual(nc.inSpi, oldChild.inSpi);
    assert.equal(install.child.outbound.spi, nc.inSpi);
    assert.equal(install.child.inbound.spi, nc.outSpi);
    assert.equal(toHex(install.child.outbound.keymat), toHex(nc.keyI));
    assert.equal(toHex(install.child.inbound.keymat), toHex(nc.keyR));
    assert.ok(!outs.some((o) => o.kind === 'removeChild'), 'the old SA stays until deleted');
    assert.equal(run.session.counters.childRekeys, 1);
    // The gateway deletes the old CHILD_SA; we answer with our old inbound SPI and stay up.
    const del = run.session.handle(
      {
        kind: 'datagram',
        data: run.resp.deleteChild(oldChild.inSpi),
        from: { address: GW.address, port: 4500 },
      },
      5100,
    );
    const removed = del.find(
      (o): o is Extract<IkeOutput, { kind: 'removeChild' }> => o.kind === 'removeChild',
    );
    assert.equal(removed?.outboundSpi, oldChild.inSpi);
    run.resp.receive(sendOf(del).data, CLIENT);
    const d = findPayload(run.resp.informationalsReceived.at(-1)!, PayloadType.DELETE)!;
    assert.equal(
      new DataView(d.spis[0]!.buffer, d.spis[0]!.byteOffset).getUint32(0),
      oldChild.outSpi,
    );
    assert.equal(run.session.state, 'established');
  });
}

test('IKE SA rekey started by the gateway (§1.3.2, §2.18): new SPIs and keys, old SA retired by its DELETE', () => {
  const run = start();
  const outs = run.session.handle(
    { kind: 'datagram', data: run.resp.rekeyIke(), from: { address: GW.address, port: 4500 } },
    6000,
  );
  const reply = decodeMessage(sendOf(outs).data);
  assert.equal(reply.header.exchangeType, ExchangeType.CREATE_CHILD_SA);
  run.resp.receive(sendOf(outs).data, CLIENT);
  assert.equal(run.session.counters.ikeRekeys, 1);
  // DELETE of the old IKE SA arrives on the old SA: answered there, the session stays up.
  const del = run.session.handle(
    { kind: 'datagram', data: run.resp.deleteOldIke(), from: { address: GW.address, port: 4500 } },
    6100,
  );
  assert.ok(sendOf(del));
  assert.ok(!del.some((o) => o.kind === 'removeChild'));
  assert.equal(run.session.state, 'established');
  // A liveness check on the new SA: the gateway is its original initiator now, so our answer
  // carries no I flag and is protected with SK_er (the test responder must open it).
  const dpd = run.session.handle(
    { kind: 'datagram', data: run.resp.request('dpd'), from: { address: GW.address, port: 4500 } },
    6200,
  );
  const answer = sendOf(dpd).data;
  assert.equal(decodeMessage(answer).header.flags, HeaderFlag.RESPONSE);
  run.resp.receive(answer, CLIENT);
  assert.deepEqual(run.resp.informationalsReceived.at(-1), []);
  // And closing deletes the new IKE SA.
  pump(run, run.session.handle({ kind: 'close' }, 7000));
  assert.ok(run.resp.deleted);
  assert.equal(run.session.state, 'closed');
});

test('rekeying a CHILD_SA we do not have is answered CHILD_SA_NOT_FOUND (§2.25)', () => {
  const run = start();
  run.resp.child!.inSpi = 0x0bad0bad;
  const outs = run.session.handle(
    { kind: 'datagram', data: run.resp.rekeyChild(), from: { address: GW.address, port: 4500 } },
    5000,
  );
  run.resp.receive(sendOf(outs).data, CLIENT);
  const n = filterPayloads(run.resp.informationalsReceived.at(-1)!, PayloadType.NOTIFY);
  assert.equal(n[0]?.notifyType, NotifyType.CHILD_SA_NOT_FOUND);
  assert.ok(!outs.some((o) => o.kind === 'installChild'));
});

test('dead peer detection (RFC 7296 §2.4): idle → empty INFORMATIONAL; ESP activity postpones it', () => {
  const run = start();
  const dpdTimer = (outs: IkeOutput[]) =>
    outs.find(
      (o): o is Extract<IkeOutput, { kind: 'setTimer' }> =>
        o.kind === 'setTimer' && o.timer === 'dpd',
    );
  const armed = dpdTimer(run.outputs);
  assert.ok(armed, 'DPD armed when established');
  assert.equal(armed.at, run.now + 30000);
  // ESP traffic seen 10 s later: the check is pushed back instead of sent.
  run.session.handle({ kind: 'activity', at: run.now + 10000 }, run.now + 10000);
  const later = run.session.handle({ kind: 'timer', timer: 'dpd' }, run.now + 30000);
  assert.ok(!later.some((o) => o.kind === 'send'));
  assert.equal(dpdTimer(later)?.at, run.now + 40000);
  // Idle now: an empty INFORMATIONAL goes out and the gateway's answer re-arms the timer.
  const check = run.session.handle({ kind: 'timer', timer: 'dpd' }, run.now + 40000);
  const req = sendOf(check);
  assert.equal(decodeMessage(req.data).header.exchangeType, ExchangeType.INFORMATIONAL);
  const answer = run.resp.receive(req.data, CLIENT)!;
  const after = run.session.handle(
    { kind: 'datagram', data: answer, from: { address: GW.address, port: 4500 } },
    run.now + 40010,
  );
  assert.equal(dpdTimer(after)?.at, run.now + 40010 + 30000);
  assert.equal(run.session.counters.dpdSent, 1);
  assert.equal(run.session.state, 'established');
});

test('dead peer detection: a silent gateway is declared dead after the retransmit schedule', () => {
  const run = start();
  let now = run.now + 30000;
  let outs = run.session.handle({ kind: 'timer', timer: 'dpd' }, now);
  assert.ok(sendOf(outs));
  for (let i = 0; i < 10 && run.session.state !== 'closed'; i++) {
    const t = outs.find(
      (o): o is Extract<IkeOutput, { kind: 'setTimer' }> =>
        o.kind === 'setTimer' && o.timer === 'retransmit',
    );
    if (!t) break;
    now = t.at;
    outs = run.session.handle({ kind: 'timer', timer: 'retransmit' }, now);
    run.events.push(...outs.flatMap((o) => (o.kind === 'event' ? [o.event] : [])));
  }
  assert.equal(run.session.state, 'closed');
  const ev = closedEvent(run)!;
  assert.equal(ev.error?.code, 'ERR_IKE_TIMEOUT');
  assert.match(ev.error.message, /dead peer detection/);
  assert.ok(now - (run.now + 30000) <= run.session.totalTimeoutMs() + 1);
});

test('our own CHILD_SA rekey by lifetime: CREATE_CHILD_SA, then DELETE of the old SA (make-before-break)', () => {
  const run = start(config({ childRekeyMs: 60000 }));
  const old = run.resp.child!;
  const timer = run.outputs.find(
    (o): o is Extract<IkeOutput, { kind: 'setTimer' }> =>
      o.kind === 'setTimer' && o.timer === 'rekey-child',
  );
  assert.ok(
    timer && timer.at > run.now + 53999 && timer.at <= run.now + 60000,
    'rekey due within 10 % jitter of the lifetime',
  );
  run.now = timer.at;
  pump(run, run.session.handle({ kind: 'timer', timer: 'rekey-child' }, run.now));
  const installs = run.outputs.filter(
    (o): o is Extract<IkeOutput, { kind: 'installChild' }> => o.kind === 'installChild',
  );
  assert.equal(installs.length, 2);
  const fresh = installs[1]!.child;
  const nc = run.resp.child!;
  assert.equal(fresh.outbound.spi, nc.inSpi);
  assert.equal(
    toHex(fresh.outbound.keymat),
    toHex(nc.keyI),
    'we initiated: our outbound keys come first (§2.17)',
  );
  assert.equal(toHex(fresh.inbound.keymat), toHex(nc.keyR));
  // The old SA was deleted after the new one was in place.
  assert.deepEqual(run.resp.childDeletes, [old.outSpi]);
  const removed = run.outputs.filter(
    (o): o is Extract<IkeOutput, { kind: 'removeChild' }> => o.kind === 'removeChild',
  );
  assert.deepEqual(
    removed.map((r) => r.outboundSpi),
    [old.inSpi],
  );
  assert.equal(run.session.counters.childRekeys, 1);
  assert.equal(run.session.state, 'established');
});

test('simultaneous CHILD_SA rekeys (§2.8.1): the exchange with the lowest nonce loses its new SA', () => {
  const outcomes = new Set<boolean>();
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    const run = start(
      config({ childRekeyMs: 60000 }),
      responder({ random: new SeededRandom(100 + seed) }),
      seed,
    );
    const old = run.resp.child!;
    // Our rekey request goes out, and the gateway's crosses it on the wire.
    const ours = sendOf(run.session.handle({ kind: 'timer', timer: 'rekey-child' }, 70000)).data;
    const theirsReq = run.resp.rekeyChild();
    const theirNi = (run.resp as unknown as { pending: { ni: Uint8Array } }).pending.ni.slice();
    const ourAnswer = sendOf(
      run.session.handle(
        { kind: 'datagram', data: theirsReq, from: { address: GW.address, port: 4500 } },
        70001,
      ),
    );
    const ourNr = findPayload(run.resp.decryptForTest(ourAnswer.data), PayloadType.NONCE)!.data;
    run.resp.receive(ourAnswer.data, CLIENT);
    const respToOurs = run.resp.receive(ours, CLIENT)!;
    const ourNi = run.resp.clientRekeys.at(-1)!.ni;
    const theirNr = run.resp.clientRekeys.at(-1)!.nr;
    const outs = run.session.handle(
      { kind: 'datagram', data: respToOurs, from: { address: GW.address, port: 4500 } },
      70002,
    );
    const min = (a: Uint8Array, b: Uint8Array) => (Buffer.compare(a, b) <= 0 ? a : b);
    const weLose = Buffer.compare(min(ourNi, theirNr), min(theirNi, ourNr)) < 0;
    const del = decodeMessage(sendOf(outs).data);
    assert.equal(del.header.exchangeType, ExchangeType.INFORMATIONAL, `seed ${seed}`);
    const deleted = findPayload(run.resp.decryptForTest(sendOf(outs).data), PayloadType.DELETE)!;
    const spi = new DataView(deleted.spis[0]!.buffer, deleted.spis[0]!.byteOffset).getUint32(0);
    const ourNewInbound = run.resp.child!.outSpi;
    if (weLose) assert.equal(spi, ourNewInbound, `seed ${seed}: we delete our redundant SA`);
    else assert.equal(spi, old.outSpi, `seed ${seed}: we won, so we delete the old SA`);
    outcomes.add(weLose);
  }
  assert.equal(outcomes.size, 2, 'both outcomes exercised');
});

test('our own IKE SA rekey (§1.3.2, §2.18): new SA, old one deleted, traffic continues on the new one', () => {
  const run = start(config({ ikeRekeyMs: 3600000 }));
  const timer = run.outputs.find(
    (o): o is Extract<IkeOutput, { kind: 'setTimer' }> =>
      o.kind === 'setTimer' && o.timer === 'rekey-ike',
  );
  assert.ok(timer && timer.at > run.now + 3239999 && timer.at <= run.now + 3600000);
  const oldSpiR = toHex(run.resp.spiR);
  // CREATE_CHILD_SA { SA(IKE), Ni, KEi } -->  <-- { SA, Nr, KEr };  INFORMATIONAL { D(IKE) } on the old SA -->
  pump(run, run.session.handle({ kind: 'timer', timer: 'rekey-ike' }, timer.at));
  assert.equal(run.resp.ikeRekeysByClient, 1);
  assert.ok(run.resp.deleted, 'the old IKE SA was deleted');
  assert.notEqual(toHex(run.resp.spiR), oldSpiR);
  assert.equal(run.session.counters.ikeRekeys, 1);
  assert.equal(run.session.state, 'established');
  // The new SA works in both directions: the gateway's liveness check on it gets an answer.
  const dpd = run.session.handle(
    { kind: 'datagram', data: run.resp.request('dpd'), from: { address: GW.address, port: 4500 } },
    timer.at + 10,
  );
  const answer = sendOf(dpd).data;
  assert.equal(
    decodeMessage(answer).header.flags,
    HeaderFlag.INITIATOR | HeaderFlag.RESPONSE,
    'we initiated the new SA',
  );
  run.resp.receive(answer, CLIENT);
  assert.deepEqual(run.resp.informationalsReceived.at(-1), []);
  // And our CHILD_SA can still be rekeyed on it (SK_d of the new SA).
  pump(run, run.session.handle({ kind: 'rekeyChild' }, timer.at + 20));
  const installs = run.outputs.filter(
    (o): o is Extract<IkeOutput, { kind: 'installChild' }> => o.kind === 'installChild',
  );
  assert.equal(toHex(installs.at(-1)!.child.outbound.keymat), toHex(run.resp.child!.keyI));
});

test('simultaneous IKE SA rekeys (§2.8.1): the SA from the exchange with the lowest nonce is deleted by its creator', () => {
  const outcomes = new Set<boolean>();
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    const run = start(
      config({ ikeRekeyMs: 3600000 }),
      responder({ random: new SeededRandom(200 + seed) }),
      seed,
    );
    const oldSpiI = toHex(run.resp.spiI);
    // Our CREATE_CHILD_SA(IKE) goes out; the gateway's crosses it.
    const ours = sendOf(run.session.handle({ kind: 'timer', timer: 'rekey-ike' }, 5000000)).data;
    const theirs = run.resp.rekeyIke();
    const theirNi = (run.resp as unknown as { pending: { ni: Uint8Array } }).pending.ni.slice();
    const answer = sendOf(
      run.session.handle(
        { kind: 'datagram', data: theirs, from: { address: GW.address, port: 4500 } },
        5000001,
      ),
    ).data;
    const ourNr = findPayload(run.resp.decryptForTest(answer), PayloadType.NONCE)!.data;
    const reply = run.resp.receive(ours, CLIENT)!;
    const mine = run.resp.lastClientIkeRekey!;
    const outs = run.session.handle(
      { kind: 'datagram', data: reply, from: { address: GW.address, port: 4500 } },
      5000002,
    );
    const lowest = [mine.ni, mine.nr, theirNi, ourNr].reduce((a, b) =>
      Buffer.compare(a, b) <= 0 ? a : b,
    );
    const weLose = lowest === mine.ni || lowest === mine.nr;
    const del = decodeMessage(sendOf(outs).data);
    assert.equal(del.header.exchangeType, ExchangeType.INFORMATIONAL, `seed ${seed}`);
    if (weLose) {
      assert.equal(toHex(del.header.spiI), toHex(mine.spiI), `seed ${seed}: we delete our new SA`);
    } else {
      assert.equal(toHex(del.header.spiI), oldSpiI, `seed ${seed}: we won and delete the old SA`);
    }
    assert.equal(run.session.state, 'established');
    assert.equal(run.session.counters.ikeRekeys, 1, `seed ${seed}: one rekey counted`);
    outcomes.add(weLose);
  }
  assert.equal(outcomes.size, 2, 'both outcomes exercised');
});

test('MOBIKE (RFC 4555 §3.5): a new local address sends UPDATE_SA_ADDRESSES with COOKIE2; the SAs stay', () => {
  const run = start(config(), responder({ mobike: true }));
  assert.ok(run.session.peerSupportsMobike);
  const first = run.resp.decryptForTest(run.sent[1]!);
  assert.ok(
    filterPayloads(first, PayloadType.NOTIFY).some(
      (n) => n.notifyType === NotifyType.MOBIKE_SUPPORTED,
    ),
    'we announce MOBIKE in IKE_AUTH',
  );
  const moved = { address: '192.0.2.130', port: 40000 };
  const outs = run.session.handle({ kind: 'localAddress', local: moved }, run.now + 10);
  const upd = sendOf(outs).data;
  const ns = filterPayloads(run.resp.decryptForTest(upd), PayloadType.NOTIFY).map(
    (n) => n.notifyType,
  );
  assert.deepEqual(
    [...ns].sort(),
    [
      NotifyType.UPDATE_SA_ADDRESSES,
      NotifyType.NAT_DETECTION_SOURCE_IP,
      NotifyType.NAT_DETECTION_DESTINATION_IP,
      NotifyType.COOKIE2,
    ].sort(),
  );
  pump(run, outs);
  const roamed = run.events.find((e) => e.type === 'roamed');
  assert.ok(roamed && roamed.type === 'roamed' && roamed.local.address === '192.0.2.130');
  assert.equal(run.session.state, 'established');
  assert.ok(!run.outputs.some((o) => o.kind === 'removeChild'), 'no SA was torn down');
});

test('MOBIKE: an answer without our COOKIE2 is refused; without MOBIKE an address change ends the SA for a reconnect', () => {
  const a = start(config(), responder({ mobike: true }));
  a.resp.breakCookie2 = true;
  pump(
    a,
    a.session.handle({ kind: 'localAddress', local: { address: '192.0.2.130', port: 1 } }, a.now),
  );
  assert.equal(closedEvent(a)?.error?.code, 'ERR_IKE_PROTOCOL');
  const b = start(config(), responder());
  assert.equal(b.session.peerSupportsMobike, false);
  pump(
    b,
    b.session.handle({ kind: 'localAddress', local: { address: '192.0.2.130', port: 1 } }, b.now),
  );
  const ev = closedEvent(b);
  assert.equal(ev?.error?.code, 'ERR_IKE_TIMEOUT');
  assert.match(ev.error.message, /does not support MOBIKE/);
});

test('our CHILD_SA rekey with PFS (§1.3.1): KE in the group of our ESP proposal; keys include g^ir', () => {
  const run = start(
    config({ espProposals: parseProposals('aes256gcm16-x25519', 'esp'), childRekeyMs: 60000 }),
  );
  assert.equal(run.session.state, 'established');
  pump(run, run.session.handle({ kind: 'rekeyChild' }, run.now + 10));
  assert.equal(run.resp.pfsRekeys, 1, 'the rekey carried a KE');
  const installs = run.outputs.filter(
    (o): o is Extract<IkeOutput, { kind: 'installChild' }> => o.kind === 'installChild',
  );
  assert.equal(installs.length, 2);
  // Same keys on both sides, and different from a rekey without g^ir would give.
  assert.equal(toHex(installs[1]!.child.outbound.keymat), toHex(run.resp.child!.keyI));
  assert.equal(toHex(installs[1]!.child.inbound.keymat), toHex(run.resp.child!.keyR));
});

test('a gateway on port 4500 (or any port but 500) gets every IKE message with the non-ESP marker from the start (RFC 7296 §2.23)', () => {
  // IKE_SA_INIT to port 4500 without the marker would be taken for ESP by the gateway.
  for (const port of [4500, 10500]) {
    const session = new IkeSession(config(), new SeededRandom(1));
    const run: Run = {
      session,
      resp: responder(),
      outputs: [],
      events: [],
      sent: [],
      now: Date.UTC(2030, 0, 1),
    };
    pump(
      run,
      session.handle(
        { kind: 'start', local: CLIENT, remote: { address: GW.address, port } },
        run.now,
      ),
    );
    assert.equal(session.state, 'established', `port ${port}`);
    const sends = run.outputs.filter(
      (o): o is Extract<IkeOutput, { kind: 'send' }> => o.kind === 'send',
    );
    assert.ok(sends.length >= 2);
    for (const s of sends) {
      assert.equal(s.to.port, port, 'no float: the gateway already listens on a NAT-T port');
      assert.equal(s.nonEspMarker, true);
    }
    assert.equal(session.usesNatT, true);
  }
});
