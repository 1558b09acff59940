/**
 * Payload bodies (RFC 7296 §3.3–§3.16, RFC 7383 §2.5): one decode/encode pair per payload type,
 * each working on the bytes after the 4-byte generic payload header. Decoders check structure and
 * the obvious rules of meaning (nonce length, non-empty KE, consistent counts and lengths) and throw
 * only ParseError; encoders write exactly what a decoder reads back.
 */
import { Reader, Writer } from '../../core/bytes.js';
import { ParseError } from '../../core/errors.js';
import { PayloadType, ProtocolId, TsType } from '../constants.js';
import type {
  CfgAttribute,
  KnownPayload,
  Payload,
  Proposal,
  TrafficSelector,
  Transform,
  TransformAttribute,
} from './types.js';

// ---------------------------------------------------------------------------------------------
// SA (§3.3)
//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// Proposal substructure:
// | Last Substruc |   RESERVED    |         Proposal Length       |
// | Proposal Num  |  Protocol ID  |    SPI Size   |Num  Transforms|
// ~                        SPI (variable)                         ~
// ~                        <Transforms>                           ~
// Transform substructure:
// | Last Substruc |   RESERVED    |        Transform Length       |
// |Transform Type |   RESERVED    |          Transform ID         |
// ~                      Transform Attributes                     ~
// Attribute: |A|       Attribute Type        |    AF=0  Attribute Length / AF=1 Value |

const LAST = 0;
const MORE_PROPOSALS = 2;
const MORE_TRANSFORMS = 3;

function decodeAttributes(r: Reader): TransformAttribute[] {
  const attrs: TransformAttribute[] = [];
  while (r.remaining > 0) {
    const t = r.u16('transform attribute type');
    if ((t & 0x8000) !== 0) {
      attrs.push({ type: t & 0x7fff, value: r.u16('transform attribute value') });
    } else {
      const len = r.u16('transform attribute length');
      attrs.push({ type: t, value: r.copy(len, 'transform attribute value') });
    }
  }
  return attrs;
}

function decodeTransform(r: Reader): { t: Transform; last: number } {
  const start = r.offset;
  const last = r.u8('transform last substruc');
  if (last !== LAST && last !== MORE_TRANSFORMS) {
    throw new ParseError('transform', start, `last-substruc ${last} is neither 0 nor 3`);
  }
  r.skip(1);
  const len = r.u16('transform length');
  if (len < 8) throw new ParseError('transform', start, `length ${len} < 8`);
  const body = r.sub(len - 4, 'transform');
  const type = body.u8('transform type');
  body.skip(1);
  const id = body.u16('transform id');
  return { t: { type, id, attributes: decodeAttributes(body) }, last };
}

function decodeSa(r: Reader): Proposal[] {
  const proposals: Proposal[] = [];
  let last = MORE_PROPOSALS;
  while (last === MORE_PROPOSALS) {
    const start = r.offset;
    last = r.u8('proposal last substruc');
    if (last !== LAST && last !== MORE_PROPOSALS) {
      throw new ParseError('proposal', start, `last-substruc ${last} is neither 0 nor 2`);
    }
    r.skip(1);
    const len = r.u16('proposal length');
    if (len < 8) throw new ParseError('proposal', start, `length ${len} < 8`);
    const p = r.sub(len - 4, 'proposal');
    const num = p.u8('proposal number');
    const protocol = p.u8('protocol id');
    const spiSize = p.u8('spi size');
    const count = p.u8('number of transforms');
    const spi = p.copy(spiSize, 'proposal spi');
    const transforms: Transform[] = [];
    let tLast = count > 0 ? MORE_TRANSFORMS : LAST;
    for (let i = 0; i < count; i++) {
      if (tLast !== MORE_TRANSFORMS)
        throw new ParseError('proposal', p.offset, 'transform marked last before the count');
      const d = decodeTransform(p);
      tLast = d.last;
      transforms.push(d.t);
    }
    if (tLast !== LAST)
      throw new ParseError('proposal', p.offset, 'last transform not marked last');
    p.expectEnd('proposal');
    proposals.push({ num, protocol, spi, transforms });
  }
  r.expectEnd('SA payload');
  if (proposals.length === 0) throw new ParseError('SA payload', r.offset, 'no proposals');
  return proposals;
}

function encodeSa(w: Writer, proposals: Proposal[]): void {
  proposals.forEach((p, pi) => {
    const pStart = w.pos;
    w.u8(pi === proposals.length - 1 ? LAST : MORE_PROPOSALS)
      .u8(0)
      .u16(0);
    w.u8(p.num).u8(p.protocol).u8(p.spi.length).u8(p.transforms.length).bytes(p.spi);
    p.transforms.forEach((t, ti) => {
      const tStart = w.pos;
      w.u8(ti === p.transforms.length - 1 ? LAST : MORE_TRANSFORMS)
        .u8(0)
        .u16(0);
      w.u8(t.type).u8(0).u16(t.id);
      for (const a of t.attributes) {
        if (typeof a.value === 'number') w.u16(0x8000 | a.type).u16(a.value);
        else
          w.u16(a.type & 0x7fff)
            .u16(a.value.length)
            .bytes(a.value);
      }
      w.patchU16(tStart + 2, w.pos - tStart);
    });
    w.patchU16(pStart + 2, w.pos - pStart);
  });
}

