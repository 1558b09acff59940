/**
 * Helpers for the TUN tests: a private network namespace per test, commands run inside it, and
 * child Node processes (test/tun/fixtures/*.mjs) that open the TUN device inside it — a TUN
 * device belongs to the namespace of the process that creates it.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultRunner } from '../../src/tun/netcfg.js';
import type { CommandRunner } from '../../src/tun/netcfg.js';

/** The compiled tree this test runs from (dist/ or dist-<name>/). */
export const DIST = fileURLToPath(new URL('../../', import.meta.url));
/** The package root (holds build/Release/tun.node and test/tun/fixtures/). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const ADDON = join(ROOT, 'build/Release/tun.node');
export const LINUX_JS = join(DIST, 'src/tun/linux.js');
export const NETCFG_JS = join(DIST, 'src/tun/netcfg.js');

/** Why the namespace tests cannot run here (printed as the skip message), or undefined. */
export function nsSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, TUN devices)';
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun on this machine';
  if (!existsSync(ADDON)) return `TUN addon not built (${ADDON}): run "npm run build:addon"`;
  if (spawnSync('ip', ['-V']).status !== 0) return 'iproute2 (ip) not installed';
  return undefined;
}

/** Runs `ip ...` on the host side and throws with its stderr when it fails. */
export function ip(...args: string[]): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** A network namespace of our own, deleted (with /etc/netns/<name>) by `close()`. */
export class Netns {
  readonly name = `vpntest-${randomBytes(4).toString('hex')}`;
  readonly etc = `/etc/netns/${this.name}`;
  private readonly children: ChildProcessWithoutNullStreams[] = [];

  constructor() {
    ip('netns', 'add', this.name);
    ip('-n', this.name, 'link', 'set', 'lo', 'up');
  }

  /** `ip -n <ns> ...` */
  ip(...args: string[]): string {
    return ip('-n', this.name, ...args);
  }

  /** `ip -n <ns> -j ...`, parsed. */
  json(...args: string[]): unknown {
    return JSON.parse(this.ip('-j', ...args)) as unknown;
  }

  /** Runs a command inside the namespace (`ip netns exec`), synchronously. */
  exec(cmd: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
    return spawnSync('ip', ['netns', 'exec', this.name, cmd, ...args], {
      encoding: 'utf8',
      timeout: 20000,
    });
  }

  /** A `CommandRunner` that runs every command inside the namespace. */
  runner(): CommandRunner {
    return (cmd, args, input) =>
      defaultRunner('ip', ['netns', 'exec', this.name, cmd, ...args], input);
  }

  /** Starts `node test/tun/fixtures/<fixture> ...args` inside the namespace. */
  spawnFixture(fixture: string, args: string[]): Fixture {
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        this.name,
        process.execPath,
        join(ROOT, 'test/tun/fixtures', fixture),
        ...args,
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.children.push(child);
    return new Fixture(child);
  }

  close(): void {
    for (const c of this.children) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
    spawnSync('ip', ['netns', 'del', this.name]);
    rmSync(this.etc, { recursive: true, force: true });
  }
}

/** A fixture process that reports JSON lines on stdout. */
export class Fixture {
  readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: unknown[] = [];
  private readonly waiters: (() => void)[] = [];
  private stderr = '';
  private buf = '';

  constructor(child: ChildProcessWithoutNullStreams) {
    this.child = child;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => (this.stderr += d));
    child.stdout.on('data', (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        try {
          this.lines.push(JSON.parse(line));
        } catch {
          this.lines.push({ text: line });
        }
      }
      for (const w of this.waiters.splice(0)) w();
    });
    child.on('exit', () => {
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** The first reported object with `event === name` (waits up to `ms`). */
  async next(name: string, ms = 10000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.lines.find(
        (l) => typeof l === 'object' && l !== null && (l as { event?: unknown }).event === name,
      );
      if (hit) return hit as Record<string, unknown>;
      if (this.child.exitCode !== null || this.child.signalCode !== null || Date.now() > deadline) {
        throw new Error(
          `fixture gave no "${name}" (exit ${String(this.child.exitCode)}): ${this.stderr}`,
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(10, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Sends one command line to the fixture's stdin. */
  send(cmd: string): void {
    this.child.stdin.write(cmd + '\n');
  }

  /** Resolves when the process has exited. */
  exited(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => this.child.once('exit', () => resolve()));
  }
}
