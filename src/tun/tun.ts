/**
 * A TUN device as the data plane sees it: IP packets in, IP packets out, in batches (the
 * wireguard-go `tun.Device` idea). Implementations: `linux.ts` (the N-API addon); tests may use
 * an in-memory double.
 */
import type { VpnError } from '../core/errors.js';

/** Counters of one device since it was opened. */
export interface TunStats {
  /** Packets read from the kernel and handed to the `onPackets` callback. */
  rxPackets: number;
  /** Packets read but lost: the callback threw, or read(2) failed (other than EAGAIN). */
  rxDrops: number;
  /** Callback calls (one per kernel wakeup); `rxPackets / rxBatches` is the mean batch size. */
  rxBatches: number;
  /** Packets the kernel accepted from `write`/`writeBatch`. */
  txPackets: number;
  /** Packets the kernel refused: queue full (EAGAIN), device down (EIO), malformed (EINVAL). */
  txErrors: number;
}

export interface TunDevice {
  /** Interface name chosen by the kernel, e.g. "vpn0". */
  readonly name: string;
  /** MTU the caller asked for (configure it on the host with `NetConfigurator.setMtu`). */
  readonly mtu: number;
  /**
   * The kernel descriptor, for the native data plane's threads (which then read and write it
   * themselves: `onPackets` is not used). Absent on in-memory doubles. Valid until `close`.
   */
  readonly fd?: number;
  /**
   * TUN_F_* bits in use when the device was opened with `offload` (IFF_VNET_HDR): only the
   * native data plane can read and write it then. 0 or absent: a plain device.
   */
  readonly offloads?: number;
  /**
   * Starts reading; `cb` receives the packets of one kernel wakeup at a time (up to 64). Only the
   * first registration counts. The arrays and buffers belong to the callee.
   */
  onPackets(cb: (packets: Uint8Array[]) => void): void;
  /**
   * Called once if the device becomes unusable while reading (deleted under us): reading has
   * stopped and the tunnel cannot carry traffic any more.
   */
  onError?(cb: (err: VpnError) => void): void;
  /** Writes one IP packet. Never throws on I/O: failures are counted in `txErrors`. */
  write(packet: Uint8Array): void;
  /** Writes several IP packets (one crossing into native code). Never throws on I/O. */
  writeBatch(packets: Uint8Array[]): void;
  /** Stops reading and closes the descriptor (the kernel then removes the device). Idempotent. */
  close(): void;
  stats(): TunStats;
}
