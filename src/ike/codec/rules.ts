/**
 * Which payloads each exchange may carry (RFC 7296 §1.2–§1.5, §3.x), checked right after decoding
 * and before any protocol logic looks at a message — a table, in the spirit of strongSwan's
 * per-exchange payload rules. Strict on the core payloads' counts, permissive where real gateways
 * differ: NOTIFY and VENDOR anywhere, non-critical unknown payloads ignored (§2.5).
 */
import { ParseError } from '../../core/errors.js';
import { ExchangeType, PayloadType, nameOf } from '../constants.js';
import type { Payload } from './types.js';

interface Rule {
  type: number;
  min: number;
  max: number;
}

const ANY = Infinity;
const P = PayloadType;

const common: Rule[] = [
  { type: P.NOTIFY, min: 0, max: ANY },
  { type: P.VENDOR, min: 0, max: ANY },
];

interface ExchangeRules {
  encrypted: boolean;
  request: Rule[];
  response: Rule[];
}

/** IKE_AUTH payloads a response may carry; a request may also carry IDi and CERTREQ. */
const authResponse: Rule[] = [
  { type: P.IDr, min: 0, max: 1 },
  { type: P.CERT, min: 0, max: 16 },
  { type: P.AUTH, min: 0, max: 1 },
  { type: P.EAP, min: 0, max: 1 },
  { type: P.CP, min: 0, max: 1 },
  { type: P.SA, min: 0, max: 1 },
  { type: P.TSi, min: 0, max: 1 },
  { type: P.TSr, min: 0, max: 1 },
  ...common,
];

/** CREATE_CHILD_SA requests and responses carry the same payloads (RFC 7296 §1.3). */
const createChild: Rule[] = [
  { type: P.SA, min: 1, max: 1 },
  { type: P.NONCE, min: 1, max: 1 },
  { type: P.KE, min: 0, max: 1 },
  { type: P.TSi, min: 0, max: 1 },
  { type: P.TSr, min: 0, max: 1 },
  ...common,
];

const initBase: Rule[] = [
  { type: P.SA, min: 1, max: 1 },
  { type: P.KE, min: 1, max: 1 },
  { type: P.NONCE, min: 1, max: 1 },
  ...common,
];

/** RFC 9242 §3.1 / RFC 9370 §2.2.2, §2.2.4: one KE payload (or an error notify) each way. */
const keOnly: Rule[] = [{ type: P.KE, min: 0, max: 1 }, ...common];

const informational: Rule[] = [
  { type: P.DELETE, min: 0, max: ANY },
  { type: P.CP, min: 0, max: 1 },
  ...common,
];

const RULES: Record<number, ExchangeRules> = {
  [ExchangeType.IKE_SA_INIT]: {
    encrypted: false,
    request: initBase,
    response: [...initBase, { type: P.CERTREQ, min: 0, max: ANY }],
  },
  [ExchangeType.IKE_AUTH]: {
    encrypted: true,
    request: [
      { type: P.IDi, min: 0, max: 1 },
      { type: P.CERTREQ, min: 0, max: ANY },
      ...authResponse,
    ],
    response: authResponse,
  },
  [ExchangeType.CREATE_CHILD_SA]: { encrypted: true, request: createChild, response: createChild },
  [ExchangeType.INFORMATIONAL]: {
    encrypted: true,
    request: informational,
    response: informational,
  },
  [ExchangeType.IKE_INTERMEDIATE]: { encrypted: true, request: keOnly, response: keOnly },
  [ExchangeType.IKE_FOLLOWUP_KE]: { encrypted: true, request: keOnly, response: keOnly },
};

function isErrorOnly(payloads: readonly Payload[]): boolean {
  // A response carrying an error notify (type < 16384), or a COOKIE / INVALID_KE answer, need not
  // carry the exchange's mandatory payloads (§2.6, §1.2, §2.21); nor does an IKE_SA_INIT answered
  // with REDIRECT (16407, RFC 5685 §3).
  return payloads.some(
    (p) =>
      p.type === P.NOTIFY &&
      !('unknown' in p) &&
      'notifyType' in p &&
      (p.notifyType < 16384 || p.notifyType === 16390 || p.notifyType === 16407),
  );
}

function checkCounts(
  rules: Rule[],
  payloads: readonly Payload[],
  what: string,
  isResponse: boolean,
): void {
  const counts = new Map<number, number>();
  for (const p of payloads) {
    if ('unknown' in p) continue; // §2.5: non-critical unknown payloads are skipped (critical ones are reported separately)
    if (p.type === P.SK || p.type === P.SKF)
      throw new ParseError(what, 0, 'nested encrypted payload');
    if (!rules.some((r) => r.type === p.type)) {
      throw new ParseError(what, 0, `${nameOf(PayloadType, p.type)} payload not allowed here`);
    }
    counts.set(p.type, (counts.get(p.type) ?? 0) + 1);
  }
  const relaxMin = isResponse ? isErrorOnly(payloads) : false;
  for (const r of rules) {
    const n = counts.get(r.type) ?? 0;
    if (n > r.max)
      throw new ParseError(what, 0, `${n} ${nameOf(PayloadType, r.type)} payloads (max ${r.max})`);
    if (n < r.min && !relaxMin)
      throw new ParseError(what, 0, `missing ${nameOf(PayloadType, r.type)} payload`);
  }
}

/**
 * Checks a decoded message against the exchange's rules. `inner` is the decrypted content of the
 * SK payload (undefined when not yet decrypted: then only the outer side is checked).
 * @throws ParseError naming the violation.
 */
export function checkExchangeRules(
  exchangeType: number,
  isResponse: boolean,
  outer: readonly Payload[],
  inner?: readonly Payload[],
): void {
  const ex = RULES[exchangeType];
  const what = `${nameOf(ExchangeType, exchangeType)} ${isResponse ? 'response' : 'request'}`;
  if (!ex) throw new ParseError(what, 0, 'unsupported exchange type');
  const rules = isResponse ? ex.response : ex.request;
  if (!ex.encrypted) {
    checkCounts(rules, outer, what, isResponse);
    return;
  }
  // Everything travels inside one SK payload, or in SKF fragments (RFC 7383), and nothing else
  // may stand outside it.
  const sk = outer.filter((p) => p.type === P.SK && !('unknown' in p)).length;
  const skf = outer.filter((p) => p.type === P.SKF && !('unknown' in p)).length;
  if (sk + skf !== 1 || outer.length !== 1) {
    throw new ParseError(what, 0, 'payloads must all be inside one SK (or SKF) payload');
  }
  if (inner) checkCounts(rules, inner, what, isResponse);
}
