/**
 * `vpn exec <gateway> [connect options] -- COMMAND...`: COMMAND runs in a private network
 * namespace in which the tunnel is the only network (src/client/netns.ts); the caller's routes,
 * addresses and resolv.conf never change. The exit status is COMMAND's (128 + n when signal n
 * killed it); the tunnel ends with it, and the namespace is removed on every exit path.
 */
import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { checkGatewayNaming } from '../client/auth.js';
import { ExecNamespace, hasSysAdmin } from '../client/netns.js';
import { UserNamespace, userNamespaceSupport } from '../client/userns.js';
import { Tunnel } from '../client/tunnel.js';
import type { TunnelOptions } from '../client/tunnel.js';
import { ensureRuntimeDir, runtimeDir } from '../config/load.js';
import { VpnError } from '../core/errors.js';
import { gatherSecrets } from './credentials.js';
import { resolveConnect } from './profile-commands.js';
import type { ProfileSecrets } from './profile-commands.js';
import type { AuthFlags, Secrets } from './credentials.js';
import { EXIT, exitCodeFor, exitCodeForSignal } from './exit-codes.js';
import { withHint } from './hints.js';
import { Ui } from './ui.js';

export type ExecFlags = AuthFlags & { remoteId?: string; verbose?: boolean };

/** main.ts's builder of the tunnel options from the connect flags. */
export type OptionsBuilder = (
  gateway: string,
  flags: ExecFlags,
  secrets: Secrets,
  ui: Ui,
) => TunnelOptions;

/**
 * `connect` options that make no sense for exec (it runs in the foreground, in its own
 * namespace) or that it does not support yet (profiles: a gateway is named on the command line).
 */
const NOT_FOR_EXEC = new Set([
  '--profile',
  '--background',
  '--daemon-child',
  '--json',
  '--kill-switch',
  '--exclude',
  '--name',
  '--socks5',
  '--http-proxy',
]);

/** Registers `vpn exec` with the options of `connect` (minus NOT_FOR_EXEC). */
export function registerExec(
  program: Command,
  connect: Command,
  setExit: (code: number) => void,
  build: OptionsBuilder,
): void {
  const cmd = program
    .command('exec')
    .description(
      'run a command in a private network namespace where the tunnel is the only network (root, or unprivileged user namespaces)',
    )
    .argument('<gateway>', 'gateway host name or IP address, or a profile name (see vpn profiles)')
    .argument('<command...>', 'the command and its arguments, after --');
  for (const o of connect.options) {
    if (!NOT_FOR_EXEC.has(o.long ?? '')) cmd.addOption(o);
  }
  cmd.action(async (target: string, command: string[], flags: ExecFlags) => {
    // A profile name reads its settings as `vpn connect NAME` does (flags typed here win).
    const r = resolveConnect(target, flags, cmd);
    if (!r.ok) return setExit(r.code);
    setExit(await execCommand(r.gateway, command, forExec(r.flags), build, r.secrets));
  });
}

/**
 * The profile's settings that `vpn exec` does not take (NOT_FOR_EXEC) are left out: exec runs in
 * the foreground, in its own namespace (a profile may well say `background = true`).
 */
function forExec(flags: ExecFlags): ExecFlags {
  const skip = new Set(['background', 'json', 'killSwitch', 'name', 'socks5', 'httpProxy']);
  return Object.fromEntries(
    Object.entries(flags).filter(([k]) => !skip.has(k)),
  ) as unknown as ExecFlags;
}

/** Secrets never reach the command's environment. */
const SECRET_ENV = ['VPN_PSK', 'VPN_EAP_PASSWORD', 'VPN_KEY_PASSPHRASE', 'VPN_P12_PASSWORD'];

function childEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !SECRET_ENV.includes(k)));
}

/** The exit status of a finished process, as a shell reports it. */
function statusOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const n = signal ? constants.signals[signal] : undefined;
  return n !== undefined ? 128 + n : EXIT.INTERNAL;
}

