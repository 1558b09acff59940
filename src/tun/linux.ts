/**
 * Linux TUN device over our N-API addon (native/tun.c): /dev/net/tun with IFF_TUN | IFF_NO_PI,
 * non-blocking, watched by uv_poll and read in batches. The only module that talks to the native
 * layer; everything above it sees a `TunDevice`.
 */
import { createRequire } from 'node:module';
import { VpnError } from '../core/errors.js';
import { addonCandidates, noAddonReason } from '../native/addons.js';
import type { AddonStatus } from '../native/addons.js';
import type { TunDevice, TunStats } from './tun.js';

/** The addon's exports (see the comment at the top of native/tun.c). */
interface Addon {
  open(name: string, opts?: { offload?: boolean }): { fd: number; name: string; offloads?: number };
  adopt(fd: number): { fd: number; name: string };
  startReading(fd: number, cb: (pkts: Uint8Array[], fatal?: string) => void): object;
  stopReading(handle: object): void;
  readErrors(handle: object): number;
  write(fd: number, buf: Uint8Array): number;
  writeBatch(fd: number, bufs: Uint8Array[]): number;
  close(fd: number): void;
  packetPair(): [number, number];
  sendFd(sock: number, fd: number, data: Uint8Array): void;
  recvFd(sock: number): { fd: number; data: Buffer } | null;
}

let addon: Addon | undefined;
let loaded: AddonStatus | undefined;

/**
 * Loads the TUN addon: a prebuilt binary of the package first, then a local build (see
 * src/native/addons.ts), the first that loads. Once per process; never throws.
 */
export function tunAddonStatus(): AddonStatus {
  if (loaded?.available) return loaded;
  const candidates = addonCandidates('tun');
  if (candidates.length === 0) {
    loaded = {
      available: false,
      reason: `the TUN addon is missing (${noAddonReason('tun')}): install make, gcc and python3, then run "npm rebuild -g ikev2-vpn" (in a checkout: "npm run build:addon")`,
    };
    return loaded;
  }
  const errors: string[] = [];
  for (const c of candidates) {
    try {
      const a = createRequire(import.meta.url)(c.path) as Partial<Addon>;
      if (typeof a.open !== 'function' || typeof a.startReading !== 'function') {
        errors.push(`${c.path} is not the TUN addon`);
        continue;
      }
      addon = a as Addon;
      loaded = { available: true, source: c.source, path: c.path };
      return loaded;
    } catch (e) {
      errors.push(`cannot load ${c.path}: ${(e as Error).message}`);
    }
  }
  loaded = {
    available: false,
    reason: `the TUN addon cannot be loaded (${errors.join('; ')}): run "npm rebuild -g ikev2-vpn" (in a checkout: "npm run build:addon")`,
  };
  return loaded;
}

function loadAddon(): Addon {
  const st = tunAddonStatus();
  if (!st.available || !addon) {
    throw new VpnError('ERR_TUN', st.available ? 'the TUN addon is not loaded' : st.reason);
  }
  return addon;
}

/** Options of `openTun`. */
export interface TunOptions {
  /** Interface name or pattern, e.g. "vpn%d" (the kernel picks the number). Default "vpn%d". */
  name?: string;
  /** Recorded on the device for the caller; the MTU itself is set with `ip link` (netcfg). */
  mtu?: number;
  /**
   * Ask for TUN offloads (IFF_VNET_HDR, TSO4/TSO6/USO): for the native data plane only, which
   * splits the kernel's super-packets itself. Falls back to a plain device when refused.
   */
  offload?: boolean;
}

const DEFAULT_MTU = 1400;

/** Linux interface names: 1..15 bytes, no '/', ':' or whitespace (kernel dev_valid_name). */
function checkName(name: string): void {
  if (
    name.length === 0 ||
    Buffer.byteLength(name) > 15 ||
    name === '.' ||
    name === '..' ||
    /[/:\s]/.test(name)
  ) {
    throw new VpnError(
      'ERR_TUN',
      `invalid interface name ${JSON.stringify(name)}: 1 to 15 characters, no "/", ":" or spaces`,
    );
  }
}

