/**
 * The one interface the tunnel driver talks to for packets: IKE datagrams out and in, ESP SAs
 * installed and removed in pairs, liveness timestamps, counters and failure events. Two
 * implementations:
 *
 *   - `JsDataPath` (datapath-js.ts): node:dgram socket, ESP sealed and opened by the JavaScript
 *     `EspEngine`, TUN packets read and written on the JavaScript thread;
 *   - `NativeDataPath` (datapath-native.ts): the native threaded data plane, whose own threads
 *     move ESP between the TUN descriptor and its UDP socket; JavaScript sees IKE only.
 *
 * `openDataPath` picks one: the threaded plane when the addon is built, the TUN device has a
 * descriptor and every ESP proposal uses a transform it implements; else JavaScript.
 */
import type { Logger } from '../core/log.js';
import { VpnError } from '../core/errors.js';
import type { VolumeLimits } from '../esp/engine.js';
import type { Policy } from '../esp/policy.js';
import type { EspSaParams } from '../esp/sa.js';
import type { ProposalSpec } from '../ike/sa/proposals.js';
import type { UdpCounters, UdpEndpoint } from '../net/udp.js';
import type { TunDevice } from '../tun/tun.js';
import type { DataPlaneStats } from '../fastpath/dataplane.js';
import type { TunnelIo } from './io.js';
import { nativeEspStatus } from '../esp/native.js';
import { JsDataPath } from './datapath-js.js';
import { nativeDataPathStatus, NativeDataPath } from './datapath-native.js';

/** What a data path reports to the driver. */
export interface DataPathEvents {
  /** A datagram for the IKE layer (marker already stripped). */
  onIke(data: Uint8Array, from: UdpEndpoint): void;
  /** An SA passed its soft sequence limit or a volume limit (RFC 4301 §4.4.2.1). */
  onRekeyNeeded(spi: number): void;
  /** The data path cannot carry traffic any more (TUN device gone, socket thread died). */
  onFailure(err: Error): void;
  /** A non-fatal socket error. */
  onSocketError(err: Error): void;
}

export interface DataPath {
  /** Which ESP implementation carries the traffic. */
  readonly kind: 'threaded' | 'js';
  /** As TunnelSummary reports it. */
  readonly espPath: 'threaded' | 'js';
  readonly localPort: number;
  readonly udpCounters: UdpCounters;
  sendIke(data: Uint8Array, to: UdpEndpoint, marker: boolean): void;
  sendKeepalive(to: UdpEndpoint): void;
  /** Where ESP goes (NAT-T port floating, MOBIKE, NAT rebinding: RFC 7296 §2.23). */
  setPeer(to: UdpEndpoint): void;
  /** Whether TUN packets are sealed and sent (false while reconnecting or closing). */
  setCarrying(on: boolean): void;
  /**
   * Installs one CHILD_SA's SA pair. Throws when the data path refuses it (a ninth inbound SA,
   * a bad key): the driver catches, counts and ends the tunnel cleanly.
   */
  installChild(inbound: EspSaParams, outbound: EspSaParams, policy: Policy): void;
  removeChild(inboundSpi: number, outboundSpi: number): void;
  /** When ESP last authenticated inbound / was last sent (ms since the epoch; 0 = never). */
  espInAt(now: number): number;
  espOutAt(now: number): number;
  /** ESP counters in the EspEngine's shape (drops by reason, only those that happened). */
  counters(): Record<string, number>;
  /** The native plane's own counters (threaded path only). */
  dataplaneStats?(): DataPlaneStats;
  /** Stops everything; the TUN device is closed by the driver afterwards. */
  close(): void;
}

export interface OpenDataPathOptions {
  io: TunnelIo;
  family: 4 | 6;
  tun: TunDevice;
  espProposals: ProposalSpec[];
  /** false: JavaScript only (VPN_FAST_PATH=0, --no-fast-path). */
  fastPath: boolean;
  limits: VolumeLimits;
  events: DataPathEvents;
  log: Logger;
}

export async function openDataPath(o: OpenDataPathOptions): Promise<DataPath> {
  const status = nativeDataPathStatus(o.fastPath, o.tun, o.espProposals);
  const offloads = o.tun.offloads ?? 0;
  if (!status.available) {
    o.log.debug('esp', `native data plane not used: ${status.reason}`);
    // A device with IFF_VNET_HDR speaks virtio headers and super-packets: JavaScript cannot.
    if (offloads !== 0)
      throw new VpnError(
        'ERR_CONFIG',
        `TUN offloads need the native data plane (${status.reason})`,
      );
  } else if (o.tun.fd !== undefined) {
    const dp = NativeDataPath.open(o.family, o.tun.fd, o.events, o.limits, offloads);
    if (offloads !== 0)
      o.log.debug('esp', `TUN offloads in use (TUN_F_* 0x${offloads.toString(16)})`);
    const st = nativeEspStatus();
    const from = st.available ? ` from ${st.source} ${st.path}` : '';
    o.log.debug('esp', `ESP on the native data plane (two threads)${from}`);
    return dp;
  }
  return JsDataPath.open(o);
}
