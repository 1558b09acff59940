/**
 * The undo journal of host changes on disk (see netcfg.ts): its format, the checks that make a
 * journal left in the runtime directory safe to replay (the file, its namespace, every entry
 * against what a NetConfigurator could have written), and the private-file helpers it is read
 * and written with. Nothing here runs a command.
 */
import {
  closeSync,
  constants as fsConstants,
  existsSync,
  fstatSync,
  openSync,
  readSync,
  readlinkSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { isIP } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { ensurePrivateDir } from '../config/load.js';
import { VpnError } from '../core/errors.js';

/** Most routes one tunnel installs (finding 6: one message must not make us add thousands). */
export const MAX_ROUTES = 256;
/** Most entries a journal may hold: every route, plus addresses, MTU, link, DNS, kill switch. */
export const MAX_JOURNAL_ENTRIES = MAX_ROUTES + 64;
/** Largest journal file we read. */
export const MAX_JOURNAL_BYTES = 1 << 20;
/** Largest resolv.conf backup we restore. */
export const MAX_BACKUP_BYTES = 1 << 20;
/** Our TUN devices: the kernel names them from "vpn%d". */
export const DEFAULT_TUN_PATTERN = /^vpn[0-9]{1,5}$/;
/**
 * Full tunnel: the routing table holding the original default route for connections opened
 * before the tunnel (`NetConfigurator.addBypass`), and the priorities of its two rules.
 */
export const BYPASS_TABLE = 45000;
export const BYPASS_PRIORITY = 32700;

/** The kill switch's unreachable routes (`Tunnel.installKillSwitch`). */
export const BLOCK_DESTS = new Set(['0.0.0.0/1', '128.0.0.0/1', '::/1', '8000::/1']);

/**
 * One change made to the host, with what is needed to undo it. All undo steps are idempotent.
 * - addr: `ip addr del` (gone with the device after a crash)
 * - mtu: `ip link set mtu <old>` (recorded only when the MTU changed)
 * - up: `ip link set down` (recorded only when the link was down before)
 * - route: `ip route del` with the same selector (dest, via, dev, metric, table)
 * - dns-file: write `backup`'s bytes back to `path` (or delete `path` if it did not exist)
 * - dns-resolvectl: `resolvectl revert <dev>`
 * - dns-resolvconf: `resolvconf -d <iface>`
 * - rule: `ip rule del` with the same selector (from, table, priority, suppress_prefixlength)
 */
export type JournalEntry =
  | { kind: 'addr'; dev: string; cidr: string }
  | { kind: 'mtu'; dev: string; old: number }
  | { kind: 'up'; dev: string }
  | {
      kind: 'route';
      dest: string;
      dev: string;
      via?: string;
      metric?: number;
      table?: string;
    }
  | { kind: 'block'; dest: string; metric: number }
  | { kind: 'rule'; from: string; table: string; priority: number; suppress?: number }
  | { kind: 'dns-file'; path: string; backup: string; existed?: boolean }
  | { kind: 'dns-resolvectl'; dev: string }
  | { kind: 'dns-resolvconf'; dev: string; iface?: string };

/** On-disk form of the journal. */
export interface JournalFile {
  version: 2;
  /** The process that made the changes; recovery leaves a live owner's journal alone. */
  pid: number;
  /** The network namespace the changes were made in (`netnsKey()`): replayed only there. */
  netns: string;
  entries: JournalEntry[];
}

/** What a journal may contain besides our own bookkeeping (`validateJournal`). */
export interface JournalContext {
  /** Names our TUN devices may have (default: `DEFAULT_TUN_PATTERN`, the kernel's "vpn%d"). */
  tunPattern?: RegExp;
  /** The resolv.conf we manage (default /etc/resolv.conf). */
  resolvConf?: string;
}

/** A journal read from disk and found valid (`readJournal`). */
export interface JournalRead {
  pid: number;
  /** Whether the process that wrote it is still running. */
  alive: boolean;
  entries: JournalEntry[];
}

/**
 * Reads and checks the journal at `journalPath` without acting on it: the directory must be
 * private (`checkPrivateDir`), the file a regular file of ours (opened without following a
 * symbolic link) with no group/other access and at most 1 MiB, written in this network
 * namespace, and every entry one we could have written (`validateJournal`).
 * Returns undefined when there is no journal.
 * @throws VpnError ERR_PRIVILEGE (directory or file not trustworthy) or ERR_NETCFG (contents).
 */
export function readJournal(
  journalPath: string,
  ctx: JournalContext = {},
): JournalRead | undefined {
  const dir = dirname(journalPath);
  if (!existsSync(dir)) return undefined;
  ensurePrivateDir(dir, 'runtime directory');
  const text = readPrivate(journalPath, MAX_JOURNAL_BYTES, 'journal');
  if (text === undefined) return undefined;
  const bad = (why: string): never => {
    throw new VpnError(
      'ERR_NETCFG',
      `refusing to replay journal ${journalPath}: ${why}; nothing was run — check the host's routes and DNS, then remove the file`,
    );
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.toString('utf8'));
  } catch {
    return bad('it is not valid JSON');
  }
  const f = parsed as Partial<JournalFile> | null;
  if (typeof f !== 'object' || f === null || Array.isArray(f) || f.version !== 2) {
    return bad('unknown format (expected version 2)');
  }
  const keys = Object.keys(f).sort().join(',');
  if (keys !== 'entries,netns,pid,version') return bad(`unexpected fields (${keys})`);
  if (!Number.isSafeInteger(f.pid) || (f.pid as number) <= 0) return bad('invalid pid');
  if (typeof f.netns !== 'string') return bad('invalid network namespace');
  if (f.netns !== netnsKey()) {
    return bad(
      `it was written in another network namespace (${f.netns.slice(0, 40)}, this is ${netnsKey()}): run the command there`,
    );
  }
  try {
    validateJournal(f.entries, { ...ctx, backup: dnsBackupPath(journalPath) });
  } catch (e) {
    return bad((e as Error).message);
  }
  const pid = f.pid as number;
  return { pid, alive: pid !== process.pid && isAlive(pid), entries: f.entries };
}

