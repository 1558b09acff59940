import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_TUNNEL_ROUTES,
  cidrContainsBytes,
  planTunnelRoutes,
  rangeToCidrs,
} from '../../src/client/routes.js';
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

const sel = (start: string, end: string, ipProtocol = 0, startPort = 0, endPort = 65535) => ({
  ipProtocol,
  startPort,
  endPort,
  startAddr: parseIpAddress(start),
  endAddr: parseIpAddress(end),
});

test('planTunnelRoutes: DNS servers outside the remote selectors are not used, with a warning (--remote-net)', () => {
  // --remote-net 10.0.0.0/8: the gateway's resolver 192.0.2.53 would be reached in clear.
  const p = planTunnelRoutes([sel('10.0.0.0', '10.255.255.255')], ['10.1.1.53', '192.0.2.53']);
  assert.deepEqual(p.routes, ['10.0.0.0/8']);
  assert.deepEqual(p.dns, ['10.1.1.53']);
  assert.deepEqual(p.droppedDns, ['192.0.2.53']);
  assert.equal(p.warnings.length, 1);
  assert.match(
    p.warnings[0]!,
    /not using the gateway's DNS server 192\.0\.2\.53: outside the tunnel/,
  );
  // Full tunnel: every server is inside, nothing to say.
  const full = planTunnelRoutes(
    [sel('0.0.0.0', '255.255.255.255'), sel('::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')],
    ['192.0.2.53', '2001:db8::53'],
  );
  assert.deepEqual(full.dns, ['192.0.2.53', '2001:db8::53']);
  assert.deepEqual(full.warnings, []);
});

test('planTunnelRoutes: a selector that does not carry UDP port 53 does not make a DNS server usable', () => {
  const tcpOnly = planTunnelRoutes([sel('10.0.0.0', '10.255.255.255', 6)], ['10.1.1.53']);
  assert.deepEqual(tcpOnly.dns, []);
  const port443 = planTunnelRoutes(
    [sel('10.0.0.0', '10.255.255.255', 17, 443, 443)],
    ['10.1.1.53'],
  );
  assert.deepEqual(port443.dns, []);
  const udp53 = planTunnelRoutes([sel('10.1.1.53', '10.1.1.53', 17, 53, 53)], ['10.1.1.53']);
  assert.deepEqual(udp53.dns, ['10.1.1.53']);
  assert.deepEqual(udp53.routes, ['10.1.1.53/32']);
});

test('planTunnelRoutes: routes are capped with a counted warning; a DNS server left out by the cap gets a host route', () => {
  // 1000 single-address selectors with odd-even gaps: each is its own prefix.
  const many = Array.from({ length: 1000 }, (_, i) =>
    sel(`10.${i >> 8}.${i & 255}.1`, `10.${i >> 8}.${i & 255}.1`),
  );
  const p = planTunnelRoutes(many, ['10.3.231.1'], 200);
  assert.equal(p.droppedRoutes, 800);
  assert.match(
    p.warnings[0]!,
    /need 1000 routes; only the first 200 were installed \(800 dropped\)/,
  );
  assert.deepEqual(p.dns, ['10.3.231.1']);
  assert.equal(p.routes.length, 201);
  assert.equal(p.routes.at(-1), '10.3.231.1/32');
  assert.equal(MAX_TUNNEL_ROUTES, 200);
});

test('planTunnelRoutes: host routes for DNS servers are bounded too', () => {
  const many = Array.from({ length: 1000 }, (_, i) =>
    sel(`10.${i >> 8}.${i & 255}.1`, `10.${i >> 8}.${i & 255}.1`),
  );
  const servers = Array.from({ length: 20 }, (_, i) => `10.3.${200 + i}.1`);
  const p = planTunnelRoutes(many, servers, 200);
  assert.equal(p.dns.length, 16);
  assert.deepEqual(p.droppedDns, servers.slice(16));
  assert.equal(p.routes.length, 216);
  assert.match(p.warnings[1]!, /not using the gateway's DNS servers 10\.3\.216\.1, /);
});
