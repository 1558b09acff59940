#!/usr/bin/env node
// Engine benchmark: turns the raw measurements scripts/bench-engine collected into the table
// (and --json FILE). Not meant to be run by hand.
//
//   node report.mjs --work DIR --sizes "64 512 1400" --impl js --impl-asked auto --pinned 1
//                   [--gso 0|1] [--json FILE]
//
// DIR/openssl/<size>: `openssl speed -mr` bytes/s; DIR/runs/<dir>-<size>/: meta.json, tx.json
// (generator), rx.json (receiver), before/ and after/ snapshots (dataplane.json, /proc/PID/stat,
// the client namespace's /proc/net/dev and both namespaces' /proc/net/udp).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const arg = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const work = arg('--work');
const sizes = arg('--sizes', '64 512 1400').trim().split(/\s+/).map(Number);
const jsonOut = arg('--json');
const HZ = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim() || 100);

const readJson = (f) => JSON.parse(readFileSync(f, 'utf8'));
const readText = (f) => readFileSync(f, 'utf8');

/** utime and stime of /proc/PID/stat, in seconds. */
function cpuTimes(stat) {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(rest[11]) / HZ, system: Number(rest[12]) / HZ };
}

/** /proc/net/dev counters of one device. */
function netdev(text, dev) {
  for (const line of text.split('\n')) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m || !m[1].startsWith('be') || !m[1].endsWith('t')) continue;
    if (dev && m[1] !== dev) continue;
    const v = m[2].trim().split(/\s+/).map(Number);
    return { rxPackets: v[1], rxDropped: v[3], txPackets: v[9], txDropped: v[11] };
  }
  return { rxPackets: 0, rxDropped: 0, txPackets: 0, txDropped: 0 };
}

/** Per-socket receive drops from /proc/net/udp, by local port (the last column is "drops"). */
function socketDrops(text, port) {
  let n = 0;
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 13) continue;
    if (parseInt(f[1].split(':')[1], 16) === port) n += Number(f[f.length - 1]);
  }
  return n;
}

/** Busy and total jiffies of one CPU from /proc/stat (busy = all but idle and iowait). */
function cpuJiffies(text, cpu) {
  const line = text.split('\n').find((l) => l.startsWith(`cpu${cpu} `));
  if (!line) return { busy: 0, total: 0 };
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((x, y) => x + y, 0);
  return { busy: total - v[3] - v[4], total };
}

function snapshot(dir) {
  return {
    time: Number(readText(join(dir, 'time'))),
    ...(() => {
      const t = cpuTimes(readText(join(dir, 'stat')));
      return { cpu: t.user + t.system, cpuSystem: t.system };
    })(),
    // the data path's core (CPU 1 when pinned): includes kernel work not charged to our process
    // (softirqs run by ksoftirqd, e.g. the inner packets we write into the TUN)
    core: cpuJiffies(readText(join(dir, 'proc-stat')), 1),
    dp: readJson(join(dir, 'dataplane.json')),
    tun: netdev(readText(join(dir, 'netdev-cli'))),
    // our socket (4500 in the client namespace), the peer's (4500), the inner sink's (9)
    dropsOurs: socketDrops(readText(join(dir, 'udp-cli')), 4500),
    dropsPeer: socketDrops(readText(join(dir, 'udp-peer')), 4500),
    dropsInnerSink: socketDrops(readText(join(dir, 'udp-cli')), 9),
  };
}

const delta = (a, b, f) => f(b) - f(a);
const pinned = arg('--pinned') === '1';

