/**
 * The native threaded data plane (native/dataplane.c, in the esp addon): two threads of its own
 * move ESP between the TUN descriptor and one UDP socket, so that no tunnel packet crosses into
 * JavaScript.
 *
 *   outbound thread: TUN read → peekPacket → newest outbound SA whose policy matches → seal →
 *                    sendmmsg (UDP GSO for runs of equal-length packets)
 *   inbound thread:  recvmmsg → classify (RFC 3948 §2) → SA by SPI → open, anti-replay
 *                    (RFC 4303 §3.4.3) → inbound policy (RFC 4301 §5.2) → TUN write
 *
 * The IKE control plane stays here, on the JavaScript thread: datagrams that are not ESP (from
 * port 500, or behind the non-ESP marker of RFC 3948 §2.2, marker included) arrive through
 * `onDatagram`, IKE goes out with `send` on the same socket, and the SAs the IKE layer negotiates
 * are installed with `setOutbound` / `addInbound`. The packets are byte for byte those of
 * src/esp/sa.ts and the drops are those of src/esp/engine.ts (test/fastpath/ checks both).
 *
 * This class creates the native SAs itself (native/esp.c `create`) and wipes them once they
 * are removed, evicted (more than 4 outbound SAs) or replaced (same inbound SPI), and on close.
 */
import { VpnError } from '../core/errors.js';
import type { VolumeLimits } from '../esp/engine.js';
import { loadNativeEsp, nativeEspStatus, nativeEspSupports } from '../esp/native.js';
import type { NativeEspAddon, NativeEspOptions } from '../esp/native.js';
import type { Policy, TrafficSelectorRange } from '../esp/policy.js';
import { ESP_DROP_REASONS } from '../esp/sa.js';
import type { EspSaParams } from '../esp/sa.js';

export interface DataPlaneEvents {
  /** A datagram for the IKE layer (from port 500, or starting with the non-ESP marker). */
  onDatagram(data: Uint8Array, from: { address: string; port: number }): void;
  /** An SA passed its soft sequence limit or a volume limit; once per installed SA. */
  onRekeyNeeded(spi: number): void;
  /** A fatal I/O error stopped one of the threads (TUN: VpnError ERR_TUN; socket: its errno). */
  onError(err: Error): void;
}

/**
 * Drop reasons of the data plane: the engine's, and its own, in the order of the native codes of
 * native/esp_drops.h (the one list: test/esp/native.test.ts checks that this array is all of it).
 */
export const DATA_PLANE_DROP_REASONS = [
  ...ESP_DROP_REASONS,
  'no-tun',
  'no-peer',
  'crypto-error',
] as const;

export type DataPlaneDropReason = (typeof DATA_PLANE_DROP_REASONS)[number];

export interface DataPlaneStats {
  packetsOut: number;
  /** Inner bytes sealed (as EspEngine counts them). */
  bytesOut: number;
  packetsIn: number;
  bytesIn: number;
  /** Milliseconds since ESP was last sent; absent: never. */
  msSinceEspOut?: number;
  /** Milliseconds since ESP last authenticated (its ICV verified); absent: never. */
  msSinceEspIn?: number;
  keepalivesIn: number;
  sendErrors: number;
  tunReadErrors: number;
  tunWriteErrors: number;
  eventsDropped: number;
  batchesOut: number;
  batchesIn: number;
  /** Packets dropped, by reason (every reason present, zeros included). */
  drops: Record<string, number>;
  /** Offloads in use (TUN offloads with IFF_VNET_HDR, UDP GRO on the socket); absent if none. */
  offloads?: TunOffloadStats;
}

/** TUN_F_* bits of linux/if_tun.h (TUNSETOFFLOAD), as `tun.open({ offload })` reports them. */
export const TUN_F = { csum: 0x01, tso4: 0x02, tso6: 0x04, uso4: 0x20, uso6: 0x40 } as const;

/**
 * Which offloads the kernel accepted, and what the threads made of them: TUN offloads (all false
 * on a plain device) and UDP GRO on the ESP socket.
 */
