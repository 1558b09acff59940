/**
 * issue 14 item 5, "It must show" 5: a simulated suspend. The client process is stopped
 * (SIGSTOP) while nothing reaches it (a DROP rule at the NAT router: a sleeping laptop receives
 * nothing) for longer than its DPD interval and the gateway's IKE SA lifetime: the gateway (IKE
 * rekey every 3-6 s, an unanswered request given up after about 7 s) tries to rekey, gets no
 * answer and deletes the IKE SA; its DELETE never arrives. The test waits until the gateway lists
 * no SA, then sends SIGCONT. The client must notice at once (its timers fire late), check the
 * gateway with one short liveness check, reconnect, and carry traffic again within 10 s, without
 * a storm of retransmissions: counted from the client's own log (each retransmission is one
 * "retransmitting" line) and on the wire (IKE datagrams on port 4500 through the NAT, iptables).
 *
 * One bed, one case (about 20 s of wall time).
 */
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { spawn } from 'node:child_process';
import { Bed, LAN_HOST, skipReason, sleep } from './support.js';

const skip = skipReason();

describe('suspend/resume against strongSwan (issue 14)', { skip }, () => {
  let bed: Bed;
  before(() => {
    bed = new Bed('sl');
    // The gateway rekeys its IKE SA every 3-6 s and gives an unanswered request up after about
    // 7 s (1 s, x1.4, 3 retransmissions), deleting the IKE SA.
    bed.up({
      TB_REKEY_IKE: '6s',
      TB_OVER_IKE: '3s',
      TB_RETRANSMIT_TIMEOUT: '1',
      TB_RETRANSMIT_BASE: '1.4',
    });
  });
  after(() => bed?.down());
  afterEach(async () => bed.stopAll());

  /** One ping through the tunnel, without blocking the event loop (the client's log streams in). */
  const ping = (): Promise<boolean> =>
    new Promise((resolve) => {
      const p = spawn('ip', ['netns', 'exec', bed.cli, 'ping', '-c1', '-W1', LAN_HOST], {
        stdio: 'ignore',
      });
      const t = setTimeout(() => p.kill('SIGKILL'), 5000);
      p.on('exit', (code) => {
        clearTimeout(t);
        resolve(code === 0);
      });
    });
  /** IKE datagrams (UDP 4500 without ESP: the non-ESP marker is 4 zero bytes) the NAT forwarded from the client. */
  const IKE_OUT = [
    'FORWARD',
    '-s',
    '192.0.2.2',
    '-p',
    'udp',
    '--dport',
    '4500',
    '-m',
    'u32',
    '--u32',
    '0>>22&0x3C@8=0',
    '-j',
    'ACCEPT',
  ];
  const ikeOut = (): number => {
    const r = bed.exec(['iptables', '-nvxL', 'FORWARD'], bed.ns('nat'));
    const line = r.out.split('\n').find((l) => /u32/.test(l) && /ACCEPT/.test(l));
    return Number(line?.trim().split(/\s+/)[0] ?? NaN);
  };

  test('SIGSTOP past DPD and the gateway lifetimes, SIGCONT: traffic again within 10 s, a bounded number of retransmissions', async () => {
    const r = await bed.connect([
      '--id',
      'client@test',
      '--remote-id',
      '@gw.test',
      '--psk-file',
      bed.psk,
      '--name',
      'sleep',
      '--retry',
      'forever',
      '--dpd',
      '5',
      '-v',
    ]);
    assert.ok(r.up, r.lines.join('\n'));
    const proc = r.proc;
    assert.ok(await ping(), 'traffic before the sleep');
    assert.equal(bed.exec(['iptables', '-I', ...IKE_OUT], bed.ns('nat')).code, 0);

    // The host sleeps: the process stops and nothing reaches it.
    const nat = bed.ns('nat');
    const drop = ['iptables', '-I', 'FORWARD', '-d', '192.0.2.2', '-j', 'DROP'];
    assert.equal(bed.exec(drop, nat).code, 0);
    let linesAtWake = 0;
    let woke = 0;
    let ikeAtWake = 0;
    let stoppedFor = 0;
    const stoppedAt = performance.now();
    try {
      proc.kill('SIGSTOP');
      // Asleep until the gateway gave us up by itself: its rekey went unanswered (bounded wait).
      let sas = bed.gwSas();
      while (/ESTABLISHED|REKEYING/.test(sas) && performance.now() - stoppedAt < 30000) {
        await sleep(500);
        sas = bed.gwSas();
      }
      assert.doesNotMatch(sas, /ESTABLISHED|REKEYING/, 'the gateway deleted our IKE SA');
      stoppedFor = performance.now() - stoppedAt;
    } finally {
      bed.exec(['iptables', '-D', 'FORWARD', '-d', '192.0.2.2', '-j', 'DROP'], nat);
      linesAtWake = r.lines.length;
      ikeAtWake = ikeOut();
      woke = performance.now();
      proc.kill('SIGCONT');
    }

    let backAfter = -1;
    while (performance.now() - woke < 15000) {
      if (await ping()) {
        backAfter = performance.now() - woke;
        break;
      }
      await sleep(100);
    }
    const ikeSent = ikeOut() - ikeAtWake;
    await sleep(300); // the client's last lines
    const after = r.lines.slice(linesAtWake);
    const events = after.flatMap((l) => {
      try {
        return [JSON.parse(l) as { event?: string; message?: string; sleptMs?: number }];
      } catch {
        return [];
      }
    });
    const log = after.join('\n');
    assert.ok(backAfter >= 0, `no traffic within 15 s of waking:\n${log}`);
    assert.ok(backAfter < 10000, `traffic back after ${backAfter.toFixed(0)} ms:\n${log}`);
    const wake = events.find((e) => e.event === 'wake');
    assert.ok(wake && (wake.sleptMs ?? 0) >= 5000, `the client saw the sleep:\n${log}`);
    const retransmits = events.filter(
      (e) => e.event === 'log' && /^retransmitting /.test(e.message ?? ''),
    ).length;
    // The liveness check (at most 3 sends in its 3 s budget), then a clean handshake.
    assert.ok(retransmits <= 3, `${retransmits} retransmissions after waking:\n${log}`);
    assert.ok(
      events.some((e) => e.event === 'up'),
      'reconnected',
    );
    // On the wire: the check and its retransmissions, our DELETE, IKE_SA_INIT (port 500, not
    // counted), IKE_AUTH, and at most a DPD of the new SA.
    assert.ok(
      ikeSent <= 7,
      `${ikeSent} IKE datagrams from the client through the NAT after waking`,
    );
    process.stderr.write(
      `sleep: stopped ${(stoppedFor / 1000).toFixed(1)} s; traffic back ${(backAfter / 1000).toFixed(1)} s after SIGCONT; ${retransmits} IKE retransmissions, ${ikeSent} IKE datagrams on port 4500\n`,
    );
    await bed.stop(proc);
  });
});
