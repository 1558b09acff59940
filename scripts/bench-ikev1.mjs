#!/usr/bin/env node
// IKEv1 vs IKEv2 throughput in one run (issue 17, "It must show" 4): our client connected to the
// same strongSwan 5.9.8 gateway of the test bed (through its NAT) once with IKEv2 (PSK) and once
// with IKEv1 (PSK, Main Mode), interleaved round by round, the order alternating (v2 v1, v1 v2,
// ...) so that a load change on the machine hits both versions alike.
//
//   sudo node scripts/bench-ikev1.mjs [--seconds N] [--rounds N] [--json FILE]
//
// Per connection: iperf3 TCP upload and download (1 stream, N seconds each, default 8) to the
// LAN host, the client's CPU seconds per GB moved (utime + stime of the `vpn` process from
// /proc/PID/stat over each transfer, the method of scripts/bench-tunnel.mjs), and what
// `vpn status --json` says carried it: the ESP proposal, the data plane (espPath), the TUN MTU
// and the IKE version. Both versions are offered the same single ESP proposal (--esp aes256gcm16)
// and route the same network (--remote-net 203.0.113.0/25); the script checks that the status
// named the same proposal and data plane for both.
//
// Prints per version the median and the run-to-run spread (min–max over the rounds) of each
// figure, the v1/v2 ratio of the medians, and whether the difference of the medians is within the
// spread: |median v1 − median v2| <= the larger of the two versions' max − min. Also the ratio
// within each round (the two connections ran back to back, under about the same load), as median
// and min–max over the rounds.
//
// A failed connect or transfer is recorded with the client's output, the gateway's log lines and
// the iperf3 server's log, printed, and the script exits 1 at the end; it does not retry the
// connection. Only an iperf3 failure (its control connection) with the tunnel still up is run once
// more, and recorded (iperf3Errors) and printed as such.
// Skips (exit 0, reason printed) when not root or when a tool or the build is missing.
// BENCH_PREFIX names the test bed's namespaces (default v1bench).
import { spawn, spawnSync } from 'node:child_process';
import {
  readFileSync,
  writeFileSync,
  mkdtempSync,
  rmSync,
  copyFileSync,
  chmodSync,
  existsSync,
} from 'node:fs';
import { tmpdir, loadavg, cpus } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const TB = join(ROOT, 'scripts/testbed');
const BIN = join(ROOT, 'bin/vpn.js');
const args = process.argv.slice(2);

function usage(msg) {
  console.error(`bench-ikev1: ${msg}`);
  console.error(
    'usage: sudo node scripts/bench-ikev1.mjs [--seconds N] [--rounds N] [--json FILE]',
  );
  process.exit(2);
}
function intFlag(name, def, min, max) {
  const i = args.indexOf(name);
  if (i < 0) return def;
  const n = Number(args[i + 1]);
  if (!Number.isInteger(n) || n < min || n > max)
    usage(`${name} wants a whole number from ${min} to ${max}`);
  return n;
}
for (const a of args)
  if (a.startsWith('--') && !['--seconds', '--rounds', '--json'].includes(a))
    usage(`unknown option ${a}`);
const SECONDS = intFlag('--seconds', 8, 1, 600);
const ROUNDS = intFlag('--rounds', 3, 1, 50);
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;
if (args.includes('--json') && (!jsonOut || jsonOut.startsWith('--')))
  usage('--json wants a file name');

/** Where the tools live (a non-login root shell may lack the sbin folders). */
const TOOL_PATH = [
  ...(process.env.PATH ?? '').split(':'),
  '/usr/local/sbin',
  '/usr/local/bin',
  '/usr/sbin',
  '/usr/bin',
  '/sbin',
  '/bin',
].filter((d) => d !== '');

