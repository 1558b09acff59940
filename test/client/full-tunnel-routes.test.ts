/**
 * Full tunnel (0.0.0.0/0): the connections opened before the tunnel keep their path through
 * two policy rules for the uplink's address and a table with the original default route
 * (NetConfigurator.addBypass), journaled, checked on replay and undone; not with the kill switch.
 * The end-to-end check against strongSwan is test/interop/full-tunnel.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installRoutes } from '../../src/client/host.js';
import type { HostNetwork } from '../../src/client/io.js';
import { NetConfigurator, validateJournal, describeEntry } from '../../src/tun/netcfg.js';
import type { CommandRunner, RouteInfo, RouteOptions } from '../../src/tun/netcfg.js';

function recorder(): { run: CommandRunner; calls: string[] } {
  const calls: string[] = [];
  const run: CommandRunner = (cmd, args) => {
    calls.push([cmd, ...args].join(' '));
    return Promise.resolve({ stdout: '' });
  };
  return { run, calls };
}

test('addBypass: table route and two rules, journaled, valid on replay, undone in reverse', async () => {
  const base = mkdtempSync(join(tmpdir(), 'vpn-bypass-'));
  try {
    mkdirSync(join(base, 'run'), { mode: 0o700 });
    const { run, calls } = recorder();
    const cfg = new NetConfigurator({ run, journalPath: join(base, 'run', 't.journal') });
    await cfg.addBypass('192.0.2.2', { dev: 'eth0', via: '192.0.2.1' });
    assert.deepEqual(calls, [
      'ip route add 0.0.0.0/0 via 192.0.2.1 dev eth0 table 45000',
      'ip rule add from 192.0.2.2 lookup main suppress_prefixlength 1 priority 32700',
      'ip rule add from 192.0.2.2 lookup 45000 priority 32701',
    ]);
    const j = cfg.journal();
    validateJournal(j);
    assert.deepEqual(j.map(describeEntry), [
      'route 0.0.0.0/0 via 192.0.2.1 dev eth0 table 45000',
      'rule from 192.0.2.2 lookup main suppress_prefixlength 1',
      'rule from 192.0.2.2 lookup 45000',
    ]);
    calls.length = 0;
    assert.deepEqual(await cfg.restore(), []);
    assert.deepEqual(calls, [
      'ip rule del from 192.0.2.2 lookup 45000 priority 32701',
      'ip rule del from 192.0.2.2 lookup main suppress_prefixlength 1 priority 32700',
      'ip -4 -force -batch -',
    ]);
    await assert.rejects(cfg.addBypass('192.0.2.2 lookup 1', { dev: 'eth0' }), /invalid source/);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('validateJournal: only our two bypass rules and the default route in our table', () => {
  validateJournal([
    { kind: 'route', dest: '::/0', dev: 'eth0', via: 'fe80::1', table: '45000' },
    { kind: 'rule', from: '2001:db8::2', table: 'main', priority: 32700, suppress: 1 },
    { kind: 'rule', from: '2001:db8::2', table: '45000', priority: 32701 },
  ]);
  const bad: [unknown, RegExp][] = [
    [{ kind: 'rule', from: '192.0.2.2', table: 'main', priority: 32700 }, /not a full-tunnel/],
    [{ kind: 'rule', from: '192.0.2.2', table: '254', priority: 32701 }, /not a full-tunnel/],
    [{ kind: 'rule', from: '192.0.2.2', table: '45000', priority: 0 }, /not a full-tunnel/],
    [{ kind: 'rule', from: 'all', table: '45000', priority: 32701 }, /invalid source/],
    [
      { kind: 'rule', from: '192.0.2.2', table: '45000', priority: 32701, fwmark: 1 },
      /unexpected field "fwmark"/,
    ],
    [
      { kind: 'route', dest: '0.0.0.0/0', dev: 'eth0', via: '192.0.2.1', table: '254' },
      /not a host route/,
    ],
    [{ kind: 'route', dest: '10.0.0.0/8', dev: 'eth0', table: '45000' }, /not a host route/],
  ];
  for (const [entry, why] of bad) {
    assert.throws(() => validateJournal([entry]), why, JSON.stringify(entry));
  }
});

/** A host network that records what installRoutes asks of it. */
function fakeHost(defaults: { v4?: RouteInfo; v6?: RouteInfo }): {
  net: HostNetwork;
  log: string[];
} {
  const log: string[] = [];
  const net = {
    defaultPath: (v6: boolean) => Promise.resolve(v6 ? defaults.v6 : defaults.v4),
    getRouteTo: () => Promise.resolve({ dev: 'eth0', via: '192.0.2.1', src: '192.0.2.2' }),
    addHostRouteVia: (dest: string) => {
      log.push(`host ${dest}`);
      return Promise.resolve();
    },
    addRoutes: (dests: string[], o: RouteOptions) => {
      log.push(`routes ${dests.join(',')} dev ${o.dev}`);
      return Promise.resolve();
    },
    addBypass: (src: string, p: RouteInfo) => {
      log.push(`bypass ${src} via ${p.via ?? '-'} dev ${p.dev}`);
      return Promise.resolve();
    },
  } as unknown as HostNetwork;
  return { net, log };
}

