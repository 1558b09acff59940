/**
 * Host configuration steps of the tunnel driver, on a `HostNetwork` (the NetConfigurator in
 * production, an in-memory recorder in tests): the TUN MTU that fits the path, the kill switch,
 * and the routes for the gateway's traffic selectors.
 */
import { isIP } from 'node:net';
import { parseIpAddress } from '../core/ip.js';
import type { Logger } from '../core/log.js';
import type { TrafficSelectorRange } from '../esp/policy.js';
import type { TrafficSelector } from '../ike/codec/index.js';
import type { HostNetwork } from './io.js';
import { cidrContainsBytes } from './routes.js';

/** Default TUN MTU: 1500 − IPv4(20) − UDP(8) − ESP hdr(8) − IV(8) − pad/trailer(≤5) − ICV(16), rounded down to 4. */
export const DEFAULT_MTU = 1432;
/** ESP header (8) + IV (8) + worst-case padding and trailer (5) + ICV (16) + 3 to round. */
const ESP_OVERHEAD = 40;

/**
 * The TUN MTU when none is given: what fits in one packet of the link towards the gateway after
 * the outer IP, UDP and ESP overhead (so ESP packets are never IP-fragmented), at most
 * DEFAULT_MTU (a 1500-byte path).
 */
export async function defaultMtu(
  netcfg: HostNetwork,
  gateway: string,
  log: Logger,
): Promise<number> {
  const v6 = gateway.includes(':');
  const overhead = (v6 ? 40 : 20) + 8 + ESP_OVERHEAD;
  try {
    const r = await netcfg.getRouteTo(gateway);
    const link = await netcfg.linkMtu(r.dev);
    if (link === undefined) return DEFAULT_MTU;
    const fit = Math.floor((link - overhead) / 4) * 4;
    if (fit < DEFAULT_MTU) log.info('tun', `link ${r.dev} has MTU ${link}: TUN MTU ${fit}`);
    return Math.max(576, Math.min(DEFAULT_MTU, fit));
  } catch {
    return DEFAULT_MTU;
  }
}

/**
 * Blocks everything but the path to the gateway before IKE starts: the gateway keeps its host
 * route; the rest of IPv4 and IPv6 hits `unreachable` routes until tunnel routes cover it.
 */
export async function installKillSwitch(
  netcfg: HostNetwork,
  gateway: string,
  log: Logger,
): Promise<void> {
  await netcfg.addHostRouteVia(gateway);
  await netcfg.addBlockRoute('0.0.0.0/1');
  await netcfg.addBlockRoute('128.0.0.0/1');
  try {
    await netcfg.addBlockRoute('::/1');
    await netcfg.addBlockRoute('8000::/1');
  } catch (e) {
    // No IPv6 on this host: nothing can leak over it.
    log.debug('tun', `kill switch: no IPv6 routes (${(e as Error).message})`);
  }
  log.info('tun', 'kill switch on: traffic outside the tunnel is blocked');
}

/**
 * Routes for the remote selectors. A default route is split into 0.0.0.0/1 + 128.0.0.0/1 (so
 * the original default stays for restore), and the gateway keeps a host route via the original
 * path whenever it falls inside a tunnelled network. With `keepExisting` (not with the kill
 * switch, which must block them), a full tunnel leaves the connections opened before it on their
 * old path (`addBypass`): without that, their packets, whose source is the uplink's address and
 * not the virtual IP, would enter the TUN device and be dropped there (no selector covers them,
 * RFC 4301 §5.1), and e.g. a CI runner's own connection to its service would hang.
 */
export async function installRoutes(
  netcfg: HostNetwork,
  cidrs: string[],
  dev: string,
  src: string | undefined,
  gateway: string,
  keepExisting = false,
  exclude: readonly string[] = [],
): Promise<void> {
  // --exclude: each network keeps the path it has now (looked up before our routes exist), as a
  // route more specific than the tunnel's /1 halves or the pushed networks.
  for (const c of exclude) {
    const path = await netcfg.getRouteTo(c.slice(0, c.indexOf('/')));
    if (path.dev === dev) continue; // already inside the tunnel (a reconnect): nothing to keep
    try {
      await netcfg.addRoute(
        c,
        path.via !== undefined ? { dev: path.dev, via: path.via } : { dev: path.dev },
      );
    } catch (e) {
      if (!/File exists/i.test((e as Error).message)) throw e; // kept from an earlier connect
    }
  }
  const expanded: string[] = [];
  for (const c of cidrs) {
    if (c === '0.0.0.0/0') expanded.push('0.0.0.0/1', '128.0.0.0/1');
    else if (c === '::/0') expanded.push('::/1', '8000::/1');
    else expanded.push(c);
  }
  if (expanded.some((c) => cidrContains(c, gateway))) {
    await netcfg.addHostRouteVia(gateway);
  }
  if (keepExisting && netcfg.addBypass) {
    for (const v6 of [false, true]) {
      if (!cidrs.includes(v6 ? '::/0' : '0.0.0.0/0')) continue;
      const path = await netcfg.defaultPath(v6, dev);
      if (!path) continue; // no default route of that family: no connection to keep
      let from = path.src;
      if (from === undefined && gateway.includes(':') === v6) {
        from = (await netcfg.getRouteTo(gateway)).src;
      }
      if (from !== undefined) {
        await netcfg.addBypass(
          from,
          path.via !== undefined ? { dev: path.dev, via: path.via } : { dev: path.dev },
        );
      }
    }
  }
  await netcfg.addRoutes(expanded, { dev, ...(src ? { src } : {}) }); // one ip -batch per family
}

export function toRange(ts: TrafficSelector): TrafficSelectorRange {
  return {
    startAddr: ts.startAddr,
    endAddr: ts.endAddr,
    protocol: ts.ipProtocol,
    startPort: ts.startPort,
    endPort: ts.endPort,
  };
}

function cidrContains(cidr: string, ip: string): boolean {
  const [net, len] = cidr.split('/');
  if (!net || len === undefined || isIP(net) !== isIP(ip)) return false;
  return cidrContainsBytes(parseIpAddress(net), Number(len), parseIpAddress(ip));
}
