/**
 * The native ESP fast path (native/esp.c through src/esp/native.ts) against the reference
 * (src/esp/sa.ts): byte-identical packets for every payload length 0..1500 and every AEAD
 * transform, each side opening the other's packets, the same drop reasons and counters on the same
 * stream of genuine, replayed, forged, truncated and malformed packets, the same anti-replay
 * decisions on random traffic, batches equal to the sequence of single calls, and the RFC 7634
 * Appendix A ESP packet. Skipped when build/Release/esp.node is not built.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { concatBytes, fromHex, toHex, u32be } from '../../src/core/bytes.js';
import { createAead } from '../../src/crypto/aead.js';
import { ESP_DROP_REASONS, InboundSa, OutboundSa, SEQ_SOFT_LIMIT } from '../../src/esp/sa.js';
import { DATA_PLANE_DROP_REASONS, DATA_PLANE_STATS_FIELDS } from '../../src/fastpath/dataplane.js';
import type { EspDrop, EspSaParams } from '../../src/esp/sa.js';
import {
  NativeInboundSa,
  NativeOutboundSa,
  createNativeInboundSa,
  createNativeOutboundSa,
  loadNativeEsp,
  nativeEspAvailable,
  nativeEspStatus,
  nativeEspSupports,
} from '../../src/esp/native.js';
import type {
  EspOpenResult,
  InboundEsp,
  NativeEspAddon,
  OutboundEsp,
} from '../../src/esp/native.js';

/**
 * build/Release/esp.node of the repository: walk up from this file (dist/test/esp/ in a build) to
 * the directory with package.json and binding.gyp, then from the working directory (a build
 * emitted outside the repository).
 */
function findAddon(): string | undefined {
  for (const start of [dirname(fileURLToPath(import.meta.url)), process.cwd()]) {
    for (let dir = start; ; dir = dirname(dir)) {
      if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'binding.gyp'))) {
        const p = join(dir, 'build', 'Release', 'esp.node');
        if (existsSync(p)) return p;
        break;
      }
      if (dirname(dir) === dir) break;
    }
  }
  return undefined;
}

const ADDON = findAddon();
const OPTS = ADDON === undefined ? {} : { addonPath: ADDON };
const skip =
  ADDON !== undefined && nativeEspAvailable(OPTS)
    ? false
    : `native ESP addon not built or not loadable (npm run build:addon): ${JSON.stringify(nativeEspStatus(OPTS))}`;

/** Deterministic randomness (mulberry32), so that a failure can be replayed. */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * n;
  };
}

function randomBytes(rand: (n: number) => number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = Math.floor(rand(256));
  return b;
}

const rand0 = prng(0x5eed);
const SUITES: { name: string; encrId: number; keymat: Uint8Array }[] = [
  { name: 'AES-GCM-16-128', encrId: 20, keymat: randomBytes(rand0, 20) },
  { name: 'AES-GCM-16-192', encrId: 20, keymat: randomBytes(rand0, 28) },
  { name: 'AES-GCM-16-256', encrId: 20, keymat: randomBytes(rand0, 36) },
  { name: 'AES-GCM-12-256', encrId: 19, keymat: randomBytes(rand0, 36) },
  { name: 'AES-GCM-8-128', encrId: 18, keymat: randomBytes(rand0, 20) },
  { name: 'ChaCha20-Poly1305', encrId: 28, keymat: randomBytes(rand0, 36) },
];

function nativeOut(p: EspSaParams): NativeOutboundSa {
  const sa = createNativeOutboundSa(p, OPTS);
  assert.ok(sa, 'native outbound SA');
  return sa;
}

function nativeIn(p: EspSaParams): NativeInboundSa {
  const sa = createNativeInboundSa(p, OPTS);
  assert.ok(sa, 'native inbound SA');
  return sa;
}

/** A comparable form of a seal or open result (bytes as hex). */
function show(r: Uint8Array | EspDrop | EspOpenResult): string {
  if (r instanceof Uint8Array) return toHex(r);
  if ('drop' in r) return `drop:${r.drop}`;
  return `${r.nextHeader}:${toHex(r.payload)}`;
}

function asBytes(r: Uint8Array | EspDrop): Uint8Array {
  assert.ok(r instanceof Uint8Array, `expected a packet, got ${JSON.stringify(r)}`);
  return r;
}

// Compile-time: the reference classes have the shared surface the engine can rely on.
const conformsOut: (sa: OutboundSa) => OutboundEsp = (sa) => sa;
const conformsIn: (sa: InboundSa) => InboundEsp = (sa) => sa;

