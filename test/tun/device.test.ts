/**
 * The TUN device (native/tun.c through src/tun/linux.ts), each test in a network namespace of
 * its own: packets the kernel routes into the device reach us (in batches), packets we write
 * reach the kernel (ping gets the reply we crafted), an adopted descriptor works, and a
 * descriptor that is not a TUN device is refused. Needs root; skipped with the reason otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADDON, LINUX_JS, Netns, nsSkipReason } from './helpers.js';

const skip = nsSkipReason();

interface Report {
  echoes: { src: string; dst: string; type: number; id: number }[];
  udp: number;
  batches: number[];
  stats: {
    rxPackets: number;
    rxDrops: number;
    rxBatches: number;
    txPackets: number;
    txErrors: number;
  };
}

test(
  'ping 203.0.113.9: the echo request arrives on the TUN, our crafted reply reaches ping',
  { skip },
  async () => {
    const ns = new Netns();
    try {
      const dev = ns.spawnFixture('device.mjs', [LINUX_JS, 'vt%d', '203.0.113.2/24']);
      const ready = await dev.next('ready');
      assert.match(String(ready['name']), /^vt\d+$/);
      const ping = ns.exec('ping', ['-c1', '-W2', '203.0.113.9']);
      assert.equal(ping.status, 0, `ping failed: ${ping.stdout}${ping.stderr}`);
      assert.match(ping.stdout, /1 received/);
      dev.send('report');
      const r = (await dev.next('report')) as unknown as Report;
      assert.equal(r.echoes.length, 1);
      assert.deepEqual(
        { src: r.echoes[0]!.src, dst: r.echoes[0]!.dst, type: r.echoes[0]!.type },
        { src: '203.0.113.2', dst: '203.0.113.9', type: 8 },
      );
      assert.equal(r.stats.txPackets, 1, 'the echo reply was written');
      assert.equal(r.stats.txErrors, 0);
      assert.ok(r.stats.rxPackets >= 1);
      dev.send('close');
      const closed = await dev.next('closed');
      assert.ok(closed['stats']);
      await dev.exited();
      assert.equal(dev.child.exitCode, 0);
      // The device goes away with its descriptor.
      assert.doesNotMatch(ns.ip('-o', 'link', 'show'), /vt\d+:/);
    } finally {
      ns.close();
    }
  },
);

test(
  'batching: 2000 UDP datagrams routed into the TUN arrive in multi-packet callbacks, all counted',
  { skip },
  async () => {
    const ns = new Netns();
    try {
      const dev = ns.spawnFixture('device.mjs', [LINUX_JS, 'vtb0', '203.0.113.2/24']);
      await dev.next('ready');
      dev.send('flood 2000 203.0.113.50');
      const flooded = await dev.next('flooded', 20000);
      assert.equal(flooded['sent'], 2000);
      dev.send('report');
      const r = (await dev.next('report')) as unknown as Report;
      assert.equal(r.udp, 2000, 'every datagram was read from the device');
      const total = r.batches.reduce((a, b) => a + b, 0);
      assert.equal(r.stats.rxPackets, total, 'rxPackets counts every delivered packet');
      assert.equal(r.stats.rxBatches, r.batches.length);
      assert.equal(r.stats.rxDrops, 0);
      assert.ok(
        Math.max(...r.batches) > 1,
        `some callback got more than one packet: ${JSON.stringify(r.batches)}`,
      );
      assert.ok(Math.max(...r.batches) <= 64, 'at most 64 packets per wakeup');
      assert.ok(r.batches.length < total, 'fewer callbacks than packets');
    } finally {
      ns.close();
    }
  },
);

test('openTunFromFd adopts a TUN descriptor and refuses one that is not', { skip }, async () => {
  const ns = new Netns();
  try {
    const f = ns.spawnFixture('adopt.mjs', [LINUX_JS, ADDON]);
    const r = await f.next('adopted');
    assert.match(String(r['rawName']), /^vtfd\d+$/);
    assert.equal(r['name'], r['rawName'], 'the name comes from TUNGETIFF');
    assert.equal(r['mtu'], 1300);
    assert.match(String(r['notTun']), /^ERR_TUN: descriptor \d+ is not a usable TUN device/);
  } finally {
    ns.close();
  }
});
