/**
 * Mode Config client, pull mode (draft-dukes-ike-mode-cfg-02 §3.3–3.4): our REQUEST for an IPv4
 * address, netmask, DNS and NBNS servers (and the Cisco Unity banner, default domain, split DNS
 * names and split-include networks when the gateway announced Unity), and the parsing of its
 * REPLY into a ModeCfgResult, every list bounded as for IKEv2 (src/ike/limits.ts). Also the push
 * variant (a gateway's SET, answered by an ACK) and the conversion to the IKEv2 ConfigReply the
 * driver already knows how to apply.
 *
 * Pure and synchronous: the Transaction exchange crypto is the session's.
 */
import { VpnError } from '../../core/errors.js';
import { formatIpAddress } from '../../core/ip.js';
import { isDomainName, parseDomainAttribute } from '../../core/dns-name.js';
import type { ConfigReply } from '../../ike/config-payload.js';
import { LIMITS } from '../../ike/limits.js';
import {
  CfgType,
  ModeCfgAttr,
  UnityAttr,
  type AttributePayload,
  type CfgAttribute,
} from './attributes.js';
import { MAX_BANNER_CHARS, untrustedText } from './text.js';

export interface ModeCfgResult {
  ip4?: string;
  netmask4?: string;
  dns4: string[];
  nbns4: string[];
  /** Cisco Unity UNITY_SPLIT_INCLUDE (28676) and INTERNAL_IP4_SUBNET (13), bounded. */
  splitInclude: { network: string; prefix: number }[];
  /** UNITY_DEF_DOMAIN (28674). */
  defaultDomain?: string;
  /** UNITY_SPLITDNS_NAME (28675). */
  splitDns: string[];
  /** UNITY_BANNER (28672), escaped and bounded (line breaks appear as `\x0a`). */
  banner?: string;
  /** What was dropped or capped, one line each (already safe to print). */
  warnings?: string[];
  /** Attribute types we did not use, for logging (at most 16). */
  unknown?: number[];
}

/** Most Unity split-include networks we keep (as INTERNAL_IP4_SUBNET in IKEv2). */
export const MAX_SPLIT_INCLUDE = LIMITS.subnets;
/** Most NBNS (WINS) servers we keep. */
export const MAX_NBNS = 4;
/** UNITY_SPLIT_INCLUDE entry: network (4), mask (4), protocol, source and destination port (6). */
const SPLIT_ENTRY = 14;

const empty = (): Uint8Array => new Uint8Array(0);

export class ModeConfigClient {
  private readonly identifier: number;
  private readonly unity: boolean;

  constructor(opts: { identifier: number; unity: boolean }) {
    if (!Number.isInteger(opts.identifier) || opts.identifier < 0 || opts.identifier > 0xffff)
      throw new VpnError('ERR_ARG', `Mode Config identifier ${opts.identifier} out of range`);
    this.identifier = opts.identifier;
    this.unity = opts.unity;
  }

  /** Pull mode: our REQUEST (§3.3), every attribute with an empty value. */
  request(): AttributePayload {
    const types: number[] = [
      ModeCfgAttr.INTERNAL_IP4_ADDRESS,
      ModeCfgAttr.INTERNAL_IP4_NETMASK,
      ModeCfgAttr.INTERNAL_IP4_DNS,
      ModeCfgAttr.INTERNAL_IP4_NBNS,
    ];
    if (this.unity)
      types.push(
        UnityAttr.BANNER,
        UnityAttr.DEF_DOMAIN,
        UnityAttr.SPLITDNS_NAME,
        UnityAttr.SPLIT_INCLUDE,
      );
    return {
      cfgType: CfgType.REQUEST,
      identifier: this.identifier,
      attributes: types.map((type) => ({ type, value: empty() })),
    };
  }

  /**
   * The gateway's REPLY: it must be a REPLY with our identifier (§3.2); then every attribute is
   * checked and every list bounded. A virtual IP that cannot be one is an error; a bad DNS server,
   * netmask, network or domain is dropped with a warning.
   */
  onReply(p: AttributePayload): ModeCfgResult | VpnError {
    if (p.cfgType !== CfgType.REPLY)
      return new VpnError(
        'ERR_IKE_PROTOCOL',
        `Mode Config: expected a REPLY (2), gateway sent type ${p.cfgType}`,
      );
    if (p.identifier !== this.identifier)
      return new VpnError(
        'ERR_IKE_PROTOCOL',
        `Mode Config: reply identifier ${p.identifier} does not match our request's ${this.identifier}`,
      );
    return parseModeCfgAttributes(p.attributes);
  }

