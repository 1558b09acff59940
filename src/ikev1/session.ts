/**
 * Ikev1Session: the sans-I/O IKEv1 initiator (RFC 2409 over ISAKMP, RFC 2408), the IKEv1 twin of
 * src/ike/session.ts with the same inputs, outputs and events (src/ike/session-types.ts), so the
 * driver holds either behind one interface.
 *
 *   Main Mode (RFC 2409 §5)  HDR, SA, VID* -->                      <-- HDR, SA, VID*
 *                            HDR, KE, Ni, [CR], NAT-D, NAT-D -->    <-- HDR, KE, Nr, [CR], NAT-D, NAT-D
 *        (port 4500 from here when NAT-T is used, RFC 3947 §4)
 *                            HDR*, IDii, [CERT], HASH_I | SIG_I --> <-- HDR*, IDir, [CERT], HASH_R | SIG_R
 *   Aggressive Mode (§5, PSK, cfg.aggressive)
 *                            HDR, SA, KE, Ni, IDii, VID* -->        <-- HDR, SA, KE, Nr, IDir, HASH_R, NAT-D*
 *                            HDR*, HASH_I, NAT-D, NAT-D -->
 *   INITIAL-CONTACT          HDR*, HASH(1), N(INITIAL-CONTACT) -->  (RFC 2407 §4.6.3.3)
 *   XAUTH (Transaction)      <-- HDR*, HASH, ATTR(REQUEST)          HDR*, HASH, ATTR(REPLY) -->
 *                            <-- HDR*, HASH, ATTR(SET status)       HDR*, HASH, ATTR(ACK) -->
 *   Mode Config (pull)       HDR*, HASH, ATTR(REQUEST) -->          <-- HDR*, HASH, ATTR(REPLY)
 *   Quick Mode (§5.5)        HDR*, HASH(1), SA, Ni, [KE], IDci, IDcr -->
 *                            <-- HDR*, HASH(2), SA, Nr, [KE], IDci, IDcr
 *                            HDR*, HASH(3) -->
 *   Informational (§5.7)     HDR*, HASH(1), N | D  (either way; no answer, RFC 3706 DPD pairs)
 *
 * Time and randomness are injected; the session never does I/O and never throws on peer input:
 * bad datagrams are counted drops, refusals end the session with a `closed` event carrying the
 * same VpnError code the IKEv2 client uses.
 */
import { concatBytes, equalBytes, toHex } from '../core/bytes.js';
import { VpnError, isVpnError } from '../core/errors.js';
import type { ErrorCode } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { NOOP_LOGGER } from '../core/log.js';
import type { Random } from '../core/random.js';
import { parseIpAddress } from '../core/ip.js';
import { createKeyExchange } from '../crypto/ke.js';
import type { KeyExchange } from '../crypto/ke.js';
import type { GatewayAuth, LocalAuth } from '../ike/auth.js';
import type { TrafficSelector } from '../ike/codec/index.js';
import type { ConfigReply } from '../ike/config-payload.js';
import { formatIdentity, sameIdentity } from '../ike/identity.js';
import type { Identity } from '../ike/identity.js';
import { LIMITS } from '../ike/limits.js';
import type { Endpoint } from '../ike/natd.js';
import { checkNarrowed, formatTs } from '../ike/sa/traffic-selectors.js';
import { emptyIkeCounters } from '../ike/session-types.js';
import type {
  ChildSaInfo,
  IkeCounters,
  IkeEvent,
  IkeInput,
  IkeOutput,
  IkeState,
  RetransmitPolicy,
  TimerId,
} from '../ike/session-types.js';
import { AuthMethodV1, authMethodFor, baseMethod, signV1, verifyV1 } from './auth.js';
import {
  V1Flag as Flag,
  IPSEC_DOI,
  V1CertEncoding,
  V1Exchange as X,
  V1Notify,
  V1Payload as P,
  V1Protocol,
  VendorId,
  v1Name,
} from './constants.js';
import {
  V1_HEADER_LENGTH,
  allData,
  decodeV1Message,
  encodeV1Chain,
  encodeV1Message,
  findData,
  openV1Body,
  v1Hash,
} from './codec/index.js';
import type {
  V1Chain,
  V1CertPayload,
  V1DeletePayload,
  V1Header,
  V1IdPayload,
  V1NotifyPayload,
  V1PayloadAny,
} from './codec/index.js';
import {
  V1Keymat,
  authHashFor,
  derivePhase1Keys,
  hashMid,
  phase1Hash,
  qmHash2,
  qmHash3,
  quickModeKeymat,
} from './keymat.js';
import {
  V1EncapMode,
  decodePhase1Choice,
  decodePhase2Choice,
  decodeResponderLifetime,
  decodeSaBody,
  encodePhase1Sa,
  encodeSaBody,
  encodePhase2Sa,
  formatPhase1Spec,
  formatPhase2Spec,
} from './sa-payload.js';
import type { V1Phase1Spec, V1Phase2Spec } from './sa-payload.js';
import { idFromTs, tsFromId } from './ts-id.js';
import { Transactions } from './transaction.js';
import type { XauthCredentials } from './transaction.js';

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
interface Outstanding {
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
interface IsakmpSa {
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

interface ChildV1 {
  inboundSpi: number;
  outboundSpi: number;
  spec: V1Phase2Spec;
  tsLocal: TrafficSelector;
  tsRemote: TrafficSelector;
  replaced: boolean;
}

const NONCE_LENGTH = 32;
const DPD_WHAT = 'dead peer detection (R-U-THERE)';
/** How long the replaced ISAKMP SA lives on after a phase 1 rekey (see finishIkeRekey). */
const RETIRE_DELAY_MS = 2000;

function newSa(cookieI: Uint8Array): IsakmpSa {
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

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0);
  return b;
}

function readU32(b: Uint8Array): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0);
}

export class Ikev1Session {
  readonly cfg: Ikev1SessionConfig;
  private readonly random: Random;
  readonly log: Logger;
  readonly counters: IkeCounters = emptyIkeCounters();
  private st: IkeState = 'created';
  private out: IkeOutput[] = [];
  now = 0;
  private local: Endpoint = { address: '0.0.0.0', port: 0 };
  private remote: Endpoint = { address: '0.0.0.0', port: 500 };
  private natT = false;
  private natHere = false;
  private natThere = false;
  /** The ISAKMP SA in use, and one being built by a phase 1 rekey. */
  sa: IsakmpSa;
  private nextSa: IsakmpSa | undefined;
  /** The ISAKMP SA a phase 1 rekey replaced, until its DELETE goes out. */
  private retiring: IsakmpSa | undefined;
  private outstanding: Outstanding | undefined;
  private readonly children: ChildV1[] = [];
  private config: ConfigReply = { dns4: [], dns6: [], domains: [], subnets: [], unknown: [] };
  private vip: Uint8Array | undefined;
  /** Where the connection stands while connecting: what runs after phase 1. */
  private step: 'phase1' | 'xauth' | 'modecfg' | 'quick' | 'done' = 'phase1';
  private readonly tx: Transactions;
  private lastAlive = 0;
  private dpdSeq = 0;
  private dpdSeqs: number[] = [];
  /** Quick Mode in flight (ours): its nonce, key exchange and SPI. */
  private qm:
    { mid: number; ni: Uint8Array; ke?: KeyExchange; spi: number; rekeyOf?: ChildV1 } | undefined;
  /** The gateway's Quick Mode we answered, waiting for its HASH(3). */
  /** The lifetime of our newest IPsec SA as the gateway accepted it (0: unknown). */
  private childLifeMs = 0;
  private peerQm:
    | {
        mid: number;
        ni: Uint8Array;
        nr: Uint8Array;
        spi: number;
        peerSpi: number;
        spec: V1Phase2Spec;
        tsLocal: TrafficSelector;
        tsRemote: TrafficSelector;
        gqm?: Uint8Array;
      }
    | undefined;
  /** Our last QM3 and the QM2 it answered (a retransmitted QM2 gets it again). */
  private lastQm: { qm2: Uint8Array; qm3: Uint8Array } | undefined;
  private dropTotal = 0;

  constructor(cfg: Ikev1SessionConfig, random: Random, logger: Logger = NOOP_LOGGER) {
    if (cfg.phase1.length === 0) throw new VpnError('ERR_CONFIG', 'no IKEv1 phase 1 proposal');
    if (cfg.phase2.length === 0)
      throw new VpnError('ERR_CONFIG', 'no IKEv1 phase 2 (ESP) proposal');
    if (cfg.aggressive && cfg.auth.kind !== 'psk')
      throw new VpnError(
        'ERR_CONFIG',
        'IKEv1 Aggressive Mode is supported with a pre-shared key only',
      );
    authMethodFor(cfg.auth, cfg.xauth !== undefined); // ERR_CONFIG for EAP and unusable keys
    this.cfg = cfg;
    this.random = random;
    this.log = logger;
    this.sa = newSa(this.randomNonZero(8));
    this.tx = new Transactions(this);
  }

