/**
 * X.509 v3 certificates (RFC 5280 §4). We parse the DER ourselves (der.ts) for what node:crypto's
 * `X509Certificate` does not expose — the raw subject and issuer Names (ID_DER_ASN1_DN identities,
 * RFC 7296 §3.5), dates as numbers, subjectAltName entries by kind, keyUsage bits,
 * basicConstraints, the SubjectPublicKeyInfo — and let OpenSSL (through `X509Certificate`) check
 * signatures. Parsing is strict DER; anything malformed throws `ParseError`, anything else we
 * cannot use (an unknown key algorithm, inconsistent signature algorithms) `VpnError('ERR_CERT')`.
 */
import { X509Certificate, createHash, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { ParseError, VpnError } from '../core/errors.js';
import { formatIpAddress } from '../core/ip.js';
import {
  DER_NULL,
  Tag,
  children,
  decodeOid,
  expectTag,
  oid,
  parseDer,
  readDer,
  seq,
} from './der.js';
import type { Der } from './der.js';
import { formatDn } from './dn.js';
import { commonNames, latin1, parseName, sameDistinguishedName } from './names.js';

/** Public key algorithms we sign and verify with. */
export type KeyType = 'rsa' | 'rsa-pss' | 'ec' | 'ed25519' | 'ed448';

/** One GeneralName of a subjectAltName extension (RFC 5280 §4.2.1.6). */
export interface GeneralName {
  type: 'dns' | 'email' | 'uri' | 'ip' | 'dirName' | 'other';
  /** Text form: the name, the address ("198.51.100.10", "2001:db8::1"), the DN; hex for others. */
  value: string;
  /** The value bytes (for `ip` the 4 or 16 address bytes, for `dirName` the DER Name). */
  raw: Uint8Array;
}

export interface SubjectAltNames {
  /** dNSName entries, as written (possibly wildcards). */
  dns: string[];
  /** iPAddress entries as text. */
  ip: string[];
  /** iPAddress entries as 4 or 16 bytes, in the order of `ip`. */
  ipBytes: Uint8Array[];
  /** rfc822Name entries. */
  email: string[];
  /** uniformResourceIdentifier entries. */
  uri: string[];
  /** directoryName entries (DER Names). */
  dirNames: Uint8Array[];
  /** Every entry, in certificate order. */
  all: GeneralName[];
}

/** keyUsage bits (RFC 5280 §4.2.1.3). */
export interface KeyUsage {
  digitalSignature: boolean;
  nonRepudiation: boolean;
  keyEncipherment: boolean;
  dataEncipherment: boolean;
  keyAgreement: boolean;
  keyCertSign: boolean;
  cRLSign: boolean;
  encipherOnly: boolean;
  decipherOnly: boolean;
}

const KEY_USAGE_BITS: (keyof KeyUsage)[] = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
];

/** The names of the bits set, in bit order ("digitalSignature, keyEncipherment"). */
export function keyUsageNames(ku: KeyUsage): string[] {
  return KEY_USAGE_BITS.filter((n) => ku[n]);
}

/** basicConstraints (RFC 5280 §4.2.1.9). */
export interface BasicConstraints {
  cA: boolean;
  pathLen?: number;
}

/** Extension OIDs (RFC 5280 §4.2). */
export const ExtOid = {
  SUBJECT_KEY_ID: '2.5.29.14',
  KEY_USAGE: '2.5.29.15',
  SUBJECT_ALT_NAME: '2.5.29.17',
  ISSUER_ALT_NAME: '2.5.29.18',
  BASIC_CONSTRAINTS: '2.5.29.19',
  NAME_CONSTRAINTS: '2.5.29.30',
  CRL_DISTRIBUTION_POINTS: '2.5.29.31',
  CERTIFICATE_POLICIES: '2.5.29.32',
  AUTHORITY_KEY_ID: '2.5.29.35',
  EXT_KEY_USAGE: '2.5.29.37',
  AUTHORITY_INFO_ACCESS: '1.3.6.1.5.5.7.1.1',
} as const;

