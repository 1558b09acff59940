/**
 * ESP anti-replay window (RFC 4303 §3.4.3), as a bitmap of 32-bit words in the style of RFC 6479
 * so that sliding the window costs a few word clears, not a shift of the whole map.
 *
 * `check` has no side effects; `commit` is called only after the packet's ICV has verified, so a
 * forged packet can never move the window (RFC 4303 §3.4.3: "the receive window is updated only if
 * the integrity verification succeeds").
 *
 * 32-bit sequence numbers only: with ESN (RFC 4303 §2.2.1) the high half would be inferred here from
 * the window position before the ICV check.
 */
export class ReplayWindow {
  readonly size: number;
  private readonly words: Uint32Array;
  /** Highest sequence number committed so far (0 = none). */
  private top = 0;

  constructor(size = 1024) {
    if (!Number.isInteger(size) || size < 32 || size % 32 !== 0 || (size & (size - 1)) !== 0) {
      throw new RangeError(`"size" expected a power of two ≥ 32, got ${size}`);
    }
    this.size = size;
    // One extra word so the window's lowest word is never the one being cleared (RFC 6479 §2).
    this.words = new Uint32Array(size / 32 + 1);
  }

  get highest(): number {
    return this.top;
  }

  /** May a packet with this sequence number be accepted? No state changes. */
  check(seq: number): boolean {
    if (seq === 0 || seq > 0xffffffff) return false;
    if (seq > this.top) return true;
    if (this.top - seq >= this.size) return false;
    const bit = seq & 31;
    const word = (seq >>> 5) % this.words.length;
    return (this.words[word]! & (1 << bit)) === 0;
  }

  /** Marks an authenticated sequence number as received and slides the window. */
  commit(seq: number): void {
    if (!this.check(seq)) return;
    if (seq > this.top) {
      const oldWord = this.top >>> 5;
      const newWord = seq >>> 5;
      const diff = Math.min(newWord - oldWord, this.words.length);
      for (let i = 1; i <= diff; i++) this.words[(oldWord + i) % this.words.length] = 0;
      this.top = seq;
    }
    this.words[(seq >>> 5) % this.words.length]! |= 1 << (seq & 31);
  }
}
