/**
 * The pure helpers of scripts/bench-wg.mjs (bench-tunnel's wireguard-go anchor, issue 15 item 5):
 * key validation of `wg genkey` output, `ethtool -k` parsing, and the ours/strongSwan and
 * ours/wireguard-go ratio rows and table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface Row {
  name: string;
  ours: number;
  strongswan: number;
  wireguardGo: number;
  oursPerSw: number;
  oursPerWg: number;
  better: string;
}
interface BenchWg {
  validWgKey: (s: unknown) => boolean;
  parseEthtoolOffloads: (text: string) => Record<string, boolean>;
  wgRatioRows: (a: unknown, b: unknown, w: unknown) => Row[];
  formatWgTable: (rows: Row[]) => string[];
  wgIfNames: (p: string) => { cli: string; gw: string };
}
const load = async (): Promise<BenchWg> =>
  (await import(pathToFileURL(join(ROOT, 'scripts/bench-wg.mjs')).href)) as BenchWg;

/** A bench-tunnel result with every figure scaled by `k`. */
function figures(k: number) {
  const t = (mbps: number, cpu: number) => ({ mbps: mbps * k, cpuSecPerGB: cpu * k, bytes: 1e9 });
  return {
    upload: t(100, 4),
    download: t(200, 5),
    upload4: t(300, 6),
    download4: t(400, 7),
    udp1400: { pps: 50000 * k, lossPct: 1 },
    pingLoadedMs: 2 * k,
    peakRssMB: 60 * k,
    connectMs: { median: 300 * k },
    foregroundConnectMs: { median: 250 * k },
  };
}

test('validWgKey takes 32-byte base64 keys only', async () => {
  const { validWgKey } = await load();
  assert.equal(validWgKey('dilScm+hUq2l1zyQw8pWQ45KhOGY/9VygH4UfSy9gUo='), true);
  assert.equal(validWgKey('dilScm+hUq2l1zyQw8pWQ45KhOGY/9VygH4UfSy9gUo=\n'), true);
  // The last character before '=' carries 2 padding bits that must be zero.
  assert.equal(validWgKey('dilScm+hUq2l1zyQw8pWQ45KhOGY/9VygH4UfSy9gUp='), false);
  assert.equal(validWgKey('dilScm+hUq2l1zyQw8pWQ45KhOGY/9VygH4UfSy9g='), false);
  assert.equal(validWgKey('error: something; rm -rf /'), false);
  assert.equal(validWgKey(''), false);
  assert.equal(validWgKey(undefined), false);
});

test('parseEthtoolOffloads reads the TUN offloads and ignores the rest', async () => {
  const { parseEthtoolOffloads } = await load();
  const text = [
    'Features for vbenchwgc:',
    'rx-checksumming: off [fixed]',
    'tcp-segmentation-offload: on',
    '\ttx-tcp-segmentation: on',
    'tx-udp-segmentation: off [fixed]',
    'generic-receive-offload: on',
    'rx-udp-gro-forwarding: off',
    'bogus line without colon',
  ].join('\n');
  assert.deepEqual(parseEthtoolOffloads(text), {
    tso: true,
    uso: false,
    gro: true,
    udpGroForwarding: false,
  });
  assert.deepEqual(parseEthtoolOffloads(''), {});
});

test('wgRatioRows: ours/strongSwan and ours/wireguard-go from one run', async () => {
  const { wgRatioRows, formatWgTable } = await load();
  const rows = wgRatioRows(figures(1), figures(2), figures(4));
  const cpuUp = rows.find((r) => r.name === 'client CPU s/GB, upload');
  assert.ok(cpuUp);
  assert.equal(cpuUp.ours, 4);
  assert.equal(cpuUp.wireguardGo, 16);
  assert.equal(cpuUp.oursPerSw, 0.5);
  assert.equal(cpuUp.oursPerWg, 0.25);
  assert.equal(cpuUp.better, 'lower');
  const down = rows.find((r) => r.name === 'TCP download, 1 stream (Mbit/s)');
  assert.equal(down?.oursPerWg, 0.25);
  // Connect: our foreground figure against charon-cmd and wireguard-go's exec → first ping.
  const c = rows.find((r) => r.name.startsWith('connect median'));
  assert.equal(c?.ours, 250);
  assert.equal(c?.strongswan, 600);
  assert.equal(c?.wireguardGo, 1200);
  const lines = formatWgTable(rows);
  assert.equal(lines.length, rows.length + 1);
  assert.match(lines[0] ?? '', /ours\/sw\s+ours\/wg/);
  assert.match(lines.find((l) => l.startsWith('client CPU s/GB, upload ')) ?? '', /0\.50\s+0\.25/);
});

test('wgRatioRows with wireguard-go skipped keeps ours/strongSwan and prints "-"', async () => {
  const { wgRatioRows, formatWgTable } = await load();
  const rows = wgRatioRows(figures(1), figures(2), { skipped: '--no-wg' });
  for (const r of rows) {
    assert.ok(Number.isNaN(r.wireguardGo) && Number.isNaN(r.oursPerWg), r.name);
    assert.ok(Number.isFinite(r.oursPerSw), r.name);
  }
  const line = formatWgTable(rows).find((l) => l.startsWith('client peak RSS'));
  assert.match(line ?? '', /60\.00\s+120\.00\s+-\s+0\.50\s+-\s+lower/);
});

test('wireguard-go interface names fit IFNAMSIZ and differ per end', async () => {
  const { wgIfNames } = await load();
  for (const p of ['vbench', 'a-very-long-bench-prefix']) {
    const { cli, gw } = wgIfNames(p);
    assert.notEqual(cli, gw);
    assert.ok(cli.length <= 15 && gw.length <= 15);
  }
});
