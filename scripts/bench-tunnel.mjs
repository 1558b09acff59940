#!/usr/bin/env node
// Tunnel benchmark: our client vs strongSwan's own client (charon + kernel-libipsec, i.e.
// strongSwan's userspace ESP) against the same strongSwan gateway in the same run, through the
// test bed's NAT. Prints each figure and our/strongSwan ratios; writes JSON with --json FILE.
//
//   sudo node scripts/bench-tunnel.mjs [--seconds N] [--connects N] [--quick] [--json FILE]
//   sudo node scripts/bench-tunnel.mjs --soak SECONDS [--json FILE]
//   sudo node scripts/bench-tunnel.mjs --pq [--connects N] [--json FILE]
//   sudo node scripts/bench-tunnel.mjs --connect-only [--connects N] [--seconds N] [--json FILE]
//
// Figures: iperf3 TCP upload and download with 1 and 4 streams (client → LAN host and back), UDP
// upload at 64- and 1400-byte payloads (packets/s delivered, loss), ping RTT idle and under TCP
// load, connect time (exec of `vpn connect --background` to the first ping answered through the
// tunnel; for strongSwan: `charon-cmd` from exec, and `swanctl --initiate` with a warm charon),
// CPU seconds per GB moved by the client process (utime + stime from /proc/PID/stat over the
// transfer) and the client's peak RSS. Connect times use certificate authentication on both
// sides (charon-cmd has no PSK mode); transfers run over the PSK connection. The default run also
// measures wireguard-go the same way at both ends of the same topology (scripts/bench-wg.mjs) and
// prints ours/wireguard-go ratios; --no-wg skips it.
//
// --soak SECONDS: our client only, under continuous load for SECONDS (TCP upload and download in
// turn, 30 s each, as fast as they go), its RSS sampled every 5 s from /proc/PID/status. The first
// minute is warm-up (start-up code, heaps and buffers reaching their working size); the baseline
// is the mean RSS of its second half (30-60 s). Growth is the highest RSS after the first minute
// relative to that baseline (the verdict: <= 5 %); the mean of the last minute is printed too.
//
// --pq: connect time (exec of `vpn connect --background` to the first ping through the tunnel,
// PSK) against the strongSwan 6.0.6 gateway with ML-KEM (scripts/testbed/sw6.sh), classic
// x25519 vs x25519 + ML-KEM-768 vs x25519 + ML-KEM-1024 (RFC 9370: one IKE_INTERMEDIATE more),
// the three interleaved round by round so load changes hit them alike.
//
// --connect-only: our client only, connect time in the foreground and with --background (cert),
// the bundled CLI (dist/bundle) against the unbundled modules (VPN_NO_BUNDLE=1) interleaved round
// by round; then per build the peak RSS (VmHWM) of a PSK tunnel after TCP up and down transfers,
// and where its memory is at the end (/proc/PID/smaps_rollup: Rss, Pss, RssAnon, RssFile), for
// the foreground client and for the tunnel process of --background.
// With --baseline DIR (a built copy of another tree: bin/, dist/, build/), that tree ("before")
// against this one ("after") instead, both bundled, interleaved the same way.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync, copyFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { benchWireguardGo, stopWireguardGo, wgRatioRows, formatWgTable } from './bench-wg.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const TB = join(ROOT, 'scripts/testbed');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const num = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const SECONDS = num('--seconds', quick ? 3 : 10);
const CONNECTS = num('--connects', quick ? 3 : 20);
const PKI = process.env.TB_PKI_DIR ?? '/tmp/ikev2-vpn-testbed-pki';
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;
const NO_WG = args.includes('--no-wg');
const SOAK = num('--soak', 0);
const PQ = args.includes('--pq');
const CONNECT_ONLY = args.includes('--connect-only');
const BASELINE = args.includes('--baseline') ? args[args.indexOf('--baseline') + 1] : undefined;
/** The `vpn` command under test (--connect-only --baseline switches between two trees). */
let cliBin = join(ROOT, 'bin/vpn.js');
if (process.getuid() !== 0) {
  console.error('bench-tunnel: run as root (network namespaces, TUN devices)');
  process.exit(2);
}

