/**
 * V1Context: what the IKEv1 tasks (tasks/*.ts) and the session facade share while one input is
 * handled (the IKEv1 twin of src/ike/context.ts): the configuration, the injected randomness,
 * clock reading and logger, the ISAKMP SAs (RFC 2408 §2.4: cookies, keys, the IV chains of RFC 2409
 * Appendix B), our request in flight and its retransmission (RFC 2408 §5), the IPsec SAs, the
 * counters and the outputs for the driver; and the steps every task may take: protect and send a
 * message (HASH(1) of RFC 2409 §5.5/§5.7), drop a datagram, fail or close (DELETE, RFC 2408 §3.15).
 */
import { concatBytes, equalBytes } from '../core/bytes.js';
import { VpnError } from '../core/errors.js';
import type { ErrorCode } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { Random } from '../core/random.js';
import type { KeyExchange } from '../crypto/ke.js';
import type { GatewayAuth, LocalAuth } from '../ike/auth.js';
import type { TrafficSelector } from '../ike/codec/index.js';
import type { ConfigReply } from '../ike/config-payload.js';
import type { Identity } from '../ike/identity.js';
import type { Endpoint } from '../ike/natd.js';
import { emptyIkeCounters } from '../ike/session-types.js';
import type {
  IkeCounters,
  IkeEvent,
  IkeOutput,
  IkeState,
  RetransmitPolicy,
} from '../ike/session-types.js';
import {
  V1Flag as Flag,
  IPSEC_DOI,
  V1Exchange as X,
  V1Notify,
  V1Payload as P,
  V1Protocol,
  v1Name,
} from './constants.js';
import { encodeV1Chain, encodeV1Message } from './codec/index.js';
import type {
  V1Chain,
  V1DeletePayload,
  V1Header,
  V1NotifyPayload,
  V1PayloadAny,
} from './codec/index.js';
import { V1Keymat, hashMid } from './keymat.js';
import type { V1Phase1Spec, V1Phase2Spec } from './sa-payload.js';

import type { Phase1 } from './tasks/phase1.js';
import type { QuickMode } from './tasks/quick-mode.js';
import type { Informational } from './tasks/informational.js';
import type { Transactions } from './tasks/transaction.js';
import type { XauthCredentials } from './modecfg/index.js';

export interface Ikev1SessionConfig {
  localId: Identity;
  remoteId?: Identity;
  /** PSK or certificate signature (RSA, ECDSA). EAP → ERR_CONFIG. */
  auth: LocalAuth;
  gatewayAuth: GatewayAuth;
  phase1: V1Phase1Spec[];
  phase2: V1Phase2Spec[];
  /** --ikev1-aggressive (PSK only). */
  aggressive: boolean;
  /** Present → Authentication Method XAUTHInitPreShared / XAUTHInitRSA. */
  xauth?: XauthCredentials;
  /** Pull a virtual IP and DNS with Mode Config. */
  modeConfig: boolean;
  /** Quick Mode IDci / IDcr (RFC 2409 §5.5): the first selector of each side. */
  tsLocal: TrafficSelector[];
  tsRemote: TrafficSelector[];
  forceEncap: boolean;
  retransmit: RetransmitPolicy;
  replayWindow: number;
  dpdDelayMs: number;
  childRekeyMs: number;
  ikeRekeyMs: number;
  initialContact?: boolean;
}

/** Our request in flight: its exact datagram (resent as is), and who takes the answer. */
export interface Outstanding {
  exchange: number;
  mid: number;
  data: Uint8Array;
  tries: number;
  what: string;
  /** The ISAKMP SA it belongs to (phase 1 rekeys run beside the current one). */
  sa: IsakmpSa;
  onReply: (h: V1Header, chain: V1Chain, plain: Uint8Array) => void;
  /** Called when the retransmissions ran out; returns the error to close with. */
  onTimeout?: (o: Outstanding) => VpnError;
  bad?: { count: number; last: string };
}

