/**
 * `vpn import`: what IT hands out, turned into a profile (src/config/profile.ts) plus the
 * certificate and key files it names. This module is pure (no I/O): the shared model, the
 * strongSwan `.sswan` mapping, and the rendering of the profile text. The Apple `.mobileconfig`
 * mapping is in import-mobileconfig.ts; reading, signature checks and writing in
 * src/cli/import-command.ts.
 *
 * Every value goes through the profile parser's own checks (types, ranges, proposals, identities,
 * networks) before it is kept; a value or key that cannot be mapped is listed by its key path with
 * the reason, never silently dropped.
 */
import { X509Certificate } from 'node:crypto';
import { VpnError } from '../core/errors.js';
import { printable } from '../core/printable.js';
import { parseProfile } from './profile.js';

/** A certificate or key file written beside the profile (mode 600), named by `key`. */
export interface ImportedFile {
  key: 'ca' | 'p12';
  /** Appended to the profile's name: NAME-ca.pem, NAME.p12. */
  suffix: string;
  data: Uint8Array;
}

export interface Unmapped {
  /** Where in the input: `remote.revocation.crl`, `PayloadContent[0].IKEv2.OnDemandRules`. */
  path: string;
  reason: string;
}

export interface Imported {
  format: 'sswan' | 'mobileconfig';
  /** The display name the file gives (for the header comment and the default profile name). */
  title?: string;
  /** Profile key → value, in the order they are written. */
  settings: { key: string; value: string | string[] }[];
  files: ImportedFile[];
  unmapped: Unmapped[];
  /** What the user still has to do (a password that is not in the file, ...). */
  notes: string[];
}

/** Largest file `vpn import` reads: profiles with an embedded PKCS#12 are a few KiB. */
export const MAX_IMPORT_BYTES = 1024 * 1024;
const MAX_CERT_BYTES = 64 * 1024;
const MAX_P12_BYTES = 256 * 1024;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/**
 * An input document whose keys are consumed as they are mapped; `rest()` lists every leaf that
 * nobody consumed, so nothing is dropped silently. Paths are dotted (`remote.addr`).
 */
export class Doc {
  private readonly used = new Set<string>();
  private readonly root: Record<string, unknown>;
  /** Prefix of every path in messages, e.g. `PayloadContent[1].` */
  readonly prefix: string;
  readonly unmapped: Unmapped[];
  constructor(root: Record<string, unknown>, prefix: string, unmapped: Unmapped[]) {
    this.root = root;
    this.prefix = prefix;
    this.unmapped = unmapped;
  }

  has(path: string): boolean {
    return this.lookup(path) !== undefined;
  }

  /** The raw value, not marked as consumed. */
  lookup(path: string): unknown {
    let v: unknown = this.root;
    for (const seg of path.split('.')) {
      if (!isObject(v) || !Object.prototype.hasOwnProperty.call(v, seg)) return undefined;
      v = v[seg];
    }
    return v;
  }

  /** The raw value, marked as consumed. */
  get(path: string): unknown {
    this.used.add(path);
    return this.lookup(path);
  }

  /** Lists `path` as not mapped (when present), with the reason. */
  skip(path: string, reason: string): void {
    if (!this.has(path)) return;
    this.used.add(path);
    this.unmapped.push({ path: this.prefix + path, reason });
  }

  private wrongType(path: string, want: string, v: unknown): undefined {
    const got = v instanceof Uint8Array ? 'data' : Array.isArray(v) ? 'array' : typeof v;
    this.unmapped.push({ path: this.prefix + path, reason: `expected ${want}, found ${got}` });
    return undefined;
  }

  str(path: string): string | undefined {
    const v = this.get(path);
    if (v === undefined) return undefined;
    if (typeof v === 'string') return v;
    return this.wrongType(path, 'a string', v);
  }

  /** An integer (a numeric string too: some generators quote everything). */
  int(path: string): number | undefined {
    const v = this.get(path);
    if (v === undefined) return undefined;
    if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
    if (typeof v === 'string' && /^\d{1,9}$/.test(v)) return Number(v);
    return this.wrongType(path, 'an integer', v);
  }

  /** A boolean; plists and JSON generators also write 0/1. */
  bool(path: string): boolean | undefined {
    const v = this.get(path);
    if (v === undefined) return undefined;
    if (typeof v === 'boolean') return v;
    if (v === 0 || v === 1) return v === 1;
    return this.wrongType(path, 'true or false', v);
  }

