/**
 * The Apple .mobileconfig mapping of `vpn import` (pure): plists written by the `plist` package
 * with certificate, EAP and PSK authentication, the SA parameter dictionaries as proposals, the
 * PKCS#12 and CA payloads as files, everything else listed by key path; malformed files refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { isVpnError } from '../../src/core/errors.js';
import { build } from 'plist';
import type { PlistValue } from 'plist';
import { fromMobileconfig, parseMobileconfigXml } from '../../src/config/import-mobileconfig.js';
import { renderProfile } from '../../src/config/import.js';
import { parseProfile } from '../../src/config/profile.js';

const CRED = fileURLToPath(new URL('../../../test/config/fixtures/credentials/', import.meta.url));
const CERT_DER = readFileSync(`${CRED}rsa.crt.der`);
const EC_PEM = readFileSync(`${CRED}ec256.crt`, 'utf8');
const P12 = readFileSync(`${CRED}rsa-aes.p12`);
const P12_UUID = '11111111-2222-3333-4444-555555555555';

function config(ikev2: Record<string, PlistValue>, extra: PlistValue[] = []): string {
  return build({
    PayloadType: 'Configuration',
    PayloadVersion: 1,
    PayloadIdentifier: 'com.example.vpn',
    PayloadUUID: 'A',
    PayloadDisplayName: 'Example VPN',
    PayloadContent: [
      {
        PayloadType: 'com.apple.vpn.managed',
        PayloadVersion: 1,
        PayloadIdentifier: 'com.example.vpn.ikev2',
        PayloadUUID: 'B',
        UserDefinedName: 'Office',
        VPNType: 'IKEv2',
        IKEv2: { RemoteAddress: 'vpn.example.com', RemoteIdentifier: 'vpn.example.com', ...ikev2 },
      },
      ...extra,
    ],
  });
}

const p12Payload = (password?: string): PlistValue => ({
  PayloadType: 'com.apple.security.pkcs12',
  PayloadVersion: 1,
  PayloadUUID: P12_UUID,
  PayloadIdentifier: 'com.example.vpn.cert',
  PayloadContent: P12,
  ...(password !== undefined ? { Password: password } : {}),
});
const rootPayload: PlistValue = {
  PayloadType: 'com.apple.security.root',
  PayloadVersion: 1,
  PayloadUUID: 'C',
  PayloadIdentifier: 'com.example.vpn.ca',
  PayloadContent: CERT_DER,
};

const map = (xml: string): ReturnType<typeof fromMobileconfig> =>
  fromMobileconfig(parseMobileconfigXml(xml));
const settings = (imp: ReturnType<typeof fromMobileconfig>): Record<string, string | string[]> =>
  Object.fromEntries(imp.settings.map((s) => [s.key, s.value]));

test('certificate authentication: PKCS#12 payload by UUID (+ Password), root payload, parameters', () => {
  const imp = map(
    config(
      {
        LocalIdentifier: 'alice@example.com',
        AuthenticationMethod: 'Certificate',
        CertificateType: 'RSA',
        ExtendedAuthEnabled: false,
        PayloadCertificateUUID: P12_UUID,
        IKESecurityAssociationParameters: {
          EncryptionAlgorithm: 'AES-256-GCM',
          IntegrityAlgorithm: 'SHA2-384',
          DiffieHellmanGroup: 20,
          LifeTimeInMinutes: 1440,
        },
        ChildSecurityAssociationParameters: {
          EncryptionAlgorithm: 'AES-256',
          IntegrityAlgorithm: 'SHA2-256',
          DiffieHellmanGroup: 31,
          LifeTimeInMinutes: 60,
        },
        EnablePFS: 1,
        DeadPeerDetectionRate: 'Medium',
        DisableMOBIKE: 0,
        NATKeepAliveInterval: 30,
        MTU: 1380,
        IncludeAllNetworks: 1,
        OnDemandEnabled: 0,
      },
      [p12Payload('p12 pass'), rootPayload],
    ),
  );
  assert.equal(imp.format, 'mobileconfig');
  assert.equal(imp.title, 'Office');
  assert.deepEqual(settings(imp), {
    gateway: 'vpn.example.com',
    'remote-id': 'vpn.example.com',
    'p12-password': 'p12 pass',
    id: 'alice@example.com',
    // RFC 5282: an AEAD cipher has no integrity algorithm; SHA2-384 is then the PRF.
    ike: 'aes256gcm16-prfsha384-ecp384',
    'ike-rekey': '86400',
    // EnablePFS: the child SA's group is proposed on every rekey.
    esp: 'aes256-sha256-x25519',
    rekey: '3600',
    dpd: '600',
    keepalive: '30',
    mtu: '1380',
    'kill-switch': 'true',
  });
  assert.deepEqual(imp.unmapped, []);
  assert.deepEqual(
    imp.files.map((f) => [f.key, f.suffix]),
    [
      ['p12', '.p12'],
      ['ca', '-ca.pem'],
    ],
  );
  assert.ok(Buffer.from(imp.files[0]!.data).equals(P12));
  assert.match(Buffer.from(imp.files[1]!.data).toString(), /^-----BEGIN CERTIFICATE-----/);
});

test('EAP with a password (AuthName/AuthPassword), PSK, and EAP-TLS with a certificate', () => {
  const eap = map(
    config({
      AuthenticationMethod: 'None',
      ExtendedAuthEnabled: 1,
      AuthName: 'carol',
      AuthPassword: 'pw',
      LocalIdentifier: 'carol@example.com',
    }),
  );
  assert.deepEqual(settings(eap), {
    gateway: 'vpn.example.com',
    'remote-id': 'vpn.example.com',
    eap: 'mschapv2,md5,gtc',
    'eap-password': 'pw',
    'eap-identity': 'carol',
    id: 'carol@example.com',
  });
  assert.ok(eap.notes.some((n) => /no CA certificate payload/.test(n)));

  const psk = map(
    config({
      AuthenticationMethod: 'SharedSecret',
      SharedSecret: 'hunter2',
      LocalIdentifier: 'me',
    }),
  );
  assert.equal(settings(psk)['psk'], 'hunter2');
  assert.equal(settings(psk)['id'], 'me');

  const tls = map(
    config(
      {
        AuthenticationMethod: 'Certificate',
        ExtendedAuthEnabled: true,
        LocalIdentifier: 'dave@example.com',
        PayloadCertificateUUID: P12_UUID,
      },
      [p12Payload()],
    ),
  );
  assert.equal(settings(tls)['eap'], 'tls');
  assert.equal(settings(tls)['eap-identity'], 'dave@example.com');
  assert.ok(tls.notes.some((n) => /PKCS#12 password is not in the file/.test(n)));
});

test('what cannot be mapped is listed by key path: algorithms, Apple-only keys, other payloads', () => {
  const imp = map(
    config(
      {
        AuthenticationMethod: 'SharedSecret',
        SharedSecret: 'k',
        IKESecurityAssociationParameters: {
          EncryptionAlgorithm: '3DES',
          IntegrityAlgorithm: 'SHA1-96',
          DiffieHellmanGroup: 2,
        },
        ChildSecurityAssociationParameters: { DiffieHellmanGroup: 2 },
        EnablePFS: true,
        DeadPeerDetectionRate: 'Sometimes',
        DisableMOBIKE: 1,
        OnDemandEnabled: 1,
        OnDemandRules: [{ Action: 'Connect' }],
        TLSMinimumVersion: '1.2',
        MTU: 100,
      },
      [
        rootPayload,
        { PayloadType: 'com.apple.wifi.managed', PayloadUUID: 'W', SSID_STR: 'office' },
      ],
    ),
  );
  const byPath = Object.fromEntries(imp.unmapped.map((u) => [u.path, u.reason]));
  assert.deepEqual(Object.keys(byPath).sort(), [
    'PayloadContent[0].IKEv2.ChildSecurityAssociationParameters.DiffieHellmanGroup',
    'PayloadContent[0].IKEv2.DeadPeerDetectionRate',
    'PayloadContent[0].IKEv2.DisableMOBIKE',
    'PayloadContent[0].IKEv2.IKESecurityAssociationParameters.EncryptionAlgorithm',
    'PayloadContent[0].IKEv2.MTU',
    'PayloadContent[0].IKEv2.OnDemandEnabled',
    'PayloadContent[0].IKEv2.OnDemandRules',
    'PayloadContent[0].IKEv2.TLSMinimumVersion',
    'PayloadContent[2]',
  ]);
  assert.match(
    byPath['PayloadContent[0].IKEv2.IKESecurityAssociationParameters.EncryptionAlgorithm']!,
    /^3DES is not supported/,
  );
  assert.match(byPath['PayloadContent[2]']!, /payload type com\.apple\.wifi\.managed/);
  assert.match(byPath['PayloadContent[0].IKEv2.MTU']!, /write an integer from 576 to 9000/);
  assert.equal(settings(imp)['ike'], undefined, 'left to the defaults');
  assert.equal(settings(imp)['esp'], undefined);
  // The profile lists them too, and reads back.
  const text = renderProfile(imp, 'x.mobileconfig', { ca: 'x-ca.pem' }, 'not signed');
  assert.match(text, /^# {3}PayloadContent\[0\]\.IKEv2\.OnDemandRules: /m);
  const p = parseProfile('x', '/etc/ikev2-vpn/x.conf', text);
  assert.equal(p.values['psk'], 'k');
  assert.equal(p.values['ca'], '/etc/ikev2-vpn/x-ca.pem');
});

test('a per-app VPN payload (applayer) is imported for its IKEv2 settings, the per-app part listed', () => {
  const xml = config({ AuthenticationMethod: 'SharedSecret', SharedSecret: 'k' }).replace(
    '<string>com.apple.vpn.managed</string>',
    '<string>com.apple.vpn.managed.applayer</string>',
  );
  const imp = map(xml);
  assert.equal(settings(imp)['psk'], 'k');
  assert.match(
    imp.unmapped.find((u) => u.path === 'PayloadContent[0].PayloadType')!.reason,
    /per-app VPN/,
  );
});

test('a PEM CA payload (com.apple.security.pem) and a non-CA root are noted', () => {
  const imp = map(
    config({ AuthenticationMethod: 'SharedSecret', SharedSecret: 'k' }, [
      { PayloadType: 'com.apple.security.pem', PayloadUUID: 'P', PayloadContent: EC_PEM },
    ]),
  );
  assert.equal(imp.files[0]!.key, 'ca');
  assert.ok(imp.notes.some((n) => /PayloadContent\[1\] .* is not a CA certificate/.test(n)));
});

test('malformed or unusable profiles are refused with the reason', () => {
  const cases: [string, RegExp][] = [
    ['<plist><dict><key>a</key>', /^not a \.mobileconfig: the plist does not parse/],
    [
      '<?xml version="1.0"?><!DOCTYPE plist [<!ENTITY a "aaaa">]><plist><string>&a;</string></plist>',
      /declares entities/,
    ],
    [build(['x']), /the plist is not a dictionary/],
    [build({ PayloadType: 'Configuration' }), /no PayloadContent array/],
    [
      build({ PayloadContent: [{ PayloadType: 'com.apple.vpn.managed', VPNType: 'L2TP' }] }),
      /no IKEv2 VPN payload/,
    ],
    [
      build({
        PayloadContent: [
          { PayloadType: 'com.apple.vpn.managed', EncryptedPayloadContent: Buffer.from('x') },
        ],
      }),
      /encrypted to a device \(EncryptedPayloadContent\)/,
    ],
    [config({ RemoteAddress: 'bad host' }), /RemoteAddress \(the gateway\) is missing or invalid/],
    [
      config({ AuthenticationMethod: 'Certificate', PayloadCertificateUUID: 'nope' }),
      /PayloadCertificateUUID naming a com\.apple\.security\.pkcs12 payload \(no payload has that UUID\)/,
    ],
    [config({ AuthenticationMethod: 'None' }), /'None' without ExtendedAuthEnabled/],
    [config({ AuthenticationMethod: 'SharedSecret' }), /needs IKEv2\.SharedSecret/],
  ];
  for (const [xml, re] of cases)
    assert.throws(
      () => map(xml),
      (e: Error & { code?: string }) => {
        assert.match(e.message, re, xml.slice(0, 100));
        assert.equal(e.code, 'ERR_CONFIG');
        return true;
      },
    );
});

test('any plist shape under the known keys maps or is refused with a VpnError, never a crash', () => {
  const leaf = fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.integer({ min: -5, max: 100000 }),
    fc.boolean(),
    fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
    fc.constantFrom('Certificate', 'SharedSecret', 'None', 'AES-256-GCM', 'High', P12_UUID),
  );
  const value: fc.Arbitrary<PlistValue> = fc.oneof(
    leaf,
    fc.array(leaf, { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('EncryptionAlgorithm', 'DiffieHellmanGroup', 'x'), leaf),
  );
  const ikev2 = fc.record(
    {
      RemoteAddress: fc.oneof(value, fc.constant('gw')),
      AuthenticationMethod: value,
      ExtendedAuthEnabled: value,
      SharedSecret: value,
      AuthName: value,
      PayloadCertificateUUID: value,
      IKESecurityAssociationParameters: value,
      ChildSecurityAssociationParameters: value,
      EnablePFS: value,
      DeadPeerDetectionRate: value,
      MTU: value,
      IncludeAllNetworks: value,
    },
    { requiredKeys: [] },
  );
  const extra = fc.array(
    fc.oneof(
      value,
      fc.constant(p12Payload()),
      fc.constant(rootPayload),
      fc.record({ PayloadType: value, PayloadUUID: value, PayloadContent: value }),
    ),
    { maxLength: 2 },
  );
  fc.assert(
    fc.property(ikev2, extra, (ike, more) => {
      try {
        const imp = map(config(ike, more));
        parseProfile('x', '/p/x.conf', renderProfile(imp, 'in', {}, 'not signed'));
      } catch (e) {
        if (!isVpnError(e)) throw e;
      }
    }),
    { numRuns: 1000, seed: 14 },
  );
});

test('SA parameters that are not a dictionary are listed, not replaced by defaults', () => {
  const imp = map(
    config({
      AuthenticationMethod: 'SharedSecret',
      SharedSecret: 'k',
      IKESecurityAssociationParameters: 'AES-256-GCM',
      ChildSecurityAssociationParameters: [1],
    }),
  );
  assert.equal(settings(imp)['ike'], undefined);
  assert.equal(settings(imp)['esp'], undefined);
  assert.deepEqual(
    imp.unmapped.map((u) => u.path),
    [
      'PayloadContent[0].IKEv2.IKESecurityAssociationParameters',
      'PayloadContent[0].IKEv2.ChildSecurityAssociationParameters',
    ],
  );
});
