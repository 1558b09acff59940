/**
 * IKEv1 key material (RFC 2409 §5, §5.5, §5.7, Appendix B).
 *
 *   SKEYID    = prf(pre-shared-key, Ni_b | Nr_b)            (pre-shared keys)
 *             = prf(Ni_b | Nr_b, g^xy)                      (signatures)
 *   SKEYID_d  = prf(SKEYID, g^xy | CKY-I | CKY-R | 0)
 *   SKEYID_a  = prf(SKEYID, SKEYID_d | g^xy | CKY-I | CKY-R | 1)
 *   SKEYID_e  = prf(SKEYID, SKEYID_a | g^xy | CKY-I | CKY-R | 2)
 *   Ka        = SKEYID_e truncated, or K1 | K2 | ... with K1 = prf(SKEYID_e, 0), Kn = prf(SKEYID_e, Kn-1)
 *   HASH_I    = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b)
 *   HASH_R    = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b)
 *   Quick Mode HASH(1) = prf(SKEYID_a, M-ID | SA | Ni [ | KE ] [ | IDci | IDcr ])
 *              HASH(2) = prf(SKEYID_a, M-ID | Ni_b | SA | Nr [ | KE ] [ | IDci | IDcr ])
 *              HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b)
 *   Informational / Transaction HASH = prf(SKEYID_a, M-ID | payloads after HASH)
 *   KEYMAT    = K1 | K2 | ..., K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b),
 *               Kn = prf(SKEYID_d, Kn-1 | [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b)
 *
 * The prf is HMAC with the negotiated hash (RFC 2409 §4); for ECDSA authentication (RFC 4754 §3)
 * HASH_I/HASH_R use HMAC with the curve's hash instead, as strongSwan does.
 */
import { createHmac } from 'node:crypto';
import { concatBytes, u32be, wipe } from '../core/bytes.js';
import { CryptoError } from '../core/errors.js';
import { V1Cipher, lastBlock, phase1Iv, phase2Iv, v1HashSpec } from './codec/crypt.js';

/** HMAC with an IKEv1 Hash Algorithm (RFC 2409 §4: the prf when none is negotiated). */
export function v1Prf(hash: number, key: Uint8Array, ...data: Uint8Array[]): Uint8Array {
  const h = createHmac(v1HashSpec(hash).node, key);
  for (const d of data) h.update(d);
  return new Uint8Array(h.digest());
}

/** RFC 2409 Appendix B: Ka from SKEYID_e, expanded when SKEYID_e is shorter than the key. */
export function encryptionKey(hash: number, skeyidE: Uint8Array, keyLength: number): Uint8Array {
  if (skeyidE.length >= keyLength) return skeyidE.slice(0, keyLength);
  const parts: Uint8Array[] = [];
  let total = 0;
  let prev: Uint8Array = Uint8Array.of(0);
  while (total < keyLength) {
    prev = v1Prf(hash, skeyidE, prev);
    parts.push(prev);
    total += prev.length;
  }
  return concatBytes(...parts).slice(0, keyLength);
}

export interface Phase1KeyInput {
  hash: number;
  /** 'psk': SKEYID from the pre-shared key; 'sig': from the nonces and g^xy (RFC 2409 §5). */
  auth: { kind: 'psk'; psk: Uint8Array } | { kind: 'sig' };
  ni: Uint8Array;
  nr: Uint8Array;
  gxy: Uint8Array;
  cookieI: Uint8Array;
  cookieR: Uint8Array;
  encr: number;
  keyBits?: number;
}

export interface Phase1Keys {
  skeyid: Uint8Array;
  skeyidD: Uint8Array;
  skeyidA: Uint8Array;
  skeyidE: Uint8Array;
  ka: Uint8Array;
}

/** RFC 2409 §5 (SKEYID and its derivatives) and Appendix B (Ka). */
export function derivePhase1Keys(i: Phase1KeyInput): Phase1Keys {
  const nonces = concatBytes(i.ni, i.nr);
  const skeyid =
    i.auth.kind === 'psk' ? v1Prf(i.hash, i.auth.psk, nonces) : v1Prf(i.hash, nonces, i.gxy);
  const skeyidD = v1Prf(i.hash, skeyid, i.gxy, i.cookieI, i.cookieR, Uint8Array.of(0));
  const skeyidA = v1Prf(i.hash, skeyid, skeyidD, i.gxy, i.cookieI, i.cookieR, Uint8Array.of(1));
  const skeyidE = v1Prf(i.hash, skeyid, skeyidA, i.gxy, i.cookieI, i.cookieR, Uint8Array.of(2));
  const ka = encryptionKey(i.hash, skeyidE, V1Cipher.keyLength(i.encr, i.keyBits));
  return { skeyid, skeyidD, skeyidA, skeyidE, ka };
}

/** RFC 4754 §3: the prf hash of HASH_I/HASH_R for ECDSA methods 9/10/11; else the negotiated one. */
export function authHashFor(hash: number, authMethod: number): number {
  switch (authMethod) {
    case 9:
      return 4; // ECDSA with SHA-256 on P-256
    case 10:
      return 5; // SHA-384, P-384
    case 11:
      return 6; // SHA-512, P-521
    default:
      return hash;
  }
}