  // -------------------------------------------------------------------------------------------
  // The driver's view (contract 3)

  get state(): IkeState {
    return this.st;
  }

  get remoteEndpoint(): Endpoint {
    return this.remote;
  }

  get isNatHere(): boolean {
    return this.natHere;
  }

  get usesNatT(): boolean {
    return this.natT;
  }

  /** IKEv1 fragmentation and MOBIKE are not implemented. */
  get peerSupportsFragmentation(): boolean {
    return false;
  }

  get peerSupportsMobike(): boolean {
    return false;
  }

  private timeoutFor(tries: number): number {
    const r = this.cfg.retransmit;
    return Math.min(r.maxTimeoutMs, r.timeoutMs * Math.pow(r.base, tries));
  }

  totalTimeoutMs(): number {
    let t = 0;
    for (let i = 0; i <= this.cfg.retransmit.tries; i++) t += this.timeoutFor(i);
    return t;
  }

  /** Feeds one input; returns what the driver must do, in order. Never throws on bad peer input. */
  handle(input: IkeInput, now: number): IkeOutput[] {
    this.now = now;
    this.out = [];
    try {
      switch (input.kind) {
        case 'start':
          this.start(input.local, input.remote);
          break;
        case 'datagram':
          this.onDatagram(input.data, input.from);
          break;
        case 'timer':
          this.onTimer(input.timer);
          break;
        case 'close':
          this.close();
          break;
        case 'activity':
          this.lastAlive = Math.max(this.lastAlive, input.at);
          break;
        case 'probe':
          if (this.st === 'established' && !this.outstanding) this.sendDpd();
          break;
        case 'wake':
          if (this.st === 'established') {
            if (!this.outstanding) this.sendDpd();
            // The answer must come within the budget (RFC 3706 §5.5: a silent peer is dead).
            if (this.outstanding) {
              this.outstanding.tries = Math.max(this.outstanding.tries, this.cfg.retransmit.tries);
              this.push({ kind: 'setTimer', timer: 'retransmit', at: now + input.budgetMs });
            }
          }
          break;
        case 'rekeyChild':
          this.startChildRekey();
          break;
        case 'localAddress':
          this.local = input.local;
          break;
        case 'eapResponse':
        case 'eapFailed':
          break;
      }
    } catch (e) {
      const err = isVpnError(e)
        ? e
        : new VpnError('ERR_IKE_PROTOCOL', `internal error: ${(e as Error).message}`, { cause: e });
      this.fail(err);
    }
    return this.out;
  }

  // -------------------------------------------------------------------------------------------
  // Shared steps

  push(o: IkeOutput): void {
    this.out.push(o);
  }

  emit(event: IkeEvent): void {
    this.out.push({ kind: 'event', event });
  }

