/**
 * Loading credentials from files (src/config/credentials.ts): every key form, certificates in PEM
 * bundles and DER, PKCS#12 files, trust anchors from a file, a folder or the system store,
 * secrets, the owner-only rule, and the errors a user sees. Fixtures:
 * test/config/fixtures/credentials (made by scripts/make-test-credentials.sh), copied to a
 * private temporary folder with mode 0600 (git does not keep modes).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createPublicKey, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  SYSTEM_BUNDLES,
  checkKeyMatchesCert,
  loadCertificates,
  loadPkcs12,
  loadPrivateKey,
  loadTrustAnchors,
  readSecretFile,
} from '../../src/config/credentials.js';
import { isVpnError } from '../../src/core/errors.js';
import type { ErrorCode } from '../../src/core/errors.js';

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
const SRC = join(repoRoot(), 'test/config/fixtures/credentials');
const PASS = 'test-pass';
const UPASS = 'pässwörd-€';
const isRoot = process.getuid?.() === 0;

let dir = '';
const f = (name: string): string => join(dir, name);

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vpn-cred-'));
  chmodSync(dir, 0o700);
  for (const n of readdirSync(SRC)) {
    copyFileSync(join(SRC, n), f(n));
    chmodSync(f(n), 0o600);
  }
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** An assert.throws predicate: a VpnError with this code whose message matches every regexp. */
function vpnErr(code: ErrorCode, ...res: (RegExp | string)[]): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(isVpnError(e), `not a VpnError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    for (const re of res) {
      if (typeof re === 'string') assert.ok(e.message.includes(re), `${e.message} lacks ${re}`);
      else assert.match(e.message, re);
    }
    return true;
  };
}

const spki = (k: KeyObject): Buffer => createPublicKey(k).export({ type: 'spki', format: 'der' });
const cert = (name: string): Uint8Array => loadCertificates(f(name))[0]!;
const cn = (der: Uint8Array): string => /CN=([^\n,]+)/.exec(new X509Certificate(der).subject)![1]!;

/** [key file, certificate, encrypted, key type, curve] */
const KEYS: [string, string, boolean, string, string?][] = [
  ['rsa.key', 'rsa.crt', false, 'rsa'],
  ['rsa.key.der', 'rsa.crt', false, 'rsa'],
  ['rsa-trad.key', 'rsa.crt', false, 'rsa'],
  ['rsa-enc.key', 'rsa.crt', true, 'rsa'],
  ['rsa-enc.key.der', 'rsa.crt', true, 'rsa'],
  ['rsa-trad-enc.key', 'rsa.crt', true, 'rsa'],
  ['ec256.key', 'ec256.crt', false, 'ec', 'prime256v1'],
  ['ec256-sec1.key', 'ec256.crt', false, 'ec', 'prime256v1'],
  ['ec256-enc.key', 'ec256.crt', true, 'ec', 'prime256v1'],
  ['ec256-sec1-enc.key', 'ec256.crt', true, 'ec', 'prime256v1'],
  ['ec384.key', 'ec384.crt', false, 'ec', 'secp384r1'],
  ['ec521.key', 'ec521.crt', false, 'ec', 'secp521r1'],
  ['ed25519.key', 'ed25519.crt', false, 'ed25519'],
  ['ed25519.key.der', 'ed25519.crt', false, 'ed25519'],
  ['ed25519-enc.key', 'ed25519.crt', true, 'ed25519'],
];

test('private keys: PKCS#8 PEM/DER, encrypted PKCS#8 PEM/DER, traditional RSA/SEC1 (also legacy-encrypted), RSA/EC/Ed25519', () => {
  for (const [file, crt, encrypted, type, curve] of KEYS) {
    let asked = 0;
    const key = loadPrivateKey(f(file), () => {
      asked++;
      return PASS;
    });
    assert.equal(asked, encrypted ? 1 : 0, `${file}: passphrase asked only when encrypted`);
    assert.equal(key.type, 'private', file);
    assert.equal(key.asymmetricKeyType, type, file);
    assert.equal(key.asymmetricKeyDetails?.namedCurve, curve, file);
    assert.doesNotThrow(() => checkKeyMatchesCert(key, cert(crt)), file);
  }
});

test('encrypted keys: no passphrase, and a wrong one, are distinct clear errors', () => {
  for (const [file, , encrypted] of KEYS) {
    if (!encrypted) continue;
    for (const ask of [undefined, () => undefined]) {
      assert.throws(
        () => loadPrivateKey(f(file), ask),
        vpnErr(
          'ERR_CONFIG',
          `${f(file)} is encrypted: pass --key-passphrase-file or run in a terminal to be asked`,
        ),
        file,
      );
    }
    for (const wrong of ['nope', '', 'test-pas']) {
      assert.throws(
        () => loadPrivateKey(f(file), () => wrong),
        vpnErr('ERR_CONFIG', /^wrong passphrase/, f(file)),
        `${file} with ${wrong}`,
      );
    }
  }
});

test('key files: other PEM blocks ignored; certificates, OpenSSH keys, two keys and garbage refused', () => {
  const ecParams = '-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n';
  const mixed = f('mixed.key');
  writeFileSync(
    mixed,
    `a comment\n${ecParams}${readFileSync(f('ec256.crt'), 'latin1')}\n${readFileSync(f('ec256-sec1.key'), 'latin1')}`,
    { mode: 0o600 },
  );
  checkKeyMatchesCert(loadPrivateKey(mixed), cert('ec256.crt'));

  const write = (name: string, content: string | Uint8Array): string => {
    writeFileSync(f(name), content, { mode: 0o600 });
    return f(name);
  };
  const crtAsKey = write('crt-as.key', readFileSync(f('rsa.crt')));
  assert.throws(
    () => loadPrivateKey(crtAsKey),
    vpnErr('ERR_CONFIG', `no private key in ${crtAsKey}`, /--cert/),
  );
  const ssh = write(
    'id_ed25519',
    '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=\n-----END OPENSSH PRIVATE KEY-----\n',
  );
  assert.throws(
    () => loadPrivateKey(ssh),
    vpnErr('ERR_CONFIG', /OpenSSH/, /ssh-keygen -p -m PKCS8/),
  );
  const two = write(
    'two.key',
    readFileSync(f('rsa.key'), 'latin1') + readFileSync(f('ec256.key'), 'latin1'),
  );
  assert.throws(() => loadPrivateKey(two), vpnErr('ERR_CONFIG', /holds 2 private keys/));
  const junk = write('junk.key', 'hello world\n');
  assert.throws(() => loadPrivateKey(junk), vpnErr('ERR_CONFIG', `no private key in ${junk}`));
  const badB64 = write(
    'bad64.key',
    '-----BEGIN PRIVATE KEY-----\nnot*base64\n-----END PRIVATE KEY-----\n',
  );
  assert.throws(() => loadPrivateKey(badB64), vpnErr('ERR_CERT', badB64, /base64/));
  const badKey = write(
    'bad.key',
    '-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n-----END PRIVATE KEY-----\n',
  );
  assert.throws(
    () => loadPrivateKey(badKey),
    vpnErr('ERR_CERT', `${badKey} holds no usable private key`),
  );
  const derJunk = write('junk.der', Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x05));
  assert.throws(
    () => loadPrivateKey(derJunk),
    vpnErr('ERR_CONFIG', `no private key in ${derJunk}`),
  );
  assert.throws(
    () => loadPrivateKey(f('missing.key')),
    vpnErr('ERR_CONFIG', `cannot read key file ${f('missing.key')}: no such file`),
  );
  assert.throws(() => loadPrivateKey(dir), vpnErr('ERR_CONFIG', /not a regular file/));
});

test('owner-only rule: a key readable by group or others is refused (unless only root can read it)', () => {
  const key = f('perm.key');
  copyFileSync(f('rsa.key'), key);
  // Owned by a group other than root (as root: chown; otherwise our own group is not root's).
  if (isRoot) chownSync(key, 0, 4242);
  for (const mode of [0o640, 0o604, 0o644, 0o660, 0o602]) {
    chmodSync(key, mode);
    assert.throws(
      () => loadPrivateKey(key),
      vpnErr(
        'ERR_CONFIG',
        `key file ${key} is accessible by others (mode 0${mode.toString(8)}); run: chmod 600 ${key}`,
      ),
      mode.toString(8),
    );
  }
  for (const p12 of ['rsa-aes.p12']) {
    chmodSync(f(p12), 0o644);
    assert.throws(
      () => loadPkcs12(f(p12), PASS),
      vpnErr('ERR_CONFIG', /PKCS#12 file .* is accessible by others/),
    );
    chmodSync(f(p12), 0o600);
  }
  chmodSync(key, 0o400);
  assert.ok(loadPrivateKey(key));
  if (isRoot) {
    // root:root 0640: only root (and the root group) can read it.
    chownSync(key, 0, 0);
    chmodSync(key, 0o640);
    assert.ok(loadPrivateKey(key));
    chmodSync(key, 0o644);
    assert.throws(() => loadPrivateKey(key), vpnErr('ERR_CONFIG', /chmod 600/));
  }
});

test('checkKeyMatchesCert: a key of another certificate is refused, naming both files', () => {
  const rsa = loadPrivateKey(f('rsa.key'));
  assert.throws(
    () => checkKeyMatchesCert(rsa, cert('ec256.crt'), f('rsa.key'), f('ec256.crt')),
    vpnErr(
      'ERR_CONFIG',
      `the private key in ${f('rsa.key')} does not belong to the certificate in ${f('ec256.crt')}`,
    ),
  );
  assert.throws(
    () => checkKeyMatchesCert(rsa, cert('rsa.crt').subarray(0, 50)),
    vpnErr('ERR_CERT', /X\.509/),
  );
  // Same algorithm, different key.
  assert.throws(
    () => checkKeyMatchesCert(loadPrivateKey(f('ec384.key')), cert('ec256.crt')),
    vpnErr('ERR_CONFIG', /does not belong/),
  );
});

test('PKCS#12 files: modern AES, legacy 3DES, no MAC, no encryption, empty and non-ASCII passwords', () => {
  const cases: [string, string, string[]][] = [
    ['rsa-aes.p12', PASS, ['carol@rsa.test', 'carol@ec256.test']],
    ['ec256-3des.p12', PASS, ['carol@ec256.test']],
    ['ec256-mixed.p12', PASS, ['carol@ec256.test']],
    ['ed25519-aes.p12', PASS, ['carol@ed25519.test']],
    ['rsa-nomac.p12', PASS, ['carol@rsa.test']],
    ['rsa-plain.p12', PASS, ['carol@rsa.test']],
    ['rsa-empty-pass.p12', '', ['carol@rsa.test']],
    ['ec256-empty-pass-3des.p12', '', ['carol@ec256.test']],
    ['ec384-utf8.p12', UPASS, ['carol@ec384.test']],
    ['ec521-utf8-3des.p12', UPASS, ['carol@ec521.test']],
  ];
  for (const [file, pw, cns] of cases) {
    const r = loadPkcs12(f(file), pw);
    assert.deepEqual(r.certs.map(cn), cns, file);
    checkKeyMatchesCert(r.key, r.certs[0]!);
    // The same key as the PEM the certificate was made for.
    const base = cns[0]!.replace(/^carol@|\.test$/g, '');
    assert.deepEqual(spki(r.key), spki(loadPrivateKey(f(`${base}.key`))), file);
  }
});

test('PKCS#12 errors: wrong password, RC2, not PKCS#12, missing', () => {
  for (const file of ['rsa-aes.p12', 'ec256-3des.p12', 'ec384-utf8.p12']) {
    assert.throws(
      () => loadPkcs12(f(file), 'wrong'),
      vpnErr('ERR_CERT', `${f(file)}: wrong password for PKCS#12 file`),
    );
  }
  assert.throws(
    () => loadPkcs12(f('rsa-nomac.p12'), 'wrong'),
    vpnErr('ERR_CERT', /wrong password|not usable/),
  );
  if (existsSync(f('rsa-rc2.p12'))) {
    assert.throws(
      () => loadPkcs12(f('rsa-rc2.p12'), PASS),
      vpnErr(
        'ERR_CERT',
        f('rsa-rc2.p12'),
        'RC2-40 encryption (an old OpenSSL default)',
        're-export it with `openssl pkcs12 -export -certpbe AES-256-CBC -keypbe AES-256-CBC',
      ),
    );
  }
  assert.throws(
    () => loadPkcs12(f('rsa.key'), PASS),
    vpnErr('ERR_CONFIG', /is a PEM file, not PKCS#12/),
  );
  assert.throws(
    () => loadPkcs12(f('rsa.key.der'), PASS),
    vpnErr('ERR_CERT', `${f('rsa.key.der')} is not a valid PKCS#12 file`),
  );
  assert.throws(() => loadPkcs12(f('none.p12'), PASS), vpnErr('ERR_CONFIG', /no such file/));
});

