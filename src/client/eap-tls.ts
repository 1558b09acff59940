/**
 * EAP-TLS peer (RFC 5216; TLS 1.3 per RFC 9190) as an {@link AsyncEapMethod}.
 *
 * The TLS client is node:tls running over an in-memory duplex: bytes TLS writes are collected
 * and carried to the server in EAP-TLS Responses; the TLS data of the server's Requests is pushed
 * into the duplex. EAP-TLS is lock-step (RFC 5216 §2.1): every Request gets exactly one Response,
 * so after feeding a Request to TLS we wait until TLS has settled (no more output within a few
 * event-loop turns; everything is in memory and OpenSSL works synchronously) and answer with what
 * it wrote, fragmented if needed, or with an empty Response when it had nothing to say.
 *
 * This module lives at the edge (it runs node:tls, which is event-driven). It answers only through
 * the `onResponse` / `onFailure` callbacks, never synchronously from inside `request()`, and every
 * TLS error ends in exactly one `onFailure` call.
 */
import { X509Certificate, constants as cryptoConstants, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { VpnError } from '../core/errors.js';
import { NOOP_LOGGER, type Logger } from '../core/log.js';
import type { AsyncEapMethod } from '../eap/types.js';
import type { Identity } from '../ike/identity.js';

import {
  EAP_CODE_RESPONSE,
  EAP_TLS_DEFAULT_FRAGMENT_SIZE,
  EAP_TLS_FLAG_LENGTH,
  EAP_TLS_FLAG_MORE,
  EAP_TLS_FLAG_START,
  EAP_TLS_MAX_MESSAGE,
  EAP_TYPE_TLS,
  MAX_FRAGMENT_SIZE,
  MIN_FRAGMENT_SIZE,
  concat,
  encodePacket,
  flagNames,
  parseRequest,
} from './eap-tls-wire.js';
import type { EapTlsRequest } from './eap-tls-wire.js';
import {
  checkServer,
  eapError,
  errorMessage,
  mapTlsError,
  opensslReason,
  toPem,
} from './eap-tls-errors.js';

export {
  EAP_TLS_DEFAULT_FRAGMENT_SIZE,
  EAP_TLS_FLAG_LENGTH,
  EAP_TLS_FLAG_MORE,
  EAP_TLS_FLAG_START,
  EAP_TLS_MAX_MESSAGE,
  EAP_TYPE_TLS,
} from './eap-tls-wire.js';

/** Event-loop turns without TLS activity after which we take TLS to have said all it will. */
const SETTLE_IDLE_ROUNDS = 4;
/** Bounds the wait for TLS to settle (it never takes more than a handful of turns). */
const SETTLE_MAX_ROUNDS = 10_000;

/** MSK length (RFC 5216 §2.3, RFC 9190 §2.3): the first 64 octets of Key_Material. */
const MSK_LEN = 64;
/** Key_Material length (MSK ‖ EMSK). */
const KEY_MATERIAL_LEN = 128;
/** RFC 5216 §2.3: the TLS-PRF label for TLS 1.2 and earlier. */
const TLS12_KEY_LABEL = 'client EAP encryption';
/** RFC 9190 §2.3: the TLS 1.3 exporter label; the context is the EAP Type-Code 0x0D. */
const TLS13_KEY_LABEL = 'EXPORTER_EAP_TLS_Key_Material';

export type EapTlsVersion = 'TLSv1.2' | 'TLSv1.3';

export interface EapTlsOptions {
  /** Our EAP identity (what the EAP peer sent in its Identity Response), for log messages. */
  identity?: string;
  /** Trust anchors for the server's certificate (DER); at least one. */
  ca: Uint8Array[];
  /** Our certificate chain (DER, leaf first) when the server asks for one; needs `key`. */
  cert?: Uint8Array[];
  /** The private key of `cert[0]`. */
  key?: KeyObject;
  /**
   * The name (DNS name or IP address) the server's certificate must carry (RFC 5216 §5.2).
   * At least one of `serverName` and `serverIdentity` is required: a certificate is never
   * accepted for its CA alone.
   */
  serverName?: string;
  /**
   * The gateway's IKE identity (--remote-id) the server's certificate must also carry, as the
   * gateway's own certificate would (RFC 4945 §3.1).
   */
  serverIdentity?: Identity;
  /** Lowest TLS version (default TLSv1.2). */
  minVersion?: EapTlsVersion;
  /**
   * Highest TLS version (default TLSv1.2). strongSwan 5.9.8, the reference gateway, uses TLS 1.2
   * for EAP-TLS unless `charon.tls.version_max` says otherwise, and its EAP-TLS 1.3 predates
   * RFC 9190: MSK from the label "client EAP encryption" without context, and no commitment
   * message (both changed in 5.9.10), so TLSv1.3 does not interoperate with it.
   */
  maxVersion?: EapTlsVersion;
  /** Most TLS data octets per outgoing EAP-TLS Response (default 1000). */
  fragmentSize?: number;
  /** Receives each EAP-TLS Response (a whole EAP packet), asynchronously. */
  onResponse: (packet: Uint8Array) => void;
  /** Receives the one failure that ends the method, asynchronously. */
  onFailure: (error: VpnError) => void;
  logger?: Logger;
}

/** A fragmented incoming TLS message being put together (RFC 5216 §2.1.5). */
interface Reassembly {
  /** Total length announced by the L flag of the first fragment, if it had one. */
  expected: number | undefined;
  parts: Uint8Array[];
  received: number;
}

/** Our outgoing TLS message while the server acknowledges its fragments one by one. */
interface Outgoing {
  data: Uint8Array;
  offset: number;
}

type State = 'idle' | 'running' | 'failed' | 'closed';

/**
 * Creates an EAP-TLS peer. Throws a {@link VpnError} (ERR_CONFIG, ERR_CERT) for unusable options;
 * everything after that is reported through `onFailure`.
 */
export function createEapTls(opts: EapTlsOptions): AsyncEapMethod {
  return new EapTlsPeer(opts);
}

/** Collects what TLS writes and lets the EAP side push the server's bytes in. */
class WireDuplex extends Duplex {
  readonly #onWrite: (chunk: Buffer) => void;

  constructor(onWrite: (chunk: Buffer) => void) {
    super();
    this.#onWrite = onWrite;
  }

  override _read(): void {
    // Data arrives by push() from the EAP side; nothing to fetch on demand.
  }

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    this.#onWrite(chunk);
    callback();
  }
}