const P = process.env.BENCH_PREFIX ?? 'vbench';
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
const rssMB = (pid) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
const peakMB = (pid) =>
  Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
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

function iperf(reverse, streams = 1) {
  const r = inNs(
    CLI,
    [
      'iperf3',
      '-c',
      LAN_HOST,
      '-t',
      String(SECONDS),
      '-J',
      '-P',
      String(streams),
      ...(reverse ? ['-R'] : []),
    ],
    { timeout: (SECONDS + 20) * 1000 },
  );
  const j = JSON.parse(r.stdout);
  const s = reverse ? j.end.sum_received : j.end.sum_sent;
  return { bps: j.end.sum_received.bits_per_second, bytes: s.bytes };
}

/** UDP upload at `len`-byte payloads, unlimited rate: packets/s that arrived, and loss. */
function iperfUdp(len) {
  const secs = Math.max(2, Math.round(SECONDS / 2));
  const r = inNs(
    CLI,
    ['iperf3', '-c', LAN_HOST, '-u', '-b', '0', '-l', String(len), '-t', String(secs), '-J'],
    { timeout: (secs + 20) * 1000, allowFail: true },
  );
  const j = JSON.parse(r.stdout);
  const sum = j.end.sum;
  const delivered = sum.packets - sum.lost_packets;
  return { pps: delivered / sum.seconds, lossPct: sum.lost_percent };
}

/** ping RTT (ms): median of `n` pings at 50 ms intervals. */
function pingRtt(n = 20) {
  const r = inNs(CLI, ['ping', '-c', String(n), '-i', '0.05', '-W', '1', LAN_HOST], {
    allowFail: true,
  });
  const rtts = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  return rtts.length ? median(rtts) : NaN;
}

/** ping RTT while a TCP upload saturates the tunnel. */
async function pingUnderLoad() {
  const load = spawn(
    'ip',
    ['netns', 'exec', CLI, 'iperf3', '-c', LAN_HOST, '-t', String(SECONDS), '-p', '5202'],
    { stdio: 'ignore' },
  );
  children.push(load);
  await new Promise((r) => setTimeout(r, 1000));
  const rtt = pingRtt(20);
  await new Promise((r) => load.on('exit', r));
  return rtt;
}

async function measureTransfer(pid) {
  const out = {};
  for (const [name, rev, streams] of [
    ['upload', false, 1],
    ['download', true, 1],
    ['upload4', false, 4],
    ['download4', true, 4],
  ]) {
    const c0 = cpuSeconds(pid);
    const r = iperf(rev, streams);
    const cpu = cpuSeconds(pid) - c0;
    out[name] = { mbps: r.bps / 1e6, cpuSecPerGB: cpu / (r.bytes / 1e9), bytes: r.bytes };
  }
  out.udp64 = iperfUdp(64);
  out.udp1400 = iperfUdp(1400);
  out.pingIdleMs = pingRtt();
  out.pingLoadedMs = await pingUnderLoad();
  return out;
}

/** exec → first ping through the tunnel, `CONNECTS` times; `start` spawns the client. */
async function connectTimes(start, stop) {
  const times = [];
  for (let i = 0; i < CONNECTS; i++) {
    const t0 = performance.now();
    const h = await start();
    if (!waitPing(10000)) throw new Error('no ping through the tunnel');
    times.push(performance.now() - t0);
    await stop(h);
  }
  return { median: median(times), p95: p95(times), runs: times };
}

function certArgs() {
  return [
    '--remote-id',
    '@rsa.gw.test',
    '--ca',
    join(PKI, 'ca.crt'),
    '--cert',
    join(PKI, 'client-rsa.crt'),
    '--key',
    join(PKI, 'client-rsa.p8'),
  ];
}