test('loader: a missing or disabled addon means undefined, never an exception', () => {
  const bogus = { addonPath: '/nonexistent/build/Release/esp.node' };
  const params = { spi: 1, encrId: 20, keymat: new Uint8Array(36) };
  assert.equal(nativeEspAvailable(bogus), false);
  assert.equal(loadNativeEsp(bogus), undefined);
  assert.equal(createNativeOutboundSa(params, bogus), undefined);
  assert.equal(createNativeInboundSa(params, bogus), undefined);
  const status = nativeEspStatus(bogus);
  assert.ok(!status.available && /not built/.test(status.reason));
  assert.equal(createNativeOutboundSa(params, { ...OPTS, enabled: false }), undefined);
  assert.equal(nativeEspAvailable({ ...OPTS, enabled: false }), false);
  assert.ok(conformsOut(new OutboundSa(params)).spi === 1);
  assert.ok(conformsIn(new InboundSa(params)).spi === 1);
});

test(
  'factories: unsupported transforms give undefined; bad keymat and window throw like sa.ts',
  {
    skip,
  },
  () => {
    const status = nativeEspStatus(OPTS);
    assert.ok(status.available && /OpenSSL 3\./.test(status.opensslVersion));
    for (const encrId of [12, 13, 3, 0, 1000]) {
      assert.equal(nativeEspSupports(encrId), false);
      assert.equal(
        createNativeOutboundSa({ spi: 1, encrId, keymat: new Uint8Array(36) }, OPTS),
        undefined,
      );
      assert.equal(
        createNativeInboundSa({ spi: 1, encrId, keymat: new Uint8Array(36) }, OPTS),
        undefined,
      );
    }
    for (const [encrId, len] of [
      [20, 19],
      [20, 36 + 1],
      [20, 4],
      [20, 0],
      [28, 20],
      [19, 30],
    ] as const) {
      const p = { spi: 1, encrId, keymat: new Uint8Array(len) };
      assert.throws(() => new OutboundSa(p), RangeError);
      assert.throws(() => createNativeOutboundSa(p, OPTS), RangeError);
      assert.throws(() => createNativeInboundSa(p, OPTS), RangeError);
    }
    for (const w of [0, 16, 48, 1000, 1.5]) {
      const p = { spi: 1, encrId: 20, keymat: new Uint8Array(36), replayWindow: w };
      assert.throws(() => new InboundSa(p), RangeError);
      assert.throws(() => createNativeInboundSa(p, OPTS), RangeError);
    }
  },
);

for (const suite of SUITES) {
  test(
    `${suite.name}: byte-identical to OutboundSa for every length 0..1500; each opens the other's packets`,
    {
      skip,
    },
    () => {
      const rand = prng(suite.encrId * 1000 + suite.keymat.length);
      const spi = 0x80000000 + Math.floor(rand(0x7fffffff));
      const params = { spi, encrId: suite.encrId, keymat: suite.keymat };
      const js = new OutboundSa(params);
      const nat = nativeOut(params);
      const start = Math.floor(rand(0x10000000));
      js.setSequenceForTest(start);
      nat.setSequenceForTest(start);
      const jsIn = new InboundSa(params);
      const natIn = nativeIn(params);
      for (let len = 0; len <= 1500; len++) {
        const payload = randomBytes(rand, len);
        const nh = len % 2 ? 4 : 41;
        const a = asBytes(js.seal(payload, nh));
        const b = asBytes(nat.seal(payload, nh));
        assert.equal(
          Object.getPrototypeOf(b),
          Uint8Array.prototype,
          'a plain Uint8Array, as sa.ts',
        );
        assert.equal(toHex(b), toHex(a), `length ${len}`);
        assert.equal(nat.seq, js.seq);
        assert.equal(nat.packets, js.packets);
        assert.equal(nat.bytes, js.bytes);
        // Cross: the JS SA opens the native packet, the native SA the JS one.
        const viaJs = jsIn.open(b);
        const viaNative = natIn.open(a);
        assert.equal(show(viaNative), show(viaJs));
        assert.equal(show(viaNative), `${nh}:${toHex(payload)}`);
      }
      // Another next header, random lengths, random bytes (dummy packets are sealed as asked).
      for (let i = 0; i < 300; i++) {
        const payload = randomBytes(rand, Math.floor(rand(1501)));
        const nh = Math.floor(rand(256));
        assert.equal(show(nat.seal(payload, nh)), show(js.seal(payload, nh)));
      }
      assert.equal(natIn.packets, jsIn.packets);
      assert.equal(natIn.bytes, jsIn.bytes);
      assert.equal(natIn.replay.highest, jsIn.replay.highest);
      assert.equal(nat.needsRekey, js.needsRekey);
    },
  );
}

/** Seals arbitrary plaintext (payload ‖ whatever trailer) with a valid ICV, as sa.ts would frame it. */
function craft(encrId: number, keymat: Uint8Array, spi: number, seq: number, pt: Uint8Array) {
  const header = concatBytes(u32be(spi), u32be(seq));
  const iv = concatBytes(new Uint8Array(4), u32be(seq));
  return concatBytes(header, iv, createAead(encrId, keymat).seal(iv, header, pt));
}

