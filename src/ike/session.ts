/**
 * IkeSession: the sans-I/O IKEv2 initiator (RFC 7296).
 *
 * The driver feeds inputs (start, datagram, timer, close) with the current time and carries out
 * the outputs (send, set/clear timer, install/remove CHILD_SA, events). The session never touches
 * sockets, timers, files or the terminal; time and randomness are injected, so a handshake is
 * reproducible byte for byte in tests.
 *
 * Exchanges are composed as in RFC 7296 §1.2:
 *
 *   IKE_SA_INIT  HDR, SA, KE, Ni, N(NAT_DETECTION_*), N(FRAG_SUP), N(SIG_HASH) -->
 *                <-- HDR, SA, KE, Nr, [CERTREQ], N(NAT_DETECTION_*)
 *                (or N(COOKIE) / N(INVALID_KE_PAYLOAD): restart, bounded)
 *   IKE_AUTH     HDR, SK {IDi, [IDr,] AUTH, CP(CFG_REQUEST), N(INITIAL_CONTACT), SA, TSi, TSr} -->
 *                <-- HDR, SK {IDr, AUTH, CP(CFG_REPLY), SA, TSi, TSr}
 *
 * Lifecycle (flat, one direction only):
 *
 *   created → connecting → established → deleting → closed
 *        \__________\_____________\___________→ closed (on error)
 *
 * Message IDs, retransmission (the exact request bytes are resent, RFC 7296 §2.1) and the cache of
 * our last response (resent when the peer retransmits its request, §2.1) live in this file; each
 * exchange's payload work lives in a small build/process pair below.
 */
import { concatBytes, equalBytes, wipe } from '../core/bytes.js';
import { VpnError, isVpnError } from '../core/errors.js';
import type { ErrorCode } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { NOOP_LOGGER } from '../core/log.js';
import type { Random } from '../core/random.js';
import { createKeyExchange, isSupportedGroup } from '../crypto/ke.js';
import type { KeyExchange } from '../crypto/ke.js';
import { isAead } from '../crypto/aead.js';
import {
  AuthMethod,
  CertEncoding,
  DhGroup,
  ExchangeType,
  HeaderFlag,
  NotifyType,
  PayloadType,
  ProtocolId,
  nameOf,
} from './constants.js';
import {
  checkExchangeRules,
  decodeMessage,
  decodePayloadChain,
  encodeMessage,
  encodePayloadChain,
  filterPayloads,
  findPayload,
  findUnsupportedCritical,
} from './codec/index.js';
import { splitForFragments } from './codec/fragments.js';
import type {
  AuthPayload,
  CertPayload,
  CertReqPayload,
  CpPayload,
  DeletePayload,
  IdPayload,
  IkeHeader,
  KePayload,
  NoncePayload,
  NotifyPayload,
  Payload,
  Proposal,
  SaPayload,
  SkPayload,
  SkfPayload,
  TrafficSelector,
  TsPayload,
} from './codec/index.js';
import { buildConfigRequest, parseConfigReply } from './config-payload.js';
import type { ConfigReply } from './config-payload.js';
import type { Identity } from './identity.js';
import { formatIdentity, sameIdentity } from './identity.js';
import { natdHash } from './natd.js';
import type { Endpoint } from './natd.js';
import { IkeKeymat } from './sa/keymat.js';
import {
  buildProposals,
  chooseFromOffer,
  formatChosen,
  formatSpecs,
  selectResponderProposal,
} from './sa/proposals.js';
import type { ChosenProposal } from './sa/proposals.js';
import { checkNarrowed, formatTs, narrowTo } from './sa/traffic-selectors.js';
import { LIMITS, MAX_IKE_MESSAGE_BYTES, capConfigReply, capSelectors } from './limits.js';
import { signAuth, supportedHashes, verifyAuth } from './auth/signature.js';
import { newContext, newIkeSa, u32 } from './sa/ike-sa.js';
import type { ChildSa, IkeSa, SaContext } from './sa/ike-sa.js';
import { emptyIkeCounters } from './session-types.js';
import type {
  ChildSaInfo,
  IkeCounters,
  IkeEvent,
  IkeInput,
  IkeOutput,
  IkeSessionConfig,
  IkeState,
  TimerId,
} from './session-types.js';

export type { Endpoint } from './natd.js';
export * from './session-types.js';

const NATT_PORT = 4500;
const DPD_WHAT = 'a liveness check (DPD)';
const OLD_IKE_DELETE = 'the DELETE of the rekeyed IKE SA';
const IKE_REKEY_WHAT = 'an IKE SA rekey';

export class IkeSession {
  private readonly cfg: IkeSessionConfig;
  private readonly random: Random;
  private readonly log: Logger;
  private out: IkeOutput[] = [];
  private now = 0;

  readonly counters: IkeCounters = emptyIkeCounters();
  /** The IKE SA's state as plain data (sa/ike-sa.ts). */
  private readonly ike: IkeSa = newIkeSa();

  /**
   * §2.8.1 simultaneous IKE SA rekey: the SA the gateway's rekey created while ours was in flight
   * (adopted if ours loses the nonce comparison), and the loser the gateway will delete.
   */
  private collision:
    { ctx: SaContext; ni: Uint8Array; nr: Uint8Array; proposal: ChosenProposal } | undefined;
  private ikeRekeying: { ni: Uint8Array; spiI: Uint8Array; ke: KeyExchange } | undefined;
  private ke: KeyExchange | undefined;
  private dhGroup: number;
  private cookie: Uint8Array | undefined;
  private initRetries = 0;
  /** IKE_AUTH in progress: our ID payload body, and the gateway's once it identified itself. */
  private idiBody: Uint8Array = new Uint8Array(0);
  private gw: { id: Identity; idBody: Uint8Array; authenticated: boolean } | undefined;
  /** An asynchronous EAP method is working on its Response. */
  private eapPending = false;
  private eapRounds = 0;
  private childInboundSpi = 0;

  /** The session's lifecycle state (RFC 7296 has none; see the header comment). */
  get state(): IkeState {
    return this.ike.state;
  }