function checkMtu(mtu: number): void {
  if (!Number.isInteger(mtu) || mtu < 576 || mtu > 65535) {
    throw new VpnError('ERR_TUN', `invalid MTU ${String(mtu)}: expected an integer in 576..65535`);
  }
}

/** Turns the addon's errno-coded errors into person-readable `ERR_TUN` errors. */
function tunError(e: unknown, name: string): VpnError {
  const code = (e as { code?: string }).code ?? '';
  const detail = (e as Error).message;
  switch (code) {
    case 'EPERM':
    case 'EACCES':
      return new VpnError(
        'ERR_TUN',
        'cannot create a TUN device: permission denied — run as root or grant CAP_NET_ADMIN',
        { cause: e },
      );
    case 'ENOENT':
    case 'ENODEV':
    case 'ENXIO':
      return new VpnError(
        'ERR_TUN',
        'no TUN support: /dev/net/tun is missing or unusable (load the "tun" kernel module, or pass --device /dev/net/tun to the container)',
        { cause: e },
      );
    case 'EBUSY':
    case 'EEXIST':
      return new VpnError(
        'ERR_TUN',
        `cannot create TUN device ${name}: the name is in use by another device`,
        { cause: e },
      );
    case 'EINVAL':
      return new VpnError('ERR_TUN', `cannot create TUN device ${name}: ${detail}`, { cause: e });
    default:
      return new VpnError('ERR_TUN', `cannot create a TUN device: ${detail}`, { cause: e });
  }
}

/**
 * Creates a TUN device (IFF_TUN | IFF_NO_PI) in the caller's network namespace. The device lives
 * as long as the returned object is open (or the process).
 * @throws VpnError ERR_TUN with advice (no privilege, no TUN support, name in use, bad name).
 */
export function openTun(opts: TunOptions = {}): TunDevice {
  const name = opts.name ?? 'vpn%d';
  const mtu = opts.mtu ?? DEFAULT_MTU;
  checkName(name);
  checkMtu(mtu);
  const a = loadAddon();
  let r: { fd: number; name: string; offloads?: number };
  try {
    r = opts.offload === true ? a.open(name, { offload: true }) : a.open(name);
  } catch (e) {
    throw tunError(e, name);
  }
  return wrap(a, r.fd, r.name, mtu, r.offloads ?? 0);
}

/**
 * Adopts a TUN descriptor opened elsewhere (a privileged helper, systemd, a parent process). It
 * must be an IFF_TUN | IFF_NO_PI device; it is made non-blocking, and `close()` closes it.
 * @throws VpnError ERR_TUN when `fd` is not such a device.
 */
