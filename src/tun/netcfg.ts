/**
 * Host network configuration for the tunnel — MTU, link state, addresses, routes and DNS —
 * through iproute2 (`ip`, run with execFile, never a shell) and the system's DNS tool, with an
 * undo journal so that every change is taken back, in reverse order, on every exit path.
 *
 * The journal is also kept on disk (`journalPath`), so a later run can undo what a killed process
 * (kill -9, OOM) left behind (`NetConfigurator.recover`). What needs that: routes through other
 * devices (the host route to the VPN gateway), DNS settings and a rewritten resolv.conf. What
 * does not: the TUN device vanishes with its process, and with it its addresses and routes.
 *
 * Every undo step is idempotent — safe to replay after a crash even if it already ran or the
 * change never happened: "already gone" (no such device, route or address) counts as success.
 * An entry is written only after its change succeeded (a route that already existed is not ours
 * and is never deleted); the exceptions are resolv.conf, whose backup is taken and journaled
 * before the file is rewritten, and systemd-resolved's settings of our TUN link (reverting them
 * is harmless when none were made).
 *
 * The journal lives in a private runtime directory, but it is still read as hostile input: before
 * a single step is replayed the file itself is checked (a regular file of ours, mode 0600, size
 * bound) and every entry is checked against what this module could have written (our TUN device,
 * routes and addresses we add, the resolv.conf we manage, our own backup path). One bad entry and
 * the whole journal is refused, with nothing run.
 */
import { execFile } from 'node:child_process';
import { renameSync, rmSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname } from 'node:path';
import { ensurePrivateDir } from '../config/load.js';
import { VpnError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { NOOP_LOGGER } from '../core/log.js';
import {
  BYPASS_PRIORITY,
  BYPASS_TABLE,
  isAlive,
  MAX_ROUTES,
  dnsBackupPath,
  isCidr,
  isDevName,
  isU32,
  netnsKey,
  readJournal,
  safeJson,
  writeExclusive,
} from './journal.js';
import type { JournalContext, JournalEntry, JournalFile } from './journal.js';
import { configureDns, isBackend, undoDns } from './dns.js';
import { nl, nlDefaultRoutes, nlRoute, nlRule, nlUndo, rtNetlink, splitCidr } from './rtnl.js';
import type { RtNetlink } from './rtnl.js';
import type { DnsBackend, DnsContext, DnsOptions, DnsResult } from './dns.js';

export { resolvConfText } from './dns.js';
export type { DnsBackend, DnsOptions, DnsResult } from './dns.js';

export {
  DEFAULT_TUN_PATTERN,
  MAX_JOURNAL_ENTRIES,
  MAX_ROUTES,
  describeEntry,
  dnsBackupPath,
  netnsKey,
  readJournal,
  validateJournal,
} from './journal.js';
export type { JournalContext, JournalEntry, JournalRead } from './journal.js';

/**
 * Runs a program without a shell, `input` (if any) on its stdin; rejects (message = stderr) when
 * it exits non-zero.
 */
export type CommandRunner = (
  cmd: string,
  args: string[],
  input?: string,
) => Promise<{ stdout: string }>;

/** `execFile` with a 10 s timeout; errors are `VpnError('ERR_NETCFG')` quoting the command. */
export const defaultRunner: CommandRunner = (cmd, args, input) =>
  new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      { timeout: 10000, maxBuffer: 4 << 20 },
      (err, stdout, stderr) => {
        if (err) {
          const msg = stderr.trim() || err.message;
          reject(new VpnError('ERR_NETCFG', `${cmd} ${args.join(' ')}: ${msg}`, { cause: err }));
        } else resolve({ stdout });
      },
    );
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input ?? '');
  });

export interface NetConfiguratorOptions {
  /** Command runner (tests inject one; tests in a namespace wrap `ip netns exec`). */
  run?: CommandRunner;
  logger?: Logger;
  /** Where the journal lives on disk for crash recovery, e.g. /run/ikev2-vpn/vpn.journal. */
  journalPath?: string;
  /** How DNS is configured; default: `VPN_DNS_BACKEND` from the environment, else 'auto'. */
  dnsBackend?: DnsBackend;
  /** The resolv.conf managed in 'file' mode (default /etc/resolv.conf). */
  resolvConf?: string;
  /**
   * rtnetlink for routes, addresses and links instead of `ip` processes (rtnl.ts). Default: the
   * TUN addon's, when no `run` is given (a runner of its own may work in another namespace);
   * false: always `ip`.
   */
  netlink?: RtNetlink | false;
}

