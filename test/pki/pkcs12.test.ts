/**
 * PKCS#12 parsing (src/pki/pkcs12.ts): the RFC 7292 Appendix B KDF against OpenSSL's, every file
 * `openssl pkcs12` made in test/config/fixtures/credentials (scripts/make-test-credentials.sh),
 * files built here for what the openssl command cannot make (other PBKDF2 PRFs, 2-key 3DES, bags
 * nested or out of order), passwords (wrong, empty, non-ASCII), RC2, and corruption.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  createCipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  getCiphers,
  pbkdf2Sync,
  randomBytes,
  X509Certificate,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { DER_NULL, Tag, oid, seq, tlv } from '../../src/pki/der.js';
import { bmpPassword, parsePkcs12, pkcs12Kdf } from '../../src/pki/pkcs12.js';
import type { Pkcs12Hash } from '../../src/pki/pkcs12.js';
import { ParseError, VpnError, isVpnError } from '../../src/core/errors.js';

/** The repository: the nearest ancestor (of this module, else of the working directory) with
 * package.json and the fixtures. */
function repoRoot(): string {
  for (const start of [dirname(fileURLToPath(import.meta.url)), process.cwd()]) {
    for (let dir = start; ; dir = dirname(dir)) {
      if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'test/config/fixtures')))
        return dir;
      if (dirname(dir) === dir) break;
    }
  }
  throw new Error('cannot find the repository (package.json and test/config/fixtures)');
}
const FIX = join(repoRoot(), 'test/config/fixtures/credentials');
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(join(FIX, name)));
const PASS = 'test-pass';
const UPASS = 'pässwörd-€';

const spki = (k: KeyObject): Buffer => createPublicKey(k).export({ type: 'spki', format: 'der' });
const certSpki = (der: Uint8Array): Buffer =>
  new X509Certificate(der).publicKey.export({ type: 'spki', format: 'der' });
const cn = (der: Uint8Array): string => /CN=([^\n,]+)/.exec(new X509Certificate(der).subject)![1]!;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

function isCertError(e: unknown, re: RegExp): boolean {
  return isVpnError(e) && !(e instanceof ParseError) && e.code === 'ERR_CERT' && re.test(e.message);
}

