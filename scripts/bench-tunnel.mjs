#!/usr/bin/env node
// Tunnel benchmark: our client vs strongSwan's own client (charon + kernel-libipsec, i.e.
// strongSwan's userspace ESP) against the same strongSwan gateway in the same run, through the
// test bed's NAT. Prints each figure and our/strongSwan ratios; writes JSON with --json FILE.
//
//   sudo node scripts/bench-tunnel.mjs [--seconds N] [--connects N] [--quick] [--json FILE]
//
// Figures: iperf3 TCP upload and download (client → LAN host and back), connect time (exec of
// `vpn connect` to the first ping answered through the tunnel; for strongSwan: `swanctl --initiate`
// with a warm charon to the first ping answered), and CPU seconds per GB moved by the client process
// (utime + stime from /proc/PID/stat over the transfer).
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync, copyFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const TB = join(ROOT, 'scripts/testbed');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const num = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const SECONDS = num('--seconds', quick ? 3 : 10);
const CONNECTS = num('--connects', quick ? 3 : 7);
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;
if (process.getuid() !== 0) {
  console.error('bench-tunnel: run as root (network namespaces, TUN devices)');
  process.exit(2);
}

const P = 'vbench';
const CLI = `${P}-cli`;
const LAN = `${P}-lan`;
const GW = '198.51.100.10';
const LAN_HOST = '203.0.113.10';
const HZ = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);
const work = mkdtempSync(join(tmpdir(), 'vpn-bench-'));
const env = {
  ...process.env,
  VPN_RUNTIME_DIR: join(work, 'run'),
  VPN_DNS_BACKEND: 'file',
  CI: 'true',
};
const children = [];

function sh(cmd, a, opts = {}) {
  const r = spawnSync(cmd, a, { encoding: 'utf8', env, ...opts });
  if (r.status !== 0 && !opts.allowFail)
    throw new Error(`${cmd} ${a.join(' ')} failed: ${r.stderr || r.stdout}`);
  return r;
}
const inNs = (ns, a, opts) => sh('ip', ['netns', 'exec', ns, ...a], opts);
const cpuSeconds = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / HZ; // utime, stime (fields 14, 15)
};
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const p95 = (xs) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(0.95 * xs.length) - 1)];

function waitPing(deadlineMs) {
  const end = performance.now() + deadlineMs;
  while (performance.now() < end) {
    if (
      inNs(CLI, ['ping', '-c', '1', '-W', '1', '-i', '0.2', LAN_HOST], { allowFail: true })
        .status === 0
    )
      return true;
  }
  return false;
}

function iperf(reverse) {
  const r = inNs(
    CLI,
    ['iperf3', '-c', LAN_HOST, '-t', String(SECONDS), '-J', ...(reverse ? ['-R'] : [])],
    { timeout: (SECONDS + 20) * 1000 },
  );
  const j = JSON.parse(r.stdout);
  const s = reverse ? j.end.sum_received : j.end.sum_sent;
  return { bps: j.end.sum_received.bits_per_second, bytes: s.bytes };
}

function measureTransfer(pid) {
  const out = {};
  for (const [name, rev] of [
    ['upload', false],
    ['download', true],
  ]) {
    const c0 = cpuSeconds(pid);
    const r = iperf(rev);
    const cpu = cpuSeconds(pid) - c0;
    out[name] = { mbps: r.bps / 1e6, cpuSecPerGB: cpu / (r.bytes / 1e9), bytes: r.bytes };
  }
  return out;
}

