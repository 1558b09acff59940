/**
 * Exit codes of the `vpn` command, one per kind of failure, so scripts can branch on them.
 * Keep in sync with README.md ("Exit codes").
 */
import type { ErrorCode } from '../core/errors.js';

export const EXIT = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  UNREACHABLE: 3,
  AUTH_FAILED: 4,
  NO_PROPOSAL: 5,
  GATEWAY_REFUSED: 6,
  PROTOCOL: 7,
  PRIVILEGE: 8,
  NETCFG: 9,
  CLOSED_BY_GATEWAY: 10,
  NOT_RUNNING: 11,
  CERTIFICATE: 12,
  CERT_UNTRUSTED: 13,
  CERT_EXPIRED: 14,
  CERT_NAME: 15,
  EAP_FAILED: 16,
  ALREADY_RUNNING: 17,
  /** `--socks5`: ocproxy, the proxy's TCP/IP stack, is not installed (apt-get install ocproxy). */
  PROXY_MISSING: 18,
  /** 128 + the signal number, as shells report a command a signal stopped. */
  HANGUP: 129,
  CANCELLED: 130,
  TERMINATED: 143,
} as const;

/**
 * The exit code of a command the user stopped with a signal (Ctrl-C, SIGTERM, SIGHUP) before it
 * finished: 128 + the signal number, as shells do.
 */
export function exitCodeForSignal(sig: NodeJS.Signals): number {
  if (sig === 'SIGTERM') return EXIT.TERMINATED;
  if (sig === 'SIGHUP') return EXIT.HANGUP;
  return EXIT.CANCELLED;
}

export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'ERR_CONFIG':
    case 'ERR_ARG':
      return EXIT.USAGE;
    case 'ERR_RESOLVE':
    case 'ERR_IKE_TIMEOUT':
      return EXIT.UNREACHABLE;
    case 'ERR_IKE_AUTH_FAILED':
      return EXIT.AUTH_FAILED;
    case 'ERR_EAP_FAILED':
      return EXIT.EAP_FAILED;
    case 'ERR_IKE_NO_PROPOSAL':
      return EXIT.NO_PROPOSAL;
    case 'ERR_IKE_TS_UNACCEPTABLE':
    case 'ERR_IKE_PEER_ERROR':
      return EXIT.GATEWAY_REFUSED;
    case 'ERR_IKE_PROTOCOL':
    case 'ERR_PARSE':
    case 'ERR_CRYPTO':
      return EXIT.PROTOCOL;
    case 'ERR_TUN':
    case 'ERR_PRIVILEGE':
      return EXIT.PRIVILEGE;
    case 'ERR_NETCFG':
    case 'ERR_DNS':
      return EXIT.NETCFG;
    case 'ERR_IKE_DELETED':
      return EXIT.CLOSED_BY_GATEWAY;
    case 'ERR_CONTROL':
      return EXIT.NOT_RUNNING;
    case 'ERR_CERT':
      return EXIT.CERTIFICATE;
    case 'ERR_CERT_UNTRUSTED':
      return EXIT.CERT_UNTRUSTED;
    case 'ERR_CERT_EXPIRED':
      return EXIT.CERT_EXPIRED;
    case 'ERR_CERT_NAME':
      return EXIT.CERT_NAME;
    case 'ERR_CANCELLED':
      return EXIT.CANCELLED;
    case 'ERR_ALREADY_RUNNING':
      return EXIT.ALREADY_RUNNING;
    case 'ERR_PROXY_MISSING':
      return EXIT.PROXY_MISSING;
  }
}