/** Options of `addRoute`. */
export interface RouteOptions {
  dev: string;
  /** Next hop; omitted for on-link routes (e.g. into the TUN device). */
  via?: string;
  /** Preferred source address for locally generated packets. */
  src?: string;
  metric?: number;
  /** Routing table name or number (default: main). */
  table?: string;
}

/** How the kernel reaches an address now (`ip -j route get`). */
export interface RouteInfo {
  dev: string;
  via?: string;
  src?: string;
}

export class NetConfigurator {
  private readonly run: CommandRunner;
  /** rtnetlink (rtnl.ts) for links, addresses, routes and rules; undefined: `ip` processes. */
  private readonly nl: RtNetlink | undefined;
  private readonly log: Logger;
  private readonly journalPath: string | undefined;
  private readonly dnsBackend: DnsBackend;
  private readonly resolvConf: string;
  private readonly entries: JournalEntry[] = [];
  /** Where 'file' mode keeps the original resolv.conf (`dnsBackupPath`). */
  private readonly backupPath: string | undefined;

  constructor(opts: NetConfiguratorOptions = {}) {
    this.run = opts.run ?? defaultRunner;
    this.nl =
      opts.netlink === false ? undefined : (opts.netlink ?? (opts.run ? undefined : rtNetlink()));
    this.log = opts.logger ?? NOOP_LOGGER;
    this.journalPath = opts.journalPath;
    const env = process.env['VPN_DNS_BACKEND'];
    this.dnsBackend = opts.dnsBackend ?? (isBackend(env) ? env : 'auto');
    this.resolvConf = opts.resolvConf ?? '/etc/resolv.conf';
    this.backupPath = this.journalPath ? dnsBackupPath(this.journalPath) : undefined;
  }

  /** A copy of the changes not yet undone, oldest first. */
  journal(): JournalEntry[] {
    return this.entries.map((e) => ({ ...e }));
  }

  private record(...e: JournalEntry[]): void {
    this.entries.push(...e);
    this.persist();
  }

  /**
   * Rewrites the journal file atomically (temp file + rename); removes it when empty. The
   * directory must be private (checked every time) and the temp file is created exclusively,
   * never through a symbolic link.
   */
  private persist(): void {
    if (!this.journalPath) return;
    if (this.entries.length === 0) {
      rmSync(this.journalPath, { force: true });
      return;
    }
    ensurePrivateDir(dirname(this.journalPath), 'runtime directory');
    const file: JournalFile = {
      version: 2,
      pid: process.pid,
      netns: netnsKey(),
      entries: this.entries,
    };
    const tmp = `${this.journalPath}.tmp`;
    writeExclusive(tmp, JSON.stringify(file) + '\n');
    renameSync(tmp, this.journalPath);
  }

  /**
   * The state setMtu just read and set, for the setUp that follows it at connect (tunnel.ts):
   * one `ip link show` process less (an `ip` exec costs 10-40 ms of connect time on a loaded
   * host). Taken once and forgotten, so it never stands for a state read long ago.
   */
  private readonly linkKnown = new Map<string, { mtu: number; up: boolean }>();

  /** `ip -j link show dev X`: MTU and whether the link is administratively up. */
  private async linkState(dev: string): Promise<{ mtu: number; up: boolean } | undefined> {
    if (this.nl) {
      try {
        const l = this.nl.rtGetLink(dev);
        return l ? { mtu: l.mtu, up: l.up } : undefined;
      } catch {
        return undefined;
      }
    }
    try {
      const { stdout } = await this.run('ip', ['-j', 'link', 'show', 'dev', dev]);
      const l = (JSON.parse(stdout) as { mtu?: number; flags?: string[] }[])[0];
      if (typeof l?.mtu !== 'number') return undefined;
      return { mtu: l.mtu, up: l.flags?.includes('UP') === true };
    } catch {
      return undefined;
    }
  }

  /** The MTU of `dev`, or undefined if it cannot be read. */
  async linkMtu(dev: string): Promise<number | undefined> {
    return (await this.linkState(dev))?.mtu;
  }

