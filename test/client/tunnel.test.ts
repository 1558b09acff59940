/**
 * The tunnel driver (src/client/tunnel.ts) run whole, in memory and without root: the fake TUN
 * device, socket, gateway (test responder + JavaScript ESP SAs) and host configurator of
 * test/support/tunnel-world.ts, on virtual time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRandom } from '../../src/core/random.js';
import { VpnError } from '../../src/core/errors.js';
import { Tunnel } from '../../src/client/tunnel.js';
import type { TunnelEvent, TunnelOptions, TunnelSummary } from '../../src/client/tunnel.js';
import { GW_IP, PSK, VIRTUAL_IP, ipv4, world } from '../support/tunnel-world.js';
import type { World } from '../support/tunnel-world.js';

function tunnel(w: World, over: Partial<TunnelOptions> = {}): { t: Tunnel; events: TunnelEvent[] } {
  const t = new Tunnel({
    gateway: GW_IP,
    localId: 'client@test',
    remoteId: '@gw.test',
    credentials: { auth: { kind: 'psk', psk: PSK } },
    random: new SeededRandom(1),
    io: w.io,
    ...over,
  });
  const events: TunnelEvent[] = [];
  t.on((e) => events.push(e));
  return { t, events };
}

/** Connects; fails (instead of hanging) when the tunnel is not up after the I/O settled. */
async function up(w: World, t: Tunnel): Promise<TunnelSummary> {
  let done = false;
  const p = t.connect().finally(() => (done = true));
  await w.time.advance(0);
  assert.ok(done, 'connect() settled in memory');
  return p;
}

async function shutdown(w: World, t: Tunnel): Promise<void> {
  const c = t.close();
  await w.time.advance(10000);
  await c;
}

const count = (events: TunnelEvent[], type: TunnelEvent['type']): number =>
  events.filter((e) => e.type === type).length;

/** Empty INFORMATIONAL requests (liveness checks) the current IKE SA's gateway received. */
const livenessChecks = (w: World): number =>
  w.gw.resp.informationalsReceived.filter((p) => p.length === 0).length;

test('connects, carries packets both ways through the fake TUN, and teardown restores the host exactly', async () => {
  const w = world();
  const before = w.host.snapshot();
  const { t, events } = tunnel(w);
  const s = await up(w, t);
  assert.equal(s.virtualIp4, VIRTUAL_IP);
  assert.equal(s.device, 'vpn0');
  assert.deepEqual(s.routes, ['203.0.113.0/25']);
  assert.ok(w.host.routes.has(`203.0.113.0/25 dev vpn0 src ${VIRTUAL_IP}`));
  assert.ok(w.host.addresses.has(`vpn0 ${VIRTUAL_IP}/32`));
  assert.match(w.host.dns, /203\.0\.113\.53/);
  assert.equal(count(events, 'up'), 1);

  const tun = w.tuns[0]!;
  const out = [ipv4(VIRTUAL_IP, '203.0.113.10', 40, 1), ipv4(VIRTUAL_IP, '203.0.113.11', 300, 2)];
  tun.inject(out);
  await w.time.advance(10);
  assert.deepEqual(w.gw.espIn, out, 'the gateway opened exactly our packets');
  const back = ipv4('203.0.113.10', VIRTUAL_IP, 64, 3);
  w.gw.sendEsp(back);
  await w.time.advance(10);
  assert.deepEqual(tun.written, [back], 'the TUN device got exactly the gateway packet');
  const st = t.status();
  assert.equal(st.state, 'up');
  assert.equal(st.esp['packetsOut'], 2);
  assert.equal(st.esp['packetsIn'], 1);

  await shutdown(w, t);
  assert.equal(t.status().state, 'down');
  assert.ok(w.gw.resp.deleted, 'the gateway got our DELETE');
  assert.equal(w.host.snapshot(), before, 'the host is exactly as before');
  assert.ok(w.host.changes.length >= 5);
  assert.ok(
    w.host.changes.every((c) => c.undone),
    'every change was undone',
  );
  assert.ok(tun.closed && w.net.closed, 'TUN device and socket closed');
  assert.equal(w.time.pending, 0, 'no timer left running');
  assert.equal(await t.closed, undefined);
});

