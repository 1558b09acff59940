/**
 * IKEv1 signatures (RFC 2409 §5.1, RFC 4754): RSA over the raw HASH, ECDSA without rehashing,
 * and a gateway whose ECDSA curve differs from the one the negotiated method names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createHmac, generateKeyPairSync, publicDecrypt } from 'node:crypto';
import { AuthMethodV1, authMethodFor, signV1, verifyV1 } from '../../src/ikev1/auth.js';

const hash48 = new Uint8Array(createHmac('sha384', 'k').update('HASH_R').digest());
const hash32 = new Uint8Array(createHmac('sha256', 'k').update('HASH_R').digest());

test('RSA (method 3): PKCS#1 v1.5 type 1 over HASH itself, no DigestInfo', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const sig = signV1(privateKey, AuthMethodV1.RSA_SIG, hash32);
  const raw = publicDecrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, sig);
  assert.deepEqual(new Uint8Array(raw), hash32);
  assert.deepEqual(verifyV1(publicKey, AuthMethodV1.XAUTH_INIT_RSA, hash32, sig), { ok: true });
  assert.equal(verifyV1(publicKey, 3, hash48, sig).ok, false);
});

test('ECDSA: the method follows our key; r|s of the curve size; a tampered hash fails', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  assert.equal(authMethodFor({ kind: 'pubkey', key: privateKey, certs: [] }, false), 10);
  const sig = signV1(privateKey, 10, hash48);
  assert.equal(sig.length, 96);
  assert.deepEqual(verifyV1(publicKey, 10, hash48, sig), { ok: true });
  assert.equal(verifyV1(publicKey, 10, hash32, sig).ok, false);
});

test('a P-256 gateway answering a P-384 client (method 10) verifies on its own curve (strongSwan does this)', () => {
  const gw = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  // The HASH_R of method 10 is HMAC-SHA-384 (48 bytes); the gateway signs it with P-256.
  const sig = signV1(gw.privateKey, 10, hash48);
  assert.equal(sig.length, 64);
  assert.deepEqual(verifyV1(gw.publicKey, 10, hash48, sig), { ok: true });
});