  /** Sets the MTU of `dev`; the old value is journaled when it changes. */
  async setMtu(dev: string, mtu: number): Promise<void> {
    checkDev(dev);
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
      throw new VpnError('ERR_NETCFG', `invalid MTU ${String(mtu)}`);
    }
    const before = await this.linkState(dev);
    if (this.nl) nl(`setting the MTU of ${dev}`, () => this.nl!.rtSetLink(dev, mtu, -1));
    else await this.run('ip', ['link', 'set', 'dev', dev, 'mtu', String(mtu)]);
    if (before && before.mtu !== mtu) this.record({ kind: 'mtu', dev, old: before.mtu });
    if (before) this.linkKnown.set(dev, { mtu, up: before.up });
  }

  /** Brings `dev` up; journaled (undo: down) when it was down. */
  async setUp(dev: string): Promise<void> {
    checkDev(dev);
    const known = this.linkKnown.get(dev);
    this.linkKnown.delete(dev);
    const before = known ?? (await this.linkState(dev));
    if (this.nl) nl(`bringing ${dev} up`, () => this.nl!.rtSetLink(dev, 0, 1));
    else await this.run('ip', ['link', 'set', 'dev', dev, 'up']);
    if (before && !before.up) this.record({ kind: 'up', dev });
  }

  /** Adds an address (`cidr`, e.g. "10.0.0.2/32" or "fd00::2/128") to `dev`. */
  async addAddress(dev: string, cidr: string): Promise<void> {
    checkDev(dev);
    checkCidr(cidr);
    if (this.nl) {
      const [a, len] = splitCidr(cidr);
      nl(`adding ${cidr} to ${dev}`, () => this.nl!.rtAddr(true, dev, a, len));
    } else await this.run('ip', ['addr', 'add', cidr, 'dev', dev]);
    this.record({ kind: 'addr', dev, cidr });
  }

  /**
   * Adds a route to `dest` (CIDR). Fails if an identical route exists (it is not ours to undo).
   * For a default route through the tunnel use 0.0.0.0/1 + 128.0.0.0/1 (::/1 + 8000::/1), which
   * win over the original default by prefix length and leave it untouched.
   */
  async addRoute(dest: string, opts: RouteOptions): Promise<void> {
    const sel = routeSelector(dest, opts);
    if (this.nl) {
      nlRoute(this.nl, 'add', sel, opts.src);
    } else {
      const args = routeArgs('add', sel);
      if (opts.src !== undefined) args.push('src', opts.src);
      await this.run('ip', args);
    }
    this.record(sel);
  }

  /**
   * Adds many routes through `opts.dev` with one `ip -batch -` per address family (finding 6:
   * not one process per route). Every value is checked strictly first — a batch line is split on
   * spaces, so nothing from the network may carry one. At most `MAX_ROUTES` routes per
   * configurator. On a failure, the routes before the failing line are journaled (they are ours)
   * and the error is thrown.
   */
  async addRoutes(dests: string[], opts: RouteOptions): Promise<void> {
    const have = this.entries.filter((e) => e.kind === 'route').length;
    if (have + dests.length > MAX_ROUTES) {
      throw new VpnError(
        'ERR_NETCFG',
        `refusing to add ${dests.length} routes: at most ${MAX_ROUTES} per tunnel`,
      );
    }
    const sels = dests.map((d) => routeSelector(d, opts));
    if (this.nl) {
      // One acknowledged request per route, each journaled once the kernel took it.
      for (const r of sels) {
        nlRoute(this.nl, 'add', r, r.dest.includes(':') ? undefined : opts.src);
        this.record(r);
      }
      return;
    }
    for (const v6 of [false, true]) {
      const fam = sels.filter((r) => r.dest.includes(':') === v6);
      if (fam.length === 0) continue;
      const lines = fam.map((r) => {
        const a = routeArgs('add', r).filter((x) => x !== '-6');
        if (opts.src !== undefined && !v6) a.push('src', opts.src);
        return a.join(' ');
      });
      try {
        await this.run('ip', [v6 ? '-6' : '-4', '-batch', '-'], lines.join('\n') + '\n');
      } catch (e) {
        // Without -force, ip stops at the first failing line: the ones before it are in place.
        const m = /Command failed -:(\d+)/.exec((e as Error).message);
        const done = m ? Math.min(Number(m[1]) - 1, fam.length) : 0;
        if (done > 0) this.record(...fam.slice(0, done));
        throw e;
      }
      this.record(...fam);
    }
  }

  /**
   * Kill switch: an `unreachable` route for `dest` with a high metric. Our tunnel routes (metric 0)
   * win while they exist; whenever they do not (while connecting, or for destinations outside the
   * traffic selectors) packets fail with "network unreachable" instead of leaving unprotected.
   */
  async addBlockRoute(dest: string, metric = 1000): Promise<void> {
    checkCidr(dest);
    if (!isU32(metric)) throw new VpnError('ERR_NETCFG', `invalid metric ${metric}`);
    if (this.nl) {
      const [a, len] = splitCidr(dest);
      nl(`adding the unreachable route ${dest}`, () =>
        this.nl!.rtRoute('add', a, len, null, null, null, metric, -1, true),
      );
    } else await this.run('ip', blockArgs('add', dest, metric));
    this.record({ kind: 'block', dest, metric });
  }

  /** How the kernel reaches `ip` right now (`ip -j route get`). */
  async getRouteTo(ip: string): Promise<RouteInfo> {
    if (isIP(ip) === 0) throw new VpnError('ERR_NETCFG', `invalid address ${safeJson(ip)}`);
    if (this.nl) {
      const g = nl(`looking up the route to ${ip}`, () => this.nl!.rtRouteGet(ip));
      const out: RouteInfo = { dev: g.dev };
      if (g.via) out.via = g.via;
      if (g.src) out.src = g.src;
      return out;
    }
    const { stdout } = await this.run('ip', ['-j', 'route', 'get', ip]);
    let r: { dev?: string; gateway?: string; prefsrc?: string } | undefined;
    try {
      r = (JSON.parse(stdout) as (typeof r)[])[0];
    } catch {
      throw new VpnError('ERR_NETCFG', `cannot parse "ip -j route get ${ip}" output`);
    }
    if (!r?.dev) throw new VpnError('ERR_NETCFG', `no route to ${ip}`);
    const out: RouteInfo = { dev: r.dev };
    if (r.gateway) out.via = r.gateway;
    if (r.prefsrc) out.src = r.prefsrc;
    return out;
  }

  /**
   * Pins a host route to `dest` (the VPN gateway) through `gateway`/`dev` — by default through
   * the path the kernel uses now — so routing everything into the tunnel does not capture the
   * tunnel's own packets. A host route that is already there is left alone (and not journaled).
   */
  async addHostRouteVia(dest: string, gateway?: string, dev?: string): Promise<void> {
    let path: RouteInfo;
    if (dev !== undefined) path = gateway !== undefined ? { dev, via: gateway } : { dev };
    else path = await this.getRouteTo(dest);
    const host = dest.includes(':') ? `${dest}/128` : `${dest}/32`;
    try {
      await this.addRoute(
        host,
        path.via !== undefined ? { dev: path.dev, via: path.via } : { dev: path.dev },
      );
    } catch (e) {
      if (!/File exists/i.test((e as Error).message)) throw e;
      this.log.debug('tun', `host route to ${dest} already present; keeping it`);
    }
  }

  /**
   * Full tunnel: keeps the connections opened before it on the path they had. Packets from `src`
   * (the uplink address those connections use) look up the main table without its /0 and /1
   * routes (`suppress_prefixlength 1`: our split default and the old default are skipped, host
   * and on-link routes still apply), then table BYPASS_TABLE, which holds only the original
   * default route `path`. New connections get the virtual IP as their source from the tunnel's
   * routes, so no rule matches them: they go through the tunnel. A table route that is already
   * there (another full tunnel) is left alone and not journaled.
   */
  async addBypass(src: string, path: RouteInfo): Promise<void> {
    const fam = isIP(src);
    if (fam === 0) throw new VpnError('ERR_NETCFG', `invalid source address ${safeJson(src)}`);
    const v6 = fam === 6;
    const opts: RouteOptions = { dev: path.dev, table: String(BYPASS_TABLE) };
    if (path.via !== undefined) opts.via = path.via;
    try {
      await this.addRoute(v6 ? '::/0' : '0.0.0.0/0', opts);
    } catch (e) {
      if (!/File exists/i.test((e as Error).message)) throw e;
    }
    const rules: Extract<JournalEntry, { kind: 'rule' }>[] = [
      { kind: 'rule', from: src, table: 'main', priority: BYPASS_PRIORITY, suppress: 1 },
      { kind: 'rule', from: src, table: String(BYPASS_TABLE), priority: BYPASS_PRIORITY + 1 },
    ];
    for (const r of rules) {
      if (this.nl) nlRule(this.nl, true, r);
      else await this.run('ip', ruleArgs('add', r));
      this.record(r);
    }
  }

  /**
   * The default route the host would use for `family` without the tunnel: the main table's
   * default with the lowest metric, ignoring `exclude` (our TUN device). Undefined when offline.
   */
  async defaultPath(v6: boolean, exclude?: string): Promise<RouteInfo | undefined> {
    let routes: { dev?: string; gateway?: string; metric?: number; prefsrc?: string }[];
    try {
      const args = [v6 ? '-6' : '-4', '-j', 'route', 'show', 'default'];
      routes = this.nl
        ? nlDefaultRoutes(this.nl, v6)
        : (JSON.parse((await this.run('ip', args)).stdout) as typeof routes);
    } catch {
      return undefined;
    }
    const best = routes
      .filter((r) => r.dev !== undefined && r.dev !== exclude)
      .sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0))[0];
    if (!best?.dev) return undefined;
    const out: RouteInfo = { dev: best.dev };
    if (best.gateway) out.via = best.gateway;
    if (best.prefsrc) out.src = best.prefsrc;
    return out;
  }

  /** The path of the host route to `dest` we pinned (addHostRouteVia), if any. */
  pinnedPath(dest: string): RouteInfo | undefined {
    const host = dest.includes(':') ? `${dest}/128` : `${dest}/32`;
    const e = this.entries.find((x) => x.kind === 'route' && x.dest === host);
    if (e?.kind !== 'route') return undefined;
    return e.via !== undefined ? { dev: e.dev, via: e.via } : { dev: e.dev };
  }

  /**
   * Moves our pinned host route to `dest` onto `path` (the network changed under the tunnel:
   * RFC 4555 roaming) and updates the journal so the new route is the one undone.
   */
  async repinHostRoute(dest: string, path: RouteInfo): Promise<boolean> {
    const host = dest.includes(':') ? `${dest}/128` : `${dest}/32`;
    const e = this.entries.find((x) => x.kind === 'route' && x.dest === host);
    if (e?.kind !== 'route') return false;
    const sel = routeSelector(
      host,
      path.via !== undefined ? { dev: path.dev, via: path.via } : { dev: path.dev },
    );
    if (this.nl) nlRoute(this.nl, 'replace', sel);
    else await this.run('ip', routeArgs('replace', sel));
    e.dev = sel.dev;
    if (sel.via !== undefined) e.via = sel.via;
    else delete e.via;
    this.persist();
    return true;
  }

  /** Points the resolver at `servers` while the tunnel is up: see `configureDns` (dns.ts). */
  async setDns(
    dev: string,
    servers: string[],
    domains: string[],
    opts: DnsOptions = {},
  ): Promise<DnsResult | undefined> {
    const ctx: DnsContext = {
      run: this.run,
      log: this.log,
      dnsBackend: this.dnsBackend,
      resolvConf: this.resolvConf,
      backupPath: this.backupPath,
      entries: this.entries,
      record: (...e) => this.record(...e),
    };
    return configureDns(ctx, dev, servers, domains, opts);
  }

  /**
   * Undoes every change in reverse order. Best effort: a failing step is logged and collected,
   * the remaining steps still run, and the promise resolves with the failures (empty when all
   * went well). It never rejects.
   */
  async restore(): Promise<string[]> {
    const errors: string[] = [];
    while (this.entries.length > 0) {
      // Routes and addresses go in one `ip -batch` (per family), the rest one step at a time.
      const n = batchableTail(this.entries);
      const steps = this.entries.slice(this.entries.length - Math.max(n, 1)).reverse();
      errors.push(...(await undoAll(steps, this.run, this.nl)));
      this.entries.length -= steps.length;
      try {
        this.persist();
      } catch (err) {
        errors.push(`journal ${this.journalPath ?? ''}: ${(err as Error).message}`);
      }
    }
    if (errors.length > 0) {
      this.log.warn('tun', `some settings could not be restored: ${errors.join('; ')}`);
    }
    return errors;
  }

  /**
   * Replays the journal at `journalPath` left by a process that could not clean up (kill -9,
   * power loss), then deletes it — only after `readJournal` checked the directory, the file and
   * every entry (one bad entry: the whole journal is refused and nothing runs). A journal whose
   * owner is still running is left alone unless `force`. Returns true when there was something
   * to undo.
   * @throws VpnError ERR_PRIVILEGE / ERR_NETCFG when the journal is refused.
   */
  static async recover(
    journalPath: string,
    run: CommandRunner = defaultRunner,
    opts: { force?: boolean } & JournalContext = {},
  ): Promise<boolean> {
    const j = readJournal(journalPath, opts);
    if (!j) return false;
    if (!opts.force && j.pid !== process.pid && isAlive(j.pid)) return false;
    // Best effort: undo steps are idempotent; what is left cannot be fixed by retrying.
    await undoAll([...j.entries].reverse(), run);
    rmSync(journalPath, { force: true });
    return j.entries.length > 0;
  }
}

