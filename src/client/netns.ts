/**
 * A private network namespace for `vpn exec`: the tunnel is the only network inside it.
 *
 * The IKE/ESP socket stays in the caller's namespace (this process never leaves it); the TUN
 * device is opened here as usual and then moved into the namespace (`ip link set dev X netns NS`:
 * the open descriptor keeps working, it belongs to the device, not to a namespace) before it is
 * configured. Every change the tunnel driver makes goes through `ip -n NS`, and DNS goes to the
 * namespace's own resolv.conf (`/etc/netns/NS/resolv.conf`, which `ip netns exec` bind-mounts over
 * /etc/resolv.conf for the command). Nothing in the caller's routes, addresses or resolv.conf
 * changes; `remove()` deletes the namespace and /etc/netns/NS.
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VpnError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { NOOP_LOGGER } from '../core/log.js';
import { NetConfigurator, defaultRunner } from '../tun/netcfg.js';
import type { CommandRunner } from '../tun/netcfg.js';
import { openTun } from '../tun/linux.js';
import type { TunOptions } from '../tun/linux.js';
import type { TunDevice } from '../tun/tun.js';
import type { HostNetwork, TunnelIo } from './io.js';

/** Where `ip netns exec` finds per-namespace files (iproute2's NETNS_ETC_DIR). */
export const NETNS_ETC = '/etc/netns';

/** Namespace names we create: `vpnx-<pid>` (letters, digits, "-": safe as a path element). */
export function execNamespaceName(pid = process.pid): string {
  return `vpnx-${pid}`;
}

/** CAP_SYS_ADMIN (bit 21) in our effective set: what creating a network namespace needs. */
export function hasSysAdmin(status?: string): boolean {
  if (status === undefined) {
    // Read even as root: uid 0 without CAP_SYS_ADMIN (a container, setpriv) cannot create one.
    try {
      status = readFileSync('/proc/self/status', 'utf8');
    } catch {
      return false;
    }
  }
  const m = /^CapEff:\s*([0-9a-fA-F]{1,16})$/m.exec(status);
  if (!m) return false;
  return (BigInt(`0x${m[1]!}`) & (1n << 21n)) !== 0n;
}

/** A `CommandRunner` that runs `ip` inside namespace `ns` (`ip -n NS …`); nothing else. */
export function namespaceRunner(ns: string, run: CommandRunner = defaultRunner): CommandRunner {
  checkName(ns);
  return (cmd, args, input) => {
    if (cmd !== 'ip') {
      return Promise.reject(
        new VpnError('ERR_NETCFG', `${cmd} is not run inside the namespace ${ns}`),
      );
    }
    return run('ip', ['-n', ns, ...args], input);
  };
}

function checkName(ns: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,30}$/.test(ns)) {
    throw new VpnError('ERR_NETCFG', `invalid namespace name ${JSON.stringify(ns)}`);
  }
}

/**
 * The host configurator for a tunnel whose TUN device lives in namespace `ns`: questions about the
 * path to the gateway (route, link MTU, default route) are answered in the caller's namespace
 * (`outer`); every change is made inside the namespace (`inner`). The gateway needs no pinned host
 * route: its packets leave from the caller's namespace, never from this one.
 */
export function namespaceHostNetwork(
  outer: HostNetwork,
  inner: HostNetwork,
  log: Logger = NOOP_LOGGER,
): HostNetwork {
  return {
    getRouteTo: (ip) => outer.getRouteTo(ip),
    linkMtu: (dev) => outer.linkMtu(dev),
    defaultPath: (v6, exclude) => outer.defaultPath(v6, exclude),
    pinnedPath: () => undefined,
    repinHostRoute: () => Promise.resolve(false),
    addHostRouteVia: (dest) => {
      log.debug('tun', `no host route to ${dest}: IKE and ESP leave from the caller's namespace`);
      return Promise.resolve();
    },
    setMtu: (dev, mtu) => inner.setMtu(dev, mtu),
    setUp: (dev) => inner.setUp(dev),
    addAddress: (dev, cidr) => inner.addAddress(dev, cidr),
    addRoute: (dest, opts) => inner.addRoute(dest, opts),
    addRoutes: (dests, opts) => inner.addRoutes(dests, opts),
    addBlockRoute: (dest, metric) => inner.addBlockRoute(dest, metric),
    setDns: (dev, servers, domains, opts) => inner.setDns(dev, servers, domains, opts),
    restore: () => inner.restore(),
  };
}

/** The text of the namespace's resolv.conf before (and after) the gateway's DNS is set. */
const EMPTY_RESOLV = '# ikev2-vpn exec: no DNS servers from the gateway\n';

export class ExecNamespace {
  readonly name: string;
  readonly etcDir: string;
  private readonly log: Logger;
  private created = false;

  constructor(name = execNamespaceName(), log: Logger = NOOP_LOGGER) {
    checkName(name);
    this.name = name;
    this.log = log;
    this.etcDir = join(NETNS_ETC, name);
  }

  get resolvConf(): string {
    return join(this.etcDir, 'resolv.conf');
  }

