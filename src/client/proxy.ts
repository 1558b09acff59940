/**
 * Proxy mode (`vpn connect --socks5 [ADDR:]PORT`): the tunnel without a TUN device, a route or a
 * DNS change, and without privilege. The inner IP packets go to a userspace TCP/IP stack that
 * serves SOCKS5 on loopback: Debian's `ocproxy` (lwIP), the stack openconnect users run behind
 * `--script-tun`. It gets one end of a `socketpair(AF_UNIX, SOCK_DGRAM)` in the environment
 * variable VPNFD (one IP packet per read and write, as a TUN descriptor), the virtual IP
 * (INTERNAL_IP4_ADDRESS), the MTU (INTERNAL_IP4_MTU) and the gateway's DNS server and domain
 * (INTERNAL_IP4_DNS, CISCO_DEF_DOMAIN: names a client asks SOCKS5 to connect to, `socks5h://`,
 * are resolved through the tunnel). Our end of the pair is where the TUN descriptor would be, for
 * the JavaScript data path and the native threads alike.
 *
 * ocproxy starts once the tunnel is up (it needs the virtual IP); `start()` returns when its
 * SOCKS5 port accepts connections. If it dies it is started again (at most RESTARTS times a
 * minute), then the tunnel ends. It is ended by PID on every exit path; after a `kill -9` of
 * `vpn` it sees the pair's other end close (its once-a-second empty datagram fails with
 * ECONNREFUSED) and exits by itself.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { connect, createServer, isIPv4 } from 'node:net';
import { delimiter, join } from 'node:path';
import { VpnError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { NOOP_LOGGER } from '../core/log.js';
import { printable } from '../core/printable.js';
import { NetConfigurator } from '../tun/netcfg.js';
import { closeFd, openPacketPair } from '../tun/linux.js';
import type { TunOptions } from '../tun/linux.js';
import type { TunDevice } from '../tun/tun.js';
import type { HostNetwork, TunnelIo } from './io.js';
import { namespaceHostNetwork } from './netns.js';
import type { TunnelSummary } from './tunnel-types.js';

/** Where the SOCKS5 server listens. ocproxy binds one IPv4 address (default 127.0.0.1). */
export interface ProxyListen {
  host: string;
  port: number;
}

/**
 * Parses `--socks5 [ADDR:]PORT`: ADDR an IPv4 address (ocproxy binds IPv4 only) or `localhost`,
 * default 127.0.0.1. @throws VpnError ERR_CONFIG with the accepted forms.
 */
export function parseListen(value: string, flag = '--socks5'): ProxyListen {
  const m = /^(?:(.*):)?([0-9]{1,5})$/.exec(value.trim());
  const host = m?.[1] === undefined || m[1] === 'localhost' ? '127.0.0.1' : m[1];
  const port = m ? Number(m[2]) : NaN;
  if (!m || !isIPv4(host) || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new VpnError(
      'ERR_CONFIG',
      `${flag} ${JSON.stringify(value)}: expected [ADDRESS:]PORT with an IPv4 address (default 127.0.0.1), e.g. 127.0.0.1:1080`,
    );
  }
  return { host, port };
}

/** How the stack is found: VPN_OCPROXY (an absolute path), else `ocproxy` on the PATH. */
export function findOcproxy(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const exe = (p: string): boolean => {
    try {
      accessSync(p, fsConstants.X_OK);
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  const forced = env['VPN_OCPROXY'];
  if (forced !== undefined && forced !== '')
    return forced.startsWith('/') && exe(forced) ? forced : undefined;
  for (const d of (env['PATH'] ?? '/usr/bin:/bin').split(delimiter)) {
    // Only absolute folders: a relative PATH entry would depend on the current directory.
    if (d.startsWith('/') && exe(join(d, 'ocproxy'))) return join(d, 'ocproxy');
  }
  return undefined;
}

/** The error for a machine without ocproxy: exit 18, with the package to install. */
export function ocproxyMissing(env: NodeJS.ProcessEnv = process.env): VpnError {
  const forced = env['VPN_OCPROXY'];
  return new VpnError(
    'ERR_PROXY_MISSING',
    forced
      ? `proxy mode needs ocproxy, and VPN_OCPROXY=${JSON.stringify(forced)} is not an executable file (an absolute path)`
      : 'proxy mode (--socks5) needs ocproxy, the userspace TCP/IP stack that serves SOCKS5: install it (apt-get install ocproxy) or set VPN_OCPROXY to its path',
  );
}

/**
 * Refuses a listening address that is taken (or not ours to bind) before anything connects:
 * ocproxy would only die later with "can't set up listener".
 */
export async function checkListenFree(l: ProxyListen): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const srv = createServer();
    srv.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new VpnError(
          'ERR_CONFIG',
          `cannot listen on ${l.host}:${l.port} for SOCKS5 (${e.code ?? e.message}): ${e.code === 'EADDRINUSE' ? 'the port is in use; pick another' : 'pick another address or port'}`,
        ),
      ),
    );
    srv.listen({ host: l.host, port: l.port, exclusive: true }, () => srv.close(() => resolve()));
  });
}

