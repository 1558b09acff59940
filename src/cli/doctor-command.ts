/**
 * `vpn doctor`: which native addons this installation loads, and from where (a prebuilt binary
 * shipped in the package, a local build, or none), and what follows for the data path: ESP on the
 * native data plane or on the JavaScript path, TUN mode possible or not. Loads the addons (as
 * `vpn connect` would) but opens no device and needs no privilege.
 * Exit status: 0 when the TUN addon loads, 8 (as `vpn connect` without it) when it does not.
 */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { printable, printableJson } from '../core/printable.js';
import { nativeEspStatus } from '../esp/native.js';
import { dataPlaneStatus } from '../fastpath/dataplane.js';
import { packageRoot } from '../native/addons.js';
import type { AddonStatus } from '../native/addons.js';
import { tunAddonStatus } from '../tun/linux.js';
import { EXIT } from './exit-codes.js';

export interface DoctorReport {
  version: string;
  node: string;
  platform: string;
  arch: string;
  addons: {
    tun: AddonStatus;
    esp: AddonStatus & { opensslVersion?: string };
  };
  /** Which ESP implementation a tunnel with AEAD proposals would use, and why not the faster. */
  espPath: 'threaded' | 'js';
  espPathReason?: string;
  /** TUN mode (`vpn connect`, `vpn exec`) needs the TUN addon. */
  tunMode: boolean;
}

function packageVersion(): string {
  const root = packageRoot();
  try {
    const pkg = JSON.parse(readFileSync(join(root ?? '.', 'package.json'), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

export function doctorReport(env: NodeJS.ProcessEnv = process.env): DoctorReport {
  const tun = tunAddonStatus();
  const st = nativeEspStatus();
  const esp: DoctorReport['addons']['esp'] = st.available
    ? {
        available: true,
        source: st.source === 'path' ? 'build' : st.source,
        path: st.path,
        opensslVersion: st.opensslVersion,
      }
    : st;
  const dp = dataPlaneStatus();
  const off = env['VPN_FAST_PATH'] === '0';
  const reason = off ? 'turned off (VPN_FAST_PATH=0)' : dp.available ? undefined : dp.reason;
  return {
    version: packageVersion(),
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    addons: { tun, esp },
    espPath: reason === undefined ? 'threaded' : 'js',
    ...(reason !== undefined ? { espPathReason: reason } : {}),
    tunMode: tun.available,
  };
}

function addonLine(s: AddonStatus): string {
  if (!s.available) return `not available: ${s.reason}`;
  return `${s.source === 'prebuild' ? 'prebuilt' : 'local build'} ${s.path}`;
}

export function doctorLines(r: DoctorReport): string[] {
  const lines = [
    `vpn ${r.version} on Node ${r.node}, ${r.platform}-${r.arch}`,
    `TUN addon:  ${addonLine(r.addons.tun)}`,
    `ESP addon:  ${addonLine(r.addons.esp)}${r.addons.esp.opensslVersion ? ` (${r.addons.esp.opensslVersion})` : ''}`,
    `ESP path:   ${r.espPath === 'threaded' ? 'native data plane (its own threads)' : `JavaScript (${r.espPathReason ?? ''})`}`,
    `TUN mode:   ${r.tunMode ? 'ready (needs root or CAP_NET_ADMIN to connect)' : 'not possible without the TUN addon'}`,
  ];
  return lines.map(printable);
}

export function registerDoctor(program: Command, setExit: (code: number) => void): void {
  program
    .command('doctor')
    .description('show which native addons are loaded (prebuilt, local build or none)')
    .option('--json', 'machine-readable output')
    .action((flags: { json?: boolean }) => {
      const r = doctorReport();
      if (flags.json) process.stdout.write(printableJson(r) + '\n');
      else process.stdout.write(doctorLines(r).join('\n') + '\n');
      setExit(r.tunMode ? EXIT.OK : EXIT.PRIVILEGE);
    });
}
