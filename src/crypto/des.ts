/**
 * Single DES block encryption (FIPS 46-3), in TypeScript because Node 20's OpenSSL 3 only offers
 * DES through the legacy provider. Used only where MS-CHAPv2 requires it (ChallengeResponse,
 * RFC 2759 §8.5): DES is broken as a cipher and must not be used for anything else.
 *
 * Bit numbering follows FIPS 46-3: bit 1 is the most significant bit of the first byte. The
 * tables below are the standard's, transcribed as printed (1-based bit positions).
 */

/** FIPS 46-3 "Initial Permutation IP". */
const IP = [
  58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4, 62, 54, 46, 38, 30, 22, 14, 6, 64,
  56, 48, 40, 32, 24, 16, 8, 57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3, 61, 53,
  45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7,
] as const;

/** FIPS 46-3 "Inverse Initial Permutation IP^-1". */
const FP = [
  40, 8, 48, 16, 56, 24, 64, 32, 39, 7, 47, 15, 55, 23, 63, 31, 38, 6, 46, 14, 54, 22, 62, 30, 37,
  5, 45, 13, 53, 21, 61, 29, 36, 4, 44, 12, 52, 20, 60, 28, 35, 3, 43, 11, 51, 19, 59, 27, 34, 2,
  42, 10, 50, 18, 58, 26, 33, 1, 41, 9, 49, 17, 57, 25,
] as const;

/** FIPS 46-3 "E BIT-SELECTION TABLE" (32 → 48 bits). */
const E = [
  32, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9, 8, 9, 10, 11, 12, 13, 12, 13, 14, 15, 16, 17, 16, 17, 18, 19,
  20, 21, 20, 21, 22, 23, 24, 25, 24, 25, 26, 27, 28, 29, 28, 29, 30, 31, 32, 1,
] as const;

/** FIPS 46-3 permutation function P (32 bits). */
const P = [
  16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10, 2, 8, 24, 14, 32, 27, 3, 9, 19, 13,
  30, 6, 22, 11, 4, 25,
] as const;

/** FIPS 46-3 "Permuted Choice 1" PC-1 (64 → 56 bits: C0 then D0). */
const PC1 = [
  57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18, 10, 2, 59, 51, 43, 35, 27, 19, 11, 3, 60,
  52, 44, 36, 63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22, 14, 6, 61, 53, 45, 37, 29, 21,
  13, 5, 28, 20, 12, 4,
] as const;

/** FIPS 46-3 "Permuted Choice 2" PC-2 (56 → 48 bits). */
const PC2 = [
  14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, 23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2, 41, 52,
  31, 37, 47, 55, 30, 40, 51, 45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32,
] as const;

/** FIPS 46-3 key schedule: left shifts of C and D per iteration. */
const SHIFTS = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1] as const;

/** FIPS 46-3 "Primitive Functions S1, ..., S8": each 4 rows × 16 columns. */
const SBOX: readonly (readonly number[])[] = [
  [
    14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7, 0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12, 11,
    9, 5, 3, 8, 4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0, 15, 12, 8, 2, 4, 9, 1, 7, 5,
    11, 3, 14, 10, 0, 6, 13,
  ],
  [
    15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10, 3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10,
    6, 9, 11, 5, 0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15, 13, 8, 10, 1, 3, 15, 4, 2,
    11, 6, 7, 12, 0, 5, 14, 9,
  ],
  [
    10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8, 13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14, 12,
    11, 15, 1, 13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7, 1, 10, 13, 0, 6, 9, 8, 7, 4,
    15, 14, 3, 11, 5, 2, 12,
  ],
  [
    7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15, 13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12, 1,
    10, 14, 9, 10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4, 3, 15, 0, 6, 10, 1, 13, 8, 9,
    4, 5, 11, 12, 7, 2, 14,
  ],
  [
    2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9, 14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15, 10,
    3, 9, 8, 6, 4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14, 11, 8, 12, 7, 1, 14, 2, 13, 6,
    15, 0, 9, 10, 4, 5, 3,
  ],
  [
    12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11, 10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14,
    0, 11, 3, 8, 9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6, 4, 3, 2, 12, 9, 5, 15, 10,
    11, 14, 1, 7, 6, 0, 8, 13,
  ],
  [
    4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1, 13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12,
    2, 15, 8, 6, 1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2, 6, 11, 13, 8, 1, 4, 10, 7, 9,
    5, 0, 15, 14, 2, 3, 12,
  ],
  [
    13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7, 1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11,
    0, 14, 9, 2, 7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8, 2, 1, 14, 7, 4, 10, 8, 13,
    15, 12, 9, 0, 3, 5, 6, 11,
  ],
];

