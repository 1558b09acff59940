/**
 * More published known-answer tests (sources also in test/vectors/README.md):
 *  - X25519 scalar multiplication: RFC 7748 §5.2, vectors 1 and 2 (vector 2's u has the top bit
 *    set, which X25519 must ignore).
 *  - X448 Diffie-Hellman: RFC 7748 §6.2 (Alice and Bob).
 *  - ECP-384 and ECP-521: RFC 5903 §8.2 and §8.3 (i, r, g^i, g^r, g^ir x-coordinate).
 *  - ChaCha20-Poly1305 for ESP: RFC 7634 Appendix A; for IKEv2 SK{}: RFC 7634 Appendix B.
 * The hex was cross-checked against several independent open-source test suites that quote the
 * same RFC sections, since the RFC text itself could not be fetched here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromHex, toHex } from '../../src/core/bytes.js';
import { CryptoError } from '../../src/core/errors.js';
import type { Random } from '../../src/core/random.js';
import { createKeyExchange } from '../../src/crypto/ke.js';
import { AeadId, createAead } from '../../src/crypto/aead.js';
import { createSkCrypter } from '../../src/crypto/sk.js';

/** A Random that hands out fixed bytes (the RFCs' private keys / IVs), each of the asked size. */
function fixed(...values: string[]): Random {
  const queue = values.map(fromHex);
  return {
    bytes(n) {
      const v = queue.shift();
      if (!v || v.length !== n) throw new Error(`test random: wanted ${n} bytes`);
      return v;
    },
  };
}

test('X25519 (group 31): RFC 7748 §5.2 scalar multiplication vectors 1 and 2', () => {
  const cases = [
    {
      k: 'a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4',
      u: 'e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c',
      out: 'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552',
    },
    {
      k: '4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d',
      u: 'e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493',
      out: '95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957',
    },
  ];
  for (const c of cases) {
    const ke = createKeyExchange(31, fixed(c.k));
    assert.equal(toHex(ke.computeSharedSecret(fromHex(c.u))), c.out);
  }
});

test('X448 (group 32): RFC 7748 §6.2', () => {
  const alice = createKeyExchange(
    32,
    fixed(
      '9a8f4925d1519f5775cf46b04b5800d4ee9ee8bae8bc5565d498c28dd9c9baf574a9419744897391006382a6f127ab1d9ac2d8c0a598726b',
    ),
  );
  const bob = createKeyExchange(
    32,
    fixed(
      '1c306a7ac2a0e2e0990b294470cba339e6453772b075811d8fad0d1d6927c120bb5ee8972b0d3e21374c9c921b09d1b0366f10b65173992d',
    ),
  );
  assert.equal(
    toHex(alice.publicValue),
    '9b08f7cc31b7e3e67d22d5aea121074a273bd2b83de09c63faa73d2c22c5d9bbc836647241d953d40c5b12da88120d53177f80e532c41fa0',
  );
  assert.equal(
    toHex(bob.publicValue),
    '3eb7a829b0cd20f5bcfc0b599b6feccf6da4627107bdb0d4f345b43027d8b972fc3e34fb4232a13ca706dcb57aec3dae07bdc1c67bf33609',
  );
  const shared =
    '07fff4181ac6cc95ec1c16a94a0f74d12da232ce40a77552281d282bb60c0b56fd2464c335543936521c24403085d59a449a5037514a879d';
  assert.equal(toHex(alice.computeSharedSecret(bob.publicValue)), shared);
  assert.equal(toHex(bob.computeSharedSecret(alice.publicValue)), shared);
  // RFC 8031 §2.3: an all-zero result (here from the zero u-coordinate) is refused.
  assert.throws(() => alice.computeSharedSecret(new Uint8Array(56)), CryptoError);
  assert.throws(() => alice.computeSharedSecret(new Uint8Array(32)), CryptoError);
});

