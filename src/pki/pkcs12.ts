/**
 * PKCS#12 (RFC 7292) files as OpenSSL, Windows and macOS export them: the client's private key
 * and certificate chain behind one password.
 *
 * Supported: password integrity mode (macData: HMAC keyed with the Appendix B KDF, SHA-1/SHA-2),
 * `data` and `encryptedData` ContentInfos, the keyBag, pkcs8ShroudedKeyBag, certBag
 * (x509Certificate) and safeContentsBag SafeBags, and these encryption schemes:
 *  - PBES2 (RFC 8018 §6.2) with PBKDF2 (HMAC-SHA-1/224/256/384/512) and AES-128/192/256-CBC or
 *    DES-EDE3-CBC — OpenSSL 3's default;
 *  - the PKCS#12 PBE schemes of RFC 7292 Appendix C with 3-key or 2-key 3DES (OpenSSL 1.x's
 *    default for keys), and with RC2 (its default for certificates) when node:crypto offers RC2,
 *    which Node.js 20 without the OpenSSL legacy provider does not: then a clear error says how
 *    to re-export the file.
 * Not supported: public-key integrity or privacy modes (signedData, envelopedData), PBMAC1, BER
 * indefinite lengths.
 *
 * Pure (node:crypto only). Decoding throws only `ParseError` (malformed structure) or `VpnError`
 * with code ERR_CERT (wrong password, unsupported algorithm, unusable content).
 */
import {
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  hash as oneShotHash,
  createPublicKey,
  getCiphers,
  pbkdf2Sync,
  timingSafeEqual,
  X509Certificate,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { ParseError, VpnError } from '../core/errors.js';
import type { Der } from './der.js';
import { Tag, decodeOid, decodeUnsigned, readDer } from './der.js';

/** What a PKCS#12 file yields. */
export interface Pkcs12Contents {
  /** The private key (the one whose certificate is in the file, if there are several). */
  key: KeyObject;
  /**
   * DER certificates: the key's own certificate first (found by localKeyId or by its public key),
   * then the others in file order. Empty if the file holds none; the file order if none matches.
   */
  certs: Uint8Array[];
}

const OID = {
  // RFC 2315 §14 / RFC 5652 §4, §8: ContentInfo types.
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  envelopedData: '1.2.840.113549.1.7.3',
  encryptedData: '1.2.840.113549.1.7.6',
  // RFC 7292 §4.2 and Appendix D: bag types.
  keyBag: '1.2.840.113549.1.12.10.1.1',
  pkcs8ShroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  safeContentsBag: '1.2.840.113549.1.12.10.1.6',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  localKeyId: '1.2.840.113549.1.9.21',
  // RFC 8018 Appendix A.2, A.4; RFC 9579 (PBMAC1).
  pbkdf2: '1.2.840.113549.1.5.12',
  pbes2: '1.2.840.113549.1.5.13',
  pbmac1: '1.2.840.113549.1.5.14',
} as const;

export type Pkcs12Hash = 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';

/** Block size v (bytes) of each hash, for RFC 7292 Appendix B.2. */
const BLOCK: Record<Pkcs12Hash, number> = {
  sha1: 64,
  sha224: 64,
  sha256: 64,
  sha384: 128,
  sha512: 128,
};
const OUT_LEN: Record<Pkcs12Hash, number> = {
  sha1: 20,
  sha224: 28,
  sha256: 32,
  sha384: 48,
  sha512: 64,
};

/** DigestInfo hash OIDs (MacData, RFC 7292 §4; RFC 8017 Appendix A.2.4). */
const DIGESTS: Readonly<Record<string, Pkcs12Hash>> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

/** PBKDF2 PRFs (RFC 8018 Appendix B.1). */
const HMAC_PRFS: Readonly<Record<string, Pkcs12Hash>> = {
  '1.2.840.113549.2.7': 'sha1',
  '1.2.840.113549.2.8': 'sha224',
  '1.2.840.113549.2.9': 'sha256',
  '1.2.840.113549.2.10': 'sha384',
  '1.2.840.113549.2.11': 'sha512',
};

/** PBES2 encryption schemes (RFC 8018 Appendix B.2; NIST AES OIDs). */
const PBES2_CIPHERS: Readonly<Record<string, { name: string; keyLen: number; ivLen: number }>> = {
  '2.16.840.1.101.3.4.1.2': { name: 'aes-128-cbc', keyLen: 16, ivLen: 16 },
  '2.16.840.1.101.3.4.1.22': { name: 'aes-192-cbc', keyLen: 24, ivLen: 16 },
  '2.16.840.1.101.3.4.1.42': { name: 'aes-256-cbc', keyLen: 32, ivLen: 16 },
  '1.2.840.113549.3.7': { name: 'des-ede3-cbc', keyLen: 24, ivLen: 8 },
};

/** RFC 7292 Appendix C: the PKCS#12 PBE schemes (SHA-1 KDF; IV of 8 bytes for all of them). */
const PKCS12_PBE: Readonly<Record<string, { name: string; keyLen: number; label: string }>> = {
  '1.2.840.113549.1.12.1.1': { name: 'rc4', keyLen: 16, label: 'RC4-128' },
  '1.2.840.113549.1.12.1.2': { name: 'rc4-40', keyLen: 5, label: 'RC4-40' },
  '1.2.840.113549.1.12.1.3': { name: 'des-ede3-cbc', keyLen: 24, label: '3-key 3DES' },
  '1.2.840.113549.1.12.1.4': { name: 'des-ede-cbc', keyLen: 16, label: '2-key 3DES' },
  '1.2.840.113549.1.12.1.5': { name: 'rc2-cbc', keyLen: 16, label: 'RC2-128' },
  '1.2.840.113549.1.12.1.6': { name: 'rc2-40-cbc', keyLen: 5, label: 'RC2-40' },
};

/** Schemes we know by name only, for a useful "unsupported" message. */
const KNOWN_UNSUPPORTED: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.5.3': 'PBES1 pbeWithMD5AndDES-CBC',
  '1.2.840.113549.1.5.10': 'PBES1 pbeWithSHA1AndDES-CBC',
  '1.2.840.113549.1.5.6': 'PBES1 pbeWithMD5AndRC2-CBC',
  '1.2.840.113549.1.5.11': 'PBES1 pbeWithSHA1AndRC2-CBC',
  '1.2.840.113549.3.2': 'RC2-CBC',
  '1.3.14.3.2.7': 'DES-CBC',
};

