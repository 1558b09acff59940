import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Reader, Writer, concatBytes, equalBytes, fromHex, toHex } from '../../src/core/bytes.js';
import { ParseError } from '../../src/core/errors.js';
import { SeededRandom } from '../../src/core/random.js';

test('Writer/Reader round-trip big-endian integers and bytes', () => {
  const w = new Writer(2);
  w.u8(0xab).u16(0x1234).u32(0xdeadbeef).u64(0x0102030405060708n).bytes(fromHex('cafe'));
  const out = w.finish();
  assert.equal(toHex(out), 'ab1234deadbeef0102030405060708cafe');
  const r = new Reader(out);
  assert.equal(r.u8(), 0xab);
  assert.equal(r.u16(), 0x1234);
  assert.equal(r.u32(), 0xdeadbeef);
  assert.equal(r.u64(), 0x0102030405060708n);
  assert.equal(toHex(r.rest()), 'cafe');
  r.expectEnd('test');
});

test('Reader refuses to read past its window with a ParseError carrying the offset', () => {
  const r = new Reader(fromHex('00010203'), 1, 3, 100);
  assert.equal(r.u8(), 1);
  assert.throws(
    () => r.u16('field'),
    (e: unknown) => e instanceof ParseError && e.offset === 102 && e.code === 'ERR_PARSE',
  );
  const s = new Reader(fromHex('0001'));
  assert.throws(() => s.sub(3), ParseError);
  assert.throws(() => s.bytes(-1), ParseError);
});

test('Writer patches length fields and rejects out-of-range values', () => {
  const w = new Writer();
  w.u16(0).u8(7);
  w.patchU16(0, 3);
  assert.equal(toHex(w.finish()), '000307');
  assert.throws(() => w.u8(256), RangeError);
  assert.throws(() => w.u16(-1), RangeError);
  assert.throws(() => w.patchU16(5, 1), RangeError);
});

test('byte helpers', () => {
  assert.equal(toHex(concatBytes(fromHex('01'), fromHex(''), fromHex('0203'))), '010203');
  assert.ok(equalBytes(fromHex('0102'), fromHex('0102')));
  assert.ok(!equalBytes(fromHex('0102'), fromHex('0103')));
  assert.ok(!equalBytes(fromHex('01'), fromHex('0102')));
  assert.throws(() => fromHex('abc'), RangeError);
});

test('SeededRandom is deterministic per seed', () => {
  assert.deepEqual(new SeededRandom(7).bytes(33), new SeededRandom(7).bytes(33));
  assert.notDeepEqual(new SeededRandom(7).bytes(16), new SeededRandom(8).bytes(16));
});