function checkDev(dev: string): void {
  if (!isDevName(dev)) throw new VpnError('ERR_NETCFG', `invalid interface name ${safeJson(dev)}`);
}

function checkCidr(cidr: string): void {
  if (!isCidr(cidr)) throw new VpnError('ERR_NETCFG', `invalid network ${safeJson(cidr)}`);
}

/** A checked route selector (values go to `ip` arguments and batch lines). */
function routeSelector(dest: string, opts: RouteOptions): Extract<JournalEntry, { kind: 'route' }> {
  checkCidr(dest);
  checkDev(opts.dev);
  const v6 = dest.includes(':');
  const sel: Extract<JournalEntry, { kind: 'route' }> = { kind: 'route', dest, dev: opts.dev };
  if (opts.via !== undefined) {
    if (isIP(opts.via) !== (v6 ? 6 : 4)) {
      throw new VpnError('ERR_NETCFG', `invalid next hop ${safeJson(opts.via)} for ${dest}`);
    }
    sel.via = opts.via;
  }
  if (opts.src !== undefined && isIP(opts.src) === 0) {
    throw new VpnError('ERR_NETCFG', `invalid source address ${safeJson(opts.src)}`);
  }
  if (opts.metric !== undefined) {
    if (!isU32(opts.metric)) throw new VpnError('ERR_NETCFG', `invalid metric ${opts.metric}`);
    sel.metric = opts.metric;
  }
  if (opts.table !== undefined) {
    if (!/^(main|[0-9]{1,10})$/.test(opts.table)) {
      throw new VpnError('ERR_NETCFG', `invalid routing table ${safeJson(opts.table)}`);
    }
    sel.table = opts.table;
  }
  return sel;
}

