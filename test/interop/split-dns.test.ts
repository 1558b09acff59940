/**
 * Split DNS against a real systemd-resolved (issue 14, "It must show" 4). Debian's
 * systemd-resolved runs in the test bed's client namespace with its own mount namespace, /run,
 * D-Bus system bus and stub resolv.conf (scripts/testbed/resolved.sh: the package is unpacked,
 * never installed, so the host's /etc/resolv.conf is not touched); its global DNS server is a
 * responder on the NAT router (192.0.2.1, answers 192.0.2.99). strongSwan pushes
 * INTERNAL_DNS_DOMAIN corp.example (RFC 8598, attribute 25) and its DNS server 203.0.113.53, a
 * responder on the LAN behind it (answers 203.0.113.10). `vpn connect` runs in the same mount and
 * network namespace. Names are looked up through glibc (getent → 127.0.0.53, resolved's stub),
 * and tcpdump on the TUN device shows which queries go through the tunnel.
 *  - split tunnel: intranet.corp.example goes to 203.0.113.53 through vpn0; www.example.org goes
 *    to 192.0.2.1, never into the tunnel;
 *  - a tunnel that carries the default route: every name goes to 203.0.113.53 through vpn0;
 *  - after disconnect (and after a kill -9 + `vpn disconnect`) the link settings are gone.
 */
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BIN,
  Bed,
  GW,
  LAN_HOST,
  ROOT,
  TB,
  firstOutput,
  skipReason,
  sleep,
  waitExit,
} from './support.js';

const RESOLVED_ROOT = process.env['RESOLVED_ROOT'] ?? '/opt/ikev2-vpn-test/resolved';
const GW_DNS = '203.0.113.53';
const OUTSIDE_DNS = '192.0.2.1';
const OUTSIDE_ANSWER = '192.0.2.99';

/** Why this cannot run: not root, a tool missing, or Debian's systemd-resolved not obtainable. */
function whySkip(): string | undefined {
  const basic = skipReason('nsenter', 'unshare', 'dbus-daemon', 'tcpdump', 'getent');
  if (basic) return basic;
  // Unpacks the package into RESOLVED_ROOT once (install-deps.sh does it too); no-op after.
  const r = spawnSync('bash', [join(TB, 'resolved.sh'), 'fetch'], {
    encoding: 'utf8',
    timeout: 120000,
    killSignal: 'SIGKILL',
  });
  if (r.status !== 0) return `systemd-resolved unavailable: ${(r.stderr || r.stdout).trim()}`;
  return undefined;
}

const skip = whySkip();
if (skip) console.log(`# split-dns interop skipped: ${skip}`);