function analyse(dirName) {
  const d = join(work, 'runs', dirName);
  const meta = readJson(join(d, 'meta.json'));
  const tx = readJson(join(d, 'tx.json'));
  const rx = readJson(join(d, 'rx.json'));
  const a = snapshot(join(d, 'before'));
  const b = snapshot(join(d, 'after'));
  const window = rx.packets > 1 ? rx.last - rx.first : 0;
  const cpu = b.cpu - a.cpu;
  // the data path was busy from the generator's start until the receiver's last packet (queues
  // drain after the generator stops); both are CLOCK_MONOTONIC
  const active = rx.packets > 0 ? Math.max(tx.seconds, rx.last - tx.start) : tx.seconds;
  const out = meta.dir === 'out';
  const r = {
    dir: meta.dir,
    size: meta.size,
    seconds: meta.seconds,
    rateLimit: meta.rate || null,
    generated: tx.sent,
    generatedPps: tx.sent / tx.seconds,
    delivered: rx.packets,
    deliveredBytes: rx.bytes,
    pps: window > 0 ? rx.packets / window : 0,
    gbps: window > 0 ? (rx.bytes * 8) / window / 1e9 : 0,
    loss: tx.sent > 0 ? 1 - rx.packets / tx.sent : 0,
    cpuSeconds: cpu,
    cpuSystemShare: cpu > 0 ? (b.cpuSystem - a.cpuSystem) / cpu : null,
    activeSeconds: active,
    cpuUtilisation: cpu / active,
    cpuUsPerPacket: rx.packets > 0 ? (cpu / rx.packets) * 1e6 : null,
    cpuSecPerGB: rx.bytes > 0 ? cpu / (rx.bytes / 1e9) : null,
    // pinned only: how busy the data path's core was (our process + kernel work on that core)
    // what one full core of our process would carry at this cost per packet (robust when
    // something else shared our core)
    ppsPerCore: rx.packets > 0 && cpu > 0 ? rx.packets / cpu : null,
    gbpsPerCore: rx.bytes > 0 && cpu > 0 ? (rx.bytes * 8) / cpu / 1e9 : null,
    coreBusy: pinned ? delta(a, b, (s) => s.core.busy) / HZ / active : null,
    coreUsPerPacket:
      pinned && rx.packets > 0 ? ((delta(a, b, (s) => s.core.busy) / HZ) * 1e6) / rx.packets : null,
    // where packets went missing
    detail: out
      ? {
          // kernel → our TUN reader: packets the TUN queue dropped because we did not read in time
          tunQueueDrops: delta(a, b, (s) => s.tun.txDropped),
          tunReadByUs: delta(a, b, (s) => s.dp.tun.rxPackets),
          encapsulated: delta(a, b, (s) => s.dp.engine.packetsOut),
          udpSendErrors: delta(a, b, (s) => s.dp.udp.sendErrors),
          peerSocketDrops: delta(a, b, (s) => s.dropsPeer),
          generatorErrors: tx.errors,
          rejectedByPeer: rx.badSpi + rx.badFormat + rx.badIcv + rx.badTrailer,
          reorderedAtPeer: rx.reordered,
        }
      : {
          ourSocketDrops: delta(a, b, (s) => s.dropsOurs),
          decapsulated: delta(a, b, (s) => s.dp.engine.packetsIn),
          writtenToTun: delta(a, b, (s) => s.tun.rxPackets),
          tunWriteErrors: delta(a, b, (s) => s.dp.tun.txErrors),
          engineDrops: Object.fromEntries(
            Object.entries(b.dp.engine)
              .filter(([k]) => !/^(packets|bytes)(In|Out)$/.test(k))
              .map(([k, v]) => [k, v - (a.dp.engine[k] ?? 0)])
              .filter(([, v]) => v !== 0),
          ),
          innerSinkSocketDrops: delta(a, b, (s) => s.dropsInnerSink),
          generatorErrors: tx.errors,
        },
    // offloads in this run: super-packets read from the TUN and their segments (TSO/USO out),
    // GRO super-packets written to the TUN and the packets in them, coalesced datagrams our
    // socket received (UDP GRO) and the ESP packets in them
    offloads: b.dp.dataplane?.offloads
      ? Object.fromEntries(
          [
            'superPackets',
            'segments',
            'groPackets',
            'groSegments',
            'udpGroDatagrams',
            'udpGroSegments',
          ].map((k) => [
            k,
            (b.dp.dataplane.offloads[k] ?? 0) - (a.dp.dataplane?.offloads?.[k] ?? 0),
          ]),
        )
      : null,
    impl: b.dp.impl,
    nativeStatus: b.dp.nativeStatus ?? null,
    rssMB: b.dp.rssMB,
  };
  return r;
}

