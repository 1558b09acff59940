/**
 * IKEv2 pseudorandom functions (RFC 7296 §3.3.2 Transform Type 2, RFC 4868 for HMAC-SHA2) and
 * prf+ (RFC 7296 §2.13). HMAC comes from node:crypto.
 */
import { createHmac } from 'node:crypto';
import { CryptoError } from '../core/errors.js';

const HMAC: Record<number, { hash: string; len: number }> = {
  2: { hash: 'sha1', len: 20 }, // PRF_HMAC_SHA1
  5: { hash: 'sha256', len: 32 }, // PRF_HMAC_SHA2_256
  6: { hash: 'sha384', len: 48 }, // PRF_HMAC_SHA2_384
  7: { hash: 'sha512', len: 64 }, // PRF_HMAC_SHA2_512
};

function spec(prfId: number): { hash: string; len: number } {
  const s = HMAC[prfId];
  if (!s) throw new CryptoError(`PRF transform ${prfId} is not supported`);
  return s;
}

export function isSupportedPrf(prfId: number): boolean {
  return HMAC[prfId] !== undefined;
}

/** Output length in bytes. */
export function prfOutputLength(prfId: number): number {
  return spec(prfId).len;
}

/** Preferred key length in bytes (RFC 7296 §2.13: the output length for HMAC PRFs). */
export function prfKeyLength(prfId: number): number {
  return spec(prfId).len;
}

export function prf(prfId: number, key: Uint8Array, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac(spec(prfId).hash, key).update(data).digest());
}

/**
 * RFC 7296 §2.13: prf+ (K,S) = T1 | T2 | T3 | ...
 *   T1 = prf (K, S | 0x01), Tn = prf (K, Tn-1 | S | n); at most 255 iterations.
 */
export function prfPlus(
  prfId: number,
  key: Uint8Array,
  seed: Uint8Array,
  length: number,
): Uint8Array {
  const { hash, len } = spec(prfId);
  const n = Math.ceil(length / len);
  if (n > 255)
    throw new CryptoError(`prf+ cannot produce ${length} bytes (more than 255 iterations)`);
  const out = new Uint8Array(n * len);
  let prev = new Uint8Array(0);
  for (let i = 1; i <= n; i++) {
    const h = createHmac(hash, key);
    h.update(prev);
    h.update(seed);
    h.update(Uint8Array.of(i));
    prev = new Uint8Array(h.digest());
    out.set(prev, (i - 1) * len);
  }
  return out.subarray(0, length);
}
