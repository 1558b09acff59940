/**
 * `vpn install-service NAME`: installs systemd/ikev2-vpn@.service (the unit shipped in the
 * package) with its ExecStart pointing at this node and this vpn, then enables and starts
 * ikev2-vpn@NAME (`vpn connect NAME` in the foreground, Type=notify). Where systemd does not run
 * (a container, a chroot) or with --no-enable it says what to run instead.
 */
import type { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VpnError } from '../core/errors.js';
import { printable } from '../core/printable.js';
import { findProfile, fsIo, loadProfile } from '../config/profile.js';
import { EXIT, exitCodeFor } from './exit-codes.js';

export const UNIT_NAME = 'ikev2-vpn@.service';

/** The unit file shipped in the package (<root>/systemd/; this file is in dist/src/cli). */
export function shippedUnitPath(): string {
  return fileURLToPath(new URL(`../../../systemd/${UNIT_NAME}`, import.meta.url));
}

/** The `vpn` this process runs (bin/vpn.js of this package). */
function vpnBin(): string {
  return fileURLToPath(new URL('../../../bin/vpn.js', import.meta.url));
}

/**
 * One ExecStart word: systemd splits on spaces, expands `%` specifiers and `$` variables, so
 * those are escaped; a path with a quote, a backslash or a control character is refused.
 */
export function unitWord(path: string): string {
  if (/["'\\\u0000-\u001f\u007f]/.test(path))
    throw new VpnError('ERR_CONFIG', `cannot put ${JSON.stringify(path)} in a unit file`);
  const escaped = path.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  return /\s/.test(escaped) ? `"${escaped}"` : escaped;
}

/** The shipped unit with ExecStart running `node bin/vpn.js connect %i` from this package. */
export function unitText(template: string, node: string, bin: string): string {
  const lines = template.split('\n');
  const i = lines.findIndex((l) => l.startsWith('ExecStart='));
  if (i < 0) throw new VpnError('ERR_CONFIG', `${UNIT_NAME} has no ExecStart line`);
  lines[i] = `ExecStart=${unitWord(node)} ${unitWord(bin)} connect %i`;
  return lines.join('\n');
}

/**
 * Under a service (systemd waits for READY=1: $NOTIFY_SOCKET is set), `retry` defaults to
 * forever: a tunnel must survive a network that is gone for minutes. A `--retry` on the command
 * line or a `retry =` in the profile still wins.
 */
export function serviceRetryForever(
  env: NodeJS.ProcessEnv,
  retrySource: string | undefined,
  profile: { values: Record<string, unknown> } | undefined,
): boolean {
  return (
    (env['NOTIFY_SOCKET'] ?? '') !== '' &&
    retrySource !== 'cli' &&
    profile?.values['retry'] === undefined
  );
}

function fail(e: unknown): number {
  const code = e instanceof VpnError ? exitCodeFor(e.code) : EXIT.INTERNAL;
  process.stderr.write(`vpn: ${printable((e as Error).message)}\n`);
  return code;
}

export function registerInstallService(program: Command, setExit: (code: number) => void): void {
  program
    .command('install-service')
    .description(
      'install the systemd unit ikev2-vpn@.service and enable ikev2-vpn@NAME (vpn connect NAME at boot)',
    )
    .argument('<name>', 'profile name (NAME.conf, see vpn profiles)')
    .option('--unit-dir <dir>', 'where to write the unit', '/etc/systemd/system')
    .option('--no-enable', 'only write the unit; print the systemctl commands to run')
    .option('--print', 'print the unit on stdout; write nothing')
    .action((name: string, flags: { unitDir: string; enable: boolean; print?: boolean }) => {
      try {
        if (!/^[A-Za-z0-9_-]{1,32}$/.test(name))
          throw new VpnError(
            'ERR_CONFIG',
            `${JSON.stringify(name)} is not a profile name (up to 32 letters, digits, _ and -)`,
          );
        // The service runs `vpn connect NAME`: refuse a profile that would fail there.
        const path = findProfile(name, fsIo.dirs(), (p) => fsIo.exists(p));
        if (path === undefined)
          throw new VpnError(
            'ERR_CONFIG',
            `no profile named ${name} in ${fsIo.dirs().join(' or ')}; write /etc/ikev2-vpn/${name}.conf first (or vpn import FILE --name ${name})`,
          );
        loadProfile(name, path, fsIo);
        const unit = unitText(readFileSync(shippedUnitPath(), 'utf8'), process.execPath, vpnBin());
        if (flags.print) {
          process.stdout.write(unit);
          return setExit(EXIT.OK);
        }
        if (!path.startsWith('/etc/ikev2-vpn/'))
          process.stderr.write(
            printable(
              `warning: the service runs as root and reads /etc/ikev2-vpn/${name}.conf, not ${path}`,
            ) + '\n',
          );
        const target = join(flags.unitDir, UNIT_NAME);
        const tmp = `${target}.tmp-${process.pid}`;
        try {
          writeFileSync(tmp, unit, { mode: 0o644, flag: 'wx' });
          chmodSync(tmp, 0o644);
          renameSync(tmp, target);
        } catch (e) {
          throw new VpnError(
            'ERR_CONFIG',
            `cannot write ${target} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); run as root, or name another folder with --unit-dir`,
          );
        }
        process.stderr.write(printable(`wrote ${target}`) + '\n');
        const instance = `ikev2-vpn@${name}.service`;
        const manual = `systemctl daemon-reload && systemctl enable --now ${instance}`;
        if (!flags.enable || !existsSync('/run/systemd/system')) {
          process.stderr.write(
            `${flags.enable ? 'systemd is not running here; ' : ''}to start it now and at boot, run: ${manual}\n`,
          );
          return setExit(EXIT.OK);
        }
        for (const args of [['daemon-reload'], ['enable', '--now', instance]]) {
          const r = spawnSync('systemctl', args, { stdio: 'inherit', timeout: 120000 });
          if (r.status !== 0)
            throw new VpnError(
              'ERR_CONFIG',
              `systemctl ${args.join(' ')} failed (${r.status ?? r.signal}); see: journalctl -u ${instance}`,
            );
        }
        process.stderr.write(
          `${instance} enabled and started; follow it with: journalctl -u ${instance} -f\n`,
        );
        setExit(EXIT.OK);
      } catch (e) {
        setExit(fail(e));
      }
    });
}
