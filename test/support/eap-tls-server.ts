/**
 * A test-side EAP-TLS authenticator (RFC 5216, RFC 9190): node:tls as the TLS server on an
 * in-memory duplex, with its own EAP-TLS framing (written independently of src/client/eap-tls.ts,
 * so a framing bug there is not mirrored here). It fragments its flights, acknowledges the
 * client's fragments, sends the TLS 1.3 commitment message and ends with EAP-Success or
 * EAP-Failure. Knobs mimic other servers: strongSwan puts L on unfragmented messages too
 * (`lengthOnSingle`), some servers repeat L on every fragment (`lengthOnEveryFragment`),
 * strongSwan 5.9.8 sends no TLS 1.3 commitment (`commitment: false`).
 */
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';

const REQUEST = 1;
const RESPONSE = 2;
const SUCCESS = 3;
const FAILURE = 4;
const TYPE_TLS = 13;
const TYPE_NAK = 3;
const L = 0x80;
const M = 0x40;
const S = 0x20;
const MAX_MESSAGE = 64 * 1024;

export interface EapTlsServerOptions {
  /** Server certificate chain, PEM, leaf first. */
  cert: string;
  /** Server private key, PEM. */
  key: string;
  /** CAs for client certificates (PEM); when given, a client certificate is required. */
  ca?: string[];
  minVersion?: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
  /** TLS data octets per fragment (default 1000). */
  fragmentSize?: number;
  /** Put L (and the total length) on unfragmented messages too, as strongSwan does (default true). */
  lengthOnSingle?: boolean;
  /** Repeat L on every fragment, not only the first. */
  lengthOnEveryFragment?: boolean;
  /** TLS 1.3: send the 0x00 commitment message after the handshake (RFC 9190 §2.1.1; default true). */
  commitment?: boolean;
  /** What the TLS 1.3 commitment carries (default the one octet 0x00; for negative tests). */
  commitmentData?: Uint8Array;
  /** OpenSSL cipher list (TLS 1.2 suites and TLS_* 1.3 suites), to force a PRF hash. */
  ciphers?: string;
  /** Identifier of the Start request (default 250, so identifiers wrap around). */
  firstIdentifier?: number;
}

export type ServerStep =
  | { kind: 'request'; packet: Uint8Array }
  | { kind: 'success'; packet: Uint8Array; msk: Uint8Array }
  | { kind: 'failure'; packet: Uint8Array; reason: string };

class Wire extends Duplex {
  readonly #sink: (chunk: Buffer) => void;
  constructor(sink: (chunk: Buffer) => void) {
    super();
    this.#sink = sink;
  }
  override _read(): void {
    // pushed from handle()
  }
  override _write(chunk: Buffer, _e: BufferEncoding, cb: (error?: Error | null) => void): void {
    this.#sink(chunk);
    cb();
  }
}

export class EapTlsServer {
  /** Every EAP packet sent / received, in order. */
  readonly requests: Uint8Array[] = [];
  readonly responses: Uint8Array[] = [];
  /** Complete (reassembled) TLS messages per direction. */
  readonly clientFlights: Uint8Array[] = [];
  readonly serverFlights: Uint8Array[] = [];
  /** NSS key log lines (for an independent MSK computation in the tests). */
  readonly keylog: string[] = [];
  protocol: string | undefined;
  cipher: tls.CipherNameAndProtocol | undefined;
  /** Why the TLS side failed, if it did. */
  tlsError: string | undefined;
  /** The client certificate's subject, once verified. */
  clientSubject: string | undefined;

  readonly #opts: EapTlsServerOptions;
  readonly #fragmentSize: number;
  readonly #server: tls.Server;
  readonly #wire: Wire;
  #socket: tls.TLSSocket | undefined;
  #outbox: Buffer[] = [];
  #activity = 0;
  #id: number;
  #outgoing: { data: Uint8Array; offset: number } | undefined;
  #reassembly: { expected: number | undefined; parts: Uint8Array[] } | undefined;
  #secure = false;
  #commitmentSent = false;
  #failAfterResponse = false;
  #msk: Uint8Array | undefined;
  #started = false;

