/**
 * Issue 17 "It must show" 1 and 2: IKEv1 against Debian's strongSwan 5.9.8 as an IKEv1 responder
 * (`version = 1`, xauth-generic, unity: scripts/testbed/ikev1-conf.sh) through the test bed's NAT.
 * One bed for the file. PSK Main Mode, PSK + XAUTH + Mode Config, RSA and ECDSA certificates, each
 * with ping and a checksummed TCP transfer to the LAN host and a clean DELETE (the gateway keeps
 * no SA) with the host restored; a Quick Mode rekey and a phase 1 rekey under a running stream
 * (once, on the PSK case); DPD detecting a stopped gateway; the refusals and their exit codes.
 */
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Bed, GW, LAN_HOST, skipReason, tcpStream, tcpTransfer, waitExit } from './support.js';
import type { ChildProcess } from 'node:child_process';
import { EXIT } from '../../src/cli/exit-codes.js';

const skip = skipReason();
const PKI = process.env['TB_PKI_DIR'] ?? '/tmp/ikev2-vpn-testbed-pki';
const V1 = ['--ike-version', '1', '--remote-net', '203.0.113.0/25', '--timeout', '10'];
const TCP_PORT = 5317;

interface Up {
  summary: {
    virtualIp4?: string;
    routes: string[];
    dns: string[];
    ikeVersion?: number;
    ike: { remoteId: string; localId: string; natHere: boolean };
  };
}

