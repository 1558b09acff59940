/**
 * The gateway-certificate policy (src/ike/auth/validator.ts) on top of the chain: extended key usage
 * (RFC 5280 §4.2.1.12, RFC 4945 §5.1.3.12) — a gateway certificate may carry serverAuth,
 * iKEIntermediate, id-kp-ipsecIKE, anyExtendedKeyUsage or no EKU at all, never clientAuth alone
 * or another purpose — and the names it must carry. Fixtures: test/pki/fixtures (README.md).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseIdentity } from '../../src/ike/identity.js';
import type { CertCheck } from '../../src/ike/auth.js';
import { checkExtendedKeyUsage } from '../../src/pki/chain.js';
import { createCertValidator, GATEWAY_EKUS } from '../../src/ike/auth/validator.js';
import { Certificate, EkuOid, pemToDer } from '../../src/pki/x509.js';
import { findRepoFile } from '../support/paths.js';

const FIXTURES = findRepoFile('test/pki/fixtures');
const der = (name: string): Uint8Array =>
  pemToDer(readFileSync(join(FIXTURES, `${name}.crt`), 'utf8'))[0]!;
const NOW = Date.UTC(2030, 0, 1);
const ROOT = [der('root-ca')];

function check(leaf: string, id: string, host?: string): CertCheck {
  const v = createCertValidator({ anchors: ROOT, ...(host === undefined ? {} : { host }) });
  return v.validate([der(leaf)], parseIdentity(id), NOW);
}

function refused(r: CertCheck, code: string, message: RegExp): void {
  assert.ok(!r.ok, 'expected a refusal');
  assert.equal(r.error.code, code, r.error.message);
  assert.match(r.error.message, message);
}

test('gateway EKU accepted: serverAuth, iKEIntermediate, id-kp-ipsecIKE, anyExtendedKeyUsage, serverAuth+clientAuth, none', () => {
  for (const [leaf, id, eku] of [
    ['gw-rsa', '@gw.test', [EkuOid.SERVER_AUTH]],
    ['eku-ike', '@eku-ike.test', [EkuOid.IKE_INTERMEDIATE]],
    ['eku-ipsec', '@eku-ipsec.test', [EkuOid.IPSEC_IKE]],
    ['eku-any', '@eku-any.test', [EkuOid.ANY]],
    ['eku-both', '@eku-both.test', [EkuOid.SERVER_AUTH, EkuOid.CLIENT_AUTH]],
    ['notca', '@notca.test', undefined],
  ] as const) {
    assert.deepEqual(Certificate.fromDer(der(leaf)).extendedKeyUsage, eku, `${leaf}: fixture EKU`);
    const r = check(leaf, id);
    assert.ok(r.ok, `${leaf}: ${r.ok ? '' : r.error.message}`);
  }
});

test('ERR_CERT: a client certificate (EKU clientAuth only) that names the gateway is not the gateway', () => {
  // Trusted CA, the gateway's DNS name and address, the host we dialled: still a client's.
  refused(
    check('eku-client-gw', '@gw.test', '198.51.100.10'),
    'ERR_CERT',
    /may not be used as an IKE gateway: it is a client certificate \(extended key usage clientAuth; one of serverAuth, ikeIntermediate, ipsecIKE or anyExtendedKeyUsage/,
  );
});

test("ERR_CERT: a colleague's client certificate with its own identity as IDr (--no-host-check) is refused", () => {
  refused(
    check('client-rsa', 'carol@vpn.test'),
    'ERR_CERT',
    /CN=carol" may not be used as an IKE gateway: it is a client certificate/,
  );
});

test('ERR_CERT: an EKU for another purpose only (codeSigning) is refused', () => {
  refused(
    check('eku-codesign', '@eku-codesign.test'),
    'ERR_CERT',
    /extended key usage codeSigning/,
  );
});

test('the EKU check comes after the chain: an untrusted client certificate is untrusted first', () => {
  const v = createCertValidator({ anchors: [der('evil-ca')] });
  const r = v.validate([der('client-rsa')], parseIdentity('carol@vpn.test'), NOW);
  assert.ok(!r.ok);
  assert.equal(r.error.code, 'ERR_CERT_UNTRUSTED');
});

test('checkExtendedKeyUsage: any listed purpose or anyExtendedKeyUsage passes; no extension passes', () => {
  const c = (n: string): Certificate => Certificate.fromDer(der(n));
  assert.equal(checkExtendedKeyUsage(c('client-rsa'), [EkuOid.CLIENT_AUTH], 'a client'), undefined);
  assert.equal(checkExtendedKeyUsage(c('eku-any'), [EkuOid.IPSEC_IKE], 'x'), undefined);
  assert.equal(checkExtendedKeyUsage(c('cn-only'), [EkuOid.SERVER_AUTH], 'x'), undefined);
  const e = checkExtendedKeyUsage(c('gw-rsa'), [EkuOid.CLIENT_AUTH], 'a client');
  assert.equal(e?.code, 'ERR_CERT');
  assert.match(
    e.message,
    /may not be used as a client \(extended key usage serverAuth; one of clientAuth/,
  );
  assert.deepEqual(GATEWAY_EKUS, [EkuOid.SERVER_AUTH, EkuOid.IKE_INTERMEDIATE, EkuOid.IPSEC_IKE]);
});

test('names are still checked after the EKU: IDr and the host we dialled', () => {
  refused(check('eku-ike', '@other.test'), 'ERR_CERT_NAME', /does not carry that identity/);
  refused(check('eku-ike', '@eku-ike.test', 'gw.test'), 'ERR_CERT_NAME', /not valid for gw\.test/);
  assert.ok(check('eku-ike', '@eku-ike.test', 'eku-ike.test').ok);
});
