/**
 * The inside half of an unprivileged `vpn exec` (./userns.ts), run by `unshare --user
 * --map-root-user --net --mount` as `node userns-helper.js RESOLV_CONF`: root of a new user
 * namespace that owns a new network and mount namespace, it brings `lo` up, bind-mounts
 * RESOLV_CONF (the caller's private file, rewritten in place with the gateway's DNS) over
 * /etc/resolv.conf, opens the TUN device here and passes its descriptor to the caller over fd 3
 * (SCM_RIGHTS), which stays in the host's namespace with the IKE/ESP socket. Then it prints
 * "ready" and waits: the namespaces live as long as it does, until the caller closes its stdin
 * (or dies). Errors: one line on stderr, exit 1.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { openTun, sendFd } from '../tun/linux.js';

function run(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { timeout: 10000, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const err = (e as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`${cmd} ${args.join(' ')}: ${err || (e as Error).message}`);
  }
}

try {
  const resolv = process.argv[2];
  if (resolv === undefined || !resolv.startsWith('/')) throw new Error('usage: RESOLV_CONF');
  run('ip', ['link', 'set', 'dev', 'lo', 'up']);
  // Our mount namespace is private (unshare's default propagation): the caller sees nothing.
  if (existsSync('/etc/resolv.conf')) run('mount', ['--bind', resolv, '/etc/resolv.conf']);
  else process.stderr.write('vpn exec: no /etc/resolv.conf to cover; DNS left as it is\n');
  const tun = openTun({ name: 'vpn%d' });
  sendFd(3, tun.fd!, Buffer.from(tun.name));
  // The caller holds the device now; our copy goes, so the device ends with the caller's.
  tun.close();
  process.stdout.write('ready\n');
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
}
process.stdin.on('error', () => process.exit(0));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
