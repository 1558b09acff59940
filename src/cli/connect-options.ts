/**
 * The options of `vpn connect` (also taken by `vpn exec` and profiles): their declarations and
 * argument checks, and the TunnelOptions built from them (src/client/tunnel-types.ts).
 */
import { InvalidArgumentError, Option } from 'commander';
import type { Command } from 'commander';
import type { TunnelOptions } from '../client/tunnel.js';
import { retransmitPolicyFor } from '../client/retransmit.js';
import { runtimeDir } from '../config/load.js';
import { buildCredentials, ppkIdBytes } from './credentials.js';
import type { AuthFlags, Secrets } from './credentials.js';
import type { Ui } from './ui.js';
import { IKE_VERSIONS, ikeVersionOptions, ikev1Warnings } from './ikev1-flags.js';
import type { IkeVersionFlag } from './ikev1-flags.js';

export interface ConnectFlags extends AuthFlags {
  id?: string;
  remoteId?: string;
  ikeFragmentSize: number;
  killSwitch?: boolean;
  rekeyBytes?: number;
  rekeyPackets?: number;
  port: number;
  ike?: string;
  esp?: string;
  dns: 'auto' | 'off';
  pq: 'required' | 'preferred' | 'off';
  ikeVersion: IkeVersionFlag;
  background?: boolean;
  json?: boolean;
  verbose?: boolean;
  name: string;
  mtu?: number;
  keepalive: number;
  timeout: number;
  dpd: number;
  rekey: number;
  ikeRekey: number;
  retry: number | 'forever';
  remoteNet?: string[];
  exclude?: string[];
  ipv6: boolean;
  /** commander's --no-redirect sets this false. */
  redirect: boolean;
  daemonChild?: boolean;
  socks5?: string;
  httpProxy?: string;
}

export function intArg(min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    }
    return n;
  };
}

/** A byte count with an optional K/M/G/T suffix (powers of 1024). */
export function sizeArg(v: string): number {
  const m = /^(\d+)([KMGT]?)B?$/i.exec(v.trim());
  if (!m) throw new InvalidArgumentError('a byte count such as 1000000, 500M or 4G');
  const mult = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }[m[2]!.toUpperCase()]!;
  const n = Number(m[1]) * mult;
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('out of range');
  return n;
}

export function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

