/**
 * Named profiles: `vpn connect NAME` reads NAME.conf, plain `key = value` lines (an optional
 * `[connect]` header, `#`/`;` comments), one key per `vpn connect` flag. Parsing and validation
 * are pure; the only I/O is through a `ProfileIo` the caller passes (tests pass their own).
 */
import {
  closeSync,
  constants,
  fstatSync,
  openSync,
  readFileSync,
  readdirSync,
  statSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { VpnError } from '../core/errors.js';
import { checkExcluded } from '../core/ip.js';
import { printable } from '../core/printable.js';
import { parseIdentity } from '../ike/identity.js';
import { parseProposals } from '../ike/sa/proposals.js';
import { tsFromCidr } from '../ike/sa/traffic-selectors.js';
import { parseV1Phase1Proposals, parseV1Phase2Proposals } from '../ikev1/sa-payload.js';

export type KeyType =
  | { kind: 'string' }
  | { kind: 'path' }
  | { kind: 'secret' }
  | { kind: 'bool' }
  | { kind: 'int'; min: number; max: number }
  | { kind: 'size' }
  | { kind: 'choice'; choices: readonly string[] }
  | { kind: 'retry' }
  | { kind: 'list' }
  | { kind: 'name' };

/**
 * Every key a profile may hold: the `vpn connect` flags without their dashes (commander's
 * --no-host-check / --no-ipv6 are `host-check = false` / `ipv6 = false`), plus `gateway` and the
 * secrets themselves (`psk`, `eap-password`, `key-passphrase`, `p12-password`).
 */
export const PROFILE_KEYS: Readonly<Record<string, KeyType>> = {
  gateway: { kind: 'string' },
  id: { kind: 'string' },
  'remote-id': { kind: 'string' },
  'psk-file': { kind: 'path' },
  psk: { kind: 'secret' },
  ca: { kind: 'path' },
  cert: { kind: 'path' },
  key: { kind: 'path' },
  'key-passphrase-file': { kind: 'path' },
  'key-passphrase': { kind: 'secret' },
  p12: { kind: 'path' },
  'p12-password-file': { kind: 'path' },
  'p12-password': { kind: 'secret' },
  'eap-identity': { kind: 'string' },
  eap: { kind: 'string' },
  'eap-password-file': { kind: 'path' },
  'eap-password': { kind: 'secret' },
  'eap-only': { kind: 'bool' },
  'host-check': { kind: 'bool' },
  'ppk-file': { kind: 'path' },
  'ppk-id': { kind: 'string' },
  'ppk-required': { kind: 'bool' },
  // IKEv1 (issue 17)
  'ike-version': { kind: 'choice', choices: ['1', '2', 'auto'] },
  'group-psk-file': { kind: 'path' },
  'xauth-user': { kind: 'string' },
  'xauth-password-file': { kind: 'path' },
  'xauth-password': { kind: 'secret' },
  'ikev1-aggressive': { kind: 'bool' },
  'ikev1-legacy': { kind: 'bool' },
  pfs: { kind: 'string' },
  redirect: { kind: 'bool' },
  'ike-fragment-size': { kind: 'int', min: 576, max: 65535 },
  port: { kind: 'int', min: 1, max: 65535 },
  ike: { kind: 'string' },
  esp: { kind: 'string' },
  dns: { kind: 'choice', choices: ['auto', 'off'] },
  pq: { kind: 'choice', choices: ['required', 'preferred', 'off'] },
  'remote-net': { kind: 'list' },
  exclude: { kind: 'list' },
  ipv6: { kind: 'bool' },
  mtu: { kind: 'int', min: 576, max: 9000 },
  keepalive: { kind: 'int', min: 0, max: 3600 },
  retry: { kind: 'retry' },
  'ike-rekey': { kind: 'int', min: 0, max: 30 * 86400 },
  rekey: { kind: 'int', min: 0, max: 7 * 86400 },
  'rekey-bytes': { kind: 'size' },
  'rekey-packets': { kind: 'int', min: 1, max: 2 ** 32 - 1 },
  dpd: { kind: 'int', min: 0, max: 3600 },
  timeout: { kind: 'int', min: 1, max: 600 },
  name: { kind: 'name' },
  'kill-switch': { kind: 'bool' },
  socks5: { kind: 'string' },
  'http-proxy': { kind: 'string' },
  background: { kind: 'bool' },
  json: { kind: 'bool' },
  verbose: { kind: 'bool' },
};

/** The secret keys and the file key each one stands in for. */
export const SECRET_KEYS: Readonly<Record<string, string>> = {
  psk: 'psk-file',
  'key-passphrase': 'key-passphrase-file',
  'p12-password': 'p12-password-file',
  'eap-password': 'eap-password-file',
  'xauth-password': 'xauth-password-file',
};

export type ProfileValue = string | number | boolean | string[];

export interface Profile {
  /** The profile's name (its file name without .conf). */
  name: string;
  path: string;
  /** Key → typed value; paths are absolute (relative ones resolved against the file's folder). */
  values: Record<string, ProfileValue>;
  /** Key → 1-based line it came from (the first line, for a repeated `remote-net`). */
  lines: Record<string, number>;
}

/** A profile name: no dots or slashes, so it can never name a file outside the profile folders. */
export const PROFILE_NAME = /^[A-Za-z0-9_-]{1,32}$/;

const MAX_PROFILE_BYTES = 64 * 1024;

/** The file as read, with what its mode check needs. */
export interface ProfileFile {
  text: string;
  mode: number;
  uid: number;
  gid: number;
}

export interface ProfileIo {
  read(path: string): ProfileFile;
  exists(path: string): boolean;
  /** Mode and owner of a file it names (following links, as it is opened), for the secret rule. */
  stat?(path: string): { mode: number; uid: number; gid: number } | undefined;
  /** Our uid (a secret-holding profile must be ours or root's). */
  uid: number;
}

/** One line: `PROBLEM at FILE:LINE; FIX` (the message is `PROBLEM; FIX`). */
function err(path: string, line: number | undefined, message: string): VpnError {
  const cut = message.indexOf('; ');
  const [problem, fix] = cut < 0 ? [message, ''] : [message.slice(0, cut), message.slice(cut)];
  return new VpnError('ERR_CONFIG', `${problem} at ${path}${line ? `:${line}` : ''}${fix}`);
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length]!;
}

