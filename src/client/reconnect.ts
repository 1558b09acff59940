/**
 * Reconnecting for the tunnel driver (./tunnel.ts): the IKE SA is gone (dead peer, gateway DELETE
 * or restart) but the host stays configured; a new IKE SA is negotiated with capped exponential
 * backoff. Also here: RFC 4478 reauthentication, the retry budget's stability timer, waking up
 * after a sleep, and waiting for a route to the gateway to come back.
 */
import { VpnError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { UdpEndpoint } from '../net/udp.js';
import type { NamedTimers, TunnelIo } from './io.js';
import type { TunnelEvent, TunnelOptions, TunnelStatus, TunnelTimerKey } from './tunnel-types.js';

/** What the reconnect logic needs of the tunnel. */
export interface ReconnectHost {
  readonly opts: TunnelOptions;
  readonly io: TunnelIo;
  readonly log: Logger;
  readonly timers: NamedTimers<TunnelTimerKey>;
  state(): TunnelStatus['state'];
  setState(s: TunnelStatus['state']): void;
  /** The running IKE session's state and retransmission budget, if there is one. */
  session(): { state: string; totalTimeoutMs(): number } | undefined;
  /** Closes the IKE SA (DELETE) or reports a liveness check after a wake to the session. */
  feed(input: { kind: 'close' } | { kind: 'wake'; sleptMs: number; budgetMs: number }): void;
  emit(e: TunnelEvent): void;
  teardown(err: VpnError | undefined, byPeer: boolean): void;
  remote(): UdpEndpoint | undefined;
  /** The tunnel has been up (a summary exists): the host is configured. */
  wasUp(): boolean;
  userClosing(): boolean;
  pendingError(): VpnError | undefined;
  /** A new IKE session can be started (configuration and data path exist). */
  canStart(): boolean;
  /** A new IKE session from `local` to the tunnel's remote endpoint. */
  startSession(local: string): boolean;
}

export class Reconnector {
  private attempts = 0;
  private reauthing = false;
  /** The last attempt found no route to the gateway (the network is gone). */
  private waitingForRoute = false;
  /** Until when a failed liveness check counts as the one started by a wake. */
  private wakeCheckUntil = -Infinity;

  private readonly host: ReconnectHost;

  constructor(host: ReconnectHost) {
    this.host = host;
  }

  /**
   * RFC 4478: the gateway gave the IKE SA an authentication lifetime. Before it runs out we
   * reauthenticate: close the IKE SA and negotiate a new one with a full IKE_AUTH, keeping the
   * TUN device, routes and DNS (break-before-make, strongSwan 5.9's default).
   */
  scheduleReauth(lifetimeS: number | undefined): void {
    const host = this.host;
    host.timers.clear('reauth');
    if (lifetimeS === undefined || lifetimeS <= 0) return;
    // At 85-90 % of the lifetime, so a slow handshake still finishes in time.
    const ms = Math.max(1000, lifetimeS * 1000 * (0.85 + 0.05 * Math.random()));
    host.timers.set('reauth', ms, () => {
      if (host.state() !== 'up' || !host.session()) return;
      host.log.info(
        'ike',
        `reauthenticating: the gateway's AUTH_LIFETIME of ${lifetimeS} s is ending`,
      );
      this.reauthing = true;
      host.feed({ kind: 'close' });
    });
  }

  /** The IKE session closed (not for a redirect): reauthenticate, reconnect or tear down. */
  onSessionClosed(error: VpnError | undefined, byPeer: boolean): void {
    const host = this.host;
    if (this.reauthing && !host.userClosing()) {
      this.reauthing = false;
      host.setState('reconnecting');
      host.emit({
        type: 'reconnecting',
        attempt: 0,
        inMs: 0,
        reason: 'reauthentication (RFC 4478)',
      });
      void this.restartSession();
      return;
    }
    const retry = host.opts.retry ?? 3;
    // Once the tunnel has been up, a lost SA is retried; so is any refusal while reconnecting,
    // since a gateway that is restarting may answer before its configuration is loaded.
    const retriable =
      error !== undefined &&
      (host.state() === 'reconnecting' ||
        error.code === 'ERR_IKE_TIMEOUT' ||
        error.code === 'ERR_IKE_DELETED' ||
        error.code === 'ERR_IKE_PEER_ERROR');
    if (
      host.userClosing() ||
      !host.wasUp() ||
      !retriable ||
      host.pendingError() !== undefined ||
      (retry !== 'forever' && this.attempts >= retry)
    ) {
      host.teardown(error, byPeer);
      return;
    }
    this.attempts++;
    // The check after a sleep failed: the gateway forgot us; reconnect now, not in a second.
    const inMs =
      this.attempts === 1 && host.io.now() <= this.wakeCheckUntil
        ? 0
        : Math.min(30000, 1000 * Math.pow(2, this.attempts - 1));
    host.setState('reconnecting');
    host.emit({
      type: 'reconnecting',
      attempt: this.attempts,
      inMs,
      reason: error.message,
    });
    host.timers.set('reconnect', inMs, () => void this.restartSession());
    if (this.waitingForRoute) this.watchRoute();
  }

  /**
   * No route to the gateway (Wi-Fi out of range, a cable pulled, minutes without a network):
   * rather than wait out a backoff of up to 30 s once it is back, look every 2 s and reconnect
   * as soon as the kernel has a route again.
   */
  private watchRoute(): void {
    const host = this.host;
    const remote = host.remote();
    if (!remote) return;
    host.timers.set('route', 2000, () => {
      if (host.state() !== 'reconnecting' || !host.timers.has('reconnect')) return;
      host.io.localAddressFor(remote).then(
        () => {
          if (host.state() !== 'reconnecting' || !host.timers.has('reconnect')) return;
          host.log.info('net', 'a route to the gateway is back: reconnecting now');
          host.timers.set('reconnect', 0, () => void this.restartSession());
        },
        () => this.watchRoute(),
      );
    });
  }

  /**
   * The timers fired `sleptMs` late (./io.ts LateTimerWatch): the host slept or we were stopped.
   * Meanwhile the gateway may have run out its DPD or lifetimes and forgotten the IKE SA, so
   * the tunnel checks at once (one request with a short budget, RFC 7296 §2.4) rather than
   * trusting a stale retransmission schedule; a pending reconnect runs now.
   */
  onWake(sleptMs: number): void {
    const host = this.host;
    host.emit({ type: 'wake', sleptMs });
    const session = host.session();
    if (host.state() === 'up' && session && session.state === 'established') {
      const budgetMs = Math.min(host.opts.wakeCheckMs ?? 3000, session.totalTimeoutMs());
      this.wakeCheckUntil = host.io.now() + budgetMs + 1000;
      host.feed({ kind: 'wake', sleptMs, budgetMs });
    } else if (host.state() === 'reconnecting' && host.timers.has('reconnect')) {
      host.timers.set('reconnect', 0, () => void this.restartSession());
    }
  }

  private async restartSession(): Promise<void> {
    const host = this.host;
    const remote = host.remote();
    if (!remote || !host.canStart() || host.state() !== 'reconnecting') return;
    let local: string;
    try {
      local = await host.io.localAddressFor(remote);
      this.waitingForRoute = false;
    } catch (e) {
      // No route to the gateway right now (e.g. no network): count it as a failed attempt.
      this.waitingForRoute = true;
      this.onSessionClosed(
        e instanceof VpnError ? new VpnError('ERR_IKE_TIMEOUT', e.message) : undefined,
        false,
      );
      return;
    }
    host.startSession(local);
  }

  /**
   * The retry budget (`--retry`) is given back only once the tunnel has stayed up for
   * `stableMs` (default 60 s, two DPD intervals): a gateway that accepts every new IKE SA and
   * then deletes it (or a path that dies right after each handshake) runs the budget out
   * instead of reconnecting forever.
   */
  scheduleStable(): void {
    const host = this.host;
    const ms = host.opts.stableMs ?? 60000;
    host.timers.set('stable', ms, () => {
      if (host.state() !== 'up') return;
      if (this.attempts > 0)
        host.log.debug('ike', `up for ${ms / 1000} s: reconnect attempts count from zero again`);
      this.attempts = 0;
    });
  }
}