const ceiling = Object.fromEntries(
  sizes.map((s) => {
    const bps = Number(readText(join(work, 'openssl', String(s))).trim());
    return [s, { bytesPerSecond: bps, gbps: (bps * 8) / 1e9, pps: bps / s }];
  }),
);

const runs = [];
for (const dir of ['out', 'in'])
  for (const s of sizes) {
    if (!existsSync(join(work, 'runs', `${dir}-${s}`))) continue;
    const r = analyse(`${dir}-${s}`);
    r.opensslGbps = ceiling[s].gbps;
    r.fractionOfCeiling = r.gbps / ceiling[s].gbps;
    r.fractionOfCeilingPerCore = r.gbpsPerCore === null ? null : r.gbpsPerCore / ceiling[s].gbps;
    runs.push(r);
  }

const cpuModel = cpus()[0]?.model ?? 'unknown';
const impl = arg('--impl', 'js');
const gso = arg('--gso', '1') === '1';
const offload = arg('--offload', '0') === '1';
const implText = impl === 'threaded' ? `threaded (UDP GSO ${gso ? 'on' : 'off'})` : impl;
// Which offloads were on: ours as the data plane reported them, the peers' as asked.
const lastDp = runs.length
  ? readJson(join(work, 'runs', `${runs[0].dir}-${runs[0].size}`, 'after', 'dataplane.json'))
  : {};
const o = lastDp.dataplane?.offloads;
const tunBits = o ? ['csum', 'tso4', 'tso6', 'uso4', 'uso6'].filter((k) => o[k]) : [];
const offloadText =
  `offloads: TUN ${tunBits.length ? tunBits.join('+') : 'none (plain device)'}, ` +
  `UDP GRO on our socket ${o?.udpGro ? 'on' : 'off'}; peers ${offload ? 'with UDP GSO (generator into the TUN route, ESP source) and UDP GRO (ESP sink, inner counter), as real senders and receivers use them' : 'one datagram per send and receive (--no-offload)'}`;
const nativeStatus = runs[0]?.nativeStatus ?? 'unknown';
console.log(
  `bench-engine: ESP AES-256-GCM, implementation ${implText} (--impl ${arg('--impl-asked', 'auto')}; native path: ${nativeStatus}), node ${process.version}, ${cpuModel}, ${cpus().length} cores, kernel ${release()}`,
);
console.log(
  `data path pinned to one core: ${arg('--pinned') === '1' ? 'yes (CPU 1; generators and peer on CPU 0)' : 'no'}; ` +
    `${runs[0]?.seconds ?? '?'} s per run, generator ${runs[0]?.rateLimit ? `at ${runs[0].rateLimit} pps` : 'unlimited'}; ` +
    'sizes are inner IPv4 packets; Gbit/s counts inner bytes',
);
console.log(offloadText);
console.log(
  "CPU = our process (utime+stime, all its threads) per second of the run; core = its core's busy time per " +
    'second, with kernel work not charged to us (pinned runs only); sys = kernel share of our CPU; µs/pkt and s/GB are our process per delivered packet/GB',
);
const cols = [
  ['dir', 4, (r) => r.dir],
  ['size', 5, (r) => String(r.size)],
  ['offered kpps', 13, (r) => (r.generatedPps / 1e3).toFixed(1)],
  ['delivered kpps', 15, (r) => (r.pps / 1e3).toFixed(1)],
  ['Gbit/s', 8, (r) => r.gbps.toFixed(3)],
  ['loss', 7, (r) => `${(r.loss * 100).toFixed(1)}%`],
  ['CPU', 6, (r) => `${Math.round(r.cpuUtilisation * 100)}%`],
  ['core', 6, (r) => (r.coreBusy === null ? '-' : `${Math.round(r.coreBusy * 100)}%`)],
  ['sys', 5, (r) => (r.cpuSystemShare === null ? '-' : `${Math.round(r.cpuSystemShare * 100)}%`)],
  ['µs/pkt', 8, (r) => (r.cpuUsPerPacket === null ? '-' : r.cpuUsPerPacket.toFixed(2))],
  ['CPU s/GB', 9, (r) => (r.cpuSecPerGB === null ? '-' : r.cpuSecPerGB.toFixed(1))],
  ['openssl Gbit/s', 15, (r) => r.opensslGbps.toFixed(2)],
  ['of ceiling', 11, (r) => `${(r.fractionOfCeiling * 100).toFixed(1)}%`],
];
console.log(cols.map(([h, w], i) => (i < 1 ? h.padEnd(w) : h.padStart(w))).join(' '));
for (const r of runs)
  console.log(cols.map(([, w, f], i) => (i < 1 ? f(r).padEnd(w) : f(r).padStart(w))).join(' '));
