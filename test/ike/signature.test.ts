/**
 * IKE AUTH signatures: RFC 7296 §3.8 method 1, RFC 4754 methods 9/10/11, RFC 7427 method 14
 * (known-answer AlgorithmIdentifiers from RFC 7427 Appendix A and RFC 8420 §2, an RFC 8032
 * Ed25519 vector), round trips for every key type, and the rejections of verifyAuth.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  constants,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
} from 'node:crypto';
import type { KeyObject, RSAPSSKeyPairKeyObjectOptions } from 'node:crypto';
import fc from 'fast-check';
import { ParseError, VpnError } from '../../src/core/errors.js';
import { AuthMethod } from '../../src/ike/constants.js';
import {
  HashAlgorithm,
  decodeSignatureAlgorithm,
  encodeSignatureAlgorithm,
  signAuth,
  supportedHashes,
  verifyAuth,
} from '../../src/ike/auth/signature.js';
import type { AuthSignatureAlgorithm } from '../../src/ike/auth/signature.js';
import { Certificate, pemToDer } from '../../src/pki/x509.js';
import { findRepoFile } from '../support/paths.js';

const FIXTURES = findRepoFile('test/pki/fixtures');
const read = (f: string): string => readFileSync(join(FIXTURES, f), 'utf8');
const privateKey = (n: string): KeyObject => createPrivateKey(read(`${n}.key`));
const certKey = (n: string): KeyObject =>
  Certificate.fromDer(pemToDer(read(`${n}.crt`))[0]!).publicKey;

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array =>
  new Uint8Array(Buffer.from(s.replace(/[\s,]|0x/g, ''), 'hex'));

const OCTETS = new TextEncoder().encode(
  'RealMessage1 | Nr | prf(SK_pi, IDi) — stand-in AUTH octets',
);
const OURS = supportedHashes();

/** The AlgorithmIdentifier inside a method 14 AUTH payload (RFC 7427 §3). */
function algId(data: Uint8Array): Uint8Array {
  return data.subarray(1, 1 + data[0]!);
}

function mustVerify(key: KeyObject, method: number, data: Uint8Array, octets = OCTETS): string {
  const v = verifyAuth(key, method, data, octets, { ourHashes: OURS });
  assert.ok(v.ok, v.ok ? '' : v.reason);
  return v.description;
}

function mustFail(
  key: KeyObject,
  method: number,
  data: Uint8Array,
  pattern?: RegExp,
  ours = OURS,
  octets = OCTETS,
): void {
  const v = verifyAuth(key, method, data, octets, { ourHashes: ours });
  assert.ok(!v.ok, 'expected a rejection');
  if (pattern) assert.match(v.reason, pattern);
}

test('RFC 7427 §7 hash numbers and what we announce', () => {
  assert.deepEqual(HashAlgorithm, { SHA1: 1, SHA2_256: 2, SHA2_384: 3, SHA2_512: 4, IDENTITY: 5 });
  assert.deepEqual(supportedHashes(), [2, 3, 4, 5]);
  assert.ok(!supportedHashes().includes(1), 'no SHA-1 for method 14 by default');
});

