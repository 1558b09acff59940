import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gcm } from '@noble/ciphers/aes.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { createAead, AeadId } from '../../src/crypto/aead.js';
import { fromHex, toHex, concatBytes } from '../../src/core/bytes.js';

test('AES-GCM-16 agrees with @noble/ciphers (independent implementation) for 128 and 256 bits', () => {
  for (const keyLen of [16, 32]) {
    const keymat = new Uint8Array(keyLen + 4).map((_, i) => (i * 7 + keyLen) & 0xff);
    const iv = fromHex('0001020304050607');
    const aad = fromHex('deadbeef00000001');
    const pt = new Uint8Array(100).map((_, i) => i);
    const ours = createAead(AeadId.AES_GCM_16, keymat).seal(iv, aad, pt);
    const nonce = concatBytes(keymat.subarray(keyLen), iv);
    const theirs = gcm(keymat.subarray(0, keyLen), nonce, aad).encrypt(pt);
    assert.equal(toHex(ours), toHex(theirs));
  }
});

test('ChaCha20-Poly1305 agrees with @noble/ciphers', () => {
  const keymat = new Uint8Array(36).map((_, i) => 255 - i);
  const iv = fromHex('0706050403020100');
  const aad = fromHex('0102030400000009');
  const pt = new Uint8Array(77).map((_, i) => i * 3);
  const ours = createAead(AeadId.CHACHA20_POLY1305, keymat).seal(iv, aad, pt);
  const theirs = chacha20poly1305(
    keymat.subarray(0, 32),
    concatBytes(keymat.subarray(32), iv),
    aad,
  ).encrypt(pt);
  assert.equal(toHex(ours), toHex(theirs));
});

test('open returns null, never throws, for a tampered ICV, ciphertext, AAD or a runt', () => {
  const aead = createAead(AeadId.AES_GCM_16, new Uint8Array(36).fill(9));
  const iv = new Uint8Array(8);
  const aad = fromHex('0000000100000001');
  const sealed = aead.seal(iv, aad, fromHex('00112233445566778899'));
  for (let i = 0; i < sealed.length; i++) {
    const bad = sealed.slice();
    bad[i]! ^= 0x01;
    assert.equal(aead.open(iv, aad, bad), null);
  }
  assert.equal(aead.open(iv, fromHex('0000000100000002'), sealed), null);
  assert.equal(aead.open(iv, aad, sealed.subarray(0, 10)), null);
});

test('createAead rejects wrong keymat lengths and non-AEAD IDs', () => {
  assert.throws(() => createAead(AeadId.AES_GCM_16, new Uint8Array(16)), RangeError);
  assert.throws(() => createAead(AeadId.CHACHA20_POLY1305, new Uint8Array(32)), RangeError);
  assert.throws(() => createAead(12, new Uint8Array(20)), RangeError);
});
