/**
 * Group 31 (X25519, RFC 8031) now runs through node:crypto's OpenSSL (src/crypto/ke.ts): the raw
 * scalar from the injected Random goes in as an RFC 8410 PKCS#8 key. RFC 7748 §6.1's Alice and Bob,
 * and keys made by OpenSSL itself, must give the same public values and shared secrets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffieHellman, generateKeyPairSync } from 'node:crypto';
import { x25519 } from '@noble/curves/ed25519.js';
import { createKeyExchange } from '../../src/crypto/ke.js';
import { CryptoError } from '../../src/core/errors.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const fixed = (h: string) => ({
  bytes: (n: number) => new Uint8Array(Buffer.from(h, 'hex').subarray(0, n)),
});

test('X25519: RFC 7748 §6.1 Alice and Bob', () => {
  const alice = createKeyExchange(
    31,
    fixed('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'),
  );
  const bob = createKeyExchange(
    31,
    fixed('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'),
  );
  assert.equal(
    hex(alice.publicValue),
    '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
  );
  assert.equal(
    hex(bob.publicValue),
    'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f',
  );
  const k = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
  assert.equal(hex(alice.computeSharedSecret(bob.publicValue)), k);
  assert.equal(hex(bob.computeSharedSecret(alice.publicValue)), k);
});

test('X25519: the same keys and secrets as OpenSSL and @noble/curves for random scalars', () => {
  for (let i = 0; i < 20; i++) {
    const peer = generateKeyPairSync('x25519');
    const peerJwk = peer.publicKey.export({ format: 'jwk' });
    const peerPub = new Uint8Array(Buffer.from(peerJwk.x!, 'base64url'));
    const ours = generateKeyPairSync('x25519');
    const d = Buffer.from(ours.privateKey.export({ format: 'jwk' }).d!, 'base64url');
    const ke = createKeyExchange(31, { bytes: () => new Uint8Array(d) });
    assert.equal(
      hex(ke.publicValue),
      Buffer.from(ours.publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('hex'),
    );
    const want = diffieHellman({ privateKey: ours.privateKey, publicKey: peer.publicKey });
    assert.equal(hex(ke.computeSharedSecret(peerPub)), want.toString('hex'));
    assert.equal(hex(ke.computeSharedSecret(peerPub)), hex(x25519.getSharedSecret(d, peerPub)));
  }
});

test('X25519: low-order points and wrong lengths are refused', () => {
  const ke = createKeyExchange(
    31,
    fixed('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'),
  );
  assert.throws(() => ke.computeSharedSecret(new Uint8Array(32)), CryptoError);
  const one = new Uint8Array(32);
  one[0] = 1;
  assert.throws(() => ke.computeSharedSecret(one), CryptoError);
  assert.throws(() => ke.computeSharedSecret(new Uint8Array(31)), CryptoError);
});