/** Why the bench cannot run here, or undefined. */
function skipReason() {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, TUN devices)';
  if (!existsSync('/usr/lib/ipsec/charon'))
    return 'strongSwan not installed (bash scripts/testbed/install-deps.sh)';
  const missing = ['ip', 'iptables', 'swanctl', 'ping', 'iperf3'].filter(
    (t) => !TOOL_PATH.some((d) => existsSync(join(d, t))),
  );
  if (missing.length)
    return `${missing.join(', ')} not installed (scripts/testbed/install-deps.sh)`;
  if (!existsSync(join(ROOT, 'dist/src/cli/entry.js')))
    return 'not built: run npx tsc -p tsconfig.json';
  if (!existsSync(join(ROOT, 'build/Release/tun.node')))
    return 'TUN addon not built: run npm run build:addon';
  return undefined;
}

const skip = skipReason();
if (skip) {
  console.log(`bench-ikev1: skipped: ${skip}`);
  process.exit(0);
}

const P = process.env.BENCH_PREFIX ?? 'v1bench';
if (!/^[a-z0-9]{1,8}$/.test(P)) usage('BENCH_PREFIX: 1 to 8 lower-case letters or digits');
const CLI = `${P}-cli`;
const LAN = `${P}-lan`;
const GW = '198.51.100.10';
const LAN_HOST = '203.0.113.10';
const ESP = 'aes256gcm16';
const HZ = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);
const work = mkdtempSync(join(tmpdir(), 'vpn-bench-ikev1-'));
const env = {
  ...process.env,
  PATH: TOOL_PATH.join(':'),
  VPN_RUNTIME_DIR: join(work, 'run'),
  VPN_DNS_BACKEND: 'file',
  VPN_PSK: '',
  CI: 'true',
};
const children = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function sh(cmd, a, opts = {}) {
  const r = spawnSync(cmd, a, { encoding: 'utf8', env, timeout: 120000, ...opts });
  if (r.status !== 0 && !opts.allowFail)
    throw new Error(`${cmd} ${a.join(' ')} failed: ${r.stderr || r.stdout}`);
  return r;
}
const inNs = (ns, a, opts) => sh('ip', ['netns', 'exec', ns, ...a], opts);

/**
 * utime + stime in seconds (stat fields 14 and 15) of PID, all its threads (/proc/PID/stat), or
 * of its main thread alone (/proc/PID/task/PID/stat: the JavaScript thread, where the IKE session
 * and the driver run; the rest is the native data plane's threads and V8's).
 */
