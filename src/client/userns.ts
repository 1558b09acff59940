/**
 * `vpn exec` without root: a private network namespace inside a new user namespace (where the
 * kernel allows unprivileged user namespaces: user.max_user_namespaces > 0, and neither
 * kernel.unprivileged_userns_clone = 0 nor a security module forbids it).
 *
 * This process never leaves the host's namespaces, so the IKE/ESP socket stays there. A helper
 * (./userns-helper.ts), started by `unshare --user --map-root-user --net --mount`, is root in the
 * new user namespace: it opens the TUN device inside the new network namespace and passes the
 * descriptor back over a socket pair (SCM_RIGHTS, native/tun.c), and bind-mounts our private
 * resolv.conf (in the runtime directory) over /etc/resolv.conf in its private mount namespace.
 * Addresses and routes are set through `nsenter --user --net --preserve-credentials ip ...`
 * (we own the user namespace, so we may enter it); DNS goes to the private resolv.conf, which the
 * tunnel rewrites in place. The command runs through nsenter into all three namespaces: it sees
 * `lo` and the tunnel, the gateway's DNS, and itself as uid 0 of the new user namespace (our own
 * uid outside: it gains no privilege on the host). Closing the helper's stdin ends it, and the
 * namespaces end with the last process in them.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VpnError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { NOOP_LOGGER } from '../core/log.js';
import { printable } from '../core/printable.js';
import { NetConfigurator, defaultRunner } from '../tun/netcfg.js';
import type { CommandRunner } from '../tun/netcfg.js';
import { closeFd, openPacketPair, openTunFromFd, recvFd } from '../tun/linux.js';
import type { TunOptions } from '../tun/linux.js';
import type { TunDevice } from '../tun/tun.js';
import type { TunnelIo } from './io.js';
import { namespaceHostNetwork } from './netns.js';

const HELPER = fileURLToPath(new URL('./userns-helper.js', import.meta.url));
/** How long the helper may take to set the namespaces up. */
const READY_MS = 15000;

function onPath(tool: string): boolean {
  const dirs = (process.env['PATH'] ?? '/usr/bin:/bin').split(delimiter);
  return [...dirs, '/usr/bin', '/bin'].some((d) => d.startsWith('/') && existsSync(join(d, tool)));
}

