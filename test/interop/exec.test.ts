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
import { chmodSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BIN,
  Bed,
  GW,
  LAN_HOST,
  ROOT,
  missingTools,
  skipReason,
  sleep,
  waitExit,
} from './support.js';
import { EXIT } from '../../src/cli/exit-codes.js';

const skip = skipReason();
const ID = ['--id', 'client@test', '--remote-id', '@gw.test'];

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
  return [...ns, ...etc.map((n) => `/etc/netns/${n}`)];
}

describe('interop: vpn exec runs a command where the tunnel is the only network', { skip }, () => {
  const bed = new Bed('exec');
  let baseline = '';
  let before0: string[] = [];

  before(() => {
    bed.up();
    baseline = bed.snapshot();
    before0 = leftovers();
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
    assert.deepEqual(leftovers(), before0, 'no namespace left behind');
  });

  test('`-- false` exits 1; the tunnel ends with the command (no SA left on the gateway)', async () => {
    const r = vpnExec(['--psk-file', bed.psk], ['false']);
    assert.equal(r.code, 1, r.out + r.err);
    assert.equal(bed.snapshot(), baseline);
    assert.deepEqual(leftovers(), before0);
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
    assert.deepEqual(leftovers(), before0);
  });

  test('SIGTERM goes to the command (exit 143) and the namespace is removed', async () => {
    const { proc, out } = await startExec(['--psk-file', bed.psk], 'echo ready; exec sleep 30');
    assert.match(out(), /ready/);
    // ip netns exec exec()s node: proc is the vpn process itself.
    proc.kill('SIGTERM');
    assert.equal(await waitExit(proc, 20000), 143, out());
    assert.equal(bed.snapshot(), baseline);
    assert.deepEqual(leftovers(), before0);
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
    assert.deepEqual(leftovers(), before0);
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
    assert.deepEqual(leftovers(), before0);
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
    assert.deepEqual(leftovers(), before0);
  });

  test('without CAP_SYS_ADMIN: exit 8 and a clear reason, nothing created', (t) => {
    if (missingTools('setpriv')) return t.skip('setpriv not installed');
    // Root without CAP_SYS_ADMIN (as in a container): dropped from the bounding set before exec.
    const r = spawnSync(
      'setpriv',
      [
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
    assert.match(r.stderr, /needs root .*CAP_SYS_ADMIN/);
    assert.deepEqual(leftovers(), before0);
  });
});
