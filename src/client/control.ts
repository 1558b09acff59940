/**
 * Control socket: `vpn status` and `vpn disconnect` reach a running tunnel through a unix socket
 * in the runtime directory. One JSON request per connection, one JSON response.
 */
import { createServer, createConnection } from 'node:net';
import type { Server } from 'node:net';
import { chmodSync, mkdirSync, unlinkSync, existsSync } from 'node:fs';
import { VpnError } from '../core/errors.js';

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
    mkdirSync(path.slice(0, path.lastIndexOf('/')), { recursive: true, mode: 0o700 });
    if (existsSync(path)) {
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
