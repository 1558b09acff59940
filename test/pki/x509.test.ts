/**
 * X.509 parsing (RFC 5280 §4) of every fixture made by scripts/make-test-pki.sh, PEM extraction,
 * strongSwan's key IDs, and robustness: truncations and random byte flips never throw anything but
 * ParseError/VpnError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate, createHash } from 'node:crypto';
import fc from 'fast-check';
import { ParseError, VpnError } from '../../src/core/errors.js';
import { parseDn } from '../../src/pki/dn.js';
import { Certificate, EkuOid, keyUsageNames, pemToDer } from '../../src/pki/x509.js';
import { matchesHost, parseName, sameDistinguishedName } from '../../src/pki/names.js';
import { matchesIdentity, sanIdentityFromCert } from '../../src/ike/auth/cert-identity.js';
import { verifyChain } from '../../src/pki/chain.js';
import { parseIdentity } from '../../src/ike/identity.js';
import { findRepoFile } from '../support/paths.js';

/** test/pki/fixtures of the repository, from dist/test/pki wherever dist is. */
const FIXTURES = findRepoFile('test/pki/fixtures');
const text = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');
const der = (name: string): Uint8Array => pemToDer(text(`${name}.crt`))[0]!;
const cert = (name: string): Certificate => Certificate.fromDer(der(name));

const ALL = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.crt'))
  .map((f) => f.slice(0, -4))
  .sort();

test('fixtures: the script made every certificate the tests use', () => {
  for (const n of [
    'root-ca',
    'int-ca',
    'gw-rsa',
    'gw-ecdsa',
    'gw-ed25519',
    'gw-pss',
    'expired',
    'future',
    'evil-ca',
    'evil-gw',
    'nodigsig',
    'notca',
    'notca-child',
    'nosign-ca',
    'nosign-leaf',
    'sub-ca',
    'sub-leaf',
    'cn-only',
    'cn-ip',
    'client-rsa',
    'client-ecdsa',
  ])
    assert.ok(ALL.includes(n), n);
});

test("every fixture parses, agrees with node:crypto, and has strongSwan's SHA-1 SPKI key ID", () => {
  const keyids = new Map(
    text('keyids.txt')
      .trim()
      .split('\n')
      .map((l) => l.split(' ') as [string, string]),
  );
  for (const n of ALL) {
    const d = der(n);
    const c = Certificate.fromDer(d);
    const x = new X509Certificate(d);
    assert.deepEqual(c.der, d, n);
    assert.equal(c.version, 3, n);
    assert.equal(c.serialNumber.replace(/^00/, '').toUpperCase(), x.serialNumber.toUpperCase(), n);
    assert.equal(c.notBefore, Date.parse(x.validFrom), n);
    assert.equal(c.notAfter, Date.parse(x.validTo), n);
    assert.equal(c.fingerprintSha256(), x.fingerprint256, n);
    assert.equal(c.publicKey.asymmetricKeyType, x.publicKey.asymmetricKeyType, n);
    assert.ok(c.publicKey.equals(x.publicKey), n);
    assert.deepEqual(
      c.spkiDer,
      new Uint8Array(x.publicKey.export({ type: 'spki', format: 'der' })),
      n,
    );
    // RFC 7296 §3.7: the CERTREQ hash; `pki --keyid` prints strongSwan's value.
    const expected = keyids.get(n);
    assert.ok(expected && expected.length === 40, `keyids.txt has ${n}`);
    assert.deepEqual(c.keyIdSha1(), new Uint8Array(createHash('sha1').update(c.spkiDer).digest()));
    const ids = c.certreqKeyIds().map((k) => Buffer.from(k).toString('hex'));
    assert.equal(ids[0], Buffer.from(c.keyIdSha1()).toString('hex'));
    if (c.keyType === 'rsa-pss') {
      // strongSwan hashes an RSA-PSS key re-encoded as rsaEncryption; we send both.
      assert.equal(ids.length, 2, n);
      assert.equal(ids[1], expected, n);
    } else {
      assert.deepEqual(ids, [expected], n);
    }
    assert.deepEqual(c.unhandledCriticalExtensions, [], n);
    // Node's text form of the subject names the same attributes.
    assert.ok(x.subject.includes(`CN=${c.commonNames.at(-1) ?? ''}`), n);
  }
});

