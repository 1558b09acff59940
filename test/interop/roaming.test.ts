/**
 * Roaming against strongSwan: the client's network changes under a running tunnel.
 * - MOBIKE (RFC 4555): a second uplink appears, the default route moves to it and the first goes
 *   down; the client moves the SAs with UPDATE_SA_ADDRESSES and a TCP connection opened before
 *   the move keeps going.
 * - NAT rebinding: the NAT router forgets its mappings (and picks random ports); traffic recovers
 *   within about one keepalive interval, because one-way traffic makes the client send an
 *   authenticated IKE message the gateway follows (RFC 7296 §2.23).
 */
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  Bed,
  LAN_HOST,
  TB,
  missingTools,
  skipReason,
  sleep,
  waitExit,
  tcpStream,
} from './support.js';

const skip = skipReason();
const ID = ['--id', 'client@test', '--remote-id', '@gw.test'];

function roam(bed: Bed, what: 'add' | 'move' | 'del'): void {
  const r = spawnSync('bash', [join(TB, 'roam.sh'), '--prefix', bed.prefix, what], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
}

describe('interop: roaming (MOBIKE) and NAT rebinding', { skip }, () => {
  const bed = new Bed('roam');
  let baseline = '';

  before(() => {
    bed.up();
    baseline = bed.snapshot();
  });
  after(() => bed.down());
  // A failed assertion leaves its vpn, pinger or server running: end them before the next test.
  afterEach(() => bed.stopAll());

  test('MOBIKE: the default route moves to a second uplink; the SAs follow and TCP survives', async () => {
    roam(bed, 'add');
    const withUplink2 = bed.snapshot();
    const r = await bed.connect([...ID, '--psk-file', bed.psk, '--name', 'mobike']);
    assert.ok(r.up, `no "up" event:\n${r.lines.join('\n')}`);
    const stream = tcpStream(bed, 8, 5202);
    await sleep(2500);
    roam(bed, 'move');
    const result = await stream;
    assert.ok(result.sent.length === 64, `stream failed: ${result.err}\n${r.lines.join('\n')}`);
    assert.equal(result.received, result.sent, 'TCP stream checksum across the move');
    const text = r.lines.join('\n');
    assert.match(text, /"event":"roamed".*"local":"192\.0\.2\.130"/);
    assert.doesNotMatch(text, /"event":"reconnecting"/, 'moved, not reconnected');
    assert.match(
      bed.gwSas(),
      /198\.51\.100\.2\[/,
      'the gateway now talks to the new public address',
    );
    const ping = bed.exec(['ping', '-c', '2', '-i', '0.2', '-W', '2', LAN_HOST]);
    assert.equal(ping.code, 0, ping.out);
    const d = bed.vpn(['disconnect', '--name', 'mobike']);
    assert.equal(d.code, 0, d.err);
    assert.equal(await waitExit(r.proc), 0);
    // Put the first uplink back as it was, then compare.
    bed.exec(['ip', 'link', 'set', 'dev', `${bed.prefix.slice(0, 8)}c0`, 'up']);
    bed.exec(['ip', 'route', 'replace', 'default', 'via', '192.0.2.1']);
    // The kernel brings the link's carrier and IPv6 link-local address back on its own time.
    for (let i = 0; i < 30 && bed.snapshot() !== withUplink2; i++) await sleep(200);
    assert.equal(bed.snapshot(), withUplink2, 'host restored exactly (routes follow the move)');
    roam(bed, 'del');
    assert.equal(bed.snapshot(), baseline);
  });

  test(
    'NAT rebinding: the NAT forgets our mapping mid-stream; traffic recovers within a keepalive interval',
    { skip: missingTools('conntrack') },
    async () => {
      const nat = bed.ns('nat');
      const natOut = `${bed.prefix.slice(0, 8)}n1`;
      // Random source ports, so a new mapping really is a new port.
      bed.exec(
        [
          'iptables',
          '-t',
          'nat',
          '-R',
          'POSTROUTING',
          '1',
          '-s',
          '192.0.2.0/24',
          '-o',
          natOut,
          '-j',
          'MASQUERADE',
          '--random-fully',
        ],
        nat,
      );
      try {
        const r = await bed.connect([
          ...ID,
          '--psk-file',
          bed.psk,
          '--name',
          'rebind',
          '--keepalive',
          '3',
          '--dpd',
          '60',
        ]);
        assert.ok(r.up, `no "up" event:\n${r.lines.join('\n')}`);
        const portBefore = /198\.51\.100\.1\[(\d+)\]/.exec(bed.gwSas())?.[1];
        const pinger = bed.spawnIn(bed.cli, ['ping', '-i', '0.2', '-W', '1', LAN_HOST]);
        let replies = 0;
        let lastReply = Date.now();
        let longestGap = 0;
        pinger.stdout!.on('data', (d: Buffer) => {
          const n = (d.toString().match(/bytes from/g) ?? []).length;
          if (n > 0) {
            const now = Date.now();
            longestGap = Math.max(longestGap, now - lastReply);
            lastReply = now;
            replies += n;
          }
        });
        let flushedAt: number;
        try {
          await sleep(1500);
          const f = bed.exec(['conntrack', '-F'], nat);
          assert.equal(f.code, 0, f.err);
          flushedAt = Date.now();
          await sleep(7000);
        } finally {
          await bed.stop(pinger);
        }
        assert.ok(replies > 10, `${replies} ping replies`);
        assert.ok(lastReply > flushedAt, 'replies again after the flush');
        console.log(
          `# NAT rebinding: longest gap without a ping reply ${longestGap} ms (keepalive 3 s)`,
        );
        assert.ok(longestGap <= 3000, `gap of ${longestGap} ms, more than the keepalive interval`);
        const portAfter = /198\.51\.100\.1\[(\d+)\]/.exec(bed.gwSas())?.[1];
        assert.ok(portBefore && portAfter, bed.gwSas());
        assert.notEqual(portAfter, portBefore, 'the gateway follows the new NAT port');
        const d = bed.vpn(['disconnect', '--name', 'rebind']);
        assert.equal(d.code, 0, d.err);
        assert.equal(await waitExit(r.proc), 0);
      } finally {
        bed.exec(
          [
            'iptables',
            '-t',
            'nat',
            '-R',
            'POSTROUTING',
            '1',
            '-s',
            '192.0.2.0/24',
            '-o',
            natOut,
            '-j',
            'MASQUERADE',
          ],
          nat,
        );
      }
    },
  );

  test('--kill-switch: traffic the tunnel does not carry is blocked, not leaked; all undone on exit', async () => {
    const outside = '198.51.100.1'; // the NAT router's public side: reachable without the tunnel
    assert.equal(bed.exec(['ping', '-c', '1', '-W', '2', outside]).code, 0);
    const r = await bed.connect([...ID, '--psk-file', bed.psk, '--name', 'ks', '--kill-switch']);
    assert.ok(r.up, `no "up" event:\n${r.lines.join('\n')}`);
    // The gateway narrows the tunnel to 203.0.113.0/25: the LAN host goes through it...
    assert.equal(bed.exec(['ping', '-c', '1', '-W', '2', LAN_HOST]).code, 0);
    // ...and everything else is refused locally instead of leaving unprotected.
    const leak = bed.exec(['ping', '-c', '1', '-W', '2', outside]);
    assert.notEqual(leak.code, 0, 'no traffic outside the tunnel');
    assert.match(leak.out + leak.err, /no route to host|unreachable/i);
    const d = bed.vpn(['disconnect', '--name', 'ks']);
    assert.equal(d.code, 0, d.err);
    assert.equal(await waitExit(r.proc), 0);
    assert.equal(bed.snapshot(), baseline, 'block routes removed');
    assert.equal(bed.exec(['ping', '-c', '1', '-W', '2', outside]).code, 0);
  });
});
