/**
 * An in-memory world for the tunnel driver (src/client/tunnel.ts): virtual time and timers, a
 * fake TUN device, a fake UDP socket wired to a fake gateway (the test responder for IKE, the
 * project's JavaScript ESP SAs for ESP), and a fake host network configurator that records every
 * change and its undo. No root, no sockets, no processes.
 */
import { SeededRandom } from '../../src/core/random.js';
import { parseIpAddress } from '../../src/core/ip.js';
import { parseIdentity } from '../../src/ike/identity.js';
import { InboundSa, OutboundSa } from '../../src/esp/sa.js';
import { addNonEspMarker } from '../../src/net/natt.js';
import { dispatchDatagram } from '../../src/net/udp.js';
import type {
  DatagramTransport,
  UdpCounters,
  UdpEndpoint,
  UdpHandlers,
} from '../../src/net/udp.js';
import type { DnsOptions, DnsResult, RouteInfo, RouteOptions } from '../../src/tun/netcfg.js';
import type { TunDevice, TunStats } from '../../src/tun/tun.js';
import type { HostNetwork, Timers, TunnelIo } from '../../src/client/io.js';
import { TestResponder } from './test-responder.js';
import type { ResponderOptions } from './test-responder.js';

export const PSK = new TextEncoder().encode('correct horse battery staple');
export const CLIENT_IP = '192.0.2.2';
export const GW_IP = '198.51.100.10';
export const VIRTUAL_IP = '203.0.113.130';

/** Lets every pending promise and setImmediate chain run (the fakes deliver with setImmediate). */
export async function settle(net?: FakeNet): Promise<void> {
  let quiet = 0;
  for (let i = 0; i < 5000 && quiet < 5; i++) {
    await new Promise<void>((r) => setImmediate(r));
    quiet = net && net.inFlight > 0 ? 0 : quiet + 1;
  }
}

interface VTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/** Virtual wall clock and one-shot timers: time moves only when the test advances it. */
export class VirtualTime implements Timers {
  now = Date.UTC(2030, 0, 1);
  private seq = 0;
  private queue: VTimer[] = [];
  net: FakeNet | undefined;

  set(fn: () => void, ms: number): unknown {
    const t: VTimer = { at: this.now + Math.max(0, ms), seq: this.seq++, fn };
    this.queue.push(t);
    return t;
  }

  clear(h: unknown): void {
    this.queue = this.queue.filter((t) => t !== h);
  }

  get pending(): number {
    return this.queue.length;
  }

  /**
   * The host sleeps (or the process is stopped) for `ms`: the clock jumps and no timer runs; the
   * next advance() runs every timer that fell due meanwhile, late, as libuv does on wake.
   */
  sleep(ms: number): void {
    this.now += ms;
  }

  /** Runs every timer due within `ms`, in order, letting I/O settle after each. */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    await settle(this.net);
    for (;;) {
      let next: VTimer | undefined;
      for (const t of this.queue)
        if (t.at <= end && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq)))
          next = t;
      if (!next) break;
      this.queue = this.queue.filter((t) => t !== next);
      this.now = Math.max(this.now, next.at);
      next.fn();
      await settle(this.net);
    }
    this.now = end;
    await settle(this.net);
  }
}

/** A TUN device in memory: `inject` plays the kernel handing us packets, `written` what we wrote. */
export class FakeTun implements TunDevice {
  readonly name: string;
  readonly mtu: number;
  readonly written: Uint8Array[] = [];
  private cb: ((p: Uint8Array[]) => void) | undefined;
  closed = false;
  private readonly st: TunStats = {
    rxPackets: 0,
    rxDrops: 0,
    rxBatches: 0,
    txPackets: 0,
    txErrors: 0,
  };

  constructor(name: string, mtu: number) {
    this.name = name;
    this.mtu = mtu;
  }

  onPackets(cb: (packets: Uint8Array[]) => void): void {
    this.cb ??= cb;
  }

  inject(packets: Uint8Array[]): void {
    if (this.closed || !this.cb) return;
    this.st.rxBatches++;
    this.st.rxPackets += packets.length;
    this.cb(packets);
  }

  write(packet: Uint8Array): void {
    if (this.closed) return;
    this.written.push(packet);
    this.st.txPackets++;
  }

  writeBatch(packets: Uint8Array[]): void {
    for (const p of packets) this.write(p);
  }

  close(): void {
    this.closed = true;
  }

  stats(): TunStats {
    return { ...this.st };
  }
}

