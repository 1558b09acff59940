/**
 * Turns the authentication flags into the library's `Credentials`: which method (PSK, certificate,
 * EAP), the files to load, and the secrets — from files, environment variables or a no-echo
 * prompt in a terminal. Secrets are gathered once in the process the user started (it owns the
 * terminal) and handed to a `--background` child over IPC; files are loaded where the tunnel runs.
 */
import { readFileSync } from 'node:fs';
import { VpnError } from '../core/errors.js';
import { parseIdentity } from '../ike/identity.js';
import type { Identity } from '../ike/identity.js';
import { IdType } from '../ike/constants.js';
import type { ClientAuth, Credentials, EapMethodName } from '../client/auth.js';
import {
  checkKeyMatchesCert,
  loadCertificates,
  loadPkcs12,
  loadPrivateKey,
  loadTrustAnchors,
} from '../config/credentials.js';
import { readSecretFile as readSecretBytes } from '../config/load.js';
import { readSecretFile } from '../config/credentials.js';
import { Certificate } from '../pki/x509.js';
import { MAX_PPK_BYTES, MAX_PPK_ID_BYTES, MIN_PPK_BYTES } from '../ike/ppk.js';
import { promptSecret } from './prompt.js';
import { checkIkeVersionFlags, pskFileOf } from './ikev1-flags.js';
import type { IkeVersionFlag } from './ikev1-flags.js';

export interface AuthFlags {
  pskFile?: string;
  ca?: string;
  cert?: string;
  key?: string;
  keyPassphraseFile?: string;
  p12?: string;
  p12PasswordFile?: string;
  eapIdentity?: string;
  eap?: string;
  eapPasswordFile?: string;
  eapOnly?: boolean;
  /** commander's --no-host-check sets this false. */
  hostCheck: boolean;
  /** RFC 8784 post-quantum preshared key: its file (mode 600), its ID, and whether it is a must. */
  ppkFile?: string;
  ppkId?: string;
  ppkRequired?: boolean;
  /** IKEv1 (issue 17; checked in ./ikev1-flags.ts): the Cisco-style group PSK and XAUTH user. */
  groupPskFile?: string;
  xauthUser?: string;
  xauthPasswordFile?: string;
  ikeVersion?: IkeVersionFlag;
  ikev1Aggressive?: boolean;
  ikev1Legacy?: boolean;
  pfs?: string;
  pq?: string;
}

/** Secrets gathered up front (strings; the PSK base64 so any bytes survive IPC). */
export interface Secrets {
  psk?: string;
  eapPassword?: string;
  keyPassphrase?: string;
  p12Password?: string;
  /** The RFC 8784 PPK, base64. */
  ppk?: string;
  /** IKEv1 XAUTH password (draft-beaulieu-ike-xauth-02). */
  xauthPassword?: string;
}

const EAP_METHODS: readonly EapMethodName[] = ['mschapv2', 'md5', 'gtc', 'tls'];

export type AuthKind = 'psk' | 'cert' | 'eap';

export function authKind(flags: AuthFlags): AuthKind {
  if (flags.eapIdentity !== undefined || flags.eap !== undefined) return 'eap';
  if (flags.cert !== undefined || flags.p12 !== undefined) return 'cert';
  return 'psk';
}

export function eapMethods(flags: AuthFlags): EapMethodName[] {
  if (flags.eap === undefined) return [...EAP_METHODS];
  const out: EapMethodName[] = [];
  for (const m of flags.eap.split(',').map((s) => s.trim().toLowerCase())) {
    const name = m.replace(/^eap-/, '');
    if (!(EAP_METHODS as readonly string[]).includes(name))
      throw new VpnError(
        'ERR_CONFIG',
        `unknown EAP method "${m}": choose from ${EAP_METHODS.join(', ')}`,
      );
    out.push(name as EapMethodName);
  }
  if (out.length === 0) throw new VpnError('ERR_CONFIG', '--eap needs at least one method');
  return out;
}