export function nearestKey(key: string): string {
  const norm = key.toLowerCase().replace(/_/g, '-');
  let best = '';
  let bestD = Infinity;
  for (const k of Object.keys(PROFILE_KEYS)) {
    const dd = distance(norm, k);
    if (dd < bestD) [best, bestD] = [k, dd];
  }
  return best;
}

/** Quotes what the file said for a message (it is input: bounded and escaped). */
function q(s: string): string {
  return JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}…` : s).slice(1, -1);
}

function typed(t: KeyType, key: string, raw: string, at: (m: string) => VpnError): ProfileValue {
  const bad = (want: string): VpnError => at(`${key} = '${q(raw)}' is invalid; write ${want}`);
  switch (t.kind) {
    case 'string':
    case 'path':
    case 'secret':
      if (raw === '') throw at(`${key} is empty; give a value or delete the line`);
      // Names, identities and proposals never hold control characters (a quoted value could).
      if (t.kind === 'string' && /[\u0000-\u001f\u007f]/.test(raw))
        throw bad('it without control characters');
      return raw;
    case 'bool':
      if (/^(true|yes|on|1)$/i.test(raw)) return true;
      if (/^(false|no|off|0)$/i.test(raw)) return false;
      throw bad('true or false');
    case 'int': {
      const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n) || n < t.min || n > t.max)
        throw bad(`an integer from ${t.min} to ${t.max}`);
      return n;
    }
    case 'size': {
      const m = /^(\d+)([KMGT]?)B?$/i.exec(raw);
      const mult = m
        ? { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }[m[2]!.toUpperCase()]!
        : NaN;
      const n = m ? Number(m[1]) * mult : NaN;
      if (!Number.isSafeInteger(n) || n < 1) throw bad('a byte count such as 1000000, 500M or 4G');
      return n;
    }
    case 'choice':
      if (!t.choices.includes(raw)) throw bad(`one of ${t.choices.join(', ')}`);
      return raw;
    case 'retry': {
      if (raw === 'forever') return 'forever';
      const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
      if (!(n <= 1000)) throw bad('a number from 0 to 1000 or "forever"');
      return n;
    }
    case 'list': {
      const items = raw.split(',').map((s) => s.trim());
      if (items.some((s) => s === '')) throw bad('a comma-separated list without empty items');
      return items;
    }
    case 'name':
      if (!/^[A-Za-z0-9_.-]{1,32}$/.test(raw))
        throw bad('a tunnel name: up to 32 letters, digits, _ . -');
      return raw;
  }
}

/** The EAP methods `--eap` accepts (src/cli/credentials.ts). */
const EAP_METHOD_NAMES = ['mschapv2', 'md5', 'gtc', 'tls'];

/**
 * What `vpn connect` would refuse later, checked at the value's line: proposals, identities,
 * networks, EAP methods and the gateway's name. Each returns the fix, or undefined when fine.
 */
const CHECKS: Readonly<Record<string, (v: ProfileValue) => string | undefined>> = {
  gateway: (v) =>
    /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.:-]{1,253})$/.test(v as string)
      ? undefined
      : 'write a host name or an IP address',
  // IKEv2 syntax, or IKEv1's (issue 17: `ike-version = 1`; 3DES and MODP-1024 need ikev1-legacy,
  // which vpn connect checks).
  ike: (v) =>
    reason(
      () =>
        either(
          () => parseProposals(v as string, 'ike'),
          () => parseV1Phase1Proposals(v as string, { legacy: true }),
        ),
      'IKE proposals, e.g. aes256gcm16-prfsha256-x25519',
    ),
  esp: (v) => reason(() => parseProposals(v as string, 'esp'), 'ESP proposals, e.g. aes256gcm16'),
  id: (v) =>
    reason(() => parseIdentity(v as string), 'an identity: user@example.com, @host, an IP or a DN'),
  'remote-id': (v) =>
    reason(() => parseIdentity(v as string), 'an identity such as @gw.example.com'),
  'remote-net': (v) =>
    reason(() => (v as string[]).forEach((c) => tsFromCidr(c)), 'networks such as 10.0.0.0/8'),
  exclude: (v) =>
    reason(() => checkExcluded(v as string[]), 'networks such as 192.0.2.0/24 or 203.0.113.7/32'),
  pfs: (v) =>
    reason(() => pfsGroupOf(v as string), 'a Diffie-Hellman group such as ecp256 or modp2048'),
  eap: (v) =>
    (v as string)
      .split(',')
      .every((m) => EAP_METHOD_NAMES.includes(m.trim().toLowerCase().replace(/^eap-/, '')))
      ? undefined
      : `write EAP methods from ${EAP_METHOD_NAMES.join(', ')}`,
};

/** The IKEv1 PFS group a `pfs` value names (src/cli/ikev1-flags.ts has the same rule). */
function pfsGroupOf(name: string): number {
  const group = parseV1Phase2Proposals(`aes256gcm16-${name}`, {})[0]?.pfsGroup;
  if (group === undefined) throw new VpnError('ERR_CONFIG', `${name} is not a group`);
  return group;
}

/** The first check that passes; else the first one's error. */
function either(a: () => unknown, b: () => unknown): void {
  try {
    a();
  } catch (e) {
    try {
      b();
    } catch {
      throw e;
    }
  }
}

function reason(check: () => unknown, want: string): string | undefined {
  try {
    check();
    return undefined;
  } catch (e) {
    return `${(e as Error).message}: write ${want}`;
  }
}

/**
 * Parses a profile's text (pure). `path` is for messages and for resolving relative paths.
 * Each error is one line naming the file, the line and what to do.
 */
export function parseProfile(name: string, path: string, text: string): Profile {
  const values: Record<string, ProfileValue> = {};
  const lines: Record<string, number> = {};
  const dir = dirname(path);
  const src = text.split('\n');
  let sectionSeen = false;
  for (let i = 0; i < src.length; i++) {
    const n = i + 1;
    const at = (m: string): VpnError => err(path, n, m);
    const line = src[i]!.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('[')) {
      if (line !== '[connect]' || sectionSeen)
        throw at(`unexpected section '${q(line)}'; the only section is [connect] (or none)`);
      sectionSeen = true;
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0)
      throw at(
        `expected 'key = value', got '${q(line)}'; write key = value, or start a comment with #`,
      );
    const key = line.slice(0, eq).trim();
    let raw = line.slice(eq + 1).trim();
    // A double-quoted value keeps its spaces and may hold JSON escapes.
    if (raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"')) {
      try {
        raw = JSON.parse(raw) as string;
      } catch {
        throw at(`bad quoted value for ${q(key)}; use JSON string escapes`);
      }
    }
    const t = PROFILE_KEYS[key];
    if (t === undefined)
      throw new VpnError(
        'ERR_CONFIG',
        `unknown key '${q(key)}' at ${path}:${n}; did you mean '${nearestKey(key)}'?`,
      );
    const v = typed(t, key, raw, at);
    const fix = CHECKS[key]?.(v);
    if (fix !== undefined)
      throw at(`${key} = '${q(raw)}' is invalid; ${printable(fix.slice(0, 200))}`);
    if (t.kind === 'list') {
      values[key] = [...((values[key] as string[] | undefined) ?? []), ...(v as string[])];
      lines[key] ??= n;
      continue;
    }
    if (key in values)
      throw at(`${key} is set twice (first at line ${lines[key]}); delete one of the lines`);
    values[key] = t.kind === 'path' && !isAbsolute(v as string) ? resolve(dir, v as string) : v;
    lines[key] = n;
  }
  if ('psk' in values && 'group-psk-file' in values)
    throw err(
      path,
      lines['psk'],
      `both psk and group-psk-file are set (group-psk-file at line ${lines['group-psk-file']}); keep one`,
    );
  if ('psk-file' in values && 'group-psk-file' in values)
    throw err(
      path,
      lines['group-psk-file'],
      `group-psk-file is another name for psk-file (line ${lines['psk-file']}); keep one`,
    );
  for (const [secret, file] of Object.entries(SECRET_KEYS)) {
    if (secret in values && file in values)
      throw err(
        path,
        lines[secret],
        `both ${secret} and ${file} are set (${file} at line ${lines[file]}); keep one`,
      );
  }
  return { name, path, values, lines };
}

