/**
 * IKEv1 message encryption (RFC 2408 §3.1 E flag, RFC 2409 §5.3 and Appendix B): the payload chain
 * padded to the cipher's block size and encrypted in CBC mode; the IV chain:
 *
 *  - phase 1: IV = hash(g^xi | g^xr) truncated to the block size; each later phase 1 message uses
 *    the last ciphertext block of the previous one;
 *  - a new message ID (Quick Mode, Informational, Transaction): IV = hash(last phase 1 CBC output
 *    block | M-ID) truncated; within that exchange, the last ciphertext block of the previous
 *    message.
 *
 * Ciphers: AES-CBC (Encryption Algorithm 7) and 3DES-CBC (5, --ikev1-legacy only), node:crypto.
 */
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { concatBytes, u32be } from '../../core/bytes.js';
import { CryptoError, ParseError } from '../../core/errors.js';
import { decodeV1Chain } from './payloads.js';
import type { V1Chain } from './types.js';

/** RFC 2409 Appendix A Encryption Algorithm values. */
export const V1Encr = { DES_CBC: 1, TDES_CBC: 5, AES_CBC: 7 } as const;
/** RFC 2409 Appendix A Hash Algorithm values (PRF = HMAC of it, §4). */
export const V1Hash = { MD5: 1, SHA1: 2, SHA2_256: 4, SHA2_384: 5, SHA2_512: 6 } as const;

const HASH_NAMES: Record<number, { node: string; len: number }> = {
  [V1Hash.SHA1]: { node: 'sha1', len: 20 },
  [V1Hash.SHA2_256]: { node: 'sha256', len: 32 },
  [V1Hash.SHA2_384]: { node: 'sha384', len: 48 },
  [V1Hash.SHA2_512]: { node: 'sha512', len: 64 },
};

export function v1HashSpec(hash: number): { node: string; len: number } {
  const s = HASH_NAMES[hash];
  if (!s) throw new CryptoError(`IKEv1 hash algorithm ${hash} is not supported`);
  return s;
}

export function v1Hash(hash: number, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash(v1HashSpec(hash).node).update(data).digest());
}

/** Largest padding we accept after the payload chain (RFC 2409 Appendix B; 255 like ESP). */
export const V1_MAX_PADDING = 255;

/** A CBC cipher for ISAKMP messages. */
export class V1Cipher {
  readonly blockSize: number;
  private readonly alg: string;
  private readonly key: Uint8Array;

  constructor(encr: number, key: Uint8Array) {
    if (encr === V1Encr.AES_CBC) {
      if (key.length !== 16 && key.length !== 24 && key.length !== 32)
        throw new CryptoError(`AES-CBC key of ${key.length} bytes`);
      this.alg = `aes-${key.length * 8}-cbc`;
      this.blockSize = 16;
    } else if (encr === V1Encr.TDES_CBC) {
      if (key.length !== 24) throw new CryptoError(`3DES-CBC key of ${key.length} bytes`);
      this.alg = 'des-ede3-cbc';
      this.blockSize = 8;
    } else {
      throw new CryptoError(`IKEv1 encryption algorithm ${encr} is not supported`);
    }
    this.key = key.slice();
  }

  /** Key length in bytes for an Encryption Algorithm and Key Length attribute (bits). */
  static keyLength(encr: number, keyBits?: number): number {
    if (encr === V1Encr.AES_CBC) return (keyBits ?? 128) / 8;
    if (encr === V1Encr.TDES_CBC) return 24;
    throw new CryptoError(`IKEv1 encryption algorithm ${encr} is not supported`);
  }

  /**
   * Pads the chain with zeros to a multiple of the block size (always at least one byte, as
   * strongSwan does) and encrypts it. Returns the ciphertext; its last block is the next IV.
   */
  encrypt(iv: Uint8Array, chain: Uint8Array): Uint8Array {
    if (iv.length !== this.blockSize) throw new RangeError(`IV of ${iv.length} bytes`);
    const pad = this.blockSize - (chain.length % this.blockSize);
    const plain = new Uint8Array(chain.length + pad);
    plain.set(chain);
    const c = createCipheriv(this.alg, this.key, iv).setAutoPadding(false);
    return new Uint8Array(Buffer.concat([c.update(plain), c.final()]));
  }

  /** Decrypts; the ciphertext must be a non-empty multiple of the block size. */
  decrypt(iv: Uint8Array, ciphertext: Uint8Array, offset = 28): Uint8Array {
    if (ciphertext.length === 0 || ciphertext.length % this.blockSize !== 0)
      throw new ParseError(
        'encrypted ISAKMP message',
        offset,
        `${ciphertext.length} bytes is not a multiple of the ${this.blockSize}-byte block`,
      );
    const d = createDecipheriv(this.alg, this.key, iv).setAutoPadding(false);
    return new Uint8Array(Buffer.concat([d.update(ciphertext), d.final()]));
  }

  wipe(): void {
    this.key.fill(0);
  }
}

/** The last block of a ciphertext: the IV of the next message in the same exchange. */
export function lastBlock(ciphertext: Uint8Array, blockSize: number): Uint8Array {
  return ciphertext.slice(ciphertext.length - blockSize);
}

/** RFC 2409 Appendix B: phase 1 IV = hash(g^xi | g^xr), truncated to the block size. */
export function phase1Iv(
  hash: number,
  gxi: Uint8Array,
  gxr: Uint8Array,
  blockSize: number,
): Uint8Array {
  return v1Hash(hash, concatBytes(gxi, gxr)).slice(0, blockSize);
}

/** RFC 2409 Appendix B: IV of a new message ID = hash(last phase 1 CBC block | M-ID), truncated. */
export function phase2Iv(
  hash: number,
  phase1LastBlock: Uint8Array,
  mid: number,
  blockSize: number,
): Uint8Array {
  return v1Hash(hash, concatBytes(phase1LastBlock, u32be(mid >>> 0))).slice(0, blockSize);
}

/**
 * Decrypts an encrypted message body and decodes its payload chain; the padding after the chain
 * must be shorter than V1_MAX_PADDING + 1 bytes (RFC 2409 Appendix B).
 */
export function openV1Body(
  cipher: V1Cipher,
  iv: Uint8Array,
  first: number,
  ciphertext: Uint8Array,
): { plain: Uint8Array; chain: V1Chain } {
  const plain = cipher.decrypt(iv, ciphertext);
  const chain = decodeV1Chain(first, plain, 28);
  const pad = plain.length - chain.end;
  if (pad > V1_MAX_PADDING)
    throw new ParseError('encrypted ISAKMP message', 28 + chain.end, `${pad} bytes of padding`);
  return { plain, chain };
}
