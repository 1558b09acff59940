/**
 * issue 14 item 3: the systemd unit (systemd/ikev2-vpn@.service), `vpn install-service` and
 * sd_notify (src/cli/sd-notify.ts over native/notify.c). The unit run for real under a notify
 * socket against the test bed is in test/interop/service.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VpnError } from '../../src/core/errors.js';
import { SdNotify, checkNotifySocket, notifyFor } from '../../src/cli/sd-notify.js';
import {
  serviceRetryForever,
  shippedUnitPath,
  unitText,
  unitWord,
} from '../../src/cli/service-command.js';
import type { TunnelSummary } from '../../src/client/tunnel.js';
import { repoRoot } from '../support/paths.js';

const ROOT = repoRoot();
const BIN = join(ROOT, 'bin/vpn.js');
const ADDON = join(ROOT, 'build/Release/esp.node');
const hasPython = spawnSync('python3', ['-c', 'import socket'], { timeout: 10000 }).status === 0;
const tool = (t: string): boolean =>
  ['/usr/bin', '/bin', '/usr/local/bin'].some((d) => existsSync(join(d, t)));

/** A notify socket (python3: Node has no AF_UNIX datagrams); resolves with its received lines. */
async function receiver(
  address: string,
): Promise<{ messages: string[]; close: () => void; wait: (n: number) => Promise<void> }> {
  const py = spawn(
    'python3',
    [
      '-c',
      `import socket,sys,json
s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)
p=sys.argv[1]
s.bind(('\\0'+p[1:]) if p.startswith('@') else p)
print('ready',flush=True)
while True:
  print(json.dumps(s.recv(8192).decode()),flush=True)`,
      address,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const messages: string[] = [];
  let buf = '';
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  py.stdout.setEncoding('utf8');
  py.stdout.on('data', (d: string) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line === 'ready') ready();
      else messages.push(JSON.parse(line) as string);
    }
  });
  const t = setTimeout(() => ready(), 10000);
  await isReady;
  clearTimeout(t);
  return {
    messages,
    close: () => py.kill('SIGKILL'),
    wait: async (n) => {
      for (let i = 0; i < 200 && messages.length < n; i++)
        await new Promise((r) => setTimeout(r, 25));
    },
  };
}

test('NOTIFY_SOCKET is checked: absolute paths and abstract names only, bounded, no control bytes', () => {
  assert.deepEqual(checkNotifySocket('/run/systemd/notify'), { path: '/run/systemd/notify' });
  assert.deepEqual(checkNotifySocket('@/org/freedesktop/x'), { path: '@/org/freedesktop/x' });
  for (const bad of ['', '/', 'relative/sock', 'vsock:2:1234', `/${'a'.repeat(107)}`, '/a\nb'])
    assert.ok('refused' in checkNotifySocket(bad), JSON.stringify(bad));
});

test('without NOTIFY_SOCKET nothing is sent; a hostile one is refused with one warning and removed from the environment', () => {
  const sent: string[] = [];
  const addon = { notify: (p: string) => (sent.push(p), 1) };
  const none = new SdNotify({}, () => assert.fail('no warning'), addon);
  none.send('READY=1');
  assert.equal(none.enabled, false);
  const warnings: string[] = [];
  const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: `/${'x'.repeat(200)}` };
  const bad = new SdNotify(env, (m) => warnings.push(m), addon);
  bad.send('READY=1');
  assert.equal(bad.enabled, false);
  assert.equal(warnings.length, 1);
  assert.equal(env['NOTIFY_SOCKET'], undefined, 'not passed on to the commands we run');
  assert.deepEqual(sent, []);
});

test('the state becomes STATUS= lines; READY=1 only with up; STOPPING=1 with down', () => {
  const summary = {
    gateway: 'gw.example',
    device: 'vpn0',
    virtualIp4: '203.0.113.130',
  } as TunnelSummary;
  assert.equal(
    notifyFor({ type: 'stage', stage: 'ike-sa-init' }),
    'STATUS=connecting: IKE_SA_INIT',
  );
  assert.equal(notifyFor({ type: 'stage', stage: 'ike-auth' }), 'STATUS=authenticating');
  assert.equal(
    notifyFor({ type: 'up', summary }),
    'READY=1\nSTATUS=up 203.0.113.130 via gw.example on vpn0',
  );
  const r = notifyFor({ type: 'reconnecting', attempt: 2, inMs: 2000, reason: 'dead\npeer' });
  assert.equal(r, 'STATUS=reconnecting (attempt 2 in 2 s): dead peer');
  assert.match(notifyFor({ type: 'wake', sleptMs: 61000 })!, /^STATUS=woke after 61 s/);
  assert.match(
    notifyFor({ type: 'down', byPeer: true, error: new VpnError('ERR_IKE_DELETED', 'x') })!,
    /^STOPPING=1\nSTATUS=down: x$/,
  );
  for (const e of [
    notifyFor({ type: 'stage', stage: 'ike-auth' }),
    notifyFor({ type: 'reconnecting', attempt: 1, inMs: 0, reason: 'r' }),
    notifyFor({ type: 'wake', sleptMs: 1 }),
  ])
    assert.doesNotMatch(e!, /READY=1/);
  const long = notifyFor({ type: 'reconnecting', attempt: 1, inMs: 0, reason: 'y'.repeat(5000) });
  assert.ok(long!.length < 260, 'STATUS is bounded');
});