test('ECP-384 (group 20) and ECP-521 (group 21): RFC 5903 §8.2 and §8.3', () => {
  const cases = [
    {
      group: 20,
      i: '099f3c7034d4a2c699884d73a375a67f7624ef7c6b3c0f160647b67414dce655e35b538041e649ee3faef896783ab194',
      gi:
        '667842d7d180ac2cde6f74f37551f55755c7645c20ef73e31634fe72b4c55ee6de3ac808acb4bdb4c88732aee95f41aa' +
        '9482ed1fc0eeb9cafc4984625ccfc23f65032149e0e144ada024181535a0f38eeb9fcff3c2c947dae69b4c634573a81c',
      r: '41cb0779b4bdb85d47846725fbec3c9430fab46cc8dc5060855cc9bda0aa2942e0308312916b8ed2960e4bd55a7448fc',
      gr:
        'e558dbef53eecde3d3fccfc1aea08a89a987475d12fd950d83cfa41732bc509d0d1ac43a0336def96fda41d0774a3571' +
        'dcfbec7aacf3196472169e838430367f66eebe3c6e70c416dd5f0c68759dd1fff83fa40142209dff5eaad96db9e6386c',
      girx: '11187331c279962d93d604243fd592cb9d0a926f422e47187521287e7156c5c4d603135569b9e9d09cf5d4a270f59746',
    },
    {
      group: 21,
      i: '0037ade9319a89f4dabdb3ef411aaccca5123c61acab57b5393dce47608172a095aa85a30fe1c2952c6771d937ba9777f5957b2639bab072462f68c27a57382d4a52',
      gi:
        '0015417e84dbf28c0ad3c278713349dc7df153c897a1891bd98bab4357c9ecbee1e3bf42e00b8e380aeae57c2d107564941885942af5a7f4601723c4195d176ced3e' +
        '017cae20b6641d2eeb695786d8c946146239d099e18e1d5a514c739d7cb4a10ad8a788015ac405d7799dc75e7b7d5b6cf2261a6a7f1507438bf01beb6ca3926f9582',
      r: '0145ba99a847af43793fdd0e872e7cdfa16be30fdc780f97bccc3f078380201e9c677d600b343757a3bdbf2a3163e4c2f869cca7458aa4a4effc311f5cb151685eb9',
      gr:
        '00d0b3975ac4b799f5bea16d5e13e9af971d5e9b984c9f39728b5e5739735a219b97c356436adc6e95bb0352f6be64a6c2912d4ef2d0433ced2b6171640012d9460f' +
        '015c68226383956e3bd066e797b623c27ce0eac2f551a10c2c724d9852077b87220b6536c5c408a1d2aebb8e86d678ae49cb57091f4732296579ab44fcd17f0fc56a',
      girx: '01144c7d79ae6956bc8edb8e7c787c4521cb086fa64407f97894e5e6b2d79b04d1427e73ca4baa240a34786859810c06b3c715a3a8cc3151f2bee417996d19f3ddea',
    },
  ];
  for (const c of cases) {
    const i = createKeyExchange(c.group, fixed(c.i));
    const r = createKeyExchange(c.group, fixed(c.r));
    // RFC 5903 §7: KE data is x ‖ y, each padded to the field length, no point-format octet.
    assert.equal(toHex(i.publicValue), c.gi, `group ${c.group} g^i`);
    assert.equal(toHex(r.publicValue), c.gr, `group ${c.group} g^r`);
    // The shared secret is the x-coordinate only, padded to the field length.
    assert.equal(toHex(i.computeSharedSecret(r.publicValue)), c.girx, `group ${c.group} g^ir`);
    assert.equal(toHex(r.computeSharedSecret(i.publicValue)), c.girx, `group ${c.group} g^ri`);
  }
});

const CHACHA_KEYMAT =
  '808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f' + 'a0a1a2a3'; // key ‖ salt

test('ChaCha20-Poly1305 ESP example: RFC 7634 Appendix A', () => {
  const aead = createAead(AeadId.CHACHA20_POLY1305, fromHex(CHACHA_KEYMAT));
  const iv = fromHex('1011121314151617');
  const aad = fromHex('0102030400000005'); // SPI 0x01020304, sequence number 5
  const pt = fromHex(
    '45000054a6f200004001e778c6336405c000020508005b7a3a080000553bec100007362708090a0b0c0d0e0f' +
      '101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363701020204',
  );
  const expected =
    '24039428b97f417e3c13753a4f05087b67c352e6a7fab1b982d466ef407ae5c614ee8099d52844eb61aa95df' +
    'ab4c02f72aa71e7c4c4f64c9befe2facc638e8f3cbec163fac469b502773f6fb94e664da9165b82829f641e0' +
    '76aaa8266b7fb0f7b11b369907e1ad43';
  const sealed = aead.seal(iv, aad, pt);
  assert.equal(toHex(sealed), expected);
  assert.deepEqual(aead.open(iv, aad, sealed), pt);
});