/**
 * Checks that `entries` holds only what a NetConfigurator could have journaled: addresses, MTU,
 * link and DNS of a TUN device of ours (`ctx.tunPattern`), routes into it or a host route (/32,
 * /128) to the gateway through another device, the kill switch's four unreachable routes, the
 * managed resolv.conf with our own backup path (`ctx.backup`). Every value is checked strictly
 * (interface names, CIDRs, addresses, numbers; no extra fields).
 * @throws Error naming the first bad entry.
 */
export function validateJournal(
  entries: unknown,
  ctx: JournalContext & { backup?: string } = {},
): asserts entries is JournalEntry[] {
  if (!Array.isArray(entries)) throw new Error('entries is not a list');
  if (entries.length > MAX_JOURNAL_ENTRIES) {
    throw new Error(`too many entries (${entries.length}, at most ${MAX_JOURNAL_ENTRIES})`);
  }
  const tun = ctx.tunPattern ?? DEFAULT_TUN_PATTERN;
  const resolvConf = ctx.resolvConf ?? '/etc/resolv.conf';
  entries.forEach((raw: unknown, i) => {
    const fail = (why: string): never => {
      throw new Error(`entry ${i + 1} ${safeJson(raw)}: ${why}`);
    };
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('not an object');
    const e = raw as Record<string, unknown>;
    const only = (...allowed: string[]): void => {
      for (const k of Object.keys(e)) {
        if (k !== 'kind' && !allowed.includes(k)) fail(`unexpected field "${k}"`);
      }
    };
    const ourDev = (): void => {
      if (typeof e['dev'] !== 'string' || !tun.test(e['dev'])) fail('not our TUN device');
    };
    switch (e['kind']) {
      case 'addr':
        only('dev', 'cidr');
        ourDev();
        if (!isCidr(e['cidr'])) fail('invalid address');
        return;
      case 'mtu':
        only('dev', 'old');
        ourDev();
        if (
          !Number.isInteger(e['old']) ||
          (e['old'] as number) < 68 ||
          (e['old'] as number) > 65535
        )
          fail('invalid MTU');
        return;
      case 'up':
        only('dev');
        ourDev();
        return;
      case 'route': {
        only('dest', 'dev', 'via', 'metric', 'table');
        if (!isCidr(e['dest'])) fail('invalid destination');
        if (!isDevName(e['dev'])) fail('invalid device');
        const dest = e['dest'] as string;
        const v6 = dest.includes(':');
        if (!tun.test(e['dev'] as string)) {
          // Through another device we only ever add the host route to the gateway, and the
          // original default route in the bypass table (full tunnel).
          const bypass =
            e['table'] === String(BYPASS_TABLE) && dest === (v6 ? '::/0' : '0.0.0.0/0');
          if (!dest.endsWith(v6 ? '/128' : '/32') && !bypass)
            fail('a route through another device that is not a host route');
        }
        if (
          e['via'] !== undefined &&
          (typeof e['via'] !== 'string' || isIP(e['via']) !== (v6 ? 6 : 4))
        )
          fail('invalid next hop');
        if (e['metric'] !== undefined && !isU32(e['metric'])) fail('invalid metric');
        if (
          e['table'] !== undefined &&
          (typeof e['table'] !== 'string' || !/^(main|[0-9]{1,10})$/.test(e['table']))
        )
          fail('invalid table');
        return;
      }
      case 'block':
        only('dest', 'metric');
        if (typeof e['dest'] !== 'string' || !BLOCK_DESTS.has(e['dest']))
          fail('not a kill-switch route');
        if (!isU32(e['metric'])) fail('invalid metric');
        return;
      case 'rule': {
        only('from', 'table', 'priority', 'suppress');
        if (typeof e['from'] !== 'string' || isIP(e['from']) === 0) fail('invalid source');
        // Only our two full-tunnel rules: main without the /0 and /1 routes, then our table.
        const mainRule =
          e['table'] === 'main' && e['suppress'] === 1 && e['priority'] === BYPASS_PRIORITY;
        const ourTable =
          e['table'] === String(BYPASS_TABLE) &&
          e['suppress'] === undefined &&
          e['priority'] === BYPASS_PRIORITY + 1;
        if (!mainRule && !ourTable) fail('not a full-tunnel bypass rule');
        return;
      }
      case 'dns-file':
        only('path', 'backup', 'existed');
        if (e['path'] !== resolvConf) fail(`not the resolv.conf we manage (${resolvConf})`);
        if (ctx.backup === undefined || e['backup'] !== ctx.backup) fail('not our DNS backup');
        if (e['existed'] !== undefined && typeof e['existed'] !== 'boolean')
          fail('invalid "existed"');
        return;
      case 'dns-resolvectl':
        only('dev');
        ourDev();
        return;
      case 'dns-resolvconf': {
        only('dev', 'iface');
        ourDev();
        const iface = e['iface'];
        if (
          iface !== undefined &&
          (typeof iface !== 'string' ||
            !/^([A-Za-z0-9-]{1,32}\.)?[A-Za-z0-9_.-]{1,15}$/.test(iface) ||
            !iface.endsWith(e['dev'] as string))
        )
          fail('invalid resolvconf interface');
        return;
      }
      default:
        fail('unknown kind');
    }
  });
}

