/**
 * Host configuration over rtnetlink (issue 15 item 3: no `ip` processes on the connect path).
 * A NetConfigurator without a runner of its own changes links, addresses, routes and rules with
 * the TUN addon's netlink requests (native/netlink.c): here it configures a namespace the way a
 * connect does with a fake `ip` first in PATH that fails and logs every call, and the result —
 * addresses, routes of every table, rules, MTU, link state, and what restore() leaves — must be
 * what the `ip` path (netlink: false) makes in a second namespace, entry for entry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADDON, DIST, Netns, nsSkipReason } from './helpers.js';

/** The namespace's state as `ip -j` shows it, with the device names and volatile fields out. */
function snapshot(ns: Netns, dev: string): unknown {
  const strip = (v: unknown): unknown =>
    JSON.parse(
      JSON.stringify(v, (k, x: unknown) =>
        [
          'ifindex',
          'address',
          'broadcast',
          'valid_life_time',
          'preferred_life_time',
          'expires',
        ].includes(k) ||
        (k === 'local' && typeof x === 'string' && x.startsWith('fe80:'))
          ? undefined
          : x,
      ).replaceAll(dev, 'DEV'),
    );
  const has = (ns.json('link') as { ifname: string }[]).some((l) => l.ifname === dev);
  const addrs = has
    ? (ns.json('addr', 'show', 'dev', dev) as { addr_info: { local: string }[] }[]).map((l) => ({
        ...l,
        addr_info: l.addr_info.filter((a) => !a.local.startsWith('fe80:')),
      }))
    : [];
  const sortJ = (a: unknown[]): unknown[] =>
    a
      .map((x) => JSON.stringify(x))
      .sort()
      .map((x) => JSON.parse(x) as unknown);
  return strip({
    addrs,
    routes4: sortJ(ns.json('-4', 'route', 'show', 'table', 'all') as unknown[]),
    routes6: sortJ(
      (ns.json('-6', 'route', 'show', 'table', 'all') as { dst: string; dev?: string }[]).filter(
        (r) => !r.dst.startsWith('fe80') && !r.dst.startsWith('ff00') && r.dev !== 'lo',
      ),
    ),
    rules4: ns.json('-4', 'rule'),
  });
}

/** A namespace with an uplink: up0 (veth to up1) 192.0.2.2/24, default route via 192.0.2.1. */
function testbed(): Netns {
  const ns = new Netns();
  ns.ip('link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1');
  ns.ip('addr', 'add', '192.0.2.2/24', 'dev', 'up0');
  ns.ip('link', 'set', 'up0', 'mtu', '1400', 'up');
  ns.ip('link', 'set', 'up1', 'up');
  ns.ip('route', 'add', 'default', 'via', '192.0.2.1', 'dev', 'up0');
  return ns;
}

