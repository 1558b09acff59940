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
 */
import { lookup } from 'node:dns/promises';
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { VpnError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { NOOP_LOGGER } from '../core/log.js';
import type { Random } from '../core/random.js';
import { EspEngine } from '../esp/engine.js';
import type { TrafficSelectorRange } from '../esp/policy.js';
import type { TrafficSelector } from '../ike/codec/index.js';
import { parseIdentity } from '../ike/identity.js';
import type { Identity } from '../ike/identity.js';
import { DEFAULT_RETRANSMIT, IkeSession, emptyIkeCounters } from '../ike/session.js';
import type {
  EstablishedInfo,
  IkeEvent,
  IkeOutput,
  IkeSessionConfig,
  RetransmitPolicy,
  TimerId,
} from '../ike/session.js';
import type { ProposalSpec } from '../ike/sa/proposals.js';
import {
  DEFAULT_ESP_PROPOSALS,
  DEFAULT_IKE_PROPOSALS,
  parseProposals,
} from '../ike/sa/proposals.js';
import { anyTs, tsFromCidr } from '../ike/sa/traffic-selectors.js';
import { UdpTransport, localAddressFor } from '../net/udp.js';
import type { DatagramTransport, UdpCounters, UdpEndpoint } from '../net/udp.js';
import { DataPlaneTransport } from '../net/dataplane-transport.js';
import { dataPlaneStatus } from '../fastpath/dataplane.js';
import { nativeEspSupports } from '../esp/native.js';
import type { DataPlaneStats } from '../fastpath/dataplane.js';
import { openTun } from '../tun/linux.js';
import type { TunDevice } from '../tun/tun.js';
import { NetConfigurator } from '../tun/netcfg.js';
import { cidrContainsBytes, planTunnelRoutes } from './routes.js';
import { checkCredentials, credentialsForAttempt } from './auth.js';
import type { AttemptAuth, Credentials } from './auth.js';
import { parseIpAddress } from '../core/ip.js';

export interface TunnelOptions {
  /** Gateway host name or IP address. */
  gateway: string;
  /** Gateway IKE port (500; NAT-T floats to 4500). */
  port?: number;
  /** Our identity (IDi). Defaults to our local IP address, as strongSwan does. */
  localId?: string;
  /** Our identity as an IKE Identity (e.g. a certificate's subject DN); wins over `localId`. */
  localIdentity?: Identity;
  /** Expected gateway identity (IDr); also sent to select a gateway config. */
  remoteId?: string;
  /** Our credentials and how the gateway's are checked. */
  credentials: Credentials;
  /** Largest IP datagram for IKE messages before fragmenting (RFC 7383; default 1280). */
  ikeFragmentSize?: number;
  ikeProposals?: string;
  espProposals?: string;
  /** Configure DNS from the gateway's configuration payload. */
  dns?: 'auto' | 'off';
  /** NAT-T keepalive interval in ms (RFC 3948 §4: default 20 s). */
  keepaliveMs?: number;
  retransmit?: Partial<RetransmitPolicy>;
  /** TUN MTU; default accounts for IPv4 + UDP + ESP(GCM) overhead on a 1500-byte path. */
  mtu?: number;
  tunName?: string;
  /** Reconnect attempts after the IKE SA is lost once up (default 3; 'forever'; 0 = exit). */
  retry?: number | 'forever';
  /** IKE SA lifetime before we rekey it, in ms (0 = only the gateway rekeys; default 3.5 h). */
  ikeRekeyMs?: number;
  /** CHILD_SA lifetime before we rekey it, in ms (0 = only the gateway rekeys; default 50 min). */
  rekeyMs?: number;
  /**
   * Use the native data plane (its own threads for TUN → ESP → UDP and back) when the addon is
   * built, else the native batched ESP calls from JavaScript (default true; VPN_FAST_PATH=0 turns
   * both off: everything in JavaScript).
   */
  fastPath?: boolean;
  /** Rekey the CHILD_SA after this many bytes / packets in either direction (RFC 4301 §4.4.2.1). */
  rekeyBytes?: number;
  rekeyPackets?: number;
  /** Dead peer detection idle time in ms (0 = off; default 30 s). */
  dpdMs?: number;
  /** Request an IPv6 virtual address too. */
  ip6?: boolean;
  /** Remote networks to ask for (default 0.0.0.0/0; the gateway narrows). */
  remoteNetworks?: string[];
  /**
   * Kill switch: from the start of `connect` until the process ends, traffic that the tunnel does
   * not carry is dropped (unreachable routes under ours), never sent outside it.
   */
  killSwitch?: boolean;
  /** How often to check whether the network under the tunnel changed (ms; 0 = never; 1 s). */
  pathCheckMs?: number;
  /** Announce MOBIKE and roam with it (default true). */
  mobike?: boolean;
  /** Journal of host changes, to undo after a crash. */
  journalPath?: string;
  /** Where the resolv.conf backup and journal live when no path is given. */
  stateDir?: string;
  /** Inject for tests; production uses node:crypto. */
  random?: Random;
  logger?: Logger;
}

export type TunnelStage = 'resolving' | 'ike-sa-init' | 'ike-auth' | 'configuring';

export interface TunnelSummary {
  gateway: string;
  gatewayAddress: string;
  device: string;
  mtu: number;
  virtualIp4?: string;
  virtualIp6?: string;
  dns: string[];
  domains: string[];
  routes: string[];
  ike: EstablishedInfo;
  connectMs: number;
  /**
   * Which ESP implementation carries the traffic: the native data plane's threads, native batched
   * ESP called from JavaScript, or JavaScript alone.
   */
  espPath: 'threaded' | 'native' | 'js';
}

export type TunnelEvent =
  | { type: 'stage'; stage: TunnelStage; detail?: string }
  | { type: 'up'; summary: TunnelSummary }
  | { type: 'nat'; natHere: boolean; natThere: boolean }
  | { type: 'rekeyed'; what: 'child' | 'ike'; by: 'us' | 'peer'; proposal: string }
  | { type: 'reconnecting'; attempt: number; inMs: number; reason: string }
  /** The network under the tunnel changed and MOBIKE moved the SAs (RFC 4555). */
  | { type: 'roamed'; local: string; remote: string; by: 'us' | 'peer' }
  /** Something left out or refused that the user should know about (printable text). */
  | { type: 'warning'; message: string }
  | { type: 'down'; error?: VpnError; byPeer: boolean };

export interface TunnelStatus {
  state: 'connecting' | 'up' | 'reconnecting' | 'closing' | 'down';
  summary?: TunnelSummary;
  uptimeMs?: number;
  ike: IkeSession['counters'];
  esp: Record<string, number>;
  tun?: ReturnType<TunDevice['stats']>;
  udp?: UdpCounters;
  /** The native data plane's own counters, when it carries ESP. */
  dataplane?: DataPlaneStats;
  keepalivesSent: number;
}

const nodeRandom: Random = { bytes: (n) => new Uint8Array(randomBytes(n)) };

/** Default TUN MTU: 1500 − IPv4(20) − UDP(8) − ESP hdr(8) − IV(8) − pad/trailer(≤5) − ICV(16), rounded down to 4. */
export const DEFAULT_MTU = 1432;
/** ESP header (8) + IV (8) + worst-case padding and trailer (5) + ICV (16) + 3 to round. */
const ESP_OVERHEAD = 40;

export class Tunnel {
  private readonly opts: TunnelOptions;
  private readonly log: Logger;
  private readonly listeners: ((e: TunnelEvent) => void)[] = [];
  private session: IkeSession | undefined;
  private readonly engine: EspEngine;
  private udp: DatagramTransport | undefined;
  /** The native data plane, when it carries ESP (then `udp` is it, too). */
  private dp: DataPlaneTransport | undefined;
  private tun: TunDevice | undefined;
  private netcfg: NetConfigurator | undefined;
  private readonly timers = new Map<
    TimerId | 'keepalive' | 'reconnect' | 'path' | 'reauth' | 'oneway',
    NodeJS.Timeout
  >();
  private state: TunnelStatus['state'] = 'connecting';
  private summary: TunnelSummary | undefined;
  private upAt = 0;
  private startedAt = 0;
  private gatewayAddress = '';
  private lastSentAt = 0;
  private keepalivesSent = 0;
  private tearingDown: Promise<void> | undefined;
  private connectResolve: ((s: TunnelSummary) => void) | undefined;
  private connectReject: ((e: VpnError) => void) | undefined;
  private closedResolve: ((e: VpnError | undefined) => void) | undefined;
  /** Resolves when the tunnel is down and the host is restored; the value is the error, if any. */
  readonly closed: Promise<VpnError | undefined>;

  constructor(opts: TunnelOptions) {
    this.opts = opts;
    this.engine = new EspEngine({
      ...(opts.rekeyBytes ? { bytes: opts.rekeyBytes } : {}),
      ...(opts.rekeyPackets ? { packets: opts.rekeyPackets } : {}),
      native: { enabled: opts.fastPath !== false },
    });
    this.random = opts.random ?? nodeRandom;
    this.log = opts.logger ?? NOOP_LOGGER;
    this.closed = new Promise((resolve) => {
      this.closedResolve = resolve;
    });
  }

  on(listener: (e: TunnelEvent) => void): void {
    this.listeners.push(listener);
  }

  /**
   * The TUN MTU when none is given: what fits in one packet of the link towards the gateway after
   * the outer IP, UDP and ESP overhead (so ESP packets are never IP-fragmented), at most
   * DEFAULT_MTU (a 1500-byte path).
   */
  private async defaultMtu(netcfg: NetConfigurator, gateway: string): Promise<number> {
    const v6 = gateway.includes(':');
    const overhead = (v6 ? 40 : 20) + 8 + ESP_OVERHEAD;
    try {
      const r = await netcfg.getRouteTo(gateway);
      const link = await netcfg.linkMtu(r.dev);
      if (link === undefined) return DEFAULT_MTU;
      const fit = Math.floor((link - overhead) / 4) * 4;
      if (fit < DEFAULT_MTU) this.log.info('tun', `link ${r.dev} has MTU ${link}: TUN MTU ${fit}`);
      return Math.max(576, Math.min(DEFAULT_MTU, fit));
    } catch {
      return DEFAULT_MTU;
    }
  }

  /**
   * Blocks everything but the path to the gateway before IKE starts: the gateway keeps its host
   * route; the rest of IPv4 and IPv6 hits `unreachable` routes until tunnel routes cover it.
   */
  private async installKillSwitch(netcfg: NetConfigurator, gateway: string): Promise<void> {
    await netcfg.addHostRouteVia(gateway);
    await netcfg.addBlockRoute('0.0.0.0/1');
    await netcfg.addBlockRoute('128.0.0.0/1');
    try {
      await netcfg.addBlockRoute('::/1');
      await netcfg.addBlockRoute('8000::/1');
    } catch (e) {
      // No IPv6 on this host: nothing can leak over it.
      this.log.debug('tun', `kill switch: no IPv6 routes (${(e as Error).message})`);
    }
    this.log.info('tun', 'kill switch on: traffic outside the tunnel is blocked');
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
    this.startedAt = Date.now();
    const opts = this.opts;
    // Parse configuration first: config errors must not leave anything behind.
    const ikeProposals = parseProposals(opts.ikeProposals ?? DEFAULT_IKE_PROPOSALS, 'ike');
    const espProposals = parseProposals(opts.espProposals ?? DEFAULT_ESP_PROPOSALS, 'esp');
    const remoteTs: TrafficSelector[] = opts.remoteNetworks?.length
      ? opts.remoteNetworks.map((c) => tsFromCidr(c))
      : anyTs(opts.ip6 === true);
    const remoteId = opts.remoteId === undefined ? undefined : parseIdentity(opts.remoteId);
    checkCredentials(opts.credentials, remoteId);

    try {
      this.emit({ type: 'stage', stage: 'resolving', detail: opts.gateway });
      this.gatewayAddress = await resolveGateway(opts.gateway);
      const port = opts.port ?? 500;
      const remote: UdpEndpoint = { address: this.gatewayAddress, port };
      const localAddress = await localAddressFor(remote);
      this.localAddress = localAddress;
      const localId = opts.localIdentity ?? parseIdentity(opts.localId ?? localAddress);

      // Open the TUN device before talking to the gateway: a missing privilege fails fast.
      this.netcfg = new NetConfigurator({
        logger: this.log,
        ...(opts.journalPath ? { journalPath: opts.journalPath } : {}),
      });
      const mtu = opts.mtu ?? (await this.defaultMtu(this.netcfg, remote.address));
      if (opts.killSwitch) await this.installKillSwitch(this.netcfg, remote.address);
      this.tun = openTun({ name: opts.tunName ?? 'vpn%d', mtu });

      this.udp = await this.openTransport(
        isIP(this.gatewayAddress) === 6 ? 6 : 4,
        this.tun,
        espProposals,
      );

      this.sessionConfig = {
        localId,
        ...(remoteId ? { remoteId } : {}),
        fragmentSize: opts.ikeFragmentSize ?? 1280,
        mobike: opts.mobike !== false,
        ikeProposals,
        espProposals,
        request: { ip4: true, ip6: opts.ip6 === true, dns: opts.dns !== 'off' },
        tsLocal: anyTs(opts.ip6 === true),
        tsRemote: remoteTs,
        forceEncap: true,
        retransmit: { ...DEFAULT_RETRANSMIT, ...opts.retransmit },
        maxInitRetries: 5,
        replayWindow: 1024,
        dpdDelayMs: opts.dpdMs ?? 30000,
        childRekeyMs: opts.rekeyMs ?? 50 * 60 * 1000,
        ikeRekeyMs: opts.ikeRekeyMs ?? 3.5 * 3600 * 1000,
      };
      this.session = this.newSession(this.sessionConfig);
      const done = new Promise<TunnelSummary>((resolve, reject) => {
        this.connectResolve = resolve;
        this.connectReject = reject;
      });
      if (!this.dp) {
        this.tun.onPackets((pkts) => this.onTunPackets(pkts));
        this.tun.onError?.((err) => this.onDataPathFailure(err));
      }
      this.remote = remote;
      this.feed({
        kind: 'start',
        local: { address: localAddress, port: this.udp.localPort },
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
   * The socket and data path: the native data plane when it is built and allowed (its threads
   * move ESP between the TUN device and the socket; JavaScript sees IKE only), else node:dgram
   * with ESP through the EspEngine.
   */
  private async openTransport(
    family: 4 | 6,
    tun: TunDevice,
    espProposals: ProposalSpec[],
  ): Promise<DatagramTransport> {
    const handlers = {
      onIke: (data: Uint8Array, from: UdpEndpoint) => this.feed({ kind: 'datagram', data, from }),
      onEsp: (data: Uint8Array) => this.onEsp(data),
      onError: (err: Error) => this.log.warn('net', `socket error: ${err.message}`),
    };
    const status =
      this.opts.fastPath === false
        ? { available: false as const, reason: 'turned off' }
        : tun.fd === undefined
          ? { available: false as const, reason: 'the TUN device has no descriptor' }
          : // The data plane implements the AEAD transforms; for anything else (AES-CBC with
            // HMAC, say) ESP stays on the JavaScript path.
            !espProposals.every((p) => p.encr.every((a) => nativeEspSupports(a.id)))
            ? { available: false as const, reason: 'an ESP proposal it does not implement' }
            : dataPlaneStatus();
    if (status.available && tun.fd !== undefined) {
      const dp = DataPlaneTransport.open(
        family,
        0,
        {
          ...handlers,
          // A thread of the data plane stopped (the TUN device or the socket failed).
          onError: (err) => this.onDataPathFailure(err),
          onRekeyNeeded: (spi) => this.onRekeyNeeded(spi),
        },
        {
          ...(this.opts.rekeyBytes ? { bytes: this.opts.rekeyBytes } : {}),
          ...(this.opts.rekeyPackets ? { packets: this.opts.rekeyPackets } : {}),
        },
      );
      dp.attachTun(tun.fd);
      this.dp = dp;
      this.log.debug('esp', 'ESP on the native data plane (two threads)');
      return dp;
    }
    if (!status.available) this.log.debug('esp', `native data plane not used: ${status.reason}`);
    return UdpTransport.open(family, 0, handlers);
  }

  /**
   * The data path cannot carry traffic any more (the TUN device was deleted under us, a data
   * plane thread hit a fatal socket error): tell the gateway and restore the host. ERR_NETCFG:
   * the host's network changed under the tunnel (exit 9), not a missing privilege.
   */
  private onDataPathFailure(err: Error): void {
    this.log.error('tun', err.message);
    if (this.state === 'closing' || this.state === 'down') return;
    this.pendingError = new VpnError('ERR_NETCFG', err.message, { cause: err });
    if (this.session && this.session.state !== 'closed') {
      this.state = 'closing';
      this.feed({ kind: 'close' });
    } else void this.teardown(this.pendingError, false);
  }

  /** Sends DELETE, waits briefly for the answer, restores the host. */
  async close(): Promise<void> {
    if (this.state === 'down') return;
    this.userClosing = true;
    if (this.state === 'reconnecting' && (!this.session || this.session.state === 'closed')) {
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

  private sessionConfig: Omit<IkeSessionConfig, 'auth' | 'gatewayAuth'> | undefined;
  /** Our source address towards the gateway, as last told to the IKE session. */
  private localAddress = '';
  private attemptAuth: AttemptAuth | undefined;

  /** A new IKE session with fresh credentials (a new EAP conversation) for this attempt. */
  private newSession(base: Omit<IkeSessionConfig, 'auth' | 'gatewayAuth'>): IkeSession {
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
    return new IkeSession(
      { ...base, auth: attempt.auth, gatewayAuth: attempt.gatewayAuth },
      this.random,
      this.log,
    );
  }
  private remote: UdpEndpoint | undefined;
  private userClosing = false;
  private reconnectAttempts = 0;
  private readonly random: Random;

  /**
   * RFC 4478: the gateway gave the IKE SA an authentication lifetime. Before it runs out we
   * reauthenticate: close the IKE SA and negotiate a new one with a full IKE_AUTH, keeping the
   * TUN device, routes and DNS (break-before-make, strongSwan 5.9's default).
   */
  private scheduleReauth(lifetimeS: number | undefined): void {
    this.clearTimer('reauth');
    if (lifetimeS === undefined || lifetimeS <= 0) return;
    // At 85-90 % of the lifetime, so a slow handshake still finishes in time.
    const ms = Math.max(1000, lifetimeS * 1000 * (0.85 + 0.05 * Math.random()));
    this.timers.set(
      'reauth',
      setTimeout(() => {
        this.timers.delete('reauth');
        if (this.state !== 'up' || !this.session) return;
        this.log.info(
          'ike',
          `reauthenticating: the gateway's AUTH_LIFETIME of ${lifetimeS} s is ending`,
        );
        this.reauthing = true;
        this.feed({ kind: 'close' });
      }, ms),
    );
  }

  private reauthing = false;

  private onSessionClosed(error: VpnError | undefined, byPeer: boolean): void {
    if (this.reauthing && !this.userClosing) {
      this.reauthing = false;
      this.state = 'reconnecting';
      this.emit({
        type: 'reconnecting',
        attempt: 0,
        inMs: 0,
        reason: 'reauthentication (RFC 4478)',
      });
      void this.restartSession();
      return;
    }
    const retry = this.opts.retry ?? 3;
    // Once the tunnel has been up, a lost SA is retried; so is any refusal while reconnecting,
    // since a gateway that is restarting may answer before its configuration is loaded.
    const retriable =
      error !== undefined &&
      (this.state === 'reconnecting' ||
        error.code === 'ERR_IKE_TIMEOUT' ||
        error.code === 'ERR_IKE_DELETED' ||
        error.code === 'ERR_IKE_PEER_ERROR');
    const wasUp = this.summary !== undefined;
    if (
      this.userClosing ||
      !wasUp ||
      !retriable ||
      (retry !== 'forever' && this.reconnectAttempts >= retry)
    ) {
      void this.teardown(error, byPeer);
      return;
    }
    this.reconnectAttempts++;
    const inMs = Math.min(30000, 1000 * Math.pow(2, this.reconnectAttempts - 1));
    this.state = 'reconnecting';
    this.emit({
      type: 'reconnecting',
      attempt: this.reconnectAttempts,
      inMs,
      reason: error.message,
    });
    this.timers.set(
      'reconnect',
      setTimeout(() => {
        this.timers.delete('reconnect');
        void this.restartSession();
      }, inMs),
    );
  }

  private async restartSession(): Promise<void> {
    const remote = this.remote;
    const cfg = this.sessionConfig;
    if (!remote || !cfg || !this.udp || this.state !== 'reconnecting') return;
    let local: string;
    try {
      local = await localAddressFor(remote);
      this.localAddress = local;
    } catch (e) {
      // No route to the gateway right now (e.g. no network): count it as a failed attempt.
      this.onSessionClosed(
        e instanceof VpnError ? new VpnError('ERR_IKE_TIMEOUT', e.message) : undefined,
        false,
      );
      return;
    }
    this.session = this.newSession(cfg);
    this.feed({ kind: 'start', local: { address: local, port: this.udp.localPort }, remote });
  }

  private async onReestablished(info: EstablishedInfo): Promise<void> {
    const prev = this.summary;
    const cfg = info.config;
    this.reconnectAttempts = 0;
    if (
      prev &&
      prev.virtualIp4 === cfg.ip4 &&
      prev.virtualIp6 === (cfg.ip6 ? `${cfg.ip6.address}/${cfg.ip6.prefix}` : undefined)
    ) {
      // Same virtual IP: addresses, routes and DNS are already right.
      this.state = 'up';
      if (!this.timers.has('keepalive')) this.scheduleKeepalive();
      if (!this.timers.has('path')) this.schedulePathCheck();
      this.summary = { ...prev, ike: info };
      this.emit({ type: 'up', summary: this.summary });
      return;
    }
    // A different address: redo the host configuration from scratch.
    await this.netcfg?.restore();
    await this.configureHost(info);
  }

  status(): TunnelStatus {
    const s: TunnelStatus = {
      state: this.state,
      ike: this.session?.counters ?? emptyIkeCounters(),
      esp: this.dp ? dataPlaneCounters(this.dp) : this.engine.counters(),
      keepalivesSent: this.keepalivesSent,
    };
    if (this.summary) s.summary = this.summary;
    if (this.upAt) s.uptimeMs = Date.now() - this.upAt;
    if (this.tun) s.tun = this.tun.stats();
    if (this.udp) s.udp = this.udp.counters;
    if (this.dp) s.dataplane = this.dp.stats();
    return s;
  }

  // ---------------------------------------------------------------------------------------------

  private feed(input: Parameters<IkeSession['handle']>[0]): void {
    const session = this.session;
    if (!session) return;
    this.apply(session.handle(input, Date.now()));
    // ESP follows the gateway's endpoint: NAT-T port floating, MOBIKE, NAT rebinding (§2.23).
    if (this.dp && this.session === session && session.state === 'established')
      this.dp.setPeer(session.remoteEndpoint);
  }

  private apply(outputs: IkeOutput[]): void {
    for (const o of outputs) {
      switch (o.kind) {
        case 'send':
          this.lastSentAt = Date.now();
          this.udp?.sendIke(o.data, o.to, o.nonEspMarker);
          break;
        case 'setTimer': {
          this.clearTimer(o.timer);
          const t = setTimeout(
            () => {
              this.timers.delete(o.timer);
              // ESP traffic is proof of life for dead peer detection (RFC 7296 §2.4).
              const espIn = this.espInAt();
              if (o.timer === 'dpd' && espIn > 0) this.feed({ kind: 'activity', at: espIn });
              this.feed({ kind: 'timer', timer: o.timer });
            },
            Math.max(0, o.at - Date.now()),
          );
          this.timers.set(o.timer, t);
          break;
        }
        case 'clearTimer':
          this.clearTimer(o.timer);
          break;
        case 'installChild': {
          this.childTsRemote = o.child.tsRemote;
          const policy = {
            local: o.child.tsLocal.map(toRange),
            remote: o.child.tsRemote.map(toRange),
          };
          if (this.dp) {
            if (this.session) this.dp.setPeer(this.session.remoteEndpoint);
            this.dp.installChild(o.child.inbound, o.child.outbound, policy);
          } else {
            this.engine.addInbound(o.child.inbound);
            this.engine.setOutbound(o.child.outbound, policy);
          }
          break;
        }
        case 'removeChild':
          if (this.dp) {
            this.dp.removeChild(o.inboundSpi, o.outboundSpi);
          } else {
            this.engine.removeInbound(o.inboundSpi);
            this.engine.removeOutbound(o.outboundSpi);
          }
          break;
        case 'event':
          this.onIkeEvent(o.event);
          break;
      }
    }
  }

  private clearTimer(id: TimerId | 'keepalive' | 'reconnect' | 'path' | 'reauth' | 'oneway'): void {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
  }

  private onIkeEvent(e: IkeEvent): void {
    switch (e.type) {
      case 'stage':
        this.emit({ type: 'stage', stage: e.stage });
        break;
      case 'nat':
        this.emit({ type: 'nat', natHere: e.natHere, natThere: e.natThere });
        break;
      case 'established':
        if (this.summary) void this.onReestablished(e.info);
        else void this.configureHost(e.info);
        this.scheduleReauth(e.info.authLifetimeS);
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
      case 'state':
      case 'liveness-check':
        break;
    }
  }

  private async configureHost(info: EstablishedInfo): Promise<void> {
    const tun = this.tun;
    const netcfg = this.netcfg;
    if (!tun || !netcfg) return;
    this.emit({ type: 'stage', stage: 'configuring', detail: tun.name });
    try {
      const cfg = info.config;
      await netcfg.setMtu(tun.name, tun.mtu);
      if (cfg.ip4) await netcfg.addAddress(tun.name, `${cfg.ip4}/32`);
      if (cfg.ip6) await netcfg.addAddress(tun.name, `${cfg.ip6.address}/128`);
      await netcfg.setUp(tun.name);
      const session = this.session!;
      // Routes capped; DNS servers only where the selectors carry them (findings 6, 7).
      const plan = planTunnelRoutes(
        this.childTsRemote,
        this.opts.dns === 'off' ? [] : [...cfg.dns4, ...cfg.dns6],
      );
      for (const message of plan.warnings) this.emit({ type: 'warning', message });
      const { routes, dns } = plan;
      await this.installRoutes(routes, tun.name, cfg.ip4, session.remoteEndpoint.address);
      if (dns.length > 0) await netcfg.setDns(tun.name, dns, cfg.domains);
      this.state = 'up';
      this.upAt = Date.now();
      this.summary = {
        gateway: this.opts.gateway,
        gatewayAddress: this.gatewayAddress,
        device: tun.name,
        mtu: tun.mtu,
        ...(cfg.ip4 ? { virtualIp4: cfg.ip4 } : {}),
        ...(cfg.ip6 ? { virtualIp6: `${cfg.ip6.address}/${cfg.ip6.prefix}` } : {}),
        dns,
        domains: this.opts.dns === 'off' ? [] : cfg.domains,
        routes,
        ike: info,
        connectMs: this.upAt - this.startedAt,
        espPath: this.dp ? 'threaded' : this.engine.usesNative ? 'native' : 'js',
      };
      this.scheduleKeepalive();
      this.schedulePathCheck();
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
   * Routes for the remote selectors. A default route is split into 0.0.0.0/1 + 128.0.0.0/1 (so
   * the original default stays for restore), and the gateway keeps a host route via the original
   * path whenever it falls inside a tunnelled network.
   */
  private async installRoutes(
    cidrs: string[],
    dev: string,
    src: string | undefined,
    gateway: string,
  ): Promise<void> {
    const netcfg = this.netcfg!;
    const expanded: string[] = [];
    for (const c of cidrs) {
      if (c === '0.0.0.0/0') expanded.push('0.0.0.0/1', '128.0.0.0/1');
      else if (c === '::/0') expanded.push('::/1', '8000::/1');
      else expanded.push(c);
    }
    if (expanded.some((c) => cidrContains(c, gateway))) {
      await netcfg.addHostRouteVia(gateway);
    }
    await netcfg.addRoutes(expanded, { dev, ...(src ? { src } : {}) }); // one ip -batch
  }

  /**
   * Watches the network under the tunnel (a laptop moving from Wi-Fi to Ethernet, a default route
   * moved to a second uplink): when the host's default route changes, our pinned route to the
   * gateway follows it, and a new source address goes to the IKE session, which moves the SAs
   * with MOBIKE (RFC 4555 §3.5) or reconnects.
   */
  private schedulePathCheck(): void {
    const interval = this.opts.pathCheckMs ?? 1000;
    if (interval <= 0) return;
    const tick = (): void => {
      void this.checkPath().finally(() => {
        if (this.state === 'up') this.timers.set('path', setTimeout(tick, interval));
        else this.timers.delete('path');
      });
    };
    this.timers.set('path', setTimeout(tick, interval));
  }

  private pathChecking = false;

  private async checkPath(): Promise<void> {
    const session = this.session;
    const netcfg = this.netcfg;
    const udp = this.udp;
    if (!session || !netcfg || !udp || this.state !== 'up' || this.pathChecking) return;
    this.pathChecking = true;
    try {
      const gw = session.remoteEndpoint;
      const pinned = netcfg.pinnedPath(gw.address);
      if (pinned) {
        const under = await netcfg.defaultPath(gw.address.includes(':'), this.tun?.name);
        if (under && (under.dev !== pinned.dev || under.via !== pinned.via)) {
          this.log.info(
            'net',
            `default route moved to ${under.via ?? 'link'} dev ${under.dev}: following it`,
          );
          await netcfg.repinHostRoute(gw.address, under);
        }
      }
      let local: string;
      try {
        local = await localAddressFor(gw);
      } catch {
        return; // no route at all right now; DPD decides if the gateway is gone
      }
      if (local !== this.localAddress) {
        this.localAddress = local;
        this.feed({ kind: 'localAddress', local: { address: local, port: udp.localPort } });
      }
    } catch (e) {
      this.log.warn('net', `checking the network path failed: ${(e as Error).message}`);
    } finally {
      this.pathChecking = false;
    }
  }

  private scheduleKeepalive(): void {
    const interval = this.opts.keepaliveMs ?? 20000;
    if (interval <= 0) return;
    const tick = (): void => {
      const session = this.session;
      if (!session || this.state !== 'up') return;
      const now = Date.now();
      // RFC 3948 §4: keepalives only when we are behind a NAT and have sent nothing meanwhile.
      if (session.isNatHere && now - Math.max(this.lastSentAt, this.espOutAt()) >= interval - 50) {
        this.udp?.sendKeepalive(session.remoteEndpoint);
        this.lastSentAt = now;
        this.keepalivesSent++;
      }
      this.timers.set('keepalive', setTimeout(tick, interval));
    };
    this.timers.set('keepalive', setTimeout(tick, interval));
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
    const period = Math.max(250, interval / 4);
    const tick = (): void => {
      if (this.state !== 'up') return;
      const now = Date.now();
      if (
        now - this.espOutAt() < interval / 2 &&
        now - this.espInAt() >= interval / 2 &&
        now - this.lastProbeAt >= interval
      ) {
        this.lastProbeAt = now;
        this.log.debug('net', 'outbound traffic without answers: checking the gateway now');
        this.feed({ kind: 'probe' });
      }
      this.timers.set('oneway', setTimeout(tick, period));
    };
    this.timers.set('oneway', setTimeout(tick, period));
  }

  private onTunPackets(pkts: Uint8Array[]): void {
    const session = this.session;
    const udp = this.udp;
    if (!session || !udp || this.state !== 'up') return;
    const to = session.remoteEndpoint;
    let sent = false;
    for (const r of this.engine.encapsulateBatch(pkts)) {
      if (r instanceof Uint8Array) {
        udp.sendEsp(r, to);
        sent = true;
      }
    }
    if (sent) this.lastSentAt = this.lastEspOut = Date.now();
    // Volume limit: rekey well before the 32-bit ESP sequence number runs out (RFC 4303 §3.3.3).
    for (const spi of this.engine.rekeyNeeded) this.onRekeyNeeded(spi);
  }

  /** An SA passed a volume or sequence-number limit: rekey its CHILD_SA, once per SA. */
  private onRekeyNeeded(spi: number): void {
    if (this.rekeyAsked.has(spi)) return;
    this.rekeyAsked.add(spi);
    this.feed({ kind: 'rekeyChild' });
  }

  /** When ESP last authenticated inbound (ms since the epoch; 0 = never). */
  private espInAt(): number {
    if (!this.dp) return this.lastEspIn;
    const ms = this.dp.stats().msSinceEspIn;
    return ms === undefined ? 0 : Date.now() - ms;
  }

  /** When ESP was last sent (ms since the epoch; 0 = never). */
  private espOutAt(): number {
    if (!this.dp) return this.lastEspOut;
    const ms = this.dp.stats().msSinceEspOut;
    return ms === undefined ? 0 : Date.now() - ms;
  }

  private lastEspIn = 0;
  private lastEspOut = 0;
  private readonly rekeyAsked = new Set<number>();

  private onEsp(data: Uint8Array): void {
    const r = this.engine.decapsulate(data);
    if ('packet' in r) {
      this.lastEspIn = Date.now();
      this.tun?.write(r.packet);
    }
  }

  private async teardown(error: VpnError | undefined, byPeer: boolean): Promise<void> {
    if (this.tearingDown) return this.tearingDown;
    const err = error ?? this.pendingError;
    this.tearingDown = (async () => {
      this.state = 'closing';
      for (const t of this.timers.values()) clearTimeout(t);
      this.timers.clear();
      this.attemptAuth?.close();
      try {
        await this.netcfg?.restore();
      } catch (e) {
        this.log.error('tun', `restoring host configuration failed: ${(e as Error).message}`);
      }
      // The data plane's threads use the TUN descriptor: stop them before it is closed.
      this.udp?.close();
      this.tun?.close();
      this.engine.clear();
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

/** The data plane's counters in the EspEngine's shape (drops by reason, only those that happened). */
function dataPlaneCounters(dp: DataPlaneTransport): Record<string, number> {
  const s = dp.stats();
  const out: Record<string, number> = {
    packetsOut: s.packetsOut,
    bytesOut: s.bytesOut,
    packetsIn: s.packetsIn,
    bytesIn: s.bytesIn,
  };
  for (const [reason, n] of Object.entries(s.drops)) if (n > 0) out[reason] = n;
  if (s.tunWriteErrors > 0) out['tunWriteErrors'] = s.tunWriteErrors;
  if (s.tunReadErrors > 0) out['tunReadErrors'] = s.tunReadErrors;
  if (s.eventsDropped > 0) out['eventsDropped'] = s.eventsDropped;
  return out;
}

function toRange(ts: TrafficSelector): TrafficSelectorRange {
  return {
    startAddr: ts.startAddr,
    endAddr: ts.endAddr,
    protocol: ts.ipProtocol,
    startPort: ts.startPort,
    endPort: ts.endPort,
  };
}

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

function cidrContains(cidr: string, ip: string): boolean {
  const [net, len] = cidr.split('/');
  if (!net || len === undefined || isIP(net) !== isIP(ip)) return false;
  return cidrContainsBytes(parseIpAddress(net), Number(len), parseIpAddress(ip));
}