/** An IPv4/UDP packet from `src` to `dst` with `payload` bytes after the IP header. */
export function ipv4(src: string, dst: string, payload = 20, tag = 0): Uint8Array {
  const p = new Uint8Array(20 + payload);
  p[0] = 0x45;
  p[2] = p.length >> 8;
  p[3] = p.length & 0xff;
  p[8] = 64;
  p[9] = 17;
  p.set(parseIpAddress(src), 12);
  p.set(parseIpAddress(dst), 16);
  if (payload >= 8) p.set([0x30, 0x39, 0x00, 0x35, 0, payload, tag >> 8, tag & 0xff], 20);
  return p;
}

/**
 * The gateway: a fresh test responder for every new IKE SA (as a real gateway keeps one state per
 * IKE SA), ESP through the responder's CHILD_SA keys with src/esp/sa.ts.
 */
export class FakeGateway {
  resp: TestResponder;
  /** Responders of earlier IKE SAs (kept to inspect what they received). */
  readonly previous: TestResponder[] = [];
  /** Inner packets that arrived through ESP. */
  readonly espIn: Uint8Array[] = [];
  /** The SPI each of them came on. */
  readonly espInSpis: number[] = [];
  /** Everything from the client is dropped (a dead gateway or path). */
  silent = false;
  /** Answer ESP from the client by echoing it back (else the gateway only receives). */
  echo = false;
  ikeSaInits = 0;
  /** What the responder could not handle (it throws on what it does not implement). */
  readonly errors: Error[] = [];
  private seed = 100;
  private readonly opts: Partial<ResponderOptions>;
  private readonly inSas = new Map<number, InboundSa>();
  private readonly outSas = new Map<number, OutboundSa>();
  net!: FakeNet;

  constructor(opts: Partial<ResponderOptions> = {}) {
    this.opts = opts;
    this.resp = this.newResponder();
  }

  private newResponder(): TestResponder {
    return new TestResponder({
      psk: PSK,
      id: parseIdentity('@gw.test'),
      address: { address: GW_IP, port: 4500 },
      random: new SeededRandom(this.seed++),
      virtualIp: VIRTUAL_IP,
      ...this.opts,
    });
  }

  /** IKE datagrams that reached the gateway (dropped ones included). */
  ikeIn = 0;

  /** The gateway forgets every IKE SA (restarted, or its DPD and lifetimes ran out). */
  forget(): void {
    this.previous.push(this.resp);
    this.resp = this.newResponder();
  }

  /** An IKE datagram from the client (marker removed). */
  onIke(data: Uint8Array, toPort: number): void {
    this.ikeIn++;
    if (this.silent) return;
    // IKE_SA_INIT request with a zero responder SPI: a new IKE SA, a new responder state.
    const isInit =
      data.length >= 28 &&
      data[18] === 34 &&
      (data[19]! & 0x20) === 0 &&
      data.subarray(8, 16).every((b) => b === 0);
    if (isInit) {
      this.ikeSaInits++;
      if (this.resp.child || this.resp.spiR.some((b) => b !== 0)) {
        this.previous.push(this.resp);
        this.resp = this.newResponder();
      }
    }
    let answers: Uint8Array[];
    try {
      answers = this.resp.receiveAll(data, { address: CLIENT_IP, port: 4500 });
    } catch (e) {
      this.errors.push(e as Error);
      return;
    }
    for (const answer of answers) this.net.toClient(answer, toPort, false);
  }

  /** An ESP datagram from the client. */
  onEsp(data: Uint8Array): void {
    if (this.silent || data.length < 8) return;
    const spi = new DataView(data.buffer, data.byteOffset, 4).getUint32(0);
    const child = [this.resp.child, this.resp.previousChild].find((c) => c?.inSpi === spi);
    if (!child) return;
    let sa = this.inSas.get(spi);
    if (!sa) {
      sa = new InboundSa({ spi, encrId: child.encrId, keymat: child.keyI });
      this.inSas.set(spi, sa);
    }
    const r = sa.open(data);
    if ('drop' in r) return;
    this.espIn.push(r.payload);
    this.espInSpis.push(spi);
    if (this.echo) {
      const p = r.payload.slice();
      p.set(r.payload.subarray(16, 20), 12);
      p.set(r.payload.subarray(12, 16), 16);
      this.sendEsp(p);
    }
  }

