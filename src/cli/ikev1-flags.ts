/**
 * The IKE version flags (issue 17): `--ike-version 1|2|auto`, and the IKEv1-only ones
 * (`--xauth-user`, `--xauth-password-file`, `--group-psk-file`, `--ikev1-aggressive`,
 * `--ikev1-legacy`, `--pfs`). Combinations that make no sense are refused here, before any prompt
 * or file is read, with one line and exit 2 (ERR_CONFIG); the warnings the risky ones deserve are
 * worded here too.
 */
import { VpnError } from '../core/errors.js';
import { parseProposals } from '../ike/sa/proposals.js';
import {
  defaultV1Phase1Proposals,
  isLegacyPhase1,
  parseV1Phase1Proposals,
  parseV1Phase2Proposals,
} from '../ikev1/sa-payload.js';
import type { Ikev1TunnelOptions } from '../client/tunnel-types.js';

export type IkeVersionFlag = '1' | '2' | 'auto';
export const IKE_VERSIONS: readonly IkeVersionFlag[] = ['1', '2', 'auto'];

/** The flags this file looks at (a subset of the connect flags). */
export interface VersionFlags {
  ikeVersion?: IkeVersionFlag;
  pskFile?: string;
  groupPskFile?: string;
  xauthUser?: string;
  xauthPasswordFile?: string;
  ikev1Aggressive?: boolean;
  ikev1Legacy?: boolean;
  pfs?: string;
  pq?: string;
  ppkFile?: string;
  ike?: string;
  esp?: string;
}

/** `--group-psk-file` is another name for `--psk-file` (the Cisco "group password"). */
export function pskFileOf(f: VersionFlags): string | undefined {
  return f.pskFile ?? f.groupPskFile;
}

function refuse(message: string): never {
  throw new VpnError('ERR_CONFIG', message);
}

/**
 * `--id keyid:TEXT` (strongSwan's notation): an ID_KEY_ID of TEXT's UTF-8 bytes, as a Cisco group
 * name is sent (vpnc, EzVPN); written `@#hex` for parseIdentity. Anything else is left as it is.
 */
export function cliIdentity(text: string): string {
  const m = /^keyid:(.+)$/s.exec(text);
  return m ? `@#${Buffer.from(m[1]!, 'utf8').toString('hex')}` : text;
}

/** The IKEv1 Group Description of `--pfs NAME` (ecp256, modp2048, curve25519 ...). */
export function pfsGroupOf(name: string): number {
  let group: number | undefined;
  try {
    group = parseV1Phase2Proposals(`aes256gcm16-${name}`, {})[0]?.pfsGroup;
  } catch (e) {
    refuse(`--pfs ${name}: ${(e as Error).message}`);
  }
  if (group === undefined)
    refuse(`--pfs ${name}: name a Diffie-Hellman group such as ecp256, modp2048 or curve25519`);
  return group;
}

/**
 * Checks the IKE version flags against each other and the authentication kind; throws
 * ERR_CONFIG (exit 2) with one line naming both flags.
 */
