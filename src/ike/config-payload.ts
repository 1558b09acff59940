/**
 * Configuration payload (RFC 7296 §3.15, RFC 8598 for INTERNAL_DNS_DOMAIN): our CFG_REQUEST and
 * the parsing of the gateway's CFG_REPLY into a virtual IP, DNS servers and domains.
 */
import { parseDomainAttribute } from '../core/dns-name.js';
import { formatIpAddress } from '../core/ip.js';
import { CfgAttr, CfgType, PayloadType } from './constants.js';
import type { CpPayload } from './codec/index.js';

export interface ConfigRequest {
  ip4: boolean;
  ip6: boolean;
  dns: boolean;
}

export interface ConfigReply {
  ip4?: string;
  ip4Netmask?: string;
  /** IPv6 address with its prefix length. */
  ip6?: { address: string; prefix: number };
  dns4: string[];
  dns6: string[];
  domains: string[];
  /** INTERNAL_IP4_SUBNET / INTERNAL_IP6_SUBNET: networks the gateway says are protected. */
  subnets: string[];
  /** Attributes we did not understand, kept for logging. */
  unknown: number[];
}

export function buildConfigRequest(req: ConfigRequest): CpPayload {
  const attributes: { type: number; value: Uint8Array }[] = [];
  const empty = new Uint8Array(0);
  if (req.ip4) attributes.push({ type: CfgAttr.INTERNAL_IP4_ADDRESS, value: empty });
  if (req.ip4 && req.dns) attributes.push({ type: CfgAttr.INTERNAL_IP4_DNS, value: empty });
  if (req.ip6) attributes.push({ type: CfgAttr.INTERNAL_IP6_ADDRESS, value: empty });
  if (req.ip6 && req.dns) attributes.push({ type: CfgAttr.INTERNAL_IP6_DNS, value: empty });
  if (req.dns) attributes.push({ type: CfgAttr.INTERNAL_DNS_DOMAIN, value: empty });
  return { type: PayloadType.CP, critical: false, cfgType: CfgType.REQUEST, attributes };
}

/**
 * Parses a CFG_REPLY. Malformed attribute values are skipped (and reported in `unknown`) rather
 * than failing the whole exchange: a gateway's odd DNS attribute should not kill the tunnel.
 */
export function parseConfigReply(cp: CpPayload): ConfigReply {
  const out: ConfigReply = { dns4: [], dns6: [], domains: [], subnets: [], unknown: [] };
  for (const a of cp.attributes) {
    const v = a.value;
    switch (a.type) {
      case CfgAttr.INTERNAL_IP4_ADDRESS:
        if (v.length === 4) out.ip4 ??= formatIpAddress(v);
        else if (v.length !== 0) out.unknown.push(a.type);
        break;
      case CfgAttr.INTERNAL_IP4_NETMASK:
        if (v.length === 4) out.ip4Netmask = formatIpAddress(v);
        break;
      case CfgAttr.INTERNAL_IP4_DNS:
        if (v.length === 4) out.dns4.push(formatIpAddress(v));
        break;
      case CfgAttr.INTERNAL_IP6_ADDRESS:
        if (v.length === 17)
          out.ip6 ??= { address: formatIpAddress(v.subarray(0, 16)), prefix: v[16]! };
        else if (v.length !== 0) out.unknown.push(a.type);
        break;
      case CfgAttr.INTERNAL_IP6_DNS:
        if (v.length === 16) out.dns6.push(formatIpAddress(v));
        break;
      case CfgAttr.INTERNAL_DNS_DOMAIN: {
        // RFC 8598 §3.1: one domain in presentation format per attribute (empty: only in our
        // request). Anything else — the root, bad labels, bytes that are no A-label — is skipped.
        if (v.length === 0) break;
        const d = parseDomainAttribute(v);
        if (d === undefined) out.unknown.push(a.type);
        else if (!out.domains.includes(d)) out.domains.push(d);
        break;
      }
      case CfgAttr.INTERNAL_IP4_SUBNET:
        if (v.length === 8)
          out.subnets.push(`${formatIpAddress(v.subarray(0, 4))}/${maskToPrefix(v.subarray(4))}`);
        break;
      case CfgAttr.INTERNAL_IP6_SUBNET:
        if (v.length === 17) out.subnets.push(`${formatIpAddress(v.subarray(0, 16))}/${v[16]!}`);
        break;
      default:
        out.unknown.push(a.type);
    }
  }
  return out;
}

function maskToPrefix(mask: Uint8Array): number {
  let n = 0;
  for (const b of mask) {
    for (let i = 7; i >= 0; i--) {
      if ((b >> i) & 1) n++;
      else return n;
    }
  }
  return n;
}
