import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIdentity, parseIdentity } from '../../src/ike/identity.js';
import { buildConfigRequest, parseConfigReply } from '../../src/ike/config-payload.js';
import { CfgAttr, CfgType, IdType, PayloadType } from '../../src/ike/constants.js';
import { VpnError } from '../../src/core/errors.js';

test('identities follow strongSwan conventions', () => {
  const cases: [string, number, string][] = [
    ['192.0.2.2', IdType.IPV4_ADDR, '192.0.2.2'],
    ['2001:db8::1', IdType.IPV6_ADDR, '2001:db8::1'],
    ['@gw.example.com', IdType.FQDN, 'gw.example.com'],
    ['gw.example.com', IdType.FQDN, 'gw.example.com'],
    ['me@example.com', IdType.RFC822_ADDR, 'me@example.com'],
    ['@#0a0b', IdType.KEY_ID, '@#0a0b'],
  ];
  for (const [text, type, back] of cases) {
    const id = parseIdentity(text);
    assert.equal(id.type, type, text);
    assert.equal(formatIdentity(id), back);
  }
  assert.throws(() => parseIdentity(''), VpnError);
  assert.throws(() => parseIdentity('@#xyz'), VpnError);
  assert.throws(() => parseIdentity('999.1.1.1'), VpnError);
});

test('CFG_REQUEST asks for address, DNS and domain', () => {
  const cp = buildConfigRequest({ ip4: true, ip6: true, dns: true });
  assert.equal(cp.cfgType, CfgType.REQUEST);
  assert.deepEqual(
    cp.attributes.map((a) => a.type),
    [
      CfgAttr.INTERNAL_IP4_ADDRESS,
      CfgAttr.INTERNAL_IP4_DNS,
      CfgAttr.INTERNAL_IP6_ADDRESS,
      CfgAttr.INTERNAL_IP6_DNS,
      CfgAttr.INTERNAL_DNS_DOMAIN,
    ],
  );
  assert.ok(cp.attributes.every((a) => a.value.length === 0));
  assert.deepEqual(
    buildConfigRequest({ ip4: true, ip6: false, dns: false }).attributes.map((a) => a.type),
    [CfgAttr.INTERNAL_IP4_ADDRESS],
  );
});

test('CFG_REPLY parsing keeps good values and skips malformed ones', () => {
  const b = (...x: number[]) => Uint8Array.from(x);
  const reply = parseConfigReply({
    type: PayloadType.CP,
    critical: false,
    cfgType: CfgType.REPLY,
    attributes: [
      { type: CfgAttr.INTERNAL_IP4_ADDRESS, value: b(203, 0, 113, 130) },
      { type: CfgAttr.INTERNAL_IP4_DNS, value: b(203, 0, 113, 53) },
      { type: CfgAttr.INTERNAL_IP4_DNS, value: b(1, 2, 3) },
      {
        type: CfgAttr.INTERNAL_IP6_ADDRESS,
        value: Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 5, 64]),
      },
      { type: CfgAttr.INTERNAL_DNS_DOMAIN, value: new TextEncoder().encode('corp.example') },
      { type: CfgAttr.INTERNAL_DNS_DOMAIN, value: new TextEncoder().encode('bad domain;rm') },
      { type: CfgAttr.INTERNAL_IP4_SUBNET, value: b(203, 0, 113, 0, 255, 255, 255, 128) },
      { type: 28000, value: b(1) },
    ],
  });
  assert.equal(reply.ip4, '203.0.113.130');
  assert.deepEqual(reply.dns4, ['203.0.113.53']);
  assert.deepEqual(reply.ip6, { address: '2001:db8::5', prefix: 64 });
  assert.deepEqual(reply.domains, ['corp.example']);
  assert.deepEqual(reply.subnets, ['203.0.113.0/25']);
  assert.deepEqual(reply.unknown, [CfgAttr.INTERNAL_DNS_DOMAIN, 28000]);
});
