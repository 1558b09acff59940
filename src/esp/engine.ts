/**
 * The ESP data path the driver calls (sans-I/O): inner IP packets in, ESP packets out, and back.
 * Knows nothing of IKE: it receives plain key data and traffic selectors.
 *
 *   encapsulate: peek addresses → policy lookup (newest matching outbound SA) → seal
 *   decapsulate: SPI lookup → open (replay check, ICV, replay commit, padding) → inbound policy check
 *
 * Rekeying is make-before-break: a new outbound SA replaces the old one for sending as soon as it
 * is installed, while every installed inbound SA keeps accepting until it is removed. Every drop
 * is counted by reason; nothing here throws on packet input.
 */
import { peekPacket } from '../core/ip.js';
import { NEXT_HEADER, InboundSa, OutboundSa } from './sa.js';
import type { EspDrop, EspDropReason, EspSaParams } from './sa.js';
import { matchesInbound, matchesOutbound } from './policy.js';
import type { Policy } from './policy.js';

export type { EspDrop, EspDropReason, EspSaParams } from './sa.js';

interface OutEntry {
  sa: OutboundSa;
  policy: Policy;
}

interface InEntry {
  sa: InboundSa;
  /** Policy of the CHILD_SA this inbound SA belongs to (set with its outbound twin). */
  policy?: Policy;
}

export class EspEngine {
  private readonly outbound: OutEntry[] = [];
  private readonly inbound = new Map<number, InEntry>();
  private readonly drops: Record<string, number> = {};
  private packetsOut = 0;
  private bytesOut = 0;
  private packetsIn = 0;
  private bytesIn = 0;
  /** Outbound SA SPIs that passed their soft sequence limit (the IKE layer should rekey). */
  readonly rekeyNeeded = new Set<number>();

  addInbound(params: EspSaParams, policy?: Policy): void {
    const entry: InEntry = { sa: new InboundSa(params) };
    if (policy) entry.policy = policy;
    this.inbound.set(params.spi >>> 0, entry);
  }

  removeInbound(spi: number): void {
    this.inbound.delete(spi >>> 0);
  }

  /**
   * Installs an outbound SA with its policy. The newest SA wins for sending; inbound SAs added
   * without a policy adopt this one (they belong to the same CHILD_SA).
   */
  setOutbound(params: EspSaParams, policy: Policy): void {
    this.outbound.unshift({ sa: new OutboundSa(params), policy });
    for (const e of this.inbound.values()) e.policy ??= policy;
  }

  removeOutbound(spi: number): void {
    const i = this.outbound.findIndex((e) => e.sa.spi === spi >>> 0);
    if (i >= 0) this.outbound.splice(i, 1);
    this.rekeyNeeded.delete(spi >>> 0);
  }

  clear(): void {
    for (const e of this.outbound) e.sa.wipe();
    this.outbound.length = 0;
    this.inbound.clear();
  }

  private count(reason: EspDropReason): EspDrop {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
    return { drop: reason };
  }

  encapsulate(ip: Uint8Array): Uint8Array | EspDrop {
    const info = peekPacket(ip);
    if (!info) return this.count('malformed');
    for (const e of this.outbound) {
      if (!matchesOutbound(e.policy, info)) continue;
      const r = e.sa.seal(ip, info.version === 4 ? NEXT_HEADER.IPV4 : NEXT_HEADER.IPV6);
      if (r instanceof Uint8Array) {
        this.packetsOut++;
        this.bytesOut += ip.length;
        if (e.sa.needsRekey) this.rekeyNeeded.add(e.sa.spi);
        return r;
      }
      return this.count(r.drop);
    }
    return this.count('no-policy');
  }

  decapsulate(esp: Uint8Array): { packet: Uint8Array } | EspDrop {
    if (esp.length < 8) return this.count('malformed');
    const spi = new DataView(esp.buffer, esp.byteOffset, esp.byteLength).getUint32(0);
    const entry = this.inbound.get(spi);
    if (!entry) return this.count('no-sa');
    const r = entry.sa.open(esp);
    if ('drop' in r) return this.count(r.drop);
    const info = peekPacket(r.payload);
    if (!info || (info.version === 4) !== (r.nextHeader === NEXT_HEADER.IPV4))
      return this.count('malformed');
    // RFC 4301 §5.2: the inner packet must match the SA's selectors.
    if (entry.policy && !matchesInbound(entry.policy, info)) return this.count('no-policy');
    this.packetsIn++;
    this.bytesIn += r.payload.length;
    return { packet: r.payload };
  }

  counters(): Record<string, number> {
    return {
      packetsOut: this.packetsOut,
      bytesOut: this.bytesOut,
      packetsIn: this.packetsIn,
      bytesIn: this.bytesIn,
      ...this.drops,
    };
  }

  get inboundCount(): number {
    return this.inbound.size;
  }

  get outboundCount(): number {
    return this.outbound.length;
  }
}
