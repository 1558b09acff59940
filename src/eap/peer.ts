/**
 * The EAP peer (RFC 3748 §2, §4, §5) behind the {@link EapPeer} interface: answers Identity and
 * Notification, proposes our methods with a Nak when the gateway offers another, runs the method
 * (MD5-Challenge, GTC, MSCHAPv2 here; EAP-TLS through an {@link AsyncEapMethod}), answers
 * retransmitted Requests with the same Response, and decides whether EAP-Success may be believed.
 *
 * Pure and synchronous: randomness comes from the injected Random; `handle` never throws.
 */
import { equalBytes, Writer } from '../core/bytes.js';
import { ParseError, VpnError } from '../core/errors.js';
import type { Random } from '../core/random.js';
import {
  GtcMethod,
  Md5ChallengeMethod,
  MschapV2Method,
  printable,
  type EapMethod,
} from './methods.js';
import { decodeEap, EapCode, EapType, eapTypeName, encodeEap, type EapMessage } from './packet.js';
import type { AsyncEapMethod, EapPeer, EapStep } from './types.js';

export type EapMethodName = 'mschapv2' | 'md5' | 'gtc' | 'tls';

export interface EapPeerOptions {
  /** Our EAP identity (Identity Response, MSCHAPv2 Name). */
  identity: Uint8Array;
  /** Password (UTF-8) for MSCHAPv2, MD5 and GTC; without it those methods are not offered. */
  password?: Uint8Array;
  /** The methods we allow, most preferred first (the order of our Nak). */
  methods: readonly EapMethodName[];
  random: Random;
  /** Methods that answer asynchronously (EAP-TLS, type 13), allowed when `methods` names them. */
  asyncMethods?: readonly AsyncEapMethod[];
}

/** Method Types by our names (RFC 3748 §5, IANA). */
const METHOD_TYPES: Readonly<Record<EapMethodName, number>> = {
  mschapv2: EapType.MSCHAPV2,
  md5: EapType.MD5_CHALLENGE,
  gtc: EapType.GTC,
  tls: EapType.TLS,
};
const PASSWORD_TYPES: ReadonlySet<number> = new Set([
  EapType.MSCHAPV2,
  EapType.MD5_CHALLENGE,
  EapType.GTC,
]);

/**
 * Methods we run while the gateway has not proved its identity (no AUTH payload in its first
 * IKE_AUTH response: EAP-only, RFC 5998 §4). Our first message must reveal nothing an impostor
 * could use, and the method must authenticate the server and derive an MSK that binds the IKE SA.
 * EAP-TLS qualifies: we send a ClientHello, and the server proves its certificate's key before
 * the method can succeed. EAP-MSCHAPv2 authenticates the server only after we sent an NT-Response
 * that can be cracked offline, EAP-MD5 likewise without ever authenticating the server, and
 * EAP-GTC sends the password itself: those wait for a gateway that authenticated with AUTH.
 */
const SAFE_BEFORE_GATEWAY_AUTH: ReadonlySet<number> = new Set([EapType.TLS]);

/** What answering a password method would hand a gateway that has not proved its identity. */
function passwordRisk(type: number): string {
  return type === EapType.GTC
    ? 'would send it our password in clear'
    : 'would give it a response from which our password can be cracked offline';
}

/** How many different methods we Nak before giving up on a gateway that ignores our proposals. */
const MAX_NAKS = 8;

type Active = { kind: 'sync'; method: EapMethod } | { kind: 'async'; method: AsyncEapMethod };

export function createEapPeer(opts: EapPeerOptions): EapPeer {
  return new Peer(opts);
}

class Peer implements EapPeer {
  private readonly identity: Uint8Array;
  private readonly password: Uint8Array | undefined;
  private readonly random: Random;
  private readonly asyncByType = new Map<number, AsyncEapMethod>();
  /** Method Types we accept, in our order of preference. */
  private readonly acceptable: number[] = [];
  /** Types named in `methods` that lack what they need (a password, an async implementation). */
  private readonly unusable: number[] = [];

