/**
 * IKEv2 redirects, RFC 5685: the gateway identity in REDIRECT and REDIRECTED_FROM notifies (§9),
 * and the gateway's INFORMATIONAL REDIRECT of an established SA (§5). Parsing is strict and
 * bounded: a gateway chooses these bytes, and they decide where we connect next.
 */
import { equalBytes } from '../core/bytes.js';
import { ParseError } from '../core/errors.js';
import { formatIpAddress, parseIpAddress } from '../core/ip.js';
import { ExchangeType, NotifyType, PayloadType } from './constants.js';
import { filterPayloads } from './codec/index.js';
import type { NotifyPayload, Payload } from './codec/index.js';
import type { SaContext } from './sa/ike-sa.js';
import type { IkeContext } from './context.js';
import type { ResponderTask, Reply } from './tasks/task.js';

/** RFC 5685 §9.2 (IANA "Gateway Identity Type"): IPv4 (1), IPv6 (2), FQDN (3). */
export const GwIdentType = { IPV4: 1, IPV6: 2, FQDN: 3 } as const;

/** Where a redirect sends us: an address, or a host name resolved at the edge (the driver). */
export interface RedirectTarget {
  kind: 'ipv4' | 'ipv6' | 'fqdn';
  /** Dotted quad, RFC 5952 IPv6 text, or a lower-case LDH host name (printable by construction). */
  value: string;
}

/** Where the redirect arrived (RFC 5685 §3 IKE_SA_INIT, §6 IKE_AUTH, §5 an established SA). */
export type RedirectDuring = 'IKE_SA_INIT' | 'IKE_AUTH' | 'INFORMATIONAL';

/** RFC 7296 §2.1 has no limit; RFC 1035 §2.3.4 limits a name to 255 octets (253 as text). */
const MAX_FQDN = 253;
const FQDN =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/;

/**
 * RFC 5685 §9.2/§9.3: GW Ident Type (1) ‖ GW Ident Len (1) ‖ New Responder GW Identity ‖ [Nonce
 * Data (REDIRECT in IKE_SA_INIT only)]. Returns the gateway and the bytes after it (the nonce).
 * @throws ParseError on a short or over-long identity, an unknown type, or a name that is not a
 * plain host name (no control characters, spaces or other bytes reach a log or a resolver).
 */
export function parseGwIdentity(data: Uint8Array): { gw: RedirectTarget; rest: Uint8Array } {
  if (data.length < 2) throw new ParseError('REDIRECT gateway identity', 0, 'too short');
  const type = data[0]!;
  const len = data[1]!;
  if (2 + len > data.length)
    throw new ParseError('REDIRECT gateway identity', 1, `length ${len} beyond the notify`);
  const body = data.subarray(2, 2 + len);
  const rest = data.slice(2 + len);
  switch (type) {
    case GwIdentType.IPV4:
      if (len !== 4) throw new ParseError('REDIRECT gateway identity', 1, `IPv4 of ${len} bytes`);
      return { gw: { kind: 'ipv4', value: formatIpAddress(body) }, rest };
    case GwIdentType.IPV6:
      if (len !== 16) throw new ParseError('REDIRECT gateway identity', 1, `IPv6 of ${len} bytes`);
      return { gw: { kind: 'ipv6', value: formatIpAddress(body) }, rest };
    case GwIdentType.FQDN: {
      if (len < 1 || len > MAX_FQDN)
        throw new ParseError('REDIRECT gateway identity', 1, `FQDN of ${len} bytes`);
      // Bytes outside printable ASCII never become a string we resolve or print.
      if (body.some((b) => b < 0x21 || b > 0x7e))
        throw new ParseError('REDIRECT gateway identity', 2, 'FQDN with non-printable bytes');
      const name = Buffer.from(body).toString('latin1').toLowerCase();
      if (!FQDN.test(name))
        throw new ParseError('REDIRECT gateway identity', 2, 'FQDN is not a host name');
      return { gw: { kind: 'fqdn', value: name.replace(/\.$/, '') }, rest };
    }
    default:
      throw new ParseError('REDIRECT gateway identity', 0, `unknown GW Ident Type ${type}`);
  }
}

/** RFC 5685 §9.3: REDIRECTED_FROM data for the gateway (an IP address) that redirected us. */
export function encodeGwAddress(address: string, nonce?: Uint8Array): Uint8Array {
  const a = parseIpAddress(address);
  const n = nonce ?? new Uint8Array(0);
  const out = new Uint8Array(2 + a.length + n.length);
  out[0] = a.length === 4 ? GwIdentType.IPV4 : GwIdentType.IPV6;
  out[1] = a.length;
  out.set(a, 2);
  out.set(n, 2 + a.length);
  return out;
}

