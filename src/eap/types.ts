/**
 * The EAP peer as the IKE session sees it (RFC 7296 §2.16, RFC 3748 §4). The session hands it
 * every EAP packet the gateway sends inside IKE_AUTH and carries its answers back; the method
 * logic (Identity, MD5-Challenge, GTC, MSCHAPv2, TLS) lives behind this interface, in `src/eap`.
 */
import type { VpnError } from '../core/errors.js';

/** What the peer wants the session to do after one EAP packet from the gateway. */
export type EapStep =
  /** Send this EAP packet (a Response) in the next IKE_AUTH request. */
  | { kind: 'respond'; packet: Uint8Array }
  /**
   * The answer will come later (an asynchronous method such as EAP-TLS): the driver feeds it to
   * the session as an `eapResponse` input.
   */
  | { kind: 'pending' }
  /** EAP-Success, accepted: the method finished (and, if it authenticates the server, did so). */
  | { kind: 'success' }
  /** EAP-Failure, or a method-level failure (bad server proof, unsupported method, ...). */
  | { kind: 'failure'; error: VpnError };

export interface EapPeer {
  /** Handles one whole EAP packet (Code, Identifier, Length, Data) from the gateway. Never throws. */
  handle(packet: Uint8Array): EapStep;
  /**
   * The Master Session Key once the method succeeded (RFC 5247); undefined for methods that derive
   * none (MD5-Challenge, GTC), in which case the IKE AUTH is computed from SK_pi/SK_pr (§2.16).
   */
  msk(): Uint8Array | undefined;
  /**
   * Whether the finished method authenticated the gateway (MSCHAPv2, TLS). EAP-only (RFC 5998)
   * needs it, and more: see `gatewayAuthenticated`.
   */
  mutual(): boolean;
  /**
   * Tells the peer that the gateway proved its identity before EAP began (its AUTH payload in the
   * first IKE_AUTH response verified, RFC 7296 §2.15-§2.16). Until then the peer answers only
   * methods that reveal nothing an impostor could use (EAP-TLS): it refuses password methods before
   * it sends them anything (RFC 5998 §4).
   */
  gatewayAuthenticated(): void;
  /** The method in use (e.g. "EAP-MSCHAPv2"), for messages; "EAP" before one is chosen. */
  methodName(): string;
}

/**
 * An EAP method that answers asynchronously (EAP-TLS runs node:tls, which is event-driven). It
 * lives at the edge; the pure peer in `src/eap` forwards its method's Requests to it and returns
 * `pending`. Its creator receives each Response (or a failure) through callbacks it supplied and
 * feeds them to the IKE session.
 */
export interface AsyncEapMethod {
  /** EAP method type it handles (RFC 3748 §5; 13 = EAP-TLS). */
  readonly type: number;
  readonly name: string;
  /** Starts processing one Request of this method (the whole EAP packet). */
  request(packet: Uint8Array): void;
  /** True once the method's exchange completed and authenticated the server. */
  done(): boolean;
  msk(): Uint8Array | undefined;
  /** Releases its resources (idempotent). */
  close(): void;
}
