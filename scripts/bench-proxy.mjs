#!/usr/bin/env node
// Proxy mode against TUN mode: HTTP download and upload through the test bed's tunnel, measured
// with curl, (a) through a TUN device (`vpn connect`, as root) and (b) through the SOCKS5 proxy of
// `vpn connect --socks5` (ocproxy's lwIP stack on a socket pair, as the unprivileged user nobody),
// each with the native data plane and with ESP in JavaScript (VPN_FAST_PATH=0).
//
//   sudo node scripts/bench-proxy.mjs [--seconds N] [--runs N] [--json FILE]
//
// Per figure: the median of --runs transfers (default 3) of at most --seconds each (default 8;
// curl's own average rate: bytes moved / time), and the CPU seconds per GB that the vpn process
// and ocproxy used (utime + stime from /proc/PID/stat over the transfers). The web server is
// test/interop/fixtures/lan-services.mjs on the LAN host (a 512 MiB body in memory; uploads go
// to a sink that counts bytes).
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const TB = join(ROOT, 'scripts/testbed');
const BIN = join(ROOT, 'bin/vpn.js');
const args = process.argv.slice(2);
const num = (name, def) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : def);
const SECONDS = num('--seconds', 8);
const RUNS = num('--runs', 3);
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;
if (process.getuid() !== 0) {
  console.error('bench-proxy: run as root (network namespaces; the proxy itself runs as nobody)');
  process.exit(2);
}
for (const tool of ['ocproxy', 'curl', 'setpriv']) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
    console.error(`bench-proxy: ${tool} is not installed (bash scripts/testbed/install-deps.sh)`);
    process.exit(2);
  }
}

const P = 'vbproxy';
const CLI = `${P}-cli`;
const LAN = `${P}-lan`;
const GW = '198.51.100.10';
const LAN_HOST = '203.0.113.10';
const PORT = 8080;
const HZ = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);
const work = mkdtempSync(join(tmpdir(), 'vpn-bench-proxy-'));
const children = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const cpuSeconds = (pid) => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / HZ;
  } catch {
    return 0;
  }
};

function sh(cmd, a, opts = {}) {
  const r = spawnSync(cmd, a, { encoding: 'utf8', ...opts });
  if (r.status !== 0 && !opts.allowFail)
    throw new Error(`${cmd} ${a.join(' ')}: ${r.stderr || r.stdout}`);
  return r;
}

function cleanup() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  spawnSync('bash', [join(TB, 'down.sh'), '--prefix', P], { stdio: 'ignore' });
  rmSync(work, { recursive: true, force: true });
}
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