const REEXPORT =
  're-export it with `openssl pkcs12 -export -certpbe AES-256-CBC -keypbe AES-256-CBC -macalg sha256 ...`, ' +
  'e.g. `(umask 077; openssl pkcs12 -legacy -in OLD.p12 -nodes -out tmp.pem) && ' +
  'openssl pkcs12 -export -in tmp.pem -certpbe AES-256-CBC -keypbe AES-256-CBC -macalg sha256 -out NEW.p12; ' +
  'rm tmp.pem`';

/**
 * Iteration counts beyond these are refused as damaged (real files use 2048 to a few 100 000):
 * PBKDF2 runs in OpenSSL, the Appendix B KDF hashes once per iteration from JavaScript.
 */
const MAX_ITERATIONS = 10_000_000;
const MAX_PKCS12_KDF_ITERATIONS = 1_000_000;
/** Nesting of safeContentsBag inside SafeContents. */
const MAX_DEPTH = 4;

/**
 * RFC 7292 Appendix B.1: the password as a BMPString (UTF-16 big-endian code units, so characters
 * beyond U+FFFF become surrogate pairs, as OpenSSL's UTF-8 conversion does) with two zero bytes.
 */
export function bmpPassword(password: string): Uint8Array {
  const out = new Uint8Array(password.length * 2 + 2);
  for (let i = 0; i < password.length; i++) {
    const c = password.charCodeAt(i);
    out[2 * i] = c >> 8;
    out[2 * i + 1] = c & 0xff;
  }
  return out;
}

/**
 * RFC 7292 Appendix B.2: derives `n` bytes of key material (ID 1), IV (ID 2) or MAC key (ID 3)
 * from `password` (already BMPString-encoded, see `bmpPassword`), `salt` and `iterations`.
 */
