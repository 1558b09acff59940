/**
 * The IKE version flags (issue 17): `--ike-version 1|2|auto`, `--xauth-user`,
 * `--xauth-password-file`, `--group-psk-file`, `--ikev1-aggressive`, `--ikev1-legacy`, `--pfs`:
 * the combinations that make no sense are refused with one line and exit 2 before anything is
 * prompted or read; the XAUTH password comes from a file (mode 600), VPN_XAUTH_PASSWORD or a
 * profile; the summary names the IKE version.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT } from '../../src/cli/exit-codes.js';
import { gatherSecrets } from '../../src/cli/credentials.js';
import type { AuthFlags } from '../../src/cli/credentials.js';
import {
  checkIkeVersionFlags,
  cliIdentity,
  ikeVersionOptions,
  ikev1Warnings,
  pfsGroupOf,
} from '../../src/cli/ikev1-flags.js';
import { summaryLines } from '../../src/cli/ui.js';
import type { TunnelSummary } from '../../src/client/tunnel.js';
import { isVpnError } from '../../src/core/errors.js';

const BIN = fileURLToPath(new URL('../../../bin/vpn.js', import.meta.url));

function vpn(args: string[], env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'vpn-v1flags-'));
  try {
    const r = spawnSync(process.execPath, [BIN, ...args], {
      encoding: 'utf8',
      env: { ...process.env, VPN_PSK: 'p', VPN_RUNTIME_DIR: dir, CI: 'true', ...env },
      timeout: 20000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const refused = (f: Parameters<typeof checkIkeVersionFlags>[0], kind: 'psk' | 'cert' | 'eap') =>
  assert.throws(
    () => checkIkeVersionFlags(f, kind),
    (e: unknown) => isVpnError(e) && e.code === 'ERR_CONFIG',
  );

test('IKEv1-only flags with IKEv2, and IKEv2-only features with IKEv1, are refused', () => {
  refused({ xauthUser: 'alice' }, 'psk');
  refused({ ikeVersion: '2', ikev1Aggressive: true }, 'psk');
  refused({ ikev1Legacy: true }, 'psk');
  refused({ pfs: 'ecp256' }, 'psk');
  refused({ ikeVersion: '1' }, 'eap');
  refused({ ikeVersion: 'auto' }, 'eap');
  refused({ ikeVersion: '1', pq: 'required' }, 'psk');
  refused({ ikeVersion: '1', ppkFile: '/x' }, 'psk');
  refused({ ikeVersion: '1', ikev1Aggressive: true }, 'cert');
  refused({ ikeVersion: 'auto', ikev1Aggressive: true }, 'psk');
  refused({ ikeVersion: '1', pskFile: '/a', groupPskFile: '/b' }, 'psk');
  refused({ ikeVersion: '1', xauthPasswordFile: '/p' }, 'psk');
  refused({ ikeVersion: '1', pfs: 'ecp999' }, 'psk');
  // IKEv2 proposal syntax (a PRF) is not IKEv1's; with auto both must parse.
  refused({ ikeVersion: '1', ike: 'aes256gcm16-prfsha256-x25519' }, 'psk');
  refused({ ikeVersion: '1', ike: '3des-sha1-modp1024' }, 'psk');
  refused({ ikeVersion: 'auto', ike: '3des-sha1-modp1024', ikev1Legacy: true }, 'psk');
  refused({ ikeVersion: '1', esp: 'chacha20poly1305' }, 'psk');
  // And what is fine:
  checkIkeVersionFlags({}, 'eap');
  checkIkeVersionFlags({ ikeVersion: '1', xauthUser: 'alice', pfs: 'modp2048' }, 'psk');
  checkIkeVersionFlags({ ikeVersion: '1', ikev1Aggressive: true, groupPskFile: '/g' }, 'psk');
  checkIkeVersionFlags({ ikeVersion: '1', ike: '3des-sha1-modp1024', ikev1Legacy: true }, 'psk');
  checkIkeVersionFlags({ ikeVersion: 'auto', ike: 'aes256-sha256-modp2048' }, 'cert');
  checkIkeVersionFlags({ ikeVersion: '1', pq: 'off' }, 'cert');
});

test('vpn connect: each refused combination is one line on stderr and exit 2', () => {
  const cases: [string[], RegExp][] = [
    [['--eap-identity', 'carol', '--ike-version', '1'], /EAP is IKEv2 only/],
    [['--xauth-user', 'alice'], /--xauth-user is for IKEv1 gateways: add --ike-version 1/],
    [['--ike-version', '1', '--pq', 'required'], /--pq required .* is IKEv2 only/],
    [['--ike-version', '3'], /--ike-version/],
    [['--ike-version', 'auto', '--ikev1-aggressive'], /--ikev1-aggressive needs --ike-version 1/],
    [['--ike-version', '1', '--pfs', 'modp768'], /--pfs|MODP-768/],
  ];
  for (const [flags, re] of cases) {
    const r = vpn(['connect', '198.51.100.10', ...flags]);
    assert.equal(r.code, EXIT.USAGE, `${flags.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, flags.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('vpn connect --help lists the IKEv1 flags', () => {
  const r = vpn(['connect', '--help']);
  for (const flag of [
    '--ike-version',
    '--xauth-user',
    '--xauth-password-file',
    '--group-psk-file',
    '--ikev1-aggressive',
    '--ikev1-legacy',
    '--pfs',
  ])
    assert.ok(r.stdout.includes(flag), flag);
});

test('the XAUTH password: a mode-600 file, VPN_XAUTH_PASSWORD, the profile; a file others can read is refused; none is exit 2', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vpn-xauth-'));
  const saved = process.env['VPN_XAUTH_PASSWORD'];
  try {
    const psk = join(dir, 'group');
    writeFileSync(psk, 'group secret\n');
    chmodSync(psk, 0o600);
    const pw = join(dir, 'pw');
    writeFileSync(pw, 'alice pw\n');
    chmodSync(pw, 0o600);
    const base: AuthFlags = {
      hostCheck: true,
      ikeVersion: '1',
      groupPskFile: psk,
      xauthUser: 'alice',
    };
    delete process.env['VPN_XAUTH_PASSWORD'];
    const s = await gatherSecrets({ ...base, xauthPasswordFile: pw }, false);
    assert.equal(s.xauthPassword, 'alice pw');
    assert.equal(Buffer.from(s.psk!, 'base64').toString(), 'group secret', '--group-psk-file');
    process.env['VPN_XAUTH_PASSWORD'] = 'from env';
    assert.equal((await gatherSecrets(base, false)).xauthPassword, 'from env');
    delete process.env['VPN_XAUTH_PASSWORD'];
    assert.equal(
      (await gatherSecrets(base, false, { xauthPassword: 'from profile' })).xauthPassword,
      'from profile',
    );
    await assert.rejects(gatherSecrets(base, false), /no XAUTH password/);
    chmodSync(pw, 0o644);
    await assert.rejects(gatherSecrets({ ...base, xauthPasswordFile: pw }, false), (e: unknown) =>
      isVpnError(e),
    );
    // The same through the command: exit 2 and no prompt without a terminal.
    const r = vpn(['connect', '198.51.100.10', '--ike-version', '1', '--xauth-user', 'alice'], {
      VPN_XAUTH_PASSWORD: '',
    });
    assert.equal(r.code, EXIT.USAGE);
    assert.match(r.stderr, /no XAUTH password/);
  } finally {
    if (saved === undefined) delete process.env['VPN_XAUTH_PASSWORD'];
    else process.env['VPN_XAUTH_PASSWORD'] = saved;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the tunnel options of the IKEv1 flags, the --pfs group and the warnings', () => {
  assert.deepEqual(ikeVersionOptions({}, undefined), {});
  assert.deepEqual(ikeVersionOptions({ ikeVersion: '2' }, undefined), {});
  const o = ikeVersionOptions(
    { ikeVersion: '1', xauthUser: 'alice', pfs: 'ecp256', ikev1Aggressive: true },
    'pw',
  );
  assert.equal(o.ikeVersion, 1);
  assert.equal(o.ikev1?.aggressive, true);
  assert.equal(o.ikev1?.pfsGroup, 19);
  assert.equal(o.ikev1?.xauth?.user, 'alice');
  assert.equal(new TextDecoder().decode(o.ikev1?.xauth?.password), 'pw');
  assert.equal(ikeVersionOptions({ ikeVersion: 'auto' }, undefined).ikeVersion, 'auto');
  assert.equal(pfsGroupOf('modp2048'), 14);
  assert.equal(pfsGroupOf('curve25519'), 31);
  assert.deepEqual(ikev1Warnings({}), []);
  assert.match(ikev1Warnings({ ikev1Aggressive: true })[0]!, /hash of the pre-shared key/);
  // Without --ike, --ikev1-legacy adds 3DES/MODP-1024 after the default offer.
  assert.match(ikev1Warnings({ ikev1Legacy: true })[0]!, /offering 3DES/);
  assert.match(
    ikev1Warnings({ ikev1Legacy: true, ike: 'aes256-sha256-modp2048' })[0]!,
    /changes nothing/,
  );
  assert.match(
    ikev1Warnings({ ikev1Legacy: true, ike: '3des-sha1-modp1024' })[0]!,
    /offering 3DES/,
  );
});

test('the connect summary names the IKE version', () => {
  const s = {
    gateway: 'gw',
    gatewayAddress: '198.51.100.10',
    device: 'vpn0',
    mtu: 1400,
    dns: [],
    domains: [],
    routes: ['203.0.113.0/25'],
    connectMs: 100,
    espPath: 'js',
    ike: {
      localId: 'a',
      remoteId: 'b',
      ikeProposal: 'aes256-sha256-modp2048',
      espProposal: 'aes256gcm16',
      natHere: false,
      natThere: false,
      config: { dns4: [], dns6: [], domains: [] },
      tsLocal: [],
      tsRemote: [],
      spiI: '00',
      spiR: '00',
      remote: { address: '198.51.100.10', port: 4500 },
    },
  } as unknown as TunnelSummary;
  assert.ok(summaryLines({ ...s, ikeVersion: 1 }).some((l) => /^IKE: +IKEv1 aes256/.test(l)));
  assert.ok(summaryLines(s).some((l) => /^IKE: +IKEv2 /.test(l)));
});

test('--id keyid:GROUP is an ID_KEY_ID of the group name (the Cisco group, as vpnc sends it)', () => {
  assert.equal(cliIdentity('keyid:OfficeGroup'), '@#4f666669636547726f7570');
  assert.equal(cliIdentity('alice@example.com'), 'alice@example.com');
  assert.equal(cliIdentity('@gw.example.com'), '@gw.example.com');
});
