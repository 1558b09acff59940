/**
 * TUN offloads in the native data plane without root: the TUN stand-in (an AF_UNIX
 * SOCK_SEQPACKET pair) carries what a device opened with IFF_VNET_HDR would, a 10-byte
 * virtio_net_hdr before every packet. Outbound, a TCP super-packet (TSO4/TSO6) must leave as
 * MTU-sized ESP packets whose inner packets reassemble to its payload with correct IDs, sequence
 * numbers, flags and checksums (pkt_gso_split, native/packet.c); inconsistent virtio headers are
 * counted drops. Inbound, every packet written to the device carries a virtio header: GSO NONE
 * for a packet alone, GSO_TCPV4/TCPV6/UDP_L4 for the packets of one flow coalesced (GRO,
 * pkt_gro_add). End to end, one data plane's UDP GSO into another's UDP GRO socket over
 * loopback: a super-packet read from one device comes out of the other whole.
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
          groPackets: 0,
          groSegments: 0,
          groChecksumErrors: 0,
          udpGro: o!.udpGro,
          udpGroDatagrams: 0,
          udpGroSegments: 0,
          groRefused: false,
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
      // No TUN offload; UDP GRO on the socket is the kernel's (and VPN_DP_GRO's) choice.
      if (s.offloads) {
        assert.equal(s.offloads.udpGro, true);
        assert.ok(!s.offloads.csum && !s.offloads.tso4 && !s.offloads.tso6);
      }
    } finally {
      b.close();
    }
  },
);

/** One UDP packet from 192.0.2.1:40000 (or 2001:db8::1) to port 443, checksum filled in. */
function udp(v6: boolean, payload: Uint8Array): Uint8Array {
  const iph = v6 ? 40 : 20;
  const p = tcp(v6, new Uint8Array(0), 0, 0).subarray(0, iph);
  const out = new Uint8Array(iph + 8 + payload.length);
  out.set(p);
  const v = new DataView(out.buffer);
  if (v6) {
    out[6] = 17;
    v.setUint16(4, 8 + payload.length);
  } else {
    out[9] = 17;
    v.setUint16(2, out.length);
  }
  v.setUint16(iph, 40000);
  v.setUint16(iph + 2, 443);
  v.setUint16(iph + 4, 8 + payload.length);
  out.set(payload, iph + 8);
  return out;
}

/**
 * GSO split in JavaScript, as the kernel's tcp_gso_segment / __udp_gso_segment would do it for a
 * packet read behind virtio header `h`: the original segments, checksums computed.
 */
function split(h: Uint8Array, pkt: Uint8Array): Uint8Array[] {
  const hv = new DataView(h.buffer, h.byteOffset, 10);
  const type = h[1]!;
  if (type === 0) return [pkt];
  assert.equal(h[0], 1, 'NEEDS_CSUM on a GSO packet');
  const v6 = pkt[0]! >> 4 === 6;
  const iph = v6 ? 40 : 20;
  const isTcp = type === 1 || type === 4;
  assert.equal(type, isTcp ? (v6 ? 4 : 1) : 5, 'gso_type');
  assert.equal(hv.getUint16(6, true), iph, 'csum_start');
  assert.equal(hv.getUint16(8, true), isTcp ? 16 : 6, 'csum_offset');
  const l4h = isTcp ? (pkt[iph + 12]! >> 4) * 4 : 8;
  assert.equal(hv.getUint16(2, true), iph + l4h, 'hdr_len');
  // The checksum field holds the pseudo-header sum (CHECKSUM_PARTIAL), as a NIC gets it.
  const pv = new DataView(pkt.buffer, pkt.byteOffset, pkt.byteLength);
  const ps = (v6 ? csum(pkt.subarray(8, 40)) : csum(pkt.subarray(12, 20))) + (isTcp ? 6 : 17);
  assert.equal(
    pv.getUint16(iph + (isTcp ? 16 : 6)),
    csum(new Uint8Array(0), ps + pkt.length - iph),
  );
  if (!v6) assert.equal(csum(pkt.subarray(0, 20)), 0xffff, 'IPv4 header checksum');
  const mss = hv.getUint16(4, true);
  const hdr = iph + l4h;
  const out: Uint8Array[] = [];
  for (let off = hdr, i = 0; off < pkt.length; off += mss, i++) {
    const n = Math.min(mss, pkt.length - off);
    const s = new Uint8Array(hdr + n);
    s.set(pkt.subarray(0, hdr));
    s.set(pkt.subarray(off, off + n), hdr);
    const v = new DataView(s.buffer);
    if (v6) v.setUint16(4, s.length - 40);
    else {
      v.setUint16(2, s.length);
      v.setUint16(4, (pv.getUint16(4) + i) & 0xffff);
      v.setUint16(10, 0);
      v.setUint16(10, ~csum(s.subarray(0, 20)) & 0xffff);
    }
    if (isTcp) {
      v.setUint32(iph + 4, (pv.getUint32(iph + 4) + (off - hdr)) >>> 0);
      if (off + n < pkt.length) s[iph + 13] = s[iph + 13]! & ~0x09;
    } else v.setUint16(iph + 4, 8 + n);
    const co = iph + (isTcp ? 16 : 6);
    v.setUint16(co, 0);
    const c = ~csum(s.subarray(iph), ps + s.length - iph) & 0xffff;
    v.setUint16(co, !isTcp && c === 0 ? 0xffff : c);
    out.push(s);
  }
  return out;
}