  /** Sends an inner packet to the client through the current CHILD_SA. */
  sendEsp(inner: Uint8Array): void {
    const child = this.resp.child!;
    let sa = this.outSas.get(child.outSpi);
    if (!sa) {
      sa = new OutboundSa({ spi: child.outSpi, encrId: child.encrId, keymat: child.keyR });
      this.outSas.set(child.outSpi, sa);
    }
    const esp = sa.seal(inner, 4);
    if (esp instanceof Uint8Array) this.net.toClient(esp, 4500, true);
  }

  /** A request of the gateway (DELETE, DPD, CREATE_CHILD_SA) to the client. */
  send(request: Uint8Array): void {
    this.net.toClient(request, 4500, false);
  }
}

/** The socket: datagrams to the gateway, answers back through the node:dgram demultiplexer. */
export class FakeNet {
  readonly gw: FakeGateway;
  handlers: UdpHandlers | undefined;
  inFlight = 0;
  keepalivesOut = 0;
  ikeOut = 0;
  espOut = 0;
  sockets = 0;
  closed = false;
  /** The address each IKE datagram was sent to (one fake gateway answers for all of them). */
  readonly ikeTo: string[] = [];

  constructor(gw: FakeGateway) {
    this.gw = gw;
    gw.net = this;
  }

  private later(fn: () => void): void {
    this.inFlight++;
    setImmediate(() => {
      this.inFlight--;
      fn();
    });
  }

  toClient(data: Uint8Array, fromPort: number, esp: boolean): void {
    this.later(() => {
      const h = this.handlers;
      if (!h || this.closed) return;
      const from = { address: GW_IP, port: fromPort };
      const counters: UdpCounters = { keepalivesIn: 0, invalid: 0, sendErrors: 0 };
      dispatchDatagram(fromPort === 500 || esp ? data : addNonEspMarker(data), from, h, counters);
    });
  }

  transport(handlers: UdpHandlers): DatagramTransport {
    this.handlers = handlers;
    this.closed = false;
    this.sockets++;
    const counters: UdpCounters = { keepalivesIn: 0, invalid: 0, sendErrors: 0 };
    return {
      localPort: 40000,
      counters,
      sendIke: (data, to) => {
        if (this.closed) return;
        this.ikeOut++;
        this.ikeTo.push(to.address);
        const copy = data.slice();
        this.later(() => this.gw.onIke(copy, to.port));
      },
      sendEsp: (data) => {
        if (this.closed) return;
        this.espOut++;
        const copy = data.slice();
        this.later(() => this.gw.onEsp(copy));
      },
      sendKeepalive: () => {
        if (!this.closed) this.keepalivesOut++;
      },
      close: () => {
        this.closed = true;
      },
    };
  }
}

/** One change the fake host recorded, and whether it was undone. */
export interface HostChange {
  what: string;
  undone: boolean;
}

/**
 * The host's network configuration in memory: routes, addresses, link MTU/state and DNS. Every
 * change is recorded with its undo; `restore` undoes them in reverse order, as NetConfigurator.
 */
export class FakeHost implements HostNetwork {
  readonly routes = new Set<string>(['default via 192.0.2.1 dev eth0']);
  readonly addresses = new Set<string>(['eth0 192.0.2.2/24']);
  readonly links = new Map<string, { mtu: number; up: boolean }>([
    ['eth0', { mtu: 1500, up: true }],
  ]);
  dns = 'nameserver 192.0.2.53';
  /** The `defaultRoute` option of the last setDns (the tunnel carries the default route). */
  dnsDefaultRoute: boolean | undefined;
  readonly changes: HostChange[] = [];
  private readonly undo: { change: HostChange; fn: () => void }[] = [];
  private readonly pinned = new Map<string, RouteInfo>();

  snapshot(): string {
    return JSON.stringify({
      routes: [...this.routes].sort(),
      addresses: [...this.addresses].sort(),
      links: [...this.links].filter(([, l]) => l.mtu !== 1500 || l.up).sort(),
      dns: this.dns,
    });
  }

  private record(what: string, fn: () => void): void {
    const change = { what, undone: false };
    this.changes.push(change);
    this.undo.push({ change, fn });
  }

  private link(dev: string): { mtu: number; up: boolean } {
    let l = this.links.get(dev);
    if (!l) this.links.set(dev, (l = { mtu: 1500, up: false }));
    return l;
  }

  getRouteTo(): Promise<RouteInfo> {
    return Promise.resolve({ dev: 'eth0', via: '192.0.2.1', src: CLIENT_IP });
  }