/** One line per journal entry, for people ("route 0.0.0.0/1 via vpn0"). */
export function describeEntry(e: JournalEntry): string {
  switch (e.kind) {
    case 'addr':
      return `address ${e.cidr} on ${e.dev}`;
    case 'mtu':
      return `MTU of ${e.dev} (was ${e.old})`;
    case 'up':
      return `${e.dev} up`;
    case 'route':
      return `route ${e.dest}${e.via ? ` via ${e.via}` : ''} dev ${e.dev}${e.table ? ` table ${e.table}` : ''}`;
    case 'block':
      return `kill-switch route unreachable ${e.dest}`;
    case 'rule':
      return `rule from ${e.from} lookup ${e.table}${e.suppress !== undefined ? ` suppress_prefixlength ${e.suppress}` : ''}`;
    case 'dns-file':
      return `DNS in ${e.path} (original kept in ${e.backup})`;
    case 'dns-resolvectl':
      return `DNS of ${e.dev} in systemd-resolved`;
    case 'dns-resolvconf':
      return `DNS of ${e.iface ?? e.dev} in resolvconf`;
  }
}

/**
 * The network namespace this process runs in ("net4026531840"), from /proc/self/ns/net: the
 * journal and the DNS backup are keyed by it.
 */
export function netnsKey(): string {
  try {
    const m = /^net:\[(\d+)\]$/.exec(readlinkSync('/proc/self/ns/net'));
    if (m) return `net${m[1]!}`;
  } catch {
    // no /proc: one namespace as far as we can tell
  }
  return 'net0';
}

