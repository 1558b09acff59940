/**
 * Loads the client's credentials and trust anchors from files (an I/O edge): certificates (PEM
 * bundles or DER), private keys (PKCS#8, encrypted PKCS#8, PKCS#1 RSA, SEC1 EC, legacy encrypted
 * PEM; PEM or DER), PKCS#12 files, secrets (passphrases, passwords), and CA certificates from a
 * file, a folder or the system store.
 *
 * Errors are `VpnError`s that name the file and say what is wrong: ERR_CONFIG when the file is
 * unusable as given (missing, wrong kind, readable by others, encrypted without a passphrase,
 * wrong passphrase), ERR_CERT when its certificate or key content is bad.
 */
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import type { KeyObject, PrivateKeyInput } from 'node:crypto';
import {
  closeSync,
  constants,
  fstatSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
} from 'node:fs';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { VpnError, isVpnError } from '../core/errors.js';
import { Tag, children, parseDer, readDer } from '../pki/der.js';
import { parsePkcs12 } from '../pki/pkcs12.js';

/** The system trust stores, in order: Debian/Ubuntu/Arch, Fedora/RHEL, Alpine/macOS/BSD. */
export const SYSTEM_BUNDLES: readonly string[] = [
  '/etc/ssl/certs/ca-certificates.crt',
  '/etc/pki/tls/certs/ca-bundle.crt',
  '/etc/ssl/cert.pem',
];
export const SYSTEM_DIR = '/etc/ssl/certs';
const CERT_FILE = /\.(pem|crt|cer|der)$/i;
const CERT_LABELS = new Set(['CERTIFICATE', 'X509 CERTIFICATE', 'TRUSTED CERTIFICATE']);
const KEY_LABELS = new Set([
  'PRIVATE KEY',
  'ENCRYPTED PRIVATE KEY',
  'RSA PRIVATE KEY',
  'EC PRIVATE KEY',
]);
/** Key types `signAuth` can sign IKE AUTH with. */
const SIGNING_KEY_TYPES = new Set(['rsa', 'rsa-pss', 'ec', 'ed25519', 'ed448']);

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a folder',
  ENOTDIR: 'a part of the path is not a folder',
};

function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return (
    (code !== undefined ? ERRNO_TEXT[code] : undefined) ??
    code ??
    (e instanceof Error ? e.message : String(e))
  );
}

/** stat() that treats any failure (missing, no permission) as absence. */
function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

function readPublicFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new VpnError('ERR_CONFIG', `cannot read ${what} ${path}: ${errnoText(e)}`, { cause: e });
  }
}

/**
 * The owner-only rule for private material (keys, PKCS#12 files, passphrases), as
 * src/config/load.ts applies it to PSK files: no permission bit for group or others — except that
 * a file owned by root whose group is root and with no bit for others is accepted (only root can
 * read it, e.g. a key provisioned as 0640 root:root).
 */
function checkOwnerOnly(st: Stats, path: string, what: string): void {
  const mode = st.mode & 0o777;
  if ((mode & 0o077) === 0) return;
  if (st.uid === 0 && st.gid === 0 && (mode & 0o007) === 0) return;
  throw new VpnError(
    'ERR_CONFIG',
    `${what} ${path} is accessible by others (mode ${mode.toString(8).padStart(4, '0')}); run: chmod 600 ${path}`,
  );
}

/** Reads a private file, checking (on the open file) that it is regular and owner-only. */
export function readPrivateFile(path: string, what: string): Buffer {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO must not hang the open (it is refused below as not a regular file).
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new VpnError('ERR_CONFIG', `cannot read ${what} ${path}: ${errnoText(e)}`, { cause: e });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new VpnError('ERR_CONFIG', `${what} ${path} is not a regular file`);
    checkOwnerOnly(st, path, what);
    return readFileSync(fd);
  } catch (e) {
    if (isVpnError(e)) throw e;
    throw new VpnError('ERR_CONFIG', `cannot read ${what} ${path}: ${errnoText(e)}`, { cause: e });
  } finally {
    closeSync(fd);
  }
}

/** One RFC 7468 PEM block. */
interface PemBlock {
  label: string;
  /** RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`), if any. */
  headers: string[];
  /** The decoded body; undefined if it is not valid base64. */
  der: Uint8Array | undefined;
  /** The whole block, BEGIN to END line, for node:crypto. */
  text: string;
  /** 1-based line of the BEGIN line, for messages. */
  line: number;
}