/**
 * The "inside" of proxy mode's host configurator: it changes nothing (there is no device to
 * configure; ocproxy gets the address, MTU and DNS when it starts). Questions about the path to
 * the gateway go to the host (namespaceHostNetwork's `outer`), never here.
 */
function nothingToChange(): HostNetwork {
  const none = (): Promise<void> => Promise.resolve();
  const notAsked = (): Promise<never> =>
    Promise.reject(new VpnError('ERR_NETCFG', 'proxy mode reads the path from the host'));
  return {
    getRouteTo: notAsked,
    linkMtu: notAsked,
    defaultPath: notAsked,
    pinnedPath: () => undefined,
    repinHostRoute: () => Promise.resolve(false),
    addHostRouteVia: none,
    setMtu: none,
    setUp: none,
    addAddress: none,
    addRoute: none,
    addRoutes: none,
    addBlockRoute: none,
    setDns: () => Promise.resolve(undefined),
    restore: () => Promise.resolve([]),
  };
}

/** A name a gateway sent as a DNS domain, if it is a plain host name (else not passed on). */
function saneDomain(d: string | undefined): string | undefined {
  return d !== undefined && /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(d)
    ? d
    : undefined;
}

/** What OcproxyStack reports: it serves SOCKS5 (again), or it died and is started again. */
export type ProxyEvent = { type: 'ready'; pid: number } | { type: 'restarting'; reason: string };

/** ocproxy started again at most this often in RESTART_WINDOW_MS; then the tunnel ends. */
const RESTARTS = 3;
const RESTART_WINDOW_MS = 60000;
/** How long ocproxy may take to accept SOCKS5 connections. */
const READY_MS = 10000;
/** After SIGTERM, how long before SIGKILL. */
const KILL_MS = 2000;

export interface OcproxyOptions {
  listen: ProxyListen;
  /** The ocproxy executable (findOcproxy()). */
  binary: string;
  logger?: Logger;
  /** TCP keepalive interval ocproxy uses on connections inside the tunnel, in s (0: none). */
  keepaliveS?: number;
}

export class OcproxyStack {
  private readonly opts: OcproxyOptions;
  private readonly log: Logger;
  private device: TunDevice | undefined;
  private peerFd: number | undefined;
  private child: ChildProcess | undefined;
  private config: { ip4: string; mtu: number; dns: string[]; domain?: string } | undefined;
  private stopping = false;
  /** ocproxy processes told to end and not yet gone (stop() waits for them). */
  private readonly dying = new Set<Promise<void>>();
  private restarts: number[] = [];
  private fatal: ((err: VpnError) => void) | undefined;
  private notify: ((e: ProxyEvent) => void) | undefined;

  constructor(opts: OcproxyOptions) {
    this.opts = opts;
    this.log = opts.logger ?? NOOP_LOGGER;
  }

  get listen(): ProxyListen {
    return this.opts.listen;
  }

  /** ocproxy's PID while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** What the user should hear of: ocproxy serving (again), ocproxy restarting. */
  onEvent(cb: (e: ProxyEvent) => void): void {
    this.notify = cb;
  }

  /** Called once when ocproxy keeps dying (or cannot start again): the tunnel must end. */
  onFatal(cb: (err: VpnError) => void): void {
    this.fatal = cb;
  }

  /**
   * The tunnel's I/O in proxy mode: the packet pair instead of a TUN device; the path to the
   * gateway read from the host (`ip route get`, no privilege), and no change to it at all.
   */
  io(): Partial<TunnelIo> {
    return {
      openTun: (o: TunOptions): TunDevice => {
        if (this.device) throw new VpnError('ERR_TUN', 'proxy mode opens its packet pair once');
        const { device, peerFd } = openPacketPair({ name: 'ocproxy', mtu: o.mtu ?? 1400 });
        this.device = device;
        this.peerFd = peerFd;
        return device;
      },
      hostNetwork: (o) =>
        namespaceHostNetwork(
          new NetConfigurator({ logger: o.logger }),
          nothingToChange(),
          o.logger,
        ),
    };
  }

  /**
   * Starts ocproxy for the tunnel that just came up (again: with a new virtual IP it is
   * restarted, otherwise left running). Resolves once its SOCKS5 port accepts a connection.
   * @throws VpnError ERR_CONFIG without a virtual IPv4 address, ERR_NETCFG if it does not start.
   */
  async start(summary: TunnelSummary): Promise<void> {
    if (this.stopping) return;
    if (!summary.virtualIp4) {
      throw new VpnError(
        'ERR_CONFIG',
        'proxy mode needs a virtual IPv4 address from the gateway, and it assigned none',
      );
    }
    const domain = saneDomain(summary.domains[0]);
    const next = {
      ip4: summary.virtualIp4,
      mtu: summary.mtu,
      dns: summary.dns.filter((d) => isIPv4(d)),
      ...(domain ? { domain } : {}),
    };
    const same = JSON.stringify(next) === JSON.stringify(this.config);
    this.config = next;
    if (same && this.running()) return;
    if (this.running()) await this.kill();
    this.spawn();
    await this.waitReady();
    this.notify?.({ type: 'ready', pid: this.child?.pid ?? 0 });
  }