export async function execCommand(
  gateway: string,
  command: string[],
  flags: ExecFlags,
  build: OptionsBuilder,
  fromProfile: ProfileSecrets = {},
): Promise<number> {
  const ui = await Ui.create('plain', flags.verbose === true);
  // As root: a named network namespace (netns.ts). Otherwise a user namespace of our own that
  // holds the network and mount namespaces (userns.ts), where the kernel allows it.
  const root = hasSysAdmin();
  if (!root) {
    const userns = userNamespaceSupport();
    if (!userns.ok) {
      const message = `vpn exec needs root (or CAP_SYS_ADMIN and CAP_NET_ADMIN) to create a network namespace, or unprivileged user namespaces: ${userns.reason}`;
      ui.fail(message, EXIT.PRIVILEGE);
      return EXIT.PRIVILEGE;
    }
  }
  let options: TunnelOptions;
  try {
    ensureRuntimeDir();
    checkGatewayNaming(flags.hostCheck ? undefined : false, flags.remoteId);
    const interactive = process.stdin.isTTY && process.stderr.isTTY && process.env['CI'] !== 'true';
    const secrets = await gatherSecrets(flags, interactive, fromProfile);
    options = build(gateway, flags, secrets, ui);
  } catch (e) {
    const code = e instanceof VpnError ? exitCodeFor(e.code) : EXIT.INTERNAL;
    ui.fail((e as Error).message, code);
    return code;
  }

  const ns = root
    ? new ExecNamespace(undefined, ui.logger())
    : new UserNamespace(runtimeDir(), ui.logger());
  let tunnel: Tunnel | undefined;
  let child: ChildProcess | undefined;
  let cancelledBy: NodeJS.Signals | undefined;
  // Ctrl-C / SIGTERM: to the command while it runs (its exit ends the tunnel), else cancel.
  const onSignal = (sig: NodeJS.Signals): void => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill(sig);
      return;
    }
    cancelledBy ??= sig;
    ui.info(`${sig}: cancelling; removing the namespace`);
    void tunnel?.close();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  try {
    for (const n of await ns.create())
      ui.info(
        root
          ? `removed network namespace ${n} left by a vpn exec that was killed`
          : `removed ${n} left by a vpn exec that was killed`,
      );
    if (cancelledBy) return exitCodeForSignal(cancelledBy);
    // No journal: every change is inside the namespace, which goes away with it.
    const rest: TunnelOptions = { ...options };
    delete rest.journalPath;
    const t = new Tunnel({ ...rest, io: { ...options.io, ...ns.io() } });
    tunnel = t;
    let tunnelError: VpnError | undefined;
    t.on((e) => {
      if (e.type === 'down' && e.error) tunnelError = e.error;
      ui.onEvent(e.type === 'down' && e.error ? { ...e, error: withHint(e.error, flags) } : e);
      // The tunnel is gone for good while the command runs: it has no network left; end it.
      if (e.type === 'down' && child && child.exitCode === null && child.signalCode === null)
        child.kill('SIGTERM');
    });
    try {
      await t.connect();
    } catch (e) {
      if (cancelledBy) return exitCodeForSignal(cancelledBy);
      const code = e instanceof VpnError ? exitCodeFor(e.code) : EXIT.INTERNAL;
      return code;
    }
    if (cancelledBy) {
      await t.close();
      return exitCodeForSignal(cancelledBy);
    }
    ui.info(`running ${command[0] ?? ''} in network namespace ${ns.name}`);
    const [bin, args] = ns.commandLine(command);
    const c = spawn(bin, args, {
      stdio: 'inherit',
      env: childEnv(),
    });
    child = c;
    const status = await new Promise<number>((resolve) => {
      c.on('error', (err) => {
        ui.fail(`cannot run ${bin}: ${err.message}`, 127);
        resolve(127);
      });
      c.on('exit', (code, signal) => resolve(statusOf(code, signal)));
    });
    await t.close();
    // The tunnel failed under the command: that failure is the answer, not the command's.
    if (tunnelError && !cancelledBy) return exitCodeFor(tunnelError.code);
    return status;
  } catch (e) {
    const code = e instanceof VpnError ? exitCodeFor(e.code) : EXIT.INTERNAL;
    ui.fail((e as Error).message, code);
    return code;
  } finally {
    await tunnel?.close();
    await ns.remove();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
  }
}