/** Checks that the flags make sense together, before anything is prompted or loaded. */
export function checkAuthFlags(flags: AuthFlags): void {
  const kind = authKind(flags);
  if (flags.cert !== undefined && flags.p12 !== undefined)
    throw new VpnError('ERR_CONFIG', 'use either --cert/--key or --p12, not both');
  if (flags.cert !== undefined && flags.key === undefined)
    throw new VpnError('ERR_CONFIG', "--cert needs --key (the certificate's private key)");
  if (flags.key !== undefined && flags.cert === undefined)
    throw new VpnError('ERR_CONFIG', '--key needs --cert');
  if (kind !== 'psk' && pskFileOf(flags) !== undefined)
    throw new VpnError(
      'ERR_CONFIG',
      `${flags.groupPskFile !== undefined ? '--group-psk-file' : '--psk-file'} cannot be combined with certificate or EAP authentication`,
    );
  if (kind === 'eap') {
    if (flags.eapIdentity === undefined)
      throw new VpnError('ERR_CONFIG', '--eap needs --eap-identity NAME');
    const methods = eapMethods(flags);
    if (
      methods.length === 1 &&
      methods[0] === 'tls' &&
      flags.cert === undefined &&
      flags.p12 === undefined
    )
      throw new VpnError('ERR_CONFIG', 'EAP-TLS needs a client certificate: --cert/--key or --p12');
  }
  if (flags.eapOnly && kind !== 'eap')
    throw new VpnError('ERR_CONFIG', '--eap-only applies to EAP authentication only');
  if ((flags.ppkFile === undefined) !== (flags.ppkId === undefined))
    throw new VpnError(
      'ERR_CONFIG',
      '--ppk-file and --ppk-id go together: the post-quantum preshared key and the ID the gateway knows it by',
    );
  if (flags.ppkRequired && flags.ppkFile === undefined)
    throw new VpnError('ERR_CONFIG', '--ppk-required needs --ppk-file and --ppk-id');
  if (flags.ppkFile !== undefined && kind === 'eap')
    throw new VpnError(
      'ERR_CONFIG',
      '--ppk-file works with a pre-shared key or certificate authentication; RFC 8784 with EAP is not implemented',
    );
  if (flags.ppkId !== undefined) ppkIdBytes(flags.ppkId);
  checkIkeVersionFlags(flags, kind);
}

/** The PPK ID as sent in PPK_IDENTITY (RFC 8784 §5.1): its UTF-8 bytes, 1 to 255 of them. */
export function ppkIdBytes(id: string): Uint8Array {
  const b = new TextEncoder().encode(id);
  if (b.length < 1 || b.length > MAX_PPK_ID_BYTES)
    throw new VpnError('ERR_CONFIG', `--ppk-id must be 1 to ${MAX_PPK_ID_BYTES} bytes`);
  return b;
}

async function secretFrom(
  file: string | undefined,
  env: string,
  what: string,
  prompt: string | undefined,
  interactive: boolean,
  fromProfile?: string,
): Promise<string | undefined> {
  if (file !== undefined) return readSecretFile(file, `${what} file`);
  const v = process.env[env];
  if (v !== undefined && v !== '') return v;
  if (fromProfile !== undefined) return fromProfile;
  if (prompt !== undefined && interactive) {
    const s = await promptSecret(prompt);
    if (s === '') throw new VpnError('ERR_CONFIG', `empty ${what}`);
    return s;
  }
  return undefined;
}

function isEncryptedKeyFile(path: string): boolean {
  try {
    const text = readFileSync(path, 'latin1');
    return /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text);
  } catch {
    return false; // the loader reports unreadable files
  }
}

/** Reads or asks for every secret the chosen method needs. */
export async function gatherSecrets(
  flags: AuthFlags,
  interactive: boolean,
  /** Secrets a profile holds, as plain text: after the files and environment variables. */
  fromProfile: Partial<Record<keyof Secrets, string>> = {},
): Promise<Secrets> {
  checkAuthFlags(flags);
  const kind = authKind(flags);
  const s: Secrets = {};
  if (kind === 'psk') {
    // A PSK file is taken byte for byte (any bytes; trailing newlines dropped), the rest as text.
    const pskFile = pskFileOf(flags);
    if (pskFile !== undefined) {
      s.psk = Buffer.from(readSecretBytes(pskFile, 'PSK')).toString('base64');
    } else {
      const psk = await secretFrom(
        undefined,
        'VPN_PSK',
        'PSK',
        'Pre-shared key: ',
        interactive,
        fromProfile.psk,
      );
      if (psk === undefined)
        throw new VpnError(
          'ERR_CONFIG',
          'no pre-shared key: use --psk-file PATH (mode 600) or the VPN_PSK environment variable (or a certificate: --cert/--key, or EAP: --eap-identity)',
        );
      s.psk = Buffer.from(psk, 'utf8').toString('base64');
    }
  }
  if (flags.ppkFile !== undefined) {
    // Like a PSK file: mode 600, byte for byte (trailing newlines dropped).
    const ppk = readSecretBytes(flags.ppkFile, 'PPK');
    if (ppk.length < MIN_PPK_BYTES || ppk.length > MAX_PPK_BYTES)
      throw new VpnError(
        'ERR_CONFIG',
        `the PPK in ${flags.ppkFile} has ${ppk.length} bytes; RFC 8784 §3 wants at least ${MIN_PPK_BYTES} (256 bits of entropy are recommended), at most ${MAX_PPK_BYTES} here`,
      );
    s.ppk = Buffer.from(ppk).toString('base64');
  }
  if (kind === 'eap' && eapMethods(flags).some((m) => m !== 'tls')) {
    const pw = await secretFrom(
      flags.eapPasswordFile,
      'VPN_EAP_PASSWORD',
      'EAP password',
      `EAP password for ${flags.eapIdentity ?? ''}: `,
      interactive,
      fromProfile.eapPassword,
    );
    if (pw !== undefined) s.eapPassword = pw;
    else if (!eapMethods(flags).includes('tls'))
      throw new VpnError(
        'ERR_CONFIG',
        'no EAP password: use --eap-password-file PATH (mode 600) or VPN_EAP_PASSWORD, or run in a terminal to be asked',
      );
  }
  if (flags.xauthUser !== undefined) {
    // Like the EAP password: a file (mode 600), VPN_XAUTH_PASSWORD, the profile, or a prompt.
    const pw = await secretFrom(
      flags.xauthPasswordFile,
      'VPN_XAUTH_PASSWORD',
      'XAUTH password',
      `XAUTH password for ${flags.xauthUser}: `,
      interactive,
      fromProfile.xauthPassword,
    );
    if (pw === undefined)
      throw new VpnError(
        'ERR_CONFIG',
        'no XAUTH password: use --xauth-password-file PATH (mode 600) or VPN_XAUTH_PASSWORD, or run in a terminal to be asked',
      );
    s.xauthPassword = pw;
  }
  if (flags.key !== undefined && isEncryptedKeyFile(flags.key)) {
    const pw = await secretFrom(
      flags.keyPassphraseFile,
      'VPN_KEY_PASSPHRASE',
      'key passphrase',
      `Passphrase for ${flags.key}: `,
      interactive,
      fromProfile.keyPassphrase,
    );
    if (pw !== undefined) s.keyPassphrase = pw;
  }
  if (flags.p12 !== undefined) {
    const pw = await secretFrom(
      flags.p12PasswordFile,
      'VPN_P12_PASSWORD',
      'PKCS#12 password',
      `Password for ${flags.p12}: `,
      interactive,
      fromProfile.p12Password,
    );
    s.p12Password = pw ?? '';
  }
  return s;
}

