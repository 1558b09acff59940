/**
 * Rekeying with a real gateway: strongSwan configured with short lifetimes (CHILD_SA every ~5 s,
 * IKE SA every ~12 s) rekeys our SAs while a TCP stream runs through the tunnel; the stream must
 * finish with its checksum intact and the tunnel must stay up.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Bed, LAN_HOST, ROOT, skipReason, waitExit } from './support.js';

const skip = skipReason();

describe('interop: gateway-initiated rekeys under traffic', { skip }, () => {
  const bed = new Bed('rk');
  before(() =>
    bed.up({
      TB_REKEY_CHILD: '5s',
      TB_LIFE_CHILD: '30s',
      TB_RAND_CHILD: '1s',
      TB_REKEY_IKE: '12s',
      TB_OVER_IKE: '30s',
    }),
  );
  after(() => bed.down());

  test('CHILD_SA and IKE SA rekeys during a 20 s TCP stream: no broken connection, checksum intact', async () => {
    const r = await bed.connect([
      '--id',
      'client@test',
      '--remote-id',
      '@gw.test',
      '--psk-file',
      bed.psk,
      '--name',
      'rk',
    ]);
    assert.ok(r.up, r.lines.join('\n'));
    const fixture = join(ROOT, 'test/interop/fixtures/tcp-sha.mjs');
    const server = spawn('ip', [
      'netns',
      'exec',
      bed.ns('lan'),
      process.execPath,
      fixture,
      'server',
      '5202',
    ]);
    await new Promise<void>((resolve) => server.stdout.once('data', () => resolve()));
    const client = spawn('ip', [
      'netns',
      'exec',
      bed.cli,
      process.execPath,
      fixture,
      'stream',
      LAN_HOST,
      '5202',
      '20',
    ]);
    let out = '';
    client.stdout.setEncoding('utf8');
    client.stdout.on('data', (d: string) => (out += d));
    assert.equal(await waitExit(client, 60000), 0, out);
    await waitExit(server);
    const [sent, received] = out.trim().split(' ');
    assert.ok(sent?.length === 64, out);
    assert.equal(received, sent, 'stream checksum');
    const st = JSON.parse(bed.vpn(['status', '--json', '--name', 'rk']).out) as {
      state: string;
      ike: { childRekeys: number; ikeRekeys: number };
    };
    assert.equal(st.state, 'up');
    assert.ok(st.ike.childRekeys >= 3, `child rekeys: ${st.ike.childRekeys}`);
    assert.ok(st.ike.ikeRekeys >= 1, `IKE rekeys: ${st.ike.ikeRekeys}`);
    assert.equal(bed.exec(['ping', '-c', '1', '-W', '2', LAN_HOST]).code, 0);
    assert.match(bed.gwSas(), /ESTABLISHED/);
    console.log(
      `# rekeys during the stream: ${st.ike.childRekeys} CHILD_SA, ${st.ike.ikeRekeys} IKE SA`,
    );
    r.proc.kill('SIGTERM');
    assert.equal(await waitExit(r.proc), 0);
  });
});
