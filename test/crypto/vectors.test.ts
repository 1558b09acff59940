/**
 * Known-answer tests. Sources (see test/vectors/README.md):
 *  - HMAC-SHA2: RFC 4231 §4.2 and §4.3 (test cases 1 and 2); HMAC-SHA1: RFC 2202 §3 test case 2.
 *  - X25519: RFC 7748 §6.1 (Alice and Bob).
 *  - ECP-256: RFC 5903 §8.1.
 *  - ChaCha20-Poly1305 AEAD: RFC 8439 §2.8.2.
 *  - AES-GCM: "The Galois/Counter Mode of Operation (GCM)", McGrew & Viega, Appendix B,
 *    test cases 3, 4 (AES-128) and 16 (AES-256) — the vectors RFC 4106 implementations use; the
 *    12-byte IV splits into salt (4, the last bytes of the keymat) ‖ explicit IV (8).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { concatBytes, fromHex, toHex } from '../../src/core/bytes.js';
import type { Random } from '../../src/core/random.js';
import { prf } from '../../src/crypto/prf.js';
import { createKeyExchange } from '../../src/crypto/ke.js';
import { AeadId, createAead } from '../../src/crypto/aead.js';
import { CryptoError } from '../../src/core/errors.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

test('HMAC PRFs: RFC 4231 test cases 1 and 2, RFC 2202 test case 2', () => {
  const k1 = new Uint8Array(20).fill(0x0b);
  const d1 = utf8('Hi There');
  assert.equal(
    toHex(prf(5, k1, d1)),
    'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7',
  );
  assert.equal(
    toHex(prf(6, k1, d1)),
    'afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6',
  );
  assert.equal(
    toHex(prf(7, k1, d1)),
    '87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854',
  );
  const k2 = utf8('Jefe');
  const d2 = utf8('what do ya want for nothing?');
  assert.equal(
    toHex(prf(5, k2, d2)),
    '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
  );
  assert.equal(toHex(prf(2, k2, d2)), 'effcdf6ae5eb2fa2d27416d5f184df9c259a7c79');
});

/** A Random that hands out fixed bytes (the RFC's private keys). */
function fixed(...values: string[]): Random {
  const queue = values.map(fromHex);
  return {
    bytes(n) {
      const v = queue.shift();
      if (!v || v.length !== n) throw new Error(`test random: wanted ${n} bytes`);
      return v;
    },
  };
}

test('X25519 (group 31): RFC 7748 §6.1', () => {
  const alice = createKeyExchange(
    31,
    fixed('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'),
  );
  const bob = createKeyExchange(
    31,
    fixed('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'),
  );
  assert.equal(
    toHex(alice.publicValue),
    '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
  );
  assert.equal(
    toHex(bob.publicValue),
    'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f',
  );
  const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
  assert.equal(toHex(alice.computeSharedSecret(bob.publicValue)), shared);
  assert.equal(toHex(bob.computeSharedSecret(alice.publicValue)), shared);
});

test('X25519: a low-order point (all-zero shared secret) and a wrong length are rejected', () => {
  const ke = createKeyExchange(
    31,
    fixed('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'),
  );
  assert.throws(() => ke.computeSharedSecret(new Uint8Array(32)), CryptoError);
  assert.throws(() => ke.computeSharedSecret(new Uint8Array(31)), CryptoError);
});

test('ECP-256 (group 19): RFC 5903 §8.1, public values x ‖ y without the point prefix', () => {
  const i = createKeyExchange(
    19,
    fixed('c88f01f510d9ac3f70a292daa2316de544e9aab8afe84049c62a9c57862d1433'),
  );
  const r = createKeyExchange(
    19,
    fixed('c6ef9c5d78ae012a011164acb397ce2088685d8f06bf9be0b283ab46476bee53'),
  );
  assert.equal(
    toHex(i.publicValue),
    'dad0b65394221cf9b051e1feca5787d098dfe637fc90b9ef945d0c3772581180' +
      '5271a0461cdb8252d61f1c456fa3e59ab1f45b33accf5f58389e0577b8990bb3',
  );
  assert.equal(
    toHex(r.publicValue),
    'd12dfb5289c8d4f81208b70270398c342296970a0bccb74c736fc7554494bf63' +
      '56fbf3ca366cc23e8157854c13c58d6aac23f046ada30f8353e74f33039872ab',
  );
  const girx = 'd6840f6b42f6edafd13116e0e12565202fef8e9ece7dce03812464d04b9442de';
  assert.equal(toHex(i.computeSharedSecret(r.publicValue)), girx);
  assert.equal(toHex(r.computeSharedSecret(i.publicValue)), girx);
});