/** Splits bytes into an array of bits, bit 1 (index 0) = MSB of the first byte. */
function toBits(bytes: Uint8Array): Uint8Array {
  const bits = new Uint8Array(bytes.length * 8);
  for (let i = 0; i < bits.length; i++) bits[i] = (bytes[i >>> 3]! >>> (7 - (i & 7))) & 1;
  return bits;
}

function fromBits(bits: Uint8Array): Uint8Array {
  const out = new Uint8Array(bits.length >>> 3);
  for (let i = 0; i < bits.length; i++) out[i >>> 3]! |= bits[i]! << (7 - (i & 7));
  return out;
}

/** output bit i = input bit table[i] (1-based, as the standard prints its tables). */
function permute(bits: Uint8Array, table: readonly number[]): Uint8Array {
  const out = new Uint8Array(table.length);
  for (let i = 0; i < table.length; i++) out[i] = bits[table[i]! - 1]!;
  return out;
}

function rotateLeft(half: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(half.length);
  for (let i = 0; i < half.length; i++) out[i] = half[(i + n) % half.length]!;
  return out;
}

/** FIPS 46-3 "KS": the 16 48-bit round keys K1..K16. */
function keySchedule(key: Uint8Array): Uint8Array[] {
  const cd = permute(toBits(key), PC1);
  let c = cd.subarray(0, 28);
  let d = cd.subarray(28, 56);
  const keys: Uint8Array[] = [];
  for (const s of SHIFTS) {
    c = rotateLeft(c, s);
    d = rotateLeft(d, s);
    const joined = new Uint8Array(56);
    joined.set(c, 0);
    joined.set(d, 28);
    keys.push(permute(joined, PC2));
  }
  return keys;
}

/** FIPS 46-3 cipher function f(R, K). */
function feistel(r: Uint8Array, k: Uint8Array): Uint8Array {
  const x = permute(r, E);
  for (let i = 0; i < 48; i++) x[i]! ^= k[i]!;
  const s = new Uint8Array(32);
  for (let box = 0; box < 8; box++) {
    const b = x.subarray(box * 6, box * 6 + 6);
    // Row = first and last bit, column = middle four bits.
    const row = (b[0]! << 1) | b[5]!;
    const col = (b[1]! << 3) | (b[2]! << 2) | (b[3]! << 1) | b[4]!;
    const v = SBOX[box]![row * 16 + col]!;
    for (let j = 0; j < 4; j++) s[box * 4 + j] = (v >>> (3 - j)) & 1;
  }
  return permute(s, P);
}

/**
 * Encrypts one 8-byte block with single DES in ECB mode (FIPS 46-3). The key's parity bits (the
 * low bit of each byte) are ignored, as the standard says.
 */
export function desEncryptBlock(key8: Uint8Array, block8: Uint8Array): Uint8Array {
  if (key8.length !== 8) throw new RangeError(`DES key must be 8 bytes, got ${key8.length}`);
  if (block8.length !== 8) throw new RangeError(`DES block must be 8 bytes, got ${block8.length}`);
  const keys = keySchedule(key8);
  const lr = permute(toBits(block8), IP);
  let l = lr.slice(0, 32);
  let r = lr.slice(32, 64);
  for (const k of keys) {
    const f = feistel(r, k);
    const next = new Uint8Array(32);
    for (let i = 0; i < 32; i++) next[i] = l[i]! ^ f[i]!;
    l = r;
    r = next;
  }
  // The preoutput block is R16 L16 (the halves are not swapped after the last round).
  const preoutput = new Uint8Array(64);
  preoutput.set(r, 0);
  preoutput.set(l, 32);
  return fromBits(permute(preoutput, FP));
}

/**
 * Expands a 7-byte (56-bit) key to the 8-byte DES key form by inserting a parity bit after every
 * seven key bits (RFC 2759 §8.6 DesEncrypt "MakeKey"; the same as MS-NLMP's "str_to_key"). The
 * parity bit is set for odd parity, which DES itself ignores.
 */
export function desKeyFrom56(key7: Uint8Array): Uint8Array {
  if (key7.length !== 7) throw new RangeError(`56-bit DES key must be 7 bytes, got ${key7.length}`);
  const bits = toBits(key7);
  const out = new Uint8Array(8);
  for (let i = 0; i < 8; i++) {
    let v = 0;
    let ones = 0;
    for (let j = 0; j < 7; j++) {
      const bit = bits[i * 7 + j]!;
      v = (v << 1) | bit;
      ones += bit;
    }
    out[i] = (v << 1) | (ones % 2 === 0 ? 1 : 0);
  }
  return out;
}