/** A stream with every kind of packet an inbound SA can meet, in a fixed pseudo-random order. */
function hostileStream(
  encrId: number,
  keymat: Uint8Array,
  spi: number,
  seed: number,
): Uint8Array[] {
  const rand = prng(seed);
  const out = new OutboundSa({ spi, encrId, keymat });
  const genuine: Uint8Array[] = [];
  for (let i = 0; i < 120; i++) {
    genuine.push(asBytes(out.seal(randomBytes(rand, Math.floor(rand(200))), rand(2) < 1 ? 4 : 41)));
  }
  const stream: Uint8Array[] = [];
  const pick = (): Uint8Array => genuine[Math.floor(rand(genuine.length))]!;
  for (let i = 0; i < 600; i++) {
    const kind = Math.floor(rand(10));
    const g = pick();
    if (kind <= 3) {
      stream.push(g); // genuine, possibly a duplicate or out of order
    } else if (kind === 4) {
      const bad = g.slice(); // one bit flipped anywhere: SPI → no-sa, elsewhere auth or replay
      const at = Math.floor(rand(bad.length));
      bad[at]! ^= 1 << Math.floor(rand(8));
      stream.push(bad);
    } else if (kind === 5) {
      stream.push(g.subarray(0, Math.floor(rand(g.length)))); // truncated
    } else if (kind === 6) {
      stream.push(concatBytes(g, randomBytes(rand, 1 + Math.floor(rand(4))))); // trailing junk
    } else if (kind === 7) {
      stream.push(randomBytes(rand, Math.floor(rand(60)))); // noise
    } else {
      // A valid ICV around a bad trailer: padding, pad length, next header (RFC 4303 §2.4, §2.6).
      const seq = 1 + Math.floor(rand(200));
      const body = randomBytes(rand, Math.floor(rand(40)));
      const trailers = [
        Uint8Array.of(9, 9, 2, 4), // non-monotonic padding
        Uint8Array.of(1, 2, 3, 4), // pad length 3 with pad bytes 1, 2 only after the body
        Uint8Array.of(250, 4), // pad length beyond the plaintext
        Uint8Array.of(0, 59), // dummy
        Uint8Array.of(0, 17), // bad next header
        Uint8Array.of(1, 2, 2, 41), // fine
        Uint8Array.of(0, 4), // fine
      ];
      const pt = concatBytes(body, trailers[Math.floor(rand(trailers.length))]!);
      stream.push(craft(encrId, keymat, rand(8) < 1 ? 0 : spi, rand(20) < 1 ? 0 : seq, pt));
    }
  }
  stream.push(new Uint8Array(0));
  return stream;
}

for (const suite of SUITES) {
  test(
    `${suite.name}: open, openBatch and InboundSa agree on a hostile stream (drops, counters, window)`,
    {
      skip,
    },
    () => {
      const spi = 0x00001234;
      const params = { spi, encrId: suite.encrId, keymat: suite.keymat, replayWindow: 64 };
      const stream = hostileStream(
        suite.encrId,
        suite.keymat,
        spi,
        suite.encrId + suite.keymat.length,
      );
      const js = new InboundSa(params);
      const single = nativeIn(params);
      const batched = nativeIn(params);
      const expected = stream.map((p) => show(js.open(p)));
      assert.deepEqual(
        stream.map((p) => show(single.open(p))),
        expected,
      );
      const viaBatch: string[] = [];
      for (let i = 0; i < stream.length;) {
        const n = 1 + (i % 97); // uneven batch sizes
        viaBatch.push(...batched.openBatch(stream.slice(i, i + n)).map(show));
        i += n;
      }
      assert.deepEqual(viaBatch, expected);
      const reasons = new Set(expected.map((s) => (s.startsWith('drop:') ? s : 'ok')));
      for (const r of [
        'ok',
        'malformed',
        'no-sa',
        'replay',
        'auth',
        'bad-padding',
        'bad-next-header',
        'dummy',
      ]) {
        assert.ok(reasons.has(r === 'ok' ? r : `drop:${r}`), `the stream exercises ${r}`);
      }
      for (const sa of [single, batched]) {
        assert.equal(sa.packets, js.packets);
        assert.equal(sa.bytes, js.bytes);
        assert.equal(sa.replay.highest, js.replay.highest);
        for (let s = 0; s <= 300; s++)
          assert.equal(sa.replay.check(s), js.replay.check(s), `check ${s}`);
      }
    },
  );
}