/**
 * Extensions we parse, so that a critical one does not make the certificate unusable (RFC 5280
 * §4.2: a critical extension that is not recognized MUST be refused). Name constraints, policies
 * and revocation pointers (CRL distribution points, AIA) are not processed, so a certificate
 * marking one of them critical is refused by verifyChain. extendedKeyUsage is parsed here and
 * checked against a purpose by `checkExtendedKeyUsage` (chain.ts) where the caller asks for it.
 */
const PROCESSED_EXTENSIONS = new Set<string>([
  ExtOid.SUBJECT_KEY_ID,
  ExtOid.KEY_USAGE,
  ExtOid.SUBJECT_ALT_NAME,
  ExtOid.BASIC_CONSTRAINTS,
  ExtOid.AUTHORITY_KEY_ID,
  ExtOid.EXT_KEY_USAGE,
]);

/** Extended key usage purposes (RFC 5280 §4.2.1.12, RFC 4945 §5.1.3.12, RFC 4809). */
export const EkuOid = {
  SERVER_AUTH: '1.3.6.1.5.5.7.3.1',
  CLIENT_AUTH: '1.3.6.1.5.5.7.3.2',
  CODE_SIGNING: '1.3.6.1.5.5.7.3.3',
  EMAIL_PROTECTION: '1.3.6.1.5.5.7.3.4',
  /** id-kp-ipsecIKE (RFC 4945 §5.1.3.12). */
  IPSEC_IKE: '1.3.6.1.5.5.7.3.17',
  /** iKEIntermediate (1.3.6.1.5.5.8.2.2), what Windows and macOS clients look for on a gateway. */
  IKE_INTERMEDIATE: '1.3.6.1.5.5.8.2.2',
  ANY: '2.5.29.37.0',
} as const;

const EKU_NAMES: ReadonlyMap<string, string> = new Map([
  [EkuOid.SERVER_AUTH, 'serverAuth'],
  [EkuOid.CLIENT_AUTH, 'clientAuth'],
  [EkuOid.CODE_SIGNING, 'codeSigning'],
  [EkuOid.EMAIL_PROTECTION, 'emailProtection'],
  [EkuOid.IPSEC_IKE, 'ipsecIKE'],
  [EkuOid.IKE_INTERMEDIATE, 'ikeIntermediate'],
  [EkuOid.ANY, 'anyExtendedKeyUsage'],
]);

/** A purpose's usual name ("serverAuth"), or its OID when we have none. */
export function ekuName(oid: string): string {
  return EKU_NAMES.get(oid) ?? oid;
}

/** SubjectPublicKeyInfo algorithms (RFC 3279, RFC 4055, RFC 5480, RFC 8410). */
const KEY_ALGORITHMS: Record<string, KeyType> = {
  '1.2.840.113549.1.1.1': 'rsa',
  '1.2.840.113549.1.1.10': 'rsa-pss',
  '1.2.840.10045.2.1': 'ec',
  '1.3.101.112': 'ed25519',
  '1.3.101.113': 'ed448',
};

/** Named curves (RFC 5480 §2.1.1.1). */
const CURVES: Record<string, string> = {
  '1.2.840.10045.3.1.7': 'P-256',
  '1.3.132.0.34': 'P-384',
  '1.3.132.0.35': 'P-521',
  '1.3.132.0.10': 'secp256k1',
  '1.3.36.3.3.2.8.1.1.7': 'brainpoolP256r1',
  '1.3.36.3.3.2.8.1.1.11': 'brainpoolP384r1',
  '1.3.36.3.3.2.8.1.1.13': 'brainpoolP512r1',
};

/** Certificate signature algorithms by OID (RFC 3279, RFC 4055, RFC 5758, RFC 8410). */
export const SIGNATURE_ALGORITHM_NAMES: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.2': 'md2WithRSAEncryption',
  '1.2.840.113549.1.1.3': 'md4WithRSAEncryption',
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.113549.1.1.10': 'RSASSA-PSS',
  '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption',
  '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption',
  '1.2.840.113549.1.1.13': 'sha512WithRSAEncryption',
  '1.2.840.113549.1.1.14': 'sha224WithRSAEncryption',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10045.4.3.1': 'ecdsa-with-SHA224',
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384',
  '1.2.840.10045.4.3.4': 'ecdsa-with-SHA512',
  '1.3.101.112': 'Ed25519',
  '1.3.101.113': 'Ed448',
};

