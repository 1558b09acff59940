/**
 * TUN offloads (issue 15, "It must show" 5): the native data plane with IFF_VNET_HDR and
 * TSO4/TSO6/USO (VPN_TUN_OFFLOAD=1) splits the kernel's TCP super-packets itself
 * (pkt_gso_split, native/packet.c). Against strongSwan behind the NAT (scripts/testbed), the same
 * TCP stream goes from the client namespace to the LAN host with offloads on and forced off, on
 * one test bed: the stream arrives intact both times (sha256), the LAN host's kernel sees packets
 * of the same sizes, none above the tunnel's MTU, and counts no checksum error (it verifies the
 * IPv4 header and TCP checksums our segmentation computed). Skipped (with the reason) when not
 * root, when a tool is missing or when the native addon is not built.
 */
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Bed, ROOT, skipReason, sleep, tcpTransfer, waitExit } from './support.js';

const nativeBuilt = existsSync(join(ROOT, 'build/Release/esp.node'));
const skip =
  skipReason('tcpdump') ??
  (nativeBuilt ? undefined : 'the native addon is not built (npm run build:addon)');
const ID = ['--id', 'client@test', '--remote-id', '@gw.test'];
const BYTES = 20 << 20;
const PORT = 5301;

interface Offloads {
  csum: boolean;
  tso4: boolean;
  tso6: boolean;
  superPackets: number;
  segments: number;
  drops: number;
}

/** The LAN host's IP and TCP error counters (/proc/net/snmp of its namespace). */
function snmpErrors(bed: Bed): Record<string, number> {
  const text = bed.exec(['cat', '/proc/net/snmp'], bed.ns('lan')).out;
  const out: Record<string, number> = {};
  const lines = text.split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const names = lines[i]!.split(/\s+/);
    const vals = lines[i + 1]!.split(/\s+/);
    const proto = names[0];
    if (proto !== 'Ip:' && proto !== 'Tcp:') continue;
    names.forEach((n, k) => {
      if (/Csum|HdrErrors|InErrs/.test(n)) out[proto + n] = Number(vals[k]);
    });
  }
  return out;
}

/** tcpdump on the LAN host: the IP total length of every packet to PORT. */
class Capture {
  private readonly proc: ChildProcess;
  private buf = '';
  readonly lengths: number[] = [];
  constructor(bed: Bed) {
    this.proc = bed.spawnIn(bed.ns('lan'), [
      'tcpdump',
      '-i',
      'any',
      '-nn',
      '-v',
      '-l',
      '-s',
      '96',
      `tcp dst port ${PORT}`,
    ]);
    this.proc.stdout!.setEncoding('utf8');
    this.proc.stdout!.on('data', (d: string) => {
      this.buf += d;
      let nl;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        // "IP (tos 0x0, ttl 63, id 1, offset 0, flags [DF], proto TCP (6), length 1400)"
        const m = /proto TCP \(6\), length (\d+)\)/.exec(line);
        if (m) this.lengths.push(Number(m[1]));
      }
    });
  }
  /** tcpdump says "listening on any ..." on stderr once it captures. */
  started(ms = 15000): Promise<void> {
    return new Promise((resolve, reject) => {
      let err = '';
      const t = setTimeout(
        () => reject(new Error(`tcpdump: not listening in ${ms} ms ${err}`)),
        ms,
      );
      this.proc.stderr!.setEncoding('utf8');
      this.proc.stderr!.on('data', (d: string) => {
        err += d;
        if (err.includes('listening on')) {
          clearTimeout(t);
          resolve();
        }
      });
      this.proc.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`tcpdump exited (${code}): ${err}`));
      });
    });
  }
  async stop(bed: Bed): Promise<void> {
    await sleep(300);
    this.proc.kill('SIGINT');
    if ((await waitExit(this.proc, 5000)) === null) await bed.stop(this.proc);
  }
}

