/**
 * Helpers for the interop tests: a strongSwan test bed (scripts/testbed) per test file, the `vpn`
 * command run inside the client namespace, and snapshots of the client namespace's network state.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = join(ROOT, 'bin/vpn.js');
export const TB = join(ROOT, 'scripts/testbed');
export const GW = '198.51.100.10';
export const LAN_HOST = '203.0.113.10';

/** Where the test bed's tools live (a non-login root shell may lack the sbin folders). */
const TOOL_PATH = [
  ...(process.env['PATH'] ?? '').split(':'),
  '/usr/local/sbin',
  '/usr/local/bin',
  '/usr/sbin',
  '/usr/bin',
  '/sbin',
  '/bin',
].filter((d) => d !== '');

/** The tools of `tools` that are not installed, as a skip reason; undefined when all are. */
export function missingTools(...tools: string[]): string | undefined {
  const missing = tools.filter((t) => !TOOL_PATH.some((d) => existsSync(join(d, t))));
  if (missing.length === 0) return undefined;
  return `${missing.join(', ')} not installed (bash scripts/testbed/install-deps.sh)`;
}

/**
 * Why interop tests cannot run here, or undefined when they can. `tools`: what a test file needs
 * beyond the test bed itself (conntrack, iperf3, nft ...), so a missing one is a skip with its
 * name, not a test that fails obscurely or waits forever.
 */
export function skipReason(...tools: string[]): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, TUN)';
  if (!existsSync('/usr/lib/ipsec/charon'))
    return 'strongSwan not installed (bash scripts/testbed/install-deps.sh)';
  if (!existsSync(join(ROOT, 'build/Release/tun.node'))) return 'TUN addon not built';
  // What scripts/testbed/up.sh, down.sh and every test use.
  return missingTools('ip', 'iptables', 'swanctl', 'ping', ...tools);
}

export class Bed {
  readonly prefix: string;
  readonly dir: string;
  readonly cli: string;
  readonly psk: string;

  constructor(tag: string) {
    this.prefix = `v${tag}${process.pid % 1000}`.slice(0, 8);
    this.cli = `${this.prefix}-cli`;
    this.dir = mkdtempSync(join(tmpdir(), 'vpn-interop-'));
    this.psk = join(this.dir, 'psk');
  }

  up(env: Record<string, string> = {}): void {
    const r = spawnSync('bash', [join(TB, 'up.sh'), '--prefix', this.prefix], {
      encoding: 'utf8',
      env: { ...process.env, ...env },
      timeout: 120000,
      killSignal: 'SIGKILL',
    });
    if (r.status !== 0) throw new Error(`testbed up failed: ${r.stdout}${r.stderr}`);
    writeFileSync(this.psk, readFileSync(`/tmp/${this.prefix}/psk`));
    chmodSync(this.psk, 0o600);
  }

  /** Every client process a test started, ended by PID at teardown even if the test failed. */
  private readonly procs: ChildProcess[] = [];

  down(): void {
    for (const p of this.procs) if (running(p)) p.kill('SIGKILL');
    // --background tunnels are not our children: stop them through their control socket.
    for (const name of this.backgroundNames) this.vpn(['disconnect', '--name', name], 15000);
    const opts = { timeout: 60000, killSignal: 'SIGKILL' as const };
    spawnSync('bash', [join(TB, 'sw-client.sh'), '--prefix', this.prefix, 'stop'], opts);
    spawnSync('bash', [join(TB, 'down.sh'), '--prefix', this.prefix], opts);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Makes `proc` one of the processes stopAll() and down() end. */
  track<T extends ChildProcess>(proc: T): T {
    this.procs.push(proc);
    return proc;
  }

  /** A --background tunnel name, disconnected at down() if a test left it running. */
  private readonly backgroundNames = new Set<string>();
  background(name: string): void {
    this.backgroundNames.add(name);
  }

  /**
   * Ends a process a test started: SIGTERM (a `vpn connect` then restores the host, so a failed
   * test does not leave its routes to the next one), SIGKILL if it is still there after `ms`.
   */
  async stop(proc: ChildProcess, ms = 10000): Promise<void> {
    if (!running(proc)) return;
    proc.kill('SIGTERM');
    if ((await waitExit(proc, ms)) === null && running(proc)) {
      proc.kill('SIGKILL');
      await waitExit(proc, 5000);
    }
  }

  /** Ends every process still running; for afterEach, so one failing test cannot leak into the next. */
  async stopAll(): Promise<void> {
    await Promise.all(this.procs.map((p) => this.stop(p)));
    this.procs.length = 0;
  }

  /** Spawns `args` in a namespace of the bed, tracked (ended by stopAll/down). */
  spawnIn(ns: string, args: string[], stdio: 'pipe' | 'ignore' = 'pipe'): ChildProcess {
    return this.track(
      spawn('ip', ['netns', 'exec', ns, ...args], {
        env: this.env(),
        stdio: ['ignore', stdio, stdio],
      }),
    );
  }

  env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      VPN_RUNTIME_DIR: join(this.dir, 'run'),
      VPN_DNS_BACKEND: 'file',
      VPN_PSK: '',
      CI: 'true',
    };
  }

  /** Runs a command in a namespace (default: the client's). */
  exec(
    args: string[],
    ns = this.cli,
    timeout = 30000,
  ): { code: number | null; out: string; err: string } {
    const r = spawnSync('ip', ['netns', 'exec', ns, ...args], {
      encoding: 'utf8',
      env: this.env(),
      timeout,
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  }

  ns(role: 'cli' | 'nat' | 'gw' | 'lan'): string {
    return `${this.prefix}-${role}`;
  }

  vpn(args: string[], timeout = 30000): { code: number | null; out: string; err: string } {
    return this.exec([process.execPath, BIN, ...args], this.cli, timeout);
  }

  /** Starts `vpn connect --json` in the client namespace; resolves at the 'up' event or exit. */
  connect(
    args: string[],
    gateway = GW,
  ): Promise<{
    proc: ChildProcess;
    up?: Record<string, unknown>;
    code?: number | null;
    lines: string[];
  }> {
    const proc = spawn(
      'ip',
      ['netns', 'exec', this.cli, process.execPath, BIN, 'connect', gateway, '--json', ...args],
      {
        env: this.env(),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.procs.push(proc);
    const lines: string[] = [];
    let buf = '';
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ proc, lines }), 40000);
      proc.stdout.setEncoding('utf8');
      proc.stderr.setEncoding('utf8');
      proc.stderr.on('data', (d: string) => lines.push(`stderr: ${d}`));
      proc.stdout.on('data', (d: string) => {
        buf += d;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          lines.push(line);
          try {
            const ev = JSON.parse(line) as Record<string, unknown>;
            if (ev['event'] === 'up') {
              clearTimeout(timer);
              resolve({ proc, up: ev, lines });
            }
          } catch {
            // not JSON
          }
        }
      });
      proc.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ proc, code, lines });
      });
    });
  }

  /** Addresses, every routing table and resolv.conf of the client namespace. */
  snapshot(): string {
    const addr = this.exec(['ip', '-j', 'addr', 'show']).out;
    const route = this.exec(['ip', '-j', 'route', 'show', 'table', 'all']).out;
    const route6 = this.exec(['ip', '-6', '-j', 'route', 'show', 'table', 'all']).out;
    const rules = this.exec(['ip', '-j', 'rule', 'show']).out;
    const resolv = readFileSync(`/etc/netns/${this.cli}/resolv.conf`, 'utf8');
    // Routing tables are sets: compare them in a canonical order.
    const sorted = (json: string): string[] =>
      (JSON.parse(json) as unknown[]).map((r) => JSON.stringify(r)).sort();
    return JSON.stringify({
      addr: JSON.parse(addr) as unknown,
      route: sorted(route),
      route6: sorted(route6),
      rules: JSON.parse(rules) as unknown,
      resolv,
    });
  }

  gwSas(): string {
    const r = spawnSync('bash', [join(TB, 'gw.sh'), '--prefix', this.prefix, '--list-sas'], {
      encoding: 'utf8',
      timeout: 30000,
    });
    return r.stdout;
  }
}