/** RFC 2409 §5: HASH_I (we are the initiator) or HASH_R (the responder's). */
export function phase1Hash(
  hash: number,
  skeyid: Uint8Array,
  side: 'I' | 'R',
  gxi: Uint8Array,
  gxr: Uint8Array,
  cookieI: Uint8Array,
  cookieR: Uint8Array,
  saiB: Uint8Array,
  idB: Uint8Array,
): Uint8Array {
  return side === 'I'
    ? v1Prf(hash, skeyid, gxi, gxr, cookieI, cookieR, saiB, idB)
    : v1Prf(hash, skeyid, gxr, gxi, cookieR, cookieI, saiB, idB);
}

/** RFC 2409 §5.5 Quick Mode HASH(1), and §5.7 / mode-cfg: prf(SKEYID_a, M-ID | rest). */
export function hashMid(
  hash: number,
  skeyidA: Uint8Array,
  mid: number,
  rest: Uint8Array,
): Uint8Array {
  return v1Prf(hash, skeyidA, u32be(mid >>> 0), rest);
}

/** RFC 2409 §5.5 HASH(2) = prf(SKEYID_a, M-ID | Ni_b | rest). */
export function qmHash2(
  hash: number,
  skeyidA: Uint8Array,
  mid: number,
  niB: Uint8Array,
  rest: Uint8Array,
): Uint8Array {
  return v1Prf(hash, skeyidA, u32be(mid >>> 0), niB, rest);
}

/** RFC 2409 §5.5 HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b). */
export function qmHash3(
  hash: number,
  skeyidA: Uint8Array,
  mid: number,
  niB: Uint8Array,
  nrB: Uint8Array,
): Uint8Array {
  return v1Prf(hash, skeyidA, Uint8Array.of(0), u32be(mid >>> 0), niB, nrB);
}

/**
 * RFC 2409 §5.5 KEYMAT for one direction of an IPsec SA: `spi` is the SPI of that SA (the one its
 * receiver chose), `gqm` the Quick Mode DH secret with PFS. Expanded to `length` bytes.
 */
export function quickModeKeymat(
  hash: number,
  skeyidD: Uint8Array,
  protocol: number,
  spi: number,
  niB: Uint8Array,
  nrB: Uint8Array,
  length: number,
  gqm?: Uint8Array,
): Uint8Array {
  if (length > 255 * 64) throw new CryptoError(`KEYMAT of ${length} bytes`);
  const seed = concatBytes(
    gqm ?? new Uint8Array(0),
    Uint8Array.of(protocol),
    u32be(spi >>> 0),
    niB,
    nrB,
  );
  const parts: Uint8Array[] = [];
  let total = 0;
  let prev: Uint8Array = new Uint8Array(0);
  while (total < length) {
    prev = v1Prf(hash, skeyidD, prev, seed);
    parts.push(prev);
    total += prev.length;
  }
  const out = concatBytes(...parts).slice(0, length);
  wipe(seed, ...parts);
  return out;
}

/** Most message IDs whose IV we track at once (a few exchanges in flight, bounded). */
const MAX_IVS = 16;

/**
 * The keys of one ISAKMP SA and its IV chain (RFC 2409 Appendix B). The IV of a message ID is
 * taken from the phase 1 chain when first used, and advanced only when a message was sent or a
 * received one was accepted (a forged or garbled message must not move it).
 */
export class V1Keymat {
  readonly hash: number;
  readonly authHash: number;
  readonly skeyid: Uint8Array;
  readonly skeyidD: Uint8Array;
  readonly skeyidA: Uint8Array;
  readonly cipher: V1Cipher;
  /** Phase 1 IV chain: the current IV of the phase 1 exchange, then its last CBC block. */
  private p1: Uint8Array;
  private readonly ivs = new Map<number, Uint8Array>();

  constructor(
    keys: Phase1Keys,
    hash: number,
    authHash: number,
    encr: number,
    gxi: Uint8Array,
    gxr: Uint8Array,
  ) {
    this.hash = hash;
    this.authHash = authHash;
    this.skeyid = keys.skeyid;
    this.skeyidD = keys.skeyidD;
    this.skeyidA = keys.skeyidA;
    this.cipher = new V1Cipher(encr, keys.ka);
    wipe(keys.skeyidE, keys.ka);
    this.p1 = phase1Iv(hash, gxi, gxr, this.cipher.blockSize);
  }

  /** The IV for the next message of message ID `mid` (0: phase 1). */
  ivFor(mid: number): Uint8Array {
    if (mid === 0) return this.p1;
    let iv = this.ivs.get(mid);
    if (!iv) {
      iv = phase2Iv(this.hash, this.p1, mid, this.cipher.blockSize);
      if (this.ivs.size >= MAX_IVS) {
        const oldest = this.ivs.keys().next().value;
        if (oldest !== undefined) this.ivs.delete(oldest);
      }
      this.ivs.set(mid, iv);
    }
    return iv;
  }

  /** After a message of `mid` was sent or accepted: its last ciphertext block is the next IV. */
  advance(mid: number, ciphertext: Uint8Array): void {
    const b = lastBlock(ciphertext, this.cipher.blockSize);
    if (mid === 0) this.p1 = b;
    else this.ivs.set(mid, b);
  }

  /** The exchange of `mid` is over. */
  forget(mid: number): void {
    this.ivs.delete(mid);
  }

  wipe(): void {
    wipe(this.skeyid, this.skeyidD, this.skeyidA);
    this.cipher.wipe();
  }
}