test('known answers: AlgorithmIdentifiers of RFC 7427 Appendix A and RFC 8420 §2', () => {
  const cases: [AuthSignatureAlgorithm, string][] = [
    // A.1.1-A.1.4 sha*WithRSAEncryption
    [{ kind: 'rsa-pkcs1', hash: 1 }, '300d06092a864886f70d0101050500'],
    [{ kind: 'rsa-pkcs1', hash: 2 }, '300d06092a864886f70d01010b0500'],
    [{ kind: 'rsa-pkcs1', hash: 3 }, '300d06092a864886f70d01010c0500'],
    [{ kind: 'rsa-pkcs1', hash: 4 }, '300d06092a864886f70d01010d0500'],
    // A.3.1-A.3.4 ecdsa-with-SHA*
    [{ kind: 'ecdsa', hash: 1 }, '300906072a8648ce3d0401'],
    [{ kind: 'ecdsa', hash: 2 }, '300a06082a8648ce3d040302'],
    [{ kind: 'ecdsa', hash: 3 }, '300a06082a8648ce3d040303'],
    [{ kind: 'ecdsa', hash: 4 }, '300a06082a8648ce3d040304'],
    // RFC 8420 §2
    [{ kind: 'ed25519' }, '300506032b6570'],
    [{ kind: 'ed448' }, '300506032b6571'],
    // A.4.3 RSASSA-PSS with SHA-256, as corrected by the RFC's errata (no DEFAULT trailerField)
    [
      { kind: 'rsa-pss', hash: 2, mgf1Hash: 2, saltLength: 32 },
      '3041 06092a864886f70d01010a 3034 a00f300d0609608648016503040201 0500 a11c301a06092a864886f70d010108300d06096086480165030402010500 a203020120',
    ],
  ];
  for (const [alg, want] of cases) {
    const enc = encodeSignatureAlgorithm(alg);
    assert.equal(hex(enc), hex(unhex(want)), JSON.stringify(alg));
    assert.deepEqual(decodeSignatureAlgorithm(enc), alg);
  }
});

test('RSASSA-PSS parameters as RFC 7427 A.4 printed them (with trailerField) and with defaults', () => {
  // A.4.3 as published: explicit trailerField 1.
  const a43 = unhex(
    '3046 06092a864886f70d01010a 3039 a00f300d06096086480165030402010500 a11c301a06092a864886f70d010108300d06096086480165030402010500 a203020120 a303020101',
  );
  assert.deepEqual(decodeSignatureAlgorithm(a43), {
    kind: 'rsa-pss',
    hash: 2,
    mgf1Hash: 2,
    saltLength: 32,
  });
  // A.4.1: empty parameters mean SHA-1, MGF1-SHA-1, salt 20 (RFC 4055 §3.1 defaults).
  assert.deepEqual(decodeSignatureAlgorithm(unhex('300d06092a864886f70d01010a3000')), {
    kind: 'rsa-pss',
    hash: 1,
    mgf1Hash: 1,
    saltLength: 20,
  });
  // A.4.2: the defaults spelled out.
  const a42 = unhex(
    '303e06092a864886f70d01010a3031a00b300906052b0e03021a0500a118301606092a864886f70d010108300906052b0e03021a0500a203020114a303020101',
  );
  assert.deepEqual(decodeSignatureAlgorithm(a42), {
    kind: 'rsa-pss',
    hash: 1,
    mgf1Hash: 1,
    saltLength: 20,
  });
  // SHA-512 with salt 64, the encoding we send.
  const enc = encodeSignatureAlgorithm({ kind: 'rsa-pss', hash: 4, mgf1Hash: 4, saltLength: 64 });
  assert.equal(
    hex(enc),
    '304106092a864886f70d01010a3034a00f300d06096086480165030402030500' +
      'a11c301a06092a864886f70d010108300d06096086480165030402030500a203020140',
  );
});

test('decodeSignatureAlgorithm rejects malformed and unsupported identifiers', () => {
  const bad = [
    '', // nothing
    '3000', // no OID
    '300d06092a864886f70d01010b05', // truncated
    '300f06092a864886f70d01010b05000000', // trailing bytes inside
    '300d06092a864886f70d01010e0500', // sha224WithRSAEncryption: not in RFC 7427's list for IKE
    '300706032b657005 00'.replace(' ', ''), // Ed25519 with parameters
    '300c06082a8648ce3d0403020500', // ECDSA with NULL parameters
    '300e06092a864886f70d01010b0101ff', // RSA with BOOLEAN parameters
    '301206092a864886f70d01010a3005a303020102', // PSS trailerField 2
    '302b06092a864886f70d01010a301ea11c301a06092a864886f70d010100300d06096086480165030402010500', // unknown MGF
    '301e06092a864886f70d01010a3011a00f300d06096086480165030402000500', // unknown hash
    '301406092a864886f70d01010a3007a205020300ffff', // absurd salt length
    '301206092a864886f70d01010a3005a203020120a0', // junk
  ];
  for (const b of bad) {
    assert.throws(
      () => decodeSignatureAlgorithm(unhex(b)),
      (e: unknown) => e instanceof ParseError || (e instanceof VpnError && e.code === 'ERR_CRYPTO'),
      b,
    );
  }
});

