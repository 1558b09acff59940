/**
 * The native threaded data plane as a `DataPath` (src/fastpath/dataplane.ts): its UDP socket
 * carries IKE and ESP-in-UDP (RFC 3948) exactly as node:dgram does on the JavaScript path, but
 * ESP never reaches JavaScript — the inbound thread opens it and writes it to the TUN device, the
 * outbound thread reads the TUN device and sends ESP. What does reach us (IKE from port 500, IKE
 * behind the non-ESP marker) goes through the same demultiplexer as the node:dgram transport.
 */
import type { VolumeLimits } from '../esp/engine.js';
import { nativeEspSupports } from '../esp/native.js';
import type { EspSaParams } from '../esp/sa.js';
import type { Policy } from '../esp/policy.js';
import { DataPlane, dataPlaneStatus } from '../fastpath/dataplane.js';
import type { DataPlaneStats } from '../fastpath/dataplane.js';
import type { ProposalSpec } from '../ike/sa/proposals.js';
import { addNonEspMarker, NAT_KEEPALIVE } from '../net/natt.js';
import { dispatchDatagram } from '../net/udp.js';
import type { UdpCounters, UdpEndpoint } from '../net/udp.js';
import type { TunDevice } from '../tun/tun.js';
import type { DataPath, DataPathEvents } from './datapath.js';

/** Whether the threaded plane can carry this tunnel, and why not. */
/**
 * Whether the threaded plane will carry a tunnel with these proposals once its TUN device is
 * open: the TUN device may then be opened with offloads (which only the threaded plane handles).
 */
export function nativeDataPathLikely(fastPath: boolean, espProposals: ProposalSpec[]): boolean {
  if (!fastPath) return false;
  if (!espProposals.every((p) => p.encr.every((a) => nativeEspSupports(a.id)))) return false;
  return dataPlaneStatus().available;
}

export function nativeDataPathStatus(
  fastPath: boolean,
  tun: TunDevice,
  espProposals: ProposalSpec[],
): { available: true } | { available: false; reason: string } {
  if (!fastPath) return { available: false, reason: 'turned off' };
  if (tun.fd === undefined) return { available: false, reason: 'the TUN device has no descriptor' };
  // The data plane implements the AEAD transforms; for anything else (AES-CBC with HMAC, say)
  // ESP stays on the JavaScript path.
  if (!espProposals.every((p) => p.encr.every((a) => nativeEspSupports(a.id))))
    return { available: false, reason: 'an ESP proposal it does not implement' };
  const s = dataPlaneStatus();
  return s.available ? { available: true } : { available: false, reason: s.reason };
}

export class NativeDataPath implements DataPath {
  readonly kind = 'threaded' as const;
  readonly espPath = 'threaded' as const;
  /** Datagrams JavaScript saw (IKE, and anything the data plane passed up) and send failures. */
  private readonly own: UdpCounters = { keepalivesIn: 0, invalid: 0, sendErrors: 0 };
  private peer: UdpEndpoint | undefined;
  private closed = false;
  private readonly dp: DataPlane;

  private constructor(dp: DataPlane) {
    this.dp = dp;
  }

  /**
   * Binds the data plane's socket (family of the gateway, ephemeral port), starts its inbound
   * thread and hands it the TUN descriptor (its outbound thread starts reading it).
   * @throws VpnError ERR_CONFIG when the port cannot be bound, or the addon is unavailable.
   */
  static open(
    family: 4 | 6,
    tunFd: number,
    events: DataPathEvents,
    limits: VolumeLimits,
    tunOffloads = 0,
  ): NativeDataPath {
    const self: { t?: NativeDataPath } = {};
    const handlers = {
      onIke: (data: Uint8Array, from: UdpEndpoint) => events.onIke(data, from),
      onEsp: () => undefined,
      onError: (err: Error) => events.onSocketError(err),
    };
    const dp = DataPlane.open(
      family,
      0,
      {
        onDatagram: (data, from) => {
          const t = self.t;
          if (t && !t.closed) dispatchDatagram(data, from, handlers, t.own);
        },
        onRekeyNeeded: (spi) => events.onRekeyNeeded(spi),
        // A thread of the data plane stopped (the TUN device or the socket failed).
        onError: (err) => events.onFailure(err),
      },
      limits,
    );
    self.t = new NativeDataPath(dp);
    try {
      dp.attachTun(tunFd, tunOffloads);
    } catch (e) {
      dp.close();
      throw e;
    }
    return self.t;
  }

  /** Keepalives and garbage are counted by the data plane's inbound thread; the rest here. */
  get udpCounters(): UdpCounters {
    const s = this.dp.stats();
    return {
      keepalivesIn: this.own.keepalivesIn + s.keepalivesIn,
      invalid: this.own.invalid + (s.drops['malformed'] ?? 0),
      sendErrors: this.own.sendErrors,
    };
  }

  get localPort(): number {
    return this.dp.localPort;
  }

  setPeer(to: UdpEndpoint): void {
    if (this.peer?.address === to.address && this.peer.port === to.port) return;
    this.peer = { address: to.address, port: to.port };
    this.dp.setPeer(this.peer);
  }

  /** The threads carry whatever SAs are installed; the IKE layer removes them when it must. */
  setCarrying(): void {}

  installChild(inbound: EspSaParams, outbound: EspSaParams, policy: Policy): void {
    this.dp.addInbound(inbound, policy);
    this.dp.setOutbound(outbound, policy);
  }

  removeChild(inboundSpi: number, outboundSpi: number): void {
    this.dp.removeInbound(inboundSpi);
    this.dp.removeOutbound(outboundSpi);
  }

  espInAt(now: number): number {
    const ms = this.dp.stats().msSinceEspIn;
    return ms === undefined ? 0 : now - ms;
  }

  espOutAt(now: number): number {
    const ms = this.dp.stats().msSinceEspOut;
    return ms === undefined ? 0 : now - ms;
  }

  counters(): Record<string, number> {
    const s = this.dp.stats();
    const out: Record<string, number> = {
      packetsOut: s.packetsOut,
      bytesOut: s.bytesOut,
      packetsIn: s.packetsIn,
      bytesIn: s.bytesIn,
    };
    for (const [reason, n] of Object.entries(s.drops)) if (n > 0) out[reason] = n;
    if (s.tunWriteErrors > 0) out['tunWriteErrors'] = s.tunWriteErrors;
    if (s.tunReadErrors > 0) out['tunReadErrors'] = s.tunReadErrors;
    if (s.eventsDropped > 0) out['eventsDropped'] = s.eventsDropped;
    return out;
  }

  dataplaneStats(): DataPlaneStats {
    return this.dp.stats();
  }

  sendIke(data: Uint8Array, to: UdpEndpoint, marker: boolean): void {
    this.send(marker ? addNonEspMarker(data) : data, to);
  }

  sendKeepalive(to: UdpEndpoint): void {
    this.send(NAT_KEEPALIVE, to);
  }

  private send(data: Uint8Array, to: UdpEndpoint): void {
    if (this.closed) return;
    if (!this.dp.send(data, to)) this.own.sendErrors++;
  }

  /** Stops both threads and closes the socket (before the TUN descriptor is closed). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dp.close();
  }
}
