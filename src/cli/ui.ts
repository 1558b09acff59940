/**
 * What a person (or a script) sees. In a terminal: ora spinner stages and a summary. Without a
 * terminal: plain timestamped lines on stderr. With --json: one JSON object per line on stdout.
 */
import type { Ora, Options as OraOptions } from 'ora';
import type { Logger, Subsystem } from '../core/log.js';
import type { TunnelEvent, TunnelSummary } from '../client/tunnel.js';
import { printable, printableJson } from '../core/printable.js';

export type UiMode = 'tty' | 'plain' | 'json';

/** Stands in for ora outside a terminal, where no spinner is ever started. */
const NO_SPINNER = {
  isSpinning: false,
  text: '',
  start() {
    return this;
  },
  stop() {
    return this;
  },
  succeed() {
    return this;
  },
  fail() {
    return this;
  },
};

const STAGE_TEXT: Record<string, string> = {
  resolving: 'Resolving gateway',
  'ike-sa-init': 'IKE_SA_INIT: negotiating keys',
  'ike-auth': 'IKE_AUTH: authenticating',
  configuring: 'Configuring TUN device, routes and DNS',
};

/**
 * Spinners are created with `discardStdin: false`: ora's default puts the terminal in raw mode
 * while it spins and turns Ctrl-C back into SIGINT only if stdin is flowing, which a fresh
 * process.stdin is not, so Ctrl-C while connecting did nothing. The terminal stays cooked: Ctrl-C
 * is the kernel's SIGINT, which cancels the connect (exit 130).
 */
type OraFactory = (options: OraOptions) => Ora;

export class Ui {
  readonly mode: UiMode;
  private spinner: Ora | undefined;
  private readonly verbose: boolean;
  /** The last error shown, so the same failure is not printed twice (event, then exit path). */
  private shownError: string | undefined;
  private readonly ora: OraFactory;

  private constructor(mode: UiMode, verbose: boolean, ora: OraFactory | undefined) {
    this.mode = mode;
    this.verbose = verbose;
    // Only the terminal mode draws spinners.
    this.ora = ora ?? (() => ({ ...NO_SPINNER }) as Ora);
  }

  /**
   * ora (with chalk and its other dependencies) is loaded only for a terminal: it costs about
   * 11 MB of resident memory that a scripted or background tunnel would carry for days.
   */
  static async create(mode: UiMode, verbose: boolean): Promise<Ui> {
    const ora = mode === 'tty' ? (await import('ora')).default : undefined;
    return new Ui(mode, verbose, ora);
  }

  /**
   * Every text this class prints goes through printable() (JSON through printableJson()): event
   * fields and error messages carry gateway-chosen strings (identities, certificate subjects).
   */
  json(obj: Record<string, unknown>): void {
    process.stdout.write(printableJson({ time: new Date().toISOString(), ...obj }) + '\n');
  }

  line(msg: string): void {
    process.stderr.write(`${new Date().toISOString()} ${printable(msg)}\n`);
  }

  /** One line on stderr, escaped, without a timestamp (terminal mode). */
  private say(msg: string): void {
    process.stderr.write(`${printable(msg)}\n`);
  }