/** `ip route add|del` arguments for a route selector. */
function blockArgs(op: 'add' | 'del', dest: string, metric: number): string[] {
  return [
    ...(dest.includes(':') ? ['-6'] : []),
    'route',
    op,
    'unreachable',
    dest,
    'metric',
    String(metric),
  ];
}

function routeArgs(
  op: 'add' | 'del' | 'replace',
  r: Extract<JournalEntry, { kind: 'route' }>,
): string[] {
  const args = r.dest.includes(':') ? ['-6', 'route', op, r.dest] : ['route', op, r.dest];
  if (r.via !== undefined) args.push('via', r.via);
  args.push('dev', r.dev);
  if (r.metric !== undefined) args.push('metric', String(r.metric));
  if (r.table !== undefined) args.push('table', r.table);
  return args;
}

/** `ip rule add|del` arguments for a bypass rule (`addBypass`). */
function ruleArgs(op: 'add' | 'del', r: Extract<JournalEntry, { kind: 'rule' }>): string[] {
  const args = [...(r.from.includes(':') ? ['-6'] : []), 'rule', op, 'from', r.from];
  args.push('lookup', r.table);
  if (r.suppress !== undefined) args.push('suppress_prefixlength', String(r.suppress));
  args.push('priority', String(r.priority));
  return args;
}

