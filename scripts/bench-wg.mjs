// wireguard-go, bench-tunnel's userspace anchor (issue 15 item 5): Debian 13's wireguard-go
// (scripts/testbed/wireguard-go.sh fetch; TUN offloads: IFF_VNET_HDR with TSO/USO, GRO, and UDP
// GSO/GRO) at both ends of the same test bed topology (client namespace - NAT router - gateway
// namespace - LAN host), measured with bench-tunnel's own transfer and connect routines, so the
// figures line up with ours and strongSwan's of the same run.
//
// The kernel here has no WireGuard module: wireguard-go wants
// WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1, and its control socket
// /var/run/wireguard/IF.sock is not per network namespace, hence one interface name per end.
// Tunnel addresses: the client takes 203.0.113.200/32 (in the LAN host's route back through the
// gateway, 203.0.113.128/25, outside strongSwan's pool 203.0.113.128/26); the gateway routes it
// into its wireguard-go device. WireGuard has no handshake before data: "connect" is the exec of
// wireguard-go (+ `wg set` + one `ip -batch`) to the first ping answered by the LAN host.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync, readFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const WG_PORT = 51820;
const CLIENT_ADDR = '203.0.113.200';

/** A WireGuard key as `wg genkey`/`wg pubkey` print it: 32 bytes in base64 (44 characters). */
export function validWgKey(s) {
  return typeof s === 'string' && /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/.test(s.trim());
}

/**
 * Which offloads a device has on, from `ethtool -k DEV` output: the TUN offloads wireguard-go
 * asks for (TSO through TUNSETOFFLOAD, USO where the kernel has it, GRO). Unknown lines are
 * ignored; a missing feature is absent from the result.
 */
export function parseEthtoolOffloads(text) {
  const want = {
    'tcp-segmentation-offload': 'tso',
    'tx-udp-segmentation': 'uso',
    'generic-receive-offload': 'gro',
    'rx-udp-gro-forwarding': 'udpGroForwarding',
  };
  const out = {};
  for (const line of String(text).split('\n').slice(0, 200)) {
    const m = /^\s*([a-z0-9-]+):\s+(on|off)\b/.exec(line);
    if (m && want[m[1]]) out[want[m[1]]] = m[2] === 'on';
  }
  return out;
}

const ratio = (x, y) => (Number.isFinite(x) && Number.isFinite(y) && y !== 0 ? x / y : Number.NaN);

/**
 * The comparison rows: ours, strongSwan's and wireguard-go's figures of one run with the ratios
 * ours/strongSwan and ours/wireguard-go. `w` may be a skip ({ skipped: reason }): its column is
 * then NaN. Pure: takes bench-tunnel's result objects.
 */
export function wgRatioRows(a, b, w) {
  const ok = w && !w.skipped;
  const g = (f) => (ok ? f(w) : Number.NaN);
  const rows = [
    ['TCP upload, 1 stream (Mbit/s)', (r) => r.upload.mbps, 'higher'],
    ['TCP download, 1 stream (Mbit/s)', (r) => r.download.mbps, 'higher'],
    ['TCP upload, 4 streams (Mbit/s)', (r) => r.upload4.mbps, 'higher'],
    ['TCP download, 4 streams (Mbit/s)', (r) => r.download4.mbps, 'higher'],
    ['UDP 1400 B upload (kpps delivered)', (r) => r.udp1400.pps / 1e3, 'higher'],
    ['client CPU s/GB, upload', (r) => r.upload.cpuSecPerGB, 'lower'],
    ['client CPU s/GB, download', (r) => r.download.cpuSecPerGB, 'lower'],
    ['client CPU s/GB, upload 4 streams', (r) => r.upload4.cpuSecPerGB, 'lower'],
    ['client CPU s/GB, download 4 streams', (r) => r.download4.cpuSecPerGB, 'lower'],
    ['ping RTT under load (ms)', (r) => r.pingLoadedMs, 'lower'],
    ['client peak RSS (MB)', (r) => r.peakRssMB, 'lower'],
  ].map(([name, f, better]) => {
    const ours = f(a);
    const sw = f(b);
    const wg = g(f);
    return {
      name,
      ours,
      strongswan: sw,
      wireguardGo: wg,
      oursPerSw: ratio(ours, sw),
      oursPerWg: ratio(ours, wg),
      better,
    };
  });
  // Connect: our foreground `vpn connect` (exec → first ping) against charon-cmd and against
  // wireguard-go's exec → first ping (no handshake before data there).
  const oc = a.foregroundConnectMs?.median ?? Number.NaN;
  const sc = b.connectMs?.median ?? Number.NaN;
  const wc = ok ? w.connectMs.median : Number.NaN;
  rows.push({
    name: 'connect median (ms), exec → first ping',
    ours: oc,
    strongswan: sc,
    wireguardGo: wc,
    oursPerSw: ratio(oc, sc),
    oursPerWg: ratio(oc, wc),
    better: 'lower',
  });
  return rows;
}