test('Appendix B.2 KDF: matches OpenSSL 3 (openssl kdf PKCS12KDF) for SHA-1/256/384/512', () => {
  // [hash, password (BMPString hex), salt, id, iterations, output] — the first four are the
  // classic vectors (also in OpenSSL's evpkdf_pkcs12.txt); the rest were made with
  // `openssl kdf -keylen N -kdfopt digest:H -kdfopt hexpass:P -kdfopt hexsalt:S -kdfopt id:I
  //  -kdfopt iter:C PKCS12KDF`.
  const smeg = '0073006D006500670000';
  const vectors: [Pkcs12Hash, string, string, 1 | 2 | 3, number, string][] = [
    ['sha1', smeg, '0A58CF64530D823F', 1, 1, '8AAAE6297B6CB04642AB5B077851284EB7128F1A2A7FBCA3'],
    ['sha1', smeg, '0A58CF64530D823F', 2, 1, '79993DFE048D3B76'],
    ['sha1', smeg, '3D83C0E4546AC140', 3, 1, '8D967D88F6CAA9D714800AB3D48051D63F73A312'],
    [
      'sha1',
      '007100750065006500670000',
      '1682C0FC5B3F7EC5',
      1,
      1000,
      '483DD6E919D7DE2E8E648BA8F862F3FBFBDC2BCB2C02957F',
    ],
    [
      'sha256',
      hex(bmpPassword('test-pass-test-pass-test-pass-test-pass')),
      '0102030405060708090A',
      1,
      3,
      '33344A543629B5DF9D21B77E3A0869B3928B11B406E7A4FF3C16AE7D909A18B2B720C93308BA17A56B1493D8DF07D31874F7C19176DD503AED8BEF2C8B7CE25A7BE39DF9995C593722C86C0CCAE1EF7DE5A7C4606BC9E402F5A053D805D4BB7728D7D2A5',
    ],
    [
      'sha1',
      '007000E400730073007700F600720064002D20AC0000',
      '0102030405060708',
      1,
      2048,
      '5E9700C54A801CFF06E1CE825D56A8DF21484BD4807010A6',
    ],
    [
      'sha512',
      '00740065007300740000',
      'A1B2C3D4E5F60718',
      3,
      2048,
      'F0DE5FFF2140F2EACC3F3E83150C092A79F46C5891FD64115C1737E35242198D9C1EB0635C0785569BF80761C8AA10DCE9E6E511A19423C84017475663C56653',
    ],
    [
      'sha384',
      '00740065007300740000',
      'A1B2C3D4E5F60718',
      3,
      5,
      '43DC5C8C37B9EE0A6D4AE622C926CD86236D8BF377A94C7AD1D1F9D620307D3CC151D57F4152B333BCB1F480C3F66E18',
    ],
    [
      'sha256',
      '00740065007300740000',
      '0102030405060708',
      2,
      2048,
      '9FA34D404D43FD437AF2B614E02607806E184AE7CEED707EC2F3F5A03721C2AE',
    ],
    // An empty password (no bytes at all, OpenSSL's NULL password).
    ['sha1', '', '0102030405060708', 1, 2048, '3CDBB28C9AB3455FCC24A7052C3E328A30E7480309831A7B'],
  ];
  for (const [h, pw, salt, id, it, out] of vectors) {
    const got = pkcs12Kdf(h, unhex(pw), unhex(salt), id, it, out.length / 2);
    assert.equal(hex(got), out, `${h} id ${id} iter ${it} pass ${pw}`);
  }
});

test('Appendix B.1 passwords: BMPString with two zero bytes, surrogate pairs beyond U+FFFF', () => {
  assert.equal(hex(bmpPassword(UPASS)), '007000E400730073007700F600720064002D20AC0000');
  assert.equal(hex(bmpPassword('')), '0000');
  assert.equal(hex(bmpPassword('a\u{1F511}')), '0061D83DDD110000');
});

interface Expect {
  file: string;
  password: string;
  keyType: string;
  curve?: string;
  certs: string[];
}
const OPENSSL_FILES: Expect[] = [
  {
    file: 'rsa-aes.p12',
    password: PASS,
    keyType: 'rsa',
    certs: ['carol@rsa.test', 'carol@ec256.test'],
  },
  {
    file: 'ec256-3des.p12',
    password: PASS,
    keyType: 'ec',
    curve: 'prime256v1',
    certs: ['carol@ec256.test'],
  },
  {
    file: 'ec256-mixed.p12',
    password: PASS,
    keyType: 'ec',
    curve: 'prime256v1',
    certs: ['carol@ec256.test'],
  },
  { file: 'ed25519-aes.p12', password: PASS, keyType: 'ed25519', certs: ['carol@ed25519.test'] },
  { file: 'rsa-nomac.p12', password: PASS, keyType: 'rsa', certs: ['carol@rsa.test'] },
  { file: 'rsa-plain.p12', password: PASS, keyType: 'rsa', certs: ['carol@rsa.test'] },
  { file: 'rsa-empty-pass.p12', password: '', keyType: 'rsa', certs: ['carol@rsa.test'] },
  {
    file: 'ec256-empty-pass-3des.p12',
    password: '',
    keyType: 'ec',
    curve: 'prime256v1',
    certs: ['carol@ec256.test'],
  },
  {
    file: 'ec384-utf8.p12',
    password: UPASS,
    keyType: 'ec',
    curve: 'secp384r1',
    certs: ['carol@ec384.test'],
  },
  {
    file: 'ec521-utf8-3des.p12',
    password: UPASS,
    keyType: 'ec',
    curve: 'secp521r1',
    certs: ['carol@ec521.test'],
  },
];