  onEvent(e: TunnelEvent): void {
    switch (e.type) {
      case 'stage': {
        const text = printable(
          `${STAGE_TEXT[e.stage] ?? e.stage}${e.detail ? ` (${e.detail})` : ''}`,
        );
        if (this.mode === 'json')
          this.json({ event: 'stage', stage: e.stage, ...(e.detail ? { detail: e.detail } : {}) });
        else if (this.mode === 'plain') this.line(text);
        else if (this.spinner) {
          this.spinner.succeed();
          this.spinner = this.ora({ text, stream: process.stderr, discardStdin: false }).start();
        } else
          this.spinner = this.ora({ text, stream: process.stderr, discardStdin: false }).start();
        break;
      }
      case 'nat': {
        const text = e.natHere
          ? 'NAT detected on our side: using UDP port 4500 and keepalives'
          : e.natThere
            ? 'NAT detected at the gateway: using UDP port 4500'
            : 'no NAT detected; UDP encapsulation on port 4500';
        if (this.mode === 'json')
          this.json({ event: 'nat', natHere: e.natHere, natThere: e.natThere });
        else if (this.mode === 'plain') this.line(text);
        else if (this.spinner) this.spinner.text = printable(`${this.spinner.text} — ${text}`);
        break;
      }
      case 'up':
        this.up(e.summary);
        break;
      case 'reconnecting': {
        const text = `connection lost (${e.reason}); reconnecting in ${(e.inMs / 1000).toFixed(0)} s (attempt ${e.attempt})`;
        if (this.mode === 'json') {
          this.json({ event: 'reconnecting', attempt: e.attempt, inMs: e.inMs, reason: e.reason });
        } else if (this.mode === 'plain') this.line(text);
        else this.say(text);
        break;
      }
      case 'wake': {
        const text = `timers ran ${(e.sleptMs / 1000).toFixed(0)} s late (the host slept or the process was stopped): checking the gateway`;
        if (this.mode === 'json') this.json({ event: 'wake', sleptMs: e.sleptMs });
        else if (this.mode === 'plain') this.line(text);
        else this.say(text);
        break;
      }
      case 'redirected': {
        // RFC 5685: the gateway named where to go; `name` is a checked host name.
        const to = e.name ? `${e.name} (${e.to})` : e.to;
        const text = `the gateway ${e.from} redirected us to ${to} (in ${e.during})`;
        if (this.mode === 'json')
          this.json({
            event: 'redirected',
            from: e.from,
            to: e.to,
            during: e.during,
            ...(e.name ? { name: e.name } : {}),
          });
        else if (this.mode === 'plain') this.line(text);
        else this.say(text);
        break;
      }
      case 'rekeyed': {
        const by = e.by === 'us' ? 'us' : 'the gateway';
        const text = `${e.what === 'ike' ? 'IKE SA' : 'CHILD_SA'} rekeyed by ${by} (${e.proposal})`;
        if (this.mode === 'json')
          this.json({ event: 'rekeyed', what: e.what, by: e.by, proposal: e.proposal });
        else if (this.verbose || this.mode === 'plain') this.line(text);
        break;
      }
      case 'roamed': {
        const text =
          e.by === 'us'
            ? `network changed: tunnel moved to local address ${e.local} (MOBIKE)`
            : `the gateway moved to ${e.remote} (MOBIKE)`;
        if (this.mode === 'json')
          this.json({ event: 'roamed', local: e.local, remote: e.remote, by: e.by });
        else this.line(text);
        break;
      }
      case 'warning':
        if (this.mode === 'json') this.json({ event: 'warning', message: e.message });
        else if (this.mode === 'plain') this.line(`warning: ${e.message}`);
        else if (this.spinner?.isSpinning) {
          this.spinner.clear();
          process.stderr.write(`warning: ${e.message}\n`);
          this.spinner.render();
        } else process.stderr.write(`warning: ${e.message}\n`);
        break;
      case 'down':
        if (this.mode === 'json') {
          this.json({
            event: 'down',
            byPeer: e.byPeer,
            ...(e.error ? { code: e.error.code, error: e.error.message } : {}),
          });
        } else if (e.error) {
          this.fail(e.error.message);
        } else if (this.mode === 'plain') {
          this.line('tunnel down; routes and DNS restored');
        } else if (this.spinner?.isSpinning) {
          this.spinner.stop();
        } else {
          process.stderr.write('Disconnected; routes and DNS restored.\n');
        }
        break;
    }
  }

  private up(s: TunnelSummary): void {
    if (this.mode === 'json') {
      this.json({ event: 'up', summary: s });
      return;
    }
    const lines = summaryLines(s);
    if (this.mode === 'plain') {
      for (const l of lines) this.line(l);
      return;
    }
    this.spinner?.succeed();
    this.spinner = undefined;
    this.ora({ stream: process.stderr, discardStdin: false }).succeed(
      printable(`Connected to ${s.gateway} in ${(s.connectMs / 1000).toFixed(2)} s`),
    );
    for (const l of lines.slice(1)) this.say(`  ${l}`);
    process.stderr.write('  Press Ctrl-C to disconnect.\n');
  }

