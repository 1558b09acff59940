/**
 * Host network configuration for the tunnel — addresses, MTU, routes and DNS — through iproute2
 * (`ip`, run with execFile, never a shell) and the system's DNS tool, with an undo journal.
 *
 * Every change is appended to the journal before `restore()` can need it, and the journal is kept
 * on disk, so a later run can undo what a killed process (kill -9) left behind: routes through
 * other devices and a rewritten resolv.conf survive the process; the TUN device and its addresses
 * do not. Undo steps are idempotent ("already gone" is success).
 */
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
  lstatSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { VpnError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { NOOP_LOGGER } from '../core/log.js';

export type CommandRunner = (cmd: string, args: string[]) => Promise<{ stdout: string }>;

export const defaultRunner: CommandRunner = (cmd, args) =>
  new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 10000 }, (err, stdout, stderr) => {
      if (err) {
        const msg = stderr.trim() || err.message;
        reject(new VpnError('ERR_NETCFG', `${cmd} ${args.join(' ')}: ${msg}`, { cause: err }));
      } else resolve({ stdout });
    });
  });

export type JournalEntry =
  | { kind: 'addr'; dev: string; cidr: string }
  | { kind: 'route'; dest: string; dev: string; via?: string }
  | { kind: 'dns-file'; path: string; backup: string }
  | { kind: 'dns-resolvectl'; dev: string }
  | { kind: 'dns-resolvconf'; dev: string };

export type DnsBackend = 'auto' | 'resolvectl' | 'resolvconf' | 'file';

export interface NetConfiguratorOptions {
  run?: CommandRunner;
  logger?: Logger;
  /** Where the journal lives on disk (for crash recovery); none = memory only. */
  journalPath?: string;
  dnsBackend?: DnsBackend;
  /** resolv.conf to manage in 'file' mode. */
  resolvConf?: string;
}

export class NetConfigurator {
  private readonly run: CommandRunner;
  private readonly log: Logger;
  private readonly journalPath: string | undefined;
  private readonly dnsBackend: DnsBackend;
  private readonly resolvConf: string;
  private readonly entries: JournalEntry[] = [];

  constructor(opts: NetConfiguratorOptions = {}) {
    this.run = opts.run ?? defaultRunner;
    this.log = opts.logger ?? NOOP_LOGGER;
    this.journalPath = opts.journalPath;
    this.dnsBackend =
      opts.dnsBackend ?? (process.env['VPN_DNS_BACKEND'] as DnsBackend | undefined) ?? 'auto';
    this.resolvConf = opts.resolvConf ?? '/etc/resolv.conf';
  }

  journal(): JournalEntry[] {
    return [...this.entries];
  }

  private record(e: JournalEntry): void {
    this.entries.push(e);
    this.persist();
  }

  private persist(): void {
    if (!this.journalPath) return;
    if (this.entries.length === 0) {
      rmSync(this.journalPath, { force: true });
      return;
    }
    mkdirSync(dirname(this.journalPath), { recursive: true, mode: 0o700 });
    writeFileSync(this.journalPath, JSON.stringify(this.entries) + '\n', { mode: 0o600 });
  }

  async setMtu(dev: string, mtu: number): Promise<void> {
    await this.run('ip', ['link', 'set', 'dev', dev, 'mtu', String(mtu)]);
  }

  async setUp(dev: string): Promise<void> {
    await this.run('ip', ['link', 'set', 'dev', dev, 'up']);
  }

  async addAddress(dev: string, cidr: string): Promise<void> {
    await this.run('ip', ['addr', 'add', cidr, 'dev', dev]);
    this.record({ kind: 'addr', dev, cidr });
  }

  async addRoute(
    dest: string,
    opts: { dev: string; src?: string; via?: string; metric?: number },
  ): Promise<void> {
    const args = ['route', 'add', dest];
    if (opts.via) args.push('via', opts.via);
    args.push('dev', opts.dev);
    if (opts.src) args.push('src', opts.src);
    if (opts.metric !== undefined) args.push('metric', String(opts.metric));
    if (dest.includes(':')) args.unshift('-6');
    await this.run('ip', args);
    this.record(
      opts.via
        ? { kind: 'route', dest, dev: opts.dev, via: opts.via }
        : { kind: 'route', dest, dev: opts.dev },
    );
  }

  /** How the kernel reaches `ip` right now (`ip -j route get`). */
  async getRouteTo(ip: string): Promise<{ dev: string; via?: string; src?: string }> {
    const { stdout } = await this.run('ip', ['-j', 'route', 'get', ip]);
    const r = (JSON.parse(stdout) as { dev?: string; gateway?: string; prefsrc?: string }[])[0];
    if (!r?.dev) throw new VpnError('ERR_NETCFG', `no route to ${ip}`);
    const out: { dev: string; via?: string; src?: string } = { dev: r.dev };
    if (r.gateway) out.via = r.gateway;
    if (r.prefsrc) out.src = r.prefsrc;
    return out;
  }

  /**
   * Pins the route to `ip` (the VPN gateway) on its current path, so routing everything into the
   * tunnel does not capture the tunnel's own packets.
   */
  async addHostRouteVia(ip: string): Promise<void> {
    const r = await this.getRouteTo(ip);
    const dest = ip.includes(':') ? `${ip}/128` : `${ip}/32`;
    await this.addRoute(dest, r.via ? { dev: r.dev, via: r.via } : { dev: r.dev });
  }