// ---------------------------------------------------------------------------------------------
// Traffic selectors (§3.13)
// | Number of TSs |                 RESERVED                      |
// ~                       <Traffic Selectors>                     ~
// Selector: |   TS Type     |IP Protocol ID*|       Selector Length         |
//           |           Start Port*         |           End Port*           |
//           ~                         Starting Address*                     ~
//           ~                         Ending Address*                       ~

function decodeTs(r: Reader): TrafficSelector[] {
  const count = r.u8('number of TSs');
  r.skip(3, 'TS reserved');
  const out: TrafficSelector[] = [];
  for (let i = 0; i < count; i++) {
    const start = r.offset;
    const tsType = r.u8('TS type');
    const ipProtocol = r.u8('TS IP protocol');
    const len = r.u16('selector length');
    if (len < 4) throw new ParseError('traffic selector', start, `length ${len} < 4`);
    const s = r.sub(len - 4, 'traffic selector');
    if (tsType === TsType.TS_IPV4_ADDR_RANGE || tsType === TsType.TS_IPV6_ADDR_RANGE) {
      const alen = tsType === TsType.TS_IPV4_ADDR_RANGE ? 4 : 16;
      if (len !== 8 + 2 * alen) {
        throw new ParseError(
          'traffic selector',
          start,
          `length ${len} for type ${tsType}, expected ${8 + 2 * alen}`,
        );
      }
      const startPort = s.u16('start port');
      const endPort = s.u16('end port');
      out.push({
        tsType,
        ipProtocol,
        startPort,
        endPort,
        startAddr: s.copy(alen),
        endAddr: s.copy(alen),
      });
    } else {
      out.push({
        tsType,
        ipProtocol,
        startPort: 0,
        endPort: 0,
        startAddr: new Uint8Array(0),
        endAddr: new Uint8Array(0),
        raw: s.copy(s.remaining),
      });
    }
  }
  r.expectEnd('TS payload');
  return out;
}

function encodeTs(w: Writer, selectors: TrafficSelector[]): void {
  w.u8(selectors.length).zeros(3);
  for (const s of selectors) {
    if (s.raw) {
      w.u8(s.tsType)
        .u8(s.ipProtocol)
        .u16(4 + s.raw.length)
        .bytes(s.raw);
      continue;
    }
    w.u8(s.tsType)
      .u8(s.ipProtocol)
      .u16(8 + s.startAddr.length + s.endAddr.length);
    w.u16(s.startPort).u16(s.endPort).bytes(s.startAddr).bytes(s.endAddr);
  }
}

// ---------------------------------------------------------------------------------------------
// CP (§3.15): | CFG Type | RESERVED (3) | attributes: |R| Attribute Type | Length | Value |

function decodeCp(r: Reader): { cfgType: number; attributes: CfgAttribute[] } {
  const cfgType = r.u8('CFG type');
  r.skip(3, 'CP reserved');
  const attributes: CfgAttribute[] = [];
  while (r.remaining > 0) {
    const type = r.u16('CP attribute type') & 0x7fff;
    const len = r.u16('CP attribute length');
    attributes.push({ type, value: r.copy(len, 'CP attribute value') });
  }
  return { cfgType, attributes };
}

// ---------------------------------------------------------------------------------------------
// The dispatch: body decode/encode by payload type.