  /**
   * Creates the namespace (loopback up) and its /etc/netns directory with a resolv.conf of its
   * own, so the command never sees the caller's servers (unreachable from inside). A namespace or
   * directory of this name is ours (the name carries our pid): left by an earlier process with
   * the same pid, it is replaced. Returns the names of namespaces left by killed `vpn exec`
   * processes that were removed first (`staleNamespaces`).
   * @throws VpnError ERR_PRIVILEGE without CAP_SYS_ADMIN, ERR_NETCFG otherwise.
   */
  async create(): Promise<string[]> {
    if (!hasSysAdmin()) {
      throw new VpnError(
        'ERR_PRIVILEGE',
        'vpn exec needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) to create a network namespace',
      );
    }
    this.created = true;
    const stale = await removeStale(this.log);
    try {
      await defaultRunner('ip', ['netns', 'add', this.name]);
    } catch (e) {
      if (!/File exists/i.test((e as Error).message)) throw e;
      this.log.warn('tun', `replacing a stale network namespace ${this.name}`);
      await defaultRunner('ip', ['netns', 'del', this.name]);
      await defaultRunner('ip', ['netns', 'add', this.name]);
    }
    await defaultRunner('ip', ['-n', this.name, 'link', 'set', 'dev', 'lo', 'up']);
    mkdirSync(NETNS_ETC, { recursive: true, mode: 0o755 });
    removeEtcDir(this.etcDir);
    mkdirSync(this.etcDir, { mode: 0o755 });
    writeFileSync(this.resolvConf, EMPTY_RESOLV, { mode: 0o644, flag: 'wx' });
    return stale;
  }

  /** Moves a device from the caller's namespace into this one (synchronously: no packet races). */
  moveDevice(dev: string): void {
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(dev)) {
      throw new VpnError('ERR_NETCFG', `invalid interface name ${JSON.stringify(dev)}`);
    }
    try {
      execFileSync('ip', ['link', 'set', 'dev', dev, 'netns', this.name], {
        timeout: 10000,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
    } catch (e) {
      const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim();
      throw new VpnError(
        'ERR_NETCFG',
        `cannot move ${dev} into namespace ${this.name}: ${stderr || (e as Error).message}`,
        { cause: e },
      );
    }
  }

  /**
   * The tunnel driver's I/O for this namespace: the TUN device opened in the caller's namespace
   * and moved here; host changes inside the namespace, DNS in its own resolv.conf.
   */
  io(): Partial<TunnelIo> {
    return {
      openTun: (opts: TunOptions): TunDevice => {
        const tun = openTun(opts);
        try {
          this.moveDevice(tun.name);
        } catch (e) {
          tun.close();
          throw e;
        }
        return tun;
      },
      hostNetwork: (opts) =>
        namespaceHostNetwork(
          new NetConfigurator({ logger: opts.logger }),
          new NetConfigurator({
            logger: opts.logger,
            run: namespaceRunner(this.name),
            dnsBackend: 'file',
            resolvConf: this.resolvConf,
          }),
          opts.logger,
        ),
    };
  }

  /** How to run COMMAND in the namespace: `ip netns exec` (which also mounts its resolv.conf). */
  commandLine(command: string[]): [string, string[]] {
    return ['ip', ['netns', 'exec', this.name, ...command]];
  }

  /** Deletes the namespace and /etc/netns/NS; safe to call more than once. Never throws. */
  async remove(): Promise<string[]> {
    const errors: string[] = [];
    if (!this.created) return errors;
    try {
      await defaultRunner('ip', ['netns', 'del', this.name]);
    } catch (e) {
      const m = (e as Error).message;
      if (!/No such file|does not exist/i.test(m)) errors.push(m);
    }
    try {
      removeEtcDir(this.etcDir);
    } catch (e) {
      errors.push((e as Error).message);
    }
    if (errors.length > 0) this.log.warn('tun', `cleaning up ${this.name}: ${errors.join('; ')}`);
    else this.created = false;
    return errors;
  }
}

/** Where iproute2 keeps named namespaces (NETNS_RUN_DIR). */
const NETNS_RUN = '/run/netns';

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Namespaces (and /etc/netns directories) of `vpn exec` processes that are gone (kill -9): named
 * `vpnx-<pid>` with no such process any more. Others' names and live processes are left alone.
 */
export function staleNamespaces(): string[] {
  const names = new Set<string>();
  for (const dir of [NETNS_RUN, NETNS_ETC]) {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of entries) {
      const m = /^vpnx-([1-9][0-9]{0,9})$/.exec(n);
      if (m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]))) names.add(n);
    }
  }
  return [...names].sort();
}

/** Removes what `staleNamespaces` lists; best effort (failures logged). Returns what went. */
async function removeStale(log: Logger): Promise<string[]> {
  const removed: string[] = [];
  for (const n of staleNamespaces()) {
    try {
      if (readdirSync(NETNS_RUN).includes(n)) await defaultRunner('ip', ['netns', 'del', n]);
      removeEtcDir(join(NETNS_ETC, n));
      removed.push(n);
    } catch (e) {
      log.warn('tun', `cannot remove ${n}: ${(e as Error).message}`);
    }
  }
  return removed;
}

/** Removes /etc/netns/NS (a symbolic link is removed, never followed). */
function removeEtcDir(dir: string): void {
  try {
    lstatSync(dir);
  } catch {
    return;
  }
  rmSync(dir, { recursive: true, force: true });
}
