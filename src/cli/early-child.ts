/**
 * `vpn connect --background` starts Node twice: the command and the tunnel process. bin/vpn.js
 * starts the tunnel process (`--daemon-child`) before it loads the CLI, so that the two start-ups
 * overlap (issue 15 item 3, connect time); the command hands it the secrets over IPC once it has
 * checked and gathered them, exactly as it would a process it started itself. Such an early child
 * is started with no output (its log is not known before the CLI is loaded: runtime directory,
 * tunnel name) and VPN_EARLY_CHILD=1; when the secrets arrive it opens the log itself and points
 * its stdout and stderr at it (dup2: Node's own crash output lands there too).
 */
import type { ChildProcess } from 'node:child_process';
import { closeSync, writeSync } from 'node:fs';
import { ensureRuntimeDir, openPrivateAppend } from '../config/load.js';
import { addonCandidates } from '../native/addons.js';
import { tunAddonFunction } from '../tun/rtnl.js';

/** Where bin/vpn.js leaves the early child for runBackground (same realm: globalThis). */
const KEY = Symbol.for('ikev2-vpn.earlyDaemonChild');

/**
 * Node options of a --background tunnel process (bin/vpn.js has the same rule for the one it
 * starts): --lite-mode, ~10 MB less resident memory (docs/performance.md), when the native data
 * plane is there to carry the traffic (the JavaScript ESP path would run interpreted);
 * VPN_NODE_LITE=0 turns it off.
 */
export function tunnelNodeFlags(): string[] {
  if (process.env['VPN_NODE_LITE'] === '0') return [];
  return addonCandidates('esp').length > 0 ? ['--lite-mode'] : [];
}

/** The log of a background tunnel. */
export function daemonLogPath(name: string): string {
  return `${ensureRuntimeDir()}/${name}.log`;
}

/**
 * The tunnel process bin/vpn.js started for this command, if it is still there to be used (not
 * exited, IPC open); taken once. A child that cannot be used is killed.
 */
export function takeEarlyChild(): ChildProcess | undefined {
  const g = globalThis as Record<symbol, unknown>;
  const child = g[KEY] as ChildProcess | undefined;
  g[KEY] = undefined;
  if (!child) return undefined;
  if (child.exitCode !== null || child.signalCode !== null || !child.connected) {
    child.kill();
    return undefined;
  }
  // bin/vpn.js unreferenced it (an early exit of the command must not wait for it): we now do.
  child.ref();
  (child.channel as { ref?: () => void } | null | undefined)?.ref?.();
  return child;
}

/** In the tunnel process: was it started early (and must open its own log)? Asked once. */
export function isEarlyChild(): boolean {
  const early = process.env['VPN_EARLY_CHILD'] === '1';
  delete process.env['VPN_EARLY_CHILD'];
  return early;
}

/**
 * Opens the tunnel's log (the checks of openPrivateAppend) and sends stdout and stderr there:
 * dup2 through the TUN addon, or, without it, by writing every chunk of process.stdout and
 * process.stderr to the log.
 */
export function redirectToLog(name: string): void {
  const fd = openPrivateAppend(daemonLogPath(name));
  const dup = tunAddonFunction('redirectOutput');
  if (dup) {
    dup(fd);
    closeSync(fd);
    return;
  }
  for (const s of [process.stdout, process.stderr]) {
    s.write = (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      if (typeof chunk === 'string') writeSync(fd, chunk);
      else writeSync(fd, chunk);
      const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      cb?.();
      return true;
    };
  }
}
