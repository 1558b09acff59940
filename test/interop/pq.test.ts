/**
 * Post-quantum interop (issue 16): our client against a strongSwan 6.0.6 gateway with the `ml`
 * plugin (scripts/testbed/sw6.sh, from ../shared/interop/strongswan-6.0.6-ml.tar.xz extracted to
 * /opt/strongswan6; its own strongswan.conf, vici socket, log and private /run, in place of the
 * bed's 5.9.8 daemon). One bed for the file:
 *  - x25519-ke1_mlkem768 (RFC 9370 over RFC 9242 IKE_INTERMEDIATE, draft-ietf-ipsecme-ikev2-mlkem):
 *    ping and a checksummed TCP transfer, the gateway's log naming ML_KEM_768 and
 *    IKE_INTERMEDIATE; then our CHILD_SA rekey with x25519 + ML-KEM-768 PFS and our IKE SA
 *    rekey, both through IKE_FOLLOWUP_KE (RFC 9370 §2.2.4), and traffic again;
 *  - ML-KEM-1024 at a 1280-byte MTU: IKE_INTERMEDIATE in RFC 7383 fragments both ways;
 *  - the gateway's own CHILD_SA and IKE SA rekeys with x25519 + ML-KEM-768: we answer its
 *    CREATE_CHILD_SA with N(ADDITIONAL_KEY_EXCHANGE) and its IKE_FOLLOWUP_KE (RFC 9370 §2.2.4).
 * Skips, saying why, without root, the test bed's tools or strongSwan 6.
 */
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Bed, LAN_HOST, ROOT, TB, skipReason, sleep, tcpTransfer, waitExit } from './support.js';

const ARCHIVE =
  process.env['TB_SW6_ARCHIVE'] ?? join(ROOT, '../shared/interop/strongswan-6.0.6-ml.tar.xz');

function whySkip(): string | undefined {
  const s = skipReason();
  if (s) return s;
  if (!existsSync('/opt/strongswan6/libexec/ipsec/charon') && !existsSync(ARCHIVE))
    return `strongSwan 6 with ML-KEM not available: no /opt/strongswan6 and no ${ARCHIVE} (see ../shared/interop/README.md)`;
  return undefined;
}
const skip = whySkip();