  private active: Active | undefined;
  /** The last Request we answered (whole packet up to Length) and our answer to it. */
  private lastRequest: Uint8Array | undefined;
  private lastStep: EapStep | undefined;
  private outcome: EapStep | undefined;
  private readonly naked = new Set<number>();
  private readonly offered: number[] = [];
  private notification: string | undefined;
  /** The gateway proved its identity with AUTH before EAP; otherwise only safe methods run. */
  private gatewayProved = false;

  constructor(opts: EapPeerOptions) {
    this.identity = opts.identity.slice();
    this.password = opts.password?.slice();
    this.random = opts.random;
    for (const m of opts.asyncMethods ?? []) this.asyncByType.set(m.type, m);
    for (const name of opts.methods) {
      const type = METHOD_TYPES[name];
      if (this.acceptable.includes(type) || this.unusable.includes(type)) continue;
      const usable = this.asyncByType.has(type)
        ? true
        : PASSWORD_TYPES.has(type) && this.password !== undefined;
      (usable ? this.acceptable : this.unusable).push(type);
    }
  }

  handle(packet: Uint8Array): EapStep {
    try {
      return this.step(packet);
    } catch (e) {
      return this.finish(this.failure(toEapError(e)));
    }
  }

  msk(): Uint8Array | undefined {
    if (this.outcome?.kind !== 'success' || !this.active) return undefined;
    return this.active.method.msk();
  }

  mutual(): boolean {
    if (this.outcome?.kind !== 'success' || !this.active) return false;
    return this.active.kind === 'sync' ? this.active.method.mutual() : this.active.method.done();
  }

  methodName(): string {
    return this.active?.method.name ?? 'EAP';
  }

  gatewayAuthenticated(): void {
    this.gatewayProved = true;
  }

  // ---------------------------------------------------------------------------------------------

  private step(packet: Uint8Array): EapStep {
    const p = decodeEap(packet);
    if (this.outcome) {
      // A repeated EAP-Success after we accepted one changes nothing; anything else is too late.
      if (this.outcome.kind === 'success' && p.code === EapCode.SUCCESS) return this.outcome;
      if (this.outcome.kind === 'failure') return this.outcome;
      return this.finish(
        this.failure(eapError(`the gateway sent an EAP packet (Code ${p.code}) after EAP-Success`)),
      );
    }
    switch (p.code) {
      case EapCode.SUCCESS:
        return this.finish(this.onSuccess());
      case EapCode.FAILURE:
        return this.finish(this.failure(eapError(this.failureMessage())));
      case EapCode.RESPONSE:
        return this.finish(
          this.failure(
            eapError('the gateway sent an EAP Response; an authenticator sends only Requests'),
          ),
        );
      case EapCode.REQUEST:
        break;
    }
    // RFC 3748 §4.1: a duplicate of the Request we last answered gets our original Response
    // again, without processing the Request a second time.
    const canonical = encodeEap(p);
    if (this.lastRequest && this.lastStep && equalBytes(canonical, this.lastRequest)) {
      return this.lastStep;
    }
    const step = this.onRequest(p, canonical);
    if (step.kind === 'failure') return this.finish(step);
    this.lastRequest = canonical;
    this.lastStep = step;
    return step;
  }

  private onRequest(p: EapMessage, packet: Uint8Array): EapStep {
    switch (p.type) {
      case EapType.IDENTITY:
        // RFC 3748 §5.1. Identity is not an authentication method; once one runs, it may not
        // be interrupted by anything but Notification (§2.1).
        if (this.active) {
          return this.failure(
            eapError(
              `the gateway asked for our identity again in the middle of ${this.methodName()}`,
            ),
          );
        }
        return this.respond(p.identifier, EapType.IDENTITY, this.identity);
      case EapType.NOTIFICATION:
        // RFC 3748 §5.2: the Response to a Notification has no Type-Data.
        if (p.data.length > 0) this.notification = printable(p.data);
        return this.respond(p.identifier, EapType.NOTIFICATION, new Uint8Array(0));
      case EapType.NAK:
        return this.failure(
          eapError(
            'the gateway sent a Nak Request (Nak is valid only in Responses, RFC 3748 §5.3)',
          ),
        );
      default:
        return this.onMethodRequest(p, packet);
    }
  }

