/**
 * The GitHub Action's inputs (action.yml), checked before anything runs: each value is bounded
 * and must look like what the client accepts, so a typo fails the step with one line naming the
 * input (exit 2), and nothing an input holds can become a second flag on the client's command
 * line. Pure: takes a getter (`core.getInput` in production, a map in tests).
 */
import { isIP } from 'node:net';

export type ActionMode = 'tun' | 'proxy' | 'exec';

/** Every input of action.yml, in its order. */
export const INPUT_NAMES = [
  'gateway',
  'remote-id',
  'id',
  'psk',
  'eap-identity',
  'eap-password',
  'cert',
  'key',
  'p12',
  'p12-password',
  'ca',
  'remote-networks',
  'dns',
  'ike',
  'esp',
  'timeout',
  'retry',
  'args',
  'mode',
  'ping',
] as const;

/** Inputs whose values are secrets: masked, scrubbed from our environment, written to 0600 files. */
export const SECRET_INPUTS = ['psk', 'eap-password', 'p12-password', 'key', 'p12'] as const;

/** A file the action writes for the client: from an input's text, or a path the user gave. */
export type FileInput = { kind: 'path'; path: string } | { kind: 'text'; data: Uint8Array };

export interface ActionConfig {
  gateway: string;
  mode: ActionMode;
  /** Non-secret client flags (identities, proposals, networks, timeouts, `args`). */
  flags: string[];
  psk?: string;
  eapPassword?: string;
  p12Password?: string;
  cert?: FileInput;
  key?: FileInput;
  p12?: FileInput;
  ca?: FileInput;
  /** Hosts that must answer through the tunnel (tun, exec: ICMP; proxy: host:port via SOCKS5). */
  ping: string[];
  /** Seconds: the client's --timeout, and the bound for the ping checks. */
  timeout: number;
  /** SOCKS5 listen address for mode proxy (from `args` --socks5, default 127.0.0.1:1080). */
  socks5: string;
}

export class InputError extends Error {}

const MAX_INPUT = 64 * 1024;
const MAX_LIST = 64;

/** Flags `args` may not carry: the action sets them itself, or they would bypass its checks. */
const RESERVED_FLAGS = new Set([
  '--background',
  '--daemon-child',
  '--json',
  '--name',
  '--psk-file',
  '--eap-password-file',
  '--p12-password-file',
  '--profile',
]);