describe(
  'interop: post-quantum key exchange (ML-KEM, RFC 9370) with strongSwan 6',
  { skip },
  () => {
    const bed = new Bed('pq');
    const log = (): string => readFileSync(`/tmp/${bed.prefix}/gw6/charon.log`, 'utf8');
    const sw6 = (cmd: string, env: Record<string, string> = {}): ReturnType<typeof spawnSync> =>
      spawnSync('bash', [join(TB, 'sw6.sh'), '--prefix', bed.prefix, cmd], {
        encoding: 'utf8',
        env: { ...process.env, TB_SW6_ARCHIVE: ARCHIVE, ...env },
        timeout: 60000,
        killSignal: 'SIGKILL',
      });

    before(() => {
      bed.up();
      const r = sw6('start');
      if (r.status !== 0)
        throw new Error(`sw6.sh start failed: ${String(r.stdout)}${String(r.stderr)}`);
    });
    after(() => {
      sw6('stop');
      bed.down();
    });
    afterEach(() => bed.stopAll());

    const auth = (name: string): string[] => [
      '--id',
      'client@test',
      '--remote-id',
      '@gw.test',
      '--psk-file',
      bed.psk,
      '--name',
      name,
    ];

    async function traffic(what: string): Promise<void> {
      assert.equal(bed.exec(['ping', '-c', '2', '-W', '2', LAN_HOST]).code, 0, `ping ${what}`);
      const t = await tcpTransfer(bed, 2_000_000, 5231);
      assert.equal(t.sent.length, 64, t.output);
      assert.equal(t.received, t.sent, `TCP checksum ${what}`);
    }

    test('x25519-ke1_mlkem768: ping + TCP; the gateway log names ML_KEM_768 and IKE_INTERMEDIATE; CHILD_SA and IKE SA rekeys through IKE_FOLLOWUP_KE keep traffic flowing', async () => {
      const r = await bed.connect([
        ...auth('pq1'),
        '--ike',
        'aes256gcm16-prfsha384-x25519-ke1_mlkem768',
        '--esp',
        'aes256gcm16-x25519-ke1_mlkem768',
        '--rekey',
        '5',
        '--ike-rekey',
        '6',
      ]);
      assert.ok(r.up, r.lines.join('\n'));
      const ike = (r.up['summary'] as { ike: Record<string, unknown> }).ike;
      assert.equal(ike['ikeProposal'], 'aes256gcm16-prfsha384-x25519-ke1_mlkem768');
      assert.equal(ike['keyExchanges'], 'x25519 + ML-KEM-768');
      assert.equal(ike['postQuantum'], true);
      await traffic('after connecting');
      const l = log();
      assert.match(
        l,
        /selected proposal: IKE:AES_GCM_16_256\/PRF_HMAC_SHA2_384\/CURVE_25519\/KE1_ML_KEM_768/,
      );
      assert.match(l, /parsed IKE_INTERMEDIATE request 1 \[ KE \]/);
      assert.match(l, /authentication of 'client@test' with pre-shared key successful/);
      const text = bed.vpn(['status', '--name', 'pq1']).out;
      assert.match(text, /Key exchange: x25519 \+ ML-KEM-768 \(post-quantum protected\)/);

      // Our CHILD_SA rekey (every ~4.5-5 s) with x25519 + ML-KEM-768 and our IKE SA rekey (~5.4-6
      // s) with the IKE proposal's: CREATE_CHILD_SA, then IKE_FOLLOWUP_KE (RFC 9370 §2.2.4).
      let rekeys = { childRekeys: 0, ikeRekeys: 0 };
      for (let i = 0; i < 40 && (rekeys.childRekeys < 1 || rekeys.ikeRekeys < 1); i++) {
        await sleep(500);
        rekeys = (
          JSON.parse(bed.vpn(['status', '--json', '--name', 'pq1']).out) as {
            ike: { childRekeys: number; ikeRekeys: number };
          }
        ).ike;
      }
      assert.ok(rekeys.childRekeys >= 1, 'no CHILD_SA rekey within 20 s');
      assert.ok(rekeys.ikeRekeys >= 1, 'no IKE SA rekey within 20 s');
      const after = log();
      assert.match(
        after,
        /selected proposal: ESP:AES_GCM_16_256\/CURVE_25519\/NO_EXT_SEQ\/KE1_ML_KEM_768/,
      );
      assert.match(after, /parsed IKE_FOLLOWUP_KE request \d+ \[ KE N\(ADD_KE\) \]/);
      assert.match(after, /rekeyed CHILD_SA net\{\d+\}/);
      assert.match(after, /IKE_SA pq\[\d+\] rekeyed between/);
      await traffic('after the IKE_FOLLOWUP_KE rekey');
      r.proc.kill('SIGTERM');
      assert.equal(await waitExit(r.proc), 0);
    });

    test('ML-KEM-1024 at MTU 1280 (--pq required): IKE_INTERMEDIATE in RFC 7383 fragments both ways; ping + TCP', async () => {
      const cliIf = `${bed.prefix.slice(0, 8)}c0`;
      const natIf = `${bed.prefix.slice(0, 8)}n0`;
      bed.exec(['ip', 'link', 'set', 'dev', cliIf, 'mtu', '1280']);
      bed.exec(['ip', 'link', 'set', 'dev', natIf, 'mtu', '1280'], bed.ns('nat'));
      const before = log().length;
      try {
        const r = await bed.connect([
          ...auth('pq2'),
          '--ike',
          'aes256gcm16-prfsha384-x25519-ke1_mlkem1024',
          '--ike-fragment-size',
          '1280',
          '--pq',
          'required',
        ]);
        assert.ok(r.up, r.lines.join('\n'));
        const ike = (r.up['summary'] as { ike: Record<string, unknown> }).ike;
        assert.equal(ike['keyExchanges'], 'x25519 + ML-KEM-1024');
        await traffic('at MTU 1280');
        const l = log().slice(before);
        assert.match(l, /KE1_ML_KEM_1024/);
        assert.match(l, /parsed IKE_INTERMEDIATE request 1 \[ EF\(1\/\d\) \]/);
        assert.match(l, /generating IKE_INTERMEDIATE response 1 \[ EF\(1\/\d\) \]/);
        r.proc.kill('SIGTERM');
        assert.equal(await waitExit(r.proc), 0);
      } finally {
        bed.exec(['ip', 'link', 'set', 'dev', cliIf, 'mtu', '1500']);
        bed.exec(['ip', 'link', 'set', 'dev', natIf, 'mtu', '1500'], bed.ns('nat'));
      }
    });

    test('strongSwan 6 rekeys the CHILD_SA (~4 s) and the IKE SA (~6 s) with ML-KEM-768: we answer, then its IKE_FOLLOWUP_KE; traffic flows, no reconnect', async () => {
      // The same gateway, restarted with short CHILD_SA lifetimes (its own rekeys, not ours).
      const r6 = sw6('start', {
        TB6_REKEY_CHILD: '4s',
        TB6_LIFE_CHILD: '30s',
        TB6_RAND_CHILD: '1s',
        TB6_REKEY_IKE: '6s',
        TB6_OVER_IKE: '30s',
      });
      assert.equal(r6.status, 0, `${String(r6.stdout)}${String(r6.stderr)}`);
      const r = await bed.connect([
        ...auth('pq3'),
        '--ike',
        'aes256gcm16-prfsha384-x25519-ke1_mlkem768',
        '--esp',
        'aes256gcm16-x25519-ke1_mlkem768',
        '--rekey',
        '0',
      ]);
      assert.ok(r.up, r.lines.join('\n'));
      let rekeys = { childRekeys: 0, ikeRekeys: 0 };
      for (let i = 0; i < 40 && (rekeys.childRekeys < 2 || rekeys.ikeRekeys < 1); i++) {
        await sleep(500);
        rekeys = (
          JSON.parse(bed.vpn(['status', '--json', '--name', 'pq3']).out) as {
            ike: { childRekeys: number; ikeRekeys: number };
          }
        ).ike;
      }
      assert.ok(rekeys.childRekeys >= 2, `CHILD_SA rekeys by the gateway: ${rekeys.childRekeys}`);
      assert.ok(rekeys.ikeRekeys >= 1, `IKE SA rekeys by the gateway: ${rekeys.ikeRekeys}`);
      const l = log();
      assert.match(
        l,
        /generating CREATE_CHILD_SA request \d+ \[ N\(REKEY_SA\) SA No KE TSi TSr \]/,
      );
      assert.match(l, /parsed CREATE_CHILD_SA response \d+ \[ SA No KE TSi TSr N\(ADD_KE\) \]/);
      assert.match(l, /parsed IKE_FOLLOWUP_KE response \d+ \[ KE \]/);
      assert.match(l, /parsed CREATE_CHILD_SA response \d+ \[ SA No KE N\(ADD_KE\) \]/);
      assert.match(l, /IKE_SA pq\[\d+\] rekeyed between/);
      // One IKE_SA_INIT on this gateway: the rekeys kept the tunnel, no reconnect.
      assert.equal((l.match(/parsed IKE_SA_INIT request 0/g) ?? []).length, 1);
      await traffic("after the gateway's IKE_FOLLOWUP_KE rekeys");
      const by = r.lines.flatMap((x) => {
        try {
          const e = JSON.parse(x) as { event?: string; what?: string; by?: string };
          return e.event === 'rekeyed' && e.what === 'child' && e.by ? [e.by] : [];
        } catch {
          return [];
        }
      });
      assert.ok(by.length >= 2 && by.every((b) => b === 'peer'), by.join(','));
      r.proc.kill('SIGTERM');
      assert.equal(await waitExit(r.proc), 0);
    });
  },
);