  private async backend(): Promise<Exclude<DnsBackend, 'auto'>> {
    if (this.dnsBackend !== 'auto') return this.dnsBackend;
    // systemd-resolved manages DNS when /etc/resolv.conf points at its stub or its file.
    try {
      if (
        lstatSync(this.resolvConf).isSymbolicLink() &&
        readlinkSync(this.resolvConf).includes('systemd/resolve')
      ) {
        await this.run('resolvectl', ['status']);
        return 'resolvectl';
      }
    } catch {
      // fall through
    }
    if (existsSync('/sbin/resolvconf') || existsSync('/usr/sbin/resolvconf')) {
      try {
        if (!lstatSync(this.resolvConf).isSymbolicLink()) return 'file';
      } catch {
        return 'file';
      }
      return 'resolvconf';
    }
    return 'file';
  }

  async setDns(dev: string, servers: string[], domains: string[]): Promise<void> {
    if (servers.length === 0) return;
    const backend = await this.backend();
    this.log.info('tun', `DNS via ${backend}: ${servers.join(', ')}`);
    switch (backend) {
      case 'resolvectl':
        await this.run('resolvectl', ['dns', dev, ...servers]);
        this.record({ kind: 'dns-resolvectl', dev });
        if (domains.length > 0) await this.run('resolvectl', ['domain', dev, ...domains]);
        return;
      case 'resolvconf': {
        const content = resolvConfText(servers, domains);
        await runWithInput('resolvconf', ['-a', `${dev}.ikev2-vpn`], content);
        this.record({ kind: 'dns-resolvconf', dev });
        return;
      }
      case 'file': {
        const backup = `${this.journalPath ?? `/run/ikev2-vpn/${dev}`}.resolv.conf`;
        mkdirSync(dirname(backup), { recursive: true, mode: 0o700 });
        // Keep the exact original bytes; write in place (resolv.conf may be a bind mount).
        const original = existsSync(this.resolvConf)
          ? readFileSync(this.resolvConf)
          : Buffer.alloc(0);
        writeFileSync(backup, original, { mode: 0o600 });
        this.record({ kind: 'dns-file', path: this.resolvConf, backup });
        writeFileSync(this.resolvConf, resolvConfText(servers, domains));
        return;
      }
    }
  }

  /** Undoes everything in reverse order. Collects failures instead of stopping at the first. */
  async restore(): Promise<void> {
    const errors: string[] = [];
    while (this.entries.length > 0) {
      const e = this.entries[this.entries.length - 1]!;
      try {
        await undo(e, this.run);
      } catch (err) {
        errors.push((err as Error).message);
      }
      this.entries.pop();
      this.persist();
    }
    if (errors.length > 0) {
      this.log.warn('tun', `some settings could not be restored: ${errors.join('; ')}`);
    }
  }

  /**
   * Replays a journal left by a process that could not clean up (kill -9, power loss). Returns
   * true when there was something to undo.
   */
  static async recover(journalPath: string, run: CommandRunner = defaultRunner): Promise<boolean> {
    if (!existsSync(journalPath)) return false;
    let entries: JournalEntry[];
    try {
      entries = JSON.parse(readFileSync(journalPath, 'utf8')) as JournalEntry[];
    } catch {
      rmSync(journalPath, { force: true });
      return false;
    }
    for (const e of entries.reverse()) {
      try {
        await undo(e, run);
      } catch {
        // best effort: idempotent undo steps fail only when there is nothing left to undo
      }
    }
    rmSync(journalPath, { force: true });
    return entries.length > 0;
  }
}

function isGone(err: unknown): boolean {
  const m = (err as Error).message;
  return /Cannot find device|No such process|No such file|does not exist|Cannot assign requested address|not found/i.test(
    m,
  );
}

async function undo(e: JournalEntry, run: CommandRunner): Promise<void> {
  try {
    switch (e.kind) {
      case 'addr':
        await run('ip', ['addr', 'del', e.cidr, 'dev', e.dev]);
        return;
      case 'route': {
        const args = ['route', 'del', e.dest];
        if (e.via) args.push('via', e.via);
        args.push('dev', e.dev);
        if (e.dest.includes(':')) args.unshift('-6');
        await run('ip', args);
        return;
      }
      case 'dns-file':
        if (existsSync(e.backup)) {
          writeFileSync(e.path, readFileSync(e.backup));
          rmSync(e.backup, { force: true });
        }
        return;
      case 'dns-resolvectl':
        await run('resolvectl', ['revert', e.dev]);
        return;
      case 'dns-resolvconf':
        await run('resolvconf', ['-d', `${e.dev}.ikev2-vpn`]);
        return;
    }
  } catch (err) {
    if (!isGone(err)) throw err;
  }
}

export function resolvConfText(servers: string[], domains: string[]): string {
  const lines = ['# written by ikev2-vpn; restored on disconnect'];
  for (const s of servers) lines.push(`nameserver ${s}`);
  if (domains.length > 0) lines.push(`search ${domains.join(' ')}`);
  return lines.join('\n') + '\n';
}

function runWithInput(cmd: string, args: string[], input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: 10000 }, (err, _out, stderr) => {
      if (err)
        reject(
          new VpnError('ERR_DNS', `${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`),
        );
      else resolve();
    });
    child.stdin?.end(input);
  });
}