export function pkcs12Kdf(
  hash: Pkcs12Hash,
  password: Uint8Array,
  salt: Uint8Array,
  id: 1 | 2 | 3,
  iterations: number,
  n: number,
): Uint8Array {
  if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError('iterations < 1');
  const v = BLOCK[hash];
  const u = OUT_LEN[hash];
  // Step 1: D = v bytes of ID.
  const D = new Uint8Array(v).fill(id);
  // Steps 2-4: S and P repeat salt and password to a multiple of v bytes (empty stays empty);
  // I = S || P.
  const stretch = (src: Uint8Array): Uint8Array => {
    const out = new Uint8Array(v * Math.ceil(src.length / v));
    for (let i = 0; i < out.length; i++) out[i] = src[i % src.length]!;
    return out;
  };
  const S = stretch(salt);
  const P = stretch(password);
  const I = new Uint8Array(S.length + P.length);
  I.set(S);
  I.set(P, S.length);
  const out = new Uint8Array(n);
  // Steps 5-8: c = ceil(n/u) rounds.
  for (let produced = 0; produced < n; produced += u) {
    // Step 6a: A_i = H^r(D || I).
    let A: Buffer = createHash(hash).update(D).update(I).digest();
    for (let r = 1; r < iterations; r++) A = oneShotHash(hash, A, 'buffer');
    out.set(A.subarray(0, Math.min(u, n - produced)), produced);
    if (produced + u >= n) break;
    // Steps 6b-6c: B = A_i repeated to v bytes; each v-byte block I_j of I becomes
    // (I_j + B + 1) mod 2^(8v).
    const B = new Uint8Array(v);
    for (let i = 0; i < v; i++) B[i] = A[i % u]!;
    for (let j = 0; j < I.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const x = I[j + k]! + B[k]! + carry;
        I[j + k] = x & 0xff;
        carry = x >> 8;
      }
    }
  }
  return out;
}

/**
 * DER access with offsets relative to the outermost buffer (`root`), so that a `ParseError` says
 * where in the file (or in a decrypted SafeContents) the problem is.
 */
class Reader {
  private readonly root: Uint8Array;
  readonly what: string;

  constructor(root: Uint8Array, what: string) {
    this.root = root;
    this.what = what;
  }

  offsetOf(bytes: Uint8Array): number {
    const o = bytes.byteOffset - this.root.byteOffset;
    return bytes.buffer === this.root.buffer && o >= 0 && o <= this.root.length ? o : 0;
  }

  fail(at: Der | Uint8Array, detail: string): never {
    throw new ParseError(this.what, this.offsetOf('raw' in at ? at.raw : at), detail);
  }

  /** The one TLV that fills `bytes` (a subarray of the root). */
  tlv(bytes: Uint8Array, what: string): Der {
    const start = bytes.byteOffset - this.root.byteOffset;
    if (bytes.buffer !== this.root.buffer || start < 0 || start + bytes.length > this.root.length)
      throw new RangeError('Reader.tlv: bytes outside the root buffer');
    const { der, next } = readDer(this.root, start, this.what);
    if (next !== start + bytes.length) this.fail(der, `trailing bytes after ${what}`);
    return der;
  }

  /** The elements of a constructed TLV, which must have tag `tag`. */
  kids(d: Der | undefined, tag: number, what: string, parent: Der | Uint8Array): Der[] {
    const c = this.expect(d, tag, what, parent);
    if (!c.constructed) this.fail(c, `${what} is not constructed`);
    const start = this.offsetOf(c.value);
    const end = start + c.value.length;
    const out: Der[] = [];
    for (let p = start; p < end;) {
      const r = readDer(this.root, p, this.what);
      if (r.next > end) this.fail(r.der, `element runs past the end of ${what}`);
      out.push(r.der);
      p = r.next;
    }
    return out;
  }

  expect(d: Der | undefined, tag: number, what: string, parent: Der | Uint8Array): Der {
    if (!d) this.fail(parent, `${what} missing`);
    if (d.tag !== tag)
      this.fail(d, `${what}: tag 0x${d.tag.toString(16)}, expected 0x${tag.toString(16)}`);
    return d;
  }

  oid(d: Der | undefined, what: string, parent: Der | Uint8Array): string {
    const o = this.expect(d, Tag.OID, what, parent);
    try {
      return decodeOid(o.value);
    } catch {
      return this.fail(o, `${what}: malformed OBJECT IDENTIFIER`);
    }
  }

  int(
    d: Der | undefined,
    what: string,
    parent: Der | Uint8Array,
    min: number,
    max: number,
  ): number {
    const i = this.expect(d, Tag.INTEGER, what, parent);
    let v: bigint;
    try {
      v = decodeUnsigned(i.value);
    } catch {
      return this.fail(i, `${what}: malformed or negative INTEGER`);
    }
    if (v < BigInt(min) || v > BigInt(max)) this.fail(i, `${what} ${v} out of range`);
    return Number(v);
  }