const cpuSeconds = (pid, mainThread = false) => {
  const f = readFileSync(
    mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`,
    'utf8',
  );
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / HZ;
};
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** Printable text of something that came from a process or a file: no control characters, bounded. */
const printable = (s, max = 400) =>
  String(s)
    .replace(/[^\x20-\x7e]/g, '?')
    .slice(0, max);

const VERSIONS = {
  2: ['--id', 'client@test', '--remote-id', '@gw.test'],
  1: ['--ike-version', '1', '--id', 'v1-psk@test', '--remote-id', 'v1.gw.test'],
};

/** `vpn connect --json` in the client namespace; resolves at the "up" event, or on failure. */
function connect(version, name) {
  const proc = spawn(
    'ip',
    [
      'netns',
      'exec',
      CLI,
      process.execPath,
      BIN,
      'connect',
      GW,
      '--json',
      '--name',
      name,
      '--psk-file',
      join(work, 'psk'),
      '--esp',
      ESP,
      '--remote-net',
      '203.0.113.0/25',
      '--timeout',
      '20',
      '--retry',
      '0',
      ...VERSIONS[version],
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(proc);
  const lines = [];
  let buf = '';
  let bytes = 0;
  return new Promise((resolve) => {
    let done = false;
    const finish = (r) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ proc, lines, ...r });
    };
    const timer = setTimeout(() => finish({ error: 'no "up" event within 40 s' }), 40000);
    const keep = (l) => {
      // Bounded: a runaway client cannot fill our memory.
      bytes += l.length;
      if (bytes < 256 * 1024) lines.push(l);
    };
    proc.stdout.setEncoding('utf8');
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d) => keep(`stderr: ${d.trimEnd()}`));
    proc.stdout.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        keep(line);
        try {
          if (JSON.parse(line).event === 'up') finish({});
        } catch {}
      }
      if (buf.length > 65536) buf = '';
    });
    proc.on('exit', (code) => finish({ error: `vpn connect exited ${code} before "up"` }));
  });
}

async function stopProc(proc) {
  if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
  const exited = new Promise((r) => proc.once('exit', (c) => r(c)));
  proc.kill('SIGTERM');
  const code = await Promise.race([exited, sleep(15000).then(() => 'timeout')]);
  if (code === 'timeout') {
    proc.kill('SIGKILL');
    await exited;
    return 'killed after 15 s';
  }
  return code;
}

function waitPing(ms) {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (inNs(CLI, ['ping', '-c', '1', '-W', '1', LAN_HOST], { allowFail: true }).status === 0)
      return true;
  }
  return false;
}

function status(name) {
  const r = inNs(CLI, [process.execPath, BIN, 'status', '--json', '--name', name], {
    allowFail: true,
    timeout: 15000,
  });
  if (r.status !== 0) throw new Error(`vpn status failed: ${printable(r.stderr || r.stdout)}`);
  return JSON.parse(r.stdout);
}

/**
 * The client namespace's UDP receive errors (/proc/net/snmp: RcvbufErrors, InErrors): ESP
 * datagrams the kernel dropped before our data plane read them.
 */
function udpErrors() {
  const r = inNs(CLI, ['cat', '/proc/net/snmp'], { allowFail: true });
  const rows = r.stdout.split('\n').filter((l) => l.startsWith('Udp:'));
  if (rows.length < 2) return { rcvbuf: NaN, in: NaN };
  const k = rows[0].split(/\s+/);
  const v = rows[1].split(/\s+/).map(Number);
  return { rcvbuf: v[k.indexOf('RcvbufErrors')], in: v[k.indexOf('InErrors')] };
}

/** One iperf3 TCP transfer with the client's CPU time over it. */
function transfer(pid, reverse) {
  const u0 = udpErrors();
  const c0 = cpuSeconds(pid);
  const m0 = cpuSeconds(pid, true);
  const r = inNs(
    CLI,
    ['iperf3', '-c', LAN_HOST, '-t', String(SECONDS), '-J', ...(reverse ? ['-R'] : [])],
    { allowFail: true, timeout: (SECONDS + 30) * 1000 },
  );
  const cpu = cpuSeconds(pid) - c0;
  const mainCpu = cpuSeconds(pid, true) - m0;
  const u1 = udpErrors();
  let j;
  try {
    j = JSON.parse(r.stdout);
  } catch {
    throw new Error(
      `iperf3 ${reverse ? 'download' : 'upload'}: ${printable(r.stderr || r.stdout)}`,
    );
  }
  if (j.error || r.status !== 0) {
    // How far it got: seconds of data before the error (at 0 it failed setting up, near
    // SECONDS it failed at the end of the test, where iperf3's control connection has a known
    // race: esnet/iperf#499).
    const secs = Array.isArray(j.intervals) ? j.intervals.length : 0;
    const e = new Error(
      `iperf3 ${reverse ? 'download' : 'upload'}: ${printable(j.error ?? r.status)} (after ${secs} s of data)`,
    );
    e.iperf3 = true;
    throw e;
  }
  const bytes = j.end.sum_received.bytes;
  return {
    mbps: j.end.sum_received.bits_per_second / 1e6,
    bytes,
    cpuSeconds: cpu,
    cpuSecPerGB: cpu / (bytes / 1e9),
    mainThreadCpuSecPerGB: mainCpu / (bytes / 1e9),
    retransmits: j.end.sum_sent.retransmits ?? 0,
    udpRcvbufErrors: u1.rcvbuf - u0.rcvbuf,
    udpInErrors: u1.in - u0.in,
  };
}

/**
 * A transfer; when iperf3 itself fails (its control connection) while the tunnel is still up,
 * the error is recorded in rec.iperf3Errors, printed, and the transfer run once more. Only once:
 * a second failure fails the connection.
 */
function transferOnceMore(rec, proc, reverse) {
  try {
    return transfer(proc.pid, reverse);
  } catch (e) {
    if (!e.iperf3 || proc.exitCode !== null || proc.signalCode !== null) throw e;
    (rec.iperf3Errors ??= []).push({
      error: printable(e.message),
      iperf3ServerLog: tail(join(work, 'iperf3-server.log'), 12),
    });
    console.log(`  IKEv${rec.version} round ${rec.round}: ${printable(e.message)}; once more`);
    for (const l of rec.iperf3Errors.at(-1).iperf3ServerLog) console.log(`    iperf3 server: ${l}`);
    return transfer(proc.pid, reverse);
  }
}

/** The last `n` lines of a log file, printable. */
function tail(file, n) {
  try {
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    return lines.slice(-n).map((l) => printable(l, 300));
  } catch (e) {
    return [`(${printable(e.message)})`];
  }
}

/** The gateway's log lines of the last connect (charon.log, ike/cfg at level 2), the last `n`. */
const gatewayLog = (n = 40) => tail(`/tmp/${P}/gw/charon.log`, n);

let runs = 0;
/** One connection of `version`: connect, status, upload, download, disconnect. */
async function one(version, round) {
  const name = `b${version}r${round}n${++runs}`;
  const t0 = performance.now();
  const c = await connect(version, name);
  const rec = { version, round, name };
  try {
    if (c.error) throw new Error(c.error);
    rec.connectMs = Math.round(performance.now() - t0);
    if (!waitPing(10000)) throw new Error('no ping answer through the tunnel within 10 s');
    const st = status(name);
    const s = st.summary ?? {};
    rec.ikeVersion = s.ikeVersion ?? 2;
    rec.espProposal = s.ike?.espProposal;
    rec.ikeProposal = s.ike?.ikeProposal;
    rec.espPath = s.espPath;
    rec.mtu = s.mtu;
    rec.natHere = s.ike?.natHere;
    rec.virtualIp4 = s.virtualIp4;
    const esp0 = st.esp ?? {};
    rec.upload = transferOnceMore(rec, c.proc, false);
    rec.download = transferOnceMore(rec, c.proc, true);
    const esp1 = status(name).esp ?? {};
    // The traffic went through the ESP SA of this connection (not around the tunnel).
    rec.espBytesOut = (esp1.bytesOut ?? 0) - (esp0.bytesOut ?? 0);
    rec.espBytesIn = (esp1.bytesIn ?? 0) - (esp0.bytesIn ?? 0);
    rec.espDrops = Object.fromEntries(
      Object.entries(esp1).filter(([k, v]) => !/^(packets|bytes)(In|Out)$/.test(k) && v > 0),
    );
    if (rec.espBytesOut < rec.upload.bytes || rec.espBytesIn < rec.download.bytes)
      throw new Error(
        `the ESP counters moved less than iperf3 did (out ${rec.espBytesOut} < ${rec.upload.bytes} or in ${rec.espBytesIn} < ${rec.download.bytes}): traffic went around the tunnel`,
      );
  } catch (e) {
    rec.error = printable(e.message, 2000);
    rec.clientOutput = c.lines.slice(-40).map((l) => printable(l, 600));
    rec.gatewayLog = gatewayLog();
    rec.iperf3ServerLog = tail(join(work, 'iperf3-server.log'), 15);
    rec.clientRunning = c.proc.exitCode === null && c.proc.signalCode === null;
    if (rec.clientRunning && !c.error) {
      try {
        const st = status(name);
        rec.statusAtFailure = { state: st.state, esp: st.esp, udp: st.udp, ike: st.ike };
      } catch (e2) {
        rec.statusAtFailure = printable(e2.message);
      }
    }
  } finally {
    const code = await stopProc(c.proc);
    if (!rec.error && code !== 0) rec.error = `vpn connect exited ${code} after SIGTERM`;
    // Let the gateway forget the SAs before the next connection.
    await sleep(300);
  }
  if (rec.error) {
    console.log(`  IKEv${version} round ${round}: FAILED: ${rec.error}`);
    console.log('  client output (last lines):');
    for (const l of rec.clientOutput ?? []) console.log(`    ${l}`);
    console.log(`  gateway log (/tmp/${P}/gw/charon.log, last lines):`);
    for (const l of rec.gatewayLog ?? []) console.log(`    ${l}`);
    console.log('  iperf3 server log (last lines):');
    for (const l of rec.iperf3ServerLog ?? []) console.log(`    ${l}`);
    console.log(
      `  client still running: ${rec.clientRunning}; status then: ${printable(JSON.stringify(rec.statusAtFailure ?? null), 1500)}`,
    );
  } else {
    console.log(
      `  IKEv${version} round ${round}: up ${rec.upload.mbps.toFixed(0)} Mbit/s (${rec.upload.cpuSecPerGB.toFixed(2)} CPU s/GB), down ${rec.download.mbps.toFixed(0)} Mbit/s (${rec.download.cpuSecPerGB.toFixed(2)} CPU s/GB); ESP ${printable(rec.espProposal, 80)}, data plane ${printable(rec.espPath, 20)}, MTU ${rec.mtu}`,
    );
  }
  return rec;
}

const FIGURES = [
  ['TCP upload (Mbit/s)', (r) => r.upload.mbps, 'higher'],
  ['TCP download (Mbit/s)', (r) => r.download.mbps, 'higher'],
  ['client CPU s/GB, upload', (r) => r.upload.cpuSecPerGB, 'lower'],
  ['client CPU s/GB, download', (r) => r.download.cpuSecPerGB, 'lower'],
  ['  of it JS thread, upload', (r) => r.upload.mainThreadCpuSecPerGB, 'lower'],
  ['  of it JS thread, download', (r) => r.download.mainThreadCpuSecPerGB, 'lower'],
  ['TCP retransmits, upload', (r) => r.upload.retransmits, 'lower'],
  ['TCP retransmits, download', (r) => r.download.retransmits, 'lower'],
  ['client UDP rcvbuf drops, download', (r) => r.download.udpRcvbufErrors, 'lower'],
];

function summarize(records) {
  const ok = { 1: records.filter((r) => r.version === 1 && !r.error) };
  ok[2] = records.filter((r) => r.version === 2 && !r.error);
  const rows = [];
  for (const [figure, get, better] of FIGURES) {
    const row = { figure, better };
    for (const v of [2, 1]) {
      const xs = ok[v].map(get);
      row[`v${v}`] = xs.length
        ? { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), runs: xs }
        : undefined;
    }
    // Ratios only where the IKEv2 figure is not 0 (no retransmits, no JS thread time).
    if (row.v1 && row.v2 && row.v2.median > 0) row.ratio = row.v1.median / row.v2.median;
    // A spread needs at least two runs of each version.
    if (row.v1?.runs.length > 1 && row.v2?.runs.length > 1) {
      const spread = Math.max(row.v1.max - row.v1.min, row.v2.max - row.v2.min);
      row.withinSpread = Math.abs(row.v1.median - row.v2.median) <= spread;
    }
    // The two connections of a round ran back to back, under about the same load: their ratio
    // is less noisy than the ratio of medians over rounds whose load differed.
    const paired = [];
    for (const a of ok[1]) {
      const b = ok[2].find((r) => r.round === a.round);
      if (b && get(b) > 0) paired.push(get(a) / get(b));
    }
    if (paired.length)
      row.pairedRatio = {
        median: median(paired),
        min: Math.min(...paired),
        max: Math.max(...paired),
        runs: paired,
      };
    rows.push(row);
  }
  const same = (k) => [...new Set([...ok[1], ...ok[2]].map((r) => r[k]))];
  return {
    rows,
    espProposals: same('espProposal'),
    espPaths: same('espPath'),
    mtus: same('mtu'),
    failures: records.filter((r) => r.error).length,
    iperf3Errors: records.reduce((n, r) => n + (r.iperf3Errors?.length ?? 0), 0),
  };
}

function printTable(s) {
  const f = (x, d = 2) => (x === undefined ? '-' : x.toFixed(d));
  const cell = (m) => (m ? `${f(m.median)} (${f(m.min)}–${f(m.max)})` : 'no data');
  console.log(
    `${'figure'.padEnd(34)}${'IKEv2 median (min–max)'.padStart(30)}${'IKEv1 median (min–max)'.padStart(30)}${'v1/v2'.padStart(8)}${'v1/v2 per round'.padStart(24)}  difference of the medians`,
  );
  for (const r of s.rows) {
    const verdict =
      r.withinSpread === undefined
        ? 'no spread (fewer than 2 runs of a version)'
        : r.withinSpread
          ? 'within the run-to-run spread'
          : 'OUTSIDE the run-to-run spread';
    console.log(
      `${r.figure.padEnd(34)}${cell(r.v2).padStart(30)}${cell(r.v1).padStart(30)}${f(r.ratio).padStart(8)}${cell(r.pairedRatio).padStart(24)}  ${verdict} (${r.better} is better)`,
    );
  }
  const one = (xs) =>
    xs.length === 1
      ? `the same for both: ${printable(xs[0])}`
      : `DIFFERENT: ${printable(xs.join(' | '))}`;
  console.log(`ESP proposal: ${one(s.espProposals)}`);
  console.log(`data plane (espPath): ${one(s.espPaths)}`);
  console.log(`TUN MTU: ${one(s.mtus)}`);
  console.log(
    'spread: min–max over the rounds; "within" when |median v1 − median v2| <= the larger max − min of the two versions. v1/v2 per round: the two connections of each round, run back to back, compared with each other (median and min–max of those ratios).',
  );
  if (s.iperf3Errors)
    console.log(`iperf3 errors (the transfer was run once more; listed above): ${s.iperf3Errors}`);
}

let result;
try {
  sh('bash', [join(TB, 'up.sh'), '--prefix', P]);
  copyFileSync(`/tmp/${P}/psk`, join(work, 'psk'));
  chmodSync(join(work, 'psk'), 0o600);
  const server = spawn(
    'ip',
    ['netns', 'exec', LAN, 'iperf3', '-s', '--logfile', join(work, 'iperf3-server.log')],
    { stdio: 'ignore', env },
  );
  children.push(server);
  await sleep(500);
  const cpu = cpus()[0]?.model ?? 'unknown';
  const loadBefore = loadavg();
  const uptimeBefore = printable(sh('uptime', [], { allowFail: true }).stdout.trim());
  console.log(
    `bench-ikev1: ${ROUNDS} rounds × {IKEv2, IKEv1}, iperf3 TCP ${SECONDS} s per direction, ESP ${ESP}, PSK, through the test bed's NAT to strongSwan 5.9.8; ${cpu}, ${cpus().length} cores`,
  );
  console.log(`load before: ${uptimeBefore}`);
  const records = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const order = round % 2 ? [2, 1] : [1, 2];
    for (const v of order) records.push(await one(v, round));
  }
  const uptimeAfter = printable(sh('uptime', [], { allowFail: true }).stdout.trim());
  console.log(`load after: ${uptimeAfter}`);
  const s = summarize(records);
  printTable(s);
  result = {
    date: new Date().toISOString(),
    command: `node scripts/bench-ikev1.mjs ${args.join(' ')}`.trim(),
    seconds: SECONDS,
    rounds: ROUNDS,
    esp: ESP,
    cpu,
    cores: cpus().length,
    loadavgBefore: loadBefore,
    loadavgAfter: loadavg(),
    uptimeBefore,
    uptimeAfter,
    summary: s,
    records,
  };
  if (s.failures) {
    console.log(`bench-ikev1: ${s.failures} of ${records.length} connections failed (above)`);
    process.exitCode = 1;
  }
} catch (e) {
  console.error(`bench-ikev1: ${printable(e.message, 2000)}`);
  process.exitCode = 1;
} finally {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  await sleep(200);
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  spawnSync('bash', [join(TB, 'down.sh'), '--prefix', P], { env, timeout: 60000 });
  rmSync(work, { recursive: true, force: true });
}
if (jsonOut && result) writeFileSync(jsonOut, JSON.stringify(result, null, 2) + '\n');