/** RFC 5685 §9.2 for FQDNs too (the test responder sends these). */
export function encodeGwIdentity(gw: RedirectTarget, nonce?: Uint8Array): Uint8Array {
  if (gw.kind !== 'fqdn') return encodeGwAddress(gw.value, nonce);
  const name = new TextEncoder().encode(gw.value);
  const n = nonce ?? new Uint8Array(0);
  const out = new Uint8Array(2 + name.length + n.length);
  out[0] = GwIdentType.FQDN;
  out[1] = name.length;
  out.set(name, 2);
  out.set(n, 2 + name.length);
  return out;
}

export function formatTarget(gw: RedirectTarget): string {
  return gw.value;
}

/**
 * The REDIRECT notify of an IKE_SA_INIT response (§3) or an IKE_AUTH response (§6), checked.
 * In IKE_SA_INIT its nonce data must be our Ni (§3: that ties the unauthenticated redirect to
 * our request, so an off-path attacker cannot send us elsewhere); elsewhere it carries none.
 * Returns undefined without a REDIRECT, a string saying why a REDIRECT is refused.
 */
export function redirectIn(
  notifies: NotifyPayload[],
  ni: Uint8Array | undefined,
): RedirectTarget | string | undefined {
  const r = notifies.find((n) => n.notifyType === NotifyType.REDIRECT);
  if (!r) return undefined;
  let parsed: { gw: RedirectTarget; rest: Uint8Array };
  try {
    parsed = parseGwIdentity(r.data);
  } catch (e) {
    return (e as Error).message;
  }
  if (ni !== undefined) {
    if (!equalBytes(parsed.rest, ni))
      return 'its nonce data is not the nonce of our IKE_SA_INIT request (RFC 5685 §3)';
  } else if (parsed.rest.length > 0) {
    return `${parsed.rest.length} bytes follow the gateway identity`;
  }
  return parsed.gw;
}

/**
 * The gateway's INFORMATIONAL { N(REDIRECT) } on an established IKE SA (RFC 5685 §5): we answer
 * with an empty INFORMATIONAL, then delete this IKE SA and the driver connects to the new
 * gateway, naming the old one in REDIRECTED_FROM. With redirects refused (--no-redirect, or a
 * malformed REDIRECT) the request is answered and otherwise ignored.
 */
export class RedirectResponder implements ResponderTask {
  private readonly c: IkeContext;

  constructor(c: IkeContext) {
    this.c = c;
  }

  /** Is this request of the gateway's an RFC 5685 §5 redirect of the SA? */
  static matches(exchange: number, inner: Payload[]): boolean {
    return (
      exchange === ExchangeType.INFORMATIONAL &&
      !inner.some((p) => p.type === PayloadType.DELETE) &&
      filterPayloads(inner, PayloadType.NOTIFY).some((n) => n.notifyType === NotifyType.REDIRECT)
    );
  }

  processRequest(ctx: SaContext, inner: Payload[]): Reply {
    const notifies = filterPayloads(inner, PayloadType.NOTIFY);
    if (ctx !== this.c.ike.sa || this.c.ike.state !== 'established') return { reply: [] };
    if (this.c.cfg.redirect === false) {
      this.c.warn(
        'the gateway asked us to move to another gateway (REDIRECT); --no-redirect: staying',
      );
      return { reply: [] };
    }
    const target = redirectIn(notifies, undefined);
    if (typeof target !== 'object') {
      this.c.warn(`ignored a malformed REDIRECT from the gateway: ${target ?? 'missing'}`);
      return { reply: [] };
    }
    return {
      reply: [],
      after: () => {
        this.c.log.info('ike', `the gateway redirects us to ${target.value} (RFC 5685 §5)`);
        this.c.emit({ type: 'redirect', gateway: target, during: 'INFORMATIONAL' });
        this.deleteAndClose();
      },
    };
  }

  /**
   * RFC 5685 §5: the client deletes the old IKE SA. One INFORMATIONAL { D(IKE) }, not waited
   * for: the gateway that sent us away has nothing to add, and the new one is waiting.
   */
  private deleteAndClose(): void {
    const sa = this.c.ike.sa;
    try {
      const mid = sa.outstanding ? sa.outstanding.mid + 1 : sa.nextMid;
      this.c.transmit(
        this.c.xchg.buildEncrypted(ExchangeType.INFORMATIONAL, mid, false, [
          this.c.deleteIkePayload(),
        ]),
      );
    } catch (e) {
      this.c.log.debug('ike', `DELETE of the redirected IKE SA not sent: ${(e as Error).message}`);
    }
    this.c.finishClose(undefined, false);
  }
}