/** Signature algorithms too weak to trust on a certificate (MD2, MD4, MD5). */
export const WEAK_SIGNATURE_ALGORITHMS: ReadonlySet<string> = new Set([
  '1.2.840.113549.1.1.2',
  '1.2.840.113549.1.1.3',
  '1.2.840.113549.1.1.4',
]);

/** One extension as found in the certificate. */
export interface Extension {
  oid: string;
  critical: boolean;
  value: Uint8Array;
}

export class Certificate {
  /** The whole certificate, DER. */
  readonly der: Uint8Array;
  /** The signed part (TBSCertificate), DER. */
  readonly tbsDer: Uint8Array;
  /** 1, 2 or 3. */
  readonly version: number;
  /** Serial number, hex of the INTEGER's value bytes. */
  readonly serialNumber: string;
  /** Subject Name, DER (the data of an ID_DER_ASN1_DN identity). */
  readonly subjectDer: Uint8Array;
  /** Issuer Name, DER. */
  readonly issuerDer: Uint8Array;
  /** "C=CH, O=Example, CN=gw.example.com" (strongSwan's notation). */
  readonly subject: string;
  readonly issuer: string;
  /** Validity, ms since the epoch (RFC 5280 §4.1.2.5). */
  readonly notBefore: number;
  readonly notAfter: number;
  readonly subjectAltNames: SubjectAltNames;
  /** undefined when the certificate has no keyUsage extension. */
  readonly keyUsage: KeyUsage | undefined;
  /** Extended key usage OIDs; undefined when there is no such extension. */
  readonly extendedKeyUsage: string[] | undefined;
  /** undefined when there is no basicConstraints extension. */
  readonly basicConstraints: BasicConstraints | undefined;
  readonly subjectKeyId: Uint8Array | undefined;
  readonly authorityKeyId: Uint8Array | undefined;
  /** Every extension, in order. */
  readonly extensions: Extension[];
  /** Critical extensions we do not process (RFC 5280 §4.2): such a certificate must be refused. */
  readonly unhandledCriticalExtensions: string[];
  /** The SubjectPublicKeyInfo, DER. */
  readonly spkiDer: Uint8Array;
  readonly publicKey: KeyObject;
  readonly keyType: KeyType;
  /** 'P-256', 'P-384', 'P-521' (or another curve's name or OID) for EC keys, else undefined. */
  readonly curve: string | undefined;
  /** Signature algorithm OID (outer signatureAlgorithm, equal to the TBS one). */
  readonly signatureAlgorithm: string;
  /** Its name (e.g. "sha256WithRSAEncryption"), or the OID. */
  readonly signatureAlgorithmName: string;
  /** node:crypto's view of the same certificate (used for signature checks). */
  readonly x509: X509Certificate;

  private keyId: Uint8Array | undefined;
  /** The subjectPublicKey BIT STRING TLV. */
  private readonly keyBits: Uint8Array;