/** Loads the files and builds the library's credentials; also the default IDi, if any. */
export function buildCredentials(
  flags: AuthFlags,
  secrets: Secrets,
): { credentials: Credentials; defaultId?: Identity; anchorsSource?: string } {
  checkAuthFlags(flags);
  const kind = authKind(flags);
  let certKey: { key: import('node:crypto').KeyObject; certs: Uint8Array[] } | undefined;
  if (flags.cert !== undefined && flags.key !== undefined) {
    const certs = loadCertificates(flags.cert);
    const key = loadPrivateKey(flags.key, () => secrets.keyPassphrase);
    checkKeyMatchesCert(key, certs[0]!, flags.key, flags.cert);
    certKey = { key, certs };
  } else if (flags.p12 !== undefined) {
    certKey = loadPkcs12(flags.p12, secrets.p12Password ?? '');
  }
  // The gateway's certificate is checked against --ca, or the system store; with a PSK only if
  // --ca was given (then either proof is accepted).
  let anchors: Uint8Array[] | undefined;
  let anchorsSource: string | undefined;
  if (kind !== 'psk' || flags.ca !== undefined) {
    const t = loadTrustAnchors(flags.ca);
    anchors = t.certs;
    anchorsSource = t.source;
  }
  let auth: ClientAuth;
  let defaultId: Identity | undefined;
  switch (kind) {
    case 'psk':
      auth = { kind: 'psk', psk: new Uint8Array(Buffer.from(secrets.psk ?? '', 'base64')) };
      break;
    case 'cert': {
      if (!certKey) throw new VpnError('ERR_CONFIG', 'no client certificate');
      auth = { kind: 'cert', key: certKey.key, certs: certKey.certs };
      // strongSwan's default: the certificate's subject DN is our identity.
      defaultId = {
        type: IdType.DER_ASN1_DN,
        data: Certificate.fromDer(certKey.certs[0]!).subjectDer,
      };
      break;
    }
    case 'eap': {
      const identity = flags.eapIdentity ?? '';
      // Our IKE identity defaults to the EAP identity (what strongSwan's clients send).
      defaultId = parseIdentity(identity);
      auth = {
        kind: 'eap',
        identity,
        methods: eapMethods(flags),
        ...(secrets.eapPassword !== undefined
          ? { password: new TextEncoder().encode(secrets.eapPassword) }
          : {}),
        ...(certKey ? { tlsKey: certKey.key, tlsCerts: certKey.certs } : {}),
      };
      break;
    }
  }
  const credentials: Credentials = {
    auth,
    ...(anchors ? { anchors } : {}),
    ...(flags.hostCheck ? {} : { gatewayName: false as const }),
    ...(flags.eapOnly ? { eapOnly: true } : {}),
  };
  return {
    credentials,
    ...(defaultId ? { defaultId } : {}),
    ...(anchorsSource !== undefined ? { anchorsSource } : {}),
  };
}