test(
  'anti-replay: the C window decides as ReplayWindow on random traffic (RFC 4303 §3.4.3, RFC 6479)',
  {
    skip,
  },
  () => {
    const keymat = SUITES[2]!.keymat;
    const gen = new OutboundSa({ spi: 7, encrId: 20, keymat });
    /** A packet with this sequence number, genuine or with its ICV broken. */
    const packet = (seq: number, authentic: boolean): Uint8Array => {
      gen.setSequenceForTest(seq - 1); // seq 0: -1 + 1 (never on the wire from sa.ts, here a probe)
      const p = asBytes(gen.seal(Uint8Array.of(0x45, seq & 0xff), 4));
      if (!authentic) p[p.length - 1]! ^= 0x80;
      return p;
    };
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.boolean()), { maxLength: 200 }),
        fc.constantFrom(32, 64, 128, 1024),
        (ops, size) => {
          const params = { spi: 7, encrId: 20, keymat, replayWindow: size };
          const js = new InboundSa(params);
          const nat = nativeIn(params);
          const bat = nativeIn(params);
          const packets = ops.map(([seq, authentic]) => packet(seq, authentic));
          const expected = packets.map((p) => show(js.open(p)));
          assert.deepEqual(
            packets.map((p) => show(nat.open(p))),
            expected,
          );
          assert.deepEqual(bat.openBatch(packets).map(show), expected);
          assert.equal(nat.replay.highest, js.replay.highest);
          assert.equal(bat.replay.highest, js.replay.highest);
          for (let s = 0; s <= 3100; s += 7) assert.equal(nat.replay.check(s), js.replay.check(s));
        },
      ),
      { numRuns: 150 },
    );
    // The window object itself: check and commit as ReplayWindow's, at the edges of 32 bits.
    const js = new InboundSa({ spi: 7, encrId: 20, keymat, replayWindow: 32 });
    const nat = nativeIn({ spi: 7, encrId: 20, keymat, replayWindow: 32 });
    assert.equal(nat.replay.size, 32);
    for (const s of [5, 3, 40, 0xfffffff0, 0xffffffff, 0xffffffde, 0xffffffdf, 4]) {
      for (const q of [0, 1, 3, 5, 40, 0xffffffde, 0xffffffdf, 0xffffffff, 2 ** 32]) {
        assert.equal(nat.replay.check(q), js.replay.check(q), `check ${q} after ${s}`);
      }
      js.replay.commit(s);
      nat.replay.commit(s);
      assert.equal(nat.replay.highest, js.replay.highest);
    }
  },
);

for (const suite of SUITES) {
  test(
    `${suite.name}: sealBatch equals the sequence of seal calls; one ArrayBuffer per batch`,
    {
      skip,
    },
    () => {
      const rand = prng(0xba7c + suite.encrId);
      const params = { spi: 0x42, encrId: suite.encrId, keymat: suite.keymat };
      const js = new OutboundSa(params);
      const singles = nativeOut(params);
      const batched = nativeOut(params);
      for (const n of [0, 1, 2, 7, 64, 200, 64, 3]) {
        const payloads = Array.from({ length: n }, () => randomBytes(rand, Math.floor(rand(1501))));
        const perPacket = rand(2) < 1;
        const nhs = perPacket ? payloads.map(() => Math.floor(rand(256))) : 41;
        const nh = (i: number): number => (typeof nhs === 'number' ? nhs : nhs[i]!);
        const got = batched.sealBatch(payloads, nhs);
        assert.equal(got.length, n);
        assert.deepEqual(
          got.map(show),
          payloads.map((p, i) => show(singles.seal(p, nh(i)))),
        );
        assert.deepEqual(
          got.map(show),
          payloads.map((p, i) => show(js.seal(p, nh(i)))),
        );
        assert.equal(batched.seq, js.seq);
        assert.equal(batched.packets, js.packets);
        assert.equal(batched.bytes, js.bytes);
        if (n > 0) {
          const packets = got.map(asBytes);
          const buf = packets[0]!.buffer;
          assert.ok(
            packets.every((p) => p.buffer === buf),
            'views into one ArrayBuffer',
          );
          assert.equal(
            buf.byteLength,
            packets.reduce((s, p) => s + p.length, 0),
          );
        }
      }
    },
  );
}

test(
  'batches and single calls: dropped packets leave no plaintext in the shared buffers',
  {
    skip,
  },
  () => {
    const { encrId, keymat } = SUITES[2]!;
    const params = { spi: 0x99, encrId, keymat };
    const out = new OutboundSa(params);
    const payloads = [
      new Uint8Array(30).fill(0xaa),
      new Uint8Array(50).fill(0xbb),
      new Uint8Array(30).fill(0xcc),
      new Uint8Array(18).fill(0xdd),
    ];
    const packets = payloads.map((p, i) => asBytes(out.seal(p, i === 3 ? 59 : 4)));
    const forged = packets[1]!.slice();
    forged[forged.length - 1]! ^= 1; // ICV broken: the plaintext is decrypted, then wiped
    packets[1] = forged; // and packets[3] is a dummy packet (next header 59): authentic, refused
    const r = nativeIn(params).openBatch(packets);
    assert.deepEqual(r.slice(1, 2), [{ drop: 'auth' }]);
    assert.deepEqual(r.slice(3), [{ drop: 'dummy' }]);
    const a = r[0]!;
    const c = r[2]!;
    assert.ok('payload' in a && 'payload' in c);
    assert.equal(a.payload.buffer, c.payload.buffer);
    const all = new Uint8Array(a.payload.buffer);
    // Slots in packet order, each as long as that packet's ciphertext (payload ‖ trailer).
    assert.equal(all.length, 32 + 52 + 32 + 20);
    assert.deepEqual(all.subarray(0, 30), payloads[0]);
    assert.deepEqual(all.subarray(32, 32 + 52), new Uint8Array(52), 'the forged slot is zeroed');
    assert.deepEqual(all.subarray(84, 114), payloads[2]);
    assert.deepEqual(all.subarray(116), new Uint8Array(20), 'the dummy slot is zeroed');
    // Single opens share a slab: the same rule.
    const single = nativeIn(params);
    const got = packets.map((p) => single.open(p));
    const first = got[0]!;
    assert.ok('payload' in first);
    const slab = new Uint8Array(first.payload.buffer);
    assert.ok(!slab.includes(0xbb) && !slab.includes(0xdd));
    assert.deepEqual(got.slice(1).map(show), [
      'drop:auth',
      `4:${toHex(payloads[2]!)}`,
      'drop:dummy',
    ]);
  },
);