test('openssl pkcs12 files: PBES2 AES/3DES, legacy 3DES, no MAC, no encryption, every MAC hash', () => {
  for (const x of OPENSSL_FILES) {
    const r = parsePkcs12(fixture(x.file), x.password);
    assert.equal(r.key.type, 'private', x.file);
    assert.equal(r.key.asymmetricKeyType, x.keyType, x.file);
    assert.equal(r.key.asymmetricKeyDetails?.namedCurve, x.curve, x.file);
    assert.deepEqual(r.certs.map(cn), x.certs, `${x.file}: leaf first`);
    assert.deepEqual(spki(r.key), certSpki(r.certs[0]!), `${x.file}: key matches the leaf`);
    // The key is the one in the PEM the certificate was made for.
    const base = x.certs[0]!.replace(/^carol@|\.test$/g, '');
    const pem = createPrivateKey(readFileSync(join(FIX, `${base}.key`)));
    assert.deepEqual(spki(r.key), spki(pem), x.file);
  }
});

test('passwords: the PKCS#12 KDF sees BMPString, PBES2 sees UTF-8 (non-ASCII files decrypt)', () => {
  // ec384-utf8 is PBES2 (UTF-8 password bytes) under a BMPString MAC; ec521-utf8-3des is the
  // PKCS#12 PBE (BMPString) throughout. Both only open with the exact password.
  for (const f of ['ec384-utf8.p12', 'ec521-utf8-3des.p12']) {
    assert.ok(parsePkcs12(fixture(f), UPASS).certs.length === 1);
    assert.throws(
      () => parsePkcs12(fixture(f), UPASS.normalize('NFD')),
      (e) => isCertError(e, /wrong password/),
    );
    assert.throws(
      () => parsePkcs12(fixture(f), 'passwrd-'),
      (e) => isCertError(e, /wrong password/),
    );
  }
});

test('a wrong password fails the MAC check: VpnError ERR_CERT "wrong password for PKCS#12 file"', () => {
  for (const x of OPENSSL_FILES) {
    for (const wrong of ['wrong', x.password === '' ? 'x' : '', `${x.password} `]) {
      assert.throws(
        () => parsePkcs12(fixture(x.file), wrong),
        (e) => isCertError(e, /^wrong password for PKCS#12 file/),
        `${x.file} with ${JSON.stringify(wrong)}`,
      );
    }
  }
});

test('RC2-40 (OpenSSL 1.x default): a clear error without RC2 in node:crypto, decrypted with it', () => {
  const rc2 = fixture('rsa-rc2.p12');
  if (getCiphers().includes('rc2-40-cbc')) {
    assert.equal(parsePkcs12(rc2, PASS).certs.length, 1);
  } else {
    assert.throws(
      () => parsePkcs12(rc2, PASS),
      (e) =>
        isCertError(e, /uses RC2-40 encryption \(an old OpenSSL default\)/) &&
        (e as Error).message.includes(
          'openssl pkcs12 -export -certpbe AES-256-CBC -keypbe AES-256-CBC',
        ),
    );
  }
  // The wrong password is still reported as such (the MAC is checked first).
  assert.throws(
    () => parsePkcs12(rc2, 'nope'),
    (e) => isCertError(e, /wrong password/),
  );
  // With OpenSSL's legacy provider node:crypto has RC2, and the file opens.
  const mod = new URL('../../src/pki/pkcs12.js', import.meta.url).href;
  const script = `import { parsePkcs12 } from ${JSON.stringify(mod)};
    import { readFileSync } from 'node:fs';
    const r = parsePkcs12(readFileSync(${JSON.stringify(join(FIX, 'rsa-rc2.p12'))}), 'test-pass');
    console.log(r.key.asymmetricKeyType, r.certs.length);`;
  const run = spawnSync(
    process.execPath,
    ['--openssl-legacy-provider', '--input-type=module', '-e', script],
    {
      encoding: 'utf8',
    },
  );
  if (run.status === 0) assert.equal(run.stdout.trim(), 'rsa 1');
  else
    assert.match(
      run.stderr,
      /legacy|provider|not allowed/i,
      'only a missing legacy provider may fail',
    );
});

// --- A PKCS#12 writer, for what `openssl pkcs12` cannot make. ---

const O = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  encryptedData: '1.2.840.113549.1.7.6',
  keyBag: '1.2.840.113549.1.12.10.1.1',
  shrouded: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  crlBag: '1.2.840.113549.1.12.10.1.4',
  safeContentsBag: '1.2.840.113549.1.12.10.1.6',
  x509: '1.2.840.113549.1.9.22.1',
  localKeyId: '1.2.840.113549.1.9.21',
  friendlyName: '1.2.840.113549.1.9.20',
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  pbeSha1_3des: '1.2.840.113549.1.12.1.3',
  pbeSha1_2des: '1.2.840.113549.1.12.1.4',
  pbeSha1_rc4: '1.2.840.113549.1.12.1.1',
  pbmac1: '1.2.840.113549.1.5.14',
};
const HASH_OID: Record<Pkcs12Hash, string> = {
  sha1: '1.3.14.3.2.26',
  sha224: '2.16.840.1.101.3.4.2.4',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
};
const PRF_OID: Record<Pkcs12Hash, string> = {
  sha1: '1.2.840.113549.2.7',
  sha224: '1.2.840.113549.2.8',
  sha256: '1.2.840.113549.2.9',
  sha384: '1.2.840.113549.2.10',
  sha512: '1.2.840.113549.2.11',
};
const CIPHER: Record<string, { oid: string; key: number; iv: number }> = {
  'aes-128-cbc': { oid: '2.16.840.1.101.3.4.1.2', key: 16, iv: 16 },
  'aes-192-cbc': { oid: '2.16.840.1.101.3.4.1.22', key: 24, iv: 16 },
  'aes-256-cbc': { oid: '2.16.840.1.101.3.4.1.42', key: 32, iv: 16 },
  'des-ede3-cbc': { oid: '1.2.840.113549.3.7', key: 24, iv: 8 },
};

