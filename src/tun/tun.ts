/** A TUN device as the driver sees it (the wireguard-go `tun.Device` idea, batch-shaped). */
export interface TunStats {
  rxPackets: number;
  txPackets: number;
  rxBatches: number;
  txErrors: number;
}

export interface TunDevice {
  readonly name: string;
  readonly mtu: number;
  /** Packets read from the device, delivered in batches (one call per kernel wakeup). */
  onPackets(cb: (packets: Uint8Array[]) => void): void;
  write(packet: Uint8Array): void;
  writeBatch(packets: Uint8Array[]): void;
  close(): void;
  stats(): TunStats;
}
