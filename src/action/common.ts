/**
 * Shared by the action's main and post: where the bundled client is, how it is run, and how its
 * output reaches the job log without letting gateway-supplied text become a workflow command.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childEnv } from './files.js';

/** The repository root: the first folder above this file holding action.yml. */
export function actionRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'action.yml'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('action.yml not found above the action bundle');
    dir = up;
  }
}

/** The bundled `vpn` command (scripts/build-action.mjs). */
export function vpnBundle(root = actionRoot()): string {
  return join(root, 'action', 'dist', 'cli', 'vpn.mjs');
}

/** The client's runtime directory (journal, control socket, log) inside our private directory. */
export function runtimeDirOf(dir: string): string {
  return join(dir, 'run');
}

/**
 * A line of the client's output for the job log: control characters escaped, and prefixed so a
 * line can never start with "::" (a workflow command, which text quoting the gateway must not be).
 */
export function logLine(s: string): string {
  return `[vpn] ${s.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}`;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * Runs the bundled client with `args` (never a secret: those are in files), with the scrubbed
 * environment, at most `ms` (then SIGTERM, SIGKILL 5 s later, both by PID). `onLine` sees each
 * stdout line as it comes.
 */
export function runVpn(
  args: string[],
  dir: string,
  ms: number,
  onLine?: (line: string) => void,
): Promise<RunResult> {
  const root = actionRoot();
  const child = spawn(process.execPath, [vpnBundle(root), ...args], {
    env: childEnv({ VPN_RUNTIME_DIR: runtimeDirOf(dir) }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let buf = '';
  let timedOut = false;
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (d: string) => {
    if (stdout.length < 1 << 20) stdout += d;
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      onLine?.(line);
    }
  });
  child.stderr.on('data', (d: string) => {
    if (stderr.length < 1 << 20) stderr += d;
  });
  return new Promise((resolve) => {
    let kill: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    }, ms);
    child.on('error', (e) => {
      stderr += `${e.message}\n`;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (kill) clearTimeout(kill);
      if (buf !== '') onLine?.(buf);
      resolve({ code: code ?? (signal ? 128 + 15 : 1), stdout, stderr, timedOut });
    });
  });
}

/** Single-quotes `s` for a POSIX shell script. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Set in the environment of main/post when they run again as root through sudo. */
export const ELEVATED = 'IKEV2_VPN_ACTION_ELEVATED';

/** What sudo keeps for the root copy: the runner's files and settings, never an input. */
const KEEP_ENV = [
  'GITHUB_OUTPUT',
  'GITHUB_STATE',
  'GITHUB_ENV',
  'GITHUB_PATH',
  'RUNNER_TEMP',
  'GITHUB_ACTIONS',
  'CI',
  'VPN_DNS_BACKEND',
  ELEVATED,
];

/**
 * GitHub's hosted runners run steps as an unprivileged user with passwordless sudo: modes tun
 * and exec (TUN device, routes, namespaces) then run main/post again as root with
 * `sudo -n --preserve-env=...` (`--preserve-env` with a list is allowed where the sudoers rule
 * is ALL, which implies SETENV). main's inputs go over stdin (a pipe), never in sudo's argv or
 * environment. `keep`: extra variables (post's STATE_*).
 */
export function sudoArgs(script: string, keep: string[] = []): string[] {
  return ['-n', `--preserve-env=${[...KEEP_ENV, ...keep].join(',')}`, process.execPath, script];
}

/** Runs `script` as root through sudo, stdout and stderr passed on; resolves with its code. */
export function runElevated(
  script: string,
  keep: string[],
  stdin: string | undefined,
): Promise<{ code: number; started: boolean; stderr: string }> {
  let child: ChildProcess;
  const env = childEnv({ [ELEVATED]: '1' });
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k];
  try {
    child = spawn('sudo', sudoArgs(script, keep), {
      env,
      stdio: ['pipe', 'inherit', 'pipe'],
    });
  } catch (e) {
    return Promise.resolve({ code: 8, started: false, stderr: (e as Error).message });
  }
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    if (stderr.length < 65536) stderr += d;
    process.stderr.write(d);
  });
  child.stdin?.on('error', () => undefined);
  child.stdin?.end(stdin ?? '');
  return new Promise((resolve) => {
    let failed: string | undefined;
    child.on('error', (e) => (failed = e.message));
    child.on('close', (code) => {
      if (failed !== undefined) resolve({ code: 8, started: false, stderr: failed });
      else resolve({ code: code ?? 1, started: true, stderr });
    });
  });
}
