/**
 * ESP (RFC 4303 with RFC 4106 / RFC 7634): replay window against a naive model, SA round trips,
 * the exact bytes of one packet against an independent construction with @noble/ciphers, and the
 * rules that a forged packet never moves the replay window and that no sequence number is reused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { gcm } from '@noble/ciphers/aes.js';
import { concatBytes, fromHex, toHex } from '../../src/core/bytes.js';
import { ReplayWindow } from '../../src/esp/replay.js';
import { InboundSa, OutboundSa, espOverhead } from '../../src/esp/sa.js';
import { EspEngine } from '../../src/esp/engine.js';
import type { VolumeLimits } from '../../src/esp/engine.js';
import { parseIpAddress, prefixToRange } from '../../src/core/ip.js';
import type { Policy, TrafficSelectorRange } from '../../src/esp/policy.js';

test('replay window: in order, duplicates, jumps, left edge, seq 0', () => {
  const w = new ReplayWindow(64);
  assert.ok(!w.check(0));
  for (const s of [1, 2, 3]) {
    assert.ok(w.check(s));
    w.commit(s);
  }
  assert.ok(!w.check(2));
  assert.ok(w.check(100));
  w.commit(100);
  assert.ok(w.check(37), 'inside the window, unseen');
  assert.ok(!w.check(36), 'exactly at the left edge: 100 - 64');
  w.commit(37);
  assert.ok(!w.check(37));
  w.commit(100000);
  assert.ok(!w.check(100));
  assert.ok(w.check(99999));
  assert.throws(() => new ReplayWindow(48), RangeError);
});

test('replay window: check has no side effects; matches a naive model on random traffic', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.boolean()), { maxLength: 300 }),
      fc.constantFrom(32, 64, 128, 1024),
      (ops, size) => {
        const w = new ReplayWindow(size);
        const seen = new Set<number>();
        let top = 0;
        for (const [seq, authentic] of ops) {
          const expect = seq !== 0 && !seen.has(seq) && (seq > top || top - seq < size);
          assert.equal(w.check(seq), expect, `seq ${seq} top ${top}`);
          if (expect && authentic) {
            w.commit(seq);
            seen.add(seq);
            top = Math.max(top, seq);
          }
        }
      },
    ),
    { numRuns: 300 },
  );
});

const KEY36 = new Uint8Array(36).map((_, i) => i * 5 + 1);
const ipv4 = (src: string, dst: string, payload = 20): Uint8Array => {
  const p = new Uint8Array(20 + payload);
  p[0] = 0x45;
  p[3] = p.length;
  p[8] = 64;
  p[9] = 17;
  p.set(parseIpAddress(src), 12);
  p.set(parseIpAddress(dst), 16);
  if (payload >= 4) p.set([0x30, 0x39, 0x00, 0x35], 20); // UDP 12345 → 53
  return p;
};

test('outbound ESP bytes equal an independent construction (noble AES-GCM)', () => {
  const out = new OutboundSa({ spi: 0x11223344, encrId: 20, keymat: KEY36 });
  const pkt = ipv4('203.0.113.130', '203.0.113.10', 21);
  const esp = out.seal(pkt, 4);
  assert.ok(esp instanceof Uint8Array);
  // SPI ‖ seq=1 ‖ IV (= seq as 64-bit) ‖ GCM(payload ‖ pad 1,2,3.. ‖ pad len ‖ next header 4)
  const padLen = (4 - ((pkt.length + 2) % 4)) % 4;
  const pad = Uint8Array.from({ length: padLen }, (_, i) => i + 1);
  const pt = concatBytes(pkt, pad, Uint8Array.of(padLen, 4));
  const header = fromHex('1122334400000001');
  const iv = fromHex('0000000000000001');
  const sealed = gcm(KEY36.subarray(0, 32), concatBytes(KEY36.subarray(32), iv), header).encrypt(
    pt,
  );
  assert.equal(toHex(esp), toHex(concatBytes(header, iv, sealed)));
  assert.equal(esp.length - pkt.length, espOverhead(pkt.length));
});

const SUITES: [string, number, Uint8Array][] = [
  ['AES-GCM-16-128', 20, new Uint8Array(20).fill(7)],
  ['AES-GCM-16-256', 20, KEY36],
  ['ChaCha20-Poly1305', 28, KEY36],
];

for (const [name, encrId, keymat] of SUITES) {
  test(`${name}: seal → open round trip; tampering → auth drop without moving the window`, () => {
    const out = new OutboundSa({ spi: 0x1000, encrId, keymat });
    const inb = new InboundSa({ spi: 0x1000, encrId, keymat });
    for (let n = 0; n < 5; n++) {
      const p = ipv4('192.0.2.2', '198.51.100.7', n * 7);
      const esp = out.seal(p, 4) as Uint8Array;
      const r = inb.open(esp);
      assert.ok('payload' in r);
      assert.equal(toHex(r.payload), toHex(p));
    }
    const genuine = out.seal(ipv4('192.0.2.2', '198.51.100.7'), 4) as Uint8Array;
    for (const i of [8, 16, genuine.length - 1, 20]) {
      const bad = genuine.slice();
      bad[i]! ^= 1;
      assert.deepEqual(inb.open(bad), { drop: 'auth' });
    }
    // Sequence number field forged: the AAD covers it.
    const badSeq = genuine.slice();
    badSeq[7]! ^= 0x40;
    assert.deepEqual(inb.open(badSeq), { drop: 'auth' });
    assert.ok('payload' in inb.open(genuine), 'the genuine packet still passes after forgeries');
    assert.deepEqual(inb.open(genuine), { drop: 'replay' });
    assert.deepEqual(inb.open(genuine.subarray(0, 20)), { drop: 'malformed' });
  });
}

test('bad padding, dummy packets and bad next headers inside a valid ICV are dropped by reason', () => {
  const inb = new InboundSa({ spi: 0x2000, encrId: 20, keymat: KEY36 });
  const build = (seq: number, pt: Uint8Array): Uint8Array => {
    const header = concatBytes(fromHex('00002000'), fromHex(seq.toString(16).padStart(8, '0')));
    const iv = concatBytes(new Uint8Array(4), header.subarray(4));
    return concatBytes(
      header,
      iv,
      gcm(KEY36.subarray(0, 32), concatBytes(KEY36.subarray(32), iv), header).encrypt(pt),
    );
  };
  const payload = ipv4('192.0.2.2', '198.51.100.7', 2); // 22 bytes
  assert.deepEqual(inb.open(build(1, concatBytes(payload, Uint8Array.of(9, 9, 2, 4)))), {
    drop: 'bad-padding',
  });
  assert.deepEqual(inb.open(build(2, concatBytes(payload, Uint8Array.of(0, 59)))), {
    drop: 'dummy',
  });
  assert.deepEqual(inb.open(build(3, concatBytes(payload, Uint8Array.of(0, 6)))), {
    drop: 'bad-next-header',
  });
  assert.ok('payload' in inb.open(build(4, concatBytes(payload, Uint8Array.of(1, 2, 2, 4)))));
});

test('sequence numbers are never reused: exhaustion drops instead of wrapping', () => {
  const out = new OutboundSa({ spi: 1000, encrId: 20, keymat: KEY36 });
  out.setSequenceForTest(0xfffffffe);
  assert.ok(out.seal(ipv4('192.0.2.2', '198.51.100.7'), 4) instanceof Uint8Array);
  assert.deepEqual(out.seal(ipv4('192.0.2.2', '198.51.100.7'), 4), { drop: 'seq-exhausted' });
  assert.ok(out.needsRekey);
});

const range = (cidr: string): TrafficSelectorRange => {
  const [a, l] = cidr.split('/');
  const { start, end } = prefixToRange(parseIpAddress(a!), Number(l));
  return { startAddr: start, endAddr: end, protocol: 0, startPort: 0, endPort: 65535 };
};

function pair(limits: VolumeLimits = {}): { client: EspEngine; gw: EspEngine; policy: Policy } {
  const client = new EspEngine(limits);
  const gw = new EspEngine();
  const policy: Policy = { local: [range('203.0.113.130/32')], remote: [range('203.0.113.0/25')] };
  const gwPolicy: Policy = { local: policy.remote, remote: policy.local };
  const kI = new Uint8Array(36).fill(1);
  const kR = new Uint8Array(36).fill(2);
  client.setOutbound({ spi: 0xa, encrId: 20, keymat: kI }, policy);
  client.addInbound({ spi: 0xb, encrId: 20, keymat: kR }, policy);
  gw.setOutbound({ spi: 0xb, encrId: 20, keymat: kR }, gwPolicy);
  gw.addInbound({ spi: 0xa, encrId: 20, keymat: kI }, gwPolicy);
  return { client, gw, policy };
}

test('engine: two engines back to back carry packets both ways; misses are counted', () => {
  const { client, gw } = pair();
  const up = client.encapsulate(ipv4('203.0.113.130', '203.0.113.10'));
  assert.ok(up instanceof Uint8Array);
  assert.ok('packet' in gw.decapsulate(up));
  const down = gw.encapsulate(ipv4('203.0.113.10', '203.0.113.130'));
  assert.ok(down instanceof Uint8Array);
  assert.ok('packet' in client.decapsulate(down));
  assert.deepEqual(client.encapsulate(ipv4('203.0.113.130', '198.51.100.1')), {
    drop: 'no-policy',
  });
  assert.deepEqual(
    client.decapsulate(concatBytes(fromHex('0000ffff00000001'), new Uint8Array(40))),
    { drop: 'no-sa' },
  );
  assert.deepEqual(client.encapsulate(new Uint8Array([0x00, 1, 2])), { drop: 'malformed' });
  const c = client.counters();
  assert.equal(c['packetsOut'], 1);
  assert.equal(c['packetsIn'], 1);
  assert.equal(c['no-policy'], 1);
  assert.equal(c['no-sa'], 1);
  assert.equal(c['malformed'], 1);
});

test('engine: inbound packets whose inner addresses fall outside the policy are dropped (RFC 4301 §5.2)', () => {
  const client = new EspEngine();
  const gwOut = new OutboundSa({ spi: 0xb, encrId: 20, keymat: new Uint8Array(36).fill(2) });
  client.addInbound(
    { spi: 0xb, encrId: 20, keymat: new Uint8Array(36).fill(2) },
    { local: [range('203.0.113.130/32')], remote: [range('203.0.113.0/25')] },
  );
  const esp = gwOut.seal(ipv4('198.51.100.66', '203.0.113.130'), 4) as Uint8Array;
  assert.deepEqual(client.decapsulate(esp), { drop: 'no-policy' });
});

test('engine: make-before-break rekey keeps in-flight packets of the old SA', () => {
  const { client, gw, policy } = pair();
  const inflight = gw.encapsulate(ipv4('203.0.113.10', '203.0.113.130')) as Uint8Array;
  const nI = new Uint8Array(36).fill(3);
  const nR = new Uint8Array(36).fill(4);
  client.setOutbound({ spi: 0xc, encrId: 20, keymat: nI }, policy);
  client.addInbound({ spi: 0xd, encrId: 20, keymat: nR }, policy);
  gw.addInbound(
    { spi: 0xc, encrId: 20, keymat: nI },
    { local: policy.remote, remote: policy.local },
  );
  const up = client.encapsulate(ipv4('203.0.113.130', '203.0.113.10')) as Uint8Array;
  assert.equal(toHex(up.subarray(0, 4)), '0000000c', 'newest outbound SA is used');
  assert.ok('packet' in gw.decapsulate(up));
  assert.ok('packet' in client.decapsulate(inflight), 'old inbound SA still accepts');
  client.removeInbound(0xb);
  client.removeOutbound(0xa);
  assert.equal(client.inboundCount, 1);
  assert.equal(client.outboundCount, 1);
});

test('engine: arbitrary bytes to decapsulate are drops, never exceptions', () => {
  const { client } = pair();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
      assert.ok('drop' in client.decapsulate(b));
    }),
    { numRuns: 2000 },
  );
});

test('engine: volume lifetimes (bytes or packets, either direction) ask for a rekey once passed', () => {
  const { client } = pair({ packets: 3, bytes: 10_000 });
  for (let i = 0; i < 2; i++) client.encapsulate(ipv4('203.0.113.130', '203.0.113.10'));
  assert.equal(client.rekeyNeeded.size, 0);
  client.encapsulate(ipv4('203.0.113.130', '203.0.113.10'));
  assert.deepEqual([...client.rekeyNeeded], [0xa], 'outbound SA at 3 packets');
  // Inbound: bytes.
  const big = pair({ bytes: 100 });
  const down = big.gw.encapsulate(ipv4('203.0.113.10', '203.0.113.130', 120));
  assert.ok(down instanceof Uint8Array);
  assert.ok('packet' in big.client.decapsulate(down));
  assert.deepEqual([...big.client.rekeyNeeded], [0xb], 'inbound SA past 100 bytes');
  big.client.removeInbound(0xb);
  assert.equal(big.client.rekeyNeeded.size, 0, 'forgotten with its SA');
});
