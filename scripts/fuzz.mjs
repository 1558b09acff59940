#!/usr/bin/env node
// Long fuzz runs of the IKE decoders (the CI test runs the same engine for a few seconds).
// Usage: node scripts/fuzz.mjs [--inputs N] [--seconds S] [--jobs J] [--seed N]   (after
// `npm run build`)
//   --inputs N   stop once N inputs were tried in all (default: no count limit)
//   --seconds S  stop after S seconds at the latest (default 60, or none when --inputs is given)
//   --jobs J     worker threads, each with its own seed (seed, seed + 1, ...); default: the CPUs
// Prints `fuzz: N inputs, C crashes` (and the rate); saves crashing inputs as hex; exits 1 on any
// crash.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

if (!isMainThread) {
  const { seed, maxInputs, seconds, deterministic } = workerData;
  const { exercise, fuzzDecoders } = await import('../dist/test/support/fuzz.js');
  const { fuzzCorpus } = await import('../dist/test/support/corpus.js');
  const { FragmentReassembler } = await import('../dist/src/ike/codec/index.js');
  const end = performance.now() + seconds * 1000;
  // Most inputs end in a ParseError/VpnError; capturing their stacks would take 60 % of the time.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  const r = fuzzDecoders(fuzzCorpus(), {
    seed,
    maxInputs,
    deadline: () => performance.now() > end,
    deterministic,
  });
  Error.stackTraceLimit = limit;
  const crashes = r.crashes.map((c) => {
    let error = c.error;
    try {
      // Again with stacks (with a fresh reassembler: if it passes now, the first error stays).
      exercise(c.input, c.first, new FragmentReassembler({ maxFragments: 16, maxBytes: 4096 }));
    } catch (e) {
      error = e?.stack ?? String(e);
    }
    return { input: Buffer.from(c.input).toString('hex'), error };
  });
  parentPort.postMessage({ inputs: r.inputs, crashes });
} else {
  const args = process.argv.slice(2);
  const opt = (name, def) => {
    const i = args.indexOf(name);
    return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : def;
  };
  const inputs = opt('--inputs', Number.MAX_SAFE_INTEGER);
  const seconds = opt('--seconds', args.includes('--inputs') ? 24 * 3600 : 60);
  const jobs = opt('--jobs', Math.max(1, availableParallelism()));
  const seed = opt('--seed', Date.now() % 2 ** 31);
  const usage = 'usage: node scripts/fuzz.mjs [--inputs N] [--seconds S] [--jobs J] [--seed N]';
  if (!(seconds > 0) || !(inputs > 0) || !Number.isInteger(jobs) || jobs < 1 || jobs > 64) {
    console.error(usage);
    process.exit(2);
  }
  const started = performance.now();
  const results = await Promise.all(
    Array.from(
      { length: jobs },
      (_, k) =>
        new Promise((resolve, reject) => {
          const w = new Worker(new URL(import.meta.url), {
            workerData: {
              seed: (seed + k) % 2 ** 31,
              maxInputs: Math.ceil(inputs / jobs),
              seconds,
              deterministic: k === 0, // every bit flip and truncation of the corpus, once
            },
          });
          w.once('message', resolve);
          w.once('error', reject);
          w.once('exit', (code) => code !== 0 && reject(new Error(`fuzz worker exited ${code}`)));
        }),
    ),
  );
  const elapsed = (performance.now() - started) / 1000;
  const total = results.reduce((a, r) => a + r.inputs, 0);
  const crashes = results.flatMap((r) => r.crashes);
  console.log(
    `seed: ${seed}${jobs > 1 ? ` to ${seed + jobs - 1}` : ''}, jobs: ${jobs}, time: ${elapsed.toFixed(1)} s, ` +
      `rate: ${Math.round(total / elapsed)} inputs/s`,
  );
  if (total < inputs && inputs !== Number.MAX_SAFE_INTEGER) {
    console.log(`fuzz: the time limit (${seconds} s) came before ${inputs} inputs`);
  }
  console.log(`fuzz: ${total} inputs, ${crashes.length} crashes`);
  if (crashes.length > 0) {
    const dir = mkdtempSync(join(tmpdir(), 'ikev2-fuzz-'));
    crashes.forEach((c, i) =>
      writeFileSync(join(dir, `crash-${i}.txt`), `${c.input}\n${c.error}\n`),
    );
    console.log(`crashing inputs saved in ${dir}`);
    process.exit(1);
  }
}
