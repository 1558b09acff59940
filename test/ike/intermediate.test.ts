/**
 * RFC 9242 IKE_INTERMEDIATE and RFC 9370 additional key exchanges in the initial exchanges, our
 * IkeSession against the in-memory test responder (test/support/test-responder.ts, whose
 * IntAuth and key update are written separately with node:crypto HMAC): x25519 + ML-KEM-768,
 * several ADDKEs, ML-KEM-1024 in RFC 7383 fragments at 1280 bytes, the AUTH payloads covering
 * IntAuth (a wrong IntAuth fails authentication), and hostile answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage } from '../../src/ike/codec/index.js';
import { DhGroup, ExchangeType, NotifyType, PayloadType } from '../../src/ike/constants.js';
import { parseProposals } from '../../src/ike/sa/proposals.js';
import type { IkeEvent, IkeOutput } from '../../src/ike/session.js';
import { toHex } from '../../src/core/bytes.js';
import { closedEvent, config, pump, responder, start } from '../support/session-harness.js';

function established(events: IkeEvent[]): Extract<IkeEvent, { type: 'established' }> | undefined {
  return events.find(
    (e): e is Extract<IkeEvent, { type: 'established' }> => e.type === 'established',
  );
}

function exchangesSent(sent: Uint8Array[]): { type: number; mid: number; size: number }[] {
  return sent.map((d) => {
    const { header } = decodeMessage(d);
    return { type: header.exchangeType, mid: header.messageId, size: d.length };
  });
}

test('x25519-ke1_mlkem768: IKE_SA_INIT, one IKE_INTERMEDIATE (mid 1), IKE_AUTH (mid 2), up', () => {
  const cfg = config({
    ikeProposals: parseProposals('aes256gcm16-prfsha384-x25519-ke1_mlkem768', 'ike'),
  });
  const run = start(cfg);
  const up = established(run.events);
  assert.ok(up, `not established: ${closedEvent(run)?.error?.message ?? ''}`);
  assert.equal(up.info.ikeProposal, 'aes256gcm16-prfsha384-x25519-ke1_mlkem768');
  assert.deepEqual(
    run.resp.intermediates.map((i) => [i.mid, i.method, i.keiLength]),
    [[1, DhGroup.ML_KEM_768, 1184]],
  );
  const x = exchangesSent(run.sent);
  assert.deepEqual(
    x.map((e) => [e.type, e.mid]),
    [
      [ExchangeType.IKE_SA_INIT, 0],
      [ExchangeType.IKE_INTERMEDIATE, 1],
      [ExchangeType.IKE_AUTH, 2],
    ],
  );
  // RFC 9370 §2.2.1: IKE_SA_INIT announced INTERMEDIATE_EXCHANGE_SUPPORTED.
  const init = decodeMessage(run.sent[0]!).payloads;
  assert.ok(
    init.some(
      (p) =>
        p.type === PayloadType.NOTIFY &&
        'notifyType' in p &&
        p.notifyType === NotifyType.INTERMEDIATE_EXCHANGE_SUPPORTED,
    ),
  );
  assert.equal(run.session.state, 'established');
});

test('three additional key exchanges run in ADDKE order, each updating the keys', () => {
  const cfg = config({
    ikeProposals: parseProposals(
      'aes128gcm16-prfsha256-ecp256-ke1_mlkem512-ke2_x25519-ke3_mlkem1024',
      'ike',
    ),
  });
  const run = start(cfg, responder({ fragmentSize: 1280 }));
  assert.ok(established(run.events), closedEvent(run)?.error?.message);
  assert.deepEqual(
    run.resp.intermediates.map((i) => [i.mid, i.method]),
    [
      [1, DhGroup.ML_KEM_512],
      [2, DhGroup.CURVE25519],
      [3, DhGroup.ML_KEM_1024],
    ],
  );
});

test('ML-KEM-1024 at a 1280-byte fragment size: IKE_INTERMEDIATE goes in RFC 7383 fragments both ways', () => {
  const cfg = config({
    fragmentSize: 1280,
    ikeProposals: parseProposals('aes256gcm16-prfsha384-x25519-ke1_mlkem1024', 'ike'),
  });
  const resp = responder({ fragmentSize: 1280 });
  const run = start(cfg, resp);
  assert.ok(established(run.events), closedEvent(run)?.error?.message);
  const inter = exchangesSent(run.sent).filter((e) => e.type === ExchangeType.IKE_INTERMEDIATE);
  assert.ok(inter.length >= 2, `${inter.length} IKE_INTERMEDIATE datagrams`);
  for (const d of inter) assert.ok(d.size + 28 <= 1280, `datagram of ${d.size} bytes`);
  assert.equal(resp.intermediates[0]!.keiLength, 1568);
  assert.ok(resp.intermediates[0]!.fragments >= 2);
  assert.ok(resp.fragmentedAnswers >= 1, 'the ciphertext came back in fragments');
});

test('a gateway without RFC 9370 chooses no ADDKE: classic IKE_AUTH at mid 1, no IntAuth', () => {
  const cfg = config({
    ikeProposals: parseProposals('aes256gcm16-prfsha384-x25519-ke1_mlkem768-ke1_none', 'ike'),
  });
  const run = start(cfg, responder({ intermediate: false }));
  const up = established(run.events);
  assert.ok(up, closedEvent(run)?.error?.message);
  assert.equal(up.info.ikeProposal, 'aes256gcm16-prfsha384-x25519');
  assert.deepEqual(
    exchangesSent(run.sent).map((e) => [e.type, e.mid]),
    [
      [ExchangeType.IKE_SA_INIT, 0],
      [ExchangeType.IKE_AUTH, 1],
    ],
  );
});

test('ADDKE chosen without INTERMEDIATE_EXCHANGE_SUPPORTED is a protocol error', () => {
  const cfg = config({
    ikeProposals: parseProposals('aes256gcm16-prfsha384-x25519-ke1_mlkem768', 'ike'),
  });
  const run = start(cfg, responder({ announceIntermediate: false }));
  const closed = closedEvent(run);
  assert.equal(closed?.error?.code, 'ERR_IKE_PROTOCOL');
  assert.match(closed.error.message, /INTERMEDIATE_EXCHANGE_SUPPORTED/);
});

test('a truncated ML-KEM ciphertext in IKE_INTERMEDIATE fails cleanly (size check), no crash', () => {
  const cfg = config({
    ikeProposals: parseProposals('aes256gcm16-prfsha384-x25519-ke1_mlkem768', 'ike'),
  });
  const run = start(cfg, responder({ hostile: { intermediateKeData: new Uint8Array(1087) } }));
  const closed = closedEvent(run);
  assert.equal(closed?.error?.code, 'ERR_IKE_PROTOCOL');
  assert.match(closed.error.message, /ML_KEM_768.*1087 bytes, expected 1088/);
  assert.equal(established(run.events), undefined);
});

test('a KE payload of another method in IKE_INTERMEDIATE fails cleanly', () => {
  const cfg = config({
    ikeProposals: parseProposals('aes256gcm16-prfsha384-x25519-ke1_mlkem768', 'ike'),
  });
  const run = start(cfg, responder({ hostile: { intermediateKeMethod: DhGroup.ML_KEM_512 } }));
  const closed = closedEvent(run);
  assert.equal(closed?.error?.code, 'ERR_IKE_PROTOCOL');
  assert.match(closed.error.message, /ML_KEM_512 KE payload/);
});

test('our CHILD_SA rekey with x25519-ke1_mlkem768 PFS: CREATE_CHILD_SA, then IKE_FOLLOWUP_KE (RFC 9370 §2.2.4); same keys both sides', () => {
  const run = start(
    config({
      ikeProposals: parseProposals('aes256gcm16-prfsha384-x25519-ke1_mlkem768', 'ike'),
      espProposals: parseProposals('aes256gcm16-x25519-ke1_mlkem768', 'esp'),
      childRekeyMs: 60000,
    }),
    responder({ fragmentSize: 1280 }),
  );
  assert.equal(run.session.state, 'established', closedEvent(run)?.error?.message);
  const before = run.sent.length;
  pump(run, run.session.handle({ kind: 'rekeyChild' }, run.now + 10));
  assert.equal(run.resp.followupRekeys, 1, 'the rekey ran its IKE_FOLLOWUP_KE');
  assert.deepEqual(run.resp.followupMethods, [DhGroup.ML_KEM_768]);
  assert.deepEqual(
    exchangesSent(run.sent.slice(before))
      .map((e) => e.type)
      .filter((t) => t !== ExchangeType.INFORMATIONAL),
    [ExchangeType.CREATE_CHILD_SA, ExchangeType.IKE_FOLLOWUP_KE, ExchangeType.IKE_FOLLOWUP_KE],
  );
  const installs = run.outputs.filter(
    (o): o is Extract<IkeOutput, { kind: 'installChild' }> => o.kind === 'installChild',
  );
  assert.equal(installs.length, 2);
  assert.equal(toHex(installs[1]!.child.outbound.keymat), toHex(run.resp.child!.keyI));
  assert.equal(toHex(installs[1]!.child.inbound.keymat), toHex(run.resp.child!.keyR));
  assert.equal(installs[1]!.child.proposal, 'aes256gcm16-x25519-ke1_mlkem768');
  assert.equal(run.session.state, 'established');
});

test('pqRequired (--pq required): a gateway choosing a classic proposal is refused before IKE_AUTH (exit 5)', () => {
  const cfg = config({
    ikeProposals: parseProposals('aes256gcm16-prfsha384-x25519-ke1_mlkem768-ke1_none', 'ike'),
    pqRequired: true,
  });
  const run = start(cfg, responder({ intermediate: false }));
  const closed = closedEvent(run);
  assert.equal(closed?.error?.code, 'ERR_IKE_NO_PROPOSAL');
  assert.match(closed.error.message, /without a post-quantum key exchange, and --pq required/);
  assert.ok(!exchangesSent(run.sent).some((e) => e.type === ExchangeType.IKE_AUTH));
});

test('pqRequired with a hybrid gateway: up, x25519 + ML-KEM-768', () => {
  const cfg = config({
    ikeProposals: parseProposals('aes256gcm16-prfsha384-x25519-ke1_mlkem768', 'ike'),
    pqRequired: true,
  });
  const run = start(cfg);
  assert.ok(established(run.events), closedEvent(run)?.error?.message);
});

test('the gateway rekeys our CHILD_SA with x25519 + ML-KEM-768: we answer N(ADDITIONAL_KEY_EXCHANGE), then its IKE_FOLLOWUP_KE; same keys both sides', () => {
  const run = start(
    config({
      ikeProposals: parseProposals('aes256gcm16-prfsha384-x25519-ke1_mlkem768', 'ike'),
      espProposals: parseProposals('aes256gcm16-x25519-ke1_mlkem768', 'esp'),
    }),
  );
  assert.equal(run.session.state, 'established', closedEvent(run)?.error?.message);
  const before = run.outputs.length;
  // CREATE_CHILD_SA { N(REKEY_SA), SA, Ni, KEi, TSi, TSr } from the gateway, then the answers
  // (ours, its IKE_FOLLOWUP_KE, ours) pumped until quiet.
  pump(
    run,
    run.session.handle(
      {
        kind: 'datagram',
        data: run.resp.rekeyChild(DhGroup.CURVE25519, [DhGroup.ML_KEM_768]),
        from: { address: '198.51.100.10', port: 4500 },
      },
      run.now + 5000,
    ),
  );
  assert.equal(run.resp.followupRekeys, 1, 'the gateway finished its IKE_FOLLOWUP_KE');
  const installs = run.outputs
    .slice(before)
    .filter((o): o is Extract<IkeOutput, { kind: 'installChild' }> => o.kind === 'installChild');
  assert.equal(installs.length, 1, 'the new CHILD_SA exists only after IKE_FOLLOWUP_KE');
  const nc = run.resp.child!;
  assert.equal(installs[0]!.child.outbound.spi, nc.inSpi);
  assert.equal(toHex(installs[0]!.child.outbound.keymat), toHex(nc.keyI));
  assert.equal(toHex(installs[0]!.child.inbound.keymat), toHex(nc.keyR));
  assert.equal(installs[0]!.child.proposal, 'aes256gcm16-x25519-ke1_mlkem768');
});

test('an IKE_FOLLOWUP_KE with an unknown link is answered STATE_NOT_FOUND (RFC 9370 §2.2.4)', () => {
  const run = start(
    config({
      ikeProposals: parseProposals('aes256gcm16-prfsha384-x25519-ke1_mlkem768', 'ike'),
    }),
  );
  assert.equal(run.session.state, 'established');
  const outs = run.session.handle(
    {
      kind: 'datagram',
      data: run.resp.strayFollowup(),
      from: { address: '198.51.100.10', port: 4500 },
    },
    run.now + 5000,
  );
  const send = outs.find((o): o is Extract<IkeOutput, { kind: 'send' }> => o.kind === 'send');
  assert.ok(send);
  const inner = run.resp.decryptForTest(send.data);
  assert.ok(inner.some((p) => 'notifyType' in p && p.notifyType === NotifyType.STATE_NOT_FOUND));
  assert.equal(run.session.state, 'established');
});

test('ML-KEM-768 alone as the IKE_SA_INIT key exchange (the draft allows it): no IKE_INTERMEDIATE, up', () => {
  const cfg = config({ ikeProposals: parseProposals('aes256gcm16-prfsha256-mlkem768', 'ike') });
  const run = start(cfg);
  const up = established(run.events);
  assert.ok(up, closedEvent(run)?.error?.message);
  assert.equal(up.info.ikeProposal, 'aes256gcm16-prfsha256-mlkem768');
  const init = decodeMessage(run.sent[0]!).payloads;
  const ke = init.find((p) => p.type === PayloadType.KE);
  assert.ok(
    ke && 'data' in ke && ke.data.length === 1184,
    'the KE payload carries the 1184-byte key',
  );
  assert.equal(run.resp.intermediates.length, 0);
});