/**
 * Where 'file' mode keeps the original resolv.conf of the tunnel whose journal is `journalPath`:
 * next to the journal (the private runtime directory), keyed by the network namespace.
 */
export function dnsBackupPath(journalPath: string): string {
  const base = basename(journalPath).replace(/\.journal$/, '');
  return join(dirname(journalPath), `${base}.${netnsKey()}.resolv.conf.bak`);
}

export function safeJson(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = '?';
  }
  // Printable ASCII only, bounded: it came from a file someone may have planted.
  s = s.replace(/[^\x20-\x7e]/g, '?');
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

export function isU32(v: unknown): boolean {
  return Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff;
}

/** Linux interface names (kernel dev_valid_name), restricted to a safe alphabet. */
export function isDevName(v: unknown): v is string {
  return typeof v === 'string' && /^[A-Za-z0-9_.@-]{1,15}$/.test(v) && v !== '.' && v !== '..';
}

/** "address/prefix" with a valid address and prefix length for its family. */
export function isCidr(v: unknown): v is string {
  if (typeof v !== 'string') return false;
  const m = /^([0-9A-Fa-f:.]{2,45})\/(\d{1,3})$/.exec(v);
  if (!m) return false;
  const fam = isIP(m[1]!);
  if (fam === 0) return false;
  return Number(m[2]) <= (fam === 6 ? 128 : 32);
}

/** Creates `path` (mode 0600) exclusively — never through an existing file or symbolic link. */
export function writeExclusive(path: string, data: string | Uint8Array): void {
  const flags =
    fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;
  let fd: number;
  try {
    fd = openSync(path, flags, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    // A stale temp file of ours (a crash mid-write) or something planted: remove the name
    // (unlink never follows a link) and create our own.
    if (!path.endsWith('.tmp')) throw e;
    unlinkSync(path);
    fd = openSync(path, flags, 0o600);
  }
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a file of ours: opened without following a symbolic link, a regular file owned by our
 * euid with no group/other access, at most `max` bytes. Undefined when it does not exist.
 * @throws VpnError ERR_PRIVILEGE otherwise.
 */
export function readPrivate(path: string, max: number, what: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new VpnError(
      'ERR_PRIVILEGE',
      code === 'ELOOP'
        ? `refusing to read ${what} ${path}: it is a symbolic link`
        : `cannot read ${what} ${path}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  try {
    const st = fstatSync(fd);
    const euid = process.geteuid?.();
    const refuse = (why: string): never => {
      throw new VpnError('ERR_PRIVILEGE', `refusing to read ${what} ${path}: ${why}`);
    };
    if (!st.isFile()) refuse('it is not a regular file');
    if (euid !== undefined && st.uid !== euid) refuse(`it is owned by uid ${st.uid}, not by us`);
    if ((st.mode & 0o077) !== 0) refuse('group or others have access to it');
    if (st.size > max) refuse(`it is too large (${st.size} bytes)`);
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
}
