import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { INPUT_NAMES, InputError, parseInputs, splitArgs } from '../../src/action/inputs.js';
import { childEnv, inputVar, writePrivateFile } from '../../src/action/files.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function get(m: Record<string, string>): (n: string) => string {
  return (n) => m[n] ?? '';
}

const base = { gateway: 'vpn.example.com', psk: 'a psk --with -dashes' };

test('inputs: a PSK connection becomes client flags, the PSK never one of them', () => {
  const cfg = parseInputs(
    get({
      ...base,
      id: 'ci@example.com',
      'remote-id': '@vpn.example.com',
      'remote-networks': '10.0.0.0/8, 192.168.1.0/24\n0.0.0.0/0',
      ike: 'aes256gcm16-prfsha256-x25519',
      timeout: '20',
      retry: 'forever',
      ping: '10.1.0.10 intranet.example.com',
      args: `--mtu 1400 --eap "mschapv2"`,
    }),
  );
  assert.equal(cfg.mode, 'tun');
  assert.equal(cfg.psk, 'a psk --with -dashes');
  assert.deepEqual(cfg.flags, [
    '--id',
    'ci@example.com',
    '--remote-id',
    '@vpn.example.com',
    '--ike',
    'aes256gcm16-prfsha256-x25519',
    '--remote-net',
    '10.0.0.0/8',
    '--remote-net',
    '192.168.1.0/24',
    '--remote-net',
    '0.0.0.0/0',
    '--timeout',
    '20',
    '--retry',
    'forever',
    '--mtu',
    '1400',
    '--eap',
    'mschapv2',
  ]);
  assert.ok(!cfg.flags.some((f) => f.includes('psk')));
  assert.deepEqual(cfg.ping, ['10.1.0.10', 'intranet.example.com']);
});

test('inputs: every bad value fails with one line naming the input', () => {
  const bad: [Record<string, string>, RegExp][] = [
    [{ psk: 'x' }, /^gateway: required/],
    [{ ...base, gateway: '-oProxyCommand=x' }, /^gateway: not a host/],
    [{ ...base, gateway: 'a b' }, /^gateway: not a host/],
    [{ ...base, mode: 'kernel' }, /^mode: /],
    [{ ...base, id: '--psk-file=/etc/shadow' }, /^id: invalid/],
    [{ ...base, 'remote-id': 'gw\nx' }, /^remote-id: invalid/],
    [{ ...base, 'remote-networks': '10.0.0.0/33' }, /^remote-networks: /],
    [{ ...base, timeout: '0' }, /^timeout: /],
    [{ ...base, timeout: '30s' }, /^timeout: /],
    [{ ...base, retry: '-1' }, /^retry: /],
    [{ ...base, ike: 'aes256 ; rm' }, /^ike: /],
    [{ ...base, dns: 'on' }, /^dns: /],
    [{ ...base, args: '--psk-file /tmp/x' }, /^args: --psk-file is set by the action/],
    [{ ...base, args: '--background' }, /^args: --background/],
    [{ ...base, args: '--name=x' }, /^args: --name/],
    [{ ...base, args: '--mtu "1400' }, /^args: unterminated/],
    [{ ...base, args: '--socks5 127.0.0.1:1080' }, /^args: --socks5 needs mode: proxy/],
    [{ ...base, mode: 'proxy', args: '--socks5 0.0.0.0:1080' }, /must be a loopback/],
    [{ ...base, mode: 'proxy', ping: '10.1.0.10' }, /^ping: .*host:port/],
    [{ ...base, ping: 'a;b' }, /^ping: /],
    [{ gateway: 'gw' }, /^no credentials/],
    [{ gateway: 'gw', 'eap-password': 'pw' }, /^eap-password: needs eap-identity/],
    [{ ...base, p12: '/a.p12', cert: '/c.pem' }, /^p12: /],
    [{ ...base, key: 'not pem\nsecond line' }, /^key: neither PEM text nor a file path/],
    [{ ...base, gateway: 'x'.repeat(70000) }, /^gateway: longer than/],
  ];
  for (const [m, re] of bad) {
    assert.throws(
      () => parseInputs(get(m)),
      (e: unknown) => e instanceof InputError && re.test(e.message) && !e.message.includes('\n'),
      JSON.stringify(m).slice(0, 80),
    );
  }
});

