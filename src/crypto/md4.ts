/**
 * MD4 (RFC 1320), in TypeScript because Node 20's OpenSSL 3 only offers it through the legacy
 * provider. Used only where MS-CHAPv2 requires it (NtPasswordHash, RFC 2759 §8.3); MD4 is broken
 * as a general-purpose hash and must not be used for anything else.
 */

/** RFC 1320 §3.1-3.3: the initial buffer A, B, C, D (words stored low-order byte first). */
const INIT = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476] as const;

/** RFC 1320 §3.4: round 2 and round 3 additive constants (sqrt 2 and sqrt 3, 2^30 scaled). */
const K2 = 0x5a827999;
const K3 = 0x6ed9eba1;

/** Per-round shift amounts (RFC 1320 §3.4, [abcd k s] steps). */
const S1 = [3, 7, 11, 19] as const;
const S2 = [3, 5, 9, 13] as const;
const S3 = [3, 9, 11, 15] as const;
/** Round 3 word order: 0 8 4 12 2 10 6 14 1 9 5 13 3 11 7 15. */
const R3_ORDER = [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15] as const;

const rotl = (x: number, s: number): number => ((x << s) | (x >>> (32 - s))) >>> 0;

/** RFC 1320 §3.4 auxiliary functions F, G, H. */
const F = (x: number, y: number, z: number): number => (x & y) | (~x & z);
const G = (x: number, y: number, z: number): number => (x & y) | (x & z) | (y & z);
const H = (x: number, y: number, z: number): number => x ^ y ^ z;

/** Processes one 16-word block X into the state (RFC 1320 §3.4). */
function compress(state: Uint32Array, X: Uint32Array): void {
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;

  // Round 1: [abcd k s] a = (a + F(b,c,d) + X[k]) <<< s, k = 0..15 in order.
  for (let i = 0; i < 16; i++) {
    const t = rotl((a + F(b, c, d) + X[i]!) >>> 0, S1[i % 4]!);
    a = d;
    d = c;
    c = b;
    b = t;
  }
  // Round 2: a = (a + G(b,c,d) + X[k] + 5A827999) <<< s, k = 0 4 8 12 1 5 9 13 ...
  for (let i = 0; i < 16; i++) {
    const k = (i % 4) * 4 + Math.floor(i / 4);
    const t = rotl((a + G(b, c, d) + X[k]! + K2) >>> 0, S2[i % 4]!);
    a = d;
    d = c;
    c = b;
    b = t;
  }
  // Round 3: a = (a + H(b,c,d) + X[k] + 6ED9EBA1) <<< s.
  for (let i = 0; i < 16; i++) {
    const t = rotl((a + H(b, c, d) + X[R3_ORDER[i]!]! + K3) >>> 0, S3[i % 4]!);
    a = d;
    d = c;
    c = b;
    b = t;
  }

  state[0] = (state[0]! + a) >>> 0;
  state[1] = (state[1]! + b) >>> 0;
  state[2] = (state[2]! + c) >>> 0;
  state[3] = (state[3]! + d) >>> 0;
}

/** The 16-byte MD4 digest of `data` (RFC 1320). */
export function md4(data: Uint8Array): Uint8Array {
  // §3.1-3.2: append 0x80, zeros to 56 mod 64, then the bit length as 64-bit little-endian.
  const padded = new Uint8Array((((data.length + 8) >>> 6) + 1) << 6);
  padded.set(data);
  padded[data.length] = 0x80;
  const view = new DataView(padded.buffer);
  const bits = data.length * 8;
  view.setUint32(padded.length - 8, bits >>> 0, true);
  view.setUint32(padded.length - 4, Math.floor(bits / 0x100000000) >>> 0, true);

  const state = Uint32Array.from(INIT);
  const X = new Uint32Array(16);
  for (let off = 0; off < padded.length; off += 64) {
    for (let j = 0; j < 16; j++) X[j] = view.getUint32(off + j * 4, true);
    compress(state, X);
  }
  // §3.5: output A, B, C, D, each low-order byte first.
  const out = new Uint8Array(16);
  const ov = new DataView(out.buffer);
  for (let j = 0; j < 4; j++) ov.setUint32(j * 4, state[j]!, true);
  return out;
}
