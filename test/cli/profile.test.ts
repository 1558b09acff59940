/**
 * Profiles through the real bin: bad files are refused with one line naming file, line and fix
 * (exit 2) before anything on the host is touched; `vpn profiles`, `vpn show`, and how flags
 * typed on the command line override the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { EXIT } from '../../src/cli/exit-codes.js';
import { buildProgram } from '../../src/cli/main.js';
import { optionsWithoutKey, resolveConnect } from '../../src/cli/profile-commands.js';

const BIN = fileURLToPath(new URL('../../../bin/vpn.js', import.meta.url));

function withProfiles<T>(files: Record<string, [string, number]>, fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'vpn-profiles-'));
  try {
    for (const [name, [text, mode]] of Object.entries(files)) {
      writeFileSync(join(dir, name), text);
      chmodSync(join(dir, name), mode);
    }
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function vpn(dir: string, args: string[]) {
  // A runtime directory that must still not exist afterwards: nothing touched on the host.
  const run = join(dir, 'run');
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, VPN_PSK: '', VPN_PROFILE_DIR: dir, VPN_RUNTIME_DIR: run, CI: 'true' },
    timeout: 20000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ranHost: existsSync(run) };
}

const BAD: [string, string, number, RegExp][] = [
  [
    'unknown key',
    'gateway = 192.0.2.1\nremote_id = @gw.test\n',
    0o600,
    /^vpn: unknown key 'remote_id' at (.*)\/bad\.conf:2; did you mean 'remote-id'\?\n$/,
  ],
  [
    'wrong type',
    'gateway = 192.0.2.1\n\nkeepalive = abc\n',
    0o600,
    /^vpn: keepalive = 'abc' is invalid at .*\/bad\.conf:3; write an integer from 0 to 3600\n$/,
  ],
  [
    'mode 644 with a secret inside',
    'gateway = 192.0.2.1\npsk = hunter2\n',
    0o644,
    /^vpn: psk in a file others can read \(mode 0644\) at .*\/bad\.conf:2; run: chmod 600 .*\/bad\.conf, or name a file holding it with psk-file = PATH\n$/,
  ],
  [
    'a proposal vpn connect would refuse',
    'gateway = 192.0.2.1\nike = aes256gcm16-prfsha999\n',
    0o600,
    /^vpn: ike = 'aes256gcm16-prfsha999' is invalid at .*\/bad\.conf:2; unknown algorithm "prfsha999" .*: write IKE proposals, e\.g\. aes256gcm16-prfsha256-x25519\n$/,
  ],
  [
    'missing referenced file',
    'gateway = 192.0.2.1\nid = client@test\npsk-file = psk.txt\n',
    0o600,
    /^vpn: psk-file names .*\/psk\.txt, which does not exist at .*\/bad\.conf:3; create it or fix the path\n$/,
  ],
];

for (const [what, text, mode, re] of BAD) {
  test(`a bad profile (${what}): one line naming file, line and fix; exit 2; host untouched`, () =>
    withProfiles({ 'bad.conf': [text, mode] }, (dir) => {
      for (const cmd of [
        ['connect', 'bad'],
        ['up', 'bad'],
        ['connect', '--profile', 'bad'],
        ['show', 'bad'],
      ]) {
        const r = vpn(dir, cmd);
        assert.equal(r.code, EXIT.USAGE, `${cmd.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, re, cmd.join(' '));
        assert.ok(r.stderr.includes(dir), 'the file is named');
        assert.ok(!r.stderr.includes('hunter2'), 'the secret is never printed');
        assert.equal(r.ranHost, false, 'no runtime directory created');
      }
      // --json: the same outcome as one JSON line on stdout.
      const j = vpn(dir, ['up', 'bad', '--json']);
      assert.equal(j.code, EXIT.USAGE);
      const lines = j.stdout.trim().split('\n');
      assert.equal(lines.length, 1);
      const ev = JSON.parse(lines[0]!) as { event: string; exitCode: number; error: string };
      assert.equal(ev.event, 'error');
      assert.equal(ev.exitCode, EXIT.USAGE);
      assert.match(`vpn: ${ev.error}\n`, re);
      // `vpn profiles` lists it as an error line and exits 2.
      const l = vpn(dir, ['profiles', '--json']);
      assert.equal(l.code, EXIT.USAGE);
      assert.equal((JSON.parse(l.stdout.trim()) as { name: string }).name, 'bad');
    }));
}

test('a secret file the profile names that others can read: one line naming file, line and fix; exit 2; host untouched', () =>
  withProfiles(
    {
      'w.conf': ['gateway = 192.0.2.1\nid = client@test\npsk-file = w.psk\n', 0o644],
      'w.psk': ['hunter2\n', 0o644],
    },
    (dir) => {
      const r = vpn(dir, ['up', 'w']);
      assert.equal(r.code, EXIT.USAGE, r.stderr);
      assert.match(
        r.stderr,
        /^vpn: psk-file names .*\/w\.psk, which others can read \(mode 0644\) at .*\/w\.conf:3; run: chmod 600 .*\/w\.psk\n$/,
      );
      assert.equal(r.ranHost, false, 'no runtime directory created');
    },
  ));

test('vpn profiles lists name, gateway and auth kind; vpn show prints effective settings, secrets elided', () =>
  withProfiles(
    {
      'office.conf': ['[connect]\ngateway = 192.0.2.1\npsk = hunter2\nkeepalive = 5\n', 0o600],
      'uni.conf': ['gateway = vpn.example.org\neap-identity = alice\neap = mschapv2\n', 0o644],
      'notes.txt': ['ignored', 0o644],
    },
    (dir) => {
      const l = vpn(dir, ['profiles', '--json']);
      assert.equal(l.code, EXIT.OK, l.stderr);
      const rows = l.stdout
        .trim()
        .split('\n')
        .map((x) => JSON.parse(x) as Record<string, string>);
      assert.deepEqual(
        rows.map((r) => [r['name'], r['gateway'], r['auth']]),
        [
          ['office', '192.0.2.1', 'psk'],
          ['uni', 'vpn.example.org', 'eap'],
        ],
      );
      const t = vpn(dir, ['profiles']);
      assert.match(t.stdout, /^office\t192\.0\.2\.1\tpsk\t/m);

      const s = vpn(dir, ['show', 'office']);
      assert.equal(s.code, EXIT.OK, s.stderr);
      assert.ok(!s.stdout.includes('hunter2'));
      assert.match(s.stdout, /^psk\s+= \(set in the file; elided\)$/m);
      assert.match(s.stdout, /^keepalive\s+= 5$/m);
      assert.match(s.stdout, /^dpd\s+= 30\s+# default$/m);
      assert.match(s.stdout, /^name\s+= office\s+# default$/m);
      const sj = vpn(dir, ['show', 'office', '--json']);
      const eff = JSON.parse(sj.stdout) as { settings: Record<string, string>; fromFile: string[] };
      assert.equal(eff.settings['gateway'], '192.0.2.1');
      assert.equal(eff.settings['port'], '500');
      assert.deepEqual(eff.fromFile, ['gateway', 'keepalive', 'psk']);
      assert.ok(!sj.stdout.includes('hunter2'));

      const missing = vpn(dir, ['show', 'nope']);
      assert.equal(missing.code, EXIT.USAGE);
      assert.match(missing.stderr, /no profile named "nope" in .*; list them with: vpn profiles/);
    },
  ));

test('every vpn connect flag has a profile key', () => {
  const connect = buildProgram(() => undefined).commands.find((c) => c.name() === 'connect')!;
  assert.deepEqual(optionsWithoutKey(connect), []);
});

/** Parses `vpn connect ...args` and returns what resolveConnect makes of it (nothing runs). */
async function resolved(dir: string, args: string[]) {
  const prev = process.env['VPN_PROFILE_DIR'];
  process.env['VPN_PROFILE_DIR'] = dir;
  try {
    const program = buildProgram(() => undefined);
    const connect = program.commands.find((c) => c.name() === 'connect')!;
    let out: ReturnType<typeof resolveConnect> | undefined;
    connect.action((target: string | undefined, flags: object, cmd: Command) => {
      out = resolveConnect(target, flags, cmd);
    });
    await program.parseAsync(['node', 'vpn', 'connect', ...args]);
    return out!;
  } finally {
    if (prev === undefined) delete process.env['VPN_PROFILE_DIR'];
    else process.env['VPN_PROFILE_DIR'] = prev;
  }
}

