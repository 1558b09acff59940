/**
 * ISAKMP codec (RFC 2408 §3): round trips of every payload, header checks, encrypted messages
 * with the RFC 2409 Appendix B IV chain, and a fuzz property (only ParseError, never a crash).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHash } from 'node:crypto';
import fc from 'fast-check';
import { ParseError } from '../../src/core/errors.js';
import { concatBytes } from '../../src/core/bytes.js';
import {
  V1Cipher,
  V1Encr,
  V1Hash,
  decodeV1Chain,
  decodeV1Message,
  encodeV1Chain,
  encodeV1Message,
  openV1Body,
  phase1Iv,
  phase2Iv,
} from '../../src/ikev1/codec/index.js';
import type { V1PayloadAny } from '../../src/ikev1/codec/index.js';
import { V1Exchange, V1Flag, V1Payload } from '../../src/ikev1/constants.js';

const bytes = (max = 64): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength: max });
const u8 = fc.integer({ min: 0, max: 255 });
const u16 = fc.integer({ min: 0, max: 0xffff });

export const arbV1Payload: fc.Arbitrary<V1PayloadAny> = fc
  .oneof(
    fc.record({
      kind: fc.constant('data' as const),
      type: fc.constantFrom(1, 4, 8, 9, 10, 13, 14, 20, 130),
      data: bytes(),
    }),
    fc.record({
      kind: fc.constant('id' as const),
      type: fc.constant(5 as const),
      idType: u8,
      protocol: u8,
      port: u16,
      data: bytes(),
    }),
    fc.record({
      kind: fc.constant('cert' as const),
      type: fc.constantFrom(6 as const, 7 as const),
      encoding: u8,
      data: bytes(),
    }),
    fc.record({
      kind: fc.constant('notify' as const),
      type: fc.constant(11 as const),
      doi: fc.integer({ min: 0, max: 0xffffffff }),
      protocol: u8,
      spi: bytes(16),
      notifyType: u16,
      data: bytes(),
    }),
    fc.integer({ min: 0, max: 8 }).chain((spiSize) =>
      fc.record({
        kind: fc.constant('delete' as const),
        type: fc.constant(12 as const),
        doi: fc.constant(1),
        protocol: u8,
        spiSize: fc.constant(spiSize),
        spis: fc.array(fc.uint8Array({ minLength: spiSize, maxLength: spiSize }), { maxLength: 6 }),
      }),
    ),
    fc.record({
      kind: fc.constant('natoa' as const),
      type: fc.constantFrom(21 as const, 131 as const),
      idType: u8,
      address: fc.oneof(
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
      ),
    }),
    fc.record({
      kind: fc.constant('unknown' as const),
      type: fc.constantFrom(15, 16, 99, 132, 200),
      body: bytes(),
    }),
  )
  .map((p) => ({ ...p }));

test('every payload kind survives encode → decode → encode byte-identically', () => {
  fc.assert(
    fc.property(fc.array(arbV1Payload, { maxLength: 8 }), (payloads) => {
      const { first, bytes } = encodeV1Chain(payloads);
      const chain = decodeV1Chain(first, bytes);
      assert.equal(chain.end, bytes.length);
      assert.deepEqual(chain.payloads, payloads);
      assert.deepEqual(encodeV1Chain(chain.payloads).bytes, bytes);
      assert.equal(chain.spans.length, payloads.length);
    }),
    { numRuns: 300 },
  );
});

test('a plain message round-trips, with the header fields as sent', () => {
  const cookieI = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
  const payloads: V1PayloadAny[] = [
    { kind: 'data', type: V1Payload.SA, data: Uint8Array.of(0, 0, 0, 1, 0, 0, 0, 1) },
    { kind: 'data', type: V1Payload.VENDOR_ID, data: new Uint8Array(16).fill(7) },
  ];
  const { first, bytes } = encodeV1Chain(payloads);
  const msg = encodeV1Message(
    {
      cookieI,
      cookieR: new Uint8Array(8),
      exchangeType: V1Exchange.MAIN_MODE,
      flags: 0,
      messageId: 0,
    },
    first,
    bytes,
  );
  const m = decodeV1Message(msg);
  assert.equal(m.header.version, 0x10);
  assert.equal(m.header.exchangeType, 2);
  assert.equal(m.header.nextPayload, V1Payload.SA);
  assert.equal(m.header.length, msg.length);
  assert.deepEqual(m.header.cookieI, cookieI);
  assert.deepEqual(m.chain?.payloads, payloads);
});

test('header checks: IKEv2 version, bad lengths and trailing bytes are ParseErrors', () => {
  const { first, bytes } = encodeV1Chain([{ kind: 'data', type: 10, data: new Uint8Array(16) }]);
  const msg = encodeV1Message(
    {
      cookieI: new Uint8Array(8),
      cookieR: new Uint8Array(8),
      exchangeType: 2,
      flags: 0,
      messageId: 0,
    },
    first,
    bytes,
  );
  const v2 = msg.slice();
  v2[17] = 0x20;
  assert.throws(() => decodeV1Message(v2), /major version 2, expected 1/);
  const short = msg.slice();
  short[27] = 27;
  assert.throws(() => decodeV1Message(short), ParseError);
  assert.throws(() => decodeV1Message(concatBytes(msg, Uint8Array.of(0))), ParseError);
  const badPayloadLen = msg.slice();
  badPayloadLen[31] = 2; // payload length 2 < 4
  assert.throws(() => decodeV1Message(badPayloadLen), /length 2 < 4/);
  // A DELETE whose SPI count does not match its length.
  const del = encodeV1Chain([
    { kind: 'delete', type: 12, doi: 1, protocol: 3, spiSize: 4, spis: [new Uint8Array(4)] },
  ]).bytes;
  del[11] = 2;
  assert.throws(() => decodeV1Chain(12, del), /2 SPIs of 4 bytes/);
});

test('payload count is bounded', () => {
  const many = Array.from({ length: 65 }, () => ({
    kind: 'data' as const,
    type: 13,
    data: new Uint8Array(0),
  }));
  const { bytes } = encodeV1Chain(many);
  assert.throws(() => decodeV1Chain(13, bytes), /more than 64 payloads/);
});

test('RFC 2409 Appendix B IVs: phase 1 = hash(g^xi | g^xr), phase 2 = hash(last block | M-ID)', () => {
  const gxi = new Uint8Array(256).fill(1);
  const gxr = new Uint8Array(256).fill(2);
  const expect1 = createHash('sha256').update(gxi).update(gxr).digest().subarray(0, 16);
  assert.deepEqual(phase1Iv(V1Hash.SHA2_256, gxi, gxr, 16), new Uint8Array(expect1));
  const last = new Uint8Array(16).fill(9);
  const expect2 = createHash('sha1')
    .update(last)
    .update(Buffer.from([0xde, 0xad, 0xbe, 0xef]))
    .digest()
    .subarray(0, 8);
  assert.deepEqual(phase2Iv(V1Hash.SHA1, last, 0xdeadbeef, 8), new Uint8Array(expect2));
});

test('AES-CBC and 3DES-CBC: zero padding, decrypt → chain, padding bounded', () => {
  for (const [encr, key, bs] of [
    [V1Encr.AES_CBC, new Uint8Array(32).fill(3), 16],
    [V1Encr.AES_CBC, new Uint8Array(16).fill(4), 16],
    [V1Encr.TDES_CBC, Uint8Array.from({ length: 24 }, (_, i) => i * 7 + 1), 8],
  ] as const) {
    const c = new V1Cipher(encr, key);
    assert.equal(c.blockSize, bs);
    const iv = new Uint8Array(bs).fill(5);
    const payloads: V1PayloadAny[] = [
      { kind: 'data', type: V1Payload.HASH, data: new Uint8Array(20).fill(1) },
      {
        kind: 'notify',
        type: 11,
        doi: 1,
        protocol: 1,
        spi: new Uint8Array(16),
        notifyType: 24578,
        data: new Uint8Array(0),
      },
    ];
    const { first, bytes } = encodeV1Chain(payloads);
    const ct = c.encrypt(iv, bytes);
    assert.equal(ct.length % bs, 0);
    assert.ok(ct.length > bytes.length, 'at least one byte of padding');
    // Independent check of the cipher: node:crypto directly.
    const alg = encr === V1Encr.TDES_CBC ? 'des-ede3-cbc' : `aes-${key.length * 8}-cbc`;
    const padded = new Uint8Array(ct.length);
    padded.set(bytes);
    const ref = createCipheriv(alg, key, iv).setAutoPadding(false);
    assert.deepEqual(ct, new Uint8Array(Buffer.concat([ref.update(padded), ref.final()])));
    const { chain } = openV1Body(c, iv, first, ct);
    assert.deepEqual(chain.payloads, payloads);
    // Not a multiple of the block size.
    assert.throws(() => openV1Body(c, iv, first, ct.subarray(1)), ParseError);
    // More than 255 bytes of padding after the chain is refused.
    const big = c.encrypt(iv, concatBytes(bytes, new Uint8Array(300)));
    assert.throws(() => openV1Body(c, iv, first, big), /bytes of padding/);
  }
});

test('fuzz: the decoders and decryption only ever throw ParseError', () => {
  const c = new V1Cipher(V1Encr.AES_CBC, new Uint8Array(16));
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), u8, (input, first) => {
      for (const f of [
        () => decodeV1Message(input),
        () => decodeV1Chain(first, input),
        () => openV1Body(c, new Uint8Array(16), first, input),
      ]) {
        try {
          f();
        } catch (e) {
          if (!(e instanceof ParseError)) throw e;
        }
      }
    }),
    { numRuns: 3000 },
  );
});

test('an encrypted message keeps its flags and body for the caller to decrypt', () => {
  const c = new V1Cipher(V1Encr.AES_CBC, new Uint8Array(16).fill(1));
  const { first, bytes } = encodeV1Chain([{ kind: 'data', type: 8, data: new Uint8Array(32) }]);
  const ct = c.encrypt(new Uint8Array(16), bytes);
  const msg = encodeV1Message(
    {
      cookieI: new Uint8Array(8).fill(1),
      cookieR: new Uint8Array(8).fill(2),
      exchangeType: V1Exchange.QUICK_MODE,
      flags: V1Flag.ENCRYPTION,
      messageId: 7,
    },
    first,
    ct,
  );
  const m = decodeV1Message(msg);
  assert.equal(m.chain, undefined);
  assert.deepEqual(m.body, ct);
  assert.equal(m.header.messageId, 7);
});
