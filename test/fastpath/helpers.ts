/**
 * Helpers for the data plane tests: where the addons are, a TUN stand-in (an AF_UNIX
 * SOCK_SEQPACKET pair from the esp addon's test-only export, read and written with the TUN
 * addon's reader and writer), a peer UDP socket, deterministic random packets and ESP built by
 * hand with the JavaScript AEAD.
 */
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { concatBytes, u32be } from '../../src/core/bytes.js';
import { createAead } from '../../src/crypto/aead.js';
import type { TrafficSelectorRange, Policy } from '../../src/esp/policy.js';
import { dataPlaneStatus, loadDataPlaneAddon } from '../../src/fastpath/dataplane.js';
import type { DataPlaneAddon } from '../../src/fastpath/dataplane.js';
import { parseIpAddress } from '../../src/core/ip.js';

/** The package root: the first directory above this file with package.json and binding.gyp. */
function findRoot(): string | undefined {
  for (const start of [dirname(fileURLToPath(import.meta.url)), process.cwd()]) {
    for (let dir = start; ; dir = dirname(dir)) {
      if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'binding.gyp'))) return dir;
      if (dirname(dir) === dir) break;
    }
  }
  return undefined;
}

export const ROOT = findRoot();
export const ESP_ADDON = ROOT && join(ROOT, 'build', 'Release', 'esp.node');
export const TUN_ADDON = ROOT && join(ROOT, 'build', 'Release', 'tun.node');
export const OPTS = ESP_ADDON ? { addonPath: ESP_ADDON } : {};

/** Why the data plane tests cannot run here, or false. */
export function skipReason(): string | false {
  if (!ESP_ADDON || !existsSync(ESP_ADDON)) return 'esp addon not built (npm run build:addon)';
  const st = dataPlaneStatus(OPTS);
  if (!st.available) return `native data plane unavailable: ${st.reason}`;
  if (!TUN_ADDON || !existsSync(TUN_ADDON)) {
    return 'tun addon not built (the tests read and write the TUN stand-in with it)';
  }
  return false;
}

/** The TUN addon's exports the tests use (native/tun.c); they work on any packet descriptor. */
export interface TunAddon {
  startReading(fd: number, cb: (pkts: Buffer[]) => void): object;
  stopReading(handle: object): void;
  write(fd: number, data: Uint8Array): number;
  close(fd: number): void;
}

export function addons(): { esp: DataPlaneAddon; tun: TunAddon } {
  const esp = loadDataPlaneAddon(OPTS);
  if (!esp || !TUN_ADDON) throw new Error('addons not available');
  const tun = createRequire(import.meta.url)(TUN_ADDON) as TunAddon;
  return { esp, tun };
}

/**
 * A TUN stand-in: `dpFd` goes to the data plane, the test writes "outgoing" packets to `hostFd`
 * and collects what the data plane writes ("incoming") in `received`.
 */
export class FakeTun {
  readonly dpFd: number;
  readonly hostFd: number;
  readonly received: Uint8Array[] = [];
  private reader: object | undefined;
  private closed = false;
  private readonly tun: TunAddon;

  constructor(esp: DataPlaneAddon, tun: TunAddon) {
    this.tun = tun;
    [this.dpFd, this.hostFd] = esp.socketpairForTests();
    this.reader = tun.startReading(this.hostFd, (pkts) => {
      for (const p of pkts) this.received.push(new Uint8Array(p));
    });
  }

  /** Packets into the data plane's outbound thread, as the kernel would route them. */
  write(pkts: Uint8Array[]): void {
    for (const p of pkts) {
      const n = this.tun.write(this.hostFd, p);
      if (n !== p.length) throw new Error(`TUN stand-in write: ${n}`);
    }
  }

  /** Closes our end only (the data plane then reads end-of-file). */
  closeHostEnd(): void {
    if (this.reader) this.tun.stopReading(this.reader);
    this.reader = undefined;
    this.tun.close(this.hostFd);
  }