/** Decodes the body (after the generic header) of a payload of `type`. */
export function decodeBody(
  type: number,
  critical: boolean,
  r: Reader,
  nextPayload: number,
): Payload {
  switch (type) {
    case PayloadType.SA:
      return { type, critical, proposals: decodeSa(r) };
    case PayloadType.KE: {
      const dhGroup = r.u16('KE group');
      r.skip(2, 'KE reserved');
      const data = r.copy(r.remaining);
      // §3.4: the KE data is the public value; it can never be empty.
      if (data.length === 0)
        throw new ParseError('KE payload', r.offset, 'empty key exchange data');
      return { type, critical, dhGroup, data };
    }
    case PayloadType.IDi:
    case PayloadType.IDr: {
      const idType = r.u8('ID type');
      r.skip(3, 'ID reserved');
      return { type, critical, idType, data: r.copy(r.remaining) };
    }
    case PayloadType.CERT:
      return { type, critical, encoding: r.u8('certificate encoding'), data: r.copy(r.remaining) };
    case PayloadType.CERTREQ:
      return { type, critical, encoding: r.u8('certificate encoding'), data: r.copy(r.remaining) };
    case PayloadType.AUTH: {
      const method = r.u8('auth method');
      r.skip(3, 'AUTH reserved');
      return { type, critical, method, data: r.copy(r.remaining) };
    }
    case PayloadType.NONCE: {
      // §3.9: the nonce is at least 16 and at most 256 octets.
      if (r.remaining < 16 || r.remaining > 256) {
        throw new ParseError(
          'Nonce payload',
          r.offset,
          `nonce of ${r.remaining} bytes (must be 16..256)`,
        );
      }
      return { type, critical, data: r.copy(r.remaining) };
    }
    case PayloadType.NOTIFY: {
      const protocol = r.u8('notify protocol');
      const spiSize = r.u8('notify spi size');
      const notifyType = r.u16('notify type');
      const spi = r.copy(spiSize, 'notify spi');
      return { type, critical, protocol, spi, notifyType, data: r.copy(r.remaining) };
    }
    case PayloadType.DELETE: {
      const start = r.offset;
      const protocol = r.u8('delete protocol');
      const spiSize = r.u8('delete spi size');
      const count = r.u16('number of SPIs');
      if (protocol === ProtocolId.IKE && (spiSize !== 0 || count !== 0)) {
        throw new ParseError(
          'Delete payload',
          start,
          'IKE delete must have SPI size 0 and no SPIs',
        );
      }
      if ((protocol === ProtocolId.ESP || protocol === ProtocolId.AH) && spiSize !== 4) {
        throw new ParseError('Delete payload', start, `SPI size ${spiSize} for ESP/AH`);
      }
      if (spiSize * count !== r.remaining) {
        throw new ParseError(
          'Delete payload',
          start,
          `${count} SPIs of ${spiSize} bytes vs ${r.remaining} bytes`,
        );
      }
      const spis: Uint8Array[] = [];
      for (let i = 0; i < count; i++) spis.push(r.copy(spiSize, 'delete spi'));
      return { type, critical, protocol, spiSize, spis };
    }
    case PayloadType.VENDOR:
      return { type, critical, data: r.copy(r.remaining) };
    case PayloadType.TSi:
    case PayloadType.TSr:
      return { type, critical, selectors: decodeTs(r) };
    case PayloadType.SK:
      return { type, critical, firstInner: nextPayload, body: r.copy(r.remaining) };
    case PayloadType.CP:
      return { type, critical, ...decodeCp(r) };
    case PayloadType.EAP: {
      const start = r.offset;
      const data = r.copy(r.remaining);
      // RFC 3748 §4: Code, Identifier, Length (covering the whole packet).
      if (data.length < 4)
        throw new ParseError('EAP payload', start, `EAP packet of ${data.length} bytes`);
      const len = (data[2]! << 8) | data[3]!;
      if (len !== data.length)
        throw new ParseError('EAP payload', start, `EAP length ${len} != ${data.length}`);
      return { type, critical, data };
    }
    case PayloadType.SKF: {
      const start = r.offset;
      const fragmentNumber = r.u16('fragment number');
      const totalFragments = r.u16('total fragments');
      // RFC 7383 §2.5: numbering starts at 1; the number cannot exceed the total.
      if (fragmentNumber < 1 || totalFragments < 1 || fragmentNumber > totalFragments) {
        throw new ParseError(
          'SKF payload',
          start,
          `fragment ${fragmentNumber} of ${totalFragments}`,
        );
      }
      return {
        type,
        critical,
        firstInner: nextPayload,
        fragmentNumber,
        totalFragments,
        body: r.copy(r.remaining),
      };
    }
    default:
      return { type, critical, unknown: true, body: r.copy(r.remaining) };
  }
}

/** Writes the body of a payload (after the generic header). */
export function encodeBody(w: Writer, p: Payload): void {
  if ('unknown' in p) {
    w.bytes(p.body);
    return;
  }
  const k: KnownPayload = p;
  switch (k.type) {
    case 33:
      encodeSa(w, k.proposals);
      return;
    case 34:
      w.u16(k.dhGroup).u16(0).bytes(k.data);
      return;
    case 35:
    case 36:
      w.u8(k.idType).zeros(3).bytes(k.data);
      return;
    case 37:
    case 38:
      w.u8(k.encoding).bytes(k.data);
      return;
    case 39:
      w.u8(k.method).zeros(3).bytes(k.data);
      return;
    case 40:
    case 43:
    case 48:
      w.bytes(k.data);
      return;
    case 41:
      w.u8(k.protocol).u8(k.spi.length).u16(k.notifyType).bytes(k.spi).bytes(k.data);
      return;
    case 42:
      w.u8(k.protocol).u8(k.spiSize).u16(k.spis.length);
      for (const s of k.spis) w.bytes(s);
      return;
    case 44:
    case 45:
      encodeTs(w, k.selectors);
      return;
    case 46:
      w.bytes(k.body);
      return;
    case 47:
      w.u8(k.cfgType).zeros(3);
      for (const a of k.attributes)
        w.u16(a.type & 0x7fff)
          .u16(a.value.length)
          .bytes(a.value);
      return;
    case 53:
      w.u16(k.fragmentNumber).u16(k.totalFragments).bytes(k.body);
      return;
  }
}

/** The value written in the Next Payload field of the header preceding `p`'s successor slot. */
export function innerNext(p: Payload): number | undefined {
  if (p.type === PayloadType.SK && !('unknown' in p)) return p.firstInner;
  if (p.type === PayloadType.SKF && !('unknown' in p)) return p.firstInner;
  return undefined;
}