test('gw-rsa: names, SANs, dates, EKU, no basicConstraints or keyUsage', () => {
  const c = cert('gw-rsa');
  assert.equal(c.subject, 'C=CH, O=ikev2-vpn test, CN=gw.test');
  assert.equal(c.issuer, 'C=CH, O=ikev2-vpn test, CN=Test Root CA');
  // pki writes every attribute as PrintableString (parseDn uses UTF8String for O and CN).
  const printable = parseName(c.subjectDer).flat();
  assert.deepEqual(
    printable.map((a) => [a.oid, a.tag, a.text]),
    [
      ['2.5.4.6', 0x13, 'CH'],
      ['2.5.4.10', 0x13, 'ikev2-vpn test'],
      ['2.5.4.3', 0x13, 'gw.test'],
    ],
  );
  assert.ok(sameDistinguishedName(c.subjectDer, parseDn('C=CH, O=ikev2-vpn test, CN=gw.test')));
  assert.deepEqual(c.issuerDer, cert('root-ca').subjectDer);
  assert.equal(c.notBefore, Date.UTC(2020, 0, 1));
  assert.equal(c.notAfter, Date.UTC(2099, 11, 31, 23, 59, 59));
  assert.deepEqual(c.subjectAltNames.dns, ['gw.test']);
  assert.deepEqual(c.subjectAltNames.ip, ['198.51.100.10']);
  assert.deepEqual(c.subjectAltNames.ipBytes, [Uint8Array.of(198, 51, 100, 10)]);
  assert.deepEqual(c.subjectAltNames.email, []);
  assert.deepEqual(c.extendedKeyUsage, [EkuOid.SERVER_AUTH]);
  assert.equal(c.basicConstraints, undefined);
  assert.equal(c.keyUsage, undefined);
  assert.equal(c.keyType, 'rsa');
  assert.equal(c.curve, undefined);
  assert.equal(c.signatureAlgorithmName, 'sha256WithRSAEncryption');
  assert.deepEqual(c.commonNames, ['gw.test']);
  // pki writes no subjectKeyIdentifier into end-entity certificates, an authority key ID always.
  assert.equal(c.subjectKeyId, undefined);
  assert.ok(cert('root-ca').subjectKeyId);
  assert.deepEqual(c.authorityKeyId, cert('root-ca').subjectKeyId);
  assert.equal(c.selfIssued, false);
});

test('CA certificates: basicConstraints, pathLen, keyUsage bits, self-signed root', () => {
  const root = cert('root-ca');
  assert.deepEqual(root.basicConstraints, { cA: true });
  assert.deepEqual(keyUsageNames(root.keyUsage!), ['keyCertSign', 'cRLSign']);
  assert.equal(root.keyUsage!.digitalSignature, false);
  assert.ok(root.selfIssued && root.selfSigned);
  assert.equal(root.subject, root.issuer);
  const int = cert('int-ca');
  assert.deepEqual(int.basicConstraints, { cA: true, pathLen: 0 });
  assert.equal(int.keyType, 'ec');
  assert.equal(int.curve, 'P-384');
  assert.equal(int.selfSigned, false);
  assert.deepEqual(keyUsageNames(cert('nodigsig').keyUsage!), ['keyEncipherment']);
  assert.deepEqual(keyUsageNames(cert('nosign-ca').keyUsage!), ['digitalSignature', 'cRLSign']);
});

test('key types and curves: ECDSA P-256, Ed25519, RSA-PSS', () => {
  assert.equal(cert('gw-ecdsa').keyType, 'ec');
  assert.equal(cert('gw-ecdsa').curve, 'P-256');
  assert.equal(cert('gw-ecdsa').signatureAlgorithmName, 'ecdsa-with-SHA384');
  assert.equal(cert('gw-ed25519').keyType, 'ed25519');
  assert.equal(cert('gw-ed25519').curve, undefined);
  assert.equal(cert('gw-pss').keyType, 'rsa-pss');
  assert.equal(cert('gw-pss').signatureAlgorithmName, 'RSASSA-PSS');
});

