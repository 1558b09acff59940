/**
 * The native data plane on a real TUN device, in a network namespace of its own: ping crosses it
 * both ways (echo request: TUN → outbound thread → ESP → a JavaScript gateway; echo reply: ESP →
 * inbound thread → TUN → ping). Needs root and /dev/net/tun; skipped with the reason otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { DIST, Fixture, Netns, nsSkipReason } from '../tun/helpers.js';
import { ESP_ADDON, ROOT, TUN_ADDON, skipReason } from './helpers.js';

const skip = nsSkipReason() ?? skipReason();

interface Report {
  stats: { packetsOut: number; packetsIn: number; drops: Record<string, number> };
  echoes: { id: number; seq: number }[];
  errors: string[];
}

test('ping through a real TUN device carried by the data plane threads', { skip }, async () => {
  const ns = new Netns();
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      ns.name,
      process.execPath,
      join(ROOT!, 'test/fastpath/fixtures/tun-gateway.mjs'),
      DIST,
      TUN_ADDON!,
      ESP_ADDON!,
      '203.0.113.2/24',
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const fx = new Fixture(child);
  try {
    const ready = await fx.next('ready');
    assert.match(String(ready['name']), /^vt\d+$/);
    const ping = ns.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', '203.0.113.9']);
    assert.equal(ping.status, 0, `ping failed: ${ping.stdout}${ping.stderr}`);
    assert.match(ping.stdout, /3 received/);
    fx.send('report');
    const r = (await fx.next('report')) as unknown as Report;
    assert.equal(r.echoes.length, 3);
    assert.ok(r.stats.packetsOut >= 3 && r.stats.packetsIn >= 3, JSON.stringify(r.stats));
    assert.equal(r.stats.drops['auth'], 0);
    assert.deepEqual(r.errors, []);
    fx.send('close');
    await fx.next('closed');
    await fx.exited();
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    ns.close();
  }
});