/** One ISAKMP SA: cookies, the negotiated suite, keys, and its phase 1 exchange's data. */
export interface IsakmpSa {
  cookieI: Uint8Array;
  cookieR: Uint8Array;
  /** Our SA payload body, its authentication method and the gateway's choice. */
  saBody: Uint8Array;
  authMethod: number;
  spec?: V1Phase1Spec;
  ke?: KeyExchange;
  ni: Uint8Array;
  nr: Uint8Array;
  gxr: Uint8Array;
  keymat?: V1Keymat;
  /** Phase 1 is complete (HASH_R / SIG_R verified). */
  ready: boolean;
  /** The gateway's vendor IDs (RFC 3947 NAT-T, RFC 3706 DPD, XAUTH, Unity). */
  peer: { nattRfc: boolean; nattDraft: boolean; dpd: boolean; xauth: boolean; unity: boolean };
  natdType: number;
  /** The gateway's phase 1 identity. */
  gwId?: Identity;
  /** Last datagram received and our answer to it (for retransmissions of the gateway's). */
  lastIn?: Uint8Array | undefined;
  lastOut?: Uint8Array | undefined;
}

export interface ChildV1 {
  inboundSpi: number;
  outboundSpi: number;
  spec: V1Phase2Spec;
  tsLocal: TrafficSelector;
  tsRemote: TrafficSelector;
  replaced: boolean;
}

export const NONCE_LENGTH = 32;
export const DPD_WHAT = 'dead peer detection (R-U-THERE)';
/** How long the replaced ISAKMP SA lives on after a phase 1 rekey (see finishIkeRekey). */
export const RETIRE_DELAY_MS = 2000;

export function newSa(cookieI: Uint8Array): IsakmpSa {
  return {
    cookieI,
    cookieR: new Uint8Array(8),
    saBody: new Uint8Array(0),
    authMethod: 0,
    ni: new Uint8Array(0),
    nr: new Uint8Array(0),
    gxr: new Uint8Array(0),
    ready: false,
    peer: { nattRfc: false, nattDraft: false, dpd: false, xauth: false, unity: false },
    natdType: P.NAT_D,
  };
}

export function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0);
  return b;
}

export function readU32(b: Uint8Array): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0);
}

export interface V1Tasks {
  phase1: Phase1;
  quick: QuickMode;
  info: Informational;
  tx: Transactions;
}

export class V1Context {
  /** Wired by Ikev1Session right after construction. */
  tasks!: V1Tasks;

  readonly cfg: Ikev1SessionConfig;

  readonly random: Random;

  readonly log: Logger;

  readonly counters: IkeCounters = emptyIkeCounters();

  st: IkeState = 'created';

  out: IkeOutput[] = [];

  now = 0;

  local: Endpoint = { address: '0.0.0.0', port: 0 };

  remote: Endpoint = { address: '0.0.0.0', port: 500 };

  natT = false;

  natHere = false;

  natThere = false;

  /** The ISAKMP SA in use, and one being built by a phase 1 rekey. */
  sa: IsakmpSa;

  nextSa: IsakmpSa | undefined;

  /** The ISAKMP SA a phase 1 rekey replaced, until its DELETE goes out. */
  retiring: IsakmpSa | undefined;

  outstanding: Outstanding | undefined;

  readonly children: ChildV1[] = [];

  config: ConfigReply = { dns4: [], dns6: [], domains: [], subnets: [], unknown: [] };

  vip: Uint8Array | undefined;

  /** Where the connection stands while connecting: what runs after phase 1. */
  step: 'phase1' | 'xauth' | 'modecfg' | 'quick' | 'done' = 'phase1';

  lastAlive = 0;

  constructor(cfg: Ikev1SessionConfig, random: Random, log: Logger) {
    this.cfg = cfg;
    this.random = random;
    this.log = log;
    this.sa = newSa(this.randomNonZero(8));
  }

  dropTotal = 0;

