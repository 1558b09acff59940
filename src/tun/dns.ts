/**
 * DNS for the tunnel: points the resolver at the gateway's servers through systemd-resolved,
 * resolvconf or a rewritten resolv.conf, and undoes it. Split from netcfg.ts (the
 * NetConfigurator's `setDns` calls `configureDns` with its journal); every change is journaled
 * through `ctx.record` the same way as routes and addresses, and `undoDns` takes it back.
 */
import { execFile } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  readFileSync,
  readlinkSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { isIP } from 'node:net';
import { delimiter, dirname, join } from 'node:path';
import { ensurePrivateDir, ensureRuntimeDir } from '../config/load.js';
import { isDomainName } from '../core/dns-name.js';
import { VpnError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import {
  MAX_BACKUP_BYTES,
  isDevName,
  netnsKey,
  readPrivate,
  safeJson,
  writeExclusive,
} from './journal.js';
import type { JournalEntry } from './journal.js';
import type { CommandRunner } from './netcfg.js';

export type DnsBackend = 'auto' | 'resolvectl' | 'resolvconf' | 'file';

/** Options of `setDns`. */
export interface DnsOptions {
  /** The tunnel carries the default route: every name goes to the gateway's servers. */
  defaultRoute?: boolean;
}

/** What `setDns` did, for the summary and `vpn status`. */
export interface DnsResult {
  /** How DNS was configured. */
  method: 'systemd-resolved' | 'resolvconf' | 'resolv.conf';
  /** systemd-resolved's routing domains on the link ("~corp.example", "~."); else empty. */
  routing: string[];
  /** One printable line saying what was done. */
  note: string;
}

/** What `configureDns` needs of the NetConfigurator: its runner, logger, settings and journal. */
export interface DnsContext {
  readonly run: CommandRunner;
  readonly log: Logger;
  readonly dnsBackend: DnsBackend;
  /** The resolv.conf managed in 'file' mode. */
  readonly resolvConf: string;
  /** Where 'file' mode keeps the original resolv.conf (`dnsBackupPath`), when journaled on disk. */
  readonly backupPath: string | undefined;
  /** The changes not yet undone, oldest first. */
  readonly entries: readonly JournalEntry[];
  /** Journals changes (in memory and on disk). */
  record(...e: JournalEntry[]): void;
}

/** First line of a resolv.conf we write (used to recognise our own file after a crash). */
const MARKER = '# written by ikev2-vpn';

/**
 * Points the resolver at `servers` for as long as the tunnel is up, through systemd-resolved,
 * resolvconf, or by rewriting resolv.conf, and says which (the result's `method` and `note`).
 *
 * With systemd-resolved the servers are bound to the TUN link, and the gateway's
 * INTERNAL_DNS_DOMAIN names (RFC 8598 §3.1) become routing-only domains (`~corp.example`), so
 * only names under them go to these servers (RFC 8598 §4: other names resolve as before); the
 * link is no default route for names. When the tunnel carries the default route
 * (`opts.defaultRoute`), `~.` and DefaultRoute=yes send every name to them instead, so none
 * leaves outside the tunnel. With no pushed domain on a split tunnel the link keeps resolved's
 * default (DefaultRoute=yes: its servers answer alongside the host's). `resolvectl revert`
 * (journaled after the first change) takes it all back.
 *
 * Without resolved there is no per-name routing: the servers answer every name and the domains
 * become search domains. In 'file' mode the original bytes go to a backup of this tunnel's own
 * in the private runtime directory, keyed by the journal (the tunnel's name) and the network
 * namespace (`dnsBackupPath`): two tunnels, or the same /etc/resolv.conf path bind-mounted per
 * namespace by `ip netns exec`, never share a backup, and a backup we did not write in this run
 * is never taken for the original.
 */
export async function configureDns(
  ctx: DnsContext,
  dev: string,
  servers: string[],
  domains: string[],
  opts: DnsOptions = {},
): Promise<DnsResult | undefined> {
  if (servers.length === 0) return undefined;
  if (!isDevName(dev)) throw new VpnError('ERR_NETCFG', `invalid interface name ${safeJson(dev)}`);
  // Gateway-supplied values: IP literals and domain names only, checked label by label (a
  // value can never start with "-" or "~", and "--" below ends the options anyway).
  for (const s of servers) {
    if (isIP(s) === 0) throw new VpnError('ERR_DNS', `invalid DNS server ${JSON.stringify(s)}`);
  }
  for (const d of domains) {
    if (!isDomainName(d)) {
      throw new VpnError('ERR_DNS', `invalid DNS domain ${JSON.stringify(d)}`);
    }
  }
  const backend = await chooseBackend(ctx);
  ctx.log.info('tun', `DNS via ${backend}: ${servers.join(', ')}`);
  const list = servers.join(', ');
  switch (backend) {
    case 'resolvectl': {
      // Journaled first: `resolvectl revert` of our own TUN link is harmless if nothing was
      // set, and covers a call that timed out after resolved applied it.
      ctx.record({ kind: 'dns-resolvectl', dev });
      // "--": what follows is never an option, whatever the gateway sent.
      await ctx.run('resolvectl', ['dns', dev, '--', ...servers]);
      const full = opts.defaultRoute === true;
      const routing = [...domains.map((d) => `~${d}`), ...(full ? ['~.'] : [])];
      if (routing.length > 0) await ctx.run('resolvectl', ['domain', dev, '--', ...routing]);
      // Split tunnel with pushed domains: only those names (routing domains); full tunnel: all.
      // Then no multicast name queries (LLMNR, mDNS) into the tunnel: the gateway answers none.
      // A resolved too old for a switch (before systemd 240) keeps its default: not fatal.
      const defaultRoute = full || domains.length === 0;
      const extra: [string, string][] = [
        ['default-route', String(defaultRoute)],
        ['llmnr', 'no'],
        ['mdns', 'no'],
      ];
      for (const [verb, value] of extra) {
        await ctx.run('resolvectl', [verb, dev, '--', value]).catch((e: unknown) => {
          ctx.log.warn('tun', `resolvectl ${verb} ${dev} ${value}: ${(e as Error).message}`);
        });
      }
      let note: string;
      if (full) note = `systemd-resolved on ${dev}: every name goes to ${list} (~.)`;
      else if (domains.length > 0)
        note = `systemd-resolved on ${dev}: names under ${domains.join(', ')} go to ${list} (routing domains ${routing.join(' ')}); other names as before`;
      else
        note = `systemd-resolved on ${dev}: names go to ${list} and to the host's servers alike (no domains pushed)`;
      return { method: 'systemd-resolved', routing, note };
    }
    case 'resolvconf': {
      const iface = `${resolvconfPrefix()}${dev}`;
      await runWithInput('resolvconf', ['-a', iface], resolvConfText(servers, domains));
      ctx.record({ kind: 'dns-resolvconf', dev, iface });
      return {
        method: 'resolvconf',
        routing: [],
        note: `resolvconf (${iface}): ${list} first in line for every name${searchNote(domains)}; no systemd-resolved, so no split DNS`,
      };
    }
    case 'file': {
      const path = ctx.resolvConf;
      const backup =
        ctx.backupPath ??
        join(ensureRuntimeDir(), `pid${process.pid}.${netnsKey()}.resolv.conf.bak`);
      const mine = ctx.entries.some((e) => e.kind === 'dns-file' && e.backup === backup);
      if (!mine) {
        const existed = existsSync(path);
        const current = existed ? readFileSync(path) : Buffer.alloc(0);
        ensurePrivateDir(dirname(backup), 'runtime directory');
        try {
          writeExclusive(backup, current);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
          // Left by a run whose journal is gone: not known to be the original, never adopted.
          ctx.log.warn('tun', `discarding a stale DNS backup ${backup}`);
          unlinkSync(backup);
          writeExclusive(backup, current);
        }
        ctx.record({ kind: 'dns-file', path, backup, existed });
      }
      // In place, not by rename: resolv.conf may be a bind mount (ip netns exec, containers).
      writeFileSync(path, resolvConfText(servers, domains));
      return {
        method: 'resolv.conf',
        routing: [],
        note: `${path} rewritten (restored on exit): every name goes to ${list}${searchNote(domains)}; no systemd-resolved, so no split DNS`,
      };
    }
  }
}

async function chooseBackend(ctx: DnsContext): Promise<Exclude<DnsBackend, 'auto'>> {
  if (ctx.dnsBackend !== 'auto') return ctx.dnsBackend;
  // systemd-resolved: only if it runs AND resolv.conf goes through it (its stub or its file);
  // otherwise per-link DNS settings would not reach glibc's resolver.
  if (findProgram('resolvectl') && resolvedManages(ctx.resolvConf)) {
    try {
      await ctx.run('resolvectl', ['status']);
      return 'resolvectl';
    } catch {
      // not running: fall through
    }
  }
  // resolvconf (Debian's or openresolv), when resolv.conf is its generated file.
  if (findProgram('resolvconf') && isSymlink(ctx.resolvConf)) return 'resolvconf';
  return 'file';
}

/**
 * Undoes one DNS journal entry (idempotent: a backup already restored is a no-op). Throws what
 * the DNS tool said; the caller treats "already gone" as success.
 */
export async function undoDns(
  e: Extract<JournalEntry, { kind: 'dns-file' | 'dns-resolvectl' | 'dns-resolvconf' }>,
  run: CommandRunner,
): Promise<void> {
  switch (e.kind) {
    case 'dns-file': {
      const original = readPrivate(e.backup, MAX_BACKUP_BYTES, 'DNS backup');
      if (original === undefined) return; // already restored
      if (e.existed === false) rmSync(e.path, { force: true });
      else writeFileSync(e.path, original);
      rmSync(e.backup, { force: true });
      return;
    }
    case 'dns-resolvectl':
      await run('resolvectl', ['revert', '--', e.dev]);
      return;
    case 'dns-resolvconf':
      await run('resolvconf', ['-d', e.iface ?? `${e.dev}.ikev2-vpn`]);
      return;
  }
}

export function isBackend(s: string | undefined): s is DnsBackend {
  return s === 'auto' || s === 'resolvectl' || s === 'resolvconf' || s === 'file';
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

function resolvedManages(resolvConf: string): boolean {
  try {
    if (isSymlink(resolvConf) && readlinkSync(resolvConf).includes('systemd/resolve')) return true;
    return /^nameserver 127\.0\.0\.53$/m.test(readFileSync(resolvConf, 'utf8'));
  } catch {
    return false;
  }
}

function searchNote(domains: string[]): string {
  return domains.length > 0 ? ` (search ${domains.join(' ')})` : '';
}

function findProgram(name: string): string | undefined {
  const dirs = (process.env['PATH'] ?? '').split(delimiter).filter(Boolean);
  for (const d of [...dirs, '/usr/sbin', '/sbin', '/usr/bin', '/bin']) {
    const p = join(d, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/**
 * Debian's resolvconf orders interfaces by /etc/resolvconf/interface-order; naming ours after
 * its first VPN-like pattern (e.g. "tun*" → "tun.vpn0") puts our servers first.
 */
function resolvconfPrefix(): string {
  try {
    for (const line of readFileSync('/etc/resolvconf/interface-order', 'utf8').split('\n')) {
      const m = /^([A-Za-z0-9-]+)\*$/.exec(line.trim());
      if (m) return `${m[1]!}.`;
    }
  } catch {
    // no interface-order (openresolv): any name will do
  }
  return '';
}
/** The resolv.conf text for `servers` and search `domains` (first line: our marker). */
export function resolvConfText(servers: string[], domains: string[]): string {
  const lines = [`${MARKER}; restored on disconnect`];
  for (const s of servers) lines.push(`nameserver ${s}`);
  if (domains.length > 0) lines.push(`search ${domains.join(' ')}`);
  return lines.join('\n') + '\n';
}

function runWithInput(cmd: string, args: string[], input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: 10000 }, (err, _out, stderr) => {
      if (err) {
        reject(
          new VpnError('ERR_DNS', `${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`, {
            cause: err,
          }),
        );
      } else resolve();
    });
    child.stdin?.end(input);
  });
}