/** Keys naming files that hold a secret (read with readPrivateFile, src/config/credentials.ts). */
const PRIVATE_FILE_KEYS = [
  'psk-file',
  'group-psk-file',
  'xauth-password-file',
  'key',
  'key-passphrase-file',
  'p12',
  'p12-password-file',
  'eap-password-file',
];

/** readPrivateFile's rule: no permission for group and others, or root:root without others. */
function privateMode(f: { mode: number; uid: number; gid: number }): boolean {
  const mode = f.mode & 0o777;
  return (mode & 0o077) === 0 || (f.uid === 0 && f.gid === 0 && (mode & 0o007) === 0);
}

/** The modes a secret-holding file may have: readPrivateFile's rule. */
function checkSecretFileMode(p: Profile, f: ProfileFile): void {
  const secret = Object.keys(SECRET_KEYS).find((k) => k in p.values);
  if (secret === undefined) return;
  const m = (f.mode & 0o777).toString(8).padStart(4, '0');
  if (!privateMode(f))
    throw err(
      p.path,
      p.lines[secret],
      `${secret} in a file others can read (mode ${m}); run: chmod 600 ${p.path}, or name a file holding it with ${SECRET_KEYS[secret]} = PATH`,
    );
}

/**
 * Any profile decides where our traffic goes and which key files are read: one that others may
 * write, or that belongs to another user, is refused like a planted runtime directory.
 */