  timeoutFor(tries: number): number {
    const r = this.cfg.retransmit;
    return Math.min(r.maxTimeoutMs, r.timeoutMs * Math.pow(r.base, tries));
  }

  totalTimeoutMs(): number {
    let t = 0;
    for (let i = 0; i <= this.cfg.retransmit.tries; i++) t += this.timeoutFor(i);
    return t;
  }

  // -------------------------------------------------------------------------------------------
  // Shared steps

  push(o: IkeOutput): void {
    this.out.push(o);
  }

  emit(event: IkeEvent): void {
    this.out.push({ kind: 'event', event });
  }

  setState(state: IkeState, detail?: string): void {
    if (this.st === state) return;
    this.st = state;
    this.emit(detail === undefined ? { type: 'state', state } : { type: 'state', state, detail });
  }

  drop(reason: string, detail?: string): void {
    this.counters.dropped[reason] = (this.counters.dropped[reason] ?? 0) + 1;
    this.dropTotal++;
    const o = this.outstanding;
    if (o) o.bad = { count: (o.bad?.count ?? 0) + 1, last: detail ?? reason };
    this.log.debug(
      'ike',
      `dropped IKEv1 datagram: ${reason}`,
      detail === undefined ? undefined : { detail },
    );
  }

  transmit(data: Uint8Array): void {
    this.counters.sent++;
    this.out.push({ kind: 'send', data, to: this.remote, nonEspMarker: this.natT });
  }

  randomNonZero(n: number): Uint8Array {
    for (;;) {
      const b = this.random.bytes(n);
      if (b.some((x) => x !== 0)) return b;
    }
  }

  /** A fresh message ID for a new exchange (RFC 2408 §3.1: random, non-zero). */
  newMid(): number {
    for (;;) {
      const v = readU32(this.random.bytes(4));
      if (v !== 0) return v;
    }
  }

  newSpi(): number {
    for (;;) {
      const v = readU32(this.random.bytes(4));
      if (v > 255 && !this.children.some((c) => c.inboundSpi === v)) return v;
    }
  }

  /** Sends a request and arms the retransmit timer (one request of ours in flight at a time). */
  request(o: Omit<Outstanding, 'tries'>): void {
    this.outstanding = { ...o, tries: 0 };
    this.transmit(o.data);
    this.push({ kind: 'setTimer', timer: 'retransmit', at: this.now + this.timeoutFor(0) });
  }

  settle(): void {
    this.outstanding = undefined;
    this.push({ kind: 'clearTimer', timer: 'retransmit' });
  }

  /** Encrypts a payload chain for message ID `mid` of `sa` and advances that ID's IV. */
  seal(sa: IsakmpSa, exchange: number, mid: number, payloads: V1PayloadAny[]): Uint8Array {
    const km = sa.keymat!;
    const { first, bytes } = encodeV1Chain(payloads);
    const ct = km.cipher.encrypt(km.ivFor(mid), bytes);
    km.advance(mid, ct);
    return encodeV1Message(
      {
        cookieI: sa.cookieI,
        cookieR: sa.cookieR,
        exchangeType: exchange,
        flags: Flag.ENCRYPTION,
        messageId: mid,
      },
      first,
      ct,
    );
  }

  /**
   * A protected message of a phase 2 exchange (RFC 2409 §5.5, §5.7): HASH(1) = prf(SKEYID_a,
   * M-ID | payloads), or with `hash` the caller's (HASH(2)/(3) forms).
   */
  sealHashed(
    sa: IsakmpSa,
    exchange: number,
    mid: number,
    rest: V1PayloadAny[],
    hash?: (restBytes: Uint8Array) => Uint8Array,
  ): Uint8Array {
    const km = sa.keymat!;
    const restBytes = encodeV1Chain(rest).bytes;
    const h = hash ? hash(restBytes) : hashMid(km.hash, km.skeyidA, mid, restBytes);
    return this.seal(sa, exchange, mid, [{ kind: 'data', type: P.HASH, data: h }, ...rest]);
  }