/** RFC 7468 §2-3: every BEGIN/END block of `text`; anything outside the blocks is ignored. */
function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  const re = /-----BEGIN ([^\r\n-]*)-----\r?\n([\s\S]*?)-----END \1-----/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const label = m[1]!;
    const body = m[2]!;
    const headers: string[] = [];
    let b64 = body;
    // RFC 1421 §4.4 encapsulated headers: "Name: value" lines, then an empty line.
    const h = /^((?:[A-Za-z-]+:[^\r\n]*\r?\n(?:[ \t][^\r\n]*\r?\n)*)+)\r?\n/.exec(body);
    if (h) {
      headers.push(...h[1]!.split(/\r?\n/).filter((l) => l !== ''));
      b64 = body.slice(h[0].length);
    }
    const compact = b64.replace(/\s+/g, '');
    const valid = compact.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(compact);
    const line = text.slice(0, m.index).split('\n').length;
    out.push({
      label,
      headers,
      der: valid && compact.length > 0 ? new Uint8Array(Buffer.from(compact, 'base64')) : undefined,
      text: `${m[0]}\n`,
      line,
    });
  }
  return out;
}

function isPem(data: Buffer): boolean {
  return data.includes('-----BEGIN ');
}

/** A single DER TLV filling `data`, or undefined. */
function derOrUndefined(data: Uint8Array): ReturnType<typeof parseDer> | undefined {
  try {
    return parseDer(data);
  } catch {
    return undefined;
  }
}

/** Whether `der` is exactly one X.509 certificate that node:crypto accepts. */
function isCertificate(der: Uint8Array): boolean {
  const d = derOrUndefined(der);
  if (d?.tag !== Tag.SEQUENCE) return false;
  try {
    new X509Certificate(der);
    return true;
  } catch {
    return false;
  }
}

/**
 * The certificates of one file's content. Strict: the first bad certificate block throws; lenient:
 * bad blocks are counted in `bad` and skipped.
 */
function certificatesOf(
  path: string,
  data: Buffer,
  lenient: boolean,
): { certs: Uint8Array[]; bad: number } {
  if (!isPem(data)) {
    const der = new Uint8Array(data);
    if (isCertificate(der)) return { certs: [der], bad: 0 };
    throw new VpnError(
      'ERR_CONFIG',
      `no certificate in ${path}: it is neither PEM (-----BEGIN CERTIFICATE-----) nor a DER certificate`,
    );
  }
  const blocks = pemBlocks(data.toString('latin1'));
  const certs: Uint8Array[] = [];
  let bad = 0;
  for (const b of blocks) {
    if (!CERT_LABELS.has(b.label)) continue;
    // OpenSSL's TRUSTED CERTIFICATE is the certificate followed by its trust settings.
    let der = b.der;
    if (der && b.label === 'TRUSTED CERTIFICATE') {
      try {
        der = readDer(der, 0).der.raw;
      } catch {
        der = undefined;
      }
    }
    if (der && isCertificate(der)) {
      certs.push(der.slice());
      continue;
    }
    if (lenient) {
      bad++;
      continue;
    }
    throw new VpnError(
      'ERR_CERT',
      `${path}: the certificate at line ${b.line} is ${der ? 'not a valid X.509 certificate' : 'not valid base64'}`,
    );
  }
  if (certs.length === 0 && bad === 0) {
    if (data.includes('-----BEGIN CERTIFICATE-----'))
      throw new VpnError('ERR_CERT', `${path}: a BEGIN CERTIFICATE line without its END line`);
    const hint = blocks.some((b) => /PRIVATE KEY$/.test(b.label))
      ? ' (it holds a private key; that goes to --key)'
      : '';
    throw new VpnError('ERR_CONFIG', `no certificate in ${path}${hint}`);
  }
  return { certs, bad };
}

/**
 * The certificates in a file: a PEM bundle (one or more BEGIN CERTIFICATE blocks; text and other
 * blocks between them ignored) or a single DER certificate. Order is kept (leaf first for --cert).
 */
export function loadCertificates(path: string): Uint8Array[] {
  return certificatesOf(path, readPublicFile(path, 'certificate file'), false).certs;
}

