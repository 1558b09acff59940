/**
 * The retransmission schedule for a total time budget (the CLI's --timeout): a short first
 * timeout, exponential backoff (×1.8, as strongSwan's default) capped per interval, and as many
 * attempts as fit in the budget — so lossy links get more attempts instead of only longer waits.
 */
import type { RetransmitPolicy } from '../ike/session.js';

export function retransmitPolicyFor(totalMs: number): RetransmitPolicy {
  const base = 1.8;
  const timeoutMs = Math.max(100, Math.min(1000, totalMs / 10));
  const maxTimeoutMs = Math.max(timeoutMs, Math.min(10000, totalMs / 3));
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
