/**
 * `vpn import` through the real bin: files written mode 600 in the profile folder and usable by
 * `vpn show`; existing files kept without --force (a planted symbolic link is never followed);
 * oversized and foreign files refused; CMS-signed .mobileconfig files checked with openssl (bad
 * signature refused with exit 12, a signer outside --trust-ca with exit 13, a valid signature
 * without --trust-ca said to be unverified); hostile text escaped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'plist';
import { EXIT } from '../../src/cli/exit-codes.js';

const BIN = fileURLToPath(new URL('../../../bin/vpn.js', import.meta.url));
const CRED = fileURLToPath(new URL('../../../test/config/fixtures/credentials/', import.meta.url));
const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

function withDir<T>(fn: (dir: string, profiles: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'vpn-import-'));
  try {
    return fn(dir, join(dir, 'profiles'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function vpn(profiles: string, args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, VPN_PROFILE_DIR: profiles, CI: 'true' },
    timeout: 20000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const SSWAN = JSON.stringify({
  uuid: 'u',
  name: 'Office',
  type: 'ikev2-cert',
  remote: {
    addr: '192.0.2.1',
    id: 'gw.example.com',
    cert: readFileSync(`${CRED}rsa.crt.der`).toString('base64'),
  },
  local: { id: 'me@example.com', p12: readFileSync(`${CRED}rsa-aes.p12`).toString('base64') },
  mtu: 1400,
});

function plistXml(psk = 'hunter2'): string {
  return build({
    PayloadType: 'Configuration',
    PayloadUUID: 'A',
    PayloadContent: [
      {
        PayloadType: 'com.apple.vpn.managed',
        PayloadUUID: 'B',
        VPNType: 'IKEv2',
        IKEv2: {
          RemoteAddress: '192.0.2.1',
          RemoteIdentifier: 'gw.example.com',
          LocalIdentifier: 'me@example.com',
          AuthenticationMethod: 'SharedSecret',
          SharedSecret: psk,
        },
      },
    ],
  });
}

test('a .sswan becomes NAME.conf, NAME-ca.pem and NAME.p12 (mode 600); vpn show reads it', () =>
  withDir((dir, profiles) => {
    const f = join(dir, 'office.sswan');
    writeFileSync(f, SSWAN);
    const r = vpn(profiles, ['import', f]);
    assert.equal(r.code, EXIT.OK, r.err);
    assert.match(
      r.out,
      /^Imported .*office\.sswan \(strongSwan \.sswan; .*\) as profile office:$/m,
    );
    assert.match(r.out, /^Next: vpn show office; vpn up office$/m);
    assert.deepEqual(readdirSync(profiles).sort(), ['office-ca.pem', 'office.conf', 'office.p12']);
    for (const n of readdirSync(profiles))
      assert.equal(statSync(join(profiles, n)).mode & 0o777, 0o600, n);
    assert.ok(
      readFileSync(join(profiles, 'office.p12')).equals(readFileSync(`${CRED}rsa-aes.p12`)),
    );
    const s = vpn(profiles, ['show', 'office', '--json']);
    assert.equal(s.code, EXIT.OK, s.err);
    const eff = JSON.parse(s.out) as { auth: string; settings: Record<string, string> };
    assert.equal(eff.auth, 'cert');
    assert.equal(eff.settings['p12'], join(profiles, 'office.p12'));
    assert.equal(eff.settings['ca'], join(profiles, 'office-ca.pem'));
    assert.equal(eff.settings['mtu'], '1400');
    assert.equal(eff.settings['remote-id'], 'gw.example.com');
  }));

test('existing files are kept without --force; --force replaces; a planted link is not followed', () =>
  withDir((dir, profiles) => {
    const f = join(dir, 'office.sswan');
    writeFileSync(f, SSWAN);
    assert.equal(vpn(profiles, ['import', f]).code, EXIT.OK);
    const before = readFileSync(join(profiles, 'office.conf'), 'utf8');
    const again = vpn(profiles, ['import', f]);
    assert.equal(again.code, EXIT.USAGE);
    assert.match(
      again.err,
      /^vpn: .*office\.conf, .* already exist; pass --force to replace, or --name OTHER\n$/,
    );
    assert.equal(readFileSync(join(profiles, 'office.conf'), 'utf8'), before);
    const forced = vpn(profiles, ['import', f, '--force']);
    assert.equal(forced.code, EXIT.OK, forced.err);

    // A dangling link where NAME-ca.pem goes: refused, and its target never created.
    const target = join(dir, 'victim');
    symlinkSync(target, join(profiles, 'other-ca.pem'));
    const r = vpn(profiles, ['import', f, '--name', 'other']);
    assert.equal(r.code, EXIT.USAGE, r.err);
    assert.match(r.err, /other-ca\.pem already exists/);
    assert.equal(existsSync(target), false);
    assert.equal(existsSync(join(profiles, 'other.conf')), false, 'nothing written');
    // With --force the link itself is replaced by a file, still not followed.
    assert.equal(vpn(profiles, ['import', f, '--name', 'other', '--force']).code, EXIT.OK);
    assert.equal(existsSync(target), false);
    assert.ok(lstatSync(join(profiles, 'other-ca.pem')).isFile());
  }));

test('oversized, foreign and malformed files are refused (exit 2) and nothing is written', () =>
  withDir((dir, profiles) => {
    const big = join(dir, 'big.sswan');
    writeFileSync(big, `{"x":"${'a'.repeat(1024 * 1024)}"}`);
    const cases: [string[], RegExp][] = [
      [['import', big], /^vpn: .*big\.sswan is larger than 1 MiB \(\d+ bytes\)/],
      [['import', join(dir, 'missing.sswan')], /^vpn: cannot read .*missing\.sswan/],
      [['import', dir], /is not a regular file/],
      [['import', `${CRED}rsa.key`], /is neither a strongSwan \.sswan profile .* nor an Apple/],
      [['import', big, '--name', '../etc/x'], /profile name "\.\.\/etc\/x": use up to 32 letters/],
    ];
    for (const [args, re] of cases) {
      const r = vpn(profiles, args);
      assert.equal(r.code, EXIT.USAGE, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, re);
      assert.equal(r.err.split('\n').length, 2, 'one line');
    }
    // Refused by the profile checks after mapping: nothing left behind either.
    const noaddr = join(dir, 'noaddr.sswan');
    writeFileSync(noaddr, JSON.stringify({ type: 'ikev2-eap', remote: {} }));
    assert.equal(vpn(profiles, ['import', noaddr]).code, EXIT.USAGE);
    assert.equal(existsSync(profiles) ? readdirSync(profiles).length : 0, 0);
  }));

test('hostile text is escaped in the report and the profile; --json is one line', () =>
  withDir((dir, profiles) => {
    const f = join(dir, 'evil.sswan');
    writeFileSync(
      f,
      JSON.stringify({
        type: 'ikev2-eap',
        name: 'x\u001b]0;owned\u0007',
        remote: { addr: 'vpn.example.com' },
        local: { eap_id: 'alice' },
        ['\u001b[2J\u202e']: 'x',
      }),
    );
    const r = vpn(profiles, ['import', f]);
    assert.equal(r.code, EXIT.OK, r.err);
    assert.ok(!/[\u0000-\u0009\u000b-\u001f\u202e]/.test(r.out), r.out);
    assert.match(r.out, /^ {2}\\x1b\[2J\\u202e: not a \.sswan key vpn knows$/m);
    const conf = readFileSync(join(profiles, 'evil.conf'), 'utf8');
    assert.ok(!/[\u0000-\u0009\u000b-\u001f\u202e]/.test(conf));
    const j = vpn(profiles, ['import', f, '--name', 'evil2', '--json']);
    assert.equal(j.out.trim().split('\n').length, 1);
    const rep = JSON.parse(j.out) as { unmapped: { path: string }[] };
    assert.equal(rep.unmapped[0]!.path, '\u001b[2J\u202e');
  }));

test('an unsigned .mobileconfig is said to be unsigned; with --trust-ca it is refused', () =>
  withDir((dir, profiles) => {
    const f = join(dir, 'office.mobileconfig');
    writeFileSync(f, plistXml());
    const r = vpn(profiles, ['import', f]);
    assert.equal(r.code, EXIT.OK, r.err);
    assert.match(r.out, /\(Apple \.mobileconfig; not signed\)/);
    assert.match(readFileSync(join(profiles, 'office.conf'), 'utf8'), /^psk = hunter2$/m);
    const t = vpn(profiles, ['import', f, '--name', 'x', '--trust-ca', `${CRED}rsa.crt`]);
    assert.equal(t.code, EXIT.CERT_UNTRUSTED);
    assert.match(t.err, /is not signed, but --trust-ca asks for a profile signed by that CA/);
  }));

test(
  'CMS-signed .mobileconfig: valid (unverified / chained), tampered refused (12), wrong CA refused (13)',
  { skip: hasOpenssl ? false : 'openssl not installed' },
  () =>
    withDir((dir, profiles) => {
      const run = (args: string[]): void => {
        const r = spawnSync('openssl', args, { encoding: 'utf8', timeout: 20000 });
        assert.equal(r.status, 0, r.stderr);
      };
      // A signer (self-signed, so it is also the CA to trust) and an unrelated CA.
      for (const n of ['signer', 'other'])
        run([
          'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
          '-subj', `/O=Example/CN=${n}`, '-days', '2', '-keyout', join(dir, `${n}.key`),
          '-out', join(dir, `${n}.crt`),
        ]); // prettier-ignore
      writeFileSync(join(dir, 'in.plist'), plistXml('signed psk'));
      const signed = join(dir, 'signed.mobileconfig');
      run([
        'cms', '-sign', '-nodetach', '-binary', '-outform', 'DER', '-in', join(dir, 'in.plist'),
        '-signer', join(dir, 'signer.crt'), '-inkey', join(dir, 'signer.key'), '-out', signed,
      ]); // prettier-ignore

      const plain = vpn(profiles, ['import', signed, '--name', 'a']);
      assert.equal(plain.code, EXIT.OK, plain.err);
      assert.match(
        plain.out,
        /signed by O=Example, CN=signer; signature valid, but the signer was NOT verified against a trusted CA \(pass --trust-ca FILE\)/,
      );
      assert.match(readFileSync(join(profiles, 'a.conf'), 'utf8'), /^psk = signed psk$/m);

      const ok = vpn(profiles, [
        'import',
        signed,
        '--name',
        'b',
        '--trust-ca',
        join(dir, 'signer.crt'),
      ]);
      assert.equal(ok.code, EXIT.OK, ok.err);
      assert.match(ok.out, /signed by O=Example, CN=signer; the signer chains to .*signer\.crt/);

      const wrong = vpn(profiles, [
        'import',
        signed,
        '--name',
        'c',
        '--trust-ca',
        join(dir, 'other.crt'),
      ]);
      assert.equal(wrong.code, EXIT.CERT_UNTRUSTED, wrong.err);
      assert.match(
        wrong.err,
        /^vpn: the profile is signed by O=Example, CN=signer, which does not chain to --trust-ca/,
      );

      const none = vpn(profiles, [
        'import',
        signed,
        '--name',
        'c',
        '--trust-ca',
        join(dir, 'nope'),
      ]);
      assert.equal(none.code, EXIT.USAGE, none.err);
      assert.match(none.err, /^vpn: --trust-ca .*nope: no such file\n$/);

      // One byte of the signed content changed.
      const bytes = readFileSync(signed);
      const i = bytes.indexOf(Buffer.from('signed psk'));
      assert.ok(i > 0);
      bytes[i] = bytes[i]! ^ 0x20;
      const tampered = join(dir, 'tampered.mobileconfig');
      writeFileSync(tampered, bytes);
      const bad = vpn(profiles, ['import', tampered, '--name', 'd']);
      assert.equal(bad.code, EXIT.CERTIFICATE, bad.err);
      assert.match(
        bad.err,
        /^vpn: the profile's CMS signature does not verify \(openssl: .*\); refusing a tampered or corrupt profile\n$/,
      );
      // Garbage that starts like DER: refused the same way.
      const junk = join(dir, 'junk.mobileconfig');
      writeFileSync(junk, Buffer.from([0x30, 0x82, 0x01, 0x00, 1, 2, 3]));
      assert.equal(vpn(profiles, ['import', junk, '--name', 'e']).code, EXIT.CERTIFICATE);
      assert.deepEqual(
        readdirSync(profiles)
          .filter((n) => n.endsWith('.conf'))
          .sort(),
        ['a.conf', 'b.conf'],
      );
    }),
);
