/**
 * The public types of the IKE session (RFC 7296): its configuration, inputs, outputs, events and
 * counters. `session.ts` re-exports them; the exchange layer and the tasks use them too.
 */
import type { VpnError } from '../core/errors.js';
import type { TrafficSelector } from './codec/index.js';
import type { ConfigReply } from './config-payload.js';
import type { Identity } from './identity.js';
import type { Endpoint } from './natd.js';
import type { ProposalSpec } from './sa/proposals.js';
import type { GatewayAuth, LocalAuth } from './auth.js';
import type { PpkConfig } from './ppk.js';
import type { RedirectDuring, RedirectTarget } from './redirect.js';

export type IkeState = 'created' | 'connecting' | 'established' | 'deleting' | 'closed';

export type TimerId = 'retransmit' | 'dpd' | 'rekey-child' | 'rekey-ike';

export interface RetransmitPolicy {
  /** First timeout in ms. */
  timeoutMs: number;
  /** Multiplier per retry (strongSwan's retransmit_base). */
  base: number;
  /** Retransmissions before giving up. */
  tries: number;
  /** Cap on a single timeout. */
  maxTimeoutMs: number;
}

export const DEFAULT_RETRANSMIT: RetransmitPolicy = {
  timeoutMs: 2000,
  base: 1.8,
  tries: 4,
  maxTimeoutMs: 30000,
};

export interface IkeSessionConfig {
  localId: Identity;
  remoteId?: Identity;
  /** How we authenticate (PSK, certificate signature or EAP). */
  auth: LocalAuth;
  /** What the gateway may authenticate with. */
  gatewayAuth: GatewayAuth;
  /**
   * Largest IP datagram an IKE message may fill before we fragment it, when the gateway supports
   * RFC 7383 fragmentation (§2.5.1; strongSwan's default is 1280).
   */
  fragmentSize: number;
  ikeProposals: ProposalSpec[];
  espProposals: ProposalSpec[];
  /** Configuration payload request. */
  request: { ip4: boolean; ip6: boolean; dns: boolean };
  /** Traffic selectors we propose; the gateway narrows them. */
  tsLocal: TrafficSelector[];
  tsRemote: TrafficSelector[];
  /**
   * Userspace ESP can only travel in UDP, so unless told otherwise we make the gateway encapsulate
   * even without a NAT, the way strongSwan's `encap = yes` does: our NAT_DETECTION_SOURCE_IP hash
   * is random, so the gateway believes we are behind a NAT (RFC 7296 §2.23 allows the peer to act on
   * it; RFC 3948 then applies).
   */
  forceEncap: boolean;
  retransmit: RetransmitPolicy;
  /** Bound on COOKIE / INVALID_KE_PAYLOAD restarts of IKE_SA_INIT. */
  maxInitRetries: number;
  /** ESP anti-replay window size for inbound SAs. */
  replayWindow: number;
  /**
   * Dead peer detection (RFC 7296 §2.4): after this long without any sign of life from the
   * gateway (IKE or ESP), send an empty INFORMATIONAL; 0 disables it. A dead gateway is then
   * declared after the retransmit schedule runs out.
   */
  dpdDelayMs: number;
  /**
   * CHILD_SA lifetime before we rekey it (RFC 7296 §2.8), minus up to 10 % random jitter so both
   * ends rarely rekey at once; 0 = leave rekeying to the gateway.
   */
  childRekeyMs: number;
  /** IKE SA lifetime before we rekey it (§2.8, minus up to 10 % jitter); 0 = leave it to the gateway. */
  ikeRekeyMs: number;
  /**
   * Announce MOBIKE (RFC 4555) and, when our address changes, move the SAs with
   * UPDATE_SA_ADDRESSES; without it (or if the gateway lacks it) an address change ends the SA
   * with a retriable error so the driver reconnects. Default true.
   */
  mobike?: boolean;
  /**
   * `--pq required`: the IKE SA must use a post-quantum key exchange (ML-KEM); a gateway that
   * chooses a classic proposal is refused before IKE_AUTH (draft-ietf-ipsecme-ikev2-mlkem).
   */
  pqRequired?: boolean;
  /** Send INITIAL_CONTACT in IKE_AUTH (default true; false when reauthenticating). */
  initialContact?: boolean;
  /**
   * RFC 8784 post-quantum preshared key: USE_PPK in IKE_SA_INIT, PPK_IDENTITY (and, unless
   * required, NO_PPK_AUTH) in IKE_AUTH, the PPK mixed into SK_d, SK_pi and SK_pr.
   */
  ppk?: PpkConfig;
  /**
   * RFC 5685: announce REDIRECT_SUPPORTED and follow the gateway's REDIRECT (default true);
   * false refuses redirects and does not announce support (--no-redirect).
   */
  redirect?: boolean;
  /** RFC 5685 §9.3: we were redirected here from this gateway address (REDIRECTED_FROM). */
  redirectedFrom?: string;
}

