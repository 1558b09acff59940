#!/usr/bin/env node
// Engine benchmark: OUR data path alone, with static SAs and no IKE, wired exactly as
// src/client/tunnel.ts wires it, in one of two ways:
//
//   js / native (ESP from JavaScript, batched native seal/open or JavaScript crypto):
//     TUN read ──► EspEngine.encapsulate ──► UdpTransport.sendEsp (peer)
//     UDP recv ──► classify (UdpTransport) ──► EspEngine.decapsulate ──► TUN write
//   threaded (the native data plane, src/fastpath/dataplane.ts over native/dataplane.c):
//     its outbound thread: TUN read ──► policy ──► seal ──► sendmmsg (peer)
//     its inbound thread:  recvmmsg ──► classify ──► open ──► policy ──► TUN write
//     (JavaScript only sets it up and reads its counters)
//
// Run by scripts/bench-engine inside its client namespace; not meant to be run by hand.
//
//   node dataplane.mjs --keys FILE --tun NAME --peer IP:PORT --port N --local IP
//                      --ready FILE --stats FILE
//
// The key file (mode 600) holds out_spi/out_keymat (the SA we send with) and in_spi/in_keymat
// (the SA we receive with), hex. The path is chosen by BENCH_IMPL (threaded, native, js or auto:
// the threaded data plane when it is available, else the library's default) and VPN_FAST_PATH
// (0 = JavaScript, 1 = native, unset = the library's default), set by the caller before the
// library is loaded.
// On SIGUSR1 the counters go to --stats (JSON, written to a temporary file and renamed); SIGTERM
// and SIGINT close the TUN device and the socket and exit.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const DIST = join(ROOT, 'dist/src');

const args = process.argv.slice(2);
function arg(name) {
  const i = args.indexOf(name);
  if (i < 0 || i + 1 >= args.length) {
    console.error(`dataplane: missing ${name}`);
    process.exit(2);
  }
  return args[i + 1];
}
const keysFile = arg('--keys');
const tunName = arg('--tun');
const [peerAddress, peerPort] = arg('--peer').split(':');
const localPort = Number(arg('--port'));
const localAddress = arg('--local');
const readyFile = arg('--ready');
const statsFile = arg('--stats');

for (const f of ['esp/engine.js', 'net/udp.js', 'tun/linux.js']) {
  if (!existsSync(join(DIST, f))) {
    console.error(`dataplane: dist/src/${f} is missing: run \`npm run build\` first`);
    process.exit(2);
  }
}
const fastPath = process.env.VPN_FAST_PATH;
const implAsked = process.env.BENCH_IMPL || 'auto';
const nativeModule = join(DIST, 'esp/native.js');
const dataplaneModule = join(DIST, 'fastpath/dataplane.js');
if (implAsked === 'threaded' && !existsSync(dataplaneModule)) {
  console.error(
    'dataplane: --impl threaded: dist has no data plane (dist/src/fastpath/dataplane.js); build it or use --impl native',
  );
  process.exit(2);
}
if (fastPath === '1' && !existsSync(nativeModule)) {
  console.error(
    'dataplane: --impl native: dist has no native ESP path (dist/src/esp/native.js); build it or use --impl js',
  );
  process.exit(2);
}

// Loaded after VPN_FAST_PATH is in the environment, as the CLI would be.
const load = (f) => import(pathToFileURL(join(DIST, f)).href);
const { EspEngine } = await load('esp/engine.js');
const { UdpTransport } = await load('net/udp.js');
const { openTun } = await load('tun/linux.js');

function readKeys(file) {
  const kv = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^(\w+)=([0-9a-f]+)$/.exec(line.trim());
    if (m) kv[m[1]] = m[2];
  }
  const sa = (dir) => {
    if (!kv[`${dir}_spi`] || kv[`${dir}_keymat`]?.length !== 72) {
      console.error(`dataplane: ${file} lacks ${dir}_spi or a 36-byte ${dir}_keymat`);
      process.exit(2);
    }
    // EspSaParams, as the IKE layer hands them over: AES-256-GCM-16 (transform 20), key ‖ salt
    return {
      spi: parseInt(kv[`${dir}_spi`], 16) >>> 0,
      encrId: 20,
      keymat: Uint8Array.from(Buffer.from(kv[`${dir}_keymat`], 'hex')),
      replayWindow: 1024,
    };
  };
  return { outbound: sa('out'), inbound: sa('in') };
}

