/**
 * Control socket: `vpn status` and `vpn disconnect` reach a running tunnel through a unix socket
 * in the runtime directory. One JSON request per connection, one JSON response.
 */
import { createServer, createConnection } from 'node:net';
import type { Server } from 'node:net';
import { chmodSync, lstatSync, unlinkSync, existsSync } from 'node:fs';
import { ensurePrivateDir, ensureRuntimeDir, runtimeDir } from '../config/load.js';
import { VpnError } from '../core/errors.js';
import { NetConfigurator, defaultRunner, describeEntry, readJournal } from '../tun/netcfg.js';
import type { CommandRunner, JournalContext } from '../tun/netcfg.js';

export type ControlRequest = { cmd: 'status' } | { cmd: 'disconnect' };
export type ControlResponse = { ok: true; result: unknown } | { ok: false; error: string };

export function controlSocketPath(dir: string, name: string): string {
  return `${dir}/${name}.sock`;
}

export class ControlServer {
  private readonly server: Server;
  private readonly path: string;

  private constructor(server: Server, path: string) {
    this.server = server;
    this.path = path;
  }

  static async listen(
    path: string,
    handler: (req: ControlRequest) => Promise<unknown>,
  ): Promise<ControlServer> {
    // The directory must be ours alone: otherwise someone could replace the socket.
    ensurePrivateDir(path.slice(0, path.lastIndexOf('/')), 'runtime directory');
    if (existsSync(path)) {
      if (!lstatSync(path).isSocket()) {
        throw new VpnError('ERR_CONTROL', `${path} is in the way and is not a control socket`);
      }
      // A live tunnel with this name answers; a stale socket from a killed process does not.
      if (await isAlive(path)) {
        throw new VpnError(
          'ERR_CONTROL',
          `a tunnel is already running (control socket ${path}); use "vpn disconnect" first or --name`,
        );
      }
      unlinkSync(path);
    }
    const server = createServer((sock) => {
      let buf = '';
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => {
        buf += d;
        if (buf.length > 4096) sock.destroy();
        const nl = buf.indexOf('\n');
        if (nl < 0) return;
        let req: ControlRequest;
        try {
          req = JSON.parse(buf.slice(0, nl)) as ControlRequest;
        } catch {
          sock.end(JSON.stringify({ ok: false, error: 'bad request' }) + '\n');
          return;
        }
        handler(req).then(
          (result) => sock.end(JSON.stringify({ ok: true, result }) + '\n'),
          (e: unknown) =>
            sock.end(JSON.stringify({ ok: false, error: (e as Error).message }) + '\n'),
        );
      });
      sock.on('error', () => undefined);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    chmodSync(path, 0o600);
    return new ControlServer(server, path);
  }

  close(): void {
    this.server.close();
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}

async function isAlive(path: string): Promise<boolean> {
  try {
    await request(path, { cmd: 'status' }, 1000);
    return true;
  } catch {
    return false;
  }
}

/** Sends one request to a running tunnel. @throws VpnError ERR_CONTROL when none answers. */
export function request(path: string, req: ControlRequest, timeoutMs = 15000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new VpnError('ERR_CONTROL', `the tunnel at ${path} did not answer`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify(req) + '\n'));
    sock.on('data', (d: string) => (buf += d));
    sock.on('end', () => {
      clearTimeout(timer);
      try {
        const r = JSON.parse(buf) as ControlResponse;
        if (r.ok) resolve(r.result);
        else reject(new VpnError('ERR_CONTROL', r.error));
      } catch {
        reject(new VpnError('ERR_CONTROL', 'bad answer from the tunnel'));
      }
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new VpnError(
          'ERR_CONTROL',
          e.code === 'ENOENT' || e.code === 'ECONNREFUSED'
            ? 'no tunnel is running'
            : `control socket: ${e.message}`,
        ),
      );
    });
  });
}

/** Tunnel names (`--name`): they become file names in the runtime directory. */
export function checkTunnelName(name: string): void {
  if (!/^[A-Za-z0-9_.-]{1,32}$/.test(name) || name === '.' || name === '..') {
    throw new VpnError(
      'ERR_CONFIG',
      `invalid tunnel name ${JSON.stringify(name).slice(0, 40)}: letters, digits, _ . - only`,
    );
  }
}

/** Where the runtime files of tunnel `name` live (see `ensureRuntimeDir`). */
export function tunnelJournalPath(name: string, dir: string = runtimeDir()): string {
  checkTunnelName(name);
  return `${dir}/${name}.journal`;
}

/**
 * The control socket of tunnel `name`, for `status`/`disconnect`: the runtime directory, when it
 * exists, must be ours alone (else the socket could be someone else's).
 * @throws VpnError ERR_CONFIG (bad name) / ERR_PRIVILEGE (directory refused).
 */
export function tunnelSocketPath(name: string, dir: string = runtimeDir()): string {
  checkTunnelName(name);
  if (existsSync(dir)) ensureRuntimeDir(dir);
  return controlSocketPath(dir, name);
}

/** Options of `findLeftovers` / `restoreLeftovers` (tests inject them). */
export interface LeftoverOptions extends JournalContext {
  /** Runtime directory (default `runtimeDir()`). */
  dir?: string;
  run?: CommandRunner;
}

/** Host changes a dead tunnel left behind (its journal, validated). */
export interface Leftovers {
  journal: string;
  /** One line per change, oldest first ("route 0.0.0.0/1 dev vpn0"). */
  changes: string[];
}

/**
 * The host changes tunnel `name` left in place when it died without cleaning up (kill -9, OOM):
 * its journal, read and checked like a replay would (`readJournal`: private directory, file of
 * ours, every entry valid). Undefined when there is none or its process still runs.
 * @throws VpnError ERR_PRIVILEGE / ERR_NETCFG when the directory or the journal is refused.
 */
export function findLeftovers(name: string, opts: LeftoverOptions = {}): Leftovers | undefined {
  const dir = opts.dir ?? runtimeDir();
  const journal = tunnelJournalPath(name, dir);
  if (!existsSync(dir)) return undefined;
  ensureRuntimeDir(dir);
  const j = readJournal(journal, opts);
  if (!j || j.alive || j.entries.length === 0) return undefined;
  return { journal, changes: j.entries.map(describeEntry) };
}

/**
 * Undoes what dead tunnel `name` left in place, through the same checked replay as a new
 * `connect` (`NetConfigurator.recover`). Returns what was restored, or undefined when nothing was
 * left (or its process still runs).
 * @throws VpnError ERR_PRIVILEGE / ERR_NETCFG when the directory or the journal is refused.
 */
export async function restoreLeftovers(
  name: string,
  opts: LeftoverOptions = {},
): Promise<Leftovers | undefined> {
  const left = findLeftovers(name, opts);
  if (!left) return undefined;
  await NetConfigurator.recover(left.journal, opts.run ?? defaultRunner, opts);
  return left;
}
