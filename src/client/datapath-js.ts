/**
 * The JavaScript data path: a node:dgram socket (or a test double) for IKE and ESP-in-UDP
 * (RFC 3948), ESP sealed and opened by the `EspEngine`, the TUN device read and written on the
 * JavaScript thread.
 *
 *   TUN read ──► EspEngine.encapsulateBatch ──► UDP send (gateway:4500)
 *   UDP recv ──► classify (keepalive / IKE / ESP) ── ESP ──► EspEngine.decapsulate ──► TUN write
 */
import { EspEngine } from '../esp/engine.js';
import type { VolumeLimits } from '../esp/engine.js';
import type { Policy } from '../esp/policy.js';
import type { EspSaParams } from '../esp/sa.js';
import type { DatagramTransport, UdpCounters, UdpEndpoint } from '../net/udp.js';
import type { TunDevice } from '../tun/tun.js';
import type { DataPath, DataPathEvents } from './datapath.js';
import type { TunnelIo } from './io.js';

export class JsDataPath implements DataPath {
  readonly kind = 'js' as const;
  private readonly engine: EspEngine;
  private readonly io: TunnelIo;
  private readonly tun: TunDevice;
  private readonly events: DataPathEvents;
  private udp: DatagramTransport | undefined;
  private peer: UdpEndpoint | undefined;
  private carrying = false;
  private lastEspIn = 0;
  private lastEspOut = 0;

  readonly espPath = 'js' as const;

  private constructor(io: TunnelIo, tun: TunDevice, events: DataPathEvents, limits: VolumeLimits) {
    this.io = io;
    this.tun = tun;
    this.events = events;
    this.engine = new EspEngine(limits);
  }

  static async open(o: {
    io: TunnelIo;
    family: 4 | 6;
    tun: TunDevice;
    limits: VolumeLimits;
    events: DataPathEvents;
  }): Promise<JsDataPath> {
    const self = new JsDataPath(o.io, o.tun, o.events, o.limits);
    self.udp = await o.io.openUdp(o.family, 0, {
      onIke: (data, from) => o.events.onIke(data, from),
      onEsp: (data) => self.onEsp(data),
      onError: (err) => o.events.onSocketError(err),
    });
    o.tun.onPackets((pkts) => self.onTunPackets(pkts));
    o.tun.onError?.((err) => o.events.onFailure(err));
    return self;
  }

  get localPort(): number {
    return this.udp?.localPort ?? 0;
  }

  get udpCounters(): UdpCounters {
    return this.udp?.counters ?? { keepalivesIn: 0, invalid: 0, sendErrors: 0 };
  }

  sendIke(data: Uint8Array, to: UdpEndpoint, marker: boolean): void {
    this.udp?.sendIke(data, to, marker);
  }

  sendKeepalive(to: UdpEndpoint): void {
    this.udp?.sendKeepalive(to);
  }

  setPeer(to: UdpEndpoint): void {
    this.peer = { address: to.address, port: to.port };
  }

  setCarrying(on: boolean): void {
    this.carrying = on;
  }

  installChild(inbound: EspSaParams, outbound: EspSaParams, policy: Policy): void {
    this.engine.addInbound(inbound);
    this.engine.setOutbound(outbound, policy);
  }

  removeChild(inboundSpi: number, outboundSpi: number): void {
    this.engine.removeInbound(inboundSpi);
    this.engine.removeOutbound(outboundSpi);
  }

  espInAt(): number {
    return this.lastEspIn;
  }

  espOutAt(): number {
    return this.lastEspOut;
  }

  counters(): Record<string, number> {
    return this.engine.counters();
  }

  private onTunPackets(pkts: Uint8Array[]): void {
    const udp = this.udp;
    const to = this.peer;
    if (!udp || !to || !this.carrying) return;
    let sent = false;
    for (const r of this.engine.encapsulateBatch(pkts)) {
      if (r instanceof Uint8Array) {
        udp.sendEsp(r, to);
        sent = true;
      }
    }
    if (sent) this.lastEspOut = this.io.now();
    // Volume limit: rekey well before the 32-bit ESP sequence number runs out (RFC 4303 §3.3.3).
    for (const spi of this.engine.rekeyNeeded) this.events.onRekeyNeeded(spi);
  }

  private onEsp(data: Uint8Array): void {
    const r = this.engine.decapsulate(data);
    if ('packet' in r) {
      this.lastEspIn = this.io.now();
      this.tun.write(r.packet);
    }
    for (const spi of this.engine.rekeyNeeded) this.events.onRekeyNeeded(spi);
  }

  close(): void {
    this.udp?.close();
    this.engine.clear();
  }
}
