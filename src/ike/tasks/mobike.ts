/**
 * MOBIKE (RFC 4555): MOBIKE_SUPPORTED (§3.1), UPDATE_SA_ADDRESSES with NAT-D and COOKIE2 when
 * our address changes or a NAT may have remapped us (§3.5, §3.8), and the gateway's own update.
 */
import { equalBytes } from '../../core/bytes.js';
import { VpnError } from '../../core/errors.js';
import { ExchangeType, NotifyType, PayloadType, nameOf } from '../constants.js';
import { filterPayloads } from '../codec/index.js';
import type { NotifyPayload, Payload } from '../codec/index.js';
import type { Endpoint } from '../natd.js';
import type { SaContext } from '../sa/ike-sa.js';
import type { IkeContext } from '../context.js';
import type { ResponderTask, Reply } from './task.js';

export class Mobike implements ResponderTask {
  private readonly c: IkeContext;

  constructor(c: IkeContext) {
    this.c = c;
  }

  notePeerMobike(notifies: NotifyPayload[]): void {
    if (notifies.some((n) => n.notifyType === NotifyType.MOBIKE_SUPPORTED))
      this.c.ike.peerMobike = true;
  }

  /** The driver saw our address (the source of the path to the gateway) change. */
  onLocalAddress(local: Endpoint): void {
    const changed = local.address !== this.c.ike.local.address;
    this.c.ike.local = local;
    if (!changed || this.c.ike.state !== 'established') return;
    if (this.c.cfg.mobike === false || !this.c.ike.peerMobike) {
      // Without MOBIKE the gateway cannot follow us: start over from the new address.
      this.c.fail(
        new VpnError(
          'ERR_IKE_TIMEOUT',
          `our address changed to ${local.address} and the gateway does not support MOBIKE: reconnecting`,
        ),
      );
      return;
    }
    this.c.xchg.enqueue(() => this.sendAddressUpdate());
  }

  /**
   * RFC 4555 §3.5: INFORMATIONAL { N(UPDATE_SA_ADDRESSES), N(NAT_D)×2, N(COOKIE2) } sent from the
   * new address; the gateway moves the IKE SA and its CHILD_SAs to the address it came from.
   */
  sendAddressUpdate(why: 'moved' | 'probe' | 'wake' = 'moved'): void {
    const cookie2 = this.c.random.bytes(16);
    const from = { ...this.c.ike.local };
    const inner: Payload[] = [
      this.c.notify(NotifyType.UPDATE_SA_ADDRESSES),
      ...this.c.natdNotifies(),
      this.c.notify(NotifyType.COOKIE2, cookie2),
    ];
    this.c.log.info(
      'ike',
      why === 'moved'
        ? `our address changed to ${from.address}: moving the SAs (MOBIKE)`
        : why === 'wake'
          ? 'after a sleep: refreshing our address at the gateway (MOBIKE, RFC 4555 §3.8)'
          : 'no answers to our traffic: refreshing our address at the gateway (MOBIKE, RFC 4555 §3.8)',
    );
    this.c.xchg.initiate({
      exchange: ExchangeType.INFORMATIONAL,
      what: 'the MOBIKE address update',
      buildRequest: () => inner,
      processResponse: (_h, p) => this.processUpdateResponse(p, from, cookie2),
    });
  }

  private processUpdateResponse(inner: Payload[], from: Endpoint, cookie2: Uint8Array): void {
    const notifies = filterPayloads(inner, PayloadType.NOTIFY);
    const error = notifies.find((n) => n.notifyType < 16384);
    if (error) {
      // e.g. UNACCEPTABLE_ADDRESSES (§3.5): the gateway will not use this address.
      this.c.fail(
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
      this.c.fail(
        new VpnError(
          'ERR_IKE_PROTOCOL',
          'MOBIKE update response without our COOKIE2 (RFC 4555 §3.5)',
        ),
      );
      return;
    }
    this.c.updateNatFrom(notifies);
    this.c.emit({ type: 'roamed', local: from, remote: this.c.ike.remote, by: 'us' });
  }

  /** The gateway's INFORMATIONAL { N(UPDATE_SA_ADDRESSES), ... } (RFC 4555 §3.5). */
  processRequest(_ctx: SaContext, inner: Payload[], from: Endpoint): Reply {
    return this.onPeerAddressUpdate(filterPayloads(inner, PayloadType.NOTIFY), from);
  }

  /** The gateway moved (§3.5 from its side): follow it to the address its request came from. */
  private onPeerAddressUpdate(
    notifies: NotifyPayload[],
    from: Endpoint,
  ): { reply: Payload[]; after?: () => void } {
    const cookie2 = notifies.find((n) => n.notifyType === NotifyType.COOKIE2);
    const prev = this.c.ike.remote;
    this.c.ike.remote = { address: from.address, port: from.port };
    this.c.updateNatFrom(notifies);
    const reply: Payload[] = [...this.c.natdNotifies()];
    if (cookie2) reply.push(this.c.notify(NotifyType.COOKIE2, cookie2.data));
    if (prev.address !== from.address || prev.port !== from.port) {
      this.c.log.info('ike', `the gateway moved to ${from.address}:${from.port} (MOBIKE)`);
    }
    return {
      reply,
      after: () =>
        this.c.emit({
          type: 'roamed',
          local: this.c.ike.local,
          remote: this.c.ike.remote,
          by: 'peer',
        }),
    };
  }
}