  /** Every leaf not consumed (nor under a consumed key), listed with `reason`. */
  rest(reason: (path: string) => string): void {
    const walk = (v: unknown, path: string): void => {
      if (path !== '' && this.used.has(path)) return;
      if (isObject(v)) {
        for (const k of Object.keys(v)) walk(v[k], path === '' ? k : `${path}.${k}`);
        return;
      }
      this.unmapped.push({ path: this.prefix + path, reason: reason(path) });
    };
    walk(this.root, '');
  }
}

/**
 * Collects settings, checking each with the profile parser (a one-line profile): a value the
 * profile would refuse is listed as not mapped, with the parser's reason, instead.
 */
export class Settings {
  readonly list: { key: string; value: string | string[] }[] = [];
  private readonly unmapped: Unmapped[];
  constructor(unmapped: Unmapped[]) {
    this.unmapped = unmapped;
  }

  put(key: string, value: string | number | boolean | string[], from: string): boolean {
    const v = Array.isArray(value) ? value : String(value);
    try {
      parseProfile('import', 'import', `${key} = ${renderValue(v)}\n`);
    } catch (e) {
      // "KEY = 'V' is invalid at import:1; FIX" → "KEY = 'V' is invalid; FIX"
      const reason = (e as Error).message.replace(/ at import:1/, '');
      this.unmapped.push({ path: from, reason });
      return false;
    }
    const i = this.list.findIndex((s) => s.key === key);
    if (i >= 0) this.list[i] = { key, value: v };
    else this.list.push({ key, value: v });
    return true;
  }

  get(key: string): string | string[] | undefined {
    return this.list.find((s) => s.key === key)?.value;
  }
}

/** A value as the profile parser reads it back: bare when safe, else a JSON string. */
export function renderValue(v: string | string[]): string {
  if (Array.isArray(v)) return v.join(', ');
  if (/^[!$-~]([ -~]*[!-~])?$/.test(v)) return v;
  // Anything else as a JSON string with every non-ASCII character escaped: the file never shows
  // a bidi override or a control character raw (the parser decodes them back).
  return JSON.stringify(v).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Base64 as JSON and plists carry it (line breaks allowed), bounded; undefined if malformed. */
export function decodeBase64(s: string, max: number): Uint8Array | undefined {
  const clean = s.replace(/[\r\n\t ]/g, '');
  if (clean.length === 0 || clean.length > Math.ceil(max / 3) * 4 + 4) return undefined;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(clean)) return undefined;
  return new Uint8Array(Buffer.from(clean, 'base64'));
}

/**
 * Certificates (PEM text, or one DER certificate) as PEM, each checked by node:crypto; `what`
 * names the source in errors. Returns the PEM and whether every certificate is a CA.
 */
export function certificatesToPem(
  data: Uint8Array,
  what: string,
): { pem: string; ca: boolean; subjects: string[] } {
  if (data.length > MAX_CERT_BYTES) throw new VpnError('ERR_CONFIG', `${what}: larger than 64 KiB`);
  const text = Buffer.from(data).toString('latin1');
  const blocks = text.includes('-----BEGIN CERTIFICATE-----')
    ? (text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [])
    : [data];
  const certs: X509Certificate[] = [];
  for (const b of blocks) {
    try {
      certs.push(new X509Certificate(typeof b === 'string' ? b : Buffer.from(b)));
    } catch {
      throw new VpnError('ERR_CONFIG', `${what} is not a certificate (PEM or DER)`);
    }
  }
  if (certs.length === 0) throw new VpnError('ERR_CONFIG', `${what} holds no certificate`);
  return {
    pem: certs.map((c) => c.toString()).join(''),
    ca: certs.every((c) => c.ca),
    subjects: certs.map((c) => c.subject.replace(/\n/g, ', ')),
  };
}

/** A PKCS#12 blob, bounded and at least shaped like DER (its password may not be in the file). */
export function checkP12(data: Uint8Array | undefined, what: string): Uint8Array {
  if (data === undefined) throw new VpnError('ERR_CONFIG', `${what} is not valid base64`);
  if (data.length > MAX_P12_BYTES) throw new VpnError('ERR_CONFIG', `${what}: larger than 256 KiB`);
  if (data.length < 32 || data[0] !== 0x30)
    throw new VpnError('ERR_CONFIG', `${what} is not a PKCS#12 file (DER)`);
  return data;
}

/** The EAP methods the password types of both formats mean. */
const PASSWORD_EAP = 'mschapv2,md5,gtc';

