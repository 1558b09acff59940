/**
 * The retransmission schedule for a total time budget (the CLI's --timeout): a short first
 * timeout, a gentle backoff (×1.5) capped at a twentieth of the budget, and as many attempts as
 * fit in it — so a lossy link gets many attempts instead of a few long waits.
 *
 * Why (issue 11): with 30 % loss each way, one attempt (request and response both through)
 * succeeds with p = 0.7² = 0.49. The former schedule (1 s, ×1.8, capped at 10 s) fitted only 5
 * attempts into 30 s: an exchange failed with 0.51⁵ = 3.5 %, a handshake (IKE_SA_INIT + IKE_AUTH)
 * with 6.8 % — the "once in 14 tries" that was seen. This one fits 20 attempts into 30 s: an
 * exchange fails with 0.51²⁰ = 1.4·10⁻⁶, a handshake succeeds with 99.9997 %
 * (handshakeSuccessProbability, tested in test/client/retransmit.test.ts and in memory in
 * test/ike/loss.test.ts).
 */
import type { RetransmitPolicy } from '../ike/session.js';

export function retransmitPolicyFor(totalMs: number): RetransmitPolicy {
  const base = 1.5;
  const timeoutMs = Math.max(100, Math.min(1000, totalMs / 10));
  const maxTimeoutMs = Math.max(timeoutMs, Math.min(10000, totalMs / 20));
  let tries = 0;
  let sum = timeoutMs;
  for (;;) {
    const next = Math.min(maxTimeoutMs, timeoutMs * Math.pow(base, tries + 1));
    if (sum + next > totalMs) break;
    sum += next;
    tries++;
  }
  return { timeoutMs, base, tries, maxTimeoutMs };
}

/** Total time a policy waits from the first send until it gives up. */
export function totalWait(p: RetransmitPolicy): number {
  let t = 0;
  for (let i = 0; i <= p.tries; i++)
    t += Math.min(p.maxTimeoutMs, p.timeoutMs * Math.pow(p.base, i));
  return t;
}

/**
 * Probability that `exchanges` request/response exchanges in a row all complete when each attempt
 * (request and its response) gets through with probability `pAttempt`, every exchange having the
 * policy's tries + 1 attempts (each attempt is answered within its own wait: a loss model, not a
 * delay model).
 */
export function handshakeSuccessProbability(
  p: RetransmitPolicy,
  pAttempt = 0.49,
  exchanges = 2,
): number {
  const exchangeFails = Math.pow(1 - pAttempt, p.tries + 1);
  return Math.pow(1 - exchangeFails, exchanges);
}
