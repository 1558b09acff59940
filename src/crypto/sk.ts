/**
 * Protection of the Encrypted payload SK{} (RFC 7296 §3.14): AEAD per RFC 5282 (AES-GCM) and
 * RFC 7634 §3 (ChaCha20-Poly1305), or AES-CBC with an HMAC-SHA2/SHA1 ICV for older gateways.
 *
 * `aad` is everything before the IV: the IKE header and the SK generic payload header, with their
 * final length fields. For AEAD it is the additional authenticated data (RFC 5282 §5.1); for
 * CBC+HMAC the ICV covers aad ‖ IV ‖ ciphertext ("from the IKE header through the encrypted data").
 * Bodies are IV ‖ ciphertext ‖ ICV; the plaintext is inner payloads ‖ padding ‖ pad length.
 */
import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import { CryptoError } from '../core/errors.js';
import type { Random } from '../core/random.js';
import { AEAD_IV_LENGTH, AEAD_SALT_LENGTH, aeadIcvLength, createAead, isAead } from './aead.js';

export interface SkKeys {
  encr: Uint8Array;
  integ?: Uint8Array;
}

export interface SkCrypter {
  /** SK_e length in bytes (for AEAD: key ‖ 4-byte salt). */
  readonly encrKeyLength: number;
  /** SK_a length in bytes (0 for AEAD). */
  readonly integKeyLength: number;
  readonly ivLength: number;
  readonly icvLength: number;
  readonly blockSize: number;
  /** Length of the SK body for `innerLength` bytes of inner payloads. */
  bodyLength(innerLength: number): number;
  seal(keys: SkKeys, aad: Uint8Array, inner: Uint8Array, random: Random): Uint8Array;
  /** @throws CryptoError on ICV mismatch or bad padding. */
  open(keys: SkKeys, aad: Uint8Array, body: Uint8Array): Uint8Array;
}

const INTEG: Record<number, { hash: string; key: number; icv: number }> = {
  2: { hash: 'sha1', key: 20, icv: 12 }, // AUTH_HMAC_SHA1_96
  12: { hash: 'sha256', key: 32, icv: 16 }, // AUTH_HMAC_SHA2_256_128 (RFC 4868)
  13: { hash: 'sha384', key: 48, icv: 24 }, // AUTH_HMAC_SHA2_384_192
  14: { hash: 'sha512', key: 64, icv: 32 }, // AUTH_HMAC_SHA2_512_256
};

export function integKeyLength(integId: number): number {
  const s = INTEG[integId];
  if (!s) throw new CryptoError(`integrity transform ${integId} is not supported`);
  return s.key;
}

export function integIcvLength(integId: number): number {
  const s = INTEG[integId];
  if (!s) throw new CryptoError(`integrity transform ${integId} is not supported`);
  return s.icv;
}

/** Key bytes an encryption transform needs from the KDF (AEAD: plus the 4-byte salt). */
export function encrKeyLengthBytes(encrId: number, keyBits: number): number {
  if (encrId === 28) return 32 + AEAD_SALT_LENGTH;
  return keyBits / 8 + (isAead(encrId) ? AEAD_SALT_LENGTH : 0);
}

export function createSkCrypter(encrId: number, keyBits: number, integId: number): SkCrypter {
  if (isAead(encrId)) return aeadCrypter(encrId, keyBits);
  if (encrId === 12) return cbcCrypter(keyBits, integId);
  throw new CryptoError(`encryption transform ${encrId} is not supported for IKE`);
}

