/**
 * The undo journal as hostile input (finding 3 of issue 11): before a single step of a journal
 * is replayed, the file (a regular file of ours, 0600, size bound, this network namespace) and
 * every entry (only what NetConfigurator writes) are checked; one bad entry refuses the whole
 * journal and nothing runs. Also: routes go in one `ip -batch` (finding 6) and the file-mode DNS
 * backup belongs to one tunnel in one namespace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VpnError } from '../../src/core/errors.js';
import {
  MAX_JOURNAL_ENTRIES,
  MAX_ROUTES,
  NetConfigurator,
  dnsBackupPath,
  netnsKey,
  readJournal,
  validateJournal,
} from '../../src/tun/netcfg.js';
import type { CommandRunner, JournalEntry } from '../../src/tun/netcfg.js';

const isRoot = process.getuid?.() === 0;

/** A runner that records every command and answers like iproute2 on success. */
function recorder(fail?: (cmd: string, args: string[], input?: string) => Error | undefined): {
  run: CommandRunner;
  calls: { cmd: string; args: string[]; input?: string }[];
} {
  const calls: { cmd: string; args: string[]; input?: string }[] = [];
  const run: CommandRunner = (cmd, args, input) => {
    calls.push(input === undefined ? { cmd, args } : { cmd, args, input });
    const err = fail?.(cmd, args, input);
    if (err) return Promise.reject(err);
    if (args.includes('link') && args.includes('show'))
      return Promise.resolve({ stdout: '[{"mtu":1500,"flags":["POINTOPOINT"]}]' });
    return Promise.resolve({ stdout: '' });
  };
  return { run, calls };
}

function tmpRun(): { base: string; dir: string; journal: string; resolv: string } {
  const base = mkdtempSync(join(tmpdir(), 'vpn-journal-'));
  const dir = join(base, 'run');
  mkdirSync(dir, { mode: 0o700 });
  return { base, dir, journal: join(dir, 't.journal'), resolv: join(base, 'resolv.conf') };
}

function writeJournal(path: string, entries: unknown[], extra: Record<string, unknown> = {}): void {
  const file = { version: 2, pid: 999999999, netns: netnsKey(), entries, ...extra };
  writeFileSync(path, JSON.stringify(file), { mode: 0o600 });
}

const GOOD: JournalEntry[] = [
  { kind: 'route', dest: '198.51.100.10/32', dev: 'eth0', via: '192.0.2.1' },
  { kind: 'block', dest: '0.0.0.0/1', metric: 1000 },
  { kind: 'mtu', dev: 'vpn0', old: 1500 },
  { kind: 'addr', dev: 'vpn0', cidr: '10.0.0.2/32' },
  { kind: 'up', dev: 'vpn0' },
  { kind: 'route', dest: '0.0.0.0/1', dev: 'vpn0' },
  { kind: 'route', dest: '::/1', dev: 'vpn0' },
  { kind: 'dns-resolvectl', dev: 'vpn0' },
];

test('validateJournal accepts what NetConfigurator writes', () => {
  validateJournal(GOOD);
  validateJournal([{ kind: 'dns-file', path: '/etc/resolv.conf', backup: '/r/b', existed: true }], {
    backup: '/r/b',
  });
  validateJournal([{ kind: 'dns-resolvconf', dev: 'vpn3', iface: 'tun.vpn3' }]);
});