  constructor(opts: EapTlsServerOptions) {
    this.#opts = opts;
    this.#fragmentSize = opts.fragmentSize ?? 1000;
    this.#id = (opts.firstIdentifier ?? 250) & 0xff;
    const requireCert = opts.ca !== undefined;
    const serverOpts: tls.TlsOptions = {
      cert: opts.cert,
      key: opts.key,
      requestCert: requireCert,
      rejectUnauthorized: requireCert,
      minVersion: opts.minVersion ?? 'TLSv1.2',
      maxVersion: opts.maxVersion ?? 'TLSv1.3',
      handshakeTimeout: 0,
    };
    if (opts.ca !== undefined) serverOpts.ca = opts.ca;
    if (opts.ciphers !== undefined) serverOpts.ciphers = opts.ciphers;
    this.#server = tls.createServer(serverOpts);
    this.#server.on('keylog', (line: Buffer, socket: tls.TLSSocket) => {
      this.keylog.push(line.toString('latin1').trim());
      this.#attach(socket);
    });
    this.#server.on('secureConnection', (socket: tls.TLSSocket) => {
      this.#activity++;
      this.#attach(socket);
      this.#onSecure(socket);
    });
    this.#server.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
      this.#activity++;
      this.#attach(socket);
      this.tlsError ??= `${(err as { code?: string }).code ?? ''} ${err.message}`.trim();
    });
    this.#wire = new Wire((chunk) => {
      this.#activity++;
      this.#outbox.push(chunk);
    });
    this.#wire.on('error', () => undefined);
  }

  /** The EAP-TLS Start request (RFC 5216 §2.1.1). */
  start(): Uint8Array {
    if (this.#started) throw new Error('already started');
    this.#started = true;
    // The server's TLS socket is created on the 'connection' event, as a net.Server would.
    this.#server.emit('connection', this.#wire);
    return this.#request(S, undefined, new Uint8Array(0)).packet;
  }

  /** The MSK the server derived, once the handshake completed. */
  msk(): Uint8Array | undefined {
    return this.#msk;
  }

  /** Processes one Response from the peer and says what the server sends next. */
  async handle(packet: Uint8Array): Promise<ServerStep> {
    this.responses.push(Uint8Array.from(packet));
    if (packet.length < 5) return this.#failure('response too short');
    const length = (packet[2]! << 8) | packet[3]!;
    if (packet[0] !== RESPONSE) return this.#failure(`expected a Response, got Code ${packet[0]}`);
    if (length !== packet.length) return this.#failure('Length field does not match');
    if (packet[1] !== this.#id) {
      return this.#failure(`Response Identifier ${packet[1]} does not match Request ${this.#id}`);
    }
    if (packet[4] === TYPE_NAK) return this.#failure('peer sent a Nak');
    if (packet[4] !== TYPE_TLS || packet.length < 6)
      return this.#failure('not an EAP-TLS Response');
    const flags = packet[5]!;
    let off = 6;
    let total: number | undefined;
    if ((flags & L) !== 0) {
      if (packet.length < 10) return this.#failure('L flag without length');
      total = new DataView(packet.buffer, packet.byteOffset).getUint32(6);
      off = 10;
    }
    const data = packet.subarray(off);

    if (this.#failAfterResponse) return this.#failure(this.tlsError ?? 'TLS failed');

    if (this.#outgoing !== undefined) {
      if (data.length !== 0 || (flags & M) !== 0) {
        return this.#failure('expected an ACK of our fragment');
      }
      return this.#nextFragment();
    }

    // Reassembly of the peer's fragments (RFC 5216 §2.1.5).
    const more = (flags & M) !== 0;
    if (more || this.#reassembly !== undefined) {
      const r = (this.#reassembly ??= { expected: total, parts: [] });
      if (total !== undefined && r.expected !== undefined && total !== r.expected) {
        return this.#failure('inconsistent L');
      }
      r.parts.push(Uint8Array.from(data));
      const got = r.parts.reduce((n, p) => n + p.length, 0);
      if (got > (r.expected ?? MAX_MESSAGE)) return this.#failure('too much fragment data');
      if (more) return this.#request(0, undefined, new Uint8Array(0)); // ACK
      this.#reassembly = undefined;
      if (r.expected !== undefined && got !== r.expected) return this.#failure('short message');
      return this.#feed(Buffer.concat(r.parts));
    }
    if (total !== undefined && total !== data.length) return this.#failure('L does not match');
    if (data.length === 0) {
      // The peer's empty Response: it has nothing more to say.
      if (this.#complete()) return this.#success();
      return this.#failure(
        this.tlsError ?? 'peer sent an empty Response before the handshake ended',
      );
    }
    return this.#feed(Buffer.from(data));
  }

  /** Releases the TLS socket. */
  close(): void {
    this.#socket?.destroy();
    this.#wire.destroy();
  }

  #attach(socket: tls.TLSSocket): void {
    if (this.#socket !== undefined) return;
    this.#socket = socket;
    socket.on('error', (err: Error) => {
      this.#activity++;
      this.tlsError ??= err.message;
    });
    socket.on('close', () => {
      this.#activity++;
    });
    socket.on('data', () => {
      this.#activity++;
      this.tlsError ??= 'unexpected application data from the peer';
    });
  }

  #onSecure(socket: tls.TLSSocket): void {
    this.#secure = true;
    this.protocol = socket.getProtocol() ?? undefined;
    this.cipher = socket.getCipher();
    const peer = socket.getPeerX509Certificate();
    this.clientSubject = peer?.subject;
    const tls13 = this.protocol === 'TLSv1.3';
    // RFC 5216 §2.3 / RFC 9190 §2.3, computed the same way as the peer must.
    const km = tls13
      ? socket.exportKeyingMaterial(128, 'EXPORTER_EAP_TLS_Key_Material', Buffer.of(TYPE_TLS))
      : (socket.exportKeyingMaterial.bind(socket) as (length: number, label: string) => Buffer)(
          128,
          'client EAP encryption',
        );
    this.#msk = Uint8Array.from(km.subarray(0, 64));
    if (tls13 && (this.#opts.commitment ?? true)) {
      // RFC 9190 §2.1.1: one octet of application data 0x00.
      socket.write(Buffer.from(this.#opts.commitmentData ?? Uint8Array.of(0)));
      this.#commitmentSent = true;
    }
  }

  #complete(): boolean {
    if (!this.#secure || this.tlsError !== undefined || this.#socket?.destroyed === true) {
      return false;
    }
    return this.protocol !== 'TLSv1.3' || this.#commitmentSent || this.#opts.commitment === false;
  }

  async #feed(message: Buffer): Promise<ServerStep> {
    this.clientFlights.push(Uint8Array.from(message));
    this.#activity++;
    this.#wire.push(message);
    await this.#settle();
    const out = Buffer.concat(this.#outbox);
    this.#outbox = [];
    const socket = this.#socket;
    if (socket !== undefined && socket.authorizationError != null && !this.#secure) {
      // node's server destroyed the socket: the client certificate did not verify.
      this.tlsError = `client certificate rejected: ${String(socket.authorizationError)}`;
      return this.#failure(this.tlsError);
    }
    if (out.length === 0) {
      if (this.#complete()) return this.#success();
      return this.#failure(this.tlsError ?? 'TLS produced no output');
    }
    // A TLS alert after an error still goes to the peer (RFC 5216 §2.1.3); then EAP-Failure.
    if (this.tlsError !== undefined) this.#failAfterResponse = true;
    this.serverFlights.push(Uint8Array.from(out));
    this.#outgoing = { data: Uint8Array.from(out), offset: 0 };
    return this.#nextFragment();
  }

  #nextFragment(): ServerStep {
    const o = this.#outgoing!;
    const first = o.offset === 0;
    const end = Math.min(o.offset + this.#fragmentSize, o.data.length);
    const last = end === o.data.length;
    const chunk = o.data.subarray(o.offset, end);
    let flags = last ? 0 : M;
    const withLength =
      (first && (!last || (this.#opts.lengthOnSingle ?? true))) ||
      (!(first && last) && this.#opts.lengthOnEveryFragment === true);
    if (withLength) flags |= L;
    if (last) this.#outgoing = undefined;
    else o.offset = end;
    return this.#request(flags, withLength ? o.data.length : undefined, chunk);
  }

  #request(
    flags: number,
    total: number | undefined,
    data: Uint8Array,
  ): ServerStep & {
    kind: 'request';
  } {
    if (this.requests.length > 0) this.#id = (this.#id + 1) & 0xff;
    const extra = total === undefined ? 0 : 4;
    const packet = new Uint8Array(6 + extra + data.length);
    const dv = new DataView(packet.buffer);
    packet[0] = REQUEST;
    packet[1] = this.#id;
    dv.setUint16(2, packet.length);
    packet[4] = TYPE_TLS;
    packet[5] = flags;
    if (total !== undefined) dv.setUint32(6, total);
    packet.set(data, 6 + extra);
    this.requests.push(packet);
    return { kind: 'request', packet };
  }

  #success(): ServerStep {
    return { kind: 'success', packet: this.#final(SUCCESS), msk: this.#msk! };
  }

  #failure(reason: string): ServerStep {
    return { kind: 'failure', packet: this.#final(FAILURE), reason };
  }

  /** RFC 3748 §4.2: Success/Failure carry the Identifier of the Response they answer. */
  #final(code: number): Uint8Array {
    return Uint8Array.of(code, this.#id, 0, 4);
  }

  async #settle(): Promise<void> {
    let seen = this.#activity;
    let idle = 0;
    while (idle < 4) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.#activity !== seen) {
        seen = this.#activity;
        idle = 0;
      } else {
        idle++;
      }
    }
  }
}
