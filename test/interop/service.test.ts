/**
 * issue 14 item 3, "It must show" 3: the systemd unit's ExecStart, run the way systemd runs it.
 * PID 1 here is not systemd and there is no systemd-nspawn, so the test takes ExecStart from the
 * unit `vpn install-service NAME --print` writes (the shipped systemd/ikev2-vpn@.service), puts
 * the profile name in for %i, and runs it in the client namespace with NOTIFY_SOCKET pointing at
 * a datagram socket of its own (python3: Node has no AF_UNIX datagrams). READY=1 must arrive only
 * once the tunnel carries traffic (a ping through it succeeds at that moment), the STATUS= lines
 * must follow the state, and SIGTERM (systemctl stop) gives STOPPING=1 and exit 0. With a wrong
 * PSK: no READY=1 and a failing exit code (4), which Restart=on-failure acts on.
 */
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, Bed, GW, LAN_HOST, missingTools, skipReason, waitExit } from './support.js';

const skip = skipReason() ?? missingTools('python3');

/** The notify socket: every datagram, in order, as text. */
function notifySocket(path: string): Promise<{ proc: ChildProcess; messages: string[] }> {
  const py = spawn(
    'python3',
    [
      '-c',
      `import socket,sys,json
s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print('ready',flush=True)
while True:
  print(json.dumps(s.recv(8192).decode()),flush=True)`,
      path,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const messages: string[] = [];
  let buf = '';
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('notify socket: python3 did not start')), 15000);
    py.stdout.setEncoding('utf8');
    py.stdout.on('data', (d: string) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === 'ready') {
          clearTimeout(t);
          resolve({ proc: py, messages });
        } else messages.push(JSON.parse(line) as string);
      }
    });
  });
}

describe('the systemd unit run under a notify socket (issue 14)', { skip }, () => {
  let bed: Bed;
  let profiles: string;
  before(() => {
    bed = new Bed('sv');
    bed.up();
    profiles = join(bed.dir, 'profiles');
    spawnSync('mkdir', ['-p', profiles]);
    const conf = (name: string, psk: string): void => {
      writeFileSync(join(profiles, `${name}.psk`), psk);
      chmodSync(join(profiles, `${name}.psk`), 0o600);
      writeFileSync(
        join(profiles, `${name}.conf`),
        `[connect]\ngateway = ${GW}\nid = client@test\nremote-id = @gw.test\npsk-file = ${name}.psk\n`,
      );
    };
    conf('office', spawnSync('cat', [bed.psk], { encoding: 'utf8' }).stdout);
    conf('wrongpsk', 'not the right key\n');
  });
  after(() => bed?.down());
  afterEach(async () => bed.stopAll());

  /** ExecStart of the unit install-service writes, with %i → name. */
  function execStart(name: string): string[] {
    const r = spawnSync(process.execPath, [BIN, 'install-service', name, '--print'], {
      encoding: 'utf8',
      env: { ...process.env, VPN_PROFILE_DIR: profiles },
      timeout: 30000,
    });
    assert.equal(r.status, 0, r.stderr);
    const line = r.stdout.split('\n').find((l) => l.startsWith('ExecStart='));
    assert.ok(line, r.stdout);
    assert.ok(!/["'\\]/.test(line), 'no quoting to undo in this checkout');
    return line
      .slice('ExecStart='.length)
      .split(/\s+/)
      .map((w) => w.replace(/%i/g, name).replace(/%%/g, '%'));
  }

  /** Runs ExecStart like systemd would: foreground, no terminal, NOTIFY_SOCKET set. */
  function runUnit(name: string, socket: string): { proc: ChildProcess; stderr: string[] } {
    const proc = bed.track(
      spawn('ip', ['netns', 'exec', bed.cli, ...execStart(name)], {
        env: { ...bed.env(), NOTIFY_SOCKET: socket, VPN_PROFILE_DIR: profiles },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    const stderr: string[] = [];
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d: string) => stderr.push(d));
    return { proc, stderr };
  }

  test('READY=1 only once traffic flows (a ping succeeds at that moment); STATUS follows the state; SIGTERM → STOPPING=1, exit 0', async () => {
    const sock = join(bed.dir, 'notify-ok');
    const rx = await notifySocket(sock);
    bed.track(rx.proc);
    const messages = rx.messages;
    const { proc, stderr } = runUnit('office', sock);
    let pingAtReady: number | null = null;
    const t0 = Date.now();
    while (Date.now() - t0 < 40000 && proc.exitCode === null) {
      if (messages.some((m) => m.split('\n').includes('READY=1'))) {
        // The service is "active" now: the tunnel must carry traffic at this very moment.
        pingAtReady = spawnSync('ip', ['netns', 'exec', bed.cli, 'ping', '-c1', '-W2', LAN_HOST], {
          timeout: 10000,
        }).status;
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(pingAtReady, 0, `ping at READY=1; notifications: ${JSON.stringify(messages)}`);
    const statuses = messages.flatMap((m) =>
      m
        .split('\n')
        .filter((l) => l.startsWith('STATUS='))
        .map((l) => l.slice(7)),
    );
    const order = [
      /^connecting: resolving 198\.51\.100\.10$/,
      /^connecting: IKE_SA_INIT$/,
      /^authenticating$/,
      /^configuring vpn\d+$/,
      /^up 203\.0\.113\.\d+ via 198\.51\.100\.10 on vpn\d+$/,
    ];
    let at = -1;
    for (const re of order) {
      const i = statuses.findIndex((s, k) => k > at && re.test(s));
      assert.ok(i > at, `${re} after ${statuses[at] ?? 'start'}: ${JSON.stringify(statuses)}`);
      at = i;
    }
    const readyIdx = messages.findIndex((m) => m.split('\n').includes('READY=1'));
    assert.match(messages[readyIdx]!, /STATUS=up /, 'READY=1 comes with the up status');
    // What journald would show: the plain timestamped lines of a run without a terminal.
    assert.match(stderr.join(''), /^\S+Z Connected to 198\.51\.100\.10 /m);
    proc.kill('SIGTERM');
    assert.equal(await waitExit(proc, 20000), 0, stderr.join(''));
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(
      messages.some((m) => m.split('\n').includes('STOPPING=1')),
      JSON.stringify(messages),
    );
  });

  test('a wrong PSK: no READY=1, exit 4 (authentication failed), the failure in STATUS', async () => {
    const sock = join(bed.dir, 'notify-bad');
    const rx = await notifySocket(sock);
    bed.track(rx.proc);
    const messages = rx.messages;
    const { proc, stderr } = runUnit('wrongpsk', sock);
    assert.equal(await waitExit(proc, 45000), 4, stderr.join(''));
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(!messages.some((m) => m.split('\n').includes('READY=1')), JSON.stringify(messages));
    assert.ok(
      messages.some((m) => /STATUS=(down|failed)/.test(m)),
      `the failure is in STATUS: ${JSON.stringify(messages)}`,
    );
  });
});
