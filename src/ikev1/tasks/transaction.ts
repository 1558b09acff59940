/**
 * Transaction exchanges (exchange type 6, draft-dukes-ike-mode-cfg-02 §3.2): the crypto around
 * XAUTH (draft-beaulieu-ike-xauth-02) and Mode Config pull. The attribute payloads and both
 * conversations are modecfg/'s; here: message IDs, the IV per message ID, HASH(1)/HASH(2)
 * = prf(SKEYID_a, M-ID | ATTR), retransmission of our request and answers to the gateway's
 * retransmitted requests.
 *
 *   XAUTH:        <-- HASH, ATTR(REQUEST)   HASH, ATTR(REPLY) -->
 *                 <-- HASH, ATTR(SET)       HASH, ATTR(ACK) -->
 *   Mode Config:  HASH, ATTR(REQUEST) -->   <-- HASH, ATTR(REPLY)
 */
import { isVpnError, VpnError } from '../../core/errors.js';
import type { ConfigReply } from '../../ike/config-payload.js';
import { V1Exchange as X, V1Payload as P } from '../constants.js';
import { findData } from '../codec/index.js';
import type { V1Chain, V1Header } from '../codec/index.js';
import {
  CfgType,
  ModeConfigClient,
  XauthClient,
  decodeAttributePayload,
  encodeAttributePayload,
  toConfigReply,
} from '../modecfg/index.js';
import type { AttributePayload, XauthCredentials } from '../modecfg/index.js';
import type { IsakmpSa, V1Context } from '../context.js';

export type { XauthCredentials };

/** draft-beaulieu-ike-xauth-02 §6.1: the XAUTH attribute types (16520 XAUTH-TYPE … 16529). */
const XAUTH_FIRST = 16520;
const XAUTH_LAST = 16529;

/** Most gateway transactions we remember (their message IDs) at once. */
const MAX_MIDS = 8;

export class Transactions {
  private readonly s: V1Context;
  /** The XAUTH conversation, one per ISAKMP SA (a phase 1 rekey runs XAUTH again). */
  private xauth: { sa: IsakmpSa; client: XauthClient } | undefined;
  private modecfg: ModeConfigClient | undefined;
  /** A Mode Config push that came before we were ready for it. */
  private pushed: { config: ConfigReply; ip4: string | undefined } | undefined;
  /** Message IDs of the gateway's transactions in progress (their IV chains continue). */
  private readonly mids: number[] = [];

  constructor(s: V1Context) {
    this.s = s;
  }

  knows(mid: number): boolean {
    return this.mids.includes(mid);
  }

  private remember(mid: number): void {
    if (this.mids.includes(mid)) return;
    this.mids.push(mid);
    if (this.mids.length > MAX_MIDS) this.mids.shift();
  }

  private attrPayload(p: AttributePayload): { kind: 'data'; type: number; data: Uint8Array } {
    return { kind: 'data', type: P.ATTRIBUTE, data: encodeAttributePayload(p) };
  }

  /** Mode Config pull (draft-dukes-ike-mode-cfg-02 §3.3): our REQUEST in a new transaction. */
  startModeConfig(sa: IsakmpSa): void {
    const s = this.s;
    const pushed = this.pushed;
    if (pushed) {
      this.pushed = undefined;
      s.tasks.phase1.modeConfigDone(pushed.config, pushed.ip4);
      return;
    }
    const mid = s.newMid();
    const identifier = mid & 0xffff;
    this.modecfg = new ModeConfigClient({ identifier, unity: sa.peer.unity });
    const msg = s.sealHashed(sa, X.TRANSACTION, mid, [this.attrPayload(this.modecfg.request())]);
    s.request({
      exchange: X.TRANSACTION,
      mid,
      data: msg,
      what: 'Mode Config request',
      sa,
      onReply: (_h, c) => this.onModeCfgReply(sa, mid, c),
    });
  }

  private onModeCfgReply(sa: IsakmpSa, mid: number, c: V1Chain): void {
    const s = this.s;
    const body = findData(c.payloads, P.ATTRIBUTE);
    if (!body) return s.drop('Mode Config reply without an attribute payload');
    let p: AttributePayload;
    try {
      p = decodeAttributePayload(body);
    } catch (e) {
      return s.drop('malformed attribute payload', (e as Error).message);
    }
    const r = this.modecfg!.onReply(p);
    if (isVpnError(r)) return s.drop('bad Mode Config reply', r.message);
    s.acceptIv();
    sa.keymat!.forget(mid);
    s.settle();
    const config = toConfigReply(r);
    if (r.banner) s.log.info('ike', `gateway banner: ${r.banner}`);
    s.tasks.phase1.modeConfigDone(config, r.ip4);
  }

