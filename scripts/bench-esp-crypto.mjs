#!/usr/bin/env node
// ESP crypto micro-benchmark: the JavaScript path (src/esp/sa.ts, one node:crypto cipher object
// per packet) against the native fast path (native/esp.c through src/esp/native.ts): single-packet
// seal/open, and sealBatch/openBatch with batches of 64, for 64-, 512- and 1400-byte inner
// packets; and, as the ceiling, `openssl speed -evp <cipher> -bytes 1400 -seconds 1` (bare
// encryption of one endless message in 1400-byte steps: no per-packet nonce, AAD or tag, no ESP
// framing, no JS), and the fairer per-packet ceiling `openssl speed -aead` (init with a nonce,
// 13 bytes of AAD, 1400 bytes, final, per message: what ESP does), encrypting and decrypting.
//
//   npm run build && npm run build:addon
//   node scripts/bench-esp-crypto.mjs [--cipher aes256gcm16|aes128gcm16|chacha20poly1305]
//                                     [--seconds S] [--repeat N] [--dist DIR] [--json FILE]
//
// Figures are inner-packet (payload) throughput: packets/s and Gbit/s of payload bytes. Each cell
// runs for S seconds (default 0.4) after a short warm-up, on one thread, N times (default 1),
// keeping the best (for a machine shared with other work); the whole run takes about
// 3 sizes × 6 modes × N × (S + warm-up) + 3 s for openssl, under 30 s with the defaults.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const SECONDS = Number(opt('--seconds', '0.4'));
const REPEAT = Math.max(1, Math.floor(Number(opt('--repeat', '1'))) || 1);
const WARMUP = Math.min(0.1, SECONDS / 4);
const DIST = resolve(opt('--dist', join(ROOT, 'dist')));
const JSON_OUT = opt('--json', undefined);
const CIPHERS = {
  aes256gcm16: { encrId: 20, keyLength: 32, openssl: 'aes-256-gcm' },
  aes128gcm16: { encrId: 20, keyLength: 16, openssl: 'aes-128-gcm' },
  chacha20poly1305: { encrId: 28, keyLength: 32, openssl: 'chacha20-poly1305' },
};
const CIPHER = opt('--cipher', 'aes256gcm16');
const suite = CIPHERS[CIPHER];
if (!suite || !(SECONDS > 0)) {
  console.error(
    `usage: bench-esp-crypto.mjs [--cipher ${Object.keys(CIPHERS).join('|')}] [--seconds S] [--dist DIR] [--json FILE]`,
  );
  process.exit(2);
}
const SIZES = [64, 512, 1400];
const BATCH = 64;

const saJs = join(DIST, 'src/esp/sa.js');
const nativeJs = join(DIST, 'src/esp/native.js');
for (const f of [saJs, nativeJs]) {
  if (!existsSync(f)) {
    console.error(`bench-esp-crypto: ${f} is missing: run "npm run build" (or pass --dist DIR)`);
    process.exit(2);
  }
}
const { OutboundSa, InboundSa } = await import(pathToFileURL(saJs).href);
const native = await import(pathToFileURL(nativeJs).href);
const addonPath = join(ROOT, 'build/Release/esp.node');
const status = native.nativeEspStatus({ addonPath });
if (!status.available) {
  console.error(
    `bench-esp-crypto: native addon unavailable (${status.reason}): npm run build:addon`,
  );
  process.exit(2);
}
const OPTS = { addonPath };

const keymat = new Uint8Array(suite.keyLength + 4).map((_, i) => (i * 37 + 11) & 0xff);
const params = { spi: 0xc0ffee01, encrId: suite.encrId, keymat };

/** Runs `round` (which handles `per` packets) for SECONDS; returns packets per second. */
function measure(round, per) {
  const until = (s) => {
    const end = process.hrtime.bigint() + BigInt(Math.round(s * 1e9));
    let n = 0;
    const t0 = process.hrtime.bigint();
    let t = t0;
    while (t < end) {
      round();
      n += per;
      t = process.hrtime.bigint();
    }
    return n / (Number(t - t0) / 1e9);
  };
  until(WARMUP);
  return until(SECONDS);
}