describe('interop: split DNS through a real systemd-resolved', { skip }, () => {
  const bed = new Bed('sdns');
  const state = `/tmp/${bed.prefix}`;
  let holder = '';
  const logs = { gw: [] as string[], outside: [] as string[] };
  const responders: ChildProcess[] = [];

  /** Runs in the client's network namespace and resolved's mount namespace. */
  const envArgs = (): string[] => [
    'env',
    `PATH=${RESOLVED_ROOT}/usr/bin:${process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`,
  ];
  const inNs = (
    args: string[],
    timeout = 30000,
  ): { code: number | null; out: string; err: string } => {
    const r = spawnSync('nsenter', ['-t', holder, '-m', '-n', '--', ...envArgs(), ...args], {
      encoding: 'utf8',
      env: bed.env(),
      timeout,
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const spawnNs = (args: string[]): ChildProcess =>
    bed.track(
      spawn('nsenter', ['-t', holder, '-m', '-n', '--', ...envArgs(), ...args], {
        env: { ...bed.env(), VPN_DNS_BACKEND: 'auto' },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
  const resolve = (name: string): string => {
    const r = inNs(['getent', 'ahostsv4', name], 15000);
    return r.out.trim().split(/\s+/)[0] ?? '';
  };
  const linkDns = (): string => inNs(['resolvectl', 'status']).out;
  /**
   * The tunnel's DNS settings are gone from resolved: no link with its server or domains. After
   * `resolvectl revert` that is at once; after a kill -9 resolved learns of the vanished link
   * from the kernel, so poll for a bounded time.
   */
  async function assertLinkSettingsGone(): Promise<void> {
    let st = linkDns();
    for (let i = 0; i < 50 && /203\.0\.113\.53|corp\.example|~\./.test(st); i++) {
      await sleep(100);
      st = linkDns();
    }
    assert.doesNotMatch(st, /203\.0\.113\.53|corp\.example|~\./, `link settings gone:\n${st}`);
  }

  /** `vpn connect --json` in resolved's namespaces; resolves at 'up' or exit. */
  async function connect(
    args: string[],
  ): Promise<{ proc: ChildProcess; up?: Record<string, unknown>; lines: string[] }> {
    const proc = spawnNs([process.execPath, BIN, 'connect', GW, '--json', ...args]);
    const lines: string[] = [];
    const up = await new Promise<Record<string, unknown> | undefined>((res) => {
      const timer = setTimeout(() => res(undefined), 40000);
      let buf = '';
      proc.stderr!.setEncoding('utf8').on('data', (d: string) => lines.push(`stderr: ${d}`));
      proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          lines.push(line);
          try {
            const ev = JSON.parse(line) as Record<string, unknown>;
            if (ev['event'] === 'up') {
              clearTimeout(timer);
              res(ev);
            }
          } catch {
            // not JSON
          }
        }
      });
      proc.on('exit', () => {
        clearTimeout(timer);
        res(undefined);
      });
    });
    return up ? { proc, up, lines } : { proc, lines };
  }

  /**
   * tcpdump on vpn0 while `fn` runs: the DNS packets that went through the tunnel, up to the
   * query for `last` (which `fn` resolves last, through the tunnel). The capture ends when that
   * query is printed: packets on one device are printed in order, so anything `fn` sent into the
   * tunnel before it is in the output — no sleep to guess.
   */
  async function captureTun(fn: () => void, last: string): Promise<string> {
    const cap = bed.track(
      spawn(
        'nsenter',
        ['-t', holder, '-n', '--', 'tcpdump', '-i', 'vpn0', '-n', '-l', '-U', 'udp port 53'],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      ),
    );
    let out = '';
    cap.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    await new Promise<void>((res, rej) => {
      const t = setTimeout(() => rej(new Error('tcpdump did not start in 10 s')), 10000);
      cap.stderr.setEncoding('utf8').on('data', (d: string) => {
        if (/listening on/.test(d)) {
          clearTimeout(t);
          res();
        }
      });
      cap.once('exit', (c) => {
        clearTimeout(t);
        rej(new Error(`tcpdump exited (${c})`));
      });
    });
    try {
      fn();
      const end = new RegExp(`A\\? ${last.replace(/\./g, '\\.')}\\.`);
      for (let waited = 0; !end.test(out) && waited < 10000; waited += 50) await sleep(50);
    } finally {
      cap.kill('SIGINT');
      await waitExit(cap, 5000);
    }
    return out;
  }

  async function responder(ns: string, addr: string, answer: string, log: string[]): Promise<void> {
    const fixture = join(ROOT, 'test/interop/fixtures/dns-responder.mjs');
    // Not tracked by the bed: they serve every test (afterEach ends the tracked processes).
    const p = spawn('ip', ['netns', 'exec', ns, process.execPath, fixture, addr, answer], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    responders.push(p);
    const ready = firstOutput(p, `DNS responder ${addr}`);
    let buf = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        log.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    });
    await ready;
  }

  const queried = (log: string[], name: string): string[] =>
    log
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { name: string; from: string })
      .filter((q) => q.name === name)
      .map((q) => q.from);

  before(async () => {
    bed.up();
    // The gateway pushes INTERNAL_DNS_DOMAIN corp.example (attribute 25) with its DNS server,
    // and offers a second connection whose traffic selector is everything (the default route).
    const gwDir = join(state, 'gw');
    const conf = readFileSync(join(gwDir, 'swanctl.conf'), 'utf8');
    const pskConn = /\n {2}psk \{\n[\s\S]*?\n {2}\}\n/.exec(conf)?.[0];
    assert.ok(pskConn, 'the test bed has a psk connection');
    const allConn = pskConn
      .replace('psk {', 'pskall {')
      .replace('id = gw.test', 'id = all.gw.test')
      .replace('local_ts = 203.0.113.0/25', 'local_ts = 0.0.0.0/0');
    const split = conf
      .replace(`dns = ${GW_DNS}`, `dns = ${GW_DNS}\n    25 = corp.example`)
      .replace('connections {\n', `connections {${allConn}`)
      .replace(
        'secrets {\n',
        `secrets {\n  ike-all {\n    id-gw = all.gw.test\n    id-client = client@test\n    secret = "${readFileSync(bed.psk, 'utf8').trim()}"\n  }\n`,
      );
    writeFileSync(join(gwDir, 'split-dns.conf'), split);
    const load = spawnSync(
      'swanctl',
      [
        '--load-all',
        '--noprompt',
        '--uri',
        `unix://${gwDir}/charon.vici`,
        '--file',
        join(gwDir, 'split-dns.conf'),
      ],
      { encoding: 'utf8', timeout: 30000 },
    );
    assert.equal(load.status, 0, load.stdout + load.stderr);
    // The gateway's DNS server on the LAN host's link, the client's usual one on the NAT router.
    const lanDev = `${bed.prefix.slice(0, 8)}l0`;
    const add = spawnSync('ip', [
      '-n',
      bed.ns('lan'),
      'addr',
      'add',
      `${GW_DNS}/25`,
      'dev',
      lanDev,
    ]);
    assert.equal(add.status, 0, String(add.stderr));
    await responder(bed.ns('lan'), GW_DNS, LAN_HOST, logs.gw);
    await responder(bed.ns('nat'), OUTSIDE_DNS, OUTSIDE_ANSWER, logs.outside);
    const r = spawnSync(
      'bash',
      [join(TB, 'resolved.sh'), '--prefix', bed.prefix, 'start', OUTSIDE_DNS],
      {
        encoding: 'utf8',
        timeout: 60000,
        killSignal: 'SIGKILL',
      },
    );
    assert.equal(r.status, 0, r.stdout + r.stderr);
    holder = r.stdout.trim().split('\n').pop()!;
    assert.match(holder, /^\d+$/);
    // Before the tunnel: resolved answers through the NAT router's server.
    assert.equal(resolve('before.example.org'), OUTSIDE_ANSWER);
  });

  after(async () => {
    await Promise.all(responders.map((p) => bed.stop(p)));
    spawnSync('bash', [join(TB, 'resolved.sh'), '--prefix', bed.prefix, 'stop'], {
      timeout: 30000,
    });
    bed.down();
  });
  afterEach(() => bed.stopAll());

  test('split tunnel: names under the pushed domain go to the gateway DNS through the tunnel, others do not', async () => {
    const c = await connect([
      '--id',
      'client@test',
      '--remote-id',
      '@gw.test',
      '--psk-file',
      bed.psk,
    ]);
    assert.ok(c.up, `no "up" event:\n${c.lines.join('\n')}`);
    let internal = '';
    let external = '';
    const seen = await captureTun(() => {
      internal = resolve('intranet.corp.example');
      external = resolve('www.example.org');
      resolve('last.corp.example');
    }, 'last.corp.example');
    assert.equal(internal, LAN_HOST, 'answered by the gateway DNS');
    assert.equal(external, OUTSIDE_ANSWER, 'answered by the usual DNS');
    assert.match(seen, /> 203\.0\.113\.53\.53: .* A\? intranet\.corp\.example\./, seen);
    assert.doesNotMatch(seen, /www\.example\.org/, 'the other name never entered the tunnel');
    const vip = (c.up['summary'] as { virtualIp4: string }).virtualIp4;
    assert.deepEqual([...new Set(queried(logs.gw, 'intranet.corp.example'))], [vip]);
    assert.deepEqual(queried(logs.gw, 'www.example.org'), []);
    assert.ok(queried(logs.outside, 'www.example.org').length > 0);
    assert.deepEqual(queried(logs.outside, 'intranet.corp.example'), []);

    const summary = c.up['summary'] as { dnsMethod?: string; dnsNote?: string; domains: string[] };
    assert.equal(summary.dnsMethod, 'systemd-resolved');
    assert.deepEqual(summary.domains, ['corp.example']);
    // resolved's own view of the link: our server, a routing-only domain, no default route.
    const link = inNs(['resolvectl', 'status', 'vpn0']).out;
    assert.match(link, /DNS Servers: 203\.0\.113\.53/, link);
    assert.match(link, /DNS Domain: ~corp\.example/, link);
    assert.match(link, /-DefaultRoute/, link);

    // vpn status names the method.
    const st = inNs([process.execPath, BIN, 'status', '--json']);
    assert.equal(st.code, 0, st.err);
    const sum = (JSON.parse(st.out) as { summary: { dnsMethod: string } }).summary;
    assert.equal(sum.dnsMethod, 'systemd-resolved');

    await bed.stop(c.proc);
    assert.equal(c.proc.exitCode, 0);
    await assertLinkSettingsGone();
    assert.equal(resolve('intranet.corp.example'), OUTSIDE_ANSWER, 'back to the usual DNS');
  });

  test('the tunnel carries the default route: every name goes to the gateway DNS through it', async () => {
    const before = queried(logs.outside, 'www.example.net').length;
    const c = await connect([
      '--id',
      'client@test',
      '--remote-id',
      '@all.gw.test',
      '--psk-file',
      bed.psk,
    ]);
    assert.ok(c.up, `no "up" event:\n${c.lines.join('\n')}`);
    let external = '';
    const seen = await captureTun(() => {
      external = resolve('www.example.net');
    }, 'www.example.net');
    assert.equal(external, LAN_HOST, 'answered by the gateway DNS');
    assert.match(seen, /> 203\.0\.113\.53\.53: .* A\? www\.example\.net\./, seen);
    assert.equal(
      queried(logs.outside, 'www.example.net').length,
      before,
      'nothing to the usual DNS',
    );
    const summary = c.up['summary'] as { dnsNote?: string; routes: string[] };
    assert.ok(summary.routes.includes('0.0.0.0/0'), summary.routes.join(' '));
    assert.match(summary.dnsNote ?? '', /every name goes to 203\.0\.113\.53/);
    const link = inNs(['resolvectl', 'status', 'vpn0']).out;
    assert.match(link, /DNS Domain: ~corp\.example ~\./, link);
    assert.match(link, /\+DefaultRoute/, link);

    await bed.stop(c.proc);
    assert.equal(c.proc.exitCode, 0);
    await assertLinkSettingsGone();
  });

  test('kill -9: the journal records the resolved link, vpn disconnect replays it', async () => {
    const c = await connect([
      '--id',
      'client@test',
      '--remote-id',
      '@gw.test',
      '--psk-file',
      bed.psk,
    ]);
    assert.ok(c.up, `no "up" event:\n${c.lines.join('\n')}`);
    const journal = JSON.parse(readFileSync(join(bed.dir, 'run', 'default.journal'), 'utf8')) as {
      entries: { kind: string }[];
    };
    assert.ok(
      journal.entries.some((e) => e.kind === 'dns-resolvectl'),
      JSON.stringify(journal),
    );
    // The TUN device dies with the process and resolved forgets its link by itself; the
    // journal's `resolvectl revert` then finds no link, which counts as done.
    c.proc.kill('SIGKILL');
    await waitExit(c.proc, 5000);
    const d = inNs([process.execPath, BIN, 'disconnect']);
    assert.equal(d.code, 0, d.out + d.err);
    assert.match(d.out + d.err, /DNS of vpn0 in systemd-resolved/);
    await assertLinkSettingsGone();
    assert.equal(resolve('intranet.corp.example'), OUTSIDE_ANSWER);
  });
});
