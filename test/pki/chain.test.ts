/**
 * Certification paths (RFC 5280 §6, RFC 4945 §5): building through intermediates in any order,
 * and each failure with its error code: ERR_CERT_UNTRUSTED, ERR_CERT_EXPIRED, ERR_CERT.
 * Fixtures from scripts/make-test-pki.sh, plus certificates built here with der.ts for cases the
 * tools cannot make (unknown critical extension, X.509 v1 root, names in other string types).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairSync, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { ParseError, VpnError } from '../../src/core/errors.js';
import { Tag, oid, seq, tlv } from '../../src/pki/der.js';
import { verifyChain } from '../../src/pki/chain.js';
import type { ChainResult } from '../../src/pki/chain.js';
import { Certificate, pemToDer } from '../../src/pki/x509.js';
import { findRepoFile } from '../support/paths.js';

const FIXTURES = findRepoFile('test/pki/fixtures');
const cache = new Map<string, Certificate>();
function cert(name: string): Certificate {
  let c = cache.get(name);
  if (!c) {
    c = Certificate.fromDer(pemToDer(readFileSync(join(FIXTURES, `${name}.crt`), 'utf8'))[0]!);
    cache.set(name, c);
  }
  return c;
}

const NOW = Date.UTC(2030, 0, 1);

function chain(
  leaf: string,
  intermediates: string[] = [],
  anchors = ['root-ca'],
  now = NOW,
): ChainResult {
  return verifyChain({
    leaf: cert(leaf),
    intermediates: intermediates.map(cert),
    anchors: anchors.map(cert),
    now,
  });
}

function failure(r: ChainResult): VpnError {
  assert.ok(!r.ok, 'expected a failure');
  return r.error;
}

test('a gateway certificate chains through the intermediate to the root', () => {
  const r = chain('gw-ecdsa', ['int-ca']);
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  assert.deepEqual(
    r.path.map((c) => c.commonNames.at(-1)),
    ['gw-ecdsa.test', 'Test Intermediate CA', 'Test Root CA'],
  );
  assert.ok(chain('gw-ed25519', ['int-ca']).ok);
  assert.ok(chain('client-ecdsa', ['int-ca']).ok);
});

test('directly under the root: RSA, RSA-PSS-signed, client certificates', () => {
  for (const n of ['gw-rsa', 'gw-pss', 'client-rsa', 'cn-only', 'cn-ip']) {
    const r = chain(n);
    assert.ok(r.ok, n);
    assert.equal(r.path.length, 2);
  }
});

test('intermediates in any order, unrelated extras and duplicates ignored', () => {
  const r = chain('gw-ecdsa', ['evil-ca', 'client-rsa', 'sub-ca', 'int-ca', 'int-ca', 'gw-ecdsa']);
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  assert.equal(r.path.length, 3);
});

test('the peer may send the root too; the intermediate may itself be the anchor', () => {
  const a = chain('gw-ecdsa', ['root-ca', 'int-ca']);
  assert.ok(a.ok);
  assert.equal(a.path.length, 3);
  const b = chain('gw-ecdsa', [], ['int-ca']);
  assert.ok(b.ok);
  assert.equal(b.path.length, 2);
});

test('the leaf itself as a trust anchor', () => {
  const r = chain('gw-rsa', [], ['gw-rsa']);
  assert.ok(r.ok);
  assert.deepEqual(r.path, [cert('gw-rsa')]);
  // Dates still apply to a trusted leaf.
  assert.equal(failure(chain('expired', [], ['expired'])).code, 'ERR_CERT_EXPIRED');
  assert.equal(failure(chain('nodigsig', [], ['nodigsig'])).code, 'ERR_CERT');
});

test('ERR_CERT_UNTRUSTED: a gateway certificate from a CA we do not trust', () => {
  const e = failure(chain('evil-gw'));
  assert.equal(e.code, 'ERR_CERT_UNTRUSTED');
  assert.equal(
    e.message,
    'certificate C=CH, O=ikev2-vpn test, CN=gw.test issued by CN=Evil CA is not trusted: no trust anchor for CN=Evil CA; pass --ca',
  );
  // ... even when it sends its CA along.
  const e2 = failure(chain('evil-gw', ['evil-ca']));
  assert.equal(e2.code, 'ERR_CERT_UNTRUSTED');
  assert.match(e2.message, /no trust anchor for CN=Evil CA/);
  // ... and when the peer's chain is trusted by someone else.
  assert.equal(failure(chain('gw-rsa', [], ['evil-ca'])).code, 'ERR_CERT_UNTRUSTED');
  assert.equal(failure(chain('gw-rsa', [], [])).code, 'ERR_CERT_UNTRUSTED');
});

test('ERR_CERT_UNTRUSTED: the intermediate is missing', () => {
  const e = failure(chain('gw-ecdsa'));
  assert.equal(e.code, 'ERR_CERT_UNTRUSTED');
  assert.match(e.message, /CN=gw-ecdsa\.test/);
  assert.match(e.message, /no trust anchor for C=CH, O=ikev2-vpn test, CN=Test Intermediate CA/);
});

test('ERR_CERT_EXPIRED: expired and not yet valid, with ISO dates and the certificate', () => {
  const e = failure(chain('expired'));
  assert.equal(e.code, 'ERR_CERT_EXPIRED');
  assert.match(e.message, /CN=expired\.test/);
  assert.match(e.message, /expired on 2021-01-01T00:00:00\.000Z/);
  assert.match(e.message, /now 2030-01-01T00:00:00\.000Z/);
  const f = failure(chain('future'));
  assert.equal(f.code, 'ERR_CERT_EXPIRED');
  assert.match(f.message, /CN=future\.test.*not valid before 2090-01-01T00:00:00\.000Z/);
  // Time comes only from `now`.
  assert.ok(chain('expired', [], ['root-ca'], Date.UTC(2020, 6, 1)).ok);
  assert.ok(chain('future', [], ['root-ca'], Date.UTC(2095, 0, 1)).ok);
  const leaf = cert('expired');
  assert.ok(chain('expired', [], ['root-ca'], leaf.notAfter).ok, 'notAfter itself is valid');
  assert.equal(
    failure(chain('expired', [], ['root-ca'], leaf.notAfter + 1)).code,
    'ERR_CERT_EXPIRED',
  );
  assert.equal(
    failure(chain('gw-ecdsa', ['int-ca'], ['root-ca'], Date.UTC(2019, 0, 1))).code,
    'ERR_CERT_EXPIRED',
  );
});

test('ERR_CERT: keyUsage without digitalSignature on the end entity', () => {
  const e = failure(chain('nodigsig'));
  assert.equal(e.code, 'ERR_CERT');
  assert.match(e.message, /CN=nodigsig\.test.*keyEncipherment.*lacks digitalSignature/);
});

test('ERR_CERT: an end-entity certificate used as an issuer', () => {
  const e = failure(chain('notca-child', ['notca']));
  assert.equal(e.code, 'ERR_CERT');
  assert.match(e.message, /CN=notca\.test.*is not a CA certificate/);
});

test('ERR_CERT: a CA whose keyUsage lacks keyCertSign', () => {
  const e = failure(chain('nosign-leaf', ['nosign-ca']));
  assert.equal(e.code, 'ERR_CERT');
  assert.match(e.message, /No keyCertSign CA.*lacks keyCertSign/);
});

test('ERR_CERT: pathLen 0 on the intermediate forbids a sub-CA below it', () => {
  assert.ok(
    chain('sub-leaf', ['sub-ca', 'int-ca'], ['sub-ca']).ok,
    'fine when the sub-CA is the anchor',
  );
  const e = failure(chain('sub-leaf', ['int-ca', 'sub-ca']));
  assert.equal(e.code, 'ERR_CERT');
  assert.match(e.message, /Test Intermediate CA.*pathLen 0/);
});

test('ERR_CERT: a path longer than maxDepth', () => {
  assert.ok(
    verifyChain({
      leaf: cert('gw-ecdsa'),
      intermediates: [cert('int-ca')],
      anchors: [cert('root-ca')],
      now: NOW,
      maxDepth: 3,
    }).ok,
  );
  const r = verifyChain({
    leaf: cert('gw-ecdsa'),
    intermediates: [cert('int-ca')],
    anchors: [cert('root-ca')],
    now: NOW,
    maxDepth: 2,
  });
  const e = failure(r);
  assert.equal(e.code, 'ERR_CERT');
  assert.match(e.message, /3 certificates, more than the limit of 2/);
});

test('ERR_CERT: a signature that does not verify under the right issuer name', () => {
  const d = pemToDer(readFileSync(join(FIXTURES, 'gw-rsa.crt'), 'utf8'))[0]!.slice();
  d[d.length - 5]! ^= 0x40;
  const r = verifyChain({
    leaf: Certificate.fromDer(d),
    intermediates: [],
    anchors: [cert('root-ca')],
    now: NOW,
  });
  const e = failure(r);
  assert.equal(e.code, 'ERR_CERT');
  assert.match(e.message, /signature of certificate .*CN=gw\.test.* does not verify/);
});

test('bad arguments are programmer errors', () => {
  assert.throws(
    () => verifyChain({ leaf: cert('gw-rsa'), intermediates: [], anchors: [], now: Number.NaN }),
    (e: unknown) => e instanceof VpnError && e.code === 'ERR_ARG',
  );
  assert.throws(
    () =>
      verifyChain({ leaf: cert('gw-rsa'), intermediates: [], anchors: [], now: NOW, maxDepth: 0 }),
    (e: unknown) => e instanceof VpnError && e.code === 'ERR_ARG',
  );
});

// --- Certificates built here ---------------------------------------------------------------

type Attr = [type: string, value: string, tag?: number];

function name(...rdns: Attr[][]): Uint8Array {
  return seq(
    ...rdns.map((rdn) =>
      tlv(
        Tag.SET,
        concat(
          rdn.map(([t, v, tag]) => seq(oid(t), tlv(tag ?? Tag.UTF8_STRING, encodeValue(v, tag)))),
        ),
      ),
    ),
  );
}

function encodeValue(v: string, tag: number | undefined): Uint8Array {
  if (tag === Tag.BMP_STRING) {
    const out = new Uint8Array(v.length * 2);
    for (let i = 0; i < v.length; i++) {
      out[2 * i] = v.charCodeAt(i) >> 8;
      out[2 * i + 1] = v.charCodeAt(i) & 0xff;
    }
    return out;
  }
  return new TextEncoder().encode(v);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function time(ms: number): Uint8Array {
  const iso = new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const y = new Date(ms).getUTCFullYear();
  return y < 2050
    ? tlv(Tag.UTC_TIME, new TextEncoder().encode(`${iso.slice(2)}Z`))
    : tlv(Tag.GENERALIZED_TIME, new TextEncoder().encode(`${iso}Z`));
}

const CN = '2.5.4.3';
const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));
const bool = (b: boolean): Uint8Array => tlv(Tag.BOOLEAN, Uint8Array.of(b ? 0xff : 0));

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical
    ? seq(oid(id), bool(true), tlv(Tag.OCTET_STRING, value))
    : seq(oid(id), tlv(Tag.OCTET_STRING, value));
}

const caExtensions = [
  extension('2.5.29.19', true, seq(bool(true))),
  extension('2.5.29.15', true, tlv(Tag.BIT_STRING, Uint8Array.of(1, 0x06))),
];

let serial = 1;
function build(o: {
  subject: Uint8Array;
  issuer: Uint8Array;
  key: KeyObject;
  signer: KeyObject;
  notBefore?: number;
  notAfter?: number;
  extensions?: Uint8Array[];
  v1?: boolean;
}): Certificate {
  const spki = new Uint8Array(o.key.export({ type: 'spki', format: 'der' }));
  const fields = [
    ...(o.v1 ? [] : [tlv(0xa0, tlv(Tag.INTEGER, Uint8Array.of(2)))]),
    tlv(Tag.INTEGER, Uint8Array.of(serial++)),
    ECDSA_SHA256,
    o.issuer,
    seq(time(o.notBefore ?? Date.UTC(2020, 0, 1)), time(o.notAfter ?? Date.UTC(2099, 11, 31))),
    o.subject,
    spki,
    ...(o.extensions && o.extensions.length > 0 ? [tlv(0xa3, seq(...o.extensions))] : []),
  ];
  const tbs = seq(...fields);
  const sig = sign('sha256', tbs, { key: o.signer, dsaEncoding: 'der' });
  return Certificate.fromDer(
    seq(tbs, ECDSA_SHA256, tlv(Tag.BIT_STRING, concat([Uint8Array.of(0), sig]))),
  );
}

function ecKeys(): { publicKey: KeyObject; privateKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

test('built: an unknown critical extension on the end entity is refused (RFC 5280 §4.2)', () => {
  const ca = ecKeys();
  const leaf = ecKeys();
  const caName = name([[CN, 'Built CA']]);
  const root = build({
    subject: caName,
    issuer: caName,
    key: ca.publicKey,
    signer: ca.privateKey,
    extensions: caExtensions,
  });
  const ok = build({
    subject: name([[CN, 'leaf']]),
    issuer: caName,
    key: leaf.publicKey,
    signer: ca.privateKey,
  });
  assert.ok(verifyChain({ leaf: ok, intermediates: [], anchors: [root], now: NOW }).ok);
  const crit = build({
    subject: name([[CN, 'leaf']]),
    issuer: caName,
    key: leaf.publicKey,
    signer: ca.privateKey,
    extensions: [extension('1.3.6.1.4.1.99999.1', true, tlv(Tag.NULL, new Uint8Array(0)))],
  });
  assert.deepEqual(crit.unhandledCriticalExtensions, ['1.3.6.1.4.1.99999.1']);
  const e = failure(verifyChain({ leaf: crit, intermediates: [], anchors: [root], now: NOW }));
  assert.equal(e.code, 'ERR_CERT');
  assert.match(e.message, /critical extension/);
  // The same extension, not critical, is ignored.
  const nonCrit = build({
    subject: name([[CN, 'leaf']]),
    issuer: caName,
    key: leaf.publicKey,
    signer: ca.privateKey,
    extensions: [extension('1.3.6.1.4.1.99999.1', false, tlv(Tag.NULL, new Uint8Array(0)))],
  });
  assert.ok(verifyChain({ leaf: nonCrit, intermediates: [], anchors: [root], now: NOW }).ok);
});

test('built: an expired trust anchor fails with ERR_CERT_EXPIRED naming the anchor', () => {
  const ca = ecKeys();
  const leaf = ecKeys();
  const caName = name([[CN, 'Old Root']]);
  const root = build({
    subject: caName,
    issuer: caName,
    key: ca.publicKey,
    signer: ca.privateKey,
    extensions: caExtensions,
    notAfter: Date.UTC(2025, 5, 30),
  });
  const l = build({
    subject: name([[CN, 'leaf']]),
    issuer: caName,
    key: leaf.publicKey,
    signer: ca.privateKey,
  });
  const e = failure(verifyChain({ leaf: l, intermediates: [], anchors: [root], now: NOW }));
  assert.equal(e.code, 'ERR_CERT_EXPIRED');
  assert.match(e.message, /trust anchor "CN=Old Root" expired on 2025-06-30T00:00:00\.000Z/);
});

test('built: issuer names match the CA subject after RFC 5280 §7.1 comparison', () => {
  const ca = ecKeys();
  const leaf = ecKeys();
  const caName = name([['2.5.4.6', 'CH', Tag.PRINTABLE_STRING]], [[CN, 'Canon  CA']]);
  const root = build({
    subject: caName,
    issuer: caName,
    key: ca.publicKey,
    signer: ca.privateKey,
    extensions: caExtensions,
  });
  // Same name in other case, spacing and string type (BMPString, PrintableString).
  const issuer = name(
    [['2.5.4.6', 'ch', Tag.BMP_STRING]],
    [[CN, ' canon ca ', Tag.PRINTABLE_STRING]],
  );
  const l = build({
    subject: name([[CN, 'leaf']]),
    issuer,
    key: leaf.publicKey,
    signer: ca.privateKey,
  });
  assert.ok(l.issuedBy(root));
  assert.ok(verifyChain({ leaf: l, intermediates: [], anchors: [root], now: NOW }).ok);
  const other = build({
    subject: name([[CN, 'leaf']]),
    issuer: name([[CN, 'Canon CA2']]),
    key: leaf.publicKey,
    signer: ca.privateKey,
  });
  assert.equal(
    failure(verifyChain({ leaf: other, intermediates: [], anchors: [root], now: NOW })).code,
    'ERR_CERT_UNTRUSTED',
  );
});

test('built: a self-signed X.509 v1 root is accepted as an anchor; a v1 intermediate is not a CA', () => {
  const ca = ecKeys();
  const mid = ecKeys();
  const leaf = ecKeys();
  const caName = name([[CN, 'V1 Root']]);
  const root = build({
    subject: caName,
    issuer: caName,
    key: ca.publicKey,
    signer: ca.privateKey,
    v1: true,
  });
  assert.equal(root.version, 1);
  assert.equal(root.basicConstraints, undefined);
  const l = build({
    subject: name([[CN, 'leaf']]),
    issuer: caName,
    key: leaf.publicKey,
    signer: ca.privateKey,
  });
  assert.ok(verifyChain({ leaf: l, intermediates: [], anchors: [root], now: NOW }).ok);
  const midName = name([[CN, 'V1 Mid']]);
  const m = build({
    subject: midName,
    issuer: caName,
    key: mid.publicKey,
    signer: ca.privateKey,
    v1: true,
  });
  const l2 = build({
    subject: name([[CN, 'leaf2']]),
    issuer: midName,
    key: leaf.publicKey,
    signer: mid.privateKey,
  });
  const e = failure(verifyChain({ leaf: l2, intermediates: [m], anchors: [root], now: NOW }));
  assert.equal(e.code, 'ERR_CERT');
  assert.match(e.message, /V1 Mid.*not a CA/);
});

test('built: extensions in an X.509 v1 certificate are malformed (RFC 5280 §4.1.2.9)', () => {
  const k = ecKeys();
  const n = name([[CN, 'v1 with extensions']]);
  assert.throws(
    () =>
      build({
        subject: n,
        issuer: n,
        key: k.publicKey,
        signer: k.privateKey,
        v1: true,
        extensions: caExtensions,
      }),
    ParseError,
  );
});

test('built: two CAs of the same name; the one whose key verifies is chosen', () => {
  const a = ecKeys();
  const b = ecKeys();
  const leaf = ecKeys();
  const caName = name([[CN, 'Twin CA']]);
  const ra = build({
    subject: caName,
    issuer: caName,
    key: a.publicKey,
    signer: a.privateKey,
    extensions: caExtensions,
  });
  const rb = build({
    subject: caName,
    issuer: caName,
    key: b.publicKey,
    signer: b.privateKey,
    extensions: caExtensions,
  });
  const l = build({
    subject: name([[CN, 'leaf']]),
    issuer: caName,
    key: leaf.publicKey,
    signer: b.privateKey,
  });
  const r = verifyChain({ leaf: l, intermediates: [], anchors: [ra, rb], now: NOW });
  assert.ok(r.ok);
  assert.equal(r.path[1], rb);
  const e = failure(verifyChain({ leaf: l, intermediates: [], anchors: [ra], now: NOW }));
  assert.equal(e.code, 'ERR_CERT');
  assert.match(e.message, /does not verify with the key of trusted CA "CN=Twin CA"/);
});

test('property: any subset and order of fixture certificates gives a result, never a throw', () => {
  const pool = [
    'root-ca',
    'int-ca',
    'sub-ca',
    'evil-ca',
    'notca',
    'nosign-ca',
    'gw-rsa',
    'gw-ecdsa',
    'expired',
    'sub-leaf',
    'notca-child',
    'nosign-leaf',
    'evil-gw',
  ];
  fc.assert(
    fc.property(
      fc.constantFrom(...pool),
      fc.shuffledSubarray(pool),
      fc.subarray(['root-ca', 'int-ca', 'evil-ca', 'sub-ca']),
      fc.integer({ min: Date.UTC(2015, 0, 1), max: Date.UTC(2105, 0, 1) }),
      (leaf, intermediates, anchors, now) => {
        const r = verifyChain({
          leaf: cert(leaf),
          intermediates: intermediates.map(cert),
          anchors: anchors.map(cert),
          now,
        });
        if (r.ok) {
          assert.equal(r.path[0], cert(leaf));
          const last = r.path[r.path.length - 1]!;
          assert.ok(anchors.map(cert).includes(last));
          for (const c of r.path) assert.ok(c.validAt(now));
          for (let i = 0; i + 1 < r.path.length; i++)
            assert.ok(r.path[i]!.issuedBy(r.path[i + 1]!));
        } else {
          assert.ok(['ERR_CERT', 'ERR_CERT_UNTRUSTED', 'ERR_CERT_EXPIRED'].includes(r.error.code));
          assert.ok(r.error.message.length > 20);
        }
      },
    ),
    { numRuns: 300, seed: 5 },
  );
});
