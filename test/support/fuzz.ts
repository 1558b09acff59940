/**
 * The decoder fuzzer shared by the CI fuzz test (a few seconds) and scripts/fuzz.mjs (any
 * duration). Inputs: random bytes, and mutations (bit flips, truncations, byte edits, length-field
 * edits, splices) of a corpus of real strongSwan captures and our own messages. The property: the
 * decoders only ever return a value or throw ParseError (certificates: also VpnError), exchange-rule
 * checks and fragment reassembly on whatever decodes never throw anything else either, and the
 * EAP peer never throws at all.
 */
import { ParseError, isVpnError } from '../../src/core/errors.js';
import { decodeEap } from '../../src/eap/packet.js';
import { createEapPeer } from '../../src/eap/peer.js';
import { Certificate } from '../../src/pki/x509.js';
import { SeededRandom } from '../../src/core/random.js';
import {
  FragmentReassembler,
  checkExchangeRules,
  decodeMessage,
  decodePayloadChain,
  findUnsupportedCritical,
} from '../../src/ike/codec/index.js';
import { classifyUdp4500 } from '../../src/net/natt.js';
import { parsePpkIdentity } from '../../src/ike/ppk.js';
import { parseGwIdentity, redirectIn } from '../../src/ike/redirect.js';
import type { NotifyPayload, Payload } from '../../src/ike/codec/index.js';
import { exercisePq } from './fuzz-pq.js';
import { exerciseV1 } from './fuzz-v1.js';

/**
 * RFC 5685 / RFC 8784 notifies in whatever decoded: REDIRECT checks return a reason string
 * (never throw), with and without a nonce to compare.
 */
function redirectNotifies(payloads: Payload[]): void {
  const ns = payloads.filter(
    (p): p is NotifyPayload => p.type === 41 && 'notifyType' in p && !('unknown' in p),
  );
  redirectIn(ns, undefined);
  redirectIn(ns, new Uint8Array(32));
  for (const n of ns) {
    if (n.notifyType === 16408) parseNotifyData(parseGwIdentity, n.data); // REDIRECTED_FROM
    if (n.notifyType === 16436) parseNotifyData(parsePpkIdentity, n.data); // PPK_IDENTITY
  }
}

/** A notification data parser: a value or ParseError, nothing else. */
function parseNotifyData(parse: (d: Uint8Array) => unknown, data: Uint8Array): void {
  try {
    parse(data);
  } catch (e) {
    if (!(e instanceof ParseError)) throw e;
  }
}

export interface FuzzResult {
  inputs: number;
  crashes: { input: Uint8Array; first: number; error: string }[];
}

const FIRST_TYPES = [33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 53, 0, 200];

/** One input through every decoder; throws only what the property forbids (a crash). */
export function exercise(input: Uint8Array, first: number, reasm: FragmentReassembler): void {
  try {
    const m = decodeMessage(input);
    findUnsupportedCritical(m.payloads);
    redirectNotifies(m.payloads);
    exercisePq(m.header, m.payloads);
    try {
      checkExchangeRules(m.header.exchangeType, (m.header.flags & 0x20) !== 0, m.payloads);
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
    }
    for (const p of m.payloads) {
      if (p.type === 53 && 'fragmentNumber' in p) {
        reasm.add({
          messageId: m.header.messageId,
          fragmentNumber: p.fragmentNumber,
          totalFragments: p.totalFragments,
          firstInner: p.firstInner,
          plaintext: p.body,
        });
      }
    }
  } catch (e) {
    if (!(e instanceof ParseError)) throw e;
  }
  try {
    const chain = decodePayloadChain(first, input.subarray(Math.min(input.length, 28)), 28);
    redirectNotifies(chain);
    exercisePq(undefined, chain);
    try {
      checkExchangeRules(37, false, chain, chain);
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
    }
  } catch (e) {
    if (!(e instanceof ParseError)) throw e;
  }
  classifyUdp4500(input);
  // IKEv1 (issue 17): ISAKMP messages, payload chains, encrypted bodies.
  exerciseV1(input, first);
  // Certificates from CERT payloads: ParseError or VpnError('ERR_CERT'), nothing else.
  try {
    Certificate.fromDer(input);
  } catch (e) {
    if (!isVpnError(e)) throw e;
  }
  // Notification data of REDIRECT / REDIRECTED_FROM (RFC 5685 §9) and PPK_IDENTITY (RFC 8784),
  // as raw inputs too when they start like one (a type of 1 to 3): every other input would only
  // cost a thrown ParseError, and the fuzzer's rate with it.
  if (input.length > 0 && input[0]! >= 1 && input[0]! <= 3) {
    parseNotifyData(parseGwIdentity, input);
    parseNotifyData(parsePpkIdentity, input);
  }
  // EAP packets from EAP payloads: the codec throws ParseError; the peer never throws.
  try {
    decodeEap(input);
  } catch (e) {
    if (!(e instanceof ParseError)) throw e;
  }
  const peer = createEapPeer({
    identity: new TextEncoder().encode('fuzz'),
    password: new TextEncoder().encode('pw'),
    methods: ['mschapv2', 'md5', 'gtc'],
    random: new SeededRandom(input.length),
  });
  // Both sides of RFC 5998 §4: the refusal before the gateway authenticated, and the methods after.
  if (input.length % 2 === 0) peer.gatewayAuthenticated();
  peer.handle(input);
}