test('certificate files: PEM (one, a bundle with comments and other blocks), DER; clear errors', () => {
  assert.equal(cn(cert('rsa.crt')), 'carol@rsa.test');
  assert.deepEqual(loadCertificates(f('rsa.crt.der')), [cert('rsa.crt')]);
  const bundle = f('bundle.pem');
  writeFileSync(
    bundle,
    `# our chain\r\n${readFileSync(f('ed25519.crt'), 'latin1').replace(/\n/g, '\r\n')}some text\n${readFileSync(f('ec256.key'), 'latin1')}\n${readFileSync(f('ec384.crt'), 'latin1')}trailer`,
  );
  assert.deepEqual(loadCertificates(bundle).map(cn), ['carol@ed25519.test', 'carol@ec384.test']);
  // OpenSSL's TRUSTED CERTIFICATE: the certificate, then trust settings.
  const der = cert('rsa.crt');
  const trusted = Buffer.concat([der, Uint8Array.of(0x30, 0x03, 0x06, 0x01, 0x2a)]).toString(
    'base64',
  );
  writeFileSync(
    f('trusted.pem'),
    `-----BEGIN TRUSTED CERTIFICATE-----\n${trusted}\n-----END TRUSTED CERTIFICATE-----\n`,
  );
  assert.deepEqual(loadCertificates(f('trusted.pem')), [der]);

  const junk = f('junk.crt');
  writeFileSync(junk, 'hello');
  assert.throws(() => loadCertificates(junk), vpnErr('ERR_CONFIG', `no certificate in ${junk}`));
  assert.throws(
    () => loadCertificates(f('rsa.key')),
    vpnErr('ERR_CONFIG', `no certificate in ${f('rsa.key')}`, /--key/),
  );
  const broken = f('broken.pem');
  const good = readFileSync(f('ec256.crt'), 'latin1');
  writeFileSync(broken, `${good}\n${good.replace(/\n[A-Za-z]/, '\n*')}`);
  assert.throws(
    () => loadCertificates(broken),
    vpnErr('ERR_CERT', `${broken}: the certificate at line`, /base64/),
  );
  const truncated = f('truncated.pem');
  const b64 = der.subarray(0, 200);
  writeFileSync(
    truncated,
    `-----BEGIN CERTIFICATE-----\n${Buffer.from(b64).toString('base64')}\n-----END CERTIFICATE-----\n`,
  );
  assert.throws(
    () => loadCertificates(truncated),
    vpnErr('ERR_CERT', truncated, /not a valid X\.509 certificate/),
  );
  const cut = f('cut.pem');
  writeFileSync(cut, good.slice(0, 300));
  assert.throws(() => loadCertificates(cut), vpnErr('ERR_CERT', cut, /without its END line/));
  const derJunk = f('junk.der');
  writeFileSync(derJunk, der.subarray(0, der.length - 1));
  assert.throws(
    () => loadCertificates(derJunk),
    vpnErr('ERR_CONFIG', `no certificate in ${derJunk}`),
  );
  assert.throws(
    () => loadCertificates(f('none.crt')),
    vpnErr('ERR_CONFIG', `cannot read certificate file ${f('none.crt')}: no such file`),
  );
});