  /** Shows an error; with --json, `exitCode` (the code the command ends with) goes in its line. */
  fail(message: string, exitCode?: number): void {
    if (this.shownError === message) return;
    this.shownError = message;
    if (this.spinner?.isSpinning) this.spinner.fail(printable(message));
    else if (this.mode === 'json')
      this.json({
        event: 'error',
        error: message,
        ...(exitCode !== undefined ? { exitCode } : {}),
      });
    else if (this.mode === 'plain') this.line(`error: ${message}`);
    else this.say(`vpn: ${message}`);
    this.spinner = undefined;
  }

  info(message: string): void {
    if (this.mode === 'json') this.json({ event: 'info', message });
    else if (this.mode === 'plain') this.line(message);
    else if (this.spinner?.isSpinning) this.spinner.text = printable(message);
    else this.say(message);
  }

  logger(): Logger {
    const write = (
      level: string,
      sub: Subsystem,
      msg: string,
      fields?: Record<string, unknown>,
    ): void => {
      // Errors reach the user through events and exit paths; the log adds detail with -v.
      if (level !== 'error' && !this.verbose) return;
      if (this.mode === 'json') {
        this.json({
          event: 'log',
          level,
          subsystem: sub,
          message: msg,
          ...(fields ? { fields } : {}),
        });
        return;
      }
      const text = printable(`[${sub}] ${msg}${fields ? ' ' + JSON.stringify(fields) : ''}`);
      if (this.spinner?.isSpinning) {
        this.spinner.clear();
        process.stderr.write(text + '\n');
        this.spinner.render();
      } else process.stderr.write(`${new Date().toISOString()} ${level.padEnd(5)} ${text}\n`);
    };
    return {
      debug: (s, m, f) => write('debug', s, m, f),
      info: (s, m, f) => write('info', s, m, f),
      warn: (s, m, f) => write('warn', s, m, f),
      error: (s, m, f) => write('error', s, m, f),
    };
  }
}

export function summaryLines(s: TunnelSummary): string[] {
  const l = [
    `Connected to ${s.gateway} (${s.gatewayAddress}) in ${(s.connectMs / 1000).toFixed(2)} s`,
  ];
  if (s.virtualIp4)
    l.push(
      `Virtual IP:  ${s.virtualIp4}${s.virtualIp6 ? `, ${s.virtualIp6}` : ''} on ${s.device} (MTU ${s.mtu})`,
    );
  else if (s.virtualIp6) l.push(`Virtual IP:  ${s.virtualIp6} on ${s.device} (MTU ${s.mtu})`);
  l.push(
    `DNS:         ${s.dns.length ? s.dns.join(', ') : '(unchanged)'}${s.domains.length ? ` ${s.dnsMethod === 'systemd-resolved' ? 'domains' : 'search'} ${s.domains.join(' ')}` : ''}`,
  );
  if (s.dnsNote) l.push(`             ${s.dnsNote}`);
  l.push(`Routes:      ${s.routes.join(', ')}`);
  const path = { threaded: 'native data plane', native: 'native crypto', js: 'JavaScript' }[
    s.espPath
  ];
  l.push(
    `IKE:         IKEv${s.ikeVersion ?? 2} ${s.ike.ikeProposal}   ESP: ${s.ike.espProposal} (${path})`,
  );
  if (s.ike.keyExchanges)
    l.push(
      `Key exchange: ${s.ike.keyExchanges} (${s.ike.postQuantum ? 'post-quantum protected' : 'not post-quantum: classic only'})`,
    );
  l.push(`Gateway ID:  ${s.ike.remoteId}   our ID: ${s.ike.localId}`);
  if (s.redirectedFrom)
    l.push(`Gateway:     ${s.gatewayAddress} (redirected from ${s.redirectedFrom}, RFC 5685)`);
  if (s.ike.ppk !== undefined)
    l.push(
      `PPK:         ${s.ike.ppk ? 'in use (RFC 8784 post-quantum preshared key)' : 'NOT in use (the gateway did not use it)'}`,
    );
  l.push(
    `NAT:         ${s.ike.natHere ? 'behind NAT (keepalives on)' : 'none on our side'}; UDP encapsulation to port ${s.ike.remote.port}`,
  );
  return l.map(printable);
}