export function checkIkeVersionFlags(f: VersionFlags, kind: 'psk' | 'cert' | 'eap'): void {
  const version = f.ikeVersion ?? '2';
  if (!IKE_VERSIONS.includes(version))
    refuse(`--ike-version ${version as string}: choose 1, 2 or auto`);
  if (f.pskFile !== undefined && f.groupPskFile !== undefined)
    refuse('--group-psk-file is another name for --psk-file: give one of them');
  if (f.xauthPasswordFile !== undefined && f.xauthUser === undefined)
    refuse('--xauth-password-file needs --xauth-user NAME');
  const v1Only: [string, boolean][] = [
    ['--xauth-user', f.xauthUser !== undefined],
    ['--ikev1-aggressive', f.ikev1Aggressive === true],
    ['--ikev1-legacy', f.ikev1Legacy === true],
    ['--pfs', f.pfs !== undefined],
  ];
  for (const [flag, given] of v1Only)
    if (given && version === '2')
      refuse(
        `${flag} is for IKEv1 gateways: add --ike-version 1 (or auto)${flag === '--pfs' ? '; with IKEv2 name the group in --esp, e.g. aes256gcm16-ecp256' : ''}`,
      );
  if (version === '2') return;
  const v =
    version === '1' ? 'with --ike-version 1' : 'with --ike-version auto (IKEv1 may be used)';
  // IKEv1 authenticates with a PSK or a certificate, then optionally XAUTH (RFC 2409 §5).
  if (kind === 'eap')
    refuse(`EAP is IKEv2 only: ${v}, use --xauth-user for a user name and password`);
  if (f.pq !== undefined && f.pq !== 'off')
    refuse(`--pq ${f.pq} (ML-KEM, RFC 9370) is IKEv2 only: not ${v}`);
  if (f.ppkFile !== undefined) refuse(`--ppk-file (RFC 8784) is IKEv2 only: not ${v}`);
  if (f.ikev1Aggressive && kind !== 'psk')
    refuse('--ikev1-aggressive works with a pre-shared key only (--psk-file/--group-psk-file)');
  if (f.ikev1Aggressive && version === 'auto')
    refuse('--ikev1-aggressive needs --ike-version 1: auto must not fall back to it silently');
  if (f.pfs !== undefined) pfsGroupOf(f.pfs);
  // Proposals: the IKEv1 syntax (no PRF: HMAC of the hash), checked now rather than at connect.
  const both =
    version === 'auto' ? ' (with --ike-version auto they must suit IKEv1 and IKEv2)' : '';
  const check = (flag: string, parse: () => unknown): void => {
    try {
      parse();
    } catch (e) {
      refuse(`${flag}: ${(e as Error).message}${both}`);
    }
  };
  if (f.ike !== undefined) {
    const ike = f.ike;
    check('--ike', () => parseV1Phase1Proposals(ike, { legacy: f.ikev1Legacy === true }));
    if (version === 'auto') check('--ike', () => parseProposals(ike, 'ike'));
  }
  if (f.esp !== undefined) {
    const esp = f.esp;
    check('--esp', () => parseV1Phase2Proposals(esp, {}));
    if (version === 'auto') check('--esp', () => parseProposals(esp, 'esp'));
  }
}

/** The warnings printed before connecting, one line each. */
export function ikev1Warnings(f: VersionFlags): string[] {
  const out: string[] = [];
  if (f.ikev1Aggressive)
    out.push(
      'IKEv1 Aggressive Mode sends a hash of the pre-shared key that anyone on the path can take offline and guess the key from; use Main Mode where the gateway allows it',
    );
  if (f.ikev1Legacy) {
    const offered = parseV1Phase1Proposals(f.ike ?? defaultV1Phase1Proposals(true), {
      legacy: true,
    });
    out.push(
      offered.some(isLegacyPhase1)
        ? '--ikev1-legacy: offering 3DES/SHA-1/MODP-1024, which are weak; use them only with a gateway that offers nothing better'
        : '--ikev1-legacy allows 3DES and MODP-1024, but --ike offers neither: the flag changes nothing',
    );
  }
  return out;
}

/** The tunnel's IKE version options from the flags and the gathered XAUTH password. */
export function ikeVersionOptions(
  f: VersionFlags,
  xauthPassword: string | undefined,
): { ikeVersion?: 1 | 'auto'; ikev1?: Ikev1TunnelOptions } {
  const version = f.ikeVersion ?? '2';
  if (version === '2') return {};
  const ikev1: Ikev1TunnelOptions = {
    ...(f.ikev1Aggressive ? { aggressive: true } : {}),
    ...(f.ikev1Legacy ? { legacy: true } : {}),
    ...(f.pfs !== undefined ? { pfsGroup: pfsGroupOf(f.pfs) } : {}),
    ...(f.xauthUser !== undefined
      ? {
          xauth: {
            user: f.xauthUser,
            password: new TextEncoder().encode(xauthPassword ?? ''),
          },
        }
      : {}),
  };
  return { ikeVersion: version === '1' ? 1 : 'auto', ikev1 };
}