describe('interop: TUN offloads (TSO split in the data plane) against strongSwan', { skip }, () => {
  const bed = new Bed('offl');
  before(() => bed.up());
  after(() => bed.down());
  afterEach(async () => {
    delete process.env['VPN_TUN_OFFLOAD'];
    await bed.stopAll();
  });

  /** One run: connect (offloads on or off), 20 MiB to the LAN host, what arrived and how. */
  async function run(offload: boolean): Promise<{
    mtu: number;
    lengths: number[];
    offloads: Offloads | undefined;
    errors: [Record<string, number>, Record<string, number>];
  }> {
    if (offload) process.env['VPN_TUN_OFFLOAD'] = '1';
    else delete process.env['VPN_TUN_OFFLOAD'];
    const name = offload ? 'offon' : 'offoff';
    const r = await bed.connect([...ID, '--psk-file', bed.psk, '--name', name]);
    assert.ok(r.up, `no "up" event:\n${r.lines.join('\n')}`);
    const summary = (r.up as { summary: { device: string; espPath: string } }).summary;
    assert.equal(summary.espPath, 'threaded');
    const link = JSON.parse(bed.exec(['ip', '-j', 'link', 'show', 'dev', summary.device]).out) as {
      mtu: number;
    }[];
    const mtu = link[0]!.mtu;
    const before = snmpErrors(bed);
    const cap = new Capture(bed);
    let xfer;
    try {
      await cap.started();
      xfer = await tcpTransfer(bed, BYTES, PORT);
    } finally {
      await cap.stop(bed);
    }
    assert.ok(xfer.sent.length === 64, xfer.output);
    assert.equal(xfer.received, xfer.sent, `sha256 of 20 MiB (offloads ${offload ? 'on' : 'off'})`);
    console.log(
      `# offloads ${offload ? 'on ' : 'off'}: 20 MiB in ${xfer.secs.toFixed(2)} s, ` +
        `${cap.lengths.length} packets seen on the LAN`,
    );
    const st = bed.vpn(['status', '--json', '--name', name]);
    assert.equal(st.code, 0, st.err);
    const status = JSON.parse(st.out) as { dataplane?: { offloads?: Offloads } };
    const d = bed.vpn(['disconnect', '--name', name]);
    assert.equal(d.code, 0, d.err);
    assert.equal(await waitExit(r.proc), 0);
    return {
      mtu,
      lengths: cap.lengths,
      offloads: status.dataplane?.offloads,
      errors: [before, snmpErrors(bed)],
    };
  }

  test('20 MiB TCP: the same bytes, packet sizes and no checksum error with offloads on and off', async () => {
    const off = await run(false);
    const on = await run(true);

    // Off: a plain device, nothing in status.
    assert.equal(off.offloads, undefined);
    // On: the kernel handed us super-packets and we split them, refusing none.
    assert.ok(on.offloads, 'dataplane.offloads in vpn status --json');
    assert.ok(
      on.offloads.csum && on.offloads.tso4 && on.offloads.tso6,
      JSON.stringify(on.offloads),
    );
    assert.ok(on.offloads.superPackets > 0, JSON.stringify(on.offloads));
    assert.ok(on.offloads.segments > on.offloads.superPackets, JSON.stringify(on.offloads));
    assert.equal(on.offloads.drops, 0);
    console.log(
      `# ${(on.offloads.segments / on.offloads.superPackets).toFixed(1)} segments per ` +
        `super-packet (${on.offloads.superPackets} super-packets)`,
    );

    for (const [what, r] of [
      ['off', off],
      ['on', on],
    ] as const) {
      assert.ok(r.lengths.length > 1000, `${what}: tcpdump saw ${r.lengths.length} packets`);
      const largest = Math.max(...r.lengths);
      assert.ok(largest <= r.mtu, `${what}: a ${largest}-byte packet above the MTU ${r.mtu}`);
      // The LAN host's kernel verified every IPv4 header and TCP checksum.
      assert.deepEqual(r.errors[1], r.errors[0], `${what}: checksum or header errors on the LAN`);
    }
    // Segmented by the kernel (off) or by us (on): full-sized packets of the same size.
    assert.equal(Math.max(...on.lengths), Math.max(...off.lengths));
  });
});