test('single seal/open results stay intact while the slab fills and rolls over', { skip }, () => {
  const { encrId, keymat } = SUITES[5]!;
  const params = { spi: 0x77, encrId, keymat };
  const rand = prng(77);
  const js = new OutboundSa(params);
  const nat = nativeOut(params);
  const natIn = nativeIn(params);
  const payloads = Array.from({ length: 300 }, () => randomBytes(rand, Math.floor(rand(1500))));
  const sealed = payloads.map((p) => nat.seal(p, 41));
  nat.setSequenceForTest(0xffffffff);
  assert.deepEqual(nat.seal(payloads[0]!, 4), { drop: 'seq-exhausted' });
  const opened = sealed.map((p) => {
    const r = natIn.open(asBytes(p));
    natIn.open(asBytes(p)); // a replay in between: gives its slab space back
    return r;
  });
  assert.deepEqual(
    sealed.map(show),
    payloads.map((p) => show(js.seal(p, 41))),
  );
  assert.deepEqual(
    opened.map(show),
    payloads.map((p) => `41:${toHex(p)}`),
  );
  const buffers = new Set(sealed.map((p) => asBytes(p).buffer));
  assert.ok(buffers.size > 1 && buffers.size < 20, `${buffers.size} slabs for 300 packets`);
});

test('sequence numbers are never reused: exhaustion drops, singly and in batches', { skip }, () => {
  const params = { spi: 1000, encrId: 28, keymat: SUITES[5]!.keymat };
  const js = new OutboundSa(params);
  const nat = nativeOut(params);
  const bat = nativeOut(params);
  for (const sa of [js, nat, bat]) sa.setSequenceForTest(0xfffffffd);
  const p = Uint8Array.of(0x45, 0, 0, 20);
  const expected = [
    show(js.seal(p, 4)),
    show(js.seal(p, 4)),
    show(js.seal(p, 4)),
    show(js.seal(p, 4)),
  ];
  assert.deepEqual(expected.slice(2), ['drop:seq-exhausted', 'drop:seq-exhausted']);
  assert.deepEqual(
    [nat.seal(p, 4), nat.seal(p, 4), nat.seal(p, 4), nat.seal(p, 4)].map(show),
    expected,
  );
  assert.deepEqual(bat.sealBatch([p, p, p, p], 4).map(show), expected);
  assert.deepEqual(bat.sealBatch([p], [4]), [{ drop: 'seq-exhausted' }]);
  for (const sa of [nat, bat]) {
    assert.equal(sa.seq, 0xffffffff);
    assert.equal(sa.packets, 2);
    assert.ok(sa.needsRekey);
  }
  nat.setSequenceForTest(SEQ_SOFT_LIMIT - 2);
  assert.ok(!nat.needsRekey);
  nat.seal(p, 4);
  assert.ok(!nat.needsRekey);
  nat.seal(p, 4);
  assert.ok(nat.needsRekey, 'soft limit reached, as OutboundSa');
});

// RFC 7634 Appendix A (ESP example), the bytes of test/crypto/rfc-groups-chacha.test.ts:
// SPI 0x01020304, sequence number 5, IV 1011121314151617, key ‖ salt below.
const RFC7634_KEYMAT = '808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3';
const RFC7634_PLAINTEXT =
  '45000054a6f200004001e778c6336405c000020508005b7a3a080000553bec100007362708090a0b0c0d0e0f' +
  '101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363701020204';
const RFC7634_ESP =
  '0102030400000005' +
  '1011121314151617' +
  '24039428b97f417e3c13753a4f05087b67c352e6a7fab1b982d466ef407ae5c614ee8099d52844eb61aa95df' +
  'ab4c02f72aa71e7c4c4f64c9befe2facc638e8f3cbec163fac469b502773f6fb94e664da9165b82829f641e0' +
  '76aaa8266b7fb0f7b11b369907e1ad43';

