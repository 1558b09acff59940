/**
 * Named profiles on the command line: `vpn connect NAME` / `vpn up NAME` (the flags come from
 * NAME.conf, a flag typed on the command line wins), `vpn down NAME`, `vpn profiles` and
 * `vpn show NAME`. Parsing and validation live in src/config/profile.ts.
 *
 * Profile or gateway? `vpn connect X` uses a profile when `--profile X` is given, or when X is a
 * profile name (letters, digits, _ and -: no dots) and X.conf exists in a profile folder;
 * anything else is a gateway host name or address.
 */
import type { Command, Option } from 'commander';
import { VpnError } from '../core/errors.js';
import { printable, printableJson } from '../core/printable.js';
import { PROFILE_KEYS, SECRET_KEYS, findProfile, fsIo, loadProfile } from '../config/profile.js';
import type { Profile, ProfileValue } from '../config/profile.js';
import { authKind } from './credentials.js';
import type { AuthFlags } from './credentials.js';
import { EXIT, exitCodeFor } from './exit-codes.js';

/** Profile secrets, as plain text (gatherSecrets takes them after the environment variables). */
export interface ProfileSecrets {
  psk?: string;
  eapPassword?: string;
  keyPassphrase?: string;
  p12Password?: string;
  xauthPassword?: string;
}

const SECRET_FIELD: Record<string, keyof ProfileSecrets> = {
  psk: 'psk',
  'eap-password': 'eapPassword',
  'key-passphrase': 'keyPassphrase',
  'p12-password': 'p12Password',
  'xauth-password': 'xauthPassword',
};