/** Declares the connect options on `cmd` (connect's own; `vpn exec` copies them). */
export function addConnectOptions(cmd: Command): Command {
  return cmd
    .option('--profile <name>', 'read the settings from profile NAME.conf (flags given here win)')
    .option(
      '--id <id>',
      'our IKE identity (IDi): user@example.com, @host, or an IP; default: our IP',
    )
    .option('--remote-id <id>', "gateway's expected identity (IDr), e.g. @gw.example.com")
    .option(
      '--psk-file <path>',
      'file holding the pre-shared key (must not be readable by others); or set VPN_PSK',
    )
    .option(
      '--group-psk-file <path>',
      'the same as --psk-file: the group PSK ("group password") of a Cisco-style IKEv1 gateway',
    )
    .addOption(
      new Option(
        '--ike-version <v>',
        'IKE version: 2, 1 (IKEv1), or auto (IKEv2, then IKEv1 when the gateway does not answer or refuses IKEv2)',
      )
        .choices(IKE_VERSIONS)
        .default('2'),
    )
    .option('--xauth-user <name>', 'IKEv1: authenticate with XAUTH as this user after Phase 1')
    .option(
      '--xauth-password-file <path>',
      'IKEv1: the XAUTH password (mode 600); or set VPN_XAUTH_PASSWORD, or answer the prompt',
    )
    .option(
      '--ikev1-aggressive',
      'IKEv1 Aggressive Mode (PSK only): exposes a hash of the PSK to offline guessing',
    )
    .option('--ikev1-legacy', 'IKEv1: also allow 3DES, SHA-1 and MODP-1024 in Phase 1 (weak)')
    .option(
      '--pfs <group>',
      'IKEv1 Quick Mode PFS with this group, e.g. ecp256, modp2048, curve25519 (IKEv2: put it in --esp)',
    )
    .option(
      '--ppk-file <path>',
      'post-quantum preshared key (RFC 8784) in a file not readable by others; needs --ppk-id',
    )
    .option('--ppk-id <id>', 'the ID the gateway knows the PPK by (PPK_IDENTITY)')
    .option(
      '--ppk-required',
      'fail (exit 4) unless the gateway uses the PPK; default: go on without it, with a warning',
    )
    .option(
      '--no-redirect',
      'refuse gateway redirects (RFC 5685) and do not announce support for them',
    )
    .option(
      '--ca <file|dir>',
      "CA certificate(s) that vouch for the gateway's certificate (PEM/DER file or folder); default: the system store",
    )
    .option('--cert <file>', 'our certificate (PEM/DER; intermediates may follow in the file)')
    .option(
      '--key <file>',
      'private key of --cert (PEM/DER, PKCS#8 or PKCS#1/SEC1; may be encrypted)',
    )
    .option(
      '--key-passphrase-file <path>',
      'passphrase of an encrypted --key; or set VPN_KEY_PASSPHRASE, or answer the prompt',
    )
    .option('--p12 <file>', 'our certificate and key as PKCS#12 (instead of --cert/--key)')
    .option(
      '--p12-password-file <path>',
      'password of --p12; or set VPN_P12_PASSWORD, or answer the prompt',
    )
    .option('--eap-identity <name>', 'authenticate with EAP as this user')
    .option(
      '--eap <methods>',
      'EAP methods we accept, comma-separated: mschapv2,md5,gtc,tls (default: all)',
    )
    .option(
      '--eap-password-file <path>',
      'EAP password; or set VPN_EAP_PASSWORD, or answer the prompt',
    )
    .option(
      '--eap-only',
      'accept a gateway that proves itself only through EAP-TLS (RFC 5998), without AUTH: password methods are never used with it',
    )
    .option(
      '--no-host-check',
      "do not require the gateway's certificate to name the host we dialled; needs --remote-id, the identity it must carry instead",
    )
    .addOption(
      new Option(
        '--ike-fragment-size <bytes>',
        'largest IKE datagram before IKE fragmentation (RFC 7383)',
      )
        .default(1280)
        .argParser(intArg(576, 65535)),
    )
    .addOption(
      new Option('--port <n>', 'gateway IKE port').default(500).argParser(intArg(1, 65535)),
    )
    .option(
      '--ike <proposals>',
      'IKE proposals in strongSwan syntax, e.g. aes256gcm16-prfsha256-x25519',
    )
    .option(
      '--esp <proposals>',
      'ESP proposals in strongSwan syntax, e.g. aes256gcm16,chacha20poly1305',
    )
    .addOption(
      new Option(
        '--pq <mode>',
        'post-quantum key exchange (ML-KEM with RFC 9370): required (refuse a gateway without it), preferred (offer it first), off',
      )
        .choices(['required', 'preferred', 'off'])
        .default('off'),
    )
    .addOption(
      new Option('--dns <mode>', 'use the DNS servers the gateway assigns')
        .choices(['auto', 'off'])
        .default('auto'),
    )
    .option(
      '--remote-net <cidr>',
      'network to route through the tunnel (repeatable; default: all)',
      collect,
    )
    .option(
      '--exclude <cidr>',
      'network kept on its usual path even where the tunnel routes cover it (repeatable; not with --kill-switch)',
      collect,
    )
    .option('--no-ipv6', 'do not ask for an IPv6 address, IPv6 DNS or IPv6 traffic selectors')
    .addOption(new Option('--mtu <n>', 'TUN device MTU').argParser(intArg(576, 9000)))
    .addOption(
      new Option('--keepalive <seconds>', 'NAT-T keepalive interval (0 = off)')
        .default(20)
        .argParser(intArg(0, 3600)),
    )
    .addOption(
      new Option(
        '--retry <n|forever>',
        'reconnect attempts after the connection is lost (0 = exit)',
      )
        .default(3)
        .argParser((v) => {
          if (v === 'forever') return 'forever';
          const n = Number(v);
          if (!Number.isInteger(n) || n < 0 || n > 1000)
            throw new InvalidArgumentError('a number or "forever"');
          return n;
        }),
    )
    .addOption(
      new Option(
        '--ike-rekey <seconds>',
        'rekey the IKE SA after this long (0 = leave it to the gateway)',
      )
        .default(12600)
        .argParser(intArg(0, 30 * 86400)),
    )
    .addOption(
      new Option(
        '--rekey <seconds>',
        'rekey the CHILD_SA after this long (0 = leave it to the gateway)',
      )
        .default(3000)
        .argParser(intArg(0, 7 * 86400)),
    )
    .addOption(
      new Option(
        '--rekey-bytes <n>',
        'also rekey the CHILD_SA after this much traffic in either direction (e.g. 500M, 4G)',
      ).argParser(sizeArg),
    )
    .addOption(
      new Option(
        '--rekey-packets <n>',
        'also rekey the CHILD_SA after this many packets in either direction',
      ).argParser(intArg(1, 2 ** 32 - 1)),
    )
    .addOption(
      new Option(
        '--dpd <seconds>',
        'check the gateway is alive after this long without traffic (0 = off)',
      )
        .default(30)
        .argParser(intArg(0, 3600)),
    )
    .addOption(
      new Option('--timeout <seconds>', 'give up connecting after this long')
        .default(30)
        .argParser(intArg(1, 600)),
    )
    .addOption(
      new Option('--name <name>', 'tunnel name for status/disconnect')
        .default('default')
        .argParser((v) => {
          if (!/^[A-Za-z0-9_.-]{1,32}$/.test(v))
            throw new InvalidArgumentError('letters, digits, _ . - only');
          return v;
        }),
    )
    .option(
      '--kill-switch',
      'block all traffic that does not go through the tunnel, from connecting until vpn exits',
    )
    .option(
      '--socks5 <[addr:]port>',
      'proxy mode: no TUN device, route or DNS change, no root; serve SOCKS5 on ADDR:PORT (default address 127.0.0.1) through the tunnel (needs ocproxy)',
    )
    .addOption(
      new Option(
        '--http-proxy <addr:port>',
        'not available: ocproxy serves SOCKS5 only',
      ).hideHelp(),
    );
}

