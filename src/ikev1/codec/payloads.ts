/**
 * ISAKMP generic payload chain and payload bodies (RFC 2408 §3.2–§3.15, RFC 2407 §4.6.2, RFC 3947
 * §3.2, §5.2). Every length and count is bounded; decoders throw only ParseError.
 *
 * Generic payload header (RFC 2408 §3.2):
 * | Next Payload  |   RESERVED    |         Payload Length        |
 */
import { Reader, Writer } from '../../core/bytes.js';
import { ParseError } from '../../core/errors.js';
import { V1Payload } from '../constants.js';
import type { V1Chain, V1PayloadAny } from './types.js';

export const V1_GENERIC_HEADER_LENGTH = 4;
/** Payloads in one message: Main Mode with a certificate chain needs about a dozen. */
export const V1_MAX_PAYLOADS = 64;
/** SPIs in one DELETE payload (RFC 2408 §3.15): we delete at most a few SAs at a time. */
export const V1_MAX_DELETE_SPIS = 64;

/** Decodes one payload body of type `type` (the generic header already read). */
export function decodeV1Body(type: number, r: Reader): V1PayloadAny {
  switch (type) {
    case V1Payload.SA:
    case V1Payload.KE:
    case V1Payload.HASH:
    case V1Payload.SIG:
    case V1Payload.NONCE:
    case V1Payload.VENDOR_ID:
    case V1Payload.ATTRIBUTE:
    case V1Payload.NAT_D:
    case V1Payload.NAT_D_DRAFT:
      return { kind: 'data', type, data: r.copy(r.remaining, 'payload body') };
    case V1Payload.ID: {
      // RFC 2407 §4.6.2: ID Type, Protocol ID, Port, Identification Data.
      const idType = r.u8('ID payload');
      const protocol = r.u8('ID payload');
      const port = r.u16('ID payload');
      return { kind: 'id', type, idType, protocol, port, data: r.copy(r.remaining, 'ID data') };
    }
    case V1Payload.CERT:
    case V1Payload.CERTREQ: {
      const encoding = r.u8('certificate payload');
      return { kind: 'cert', type, encoding, data: r.copy(r.remaining, 'certificate data') };
    }
    case V1Payload.NOTIFY: {
      // RFC 2408 §3.14: DOI, Protocol-ID, SPI Size, Notify Message Type, SPI, Notification Data.
      const doi = r.u32('notification payload');
      const protocol = r.u8('notification payload');
      const spiSize = r.u8('notification payload');
      const notifyType = r.u16('notification payload');
      const spi = r.copy(spiSize, 'notification SPI');
      return {
        kind: 'notify',
        type,
        doi,
        protocol,
        spi,
        notifyType,
        data: r.copy(r.remaining, 'notification data'),
      };
    }
    case V1Payload.DELETE: {
      // RFC 2408 §3.15: DOI, Protocol-Id, SPI Size, # of SPIs, SPIs.
      const doi = r.u32('delete payload');
      const protocol = r.u8('delete payload');
      const spiSize = r.u8('delete payload');
      const count = r.u16('delete payload');
      if (count > V1_MAX_DELETE_SPIS)
        r.fail('delete payload', `${count} SPIs, at most ${V1_MAX_DELETE_SPIS}`);
      if (spiSize * count !== r.remaining)
        r.fail('delete payload', `${count} SPIs of ${spiSize} bytes in ${r.remaining} bytes`);
      const spis: Uint8Array[] = [];
      for (let i = 0; i < count; i++) spis.push(r.copy(spiSize, 'delete SPI'));
      return { kind: 'delete', type, doi, protocol, spiSize, spis };
    }
    case V1Payload.NAT_OA:
    case V1Payload.NAT_OA_DRAFT: {
      const idType = r.u8('NAT-OA payload');
      r.skip(3, 'NAT-OA payload');
      const address = r.copy(r.remaining, 'NAT-OA address');
      if (address.length !== 4 && address.length !== 16)
        r.fail('NAT-OA payload', `address of ${address.length} bytes`);
      return { kind: 'natoa', type, idType, address };
    }
    default:
      return { kind: 'unknown', type, body: r.copy(r.remaining, 'payload body') };
  }
}

