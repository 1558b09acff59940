/**
 * Builds the IKE session's credentials for one connection attempt from what the user gave: a
 * pre-shared key, a certificate and key, or EAP credentials, plus the trust anchors that check the
 * gateway's certificate. A fresh EAP peer is made for every attempt (EAP state does not survive a
 * reconnect); EAP-TLS, which runs node:tls, is wired here to the session's `eapResponse` input.
 */
import type { KeyObject } from 'node:crypto';
import { VpnError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { Random } from '../core/random.js';
import { createEapPeer } from '../eap/peer.js';
import type { AsyncEapMethod } from '../eap/types.js';
import type { GatewayAuth, LocalAuth } from '../ike/auth.js';
import type { Identity } from '../ike/identity.js';
import { createCertValidator } from '../ike/auth/validator.js';
import { createEapTls } from './eap-tls.js';

export type { EapMethodName } from '../eap/peer.js';
import type { EapMethodName } from '../eap/peer.js';

export type ClientAuth =
  | { kind: 'psk'; psk: Uint8Array }
  | { kind: 'cert'; key: KeyObject; certs: Uint8Array[] }
  | {
      kind: 'eap';
      identity: string;
      /** Password for MSCHAPv2, MD5 and GTC. */
      password?: Uint8Array;
      methods: EapMethodName[];
      /** Client certificate for EAP-TLS (optional: the gateway may not ask for one). */
      tlsKey?: KeyObject;
      tlsCerts?: Uint8Array[];
    };

export interface Credentials {
  auth: ClientAuth;
  /**
   * Trust anchors (DER) for the gateway's certificate. Undefined: the gateway must prove itself
   * with the PSK (PSK mode only).
   */
  anchors?: Uint8Array[];
  /**
   * Name the gateway's certificate must carry besides its IKE identity: by default the host we
   * dialled; false turns the host check off (the IDr check stays), and then the gateway's
   * identity must be configured (`remoteId`): see {@link checkGatewayNaming}.
   */
  gatewayName?: string | false;
  /** RFC 5998: accept a gateway that authenticates through a mutual EAP method only. */
  eapOnly?: boolean;
}

export interface AttemptAuth {
  auth: LocalAuth;
  gatewayAuth: GatewayAuth;
  /** Releases what the attempt holds (an EAP-TLS connection). */
  close(): void;
}

export interface AsyncEapSink {
  onResponse(packet: Uint8Array): void;
  onFailure(error: VpnError): void;
}

/**
 * Without the host check (`gatewayName: false`, --no-host-check) the gateway's certificate is
 * bound only to the identity it claims in IDr; unless we fix that identity (`remoteId`,
 * --remote-id), any certificate from a trusted CA would do — with the system store any public
 * server certificate, with a company CA a colleague's. RFC 4945 §3.1 leaves the binding to policy;
 * ours refuses the combination. Throws ERR_CONFIG; the library (Tunnel.connect, and every
 * attempt's credentials) and the CLI check it before anything else.
 */
export function checkGatewayNaming(
  gatewayName: string | false | undefined,
  remoteId: string | Identity | undefined,
): void {
  if (gatewayName === false && remoteId === undefined) {
    throw new VpnError(
      'ERR_CONFIG',
      "--no-host-check needs --remote-id (library: gatewayName false needs remoteId): without the host name, only the gateway's expected identity ties its certificate to it; otherwise any certificate from a trusted CA would be accepted as the gateway",
    );
  }
}

/**
 * Checks that the credentials make a safe combination before anything happens; throws
 * ERR_CONFIG. Besides {@link checkGatewayNaming}: `eapOnly` (--eap-only) needs EAP-TLS among the
 * methods, the only one we run with a gateway that has not authenticated (RFC 5998 §4).
 */
export function checkCredentials(cred: Credentials, remoteId: string | Identity | undefined): void {
  checkGatewayNaming(cred.gatewayName, remoteId);
  if (cred.eapOnly && cred.auth.kind === 'eap' && !cred.auth.methods.includes('tls')) {
    throw new VpnError(
      'ERR_CONFIG',
      `--eap-only needs EAP-TLS among the --eap methods (library: eapOnly needs "tls"): a gateway that does not authenticate with AUTH may only run EAP-TLS; ${cred.auth.methods.join(', ')} would hand it our password or a response it can crack`,
    );
  }
}

/**
 * The session credentials for one attempt. `remoteId` is the gateway identity we expect (IDr);
 * EAP-TLS checks the server certificate against it too.
 */
export function credentialsForAttempt(
  cred: Credentials,
  host: string,
  random: Random,
  sink: AsyncEapSink,
  log: Logger,
  remoteId?: Identity,
): AttemptAuth {
  checkCredentials(cred, remoteId);
  const gatewayName = cred.gatewayName === undefined ? host : cred.gatewayName;
  const gatewayAuth: GatewayAuth = {};
  if (cred.auth.kind === 'psk') gatewayAuth.psk = cred.auth.psk;
  if (cred.anchors) {
    gatewayAuth.certs = createCertValidator({
      anchors: cred.anchors,
      ...(gatewayName === false ? {} : { host: gatewayName }),
    });
  }
  if (cred.eapOnly) gatewayAuth.eapOnly = true;
  const a = cred.auth;
  switch (a.kind) {
    case 'psk':
      return { auth: { kind: 'psk', psk: a.psk }, gatewayAuth, close: () => undefined };
    case 'cert':
      return {
        auth: { kind: 'pubkey', key: a.key, certs: a.certs },
        gatewayAuth,
        close: () => undefined,
      };
    case 'eap': {
      const asyncMethods: AsyncEapMethod[] = [];
      if (a.methods.includes('tls')) {
        asyncMethods.push(
          createEapTls({
            identity: a.identity,
            ca: cred.anchors ?? [],
            ...(a.tlsCerts ? { cert: a.tlsCerts } : {}),
            ...(a.tlsKey ? { key: a.tlsKey } : {}),
            ...(gatewayName === false ? {} : { serverName: gatewayName }),
            ...(remoteId ? { serverIdentity: remoteId } : {}),
            onResponse: (p) => sink.onResponse(p),
            onFailure: (e) => sink.onFailure(e),
            logger: log,
          }),
        );
      }
      const peer = createEapPeer({
        identity: new TextEncoder().encode(a.identity),
        ...(a.password ? { password: a.password } : {}),
        methods: a.methods,
        random,
        asyncMethods,
      });
      return {
        auth: { kind: 'eap', peer },
        gatewayAuth,
        close: () => {
          for (const m of asyncMethods) m.close();
        },
      };
    }
  }
}
