/**
 * Proxy mode against the test bed's strongSwan gateway (issue 13, "It must show" 3): in the bed's
 * client namespace, which has no TUN device, as the unprivileged user `nobody`, `vpn connect
 * --socks5 127.0.0.1:1080` carries curl's traffic through ocproxy and the tunnel: a name resolved
 * by the gateway-pushed DNS server (`--socks5-hostname`, on the LAN) and a plain IP address both
 * fetch a file with the right SHA-256. Nothing in the client namespace changes (no device, no
 * route, resolv.conf as it was); ocproxy that dies is started again; SIGTERM ends both.
 */
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BIN,
  Bed,
  GW,
  LAN_HOST,
  ROOT,
  firstOutput,
  skipReason,
  sleep,
  waitExit,
} from './support.js';
import { EXIT } from '../../src/cli/exit-codes.js';

const skip = skipReason('ocproxy', 'curl', 'setpriv');
const ID = ['--id', 'client@test', '--remote-id', '@gw.test'];
/** The gateway pushes this DNS server (scripts/testbed/up.sh); the test puts it on the LAN. */
const DNS = '203.0.113.53';
const NAME = 'files.vpn.test';
const PORT = 8080;

/** uid/gid of nobody/nogroup, from the system's databases. */
function ids(): { uid: number; gid: number } {
  const uid = Number(spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'nobody'], { encoding: 'utf8' }).stdout.trim());
  return { uid, gid };
}

