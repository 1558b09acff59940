/**
 * `vpn import` against the test bed: profiles written from a strongSwan .sswan and from Apple
 * .mobileconfig files (fixtures made by scripts/make-import-fixtures.sh with strongSwan's `pki`,
 * `openssl` and the `plist` package, with the bed's values) connect to the strongSwan gateway,
 * carry traffic (ping, 1 MiB over TCP with a checksum), and `vpn show NAME` prints the settings
 * the tunnel then uses (compared with `vpn status --json`). One bed for every case.
 */
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
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
  tcpTransfer,
  waitExit,
} from './support.js';

const skip = skipReason() ?? missingTools('pki', 'openssl');
const PKI = process.env['TB_PKI_DIR'] ?? '/tmp/ikev2-vpn-testbed-pki';

interface Shown {
  settings: Record<string, string>;
  auth: string;
}
interface Status {
  state: string;
  summary: {
    gateway: string;
    mtu: number;
    routes: string[];
    ike: { remoteId: string; localId: string; ikeProposal: string; espProposal: string };
  };
}

describe('interop: profiles written by vpn import connect to strongSwan', { skip }, () => {
  const bed = new Bed('imp');
  let fx = '';
  let profiles = '';
  let baseline = '';

  before(() => {
    bed.up();
    baseline = bed.snapshot();
    fx = join(bed.dir, 'fixtures');
    profiles = join(bed.dir, 'profiles');
    mkdirSync(profiles, { mode: 0o700 });
    const r = spawnSync('bash', [join(ROOT, 'scripts/make-import-fixtures.sh'), fx, PKI], {
      encoding: 'utf8',
      timeout: 60000,
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    // bed.env() passes our environment to every vpn it runs.
    process.env['VPN_PROFILE_DIR'] = profiles;
  });
  after(() => {
    delete process.env['VPN_PROFILE_DIR'];
    bed.down();
  });
  afterEach(() => bed.stopAll());

  /** `vpn import` (run in the client namespace, as root would): exit 0, the JSON report. */
  function vpnImport(args: string[]): Record<string, unknown> {
    const r = bed.vpn(['import', ...args, '--json']);
    assert.equal(r.code, 0, r.out + r.err);
    return JSON.parse(r.out) as Record<string, unknown>;
  }

  /**
   * `vpn up NAME`: ping and a checksummed 1 MiB TCP transfer to the LAN host; `vpn show NAME`
   * against `vpn status --json`; `vpn down NAME`; the client namespace restored exactly.
   */
  async function upAndCompare(name: string, env: Record<string, string> = {}): Promise<Status> {
    const show = bed.vpn(['show', name, '--json']);
    assert.equal(show.code, 0, show.err);
    const shown = JSON.parse(show.out) as Shown;
    // bed.env() passes our environment on: the secrets for this connect only.
    Object.assign(process.env, env);
    let r: Awaited<ReturnType<Bed['connect']>>;
    try {
      r = await bed.connect(['--profile', name]);
    } finally {
      for (const k of Object.keys(env)) Reflect.deleteProperty(process.env, k);
    }
    // bed.connect runs `vpn connect GW --profile NAME`: the same gateway the profile names.
    assert.equal(shown.settings['gateway'], GW);
    assert.ok(r.up, `no "up" event:\n${r.lines.join('\n')}`);
    try {
      const ping = bed.exec(['ping', '-c', '2', '-i', '0.2', '-W', '2', LAN_HOST]);
      assert.equal(ping.code, 0, ping.out + ping.err);
      const { sent, received, output } = await tcpTransfer(bed, 1 << 20);
      assert.equal(sent.length, 64, output);
      assert.equal(received, sent, 'checksum of 1 MiB through the tunnel');

      const st = bed.vpn(['status', '--json', '--name', name]);
      assert.equal(st.code, 0, st.err);
      const status = JSON.parse(st.out) as Status;
      assert.equal(status.state, 'up');
      const s = status.summary;
      // What vpn show printed is what the tunnel uses.
      assert.equal(s.gateway, shown.settings['gateway']);
      if (shown.settings['mtu'] !== undefined) assert.equal(String(s.mtu), shown.settings['mtu']);
      if (shown.settings['remote-id'] !== undefined)
        assert.ok(
          s.ike.remoteId.includes(shown.settings['remote-id'].replace(/^@/, '')),
          `${s.ike.remoteId} vs ${shown.settings['remote-id']}`,
        );
      if (shown.settings['ike'] !== undefined && !shown.settings['ike'].includes(','))
        assert.equal(s.ike.ikeProposal, shown.settings['ike']);
      if (shown.settings['esp'] !== undefined && !shown.settings['esp'].includes(','))
        assert.match(s.ike.espProposal, new RegExp(`^${shown.settings['esp']}`));
      if (shown.settings['remote-net'] !== undefined)
        assert.deepEqual(
          s.routes.filter((x) => !x.includes(':')),
          shown.settings['remote-net'].split(', '),
        );
      const d = bed.vpn(['down', name]);
      assert.equal(d.code, 0, d.err);
      assert.equal(await waitExit(r.proc), 0);
      await sleep(200);
      assert.equal(bed.snapshot(), baseline, 'client namespace restored exactly');
      return status;
    } finally {
      await bed.stop(r.proc);
    }
  }

  test('.sswan ikev2-eap (EAP-MSCHAPv2, CA embedded): import, up, ping + TCP, show = status', async () => {
    const rep = vpnImport([join(fx, 'mschap.sswan'), '--name', 'sswan-eap']);
    assert.equal(rep['format'], 'sswan');
    // dns-servers and split-tunneling.excluded have no equivalent: listed, not dropped.
    assert.deepEqual(
      (rep['unmapped'] as { path: string }[]).map((u) => u.path),
      ['split-tunneling.excluded', 'dns-servers'],
    );
    for (const f of ['sswan-eap.conf', 'sswan-eap-ca.pem'])
      assert.equal(statSync(join(profiles, f)).mode & 0o777, 0o600, f);
    const st = await upAndCompare('sswan-eap', { VPN_EAP_PASSWORD: "carol's EAP password" });
    assert.match(st.summary.ike.localId, /carol/);
  });

  test('.sswan ikev2-cert (PKCS#12 embedded, its password from the environment): up, ping + TCP', async () => {
    const rep = vpnImport([join(fx, 'rsa.sswan'), '--name', 'sswan-cert']);
    assert.deepEqual(rep['unmapped'], []);
    assert.equal(statSync(join(profiles, 'sswan-cert.p12')).mode & 0o777, 0o600);
    // The password scripts/make-import-fixtures.sh gave the PKCS#12 (a .sswan never holds it).
    const st = await upAndCompare('sswan-cert', { VPN_P12_PASSWORD: 'import p12 pass' });
    assert.match(st.summary.ike.localId, /client-rsa@test/);
  });

  test('.mobileconfig with a certificate (PKCS#12 payload + root payload): up, ping + TCP, show = status', async () => {
    const rep = vpnImport([join(fx, 'rsa.mobileconfig'), '--name', 'mc-cert']);
    assert.equal(rep['format'], 'mobileconfig');
    assert.deepEqual(rep['signature'], { signed: false, verified: false, text: 'not signed' });
    assert.deepEqual(
      (rep['unmapped'] as { path: string }[]).map((u) => u.path),
      ['PayloadContent[0].IKEv2.OnDemandEnabled', 'PayloadContent[0].IKEv2.OnDemandRules'],
    );
    for (const f of ['mc-cert.conf', 'mc-cert.p12', 'mc-cert-ca.pem'])
      assert.equal(statSync(join(profiles, f)).mode & 0o777, 0o600, f);
    const st = await upAndCompare('mc-cert');
    assert.match(st.summary.ike.localId, /client-rsa@test/);
  });

  test('a CMS-signed .mobileconfig (EAP, password inside) checked against --trust-ca: up, ping + TCP', async () => {
    const rep = vpnImport([
      join(fx, 'eap-signed.mobileconfig'),
      '--name',
      'mc-eap',
      '--trust-ca',
      join(PKI, 'ca.crt'),
    ]);
    assert.deepEqual(rep['signature'], {
      signed: true,
      signer: 'C=CH, O=ikev2-vpn test, CN=Profile Signer',
      verified: true,
      text: `signed by C=CH, O=ikev2-vpn test, CN=Profile Signer; the signer chains to ${join(PKI, 'ca.crt')}`,
    });
    // The EAP password came from the profile (mode 600), never printed.
    const r = bed.vpn(['show', 'mc-eap']);
    assert.match(r.out, /^eap-password\s+= \(set in the file; elided\)$/m);
    assert.ok(!r.out.includes("carol's EAP password"));
    await upAndCompare('mc-eap');

    // Tampered: refused (exit 12), nothing written.
    const bad = bed.vpn(['import', join(fx, 'eap-tampered.mobileconfig'), '--name', 'mc-bad']);
    assert.equal(bad.code, 12, bad.err);
    assert.match(bad.err, /^vpn: the profile's CMS signature does not verify/);
    const ls = bed.vpn(['profiles', '--json']);
    assert.ok(!ls.out.includes('mc-bad'));
  });

  test('.mobileconfig with a pre-shared key: the profile holds it at mode 600 and connects', async () => {
    vpnImport([join(fx, 'psk.mobileconfig'), '--name', 'mc-psk']);
    await upAndCompare('mc-psk');
  });

  test('vpn up NAME uses the imported profile as a whole (no gateway typed)', async () => {
    // By name alone: the gateway and everything else come from the imported profile.
    const proc = bed.spawnIn(bed.cli, [process.execPath, BIN, 'up', 'mc-psk', '--json']);
    try {
      let out = '';
      proc.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
      for (let i = 0; i < 100 && !out.includes('"event":"up"'); i++) await sleep(100);
      assert.match(out, /"event":"up"/);
      const ping = bed.exec(['ping', '-c', '1', '-W', '2', LAN_HOST]);
      assert.equal(ping.code, 0, ping.out + ping.err);
      assert.equal(bed.vpn(['down', 'mc-psk']).code, 0);
      assert.equal(await waitExit(proc), 0);
    } finally {
      await bed.stop(proc);
    }
  });
});