function mutate(rng: SeededRandom, seed: Uint8Array): Uint8Array {
  const r = (n: number): number =>
    (rng.bytes(4).reduce((a, b) => a * 256 + b, 0) >>> 0) % Math.max(1, n);
  const out = seed.slice();
  switch (r(6)) {
    case 0: {
      const flips = 1 + r(3);
      for (let i = 0; i < flips && out.length > 0; i++) out[r(out.length)]! ^= 1 << r(8);
      return out;
    }
    case 1:
      return out.subarray(0, r(out.length + 1));
    case 2: {
      if (out.length > 0) out[r(out.length)] = r(256);
      return out;
    }
    case 3: {
      // Length fields live at header offset 24..27 and payload header offsets +2..+3.
      const at = r(out.length);
      if (at + 1 < out.length) {
        out[at] = [0, 0xff, r(256)][r(3)]!;
        out[at + 1] = [0, 3, 4, 0xff, r(256)][r(5)]!;
      }
      return out;
    }
    case 4: {
      const extra = rng.bytes(1 + r(16));
      const at = r(out.length + 1);
      const x = new Uint8Array(out.length + extra.length);
      x.set(out.subarray(0, at));
      x.set(extra, at);
      x.set(out.subarray(at), at + extra.length);
      return x;
    }
    default:
      return rng.bytes(r(600));
  }
}

/**
 * Runs until `maxInputs` or `deadline()`. `deterministic: false` skips the deterministic part
 * (parallel runs of scripts/fuzz.mjs do it in one worker only).
 */
export function fuzzDecoders(
  corpus: Uint8Array[],
  opts: { seed: number; maxInputs: number; deadline: () => boolean; deterministic?: boolean },
): FuzzResult {
  const rng = new SeededRandom(opts.seed);
  const reasm = new FragmentReassembler({ maxFragments: 16, maxBytes: 4096 });
  const result: FuzzResult = { inputs: 0, crashes: [] };
  const run = (input: Uint8Array, first: number): void => {
    result.inputs++;
    try {
      exercise(input, first, reasm);
    } catch (e) {
      if (result.crashes.length < 20)
        result.crashes.push({ input, first, error: (e as Error).stack ?? String(e) });
    }
  };
  // Deterministic part: every single-bit flip and every truncation of each corpus entry.
  for (const c of opts.deterministic === false ? [] : corpus) {
    for (let len = 0; len <= c.length; len++)
      run(c.subarray(0, len), FIRST_TYPES[len % FIRST_TYPES.length]!);
    for (let bit = 0; bit < c.length * 8; bit++) {
      const m = c.slice();
      m[bit >> 3]! ^= 1 << (bit & 7);
      run(m, FIRST_TYPES[bit % FIRST_TYPES.length]!);
    }
    if (opts.deadline()) break;
  }
  // Random part.
  while (result.inputs < opts.maxInputs && !opts.deadline()) {
    for (let i = 0; i < 256; i++) {
      const seed =
        corpus.length > 0
          ? corpus[(rng.bytes(1)[0]! * 31 + i) % corpus.length]!
          : new Uint8Array(0);
      run(mutate(rng, seed), FIRST_TYPES[i % FIRST_TYPES.length]!);
    }
  }
  return result;
}
