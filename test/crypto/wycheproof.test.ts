/**
 * A subset of Wycheproof vectors (test/vectors/wycheproof.json; source files and commits recorded
 * there): AES-GCM and ChaCha20-Poly1305 with 12-byte nonces split as salt(4) ‖ IV(8), including
 * modified-tag cases that must not open; ECDH P-384 and P-521 including edge-case shared secrets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fromHex, toHex } from '../../src/core/bytes.js';
import { AeadId, createAead } from '../../src/crypto/aead.js';
import { createKeyExchange } from '../../src/crypto/ke.js';
import { VECTORS_DIR } from '../support/vectors.js';

interface AeadCase {
  tcId: number;
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
  result: 'valid' | 'invalid';
}
interface EcdhCase {
  tcId: number;
  public: string;
  private: string;
  shared: string;
}
const W = JSON.parse(readFileSync(VECTORS_DIR + 'wycheproof.json', 'utf8')) as {
  aes_gcm: AeadCase[];
  chacha20_poly1305: AeadCase[];
  ecdh_secp384r1: EcdhCase[];
  ecdh_secp521r1: EcdhCase[];
};

function runAead(id: number, cases: AeadCase[]): void {
  for (const c of cases) {
    const aead = createAead(id, fromHex(c.key + c.iv.slice(0, 8)));
    const iv = fromHex(c.iv.slice(8));
    const sealed = fromHex(c.ct + c.tag);
    const opened = aead.open(iv, fromHex(c.aad), sealed);
    if (c.result === 'valid') {
      assert.equal(
        toHex(aead.seal(iv, fromHex(c.aad), fromHex(c.msg))),
        c.ct + c.tag,
        `tcId ${c.tcId}`,
      );
      assert.equal(opened && toHex(opened), c.msg, `tcId ${c.tcId}`);
    } else {
      assert.equal(opened, null, `tcId ${c.tcId} must not open`);
    }
  }
}

test('Wycheproof AES-GCM (128-bit key, 96-bit IV, 128-bit tag)', () => {
  assert.ok(W.aes_gcm.length >= 18);
  runAead(AeadId.AES_GCM_16, W.aes_gcm);
});

test('Wycheproof ChaCha20-Poly1305', () => {
  runAead(AeadId.CHACHA20_POLY1305, W.chacha20_poly1305);
});

for (const [name, group, len] of [
  ['ecdh_secp384r1', 20, 48],
  ['ecdh_secp521r1', 21, 66],
] as const) {
  test(`Wycheproof ${name} (group ${group}): shared x-coordinates including edge cases`, () => {
    for (const c of W[name]) {
      const d = fromHex(c.private);
      const priv = d.length > len ? d.subarray(d.length - len) : d;
      const ke = createKeyExchange(group, { bytes: () => priv.slice() });
      const pub = fromHex(c.public).subarray(1); // drop the 0x04 point-format octet (RFC 5903 §7)
      assert.equal(toHex(ke.computeSharedSecret(pub)), c.shared, `tcId ${c.tcId}`);
    }
  });
}
