/**
 * How each side of IKE_AUTH proves who it is (RFC 7296 §2.15, §2.16; RFC 5998). The session is
 * given our credentials and a policy for the gateway's; certificate checks sit behind
 * `CertValidator`, so the session never reads a trust store or a clock of its own.
 */
import type { KeyObject } from 'node:crypto';
import type { VpnError } from '../core/errors.js';
import type { EapPeer } from '../eap/types.js';
import type { Identity } from './identity.js';

/** Our credentials. */
export type LocalAuth =
  /** RFC 7296 §2.15: AUTH = prf(prf(PSK, "Key Pad for IKEv2"), octets). */
  | { kind: 'psk'; psk: Uint8Array }
  /** A signature with our private key; `certs` (DER, end-entity first) go out as CERT payloads. */
  | { kind: 'pubkey'; key: KeyObject; certs: Uint8Array[] }
  /** §2.16: no AUTH in the first IKE_AUTH; EAP rounds, then AUTH from the MSK (or SK_pi). */
  | { kind: 'eap'; peer: EapPeer };

/** The outcome of checking the gateway's certificates. */
export type CertCheck =
  { ok: true; publicKey: KeyObject; subject: string } | { ok: false; error: VpnError };

/** Checks the gateway's certificate chain: trust anchors, dates, key usage, names. */
export interface CertValidator {
  /** SHA-1 hashes of our trust anchors' SubjectPublicKeyInfo, for CERTREQ (RFC 7296 §3.7). */
  readonly certreqKeyIds: Uint8Array[];
  /**
   * Validates `certs` (DER, as received in CERT payloads; the end-entity first) at time `now` (ms)
   * and that the end-entity names `id` (the gateway's IDr) and whatever the validator was built to
   * require (by default the host name we dialled).
   */
  validate(certs: Uint8Array[], id: Identity, now: number): CertCheck;
}

/** What we accept as proof from the gateway. */
export interface GatewayAuth {
  /** A pre-shared key the gateway may MAC with. */
  psk?: Uint8Array;
  /** Certificate-based signatures are accepted when set. */
  certs?: CertValidator;
  /**
   * RFC 5998: let the gateway authenticate through a mutual EAP method alone (no AUTH in its
   * first IKE_AUTH response). Off unless the user opts in.
   */
  eapOnly?: boolean;
}