  private constructor(der: Uint8Array) {
    this.der = der;
    // RFC 5280 §4.1: Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
    const cert = expectTag(parseDer(der, 'certificate'), Tag.SEQUENCE, 'certificate');
    const top = children(cert, 'certificate');
    if (top.length !== 3) throw new ParseError('certificate', 0, 'expected 3 elements');
    const tbs = expectTag(top[0], Tag.SEQUENCE, 'TBSCertificate');
    const outerAlg = expectTag(top[1], Tag.SEQUENCE, 'signatureAlgorithm');
    expectTag(top[2], Tag.BIT_STRING, 'signatureValue');
    this.tbsDer = tbs.raw;

    const f = children(tbs, 'TBSCertificate');
    let i = 0;
    // version [0] EXPLICIT Version DEFAULT v1
    this.version = 1;
    if (f[i]?.tag === 0xa0) {
      const [v, ...rest] = children(f[i]!, 'version');
      if (rest.length > 0) throw new ParseError('version', 0, 'trailing data');
      const n = expectTag(v, Tag.INTEGER, 'version').value;
      if (n.length !== 1 || n[0]! > 2) throw new ParseError('version', 0, 'not v1, v2 or v3');
      this.version = n[0]! + 1;
      i++;
    }
    const serial = expectTag(f[i++], Tag.INTEGER, 'serialNumber');
    if (serial.value.length === 0) throw new ParseError('serialNumber', 0, 'empty');
    this.serialNumber = hex(serial.value);
    const innerAlg = expectTag(f[i++], Tag.SEQUENCE, 'signature');
    // RFC 5280 §4.1.1.2: signatureAlgorithm MUST equal TBSCertificate.signature.
    if (!bytesEqual(innerAlg.raw, outerAlg.raw))
      throw new VpnError('ERR_CERT', 'certificate signature algorithm differs from the signed one');
    this.signatureAlgorithm = algorithmOid(outerAlg, 'signatureAlgorithm');
    this.signatureAlgorithmName =
      SIGNATURE_ALGORITHM_NAMES[this.signatureAlgorithm] ?? this.signatureAlgorithm;

    this.issuerDer = expectTag(f[i++], Tag.SEQUENCE, 'issuer').raw;
    const validity = children(expectTag(f[i++], Tag.SEQUENCE, 'validity'), 'validity');
    if (validity.length !== 2) throw new ParseError('validity', 0, 'expected two times');
    this.notBefore = parseTime(validity[0]!);
    this.notAfter = parseTime(validity[1]!);
    this.subjectDer = expectTag(f[i++], Tag.SEQUENCE, 'subject').raw;
    // Both Names must be well formed (RFC 5280 §4.1.2.4); formatDn checks the same structure.
    parseName(this.issuerDer);
    parseName(this.subjectDer);
    this.subject = formatDn(this.subjectDer);
    this.issuer = formatDn(this.issuerDer);

    const spki = expectTag(f[i++], Tag.SEQUENCE, 'subjectPublicKeyInfo');
    this.spkiDer = spki.raw;
    const [keyAlg, keyBits, ...more] = children(spki, 'subjectPublicKeyInfo');
    if (more.length > 0) throw new ParseError('subjectPublicKeyInfo', 0, 'trailing data');
    this.keyBits = expectTag(keyBits, Tag.BIT_STRING, 'subjectPublicKey').raw;
    const algParts = children(expectTag(keyAlg, Tag.SEQUENCE, 'algorithm'), 'algorithm');
    const keyOid = decodeOid(expectTag(algParts[0], Tag.OID, 'algorithm').value);
    const keyType = KEY_ALGORITHMS[keyOid];
    if (keyType === undefined)
      throw new VpnError('ERR_CERT', `unsupported public key algorithm ${keyOid}`);
    this.keyType = keyType;
    this.curve = undefined;
    if (keyType === 'ec') {
      const p = algParts[1];
      // RFC 5480 §2.1.1: namedCurve only (implicitCurve and specifiedCurve MUST NOT be used).
      if (p?.tag !== Tag.OID) throw new VpnError('ERR_CERT', 'EC key without a named curve');
      const c = decodeOid(p.value);
      this.curve = CURVES[c] ?? c;
    }

    // issuerUniqueID [1] and subjectUniqueID [2] (RFC 5280 §4.1.2.8), extensions [3].
    if (f[i]?.tag === 0x81) i++;
    if (f[i]?.tag === 0x82) i++;
    const extensions: Extension[] = [];
    if (f[i]?.tag === 0xa3) {
      // RFC 5280 §4.1.2.9: extensions appear only in version 3 certificates.
      if (this.version !== 3)
        throw new ParseError('extensions', 0, `in a v${this.version} certificate`);
      const [exts, ...rest] = children(f[i]!, 'extensions');
      if (rest.length > 0) throw new ParseError('extensions', 0, 'trailing data');
      const list = children(expectTag(exts, Tag.SEQUENCE, 'extensions'), 'extensions');
      // RFC 5280 §4.1.2.9: SEQUENCE SIZE (1..MAX) OF Extension
      if (list.length === 0) throw new ParseError('extensions', 0, 'empty');
      for (const e of list) extensions.push(parseExtension(e));
      i++;
    }
    if (i !== f.length) throw new ParseError('TBSCertificate', 0, 'unexpected trailing fields');
    this.extensions = extensions;

    const seen = new Set<string>();
    for (const e of extensions) {
      // RFC 5280 §4.2: at most one instance of a particular extension.
      if (seen.has(e.oid)) throw new ParseError('extensions', 0, `duplicate extension ${e.oid}`);
      seen.add(e.oid);
    }
    const ext = (o: string): Uint8Array | undefined => extensions.find((e) => e.oid === o)?.value;
    const san = ext(ExtOid.SUBJECT_ALT_NAME);
    this.subjectAltNames = san ? parseSubjectAltNames(san) : emptySans();
    const ku = ext(ExtOid.KEY_USAGE);
    this.keyUsage = ku ? parseKeyUsage(ku) : undefined;
    const eku = ext(ExtOid.EXT_KEY_USAGE);
    this.extendedKeyUsage = eku ? parseExtKeyUsage(eku) : undefined;
    const bc = ext(ExtOid.BASIC_CONSTRAINTS);
    this.basicConstraints = bc ? parseBasicConstraints(bc) : undefined;
    const ski = ext(ExtOid.SUBJECT_KEY_ID);
    this.subjectKeyId = ski
      ? expectTag(parseDer(ski, 'subjectKeyIdentifier'), Tag.OCTET_STRING, 'subjectKeyIdentifier')
          .value
      : undefined;
    const aki = ext(ExtOid.AUTHORITY_KEY_ID);
    this.authorityKeyId = aki ? parseAuthorityKeyId(aki) : undefined;
    this.unhandledCriticalExtensions = extensions
      .filter((e) => e.critical && !PROCESSED_EXTENSIONS.has(e.oid))
      .map((e) => e.oid);

    try {
      this.x509 = new X509Certificate(der);
      this.publicKey = createPublicKey({
        key: Buffer.from(this.spkiDer),
        format: 'der',
        type: 'spki',
      });
    } catch (e) {
      throw new VpnError('ERR_CERT', `certificate rejected by OpenSSL: ${errorText(e)}`, {
        cause: e,
      });
    }
    if (this.publicKey.asymmetricKeyType !== keyType)
      throw new VpnError(
        'ERR_CERT',
        `public key is ${String(this.publicKey.asymmetricKeyType)}, not ${keyType}`,
      );
  }