test('RFC 8032 §7.1 test 1 through method 14: a deterministic Ed25519 AUTH payload', () => {
  const b64u = (h: string): string => Buffer.from(h, 'hex').toString('base64url');
  const d = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
  const x = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
  const key = createPrivateKey({
    key: { kty: 'OKP', crv: 'Ed25519', d: b64u(d), x: b64u(x) },
    format: 'jwk',
  });
  const sig = signAuth(key, new Uint8Array(0), { peerHashes: [5] });
  assert.equal(sig.method, AuthMethod.DIGITAL_SIGNATURE);
  assert.equal(
    hex(sig.data),
    '07' +
      '300506032b6570' +
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  );
  const pub = createPublicKey(key);
  assert.ok(verifyAuth(pub, sig.method, sig.data, new Uint8Array(0), { ourHashes: OURS }).ok);
});

test("RSA: method 1 (SHA-1) without the peer's hashes, method 14 with the best common hash", () => {
  const key = privateKey('gw-rsa');
  const pub = certKey('gw-rsa');
  const legacy = signAuth(key, OCTETS, { peerHashes: [] });
  assert.equal(legacy.method, AuthMethod.RSA_SIG);
  assert.equal(legacy.data.length, 256);
  assert.match(mustVerify(pub, legacy.method, legacy.data), /SHA-1/);
  // PKCS#1 v1.5 is deterministic: node:crypto computes the same bytes.
  assert.deepEqual(legacy.data, new Uint8Array(sign('sha1', OCTETS, key)));

  const expect: [number[], string][] = [
    [[2], '300d06092a864886f70d01010b0500'],
    [[2, 3], '300d06092a864886f70d01010c0500'],
    [[1, 2, 3, 4, 5], '300d06092a864886f70d01010d0500'],
    [[4, 2], '300d06092a864886f70d01010d0500'],
  ];
  for (const [peer, ai] of expect) {
    const s = signAuth(key, OCTETS, { peerHashes: peer });
    assert.equal(s.method, AuthMethod.DIGITAL_SIGNATURE);
    assert.equal(hex(algId(s.data)), ai);
    assert.equal(s.data[0], 15);
    assert.equal(s.data.length, 1 + 15 + 256);
    assert.match(mustVerify(pub, s.method, s.data), /WithRSAEncryption/);
  }
  // Only SHA-1 or Identity announced: nothing better than method 1.
  assert.equal(signAuth(key, OCTETS, { peerHashes: [1, 5] }).method, AuthMethod.RSA_SIG);
  // preferDigitalSignature forces either way.
  assert.equal(
    signAuth(key, OCTETS, { peerHashes: [2, 3, 4], preferDigitalSignature: false }).method,
    1,
  );
  const forced = signAuth(key, OCTETS, { peerHashes: [], preferDigitalSignature: true });
  assert.equal(forced.method, 14);
  assert.equal(hex(algId(forced.data)), '300d06092a864886f70d01010b0500');
  mustVerify(pub, forced.method, forced.data);
});

test('RSA key signing RSASSA-PSS (rsaPss option): salt = hash length, MGF1 with the same hash', () => {
  const key = privateKey('gw-rsa');
  const pub = certKey('gw-rsa');
  for (const [peer, hash] of [
    [[2], 2],
    [[2, 3], 3],
    [[2, 3, 4], 4],
  ] as const) {
    const s = signAuth(key, OCTETS, { peerHashes: [...peer], rsaPss: true });
    assert.equal(s.method, 14);
    const alg = decodeSignatureAlgorithm(algId(s.data));
    assert.deepEqual(alg, {
      kind: 'rsa-pss',
      hash,
      mgf1Hash: hash,
      saltLength: [0, 20, 32, 48, 64][hash],
    });
    assert.match(mustVerify(pub, s.method, s.data), /RSASSA-PSS/);
  }
});