export function tunnelOptions(
  gateway: string,
  flags: ConnectFlags,
  secrets: Secrets,
  ui: Ui,
): TunnelOptions {
  const { credentials, defaultId, anchorsSource } = buildCredentials(flags, secrets);
  if (anchorsSource !== undefined) ui.logger().debug('ike', `trusted CAs: ${anchorsSource}`);
  for (const message of ikev1Warnings(flags)) ui.onEvent({ type: 'warning', message });
  return {
    gateway,
    port: flags.port,
    credentials,
    ikeFragmentSize: flags.ikeFragmentSize,
    // VPN_FAST_PATH=0 forces the JavaScript ESP path (for comparisons and as a fallback).
    fastPath: process.env['VPN_FAST_PATH'] !== '0',
    // VPN_TUN_OFFLOAD=1: TUN offloads (TSO/USO split in the native data plane); off by default.
    ...(process.env['VPN_TUN_OFFLOAD'] === '1' ? { tunOffload: true } : {}),
    ...(flags.killSwitch ? { killSwitch: true } : {}),
    ...(flags.rekeyBytes !== undefined ? { rekeyBytes: flags.rekeyBytes } : {}),
    ...(flags.rekeyPackets !== undefined ? { rekeyPackets: flags.rekeyPackets } : {}),
    ...(defaultId && !flags.id ? { localIdentity: defaultId } : {}),
    dns: flags.dns,
    pq: flags.pq,
    keepaliveMs: flags.keepalive * 1000,
    dpdMs: flags.dpd * 1000,
    rekeyMs: flags.rekey * 1000,
    ikeRekeyMs: flags.ikeRekey * 1000,
    retry: flags.retry,
    retransmit: retransmitPolicyFor(flags.timeout * 1000),
    journalPath: `${runtimeDir()}/${flags.name}.journal`,
    logger: ui.logger(),
    ...(flags.id ? { localId: flags.id } : {}),
    ...(flags.remoteId ? { remoteId: flags.remoteId } : {}),
    ...(flags.ike ? { ikeProposals: flags.ike } : {}),
    ...(flags.esp ? { espProposals: flags.esp } : {}),
    ...(flags.mtu ? { mtu: flags.mtu } : {}),
    ...(flags.remoteNet ? { remoteNetworks: flags.remoteNet } : {}),
    ...(flags.exclude?.length ? { excludeNetworks: flags.exclude } : {}),
    ip6: flags.ipv6,
    ...(!flags.redirect ? { redirect: false } : {}),
    ...ikeVersionOptions(flags, secrets.xauthPassword),
    ...(secrets.ppk !== undefined && flags.ppkId !== undefined
      ? {
          ppk: {
            id: ppkIdBytes(flags.ppkId),
            key: new Uint8Array(Buffer.from(secrets.ppk, 'base64')),
            required: flags.ppkRequired === true,
          },
        }
      : {}),
  };
}
