/**
 * Fuzz coverage of the post-quantum additions (issue 16): the corpus holds a hybrid IKE_SA_INIT
 * exchange (ADDKE transforms, INTERMEDIATE_EXCHANGE_SUPPORTED) and an IKE_FOLLOWUP_KE message
 * (ML-KEM KE, ADDITIONAL_KEY_EXCHANGE), and mutations of just those go through the decoders and
 * the RFC 9370 code (test/support/fuzz-pq.ts) without anything but ParseError / CryptoError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { toHex } from '../../src/core/bytes.js';
import { decodeMessage } from '../../src/ike/codec/index.js';
import type { Payload } from '../../src/ike/codec/index.js';
import { fuzzCorpus } from '../support/corpus.js';
import { fuzzDecoders } from '../support/fuzz.js';

function hybrid(): Uint8Array[] {
  return fuzzCorpus().filter((m) => {
    try {
      const { header, payloads } = decodeMessage(m);
      return (
        header.exchangeType === 44 ||
        payloads.some(
          (p: Payload) =>
            'proposals' in p &&
            p.proposals.some((x) => x.transforms.some((t) => t.type >= 6 && t.type <= 12)),
        )
      );
    } catch {
      return false;
    }
  });
}

test('the fuzz corpus has ADDKE proposals, INTERMEDIATE_EXCHANGE_SUPPORTED and IKE_FOLLOWUP_KE', () => {
  const h = hybrid();
  assert.ok(h.length >= 3, `${h.length} hybrid messages`);
  const notifies = h.flatMap((m) =>
    decodeMessage(m).payloads.flatMap((p) => ('notifyType' in p ? [p.notifyType] : [])),
  );
  assert.ok(notifies.includes(16438), 'INTERMEDIATE_EXCHANGE_SUPPORTED');
  assert.ok(notifies.includes(16441), 'ADDITIONAL_KEY_EXCHANGE');
  assert.ok(h.some((m) => decodeMessage(m).header.exchangeType === 44));
});

test('mutations of the hybrid messages: decoders and RFC 9370 checks raise only ParseError/CryptoError (≤ 2 s)', () => {
  const end = performance.now() + 2000;
  const r = fuzzDecoders(hybrid(), {
    seed: 9,
    maxInputs: 20000,
    deadline: () => performance.now() > end,
  });
  assert.ok(r.inputs > 500, `only ${r.inputs} inputs`);
  assert.deepEqual(
    r.crashes.map((c) => `${toHex(c.input)}: ${c.error}`),
    [],
  );
});