const cat = (...p: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(p));
const octet = (b: Uint8Array): Uint8Array => tlv(Tag.OCTET_STRING, b);
const set = (...items: Uint8Array[]): Uint8Array => tlv(Tag.SET, cat(...items));
const x0 = (b: Uint8Array): Uint8Array => tlv(0xa0, b);
function int(n: number): Uint8Array {
  const bytes: number[] = [];
  for (let x = n; x > 0; x = Math.floor(x / 256)) bytes.unshift(x & 0xff);
  if (bytes.length === 0 || bytes[0]! & 0x80) bytes.unshift(0);
  return tlv(Tag.INTEGER, Uint8Array.from(bytes));
}
function encrypt(name: string, key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  const c = createCipheriv(name, key, iv);
  return cat(c.update(data), c.final());
}

type Scheme =
  | { kind: 'pbes2'; cipher: string; prf?: Pkcs12Hash; keyLength?: boolean; iter?: number }
  | { kind: 'pkcs12'; oid: string; cipher: string; keyLen: number; iter?: number };

/** [AlgorithmIdentifier, ciphertext] for `plain` (RFC 8018 §6.2 / RFC 7292 Appendix C). */
function pbe(s: Scheme, password: string, plain: Uint8Array): [Uint8Array, Uint8Array] {
  const salt = randomBytes(8);
  const iter = s.iter ?? 1000;
  if (s.kind === 'pkcs12') {
    const pw = bmpPassword(password);
    const key = pkcs12Kdf('sha1', pw, salt, 1, iter, s.keyLen);
    const iv = pkcs12Kdf('sha1', pw, salt, 2, iter, 8);
    return [seq(oid(s.oid), seq(octet(salt), int(iter))), encrypt(s.cipher, key, iv, plain)];
  }
  const c = CIPHER[s.cipher]!;
  const iv = randomBytes(c.iv);
  const key = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iter, c.key, s.prf ?? 'sha1');
  const kdfParams = seq(
    octet(salt),
    int(iter),
    ...(s.keyLength === true ? [int(c.key)] : []),
    ...(s.prf !== undefined ? [seq(oid(PRF_OID[s.prf]), DER_NULL)] : []),
  );
  const alg = seq(oid(O.pbes2), seq(seq(oid(O.pbkdf2), kdfParams), seq(oid(c.oid), octet(iv))));
  return [alg, encrypt(s.cipher, key, iv, plain)];
}