test(
  'known answer: the ChaCha20-Poly1305 ESP packet of RFC 7634 Appendix A opens',
  { skip },
  () => {
    const params = { spi: 0x01020304, encrId: 28, keymat: fromHex(RFC7634_KEYMAT) };
    const packet = fromHex(RFC7634_ESP);
    // Payload: the 84-byte ICMP echo (IPv4 total length 0x54); trailer 01 02 | pad length 2 | NH 4.
    const expected = `4:${RFC7634_PLAINTEXT.slice(0, 84 * 2)}`;
    assert.equal(show(new InboundSa(params).open(packet)), expected);
    const single = nativeIn(params);
    assert.equal(show(single.open(packet)), expected);
    assert.equal(show(single.open(packet)), 'drop:replay');
    assert.deepEqual(nativeIn(params).openBatch([packet, packet]).map(show), [
      expected,
      'drop:replay',
    ]);
    const forged = packet.slice();
    forged[40]! ^= 1;
    assert.equal(show(nativeIn(params).open(forged)), 'drop:auth');
    // Our own packet with sequence number 5 differs only in its IV (the counter, RFC 7634 §2).
    const out = nativeOut(params);
    out.setSequenceForTest(4);
    const ours = asBytes(out.seal(fromHex(RFC7634_PLAINTEXT.slice(0, 168)), 4));
    assert.equal(toHex(ours.subarray(0, 16)), '01020304000000050000000000000005');
    assert.equal(show(nativeIn(params).open(ours)), expected);
  },
);