test('ECP: points off the curve, at infinity or of the wrong length are rejected', () => {
  for (const group of [19, 20, 21]) {
    const a = createKeyExchange(group, { bytes: (n) => new Uint8Array(n).fill(3) });
    const bad = a.publicValue.slice();
    bad[bad.length - 1]! ^= 1; // y no longer matches x
    assert.throws(() => a.computeSharedSecret(bad), CryptoError, `group ${group} off-curve`);
    assert.throws(
      () => a.computeSharedSecret(new Uint8Array(bad.length)),
      CryptoError,
      `group ${group} zero point`,
    );
    assert.throws(
      () => a.computeSharedSecret(bad.subarray(1)),
      CryptoError,
      `group ${group} length`,
    );
  }
});

test('every group agrees between two parties; MODP rejects 0, 1, p-1, p and wrong lengths', () => {
  let seed = 1;
  const rnd: Random = {
    bytes: (n) => new Uint8Array(n).map((_, i) => (i * 13 + seed * 7 + 1) & 0xff),
  };
  for (const group of [14, 15, 16, 19, 20, 21, 31, 32]) {
    seed++;
    const a = createKeyExchange(group, rnd);
    seed++;
    const b = createKeyExchange(group, rnd);
    assert.equal(
      toHex(a.computeSharedSecret(b.publicValue)),
      toHex(b.computeSharedSecret(a.publicValue)),
      `group ${group}`,
    );
  }
  const m = createKeyExchange(14, rnd);
  const len = m.publicValue.length;
  assert.equal(len, 256);
  const one = new Uint8Array(len);
  one[len - 1] = 1;
  const p = new Uint8Array(len).fill(0xff); // the RFC 3526 primes start and end with 64 one bits
  const pMinus1 = p.slice();
  pMinus1[len - 1] = 0xfe;
  for (const bad of [
    new Uint8Array(len),
    one,
    pMinus1,
    p,
    new Uint8Array(len - 1),
    new Uint8Array(len + 1),
  ]) {
    assert.throws(() => m.computeSharedSecret(bad), CryptoError);
  }
});

test('ChaCha20-Poly1305: RFC 8439 §2.8.2 (nonce = salt ‖ IV)', () => {
  const key = '808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f';
  const aead = createAead(AeadId.CHACHA20_POLY1305, fromHex(key + '07000000'));
  const iv = fromHex('4041424344454647');
  const aad = fromHex('50515253c0c1c2c3c4c5c6c7');
  const pt = utf8(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  );
  const expected =
    'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b' +
    '1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc' +
    '3ff4def08e4b7a9de576d26586cec64b6116' +
    '1ae10b594f09e26a7e902ecbd0600691';
  const sealed = aead.seal(iv, aad, pt);
  assert.equal(toHex(sealed), expected);
  assert.deepEqual(aead.open(iv, aad, sealed), pt);
});

test('AES-GCM-16: GCM spec test cases 3, 4 (AES-128) and 16 (AES-256)', () => {
  const p =
    'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255';
  const k128 = 'feffe9928665731c6d6a8f9467308308';
  const salt = 'cafebabe';
  const iv = fromHex('facedbaddecaf888');
  const cases = [
    {
      key: k128,
      aad: '',
      pt: p,
      ct: '42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985',
      tag: '4d5c2af327cd64a62cf35abd2ba6fab4',
    },
    {
      key: k128,
      aad: 'feedfacedeadbeeffeedfacedeadbeefabaddad2',
      pt: p.slice(0, 120),
      ct: '42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091',
      tag: '5bc94fbc3221a5db94fae95ae7121a47',
    },
    {
      key: k128 + k128,
      aad: 'feedfacedeadbeeffeedfacedeadbeefabaddad2',
      pt: p.slice(0, 120),
      ct: '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662',
      tag: '76fc6ece0f4e1768cddf8853bb2d551b',
    },
  ];
  for (const c of cases) {
    const aead = createAead(AeadId.AES_GCM_16, fromHex(c.key + salt));
    const sealed = aead.seal(iv, fromHex(c.aad), fromHex(c.pt));
    assert.equal(toHex(sealed), c.ct + c.tag);
    assert.equal(toHex(aead.open(iv, fromHex(c.aad), sealed)!), c.pt);
    const bad = sealed.slice();
    bad[0]! ^= 1;
    assert.equal(aead.open(iv, fromHex(c.aad), bad), null);
  }
  assert.equal(toHex(concatBytes(fromHex(salt), iv)), 'cafebabefacedbaddecaf888');
});