  /**
   * Mode Config push (draft-dukes-ike-mode-cfg-02 §3.4): the gateway SETs our address and DNS; we
   * ACK what we took and go on as after a pull REPLY (a pull REQUEST of ours still in flight is
   * then answered by this).
   */
  private onModeCfgPush(sa: IsakmpSa, mid: number, p: AttributePayload): void {
    const s = this.s;
    const client =
      this.modecfg ?? new ModeConfigClient({ identifier: p.identifier, unity: sa.peer.unity });
    const r = client.onSet(p);
    if (isVpnError(r)) return s.drop('bad Mode Config SET', r.message);
    this.answer(sa, mid, r.ack);
    if (r.result.banner) s.log.info('ike', `gateway banner: ${r.result.banner}`);
    if (!s.cfg.modeConfig) return;
    const result = { config: toConfigReply(r.result), ip4: r.result.ip4 };
    if (s.step !== 'modecfg') {
      // Pushed before we got to Mode Config (e.g. right after XAUTH): taken when we get there.
      if (s.step === 'phase1' || s.step === 'xauth') this.pushed = result;
      return;
    }
    const o = s.outstanding;
    if (o && o.exchange === X.TRANSACTION) {
      sa.keymat!.forget(o.mid);
      s.settle();
    }
    s.tasks.phase1.modeConfigDone(result.config, result.ip4);
  }

  /** A Transaction message: the answer to our Mode Config request, or the gateway's request. */
  onMessage(sa: IsakmpSa, h: V1Header, c: V1Chain, plain: Uint8Array): void {
    const s = this.s;
    if (!s.checkHash(sa, h, c, plain)) {
      s.rejectIv();
      return s.drop('bad transaction hash');
    }
    const o = s.outstanding;
    if (o && o.exchange === X.TRANSACTION && o.mid === h.messageId) {
      o.onReply(h, c, plain);
      return;
    }
    const body = findData(c.payloads, P.ATTRIBUTE);
    if (!body) {
      s.rejectIv();
      return s.drop('transaction without an attribute payload');
    }
    let p: AttributePayload;
    try {
      p = decodeAttributePayload(body);
    } catch (e) {
      s.rejectIv();
      return s.drop('malformed attribute payload', (e as Error).message);
    }
    s.acceptIv();
    this.remember(h.messageId);
    const isXauth = p.attributes.some((a) => a.type >= XAUTH_FIRST && a.type <= XAUTH_LAST);
    if (p.cfgType === CfgType.SET && !isXauth) {
      this.onModeCfgPush(sa, h.messageId, p);
      return;
    }
    if (p.cfgType === CfgType.REQUEST || p.cfgType === CfgType.SET) {
      if (!s.cfg.xauth) {
        // draft-beaulieu-ike-xauth-02 §2: the gateway wants a user name and password.
        s.fail(
          new VpnError(
            'ERR_IKE_AUTH_FAILED',
            'the gateway requires XAUTH (a user name and password after the group key): give --xauth-user and --xauth-password-file',
          ),
        );
        return;
      }
      if (this.xauth?.sa !== sa) this.xauth = { sa, client: new XauthClient(s.cfg.xauth) };
      let step;
      try {
        step = this.xauth.client.onMessage(p);
      } catch (e) {
        s.fail(isVpnError(e) ? e : new VpnError('ERR_IKE_PROTOCOL', (e as Error).message));
        return;
      }
      if (step.message !== undefined)
        s.log.info('ike', `XAUTH: the gateway says "${step.message}"`);
      switch (step.kind) {
        case 'reply':
          this.answer(sa, h.messageId, step.payload);
          return;
        case 'done':
          // draft-beaulieu-ike-xauth-02 §2.2: ACK the SET STATUS=1; XAUTH succeeded.
          this.answer(sa, h.messageId, step.ack);
          s.log.info('ike', 'XAUTH succeeded');
          s.tasks.phase1.xauthSucceeded(sa);
          return;
        case 'failed':
          if (step.ack) this.answer(sa, h.messageId, step.ack);
          s.fail(step.error);
          return;
      }
    }
    s.drop('unexpected transaction', `type ${p.cfgType}`);
  }

  /** Our answer in the gateway's transaction (same message ID), cached for its retransmissions. */
  private answer(sa: IsakmpSa, mid: number, p: AttributePayload): void {
    const s = this.s;
    const msg = s.sealHashed(sa, X.TRANSACTION, mid, [this.attrPayload(p)]);
    sa.lastIn = s.lastDatagram;
    sa.lastOut = msg;
    s.transmit(msg);
  }
}
