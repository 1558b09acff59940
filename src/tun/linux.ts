/**
 * Linux TUN device over our N-API addon (native/tun.c): /dev/net/tun with IFF_TUN | IFF_NO_PI,
 * non-blocking, read in batches through uv_poll. The only file that talks to the native layer.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { VpnError } from '../core/errors.js';
import type { TunDevice, TunStats } from './tun.js';

interface Addon {
  open(name: string): { fd: number; name: string };
  startReading(fd: number, mtu: number, cb: (pkts: Uint8Array[]) => void): object;
  stopReading(handle: object): void;
  write(fd: number, buf: Uint8Array): number;
  writeBatch(fd: number, bufs: Uint8Array[]): number;
  close(fd: number): void;
}

let addon: Addon | undefined;

function loadAddon(): Addon {
  if (addon) return addon;
  // dist/src/tun/linux.js → package root is three levels up.
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const path = `${root}build/Release/tun.node`;
  if (!existsSync(path)) {
    throw new VpnError(
      'ERR_TUN',
      `the TUN addon is not built (${path} missing): install make, g++ and python3, then run "npm run build:addon"`,
    );
  }
  addon = createRequire(import.meta.url)(path) as Addon;
  return addon;
}

export interface TunOptions {
  /** Interface name or pattern, e.g. "vpn%d" (the kernel picks the number). */
  name?: string;
  mtu?: number;
}

export function openTun(opts: TunOptions = {}): TunDevice {
  const a = loadAddon();
  let r: { fd: number; name: string };
  try {
    r = a.open(opts.name ?? 'vpn%d');
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'EPERM' || code === 'EACCES') {
      throw new VpnError(
        'ERR_TUN',
        'cannot create a TUN device: permission denied — run as root or grant CAP_NET_ADMIN',
        { cause: e },
      );
    }
    if (code === 'ENOENT' || code === 'ENODEV') {
      throw new VpnError(
        'ERR_TUN',
        'no TUN support: /dev/net/tun is missing (load the "tun" kernel module)',
        { cause: e },
      );
    }
    throw new VpnError('ERR_TUN', `cannot create a TUN device: ${(e as Error).message}`, {
      cause: e,
    });
  }
  return adoptTun(a, r.fd, r.name, opts.mtu ?? 1500);
}

/** Wraps a TUN descriptor opened elsewhere (e.g. by a privileged helper). */
export function openTunFromFd(fd: number, name: string, mtu = 1500): TunDevice {
  return adoptTun(loadAddon(), fd, name, mtu);
}

function adoptTun(a: Addon, fd: number, name: string, mtu: number): TunDevice {
  const stats: TunStats = { rxPackets: 0, txPackets: 0, rxBatches: 0, txErrors: 0 };
  let reader: object | undefined;
  let closed = false;
  return {
    name,
    mtu,
    onPackets(cb) {
      if (closed || reader) return;
      reader = a.startReading(fd, Math.max(mtu, 1500), (pkts) => {
        stats.rxBatches++;
        stats.rxPackets += pkts.length;
        try {
          cb(pkts);
        } catch {
          // A bug in a handler must not take the I/O loop down; the driver counts its own drops.
        }
      });
    },
    write(packet) {
      if (closed) return;
      if (a.write(fd, packet) === packet.length) stats.txPackets++;
      else stats.txErrors++;
    },
    writeBatch(packets) {
      if (closed) return;
      const ok = a.writeBatch(fd, packets);
      stats.txPackets += ok;
      stats.txErrors += packets.length - ok;
    },
    close() {
      if (closed) return;
      closed = true;
      if (reader) a.stopReading(reader);
      a.close(fd);
    },
    stats: () => ({ ...stats }),
  };
}