  /**
   * Push mode (§3.4): the gateway SETs attributes; we take them and ACK the ones we took (the
   * types with empty values), with its identifier.
   */
  onSet(p: AttributePayload): { result: ModeCfgResult; ack: AttributePayload } | VpnError {
    if (p.cfgType !== CfgType.SET)
      return new VpnError(
        'ERR_IKE_PROTOCOL',
        `Mode Config: expected a SET (3), gateway sent type ${p.cfgType}`,
      );
    const result = parseModeCfgAttributes(p.attributes);
    if (result instanceof VpnError) return result;
    const unknown = new Set(result.unknown ?? []);
    const taken = [...new Set(p.attributes.map((a) => a.type))].filter((t) => !unknown.has(t));
    return {
      result,
      ack: {
        cfgType: CfgType.ACK,
        identifier: p.identifier,
        attributes: taken.map((type) => ({ type, value: empty() })),
      },
    };
  }
}

/** An IPv4 address no gateway may hand out or name as a server: 0/8, 127/8, 224/4 and above. */
function unusableV4(b: Uint8Array): boolean {
  return b[0] === 0 || b[0] === 127 || b[0]! >= 224;
}

/** Prefix length of a contiguous IPv4 netmask, or undefined. */
function maskPrefix(m: Uint8Array): number | undefined {
  const n = ((m[0]! << 24) | (m[1]! << 16) | (m[2]! << 8) | m[3]!) >>> 0;
  const inv = ~n >>> 0;
  if ((inv & (inv + 1)) !== 0) return undefined; // ones must be contiguous from the top
  let p = 0;
  for (let x = n; x & 0x80000000; x = (x << 1) >>> 0) p++;
  return p;
}

function networkOf(addr: Uint8Array, mask: Uint8Array): string {
  return formatIpAddress(new Uint8Array([0, 1, 2, 3].map((i) => addr[i]! & mask[i]!)));
}

/** Domains of a UNITY_SPLITDNS_NAME value: a comma- (or space-) separated list. */
function splitDnsNames(v: Uint8Array): { names: string[]; bad: number } {
  let end = v.length;
  while (end > 0 && v[end - 1] === 0) end--;
  const names: string[] = [];
  let bad = 0;
  let text = '';
  for (let i = 0; i < end; i++) {
    const c = v[i]!;
    if (c < 0x20 || c > 0x7e) return { names: [], bad: 1 };
    text += String.fromCharCode(c);
  }
  for (const raw of text.split(/[,\s]+/)) {
    if (raw === '') continue;
    const d = raw.endsWith('.') ? raw.slice(0, -1) : raw;
    if (isDomainName(d)) names.push(d.toLowerCase());
    else bad++;
  }
  return { names, bad };
}

