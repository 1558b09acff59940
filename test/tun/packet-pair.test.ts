/**
 * The TUN addon's socket pair and descriptor passing (native/tun.c through src/tun/linux.ts),
 * without root: packets cross the pair one per datagram both ways (proxy mode's link to ocproxy),
 * an empty datagram (ocproxy's liveness check) is not a packet, and sendFd/recvFd pass a working
 * descriptor (unprivileged vpn exec's TUN device) and refuse a datagram without one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readSync, writeSync } from 'node:fs';
import { closeFd, openPacketPair, recvFd, sendFd, tunAddonStatus } from '../../src/tun/linux.js';

const st = tunAddonStatus();
const skip = st.available ? false : `TUN addon not loaded: ${st.reason}`;

test(
  'packetPair: one IP packet per datagram each way; empty datagrams are skipped',
  { skip },
  async () => {
    const { device, peerFd } = openPacketPair({ name: 'pair-test', mtu: 1400 });
    try {
      assert.equal(device.name, 'pair-test');
      assert.ok(device.fd !== undefined && device.fd >= 0);
      const got: Buffer[] = [];
      device.onPackets((pkts) => got.push(...pkts.map((p) => Buffer.from(p))));
      const a = Buffer.alloc(1400, 1);
      const b = Buffer.from([0x45, 0, 0, 20]);
      writeSync(peerFd, a);
      writeSync(peerFd, Buffer.alloc(0)); // ocproxy's once-a-second check that we are alive
      writeSync(peerFd, b);
      for (let i = 0; i < 100 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(got, [a, b]);
      // Our writes arrive at the other end one datagram each, with their boundaries.
      device.writeBatch([Buffer.from('one'), Buffer.from('second packet')]);
      const buf = Buffer.alloc(2000);
      assert.equal(buf.subarray(0, readSync(peerFd, buf)).toString(), 'one');
      assert.equal(buf.subarray(0, readSync(peerFd, buf)).toString(), 'second packet');
      assert.equal(device.stats().txPackets, 2);
    } finally {
      device.close();
      closeFd(peerFd);
    }
  },
);

test(
  'sendFd/recvFd: a descriptor and its message cross; a bare datagram is refused',
  { skip },
  () => {
    const chan = openPacketPair();
    const other = openPacketPair();
    try {
      assert.equal(recvFd(chan.device.fd!), null, 'nothing queued: null, never blocks');
      sendFd(chan.peerFd, other.peerFd, Buffer.from('vpn0'));
      const r = recvFd(chan.device.fd!);
      assert.ok(r);
      assert.equal(r.data.toString(), 'vpn0');
      assert.notEqual(r.fd, other.peerFd, 'a new descriptor for the same socket');
      // It is the same socket: what we write to it reaches the pair's other end.
      writeSync(r.fd, Buffer.from('through the passed fd'));
      const buf = Buffer.alloc(100);
      const n = readSync(other.device.fd!, buf);
      assert.equal(buf.subarray(0, n).toString(), 'through the passed fd');
      closeFd(r.fd);
      // A datagram without a descriptor: an error (EPROTO), not a bogus fd.
      writeSync(chan.peerFd, Buffer.from('no fd here'));
      assert.throws(() => recvFd(chan.device.fd!), /expected one descriptor and a short message/);
      assert.throws(() => sendFd(chan.peerFd, other.peerFd, Buffer.alloc(0)), /1 to 256 bytes/);
      assert.throws(() => sendFd(chan.peerFd, other.peerFd, Buffer.alloc(257)), /1 to 256 bytes/);
    } finally {
      for (const p of [chan, other]) {
        p.device.close();
        closeFd(p.peerFd);
      }
    }
  },
);