  /** After the data plane is closed. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.reader) {
      this.tun.stopReading(this.reader);
      this.tun.close(this.hostFd);
    }
    this.tun.close(this.dpFd);
  }
}

/** A UDP socket playing the gateway: collects every datagram it receives. */
export class Peer {
  readonly received: { data: Uint8Array; port: number }[] = [];
  readonly socket: Socket;
  readonly address: string;

  private constructor(socket: Socket, address: string) {
    this.socket = socket;
    this.address = address;
    socket.on('message', (m, r) => this.received.push({ data: new Uint8Array(m), port: r.port }));
  }

  static async open(address = '127.0.0.1', port = 0): Promise<Peer> {
    const type = address.includes(':') ? 'udp6' : 'udp4';
    const socket = createSocket({ type, recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new Peer(socket, address);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(data: Uint8Array, port: number, address = this.address): Promise<void> {
    return new Promise((resolve, reject) =>
      this.socket.send(data, port, address, (e) => (e ? reject(e) : resolve())),
    );
  }

  close(): void {
    this.socket.close();
  }
}

/** Polls `cond` every 5 ms until it holds; throws with `what()` after `ms`. */
export async function waitFor(cond: () => boolean, what: () => string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Deterministic randomness (mulberry32): rand(n) is a float in [0, n). */
export function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * n;
  };
}

export function randomBytes(rand: (n: number) => number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = Math.floor(rand(256));
  return b;
}

export const ip = (s: string): Uint8Array => parseIpAddress(s);

export function range(
  start: string,
  end: string,
  protocol = 0,
  startPort = 0,
  endPort = 65535,
): TrafficSelectorRange {
  return { startAddr: ip(start), endAddr: ip(end), protocol, startPort, endPort };
}

export const ANY4 = range('0.0.0.0', '255.255.255.255');
export const ANY6 = range('::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff');
export const ANY: Policy = { local: [ANY4, ANY6], remote: [ANY4, ANY6] };

/** An IPv4 packet (no options) with ports when the protocol has them. */
export function ipv4(
  src: string,
  dst: string,
  protocol: number,
  length: number,
  sport = 1234,
  dport = 80,
  fill = 0,
): Uint8Array {
  const p = new Uint8Array(length).fill(fill);
  p[0] = 0x45;
  p[2] = length >> 8;
  p[3] = length & 0xff;
  p[8] = 64;
  p[9] = protocol;
  p.set(ip(src), 12);
  p.set(ip(dst), 16);
  if (length >= 24) {
    p[20] = sport >> 8;
    p[21] = sport & 0xff;
    p[22] = dport >> 8;
    p[23] = dport & 0xff;
  }
  return p;
}

/** An IPv6 packet without extension headers. */
export function ipv6(
  src: string,
  dst: string,
  next: number,
  length: number,
  sport = 1234,
  dport = 53,
): Uint8Array {
  const p = new Uint8Array(length);
  p[0] = 0x60;
  p[4] = (length - 40) >> 8;
  p[5] = (length - 40) & 0xff;
  p[6] = next;
  p[7] = 64;
  p.set(ip(src), 8);
  p.set(ip(dst), 24);
  if (length >= 44) {
    p[40] = sport >> 8;
    p[41] = sport & 0xff;
    p[42] = dport >> 8;
    p[43] = dport & 0xff;
  }
  return p;
}

function pick<T>(rand: (n: number) => number, a: readonly T[]): T {
  return a[Math.floor(rand(a.length))]!;
}

const PROTOS = [6, 17, 132, 136, 1, 58, 50, 47, 0];
const PORTS = [53, 80, 443, 500, 1500, 1999, 2001, 8080, 0, 65535];

/**
 * A random IP-ish packet for the parser and the policy: valid IPv4 and IPv6 packets (options,
 * extension header chains, fragments, every interesting protocol and port) from small address
 * sets, truncated ones and garbage. Never empty (a TUN device never reads an empty packet).
 */
export function randomPacket(
  rand: (n: number) => number,
  addrs: { src4: string[]; dst4: string[]; src6: string[]; dst6: string[] },
): Uint8Array {
  const kind = Math.floor(rand(20));
  let p: Uint8Array;
  if (kind < 9) {
    const words = rand(12) < 1 ? pick(rand, [0, 1, 4, 15]) : 5 + Math.floor(rand(3));
    const proto = pick(rand, PROTOS);
    const hdr = Math.max(words * 4, 20);
    p = ipv4(pick(rand, addrs.src4), pick(rand, addrs.dst4), proto, hdr + Math.floor(rand(400)));
    p[0] = 0x40 | words;
    if (rand(5) < 1) {
      // a fragment: offset 0 with MF, or a later one (no ports)
      const off = rand(2) < 1 ? 0 : 1 + Math.floor(rand(0x1fff));
      p[6] = 0x20 | (off >> 8);
      p[7] = off & 0xff;
    } else if (rand(4) < 1) p[6] = 0x40; // DF
    if (p.length >= hdr + 4) {
      const sp = pick(rand, PORTS);
      const dp = pick(rand, PORTS);
      p[hdr] = sp >> 8;
      p[hdr + 1] = sp & 0xff;
      p[hdr + 2] = dp >> 8;
      p[hdr + 3] = dp & 0xff;
    }
  } else if (kind < 18) {
    const parts: number[] = [];
    const chain = Math.floor(rand(4));
    const exts: Uint8Array[] = [];
    for (let i = 0; i < chain; i++) parts.push(pick(rand, [0, 43, 60, 44]));
    const upper = pick(rand, PROTOS);
    for (let i = 0; i < parts.length; i++) {
      const next = i + 1 < parts.length ? parts[i + 1]! : upper;
      if (parts[i] === 44) {
        const e = new Uint8Array(8);
        e[0] = next;
        const off = rand(3) < 1 ? 1 + Math.floor(rand(0x1fff)) : 0;
        e[2] = off >> 5;
        e[3] = ((off << 3) & 0xff) | (rand(2) < 1 ? 1 : 0);
        exts.push(e);
      } else {
        const hl = Math.floor(rand(3));
        const e = randomBytes(rand, (hl + 1) * 8);
        e[0] = next;
        e[1] = hl;
        exts.push(e);
      }
    }
    const body = randomBytes(rand, Math.floor(rand(300)));
    if (body.length >= 4) {
      const sp = pick(rand, PORTS);
      const dp = pick(rand, PORTS);
      body.set([sp >> 8, sp & 0xff, dp >> 8, dp & 0xff]);
    }
    const base = ipv6(pick(rand, addrs.src6), pick(rand, addrs.dst6), parts[0] ?? upper, 40);
    p = concatBytes(base, ...exts, body);
    if (rand(10) < 1) p = p.subarray(0, 1 + Math.floor(rand(p.length)));
  } else {
    p = randomBytes(rand, 1 + Math.floor(rand(80)));
    if (rand(2) < 1) p[0] = (pick(rand, [0, 1, 5, 7, 15]) << 4) | (p[0]! & 15);
  }
  return p;
}

/** RFC 4303 §2.4 plaintext: payload ‖ padding 1, 2, 3 … ‖ pad length ‖ next header. */
export function espPlaintext(payload: Uint8Array, nh: number, padLen?: number): Uint8Array {
  const pad = padLen ?? (4 - ((payload.length + 2) & 3)) & 3;
  const pt = new Uint8Array(payload.length + pad + 2);
  pt.set(payload);
  for (let i = 0; i < pad; i++) pt[payload.length + i] = i + 1;
  pt[pt.length - 2] = pad;
  pt[pt.length - 1] = nh;
  return pt;
}

/** ESP as src/esp/sa.ts writes it, for any plaintext and sequence number (RFC 4106). */
export function sealRaw(
  encrId: number,
  keymat: Uint8Array,
  spi: number,
  seq: number,
  plaintext: Uint8Array,
): Uint8Array {
  const header = concatBytes(u32be(spi), u32be(seq));
  const iv = concatBytes(u32be(0), u32be(seq));
  return concatBytes(header, iv, createAead(encrId, keymat).seal(iv, header, plaintext));
}