test('installRoutes: a full tunnel keeps existing connections unless the kill switch is on', async () => {
  const v4 = { dev: 'eth0', via: '192.0.2.1' };
  const full = fakeHost({ v4 });
  await installRoutes(full.net, ['0.0.0.0/0'], 'vpn0', '10.9.0.2', '198.51.100.10', true);
  assert.deepEqual(full.log, [
    'host 198.51.100.10',
    'bypass 192.0.2.2 via 192.0.2.1 dev eth0',
    'routes 0.0.0.0/1,128.0.0.0/1 dev vpn0',
  ]);
  // The default route's own source address wins; IPv6 too when it has a default route.
  const both = fakeHost({
    v4: { ...v4, src: '192.0.2.7' },
    v6: { dev: 'eth0', src: '2001:db8::7' },
  });
  await installRoutes(both.net, ['0.0.0.0/0', '::/0'], 'vpn0', undefined, '198.51.100.10', true);
  assert.ok(both.log.includes('bypass 192.0.2.7 via 192.0.2.1 dev eth0'));
  assert.ok(both.log.includes('bypass 2001:db8::7 via - dev eth0'));
  // Kill switch (keepExisting false), split tunnel, no default route: nothing bypasses.
  for (const [cidrs, keep, d] of [
    [['0.0.0.0/0'], false, { v4 }],
    [['203.0.113.0/25'], true, { v4 }],
    [['0.0.0.0/0'], true, {}],
  ] as const) {
    const h = fakeHost(d);
    await installRoutes(h.net, [...cidrs], 'vpn0', undefined, '198.51.100.10', keep);
    assert.ok(!h.log.some((l) => l.startsWith('bypass')), JSON.stringify(h.log));
  }
});

test('installRoutes: --exclude networks keep the path they had, added before the tunnel routes', async () => {
  const log: string[] = [];
  const paths: Record<string, RouteInfo> = {
    '203.0.113.7': { dev: 'eth0', via: '192.0.2.1' },
    '198.18.0.0': { dev: 'eth1' },
    '10.9.9.0': { dev: 'vpn0' }, // already inside the tunnel (a reconnect): left alone
  };
  const net = {
    defaultPath: () => Promise.resolve(undefined),
    getRouteTo: (a: string) => Promise.resolve(paths[a] ?? { dev: 'eth0' }),
    addHostRouteVia: (dest: string) => (log.push(`host ${dest}`), Promise.resolve()),
    addRoute: (dest: string, o: RouteOptions) => {
      if (dest === '198.18.0.0/15' && log.includes('route 198.18.0.0/15 dev eth1'))
        return Promise.reject(new Error('RTNETLINK answers: File exists'));
      log.push(`route ${dest}${o.via ? ` via ${o.via}` : ''} dev ${o.dev}`);
      return Promise.resolve();
    },
    addRoutes: (dests: string[], o: RouteOptions) => {
      log.push(`routes ${dests.join(',')} dev ${o.dev}`);
      return Promise.resolve();
    },
  } as unknown as HostNetwork;
  const exclude = ['203.0.113.7/32', '198.18.0.0/15', '10.9.9.0/24'];
  await installRoutes(net, ['0.0.0.0/0'], 'vpn0', undefined, '198.51.100.10', false, exclude);
  assert.deepEqual(log, [
    'route 203.0.113.7/32 via 192.0.2.1 dev eth0',
    'route 198.18.0.0/15 dev eth1',
    'host 198.51.100.10',
    'routes 0.0.0.0/1,128.0.0.0/1 dev vpn0',
  ]);
  // A second install (the route is still there) is not an error.
  await installRoutes(net, ['0.0.0.0/0'], 'vpn0', undefined, '198.51.100.10', false, exclude);
});
