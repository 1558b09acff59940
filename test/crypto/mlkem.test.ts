/**
 * ML-KEM-512/768/1024 (FIPS 203) known-answer tests through our key exchange API, with vectors
 * from NIST's ACVP server (test/vectors/mlkem-acvp.json; its "source" field names the files, the
 * commit they were taken from and their SHA-256): keyGen (d, z → ek, dk), encapsulation
 * (ek, m → c, k) and decapsulation (dk, c → k, including a modified ciphertext: implicit
 * rejection). Plus the size checks draft-ietf-ipsecme-ikev2-mlkem §3 asks of each side.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ml_kem512, ml_kem768, ml_kem1024 } from '@noble/post-quantum/ml-kem.js';
import { fromHex, toHex } from '../../src/core/bytes.js';
import { CryptoError } from '../../src/core/errors.js';
import { SeededRandom } from '../../src/core/random.js';
import type { Random } from '../../src/core/random.js';
import { createKeyExchange, isSupportedGroup, respondKeyExchange } from '../../src/crypto/ke.js';
import { ML_KEM_512, ML_KEM_768, ML_KEM_1024, mlKemSizes } from '../../src/crypto/mlkem.js';
import { VECTORS_DIR } from '../support/vectors.js';

interface SetVectors {
  keyGen: { tcId: number; d: string; z: string; ekSha256: string; dkSha256: string }[];
  encapsulation: { tcId: number; ek: string; m: string; k: string; cSha256: string }[];
  decapsulation: {
    tgId: number;
    dk: string;
    tests: { tcId: number; reason: string; c: string; k: string }[];
  }[];
}
const V = JSON.parse(readFileSync(VECTORS_DIR + 'mlkem-acvp.json', 'utf8')) as {
  source: string;
  sets: Record<string, SetVectors>;
};

const METHODS: [string, number, typeof ml_kem512][] = [
  ['ML-KEM-512', ML_KEM_512, ml_kem512],
  ['ML-KEM-768', ML_KEM_768, ml_kem768],
  ['ML-KEM-1024', ML_KEM_1024, ml_kem1024],
];

/** A Random that hands out exactly these bytes (the vector's d ‖ z, or m). */
function fixed(bytes: Uint8Array): Random {
  let used = false;
  return {
    bytes(n: number): Uint8Array {
      assert.equal(used, false, 'the vector provides one draw of randomness');
      assert.equal(n, bytes.length);
      used = true;
      return bytes.slice();
    },
  };
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

test('the ACVP vector file names its source', () => {
  assert.match(V.source, /ACVP/);
  assert.match(V.source, /[0-9a-f]{40}/);
});

for (const [name, method, kem] of METHODS) {
  const set = V.sets[name]!;

  test(`${name}: ACVP keyGen vectors (d ‖ z → ek, dk)`, () => {
    assert.ok(set.keyGen.length >= 2);
    for (const v of set.keyGen) {
      const dz = fromHex(v.d + v.z);
      const ke = createKeyExchange(method, fixed(dz));
      assert.equal(sha256(ke.publicValue), v.ekSha256.toLowerCase(), `ek of tcId ${v.tcId}`);
      // The secret key never leaves the KeyExchange: check it through the same seed in noble.
      assert.equal(sha256(kem.keygen(dz).secretKey), v.dkSha256.toLowerCase());
    }
  });

  test(`${name}: ACVP encapsulation vector (ek, m → c, k) as the IKE responder`, () => {
    for (const v of set.encapsulation) {
      const r = respondKeyExchange(method, fromHex(v.ek), fixed(fromHex(v.m)));
      assert.equal(sha256(r.publicValue), v.cSha256.toLowerCase(), `c of tcId ${v.tcId}`);
      assert.equal(toHex(r.sharedSecret), v.k.toLowerCase());
    }
  });

  test(`${name}: ACVP decapsulation vectors (dk, c → k), implicit rejection included`, () => {
    const g = set.decapsulation[0]!;
    const reasons = g.tests.map((t) => t.reason);
    assert.ok(reasons.includes('modify ciphertext') && reasons.includes('no modification'));
    for (const t of g.tests) {
      const k = kem.decapsulate(fromHex(t.c), fromHex(g.dk));
      assert.equal(toHex(k), t.k.toLowerCase(), `tcId ${t.tcId} (${t.reason})`);
    }
  });

  test(`${name}: initiator and responder agree; sizes as draft-ietf-ipsecme-ikev2-mlkem`, () => {
    assert.equal(isSupportedGroup(method), true);
    const rnd = new SeededRandom(method);
    const i = createKeyExchange(method, rnd);
    const sizes = mlKemSizes(method);
    assert.equal(i.publicValue.length, sizes.ek);
    const r = respondKeyExchange(method, i.publicValue, rnd);
    assert.equal(r.publicValue.length, sizes.ct);
    assert.deepEqual(i.computeSharedSecret(r.publicValue), r.sharedSecret);
  });

  test(`${name}: a ciphertext or encapsulation key of the wrong size is a CryptoError`, () => {
    const rnd = new SeededRandom(7);
    const i = createKeyExchange(method, rnd);
    const { ct, ek } = mlKemSizes(method);
    assert.throws(() => i.computeSharedSecret(new Uint8Array(ct - 1)), CryptoError);
    assert.throws(() => i.computeSharedSecret(new Uint8Array(ct + 1)), CryptoError);
    assert.throws(() => respondKeyExchange(method, new Uint8Array(ek + 1), rnd), CryptoError);
    assert.throws(() => respondKeyExchange(method, new Uint8Array(0), rnd), CryptoError);
  });

  test(`${name}: an encapsulation key failing the FIPS 203 §7.2 modulus check is refused`, () => {
    const rnd = new SeededRandom(9);
    const ek = createKeyExchange(method, rnd).publicValue.slice();
    // The first 12-bit coefficient set to 0xfff ≥ q = 3329.
    ek[0] = 0xff;
    ek[1] = ek[1]! | 0x0f;
    assert.throws(() => respondKeyExchange(method, ek, rnd), CryptoError);
  });
}
