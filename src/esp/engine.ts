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
import { createNativeInboundSa, createNativeOutboundSa, NativeOutboundSa } from './native.js';
import type { InboundEsp, NativeEspOptions, OutboundEsp } from './native.js';

export type { EspDrop, EspDropReason, EspSaParams } from './sa.js';

/**
 * SAs one engine holds at most, as the native data plane does (native/dataplane.c MAX_IN_SAS,
 * MAX_OUT_SAS): a gateway that rekeys without ever deleting cannot grow the maps without bound.
 */
export const MAX_INBOUND_SAS = 8;
export const MAX_OUTBOUND_SAS = 4;

interface OutEntry {
  sa: OutboundEsp;
  policy: Policy;
}

interface InEntry {
  sa: InboundEsp;
  /** Policy of the CHILD_SA this inbound SA belongs to (set with its outbound twin). */
  policy?: Policy;
}

/** Volume lifetimes of an SA (RFC 4301 §4.4.2.1): rekey after this many bytes or packets. */
export interface VolumeLimits {
  bytes?: number;
  packets?: number;
}

export interface EspEngineOptions extends VolumeLimits {
  /**
   * The native batched ESP path (src/esp/native.ts, OpenSSL EVP from the addon), for benchmarks
   * and the byte-equality tests only: off unless `enabled: true`. The tunnel never uses it: its
   * two data paths are this engine in JavaScript and the native threaded data plane, which
   * carries ESP 2-4x faster than these batches (docs/performance.md).
   */
  native?: NativeEspOptions;
}

export class EspEngine {
  private readonly limits: VolumeLimits;
  private readonly native: NativeEspOptions;
  private readonly outbound: OutEntry[] = [];
  private readonly inbound = new Map<number, InEntry>();
  private readonly drops: Record<string, number> = {};
  private packetsOut = 0;
  private bytesOut = 0;
  private packetsIn = 0;
  private bytesIn = 0;
  /**
   * SPIs of SAs that passed their soft sequence limit or a volume limit, in either direction:
   * the IKE layer should rekey their CHILD_SA.
   */
  readonly rekeyNeeded = new Set<number>();

  constructor(options: EspEngineOptions = {}) {
    this.limits = {
      ...(options.bytes !== undefined ? { bytes: options.bytes } : {}),
      ...(options.packets !== undefined ? { packets: options.packets } : {}),
    };
    this.native = options.native ?? { enabled: false };
  }

  /** Whether the SAs installed last use the native path. */
  get usesNative(): boolean {
    return this.outbound[0]?.sa instanceof NativeOutboundSa;
  }

  private overVolume(sa: { bytes: number; packets: number }): boolean {
    const l = this.limits;
    return (
      (l.bytes !== undefined && sa.bytes >= l.bytes) ||
      (l.packets !== undefined && sa.packets >= l.packets)
    );
  }

  /**
   * Installs an inbound SA (one with the same SPI is replaced).
   * @throws RangeError for a ninth inbound SA (MAX_INBOUND_SAS), as the native data plane does.
   */
  addInbound(params: EspSaParams, policy?: Policy): void {
    if (!this.inbound.has(params.spi >>> 0) && this.inbound.size >= MAX_INBOUND_SAS)
      throw new RangeError(`too many inbound SAs (at most ${MAX_INBOUND_SAS})`);
    const entry: InEntry = {
      sa: createNativeInboundSa(params, this.native) ?? new InboundSa(params),
    };
    if (policy) entry.policy = policy;
    this.inbound.set(params.spi >>> 0, entry);
  }

  removeInbound(spi: number): void {
    this.inbound.delete(spi >>> 0);
    this.rekeyNeeded.delete(spi >>> 0);
  }

  /**
   * Installs an outbound SA with its policy. The newest SA wins for sending; inbound SAs added
   * without a policy adopt this one (they belong to the same CHILD_SA). Beyond MAX_OUTBOUND_SAS
   * the oldest is evicted and wiped (it no longer sends anyway: the newest matching SA wins).
   */
  setOutbound(params: EspSaParams, policy: Policy): void {
    this.outbound.unshift({
      sa: createNativeOutboundSa(params, this.native) ?? new OutboundSa(params),
      policy,
    });
    while (this.outbound.length > MAX_OUTBOUND_SAS) this.outbound.pop()?.sa.wipe();
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
        if (e.sa.needsRekey || this.overVolume(e.sa)) this.rekeyNeeded.add(e.sa.spi);
        return r;
      }
      return this.count(r.drop);
    }
    return this.count('no-policy');
  }

  /**
   * Encapsulates a batch (one TUN wakeup): the policy lookup per packet, then one native call per
   * SA for all its packets. Results are in input order, as `encapsulate` would give them.
   */
  encapsulateBatch(ips: Uint8Array[]): (Uint8Array | EspDrop)[] {
    const out: (Uint8Array | EspDrop)[] = new Array<Uint8Array | EspDrop>(ips.length);
    const groups = new Map<OutEntry, { idx: number[]; pkts: Uint8Array[]; nh: number[] }>();
    for (let i = 0; i < ips.length; i++) {
      const ip = ips[i]!;
      const info = peekPacket(ip);
      if (!info) {
        out[i] = this.count('malformed');
        continue;
      }
      const e = this.outbound.find((x) => matchesOutbound(x.policy, info));
      if (!e) {
        out[i] = this.count('no-policy');
        continue;
      }
      let g = groups.get(e);
      if (!g) groups.set(e, (g = { idx: [], pkts: [], nh: [] }));
      g.idx.push(i);
      g.pkts.push(ip);
      g.nh.push(info.version === 4 ? NEXT_HEADER.IPV4 : NEXT_HEADER.IPV6);
    }
    for (const [e, g] of groups) {
      const sealed =
        e.sa instanceof NativeOutboundSa
          ? e.sa.sealBatch(g.pkts, g.nh)
          : g.pkts.map((p, j) => e.sa.seal(p, g.nh[j]!));
      sealed.forEach((r, j) => {
        const i = g.idx[j]!;
        if (r instanceof Uint8Array) {
          this.packetsOut++;
          this.bytesOut += g.pkts[j]!.length;
          out[i] = r;
        } else out[i] = this.count(r.drop);
      });
      if (e.sa.needsRekey || this.overVolume(e.sa)) this.rekeyNeeded.add(e.sa.spi);
    }
    return out;
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
    if (this.overVolume(entry.sa)) this.rekeyNeeded.add(spi);
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
