/**
 * A named profile with the test bed's values connects to strongSwan: `vpn up NAME` reads
 * NAME.conf (its psk-file relative to the profile's folder), pings the LAN host through the
 * tunnel, `vpn down NAME` disconnects, and the client namespace is restored exactly.
 */
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, Bed, GW, LAN_HOST, skipReason, sleep, waitExit } from './support.js';

const skip = skipReason();

describe('interop: a named profile connects to strongSwan', { skip }, () => {
  const bed = new Bed('prof');
  let baseline = '';
  let profiles = '';

  before(() => {
    bed.up();
    baseline = bed.snapshot();
    profiles = join(bed.dir, 'profiles');
    mkdirSync(profiles, { mode: 0o700 });
    copyFileSync(bed.psk, join(profiles, 'office.psk'));
    chmodSync(join(profiles, 'office.psk'), 0o600);
    // World-readable is fine: the secret lives in the file it names.
    writeFileSync(
      join(profiles, 'office.conf'),
      [
        '# the test bed, as IT would hand it out',
        '[connect]',
        `gateway = ${GW}`,
        'id = client@test',
        'remote-id = @gw.test',
        'psk-file = office.psk',
        'dpd = 10',
        '',
      ].join('\n'),
    );
    chmodSync(join(profiles, 'office.conf'), 0o644);
    // bed.env() passes our environment to every vpn it runs.
    process.env['VPN_PROFILE_DIR'] = profiles;
  });
  after(() => {
    delete process.env['VPN_PROFILE_DIR'];
    bed.down();
  });
  afterEach(() => bed.stopAll());

  test('vpn up office: ping the LAN host, vpn down office, namespace restored', async () => {
    const show = bed.vpn(['show', 'office', '--json']);
    assert.equal(show.code, 0, show.err);
    const eff = JSON.parse(show.out) as { settings: Record<string, string> };
    assert.equal(eff.settings['gateway'], GW);
    assert.equal(eff.settings['psk-file'], join(profiles, 'office.psk'));
    assert.equal(eff.settings['name'], 'office');

    const proc = bed.track(
      spawn('ip', ['netns', 'exec', bed.cli, process.execPath, BIN, 'up', 'office', '--json'], {
        env: bed.env(),
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    const lines: string[] = [];
    const up = await new Promise<Record<string, unknown> | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), 40000);
      let buf = '';
      proc.stderr.setEncoding('utf8').on('data', (d: string) => lines.push(`stderr: ${d}`));
      proc.stdout.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          lines.push(line);
          try {
            const ev = JSON.parse(line) as Record<string, unknown>;
            if (ev['event'] === 'up') {
              clearTimeout(timer);
              resolve(ev);
            }
          } catch {
            // not JSON
          }
        }
      });
      proc.on('exit', () => {
        clearTimeout(timer);
        resolve(undefined);
      });
    });
    assert.ok(up, `no "up" event:\n${lines.join('\n')}`);

    const ping = bed.exec(['ping', '-c', '3', '-i', '0.2', '-W', '2', LAN_HOST]);
    assert.equal(ping.code, 0, ping.out + ping.err);
    assert.match(bed.gwSas(), /client@test/);

    // The tunnel is named after the profile: status and down find it by that name.
    const st = bed.vpn(['status', '--json', '--name', 'office']);
    assert.equal(st.code, 0, st.err);
    assert.equal((JSON.parse(st.out) as { state: string }).state, 'up');

    const d = bed.vpn(['down', 'office']);
    assert.equal(d.code, 0, d.err);
    assert.equal(await waitExit(proc), 0);
    await sleep(300);
    assert.doesNotMatch(bed.gwSas(), /ESTABLISHED/, 'no SA left on the gateway');
    assert.equal(bed.snapshot(), baseline, 'client namespace restored exactly');
  });

  test('the PSK inside a mode-600 profile, background = true: up, ping, down', async () => {
    const psk = readFileSync(bed.psk, 'utf8').trim();
    const conf = join(profiles, 'inline.conf');
    writeFileSync(
      conf,
      `gateway = ${GW}\nid = client@test\nremote-id = @gw.test\npsk = ${psk}\nbackground = true\n`,
    );
    chmodSync(conf, 0o600);
    bed.background('inline');
    // The parent reads the file's PSK and hands it to the detached child over IPC.
    const up = bed.vpn(['up', 'inline', '--json'], 60000);
    assert.equal(up.code, 0, up.out + up.err);
    assert.equal((JSON.parse(up.out.trim().split('\n').pop()!) as { event: string }).event, 'up');
    assert.ok(!up.out.includes(psk) && !up.err.includes(psk), 'the PSK is never printed');
    const ping = bed.exec(['ping', '-c', '2', '-i', '0.2', '-W', '2', LAN_HOST]);
    assert.equal(ping.code, 0, ping.out + ping.err);
    const d = bed.vpn(['down', 'inline']);
    assert.equal(d.code, 0, d.err);
    await sleep(500);
    assert.equal(bed.snapshot(), baseline, 'client namespace restored exactly');
  });
});
