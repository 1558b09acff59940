import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { addNonEspMarker, classifyUdp4500 } from '../../src/net/natt.js';
import { fromHex, toHex } from '../../src/core/bytes.js';

test('RFC 3948 demux: keepalive, marker + IKE, ESP, runt', () => {
  assert.deepEqual(classifyUdp4500(Uint8Array.of(0xff)), { kind: 'keepalive' });
  const ike = fromHex('0102030405060708' + '00'.repeat(20));
  const c = classifyUdp4500(addNonEspMarker(ike));
  assert.equal(c.kind, 'ike');
  assert.equal(toHex((c as { data: Uint8Array }).data), toHex(ike));
  assert.equal(classifyUdp4500(fromHex('c0ffee01000000010000')).kind, 'esp');
  assert.equal(classifyUdp4500(fromHex('0001')).kind, 'invalid');
  assert.equal(classifyUdp4500(new Uint8Array(0)).kind, 'invalid');
});

test('property: classification is total and the marker round-trips', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), (b) => {
      const k = classifyUdp4500(b).kind;
      assert.ok(['keepalive', 'ike', 'esp', 'invalid'].includes(k));
      if (b.length >= 4) {
        const m = classifyUdp4500(addNonEspMarker(b));
        assert.equal(m.kind, 'ike');
      }
    }),
  );
});