  private onMethodRequest(p: EapMessage, packet: Uint8Array): EapStep {
    if (this.active) {
      // RFC 3748 §2.1: no other method may start before the current one completes.
      if (p.type !== this.active.method.type) {
        return this.failure(
          eapError(
            `the gateway switched from ${this.methodName()} to ${eapTypeName(p.type)} in the middle of the method (RFC 3748 §2.1)`,
          ),
        );
      }
    } else {
      // RFC 5998 §4: before the gateway proved its identity, a method that is not safe gets a Nak
      // (or ends the session) before the method sees the Request: we answer it nothing.
      if (!this.acceptable.includes(p.type) || !this.allowedNow(p.type)) return this.nak(p);
      const active = this.start(p.type);
      if (active instanceof VpnError) return this.failure(active);
      this.active = active;
    }
    const active = this.active;
    if (active.kind === 'async') {
      // Its Response reaches the session outside `handle` (an `eapResponse` input). A duplicate
      // of this Request is answered `pending` again by the check in step(), without starting
      // the method a second time.
      active.method.request(packet);
      return { kind: 'pending' };
    }
    const s = active.method.process(p.identifier, p.data);
    if (s.kind === 'fail') return this.failure(s.error);
    return this.respond(p.identifier, p.type, s.data);
  }

  private start(type: number): Active | VpnError {
    const asyncMethod = this.asyncByType.get(type);
    if (asyncMethod) return { kind: 'async', method: asyncMethod };
    const password = this.password!; // acceptable ⇒ a password-based method has one
    const creds = { identity: this.identity, password, random: this.random };
    switch (type) {
      case EapType.MD5_CHALLENGE:
        return { kind: 'sync', method: new Md5ChallengeMethod(password) };
      case EapType.GTC:
        return { kind: 'sync', method: new GtcMethod(password) };
      case EapType.MSCHAPV2:
        try {
          return { kind: 'sync', method: new MschapV2Method(creds) };
        } catch {
          return eapError('EAP-MSCHAPv2 needs a UTF-8 password; the one given is not valid UTF-8');
        }
      default:
        return eapError(`${eapTypeName(type)} is not implemented`);
    }
  }

  /**
   * RFC 3748 §5.3.1 (legacy Nak) and §5.3.2 (Expanded Nak, only in reply to an Expanded Request):
   * the methods we would accept instead, in our order of preference.
   */
  private nak(p: EapMessage): EapStep {
    this.offered.push(p.type);
    const offeredName = eapTypeName(p.type);
    const proposal = this.proposal();
    if (this.naked.has(p.type)) {
      return this.failure(
        eapError(
          `the gateway asked again for ${offeredName}, which we refused; it accepts none of the methods we proposed (${this.ourMethods()})`,
        ),
      );
    }
    if (this.acceptable.length === 0) {
      return this.failure(eapError(`the gateway asks for ${offeredName}, and ${this.noMethods()}`));
    }
    if (proposal.length === 0) return this.failure(this.unauthenticatedRefusal(p.type));
    if (this.naked.size >= MAX_NAKS) {
      return this.failure(
        eapError(
          `the gateway offered ${this.offeredMethods()} but none of the methods we proposed (${this.ourMethods()})`,
        ),
      );
    }
    this.naked.add(p.type);
    if (p.type === EapType.EXPANDED) {
      // Each alternative as Type 254, Vendor-Id 0 (IETF), Vendor-Type = the legacy Type.
      const w = new Writer(7 + 8 * proposal.length);
      w.u8(0).u8(0).u8(0).u32(EapType.NAK);
      for (const t of proposal) w.u8(EapType.EXPANDED).u8(0).u8(0).u8(0).u32(t);
      return this.respond(p.identifier, EapType.EXPANDED, w.finish());
    }
    return this.respond(p.identifier, EapType.NAK, Uint8Array.from(proposal));
  }

  /** Whether a method may run now: any of ours once the gateway proved itself, else a safe one. */
  private allowedNow(type: number): boolean {
    return this.gatewayProved || SAFE_BEFORE_GATEWAY_AUTH.has(type);
  }

  /** The methods we propose in a Nak: ours that may run now, in our order of preference. */
  private proposal(): number[] {
    return this.acceptable.filter((t) => this.allowedNow(t));
  }