test('ChaCha20-Poly1305 SK{} in IKEv2: RFC 7634 Appendix B, through createSkCrypter', () => {
  // IKE header (SPIs c0.., d0.., next payload SK 0x2e, INFORMATIONAL, message ID 9, length 69)
  // ‖ SK generic header (next payload Notify 0x29, length 41): everything before the IV.
  const aad = fromHex('c0c1c2c3c4c5c6c7d0d1d2d3d4d5d6d72e202500000000090000004529000029');
  const iv = '1011121314151617';
  const inner = '0000000c000040010000000a'; // one Notify payload (12 bytes)
  // Plaintext is inner ‖ pad length 0x00; ciphertext ‖ 16-byte ICV.
  const body = iv + '610394701f8d017f7c12924889' + '6b71bfe25236efd7cdc67066906315b2';
  const sk = createSkCrypter(AeadId.CHACHA20_POLY1305, 256, 0);
  assert.equal(sk.encrKeyLength, 36);
  assert.equal(sk.bodyLength(inner.length / 2), body.length / 2);
  assert.equal(4 + sk.bodyLength(inner.length / 2), 41); // the SK payload length in the AAD
  const keys = { encr: fromHex(CHACHA_KEYMAT) };
  assert.equal(toHex(sk.open(keys, aad, fromHex(body))), inner);
  assert.equal(toHex(sk.seal(keys, aad, fromHex(inner), fixed(iv))), body);
  const tampered = fromHex(body);
  tampered[8]! ^= 0x80;
  assert.throws(() => sk.open(keys, aad, tampered), CryptoError);
});

test('MODP-1024 (group 2, RFC 2409 §6.2): the prime of the RFC, g = 2, values checked against BigInt arithmetic', () => {
  // RFC 2409 §6.2: 2^1024 - 2^960 - 1 + 2^64 * { [2^894 pi] + 129093 }, as printed in the RFC.
  const p = BigInt(
    '0x' +
      'FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1' +
      '29024E088A67CC74020BBEA63B139B22514A08798E3404DD' +
      'EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245' +
      'E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED' +
      'EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381' +
      'FFFFFFFFFFFFFFFF',
  );
  const big = (b: Uint8Array): bigint => BigInt('0x' + (toHex(b) || '0'));
  const modPow = (base: bigint, e: bigint): bigint => {
    let r = 1n;
    let b = base % p;
    for (; e > 0n; e >>= 1n) {
      if (e & 1n) r = (r * b) % p;
      b = (b * b) % p;
    }
    return r;
  };
  const filled = (byte: number): Random => ({
    bytes: (n: number) => new Uint8Array(n).fill(byte),
  });
  const a = createKeyExchange(2, filled(0x11));
  const b = createKeyExchange(2, filled(0x5a));
  assert.equal(a.publicValue.length, 128);
  const xa = big(new Uint8Array(64).fill(0x11));
  const xb = big(new Uint8Array(64).fill(0x5a));
  assert.equal(big(a.publicValue), modPow(2n, xa));
  const shared = a.computeSharedSecret(b.publicValue);
  assert.equal(shared.length, 128);
  assert.equal(big(shared), modPow(modPow(2n, xb), xa));
  assert.equal(toHex(shared), toHex(b.computeSharedSecret(a.publicValue)));
  // 1 < y < p - 1 (RFC 6989 §2.1 style): 1 and p - 1 are refused.
  const pm1 = fromHex((p - 1n).toString(16));
  assert.throws(() => a.computeSharedSecret(pm1), CryptoError);
  const one = new Uint8Array(128);
  one[127] = 1;
  assert.throws(() => a.computeSharedSecret(one), CryptoError);
});