/** Keys and parameters of one direction of a CHILD_SA, handed to the ESP engine. */
export interface EspDirection {
  spi: number;
  encrId: number;
  keymat: Uint8Array;
  replayWindow?: number;
}

export interface ChildSaInfo {
  inbound: EspDirection;
  outbound: EspDirection;
  tsLocal: TrafficSelector[];
  tsRemote: TrafficSelector[];
  proposal: string;
}

export interface EstablishedInfo {
  localId: string;
  remoteId: string;
  ikeProposal: string;
  espProposal: string;
  /** The IKE SA's key exchanges, "x25519 + ML-KEM-768" (RFC 9370), and whether one is post-quantum. */
  keyExchanges?: string;
  postQuantum?: boolean;
  natHere: boolean;
  natThere: boolean;
  config: ConfigReply;
  tsLocal: string[];
  tsRemote: string[];
  /**
   * RFC 4478: the gateway wants us to reauthenticate (a new IKE SA with a full IKE_AUTH) within
   * this many seconds.
   */
  authLifetimeS?: number;
  /** Our IKE SPI, hex. */
  spiI: string;
  spiR: string;
  remote: Endpoint;
  /** RFC 8784: the PPK was mixed into this IKE SA's keys (the gateway confirmed PPK_IDENTITY). */
  ppk?: boolean;
  /** The IKE version of the SA (issue 17): 1 for an IKEv1 session, absent or 2 for IKEv2. */
  ikeVersion?: 1 | 2;
}

export type IkeEvent =
  | { type: 'state'; state: IkeState; detail?: string }
  | { type: 'stage'; stage: 'ike-sa-init' | 'ike-auth' }
  | { type: 'nat'; natHere: boolean; natThere: boolean }
  | { type: 'established'; info: EstablishedInfo }
  | { type: 'liveness-check' }
  | { type: 'rekeyed'; what: 'child' | 'ike'; by: 'peer' | 'us'; proposal: string }
  /** MOBIKE moved the SAs to new addresses (RFC 4555 §3.5), by our update or the gateway's. */
  | { type: 'roamed'; local: Endpoint; remote: Endpoint; by: 'peer' | 'us' }
  | { type: 'closed'; error?: VpnError; byPeer: boolean }
  /** RFC 5685: the gateway sends us to another gateway; the session closes right after this. */
  | { type: 'redirect'; gateway: RedirectTarget; during: RedirectDuring }
  /** Something the gateway sent was ignored beyond a bound (issue 11 finding 6): printable. */
  | { type: 'warning'; message: string };

export type IkeOutput =
  | { kind: 'send'; data: Uint8Array; to: Endpoint; nonEspMarker: boolean }
  | { kind: 'setTimer'; timer: TimerId; at: number }
  | { kind: 'clearTimer'; timer: TimerId }
  | { kind: 'installChild'; child: ChildSaInfo }
  | { kind: 'removeChild'; inboundSpi: number; outboundSpi: number }
  | { kind: 'event'; event: IkeEvent };

export type IkeInput =
  | { kind: 'start'; local: Endpoint; remote: Endpoint }
  | { kind: 'datagram'; data: Uint8Array; from: Endpoint }
  | { kind: 'timer'; timer: TimerId }
  /** Proof the gateway is alive at time `at` (e.g. an authenticated ESP packet arrived). */
  | { kind: 'activity'; at: number }
  /**
   * Check liveness now (the data path sees one-way traffic: a NAT may have remapped us, and an
   * authenticated IKE message from the new mapping lets the gateway follow, RFC 7296 §2.23).
   */
  | { kind: 'probe' }
  /**
   * The driver saw its timers fire `sleptMs` late (the host slept, or the process was stopped):
   * check liveness now and give the gateway `budgetMs` to answer (RFC 7296 §2.4).
   */
  | { kind: 'wake'; sleptMs: number; budgetMs: number }
  /** The data path asks for a rekey (e.g. the ESP sequence number nears its limit). */
  | { kind: 'rekeyChild' }
  | { kind: 'close' }
  /** An asynchronous EAP method (EAP-TLS) produced its Response to the last EAP Request. */
  | { kind: 'eapResponse'; packet: Uint8Array }
  /** An asynchronous EAP method failed (e.g. the gateway's TLS certificate did not verify). */
  | { kind: 'eapFailed'; error: VpnError }
  /** The local address changed (e.g. a new default route): used for NAT-D on later exchanges. */
  | { kind: 'localAddress'; local: Endpoint };

/** Counters of what the session dropped, by reason (never thrown). */
export interface IkeCounters {
  received: number;
  sent: number;
  retransmits: number;
  childRekeys: number;
  ikeRekeys: number;
  dpdSent: number;
  dropped: Record<string, number>;
}

/** Counters of a session that has not seen anything yet. */
export function emptyIkeCounters(): IkeCounters {
  return {
    received: 0,
    sent: 0,
    retransmits: 0,
    childRekeys: 0,
    ikeRekeys: 0,
    dpdSent: 0,
    dropped: {},
  };
}
