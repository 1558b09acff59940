/**
 * The IKE SA as plain data (RFC 7296 §2.1, §2.8, §2.18): SPIs, keys, message IDs, the endpoints
 * and NAT state (§2.23), what IKE_SA_INIT produced for IKE_AUTH (§2.15), the peer's announced
 * capabilities and the CHILD_SAs. The exchange layer (../exchange.ts) and the tasks (../tasks/)
 * read and update it; no behaviour lives here.
 */
import type { KeyExchange } from '../../crypto/ke.js';
import type { IkeHeader, Payload, TrafficSelector } from '../codec/index.js';
import { FragmentReassembler } from '../codec/fragments.js';
import type { Endpoint } from '../natd.js';
import type { IkeState } from '../session-types.js';
import type { IkeKeymat } from './keymat.js';
import type { ChosenProposal } from './proposals.js';

export interface Outstanding {
  mid: number;
  exchange: number;
  /** The datagrams of the request: one, or a set of RFC 7383 fragments resent together. */
  data: Uint8Array[];
  tries: number;
  onResponse: (header: IkeHeader, payloads: Payload[]) => void;
  /** What the request is, for logs and the time-out error. */
  what: string;
  /** Called when the retransmissions ran out; true when it handled that (else the SA fails). */
  giveUp?: () => boolean;
  /** Datagrams that arrived while it was outstanding and were dropped, and the last reason. */
  bad?: { count: number; last: string };
  /** After a sleep (Exchange.hurry): when we woke, and the time it is given up if unanswered. */
  wokeAt?: number;
  deadlineAt?: number;
}

/** Everything that belongs to one IKE SA: SPIs, keys, message IDs, retransmit and response caches. */
export interface SaContext {
  spiI: Uint8Array;
  spiR: Uint8Array;
  /** We are the original initiator of this IKE SA (the I flag we send, RFC 7296 §3.1). */
  weInitiated: boolean;
  keymat: IkeKeymat | undefined;
  nextMid: number;
  outstanding: Outstanding | undefined;
  peerNextMid: number;
  /** Our last response, and the request datagram it answered (to answer its replay once closed). */
  lastResponse: { mid: number; data: Uint8Array; request?: Uint8Array } | undefined;
  /** RFC 7383 §2.6: fragments of the peer's responses and requests, reassembled separately. */
  fragments: { response: FragmentReassembler; request: FragmentReassembler };
}

export function newContext(spiI: Uint8Array, spiR: Uint8Array, weInitiated: boolean): SaContext {
  return {
    spiI,
    spiR,
    weInitiated,
    keymat: undefined,
    nextMid: 0,
    outstanding: undefined,
    peerNextMid: 0,
    lastResponse: undefined,
    fragments: { response: new FragmentReassembler(), request: new FragmentReassembler() },
  };
}

export interface ChildSa {
  inboundSpi: number;
  outboundSpi: number;
  tsLocal: TrafficSelector[];
  tsRemote: TrafficSelector[];
  /** Replaced by a rekey; kept until its DELETE completes (make-before-break). */
  replaced: boolean;
  /** Our DELETE of it was sent (§1.4.1: a crossing DELETE from the gateway gets no payload for it). */
  deleteSent?: boolean;
  /** Our rekey of this SA in flight (its nonce and PFS key exchange), then its result. */
  ours?: { ni: Uint8Array; ke?: KeyExchange; nr?: Uint8Array; child?: ChildSa } | undefined;
  /** The gateway's rekey of this SA (its exchange's nonces and the SA it created). */
  theirs?: { ni: Uint8Array; nr: Uint8Array; child: ChildSa };
}

/** The state every exchange shares: one IKE session's SAs, endpoints and peer capabilities. */
export interface IkeSa {
  state: IkeState;
  local: Endpoint;
  remote: Endpoint;
  /** UDP encapsulation on port 4500 (RFC 3948), and which side is behind a NAT (§2.23). */
  natT: boolean;
  natHere: boolean;
  natThere: boolean;
  /** The IKE SA in use; `retired` is one replaced by a rekey, kept until the peer deletes it. */
  sa: SaContext;
  retired: SaContext | undefined;
  /** An IKE SA we created by rekeying, used once the old one is deleted (§2.18). */
  pendingNext: SaContext | undefined;
  /** §2.8.1: the loser of a simultaneous IKE SA rekey, kept until the gateway deletes it. */
  redundant: SaContext | undefined;
  ikeProposal: ChosenProposal | undefined;
  /** IKE_SA_INIT's nonces and messages, which IKE_AUTH signs (§2.15) and the first CHILD_SA keys use. */
  ni: Uint8Array;
  nr: Uint8Array;
  initRequest: Uint8Array;
  initResponse: Uint8Array;
  /** The gateway announced IKEV2_FRAGMENTATION_SUPPORTED (RFC 7383 §2.3). */
  peerFragmentation: boolean;
  /** SIGNATURE_HASH_ALGORITHMS the gateway announced (RFC 7427 §4). */
  peerHashes: number[];
  /** The gateway announced MOBIKE_SUPPORTED (RFC 4555 §3.1). */
  peerMobike: boolean;
  /** The gateway answered USE_PPK (RFC 8784 §3), and then confirmed the PPK in IKE_AUTH. */
  peerPpk: boolean;
  ppkUsed: boolean;
  readonly children: ChildSa[];
  /** Last time the gateway proved it is alive (authenticated IKE message or ESP activity). */
  lastAlive: number;
}

export function newIkeSa(): IkeSa {
  return {
    state: 'created',
    local: { address: '0.0.0.0', port: 0 },
    remote: { address: '0.0.0.0', port: 500 },
    natT: false,
    natHere: false,
    natThere: false,
    sa: newContext(new Uint8Array(8), new Uint8Array(8), true),
    retired: undefined,
    pendingNext: undefined,
    redundant: undefined,
    ikeProposal: undefined,
    ni: new Uint8Array(0),
    nr: new Uint8Array(0),
    initRequest: new Uint8Array(0),
    initResponse: new Uint8Array(0),
    peerFragmentation: false,
    peerHashes: [],
    peerMobike: false,
    peerPpk: false,
    ppkUsed: false,
    children: [],
    lastAlive: 0,
  };
}

/** A 32-bit SPI (or other value) in network byte order. */
export function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0);
  return b;
}
