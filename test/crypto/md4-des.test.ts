/**
 * Known answers for the pure TypeScript MD4 and DES (see test/vectors/README.md):
 *  - MD4: the seven digests of RFC 1320 Appendix A.5 ("MD4 test suite").
 *  - DES: FIPS 81 Appendix B, Table B1 (ECB example, key 0123456789ABCDEF, "Now is t");
 *    NIST SP 800-17 Appendix B known-answer tests (variable plaintext, variable key, permutation
 *    operation and substitution table; the same tables appear in SP 800-20 Appendix A for TDES
 *    with K1 = K2 = K3); and the worked example of J. O. Grabbe, "The DES Algorithm
 *    Illustrated" (key 133457799BBCDFF1).
 *  - Cross-check against OpenSSL's legacy provider (`node --openssl-legacy-provider`) on random
 *    inputs, skipped where that provider is not available.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fromHex, toHex } from '../../src/core/bytes.js';
import { desEncryptBlock, desKeyFrom56 } from '../../src/crypto/des.js';
import { md4 } from '../../src/crypto/md4.js';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

test('MD4: RFC 1320 §A.5 test suite (all seven)', () => {
  const suite: [string, string][] = [
    ['', '31d6cfe0d16ae931b73c59d7e0c089c0'],
    ['a', 'bde52cb31de33e46245e05fbdbd6fb24'],
    ['abc', 'a448017aaf21d8525fc10ae87aa6729d'],
    ['message digest', 'd9130a8164549fe818874806e1c7014b'],
    ['abcdefghijklmnopqrstuvwxyz', 'd79e1c308aa5bbcdeea8ed63df412da9'],
    [
      'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789',
      '043f8582f241db351ce627e153e7f0e4',
    ],
    [
      '12345678901234567890123456789012345678901234567890123456789012345678901234567890',
      'e33b4ddc9c38f2199c3e7b164fcc0536',
    ],
  ];
  for (const [input, digest] of suite) assert.equal(toHex(md4(ascii(input))), digest, input);
});

test('MD4: padding boundaries (55, 56, 63, 64, 65 bytes) and views with a byteOffset', () => {
  // The same input as a fresh array and as a subarray of a larger buffer must agree.
  for (const n of [55, 56, 63, 64, 65, 119, 120]) {
    const data = new Uint8Array(n).map((_, i) => (i * 31 + 7) & 0xff);
    const host = new Uint8Array(n + 10);
    host.set(data, 5);
    assert.equal(toHex(md4(host.subarray(5, 5 + n))), toHex(md4(data)), `n=${n}`);
    assert.equal(md4(data).length, 16);
  }
});

test('DES: FIPS 81 Appendix B ECB example ("Now is t", key 0123456789ABCDEF)', () => {
  assert.equal(
    toHex(desEncryptBlock(fromHex('0123456789abcdef'), ascii('Now is t'))),
    '3fa40e8a984d4815',
  );
});

test('DES: NIST SP 800-17 Appendix B variable-plaintext KAT (key 0101010101010101)', () => {
  const key = fromHex('0101010101010101');
  const rows: [string, string][] = [
    ['8000000000000000', '95f8a5e5dd31d900'],
    ['4000000000000000', 'dd7f121ca5015619'],
    ['2000000000000000', '2e8653104f3834ea'],
    ['1000000000000000', '4bd388ff6cd81d4f'],
    ['0800000000000000', '20b9e767b2fb1456'],
    ['0400000000000000', '55579380d77138ef'],
    ['0200000000000000', '6cc5defaaf04512f'],
    ['0100000000000000', '0d9f279ba5d87260'],
    ['0000000000000001', '166b40b44aba4bd6'],
  ];
  for (const [pt, ct] of rows) assert.equal(toHex(desEncryptBlock(key, fromHex(pt))), ct, pt);
});

test('DES: NIST SP 800-17 Appendix B variable-key and permutation-operation KATs (plaintext 0)', () => {
  const zero = new Uint8Array(8);
  const rows: [string, string][] = [
    // variable key
    ['8001010101010101', '95a8d72813daa94d'],
    ['4001010101010101', '0eec1487dd8c26d5'],
    ['2001010101010101', '7ad16ffb79c45926'],
    ['1001010101010101', 'd3746294ca6a6cf3'],
    ['0801010101010101', '809f5f873c1fd761'],
    ['0401010101010101', 'c02faffec989d1fc'],
    ['0201010101010101', '4615aa1d33e72f10'],
    ['0180010101010101', '2055123350c00858'],
    // permutation operation
    ['1046913489980131', '88d55e54f54c97b4'],
    ['1007103489988020', '0c0cc00c83ea48fd'],
  ];
  for (const [key, ct] of rows) assert.equal(toHex(desEncryptBlock(fromHex(key), zero)), ct, key);
});

test('DES: NIST SP 800-17 Appendix B substitution-table KAT (all 19 rows)', () => {
  const rows: [string, string, string][] = [
    ['7ca110454a1a6e57', '01a1d6d039776742', '690f5b0d9a26939b'],
    ['0131d9619dc1376e', '5cd54ca83def57da', '7a389d10354bd271'],
    ['07a1133e4a0b2686', '0248d43806f67172', '868ebb51cab4599a'],
    ['3849674c2602319e', '51454b582ddf440a', '7178876e01f19b2a'],
    ['04b915ba43feb5b6', '42fd443059577fa2', 'af37fb421f8c4095'],
    ['0113b970fd34f2ce', '059b5e0851cf143a', '86a560f10ec6d85b'],
    ['0170f175468fb5e6', '0756d8e0774761d2', '0cd3da020021dc09'],
    ['43297fad38e373fe', '762514b829bf486a', 'ea676b2cb7db2b7a'],
    ['07a7137045da2a16', '3bdd119049372802', 'dfd64a815caf1a0f'],
    ['04689104c2fd3b2f', '26955f6835af609a', '5c513c9c4886c088'],
    ['37d06bb516cb7546', '164d5e404f275232', '0a2aeeae3ff4ab77'],
    ['1f08260d1ac2465e', '6b056e18759f5cca', 'ef1bf03e5dfa575a'],
    ['584023641aba6176', '004bd6ef09176062', '88bf0db6d70dee56'],
    ['025816164629b007', '480d39006ee762f2', 'a1f9915541020b56'],
    ['49793ebc79b3258f', '437540c8698f3cfa', '6fbf1cafcffd0556'],
    ['4fb05e1515ab73a7', '072d43a077075292', '2f22e49bab7ca1ac'],
    ['49e95d6d4ca229bf', '02fe55778117f12a', '5a6b612cc26cce4a'],
    ['018310dc409b26d6', '1d9d5c5018f728c2', '5f4c038ed12b2e41'],
    ['1c587f1c13924fef', '305532286d6f295a', '63fac0d034d9f793'],
  ];
  for (const [key, pt, ct] of rows) {
    assert.equal(toHex(desEncryptBlock(fromHex(key), fromHex(pt))), ct, key);
  }
});

test('DES: Grabbe, "The DES Algorithm Illustrated" worked example', () => {
  assert.equal(
    toHex(desEncryptBlock(fromHex('133457799bbcdff1'), fromHex('0123456789abcdef'))),
    '85e813540f0ab405',
  );
});

test('DES ignores parity bits; wrong lengths are programmer errors', () => {
  const pt = fromHex('4e6f772069732074');
  const key = fromHex('0123456789abcdef');
  const flipped = key.map((b) => b ^ 1);
  assert.equal(toHex(desEncryptBlock(flipped, pt)), toHex(desEncryptBlock(key, pt)));
  assert.throws(() => desEncryptBlock(new Uint8Array(7), pt), RangeError);
  assert.throws(() => desEncryptBlock(key, new Uint8Array(9)), RangeError);
  assert.throws(() => desKeyFrom56(new Uint8Array(8)), RangeError);
});

test('desKeyFrom56 spreads 56 bits over 8 bytes with odd parity (RFC 2759 §8.6)', () => {
  // All ones → every byte 1111111p; seven ones are already odd, so p = 0: 0xfe.
  assert.equal(toHex(desKeyFrom56(new Uint8Array(7).fill(0xff))), 'fefefefefefefefe');
  // All zeros → 0000000p, p = 1: 0x01.
  assert.equal(toHex(desKeyFrom56(new Uint8Array(7))), '0101010101010101');
  // 0x80 00.. → the first key bit only: 1000000p, p = 0 → 0x80.
  assert.equal(toHex(desKeyFrom56(fromHex('80000000000000'))), '8001010101010101');
  // The last key bit: byte 8 = 0000001p, p = 0 → 0x02.
  assert.equal(toHex(desKeyFrom56(fromHex('00000000000001'))), '0101010101010102');
  for (let i = 0; i < 50; i++) {
    for (const b of desKeyFrom56(randomBytes(7))) {
      let ones = 0;
      for (let v = b; v; v >>= 1) ones += v & 1;
      assert.equal(ones % 2, 1, 'odd parity');
    }
  }
});

test('MD4 and DES agree with OpenSSL (legacy provider) on random inputs', (t) => {
  const cases = Array.from({ length: 150 }, (_, i) => ({
    data: toHex(randomBytes(i)),
    key: toHex(randomBytes(8)),
    block: toHex(randomBytes(8)),
  }));
  const script = `
    const c = require('node:crypto');
    const cases = JSON.parse(process.argv[1]);
    const out = cases.map((x) => {
      const e = c.createCipheriv('des-ecb', Buffer.from(x.key, 'hex'), null);
      e.setAutoPadding(false);
      return {
        md4: c.createHash('md4').update(Buffer.from(x.data, 'hex')).digest('hex'),
        des: e.update(Buffer.from(x.block, 'hex')).toString('hex'),
      };
    });
    process.stdout.write(JSON.stringify(out));`;
  const r = spawnSync(
    process.execPath,
    ['--openssl-legacy-provider', '-e', script, JSON.stringify(cases)],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) {
    t.skip(`OpenSSL legacy provider not available: ${r.stderr.split('\n')[0] ?? ''}`);
    return;
  }
  const theirs = JSON.parse(r.stdout) as { md4: string; des: string }[];
  cases.forEach((x, i) => {
    assert.equal(toHex(md4(fromHex(x.data))), theirs[i]!.md4, `md4 of ${x.data.length / 2} bytes`);
    assert.equal(
      toHex(desEncryptBlock(fromHex(x.key), fromHex(x.block))),
      theirs[i]!.des,
      `des key ${x.key}`,
    );
  });
});