/**
 * A strongSwan `.sswan` profile (the Android client's import format, also what the NetworkManager
 * plugin users get): JSON with `type`, `remote.*`, `local.*`, proposals, split tunneling, DNS,
 * MTU and NAT keepalive. The client always authenticates the gateway by its certificate.
 */
export function fromSswan(text: string): Imported {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new VpnError(
      'ERR_CONFIG',
      `not a .sswan profile: invalid JSON (${(e as Error).message})`,
    );
  }
  if (!isObject(json)) throw new VpnError('ERR_CONFIG', 'not a .sswan profile: not a JSON object');
  const unmapped: Unmapped[] = [];
  const doc = new Doc(json, '', unmapped);
  const s = new Settings(unmapped);
  const files: ImportedFile[] = [];
  const notes: string[] = [];

  const type = doc.str('type');
  const types = ['ikev2-eap', 'ikev2-cert', 'ikev2-cert-eap', 'ikev2-eap-tls', 'ikev2-byod-eap'];
  if (type === undefined || !types.includes(type))
    throw new VpnError(
      'ERR_CONFIG',
      `.sswan type ${type === undefined ? 'is missing' : `'${printable(type.slice(0, 40))}' is not supported`}; it must be one of ${types.join(', ')}`,
    );
  const title = doc.str('name');
  doc.get('uuid');

  const addr = doc.str('remote.addr');
  if (addr === undefined || !s.put('gateway', addr, 'remote.addr'))
    throw new VpnError('ERR_CONFIG', `.sswan remote.addr (the gateway) is missing or invalid`);
  const port = doc.int('remote.port');
  if (port !== undefined) s.put('port', port, 'remote.port');
  const rid = doc.str('remote.id');
  if (rid !== undefined) s.put('remote-id', rid, 'remote.id');
  const cert = doc.str('remote.cert');
  if (cert !== undefined) {
    const c = certificatesToPem(
      decodeBase64(cert, MAX_CERT_BYTES * 2) ?? new Uint8Array(),
      '.sswan remote.cert',
    );
    files.push({ key: 'ca', suffix: '-ca.pem', data: new TextEncoder().encode(c.pem) });
    if (!c.ca)
      notes.push(
        `remote.cert (${c.subjects.join('; ')}) is not a CA certificate: it is trusted as the gateway's own certificate (pinned), so a renewed gateway certificate needs a new import`,
      );
  } else notes.push('no remote.cert: the gateway certificate is checked against the system CAs');
  if (doc.bool('remote.certreq') === false)
    doc.skip('remote.certreq', 'vpn always sends certificate requests for its CAs');
  for (const k of ['crl', 'ocsp', 'strict'])
    if (doc.bool(`remote.revocation.${k}`) === true)
      unmapped.push({
        path: `remote.revocation.${k}`,
        reason: 'revocation checking (CRL/OCSP) is not implemented',
      });

  const id = doc.str('local.id');
  const eapId = doc.str('local.eap_id');
  const p12 = doc.str('local.p12');
  const addP12 = (): void => {
    if (p12 === undefined) {
      notes.push(
        'no local.p12: add your certificate with p12 = FILE (or cert = FILE and key = FILE)',
      );
      return;
    }
    files.push({
      key: 'p12',
      suffix: '.p12',
      data: checkP12(decodeBase64(p12, MAX_P12_BYTES), '.sswan local.p12'),
    });
    notes.push(
      'the PKCS#12 password is not in a .sswan file: set VPN_P12_PASSWORD, add p12-password-file = FILE, or answer the prompt',
    );
  };
  const addEapUser = (): void => {
    const user = eapId ?? id;
    if (user !== undefined)
      s.put('eap-identity', user, eapId !== undefined ? 'local.eap_id' : 'local.id');
    else notes.push('no local.eap_id: add eap-identity = YOUR-USER-NAME');
  };
  switch (type) {
    case 'ikev2-eap':
    case 'ikev2-byod-eap':
      s.put('eap', PASSWORD_EAP, 'type');
      addEapUser();
      if (type === 'ikev2-byod-eap')
        unmapped.push({
          path: 'type',
          reason:
            'ikev2-byod-eap: the BYOD health checks (TNC/IMC) are not supported; imported as ikev2-eap',
        });
      notes.push(
        'the EAP password is not in a .sswan file: set VPN_EAP_PASSWORD, add eap-password-file = FILE, or answer the prompt',
      );
      break;
    case 'ikev2-cert':
      addP12();
      break;
    case 'ikev2-eap-tls':
      s.put('eap', 'tls', 'type');
      addEapUser();
      addP12();
      break;
    case 'ikev2-cert-eap':
      // RFC 4739 multiple authentication rounds (certificate, then EAP) are not implemented.
      s.put('eap', PASSWORD_EAP, 'type');
      addEapUser();
      doc.skip(
        'local.p12',
        'ikev2-cert-eap needs a certificate round before EAP (RFC 4739 multiple authentication), which vpn does not implement: imported as EAP only',
      );
      notes.push(
        'the EAP password is not in a .sswan file: set VPN_EAP_PASSWORD, add eap-password-file = FILE, or answer the prompt',
      );
      break;
  }
  // Our IKE identity defaults to the EAP identity: local.id is written when it differs.
  if (id !== undefined && !(eapId === undefined && s.get('eap-identity') === id))
    s.put('id', id, 'local.id');
  if (doc.bool('local.rsa-pss') === true)
    doc.skip('local.rsa-pss', 'the signature scheme is negotiated (RFC 7427), not configured');

  const ike = doc.str('ike-proposal');
  if (ike !== undefined) s.put('ike', ike, 'ike-proposal');
  const esp = doc.str('esp-proposal');
  if (esp !== undefined) s.put('esp', esp, 'esp-proposal');

  const subnets = doc.str('split-tunneling.subnets');
  if (subnets !== undefined) {
    const nets = subnets.split(/[\s,]+/).filter((n) => n !== '');
    const ok = nets.filter((n) => {
      try {
        parseProfile('import', 'import', `remote-net = ${n}\n`);
        return true;
      } catch (e) {
        unmapped.push({
          path: 'split-tunneling.subnets',
          reason: (e as Error).message.replace(/ at import:1/, ''),
        });
        return false;
      }
    });
    if (ok.length > 0) s.put('remote-net', ok, 'split-tunneling.subnets');
  }
  doc.skip('split-tunneling.excluded', 'excluding networks from the tunnel is not supported');
  for (const k of ['block-ipv4', 'block-ipv6']) {
    const b = doc.bool(`split-tunneling.${k}`);
    if (b === true)
      unmapped.push({
        path: `split-tunneling.${k}`,
        reason: 'blocking one address family is not supported (see kill-switch)',
      });
  }
  doc.skip('dns-servers', 'vpn uses the DNS servers the gateway assigns (dns = auto)');
  const mtu = doc.int('mtu');
  if (mtu !== undefined) s.put('mtu', mtu, 'mtu');
  const ka = doc.int('nat-keepalive');
  if (ka !== undefined) s.put('keepalive', ka, 'nat-keepalive');
  doc.skip('proxy', 'HTTP proxy settings are not applied');
  for (const k of ['apps', 'excluded-apps', 'selected-apps', 'selected-apps-list'])
    doc.skip(k, 'per-app VPN is an Android feature');
  doc.rest(() => 'not a .sswan key vpn knows');
  return {
    format: 'sswan',
    ...(title !== undefined ? { title } : {}),
    settings: s.list,
    files,
    unmapped,
    notes,
  };
}