/** The packet with its IPv4 header checksum, and the pseudo-header sum in its L4 checksum. */
function partial(p: Uint8Array): Uint8Array {
  const v6 = p[0]! >> 4 === 6;
  const iph = v6 ? 40 : 20;
  const isTcp = (v6 ? p[6] : p[9]) === 6;
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  if (!v6) {
    v.setUint16(10, 0);
    v.setUint16(10, ~csum(p.subarray(0, 20)) & 0xffff);
  }
  const ps = (v6 ? csum(p.subarray(8, 40)) : csum(p.subarray(12, 20))) + (isTcp ? 6 : 17);
  v.setUint16(iph + (isTcp ? 16 : 6), csum(new Uint8Array(0), ps + p.length - iph));
  return p;
}

/** A packet with its checksums completed. */
function fill(p: Uint8Array): Uint8Array {
  const v6 = p[0]! >> 4 === 6;
  const iph = v6 ? 40 : 20;
  const isTcp = (v6 ? p[6] : p[9]) === 6;
  const s = Uint8Array.from(p);
  const v = new DataView(s.buffer);
  if (!v6) {
    v.setUint16(10, 0);
    v.setUint16(10, ~csum(s.subarray(0, 20)) & 0xffff);
  }
  const co = iph + (isTcp ? 16 : 6);
  v.setUint16(co, 0);
  const ps = (v6 ? csum(s.subarray(8, 40)) : csum(s.subarray(12, 20))) + (isTcp ? 6 : 17);
  v.setUint16(co, ~csum(s.subarray(iph), ps + s.length - iph) & 0xffff);
  return s;
}

for (const [v6, proto] of [
  [false, 'TCP'],
  [true, 'TCP'],
  [false, 'UDP'],
] as const) {
  test(
    `GRO: a ${proto}/IPv${v6 ? 6 : 4} super-packet, sealed with UDP GSO by one data plane, opened from one UDP GRO read by another and written to its device as one super-packet`,
    { skip },
    async () => {
      const { esp, tun } = addons();
      const errors: Error[] = [];
      const events = {
        onDatagram: () => undefined,
        onRekeyNeeded: () => undefined,
        onError: (e: Error) => errors.push(e),
      };
      const all = TUN_F.csum | TUN_F.tso4 | TUN_F.tso6 | TUN_F.uso4 | TUN_F.uso6;
      const rx = DataPlane.open(4, 0, events, {}, OPTS);
      const tx = DataPlane.open(4, 0, events, {}, OPTS);
      const rxTun = new FakeTun(esp, tun);
      const txTun = new FakeTun(esp, tun);
      try {
        rx.attachTun(rxTun.dpFd, all);
        tx.attachTun(txTun.dpFd, all);
        tx.setPeer({ address: '127.0.0.1', port: rx.localPort });
        tx.setOutbound(PARAMS, ANY);
        rx.addInbound(PARAMS, ANY);
        const mss = 1300;
        const payload = randomBytes(prng(v6 ? 61 : proto === 'UDP' ? 17 : 41), 30 * mss + 77);
        const iph = v6 ? 40 : 20;
        const isTcp = proto === 'TCP';
        // As the kernel hands a super-packet over: the checksum field holds the pseudo-header sum.
        const superPkt = partial(isTcp ? tcp(v6, payload, 0x7ffff000, 0x18) : udp(v6, payload));
        const hdr = isTcp
          ? vnet(1, v6 ? 4 : 1, iph + 20, mss, iph, 16)
          : vnet(1, 5, iph + 8, mss, iph, 6);
        const want = split(hdr, superPkt);
        assert.equal(want.length, 31);
        txTun.write([Uint8Array.from([...hdr, ...superPkt])]);
        const count = () =>
          rxTun.received.reduce((n, r) => n + split(r.subarray(0, 10), r.subarray(10)).length, 0);
        await waitFor(
          () => count() >= want.length,
          () => `${count()} of ${want.length}: ${JSON.stringify(rx.stats())}`,
        );
        // What the device got, split again as the kernel would, is the packets that were sent.
        const got = rxTun.received.flatMap((r) => split(r.subarray(0, 10), r.subarray(10)));
        assert.deepEqual(got.map(toHex), want.map(toHex));
        const o = rx.stats().offloads!;
        assert.equal(o.udpGro, true, 'UDP_GRO accepted by the kernel');
        assert.ok(o.udpGroDatagrams >= 1 && o.udpGroSegments >= 2, JSON.stringify(o));
        // Coalesced: fewer writes than packets, every packet of the stream in a super-packet.
        assert.ok(o.groPackets >= 1, JSON.stringify(o));
        assert.ok(rxTun.received.length < want.length, `${rxTun.received.length} writes`);
        assert.equal(o.groSegments + (rxTun.received.length - o.groPackets), want.length);
        // Every packet's checksum (made by the sender's split) verified before it was coalesced.
        assert.equal(o.groChecksumErrors, 0);
        assert.equal(o.groRefused, false);
        assert.equal(rx.stats().packetsIn, want.length);
        assert.deepEqual(errors, []);
      } finally {
        tx.close();
        rx.close();
        txTun.close();
        rxTun.close();
      }
    },
  );
}

test(
  'GRO: without USO on the device, UDP packets go one write each (GSO NONE)',
  { skip },
  async () => {
    const b = await bench(OFFLOADS);
    try {
      b.dp.addInbound(PARAMS, ANY);
      const sa = new OutboundSa(PARAMS);
      const pkts = [1, 2, 3].map((k) => udp(false, randomBytes(prng(k), 500)));
      for (const p of pkts) await b.peer.send(sa.seal(fill(p), 4) as Uint8Array, b.dp.localPort);
      await waitFor(
        () => b.fake.received.length === 3,
        () => JSON.stringify(b.dp.stats()),
      );
      assert.deepEqual(
        b.fake.received.map(toHex),
        pkts.map((p) => '00'.repeat(10) + toHex(fill(p))),
      );
      assert.equal(b.dp.stats().offloads!.groPackets, 0);
    } finally {
      b.close();
    }
  },
);
