/**
 * `vpn exec` against the test bed's strongSwan gateway (issue 13, "It must show" 4, as root):
 * run inside the bed's client namespace (the "caller's namespace"), COMMAND runs in a private
 * namespace where the tunnel is the only network. Its exit status comes back; the client
 * namespace's addresses, routes and resolv.conf are byte-identical afterwards; no namespace and
 * no /etc/netns directory is left, also after a failed connect and after SIGTERM.
 */
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  BIN,
  Bed,
  GW,
  LAN_HOST,
  ROOT,
  firstOutput,
  missingTools,
  skipReason,
  sleep,
  waitExit,
} from './support.js';
import { EXIT } from '../../src/cli/exit-codes.js';

const skip = skipReason();
const ID = ['--id', 'client@test', '--remote-id', '@gw.test'];
/** The gateway pushes this DNS server (scripts/testbed/up.sh); the tests put it on the LAN. */
const DNS = '203.0.113.53';
const NAME = 'files.vpn.test';
const PORT = 8080;
/** Unprivileged `vpn exec` needs these besides the bed's tools. */
const usernsSkip = missingTools('setpriv', 'unshare', 'nsenter', 'curl');

/** uid and gid of nobody. */
function nobody(): { uid: number; gid: number } {
  const id = (f: string): number =>
    Number(spawnSync('id', [f, 'nobody'], { encoding: 'utf8' }).stdout.trim());
  return { uid: id('-u'), gid: id('-g') };
}

/** Namespaces `vpn exec` names vpnx-<pid>: none may be left behind. */
function leftovers(): string[] {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
  const ns = list
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith('vpnx-'));
  const etc = existsSync('/etc/netns')
    ? readdirSync('/etc/netns').filter((n) => n.startsWith('vpnx-'))
    : [];
  // Other sessions may run vpn exec at the same time: their live namespaces are not ours.
  const dead = (n: string): boolean => {
    try {
      process.kill(Number(n.slice(n.indexOf('vpnx-') + 5)), 0);
      return false;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ESRCH';
    }
  };
  return [...ns, ...etc.map((n) => `/etc/netns/${n}`)].filter(dead);
}