test('validateJournal refuses every kind of entry we could not have written', () => {
  const bad: [unknown, RegExp][] = [
    [{ kind: 'link-del', dev: 'vpn0' }, /unknown kind/],
    ['route', /not an object/],
    [{ kind: 'addr', dev: 'eth0', cidr: '192.0.2.1/24' }, /not our TUN device/],
    [{ kind: 'addr', dev: 'vpn0', cidr: '10.0.0.2/32 dev eth0' }, /invalid address/],
    [{ kind: 'mtu', dev: 'eth0', old: 1500 }, /not our TUN device/],
    [{ kind: 'mtu', dev: 'vpn0', old: '1500; reboot' }, /invalid MTU/],
    [{ kind: 'up', dev: 'lo' }, /not our TUN device/],
    [{ kind: 'route', dest: '0.0.0.0/0', dev: 'eth0', via: '192.0.2.1' }, /not a host route/],
    [{ kind: 'route', dest: '203.0.113.0/24', dev: 'eth0' }, /not a host route/],
    [{ kind: 'route', dest: '0.0.0.0/1', dev: 'vpn0\nlink del eth0' }, /invalid device/],
    [{ kind: 'route', dest: '0.0.0.0/1', dev: 'vpn0', via: 'fe80::1' }, /invalid next hop/],
    [{ kind: 'route', dest: '0.0.0.0/1', dev: 'vpn0', metric: -1 }, /invalid metric/],
    [{ kind: 'route', dest: '0.0.0.0/1', dev: 'vpn0', table: 'x y' }, /invalid table/],
    [{ kind: 'route', dest: '0.0.0.0/1', dev: 'vpn0', proto: 'x' }, /unexpected field "proto"/],
    [{ kind: 'block', dest: '192.0.2.0/24', metric: 1000 }, /not a kill-switch route/],
    [{ kind: 'dns-file', path: '/etc/passwd', backup: '/r/b' }, /not the resolv.conf we manage/],
    [{ kind: 'dns-file', path: '/etc/resolv.conf', backup: '/etc/shadow' }, /not our DNS backup/],
    [{ kind: 'dns-resolvectl', dev: '--help' }, /not our TUN device/],
    [{ kind: 'dns-resolvconf', dev: 'vpn0', iface: 'eth0' }, /invalid resolvconf interface/],
  ];
  for (const [entry, why] of bad) {
    // The bad entry hidden among good ones: the whole list is refused.
    assert.throws(
      () => validateJournal([...GOOD, entry], { backup: '/r/b' }),
      (e: unknown) => e instanceof Error && why.test(e.message) && /entry 9/.test(e.message),
      JSON.stringify(entry),
    );
  }
  assert.throws(() => validateJournal({}), /not a list/);
  assert.throws(
    () => validateJournal(new Array(MAX_JOURNAL_ENTRIES + 1).fill(GOOD[4])),
    /too many entries/,
  );
});

test('a journal with one invalid entry is refused whole: no command runs, no file is touched', async () => {
  const t = tmpRun();
  try {
    const canary = join(t.base, 'canary');
    writeFileSync(canary, 'keep me\n');
    const before = statSync(canary).mtimeMs;
    writeJournal(t.journal, [
      ...GOOD,
      // would delete the canary (dns-file with existed:false removes `path`)
      { kind: 'dns-file', path: canary, backup: canary, existed: false },
    ]);
    const { run, calls } = recorder();
    await assert.rejects(
      NetConfigurator.recover(t.journal, run),
      (e: unknown) =>
        e instanceof VpnError &&
        e.code === 'ERR_NETCFG' &&
        e.message.includes(t.journal) &&
        /refusing to replay.*not the resolv.conf we manage.*nothing was run/.test(e.message),
    );
    assert.deepEqual(calls, [], 'no command ran');
    assert.equal(readFileSync(canary, 'utf8'), 'keep me\n');
    assert.equal(statSync(canary).mtimeMs, before);
    assert.ok(existsSync(t.journal), 'the refused journal is left for inspection');
  } finally {
    rmSync(t.base, { recursive: true, force: true });
  }
});