export interface TrustAnchors {
  certs: Uint8Array[];
  /** Where they came from, for messages: the file or folder, or "PATH (system store)". */
  source: string;
  /** Files of a folder (or certificate blocks of the system bundle) skipped as unreadable or bad. */
  skipped: number;
  /** The skipped files, for a warning. */
  skippedFiles: string[];
}

/** Where the system store is looked for; tests point it elsewhere. */
export interface SystemStore {
  bundles: readonly string[];
  dir: string;
}

/**
 * Trust anchors: `--ca FILE` (a bundle), `--ca DIR` (every *.pem, *.crt, *.cer, *.der file in it;
 * unreadable or bad files skipped and counted), or, when `spec` is undefined, the system store:
 * the first existing bundle of SYSTEM_BUNDLES, else the folder SYSTEM_DIR. Duplicates are dropped.
 */
export function loadTrustAnchors(
  spec: string | undefined,
  system: SystemStore = { bundles: SYSTEM_BUNDLES, dir: SYSTEM_DIR },
): TrustAnchors {
  if (spec !== undefined) {
    let st: Stats | undefined;
    try {
      st = statSync(spec, { throwIfNoEntry: false });
    } catch (e) {
      throw new VpnError('ERR_CONFIG', `--ca ${spec}: ${errnoText(e)}`, { cause: e });
    }
    if (!st) throw new VpnError('ERR_CONFIG', `--ca ${spec}: no such file or folder`);
    if (st.isDirectory()) {
      const r = fromDir(spec);
      if (r.certs.length === 0)
        throw new VpnError(
          'ERR_CONFIG',
          `no trusted CA certificates found in ${spec}: no .pem, .crt, .cer or .der file with a certificate${r.skipped > 0 ? ` (${r.skipped} skipped: ${r.skippedFiles.join(', ')})` : ''}`,
        );
      return r;
    }
    return { certs: dedupe(loadCertificates(spec)), source: spec, skipped: 0, skippedFiles: [] };
  }
  for (const bundle of system.bundles) {
    if (statOrUndefined(bundle)?.isFile() !== true) continue;
    try {
      const { certs, bad } = certificatesOf(bundle, readPublicFile(bundle, 'CA bundle'), true);
      if (certs.length > 0)
        return {
          certs: dedupe(certs),
          source: `${bundle} (system store)`,
          skipped: bad,
          skippedFiles: bad > 0 ? [bundle] : [],
        };
    } catch (e) {
      if (!isVpnError(e)) throw e;
    }
  }
  if (statOrUndefined(system.dir)?.isDirectory() === true) {
    try {
      const r = fromDir(system.dir);
      if (r.certs.length > 0) return { ...r, source: `${system.dir} (system store)` };
    } catch (e) {
      if (!isVpnError(e)) throw e;
    }
  }
  throw new VpnError(
    'ERR_CONFIG',
    `no trusted CA certificates found in the system store (${[...system.bundles, system.dir].join(', ')}); pass --ca FILE|DIR with the CA that issued the gateway's certificate`,
  );
}

