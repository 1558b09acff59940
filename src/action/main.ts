/**
 * The GitHub Action's main step (action.yml `runs.main`, bundled to action/dist/main.mjs):
 * checks the inputs, writes the secrets to 0600 files in a private directory, brings the tunnel
 * up with the bundled client (`vpn connect --background --json`, or `--socks5` in mode proxy),
 * waits until every `ping` host answers through it, and sets the outputs. It returns only when
 * the tunnel carries traffic; otherwise the step fails with the client's exit code and one line.
 * Whatever happens, post (post.ts) disconnects and removes the directory.
 */
import * as core from '@actions/core';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, chmodSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { socksConnect } from './socks.js';
import { ciExcludeFlags } from './ci-hosts.js';
import { INPUT_NAMES, InputError, SECRET_INPUTS, parseInputs } from './inputs.js';
import type { ActionConfig, FileInput } from './inputs.js';
import { makePrivateDir, inputVar, scrubOwnEnviron, writePrivateFile, childEnv } from './files.js';
import {
  ELEVATED,
  actionRoot,
  logLine,
  runElevated,
  runVpn,
  runtimeDirOf,
  shQuote,
  vpnBundle,
} from './common.js';

/** Exit codes of the client (README "Exit codes") the action uses for its own failures. */
const EXIT_USAGE = 2;
const EXIT_UNREACHABLE = 3;
const EXIT_PRIVILEGE = 8;

class StepError extends Error {
  readonly code: number;
  constructor(message: string, code: number) {
    super(message);
    this.code = code;
  }
}

/** One line, bounded: the reason of a failed step. */
function oneLine(s: string): string {
  const l = s.replace(/\s*\n\s*/g, '; ').trim();
  return l.length > 400 ? `${l.slice(0, 400)}...` : l;
}

function fileFlag(dir: string, name: string, f: FileInput): string {
  return f.kind === 'path' ? f.path : writePrivateFile(dir, name, f.data);
}

/** The client's flags for the credentials: secrets only as files of mode 600 in `dir`. */
function credentialFlags(cfg: ActionConfig, dir: string): string[] {
  const out: string[] = [];
  if (cfg.psk !== undefined) out.push('--psk-file', writePrivateFile(dir, 'psk', cfg.psk));
  if (cfg.eapPassword !== undefined) {
    out.push('--eap-password-file', writePrivateFile(dir, 'eap-password', cfg.eapPassword));
  }
  if (cfg.p12Password !== undefined) {
    out.push('--p12-password-file', writePrivateFile(dir, 'p12-password', cfg.p12Password));
  }
  if (cfg.cert) out.push('--cert', fileFlag(dir, 'cert.pem', cfg.cert));
  if (cfg.key) out.push('--key', fileFlag(dir, 'key.pem', cfg.key));
  if (cfg.p12) out.push('--p12', fileFlag(dir, 'cred.p12', cfg.p12));
  if (cfg.ca) out.push('--ca', fileFlag(dir, 'ca.pem', cfg.ca));
  return out;
}

/**
 * `vpn` (and in mode exec `vpn-exec COMMAND...`) on the PATH of the job's later steps, bound to
 * our runtime directory; removed by post with the rest of the directory.
 */
function writeWrappers(cfg: ActionConfig, dir: string, flags: string[]): void {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { mode: 0o755 });
  const node = shQuote(process.execPath);
  const vpn = shQuote(vpnBundle());
  // Steps run as the runner's user: the wrappers become root the way main did (sudo -n).
  const head =
    '#!/bin/sh\n' +
    (cfg.mode === 'proxy' ? '' : '[ "$(id -u)" = 0 ] || exec sudo -n "$0" "$@"\n') +
    `VPN_RUNTIME_DIR=${shQuote(runtimeDirOf(dir))}; export VPN_RUNTIME_DIR\n`;
  writePrivateFile(bin, 'vpn', `${head}exec ${node} ${vpn} "$@"\n`);
  chmodSync(join(bin, 'vpn'), 0o755);
  if (cfg.mode === 'exec') {
    const args = ['exec', cfg.gateway, ...flags].map(shQuote).join(' ');
    writePrivateFile(bin, 'vpn-exec', `${head}exec ${node} ${vpn} ${args} -- "$@"\n`);
    chmodSync(join(bin, 'vpn-exec'), 0o755);
  }
  core.addPath(bin);
}