/** A profile name from a display name or file name: letters, digits, _ and -, at most 32. */
export function profileNameFrom(s: string): string {
  const n = s
    .replace(/\.[A-Za-z]+$/, '')
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 32);
  return n === '' ? 'imported' : n;
}

/**
 * The profile text: a header saying where it came from, the settings, the files, and every key
 * that was not mapped as a comment (escaped: it comes from the file).
 */
export function renderProfile(
  imp: Imported,
  source: string,
  fileNames: Partial<Record<ImportedFile['key'], string>>,
  signature: string,
): string {
  const c = (s: string): string => `# ${printable(s)}`;
  const lines = [
    c(`Imported by vpn import from ${source}`),
    c(
      `(${imp.format === 'sswan' ? 'strongSwan .sswan profile' : 'Apple .mobileconfig'}${imp.title !== undefined ? ` "${imp.title.slice(0, 80)}"` : ''}; ${signature})`,
    ),
    '[connect]',
  ];
  for (const { key, value } of imp.settings) lines.push(`${key} = ${renderValue(value)}`);
  for (const [key, file] of Object.entries(fileNames)) lines.push(`${key} = ${renderValue(file)}`);
  if (imp.unmapped.length > 0) {
    lines.push(c('Not imported:'));
    for (const u of imp.unmapped) lines.push(c(`  ${u.path}: ${u.reason}`));
  }
  return lines.join('\n') + '\n';
}
