/**
 * Domain names as the gateway sends them in INTERNAL_DNS_DOMAIN (RFC 8598 §3.1: presentation
 * format, an IDNA A-label, not NUL-terminated). One rule for the decoder (src/ike/config-payload)
 * and for the host configurator (src/tun/netcfg), so a name the decoder keeps is never refused
 * later, when refusing it would fail the tunnel.
 */

/** Longest domain name in presentation format without the trailing dot (RFC 1035 §2.3.4). */
export const MAX_DOMAIN_NAME = 253;

/**
 * A domain name without a trailing dot: labels of 1–63 letters, digits, "_" or "-", never
 * starting or ending with "-" (so never an option to a command), at most 253 characters. The
 * root (".", the empty name) is not one: it would claim every name.
 */
export function isDomainName(d: string): boolean {
  if (d.length === 0 || d.length > MAX_DOMAIN_NAME) return false;
  return d.split('.').every((l) => /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/.test(l));
}

/**
 * The domain of an INTERNAL_DNS_DOMAIN value, lower-cased, or undefined when it is not one.
 * Tolerated: trailing NUL bytes (RFC 8598 §3.1 warns senders against them) and one trailing dot.
 */
export function parseDomainAttribute(value: Uint8Array): string | undefined {
  let end = value.length;
  while (end > 0 && value[end - 1] === 0) end--;
  if (end === 0 || end > MAX_DOMAIN_NAME + 1) return undefined;
  let d = '';
  for (let i = 0; i < end; i++) {
    const c = value[i]!;
    if (c < 0x21 || c > 0x7e) return undefined; // not printable ASCII: not an A-label
    d += String.fromCharCode(c);
  }
  if (d.endsWith('.')) d = d.slice(0, -1);
  return isDomainName(d) ? d.toLowerCase() : undefined;
}
