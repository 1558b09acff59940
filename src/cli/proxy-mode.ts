/**
 * `vpn connect --socks5 [ADDR:]PORT`: proxy mode (src/client/proxy.ts) for the CLI. The checks
 * run before any secret is asked for; the tunnel options lose everything that touches the host
 * (the journal, the kill switch) and gain the packet pair; ocproxy starts when the tunnel is up.
 */
import { VpnError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import {
  OcproxyStack,
  checkListenFree,
  findOcproxy,
  ocproxyMissing,
  parseListen,
} from '../client/proxy.js';
import type { Tunnel, TunnelOptions, TunnelSummary } from '../client/tunnel.js';
import type { Ui } from './ui.js';

export interface ProxyFlags {
  socks5?: string;
  httpProxy?: string;
  killSwitch?: boolean;
  exclude?: string[];
  keepalive?: number;
}

/**
 * Refuses what proxy mode cannot do, before anything else happens: an HTTP proxy (ocproxy
 * serves SOCKS5 only), the kill switch (it changes routes, and proxy mode changes none), a bad
 * listening address, a missing ocproxy (exit 18), a port that is taken.
 * @throws VpnError
 */
export async function checkProxyFlags(flags: ProxyFlags): Promise<void> {
  if (flags.httpProxy !== undefined) {
    throw new VpnError(
      'ERR_CONFIG',
      '--http-proxy is not available: ocproxy, the TCP/IP stack of proxy mode, serves SOCKS5 only. Use --socks5 and point HTTP clients at it (curl --socks5-hostname HOST:PORT, or https_proxy=socks5h://HOST:PORT)',
    );
  }
  if (flags.socks5 === undefined) return;
  const listen = parseListen(flags.socks5);
  if (flags.killSwitch) {
    throw new VpnError(
      'ERR_CONFIG',
      '--kill-switch does not apply to --socks5: proxy mode changes no route (only what goes through the proxy uses the tunnel)',
    );
  }
  if (flags.exclude?.length) {
    throw new VpnError(
      'ERR_CONFIG',
      '--exclude does not apply to --socks5: proxy mode changes no route (only what goes through the proxy uses the tunnel)',
    );
  }
  if (findOcproxy() === undefined) throw ocproxyMissing();
  await checkListenFree(listen);
}

/** The stack for `flags.socks5` (checked by checkProxyFlags), or undefined without it. */
export function proxyStack(flags: ProxyFlags, log: Logger): OcproxyStack | undefined {
  if (flags.socks5 === undefined) return undefined;
  const binary = findOcproxy();
  if (binary === undefined) throw ocproxyMissing();
  return new OcproxyStack({ listen: parseListen(flags.socks5), binary, logger: log });
}

/** The tunnel options for proxy mode: the packet pair; no journal, nothing on the host. */
export function proxyOptions(options: TunnelOptions, stack: OcproxyStack): TunnelOptions {
  const rest: TunnelOptions = { ...options, io: { ...options.io, ...stack.io() } };
  delete rest.journalPath;
  delete rest.killSwitch;
  return rest;
}

function asVpnError(e: unknown): VpnError {
  return e instanceof VpnError ? e : new VpnError('ERR_NETCFG', String(e));
}

/**
 * Wires the stack to the tunnel: ocproxy (re)started at each 'up' after the first (the caller
 * awaits `start` for the first one), the tunnel closed if ocproxy cannot be kept running.
 */
export function attachProxy(
  tunnel: Tunnel,
  stack: OcproxyStack,
  ui: Ui,
  fail: (err: VpnError) => void,
): { started: (s: TunnelSummary) => Promise<void> } {
  let first = true;
  stack.onFatal(fail);
  const l = stack.listen;
  stack.onEvent((e) => {
    if (e.type === 'restarting') ui.info(`ocproxy stopped (${e.reason}); starting it again`);
    else if (ui.mode === 'json')
      ui.json({ event: 'proxy', socks5: `${l.host}:${l.port}`, pid: e.pid });
    else
      ui.info(
        `SOCKS5 proxy on ${l.host}:${l.port} (ocproxy pid ${e.pid}); e.g. curl --socks5-hostname ${l.host}:${l.port} http://host.inside/`,
      );
  });
  tunnel.on((e) => {
    if (e.type === 'up' && !first)
      stack.start(e.summary).catch((err: unknown) => fail(asVpnError(err)));
    if (e.type === 'down') void stack.stop();
  });
  return {
    started: async (s) => {
      first = false;
      await stack.start(s);
    },
  };
}
