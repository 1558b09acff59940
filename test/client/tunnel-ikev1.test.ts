/**
 * The tunnel driver with IKEv1 (issue 17), whole and in memory: the world of
 * test/support/tunnel-world.ts with its gateway answering IKEv1 (CORE's scripted responder,
 * test/ikev1/gateway.ts) and ESP through the Quick Mode keys. One driver path for both versions:
 * the data path, host configuration from Mode Config, DELETE and host restore; IKEv1 roaming by
 * reconnecting; `--ike-version auto` falling back to IKEv1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRandom } from '../../src/core/random.js';
import { parseIdentity } from '../../src/ike/identity.js';
import { EncrId } from '../../src/ike/constants.js';
import { InboundSa, OutboundSa } from '../../src/esp/sa.js';
import { Tunnel } from '../../src/client/tunnel.js';
import type { TunnelEvent, TunnelOptions, TunnelSummary } from '../../src/client/tunnel.js';
import { ikev1Base, refusesIkev2, splitIncludeSelectors } from '../../src/client/ikev1.js';
import { DEFAULT_RETRANSMIT } from '../../src/ike/session.js';
import { anyTs, formatTs, tsFromCidr } from '../../src/ike/sa/traffic-selectors.js';
import { CLIENT_IP, GW_IP, PSK, ipv4, world } from '../support/tunnel-world.js';
import type { World } from '../support/tunnel-world.js';
import { V1Gateway } from '../ikev1/gateway.js';
import type { GatewayOptions } from '../ikev1/gateway.js';

const VIP = '203.0.113.201';

/** The world's gateway speaking IKEv1 (a new responder per phase 1), ESP with its SAs. */
interface V1World extends World {
  v1: {
    gws: V1Gateway[];
    espIn: Uint8Array[];
    v2Dropped: number;
    answerV2?: (d: Uint8Array) => Uint8Array | undefined;
  };
}

function v1World(over: Partial<GatewayOptions> = {}): V1World {
  const w = world() as V1World;
  const state: V1World['v1'] = { gws: [], espIn: [], v2Dropped: 0 };
  w.v1 = state;
  let seed = 300;
  const inSas = new Map<number, InboundSa>();
  w.gw.onIke = (data: Uint8Array, toPort: number): void => {
    w.gw.ikeIn++;
    if (w.gw.silent || data.length < 28) return;
    if (data[17]! >> 4 === 2) {
      // An IKEv2 message: this gateway does not speak it (silence, or what answerV2 says).
      state.v2Dropped++;
      const a = state.answerV2?.(data);
      if (a) w.net.toClient(a, toPort, false);
      return;
    }
    const newSa = data.subarray(8, 16).every((b) => b === 0);
    if (newSa || state.gws.length === 0)
      state.gws.push(
        new V1Gateway({
          random: new SeededRandom(seed++),
          id: parseIdentity('@gw.test'),
          psk: PSK,
          address: { address: GW_IP, port: 4500 },
          clientSeen: { address: '198.51.100.1', port: 4500 },
          vip: VIP,
          ...over,
        }),
      );
    const gw =
      state.gws.find((g) => g.cookies().every((b, i) => b === data[i])) ?? state.gws.at(-1)!;
    let answers: Uint8Array[] = [];
    try {
      answers = gw.receive(data);
    } catch (e) {
      w.gw.errors.push(e as Error);
    }
    for (const a of answers) w.net.toClient(a, toPort, false);
  };
  w.gw.onEsp = (data: Uint8Array): void => {
    if (w.gw.silent || data.length < 8) return;
    const spi = new DataView(data.buffer, data.byteOffset, 4).getUint32(0);
    const child = state.gws.flatMap((g) => g.children).find((c) => c.spiIn === spi);
    if (!child) return;
    let sa = inSas.get(spi);
    if (!sa) {
      sa = new InboundSa({
        spi,
        encrId: EncrId.AES_GCM_16,
        keymat: child.keyIn,
      });
      inSas.set(spi, sa);
    }
    const r = sa.open(data);
    if (!('drop' in r)) state.espIn.push(r.payload);
  };
  return w;
}

function sendEspToClient(w: V1World, inner: Uint8Array): void {
  const child = w.v1.gws.at(-1)!.children.at(-1)!;
  const sa = new OutboundSa({
    spi: child.spiOut,
    encrId: EncrId.AES_GCM_16,
    keymat: child.keyOut,
  });
  const esp = sa.seal(inner, 4);
  if (esp instanceof Uint8Array) w.net.toClient(esp, 4500, true);
}