function readSysctl(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * Whether this process may create a user namespace with a network and mount namespace, and why
 * not: the sysctls first (for a precise reason), then a real `unshare` (a security module such
 * as AppArmor's restrict_unprivileged_userns has the last word).
 */
export function userNamespaceSupport(): { ok: true } | { ok: false; reason: string } {
  if (readSysctl('/proc/sys/user/max_user_namespaces') === '0')
    return {
      ok: false,
      reason: 'user namespaces are disabled here (user.max_user_namespaces = 0)',
    };
  if (readSysctl('/proc/sys/kernel/unprivileged_userns_clone') === '0')
    return {
      ok: false,
      reason:
        'unprivileged user namespaces are disabled here (kernel.unprivileged_userns_clone = 0)',
    };
  for (const tool of ['unshare', 'nsenter', 'ip', 'mount'])
    if (!onPath(tool))
      return { ok: false, reason: `${tool} is not installed (util-linux, iproute2)` };
  const r = spawnSync('unshare', ['--user', '--map-root-user', '--net', '--mount', 'true'], {
    encoding: 'utf8',
    timeout: 10000,
  });
  if (r.status !== 0)
    return {
      ok: false,
      reason: `the kernel refused a user namespace (${printable((r.stderr || r.error?.message || `exit ${r.status}`).trim().slice(0, 200))})`,
    };
  return { ok: true };
}

/** Stand-in for `ip netns exec` when the namespaces belong to a user namespace of ours. */
export class UserNamespace {
  private readonly log: Logger;
  readonly resolvConf: string;
  private helper: ChildProcess | undefined;
  /** The TUN descriptor the helper passed, until the tunnel adopts it (openTun). */
  private tunFd: number | undefined;

  /** `dir`: our private runtime directory (ensureRuntimeDir), for the namespace's resolv.conf. */
  constructor(dir: string, log: Logger = NOOP_LOGGER) {
    this.log = log;
    this.resolvConf = join(dir, `exec-${process.pid}.resolv.conf`);
  }

  get name(): string {
    return `userns-${this.helper?.pid ?? '?'}`;
  }

  /**
   * Starts the helper and takes the TUN device it opened inside. Removes the resolv.conf files
   * of `vpn exec` processes that are gone (kill -9); returns their names.
   * @throws VpnError ERR_PRIVILEGE when the namespaces cannot be made, ERR_TUN without a TUN.
   */
  async create(): Promise<string[]> {
    const stale = removeStale(this.resolvConf);
    writeFileSync(this.resolvConf, '# ikev2-vpn exec: no DNS servers from the gateway\n', {
      mode: 0o644,
    });
    const chan = openPacketPair({ name: 'fd-channel' });
    try {
      const helper = spawn(
        'unshare',
        [
          '--user',
          '--map-root-user',
          '--net',
          '--mount',
          process.execPath,
          HELPER,
          this.resolvConf,
        ],
        {
          stdio: ['pipe', 'pipe', 'pipe', chan.peerFd],
          env: { PATH: `${process.env['PATH'] ?? ''}:/usr/sbin:/usr/bin:/sbin:/bin` },
        },
      );
      this.helper = helper;
      helper.stdin?.on('error', () => undefined);
      let err = '';
      helper.stderr?.on('data', (d: Buffer) => {
        if (err.length < 2000) err += d.toString();
      });
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(
          () =>
            reject(
              new VpnError(
                'ERR_PRIVILEGE',
                'vpn exec: the user namespace helper did not start in time',
              ),
            ),
          READY_MS,
        );
        helper.stdout?.on('data', (d: Buffer) => {
          if (d.toString().includes('ready')) {
            clearTimeout(t);
            resolve();
          }
        });
        helper.once('error', (e) => {
          clearTimeout(t);
          reject(new VpnError('ERR_PRIVILEGE', `cannot run unshare: ${e.message}`));
        });
        helper.once('exit', (code) => {
          clearTimeout(t);
          const why = printable(err.trim().slice(0, 500)) || `exit ${code ?? '?'}`;
          reject(
            new VpnError(
              /TUN|tun/.test(why) ? 'ERR_TUN' : 'ERR_PRIVILEGE',
              `cannot set up the private namespaces: ${why}`,
            ),
          );
        });
      });
      const got = recvFd(chan.device.fd!);
      if (!got) throw new VpnError('ERR_TUN', 'the user namespace helper sent no TUN device');
      this.tunFd = got.fd;
      this.log.debug(
        'tun',
        `TUN device ${printable(got.data.toString())} in ${this.name} (a user namespace of ours)`,
      );
    } finally {
      chan.device.close();
      closeFd(chan.peerFd);
    }
    return stale;
  }

  /** `ip ARGS` inside the namespaces, through nsenter (nothing else is run there). */
  private runner(): CommandRunner {
    return (cmd, args, input) => {
      const pid = this.helper?.pid;
      if (cmd !== 'ip' || pid === undefined)
        return Promise.reject(new VpnError('ERR_NETCFG', `${cmd} is not run inside the namespace`));
      return defaultRunner(
        'nsenter',
        ['--target', String(pid), '--user', '--net', '--preserve-credentials', '--', 'ip', ...args],
        input,
      );
    };
  }

  /** The tunnel's I/O: the TUN device from inside, changes made inside, DNS in our file. */
  io(): Partial<TunnelIo> {
    return {
      openTun: (opts: TunOptions): TunDevice => {
        const fd = this.tunFd;
        if (fd === undefined) throw new VpnError('ERR_TUN', 'no TUN device from the namespace');
        this.tunFd = undefined;
        return openTunFromFd(fd, opts.mtu !== undefined ? { mtu: opts.mtu } : {});
      },
      hostNetwork: (opts) =>
        namespaceHostNetwork(
          new NetConfigurator({ logger: opts.logger }),
          new NetConfigurator({
            logger: opts.logger,
            run: this.runner(),
            dnsBackend: 'file',
            resolvConf: this.resolvConf,
          }),
          opts.logger,
        ),
    };
  }

  /** How to run COMMAND in the namespaces (its working directory kept). */
  commandLine(command: string[]): [string, string[]] {
    const pid = String(this.helper?.pid ?? 0);
    return [
      'nsenter',
      [
        '--target',
        pid,
        '--user',
        '--net',
        '--mount',
        '--preserve-credentials',
        `--wd=${process.cwd()}`,
        '--',
        ...command,
      ],
    ];
  }

  /** Ends the helper (the namespaces go with their last process) and removes our file. */
  async remove(): Promise<string[]> {
    const errors: string[] = [];
    if (this.tunFd !== undefined) closeFd(this.tunFd);
    this.tunFd = undefined;
    const h = this.helper;
    if (h && h.exitCode === null && h.signalCode === null) {
      const gone = new Promise<void>((resolve) => h.once('exit', () => resolve()));
      h.stdin?.end();
      const t = setTimeout(() => h.kill('SIGKILL'), 3000);
      await gone;
      clearTimeout(t);
    }
    try {
      rmSync(this.resolvConf, { force: true });
    } catch (e) {
      errors.push((e as Error).message);
    }
    if (errors.length > 0) this.log.warn('tun', `cleaning up: ${errors.join('; ')}`);
    return errors;
  }
}

/** exec-<pid>.resolv.conf files next to `ours` whose process is gone. */
function removeStale(ours: string): string[] {
  const dir = ours.slice(0, ours.lastIndexOf('/'));
  const removed: string[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const n of names) {
    const m = /^exec-([1-9][0-9]{0,9})\.resolv\.conf$/.exec(n);
    if (!m || Number(m[1]) === process.pid) continue;
    try {
      process.kill(Number(m[1]), 0);
      continue;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EPERM') continue;
    }
    rmSync(join(dir, n), { force: true });
    removed.push(n);
  }
  return removed;
}
