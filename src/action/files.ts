/**
 * What the action puts on the runner, all of it in one private directory (mode 700, under
 * RUNNER_TEMP) that post removes: secret files of mode 600, the client's runtime directory, the
 * `vpn` wrappers. And the environment a child process gets: never an INPUT_* variable (the runner
 * puts every input, secrets too, in our environment) nor a VPN_* secret.
 */
import {
  closeSync,
  constants as fsConstants,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  writeSync,
  chmodSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The action's private directory: RUNNER_TEMP when the runner sets it (wiped per job), else the
 * OS's. Mode 700; 711 with `traversable` (main runs as root through sudo, and the job's own user
 * must reach the `vpn` wrappers in bin/; the secrets stay 600 root).
 */
export function makePrivateDir(env: NodeJS.ProcessEnv = process.env, traversable = false): string {
  const base =
    env['RUNNER_TEMP'] && env['RUNNER_TEMP'].startsWith('/') ? env['RUNNER_TEMP'] : tmpdir();
  const dir = mkdtempSync(join(base, 'ikev2-vpn-'));
  chmodSync(dir, traversable ? 0o711 : 0o700);
  return dir;
}

/** Writes `data` to a new file `name` in `dir` with mode 600 (O_EXCL: never through a planted file). */
export function writePrivateFile(dir: string, name: string, data: Uint8Array | string): string {
  const path = join(dir, name);
  const fd = openSync(
    path,
    fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW,
    0o600,
  );
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
  } finally {
    closeSync(fd);
  }
  return path;
}

/** Secret variables of the client: a child never inherits them (secrets reach it through files). */
const SECRET_VARS = ['VPN_PSK', 'VPN_EAP_PASSWORD', 'VPN_KEY_PASSPHRASE', 'VPN_P12_PASSWORD'];

/**
 * The environment of a child process: ours without INPUT_* (every action input, secrets
 * included), STATE_* and the client's secret variables; plus `extra`.
 */
export function childEnv(
  extra: Record<string, string>,
  env: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) continue;
    if (k.startsWith('INPUT_') || k.startsWith('STATE_') || SECRET_VARS.includes(k)) continue;
    out[k] = v;
  }
  return { ...out, CI: 'true', ...extra };
}

/** The runner's variable for input `name` (core.getInput's rule: spaces to _, upper case). */
export function inputVar(name: string): string {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`;
}

/**
 * Overwrites the values of the variables `names` in our own initial environment block, the one
 * /proc/<pid>/environ shows (the runner put the inputs there, secrets included), and removes them
 * from process.env. Read the inputs first. Best effort: returns false where /proc/self/mem cannot
 * be written (not Linux, or a hardened kernel).
 */
export function scrubOwnEnviron(names: readonly string[]): boolean {
  let ok = true;
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // proc(5): fields after "(comm)" start at field 3; env_start and env_end are fields 50 and 51.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = Number(f[50 - 3]);
    const end = Number(f[51 - 3]);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end <= start) {
      throw new Error('no environment bounds in /proc/self/stat');
    }
    if (end - start > 16 << 20) throw new Error('environment block too large');
    const fd = openSync('/proc/self/mem', 'r+');
    try {
      const block = Buffer.alloc(end - start);
      readSync(fd, block, 0, block.length, start);
      let pos = 0;
      while (pos < block.length) {
        let nul = block.indexOf(0, pos);
        if (nul < 0) nul = block.length;
        const entry = block.subarray(pos, nul);
        const eq = entry.indexOf(0x3d); // '='
        if (eq > 0 && names.includes(entry.subarray(0, eq).toString('latin1'))) {
          const value = block.subarray(pos + eq + 1, nul);
          value.fill(0x2a); // '*'
          writeSync(fd, value, 0, value.length, start + pos + eq + 1);
        }
        pos = nul + 1;
      }
    } finally {
      closeSync(fd);
    }
  } catch {
    ok = false;
  }
  for (const n of names) Reflect.deleteProperty(process.env, n);
  return ok;
}