describe('interop: vpn exec runs a command where the tunnel is the only network', { skip }, () => {
  const bed = new Bed('exec');
  let baseline = '';
  let before0: string[] = [];
  /** What is left now that was not before the tests (a vpn exec may remove stale ones too). */
  const newLeftovers = (): string[] => leftovers().filter((n) => !before0.includes(n));

  let lan: ChildProcess | undefined;
  let sha = '';
  /** The host's own resolv.conf, which nothing here may change. */
  let hostResolv = '';

  before(async () => {
    bed.up();
    // The LAN: a 1 MB file on a web server, and the DNS server the gateway pushes (NAME).
    const body = randomBytes(1024 * 1024);
    sha = createHash('sha256').update(body).digest('hex');
    writeFileSync(join(bed.dir, 'file'), body);
    const a = spawnSync('ip', [
      '-n',
      bed.ns('lan'),
      'addr',
      'add',
      `${DNS}/25`,
      'dev',
      `${bed.prefix.slice(0, 8)}l0`,
    ]);
    assert.equal(a.status, 0, String(a.stderr));
    lan = spawn(
      'ip',
      [
        'netns',
        'exec',
        bed.ns('lan'),
        process.execPath,
        join(ROOT, 'test/interop/fixtures/lan-services.mjs'),
        LAN_HOST,
        String(PORT),
        DNS,
        join(bed.dir, 'file'),
        `${NAME}=${LAN_HOST}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    await firstOutput(lan, 'LAN web and DNS server');
    baseline = bed.snapshot();
    before0 = leftovers();
    hostResolv = readFileSync('/etc/resolv.conf', 'utf8');
  });
  after(() => {
    lan?.kill('SIGKILL');
  });
  after(() => bed.down());
  afterEach(() => bed.stopAll());

  const vpnExec = (args: string[], command: string[], timeout = 60000) =>
    bed.vpn(['exec', GW, ...ID, '--timeout', '10', ...args, '--', ...command], timeout);

  test("the command's exit status; ping and DNS through the tunnel; the client namespace unchanged", () => {
    // Inside: the LAN host answers through the tunnel, the gateway's DNS is in resolv.conf, and
    // the only devices are lo and the TUN device (with the virtual IP from 203.0.113.128/26).
    const script = [
      `ping -c1 -W2 ${LAN_HOST} >/dev/null || exit 20`,
      'grep -q "^nameserver 203.0.113.53$" /etc/resolv.conf || exit 21',
      'test "$(ip -o link show | wc -l)" = 2 || exit 22',
      'ip -o -4 addr show | grep -q "inet 203\\.0\\.113\\." || exit 23',
      'exit 7',
    ].join('; ');
    const r = vpnExec(['--psk-file', bed.psk], ['sh', '-c', script]);
    assert.equal(r.code, 7, r.out + r.err);
    assert.equal(bed.snapshot(), baseline, 'client namespace unchanged');
    assert.deepEqual(newLeftovers(), [], 'no namespace left behind');
  });

  test('`-- false` exits 1; the tunnel ends with the command (no SA left on the gateway)', async () => {
    const r = vpnExec(['--psk-file', bed.psk], ['false']);
    assert.equal(r.code, 1, r.out + r.err);
    assert.equal(bed.snapshot(), baseline);
    assert.deepEqual(newLeftovers(), []);
    // DELETE was sent: the gateway holds no IKE SA for us (give it a moment to log it).
    for (let i = 0; i < 20 && /ESTABLISHED/.test(bed.gwSas()); i++) await sleep(250);
    assert.doesNotMatch(bed.gwSas(), /ESTABLISHED/);
  });

  test('a wrong PSK: exit 4, no namespace left, the client namespace unchanged', () => {
    const bad = join(bed.dir, 'bad-psk');
    writeFileSync(bad, 'not the key\n');
    chmodSync(bad, 0o600);
    const r = vpnExec(['--psk-file', bad, '--retry', '0'], ['true']);
    assert.equal(r.code, EXIT.AUTH_FAILED, r.out + r.err);
    assert.equal(bed.snapshot(), baseline);
    assert.deepEqual(newLeftovers(), []);
  });

  test('SIGTERM goes to the command (exit 143) and the namespace is removed', async () => {
    const { proc, out } = await startExec(['--psk-file', bed.psk], 'echo ready; exec sleep 30');
    assert.match(out(), /ready/);
    // ip netns exec exec()s node: proc is the vpn process itself.
    proc.kill('SIGTERM');
    assert.equal(await waitExit(proc, 20000), 143, out());
    assert.equal(bed.snapshot(), baseline);
    assert.deepEqual(newLeftovers(), []);
  });

  test('after a kill -9 of vpn exec, the next vpn exec removes the namespace it left', async () => {
    const { proc, out } = await startExec(['--psk-file', bed.psk], 'echo ready; exec sleep 1');
    assert.match(out(), /ready/);
    proc.kill('SIGKILL');
    await waitExit(proc, 10000);
    const left = leftovers().filter((n) => !before0.includes(n));
    assert.deepEqual(
      left,
      [`vpnx-${proc.pid}`, `/etc/netns/vpnx-${proc.pid}`],
      'what kill -9 left',
    );
    await sleep(1500); // the orphaned `sleep 1` ends
    const r = vpnExec(['--psk-file', bed.psk], ['true']);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.err, new RegExp(`removed network namespace vpnx-${proc.pid}`));
    assert.deepEqual(newLeftovers(), []);
    assert.equal(bed.snapshot(), baseline);
  });

  /** Starts `vpn exec … -- sh -c SCRIPT` in the client namespace; resolves once it printed "ready". */
  async function startExec(
    args: string[],
    script: string,
    env: NodeJS.ProcessEnv = bed.env(),
  ): Promise<{ proc: ReturnType<typeof spawn>; out: () => string }> {
    const proc = bed.track(
      spawn(
        'ip',
        ['netns', 'exec', bed.cli, process.execPath, BIN, 'exec', GW, ...ID, ...args, '--'].concat([
          'sh',
          '-c',
          script,
        ]),
        { env, stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    );
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    for (let i = 0; i < 80 && !/ready/.test(out) && proc.exitCode === null; i++) await sleep(250);
    return { proc, out: () => out };
  }

  test('a DELETE from the gateway while the command runs: the command gets SIGTERM, exit 10', async () => {
    const { proc, out } = await startExec(
      ['--psk-file', bed.psk, '--retry', '0'],
      'trap "echo got-term; exit 0" TERM; echo ready; while :; do sleep 0.1; done',
    );
    assert.match(out(), /ready/);
    const t = spawnSync(
      'bash',
      [join(ROOT, 'scripts/testbed/gw.sh'), '--prefix', bed.prefix, '--terminate', '--ike', 'psk'],
      { encoding: 'utf8' },
    );
    assert.equal(t.status, 0, t.stderr);
    assert.equal(await waitExit(proc, 20000), EXIT.CLOSED_BY_GATEWAY, out());
    assert.match(out(), /got-term/);
    assert.equal(bed.snapshot(), baseline);
    assert.deepEqual(newLeftovers(), []);
  });

  test('the PSK from VPN_PSK never reaches the command: secret variables are removed', () => {
    const psk = readFileSync(bed.psk, 'utf8').trim();
    const r = spawnSync(
      'ip',
      ['netns', 'exec', bed.cli, process.execPath, BIN, 'exec', GW, ...ID, '--'].concat([
        'sh',
        '-c',
        'env | grep -q "^VPN_PSK=" && exit 30; test -n "$VPN_RUNTIME_DIR" || exit 31; exit 7',
      ]),
      { encoding: 'utf8', timeout: 60000, env: { ...bed.env(), VPN_PSK: psk } },
    );
    assert.equal(r.status, 7, r.stdout + r.stderr);
    assert.deepEqual(newLeftovers(), []);
  });

  test('without CAP_SYS_ADMIN and without user namespaces: exit 8 and a clear reason', (t) => {
    if (missingTools('setpriv', 'unshare')) return t.skip('setpriv or unshare not installed');
    // Root without CAP_SYS_ADMIN (as in a container), dropped from the bounding set before
    // exec, in a user namespace whose user.max_user_namespaces is 0: no way to a namespace.
    const r = spawnSync(
      'unshare',
      [
        '--user',
        '--map-root-user',
        'sh',
        '-c',
        'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"',
        'sh',
        'setpriv',
        '--bounding-set=-sys_admin',
        '--inh-caps=-sys_admin',
        process.execPath,
        BIN,
        'exec',
        GW,
        '--psk-file',
        bed.psk,
        '--',
        'true',
      ],
      { encoding: 'utf8', timeout: 20000, env: bed.env() },
    );
    assert.equal(r.status, EXIT.PRIVILEGE, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /needs root .*CAP_SYS_ADMIN.*or unprivileged user namespaces: user namespaces are disabled here \(user\.max_user_namespaces = 0\)/,
    );
    assert.deepEqual(newLeftovers(), []);
  });

  /** `vpn exec GW … -- sh -c SCRIPT` in the client namespace as nobody, with a home of its own. */
  /** The command line of `vpn exec GW … -- sh -c SCRIPT` in the client namespace as nobody. */
  function nobodyArgv(args: string[], script: string): { argv: string[]; run: string } {
    const { uid, gid } = nobody();
    const home = join(bed.dir, 'nobody');
    const run = join(home, 'run');
    mkdirSync(run, { recursive: true, mode: 0o700 });
    const psk = join(home, 'psk');
    writeFileSync(psk, readFileSync(bed.psk));
    chmodSync(bed.dir, 0o755);
    chmodSync(home, 0o700);
    chmodSync(psk, 0o600);
    for (const p of [home, run, psk]) chownSync(p, uid, gid);
    const argv = [
      'netns',
      'exec',
      bed.cli,
      'setpriv',
      '--reuid',
      String(uid),
      '--regid',
      String(gid),
      '--clear-groups',
      'env',
      '-i',
      'PATH=/usr/sbin:/usr/bin:/sbin:/bin',
      `HOME=${home}`,
      `XDG_RUNTIME_DIR=${run}`,
      'CI=true',
      process.execPath,
      BIN,
      'exec',
      GW,
      ...ID,
      '--timeout',
      '10',
      '--psk-file',
      psk,
      ...args,
      '--',
      'sh',
      '-c',
      script,
    ];
    // vpn's runtime directory: $XDG_RUNTIME_DIR/ikev2-vpn (src/config/load.ts).
    return { argv, run: join(run, 'ikev2-vpn') };
  }

  /** `vpn exec GW … -- sh -c SCRIPT` in the client namespace as nobody, with a home of its own. */
  function execAsNobody(args: string[], script: string) {
    const { argv, run } = nobodyArgv(args, script);
    const r = spawnSync('ip', argv, { encoding: 'utf8', timeout: 60000, cwd: '/' });
    return { code: r.status, out: r.stdout + r.stderr, run };
  }

  /** Inside: ping and a checksummed fetch by name (the gateway's DNS), only lo and the TUN. */
  const INSIDE = [
    `ping -c1 -W2 ${LAN_HOST} >/dev/null || exit 20`,
    `test "$(curl -sS --fail -m 10 http://${NAME}:${PORT}/file | sha256sum | cut -d' ' -f1)" = "$SHA" || exit 21`,
    `grep -q "^nameserver ${DNS}$" /etc/resolv.conf || exit 22`,
    'test "$(ip -o link show | wc -l)" = 2 || exit 23',
  ];

  test('as nobody (user namespaces): ping and curl by name through the tunnel; exit status; host unchanged', (t) => {
    if (usernsSkip) return t.skip(usernsSkip);
    const script = [`SHA=${sha}`, ...INSIDE, 'exit 7'].join('; ');
    const r = execAsNobody([], script);
    assert.equal(r.code, 7, r.out);
    assert.match(r.out, /running sh in network namespace userns-\d+/);
    assert.equal(bed.snapshot(), baseline, 'client namespace unchanged');
    assert.equal(readFileSync('/etc/resolv.conf', 'utf8'), hostResolv, "host's resolv.conf");
    assert.deepEqual(newLeftovers(), []);
    assert.deepEqual(
      readdirSync(r.run).filter((n) => n.startsWith('exec-')),
      [],
      'its resolv.conf removed',
    );
  });

  test('as nobody: `-- false` exits 1; a wrong PSK exits 4; nothing left behind', (t) => {
    if (usernsSkip) return t.skip(usernsSkip);
    assert.equal(execAsNobody([], 'false').code, 1);
    const wrong = join(bed.dir, 'nobody', 'bad-psk');
    writeFileSync(wrong, 'not the key\n');
    chmodSync(wrong, 0o600);
    chownSync(wrong, nobody().uid, nobody().gid);
    const r = execAsNobody(['--psk-file', wrong, '--retry', '0'], 'exit 0');
    assert.equal(r.code, EXIT.AUTH_FAILED, r.out);
    assert.equal(bed.snapshot(), baseline);
    assert.deepEqual(newLeftovers(), []);
    assert.deepEqual(
      readdirSync(r.run).filter((n) => n.startsWith('exec-')),
      [],
    );
  });

  test('as nobody: SIGTERM reaches the command (143); after a kill -9 the next run cleans up', async (t) => {
    if (usernsSkip) return t.skip(usernsSkip);
    const start = async (): Promise<{ proc: ChildProcess; out: () => string; run: string }> => {
      const { argv, run } = nobodyArgv([], 'echo ready; exec sleep 5');
      const proc = bed.track(spawn('ip', argv, { stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' }));
      let out = '';
      proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
      for (let i = 0; i < 160 && !/ready/.test(out) && proc.exitCode === null; i++)
        await sleep(125);
      return { proc, out: () => out, run };
    };
    const a = await start();
    assert.match(a.out(), /ready/);
    a.proc.kill('SIGTERM'); // ip netns exec, setpriv and env exec: this is vpn itself
    assert.equal(await waitExit(a.proc, 20000), 143, a.out());
    assert.deepEqual(
      readdirSync(a.run).filter((n) => n.startsWith('exec-')),
      [],
    );
    const b = await start();
    assert.match(b.out(), /ready/);
    b.proc.kill('SIGKILL');
    await waitExit(b.proc, 10000);
    const left = readdirSync(b.run).filter((n) => n.startsWith('exec-'));
    assert.deepEqual(left, [`exec-${b.proc.pid}.resolv.conf`], 'what kill -9 left');
    const r = execAsNobody([], 'exit 0');
    assert.equal(r.code, 0, r.out);
    assert.match(
      r.out,
      new RegExp(`removed exec-${b.proc.pid}\\.resolv\\.conf left by a vpn exec`),
    );
    assert.deepEqual(
      readdirSync(r.run).filter((n) => n.startsWith('exec-')),
      [],
    );
    assert.equal(bed.snapshot(), baseline);
  });

  test('root without CAP_SYS_ADMIN (a container): the command runs through a user namespace', (t) => {
    if (usernsSkip) return t.skip(usernsSkip);
    const r = spawnSync(
      'ip',
      [
        'netns',
        'exec',
        bed.cli,
        'setpriv',
        '--bounding-set=-sys_admin',
        '--inh-caps=-sys_admin',
        process.execPath,
        BIN,
        'exec',
        GW,
        ...ID,
        '--psk-file',
        bed.psk,
        '--',
        'sh',
        '-c',
        [`SHA=${sha}`, ...INSIDE, 'exit 5'].join('; '),
      ],
      { encoding: 'utf8', timeout: 60000, env: bed.env() },
    );
    assert.equal(r.status, 5, r.stdout + r.stderr);
    assert.equal(bed.snapshot(), baseline);
    assert.deepEqual(newLeftovers(), []);
  });

  test('vpn exec PROFILE: the settings come from the profile (its background/name ignored)', () => {
    const dir = join(bed.dir, 'profiles');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(
      join(dir, 'office.conf'),
      [
        `gateway = ${GW}`,
        'id = client@test',
        'remote-id = @gw.test',
        `psk-file = ${bed.psk}`,
        'background = true',
        'name = office-tunnel',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const r = spawnSync(
      'ip',
      [
        'netns',
        'exec',
        bed.cli,
        process.execPath,
        BIN,
        'exec',
        'office',
        '--',
        'sh',
        '-c',
        [`SHA=${sha}`, ...INSIDE, 'exit 9'].join('; '),
      ],
      { encoding: 'utf8', timeout: 60000, env: { ...bed.env(), VPN_PROFILE_DIR: dir } },
    );
    assert.equal(r.status, 9, r.stdout + r.stderr);
    assert.equal(bed.snapshot(), baseline);
    assert.deepEqual(newLeftovers(), []);
  });
});
