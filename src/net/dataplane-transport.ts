/**
 * The socket edge when the native data plane runs (src/fastpath/dataplane.ts): its UDP socket
 * carries IKE and ESP-in-UDP (RFC 3948) exactly as `UdpTransport` does, but ESP never reaches
 * JavaScript — the data plane's inbound thread opens it and writes it to the TUN device, its
 * outbound thread reads the TUN device and sends ESP. What does reach us (IKE from port 500, IKE
 * behind the non-ESP marker) goes through the same demultiplexer as the node:dgram transport.
 */
import { DataPlane } from '../fastpath/dataplane.js';
import type { DataPlaneStats } from '../fastpath/dataplane.js';
import type { VolumeLimits } from '../esp/engine.js';
import type { EspSaParams } from '../esp/sa.js';
import type { Policy } from '../esp/policy.js';
import { addNonEspMarker, NAT_KEEPALIVE } from './natt.js';
import { dispatchDatagram } from './udp.js';
import type { DatagramTransport, UdpCounters, UdpEndpoint, UdpHandlers } from './udp.js';

export class DataPlaneTransport implements DatagramTransport {
  /** Datagrams JavaScript saw (IKE, and anything the data plane passed up) and send failures. */
  private readonly own: UdpCounters = { keepalivesIn: 0, invalid: 0, sendErrors: 0 };
  private peer: UdpEndpoint | undefined;
  private closed = false;

  private readonly dp: DataPlane;

  private constructor(dp: DataPlane) {
    this.dp = dp;
  }

  /**
   * Binds the data plane's socket (family of the gateway, `localPort`, 0 = ephemeral) and starts
   * its inbound thread. `onRekeyNeeded` hears of SAs past a volume or sequence-number limit.
   * @throws VpnError ERR_CONFIG when the port cannot be bound, or the addon is unavailable.
   */
  static open(
    family: 4 | 6,
    localPort: number,
    handlers: UdpHandlers & { onRekeyNeeded(spi: number): void },
    limits: VolumeLimits,
  ): DataPlaneTransport {
    const self: { t?: DataPlaneTransport } = {};
    const dp = DataPlane.open(
      family,
      localPort,
      {
        onDatagram: (data, from) => {
          const t = self.t;
          if (t && !t.closed) dispatchDatagram(data, from, handlers, t.own);
        },
        onRekeyNeeded: (spi) => handlers.onRekeyNeeded(spi),
        onError: (err) => handlers.onError(err),
      },
      limits,
    );
    self.t = new DataPlaneTransport(dp);
    return self.t;
  }

  /** Keepalives and garbage are counted by the data plane's inbound thread; the rest here. */
  get counters(): UdpCounters {
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

  /** Hands the TUN descriptor to the data plane: its outbound thread starts reading it. */
  attachTun(fd: number): void {
    this.dp.attachTun(fd);
  }

  /** Where ESP goes; follows NAT-T port floating and MOBIKE address updates. */
  setPeer(to: UdpEndpoint): void {
    if (this.peer?.address === to.address && this.peer.port === to.port) return;
    this.peer = { address: to.address, port: to.port };
    this.dp.setPeer(this.peer);
  }

  installChild(inbound: EspSaParams, outbound: EspSaParams, policy: Policy): void {
    this.dp.addInbound(inbound, policy);
    this.dp.setOutbound(outbound, policy);
  }

  removeChild(inboundSpi: number, outboundSpi: number): void {
    this.dp.removeInbound(inboundSpi);
    this.dp.removeOutbound(outboundSpi);
  }

  stats(): DataPlaneStats {
    return this.dp.stats();
  }

  sendIke(data: Uint8Array, to: UdpEndpoint, marker: boolean): void {
    this.send(marker ? addNonEspMarker(data) : data, to);
  }

  sendEsp(data: Uint8Array, to: UdpEndpoint): void {
    this.send(data, to);
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
