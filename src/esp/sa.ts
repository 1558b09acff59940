/**
 * One direction of an ESP SA (RFC 4303) with an AEAD transform (RFC 4106 AES-GCM, RFC 7634
 * ChaCha20-Poly1305), tunnel mode.
 *
 *  0                   1                   2                   3
 * |               Security Parameters Index (SPI)                 |
 * |                      Sequence Number                          |
 * |                      IV (8 bytes)                             |
 * ~                 Payload Data (the inner IP packet)            ~
 * |               |     Padding (0-255 bytes)                     |
 * |                               |  Pad Length   | Next Header   |
 * ~                 Integrity Check Value (16 bytes)              ~
 *
 * AAD = SPI ‖ Sequence Number (RFC 4106 §5, 32-bit sequence numbers); the IV is the 64-bit
 * sequence counter (RFC 4106 §3.1 / RFC 7634 §2: unique per key, a counter is allowed).
 */
import { wipe } from '../core/bytes.js';
import { createAead } from '../crypto/aead.js';
import type { Aead } from '../crypto/aead.js';
import { ReplayWindow } from './replay.js';

export const ESP_HEADER_LENGTH = 8;
export const ESP_IV_LENGTH = 8;

/**
 * Why an ESP packet was dropped, in the order of the native codes 1, 2, … of native/esp_drops.h
 * (the one list: test/esp/native.test.ts checks that this array is its ESP part).
 */
export const ESP_DROP_REASONS = [
  'malformed',
  'no-sa',
  'replay',
  'auth',
  'bad-padding',
  'bad-next-header',
  'dummy',
  'seq-exhausted',
  'no-policy',
  'too-big',
] as const;

export type EspDropReason = (typeof ESP_DROP_REASONS)[number];

export interface EspDrop {
  drop: EspDropReason;
}

export interface EspSaParams {
  spi: number;
  encrId: number;
  /** key ‖ 4-byte salt */
  keymat: Uint8Array;
  replayWindow?: number;
}

/** Next Header values (IANA protocol numbers). */
export const NEXT_HEADER = { IPV4: 4, IPV6: 41, NONE: 59 } as const;

/** Bytes ESP adds to a packet of `len` bytes: header, IV, padding to 4, trailer and ICV. */
export function espOverhead(len: number, icvLength = 16): number {
  const padded = (len + 2 + 3) & ~3;
  return ESP_HEADER_LENGTH + ESP_IV_LENGTH + padded - len + icvLength;
}

/** Sequence numbers after which the IKE layer should rekey (well before the 2^32 wrap). */
export const SEQ_SOFT_LIMIT = 0xf0000000;
const SEQ_MAX = 0xffffffff;

export class OutboundSa {
  readonly spi: number;
  private readonly aead: Aead;
  /** Last sequence number used (0 before the first packet). */
  seq = 0;
  packets = 0;
  bytes = 0;
  private readonly header = new Uint8Array(ESP_HEADER_LENGTH);
  private readonly headerView = new DataView(this.header.buffer);
  private readonly iv = new Uint8Array(ESP_IV_LENGTH);
  private readonly ivView = new DataView(this.iv.buffer);

  constructor(p: EspSaParams) {
    this.spi = p.spi >>> 0;
    this.aead = createAead(p.encrId, p.keymat);
    this.headerView.setUint32(0, this.spi);
  }

  get needsRekey(): boolean {
    return this.seq >= SEQ_SOFT_LIMIT;
  }

  /** Encapsulates one inner packet; never reuses a sequence number (RFC 4303 §3.3.3). */
  seal(payload: Uint8Array, nextHeader: number): Uint8Array | EspDrop {
    if (this.seq >= SEQ_MAX) return { drop: 'seq-exhausted' };
    const seq = ++this.seq;
    this.headerView.setUint32(4, seq);
    this.ivView.setUint32(0, 0);
    this.ivView.setUint32(4, seq);
    // RFC 4303 §2.4: pad so that pad length and next header end on a 4-byte boundary; pad bytes
    // are 1, 2, 3, ...
    const padLen = (4 - ((payload.length + 2) & 3)) & 3;
    const pt = new Uint8Array(payload.length + padLen + 2);
    pt.set(payload);
    for (let i = 0; i < padLen; i++) pt[payload.length + i] = i + 1;
    pt[pt.length - 2] = padLen;
    pt[pt.length - 1] = nextHeader;
    const sealed = this.aead.seal(this.iv, this.header, pt);
    const out = new Uint8Array(ESP_HEADER_LENGTH + ESP_IV_LENGTH + sealed.length);
    out.set(this.header);
    out.set(this.iv, ESP_HEADER_LENGTH);
    out.set(sealed, ESP_HEADER_LENGTH + ESP_IV_LENGTH);
    this.packets++;
    this.bytes += payload.length;
    return out;
  }

  /** Test hook: start the counter elsewhere (exhaustion tests). */
  setSequenceForTest(seq: number): void {
    this.seq = seq;
  }

  wipe(): void {
    wipe(this.iv);
  }
}

export class InboundSa {
  readonly spi: number;
  private readonly aead: Aead;
  readonly replay: ReplayWindow;
  packets = 0;
  bytes = 0;

  constructor(p: EspSaParams) {
    this.spi = p.spi >>> 0;
    this.aead = createAead(p.encrId, p.keymat);
    this.replay = new ReplayWindow(p.replayWindow ?? 1024);
  }

  /**
   * Decapsulates one ESP packet (RFC 4303 §3.4): length checks → replay check (no side effects)
   * → ICV verification and decryption → replay commit → padding and next header checks.
   */
  open(esp: Uint8Array): { payload: Uint8Array; nextHeader: number } | EspDrop {
    const icv = this.aead.icvLength;
    if (esp.length < ESP_HEADER_LENGTH + ESP_IV_LENGTH + 2 + icv) return { drop: 'malformed' };
    const view = new DataView(esp.buffer, esp.byteOffset, esp.byteLength);
    if (view.getUint32(0) !== this.spi) return { drop: 'no-sa' };
    const seq = view.getUint32(4);
    if (!this.replay.check(seq)) return { drop: 'replay' };
    const pt = this.aead.open(
      esp.subarray(ESP_HEADER_LENGTH, ESP_HEADER_LENGTH + ESP_IV_LENGTH),
      esp.subarray(0, ESP_HEADER_LENGTH),
      esp.subarray(ESP_HEADER_LENGTH + ESP_IV_LENGTH),
    );
    if (!pt) return { drop: 'auth' };
    this.replay.commit(seq);
    const nextHeader = pt[pt.length - 1]!;
    const padLen = pt[pt.length - 2]!;
    if (padLen + 2 > pt.length) return { drop: 'bad-padding' };
    const end = pt.length - 2 - padLen;
    // RFC 4303 §2.4: the receiver SHOULD check the monotonic padding pattern.
    for (let i = 0; i < padLen; i++) if (pt[end + i] !== i + 1) return { drop: 'bad-padding' };
    if (nextHeader === NEXT_HEADER.NONE) return { drop: 'dummy' }; // RFC 4303 §2.6 dummy packet
    if (nextHeader !== NEXT_HEADER.IPV4 && nextHeader !== NEXT_HEADER.IPV6)
      return { drop: 'bad-next-header' };
    this.packets++;
    this.bytes += end;
    return { payload: pt.subarray(0, end), nextHeader };
  }
}