const attrs = (localKeyId?: string, name?: string): Uint8Array[] => {
  const a: Uint8Array[] = [];
  if (localKeyId !== undefined) a.push(seq(oid(O.localKeyId), set(octet(Buffer.from(localKeyId)))));
  if (name !== undefined) {
    const bmp = bmpPassword(name).subarray(0, -2);
    a.push(seq(oid(O.friendlyName), set(tlv(Tag.BMP_STRING, bmp))));
  }
  return a.length > 0 ? [set(...a)] : [];
};
const bag = (type: string, value: Uint8Array, id?: string): Uint8Array =>
  seq(oid(type), x0(value), ...attrs(id, id !== undefined ? `bag ${id}` : undefined));
const certBag = (der: Uint8Array, id?: string): Uint8Array =>
  bag(O.certBag, seq(oid(O.x509), x0(octet(der))), id);
const keyBag = (pkcs8: Uint8Array, id?: string): Uint8Array => bag(O.keyBag, pkcs8, id);
function shroudedBag(pkcs8: Uint8Array, s: Scheme, password: string, id?: string): Uint8Array {
  const [alg, enc] = pbe(s, password, pkcs8);
  return bag(O.shrouded, seq(alg, octet(enc)), id);
}
const dataCI = (...bags: Uint8Array[]): Uint8Array => seq(oid(O.data), x0(octet(seq(...bags))));
function encryptedCI(s: Scheme, password: string, ...bags: Uint8Array[]): Uint8Array {
  const [alg, enc] = pbe(s, password, seq(...bags));
  return seq(oid(O.encryptedData), x0(seq(int(0), seq(oid(O.data), alg, tlv(0x80, enc)))));
}
/** PFX with an RFC 7292 §4 MAC (unless `mac` is null). */
function pfx(cis: Uint8Array[], password: string, mac: Pkcs12Hash | null = 'sha256'): Uint8Array {
  const content = seq(...cis);
  const authSafe = seq(oid(O.data), x0(octet(content)));
  if (mac === null) return seq(int(3), authSafe);
  const salt = randomBytes(8);
  const outLen = createHmac(mac, '').digest().length;
  const key = pkcs12Kdf(mac, bmpPassword(password), salt, 3, 100, outLen);
  const digest = createHmac(mac, key).update(content).digest();
  const macData = seq(seq(seq(oid(HASH_OID[mac]), DER_NULL), octet(digest)), octet(salt), int(100));
  return seq(int(3), authSafe, macData);
}

const pemDer = (name: string): Uint8Array =>
  new Uint8Array(new X509Certificate(readFileSync(join(FIX, name))).raw);
const pkcs8 = (name: string): Uint8Array =>
  new Uint8Array(
    createPrivateKey(readFileSync(join(FIX, name))).export({ type: 'pkcs8', format: 'der' }),
  );
const EC = { cert: pemDer('ec256.crt'), key: pkcs8('ec256.key') };
const RSA = { cert: pemDer('rsa.crt'), key: pkcs8('rsa.key') };
const ED = { cert: pemDer('ed25519.crt'), key: pkcs8('ed25519.key') };