const ipBytes = (s) => Uint8Array.from(s.split('.').map(Number));
const keys = readKeys(keysFile);
// The tunnel's CHILD_SA: our virtual address ↔ everything (tsLocal = our address after the
// gateway narrowed it, tsRemote = 0.0.0.0/0). Inbound first, then outbound with the policy,
// which the inbound SA adopts (Tunnel.apply, 'installChild').
const policy = {
  local: [
    {
      startAddr: ipBytes(localAddress),
      endAddr: ipBytes(localAddress),
      protocol: 0,
      startPort: 0,
      endPort: 65535,
    },
  ],
  remote: [
    {
      startAddr: ipBytes('0.0.0.0'),
      endAddr: ipBytes('255.255.255.255'),
      protocol: 0,
      startPort: 0,
      endPort: 65535,
    },
  ],
};

// The threaded data plane: asked for, or `auto` and available.
let dataplaneStatus = 'no data plane module in dist';
let DataPlane;
if (existsSync(dataplaneModule) && implAsked !== 'js' && implAsked !== 'native') {
  const mod = await import(pathToFileURL(dataplaneModule).href);
  const st = mod.dataPlaneStatus();
  dataplaneStatus = st.available ? 'available' : st.reason;
  if (st.available) DataPlane = mod.DataPlane;
}
if (implAsked === 'threaded' && !DataPlane) {
  console.error(
    `dataplane: --impl threaded, but the data plane is unavailable: ${dataplaneStatus}`,
  );
  process.exit(2);
}

const engine = new EspEngine({ native: { enabled: fastPath !== '0' } });
if (!DataPlane) {
  engine.addInbound(keys.inbound);
  engine.setOutbound(keys.outbound, policy);
}

/** Which ESP implementation carries the traffic. */
function detectImpl() {
  if (DataPlane) return 'threaded';
  return engine.usesNative ? 'native' : 'js';
}
const impl = detectImpl();
// Why the native path is (not) there, from src/esp/native.ts when the build has it.
let nativeStatus = 'no native ESP module in dist';
if (existsSync(nativeModule)) {
  const native = await import(pathToFileURL(nativeModule).href);
  if (typeof native.nativeEspStatus === 'function') {
    const st = native.nativeEspStatus({ enabled: fastPath !== '0' });
    nativeStatus = st.available ? `available (${st.opensslVersion})` : st.reason;
  }
}
if (DataPlane) nativeStatus += `; data plane ${dataplaneStatus}`;
if (fastPath === '1' && impl === 'js') {
  console.error(
    `dataplane: VPN_FAST_PATH=1 but the engine runs the JavaScript ESP path (native: ${nativeStatus})`,
  );
  process.exit(2);
}

// BENCH_OFFLOAD=1 (bench-engine's default; --no-offload: 0): the TUN device with offloads
// (IFF_VNET_HDR, TSO/USO, and GRO on the way back), as `vpn connect` opens it for the data plane.
const offload = process.env.BENCH_OFFLOAD === '1' && DataPlane !== undefined;
const tun = openTun({ name: tunName, mtu: 1400, ...(offload ? { offload: true } : {}) });
const peer = { address: peerAddress, port: Number(peerPort) };
const udpCounters = { ike: 0 };
let udp;
let dp;
if (DataPlane) {
  if (tun.fd === undefined) {
    console.error("dataplane: this build's TUN device does not expose its descriptor");
    process.exit(2);
  }
  // As the tunnel does: the socket, then the TUN, then the CHILD_SA (inbound first).
  dp = DataPlane.open(4, localPort, {
    onDatagram: () => udpCounters.ike++,
    onRekeyNeeded: () => {},
    onError: (err) => console.error(`dataplane: data plane error: ${err.message}`),
  });
  dp.attachTun(tun.fd, tun.offloads ?? 0);
  dp.setPeer(peer);
  dp.addInbound(keys.inbound, policy);
  dp.setOutbound(keys.outbound, policy);
} else {
  udp = await UdpTransport.open(4, localPort, {
    onIke: () => udpCounters.ike++,
    onEsp: (data) => onEsp(data),
    onError: (err) => console.error(`dataplane: socket error: ${err.message}`),
  });
}

