import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rangeToCidrs, cidrContainsBytes } from '../../src/client/routes.js';
import { parseIpAddress } from '../../src/core/ip.js';

const r = (a: string, b: string) => rangeToCidrs(parseIpAddress(a), parseIpAddress(b));

test('ranges that are prefixes become one CIDR', () => {
  assert.deepEqual(r('0.0.0.0', '255.255.255.255'), ['0.0.0.0/0']);
  assert.deepEqual(r('203.0.113.0', '203.0.113.127'), ['203.0.113.0/25']);
  assert.deepEqual(r('203.0.113.5', '203.0.113.5'), ['203.0.113.5/32']);
  assert.deepEqual(r('::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), ['::/0']);
});

test('arbitrary ranges get the minimal prefix cover', () => {
  assert.deepEqual(r('192.0.2.1', '192.0.2.6'), [
    '192.0.2.1/32',
    '192.0.2.2/31',
    '192.0.2.4/31',
    '192.0.2.6/32',
  ]);
  assert.deepEqual(r('198.51.100.0', '198.51.100.2'), ['198.51.100.0/31', '198.51.100.2/32']);
  assert.deepEqual(r('192.0.2.9', '192.0.2.8'), []);
});

test('cidrContainsBytes', () => {
  const net = parseIpAddress('203.0.113.0');
  assert.ok(cidrContainsBytes(net, 25, parseIpAddress('203.0.113.127')));
  assert.ok(!cidrContainsBytes(net, 25, parseIpAddress('203.0.113.128')));
  assert.ok(cidrContainsBytes(parseIpAddress('0.0.0.0'), 1, parseIpAddress('127.255.0.1')));
  assert.ok(!cidrContainsBytes(net, 24, parseIpAddress('2001:db8::1')));
});