test('RSA-PSS keys (id-RSASSA-PSS SubjectPublicKeyInfo) always use method 14 with PSS', () => {
  const key = privateKey('gw-pss');
  const pub = certKey('gw-pss');
  assert.equal(pub.asymmetricKeyType, 'rsa-pss');
  const a = signAuth(key, OCTETS, { peerHashes: [] });
  assert.equal(a.method, 14);
  assert.deepEqual(decodeSignatureAlgorithm(algId(a.data)), {
    kind: 'rsa-pss',
    hash: 2,
    mgf1Hash: 2,
    saltLength: 32,
  });
  mustVerify(pub, a.method, a.data);
  const b = signAuth(key, OCTETS, { peerHashes: [2, 3, 4, 5] });
  assert.deepEqual(decodeSignatureAlgorithm(algId(b.data)), {
    kind: 'rsa-pss',
    hash: 4,
    mgf1Hash: 4,
    saltLength: 64,
  });
  mustVerify(pub, b.method, b.data);
  // A PSS key cannot verify PKCS#1 v1.5.
  const v15 = signAuth(privateKey('gw-rsa'), OCTETS, { peerHashes: [2] });
  mustFail(pub, v15.method, v15.data, /RSA-PSS key/);
  mustFail(pub, 1, signAuth(privateKey('gw-rsa'), OCTETS, { peerHashes: [] }).data, /RSA-PSS key/);
});

test('RSA-PSS key restricted to SHA-384 by its parameters', () => {
  // @types/node 20 declares saltLength as a string; node:crypto wants a number.
  const options = {
    modulusLength: 2048,
    hashAlgorithm: 'sha384',
    mgf1HashAlgorithm: 'sha384',
    saltLength: 48,
  };
  const { privateKey: key, publicKey: pub } = generateKeyPairSync(
    'rsa-pss',
    options as unknown as RSAPSSKeyPairKeyObjectOptions,
  );
  const s = signAuth(key, OCTETS, { peerHashes: [2, 3, 4] });
  assert.deepEqual(decodeSignatureAlgorithm(algId(s.data)), {
    kind: 'rsa-pss',
    hash: 3,
    mgf1Hash: 3,
    saltLength: 48,
  });
  mustVerify(pub, s.method, s.data);
  assert.throws(
    () => signAuth(key, OCTETS, { peerHashes: [2] }),
    (e: unknown) => e instanceof VpnError && e.code === 'ERR_CERT' && /SHA-384/.test(e.message),
  );
});

test('ECDSA: methods 9/10/11 (RFC 4754 r‖s) without hashes, method 14 (DER) with them', () => {
  const p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' });
  const keys: [string, KeyObject, KeyObject, number, number][] = [
    ['P-256', privateKey('gw-ecdsa'), certKey('gw-ecdsa'), AuthMethod.ECDSA_SHA256_P256, 64],
    ['P-384', privateKey('int-ca'), certKey('int-ca'), AuthMethod.ECDSA_SHA384_P384, 96],
    ['P-521', p521.privateKey, p521.publicKey, AuthMethod.ECDSA_SHA512_P521, 132],
  ];
  for (const [curve, key, pub, method, len] of keys) {
    const legacy = signAuth(key, OCTETS, { peerHashes: [] });
    assert.equal(legacy.method, method, curve);
    assert.equal(legacy.data.length, len, curve);
    assert.match(mustVerify(pub, legacy.method, legacy.data), new RegExp(curve));
    for (const [peer, ai] of [
      [[2], '300a06082a8648ce3d040302'],
      [[2, 3], '300a06082a8648ce3d040303'],
      [[2, 3, 4, 5], '300a06082a8648ce3d040304'],
    ] as const) {
      const s = signAuth(key, OCTETS, { peerHashes: [...peer] });
      assert.equal(s.method, 14);
      assert.equal(hex(algId(s.data)), ai);
      const sig = s.data.subarray(1 + s.data[0]!);
      assert.equal(sig[0], 0x30, 'ECDSA-Sig-Value is a DER SEQUENCE');
      assert.match(mustVerify(pub, s.method, s.data), /ecdsa-with-SHA/);
    }
  }
  // A curve without a legacy method (secp256k1) signs with method 14 even without hashes.
  const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
  const s = signAuth(k1.privateKey, OCTETS, { peerHashes: [] });
  assert.equal(s.method, 14);
  mustVerify(k1.publicKey, s.method, s.data);
  // ... and its key is refused for method 9.
  const p256 = signAuth(privateKey('gw-ecdsa'), OCTETS, { peerHashes: [] });
  mustFail(k1.publicKey, p256.method, p256.data, /P-256/);
});