  /** An OCTET STRING, primitive or (BER-style, definite length) constructed of OCTET STRINGs. */
  octets(
    d: Der | undefined,
    what: string,
    parent: Der | Uint8Array,
    implicitTag?: number,
  ): Uint8Array {
    if (!d) this.fail(parent, `${what} missing`);
    const prim = implicitTag ?? Tag.OCTET_STRING;
    if (d.tag === prim) return d.value;
    if (d.tag === (prim | 0x20)) {
      // One level only (as BER producers write it), each part a primitive OCTET STRING.
      const parts = this.kids(d, d.tag, what, parent).map(
        (p) => this.expect(p, Tag.OCTET_STRING, what, d).value,
      );
      const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let o = 0;
      for (const p of parts) {
        out.set(p, o);
        o += p.length;
      }
      return out;
    }
    return this.fail(d, `${what}: tag 0x${d.tag.toString(16)}, expected an OCTET STRING`);
  }

  /** The single element of an [0] EXPLICIT wrapper. */
  explicit0(d: Der | undefined, what: string, parent: Der | Uint8Array): Der {
    const inner = this.kids(d, 0xa0, what, parent);
    if (inner.length !== 1) this.fail(d!, `${what}: [0] must hold exactly one element`);
    return inner[0]!;
  }
}

/** The password in the encodings the schemes use. */
interface Passwords {
  /** For the PKCS#12 KDF (Appendix B): BMPString, as chosen by the MAC check. */
  bmp: Uint8Array;
  /** For PBKDF2 (RFC 8018 §5.2): the UTF-8 bytes, as OpenSSL does. */
  utf8: Uint8Array;
}

/**
 * The BMPString encodings worth trying: RFC 7292's; for the empty password also no bytes at all
 * (OpenSSL's NULL password); for non-ASCII passwords also each UTF-8 byte as one code unit, which
 * is what OpenSSL before 1.1.0 wrote (OpenSSL's own `pkcs12` command retries it the same way).
 */
function bmpCandidates(password: string): Uint8Array[] {
  const out = [bmpPassword(password)];
  if (password === '') out.push(new Uint8Array(0));
  const utf8 = Buffer.from(password, 'utf8');
  if (utf8.length !== password.length) {
    const widened = new Uint8Array(utf8.length * 2 + 2);
    utf8.forEach((b, i) => (widened[2 * i + 1] = b));
    out.push(widened);
  }
  return out;
}

function wrongPassword(detail: string): VpnError {
  return new VpnError('ERR_CERT', `wrong password for PKCS#12 file (${detail})`);
}

/**
 * RFC 7292 §4 (MacData) and Appendix B: HMAC over the authSafe content with a key derived by the
 * Appendix B KDF, ID 3. Returns the password encoding that verified.
 */
function checkMac(r: Reader, macData: Der, content: Uint8Array, password: string): Uint8Array {
  const [mac, saltD, iterD] = r.kids(macData, Tag.SEQUENCE, 'MacData', macData);
  const [alg, digest] = r.kids(mac, Tag.SEQUENCE, 'MacData DigestInfo', macData);
  const algK = r.kids(alg, Tag.SEQUENCE, 'MAC digestAlgorithm', mac!);
  const hashOid = r.oid(algK[0], 'MAC digest algorithm', alg!);
  if (hashOid === OID.pbmac1)
    throw new VpnError('ERR_CERT', `PKCS#12 integrity with PBMAC1 is not supported; ${REEXPORT}`);
  const hash = DIGESTS[hashOid];
  if (!hash) throw new VpnError('ERR_CERT', `PKCS#12 MAC with unsupported hash ${hashOid}`);
  const expected = r.octets(digest, 'MAC value', mac!);
  const salt = r.octets(saltD, 'MAC salt', macData);
  // iterations INTEGER DEFAULT 1
  const iterations = iterD
    ? r.int(iterD, 'MAC iterations', macData, 1, MAX_PKCS12_KDF_ITERATIONS)
    : 1;
  if (expected.length !== OUT_LEN[hash]) r.fail(digest!, 'MAC value has the wrong length');
  for (const pw of bmpCandidates(password)) {
    const key = pkcs12Kdf(hash, pw, salt, 3, iterations, OUT_LEN[hash]);
    const got = createHmac(hash, key).update(content).digest();
    if (timingSafeEqual(got, expected)) return pw;
  }
  throw wrongPassword('its integrity check failed');
}

function rc2Unavailable(label: string): VpnError {
  return new VpnError(
    'ERR_CERT',
    `this PKCS#12 file uses ${label} encryption (an old OpenSSL default), which this Node.js cannot decrypt; ${REEXPORT}`,
  );
}