/**
 * The TUN addon: found by the client's own loader at <root>/build/Release (or the prebuilt
 * binaries the package ships); when neither is there, built once with the repository's
 * `npm run build:addon` (node-gyp, needs make and a compiler).
 */
function ensureAddon(root: string): void {
  if (existsSync(join(root, 'build', 'Release', 'tun.node'))) return;
  if (existsSync(join(root, 'prebuilds'))) return;
  core.info('ikev2-vpn: no prebuilt TUN addon here; building it (npm run build:addon)');
  const r = spawnSync('npm', ['run', 'build:addon'], {
    cwd: root,
    env: childEnv({}),
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 300000,
  });
  if (r.status !== 0 || !existsSync(join(root, 'build', 'Release', 'tun.node'))) {
    throw new StepError(
      'the TUN addon is not available and could not be built (install make and g++, or use mode: proxy)',
      EXIT_PRIVILEGE,
    );
  }
}

interface UpSummary {
  device?: string;
  virtualIp4?: string;
  virtualIp6?: string;
  dns?: string[];
  routes?: string[];
}

/** A JSON value from the client's output as text. */
function str(v: unknown): string {
  return typeof v === 'string' ? v : (JSON.stringify(v) ?? '');
}

/** `vpn connect --background --json`: resolves with the summary, or throws the client's code. */
async function connect(
  cfg: ActionConfig,
  dir: string,
  name: string,
  flags: string[],
): Promise<{ summary: UpSummary; pid?: number }> {
  let up: { summary: UpSummary; pid?: number } | undefined;
  let error: { message: string; code?: number } | undefined;
  const r = await runVpn(
    ['connect', cfg.gateway, '--background', '--json', '--name', name, ...flags],
    dir,
    (cfg.timeout + 30) * 1000,
    (line) => {
      let ev: Record<string, unknown>;
      try {
        ev = JSON.parse(line) as Record<string, unknown>;
      } catch {
        if (line.trim() !== '') core.info(logLine(line));
        return;
      }
      if (ev['event'] === 'up' && typeof ev['summary'] === 'object' && ev['summary'] !== null) {
        up = { summary: ev['summary'] };
        if (typeof ev['pid'] === 'number') up.pid = ev['pid'];
        core.info(logLine(`up: ${JSON.stringify(ev['summary'])}`));
      } else if (ev['event'] === 'error' || typeof ev['error'] === 'string') {
        error = { message: str(ev['error'] ?? ev['message'] ?? 'failed') };
        if (typeof ev['exitCode'] === 'number') error.code = ev['exitCode'];
      } else if (ev['event'] === 'stage') {
        core.info(logLine(`${str(ev['stage'])}${ev['detail'] ? ` ${str(ev['detail'])}` : ''}`));
      } else if (ev['event'] === 'warning' || ev['event'] === 'info') {
        core.info(logLine(str(ev['message'])));
      }
    },
  );
  for (const l of r.stderr.split('\n')) if (l.trim() !== '') core.info(logLine(l));
  if (r.code === 0 && up) return up;
  if (r.timedOut) {
    throw new StepError(`no tunnel within ${cfg.timeout + 30} s`, EXIT_UNREACHABLE);
  }
  const err: { message: string; code?: number } | undefined = error;
  throw new StepError(
    `vpn connect failed (exit ${r.code}): ${err?.message ?? (r.stderr.trim().split('\n').pop() || 'no reason given')}`,
    r.code !== 0 ? r.code : (err?.code ?? 1),
  );
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The address `host` resolves to now (after the tunnel's DNS is in place). */
async function addressOf(host: string): Promise<string> {
  if (isIP(host) !== 0) return host;
  try {
    return (await lookup(host)).address;
  } catch (e) {
    throw new StepError(`ping: cannot resolve ${host}: ${(e as Error).message}`, EXIT_UNREACHABLE);
  }
}

/**
 * Mode tun: every `ping` host must be routed into the tunnel's device and answer an ICMP echo
 * before `deadline` (one try a second).
 */
async function pingThroughTunnel(hosts: string[], device: string, deadline: number): Promise<void> {
  for (const host of hosts) {
    const ip = await addressOf(host);
    const route = spawnSync('ip', ['-j', 'route', 'get', ip], { encoding: 'utf8', timeout: 10000 });
    let dev: string | undefined;
    try {
      dev = (JSON.parse(route.stdout) as { dev?: string }[])[0]?.dev;
    } catch {
      dev = undefined;
    }
    if (dev !== device) {
      throw new StepError(
        `ping: ${host} (${ip}) is not routed through the tunnel (${device}) but via ${dev ?? 'nothing'}; add it to remote-networks`,
        EXIT_USAGE,
      );
    }
    for (;;) {
      const r = spawnSync('ping', [ip.includes(':') ? '-6' : '-4', '-n', '-c1', '-W1', ip], {
        encoding: 'utf8',
        timeout: 5000,
      });
      if (r.status === 0) {
        core.info(`ikev2-vpn: ${host} answers through the tunnel`);
        break;
      }
      if (Date.now() > deadline) {
        throw new StepError(`ping: no answer from ${host} through the tunnel`, EXIT_UNREACHABLE);
      }
      await sleep(1000);
    }
  }
}

async function checkThroughProxy(cfg: ActionConfig, deadline: number): Promise<void> {
  for (const target of cfg.ping) {
    for (;;) {
      if (await socksConnect(cfg.socks5, target, 5000)) {
        core.info(`ikev2-vpn: ${target} accepts a connection through the proxy`);
        break;
      }
      if (Date.now() > deadline) {
        throw new StepError(`ping: ${target} does not answer through the proxy`, EXIT_UNREACHABLE);
      }
      await sleep(1000);
    }
  }
}

/**
 * Mode exec: the tunnel lives only as long as each `vpn-exec` command. Main checks the
 * credentials and the `ping` hosts with one `vpn exec` (namespace, tunnel, pings, teardown).
 */
async function checkExec(cfg: ActionConfig, dir: string, flags: string[]): Promise<void> {
  const script =
    'n=$1; shift; for h in "$@"; do i=0; until ping -n -c1 -W1 "$h" >/dev/null 2>&1; do ' +
    'i=$((i+1)); if [ $i -ge $n ]; then echo "no answer from $h through the tunnel" >&2; exit 3; fi; ' +
    'sleep 1; done; echo "$h answers through the tunnel"; done';
  const r = await runVpn(
    [
      'exec',
      cfg.gateway,
      ...flags,
      '--',
      'sh',
      '-c',
      script,
      'sh',
      String(cfg.timeout),
      ...cfg.ping,
    ],
    dir,
    (2 * cfg.timeout + 30) * 1000,
  );
  for (const l of `${r.stdout}${r.stderr}`.split('\n')) if (l.trim() !== '') core.info(logLine(l));
  if (r.code !== 0) {
    const last = r.stderr.trim().split('\n').pop() ?? '';
    throw new StepError(`vpn exec failed (exit ${r.code}): ${last || 'no reason given'}`, r.code);
  }
}

/** Largest input set accepted on stdin by the root copy of main. */
const MAX_STDIN = 4 << 20;

/** The inputs: from the environment (as the runner passes them), or from stdin under sudo. */
function readInputs(elevated: boolean): Map<string, string> {
  const values = new Map<string, string>();
  if (elevated) {
    const raw = readFileSync(0);
    if (raw.length > MAX_STDIN) throw new Error('inputs on stdin: too large');
    const obj = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    for (const n of INPUT_NAMES) {
      const v = obj[n];
      values.set(n, typeof v === 'string' ? v : '');
    }
    return values;
  }
  for (const n of INPUT_NAMES) values.set(n, process.env[inputVar(n)] ?? '');
  // Wipe the secret ones from our own /proc/<pid>/environ (the runner passes inputs in the
  // environment) before any child process exists.
  scrubOwnEnviron(SECRET_INPUTS.map(inputVar));
  for (const n of SECRET_INPUTS) {
    const v = values.get(n)!.trim();
    if (v === '') continue;
    core.setSecret(v);
    // A multi-line secret (PEM key) is masked line by line too: the log is read line by line.
    if (v.includes('\n')) {
      for (const l of new Set(v.split('\n').map((x) => x.trim()))) {
        if (l.length >= 8 && !l.startsWith('-----')) core.setSecret(l);
      }
    }
  }
  return values;
}

function fail(e: unknown): void {
  const code = e instanceof InputError ? EXIT_USAGE : e instanceof StepError ? e.code : 1;
  const what = e instanceof InputError ? `input ${e.message}` : (e as Error).message;
  core.setFailed(oneLine(what));
  process.exitCode = code;
}

export async function run(): Promise<void> {
  const elevated = process.env[ELEVATED] === '1';
  let values: Map<string, string>;
  let cfg: ActionConfig;
  try {
    values = readInputs(elevated);
    cfg = parseInputs((n) => values.get(n) ?? '');
  } catch (e) {
    fail(e);
    return;
  }
  if (!elevated && cfg.mode !== 'proxy' && process.getuid?.() !== 0) {
    // Modes tun and exec need root: run this step again through sudo, the inputs on stdin.
    core.info('ikev2-vpn: not root: running the step as root with sudo -n');
    const r = await runElevated(
      fileURLToPath(import.meta.url),
      [],
      JSON.stringify(Object.fromEntries(values)),
    );
    if (!r.started || (r.code === 1 && /sudo:/.test(r.stderr))) {
      fail(
        new StepError(
          `mode ${cfg.mode} needs root: run the job as root or with passwordless sudo, or use mode: proxy (${oneLine(r.stderr).slice(0, 120)})`,
          EXIT_PRIVILEGE,
        ),
      );
      return;
    }
    process.exitCode = r.code;
    return;
  }
  let dir: string | undefined;
  try {
    dir = makePrivateDir(process.env, elevated);
    // Saved first: post cleans up even if this step is cancelled half-way.
    core.saveState('dir', dir);
    core.saveState('mode', cfg.mode);
    // The runtime directory is ours alone, so the name is too: later steps' `vpn status` and
    // `vpn disconnect` (the wrapper on PATH) find the tunnel without --name.
    const name = 'default';
    core.saveState('name', name);
    mkdirSync(runtimeDirOf(dir), { mode: 0o700 });
    const flags = [...cfg.flags, ...credentialFlags(cfg, dir)];
    writeWrappers(cfg, dir, flags);
    const root = actionRoot();
    if (cfg.mode !== 'proxy') ensureAddon(root);
    const deadline = (): number => Date.now() + cfg.timeout * 1000;

    if (cfg.mode === 'exec') {
      await checkExec(cfg, dir, flags);
      core.setOutput(
        'status-json',
        JSON.stringify({ mode: 'exec', gateway: cfg.gateway, ok: true }),
      );
      core.info('ikev2-vpn: ready: run commands through the tunnel with vpn-exec COMMAND...');
      return;
    }
    // The runner's own service stays outside the tunnel, however wide its routes (tun mode).
    const exclude =
      cfg.mode === 'tun'
        ? await ciExcludeFlags(
            process.env,
            async (h) => (await lookup(h, { all: true })).map((a) => a.address),
            (m) => core.info(`ikev2-vpn: ${m}`),
          )
        : [];
    const up = await connect(cfg, dir, name, [...flags, ...exclude]);
    if (up.pid !== undefined) core.saveState('pid', String(up.pid));
    if (cfg.mode === 'proxy') await checkThroughProxy(cfg, deadline());
    else if (cfg.ping.length > 0) {
      if (!up.summary.device) throw new StepError('the client reported no TUN device', 1);
      await pingThroughTunnel(cfg.ping, up.summary.device, deadline());
    }
    const s = up.summary;
    core.setOutput('virtual-ip', [s.virtualIp4, s.virtualIp6].filter((x) => x).join(','));
    core.setOutput('dns', (s.dns ?? []).join(','));
    core.setOutput('routes', (s.routes ?? []).join(','));
    if (cfg.mode === 'proxy') core.setOutput('socks5', cfg.socks5);
    const st = await runVpn(['status', '--json', '--name', name], dir, 30000);
    core.setOutput(
      'status-json',
      st.code === 0 ? st.stdout.trim() : JSON.stringify({ summary: s }),
    );
    core.info(`ikev2-vpn: tunnel ${name} up (${s.virtualIp4 || s.virtualIp6 || 'no virtual IP'})`);
  } catch (e) {
    fail(e);
  }
}

await run();