test('Ed25519 and Ed448: method 14 with the Identity hash, the octets signed directly', () => {
  const ed448 = generateKeyPairSync('ed448');
  const keys: [string, KeyObject, KeyObject][] = [
    ['Ed25519', privateKey('gw-ed25519'), certKey('gw-ed25519')],
    ['Ed448', ed448.privateKey, ed448.publicKey],
  ];
  for (const [name, key, pub] of keys) {
    for (const peer of [[], [5], [2, 3, 4, 5]]) {
      const s = signAuth(key, OCTETS, { peerHashes: peer });
      assert.equal(s.method, 14);
      assert.equal(hex(algId(s.data)), name === 'Ed25519' ? '300506032b6570' : '300506032b6571');
      assert.equal(s.data.length, 1 + 7 + (name === 'Ed25519' ? 64 : 114));
      assert.match(mustVerify(pub, s.method, s.data), new RegExp(`${name} \\(RFC 8420\\)`));
    }
  }
  // Without Identity in our hashes, EdDSA is refused.
  const s = signAuth(privateKey('gw-ed25519'), OCTETS, { peerHashes: [5] });
  mustFail(certKey('gw-ed25519'), s.method, s.data, /Identity/, [2, 3, 4]);
  // Ed25519 signature, Ed448 key.
  mustFail(ed448.publicKey, s.method, s.data, /ED448 key/);
});

test('verifyAuth rejects tampered octets and signatures, and the wrong key', () => {
  const cases: [string, KeyObject, KeyObject, number[]][] = [
    ['gw-rsa', privateKey('gw-rsa'), certKey('gw-rsa'), []],
    ['gw-rsa', privateKey('gw-rsa'), certKey('gw-rsa'), [2]],
    ['gw-pss', privateKey('gw-pss'), certKey('gw-pss'), [3]],
    ['gw-ecdsa', privateKey('gw-ecdsa'), certKey('gw-ecdsa'), []],
    ['gw-ecdsa', privateKey('gw-ecdsa'), certKey('gw-ecdsa'), [4]],
    ['gw-ed25519', privateKey('gw-ed25519'), certKey('gw-ed25519'), [5]],
  ];
  const wrong: Record<string, KeyObject> = {
    'gw-rsa': certKey('client-rsa'),
    'gw-pss': generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).publicKey,
    'gw-ecdsa': certKey('client-ecdsa'),
    'gw-ed25519': generateKeyPairSync('ed25519').publicKey,
  };
  for (const [n, key, pub, peer] of cases) {
    const s = signAuth(key, OCTETS, { peerHashes: peer });
    mustVerify(pub, s.method, s.data);
    const octets = OCTETS.slice();
    octets[7]! ^= 0x20;
    mustFail(pub, s.method, s.data, /does not verify/, OURS, octets);
    const data = s.data.slice();
    data[data.length - 3]! ^= 0x01;
    mustFail(pub, s.method, data);
    mustFail(wrong[n]!, s.method, s.data, /does not verify/);
    // A longer or shorter message is another message.
    mustFail(pub, s.method, s.data, undefined, OURS, OCTETS.subarray(1));
  }
});