/**
 * Decrypts `data` with the password-based scheme in AlgorithmIdentifier `alg`. Returns undefined
 * when the padding is wrong (a wrong password, or a damaged file); throws for unusable parameters.
 */
function pbeDecrypt(r: Reader, alg: Der, data: Uint8Array, pw: Passwords): Uint8Array | undefined {
  const [oidD, params] = r.kids(alg, Tag.SEQUENCE, 'encryption AlgorithmIdentifier', alg);
  const oid = r.oid(oidD, 'encryption algorithm', alg);

  const legacy = PKCS12_PBE[oid];
  if (legacy) {
    // RFC 7292 Appendix C: pkcs-12PbeParams ::= SEQUENCE { salt OCTET STRING, iterations INTEGER }.
    if (legacy.name.startsWith('rc4')) {
      throw new VpnError(
        'ERR_CERT',
        `this PKCS#12 file uses ${legacy.label} encryption; ${REEXPORT}`,
      );
    }
    if (legacy.name.startsWith('rc2') && !getCiphers().includes(legacy.name))
      throw rc2Unavailable(legacy.label);
    const [saltD, iterD] = r.kids(params, Tag.SEQUENCE, 'pkcs-12PbeParams', alg);
    const salt = r.octets(saltD, 'PBE salt', params!);
    const iterations = r.int(iterD, 'PBE iterations', params!, 1, MAX_PKCS12_KDF_ITERATIONS);
    // RFC 7292 Appendix B.2 with SHA-1: ID 1 for the key, ID 2 for the IV.
    const key = pkcs12Kdf('sha1', pw.bmp, salt, 1, iterations, legacy.keyLen);
    const iv = pkcs12Kdf('sha1', pw.bmp, salt, 2, iterations, 8);
    if (legacy.name.startsWith('rc2')) {
      try {
        return decipher(legacy.name, key, iv, data);
      } catch (e) {
        if (e instanceof VpnError) throw e;
        throw rc2Unavailable(legacy.label);
      }
    }
    return decipher(legacy.name, key, iv, data);
  }

  if (oid === OID.pbes2) {
    // RFC 8018 §6.2, Appendix A.4: PBES2-params ::= SEQUENCE { keyDerivationFunc, encryptionScheme }.
    const [kdf, enc] = r.kids(params, Tag.SEQUENCE, 'PBES2-params', alg);
    const [kdfOid, kdfParams] = r.kids(kdf, Tag.SEQUENCE, 'PBES2 keyDerivationFunc', params!);
    const kdfName = r.oid(kdfOid, 'PBES2 key derivation function', kdf!);
    if (kdfName !== OID.pbkdf2)
      throw new VpnError('ERR_CERT', `PKCS#12: PBES2 with unsupported key derivation ${kdfName}`);
    // RFC 8018 Appendix A.2: PBKDF2-params ::= SEQUENCE { salt CHOICE { specified OCTET STRING,
    // otherSource }, iterationCount INTEGER, keyLength INTEGER OPTIONAL, prf DEFAULT hmacWithSHA1 }.
    const kp = r.kids(kdfParams, Tag.SEQUENCE, 'PBKDF2-params', kdf!);
    const salt = r.octets(kp[0], 'PBKDF2 salt', kdfParams!);
    const iterations = r.int(kp[1], 'PBKDF2 iterationCount', kdfParams!, 1, MAX_ITERATIONS);
    let i = 2;
    let keyLen: number | undefined;
    if (kp[i]?.tag === Tag.INTEGER) keyLen = r.int(kp[i++], 'PBKDF2 keyLength', kdfParams!, 1, 64);
    let prf: Pkcs12Hash = 'sha1';
    const prfD = kp[i++];
    if (prfD) {
      const prfK = r.kids(prfD, Tag.SEQUENCE, 'PBKDF2 prf', kdfParams!);
      const prfOid = r.oid(prfK[0], 'PBKDF2 prf', prfD);
      const p = HMAC_PRFS[prfOid];
      if (!p) throw new VpnError('ERR_CERT', `PKCS#12: PBKDF2 with unsupported PRF ${prfOid}`);
      prf = p;
    }
    if (kp[i]) r.fail(kp[i]!, 'unexpected element in PBKDF2-params');
    const [encOid, ivD] = r.kids(enc, Tag.SEQUENCE, 'PBES2 encryptionScheme', params!);
    const cipherOid = r.oid(encOid, 'PBES2 encryption scheme', enc!);
    const cipher = PBES2_CIPHERS[cipherOid];
    if (!cipher) {
      const name = KNOWN_UNSUPPORTED[cipherOid] ?? cipherOid;
      throw new VpnError('ERR_CERT', `PKCS#12: PBES2 with unsupported cipher ${name}; ${REEXPORT}`);
    }
    if (keyLen !== undefined && keyLen !== cipher.keyLen)
      r.fail(kp[2]!, `PBKDF2 keyLength ${keyLen} does not fit ${cipher.name}`);
    const iv = r.octets(ivD, 'PBES2 IV', enc!);
    if (iv.length !== cipher.ivLen) r.fail(ivD!, `${cipher.name} IV of ${iv.length} bytes`);
    // RFC 8018 §6.2.2 step 3 (via §5.2): DK = PBKDF2(P, S, c, dkLen) with P the password octets.
    const key = pbkdf2Sync(pw.utf8, salt, iterations, cipher.keyLen, prf);
    return decipher(cipher.name, key, iv, data);
  }

  const name = KNOWN_UNSUPPORTED[oid] ?? oid;
  throw new VpnError('ERR_CERT', `PKCS#12: unsupported encryption ${name}; ${REEXPORT}`);
}

