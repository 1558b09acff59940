/**
 * IKEv1 Informational exchanges (RFC 2408 §4.8, RFC 2409 §5.7): the gateway's notifications and
 * DELETEs, acted on only after their HASH verified; dead peer detection (RFC 3706 §5: R-U-THERE /
 * R-U-THERE-ACK with sequence numbers) both ways.
 */
import { equalBytes } from '../../core/bytes.js';
import { VpnError } from '../../core/errors.js';
import { V1Exchange as X, V1Notify, V1Protocol, v1Name } from '../constants.js';
import type { V1Chain, V1DeletePayload, V1Header, V1NotifyPayload } from '../codec/index.js';

import { DPD_WHAT, readU32, u32 } from '../context.js';
import type { IsakmpSa, V1Context } from '../context.js';

export class Informational {
  private readonly c: V1Context;

  constructor(c: V1Context) {
    this.c = c;
  }

  dpdSeq = 0;

  dpdSeqs: number[] = [];

  // -------------------------------------------------------------------------------------------
  // Dead peer detection (RFC 3706)

  armDpd(): void {
    if (this.c.cfg.dpdDelayMs > 0)
      this.c.push({
        kind: 'setTimer',
        timer: 'dpd',
        at: Math.max(this.c.now, this.c.lastAlive) + this.c.cfg.dpdDelayMs,
      });
  }

  onDpdTimer(): void {
    if (this.c.st !== 'established' || this.c.cfg.dpdDelayMs <= 0) return;
    if (this.c.now < this.c.lastAlive + this.c.cfg.dpdDelayMs || this.c.outstanding) {
      this.armDpd();
      return;
    }
    this.sendDpd();
  }

  /** RFC 3706 §5: R-U-THERE with the next sequence number, in a protected Informational. */
  sendDpd(): void {
    const sa = this.c.sa;
    if (!sa.ready) return;
    if (this.dpdSeq === 0) this.dpdSeq = readU32(this.c.random.bytes(4)) & 0x7fffffff;
    this.dpdSeq = (this.dpdSeq + 1) >>> 0;
    this.dpdSeqs = [...this.dpdSeqs.slice(-7), this.dpdSeq];
    const mid = this.c.newMid();
    const msg = this.c.sealHashed(sa, X.INFORMATIONAL, mid, [
      this.c.notify(
        V1Notify.DPD_R_U_THERE,
        V1Protocol.ISAKMP,
        this.c.cookies(sa),
        u32(this.dpdSeq),
      ),
    ]);
    sa.keymat!.forget(mid);
    this.c.counters.dpdSent++;
    this.c.emit({ type: 'liveness-check' });
    // The ACK comes as the gateway's own Informational; the exact request is retransmitted.
    this.c.request({
      exchange: X.INFORMATIONAL,
      mid,
      data: msg,
      what: DPD_WHAT,
      sa,
      onReply: () => undefined,
    });
  }

  // -------------------------------------------------------------------------------------------
  // Informational exchanges (RFC 2408 §4.8, RFC 2409 §5.7, RFC 3706)

  onInformational(
    sa: IsakmpSa,
    h: V1Header,
    c: V1Chain,
    plain: Uint8Array,
    encrypted: boolean,
  ): void {
    if (!encrypted) {
      if (sa.ready) return this.c.drop('unprotected informational');
      // Before phase 1 completes, refusals come in the clear (RFC 2408 §5): believed only while
      // a phase 1 request of ours is outstanding, like IKEv2's unprotected IKE_SA_INIT errors.
      const n = c.payloads.find((p): p is V1NotifyPayload => p.kind === 'notify');
      const o = this.c.outstanding;
      if (!n || !o || o.sa !== sa) return this.c.drop('unprotected informational');
      if (sa === this.c.nextSa) {
        this.c.nextSa = undefined;
        this.c.outstanding = undefined;
        this.c.log.warn('ike', `phase 1 rekey refused: ${v1Name(V1Notify, n.notifyType)}`);
        return;
      }
      this.c.finishCloseWith(this.c.errorFromNotify(n.notifyType, o.what));
      return;
    }
    if (!this.c.checkHash(sa, h, c, plain)) {
      this.c.rejectIv();
      this.c.drop('bad informational hash');
      this.c.tasks.phase1.keysDiffer(sa, h);
      return;
    }
    this.c.acceptIv();
    sa.keymat!.forget(h.messageId);
    this.c.lastAlive = this.c.now;
    for (const p of c.payloads.slice(1)) {
      if (this.c.st === 'closed') return;
      if (p.kind === 'notify') this.onNotify(sa, p);
      else if (p.kind === 'delete') this.onDelete(sa, p);
    }
  }

  onNotify(sa: IsakmpSa, n: V1NotifyPayload): void {
    switch (n.notifyType) {
      case V1Notify.DPD_R_U_THERE: {
        // RFC 3706 §5: answer with R-U-THERE-ACK carrying the same sequence number.
        if (n.data.length !== 4) return this.c.drop('malformed R-U-THERE');
        this.c.sendInformational(sa, [
          this.c.notify(V1Notify.DPD_R_U_THERE_ACK, V1Protocol.ISAKMP, this.c.cookies(sa), n.data),
        ]);
        return;
      }
      case V1Notify.DPD_R_U_THERE_ACK: {
        if (n.data.length !== 4) return this.c.drop('malformed R-U-THERE-ACK');
        const seq = readU32(n.data);
        const o = this.c.outstanding;
        if (o && o.what === DPD_WHAT && this.dpdSeqs.includes(seq)) {
          this.c.settle();
          this.armDpd();
        }
        return;
      }
      case V1Notify.INITIAL_CONTACT:
      case V1Notify.RESPONDER_LIFETIME:
      case V1Notify.REPLAY_STATUS:
        return;
      default: {
        const o = this.c.outstanding;
        if (n.notifyType < 16384 && this.c.st === 'connecting' && o) {
          // An error notification about our exchange in flight (RFC 2408 §3.14.1).
          this.c.fail(this.c.errorFromNotify(n.notifyType, o.what));
          return;
        }
        this.c.log.info('ike', `gateway notification ${v1Name(V1Notify, n.notifyType)}`);
      }
    }
  }

  onDelete(sa: IsakmpSa, d: V1DeletePayload): void {
    if (d.protocol === V1Protocol.ISAKMP) {
      const self = d.spis.some((s) => equalBytes(s, this.c.cookies(sa)));
      if (!self) return;
      if (sa !== this.c.sa) return; // an old ISAKMP SA of ours going away after a rekey
      // RFC 2409 §5.7: the gateway deleted the ISAKMP SA; its IPsec SAs go with the tunnel.
      this.c.finishClose(
        new VpnError('ERR_IKE_DELETED', 'the gateway deleted the IKEv1 SA (ISAKMP SA)'),
        true,
      );
      return;
    }
    if (d.protocol !== V1Protocol.ESP || d.spiSize !== 4) return;
    for (const s of d.spis) {
      // The gateway names its inbound SPI: our outbound one.
      const spi = readU32(s);
      const c = this.c.children.find((x) => x.outboundSpi === spi);
      if (!c) continue;
      this.c.removeChild(c);
    }
    if (this.c.children.length === 0 && this.c.st === 'established' && !this.c.tasks.quick.qm) {
      const err = new VpnError('ERR_IKE_DELETED', 'the gateway deleted the tunnel (IPsec SA)');
      this.c.fail(err);
    }
  }
}
