/**
 * Fuzzing in CI (bounded): random and mutated inputs — every 1-bit flip and every truncation of
 * real strongSwan captures and our own messages — only ever decode or raise ParseError. Longer
 * runs: `node scripts/fuzz.mjs --seconds 600`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { fuzzDecoders } from '../support/fuzz.js';
import { fuzzCorpus } from '../support/corpus.js';
import {
  decodeMessage,
  decodePayloadChain,
  encodePayloadChain,
} from '../../src/ike/codec/index.js';
import type { Payload } from '../../src/ike/codec/index.js';
import { ParseError } from '../../src/core/errors.js';
import { toHex } from '../../src/core/bytes.js';

test('decoders survive 8,000 random mutations of the corpus', () => {
  const corpus = fuzzCorpus();
  assert.ok(corpus.length >= 8, 'corpus has captures and our own messages');
  // A fixed number of inputs (the same ones every run: seed 1), not a time budget: a loaded
  // machine runs them slower, never fewer. The deadline only guards against a hang. Every bit
  // flip and truncation of the corpus (~58,000 inputs) runs in CI's fuzz step (scripts/fuzz.mjs).
  const inputs = 8000;
  const end = performance.now() + 120000;
  const r = fuzzDecoders(corpus, {
    seed: 1,
    maxInputs: inputs,
    deadline: () => performance.now() > end,
    deterministic: false,
  });
  assert.ok(r.inputs >= inputs, `only ${r.inputs} inputs before the guard deadline`);
  assert.deepEqual(
    r.crashes.map((c) => `${toHex(c.input)}: ${c.error}`),
    [],
  );
});

const bytes = fc.uint8Array({ maxLength: 64 });
const u8 = fc.integer({ min: 0, max: 255 });
const u16 = fc.integer({ min: 0, max: 0xffff });
const addr4 = fc.uint8Array({ minLength: 4, maxLength: 4 });
const critical = fc.boolean();

const arbPayload: fc.Arbitrary<Payload> = fc.oneof(
  fc.record({
    type: fc.constant(40 as const),
    critical,
    data: fc.uint8Array({ minLength: 16, maxLength: 256 }),
  }),
  fc.record({
    type: fc.constant(34 as const),
    critical,
    dhGroup: u16,
    data: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  }),
  fc.record({ type: fc.constantFrom(35 as const, 36 as const), critical, idType: u8, data: bytes }),
  fc.record({ type: fc.constant(37 as const), critical, encoding: u8, data: bytes }),
  fc.record({ type: fc.constant(38 as const), critical, encoding: u8, data: bytes }),
  fc.record({ type: fc.constant(39 as const), critical, method: u8, data: bytes }),
  fc.record({
    type: fc.constant(41 as const),
    critical,
    protocol: u8,
    spi: fc.uint8Array({ maxLength: 8 }),
    notifyType: u16,
    data: bytes,
  }),
  fc.record({
    type: fc.constant(42 as const),
    critical,
    protocol: fc.constant(3),
    spiSize: fc.constant(4),
    spis: fc.array(fc.uint8Array({ minLength: 4, maxLength: 4 }), { maxLength: 5 }),
  }),
  fc.record({ type: fc.constant(43 as const), critical, data: bytes }),
  fc.record({
    type: fc.constantFrom(44 as const, 45 as const),
    critical,
    selectors: fc.array(
      fc.record({
        tsType: fc.constant(7),
        ipProtocol: u8,
        startPort: u16,
        endPort: u16,
        startAddr: addr4,
        endAddr: addr4,
      }),
      { maxLength: 4 },
    ),
  }),
  fc.record({
    type: fc.constant(47 as const),
    critical,
    cfgType: u8,
    attributes: fc.array(fc.record({ type: fc.integer({ min: 0, max: 0x7fff }), value: bytes }), {
      maxLength: 6,
    }),
  }),
  fc.record({
    type: fc.constant(33 as const),
    critical,
    proposals: fc.array(
      fc.record({
        num: u8,
        protocol: u8,
        spi: fc.uint8Array({ maxLength: 8 }),
        transforms: fc.array(
          fc.record({
            type: u8,
            id: u16,
            attributes: fc.array(
              fc.record({
                type: fc.integer({ min: 0, max: 0x7fff }),
                value: fc.oneof(u16, fc.uint8Array({ maxLength: 8 })),
              }),
              { maxLength: 3 },
            ),
          }),
          { maxLength: 5 },
        ),
      }),
      { minLength: 1, maxLength: 3 },
    ),
  }),
  fc.record({ type: fc.constant(200), critical, unknown: fc.constant(true as const), body: bytes }),
);

const plain = (x: unknown): unknown =>
  JSON.parse(
    JSON.stringify(x, (_k, v: unknown) => (v instanceof Uint8Array ? `hex:${toHex(v)}` : v)),
  );

test('property: decode(encode(payloads)) deep-equals the payloads', () => {
  fc.assert(
    fc.property(fc.array(arbPayload, { maxLength: 6 }), (payloads) => {
      const enc = encodePayloadChain(payloads);
      // fast-check builds null-prototype records; compare structure and bytes, not prototypes.
      assert.deepEqual(plain(decodePayloadChain(enc.first, enc.bytes)), plain(payloads));
    }),
    { numRuns: 400 },
  );
});

test('property: arbitrary bytes decode or raise ParseError, nothing else', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), fc.integer({ min: 0, max: 255 }), (b, first) => {
      for (const f of [() => decodeMessage(b), () => decodePayloadChain(first, b)]) {
        try {
          f();
        } catch (e) {
          if (!(e instanceof ParseError)) throw e;
        }
      }
    }),
    { numRuns: 3000 },
  );
});