test(
  'sd_notify through the addon reaches a real AF_UNIX datagram socket (path and abstract)',
  { skip: !hasPython ? 'python3 missing' : !existsSync(ADDON) ? 'esp addon not built' : false },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vpn-notify-'));
    for (const address of [join(dir, 'notify'), `@ikev2-vpn-test-${process.pid}`]) {
      const rx = await receiver(address);
      try {
        const warnings: string[] = [];
        const n = new SdNotify({ NOTIFY_SOCKET: address }, (m) => warnings.push(m));
        assert.equal(n.enabled, true);
        n.send('STATUS=authenticating');
        n.send('READY=1\nSTATUS=up 203.0.113.130');
        await rx.wait(2);
        assert.deepEqual(rx.messages, [
          'STATUS=authenticating',
          'READY=1\nSTATUS=up 203.0.113.130',
        ]);
        assert.deepEqual(warnings, []);
      } finally {
        rx.close();
      }
    }
    // Nobody listening: one warning, no throw, no more attempts.
    const warnings: string[] = [];
    const n = new SdNotify({ NOTIFY_SOCKET: join(dir, 'gone') }, (m) => warnings.push(m));
    n.send('READY=1');
    n.send('STATUS=x');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /ENOENT|No such file/);
    rmSync(dir, { recursive: true, force: true });
  },
);

test('unit words: spaces quoted, % and $ escaped, quotes and control bytes refused', () => {
  assert.equal(unitWord('/usr/bin/node'), '/usr/bin/node');
  assert.equal(unitWord('/opt/my vpn/bin/vpn.js'), '"/opt/my vpn/bin/vpn.js"');
  assert.equal(unitWord('/opt/50%/$x'), '/opt/50%%/$$x');
  assert.throws(() => unitWord('/a"b'), /cannot put/);
  assert.throws(() => unitWord('/a\nb'), /cannot put/);
});

test('install-service --print: the shipped unit with ExecStart at this vpn; systemd-analyze verify is clean', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vpn-svc-'));
  try {
    writeFileSync(join(dir, 'office.conf'), 'gateway = 198.51.100.10\nid = client@test\n');
    const r = spawnSync(process.execPath, [BIN, 'install-service', 'office', '--print'], {
      encoding: 'utf8',
      env: { ...process.env, VPN_PROFILE_DIR: dir },
      timeout: 30000,
    });
    assert.equal(r.status, 0, r.stderr);
    const unit = r.stdout;
    assert.equal(unit, unitText(readFileSync(shippedUnitPath(), 'utf8'), process.execPath, BIN));
    const exec = unit.split('\n').find((l) => l.startsWith('ExecStart='));
    assert.equal(exec, `ExecStart=${process.execPath} ${BIN} connect %i`);
    for (const want of [
      'Type=notify',
      'Restart=on-failure',
      'DeviceAllow=/dev/net/tun rw',
      'ProtectSystem=strict',
      'RuntimeDirectoryPreserve=yes',
    ])
      assert.ok(unit.includes(`\n${want}\n`), want);
    assert.match(unit, /\nCapabilityBoundingSet=CAP_NET_ADMIN\b/);
    if (tool('systemd-analyze')) {
      const unitFile = join(dir, 'ikev2-vpn@office.service');
      writeFileSync(unitFile, unit);
      const v = spawnSync('systemd-analyze', ['verify', unitFile], {
        encoding: 'utf8',
        timeout: 60000,
      });
      assert.equal(v.status, 0, v.stderr);
      assert.equal(v.stderr.trim(), '', 'no warnings');
    }
    // Unknown profile and a bad name: exit 2, nothing written.
    for (const name of ['nosuch', '../etc']) {
      const bad = spawnSync(
        process.execPath,
        [BIN, 'install-service', name, '--unit-dir', dir, '--no-enable'],
        { encoding: 'utf8', env: { ...process.env, VPN_PROFILE_DIR: dir }, timeout: 30000 },
      );
      assert.equal(bad.status, 2, bad.stderr);
      assert.equal(existsSync(join(dir, 'ikev2-vpn@.service')), false);
    }
    const ok = spawnSync(
      process.execPath,
      [BIN, 'install-service', 'office', '--unit-dir', dir, '--no-enable'],
      { encoding: 'utf8', env: { ...process.env, VPN_PROFILE_DIR: dir }, timeout: 30000 },
    );
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(readFileSync(join(dir, 'ikev2-vpn@.service'), 'utf8'), unit);
    assert.match(ok.stderr, /systemctl daemon-reload && systemctl enable --now ikev2-vpn@office/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('under a service --retry defaults to forever; the command line or the profile still wins', () => {
  const svc = { NOTIFY_SOCKET: '/run/systemd/notify' };
  assert.equal(serviceRetryForever(svc, 'default', { values: {} }), true);
  assert.equal(serviceRetryForever(svc, 'default', undefined), true);
  assert.equal(serviceRetryForever(svc, 'cli', { values: {} }), false);
  assert.equal(serviceRetryForever(svc, 'default', { values: { retry: 3 } }), false);
  assert.equal(serviceRetryForever({}, 'default', { values: {} }), false);
});