  /**
   * The gateway has not proved its identity and none of our methods that could run before it
   * does (EAP-TLS) is enabled: end the session without answering (RFC 5998 §4).
   */
  private unauthenticatedRefusal(type: number): VpnError {
    const name = eapTypeName(type);
    const why = this.acceptable.includes(type)
      ? `${name}, which ${passwordRisk(type)}; refused without answering`
      : `${name}, which we do not use; none of our methods (${this.acceptable.map(eapTypeName).join(', ')}) may run with it`;
    return new VpnError(
      'ERR_IKE_AUTH_FAILED',
      `the gateway has not proved its identity (no AUTH payload: EAP-only authentication, RFC 5998) and asks for ${why}. Before a gateway authenticates, only EAP-TLS may run: enable it (--eap tls with a client certificate), or connect to a gateway that authenticates with a certificate`,
    );
  }

  /** EAP-Success (RFC 3748 §4.2): believed only when the method finished on our side. */
  private onSuccess(): EapStep {
    const active = this.active;
    if (!active) {
      return this.failure(
        eapError(
          'the gateway sent EAP-Success before any authentication method ran: it did not check our credentials',
        ),
      );
    }
    if (active.kind === 'async') {
      if (active.method.done()) return { kind: 'success' };
      return this.failure(
        eapError(
          `the gateway sent EAP-Success before ${active.method.name} finished: it did not prove its identity`,
        ),
      );
    }
    if (active.method.finished()) return { kind: 'success' };
    return this.failure(eapError(active.method.unfinishedReason()));
  }

  /** The message for EAP-Failure (RFC 3748 §4.2), naming the method and what the gateway said. */
  private failureMessage(): string {
    let msg: string;
    if (this.active) {
      const name = this.methodName();
      const reason = this.active.kind === 'sync' ? this.active.method.failureReason() : undefined;
      msg = reason
        ? `${name} authentication failed: ${reason}`
        : `the gateway rejected our ${name} authentication (EAP-Failure): wrong user name or password, or the method failed`;
    } else if (this.naked.size > 0) {
      msg = `no common EAP method: the gateway offered ${this.offeredMethods()}, we proposed ${this.ourMethods()}, and it answered with EAP-Failure`;
    } else {
      msg = 'the gateway sent EAP-Failure before any EAP method started (unknown identity?)';
    }
    return this.notification ? `${msg} (gateway notification: "${this.notification}")` : msg;
  }

  private respond(identifier: number, type: number, data: Uint8Array): EapStep {
    // RFC 3748 §4.1: the Response carries the Identifier of the Request it answers.
    return {
      kind: 'respond',
      packet: encodeEap({ code: EapCode.RESPONSE, identifier, type, data }),
    };
  }

  private failure(error: VpnError): EapStep {
    return { kind: 'failure', error };
  }

  /** Records a final outcome: the conversation is over after Success or any failure. */
  private finish(step: EapStep): EapStep {
    if (step.kind === 'success' || step.kind === 'failure') this.outcome = step;
    return step;
  }

  private ourMethods(): string {
    return this.proposal().map(eapTypeName).join(', ');
  }

  private offeredMethods(): string {
    return [...new Set(this.offered)].map(eapTypeName).join(', ');
  }

  private noMethods(): string {
    if (this.unusable.length === 0) return 'no EAP method is enabled';
    const why = this.unusable.map((t) =>
      PASSWORD_TYPES.has(t)
        ? `${eapTypeName(t)} needs a password`
        : `${eapTypeName(t)} is not set up`,
    );
    return `none of our EAP methods is usable (${why.join('; ')})`;
  }
}

function eapError(message: string): VpnError {
  return new VpnError('ERR_EAP_FAILED', message);
}

/** Every failure of the peer is an EAP failure; a malformed packet says what was wrong. */
function toEapError(e: unknown): VpnError {
  if (e instanceof ParseError) {
    return new VpnError('ERR_EAP_FAILED', `the gateway sent a ${e.message}`, { cause: e });
  }
  if (e instanceof VpnError && e.code === 'ERR_EAP_FAILED') return e;
  const detail = e instanceof Error ? e.message : String(e);
  return new VpnError('ERR_EAP_FAILED', `EAP failed: ${detail}`, { cause: e });
}
