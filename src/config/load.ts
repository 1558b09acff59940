/**
 * Reading secrets and settings from files and the environment (an I/O edge).
 */
import {
  chmodSync,
  closeSync,
  constants as fsConstants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { VpnError } from '../core/errors.js';
import { readPrivateFile } from './credentials.js';

/**
 * Reads a secret (a PSK) from a file only its owner may read, like ssh does for private keys (the
 * owner-only rule of `readPrivateFile`), byte for byte; trailing newlines are stripped.
 */
export function readSecretFile(path: string, what: string): Uint8Array {
  const data = readPrivateFile(path, `${what} file`);
  let end = data.length;
  while (end > 0 && (data[end - 1] === 0x0a || data[end - 1] === 0x0d)) end--;
  if (end === 0) throw new VpnError('ERR_CONFIG', `${what} file ${path} is empty`);
  return new Uint8Array(data.subarray(0, end));
}

/**
 * Runtime directory for control sockets, journals and the background log: VPN_RUNTIME_DIR, else
 * /run/ikev2-vpn for root, else $XDG_RUNTIME_DIR/ikev2-vpn, else /tmp/ikev2-vpn-<uid>. The last
 * is predictable: use it only through `ensureRuntimeDir`, which refuses one planted by others.
 */
export function runtimeDir(): string {
  const env = process.env['VPN_RUNTIME_DIR'];
  if (env) return env;
  if (process.getuid?.() === 0) return '/run/ikev2-vpn';
  const xdg = process.env['XDG_RUNTIME_DIR'];
  return xdg ? `${xdg}/ikev2-vpn` : `/tmp/ikev2-vpn-${process.getuid?.() ?? 'user'}`;
}

/**
 * The runtime directory, created if missing and checked either way (see `ensurePrivateDir`): a
 * directory someone else created first (a predictable /tmp/ikev2-vpn-<uid>) is refused, never used.
 * @throws VpnError ERR_PRIVILEGE naming the directory.
 */
export function ensureRuntimeDir(dir: string = runtimeDir()): string {
  return ensurePrivateDir(dir, 'runtime directory');
}

/**
 * Creates `dir` with mode 0700 (and missing parents), or checks the one that is there: it must be
 * a real directory (not a symbolic link), owned by our effective uid, with no group or other
 * access. Fails closed.
 * @throws VpnError ERR_PRIVILEGE naming the directory and what is wrong with it.
 */
export function ensurePrivateDir(dir: string, what = 'directory'): string {
  try {
    mkdirSync(dir, { mode: 0o700 });
    // The umask may have taken bits away: we want exactly 0700 on a directory we just made.
    chmodSync(dir, 0o700);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      mkdirSync(dirname(dir), { recursive: true, mode: 0o700 });
      return ensurePrivateDir(dir, what);
    }
    if (code !== 'EEXIST') {
      throw new VpnError('ERR_PRIVILEGE', `cannot create ${what} ${dir}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }
  checkPrivateDir(dir, what);
  return dir;
}

/**
 * Checks that `dir` is a directory only we can use (see `ensurePrivateDir`).
 * @throws VpnError ERR_PRIVILEGE when it is missing, a symlink, someone else's, or open to others.
 */
export function checkPrivateDir(dir: string, what = 'directory'): void {
  let st;
  try {
    st = lstatSync(dir);
  } catch (e) {
    throw new VpnError('ERR_PRIVILEGE', `cannot use ${what} ${dir}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const refuse = (why: string): never => {
    throw new VpnError(
      'ERR_PRIVILEGE',
      `refusing to use ${what} ${dir}: ${why}; someone else may have created it — remove it (or set VPN_RUNTIME_DIR to a private directory) and try again`,
    );
  };
  if (st.isSymbolicLink()) refuse('it is a symbolic link');
  if (!st.isDirectory()) refuse('it is not a directory');
  const euid = process.geteuid?.();
  if (euid !== undefined && st.uid !== euid) {
    refuse(`it is owned by uid ${st.uid}, not by us (uid ${euid})`);
  }
  if ((st.mode & 0o077) !== 0) {
    refuse(
      `group or others have access to it (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}, expected 0700)`,
    );
  }
}

/**
 * Opens (creating if needed, mode 0600) a file in a private directory for appending — the
 * background log — without following a symbolic link, and checks it is a regular file of ours.
 * @throws VpnError ERR_PRIVILEGE otherwise.
 */
export function openPrivateAppend(path: string): number {
  let fd: number;
  try {
    fd = openSync(
      path,
      fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW,
      0o600,
    );
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new VpnError(
      'ERR_PRIVILEGE',
      code === 'ELOOP'
        ? `refusing to open ${path}: it is a symbolic link`
        : `cannot open ${path}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  const st = fstatSync(fd);
  const euid = process.geteuid?.();
  if (!st.isFile() || (euid !== undefined && st.uid !== euid)) {
    closeSync(fd);
    throw new VpnError(
      'ERR_PRIVILEGE',
      `refusing to open ${path}: it is not a regular file of ours`,
    );
  }
  return fd;
}