test('trust anchors: --ca FILE, --ca DIR (garbage skipped and counted, duplicates dropped)', () => {
  const one = loadTrustAnchors(f('ec256.crt'));
  assert.deepEqual(one, {
    certs: [cert('ec256.crt')],
    source: f('ec256.crt'),
    skipped: 0,
    skippedFiles: [],
  });

  const d = mkdtempSync(join(dir, 'ca-'));
  copyFileSync(f('rsa.crt'), join(d, 'a.pem'));
  copyFileSync(f('ec256.crt'), join(d, 'b.CRT'));
  copyFileSync(f('rsa.crt.der'), join(d, 'c.der')); // the same as a.pem
  writeFileSync(
    join(d, 'd.cer'),
    readFileSync(f('ec384.crt'), 'latin1') + readFileSync(f('ec521.crt'), 'latin1'),
  );
  writeFileSync(join(d, 'junk.pem'), 'not a certificate');
  writeFileSync(join(d, 'key.pem'), readFileSync(f('rsa.key')));
  symlinkSync(join(d, 'gone'), join(d, 'dangling.crt'));
  writeFileSync(join(d, 'README'), 'not a certificate file name');
  copyFileSync(f('ed25519.crt'), join(d, 'ed25519.crt.bak'));
  mkdirSync(join(d, 'sub.pem'));
  const r = loadTrustAnchors(d);
  assert.deepEqual(r.certs.map(cn).sort(), [
    'carol@ec256.test',
    'carol@ec384.test',
    'carol@ec521.test',
    'carol@rsa.test',
  ]);
  assert.equal(r.source, d);
  assert.equal(r.skipped, 3);
  assert.deepEqual(
    r.skippedFiles,
    ['dangling.crt', 'junk.pem', 'key.pem'].map((n) => join(d, n)),
  );

  const empty = mkdtempSync(join(dir, 'empty-'));
  writeFileSync(join(empty, 'junk.crt'), 'x');
  assert.throws(
    () => loadTrustAnchors(empty),
    vpnErr('ERR_CONFIG', `no trusted CA certificates found in ${empty}`, /1 skipped/),
  );
  assert.throws(
    () => loadTrustAnchors(f('missing')),
    vpnErr('ERR_CONFIG', /no such file or folder/),
  );
  assert.throws(() => loadTrustAnchors(f('rsa.key')), vpnErr('ERR_CONFIG', /no certificate in/));
});

