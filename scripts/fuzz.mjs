#!/usr/bin/env node
// Long fuzz runs of the IKE decoders (the CI test runs the same engine for a few seconds).
// Usage: node scripts/fuzz.mjs [--seconds N] [--seed N]   (after `npm run build`)
// Prints inputs tried and crashes found; saves crashing inputs as hex; exits 1 on any crash.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : def;
};
const seconds = opt('--seconds', 60);
const seed = opt('--seed', Date.now() % 2 ** 31);
if (!(seconds > 0)) {
  console.error('usage: node scripts/fuzz.mjs [--seconds N] [--seed N]');
  process.exit(2);
}
const { fuzzDecoders } = await import('../dist/test/support/fuzz.js');
const { fuzzCorpus } = await import('../dist/test/support/corpus.js');
const corpus = fuzzCorpus();
const end = performance.now() + seconds * 1000;
const started = performance.now();
const r = fuzzDecoders(corpus, {
  seed,
  maxInputs: Number.MAX_SAFE_INTEGER,
  deadline: () => performance.now() > end,
});
const elapsed = (performance.now() - started) / 1000;
console.log(`corpus: ${corpus.length} messages, seed: ${seed}, time: ${elapsed.toFixed(1)} s`);
console.log(`inputs tried: ${r.inputs}`);
console.log(`crashes: ${r.crashes.length}`);
if (r.crashes.length > 0) {
  const dir = mkdtempSync(join(tmpdir(), 'ikev2-fuzz-'));
  r.crashes.forEach((c, i) =>
    writeFileSync(
      join(dir, `crash-${i}.txt`),
      `${Buffer.from(c.input).toString('hex')}\n${c.error}\n`,
    ),
  );
  console.log(`crashing inputs saved in ${dir}`);
  process.exit(1);
}