test('PBES2 with every PBKDF2 PRF (and the SHA-1 default), keyLength, AES-128/192/256 and 3DES', () => {
  const prfs: (Pkcs12Hash | undefined)[] = [
    undefined,
    'sha1',
    'sha224',
    'sha256',
    'sha384',
    'sha512',
  ];
  for (const prf of prfs) {
    for (const cipher of Object.keys(CIPHER)) {
      const s: Scheme = {
        kind: 'pbes2',
        cipher,
        keyLength: prf === 'sha384',
        ...(prf ? { prf } : {}),
      };
      const file = pfx(
        [encryptedCI(s, UPASS, certBag(EC.cert)), dataCI(shroudedBag(EC.key, s, UPASS))],
        UPASS,
      );
      const r = parsePkcs12(file, UPASS);
      assert.deepEqual(spki(r.key), certSpki(EC.cert), `${prf ?? 'default'} ${cipher}`);
    }
  }
});

test('PKCS#12 PBE with 2-key 3DES; MAC with SHA-224 and SHA-384; no MAC at all', () => {
  const two: Scheme = { kind: 'pkcs12', oid: O.pbeSha1_2des, cipher: 'des-ede-cbc', keyLen: 16 };
  const three: Scheme = { kind: 'pkcs12', oid: O.pbeSha1_3des, cipher: 'des-ede3-cbc', keyLen: 24 };
  for (const mac of ['sha224', 'sha384', null] as const) {
    const file = pfx(
      [encryptedCI(two, PASS, certBag(RSA.cert)), dataCI(shroudedBag(RSA.key, three, PASS))],
      PASS,
      mac,
    );
    assert.deepEqual(spki(parsePkcs12(file, PASS).key), certSpki(RSA.cert), String(mac));
  }
});

test('leaf first: by localKeyId, else by public key, whatever the file order; nested safeContentsBag', () => {
  // Certificates before the key and the leaf last, no localKeyId.
  const noIds = pfx(
    [dataCI(certBag(EC.cert), certBag(ED.cert), certBag(RSA.cert)), dataCI(keyBag(RSA.key))],
    PASS,
  );
  let r = parsePkcs12(noIds, PASS);
  assert.deepEqual(r.certs.map(cn), ['carol@rsa.test', 'carol@ec256.test', 'carol@ed25519.test']);
  // localKeyIds, the key in a nested SafeContents bag.
  const nested = bag(O.safeContentsBag, seq(keyBag(ED.key, 'k1')));
  const withIds = pfx([dataCI(certBag(RSA.cert, 'k0'), certBag(ED.cert, 'k1'), nested)], PASS);
  r = parsePkcs12(withIds, PASS);
  assert.deepEqual(r.certs.map(cn), ['carol@ed25519.test', 'carol@rsa.test']);
  assert.equal(r.key.asymmetricKeyType, 'ed25519');
  // A key without a certificate: returned with the certificates in file order (the caller
  // notices the mismatch); no certificate at all: an empty list.
  r = parsePkcs12(pfx([dataCI(certBag(RSA.cert), certBag(EC.cert), keyBag(ED.key))], PASS), PASS);
  assert.deepEqual(r.certs.map(cn), ['carol@rsa.test', 'carol@ec256.test']);
  assert.deepEqual(parsePkcs12(pfx([dataCI(keyBag(ED.key))], PASS), PASS).certs, []);
  // Two keys: the one with a certificate wins.
  r = parsePkcs12(pfx([dataCI(keyBag(RSA.key), keyBag(EC.key), certBag(EC.cert))], PASS), PASS);
  assert.equal(r.key.asymmetricKeyType, 'ec');
  // CRL bags and other unknown bags are skipped.
  r = parsePkcs12(
    pfx([dataCI(bag(O.crlBag, seq(oid('1.2.3'))), keyBag(EC.key), certBag(EC.cert))], PASS),
    PASS,
  );
  assert.equal(r.certs.length, 1);
});