/** CBC decryption with PKCS#5 padding; undefined when the padding (or length) is wrong. */
function decipher(
  name: string,
  key: Uint8Array,
  iv: Uint8Array,
  data: Uint8Array,
): Uint8Array | undefined {
  const d = createDecipheriv(name, key, iv);
  try {
    return new Uint8Array(Buffer.concat([d.update(data), d.final()]));
  } catch {
    return undefined;
  }
}

interface Bag {
  kind: 'key' | 'cert';
  /** PrivateKeyInfo (RFC 5208/5958) or Certificate DER. */
  der: Uint8Array;
  /** localKeyId attribute (RFC 7292 §4.2, PKCS#9), hex. */
  localKeyId?: string;
}

interface Ctx {
  pw: Passwords;
  /** The MAC verified: the password is right, so a decryption failure means a damaged file. */
  macVerified: boolean;
  bags: Bag[];
}

function decryptOrFail(r: Reader, alg: Der, data: Uint8Array, ctx: Ctx, what: string): Uint8Array {
  const plain = pbeDecrypt(r, alg, data, ctx.pw);
  if (plain) return plain;
  if (ctx.macVerified)
    throw new VpnError(
      'ERR_CERT',
      `PKCS#12 file is damaged: cannot decrypt its ${what} although the password passed the integrity check`,
    );
  throw wrongPassword(`cannot decrypt its ${what}; or the file is damaged`);
}