test('the journal file itself is checked before it is read', async () => {
  const t = tmpRun();
  try {
    const { run, calls } = recorder();
    const other = join(t.base, 'elsewhere.json');
    writeJournal(other, GOOD);
    symlinkSync(other, t.journal);
    await assert.rejects(NetConfigurator.recover(t.journal, run), /symbolic link/);
    rmSync(t.journal);

    writeJournal(t.journal, GOOD);
    chmodSync(t.journal, 0o644);
    await assert.rejects(NetConfigurator.recover(t.journal, run), /group or others/);
    chmodSync(t.journal, 0o600);

    writeFileSync(t.journal, 'x'.repeat((1 << 20) + 1), { mode: 0o600 });
    await assert.rejects(NetConfigurator.recover(t.journal, run), /too large/);

    writeFileSync(t.journal, '{"version":2,', { mode: 0o600 });
    await assert.rejects(NetConfigurator.recover(t.journal, run), /not valid JSON/);

    writeJournal(t.journal, GOOD, { version: 1 });
    await assert.rejects(NetConfigurator.recover(t.journal, run), /unknown format/);

    writeJournal(t.journal, GOOD, { netns: 'net1' });
    await assert.rejects(NetConfigurator.recover(t.journal, run), /another network namespace/);

    mkdirSync(join(t.dir, 'd.journal'));
    await assert.rejects(NetConfigurator.recover(join(t.dir, 'd.journal'), run), /regular file/);

    if (isRoot) {
      writeJournal(t.journal, GOOD);
      chownSync(t.journal, 65534, 65534);
      await assert.rejects(NetConfigurator.recover(t.journal, run), /owned by uid 65534/);
      rmSync(t.journal);
    }
    // The directory too: open to others, it is refused before the journal is read.
    writeJournal(t.journal, GOOD);
    chmodSync(t.dir, 0o755);
    await assert.rejects(NetConfigurator.recover(t.journal, run), /refusing to use runtime/);
    chmodSync(t.dir, 0o700);
    assert.deepEqual(calls, [], 'no command ran');
  } finally {
    rmSync(t.base, { recursive: true, force: true });
  }
});

test('a valid journal of a dead process is replayed in reverse, routes in one ip -force -batch per family', async () => {
  const t = tmpRun();
  try {
    writeJournal(t.journal, GOOD);
    const { run, calls } = recorder();
    assert.equal(readJournal(t.journal)?.alive, false);
    assert.equal(await NetConfigurator.recover(t.journal, run), true);
    assert.ok(!existsSync(t.journal));
    assert.deepEqual(calls, [
      { cmd: 'resolvectl', args: ['revert', '--', 'vpn0'] },
      {
        cmd: 'ip',
        args: ['-4', '-force', '-batch', '-'],
        input: 'route del 0.0.0.0/1 dev vpn0\n',
      },
      { cmd: 'ip', args: ['-6', '-force', '-batch', '-'], input: 'route del ::/1 dev vpn0\n' },
      { cmd: 'ip', args: ['link', 'set', 'dev', 'vpn0', 'down'] },
      {
        cmd: 'ip',
        args: ['-4', '-force', '-batch', '-'],
        input: 'addr del 10.0.0.2/32 dev vpn0\n',
      },
      { cmd: 'ip', args: ['link', 'set', 'dev', 'vpn0', 'mtu', '1500'] },
      {
        cmd: 'ip',
        args: ['-4', '-force', '-batch', '-'],
        input:
          'route del unreachable 0.0.0.0/1 metric 1000\nroute del 198.51.100.10/32 via 192.0.2.1 dev eth0\n',
      },
    ]);
  } finally {
    rmSync(t.base, { recursive: true, force: true });
  }
});

test('routes are added in one ip -batch (not one process each), capped, and undone in one batch', async () => {
  const t = tmpRun();
  try {
    const { run, calls } = recorder();
    const cfg = new NetConfigurator({ run, journalPath: t.journal });
    const dests = Array.from({ length: 200 }, (_, i) => `10.${i}.0.0/16`);
    await cfg.addRoutes([...dests, '2001:db8::/32'], { dev: 'vpn0', src: '10.255.0.2' });
    assert.equal(calls.length, 2, 'one ip process per address family');
    assert.deepEqual(calls[0]!.args, ['-4', '-batch', '-']);
    assert.equal(calls[0]!.input!.split('\n').length, 201);
    assert.match(calls[0]!.input!, /^route add 10\.0\.0\.0\/16 dev vpn0 src 10\.255\.0\.2\n/);
    assert.deepEqual(calls[1], {
      cmd: 'ip',
      args: ['-6', '-batch', '-'],
      input: 'route add 2001:db8::/32 dev vpn0\n',
    });
    assert.equal(cfg.journal().length, 201);
    await assert.rejects(
      cfg.addRoutes(
        Array.from({ length: MAX_ROUTES }, (_, i) => `172.16.${i % 256}.${i >> 8}/32`),
        { dev: 'vpn0' },
      ),
      /at most 256/,
    );
    // Values that could smuggle a second batch line are refused before anything runs.
    await assert.rejects(
      cfg.addRoutes(['10.1.0.0/16\nlink del eth0'], { dev: 'vpn0' }),
      /invalid network/,
    );
    await assert.rejects(cfg.addRoutes(['10.1.0.0/16'], { dev: 'vpn0 x' }), /invalid interface/);
    calls.length = 0;
    assert.deepEqual(await cfg.restore(), []);
    assert.equal(calls.length, 2);
    assert.deepEqual(calls[0]!.args, ['-4', '-force', '-batch', '-']);
    assert.ok(!existsSync(t.journal));
  } finally {
    rmSync(t.base, { recursive: true, force: true });
  }
});

