/**
 * OcproxyStack (src/client/proxy.ts) with a stand-in for ocproxy (a script that listens where
 * -D says and records its arguments and environment), without root: what ocproxy is given (the
 * socket pair as fd 3, the virtual IP, MTU, DNS, domain; none of our environment), a new virtual
 * IP replaces it without counting as a death, a death restarts it, four deaths within a minute end
 * the tunnel, and stop() ends it by PID. The real ocproxy: test/interop/proxy.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OcproxyStack } from '../../src/client/proxy.js';
import type { ProxyEvent } from '../../src/client/proxy.js';
import type { TunnelSummary } from '../../src/client/tunnel.js';
import type { VpnError } from '../../src/core/errors.js';
import { tunAddonStatus } from '../../src/tun/linux.js';

const addon = tunAddonStatus();
const skip = addon.available ? false : `TUN addon not loaded: ${addon.reason}`;

/** A free TCP port on 127.0.0.1. */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** The stand-in: records argv, env and whether fd 3 is a socket, then listens on -D's address. */
function fakeOcproxy(dir: string): string {
  const p = join(dir, 'ocproxy');
  writeFileSync(
    p,
    `#!${process.execPath}
const fs = require('node:fs');
const net = require('node:net');
const a = process.argv.slice(2);
const [host, port] = a[a.indexOf('-D') + 1].split(':');
let fd3 = 'none';
try { fd3 = fs.fstatSync(3).isSocket() ? 'socket' : 'other'; } catch {}
fs.writeFileSync(${JSON.stringify(join(dir, 'runs'))}, JSON.stringify({ pid: process.pid, argv: a, env: process.env, fd3 }) + '\\n', { flag: 'a' });
net.createServer().listen(Number(port), host);
`,
  );
  chmodSync(p, 0o755);
  return p;
}

function summary(ip: string): TunnelSummary {
  return {
    virtualIp4: ip,
    mtu: 1400,
    dns: ['203.0.113.53', '2001:db8::53', '203.0.113.54'],
    domains: ['corp.example'],
  } as unknown as TunnelSummary;
}

function runs(
  dir: string,
): { pid: number; argv: string[]; env: Record<string, string>; fd3: string }[] {
  if (!existsSync(join(dir, 'runs'))) return [];
  return readFileSync(join(dir, 'runs'), 'utf8')
    .trim()
    .split('\n')
    .map(
      (l) =>
        JSON.parse(l) as { pid: number; argv: string[]; env: Record<string, string>; fd3: string },
    );
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test(
  'ocproxy gets the pair as fd 3, the address, MTU, DNS and domain, and nothing of ours',
  { skip },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vpn-ocproxy-'));
    process.env['VPN_PSK'] = 'must not leak';
    const port = await freePort();
    const stack = new OcproxyStack({
      listen: { host: '127.0.0.1', port },
      binary: fakeOcproxy(dir),
    });
    const events: ProxyEvent[] = [];
    stack.onEvent((e) => events.push(e));
    const tun = stack.io().openTun!({ mtu: 1400 });
    try {
      await stack.start(summary('203.0.113.129'));
      const [r] = runs(dir);
      assert.ok(r);
      assert.deepEqual(r.argv, ['-D', `127.0.0.1:${port}`]);
      assert.equal(r.fd3, 'socket');
      assert.equal(r.env['VPNFD'], '3');
      assert.equal(r.env['INTERNAL_IP4_ADDRESS'], '203.0.113.129');
      assert.equal(r.env['INTERNAL_IP4_MTU'], '1400');
      assert.equal(r.env['INTERNAL_IP4_DNS'], '203.0.113.53 203.0.113.54', 'IPv4 servers only');
      assert.equal(r.env['CISCO_DEF_DOMAIN'], 'corp.example');
      assert.equal(r.env['VPN_PSK'], undefined, 'none of our environment');
      assert.deepEqual(events, [{ type: 'ready', pid: r.pid }]);
      assert.equal(stack.pid, r.pid);
      // The same configuration again (a reconnect with the same virtual IP): left running.
      await stack.start(summary('203.0.113.129'));
      assert.equal(runs(dir).length, 1);
    } finally {
      delete process.env['VPN_PSK'];
    }
    // Two stops, as the CLI makes them: the tunnel's 'down' event, then before the process
    // exits. The second returns only once ocproxy is gone too (reaped: not even a zombie).
    const first = stack.stop();
    await stack.stop();
    const [r] = runs(dir);
    assert.equal(alive(r!.pid), false, 'stop() ended it');
    await first;
    tun.close();
    rmSync(dir, { recursive: true, force: true });
  },
);

test(
  'a new virtual IP replaces ocproxy without a restart; a death restarts it; four in a minute end it',
  { skip },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vpn-ocproxy-'));
    const port = await freePort();
    const stack = new OcproxyStack({
      listen: { host: '127.0.0.1', port },
      binary: fakeOcproxy(dir),
    });
    const events: ProxyEvent[] = [];
    let fatal: VpnError | undefined;
    stack.onEvent((e) => events.push(e));
    stack.onFatal((e) => (fatal = e));
    const tun = stack.io().openTun!({ mtu: 1400 });
    try {
      await stack.start(summary('203.0.113.129'));
      await stack.start(summary('203.0.113.130'));
      const [a, b] = runs(dir);
      assert.equal(b?.env['INTERNAL_IP4_ADDRESS'], '203.0.113.130');
      assert.equal(alive(a!.pid), false, 'the old one ended');
      await sleep(1200);
      assert.equal(runs(dir).length, 2, 'replacing it is not a death: no restart');
      assert.ok(!events.some((e) => e.type === 'restarting'));
      // Deaths: restarted three times, then the tunnel is told to end.
      const readies = (): number => events.filter((e) => e.type === 'ready').length;
      for (let i = 0; i < 3; i++) {
        process.kill(runs(dir).at(-1)!.pid, 'SIGKILL');
        for (let j = 0; j < 200 && readies() < 3 + i; j++) await sleep(25);
        assert.equal(readies(), 3 + i, `restart ${i + 1} serves again`);
        assert.equal(runs(dir).length, 3 + i);
      }
      process.kill(runs(dir).at(-1)!.pid, 'SIGKILL');
      for (let j = 0; j < 200 && !fatal; j++) await sleep(25);
      assert.equal(runs(dir).length, 5, 'not started a fifth time');
      assert.equal(events.filter((e) => e.type === 'restarting').length, 3);
      assert.ok(fatal, 'the fourth death within a minute is fatal');
      assert.match(fatal.message, /stopped .* 4 times within a minute/);
    } finally {
      await stack.stop();
      tun.close();
      for (const r of runs(dir)) if (alive(r.pid)) process.kill(r.pid, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
