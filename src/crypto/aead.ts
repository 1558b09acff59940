/**
 * AEAD transforms shared by IKE's SK payload (RFC 5282, RFC 7634 §3) and ESP (RFC 4106, RFC 7634 §2).
 *
 * Keying material is `key ‖ salt`: the last 4 bytes of the keymat for this transform are the salt
 * (RFC 4106 §8.1, RFC 5282 §7.1, RFC 7634 §2). The nonce is `salt(4) ‖ iv(8)`, and the 8-byte IV
 * travels in the packet. The ICV is 16 bytes for GCM-16 and ChaCha20-Poly1305, 12 and 8 for
 * GCM-12 and GCM-8.
 *
 * node:crypto (OpenSSL) is used here: it is synchronous, constant-time and measured ~12x faster
 * than @noble/ciphers for AES-GCM on this machine (see README "Crypto choices").
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { CipherGCMTypes, CipherChaCha20Poly1305Types } from 'node:crypto';
import { CryptoError } from '../core/errors.js';

/** IANA "Transform Type 1 - Encryption Algorithm Transform IDs" that are AEAD. */
export const AeadId = {
  AES_GCM_8: 18,
  AES_GCM_12: 19,
  AES_GCM_16: 20,
  CHACHA20_POLY1305: 28,
} as const;

export const AEAD_SALT_LENGTH = 4;
export const AEAD_IV_LENGTH = 8;

export interface Aead {
  /** IANA encryption transform ID. */
  readonly id: number;
  /** Cipher key length in bytes (without the salt). */
  readonly keyLength: number;
  /** Explicit IV carried in each packet. */
  readonly ivLength: typeof AEAD_IV_LENGTH;
  readonly icvLength: number;
  /** Encrypts `plaintext`; returns ciphertext ‖ ICV. */
  seal(iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /**
   * Decrypts `ciphertext ‖ ICV`. Returns the plaintext, or `null` if the ICV does not verify
   * (never throws on bad input: a forged packet is a value, not an exception).
   */
  open(iv: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | null;
}

/** Is this encryption transform ID one we implement as an AEAD? */
export function isAead(encrId: number): boolean {
  return (
    encrId === AeadId.AES_GCM_8 ||
    encrId === AeadId.AES_GCM_12 ||
    encrId === AeadId.AES_GCM_16 ||
    encrId === AeadId.CHACHA20_POLY1305
  );
}

/** ICV length of an AEAD transform ID. */
export function aeadIcvLength(encrId: number): number {
  switch (encrId) {
    case AeadId.AES_GCM_8:
      return 8;
    case AeadId.AES_GCM_12:
      return 12;
    case AeadId.AES_GCM_16:
    case AeadId.CHACHA20_POLY1305:
      return 16;
    default:
      throw new RangeError(`"encrId" ${encrId} is not an AEAD transform`);
  }
}

/**
 * Creates an AEAD from its transform ID and `key ‖ salt` keymat.
 * @throws RangeError if the ID is not an AEAD or the keymat length does not fit it.
 */
export function createAead(encrId: number, keymat: Uint8Array): Aead {
  const icvLength = aeadIcvLength(encrId);
  const keyLength = keymat.length - AEAD_SALT_LENGTH;
  let algorithm: CipherGCMTypes | CipherChaCha20Poly1305Types;
  if (encrId === AeadId.CHACHA20_POLY1305) {
    if (keyLength !== 32) {
      throw new RangeError(
        `"keymat" expected 36 bytes for ChaCha20-Poly1305, got ${keymat.length}`,
      );
    }
    algorithm = 'chacha20-poly1305';
  } else if (keyLength === 16) {
    algorithm = 'aes-128-gcm';
  } else if (keyLength === 24) {
    algorithm = 'aes-192-gcm';
  } else if (keyLength === 32) {
    algorithm = 'aes-256-gcm';
  } else {
    throw new RangeError(`"keymat" expected 20, 28 or 36 bytes for AES-GCM, got ${keymat.length}`);
  }
  // Copies: the caller may wipe its keymat buffer.
  const key = Buffer.from(keymat.subarray(0, keyLength));
  const nonce = Buffer.alloc(AEAD_SALT_LENGTH + AEAD_IV_LENGTH);
  nonce.set(keymat.subarray(keyLength), 0);
  const chacha = algorithm === 'chacha20-poly1305';

  function setIv(iv: Uint8Array): void {
    if (iv.length !== AEAD_IV_LENGTH) {
      throw new RangeError(`"iv" expected ${AEAD_IV_LENGTH} bytes, got ${iv.length}`);
    }
    nonce.set(iv, AEAD_SALT_LENGTH);
  }

  return {
    id: encrId,
    keyLength,
    ivLength: AEAD_IV_LENGTH,
    icvLength,
    seal(iv, aad, plaintext) {
      setIv(iv);
      const c = chacha
        ? createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: icvLength })
        : createCipheriv(algorithm as CipherGCMTypes, key, nonce, { authTagLength: icvLength });
      c.setAAD(aad, { plaintextLength: plaintext.length });
      const out = new Uint8Array(plaintext.length + icvLength);
      const n1 = copyInto(out, 0, c.update(plaintext));
      const n2 = copyInto(out, n1, c.final());
      copyInto(out, n1 + n2, c.getAuthTag());
      return out;
    },
    open(iv, aad, sealed) {
      if (sealed.length < icvLength) return null;
      setIv(iv);
      const ctLen = sealed.length - icvLength;
      const d = chacha
        ? createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: icvLength })
        : createDecipheriv(algorithm as CipherGCMTypes, key, nonce, { authTagLength: icvLength });
      d.setAuthTag(sealed.subarray(ctLen));
      d.setAAD(aad, { plaintextLength: ctLen });
      const out = new Uint8Array(ctLen);
      try {
        const n1 = copyInto(out, 0, d.update(sealed.subarray(0, ctLen)));
        copyInto(out, n1, d.final());
      } catch {
        return null;
      }
      return out;
    },
  };
}

function copyInto(dst: Uint8Array, at: number, src: Uint8Array): number {
  dst.set(src, at);
  return src.length;
}

/** Wraps a failure to create a cipher (unsupported by this OpenSSL build) as a CryptoError. */
export function assertAeadSupported(encrId: number, keyLength: number): void {
  try {
    createAead(encrId, new Uint8Array(keyLength + AEAD_SALT_LENGTH));
  } catch (e) {
    throw new CryptoError(`AEAD transform ${encrId} with ${keyLength * 8}-bit key unavailable`, {
      cause: e,
    });
  }
}
