/**
 * The exchange layer (RFC 7296 §2.1–§2.3): message IDs and the window of one outstanding request,
 * retransmission of the exact request bytes, the cache of our last response (resent only for a
 * retransmitted request that passes its integrity check), SK protection (§3.14) and RFC 7383
 * fragmentation and reassembly. It knows no exchange's payloads: requests come from the tasks
 * (tasks/), and requests from the gateway go to the responder given by IkeSession.
 */
import { equalBytes } from '../core/bytes.js';
import { VpnError } from '../core/errors.js';
import { ExchangeType, HeaderFlag, NotifyType, PayloadType, nameOf } from './constants.js';
import {
  checkExchangeRules,
  decodeMessage,
  decodePayloadChain,
  encodeMessage,
  encodePayloadChain,
  findUnsupportedCritical,
} from './codec/index.js';
import { splitForFragments } from './codec/fragments.js';
import type { IkeHeader, Payload, SkPayload, SkfPayload } from './codec/index.js';
import type { Endpoint } from './natd.js';
import { MAX_IKE_MESSAGE_BYTES } from './limits.js';
import type { Outstanding, SaContext } from './sa/ike-sa.js';
import type { IkeContext } from './context.js';
import { DPD_WHAT } from './tasks/task.js';
import type { InitiatorTask, ResponderTask } from './tasks/task.js';

/** Picks the task that answers a request of the gateway's (undefined: INVALID_SYNTAX). */
export type Responder = (
  ctx: SaContext,
  exchange: number,
  inner: Payload[],
) => ResponderTask | undefined;

export class Exchange {
  private readonly c: IkeContext;
  private readonly responder: Responder;
  /**
   * The decrypted inner payload bytes of the last protected message accepted (reassembled from
   * RFC 7383 fragments when needed), for RFC 9242 §3.3.2 IntAuth.
   */
  lastInner: { first: number; bytes: Uint8Array } | undefined;

  constructor(c: IkeContext, responder: Responder) {
    this.c = c;
    this.responder = responder;
  }

  private timeoutFor(tries: number): number {
    const r = this.c.cfg.retransmit;
    return Math.min(r.maxTimeoutMs, r.timeoutMs * Math.pow(r.base, tries));
  }

  /** Sends a new request and arms the retransmit timer. One request outstanding at a time (window 1). */
  private sendRequest(
    exchange: number,
    message: Uint8Array | Uint8Array[],
    what: string,
    onResponse: (header: IkeHeader, payloads: Payload[]) => void,
    giveUp?: () => boolean,
  ): void {
    const data = Array.isArray(message) ? message : [message];
    this.c.ike.sa.outstanding = {
      mid: this.c.ike.sa.nextMid,
      exchange,
      data,
      tries: 0,
      onResponse,
      what,
      ...(giveUp ? { giveUp } : {}),
    };
    for (const d of data) this.c.transmit(d);
    this.c.out.push({ kind: 'setTimer', timer: 'retransmit', at: this.c.now + this.timeoutFor(0) });
  }

