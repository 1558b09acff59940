/**
 * The tunnel driver's public types: its options, events, summary and status (src/cli builds the
 * options and prints the rest). Re-exported by ./tunnel.ts.
 */
import type { VpnError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { Random } from '../core/random.js';
import type { Identity } from '../ike/identity.js';
import type { PpkConfig } from '../ike/ppk.js';
import type { PqMode } from '../ike/sa/proposals.js';
import type { EstablishedInfo, IkeSession, RetransmitPolicy, TimerId } from '../ike/session.js';
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
  /** `--pq`: post-quantum key exchange (ML-KEM, RFC 9370) required, preferred or off (default). */
  pq?: PqMode;
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
   * Networks kept on the path they had before the tunnel (routes via the old next hop, more
   * specific than the tunnel's), e.g. a CI service's addresses under a full tunnel. At most
   * MAX_EXCLUDED; refused with the kill switch, which must not let anything out.
   */
  excludeNetworks?: string[];
  /**
   * Kill switch: from the start of `connect` until the process ends, traffic that the tunnel does
   * not carry is dropped (unreachable routes under ours), never sent outside it.
   */
  killSwitch?: boolean;
  /**
   * A timer firing this much later than due (wall clock) means the host slept or the process was
   * stopped: the gateway is checked at once (ms; 0 = never; default 5 s).
   */
  wakeThresholdMs?: number;
  /** How long the gateway has to answer that check before we reconnect (ms; default 3 s). */
  wakeCheckMs?: number;
  /** How often to check whether the network under the tunnel changed (ms; 0 = never; 1 s). */
  pathCheckMs?: number;
  /** Announce MOBIKE and roam with it (default true). */
  mobike?: boolean;
  /** RFC 8784 post-quantum preshared key (PSK or certificate authentication only). */
  ppk?: PpkConfig;
  /**
   * RFC 5685: announce REDIRECT_SUPPORTED and follow the gateway's redirects (default true);
   * false refuses them (--no-redirect).
   */
  redirect?: boolean;
  /**
   * Redirect loop cap (RFC 5685 §7): at most this many redirects within `redirectWindowMs`
   * (defaults 5 and 300 s, strongSwan's max_redirects and loop detection period); one more ends
   * the tunnel with an error.
   */
  maxRedirects?: number;
  redirectWindowMs?: number;
  /**
   * IKE version (issue 17): 2 (the default), 1 (IKEv1: Main or Aggressive Mode, Quick Mode), or
   * 'auto': IKEv2 first, IKEv1 when IKE_SA_INIT gets no answer at all or INVALID_MAJOR_VERSION.
   */
  ikeVersion?: 1 | 2 | 'auto';
  /** IKEv1 settings (used when IKEv1 runs). */
  ikev1?: Ikev1TunnelOptions;
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

/** What IKEv1 needs beyond the common options (src/ikev1/session.ts Ikev1SessionConfig). */
export interface Ikev1TunnelOptions {
  /** Aggressive Mode (PSK only; exposes a hash of the PSK to offline guessing). */
  aggressive?: boolean;
  /** Allow 3DES-CBC and MODP-1024 in Phase 1 proposals. */
  legacy?: boolean;
  /** XAUTH user name and password (draft-beaulieu-ike-xauth-02), after Phase 1. */
  xauth?: { user: string; password: Uint8Array };
  /** Quick Mode PFS: this Diffie-Hellman group for every ESP proposal (RFC 2409 §5.5). */
  pfsGroup?: number;
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
  /** How the DNS servers were applied (systemd-resolved, resolvconf, resolv.conf). */
  dnsMethod?: 'systemd-resolved' | 'resolvconf' | 'resolv.conf';
  /** One line saying what was done with DNS (split by domain, all names, ...). */
  dnsNote?: string;
  routes: string[];
  ike: EstablishedInfo;
  /** The IKE version of the SA (1: IKEv1, issue 17); absent means 2. */
  ikeVersion?: 1 | 2;
  /** RFC 5685: the gateway address that redirected us to `gatewayAddress` (the last one). */
  redirectedFrom?: string;
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
  /** Timers fired `sleptMs` late: the host slept or the process was stopped; checking the gateway. */
  | { type: 'wake'; sleptMs: number }
  /** RFC 5685: a gateway sent us to another; we connect there (`to`, resolved; `name` if FQDN). */
  | { type: 'redirected'; from: string; to: string; name?: string; during: string }
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

/** The driver's named timers: the IKE session's and its own. */
export type TunnelTimerKey =
  TimerId | 'keepalive' | 'reconnect' | 'path' | 'reauth' | 'oneway' | 'stable' | 'close' | 'route';