  constructor(cfg: IkeSessionConfig, random: Random, logger: Logger = NOOP_LOGGER) {
    this.cfg = cfg;
    this.random = random;
    this.log = logger;
    const first = cfg.ikeProposals[0]?.dh[0];
    if (!first) throw new VpnError('ERR_CONFIG', 'no IKE proposal with a key exchange group');
    this.dhGroup = first.id;
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
          this.onDatagramCounted(input.data, input.from);
          break;
        case 'timer':
          this.onTimer(input.timer);
          break;
        case 'close':
          this.close();
          break;
        case 'localAddress':
          this.onLocalAddress(input.local);
          break;
        case 'activity':
          this.ike.lastAlive = Math.max(this.ike.lastAlive, input.at);
          break;
        case 'rekeyChild':
          this.startChildRekey();
          break;
        case 'probe':
          if (
            this.ike.state === 'established' &&
            !this.ike.sa.outstanding &&
            this.queue.length === 0
          ) {
            // With MOBIKE the gateway follows a new NAT mapping only on UPDATE_SA_ADDRESSES
            // (RFC 4555 §3.8); it doubles as the liveness check.
            if (this.ike.peerMobike && this.cfg.mobike !== false) this.sendAddressUpdate('probe');
            else this.sendDpd();
          }
          break;
        case 'eapResponse':
          this.onAsyncEap(input.packet);
          break;
        case 'eapFailed':
          if (this.eapPending) this.fail(input.error);
          break;
      }
    } catch (e) {
      // Programmer errors and unexpected failures end the SA with a clear error, never a crash.
      const err = isVpnError(e)
        ? e
        : new VpnError('ERR_IKE_PROTOCOL', `internal error: ${(e as Error).message}`, { cause: e });
      this.fail(err);
    }
    return this.out;
  }

  get remoteEndpoint(): Endpoint {
    return this.ike.remote;
  }

  get isNatHere(): boolean {
    return this.ike.natHere;
  }

  get usesNatT(): boolean {
    return this.ike.natT;
  }

  /** Did the gateway announce IKEV2_FRAGMENTATION_SUPPORTED (RFC 7383 §2.3)? */
  get peerSupportsFragmentation(): boolean {
    return this.ike.peerFragmentation;
  }

  // ---------------------------------------------------------------------------------------------
  // Plumbing: events, sending, retransmission, message IDs

  private emit(event: IkeEvent): void {
    this.out.push({ kind: 'event', event });
  }

  private setState(state: IkeState, detail?: string): void {
    if (this.ike.state === state) return;
    this.ike.state = state;
    this.emit(detail === undefined ? { type: 'state', state } : { type: 'state', state, detail });
  }

  /** Drops so far and the last one's reason, to tell "no answer" from "no valid answer". */
  private dropTotal = 0;
  private lastDrop = '';

  private drop(reason: string, detail?: string): void {
    this.counters.dropped[reason] = (this.counters.dropped[reason] ?? 0) + 1;
    this.dropTotal++;
    this.lastDrop = detail === undefined ? reason : `${reason}: ${detail}`;
    this.log.debug(
      'ike',
      `dropped datagram: ${reason}`,
      detail === undefined ? undefined : { detail },
    );
  }

  private transmit(data: Uint8Array): void {
    this.counters.sent++;
    this.out.push({ kind: 'send', data, to: this.ike.remote, nonEspMarker: this.ike.natT });
  }

  private timeoutFor(tries: number): number {
    const r = this.cfg.retransmit;
    return Math.min(r.maxTimeoutMs, r.timeoutMs * Math.pow(r.base, tries));
  }

  /** Sends a new request and arms the retransmit timer. One request outstanding at a time (window 1). */
  private sendRequest(
    exchange: number,
    message: Uint8Array | Uint8Array[],
    what: string,
    onResponse: (header: IkeHeader, payloads: Payload[]) => void,
  ): void {
    const data = Array.isArray(message) ? message : [message];
    this.ike.sa.outstanding = {
      mid: this.ike.sa.nextMid,
      exchange,
      data,
      tries: 0,
      onResponse,
      what,
    };
    for (const d of data) this.transmit(d);
    this.out.push({ kind: 'setTimer', timer: 'retransmit', at: this.now + this.timeoutFor(0) });
  }

  private onTimer(timer: TimerId): void {
    if (timer === 'dpd') {
      this.onDpdTimer();
      return;
    }
    if (timer === 'rekey-child') {
      this.startChildRekey();
      return;
    }
    if (timer === 'rekey-ike') {
      this.startIkeRekey();
      return;
    }
    const o = this.ike.sa.outstanding;
    if (!o) return;
    if (o.tries >= this.cfg.retransmit.tries) {
      this.ike.sa.outstanding = undefined;
      // The abandoned request keeps its message ID: whatever we send next (e.g. the DELETE in
      // fail()) takes the next one, or the gateway takes it for a retransmission (RFC 7296 §2.1).
      this.ike.sa.nextMid = o.mid + 1;
      if (this.ike.state === 'deleting') {
        this.finishClose(this.deleteReason, this.deleteReason !== undefined);
        return;
      }
      if (o.what === OLD_IKE_DELETE && this.ike.pendingNext) {
        // The gateway never confirmed the old SA's deletion: use the new SA anyway.
        this.switchToNext();
        this.runQueue();
        return;
      }
      const total = this.totalTimeoutMs();
      const dead =
        o.what === DPD_WHAT ? ': the gateway is down or unreachable (dead peer detection)' : '';
      const from = `${this.ike.remote.address}:${this.ike.remote.port}`;
      const over = `${o.tries + 1} attempts over ${(total / 1000).toFixed(1)} s`;
      this.fail(
        new VpnError(
          'ERR_IKE_TIMEOUT',
          o.bad
            ? `${o.bad.count} ${o.bad.count === 1 ? 'datagram' : 'datagrams'} arrived from ${from} in answer to ${o.what} (${over}), but none could be verified or parsed (last: ${o.bad.last})`
            : `no answer from ${from} to ${o.what} after ${over}${dead}`,
        ),
      );
      return;
    }
    o.tries++;
    this.counters.retransmits++;
    this.log.debug('ike', `retransmitting ${o.what} (try ${o.tries + 1})`);
    // RFC 7296 §2.1: retransmit the exact same bytes (RFC 7383 §2.6.3: every fragment).
    for (const d of o.data) this.transmit(d);
    this.out.push({
      kind: 'setTimer',
      timer: 'retransmit',
      at: this.now + this.timeoutFor(o.tries),
    });
  }

  /** Total time from the first send until we give up, for messages. */
  totalTimeoutMs(): number {
    let t = 0;
    for (let i = 0; i <= this.cfg.retransmit.tries; i++) t += this.timeoutFor(i);
    return t;
  }

  private fail(error: VpnError): void {
    if (this.ike.state === 'closed') return;
    this.log.warn('ike', error.message);
    // Tell the gateway we are going away if we have an SA it knows about.
    if (
      this.ike.sa.keymat &&
      (this.ike.state === 'established' || this.ike.state === 'connecting') &&
      this.ike.initResponse.length > 0
    ) {
      try {
        const mid = this.ike.sa.outstanding ? this.ike.sa.outstanding.mid + 1 : this.ike.sa.nextMid;
        this.transmit(
          this.buildEncrypted(ExchangeType.INFORMATIONAL, mid, false, [this.deleteIkePayload()]),
        );
      } catch {
        // best effort
      }
    }
    this.finishClose(error, false);
  }

  private finishClose(error: VpnError | undefined, byPeer: boolean): void {
    if (this.ike.state === 'closed') return;
    this.ike.sa.outstanding = undefined;
    this.out.push({ kind: 'clearTimer', timer: 'retransmit' });
    this.out.push({ kind: 'clearTimer', timer: 'dpd' });
    this.out.push({ kind: 'clearTimer', timer: 'rekey-child' });
    this.out.push({ kind: 'clearTimer', timer: 'rekey-ike' });
    this.queue.length = 0;
    for (const c of this.ike.children.splice(0)) {
      this.out.push({ kind: 'removeChild', inboundSpi: c.inboundSpi, outboundSpi: c.outboundSpi });
    }
    this.ike.sa.keymat?.wipe();
    this.ke = undefined;
    this.setState('closed', error?.message);
    this.emit(error === undefined ? { type: 'closed', byPeer } : { type: 'closed', error, byPeer });
  }

  // ---------------------------------------------------------------------------------------------
  // Inbound datagrams

  /** Counts datagrams dropped while a request waits, so a time-out can say they came. */
  private onDatagramCounted(data: Uint8Array, from: Endpoint): void {
    const o = this.ike.sa.outstanding;
    const before = this.dropTotal;
    this.onDatagram(data, from);
    if (o && this.ike.sa.outstanding === o && this.dropTotal > before) {
      o.bad = { count: (o.bad?.count ?? 0) + 1, last: this.lastDrop };
    }
  }

  private onDatagram(data: Uint8Array, from: Endpoint): void {
    this.counters.received++;
    const last = this.ike.sa.lastResponse;
    if (this.ike.state === 'closed' && last?.request && equalBytes(data, last.request)) {
      // Our answer to the request that closed the SA (e.g. the gateway's IKE SA DELETE) was lost:
      // the byte-identical retransmission gets it again (RFC 7296 §2.1), once per datagram.
      this.counters.retransmits++;
      this.transmit(last.data);
      return;
    }
    if (this.ike.state === 'closed' || this.ike.state === 'created') {
      this.drop('not-active');
      return;
    }
    if (data.length > MAX_IKE_MESSAGE_BYTES) {
      this.drop('oversized', `${data.length} bytes > ${MAX_IKE_MESSAGE_BYTES}`);
      return;
    }
    let header: IkeHeader;
    let payloads: Payload[];
    try {
      ({ header, payloads } = decodeMessage(data));
    } catch (e) {
      this.drop('malformed', (e as Error).message);
      return;
    }
    const ctx = this.contextFor(header);
    if (!ctx) {
      this.drop('unknown-spi');
      return;
    }
    // The I flag names the original initiator of the IKE SA (RFC 7296 §3.1): the peer sets it
    // exactly when we did not initiate this SA.
    if (((header.flags & HeaderFlag.INITIATOR) !== 0) === ctx.weInitiated) {
      this.drop('bad-flags');
      return;
    }
    const isResponse = (header.flags & HeaderFlag.RESPONSE) !== 0;
    if (isResponse) {
      if (ctx !== this.ike.sa) {
        this.drop('unexpected-response', 'on a rekeyed IKE SA');
        return;
      }
      this.onResponse(header, payloads, data, from);
    } else this.onRequest(ctx, header, payloads, data, from);
  }

  /** The IKE SA a message belongs to, by its SPIs (the current one, or one replaced by a rekey). */
  private contextFor(header: IkeHeader): SaContext | undefined {
    const cur = this.ike.sa;
    if (
      equalBytes(header.spiI, cur.spiI) &&
      (cur.spiR.every((b) => b === 0) || equalBytes(header.spiR, cur.spiR))
    ) {
      return cur;
    }
    for (const other of [this.ike.retired, this.ike.pendingNext, this.ike.redundant]) {
      if (other && equalBytes(header.spiI, other.spiI) && equalBytes(header.spiR, other.spiR))
        return other;
    }
    return undefined;
  }

  private onResponse(
    header: IkeHeader,
    payloads: Payload[],
    raw: Uint8Array,
    from: Endpoint,
  ): void {
    const o = this.ike.sa.outstanding;
    if (!o || header.messageId !== o.mid || header.exchangeType !== o.exchange) {
      this.drop('unexpected-response', `mid ${header.messageId}`);
      return;
    }
    let inner: Payload[];
    if (header.exchangeType === ExchangeType.IKE_SA_INIT) {
      inner = payloads;
      try {
        checkExchangeRules(header.exchangeType, true, payloads, undefined);
      } catch (e) {
        this.drop('rules', (e as Error).message);
        return;
      }
      this.ike.initResponse = raw;
    } else {
      const opened = this.openEncrypted(this.ike.sa, header, payloads, raw, true);
      if (!opened) return;
      inner = opened;
    }
    // A response that passed integrity checks consumes the message ID (§2.1); one that failed
    // above did not, and the retransmit timer keeps running.
    this.ike.sa.outstanding = undefined;
    this.out.push({ kind: 'clearTimer', timer: 'retransmit' });
    this.ike.sa.nextMid = o.mid + 1;
    this.ike.lastAlive = this.now;
    if (from.port !== this.ike.remote.port || from.address !== this.ike.remote.address) {
      this.log.debug('ike', `response from ${from.address}:${from.port}`);
    }
    // RFC 7296 §2.5: a payload we do not understand marked critical rejects the whole message;
    // a response cannot be answered with UNSUPPORTED_CRITICAL_PAYLOAD, so the SA is not used.
    const critical = findUnsupportedCritical(inner);
    if (critical.length > 0) {
      this.fail(
        new VpnError(
          'ERR_IKE_PROTOCOL',
          `the gateway's ${nameOf(ExchangeType, header.exchangeType)} response carries a payload of unknown type ${critical[0]!} marked critical: the message is rejected and the SA not used (RFC 7296 §2.5)`,
        ),
      );
      return;
    }
    o.onResponse(header, inner);
    this.runQueue();
  }

  /** Requests wait their turn: one request outstanding at a time (window size 1, RFC 7296 §2.3). */
  private readonly queue: (() => void)[] = [];

  private enqueue(start: () => void): void {
    this.queue.push(start);
    this.runQueue();
  }

  private runQueue(): void {
    while (!this.ike.sa.outstanding && this.queue.length > 0 && this.ike.state === 'established') {
      this.queue.shift()!();
    }
  }

  /** Decrypts and rule-checks an SK message. Drops (returns undefined) on any failure. */
  private openEncrypted(
    ctx: SaContext,
    header: IkeHeader,
    payloads: Payload[],
    raw: Uint8Array,
    isResponse: boolean,
  ): Payload[] | undefined {
    const keymat = ctx.keymat;
    if (!keymat) {
      this.drop('no-keys');
      return undefined;
    }
    const sk = payloads.find((p): p is SkPayload => p.type === PayloadType.SK);
    if (!sk) {
      const skf = payloads.find((p): p is SkfPayload => p.type === PayloadType.SKF);
      if (skf) return this.openFragment(ctx, header, payloads, raw, skf, isResponse);
      this.drop('not-encrypted');
      return undefined;
    }
    const aadLen = raw.length - sk.body.length;
    let innerBytes: Uint8Array;
    try {
      innerBytes = keymat.openInbound(raw.subarray(0, aadLen), sk.body);
    } catch (e) {
      this.drop('integrity', (e as Error).message);
      return undefined;
    }
    let inner: Payload[];
    try {
      inner = decodePayloadChain(sk.firstInner, innerBytes, aadLen);
      checkExchangeRules(header.exchangeType, isResponse, payloads, inner);
    } catch (e) {
      this.drop('malformed-inner', (e as Error).message);
      return undefined;
    }
    return inner;
  }

  /**
   * RFC 7383 §2.6: each SKF fragment is authenticated and decrypted on its own, then the plaintexts
   * are joined; returns the inner payloads once the last fragment arrived.
   */
  private openFragment(
    ctx: SaContext,
    header: IkeHeader,
    payloads: Payload[],
    raw: Uint8Array,
    skf: SkfPayload,
    isResponse: boolean,
  ): Payload[] | undefined {
    if (!this.cfg.fragmentSize) {
      this.drop('fragment-unsupported');
      return undefined;
    }
    try {
      checkExchangeRules(header.exchangeType, isResponse, payloads, undefined);
    } catch (e) {
      this.drop('rules', (e as Error).message);
      return undefined;
    }
    const aadLen = raw.length - skf.body.length;
    let plaintext: Uint8Array;
    try {
      plaintext = ctx.keymat!.openInbound(raw.subarray(0, aadLen), skf.body);
    } catch (e) {
      this.drop('integrity', `fragment ${skf.fragmentNumber}: ${(e as Error).message}`);
      return undefined;
    }
    const r = (isResponse ? ctx.fragments.response : ctx.fragments.request).add({
      messageId: header.messageId,
      fragmentNumber: skf.fragmentNumber,
      totalFragments: skf.totalFragments,
      firstInner: skf.firstInner,
      plaintext,
    });
    if (r.status === 'incomplete') return undefined;
    if (r.status === 'rejected') {
      this.drop('fragment-rejected', r.reason);
      return undefined;
    }
    try {
      const inner = decodePayloadChain(r.first, r.bytes, 0);
      checkExchangeRules(header.exchangeType, isResponse, payloads, inner);
      return inner;
    } catch (e) {
      this.drop('malformed-inner', (e as Error).message);
      return undefined;
    }
  }

  private onRequest(
    ctx: SaContext,
    header: IkeHeader,
    payloads: Payload[],
    raw: Uint8Array,
    from: Endpoint,
  ): void {
    if (this.ike.state !== 'established' && this.ike.state !== 'deleting') {
      this.drop('request-before-established');
      return;
    }
    // RFC 7296 §2.1: a retransmitted request gets our cached response again — only once its
    // integrity checks, or any forged datagram with that message ID would make us answer
    // (a reflection amplifier).
    if (ctx.lastResponse && header.messageId === ctx.lastResponse.mid) {
      if (!this.authenticRetransmit(ctx, payloads, raw)) return;
      this.counters.retransmits++;
      this.transmit(ctx.lastResponse.data);
      return;
    }
    if (header.messageId !== ctx.peerNextMid) {
      this.drop('unexpected-request-mid', `got ${header.messageId}, expected ${ctx.peerNextMid}`);
      return;
    }
    const inner = this.openEncrypted(ctx, header, payloads, raw, false);
    if (!inner) return;
    ctx.peerNextMid++;
    this.ike.lastAlive = this.now;
    if (from.port !== this.ike.remote.port && this.ike.natT) {
      // The gateway saw us move (NAT rebinding on its side is rare); follow an authenticated request.
      this.ike.remote = { address: from.address, port: from.port };
    }
    const critical = findUnsupportedCritical(inner);
    let reply: Payload[];
    let after: (() => void) | undefined;
    if (critical.length > 0) {
      reply = [this.notify(NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD, Uint8Array.of(critical[0]!))];
    } else {
      switch (header.exchangeType) {
        case ExchangeType.INFORMATIONAL:
          ({ reply, after } = this.processInformationalRequest(ctx, inner, from));
          break;
        case ExchangeType.CREATE_CHILD_SA:
          ({ reply, after } = this.processCreateChildRequest(ctx, inner));
          break;
        default:
          reply = [this.notify(NotifyType.INVALID_SYNTAX)];
      }
    }
    const data = this.buildEncrypted(header.exchangeType, header.messageId, true, reply, ctx);
    ctx.lastResponse = { mid: header.messageId, data, request: raw.slice() };
    this.transmit(data);
    after?.();
  }

  /** Does a request (SK, or one SKF fragment of it) pass its ICV? Drops it when not. */
  private authenticRetransmit(ctx: SaContext, payloads: Payload[], raw: Uint8Array): boolean {
    const sk = payloads.find(
      (p): p is SkPayload | SkfPayload => p.type === PayloadType.SK || p.type === PayloadType.SKF,
    );
    if (!sk || !ctx.keymat) {
      this.drop('not-encrypted', 'retransmitted request');
      return false;
    }
    try {
      ctx.keymat.openInbound(raw.subarray(0, raw.length - sk.body.length), sk.body);
      // RFC 7383 §2.6.1: a fragmented request is answered again once, on its fragment 1 — not
      // once per fragment (the peer resends them all together).
      if (sk.type === PayloadType.SKF && sk.fragmentNumber !== 1) {
        this.drop('retransmitted-fragment');
        return false;
      }
      return true;
    } catch (e) {
      this.drop('integrity', `retransmitted request: ${(e as Error).message}`);
      return false;
    }
  }

  /**
   * CREATE_CHILD_SA started by the gateway (RFC 7296 §1.3): rekeying our CHILD_SA (§1.3.3,
   * N(REKEY_SA)) or the IKE SA (§1.3.2, SA with protocol IKE). Other requests for additional
   * CHILD_SAs are refused with NO_ADDITIONAL_SAS: this client carries one tunnel.
   */
  private processCreateChildRequest(
    ctx: SaContext,
    inner: Payload[],
  ): { reply: Payload[]; after?: () => void } {
    const sa = findPayload(inner, PayloadType.SA);
    const nonce = findPayload(inner, PayloadType.NONCE);
    const ke = findPayload(inner, PayloadType.KE);
    const keymat = ctx.keymat;
    if (!sa || !nonce || !keymat || ctx !== this.ike.sa)
      return { reply: [this.notify(NotifyType.NO_ADDITIONAL_SAS)] };
    if (sa.proposals.some((p) => p.protocol === ProtocolId.IKE))
      return this.respondIkeRekey(ctx, keymat, sa.proposals, nonce.data, ke);
    const rekey = filterPayloads(inner, PayloadType.NOTIFY).find(
      (n) => n.notifyType === NotifyType.REKEY_SA,
    );
    if (!rekey) {
      this.log.info('ike', 'gateway offered an additional CHILD_SA; answering NO_ADDITIONAL_SAS');
      return { reply: [this.notify(NotifyType.NO_ADDITIONAL_SAS)] };
    }
    const old =
      rekey.spi.length === 4
        ? new DataView(rekey.spi.buffer, rekey.spi.byteOffset, 4).getUint32(0)
        : -1;
    const child = this.ike.children.find((c) => c.outboundSpi === old || c.inboundSpi === old);
    if (!child || child.theirs) {
      // §2.25: the SA to rekey is gone (e.g. we just deleted it).
      const n = this.notify(NotifyType.CHILD_SA_NOT_FOUND);
      return { reply: [{ ...n, protocol: ProtocolId.ESP, spi: rekey.spi }] };
    }
    const tsi = findPayload(inner, PayloadType.TSi);
    const tsr = findPayload(inner, PayloadType.TSr);
    // The gateway initiates this exchange: its TSi is its side, its TSr is ours (§2.9). We may
    // only narrow, and the new SA keeps the old one's selectors (§2.9.2), at most 32 per side.
    const theirSide = tsi
      ? capSelectors(narrowTo(child.tsRemote, tsi.selectors), 'TSi')
      : undefined;
    const ourSide = tsr ? capSelectors(narrowTo(child.tsLocal, tsr.selectors), 'TSr') : undefined;
    if (!tsi || !tsr || !theirSide?.selectors.length || !ourSide?.selectors.length) {
      return { reply: [this.notify(NotifyType.TS_UNACCEPTABLE)] };
    }
    tsi.selectors = theirSide.selectors;
    tsr.selectors = ourSide.selectors;
    const choice = chooseFromOffer(sa.proposals, this.cfg.espProposals, ProtocolId.ESP, {
      ...(ke ? { dhGroup: ke.dhGroup } : {}),
      acceptDh: isSupportedGroup,
    });
    if (!choice || choice.chosen.spi.length !== 4 || !isAead(choice.chosen.encr.id)) {
      return { reply: [this.notify(NotifyType.NO_PROPOSAL_CHOSEN)] };
    }
    const nr = this.random.bytes(32);
    let shared: Uint8Array | undefined;
    const reply: Payload[] = [];
    const inboundSpi = this.newChildSpi();
    reply.push({
      type: PayloadType.SA,
      critical: false,
      proposals: [
        {
          num: choice.chosen.num,
          protocol: ProtocolId.ESP,
          spi: u32(inboundSpi),
          transforms: choice.transforms,
        },
      ],
    });
    reply.push({ type: PayloadType.NONCE, critical: false, data: nr });
    if (ke) {
      try {
        const mine = createKeyExchange(ke.dhGroup, this.random);
        shared = mine.computeSharedSecret(ke.data);
        reply.push({
          type: PayloadType.KE,
          critical: false,
          dhGroup: ke.dhGroup,
          data: mine.publicValue,
        });
      } catch {
        return { reply: [this.notify(NotifyType.INVALID_SYNTAX)] };
      }
    }
    reply.push(tsi, tsr);
    // §2.17: the exchange initiator's nonce comes first; its direction's keys come first.
    const encrLen = (choice.chosen.encr.keyBits ?? 256) / 8 + 4;
    const keys = keymat.childKeys(nonce.data, nr, encrLen, 0, shared);
    if (shared) wipe(shared);
    const outboundSpi = new DataView(
      choice.chosen.spi.buffer,
      choice.chosen.spi.byteOffset,
      4,
    ).getUint32(0);
    const info: ChildSaInfo = {
      inbound: {
        spi: inboundSpi,
        encrId: choice.chosen.encr.id,
        keymat: keys.encrI,
        replayWindow: this.cfg.replayWindow,
      },
      outbound: { spi: outboundSpi, encrId: choice.chosen.encr.id, keymat: keys.encrR },
      tsLocal: tsr.selectors,
      tsRemote: tsi.selectors,
      proposal: formatChosen(choice.chosen),
    };
    return {
      reply,
      after: () => {
        // Make-before-break: the new SA is used from now on; the old one stays until deleted.
        const created = this.addChild(info);
        child.replaced = true;
        child.theirs = { ni: nonce.data.slice(), nr, child: created };
        this.counters.childRekeys++;
        this.emit({ type: 'rekeyed', what: 'child', by: 'peer', proposal: info.proposal });
        this.resolveRekeyCollision(child);
      },
    };
  }

  /** §1.3.2 / §2.18: the gateway rekeys the IKE SA; the new SA's original initiator is the gateway. */
  private respondIkeRekey(
    ctx: SaContext,
    keymat: IkeKeymat,
    offered: Proposal[],
    ni: Uint8Array,
    ke: KePayload | undefined,
  ): { reply: Payload[]; after?: () => void } {
    if (!ke) return { reply: [this.notify(NotifyType.INVALID_SYNTAX)] };
    const oursInFlight = this.ike.sa.outstanding?.what === IKE_REKEY_WHAT;
    if (this.ike.pendingNext || this.collision || (this.ikeRekeying && !oursInFlight)) {
      if (this.ikeRekeying && !oursInFlight && !this.ike.pendingNext && !this.collision) {
        // Ours is still queued: drop it and take the gateway's.
        this.ikeRekeying = undefined;
      } else {
        // Our rekey already finished (we are deleting the old SA): let the gateway retry (§2.25).
        return { reply: [this.notify(NotifyType.TEMPORARY_FAILURE)] };
      }
    }
    const choice = chooseFromOffer(offered, this.cfg.ikeProposals, ProtocolId.IKE, {
      dhGroup: ke.dhGroup,
      acceptDh: isSupportedGroup,
    });
    if (!choice) {
      // Maybe only the KE group is wrong: ask for one we both offered (§1.3.2 allows INVALID_KE_PAYLOAD).
      const other = chooseFromOffer(offered, this.cfg.ikeProposals, ProtocolId.IKE, {
        acceptDh: isSupportedGroup,
      });
      if (other?.chosen.dh && other.chosen.dh.id !== ke.dhGroup) {
        const g = new Uint8Array(2);
        new DataView(g.buffer).setUint16(0, other.chosen.dh.id);
        return { reply: [this.notify(NotifyType.INVALID_KE_PAYLOAD, g)] };
      }
      return { reply: [this.notify(NotifyType.NO_PROPOSAL_CHOSEN)] };
    }
    if (choice.chosen.spi.length !== 8) return { reply: [this.notify(NotifyType.INVALID_SYNTAX)] };
    let mine: KeyExchange;
    let shared: Uint8Array;
    try {
      mine = createKeyExchange(ke.dhGroup, this.random);
      shared = mine.computeSharedSecret(ke.data);
    } catch {
      return { reply: [this.notify(NotifyType.INVALID_SYNTAX)] };
    }
    const nr = this.random.bytes(32);
    const spiR = this.randomNonZero(8);
    const next = newContext(choice.chosen.spi.slice(), spiR, false);
    next.keymat = new IkeKeymat({
      proposal: choice.chosen,
      weInitiated: false,
      rekeyOf: keymat.rekeySeed(),
      ni,
      nr,
      spiI: next.spiI,
      spiR,
      sharedSecret: shared,
    });
    wipe(shared);
    const reply: Payload[] = [
      {
        type: PayloadType.SA,
        critical: false,
        proposals: [
          {
            num: choice.chosen.num,
            protocol: ProtocolId.IKE,
            spi: spiR,
            transforms: choice.transforms,
          },
        ],
      },
      { type: PayloadType.NONCE, critical: false, data: nr },
      { type: PayloadType.KE, critical: false, dhGroup: ke.dhGroup, data: mine.publicValue },
    ];
    if (oursInFlight) {
      // §2.8.1: both ends rekey at once. Answer; which new SA survives is decided by the nonces
      // once our own exchange completes (processOwnIkeRekey).
      this.collision = { ctx: next, ni: ni.slice(), nr, proposal: choice.chosen };
      return { reply };
    }
    return {
      reply,
      after: () => {
        // The CHILD_SAs move to the new IKE SA; the old one answers until the gateway deletes it.
        if (this.ike.retired) this.ike.retired.keymat?.wipe();
        this.ike.retired = ctx;
        this.ike.sa = next;
        this.ike.ikeProposal = choice.chosen;
        this.scheduleIkeRekey();
        this.counters.ikeRekeys++;
        this.emit({
          type: 'rekeyed',
          what: 'ike',
          by: 'peer',
          proposal: formatChosen(choice.chosen),
        });
      },
    };
  }

  private processInformationalRequest(
    ctx: SaContext,
    inner: Payload[],
    from: Endpoint,
  ): { reply: Payload[]; after?: () => void } {
    const deletes = inner.filter((p): p is DeletePayload => p.type === PayloadType.DELETE);
    const notifies = filterPayloads(inner, PayloadType.NOTIFY);
    if (
      ctx === this.ike.sa &&
      this.ike.peerMobike &&
      notifies.some((n) => n.notifyType === NotifyType.UPDATE_SA_ADDRESSES)
    ) {
      return this.onPeerAddressUpdate(notifies, from);
    }
    if (deletes.length === 0) {
      // Empty INFORMATIONAL = liveness check (RFC 7296 §1.4); notifies are informational.
      for (const n of filterPayloads(inner, PayloadType.NOTIFY)) {
        this.log.info('ike', `gateway notify ${nameOf(NotifyType, n.notifyType)}`);
      }
      this.emit({ type: 'liveness-check' });
      return { reply: [] };
    }
    if (ctx !== this.ike.sa) {
      // The IKE SA we replaced by a rekey: its DELETE just retires it (§2.18).
      if (deletes.some((d) => d.protocol === ProtocolId.IKE)) {
        return {
          reply: [],
          after: () => {
            ctx.keymat?.wipe();
            if (this.ike.retired === ctx) this.ike.retired = undefined;
            if (this.ike.redundant === ctx) this.ike.redundant = undefined;
          },
        };
      }
      return { reply: [] };
    }
    if (deletes.some((d) => d.protocol === ProtocolId.IKE)) {
      // RFC 7296 §1.4.1: deleting the IKE SA deletes all its CHILD_SAs; answer with an empty INFORMATIONAL.
      const err = new VpnError(
        'ERR_IKE_DELETED',
        'the gateway closed the connection (deleted the IKE SA)',
      );
      return { reply: [], after: () => this.finishClose(err, true) };
    }
    const ourSpis: Uint8Array[] = [];
    for (const d of deletes) {
      if (d.protocol !== ProtocolId.ESP) continue;
      for (const spiBytes of d.spis) {
        if (spiBytes.length !== 4) continue;
        const spi = new DataView(spiBytes.buffer, spiBytes.byteOffset, 4).getUint32(0);
        // The gateway names its inbound SPI, which is our outbound SPI (§3.11).
        const idx = this.ike.children.findIndex((c) => c.outboundSpi === spi);
        if (idx < 0) continue;
        const c = this.ike.children.splice(idx, 1)[0]!;
        this.out.push({
          kind: 'removeChild',
          inboundSpi: c.inboundSpi,
          outboundSpi: c.outboundSpi,
        });
        // §1.4.1: crossing DELETEs: no Delete payload in the response for an SA we are deleting.
        if (!c.deleteSent) ourSpis.push(u32(c.inboundSpi));
      }
    }
    const reply: Payload[] =
      ourSpis.length > 0
        ? [
            {
              type: PayloadType.DELETE,
              critical: false,
              protocol: ProtocolId.ESP,
              spiSize: 4,
              spis: ourSpis,
            },
          ]
        : [];
    if (this.ike.children.length === 0) {
      // Without a CHILD_SA our client carries no traffic: after answering (§1.4.1), delete the IKE
      // SA with a request of our own (new message ID) and keep answering the gateway until its
      // response — or its own IKE SA DELETE — arrives, so no half-open SA is left on either side.
      const err = new VpnError('ERR_IKE_DELETED', 'the gateway deleted the tunnel (CHILD_SA)');
      return { reply, after: () => this.startIkeDelete(err) };
    }
    return { reply };
  }

  // ---------------------------------------------------------------------------------------------
  // Bounds on what one message makes us hold (issue 11 finding 6, src/ike/limits.ts)

  /** A printable warning for the driver: something the gateway sent was ignored beyond a bound. */
  private warn(message: string): void {
    this.log.warn('ike', message);
    this.emit({ type: 'warning', message });
  }

  /** The CP reply with DNS servers, domains and subnets capped (8 per family, 16, 32). */
  private cappedConfig(cp: CpPayload): ConfigReply {
    const { config, warnings } = capConfigReply(parseConfigReply(cp));
    for (const w of warnings) this.warn(`gateway's configuration: ${w}`);
    return config;
  }

  /**
   * The responder's TSi/TSr must narrow what we proposed (RFC 7296 §2.9): a selector wider than
   * ours refuses the CHILD_SA, never installed wider. Accepted lists are capped at 32 per side.
   */
  private checkResponderSelectors(
    local: TrafficSelector[],
    remote: TrafficSelector[],
    tsi: TsPayload,
    tsr: TsPayload,
  ): string | null {
    const problem =
      checkNarrowed(local, tsi.selectors, 'TSi') ?? checkNarrowed(remote, tsr.selectors, 'TSr');
    if (problem) return problem;
    for (const [p, side] of [
      [tsi, 'TSi'],
      [tsr, 'TSr'],
    ] as const) {
      const capped = capSelectors(p.selectors, side);
      if (capped.warning) this.warn(`gateway's CHILD_SA: ${capped.warning}`);
      p.selectors = capped.selectors;
    }
    return null;
  }

  /**
   * Keeps at most LIMITS.childSas CHILD_SAs (a gateway rekeying without deleting must not grow
   * the data plane's SA table): makes room for one more by removing the oldest rekeyed ones
   * from the data path at once and sending our DELETE for each (§1.4.1).
   */
  private evictSurplusChildren(): void {
    while (this.ike.children.length >= LIMITS.childSas) {
      const victim = this.ike.children.find((c) => c.replaced) ?? this.ike.children[0]!;
      this.ike.children.splice(this.ike.children.indexOf(victim), 1);
      this.out.push({
        kind: 'removeChild',
        inboundSpi: victim.inboundSpi,
        outboundSpi: victim.outboundSpi,
      });
      this.warn(
        `the gateway keeps rekeyed CHILD_SAs without deleting them: deleted the oldest (SPI ${victim.inboundSpi.toString(16).padStart(8, '0')}) to stay within ${LIMITS.childSas}`,
      );
      if (victim.deleteSent) continue;
      victim.deleteSent = true;
      this.enqueue(() => {
        const d: DeletePayload = {
          type: PayloadType.DELETE,
          critical: false,
          protocol: ProtocolId.ESP,
          spiSize: 4,
          spis: [u32(victim.inboundSpi)],
        };
        const msg = this.buildEncrypted(ExchangeType.INFORMATIONAL, this.ike.sa.nextMid, false, [
          d,
        ]);
        this.sendRequest(ExchangeType.INFORMATIONAL, msg, 'a CHILD_SA delete', () => undefined);
      });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // MOBIKE (RFC 4555)

  private notePeerMobike(notifies: NotifyPayload[]): void {
    if (notifies.some((n) => n.notifyType === NotifyType.MOBIKE_SUPPORTED))
      this.ike.peerMobike = true;
  }

  /** Did the gateway announce MOBIKE (RFC 4555 §3.1)? */
  get peerSupportsMobike(): boolean {
    return this.ike.peerMobike;
  }

  /** NAT_DETECTION_SOURCE_IP / _DESTINATION_IP for the current SA and endpoints (§2.23). */
  private natdNotifies(): NotifyPayload[] {
    const src = this.cfg.forceEncap
      ? this.random.bytes(20)
      : natdHash(this.ike.sa.spiI, this.ike.sa.spiR, this.ike.local);
    const dst = natdHash(this.ike.sa.spiI, this.ike.sa.spiR, this.ike.remote);
    return [
      this.notify(NotifyType.NAT_DETECTION_SOURCE_IP, src),
      this.notify(NotifyType.NAT_DETECTION_DESTINATION_IP, dst),
    ];
  }

  /** The driver saw our address (the source of the path to the gateway) change. */
  private onLocalAddress(local: Endpoint): void {
    const changed = local.address !== this.ike.local.address;
    this.ike.local = local;
    if (!changed || this.ike.state !== 'established') return;
    if (this.cfg.mobike === false || !this.ike.peerMobike) {
      // Without MOBIKE the gateway cannot follow us: start over from the new address.
      this.fail(
        new VpnError(
          'ERR_IKE_TIMEOUT',
          `our address changed to ${local.address} and the gateway does not support MOBIKE: reconnecting`,
        ),
      );
      return;
    }
    this.enqueue(() => this.sendAddressUpdate());
  }

  /**
   * RFC 4555 §3.5: INFORMATIONAL { N(UPDATE_SA_ADDRESSES), N(NAT_D)×2, N(COOKIE2) } sent from the
   * new address; the gateway moves the IKE SA and its CHILD_SAs to the address it came from.
   */
  private sendAddressUpdate(why: 'moved' | 'probe' = 'moved'): void {
    const cookie2 = this.random.bytes(16);
    const from = { ...this.ike.local };
    const inner: Payload[] = [
      this.notify(NotifyType.UPDATE_SA_ADDRESSES),
      ...this.natdNotifies(),
      this.notify(NotifyType.COOKIE2, cookie2),
    ];
    const msg = this.buildEncrypted(ExchangeType.INFORMATIONAL, this.ike.sa.nextMid, false, inner);
    this.log.info(
      'ike',
      why === 'moved'
        ? `our address changed to ${from.address}: moving the SAs (MOBIKE)`
        : 'no answers to our traffic: refreshing our address at the gateway (MOBIKE, RFC 4555 §3.8)',
    );
    this.sendRequest(ExchangeType.INFORMATIONAL, msg, 'the MOBIKE address update', (_h, p) => {
      const notifies = filterPayloads(p, PayloadType.NOTIFY);
      const error = notifies.find((n) => n.notifyType < 16384);
      if (error) {
        // e.g. UNACCEPTABLE_ADDRESSES (§3.5): the gateway will not use this address.
        this.fail(
          new VpnError(
            'ERR_IKE_TIMEOUT',
            `the gateway refused our new address ${from.address} (${nameOf(NotifyType, error.notifyType)}): reconnecting`,
          ),
        );
        return;
      }
      // §3.5: the response must echo COOKIE2 unchanged, or it does not answer this update.
      const echoed = notifies.find((n) => n.notifyType === NotifyType.COOKIE2);
      if (!echoed || !equalBytes(echoed.data, cookie2)) {
        this.fail(
          new VpnError(
            'ERR_IKE_PROTOCOL',
            'MOBIKE update response without our COOKIE2 (RFC 4555 §3.5)',
          ),
        );
        return;
      }
      this.updateNatFrom(notifies);
      this.emit({ type: 'roamed', local: from, remote: this.ike.remote, by: 'us' });
    });
  }

  /**
   * NAT-D (RFC 7296 §2.23; in MOBIKE exchanges RFC 4555 §3.5): is there a NAT on either side?
   * Returns false when the notifies are absent.
   */
  private updateNatFrom(notifies: NotifyPayload[]): boolean {
    const srcs = notifies.filter((n) => n.notifyType === NotifyType.NAT_DETECTION_SOURCE_IP);
    const dsts = notifies.filter((n) => n.notifyType === NotifyType.NAT_DETECTION_DESTINATION_IP);
    if (srcs.length === 0 || dsts.length === 0) return false;
    const expectRemote = natdHash(this.ike.sa.spiI, this.ike.sa.spiR, this.ike.remote);
    const expectLocal = natdHash(this.ike.sa.spiI, this.ike.sa.spiR, this.ike.local);
    this.ike.natThere = !srcs.some((n) => equalBytes(n.data, expectRemote));
    this.ike.natHere = !dsts.some((n) => equalBytes(n.data, expectLocal));
    this.emit({ type: 'nat', natHere: this.ike.natHere, natThere: this.ike.natThere });
    return true;
  }

  /** The gateway moved (§3.5 from its side): follow it to the address its request came from. */
  private onPeerAddressUpdate(
    notifies: NotifyPayload[],
    from: Endpoint,
  ): { reply: Payload[]; after?: () => void } {
    const cookie2 = notifies.find((n) => n.notifyType === NotifyType.COOKIE2);
    const prev = this.ike.remote;
    this.ike.remote = { address: from.address, port: from.port };
    this.updateNatFrom(notifies);
    const reply: Payload[] = [...this.natdNotifies()];
    if (cookie2) reply.push(this.notify(NotifyType.COOKIE2, cookie2.data));
    if (prev.address !== from.address || prev.port !== from.port) {
      this.log.info('ike', `the gateway moved to ${from.address}:${from.port} (MOBIKE)`);
    }
    return {
      reply,
      after: () =>
        this.emit({ type: 'roamed', local: this.ike.local, remote: this.ike.remote, by: 'peer' }),
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Building messages

  private notify(type: number, data: Uint8Array = new Uint8Array(0)): NotifyPayload {
    return {
      type: PayloadType.NOTIFY,
      critical: false,
      protocol: 0,
      spi: new Uint8Array(0),
      notifyType: type,
      data,
    };
  }

  private headerFor(
    exchange: number,
    mid: number,
    response: boolean,
    ctx: SaContext = this.ike.sa,
  ): Omit<IkeHeader, 'nextPayload' | 'length'> {
    return {
      spiI: ctx.spiI,
      spiR: ctx.spiR,
      version: 0x20,
      exchangeType: exchange,
      flags: (ctx.weInitiated ? HeaderFlag.INITIATOR : 0) | (response ? HeaderFlag.RESPONSE : 0),
      messageId: mid,
    };
  }

  /** Encodes a message whose payloads all travel inside SK (RFC 7296 §3.14). */
  private buildEncrypted(
    exchange: number,
    mid: number,
    response: boolean,
    inner: Payload[],
    ctx: SaContext = this.ike.sa,
  ): Uint8Array {
    const keymat = ctx.keymat;
    if (!keymat) throw new VpnError('ERR_IKE_PROTOCOL', 'no keys to protect a message');
    const chain = encodePayloadChain(inner);
    const bodyLength = keymat.crypter.bodyLength(chain.bytes.length);
    const sk: SkPayload = {
      type: PayloadType.SK,
      critical: false,
      firstInner: chain.first,
      body: new Uint8Array(bodyLength),
    };
    const msg = encodeMessage(this.headerFor(exchange, mid, response, ctx), [sk]);
    const aadLen = msg.length - bodyLength;
    const body = keymat.sealOutbound(msg.subarray(0, aadLen), chain.bytes, this.random);
    if (body.length !== bodyLength) {
      throw new VpnError('ERR_IKE_PROTOCOL', `SK body length ${body.length} != ${bodyLength}`);
    }
    msg.set(body, aadLen);
    return msg;
  }

  private deleteIkePayload(): DeletePayload {
    return {
      type: PayloadType.DELETE,
      critical: false,
      protocol: ProtocolId.IKE,
      spiSize: 0,
      spis: [],
    };
  }

  // ---------------------------------------------------------------------------------------------
  // IKE_SA_INIT (RFC 7296 §1.2, §2.6 cookies, §1.3/§2.7 INVALID_KE_PAYLOAD, §2.23 NAT-D)

  private start(local: Endpoint, remote: Endpoint): void {
    if (this.ike.state !== 'created') return;
    this.ike.local = local;
    this.ike.remote = remote;
    this.ike.sa.spiI = this.randomNonZero(8);
    this.setState('connecting');
    this.sendInit();
  }

  private randomNonZero(n: number): Uint8Array {
    for (;;) {
      const b = this.random.bytes(n);
      if (b.some((x) => x !== 0)) return b;
    }
  }

  private sendInit(): void {
    this.emit({ type: 'stage', stage: 'ike-sa-init' });
    this.ke = createKeyExchange(this.dhGroup, this.random);
    this.ike.ni = this.random.bytes(32);
    const zeroSpi = new Uint8Array(8);
    // Put the group we will use first inside our proposals? No: the KE payload names it; the SA
    // offers all groups (RFC 7296 §1.2).
    const payloads: Payload[] = [];
    if (this.cookie) payloads.push(this.notify(NotifyType.COOKIE, this.cookie)); // §2.6: COOKIE first
    const sa: SaPayload = {
      type: PayloadType.SA,
      critical: false,
      proposals: buildProposals(this.cfg.ikeProposals, ProtocolId.IKE, new Uint8Array(0)),
    };
    const ke: KePayload = {
      type: PayloadType.KE,
      critical: false,
      dhGroup: this.dhGroup,
      data: this.ke.publicValue,
    };
    const nonce: NoncePayload = { type: PayloadType.NONCE, critical: false, data: this.ike.ni };
    const srcHash = this.cfg.forceEncap
      ? this.random.bytes(20)
      : natdHash(this.ike.sa.spiI, zeroSpi, this.ike.local);
    const dstHash = natdHash(this.ike.sa.spiI, zeroSpi, this.ike.remote);
    // RFC 7427 §4: the hashes we accept in Digital Signature AUTH payloads.
    const hashes = supportedHashes();
    const sigHash = new Uint8Array(2 * hashes.length);
    const dv = new DataView(sigHash.buffer);
    hashes.forEach((h, i) => dv.setUint16(2 * i, h));
    payloads.push(
      sa,
      ke,
      nonce,
      this.notify(NotifyType.NAT_DETECTION_SOURCE_IP, srcHash),
      this.notify(NotifyType.NAT_DETECTION_DESTINATION_IP, dstHash),
      this.notify(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED),
      this.notify(NotifyType.SIGNATURE_HASH_ALGORITHMS, sigHash),
    );
    this.ike.sa.spiR = new Uint8Array(8);
    this.ike.sa.nextMid = 0;
    this.ike.initRequest = encodeMessage(
      this.headerFor(ExchangeType.IKE_SA_INIT, 0, false),
      payloads,
    );
    this.sendRequest(ExchangeType.IKE_SA_INIT, this.ike.initRequest, 'IKE_SA_INIT', (h, p) =>
      this.processInitResponse(h, p),
    );
  }

  private processInitResponse(header: IkeHeader, payloads: Payload[]): void {
    const notifies = payloads.filter((p): p is NotifyPayload => p.type === PayloadType.NOTIFY);
    const cookie = notifies.find((n) => n.notifyType === NotifyType.COOKIE);
    if (cookie) {
      if (++this.initRetries > this.cfg.maxInitRetries) {
        this.fail(new VpnError('ERR_IKE_PROTOCOL', 'gateway keeps demanding cookies; giving up'));
        return;
      }
      if (cookie.data.length < 1 || cookie.data.length > 64) {
        this.fail(
          new VpnError('ERR_IKE_PROTOCOL', `gateway sent a COOKIE of ${cookie.data.length} bytes`),
        );
        return;
      }
      this.log.info('ike', 'gateway requested a cookie; retrying IKE_SA_INIT');
      this.cookie = cookie.data.slice();
      this.sendInit();
      return;
    }
    const invalidKe = notifies.find((n) => n.notifyType === NotifyType.INVALID_KE_PAYLOAD);
    if (invalidKe) {
      const wanted =
        invalidKe.data.length === 2
          ? new DataView(invalidKe.data.buffer, invalidKe.data.byteOffset, 2).getUint16(0)
          : -1;
      const offered = this.cfg.ikeProposals.some((p) => p.dh.some((d) => d.id === wanted));
      if (wanted < 0) {
        this.fail(
          new VpnError(
            'ERR_IKE_PROTOCOL',
            `gateway sent a malformed INVALID_KE_PAYLOAD (${invalidKe.data.length} bytes of data, RFC 7296 §3.10.1 wants a 2-byte group number)`,
          ),
        );
        return;
      }
      if (wanted === this.dhGroup) {
        // §1.2: INVALID_KE_PAYLOAD names the group the responder wants; asking for the one we
        // just sent is a broken (or hostile) answer, not a proposal mismatch.
        this.fail(
          new VpnError(
            'ERR_IKE_PROTOCOL',
            `gateway answered INVALID_KE_PAYLOAD asking for key exchange group ${nameOf(DhGroup, wanted)}, the group our KE payload already used`,
          ),
        );
        return;
      }
      if (!offered) {
        this.fail(
          new VpnError(
            'ERR_IKE_NO_PROPOSAL',
            `gateway asked for key exchange group ${nameOf(DhGroup, wanted)}, which we did not offer (offered: ${formatSpecs(this.cfg.ikeProposals)})`,
          ),
        );
        return;
      }
      if (++this.initRetries > this.cfg.maxInitRetries) {
        this.fail(
          new VpnError(
            'ERR_IKE_PROTOCOL',
            `gateway kept answering INVALID_KE_PAYLOAD (${this.initRetries - 1} retries, last asking for ${nameOf(DhGroup, wanted)}); giving up`,
          ),
        );
        return;
      }
      this.log.info(
        'ike',
        `gateway prefers group ${nameOf(DhGroup, wanted)}; retrying IKE_SA_INIT`,
      );
      this.dhGroup = wanted;
      this.sendInit();
      return;
    }
    const error = notifies.find((n) => n.notifyType < 16384);
    if (error) {
      this.fail(this.errorFromNotify(error, 'IKE_SA_INIT'));
      return;
    }
    const sa = payloads.find((p): p is SaPayload => p.type === PayloadType.SA);
    const ke = payloads.find((p): p is KePayload => p.type === PayloadType.KE);
    const nonce = payloads.find((p): p is NoncePayload => p.type === PayloadType.NONCE);
    if (!sa || !ke || !nonce) {
      this.fail(new VpnError('ERR_IKE_PROTOCOL', 'IKE_SA_INIT response lacks SA, KE or Nonce'));
      return;
    }
    if (header.spiR.every((b) => b === 0)) {
      this.fail(new VpnError('ERR_IKE_PROTOCOL', 'IKE_SA_INIT response with a zero responder SPI'));
      return;
    }
    const chosen = selectResponderProposal(this.cfg.ikeProposals, sa.proposals, ProtocolId.IKE);
    if (typeof chosen === 'string') {
      this.fail(new VpnError('ERR_IKE_PROTOCOL', `invalid IKE proposal from gateway: ${chosen}`));
      return;
    }
    if (!chosen.dh || chosen.dh.id !== this.dhGroup || ke.dhGroup !== this.dhGroup) {
      this.fail(
        new VpnError(
          'ERR_IKE_PROTOCOL',
          `gateway's KE group ${ke.dhGroup} does not match ours (${this.dhGroup})`,
        ),
      );
      return;
    }
    const ikeKe = this.ke;
    if (!ikeKe) throw new VpnError('ERR_IKE_PROTOCOL', 'no key exchange in progress');
    let shared: Uint8Array;
    try {
      shared = ikeKe.computeSharedSecret(ke.data);
    } catch (e) {
      this.fail(
        new VpnError(
          'ERR_IKE_PROTOCOL',
          `gateway's key exchange value is invalid: ${(e as Error).message}`,
        ),
      );
      return;
    }
    this.ike.sa.spiR = header.spiR.slice();
    this.ike.nr = nonce.data.slice();
    this.ike.ikeProposal = chosen;
    this.ike.sa.keymat = new IkeKeymat({
      proposal: chosen,
      weInitiated: true,
      ni: this.ike.ni,
      nr: this.ike.nr,
      spiI: this.ike.sa.spiI,
      spiR: this.ike.sa.spiR,
      sharedSecret: shared,
    });
    wipe(shared);
    this.ke = undefined;

    // RFC 7296 §2.23: compare NAT-D hashes.
    if (this.updateNatFrom(notifies)) {
      if (this.ike.natHere || this.ike.natThere || this.cfg.forceEncap) {
        // RFC 7296 §2.23 / RFC 3948: float to port 4500 with the non-ESP marker.
        this.ike.natT = true;
        if (this.ike.remote.port === 500)
          this.ike.remote = { address: this.ike.remote.address, port: NATT_PORT };
      }
    } else if (this.cfg.forceEncap) {
      this.fail(
        new VpnError(
          'ERR_IKE_PROTOCOL',
          'gateway does not support NAT traversal, which userspace ESP needs',
        ),
      );
      return;
    }
    this.ike.peerFragmentation = notifies.some(
      (n) => n.notifyType === NotifyType.IKEV2_FRAGMENTATION_SUPPORTED,
    );
    // RFC 7427 §4: the hash algorithms the gateway accepts in our signatures.
    this.ike.peerHashes = [];
    for (const n of notifies.filter((x) => x.notifyType === NotifyType.SIGNATURE_HASH_ALGORITHMS)) {
      for (let i = 0; i + 1 < n.data.length; i += 2)
        this.ike.peerHashes.push((n.data[i]! << 8) | n.data[i + 1]!);
    }
    this.log.info(
      'ike',
      `IKE_SA_INIT done: ${formatChosen(chosen)}${this.ike.natT ? ', NAT-T on port 4500' : ''}`,
    );
    this.sendAuth();
  }

  // ---------------------------------------------------------------------------------------------
  // IKE_AUTH (RFC 7296 §1.2, §2.15; EAP §2.16) + CP (§2.19) + first CHILD_SA (§1.2, §2.9)

  private idPayload(type: 35 | 36, id: Identity): IdPayload {
    return { type, critical: false, idType: id.type, data: id.data };
  }

  private static idBody(p: IdPayload): Uint8Array {
    // RestOfIDPayload: ID Type (1) | RESERVED (3) | Identification Data (§2.15)
    const b = new Uint8Array(4 + p.data.length);
    b[0] = p.idType;
    b.set(p.data, 4);
    return b;
  }

  private sendAuth(): void {
    const keymat = this.ike.sa.keymat!;
    this.emit({ type: 'stage', stage: 'ike-auth' });
    const local = this.cfg.auth;
    const idi = this.idPayload(PayloadType.IDi, this.cfg.localId);
    this.idiBody = IkeSession.idBody(idi);
    this.gw = undefined;
    this.eapRounds = 0;
    // RFC 7296 §1.2: HDR, SK {IDi, [CERT,] [CERTREQ,] [IDr,] AUTH, SAi2, TSi, TSr}
    const inner: Payload[] = [idi];
    if (local.kind === 'pubkey') {
      for (const der of local.certs) {
        const cert: CertPayload = {
          type: PayloadType.CERT,
          critical: false,
          encoding: CertEncoding.X509_SIG,
          data: der,
        };
        inner.push(cert);
      }
    }
    const keyIds = this.cfg.gatewayAuth.certs?.certreqKeyIds ?? [];
    if (keyIds.length > 0) {
      // §3.7: the Certification Authority field is a concatenation of SHA-1 hashes of the trusted
      // CAs' public keys (SubjectPublicKeyInfo).
      const req: CertReqPayload = {
        type: PayloadType.CERTREQ,
        critical: false,
        encoding: CertEncoding.X509_SIG,
        data: concatBytes(...keyIds),
      };
      inner.push(req);
    }
    // §2.4: INITIAL_CONTACT tells the gateway to drop older SAs of ours — not when we replace an
    // SA that is still in use (reauthentication, RFC 4478).
    if (this.cfg.initialContact !== false) inner.push(this.notify(NotifyType.INITIAL_CONTACT));
    // RFC 4555 §3.1: MOBIKE support travels in the IKE_AUTH exchange.
    if (this.cfg.mobike !== false) inner.push(this.notify(NotifyType.MOBIKE_SUPPORTED));
    if (this.cfg.remoteId) inner.push(this.idPayload(PayloadType.IDr, this.cfg.remoteId));
    if (local.kind === 'eap') {
      // §2.16: leaving out AUTH asks for EAP; RFC 5998 §3 announces that we accept EAP-only.
      if (this.cfg.gatewayAuth.eapOnly) inner.push(this.notify(NotifyType.EAP_ONLY_AUTHENTICATION));
    } else {
      const octets = keymat.authOctets(
        'initiator',
        this.ike.initRequest,
        this.ike.nr,
        this.idiBody,
      );
      let auth: AuthPayload;
      if (local.kind === 'psk') {
        auth = {
          type: PayloadType.AUTH,
          critical: false,
          method: AuthMethod.SHARED_KEY_MIC,
          data: keymat.pskAuth(local.psk, octets),
        };
      } else {
        const sig = signAuth(local.key, octets, { peerHashes: this.ike.peerHashes });
        auth = { type: PayloadType.AUTH, critical: false, method: sig.method, data: sig.data };
      }
      inner.push(auth);
    }
    this.childInboundSpi = this.newChildSpi();
    const sa: SaPayload = {
      type: PayloadType.SA,
      critical: false,
      proposals: buildProposals(this.cfg.espProposals, ProtocolId.ESP, u32(this.childInboundSpi)),
    };
    const tsi: TsPayload = { type: PayloadType.TSi, critical: false, selectors: this.cfg.tsLocal };
    const tsr: TsPayload = { type: PayloadType.TSr, critical: false, selectors: this.cfg.tsRemote };
    const cp: CpPayload = buildConfigRequest(this.cfg.request);
    if (cp.attributes.length > 0) inner.push(cp);
    inner.push(sa, tsi, tsr);
    this.sendAuthRequest(inner, 'IKE_AUTH', (h, p) => this.processAuthResponse(h, p));
  }

  /** Sends one IKE_AUTH request, in RFC 7383 fragments when it would not fit `fragmentSize`. */
  private sendAuthRequest(
    inner: Payload[],
    what: string,
    onResponse: (header: IkeHeader, payloads: Payload[]) => void,
  ): void {
    const msg = this.buildRequest(ExchangeType.IKE_AUTH, this.ike.sa.nextMid, inner);
    this.sendRequest(ExchangeType.IKE_AUTH, msg, what, onResponse);
  }

  /**
   * Encodes a protected request; if the gateway supports fragmentation (RFC 7383 §2.3) and the
   * datagram would exceed `fragmentSize`, splits the inner payloads into SKF fragments, each
   * encrypted on its own with the IKE header and SKF header as AAD (§2.5).
   */
  private buildRequest(exchange: number, mid: number, inner: Payload[]): Uint8Array[] {
    const whole = this.buildEncrypted(exchange, mid, false, inner);
    const ipv6 = this.ike.remote.address.includes(':');
    // IP + UDP headers, and the non-ESP marker on port 4500 (RFC 3948 §2.2).
    const overhead = (ipv6 ? 40 : 20) + 8 + (this.ike.natT ? 4 : 0);
    const room = this.cfg.fragmentSize - overhead;
    if (!this.ike.peerFragmentation || !this.cfg.fragmentSize || whole.length <= room)
      return [whole];
    const keymat = this.ike.sa.keymat!;
    const chain = encodePayloadChain(inner);
    // IKE header (28) + SKF header (4 generic + 4 numbering) + encrypted body.
    let piece = room - 36;
    while (piece > 0 && 36 + keymat.crypter.bodyLength(piece) > room) piece--;
    if (piece < 64) return [whole];
    const pieces = splitForFragments(chain.bytes, piece);
    const out: Uint8Array[] = [];
    pieces.forEach((plain, i) => {
      const bodyLength = keymat.crypter.bodyLength(plain.length);
      const skf: SkfPayload = {
        type: PayloadType.SKF,
        critical: false,
        // §2.5: only the first fragment names the first inner payload.
        firstInner: i === 0 ? chain.first : 0,
        fragmentNumber: i + 1,
        totalFragments: pieces.length,
        body: new Uint8Array(bodyLength),
      };
      const msg = encodeMessage(this.headerFor(exchange, mid, false), [skf]);
      const aadLen = msg.length - bodyLength;
      msg.set(keymat.sealOutbound(msg.subarray(0, aadLen), plain, this.random), aadLen);
      out.push(msg);
    });
    this.log.debug('ike', `${nameOf(ExchangeType, exchange)} sent in ${out.length} fragments`);
    return out;
  }

  private newChildSpi(): number {
    for (;;) {
      const v = new DataView(this.random.bytes(4).buffer).getUint32(0);
      // SPIs 1..255 are reserved by IANA (RFC 4303 §2.1).
      if (v > 255 && !this.ike.children.some((c) => c.inboundSpi === v)) return v;
    }
  }

  /** The first IKE_AUTH response: the gateway's identity and proof, then EAP or the CHILD_SA. */
  private processAuthResponse(_header: IkeHeader, inner: Payload[]): void {
    const notifies = inner.filter((p): p is NotifyPayload => p.type === PayloadType.NOTIFY);
    this.notePeerMobike(notifies);
    const auth = inner.find((p): p is AuthPayload => p.type === PayloadType.AUTH);
    const idr = inner.find((p): p is IdPayload => p.type === PayloadType.IDr);
    const eap = inner.find((p) => p.type === PayloadType.EAP);
    const error = notifies.find((n) => n.notifyType < 16384);
    if (!idr) {
      // Without IDr the exchange failed: an error notify says why (§2.21.2).
      this.finishCloseWith(
        error
          ? this.errorFromNotify(error, 'IKE_AUTH')
          : new VpnError('ERR_IKE_PROTOCOL', 'IKE_AUTH response lacks IDr'),
      );
      return;
    }
    const gwId: Identity = { type: idr.idType, data: idr.data };
    if (this.cfg.remoteId && !sameIdentity(gwId, this.cfg.remoteId)) {
      this.fail(
        new VpnError(
          'ERR_IKE_AUTH_FAILED',
          `gateway identified as "${formatIdentity(gwId)}", expected "${formatIdentity(this.cfg.remoteId)}"`,
        ),
      );
      return;
    }
    this.gw = { id: gwId, idBody: IkeSession.idBody(idr), authenticated: false };
    const useEap = this.cfg.auth.kind === 'eap';
    if (auth) {
      if (!this.verifyGatewayAuth(auth, inner)) return;
      this.gw.authenticated = true;
      // Only now may EAP run methods that hand the gateway our password (RFC 5998 §4).
      if (this.cfg.auth.kind === 'eap') this.cfg.auth.peer.gatewayAuthenticated();
    } else if (!(useEap && eap)) {
      this.fail(
        error
          ? this.errorFromNotify(error, 'IKE_AUTH')
          : new VpnError('ERR_IKE_PROTOCOL', 'IKE_AUTH response lacks AUTH'),
      );
      return;
    } else if (!this.cfg.gatewayAuth.eapOnly) {
      // RFC 5998 §4: without AUTH the gateway proves itself through EAP alone; only on request.
      this.fail(
        new VpnError(
          'ERR_IKE_AUTH_FAILED',
          'the gateway did not authenticate itself (no AUTH payload): it wants EAP-only authentication (RFC 5998). --eap-only allows that with EAP-TLS alone: the gateway is then trusted on its TLS server certificate only, and whoever answers in its place learns our EAP identity; password methods (MSCHAPv2, MD5, GTC) are never run with a gateway that has not authenticated',
        ),
      );
      return;
    }
    if (useEap) {
      if (!eap || !('data' in eap)) {
        this.fail(
          error
            ? this.errorFromNotify(error, 'IKE_AUTH')
            : new VpnError(
                'ERR_IKE_PROTOCOL',
                'the gateway did not start EAP although we sent no AUTH payload (RFC 7296 §2.16)',
              ),
        );
        return;
      }
      this.onEapPacket(eap.data);
      return;
    }
    this.completeAuth(inner);
  }

  /** Checks the gateway's AUTH payload (RFC 7296 §2.15): a PSK MAC or a certificate signature. */
  private verifyGatewayAuth(auth: AuthPayload, inner: Payload[]): boolean {
    const keymat = this.ike.sa.keymat!;
    const gw = this.gw!;
    const octets = keymat.authOctets('responder', this.ike.initResponse, this.ike.ni, gw.idBody);
    const policy = this.cfg.gatewayAuth;
    if (auth.method === AuthMethod.SHARED_KEY_MIC) {
      if (!policy.psk) {
        this.fail(
          new VpnError(
            'ERR_IKE_AUTH_FAILED',
            'the gateway authenticated with a pre-shared key, but we expect a certificate from it',
          ),
        );
        return false;
      }
      if (!keymat.verifyPskAuth(policy.psk, octets, auth.data)) {
        this.fail(
          new VpnError(
            'ERR_IKE_AUTH_FAILED',
            "the gateway's AUTH does not match our pre-shared key: the PSKs differ (or someone is in the middle)",
          ),
        );
        return false;
      }
      return true;
    }
    const method = nameOf(AuthMethod, auth.method);
    if (!policy.certs) {
      this.fail(
        new VpnError(
          'ERR_IKE_AUTH_FAILED',
          `the gateway authenticated with ${method} (a certificate); this connection expects a pre-shared key from it`,
        ),
      );
      return false;
    }
    const certs = inner
      .filter((p): p is CertPayload => p.type === PayloadType.CERT)
      .filter((c) => c.encoding === CertEncoding.X509_SIG)
      .map((c) => c.data);
    if (certs.length === 0) {
      this.fail(
        new VpnError(
          'ERR_CERT',
          'the gateway signed its AUTH but sent no X.509 certificate (CERT payload); we cannot check its identity',
        ),
      );
      return false;
    }
    const checked = policy.certs.validate(certs, gw.id, this.now);
    if (!checked.ok) {
      this.fail(checked.error);
      return false;
    }
    const v = verifyAuth(checked.publicKey, auth.method, auth.data, octets, {
      ourHashes: supportedHashes(),
    });
    if (!v.ok) {
      this.fail(
        new VpnError(
          'ERR_IKE_AUTH_FAILED',
          `the gateway's signature (${method}) does not verify with the key of "${checked.subject}": ${v.reason}`,
        ),
      );
      return false;
    }
    this.log.info(
      'ike',
      `gateway authenticated by certificate "${checked.subject}" (${v.description})`,
    );
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // EAP inside IKE_AUTH (RFC 7296 §2.16, RFC 3748)

  private onEapPacket(packet: Uint8Array): void {
    const peer = this.cfg.auth.kind === 'eap' ? this.cfg.auth.peer : undefined;
    if (!peer) return;
    if (++this.eapRounds > 50) {
      this.fail(new VpnError('ERR_EAP_FAILED', 'EAP did not finish within 50 rounds'));
      return;
    }
    const step = peer.handle(packet);
    switch (step.kind) {
      case 'respond':
        this.sendEap(step.packet);
        return;
      case 'pending':
        this.eapPending = true;
        return;
      case 'success':
        this.sendEapAuth();
        return;
      case 'failure':
        // The exchange is over on the gateway's side too: nothing to delete.
        this.finishCloseWith(step.error);
        return;
    }
  }

  private onAsyncEap(packet: Uint8Array): void {
    if (!this.eapPending || this.ike.state !== 'connecting') return;
    this.eapPending = false;
    this.sendEap(packet);
  }

  private sendEap(packet: Uint8Array): void {
    const inner: Payload[] = [{ type: PayloadType.EAP, critical: false, data: packet }];
    this.sendAuthRequest(inner, 'IKE_AUTH (EAP)', (_h, p) => this.processEapResponse(p));
  }

  private processEapResponse(inner: Payload[]): void {
    const eap = inner.find((p) => p.type === PayloadType.EAP);
    if (!eap || !('data' in eap)) {
      this.finishCloseWith(
        this.eapExchangeError(
          inner,
          `the gateway rejected our ${this.eapMethodName()} credentials`,
          'IKE_AUTH response during EAP lacks an EAP payload',
        ),
      );
      return;
    }
    this.onEapPacket(eap.data);
  }

  /**
   * Why an IKE_AUTH response during or after EAP lacks what we expected: AUTHENTICATION_FAILED
   * (an EAP failure, `refused`), another error notify, or a protocol error (`missing`).
   */
  private eapExchangeError(inner: Payload[], refused: string, missing: string): VpnError {
    const error = inner
      .filter((p): p is NotifyPayload => p.type === PayloadType.NOTIFY && !('unknown' in p))
      .find((n) => n.notifyType < 16384);
    if (error?.notifyType === NotifyType.AUTHENTICATION_FAILED)
      return new VpnError('ERR_EAP_FAILED', `${refused} (AUTHENTICATION_FAILED)`);
    return error
      ? this.errorFromNotify(error, 'IKE_AUTH')
      : new VpnError('ERR_IKE_PROTOCOL', missing);
  }

  private eapMethodName(): string {
    return this.cfg.auth.kind === 'eap' ? this.cfg.auth.peer.methodName() : 'EAP';
  }

  /** §2.16: after EAP-Success, AUTH = prf(prf(MSK or SK_pi, "Key Pad for IKEv2"), octets). */
  private sendEapAuth(): void {
    if (this.cfg.auth.kind !== 'eap') return;
    const keymat = this.ike.sa.keymat!;
    const octets = keymat.authOctets('initiator', this.ike.initRequest, this.ike.nr, this.idiBody);
    const auth: AuthPayload = {
      type: PayloadType.AUTH,
      critical: false,
      method: AuthMethod.SHARED_KEY_MIC,
      data: keymat.eapAuth(this.cfg.auth.peer.msk(), 'initiator', octets),
    };
    this.sendAuthRequest([auth], 'IKE_AUTH (after EAP)', (_h, p) => this.processEapAuthResponse(p));
  }

  private processEapAuthResponse(inner: Payload[]): void {
    if (this.cfg.auth.kind !== 'eap') return;
    const peer = this.cfg.auth.peer;
    const keymat = this.ike.sa.keymat!;
    const gw = this.gw!;
    const auth = inner.find((p): p is AuthPayload => p.type === PayloadType.AUTH);
    if (!auth) {
      this.finishCloseWith(
        this.eapExchangeError(
          inner,
          `the gateway refused the AUTH derived from ${peer.methodName()}`,
          'final IKE_AUTH response lacks AUTH',
        ),
      );
      return;
    }
    const octets = keymat.authOctets('responder', this.ike.initResponse, this.ike.ni, gw.idBody);
    const expected = keymat.eapAuth(peer.msk(), 'responder', octets);
    if (
      auth.method !== AuthMethod.SHARED_KEY_MIC ||
      expected.length !== auth.data.length ||
      !equalBytes(expected, auth.data)
    ) {
      this.fail(
        new VpnError(
          'ERR_IKE_AUTH_FAILED',
          `the gateway's final AUTH does not match the ${peer.methodName()} key: it does not hold the EAP session`,
        ),
      );
      return;
    }
    if (!gw.authenticated && !peer.mutual()) {
      this.fail(
        new VpnError(
          'ERR_IKE_AUTH_FAILED',
          `EAP-only authentication needs a mutual method; ${peer.methodName()} does not authenticate the gateway`,
        ),
      );
      return;
    }
    gw.authenticated = true;
    this.completeAuth(inner);
  }

  /** The IKE SA is authenticated: take the CP reply and the first CHILD_SA (§1.2, §2.19). */
  private completeAuth(inner: Payload[]): void {
    const keymat = this.ike.sa.keymat!;
    const gwId = this.gw!.id;
    const notifies = inner.filter((p): p is NotifyPayload => p.type === PayloadType.NOTIFY);
    this.notePeerMobike(notifies);
    // RFC 4478 §3: N(AUTH_LIFETIME) carries a 4-byte lifetime in seconds.
    const lifetimeN = notifies.find((n) => n.notifyType === NotifyType.AUTH_LIFETIME);
    const authLifetime =
      lifetimeN?.data.length === 4
        ? new DataView(lifetimeN.data.buffer, lifetimeN.data.byteOffset, 4).getUint32(0)
        : undefined;
    // The IKE SA is authenticated. Now the CHILD_SA (errors here leave the IKE SA up, §1.2, but a
    // VPN client without a tunnel is useless, so we close it cleanly).
    const cpPayload = inner.find((p): p is CpPayload => p.type === PayloadType.CP);
    const config = cpPayload
      ? this.cappedConfig(cpPayload)
      : { dns4: [], dns6: [], domains: [], subnets: [], unknown: [] };
    const childError = notifies.find((n) => n.notifyType < 16384);
    if (childError) {
      this.fail(this.errorFromNotify(childError, 'CHILD_SA'));
      return;
    }
    if (this.cfg.request.ip4 && !config.ip4 && !config.ip6) {
      this.fail(new VpnError('ERR_IKE_PROTOCOL', 'gateway assigned no virtual IP address'));
      return;
    }
    if (notifies.some((n) => n.notifyType === NotifyType.USE_TRANSPORT_MODE)) {
      this.fail(
        new VpnError('ERR_IKE_PROTOCOL', 'gateway chose transport mode; tunnel mode was requested'),
      );
      return;
    }
    const sa = inner.find((p): p is SaPayload => p.type === PayloadType.SA);
    const tsi = inner.find((p): p is TsPayload => p.type === PayloadType.TSi);
    const tsr = inner.find((p): p is TsPayload => p.type === PayloadType.TSr);
    if (!sa || !tsi || !tsr) {
      this.fail(
        new VpnError('ERR_IKE_PROTOCOL', 'IKE_AUTH response lacks SA/TSi/TSr for the CHILD_SA'),
      );
      return;
    }
    const esp = selectResponderProposal(this.cfg.espProposals, sa.proposals, ProtocolId.ESP);
    if (typeof esp === 'string') {
      this.fail(new VpnError('ERR_IKE_PROTOCOL', `invalid ESP proposal from gateway: ${esp}`));
      return;
    }
    if (esp.spi.length !== 4) {
      this.fail(new VpnError('ERR_IKE_PROTOCOL', `gateway's ESP SPI has ${esp.spi.length} bytes`));
      return;
    }
    const problem = this.checkResponderSelectors(this.cfg.tsLocal, this.cfg.tsRemote, tsi, tsr);
    if (problem) {
      this.fail(new VpnError('ERR_IKE_TS_UNACCEPTABLE', problem));
      return;
    }
    if (!isAead(esp.encr.id)) {
      this.fail(
        new VpnError(
          'ERR_IKE_PROTOCOL',
          `ESP cipher ${esp.encr.id} is not supported by the data path`,
        ),
      );
      return;
    }
    const encrLen = (esp.encr.keyBits ?? 256) / 8 + 4; // key ‖ salt (RFC 4106 §8.1, RFC 7634 §2)
    const keys = keymat.childKeys(this.ike.ni, this.ike.nr, encrLen, 0);
    const outboundSpi = new DataView(esp.spi.buffer, esp.spi.byteOffset, 4).getUint32(0);
    const child: ChildSaInfo = {
      inbound: {
        spi: this.childInboundSpi,
        encrId: esp.encr.id,
        keymat: keys.encrR,
        replayWindow: this.cfg.replayWindow,
      },
      outbound: { spi: outboundSpi, encrId: esp.encr.id, keymat: keys.encrI },
      tsLocal: tsi.selectors,
      tsRemote: tsr.selectors,
      proposal: formatChosen(esp),
    };
    this.addChild(child);
    this.setState('established');
    this.ike.lastAlive = this.now;
    this.scheduleDpd();
    this.scheduleIkeRekey();
    this.emit({
      type: 'established',
      info: {
        localId: formatIdentity(this.cfg.localId),
        remoteId: formatIdentity(gwId),
        ikeProposal: formatChosen(this.ike.ikeProposal!),
        espProposal: child.proposal,
        natHere: this.ike.natHere,
        natThere: this.ike.natThere,
        config,
        ...(authLifetime !== undefined ? { authLifetimeS: authLifetime } : {}),
        tsLocal: tsi.selectors.map(formatTs),
        tsRemote: tsr.selectors.map(formatTs),
        spiI: Buffer.from(this.ike.sa.spiI).toString('hex'),
        spiR: Buffer.from(this.ike.sa.spiR).toString('hex'),
        remote: this.ike.remote,
      },
    });
  }

  /** Close without sending anything (the gateway already failed the exchange). */
  private finishCloseWith(error: VpnError): void {
    this.log.warn('ike', error.message);
    this.finishClose(error, false);
  }

  private errorFromNotify(n: NotifyPayload, during: string): VpnError {
    const name = nameOf(NotifyType, n.notifyType);
    const map: Partial<Record<number, [ErrorCode, string]>> = {
      [NotifyType.AUTHENTICATION_FAILED]: [
        'ERR_IKE_AUTH_FAILED',
        'the gateway rejected our credentials (AUTHENTICATION_FAILED): check the pre-shared key and --id',
      ],
      [NotifyType.NO_PROPOSAL_CHOSEN]: [
        'ERR_IKE_NO_PROPOSAL',
        `the gateway accepted none of our ${during === 'IKE_SA_INIT' ? 'IKE' : 'ESP'} proposals (NO_PROPOSAL_CHOSEN); we offered: ${formatSpecs(during === 'IKE_SA_INIT' ? this.cfg.ikeProposals : this.cfg.espProposals)}`,
      ],
      [NotifyType.TS_UNACCEPTABLE]: [
        'ERR_IKE_TS_UNACCEPTABLE',
        `the gateway refused our traffic selectors (TS_UNACCEPTABLE): ${this.cfg.tsLocal.map(formatTs).join(',')} === ${this.cfg.tsRemote.map(formatTs).join(',')}`,
      ],
      [NotifyType.INTERNAL_ADDRESS_FAILURE]: [
        'ERR_IKE_PEER_ERROR',
        'the gateway could not assign a virtual IP (INTERNAL_ADDRESS_FAILURE): its address pool may be exhausted',
      ],
      [NotifyType.FAILED_CP_REQUIRED]: [
        'ERR_IKE_PEER_ERROR',
        'the gateway requires a configuration request (FAILED_CP_REQUIRED)',
      ],
    };
    const m = map[n.notifyType];
    if (m) return new VpnError(m[0], m[1]);
    return new VpnError('ERR_IKE_PEER_ERROR', `the gateway answered ${during} with error ${name}`);
  }

  // ---------------------------------------------------------------------------------------------
  // CHILD_SA lifecycle: install, our rekeys (RFC 7296 §1.3.3, §2.8), collisions (§2.8.1)

  /** Installs a CHILD_SA in the data path and arms its rekey timer. */
  private addChild(info: ChildSaInfo): ChildSa {
    this.evictSurplusChildren();
    const c: ChildSa = {
      inboundSpi: info.inbound.spi,
      outboundSpi: info.outbound.spi,
      tsLocal: info.tsLocal,
      tsRemote: info.tsRemote,
      replaced: false,
    };
    this.ike.children.push(c);
    this.out.push({ kind: 'installChild', child: info });
    if (this.cfg.childRekeyMs > 0) {
      const jitter = (new DataView(this.random.bytes(4).buffer).getUint32(0) / 0x100000000) * 0.1;
      this.out.push({
        kind: 'setTimer',
        timer: 'rekey-child',
        at: this.now + this.cfg.childRekeyMs * (1 - jitter),
      });
    }
    return c;
  }

  private activeChild(): ChildSa | undefined {
    for (let i = this.ike.children.length - 1; i >= 0; i--)
      if (!this.ike.children[i]!.replaced) return this.ike.children[i];
    return undefined;
  }

  /** CREATE_CHILD_SA { N(REKEY_SA), SA, Ni, TSi, TSr } for the active CHILD_SA. */
  private startChildRekey(group?: number): void {
    if (this.ike.state !== 'established') return;
    const old = this.activeChild();
    if (!old || old.ours) return;
    // PFS (§1.3.1): when our ESP proposals name a key exchange group, the rekey carries a KE.
    const pfs = group ?? this.cfg.espProposals[0]?.dh.find((d) => d.id !== 0)?.id;
    old.ours =
      pfs === undefined
        ? { ni: this.random.bytes(32) }
        : { ni: this.random.bytes(32), ke: createKeyExchange(pfs, this.random) };
    this.enqueue(() => {
      const ours = old.ours;
      if (!ours || old.replaced) {
        old.ours = undefined;
        return;
      }
      const inboundSpi = this.newChildSpi();
      const rekey = {
        ...this.notify(NotifyType.REKEY_SA),
        protocol: ProtocolId.ESP,
        spi: u32(old.inboundSpi),
      };
      const inner: Payload[] = [
        rekey,
        {
          type: PayloadType.SA,
          critical: false,
          proposals: buildProposals(this.cfg.espProposals, ProtocolId.ESP, u32(inboundSpi)),
        },
        { type: PayloadType.NONCE, critical: false, data: ours.ni },
        ...(ours.ke
          ? [
              {
                type: PayloadType.KE,
                critical: false,
                dhGroup: ours.ke.group,
                data: ours.ke.publicValue,
              } as KePayload,
            ]
          : []),
        { type: PayloadType.TSi, critical: false, selectors: old.tsLocal },
        { type: PayloadType.TSr, critical: false, selectors: old.tsRemote },
      ];
      const msg = this.buildEncrypted(
        ExchangeType.CREATE_CHILD_SA,
        this.ike.sa.nextMid,
        false,
        inner,
      );
      this.sendRequest(ExchangeType.CREATE_CHILD_SA, msg, 'a CHILD_SA rekey', (_h, p) =>
        this.processOwnChildRekey(old, inboundSpi, p),
      );
    });
  }

  private processOwnChildRekey(old: ChildSa, inboundSpi: number, inner: Payload[]): void {
    const ours = old.ours;
    const retry = (why: string): void => {
      this.log.info('ike', `CHILD_SA rekey not done (${why}); retrying in 10 s`);
      old.ours = undefined;
      if (!old.replaced)
        this.out.push({ kind: 'setTimer', timer: 'rekey-child', at: this.now + 10000 });
    };
    if (!ours) return;
    const notifies = filterPayloads(inner, PayloadType.NOTIFY);
    const invalidKe = notifies.find((n) => n.notifyType === NotifyType.INVALID_KE_PAYLOAD);
    if (invalidKe?.data.length === 2 && ours.ke) {
      // §1.3.1/§2.7: the gateway wants another PFS group; retry with it if we offered it.
      const wanted = (invalidKe.data[0]! << 8) | invalidKe.data[1]!;
      if (
        wanted !== ours.ke.group &&
        this.cfg.espProposals.some((p) => p.dh.some((d) => d.id === wanted))
      ) {
        old.ours = undefined;
        this.startChildRekey(wanted);
        return;
      }
    }
    const error = notifies.find((n) => n.notifyType < 16384);
    if (error) {
      retry(nameOf(NotifyType, error.notifyType));
      return;
    }
    const sa = findPayload(inner, PayloadType.SA);
    const nonce = findPayload(inner, PayloadType.NONCE);
    const tsi = findPayload(inner, PayloadType.TSi);
    const tsr = findPayload(inner, PayloadType.TSr);
    const chosen = sa
      ? selectResponderProposal(this.cfg.espProposals, sa.proposals, ProtocolId.ESP)
      : 'no SA';
    if (
      !nonce ||
      !tsi ||
      !tsr ||
      typeof chosen === 'string' ||
      chosen.spi.length !== 4 ||
      !isAead(chosen.encr.id)
    ) {
      retry(typeof chosen === 'string' ? chosen : 'malformed response');
      return;
    }
    const problem = this.checkResponderSelectors(old.tsLocal, old.tsRemote, tsi, tsr);
    if (problem) {
      retry(problem);
      return;
    }
    // §1.3.1: with PFS the gateway answers our KE with its own, in the group it chose.
    const kePayload = findPayload(inner, PayloadType.KE);
    let shared: Uint8Array | undefined;
    if (ours.ke) {
      if (!kePayload || chosen.dh?.id !== ours.ke.group || kePayload.dhGroup !== ours.ke.group) {
        retry('no matching KE in the answer to our PFS rekey');
        return;
      }
      try {
        shared = ours.ke.computeSharedSecret(kePayload.data);
      } catch (e) {
        retry(`invalid KE: ${(e as Error).message}`);
        return;
      }
    }
    // §2.17: we initiated this exchange, so our nonce is Ni and our outbound keys come first;
    // KEYMAT = prf+(SK_d, g^ir (new) | Ni | Nr) with PFS.
    const keys = this.ike.sa.keymat!.childKeys(
      ours.ni,
      nonce.data,
      (chosen.encr.keyBits ?? 256) / 8 + 4,
      0,
      shared,
    );
    if (shared) wipe(shared);
    const info: ChildSaInfo = {
      inbound: {
        spi: inboundSpi,
        encrId: chosen.encr.id,
        keymat: keys.encrR,
        replayWindow: this.cfg.replayWindow,
      },
      outbound: {
        spi: new DataView(chosen.spi.buffer, chosen.spi.byteOffset, 4).getUint32(0),
        encrId: chosen.encr.id,
        keymat: keys.encrI,
      },
      tsLocal: tsi.selectors,
      tsRemote: tsr.selectors,
      proposal: formatChosen(chosen),
    };
    ours.nr = nonce.data.slice();
    ours.child = this.addChild(info);
    old.replaced = true;
    this.counters.childRekeys++;
    this.emit({ type: 'rekeyed', what: 'child', by: 'us', proposal: info.proposal });
    if (!this.resolveRekeyCollision(old)) this.deleteChild(old);
  }

  /**
   * §2.8.1: when both ends rekeyed the same CHILD_SA, the new SA from the exchange holding the
   * lowest of the four nonces is redundant and is deleted by that exchange's initiator; the other
   * exchange's initiator deletes the old SA. Returns true when it handled a collision.
   */
  private resolveRekeyCollision(old: ChildSa): boolean {
    const ours = old.ours;
    const theirs = old.theirs;
    if (!ours?.child || !ours.nr || !theirs) return false;
    const min = (a: Uint8Array, b: Uint8Array): Uint8Array => (Buffer.compare(a, b) <= 0 ? a : b);
    const weLose = Buffer.compare(min(ours.ni, ours.nr), min(theirs.ni, theirs.nr)) < 0;
    this.log.info(
      'ike',
      `simultaneous CHILD_SA rekey: ${weLose ? 'ours' : "the gateway's"} is redundant`,
    );
    if (weLose) this.deleteChild(ours.child);
    else this.deleteChild(old);
    return true;
  }

  /** INFORMATIONAL { D(ESP, our inbound SPI) }; the SA goes once the gateway answers (§1.4.1). */
  private deleteChild(c: ChildSa): void {
    c.replaced = true;
    this.enqueue(() => {
      if (!this.ike.children.includes(c)) return;
      const d: DeletePayload = {
        type: PayloadType.DELETE,
        critical: false,
        protocol: ProtocolId.ESP,
        spiSize: 4,
        spis: [u32(c.inboundSpi)],
      };
      const msg = this.buildEncrypted(ExchangeType.INFORMATIONAL, this.ike.sa.nextMid, false, [d]);
      c.deleteSent = true;
      this.sendRequest(ExchangeType.INFORMATIONAL, msg, 'a CHILD_SA delete', () => {
        const i = this.ike.children.indexOf(c);
        if (i < 0) return; // the gateway's crossing DELETE removed it already (§1.4.1)
        this.ike.children.splice(i, 1);
        this.out.push({
          kind: 'removeChild',
          inboundSpi: c.inboundSpi,
          outboundSpi: c.outboundSpi,
        });
      });
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Our IKE SA rekeys (RFC 7296 §1.3.2, §2.18)

  private scheduleIkeRekey(): void {
    if (this.cfg.ikeRekeyMs <= 0) return;
    const jitter = (new DataView(this.random.bytes(4).buffer).getUint32(0) / 0x100000000) * 0.1;
    this.out.push({
      kind: 'setTimer',
      timer: 'rekey-ike',
      at: this.now + this.cfg.ikeRekeyMs * (1 - jitter),
    });
  }

  /** CREATE_CHILD_SA { SA(IKE, new SPIi), Ni, KEi } on the current IKE SA. */
  private startIkeRekey(group?: number): void {
    if (
      this.ike.state !== 'established' ||
      this.ikeRekeying ||
      this.ike.pendingNext ||
      !this.ike.ikeProposal?.dh
    )
      return;
    const dh = group ?? this.ike.ikeProposal.dh.id;
    this.ikeRekeying = {
      ni: this.random.bytes(32),
      spiI: this.randomNonZero(8),
      ke: createKeyExchange(dh, this.random),
    };
    this.enqueue(() => {
      const r = this.ikeRekeying;
      if (!r) return;
      const inner: Payload[] = [
        {
          type: PayloadType.SA,
          critical: false,
          proposals: buildProposals(this.cfg.ikeProposals, ProtocolId.IKE, r.spiI),
        },
        { type: PayloadType.NONCE, critical: false, data: r.ni },
        { type: PayloadType.KE, critical: false, dhGroup: r.ke.group, data: r.ke.publicValue },
      ];
      const msg = this.buildEncrypted(
        ExchangeType.CREATE_CHILD_SA,
        this.ike.sa.nextMid,
        false,
        inner,
      );
      this.sendRequest(ExchangeType.CREATE_CHILD_SA, msg, IKE_REKEY_WHAT, (_h, p) =>
        this.processOwnIkeRekey(p),
      );
    });
  }

  private processOwnIkeRekey(inner: Payload[]): void {
    const r = this.ikeRekeying;
    this.ikeRekeying = undefined;
    const old = this.ike.sa;
    if (!r || !old.keymat) return;
    const retryLater = (why: string): void => {
      this.log.info('ike', `IKE SA rekey not done (${why}); retrying in 10 s`);
      this.out.push({ kind: 'setTimer', timer: 'rekey-ike', at: this.now + 10000 });
    };
    const notifies = filterPayloads(inner, PayloadType.NOTIFY);
    const invalidKe = notifies.find((n) => n.notifyType === NotifyType.INVALID_KE_PAYLOAD);
    if (invalidKe && invalidKe.data.length === 2) {
      const wanted = new DataView(invalidKe.data.buffer, invalidKe.data.byteOffset, 2).getUint16(0);
      if (
        wanted !== r.ke.group &&
        this.cfg.ikeProposals.some((p) => p.dh.some((d) => d.id === wanted))
      ) {
        this.startIkeRekey(wanted);
        return;
      }
    }
    const error = notifies.find((n) => n.notifyType < 16384);
    if (error) {
      if (this.collision) {
        // The gateway refused ours (it saw the collision too): its rekey stands.
        this.adoptCollision(old);
        return;
      }
      retryLater(nameOf(NotifyType, error.notifyType));
      return;
    }
    const sa = findPayload(inner, PayloadType.SA);
    const nonce = findPayload(inner, PayloadType.NONCE);
    const ke = findPayload(inner, PayloadType.KE);
    const chosen = sa
      ? selectResponderProposal(this.cfg.ikeProposals, sa.proposals, ProtocolId.IKE)
      : 'no SA';
    if (this.collision && (!nonce || typeof chosen === 'string')) {
      this.adoptCollision(old);
      return;
    }
    if (
      !nonce ||
      !ke ||
      typeof chosen === 'string' ||
      chosen.spi.length !== 8 ||
      chosen.dh?.id !== r.ke.group ||
      ke.dhGroup !== r.ke.group
    ) {
      retryLater(typeof chosen === 'string' ? chosen : 'malformed response');
      return;
    }
    let shared: Uint8Array;
    try {
      shared = r.ke.computeSharedSecret(ke.data);
    } catch (e) {
      retryLater((e as Error).message);
      return;
    }
    const next = newContext(r.spiI, chosen.spi.slice(), true);
    next.keymat = new IkeKeymat({
      proposal: chosen,
      weInitiated: true,
      rekeyOf: old.keymat.rekeySeed(),
      ni: r.ni,
      nr: nonce.data,
      spiI: r.spiI,
      spiR: next.spiR,
      sharedSecret: shared,
    });
    wipe(shared);
    const c = this.collision;
    if (c) {
      this.collision = undefined;
      // §2.8.1: "the SA created with the lowest of the four nonces ... SHOULD be closed by the
      // endpoint that created it"; the other one carries on.
      const lowest = [r.ni, nonce.data, c.ni, c.nr].reduce((a, b) =>
        Buffer.compare(a, b) <= 0 ? a : b,
      );
      const oursLoses = lowest === r.ni || lowest === nonce.data;
      if (oursLoses) {
        this.log.info(
          'ike',
          "simultaneous IKE SA rekey: the gateway's wins (lower nonce); deleting ours",
        );
        // Ours is redundant: delete it (on itself, §1.4.1) and take the gateway's.
        try {
          this.transmit(
            this.buildEncrypted(
              ExchangeType.INFORMATIONAL,
              0,
              false,
              [this.deleteIkePayload()],
              next,
            ),
          );
        } catch {
          // best effort: the gateway expires it otherwise
        }
        next.keymat?.wipe();
        this.collision = c;
        this.adoptCollision(old);
        return;
      }
      this.log.info('ike', 'simultaneous IKE SA rekey: ours wins (lower nonce on theirs)');
      // The gateway deletes the SA its exchange made; keep it to answer that DELETE.
      if (this.ike.redundant) this.ike.redundant.keymat?.wipe();
      this.ike.redundant = c.ctx;
    }
    this.ike.pendingNext = next;
    this.ike.ikeProposal = chosen;
    this.counters.ikeRekeys++;
    this.emit({ type: 'rekeyed', what: 'ike', by: 'us', proposal: formatChosen(chosen) });
    // §2.18: the rekey's initiator deletes the old IKE SA; the CHILD_SAs now belong to the new one.
    const msg = this.buildEncrypted(ExchangeType.INFORMATIONAL, old.nextMid, false, [
      this.deleteIkePayload(),
    ]);
    this.sendRequest(ExchangeType.INFORMATIONAL, msg, OLD_IKE_DELETE, () => this.switchToNext());
  }

  /** Takes the IKE SA the gateway's colliding rekey made; the gateway deletes the old one. */
  private adoptCollision(old: SaContext): void {
    const c = this.collision;
    this.collision = undefined;
    if (!c) return;
    if (this.ike.retired) this.ike.retired.keymat?.wipe();
    this.ike.retired = old;
    this.ike.sa = c.ctx;
    this.ike.ikeProposal = c.proposal;
    this.scheduleIkeRekey();
    this.counters.ikeRekeys++;
    this.emit({ type: 'rekeyed', what: 'ike', by: 'peer', proposal: formatChosen(c.proposal) });
    this.runQueue();
  }

  private switchToNext(): void {
    const next = this.ike.pendingNext;
    if (!next) return;
    this.ike.sa.keymat?.wipe();
    this.ike.sa = next;
    this.ike.pendingNext = undefined;
    this.scheduleIkeRekey();
  }

  // ---------------------------------------------------------------------------------------------
  // Dead peer detection (RFC 7296 §2.4)

  private scheduleDpd(): void {
    if (this.cfg.dpdDelayMs <= 0) return;
    this.out.push({
      kind: 'setTimer',
      timer: 'dpd',
      // Due one delay after the last sign of life (an answer to our check counts as one).
      at: Math.max(this.now, this.ike.lastAlive + this.cfg.dpdDelayMs),
    });
  }

  private onDpdTimer(): void {
    if (this.ike.state !== 'established') return;
    if (this.ike.sa.outstanding || this.now - this.ike.lastAlive < this.cfg.dpdDelayMs) {
      // Recent life, or a request in flight whose own retransmissions decide liveness.
      this.scheduleDpd();
      return;
    }
    this.sendDpd();
  }

  /** An empty INFORMATIONAL request; any authenticated answer proves liveness (§1.4). */
  private sendDpd(): void {
    this.counters.dpdSent++;
    const msg = this.buildEncrypted(ExchangeType.INFORMATIONAL, this.ike.sa.nextMid, false, []);
    this.sendRequest(ExchangeType.INFORMATIONAL, msg, DPD_WHAT, () => this.scheduleDpd());
  }

  // ---------------------------------------------------------------------------------------------
  // Closing (RFC 7296 §1.4.1)

  private close(): void {
    switch (this.ike.state) {
      case 'created':
        this.finishClose(undefined, false);
        return;
      case 'connecting':
        // Nothing established: drop the half-open SA (the gateway times it out).
        this.finishClose(undefined, false);
        return;
      case 'established':
        this.startIkeDelete(undefined);
        return;
      case 'deleting':
      case 'closed':
        return;
    }
  }

  /** Why we are deleting the IKE SA: undefined when the user closed it. */
  private deleteReason: VpnError | undefined;

  /** INFORMATIONAL { D(IKE) } (§1.4.1) with the next message ID; the SA closes on its answer. */
  private startIkeDelete(reason: VpnError | undefined): void {
    if (this.ike.state !== 'established') return;
    this.deleteReason = reason;
    this.setState('deleting');
    // Abandon any request in flight; the DELETE takes the next message ID.
    const mid = this.ike.sa.outstanding ? this.ike.sa.outstanding.mid + 1 : this.ike.sa.nextMid;
    this.ike.sa.outstanding = undefined;
    this.ike.sa.nextMid = mid;
    const msg = this.buildEncrypted(ExchangeType.INFORMATIONAL, mid, false, [
      this.deleteIkePayload(),
    ]);
    this.sendRequest(ExchangeType.INFORMATIONAL, msg, 'DELETE', () =>
      this.finishClose(reason, reason !== undefined),
    );
    // Do not wait the full retransmit schedule for a polite goodbye: two tries at most.
    this.ike.sa.outstanding!.tries = Math.max(0, this.cfg.retransmit.tries - 1);
  }
}
