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
 *
 * This file is the facade, as src/ike/session.ts is for IKEv2: it routes the driver's inputs and
 * the received datagrams (cookies, retransmissions, decryption with the IV chain) to the shared
 * state (context.ts) and one task per exchange: tasks/phase1.ts (Main / Aggressive Mode, phase 1
 * rekey), tasks/transaction.ts (XAUTH, Mode Config), tasks/quick-mode.ts (Quick Mode, both ways),
 * tasks/informational.ts (notifications, DELETE, DPD).
 */

import { equalBytes } from '../core/bytes.js';
import { VpnError, isVpnError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { NOOP_LOGGER } from '../core/log.js';
import type { Random } from '../core/random.js';
import type { Endpoint } from '../ike/natd.js';
import type { IkeInput, IkeOutput, IkeState, TimerId } from '../ike/session-types.js';
import { authMethodFor } from './auth.js';
import { V1Flag as Flag, V1Exchange as X, v1Name } from './constants.js';
import { V1_HEADER_LENGTH, decodeV1Message, openV1Body } from './codec/index.js';
import type { V1Chain, V1Header } from './codec/index.js';

import { V1Context, DPD_WHAT } from './context.js';
import type { Ikev1SessionConfig, IsakmpSa } from './context.js';

import { Phase1 } from './tasks/phase1.js';
import { QuickMode } from './tasks/quick-mode.js';
import { Informational } from './tasks/informational.js';
import { Transactions } from './tasks/transaction.js';
import type { IkeCounters } from '../ike/session-types.js';

export type { Ikev1SessionConfig } from './context.js';
export type { XauthCredentials } from './modecfg/index.js';

export class Ikev1Session {
  private readonly c: V1Context;

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
    const c = new V1Context(cfg, random, logger);
    this.c = c;
    c.tasks = {
      phase1: new Phase1(c),
      quick: new QuickMode(c),
      info: new Informational(c),
      tx: new Transactions(c),
    };
  }

  /** Total time from the first send until we give up, for messages (RFC 2408 §5 retransmission). */
  totalTimeoutMs(): number {
    return this.c.totalTimeoutMs();
  }

  /** Counters of what the session sent, retransmitted, rekeyed and dropped (by reason). */
  get counters(): IkeCounters {
    return this.c.counters;
  }

  // -------------------------------------------------------------------------------------------
  // The driver's view (contract 3)

  get state(): IkeState {
    return this.c.st;
  }

  get remoteEndpoint(): Endpoint {
    return this.c.remote;
  }

  get isNatHere(): boolean {
    return this.c.natHere;
  }

  get usesNatT(): boolean {
    return this.c.natT;
  }

  /** IKEv1 fragmentation and MOBIKE are not implemented. */
  get peerSupportsFragmentation(): boolean {
    return false;
  }

  get peerSupportsMobike(): boolean {
    return false;
  }

  /** Feeds one input; returns what the driver must do, in order. Never throws on bad peer input. */
  handle(input: IkeInput, now: number): IkeOutput[] {
    this.c.now = now;
    this.c.out = [];
    try {
      switch (input.kind) {
        case 'start':
          this.c.tasks.phase1.start(input.local, input.remote);
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
          this.c.lastAlive = Math.max(this.c.lastAlive, input.at);
          break;
        case 'probe':
          if (this.c.st === 'established' && !this.c.outstanding) this.c.tasks.info.sendDpd();
          break;
        case 'wake':
          if (this.c.st === 'established') {
            if (!this.c.outstanding) this.c.tasks.info.sendDpd();
            // The answer must come within the budget (RFC 3706 §5.5: a silent peer is dead).
            if (this.c.outstanding) {
              this.c.outstanding.tries = Math.max(
                this.c.outstanding.tries,
                this.c.cfg.retransmit.tries,
              );
              this.c.push({ kind: 'setTimer', timer: 'retransmit', at: now + input.budgetMs });
            }
          }
          break;
        case 'rekeyChild':
          this.c.tasks.quick.startChildRekey();
          break;
        case 'localAddress':
          this.c.local = input.local;
          break;
        case 'eapResponse':
        case 'eapFailed':
          break;
      }
    } catch (e) {
      const err = isVpnError(e)
        ? e
        : new VpnError('ERR_IKE_PROTOCOL', `internal error: ${(e as Error).message}`, { cause: e });
      this.c.fail(err);
    }
    return this.c.out;
  }

  private close(): void {
    if (this.c.st === 'closed') return;
    if (this.c.sa.ready) {
      this.c.setState('deleting');
      this.c.sendDeletes();
    }
    if (this.c.retiring) this.c.tasks.phase1.retireOld();
    this.c.finishClose(undefined, false);
  }

  // -------------------------------------------------------------------------------------------
  // Timers

  private onTimer(timer: TimerId): void {
    switch (timer) {
      case 'dpd':
        this.c.tasks.info.onDpdTimer();
        return;
      case 'rekey-child':
        this.c.tasks.quick.startChildRekey();
        return;
      case 'rekey-ike':
        if (this.c.retiring) this.c.tasks.phase1.retireOld();
        else this.c.tasks.phase1.startIkeRekey();
        return;
      case 'retransmit':
        this.onRetransmit();
        return;
    }
  }

  private onRetransmit(): void {
    const o = this.c.outstanding;
    if (!o) {
      if (this.c.step === 'xauth' && this.c.st === 'connecting')
        this.c.fail(
          new VpnError(
            'ERR_IKE_TIMEOUT',
            'the gateway did not start XAUTH after phase 1 (is XAUTH configured on it?)',
          ),
        );
      return;
    }
    if (o.tries >= this.c.cfg.retransmit.tries) {
      this.c.outstanding = undefined;
      if (o.sa === this.c.nextSa) {
        // A failed phase 1 rekey: the current ISAKMP SA keeps serving until it expires.
        this.c.nextSa = undefined;
        this.c.log.warn('ike', `phase 1 rekey got no answer to ${o.what}`);
        return;
      }
      const from = `${this.c.remote.address}:${this.c.remote.port}`;
      const total = (this.c.totalTimeoutMs() / 1000).toFixed(1);
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
      this.c.fail(err);
      return;
    }
    o.tries++;
    this.c.counters.retransmits++;
    this.c.log.debug('ike', `retransmitting ${o.what} (try ${o.tries + 1})`);
    this.c.transmit(o.data); // RFC 2408 §5: the identical datagram
    this.c.push({
      kind: 'setTimer',
      timer: 'retransmit',
      at: this.c.now + this.c.timeoutFor(o.tries),
    });
  }

  private saFor(h: V1Header): IsakmpSa | undefined {
    for (const sa of [this.c.sa, this.c.nextSa, this.c.retiring]) {
      if (!sa || !equalBytes(sa.cookieI, h.cookieI)) continue;
      if (equalBytes(sa.cookieR, h.cookieR)) return sa;
      // The responder cookie is learnt from Main/Aggressive Mode message 2 (or a refusal of
      // message 1, which carries the gateway's cookie already).
      if (sa.cookieR.every((b) => b === 0) && this.c.outstanding?.sa === sa) return sa;
    }
    return undefined;
  }

  private onDatagram(data: Uint8Array, from: Endpoint): void {
    this.c.counters.received++;
    if (this.c.st === 'closed' || this.c.st === 'created') return this.c.drop('not connected');
    if (from.address !== this.c.remote.address) return this.c.drop('unknown sender', from.address);
    this.c.lastDatagram = data;
    let m;
    try {
      m = decodeV1Message(data);
    } catch (e) {
      return this.c.drop('malformed', (e as Error).message);
    }
    const h = m.header;
    const sa = this.saFor(h);
    if (!sa) return this.c.drop('unknown cookies');
    // Retransmissions of the gateway's: answer again where the protocol needs it.
    if (sa.lastIn && equalBytes(sa.lastIn, data)) {
      if (sa.lastOut) {
        this.c.counters.retransmits++;
        this.c.transmit(sa.lastOut);
      }
      return this.c.drop('retransmitted request');
    }
    if (this.c.tasks.quick.lastQm && equalBytes(this.c.tasks.quick.lastQm.qm2, data)) {
      this.c.transmit(this.c.tasks.quick.lastQm.qm3);
      return this.c.drop('retransmitted Quick Mode message 2');
    }
    let chain: V1Chain;
    let plain: Uint8Array;
    const encrypted = (h.flags & Flag.ENCRYPTION) !== 0;
    if (encrypted) {
      const km = sa.keymat;
      if (!km) return this.c.drop('encrypted before keys');
      // Phase 1 messages use the phase 1 IV chain; a new message ID its own (Appendix B).
      const mid =
        h.exchangeType === X.MAIN_MODE || h.exchangeType === X.AGGRESSIVE ? 0 : h.messageId;
      const known = mid === 0 || this.c.knownMid(mid);
      try {
        ({ plain, chain } = openV1Body(km.cipher, km.ivFor(mid), h.nextPayload, m.body));
      } catch (e) {
        if (!known) km.forget(mid);
        this.c.drop('undecryptable', (e as Error).message);
        this.c.tasks.phase1.keysDiffer(sa, h);
        return;
      }
      // The IV moves only for a message we accept (checked below); remember what to advance.
      this.c.pendingIv = { sa, mid, ct: m.body, known };
    } else {
      chain = m.chain!;
      plain = m.body;
      this.c.pendingIv = undefined;
    }
    this.dispatch(sa, h, chain, plain, encrypted);
    this.c.pendingIv = undefined;
  }

  private dispatch(
    sa: IsakmpSa,
    h: V1Header,
    c: V1Chain,
    plain: Uint8Array,
    encrypted: boolean,
  ): void {
    const o = this.c.outstanding;
    const ex = h.exchangeType;
    if (ex === X.INFORMATIONAL)
      return this.c.tasks.info.onInformational(sa, h, c, plain, encrypted);
    if (!encrypted && sa.ready) return this.c.drop('unprotected message after phase 1');
    if ((ex === X.MAIN_MODE || ex === X.AGGRESSIVE) && h.messageId === 0) {
      if (!o || o.sa !== sa || o.exchange !== ex || sa.ready)
        return this.c.drop('unexpected phase 1 message');
      const before = this.c.dropTotal;
      o.onReply(h, c, plain);
      if (this.c.dropTotal === before && encrypted) this.c.acceptIv();
      else if (encrypted) this.c.rejectIv();
      if (this.c.dropTotal === before) {
        sa.lastIn = this.c.lastDatagram;
        if (ex !== X.AGGRESSIVE) sa.lastOut = undefined;
      }
      return;
    }
    if (!encrypted) return this.c.drop('unprotected phase 2 message');
    if (!sa.ready) return this.c.drop('phase 2 message before phase 1 completed');
    if (ex === X.QUICK_MODE) {
      if (o && o.exchange === X.QUICK_MODE && o.mid === h.messageId) {
        const before = this.c.dropTotal;
        o.onReply(h, c, plain);
        if (this.c.dropTotal === before) this.c.acceptIv();
        else this.c.rejectIv();
        return;
      }
      // A Quick Mode of the gateway's: its rekey of our IPsec SA (RFC 2409 §5.5, as responder).
      this.c.tasks.quick.onPeerQuickMode(sa, h, c, plain);
      return;
    }
    if (ex === X.TRANSACTION) {
      this.c.tasks.tx.onMessage(sa, h, c, plain);
      return;
    }
    this.c.rejectIv();
    this.c.drop('unsupported exchange', v1Name(X, ex));
  }
}

export { V1_HEADER_LENGTH };
