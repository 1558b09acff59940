/**
 * EAP packet codec (RFC 3748 §4): hand-built fixtures from the §4.1/§4.2 diagrams, round trips,
 * malformed inputs, and a property test that decoding raises nothing but ParseError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fromHex, toHex } from '../../src/core/bytes.js';
import { ParseError } from '../../src/core/errors.js';
import {
  decodeEap,
  EapCode,
  EapType,
  eapTypeName,
  encodeEap,
  type EapPacket,
} from '../../src/eap/packet.js';

test('decodes a Request: Code 1, Identifier, Length, Type, Type-Data (RFC 3748 §4.1)', () => {
  // Identity Request, Identifier 0x2a, Length 9, Type 1, Type-Data "User"
  const p = decodeEap(fromHex('012a00090155736572'));
  assert.deepEqual(p, {
    code: EapCode.REQUEST,
    identifier: 0x2a,
    type: EapType.IDENTITY,
    data: fromHex('55736572'),
  });
});

test('decodes Success and Failure (RFC 3748 §4.2) and a Request with empty Type-Data', () => {
  assert.deepEqual(decodeEap(fromHex('03070004')), { code: EapCode.SUCCESS, identifier: 7 });
  assert.deepEqual(decodeEap(fromHex('04ff0004')), { code: EapCode.FAILURE, identifier: 255 });
  assert.deepEqual(decodeEap(fromHex('0201000502')), {
    code: EapCode.RESPONSE,
    identifier: 1,
    type: EapType.NOTIFICATION,
    data: new Uint8Array(0),
  });
});

test('octets after Length are padding and ignored (RFC 3748 §4.1)', () => {
  const p = decodeEap(fromHex('012a00090155736572deadbeef'));
  assert.ok('data' in p);
  assert.equal(toHex(p.data), '55736572');
  assert.deepEqual(decodeEap(fromHex('0307000400000000')), { code: 3, identifier: 7 });
  // Success/Failure with a Length > 4: data is not defined for them and is ignored.
  assert.deepEqual(decodeEap(fromHex('030700060000')), { code: 3, identifier: 7 });
});

test('malformed: short buffer, Length < 4, Length beyond the buffer, no Type, unknown Code', () => {
  const bad: [string, RegExp][] = [
    ['', /EAP Code/],
    ['01', /EAP Identifier/],
    ['0101', /EAP Length/],
    ['010100', /EAP Length/],
    ['01010003', /Length 3 is less than 4/],
    ['03010000', /Length 0 is less than 4/],
    ['0101000a0155', /Length 10 exceeds the 6 octets/],
    ['01010004', /Request without a Type/],
    ['02010004aa', /Response without a Type/],
    ['05010004', /unknown Code 5/],
    ['00010004', /unknown Code 0/],
  ];
  for (const [hex, re] of bad) {
    assert.throws(
      () => decodeEap(fromHex(hex)),
      (e: unknown) => e instanceof ParseError && re.test(e.message),
      hex,
    );
  }
});

test('the decoded Type-Data is a copy, not a view of the input', () => {
  const buf = fromHex('0101000601ff');
  const p = decodeEap(buf);
  buf[5] = 0;
  assert.ok('data' in p);
  assert.equal(p.data[0], 0xff);
});

test('encode writes Length; encode/decode round-trip (property)', () => {
  assert.equal(
    toHex(encodeEap({ code: 2, identifier: 9, type: 3, data: Uint8Array.of(26) })),
    '02090006031a',
  );
  assert.equal(toHex(encodeEap({ code: 4, identifier: 1 })), '04010004');
  const packet: fc.Arbitrary<EapPacket> = fc.oneof(
    fc.record({
      code: fc.constantFrom(EapCode.REQUEST, EapCode.RESPONSE),
      identifier: fc.integer({ min: 0, max: 255 }),
      type: fc.integer({ min: 0, max: 255 }),
      data: fc.uint8Array({ maxLength: 300 }),
    }),
    fc.record({
      code: fc.constantFrom(EapCode.SUCCESS, EapCode.FAILURE),
      identifier: fc.integer({ min: 0, max: 255 }),
    }),
  );
  fc.assert(
    fc.property(packet, fc.uint8Array({ maxLength: 8 }), (p, padding) => {
      const bytes = encodeEap(p);
      assert.equal((bytes[2]! << 8) | bytes[3]!, bytes.length);
      const padded = new Uint8Array(bytes.length + padding.length);
      padded.set(bytes);
      padded.set(padding, bytes.length);
      assert.deepEqual(decodeEap(padded), { ...p }); // fc.record objects have a null prototype
    }),
    { numRuns: 500 },
  );
});

test('encode refuses out-of-range fields and packets over 65535 octets', () => {
  assert.throws(() => encodeEap({ code: 1, identifier: 256, type: 1, data: new Uint8Array(0) }));
  assert.throws(() => encodeEap({ code: 1, identifier: 1, type: 1, data: new Uint8Array(65531) }));
  assert.equal(
    encodeEap({ code: 1, identifier: 1, type: 1, data: new Uint8Array(65530) }).length,
    65535,
  );
});

test('decoding arbitrary bytes yields a packet or a ParseError, nothing else (property)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        const p = decodeEap(bytes);
        const length = (bytes[2]! << 8) | bytes[3]!;
        if ('data' in p) assert.equal(p.data.length, length - 5);
      } catch (e) {
        assert.ok(e instanceof ParseError, String(e));
      }
    }),
    { numRuns: 3000 },
  );
});

test('type names for messages', () => {
  assert.equal(eapTypeName(EapType.MSCHAPV2), 'EAP-MSCHAPv2');
  assert.equal(eapTypeName(EapType.MD5_CHALLENGE), 'EAP-MD5');
  assert.equal(eapTypeName(EapType.PEAP), 'EAP-PEAP');
  assert.equal(eapTypeName(99), 'EAP type 99');
});
