/**
 * RFC 5685 redirects for the tunnel driver (./tunnel.ts): the session closed after the gateway
 * sent us elsewhere (in IKE_SA_INIT, IKE_AUTH, or on the established SA); we connect to the new
 * gateway, naming the old one in REDIRECTED_FROM, and keep the TUN device, routes and DNS
 * (break-before-make, like a reconnect).
 */
import { isIP } from 'node:net';
import { VpnError } from '../core/errors.js';
import type { RedirectDuring, RedirectTarget } from '../ike/redirect.js';
import type { UdpEndpoint } from '../net/udp.js';
import type { HostNetwork, TunnelIo } from './io.js';
import type { TunnelEvent, TunnelOptions } from './tunnel-types.js';

/** What the redirect logic needs of the tunnel. */
export interface RedirectHost {
  readonly opts: TunnelOptions;
  readonly io: TunnelIo;
  /** The gateway address we talk to now. */
  gatewayAddress(): string;
  /** The tunnel has been up (a summary exists): the host is configured. */
  wasUp(): boolean;
  /** The user or an error is ending the tunnel (checked again after each await). */
  stopping(): boolean;
  emit(e: TunnelEvent): void;
  teardown(err: VpnError): void;
  netcfg(): HostNetwork | undefined;
  tunName(): string | undefined;
  /** Points the tunnel at `address` (gateway address, remote endpoint, REDIRECTED_FROM `from`). */
  retarget(address: string, from: string): UdpEndpoint;
  markReconnecting(): void;
  /** A new IKE session from `local` to the tunnel's remote endpoint; false when no data path. */
  startSession(local: string): boolean;
}

export class Redirects {
  pending: { gateway: RedirectTarget; during: RedirectDuring } | undefined;
  /** When we followed redirects, for the loop cap (RFC 5685 §7). */
  private readonly times: number[] = [];
  redirectedFrom: string | undefined;
  /** Between a redirect and the new gateway's IKE_SA_INIT (no session runs then). */
  redirecting = false;

  private readonly host: RedirectHost;

  constructor(host: RedirectHost) {
    this.host = host;
  }

  async follow(gw: RedirectTarget, during: RedirectDuring): Promise<void> {
    this.redirecting = true;
    try {
      await this.redirectTo(gw, during);
    } finally {
      this.redirecting = false;
    }
  }

  private async redirectTo(gw: RedirectTarget, during: RedirectDuring): Promise<void> {
    const host = this.host;
    const from = host.gatewayAddress();
    const now = host.io.now();
    const max = host.opts.maxRedirects ?? 5;
    const windowMs = host.opts.redirectWindowMs ?? 300000;
    while (this.times.length > 0 && now - this.times[0]! > windowMs) this.times.shift();
    if (this.times.length >= max) {
      host.teardown(
        new VpnError(
          'ERR_IKE_PROTOCOL',
          `redirect loop: the gateways redirected us ${max + 1} times within ${Math.round(windowMs / 1000)} s (the last from ${from} to ${gw.value}); giving up (RFC 5685 §7)`,
        ),
      );
      return;
    }
    this.times.push(now);
    try {
      const address = gw.kind === 'fqdn' ? await host.io.resolve(gw.value) : gw.value;
      if ((isIP(address) === 6) !== (isIP(from) === 6)) {
        throw new VpnError(
          'ERR_IKE_PROTOCOL',
          `the gateway redirected us to ${gw.value} (${address}), an IPv${isIP(address)} address; this tunnel's socket is IPv${isIP(from)}`,
        );
      }
      if (host.stopping()) return;
      this.redirectedFrom = from;
      const remote = host.retarget(address, from);
      host.emit({
        type: 'redirected',
        from,
        to: address,
        ...(gw.kind === 'fqdn' ? { name: gw.value } : {}),
        during,
      });
      // Our routes (full tunnel) or the kill switch would send IKE for the new gateway into the
      // tunnel: pin it to the path outside, like the first gateway.
      if (host.wasUp() || host.opts.killSwitch) await this.pinGatewayRoute(address, from);
      if (host.wasUp()) {
        host.markReconnecting();
        host.emit({
          type: 'reconnecting',
          attempt: 0,
          inMs: 0,
          reason: `redirected to ${address}`,
        });
      }
      const local = await host.io.localAddressFor(remote);
      if (host.stopping()) return;
      host.startSession(local);
    } catch (e) {
      const err =
        e instanceof VpnError
          ? e
          : new VpnError(
              'ERR_RESOLVE',
              `the gateway redirected us to ${gw.value}, which we cannot reach: ${(e as Error).message}`,
            );
      host.teardown(err);
    }
  }

  /** A host route to the new gateway along the path of the old one's (or the default path). */
  private async pinGatewayRoute(address: string, old: string): Promise<void> {
    const netcfg = this.host.netcfg();
    if (!netcfg) return;
    const path =
      netcfg.pinnedPath(old) ??
      (await netcfg.defaultPath(address.includes(':'), this.host.tunName()));
    if (!path) return;
    await netcfg.addHostRouteVia(address, path.via, path.dev);
  }
}