test('trust anchors: the system store (first bundle that exists, else the folder), else an error', () => {
  const s = mkdtempSync(join(dir, 'sys-'));
  const bundle = join(s, 'bundle.crt');
  writeFileSync(
    bundle,
    `${readFileSync(f('rsa.crt'), 'latin1')}${readFileSync(f('ec256.crt'), 'latin1')}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`,
  );
  const certsDir = join(s, 'certs');
  mkdirSync(certsDir);
  copyFileSync(f('ed25519.crt'), join(certsDir, 'ed.pem'));
  const missing = join(s, 'nope.crt');

  let r = loadTrustAnchors(undefined, {
    bundles: [missing, bundle, f('ec384.crt')],
    dir: certsDir,
  });
  assert.deepEqual(r.certs.map(cn), ['carol@rsa.test', 'carol@ec256.test']);
  assert.equal(r.source, `${bundle} (system store)`);
  assert.equal(r.skipped, 1, 'the bad block of the bundle');
  r = loadTrustAnchors(undefined, { bundles: [missing], dir: certsDir });
  assert.deepEqual(r.certs.map(cn), ['carol@ed25519.test']);
  assert.equal(r.source, `${certsDir} (system store)`);
  assert.throws(
    () => loadTrustAnchors(undefined, { bundles: [missing], dir: join(s, 'nodir') }),
    vpnErr('ERR_CONFIG', /^no trusted CA certificates found/, /pass --ca/),
  );
  // This machine's store, if it has one.
  assert.equal(SYSTEM_BUNDLES[0], '/etc/ssl/certs/ca-certificates.crt');
  try {
    const sys = loadTrustAnchors(undefined);
    assert.ok(sys.certs.length > 0);
    assert.match(sys.source, /\(system store\)$/);
  } catch (e) {
    vpnErr('ERR_CONFIG', /pass --ca/)(e);
  }
});