class EapTlsPeer implements AsyncEapMethod {
  readonly type = EAP_TYPE_TLS;
  readonly name = 'EAP-TLS';

  readonly #log: Logger;
  readonly #onResponse: (packet: Uint8Array) => void;
  readonly #onFailure: (error: VpnError) => void;
  readonly #tlsOptions: tls.ConnectionOptions;
  readonly #versions: readonly [EapTlsVersion, EapTlsVersion];
  readonly #fragmentSize: number;
  readonly #serverName: string | undefined;
  readonly #haveCert: boolean;
  readonly #identity: string | undefined;

  #state: State = 'idle';
  #socket: tls.TLSSocket | undefined;
  #wire: WireDuplex | undefined;
  /** TLS output not yet sent. */
  #outbox: Buffer[] = [];
  /** Bumped on every write, push and TLS event: how `#settle` sees that TLS is still busy. */
  #activity = 0;
  /** A Request is being processed and not yet answered. */
  #busy = false;
  #reassembly: Reassembly | undefined;
  #outgoing: Outgoing | undefined;
  #protocol: EapTlsVersion | undefined;
  #handshakeDone = false;
  /** RFC 9190 §2.1.1: the server's one-octet 0x00 application data ("commitment message"). */
  #committed = false;
  #msk: Uint8Array | undefined;

