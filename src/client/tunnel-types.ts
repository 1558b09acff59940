/**
 * The tunnel driver's public types: its options, events, summary and status (src/cli builds the
 * options and prints the rest). Re-exported by ./tunnel.ts.
 */
import type { VpnError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { Random } from '../core/random.js';
import type { Identity } from '../ike/identity.js';
import type { EstablishedInfo, IkeSession, RetransmitPolicy } from '../ike/session.js';
import type { UdpCounters } from '../net/udp.js';
import type { DataPlaneStats } from '../fastpath/dataplane.js';
import type { TunDevice } from '../tun/tun.js';
import type { Credentials } from './auth.js';
import type { TunnelIo } from './io.js';

export interface TunnelOptions {
  /** Gateway host name or IP address. */
  gateway: string;
  /** Gateway IKE port (500; NAT-T floats to 4500). */
  port?: number;
  /** Our identity (IDi). Defaults to our local IP address, as strongSwan does. */
  localId?: string;
  /** Our identity as an IKE Identity (e.g. a certificate's subject DN); wins over `localId`. */
  localIdentity?: Identity;
  /** Expected gateway identity (IDr); also sent to select a gateway config. */
  remoteId?: string;
  /** Our credentials and how the gateway's are checked. */
  credentials: Credentials;
  /** Largest IP datagram for IKE messages before fragmenting (RFC 7383; default 1280). */
  ikeFragmentSize?: number;
  ikeProposals?: string;
  espProposals?: string;
  /** Configure DNS from the gateway's configuration payload. */
  dns?: 'auto' | 'off';
  /** NAT-T keepalive interval in ms (RFC 3948 §4: default 20 s). */
  keepaliveMs?: number;
  retransmit?: Partial<RetransmitPolicy>;
  /** TUN MTU; default accounts for IPv4 + UDP + ESP(GCM) overhead on a 1500-byte path. */
  mtu?: number;
  tunName?: string;
  /**
   * Reconnect attempts after the IKE SA is lost once up (default 3; 'forever'; 0 = exit). The
   * count starts again only once a reconnected tunnel has stayed up for `stableMs`, so a gateway
   * that accepts and then deletes every new IKE SA exhausts it.
   */
  retry?: number | 'forever';
  /** How long a (re)connected tunnel must stay up before `retry` counts from zero again (60 s). */
  stableMs?: number;
  /** IKE SA lifetime before we rekey it, in ms (0 = only the gateway rekeys; default 3.5 h). */
  ikeRekeyMs?: number;
  /** CHILD_SA lifetime before we rekey it, in ms (0 = only the gateway rekeys; default 50 min). */
  rekeyMs?: number;
  /**
   * Use the native data plane (its own threads for TUN → ESP → UDP and back) when the addon is
   * built, else ESP in JavaScript (default true; VPN_FAST_PATH=0: everything in JavaScript).
   */
  fastPath?: boolean;
  /**
   * Open the TUN device with offloads (IFF_VNET_HDR, TSO4/TSO6/USO: the kernel hands the native
   * data plane 64 KiB super-packets that it splits itself) when the native plane will carry the
   * tunnel; default false (VPN_TUN_OFFLOAD=1 turns it on).
   */
  tunOffload?: boolean;
  /** Rekey the CHILD_SA after this many bytes / packets in either direction (RFC 4301 §4.4.2.1). */
  rekeyBytes?: number;
  rekeyPackets?: number;
  /** Dead peer detection idle time in ms (0 = off; default 30 s). */
  dpdMs?: number;
  /** Request an IPv6 virtual address too. */
  ip6?: boolean;
  /** Remote networks to ask for (default 0.0.0.0/0; the gateway narrows). */
  remoteNetworks?: string[];
  /**
   * Kill switch: from the start of `connect` until the process ends, traffic that the tunnel does
   * not carry is dropped (unreachable routes under ours), never sent outside it.
   */
  killSwitch?: boolean;
  /** How often to check whether the network under the tunnel changed (ms; 0 = never; 1 s). */
  pathCheckMs?: number;
  /** Announce MOBIKE and roam with it (default true). */
  mobike?: boolean;
  /** Journal of host changes, to undo after a crash. */
  journalPath?: string;
  /** Where the resolv.conf backup and journal live when no path is given. */
  stateDir?: string;
  /** Inject for tests; production uses node:crypto. */
  random?: Random;
  /**
   * Clock, timers, DNS, TUN device, socket and host configurator (tests inject in-memory
   * doubles; anything not given is the real one, see ./io.ts).
   */
  io?: Partial<TunnelIo>;
  logger?: Logger;
}

export type TunnelStage = 'resolving' | 'ike-sa-init' | 'ike-auth' | 'configuring';

export interface TunnelSummary {
  gateway: string;
  gatewayAddress: string;
  device: string;
  mtu: number;
  virtualIp4?: string;
  virtualIp6?: string;
  dns: string[];
  domains: string[];
  routes: string[];
  ike: EstablishedInfo;
  connectMs: number;
  /**
   * Which ESP implementation carries the traffic: the native data plane's threads or JavaScript.
   * ('native', the batched native ESP calls from JavaScript, is retired: no longer reported.)
   */
  espPath: 'threaded' | 'native' | 'js';
}

export type TunnelEvent =
  | { type: 'stage'; stage: TunnelStage; detail?: string }
  | { type: 'up'; summary: TunnelSummary }
  | { type: 'nat'; natHere: boolean; natThere: boolean }
  | { type: 'rekeyed'; what: 'child' | 'ike'; by: 'us' | 'peer'; proposal: string }
  | { type: 'reconnecting'; attempt: number; inMs: number; reason: string }
  /** The network under the tunnel changed and MOBIKE moved the SAs (RFC 4555). */
  | { type: 'roamed'; local: string; remote: string; by: 'us' | 'peer' }
  /** Something left out or refused that the user should know about (printable text). */
  | { type: 'warning'; message: string }
  | { type: 'down'; error?: VpnError; byPeer: boolean };

export interface TunnelStatus {
  state: 'connecting' | 'up' | 'reconnecting' | 'closing' | 'down';
  summary?: TunnelSummary;
  uptimeMs?: number;
  ike: IkeSession['counters'];
  esp: Record<string, number>;
  tun?: ReturnType<TunDevice['stats']>;
  udp?: UdpCounters;
  /** The native data plane's own counters, when it carries ESP. */
  dataplane?: DataPlaneStats;
  keepalivesSent: number;
  /** SAs the data path refused to install (the tunnel then ends with ERR_IKE_PROTOCOL). */
  saInstallErrors: number;
}