function printable(s: string): string {
  return JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}...` : s);
}

/** A host name (RFC 1123 labels) or an IP address, never starting with '-'. */
export function isHost(s: string): boolean {
  if (isIP(s) !== 0) return true;
  if (s.length === 0 || s.length > 253) return false;
  return s
    .split('.')
    .every((l) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l) || l === '');
}

function isCidr(s: string): boolean {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m) return false;
  const v = isIP(m[1]!);
  return v !== 0 && Number(m[2]) <= (v === 4 ? 32 : 128);
}

/** Splits a list input on commas, spaces and newlines. */
function list(s: string): string[] {
  return s.split(/[\s,]+/).filter((x) => x !== '');
}

/**
 * Splits `args` like a shell would split words, with '...' and "..." quoting but no expansion
 * (nothing is run through a shell).
 */
export function splitArgs(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let have = false;
  let quote: string | undefined;
  for (const ch of s) {
    if (quote !== undefined) {
      if (ch === quote) quote = undefined;
      else cur += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      have = true;
    } else if (/\s/.test(ch)) {
      if (have) out.push(cur);
      cur = '';
      have = false;
    } else {
      cur += ch;
      have = true;
    }
  }
  if (quote !== undefined) throw new InputError(`args: unterminated ${quote} quote`);
  if (have) out.push(cur);
  return out;
}

/** PEM text, or a path to a file. */
function fileInput(name: string, v: string, binary: boolean): FileInput {
  if (/-----BEGIN [A-Z0-9 ]+-----/.test(v)) {
    return { kind: 'text', data: new TextEncoder().encode(v.endsWith('\n') ? v : `${v}\n`) };
  }
  if (binary && !v.includes('/') && /^[A-Za-z0-9+/=\s]{64,}$/.test(v)) {
    // A PKCS#12 file given as base64 text (a repository secret cannot hold binary).
    return { kind: 'text', data: Buffer.from(v.replace(/\s+/g, ''), 'base64') };
  }
  if (v.includes('\n') || v.includes('\0') || v.startsWith('-')) {
    throw new InputError(
      `${name}: neither ${binary ? 'base64 text' : 'PEM text'} nor a file path (${printable(v.split('\n')[0]!)})`,
    );
  }
  return { kind: 'path', path: v };
}

/** An identity-like value: one line, no control characters, not an option. */
function word(name: string, v: string, max = 255): string {
  if (v.length > max || /[\x00-\x1f\x7f]/.test(v) || v.startsWith('-')) {
    throw new InputError(`${name}: invalid value ${printable(v)}`);
  }
  return v;
}

/**
 * Reads and checks every input. `get` returns '' for an input that is not set (as
 * core.getInput does). Throws InputError with a one-line message.
 */
export function parseInputs(get: (name: string) => string): ActionConfig {
  const input = (name: string): string => {
    const v = get(name);
    if (v.length > MAX_INPUT) throw new InputError(`${name}: longer than ${MAX_INPUT} bytes`);
    return v;
  };
  const gateway = input('gateway').trim();
  if (gateway === '') throw new InputError('gateway: required (host name or IP address)');
  if (!isHost(gateway))
    throw new InputError(`gateway: not a host name or IP ${printable(gateway)}`);

  const modeIn = input('mode').trim() || 'tun';
  if (modeIn !== 'tun' && modeIn !== 'proxy' && modeIn !== 'exec') {
    throw new InputError(`mode: ${printable(modeIn)} is not one of tun, proxy, exec`);
  }
  const mode: ActionMode = modeIn;

  const flags: string[] = [];
  for (const [inp, flag] of [
    ['id', '--id'],
    ['remote-id', '--remote-id'],
    ['eap-identity', '--eap-identity'],
  ] as const) {
    const v = input(inp).trim();
    if (v !== '') flags.push(flag, word(inp, v));
  }
  for (const [inp, flag] of [
    ['ike', '--ike'],
    ['esp', '--esp'],
  ] as const) {
    const v = input(inp).trim();
    if (v === '') continue;
    if (!/^[A-Za-z0-9][A-Za-z0-9,-]{0,511}$/.test(v)) {
      throw new InputError(`${inp}: not a proposal list ${printable(v)}`);
    }
    flags.push(flag, v);
  }
  const nets = list(input('remote-networks'));
  if (nets.length > MAX_LIST) throw new InputError(`remote-networks: more than ${MAX_LIST}`);
  for (const n of nets) {
    if (!isCidr(n)) throw new InputError(`remote-networks: ${printable(n)} is not a CIDR`);
    flags.push('--remote-net', n);
  }
  const dns = input('dns').trim();
  if (dns !== '') {
    if (dns !== 'auto' && dns !== 'off') throw new InputError('dns: auto or off');
    flags.push('--dns', dns);
  }
  const timeoutIn = input('timeout').trim() || '30';
  if (!/^[0-9]{1,4}$/.test(timeoutIn) || Number(timeoutIn) < 1 || Number(timeoutIn) > 3600) {
    throw new InputError(`timeout: seconds from 1 to 3600, not ${printable(timeoutIn)}`);
  }
  const timeout = Number(timeoutIn);
  flags.push('--timeout', String(timeout));
  const retry = input('retry').trim();
  if (retry !== '') {
    if (!/^([0-9]{1,4}|forever)$/.test(retry)) {
      throw new InputError(`retry: a count or "forever", not ${printable(retry)}`);
    }
    flags.push('--retry', retry);
  }

  const extra = splitArgs(input('args'));
  let socks5 = '127.0.0.1:1080';
  for (let i = 0; i < extra.length; i++) {
    const a = extra[i]!;
    const flag = a.split('=')[0]!;
    if (RESERVED_FLAGS.has(flag)) {
      throw new InputError(`args: ${flag} is set by the action (use its inputs instead)`);
    }
    if (/[\x00-\x1f\x7f]/.test(a)) throw new InputError('args: control characters');
    if (flag === '--socks5')
      socks5 = a.includes('=') ? a.slice(a.indexOf('=') + 1) : (extra[i + 1] ?? '');
  }
  if (mode !== 'proxy' && extra.some((a) => a.split('=')[0] === '--socks5')) {
    throw new InputError('args: --socks5 needs mode: proxy');
  }
  flags.push(...extra);
  if (mode === 'proxy' && !extra.some((a) => a.split('=')[0] === '--socks5')) {
    flags.push('--socks5', socks5);
  }
  if (mode === 'proxy' && !/^(127\.[0-9.]+|\[::1\]|localhost):[0-9]{1,5}$/.test(socks5)) {
    throw new InputError(`args: --socks5 ${printable(socks5)} must be a loopback address:port`);
  }

  const ping = list(input('ping'));
  if (ping.length > MAX_LIST) throw new InputError(`ping: more than ${MAX_LIST} hosts`);
  for (const h of ping) {
    if (mode === 'proxy') {
      const m = /^(.+):([0-9]{1,5})$/.exec(h);
      if (!m || !isHost(m[1]!) || Number(m[2]) < 1 || Number(m[2]) > 65535) {
        throw new InputError(`ping: ${printable(h)}: in mode proxy, give host:port (a TCP check)`);
      }
    } else if (!isHost(h)) {
      throw new InputError(`ping: ${printable(h)} is not a host name or IP address`);
    }
  }

  const cfg: ActionConfig = { gateway, mode, flags, ping, timeout, socks5 };
  const psk = input('psk');
  if (psk !== '') cfg.psk = psk;
  const eapPassword = input('eap-password');
  if (eapPassword !== '') cfg.eapPassword = eapPassword;
  const p12Password = input('p12-password');
  if (p12Password !== '') cfg.p12Password = p12Password;
  const cert = input('cert').trim();
  if (cert !== '') cfg.cert = fileInput('cert', cert, false);
  const key = input('key').trim();
  if (key !== '') cfg.key = fileInput('key', key, false);
  const p12 = input('p12').trim();
  if (p12 !== '') cfg.p12 = fileInput('p12', p12, true);
  const ca = input('ca').trim();
  if (ca !== '') cfg.ca = fileInput('ca', ca, false);
  if (cfg.p12 && (cfg.cert || cfg.key)) throw new InputError('p12: give either p12 or cert + key');
  if (cfg.eapPassword !== undefined && !input('eap-identity').trim()) {
    throw new InputError('eap-password: needs eap-identity');
  }
  if (cfg.psk === undefined && cfg.eapPassword === undefined && !cfg.p12 && !cfg.cert) {
    throw new InputError(
      'no credentials: set psk, eap-identity + eap-password, cert + key, or p12',
    );
  }
  return cfg;
}