test('a batch that fails at line 3 journals the two routes before it, and "already gone" on undo is success', async () => {
  const t = tmpRun();
  try {
    const { run } = recorder((_cmd, args) =>
      args.includes('-batch') && !args.includes('-force')
        ? new Error('ip -4 -batch -: RTNETLINK answers: File exists\nCommand failed -:3')
        : args.includes('-force')
          ? new Error(
              'ip -4 -force -batch -: RTNETLINK answers: No such process\nCommand failed -:1',
            )
          : undefined,
    );
    const cfg = new NetConfigurator({ run, journalPath: t.journal });
    await assert.rejects(
      cfg.addRoutes(['10.1.0.0/16', '10.2.0.0/16', '10.3.0.0/16', '10.4.0.0/16'], { dev: 'vpn0' }),
      /File exists/,
    );
    assert.deepEqual(
      cfg.journal().map((e) => (e.kind === 'route' ? e.dest : e.kind)),
      ['10.1.0.0/16', '10.2.0.0/16'],
    );
    assert.deepEqual(await cfg.restore(), []);
  } finally {
    rmSync(t.base, { recursive: true, force: true });
  }
});

test('file-mode DNS: the backup is ours alone (runtime dir, per tunnel and namespace), a foreign one is never adopted', async () => {
  const t = tmpRun();
  try {
    writeFileSync(t.resolv, 'nameserver 192.0.2.1 # original\n');
    // What another tunnel / namespace left at the old shared path.
    const foreign = `${t.resolv}.ikev2-vpn.bak`;
    writeFileSync(foreign, 'nameserver 203.0.113.99 # someone else\n');
    const { run } = recorder();
    const a = new NetConfigurator({
      run,
      journalPath: t.journal,
      resolvConf: t.resolv,
      dnsBackend: 'file',
    });
    await a.setDns('vpn0', ['10.0.0.53'], ['corp.example']);
    assert.match(readFileSync(t.resolv, 'utf8'), /nameserver 10\.0\.0\.53/);
    const backup = dnsBackupPath(t.journal);
    assert.ok(backup.startsWith(t.dir + '/') && backup.includes(netnsKey()), backup);
    assert.equal(statSync(backup).mode & 0o777, 0o600);
    // A second tunnel on the same resolv.conf path keeps its own backup.
    const b = new NetConfigurator({
      run,
      journalPath: join(t.dir, 'u.journal'),
      resolvConf: t.resolv,
      dnsBackend: 'file',
    });
    await b.setDns('vpn1', ['10.1.0.53'], []);
    assert.notEqual(dnsBackupPath(join(t.dir, 'u.journal')), backup);
    await b.restore();
    await a.restore();
    assert.equal(readFileSync(t.resolv, 'utf8'), 'nameserver 192.0.2.1 # original\n');
    assert.equal(readFileSync(foreign, 'utf8'), 'nameserver 203.0.113.99 # someone else\n');
    assert.ok(!existsSync(backup));
  } finally {
    rmSync(t.base, { recursive: true, force: true });
  }
});