test('verifyAuth rejects a hash we did not announce, and SHA-1 in method 14 unless announced', () => {
  const key = privateKey('gw-rsa');
  const pub = certKey('gw-rsa');
  const s512 = signAuth(key, OCTETS, { peerHashes: [4] });
  mustFail(pub, s512.method, s512.data, /SHA-512, which we did not announce/, [2, 3, 5]);
  // A method 14 sha1WithRSAEncryption payload, built by hand.
  const ai = encodeSignatureAlgorithm({ kind: 'rsa-pkcs1', hash: 1 });
  const sig = sign('sha1', OCTETS, { key, padding: constants.RSA_PKCS1_PADDING });
  const data = new Uint8Array([ai.length, ...ai, ...sig]);
  mustFail(pub, 14, data, /SHA-1, which we did not announce/);
  const v = verifyAuth(pub, 14, data, OCTETS, { ourHashes: [1, 2] });
  assert.ok(v.ok);
  // ECDSA with SHA-1, also refused by default.
  const eai = encodeSignatureAlgorithm({ kind: 'ecdsa', hash: 1 });
  const esig = sign('sha1', OCTETS, { key: privateKey('gw-ecdsa'), dsaEncoding: 'der' });
  const edata = new Uint8Array([eai.length, ...eai, ...esig]);
  mustFail(certKey('gw-ecdsa'), 14, edata, /SHA-1/);
  assert.ok(verifyAuth(certKey('gw-ecdsa'), 14, edata, OCTETS, { ourHashes: [1] }).ok);
});

test('verifyAuth rejects a key type that does not match the method or algorithm', () => {
  const rsa = certKey('gw-rsa');
  const ec256 = certKey('gw-ecdsa');
  const ec384 = certKey('int-ca');
  const ed = certKey('gw-ed25519');
  const rsa14 = signAuth(privateKey('gw-rsa'), OCTETS, { peerHashes: [2] });
  mustFail(ec256, rsa14.method, rsa14.data, /EC P-256 key/);
  mustFail(ed, rsa14.method, rsa14.data, /ED25519 key/);
  const rsa1 = signAuth(privateKey('gw-rsa'), OCTETS, { peerHashes: [] });
  mustFail(ec256, rsa1.method, rsa1.data, /method 1/);
  const ec9 = signAuth(privateKey('gw-ecdsa'), OCTETS, { peerHashes: [] });
  mustFail(ec384, ec9.method, ec9.data, /P-256.*EC P-384 key/);
  mustFail(rsa, ec9.method, ec9.data, /RSA key/);
  const ec14 = signAuth(privateKey('gw-ecdsa'), OCTETS, { peerHashes: [2] });
  mustFail(rsa, ec14.method, ec14.data, /RSA key/);
  const ed14 = signAuth(privateKey('gw-ed25519'), OCTETS, { peerHashes: [5] });
  mustFail(ec256, ed14.method, ed14.data, /EC P-256 key/);
  const pss = signAuth(privateKey('gw-pss'), OCTETS, { peerHashes: [2] });
  mustFail(ec256, pss.method, pss.data, /EC P-256 key/);
  // The same ECDSA signature is valid with method 14 on any curve (RFC 7427 does not tie them).
  const ec14b = signAuth(privateKey('int-ca'), OCTETS, { peerHashes: [2] });
  mustVerify(ec384, ec14b.method, ec14b.data);
});

