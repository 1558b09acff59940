/**
 * RFC 5685 redirects and RFC 8784 PPK through the tunnel driver (src/client/tunnel.ts), in memory
 * (test/support/tunnel-world.ts): one fake gateway answers for every address, and the tests read
 * where the driver sent its IKE datagrams.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRandom } from '../../src/core/random.js';
import { Tunnel } from '../../src/client/tunnel.js';
import type { TunnelEvent, TunnelOptions } from '../../src/client/tunnel.js';
import { encodeGwAddress, encodeGwIdentity } from '../../src/ike/redirect.js';
import { NotifyType } from '../../src/ike/constants.js';
import { GW_IP, PSK, VIRTUAL_IP, ipv4, world } from '../support/tunnel-world.js';
import type { World } from '../support/tunnel-world.js';

const GW2_IP = '198.51.100.20';

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

async function shutdown(w: World, t: Tunnel): Promise<void> {
  const c = t.close();
  await w.time.advance(10000);
  await c;
}

test('an established tunnel redirected by INFORMATIONAL moves to the new gateway, keeping TUN, routes and DNS', async () => {
  // Full tunnel: the gateway narrows TSr to 0.0.0.0/0, so both gateways need a host route.
  const w = world({ subnet: '0.0.0.0/0' });
  const before = w.host.snapshot();
  const { t, events } = tunnel(w);
  const p = t.connect();
  await w.time.advance(0);
  const s1 = await p;
  assert.equal(s1.gatewayAddress, GW_IP);
  assert.ok(w.host.routes.has(`${GW_IP} via 192.0.2.1 dev eth0`));
  const changesBefore = w.host.changes.length;

  w.gw.send(w.gw.resp.redirectRequest(encodeGwAddress(GW2_IP)));
  await w.time.advance(100);
  const st = t.status();
  assert.equal(st.state, 'up');
  assert.equal(st.summary?.gatewayAddress, GW2_IP, 'the summary names the new gateway');
  assert.equal(st.summary?.redirectedFrom, GW_IP);
  assert.equal(w.tuns.length, 1, 'the TUN device stayed');
  assert.ok(
    w.gw.previous.some((r) => r.deleted),
    'the old IKE SA was deleted',
  );
  assert.deepEqual(w.gw.resp.redirectedFrom, encodeGwAddress(GW_IP), 'REDIRECTED_FROM sent');
  assert.equal(w.net.ikeTo.at(-1), GW2_IP);
  // Nothing was undone; only the new gateway's host route was added (outside the tunnel).
  assert.ok(w.host.changes.slice(0, changesBefore).every((c) => !c.undone));
  assert.deepEqual(
    w.host.changes.slice(changesBefore).map((c) => c.what),
    [`route ${GW2_IP} via 192.0.2.1 dev eth0`],
  );
  const r = events.find((e) => e.type === 'redirected');
  assert.deepEqual(r, { type: 'redirected', from: GW_IP, to: GW2_IP, during: 'INFORMATIONAL' });
  // Traffic flows through the new IKE SA's CHILD_SA.
  w.tuns[0]!.inject([ipv4(VIRTUAL_IP, '203.0.113.10', 40, 9)]);
  await w.time.advance(10);
  assert.equal(w.gw.espIn.length, 1);
  // A later reconnect (the new gateway deletes the SA) stays with the new gateway and no longer
  // names the old one (REDIRECTED_FROM belongs to the redirect only).
  w.gw.send(w.gw.resp.request('delete-ike'));
  await w.time.advance(5000);
  assert.equal(t.status().state, 'up');
  assert.equal(w.net.ikeTo.at(-1), GW2_IP);
  assert.equal(w.gw.resp.redirectedFrom, undefined);
  assert.ok(w.gw.resp.initNotifyTypes.includes(NotifyType.REDIRECT_SUPPORTED));
  await shutdown(w, t);
  assert.equal(w.host.snapshot(), before);
});

test('a redirect in IKE_SA_INIT to an FQDN: resolved at the edge, then connected there', async () => {
  const w = world({
    redirect: { init: encodeGwIdentity({ kind: 'fqdn', value: 'gw2.example.net' }) },
  });
  const resolved: string[] = [];
  w.io.resolve = (h) => {
    resolved.push(h);
    if (h !== 'gw2.example.net') return Promise.resolve(h);
    delete w.gw.resp.opts.redirect; // the new gateway accepts us
    return Promise.resolve(GW2_IP);
  };
  const { t, events } = tunnel(w);
  const p = t.connect();
  await w.time.advance(0);
  const s = await p;
  assert.deepEqual(resolved, [GW_IP, 'gw2.example.net']);
  assert.equal(s.gatewayAddress, GW2_IP);
  assert.equal(s.redirectedFrom, GW_IP);
  assert.deepEqual(w.net.ikeTo.slice(0, 2), [GW_IP, GW2_IP]);
  assert.deepEqual(
    events.find((e) => e.type === 'redirected'),
    { type: 'redirected', from: GW_IP, to: GW2_IP, name: 'gw2.example.net', during: 'IKE_SA_INIT' },
  );
  await shutdown(w, t);
});

test('a redirect loop is cut after the cap with a clear error, and the host is restored', async () => {
  // Every IKE_SA_INIT is answered with REDIRECT to the same place.
  const w = world({ redirect: { init: encodeGwAddress(GW2_IP) } });
  const before = w.host.snapshot();
  const { t } = tunnel(w, { maxRedirects: 5 });
  const outcome = t.connect().then(
    () => undefined,
    (e: unknown) => e as Error & { code?: string },
  );
  await w.time.advance(0);
  const e = await outcome;
  assert.equal(e?.code, 'ERR_IKE_PROTOCOL');
  assert.match(e.message, /redirect loop: the gateways redirected us 6 times within 300 s/);
  assert.equal(w.gw.ikeSaInits, 6, 'the first gateway and five redirects, then no more');
  assert.equal(w.host.snapshot(), before);
});

test('--no-redirect: an established tunnel ignores the gateway REDIRECT and stays', async () => {
  const w = world();
  const { t, events } = tunnel(w, { redirect: false });
  const p = t.connect();
  await w.time.advance(0);
  await p;
  w.gw.send(w.gw.resp.redirectRequest(encodeGwAddress(GW2_IP)));
  await w.time.advance(100);
  assert.equal(t.status().state, 'up');
  assert.equal(t.status().summary?.gatewayAddress, GW_IP);
  assert.ok(events.some((e) => e.type === 'warning' && /--no-redirect/.test(e.message)));
  assert.ok(!w.net.ikeTo.includes(GW2_IP));
  await shutdown(w, t);
});

test('PPK through the driver: the summary says the PPK is in use', async () => {
  const id = new TextEncoder().encode('ppk-id');
  const key = new TextEncoder().encode('0123456789abcdef0123456789abcdef');
  const w = world({ ppk: { id, key } });
  const { t } = tunnel(w, { ppk: { id, key, required: true } });
  const p = t.connect();
  await w.time.advance(0);
  const s = await p;
  assert.equal(s.ike.ppk, true);
  assert.equal(w.gw.resp.ppkUsed, true);
  await shutdown(w, t);
});

test('a redirect to an address of the other IP family ends the tunnel with a clear error', async () => {
  const w = world();
  const before = w.host.snapshot();
  const { t } = tunnel(w);
  const p = t.connect();
  await w.time.advance(0);
  await p;
  w.gw.send(w.gw.resp.redirectRequest(encodeGwAddress('2001:db8::20')));
  await w.time.advance(100);
  const err = await t.closed;
  assert.equal(err?.code, 'ERR_IKE_PROTOCOL');
  assert.match(
    err.message,
    /redirected us to 2001:db8::20 .*an IPv6 address; this tunnel's socket is IPv4/,
  );
  assert.equal(w.host.snapshot(), before);
});