test('a gateway DELETE of the IKE SA → reconnect, same host configuration, traffic flows again', async () => {
  const w = world();
  const { t, events } = tunnel(w);
  await up(w, t);
  const upSnapshot = w.host.snapshot();
  const changes = w.host.changes.length;
  w.gw.send(w.gw.resp.request('delete-ike'));
  await w.time.advance(0);
  const r = events.find((e) => e.type === 'reconnecting');
  assert.ok(r && r.type === 'reconnecting' && r.attempt === 1, 'reconnecting, attempt 1');
  await w.time.advance(1500);
  assert.equal(w.gw.ikeSaInits, 2, 'a new IKE SA');
  assert.equal(count(events, 'up'), 2);
  assert.equal(t.status().state, 'up');
  assert.equal(w.host.snapshot(), upSnapshot, 'same virtual IP: host left as it was');
  assert.equal(w.host.changes.length, changes, 'no host change redone');
  const pkt = ipv4(VIRTUAL_IP, '203.0.113.10', 40, 7);
  w.tuns[0]!.inject([pkt]);
  await w.time.advance(10);
  assert.deepEqual(w.gw.espIn, [pkt]);
  assert.equal(w.gw.espInSpis[0], w.gw.resp.child!.inSpi, 'on the new CHILD_SA');
  await shutdown(w, t);
  assert.equal(w.host.changes.filter((c) => !c.undone).length, 0);
});

test('DPD: a gateway that went silent is declared dead, the tunnel ends with ERR_IKE_TIMEOUT and the host is restored', async () => {
  const w = world();
  const before = w.host.snapshot();
  const { t, events } = tunnel(w, { dpdMs: 10000, retry: 0 });
  await up(w, t);
  const upAt = w.time.now;
  w.gw.silent = true;
  let downAt = 0;
  t.on((e) => {
    if (e.type === 'down') downAt = w.time.now;
  });
  await w.time.advance(120000);
  const down = events.find((e) => e.type === 'down');
  assert.ok(down && down.type === 'down', 'the tunnel went down');
  assert.equal(down.error?.code, 'ERR_IKE_TIMEOUT');
  assert.ok(downAt - upAt >= 10000 && downAt - upAt < 60000, `noticed after ${downAt - upAt} ms`);
  assert.equal(w.host.snapshot(), before);
  assert.equal((await t.closed)?.code, 'ERR_IKE_TIMEOUT');
});

test('a CHILD_SA rekey by the gateway under traffic loses no packet and moves both directions to the new SA', async () => {
  const w = world();
  const { t, events } = tunnel(w);
  await up(w, t);
  const tun = w.tuns[0]!;
  const firstSpi = w.gw.resp.child!.inSpi;
  const sent: Uint8Array[] = [];
  for (let i = 0; i < 60; i++) {
    if (i === 20) w.gw.send(w.gw.resp.rekeyChild());
    if (i === 40) w.gw.send(w.gw.resp.deleteChild(w.gw.resp.previousChild!.inSpi));
    const p = ipv4(VIRTUAL_IP, '203.0.113.10', 40, i);
    sent.push(p);
    tun.inject([p]);
    w.gw.sendEsp(ipv4('203.0.113.10', VIRTUAL_IP, 40, i));
    await w.time.advance(100);
  }
  assert.ok(events.some((e) => e.type === 'rekeyed' && e.what === 'child' && e.by === 'peer'));
  const newSpi = w.gw.resp.child!.inSpi;
  assert.notEqual(newSpi, firstSpi);
  assert.deepEqual(w.gw.espIn, sent, 'every packet arrived, in order');
  assert.equal(w.gw.espInSpis.at(-1), newSpi, 'we send on the new SA');
  assert.equal(w.gw.espInSpis[0], firstSpi);
  assert.equal(tun.written.length, 60, 'every gateway packet arrived');
  assert.ok(w.gw.resp.childDeletes.length === 0, 'the gateway deleted the old SA, not us');
  assert.equal(t.status().esp['no-sa'] ?? 0, 0);
  await shutdown(w, t);
});