test('unsupported and unusable content: clear VpnErrors, never anything else', () => {
  const no = (file: Uint8Array, re: RegExp, password = PASS): void =>
    assert.throws(
      () => parsePkcs12(file, password),
      (e) => isCertError(e, re),
      re.source,
    );
  no(pfx([dataCI(certBag(EC.cert))], PASS), /holds no private key/);
  no(seq(int(3), seq(oid(O.signedData), x0(seq()))), /public-key integrity/);
  const rc4: Scheme = { kind: 'pkcs12', oid: O.pbeSha1_rc4, cipher: 'des-ede3-cbc', keyLen: 24 };
  no(pfx([dataCI(shroudedBag(EC.key, rc4, PASS))], PASS), /RC4-128.*re-export/);
  // A "key" that node:crypto cannot import.
  no(
    pfx([dataCI(keyBag(seq(int(0), seq(oid('1.2.3.4')), octet(Uint8Array.of(1)))))], PASS),
    /not usable/,
  );
  // PBMAC1 (RFC 9579) integrity.
  const file = pfx([dataCI(keyBag(EC.key))], PASS);
  const content = seq(dataCI(keyBag(EC.key)));
  const pbmac = seq(
    int(3),
    seq(oid(O.data), x0(octet(content))),
    seq(
      seq(seq(oid(O.pbmac1), DER_NULL), octet(new Uint8Array(32))),
      octet(new Uint8Array(8)),
      int(1),
    ),
  );
  no(pbmac, /PBMAC1/);
  assert.ok(parsePkcs12(file, PASS).key);
});

test('malformed input throws ParseError with the offset in the file', () => {
  const bad = (b: Uint8Array): ParseError => {
    try {
      parsePkcs12(b, PASS);
    } catch (e) {
      assert.ok(e instanceof ParseError, String(e));
      return e;
    }
    assert.fail('accepted');
  };
  bad(new Uint8Array(0));
  bad(Uint8Array.of(0x30, 0x00));
  bad(new TextEncoder().encode('-----BEGIN CERTIFICATE-----'));
  const good = fixture('rsa-aes.p12');
  bad(good.subarray(0, good.length - 1));
  bad(cat(good, Uint8Array.of(0)));
  // PFX version 2: the offset is that of the INTEGER (after the 4-byte outer header).
  const v2 = good.slice();
  assert.equal(v2[4], 0x02);
  v2[6] = 2;
  const e = bad(v2);
  assert.equal(e.offset, 4);
  assert.match(e.message, /version/);
});

test('fuzz: random byte flips and truncations of PKCS#12 files only ever throw ParseError/VpnError', () => {
  const three: Scheme = {
    kind: 'pkcs12',
    oid: O.pbeSha1_3des,
    cipher: 'des-ede3-cbc',
    keyLen: 24,
    iter: 10,
  };
  const aes: Scheme = { kind: 'pbes2', cipher: 'aes-128-cbc', prf: 'sha256', iter: 10 };
  const files = [
    fixture('rsa-aes.p12'),
    fixture('ec256-3des.p12'),
    fixture('rsa-nomac.p12'),
    // Without a MAC the flips reach the decryption and the bags.
    pfx(
      [
        encryptedCI(three, PASS, certBag(EC.cert, 'a')),
        dataCI(shroudedBag(EC.key, aes, PASS, 'a')),
      ],
      PASS,
      null,
    ),
    pfx(
      [dataCI(certBag(ED.cert), keyBag(ED.key), bag(O.safeContentsBag, seq(certBag(RSA.cert))))],
      PASS,
      null,
    ),
  ];
  const ok = (f: () => unknown): void => {
    try {
      f();
    } catch (e) {
      if (!(e instanceof VpnError)) throw e;
    }
  };
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: files.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), {
        minLength: 1,
        maxLength: 4,
      }),
      fc.option(fc.nat()),
      (which, flips, cut) => {
        const good = files[which]!;
        const bad = good.slice(0, cut === null ? good.length : cut % (good.length + 1));
        for (const [i, x] of flips) {
          if (bad.length > 0) bad[i % bad.length] = bad[i % bad.length]! ^ x;
        }
        ok(() => parsePkcs12(bad, PASS));
      },
    ),
    { numRuns: 400 },
  );
});