function tunnel(w: World, over: Partial<TunnelOptions> = {}): { t: Tunnel; events: TunnelEvent[] } {
  const t = new Tunnel({
    gateway: GW_IP,
    localId: 'client@test',
    remoteId: '@gw.test',
    credentials: { auth: { kind: 'psk', psk: PSK } },
    random: new SeededRandom(1),
    io: w.io,
    ikeVersion: 1,
    remoteNetworks: ['203.0.113.0/25'],
    retransmit: { timeoutMs: 1000, base: 1.5, tries: 5, maxTimeoutMs: 3000 },
    ...over,
  });
  const events: TunnelEvent[] = [];
  t.on((e) => events.push(e));
  return { t, events };
}

async function up(w: World, t: Tunnel, ms = 0): Promise<TunnelSummary> {
  let done = false;
  const p = t.connect().finally(() => (done = true));
  await w.time.advance(ms);
  assert.ok(done, 'connect() settled in memory');
  return p;
}

async function shutdown(w: World, t: Tunnel): Promise<void> {
  const c = t.close();
  await w.time.advance(10000);
  await c;
}

test('IKEv1: up with Mode Config, packets both ways through ESP, DELETE on close, host restored exactly', async () => {
  const w = v1World();
  const before = w.host.snapshot();
  const { t, events } = tunnel(w);
  const s = await up(w, t);
  assert.equal(s.ikeVersion, 1);
  assert.equal(s.virtualIp4, VIP);
  assert.deepEqual(s.routes, ['203.0.113.0/25']);
  assert.ok(w.host.addresses.has(`vpn0 ${VIP}/32`));
  assert.equal(w.v1.v2Dropped, 0, 'no IKEv2 sent with --ike-version 1');
  assert.equal(t.status().summary?.ikeVersion, 1);
  // The stages by their IKEv1 names (what the spinner and --json show).
  const stages = events.flatMap((e) => (e.type === 'stage' ? [e.stage] : []));
  assert.deepEqual(stages, ['resolving', 'main-mode', 'quick-mode', 'configuring']);
  // TUN -> ESP -> gateway
  w.tuns[0]!.inject([ipv4(VIP, '203.0.113.10', 40, 1)]);
  await w.time.advance(0);
  assert.equal(w.v1.espIn.length, 1, 'the gateway opened our ESP packet');
  // gateway -> ESP -> TUN
  sendEspToClient(w, ipv4('203.0.113.10', VIP, 40, 2));
  await w.time.advance(0);
  assert.equal(w.tuns[0]!.written.length, 1, 'the gateway packet reached the TUN device');
  await shutdown(w, t);
  assert.ok(w.v1.gws[0]!.deletes.length >= 1, 'the gateway got our DELETE');
  assert.equal(w.host.snapshot(), before, 'host restored exactly');
  assert.equal(events.at(-1)?.type, 'down');
});

test('IKEv1 has no MOBIKE: a new source address reconnects with a new phase 1, the host stays configured', async () => {
  const w = v1World();
  let local = CLIENT_IP;
  w.io.localAddressFor = () => Promise.resolve(local);
  const { t, events } = tunnel(w, { pathCheckMs: 1000 });
  const s = await up(w, t);
  const configured = w.host.snapshot();
  local = '192.0.2.77';
  await w.time.advance(3000);
  const r = events.find((e) => e.type === 'reconnecting');
  assert.ok(
    r && r.type === 'reconnecting' && /IKEv1 cannot move its SAs/.test(r.reason),
    'reconnect',
  );
  assert.equal(w.v1.gws.length, 2, 'a second phase 1');
  assert.equal(t.status().state, 'up');
  assert.equal(t.status().summary?.virtualIp4, s.virtualIp4);
  assert.equal(w.host.snapshot(), configured, 'same address, routes and DNS');
  await shutdown(w, t);
});

test('--ike-version auto: no answer to IKEv2 -> IKEv1 within the IKEv2 share of the budget', async () => {
  const w = v1World();
  const { t, events } = tunnel(w, {
    ikeVersion: 'auto',
    retransmit: { timeoutMs: 1000, base: 1.5, tries: 12, maxTimeoutMs: 3000 },
  });
  const s = await up(w, t, 8000);
  assert.equal(s.ikeVersion, 1);
  assert.ok(w.v1.v2Dropped >= 2, 'IKEv2 was tried (and retransmitted) first');
  const warn = events.find((e) => e.type === 'warning');
  assert.ok(
    warn && warn.type === 'warning' && /no answer to IKEv2 .*trying IKEv1/.test(warn.message),
  );
  await shutdown(w, t);
});