function checkWriters(path: string, f: ProfileFile, uid: number): void {
  const mode = f.mode & 0o777;
  if ((mode & 0o022) !== 0)
    throw err(
      path,
      undefined,
      `profile writable by others (mode ${mode.toString(8).padStart(4, '0')}); run: chmod go-w ${path}`,
    );
  if (f.uid !== uid && f.uid !== 0)
    throw err(
      path,
      undefined,
      `profile owned by uid ${f.uid}, not by us (uid ${uid}) or root; run: chown ${uid} ${path}`,
    );
}

/**
 * Reads, parses and checks a profile file: nobody else may write it, secrets need mode 600,
 * named files must exist.
 */
export function loadProfile(name: string, path: string, io: ProfileIo): Profile {
  const f = io.read(path);
  checkWriters(path, f, io.uid);
  const p = parseProfile(name, path, f.text);
  checkSecretFileMode(p, f);
  for (const [key, t] of Object.entries(PROFILE_KEYS)) {
    if (t.kind !== 'path' || !(key in p.values)) continue;
    const file = p.values[key] as string;
    if (!io.exists(file))
      throw err(
        path,
        p.lines[key],
        `${key} names ${q(file)}, which does not exist; create it or fix the path`,
      );
    // Files holding a secret follow readPrivateFile's rule, checked here to name the line.
    const st = PRIVATE_FILE_KEYS.includes(key) ? io.stat?.(file) : undefined;
    if (st && !privateMode(st)) {
      const m = (st.mode & 0o777).toString(8).padStart(4, '0');
      throw err(
        path,
        p.lines[key],
        `${key} names ${q(file)}, which others can read (mode ${m}); run: chmod 600 ${q(file)}`,
      );
    }
  }
  return p;
}