  /**
   * Parses a DER certificate (the bytes are copied). Throws ParseError for malformed DER,
   * VpnError('ERR_CERT') for a certificate we cannot use; never anything else.
   */
  static fromDer(der: Uint8Array): Certificate {
    try {
      return new Certificate(Uint8Array.from(der));
    } catch (e) {
      if (e instanceof VpnError) throw e;
      throw new VpnError('ERR_CERT', `invalid certificate: ${errorText(e)}`, { cause: e });
    }
  }

  /** Every certificate of a PEM text (see `pemToDer`). */
  static fromPem(text: string): Certificate[] {
    return pemToDer(text).map((d) => Certificate.fromDer(d));
  }

  /**
   * SHA-1 of the DER SubjectPublicKeyInfo: what a CERTREQ payload carries for a trust anchor
   * (RFC 7296 §3.7, strongSwan's KEYID_PUBKEY_INFO_SHA1), and what ID_KEY_ID usually holds.
   */
  keyIdSha1(): Uint8Array {
    this.keyId ??= new Uint8Array(createHash('sha1').update(this.spkiDer).digest());
    return this.keyId.slice();
  }

  /**
   * The CERTREQ hashes (RFC 7296 §3.7) to send for this certificate as a trust anchor:
   * `keyIdSha1()`, and for an id-RSASSA-PSS key also the SHA-1 of the same key written as an
   * rsaEncryption SubjectPublicKeyInfo, which is what strongSwan computes for such keys (it
   * re-encodes RSA public keys), so that a strongSwan gateway recognizes the CA either way.
   */
  certreqKeyIds(): Uint8Array[] {
    const ids = [this.keyIdSha1()];
    if (this.keyType === 'rsa-pss') {
      const asRsa = seq(seq(oid('1.2.840.113549.1.1.1'), DER_NULL), this.keyBits);
      ids.push(new Uint8Array(createHash('sha1').update(asRsa).digest()));
    }
    return ids;
  }