  private setState(state: IkeState, detail?: string): void {
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

  private newSpi(): number {
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

  private settle(): void {
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

  private notify(
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

  private cookies(sa: IsakmpSa): Uint8Array {
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

  private finishClose(error: VpnError | undefined, byPeer: boolean): void {
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
  private sendDeletes(): void {
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

  private close(): void {
    if (this.st === 'closed') return;
    if (this.sa.ready) {
      this.setState('deleting');
      this.sendDeletes();
    }
    if (this.retiring) this.retireOld();
    this.finishClose(undefined, false);
  }

  // -------------------------------------------------------------------------------------------
  // Phase 1: Main Mode and Aggressive Mode (RFC 2409 §5)

  private start(local: Endpoint, remote: Endpoint): void {
    if (this.st !== 'created') return;
    this.local = local;
    this.remote = remote;
    this.lastAlive = this.now;
    this.setState('connecting');
    this.startPhase1(this.sa);
  }

  private vendorIds(): V1PayloadAny[] {
    const hex: string[] = [
      VendorId.NATT_RFC,
      VendorId.NATT_DRAFT_03,
      VendorId.NATT_DRAFT_02N,
      VendorId.DPD,
    ];
    if (this.cfg.xauth) hex.push(VendorId.XAUTH);
    if (this.cfg.modeConfig) hex.push(VendorId.UNITY);
    return hex.map((h) => ({
      kind: 'data',
      type: P.VENDOR_ID,
      data: new Uint8Array(Buffer.from(h, 'hex')),
    }));
  }

  private readVendorIds(sa: IsakmpSa, payloads: V1PayloadAny[]): void {
    for (const v of allData(payloads, P.VENDOR_ID)) {
      const h = toHex(v);
      if (h === VendorId.NATT_RFC) sa.peer.nattRfc = true;
      else if (h === VendorId.NATT_DRAFT_02N || h === VendorId.NATT_DRAFT_03)
        sa.peer.nattDraft = true;
      else if (h === VendorId.DPD) sa.peer.dpd = true;
      else if (h === VendorId.XAUTH) sa.peer.xauth = true;
      else if (h.startsWith(VendorId.UNITY.slice(0, 28))) sa.peer.unity = true;
    }
    sa.natdType = sa.peer.nattRfc || !sa.peer.nattDraft ? P.NAT_D : P.NAT_D_DRAFT;
  }

  private idPayload(): V1IdPayload {
    // RFC 2407 §4.6.2: protocol and port 0 in phase 1 (we do not restrict them).
    const id = this.cfg.localId;
    return { kind: 'id', type: P.ID, idType: id.type, protocol: 0, port: 0, data: id.data };
  }

  private idBody(p: V1IdPayload): Uint8Array {
    return concatBytes(Uint8Array.of(p.idType, p.protocol, p.port >> 8, p.port & 0xff), p.data);
  }

  private startPhase1(sa: IsakmpSa): void {
    const cfg = this.cfg;
    sa.authMethod = authMethodFor(cfg.auth, cfg.xauth !== undefined);
    if (cfg.aggressive) {
      // RFC 2409 §5: the KE goes out with the SA, so every transform offered shares its group.
      const group = cfg.phase1[0]!.group;
      const specs = cfg.phase1.filter((s) => s.group === group);
      sa.saBody = encodePhase1Sa(specs, sa.authMethod);
      sa.ke = createKeyExchange(group, this.random);
      sa.ni = this.random.bytes(NONCE_LENGTH);
      this.log.warn(
        'ike',
        'IKEv1 Aggressive Mode sends a hash of the pre-shared key that an eavesdropper can attack offline',
      );
      this.emit({ type: 'stage', stage: 'ike-sa-init' }); // phase 1 (Aggressive Mode)
      const msg = this.plain(sa, X.AGGRESSIVE, [
        { kind: 'data', type: P.SA, data: sa.saBody },
        { kind: 'data', type: P.KE, data: sa.ke.publicValue },
        { kind: 'data', type: P.NONCE, data: sa.ni },
        this.idPayload(),
        ...this.vendorIds(),
      ]);
      this.request({
        exchange: X.AGGRESSIVE,
        mid: 0,
        data: msg,
        what: 'Aggressive Mode message 1',
        sa,
        onReply: (h, c) => this.onAm2(sa, h, c, specs),
      });
      return;
    }
    sa.saBody = encodePhase1Sa(cfg.phase1, sa.authMethod);
    this.emit({ type: 'stage', stage: 'ike-sa-init' }); // phase 1 (Main Mode)
    const msg = this.plain(sa, X.MAIN_MODE, [
      { kind: 'data', type: P.SA, data: sa.saBody },
      ...this.vendorIds(),
    ]);
    this.request({
      exchange: X.MAIN_MODE,
      mid: 0,
      data: msg,
      what: 'Main Mode message 1',
      sa,
      onReply: (h, c) => this.onMm2(sa, h, c),
    });
  }

  private plain(sa: IsakmpSa, exchange: number, payloads: V1PayloadAny[]): Uint8Array {
    const { first, bytes } = encodeV1Chain(payloads);
    return encodeV1Message(
      { cookieI: sa.cookieI, cookieR: sa.cookieR, exchangeType: exchange, flags: 0, messageId: 0 },
      first,
      bytes,
    );
  }

  /** RFC 3947 §3.2: NAT-D = HASH(CKY-I | CKY-R | IP | Port), with the phase 1 hash. */
  private natd(sa: IsakmpSa, ep: Endpoint): Uint8Array {
    const port = Uint8Array.of(ep.port >> 8, ep.port & 0xff);
    return v1Hash(
      sa.spec!.hash,
      concatBytes(sa.cookieI, sa.cookieR, parseIpAddress(ep.address), port),
    );
  }

  /** Our NAT-D payloads: the gateway's address first, then ours (faked with forceEncap). */
  private natdPayloads(sa: IsakmpSa): V1PayloadAny[] {
    const mine = this.cfg.forceEncap
      ? this.random.bytes(v1Hash(sa.spec!.hash, new Uint8Array(0)).length)
      : this.natd(sa, this.local);
    return [
      { kind: 'data', type: sa.natdType, data: this.natd(sa, this.remote) },
      { kind: 'data', type: sa.natdType, data: mine },
    ];
  }

  /** RFC 3947 §3.2: is there a NAT before us or before the gateway? Then float to 4500 (§4). */
  private detectNat(sa: IsakmpSa, payloads: V1PayloadAny[]): void {
    if (!sa.peer.nattRfc && !sa.peer.nattDraft) return;
    const list = payloads
      .filter((p) => p.kind === 'data' && (p.type === P.NAT_D || p.type === P.NAT_D_DRAFT))
      .map((p) => (p as { data: Uint8Array }).data);
    if (list.length < 2) return;
    const [dst, ...srcs] = list;
    this.natHere = !equalBytes(dst!, this.natd(sa, this.local));
    const them = this.natd(sa, this.remote);
    this.natThere = !srcs.some((s) => equalBytes(s, them));
    this.emit({ type: 'nat', natHere: this.natHere, natThere: this.natThere });
    if ((this.natHere || this.natThere) && !this.natT) {
      this.natT = true;
      this.remote = { address: this.remote.address, port: 4500 };
      this.log.info(
        'ike',
        `NAT detected (${this.natHere ? 'here' : 'at the gateway'}): moving to UDP port 4500 (RFC 3947 §4)`,
      );
    }
  }

  private onMm2(sa: IsakmpSa, h: V1Header, c: V1Chain): void {
    const sab = findData(c.payloads, P.SA);
    if (!sab) return this.dropPhase1(c, 'Main Mode message 2 without an SA payload');
    if (h.cookieR.every((b) => b === 0)) return this.drop('zero responder cookie');
    const spec = decodePhase1Choice(sab, this.cfg.phase1, sa.authMethod);
    this.settle();
    sa.cookieR = h.cookieR.slice();
    sa.spec = spec;
    this.readVendorIds(sa, c.payloads);
    sa.ke = createKeyExchange(spec.group, this.random);
    sa.ni = this.random.bytes(NONCE_LENGTH);
    const payloads: V1PayloadAny[] = [
      { kind: 'data', type: P.KE, data: sa.ke.publicValue },
      { kind: 'data', type: P.NONCE, data: sa.ni },
    ];
    if (baseMethod(sa.authMethod) !== AuthMethodV1.PSK && this.cfg.gatewayAuth.certs) {
      // RFC 2408 §3.10: a CERTREQ without a CA asks for the gateway's X.509 certificate.
      const cr: V1CertPayload = {
        kind: 'cert',
        type: P.CERTREQ,
        encoding: V1CertEncoding.X509_SIG,
        data: new Uint8Array(0),
      };
      payloads.push(cr);
    }
    if (sa.peer.nattRfc || sa.peer.nattDraft) payloads.push(...this.natdPayloads(sa));
    const msg = this.plain(sa, X.MAIN_MODE, payloads);
    this.request({
      exchange: X.MAIN_MODE,
      mid: 0,
      data: msg,
      what: 'Main Mode message 3',
      sa,
      onReply: (h2, c2) => this.onMm4(sa, h2, c2),
    });
  }

  private deriveKeys(sa: IsakmpSa, gxr: Uint8Array): void {
    const spec = sa.spec!;
    let gxy: Uint8Array;
    try {
      gxy = sa.ke!.computeSharedSecret(gxr);
    } catch (e) {
      throw new VpnError(
        'ERR_IKE_PROTOCOL',
        `the gateway's key exchange value is invalid: ${(e as Error).message}`,
      );
    }
    sa.gxr = gxr.slice();
    const psk = this.cfg.auth.kind === 'psk' ? this.cfg.auth.psk : undefined;
    const keys = derivePhase1Keys({
      hash: spec.hash,
      auth: psk ? { kind: 'psk', psk } : { kind: 'sig' },
      ni: sa.ni,
      nr: sa.nr,
      gxy,
      cookieI: sa.cookieI,
      cookieR: sa.cookieR,
      encr: spec.encr,
      ...(spec.keyBits === undefined ? {} : { keyBits: spec.keyBits }),
    });
    gxy.fill(0);
    sa.keymat = new V1Keymat(
      keys,
      spec.hash,
      authHashFor(spec.hash, baseMethod(sa.authMethod)),
      spec.encr,
      sa.ke!.publicValue,
      gxr,
    );
  }

  private onMm4(sa: IsakmpSa, _h: V1Header, c: V1Chain): void {
    const ke = findData(c.payloads, P.KE);
    const nr = findData(c.payloads, P.NONCE);
    if (!ke || !nr) return this.dropPhase1(c, 'Main Mode message 4 without KE and nonce');
    if (nr.length < 8 || nr.length > 256)
      return this.drop('bad nonce', `nonce of ${nr.length} bytes`);
    this.settle();
    sa.nr = nr.slice();
    this.deriveKeys(sa, ke);
    if (sa === this.sa) this.detectNat(sa, c.payloads);
    // MM5: IDii, [CERT], HASH_I | SIG_I, encrypted (RFC 2409 §5.1, §5.4).
    const id = this.idPayload();
    const payloads: V1PayloadAny[] = [id, ...this.authPayloads(sa, this.idBody(id))];
    const msg = this.seal(sa, X.MAIN_MODE, 0, payloads);
    this.request({
      exchange: X.MAIN_MODE,
      mid: 0,
      data: msg,
      what: 'Main Mode message 5',
      sa,
      onReply: (h2, c2) => this.onMm6(sa, h2, c2),
      onTimeout: (o) => this.authTimeout(o.what),
    });
  }

  /** HASH_I, or our certificates and SIG_I (RFC 2409 §5). */
  private authPayloads(sa: IsakmpSa, idiiB: Uint8Array): V1PayloadAny[] {
    const km = sa.keymat!;
    const hashI = phase1Hash(
      km.authHash,
      km.skeyid,
      'I',
      sa.ke!.publicValue,
      sa.gxr,
      sa.cookieI,
      sa.cookieR,
      sa.saBody,
      idiiB,
    );
    const auth = this.cfg.auth;
    if (auth.kind !== 'pubkey') return [{ kind: 'data', type: P.HASH, data: hashI }];
    const certs: V1PayloadAny[] = auth.certs.map((d) => ({
      kind: 'cert',
      type: P.CERT,
      encoding: V1CertEncoding.X509_SIG,
      data: d,
    }));
    return [...certs, { kind: 'data', type: P.SIG, data: signV1(auth.key, sa.authMethod, hashI) }];
  }

  /** No answer to our authentication: with a PSK, the gateway could not decrypt it (wrong key). */
  private authTimeout(what: string, why = `no valid answer to ${what}`): VpnError {
    if (this.cfg.auth.kind === 'psk')
      return new VpnError(
        'ERR_IKE_AUTH_FAILED',
        `the gateway did not accept our authentication (${why}): the pre-shared key (or our identity) is probably wrong`,
      );
    return new VpnError(
      'ERR_IKE_AUTH_FAILED',
      `the gateway did not accept our authentication (${why})`,
    );
  }

  /**
   * While our authentication (MM5 / AM3) is outstanding, an encrypted Informational from the
   * gateway that our keys cannot open or verify means the keys differ: strongSwan answers an MM5
   * it cannot decrypt with N(PAYLOAD_MALFORMED) under its own keys. With a PSK that is a wrong
   * key; fail now rather than after the whole retransmission schedule.
   */
  private keysDiffer(sa: IsakmpSa, h: V1Header): boolean {
    const o = this.outstanding;
    if (!o || o.sa !== sa || !o.onTimeout || sa.ready || h.exchangeType !== X.INFORMATIONAL)
      return false;
    if (sa === this.nextSa) {
      this.nextSa = undefined;
      this.outstanding = undefined;
      this.log.warn('ike', 'phase 1 rekey: the gateway could not read our authentication');
      return true;
    }
    this.finishCloseWith(
      this.authTimeout(
        o.what,
        `it answered ${o.what} with a message our keys cannot open or verify`,
      ),
    );
    return true;
  }

  /** HASH_R or the gateway's certificate and SIG_R, and its identity (RFC 2409 §5). */
  private verifyGateway(sa: IsakmpSa, payloads: V1PayloadAny[], idr: V1IdPayload): boolean {
    const km = sa.keymat!;
    const gwId: Identity = { type: idr.idType, data: idr.data };
    sa.gwId = gwId;
    if (this.cfg.remoteId && !sameIdentity(gwId, this.cfg.remoteId)) {
      this.fail(
        new VpnError(
          'ERR_IKE_AUTH_FAILED',
          `gateway identified as "${formatIdentity(gwId)}", expected "${formatIdentity(this.cfg.remoteId)}"`,
        ),
      );
      return false;
    }
    const hashR = phase1Hash(
      km.authHash,
      km.skeyid,
      'R',
      sa.ke!.publicValue,
      sa.gxr,
      sa.cookieI,
      sa.cookieR,
      sa.saBody,
      this.idBody(idr),
    );
    if (baseMethod(sa.authMethod) === AuthMethodV1.PSK) {
      const got = findData(payloads, P.HASH);
      if (!got || !equalBytes(got, hashR)) {
        this.fail(
          new VpnError(
            'ERR_IKE_AUTH_FAILED',
            "the gateway's HASH_R does not match our pre-shared key: the PSKs differ (or someone is in the middle)",
          ),
        );
        return false;
      }
      return true;
    }
    const policy = this.cfg.gatewayAuth;
    if (!policy.certs) {
      this.fail(
        new VpnError(
          'ERR_IKE_AUTH_FAILED',
          'the gateway authenticated with a certificate; this connection has no trust anchors for it',
        ),
      );
      return false;
    }
    const certs = payloads
      .filter(
        (p): p is V1CertPayload =>
          p.kind === 'cert' && p.type === P.CERT && p.encoding === V1CertEncoding.X509_SIG,
      )
      .slice(0, 8)
      .map((p) => p.data);
    const sig = findData(payloads, P.SIG);
    if (certs.length === 0 || !sig) {
      this.fail(
        new VpnError(
          'ERR_CERT',
          'the gateway sent no X.509 certificate and signature; we cannot check its identity',
        ),
      );
      return false;
    }
    const checked = policy.certs.validate(certs, gwId, this.now);
    if (!checked.ok) {
      this.fail(checked.error);
      return false;
    }
    const v = verifyV1(checked.publicKey, sa.authMethod, hashR, sig);
    if (!v.ok) {
      this.fail(
        new VpnError(
          'ERR_IKE_AUTH_FAILED',
          `the gateway's signature does not verify with the key of "${checked.subject}": ${v.reason}`,
        ),
      );
      return false;
    }
    this.log.info('ike', `gateway authenticated by certificate "${checked.subject}"`);
    return true;
  }

  private onMm6(sa: IsakmpSa, _h: V1Header, c: V1Chain): void {
    const idr = c.payloads.find((p): p is V1IdPayload => p.kind === 'id');
    if (!idr) return this.dropPhase1(c, 'Main Mode message 6 without IDir');
    this.settle();
    if (!this.verifyGateway(sa, c.payloads, idr)) return;
    // Accepted: MM6's last block is the phase 1 IV from which later exchanges start.
    this.acceptIv();
    this.phase1Done(sa);
  }

  private onAm2(sa: IsakmpSa, h: V1Header, c: V1Chain, specs: V1Phase1Spec[]): void {
    const sab = findData(c.payloads, P.SA);
    const ke = findData(c.payloads, P.KE);
    const nr = findData(c.payloads, P.NONCE);
    const idr = c.payloads.find((p): p is V1IdPayload => p.kind === 'id');
    if (!sab || !ke || !nr || !idr)
      return this.dropPhase1(c, 'Aggressive Mode message 2 lacks SA, KE, nonce or ID');
    if (nr.length < 8 || nr.length > 256)
      return this.drop('bad nonce', `nonce of ${nr.length} bytes`);
    const spec = decodePhase1Choice(sab, specs, sa.authMethod);
    this.settle();
    sa.cookieR = h.cookieR.slice();
    sa.spec = spec;
    sa.nr = nr.slice();
    this.readVendorIds(sa, c.payloads);
    this.deriveKeys(sa, ke);
    if (!this.verifyGateway(sa, c.payloads, idr)) return;
    this.detectNat(sa, c.payloads);
    // AM3: HASH_I and our NAT-D, encrypted (RFC 2409 §5, RFC 3947 §4: already on port 4500).
    const id = this.idPayload();
    const payloads: V1PayloadAny[] = [...this.authPayloads(sa, this.idBody(id))];
    if (sa.peer.nattRfc || sa.peer.nattDraft) payloads.push(...this.natdPayloads(sa));
    const am3 = this.seal(sa, X.AGGRESSIVE, 0, payloads);
    this.transmit(am3);
    // A retransmitted AM2 means the gateway lost AM3: answer it again.
    sa.lastOut = am3;
    this.phase1Done(sa);
  }

  /** Phase 1 refusals arrive as unprotected Informationals; anything else unexpected is dropped. */
  private dropPhase1(_c: V1Chain, why: string): void {
    this.drop('malformed phase 1 message', why);
  }

  private phase1Done(sa: IsakmpSa): void {
    sa.ready = true;
    this.lastAlive = this.now;
    this.log.info(
      'ike',
      `ISAKMP SA established with ${formatIdentity(sa.gwId!)} (${formatPhase1Spec(sa.spec!)})`,
    );
    if (sa !== this.sa) {
      this.finishIkeRekey(sa);
      return;
    }
    if (this.cfg.initialContact !== false) {
      // RFC 2407 §4.6.3.3: INITIAL-CONTACT, protected, with both cookies as the SPI.
      this.sendInformational(sa, [
        this.notify(V1Notify.INITIAL_CONTACT, V1Protocol.ISAKMP, this.cookies(sa)),
      ]);
    }
    this.afterPhase1();
  }

  private afterPhase1(): void {
    if (this.cfg.xauth) {
      this.step = 'xauth';
      this.emit({ type: 'stage', stage: 'ike-auth' }); // XAUTH, then Mode Config and Quick Mode
      // The gateway starts XAUTH (draft-beaulieu-ike-xauth-02 §2.1); give it the usual time.
      this.push({ kind: 'setTimer', timer: 'retransmit', at: this.now + this.totalTimeoutMs() });
      return;
    }
    this.afterXauth();
  }

  /** XAUTH succeeded (or was not configured): Mode Config, then Quick Mode. */
  afterXauth(): void {
    if (this.cfg.modeConfig) {
      this.step = 'modecfg';
      this.tx.startModeConfig(this.sa);
      return;
    }
    this.startQuickMode();
  }

  /** Mode Config answered: keep the virtual IP and DNS, then Quick Mode. */
  modeConfigDone(config: ConfigReply, ip4: string | undefined): void {
    this.config = config;
    if (ip4) this.vip = parseIpAddress(ip4);
    this.startQuickMode();
  }

  // -------------------------------------------------------------------------------------------
  // Quick Mode (RFC 2409 §5.5)

  private encapsulation(): number {
    if (!this.natT) return V1EncapMode.TUNNEL;
    return this.sa.peer.nattRfc ? V1EncapMode.UDP_TUNNEL : V1EncapMode.UDP_TUNNEL_DRAFT;
  }

  private selectors(): { local: TrafficSelector; remote: TrafficSelector } {
    const remote = this.cfg.tsRemote[0];
    let local = this.cfg.tsLocal[0];
    if (!remote || !local)
      throw new VpnError(
        'ERR_CONFIG',
        'IKEv1 Quick Mode needs a local and a remote traffic selector',
      );
    if (this.vip && this.vip.length === local.startAddr.length) {
      // With Mode Config our side of the tunnel is the virtual IP (RFC 2409 §5.5 IDci).
      local = { ...local, startAddr: this.vip, endAddr: this.vip };
    }
    return { local, remote };
  }

  private startQuickMode(rekeyOf?: ChildV1): void {
    this.step = rekeyOf ? this.step : 'quick';
    if (!rekeyOf && !this.cfg.xauth) this.emit({ type: 'stage', stage: 'ike-auth' });
    if (!this.natT && !this.cfg.forceEncap)
      this.log.warn(
        'ike',
        'no NAT between us and the gateway, and UDP encapsulation not forced: ESP needs it',
      );
    const sa = this.sa;
    const mid = this.newMid();
    const spi = this.newSpi();
    const ni = this.random.bytes(NONCE_LENGTH);
    const pfs = this.cfg.phase2[0]!.pfsGroup;
    const ke = pfs === undefined ? undefined : createKeyExchange(pfs, this.random);
    const { local, remote } = rekeyOf
      ? { local: rekeyOf.tsLocal, remote: rekeyOf.tsRemote }
      : this.selectors();
    const rest: V1PayloadAny[] = [
      {
        kind: 'data',
        type: P.SA,
        data: encodePhase2Sa(this.cfg.phase2, spi, this.encapsulation()),
      },
      { kind: 'data', type: P.NONCE, data: ni },
    ];
    if (ke) rest.push({ kind: 'data', type: P.KE, data: ke.publicValue });
    rest.push(idFromTs(local), idFromTs(remote));
    this.qm = { mid, ni, spi, ...(ke ? { ke } : {}), ...(rekeyOf ? { rekeyOf } : {}) };
    const msg = this.sealHashed(sa, X.QUICK_MODE, mid, rest);
    this.request({
      exchange: X.QUICK_MODE,
      mid,
      data: msg,
      what: rekeyOf ? 'Quick Mode rekey' : 'Quick Mode message 1',
      sa,
      onReply: (h, c, plain) => this.onQm2(h, c, plain, local, remote),
    });
  }

  private onQm2(
    h: V1Header,
    c: V1Chain,
    plain: Uint8Array,
    localTs: TrafficSelector,
    remoteTs: TrafficSelector,
  ): void {
    let local = localTs;
    let remote = remoteTs;
    const qm = this.qm!;
    const sa = this.sa;
    const km = sa.keymat!;
    const first = c.payloads[0];
    const rest = plain.subarray(c.spans[0]?.[1] ?? 0, c.end);
    if (
      !first ||
      first.kind !== 'data' ||
      first.type !== P.HASH ||
      !equalBytes(first.data, qmHash2(km.hash, km.skeyidA, h.messageId, qm.ni, rest))
    ) {
      // An error notification in place of QM2 comes as a separate Informational.
      return this.drop('bad Quick Mode HASH(2)');
    }
    const sab = findData(c.payloads, P.SA);
    const nr = findData(c.payloads, P.NONCE);
    if (!sab || !nr) return this.drop('Quick Mode message 2 lacks SA or nonce');
    if (nr.length < 8 || nr.length > 256)
      return this.drop('bad nonce', `nonce of ${nr.length} bytes`);
    this.settle();
    // HASH(2) verified: QM3 continues this message ID's IV chain from QM2's last block.
    this.acceptIv();
    const { spec, spi: peerSpi } = decodePhase2Choice(sab, this.cfg.phase2, this.encapsulation());
    let gqm: Uint8Array | undefined;
    if (qm.ke) {
      const ke = findData(c.payloads, P.KE);
      if (!ke)
        throw new VpnError(
          'ERR_IKE_NO_PROPOSAL',
          'the gateway answered our PFS Quick Mode without a KE payload',
        );
      try {
        gqm = qm.ke.computeSharedSecret(ke);
      } catch (e) {
        throw new VpnError(
          'ERR_IKE_PROTOCOL',
          `the gateway's Quick Mode key exchange value is invalid: ${(e as Error).message}`,
        );
      }
    }
    // IDci / IDcr, when the gateway sends them (RFC 2409 §5.5): ours, or narrowed within ours as
    // strongSwan's responder does; never wider.
    const ids = c.payloads.filter((p): p is V1IdPayload => p.kind === 'id');
    if (ids.length === 2) {
      const [ci, cr] = ids.map((i) => tsFromId(i));
      const problem =
        checkNarrowed([local], [ci!], 'local') ?? checkNarrowed([remote], [cr!], 'remote');
      if (problem)
        throw new VpnError(
          'ERR_IKE_TS_UNACCEPTABLE',
          `Quick Mode: the gateway ${problem.replace('responder ', '')} (${formatTs(ci!)} === ${formatTs(cr!)})`,
        );
      local = ci!;
      remote = cr!;
    }
    // HASH(3), then the keys (RFC 2409 §5.5).
    const qm3 = this.seal(sa, X.QUICK_MODE, h.messageId, [
      { kind: 'data', type: P.HASH, data: qmHash3(km.hash, km.skeyidA, h.messageId, qm.ni, nr) },
    ]);
    this.transmit(qm3);
    this.lastQm = { qm2: this.lastDatagram!, qm3 };
    km.forget(h.messageId);
    const len = spec.keyBits / 8 + 4; // AES-GCM key + 4-byte salt (RFC 4106 §8.1)
    const inKey = quickModeKeymat(km.hash, km.skeyidD, V1Protocol.ESP, qm.spi, qm.ni, nr, len, gqm);
    const outKey = quickModeKeymat(
      km.hash,
      km.skeyidD,
      V1Protocol.ESP,
      peerSpi,
      qm.ni,
      nr,
      len,
      gqm,
    );
    gqm?.fill(0);
    // RFC 2407 §4.6.3.1: the gateway may shorten the lifetime in a RESPONDER-LIFETIME notify (as
    // it may in its SA choice); we then rekey before it expires there.
    let lifeS = spec.lifeSeconds;
    for (const n of c.payloads) {
      if (n.kind !== 'notify' || n.notifyType !== V1Notify.RESPONDER_LIFETIME) continue;
      try {
        lifeS = decodeResponderLifetime(n.data, 2, lifeS).lifeSeconds;
      } catch (e) {
        this.log.warn('ike', `ignored a malformed RESPONDER-LIFETIME: ${(e as Error).message}`);
      }
    }
    this.childLifeMs = lifeS * 1000;
    const child: ChildV1 = {
      inboundSpi: qm.spi,
      outboundSpi: peerSpi,
      spec,
      tsLocal: local,
      tsRemote: remote,
      replaced: false,
    };
    const info: ChildSaInfo = {
      inbound: {
        spi: qm.spi,
        encrId: spec.encrId,
        keymat: inKey,
        replayWindow: this.cfg.replayWindow,
      },
      outbound: { spi: peerSpi, encrId: spec.encrId, keymat: outKey },
      tsLocal: [local],
      tsRemote: [remote],
      proposal: formatPhase2Spec(spec),
    };
    this.push({ kind: 'installChild', child: info });
    this.children.push(child);
    const old = qm.rekeyOf;
    this.qm = undefined;
    if (old) {
      // Make before break: the new SA is installed, now DELETE the old one (RFC 2409 §5.5).
      old.replaced = true;
      this.deleteChild(old);
      this.counters.childRekeys++;
      this.emit({ type: 'rekeyed', what: 'child', by: 'us', proposal: info.proposal });
      this.armChildRekey();
      return;
    }
    this.onEstablished(child);
  }

  /**
   * The gateway's Quick Mode (it rekeys the IPsec SA, RFC 2409 §5.5), as responder:
   *   <-- HASH(1), SA, Ni, [KE], [IDci, IDcr]    HASH(2), SA, Nr, [KE], [IDci, IDcr] -->
   *   <-- HASH(3)   then the new SA is installed; the gateway deletes the old one.
   */
  private onPeerQuickMode(sa: IsakmpSa, h: V1Header, c: V1Chain, plain: Uint8Array): void {
    const km = sa.keymat!;
    const mid = h.messageId;
    const first = c.payloads[0];
    const rest = plain.subarray(c.spans[0]?.[1] ?? 0, c.end);
    const pend = this.peerQm;
    if (pend && pend.mid === mid) {
      // QM3: HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b).
      if (
        !first ||
        first.kind !== 'data' ||
        first.type !== P.HASH ||
        !equalBytes(first.data, qmHash3(km.hash, km.skeyidA, mid, pend.ni, pend.nr))
      ) {
        this.rejectIv();
        return this.drop('bad Quick Mode HASH(3)');
      }
      this.acceptIv();
      km.forget(mid);
      this.peerQm = undefined;
      this.installPeerChild(pend);
      return;
    }
    if (this.st !== 'established') {
      this.rejectIv();
      return this.drop('Quick Mode from the gateway before we are established');
    }
    if (
      !first ||
      first.kind !== 'data' ||
      first.type !== P.HASH ||
      !equalBytes(first.data, hashMid(km.hash, km.skeyidA, mid, rest))
    ) {
      this.rejectIv();
      return this.drop('bad Quick Mode HASH(1)');
    }
    const sab = findData(c.payloads, P.SA);
    const ni = findData(c.payloads, P.NONCE);
    if (!sab || !ni || ni.length < 8 || ni.length > 256) {
      this.rejectIv();
      return this.drop('Quick Mode message 1 lacks SA or nonce');
    }
    this.acceptIv();
    const encap = this.encapsulation();
    // Each of the gateway's ESP transforms on its own, against ours (any lifetime it wants).
    const offered = this.cfg.phase2.map((x) => ({ ...x, lifeSeconds: 0xffffffff }));
    let chosen: { spec: V1Phase2Spec; spi: number } | undefined;
    try {
      for (const prop of decodeSaBody(sab).proposals) {
        for (const t of prop.transforms) {
          try {
            chosen = decodePhase2Choice(
              encodeSaBody({ proposals: [{ ...prop, num: 1, transforms: [t] }] }),
              offered,
              encap,
            );
            break;
          } catch {
            // not one of ours: try the next
          }
        }
        if (chosen) break;
      }
    } catch (e) {
      return this.drop('malformed Quick Mode SA', (e as Error).message);
    }
    if (!chosen) {
      this.log.warn('ike', "the gateway's Quick Mode offers no ESP transform we accept");
      this.sendInformational(sa, [
        this.notify(V1Notify.NO_PROPOSAL_CHOSEN, V1Protocol.ESP, new Uint8Array(0)),
      ]);
      km.forget(mid);
      return;
    }
    const spec = chosen.spec;
    const cur = this.children.find((x) => !x.replaced);
    const ids = c.payloads.filter((p): p is V1IdPayload => p.kind === 'id');
    let tsLocal: TrafficSelector;
    let tsRemote: TrafficSelector;
    try {
      // The gateway initiates: its IDci is its side, IDcr ours.
      tsRemote = ids.length === 2 ? tsFromId(ids[0]!) : cur!.tsRemote;
      tsLocal = ids.length === 2 ? tsFromId(ids[1]!) : cur!.tsLocal;
    } catch (e) {
      return this.drop('bad Quick Mode identities', (e as Error).message);
    }
    const spi = this.newSpi();
    const nr = this.random.bytes(NONCE_LENGTH);
    let gqm: Uint8Array | undefined;
    let ourKe: Uint8Array | undefined;
    const theirKe = findData(c.payloads, P.KE);
    if (spec.pfsGroup !== undefined) {
      if (!theirKe) return this.drop('PFS Quick Mode without a KE payload');
      const ke = createKeyExchange(spec.pfsGroup, this.random);
      try {
        gqm = ke.computeSharedSecret(theirKe);
      } catch (e) {
        return this.drop('bad Quick Mode KE', (e as Error).message);
      }
      ourKe = ke.publicValue;
    }
    const rest2: V1PayloadAny[] = [
      { kind: 'data', type: P.SA, data: encodePhase2Sa([spec], spi, encap) },
      { kind: 'data', type: P.NONCE, data: nr },
    ];
    if (ourKe) rest2.push({ kind: 'data', type: P.KE, data: ourKe });
    rest2.push(...ids);
    const qm2 = this.sealHashed(sa, X.QUICK_MODE, mid, rest2, (b) =>
      qmHash2(km.hash, km.skeyidA, mid, ni, b),
    );
    this.transmit(qm2);
    sa.lastIn = this.lastDatagram;
    sa.lastOut = qm2;
    this.peerQm = {
      mid,
      ni: ni.slice(),
      nr,
      spi,
      peerSpi: chosen.spi,
      spec,
      tsLocal,
      tsRemote,
      ...(gqm ? { gqm } : {}),
    };
  }

  private installPeerChild(q: NonNullable<Ikev1Session['peerQm']>): void {
    const km = this.sa.keymat!;
    const len = q.spec.keyBits / 8 + 4;
    // Our inbound SA is keyed with our SPI, the outbound with the gateway's (RFC 2409 §5.5).
    const inKey = quickModeKeymat(
      km.hash,
      km.skeyidD,
      V1Protocol.ESP,
      q.spi,
      q.ni,
      q.nr,
      len,
      q.gqm,
    );
    const outKey = quickModeKeymat(
      km.hash,
      km.skeyidD,
      V1Protocol.ESP,
      q.peerSpi,
      q.ni,
      q.nr,
      len,
      q.gqm,
    );
    q.gqm?.fill(0);
    const old = this.children.find((x) => !x.replaced);
    if (old) old.replaced = true; // the gateway deletes it next
    if (this.children.length >= LIMITS.childSas) {
      const oldest = this.children.find((x) => x.replaced);
      if (oldest) this.removeChild(oldest);
    }
    const child: ChildV1 = {
      inboundSpi: q.spi,
      outboundSpi: q.peerSpi,
      spec: q.spec,
      tsLocal: q.tsLocal,
      tsRemote: q.tsRemote,
      replaced: false,
    };
    this.children.push(child);
    const proposal = formatPhase2Spec(q.spec);
    this.push({
      kind: 'installChild',
      child: {
        inbound: {
          spi: q.spi,
          encrId: q.spec.encrId,
          keymat: inKey,
          replayWindow: this.cfg.replayWindow,
        },
        outbound: { spi: q.peerSpi, encrId: q.spec.encrId, keymat: outKey },
        tsLocal: [q.tsLocal],
        tsRemote: [q.tsRemote],
        proposal,
      },
    });
    this.counters.childRekeys++;
    this.emit({ type: 'rekeyed', what: 'child', by: 'peer', proposal });
  }

  private onEstablished(child: ChildV1): void {
    this.step = 'done';
    const sa = this.sa;
    this.setState('established');
    this.emit({
      type: 'established',
      info: {
        localId: formatIdentity(this.cfg.localId),
        remoteId: formatIdentity(sa.gwId!),
        ikeProposal: formatPhase1Spec(sa.spec!),
        espProposal: formatPhase2Spec(child.spec),
        natHere: this.natHere,
        natThere: this.natThere,
        config: this.config,
        tsLocal: [formatTs(child.tsLocal)],
        tsRemote: [formatTs(child.tsRemote)],
        spiI: toHex(sa.cookieI),
        spiR: toHex(sa.cookieR),
        remote: this.remote,
        ikeVersion: 1,
      },
    });
    this.armDpd();
    this.armChildRekey();
    this.armIkeRekey();
  }

  private deleteChild(c: ChildV1): void {
    const d: V1DeletePayload = {
      kind: 'delete',
      type: P.DELETE,
      doi: IPSEC_DOI,
      protocol: V1Protocol.ESP,
      spiSize: 4,
      spis: [u32(c.inboundSpi)],
    };
    this.sendInformational(this.sa, [d]);
    this.removeChild(c);
  }

  private removeChild(c: ChildV1): void {
    const i = this.children.indexOf(c);
    if (i >= 0) this.children.splice(i, 1);
    this.push({ kind: 'removeChild', inboundSpi: c.inboundSpi, outboundSpi: c.outboundSpi });
  }

  // -------------------------------------------------------------------------------------------
  // Rekeying (Quick Mode and phase 1)

  private jitter(ms: number): number {
    return ms - (readU32(this.random.bytes(4)) / 0x100000000) * 0.1 * ms;
  }

  /**
   * Our rekey of the IPsec SA: after cfg.childRekeyMs, or at 90 % of the lifetime the gateway
   * chose when that is shorter (minus up to 10 % jitter).
   */
  private armChildRekey(): void {
    const life = this.childLifeMs > 0 ? this.childLifeMs * 0.9 : 0;
    const cfg = this.cfg.childRekeyMs;
    const after = cfg > 0 && life > 0 ? Math.min(cfg, life) : cfg > 0 ? cfg : life;
    if (after > 0)
      this.push({
        kind: 'setTimer',
        timer: 'rekey-child',
        at: this.now + this.jitter(after),
      });
  }

  private armIkeRekey(): void {
    if (this.cfg.ikeRekeyMs > 0)
      this.push({
        kind: 'setTimer',
        timer: 'rekey-ike',
        at: this.now + this.jitter(this.cfg.ikeRekeyMs),
      });
  }

  private startChildRekey(): void {
    if (this.st !== 'established') return;
    const cur = this.children.find((c) => !c.replaced);
    if (!cur) return;
    if (this.outstanding) {
      // One exchange of ours at a time: try again shortly.
      this.push({ kind: 'setTimer', timer: 'rekey-child', at: this.now + 1000 });
      return;
    }
    this.startQuickMode(cur);
  }

  /** Phase 1 rekey: a new Main Mode with fresh cookies beside the current ISAKMP SA. */
  private startIkeRekey(): void {
    if (this.st !== 'established' || this.nextSa) return;
    if (this.outstanding) {
      this.push({ kind: 'setTimer', timer: 'rekey-ike', at: this.now + 1000 });
      return;
    }
    const next = newSa(this.randomNonZero(8));
    this.nextSa = next;
    this.startPhase1(next);
  }

  /**
   * The new ISAKMP SA is up; our IPsec SAs keep running. The old ISAKMP SA is deleted a little
   * later (RETIRE_DELAY_MS), and with XAUTH only after XAUTH succeeded on the new one: strongSwan
   * moves the IPsec SAs to the new ISAKMP SA only once it is fully established ("adopting
   * children"), and deleting the old one before that deletes the IPsec SAs with it.
   */
  private finishIkeRekey(next: IsakmpSa): void {
    this.retiring = this.sa;
    this.sa = next;
    this.nextSa = undefined;
    this.counters.ikeRekeys++;
    this.emit({ type: 'rekeyed', what: 'ike', by: 'us', proposal: formatPhase1Spec(next.spec!) });
    // With XAUTH the gateway starts it again on the new SA; xauthSucceeded() goes on from there.
    if (!this.cfg.xauth) this.scheduleRetire();
  }

  /** XAUTH succeeded on `sa`: continue connecting, or retire the SA a phase 1 rekey replaced. */
  xauthSucceeded(sa: IsakmpSa): void {
    if (this.step === 'xauth' && sa === this.sa) {
      this.push({ kind: 'clearTimer', timer: 'retransmit' });
      this.afterXauth();
      return;
    }
    if (this.retiring && sa === this.sa) this.scheduleRetire();
  }

  private scheduleRetire(): void {
    this.push({ kind: 'setTimer', timer: 'rekey-ike', at: this.now + RETIRE_DELAY_MS });
  }

  /** DELETE of the replaced ISAKMP SA, protected by itself (RFC 2408 §3.15), then the next rekey. */
  private retireOld(): void {
    const old = this.retiring;
    if (!old) return;
    this.retiring = undefined;
    const d: V1DeletePayload = {
      kind: 'delete',
      type: P.DELETE,
      doi: IPSEC_DOI,
      protocol: V1Protocol.ISAKMP,
      spiSize: 16,
      spis: [this.cookies(old)],
    };
    this.sendInformational(old, [d]);
    old.keymat?.wipe();
    this.armIkeRekey();
  }

  // -------------------------------------------------------------------------------------------
  // Dead peer detection (RFC 3706)

  private armDpd(): void {
    if (this.cfg.dpdDelayMs > 0)
      this.push({
        kind: 'setTimer',
        timer: 'dpd',
        at: Math.max(this.now, this.lastAlive) + this.cfg.dpdDelayMs,
      });
  }

  private onDpdTimer(): void {
    if (this.st !== 'established' || this.cfg.dpdDelayMs <= 0) return;
    if (this.now < this.lastAlive + this.cfg.dpdDelayMs || this.outstanding) {
      this.armDpd();
      return;
    }
    this.sendDpd();
  }

  /** RFC 3706 §5: R-U-THERE with the next sequence number, in a protected Informational. */
  private sendDpd(): void {
    const sa = this.sa;
    if (!sa.ready) return;
    if (this.dpdSeq === 0) this.dpdSeq = readU32(this.random.bytes(4)) & 0x7fffffff;
    this.dpdSeq = (this.dpdSeq + 1) >>> 0;
    this.dpdSeqs = [...this.dpdSeqs.slice(-7), this.dpdSeq];
    const mid = this.newMid();
    const msg = this.sealHashed(sa, X.INFORMATIONAL, mid, [
      this.notify(V1Notify.DPD_R_U_THERE, V1Protocol.ISAKMP, this.cookies(sa), u32(this.dpdSeq)),
    ]);
    sa.keymat!.forget(mid);
    this.counters.dpdSent++;
    this.emit({ type: 'liveness-check' });
    // The ACK comes as the gateway's own Informational; the exact request is retransmitted.
    this.request({
      exchange: X.INFORMATIONAL,
      mid,
      data: msg,
      what: DPD_WHAT,
      sa,
      onReply: () => undefined,
    });
  }

  // -------------------------------------------------------------------------------------------
  // Timers

  private onTimer(timer: TimerId): void {
    switch (timer) {
      case 'dpd':
        this.onDpdTimer();
        return;
      case 'rekey-child':
        this.startChildRekey();
        return;
      case 'rekey-ike':
        if (this.retiring) this.retireOld();
        else this.startIkeRekey();
        return;
      case 'retransmit':
        this.onRetransmit();
        return;
    }
  }

  private onRetransmit(): void {
    const o = this.outstanding;
    if (!o) {
      if (this.step === 'xauth' && this.st === 'connecting')
        this.fail(
          new VpnError(
            'ERR_IKE_TIMEOUT',
            'the gateway did not start XAUTH after phase 1 (is XAUTH configured on it?)',
          ),
        );
      return;
    }
    if (o.tries >= this.cfg.retransmit.tries) {
      this.outstanding = undefined;
      if (o.sa === this.nextSa) {
        // A failed phase 1 rekey: the current ISAKMP SA keeps serving until it expires.
        this.nextSa = undefined;
        this.log.warn('ike', `phase 1 rekey got no answer to ${o.what}`);
        return;
      }
      const from = `${this.remote.address}:${this.remote.port}`;
      const total = (this.totalTimeoutMs() / 1000).toFixed(1);
      const dead =
        o.what === DPD_WHAT ? ': the gateway is down or unreachable (dead peer detection)' : '';
      const err = o.onTimeout
        ? o.onTimeout(o)
        : new VpnError(
            'ERR_IKE_TIMEOUT',
            o.bad
              ? `${o.bad.count} datagrams arrived from ${from} in answer to ${o.what} (${o.tries + 1} attempts over ${total} s), but none could be verified or parsed (last: ${o.bad.last})`
              : `no answer from ${from} to ${o.what} after ${o.tries + 1} attempts over ${total} s${dead}`,
          );
      this.fail(err);
      return;
    }
    o.tries++;
    this.counters.retransmits++;
    this.log.debug('ike', `retransmitting ${o.what} (try ${o.tries + 1})`);
    this.transmit(o.data); // RFC 2408 §5: the identical datagram
    this.push({ kind: 'setTimer', timer: 'retransmit', at: this.now + this.timeoutFor(o.tries) });
  }

  // -------------------------------------------------------------------------------------------
  // Received datagrams

  /** The datagram being handled (for the caches of retransmitted requests). */
  lastDatagram: Uint8Array | undefined;

  private saFor(h: V1Header): IsakmpSa | undefined {
    for (const sa of [this.sa, this.nextSa, this.retiring]) {
      if (!sa || !equalBytes(sa.cookieI, h.cookieI)) continue;
      if (equalBytes(sa.cookieR, h.cookieR)) return sa;
      // The responder cookie is learnt from Main/Aggressive Mode message 2 (or a refusal of
      // message 1, which carries the gateway's cookie already).
      if (sa.cookieR.every((b) => b === 0) && this.outstanding?.sa === sa) return sa;
    }
    return undefined;
  }

  private onDatagram(data: Uint8Array, from: Endpoint): void {
    this.counters.received++;
    if (this.st === 'closed' || this.st === 'created') return this.drop('not connected');
    if (from.address !== this.remote.address) return this.drop('unknown sender', from.address);
    this.lastDatagram = data;
    let m;
    try {
      m = decodeV1Message(data);
    } catch (e) {
      return this.drop('malformed', (e as Error).message);
    }
    const h = m.header;
    const sa = this.saFor(h);
    if (!sa) return this.drop('unknown cookies');
    // Retransmissions of the gateway's: answer again where the protocol needs it.
    if (sa.lastIn && equalBytes(sa.lastIn, data)) {
      if (sa.lastOut) {
        this.counters.retransmits++;
        this.transmit(sa.lastOut);
      }
      return this.drop('retransmitted request');
    }
    if (this.lastQm && equalBytes(this.lastQm.qm2, data)) {
      this.transmit(this.lastQm.qm3);
      return this.drop('retransmitted Quick Mode message 2');
    }
    let chain: V1Chain;
    let plain: Uint8Array;
    const encrypted = (h.flags & Flag.ENCRYPTION) !== 0;
    if (encrypted) {
      const km = sa.keymat;
      if (!km) return this.drop('encrypted before keys');
      // Phase 1 messages use the phase 1 IV chain; a new message ID its own (Appendix B).
      const mid =
        h.exchangeType === X.MAIN_MODE || h.exchangeType === X.AGGRESSIVE ? 0 : h.messageId;
      const known = mid === 0 || this.knownMid(mid);
      try {
        ({ plain, chain } = openV1Body(km.cipher, km.ivFor(mid), h.nextPayload, m.body));
      } catch (e) {
        if (!known) km.forget(mid);
        this.drop('undecryptable', (e as Error).message);
        this.keysDiffer(sa, h);
        return;
      }
      // The IV moves only for a message we accept (checked below); remember what to advance.
      this.pendingIv = { sa, mid, ct: m.body, known };
    } else {
      chain = m.chain!;
      plain = m.body;
      this.pendingIv = undefined;
    }
    this.dispatch(sa, h, chain, plain, encrypted);
    this.pendingIv = undefined;
  }

  private pendingIv: { sa: IsakmpSa; mid: number; ct: Uint8Array; known: boolean } | undefined;

  private knownMid(mid: number): boolean {
    return this.outstanding?.mid === mid || this.peerQm?.mid === mid || this.tx.knows(mid);
  }

  /** The received encrypted message was accepted: its last block is the next IV of its ID. */
  acceptIv(): void {
    const p = this.pendingIv;
    if (!p) return;
    p.sa.keymat?.advance(p.mid, p.ct);
    this.pendingIv = undefined;
  }

  /** One of ours is waiting for its answer. */
  get outstandingRequest(): Outstanding | undefined {
    return this.outstanding;
  }

  /** Our request was answered: stop retransmitting it. */
  settleOutstanding(): void {
    this.settle();
  }

  rejectIvPublic(): void {
    this.rejectIv();
  }

  private rejectIv(): void {
    const p = this.pendingIv;
    if (p && !p.known) p.sa.keymat?.forget(p.mid);
    this.pendingIv = undefined;
  }

  private dispatch(
    sa: IsakmpSa,
    h: V1Header,
    c: V1Chain,
    plain: Uint8Array,
    encrypted: boolean,
  ): void {
    const o = this.outstanding;
    const ex = h.exchangeType;
    if (ex === X.INFORMATIONAL) return this.onInformational(sa, h, c, plain, encrypted);
    if (!encrypted && sa.ready) return this.drop('unprotected message after phase 1');
    if ((ex === X.MAIN_MODE || ex === X.AGGRESSIVE) && h.messageId === 0) {
      if (!o || o.sa !== sa || o.exchange !== ex || sa.ready)
        return this.drop('unexpected phase 1 message');
      const before = this.dropTotal;
      o.onReply(h, c, plain);
      if (this.dropTotal === before && encrypted) this.acceptIv();
      else if (encrypted) this.rejectIv();
      if (this.dropTotal === before) {
        sa.lastIn = this.lastDatagram;
        if (ex !== X.AGGRESSIVE) sa.lastOut = undefined;
      }
      return;
    }
    if (!encrypted) return this.drop('unprotected phase 2 message');
    if (!sa.ready) return this.drop('phase 2 message before phase 1 completed');
    if (ex === X.QUICK_MODE) {
      if (o && o.exchange === X.QUICK_MODE && o.mid === h.messageId) {
        const before = this.dropTotal;
        o.onReply(h, c, plain);
        if (this.dropTotal === before) this.acceptIv();
        else this.rejectIv();
        return;
      }
      // A Quick Mode of the gateway's: its rekey of our IPsec SA (RFC 2409 §5.5, as responder).
      this.onPeerQuickMode(sa, h, c, plain);
      return;
    }
    if (ex === X.TRANSACTION) {
      this.tx.onMessage(sa, h, c, plain);
      return;
    }
    this.rejectIv();
    this.drop('unsupported exchange', v1Name(X, ex));
  }

  /** Checks a phase 2 message's HASH(1) = prf(SKEYID_a, M-ID | payloads after HASH). */
  checkHash(sa: IsakmpSa, h: V1Header, c: V1Chain, plain: Uint8Array): boolean {
    const km = sa.keymat!;
    const first = c.payloads[0];
    if (!first || first.kind !== 'data' || first.type !== P.HASH) return false;
    const rest = plain.subarray(c.spans[0]![1], c.end);
    return equalBytes(first.data, hashMid(km.hash, km.skeyidA, h.messageId, rest));
  }

  // -------------------------------------------------------------------------------------------
  // Informational exchanges (RFC 2408 §4.8, RFC 2409 §5.7, RFC 3706)

  private onInformational(
    sa: IsakmpSa,
    h: V1Header,
    c: V1Chain,
    plain: Uint8Array,
    encrypted: boolean,
  ): void {
    if (!encrypted) {
      if (sa.ready) return this.drop('unprotected informational');
      // Before phase 1 completes, refusals come in the clear (RFC 2408 §5): believed only while
      // a phase 1 request of ours is outstanding, like IKEv2's unprotected IKE_SA_INIT errors.
      const n = c.payloads.find((p): p is V1NotifyPayload => p.kind === 'notify');
      const o = this.outstanding;
      if (!n || !o || o.sa !== sa) return this.drop('unprotected informational');
      if (sa === this.nextSa) {
        this.nextSa = undefined;
        this.outstanding = undefined;
        this.log.warn('ike', `phase 1 rekey refused: ${v1Name(V1Notify, n.notifyType)}`);
        return;
      }
      this.finishCloseWith(this.errorFromNotify(n.notifyType, o.what));
      return;
    }
    if (!this.checkHash(sa, h, c, plain)) {
      this.rejectIv();
      this.drop('bad informational hash');
      this.keysDiffer(sa, h);
      return;
    }
    this.acceptIv();
    sa.keymat!.forget(h.messageId);
    this.lastAlive = this.now;
    for (const p of c.payloads.slice(1)) {
      if (this.st === 'closed') return;
      if (p.kind === 'notify') this.onNotify(sa, p);
      else if (p.kind === 'delete') this.onDelete(sa, p);
    }
  }

  private onNotify(sa: IsakmpSa, n: V1NotifyPayload): void {
    switch (n.notifyType) {
      case V1Notify.DPD_R_U_THERE: {
        // RFC 3706 §5: answer with R-U-THERE-ACK carrying the same sequence number.
        if (n.data.length !== 4) return this.drop('malformed R-U-THERE');
        this.sendInformational(sa, [
          this.notify(V1Notify.DPD_R_U_THERE_ACK, V1Protocol.ISAKMP, this.cookies(sa), n.data),
        ]);
        return;
      }
      case V1Notify.DPD_R_U_THERE_ACK: {
        if (n.data.length !== 4) return this.drop('malformed R-U-THERE-ACK');
        const seq = readU32(n.data);
        const o = this.outstanding;
        if (o && o.what === DPD_WHAT && this.dpdSeqs.includes(seq)) {
          this.settle();
          this.armDpd();
        }
        return;
      }
      case V1Notify.INITIAL_CONTACT:
      case V1Notify.RESPONDER_LIFETIME:
      case V1Notify.REPLAY_STATUS:
        return;
      default: {
        const o = this.outstanding;
        if (n.notifyType < 16384 && this.st === 'connecting' && o) {
          // An error notification about our exchange in flight (RFC 2408 §3.14.1).
          this.fail(this.errorFromNotify(n.notifyType, o.what));
          return;
        }
        this.log.info('ike', `gateway notification ${v1Name(V1Notify, n.notifyType)}`);
      }
    }
  }

  private onDelete(sa: IsakmpSa, d: V1DeletePayload): void {
    if (d.protocol === V1Protocol.ISAKMP) {
      const self = d.spis.some((s) => equalBytes(s, this.cookies(sa)));
      if (!self) return;
      if (sa !== this.sa) return; // an old ISAKMP SA of ours going away after a rekey
      // RFC 2409 §5.7: the gateway deleted the ISAKMP SA; its IPsec SAs go with the tunnel.
      this.finishClose(
        new VpnError('ERR_IKE_DELETED', 'the gateway deleted the IKEv1 SA (ISAKMP SA)'),
        true,
      );
      return;
    }
    if (d.protocol !== V1Protocol.ESP || d.spiSize !== 4) return;
    for (const s of d.spis) {
      // The gateway names its inbound SPI: our outbound one.
      const spi = readU32(s);
      const c = this.children.find((x) => x.outboundSpi === spi);
      if (!c) continue;
      this.removeChild(c);
    }
    if (this.children.length === 0 && this.st === 'established' && !this.qm) {
      const err = new VpnError('ERR_IKE_DELETED', 'the gateway deleted the tunnel (IPsec SA)');
      this.fail(err);
    }
  }

  private finishCloseWith(error: VpnError): void {
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

  /** Bounded list of children (make before break keeps at most a few). */
  get childCount(): number {
    return Math.min(this.children.length, LIMITS.childSas);
  }
}

export { V1_HEADER_LENGTH };