function dedupe(certs: Uint8Array[]): Uint8Array[] {
  const seen = new Set<string>();
  return certs.filter((c) => {
    const k = Buffer.from(c).toString('base64');
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function fromDir(dir: string): TrustAnchors {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (e) {
    throw new VpnError('ERR_CONFIG', `cannot read folder ${dir}: ${errnoText(e)}`, { cause: e });
  }
  const certs: Uint8Array[] = [];
  const skippedFiles: string[] = [];
  for (const name of names) {
    if (!CERT_FILE.test(name)) continue;
    const p = join(dir, name);
    try {
      // Follows symbolic links (/etc/ssl/certs is mostly links); folders are not files.
      if (!statSync(p).isFile()) continue;
      certs.push(...loadCertificates(p));
    } catch {
      skippedFiles.push(p);
    }
  }
  return { certs: dedupe(certs), source: dir, skipped: skippedFiles.length, skippedFiles };
}

/** What a DER private key file holds, from its structure (RFC 5958, RFC 8017 A.1.2, RFC 5915). */
function derKeyType(
  data: Uint8Array,
): { type: 'pkcs8' | 'pkcs1' | 'sec1'; encrypted: boolean } | undefined {
  const d = derOrUndefined(data);
  if (d?.tag !== Tag.SEQUENCE) return undefined;
  let k;
  try {
    k = children(d);
  } catch {
    return undefined;
  }
  const [a, b] = k;
  // EncryptedPrivateKeyInfo ::= SEQUENCE { encryptionAlgorithm AlgorithmIdentifier, encryptedData }
  if (a?.tag === Tag.SEQUENCE && b?.tag === Tag.OCTET_STRING)
    return { type: 'pkcs8', encrypted: true };
  if (a?.tag !== Tag.INTEGER) return undefined;
  // OneAsymmetricKey ::= SEQUENCE { version, privateKeyAlgorithm AlgorithmIdentifier, ... }
  if (b?.tag === Tag.SEQUENCE) return { type: 'pkcs8', encrypted: false };
  // RSAPrivateKey ::= SEQUENCE { version, modulus INTEGER, ... }
  if (b?.tag === Tag.INTEGER) return { type: 'pkcs1', encrypted: false };
  // ECPrivateKey ::= SEQUENCE { version 1, privateKey OCTET STRING, ... }
  if (b?.tag === Tag.OCTET_STRING) return { type: 'sec1', encrypted: false };
  return undefined;
}

function checkSigningKey(key: KeyObject, where: string): void {
  const t = key.asymmetricKeyType;
  if (t === undefined || !SIGNING_KEY_TYPES.has(t))
    throw new VpnError(
      'ERR_CERT',
      `${where} holds a key of type ${t ?? 'unknown'}, which cannot sign IKE AUTH (RSA, ECDSA or Ed25519 needed)`,
    );
}

function errCode(e: unknown): string | undefined {
  return (e as { code?: unknown }).code as string | undefined;
}

/**
 * A private key: PEM PKCS#8 (BEGIN PRIVATE KEY), encrypted PKCS#8 (BEGIN ENCRYPTED PRIVATE KEY),
 * traditional RSA/EC (BEGIN RSA/EC PRIVATE KEY, also the legacy `Proc-Type: 4,ENCRYPTED` form),
 * or DER (PKCS#8, possibly encrypted; PKCS#1; SEC1). Other PEM blocks in the file (a certificate,
 * EC PARAMETERS) are ignored. `passphrase` is asked only when the key is encrypted. The file must
 * be readable by its owner only.
 */
export function loadPrivateKey(path: string, passphrase?: () => string | undefined): KeyObject {
  const data = readPrivateFile(path, 'key file');
  let input: PrivateKeyInput;
  let encrypted: boolean;
  if (isPem(data)) {
    const blocks = pemBlocks(data.toString('latin1'));
    const keys = blocks.filter((b) => KEY_LABELS.has(b.label));
    if (keys.length === 0) {
      const other = blocks.find((b) => b.label.endsWith('PRIVATE KEY'));
      if (other?.label === 'OPENSSH PRIVATE KEY')
        throw new VpnError(
          'ERR_CONFIG',
          `${path} is an OpenSSH private key; convert a copy to PKCS#8 with: ssh-keygen -p -m PKCS8 -f COPY`,
        );
      const hint = other
        ? ` (a ${other.label} block: RSA, ECDSA or Ed25519 needed)`
        : blocks.some((b) => CERT_LABELS.has(b.label))
          ? ' (it holds a certificate; that goes to --cert)'
          : '';
      throw new VpnError('ERR_CONFIG', `no private key in ${path}${hint}`);
    }
    if (keys.length > 1)
      throw new VpnError('ERR_CONFIG', `${path} holds ${keys.length} private keys; keep only one`);
    const block = keys[0]!;
    if (!block.der)
      throw new VpnError(
        'ERR_CERT',
        `${path}: the private key at line ${block.line} is not valid base64`,
      );
    encrypted =
      block.label === 'ENCRYPTED PRIVATE KEY' ||
      block.headers.some((h) => /^Proc-Type:\s*4,\s*ENCRYPTED/i.test(h));
    input = { key: block.text, format: 'pem' };
  } else {
    const kind = derKeyType(data);
    if (!kind)
      throw new VpnError(
        'ERR_CONFIG',
        `no private key in ${path}: it is neither PEM (-----BEGIN PRIVATE KEY-----) nor a DER private key`,
      );
    encrypted = kind.encrypted;
    input = { key: data, format: 'der', type: kind.type };
  }
  const needPassphrase = (): VpnError =>
    new VpnError(
      'ERR_CONFIG',
      `${path} is encrypted: pass --key-passphrase-file or run in a terminal to be asked (or set VPN_KEY_PASSPHRASE)`,
    );
  if (encrypted) {
    const pass = passphrase?.();
    if (pass === undefined) throw needPassphrase();
    input = { ...input, passphrase: pass };
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(input);
  } catch (e) {
    const code = errCode(e);
    if (code === 'ERR_MISSING_PASSPHRASE' || code === 'ERR_OSSL_CRYPTO_INTERRUPTED_OR_CANCELLED')
      throw needPassphrase();
    // A wrong passphrase shows as bad padding, or (1 in 256) as garbage that does not decode.
    if (encrypted)
      throw new VpnError('ERR_CONFIG', `wrong passphrase for the encrypted key ${path}`, {
        cause: e,
      });
    throw new VpnError(
      'ERR_CERT',
      `${path} holds no usable private key: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    );
  }
  checkSigningKey(key, path);
  return key;
}

/**
 * A PKCS#12 file (checked like a key file): the key and its certificate first, then the chain.
 * Wrong password: VpnError ERR_CERT "PATH: wrong password for PKCS#12 file (...)".
 */
export function loadPkcs12(
  path: string,
  password: string,
): { key: KeyObject; certs: Uint8Array[] } {
  const data = readPrivateFile(path, 'PKCS#12 file');
  if (isPem(data))
    throw new VpnError(
      'ERR_CONFIG',
      `${path} is a PEM file, not PKCS#12: pass it with --cert and --key`,
    );
  let r: { key: KeyObject; certs: Uint8Array[] };
  try {
    r = parsePkcs12(new Uint8Array(data), password);
  } catch (e) {
    if (!isVpnError(e)) throw e;
    if (e.code === 'ERR_PARSE')
      throw new VpnError('ERR_CERT', `${path} is not a valid PKCS#12 file: ${e.message}`, {
        cause: e,
      });
    throw new VpnError(e.code, `${path}: ${e.message}`, { cause: e });
  }
  if (r.certs.length === 0)
    throw new VpnError('ERR_CERT', `${path}: the PKCS#12 file holds no certificate`);
  r.certs.forEach((c, i) => {
    if (!isCertificate(c))
      throw new VpnError(
        'ERR_CERT',
        `${path}: certificate ${i + 1} is not a valid X.509 certificate`,
      );
  });
  if (!sameKey(r.key, r.certs[0]!))
    throw new VpnError(
      'ERR_CERT',
      `the private key in ${path} does not belong to any certificate in it`,
    );
  checkSigningKey(r.key, path);
  return r;
}

function sameKey(key: KeyObject, certDer: Uint8Array): boolean {
  const mine = createPublicKey(key).export({ type: 'spki', format: 'der' });
  let theirs: Buffer;
  try {
    theirs = new X509Certificate(certDer).publicKey.export({ type: 'spki', format: 'der' });
  } catch (e) {
    throw new VpnError('ERR_CERT', 'not a valid X.509 certificate', { cause: e });
  }
  return mine.equals(theirs);
}

/**
 * Throws VpnError ERR_CONFIG "the private key in KEYFILE does not belong to the certificate in
 * CERTFILE" when `key`'s public key is not the certificate's (compared as SPKI DER).
 */
export function checkKeyMatchesCert(
  key: KeyObject,
  certDer: Uint8Array,
  keyFile?: string,
  certFile?: string,
): void {
  if (sameKey(key, certDer)) return;
  throw new VpnError(
    'ERR_CONFIG',
    `the private key${keyFile !== undefined ? ` in ${keyFile}` : ''} does not belong to the certificate${certFile !== undefined ? ` in ${certFile}` : ''}`,
  );
}

/**
 * A passphrase or password file: its first line, without the line end (a UTF-8 byte order mark
 * is dropped). Same owner-only rule as key files. A file holding just a newline is the empty
 * password; a file of zero bytes is refused.
 */
export function readSecretFile(path: string, what = 'secret file'): string {
  const data = readPrivateFile(path, what);
  if (data.length === 0) throw new VpnError('ERR_CONFIG', `${what} ${path} is empty`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(data);
  } catch (e) {
    throw new VpnError('ERR_CONFIG', `${what} ${path} is not UTF-8 text`, { cause: e });
  }
  const nl = text.indexOf('\n');
  const first = nl < 0 ? text : text.slice(0, nl);
  return first.endsWith('\r') ? first.slice(0, -1) : first;
}