async function ours() {
  const connects = [];
  let pid;
  let proc;
  for (let i = 0; i < CONNECTS; i++) {
    const t0 = performance.now();
    proc = spawn(
      'ip',
      [
        'netns',
        'exec',
        CLI,
        process.execPath,
        join(ROOT, 'bin/vpn.js'),
        'connect',
        GW,
        '--id',
        'client@test',
        '--remote-id',
        '@gw.test',
        '--psk-file',
        join(work, 'psk'),
        '--json',
      ],
      { env, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(proc);
    await new Promise((resolve, reject) => {
      let buf = '';
      proc.stdout.on('data', (d) => {
        buf += d;
        if (buf.includes('"event":"up"')) resolve();
      });
      proc.on('exit', (code) => reject(new Error(`vpn connect exited ${code}`)));
    });
    if (!waitPing(10000)) throw new Error('no ping through our tunnel');
    connects.push(performance.now() - t0);
    pid = proc.pid;
    if (i < CONNECTS - 1) {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.on('exit', r));
    }
  }
  const transfer = measureTransfer(pid);
  const rss = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
  proc.kill('SIGTERM');
  await new Promise((r) => proc.on('exit', r));
  return {
    connectMs: { median: median(connects), p95: p95(connects), runs: connects },
    ...transfer,
    peakRssMB: rss,
  };
}

function strongswan() {
  sh('bash', [join(TB, 'sw-client.sh'), '--prefix', P, 'start']);
  const pid = Number(readFileSync(`/tmp/${P}/swc/charon.pid`, 'utf8'));
  const connects = [];
  for (let i = 0; i < CONNECTS; i++) {
    const t0 = performance.now();
    sh('bash', [join(TB, 'sw-client.sh'), '--prefix', P, 'up']);
    if (!waitPing(10000)) throw new Error('no ping through strongSwan tunnel');
    connects.push(performance.now() - t0);
    if (i < CONNECTS - 1) sh('bash', [join(TB, 'sw-client.sh'), '--prefix', P, 'down']);
  }
  const transfer = measureTransfer(pid);
  const rss = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
  sh('bash', [join(TB, 'sw-client.sh'), '--prefix', P, 'stop']);
  return {
    connectMs: { median: median(connects), p95: p95(connects), runs: connects },
    ...transfer,
    peakRssMB: rss,
  };
}

let iperfServer;
try {
  sh('bash', [join(TB, 'up.sh'), '--prefix', P]);
  copyFileSync(`/tmp/${P}/psk`, join(work, 'psk'));
  chmodSync(join(work, 'psk'), 0o600);
  iperfServer = spawn('ip', ['netns', 'exec', LAN, 'iperf3', '-s'], { stdio: 'ignore' });
  children.push(iperfServer);
  await new Promise((r) => setTimeout(r, 500));
  const a = await ours();
  const b = strongswan();
  const cpuInfo =
    readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? 'unknown';
  const rows = [
    ['TCP upload (Mbit/s)', a.upload.mbps, b.upload.mbps, 'higher'],
    ['TCP download (Mbit/s)', a.download.mbps, b.download.mbps, 'higher'],
    ['client CPU s/GB, upload', a.upload.cpuSecPerGB, b.upload.cpuSecPerGB, 'lower'],
    ['client CPU s/GB, download', a.download.cpuSecPerGB, b.download.cpuSecPerGB, 'lower'],
    ['connect median (ms)', a.connectMs.median, b.connectMs.median, 'lower'],
    ['connect p95 (ms)', a.connectMs.p95, b.connectMs.p95, 'lower'],
    ['client peak RSS (MB)', a.peakRssMB, b.peakRssMB, 'lower'],
  ];
  console.log(
    `bench-tunnel: ${SECONDS} s iperf3 per direction, ${CONNECTS} connects each; ${cpuInfo}, ${spawnSync('nproc').stdout.toString().trim()} cores`,
  );
  console.log(
    'strongSwan: charon 5.9.8 with kernel-libipsec (userspace ESP), warm daemon, `swanctl --initiate`',
  );
  console.log(
    `${'figure'.padEnd(28)}${'ours'.padStart(12)}${'strongSwan'.padStart(12)}${'ours/sw'.padStart(10)}  better`,
  );
  for (const [name, x, y, better] of rows) {
    console.log(
      `${name.padEnd(28)}${x.toFixed(2).padStart(12)}${y.toFixed(2).padStart(12)}${(x / y).toFixed(2).padStart(10)}  ${better}`,
    );
  }
  const result = {
    date: new Date().toISOString(),
    seconds: SECONDS,
    connects: CONNECTS,
    cpu: cpuInfo,
    ours: a,
    strongswan: b,
  };
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify(result, null, 2) + '\n');
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  spawnSync('bash', [join(TB, 'sw-client.sh'), '--prefix', P, 'stop']);
  spawnSync('bash', [join(TB, 'down.sh'), '--prefix', P]);
  rmSync(work, { recursive: true, force: true });
}
