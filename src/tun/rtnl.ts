/**
 * rtnetlink from the TUN addon (native/netlink.c): the host changes of netcfg.ts — link MTU and
 * state, addresses, routes, rules, route lookups — as one netlink request each, acknowledged by
 * the kernel, instead of one `ip` process each (10-40 ms apiece on a loaded host: most of the
 * connect time after IKE, docs/performance.md "Connect time and memory").
 *
 * Used by a NetConfigurator that runs in this process's own network namespace (no command runner
 * injected); `VPN_NETLINK=0` in the environment, a runner of its own (tests, `ip netns exec`), or
 * an addon built before netlink.c existed keep the `ip` path. Errors are VpnError('ERR_NETCFG')
 * quoting the kernel's answer in iproute2's words ("File exists", "No such process"), so callers
 * and the undo journal's "already gone" test read both paths alike.
 */
import { createRequire } from 'node:module';
import { VpnError } from '../core/errors.js';
import { addonCandidates } from '../native/addons.js';
import type { JournalEntry } from './journal.js';

/** The netlink exports of the tun addon (see the comment at the top of native/netlink.c). */
export interface RtNetlink {
  rtGetLink(dev: string): { index: number; mtu: number; up: boolean } | null;
  rtSetLink(dev: string, mtu: number, up: number): void;
  rtAddr(add: boolean, dev: string, address: string, prefixLen: number): void;
  rtRoute(
    op: 'add' | 'replace' | 'del',
    dst: string,
    prefixLen: number,
    dev: string | null,
    via: string | null,
    src: string | null,
    metric: number,
    table: number,
    unreachable: boolean,
  ): void;
  rtRouteGet(address: string): { dev: string; via?: string; src?: string };
  rtRule(add: boolean, from: string, table: number, priority: number, suppress: number): void;
  rtDefaultRoutes(v6: boolean): { dev: string; via?: string; src?: string; metric: number }[];
}

let addon: Record<string, unknown> | null | undefined;

/** The TUN addon with the netlink functions (any of its candidates that has them), or null. */
function netlinkAddon(): Record<string, unknown> | null {
  if (addon !== undefined) return addon;
  addon = null;
  const req = createRequire(import.meta.url);
  for (const c of addonCandidates('tun')) {
    try {
      const a = req(c.path) as Record<string, unknown>;
      if (typeof a['rtRoute'] === 'function' && typeof a['rtDefaultRoutes'] === 'function') {
        addon = a;
        break;
      }
    } catch {
      // the next candidate; none: the `ip` path
    }
  }
  return addon;
}

/**
 * The addon's netlink functions, or undefined (no addon, an addon without them, or
 * `VPN_NETLINK=0`). Loaded once per process; never throws.
 */
export function rtNetlink(): RtNetlink | undefined {
  if (process.env['VPN_NETLINK'] === '0') return undefined;
  return (netlinkAddon() as RtNetlink | null) ?? undefined;
}

/** Another function of the same addon taking one number (redirectOutput), or undefined. */
export function tunAddonFunction(name: 'redirectOutput'): ((fd: number) => void) | undefined {
  const f = netlinkAddon()?.[name];
  return typeof f === 'function' ? (f as (fd: number) => void) : undefined;
}

/** Runs one netlink call; its error becomes ERR_NETCFG naming the change (`what`). */
export function nl<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new VpnError('ERR_NETCFG', `${what}: ${(e as Error).message}`, { cause: e });
  }
}

/** "10.0.0.0/8" → ["10.0.0.0", 8] (the CIDR was checked by the caller). */
export function splitCidr(cidr: string): [string, number] {
  const i = cidr.indexOf('/');
  return [cidr.slice(0, i), Number(cidr.slice(i + 1))];
}

/** A routing table name as netcfg.ts journals it ('main' or a number) → its number. */
export function tableId(table: string | undefined): number {
  return table === undefined || table === 'main' ? 254 : Number(table);
}

/** A route add/replace/del over rtnetlink (the selector was checked by routeSelector). */
export function nlRoute(
  rt: RtNetlink,
  op: 'add' | 'replace' | 'del',
  r: Extract<JournalEntry, { kind: 'route' }>,
  src?: string,
): void {
  const [dst, len] = splitCidr(r.dest);
  const verb = op === 'del' ? 'deleting' : op === 'add' ? 'adding' : 'replacing';
  nl(`${verb} the route ${r.dest} dev ${r.dev}`, () =>
    rt.rtRoute(
      op,
      dst,
      len,
      r.dev,
      r.via ?? null,
      src ?? null,
      r.metric ?? -1,
      tableId(r.table),
      false,
    ),
  );
}

export function nlRule(
  rt: RtNetlink,
  add: boolean,
  r: Extract<JournalEntry, { kind: 'rule' }>,
): void {
  nl(`${add ? 'adding' : 'deleting'} the rule from ${r.from} lookup ${r.table}`, () =>
    rt.rtRule(add, r.from, tableId(r.table), r.priority, r.suppress ?? -1),
  );
}

/**
 * Undoes a link, address, route or rule entry over rtnetlink; false for the DNS entries (their
 * tools run as before). Throws ERR_NETCFG in iproute2's words ("No such process"...), which
 * `isGone` reads as already undone.
 */
export function nlUndo(rt: RtNetlink, e: JournalEntry): boolean {
  switch (e.kind) {
    case 'addr': {
      const [a, len] = splitCidr(e.cidr);
      nl(`deleting ${e.cidr} from ${e.dev}`, () => rt.rtAddr(false, e.dev, a, len));
      return true;
    }
    case 'mtu':
      nl(`setting the MTU of ${e.dev}`, () => rt.rtSetLink(e.dev, e.old, -1));
      return true;
    case 'up':
      nl(`taking ${e.dev} down`, () => rt.rtSetLink(e.dev, 0, 0));
      return true;
    case 'route':
      nlRoute(rt, 'del', e);
      return true;
    case 'block': {
      const [a, len] = splitCidr(e.dest);
      nl(`deleting the unreachable route ${e.dest}`, () =>
        rt.rtRoute('del', a, len, null, null, null, e.metric, -1, true),
      );
      return true;
    }
    case 'rule':
      nlRule(rt, false, e);
      return true;
    case 'dns-file':
    case 'dns-resolvectl':
    case 'dns-resolvconf':
      return false;
  }
}

/** The main table's default routes of a family, in the shape `ip -j route show default` has. */
export function nlDefaultRoutes(
  rt: RtNetlink,
  v6: boolean,
): { dev: string; gateway?: string; metric: number; prefsrc?: string }[] {
  return rt.rtDefaultRoutes(v6).map((r) => ({
    dev: r.dev,
    metric: r.metric,
    ...(r.via ? { gateway: r.via } : {}),
    ...(r.src ? { prefsrc: r.src } : {}),
  }));
}