/** Starts `vpn connect` in the client namespace; resolves with the process once it serves. */
async function connect(mode, fastPath) {
  const nobody = Number(sh('id', ['-u', 'nobody']).stdout.trim());
  const nogroup = Number(sh('id', ['-g', 'nobody']).stdout.trim());
  const home = join(work, `home-${mode}-${fastPath}`);
  mkdirSync(join(home, 'run'), { recursive: true, mode: 0o700 });
  const psk = join(home, 'psk');
  writeFileSync(psk, readFileSync(`/tmp/${P}/psk`));
  chmodSync(psk, 0o600);
  const base = [
    process.execPath,
    BIN,
    'connect',
    GW,
    '--id',
    'client@test',
    '--remote-id',
    '@gw.test',
    '--psk-file',
    psk,
    '--json',
  ];
  let argv;
  if (mode === 'proxy') {
    for (const p of [home, join(home, 'run'), psk]) chownSync(p, nobody, nogroup);
    argv = [
      'setpriv',
      '--reuid',
      String(nobody),
      '--regid',
      String(nogroup),
      '--clear-groups',
      'env',
      '-i',
      'PATH=/usr/sbin:/usr/bin:/sbin:/bin',
      `XDG_RUNTIME_DIR=${join(home, 'run')}`,
      'CI=true',
      `VPN_FAST_PATH=${fastPath}`,
      ...base,
      '--socks5',
      '127.0.0.1:1080',
    ];
  } else
    argv = [
      'env',
      `VPN_RUNTIME_DIR=${join(home, 'run')}`,
      'VPN_DNS_BACKEND=file',
      'CI=true',
      `VPN_FAST_PATH=${fastPath}`,
      ...base,
    ];
  const proc = spawn('ip', ['netns', 'exec', CLI, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  const ready = mode === 'proxy' ? /"event":"proxy"/ : /"event":"up"/;
  for (let i = 0; i < 200 && !ready.test(out); i++) {
    if (proc.exitCode !== null) throw new Error(`vpn connect exited: ${out}`);
    await sleep(100);
  }
  if (!ready.test(out)) throw new Error(`vpn connect did not come up: ${out}`);
  const ocproxy = Number(/"event":"proxy".*?"pid":(\d+)/.exec(out)?.[1] ?? 0);
  return { proc, ocproxy };
}

/** One curl transfer: bytes/s as curl measured it. */
function curl(mode, dir) {
  const proxy = mode === 'proxy' ? ['--socks5', '127.0.0.1:1080'] : [];
  const a =
    dir === 'download'
      ? [
          '-sS',
          '-o',
          '/dev/null',
          '-w',
          '%{speed_download} %{size_download}',
          '-m',
          String(SECONDS),
          ...proxy,
          `http://${LAN_HOST}:${PORT}/file`,
        ]
      : [
          '-sS',
          '-o',
          '/dev/null',
          '-w',
          '%{speed_upload} %{size_upload}',
          '-m',
          String(SECONDS),
          '-T',
          join(work, 'upload'),
          ...proxy,
          `http://${LAN_HOST}:${PORT}/sink`,
        ];
  const r = sh('ip', ['netns', 'exec', CLI, 'curl', ...a], {
    allowFail: true,
    timeout: (SECONDS + 10) * 1000,
  });
  // Exit 28: the --seconds limit cut a long transfer; curl still reports its average rate.
  if (r.status !== 0 && r.status !== 28) throw new Error(`curl ${dir} (${mode}): ${r.stderr}`);
  const [rate, size] = r.stdout.trim().split(' ').map(Number);
  return { rate, size };
}

async function measure(mode, fastPath) {
  const { proc, ocproxy } = await connect(mode, fastPath);
  const res = {};
  try {
    for (const dir of ['download', 'upload']) {
      const rates = [];
      let bytes = 0;
      const c0 = cpuSeconds(proc.pid) + (ocproxy ? cpuSeconds(ocproxy) : 0);
      const v0 = cpuSeconds(proc.pid);
      for (let i = 0; i < RUNS; i++) {
        const { rate, size } = curl(mode, dir);
        rates.push((rate * 8) / 1e6);
        bytes += size;
      }
      const vpnCpu = cpuSeconds(proc.pid) - v0;
      const allCpu = cpuSeconds(proc.pid) + (ocproxy ? cpuSeconds(ocproxy) : 0) - c0;
      res[dir] = {
        mbps: median(rates),
        runs: rates,
        vpnCpuPerGB: vpnCpu / (bytes / 1e9),
        ocproxyCpuPerGB: ocproxy ? (allCpu - vpnCpu) / (bytes / 1e9) : 0,
      };
    }
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => (proc.exitCode !== null ? r() : proc.once('exit', r)));
  }
  return res;
}

try {
  sh('bash', [join(TB, 'up.sh'), '--prefix', P], { timeout: 120000 });
  const body = join(work, 'file');
  sh('dd', ['if=/dev/urandom', `of=${body}`, 'bs=1M', 'count=512', 'status=none']);
  sh('cp', [body, join(work, 'upload')]);
  chmodSync(work, 0o755);
  const lan = spawn(
    'ip',
    [
      'netns',
      'exec',
      LAN,
      process.execPath,
      join(ROOT, 'test/interop/fixtures/lan-services.mjs'),
      LAN_HOST,
      String(PORT),
      '203.0.113.10',
      body,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(lan);
  await new Promise((resolve, reject) => {
    lan.stdout.once('data', resolve);
    lan.once('exit', (c) => reject(new Error(`LAN server exited (${c})`)));
  });
  const rows = [];
  const results = {};
  for (const mode of ['tun', 'proxy'])
    for (const fp of ['1', '0']) {
      const key = `${mode}-${fp === '1' ? 'native' : 'js'}`;
      results[key] = await measure(mode, fp);
      for (const dir of ['download', 'upload']) {
        const r = results[key][dir];
        rows.push([
          `${mode === 'tun' ? 'TUN device' : 'SOCKS5 proxy'} (${fp === '1' ? 'native data plane' : 'JavaScript ESP'})`,
          dir,
          r.mbps,
          r.vpnCpuPerGB,
          r.ocproxyCpuPerGB,
        ]);
      }
    }
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(
    `bench-proxy: curl over HTTP, median of ${RUNS} runs of at most ${SECONDS} s; ${cpu}, ${cpus().length} cores`,
  );
  console.log(
    `${'path'.padEnd(44)}${'direction'.padEnd(10)}${'Mbit/s'.padStart(9)}${'vpn CPU s/GB'.padStart(14)}${'ocproxy s/GB'.padStart(14)}`,
  );
  for (const [path, dir, mbps, v, o] of rows)
    console.log(
      `${path.padEnd(44)}${dir.padEnd(10)}${mbps.toFixed(1).padStart(9)}${v.toFixed(2).padStart(14)}${(o ? o.toFixed(2) : '-').padStart(14)}`,
    );
  if (jsonOut)
    writeFileSync(
      jsonOut,
      JSON.stringify(
        { date: new Date().toISOString(), cpu, seconds: SECONDS, runs: RUNS, results },
        null,
        2,
      ) + '\n',
    );
} finally {
  cleanup();
}
