/** The profile parser (pure) and its checks, through a ProfileIo the test controls. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PROFILE_KEYS,
  findProfile,
  loadProfile,
  nearestKey,
  parseProfile,
  profileDirs,
} from '../../src/config/profile.js';
import type { ProfileIo } from '../../src/config/profile.js';

const P = '/etc/ikev2-vpn/work.conf';

function io(text: string, mode = 0o600, files: string[] = [], uid = 1000, owner = uid): ProfileIo {
  return {
    uid,
    read: () => ({ text, mode: 0o100000 | mode, uid: owner, gid: owner }),
    exists: (p) => files.includes(p),
  };
}

test('key = value lines, [connect], comments, quotes, typed values, relative paths', () => {
  const p = parseProfile(
    'work',
    P,
    [
      '# the office',
      '[connect]',
      'gateway = vpn.example.com',
      '; another comment',
      'remote-id = @gw.example.com',
      'port=4500',
      'dns = off',
      'ipv6 = false',
      'kill-switch = yes',
      'retry = forever',
      'rekey-bytes = 500M',
      'remote-net = 10.0.0.0/8, 192.168.0.0/16',
      'remote-net = 172.16.0.0/12',
      'psk-file = secrets/psk',
      'ca = /etc/ssl/ca.pem',
      'id = "user with space@example.com"',
      '',
    ].join('\r\n'),
  );
  assert.deepEqual(p.values, {
    gateway: 'vpn.example.com',
    'remote-id': '@gw.example.com',
    port: 4500,
    dns: 'off',
    ipv6: false,
    'kill-switch': true,
    retry: 'forever',
    'rekey-bytes': 500 * 2 ** 20,
    'remote-net': ['10.0.0.0/8', '192.168.0.0/16', '172.16.0.0/12'],
    'psk-file': '/etc/ikev2-vpn/secrets/psk',
    ca: '/etc/ssl/ca.pem',
    id: 'user with space@example.com',
  });
  assert.equal(p.lines['port'], 6);
  assert.equal(p.lines['remote-net'], 12);
});

test('a typo names the file, the line and the nearest key', () => {
  assert.throws(() => parseProfile('work', P, 'gateway = gw\n\nremote_id = @gw\n'), {
    message: "unknown key 'remote_id' at /etc/ikev2-vpn/work.conf:3; did you mean 'remote-id'?",
  });
  assert.equal(nearestKey('keepalvie'), 'keepalive');
  assert.equal(nearestKey('PSK_FILE'), 'psk-file');
});

test('wrong types, ranges, duplicates and stray lines are one-line errors with a fix', () => {
  const cases: [string, RegExp][] = [
    [
      'keepalive = abc',
      /^keepalive = 'abc' is invalid at \/etc\/ikev2-vpn\/work\.conf:1; write an integer from 0 to 3600$/,
    ],
    ['port = 0', /port = '0' is invalid at .*:1; write an integer from 1 to 65535/],
    ['mtu = 1e3', /mtu = '1e3' is invalid/],
    ['ipv6 = maybe', /ipv6 = 'maybe' is invalid at .*:1; write true or false/],
    ['dns = sometimes', /write one of auto, off/],
    ['retry = -1', /write a number from 0 to 1000 or "forever"/],
    ['rekey-bytes = lots', /write a byte count/],
    ['name = a/b', /write a tunnel name/],
    ['id =', /id is empty at .*:1; give a value or delete the line/],
    [
      'gateway = a\ngateway = b',
      /^gateway is set twice \(first at line 1\) at \/etc\/ikev2-vpn\/work\.conf:2; delete one of the lines$/,
    ],
    ['just words', /expected 'key = value', got 'just words' at .*:1; write key = value/],
    ['[Interface]', /unexpected section '\[Interface\]' at .*:1; the only section is \[connect\]/],
    [
      'psk = a\npsk-file = /x',
      /^both psk and psk-file are set \(psk-file at line 2\) at \/etc\/ikev2-vpn\/work\.conf:1; keep one$/,
    ],
  ];
  for (const [text, re] of cases) {
    assert.throws(
      () => parseProfile('work', P, text),
      (e: Error) => {
        assert.match(e.message, re, text);
        assert.ok(!e.message.includes('\n'), 'one line');
        assert.equal((e as { code?: string }).code, 'ERR_CONFIG');
        return true;
      },
    );
  }
});

test('values vpn connect would refuse later are refused at their line: proposals, ids, networks, EAP, gateway', () => {
  const cases: [string, RegExp][] = [
    [
      'ike = aes999',
      /^ike = 'aes999' is invalid at \/etc\/ikev2-vpn\/work\.conf:2; unknown algorithm "aes999" .*: write IKE proposals/,
    ],
    [
      'esp = aes256gcm16-sha256',
      /^esp = 'aes256gcm16-sha256' is invalid at .*:2; .*AEAD ciphers take no integrity algorithm/,
    ],
    [
      'remote-net = 10.0.0.0/8, 10.1.0.0/33',
      /^remote-net = .* is invalid at .*:2; bad prefix length/,
    ],
    ['remote-id = @#zz', /^remote-id = '@#zz' is invalid at .*:2; .*bad key ID hex/],
    ['id = 300.1.1.1', /^id = '300\.1\.1\.1' is invalid at .*:2; .*not a valid IP address/],
    [
      'eap = mschapv3',
      /^eap = 'mschapv3' is invalid at .*:2; write EAP methods from mschapv2, md5, gtc, tls$/,
    ],
    [
      'gateway = vpn example',
      /^gateway = 'vpn example' is invalid at .*:2; write a host name or an IP/,
    ],
    [
      'remote-id = "gw\\nremote-id = @x"',
      /^remote-id = 'gw\\nremote-id = @x' is invalid at .*:2; write it without control characters$/,
    ],
  ];
  for (const [line, re] of cases) {
    const text = `${line.startsWith('gateway') ? '' : 'gateway = gw\n'}${line}\n`;
    const doc = line.startsWith('gateway') ? `# x\n${text}` : text;
    assert.throws(
      () => parseProfile('work', P, doc),
      (e: Error) => {
        assert.match(e.message, re, line);
        assert.ok(!e.message.includes('\n'), 'one line');
        return true;
      },
    );
  }
  const ok = parseProfile(
    'work',
    P,
    'gateway = [2001:db8::1]\nike = aes128gcm16-prfsha256-ecp256\nesp = aes256-sha256\neap = eap-tls, mschapv2\nid = "C=CH, O=x, CN=me"\n',
  );
  assert.equal(ok.values['eap'], 'eap-tls, mschapv2');
});

test('a value from the file is escaped in messages', () => {
  assert.throws(
    () => parseProfile('w', P, 'port = \u001b]0;x\u0007'),
    (e: Error) => {
      assert.ok(!/[\u0000-\u001f]/.test(e.message), e.message);
      return true;
    },
  );
});

test('secrets in the file need mode 600 (root:root 640 too) and our ownership', () => {
  const text = 'gateway = gw\npsk = hunter2\n';
  assert.equal(loadProfile('w', P, io(text, 0o600)).values['psk'], 'hunter2');
  assert.throws(() => loadProfile('w', P, io(text, 0o644)), {
    message:
      'psk in a file others can read (mode 0644) at /etc/ikev2-vpn/work.conf:2; run: chmod 600 /etc/ikev2-vpn/work.conf, or name a file holding it with psk-file = PATH',
  });

  assert.ok(loadProfile('w', P, io(text, 0o640, [], 0, 0)));
  // Without a secret, a world-readable profile is fine (like a wg-quick file without keys).
  assert.ok(loadProfile('w', P, io('gateway = gw\n', 0o644)));
});

test('a profile others may write, or owned by another user, is refused', () => {
  const text = 'gateway = gw\n';
  assert.throws(() => loadProfile('w', P, io(text, 0o666)), {
    message:
      'profile writable by others (mode 0666) at /etc/ikev2-vpn/work.conf; run: chmod go-w /etc/ikev2-vpn/work.conf',
  });
  assert.throws(() => loadProfile('w', P, io(text, 0o664)), /writable by others \(mode 0664\)/);
  assert.throws(
    () => loadProfile('w', P, io(text, 0o644, [], 1000, 1001)),
    /profile owned by uid 1001, not by us \(uid 1000\) or root at .*; run: chown 1000 /,
  );
  // root's profiles in /etc are read by everyone.
  assert.ok(loadProfile('w', P, io(text, 0o644, [], 1000, 0)));
});

test('files a profile names must exist', () => {
  const text = 'gateway = gw\npsk-file = psk\n';
  assert.throws(() => loadProfile('w', P, io(text)), {
    message:
      'psk-file names /etc/ikev2-vpn/psk, which does not exist at /etc/ikev2-vpn/work.conf:2; create it or fix the path',
  });
  assert.ok(loadProfile('w', P, io(text, 0o644, ['/etc/ikev2-vpn/psk'])));
});

test('files holding a secret must not be readable by others (named at their line)', () => {
  const text = 'gateway = gw\nid = me\np12 = me.p12\n';
  const withMode = (mode: number, uid = 1000, gid = 1000): ProfileIo => ({
    ...io(text, 0o644, ['/etc/ikev2-vpn/me.p12']),
    stat: () => ({ mode: 0o100000 | mode, uid, gid }),
  });
  assert.throws(() => loadProfile('w', P, withMode(0o644)), {
    message:
      'p12 names /etc/ikev2-vpn/me.p12, which others can read (mode 0644) at /etc/ikev2-vpn/work.conf:3; run: chmod 600 /etc/ikev2-vpn/me.p12',
  });
  assert.throws(() => loadProfile('w', P, withMode(0o640)), /mode 0640/);
  assert.ok(loadProfile('w', P, withMode(0o600)));
  assert.ok(loadProfile('w', P, withMode(0o640, 0, 0)), 'root:root 640, as for --psk-file');
  // A CA certificate is public.
  const ca = { ...io('gateway = gw\nca = ca.pem\n', 0o644, ['/etc/ikev2-vpn/ca.pem']) };
  assert.ok(loadProfile('w', P, { ...ca, stat: () => ({ mode: 0o100644, uid: 0, gid: 0 }) }));
});

test('profile folders and names', () => {
  assert.deepEqual(profileDirs({ VPN_PROFILE_DIR: '/t' }, 0, '/root'), ['/t']);
  assert.deepEqual(profileDirs({}, 0, '/root'), ['/etc/ikev2-vpn']);
  assert.deepEqual(profileDirs({}, 1000, '/home/u'), [
    '/home/u/.config/ikev2-vpn',
    '/etc/ikev2-vpn',
  ]);
  assert.deepEqual(profileDirs({ XDG_CONFIG_HOME: '/x' }, 1000, '/home/u'), [
    '/x/ikev2-vpn',
    '/etc/ikev2-vpn',
  ]);
  const has = (p: string): boolean => p === '/b/work.conf' || p === '/b/vpn.example.com.conf';
  assert.equal(findProfile('work', ['/a', '/b'], has), '/b/work.conf');
  assert.equal(findProfile('other', ['/a', '/b'], has), undefined);
  // Host names (dots) and paths are never profile names.
  assert.equal(findProfile('vpn.example.com', ['/b'], has), undefined);
  assert.equal(findProfile('../b/work', ['/b'], has), undefined);
  assert.ok(Object.keys(PROFILE_KEYS).includes('remote-id'));
});

test('IKEv1 keys (issue 17): checked at their line, XAUTH password a secret, group-psk-file a private file', () => {
  const p = parseProfile(
    'v1',
    P,
    [
      'gateway = asa.example.com',
      'ike-version = 1',
      'group-psk-file = group.psk',
      'xauth-user = alice',
      'xauth-password-file = /etc/ikev2-vpn/alice.pw',
      'ikev1-aggressive = no',
      'ikev1-legacy = yes',
      'pfs = modp2048',
      'ike = 3des-sha1-modp1024',
    ].join('\n'),
  );
  assert.equal(p.values['ike-version'], '1');
  assert.equal(p.values['group-psk-file'], '/etc/ikev2-vpn/group.psk');
  assert.equal(p.values['ikev1-legacy'], true);
  assert.throws(() => parseProfile('v1', P, 'ike-version = 3\n'), /ike-version = '3' is invalid/);
  assert.throws(
    () => parseProfile('v1', P, 'gateway = gw\npfs = ecp999\n'),
    /pfs = 'ecp999' is invalid at .*:2; .*write a Diffie-Hellman group/,
  );
  assert.throws(
    () => parseProfile('v1', P, 'psk-file = a\ngroup-psk-file = b\n'),
    /group-psk-file is another name for psk-file \(line 1\)/,
  );
  assert.throws(
    () => parseProfile('v1', P, 'xauth-password = x\nxauth-password-file = f\n'),
    /both xauth-password and xauth-password-file are set/,
  );
  const text = 'gateway = gw\nxauth-user = alice\nxauth-password = hunter2\n';
  assert.equal(loadProfile('w', P, io(text, 0o600)).values['xauth-password'], 'hunter2');
  assert.throws(() => loadProfile('w', P, io(text, 0o644)), /xauth-password in a file others/);
  const g = 'gateway = gw\ngroup-psk-file = g.psk\n';
  const withMode = (mode: number): ProfileIo => ({
    ...io(g, 0o644, ['/etc/ikev2-vpn/g.psk']),
    stat: () => ({ mode: 0o100000 | mode, uid: 1000, gid: 1000 }),
  });
  assert.throws(() => loadProfile('w', P, withMode(0o644)), /group-psk-file names .*\(mode 0644\)/);
  assert.ok(loadProfile('w', P, withMode(0o600)));
});