/** RFC 7292 §4.2: SafeContents ::= SEQUENCE OF SafeBag. */
function readSafeContents(r: Reader, sc: Der, ctx: Ctx, depth: number): void {
  for (const bag of r.kids(sc, Tag.SEQUENCE, 'SafeContents', sc)) {
    // SafeBag ::= SEQUENCE { bagId, bagValue [0] EXPLICIT, bagAttributes SET OF OPTIONAL }
    const [idD, valueW, attrs, extra] = r.kids(bag, Tag.SEQUENCE, 'SafeBag', bag);
    if (extra) r.fail(extra, 'unexpected element in SafeBag');
    const id = r.oid(idD, 'bagId', bag);
    const value = r.explicit0(valueW, 'bagValue', bag);
    let localKeyId: string | undefined;
    if (attrs) {
      for (const a of r.kids(attrs, Tag.SET, 'bagAttributes', bag)) {
        // PKCS12Attribute ::= SEQUENCE { attrId, attrValues SET OF }
        const [aOid, aVals] = r.kids(a, Tag.SEQUENCE, 'bag attribute', attrs);
        const vals = r.kids(aVals, Tag.SET, 'bag attribute values', a);
        if (r.oid(aOid, 'bag attribute type', a) === OID.localKeyId && vals[0]) {
          localKeyId = Buffer.from(r.octets(vals[0], 'localKeyId', aVals!)).toString('hex');
        }
      }
    }
    const withId = (b: Bag): Bag => (localKeyId !== undefined ? { ...b, localKeyId } : b);
    switch (id) {
      case OID.keyBag:
        // §4.2.1: KeyBag ::= PrivateKeyInfo.
        r.expect(value, Tag.SEQUENCE, 'KeyBag', bag);
        ctx.bags.push(withId({ kind: 'key', der: value.raw.slice() }));
        break;
      case OID.pkcs8ShroudedKeyBag: {
        // §4.2.2: EncryptedPrivateKeyInfo ::= SEQUENCE { encryptionAlgorithm, encryptedData }
        // (RFC 5958 §3).
        const [alg, enc] = r.kids(value, Tag.SEQUENCE, 'EncryptedPrivateKeyInfo', bag);
        const data = r.octets(enc, 'encryptedData', value);
        const plain = decryptOrFail(
          r,
          r.expect(alg, Tag.SEQUENCE, 'algorithm', value),
          data,
          ctx,
          'private key',
        );
        ctx.bags.push(withId({ kind: 'key', der: plain }));
        break;
      }
      case OID.certBag: {
        // §4.2.3: CertBag ::= SEQUENCE { certId, certValue [0] EXPLICIT }; x509Certificate is an
        // OCTET STRING holding the DER certificate.
        const [certType, certW] = r.kids(value, Tag.SEQUENCE, 'CertBag', bag);
        if (r.oid(certType, 'certId', value) !== OID.x509Certificate) break; // SDSI: not for us
        const der = r.octets(r.explicit0(certW, 'certValue', value), 'x509Certificate', value);
        const cert = new Reader(der, `${r.what} certificate`);
        cert.expect(cert.tlv(der, 'certificate'), Tag.SEQUENCE, 'certificate', der);
        ctx.bags.push(withId({ kind: 'cert', der: der.slice() }));
        break;
      }
      case OID.safeContentsBag:
        // §4.2.6: a nested SafeContents.
        if (depth >= MAX_DEPTH) r.fail(bag, 'safeContentsBag nested too deeply');
        readSafeContents(r, value, ctx, depth + 1);
        break;
      default:
        // crlBag, secretBag and unknown bags carry nothing a VPN client needs.
        break;
    }
  }
}

function spkiOf(key: KeyObject): Buffer {
  return createPublicKey(key).export({ type: 'spki', format: 'der' });
}

function certSpki(der: Uint8Array): Buffer | undefined {
  try {
    return new X509Certificate(der).publicKey.export({ type: 'spki', format: 'der' });
  } catch {
    return undefined;
  }
}