  constructor(opts: EapTlsOptions) {
    this.#log = opts.logger ?? NOOP_LOGGER;
    this.#onResponse = opts.onResponse;
    this.#onFailure = opts.onFailure;
    this.#identity = opts.identity;
    this.#serverName = opts.serverName;
    this.#haveCert = opts.cert !== undefined && opts.cert.length > 0;

    const fragmentSize = opts.fragmentSize ?? EAP_TLS_DEFAULT_FRAGMENT_SIZE;
    if (
      !Number.isInteger(fragmentSize) ||
      fragmentSize < MIN_FRAGMENT_SIZE ||
      fragmentSize > MAX_FRAGMENT_SIZE
    ) {
      throw new VpnError(
        'ERR_CONFIG',
        `EAP-TLS fragment size must be an integer from ${MIN_FRAGMENT_SIZE} to ${MAX_FRAGMENT_SIZE}, got ${fragmentSize}`,
      );
    }
    this.#fragmentSize = fragmentSize;

    if (opts.serverName === undefined && opts.serverIdentity === undefined) {
      throw new VpnError(
        'ERR_CONFIG',
        'EAP-TLS needs the name (serverName) or the identity (serverIdentity) the server certificate must carry',
      );
    }
    if (opts.serverName?.length === 0) {
      throw new VpnError('ERR_CONFIG', 'EAP-TLS server name is empty');
    }
    if (opts.ca.length === 0) {
      throw new VpnError('ERR_CONFIG', 'EAP-TLS needs at least one CA certificate to trust');
    }
    const minVersion = opts.minVersion ?? 'TLSv1.2';
    const maxVersion = opts.maxVersion ?? 'TLSv1.2';
    if (minVersion === 'TLSv1.3' && maxVersion === 'TLSv1.2') {
      throw new VpnError('ERR_CONFIG', 'EAP-TLS minVersion TLSv1.3 is above maxVersion TLSv1.2');
    }
    if (this.#haveCert !== (opts.key !== undefined)) {
      throw new VpnError(
        'ERR_CONFIG',
        'EAP-TLS client certificate and private key must be given together',
      );
    }

    const contextOptions: tls.SecureContextOptions = {
      ca: opts.ca.map((der, i) => toPem(der, `CA certificate ${i + 1}`)),
      minVersion,
      maxVersion,
      // strongSwan's libtls (5.9) does not send the RFC 5746 renegotiation_info extension, which
      // OpenSSL 3 insists on by default. EAP-TLS never renegotiates, so the attack RFC 5746
      // prevents (splicing a renegotiation onto an attacker's session) cannot happen here.
      secureOptions: cryptoConstants.SSL_OP_LEGACY_SERVER_CONNECT,
    };
    if (opts.cert !== undefined && opts.cert.length > 0 && opts.key !== undefined) {
      contextOptions.cert = opts.cert
        .map((der, i) => toPem(der, i === 0 ? 'client certificate' : `chain certificate ${i}`))
        .join('');
      if (opts.key.type !== 'private') {
        throw new VpnError('ERR_CONFIG', 'EAP-TLS client key must be a private key');
      }
      // OpenSSL silently drops a key that does not match the certificate; say so up front.
      const leaf = opts.cert[0];
      if (leaf !== undefined && !new X509Certificate(Buffer.from(leaf)).checkPrivateKey(opts.key)) {
        throw new VpnError(
          'ERR_CERT',
          'EAP-TLS: the client private key does not belong to the client certificate',
        );
      }
      contextOptions.key = opts.key.export({ format: 'pem', type: 'pkcs8' });
    }
    // Built now, so that an unusable certificate or key is a setup error, not a failed handshake.
    let secureContext: tls.SecureContext;
    try {
      secureContext = tls.createSecureContext(contextOptions);
    } catch (e) {
      throw new VpnError(
        'ERR_CERT',
        `EAP-TLS: unusable client certificate or key: ${opensslReason(e)}`,
        { cause: e },
      );
    }
    const serverName = opts.serverName;
    const serverIdentity = opts.serverIdentity;
    const tlsOptions: tls.ConnectionOptions = {
      secureContext,
      // The chain must lead to one of `ca` (the context's only trust anchors). OpenSSL also
      // checks the TLS server purpose: an extendedKeyUsage must allow serverAuth.
      rejectUnauthorized: true,
      // RFC 5216 §5.2: the peer checks the server's identity: its name (node's own check) and
      // the gateway's IKE identity.
      checkServerIdentity: (_host, cert) =>
        checkServer(cert, serverName, serverIdentity) ??
        (serverName === undefined ? undefined : tls.checkServerIdentity(serverName, cert)),
    };
    // SNI carries DNS names only (RFC 6066 §3).
    if (serverName !== undefined && isIP(serverName) === 0) tlsOptions.servername = serverName;
    this.#tlsOptions = tlsOptions;
    this.#versions = [minVersion, maxVersion];
  }

