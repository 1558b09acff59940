/** Randomness, injected into the core (nonces, SPIs, DH private keys) so tests can seed it. */
export interface Random {
  bytes(n: number): Uint8Array;
}

/**
 * Deterministic generator for tests and reproducible transcripts (NOT for production):
 * a xorshift128+ stream seeded from a number. Production uses node:crypto's randomBytes
 * (wired at the edge, in client/).
 */
export class SeededRandom implements Random {
  private s0: bigint;
  private s1: bigint;
  constructor(seed: number) {
    this.s0 = BigInt(seed >>> 0) * 0x9e3779b97f4a7c15n + 1n;
    this.s1 = (this.s0 ^ 0xdeadbeefcafebaben) & 0xffffffffffffffffn;
    for (let i = 0; i < 8; i++) this.next();
  }
  private next(): bigint {
    const M = 0xffffffffffffffffn;
    let x = this.s0;
    const y = this.s1;
    this.s0 = y;
    x ^= (x << 23n) & M;
    this.s1 = x ^ y ^ (x >> 17n) ^ (y >> 26n);
    return (this.s1 + y) & M;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 8) {
      let v = this.next();
      for (let j = 0; j < 8 && i + j < n; j++) {
        out[i + j] = Number(v & 0xffn);
        v >>= 8n;
      }
    }
    return out;
  }
}
