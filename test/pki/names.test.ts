/**
 * Identities and host names against certificates (RFC 4945 §3.1, RFC 6125 §6), distinguished
 * name comparison (RFC 5280 §7.1) and the default identities of a client certificate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { ParseError } from '../../src/core/errors.js';
import { IdType } from '../../src/ike/constants.js';
import { formatIdentity, parseIdentity } from '../../src/ike/identity.js';
import type { Identity } from '../../src/ike/identity.js';
import { Tag, oid, seq, tlv } from '../../src/pki/der.js';
import { parseDn } from '../../src/pki/dn.js';
import {
  commonNames,
  matchesDnsName,
  matchesHost,
  parseName,
  sameDistinguishedName,
} from '../../src/pki/names.js';
import {
  identityFromCert,
  matchesIdentity,
  sanIdentityFromCert,
} from '../../src/ike/auth/cert-identity.js';
import { Certificate, pemToDer } from '../../src/pki/x509.js';
import { findRepoFile } from '../support/paths.js';

const FIXTURES = findRepoFile('test/pki/fixtures');
const cert = (n: string): Certificate =>
  Certificate.fromDer(pemToDer(readFileSync(join(FIXTURES, `${n}.crt`), 'utf8'))[0]!);

const id = (s: string): Identity => parseIdentity(s);

test('matchesDnsName: exact, case-insensitive, trailing dot', () => {
  assert.ok(matchesDnsName('gw.test', 'gw.test'));
  assert.ok(matchesDnsName('GW.Test', 'gw.TEST'));
  assert.ok(matchesDnsName('gw.test.', 'gw.test'));
  assert.ok(matchesDnsName('gw.test', 'gw.test.'));
  assert.ok(!matchesDnsName('gw.test', 'gw.test.evil'));
  assert.ok(!matchesDnsName('gw.test', 'xgw.test'));
  assert.ok(!matchesDnsName('', ''));
  assert.ok(!matchesDnsName('gw.test\u0000.evil', 'gw.test'));
  // No Unicode case folding: U+212A KELVIN SIGN lower-cases to "k" in JavaScript.
  assert.ok(!matchesDnsName('\u212Aey.test', 'key.test'));
});

test('matchesDnsName: RFC 6125 §6.4.3 wildcards match exactly one left-most label', () => {
  assert.ok(matchesDnsName('*.vpn.test', 'a.vpn.test'));
  assert.ok(matchesDnsName('*.vpn.test', 'GW-1.VPN.test'));
  assert.ok(!matchesDnsName('*.vpn.test', 'vpn.test'), 'zero labels');
  assert.ok(!matchesDnsName('*.vpn.test', 'a.b.vpn.test'), 'two labels');
  assert.ok(!matchesDnsName('*.vpn.test', '.vpn.test'), 'empty label');
  assert.ok(!matchesDnsName('*.vpn.test', 'a.vpn.test.evil'));
  assert.ok(!matchesDnsName('*.test', 'vpn.test'), 'too broad');
  assert.ok(!matchesDnsName('*', 'test'));
  assert.ok(!matchesDnsName('a*.vpn.test', 'ab.vpn.test'), 'partial-label wildcard');
  assert.ok(!matchesDnsName('a.*.test', 'a.vpn.test'), 'not left-most');
  assert.ok(!matchesDnsName('*.*.test', 'a.b.test'));
  assert.ok(!matchesDnsName('*.vpn.test', '*.vpn.test'), 'reference names never contain "*"');
  assert.ok(!matchesDnsName('gw.test', '*.test'));
});

test('matchesIdentity ID_FQDN: dNSName SANs with wildcards, no CN fallback', () => {
  const gw = cert('gw-rsa');
  assert.ok(matchesIdentity(gw, id('@gw.test')));
  assert.ok(matchesIdentity(gw, id('@GW.TEST')));
  assert.ok(!matchesIdentity(gw, id('@other.test')));
  const ec = cert('gw-ecdsa');
  assert.ok(matchesIdentity(ec, id('@gw-ecdsa.test')));
  assert.ok(matchesIdentity(ec, id('@office.vpn.test')));
  assert.ok(!matchesIdentity(ec, id('@vpn.test')));
  assert.ok(!matchesIdentity(ec, id('@a.b.vpn.test')));
  // The subject CN of a certificate without SANs is not an FQDN identity.
  assert.ok(!matchesIdentity(cert('cn-only'), id('@legacy.test')));
  assert.ok(!matchesIdentity(gw, { type: IdType.FQDN, data: Uint8Array.of(0xff, 0xfe) }));
});

test('matchesIdentity ID_IPV4_ADDR / ID_IPV6_ADDR: iPAddress SANs', () => {
  assert.ok(matchesIdentity(cert('gw-rsa'), id('198.51.100.10')));
  assert.ok(!matchesIdentity(cert('gw-rsa'), id('198.51.100.11')));
  assert.ok(matchesIdentity(cert('gw-ecdsa'), id('2001:db8::10')));
  assert.ok(matchesIdentity(cert('gw-ecdsa'), id('2001:DB8:0:0:0:0:0:10')));
  assert.ok(!matchesIdentity(cert('gw-ecdsa'), id('2001:db8::11')));
  // An IP-address-looking CN is not an address identity.
  assert.ok(!matchesIdentity(cert('cn-ip'), id('192.0.2.7')));
  // Wrong length for the type.
  assert.ok(
    !matchesIdentity(cert('gw-rsa'), {
      type: IdType.IPV6_ADDR,
      data: Uint8Array.of(198, 51, 100, 10),
    }),
  );
});

test('matchesIdentity ID_RFC822_ADDR: rfc822Name SANs, case-insensitive', () => {
  assert.ok(matchesIdentity(cert('client-rsa'), id('carol@vpn.test')));
  assert.ok(matchesIdentity(cert('client-rsa'), id('Carol@VPN.test')));
  assert.ok(!matchesIdentity(cert('client-rsa'), id('dave@vpn.test')));
  assert.ok(matchesIdentity(cert('client-ecdsa'), id('dave@vpn.test')));
  assert.ok(matchesIdentity(cert('gw-ecdsa'), id('gw-admin@vpn.test')));
  assert.ok(!matchesIdentity(cert('gw-rsa'), id('gw@gw.test')));
});

test('matchesIdentity ID_DER_ASN1_DN: byte-equal or canonically equal subject', () => {
  const gw = cert('gw-rsa');
  // pki writes O and CN as PrintableString, parseDn as UTF8String: equal after §7.1 comparison.
  const typed = id('C=CH, O=ikev2-vpn test, CN=gw.test');
  assert.notDeepEqual(typed.data, gw.subjectDer);
  assert.ok(matchesIdentity(gw, typed));
  assert.ok(matchesIdentity(gw, { type: IdType.DER_ASN1_DN, data: gw.subjectDer }));
  assert.ok(matchesIdentity(gw, id('c=ch,   o=IKEV2-VPN   Test, cn=GW.test')));
  assert.ok(!matchesIdentity(gw, id('C=CH, O=ikev2-vpn test, CN=gw2.test')));
  assert.ok(!matchesIdentity(gw, id('O=ikev2-vpn test, C=CH, CN=gw.test')), 'RDN order matters');
  assert.ok(!matchesIdentity(gw, id('C=CH, O=ikev2-vpn test')));
  assert.ok(!matchesIdentity(gw, { type: IdType.DER_ASN1_DN, data: Uint8Array.of(0x30, 0x05, 1) }));
  assert.ok(
    matchesIdentity(cert('client-ecdsa'), id('C=CH, O=ikev2-vpn test, OU=Clients, CN=dave')),
  );
});

test('matchesIdentity ID_KEY_ID: SHA-1 of the SubjectPublicKeyInfo or the subject key identifier', () => {
  const gw = cert('gw-rsa');
  assert.ok(matchesIdentity(gw, { type: IdType.KEY_ID, data: gw.keyIdSha1() }));
  const root = cert('root-ca');
  assert.ok(matchesIdentity(root, { type: IdType.KEY_ID, data: root.subjectKeyId! }));
  assert.ok(!matchesIdentity(gw, { type: IdType.KEY_ID, data: cert('root-ca').keyIdSha1() }));
  assert.ok(!matchesIdentity(gw, { type: IdType.KEY_ID, data: new Uint8Array(0) }));
  assert.ok(!matchesIdentity(gw, { type: IdType.NULL, data: new Uint8Array(0) }));
});

test('matchesHost: DNS SANs, IP SANs, brackets', () => {
  const gw = cert('gw-rsa');
  assert.ok(matchesHost(gw, 'gw.test'));
  assert.ok(matchesHost(gw, 'GW.test.'));
  assert.ok(matchesHost(gw, '198.51.100.10'));
  assert.ok(!matchesHost(gw, '198.51.100.1'));
  assert.ok(!matchesHost(gw, 'other.test'));
  assert.ok(!matchesHost(gw, ''));
  const ec = cert('gw-ecdsa');
  assert.ok(matchesHost(ec, '2001:db8::10'));
  assert.ok(matchesHost(ec, '[2001:DB8::10]'));
  assert.ok(matchesHost(ec, 'x.vpn.test'));
  assert.ok(!matchesHost(ec, 'gw.test'));
});

test('matchesHost: CN fallback only without SANs of that kind', () => {
  const legacy = cert('cn-only');
  assert.ok(matchesHost(legacy, 'legacy.test'), 'no dNSName SAN: the CN decides');
  assert.ok(matchesHost(legacy, 'LEGACY.test'));
  assert.ok(!matchesHost(legacy, 'other.test'));
  assert.ok(!matchesHost(legacy, '192.0.2.7'));
  const ipcn = cert('cn-ip'); // SAN DNS:ipcn.test, CN=192.0.2.7
  assert.ok(matchesHost(ipcn, 'ipcn.test'));
  assert.ok(matchesHost(ipcn, '192.0.2.7'), 'no iPAddress SAN: an IP CN decides');
  assert.ok(!matchesHost(ipcn, '192.0.2.8'));
  assert.ok(!matchesHost(ipcn, 'legacy.test'));
  // Only SANs of the same kind suppress the fallback: an rfc822Name does not.
  assert.ok(matchesHost(cert('client-rsa'), 'carol'), 'email SAN only: the CN decides');
});

test('identityFromCert: the subject DN as ID_DER_ASN1_DN; sanIdentityFromCert: the first SAN', () => {
  const c = cert('client-rsa');
  const dn = identityFromCert(c);
  assert.equal(dn.type, IdType.DER_ASN1_DN);
  assert.deepEqual(dn.data, c.subjectDer);
  assert.equal(formatIdentity(dn), 'C=CH, O=ikev2-vpn test, CN=carol');
  assert.ok(matchesIdentity(c, dn));
  const san = sanIdentityFromCert(c);
  assert.deepEqual(san, id('carol@vpn.test'));
  assert.deepEqual(sanIdentityFromCert(cert('gw-rsa')), id('@gw.test'));
  assert.deepEqual(sanIdentityFromCert(cert('gw-ecdsa')), id('@gw-ecdsa.test'));
  assert.equal(sanIdentityFromCert(cert('cn-only')), undefined);
  for (const n of ['client-rsa', 'client-ecdsa', 'gw-rsa', 'gw-ecdsa', 'gw-ed25519']) {
    const x = cert(n);
    assert.ok(matchesIdentity(x, identityFromCert(x)), n);
    const s = sanIdentityFromCert(x);
    if (s) assert.ok(matchesIdentity(x, s), n);
  }
});

function rdn(...atvs: Uint8Array[]): Uint8Array {
  const total = atvs.reduce((n, a) => n + a.length, 0);
  const body = new Uint8Array(total);
  let o = 0;
  for (const a of atvs) {
    body.set(a, o);
    o += a.length;
  }
  return tlv(Tag.SET, body);
}
const atv = (type: string, value: string, tag: number = Tag.UTF8_STRING): Uint8Array =>
  seq(oid(type), tlv(tag, new TextEncoder().encode(value)));

test('sameDistinguishedName: RFC 5280 §7.1 comparison', () => {
  const a = seq(rdn(atv('2.5.4.6', 'CH', Tag.PRINTABLE_STRING)), rdn(atv('2.5.4.3', 'Gate  Way')));
  const b = seq(
    rdn(atv('2.5.4.6', 'ch', Tag.UTF8_STRING)),
    rdn(atv('2.5.4.3', ' gate way ', Tag.PRINTABLE_STRING)),
  );
  assert.ok(sameDistinguishedName(a, a));
  assert.ok(sameDistinguishedName(a, b));
  assert.ok(!sameDistinguishedName(a, seq(rdn(atv('2.5.4.3', 'Gate Way')))));
  assert.ok(
    !sameDistinguishedName(a, seq(rdn(atv('2.5.4.6', 'CH')), rdn(atv('2.5.4.10', 'Gate Way')))),
  );
  // Multi-valued RDNs: attribute order inside the SET does not matter.
  const m1 = seq(rdn(atv('2.5.4.10', 'Org'), atv('2.5.4.3', 'gw')));
  const m2 = seq(rdn(atv('2.5.4.3', 'GW'), atv('2.5.4.10', 'org')));
  assert.ok(sameDistinguishedName(m1, m2));
  assert.ok(
    !sameDistinguishedName(m1, seq(rdn(atv('2.5.4.10', 'Org')), rdn(atv('2.5.4.3', 'gw')))),
  );
  // Non-string values compare byte for byte.
  const bin = (v: number): Uint8Array =>
    seq(rdn(seq(oid('2.5.4.45'), tlv(Tag.BIT_STRING, Uint8Array.of(0, v)))));
  assert.ok(sameDistinguishedName(bin(1), bin(1)));
  assert.ok(!sameDistinguishedName(bin(1), bin(2)));
  // Malformed names are equal only byte for byte.
  assert.ok(sameDistinguishedName(Uint8Array.of(1, 2), Uint8Array.of(1, 2)));
  assert.ok(!sameDistinguishedName(Uint8Array.of(1, 2), Uint8Array.of(1, 3)));
  assert.ok(sameDistinguishedName(parseDn('CN=a, O=b'), parseDn('cn=A,o=B')));
});

test('parseName and commonNames', () => {
  const n = parseName(parseDn('C=CH, O=Example, CN=first, CN=second'));
  assert.equal(n.length, 4);
  assert.equal(n[0]![0]!.oid, '2.5.4.6');
  assert.equal(n[0]![0]!.text, 'CH');
  assert.deepEqual(commonNames(parseDn('C=CH, O=Example, CN=first, CN=second')), [
    'first',
    'second',
  ]);
  assert.deepEqual(commonNames(Uint8Array.of(0x30, 0x01)), []);
  assert.throws(() => parseName(Uint8Array.of(0x31, 0x00)), ParseError);
  assert.throws(() => parseName(seq(tlv(Tag.SET, new Uint8Array(0)))), ParseError);
  assert.deepEqual(parseName(seq()), []);
});

test('property: matchesHost and matchesIdentity never throw on arbitrary input', () => {
  const certs = ['gw-rsa', 'gw-ecdsa', 'cn-only', 'cn-ip', 'client-rsa'].map(cert);
  fc.assert(
    fc.property(
      fc.constantFrom(...certs),
      fc.string(),
      fc.integer({ min: 0, max: 20 }),
      fc.uint8Array({ maxLength: 40 }),
      (c, host, type, data) => {
        matchesHost(c, host);
        matchesIdentity(c, { type, data });
      },
    ),
    { numRuns: 500, seed: 9 },
  );
});

test('property: a wildcard pattern matches exactly the names with one more label', () => {
  const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/);
  fc.assert(
    fc.property(
      fc.array(label, { minLength: 2, maxLength: 4 }),
      fc.array(label, { minLength: 0, maxLength: 3 }),
      (base, prefix) => {
        const host = [...prefix, ...base].join('.');
        const expected = prefix.length === 1;
        assert.equal(matchesDnsName(`*.${base.join('.')}`, host), expected, host);
      },
    ),
    { numRuns: 300, seed: 13 },
  );
});
