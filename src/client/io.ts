/**
 * Everything the tunnel driver needs from the outside world, as one injectable bundle: the clock
 * and timers, name resolution, the TUN device, the UDP socket and the host network configurator.
 * `realIo()` gives the production implementations; tests hand in in-memory doubles and run a
 * whole tunnel without root (test/client/tunnel.test.ts).
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { VpnError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { UdpTransport, localAddressFor } from '../net/udp.js';
import type { DatagramTransport, UdpEndpoint, UdpHandlers } from '../net/udp.js';
import { openTun } from '../tun/linux.js';
import type { TunOptions } from '../tun/linux.js';
import type { TunDevice } from '../tun/tun.js';
import { NetConfigurator } from '../tun/netcfg.js';

/** What the driver changes on the host (a `NetConfigurator` in production); every change undone by `restore`. */
export type HostNetwork = Pick<
  NetConfigurator,
  | 'getRouteTo'
  | 'linkMtu'
  | 'setMtu'
  | 'setUp'
  | 'addAddress'
  | 'addRoute'
  | 'addRoutes'
  | 'addBlockRoute'
  | 'addHostRouteVia'
  | 'defaultPath'
  | 'pinnedPath'
  | 'repinHostRoute'
  | 'setDns'
  | 'restore'
> &
  // Optional: a host network without it (vpn exec's namespace) has no connections to keep.
  Partial<Pick<NetConfigurator, 'addBypass'>>;

/** One-shot timers (setTimeout/clearTimeout in production). */
export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface TunnelIo {
  /** Wall-clock milliseconds (Date.now in production). */
  now(): number;
  timers: Timers;
  /** The gateway's IP address for a host name (or the address itself). */
  resolve(host: string): Promise<string>;
  /** The source address the kernel would use towards `remote`. */
  localAddressFor(remote: UdpEndpoint): Promise<string>;
  openTun(opts: TunOptions): TunDevice;
  /** The node:dgram socket for IKE and, on the JavaScript data path, ESP-in-UDP. */
  openUdp(family: 4 | 6, localPort: number, handlers: UdpHandlers): Promise<DatagramTransport>;
  hostNetwork(opts: { logger: Logger; journalPath?: string }): HostNetwork;
}

const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (h) => clearTimeout(h as NodeJS.Timeout),
};

async function resolveGateway(host: string): Promise<string> {
  if (isIP(host)) return host;
  try {
    const r = await lookup(host);
    return r.address;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new VpnError('ERR_RESOLVE', `cannot resolve gateway "${host}" (${code})`, { cause: e });
  }
}

/** The production I/O: real clock, timers, DNS, TUN addon, node:dgram and iproute2. */
export function realIo(): TunnelIo {
  return {
    now: () => Date.now(),
    timers: realTimers,
    resolve: resolveGateway,
    localAddressFor,
    openTun,
    openUdp: (family, port, handlers) => UdpTransport.open(family, port, handlers),
    hostNetwork: (opts) => new NetConfigurator(opts),
  };
}

/**
 * Sleep detection for `NamedTimers`: a timer that fires `thresholdMs` or more after it was due
 * by the wall clock means the host slept (the monotonic clock behind setTimeout stands still
 * during a suspend while the wall clock runs on) or the process was stopped (SIGSTOP, a stalled
 * VM); a wall-clock step forward looks the same and costs one liveness check.
 */
export interface LateTimerWatch {
  now(): number;
  thresholdMs: number;
  /** Called once per sleep, before the first late timer's own callback runs. */
  onLate(lateMs: number): void;
}

/**
 * Named one-shot timers on top of `Timers`: setting a name replaces its previous timer, and a
 * timer's entry is gone once it fired or was cleared, so `has(name)` is always the truth.
 */
export class NamedTimers<K> {
  private readonly entries = new Map<K, unknown>();
  private readonly timers: Timers;
  private readonly watch: LateTimerWatch | undefined;
  /** When the last sleep was reported: timers due before it are leftovers of that sleep. */
  private lateSeenAt = -Infinity;

  constructor(timers: Timers, watch?: LateTimerWatch) {
    this.timers = timers;
    this.watch = watch;
  }

  set(name: K, ms: number, fn: () => void): void {
    this.clear(name);
    const due = this.watch ? this.watch.now() + Math.max(0, ms) : 0;
    const h = this.timers.set(
      () => {
        if (this.entries.get(name) !== h) return;
        const w = this.watch;
        if (w && w.thresholdMs > 0) {
          const now = w.now();
          if (now - due >= w.thresholdMs && due > this.lateSeenAt) {
            this.lateSeenAt = now;
            w.onLate(now - due);
            // The reaction may have replaced or cleared this timer (a stale retransmission).
            if (this.entries.get(name) !== h) return;
          }
        }
        this.entries.delete(name);
        fn();
      },
      Math.max(0, ms),
    );
    this.entries.set(name, h);
  }

  has(name: K): boolean {
    return this.entries.has(name);
  }

  clear(name: K): void {
    const h = this.entries.get(name);
    if (h !== undefined) this.timers.clear(h);
    this.entries.delete(name);
  }

  clearAll(): void {
    for (const h of this.entries.values()) this.timers.clear(h);
    this.entries.clear();
  }
}