test('verifyAuth rejects truncated, garbage and inconsistent AUTH data', () => {
  const pub = certKey('gw-rsa');
  const good = signAuth(privateKey('gw-rsa'), OCTETS, { peerHashes: [2] }).data;
  mustFail(pub, 14, new Uint8Array(0), /too short/);
  mustFail(pub, 14, Uint8Array.of(0), /too short/);
  mustFail(pub, 14, Uint8Array.of(0, 1, 2, 3), /too short/);
  mustFail(pub, 14, good.subarray(0, 16), /too short/, OURS);
  mustFail(pub, 14, Uint8Array.of(255, ...good.subarray(1, 250)), /too short/);
  mustFail(pub, 14, Uint8Array.of(200, ...good.subarray(1)), /AlgorithmIdentifier/);
  // A shorter length cuts the AlgorithmIdentifier: malformed DER.
  mustFail(pub, 14, Uint8Array.of(14, ...good.subarray(1)), /AlgorithmIdentifier/);
  // A longer one makes the signature's first byte part of it: trailing data.
  mustFail(pub, 14, Uint8Array.of(16, ...good.subarray(1)), /AlgorithmIdentifier/);
  const garbage = Uint8Array.of(5, 0x30, 0x03, 0x06, 0x01, 0xff, 1, 2, 3);
  mustFail(pub, 14, garbage, /AlgorithmIdentifier/);
  mustFail(pub, 14, Uint8Array.of(3, 0x04, 0x01, 0x00, 9, 9), /AlgorithmIdentifier/);
  // sha224WithRSAEncryption is not accepted.
  const sha224 = unhex('300d06092a864886f70d01010e0500');
  mustFail(
    pub,
    14,
    new Uint8Array([sha224.length, ...sha224, ...good.subarray(16)]),
    /unsupported/,
  );
  // PSS: a signature made with salt 32 but declared as salt 20; MGF1 with another hash.
  const pss = signAuth(privateKey('gw-rsa'), OCTETS, { peerHashes: [2], rsaPss: true });
  const sig = pss.data.subarray(1 + pss.data[0]!);
  const salt20 = encodeSignatureAlgorithm({
    kind: 'rsa-pss',
    hash: 2,
    mgf1Hash: 2,
    saltLength: 20,
  });
  mustFail(pub, 14, new Uint8Array([salt20.length, ...salt20, ...sig]), /does not verify/);
  const mgf = encodeSignatureAlgorithm({ kind: 'rsa-pss', hash: 2, mgf1Hash: 3, saltLength: 32 });
  mustFail(pub, 14, new Uint8Array([mgf.length, ...mgf, ...sig]), /MGF1/);
  // Legacy ECDSA with a DER signature instead of r‖s.
  const ec14 = signAuth(privateKey('gw-ecdsa'), OCTETS, { peerHashes: [2] }).data;
  mustFail(certKey('gw-ecdsa'), 9, ec14.subarray(1 + ec14[0]!), /expected 64/);
  // Methods that are not signatures.
  mustFail(pub, AuthMethod.SHARED_KEY_MIC, good, /not a signature method/);
  mustFail(pub, AuthMethod.NULL_AUTH, good);
  mustFail(pub, 1, new Uint8Array(0), /empty/);
});

test('signAuth refuses public keys and key types that cannot sign', () => {
  assert.throws(
    () => signAuth(certKey('gw-rsa'), OCTETS, { peerHashes: [] }),
    (e: unknown) => e instanceof VpnError && e.code === 'ERR_CERT',
  );
  const x = generateKeyPairSync('x25519');
  assert.throws(
    () => signAuth(x.privateKey, OCTETS, { peerHashes: [] }),
    (e: unknown) => e instanceof VpnError && e.code === 'ERR_CERT' && /x25519/.test(e.message),
  );
});

test('property: verifyAuth never throws, whatever the method and data', () => {
  const keys = [certKey('gw-rsa'), certKey('gw-ecdsa'), certKey('gw-ed25519'), certKey('gw-pss')];
  const good = [
    signAuth(privateKey('gw-rsa'), OCTETS, { peerHashes: [2], rsaPss: true }).data,
    signAuth(privateKey('gw-ecdsa'), OCTETS, { peerHashes: [3] }).data,
  ];
  fc.assert(
    fc.property(
      fc.constantFrom(...keys),
      fc.constantFrom(1, 2, 9, 10, 11, 14, 255),
      fc.oneof(
        fc.uint8Array({ maxLength: 300 }),
        fc
          .tuple(fc.constantFrom(...good), fc.nat(), fc.integer({ min: 1, max: 255 }))
          .map(([g, p, x]) => {
            const d = g.slice();
            d[p % d.length]! ^= x;
            return d;
          }),
      ),
      (key, method, data) => {
        const v = verifyAuth(key, method, data, OCTETS, { ourHashes: [1, 2, 3, 4, 5] });
        assert.equal(typeof v.ok, 'boolean');
        if (!v.ok) assert.ok(v.reason.length > 0);
      },
    ),
    { numRuns: 500, seed: 17 },
  );
});