/** "Nothing to undo" answers from iproute2 and the DNS tools. */
function isGone(err: unknown): boolean {
  const m = (err as Error).message;
  return /Cannot find device|No such device|No such process|No such file|does not exist|Cannot assign requested address|not found|Link .* not known/i.test(
    m,
  );
}

async function undo(e: JournalEntry, run: CommandRunner): Promise<void> {
  try {
    switch (e.kind) {
      case 'addr':
        await run('ip', ['addr', 'del', e.cidr, 'dev', e.dev]);
        return;
      case 'mtu':
        await run('ip', ['link', 'set', 'dev', e.dev, 'mtu', String(e.old)]);
        return;
      case 'up':
        await run('ip', ['link', 'set', 'dev', e.dev, 'down']);
        return;
      case 'route':
        await run('ip', routeArgs('del', e));
        return;
      case 'block':
        await run('ip', blockArgs('del', e.dest, e.metric));
        return;
      case 'rule':
        await run('ip', ruleArgs('del', e));
        return;
      case 'dns-file':
      case 'dns-resolvectl':
      case 'dns-resolvconf':
        await undoDns(e, run);
        return;
    }
  } catch (err) {
    if (!isGone(err)) throw err;
  }
}

/** How many entries at the end of `entries` can be undone in one `ip -batch` (routes, addresses). */
function batchableTail(entries: JournalEntry[]): number {
  let n = 0;
  for (let i = entries.length - 1; i >= 0; i--) {
    const k = entries[i]!.kind;
    if (k !== 'route' && k !== 'block' && k !== 'addr') break;
    n++;
  }
  return n;
}

