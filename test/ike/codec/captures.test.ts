/**
 * Real IKEv2 messages captured from strongSwan 5.9.8 (Debian) in the project's test bed
 * (scripts/testbed/capture-ike.sh; see test/vectors/captures/README.md) decode, pass the exchange
 * rules, and re-encode to the identical bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toHex } from '../../../src/core/bytes.js';
import {
  checkExchangeRules,
  decodeMessage,
  encodeMessage,
  filterPayloads,
  findPayload,
} from '../../../src/ike/codec/index.js';
import {
  DhGroup,
  EncrId,
  ExchangeType,
  HeaderFlag,
  NotifyType,
  PayloadType,
  PrfId,
} from '../../../src/ike/constants.js';
import { captures } from '../../support/vectors.js';

const caps = captures();

test('the strongSwan captures are present', () => {
  for (const n of [
    'ike-sa-init-req.bin',
    'ike-sa-init-resp.bin',
    'ike-auth-req.bin',
    'ike-auth-resp.bin',
  ]) {
    assert.ok(caps.has(n), n);
  }
});

for (const [name, bytes] of caps) {
  test(`capture ${name} decodes and re-encodes byte for byte`, () => {
    const m = decodeMessage(bytes);
    assert.equal(m.header.length, bytes.length);
    assert.equal(toHex(encodeMessage(m.header, m.payloads)), toHex(bytes));
    checkExchangeRules(
      m.header.exchangeType,
      (m.header.flags & HeaderFlag.RESPONSE) !== 0,
      m.payloads,
    );
  });
}

test('strongSwan IKE_SA_INIT request: the fields we expect', () => {
  const m = decodeMessage(caps.get('ike-sa-init-req.bin')!);
  assert.equal(m.header.exchangeType, ExchangeType.IKE_SA_INIT);
  assert.equal(m.header.flags, HeaderFlag.INITIATOR);
  assert.equal(m.header.messageId, 0);
  assert.ok(m.header.spiR.every((b) => b === 0));
  const sa = findPayload(m.payloads, PayloadType.SA)!;
  const t = sa.proposals[0]!.transforms;
  assert.deepEqual(
    t.map((x) => [x.type, x.id]),
    [
      [1, EncrId.AES_GCM_16],
      [2, PrfId.HMAC_SHA2_256],
      [4, DhGroup.CURVE25519],
    ],
  );
  assert.deepEqual(t[0]!.attributes, [{ type: 14, value: 256 }]);
  assert.equal(findPayload(m.payloads, PayloadType.KE)!.data.length, 32);
  const types = filterPayloads(m.payloads, PayloadType.NOTIFY).map((n) => n.notifyType);
  for (const n of [
    NotifyType.NAT_DETECTION_SOURCE_IP,
    NotifyType.NAT_DETECTION_DESTINATION_IP,
    NotifyType.IKEV2_FRAGMENTATION_SUPPORTED,
    NotifyType.SIGNATURE_HASH_ALGORITHMS,
  ]) {
    assert.ok(types.includes(n), String(n));
  }
});

test('strongSwan IKE_AUTH messages carry one SK payload', () => {
  for (const n of ['ike-auth-req.bin', 'ike-auth-resp.bin']) {
    const m = decodeMessage(caps.get(n)!);
    assert.equal(m.payloads.length, 1);
    const sk = findPayload(m.payloads, PayloadType.SK)!;
    assert.equal(sk.firstInner, PayloadType.IDi + (n.includes('resp') ? 1 : 0));
  }
});