export function openTunFromFd(fd: number, opts: { mtu?: number } = {}): TunDevice {
  const mtu = opts.mtu ?? DEFAULT_MTU;
  checkMtu(mtu);
  if (!Number.isInteger(fd) || fd < 0) {
    throw new VpnError('ERR_TUN', `invalid file descriptor ${String(fd)}`);
  }
  const a = loadAddon();
  let r: { fd: number; name: string };
  try {
    r = a.adopt(fd);
  } catch (e) {
    throw new VpnError(
      'ERR_TUN',
      `descriptor ${String(fd)} is not a usable TUN device: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  return wrap(a, r.fd, r.name, mtu);
}

/**
 * A TUN device without a kernel device: one end of a `socketpair(AF_UNIX, SOCK_DGRAM)`, which
 * carries one IP packet per read and write just as a TUN descriptor does. The packets go to
 * whatever holds `peerFd`: in proxy mode, ocproxy's lwIP stack (handed `peerFd` as openconnect
 * hands it its --script-tun socket). `device` needs no privilege; both data paths (JavaScript
 * and the native threads) use its descriptor where they would use the TUN device's.
 * `peerFd` is close-on-exec and blocking; close it with `closeFd` once it has been handed on.
 */
export function openPacketPair(opts: { name?: string; mtu?: number } = {}): {
  device: TunDevice;
  peerFd: number;
} {
  const mtu = opts.mtu ?? DEFAULT_MTU;
  checkMtu(mtu);
  const a = loadAddon();
  let fds: [number, number];
  try {
    fds = a.packetPair();
  } catch (e) {
    throw new VpnError('ERR_TUN', `cannot create a socket pair: ${(e as Error).message}`, {
      cause: e,
    });
  }
  return { device: wrap(a, fds[0], opts.name ?? 'packet-pair', mtu), peerFd: fds[1] };
}

/** Closes a descriptor the addon gave us (a pair's other end, a received descriptor). */
export function closeFd(fd: number): void {
  loadAddon().close(fd);
}

/**
 * Sends descriptor `fd` with a short message (1..256 bytes) over the AF_UNIX socket `sock`
 * (SCM_RIGHTS). @throws Error with an errno code.
 */
export function sendFd(sock: number, fd: number, data: Uint8Array): void {
  loadAddon().sendFd(sock, fd, data);
}

/**
 * The next descriptor queued on `sock` with its message, or null when none is (never blocks).
 * @throws Error (errno EPROTO) for a datagram that is not exactly one descriptor and a short message.
 */
export function recvFd(sock: number): { fd: number; data: Buffer } | null {
  return loadAddon().recvFd(sock);
}

/** struct virtio_net_hdr (10 bytes) with no flags and gso_type NONE. */
const VNET_NONE = new Uint8Array(10);

function wrap(a: Addon, fd: number, name: string, mtu: number, offloads = 0): TunDevice {
  const stats: TunStats = { rxPackets: 0, rxDrops: 0, rxBatches: 0, txPackets: 0, txErrors: 0 };
  let reader: object | undefined;
  let closed = false;
  let onError: ((err: VpnError) => void) | undefined;
  return {
    name,
    mtu,
    fd,
    offloads,
    onPackets(cb) {
      if (closed || reader) return;
      // Every read would start with a virtio_net_hdr (and could be a 64 KiB super-packet).
      if (offloads !== 0) throw new VpnError('ERR_TUN', `${name} has TUN offloads: native only`);
      reader = a.startReading(fd, (pkts, fatal) => {
        if (pkts.length > 0) {
          stats.rxBatches++;
          try {
            cb(pkts);
            stats.rxPackets += pkts.length;
          } catch {
            // A bug in a handler must not take the I/O loop down: count the batch as dropped.
            stats.rxDrops += pkts.length;
          }
        }
        if (fatal !== undefined && !closed) {
          onError?.(
            new VpnError(
              'ERR_TUN',
              `TUN device ${name} stopped working (${fatal}): was it deleted?`,
            ),
          );
        }
      });
    },
    onError(cb) {
      onError = cb;
    },
    write(packet) {
      if (closed) {
        stats.txErrors++;
        return;
      }
      // IFF_VNET_HDR: a virtio_net_hdr of zeros (complete packet, no GSO) goes first.
      if (offloads !== 0) packet = Buffer.concat([VNET_NONE, packet]);
      if (a.write(fd, packet) === packet.length) stats.txPackets++;
      else stats.txErrors++;
    },
    writeBatch(packets) {
      if (closed) {
        stats.txErrors += packets.length;
        return;
      }
      const ok = a.writeBatch(
        fd,
        offloads !== 0 ? packets.map((p) => Buffer.concat([VNET_NONE, p])) : packets,
      );
      stats.txPackets += ok;
      stats.txErrors += packets.length - ok;
    },
    close() {
      if (closed) return;
      closed = true;
      if (reader) {
        stats.rxDrops += a.readErrors(reader);
        a.stopReading(reader);
      }
      a.close(fd);
    },
    stats() {
      const s = { ...stats };
      if (reader && !closed) s.rxDrops += a.readErrors(reader);
      return s;
    },
  };
}