  request(packet: Uint8Array): void {
    if (this.#state === 'failed' || this.#state === 'closed') {
      this.#log.debug('eap', `EAP-TLS: ignoring a Request after the method ${this.#state}`);
      return;
    }
    if (this.#busy) {
      this.#fail(eapError('a new EAP-TLS Request arrived before the previous one was answered'));
      return;
    }
    this.#busy = true;
    // The caller may reuse its buffer; and we never answer synchronously.
    const copy = Uint8Array.from(packet);
    queueMicrotask(() => {
      this.#process(copy).catch((e: unknown) => {
        this.#fail(eapError(`internal error: ${errorMessage(e)}`, e));
      });
    });
  }

  done(): boolean {
    return (
      this.#state === 'running' &&
      this.#handshakeDone &&
      this.#msk !== undefined &&
      (this.#protocol === 'TLSv1.2' || this.#committed)
    );
  }

  msk(): Uint8Array | undefined {
    return this.done() && this.#msk !== undefined ? Uint8Array.from(this.#msk) : undefined;
  }

  close(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#busy = false;
    this.#teardown();
  }

  async #process(packet: Uint8Array): Promise<void> {
    const req = parseRequest(packet);
    if (typeof req === 'string') {
      this.#fail(eapError(req));
      return;
    }
    const { id, flags, data } = req;
    this.#log.debug('eap', 'EAP-TLS Request', {
      id,
      flags: flagNames(flags),
      tlsLength: req.tlsLength,
      bytes: data.length,
    });

    // RFC 5216 §2.1.1: the server starts the conversation with an empty Start request.
    if ((flags & EAP_TLS_FLAG_START) !== 0) {
      if (this.#state !== 'idle') {
        this.#fail(eapError('the server sent a second EAP-TLS Start (restarts are not supported)'));
        return;
      }
      if (data.length > 0) {
        this.#log.debug('eap', 'EAP-TLS: ignoring data in the Start request', {
          bytes: data.length,
        });
      }
      this.#startTls();
      await this.#settle();
      this.#sendTlsOutput(id);
      return;
    }
    if (this.#state === 'idle') {
      this.#fail(eapError('the server sent an EAP-TLS Request before the Start request'));
      return;
    }

    // RFC 5216 §2.1.5: while we send a fragmented message, each fragment is acknowledged by an
    // EAP-TLS Request without data before we send the next one.
    if (this.#outgoing !== undefined) {
      if (data.length === 0 && (flags & EAP_TLS_FLAG_MORE) === 0) {
        this.#sendNextFragment(id);
      } else {
        this.#fail(
          eapError(
            `expected the server to acknowledge our fragment, got a Request with ${data.length} bytes of TLS data`,
          ),
        );
      }
      return;
    }
    if (this.done()) {
      this.#fail(eapError('the server sent another EAP-TLS Request after the handshake completed'));
      return;
    }

    const message = this.#reassemble(req);
    if (typeof message === 'string') {
      this.#fail(eapError(message));
      return;
    }
    if (message === undefined) {
      // RFC 5216 §2.1.5: acknowledge a fragment (M set) with an empty EAP-TLS Response.
      this.#respond(encodePacket(EAP_CODE_RESPONSE, id, 0, undefined, new Uint8Array(0)));
      return;
    }
    if (message.length === 0) {
      this.#fail(
        eapError('the server sent an empty EAP-TLS Request, but we have no fragment to send'),
      );
      return;
    }
    this.#activity++;
    this.#wire?.push(Buffer.from(message));
    await this.#settle();
    this.#sendTlsOutput(id);
  }

  /** Adds one Request's data to the message being reassembled (RFC 5216 §2.1.5, §3.1). */
  #reassemble(req: EapTlsRequest): Uint8Array | undefined | string {
    const more = (req.flags & EAP_TLS_FLAG_MORE) !== 0;
    let r = this.#reassembly;
    if (r === undefined) {
      if (req.tlsLength !== undefined) {
        if (req.tlsLength > EAP_TLS_MAX_MESSAGE) {
          return `the server announces a ${req.tlsLength}-byte TLS message, more than the ${EAP_TLS_MAX_MESSAGE}-byte limit`;
        }
        if (req.tlsLength < req.data.length || (!more && req.tlsLength !== req.data.length)) {
          return `inconsistent EAP-TLS Length: ${req.tlsLength} announced, ${req.data.length} bytes in ${more ? 'the first fragment' : 'the message'}`;
        }
      }
      if (!more) return req.data;
      if (req.data.length === 0) return 'the server sent an empty EAP-TLS fragment with M set';
      if (req.tlsLength !== undefined && req.tlsLength === req.data.length) {
        return `the first fragment already holds all ${req.tlsLength} announced bytes but M says more follow`;
      }
      r = { expected: req.tlsLength, parts: [], received: 0 };
      this.#reassembly = r;
    } else if (req.tlsLength !== undefined && req.tlsLength !== r.expected) {
      // RFC 5216 §3.1 puts L on the first fragment only; some servers repeat it. Either way it
      // must not change.
      return `inconsistent EAP-TLS Length: fragment announces ${req.tlsLength} bytes, the first announced ${r.expected ?? 'none'}`;
    }
    if (more && req.data.length === 0)
      return 'the server sent an empty EAP-TLS fragment with M set';
    const received = r.received + req.data.length;
    const limit = r.expected ?? EAP_TLS_MAX_MESSAGE;
    if (received > limit) {
      return r.expected !== undefined
        ? `the server sent more than the ${r.expected} announced bytes of a fragmented TLS message`
        : `fragmented TLS message exceeds the ${EAP_TLS_MAX_MESSAGE}-byte limit`;
    }
    if (more && r.expected !== undefined && received === r.expected) {
      return `the server announced more fragments after all ${r.expected} bytes of the TLS message arrived`;
    }
    if (!more && r.expected !== undefined && received !== r.expected) {
      return `the last fragment ends the TLS message at ${received} bytes, ${r.expected} were announced`;
    }
    r.parts.push(req.data);
    r.received = received;
    if (more) return undefined;
    this.#reassembly = undefined;
    return concat(r.parts, r.received);
  }

  #startTls(): void {
    this.#state = 'running';
    this.#log.debug('eap', 'EAP-TLS: starting the TLS handshake', {
      identity: this.#identity,
      serverName: this.#serverName,
      minVersion: this.#versions[0],
      maxVersion: this.#versions[1],
    });
    const wire = new WireDuplex((chunk) => {
      this.#activity++;
      this.#outbox.push(chunk);
    });
    wire.on('error', (err: Error) => {
      this.#fail(eapError(`TLS transport failed: ${err.message}`, err));
    });
    this.#wire = wire;
    let socket: tls.TLSSocket;
    try {
      socket = tls.connect({ ...this.#tlsOptions, socket: wire });
    } catch (e) {
      this.#fail(mapTlsError(e, this.#serverName, this.#haveCert));
      return;
    }
    this.#socket = socket;
    socket.on('secureConnect', () => {
      this.#activity++;
      this.#onSecureConnect(socket);
    });
    socket.on('data', (chunk: Buffer) => {
      this.#activity++;
      this.#onApplicationData(chunk);
    });
    socket.on('error', (err: Error) => {
      this.#activity++;
      this.#fail(mapTlsError(err, this.#serverName, this.#haveCert));
    });
    socket.on('end', () => {
      this.#activity++;
      if (!this.done()) this.#fail(eapError('the server closed the TLS connection'));
    });
    socket.on('close', () => {
      this.#activity++;
      if (!this.done())
        this.#fail(eapError('the TLS connection closed before the handshake completed'));
    });
  }

  #onSecureConnect(socket: tls.TLSSocket): void {
    if (this.#state !== 'running') return;
    // node emits secureConnect only after the chain verified against `ca` and
    // checkServerIdentity passed (rejectUnauthorized); check again rather than assume.
    if (!socket.authorized) {
      this.#fail(
        new VpnError(
          'ERR_CERT_UNTRUSTED',
          `EAP-TLS: the server's certificate is not trusted (${String(socket.authorizationError)})`,
        ),
      );
      return;
    }
    const protocol = socket.getProtocol();
    if (protocol !== 'TLSv1.2' && protocol !== 'TLSv1.3') {
      this.#fail(eapError(`unexpected TLS version ${String(protocol)}`));
      return;
    }
    // @types/node declares `context` mandatory; node itself treats it as optional and then
    // exports without context (RFC 5705 §4, use_context = 0).
    const exportKeyingMaterial = socket.exportKeyingMaterial.bind(socket) as (
      length: number,
      label: string,
      context?: Buffer,
    ) => Buffer;
    let keyMaterial: Buffer;
    try {
      keyMaterial =
        protocol === 'TLSv1.2'
          ? // RFC 5216 §2.3: Key_Material = TLS-PRF-128(master_secret, "client EAP encryption",
            // client.random || server.random). node passes no context to
            // SSL_export_keying_material when none is given, and an RFC 5705 exporter without
            // context is exactly that PRF (the tests check it against the key log).
            exportKeyingMaterial(KEY_MATERIAL_LEN, TLS12_KEY_LABEL)
          : // RFC 9190 §2.3: Key_Material = TLS-Exporter("EXPORTER_EAP_TLS_Key_Material",
            // Type-Code 0x0D, 128).
            exportKeyingMaterial(KEY_MATERIAL_LEN, TLS13_KEY_LABEL, Buffer.of(EAP_TYPE_TLS));
    } catch (e) {
      this.#fail(eapError(`deriving the MSK failed: ${errorMessage(e)}`, e));
      return;
    }
    // MSK = Key_Material(0, 63); the EMSK (64..127) is not used by IKEv2 (RFC 7296 §2.16).
    this.#msk = Uint8Array.from(keyMaterial.subarray(0, MSK_LEN));
    keyMaterial.fill(0);
    this.#protocol = protocol;
    this.#handshakeDone = true;
    const cipher = socket.getCipher();
    this.#log.debug('eap', 'EAP-TLS: TLS handshake complete, server certificate verified', {
      protocol,
      cipher: cipher.standardName,
      server: socket.getPeerX509Certificate()?.subject.replaceAll('\n', ', '),
    });
  }

  #onApplicationData(chunk: Buffer): void {
    if (this.#state !== 'running') return;
    // RFC 9190 §2.1.1: with TLS 1.3 the server's last handshake flight is followed by one octet
    // of application data 0x00 ("commitment message"); no other application data is allowed.
    if (
      this.#protocol === 'TLSv1.3' &&
      this.#handshakeDone &&
      !this.#committed &&
      chunk.length === 1 &&
      chunk[0] === 0
    ) {
      this.#committed = true;
      this.#log.debug('eap', 'EAP-TLS: received the TLS 1.3 commitment message');
      return;
    }
    this.#fail(
      eapError(
        `the server sent ${chunk.length} byte${chunk.length === 1 ? '' : 's'} of unexpected TLS application data` +
          (this.#protocol === 'TLSv1.3' ? ' (RFC 9190 allows only the one-octet 0x00)' : ''),
      ),
    );
  }

  /** Waits until TLS has produced all it will for the input so far. */
  async #settle(): Promise<void> {
    let seen = this.#activity;
    let idle = 0;
    for (let rounds = 0; idle < SETTLE_IDLE_ROUNDS; rounds++) {
      if (rounds >= SETTLE_MAX_ROUNDS) {
        this.#fail(eapError('TLS did not settle'));
        return;
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.#state !== 'running') return;
      if (this.#activity !== seen) {
        seen = this.#activity;
        idle = 0;
      } else {
        idle++;
      }
    }
  }

  /** Answers Request `id` with what TLS wrote, or an empty Response when it wrote nothing. */
  #sendTlsOutput(id: number): void {
    if (this.#state !== 'running') return;
    const total = this.#outbox.reduce((n, b) => n + b.length, 0);
    const data = concat(this.#outbox, total);
    this.#outbox = [];
    if (data.length === 0) {
      // RFC 5216 §2.1.1/§2.1.5 and RFC 9190 §2.1.1: nothing to say (the server's final flight,
      // or its commitment message) is answered with an EAP-TLS Response without data.
      this.#respond(encodePacket(EAP_CODE_RESPONSE, id, 0, undefined, data));
      return;
    }
    this.#outgoing = { data, offset: 0 };
    this.#sendNextFragment(id);
  }

  /**
   * RFC 5216 §2.1.5, §3.1: a message longer than the fragment size goes out in fragments, L and
   * the total length on the first, M on all but the last; one that fits goes out whole, without L.
   */
  #sendNextFragment(id: number): void {
    const out = this.#outgoing;
    if (out === undefined) return;
    const first = out.offset === 0;
    const end = Math.min(out.offset + this.#fragmentSize, out.data.length);
    const chunk = out.data.subarray(out.offset, end);
    const last = end === out.data.length;
    const fragmented = !(first && last);
    let flags = 0;
    if (first && fragmented) flags |= EAP_TLS_FLAG_LENGTH;
    if (!last) flags |= EAP_TLS_FLAG_MORE;
    const packet = encodePacket(
      EAP_CODE_RESPONSE,
      id,
      flags,
      (flags & EAP_TLS_FLAG_LENGTH) !== 0 ? out.data.length : undefined,
      chunk,
    );
    if (last) {
      this.#outgoing = undefined;
    } else {
      out.offset = end;
    }
    this.#log.debug('eap', 'EAP-TLS Response', {
      id,
      flags: flagNames(flags),
      bytes: chunk.length,
      total: out.data.length,
    });
    this.#respond(packet);
  }

  #respond(packet: Uint8Array): void {
    this.#busy = false;
    queueMicrotask(() => {
      if (this.#state === 'closed' || this.#state === 'failed') return;
      try {
        this.#onResponse(packet);
      } catch (e) {
        this.#log.error('eap', `EAP-TLS: the onResponse callback threw: ${errorMessage(e)}`);
      }
    });
  }

  #fail(error: VpnError): void {
    if (this.#state === 'failed' || this.#state === 'closed') return;
    this.#state = 'failed';
    this.#busy = false;
    this.#log.debug('eap', 'EAP-TLS failed', { code: error.code, message: error.message });
    this.#teardown();
    queueMicrotask(() => {
      if (this.#state === 'closed') return;
      try {
        this.#onFailure(error);
      } catch (e) {
        this.#log.error('eap', `EAP-TLS: the onFailure callback threw: ${errorMessage(e)}`);
      }
    });
  }

  #teardown(): void {
    this.#outbox = [];
    this.#reassembly = undefined;
    this.#outgoing = undefined;
    this.#msk?.fill(0);
    this.#msk = undefined;
    const socket = this.#socket;
    const wire = this.#wire;
    this.#socket = undefined;
    this.#wire = undefined;
    // The 'error' listeners stay attached, so late errors from destroy() are never unhandled.
    socket?.destroy();
    wire?.destroy();
  }
}