test('our own CHILD_SA rekey (its lifetime ran out) under traffic loses no packet', async () => {
  const w = world();
  const { t, events } = tunnel(w, { rekeyMs: 20000 });
  await up(w, t);
  const tun = w.tuns[0]!;
  const firstSpi = w.gw.resp.child!.inSpi;
  const sent: Uint8Array[] = [];
  for (let i = 0; i < 60; i++) {
    const p = ipv4(VIRTUAL_IP, '203.0.113.10', 40, i);
    sent.push(p);
    tun.inject([p]);
    w.gw.sendEsp(ipv4('203.0.113.10', VIRTUAL_IP, 40, i));
    await w.time.advance(500);
  }
  assert.ok(events.some((e) => e.type === 'rekeyed' && e.what === 'child' && e.by === 'us'));
  assert.ok(w.gw.resp.clientRekeys.length >= 1, 'the gateway saw our CREATE_CHILD_SA');
  assert.notEqual(w.gw.resp.child!.inSpi, firstSpi);
  assert.deepEqual(w.gw.espIn, sent, 'every packet arrived, in order');
  assert.equal(w.gw.espInSpis.at(-1), w.gw.resp.child!.inSpi, 'we send on the new SA');
  assert.ok(w.gw.resp.childDeletes.length >= 1, 'we deleted the old CHILD_SA');
  assert.equal(tun.written.length, 60, 'every gateway packet arrived');
  await shutdown(w, t);
});

test('issue 11: after two reconnects NAT keepalives and the one-way traffic check still run', async () => {
  const w = world({ natHere: true });
  const { t, events } = tunnel(w, { dpdMs: 0, keepaliveMs: 20000, retry: 5 });
  await up(w, t);
  for (let k = 0; k < 2; k++) {
    // Lose the IKE SA just before the keepalive and one-way ticks fall due: they fire while
    // the tunnel is reconnecting.
    await w.time.advance(19500);
    w.gw.send(w.gw.resp.request('delete-ike'));
    await w.time.advance(5000);
    assert.equal(t.status().state, 'up', `up again after reconnect ${k + 1}`);
  }
  assert.equal(count(events, 'up'), 3);
  const keepalives = w.net.keepalivesOut;
  await w.time.advance(45000);
  assert.ok(
    w.net.keepalivesOut - keepalives >= 2,
    `NAT keepalives after the reconnects (${w.net.keepalivesOut - keepalives})`,
  );
  assert.equal(t.status().keepalivesSent, w.net.keepalivesOut);
  // Traffic out, nothing back: the one-way check asks the gateway within one interval.
  const probes = livenessChecks(w);
  for (let i = 0; i < 20; i++) {
    w.tuns[0]!.inject([ipv4(VIRTUAL_IP, '203.0.113.10', 40, i)]);
    await w.time.advance(1000);
  }
  assert.ok(livenessChecks(w) > probes, 'the one-way check sent a liveness check');
  await shutdown(w, t);
});

test('issue 11: --retry 2 runs out against a gateway that accepts and then deletes every IKE SA', async () => {
  const w = world();
  const before = w.host.snapshot();
  const { t, events } = tunnel(w, { retry: 2 });
  await up(w, t);
  for (let i = 0; i < 8 && t.status().state !== 'down'; i++) {
    await w.time.advance(2000);
    w.gw.send(w.gw.resp.request('delete-ike'));
    await w.time.advance(10000);
  }
  assert.equal(t.status().state, 'down', 'the tunnel gave up');
  assert.equal(count(events, 'reconnecting'), 2, 'exactly --retry reconnects');
  assert.equal(w.gw.ikeSaInits, 3);
  assert.equal((await t.closed)?.code, 'ERR_IKE_DELETED');
  assert.equal(w.host.snapshot(), before);
});

test('a tunnel that stayed up for the stable period gets its --retry budget back', async () => {
  const w = world();
  const { t, events } = tunnel(w, { retry: 1, stableMs: 60000 });
  await up(w, t);
  for (let i = 0; i < 3; i++) {
    await w.time.advance(61000);
    w.gw.send(w.gw.resp.request('delete-ike'));
    await w.time.advance(5000);
    assert.equal(t.status().state, 'up', `reconnected after delete ${i + 1}`);
  }
  const attempts = events.flatMap((e) => (e.type === 'reconnecting' ? [e.attempt] : []));
  assert.deepEqual(attempts, [1, 1, 1]);
  await shutdown(w, t);
});

test('issue 11 finding 4: a gateway that rekeys the CHILD_SA 8 times without deleting never crashes the driver', async () => {
  const w = world();
  const { t, events } = tunnel(w);
  await up(w, t);
  for (let i = 0; i < 8; i++) {
    w.gw.send(w.gw.resp.rekeyChild());
    await w.time.advance(100);
  }
  await w.time.advance(10000);
  // The IKE layer keeps at most LIMITS.childSas CHILD_SAs (src/ike/limits.ts): the oldest surplus
  // SA is deleted with our DELETE, so the data path never sees a ninth inbound SA.
  const st = t.status();
  assert.equal(st.state, 'up');
  assert.equal(st.saInstallErrors, 0);
  assert.ok(
    events.some(
      (e) => e.type === 'warning' && /rekeyed CHILD_SAs without deleting/.test(e.message),
    ),
    'a warning names what the gateway did',
  );
  const pkt = ipv4(VIRTUAL_IP, '203.0.113.10', 40, 1);
  w.tuns[0]!.inject([pkt]);
  await w.time.advance(10);
  assert.deepEqual(w.gw.espIn.at(-1), pkt, 'traffic still flows');
  await shutdown(w, t);
});