  /** SHA-256 of the whole certificate, colon-separated hex (for logs and messages). */
  fingerprintSha256(): string {
    const d = createHash('sha256').update(this.der).digest();
    return Array.from(d, (b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
  }

  /** Subject and issuer are the same name (RFC 5280 §6.1: "self-issued"). */
  get selfIssued(): boolean {
    return sameDistinguishedName(this.subjectDer, this.issuerDer);
  }

  /** Self-issued and signed with its own key. */
  get selfSigned(): boolean {
    return this.selfIssued && this.signedBy(this.publicKey);
  }

  /** notBefore ≤ now ≤ notAfter (RFC 5280 §4.1.2.5: both bounds inclusive). */
  validAt(now: number): boolean {
    return this.notBefore <= now && now <= this.notAfter;
  }

  /** Whether the certificate's signature verifies with `key` (no name check). */
  signedBy(key: KeyObject): boolean {
    try {
      return this.x509.verify(key);
    } catch {
      return false;
    }
  }

  /**
   * Whether `ca` issued this certificate: our issuer name is its subject name (RFC 5280 §7.1
   * comparison) and our signature verifies with its public key. Says nothing about whether `ca`
   * may act as a CA (see verifyChain).
   */
  issuedBy(ca: Certificate): boolean {
    return sameDistinguishedName(this.issuerDer, ca.subjectDer) && this.signedBy(ca.publicKey);
  }

  /** Same DER bytes. */
  equals(other: Certificate): boolean {
    return bytesEqual(this.der, other.der);
  }

  /** The subject for messages ("the certificate with an empty subject" if it has none). */
  describe(): string {
    if (this.subject !== '') return this.subject;
    const first = this.subjectAltNames.all[0];
    return first ? `(empty subject, ${first.type}:${first.value})` : '(empty subject)';
  }

  /** The commonName values of the subject, in order. */
  get commonNames(): string[] {
    return commonNames(this.subjectDer);
  }
}

/** The DER of every "-----BEGIN CERTIFICATE-----" block of a PEM text (RFC 7468 §5). */
export function pemToDer(text: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  const begin = /-----BEGIN (X509 |TRUSTED )?CERTIFICATE-----/g;
  for (let m = begin.exec(text); m !== null; m = begin.exec(text)) {
    const label = `${m[1] ?? ''}CERTIFICATE`;
    const start = m.index + m[0].length;
    const endMarker = `-----END ${label}-----`;
    const end = text.indexOf(endMarker, start);
    if (end < 0) throw new ParseError('PEM', m.index, `no "${endMarker}" line`);
    let body = text.slice(start, end);
    // RFC 7468 §2 allows explanatory headers in legacy PEM; strip "Name: value" lines.
    body = body
      .split(/\r?\n/)
      .filter((l) => !/^[A-Za-z-]+:/.test(l.trim()))
      .join('');
    const b64 = body.replace(/\s+/g, '');
    if (b64 === '' || b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64))
      throw new ParseError('PEM', start, 'bad base64');
    let der: Uint8Array = new Uint8Array(Buffer.from(b64, 'base64'));
    // OpenSSL's TRUSTED CERTIFICATE appends trust settings after the certificate.
    if (m[1] === 'TRUSTED ') der = readDer(der, 0, 'certificate').der.raw.slice();
    out.push(der);
    begin.lastIndex = end + endMarker.length;
  }
  return out;
}

function algorithmOid(alg: Der, what: string): string {
  const parts = children(alg, what);
  if (parts.length < 1 || parts.length > 2)
    throw new ParseError(what, 0, 'bad AlgorithmIdentifier');
  return decodeOid(expectTag(parts[0], Tag.OID, what).value);
}

function parseExtension(e: Der): Extension {
  const parts = children(expectTag(e, Tag.SEQUENCE, 'extension'), 'extension');
  const oid = decodeOid(expectTag(parts[0], Tag.OID, 'extnID').value);
  let critical = false;
  let k = 1;
  if (parts[k]?.tag === Tag.BOOLEAN) {
    const b = parts[k]!.value;
    if (b.length !== 1) throw new ParseError('extension', 0, 'bad BOOLEAN');
    critical = b[0] !== 0;
    k++;
  }
  const value = expectTag(parts[k], Tag.OCTET_STRING, 'extnValue').value;
  if (k + 1 !== parts.length) throw new ParseError('extension', 0, 'trailing data');
  return { oid, critical, value };
}

function emptySans(): SubjectAltNames {
  return { dns: [], ip: [], ipBytes: [], email: [], uri: [], dirNames: [], all: [] };
}

/** RFC 5280 §4.2.1.6: GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName */
function parseSubjectAltNames(v: Uint8Array): SubjectAltNames {
  const s = emptySans();
  const names = children(expectTag(parseDer(v, 'subjectAltName'), Tag.SEQUENCE, 'subjectAltName'));
  if (names.length === 0) throw new ParseError('subjectAltName', 0, 'empty');
  for (const n of names) {
    switch (n.tag) {
      case 0x81: {
        const t = latin1(n.value);
        s.email.push(t);
        s.all.push({ type: 'email', value: t, raw: n.value });
        break;
      }
      case 0x82: {
        const t = latin1(n.value);
        s.dns.push(t);
        s.all.push({ type: 'dns', value: t, raw: n.value });
        break;
      }
      case 0x86: {
        const t = latin1(n.value);
        s.uri.push(t);
        s.all.push({ type: 'uri', value: t, raw: n.value });
        break;
      }
      case 0x87: {
        // An iPAddress of another length (a name-constraint range) names no host: keep it out of
        // `ip` and `ipBytes`.
        if (n.value.length === 4 || n.value.length === 16) {
          const t = formatIpAddress(n.value);
          s.ip.push(t);
          s.ipBytes.push(n.value);
          s.all.push({ type: 'ip', value: t, raw: n.value });
        } else {
          s.all.push({ type: 'other', value: hex(n.value), raw: n.value });
        }
        break;
      }
      case 0xa4: {
        // directoryName [4] is EXPLICIT (Name is a CHOICE).
        const [name, ...rest] = children(n, 'directoryName');
        if (!name || rest.length > 0) throw new ParseError('directoryName', 0, 'expected a Name');
        expectTag(name, Tag.SEQUENCE, 'directoryName');
        s.dirNames.push(name.raw);
        s.all.push({ type: 'dirName', value: formatDn(name.raw), raw: name.raw });
        break;
      }
      default:
        // otherName [0], x400Address [3], ediPartyName [5], registeredID [8]
        if ((n.tag & 0xc0) !== 0x80 || (n.tag & 0x1f) > 8)
          throw new ParseError('subjectAltName', 0, `bad GeneralName tag 0x${n.tag.toString(16)}`);
        s.all.push({ type: 'other', value: hex(n.raw), raw: n.raw });
    }
  }
  return s;
}

/** RFC 5280 §4.2.1.3: KeyUsage ::= BIT STRING */
function parseKeyUsage(v: Uint8Array): KeyUsage {
  const bits = expectTag(parseDer(v, 'keyUsage'), Tag.BIT_STRING, 'keyUsage').value;
  if (bits.length === 0 || bits[0]! > 7 || (bits.length === 1 && bits[0] !== 0))
    throw new ParseError('keyUsage', 0, 'bad BIT STRING');
  const bit = (i: number): boolean => ((bits[1 + (i >> 3)] ?? 0) & (0x80 >> (i & 7))) !== 0;
  return {
    digitalSignature: bit(0),
    nonRepudiation: bit(1),
    keyEncipherment: bit(2),
    dataEncipherment: bit(3),
    keyAgreement: bit(4),
    keyCertSign: bit(5),
    cRLSign: bit(6),
    encipherOnly: bit(7),
    decipherOnly: bit(8),
  };
}

/** RFC 5280 §4.2.1.12: ExtKeyUsageSyntax ::= SEQUENCE SIZE (1..MAX) OF KeyPurposeId */
function parseExtKeyUsage(v: Uint8Array): string[] {
  const list = children(expectTag(parseDer(v, 'extKeyUsage'), Tag.SEQUENCE, 'extKeyUsage'));
  if (list.length === 0) throw new ParseError('extKeyUsage', 0, 'empty');
  return list.map((o) => decodeOid(expectTag(o, Tag.OID, 'KeyPurposeId').value));
}

/** RFC 5280 §4.2.1.9: SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL } */
function parseBasicConstraints(v: Uint8Array): BasicConstraints {
  const parts = children(
    expectTag(parseDer(v, 'basicConstraints'), Tag.SEQUENCE, 'basicConstraints'),
  );
  let k = 0;
  let cA = false;
  if (parts[k]?.tag === Tag.BOOLEAN) {
    const b = parts[k]!.value;
    if (b.length !== 1) throw new ParseError('basicConstraints', 0, 'bad BOOLEAN');
    cA = b[0] !== 0;
    k++;
  }
  let pathLen: number | undefined;
  if (parts[k]?.tag === Tag.INTEGER) {
    const n = parts[k]!.value;
    if (n.length === 0 || n.length > 2 || (n[0]! & 0x80) !== 0)
      throw new ParseError('basicConstraints', 0, 'bad pathLenConstraint');
    pathLen = n.reduce((a, b) => a * 256 + b, 0);
    k++;
  }
  if (k !== parts.length) throw new ParseError('basicConstraints', 0, 'trailing data');
  return pathLen === undefined ? { cA } : { cA, pathLen };
}

/** RFC 5280 §4.2.1.1: SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING OPTIONAL, ... } */
function parseAuthorityKeyId(v: Uint8Array): Uint8Array | undefined {
  const parts = children(
    expectTag(parseDer(v, 'authorityKeyIdentifier'), Tag.SEQUENCE, 'authorityKeyIdentifier'),
  );
  const first = parts[0];
  return first?.tag === 0x80 ? first.value : undefined;
}

/**
 * UTCTime "YYMMDDHHMMSSZ" (years 1950–2049) or GeneralizedTime "YYYYMMDDHHMMSSZ", both in UTC
 * with seconds and without fractions (RFC 5280 §4.1.2.5.1, §4.1.2.5.2). Returns ms since the epoch.
 */
function parseTime(d: Der): number {
  const s = latin1(d.value);
  let y: number;
  let rest: string;
  if (d.tag === Tag.UTC_TIME) {
    if (!/^\d{12}Z$/.test(s)) throw new ParseError('UTCTime', 0, `"${s}"`);
    const yy = Number(s.slice(0, 2));
    y = yy >= 50 ? 1900 + yy : 2000 + yy;
    rest = s.slice(2);
  } else if (d.tag === Tag.GENERALIZED_TIME) {
    if (!/^\d{14}Z$/.test(s)) throw new ParseError('GeneralizedTime', 0, `"${s}"`);
    y = Number(s.slice(0, 4));
    rest = s.slice(4);
  } else {
    throw new ParseError('validity', 0, `tag 0x${d.tag.toString(16)} is not a time`);
  }
  const [mo, day, h, mi, sec] = [0, 2, 4, 6, 8].map((o) => Number(rest.slice(o, o + 2))) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, day);
  date.setUTCHours(h, mi, sec, 0);
  if (
    mo < 1 ||
    mo > 12 ||
    h > 23 ||
    mi > 59 ||
    sec > 59 ||
    date.getUTCDate() !== day ||
    date.getUTCMonth() !== mo - 1
  )
    throw new ParseError('validity', 0, `impossible date "${s}"`);
  return date.getTime();
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