/** An IPv4-looking payload of `size` bytes (the content does not matter to the cipher). */
function payload(size, i) {
  const p = new Uint8Array(size).fill(i & 0xff);
  p[0] = 0x45;
  return p;
}

/**
 * Inbound packets to open: rounds of ROUND distinct packets, each round on a fresh SA (the replay
 * window forbids repeats). 1024 packets of 1400 bytes (1.5 MB) stay in cache as a receive ring
 * would; a 4096-packet pool measured ~35 % slower from cache misses alone.
 */
const ROUND = BATCH * 16;
function sealedPool(size) {
  const out = new OutboundSa(params);
  const pool = [];
  for (let i = 0; i < ROUND; i++) pool.push(out.seal(payload(size, i), 4));
  return pool;
}

function check(ok, what) {
  if (!ok) {
    console.error(`bench-esp-crypto: ${what}`);
    process.exit(1);
  }
}

const modes = {
  'JS seal (OutboundSa)': (size) => {
    const sa = new OutboundSa(params);
    const p = payload(size, 1);
    return measure(() => sa.seal(p, 4), 1);
  },
  'native seal': (size) => {
    const sa = native.createNativeOutboundSa(params, OPTS);
    const p = payload(size, 1);
    return measure(() => sa.seal(p, 4), 1);
  },
  [`native sealBatch(${BATCH})`]: (size) => {
    const sa = native.createNativeOutboundSa(params, OPTS);
    const batch = Array.from({ length: BATCH }, (_, i) => payload(size, i));
    check(
      sa.sealBatch(batch, 4).every((r) => r instanceof Uint8Array),
      'sealBatch dropped',
    );
    return measure(() => sa.sealBatch(batch, 4), BATCH);
  },
  'JS open (InboundSa)': (size) => {
    const pool = sealedPool(size);
    return measure(() => {
      const sa = new InboundSa(params);
      for (const p of pool) sa.open(p);
      check(sa.packets === ROUND, 'JS open dropped');
    }, ROUND);
  },
  'native open': (size) => {
    const pool = sealedPool(size);
    return measure(() => {
      const sa = native.createNativeInboundSa(params, OPTS);
      for (const p of pool) sa.open(p);
      check(sa.packets === ROUND, 'native open dropped');
    }, ROUND);
  },
  [`native openBatch(${BATCH})`]: (size) => {
    const pool = sealedPool(size);
    const batches = [];
    for (let i = 0; i < ROUND; i += BATCH) batches.push(pool.slice(i, i + BATCH));
    return measure(() => {
      const sa = native.createNativeInboundSa(params, OPTS);
      for (const b of batches) sa.openBatch(b);
      check(sa.packets === ROUND, 'openBatch dropped');
    }, ROUND);
  },
};

/** openssl speed, in bytes per second at 1400 bytes (machine-readable output, -mr). */
function opensslSpeed(...flags) {
  let best;
  for (let i = 0; i < REPEAT; i++) {
    const r = spawnSync(
      'openssl',
      ['speed', '-mr', ...flags, '-evp', suite.openssl, '-bytes', '1400', '-seconds', '1'],
      { encoding: 'utf8', timeout: 20000 },
    );
    const m = /^\+F:\d+:[^:]+:([\d.]+)/m.exec(r.stdout ?? '');
    if (m) best = Math.max(best ?? 0, Number(m[1]));
  }
  return best;
}

function opensslVersion() {
  const r = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  return (r.stdout ?? '').trim();
}

const fmtPps = (x) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : `${(x / 1e3).toFixed(1)} k`);
const gbps = (pps, size) => (pps * size * 8) / 1e9;
const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);