  /** Sends a one-message Informational exchange (RFC 2409 §5.7), protected by `sa`. */
  sendInformational(sa: IsakmpSa, payloads: V1PayloadAny[]): void {
    const mid = this.newMid();
    this.transmit(this.sealHashed(sa, X.INFORMATIONAL, mid, payloads));
    sa.keymat!.forget(mid);
  }

  notify(
    type: number,
    protocol: number,
    spi: Uint8Array,
    data: Uint8Array = new Uint8Array(0),
  ): V1NotifyPayload {
    return {
      kind: 'notify',
      type: P.NOTIFY,
      doi: IPSEC_DOI,
      protocol,
      spi,
      notifyType: type,
      data,
    };
  }

  cookies(sa: IsakmpSa): Uint8Array {
    return concatBytes(sa.cookieI, sa.cookieR);
  }

  /** Ends the session with an error, telling the gateway (DELETE) when it has our SA. */
  fail(error: VpnError): void {
    if (this.st === 'closed') return;
    this.log.warn('ike', error.message);
    if (this.sa.ready) {
      try {
        this.sendDeletes();
      } catch {
        // best effort
      }
    }
    this.finishClose(error, false);
  }

  finishClose(error: VpnError | undefined, byPeer: boolean): void {
    if (this.st === 'closed') return;
    this.outstanding = undefined;
    for (const t of ['retransmit', 'dpd', 'rekey-child', 'rekey-ike'] as const)
      this.push({ kind: 'clearTimer', timer: t });
    for (const c of this.children.splice(0))
      this.push({ kind: 'removeChild', inboundSpi: c.inboundSpi, outboundSpi: c.outboundSpi });
    this.sa.keymat?.wipe();
    this.nextSa?.keymat?.wipe();
    this.retiring?.keymat?.wipe();
    this.setState('closed', error?.message);
    this.emit(error === undefined ? { type: 'closed', byPeer } : { type: 'closed', error, byPeer });
  }

  /** RFC 2408 §3.15 / RFC 2409 §5.7: DELETE our IPsec SAs (our inbound SPIs), then the ISAKMP SA. */
  sendDeletes(): void {
    const spis = this.children.map((c) => u32(c.inboundSpi));
    if (spis.length > 0) {
      const d: V1DeletePayload = {
        kind: 'delete',
        type: P.DELETE,
        doi: IPSEC_DOI,
        protocol: V1Protocol.ESP,
        spiSize: 4,
        spis,
      };
      this.sendInformational(this.sa, [d]);
    }
    const d: V1DeletePayload = {
      kind: 'delete',
      type: P.DELETE,
      doi: IPSEC_DOI,
      protocol: V1Protocol.ISAKMP,
      spiSize: 16,
      spis: [this.cookies(this.sa)],
    };
    this.sendInformational(this.sa, [d]);
  }

  removeChild(c: ChildV1): void {
    const i = this.children.indexOf(c);
    if (i >= 0) this.children.splice(i, 1);
    this.push({ kind: 'removeChild', inboundSpi: c.inboundSpi, outboundSpi: c.outboundSpi });
  }

  /** A rekey time minus up to 10 % random jitter, so both ends rarely rekey at once. */
  jitter(ms: number): number {
    return ms - (readU32(this.random.bytes(4)) / 0x100000000) * 0.1 * ms;
  }

  // -------------------------------------------------------------------------------------------
  // Received datagrams: the IV of an encrypted one moves only once it was accepted (RFC 2409

  // Appendix B); a forged or garbled message must not advance the chain.

  /** The datagram being handled (for the caches of retransmitted requests). */
  lastDatagram: Uint8Array | undefined;

  /** The encrypted datagram being handled: its SA, message ID and ciphertext (for acceptIv). */
  pendingIv: { sa: IsakmpSa; mid: number; ct: Uint8Array; known: boolean } | undefined;

