/**
 * `vpn import` of an Apple configuration profile (`.mobileconfig`): a plist whose PayloadContent
 * holds a `com.apple.vpn.managed` payload with VPNType IKEv2 and its IKEv2 dictionary, plus the
 * certificates it refers to (`com.apple.security.pkcs12` by PayloadCertificateUUID, CA
 * certificates as `com.apple.security.root` / `pkcs1` / `pem`). Pure: the caller reads the file
 * and checks a CMS signature (src/cli/import-command.ts); the XML is parsed by the `plist`
 * package, never by hand.
 */
import { parse as parsePlist } from 'plist';
import type { PlistValue } from 'plist';
import { VpnError } from '../core/errors.js';
import { DEFAULT_ESP_PROPOSALS } from '../ike/sa/proposals.js';
import {
  Doc,
  Settings,
  certificatesToPem,
  checkP12,
  decodeBase64,
  type Imported,
  type ImportedFile,
  type Unmapped,
} from './import.js';

const MAX_P12 = 256 * 1024;

/** Keys every payload carries that describe it rather than configure anything. */
const PAYLOAD_META = [
  'PayloadType',
  'PayloadVersion',
  'PayloadUUID',
  'PayloadIdentifier',
  'PayloadDisplayName',
  'PayloadDescription',
  'PayloadOrganization',
  'PayloadRemovalDisallowed',
  'PayloadScope',
];

/** Apple's IKEv2 EncryptionAlgorithm → strongSwan proposal token (and whether it is AEAD). */
const ENCRYPTION: Record<string, [string, boolean]> = {
  'AES-128': ['aes128', false],
  'AES-256': ['aes256', false],
  'AES-128-GCM': ['aes128gcm16', true],
  'AES-256-GCM': ['aes256gcm16', true],
  ChaCha20Poly1305: ['chacha20poly1305', true],
};
/** IntegrityAlgorithm → integrity token, and the PRF it implies. */
const INTEGRITY: Record<string, [string, string]> = {
  'SHA1-96': ['sha1', 'prfsha1'],
  'SHA2-256': ['sha256', 'prfsha256'],
  'SHA2-384': ['sha384', 'prfsha384'],
  'SHA2-512': ['sha512', 'prfsha512'],
};
/** DiffieHellmanGroup (IANA transform ID, RFC 7296 §3.3.2) → token. */
const GROUPS: Record<number, string> = {
  14: 'modp2048',
  15: 'modp3072',
  16: 'modp4096',
  19: 'ecp256',
  20: 'ecp384',
  21: 'ecp521',
  31: 'x25519',
  32: 'x448',
};
/** DeadPeerDetectionRate → seconds between checks (Apple: Low 30 min, Medium 10 min, High 1 min). */
const DPD: Record<string, number> = { None: 0, Low: 1800, Medium: 600, High: 60 };

function isDict(v: unknown): v is Record<string, PlistValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** Parses the (unsigned) plist XML with the plist package; DTD entities are refused. */
export function parseMobileconfigXml(xml: string): Record<string, PlistValue> {
  // A DOCTYPE is normal in a plist; entity declarations are not (expansion bombs).
  if (/<!ENTITY/i.test(xml))
    throw new VpnError('ERR_CONFIG', 'not a .mobileconfig: the XML declares entities');
  let v: PlistValue;
  // xmldom (under plist) reports errors on console.error, quoting the input: keep them off the
  // terminal (the fatal one is thrown, and printed escaped by the caller).
  /* eslint-disable no-console -- silencing, not printing */
  const { error, warn } = console;
  console.error = console.warn = (): void => undefined;
  try {
    v = parsePlist(xml);
  } catch (e) {
    throw new VpnError(
      'ERR_CONFIG',
      `not a .mobileconfig: the plist does not parse (${(e as Error).message.split('\n')[0]?.slice(0, 120)})`,
    );
  } finally {
    console.error = error;
    console.warn = warn;
  }
  /* eslint-enable no-console */
  if (!isDict(v))
    throw new VpnError('ERR_CONFIG', 'not a .mobileconfig: the plist is not a dictionary');
  return v;
}