describe('interop: IKEv1 to strongSwan 5.9.8 through a NAT (issue 17)', { skip }, () => {
  const bed = new Bed('v1');
  let baseline = '';
  let xauthPw = '';
  let wrong = '';

  before(() => {
    bed.up();
    baseline = bed.snapshot();
    xauthPw = join(bed.dir, 'xauth-pw');
    writeFileSync(xauthPw, "alice's xauth password\n");
    chmodSync(xauthPw, 0o600);
    wrong = join(bed.dir, 'wrong');
    writeFileSync(wrong, 'not the secret\n');
    chmodSync(wrong, 0o600);
  });
  after(() => bed.down());
  afterEach(() => bed.stopAll());

  const psk = (): string[] => [
    '--id',
    'v1-psk@test',
    '--remote-id',
    'v1.gw.test',
    '--psk-file',
    bed.psk,
  ];
  const cert = (kind: 'rsa' | 'ecdsa'): string[] => [
    '--id',
    `client-${kind}@test`,
    '--remote-id',
    `${kind}.gw.test`,
    '--cert',
    `${PKI}/client-${kind}.crt`,
    '--key',
    `${PKI}/client-${kind}.p8`,
    '--ca',
    `${PKI}/ca.crt`,
  ];

  /** Up, the summary says IKEv1, ping and 1 MiB over TCP arrive intact. */
  async function upAndCarry(
    args: string[],
    name: string,
    base = V1,
  ): Promise<{ proc: ChildProcess; up: Up; lines: string[] }> {
    const r = await bed.connect([...base, ...args, '--name', name]);
    assert.ok(r.up, `no "up" event:\n${r.lines.join('\n')}`);
    const up = r.up as unknown as Up;
    assert.equal(up.summary.ikeVersion, 1);
    assert.ok(up.summary.ike.natHere, 'the NAT router is detected (NAT-D, RFC 3947)');
    // Mode Config: an address of the IKEv1 pool 203.0.113.192/27 and the pool's DNS server.
    const last = Number(up.summary.virtualIp4?.split('.')[3]);
    assert.ok(up.summary.virtualIp4?.startsWith('203.0.113.') && last >= 192 && last < 224);
    const ping = bed.exec(['ping', '-c', '2', '-i', '0.2', '-W', '2', LAN_HOST]);
    assert.equal(ping.code, 0, ping.out);
    const x = await tcpTransfer(bed, 1 << 20, TCP_PORT);
    assert.equal(x.received, x.sent, `TCP payload intact: ${x.output}`);
    return { proc: r.proc, up, lines: r.lines };
  }

  /** SIGTERM: DELETE to the gateway, exit 0, no SA left there, host as before. */
  async function closeClean(proc: ChildProcess): Promise<void> {
    proc.kill('SIGTERM');
    assert.equal(await waitExit(proc), 0);
    assert.doesNotMatch(bed.gwSas(), /IKEv1/, 'the gateway deleted our ISAKMP and IPsec SAs');
    assert.equal(bed.snapshot(), baseline, 'host restored');
  }

  test('PSK Main Mode: ping, TCP, a Quick Mode rekey and a phase 1 rekey under a running stream, DELETE, host restored', async () => {
    // Short lifetimes of ours: Quick Mode rekey after 4 s, phase 1 after 7 s, within a 10 s stream.
    const r = await bed.connect([
      ...V1,
      ...psk(),
      '--name',
      'v1psk',
      '--rekey',
      '4',
      '--ike-rekey',
      '7',
    ]);
    assert.ok(r.up, r.lines.join('\n'));
    const ping = bed.exec(['ping', '-c', '2', '-i', '0.2', '-W', '2', LAN_HOST]);
    assert.equal(ping.code, 0, ping.out);
    const s = await tcpStream(bed, 10, TCP_PORT + 1);
    assert.ok(s.sent.length > 0, s.err);
    assert.equal(s.received, s.sent, `the stream survived the rekeys intact ${s.err}`);
    const rekeys = r.lines
      .map((l) => {
        try {
          return JSON.parse(l) as { event?: string; what?: string };
        } catch {
          return {};
        }
      })
      .filter((e) => e.event === 'rekeyed');
    assert.ok(
      rekeys.some((e) => e.what === 'child'),
      `a Quick Mode rekey:\n${r.lines.join('\n')}`,
    );
    assert.ok(
      rekeys.some((e) => e.what === 'ike'),
      `a phase 1 rekey:\n${r.lines.join('\n')}`,
    );
    await closeClean(r.proc);
  });

  test('PSK + XAUTH + Mode Config (the Cisco-style remote-access case): virtual IP and DNS configured', async () => {
    const { proc, up } = await upAndCarry(
      [
        '--id',
        'v1-xauth@test',
        '--remote-id',
        'v1.gw.test',
        '--group-psk-file',
        bed.psk,
        '--xauth-user',
        'alice',
        '--xauth-password-file',
        xauthPw,
      ],
      'v1xauth',
    );
    assert.deepEqual(up.summary.dns, ['203.0.113.53']);
    assert.match(readFileSync(`/etc/netns/${bed.cli}/resolv.conf`, 'utf8'), /203\.0\.113\.53/);
    assert.match(bed.gwSas(), /v1xauth.*ESTABLISHED/s);
    await closeClean(proc);
  });

  test('the vpnc case: Aggressive Mode, group name as KEY_ID, group PSK, XAUTH; the warning is printed', async () => {
    const { proc, lines, up } = await upAndCarry(
      [
        '--ikev1-aggressive',
        '--id',
        'keyid:OfficeGroup',
        '--remote-id',
        'v1.gw.test',
        '--group-psk-file',
        bed.psk,
        '--xauth-user',
        'alice',
        '--xauth-password-file',
        xauthPw,
      ],
      'v1group',
      // No --remote-net: we ask for 0.0.0.0/0, strongSwan echoes it (IKEv1 has no narrowing) and
      // pushes UNITY_SPLIT_INCLUDE 203.0.113.0/25, which our routes follow.
      V1.filter((a, i) => a !== '--remote-net' && V1[i - 1] !== '--remote-net'),
    );
    assert.deepEqual(up.summary.routes, ['203.0.113.0/25']);
    assert.match(lines.join('\n'), /"event":"warning".*Aggressive Mode sends a hash/);
    assert.match(bed.gwSas(), /v1group.*ESTABLISHED/s);
    await closeClean(proc);
  });

  for (const kind of ['rsa', 'ecdsa'] as const)
    test(`${kind.toUpperCase()} certificates: ping, TCP, DELETE, host restored`, async () => {
      const { proc, up } = await upAndCarry(cert(kind), `v1${kind}`);
      assert.equal(up.summary.ike.remoteId, `${kind}.gw.test`);
      await closeClean(proc);
    });

  test('DPD (RFC 3706) detects a stopped gateway: exit 3, host restored', async () => {
    const r = await bed.connect([
      ...V1,
      ...psk(),
      '--name',
      'v1dpd',
      '--dpd',
      '1',
      '--timeout',
      '3',
      '--retry',
      '0',
    ]);
    assert.ok(r.up, r.lines.join('\n'));
    const pid = Number(readFileSync(`/tmp/${bed.prefix}/gw/charon.pid`, 'utf8'));
    process.kill(pid, 'SIGSTOP');
    const t0 = performance.now();
    try {
      assert.equal(await waitExit(r.proc, 15000), EXIT.UNREACHABLE, r.lines.join('\n'));
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const secs = (performance.now() - t0) / 1000;
    assert.ok(secs < 1 + 3 + 2, `detected after ${secs.toFixed(1)} s`);
    assert.match(r.lines.join('\n'), /dead peer|R-U-THERE|DPD/i);
    assert.equal(bed.snapshot(), baseline);
  });

  test('refusals: wrong PSK 4, wrong XAUTH password 4, no proposal chosen 5, untrusted certificate 13; host untouched', () => {
    const cases: [string, string[], number, RegExp][] = [
      [
        'wrong PSK',
        ['--id', 'v1-psk@test', '--remote-id', 'v1.gw.test', '--psk-file', wrong],
        EXIT.AUTH_FAILED,
        /pre-shared key/,
      ],
      [
        'wrong XAUTH password',
        ['--id', 'v1-xauth@test', '--remote-id', 'v1.gw.test', '--psk-file', bed.psk],
        EXIT.AUTH_FAILED,
        /XAUTH/,
      ],
      [
        'no proposal chosen',
        [...psk(), '--ike', 'aes128-sha256-modp4096'],
        EXIT.NO_PROPOSAL,
        /NO_PROPOSAL_CHOSEN|proposal/,
      ],
      [
        'untrusted certificate',
        [...cert('rsa').slice(0, -1), `${PKI}/evil-ca.crt`],
        EXIT.CERT_UNTRUSTED,
        /not trusted/,
      ],
    ];
    for (const [what, args, code, re] of cases) {
      const extra =
        what === 'wrong XAUTH password'
          ? ['--xauth-user', 'alice', '--xauth-password-file', wrong]
          : [];
      const t0 = performance.now();
      const r = bed.vpn(['connect', GW, ...V1, ...args, ...extra, '--name', 'v1no'], 30000);
      const secs = (performance.now() - t0) / 1000;
      assert.equal(r.code, code, `${what}: ${r.err}`);
      assert.match(r.err, re, what);
      assert.ok(secs < 8, `${what}: refused after ${secs.toFixed(1)} s, not at the timeout`);
      assert.equal(bed.snapshot(), baseline, what);
    }
  });
});