test(
  'every entry point refuses bad arguments with TypeError (or RangeError), never touching memory',
  {
    skip,
  },
  () => {
    const addon = loadNativeEsp(OPTS)!;
    const keymat = new Uint8Array(36);
    const out = addon.create(false, 20, keymat, 1, 0)!;
    const inb = addon.create(true, 20, keymat, 1, 64)!;
    const state = new Float64Array(5);
    const buf = new Uint8Array(100);
    const meta = new Int32Array(30);
    const pkt = new Uint8Array(40);
    const any = addon as unknown as { [K in keyof NativeEspAddon]: (...a: unknown[]) => unknown };
    const holes: unknown[] = [pkt];
    holes.length = 3;
    const typeErrors: [string, () => unknown][] = [
      ['create: no args', () => any.create()],
      ['create: inbound not boolean', () => any.create(1, 20, keymat, 1, 64)],
      ['create: encrId string', () => any.create(false, '20', keymat, 1, 64)],
      ['create: keymat array', () => any.create(false, 20, [...keymat], 1, 64)],
      ['create: keymat Uint16Array', () => any.create(false, 20, new Uint16Array(18), 1, 64)],
      ['create: spi negative', () => any.create(false, 20, keymat, -1, 64)],
      ['create: spi 2^32', () => any.create(false, 20, keymat, 2 ** 32, 64)],
      ['seal: no handle', () => any.seal({}, pkt, 4, state, buf)],
      ['seal: inbound handle', () => any.seal(inb, pkt, 4, state, buf)],
      ['seal: handle as number', () => any.seal(1, pkt, 4, state, buf)],
      ['seal: payload string', () => any.seal(out, 'abc', 4, state, buf)],
      ['seal: payload DataView', () => any.seal(out, new DataView(pkt.buffer), 4, state, buf)],
      [
        'seal: payload Uint8ClampedArray',
        () => any.seal(out, new Uint8ClampedArray(4), 4, state, buf),
      ],
      ['seal: nextHeader 256', () => any.seal(out, pkt, 256, state, buf)],
      ['seal: nextHeader -1', () => any.seal(out, pkt, -1, state, buf)],
      ['seal: nextHeader 4.5', () => any.seal(out, pkt, 4.5, state, buf)],
      ['seal: nextHeader NaN', () => any.seal(out, pkt, NaN, state, buf)],
      ['seal: state short', () => any.seal(out, pkt, 4, new Float64Array(4), buf)],
      ['seal: state Float32Array', () => any.seal(out, pkt, 4, new Float32Array(5), buf)],
      ['seal: missing state', () => any.seal(out, pkt, 4)],
      ['seal: missing out', () => any.seal(out, pkt, 4, state)],
      ['seal: out Int8Array', () => any.seal(out, pkt, 4, state, new Int8Array(100))],
      ['sealBatch: payloads not array', () => any.sealBatch(out, pkt, 4, meta, state)],
      ['sealBatch: element string', () => any.sealBatch(out, [pkt, 'x'], 4, meta, state)],
      ['sealBatch: element hole', () => any.sealBatch(out, holes, 4, meta, state)],
      ['sealBatch: nextHeaders short', () => any.sealBatch(out, [pkt, pkt], [4], meta, state)],
      ['sealBatch: nextHeaders bad', () => any.sealBatch(out, [pkt, pkt], [4, 300], meta, state)],
      ['sealBatch: nextHeaders string', () => any.sealBatch(out, [pkt], '4', meta, state)],
      ['sealBatch: meta short', () => any.sealBatch(out, [pkt, pkt], 4, new Int32Array(5), state)],
      [
        'sealBatch: meta Uint32Array',
        () => any.sealBatch(out, [pkt], 4, new Uint32Array(3), state),
      ],
      ['sealBatch: inbound handle', () => any.sealBatch(inb, [pkt], 4, meta, state)],
      ['open: outbound handle', () => any.open(out, pkt, state, buf)],
      ['open: packet array', () => any.open(inb, [1, 2, 3], state, buf)],
      ['open: missing state', () => any.open(inb, pkt)],
      ['open: missing out', () => any.open(inb, pkt, state)],
      ['open: out array', () => any.open(inb, pkt, state, [0, 0, 0])],
      ['openBatch: not array', () => any.openBatch(inb, pkt, meta, state)],
      ['openBatch: element number', () => any.openBatch(inb, [pkt, 1], meta, state)],
      ['openBatch: meta short', () => any.openBatch(inb, [pkt, pkt], new Int32Array(3), state)],
      ['openBatch: outbound handle', () => any.openBatch(out, [pkt], meta, state)],
      ['setSequence: inbound', () => any.setSequence(inb, 1, state)],
      ['setSequence: 2^32', () => any.setSequence(out, 2 ** 32, state)],
      ['replayCheck: outbound', () => any.replayCheck(out, 1)],
      ['replayCheck: string', () => any.replayCheck(inb, '1')],
      ['replayCommit: fraction', () => any.replayCommit(inb, 1.5, state)],
      ['wipe: not a handle', () => any.wipe({})],
      ['wipe: nothing', () => any.wipe()],
    ];
    for (const [what, f] of typeErrors) assert.throws(f, TypeError, what);
    assert.throws(() => any.create(true, 20, keymat, 1, 48), RangeError);
    assert.throws(() => any.create(true, 20, keymat, 1, 2 ** 25), RangeError);
    // Output smaller than the packet (40 + 16 + 2 + 16 = 74 bytes) or than the ciphertext.
    assert.throws(() => any.seal(out, pkt, 4, state, new Uint8Array(73)), RangeError);
    assert.throws(() => any.open(inb, pkt, state, new Uint8Array(7)), RangeError);
    // Nothing above changed the SAs.
    assert.deepEqual([...state], [0, 0, 0, 0, 0]);
    assert.deepEqual(buf, new Uint8Array(100));
    assert.equal(addon.replayCheck(inb, 1), true);
    assert.equal(addon.seal(out, pkt, 4, state, buf), 0);
    assert.deepEqual([...state], [1, 1, 40, 0, 0], 'the first packet still gets sequence number 1');
    assert.equal(toHex(buf.subarray(0, 8)), '0000000100000001');
    // Through the classes: the same refusals.
    const sa = nativeOut({ spi: 1, encrId: 20, keymat });
    assert.throws(() => sa.seal('x' as unknown as Uint8Array, 4), TypeError);
    assert.throws(() => sa.seal(pkt, 999), TypeError);
    assert.throws(() => sa.sealBatch([pkt, pkt], [4]), TypeError);
    assert.throws(
      () => nativeIn({ spi: 1, encrId: 20, keymat }).openBatch([pkt, null as never]),
      TypeError,
    );
    assert.equal(sa.seq, 0);
  },
);

test(
  'JS run by the batch arrays (accessors) cannot re-enter or wipe the SA mid-call',
  {
    skip,
  },
  () => {
    const { encrId, keymat } = SUITES[2]!;
    const out = nativeOut({ spi: 3, encrId, keymat });
    const inb = nativeIn({ spi: 3, encrId, keymat });
    const p = Uint8Array.of(0x45, 1, 2, 3);
    /** [p, <accessor running f>, p] */
    const withAccessor = (f: () => unknown): Uint8Array[] => {
      const arr = [p, p, p];
      Object.defineProperty(arr, 1, {
        get() {
          f();
          return p;
        },
      });
      return arr;
    };
    const busy = { code: 'ERR_ESP_SA_BUSY' };
    assert.throws(
      () =>
        out.sealBatch(
          withAccessor(() => out.wipe()),
          4,
        ),
      busy,
    );
    assert.throws(
      () =>
        out.sealBatch(
          withAccessor(() => out.seal(p, 4)),
          4,
        ),
      busy,
    );
    assert.throws(
      () =>
        out.sealBatch(
          withAccessor(() => out.sealBatch([p], 4)),
          4,
        ),
      busy,
    );
    const nhs = [4, 4, 4];
    Object.defineProperty(nhs, 2, {
      get() {
        out.wipe();
        return 4;
      },
    });
    assert.throws(() => out.sealBatch([p, p, p], nhs), busy);
    assert.throws(() => inb.openBatch(withAccessor(() => inb.wipe())), busy);
    // An accessor's own exception comes through as it is.
    assert.throws(
      () =>
        out.sealBatch(
          withAccessor(() => {
            throw new SyntaxError('from the accessor');
          }),
          4,
        ),
      SyntaxError,
    );
    // None of it consumed a sequence number or broke the SAs; harmless accessors are fine.
    assert.equal(out.seq, 0);
    const sealed = out
      .sealBatch(
        withAccessor(() => 0),
        4,
      )
      .map(asBytes);
    assert.equal(out.seq, 3);
    assert.deepEqual(
      inb.openBatch(sealed).map(show),
      [1, 2, 3].map(() => `4:${toHex(p)}`),
    );
  },
);

