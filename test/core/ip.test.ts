import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compareAddr,
  formatIpAddress,
  parseIpAddress,
  peekPacket,
  prefixToRange,
} from '../../src/core/ip.js';
import { VpnError } from '../../src/core/errors.js';
import { toHex } from '../../src/core/bytes.js';

test('addresses parse and format canonically (RFC 5952)', () => {
  for (const [inp, out] of [
    ['192.0.2.1', '192.0.2.1'],
    ['2001:db8::1', '2001:db8::1'],
    ['2001:0db8:0:0:0:0:0:1', '2001:db8::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['::ffff:192.0.2.1', '::ffff:c000:201'],
    ['fe80::', 'fe80::'],
  ]) {
    assert.equal(formatIpAddress(parseIpAddress(inp!)), out, inp);
  }
  for (const bad of [
    '',
    '1.2.3',
    '256.1.1.1',
    '01.2.3.4',
    '1::2::3',
    'g::1',
    '1:2:3:4:5:6:7:8:9',
    'host.example',
  ]) {
    assert.throws(() => parseIpAddress(bad), VpnError, bad);
  }
});

test('prefix ranges and comparison', () => {
  const r = prefixToRange(parseIpAddress('203.0.113.77'), 25);
  assert.equal(formatIpAddress(r.start), '203.0.113.0');
  assert.equal(formatIpAddress(r.end), '203.0.113.127');
  assert.ok(compareAddr(r.start, r.end) < 0);
  const v6 = prefixToRange(parseIpAddress('2001:db8::5'), 64);
  assert.equal(formatIpAddress(v6.end), '2001:db8::ffff:ffff:ffff:ffff');
});

test('peekPacket: IPv4 UDP, IPv6 with a destination-options header, fragments, junk', () => {
  const v4 = new Uint8Array(28);
  v4.set([0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17]);
  v4.set(parseIpAddress('192.0.2.2'), 12);
  v4.set(parseIpAddress('198.51.100.1'), 16);
  v4.set([0x13, 0x88, 0x00, 0x35], 20);
  const p = peekPacket(v4)!;
  assert.equal(p.version, 4);
  assert.equal(p.protocol, 17);
  assert.equal(p.srcPort, 5000);
  assert.equal(p.dstPort, 53);
  v4[6] = 0x00;
  v4[7] = 0x10; // non-first fragment: no ports
  assert.equal(peekPacket(v4)!.srcPort, 0);
  const v6 = new Uint8Array(40 + 8 + 4);
  v6[0] = 0x60;
  v6[6] = 60; // destination options
  v6.set(parseIpAddress('2001:db8::1'), 8);
  v6.set(parseIpAddress('2001:db8::2'), 24);
  v6[40] = 6; // next: TCP
  v6[41] = 0; // 8 bytes
  v6.set([0, 80, 1, 187], 48);
  const q = peekPacket(v6)!;
  assert.equal(q.protocol, 6);
  assert.equal(q.dstPort, 443);
  assert.equal(toHex(q.dst), toHex(parseIpAddress('2001:db8::2')));
  assert.equal(peekPacket(new Uint8Array([0x45, 0])), null);
  assert.equal(peekPacket(new Uint8Array([0x70])), null);
});

test('checkExcluded: canonical networks, bare addresses as host routes, bad ones refused', async () => {
  const { checkExcluded, MAX_EXCLUDED } = await import('../../src/core/ip.js');
  assert.deepEqual(
    checkExcluded(['203.0.113.77/24', '192.0.2.9', '2001:db8::1/64', '2001:db8::5']),
    ['203.0.113.0/24', '192.0.2.9/32', '2001:db8::/64', '2001:db8::5/128'],
  );
  for (const bad of [
    '0.0.0.0/0',
    '::/0',
    '10.0.0.0/33',
    '10.0.0.0/',
    '10.0.0.0/8/8',
    'gw',
    '1.2.3.4/x',
    '-a',
  ]) {
    assert.throws(() => checkExcluded([bad]), /not a network|prefix length/, bad);
  }
  assert.throws(
    () => checkExcluded(Array.from({ length: MAX_EXCLUDED + 1 }, (_, i) => `10.0.${i}.0/24`)),
    /at most/,
  );
});
