/**
 * The JavaScript ESP engine holds a bounded number of SAs, as the native data plane does
 * (issue 11 finding 4: a gateway that rekeys without deleting must not grow the maps forever).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EspEngine, MAX_INBOUND_SAS, MAX_OUTBOUND_SAS } from '../../src/esp/engine.js';
import { tsFromCidr } from '../../src/ike/sa/traffic-selectors.js';

const keymat = (i: number): Uint8Array => new Uint8Array(36).fill(i + 1);
const range = (cidr: string) => {
  const ts = tsFromCidr(cidr);
  return {
    startAddr: ts.startAddr,
    endAddr: ts.endAddr,
    protocol: ts.ipProtocol,
    startPort: ts.startPort,
    endPort: ts.endPort,
  };
};
const policy = { local: [range('0.0.0.0/0')], remote: [range('0.0.0.0/0')] };

test('a ninth inbound SA is refused with RangeError and the map stays at eight', () => {
  const e = new EspEngine({ native: { enabled: false } });
  for (let i = 0; i < MAX_INBOUND_SAS; i++)
    e.addInbound({ spi: 0x1000 + i, encrId: 20, keymat: keymat(i) }, policy);
  assert.equal(e.inboundCount, 8);
  assert.throws(
    () => e.addInbound({ spi: 0x2000, encrId: 20, keymat: keymat(9) }, policy),
    RangeError,
  );
  assert.equal(e.inboundCount, 8);
  // Replacing an installed SPI is not growth; removing one makes room.
  e.addInbound({ spi: 0x1000, encrId: 20, keymat: keymat(0) }, policy);
  e.removeInbound(0x1001);
  e.addInbound({ spi: 0x2000, encrId: 20, keymat: keymat(9) }, policy);
  assert.equal(e.inboundCount, 8);
});

test('outbound SAs beyond four evict the oldest (the newest one sends)', () => {
  const e = new EspEngine({ native: { enabled: false } });
  for (let i = 0; i < 10; i++)
    e.setOutbound({ spi: 0x3000 + i, encrId: 20, keymat: keymat(i) }, policy);
  assert.equal(e.outboundCount, MAX_OUTBOUND_SAS);
  const p = new Uint8Array(40);
  p[0] = 0x45;
  p[3] = 40;
  p[9] = 17;
  const esp = e.encapsulate(p);
  assert.ok(esp instanceof Uint8Array);
  assert.equal(new DataView(esp.buffer, esp.byteOffset).getUint32(0), 0x3009);
});