/** The attributes of a REPLY or SET, checked and bounded. */
export function parseModeCfgAttributes(attrs: CfgAttribute[]): ModeCfgResult | VpnError {
  const out: ModeCfgResult = { dns4: [], nbns4: [], splitInclude: [], splitDns: [] };
  const warnings: string[] = [];
  const unknown: number[] = [];
  const dropped = new Map<string, number>();
  const drop = (what: string): void => {
    dropped.set(what, (dropped.get(what) ?? 0) + 1);
  };
  const addUnique = <T>(list: T[], v: T, max: number, what: string, same = (a: T) => a === v) => {
    if (list.some(same)) return;
    if (list.length >= max) drop(`${what} beyond the first ${max}`);
    else list.push(v);
  };
  const addNetwork = (addr: Uint8Array, mask: Uint8Array): void => {
    const prefix = maskPrefix(mask);
    if (prefix === undefined) return drop('split networks with a non-contiguous mask');
    const network = networkOf(addr, mask);
    addUnique(
      out.splitInclude,
      { network, prefix },
      MAX_SPLIT_INCLUDE,
      'split networks',
      (a) => a.network === network && a.prefix === prefix,
    );
  };
  for (const a of attrs) {
    const v = a.value;
    switch (a.type) {
      case ModeCfgAttr.INTERNAL_IP4_ADDRESS:
        if (v.length === 0) break; // an echo of our empty request
        if (out.ip4 !== undefined) break; // the first one counts (as in IKEv2)
        if (v.length !== 4)
          return new VpnError(
            'ERR_IKE_PROTOCOL',
            `Mode Config: INTERNAL_IP4_ADDRESS has ${v.length} octets, expected 4`,
          );
        if (unusableV4(v))
          return new VpnError(
            'ERR_IKE_PROTOCOL',
            `Mode Config: gateway assigned ${formatIpAddress(v)}, which cannot be a virtual IP`,
          );
        out.ip4 = formatIpAddress(v);
        break;
      case ModeCfgAttr.INTERNAL_IP4_NETMASK:
        if (v.length === 0) break;
        if (v.length !== 4 || maskPrefix(v) === undefined) drop('malformed netmasks');
        else out.netmask4 ??= formatIpAddress(v);
        break;
      case ModeCfgAttr.INTERNAL_IP4_DNS:
      case ModeCfgAttr.INTERNAL_IP4_NBNS: {
        if (v.length === 0) break;
        const dns = a.type === ModeCfgAttr.INTERNAL_IP4_DNS;
        const what = dns ? 'DNS servers' : 'NBNS servers';
        if (v.length !== 4 || unusableV4(v)) {
          drop(`malformed or unusable ${what}`);
          break;
        }
        const list = dns ? out.dns4 : out.nbns4;
        addUnique(list, formatIpAddress(v), dns ? LIMITS.dnsPerFamily : MAX_NBNS, what);
        break;
      }
      case ModeCfgAttr.INTERNAL_IP4_SUBNET:
        if (v.length === 0) break;
        if (v.length !== 8) drop('malformed INTERNAL_IP4_SUBNET values');
        else addNetwork(v.subarray(0, 4), v.subarray(4, 8));
        break;
      case UnityAttr.SPLIT_INCLUDE: {
        // 14-octet entries; the last may lack the 6 octets of protocol and ports (strongSwan
        // reads it so). Protocol and ports are not honoured: we route whole networks.
        let off = 0;
        while (v.length - off >= 8) {
          addNetwork(v.subarray(off, off + 4), v.subarray(off + 4, off + 8));
          off += SPLIT_ENTRY;
        }
        if (off < v.length) drop('malformed UNITY_SPLIT_INCLUDE entries');
        break;
      }
      case UnityAttr.DEF_DOMAIN: {
        if (v.length === 0) break;
        const d = parseDomainAttribute(v);
        if (d === undefined) drop('malformed default domains');
        else out.defaultDomain ??= d;
        break;
      }
      case UnityAttr.SPLITDNS_NAME: {
        if (v.length === 0) break;
        const { names, bad } = splitDnsNames(v);
        for (let i = 0; i < bad; i++) drop('malformed split DNS names');
        for (const n of names) addUnique(out.splitDns, n, LIMITS.domains, 'split DNS names');
        break;
      }
      case UnityAttr.BANNER:
        if (v.length === 0) break;
        out.banner ??= untrustedText(v, MAX_BANNER_CHARS);
        break;
      default:
        if (!unknown.includes(a.type) && unknown.length < 16) unknown.push(a.type);
    }
  }
  for (const [what, n] of dropped) warnings.push(`Mode Config: ignored ${n} ${what}`);
  if (warnings.length > 0) out.warnings = warnings;
  if (unknown.length > 0) out.unknown = unknown;
  return out;
}

/**
 * The IKEv2 ConfigReply (src/ike/config-payload.ts) for a Mode Config result, so the driver sets
 * addresses, DNS and split routes the same way for both versions: the default domain and the
 * split DNS names become `domains`, the split-include networks `subnets`.
 */
export function toConfigReply(r: ModeCfgResult): ConfigReply {
  const out: ConfigReply = {
    dns4: [...r.dns4],
    dns6: [],
    domains: [],
    subnets: r.splitInclude.map((s) => `${s.network}/${s.prefix}`),
    unknown: [...(r.unknown ?? [])],
  };
  if (r.ip4 !== undefined) out.ip4 = r.ip4;
  if (r.netmask4 !== undefined) out.ip4Netmask = r.netmask4;
  for (const d of [...(r.defaultDomain === undefined ? [] : [r.defaultDomain]), ...r.splitDns])
    if (!out.domains.includes(d)) out.domains.push(d);
  return out;
}
