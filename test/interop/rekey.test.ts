/**
 * Rekeying with a real gateway while a TCP stream runs through the tunnel: the stream must finish
 * with its checksum intact and the tunnel must stay up. Two beds keep the outcome deterministic:
 * in one strongSwan rekeys the CHILD_SA every ~5 s and the IKE SA every ~10 s (we only answer);
 * in the other we rekey the CHILD_SA every ~3 s (strongSwan only answers). Simultaneous rekeys
 * (RFC 7296 §2.8.1) are covered by the two-party tests in test/ike/session.test.ts.
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Bed, LAN_HOST, ROOT, skipReason, waitExit } from './support.js';

const skip = skipReason();
const fixture = join(ROOT, 'test/interop/fixtures/tcp-sha.mjs');

async function streamThroughRekeys(
  bed: Bed,
  name: string,
  extra: string[],
  secs: number,
): Promise<{ childRekeys: number; ikeRekeys: number; by: string[] }> {
  const r = await bed.connect([
    '--id',
    'client@test',
    '--remote-id',
    '@gw.test',
    '--psk-file',
    bed.psk,
    '--name',
    name,
    ...extra,
  ]);
  assert.ok(r.up, r.lines.join('\n'));
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
    String(secs),
  ]);
  let out = '';
  client.stdout.setEncoding('utf8');
  client.stdout.on('data', (d: string) => (out += d));
  assert.equal(await waitExit(client, 60000), 0, out);
  await waitExit(server);
  const [sent, received] = out.trim().split(' ');
  assert.ok(sent?.length === 64, out);
  assert.equal(received, sent, 'stream checksum');
  const st = JSON.parse(bed.vpn(['status', '--json', '--name', name]).out) as {
    state: string;
    ike: { childRekeys: number; ikeRekeys: number };
  };
  assert.equal(st.state, 'up');
  assert.equal(bed.exec(['ping', '-c', '1', '-W', '2', LAN_HOST]).code, 0);
  assert.match(bed.gwSas(), /ESTABLISHED/);
  const by = r.lines.flatMap((l) => {
    try {
      const e = JSON.parse(l) as { event?: string; what?: string; by?: string };
      return e.event === 'rekeyed' && e.what === 'child' && e.by ? [e.by] : [];
    } catch {
      return [];
    }
  });
  r.proc.kill('SIGTERM');
  assert.equal(await waitExit(r.proc), 0);
  return { childRekeys: st.ike.childRekeys, ikeRekeys: st.ike.ikeRekeys, by };
}

describe('interop: rekeying under traffic', { skip }, () => {
  const beds: Bed[] = [];
  after(() => beds.forEach((b) => b.down()));

  test('strongSwan rekeys the CHILD_SA (~5 s) and the IKE SA (~10 s); we answer', async () => {
    const bed = new Bed('rg');
    beds.push(bed);
    bed.up({
      TB_REKEY_CHILD: '5s',
      TB_LIFE_CHILD: '30s',
      TB_RAND_CHILD: '1s',
      TB_REKEY_IKE: '10s',
      TB_OVER_IKE: '30s',
    });
    const r = await streamThroughRekeys(bed, 'rg', ['--rekey', '0'], 16);
    assert.ok(r.childRekeys >= 2, `CHILD_SA rekeys: ${r.childRekeys}`);
    assert.ok(r.ikeRekeys >= 1, `IKE SA rekeys: ${r.ikeRekeys}`);
    assert.ok(r.by.every((b) => b === 'peer'));
    console.log(
      `# gateway-started rekeys during a 16 s stream: ${r.childRekeys} CHILD_SA, ${r.ikeRekeys} IKE SA`,
    );
  });

  test('we rekey the CHILD_SA every ~3 s and the IKE SA every ~5 s; strongSwan answers', async () => {
    const bed = new Bed('ru');
    beds.push(bed);
    bed.up();
    const r = await streamThroughRekeys(bed, 'ru', ['--rekey', '3', '--ike-rekey', '5'], 12);
    assert.ok(r.childRekeys >= 3, `CHILD_SA rekeys: ${r.childRekeys}`);
    assert.ok(r.ikeRekeys >= 1, `IKE SA rekeys: ${r.ikeRekeys}`);
    assert.ok(r.by.every((b) => b === 'us'));
    console.log(
      `# our rekeys during a 12 s stream: ${r.childRekeys} CHILD_SA, ${r.ikeRekeys} IKE SA`,
    );
  });
});