/** The text table of wgRatioRows: one line per figure. */
export function formatWgTable(rows) {
  const n = (x) => (Number.isFinite(x) ? x.toFixed(2) : '-');
  const lines = [
    `${'figure (vs wireguard-go)'.padEnd(42)}${'ours'.padStart(10)}${'strongSwan'.padStart(12)}${'wg-go'.padStart(10)}${'ours/sw'.padStart(9)}${'ours/wg'.padStart(9)}  better`,
  ];
  for (const r of rows)
    lines.push(
      `${r.name.padEnd(42)}${n(r.ours).padStart(10)}${n(r.strongswan).padStart(12)}${n(r.wireguardGo).padStart(10)}${n(r.oursPerSw).padStart(9)}${n(r.oursPerWg).padStart(9)}  ${r.better}`,
    );
  return lines;
}

/** Paths of the fetched binaries, or the reason they are not there (fetching them if missing). */
function binaries(ctx) {
  const script = join(ctx.TB, 'wireguard-go.sh');
  const fetch = spawnSync('bash', [script, 'fetch'], { encoding: 'utf8', timeout: 120000 });
  if (fetch.status !== 0)
    return { reason: (fetch.stderr || `wireguard-go.sh fetch exited ${fetch.status}`).trim() };
  const p = spawnSync('bash', [script, 'path'], { encoding: 'utf8' });
  const [wgGo, wg] = p.stdout.trim().split('\n');
  if (p.status !== 0 || !wgGo || !wg) return { reason: (p.stderr || 'no wireguard-go').trim() };
  const v = spawnSync(wgGo, ['--version'], { encoding: 'utf8' });
  const version = /wireguard-go (v[\d.]+)/.exec(v.stdout)?.[1] ?? 'unknown';
  let pkg = 'unknown';
  try {
    pkg = readFileSync(join(wgGo, '../../../wireguard-go.version'), 'utf8').trim().slice(0, 40);
  } catch {}
  return { wgGo, wg, version, pkg };
}

/** Interface names, one per end (the control socket path is not per namespace). */
export const wgIfNames = (P) => ({ cli: `${P.slice(0, 10)}wgc`, gw: `${P.slice(0, 10)}wgg` });

/**
 * Runs the wireguard-go figures. ctx: bench-tunnel's { TB, P, CLI, GWNS, GW, LAN_HOST, LAN_NET,
 * work, env, children, sh, inNs, waitPing, measureTransfer, connectTimes, peakMB, cpuSeconds }.
 * Returns the figures, or { skipped: reason } when the binaries cannot be had or a step fails
 * (the rest of bench-tunnel's figures stand).
 */
