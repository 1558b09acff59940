/**
 * IKE header (RFC 7296 §3.1), generic payload header and chaining (§3.2), and whole messages.
 *
 *  0                   1                   2                   3
 * |                       IKE SA Initiator's SPI                  |
 * |                       IKE SA Responder's SPI                  |
 * |  Next Payload | MjVer | MnVer | Exchange Type |     Flags     |
 * |                          Message ID                           |
 * |                            Length                             |
 *
 * Generic payload header:
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 */
import { Reader, Writer } from '../../core/bytes.js';
import { ParseError } from '../../core/errors.js';
import { PayloadType } from '../constants.js';
import { decodeBody, encodeBody, innerNext } from './payloads.js';
import type { IkeHeader, Payload } from './types.js';

export const IKE_HEADER_LENGTH = 28;
export const GENERIC_HEADER_LENGTH = 4;

export function decodeHeader(bytes: Uint8Array): IkeHeader {
  const r = new Reader(bytes);
  const spiI = r.copy(8, 'IKE header');
  const spiR = r.copy(8, 'IKE header');
  const nextPayload = r.u8('IKE header');
  const version = r.u8('IKE header');
  const exchangeType = r.u8('IKE header');
  const flags = r.u8('IKE header');
  const messageId = r.u32('IKE header');
  const length = r.u32('IKE header');
  if (version >> 4 !== 2)
    throw new ParseError('IKE header', 17, `major version ${version >> 4}, expected 2`);
  if (length < IKE_HEADER_LENGTH) throw new ParseError('IKE header', 24, `length ${length} < 28`);
  if (length > bytes.length)
    throw new ParseError('IKE header', 24, `length ${length} > datagram ${bytes.length}`);
  if (length < bytes.length)
    throw new ParseError('IKE message', length, `${bytes.length - length} trailing bytes`);
  return { spiI, spiR, nextPayload, version, exchangeType, flags, messageId, length };
}

/**
 * Walks a payload chain starting with type `first`. An SK or SKF payload ends the chain (its Next
 * Payload names its first inner payload) and must be the last bytes. `baseOffset` positions error
 * offsets in the outer buffer.
 */
export function decodePayloadChain(first: number, bytes: Uint8Array, baseOffset = 0): Payload[] {
  const r = new Reader(bytes, 0, bytes.length, baseOffset);
  const out: Payload[] = [];
  let type = first;
  while (type !== PayloadType.NONE) {
    const start = r.offset;
    const next = r.u8('payload header');
    const flags = r.u8('payload header');
    const len = r.u16('payload header');
    if (len < GENERIC_HEADER_LENGTH)
      throw new ParseError('payload header', start, `length ${len} < 4`);
    const body = r.sub(len - GENERIC_HEADER_LENGTH, `payload ${type} body`);
    const p = decodeBody(type, (flags & 0x80) !== 0, body, next);
    out.push(p);
    if (innerNext(p) !== undefined) {
      // §3.14: SK is always last; §2.5 of RFC 7383 likewise for SKF.
      if (r.remaining > 0)
        throw new ParseError('payload chain', r.offset, 'bytes after the encrypted payload');
      return out;
    }
    type = next;
    if (out.length > 512) throw new ParseError('payload chain', r.offset, 'more than 512 payloads');
  }
  if (r.remaining > 0)
    throw new ParseError('payload chain', r.offset, `${r.remaining} trailing bytes`);
  return out;
}

/** Encodes a payload chain; returns the type of its first payload and the bytes. */
export function encodePayloadChain(payloads: readonly Payload[]): {
  first: number;
  bytes: Uint8Array;
} {
  const w = new Writer(256);
  payloads.forEach((p, i) => {
    const inner = innerNext(p);
    if (inner !== undefined && i !== payloads.length - 1) {
      throw new RangeError('an SK/SKF payload must be the last payload of a chain');
    }
    const next = inner ?? payloads[i + 1]?.type ?? PayloadType.NONE;
    const start = w.pos;
    w.u8(next)
      .u8(p.critical ? 0x80 : 0)
      .u16(0);
    encodeBody(w, p);
    const len = w.pos - start;
    if (len > 0xffff) throw new RangeError(`payload ${p.type} of ${len} bytes exceeds 65535`);
    w.patchU16(start + 2, len);
  });
  return { first: payloads[0]?.type ?? PayloadType.NONE, bytes: w.finish() };
}

export interface DecodedMessage {
  header: IkeHeader;
  /** The outer chain; SK/SKF bodies stay encrypted. */
  payloads: Payload[];
}

export function decodeMessage(bytes: Uint8Array): DecodedMessage {
  const header = decodeHeader(bytes);
  const payloads = decodePayloadChain(
    header.nextPayload,
    bytes.subarray(IKE_HEADER_LENGTH, header.length),
    IKE_HEADER_LENGTH,
  );
  return { header, payloads };
}

export function encodeMessage(
  header: Omit<IkeHeader, 'nextPayload' | 'length'>,
  payloads: readonly Payload[],
): Uint8Array {
  if (header.spiI.length !== 8 || header.spiR.length !== 8)
    throw new RangeError('IKE SPIs must be 8 bytes');
  const chain = encodePayloadChain(payloads);
  const w = new Writer(IKE_HEADER_LENGTH + chain.bytes.length);
  w.bytes(header.spiI).bytes(header.spiR);
  w.u8(chain.first).u8(header.version).u8(header.exchangeType).u8(header.flags);
  w.u32(header.messageId >>> 0).u32(IKE_HEADER_LENGTH + chain.bytes.length);
  w.bytes(chain.bytes);
  return w.finish();
}

/**
 * RFC 7296 §2.5: payload types we do not understand with the critical bit set; the message must
 * be rejected with UNSUPPORTED_CRITICAL_PAYLOAD naming the first one.
 */
export function findUnsupportedCritical(payloads: readonly Payload[]): number[] {
  return payloads.filter((p) => 'unknown' in p && p.critical).map((p) => p.type);
}