/** A proposal from an Apple SA parameters dictionary, or undefined (listed) when not expressible. */
function proposal(
  doc: Doc,
  base: string,
  kind: 'ike' | 'esp',
  unmapped: Unmapped[],
  pfs: boolean,
): string | undefined {
  const enc = doc.str(`${base}.EncryptionAlgorithm`) ?? 'AES-256';
  const integ = doc.str(`${base}.IntegrityAlgorithm`) ?? 'SHA2-256';
  const group = doc.int(`${base}.DiffieHellmanGroup`) ?? 14;
  const e = ENCRYPTION[enc];
  const i = INTEGRITY[integ];
  const g = GROUPS[group];
  const bad = (what: string, v: string | number): undefined => {
    unmapped.push({
      path: `${doc.prefix}${base}.${what}`,
      reason: `${String(v).slice(0, 40)} is not supported; ${base} left to vpn's defaults`,
    });
    return undefined;
  };
  if (e === undefined) return bad('EncryptionAlgorithm', enc);
  if (i === undefined) return bad('IntegrityAlgorithm', integ);
  if (g === undefined && (kind === 'ike' || pfs)) return bad('DiffieHellmanGroup', group);
  // RFC 5282: an AEAD cipher takes no integrity algorithm; for IKE the integrity names the PRF.
  const parts = [e[0]];
  if (kind === 'ike') parts.push(...(e[1] ? [i[1]] : [i[0], i[1]]), g!);
  else {
    if (!e[1]) parts.push(i[0]);
    if (pfs) parts.push(g!);
  }
  return parts.join('-');
}

/**
 * Maps a parsed .mobileconfig. The first `com.apple.vpn.managed` payload with VPNType IKEv2 is
 * imported; every other payload and key that is not used is listed.
 */
