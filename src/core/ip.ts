/**
 * IP address and packet helpers (pure): parse/format addresses, prefix ranges, and a peek at an
 * IP packet's addresses, protocol and ports (for ESP policy lookup, RFC 4301 §4.4.1).
 */
import { VpnError } from './errors.js';

export function parseIpAddress(s: string): Uint8Array {
  const v4 = parseV4(s);
  if (v4) return v4;
  const v6 = parseV6(s);
  if (v6) return v6;
  throw new VpnError('ERR_ARG', `"${s}" is not an IP address`);
}

function parseV4(s: string): Uint8Array | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseV6(s: string): Uint8Array | undefined {
  if (!/^[0-9A-Fa-f:.]+$/.test(s) || s.length < 2) return undefined;
  const dbl = s.indexOf('::');
  if (dbl !== s.lastIndexOf('::')) return undefined;
  const words: number[] = [];
  const parseSide = (side: string): number[] | undefined => {
    if (side === '') return [];
    const groups = side.split(':');
    const out: number[] = [];
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (i === groups.length - 1 && g.includes('.')) {
        const v4 = parseV4(g);
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return undefined;
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  if (dbl >= 0) {
    const head = parseSide(s.slice(0, dbl));
    const tail = parseSide(s.slice(dbl + 2));
    if (!head || !tail || head.length + tail.length > 7) return undefined;
    words.push(...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail);
  } else {
    const all = parseSide(s);
    if (!all || all.length !== 8) return undefined;
    words.push(...all);
  }
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

/** Dotted quad, or RFC 5952 canonical IPv6 text. */
export function formatIpAddress(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]!}.${b[1]!}.${b[2]!}.${b[3]!}`;
  if (b.length !== 16)
    throw new VpnError('ERR_ARG', `"address" expected 4 or 16 bytes, got ${b.length}`);
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[2 * i]! << 8) | b[2 * i + 1]!);
  // Longest run (≥ 2) of zero words becomes "::" (RFC 5952 §4.2).
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]): string => a.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(w);
  return `${hex(w.slice(0, bestStart))}::${hex(w.slice(bestStart + bestLen))}`;
}

/** First and last address of a prefix. */
export function prefixToRange(
  addr: Uint8Array,
  prefixLen: number,
): { start: Uint8Array; end: Uint8Array } {
  const bits = addr.length * 8;
  if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > bits) {
    throw new VpnError('ERR_ARG', `"prefixLen" expected 0..${bits}, got ${prefixLen}`);
  }
  const start = new Uint8Array(addr.length);
  const end = new Uint8Array(addr.length);
  for (let i = 0; i < addr.length; i++) {
    const keep = Math.max(0, Math.min(8, prefixLen - 8 * i));
    const mask = keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
    start[i] = addr[i]! & mask;
    end[i] = (addr[i]! & mask) | (~mask & 0xff);
  }
  return { start, end };
}

/** Compares two addresses of the same length as unsigned big-endian numbers. */
export function compareAddr(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return a.length - b.length;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

export function addrInRange(a: Uint8Array, start: Uint8Array, end: Uint8Array): boolean {
  return a.length === start.length && compareAddr(a, start) >= 0 && compareAddr(a, end) <= 0;
}

export interface PacketInfo {
  version: 4 | 6;
  src: Uint8Array;
  dst: Uint8Array;
  protocol: number;
  srcPort: number;
  dstPort: number;
}

const PORTED = new Set([6, 17, 132, 136]); // TCP, UDP, SCTP, UDP-Lite

/** Reads addresses, upper-layer protocol and ports of an IP packet; null if it is not one. */
export function peekPacket(p: Uint8Array): PacketInfo | null {
  if (p.length < 1) return null;
  const version = p[0]! >> 4;
  if (version === 4) {
    const ihl = (p[0]! & 0x0f) * 4;
    if (ihl < 20 || p.length < ihl) return null;
    const protocol = p[9]!;
    const fragOffset = ((p[6]! & 0x1f) << 8) | p[7]!;
    const info: PacketInfo = {
      version: 4,
      src: p.subarray(12, 16),
      dst: p.subarray(16, 20),
      protocol,
      srcPort: 0,
      dstPort: 0,
    };
    if (fragOffset === 0 && PORTED.has(protocol) && p.length >= ihl + 4) {
      info.srcPort = (p[ihl]! << 8) | p[ihl + 1]!;
      info.dstPort = (p[ihl + 2]! << 8) | p[ihl + 3]!;
    }
    return info;
  }
  if (version === 6) {
    if (p.length < 40) return null;
    let next = p[6]!;
    let off = 40;
    let first = true;
    // Walk hop-by-hop (0), routing (43), fragment (44) and destination options (60).
    for (let guard = 0; guard < 8; guard++) {
      if (next === 0 || next === 43 || next === 60) {
        if (p.length < off + 2) return null;
        const len = (p[off + 1]! + 1) * 8;
        next = p[off]!;
        off += len;
      } else if (next === 44) {
        if (p.length < off + 8) return null;
        const fragOff = ((p[off + 2]! << 8) | p[off + 3]!) >> 3;
        if (fragOff !== 0) first = false;
        next = p[off]!;
        off += 8;
      } else break;
    }
    const info: PacketInfo = {
      version: 6,
      src: p.subarray(8, 24),
      dst: p.subarray(24, 40),
      protocol: next,
      srcPort: 0,
      dstPort: 0,
    };
    if (first && PORTED.has(next) && p.length >= off + 4) {
      info.srcPort = (p[off]! << 8) | p[off + 1]!;
      info.dstPort = (p[off + 2]! << 8) | p[off + 3]!;
    }
    return info;
  }
  return null;
}

/** At most this many networks kept outside the tunnel (`--exclude`): each is one route. */
export const MAX_EXCLUDED = 32;

/**
 * Checks the networks `--exclude` keeps on their usual path and returns them in canonical form
 * (`addr/len`, host bits cleared; a bare address is a host route). A /0 is refused: excluding
 * everything is not a tunnel.
 */
export function checkExcluded(cidrs: readonly string[]): string[] {
  if (cidrs.length > MAX_EXCLUDED)
    throw new VpnError('ERR_CONFIG', `at most ${MAX_EXCLUDED} excluded networks`);
  return cidrs.map((c) => {
    const [a, l, ...rest] = c.split('/');
    let addr: Uint8Array;
    try {
      if (a === undefined || rest.length > 0) throw new Error();
      addr = parseIpAddress(a);
    } catch {
      throw new VpnError('ERR_CONFIG', `not a network: ${JSON.stringify(c.slice(0, 64))}`);
    }
    const bits = addr.length * 8;
    const len = l === undefined ? bits : /^\d{1,3}$/.test(l) ? Number(l) : -1;
    if (len < 1 || len > bits)
      throw new VpnError(
        'ERR_CONFIG',
        `prefix length of ${JSON.stringify(c.slice(0, 64))}: 1..${bits} (a /0 would exclude everything)`,
      );
    return `${formatIpAddress(prefixToRange(addr, len).start)}/${len}`;
  });
}