  knownMid(mid: number): boolean {
    return (
      this.outstanding?.mid === mid ||
      this.tasks.quick.peerQm?.mid === mid ||
      this.tasks.tx.knows(mid)
    );
  }

  /** The received encrypted message was accepted: its last block is the next IV of its ID. */
  acceptIv(): void {
    const p = this.pendingIv;
    if (!p) return;
    p.sa.keymat?.advance(p.mid, p.ct);
    this.pendingIv = undefined;
  }

  rejectIv(): void {
    const p = this.pendingIv;
    if (p && !p.known) p.sa.keymat?.forget(p.mid);
    this.pendingIv = undefined;
  }

  /** Checks a phase 2 message's HASH(1) = prf(SKEYID_a, M-ID | payloads after HASH). */
  checkHash(sa: IsakmpSa, h: V1Header, c: V1Chain, plain: Uint8Array): boolean {
    const km = sa.keymat!;
    const first = c.payloads[0];
    if (!first || first.kind !== 'data' || first.type !== P.HASH) return false;
    const rest = plain.subarray(c.spans[0]![1], c.end);
    return equalBytes(first.data, hashMid(km.hash, km.skeyidA, h.messageId, rest));
  }

  finishCloseWith(error: VpnError): void {
    this.log.warn('ike', error.message);
    this.finishClose(error, false);
  }

  errorFromNotify(type: number, during: string): VpnError {
    const name = v1Name(V1Notify, type);
    const map: Partial<Record<number, [ErrorCode, string]>> = {
      [V1Notify.NO_PROPOSAL_CHOSEN]: [
        'ERR_IKE_NO_PROPOSAL',
        `the gateway accepted none of our proposals in ${during} (NO_PROPOSAL_CHOSEN)`,
      ],
      [V1Notify.AUTHENTICATION_FAILED]: [
        'ERR_IKE_AUTH_FAILED',
        'the gateway rejected our credentials (AUTHENTICATION_FAILED): check the pre-shared key and --id',
      ],
      [V1Notify.INVALID_HASH_INFORMATION]: [
        'ERR_IKE_AUTH_FAILED',
        'the gateway could not verify our hash (INVALID_HASH_INFORMATION): check the pre-shared key',
      ],
      [V1Notify.INVALID_ID_INFORMATION]: [
        'ERR_IKE_AUTH_FAILED',
        `the gateway refused our identity in ${during} (INVALID_ID_INFORMATION)`,
      ],
      [V1Notify.INVALID_SIGNATURE]: [
        'ERR_IKE_AUTH_FAILED',
        'the gateway could not verify our signature (INVALID_SIGNATURE)',
      ],
      [V1Notify.INVALID_CERTIFICATE]: [
        'ERR_IKE_AUTH_FAILED',
        'the gateway refused our certificate (INVALID_CERTIFICATE)',
      ],
      [V1Notify.PAYLOAD_MALFORMED]: [
        'ERR_IKE_AUTH_FAILED',
        `the gateway could not read our ${during} (PAYLOAD_MALFORMED): the pre-shared key is probably wrong`,
      ],
      [V1Notify.INVALID_PAYLOAD_TYPE]: [
        'ERR_IKE_AUTH_FAILED',
        `the gateway could not read our ${during} (INVALID_PAYLOAD_TYPE): the pre-shared key is probably wrong`,
      ],
    };
    const m = map[type];
    // A phase 1 decryption failure only means "wrong key" once we sent encrypted data.
    if (
      m &&
      (type === V1Notify.PAYLOAD_MALFORMED || type === V1Notify.INVALID_PAYLOAD_TYPE) &&
      !during.includes('message 5') &&
      !during.includes('Aggressive')
    )
      return new VpnError(
        'ERR_IKE_PEER_ERROR',
        `the gateway answered ${during} with error ${name}`,
      );
    if (m) return new VpnError(m[0], m[1]);
    return new VpnError('ERR_IKE_PEER_ERROR', `the gateway answered ${during} with error ${name}`);
  }
}