test('readSecretFile: the first line without its line end; owner-only; empty and non-UTF-8 refused', () => {
  const w = (name: string, content: string | Uint8Array, mode = 0o600): string => {
    writeFileSync(f(name), content, { mode });
    chmodSync(f(name), mode);
    return f(name);
  };
  assert.equal(readSecretFile(w('s1', 'test-pass\n')), 'test-pass');
  assert.equal(readSecretFile(w('s2', `${UPASS}\r\nsecond line\n`)), UPASS);
  assert.equal(readSecretFile(w('s3', ' spaces kept ')), ' spaces kept ');
  assert.equal(readSecretFile(w('s4', '\ufeffbom\n')), 'bom');
  assert.equal(readSecretFile(w('s5', '\n')), '');
  assert.throws(() => readSecretFile(w('s6', '')), vpnErr('ERR_CONFIG', `${f('s6')} is empty`));
  assert.throws(
    () => readSecretFile(w('s7', Uint8Array.of(0xff, 0xfe, 0x41))),
    vpnErr('ERR_CONFIG', /not UTF-8/),
  );
  assert.throws(
    () => readSecretFile(w('s8', 'pw\n', 0o644), 'passphrase file'),
    vpnErr(
      'ERR_CONFIG',
      `passphrase file ${f('s8')} is accessible by others (mode 0644); run: chmod 600 ${f('s8')}`,
    ),
  );
  assert.throws(() => readSecretFile(f('nothing')), vpnErr('ERR_CONFIG', /no such file/));
});