/**
 * The folders profiles are looked up in, first match wins: VPN_PROFILE_DIR alone if set; for
 * root /etc/ikev2-vpn; for others $XDG_CONFIG_HOME/ikev2-vpn (default ~/.config/ikev2-vpn), then
 * /etc/ikev2-vpn.
 */
export function profileDirs(env: NodeJS.ProcessEnv, uid: number, home: string): string[] {
  const override = env['VPN_PROFILE_DIR'];
  if (override) return [override];
  if (uid === 0) return ['/etc/ikev2-vpn'];
  const xdg = env['XDG_CONFIG_HOME'] || join(home, '.config');
  return [join(xdg, 'ikev2-vpn'), '/etc/ikev2-vpn'];
}

/** The real file system, for the CLI. */
export const fsIo: ProfileIo & {
  list(dir: string): string[];
  dirs(): string[];
} = {
  uid: process.getuid?.() ?? -1,
  read(path: string): ProfileFile {
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (e) {
      throw new VpnError('ERR_CONFIG', `cannot read profile ${path}: ${(e as Error).message}`);
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new VpnError('ERR_CONFIG', `profile ${path} is not a regular file`);
      if (st.size > MAX_PROFILE_BYTES)
        throw new VpnError('ERR_CONFIG', `profile ${path} is larger than 64 KiB`);
      return { text: readFileSync(fd, 'utf8'), mode: st.mode, uid: st.uid, gid: st.gid };
    } finally {
      closeSync(fd);
    }
  },
  exists(path: string): boolean {
    try {
      statSync(path);
      return true;
    } catch {
      return false;
    }
  },
  stat(path: string): { mode: number; uid: number; gid: number } | undefined {
    try {
      const st = statSync(path);
      return st.isFile() ? { mode: st.mode, uid: st.uid, gid: st.gid } : undefined;
    } catch {
      return undefined;
    }
  },
  list(dir: string): string[] {
    try {
      return readdirSync(dir)
        .filter((f) => f.endsWith('.conf') && PROFILE_NAME.test(f.slice(0, -5)))
        .map((f) => f.slice(0, -5))
        .sort();
    } catch {
      return [];
    }
  },
  dirs(): string[] {
    return profileDirs(process.env, process.getuid?.() ?? -1, homedir());
  },
};

/** The file of profile `name` in the first folder that has one, or undefined. */
export function findProfile(
  name: string,
  dirs: string[],
  exists: (p: string) => boolean,
): string | undefined {
  if (!PROFILE_NAME.test(name)) return undefined;
  for (const d of dirs) {
    const p = join(d, `${name}.conf`);
    if (exists(p)) return p;
  }
  return undefined;
}
