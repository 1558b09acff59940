/**
 * IKEv2 message fragmentation (RFC 7383). Each SKF fragment is encrypted and authenticated on its
 * own (§2.6), so the session opens every fragment and hands the reassembler plaintext. The
 * reassembler bounds what a peer can make us hold (fragment count and total size).
 */
import { concatBytes } from '../../core/bytes.js';
import { MAX_IKE_MESSAGE_BYTES } from '../limits.js';

export interface OpenedFragment {
  messageId: number;
  fragmentNumber: number;
  totalFragments: number;
  /** Next Payload of fragment 1 (the first inner payload type); ignored in others. */
  firstInner: number;
  plaintext: Uint8Array;
}

export interface ReassemblyLimits {
  maxFragments: number;
  maxBytes: number;
}

/** The reassembled message is bounded like a single one (issue 11: bound what we accept). */
export const DEFAULT_REASSEMBLY_LIMITS: ReassemblyLimits = {
  maxFragments: 64,
  maxBytes: MAX_IKE_MESSAGE_BYTES,
};

export type ReassemblyResult =
  | { status: 'incomplete' }
  | { status: 'complete'; first: number; bytes: Uint8Array }
  | { status: 'rejected'; reason: string };

export class FragmentReassembler {
  private readonly limits: ReassemblyLimits;
  private messageId = -1;
  private total = 0;
  private first = 0;
  private bytes = 0;
  private readonly parts = new Map<number, Uint8Array>();

  constructor(limits: ReassemblyLimits = DEFAULT_REASSEMBLY_LIMITS) {
    this.limits = limits;
  }

  /** Adds one authenticated fragment. Duplicates are ignored; an older message's are rejected. */
  add(f: OpenedFragment): ReassemblyResult {
    if (f.totalFragments > this.limits.maxFragments) {
      return {
        status: 'rejected',
        reason: `${f.totalFragments} fragments exceed the limit of ${this.limits.maxFragments}`,
      };
    }
    if (f.fragmentNumber < 1 || f.fragmentNumber > f.totalFragments) {
      return { status: 'rejected', reason: `fragment ${f.fragmentNumber} of ${f.totalFragments}` };
    }
    if (f.messageId !== this.messageId) {
      if (this.messageId !== -1 && f.messageId < this.messageId) {
        return { status: 'rejected', reason: `fragment of older message ${f.messageId}` };
      }
      this.reset(f.messageId);
    }
    if (this.total === 0) this.total = f.totalFragments;
    else if (f.totalFragments !== this.total) {
      // §2.6.2: a different total means the sender re-fragmented (e.g. smaller PMTU): start over
      // only if the new total is larger; otherwise the fragment is stale.
      if (f.totalFragments < this.total)
        return { status: 'rejected', reason: 'inconsistent total fragments' };
      this.reset(f.messageId);
      this.total = f.totalFragments;
    }
    if (this.parts.has(f.fragmentNumber)) return { status: 'incomplete' };
    if (this.bytes + f.plaintext.length > this.limits.maxBytes) {
      this.reset(-1);
      return {
        status: 'rejected',
        reason: `reassembled message would exceed ${this.limits.maxBytes} bytes`,
      };
    }
    this.parts.set(f.fragmentNumber, f.plaintext);
    this.bytes += f.plaintext.length;
    if (f.fragmentNumber === 1) this.first = f.firstInner;
    if (this.parts.size < this.total) return { status: 'incomplete' };
    const ordered: Uint8Array[] = [];
    for (let i = 1; i <= this.total; i++) ordered.push(this.parts.get(i)!);
    const out = { status: 'complete' as const, first: this.first, bytes: concatBytes(...ordered) };
    this.reset(-1);
    return out;
  }

  private reset(messageId: number): void {
    this.messageId = messageId;
    this.total = 0;
    this.first = 0;
    this.bytes = 0;
    this.parts.clear();
  }
}

/**
 * Splits the inner payload bytes of a message into pieces of at most `maxPiece` bytes for SKF
 * fragments (RFC 7383 §2.5). The caller encrypts each piece into its own SKF payload; only fragment
 * 1 carries the first inner payload type.
 */
export function splitForFragments(inner: Uint8Array, maxPiece: number): Uint8Array[] {
  if (maxPiece < 1) throw new RangeError('"maxPiece" must be positive');
  const out: Uint8Array[] = [];
  for (let o = 0; o < inner.length; o += maxPiece)
    out.push(inner.subarray(o, Math.min(inner.length, o + maxPiece)));
  if (out.length === 0) out.push(new Uint8Array(0));
  return out;
}