export function fromMobileconfig(root: Record<string, PlistValue>): Imported {
  const unmapped: Unmapped[] = [];
  const s = new Settings(unmapped);
  const files: ImportedFile[] = [];
  const notes: string[] = [];
  const top = new Doc(root, '', unmapped);
  for (const k of PAYLOAD_META) top.get(k);
  const title =
    (root['PayloadDisplayName'] as string | undefined) ??
    (root['PayloadIdentifier'] as string | undefined);
  const content = top.get('PayloadContent');
  if (!Array.isArray(content))
    throw new VpnError('ERR_CONFIG', 'not a .mobileconfig: no PayloadContent array');
  if (content.length > 100)
    throw new VpnError('ERR_CONFIG', '.mobileconfig has more than 100 payloads');

  const payloads = content.map((p, n) => {
    if (!isDict(p)) throw new VpnError('ERR_CONFIG', `PayloadContent[${n}] is not a dictionary`);
    return { p, doc: new Doc(p, `PayloadContent[${n}].`, unmapped) };
  });
  const VPN_TYPES = ['com.apple.vpn.managed', 'com.apple.vpn.managed.applayer'];
  const vpn = payloads.find(
    ({ p }) => VPN_TYPES.includes(p['PayloadType'] as string) && p['VPNType'] === 'IKEv2',
  );
  if (vpn === undefined)
    throw new VpnError(
      'ERR_CONFIG',
      payloads.some(({ p }) => 'EncryptedPayloadContent' in p) || 'EncryptedPayloadContent' in root
        ? '.mobileconfig payloads are encrypted to a device (EncryptedPayloadContent): ask for an unencrypted profile'
        : '.mobileconfig has no IKEv2 VPN payload (PayloadType com.apple.vpn.managed, VPNType IKEv2)',
    );
  const d = vpn.doc;
  for (const k of PAYLOAD_META) d.get(k);
  d.get('VPNType');
  if (vpn.p['PayloadType'] === 'com.apple.vpn.managed.applayer')
    unmapped.push({
      path: `${d.prefix}PayloadType`,
      reason: 'a per-app VPN (applayer): vpn routes by network, not by application',
    });
  const vpnTitle = d.str('UserDefinedName');
  if (!isDict(d.lookup('IKEv2')))
    throw new VpnError('ERR_CONFIG', 'the VPN payload has no IKEv2 dictionary');
  const at = (k: string): string => `${d.prefix}IKEv2.${k}`;

  const addr = d.str('IKEv2.RemoteAddress');
  if (addr === undefined || !s.put('gateway', addr, at('RemoteAddress')))
    throw new VpnError('ERR_CONFIG', 'IKEv2.RemoteAddress (the gateway) is missing or invalid');
  const rid = d.str('IKEv2.RemoteIdentifier');
  if (rid !== undefined) s.put('remote-id', rid, at('RemoteIdentifier'));
  const lid = d.str('IKEv2.LocalIdentifier');

  const method = d.str('IKEv2.AuthenticationMethod') ?? 'None';
  const eap = d.bool('IKEv2.ExtendedAuthEnabled') === true;
  const authName = d.str('IKEv2.AuthName');
  const authPassword = d.str('IKEv2.AuthPassword');
  d.get('IKEv2.CertificateType'); // the key type: we read it from the key itself

  let p12Payload: Record<string, PlistValue> | undefined;
  /** The PKCS#12 payload PayloadCertificateUUID names, written as NAME.p12. */
  const p12 = (): void => {
    const uuid = d.str('IKEv2.PayloadCertificateUUID');
    const cp = payloads.find(({ p }) => uuid !== undefined && p['PayloadUUID'] === uuid);
    if (uuid === undefined || cp === undefined) {
      throw new VpnError(
        'ERR_CONFIG',
        `AuthenticationMethod Certificate needs IKEv2.PayloadCertificateUUID naming a com.apple.security.pkcs12 payload${uuid !== undefined ? ' (no payload has that UUID)' : ''}`,
      );
    }
    for (const k of PAYLOAD_META) cp.doc.get(k);
    if (cp.p['PayloadType'] !== 'com.apple.security.pkcs12')
      throw new VpnError('ERR_CONFIG', `the certificate payload is not com.apple.security.pkcs12`);
    const data = cp.doc.get('PayloadContent');
    p12Payload = cp.p;
    files.push({
      key: 'p12',
      suffix: '.p12',
      data: checkP12(
        data instanceof Uint8Array
          ? data
          : typeof data === 'string'
            ? decodeBase64(data, MAX_P12)
            : undefined,
        `${cp.doc.prefix}PayloadContent`,
      ),
    });
    const pw = cp.doc.str('Password');
    if (pw !== undefined) s.put('p12-password', pw, `${cp.doc.prefix}Password`);
    else
      notes.push(
        'the PKCS#12 password is not in the file: set VPN_P12_PASSWORD, add p12-password-file = FILE, or answer the prompt',
      );
  };

  if (eap) {
    // EAP: with a certificate, EAP-TLS; else a password method (AuthName / AuthPassword).
    if (method === 'Certificate') {
      s.put('eap', 'tls', at('ExtendedAuthEnabled'));
      p12();
    } else {
      s.put('eap', 'mschapv2,md5,gtc', at('ExtendedAuthEnabled'));
      if (method === 'SharedSecret')
        d.skip(
          'IKEv2.SharedSecret',
          'a pre-shared key round before EAP (RFC 4739 multiple authentication) is not implemented: imported as EAP only',
        );
      if (authPassword !== undefined) s.put('eap-password', authPassword, at('AuthPassword'));
      else
        notes.push(
          'the EAP password is not in the file: set VPN_EAP_PASSWORD, add eap-password-file = FILE, or answer the prompt',
        );
    }
    const user = authName ?? lid;
    if (user !== undefined)
      s.put('eap-identity', user, at(authName !== undefined ? 'AuthName' : 'LocalIdentifier'));
    else notes.push('no AuthName: add eap-identity = YOUR-USER-NAME');
    if (lid !== undefined && lid !== user) s.put('id', lid, at('LocalIdentifier'));
  } else {
    if (authName !== undefined) d.skip('IKEv2.AuthName', 'ExtendedAuthEnabled is off: no EAP');
    if (authPassword !== undefined)
      d.skip('IKEv2.AuthPassword', 'ExtendedAuthEnabled is off: no EAP');
    if (method === 'SharedSecret') {
      const psk = d.get('IKEv2.SharedSecret');
      const text =
        typeof psk === 'string'
          ? psk
          : psk instanceof Uint8Array
            ? new TextDecoder('utf-8', { fatal: true }).decode(psk)
            : undefined;
      if (text === undefined)
        throw new VpnError(
          'ERR_CONFIG',
          'AuthenticationMethod SharedSecret needs IKEv2.SharedSecret',
        );
      s.put('psk', text, at('SharedSecret'));
    } else if (method === 'Certificate') p12();
    else
      throw new VpnError(
        'ERR_CONFIG',
        `IKEv2.AuthenticationMethod '${method.slice(0, 40)}' without ExtendedAuthEnabled: no client authentication vpn supports`,
      );
    if (lid !== undefined) s.put('id', lid, at('LocalIdentifier'));
  }

  // RFC 7296 §3.3: proposals from the SA parameter dictionaries.
  if (isDict(d.lookup('IKEv2.IKESecurityAssociationParameters'))) {
    const ike = proposal(d, 'IKEv2.IKESecurityAssociationParameters', 'ike', unmapped, true);
    if (ike !== undefined) s.put('ike', ike, at('IKESecurityAssociationParameters'));
    const life = d.int('IKEv2.IKESecurityAssociationParameters.LifeTimeInMinutes');
    if (life !== undefined)
      s.put('ike-rekey', life * 60, at('IKESecurityAssociationParameters.LifeTimeInMinutes'));
  }
  const pfs = d.bool('IKEv2.EnablePFS') === true;
  if (isDict(d.lookup('IKEv2.ChildSecurityAssociationParameters'))) {
    const esp = proposal(d, 'IKEv2.ChildSecurityAssociationParameters', 'esp', unmapped, pfs);
    if (esp !== undefined) s.put('esp', esp, at('ChildSecurityAssociationParameters'));
    const life = d.int('IKEv2.ChildSecurityAssociationParameters.LifeTimeInMinutes');
    if (life !== undefined)
      s.put('rekey', life * 60, at('ChildSecurityAssociationParameters.LifeTimeInMinutes'));
  } else if (pfs)
    // Apple's child SA default group is 14 (modp2048): PFS on every rekey (RFC 7296 §1.3.1).
    s.put(
      'esp',
      DEFAULT_ESP_PROPOSALS.split('-')
        .map((a) => `${a}-modp2048`)
        .join(','),
      at('EnablePFS'),
    );

  const dpd = d.str('IKEv2.DeadPeerDetectionRate');
  if (dpd !== undefined) {
    if (DPD[dpd] !== undefined) s.put('dpd', DPD[dpd], at('DeadPeerDetectionRate'));
    else
      unmapped.push({ path: at('DeadPeerDetectionRate'), reason: 'not None, Low, Medium or High' });
  }
  if (d.bool('IKEv2.DisableMOBIKE') === true)
    d.skip(
      'IKEv2.DisableMOBIKE',
      'vpn always offers MOBIKE (RFC 4555); the gateway may decline it',
    );
  if (d.bool('IKEv2.DisableRedirect') === true)
    d.skip('IKEv2.DisableRedirect', 'gateway redirects (RFC 5685) are not followed anyway');
  const ka = d.int('IKEv2.NATKeepAliveInterval');
  if (ka !== undefined) s.put('keepalive', ka, at('NATKeepAliveInterval'));
  const mtu = d.int('IKEv2.MTU');
  if (mtu !== undefined) s.put('mtu', mtu, at('MTU'));
  // All traffic through the tunnel, and none outside it while it is down: the kill switch.
  if (d.bool('IKEv2.IncludeAllNetworks') === true)
    s.put('kill-switch', true, at('IncludeAllNetworks'));
  // Features that are off are what vpn does anyway; on, rest() lists them.
  for (const k of [
    'OnDemandEnabled',
    'ExcludeLocalNetworks',
    'EnableCertificateRevocationCheck',
    'UseConfigurationAttributeInternalIPSubnet',
    'NATKeepAliveOffloadEnable',
  ]) {
    const v = d.lookup(`IKEv2.${k}`);
    if (v === false || v === 0) d.get(`IKEv2.${k}`);
  }
  d.rest((p) =>
    p.startsWith('IKEv2.')
      ? 'an IKEv2 key vpn has no setting for'
      : 'a VPN payload key vpn has no setting for',
  );

  // CA certificates: every root / pkcs1 / pem payload becomes NAME-ca.pem.
  const pems: string[] = [];
  for (const { p, doc } of payloads) {
    if (p === vpn.p) continue;
    const t = p['PayloadType'];
    if (p === p12Payload) {
      doc.rest(() => 'a key of the PKCS#12 payload vpn does not use');
      continue;
    }
    if (
      t === 'com.apple.security.root' ||
      t === 'com.apple.security.pkcs1' ||
      t === 'com.apple.security.pem'
    ) {
      for (const k of PAYLOAD_META) doc.get(k);
      const data = doc.get('PayloadContent');
      const bytes =
        data instanceof Uint8Array
          ? data
          : typeof data === 'string'
            ? new TextEncoder().encode(data)
            : undefined;
      if (bytes === undefined)
        throw new VpnError('ERR_CONFIG', `${doc.prefix}PayloadContent is not a certificate`);
      const c = certificatesToPem(bytes, `${doc.prefix}PayloadContent`);
      pems.push(c.pem);
      if (!c.ca)
        notes.push(
          `${doc.prefix.slice(0, -1)} (${c.subjects.join('; ')}) is not a CA certificate: it is trusted as the gateway's own certificate (pinned), so a renewed gateway certificate needs a new import`,
        );
      doc.rest(() => 'a key of the certificate payload vpn does not use');
      continue;
    }
    // A payload of another kind (Wi-Fi, mail, ...): listed as a whole.
    unmapped.push({
      path: doc.prefix.slice(0, -1),
      reason: `payload type ${(typeof t === 'string' ? t : '(none)').slice(0, 60)} is not imported`,
    });
  }
  if (pems.length > 0)
    files.push({ key: 'ca', suffix: '-ca.pem', data: new TextEncoder().encode(pems.join('')) });
  else
    notes.push(
      'no CA certificate payload: the gateway certificate is checked against the system CAs',
    );
  top.rest(() => 'a top-level key vpn does not use');
  return {
    format: 'mobileconfig',
    ...((vpnTitle ?? title) !== undefined ? { title: (vpnTitle ?? title)! } : {}),
    settings: s.list,
    files,
    unmapped,
    notes,
  };
}