test('a DNS backup swapped for a symbolic link is not followed on restore', async () => {
  const t = tmpRun();
  try {
    writeFileSync(t.resolv, 'nameserver 192.0.2.1\n');
    const { run } = recorder();
    const a = new NetConfigurator({
      run,
      journalPath: t.journal,
      resolvConf: t.resolv,
      dnsBackend: 'file',
    });
    await a.setDns('vpn0', ['10.0.0.53'], []);
    const backup = dnsBackupPath(t.journal);
    const secret = join(t.base, 'secret');
    writeFileSync(secret, 'do not copy\n');
    rmSync(backup);
    symlinkSync(secret, backup);
    const errors = await a.restore();
    assert.match(errors.join('\n'), /symbolic link/);
    assert.doesNotMatch(readFileSync(t.resolv, 'utf8'), /do not copy/);
  } finally {
    rmSync(t.base, { recursive: true, force: true });
  }
});

test('gateway-supplied values reach resolvectl after "--" and are checked', async () => {
  const t = tmpRun();
  try {
    const { run, calls } = recorder();
    const cfg = new NetConfigurator({ run, dnsBackend: 'resolvectl' });
    await cfg.setDns('vpn0', ['10.0.0.53', '2001:db8::53'], ['corp.example']);
    assert.deepEqual(calls.slice(0, 2), [
      { cmd: 'resolvectl', args: ['dns', 'vpn0', '--', '10.0.0.53', '2001:db8::53'] },
      { cmd: 'resolvectl', args: ['domain', 'vpn0', '--', '~corp.example'] },
    ]);
    await assert.rejects(cfg.setDns('vpn0', ['--set-dns'], []), /invalid DNS server/);
    await assert.rejects(cfg.setDns('vpn0', ['10.0.0.53'], ['-h']), /invalid DNS domain/);
    await assert.rejects(cfg.setDns('vpn0', ['10.0.0.53'], ['a b']), /invalid DNS domain/);
    await cfg.restore();
    assert.deepEqual(calls.at(-1), { cmd: 'resolvectl', args: ['revert', '--', 'vpn0'] });
  } finally {
    rmSync(t.base, { recursive: true, force: true });
  }
});

test('a symbolic link planted at <name>.journal.tmp is not followed: the victim file is untouched', async () => {
  const t = tmpRun();
  try {
    const victim = join(t.base, 'victim');
    writeFileSync(victim, 'precious\n');
    symlinkSync(victim, `${t.journal}.tmp`);
    const { run } = recorder();
    const cfg = new NetConfigurator({ run, journalPath: t.journal });
    await cfg.addAddress('vpn0', '10.0.0.2/32');
    assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
    assert.ok(!lstatSync(t.journal).isSymbolicLink());
    assert.equal(statSync(t.journal).mode & 0o777, 0o600);
    assert.equal(readJournal(t.journal)?.entries.length, 1);
    await cfg.restore();
  } finally {
    rmSync(t.base, { recursive: true, force: true });
  }
});

test('connect configures the TUN link with one ip link show: setUp reuses what setMtu read', async () => {
  const { run, calls } = recorder();
  const cfg = new NetConfigurator({ run });
  // The order of tunnel.ts's configureHost.
  await cfg.setMtu('vpn0', 1400);
  await cfg.addAddress('vpn0', '10.9.0.2/32');
  await cfg.setUp('vpn0');
  const shows = calls.filter((c) => c.args.includes('show'));
  assert.equal(shows.length, 1, JSON.stringify(calls));
  assert.deepEqual(
    calls.map((c) => c.args.join(' ')),
    [
      '-j link show dev vpn0',
      'link set dev vpn0 mtu 1400',
      'addr add 10.9.0.2/32 dev vpn0',
      'link set dev vpn0 up',
    ],
  );
  // Still journaled as before: the old MTU, the address, and "was down".
  assert.deepEqual(cfg.journal(), [
    { kind: 'mtu', dev: 'vpn0', old: 1500 },
    { kind: 'addr', dev: 'vpn0', cidr: '10.9.0.2/32' },
    { kind: 'up', dev: 'vpn0' },
  ]);
  // Taken once: a later setUp reads the link again.
  await cfg.setUp('vpn0');
  assert.equal(calls.filter((c) => c.args.includes('show')).length, 2);
});