test('--ike-version auto: INVALID_MAJOR_VERSION with our SPI -> IKEv1 at once; with another SPI it is ignored', async () => {
  for (const ours of [true, false]) {
    const w = v1World();
    w.v1.answerV2 = (req) => {
      const a = new Uint8Array(36);
      a.set(ours ? req.subarray(0, 8) : Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
      a[16] = 41; // Notify
      a[17] = 0x20;
      a[18] = 34;
      a[19] = 0x20; // response
      a[27] = 36;
      a[30] = 0;
      a[31] = 8;
      a[35] = 5; // INVALID_MAJOR_VERSION
      return a;
    };
    const { t } = tunnel(w, {
      ikeVersion: 'auto',
      retransmit: { timeoutMs: 1000, base: 1.5, tries: 12, maxTimeoutMs: 3000 },
    });
    let done = false;
    const p = t.connect().finally(() => (done = true));
    await w.time.advance(500);
    assert.equal(done, ours, ours ? 'up within 0.5 s' : 'still on IKEv2');
    if (!ours) await w.time.advance(8000);
    const s = await p;
    assert.equal(s.ikeVersion, 1);
    assert.equal(w.v1.v2Dropped, ours ? 1 : w.v1.v2Dropped);
    await shutdown(w, t);
  }
});

test('refusesIkev2 reads only its bounds: any bytes, no throw; only our SPI counts', () => {
  const spi = Uint8Array.of(9, 9, 9, 9, 9, 9, 9, 9);
  const r = new SeededRandom(7);
  for (let i = 0; i < 2000; i++) {
    const d = r.bytes(i % 60);
    if (i % 3 === 0 && d.length >= 8) d.set(spi);
    refusesIkev2(d, spi);
  }
  const v1 = new Uint8Array(28);
  v1.set(spi);
  v1[17] = 0x10;
  assert.match(refusesIkev2(v1, spi)!, /IKEv1/);
  assert.equal(refusesIkev2(v1, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)), undefined);
  assert.equal(refusesIkev2(v1, undefined), undefined);
  v1[17] = 0x20;
  assert.equal(refusesIkev2(v1, spi), undefined, 'an IKEv2 message that is no refusal');
});

test('Cisco Unity split include decides the routes when our Quick Mode asked for everything', () => {
  const fmt = (l: ReturnType<typeof splitIncludeSelectors>) => l?.map((t) => formatTs(t));
  assert.deepEqual(fmt(splitIncludeSelectors(['203.0.113.0/25', '10.1.0.0/16'], anyTs(false))), [
    formatTs(tsFromCidr('203.0.113.0/25')),
    formatTs(tsFromCidr('10.1.0.0/16')),
  ]);
  // Only what our selectors cover; nothing odd is routed.
  assert.deepEqual(
    fmt(
      splitIncludeSelectors(
        ['203.0.113.0/25', '10.1.0.0/16', 'junk', '2001:db8::/32'],
        [tsFromCidr('10.0.0.0/8')],
      ),
    ),
    [formatTs(tsFromCidr('10.1.0.0/16'))],
  );
  assert.equal(splitIncludeSelectors([], anyTs(false)), undefined);
  assert.equal(splitIncludeSelectors(['192.0.2.0/24'], [tsFromCidr('10.0.0.0/8')]), undefined);
});

test('the IKEv1 configuration from the options: --ikev1-legacy adds 3DES/MODP-1024 to the default offer, --pfs every ESP proposal; Aggressive Mode needs a PSK', () => {
  const opts: TunnelOptions = {
    gateway: GW_IP,
    credentials: { auth: { kind: 'psk', psk: PSK } },
    ikeVersion: 1,
  };
  const ids = { localId: parseIdentity('client@test') };
  const ts = { local: anyTs(false), remote: anyTs(false) };
  const plain = ikev1Base(opts, ids, ts, DEFAULT_RETRANSMIT);
  assert.ok(
    plain.phase1.every((p) => p.encr === 7 && p.group !== 2),
    'AES only, no MODP-1024',
  );
  assert.ok(plain.phase2.every((p) => p.pfsGroup === undefined));
  const legacy = ikev1Base(
    { ...opts, ikev1: { legacy: true, pfsGroup: 19 } },
    ids,
    ts,
    DEFAULT_RETRANSMIT,
  );
  assert.ok(
    legacy.phase1.some((p) => p.encr === 5 && p.group === 2),
    '3DES with MODP-1024 offered',
  );
  assert.equal(legacy.phase1[0]!.encr, 7, 'after the default offer');
  assert.ok(legacy.phase2.every((p) => p.pfsGroup === 19));
  assert.throws(
    () =>
      ikev1Base(
        {
          ...opts,
          credentials: { auth: { kind: 'eap', identity: 'a', methods: ['md5'] } },
          ikev1: { aggressive: true },
        },
        ids,
        ts,
        DEFAULT_RETRANSMIT,
      ),
    /Aggressive Mode works with a pre-shared key only/,
  );
});