  private running(): boolean {
    const c = this.child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  private spawn(): void {
    const cfg = this.config;
    if (cfg === undefined || this.peerFd === undefined) return;
    const { host, port } = this.opts.listen;
    const args = ['-D', `${host}:${port}`];
    if (this.opts.keepaliveS) args.push('-k', String(this.opts.keepaliveS));
    // A minimal environment: none of ours (VPN_PSK...) reaches it.
    const env: NodeJS.ProcessEnv = {
      PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
      VPNFD: '3',
      INTERNAL_IP4_ADDRESS: cfg.ip4,
      INTERNAL_IP4_MTU: String(cfg.mtu),
      ...(cfg.dns.length > 0 ? { INTERNAL_IP4_DNS: cfg.dns.join(' ') } : {}),
      ...(cfg.domain ? { CISCO_DEF_DOMAIN: cfg.domain } : {}),
    };
    // Its own process group: Ctrl-C in the terminal (or `timeout`) signals our group, and we
    // end it ourselves, by PID, after the DELETE.
    const child = spawn(this.opts.binary, args, {
      env,
      stdio: ['ignore', 'pipe', 'pipe', this.peerFd],
      detached: true,
    });
    this.child = child;
    this.log.info(
      'tun',
      `ocproxy (pid ${child.pid ?? '?'}) serves SOCKS5 on ${host}:${port} for ${cfg.ip4}${cfg.dns.length ? `, DNS ${cfg.dns[0]!}` : ''}`,
    );
    const relay = (d: Buffer): void => {
      for (const l of d.toString('utf8').split('\n').slice(0, 20)) {
        if (l.trim() !== '') this.log.debug('tun', `ocproxy: ${printable(l.slice(0, 300))}`);
      }
    };
    child.stdout?.on('data', relay);
    child.stderr?.on('data', relay);
    child.on('error', (e) => this.log.warn('tun', `ocproxy: ${e.message}`));
    child.on('exit', (code, signal) => {
      if (this.child !== child || this.stopping) return;
      this.onDied(`exit ${code ?? signal ?? '?'}`);
    });
  }

  /** ocproxy ended without being asked: start it again, unless it keeps dying. */
  private onDied(how: string): void {
    const now = Date.now();
    this.restarts = this.restarts.filter((t) => now - t < RESTART_WINDOW_MS);
    if (this.restarts.length >= RESTARTS) {
      this.fatal?.(
        new VpnError(
          'ERR_NETCFG',
          `ocproxy, the proxy's TCP/IP stack, stopped (${how}) ${RESTARTS + 1} times within a minute; giving up`,
        ),
      );
      return;
    }
    this.restarts.push(now);
    this.notify?.({ type: 'restarting', reason: how });
    setTimeout(() => {
      if (this.stopping) return;
      this.spawn();
      this.waitReady().then(
        () => this.notify?.({ type: 'ready', pid: this.child?.pid ?? 0 }),
        (e: unknown) => this.onDied((e as Error).message),
      );
    }, 500).unref();
  }

  /** Resolves once ocproxy accepts a TCP connection on its SOCKS5 port. */
  private async waitReady(): Promise<void> {
    const child = this.child;
    const { host, port } = this.opts.listen;
    const deadline = Date.now() + READY_MS;
    for (;;) {
      if (!child || child.exitCode !== null || child.signalCode !== null) {
        throw new VpnError(
          'ERR_NETCFG',
          `ocproxy exited (${child?.exitCode ?? child?.signalCode ?? '?'}) before serving SOCKS5 on ${host}:${port}`,
        );
      }
      const ok = await new Promise<boolean>((resolve) => {
        const s = connect({ host, port });
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      });
      if (ok) return;
      if (Date.now() > deadline)
        throw new VpnError('ERR_NETCFG', `ocproxy did not serve SOCKS5 on ${host}:${port} in time`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM to ocproxy by PID, SIGKILL after KILL_MS; resolves once it is gone. */
  private async kill(): Promise<void> {
    const child = this.child;
    // Forgotten first: its exit is ours, not a death to restart it after.
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.dying.add(gone);
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), KILL_MS);
    await gone;
    clearTimeout(t);
    this.dying.delete(gone);
  }

  /** Ends ocproxy and closes our copy of its end of the pair. Idempotent; never throws. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.kill();
    // Also one that an earlier call (the tunnel's 'down' event) is ending: gone before we return.
    await Promise.all([...this.dying]);
    if (this.peerFd !== undefined) {
      try {
        closeFd(this.peerFd);
      } catch {
        // already closed
      }
      this.peerFd = undefined;
    }
  }
}
