/**
 * The runtime directory and a dead tunnel's leftovers, as `vpn` sees them (issue 11: finding 3,
 * "It must show" item 3, and "Exits"). Root only: the cases run in network namespaces of their
 * own, as an unprivileged user with CAP_NET_ADMIN where the issue says so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT } from '../../src/cli/exit-codes.js';
import { DIST, Netns, nsSkipReason } from '../tun/helpers.js';

const BIN = fileURLToPath(new URL('../../../bin/vpn.js', import.meta.url));

function haveTool(t: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${t}`]).status === 0;
}

const planted = '/tmp/ikev2-vpn-65534';
const plantSkip =
  nsSkipReason() ??
  (!haveTool('setpriv') ? 'setpriv (util-linux) is not installed' : undefined) ??
  (existsSync(planted) ? `${planted} exists already: not ours to replace` : undefined);

/** The environment of a service with `User=` and no XDG_RUNTIME_DIR. */
function bareEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CI: 'true' };
  return { ...env, ...extra };
}

/** The network namespace key as a process inside `ns` sees it (for a journal it would accept). */
function netnsKeyIn(ns: Netns): string {
  const r = ns.exec('readlink', ['/proc/self/ns/net']);
  return `net${/\[(\d+)\]/.exec(r.stdout)![1]!}`;
}

for (const mode of [0o777, 0o755]) {
  test(
    `vpn connect as uid 65534 with CAP_NET_ADMIN and no XDG_RUNTIME_DIR refuses a planted ${planted} (root, mode 0${mode.toString(8)}): clear error, no command run, no file touched`,
    { skip: plantSkip },
    () => {
      const ns = new Netns();
      const canaryDir = mkdtempSync(join(tmpdir(), 'vpn-canary-'));
      try {
        // What the journal would destroy: an address and link state in the namespace, a file.
        ns.ip('link', 'add', 'canary0', 'type', 'veth', 'peer', 'name', 'canary1');
        ns.ip('addr', 'add', '192.0.2.1/24', 'dev', 'canary0');
        ns.ip('link', 'set', 'canary0', 'up');
        ns.ip('link', 'set', 'canary1', 'up');
        chmodSync(canaryDir, 0o777); // uid 65534 could delete what is in it
        const canary = join(canaryDir, 'canary');
        writeFileSync(canary, 'precious\n');
        // The attacker's directory and journal (a dead pid: replayed by the next connect).
        mkdirSync(planted);
        chmodSync(planted, mode);
        const journal = join(planted, 'default.journal');
        writeFileSync(
          journal,
          JSON.stringify({
            version: 2,
            pid: 999999999,
            netns: netnsKeyIn(ns),
            entries: [
              { kind: 'dns-file', path: canary, backup: journal, existed: false },
              { kind: 'up', dev: 'canary0' },
              { kind: 'addr', dev: 'canary0', cidr: '192.0.2.1/24' },
              { kind: 'route', dest: '192.0.2.0/24', dev: 'canary0' },
            ],
          }),
        );
        chmodSync(journal, 0o644);
        const before = {
          canary: statSync(canary).mtimeMs,
          journal: statSync(journal).mtimeMs,
          dir: statSync(planted).mtimeMs,
        };
        const r = spawnSync(
          'ip',
          [
            'netns',
            'exec',
            ns.name,
            'setpriv',
            '--reuid=65534',
            '--regid=65534',
            '--clear-groups',
            '--inh-caps=+net_admin',
            '--ambient-caps=+net_admin',
            process.execPath,
            BIN,
            'connect',
            '192.0.2.200',
            '--timeout',
            '2',
            '--retry',
            '0',
          ],
          { encoding: 'utf8', env: bareEnv({ VPN_PSK: 'not-a-secret' }), timeout: 30000 },
        );
        assert.equal(r.status, EXIT.PRIVILEGE, r.stdout + r.stderr);
        assert.match(
          r.stderr,
          /refusing to use runtime directory \/tmp\/ikev2-vpn-65534: it is owned by uid 0, not by us \(uid 65534\)/,
        );
        // Nothing from the journal ran; nothing was touched.
        assert.equal(readFileSync(canary, 'utf8'), 'precious\n');
        assert.equal(statSync(canary).mtimeMs, before.canary);
        const link = ns.json('addr', 'show', 'dev', 'canary0') as {
          flags: string[];
          addr_info: { local: string }[];
        }[];
        assert.ok(link[0]!.flags.includes('UP'), 'canary0 still up');
        assert.ok(
          link[0]!.addr_info.some((a) => a.local === '192.0.2.1'),
          'canary0 keeps its address',
        );
        assert.equal(statSync(journal).mtimeMs, before.journal);
        assert.equal(statSync(planted).mtimeMs, before.dir, 'no file created in the directory');
        assert.equal(lstatSync(planted).uid, 0);
      } finally {
        rmSync(planted, { recursive: true, force: true });
        rmSync(canaryDir, { recursive: true, force: true });
        ns.close();
      }
    },
  );
}