console.log(
  `ESP ${CIPHER} (encr ${suite.encrId}), node ${process.version}, addon on ${status.opensslVersion}, ` +
    `${SECONDS}s per cell, batch ${BATCH}`,
);
const results = {};
const header = `${pad('mode', 26)}${SIZES.map((s) => lpad(`${s} B: pkt/s   Gbit/s`, 24)).join('')}`;
console.log(header);
console.log('-'.repeat(header.length));
for (const [name, fn] of Object.entries(modes)) {
  results[name] = {};
  const cells = [];
  for (const size of SIZES) {
    let pps = 0;
    for (let r = 0; r < REPEAT; r++) pps = Math.max(pps, fn(size));
    results[name][size] = { pps, gbps: gbps(pps, size) };
    cells.push(lpad(`${fmtPps(pps)}  ${gbps(pps, size).toFixed(2)}`, 24));
  }
  console.log(pad(name, 26) + cells.join(''));
}

const enc = opensslSpeed();
const aeadEnc = opensslSpeed('-aead');
const aeadDec = opensslSpeed('-aead', '-decrypt');
console.log('-'.repeat(header.length));
const ceilingRow = (label, bytesPerSecond, key) => {
  const pps = bytesPerSecond / 1400;
  results[key] = { 1400: { pps, gbps: gbps(pps, 1400) } };
  console.log(
    `${pad(label, 26)}${lpad('', 48)}${lpad(`${fmtPps(pps)}  ${gbps(pps, 1400).toFixed(2)}`, 24)}`,
  );
  return pps;
};
const row = (label, v, key) => (v ? ceilingRow(label, v, key) : undefined);
const encPps = row(`openssl speed -evp ${suite.openssl}`, enc, 'openssl');
const aeadEncPps = row('openssl speed -aead', aeadEnc, 'openssl-aead');
const aeadDecPps = row('openssl speed -aead -decrypt', aeadDec, 'openssl-aead-decrypt');
if (enc || aeadEnc || aeadDec) {
  console.log(`  (${opensslVersion()}: bare EVP on 1400-byte buffers, no JS: the ceiling)`);
} else {
  console.log('openssl speed: not available (no openssl binary, or unexpected output)');
}

console.log('\nratios at 1400 B (throughput):');
const at = (name, size = 1400) => results[name]?.[size]?.pps;
const ratio = (a, b) => (a && b ? `${(a / b).toFixed(2)}×` : 'n/a');
const jsSeal = 'JS seal (OutboundSa)';
const jsOpen = 'JS open (InboundSa)';
const batchSeal = `native sealBatch(${BATCH})`;
const batchOpen = `native openBatch(${BATCH})`;
const rows = [
  ['native seal / JS seal', at('native seal'), at(jsSeal)],
  [`${batchSeal} / JS seal`, at(batchSeal), at(jsSeal)],
  ['native open / JS open', at('native open'), at(jsOpen)],
  [`${batchOpen} / JS open`, at(batchOpen), at(jsOpen)],
  [`${batchSeal} / native seal`, at(batchSeal), at('native seal')],
  ['JS seal / openssl -evp', at(jsSeal), encPps],
  ['native seal / openssl -evp', at('native seal'), encPps],
  [`${batchSeal} / openssl -evp`, at(batchSeal), encPps],
  [`${batchSeal} / openssl -aead`, at(batchSeal), aeadEncPps],
  ['JS open / openssl -aead -decrypt', at(jsOpen), aeadDecPps],
  [`${batchOpen} / openssl -aead -decrypt`, at(batchOpen), aeadDecPps],
];
for (const [name, a, b] of rows) console.log(`  ${pad(name, 40)}${lpad(ratio(a, b), 8)}`);
console.log('\nratios at 64 B (per-packet overhead dominates):');
for (const [name, a, b] of [
  [`${batchSeal} / JS seal`, at(batchSeal, 64), at(jsSeal, 64)],
  [`${batchOpen} / JS open`, at(batchOpen, 64), at(jsOpen, 64)],
]) {
  console.log(`  ${pad(name, 40)}${lpad(ratio(a, b), 8)}`);
}
if (JSON_OUT)
  writeFileSync(
    JSON_OUT,
    `${JSON.stringify({ cipher: CIPHER, batch: BATCH, repeat: REPEAT, results }, null, 2)}\n`,
  );