  /**
   * The retransmit timer fired: resend the outstanding request's exact bytes (RFC 7296 §2.1), or
   * give up after `retransmit.tries` and let the request's task (or a time-out error) decide.
   */
  onRetransmitTimer(): void {
    const o = this.c.ike.sa.outstanding;
    if (!o) return;
    // After a wake the deadline alone decides (the count of tries before the sleep is stale).
    const late = o.deadlineAt !== undefined && this.c.now >= o.deadlineAt;
    if (late || (o.deadlineAt === undefined && o.tries >= this.c.cfg.retransmit.tries)) {
      this.c.ike.sa.outstanding = undefined;
      // The abandoned request keeps its message ID: whatever we send next (e.g. the DELETE in
      // IkeContext.fail()) takes the next one, or the gateway takes it for a retransmission
      // (RFC 7296 §2.1).
      this.c.ike.sa.nextMid = o.mid + 1;
      if (o.giveUp?.()) return;
      const total = this.totalTimeoutMs();
      const dead =
        o.what === DPD_WHAT ? ': the gateway is down or unreachable (dead peer detection)' : '';
      const from = `${this.c.ike.remote.address}:${this.c.ike.remote.port}`;
      const over = late
        ? `${o.tries + 1} attempts, the last ones within ${((o.deadlineAt! - o.wokeAt!) / 1000).toFixed(1)} s of waking from a sleep`
        : `${o.tries + 1} attempts over ${(total / 1000).toFixed(1)} s`;
      this.c.fail(
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
    this.c.counters.retransmits++;
    this.c.log.debug('ike', `retransmitting ${o.what} (try ${o.tries + 1})`);
    // RFC 7296 §2.1: retransmit the exact same bytes (RFC 7383 §2.6.3: every fragment).
    for (const d of o.data) this.c.transmit(d);
    this.c.out.push({
      kind: 'setTimer',
      timer: 'retransmit',
      at: this.nextRetransmitAt(o),
    });
  }

  /** The next retransmission of `o`: its backoff, but never past a wake deadline. */
  private nextRetransmitAt(o: Outstanding): number {
    const at = this.c.now + this.timeoutFor(o.tries);
    return o.deadlineAt === undefined ? at : Math.min(at, o.deadlineAt);
  }

  /**
   * The host slept (or the process was stopped) for longer than the retransmission schedule
   * assumed: the outstanding request must now be answered within `budgetMs`, or the SA is given
   * up (RFC 7296 §2.4: a peer that does not answer is dead; the driver then reconnects). With
   * `resend`, the request is retransmitted once now (the exact bytes, §2.1) instead of the stale
   * schedule's pile of retries. Returns false when no request is outstanding.
   */
  hurry(budgetMs: number, resend: boolean): boolean {
    const o = this.c.ike.sa.outstanding;
    if (!o) return false;
    o.deadlineAt = this.c.now + budgetMs;
    o.wokeAt = this.c.now;
    if (resend) {
      o.tries++;
      this.c.counters.retransmits++;
      for (const d of o.data) this.c.transmit(d);
    }
    // Restart the backoff from its first step: the old timer was due long ago.
    this.c.out.push({
      kind: 'setTimer',
      timer: 'retransmit',
      at: Math.min(this.c.now + this.timeoutFor(0), o.deadlineAt),
    });
    return true;
  }

  /**
   * Sends a task's request with the next message ID: IKE_SA_INIT in the clear (kept for the AUTH
   * payload, RFC 7296 §2.15), the others inside SK, IKE_AUTH in RFC 7383 fragments when too big.
   * `giveUp` decides what happens when its retransmissions run out (default: the SA fails).
   */
  initiate(task: InitiatorTask, giveUp?: () => boolean): void {
    const inner = task.buildRequest();
    const mid = this.c.ike.sa.nextMid;
    let msg: Uint8Array | Uint8Array[];
    if (task.exchange === ExchangeType.IKE_SA_INIT) {
      msg = encodeMessage(this.headerFor(task.exchange, mid, false), inner);
      this.c.ike.initRequest = msg;
    } else if (
      task.exchange === ExchangeType.IKE_AUTH ||
      // RFC 9242 §3.4 / RFC 9370 §2.2.2, §2.2.4: IKE_INTERMEDIATE and IKE_FOLLOWUP_KE (ML-KEM
      // keys) and CREATE_CHILD_SA with an ML-KEM KE may be fragmented too.
      task.exchange === ExchangeType.IKE_INTERMEDIATE ||
      task.exchange === ExchangeType.IKE_FOLLOWUP_KE ||
      task.exchange === ExchangeType.CREATE_CHILD_SA
    ) {
      msg = this.protectRequest(task.exchange, mid, inner);
    } else {
      msg = this.buildEncrypted(task.exchange, mid, false, inner);
    }
    this.sendRequest(task.exchange, msg, task.what, (h, p) => task.processResponse(h, p), giveUp);
  }

  /** No request waits for its turn. */
  idle(): boolean {
    return this.queue.length === 0;
  }

  /** Forgets the requests waiting for their turn (the SA is closing). */
  clearQueue(): void {
    this.queue.length = 0;
  }

  /** Total time from the first send until we give up, for messages. */
  totalTimeoutMs(): number {
    let t = 0;
    for (let i = 0; i <= this.c.cfg.retransmit.tries; i++) t += this.timeoutFor(i);
    return t;
  }

  /** Counts datagrams dropped while a request waits, so a time-out can say they came. */
  onDatagramCounted(data: Uint8Array, from: Endpoint): void {
    const o = this.c.ike.sa.outstanding;
    const before = this.c.dropTotal;
    this.onDatagram(data, from);
    if (o && this.c.ike.sa.outstanding === o && this.c.dropTotal > before) {
      o.bad = { count: (o.bad?.count ?? 0) + 1, last: this.c.lastDrop };
    }
  }

  private onDatagram(data: Uint8Array, from: Endpoint): void {
    this.c.counters.received++;
    const last = this.c.ike.sa.lastResponse;
    if (this.c.ike.state === 'closed' && last?.request && equalBytes(data, last.request)) {
      // Our answer to the request that closed the SA (e.g. the gateway's IKE SA DELETE) was lost:
      // the byte-identical retransmission gets it again (RFC 7296 §2.1), once per datagram.
      this.c.counters.retransmits++;
      this.c.transmit(last.data);
      return;
    }
    if (this.c.ike.state === 'closed' || this.c.ike.state === 'created') {
      this.c.drop('not-active');
      return;
    }
    if (data.length > MAX_IKE_MESSAGE_BYTES) {
      this.c.drop('oversized', `${data.length} bytes > ${MAX_IKE_MESSAGE_BYTES}`);
      return;
    }
    let header: IkeHeader;
    let payloads: Payload[];
    try {
      ({ header, payloads } = decodeMessage(data));
    } catch (e) {
      this.c.drop('malformed', (e as Error).message);
      return;
    }
    const ctx = this.contextFor(header);
    if (!ctx) {
      this.c.drop('unknown-spi');
      return;
    }
    // The I flag names the original initiator of the IKE SA (RFC 7296 §3.1): the peer sets it
    // exactly when we did not initiate this SA.
    if (((header.flags & HeaderFlag.INITIATOR) !== 0) === ctx.weInitiated) {
      this.c.drop('bad-flags');
      return;
    }
    const isResponse = (header.flags & HeaderFlag.RESPONSE) !== 0;
    if (isResponse) {
      if (ctx !== this.c.ike.sa) {
        this.c.drop('unexpected-response', 'on a rekeyed IKE SA');
        return;
      }
      this.onResponse(header, payloads, data, from);
    } else this.onRequest(ctx, header, payloads, data, from);
  }

  /** The IKE SA a message belongs to, by its SPIs (the current one, or one replaced by a rekey). */
  private contextFor(header: IkeHeader): SaContext | undefined {
    const cur = this.c.ike.sa;
    if (
      equalBytes(header.spiI, cur.spiI) &&
      (cur.spiR.every((b) => b === 0) || equalBytes(header.spiR, cur.spiR))
    ) {
      return cur;
    }
    for (const other of [this.c.ike.retired, this.c.ike.pendingNext, this.c.ike.redundant]) {
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
    const o = this.c.ike.sa.outstanding;
    if (!o || header.messageId !== o.mid || header.exchangeType !== o.exchange) {
      this.c.drop('unexpected-response', `mid ${header.messageId}`);
      return;
    }
    let inner: Payload[];
    if (header.exchangeType === ExchangeType.IKE_SA_INIT) {
      inner = payloads;
      try {
        checkExchangeRules(header.exchangeType, true, payloads, undefined);
      } catch (e) {
        this.c.drop('rules', (e as Error).message);
        return;
      }
      this.c.ike.initResponse = raw;
    } else {
      const opened = this.openEncrypted(this.c.ike.sa, header, payloads, raw, true);
      if (!opened) return;
      inner = opened;
    }
    // A response that passed integrity checks consumes the message ID (§2.1); one that failed
    // above did not, and the retransmit timer keeps running.
    this.c.ike.sa.outstanding = undefined;
    this.c.out.push({ kind: 'clearTimer', timer: 'retransmit' });
    this.c.ike.sa.nextMid = o.mid + 1;
    this.c.ike.lastAlive = this.c.now;
    if (from.port !== this.c.ike.remote.port || from.address !== this.c.ike.remote.address) {
      this.c.log.debug('ike', `response from ${from.address}:${from.port}`);
    }
    // RFC 7296 §2.5: a payload we do not understand marked critical rejects the whole message;
    // a response cannot be answered with UNSUPPORTED_CRITICAL_PAYLOAD, so the SA is not used.
    const critical = findUnsupportedCritical(inner);
    if (critical.length > 0) {
      this.c.fail(
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

  enqueue(start: () => void): void {
    this.queue.push(start);
    this.runQueue();
  }

  runQueue(): void {
    while (
      !this.c.ike.sa.outstanding &&
      this.queue.length > 0 &&
      this.c.ike.state === 'established'
    ) {
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
      this.c.drop('no-keys');
      return undefined;
    }
    const sk = payloads.find((p): p is SkPayload => p.type === PayloadType.SK);
    if (!sk) {
      const skf = payloads.find((p): p is SkfPayload => p.type === PayloadType.SKF);
      if (skf) return this.openFragment(ctx, header, payloads, raw, skf, isResponse);
      this.c.drop('not-encrypted');
      return undefined;
    }
    const aadLen = raw.length - sk.body.length;
    let innerBytes: Uint8Array;
    try {
      innerBytes = keymat.openInbound(raw.subarray(0, aadLen), sk.body);
    } catch (e) {
      this.c.drop('integrity', (e as Error).message);
      return undefined;
    }
    let inner: Payload[];
    try {
      inner = decodePayloadChain(sk.firstInner, innerBytes, aadLen);
      checkExchangeRules(header.exchangeType, isResponse, payloads, inner);
    } catch (e) {
      this.c.drop('malformed-inner', (e as Error).message);
      return undefined;
    }
    this.lastInner = { first: sk.firstInner, bytes: innerBytes };
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
    if (!this.c.cfg.fragmentSize) {
      this.c.drop('fragment-unsupported');
      return undefined;
    }
    try {
      checkExchangeRules(header.exchangeType, isResponse, payloads, undefined);
    } catch (e) {
      this.c.drop('rules', (e as Error).message);
      return undefined;
    }
    const aadLen = raw.length - skf.body.length;
    let plaintext: Uint8Array;
    try {
      plaintext = ctx.keymat!.openInbound(raw.subarray(0, aadLen), skf.body);
    } catch (e) {
      this.c.drop('integrity', `fragment ${skf.fragmentNumber}: ${(e as Error).message}`);
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
      this.c.drop('fragment-rejected', r.reason);
      return undefined;
    }
    try {
      const inner = decodePayloadChain(r.first, r.bytes, 0);
      checkExchangeRules(header.exchangeType, isResponse, payloads, inner);
      this.lastInner = { first: r.first, bytes: r.bytes };
      return inner;
    } catch (e) {
      this.c.drop('malformed-inner', (e as Error).message);
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
    if (this.c.ike.state !== 'established' && this.c.ike.state !== 'deleting') {
      this.c.drop('request-before-established');
      return;
    }
    // RFC 7296 §2.1: a retransmitted request gets our cached response again — only once its
    // integrity checks, or any forged datagram with that message ID would make us answer
    // (a reflection amplifier).
    if (ctx.lastResponse && header.messageId === ctx.lastResponse.mid) {
      if (!this.authenticRetransmit(ctx, payloads, raw)) return;
      this.c.counters.retransmits++;
      this.c.transmit(ctx.lastResponse.data);
      return;
    }
    if (header.messageId !== ctx.peerNextMid) {
      this.c.drop('unexpected-request-mid', `got ${header.messageId}, expected ${ctx.peerNextMid}`);
      return;
    }
    const inner = this.openEncrypted(ctx, header, payloads, raw, false);
    if (!inner) return;
    ctx.peerNextMid++;
    this.c.ike.lastAlive = this.c.now;
    if (from.port !== this.c.ike.remote.port && this.c.ike.natT) {
      // The gateway saw us move (NAT rebinding on its side is rare); follow an authenticated request.
      this.c.ike.remote = { address: from.address, port: from.port };
    }
    const critical = findUnsupportedCritical(inner);
    let reply: Payload[];
    let after: (() => void) | undefined;
    if (critical.length > 0) {
      reply = [this.c.notify(NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD, Uint8Array.of(critical[0]!))];
    } else {
      const task = this.responder(ctx, header.exchangeType, inner);
      if (task) ({ reply, after } = task.processRequest(ctx, inner, from));
      else reply = [this.c.notify(NotifyType.INVALID_SYNTAX)];
    }
    const data = this.buildEncrypted(header.exchangeType, header.messageId, true, reply, ctx);
    ctx.lastResponse = { mid: header.messageId, data, request: raw.slice() };
    this.c.transmit(data);
    after?.();
  }

  /** Does a request (SK, or one SKF fragment of it) pass its ICV? Drops it when not. */
  private authenticRetransmit(ctx: SaContext, payloads: Payload[], raw: Uint8Array): boolean {
    const sk = payloads.find(
      (p): p is SkPayload | SkfPayload => p.type === PayloadType.SK || p.type === PayloadType.SKF,
    );
    if (!sk || !ctx.keymat) {
      this.c.drop('not-encrypted', 'retransmitted request');
      return false;
    }
    try {
      ctx.keymat.openInbound(raw.subarray(0, raw.length - sk.body.length), sk.body);
      // RFC 7383 §2.6.1: a fragmented request is answered again once, on its fragment 1 — not
      // once per fragment (the peer resends them all together).
      if (sk.type === PayloadType.SKF && sk.fragmentNumber !== 1) {
        this.c.drop('retransmitted-fragment');
        return false;
      }
      return true;
    } catch (e) {
      this.c.drop('integrity', `retransmitted request: ${(e as Error).message}`);
      return false;
    }
  }

  private headerFor(
    exchange: number,
    mid: number,
    response: boolean,
    ctx: SaContext = this.c.ike.sa,
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
  buildEncrypted(
    exchange: number,
    mid: number,
    response: boolean,
    inner: Payload[],
    ctx: SaContext = this.c.ike.sa,
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
    const body = keymat.sealOutbound(msg.subarray(0, aadLen), chain.bytes, this.c.random);
    if (body.length !== bodyLength) {
      throw new VpnError('ERR_IKE_PROTOCOL', `SK body length ${body.length} != ${bodyLength}`);
    }
    msg.set(body, aadLen);
    return msg;
  }

  /**
   * Encodes a protected request; if the gateway supports fragmentation (RFC 7383 §2.3) and the
   * datagram would exceed `fragmentSize`, splits the inner payloads into SKF fragments, each
   * encrypted on its own with the IKE header and SKF header as AAD (§2.5).
   */
  protectRequest(exchange: number, mid: number, inner: Payload[]): Uint8Array[] {
    const whole = this.buildEncrypted(exchange, mid, false, inner);
    const ipv6 = this.c.ike.remote.address.includes(':');
    // IP + UDP headers, and the non-ESP marker on port 4500 (RFC 3948 §2.2).
    const overhead = (ipv6 ? 40 : 20) + 8 + (this.c.ike.natT ? 4 : 0);
    const room = this.c.cfg.fragmentSize - overhead;
    if (!this.c.ike.peerFragmentation || !this.c.cfg.fragmentSize || whole.length <= room)
      return [whole];
    const keymat = this.c.ike.sa.keymat!;
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
      msg.set(keymat.sealOutbound(msg.subarray(0, aadLen), plain, this.c.random), aadLen);
      out.push(msg);
    });
    this.c.log.debug('ike', `${nameOf(ExchangeType, exchange)} sent in ${out.length} fragments`);
    return out;
  }
}
