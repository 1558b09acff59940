/**
 * Interop with a real gateway: Debian's strongSwan 5.9.8 (charon + kernel-libipsec) in a network
 * namespace, behind a NAT router namespace, with a LAN host behind it (scripts/testbed). Our client
 * runs `vpn connect` inside its own namespace, so the host's routes and DNS are never touched.
 */
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  Bed,
  GW,
  LAN_HOST,
  ROOT,
  missingTools,
  skipReason,
  sleep,
  tcpTransfer,
  waitExit,
} from './support.js';
import { EXIT } from '../../src/cli/exit-codes.js';

const skip = skipReason();
const ID = ['--id', 'client@test', '--remote-id', '@gw.test'];

describe('interop: PSK through a NAT to strongSwan', { skip }, () => {
  const bed = new Bed('psk');
  let baseline = '';

  before(() => {
    bed.up();
    baseline = bed.snapshot();
  });
  after(() => bed.down());
  // A failed assertion leaves its vpn running: end it (host restored) before the next test.
  afterEach(() => bed.stopAll());

  test('connect, ping and a checksummed TCP transfer to the LAN host, SA with UDP encapsulation, clean disconnect', async () => {
    const r = await bed.connect([...ID, '--psk-file', bed.psk, '--name', 'it']);
    assert.ok(r.up, `no "up" event:\n${r.lines.join('\n')}`);
    const summary = (
      r.up as {
        summary: {
          virtualIp4: string;
          device: string;
          dns: string[];
          ike: { natHere: boolean };
          espPath: string;
        };
      }
    ).summary;
    // The virtual IP comes from the gateway's pool 203.0.113.128/26.
    const last = Number(summary.virtualIp4.split('.')[3]);
    assert.ok(
      summary.virtualIp4.startsWith('203.0.113.') && last >= 128 && last < 192,
      summary.virtualIp4,
    );
    assert.ok(summary.ike.natHere, 'the NAT router is detected');
    // The native data plane (its own threads) when its addon is built, JavaScript when forced off.
    const nativeBuilt = existsSync(join(ROOT, 'build/Release/esp.node'));
    assert.equal(
      summary.espPath,
      process.env['VPN_FAST_PATH'] === '0' || !nativeBuilt ? 'js' : 'threaded',
    );
    assert.deepEqual(summary.dns, ['203.0.113.53']);
    const addr = bed.exec(['ip', '-j', 'addr', 'show', 'dev', summary.device]).out;
    assert.match(addr, new RegExp(`"local":"${summary.virtualIp4.replace(/\./g, '\\.')}"`));
    assert.match(bed.exec(['cat', '/etc/resolv.conf']).out, /nameserver 203\.0\.113\.53/);

    const ping = bed.exec(['ping', '-c', '3', '-i', '0.2', '-W', '2', LAN_HOST]);
    assert.equal(ping.code, 0, ping.out + ping.err);

    const { sent, received, secs, output } = await tcpTransfer(bed, 8 << 20);
    assert.ok(sent.length === 64, output);
    assert.equal(received, sent, 'checksum of 8 MiB through the tunnel');
    console.log(`# 8 MiB TCP through the tunnel in ${secs.toFixed(2)} s`);

    const sas = bed.gwSas();
    assert.match(sas, /ESTABLISHED/);
    assert.match(sas, /client@test/);
    assert.match(sas, /TUNNEL-in-UDP/, 'the gateway uses UDP encapsulation');

    const st = bed.vpn(['status', '--json', '--name', 'it']);
    assert.equal(st.code, 0, st.err);
    const status = JSON.parse(st.out) as { state: string; esp: Record<string, number> };
    assert.equal(status.state, 'up');
    assert.ok(status.esp['packetsIn']! > 3 && status.esp['packetsOut']! > 3);

    const d = bed.vpn(['disconnect', '--name', 'it']);
    assert.equal(d.code, 0, d.err);
    assert.equal(await waitExit(r.proc), 0);
    await sleep(300);
    assert.doesNotMatch(bed.gwSas(), /ESTABLISHED/, 'no SA left on the gateway');
    assert.equal(bed.snapshot(), baseline, 'client namespace restored exactly');
  });

  test('every ESP cipher we offer works with strongSwan: AES-GCM-16-128, ChaCha20-Poly1305', async () => {
    for (const esp of ['aes128gcm16', 'chacha20poly1305']) {
      const r = await bed.connect([
        ...ID,
        '--psk-file',
        bed.psk,
        '--name',
        `esp-${esp}`,
        '--esp',
        esp,
      ]);
      assert.ok(r.up, r.lines.join('\n'));
      assert.equal(
        (r.up as { summary: { ike: { espProposal: string } } }).summary.ike.espProposal,
        esp,
      );
      const ping = bed.exec(['ping', '-c', '2', '-i', '0.2', '-W', '2', LAN_HOST]);
      assert.equal(ping.code, 0, `${esp}: ${ping.out}`);
      r.proc.kill('SIGTERM');
      assert.equal(await waitExit(r.proc), 0);
    }
    assert.equal(bed.snapshot(), baseline);
  });

  test('--port 4500: IKE goes to the NAT-T port with the non-ESP marker from the first message (RFC 7296 §2.23)', async () => {
    const r = await bed.connect([
      ...ID,
      '--psk-file',
      bed.psk,
      '--name',
      'port4500',
      '--port',
      '4500',
    ]);
    assert.ok(r.up, r.lines.join('\n'));
    const ping = bed.exec(['ping', '-c', '2', '-i', '0.2', '-W', '2', LAN_HOST]);
    assert.equal(ping.code, 0, ping.out);
    r.proc.kill('SIGTERM');
    assert.equal(await waitExit(r.proc), 0);
    assert.equal(bed.snapshot(), baseline);
  });

  test('INVALID_KE_PAYLOAD from strongSwan: we retry with the group it wants', async () => {
    // We send a MODP-2048 KE but also offer ECP-256, which the gateway prefers (RFC 7296 §1.2).
    const r = await bed.connect([
      ...ID,
      '--psk-file',
      bed.psk,
      '--name',
      'ke',
      '--ike',
      'aes256gcm16-prfsha256-modp2048-ecp256',
      '-v',
    ]);
    assert.ok(r.up, r.lines.join('\n'));
    assert.match(
      (r.up as { summary: { ike: { ikeProposal: string } } }).summary.ike.ikeProposal,
      /ecp256/,
    );
    assert.match(r.lines.join('\n'), /prefers group ECP_256/);
    r.proc.kill('SIGTERM');
    assert.equal(await waitExit(r.proc), 0);
  });

  test('wrong PSK: exit 4 with AUTHENTICATION_FAILED, nothing changed', async () => {
    const bad = join(bed.dir, 'bad-psk');
    writeFileSync(bad, 'not the key\n');
    chmodSync(bad, 0o600);
    const r = await bed.connect([...ID, '--psk-file', bad]);
    assert.equal(r.up, undefined);
    assert.equal(r.code, EXIT.AUTH_FAILED, r.lines.join('\n'));
    assert.match(r.lines.join('\n'), /AUTHENTICATION_FAILED/);
    assert.equal(bed.snapshot(), baseline);
  });

  test('gateway unreachable: exit 3 within the --timeout, naming the address', () => {
    const t0 = performance.now();
    const r = bed.vpn(['connect', '198.51.100.99', ...ID, '--psk-file', bed.psk, '--timeout', '3']);
    const secs = (performance.now() - t0) / 1000;
    assert.equal(r.code, EXIT.UNREACHABLE, r.err);
    assert.match(r.err, /198\.51\.100\.99:500/);
    assert.ok(secs < 4.5, `took ${secs.toFixed(1)} s`);
    assert.equal(bed.snapshot(), baseline);
  });

  test('proposals the gateway refuses: exit 5 listing what we offered', () => {
    const r = bed.vpn([
      'connect',
      GW,
      ...ID,
      '--psk-file',
      bed.psk,
      '--ike',
      'aes128-sha1-prfsha1-modp3072',
    ]);
    assert.equal(r.code, EXIT.NO_PROPOSAL, r.err);
    assert.match(r.err, /NO_PROPOSAL_CHOSEN/);
    assert.match(r.err, /aes128-sha1-prfsha1-modp3072/);
    const e = bed.vpn(['connect', GW, ...ID, '--psk-file', bed.psk, '--esp', 'aes192gcm16']);
    assert.equal(e.code, EXIT.NO_PROPOSAL, e.err);
    assert.match(e.err, /ESP proposals/);
    assert.equal(bed.snapshot(), baseline);
  });

  test('a PSK file readable by others is refused with exit 2', () => {
    const open = join(bed.dir, 'open-psk');
    writeFileSync(open, 'x\n');
    chmodSync(open, 0o644);
    const r = bed.vpn(['connect', GW, ...ID, '--psk-file', open]);
    assert.equal(r.code, EXIT.USAGE);
    assert.match(r.err, /accessible by others/);
  });

  test('kill -9 is survivable: the next connect replays the journal and works', async () => {
    const first = await bed.connect([...ID, '--psk-file', bed.psk, '--name', 'crash']);
    assert.ok(first.up, first.lines.join('\n'));
    first.proc.kill('SIGKILL');
    await waitExit(first.proc);
    const second = await bed.connect([...ID, '--psk-file', bed.psk, '--name', 'crash']);
    assert.ok(second.up, second.lines.join('\n'));
    assert.equal(bed.exec(['ping', '-c', '1', '-W', '2', LAN_HOST]).code, 0);
    second.proc.kill('SIGTERM');
    assert.equal(await waitExit(second.proc), 0);
    assert.equal(bed.snapshot(), baseline, 'restored after a crash and a clean exit');
  });

  test('NAT-T keepalives flow while idle behind the NAT (RFC 3948 §4)', async () => {
    const r = await bed.connect([...ID, '--psk-file', bed.psk, '--name', 'ka', '--keepalive', '1']);
    assert.ok(r.up, r.lines.join('\n'));
    await sleep(2600);
    const st = JSON.parse(bed.vpn(['status', '--json', '--name', 'ka']).out) as {
      keepalivesSent: number;
    };
    assert.ok(st.keepalivesSent >= 1, `keepalives sent: ${st.keepalivesSent}`);
    assert.equal(bed.exec(['ping', '-c', '1', '-W', '2', LAN_HOST]).code, 0);
    r.proc.kill('SIGTERM');
    assert.equal(await waitExit(r.proc), 0);
    assert.equal(bed.snapshot(), baseline);
  });

  test('a DELETE from the gateway ends the tunnel with exit 10 and restores the host', async () => {
    const r = await bed.connect([...ID, '--psk-file', bed.psk, '--name', 'del', '--retry', '0']);
    assert.ok(r.up, r.lines.join('\n'));
    const t = spawnSync(
      'bash',
      [join(ROOT, 'scripts/testbed/gw.sh'), '--prefix', bed.prefix, '--terminate', '--ike', 'psk'],
      { encoding: 'utf8' },
    );
    assert.equal(t.status, 0, t.stderr);
    assert.equal(await waitExit(r.proc), EXIT.CLOSED_BY_GATEWAY);
    assert.match(r.lines.join('\n'), /gateway closed the connection/);
    assert.equal(bed.snapshot(), baseline);
  });

  test('the TUN device deleted under a running tunnel: exit 9, DELETE sent, host restored', async () => {
    const r = await bed.connect([...ID, '--psk-file', bed.psk, '--name', 'tundel', '--retry', '0']);
    assert.ok(r.up, r.lines.join('\n'));
    const dev = (r.up as { summary: { device: string } }).summary.device;
    assert.equal(bed.exec(['ping', '-c', '1', '-W', '2', LAN_HOST]).code, 0);
    assert.equal(bed.exec(['ip', 'link', 'del', dev]).code, 0);
    // Traffic towards the tunnel's routes would wake the reader; the deletion alone must do.
    assert.equal(await waitExit(r.proc, 10000), EXIT.NETCFG, r.lines.join('\n'));
    assert.match(r.lines.join('\n'), new RegExp(`TUN device ${dev} stopped working|data plane`));
    // The gateway heard our DELETE: its IKE SA for us is gone.
    assert.doesNotMatch(bed.gwSas(), /ESTABLISHED/);
    assert.equal(bed.snapshot(), baseline);
  });

  test('a gateway that dies is detected by DPD within its bound: exit 3, host restored', async () => {
    const r = await bed.connect([
      ...ID,
      '--psk-file',
      bed.psk,
      '--name',
      'dpd',
      '--dpd',
      '1',
      '--timeout',
      '3',
      '--retry',
      '0',
    ]);
    assert.ok(r.up, r.lines.join('\n'));
    // Freeze the gateway (no DELETE, no answers), as a crashed or unplugged gateway would behave.
    const pid = Number(readFileSync(`/tmp/${bed.prefix}/gw/charon.pid`, 'utf8'));
    process.kill(pid, 'SIGSTOP');
    const t0 = performance.now();
    try {
      assert.equal(await waitExit(r.proc, 15000), EXIT.UNREACHABLE);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const secs = (performance.now() - t0) / 1000;
    assert.ok(secs < 1 + 3 + 2, `detected after ${secs.toFixed(1)} s`);
    assert.match(r.lines.join('\n'), /dead peer detection/);
    assert.equal(bed.snapshot(), baseline);
  });

  for (const how of ['restart', 'crash'] as const) {
    test(`gateway ${how}: the tunnel comes back by itself within 10 s, host settings kept`, async () => {
      const r = await bed.connect([
        ...ID,
        '--psk-file',
        bed.psk,
        '--name',
        `gw${how}`,
        '--dpd',
        '2',
        '--timeout',
        '4',
      ]);
      assert.ok(r.up, r.lines.join('\n'));
      const up = bed.snapshot();
      const t0 = performance.now();
      const restart = spawnSync(
        'bash',
        [
          join(ROOT, 'scripts/testbed/gw-restart.sh'),
          '--prefix',
          bed.prefix,
          ...(how === 'crash' ? ['--kill'] : []),
        ],
        { encoding: 'utf8' },
      );
      assert.equal(restart.status, 0, restart.stderr);
      let back = false;
      while (performance.now() - t0 < 10000) {
        if (
          bed.exec(['ping', '-c', '1', '-W', '1', LAN_HOST]).code === 0 &&
          /ESTABLISHED/.test(bed.gwSas())
        ) {
          back = true;
          break;
        }
        await sleep(200); // let the client's output be read meanwhile
      }
      const secs = (performance.now() - t0) / 1000;
      await sleep(300);
      assert.ok(back, `tunnel not back after ${secs.toFixed(1)} s:\n${r.lines.join('\n')}`);
      console.log(`# gateway ${how}: tunnel back in ${secs.toFixed(1)} s`);
      assert.match(r.lines.join('\n'), /"event":"reconnecting"/);
      assert.equal(bed.snapshot(), up, 'TUN device, routes and DNS stayed in place');
      r.proc.kill('SIGTERM');
      assert.equal(await waitExit(r.proc), 0);
      assert.equal(bed.snapshot(), baseline);
    });
  }

  test(
    'the handshake completes with 30 % loss on the uplink (retransmissions with backoff)',
    { skip: missingTools('nft') },
    async () => {
      const loss = spawnSync(
        'bash',
        [join(ROOT, 'scripts/testbed/loss.sh'), '--prefix', bed.prefix, '30'],
        { encoding: 'utf8' },
      );
      assert.equal(loss.status, 0, loss.stderr);
      try {
        for (let i = 0; i < 3; i++) {
          const r = await bed.connect([
            ...ID,
            '--psk-file',
            bed.psk,
            '--name',
            `lossy${i}`,
            '--timeout',
            '90',
          ]);
          if (!r.up) r.proc.kill('SIGKILL');
          assert.ok(r.up, r.lines.join('\n'));
          r.proc.kill('SIGTERM');
          assert.equal(await waitExit(r.proc, 30000), 0);
        }
      } finally {
        spawnSync('bash', [join(ROOT, 'scripts/testbed/loss.sh'), '--prefix', bed.prefix, '0']);
      }
      assert.equal(bed.snapshot(), baseline);
    },
  );

  test('--background returns once the tunnel carries traffic; status and disconnect reach it', () => {
    bed.background('bg');
    const r = bed.vpn([
      'connect',
      GW,
      ...ID,
      '--psk-file',
      bed.psk,
      '--background',
      '--name',
      'bg',
    ]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /Running in the background/);
    assert.equal(bed.exec(['ping', '-c', '1', '-W', '2', LAN_HOST]).code, 0);
    const st = bed.vpn(['status', '--name', 'bg']);
    assert.equal(st.code, 0);
    assert.match(st.out, /State:\s+up/);
    const d = bed.vpn(['disconnect', '--name', 'bg']);
    assert.equal(d.code, 0, d.err);
    assert.equal(bed.snapshot(), baseline);
    assert.equal(bed.vpn(['status', '--name', 'bg']).code, EXIT.NOT_RUNNING);
  });
});
