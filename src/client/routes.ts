/**
 * Converting traffic-selector address ranges into the CIDR prefixes routes need. A selector
 * range need not be a prefix (RFC 7296 §3.13.1 allows any start..end), so it is covered by the
 * minimal list of prefixes.
 */
import { formatIpAddress, parseIpAddress } from '../core/ip.js';

function toBig(b: Uint8Array): bigint {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

function fromBig(v: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** Minimal CIDR cover of [start, end] (inclusive); both 4 or both 16 bytes. */
export function rangeToCidrs(start: Uint8Array, end: Uint8Array): string[] {
  if (start.length !== end.length) return [];
  const bits = start.length * 8;
  let lo = toBig(start);
  const hi = toBig(end);
  const out: string[] = [];
  while (lo <= hi) {
    // Largest block aligned at lo that fits within [lo, hi].
    let size = 0;
    while (size < bits) {
      const next = 1n << BigInt(size + 1);
      if (lo % next !== 0n || lo + next - 1n > hi) break;
      size++;
    }
    out.push(`${formatIpAddress(fromBig(lo, start.length))}/${bits - size}`);
    lo += 1n << BigInt(size);
  }
  return out;
}

/** Is `ip` (4 or 16 bytes) inside the prefix `cidr`? */
export function cidrContainsBytes(net: Uint8Array, prefix: number, ip: Uint8Array): boolean {
  if (net.length !== ip.length) return false;
  const bits = net.length * 8;
  const shift = BigInt(bits - prefix);
  return toBig(net) >> shift === toBig(ip) >> shift;
}

/** Most routes installed for the remote traffic selectors (finding 6): the rest are dropped. */
export const MAX_TUNNEL_ROUTES = 200;

/** Most host routes added for DNS servers whose prefix the route cap left out. */
const MAX_DNS_HOST_ROUTES = 16;

/** The part of a traffic selector the host's routes and DNS care about (RFC 7296 §3.13.1). */
export interface SelectorRange {
  ipProtocol: number;
  startPort: number;
  endPort: number;
  startAddr: Uint8Array;
  endAddr: Uint8Array;
}

/** What to install on the host for the remote selectors (`planTunnelRoutes`). */
export interface TunnelRoutePlan {
  /** Prefixes to route into the tunnel (at most `max`, plus host routes for the DNS servers). */
  routes: string[];
  /** Prefixes left out because of the cap. */
  droppedRoutes: number;
  /** DNS servers we may use: inside the remote selectors, so their queries go through the tunnel. */
  dns: string[];
  /** DNS servers the selectors do not cover (their queries would leave in clear): not used. */
  droppedDns: string[];
  /** One line per thing left out, for a warning. */
  warnings: string[];
}

/**
 * Plans the routes and DNS servers for the remote traffic selectors (pure).
 * - Routes: the minimal CIDR cover of every selector range, at most `max` of them (finding 6);
 *   the count of those left out goes into a warning.
 * - DNS (finding 7): a server is used only when a remote selector covers it for UDP port 53 —
 *   then its queries are routed into the tunnel (a host route is added if the cap left its
 *   prefix out); a server outside the selectors (e.g. with --remote-net) would be reached in
 *   clear, so it is not used, and a warning says so.
 */
export function planTunnelRoutes(
  selectors: SelectorRange[],
  dnsServers: string[],
  max = MAX_TUNNEL_ROUTES,
): TunnelRoutePlan {
  const routes: string[] = [];
  const seen = new Set<string>();
  let dropped = 0;
  for (const ts of selectors) {
    for (const c of rangeToCidrs(ts.startAddr, ts.endAddr)) {
      if (seen.has(c)) continue;
      seen.add(c);
      if (routes.length < max) routes.push(c);
      else dropped++;
    }
  }
  const warnings: string[] = [];
  if (dropped > 0) {
    warnings.push(
      `the gateway's traffic selectors need ${routes.length + dropped} routes; only the first ${max} were installed (${dropped} dropped)`,
    );
  }
  const dns: string[] = [];
  const droppedDns: string[] = [];
  let hostRoutes = 0;
  for (const s of dnsServers) {
    let ip: Uint8Array;
    try {
      ip = parseIpAddress(s);
    } catch {
      droppedDns.push(s);
      continue;
    }
    const covered = selectors.some(
      (ts) =>
        (ts.ipProtocol === 0 || ts.ipProtocol === 17) &&
        ts.startPort <= 53 &&
        53 <= ts.endPort &&
        inRange(ip, ts.startAddr, ts.endAddr),
    );
    if (!covered) {
      droppedDns.push(s);
      continue;
    }
    const routed = routes.some((c) => {
      const [net, len] = c.split('/');
      return cidrContainsBytes(parseIpAddress(net!), Number(len), ip);
    });
    if (!routed) {
      // Its prefix fell to the cap: a host route, a bounded number of times.
      if (hostRoutes >= MAX_DNS_HOST_ROUTES) {
        droppedDns.push(s);
        continue;
      }
      hostRoutes++;
      routes.push(`${s}/${ip.length === 4 ? 32 : 128}`);
    }
    dns.push(s);
  }
  if (droppedDns.length > 0) {
    warnings.push(
      `not using the gateway's DNS server${droppedDns.length > 1 ? 's' : ''} ${droppedDns.slice(0, 8).join(', ')}${droppedDns.length > 8 ? ` and ${droppedDns.length - 8} more` : ''}: outside the tunnel's routed traffic selectors, queries would leave unencrypted`,
    );
  }
  return { routes, droppedRoutes: dropped, dns, droppedDns, warnings };
}

function inRange(ip: Uint8Array, start: Uint8Array, end: Uint8Array): boolean {
  if (ip.length !== start.length || ip.length !== end.length) return false;
  const v = toBig(ip);
  return toBig(start) <= v && v <= toBig(end);
}
