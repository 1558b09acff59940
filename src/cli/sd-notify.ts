/**
 * systemd's readiness protocol (sd_notify(3)) for `vpn connect` run as a `Type=notify` service
 * (systemd/ikev2-vpn@.service): READY=1 once the tunnel carries traffic, STATUS= lines that follow
 * the tunnel's state, STOPPING=1 when it is being shut down. Without $NOTIFY_SOCKET every call is
 * a no-op. The datagram itself is sent by the esp addon (native/notify.c): Node has no AF_UNIX
 * datagram sockets.
 *
 * $NOTIFY_SOCKET is read once and removed from our environment (as sd_notify's unset_environment
 * does), so the commands we run (ip, resolvectl, a `vpn exec` command) cannot speak for us. It is
 * checked before use: an absolute path or an abstract name ('@...') that fits sockaddr_un; any
 * other value (vsock:..., a relative path, control characters) is ignored with one warning.
 */
import type { TunnelEvent } from '../client/tunnel.js';
import { loadNativeEsp, nativeEspStatus } from '../esp/native.js';

/** What the addon exports for this (native/notify.c). */
interface NotifyAddon {
  notify(path: string, message: Uint8Array): number;
}

/** sun_path holds 108 bytes; a filesystem path also needs its terminating NUL. */
const MAX_SOCKET_PATH = 107;

/** The socket named by `value` (from $NOTIFY_SOCKET), or a reason it is refused. */
export function checkNotifySocket(value: string): { path: string } | { refused: string } {
  if (value.length < 2 || Buffer.byteLength(value) > MAX_SOCKET_PATH)
    return { refused: `its length (${Buffer.byteLength(value)} bytes) does not fit a socket` };
  if (value[0] !== '/' && value[0] !== '@')
    return { refused: 'only absolute paths and abstract names (@...) are supported' };

  if (/[\u0000-\u001f\u007f]/.test(value)) return { refused: 'it holds control characters' };
  return { path: value };
}

/** One STATUS= value: one line, printable, bounded (systemd shows it in `systemctl status`). */
export function statusText(s: string): string {
  const flat = s.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 199)}…` : flat;
}

/** The STATUS= line (and READY=1) for a tunnel event; undefined for events that change nothing. */
export function notifyFor(e: TunnelEvent): string | undefined {
  switch (e.type) {
    case 'stage':
      switch (e.stage) {
        case 'resolving':
          return `STATUS=connecting: resolving ${statusText(e.detail ?? '')}`;
        case 'ike-sa-init':
          return 'STATUS=connecting: IKE_SA_INIT';
        case 'ike-auth':
          return 'STATUS=authenticating';
        case 'main-mode':
          return 'STATUS=connecting: IKEv1 Main Mode';
        case 'aggressive-mode':
          return 'STATUS=connecting: IKEv1 Aggressive Mode';
        case 'quick-mode':
          return 'STATUS=authenticating: IKEv1 XAUTH, Mode Config, Quick Mode';
        case 'configuring':
          return `STATUS=configuring ${statusText(e.detail ?? '')}`;
      }
      return undefined;
    case 'up': {
      const s = e.summary;
      const vip = [s.virtualIp4, s.virtualIp6].filter((v) => v !== undefined).join(', ');
      // READY=1 only here: the CHILD_SA is installed and the routes and DNS are in place.
      return `READY=1\nSTATUS=${statusText(`up ${vip || '(no virtual IP)'} via ${s.gateway} on ${s.device}`)}`;
    }
    case 'rekeyed':
      return `STATUS=${statusText(`up; ${e.what === 'ike' ? 'IKE SA' : 'CHILD_SA'} rekeyed by ${e.by === 'us' ? 'us' : 'the gateway'}`)}`;
    case 'roamed':
      return `STATUS=${statusText(`up; moved to ${e.local} (MOBIKE)`)}`;
    case 'reconnecting':
      return `STATUS=${statusText(`reconnecting (attempt ${e.attempt}${e.inMs > 0 ? ` in ${Math.round(e.inMs / 1000)} s` : ''}): ${e.reason}`)}`;
    case 'redirected':
      return `STATUS=${statusText(`redirected from ${e.from} to ${e.name ?? e.to}: reconnecting`)}`;
    case 'wake':
      return `STATUS=${statusText(`woke after ${Math.round(e.sleptMs / 1000)} s: checking the gateway`)}`;
    case 'down':
      return `STOPPING=1\nSTATUS=${statusText(e.error ? `down: ${e.error.message}` : 'down; routes and DNS restored')}`;
    case 'nat':
    case 'warning':
      return undefined;
  }
}

export class SdNotify {
  private readonly path: string | undefined;
  private readonly warn: (message: string) => void;
  private addon: NotifyAddon | undefined;
  private failed = false;

  /**
   * Reads (and removes) $NOTIFY_SOCKET from `env`. `warn` reports, once, why notifications
   * cannot be sent (then systemd's start timeout ends a Type=notify service: the reason is in
   * the journal).
   */
  constructor(env: NodeJS.ProcessEnv, warn: (message: string) => void, addon?: NotifyAddon) {
    this.warn = warn;
    const value = env['NOTIFY_SOCKET'];
    delete env['NOTIFY_SOCKET'];
    if (value === undefined || value === '') return;
    const checked = checkNotifySocket(value);
    if ('refused' in checked) {
      warn(`ignoring NOTIFY_SOCKET: ${checked.refused}`);
      return;
    }
    this.path = checked.path;
    this.addon = addon;
  }

  /** Whether a supervisor waits for our notifications ($NOTIFY_SOCKET was set and usable). */
  get enabled(): boolean {
    return this.path !== undefined;
  }

  /** Sends `message` (e.g. "READY=1\nSTATUS=up"); never throws. */
  send(message: string): void {
    if (this.path === undefined || this.failed) return;
    try {
      // The esp addon, found as the data path finds it (prebuilds/, then build/Release/).
      this.addon ??= loadNativeEsp() as unknown as NotifyAddon | undefined;
      if (this.addon === undefined) {
        const st = nativeEspStatus();
        throw new Error(st.available ? 'the esp addon did not load' : st.reason);
      }
      if (typeof this.addon.notify !== 'function') throw new Error('the addon has no notify()');
      this.addon.notify(this.path, Buffer.from(message, 'utf8'));
    } catch (e) {
      this.failed = true;
      this.warn(
        `cannot notify systemd (${(e as Error).message}); no more notifications will be sent`,
      );
    }
  }

  /** The notification for a tunnel event, if it has one. */
  onEvent(e: TunnelEvent): void {
    const m = notifyFor(e);
    if (m !== undefined) this.send(m);
  }
}
