/**
 * prf+, SKEYSEED/SK_*, rekeyed SKEYSEED and CHILD_SA KEYMAT, each checked against an independent
 * straight-line computation of the RFC 7296 formulas with raw node:crypto HMAC; SK payload
 * protection for every supported suite, including tampering and an AES-CBC case built by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHmac } from 'node:crypto';
import { concatBytes, toHex } from '../../src/core/bytes.js';
import { CryptoError } from '../../src/core/errors.js';
import { SeededRandom } from '../../src/core/random.js';
import { prfPlus } from '../../src/crypto/prf.js';
import { deriveChildKeys, deriveIkeKeys, deriveRekeyedIkeKeys } from '../../src/crypto/kdf.js';
import { createSkCrypter } from '../../src/crypto/sk.js';

const hmac = (alg: string, k: Uint8Array, ...d: Uint8Array[]): Uint8Array => {
  const h = createHmac(alg, k);
  for (const x of d) h.update(x);
  return new Uint8Array(h.digest());
};

/** RFC 7296 §2.13 written out independently: T1 = prf(K, S|0x01), Tn = prf(K, Tn-1|S|n). */
function naivePrfPlus(alg: string, k: Uint8Array, s: Uint8Array, len: number): Uint8Array {
  let out: Uint8Array = new Uint8Array(0);
  let t: Uint8Array = new Uint8Array(0);
  for (let n = 1; out.length < len; n++) {
    t = hmac(alg, k, t, s, Uint8Array.of(n));
    out = concatBytes(out, t);
  }
  return out.subarray(0, len);
}

const bytes = (n: number, f: number): Uint8Array =>
  new Uint8Array(n).map((_, i) => (i * f + 3) & 0xff);

test('prf+ matches the RFC 7296 §2.13 formula for every PRF and refuses > 255 blocks', () => {
  for (const [id, alg, len] of [
    [2, 'sha1', 20],
    [5, 'sha256', 32],
    [6, 'sha384', 48],
    [7, 'sha512', 64],
  ] as const) {
    for (const want of [1, len, len + 1, 7 * len + 5]) {
      assert.equal(
        toHex(prfPlus(id, bytes(32, 3), bytes(70, 5), want)),
        toHex(naivePrfPlus(alg, bytes(32, 3), bytes(70, 5), want)),
      );
    }
    assert.throws(() => prfPlus(id, bytes(8, 1), bytes(8, 1), 256 * len), CryptoError);
  }
});

test('SKEYSEED and SK_* (§2.14), rekeyed SKEYSEED (§2.18) and child KEYMAT (§2.17)', () => {
  const ni = bytes(32, 7);
  const nr = bytes(32, 11);
  const spiI = bytes(8, 13);
  const spiR = bytes(8, 17);
  const gir = bytes(32, 19);
  const k = deriveIkeKeys({
    prfId: 5,
    encrKeyLength: 36,
    integKeyLength: 0,
    ni,
    nr,
    spiI,
    spiR,
    sharedSecret: gir,
  });
  const skeyseed = hmac('sha256', concatBytes(ni, nr), gir);
  assert.equal(toHex(k.skeyseed), toHex(skeyseed));
  const km = naivePrfPlus(
    'sha256',
    skeyseed,
    concatBytes(ni, nr, spiI, spiR),
    32 + 0 + 0 + 36 + 36 + 32 + 32,
  );
  assert.equal(toHex(k.skD), toHex(km.subarray(0, 32)));
  assert.equal(k.skAi.length + k.skAr.length, 0);
  assert.equal(toHex(k.skEi), toHex(km.subarray(32, 68)));
  assert.equal(toHex(k.skEr), toHex(km.subarray(68, 104)));
  assert.equal(toHex(k.skPi), toHex(km.subarray(104, 136)));
  assert.equal(toHex(k.skPr), toHex(km.subarray(136, 168)));

  // CBC + HMAC layout: SK_ai/SK_ar come between SK_d and SK_ei.
  const c = deriveIkeKeys({
    prfId: 6,
    encrKeyLength: 32,
    integKeyLength: 48,
    ni,
    nr,
    spiI,
    spiR,
    sharedSecret: gir,
  });
  const km2 = naivePrfPlus(
    'sha384',
    hmac('sha384', concatBytes(ni, nr), gir),
    concatBytes(ni, nr, spiI, spiR),
    48 * 3 + 96 + 64,
  );
  assert.equal(
    toHex(concatBytes(c.skD, c.skAi, c.skAr, c.skEi, c.skEr, c.skPi, c.skPr)),
    toHex(km2),
  );

  const r = deriveRekeyedIkeKeys({
    prfId: 5,
    oldSkD: k.skD,
    encrKeyLength: 36,
    integKeyLength: 0,
    ni,
    nr,
    spiI,
    spiR,
    sharedSecret: gir,
  });
  assert.equal(toHex(r.skeyseed), toHex(hmac('sha256', k.skD, gir, ni, nr)));

  const ck = deriveChildKeys({
    prfId: 5,
    skD: k.skD,
    ni,
    nr,
    encrKeyLength: 36,
    integKeyLength: 0,
  });
  const ckm = naivePrfPlus('sha256', k.skD, concatBytes(ni, nr), 72);
  assert.equal(toHex(ck.encrI), toHex(ckm.subarray(0, 36)));
  assert.equal(toHex(ck.encrR), toHex(ckm.subarray(36, 72)));
  const pfs = deriveChildKeys({
    prfId: 5,
    skD: k.skD,
    ni,
    nr,
    sharedSecret: gir,
    encrKeyLength: 16,
    integKeyLength: 32,
  });
  const pkm = naivePrfPlus('sha256', k.skD, concatBytes(gir, ni, nr), 96);
  assert.equal(toHex(concatBytes(pfs.encrI, pfs.integI, pfs.encrR, pfs.integR)), toHex(pkm));
});

