/**
 * Split DNS with systemd-resolved (issue 14 item 4), at the command level: the gateway's servers
 * are bound to the TUN link, its INTERNAL_DNS_DOMAIN names (RFC 8598) become routing-only domains
 * (`~corp.example`) with DefaultRoute off, a tunnel that carries the default route takes every
 * name (`~.`, DefaultRoute on), `resolvectl revert` undoes it from the journal, and without
 * resolved the result says what was done instead. The real resolved: test/interop/split-dns.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetConfigurator, readJournal } from '../../src/tun/netcfg.js';
import type { CommandRunner } from '../../src/tun/netcfg.js';
import { isDomainName, parseDomainAttribute } from '../../src/core/dns-name.js';
import { parseConfigReply } from '../../src/ike/config-payload.js';
import { summaryLines } from '../../src/cli/ui.js';
import type { TunnelSummary } from '../../src/client/tunnel.js';
import { CfgAttr, CfgType, PayloadType } from '../../src/ike/constants.js';

function recorder(): { run: CommandRunner; calls: string[] } {
  const calls: string[] = [];
  const run: CommandRunner = (cmd, args) => {
    calls.push([cmd, ...args].join(' '));
    return Promise.resolve({ stdout: '' });
  };
  return { run, calls };
}

function tmp(): { base: string; journal: string } {
  const base = mkdtempSync(join(tmpdir(), 'vpn-dns-'));
  mkdirSync(join(base, 'run'), { mode: 0o700 });
  return { base, journal: join(base, 'run', 't.journal') };
}

test('split tunnel: the pushed domains become routing domains of the link, DefaultRoute off; revert from the journal', async () => {
  const t = tmp();
  try {
    const { run, calls } = recorder();
    const cfg = new NetConfigurator({ run, journalPath: t.journal, dnsBackend: 'resolvectl' });
    const r = await cfg.setDns(
      'vpn0',
      ['203.0.113.53', '2001:db8::53'],
      ['corp.example', 'lab.test'],
    );
    assert.deepEqual(calls, [
      'resolvectl dns vpn0 -- 203.0.113.53 2001:db8::53',
      'resolvectl domain vpn0 -- ~corp.example ~lab.test',
      'resolvectl default-route vpn0 -- false',
      'resolvectl llmnr vpn0 -- no',
      'resolvectl mdns vpn0 -- no',
    ]);
    assert.equal(r?.method, 'systemd-resolved');
    assert.deepEqual(r?.routing, ['~corp.example', '~lab.test']);
    assert.match(r.note, /names under corp\.example, lab\.test go to 203\.0\.113\.53/);
    // On disk at once: a kill -9 leaves a journal whose replay reverts the link.
    assert.deepEqual(readJournal(t.journal)?.entries, [{ kind: 'dns-resolvectl', dev: 'vpn0' }]);
    calls.length = 0;
    assert.deepEqual(await cfg.restore(), []);
    assert.deepEqual(calls, ['resolvectl revert -- vpn0']);
    assert.equal(readJournal(t.journal), undefined);
  } finally {
    rmSync(t.base, { recursive: true, force: true });
  }
});

test('the tunnel carries the default route: every name goes to its servers (~., DefaultRoute on)', async () => {
  const { run, calls } = recorder();
  const cfg = new NetConfigurator({ run, dnsBackend: 'resolvectl' });
  const r = await cfg.setDns('vpn3', ['203.0.113.53'], ['corp.example'], { defaultRoute: true });
  assert.deepEqual(calls.slice(0, 3), [
    'resolvectl dns vpn3 -- 203.0.113.53',
    'resolvectl domain vpn3 -- ~corp.example ~.',
    'resolvectl default-route vpn3 -- true',
  ]);
  assert.match(r!.note, /every name goes to 203\.0\.113\.53/);
  const r2 = await new NetConfigurator({ run, dnsBackend: 'resolvectl' }).setDns(
    'vpn4',
    ['203.0.113.53'],
    [],
    { defaultRoute: true },
  );
  assert.deepEqual(r2?.routing, ['~.']);
});

test('split tunnel without pushed domains: no routing domain, the link stays a default route for names', async () => {
  const { run, calls } = recorder();
  const cfg = new NetConfigurator({ run, dnsBackend: 'resolvectl' });
  const r = await cfg.setDns('vpn0', ['203.0.113.53'], []);
  assert.deepEqual(calls.slice(0, 2), [
    'resolvectl dns vpn0 -- 203.0.113.53',
    'resolvectl default-route vpn0 -- true',
  ]);
  assert.match(r!.note, /to the host's servers alike \(no domains pushed\)/);
});

test('DefaultRoute/LLMNR/mDNS switches an older resolved lacks do not fail the tunnel', async () => {
  const calls: string[] = [];
  const run: CommandRunner = (_cmd, args) => {
    calls.push(args[0]!);
    if (['default-route', 'llmnr', 'mdns'].includes(args[0]!))
      return Promise.reject(new Error('Unknown verb'));
    return Promise.resolve({ stdout: '' });
  };
  const r = await new NetConfigurator({ run, dnsBackend: 'resolvectl' }).setDns(
    'vpn0',
    ['203.0.113.53'],
    ['corp.example'],
  );
  assert.equal(r?.method, 'systemd-resolved');
  assert.deepEqual(calls, ['dns', 'domain', 'default-route', 'llmnr', 'mdns']);
});

test('domains that are not names (option-like, "~", root, empty or long labels) are refused before anything runs', async () => {
  for (const bad of [
    '-h',
    '~.',
    '.',
    '',
    'a..b',
    'corp.example.',
    `${'x'.repeat(64)}.test`,
    'a b',
    'x-.test',
  ]) {
    const { run, calls } = recorder();
    const cfg = new NetConfigurator({ run, dnsBackend: 'resolvectl' });
    await assert.rejects(cfg.setDns('vpn0', ['203.0.113.53'], [bad]), /invalid DNS domain/, bad);
    assert.deepEqual(calls, [], bad);
  }
  assert.ok(isDomainName(`${'a'.repeat(63)}.test`));
  assert.ok(isDomainName('_msdcs.corp-1.example'));
});

test('INTERNAL_DNS_DOMAIN values (RFC 8598 §3.1): trailing dot or NUL tolerated, lower-cased; root and junk skipped', () => {
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
  assert.equal(parseDomainAttribute(enc('Corp.Example.')), 'corp.example');
  assert.equal(
    parseDomainAttribute(Uint8Array.from([...enc('corp.example'), 0, 0])),
    'corp.example',
  );
  for (const bad of ['.', '..', 'a..b', '-rf', 'corp example', 'bücher.example', 'x'.repeat(254)])
    assert.equal(parseDomainAttribute(enc(bad)), undefined, bad);
});

test('the CFG_REPLY decoder keeps INTERNAL_DNS_DOMAIN (attribute 25) names and never a root or option-like one', () => {
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
  const reply = parseConfigReply({
    type: PayloadType.CP,
    critical: false,
    cfgType: CfgType.REPLY,
    attributes: ['Corp.Example.', '.', 'corp.example', '-h', 'lab.test'].map((d) => ({
      type: CfgAttr.INTERNAL_DNS_DOMAIN,
      value: enc(d),
    })),
  });
  assert.equal(CfgAttr.INTERNAL_DNS_DOMAIN, 25);
  assert.deepEqual(reply.domains, ['corp.example', 'lab.test']);
  assert.deepEqual(reply.unknown, [25, 25]);
});

test('without systemd-resolved: resolv.conf is rewritten and the result says there is no split DNS', async () => {
  const t = tmp();
  try {
    const resolv = join(t.base, 'resolv.conf');
    writeFileSync(resolv, 'nameserver 192.0.2.1\n');
    const { run } = recorder();
    const cfg = new NetConfigurator({
      run,
      journalPath: t.journal,
      resolvConf: resolv,
      dnsBackend: 'file',
    });
    const r = await cfg.setDns('vpn0', ['203.0.113.53'], ['corp.example']);
    assert.equal(r?.method, 'resolv.conf');
    assert.equal(
      r?.note,
      `${resolv} rewritten (restored on exit): every name goes to 203.0.113.53 (search corp.example); no systemd-resolved, so no split DNS`,
    );
    await cfg.restore();
  } finally {
    rmSync(t.base, { recursive: true, force: true });
  }
});

test('auto: resolved is used only when resolvectl answers and resolv.conf goes through its stub', async () => {
  const t = tmp();
  const path = process.env['PATH'];
  try {
    // A resolvectl on the PATH (the runner stands in for running it).
    const bin = join(t.base, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'resolvectl'), '#!/bin/sh\nexit 1\n');
    chmodSync(join(bin, 'resolvectl'), 0o755);
    process.env['PATH'] = `${bin}:${path ?? ''}`;
    const stub = join(t.base, 'stub-resolv.conf');
    writeFileSync(stub, '# stub\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n');
    const { run, calls } = recorder();
    const r = await new NetConfigurator({
      run,
      resolvConf: stub,
      dnsBackend: 'auto',
    }).setDns('vpn0', ['203.0.113.53'], ['corp.example']);
    assert.equal(r?.method, 'systemd-resolved');
    assert.equal(calls[0], 'resolvectl status');
    // resolved running but resolv.conf elsewhere: glibc would never ask it; rewrite the file.
    const other = join(t.base, 'resolv.conf');
    writeFileSync(other, 'nameserver 192.0.2.1\n');
    const cfg = new NetConfigurator({
      run,
      resolvConf: other,
      journalPath: t.journal,
      dnsBackend: 'auto',
    });
    const r2 = await cfg.setDns('vpn0', ['203.0.113.53'], ['corp.example']);
    assert.equal(r2?.method, 'resolv.conf');
    await cfg.restore();
  } finally {
    process.env['PATH'] = path;
    rmSync(t.base, { recursive: true, force: true });
  }
});

test('the connect summary (and vpn status) prints the DNS method line', () => {
  const s = {
    gateway: 'vpn.example.com',
    gatewayAddress: '198.51.100.10',
    device: 'vpn0',
    mtu: 1400,
    dns: ['203.0.113.53'],
    domains: ['corp.example'],
    dnsMethod: 'systemd-resolved',
    dnsNote:
      'systemd-resolved on vpn0: names under corp.example go to 203.0.113.53 (routing domains ~corp.example); other names as before',
    routes: ['203.0.113.0/25'],
    ike: {
      ikeProposal: 'AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519',
      espProposal: 'AES_GCM_16_256',
      remoteId: 'gw.test',
      localId: 'client@test',
      natHere: false,
      remote: { address: '198.51.100.10', port: 4500 },
    } as unknown as TunnelSummary['ike'],
    connectMs: 120,
    espPath: 'js',
  } satisfies TunnelSummary;
  const lines = summaryLines(s);
  const i = lines.findIndex((l) => l.startsWith('DNS:'));
  assert.equal(lines[i], 'DNS:         203.0.113.53 domains corp.example');
  assert.equal(lines[i + 1], `             ${s.dnsNote}`);
});

test('a resolvectl call that fails after resolved may have applied it is still reverted', async () => {
  const calls: string[] = [];
  const run: CommandRunner = (cmd, args) => {
    calls.push([cmd, ...args].join(' '));
    if (args[0] === 'dns') return Promise.reject(new Error('resolvectl dns: Connection timed out'));
    return Promise.resolve({ stdout: '' });
  };
  const cfg = new NetConfigurator({ run, dnsBackend: 'resolvectl' });
  await assert.rejects(cfg.setDns('vpn0', ['203.0.113.53'], ['corp.example']), /timed out/);
  assert.deepEqual(await cfg.restore(), []);
  assert.equal(calls.at(-1), 'resolvectl revert -- vpn0');
});
