/**
 * The TUN addon on its own, in a namespace this test creates: packets written by the kernel reach
 * us in batches, packets we write reach the kernel (ping gets its answer from us), and opening a
 * device without privilege is a clear ERR_TUN.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../interop/support.js';

const NS = `vtun${process.pid % 10000}`;
const ADDON = join(ROOT, 'build/Release/tun.node');
const skip =
  process.getuid?.() !== 0 ? 'needs root' : !existsSync(ADDON) ? 'TUN addon not built' : undefined;

// Runs inside the namespace: opens vt0, answers ICMP echo requests to 203.0.113.9 itself, counts
// batches, and exits after the ping.
const responder = `
import { openTun } from ${JSON.stringify(join(ROOT, 'dist/src/tun/linux.js'))};
import { execFileSync } from 'node:child_process';
const tun = openTun({ name: 'vt0', mtu: 1400 });
execFileSync('ip', ['addr', 'add', '203.0.113.2/24', 'dev', 'vt0']);
execFileSync('ip', ['link', 'set', 'vt0', 'up']);
let echoes = 0, batches = 0, maxBatch = 0;
tun.onPackets((pkts) => {
  batches++; maxBatch = Math.max(maxBatch, pkts.length);
  for (const p of pkts) {
    if ((p[0] >> 4) !== 4 || p[9] !== 1 || p[20] !== 8) continue;
    echoes++;
    const r = Uint8Array.from(p);
    r.set(p.subarray(16, 20), 12); r.set(p.subarray(12, 16), 16); // swap addresses
    r[20] = 0; // echo reply
    let sum = (p[22] << 8 | p[23]) + 0x0800; sum = (sum & 0xffff) + (sum >> 16);
    r[22] = sum >> 8; r[23] = sum & 0xff;
    tun.write(r);
  }
});
process.stdout.write('ready\\n');
process.stdin.on('data', () => {
  process.stdout.write(JSON.stringify({ echoes, batches, maxBatch, stats: tun.stats() }) + '\\n');
  tun.close();
  process.exit(0);
});
`;

before(() => {
  if (skip) return;
  spawnSync('ip', ['netns', 'add', NS]);
  spawnSync('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
});
after(() => {
  if (!skip) spawnSync('ip', ['netns', 'del', NS]);
});

test('ping through a TUN device answered by our own code; batched reads', { skip }, async () => {
  const { spawn } = await import('node:child_process');
  const child = spawn(
    'ip',
    ['netns', 'exec', NS, process.execPath, '--input-type=module', '-e', responder],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => (out += d));
  await new Promise<void>((resolve) => {
    const t = setInterval(() => {
      if (out.includes('ready')) {
        clearInterval(t);
        resolve();
      }
    }, 20);
  });
  const ping = spawnSync(
    'ip',
    ['netns', 'exec', NS, 'ping', '-c', '3', '-i', '0.2', '-W', '2', '203.0.113.9'],
    { encoding: 'utf8' },
  );
  assert.equal(ping.status, 0, ping.stdout + ping.stderr);
  // A flood of UDP packets routed into the device arrives in batches.
  spawnSync('ip', [
    'netns',
    'exec',
    NS,
    process.execPath,
    '-e',
    `
    const s = require('node:dgram').createSocket('udp4');
    let n = 0; const b = Buffer.alloc(100);
    (function go() { for (let i = 0; i < 500; i++) s.send(b, 9, '203.0.113.50'); if (++n < 4) setImmediate(go); else setTimeout(() => s.close(), 200); })();
  `,
  ]);
  child.stdin.write('report\n');
  await new Promise((r) => child.on('exit', r));
  const report = JSON.parse(out.trim().split('\n').at(-1)!) as {
    echoes: number;
    batches: number;
    maxBatch: number;
    stats: { rxPackets: number; txPackets: number };
  };
  assert.ok(report.echoes >= 3, JSON.stringify(report));
  assert.ok(report.stats.txPackets >= 3);
  assert.ok(report.stats.rxPackets > report.batches, `batched: ${JSON.stringify(report)}`);
  assert.ok(report.maxBatch > 1);
});

test('opening a TUN device without privilege is ERR_TUN with advice', { skip }, () => {
  const r = spawnSync(
    'setpriv',
    [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      '--inh-caps=-all',
      process.execPath,
      '--input-type=module',
      '-e',
      `import { openTun } from ${JSON.stringify(join(ROOT, 'dist/src/tun/linux.js'))}; try { openTun(); } catch (e) { console.log(e.code + ': ' + e.message); }`,
    ],
    { encoding: 'utf8' },
  );
  assert.match(
    r.stdout,
    /^ERR_TUN: cannot create a TUN device: permission denied — run as root or grant CAP_NET_ADMIN/,
  );
});
