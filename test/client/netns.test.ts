/**
 * The pieces of `vpn exec`'s namespace that run without root: the capability check, the `ip -n`
 * runner and the split host configurator (questions in the caller's namespace, changes inside).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ExecNamespace,
  execNamespaceName,
  hasSysAdmin,
  namespaceHostNetwork,
  namespaceRunner,
} from '../../src/client/netns.js';
import { NetConfigurator } from '../../src/tun/netcfg.js';
import type { CommandRunner } from '../../src/tun/netcfg.js';

test('hasSysAdmin reads bit 21 of CapEff', () => {
  assert.equal(hasSysAdmin('Name:\tx\nCapEff:\t000001ffffffffff\n'), true);
  assert.equal(hasSysAdmin('CapEff:\t0000000000200000\n'), true);
  assert.equal(hasSysAdmin('CapEff:\t0000000000000000\n'), false);
  assert.equal(hasSysAdmin('CapEff:\t00000000001fffff\n'), false, 'bit 20 and below only');
  assert.equal(hasSysAdmin('no capability line'), false);
});

test('namespace names: vpnx-<pid>; anything else that could escape a path is refused', () => {
  assert.equal(execNamespaceName(42), 'vpnx-42');
  assert.throws(() => new ExecNamespace('../etc'), /invalid namespace name/);
  assert.throws(() => namespaceRunner('a b'), /invalid namespace name/);
  assert.equal(new ExecNamespace('vpnx-42').resolvConf, '/etc/netns/vpnx-42/resolv.conf');
});

test('namespaceRunner runs ip with -n NS (batch input kept) and nothing else', async () => {
  const calls: [string, string[], string | undefined][] = [];
  const rec: CommandRunner = (cmd, args, input) => {
    calls.push([cmd, args, input]);
    return Promise.resolve({ stdout: '' });
  };
  const run = namespaceRunner('vpnx-7', rec);
  await run('ip', ['-4', '-batch', '-'], 'route add 10.0.0.0/8 dev vpn0\n');
  assert.deepEqual(calls, [
    ['ip', ['-n', 'vpnx-7', '-4', '-batch', '-'], 'route add 10.0.0.0/8 dev vpn0\n'],
  ]);
  await assert.rejects(run('resolvectl', ['status']), /not run inside the namespace/);
  assert.equal(calls.length, 1);
});

test('the split configurator: route/MTU questions outside, every change inside, no host route to the gateway', async () => {
  const outer: string[][] = [];
  const inner: string[][] = [];
  const answer: CommandRunner = (_cmd, args) => {
    if (args.includes('get'))
      return Promise.resolve({ stdout: '[{"dev":"eth0","gateway":"192.0.2.1"}]' });
    if (args.includes('link') && args.includes('show'))
      return Promise.resolve({ stdout: '[{"mtu":1400,"flags":["UP"]}]' });
    return Promise.resolve({ stdout: '[]' });
  };
  const out = new NetConfigurator({
    run: (c, a, i) => (outer.push(a), answer(c, a, i)),
  });
  const ins = new NetConfigurator({
    run: namespaceRunner('vpnx-9', (c, a, i) => (inner.push(a), answer(c, a, i))),
  });
  const net = namespaceHostNetwork(out, ins);
  assert.deepEqual(await net.getRouteTo('198.51.100.10'), { dev: 'eth0', via: '192.0.2.1' });
  assert.equal(await net.linkMtu('eth0'), 1400);
  await net.addHostRouteVia('198.51.100.10');
  assert.equal(net.pinnedPath('198.51.100.10'), undefined);
  assert.equal(await net.repinHostRoute('198.51.100.10', { dev: 'eth1' }), false);
  await net.addAddress('vpn0', '203.0.113.130/32');
  await net.addRoutes(['0.0.0.0/1', '128.0.0.0/1'], { dev: 'vpn0' });
  // Nothing changed outside: only the two questions ran there.
  assert.deepEqual(outer, [
    ['-j', 'route', 'get', '198.51.100.10'],
    ['-j', 'link', 'show', 'dev', 'eth0'],
  ]);
  assert.ok(inner.every((a) => a[0] === '-n' && a[1] === 'vpnx-9'));
  assert.deepEqual(inner[0], ['-n', 'vpnx-9', 'addr', 'add', '203.0.113.130/32', 'dev', 'vpn0']);
  assert.equal(inner.length, 2);
  // restore undoes inside the namespace.
  assert.deepEqual(await net.restore(), []);
  assert.ok(inner.slice(2).length > 0 && inner.every((a) => a[1] === 'vpnx-9'));
  assert.equal(outer.length, 2);
});
