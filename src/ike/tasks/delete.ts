/**
 * DELETE in INFORMATIONAL exchanges (RFC 7296 §1.4.1, §3.11): closing the IKE SA, deleting a
 * CHILD_SA, answering the gateway's DELETEs (crossing DELETEs get no Delete payload; the last
 * CHILD_SA gone → our IKE SA DELETE), and the peer's empty INFORMATIONAL (liveness, §1.4).
 */
import { VpnError } from '../../core/errors.js';
import { ExchangeType, PayloadType, ProtocolId } from '../constants.js';
import type { DeletePayload, Payload } from '../codec/index.js';
import { u32 } from '../sa/ike-sa.js';
import type { ChildSa, SaContext } from '../sa/ike-sa.js';
import type { IkeContext } from '../context.js';
import type { InitiatorTask, ResponderTask, Reply } from './task.js';

export class Delete implements ResponderTask {
  private readonly c: IkeContext;

  constructor(c: IkeContext) {
    this.c = c;
  }

  /** INFORMATIONAL { D(ESP, our inbound SPI) }; the SA goes once the gateway answers (§1.4.1). */
  deleteChild(c: ChildSa): void {
    c.replaced = true;
    this.c.xchg.enqueue(() => {
      if (!this.c.ike.children.includes(c)) return;
      c.deleteSent = true;
      this.c.xchg.initiate(
        this.childDeleteRequest(c, () => {
          const i = this.c.ike.children.indexOf(c);
          if (i < 0) return; // the gateway's crossing DELETE removed it already (§1.4.1)
          this.c.ike.children.splice(i, 1);
          this.c.out.push({
            kind: 'removeChild',
            inboundSpi: c.inboundSpi,
            outboundSpi: c.outboundSpi,
          });
        }),
      );
    });
  }

  /** The request INFORMATIONAL { D(ESP, our inbound SPI of `c`) } (§1.4.1, §3.11). */
  childDeleteRequest(c: ChildSa, onAnswer: () => void): InitiatorTask {
    return {
      exchange: ExchangeType.INFORMATIONAL,
      what: 'a CHILD_SA delete',
      buildRequest: (): Payload[] => [
        {
          type: PayloadType.DELETE,
          critical: false,
          protocol: ProtocolId.ESP,
          spiSize: 4,
          spis: [u32(c.inboundSpi)],
        },
      ],
      processResponse: onAnswer,
    };
  }

  /** The gateway's INFORMATIONAL with Delete payloads (§1.4.1), on the current or a retired IKE SA. */
  processRequest(ctx: SaContext, inner: Payload[]): Reply {
    const deletes = inner.filter((p): p is DeletePayload => p.type === PayloadType.DELETE);
    if (ctx !== this.c.ike.sa) {
      // The IKE SA we replaced by a rekey: its DELETE just retires it (§2.18).
      if (deletes.some((d) => d.protocol === ProtocolId.IKE)) {
        return {
          reply: [],
          after: () => {
            ctx.keymat?.wipe();
            if (this.c.ike.retired === ctx) this.c.ike.retired = undefined;
            if (this.c.ike.redundant === ctx) this.c.ike.redundant = undefined;
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
      return { reply: [], after: () => this.c.finishClose(err, true) };
    }
    const ourSpis: Uint8Array[] = [];
    for (const d of deletes) {
      if (d.protocol !== ProtocolId.ESP) continue;
      for (const spiBytes of d.spis) {
        if (spiBytes.length !== 4) continue;
        const spi = new DataView(spiBytes.buffer, spiBytes.byteOffset, 4).getUint32(0);
        // The gateway names its inbound SPI, which is our outbound SPI (§3.11).
        const idx = this.c.ike.children.findIndex((c) => c.outboundSpi === spi);
        if (idx < 0) continue;
        const c = this.c.ike.children.splice(idx, 1)[0]!;
        this.c.out.push({
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
    if (this.c.ike.children.length === 0) {
      // Without a CHILD_SA our client carries no traffic: after answering (§1.4.1), delete the IKE
      // SA with a request of our own (new message ID) and keep answering the gateway until its
      // response — or its own IKE SA DELETE — arrives, so no half-open SA is left on either side.
      const err = new VpnError('ERR_IKE_DELETED', 'the gateway deleted the tunnel (CHILD_SA)');
      return { reply, after: () => this.startIkeDelete(err) };
    }
    return { reply };
  }

  close(): void {
    switch (this.c.ike.state) {
      case 'created':
        this.c.finishClose(undefined, false);
        return;
      case 'connecting':
        // Nothing established: drop the half-open SA (the gateway times it out).
        this.c.finishClose(undefined, false);
        return;
      case 'established':
        this.startIkeDelete(undefined);
        return;
      case 'deleting':
      case 'closed':
        return;
    }
  }

  /** INFORMATIONAL { D(IKE) } (§1.4.1) with the next message ID; the SA closes on its answer. */
  private startIkeDelete(reason: VpnError | undefined): void {
    if (this.c.ike.state !== 'established') return;
    this.c.setState('deleting');
    // Abandon any request in flight; the DELETE takes the next message ID.
    const mid = this.c.ike.sa.outstanding
      ? this.c.ike.sa.outstanding.mid + 1
      : this.c.ike.sa.nextMid;
    this.c.ike.sa.outstanding = undefined;
    this.c.ike.sa.nextMid = mid;
    const done = (): void => this.c.finishClose(reason, reason !== undefined);
    // Answered or not, the SA is gone after this request (its give-up closes it too).
    this.c.xchg.initiate(
      {
        exchange: ExchangeType.INFORMATIONAL,
        what: 'DELETE',
        buildRequest: () => [this.c.deleteIkePayload()],
        processResponse: done,
      },
      () => {
        done();
        return true;
      },
    );
    // Do not wait the full retransmit schedule for a polite goodbye: two tries at most.
    this.c.ike.sa.outstanding!.tries = Math.max(0, this.c.cfg.retransmit.tries - 1);
  }
}