// The tunnel's handlers, minus the IKE session (Tunnel.onTunPackets / Tunnel.onEsp).
let lastEspOut = 0;
let lastEspIn = 0;
const rekeyAsked = new Set();
function onTunPackets(pkts) {
  // As Tunnel.onTunPackets: one batch per TUN wakeup.
  for (const r of engine.encapsulateBatch(pkts)) {
    if (r instanceof Uint8Array) {
      udp.sendEsp(r, peer);
      lastEspOut = Date.now();
    }
  }
  for (const spi of engine.rekeyNeeded) {
    if (rekeyAsked.has(spi)) continue;
    rekeyAsked.add(spi);
  }
}
function onEsp(data) {
  const r = engine.decapsulate(data);
  if ('packet' in r) {
    lastEspIn = Date.now();
    tun.write(r.packet);
  }
}
if (!dp) tun.onPackets(onTunPackets);

/** The data plane's counters in the shape of the engine's, the TUN's and the socket's. */
function dataPlaneStats() {
  const d = dp.stats();
  const engineCounters = {
    packetsOut: d.packetsOut,
    bytesOut: d.bytesOut,
    packetsIn: d.packetsIn,
    bytesIn: d.bytesIn,
  };
  for (const [k, v] of Object.entries(d.drops)) if (v) engineCounters[k] = v;
  // Packets read from the TUN: sealed, or dropped before sealing (malformed counts both ways).
  const outDrops = ['no-policy', 'seq-exhausted', 'too-big', 'no-peer', 'crypto-error'];
  const rxPackets = d.packetsOut + outDrops.reduce((n, k) => n + (d.drops[k] ?? 0), 0);
  return {
    engine: engineCounters,
    tun: {
      rxPackets,
      rxDrops: 0,
      rxBatches: d.batchesOut,
      txPackets: d.packetsIn - d.tunWriteErrors,
      txErrors: d.tunWriteErrors,
      readErrors: d.tunReadErrors,
    },
    udp: { keepalivesIn: d.keepalivesIn, sendErrors: d.sendErrors, ike: udpCounters.ike },
    dataplane: d,
    lastEspOut: d.msSinceEspOut === undefined ? 0 : Date.now() - d.msSinceEspOut,
    lastEspIn: d.msSinceEspIn === undefined ? 0 : Date.now() - d.msSinceEspIn,
  };
}

function writeStats() {
  const s = {
    pid: process.pid,
    impl,
    fastPathEnv: fastPath ?? null,
    nativeStatus,
    ...(dp
      ? dataPlaneStats()
      : {
          engine: engine.counters(),
          tun: tun.stats(),
          udp: { ...udp.counters, ike: udpCounters.ike },
          lastEspOut,
          lastEspIn,
        }),
    rssMB: process.memoryUsage().rss / 1048576,
  };
  writeFileSync(`${statsFile}.tmp`, JSON.stringify(s) + '\n');
  renameSync(`${statsFile}.tmp`, statsFile);
}
process.on('SIGUSR1', writeStats);
function shutdown() {
  // The data plane's threads use the TUN descriptor: stop them before it is closed.
  dp?.close();
  udp?.close();
  tun.close();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

writeFileSync(
  readyFile,
  JSON.stringify({
    pid: process.pid,
    tun: tun.name,
    impl,
    tunOffloads: tun.offloads ?? 0,
    udpGro: dp?.stats().offloads?.udpGro ?? false,
    fastPathEnv: fastPath ?? null,
    nativeStatus,
  }) + '\n',
);
console.error(
  `dataplane: pid ${process.pid}, TUN ${tun.name}, UDP :${(dp ?? udp).localPort} → ${peer.address}:${peer.port}, ESP implementation: ${impl} (native: ${nativeStatus})`,
);
