/**
 * Dead peer detection / liveness (RFC 7296 §1.4, §2.4): an empty INFORMATIONAL request after
 * `dpdDelayMs` without any sign of life; any authenticated answer proves liveness.
 */
import { ExchangeType, NotifyType, PayloadType, nameOf } from '../constants.js';
import { filterPayloads } from '../codec/index.js';
import type { Payload } from '../codec/index.js';
import type { SaContext } from '../sa/ike-sa.js';
import type { IkeContext } from '../context.js';
import { DPD_WHAT } from './task.js';
import type { InitiatorTask, ResponderTask, Reply } from './task.js';

export class Dpd implements InitiatorTask, ResponderTask {
  readonly exchange = ExchangeType.INFORMATIONAL;
  readonly what = DPD_WHAT;
  private readonly c: IkeContext;

  constructor(c: IkeContext) {
    this.c = c;
  }

  scheduleDpd(): void {
    if (this.c.cfg.dpdDelayMs <= 0) return;
    this.c.out.push({
      kind: 'setTimer',
      timer: 'dpd',
      // Due one delay after the last sign of life (an answer to our check counts as one).
      at: Math.max(this.c.now, this.c.ike.lastAlive + this.c.cfg.dpdDelayMs),
    });
  }

  onDpdTimer(): void {
    if (this.c.ike.state !== 'established') return;
    if (this.c.ike.sa.outstanding) {
      // A request in flight: its own retransmissions decide liveness. Look again one delay
      // later, not at once: with no recent life, scheduleDpd() would be due now, and spin.
      this.c.out.push({ kind: 'setTimer', timer: 'dpd', at: this.c.now + this.c.cfg.dpdDelayMs });
      return;
    }
    if (this.c.now - this.c.ike.lastAlive < this.c.cfg.dpdDelayMs) {
      this.scheduleDpd(); // recent life
      return;
    }
    this.sendDpd();
  }

  /** An empty INFORMATIONAL request; any authenticated answer proves liveness (§1.4). */
  sendDpd(): void {
    this.c.counters.dpdSent++;
    this.c.xchg.initiate(this);
  }

  buildRequest(): Payload[] {
    return [];
  }

  processResponse(): void {
    this.scheduleDpd();
  }

  /** The gateway's INFORMATIONAL without Delete payloads: a liveness check (§1.4). */
  processRequest(_ctx: SaContext, inner: Payload[]): Reply {
    // Its notifies are informational.
    for (const n of filterPayloads(inner, PayloadType.NOTIFY)) {
      this.c.log.info('ike', `gateway notify ${nameOf(NotifyType, n.notifyType)}`);
    }
    this.c.emit({ type: 'liveness-check' });
    return { reply: [] };
  }
}
