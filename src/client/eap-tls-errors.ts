/**
 * EAP-TLS errors: node:tls and OpenSSL failures mapped to our error codes (untrusted, expired,
 * invalid or refused certificates), and the check of the TLS server's certificate against the
 * gateway's expected name and IKE identity.
 */
import { X509Certificate } from 'node:crypto';
import * as tls from 'node:tls';
import { VpnError, type ErrorCode } from '../core/errors.js';
import { formatIdentity, type Identity } from '../ike/identity.js';
import { matchesIdentity } from '../ike/auth/cert-identity.js';
import { Certificate } from '../pki/x509.js';

export function toPem(der: Uint8Array, what: string): string {
  try {
    return new X509Certificate(Buffer.from(der)).toString();
  } catch (e) {
    throw new VpnError('ERR_CERT', `EAP-TLS: ${what} is not a valid DER certificate`, {
      cause: e,
    });
  }
}

export function eapError(message: string, cause?: unknown): VpnError {
  return new VpnError(
    'ERR_EAP_FAILED',
    `EAP-TLS: ${message}`,
    cause === undefined ? undefined : { cause },
  );
}

/** OpenSSL errors carry a short `reason`; their message adds source file and line. */
export function opensslReason(e: unknown): string {
  const reason = (e as { reason?: unknown } | null)?.reason;
  return typeof reason === 'string' && reason !== '' ? reason : errorMessage(e);
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** OpenSSL verify results (node's error codes) meaning "no path to a trust anchor". */
export const UNTRUSTED_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_UNTRUSTED',
]);
export const EXPIRED_CODES = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
/** Other verify results: the chain is there but a certificate on it is unusable. */
export const INVALID_CERT_CODES = new Set([
  'CERT_SIGNATURE_FAILURE',
  'CERT_REJECTED',
  'CERT_REVOKED',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
  'CERT_CHAIN_TOO_LONG',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
]);
/** Alerts by which a server typically says it did not accept our certificate (or its absence). */
export const CLIENT_CERT_ALERTS = new Set([
  'handshake failure',
  'bad certificate',
  'unsupported certificate',
  'certificate revoked',
  'certificate expired',
  'certificate unknown',
  'unknown ca',
  'access denied',
  'certificate required',
]);

/**
 * Our own check of the server's end-entity certificate, after OpenSSL verified the chain and the
 * TLS server purpose (an extendedKeyUsage must allow serverAuth, RFC 5280 §4.2.1.12; a client
 * certificate fails there as INVALID_PURPOSE): the gateway's IKE identity, when we know it. An
 * Error for node:tls (it ends the handshake with it), undefined when it passes.
 */
export function checkServer(
  peer: tls.PeerCertificate,
  serverName: string | undefined,
  serverIdentity: Identity | undefined,
): Error | undefined {
  if (serverIdentity === undefined) return undefined;
  let leaf: Certificate;
  try {
    leaf = Certificate.fromDer(new Uint8Array(peer.raw));
  } catch (e) {
    return new TlsServerCertError(
      'ERR_CERT',
      `cannot parse the server's certificate: ${errorMessage(e)}`,
    );
  }
  if (!matchesIdentity(leaf, serverIdentity)) {
    return new TlsServerCertError(
      'ERR_CERT_NAME',
      `the server's certificate "${leaf.describe()}" does not carry the gateway's identity "${formatIdentity(serverIdentity)}"${serverName === undefined ? '' : ` (it was also to name ${serverName})`}`,
    );
  }
  return undefined;
}

/** A refusal of the server's certificate by our own checks, carrying the error code to report. */
export class TlsServerCertError extends Error {
  readonly vpnCode: ErrorCode;
  constructor(vpnCode: ErrorCode, message: string) {
    super(message);
    this.vpnCode = vpnCode;
  }
}

/** Turns a node:tls error into the VpnError the CLI maps to an exit code. */
export function mapTlsError(
  e: unknown,
  serverName: string | undefined,
  haveCert: boolean,
): VpnError {
  const err = e instanceof Error ? e : new Error(String(e));
  const code = (err as { code?: unknown }).code;
  const c = typeof code === 'string' ? code : '';
  const make = (codeOut: ErrorCode, message: string): VpnError =>
    new VpnError(codeOut, `EAP-TLS: ${message}`, { cause: err });
  if (err instanceof TlsServerCertError) return make(err.vpnCode, err.message);
  if (c === 'INVALID_PURPOSE') {
    return make(
      'ERR_CERT',
      `the server's certificate is not meant for a TLS server: its extended key usage lacks serverAuth (${c}: ${err.message}); a client certificate cannot stand for the gateway`,
    );
  }
  if (UNTRUSTED_CODES.has(c)) {
    return make(
      'ERR_CERT_UNTRUSTED',
      `the server's certificate is not trusted (${c}: ${err.message}); no path to the given CA certificates`,
    );
  }
  if (EXPIRED_CODES.has(c)) {
    return make(
      'ERR_CERT_EXPIRED',
      `a certificate on the server's chain ${c === 'CERT_HAS_EXPIRED' ? 'has expired' : 'is not yet valid'} (${c})`,
    );
  }
  if (c === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return make(
      'ERR_CERT_NAME',
      `the server's certificate does not name ${serverName ?? 'the expected server'}: ${err.message}`,
    );
  }
  if (INVALID_CERT_CODES.has(c)) {
    return make('ERR_CERT', `the server's certificate chain is invalid (${c}: ${err.message})`);
  }
  const alert = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_(.+)$/.exec(c)?.[1];
  if (alert !== undefined) {
    const name = alert.toLowerCase().replaceAll('_', ' ');
    const hint = CLIENT_CERT_ALERTS.has(name)
      ? haveCert
        ? '; it probably did not accept our client certificate'
        : '; it probably requires a client certificate and none is configured'
      : '';
    return make(
      'ERR_EAP_FAILED',
      `the server aborted the TLS handshake with alert "${name}"${hint}`,
    );
  }
  return make('ERR_EAP_FAILED', `TLS failed: ${opensslReason(err)}${c === '' ? '' : ` (${c})`}`);
}
