/**
 * Reauthentication (RFC 4478; RFC 7296 §2.4 INITIAL_CONTACT, §2.8.3): the gateway's
 * N(AUTH_LIFETIME) in IKE_AUTH says when we must authenticate again. The driver
 * (src/client/tunnel.ts) then builds a new IKE SA with a full IKE_AUTH, make-before-break; that
 * new session leaves out INITIAL_CONTACT so the gateway keeps the old SA until it is deleted.
 */
import { NotifyType } from '../constants.js';
import type { NotifyPayload } from '../codec/index.js';
import type { IkeContext } from '../context.js';

export class Reauth {
  private readonly c: IkeContext;

  constructor(c: IkeContext) {
    this.c = c;
  }

  /**
   * §2.4: INITIAL_CONTACT tells the gateway to drop older SAs of ours — not when we replace an
   * SA that is still in use (reauthentication, RFC 4478).
   */
  initialContact(): NotifyPayload[] {
    return this.c.cfg.initialContact !== false ? [this.c.notify(NotifyType.INITIAL_CONTACT)] : [];
  }

  /** RFC 4478 §3: N(AUTH_LIFETIME) carries a 4-byte lifetime in seconds. */
  authLifetime(notifies: NotifyPayload[]): number | undefined {
    const n = notifies.find((x) => x.notifyType === NotifyType.AUTH_LIFETIME);
    return n?.data.length === 4
      ? new DataView(n.data.buffer, n.data.byteOffset, 4).getUint32(0)
      : undefined;
  }
}