test('ESP replays and a flood of forged ESP datagrams are counted drops; the tunnel keeps working', async () => {
  const w = world();
  const { t } = tunnel(w);
  await up(w, t);
  const tun = w.tuns[0]!;
  // Capture one genuine ESP datagram of the gateway on its way to us.
  const sent: Uint8Array[] = [];
  const toClient = w.net.toClient.bind(w.net);
  w.net.toClient = (data, fromPort, esp) => {
    if (esp) sent.push(data.slice());
    toClient(data, fromPort, esp);
  };
  const first = ipv4('203.0.113.10', VIRTUAL_IP, 64, 1);
  w.gw.sendEsp(first);
  await w.time.advance(10);
  assert.deepEqual(tun.written, [first]);
  const genuine = sent[0]!;
  // 100 replays of it, then 3,000 forged datagrams: its SPI with random bytes (fails the ICV),
  // truncated ones, and unknown SPIs.
  for (let i = 0; i < 100; i++) toClient(genuine, 4500, true);
  const rnd = new SeededRandom(7);
  for (let i = 0; i < 3000; i++) {
    const kind = i % 3;
    const len = kind === 1 ? 1 + (i % 7) : 60 + (i % 1300);
    const d = rnd.bytes(len);
    if (kind === 0) d.set(genuine.subarray(0, 4), 0);
    toClient(d, 4500, true);
  }
  await w.time.advance(10);
  const esp = t.status().esp;
  assert.deepEqual(tun.written, [first], 'nothing forged or replayed reached the TUN device');
  assert.equal(esp['replay'], 100, 'every replay counted');
  assert.ok((esp['auth'] ?? 0) >= 900, `forgeries counted as ICV failures (${esp['auth']})`);
  assert.equal(t.status().state, 'up');
  // The window still accepts the next genuine packet.
  const next = ipv4('203.0.113.10', VIRTUAL_IP, 64, 2);
  w.gw.sendEsp(next);
  await w.time.advance(10);
  assert.deepEqual(tun.written, [first, next]);
  await shutdown(w, t);
});

// Suspend/resume (issue 14 item 5): the process sleeps past DPD and the gateway's lifetimes.

test('issue 14: after a sleep the gateway forgot, the first late timer triggers one short check and an immediate reconnect', async () => {
  const w = world();
  const { t, events } = tunnel(w, { retry: 'forever' });
  await up(w, t);
  await w.time.advance(3000);
  w.gw.forget(); // its DPD and lifetimes ran out while we slept
  const ikeBefore = w.gw.ikeIn;
  w.time.sleep(10 * 60 * 1000);
  const wokeAt = w.time.now;
  let upAt = 0;
  t.on((e) => {
    if (e.type === 'up') upAt = w.time.now;
  });
  await w.time.advance(10000);
  const wake = events.find((e) => e.type === 'wake');
  assert.ok(wake && wake.type === 'wake' && wake.sleptMs >= 10 * 60 * 1000 - 1000, 'wake seen');
  assert.equal(count(events, 'wake'), 1, 'one wake per sleep, however many timers were late');
  const r = events.find((e) => e.type === 'reconnecting');
  assert.ok(r && r.type === 'reconnecting' && r.inMs === 0, 'reconnected at once after the check');
  assert.ok(upAt > 0 && upAt - wokeAt <= 5000, `up again ${upAt - wokeAt} ms after waking`);
  assert.equal(t.status().state, 'up');
  // The check (one request + its retransmissions within 3 s), then IKE_SA_INIT and IKE_AUTH.
  const sent = w.gw.ikeIn - ikeBefore;
  assert.ok(sent <= 5, `${sent} IKE datagrams from waking to up again`);
  const pkt = ipv4(VIRTUAL_IP, '203.0.113.10', 40, 9);
  w.tuns[0]!.inject([pkt]);
  await w.time.advance(10);
  assert.deepEqual(w.gw.espIn.at(-1), pkt, 'traffic flows on the new CHILD_SA');
  await shutdown(w, t);
});

