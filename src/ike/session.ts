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
 * This file is the facade: it wires the shared state (context.ts, with the IKE SA as plain data in
 * sa/ike-sa.ts), the exchange layer (exchange.ts: message IDs, the window, retransmission, the
 * response cache, SK protection, fragmentation) and one task per exchange (tasks/*.ts), and
 * routes the driver's inputs to them.
 */
import { VpnError, isVpnError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { NOOP_LOGGER } from '../core/log.js';
import type { Random } from '../core/random.js';
import { ExchangeType, NotifyType, PayloadType } from './constants.js';
import { filterPayloads } from './codec/index.js';
import type { Payload } from './codec/index.js';
import type { Endpoint } from './natd.js';
import { IkeContext } from './context.js';
import { Exchange } from './exchange.js';
import { RedirectResponder } from './redirect.js';
import type { SaContext } from './sa/ike-sa.js';
import type {
  IkeCounters,
  IkeInput,
  IkeOutput,
  IkeSessionConfig,
  IkeState,
  TimerId,
} from './session-types.js';
import { ChildRekey } from './tasks/child-rekey.js';
import { CreateChildSa } from './tasks/create-child-sa.js';
import { Delete } from './tasks/delete.js';
import { Dpd } from './tasks/dpd.js';
import { IkeAuthEap } from './tasks/ike-auth-eap.js';
import { IkeAuth } from './tasks/ike-auth.js';
import { IkeConfig } from './tasks/ike-config.js';
import { IkeIntermediate } from './tasks/ike-intermediate.js';
import { FollowupResponder } from './tasks/followup-ke.js';
import { IkeRekey } from './tasks/ike-rekey.js';
import { IkeSaInit } from './tasks/ike-sa-init.js';
import { Mobike } from './tasks/mobike.js';
import { Reauth } from './tasks/reauth.js';
import type { ResponderTask, TaskSet } from './tasks/task.js';

export type { Endpoint } from './natd.js';
export * from './session-types.js';

export class IkeSession {
  private readonly c: IkeContext;
  private readonly xchg: Exchange;
  private readonly tasks: TaskSet;
  /** RFC 5685 §5: the gateway's INFORMATIONAL REDIRECT of the established SA. */
  private readonly redirect: RedirectResponder;

  constructor(cfg: IkeSessionConfig, random: Random, logger: Logger = NOOP_LOGGER) {
    const first = cfg.ikeProposals[0]?.dh[0];
    if (!first) throw new VpnError('ERR_CONFIG', 'no IKE proposal with a key exchange group');
    const c = new IkeContext(cfg, random, logger);
    this.c = c;
    this.xchg = new Exchange(c, (ctx, exchange, inner) => this.responderFor(ctx, exchange, inner));
    this.tasks = {
      init: new IkeSaInit(c, first.id),
      intermediate: new IkeIntermediate(c),
      followup: new FollowupResponder(c),
      auth: new IkeAuth(c),
      eap: new IkeAuthEap(c),
      config: new IkeConfig(c),
      child: new CreateChildSa(c),
      childRekey: new ChildRekey(c),
      ikeRekey: new IkeRekey(c),
      dpd: new Dpd(c),
      del: new Delete(c),
      mobike: new Mobike(c),
      reauth: new Reauth(c),
    };
    c.xchg = this.xchg;
    c.tasks = this.tasks;
    this.redirect = new RedirectResponder(c);
  }

  /** The session's lifecycle state (see the header comment). */
  get state(): IkeState {
    return this.c.ike.state;
  }

  /** Counters of what the session sent, retransmitted, rekeyed and dropped (by reason). */
  get counters(): IkeCounters {
    return this.c.counters;
  }

  /** Feeds one input; returns what the driver must do, in order. Never throws on bad peer input. */
  handle(input: IkeInput, now: number): IkeOutput[] {
    const c = this.c;
    const t = this.tasks;
    c.now = now;
    c.out = [];
    try {
      switch (input.kind) {
        case 'start':
          t.init.start(input.local, input.remote);
          break;
        case 'datagram':
          this.xchg.onDatagramCounted(input.data, input.from);
          break;
        case 'timer':
          this.onTimer(input.timer);
          break;
        case 'close':
          t.del.close();
          break;
        case 'localAddress':
          t.mobike.onLocalAddress(input.local);
          break;
        case 'activity':
          c.ike.lastAlive = Math.max(c.ike.lastAlive, input.at);
          break;
        case 'rekeyChild':
          t.childRekey.startChildRekey();
          break;
        case 'probe':
          if (c.ike.state === 'established' && !c.ike.sa.outstanding && this.xchg.idle()) {
            // With MOBIKE the gateway follows a new NAT mapping only on UPDATE_SA_ADDRESSES
            // (RFC 4555 §3.8); it doubles as the liveness check.
            if (c.ike.peerMobike && c.cfg.mobike !== false) t.mobike.sendAddressUpdate('probe');
            else t.dpd.sendDpd();
          }
          break;
        case 'wake':
          this.onWake(input.sleptMs, input.budgetMs);
          break;
        case 'eapResponse':
          t.eap.onAsyncEap(input.packet);
          break;
        case 'eapFailed':
          if (t.eap.eapPending) c.fail(input.error);
          break;
      }
    } catch (e) {
      // Programmer errors and unexpected failures end the SA with a clear error, never a crash.
      const err = isVpnError(e)
        ? e
        : new VpnError('ERR_IKE_PROTOCOL', `internal error: ${(e as Error).message}`, { cause: e });
      c.fail(err);
    }
    return c.out;
  }

  get remoteEndpoint(): Endpoint {
    return this.c.ike.remote;
  }

  get isNatHere(): boolean {
    return this.c.ike.natHere;
  }

  get usesNatT(): boolean {
    return this.c.ike.natT;
  }

  /** Did the gateway announce IKEV2_FRAGMENTATION_SUPPORTED (RFC 7383 §2.3)? */
  get peerSupportsFragmentation(): boolean {
    return this.c.ike.peerFragmentation;
  }

  /** Did the gateway announce MOBIKE (RFC 4555 §3.1)? */
  get peerSupportsMobike(): boolean {
    return this.c.ike.peerMobike;
  }

  /** Total time from the first send until we give up, for messages. */
  totalTimeoutMs(): number {
    return this.xchg.totalTimeoutMs();
  }

  /**
   * After a sleep the gateway may have forgotten the IKE SA (its DPD or lifetimes ran out) and a
   * NAT may have dropped our mapping. RFC 7296 §2.4: check liveness now, with a short budget,
   * instead of waiting for DPD and its full retransmission schedule: a request that was in
   * flight is resent once; otherwise a MOBIKE address update (which also lets the gateway follow
   * a new NAT mapping, RFC 4555 §3.8) or an empty INFORMATIONAL is sent. No answer within the
   * budget ends the SA with ERR_IKE_TIMEOUT, and the driver reconnects.
   */
  private onWake(sleptMs: number, budgetMs: number): void {
    const c = this.c;
    if (c.ike.state !== 'established') return;
    const secs = (sleptMs / 1000).toFixed(0);
    if (c.ike.sa.outstanding) {
      c.log.info('ike', `woke after ${secs} s: resending ${c.ike.sa.outstanding.what} once`);
      this.xchg.hurry(budgetMs, true);
      return;
    }
    c.log.info('ike', `woke after ${secs} s: checking that the gateway still knows us`);
    if (c.ike.peerMobike && c.cfg.mobike !== false) this.tasks.mobike.sendAddressUpdate('wake');
    else this.tasks.dpd.sendDpd();
    this.xchg.hurry(budgetMs, false);
  }

  private onTimer(timer: TimerId): void {
    switch (timer) {
      case 'dpd':
        this.tasks.dpd.onDpdTimer();
        return;
      case 'rekey-child':
        this.tasks.childRekey.startChildRekey();
        return;
      case 'rekey-ike':
        this.tasks.ikeRekey.startIkeRekey();
        return;
      case 'retransmit':
        this.xchg.onRetransmitTimer();
        return;
    }
  }

  /** Which task answers a request of the gateway's (RFC 7296 §1.3, §1.4; RFC 4555 §3.5). */
  private responderFor(
    ctx: SaContext,
    exchange: number,
    inner: Payload[],
  ): ResponderTask | undefined {
    switch (exchange) {
      case ExchangeType.INFORMATIONAL:
        if (ctx === this.c.ike.sa && RedirectResponder.matches(exchange, inner))
          return this.redirect;
        if (
          ctx === this.c.ike.sa &&
          this.c.ike.peerMobike &&
          filterPayloads(inner, PayloadType.NOTIFY).some(
            (n) => n.notifyType === NotifyType.UPDATE_SA_ADDRESSES,
          )
        ) {
          return this.tasks.mobike;
        }
        // No DELETE: an empty INFORMATIONAL is a liveness check (§1.4).
        return inner.some((p) => p.type === PayloadType.DELETE) ? this.tasks.del : this.tasks.dpd;
      case ExchangeType.CREATE_CHILD_SA:
        return this.tasks.child;
      case ExchangeType.IKE_FOLLOWUP_KE:
        // RFC 9370 §2.2.4: the rest of a CREATE_CHILD_SA of the gateway's.
        return this.tasks.followup;
      default:
        return undefined;
    }
  }
}