  linkMtu(dev: string): Promise<number | undefined> {
    return Promise.resolve(this.links.get(dev)?.mtu);
  }

  setMtu(dev: string, mtu: number): Promise<void> {
    const l = this.link(dev);
    const old = l.mtu;
    if (old !== mtu) {
      l.mtu = mtu;
      this.record(`mtu ${dev} ${mtu}`, () => (l.mtu = old));
    }
    return Promise.resolve();
  }

  setUp(dev: string): Promise<void> {
    const l = this.link(dev);
    if (!l.up) {
      l.up = true;
      this.record(`up ${dev}`, () => (l.up = false));
    }
    return Promise.resolve();
  }

  addAddress(dev: string, cidr: string): Promise<void> {
    const a = `${dev} ${cidr}`;
    this.addresses.add(a);
    this.record(`addr ${a}`, () => this.addresses.delete(a));
    return Promise.resolve();
  }

  addRoute(dest: string, opts: RouteOptions): Promise<void> {
    const r = `${dest} dev ${opts.dev}${opts.src ? ` src ${opts.src}` : ''}`;
    if (this.routes.has(r)) return Promise.reject(new Error(`route ${r} exists`));
    this.routes.add(r);
    this.record(`route ${r}`, () => this.routes.delete(r));
    return Promise.resolve();
  }

  async addRoutes(dests: string[], opts: RouteOptions): Promise<void> {
    for (const d of dests) await this.addRoute(d, opts);
  }

  addBlockRoute(dest: string, metric = 1000): Promise<void> {
    const r = `unreachable ${dest} metric ${metric}`;
    this.routes.add(r);
    this.record(`route ${r}`, () => this.routes.delete(r));
    return Promise.resolve();
  }

  addHostRouteVia(dest: string): Promise<void> {
    const r = `${dest} via 192.0.2.1 dev eth0`;
    this.routes.add(r);
    this.pinned.set(dest, { dev: 'eth0', via: '192.0.2.1' });
    this.record(`route ${r}`, () => {
      this.routes.delete(r);
      this.pinned.delete(dest);
    });
    return Promise.resolve();
  }

  defaultPath(): Promise<RouteInfo | undefined> {
    return Promise.resolve({ dev: 'eth0', via: '192.0.2.1' });
  }

  pinnedPath(dest: string): RouteInfo | undefined {
    return this.pinned.get(dest);
  }

  repinHostRoute(): Promise<boolean> {
    return Promise.resolve(false);
  }

  setDns(
    dev: string,
    servers: string[],
    domains: string[],
    opts: DnsOptions = {},
  ): Promise<DnsResult> {
    const old = this.dns;
    this.dns = `${dev}: ${servers.join(' ')} ${domains.join(' ')}`.trim();
    this.dnsDefaultRoute = opts.defaultRoute === true;
    this.record(`dns ${this.dns}`, () => (this.dns = old));
    return Promise.resolve({ method: 'resolv.conf', routing: [], note: `in memory: ${this.dns}` });
  }

  restore(): Promise<string[]> {
    const done: string[] = [];
    while (this.undo.length > 0) {
      const u = this.undo.pop()!;
      u.fn();
      u.change.undone = true;
      done.push(u.change.what);
    }
    return Promise.resolve(done);
  }
}

/** Everything a tunnel test needs, wired together. */
export interface World {
  time: VirtualTime;
  gw: FakeGateway;
  net: FakeNet;
  host: FakeHost;
  tuns: FakeTun[];
  io: TunnelIo;
}

export function world(gwOpts: Partial<ResponderOptions> = {}): World {
  const time = new VirtualTime();
  const gw = new FakeGateway(gwOpts);
  const net = new FakeNet(gw);
  time.net = net;
  const host = new FakeHost();
  const tuns: FakeTun[] = [];
  const io: TunnelIo = {
    now: () => time.now,
    timers: time,
    resolve: (h) => Promise.resolve(h),
    localAddressFor: () => Promise.resolve(CLIENT_IP),
    openTun: (o) => {
      const t = new FakeTun((o.name ?? 'vpn%d').replace('%d', String(tuns.length)), o.mtu ?? 1500);
      tuns.push(t);
      return t;
    },
    openUdp: (_family, _port, handlers) => Promise.resolve(net.transport(handlers)),
    hostNetwork: () => host,
  };
  return { time, gw, net, host, tuns, io };
}

/** A gateway endpoint as the tests name it. */
export const GW: UdpEndpoint = { address: GW_IP, port: 500 };