test(
  'after kill -9: status names the dead tunnel\'s leftovers, disconnect restores them (checked replay), then "no tunnel is running"',
  { skip: nsSkipReason() },
  () => {
    const ns = new Netns();
    const base = mkdtempSync(join(tmpdir(), 'vpn-left-'));
    try {
      const run = join(base, 'run');
      mkdirSync(run, { mode: 0o700 });
      mkdirSync(ns.etc, { recursive: true });
      const resolv = join(ns.etc, 'resolv.conf');
      writeFileSync(resolv, 'nameserver 192.0.2.1 # original\n');
      // A TUN-like device named like ours ("vpn%d"), configured by a tunnel that then dies.
      ns.ip('link', 'add', 'vpn7', 'type', 'veth', 'peer', 'name', 'vpn7p');
      ns.ip('link', 'set', 'vpn7p', 'up');
      const script = `
        const { NetConfigurator } = await import(${JSON.stringify(`${DIST}src/tun/netcfg.js`)});
        const cfg = new NetConfigurator({ journalPath: ${JSON.stringify(join(run, 't1.journal'))}, dnsBackend: 'file' });
        await cfg.setUp('vpn7');
        await cfg.addAddress('vpn7', '10.99.0.2/32');
        await cfg.addRoute('198.51.100.0/24', { dev: 'vpn7' });
        await cfg.setDns('vpn7', ['10.99.0.53'], []);
        process.kill(process.pid, 'SIGKILL');`;
      const crash = ns.exec(process.execPath, ['--input-type=module', '-e', script]);
      assert.equal(crash.status, null, `killed by SIGKILL: ${crash.stderr}`);
      assert.match(readFileSync(resolv, 'utf8'), /10\.99\.0\.53/);
      assert.match(ns.ip('route', 'show', '198.51.100.0/24'), /dev vpn7/);
      const env = { ...process.env, VPN_RUNTIME_DIR: run, VPN_DNS_BACKEND: 'file', CI: 'true' };
      const vpn = (...args: string[]) =>
        spawnSync('ip', ['netns', 'exec', ns.name, process.execPath, BIN, ...args], {
          encoding: 'utf8',
          env,
          timeout: 30000,
        });

      const st = vpn('status', '--name', 't1');
      assert.equal(st.status, EXIT.NOT_RUNNING, st.stderr);
      assert.match(
        st.stderr,
        /tunnel t1 is not running, but its host changes are still in place: /,
      );
      assert.match(st.stderr, /route 198\.51\.100\.0\/24 dev vpn7/);
      assert.match(st.stderr, /DNS in \/etc\/resolv\.conf/);
      assert.match(st.stderr, /vpn disconnect --name t1/);
      const sj = vpn('status', '--name', 't1', '--json');
      const parsed = JSON.parse(sj.stdout) as { state: string; leftovers: string[] };
      assert.equal(parsed.state, 'down');
      assert.ok(parsed.leftovers.includes('address 10.99.0.2/32 on vpn7'), sj.stdout);
      // status changed nothing
      assert.match(readFileSync(resolv, 'utf8'), /10\.99\.0\.53/);

      const dc = vpn('disconnect', '--name', 't1');
      assert.equal(dc.status, EXIT.OK, dc.stderr);
      assert.match(dc.stderr, /Tunnel t1 was not running; restored the host changes it left: /);
      assert.equal(readFileSync(resolv, 'utf8'), 'nameserver 192.0.2.1 # original\n');
      assert.equal(ns.ip('route', 'show', '198.51.100.0/24').trim(), '');
      assert.doesNotMatch(ns.ip('addr', 'show', 'dev', 'vpn7'), /10\.99\.0\.2/);
      assert.ok(!existsSync(join(run, 't1.journal')));

      const again = vpn('disconnect', '--name', 't1');
      assert.equal(again.status, EXIT.NOT_RUNNING);
      assert.match(again.stderr, /no tunnel is running/);
    } finally {
      ns.close();
      rmSync(base, { recursive: true, force: true });
    }
  },
);

test(
  "disconnect refuses a dead tunnel's journal with a bad entry: nothing runs, exit 9",
  { skip: nsSkipReason() },
  () => {
    const ns = new Netns();
    const base = mkdtempSync(join(tmpdir(), 'vpn-left-'));
    try {
      const run = join(base, 'run');
      mkdirSync(run, { mode: 0o700 });
      ns.ip('link', 'add', 'canary0', 'type', 'veth', 'peer', 'name', 'canary1');
      ns.ip('link', 'set', 'canary0', 'up');
      const journal = join(run, 't2.journal');
      writeFileSync(
        journal,
        JSON.stringify({
          version: 2,
          pid: 999999999,
          netns: netnsKeyIn(ns),
          entries: [{ kind: 'up', dev: 'canary0' }],
        }),
        { mode: 0o600 },
      );
      const r = spawnSync(
        'ip',
        ['netns', 'exec', ns.name, process.execPath, BIN, 'disconnect', '--name', 't2'],
        { encoding: 'utf8', env: { ...process.env, VPN_RUNTIME_DIR: run }, timeout: 30000 },
      );
      assert.equal(r.status, EXIT.NETCFG, r.stderr);
      assert.match(
        r.stderr,
        /refusing to replay journal .*t2\.journal: entry 1 .*not our TUN device/,
      );
      assert.match(ns.ip('link', 'show', 'canary0'), /state UP|,UP/);
      assert.ok(existsSync(journal));
    } finally {
      ns.close();
      rmSync(base, { recursive: true, force: true });
    }
  },
);