/** commander's attribute name of a profile key: remote-id → remoteId. */
export function attributeOf(key: string): string {
  return key.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** The profile key of a commander option: --remote-id → remote-id, --no-ipv6 → ipv6. */
export function keyOfOption(o: Option): string | undefined {
  const long = o.long?.replace(/^--/, '');
  if (long === undefined) return undefined;
  return o.negate ? long.replace(/^no-/, '') : long;
}

/** Options of `connect` that are not settings (they choose the profile or are internal). */
const NOT_SETTINGS = new Set(['profile', 'daemon-child', 'help']);

function loadByName(name: string): Profile {
  const path = findProfile(name, fsIo.dirs(), (p) => fsIo.exists(p));
  if (path === undefined)
    throw new VpnError(
      'ERR_CONFIG',
      `no profile named ${JSON.stringify(name)} in ${fsIo.dirs().join(' or ')}; list them with: vpn profiles`,
    );
  return loadProfile(name, path, fsIo);
}

function fail(e: unknown, json: boolean | undefined, extra: Record<string, unknown> = {}): number {
  const code = e instanceof VpnError ? exitCodeFor(e.code) : EXIT.INTERNAL;
  const message = (e as Error).message;
  if (json)
    process.stdout.write(
      printableJson({ event: 'error', exitCode: code, error: message, ...extra }) + '\n',
    );
  process.stderr.write(`vpn: ${printable(message)}\n`);
  return code;
}

/**
 * Resolves `vpn connect [target]` against the profiles: the gateway, the flags with the file's
 * values under the command line's, and the file's secrets. Nothing on the host is touched.
 */
export function resolveConnect<F extends object>(
  target: string | undefined,
  flags: F & { profile?: string; json?: boolean },
  cmd: Command,
):
  | { ok: true; gateway: string; flags: F; secrets: ProfileSecrets; profile?: Profile }
  | { ok: false; code: number } {
  try {
    const name =
      flags.profile ??
      (target !== undefined && findProfile(target, fsIo.dirs(), (p) => fsIo.exists(p))
        ? target
        : undefined);
    if (name === undefined) {
      if (target === undefined)
        throw new VpnError(
          'ERR_CONFIG',
          'missing the gateway: vpn connect GATEWAY [options], or vpn connect PROFILE (see vpn profiles)',
        );
      return { ok: true, gateway: target, flags, secrets: {} };
    }
    const p = loadByName(name);
    const merged = { ...flags } as Record<string, unknown>;
    const secrets: ProfileSecrets = {};
    for (const [key, value] of Object.entries(p.values)) {
      if (key === 'gateway') continue;
      const field = SECRET_FIELD[key];
      if (field !== undefined) {
        secrets[field] = value as string;
        continue;
      }
      const attr = attributeOf(key);
      // A flag typed on the command line overrides the file.
      if (cmd.getOptionValueSource(attr) !== 'cli') merged[attr] = value;
    }
    // The tunnel is named after the profile unless the file or the command line names it.
    if (!('name' in p.values) && cmd.getOptionValueSource('name') !== 'cli') merged['name'] = name;
    const gateway =
      flags.profile !== undefined && target !== undefined ? target : p.values['gateway'];
    if (typeof gateway !== 'string')
      throw new VpnError(
        'ERR_CONFIG',
        `no gateway in profile at ${p.path}; add a line: gateway = HOST`,
      );
    return { ok: true, gateway, flags: merged as F, secrets, profile: p };
  } catch (e) {
    return { ok: false, code: fail(e, flags.json) };
  }
}

/** `vpn down NAME`: the tunnel name of profile NAME (its `name =`, else NAME). */
export function tunnelNameFor(target: string): string {
  const path = findProfile(target, fsIo.dirs(), (p) => fsIo.exists(p));
  if (path === undefined) return target;
  const n = loadProfile(target, path, fsIo).values['name'];
  return typeof n === 'string' ? n : target;
}

function authOf(values: Record<string, ProfileValue>): string {
  const f: Partial<AuthFlags> = {};
  for (const k of ['eap-identity', 'eap', 'cert', 'p12'] as const)
    if (typeof values[k] === 'string') (f as Record<string, unknown>)[attributeOf(k)] = values[k];
  return authKind(f as AuthFlags);
}

function shown(v: ProfileValue): string {
  return Array.isArray(v) ? v.join(', ') : String(v);
}

/** The effective settings of a profile: file values over `connect`'s defaults, secrets elided. */
export function effectiveSettings(
  p: Profile,
  connect: Command,
): { key: string; value: string; source: 'file' | 'default' }[] {
  const out: { key: string; value: string; source: 'file' | 'default' }[] = [];
  const g = p.values['gateway'];
  if (g !== undefined) out.push({ key: 'gateway', value: shown(g), source: 'file' });
  for (const o of connect.options) {
    const key = keyOfOption(o);
    if (key === undefined || NOT_SETTINGS.has(key)) continue;
    const v = p.values[key];
    if (v !== undefined) out.push({ key, value: shown(v), source: 'file' });
    else if (key === 'name') out.push({ key, value: p.name, source: 'default' });
    else if (o.defaultValue !== undefined)
      out.push({ key, value: shown(o.defaultValue as ProfileValue), source: 'default' });
  }
  for (const secret of Object.keys(SECRET_KEYS))
    if (secret in p.values)
      out.push({ key: secret, value: '(set in the file; elided)', source: 'file' });
  return out;
}

export function addProfileCommands(
  program: Command,
  connect: Command,
  setExit: (code: number) => void,
): void {
  program
    .command('profiles')
    .description('list the profiles (vpn connect NAME): name, gateway, authentication')
    .option('--json', 'one JSON line per profile')
    .action((flags: { json?: boolean }) => {
      let code: number = EXIT.OK;
      const seen = new Set<string>();
      for (const dir of fsIo.dirs())
        for (const name of fsIo.list(dir)) {
          if (seen.has(name)) continue; // the first folder wins, as for vpn connect NAME
          seen.add(name);
          const path = `${dir}/${name}.conf`;
          try {
            const p = loadProfile(name, path, fsIo);
            const gateway = typeof p.values['gateway'] === 'string' ? p.values['gateway'] : '';
            const auth = authOf(p.values);
            if (flags.json)
              process.stdout.write(printableJson({ name, gateway, auth, path }) + '\n');
            else
              process.stdout.write(
                [name, gateway || '(no gateway)', auth, path].map(printable).join('\t') + '\n',
              );
          } catch (e) {
            code = fail(e, flags.json, { name, path });
          }
        }
      if (seen.size === 0 && !flags.json)
        process.stderr.write(`no profiles in ${fsIo.dirs().join(' or ')}\n`);
      setExit(code);
    });

  program
    .command('show')
    .description('print the effective settings of a profile (file and defaults; secrets elided)')
    .argument('<name>', 'profile name')
    .option('--json', 'one JSON line')
    .action((name: string, flags: { json?: boolean }) => {
      try {
        const p = loadByName(name);
        const settings = effectiveSettings(p, connect);
        if (flags.json)
          process.stdout.write(
            printableJson({
              name,
              path: p.path,
              auth: authOf(p.values),
              settings: Object.fromEntries(settings.map((s) => [s.key, s.value])),
              fromFile: settings.filter((s) => s.source === 'file').map((s) => s.key),
            }) + '\n',
          );
        else {
          process.stdout.write(printable(`# ${p.path} (auth: ${authOf(p.values)})`) + '\n');
          const width = Math.max(...settings.map((s) => s.key.length));
          for (const s of settings)
            process.stdout.write(
              printable(
                `${s.key.padEnd(width)} = ${s.value}${s.source === 'default' ? '   # default' : ''}`,
              ) + '\n',
            );
        }
        setExit(EXIT.OK);
      } catch (e) {
        setExit(fail(e, flags.json));
      }
    });
}

/** Every `connect` option that has no profile key (a test keeps this empty). */
export function optionsWithoutKey(connect: Command): string[] {
  return connect.options
    .map(keyOfOption)
    .filter((k): k is string => k !== undefined && !NOT_SETTINGS.has(k) && !(k in PROFILE_KEYS));
}
