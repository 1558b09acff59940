/**
 * The `vpn` command: a thin layer over the library (src/client). Only this folder maps errors to
 * exit codes, writes to the terminal and calls process.exit.
 */
import { Command, Option } from 'commander';
import { spawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { VpnError } from '../core/errors.js';
import { Tunnel } from '../client/tunnel.js';
import type { TunnelOptions, TunnelSummary } from '../client/tunnel.js';
import {
  ControlServer,
  controlSocketPath,
  findLeftovers,
  request,
  restoreLeftovers,
  tunnelSocketPath,
} from '../client/control.js';
import { checkGatewayNaming } from '../client/auth.js';
import { ensureRuntimeDir, openPrivateAppend, runtimeDir } from '../config/load.js';
import { gatherSecrets } from './credentials.js';
import type { Secrets } from './credentials.js';
import { addConnectOptions, tunnelOptions } from './connect-options.js';
import type { ConnectFlags } from './connect-options.js';
import { EXIT, exitCodeFor, exitCodeForSignal } from './exit-codes.js';
import { exitAfterFlush } from './flush.js';
import { withHint } from './hints.js';
import { printable, printableJson } from '../core/printable.js';
import { Ui, summaryLines } from './ui.js';
import { SdNotify, statusText } from './sd-notify.js';
import { registerInstallService, serviceRetryForever } from './service-command.js';
import { registerExec } from './exec-command.js';
import { registerDoctor } from './doctor-command.js';
import { registerImport } from './import-command.js';
import { addProfileCommands, resolveConnect, tunnelNameFor } from './profile-commands.js';
import { attachProxy, checkProxyFlags, proxyOptions, proxyStack } from './proxy-mode.js';
import {
  daemonLogPath,
  isEarlyChild,
  redirectToLog,
  takeEarlyChild,
  tunnelNodeFlags,
} from './early-child.js';
import type { ProfileSecrets } from './profile-commands.js';
import type { UiMode } from './ui.js';

function uiMode(json: boolean | undefined): UiMode {
  if (json) return 'json';
  // A terminal of 0 columns (a pty nobody sized, e.g. script(1) without a terminal around it)
  // sent ora into an endless loop of cursor-up/clear-line writes: plain lines there.
  return process.stderr.isTTY && (process.stderr.columns ?? 0) > 0 && process.env['CI'] !== 'true'
    ? 'tty'
    : 'plain';
}

/** Runs the tunnel in this process until it ends; returns the exit code. */
async function runForeground(
  gateway: string,
  flags: ConnectFlags,
  secrets: Secrets,
  ui: Ui,
  hooks: {
    onUp?: (s: TunnelSummary) => void;
    onFail?: (code: number, message: string) => void;
  } = {},
): Promise<number> {
  // Under systemd (Type=notify): READY=1 once up, STATUS= lines; a no-op otherwise.
  const notify = new SdNotify(process.env, (m) => ui.info(`warning: ${m}`));
  const onFail = hooks.onFail;
  hooks = {
    ...hooks,
    onFail: (code, message) => {
      notify.send(`STATUS=${statusText(`failed (exit ${code}): ${message}`)}`);
      onFail?.(code, message);
    },
  };
  // Before the journal is replayed: it belongs to the running tunnel, not to a crashed one.
  const running = await alreadyRunning(flags.name);
  if (running) {
    ui.fail(running.message, EXIT.ALREADY_RUNNING);
    hooks.onFail?.(EXIT.ALREADY_RUNNING, running.message);
    return EXIT.ALREADY_RUNNING;
  }
  const refused = await NetConfiguratorRecovery(flags.name, ui);
  if (refused) {
    hooks.onFail?.(refused.code, refused.message);
    return refused.code;
  }
  let options: TunnelOptions;
  let stack: ReturnType<typeof proxyStack>;
  try {
    options = tunnelOptions(gateway, flags, secrets, ui);
    // --socks5: no TUN device, route or DNS change; ocproxy gets the packets (proxy-mode.ts).
    stack = proxyStack(flags, ui.logger());
    if (stack) options = proxyOptions(options, stack);
  } catch (e) {
    const err = e as VpnError;
    const code = err instanceof VpnError ? exitCodeFor(err.code) : EXIT.INTERNAL;
    ui.fail(err.message, code);
    hooks.onFail?.(code, err.message);
    return code;
  }
  const tunnel = new Tunnel(options);
  tunnel.on((e) => {
    notify.onEvent(e);
    if (e.type === 'up') up = true;
    ui.onEvent(e.type === 'down' && e.error ? { ...e, error: withHint(e.error, flags) } : e);
  });
  /** ocproxy could not be kept running: the tunnel ends with this error. */
  let proxyError: VpnError | undefined;
  const proxy = stack
    ? attachProxy(tunnel, stack, ui, (err) => {
        proxyError ??= err;
        void tunnel.close();
      })
    : undefined;
  const sockPath = controlSocketPath(runtimeDir(), flags.name);
  let control: ControlServer;
  try {
    control = await ControlServer.listen(sockPath, async (req) => {
      // The pid lets a second `vpn connect --name` say which process holds the name.
      if (req.cmd === 'status') return { ...tunnel.status(), pid: process.pid };
      await tunnel.close();
      return { disconnected: true };
    });
  } catch (e) {
    // Another connect with this name won the race since alreadyRunning() looked.
    const err =
      e instanceof VpnError && /already running/.test(e.message)
        ? ((await alreadyRunning(flags.name)) ?? e)
        : e;
    const code = err instanceof VpnError ? exitCodeFor(err.code) : EXIT.INTERNAL;
    ui.fail((err as Error).message, code);
    hooks.onFail?.(code, (err as Error).message);
    return code;
  }
  let userClosed = false;
  /** The signal that stopped us while connecting: the command was cancelled (exit 128 + n). */
  let cancelledBy: NodeJS.Signals | undefined;
  let up = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    userClosed = true;
    if (!up) cancelledBy ??= sig;
    notify.send(`STOPPING=1\nSTATUS=${up ? 'disconnecting' : 'cancelling'} (${sig})`);
    ui.info(up ? `${sig}: disconnecting` : `${sig}: cancelling; restoring host settings`);
    void tunnel.close();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  // A bug must not leave the host half-configured: restore, then exit 1 (the journal covers a
  // crash that even this cannot handle).
  process.once('uncaughtException', (e) => {
    ui.fail(`internal error: please report it: ${e.message}`, EXIT.INTERNAL);
    printStack(e);
    const done = (): void => exitAfterFlush(EXIT.INTERNAL);
    setTimeout(done, 3000).unref();
    tunnel.close().then(done, done);
  });
  const cancelled = (): number => {
    const message = `cancelled (${cancelledBy}); host settings restored`;
    ui.fail(message, exitCodeForSignal(cancelledBy!));
    hooks.onFail?.(exitCodeForSignal(cancelledBy!), message);
    return exitCodeForSignal(cancelledBy!);
  };
  try {
    const summary = await tunnel.connect();
    if (cancelledBy) {
      // The signal came before the IKE session existed: close() could only ask; finish it now.
      await tunnel.close();
      control.close();
      return cancelled();
    }
    if (proxy) {
      try {
        await proxy.started(summary);
      } catch (e) {
        await tunnel.close();
        throw e;
      }
    }
    up = true;
    hooks.onUp?.(summary);
  } catch (e) {
    control.close();
    await stack?.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
    // connect() rejects only after the host is restored (Tunnel.connect's teardown).
    if (cancelledBy) return cancelled();
    const err = e instanceof VpnError ? withHint(e, flags) : (e as Error);
    const code = err instanceof VpnError ? exitCodeFor(err.code) : EXIT.INTERNAL;
    ui.fail(err.message, code);
    hooks.onFail?.(code, err.message);
    return code;
  }
  const err = await tunnel.closed;
  control.close();
  await stack?.stop();
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.off('SIGHUP', onSignal);
  if (proxyError) {
    ui.fail(proxyError.message, exitCodeFor(proxyError.code));
    return exitCodeFor(proxyError.code);
  }
  if (err && !userClosed) {
    ui.fail(withHint(err, flags).message, exitCodeFor(err.code));
    return exitCodeFor(err.code);
  }
  return EXIT.OK;
}

/** A stack trace for a bug report, one escaped line at a time (messages may quote the gateway). */
function printStack(e: unknown): void {
  const stack = e instanceof Error ? (e.stack ?? e.message) : String(e);
  for (const l of stack.split('\n')) process.stderr.write(`${printable(l)}\n`);
}

/**
 * The error for `vpn connect --name X` while a tunnel named X answers on its control socket, or
 * undefined. A stale socket (its process was killed) does not answer and does not count.
 */
async function alreadyRunning(name: string): Promise<VpnError | undefined> {
  let st: unknown;
  try {
    st = await request(tunnelSocketPath(name), { cmd: 'status' }, 1000);
  } catch {
    return undefined;
  }
  const pid = (st as { pid?: unknown } | null)?.pid;
  return new VpnError(
    'ERR_ALREADY_RUNNING',
    `a tunnel named ${name} is already running (pid ${Number.isSafeInteger(pid) ? String(pid) : 'unknown'}); disconnect it first (vpn disconnect${name !== 'default' ? ` --name ${name}` : ''}) or pick another --name`,
  );
}

/**
 * After a crash (kill -9) the journal of host changes is replayed before a new connect — only
 * from a private runtime directory and only when every entry checks out; otherwise the connect
 * fails closed (the error is returned).
 */
async function NetConfiguratorRecovery(
  name: string,
  ui: Ui,
): Promise<{ code: number; message: string } | undefined> {
  try {
    const left = await restoreLeftovers(name, { dir: ensureRuntimeDir() });
    if (left) ui.info(`restored host network settings left by a previous run (${left.journal})`);
    return undefined;
  } catch (e) {
    const code = e instanceof VpnError ? exitCodeFor(e.code) : EXIT.INTERNAL;
    ui.fail((e as Error).message);
    return { code, message: (e as Error).message };
  }
}

async function connectCommand(
  gateway: string,
  flags: ConnectFlags,
  fromProfile: ProfileSecrets = {},
): Promise<number> {
  if (flags.daemonChild) return daemonChild(gateway, flags);
  const ui = await Ui.create(uiMode(flags.json), flags.verbose === true);
  let secrets: Secrets;
  try {
    ensureRuntimeDir(); // before any prompt: a runtime directory planted by others is refused
    checkGatewayNaming(flags.hostCheck ? undefined : false, flags.remoteId);
    await checkProxyFlags(flags); // --socks5 / --http-proxy: before any prompt (exit 2, 18)
    // Refuse before asking for a password that would not be used (exit 17).
    const running = await alreadyRunning(flags.name);
    if (running) throw running;
    // Prompt when a person is at a terminal (even one too narrow for spinners), never for --json.
    const interactive =
      process.stdin.isTTY &&
      process.stderr.isTTY &&
      ui.mode !== 'json' &&
      process.env['CI'] !== 'true';
    secrets = await gatherSecrets(flags, interactive, fromProfile);
  } catch (e) {
    const code = e instanceof VpnError ? exitCodeFor(e.code) : EXIT.INTERNAL;
    ui.fail((e as Error).message, code);
    return code;
  }
  if (!flags.background) return runForeground(gateway, flags, secrets, ui);
  return runBackground(flags, secrets, ui);
}

/** The script the --background child runs; undefined: bin/vpn.js of this package. */
let daemonEntry: string | undefined;

/** For a bundled `vpn` (the GitHub Action's action/dist/cli/vpn.mjs): its child runs the bundle. */
export function setDaemonEntry(path: string): void {
  daemonEntry = path;
}

/**
 * --background: a detached child runs the tunnel; we wait until it carries traffic (exit 0 with
 * the summary) or fails (exit with its code and reason).
 */
async function runBackground(flags: ConnectFlags, secrets: Secrets, ui: Ui): Promise<number> {
  const bin = daemonEntry ?? fileURLToPath(new URL('../../../bin/vpn.js', import.meta.url));
  const args = process.argv.slice(2).filter((a) => a !== '--background');
  const logPath = daemonLogPath(flags.name);
  const logFd = openPrivateAppend(logPath);
  // The tunnel process bin/vpn.js started already (early-child.ts), with these same arguments.
  const early = daemonEntry === undefined ? takeEarlyChild() : undefined;
  const child =
    early ??
    spawn(process.execPath, [...tunnelNodeFlags(), bin, ...args, '--daemon-child'], {
      detached: true,
      stdio: ['ignore', logFd, logFd, 'ipc'],
      env: {
        ...process.env,
        VPN_PSK: '',
        VPN_EAP_PASSWORD: '',
        VPN_KEY_PASSPHRASE: '',
        VPN_P12_PASSWORD: '',
      },
    });
  closeSync(logFd);
  // The child may end (and close the IPC channel) before it reads the secrets or before we
  // disconnect: that is its exit code and message to report, not a crash of ours.
  child.on('error', () => undefined);
  const result = await new Promise<
    { ok: true; summary: TunnelSummary } | { ok: false; code: number; message: string }
  >((resolve) => {
    child.on('message', (m) => resolve(m as { ok: true; summary: TunnelSummary }));
    child.on('exit', (code) =>
      resolve({
        ok: false,
        code: code ?? EXIT.INTERNAL,
        message: `tunnel process exited (${code}); see ${logPath}`,
      }),
    );
    // Secrets travel over the IPC pipe, never on the command line or in the environment.
    child.send({ secrets }, () => undefined);
  });
  if (child.connected) child.disconnect();
  child.unref();
  if (!result.ok) {
    ui.fail(result.message, result.code);
    return result.code;
  }
  if (ui.mode === 'json') ui.json({ event: 'up', pid: child.pid, summary: result.summary });
  else {
    for (const l of summaryLines(result.summary)) process.stderr.write(`${l}\n`);
    process.stderr.write(
      `Running in the background (pid ${child.pid}); stop with: vpn disconnect${flags.name !== 'default' ? ` --name ${flags.name}` : ''}\n`,
    );
  }
  return EXIT.OK;
}

async function daemonChild(gateway: string, flags: ConnectFlags): Promise<number> {
  const ui = await Ui.create('plain', flags.verbose === true);
  const secrets = await new Promise<Secrets | undefined>((resolve) => {
    process.once('message', (m: { secrets: Secrets }) => resolve(m.secrets));
    // The parent went away before it handed over the secrets: nobody to connect for.
    process.once('disconnect', () => resolve(undefined));
  });
  if (secrets === undefined) {
    ui.fail('the vpn connect that started this process went away', EXIT.CANCELLED);
    return EXIT.CANCELLED;
  }
  if (isEarlyChild()) redirectToLog(flags.name); // started by bin/vpn.js, without a log
  return runForeground(gateway, flags, secrets, ui, {
    // The parent may be gone (killed, or its terminal closed): never send on a closed channel.
    onUp: (summary) => {
      if (!process.connected) return;
      process.send?.({ ok: true, summary }, () => undefined);
      process.disconnect?.();
    },
    onFail: (code, message) => {
      if (process.connected) process.send?.({ ok: false, code, message }, () => undefined);
    },
  });
}

async function statusCommand(flags: { json?: boolean; name: string }): Promise<number> {
  try {
    const st = (await request(tunnelSocketPath(flags.name), { cmd: 'status' })) as {
      state: string;
      summary?: TunnelSummary;
      uptimeMs?: number;
      esp: Record<string, number>;
      ike: { retransmits: number };
    };
    if (flags.json) {
      process.stdout.write(printableJson(st) + '\n');
      return EXIT.OK;
    }
    // The answer comes from a socket in a shared directory, and quotes the gateway: escape it.
    process.stdout.write(
      `State:       ${printable(st.state)}${st.uptimeMs ? ` for ${Math.round(st.uptimeMs / 1000)} s` : ''}\n`,
    );
    if (st.summary)
      for (const l of summaryLines(st.summary).slice(1)) process.stdout.write(`${l}\n`);
    const e = st.esp;
    process.stdout.write(
      `${printable(`Traffic:     out ${e['packetsOut'] ?? 0} packets / ${e['bytesOut'] ?? 0} bytes, in ${e['packetsIn'] ?? 0} packets / ${e['bytesIn'] ?? 0} bytes`)}\n`,
    );
    const drops = Object.entries(e).filter(
      ([k, v]) => !/^(packets|bytes)(In|Out)$/.test(k) && v > 0,
    );
    process.stdout.write(
      `Drops:       ${printable(drops.length ? drops.map(([k, v]) => `${k}=${v}`).join(' ') : 'none')}\n`,
    );
    return EXIT.OK;
  } catch (e) {
    const err = e as VpnError;
    const code = err instanceof VpnError ? exitCodeFor(err.code) : EXIT.INTERNAL;
    // A dead tunnel (kill -9) may have left routes and DNS behind: say so.
    let left: ReturnType<typeof findLeftovers>;
    try {
      if (err instanceof VpnError && err.code === 'ERR_CONTROL') left = findLeftovers(flags.name);
    } catch (e2) {
      process.stderr.write(`vpn: ${printable((e2 as Error).message)}\n`);
    }
    if (flags.json)
      process.stdout.write(
        printableJson({
          state: 'down',
          exitCode: code,
          error: err.message,
          ...(left ? { leftovers: left.changes } : {}),
        }) + '\n',
      );
    else if (left)
      process.stderr.write(
        printable(
          `vpn: tunnel ${flags.name} is not running, but its host changes are still in place: ${left.changes.join('; ')}`,
        ) +
          `\nRestore them with: vpn disconnect${flags.name !== 'default' ? ` --name ${flags.name}` : ''}\n`,
      );
    else process.stderr.write(`vpn: ${printable(err.message)}\n`);
    return code;
  }
}

async function disconnectCommand(flags: { name: string; json?: boolean }): Promise<number> {
  try {
    await request(tunnelSocketPath(flags.name), { cmd: 'disconnect' });
    if (flags.json) process.stdout.write(JSON.stringify({ disconnected: true }) + '\n');
    else process.stderr.write('Disconnected; routes and DNS restored.\n');
    return EXIT.OK;
  } catch (e) {
    let err = e as VpnError;
    // Not running: undo what a dead tunnel left behind (checked replay of its journal).
    if (err instanceof VpnError && err.code === 'ERR_CONTROL') {
      try {
        const left = await restoreLeftovers(flags.name);
        if (left) {
          if (flags.json)
            process.stdout.write(
              printableJson({ disconnected: false, restored: left.changes }) + '\n',
            );
          else
            process.stderr.write(
              printable(
                `Tunnel ${flags.name} was not running; restored the host changes it left: ${left.changes.join('; ')}`,
              ) + '\n',
            );
          return EXIT.OK;
        }
      } catch (e2) {
        err = e2 as VpnError;
      }
    }
    const code = err instanceof VpnError ? exitCodeFor(err.code) : EXIT.INTERNAL;
    // With --json every outcome is one JSON line on stdout, failures included.
    if (flags.json)
      process.stdout.write(
        printableJson({ disconnected: false, exitCode: code, error: err.message }) + '\n',
      );
    else process.stderr.write(`vpn: ${printable(err.message)}\n`);
    return code;
  }
}

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command();
  program
    .name('vpn')
    .description('IKEv2/IPsec VPN client with a userspace ESP data path')
    .version('0.1.0')
    .exitOverride()
    // Error messages quote what was typed: escape it, line by line (help text is several lines).
    .configureOutput({
      writeErr: (s) => process.stderr.write(s.split('\n').map(printable).join('\n')),
    });

  const connect = program
    .command('connect')
    .alias('up')
    .description('connect to an IKEv2 gateway and route traffic through a TUN device')
    .argument('[gateway]', 'gateway host name or IP address, or a profile name (see vpn profiles)');
  addConnectOptions(connect)
    .option('--background', 'detach once the tunnel carries traffic')
    .option('--json', 'machine-readable output: one JSON object per line on stdout')
    .option('-v, --verbose', 'log protocol details')
    .addOption(new Option('--daemon-child').hideHelp())
    .action(async (target: string | undefined, flags: ConnectFlags, cmd: Command) => {
      const r = resolveConnect(target, flags, cmd);
      // A service (systemd waits for READY=1) reconnects forever unless the profile or the
      // command line says otherwise (issue 14: tunnels survive a network gone for minutes).
      if (r.ok && serviceRetryForever(process.env, cmd.getOptionValueSource('retry'), r.profile))
        r.flags.retry = 'forever';
      setExit(r.ok ? await connectCommand(r.gateway, r.flags, r.secrets) : r.code);
    });
  registerExec(program, connect, setExit, (g, f, s, u) =>
    tunnelOptions(g, f as ConnectFlags, s, u),
  );
  registerImport(program, setExit);

  program
    .command('status')
    .description('show the running tunnel')
    .option('--json', 'machine-readable output')
    .addOption(new Option('--name <name>', 'tunnel name').default('default'))
    .action(async (flags: { json?: boolean; name: string }) => setExit(await statusCommand(flags)));

  program
    .command('disconnect')
    .alias('down')
    .description('close the running tunnel (DELETE to the gateway, host settings restored)')
    .argument('[profile]', "the profile's tunnel (instead of --name)")
    .option('--json', 'machine-readable output')
    .addOption(new Option('--name <name>', 'tunnel name').default('default'))
    .action(async (profile: string | undefined, flags: { name: string; json?: boolean }) => {
      if (profile !== undefined) {
        try {
          flags.name = tunnelNameFor(profile);
        } catch (e) {
          const error = (e as Error).message;
          if (flags.json)
            process.stdout.write(
              printableJson({ disconnected: false, exitCode: EXIT.USAGE, error }) + '\n',
            );
          process.stderr.write(`vpn: ${printable(error)}\n`);
          return setExit(EXIT.USAGE);
        }
      }
      setExit(await disconnectCommand(flags));
    });
  addProfileCommands(program, connect, setExit);
  registerDoctor(program, setExit);
  registerInstallService(program, setExit);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  let code: number = EXIT.OK;
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync(argv);
  } catch (e) {
    const ce = e as { code?: string; exitCode?: number };
    if (
      ce.code === 'commander.helpDisplayed' ||
      ce.code === 'commander.version' ||
      ce.code === 'commander.help'
    )
      return EXIT.OK;
    const json = argv.includes('--json');
    if (typeof ce.code === 'string' && ce.code.startsWith('commander.')) {
      // commander printed the message on stderr; with --json, stdout still gets its JSON line.
      if (json)
        process.stdout.write(
          printableJson({ event: 'error', exitCode: EXIT.USAGE, error: (e as Error).message }) +
            '\n',
        );
      return EXIT.USAGE;
    }
    process.stderr.write(`vpn: internal error: please report it: ${printable(String(e))}\n`);
    printStack(e);
    if (json)
      process.stdout.write(
        printableJson({ event: 'error', exitCode: EXIT.INTERNAL, error: String(e) }) + '\n',
      );
    return EXIT.INTERNAL;
  }
  return code;
}
