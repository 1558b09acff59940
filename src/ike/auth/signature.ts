/**
 * IKE AUTH signatures (RFC 7296 §2.15, §3.8): the signature over the AUTH octets with the private
 * key of our certificate, and its verification with the gateway's public key.
 *
 * Methods: 1 (RSA Digital Signature: RSASSA-PKCS1-v1_5 with SHA-1, RFC 7296 §3.8), 9/10/11 (ECDSA
 * with SHA-256 on P-256, SHA-384 on P-384, SHA-512 on P-521, RFC 4754 §7-8: r‖s, each
 * zero-padded to the field size) and 14 (Digital Signature, RFC 7427 §3: a 1-byte length, an
 * ASN.1 AlgorithmIdentifier, then the signature), with the AlgorithmIdentifiers of RFC 7427
 * Appendix A (PKCS#1 v1.5, RSASSA-PSS, ECDSA) and RFC 8420 §2 (Ed25519, Ed448).
 *
 * Everything is synchronous node:crypto; nothing here reads a clock or a file.
 */
import { constants, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { ParseError, VpnError } from '../../core/errors.js';
import { AuthMethod, HashAlgorithm } from '../constants.js';
import {
  DER_NULL,
  Tag,
  children,
  decodeOid,
  expectTag,
  oid,
  parseDer,
  seq,
  tlv,
} from '../../pki/der.js';
import type { Der } from '../../pki/der.js';

export { HashAlgorithm };

/** A hash of the RFC 7427 §7 registry that we can use for signatures. */
export type HashId = 1 | 2 | 3 | 4;

interface HashInfo {
  id: HashId;
  /** node:crypto digest name. */
  node: string;
  label: string;
  /** Digest length in bytes. */
  size: number;
  /** Hash AlgorithmIdentifier OID (RFC 3279 §2.2.2, RFC 5754 §2). */
  oid: string;
  /** sha*WithRSAEncryption (RFC 3279 §2.2.1, RFC 4055 §5). */
  rsaOid: string;
  /** ecdsa-with-SHA* (RFC 3279 §2.2.3, RFC 5758 §3.2). */
  ecdsaOid: string;
}

const HASHES: Record<HashId, HashInfo> = {
  1: {
    id: 1,
    node: 'sha1',
    label: 'SHA-1',
    size: 20,
    oid: '1.3.14.3.2.26',
    rsaOid: '1.2.840.113549.1.1.5',
    ecdsaOid: '1.2.840.10045.4.1',
  },
  2: {
    id: 2,
    node: 'sha256',
    label: 'SHA-256',
    size: 32,
    oid: '2.16.840.1.101.3.4.2.1',
    rsaOid: '1.2.840.113549.1.1.11',
    ecdsaOid: '1.2.840.10045.4.3.2',
  },
  3: {
    id: 3,
    node: 'sha384',
    label: 'SHA-384',
    size: 48,
    oid: '2.16.840.1.101.3.4.2.2',
    rsaOid: '1.2.840.113549.1.1.12',
    ecdsaOid: '1.2.840.10045.4.3.3',
  },
  4: {
    id: 4,
    node: 'sha512',
    label: 'SHA-512',
    size: 64,
    oid: '2.16.840.1.101.3.4.2.3',
    rsaOid: '1.2.840.113549.1.1.13',
    ecdsaOid: '1.2.840.10045.4.3.4',
  },
};

const OID_RSASSA_PSS = '1.2.840.113549.1.1.10';
const OID_MGF1 = '1.2.840.113549.1.1.8';
const OID_ED25519 = '1.3.101.112';
const OID_ED448 = '1.3.101.113';

/** RFC 4055 §3.1: RSASSA-PSS-params defaults (SHA-1, MGF1 with SHA-1, salt 20, trailer 1). */
const PSS_DEFAULT_SALT = 20;

/** The hash algorithms we announce in SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4). */
export function supportedHashes(): number[] {
  return [
    HashAlgorithm.SHA2_256,
    HashAlgorithm.SHA2_384,
    HashAlgorithm.SHA2_512,
    HashAlgorithm.IDENTITY,
  ];
}

/** A signature algorithm of an RFC 7427 Digital Signature AUTH payload. */
export type AuthSignatureAlgorithm =
  | { kind: 'rsa-pkcs1'; hash: HashId }
  | { kind: 'rsa-pss'; hash: HashId; mgf1Hash: HashId; saltLength: number }
  | { kind: 'ecdsa'; hash: HashId }
  | { kind: 'ed25519' }
  | { kind: 'ed448' };

function hashAlgorithmId(h: HashId): Uint8Array {
  // RFC 4055 §2.1 allows absent or NULL parameters; RFC 7427 Appendix A.4 writes NULL.
  return seq(oid(HASHES[h].oid), DER_NULL);
}

function derUint(n: number): Uint8Array {
  const bytes: number[] = [];
  for (let x = n; x > 0; x = Math.floor(x / 256)) bytes.unshift(x & 0xff);
  if (bytes.length === 0 || (bytes[0]! & 0x80) !== 0) bytes.unshift(0);
  return tlv(Tag.INTEGER, Uint8Array.from(bytes));
}

/**
 * The DER AlgorithmIdentifier of an RFC 7427 Digital Signature (Appendix A; RFC 8420 §2 for
 * EdDSA). RSASSA-PSS parameters equal to the RFC 4055 defaults are omitted, as DER requires, and
 * the trailerField is never written (RFC 7427 A.4.3 as corrected by its errata).
 */
export function encodeSignatureAlgorithm(alg: AuthSignatureAlgorithm): Uint8Array {
  switch (alg.kind) {
    case 'rsa-pkcs1':
      // RFC 4055 §5: the parameters MUST be NULL.
      return seq(oid(HASHES[alg.hash].rsaOid), DER_NULL);
    case 'ecdsa':
      // RFC 5758 §3.2: the parameters MUST be absent.
      return seq(oid(HASHES[alg.hash].ecdsaOid));
    case 'ed25519':
      return seq(oid(OID_ED25519)); // RFC 8410 §3: parameters absent
    case 'ed448':
      return seq(oid(OID_ED448));
    case 'rsa-pss': {
      if (!Number.isInteger(alg.saltLength) || alg.saltLength < 0)
        throw new VpnError('ERR_ARG', `bad PSS salt length ${alg.saltLength}`);
      const params: Uint8Array[] = [];
      if (alg.hash !== 1) params.push(tlv(0xa0, hashAlgorithmId(alg.hash)));
      if (alg.mgf1Hash !== 1)
        params.push(tlv(0xa1, seq(oid(OID_MGF1), hashAlgorithmId(alg.mgf1Hash))));
      if (alg.saltLength !== PSS_DEFAULT_SALT) params.push(tlv(0xa2, derUint(alg.saltLength)));
      return seq(oid(OID_RSASSA_PSS), seq(...params));
    }
  }
}

function hashFromOid(o: string, what: string): HashId {
  for (const h of Object.values(HASHES)) if (h.oid === o) return h.id;
  throw new VpnError('ERR_CRYPTO', `unsupported ${what} hash ${o}`);
}

/** A hash AlgorithmIdentifier with absent or NULL parameters (RFC 4055 §2.1). */
function parseHashAlgorithm(d: Der | undefined, what: string): HashId {
  const parts = children(expectTag(d, Tag.SEQUENCE, what), what);
  const o = decodeOid(expectTag(parts[0], Tag.OID, what).value);
  const p = parts[1];
  if (parts.length > 2 || (p && (p.tag !== Tag.NULL || p.value.length !== 0)))
    throw new ParseError(what, 0, 'hash parameters must be absent or NULL');
  return hashFromOid(o, what);
}

/** The single element of an EXPLICIT context tag. */
function explicit(d: Der, what: string): Der {
  const inner = children(d, what);
  if (inner.length !== 1) throw new ParseError(what, 0, 'expected one element');
  return inner[0]!;
}

/** RFC 4055 §3.1: RSASSA-PSS-params ::= SEQUENCE { [0] hash, [1] mgf, [2] salt, [3] trailer } */
function parsePssParams(p: Der | undefined): AuthSignatureAlgorithm {
  let hash: HashId = 1;
  let mgf1Hash: HashId = 1;
  let saltLength = PSS_DEFAULT_SALT;
  if (p === undefined) return { kind: 'rsa-pss', hash, mgf1Hash, saltLength };
  const fields = children(expectTag(p, Tag.SEQUENCE, 'RSASSA-PSS-params'), 'RSASSA-PSS-params');
  let last = -1;
  for (const f of fields) {
    const n = f.tag - 0xa0;
    if (n < 0 || n > 3 || n <= last)
      throw new ParseError('RSASSA-PSS-params', 0, `unexpected tag 0x${f.tag.toString(16)}`);
    last = n;
    const v = explicit(f, 'RSASSA-PSS-params');
    if (n === 0) hash = parseHashAlgorithm(v, 'PSS hashAlgorithm');
    else if (n === 1) {
      const mgf = children(expectTag(v, Tag.SEQUENCE, 'maskGenAlgorithm'), 'maskGenAlgorithm');
      const mo = decodeOid(expectTag(mgf[0], Tag.OID, 'maskGenAlgorithm').value);
      if (mo !== OID_MGF1) throw new VpnError('ERR_CRYPTO', `unsupported mask generation ${mo}`);
      if (mgf.length !== 2) throw new ParseError('maskGenAlgorithm', 0, 'MGF1 needs a hash');
      mgf1Hash = parseHashAlgorithm(mgf[1], 'MGF1 hash');
    } else {
      const int = expectTag(v, Tag.INTEGER, n === 2 ? 'saltLength' : 'trailerField').value;
      if (int.length === 0 || int.length > 2 || (int[0]! & 0x80) !== 0)
        throw new ParseError('RSASSA-PSS-params', 0, 'bad INTEGER');
      const value = int.reduce((a, b) => a * 256 + b, 0);
      if (n === 2) saltLength = value;
      // RFC 4055 §3.1: trailerField MUST be 1 (trailerFieldBC).
      else if (value !== 1) throw new VpnError('ERR_CRYPTO', `PSS trailerField ${value} is not 1`);
    }
  }
  return { kind: 'rsa-pss', hash, mgf1Hash, saltLength };
}

/**
 * Decodes an RFC 7427 AlgorithmIdentifier. Throws ParseError for malformed DER and
 * VpnError('ERR_CRYPTO') for an algorithm outside RFC 7427 Appendix A / RFC 8420.
 */
export function decodeSignatureAlgorithm(der: Uint8Array): AuthSignatureAlgorithm {
  const parts = children(
    expectTag(parseDer(der, 'AlgorithmIdentifier'), Tag.SEQUENCE, 'AlgorithmIdentifier'),
  );
  if (parts.length < 1 || parts.length > 2)
    throw new ParseError('AlgorithmIdentifier', 0, 'expected algorithm and parameters');
  const o = decodeOid(expectTag(parts[0], Tag.OID, 'algorithm').value);
  const params = parts[1];
  const isNull = params?.tag === Tag.NULL && params.value.length === 0;
  if (o === OID_RSASSA_PSS) return parsePssParams(params);
  if (o === OID_ED25519 || o === OID_ED448) {
    if (params) throw new ParseError('AlgorithmIdentifier', 0, 'EdDSA parameters must be absent');
    return { kind: o === OID_ED25519 ? 'ed25519' : 'ed448' };
  }
  for (const h of Object.values(HASHES)) {
    if (o === h.rsaOid) {
      // RFC 4055 §5 requires NULL; absent parameters are accepted, as by OpenSSL and strongSwan.
      if (params && !isNull)
        throw new ParseError('AlgorithmIdentifier', 0, 'RSA parameters must be NULL');
      return { kind: 'rsa-pkcs1', hash: h.id };
    }
    if (o === h.ecdsaOid) {
      if (params) throw new ParseError('AlgorithmIdentifier', 0, 'ECDSA parameters must be absent');
      return { kind: 'ecdsa', hash: h.id };
    }
  }
  throw new VpnError('ERR_CRYPTO', `unsupported signature algorithm ${o}`);
}

/** Human-readable name of an RFC 7427 algorithm. */
export function describeSignatureAlgorithm(alg: AuthSignatureAlgorithm): string {
  switch (alg.kind) {
    case 'rsa-pkcs1':
      return `${HASHES[alg.hash].node}WithRSAEncryption`;
    case 'rsa-pss':
      return `RSASSA-PSS with ${HASHES[alg.hash].label}, MGF1 ${HASHES[alg.mgf1Hash].label}, salt ${alg.saltLength}`;
    case 'ecdsa':
      return `ecdsa-with-${HASHES[alg.hash].label.replace('-', '')}`;
    case 'ed25519':
      return 'Ed25519';
    case 'ed448':
      return 'Ed448';
  }
}

/** OpenSSL's names of the NIST curves. */
const NIST_CURVES: Readonly<Record<string, string>> = {
  prime256v1: 'P-256',
  secp384r1: 'P-384',
  secp521r1: 'P-521',
};

/** The curve of an EC key as 'P-256', 'P-384', 'P-521', or Node's name. */
function curveOf(key: KeyObject): string | undefined {
  const c = key.asymmetricKeyDetails?.namedCurve;
  return c === undefined ? undefined : (NIST_CURVES[c] ?? c);
}

/** RFC 4754 §7-8: method, curve, hash and the size of r and s. */
const LEGACY_ECDSA: Record<number, { curve: string; hash: HashId; size: number }> = {
  [AuthMethod.ECDSA_SHA256_P256]: { curve: 'P-256', hash: 2, size: 32 },
  [AuthMethod.ECDSA_SHA384_P384]: { curve: 'P-384', hash: 3, size: 48 },
  [AuthMethod.ECDSA_SHA512_P521]: { curve: 'P-521', hash: 4, size: 66 },
};

function hashIdOfNodeName(name: string | undefined): HashId | undefined {
  if (name === undefined) return undefined;
  const n = name.toLowerCase().replace('-', '');
  for (const h of Object.values(HASHES)) if (h.node === n) return h.id;
  return undefined;
}

export interface SignAuthOptions {
  /** Hashes the peer announced in SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4); [] if none. */
  peerHashes: number[];
  /**
   * Undefined (default): method 14 when the peer announced a hash we can use, else the legacy
   * method of the key. true: method 14 even if the peer announced nothing (with SHA-256).
   * false: the legacy method whenever the key has one (Ed25519/Ed448 and RSA-PSS keys have none).
   */
  preferDigitalSignature?: boolean;
  /** Sign with RSASSA-PSS instead of PKCS#1 v1.5 when method 14 is used with an RSA key. */
  rsaPss?: boolean;
}

function privateKeyError(message: string): VpnError {
  return new VpnError('ERR_CERT', message);
}

/**
 * Signs the AUTH octets (RFC 7296 §2.15) with our private key. Picks method 14 with the best hash
 * both sides support (SHA-512 > SHA-384 > SHA-256; Ed25519/Ed448 use the Identity hash and sign
 * the octets themselves, RFC 8420 §2) whenever the peer announced hashes; otherwise method 1 for
 * RSA, 9/10/11 for ECDSA on P-256/P-384/P-521. Throws VpnError('ERR_CERT') for a key we cannot use.
 */
export function signAuth(
  key: KeyObject,
  octets: Uint8Array,
  opts: SignAuthOptions,
): { method: number; data: Uint8Array } {
  if (key.type !== 'private') throw privateKeyError('signing the AUTH payload needs a private key');
  const peer = new Set(opts.peerHashes);
  const best = ([4, 3, 2] as const).find((h) => peer.has(h));
  const use14 =
    opts.preferDigitalSignature === true ||
    (opts.preferDigitalSignature !== false && best !== undefined);
  const data = Buffer.from(octets.buffer, octets.byteOffset, octets.byteLength);
  const kt = key.asymmetricKeyType;

  const digital = (
    alg: AuthSignatureAlgorithm,
    sig: Uint8Array,
  ): { method: number; data: Uint8Array } => {
    const ai = encodeSignatureAlgorithm(alg);
    // RFC 7427 §3: a one-octet length of the AlgorithmIdentifier, the AlgorithmIdentifier, the
    // signature.
    const out = new Uint8Array(1 + ai.length + sig.length);
    out[0] = ai.length;
    out.set(ai, 1);
    out.set(sig, 1 + ai.length);
    return { method: AuthMethod.DIGITAL_SIGNATURE, data: out };
  };

  switch (kt) {
    case 'ed25519':
    case 'ed448':
      // RFC 8420 §2: PureEdDSA over the octets, the peer having announced hash 5 (Identity).
      return digital({ kind: kt }, new Uint8Array(sign(null, data, key)));
    case 'rsa-pss': {
      // An RSA-PSS key can only make PSS signatures: always method 14. A key restricted to one
      // hash (RFC 4055 §3.1 parameters in its SubjectPublicKeyInfo) must use that hash.
      const d = key.asymmetricKeyDetails;
      const restricted = hashIdOfNodeName(d?.hashAlgorithm);
      let hash: HashId;
      if (restricted !== undefined) {
        if (peer.size > 0 && !peer.has(restricted))
          throw privateKeyError(
            `the RSA-PSS key is restricted to ${HASHES[restricted].label}, which the peer did not announce`,
          );
        hash = restricted;
      } else hash = best ?? 2;
      const mgf1Hash = hashIdOfNodeName(d?.mgf1HashAlgorithm) ?? hash;
      const saltLength = Math.max(HASHES[hash].size, d?.saltLength ?? 0);
      const sig = sign(HASHES[hash].node, data, {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength,
      });
      return digital({ kind: 'rsa-pss', hash, mgf1Hash, saltLength }, new Uint8Array(sig));
    }
    case 'rsa': {
      if (!use14) {
        // RFC 7296 §3.8 method 1: RSASSA-PKCS1-v1_5 with SHA-1 (what every implementation uses).
        const sig = sign('sha1', data, { key, padding: constants.RSA_PKCS1_PADDING });
        return { method: AuthMethod.RSA_SIG, data: new Uint8Array(sig) };
      }
      const hash = best ?? 2;
      if (opts.rsaPss === true) {
        // RFC 7427 A.4, RFC 8247 §3.2: salt as long as the hash, MGF1 with the same hash.
        const saltLength = HASHES[hash].size;
        const sig = sign(HASHES[hash].node, data, {
          key,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength,
        });
        return digital({ kind: 'rsa-pss', hash, mgf1Hash: hash, saltLength }, new Uint8Array(sig));
      }
      const sig = sign(HASHES[hash].node, data, { key, padding: constants.RSA_PKCS1_PADDING });
      return digital({ kind: 'rsa-pkcs1', hash }, new Uint8Array(sig));
    }
    case 'ec': {
      const curve = curveOf(key);
      const legacy = Object.entries(LEGACY_ECDSA).find(([, v]) => v.curve === curve);
      if (!use14 && legacy) {
        // RFC 4754 §7: the signature is r‖s, each the size of the curve's field (IEEE P1363).
        const [method, l] = legacy;
        const sig = sign(HASHES[l.hash].node, data, { key, dsaEncoding: 'ieee-p1363' });
        return { method: Number(method), data: new Uint8Array(sig) };
      }
      // RFC 7427 A.3: ECDSA-Sig-Value, DER. A curve without a legacy method goes here too.
      const hash = best ?? 2;
      const sig = sign(HASHES[hash].node, data, { key, dsaEncoding: 'der' });
      return digital({ kind: 'ecdsa', hash }, new Uint8Array(sig));
    }
    case 'dsa':
    case 'x25519':
    case 'x448':
    case undefined:
      break;
  }
  // Also reached by key types node:crypto has but does not declare (e.g. 'dh').
  throw privateKeyError(
    `cannot sign IKE AUTH with a ${String(kt)} key (RSA, RSA-PSS, ECDSA, Ed25519 or Ed448 needed)`,
  );
}

export interface VerifyAuthOptions {
  /** The hashes we announced (RFC 7427 §4): a method 14 signature must use one of them. */
  ourHashes: number[];
}

export type VerifyAuthResult = { ok: true; description: string } | { ok: false; reason: string };

function keyTypeName(key: KeyObject): string {
  const t = key.asymmetricKeyType ?? 'unknown';
  return t === 'ec' ? `EC ${curveOf(key) ?? ''}`.trim() : t.toUpperCase();
}

/**
 * Verifies an AUTH payload's signature over the AUTH octets with the peer's public key. Accepts
 * methods 1, 9, 10, 11 and 14; never throws.
 */
export function verifyAuth(
  publicKey: KeyObject,
  method: number,
  data: Uint8Array,
  octets: Uint8Array,
  opts: VerifyAuthOptions,
): VerifyAuthResult {
  try {
    return verifyAuthInner(publicKey, method, data, octets, opts);
  } catch (e) {
    return { ok: false, reason: e instanceof Error ? e.message : String(e) };
  }
}

function verifyAuthInner(
  key: KeyObject,
  method: number,
  data: Uint8Array,
  octets: Uint8Array,
  opts: VerifyAuthOptions,
): VerifyAuthResult {
  const msg = Buffer.from(octets.buffer, octets.byteOffset, octets.byteLength);
  const kt = key.asymmetricKeyType;
  const fail = (reason: string): VerifyAuthResult => ({ ok: false, reason });
  const result = (ok: boolean, description: string): VerifyAuthResult =>
    ok ? { ok: true, description } : fail(`${description} signature does not verify`);

  if (method === AuthMethod.RSA_SIG) {
    if (kt !== 'rsa')
      return fail(`RSA signature (method 1), but the certificate has a ${keyTypeName(key)} key`);
    if (data.length === 0) return fail('empty signature');
    const ok = verify('sha1', msg, { key, padding: constants.RSA_PKCS1_PADDING }, data);
    return result(ok, 'RSA PKCS#1 v1.5 with SHA-1 (RFC 7296 method 1)');
  }

  const legacy = LEGACY_ECDSA[method];
  if (legacy) {
    const description = `ECDSA with ${HASHES[legacy.hash].label} on ${legacy.curve} (RFC 4754 method ${method})`;
    if (kt !== 'ec' || curveOf(key) !== legacy.curve)
      return fail(`${description}, but the certificate has a ${keyTypeName(key)} key`);
    if (data.length !== 2 * legacy.size)
      return fail(`${description}: signature of ${data.length} bytes, expected ${2 * legacy.size}`);
    const ok = verify(HASHES[legacy.hash].node, msg, { key, dsaEncoding: 'ieee-p1363' }, data);
    return result(ok, description);
  }

  if (method !== AuthMethod.DIGITAL_SIGNATURE)
    return fail(`authentication method ${method} is not a signature method we accept`);

  // RFC 7427 §3: length of the AlgorithmIdentifier, the AlgorithmIdentifier, the signature.
  const aiLen = data[0];
  if (aiLen === undefined || aiLen === 0 || 1 + aiLen >= data.length)
    return fail('Digital Signature AUTH data too short for its AlgorithmIdentifier and signature');
  let alg: AuthSignatureAlgorithm;
  try {
    alg = decodeSignatureAlgorithm(data.subarray(1, 1 + aiLen));
  } catch (e) {
    return fail(`bad signature AlgorithmIdentifier: ${e instanceof Error ? e.message : String(e)}`);
  }
  const sig = data.subarray(1 + aiLen);
  const name = describeSignatureAlgorithm(alg);
  const description = `${name} (RFC ${alg.kind === 'ed25519' || alg.kind === 'ed448' ? '8420' : '7427'})`;
  const announced = new Set(opts.ourHashes);

  switch (alg.kind) {
    case 'ed25519':
    case 'ed448': {
      if (!announced.has(HashAlgorithm.IDENTITY))
        return fail(`${name} needs the Identity hash, which we did not announce`);
      if (kt !== alg.kind)
        return fail(`${name} signature, but the certificate has a ${keyTypeName(key)} key`);
      return result(verify(null, msg, key, sig), description);
    }
    case 'rsa-pkcs1': {
      if (!announced.has(alg.hash))
        return fail(`${name} uses ${HASHES[alg.hash].label}, which we did not announce`);
      if (kt !== 'rsa')
        return fail(`${name} signature, but the certificate has a ${keyTypeName(key)} key`);
      const ok = verify(
        HASHES[alg.hash].node,
        msg,
        { key, padding: constants.RSA_PKCS1_PADDING },
        sig,
      );
      return result(ok, description);
    }
    case 'rsa-pss': {
      if (!announced.has(alg.hash))
        return fail(`${name} uses ${HASHES[alg.hash].label}, which we did not announce`);
      // node:crypto uses MGF1 with the message hash (RFC 8247 §3.2 recommends exactly that).
      if (alg.mgf1Hash !== alg.hash)
        return fail(`${name}: MGF1 with a hash other than the message hash is not supported`);
      if (kt !== 'rsa' && kt !== 'rsa-pss')
        return fail(`${name} signature, but the certificate has a ${keyTypeName(key)} key`);
      const ok = verify(
        HASHES[alg.hash].node,
        msg,
        { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: alg.saltLength },
        sig,
      );
      return result(ok, description);
    }
    case 'ecdsa': {
      if (!announced.has(alg.hash))
        return fail(`${name} uses ${HASHES[alg.hash].label}, which we did not announce`);
      if (kt !== 'ec')
        return fail(`${name} signature, but the certificate has a ${keyTypeName(key)} key`);
      const ok = verify(HASHES[alg.hash].node, msg, { key, dsaEncoding: 'der' }, sig);
      return result(ok, description);
    }
  }
}