export async function benchWireguardGo(ctx, noWg) {
  if (noWg) return { skipped: '--no-wg' };
  const bin = binaries(ctx);
  // Printed as is: keep it one short line of printable characters.
  const printable = (t) => t.replace(/[^\x20-\x7e]+/g, ' ').slice(0, 300);
  if (bin.reason) return { skipped: `wireguard-go unavailable: ${printable(bin.reason)}` };
  const { wgGo, wg } = bin;
  const ifs = wgIfNames(ctx.P);
  const d = join(ctx.work, 'wg');
  mkdirSync(d, { recursive: true, mode: 0o700 });
  const env = { ...ctx.env, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1' };
  const key = (name) => {
    const priv = spawnSync(wg, ['genkey'], { encoding: 'utf8' }).stdout.trim();
    const pub = spawnSync(wg, ['pubkey'], { input: priv, encoding: 'utf8' }).stdout.trim();
    if (!validWgKey(priv) || !validWgKey(pub)) throw new Error('wg genkey/pubkey gave no key');
    writeFileSync(join(d, `${name}.key`), priv + '\n', { mode: 0o600 });
    return { file: join(d, `${name}.key`), pub };
  };
  const sock = (ifname) => `/var/run/wireguard/${ifname}.sock`;
  /** wireguard-go in the foreground in `ns`, resolved once its control socket is there. */
  const startDaemon = async (ns, ifname) => {
    const proc = spawn('ip', ['netns', 'exec', ns, wgGo, '-f', ifname], {
      env,
      stdio: 'ignore',
    });
    ctx.children.push(proc);
    proc.exited = new Promise((r) => proc.once('exit', r));
    proc.wgIf = ifname;
    const end = performance.now() + 5000;
    while (!existsSync(sock(ifname))) {
      if (proc.exitCode !== null || performance.now() > end)
        throw new Error(`wireguard-go ${ifname} did not start`);
      await new Promise((r) => setTimeout(r, 2));
    }
    return proc;
  };
  const stopDaemon = async (proc) => {
    proc.kill('SIGTERM');
    await proc.exited;
    rmSync(sock(proc.wgIf), { force: true });
  };
  stopWireguardGo(ctx);
  let gwProc;
  try {
    const gk = key('gw');
    const ck = key('cli');
    gwProc = await startDaemon(ctx.GWNS, ifs.gw);
    ctx.inNs(ctx.GWNS, [
      wg,
      'set',
      ifs.gw,
      'listen-port',
      String(WG_PORT),
      'private-key',
      gk.file,
      'peer',
      ck.pub,
      'allowed-ips',
      `${CLIENT_ADDR}/32`,
    ]);
    ctx.sh('ip', ['-n', ctx.GWNS, 'link', 'set', ifs.gw, 'up']);
    ctx.sh('ip', ['-n', ctx.GWNS, 'route', 'replace', `${CLIENT_ADDR}/32`, 'dev', ifs.gw]);
    const batch = [
      `addr add ${CLIENT_ADDR}/32 dev ${ifs.cli}`,
      `link set ${ifs.cli} up`,
      `route add ${ctx.LAN_NET} dev ${ifs.cli}`,
    ].join('\n');
    /** The client end from exec: daemon, `wg set`, addresses and route in one `ip -batch`. */
    const startClient = async () => {
      const proc = await startDaemon(ctx.CLI, ifs.cli);
      ctx.inNs(ctx.CLI, [
        wg,
        'set',
        ifs.cli,
        'private-key',
        ck.file,
        'peer',
        gk.pub,
        'endpoint',
        `${ctx.GW}:${WG_PORT}`,
        'allowed-ips',
        ctx.LAN_NET,
      ]);
      ctx.sh('ip', ['-n', ctx.CLI, '-batch', '-'], { input: batch });
      return proc;
    };
    const connectMs = await ctx.connectTimes(startClient, stopDaemon);
    const proc = await startClient();
    if (!ctx.waitPing(10000)) throw new Error('no ping through the wireguard-go tunnel');
    const et = spawnSync('ip', ['netns', 'exec', ctx.CLI, 'ethtool', '-k', ifs.cli], {
      encoding: 'utf8',
    });
    const offloads = et.status === 0 ? parseEthtoolOffloads(et.stdout) : null;
    const g0 = ctx.cpuSeconds(gwProc.pid);
    const transfer = await ctx.measureTransfer(proc.pid);
    const gatewayCpuSec = ctx.cpuSeconds(gwProc.pid) - g0;
    const peakRssMB = ctx.peakMB(proc.pid);
    await stopDaemon(proc);
    return {
      version: bin.version,
      debianPackage: bin.pkg,
      offloads: offloads ?? 'unknown (no ethtool)',
      connectMs,
      ...transfer,
      gatewayCpuSec,
      peakRssMB,
    };
  } catch (e) {
    return { skipped: `wireguard-go run failed: ${String(e?.message ?? e).slice(0, 300)}` };
  } finally {
    if (gwProc) await stopDaemon(gwProc);
    stopWireguardGo(ctx);
  }
}

/** Cleanup for bench-tunnel's `finally`: the devices go with their namespaces, sockets here. */
export function stopWireguardGo(ctx) {
  const ifs = wgIfNames(ctx.P);
  for (const i of [ifs.cli, ifs.gw]) {
    // A socket left by a killed run would pass for the next daemon's before it listens.
    rmSync(`/var/run/wireguard/${i}.sock`, { force: true });
  }
}