test('subjectAltName of every kind, in certificate order', () => {
  const c = cert('gw-ecdsa');
  assert.deepEqual(
    c.subjectAltNames.all.map((n) => `${n.type}:${n.value}`),
    ['dns:gw-ecdsa.test', 'dns:*.vpn.test', 'ip:2001:db8::10', 'email:gw-admin@vpn.test'],
  );
  assert.deepEqual(c.subjectAltNames.ip, ['2001:db8::10']);
  assert.equal(c.subjectAltNames.ipBytes[0]!.length, 16);
  assert.deepEqual(cert('client-rsa').subjectAltNames.email, ['carol@vpn.test']);
  assert.deepEqual(cert('cn-only').subjectAltNames.all, []);
});

test('dates: UTCTime before 2050, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5)', () => {
  const e = cert('expired');
  assert.equal(e.notAfter, Date.UTC(2021, 0, 1));
  assert.ok(!e.validAt(Date.UTC(2030, 0, 1)));
  assert.ok(e.validAt(Date.UTC(2020, 5, 1)));
  assert.ok(e.validAt(e.notAfter), 'notAfter is inclusive');
  assert.ok(!e.validAt(e.notAfter + 1));
  const f = cert('future');
  assert.equal(f.notBefore, Date.UTC(2090, 0, 1));
  assert.ok(!f.validAt(Date.UTC(2030, 0, 1)));
});

test('issuedBy: issuer name and signature', () => {
  const root = cert('root-ca');
  const int = cert('int-ca');
  const evil = cert('evil-ca');
  assert.ok(cert('gw-rsa').issuedBy(root));
  assert.ok(int.issuedBy(root));
  assert.ok(cert('gw-ecdsa').issuedBy(int));
  assert.ok(!cert('gw-ecdsa').issuedBy(root), 'name differs');
  assert.ok(!cert('gw-rsa').issuedBy(evil), 'name differs');
  assert.ok(cert('evil-gw').issuedBy(evil));
  assert.ok(cert('gw-pss').issuedBy(root), 'RSASSA-PSS signature');
  assert.ok(root.issuedBy(root));
  // Same issuer name, signature altered: the name matches but the signature does not verify.
  const d = der('gw-rsa').slice();
  d[d.length - 1]! ^= 0x01;
  const forged = Certificate.fromDer(d);
  assert.ok(!forged.issuedBy(root));
  assert.ok(!forged.signedBy(root.publicKey));
});

test('pemToDer: several blocks, CRLF, surrounding text, keys ignored', () => {
  const chain = pemToDer(text('gw-ecdsa-chain.pem'));
  assert.equal(chain.length, 2);
  assert.deepEqual(chain[0], der('gw-ecdsa'));
  assert.deepEqual(chain[1], der('int-ca'));
  const crlf = `Bag Attributes: whatever\r\n${text('gw-rsa.crt').replace(/\n/g, '\r\n')}trailer\r\n`;
  assert.deepEqual(pemToDer(crlf), [der('gw-rsa')]);
  assert.deepEqual(pemToDer(text('gw-rsa.key')), []);
  assert.deepEqual(pemToDer(''), []);
  assert.equal(Certificate.fromPem(text('gw-ecdsa-chain.pem')).length, 2);
  const x509Label = text('gw-rsa.crt').replace(/ CERTIFICATE-----/g, ' X509 CERTIFICATE-----');
  assert.deepEqual(pemToDer(x509Label), [der('gw-rsa')]);
});

test('pemToDer: a block without END line or with bad base64 is a ParseError', () => {
  const t = text('gw-rsa.crt');
  assert.throws(() => pemToDer(t.replace('-----END CERTIFICATE-----', '')), ParseError);
  assert.throws(() => pemToDer(t.replace(/\n[A-Za-z0-9+/]{10}/, '\n!!!!!!!!!!')), ParseError);
  assert.throws(
    () => pemToDer('-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n'),
    ParseError,
  );
});

