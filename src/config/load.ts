/**
 * Reading secrets and settings from files and the environment (an I/O edge).
 */
import { readFileSync, statSync } from 'node:fs';
import { VpnError } from '../core/errors.js';

/**
 * Reads a secret from a file that only its owner may read, like ssh does for private keys:
 * any group or other permission bit is refused. Trailing newlines are stripped.
 */
export function readSecretFile(path: string, what: string): Uint8Array {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new VpnError(
      'ERR_CONFIG',
      `cannot read ${what} file ${path}: ${code === 'ENOENT' ? 'no such file' : String(code)}`,
    );
  }
  if (!st.isFile()) throw new VpnError('ERR_CONFIG', `${what} file ${path} is not a regular file`);
  if ((st.mode & 0o077) !== 0) {
    throw new VpnError(
      'ERR_CONFIG',
      `${what} file ${path} is accessible by others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); run: chmod 600 ${path}`,
    );
  }
  const data = readFileSync(path);
  let end = data.length;
  while (end > 0 && (data[end - 1] === 0x0a || data[end - 1] === 0x0d)) end--;
  if (end === 0) throw new VpnError('ERR_CONFIG', `${what} file ${path} is empty`);
  return new Uint8Array(data.subarray(0, end));
}

/** Runtime directory for control sockets and journals. */
export function runtimeDir(): string {
  const env = process.env['VPN_RUNTIME_DIR'];
  if (env) return env;
  if (process.getuid?.() === 0) return '/run/ikev2-vpn';
  const xdg = process.env['XDG_RUNTIME_DIR'];
  return xdg ? `${xdg}/ikev2-vpn` : `/tmp/ikev2-vpn-${process.getuid?.() ?? 'user'}`;
}