/** The transfers and the soak run over the PSK connection. */
const pskArgs = () => [
  '--id',
  'client@test',
  '--remote-id',
  '@gw.test',
  '--psk-file',
  join(work, 'psk'),
];

/** `vpn connect` with a certificate, until "up"; resolves with the process. */
function startOurs(args) {
  const proc = spawn(
    'ip',
    ['netns', 'exec', CLI, process.execPath, cliBin, 'connect', GW, '--json', ...args],
    { env, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(proc);
  return new Promise((resolve, reject) => {
    let buf = '';
    proc.stdout.on('data', (d) => {
      buf += d;
      if (buf.includes('"event":"up"')) resolve(proc);
    });
    proc.on('exit', (code) => reject(new Error(`vpn connect exited ${code}`)));
  });
}

let backgroundRuns = 0;

/**
 * `vpn connect --background` with a certificate, as a script would run it: resolves when that
 * command has exited 0 (it returns once the tunnel carries traffic); the tunnel lives on in its
 * own process, reached by name.
 */
async function startOursBackground(args) {
  const name = `bench${++backgroundRuns}`;
  const proc = spawn(
    'ip',
    [
      'netns',
      'exec',
      CLI,
      process.execPath,
      cliBin,
      'connect',
      GW,
      '--background',
      '--name',
      name,
      ...args,
    ],
    { env, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  children.push(proc);
  const code = await new Promise((r) => proc.on('exit', r));
  if (code !== 0) throw new Error(`vpn connect --background exited ${code}`);
  return name;
}

const stopOursBackground = async (name) => {
  inNs(CLI, [process.execPath, cliBin, 'disconnect', '--name', name]);
  // As for charon-cmd: let the gateway forget the SA before the next round.
  await new Promise((r) => setTimeout(r, 200));
};

const stopProc = async (proc) => {
  proc.kill('SIGTERM');
  if (proc.exitCode === null) await new Promise((r) => proc.on('exit', r));
};

/** strongSwan's charon-cmd from exec (its own charon, kernel-libipsec), certificate auth. */
function startCharonCmd() {
  const d = join(work, 'charon-cmd');
  sh('mkdir', ['-p', d]);
  writeFileSync(
    join(d, 'strongswan.conf'),
    `charon-cmd {
  load = random nonce openssl pem pkcs1 pkcs8 x509 pubkey sha1 sha2 hmac gcm aes kdf curve25519 kernel-libipsec kernel-netlink socket-default
  install_virtual_ip = yes
}
`,
  );
  const proc = spawn(
    'ip',
    [
      'netns',
      'exec',
      CLI,
      'unshare',
      '-m',
      '--propagation',
      'private',
      'sh',
      '-c',
      `mount -t tmpfs tmpfs /run && STRONGSWAN_CONF=${d}/strongswan.conf exec charon-cmd --host ${GW} --identity "C=CH, O=ikev2-vpn test, CN=client-rsa" --remote-identity rsa.gw.test --cert ${join(PKI, 'ca.crt')} --cert ${join(PKI, 'client-rsa.crt')} --rsa ${join(PKI, 'client-rsa.key')} --profile ikev2-pub --ike-proposal aes256gcm16-prfsha256-x25519 --esp-proposal aes256gcm16`,
    ],
    { env, stdio: 'ignore', detached: true },
  );
  children.push(proc);
  return Promise.resolve(proc);
}

const stopCharonCmd = async (proc) => {
  // charon-cmd runs under `sh` in its own mount namespace: end the whole process group.
  try {
    process.kill(-proc.pid, 'SIGINT');
  } catch {}
  if (proc.exitCode === null) await new Promise((r) => proc.on('exit', r));
  // Let the gateway forget the SA before the next round.
  await new Promise((r) => setTimeout(r, 200));
};

/** What scripts/bench-wg.mjs needs of this script (it measures wireguard-go the same way). */
const wgCtx = () => ({
  TB,
  P,
  CLI,
  GWNS: `${P}-gw`,
  GW,
  LAN_HOST,
  LAN_NET: '203.0.113.0/25',
  work,
  env,
  children,
  sh,
  inNs,
  waitPing,
  measureTransfer,
  connectTimes,
  peakMB,
  cpuSeconds,
});

async function ours() {
  const connectMs = await connectTimes(() => startOursBackground(certArgs()), stopOursBackground);
  // The same in the foreground (`vpn connect --json`, as a person at a terminal would start it).
  const foregroundConnectMs = await connectTimes(() => startOurs(certArgs()), stopProc);
  const proc = await startOurs(pskArgs());
  if (!waitPing(10000)) throw new Error('no ping through our tunnel');
  const transfer = await measureTransfer(proc.pid);
  const rss = peakMB(proc.pid);
  // Which offloads carried it (TUN TSO/USO and GRO, UDP GRO on the socket) and how much.
  const st = sh(
    'ip',
    ['netns', 'exec', CLI, process.execPath, join(ROOT, 'bin/vpn.js'), 'status', '--json'],
    { allowFail: true },
  );
  let offloads = null;
  try {
    offloads = JSON.parse(st.stdout).dataplane?.offloads ?? null;
  } catch {
    offloads = null;
  }
  await stopProc(proc);
  return { connectMs, foregroundConnectMs, ...transfer, peakRssMB: rss, offloads };
}

async function strongswan() {
  const charonCmdMs = await connectTimes(startCharonCmd, stopCharonCmd);
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
  const transfer = await measureTransfer(pid);
  const rss = peakMB(pid);
  sh('bash', [join(TB, 'sw-client.sh'), '--prefix', P, 'stop']);
  return {
    connectMs: charonCmdMs,
    warmConnectMs: { median: median(connects), p95: p95(connects), runs: connects },
    ...transfer,
    peakRssMB: rss,
  };
}

/** --soak: our client under continuous load, RSS sampled every 5 s. */
async function soak() {
  const proc = await startOurs(pskArgs());
  if (!waitPing(10000)) throw new Error('no ping through our tunnel');
  const t0 = performance.now();
  const c0 = cpuSeconds(proc.pid);
  const samples = [];
  let bytes = 0;
  let load;
  let reverse = false;
  const nextLoad = () => {
    const secs = Math.max(1, Math.min(30, Math.ceil(SOAK - (performance.now() - t0) / 1000)));
    const out = [];
    load = spawn(
      'ip',
      [
        'netns',
        'exec',
        CLI,
        'iperf3',
        '-c',
        LAN_HOST,
        '-t',
        String(secs),
        '-J',
        ...(reverse ? ['-R'] : []),
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    children.push(load);
    load.stdout.on('data', (d) => out.push(d));
    load.on('exit', () => {
      try {
        const j = JSON.parse(Buffer.concat(out).toString());
        bytes += j.end.sum_received.bytes;
      } catch {}
      reverse = !reverse;
      if ((performance.now() - t0) / 1000 < SOAK - 1) nextLoad();
      else load = undefined;
    });
  };
  nextLoad();
  while ((performance.now() - t0) / 1000 < SOAK) {
    await new Promise((r) => setTimeout(r, 5000));
    if (proc.exitCode !== null) throw new Error('the client exited during the soak');
    const t = Math.round((performance.now() - t0) / 1000);
    const m = smapsMB(proc.pid);
    samples.push({
      t,
      rssMB: rssMB(proc.pid),
      rssAnonMB: m.rssAnon,
      rssFileMB: m.rssFile,
      pssMB: m.pss,
    });
    const x = samples.at(-1);
    console.log(
      `soak ${String(t).padStart(4)} s  RSS ${x.rssMB.toFixed(1)} MB (anon ${x.rssAnonMB.toFixed(1)}, file ${x.rssFileMB.toFixed(1)}, Pss ${x.pssMB.toFixed(1)})`,
    );
  }
  while (load) await new Promise((r) => setTimeout(r, 200));
  const cpu = cpuSeconds(proc.pid) - c0;
  const peak = peakMB(proc.pid);
  const status = JSON.parse(
    sh('ip', ['netns', 'exec', CLI, process.execPath, join(ROOT, 'bin/vpn.js'), 'status', '--json'])
      .stdout,
  );
  await stopProc(proc);
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const warm = samples.filter((s) => s.t > 30 && s.t <= 60);
  const after = samples.filter((s) => s.t > 60);
  const last = samples.filter((s) => s.t > SOAK - 60);
  const baseline = mean(warm.map((s) => s.rssMB));
  const highest = after.length ? Math.max(...after.map((s) => s.rssMB)) : baseline;
  const lastMean = mean(last.map((s) => s.rssMB));
  const growthPct = ((highest - baseline) / baseline) * 100;
  // The same for the process's own (anonymous) memory and for file pages (the node executable's,
  // shared: they step up once when V8's optimizing compiler first runs, not a leak).
  const growthOf = (key) => {
    const b = mean(warm.map((x) => x[key]));
    const h = after.length ? Math.max(...after.map((x) => x[key])) : b;
    return {
      baselineMB: b,
      highestMB: h,
      lastMinuteMeanMB: mean(last.map((x) => x[key])),
      growthPct: ((h - b) / b) * 100,
    };
  };
  const anon = growthOf('rssAnonMB');
  const file = growthOf('rssFileMB');
  const result = {
    date: new Date().toISOString(),
    soakSeconds: SOAK,
    gbMoved: bytes / 1e9,
    cpuSecPerGB: cpu / (bytes / 1e9),
    baselineRssMB: baseline,
    highestRssAfterWarmupMB: highest,
    lastMinuteMeanRssMB: lastMean,
    growthPct,
    rssAnon: anon,
    rssFile: file,
    peakRssMB: peak,
    espPath: status.summary?.espPath,
    samples,
  };
  console.log(
    `soak: ${SOAK} s under load, ${(bytes / 1e9).toFixed(1)} GB moved; RSS baseline (mean of 30-60 s) ${baseline.toFixed(1)} MB, highest after the first minute ${highest.toFixed(1)} MB, mean of the last minute ${lastMean.toFixed(1)} MB: growth ${growthPct.toFixed(1)} % (${growthPct <= 5 ? 'within' : 'OVER'} the 5 % bound); peak RSS ${peak.toFixed(1)} MB (${peak < 80 ? 'under' : 'OVER'} 80 MB)`,
  );
  console.log(
    `soak: RssAnon ${anon.baselineMB.toFixed(1)} -> highest ${anon.highestMB.toFixed(1)} MB (${anon.growthPct.toFixed(1)} %), last minute ${anon.lastMinuteMeanMB.toFixed(1)}; RssFile ${file.baselineMB.toFixed(1)} -> highest ${file.highestMB.toFixed(1)} MB (${file.growthPct.toFixed(1)} %)`,
  );
  return result;
}

/** --pq: connect times, classic vs hybrid ML-KEM, against the strongSwan 6 gateway. */
async function pqConnects() {
  const classic = 'aes256gcm16-prfsha384-x25519';
  const kinds = {
    x25519: classic,
    'x25519 + ML-KEM-768': `${classic}-ke1_mlkem768`,
    'x25519 + ML-KEM-1024': `${classic}-ke1_mlkem1024`,
  };
  const r = sh('bash', [join(TB, 'sw6.sh'), '--prefix', P, 'start'], {
    allowFail: true,
    env: { ...env, TB6_IKE: Object.values(kinds).reverse().join(', ') },
  });
  if (r.status !== 0) throw new Error(`strongSwan 6 gateway: ${r.stderr || r.stdout}`);
  const times = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
  try {
    for (let i = 0; i < CONNECTS; i++) {
      for (const [k, ike] of Object.entries(kinds)) {
        const t0 = performance.now();
        const name = await startOursBackground([...pskArgs(), '--ike', ike]);
        if (!waitPing(10000)) throw new Error('no ping through the tunnel');
        times[k].push(performance.now() - t0);
        await stopOursBackground(name);
      }
    }
  } finally {
    sh('bash', [join(TB, 'sw6.sh'), '--prefix', P, 'stop'], { allowFail: true });
  }
  const cpuInfo =
    readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? 'unknown';
  console.log(
    `bench-tunnel --pq: ${CONNECTS} connects each (vpn connect --background to first ping, PSK) against strongSwan 6.0.6; ${cpuInfo}, ${spawnSync('nproc').stdout.toString().trim()} cores`,
  );
  const base = median(times.x25519);
  console.log(
    `${'key exchange'.padEnd(24)}${'median ms'.padStart(12)}${'p95 ms'.padStart(10)}${'added'.padStart(10)}`,
  );
  const out = {};
  for (const [k, t] of Object.entries(times)) {
    out[k] = { median: median(t), p95: p95(t), runs: t };
    console.log(
      `${k.padEnd(24)}${median(t).toFixed(0).padStart(12)}${p95(t).toFixed(0).padStart(10)}${(median(t) - base).toFixed(0).padStart(10)}`,
    );
  }
  return { date: new Date().toISOString(), connects: CONNECTS, cpu: cpuInfo, pq: out };
}

/** Rss, Pss, RssAnon, RssFile (MB) of a process now (/proc/PID/smaps_rollup). */
function smapsMB(pid) {
  const t = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(t)?.[1] ?? NaN) / 1024;
  const st = readFileSync(`/proc/${pid}/status`, 'utf8');
  const skb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(st)?.[1] ?? NaN) / 1024;
  return { rss: kb('Rss'), pss: kb('Pss'), rssAnon: skb('RssAnon'), rssFile: skb('RssFile') };
}

/** --connect-only: two builds interleaved round by round (see the header). */
async function connectOnly() {
  const builds = BASELINE
    ? { before: { bin: join(BASELINE, 'bin/vpn.js') }, after: { bin: join(ROOT, 'bin/vpn.js') } }
    : { bundle: {}, modules: { noBundle: '1' } };
  const use = (b) => {
    cliBin = b.bin ?? join(ROOT, 'bin/vpn.js');
    if (b.noBundle) env.VPN_NO_BUNDLE = b.noBundle;
    else delete env.VPN_NO_BUNDLE;
  };
  const times = {};
  const one = async (key, start, stop) => {
    const t0 = performance.now();
    const h = await start();
    if (!waitPing(10000)) throw new Error('no ping through the tunnel');
    (times[key] ??= []).push(performance.now() - t0);
    await stop(h);
  };
  for (let i = 0; i < CONNECTS; i++) {
    for (const [b, build] of Object.entries(builds)) {
      use(build);
      await one(`${b} foreground`, () => startOurs(certArgs()), stopProc);
      await one(`${b} --background`, () => startOursBackground(certArgs()), stopOursBackground);
    }
  }
  const rss = {};
  // The foreground client, and the tunnel process of --background (its pid from vpn status).
  const tunnelPid = (name) =>
    JSON.parse(inNs(CLI, [process.execPath, cliBin, 'status', '--json', '--name', name]).stdout)
      .pid;
  for (const [b, build] of Object.entries(builds)) {
    for (const mode of ['foreground', 'background']) {
      use(build);
      const proc = mode === 'foreground' ? await startOurs(pskArgs()) : undefined;
      const name = proc ? undefined : await startOursBackground(pskArgs());
      const pid = proc?.pid ?? tunnelPid(name);
      if (!waitPing(10000)) throw new Error('no ping through our tunnel');
      const idle = rssMB(pid);
      const up = iperf(false);
      const down = iperf(true);
      rss[`${b} ${mode}`] = {
        idleRssMB: idle,
        peakRssMB: peakMB(pid),
        afterLoad: smapsMB(pid),
        uploadMbps: up.bps / 1e6,
        downloadMbps: down.bps / 1e6,
      };
      if (proc) await stopProc(proc);
      else await stopOursBackground(name);
    }
  }
  use({});
  console.log(`bench-tunnel --connect-only: ${CONNECTS} connects each (exec to first ping, cert)`);
  const out = {};
  for (const [k, t] of Object.entries(times)) {
    out[k] = { median: median(t), p95: p95(t), runs: t };
    console.log(
      `${k.padEnd(24)} median ${median(t).toFixed(0).padStart(5)} ms  p95 ${p95(t).toFixed(0).padStart(5)} ms`,
    );
  }
  for (const [b, r] of Object.entries(rss))
    console.log(
      `${b.padEnd(20)} RSS idle ${r.idleRssMB.toFixed(1)} MB, peak after ${SECONDS} s up + down ${r.peakRssMB.toFixed(1)} MB (${r.uploadMbps.toFixed(0)}/${r.downloadMbps.toFixed(0)} Mbit/s); then Rss ${r.afterLoad.rss.toFixed(1)} Pss ${r.afterLoad.pss.toFixed(1)} RssAnon ${r.afterLoad.rssAnon.toFixed(1)} RssFile ${r.afterLoad.rssFile.toFixed(1)} MB`,
    );
  return { date: new Date().toISOString(), connects: CONNECTS, connect: out, rss };
}

let iperfServer;
try {
  sh('bash', [join(TB, 'up.sh'), '--prefix', P]);
  copyFileSync(`/tmp/${P}/psk`, join(work, 'psk'));
  chmodSync(join(work, 'psk'), 0o600);
  iperfServer = spawn('ip', ['netns', 'exec', LAN, 'iperf3', '-s'], { stdio: 'ignore' });
  children.push(iperfServer);
  // A second server for the background load of the loaded-ping figure.
  const loadServer = spawn('ip', ['netns', 'exec', LAN, 'iperf3', '-s', '-p', '5202'], {
    stdio: 'ignore',
  });
  children.push(loadServer);
  await new Promise((r) => setTimeout(r, 500));
  if (CONNECT_ONLY) {
    const result = await connectOnly();
    if (jsonOut) writeFileSync(jsonOut, JSON.stringify(result, null, 2) + '\n');
  } else if (PQ) {
    const result = await pqConnects();
    if (jsonOut) writeFileSync(jsonOut, JSON.stringify(result, null, 2) + '\n');
  } else if (SOAK > 0) {
    const result = await soak();
    if (jsonOut) writeFileSync(jsonOut, JSON.stringify(result, null, 2) + '\n');
    process.exitCode = result.growthPct <= 5 && result.peakRssMB < 80 ? 0 : 1;
  } else {
    const a = await ours();
    const b = await strongswan();
    const w = await benchWireguardGo(wgCtx(), NO_WG);
    const cpuInfo =
      readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? 'unknown';
    const rows = [
      ['TCP upload, 1 stream (Mbit/s)', a.upload.mbps, b.upload.mbps, 'higher'],
      ['TCP download, 1 stream (Mbit/s)', a.download.mbps, b.download.mbps, 'higher'],
      ['TCP upload, 4 streams (Mbit/s)', a.upload4.mbps, b.upload4.mbps, 'higher'],
      ['TCP download, 4 streams (Mbit/s)', a.download4.mbps, b.download4.mbps, 'higher'],
      ['UDP 64 B upload (kpps delivered)', a.udp64.pps / 1e3, b.udp64.pps / 1e3, 'higher'],
      ['UDP 64 B loss (%)', a.udp64.lossPct, b.udp64.lossPct, 'lower'],
      ['UDP 1400 B upload (kpps delivered)', a.udp1400.pps / 1e3, b.udp1400.pps / 1e3, 'higher'],
      ['UDP 1400 B loss (%)', a.udp1400.lossPct, b.udp1400.lossPct, 'lower'],
      ['ping RTT idle (ms)', a.pingIdleMs, b.pingIdleMs, 'lower'],
      ['ping RTT under load (ms)', a.pingLoadedMs, b.pingLoadedMs, 'lower'],
      ['client CPU s/GB, upload', a.upload.cpuSecPerGB, b.upload.cpuSecPerGB, 'lower'],
      ['client CPU s/GB, download', a.download.cpuSecPerGB, b.download.cpuSecPerGB, 'lower'],
      [
        'connect median (ms), --background vs charon-cmd',
        a.connectMs.median,
        b.connectMs.median,
        'lower',
      ],
      ['connect p95 (ms), --background vs charon-cmd', a.connectMs.p95, b.connectMs.p95, 'lower'],
      [
        'connect median (ms), --background vs warm swanctl',
        a.connectMs.median,
        b.warmConnectMs.median,
        'lower',
      ],
      [
        'connect median (ms), foreground vs charon-cmd',
        a.foregroundConnectMs.median,
        b.connectMs.median,
        'lower',
      ],
      ['client peak RSS (MB)', a.peakRssMB, b.peakRssMB, 'lower'],
    ];
    console.log(
      `bench-tunnel: ${SECONDS} s iperf3 per direction, ${CONNECTS} connects each; ${cpuInfo}, ${spawnSync('nproc').stdout.toString().trim()} cores`,
    );
    console.log(
      'strongSwan: charon 5.9.8 with kernel-libipsec (userspace ESP), warm daemon, `swanctl --initiate`',
    );
    console.log(
      `${'figure'.padEnd(50)}${'ours'.padStart(12)}${'strongSwan'.padStart(12)}${'ours/sw'.padStart(10)}  better`,
    );
    for (const [name, x, y, better] of rows) {
      console.log(
        `${name.padEnd(50)}${x.toFixed(2).padStart(12)}${y.toFixed(2).padStart(12)}${(x / y).toFixed(2).padStart(10)}  ${better}`,
      );
    }
    const result = {
      date: new Date().toISOString(),
      seconds: SECONDS,
      connects: CONNECTS,
      cpu: cpuInfo,
      ours: a,
      strongswan: b,
      wireguardGo: w,
      oursVsWireguardGo: wgRatioRows(a, b, w),
    };
    const o = a.offloads;
    console.log(
      o
        ? `ours: TUN offloads ${['csum', 'tso4', 'tso6', 'uso4', 'uso6'].filter((k) => o[k]).join('+') || 'none'}, ` +
            `UDP GRO ${o.udpGro ? 'on' : 'off'}; ${o.superPackets} super-packets read ` +
            `(${(o.segments / Math.max(1, o.superPackets)).toFixed(1)} segments each), ` +
            `${o.groPackets} GRO super-packets written (${(o.groSegments / Math.max(1, o.groPackets)).toFixed(1)} packets each), ` +
            `${o.udpGroDatagrams} UDP GRO datagrams received`
        : 'ours: no offloads in use (VPN_TUN_OFFLOAD=0, or refused by the kernel)',
    );
    if (w.skipped) console.log(`wireguard-go: skipped (${w.skipped})`);
    else {
      console.log(
        `wireguard-go ${w.version} (Debian ${w.debianPackage}) at both ends, TUN offloads ${JSON.stringify(w.offloads)}; connect = exec of wireguard-go to first ping`,
      );
      for (const l of formatWgTable(result.oursVsWireguardGo)) console.log(l);
    }
    if (jsonOut) writeFileSync(jsonOut, JSON.stringify(result, null, 2) + '\n');
  }
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  spawnSync('bash', [join(TB, 'sw-client.sh'), '--prefix', P, 'stop']);
  spawnSync('bash', [join(TB, 'sw6.sh'), '--prefix', P, 'stop']);
  stopWireguardGo({ P });
  spawnSync('bash', [join(TB, 'down.sh'), '--prefix', P]);
  rmSync(work, { recursive: true, force: true });
}
