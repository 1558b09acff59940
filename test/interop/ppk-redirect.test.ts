/**
 * RFC 8784 post-quantum preshared keys and RFC 5685 redirects against strongSwan 5.9.8, in one
 * test bed with two gateways (scripts/testbed/up.sh + gw2.sh):
 * - gw1 (198.51.100.10) holds a PPK (`ppk_id`, `ppk_required`, secrets `ppk { id secret }`) on
 *   connection `ppk` (IDr ppk.gw.test); its plain `psk` connection (IDr gw.test) has none;
 * - gw2 (198.51.100.20) has the same `psk` connection and pool, and no PPK at all.
 * `swanctl --redirect` on the gateway holding the client sends it to the other one.
 */
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Bed, LAN_HOST, TB, skipReason, sleep, waitExit, tcpStream } from './support.js';

const skip = skipReason();
const GW1 = '198.51.100.10';
const GW2 = '198.51.100.20';
const PPK = 'interop post-quantum preshared key, 32+ bytes long';
const ID = ['--id', 'client@test'];

describe('interop: RFC 8784 PPK and RFC 5685 redirects with strongSwan 5.9.8', { skip }, () => {
  const bed = new Bed('ppkr');
  let baseline = '';
  let ppkFile = '';
  let wrongPpkFile = '';
  const vici = (gw: 'gw' | 'gw2'): string => `unix:///tmp/${bed.prefix}/${gw}/charon.vici`;
  const swanctl = (gw: 'gw' | 'gw2', args: string[]): string => {
    const r = spawnSync('swanctl', [...args, '--uri', vici(gw)], {
      encoding: 'utf8',
      timeout: 20000,
    });
    assert.equal(r.status, 0, `swanctl ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  const gwLog = (gw: 'gw' | 'gw2'): string =>
    readFileSync(`/tmp/${bed.prefix}/${gw}/charon.log`, 'utf8');

  before(() => {
    bed.up();
    const r = spawnSync('bash', [join(TB, 'gw2.sh'), '--prefix', bed.prefix], {
      encoding: 'utf8',
      timeout: 60000,
    });
    assert.equal(r.status, 0, `gw2.sh: ${r.stdout}${r.stderr}`);
    // gw1: a connection that requires the PPK, and the PPK itself (strongSwan's swanctl.conf
    // keys ppk_id / ppk_required and a `ppk` secret).
    const conf = `/tmp/${bed.prefix}/gw/swanctl.conf`;
    const psk = readFileSync(bed.psk, 'utf8').trim();
    const text = readFileSync(conf, 'utf8')
      .replace(
        /^connections \{\n/m,
        `connections {
  ppk {
    version = 2
    local_addrs = ${GW1}
    pools = pool4
    proposals = aes256gcm16-prfsha256-x25519
    ppk_id = ppk-test
    ppk_required = yes
    local {
      auth = psk
      id = ppk.gw.test
    }
    remote {
      auth = psk
      id = %any
    }
    children {
      net {
        local_ts = 203.0.113.0/25
        esp_proposals = aes256gcm16
        dpd_action = clear
      }
    }
  }
`,
      )
      .replace(
        /^secrets \{\n/m,
        `secrets {
  ike-ppkgw {
    id-gw = ppk.gw.test
    id-client = client@test
    secret = "${psk}"
  }
  ppk-test {
    id = ppk-test
    secret = "${PPK}"
  }
`,
      );
    writeFileSync(conf, text);
    swanctl('gw', ['--load-all', '--noprompt', '--file', conf]);
    ppkFile = join(bed.dir, 'ppk');
    writeFileSync(ppkFile, `${PPK}\n`);
    chmodSync(ppkFile, 0o600);
    wrongPpkFile = join(bed.dir, 'ppk-wrong');
    writeFileSync(wrongPpkFile, `${PPK.replace('interop', 'INTEROP')}\n`);
    chmodSync(wrongPpkFile, 0o600);
    baseline = bed.snapshot();
  });
  after(() => bed.down());
  afterEach(() => bed.stopAll());

  /** Disconnects the tunnel `name` and checks the client namespace is as before. */
  async function down(name: string, proc: Parameters<typeof waitExit>[0]): Promise<void> {
    const d = bed.vpn(['disconnect', '--name', name]);
    assert.equal(d.code, 0, d.err);
    assert.equal(await waitExit(proc), 0);
    await sleep(200);
    assert.equal(bed.snapshot(), baseline, 'client namespace restored exactly');
  }

  test('PPK: the right PPK with --ppk-required: up, ping, the gateway used the PPK', async () => {
    const r = await bed.connect([
      ...ID,
      '--remote-id',
      '@ppk.gw.test',
      '--psk-file',
      bed.psk,
      '--ppk-file',
      ppkFile,
      '--ppk-id',
      'ppk-test',
      '--ppk-required',
      '--name',
      'ppk',
    ]);
    assert.ok(r.up, `no "up" event:\n${r.lines.join('\n')}`);
    const summary = r.up['summary'] as { ike: { ppk?: boolean } };
    assert.equal(summary.ike.ppk, true);
    const ping = bed.exec(['ping', '-c', '2', '-i', '0.2', '-W', '2', LAN_HOST]);
    assert.equal(ping.code, 0, ping.out + ping.err);
    assert.match(gwLog('gw'), /using PPK for PPK_ID 'ppk-test'/);
    const st = bed.vpn(['status', '--name', 'ppk']);
    assert.match(st.out, /PPK: +in use/);
    await down('ppk', r.proc);
  });

  test('PPK: a wrong PPK with --ppk-required: exit 4 (authentication failed)', async () => {
    const r = await bed.connect([
      ...ID,
      '--remote-id',
      '@ppk.gw.test',
      '--psk-file',
      bed.psk,
      '--ppk-file',
      wrongPpkFile,
      '--ppk-id',
      'ppk-test',
      '--ppk-required',
      '--retry',
      '0',
    ]);
    assert.equal(r.up, undefined, r.lines.join('\n'));
    assert.equal(r.code, 4, r.lines.join('\n'));
    assert.match(r.lines.join('\n'), /AUTHENTICATION_FAILED/);
    await sleep(200);
    assert.equal(bed.snapshot(), baseline);
  });

  test('PPK: without --ppk-required, a gateway without PPK (gw2): up with a warning', async () => {
    const r = await bed.connect(
      [
        ...ID,
        '--remote-id',
        '@gw.test',
        '--psk-file',
        bed.psk,
        '--ppk-file',
        ppkFile,
        '--ppk-id',
        'ppk-test',
        '--name',
        'noppk',
      ],
      GW2,
    );
    assert.ok(r.up, `no "up" event:\n${r.lines.join('\n')}`);
    assert.match(r.lines.join('\n'), /"event":"warning".*no USE_PPK/);
    assert.equal((r.up['summary'] as { ike: { ppk?: boolean } }).ike.ppk, false);
    const ping = bed.exec(['ping', '-c', '2', '-i', '0.2', '-W', '2', LAN_HOST]);
    assert.equal(ping.code, 0, ping.out + ping.err);
    await down('noppk', r.proc);
  });

  test('PPK: a PPK ID gw1 does not know, not required: gw1 takes our NO_PPK_AUTH; up with a warning', async () => {
    const r = await bed.connect([
      ...ID,
      '--remote-id',
      '@gw.test',
      '--psk-file',
      bed.psk,
      '--ppk-file',
      ppkFile,
      '--ppk-id',
      'unknown-ppk',
      '--name',
      'noppkauth',
    ]);
    assert.ok(r.up, `no "up" event:\n${r.lines.join('\n')}`);
    assert.match(r.lines.join('\n'), /"event":"warning".*NO_PPK_AUTH/);
    assert.match(gwLog('gw'), /using NO_PPK_AUTH notify/);
    await down('noppkauth', r.proc);
  });

  test('REDIRECT: swanctl --redirect moves the client to gw2, TCP recovers; a loop is cut after 5', async (t) => {
    const r = await bed.connect([
      ...ID,
      '--remote-id',
      '@gw.test',
      '--psk-file',
      bed.psk,
      '--name',
      'redir',
    ]);
    assert.ok(r.up, `no "up" event:\n${r.lines.join('\n')}`);
    const ups = (): number => r.lines.filter((l) => l.includes('"event":"up"')).length;
    const waitUp = async (n: number): Promise<void> => {
      for (let i = 0; i < 100 && ups() < n; i++) await sleep(100);
      assert.equal(ups(), n, `not up again:\n${r.lines.join('\n')}`);
    };
    const stream = tcpStream(bed, 4, 5203);
    await sleep(1500);
    assert.match(
      swanctl('gw', ['--redirect', '--peer-ip', '198.51.100.1', '--gateway', GW2]),
      /redirect completed successfully/,
    );
    await waitUp(2);
    const result = await stream;
    assert.ok(result.sent.length === 64, `stream failed: ${result.err}\n${r.lines.join('\n')}`);
    assert.equal(result.received, result.sent, 'TCP stream checksum across the redirect');
    const text = r.lines.join('\n');
    assert.match(text, /"event":"redirected","from":"198\.51\.100\.10","to":"198\.51\.100\.20"/);
    // How long the tunnel carried nothing: from the REDIRECT to up at gw2.
    const at = (event: string, nth = 0): number =>
      Date.parse(
        (
          JSON.parse(r.lines.filter((l) => l.includes(`"event":"${event}"`))[nth]!) as {
            time: string;
          }
        ).time,
      );
    const outage = at('up', 1) - at('redirected');
    assert.ok(outage >= 0 && outage < 5000, `outage ${outage} ms`);
    t.diagnostic(`redirect gw1 -> gw2: up again after ${outage} ms`);
    // strongSwan logs the REDIRECTED_FROM notify we sent it.
    assert.match(gwLog('gw2'), /client got redirected from 198\.51\.100\.10/);
    assert.match(swanctl('gw2', ['--list-sas']), /ESTABLISHED/);
    const st = bed.vpn(['status', '--name', 'redir']);
    assert.match(st.out, /Gateway: +198\.51\.100\.20 \(redirected from 198\.51\.100\.10/);
    const ping = bed.exec(['ping', '-c', '2', '-i', '0.2', '-W', '2', LAN_HOST]);
    assert.equal(ping.code, 0, ping.out + ping.err);

    // A loop: each gateway sends the client back to the other. Redirects 2..5 are followed;
    // the sixth within 300 s ends the tunnel with a clear error (exit 7), host restored.
    let on: 'gw' | 'gw2' = 'gw2';
    for (let n = 2; n <= 6; n++) {
      const to = on === 'gw' ? GW2 : GW1;
      swanctl(on, ['--redirect', '--peer-ip', '198.51.100.1', '--gateway', to]);
      on = on === 'gw' ? 'gw2' : 'gw';
      if (n < 6) await waitUp(n + 1);
    }
    const code = await waitExit(r.proc, 20000);
    assert.equal(code, 7, r.lines.join('\n'));
    assert.match(
      r.lines.join('\n'),
      /redirect loop: the gateways redirected us 6 times within 300 s/,
    );
    await sleep(200);
    assert.equal(bed.snapshot(), baseline, 'client namespace restored exactly');
  });
});