const suites: [string, number, number, number][] = [
  ['aes128gcm16', 20, 128, 0],
  ['aes256gcm16', 20, 256, 0],
  ['aes256gcm12', 19, 256, 0],
  ['aes128gcm8', 18, 128, 0],
  ['chacha20poly1305', 28, 256, 0],
  ['aes128-sha1', 12, 128, 2],
  ['aes256-sha256', 12, 256, 12],
  ['aes192-sha384', 12, 192, 13],
  ['aes256-sha512', 12, 256, 14],
];

for (const [name, encr, bits, integ] of suites) {
  test(`SK protection ${name}: round trip, sizes, and tampering is a CryptoError`, () => {
    const c = createSkCrypter(encr, bits, integ);
    const keys = {
      encr: bytes(c.encrKeyLength, 3),
      ...(c.integKeyLength ? { integ: bytes(c.integKeyLength, 5) } : {}),
    };
    const rnd = new SeededRandom(9);
    const aad = bytes(32, 7);
    for (const n of [0, 1, 15, 16, 17, 100]) {
      const inner = bytes(n, 9);
      const body = c.seal(keys, aad, inner, rnd);
      assert.equal(body.length, c.bodyLength(n));
      assert.equal(toHex(c.open(keys, aad, body)), toHex(inner));
    }
    const body = c.seal(keys, aad, bytes(40, 1), rnd);
    for (let i = 0; i < body.length; i += 3) {
      const bad = body.slice();
      bad[i]! ^= 0x10;
      assert.throws(() => c.open(keys, aad, bad), CryptoError, `byte ${i}`);
    }
    const badAad = aad.slice();
    badAad[3]! ^= 1;
    assert.throws(() => c.open(keys, badAad, body), CryptoError);
    assert.throws(() => c.open(keys, aad, body.subarray(0, 5)), CryptoError);
  });
}

test('SK AES-CBC-256 + HMAC-SHA2-256-128 against a hand-built body (RFC 7296 §3.14)', () => {
  const c = createSkCrypter(12, 256, 12);
  const ke = bytes(32, 3);
  const ka = bytes(32, 5);
  const aad = bytes(32, 7);
  const inner = bytes(20, 9);
  const iv = bytes(16, 11);
  const body = c.seal({ encr: ke, integ: ka }, aad, inner, { bytes: () => iv });
  // Expected: inner ‖ 11 zero pad bytes ‖ pad length 11 → 32 bytes, CBC without auto padding.
  const pt = concatBytes(inner, new Uint8Array(11), Uint8Array.of(11));
  const e = createCipheriv('aes-256-cbc', ke, iv);
  e.setAutoPadding(false);
  const ct = new Uint8Array(Buffer.concat([e.update(pt), e.final()]));
  const icv = hmac('sha256', ka, aad, iv, ct).subarray(0, 16);
  assert.equal(toHex(body), toHex(concatBytes(iv, ct, icv)));
});

test('SK: bad padding length inside a valid ICV is a CryptoError', () => {
  const c = createSkCrypter(12, 128, 12);
  const ke = bytes(16, 3);
  const ka = bytes(32, 5);
  const aad = bytes(8, 1);
  const iv = bytes(16, 2);
  const pt = new Uint8Array(16);
  pt[15] = 200; // pad length larger than the block
  const e = createCipheriv('aes-128-cbc', ke, iv);
  e.setAutoPadding(false);
  const ct = new Uint8Array(Buffer.concat([e.update(pt), e.final()]));
  const icv = hmac('sha256', ka, aad, iv, ct).subarray(0, 16);
  assert.throws(() => c.open({ encr: ke, integ: ka }, aad, concatBytes(iv, ct, icv)), /padding/);
});
