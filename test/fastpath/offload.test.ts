/**
 * TUN offloads in the native data plane without root: the TUN stand-in (an AF_UNIX
 * SOCK_SEQPACKET pair) carries what a device opened with IFF_VNET_HDR would, a 10-byte
 * virtio_net_hdr before every packet. Outbound, a TCP super-packet (TSO4/TSO6) must leave as
 * MTU-sized ESP packets whose inner packets reassemble to its payload with correct IDs, sequence
 * numbers, flags and checksums (pkt_gso_split, native/packet.c); inconsistent virtio headers are
 * counted drops. Inbound, every packet written to the device carries a virtio header (GSO NONE).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toHex } from '../../src/core/bytes.js';
import { InboundSa, OutboundSa } from '../../src/esp/sa.js';
import type { EspSaParams } from '../../src/esp/sa.js';
import { DataPlane, TUN_F } from '../../src/fastpath/dataplane.js';
import type { DataPlaneStats } from '../../src/fastpath/dataplane.js';
import {
  ANY,
  FakeTun,
  OPTS,
  Peer,
  addons,
  prng,
  randomBytes,
  skipReason,
  waitFor,
} from './helpers.js';

const skip = skipReason();
const OFFLOADS = TUN_F.csum | TUN_F.tso4 | TUN_F.tso6;
const PARAMS: EspSaParams = { spi: 0x5e6f0001, encrId: 20, keymat: randomBytes(prng(7), 20) };

/** RFC 1071 sum, folded, not complemented. */
function csum(b: Uint8Array, initial = 0): number {
  let s = initial;
  for (let i = 0; i + 1 < b.length; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  if (b.length % 2) s += b[b.length - 1]! << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** struct virtio_net_hdr, little-endian. */
function vnet(flags: number, type: number, hdrLen: number, gso: number, cs: number, co: number) {
  const h = new Uint8Array(10);
  const v = new DataView(h.buffer);
  h[0] = flags;
  h[1] = type;
  v.setUint16(2, hdrLen, true);
  v.setUint16(4, gso, true);
  v.setUint16(6, cs, true);
  v.setUint16(8, co, true);
  return h;
}

/** A TCP packet from 192.0.2.1:40000 (or 2001:db8::1) with `payload`, its checksum left 0. */
function tcp(v6: boolean, payload: Uint8Array, seq: number, flags: number): Uint8Array {
  const iph = v6 ? 40 : 20;
  const p = new Uint8Array(iph + 20 + payload.length);
  const v = new DataView(p.buffer);
  if (v6) {
    p[0] = 0x60;
    v.setUint16(4, 20 + payload.length);
    p[6] = 6;
    p[7] = 64;
    p.set([0x20, 0x01, 0x0d, 0xb8], 8);
    p[23] = 1;
    p.set([0x20, 0x01, 0x0d, 0xb8], 24);
    p[39] = 2;
  } else {
    p[0] = 0x45;
    v.setUint16(2, p.length);
    v.setUint16(4, 0xfffe); // the ID wraps within the super-packet
    p[6] = 0x40;
    p[8] = 64;
    p[9] = 6;
    p.set([192, 0, 2, 1, 198, 51, 100, 7], 12);
  }
  v.setUint16(iph, 40000);
  v.setUint16(iph + 2, 443);
  v.setUint32(iph + 4, seq);
  v.setUint32(iph + 8, 1);
  p[iph + 12] = 0x50;
  p[iph + 13] = flags;
  v.setUint16(iph + 14, 65535);
  p.set(payload, iph + 20);
  return p;
}

/** Do the IPv4 header checksum and the TCP checksum (with the pseudo-header) verify? */
function checksumsOk(p: Uint8Array): boolean {
  const v6 = p[0]! >> 4 === 6;
  const iph = v6 ? 40 : 20;
  if (!v6 && csum(p.subarray(0, 20)) !== 0xffff) return false;
  const l4 = p.length - iph;
  const ps = (v6 ? csum(p.subarray(8, 40)) : csum(p.subarray(12, 20))) + 6 + l4;
  return csum(p.subarray(iph), ps) === 0xffff;
}

async function bench(offloads: number) {
  const { esp, tun } = addons();
  const peer = await Peer.open('127.0.0.1');
  const errors: Error[] = [];
  const dp = DataPlane.open(
    4,
    0,
    { onDatagram: () => undefined, onRekeyNeeded: () => undefined, onError: (e) => errors.push(e) },
    {},
    OPTS,
  );
  const fake = new FakeTun(esp, tun);
  dp.attachTun(fake.dpFd, offloads);
  dp.setPeer({ address: peer.address, port: peer.port });
  dp.setOutbound(PARAMS, ANY);
  const close = () => {
    dp.close();
    fake.close();
    peer.close();
  };
  return { dp, fake, peer, errors, close };
}

/** The inner packets of the ESP the gateway received. */
function opened(peer: Peer): Uint8Array[] {
  const sa = new InboundSa(PARAMS);
  return peer.received.map((r) => {
    const o = sa.open(r.data);
    if ('drop' in o) throw new Error(`ESP from the data plane: ${o.drop}`);
    return o.payload;
  });
}

for (const v6 of [false, true]) {
  test(
    `vnet hdr: a TCP/IPv${v6 ? 6 : 4} super-packet leaves as MSS-sized ESP packets that reassemble, checksums verified`,
    { skip },
    async () => {
      const b = await bench(OFFLOADS);
      try {
        const mss = 1348;
        const payload = randomBytes(prng(v6 ? 6 : 4), 10 * mss + 500);
        const superPkt = tcp(v6, payload, 0xfffff000, 0x80 | 0x18 | 0x01); // CWR PSH ACK FIN
        const iph = v6 ? 40 : 20;
        const hdr = vnet(1, v6 ? 4 : 1, iph + 20, mss, iph, 16);
        // and a plain packet behind a GSO NONE header, its checksum to complete (NEEDS_CSUM)
        const small = tcp(v6, Uint8Array.of(1, 2, 3), 77, 0x18);
        const l4 = small.length - iph;
        const ps = (v6 ? csum(small.subarray(8, 40)) : csum(small.subarray(12, 20))) + 6 + l4;
        new DataView(small.buffer).setUint16(iph + 16, csum(new Uint8Array(0), ps));
        if (!v6) new DataView(small.buffer).setUint16(10, ~csum(small.subarray(0, 20)) & 0xffff);
        b.fake.write([
          Uint8Array.from([...hdr, ...superPkt]),
          Uint8Array.from([...vnet(1, 0, 0, 0, iph, 16), ...small]),
        ]);
        await waitFor(
          () => b.peer.received.length >= 12,
          () => `gateway got ${b.peer.received.length} of 12: ${JSON.stringify(b.dp.stats())}`,
        );
        const inner = opened(b.peer);
        assert.equal(inner.length, 12);
        const segs = inner.slice(0, 11);
        let got = 0;
        segs.forEach((s, i) => {
          const v = new DataView(s.buffer, s.byteOffset, s.byteLength);
          const n = s.length - iph - 20;
          assert.equal(n, i < 10 ? mss : 500, `segment ${i} payload`);
          assert.ok(checksumsOk(s), `segment ${i} checksums`);
          if (v6) assert.equal(v.getUint16(4), 20 + n);
          else {
            assert.equal(v.getUint16(2), s.length);
            assert.equal(v.getUint16(4), (0xfffe + i) & 0xffff, `segment ${i} IP ID`);
          }
          assert.equal(v.getUint32(iph + 4), (0xfffff000 + got) >>> 0, `segment ${i} seq`);
          const flags = s[iph + 13]!;
          assert.equal(flags, i === 0 ? 0x90 : i === 10 ? 0x19 : 0x10, `segment ${i} flags`);
          assert.equal(toHex(s.subarray(iph + 20)), toHex(payload.subarray(got, got + n)));
          got += n;
        });
        assert.equal(got, payload.length);
        assert.ok(checksumsOk(inner[11]!), 'NEEDS_CSUM completed');
        assert.equal(toHex(inner[11]!.subarray(iph + 20)), '010203');
        const o = b.dp.stats().offloads;
        assert.deepEqual(o, {
          csum: true,
          tso4: true,
          tso6: true,
          uso4: false,
          uso6: false,
          superPackets: 1,
          segments: 11,
          drops: 0,
        });
        assert.deepEqual(b.errors, []);
      } finally {
        b.close();
      }
    },
  );
}

test(
  'vnet hdr: inconsistent virtio headers are counted drops; the thread carries on',
  { skip },
  async () => {
    const b = await bench(OFFLOADS);
    try {
      const pkt = tcp(false, randomBytes(prng(9), 3000), 1, 0x10);
      const bad = [
        vnet(1, 1, 40, 0, 20, 16), // gso_size 0
        vnet(1, 4, 40, 1000, 20, 16), // TCPV6 on an IPv4 packet
        vnet(1, 1, 40, 1000, 24, 16), // csum_start not at the TCP header
        vnet(1, 1, 40, 20, 20, 16), // 150 segments
        vnet(1, 3, 40, 1000, 20, 16), // UFO, never enabled
      ];
      b.fake.write([...bad.map((h) => Uint8Array.from([...h, ...pkt])), Uint8Array.of(1, 2, 3)]);
      b.fake.write([Uint8Array.from([...vnet(1, 1, 40, 1000, 20, 16), ...pkt])]);
      await waitFor(
        () => b.peer.received.length >= 3,
        () => `gateway got ${b.peer.received.length}: ${JSON.stringify(b.dp.stats())}`,
      );
      const o = b.dp.stats().offloads!;
      assert.equal(o.drops, 6); // the five and a read shorter than a virtio header
      assert.equal(o.superPackets, 1);
      assert.equal(opened(b.peer).length, 3);
      assert.deepEqual(b.errors, []);
    } finally {
      b.close();
    }
  },
);

test(
  'vnet hdr: inbound packets reach the device behind a virtio header of GSO NONE',
  { skip },
  async () => {
    const b = await bench(OFFLOADS);
    try {
      b.dp.addInbound(PARAMS, ANY);
      const inner = tcp(false, Uint8Array.of(9, 8, 7), 5, 0x18);
      await b.peer.send(new OutboundSa(PARAMS).seal(inner, 4) as Uint8Array, b.dp.localPort);
      await waitFor(
        () => b.fake.received.length === 1,
        () => JSON.stringify(b.dp.stats()),
      );
      assert.equal(toHex(b.fake.received[0]!), '00'.repeat(10) + toHex(inner));
    } finally {
      b.close();
    }
  },
);

test(
  'a plain device (offloads 0): no virtio header either way, no offloads in the stats',
  { skip },
  async () => {
    const b = await bench(0);
    try {
      const pkt = tcp(false, Uint8Array.of(1), 1, 0x10);
      b.fake.write([pkt]);
      await waitFor(
        () => b.peer.received.length === 1,
        () => JSON.stringify(b.dp.stats()),
      );
      assert.equal(toHex(opened(b.peer)[0]!), toHex(pkt));
      const s: DataPlaneStats = b.dp.stats();
      assert.equal(s.offloads, undefined);
    } finally {
      b.close();
    }
  },
);
