/**
 * Which IKE version the driver speaks (issue 17): the session for an attempt (IkeSession or
 * Ikev1Session behind SessionLike), and `--ike-version auto`: IKEv2 first, IKEv1 when IKE_SA_INIT
 * got no answer at all or the gateway refused IKEv2 (RFC 7296 §1.5 INVALID_MAJOR_VERSION, or an
 * ISAKMP answer: ./ikev1.ts refusesIkev2).
 */
import type { VpnError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { Random } from '../core/random.js';
import { IkeSession } from '../ike/session.js';
import type { IkeSessionConfig, TimerId } from '../ike/session.js';
import type { AttemptAuth } from './auth.js';
import { newIkev1Session, refusesIkev2 } from './ikev1.js';
import type { Ikev1Base } from './ikev1.js';
import { retransmitPolicyFor, totalWait } from './retransmit.js';
import type { SessionLike } from './tunnel-types.js';

/** Every timer an IKE session sets (a Record, so a new TimerId must be added here). */
const IKE_TIMER_SET: Record<TimerId, true> = {
  retransmit: true,
  dpd: true,
  'rekey-child': true,
  'rekey-ike': true,
};
export const IKE_TIMERS = Object.keys(IKE_TIMER_SET) as TimerId[];

/** The state of `--ike-version auto` while the first IKEv2 attempt runs. */
export class AutoVersion {
  /** Still on the first IKEv2 attempt, IKEv1 possible. */
  pending: boolean;
  /** Between dropping the IKEv2 attempt and starting IKEv1 (no session runs then). */
  fallingBack = false;
  /** Our IKE SPI of that attempt (its IKE_SA_INIT's first 8 bytes). */
  private spi: Uint8Array | undefined;
  /** The gateway answered it (a datagram with our IKE SPI). */
  private answered = false;

  constructor(auto: boolean) {
    this.pending = auto;
  }

  /** We sent an IKE datagram. */
  sent(data: Uint8Array): void {
    if (this.pending && !this.spi) this.spi = data.slice(0, 8);
  }

  /** A datagram arrived during the IKEv2 attempt: the reason to fall back, when it is one. */
  received(data: Uint8Array): string | undefined {
    if (!this.pending) return undefined;
    const refusal = refusesIkev2(data, this.spi);
    if (refusal !== undefined) return refusal;
    // An answer is what carries our IKE SPI; anything else does not keep us on IKEv2.
    const spi = this.spi;
    if (spi && data.length >= 8 && spi.every((b, i) => b === data[i])) this.answered = true;
    return undefined;
  }

  /** The IKEv2 attempt closed with `error`: fall back when it never got an answer. */
  closed(error: VpnError | undefined, stopping: boolean): boolean {
    const fallBack =
      this.pending && !this.answered && error?.code === 'ERR_IKE_TIMEOUT' && !stopping;
    this.pending = false;
    return fallBack;
  }
}

/**
 * The session for one attempt: an Ikev1Session once the tunnel speaks IKEv1, else an IkeSession
 * (under auto, the first IKEv2 attempt gets a third of the budget, at most 6 s, so a gateway
 * that does not answer IKEv2 leaves time for IKEv1).
 */
export function createSession(
  version: 1 | 2,
  auto: boolean,
  base: Omit<IkeSessionConfig, 'auth' | 'gatewayAuth'>,
  v1Base: Ikev1Base | undefined,
  attempt: AttemptAuth,
  random: Random,
  log: Logger,
): SessionLike {
  if (version === 1) return newIkev1Session(v1Base!, attempt, random, log);
  const retransmit = auto
    ? retransmitPolicyFor(Math.min(6000, totalWait(base.retransmit) / 3))
    : base.retransmit;
  return new IkeSession(
    { ...base, retransmit, auth: attempt.auth, gatewayAuth: attempt.gatewayAuth },
    random,
    log,
  );
}