function aeadCrypter(encrId: number, keyBits: number): SkCrypter {
  const icv = aeadIcvLength(encrId);
  const encrKeyLength = encrKeyLengthBytes(encrId, keyBits);
  return {
    encrKeyLength,
    integKeyLength: 0,
    ivLength: AEAD_IV_LENGTH,
    icvLength: icv,
    blockSize: 1,
    // No padding is needed for GCM/ChaCha20: inner ‖ pad length (0).
    bodyLength: (n) => AEAD_IV_LENGTH + n + 1 + icv,
    seal(keys, aad, inner, random) {
      const aead = createAead(encrId, keys.encr);
      const iv = random.bytes(AEAD_IV_LENGTH);
      const pt = new Uint8Array(inner.length + 1);
      pt.set(inner);
      const ct = aead.seal(iv, aad, pt);
      const body = new Uint8Array(AEAD_IV_LENGTH + ct.length);
      body.set(iv);
      body.set(ct, AEAD_IV_LENGTH);
      return body;
    },
    open(keys, aad, body) {
      if (body.length < AEAD_IV_LENGTH + icv + 1) throw new CryptoError('SK payload too short');
      const aead = createAead(encrId, keys.encr);
      const pt = aead.open(body.subarray(0, AEAD_IV_LENGTH), aad, body.subarray(AEAD_IV_LENGTH));
      if (!pt) throw new CryptoError('SK payload ICV mismatch');
      return unpad(pt);
    },
  };
}

function unpad(pt: Uint8Array): Uint8Array {
  const padLen = pt[pt.length - 1];
  if (padLen === undefined || padLen + 1 > pt.length)
    throw new CryptoError('SK payload bad padding');
  return pt.subarray(0, pt.length - 1 - padLen);
}

function cbcCrypter(keyBits: number, integId: number): SkCrypter {
  if (keyBits !== 128 && keyBits !== 192 && keyBits !== 256)
    throw new CryptoError(`AES-CBC key of ${keyBits} bits`);
  const mac = INTEG[integId];
  if (!mac) throw new CryptoError(`integrity transform ${integId} is not supported`);
  const algorithm = `aes-${keyBits}-cbc`;
  const block = 16;
  const padded = (n: number): number => Math.ceil((n + 1) / block) * block;
  const icvOf = (key: Uint8Array, aad: Uint8Array, ivCt: Uint8Array): Uint8Array =>
    new Uint8Array(
      createHmac(mac.hash, key).update(aad).update(ivCt).digest().subarray(0, mac.icv),
    );
  return {
    encrKeyLength: keyBits / 8,
    integKeyLength: mac.key,
    ivLength: block,
    icvLength: mac.icv,
    blockSize: block,
    bodyLength: (n) => block + padded(n) + mac.icv,
    seal(keys, aad, inner, random) {
      if (!keys.integ) throw new CryptoError('AES-CBC needs an integrity key');
      const total = padded(inner.length);
      const pt = new Uint8Array(total);
      pt.set(inner);
      pt[total - 1] = total - inner.length - 1; // pad bytes are zero, then the pad length
      const iv = random.bytes(block);
      const c = createCipheriv(algorithm, keys.encr, iv);
      c.setAutoPadding(false);
      const ct = Buffer.concat([c.update(pt), c.final()]);
      const body = new Uint8Array(block + ct.length + mac.icv);
      body.set(iv);
      body.set(ct, block);
      body.set(icvOf(keys.integ, aad, body.subarray(0, block + ct.length)), block + ct.length);
      return body;
    },
    open(keys, aad, body) {
      if (!keys.integ) throw new CryptoError('AES-CBC needs an integrity key');
      const ctLen = body.length - block - mac.icv;
      if (ctLen < block || ctLen % block !== 0)
        throw new CryptoError('SK payload length is not a whole number of blocks');
      const expected = icvOf(keys.integ, aad, body.subarray(0, block + ctLen));
      const got = body.subarray(block + ctLen);
      if (!timingSafeEqual(expected, got)) throw new CryptoError('SK payload ICV mismatch');
      const d = createDecipheriv(algorithm, keys.encr, body.subarray(0, block));
      d.setAutoPadding(false);
      const pt = new Uint8Array(
        Buffer.concat([d.update(body.subarray(block, block + ctLen)), d.final()]),
      );
      return unpad(pt);
    },
  };
}
