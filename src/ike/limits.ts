/**
 * Bounds on what one message from the gateway can make us hold or do (issue 11, finding 6): the
 * size of a datagram and of a reassembled message, the DNS servers, domains, subnets and traffic
 * selectors we take from it, and the CHILD_SAs one IKE SA may keep. Anything beyond a bound is
 * dropped and counted in a warning the driver can print; nothing here throws on peer input.
 */
import type { ConfigReply } from './config-payload.js';
import type { TrafficSelector } from './codec/index.js';

/**
 * Largest IKE message we accept, as one datagram or reassembled from RFC 7383 fragments.
 * strongSwan's default `max_packet` is 10000 bytes; a certificate chain of several RSA-4096
 * certificates stays well below 32 KiB.
 */
export const MAX_IKE_MESSAGE_BYTES = 32 * 1024;

export const LIMITS = {
  /** DNS servers per address family (INTERNAL_IP4_DNS, INTERNAL_IP6_DNS). */
  dnsPerFamily: 8,
  /** INTERNAL_DNS_DOMAIN entries (search domains / split DNS, RFC 8598). */
  domains: 16,
  /** INTERNAL_IP4_SUBNET / INTERNAL_IP6_SUBNET entries. */
  subnets: 32,
  /** Traffic selectors per side of a CHILD_SA (TSi, TSr). */
  selectorsPerSide: 32,
  /**
   * CHILD_SAs one IKE SA keeps at once: the current one and rekeyed ones not yet deleted (make
   * before break, simultaneous rekeys). The native data plane holds at most 8 inbound SAs.
   */
  childSas: 4,
} as const;

/** Caps a CP reply in place of a copy; returns one warning per capped list ("ignored N …"). */
export function capConfigReply(config: ConfigReply): { config: ConfigReply; warnings: string[] } {
  const warnings: string[] = [];
  const cap = <T>(list: T[], max: number, what: string): T[] => {
    if (list.length <= max) return list;
    warnings.push(`ignored ${list.length - max} ${what} beyond the first ${max}`);
    return list.slice(0, max);
  };
  return {
    config: {
      ...config,
      dns4: cap(config.dns4, LIMITS.dnsPerFamily, 'IPv4 DNS servers'),
      dns6: cap(config.dns6, LIMITS.dnsPerFamily, 'IPv6 DNS servers'),
      domains: cap(config.domains, LIMITS.domains, 'DNS domains'),
      subnets: cap(config.subnets, LIMITS.subnets, 'subnets'),
      // Unknown attribute types are only logged: keep a few to name, not thousands.
      unknown: config.unknown.slice(0, 16),
    },
    warnings,
  };
}

/** At most `LIMITS.selectorsPerSide` selectors of one side, with a warning when some were left. */
export function capSelectors(
  selectors: TrafficSelector[],
  side: string,
): { selectors: TrafficSelector[]; warning?: string } {
  const max = LIMITS.selectorsPerSide;
  if (selectors.length <= max) return { selectors };
  return {
    selectors: selectors.slice(0, max),
    warning: `ignored ${selectors.length - max} ${side} traffic selectors beyond the first ${max}`,
  };
}