export interface TunOffloadStats {
  csum: boolean;
  tso4: boolean;
  tso6: boolean;
  uso4: boolean;
  uso6: boolean;
  /** TSO/USO super-packets read from the TUN device... */
  superPackets: number;
  /** ...and the MTU-sized packets they were split into (segments / superPackets per read). */
  segments: number;
  /** Inconsistent virtio headers or super-packets (dropped, counted). */
  drops: number;
  /** Inbound GRO: super-packets written to the TUN device... */
  groPackets: number;
  /** ...and the decrypted packets coalesced into them. */
  groSegments: number;
  /** Packets not coalesced because their TCP/UDP or IPv4 header checksum failed. */
  groChecksumErrors: number;
  /** UDP GRO on the ESP socket (UDP_GRO accepted). */
  udpGro: boolean;
  /** Coalesced datagrams received with UDP GRO... */
  udpGroDatagrams: number;
  /** ...and the ESP packets they held. */
  udpGroSegments: number;
  /** The device refused a GRO super-packet (EINVAL): GRO is off from then on. */
  groRefused: boolean;
}

/**
 * The slots of the native stats array (dpStats), in order: `dpStatsFields` of the addon must be
 * exactly this (checked when the addon is loaded). Slots 4 and 5 are -1 for "never".
 */
export const DATA_PLANE_STATS_FIELDS = [
  'packetsOut',
  'bytesOut',
  'packetsIn',
  'bytesIn',
  'msSinceEspOut',
  'msSinceEspIn',
  'keepalivesIn',
  'sendErrors',
  'tunReadErrors',
  'tunWriteErrors',
  'eventsDropped',
  'batchesOut',
  'batchesIn',
  // drops by reason, from here on
  ...DATA_PLANE_DROP_REASONS,
] as const;
const FIRST_DROP = 13;

/** Event kinds of the native onEvent callback. */
const EV_DATAGRAM = 1;
const EV_REKEY = 2;
const EV_FATAL = 3;

/** The data plane's exports of the esp addon (see the top of native/dataplane.c). */
export interface DataPlaneAddon extends NativeEspAddon {
  readonly dpStatsFields: readonly string[];
  dpOpen(
    family: 4 | 6,
    localPort: number,
    limits: VolumeLimits,
    onEvent: (kind: number, a: unknown, b?: unknown, c?: unknown) => void,
  ): object;
  dpLocalPort(h: object): number;
  dpSend(h: object, data: Uint8Array, address: string, port: number): number;
  dpSetPeer(h: object, address: string, port: number): void;
  dpAttachTun(h: object, fd: number, offloads?: number): void;
  dpOffloadStats?(h: object): number[];
  dpSetOutbound(h: object, sa: object, policy: Uint8Array): object | undefined;
  dpRemoveOutbound(h: object, spi: number): boolean;
  dpAddInbound(h: object, sa: object, policy: Uint8Array): object | undefined;
  dpRemoveInbound(h: object, spi: number): boolean;
  dpStats(h: object, out: Float64Array): void;
  dpClose(h: object): void;
  /** TEST ONLY: an AF_UNIX SOCK_SEQPACKET pair (non-blocking), a TUN stand-in. */
  socketpairForTests(): [number, number];
}

function isDataPlaneAddon(a: NativeEspAddon): a is DataPlaneAddon {
  return typeof (a as Partial<DataPlaneAddon>).dpOpen === 'function';
}

/** Can the data plane run here? Never throws. */
export function dataPlaneStatus(
  opts: NativeEspOptions = {},
): { available: true } | { available: false; reason: string } {
  if (process.platform !== 'linux') return { available: false, reason: 'Linux only' };
  const st = nativeEspStatus(opts);
  if (!st.available) return { available: false, reason: st.reason };
  const addon = loadNativeEsp(opts);
  if (!addon || !isDataPlaneAddon(addon)) {
    return { available: false, reason: 'the esp addon has no data plane (rebuild it)' };
  }
  const fields = addon.dpStatsFields;
  if (
    !Array.isArray(fields) ||
    fields.length !== DATA_PLANE_STATS_FIELDS.length ||
    fields.some((f, i) => f !== DATA_PLANE_STATS_FIELDS[i])
  ) {
    return { available: false, reason: 'the esp addon has another stats layout (rebuild it)' };
  }
  return { available: true };
}