test('issue 14: a request in flight when the process was stopped is resent once on wake, not in a burst', async () => {
  const w = world();
  const { t, events } = tunnel(w, { retry: 'forever', dpdMs: 5000 });
  await up(w, t);
  w.gw.silent = true;
  await w.time.advance(5500); // the DPD request is out, unanswered
  assert.ok(t.status().ike.dpdSent >= 1);
  w.gw.silent = false;
  w.gw.forget();
  const before = w.gw.ikeIn;
  w.time.sleep(5 * 60 * 1000);
  await w.time.advance(100);
  assert.equal(count(events, 'wake'), 1);
  assert.equal(w.gw.ikeIn - before, 1, 'one retransmission on wake');
  let atUp = 0;
  t.on((e) => {
    if (e.type === 'up') atUp = w.gw.ikeIn;
  });
  await w.time.advance(9900);
  assert.equal(count(events, 'up'), 2, 'reconnected within 10 s of waking');
  // Resend + one retransmission within the 3 s budget, our DELETE, IKE_SA_INIT, IKE_AUTH.
  assert.equal(atUp - before, 5, `${atUp - before} IKE datagrams from waking to up again`);
  await shutdown(w, t);
});

test('issue 14: after a sleep the gateway still knows: one answered check, no reconnect', async () => {
  const w = world();
  const { t, events } = tunnel(w, { retry: 'forever' });
  await up(w, t);
  await w.time.advance(2000);
  const before = w.gw.ikeIn;
  w.time.sleep(45000);
  await w.time.advance(10000);
  assert.equal(count(events, 'wake'), 1);
  assert.equal(count(events, 'reconnecting'), 0);
  assert.equal(t.status().state, 'up');
  assert.equal(t.status().ike.retransmits, 0, 'answered at once');
  assert.ok(w.gw.ikeIn - before >= 1, 'the gateway was asked');
  await shutdown(w, t);
});

test('split DNS (RFC 8598 §4): a split tunnel asks for per-domain DNS, a default-route tunnel for every name; the summary says how', async () => {
  const split = world();
  const a = tunnel(split);
  const s1 = await up(split, a.t);
  assert.equal(split.host.dnsDefaultRoute, false);
  assert.equal(s1.dnsMethod, 'resolv.conf');
  assert.match(s1.dnsNote ?? '', /203\.0\.113\.53/);
  await shutdown(split, a.t);

  const full = world({ subnet: '0.0.0.0/0' });
  const b = tunnel(full);
  const s2 = await up(full, b.t);
  assert.ok(s2.routes.includes('0.0.0.0/0'), s2.routes.join(' '));
  assert.equal(full.host.dnsDefaultRoute, true);
  await shutdown(full, b.t);
});

test('issue 14: a network gone for minutes: once a route to the gateway is back, the tunnel reconnects within seconds, not after its 30 s backoff', async () => {
  const w = world();
  let route = true;
  w.io.localAddressFor = () =>
    route
      ? Promise.resolve('192.0.2.2')
      : Promise.reject(new VpnError('ERR_RESOLVE', 'no route to gateway 198.51.100.10'));
  const { t, events } = tunnel(w, { retry: 'forever', dpdMs: 5000 });
  await up(w, t);
  route = false;
  w.gw.silent = true;
  // Five minutes without a network: DPD fails, attempts find no route, the backoff reaches 30 s.
  await w.time.advance(5 * 60 * 1000);
  const last = events.filter((e) => e.type === 'reconnecting').at(-1);
  assert.ok(last && last.type === 'reconnecting' && last.inMs === 30000, 'backing off 30 s');
  // Just after an attempt: the next one would be about 30 s away.
  let lastAttemptAt = 0;
  t.on((e) => {
    if (e.type === 'reconnecting') lastAttemptAt = w.time.now;
  });
  while (lastAttemptAt === 0) await w.time.advance(500);
  await w.time.advance(1000);
  route = true;
  w.gw.silent = false;
  const back = w.time.now;
  let upAt = 0;
  t.on((e) => {
    if (e.type === 'up') upAt = w.time.now;
  });
  await w.time.advance(10000);
  assert.ok(upAt > 0, 'up again');
  assert.ok(upAt - back <= 3000, `up ${upAt - back} ms after the route came back`);
  await shutdown(w, t);
});