test(
  'rtnetlink: a connect configures links, addresses, routes and rules without one ip process, the same as the ip path, and restores exactly',
  { skip: nsSkipReason() },
  async () => {
    const base = mkdtempSync(join(tmpdir(), 'vpn-rtnl-'));
    const a = testbed();
    const b = testbed();
    try {
      const run = join(base, 'run');
      mkdirSync(run, { mode: 0o700 });
      const fake = join(base, 'bin');
      mkdirSync(fake);
      const log = join(base, 'ip-calls.log');
      writeFileSync(join(fake, 'ip'), `#!/bin/sh\necho "ip $*" >> ${log}\nexit 1\n`);
      chmodSync(join(fake, 'ip'), 0o755);
      const before = [snapshot(a, 'vtn0'), snapshot(b, 'vti0')];
      const fa = a.spawnFixture('netlink.mjs', [
        DIST,
        'netlink',
        'vtn0',
        join(run, 'a.journal'),
        fake,
      ]);
      const fb = b.spawnFixture('netlink.mjs', [DIST, 'ip', 'vti0', join(run, 'b.journal'), fake]);
      const ca = await fa.next('configured');
      const cb = await fb.next('configured');
      assert.equal(ca['error'], undefined, String(ca['error']));
      assert.equal(cb['error'], undefined, String(cb['error']));
      assert.equal(
        existsSync(log),
        false,
        `ip was run: ${existsSync(log) ? readFileSync(log, 'utf8') : ''}`,
      );
      // What the lookups answered, and the duplicate route refused in iproute2's words.
      assert.deepEqual(ca['gw'], { dev: 'up0', via: '192.0.2.1', src: '192.0.2.2' });
      assert.deepEqual(ca['gw'], cb['gw']);
      assert.equal(ca['linkMtu'], 1400);
      assert.deepEqual(ca['path'], cb['path']);
      assert.equal((ca['dup'] as { code: string }).code, 'ERR_NETCFG');
      assert.match((ca['dup'] as { message: string }).message, /File exists/);
      // The journal and the kernel's state are the same on both paths.
      const norm = (j: unknown, dev: string): string => JSON.stringify(j).replaceAll(dev, 'DEV');
      assert.equal(norm(ca['journal'], 'vtn0'), norm(cb['journal'], 'vti0'));
      const ja = JSON.parse(readFileSync(join(run, 'a.journal'), 'utf8')) as { entries: unknown[] };
      assert.equal(ja.entries.length, (ca['journal'] as unknown[]).length);
      const sa = snapshot(a, 'vtn0');
      assert.deepEqual(sa, snapshot(b, 'vti0'));
      const link = (
        a.json('link', 'show', 'dev', 'vtn0') as { mtu: number; flags: string[] }[]
      )[0]!;
      assert.equal(link.mtu, 1380);
      assert.ok(link.flags.includes('UP'));
      assert.match(JSON.stringify(sa), /"type":"unreachable","dst":"0\.0\.0\.0\/1"/);
      assert.match(JSON.stringify(sa), /"suppress_prefixlen":1/);
      // Restore: everything back as it was, journal file gone, still no ip process.
      fa.send('restore');
      fb.send('restore');
      assert.deepEqual((await fa.next('restored'))['errors'], []);
      assert.deepEqual((await fb.next('restored'))['errors'], []);
      assert.equal(existsSync(log), false);
      assert.equal(existsSync(join(run, 'a.journal')), false);
      const after = (
        a.json('addr', 'show', 'dev', 'vtn0') as {
          mtu: number;
          flags: string[];
          addr_info: { local: string }[];
        }[]
      )[0]!;
      assert.equal(after.mtu, 1500);
      assert.ok(!after.flags.includes('UP'));
      assert.deepEqual(
        after.addr_info.filter((x) => !x.local.startsWith('fe80:')),
        [],
      );
      fa.send('exit');
      fb.send('exit');
      await Promise.all([fa.exited(), fb.exited()]);
      assert.deepEqual(snapshot(a, 'vtn0'), before[0]);
      assert.deepEqual(snapshot(b, 'vti0'), before[1]);
    } finally {
      a.close();
      b.close();
      rmSync(base, { recursive: true, force: true });
    }
  },
);

test(
  'rtnetlink: the addon refuses malformed arguments with a TypeError, touching nothing',
  {
    skip: nsSkipReason(),
  },
  () => {
    const t = createRequire(import.meta.url)(ADDON) as Record<string, (...a: unknown[]) => unknown>;
    assert.throws(
      () => t['rtRoute']!('add', '10.0.0.0 dev lo', 8, null, null, null, -1, -1, false),
      TypeError,
    );
    assert.throws(
      () => t['rtRoute']!('flush', '10.0.0.0', 8, null, null, null, -1, -1, false),
      TypeError,
    );
    assert.throws(
      () => t['rtRoute']!('add', '10.0.0.0', 33, null, null, null, -1, -1, false),
      RangeError,
    );
    assert.throws(
      () => t['rtRoute']!('add', '10.0.0.0', 8, null, 'fd00::1', null, -1, -1, false),
      TypeError,
    );
    assert.throws(() => t['rtAddr']!(true, 'x'.repeat(16), '10.0.0.1', 32), TypeError);
    assert.throws(() => t['rtSetLink']!('lo', 70000, -1), RangeError);
    assert.throws(() => t['rtRule']!(true, 'nope', 1, 1, -1), TypeError);
    assert.equal(t['rtGetLink']!('nosuchdev0'), null);
  },
);
