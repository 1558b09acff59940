/**
 * Reading secrets and settings from files and the environment (an I/O edge).
 */
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

/** Runtime directory for control sockets and journals. */
export function runtimeDir(): string {
  const env = process.env['VPN_RUNTIME_DIR'];
  if (env) return env;
  if (process.getuid?.() === 0) return '/run/ikev2-vpn';
  const xdg = process.env['XDG_RUNTIME_DIR'];
  return xdg ? `${xdg}/ikev2-vpn` : `/tmp/ikev2-vpn-${process.getuid?.() ?? 'user'}`;
}