/** Encodes one payload body (without its generic header). */
export function encodeV1Body(p: V1PayloadAny): Uint8Array {
  const w = new Writer(64);
  switch (p.kind) {
    case 'data':
      w.bytes(p.data);
      break;
    case 'id':
      w.u8(p.idType).u8(p.protocol).u16(p.port).bytes(p.data);
      break;
    case 'cert':
      w.u8(p.encoding).bytes(p.data);
      break;
    case 'notify':
      w.u32(p.doi).u8(p.protocol).u8(p.spi.length).u16(p.notifyType).bytes(p.spi).bytes(p.data);
      break;
    case 'delete':
      w.u32(p.doi).u8(p.protocol).u8(p.spiSize).u16(p.spis.length);
      for (const s of p.spis) {
        if (s.length !== p.spiSize)
          throw new RangeError(`delete SPI of ${s.length} bytes, spiSize ${p.spiSize}`);
        w.bytes(s);
      }
      break;
    case 'natoa':
      w.u8(p.idType).zeros(3).bytes(p.address);
      break;
    case 'unknown':
      w.bytes(p.body);
      break;
  }
  return w.finish();
}

/**
 * Walks a payload chain starting with type `first` (RFC 2408 §3.2) until a Next Payload of NONE.
 * Bytes after the last payload are left to the caller (padding of an encrypted message).
 */
export function decodeV1Chain(first: number, bytes: Uint8Array, baseOffset = 0): V1Chain {
  const r = new Reader(bytes, 0, bytes.length, baseOffset);
  const payloads: V1PayloadAny[] = [];
  const spans: [number, number][] = [];
  let type = first;
  while (type !== V1Payload.NONE) {
    if (payloads.length >= V1_MAX_PAYLOADS)
      r.fail('payload chain', `more than ${V1_MAX_PAYLOADS} payloads`);
    const start = r.pos;
    const next = r.u8('payload header');
    r.u8('payload header'); // RESERVED (RFC 2408 §3.2: ignored on receipt)
    const len = r.u16('payload header');
    if (len < V1_GENERIC_HEADER_LENGTH)
      throw new ParseError('payload header', r.base + start, `length ${len} < 4`);
    const body = r.sub(len - V1_GENERIC_HEADER_LENGTH, `payload ${type} body`);
    const p = decodeV1Body(type, body);
    body.expectEnd(`payload ${type}`);
    payloads.push(p);
    spans.push([start, r.pos]);
    type = next;
  }
  return { payloads, spans, end: r.pos };
}

/** Encodes payloads as a chain; returns the first payload's type (for the header) and the bytes. */
export function encodeV1Chain(payloads: V1PayloadAny[]): { first: number; bytes: Uint8Array } {
  const w = new Writer(256);
  payloads.forEach((p, i) => {
    const body = encodeV1Body(p);
    const next = payloads[i + 1]?.type ?? V1Payload.NONE;
    w.u8(next)
      .u8(0)
      .u16(V1_GENERIC_HEADER_LENGTH + body.length)
      .bytes(body);
  });
  return { first: payloads[0]?.type ?? V1Payload.NONE, bytes: w.finish() };
}

/** Convenience constructors. */
export function dataPayload(type: number, data: Uint8Array): V1PayloadAny {
  return { kind: 'data', type, data };
}

export function findData(payloads: V1PayloadAny[], type: number): Uint8Array | undefined {
  for (const p of payloads) if (p.kind === 'data' && p.type === type) return p.data;
  return undefined;
}

export function allData(payloads: V1PayloadAny[], type: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const p of payloads) if (p.kind === 'data' && p.type === type) out.push(p.data);
  return out;
}