/** The `ip` arguments (without the family flag) that undo a route, block or address entry. */
function undoArgs(e: JournalEntry): string[] | undefined {
  switch (e.kind) {
    case 'route':
      return routeArgs('del', e).filter((x) => x !== '-6');
    case 'block':
      return blockArgs('del', e.dest, e.metric).filter((x) => x !== '-6');
    case 'addr':
      return ['addr', 'del', e.cidr, 'dev', e.dev];
    case 'mtu':
    case 'up':
    case 'rule':
    case 'dns-file':
    case 'dns-resolvectl':
    case 'dns-resolvconf':
      return undefined;
  }
}

function familyOf(e: JournalEntry): 4 | 6 {
  const v = e.kind === 'addr' ? e.cidr : e.kind === 'route' || e.kind === 'block' ? e.dest : '';
  return v.includes(':') ? 6 : 4;
}

/**
 * Undoes `steps` in the given order; runs of routes, kill-switch routes and addresses go through
 * one `ip -force -batch -` per address family (every line is tried; "already gone" is success).
 * Never throws: returns the failures.
 */
async function undoAll(
  steps: JournalEntry[],
  run: CommandRunner,
  rt?: RtNetlink,
): Promise<string[]> {
  const errors: string[] = [];
  if (rt) {
    // rtnetlink: one request per step, in order; DNS steps still run their tools.
    for (const e of steps) {
      try {
        if (!nlUndo(rt, e)) await undo(e, run);
      } catch (err) {
        if (!isGone(err)) errors.push((err as Error).message);
      }
    }
    return errors;
  }
  let i = 0;
  while (i < steps.length) {
    let j = i;
    while (j < steps.length && undoArgs(steps[j]!) !== undefined) j++;
    if (j === i) {
      try {
        await undo(steps[i]!, run);
      } catch (err) {
        errors.push((err as Error).message);
      }
      i++;
      continue;
    }
    for (const fam of [4, 6] as const) {
      const lines = steps
        .slice(i, j)
        .filter((e) => familyOf(e) === fam)
        .map((e) => undoArgs(e)!.join(' '));
      if (lines.length === 0) continue;
      try {
        await run('ip', [`-${fam}`, '-force', '-batch', '-'], lines.join('\n') + '\n');
      } catch (err) {
        // stderr holds one message per failed line: keep those that are not "already gone".
        const msg = (err as Error).message;
        const real = msg
          .split('\n')
          .filter((l) => !/^Command failed/.test(l.trim()) && l.trim() !== '')
          .filter((l) => !isGone(new Error(l)));
        if (real.length > 0) errors.push(`ip -batch: ${real.join('; ')}`);
      }
    }
    i = j;
  }
  return errors;
}