/** The Uid: line of /proc/PID/status: real, effective, saved, fs. */
function uidsOf(pid: number): string {
  return /^Uid:\s*(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '';
}

describe('interop: proxy mode (--socks5) as an unprivileged user, no TUN device', { skip }, () => {
  const bed = new Bed('prx');
  const { uid, gid } = skip ? { uid: 0, gid: 0 } : ids();
  let home = '';
  let psk = '';
  let sha = '';
  let lan: ChildProcess | undefined;
  let baseline = '';

  before(async () => {
    bed.up();
    // A home for nobody: its runtime directory (XDG_RUNTIME_DIR, mode 700) and its PSK file.
    home = join(bed.dir, 'nobody');
    mkdirSync(join(home, 'run'), { recursive: true, mode: 0o700 });
    psk = join(home, 'psk');
    writeFileSync(psk, readFileSync(bed.psk));
    chmodSync(bed.dir, 0o755);
    chmodSync(home, 0o700);
    chmodSync(psk, 0o600);
    for (const p of [home, join(home, 'run'), psk]) chownSync(p, uid, gid);
    // The LAN: a 3 MB file on a web server, and the DNS server the gateway pushes.
    const body = randomBytes(3 * 1024 * 1024);
    sha = createHash('sha256').update(body).digest('hex');
    const file = join(bed.dir, 'file');
    writeFileSync(file, body);
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
    lan = bed.spawnIn(bed.ns('lan'), [
      process.execPath,
      join(ROOT, 'test/interop/fixtures/lan-services.mjs'),
      LAN_HOST,
      String(PORT),
      DNS,
      file,
      `${NAME}=${LAN_HOST}`,
    ]);
    await firstOutput(lan, 'LAN web and DNS server');
    baseline = bed.snapshot();
  });
  after(() => bed.down());
  // Only the vpn processes: the LAN servers serve every test.
  afterEach(async () => {
    await Promise.all([...running].map((p) => bed.stop(p)));
    running.clear();
  });

  const running = new Set<ChildProcess>();

  /** `vpn connect --json --socks5 ...` as nobody in the client namespace; resolves at "proxy". */
  async function connectAsNobody(
    args: string[],
    env: Record<string, string> = {},
  ): Promise<{ proc: ChildProcess; events: () => Record<string, unknown>[]; out: () => string }> {
    const proc = spawn(
      'ip',
      [
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
        `XDG_RUNTIME_DIR=${join(home, 'run')}`,
        'CI=true',
        ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
        process.execPath,
        BIN,
        'connect',
        GW,
        ...ID,
        '--psk-file',
        psk,
        '--json',
        ...args,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    running.add(proc);
    let text = '';
    proc.stdout.on('data', (d: Buffer) => (text += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (text += d.toString()));
    const events = (): Record<string, unknown>[] =>
      text.split('\n').flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
    for (let i = 0; i < 160 && !/"event":"proxy"/.test(text) && proc.exitCode === null; i++)
      await sleep(125);
    return { proc, events, out: () => text };
  }

  /** curl in the client namespace (as root: any local user may use the proxy); the body's SHA-256. */
  function fetch(proxyFlag: '--socks5-hostname' | '--socks5', url: string): string {
    const r = spawnSync(
      'ip',
      [
        'netns',
        'exec',
        bed.cli,
        'curl',
        '-sS',
        '--fail',
        '-m',
        '20',
        proxyFlag,
        '127.0.0.1:1080',
        url,
      ],
      { timeout: 30000, maxBuffer: 16 * 1024 * 1024 },
    );
    assert.equal(r.status, 0, `curl ${url}: ${String(r.stderr)}`);
    return createHash('sha256').update(r.stdout).digest('hex');
  }

  /** ocproxy's pids, from the "proxy" events (one each time it serves SOCKS5). */
  function ocproxyPids(events: Record<string, unknown>[]): number[] {
    return events.filter((x) => x['event'] === 'proxy').map((x) => Number(x['pid']));
  }

  for (const fastPath of ['1', '0']) {
    const path = fastPath === '1' ? 'native data plane' : 'JavaScript ESP';
    test(`${path}: a name through the gateway's DNS and an IP both fetch the file; nothing changes`, async () => {
      const { proc, events, out } = await connectAsNobody(['--socks5', '127.0.0.1:1080'], {
        VPN_FAST_PATH: fastPath,
      });
      assert.match(out(), /"event":"proxy"/, out());
      const [, ruid, euid] = /^(\d+)\s+(\d+)/.exec(uidsOf(proc.pid!)) ?? [];
      // ip netns exec, then setpriv and env exec: proc.pid is the vpn process itself.
      assert.deepEqual([Number(ruid), Number(euid)], [uid, uid], 'vpn runs as nobody');
      const [pid] = ocproxyPids(events());
      assert.ok(pid, out());
      assert.match(uidsOf(pid), new RegExp(`^${uid}\\s+${uid}\\s`), 'ocproxy runs as nobody');
      assert.equal(fetch('--socks5-hostname', `http://${NAME}:${PORT}/file`), sha);
      // Longer than ocproxy's one-second liveness check (an empty datagram on the pair), which
      // the data plane must skip, not take for the end of the TUN descriptor.
      await sleep(2500);
      assert.equal(fetch('--socks5', `http://${LAN_HOST}:${PORT}/file`), sha);
      // No TUN device, route, address or DNS change in the client namespace.
      assert.equal(bed.snapshot(), baseline);
      proc.kill('SIGTERM');
      assert.equal(await waitExit(proc, 15000), 0, out());
      running.delete(proc);
      assert.throws(() => process.kill(pid, 0), /ESRCH/, 'ocproxy ended with vpn');
      assert.equal(bed.snapshot(), baseline);
    });
  }

  test('ocproxy killed under the tunnel is started again; the proxy keeps working', async () => {
    const { proc, events, out } = await connectAsNobody(['--socks5', '1080']);
    const [first] = ocproxyPids(events());
    assert.ok(first, out());
    process.kill(first, 'SIGKILL');
    let pids = [first];
    for (let i = 0; i < 80 && pids.length < 2; i++) {
      await sleep(125);
      pids = ocproxyPids(events());
    }
    assert.equal(pids.length, 2, out());
    assert.notEqual(pids[1], first);
    assert.match(out(), /ocproxy stopped \(exit SIGKILL\); starting it again/);
    let sum = '';
    for (let i = 0; i < 40 && sum !== sha; i++) {
      const r = spawnSync(
        'ip',
        [
          'netns',
          'exec',
          bed.cli,
          'curl',
          '-sS',
          '--fail',
          '-m',
          '10',
          '--socks5',
          '127.0.0.1:1080',
          `http://${LAN_HOST}:${PORT}/file`,
        ],
        { timeout: 20000, maxBuffer: 16 * 1024 * 1024 },
      );
      if (r.status === 0) sum = createHash('sha256').update(r.stdout).digest('hex');
      else await sleep(125);
    }
    assert.equal(sum, sha, out());
    proc.kill('SIGTERM');
    assert.equal(await waitExit(proc, 15000), 0, out());
    running.delete(proc);
  });

  test('--background returns once the proxy serves; vpn disconnect ends ocproxy too', async () => {
    const asNobody = (args: string[]) =>
      spawnSync(
        'ip',
        [
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
          `XDG_RUNTIME_DIR=${join(home, 'run')}`,
          'CI=true',
          process.execPath,
          BIN,
          ...args,
        ],
        { encoding: 'utf8', timeout: 60000 },
      );
    const up = asNobody([
      'connect',
      GW,
      ...ID,
      '--psk-file',
      psk,
      '--socks5',
      '1080',
      '--background',
      '--json',
    ]);
    assert.equal(up.status, 0, up.stdout + up.stderr);
    const pid = (JSON.parse(up.stdout.trim().split('\n').at(-1)!) as { pid: number }).pid;
    try {
      // No wait: --background returned only once ocproxy accepted connections.
      assert.equal(fetch('--socks5', `http://${LAN_HOST}:${PORT}/file`), sha);
      const down = asNobody(['disconnect']);
      assert.equal(down.status, 0, down.stdout + down.stderr);
    } finally {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone, as it should be
      }
    }
    // The tunnel process is gone, and so is its ocproxy (SIGTERM as the tunnel went down):
    // nothing listens on the port a moment later.
    const listening = (): string =>
      spawnSync('ip', ['netns', 'exec', bed.cli, 'ss', '-Hltn', 'sport = :1080'], {
        encoding: 'utf8',
      }).stdout.trim();
    for (let i = 0; i < 40 && listening() !== ''; i++) await sleep(50);
    const port = { stdout: listening() };
    assert.equal(port.stdout.trim(), '', 'nothing listens on 1080 any more');
    assert.equal(bed.snapshot(), baseline);
  });

  test('no ocproxy on the PATH: exit 18 with the package to install, before any IKE message', async () => {
    const { proc, out } = await connectAsNobody(['--socks5', '127.0.0.1:1080'], {
      PATH: '/nonexistent',
    });
    assert.equal(await waitExit(proc, 15000), EXIT.PROXY_MISSING, out());
    running.delete(proc);
    assert.match(out(), /needs ocproxy.*apt-get install ocproxy/);
    assert.doesNotMatch(out(), /ike-sa-init/);
  });
});