function running(p: ChildProcess): boolean {
  return p.exitCode === null && p.signalCode === null;
}

/**
 * Resolves at the first output of `proc` on stdout (a server saying it listens); rejects if it
 * exits first or says nothing within `ms`, instead of waiting forever.
 */
export function firstOutput(proc: ChildProcess, what: string, ms = 15000): Promise<void> {
  return new Promise((resolve, reject) => {
    let err = '';
    proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const t = setTimeout(() => reject(new Error(`${what}: no output in ${ms} ms ${err}`)), ms);
    proc.stdout?.once('data', () => {
      clearTimeout(t);
      resolve();
    });
    proc.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`${what} exited (${code}) before it was ready: ${err}`));
    });
  });
}

export function waitExit(proc: ChildProcess, ms = 15000): Promise<number | null> {
  if (proc.exitCode !== null) return Promise.resolve(proc.exitCode);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(null), ms);
    proc.on('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Sends `bytes` random bytes over TCP from the client namespace to the LAN host (through the
 * tunnel) with test/interop/fixtures/tcp-sha.mjs; returns both SHA-256 sums and the duration.
 */
export async function tcpTransfer(
  bed: Bed,
  bytes: number,
  port = 5201,
): Promise<{ sent: string; received: string; secs: number; output: string }> {
  const fixture = join(ROOT, 'test/interop/fixtures/tcp-sha.mjs');
  const server = bed.spawnIn(bed.ns('lan'), [process.execPath, fixture, 'server', String(port)]);
  let xfer: { code: number | null; out: string; err: string };
  let secs: number;
  try {
    await firstOutput(server, 'tcp-sha server');
    const t0 = performance.now();
    xfer = bed.exec(
      [process.execPath, fixture, 'client', LAN_HOST, String(port), String(bytes)],
      bed.cli,
      60000,
    );
    secs = (performance.now() - t0) / 1000;
    await waitExit(server);
  } finally {
    await bed.stop(server);
  }
  const [sent = '', received = ''] = xfer.out.trim().split(' ');
  return { sent, received, secs, output: xfer.out + xfer.err };
}

/**
 * Streams TCP to the LAN host for `secs` seconds; resolves with both checksums (`port`: the
 * LAN server's, distinct per test file). Both ends are
 * tracked by the bed and ended here whatever happens (a server that never starts is an error,
 * not a wait forever).
 */
export async function tcpStream(
  bed: Bed,
  secs: number,
  port: number,
): Promise<{ sent: string; received: string; err: string }> {
  const fixture = join(ROOT, 'test/interop/fixtures/tcp-sha.mjs');
  const server = bed.spawnIn(bed.ns('lan'), [process.execPath, fixture, 'server', String(port)]);
  try {
    await firstOutput(server, 'tcp-sha server');
    const client = bed.spawnIn(bed.cli, [
      process.execPath,
      fixture,
      'stream',
      LAN_HOST,
      String(port),
      String(secs),
    ]);
    try {
      let out = '';
      let err = '';
      client.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      client.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      await waitExit(client, (secs + 30) * 1000);
      await waitExit(server, 5000);
      const [sent = '', received = ''] = out.trim().split(' ');
      return { sent, received, err };
    } finally {
      await bed.stop(client);
    }
  } finally {
    await bed.stop(server);
  }
}
