/**
 * Error taxonomy. Every error the library throws or returns carries a stable `code`, so callers
 * (and the CLI's exit-code table) compare codes rather than classes or messages.
 *
 * Rule of thumb: *throw* only for programmer errors and for setup failures at the edges; protocol
 * rejections are returned as values (parse errors caught at the session boundary, ESP drops,
 * task statuses).
 */
export type ErrorCode =
  | 'ERR_PARSE'
  | 'ERR_ARG'
  | 'ERR_CRYPTO'
  | 'ERR_CONFIG'
  | 'ERR_IKE_TIMEOUT'
  | 'ERR_IKE_NO_PROPOSAL'
  | 'ERR_IKE_AUTH_FAILED'
  | 'ERR_IKE_TS_UNACCEPTABLE'
  | 'ERR_IKE_PROTOCOL'
  | 'ERR_IKE_PEER_ERROR'
  | 'ERR_IKE_DELETED'
  | 'ERR_EAP_FAILED'
  | 'ERR_CERT'
  | 'ERR_CERT_UNTRUSTED'
  | 'ERR_CERT_EXPIRED'
  | 'ERR_CERT_NAME'
  | 'ERR_TUN'
  | 'ERR_NETCFG'
  | 'ERR_DNS'
  | 'ERR_RESOLVE'
  | 'ERR_PRIVILEGE'
  | 'ERR_CONTROL'
  /** The user stopped the command (Ctrl-C at a prompt or while connecting, SIGTERM). */
  | 'ERR_CANCELLED'
  /** `vpn connect --name X` while a tunnel named X is running. */
  | 'ERR_ALREADY_RUNNING'
  /** Proxy mode (--socks5) without its TCP/IP stack (ocproxy) installed. */
  | 'ERR_PROXY_MISSING';

export class VpnError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'VpnError';
  }
}

/**
 * A malformed input: a datagram, payload or packet that does not follow its wire format.
 * `offset` is the byte position in the outermost buffer being decoded where the problem was seen.
 */
export class ParseError extends VpnError {
  readonly offset: number;
  readonly what: string;
  constructor(what: string, offset: number, detail?: string) {
    super('ERR_PARSE', `malformed ${what} at offset ${offset}${detail ? `: ${detail}` : ''}`);
    this.name = 'ParseError';
    this.offset = offset;
    this.what = what;
  }
}

/** A failed cryptographic check (bad ICV, invalid public value, ...). */
export class CryptoError extends VpnError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CRYPTO', message, options);
    this.name = 'CryptoError';
  }
}

export function isVpnError(e: unknown): e is VpnError {
  return e instanceof VpnError;
}
