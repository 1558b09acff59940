/**
 * The strongSwan .sswan mapping of `vpn import` (pure): every profile type, the embedded CA and
 * PKCS#12, keys without an equivalent listed by path, values the profile would refuse listed
 * with the parser's reason, and a rendered profile that reads back exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { isVpnError } from '../../src/core/errors.js';
import { fromSswan, profileNameFrom, renderProfile } from '../../src/config/import.js';
import { parseProfile } from '../../src/config/profile.js';

const CRED = fileURLToPath(new URL('../../../test/config/fixtures/credentials/', import.meta.url));
const CERT_PEM = readFileSync(`${CRED}rsa.crt`, 'utf8');
const CERT_DER = readFileSync(`${CRED}rsa.crt.der`);
const P12 = readFileSync(`${CRED}rsa-aes.p12`);

function sswan(o: Record<string, unknown>): string {
  return JSON.stringify({ uuid: 'u', name: 'Office', remote: { addr: 'vpn.example.com' }, ...o });
}

test('ikev2-eap: gateway, identities, CA, proposals, split tunneling, MTU, keepalive', () => {
  const imp = fromSswan(
    sswan({
      type: 'ikev2-eap',
      remote: {
        addr: 'vpn.example.com',
        port: 4500,
        id: 'gw.example.com',
        cert: CERT_DER.toString('base64'),
        certreq: true,
        revocation: { crl: false, ocsp: false },
      },
      local: { eap_id: 'alice', id: 'alice@example.com' },
      'ike-proposal': 'aes256gcm16-prfsha256-x25519',
      'esp-proposal': 'aes256gcm16,chacha20poly1305',
      'split-tunneling': { subnets: '10.0.0.0/8 192.168.1.0/24', 'block-ipv6': false },
      mtu: 1400,
      'nat-keepalive': 45,
    }),
  );
  assert.equal(imp.format, 'sswan');
  assert.equal(imp.title, 'Office');
  assert.deepEqual(imp.settings, [
    { key: 'gateway', value: 'vpn.example.com' },
    { key: 'port', value: '4500' },
    { key: 'remote-id', value: 'gw.example.com' },
    { key: 'eap', value: 'mschapv2,md5,gtc' },
    { key: 'eap-identity', value: 'alice' },
    { key: 'id', value: 'alice@example.com' },
    { key: 'ike', value: 'aes256gcm16-prfsha256-x25519' },
    { key: 'esp', value: 'aes256gcm16,chacha20poly1305' },
    { key: 'remote-net', value: ['10.0.0.0/8', '192.168.1.0/24'] },
    { key: 'mtu', value: '1400' },
    { key: 'keepalive', value: '45' },
  ]);
  assert.deepEqual(imp.unmapped, []);
  assert.equal(imp.files.length, 1);
  assert.equal(imp.files[0]!.key, 'ca');
  // The DER became PEM, the same certificate.
  const pem = Buffer.from(imp.files[0]!.data).toString();
  assert.ok(new X509Certificate(pem).raw.equals(CERT_DER));
  assert.ok(imp.notes.some((n) => /EAP password is not in a \.sswan file/.test(n)));
  assert.ok(imp.notes.some((n) => /is not a CA certificate/.test(n)));
});

test('ikev2-cert, ikev2-eap-tls: the PKCS#12 file as it was; a PEM remote.cert', () => {
  const cert = fromSswan(
    sswan({
      type: 'ikev2-cert',
      remote: { addr: '192.0.2.1', cert: Buffer.from(CERT_PEM).toString('base64') },
      local: { p12: P12.toString('base64'), id: 'me@example.com' },
    }),
  );
  assert.deepEqual(
    cert.settings.map((s) => s.key),
    ['gateway', 'id'],
  );
  const p12 = cert.files.find((f) => f.key === 'p12')!;
  assert.ok(Buffer.from(p12.data).equals(P12));
  assert.equal(p12.suffix, '.p12');
  assert.ok(cert.notes.some((n) => /PKCS#12 password is not in a \.sswan file/.test(n)));

  const tls = fromSswan(
    sswan({ type: 'ikev2-eap-tls', local: { p12: P12.toString('base64'), id: 'carol@test' } }),
  );
  assert.deepEqual(tls.settings.slice(1), [
    { key: 'eap', value: 'tls' },
    { key: 'eap-identity', value: 'carol@test' },
  ]);
  assert.equal(tls.files[0]!.key, 'p12');
});

test('ikev2-cert-eap and ikev2-byod-eap: imported as EAP, what is left out is listed', () => {
  const ce = fromSswan(
    sswan({ type: 'ikev2-cert-eap', local: { p12: P12.toString('base64'), eap_id: 'bob' } }),
  );
  assert.equal(ce.files.length, 0);
  assert.deepEqual(
    ce.unmapped.map((u) => u.path),
    ['local.p12'],
  );
  assert.match(ce.unmapped[0]!.reason, /RFC 4739/);
  const byod = fromSswan(sswan({ type: 'ikev2-byod-eap', local: { eap_id: 'bob' } }));
  assert.match(byod.unmapped.find((u) => u.path === 'type')!.reason, /BYOD/);
  assert.equal(byod.settings.find((s) => s.key === 'eap')!.value, 'mschapv2,md5,gtc');
});

test('keys without an equivalent and values the profile would refuse are listed by key path', () => {
  const imp = fromSswan(
    sswan({
      type: 'ikev2-eap',
      remote: {
        addr: 'vpn.example.com',
        port: 'abc',
        certreq: false,
        revocation: { crl: true, strict: true },
      },
      local: { eap_id: 'alice', 'rsa-pss': true },
      'ike-proposal': 'aes256-sha999-modp2048',
      'split-tunneling': {
        subnets: '10.0.0.0/8 10.1.0.0/33',
        excluded: '10.2.0.0/16',
        'block-ipv4': true,
      },
      'dns-servers': '10.0.0.53',
      mtu: 100,
      proxy: { host: 'proxy', port: 8080 },
      apps: ['org.example'],
      future: { key: 1 },
    }),
  );
  const byPath = Object.fromEntries(imp.unmapped.map((u) => [u.path, u.reason]));
  assert.deepEqual(Object.keys(byPath).sort(), [
    'apps',
    'dns-servers',
    'future.key',
    'ike-proposal',
    'local.rsa-pss',
    'mtu',
    'proxy',
    'remote.certreq',
    'remote.port',
    'remote.revocation.crl',
    'remote.revocation.strict',
    'split-tunneling.block-ipv4',
    'split-tunneling.excluded',
    'split-tunneling.subnets',
  ]);
  assert.equal(byPath['remote.port'], 'expected an integer, found string');
  assert.match(
    byPath['ike-proposal']!,
    /^ike = 'aes256-sha999-modp2048' is invalid; unknown algorithm "sha999"/,
  );
  assert.match(byPath['mtu']!, /^mtu = '100' is invalid; write an integer from 576 to 9000$/);
  assert.match(byPath['split-tunneling.subnets']!, /bad prefix length in "10\.1\.0\.0\/33"/);
  assert.equal(byPath['future.key'], 'not a .sswan key vpn knows');
  // What could be mapped still is: the good subnet, no bad ones.
  assert.deepEqual(imp.settings.find((s) => s.key === 'remote-net')!.value, ['10.0.0.0/8']);
  assert.equal(
    imp.settings.find((s) => s.key === 'ike'),
    undefined,
  );
});

test('malformed files are refused with the reason', () => {
  const cases: [string, RegExp][] = [
    ['{', /^not a \.sswan profile: invalid JSON/],
    ['[1]', /not a JSON object/],
    [
      sswan({ type: 'ikev1-psk' }),
      /^\.sswan type 'ikev1-psk' is not supported; it must be one of ikev2-eap, /,
    ],
    [JSON.stringify({ type: 'ikev2-eap' }), /remote\.addr \(the gateway\) is missing or invalid/],
    [
      sswan({ type: 'ikev2-eap', remote: { addr: 'a b' } }),
      /remote\.addr .* is missing or invalid/,
    ],
    [
      sswan({ type: 'ikev2-eap', remote: { addr: 'gw', cert: 'bm90IGEgY2VydA==' } }),
      /^\.sswan remote\.cert is not a certificate \(PEM or DER\)$/,
    ],
    [sswan({ type: 'ikev2-cert', local: { p12: '!!!' } }), /local\.p12 is not valid base64/],
    [sswan({ type: 'ikev2-cert', local: { p12: 'AAAA' } }), /local\.p12 is not a PKCS#12 file/],
  ];
  for (const [text, re] of cases)
    assert.throws(
      () => fromSswan(text),
      (e: Error & { code?: string }) => {
        assert.match(e.message, re, text.slice(0, 80));
        assert.equal(e.code, 'ERR_CONFIG');
        return true;
      },
    );
});

test('hostile values: the rendered profile reads back exactly, comments escaped, one key a line', () => {
  const imp = fromSswan(
    sswan({
      type: 'ikev2-eap',
      name: 'evil\u001b]0;pwned\u0007',
      remote: { addr: 'vpn.example.com', id: 'gw\nremote-id = @attacker' },
      local: { eap_id: ' alice "the admin" # not a comment \u202e ü' },
      ['x\u001b[2Jy']: 1,
    }),
  );
  // A newline is not an identity the profile accepts: listed, not written.
  assert.ok(imp.unmapped.some((u) => u.path === 'remote.id'));
  const text = renderProfile(imp, '/tmp/in.sswan', {}, 'not signed');
  assert.ok(!/[\u0000-\u0009\u000b-\u001f]/.test(text), 'no control characters');
  assert.match(text, /# {3}x\\x1b\[2Jy: not a \.sswan key vpn knows/);
  const p = parseProfile('x', '/etc/ikev2-vpn/x.conf', text);
  assert.ok(!/[\u007f-\uffff]/.test(text), 'no raw non-ASCII (bidi overrides)');
  assert.equal(p.values['eap-identity'], ' alice "the admin" # not a comment \u202e ü');
  assert.equal(p.values['remote-id'], undefined);
  assert.equal(p.values['gateway'], 'vpn.example.com');
});

test('profile names from file names', () => {
  assert.equal(profileNameFrom('office.sswan'), 'office');
  assert.equal(profileNameFrom('My VPN (work).mobileconfig'), 'My-VPN-work');
  assert.equal(profileNameFrom('...'), 'imported');
  assert.equal(profileNameFrom('x'.repeat(50)).length, 32);
});

test('any JSON shape under the known keys maps or is refused with a VpnError, never a crash', () => {
  const value = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom('ikev2-eap', 'ikev2-cert', 'ikev2-eap-tls', '10.0.0.0/8 ::/0', 'AAAA', ''),
  );
  const sections = fc.record(
    {
      type: fc.oneof(
        value,
        fc.constantFrom('ikev2-eap', 'ikev2-cert', 'ikev2-cert-eap', 'ikev2-eap-tls'),
      ),
      remote: fc.oneof(
        value,
        fc.record(
          { addr: fc.oneof(value, fc.constant('gw')), port: value, id: value, cert: value },
          { requiredKeys: [] },
        ),
      ),
      local: fc.oneof(
        value,
        fc.record({ id: value, eap_id: value, p12: value, 'rsa-pss': value }, { requiredKeys: [] }),
      ),
      'split-tunneling': fc.oneof(
        value,
        fc.record({ subnets: value, excluded: value, 'block-ipv4': value }, { requiredKeys: [] }),
      ),
      'ike-proposal': value,
      mtu: value,
      'nat-keepalive': value,
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(sections, (doc) => {
      try {
        const imp = fromSswan(JSON.stringify(doc));
        // Whatever was kept reads back through the profile parser.
        parseProfile('x', '/p/x.conf', renderProfile(imp, 'in', {}, 'not signed'));
      } catch (e) {
        if (!isVpnError(e)) throw e;
      }
    }),
    { numRuns: 2000, seed: 14 },
  );
});
