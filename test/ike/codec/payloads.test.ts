/**
 * Payload codecs against byte fixtures written by hand from the RFC 7296 §3 / RFC 7383 §2.5
 * layouts (each hex string is annotated), round trips both ways, and malformed inputs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromHex, toHex } from '../../../src/core/bytes.js';
import { ParseError } from '../../../src/core/errors.js';
import {
  checkExchangeRules,
  decodeHeader,
  decodeMessage,
  decodePayloadChain,
  encodeMessage,
  encodePayloadChain,
  findUnsupportedCritical,
} from '../../../src/ike/codec/index.js';
import type { Payload } from '../../../src/ike/codec/index.js';
import { ExchangeType, PayloadType } from '../../../src/ike/constants.js';

const h = (s: string): Uint8Array => fromHex(s.replace(/\|/g, ''));
const rep = (byte: string, n: number): string => byte.repeat(n);

interface Fixture {
  name: string;
  first: number;
  hex: string;
  expected: Payload[];
}

const fixtures: Fixture[] = [
  {
    name: 'Nonce (§3.9), 16 bytes',
    first: PayloadType.NONCE,
    // next=0 | flags=0 | len=20 | nonce
    hex: `00|00|0014|${rep('11', 16)}`,
    expected: [{ type: 40, critical: false, data: h(rep('11', 16)) }],
  },
  {
    name: 'KE (§3.4), group 31',
    first: PayloadType.KE,
    // hdr len=40 | group=31 | reserved | 32-byte public value
    hex: `00|00|0028|001f|0000|${rep('ab', 32)}`,
    expected: [{ type: 34, critical: false, dhGroup: 31, data: h(rep('ab', 32)) }],
  },
  {
    name: 'SA (§3.3): one IKE proposal, AES-GCM-16/256 (TV key length), PRF_HMAC_SHA2_256, group 31',
    first: PayloadType.SA,
    hex:
      '00|00|0028|' + // SA header, len 40
      '00|00|0024|01|01|00|03|' + // proposal: last, len 36, #1, IKE, SPI size 0, 3 transforms
      '03|00|000c|01|00|0014|800e0100|' + // ENCR 20, attr KEY_LENGTH(TV)=256
      '03|00|0008|02|00|0005|' + // PRF 5
      '00|00|0008|04|00|001f', // DH 31 (last)
    expected: [
      {
        type: 33,
        critical: false,
        proposals: [
          {
            num: 1,
            protocol: 1,
            spi: new Uint8Array(0),
            transforms: [
              { type: 1, id: 20, attributes: [{ type: 14, value: 256 }] },
              { type: 2, id: 5, attributes: [] },
              { type: 4, id: 31, attributes: [] },
            ],
          },
        ],
      },
    ],
  },
  {
    name: 'SA: two ESP proposals with 4-byte SPIs and a TLV attribute',
    first: PayloadType.SA,
    hex:
      '00|00|003a|' + // SA len 4 + 28 + 26 = 58
      '02|00|001c|01|03|04|02|11223344|' + // proposal 1 (more follow), len 28, ESP, SPI, 2 transforms
      '03|00|0008|01|00|001c|' + // ENCR 28 (ChaCha20-Poly1305)
      '00|00|0008|05|00|0000|' + // ESN no (last)
      '00|00|001a|02|03|04|01|11223344|' + // proposal 2 (last), len 26, 1 transform
      '00|00|000e|01|00|0014|0099|0002|beef', // ENCR 20 with an unknown TLV attribute 0x99 (2 bytes)
    expected: [
      {
        type: 33,
        critical: false,
        proposals: [
          {
            num: 1,
            protocol: 3,
            spi: h('11223344'),
            transforms: [
              { type: 1, id: 28, attributes: [] },
              { type: 5, id: 0, attributes: [] },
            ],
          },
          {
            num: 2,
            protocol: 3,
            spi: h('11223344'),
            transforms: [{ type: 1, id: 20, attributes: [{ type: 0x99, value: h('beef') }] }],
          },
        ],
      },
    ],
  },
  {
    name: 'IDi FQDN (§3.5)',
    first: PayloadType.IDi,
    hex: `00|00|000a|02|000000|6777`,
    expected: [{ type: 35, critical: false, idType: 2, data: h('6777') }],
  },
  {
    name: 'AUTH shared key MIC (§3.8)',
    first: PayloadType.AUTH,
    hex: `00|00|0028|02|000000|${rep('5a', 32)}`,
    expected: [{ type: 39, critical: false, method: 2, data: h(rep('5a', 32)) }],
  },
  {
    name: 'Notify NAT_DETECTION_SOURCE_IP (§3.10) then CERTREQ (§3.7)',
    first: PayloadType.NOTIFY,
    hex: `26|00|001c|00|00|4004|${rep('cd', 20)}|` + `00|00|0009|04|${rep('ee', 4)}`,
    expected: [
      {
        type: 41,
        critical: false,
        protocol: 0,
        spi: new Uint8Array(0),
        notifyType: 16388,
        data: h(rep('cd', 20)),
      },
      { type: 38, critical: false, encoding: 4, data: h(rep('ee', 4)) },
    ],
  },
  {
    name: 'Notify REKEY_SA with an ESP SPI',
    first: PayloadType.NOTIFY,
    hex: `00|00|000c|03|04|4009|cafef00d`,
    expected: [
      {
        type: 41,
        critical: false,
        protocol: 3,
        spi: h('cafef00d'),
        notifyType: 16393,
        data: new Uint8Array(0),
      },
    ],
  },
  {
    name: 'Delete two ESP SPIs (§3.11) and Delete IKE',
    first: PayloadType.DELETE,
    hex: `2a|00|0010|03|04|0002|00000101|00000202|` + `00|00|0008|01|00|0000`,
    expected: [
      { type: 42, critical: false, protocol: 3, spiSize: 4, spis: [h('00000101'), h('00000202')] },
      { type: 42, critical: false, protocol: 1, spiSize: 0, spis: [] },
    ],
  },
  {
    name: 'TSi IPv4 range + TSr IPv6 range (§3.13)',
    first: PayloadType.TSi,
    hex:
      '2d|00|0018|01|000000|07|00|0010|0000|ffff|c0000200|c00002ff|' +
      `00|00|0030|01|000000|08|06|0028|0050|0050|20010db8${rep('00', 12)}|20010db8${rep('ff', 12)}`,
    expected: [
      {
        type: 44,
        critical: false,
        selectors: [
          {
            tsType: 7,
            ipProtocol: 0,
            startPort: 0,
            endPort: 65535,
            startAddr: h('c0000200'),
            endAddr: h('c00002ff'),
          },
        ],
      },
      {
        type: 45,
        critical: false,
        selectors: [
          {
            tsType: 8,
            ipProtocol: 6,
            startPort: 80,
            endPort: 80,
            startAddr: h(`20010db8${rep('00', 12)}`),
            endAddr: h(`20010db8${rep('ff', 12)}`),
          },
        ],
      },
    ],
  },
  {
    name: 'CP request with empty attributes and an unknown one (§3.15)',
    first: PayloadType.CP,
    hex: `00|00|0016|01|000000|0001|0000|0003|0000|7000|0002|abcd`,
    expected: [
      {
        type: 47,
        critical: false,
        cfgType: 1,
        attributes: [
          { type: 1, value: new Uint8Array(0) },
          { type: 3, value: new Uint8Array(0) },
          { type: 0x7000, value: h('abcd') },
        ],
      },
    ],
  },
  {
    name: 'EAP Identity request (§3.16) and Vendor ID (§3.12)',
    first: PayloadType.EAP,
    hex: `2b|00|0009|0101000501|` + `00|00|0008|${rep('76', 4)}`,
    expected: [
      { type: 48, critical: false, data: h('0101000501') },
      { type: 43, critical: false, data: h(rep('76', 4)) },
    ],
  },
  {
    name: 'SKF fragment 1 of 2 (RFC 7383 §2.5), first inner payload IDi',
    first: PayloadType.SKF,
    hex: `23|00|000c|0001|0002|aabbccdd`,
    expected: [
      {
        type: 53,
        critical: false,
        firstInner: 35,
        fragmentNumber: 1,
        totalFragments: 2,
        body: h('aabbccdd'),
      },
    ],
  },
  {
    name: 'SK payload (§3.14) keeps its body opaque',
    first: PayloadType.SK,
    hex: `24|00|000a|010203040506`,
    expected: [{ type: 46, critical: false, firstInner: 36, body: h('010203040506') }],
  },
  {
    name: 'unknown critical payload type 200 is preserved (§2.5)',
    first: 200,
    hex: `00|80|0006|beef`,
    expected: [{ type: 200, critical: true, unknown: true, body: h('beef') }],
  },
];

for (const f of fixtures) {
  test(`fixture: ${f.name}`, () => {
    const bytes = h(f.hex);
    const decoded = decodePayloadChain(f.first, bytes);
    assert.deepEqual(decoded, f.expected);
    const enc = encodePayloadChain(decoded);
    assert.equal(enc.first, f.first);
    assert.equal(toHex(enc.bytes), toHex(bytes));
  });
}

test('findUnsupportedCritical reports only critical unknown payloads', () => {
  const chain = decodePayloadChain(
    200,
    h(`c9|80|0006|beef|28|00|0005|01|00|00|0014|${rep('11', 16)}`),
  );
  assert.deepEqual(findUnsupportedCritical(chain), [200]);
});

const HDR = (next: string, len: number, exch = '22', flags = '08'): string =>
  `${rep('01', 8)}${rep('00', 8)}${next}20${exch}${flags}00000000${len.toString(16).padStart(8, '0')}`;

test('whole message: header fields and encodeMessage round trip', () => {
  const body = `00|00|0014|${rep('11', 16)}`;
  const msg = h(HDR('28', 28 + 20) + body);
  const m = decodeMessage(msg);
  assert.equal(m.header.exchangeType, ExchangeType.IKE_SA_INIT);
  assert.equal(m.header.flags, 0x08);
  assert.equal(toHex(encodeMessage(m.header, m.payloads)), toHex(msg));
});

interface Bad {
  name: string;
  run: () => unknown;
}

const bad: Bad[] = [
  { name: 'short buffer (header)', run: () => decodeHeader(h('0102030405')) },
  { name: 'header length past the end', run: () => decodeMessage(h(HDR('00', 40))) },
  { name: 'header length below 28', run: () => decodeMessage(h(HDR('00', 20))) },
  { name: 'trailing bytes after the message', run: () => decodeMessage(h(HDR('00', 28) + 'ff')) },
  {
    name: 'IKE major version 1',
    run: () => decodeMessage(h(HDR('00', 28).replace(/0020220800/, '0010220800'))),
  },
  {
    name: 'payload length smaller than a header',
    run: () => decodePayloadChain(40, h('00000003')),
  },
  {
    name: 'payload length past the end',
    run: () => decodePayloadChain(40, h(`00000030${rep('11', 16)}`)),
  },
  {
    name: 'trailing bytes after the chain',
    run: () => decodePayloadChain(40, h(`00000014${rep('11', 16)}00`)),
  },
  { name: 'nonce of 15 bytes', run: () => decodePayloadChain(40, h(`00000013${rep('11', 15)}`)) },
  { name: 'nonce of 257 bytes', run: () => decodePayloadChain(40, h(`00000105${rep('11', 257)}`)) },
  { name: 'zero-length KE data', run: () => decodePayloadChain(34, h('00000008001f0000')) },
  {
    name: 'TS IPv4 with IPv6 length',
    run: () => decodePayloadChain(44, h(`00000030|01000000|07000028|0000ffff|${rep('00', 32)}`)),
  },
  {
    name: 'Delete SPI count vs length',
    run: () => decodePayloadChain(42, h('0000000c|03040002|00000101')),
  },
  {
    name: 'Delete IKE with SPIs',
    run: () => decodePayloadChain(42, h('0000000c|01040001|00000101')),
  },
  {
    name: 'proposal with bad last-substruc',
    run: () => decodePayloadChain(33, h('00000010|07000008|01010000|')),
  },
  {
    name: 'transform count larger than present',
    run: () => decodePayloadChain(33, h('00000014|0000000c|01010002|00000008|01000014')),
  },
  {
    name: 'transform length below 8',
    run: () => decodePayloadChain(33, h('00000014|00000010|01010001|00000004|01000014')),
  },
  { name: 'SA with no proposal', run: () => decodePayloadChain(33, h('00000004')) },
  {
    name: 'EAP length field mismatch',
    run: () => decodePayloadChain(48, h('00000009|0101000601')),
  },
  { name: 'EAP shorter than its header', run: () => decodePayloadChain(48, h('00000006|0101')) },
  { name: 'SKF fragment 0', run: () => decodePayloadChain(53, h('0000000c|00000002|aabbccdd')) },
  {
    name: 'SKF fragment 3 of 2',
    run: () => decodePayloadChain(53, h('0000000c|00030002|aabbccdd')),
  },
  { name: 'bytes after SK', run: () => decodePayloadChain(46, h('24000006|0102|ff')) },
  {
    name: 'notify SPI size past the end',
    run: () => decodePayloadChain(41, h('00000008|0308|4009')),
  },
  {
    name: 'CP attribute length past the end',
    run: () => decodePayloadChain(47, h('0000000c|01000000|00010008')),
  },
  {
    name: 'TS count larger than present',
    run: () => decodePayloadChain(44, h('00000008|02000000')),
  },
];

for (const b of bad) {
  test(`malformed: ${b.name} → ParseError`, () => {
    assert.throws(b.run, (e: unknown) => e instanceof ParseError && e.code === 'ERR_PARSE');
  });
}

test('exchange rules: IKE_SA_INIT needs SA, KE and Nonce; error responses need not', () => {
  const nonce: Payload = { type: 40, critical: false, data: new Uint8Array(16) };
  assert.throws(() => checkExchangeRules(ExchangeType.IKE_SA_INIT, false, [nonce]), /missing SA/);
  const err: Payload = {
    type: 41,
    critical: false,
    protocol: 0,
    spi: new Uint8Array(0),
    notifyType: 14,
    data: new Uint8Array(0),
  };
  checkExchangeRules(ExchangeType.IKE_SA_INIT, true, [err]);
  assert.throws(
    () => checkExchangeRules(ExchangeType.IKE_SA_INIT, true, [err, nonce, nonce]),
    /2 NONCE/,
  );
});

test('exchange rules: encrypted exchanges carry only one SK outside, and only allowed payloads inside', () => {
  const sk: Payload = { type: 46, critical: false, firstInner: 0, body: new Uint8Array(20) };
  const nonce: Payload = { type: 40, critical: false, data: new Uint8Array(16) };
  checkExchangeRules(ExchangeType.INFORMATIONAL, false, [sk], []);
  assert.throws(
    () => checkExchangeRules(ExchangeType.INFORMATIONAL, false, [nonce]),
    /inside one SK/,
  );
  assert.throws(
    () => checkExchangeRules(ExchangeType.INFORMATIONAL, false, [sk, sk]),
    /inside one SK/,
  );
  assert.throws(
    () => checkExchangeRules(ExchangeType.INFORMATIONAL, false, [sk], [nonce]),
    /NONCE payload not allowed/,
  );
  assert.throws(() => checkExchangeRules(99, false, [sk]), /unsupported exchange/);
  const ke: Payload = { type: 34, critical: false, dhGroup: 31, data: new Uint8Array(32) };
  assert.throws(
    () => checkExchangeRules(ExchangeType.IKE_AUTH, false, [sk], [ke]),
    /KE payload not allowed/,
  );
});