test('wipe: idempotent; the SA refuses work afterwards; counters stay readable', { skip }, () => {
  const keymat = SUITES[0]!.keymat;
  const out = nativeOut({ spi: 5, encrId: 20, keymat });
  const inb = nativeIn({ spi: 5, encrId: 20, keymat });
  const pkt = asBytes(out.seal(Uint8Array.of(0x45), 4));
  assert.ok('payload' in inb.open(pkt));
  out.wipe();
  out.wipe();
  inb.wipe();
  const wiped = { code: 'ERR_ESP_SA_WIPED' };
  assert.throws(() => out.seal(Uint8Array.of(1), 4), wiped);
  assert.throws(() => out.sealBatch([Uint8Array.of(1)], 4), wiped);
  assert.throws(() => out.setSequenceForTest(1), wiped);
  assert.throws(() => inb.open(pkt), wiped);
  assert.throws(() => inb.openBatch([pkt]), wiped);
  assert.throws(() => inb.replay.check(1), wiped);
  assert.equal(out.seq, 1);
  assert.equal(out.packets, 1);
  assert.equal(inb.packets, 1);
  assert.equal(inb.replay.highest, 1);
});

test(
  'many SAs can be made and dropped (their finalizers free them)',
  {
    skip,
  },
  () => {
    const keymat = SUITES[1]!.keymat;
    for (let i = 0; i < 2000; i++) {
      const o = nativeOut({ spi: i, encrId: 20, keymat });
      const n = nativeIn({ spi: i, encrId: 20, keymat });
      assert.ok('payload' in n.open(asBytes(o.seal(Uint8Array.of(i & 0xff), 41))));
      if (i % 2) o.wipe();
    }
  },
);

/** The package root (package.json and binding.gyp): from this file, then the working directory. */
function packageRoot(): string | undefined {
  for (const start of [dirname(fileURLToPath(import.meta.url)), process.cwd()]) {
    for (let dir = start; ; dir = dirname(dir)) {
      if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'binding.gyp'))) return dir;
      if (dirname(dir) === dir) break;
    }
  }
  return undefined;
}

test('drop reasons: native/esp_drops.h is the one list; sa.ts and dataplane.ts follow it in order', () => {
  const root = packageRoot();
  assert.ok(root, 'package root not found');
  const header = readFileSync(join(root, 'native/esp_drops.h'), 'utf8');
  const reasons = (macro: string): { name: string; code: number; js: string }[] => {
    const body = new RegExp(`#define ${macro}\\(X\\)((?:[^\\n]*\\\\\\n)*[^\\n]*)`).exec(header);
    assert.ok(body, `${macro} not found in native/esp_drops.h`);
    return [...body[1]!.matchAll(/X\((\w+), (\d+), "([^"]+)"\)/g)].map((m) => ({
      name: m[1]!,
      code: Number(m[2]),
      js: m[3]!,
    }));
  };
  const esp = reasons('ESP_DROP_REASONS');
  const all = [...esp, ...reasons('DP_DROP_REASONS')];
  assert.ok(esp.length >= 10 && all.length > esp.length, JSON.stringify(all));
  assert.deepEqual(
    all.map((r) => r.code),
    all.map((_, i) => i + 1),
    'codes are consecutive from 1',
  );
  assert.deepEqual(
    esp.map((r) => r.js),
    [...ESP_DROP_REASONS],
    'src/esp/sa.ts ESP_DROP_REASONS',
  );
  assert.deepEqual(
    all.map((r) => r.js),
    [...DATA_PLANE_DROP_REASONS],
    'src/fastpath/dataplane.ts DATA_PLANE_DROP_REASONS',
  );
  assert.deepEqual(DATA_PLANE_STATS_FIELDS.slice(-all.length), [...DATA_PLANE_DROP_REASONS]);
});

test('drop reasons: the addon counts them under the names of native/esp_drops.h', { skip }, () => {
  const addon = loadNativeEsp(OPTS) as unknown as { dpStatsFields?: readonly string[] };
  assert.ok(addon.dpStatsFields, 'the addon has a data plane');
  assert.deepEqual(addon.dpStatsFields.slice(-DATA_PLANE_DROP_REASONS.length), [
    ...DATA_PLANE_DROP_REASONS,
  ]);
});
