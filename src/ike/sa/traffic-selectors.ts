/**
 * Traffic selectors (RFC 7296 §2.9, §3.13): building our proposal and checking that what the
 * responder returns is a narrowing of it.
 */
import { formatIpAddress, parseIpAddress, prefixToRange, compareAddr } from '../../core/ip.js';
import { VpnError } from '../../core/errors.js';
import { TsType } from '../constants.js';
import type { TrafficSelector } from '../codec/index.js';

export function tsFromCidr(
  cidr: string,
  ipProtocol = 0,
  startPort = 0,
  endPort = 65535,
): TrafficSelector {
  const [addr, len] = cidr.split('/');
  const bytes = parseIpAddress(addr ?? '');
  const max = bytes.length * 8;
  const prefix = len === undefined ? max : Number(len);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) {
    throw new VpnError('ERR_CONFIG', `bad prefix length in "${cidr}"`);
  }
  const { start, end } = prefixToRange(bytes, prefix);
  return {
    tsType: bytes.length === 4 ? TsType.TS_IPV4_ADDR_RANGE : TsType.TS_IPV6_ADDR_RANGE,
    ipProtocol,
    startPort,
    endPort,
    startAddr: start,
    endAddr: end,
  };
}

/** 0.0.0.0/0 (and ::/0 when asked), any protocol, any port. */
export function anyTs(ip6: boolean): TrafficSelector[] {
  const out = [tsFromCidr('0.0.0.0/0')];
  if (ip6) out.push(tsFromCidr('::/0'));
  return out;
}

function within(inner: TrafficSelector, outer: TrafficSelector): boolean {
  if (inner.tsType !== outer.tsType) return false;
  if (outer.ipProtocol !== 0 && inner.ipProtocol !== outer.ipProtocol) return false;
  if (inner.startPort < outer.startPort || inner.endPort > outer.endPort) return false;
  if (inner.startPort > inner.endPort) return false;
  return (
    compareAddr(inner.startAddr, outer.startAddr) >= 0 &&
    compareAddr(inner.endAddr, outer.endAddr) <= 0 &&
    compareAddr(inner.startAddr, inner.endAddr) <= 0
  );
}

/**
 * Every selector the responder chose must lie within one we proposed (it may only narrow,
 * RFC 7296 §2.9). Returns a problem description or null.
 */
export function checkNarrowed(
  proposed: TrafficSelector[],
  chosen: TrafficSelector[],
  side: string,
): string | null {
  if (chosen.length === 0) return `responder returned no ${side} traffic selectors`;
  for (const c of chosen) {
    if (c.tsType !== TsType.TS_IPV4_ADDR_RANGE && c.tsType !== TsType.TS_IPV6_ADDR_RANGE) {
      return `responder returned ${side} selector of unknown type ${c.tsType}`;
    }
    if (!proposed.some((p) => within(c, p)))
      return `responder widened ${side} selector ${formatTs(c)}`;
  }
  return null;
}

/**
 * As the responder of a CHILD_SA rekey we may only narrow (RFC 7296 §2.9), and the new SA keeps
 * the old one's selectors (§2.9.2): the intersections of each offered selector with `allowed`
 * (address range, port range and protocol), skipping empty ones and unknown types.
 */
export function narrowTo(
  allowed: TrafficSelector[],
  offered: TrafficSelector[],
): TrafficSelector[] {
  const out: TrafficSelector[] = [];
  for (const c of offered) {
    if (c.tsType !== TsType.TS_IPV4_ADDR_RANGE && c.tsType !== TsType.TS_IPV6_ADDR_RANGE) continue;
    for (const p of allowed) {
      const i = intersect(c, p);
      if (i) out.push(i);
    }
  }
  return out;
}

function intersect(a: TrafficSelector, b: TrafficSelector): TrafficSelector | undefined {
  if (a.tsType !== b.tsType || a.startAddr.length !== b.startAddr.length) return undefined;
  if (a.ipProtocol !== 0 && b.ipProtocol !== 0 && a.ipProtocol !== b.ipProtocol) return undefined;
  const startAddr = compareAddr(a.startAddr, b.startAddr) >= 0 ? a.startAddr : b.startAddr;
  const endAddr = compareAddr(a.endAddr, b.endAddr) <= 0 ? a.endAddr : b.endAddr;
  const startPort = Math.max(a.startPort, b.startPort);
  const endPort = Math.min(a.endPort, b.endPort);
  if (compareAddr(startAddr, endAddr) > 0 || startPort > endPort) return undefined;
  return {
    tsType: a.tsType,
    ipProtocol: a.ipProtocol || b.ipProtocol,
    startPort,
    endPort,
    startAddr: startAddr.slice(),
    endAddr: endAddr.slice(),
  };
}

export function formatTs(ts: TrafficSelector): string {
  const a = formatIpAddress(ts.startAddr);
  const b = formatIpAddress(ts.endAddr);
  let range = `${a}-${b}`;
  // Print as CIDR when the range is a prefix.
  for (let p = 0; p <= ts.startAddr.length * 8; p++) {
    const r = prefixToRange(ts.startAddr, p);
    if (compareAddr(r.start, ts.startAddr) === 0 && compareAddr(r.end, ts.endAddr) === 0) {
      range = `${a}/${p}`;
      break;
    }
  }
  const proto =
    ts.ipProtocol === 0
      ? ''
      : `[${ts.ipProtocol}${ts.startPort === 0 && ts.endPort === 65535 ? '' : `/${ts.startPort}-${ts.endPort}`}]`;
  return range + proto;
}
