#!/usr/bin/env node
// Engine benchmark: OUR data path alone, with static SAs and no IKE, wired exactly as
// src/client/tunnel.ts wires it:
//
//   TUN read ──► EspEngine.encapsulate ──► UdpTransport.sendEsp (peer)
//   UDP recv ──► classify (UdpTransport) ──► EspEngine.decapsulate ──► TUN write
//
// Run by scripts/bench-engine inside its client namespace; not meant to be run by hand.
//
//   node dataplane.mjs --keys FILE --tun NAME --peer IP:PORT --port N --local IP
//                      --ready FILE --stats FILE
//
// The key file (mode 600) holds out_spi/out_keymat (the SA we send with) and in_spi/in_keymat
// (the SA we receive with), hex. The fast path is chosen by VPN_FAST_PATH (0 = JavaScript,
// 1 = native, unset = the library's default), set by the caller before the library is loaded.
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
const nativeModule = join(DIST, 'esp/native.js');
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
const engine = new EspEngine({ native: { enabled: fastPath !== '0' } });
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
engine.addInbound(keys.inbound);
engine.setOutbound(keys.outbound, policy);

/**
 * Which ESP implementation the engine ended up with. The engine does not (yet) say so itself;
 * we look for an `impl`/`fastPath` property, then at the SA objects it holds.
 */
function detectImpl() {
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
if (fastPath === '1' && impl !== 'native') {
  console.error(
    `dataplane: VPN_FAST_PATH=1 but the engine runs the JavaScript ESP path (native: ${nativeStatus})`,
  );
  process.exit(2);
}

const tun = openTun({ name: tunName, mtu: 1400 });
const peer = { address: peerAddress, port: Number(peerPort) };
const udpCounters = { ike: 0 };
const udp = await UdpTransport.open(4, localPort, {
  onIke: () => udpCounters.ike++,
  onEsp: (data) => onEsp(data),
  onError: (err) => console.error(`dataplane: socket error: ${err.message}`),
});

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
tun.onPackets(onTunPackets);

function writeStats() {
  const s = {
    pid: process.pid,
    impl,
    fastPathEnv: fastPath ?? null,
    nativeStatus,
    engine: engine.counters(),
    tun: tun.stats(),
    udp: { ...udp.counters, ike: udpCounters.ike },
    lastEspOut,
    lastEspIn,
    rssMB: process.memoryUsage().rss / 1048576,
  };
  writeFileSync(`${statsFile}.tmp`, JSON.stringify(s) + '\n');
  renameSync(`${statsFile}.tmp`, statsFile);
}
process.on('SIGUSR1', writeStats);
function shutdown() {
  tun.close();
  udp.close();
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
    fastPathEnv: fastPath ?? null,
    nativeStatus,
  }) + '\n',
);
console.error(
  `dataplane: pid ${process.pid}, TUN ${tun.name}, UDP :${udp.localPort} → ${peer.address}:${peer.port}, ESP implementation: ${impl} (native: ${nativeStatus})`,
);