console.log('where the offered packets that were not delivered went:');
for (const r of runs) {
  const d = r.detail;
  const parts =
    r.dir === 'out'
      ? [
          `TUN queue full (we read too slowly) ${d.tunQueueDrops}`,
          `read by us ${d.tunReadByUs}`,
          `encapsulated ${d.encapsulated}`,
          `UDP send errors ${d.udpSendErrors}`,
          `peer socket full ${d.peerSocketDrops}`,
          `rejected by peer ${d.rejectedByPeer}`,
        ]
      : [
          `our socket full (we received too slowly) ${d.ourSocketDrops}`,
          `decapsulated ${d.decapsulated}`,
          `written to TUN ${d.writtenToTun} (the device's count: a GRO super-packet is one)`,
          `TUN write errors ${d.tunWriteErrors}`,
          `engine drops ${JSON.stringify(d.engineDrops)}`,
          `inner sink socket full ${d.innerSinkSocketDrops}`,
        ];
  const of = r.offloads;
  if (of && r.dir === 'out' && of.superPackets > 0)
    parts.push(
      `TSO/USO super-packets read ${of.superPackets} (${(of.segments / of.superPackets).toFixed(1)} segments each)`,
    );
  if (of && r.dir === 'in' && of.udpGroDatagrams > 0)
    parts.push(
      `UDP GRO datagrams ${of.udpGroDatagrams} (${(of.udpGroSegments / of.udpGroDatagrams).toFixed(1)} ESP each)`,
    );
  if (of && r.dir === 'in' && of.groPackets > 0)
    parts.push(
      `GRO super-packets written ${of.groPackets} (${(of.groSegments / of.groPackets).toFixed(1)} packets each)`,
    );
  console.log(`  ${r.dir} ${String(r.size).padStart(4)}: ${parts.join(', ')}`);
}

for (const r of runs) {
  if (r.loss > 0.01 && r.cpuUtilisation < 0.9) {
    console.log(
      `note: ${r.dir} ${r.size}: packets were lost while our process used only ${Math.round(r.cpuUtilisation * 100)}% of a core: ` +
        `something else ran on its core (or it waited); at its cost per packet a full core would carry ` +
        `${(r.ppsPerCore / 1e3).toFixed(1)} kpps, ${r.gbpsPerCore.toFixed(3)} Gbit/s (${(r.fractionOfCeilingPerCore * 100).toFixed(1)}% of the ceiling)`,
    );
  }
}

if (jsonOut) {
  const result = {
    date: new Date().toISOString(),
    benchmark: 'engine',
    cipher: 'aes-256-gcm (ESP transform 20, 16-byte ICV)',
    impl,
    implAsked: arg('--impl-asked', 'auto'),
    ...(impl === 'threaded' ? { gso } : {}),
    offload,
    offloads: offloadText,
    nativeStatus,
    node: process.version,
    cpu: cpuModel,
    cores: cpus().length,
    kernel: release(),
    pinned,
    ceiling: Object.fromEntries(
      Object.entries(ceiling).map(([s, c]) => [
        s,
        { tool: `openssl speed -evp aes-256-gcm -bytes ${s} -seconds 1`, ...c },
      ]),
    ),
    runs,
  };
  writeFileSync(jsonOut, JSON.stringify(result, null, 2) + '\n');
  console.log(`results written to ${jsonOut}`);
}