/** The addon with its data plane, or undefined (see dataPlaneStatus for why). */
export function loadDataPlaneAddon(opts: NativeEspOptions = {}): DataPlaneAddon | undefined {
  if (!dataPlaneStatus(opts).available) return undefined;
  const addon = loadNativeEsp(opts);
  return addon && isDataPlaneAddon(addon) ? addon : undefined;
}

const SELECTOR_LENGTH = 40;

function checkSelector(ts: TrafficSelectorRange): void {
  const n = ts.startAddr.length;
  if ((n !== 4 && n !== 16) || ts.endAddr.length !== n) {
    throw new VpnError('ERR_ARG', 'traffic selector: addresses must both be IPv4 or both IPv6');
  }
  const port = (p: number): boolean => Number.isInteger(p) && p >= 0 && p <= 65535;
  if (!Number.isInteger(ts.protocol) || ts.protocol < 0 || ts.protocol > 255) {
    throw new VpnError('ERR_ARG', `traffic selector: bad protocol ${ts.protocol}`);
  }
  if (!port(ts.startPort) || !port(ts.endPort)) {
    throw new VpnError('ERR_ARG', `traffic selector: bad ports ${ts.startPort}-${ts.endPort}`);
  }
}

/**
 * The policy blob of native/dataplane.c: 40 bytes per selector, local ones then remote ones:
 * [0] side (0 local, 1 remote), [1] family 4|6, [2] protocol (0 any), [3] 0, [4..19] start
 * address (IPv4 in the first 4 bytes), [20..35] end address, [36..37] start port (big-endian),
 * [38..39] end port.
 * @throws VpnError ERR_ARG for a selector policy.ts could not match either (mixed families, bad
 *   protocol or ports), or more than 256 selectors.
 */
export function encodePolicy(p: Policy): Uint8Array {
  const all: [number, TrafficSelectorRange][] = [
    ...p.local.map((t): [number, TrafficSelectorRange] => [0, t]),
    ...p.remote.map((t): [number, TrafficSelectorRange] => [1, t]),
  ];
  if (all.length > 256) throw new VpnError('ERR_ARG', 'policy: more than 256 traffic selectors');
  const out = new Uint8Array(all.length * SELECTOR_LENGTH);
  all.forEach(([side, ts], i) => {
    checkSelector(ts);
    const o = i * SELECTOR_LENGTH;
    out[o] = side;
    out[o + 1] = ts.startAddr.length === 4 ? 4 : 6;
    out[o + 2] = ts.protocol;
    out.set(ts.startAddr, o + 4);
    out.set(ts.endAddr, o + 20);
    out[o + 36] = ts.startPort >> 8;
    out[o + 37] = ts.startPort & 0xff;
    out[o + 38] = ts.endPort >> 8;
    out[o + 39] = ts.endPort & 0xff;
  });
  return out;
}

function errorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export class DataPlane {
  private readonly addon: DataPlaneAddon;
  private readonly handle: object;
  private readonly statsBuf = new Float64Array(DATA_PLANE_STATS_FIELDS.length);
  /** The outbound SAs we made and installed, newest first (the native list's order). */
  private readonly outbound: { spi: number; sa: object }[] = [];
  private readonly inbound = new Map<number, object>();
  private closed = false;

  private constructor(addon: DataPlaneAddon, handle: object) {
    this.addon = addon;
    this.handle = handle;
  }

  /**
   * Binds the socket (family, `localPort`; 0 = ephemeral) and starts the inbound thread; the
   * outbound thread starts with `attachTun`. `limits`: rekey after this many bytes / packets per SA
   * (RFC 4301 §4.4.2.1), as EspEngine.
   * @throws VpnError ERR_CONFIG when the addon (or its data plane) is unavailable or the port
   *   cannot be bound.
   */
  static open(
    family: 4 | 6,
    localPort: number,
    events: DataPlaneEvents,
    limits: VolumeLimits = {},
    opts: NativeEspOptions = {},
  ): DataPlane {
    const status = dataPlaneStatus(opts);
    const addon = loadDataPlaneAddon(opts);
    if (!status.available || !addon) {
      const reason = status.available ? 'not loadable' : status.reason;
      throw new VpnError('ERR_CONFIG', `native data plane unavailable: ${reason}`);
    }
    // Events may only arrive once dpOpen has returned (the inbound thread starts inside it).
    const self: { dp?: DataPlane } = {};
    const onEvent = (kind: number, a: unknown, b?: unknown, c?: unknown): void => {
      if (!self.dp || self.dp.closed) return;
      switch (kind) {
        case EV_DATAGRAM: {
          const buf = a as Buffer;
          const data = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
          events.onDatagram(data, { address: b as string, port: c as number });
          return;
        }
        case EV_REKEY:
          events.onRekeyNeeded(a as number);
          return;
        case EV_FATAL: {
          const message = `data plane: ${String(a)}`;
          const err =
            b === 'tun'
              ? new VpnError('ERR_TUN', message)
              : Object.assign(new Error(message), { code: String(c) });
          events.onError(err);
          return;
        }
        default:
          return;
      }
    };
    const lim: VolumeLimits = {};
    if (limits.bytes !== undefined) lim.bytes = limits.bytes;
    if (limits.packets !== undefined) lim.packets = limits.packets;
    let handle: object;
    try {
      handle = addon.dpOpen(family, localPort, lim, onEvent);
    } catch (e) {
      const code = errorCode(e);
      if (code !== undefined && /^E[A-Z]+$/.test(code)) {
        throw new VpnError(
          'ERR_CONFIG',
          `cannot bind UDP port ${localPort}: ${e instanceof Error ? e.message : String(e)}`,
          { cause: e },
        );
      }
      throw e;
    }
    self.dp = new DataPlane(addon, handle);
    return self.dp;
  }

  get localPort(): number {
    return this.addon.dpLocalPort(this.handle);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sends a datagram from the data plane's socket (IKE with its marker, keepalives). */
  send(data: Uint8Array, to: { address: string; port: number }): boolean {
    if (this.closed) return false;
    return this.addon.dpSend(this.handle, data, to.address, to.port) >= 0;
  }

  /** Where ESP goes from now on (NAT-T port floating, MOBIKE). */
  setPeer(to: { address: string; port: number }): void {
    this.checkOpen();
    this.addon.dpSetPeer(this.handle, to.address, to.port);
  }

  /**
   * Starts the outbound thread on this TUN descriptor (IFF_TUN | IFF_NO_PI). The inbound thread
   * writes to it from now on. Close the descriptor only after `close`.
   */
  attachTun(fd: number, offloads = 0): void {
    this.checkOpen();
    // offloads: the TUN_F_* bits of a device opened with IFF_VNET_HDR (tun.open({offload})).
    this.addon.dpAttachTun(this.handle, fd, offloads);
  }

  /**
   * Installs an outbound SA (the newest wins among those whose policy matches a packet); of more
   * than 4 the oldest is evicted and wiped.
   * @throws VpnError ERR_CONFIG when the transform is not one the native path implements.
   */
  setOutbound(params: EspSaParams, policy: Policy): void {
    this.checkOpen();
    const blob = encodePolicy(policy);
    const spi = params.spi >>> 0;
    const sa = this.create(false, params, 0);
    let evicted: object | undefined;
    try {
      evicted = this.addon.dpSetOutbound(this.handle, sa, blob);
    } catch (e) {
      this.addon.wipe(sa);
      throw e;
    }
    this.outbound.unshift({ spi, sa });
    if (evicted) {
      const i = this.outbound.findIndex((e) => e.sa === evicted);
      if (i >= 0) this.outbound.splice(i, 1);
      this.addon.wipe(evicted);
    }
  }

  /** Removes (and wipes) the newest outbound SA with this SPI; no thread uses it any more. */
  removeOutbound(spi: number): void {
    if (this.closed) return;
    if (!this.addon.dpRemoveOutbound(this.handle, spi >>> 0)) return;
    const i = this.outbound.findIndex((e) => e.spi === spi >>> 0);
    if (i < 0) return;
    const [e] = this.outbound.splice(i, 1);
    if (e) this.addon.wipe(e.sa);
  }

  /**
   * Installs an inbound SA (found by SPI; one with the same SPI is replaced and wiped) with the
   * policy its packets must match (RFC 4301 §5.2). At most 8.
   * @throws VpnError ERR_CONFIG when the transform is not one the native path implements;
   *   RangeError for a bad keymat or replay window, or a ninth SA.
   */
  addInbound(params: EspSaParams, policy: Policy): void {
    this.checkOpen();
    const blob = encodePolicy(policy);
    const spi = params.spi >>> 0;
    const sa = this.create(true, params, params.replayWindow ?? 1024);
    let replaced: object | undefined;
    try {
      replaced = this.addon.dpAddInbound(this.handle, sa, blob);
    } catch (e) {
      this.addon.wipe(sa);
      throw e;
    }
    this.inbound.set(spi, sa);
    if (replaced) this.addon.wipe(replaced);
  }

  /** Removes (and wipes) the inbound SA with this SPI; no thread uses it any more. */
  removeInbound(spi: number): void {
    if (this.closed) return;
    if (!this.addon.dpRemoveInbound(this.handle, spi >>> 0)) return;
    const sa = this.inbound.get(spi >>> 0);
    this.inbound.delete(spi >>> 0);
    if (sa) this.addon.wipe(sa);
  }

  /** The counters (readable after close too). */
  stats(): DataPlaneStats {
    const s = this.statsBuf;
    this.addon.dpStats(this.handle, s);
    const drops: Record<string, number> = {};
    for (let i = FIRST_DROP; i < DATA_PLANE_STATS_FIELDS.length; i++) {
      drops[DATA_PLANE_STATS_FIELDS[i]!] = s[i]!;
    }
    const out: DataPlaneStats = {
      packetsOut: s[0]!,
      bytesOut: s[1]!,
      packetsIn: s[2]!,
      bytesIn: s[3]!,
      keepalivesIn: s[6]!,
      sendErrors: s[7]!,
      tunReadErrors: s[8]!,
      tunWriteErrors: s[9]!,
      eventsDropped: s[10]!,
      batchesOut: s[11]!,
      batchesIn: s[12]!,
      drops,
    };
    if (s[4]! >= 0) out.msSinceEspOut = s[4]!;
    if (s[5]! >= 0) out.msSinceEspIn = s[5]!;
    const o = this.addon.dpOffloadStats?.(this.handle);
    if (o && (o[0]! > 0 || (o[7] ?? 0) > 0)) {
      const bits = o[0]!;
      out.offloads = {
        csum: (bits & TUN_F.csum) !== 0,
        tso4: (bits & TUN_F.tso4) !== 0,
        tso6: (bits & TUN_F.tso6) !== 0,
        uso4: (bits & TUN_F.uso4) !== 0,
        uso6: (bits & TUN_F.uso6) !== 0,
        superPackets: o[1]!,
        segments: o[2]!,
        drops: o[3]!,
        groPackets: o[4] ?? 0,
        groSegments: o[5] ?? 0,
        groChecksumErrors: o[6] ?? 0,
        udpGro: (o[7] ?? 0) > 0,
        udpGroDatagrams: o[8] ?? 0,
        udpGroSegments: o[9] ?? 0,
        groRefused: (o[10] ?? 0) > 0,
      };
    }
    return out;
  }

  /**
   * Stops both threads, closes the socket (not the TUN descriptor) and wipes every SA this data
   * plane made. Idempotent; may be called from inside an event handler.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.addon.dpClose(this.handle);
    for (const e of this.outbound) this.addon.wipe(e.sa);
    for (const sa of this.inbound.values()) this.addon.wipe(sa);
    this.outbound.length = 0;
    this.inbound.clear();
  }

  private checkOpen(): void {
    if (this.closed) throw new VpnError('ERR_CONFIG', 'the data plane is closed');
  }

  private create(inbound: boolean, p: EspSaParams, replayWindow: number): object {
    if (!nativeEspSupports(p.encrId)) {
      throw new VpnError(
        'ERR_CONFIG',
        `ESP transform ${p.encrId} is not implemented by the native data plane (AES-GCM, ChaCha20-Poly1305 only)`,
      );
    }
    const sa = this.addon.create(inbound, p.encrId, p.keymat, p.spi >>> 0, replayWindow);
    if (!sa) {
      throw new VpnError(
        'ERR_CONFIG',
        `ESP transform ${p.encrId} is not available in this OpenSSL (${this.addon.opensslVersion})`,
      );
    }
    return sa;
  }
}