function importKey(der: Uint8Array): KeyObject {
  try {
    return createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
  } catch (e) {
    throw new VpnError(
      'ERR_CERT',
      `the private key in the PKCS#12 file is not usable: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

/**
 * Parses a PKCS#12 file (DER) and decrypts its private key and certificates with `password`.
 * A wrong password fails the MAC check: VpnError ERR_CERT "wrong password for PKCS#12 file".
 */
export function parsePkcs12(der: Uint8Array, password: string): Pkcs12Contents {
  const r = new Reader(der, 'PKCS#12');
  // RFC 7292 §4: PFX ::= SEQUENCE { version INTEGER {v3(3)}, authSafe ContentInfo,
  // macData MacData OPTIONAL }
  const pfxD = r.tlv(der, 'PFX');
  const pfx = r.kids(pfxD, Tag.SEQUENCE, 'PFX', pfxD);
  if (r.int(pfx[0], 'PFX version', pfxD, 0, 1_000_000) !== 3)
    r.fail(pfx[0]!, 'PFX version is not 3');
  if (pfx[3]) r.fail(pfx[3], 'unexpected element in PFX');
  // ContentInfo ::= SEQUENCE { contentType, content [0] EXPLICIT } (RFC 5652 §3)
  const [ctype, contentW] = r.kids(pfx[1], Tag.SEQUENCE, 'authSafe ContentInfo', pfxD);
  const authType = r.oid(ctype, 'authSafe contentType', pfx[1]!);
  if (authType === OID.signedData)
    throw new VpnError(
      'ERR_CERT',
      `PKCS#12 files with public-key integrity (signedData) are not supported; ${REEXPORT}`,
    );
  if (authType !== OID.data)
    throw new VpnError('ERR_CERT', `PKCS#12 authSafe of unsupported type ${authType}`);
  // §4.1: the MAC covers the contents octets of the authSafe `data` OCTET STRING.
  const authSafe = r.octets(
    r.explicit0(contentW, 'authSafe content', pfx[1]!),
    'authSafe data',
    pfx[1]!,
  );

  const utf8 = new Uint8Array(Buffer.from(password, 'utf8'));
  const ctx: Ctx = { pw: { bmp: bmpPassword(password), utf8 }, macVerified: false, bags: [] };
  if (pfx[2]) {
    ctx.pw.bmp = checkMac(r, pfx[2], authSafe, password);
    ctx.macVerified = true;
  }

  // §4.1: AuthenticatedSafe ::= SEQUENCE OF ContentInfo, each `data` (plain SafeContents) or
  // `encryptedData` (password privacy mode), or envelopedData (public-key privacy mode).
  const inner =
    authSafe.buffer === der.buffer ? r : new Reader(authSafe, 'PKCS#12 AuthenticatedSafe');
  const asD = inner.tlv(authSafe, 'AuthenticatedSafe');
  for (const ci of inner.kids(asD, Tag.SEQUENCE, 'AuthenticatedSafe', asD)) {
    const [t, w] = inner.kids(ci, Tag.SEQUENCE, 'ContentInfo', ci);
    const type = inner.oid(t, 'contentType', ci);
    if (type === OID.data) {
      const bytes = inner.octets(inner.explicit0(w, 'data content', ci), 'data', ci);
      const sr = bytes.buffer === der.buffer ? r : new Reader(bytes, 'PKCS#12 SafeContents');
      readSafeContents(sr, sr.tlv(bytes, 'SafeContents'), ctx, 0);
    } else if (type === OID.encryptedData) {
      // RFC 5652 §8: EncryptedData ::= SEQUENCE { version, encryptedContentInfo,
      // unprotectedAttrs [1] IMPLICIT OPTIONAL }; §6.1: EncryptedContentInfo ::= SEQUENCE {
      // contentType, contentEncryptionAlgorithm, encryptedContent [0] IMPLICIT OCTET STRING }
      const ed = inner.explicit0(w, 'encryptedData content', ci);
      const [, eci] = inner.kids(ed, Tag.SEQUENCE, 'EncryptedData', ci);
      const [, alg, enc] = inner.kids(eci, Tag.SEQUENCE, 'EncryptedContentInfo', ed);
      const algD = inner.expect(alg, Tag.SEQUENCE, 'contentEncryptionAlgorithm', eci!);
      const data = inner.octets(enc, 'encryptedContent', eci!, 0x80);
      const plain = decryptOrFail(inner, algD, data, ctx, 'certificates');
      const pr = new Reader(plain, 'PKCS#12 SafeContents (decrypted)');
      readSafeContents(pr, pr.tlv(plain, 'SafeContents'), ctx, 0);
    } else if (type === OID.envelopedData) {
      throw new VpnError(
        'ERR_CERT',
        `PKCS#12 files with public-key privacy (envelopedData) are not supported; ${REEXPORT}`,
      );
    } else {
      throw new VpnError('ERR_CERT', `PKCS#12 ContentInfo of unsupported type ${type}`);
    }
  }

  const keyBags = ctx.bags.filter((b) => b.kind === 'key');
  const certBags = ctx.bags.filter((b) => b.kind === 'cert');
  if (keyBags.length === 0) throw new VpnError('ERR_CERT', 'the PKCS#12 file holds no private key');
  const keys = keyBags.map((b) => ({ bag: b, key: importKey(b.der) }));
  const spkis = certBags.map((c) => certSpki(c.der));
  // The key's certificate: same public key (the reliable test), preferring the one with the same
  // localKeyId; if no certificate holds the key's public key, the localKeyId alone.
  const pick = (): { key: KeyObject; leaf: number } => {
    for (const k of keys) {
      const spki = spkiOf(k.key);
      const same = certBags
        .map((c, i) => ({ c, i }))
        .filter(({ i }) => spkis[i]?.equals(spki) === true);
      const byId = same.find(
        ({ c }) => c.localKeyId !== undefined && c.localKeyId === k.bag.localKeyId,
      );
      const hit = byId ?? same[0];
      if (hit) return { key: k.key, leaf: hit.i };
    }
    for (const k of keys) {
      if (k.bag.localKeyId === undefined) continue;
      const i = certBags.findIndex((c) => c.localKeyId === k.bag.localKeyId);
      if (i >= 0) return { key: k.key, leaf: i };
    }
    return { key: keys[0]!.key, leaf: -1 };
  };
  const { key, leaf } = pick();
  const certs = certBags.map((c) => c.der);
  if (leaf > 0) certs.unshift(...certs.splice(leaf, 1));
  return { key, certs };
}