test('flags on the command line override the file; the file overrides the defaults', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vpn-profiles-'));
  try {
    writeFileSync(
      join(dir, 'work.conf'),
      'gateway = 192.0.2.1\nport = 4500\nkeepalive = 5\nremote-net = 10.0.0.0/8\nipv6 = false\npsk = s3cret\n',
    );
    chmodSync(join(dir, 'work.conf'), 0o600);
    const a = await resolved(dir, ['work']);
    assert.ok(a.ok);
    const fa = a.flags as Record<string, unknown>;
    assert.equal(a.gateway, '192.0.2.1');
    assert.equal(fa['port'], 4500);
    assert.equal(fa['keepalive'], 5);
    assert.equal(fa['dpd'], 30, 'default');
    assert.equal(fa['ipv6'], false);
    assert.deepEqual(fa['remoteNet'], ['10.0.0.0/8']);
    assert.equal(fa['name'], 'work', 'the tunnel is named after the profile');
    assert.equal(fa['psk'], undefined, 'secrets are not flags');
    assert.deepEqual(a.secrets, { psk: 's3cret' });

    const b = await resolved(dir, [
      'up',
      '--port',
      '500',
      '--remote-net',
      '192.168.0.0/16',
      '--name',
      'x',
    ]);
    // `up` was taken as a gateway (no profile by that name): the profile rule is by file.
    assert.ok(b.ok);
    assert.equal(b.gateway, 'up');
    const c = await resolved(dir, [
      'work',
      '--port',
      '500',
      '--remote-net',
      '192.168.0.0/16',
      '--name',
      'x',
    ]);
    assert.ok(c.ok);
    const fc = c.flags as Record<string, unknown>;
    assert.equal(fc['port'], 500);
    assert.deepEqual(fc['remoteNet'], ['192.168.0.0/16'], 'the list is replaced, not extended');
    assert.equal(fc['name'], 'x');
    assert.equal(fc['keepalive'], 5);
    // --profile with a gateway: the gateway typed here wins; a host name is never a profile.
    const d = await resolved(dir, ['--profile', 'work', 'gw.example.net']);
    assert.ok(d.ok);
    assert.equal(d.gateway, 'gw.example.net');
    const e = await resolved(dir, ['work.example.net']);
    assert.ok(e.ok);
    assert.equal(e.gateway, 'work.example.net');
    assert.deepEqual(e.secrets, {});
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
