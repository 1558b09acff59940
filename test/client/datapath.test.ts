/**
 * The driver's two data paths behind one interface (src/client/datapath.ts): which one
 * `openDataPath` picks, and that both refuse a ninth inbound SA with an error the driver catches
 * (issue 11 finding 4) instead of growing without bound. The native one runs on the data plane
 * with a socketpair for a TUN device; skipped, with the reason, when the addons are not built.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NOOP_LOGGER } from '../../src/core/log.js';
import { openDataPath } from '../../src/client/datapath.js';
import { nativeDataPathLikely } from '../../src/client/datapath-native.js';
import { VpnError } from '../../src/core/errors.js';
import type { DataPath, DataPathEvents } from '../../src/client/datapath.js';
import { parseProposals } from '../../src/ike/sa/proposals.js';
import { tsFromCidr } from '../../src/ike/sa/traffic-selectors.js';
import { toRange } from '../../src/client/host.js';
import { FakeTun, world } from '../support/tunnel-world.js';
import { FakeTun as SocketpairTun, addons, skipReason } from '../fastpath/helpers.js';

const events: DataPathEvents = {
  onIke: () => undefined,
  onRekeyNeeded: () => undefined,
  onFailure: () => undefined,
  onSocketError: () => undefined,
};
const policy = {
  local: [toRange(tsFromCidr('203.0.113.130/32'))],
  remote: [toRange(tsFromCidr('203.0.113.0/25'))],
};
const sa = (spi: number) => ({ spi, encrId: 20, keymat: new Uint8Array(36).fill(spi & 0xff) });

function fillAndOverflow(dp: DataPath): void {
  for (let i = 0; i < 8; i++) dp.installChild(sa(0x1000 + i), sa(0x2000 + i), policy);
  assert.throws(() => dp.installChild(sa(0x1100), sa(0x2100), policy), RangeError);
  // Deleting a CHILD_SA makes room again.
  dp.removeChild(0x1000, 0x2000);
  dp.installChild(sa(0x1100), sa(0x2100), policy);
}

test('a TUN device without a descriptor, or fastPath off: the JavaScript data path', async () => {
  const w = world();
  for (const fastPath of [true, false]) {
    const dp = await openDataPath({
      io: w.io,
      family: 4,
      tun: new FakeTun('vpn0', 1400),
      espProposals: parseProposals('aes256gcm16', 'esp'),
      fastPath,
      limits: {},
      events,
      log: NOOP_LOGGER,
    });
    assert.equal(dp.kind, 'js');
    assert.equal(dp.espPath, 'js');
    assert.ok(!('dataplaneStats' in dp), 'no data plane counters');
    fillAndOverflow(dp);
    dp.close();
  }
});

test('a TUN device with offloads (IFF_VNET_HDR) is never given to the JavaScript path', async () => {
  const w = world();
  // fastPath off: the JavaScript path would read virtio headers and 64 KiB super-packets.
  const tun = Object.assign(new FakeTun('vpn0', 1400), { fd: 1000, offloads: 7 });
  await assert.rejects(
    openDataPath({
      io: w.io,
      family: 4,
      tun,
      espProposals: parseProposals('aes256gcm16', 'esp'),
      fastPath: false,
      limits: {},
      events,
      log: NOOP_LOGGER,
    }),
    (e: unknown) => e instanceof VpnError && e.code === 'ERR_CONFIG' && /offloads/.test(e.message),
  );
  // ...so the driver asks for offloads only when the native plane will carry the tunnel.
  assert.equal(nativeDataPathLikely(false, parseProposals('aes256gcm16', 'esp')), false);
  assert.equal(nativeDataPathLikely(true, parseProposals('aes256-sha256', 'esp')), false);
});

const skip = skipReason();

test('the native threaded data plane behind the same interface', { skip }, async () => {
  const { esp, tun } = addons();
  const pair = new SocketpairTun(esp, tun);
  const w = world();
  const device = Object.assign(new FakeTun('vpn0', 1400), { fd: pair.dpFd });
  let dp: DataPath | undefined;
  try {
    dp = await openDataPath({
      io: w.io,
      family: 4,
      tun: device,
      espProposals: parseProposals('aes256gcm16', 'esp'),
      fastPath: true,
      limits: {},
      events,
      log: NOOP_LOGGER,
    });
    assert.equal(dp.kind, 'threaded');
    assert.ok(dp.localPort > 0);
    fillAndOverflow(dp);
    assert.equal(dp.counters()['packetsOut'], 0);
    assert.equal(dp.espInAt(Date.now()), 0, 'no ESP yet');
    assert.ok(dp.dataplaneStats?.());
    // Not chosen for a proposal the data plane does not implement.
    const js = await openDataPath({
      io: w.io,
      family: 4,
      tun: device,
      espProposals: parseProposals('aes256-sha256', 'esp'),
      fastPath: true,
      limits: {},
      events,
      log: NOOP_LOGGER,
    });
    assert.equal(js.kind, 'js');
    js.close();
  } finally {
    dp?.close();
    pair.close();
  }
});
