/**
 * IKEv1 keymat (RFC 2409 §5, §5.5, Appendix B) against an independent computation with
 * node:crypto's createHmac, written out step by step from the RFC text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import {
  V1Keymat,
  derivePhase1Keys,
  encryptionKey,
  hashMid,
  phase1Hash,
  qmHash2,
  qmHash3,
  quickModeKeymat,
} from '../../src/ikev1/keymat.js';
import { V1Encr, V1Hash } from '../../src/ikev1/codec/index.js';

const h = (alg: string, key: Uint8Array, ...parts: Uint8Array[]): Buffer => {
  const m = createHmac(alg, key);
  for (const p of parts) m.update(p);
  return m.digest();
};
const fill = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v);
const B = (...v: number[]): Uint8Array => Uint8Array.from(v);

const ni = fill(32, 0xa1);
const nr = fill(32, 0xb2);
const gxy = fill(256, 0xc3);
const ckyI = fill(8, 0x01);
const ckyR = fill(8, 0x02);
const psk = new TextEncoder().encode('group secret');

test('SKEYID for a pre-shared key and its derivatives (RFC 2409 §5)', () => {
  const k = derivePhase1Keys({
    hash: V1Hash.SHA2_256,
    auth: { kind: 'psk', psk },
    ni,
    nr,
    gxy,
    cookieI: ckyI,
    cookieR: ckyR,
    encr: V1Encr.AES_CBC,
    keyBits: 256,
  });
  const skeyid = h('sha256', psk, ni, nr);
  const d = h('sha256', skeyid, gxy, ckyI, ckyR, B(0));
  const a = h('sha256', skeyid, d, gxy, ckyI, ckyR, B(1));
  const e = h('sha256', skeyid, a, gxy, ckyI, ckyR, B(2));
  assert.deepEqual(Buffer.from(k.skeyid), skeyid);
  assert.deepEqual(Buffer.from(k.skeyidD), d);
  assert.deepEqual(Buffer.from(k.skeyidA), a);
  assert.deepEqual(Buffer.from(k.skeyidE), e);
  // 32-byte SKEYID_e is long enough for AES-256: Ka is SKEYID_e itself.
  assert.deepEqual(Buffer.from(k.ka), e);
});

test('SKEYID for signatures = prf(Ni_b | Nr_b, g^xy)', () => {
  const k = derivePhase1Keys({
    hash: V1Hash.SHA1,
    auth: { kind: 'sig' },
    ni,
    nr,
    gxy,
    cookieI: ckyI,
    cookieR: ckyR,
    encr: V1Encr.AES_CBC,
    keyBits: 128,
  });
  const skeyid = h('sha1', Buffer.concat([ni, nr]), gxy);
  assert.deepEqual(Buffer.from(k.skeyid), skeyid);
  // SHA-1 SKEYID_e (20 bytes) truncated to 16 for AES-128.
  const d = h('sha1', skeyid, gxy, ckyI, ckyR, B(0));
  const a = h('sha1', skeyid, d, gxy, ckyI, ckyR, B(1));
  const e = h('sha1', skeyid, a, gxy, ckyI, ckyR, B(2));
  assert.deepEqual(Buffer.from(k.ka), e.subarray(0, 16));
});

test('Appendix B: SKEYID_e expanded K1 | K2 when shorter than the key (SHA-1, AES-256 / 3DES)', () => {
  const e = fill(20, 0x5e);
  const k1 = h('sha1', e, B(0));
  const k2 = h('sha1', e, k1);
  assert.deepEqual(
    Buffer.from(encryptionKey(V1Hash.SHA1, e, 32)),
    Buffer.concat([k1, k2]).subarray(0, 32),
  );
  assert.deepEqual(
    Buffer.from(encryptionKey(V1Hash.SHA1, e, 24)),
    Buffer.concat([k1, k2]).subarray(0, 24),
  );
  assert.deepEqual(Buffer.from(encryptionKey(V1Hash.SHA1, e, 16)), Buffer.from(e.subarray(0, 16)));
});

test('HASH_I and HASH_R (RFC 2409 §5)', () => {
  const skeyid = fill(32, 9);
  const gxi = fill(64, 1);
  const gxr = fill(64, 2);
  const sai = fill(40, 3);
  const idi = fill(12, 4);
  const idr = fill(12, 5);
  assert.deepEqual(
    Buffer.from(phase1Hash(V1Hash.SHA2_256, skeyid, 'I', gxi, gxr, ckyI, ckyR, sai, idi)),
    h('sha256', skeyid, gxi, gxr, ckyI, ckyR, sai, idi),
  );
  assert.deepEqual(
    Buffer.from(phase1Hash(V1Hash.SHA2_256, skeyid, 'R', gxi, gxr, ckyI, ckyR, sai, idr)),
    h('sha256', skeyid, gxr, gxi, ckyR, ckyI, sai, idr),
  );
});

test('Quick Mode HASH(1)/(2)/(3) and informational HASH (RFC 2409 §5.5, §5.7)', () => {
  const a = fill(20, 0xaa);
  const mid = 0x01020304;
  const midB = B(1, 2, 3, 4);
  const rest = fill(50, 0x33);
  assert.deepEqual(Buffer.from(hashMid(V1Hash.SHA1, a, mid, rest)), h('sha1', a, midB, rest));
  assert.deepEqual(
    Buffer.from(qmHash2(V1Hash.SHA1, a, mid, ni, rest)),
    h('sha1', a, midB, ni, rest),
  );
  assert.deepEqual(
    Buffer.from(qmHash3(V1Hash.SHA1, a, mid, ni, nr)),
    h('sha1', a, B(0), midB, ni, nr),
  );
});

test('KEYMAT with and without PFS, expanded for AES-256-GCM key + salt (RFC 2409 §5.5, RFC 4106 §8.1)', () => {
  const d = fill(32, 0xdd);
  const spi = 0xc0ffee01;
  const spiB = B(0xc0, 0xff, 0xee, 0x01);
  const seed = Buffer.concat([B(3), spiB, ni, nr]);
  const k1 = h('sha256', d, seed);
  const k2 = h('sha256', d, k1, seed);
  assert.deepEqual(
    Buffer.from(quickModeKeymat(V1Hash.SHA2_256, d, 3, spi, ni, nr, 36)),
    Buffer.concat([k1, k2]).subarray(0, 36),
  );
  const gqm = fill(32, 0x77);
  const pseed = Buffer.concat([gqm, B(3), spiB, ni, nr]);
  const p1 = h('sha256', d, pseed);
  const p2 = h('sha256', d, p1, pseed);
  assert.deepEqual(
    Buffer.from(quickModeKeymat(V1Hash.SHA2_256, d, 3, spi, ni, nr, 20, gqm)),
    p1.subarray(0, 20),
  );
  assert.deepEqual(
    Buffer.from(quickModeKeymat(V1Hash.SHA2_256, d, 3, spi, ni, nr, 40, gqm)),
    Buffer.concat([p1, p2]).subarray(0, 40),
  );
});

test('IV chain: phase 1 IV, advance on accept, per message ID IVs from the last phase 1 block', () => {
  const keys = derivePhase1Keys({
    hash: V1Hash.SHA1,
    auth: { kind: 'psk', psk },
    ni,
    nr,
    gxy,
    cookieI: ckyI,
    cookieR: ckyR,
    encr: V1Encr.AES_CBC,
    keyBits: 128,
  });
  const gxi = fill(128, 1);
  const gxr = fill(128, 2);
  const km = new V1Keymat(keys, V1Hash.SHA1, V1Hash.SHA1, V1Encr.AES_CBC, gxi, gxr);
  const iv0 = createHash('sha1').update(gxi).update(gxr).digest().subarray(0, 16);
  assert.deepEqual(Buffer.from(km.ivFor(0)), iv0);
  const ct = fill(48, 0x42);
  ct.set(fill(16, 0x99), 32);
  km.advance(0, ct);
  assert.deepEqual(km.ivFor(0), fill(16, 0x99));
  const ivMid = createHash('sha1')
    .update(fill(16, 0x99))
    .update(B(0, 0, 0, 7))
    .digest()
    .subarray(0, 16);
  assert.deepEqual(Buffer.from(km.ivFor(7)), ivMid);
  km.advance(7, fill(16, 0x10));
  assert.deepEqual(km.ivFor(7), fill(16, 0x10));
  // Another message ID still starts from the phase 1 block, not from message ID 7's chain.
  const ivMid8 = createHash('sha1')
    .update(fill(16, 0x99))
    .update(B(0, 0, 0, 8))
    .digest()
    .subarray(0, 16);
  assert.deepEqual(Buffer.from(km.ivFor(8)), ivMid8);
});
