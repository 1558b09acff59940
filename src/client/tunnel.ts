/**
 * The driver: the one place that wires the sans-I/O IKE session and ESP engine to the real world
 * (UDP socket, TUN device, timers, host network configuration).
 *
 *   TUN read ──► EspEngine.encapsulate ──► UDP send (gateway:4500)
 *   UDP recv ──► classify (keepalive / IKE / ESP)
 *                  IKE ──► IkeSession.handle ──► outputs (send, timers, install SA, events)
 *                  ESP ──► EspEngine.decapsulate ──► TUN write
 *
 * Every exit path (disconnect, signal, gateway DELETE, fatal error) goes through `teardown()`,
 * which restores routes, addresses and DNS from the NetConfigurator's journal.
 *
 * The packets themselves go through one `DataPath` (./datapath.ts: the JavaScript ESP engine or
 * the native threaded data plane); the clock, timers, TUN device, socket and host configurator
 * come from `TunnelOptions.io` (./io.ts), so tests run a whole tunnel in memory.
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { VpnError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { NOOP_LOGGER } from '../core/log.js';
import type { Random } from '../core/random.js';
import type { TrafficSelector } from '../ike/codec/index.js';
import { parseIdentity } from '../ike/identity.js';
import { emptyIkeCounters } from '../ike/session.js';
import type { EstablishedInfo, IkeEvent, IkeInput, IkeOutput } from '../ike/session.js';
import { keyExchangesOfText } from '../ike/sa/proposals.js';
import type { UdpEndpoint } from '../net/udp.js';
import type { TunDevice } from '../tun/tun.js';
import { planTunnelRoutes } from './routes.js';
import { credentialsForAttempt } from './auth.js';
import type { AttemptAuth } from './auth.js';
import { openDataPath } from './datapath.js';
import { nativeDataPathLikely } from './datapath-native.js';
import type { DataPath } from './datapath.js';
import { defaultMtu, installKillSwitch, installRoutes, toRange } from './host.js';
import { NamedTimers, realIo } from './io.js';
import { AutoVersion, IKE_TIMERS, createSession } from './ike-version.js';
import type { HostNetwork, TunnelIo } from './io.js';
import { Reconnector } from './reconnect.js';
import type { ReconnectHost } from './reconnect.js';
import { UpTimers } from './liveness.js';
import type { UpTimersHost } from './liveness.js';
import { Redirects } from './redirect.js';
import type { RedirectHost } from './redirect.js';

import type {
  SessionLike,
  TunnelEvent,
  TunnelOptions,
  TunnelStatus,
  TunnelSummary,
  TunnelTimerKey,
} from './tunnel-types.js';
import { splitIncludeSelectors, v1Stage } from './ikev1.js';
import { ikev2Base, parseTunnelConfig } from './session-config.js';
import type { IkeV2Base } from './session-config.js';
import type { Ikev1Base } from './ikev1.js';

export { DEFAULT_MTU } from './host.js';
export type {
  TunnelEvent,
  TunnelOptions,
  TunnelStage,
  TunnelStatus,
  TunnelSummary,
} from './tunnel-types.js';
export type { HostNetwork, TunnelIo, Timers } from './io.js';

type TimerKey = TunnelTimerKey;

const nodeRandom: Random = { bytes: (n) => new Uint8Array(randomBytes(n)) };

export class Tunnel {
  private readonly opts: TunnelOptions;
  private readonly log: Logger;
  private readonly io: TunnelIo;
  private readonly listeners: ((e: TunnelEvent) => void)[] = [];
  /** The IKE session: an IkeSession (IKEv2) or an Ikev1Session, behind one interface. */
  private session: SessionLike | undefined;
  /** The IKE version the sessions speak now (auto starts with 2 and may settle on 1). */
  private version: 1 | 2 = 2;
  /** `--ike-version auto` while the first IKEv2 attempt runs (./ike-version.ts). */
  private auto = new AutoVersion(false);
  private v1Base: Ikev1Base | undefined;
  /** Carries ESP (and sends IKE): the JavaScript engine or the native threaded plane. */
  private dp: DataPath | undefined;
  private tun: TunDevice | undefined;
  private netcfg: HostNetwork | undefined;
  private readonly timers: NamedTimers<TimerKey>;
  private stateValue: TunnelStatus['state'] = 'connecting';
  private summary: TunnelSummary | undefined;
  private upAt = 0;
  private startedAt = 0;
  private gatewayAddress = '';
  private saInstallErrors = 0;
  private tearingDown: Promise<void> | undefined;
  private connectResolve: ((s: TunnelSummary) => void) | undefined;
  private connectReject: ((e: VpnError) => void) | undefined;
  private closedResolve: ((e: VpnError | undefined) => void) | undefined;
  /** Resolves when the tunnel is down and the host is restored; the value is the error, if any. */
  readonly closed: Promise<VpnError | undefined>;

  constructor(opts: TunnelOptions) {
    this.opts = opts;
    this.io = { ...realIo(), ...opts.io };
    this.timers = new NamedTimers<TimerKey>(this.io.timers, {
      now: () => this.io.now(),
      thresholdMs: opts.wakeThresholdMs ?? 5000,
      onLate: (ms) => this.reconnect.onWake(ms),
    });
    this.random = opts.random ?? nodeRandom;
    this.log = opts.logger ?? NOOP_LOGGER;
    this.closed = new Promise((resolve) => {
      this.closedResolve = resolve;
    });
    this.reconnect = new Reconnector(this.reconnectHost());
    this.redirects = new Redirects(this.redirectHost());
    this.upTimers = new UpTimers(this.upTimersHost());
  }

  /** The tunnel's state; the data path seals TUN packets only while it is 'up'. */
  private get state(): TunnelStatus['state'] {
    return this.stateValue;
  }

  private set state(s: TunnelStatus['state']) {
    this.stateValue = s;
    this.dp?.setCarrying(s === 'up');
  }

  on(listener: (e: TunnelEvent) => void): void {
    this.listeners.push(listener);
  }

  private emit(e: TunnelEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.log.error('cli', `event listener failed: ${(err as Error).message}`);
      }
    }
  }

  /**
   * Resolves the gateway, opens the TUN device and socket, runs IKE, installs the CHILD_SA and
   * configures the host. Resolves with a summary once traffic can flow; rejects with a VpnError
   * (host left as it was) otherwise.
   */
  async connect(): Promise<TunnelSummary> {
    this.startedAt = this.io.now();
    const opts = this.opts;
    // Parse configuration first: config errors must not leave anything behind.
    const parsed = parseTunnelConfig(opts);
    const { wanted, espProposals, v1Base } = parsed;
    this.version = wanted === 1 ? 1 : 2;
    this.auto = new AutoVersion(wanted === 'auto');
    this.excluded = parsed.excluded;

    try {
      this.emit({ type: 'stage', stage: 'resolving', detail: opts.gateway });
      this.gatewayAddress = await this.io.resolve(opts.gateway);
      const port = opts.port ?? 500;
      const remote: UdpEndpoint = { address: this.gatewayAddress, port };
      const localAddress = await this.io.localAddressFor(remote);
      this.localAddress = localAddress;
      const localId = opts.localIdentity ?? parseIdentity(opts.localId ?? localAddress);
      if (v1Base) this.v1Base = { ...v1Base, localId };

      // Open the TUN device before talking to the gateway: a missing privilege fails fast.
      this.netcfg = this.io.hostNetwork({
        logger: this.log,
        ...(opts.journalPath ? { journalPath: opts.journalPath } : {}),
      });
      const mtu = opts.mtu ?? (await defaultMtu(this.netcfg, remote.address, this.log));
      if (opts.killSwitch) await installKillSwitch(this.netcfg, remote.address, this.log);
      this.tun = this.io.openTun({
        name: opts.tunName ?? 'vpn%d',
        mtu,
        ...(opts.tunOffload === true && nativeDataPathLikely(opts.fastPath !== false, espProposals)
          ? { offload: true }
          : {}),
      });

      this.dp = await openDataPath({
        io: this.io,
        family: isIP(this.gatewayAddress) === 6 ? 6 : 4,
        tun: this.tun,
        espProposals,
        fastPath: opts.fastPath !== false,
        limits: {
          ...(opts.rekeyBytes ? { bytes: opts.rekeyBytes } : {}),
          ...(opts.rekeyPackets ? { packets: opts.rekeyPackets } : {}),
        },
        events: {
          onIke: (data, from) => this.onIkeDatagram(data, from),
          onRekeyNeeded: (spi) => this.onRekeyNeeded(spi),
          onFailure: (err) => this.onDataPathFailure(err),
          onSocketError: (err) => this.log.warn('net', `socket error: ${err.message}`),
        },
        log: this.log,
      });

      this.sessionConfig = ikev2Base(opts, parsed, localId);
      this.session = this.newSession();
      const done = new Promise<TunnelSummary>((resolve, reject) => {
        this.connectResolve = resolve;
        this.connectReject = reject;
      });
      this.remote = remote;
      this.feed({
        kind: 'start',
        local: { address: localAddress, port: this.dp.localPort },
        remote,
      });
      return await done;
    } catch (e) {
      const err =
        e instanceof VpnError ? e : new VpnError('ERR_CONFIG', (e as Error).message, { cause: e });
      await this.teardown(err, false);
      throw err;
    }
  }

  /**
   * The data path cannot carry traffic any more (the TUN device was deleted under us, a data
   * plane thread hit a fatal socket error): tell the gateway and restore the host. ERR_NETCFG:
   * the host's network changed under the tunnel (exit 9), not a missing privilege.
   */
  private onDataPathFailure(err: Error): void {
    this.log.error('tun', err.message);
    this.closeWithError(new VpnError('ERR_NETCFG', err.message, { cause: err }));
  }

  /** Ends the tunnel with `err`: DELETE to the gateway when the IKE SA lives, then teardown. */
  private closeWithError(err: VpnError): void {
    if (this.state === 'closing' || this.state === 'down') return;
    this.pendingError = err;
    if (this.session && this.session.state !== 'closed') {
      this.state = 'closing';
      this.feed({ kind: 'close' });
    } else void this.teardown(this.pendingError, false);
  }

  /** Sends DELETE, waits briefly for the answer, restores the host. */
  async close(): Promise<void> {
    if (this.state === 'down') return;
    this.userClosing = true;
    if (
      (this.state === 'reconnecting' || this.redirects.redirecting || this.auto.fallingBack) &&
      (!this.session || this.session.state === 'closed')
    ) {
      void this.teardown(undefined, false);
    } else if (this.session && this.state !== 'closing') {
      this.state = 'closing';
      this.feed({ kind: 'close' });
    }
    await this.closed;
  }

  // ---------------------------------------------------------------------------------------------
  // Reconnecting: the IKE SA is gone (dead peer, gateway DELETE or restart) but the host stays
  // configured; a new IKE SA is negotiated with capped exponential backoff.

  private sessionConfig: IkeV2Base | undefined;
  /** Our source address towards the gateway, as last told to the IKE session. */
  private localAddress = '';
  private attemptAuth: AttemptAuth | undefined;

  /**
   * A new IKE session with fresh credentials (a new EAP conversation) for this attempt: an
   * Ikev1Session once the tunnel speaks IKEv1, else an IkeSession.
   */
  private newSession(): SessionLike {
    const base = this.sessionConfig!;
    this.attemptAuth?.close();
    const attempt = credentialsForAttempt(
      this.opts.credentials,
      this.opts.gateway,
      this.random,
      {
        onResponse: (packet) => this.feed({ kind: 'eapResponse', packet }),
        onFailure: (error) => this.feed({ kind: 'eapFailed', error }),
      },
      this.log,
      base.remoteId,
    );
    this.attemptAuth = attempt;
    const { version, auto, v1Base, random, log } = this;
    return createSession(version, auto.pending, base, v1Base, attempt, random, log);
  }
  private remote: UdpEndpoint | undefined;
  private userClosing = false;
  private readonly random: Random;

  /** A new IKE session from `local` to `this.remote`; false when there is no data path. */
  private startSession(local: string): boolean {
    const remote = this.remote;
    if (!this.dp || !remote || !this.sessionConfig) return false;
    this.localAddress = local;
    this.session = this.newSession();
    this.feed({ kind: 'start', local: { address: local, port: this.dp.localPort }, remote });
    return true;
  }

  /** Reconnecting with backoff, reauthentication, waking up (./reconnect.ts). */
  private readonly reconnect: Reconnector;

  private reconnectHost(): ReconnectHost {
    return {
      opts: this.opts,
      io: this.io,
      log: this.log,
      timers: this.timers,
      state: () => this.state,
      setState: (s) => {
        this.state = s;
      },
      session: () => this.session,
      feed: (input) => this.feed(input),
      emit: (e) => this.emit(e),
      teardown: (err, byPeer) => void this.teardown(err, byPeer),
      remote: () => this.remote,
      wasUp: () => this.summary !== undefined,
      userClosing: () => this.userClosing,
      pendingError: () => this.pendingError,
      canStart: () => this.sessionConfig !== undefined && this.dp !== undefined,
      startSession: (local) => this.startSession(local),
    };
  }

  private onSessionClosed(error: VpnError | undefined, byPeer: boolean): void {
    // Not up any more: the tunnel has not stayed up long enough to count as stable.
    this.timers.clear('stable');
    if (this.auto.closed(error, this.userClosing || this.pendingError !== undefined))
      return this.fallBackToIkev1(`no answer to IKEv2 from ${this.gatewayAddress}`);
    const redirect = this.redirects.pending;
    this.redirects.pending = undefined;
    if (redirect && !this.userClosing && this.pendingError === undefined) {
      void this.redirects.follow(redirect.gateway, redirect.during);
      return;
    }
    this.reconnect.onSessionClosed(error, byPeer);
  }

  /** RFC 5685 redirects (./redirect.ts). */
  private readonly redirects: Redirects;

  private redirectHost(): RedirectHost {
    return {
      opts: this.opts,
      io: this.io,
      gatewayAddress: () => this.gatewayAddress,
      wasUp: () => this.summary !== undefined,
      stopping: () => this.stopping(),
      emit: (e) => this.emit(e),
      teardown: (err) => void this.teardown(err, false),
      netcfg: () => this.netcfg,
      tunName: () => this.tun?.name,
      retarget: (address, from) => {
        this.gatewayAddress = address;
        this.remote = { address, port: this.opts.port ?? 500 };
        this.sessionConfig = { ...this.sessionConfig!, redirectedFrom: from };
        return this.remote;
      },
      markReconnecting: () => {
        this.state = 'reconnecting';
      },
      startSession: (local) => this.startSession(local),
    };
  }

  private onIkeDatagram(data: Uint8Array, from: UdpEndpoint): void {
    const refusal = this.auto.received(data);
    if (refusal !== undefined) return this.fallBackToIkev1(refusal);
    this.feed({ kind: 'datagram', data, from });
  }

  /** --ike-version auto: the IKEv2 attempt ends, IKEv1 starts (./ike-version.ts). */
  private fallBackToIkev1(reason: string): void {
    this.auto.pending = false;
    this.version = 1;
    this.auto.fallingBack = true;
    // The IKEv2 attempt ends here: its timers go, its late datagrams find no session.
    this.session = undefined;
    this.log.info('ike', `${reason}: trying IKEv1 (--ike-version auto)`);
    this.emit({ type: 'warning', message: `${reason}: trying IKEv1 (--ike-version auto)` });
    // Not from inside the IKEv2 session's outputs: start once this batch is applied.
    this.timers.set('reconnect', 0, () => {
      this.auto.fallingBack = false;
      if (this.stopping()) return;
      for (const t of IKE_TIMERS) this.timers.clear(t);
      this.startSession(this.localAddress);
    });
  }

  /** The user or an error is ending the tunnel (checked again after each await). */
  private stopping(): boolean {
    return this.userClosing || this.state === 'closing' || this.state === 'down';
  }

  /** `excludeNetworks`, checked and canonical (core/ip.ts checkExcluded). */
  private excluded: string[] = [];

  private async onReestablished(info: EstablishedInfo): Promise<void> {
    const prev = this.summary;
    const cfg = info.config;
    if (
      prev &&
      prev.virtualIp4 === cfg.ip4 &&
      prev.virtualIp6 === (cfg.ip6 ? `${cfg.ip6.address}/${cfg.ip6.prefix}` : undefined)
    ) {
      // Same virtual IP: addresses, routes and DNS are already right.
      this.state = 'up';
      this.startUpTimers();
      this.summary = {
        ...prev,
        ike: { ...info, ...keyExchangesOfText(info.ikeProposal) },
        ...this.gatewayFields(),
      };
      this.emit({ type: 'up', summary: this.summary });
      return;
    }
    // A different address: redo the host configuration from scratch.
    await this.netcfg?.restore();
    await this.configureHost(info);
  }

  /** The gateway we are connected to now (after redirects), for the summary. */
  private gatewayFields(): Pick<TunnelSummary, 'gatewayAddress' | 'redirectedFrom'> {
    return {
      gatewayAddress: this.gatewayAddress,
      ...(this.redirects.redirectedFrom ? { redirectedFrom: this.redirects.redirectedFrom } : {}),
    };
  }

  status(): TunnelStatus {
    const s: TunnelStatus = {
      state: this.state,
      ike: this.session?.counters ?? emptyIkeCounters(),
      esp: this.dp?.counters() ?? { packetsOut: 0, bytesOut: 0, packetsIn: 0, bytesIn: 0 },
      keepalivesSent: this.upTimers.keepalivesSent,
      saInstallErrors: this.saInstallErrors,
    };
    if (this.summary) s.summary = this.summary;
    if (this.upAt) s.uptimeMs = this.io.now() - this.upAt;
    if (this.tun) s.tun = this.tun.stats();
    if (this.dp) s.udp = this.dp.udpCounters;
    const dps = this.dp?.dataplaneStats?.();
    if (dps) s.dataplane = dps;
    return s;
  }

  // ---------------------------------------------------------------------------------------------

  private feed(input: IkeInput): void {
    const session = this.session;
    if (!session) return;
    this.apply(session.handle(input, this.io.now()));
    // ESP follows the gateway's endpoint: NAT-T port floating, MOBIKE, NAT rebinding (§2.23).
    if (this.dp && this.session === session && session.state === 'established')
      this.dp.setPeer(session.remoteEndpoint);
  }

  private apply(outputs: IkeOutput[]): void {
    for (const o of outputs) {
      switch (o.kind) {
        case 'send':
          this.auto.sent(o.data);
          this.upTimers.lastSentAt = this.io.now();
          this.dp?.sendIke(o.data, o.to, o.nonEspMarker);
          break;
        case 'setTimer':
          this.timers.set(o.timer, o.at - this.io.now(), () => {
            // ESP traffic is proof of life for dead peer detection (RFC 7296 §2.4).
            const espIn = this.dp?.espInAt(this.io.now()) ?? 0;
            if (o.timer === 'dpd' && espIn > 0) this.feed({ kind: 'activity', at: espIn });
            this.feed({ kind: 'timer', timer: o.timer });
          });
          break;
        case 'clearTimer':
          this.timers.clear(o.timer);
          break;
        case 'installChild':
          this.installChild(o.child);
          break;
        case 'removeChild':
          this.dp?.removeChild(o.inboundSpi, o.outboundSpi);
          break;
        case 'event':
          this.onIkeEvent(o.event);
          break;
      }
    }
  }

  /**
   * Installs a negotiated CHILD_SA on the data path. A refusal (a ninth inbound SA from a gateway
   * that rekeys without deleting, an SA the data path cannot build) never escapes: it is counted
   * and the tunnel ends cleanly with a clear error (DELETE to the gateway, host restored).
   */
  private installChild(child: Extract<IkeOutput, { kind: 'installChild' }>['child']): void {
    const dp = this.dp;
    if (!dp) return;
    this.childTsRemote = child.tsRemote;
    const policy = { local: child.tsLocal.map(toRange), remote: child.tsRemote.map(toRange) };
    if (this.session) dp.setPeer(this.session.remoteEndpoint);
    try {
      dp.installChild(child.inbound, child.outbound, policy);
    } catch (e) {
      this.saInstallErrors++;
      const spi = (child.inbound.spi >>> 0).toString(16).padStart(8, '0');
      const err = new VpnError(
        'ERR_IKE_PROTOCOL',
        `the data path refused CHILD_SA ${spi} (${(e as Error).message}); closing the tunnel`,
        { cause: e },
      );
      this.log.error('esp', err.message);
      // Not from inside the session's outputs: close once this batch is applied.
      this.timers.set('close', 0, () => this.closeWithError(err));
    }
  }

  private onIkeEvent(e: IkeEvent): void {
    switch (e.type) {
      case 'stage':
        this.emit({
          type: 'stage',
          stage: this.version === 1 ? v1Stage(e.stage, this.opts) : e.stage,
        });
        break;
      case 'nat':
        this.emit({ type: 'nat', natHere: e.natHere, natThere: e.natThere });
        break;
      case 'established':
        // REDIRECTED_FROM goes only to the gateway we were sent to (RFC 5685 §9.3), not again
        // when we reconnect to it later.
        if (this.sessionConfig?.redirectedFrom !== undefined) {
          const rest = { ...this.sessionConfig };
          delete rest.redirectedFrom;
          this.sessionConfig = rest;
        }
        if (this.summary) void this.onReestablished(e.info);
        else void this.configureHost(e.info);
        this.reconnect.scheduleReauth(e.info.authLifetimeS);
        break;
      case 'closed':
        this.onSessionClosed(e.error, e.byPeer);
        break;
      case 'rekeyed':
        this.emit({ type: 'rekeyed', what: e.what, by: e.by, proposal: e.proposal });
        break;
      case 'roamed':
        this.emit({
          type: 'roamed',
          local: e.local.address,
          remote: `${e.remote.address}:${e.remote.port}`,
          by: e.by,
        });
        break;
      case 'warning':
        // Something the gateway sent was ignored beyond a bound (src/ike/limits.ts).
        this.emit({ type: 'warning', message: e.message });
        break;
      case 'redirect':
        // The session closes right after this; onSessionClosed follows it.
        this.redirects.pending = { gateway: e.gateway, during: e.during };
        break;
      case 'state':
      case 'liveness-check':
        break;
    }
  }

  private async configureHost(info: EstablishedInfo): Promise<void> {
    const tun = this.tun;
    const netcfg = this.netcfg;
    if (!tun || !netcfg || !this.dp) return;
    this.emit({ type: 'stage', stage: 'configuring', detail: tun.name });
    try {
      const cfg = info.config;
      await netcfg.setMtu(tun.name, tun.mtu);
      if (cfg.ip4) await netcfg.addAddress(tun.name, `${cfg.ip4}/32`);
      if (cfg.ip6) await netcfg.addAddress(tun.name, `${cfg.ip6.address}/128`);
      await netcfg.setUp(tun.name);
      const session = this.session!;
      // Routes capped; DNS servers only where the selectors carry them (issue 11 findings 6, 7).
      const split =
        this.version === 1 && !this.opts.remoteNetworks?.length
          ? splitIncludeSelectors(cfg.subnets, this.childTsRemote)
          : undefined;
      const plan = planTunnelRoutes(
        split ?? this.childTsRemote,
        this.opts.dns === 'off' ? [] : [...cfg.dns4, ...cfg.dns6],
      );
      for (const message of plan.warnings) this.emit({ type: 'warning', message });
      const { routes, dns } = plan;
      await installRoutes(
        netcfg,
        routes,
        tun.name,
        cfg.ip4,
        session.remoteEndpoint.address,
        this.opts.killSwitch !== true,
        this.excluded,
      );
      // RFC 8598 §4: the pushed domains route names to the gateway's servers on a split tunnel;
      // a tunnel that carries the default route takes every name.
      const fullTunnel = routes.some((r) => r.endsWith('/0'));
      const dnsDone =
        dns.length > 0
          ? await netcfg.setDns(tun.name, dns, cfg.domains, { defaultRoute: fullTunnel })
          : undefined;
      this.state = 'up';
      this.upAt = this.io.now();
      this.summary = {
        gateway: this.opts.gateway,
        ...this.gatewayFields(),
        device: tun.name,
        mtu: tun.mtu,
        ...(cfg.ip4 ? { virtualIp4: cfg.ip4 } : {}),
        ...(cfg.ip6 ? { virtualIp6: `${cfg.ip6.address}/${cfg.ip6.prefix}` } : {}),
        dns,
        domains: this.opts.dns === 'off' ? [] : cfg.domains,
        ...(dnsDone ? { dnsMethod: dnsDone.method, dnsNote: dnsDone.note } : {}),
        routes,
        // RFC 9370 / ML-KEM: name the key exchanges and whether they resist a quantum computer.
        ike: { ...info, ...keyExchangesOfText(info.ikeProposal) },
        ikeVersion: this.version,
        connectMs: this.upAt - this.startedAt,
        espPath: this.dp.espPath,
      };
      this.startUpTimers();
      this.emit({ type: 'up', summary: this.summary });
      this.connectResolve?.(this.summary);
    } catch (e) {
      const err =
        e instanceof VpnError
          ? e
          : new VpnError('ERR_NETCFG', `configuring ${tun.name} failed: ${(e as Error).message}`);
      this.log.error('tun', err.message);
      // Tell the gateway, then restore the host.
      this.state = 'closing';
      this.pendingError = err;
      this.feed({ kind: 'close' });
    }
  }

  private pendingError: VpnError | undefined;
  private childTsRemote: TrafficSelector[] = [];

  /**
   * The periodic work of an up tunnel: NAT keepalives, the one-way traffic check, the network
   * path check and the stability timer of the retry budget. (Re)started, never skipped, on every
   * (re)connect: a tick that finds the tunnel down just stops, and its entry is gone with it.
   */
  private startUpTimers(): void {
    this.upTimers.scheduleKeepalive();
    this.upTimers.schedulePathCheck();
    this.reconnect.scheduleStable();
  }

  /** NAT keepalives, the one-way traffic check and the network path check (./liveness.ts). */
  private readonly upTimers: UpTimers;

  private upTimersHost(): UpTimersHost {
    return {
      opts: this.opts,
      io: this.io,
      log: this.log,
      timers: this.timers,
      state: () => this.state,
      session: () => this.session,
      dp: () => this.dp,
      netcfg: () => this.netcfg,
      tunName: () => this.tun?.name,
      localAddress: () => this.localAddress,
      setLocalAddress: (a) => {
        this.localAddress = a;
      },
      feed: (input) => {
        // IKEv1 has no MOBIKE (RFC 4555 is IKEv2's): a new source address means a new IKE SA.
        if (input.kind === 'localAddress' && this.version === 1) {
          this.reconnect.restartAfterClose(
            `our address changed to ${input.local.address}; IKEv1 cannot move its SAs: reconnecting`,
          );
          return;
        }
        this.feed(input);
      },
    };
  }

  /** An SA passed a volume or sequence-number limit: rekey its CHILD_SA, once per SA. */
  private onRekeyNeeded(spi: number): void {
    if (this.rekeyAsked.has(spi)) return;
    this.rekeyAsked.add(spi);
    this.feed({ kind: 'rekeyChild' });
  }

  private readonly rekeyAsked = new Set<number>();

  private async teardown(error: VpnError | undefined, byPeer: boolean): Promise<void> {
    if (this.tearingDown) return this.tearingDown;
    const err = error ?? this.pendingError;
    this.tearingDown = (async () => {
      this.state = 'closing';
      this.timers.clearAll();
      this.attemptAuth?.close();
      try {
        await this.netcfg?.restore();
      } catch (e) {
        this.log.error('tun', `restoring host configuration failed: ${(e as Error).message}`);
      }
      // The data plane's threads use the TUN descriptor: stop them before it is closed.
      this.dp?.close();
      this.tun?.close();
      this.state = 'down';
      this.emit(
        err === undefined ? { type: 'down', byPeer } : { type: 'down', error: err, byPeer },
      );
      if (this.connectReject) {
        this.connectReject(
          err ?? new VpnError('ERR_IKE_PROTOCOL', 'connection closed before it was up'),
        );
      }
      this.connectReject = undefined;
      this.connectResolve = undefined;
      this.closedResolve?.(err);
    })();
    return this.tearingDown;
  }
}
