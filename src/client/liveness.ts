/**
 * The periodic work of an up tunnel for the driver (./tunnel.ts): NAT-T keepalives (RFC 3948 §4),
 * the one-way traffic check and the network path check. Each tick that finds the tunnel down
 * just stops.
 */
import type { Logger } from '../core/log.js';
import type { Endpoint } from '../ike/session.js';
import type { DataPath } from './datapath.js';
import type { HostNetwork, NamedTimers, TunnelIo } from './io.js';
import type { TunnelOptions, TunnelStatus, TunnelTimerKey } from './tunnel-types.js';

/** What the up timers need of the tunnel. */
export interface UpTimersHost {
  readonly opts: TunnelOptions;
  readonly io: TunnelIo;
  readonly log: Logger;
  readonly timers: NamedTimers<TunnelTimerKey>;
  state(): TunnelStatus['state'];
  session(): { readonly remoteEndpoint: Endpoint; readonly isNatHere: boolean } | undefined;
  dp(): DataPath | undefined;
  netcfg(): HostNetwork | undefined;
  tunName(): string | undefined;
  /** Our source address towards the gateway, as last told to the IKE session. */
  localAddress(): string;
  setLocalAddress(address: string): void;
  feed(input: { kind: 'probe' } | { kind: 'localAddress'; local: Endpoint }): void;
}

export class UpTimers {
  private readonly host: UpTimersHost;
  /** When we last sent anything to the gateway (IKE or a keepalive). */
  lastSentAt = 0;
  keepalivesSent = 0;

  constructor(host: UpTimersHost) {
    this.host = host;
  }

  /**
   * Watches the network under the tunnel (a laptop moving from Wi-Fi to Ethernet, a default route
   * moved to a second uplink): when the host's default route changes, our pinned route to the
   * gateway follows it, and a new source address goes to the IKE session, which moves the SAs
   * with MOBIKE (RFC 4555 §3.5) or reconnects.
   */
  schedulePathCheck(): void {
    const host = this.host;
    const interval = host.opts.pathCheckMs ?? 1000;
    host.timers.clear('path');
    if (interval <= 0) return;
    const tick = (): void => {
      void this.checkPath().finally(() => {
        if (host.state() === 'up' && !host.timers.has('path'))
          host.timers.set('path', interval, tick);
      });
    };
    host.timers.set('path', interval, tick);
  }

  private pathChecking = false;

  private async checkPath(): Promise<void> {
    const host = this.host;
    const session = host.session();
    const netcfg = host.netcfg();
    const dp = host.dp();
    if (!session || !netcfg || !dp || host.state() !== 'up' || this.pathChecking) return;
    this.pathChecking = true;
    try {
      const gw = session.remoteEndpoint;
      const pinned = netcfg.pinnedPath(gw.address);
      if (pinned) {
        const under = await netcfg.defaultPath(gw.address.includes(':'), host.tunName());
        if (under && (under.dev !== pinned.dev || under.via !== pinned.via)) {
          host.log.info(
            'net',
            `default route moved to ${under.via ?? 'link'} dev ${under.dev}: following it`,
          );
          await netcfg.repinHostRoute(gw.address, under);
        }
      }
      let local: string;
      try {
        local = await host.io.localAddressFor(gw);
      } catch {
        return; // no route at all right now; DPD decides if the gateway is gone
      }
      if (local !== host.localAddress()) {
        host.setLocalAddress(local);
        host.feed({ kind: 'localAddress', local: { address: local, port: dp.localPort } });
      }
    } catch (e) {
      host.log.warn('net', `checking the network path failed: ${(e as Error).message}`);
    } finally {
      this.pathChecking = false;
    }
  }

  scheduleKeepalive(): void {
    const host = this.host;
    const interval = host.opts.keepaliveMs ?? 20000;
    host.timers.clear('keepalive');
    host.timers.clear('oneway');
    if (interval <= 0) return;
    const tick = (): void => {
      const session = host.session();
      if (!session || host.state() !== 'up') return;
      const now = host.io.now();
      // RFC 3948 §4: keepalives only when we are behind a NAT and have sent nothing meanwhile.
      const espOut = host.dp()?.espOutAt(now) ?? 0;
      if (session.isNatHere && now - Math.max(this.lastSentAt, espOut) >= interval - 50) {
        host.dp()?.sendKeepalive(session.remoteEndpoint);
        this.lastSentAt = now;
        this.keepalivesSent++;
      }
      host.timers.set('keepalive', interval, tick);
    };
    host.timers.set('keepalive', interval, tick);
    this.scheduleOneWayCheck(interval);
  }

  private lastProbeAt = 0;

  /**
   * One-way traffic: we send ESP but nothing has come back for half a keepalive interval. A NAT
   * that dropped our mapping (and gave us a new port) looks exactly like this; an authenticated
   * IKE message from the new mapping lets the gateway follow (RFC 7296 §2.23, RFC 4555 §3.8), so
   * the session checks now instead of waiting for DPD. Checked every quarter interval and at
   * most once per interval, so traffic recovers within about one keepalive interval.
   */
  private scheduleOneWayCheck(interval: number): void {
    const host = this.host;
    const period = Math.max(250, interval / 4);
    const tick = (): void => {
      const dp = host.dp();
      if (host.state() !== 'up' || !dp) return;
      const now = host.io.now();
      if (
        now - dp.espOutAt(now) < interval / 2 &&
        now - dp.espInAt(now) >= interval / 2 &&
        now - this.lastProbeAt >= interval
      ) {
        this.lastProbeAt = now;
        host.log.debug('net', 'outbound traffic without answers: checking the gateway now');
        host.feed({ kind: 'probe' });
      }
      host.timers.set('oneway', period, tick);
    };
    host.timers.set('oneway', period, tick);
  }
}
