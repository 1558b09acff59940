/** Bounds on what one message can make us hold (src/ike/limits.ts, issue 11 finding 6). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LIMITS, capConfigReply, capSelectors } from '../../src/ike/limits.js';
import { formatTs, narrowTo, tsFromCidr } from '../../src/ike/sa/traffic-selectors.js';

test('capConfigReply keeps 8 DNS servers per family, 16 domains, 32 subnets, and says what it dropped', () => {
  const n = (k: number, f: (i: number) => string): string[] =>
    Array.from({ length: k }, (_, i) => f(i));
  const { config, warnings } = capConfigReply({
    ip4: '203.0.113.130',
    dns4: n(4999, (i) => `10.0.${i >> 8}.${i & 255}`),
    dns6: n(9, (i) => `2001:db8::${i + 1}`),
    domains: n(17, (i) => `d${i}.example`),
    subnets: n(40, (i) => `10.${i}.0.0/16`),
    unknown: n(5000, () => '').map(() => 0x7f00),
  });
  assert.equal(config.ip4, '203.0.113.130');
  assert.deepEqual(config.dns4, [
    '10.0.0.0',
    '10.0.0.1',
    '10.0.0.2',
    '10.0.0.3',
    '10.0.0.4',
    '10.0.0.5',
    '10.0.0.6',
    '10.0.0.7',
  ]);
  assert.equal(config.dns6.length, LIMITS.dnsPerFamily);
  assert.equal(config.domains.length, LIMITS.domains);
  assert.equal(config.subnets.length, LIMITS.subnets);
  assert.ok(config.unknown.length <= 16);
  assert.deepEqual(warnings, [
    'ignored 4991 IPv4 DNS servers beyond the first 8',
    'ignored 1 IPv6 DNS servers beyond the first 8',
    'ignored 1 DNS domains beyond the first 16',
    'ignored 8 subnets beyond the first 32',
  ]);
  const small = capConfigReply({
    dns4: ['10.0.0.1'],
    dns6: [],
    domains: [],
    subnets: [],
    unknown: [],
  });
  assert.deepEqual(small.warnings, []);
});

test('capSelectors keeps 32 per side with a warning', () => {
  const many = Array.from({ length: 33 }, (_, i) => tsFromCidr(`10.0.0.${i}/32`));
  const r = capSelectors(many, 'TSr');
  assert.equal(r.selectors.length, 32);
  assert.equal(r.warning, 'ignored 1 TSr traffic selectors beyond the first 32');
  assert.equal(capSelectors(many.slice(0, 32), 'TSr').warning, undefined);
});

test('narrowTo intersects offered selectors with the allowed ones (RFC 7296 §2.9: only narrow)', () => {
  const allowed = [tsFromCidr('203.0.113.0/25'), tsFromCidr('198.51.100.0/24', 6, 443, 443)];
  const out = narrowTo(allowed, [tsFromCidr('0.0.0.0/0')]).map(formatTs);
  assert.deepEqual(out, ['203.0.113.0/25', '198.51.100.0/24[6/443-443]']);
  // Disjoint, other family, other protocol: nothing.
  assert.deepEqual(narrowTo(allowed, [tsFromCidr('192.0.2.0/24')]), []);
  assert.deepEqual(narrowTo(allowed, [tsFromCidr('::/0')]), []);
  assert.deepEqual(narrowTo([tsFromCidr('10.0.0.0/8', 17)], [tsFromCidr('10.0.0.0/8', 6)]), []);
  // A narrower offer stays as it is.
  assert.deepEqual(narrowTo(allowed, [tsFromCidr('203.0.113.7/32')]).map(formatTs), [
    '203.0.113.7/32',
  ]);
});