test('garbage is a ParseError; a DER SEQUENCE that is no certificate too', () => {
  assert.throws(() => Certificate.fromDer(new Uint8Array(0)), ParseError);
  assert.throws(() => Certificate.fromDer(Uint8Array.of(0x30, 0x00)), ParseError);
  assert.throws(() => Certificate.fromDer(Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x00)), ParseError);
  assert.throws(
    () => Certificate.fromDer(new TextEncoder().encode('not a certificate')),
    ParseError,
  );
  const d = der('gw-rsa');
  const trailing = new Uint8Array(d.length + 1);
  trailing.set(d);
  assert.throws(() => Certificate.fromDer(trailing), ParseError);
});

test('fromDer copies its input', () => {
  const d = der('gw-rsa').slice();
  const c = Certificate.fromDer(d);
  d.fill(0);
  assert.equal(c.subject, 'C=CH, O=ikev2-vpn test, CN=gw.test');
  assert.notEqual(c.der[0], 0);
});

/** Only ParseError/VpnError may escape; a parsed result must be usable without throwing. */
function parseAndUse(bytes: Uint8Array, anchors: Certificate[]): void {
  let c: Certificate;
  try {
    c = Certificate.fromDer(bytes);
  } catch (e) {
    assert.ok(e instanceof VpnError, `threw ${String(e)}`);
    assert.ok(e.code === 'ERR_PARSE' || e.code === 'ERR_CERT', e.code);
    return;
  }
  matchesHost(c, 'gw.test');
  matchesHost(c, '198.51.100.10');
  matchesIdentity(c, parseIdentity('C=CH, O=ikev2-vpn test, CN=gw.test'));
  matchesIdentity(c, parseIdentity('@gw.test'));
  sanIdentityFromCert(c);
  c.keyIdSha1();
  c.describe();
  const r = verifyChain({ leaf: c, intermediates: [], anchors, now: Date.UTC(2030, 0, 1) });
  if (!r.ok) assert.ok(r.error instanceof VpnError);
}

test('every strict prefix of a certificate is a ParseError', () => {
  for (const n of ['gw-rsa', 'gw-ecdsa', 'gw-ed25519']) {
    const d = der(n);
    for (let len = 0; len < d.length; len += len < 64 ? 1 : 7)
      assert.throws(() => Certificate.fromDer(d.subarray(0, len)), ParseError, `${n}[0..${len}]`);
  }
});

test('property: random byte flips in a certificate never throw anything but ParseError/VpnError', () => {
  const anchors = [cert('root-ca'), cert('int-ca')];
  const sources = ['gw-rsa', 'gw-ecdsa', 'gw-ed25519', 'gw-pss', 'int-ca', 'nodigsig'].map(der);
  fc.assert(
    fc.property(
      fc.nat({ max: sources.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), {
        minLength: 1,
        maxLength: 4,
      }),
      (which, flips) => {
        const d = sources[which]!.slice();
        for (const [pos, x] of flips) d[pos % d.length]! ^= x;
        parseAndUse(d, anchors);
      },
    ),
    { numRuns: 600, seed: 7 },
  );
});

test('property: flips confined to the TBS header and names still parse or fail cleanly', () => {
  // Positions 4..200 hold version, serial, algorithm, issuer, validity and subject: the fields
  // our own parser reads (rather than OpenSSL's).
  const anchors = [cert('root-ca')];
  const d0 = der('gw-rsa');
  fc.assert(
    fc.property(fc.integer({ min: 4, max: 200 }), fc.integer({ min: 1, max: 255 }), (pos, x) => {
      const d = d0.slice();
      d[pos]! ^= x;
      parseAndUse(d, anchors);
    }),
    { numRuns: 400, seed: 11 },
  );
});

test('property: random bytes and random DER-looking SEQUENCEs are rejected cleanly', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
      const framed = new Uint8Array(b.length + 3);
      framed.set([0x30, 0x81, b.length & 0xff]);
      framed.set(b, 3);
      for (const x of [b, framed]) {
        try {
          Certificate.fromDer(x);
          assert.fail('parsed random bytes');
        } catch (e) {
          assert.ok(e instanceof VpnError, String(e));
        }
      }
    }),
    { numRuns: 300, seed: 3 },
  );
});