test('inputs: PEM text and base64 PKCS#12 become file contents; paths stay paths', () => {
  const pem = '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----';
  const cfg = parseInputs(
    get({ gateway: '192.0.2.1', cert: '/etc/me.crt', key: pem, ca: `${pem}\n` }),
  );
  assert.deepEqual(cfg.cert, { kind: 'path', path: '/etc/me.crt' });
  assert.equal(cfg.key?.kind, 'text');
  assert.equal(new TextDecoder().decode((cfg.key as { data: Uint8Array }).data), `${pem}\n`);
  const der = Buffer.alloc(100, 7);
  const p12 = parseInputs(get({ gateway: 'gw', p12: der.toString('base64'), 'p12-password': 'x' }));
  assert.deepEqual(Buffer.from((p12.p12 as { data: Uint8Array }).data), der);
  // Proxy mode: the SOCKS5 address is added, pings are TCP targets.
  const px = parseInputs(get({ ...base, mode: 'proxy', ping: '203.0.113.10:80' }));
  assert.deepEqual(px.flags.slice(-2), ['--socks5', '127.0.0.1:1080']);
  assert.equal(px.socks5, '127.0.0.1:1080');
});

test('splitArgs: shell-like words, quotes, no expansion', () => {
  assert.deepEqual(splitArgs(` --a 'b c'  "d'e" $HOME f""g `), [
    '--a',
    'b c',
    "d'e",
    '$HOME',
    'fg',
  ]);
  assert.deepEqual(splitArgs(''), []);
  assert.deepEqual(splitArgs("''"), ['']);
});

test('action.yml declares exactly the inputs the action reads', () => {
  const yml = readFileSync(join(ROOT, 'action.yml'), 'utf8');
  const block = yml.slice(yml.indexOf('\ninputs:\n'), yml.indexOf('\noutputs:\n'));
  const declared = [...block.matchAll(/^ {2}([a-z0-9-]+):$/gm)].map((m) => m[1]);
  assert.deepEqual(declared, [...INPUT_NAMES]);
  assert.match(yml, /using: node20/);
  assert.match(yml, /main: action\/dist\/main\.mjs/);
  assert.match(yml, /post: action\/dist\/post\.mjs/);
  assert.match(yml, /post-if: always\(\)/);
});

test('childEnv: no INPUT_*, STATE_* or client secret variable reaches a child', () => {
  const env = childEnv(
    { VPN_RUNTIME_DIR: '/x' },
    {
      PATH: '/bin',
      INPUT_PSK: 's1',
      'INPUT_EAP-PASSWORD': 's2',
      STATE_dir: '/d',
      VPN_PSK: 's3',
      VPN_P12_PASSWORD: 's4',
      HOME: '/root',
    },
  );
  assert.deepEqual(env, { PATH: '/bin', HOME: '/root', CI: 'true', VPN_RUNTIME_DIR: '/x' });
  assert.equal(inputVar('eap-password'), 'INPUT_EAP-PASSWORD');
});

test('writePrivateFile: mode 600, never through an existing file or a planted link', () => {
  const dir = mkdtempSync(join(tmpdir(), 'action-files-'));
  try {
    const p = writePrivateFile(dir, 'psk', 'secret');
    assert.equal(statSync(p).mode & 0o777, 0o600);
    assert.equal(readFileSync(p, 'utf8'), 'secret');
    assert.throws(() => writePrivateFile(dir, 'psk', 'other'), /EEXIST/);
    symlinkSync('/tmp/somewhere-else', join(dir, 'link'));
    assert.throws(() => writePrivateFile(dir, 'link', 'x'), /EEXIST|ELOOP/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('scrubOwnEnviron: the secret inputs leave /proc/<pid>/environ and process.env', () => {
  if (process.platform !== 'linux') return;
  const files = join(ROOT, 'dist/src/action/files.js');
  const script = `
    const { scrubOwnEnviron } = await import(${JSON.stringify(files)});
    const ok = scrubOwnEnviron(['INPUT_PSK', 'INPUT_EAP-PASSWORD']);
    const env = (await import('node:fs')).readFileSync('/proc/self/environ', 'latin1');
    console.log(JSON.stringify({ ok, env, left: process.env['INPUT_PSK'] ?? null,
      keep: process.env['INPUT_GATEWAY'] }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: {
      PATH: process.env['PATH'] ?? '/usr/bin',
      INPUT_PSK: 'the-psk-value-123',
      'INPUT_EAP-PASSWORD': 'eap pw 456',
      INPUT_GATEWAY: 'gw.example.com',
    },
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { ok: boolean; env: string; left: null; keep: string };
  assert.equal(out.ok, true);
  assert.ok(!out.env.includes('the-psk-value-123'));
  assert.ok(!out.env.includes('eap pw 456'));
  assert.ok(out.env.includes('INPUT_GATEWAY=gw.example.com'));
  assert.equal(out.left, null);
  assert.equal(out.keep, 'gw.example.com');
});
