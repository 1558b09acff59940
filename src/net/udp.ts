/**
 * UDP transport for IKE and ESP-in-UDP (RFC 3948). One unconnected socket carries everything: IKE
 * to the gateway's port 500, then (after NAT detection) IKE with the non-ESP marker and ESP to port
 * 4500. Datagrams from port 4500 are demultiplexed by `classifyUdp4500` (keepalive / IKE / ESP).
 */
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { VpnError } from '../core/errors.js';
import { classifyUdp4500, addNonEspMarker, NAT_KEEPALIVE } from './natt.js';

export interface UdpEndpoint {
  address: string;
  port: number;
}

export interface UdpHandlers {
  onIke(data: Uint8Array, from: UdpEndpoint): void;
  onEsp(data: Uint8Array, from: UdpEndpoint): void;
  onError(err: Error): void;
}

export interface UdpCounters {
  keepalivesIn: number;
  invalid: number;
  sendErrors: number;
}

/**
 * What the driver needs from the socket edge: `UdpTransport` here (node:dgram, ESP handed to the
 * JavaScript engine) or the native data plane's socket (src/client/datapath-native.ts, ESP
 * handled on its own threads).
 */
export interface DatagramTransport {
  readonly localPort: number;
  readonly counters: UdpCounters;
  sendIke(data: Uint8Array, to: UdpEndpoint, marker: boolean): void;
  sendEsp(data: Uint8Array, to: UdpEndpoint): void;
  sendKeepalive(to: UdpEndpoint): void;
  close(): void;
}

/**
 * Demultiplexes one datagram from the gateway: from port 500 it is IKE; from the NAT-T port,
 * RFC 3948 §2.2-2.3 tell a keepalive, IKE behind the non-ESP marker and ESP apart.
 */
export function dispatchDatagram(
  data: Uint8Array,
  from: UdpEndpoint,
  handlers: UdpHandlers,
  counters: UdpCounters,
): void {
  if (from.port === 500) {
    handlers.onIke(data, from);
    return;
  }
  const c = classifyUdp4500(data);
  switch (c.kind) {
    case 'keepalive':
      counters.keepalivesIn++;
      return;
    case 'ike':
      handlers.onIke(c.data, from);
      return;
    case 'esp':
      handlers.onEsp(c.data, from);
      return;
    case 'invalid':
      counters.invalid++;
      return;
  }
}

export class UdpTransport implements DatagramTransport {
  private readonly socket: Socket;
  readonly counters: UdpCounters = { keepalivesIn: 0, invalid: 0, sendErrors: 0 };
  private closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
  }

  /** Binds a socket of the gateway's address family on `localPort` (0 = ephemeral). */
  static async open(
    family: 4 | 6,
    localPort: number,
    handlers: UdpHandlers,
  ): Promise<UdpTransport> {
    const socket = createSocket({
      type: family === 6 ? 'udp6' : 'udp4',
      recvBufferSize: 4 << 20,
      sendBufferSize: 4 << 20,
    });
    const t = new UdpTransport(socket);
    socket.on('message', (msg, rinfo) => {
      const from = { address: rinfo.address, port: rinfo.port };
      const data = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
      dispatchDatagram(data, from, handlers, t.counters);
    });
    socket.on('error', (e) => handlers.onError(e));
    await new Promise<void>((resolve, reject) => {
      const onErr = (e: Error): void => {
        reject(
          new VpnError('ERR_CONFIG', `cannot bind UDP port ${localPort}: ${e.message}`, {
            cause: e,
          }),
        );
      };
      socket.once('error', onErr);
      socket.bind(localPort, () => {
        socket.off('error', onErr);
        resolve();
      });
    });
    return t;
  }

  get localPort(): number {
    return this.socket.address().port;
  }

  /** Sends an IKE message, with the non-ESP marker when it goes to the NAT-T port. */
  sendIke(data: Uint8Array, to: UdpEndpoint, marker: boolean): void {
    this.send(marker ? addNonEspMarker(data) : data, to);
  }

  sendEsp(data: Uint8Array, to: UdpEndpoint): void {
    this.send(data, to);
  }

  sendKeepalive(to: UdpEndpoint): void {
    this.send(NAT_KEEPALIVE, to);
  }

  private send(data: Uint8Array, to: UdpEndpoint): void {
    if (this.closed) return;
    this.socket.send(data, to.port, to.address, (err) => {
      if (err) this.counters.sendErrors++;
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
  }
}

/**
 * The source address the kernel would use to reach `remote` (needed for NAT detection hashes):
 * a connected UDP socket sends nothing, but the kernel picks the route and source.
 */
export async function localAddressFor(remote: UdpEndpoint): Promise<string> {
  const family = isIP(remote.address);
  if (family === 0) throw new VpnError('ERR_ARG', `"${remote.address}" is not an IP address`);
  const s = createSocket(family === 6 ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.connect(remote.port, remote.address, () => resolve());
    });
    return s.address().address;
  } catch (e) {
    throw new VpnError(
      'ERR_RESOLVE',
      `no route to gateway ${remote.address}: ${(e as Error).message}`,
      { cause: e },
    );
  } finally {
    s.close();
  }
}
