/**
 * ISAKMP header (RFC 2408 §3.1) and whole messages, plain or encrypted (RFC 2408 §3.1 E flag,
 * RFC 2409 Appendix B: CBC with the IV chain kept by the caller, see crypt.ts).
 *
 * |                 Initiator Cookie (8)  |  Responder Cookie (8)                 |
 * |  Next Payload | MjVer | MnVer | Exchange Type |     Flags     |
 * |                          Message ID                           |
 * |                            Length                             |
 */
import { Reader, Writer } from '../../core/bytes.js';
import { ParseError } from '../../core/errors.js';
import { MAX_IKE_MESSAGE_BYTES } from '../../ike/limits.js';
import { ISAKMP_VERSION, V1Flag } from '../constants.js';
import { decodeV1Chain } from './payloads.js';
import type { V1Chain, V1Header } from './types.js';

export const V1_HEADER_LENGTH = 28;

/** Decodes and checks the header: major version 1, the length equal to the datagram's. */
export function decodeV1Header(bytes: Uint8Array): V1Header {
  if (bytes.length > MAX_IKE_MESSAGE_BYTES)
    throw new ParseError(
      'ISAKMP message',
      0,
      `${bytes.length} bytes, at most ${MAX_IKE_MESSAGE_BYTES}`,
    );
  const r = new Reader(bytes);
  const cookieI = r.copy(8, 'ISAKMP header');
  const cookieR = r.copy(8, 'ISAKMP header');
  const nextPayload = r.u8('ISAKMP header');
  const version = r.u8('ISAKMP header');
  const exchangeType = r.u8('ISAKMP header');
  const flags = r.u8('ISAKMP header');
  const messageId = r.u32('ISAKMP header');
  const length = r.u32('ISAKMP header');
  // RFC 2408 §5.1: a major version above ours is refused (INVALID_MAJOR_VERSION).
  if (version >> 4 !== 1)
    throw new ParseError('ISAKMP header', 17, `major version ${version >> 4}, expected 1`);
  if (length < V1_HEADER_LENGTH)
    throw new ParseError('ISAKMP header', 24, `length ${length} < ${V1_HEADER_LENGTH}`);
  if (length > bytes.length)
    throw new ParseError('ISAKMP header', 24, `length ${length} > datagram ${bytes.length}`);
  if (length < bytes.length)
    throw new ParseError('ISAKMP message', length, `${bytes.length - length} trailing bytes`);
  return { cookieI, cookieR, nextPayload, version, exchangeType, flags, messageId, length };
}

export function encodeV1Header(h: Omit<V1Header, 'length'>, bodyLength: number): Uint8Array {
  if (h.cookieI.length !== 8 || h.cookieR.length !== 8)
    throw new RangeError('ISAKMP cookies must be 8 bytes');
  return new Writer(V1_HEADER_LENGTH)
    .bytes(h.cookieI)
    .bytes(h.cookieR)
    .u8(h.nextPayload)
    .u8(h.version)
    .u8(h.exchangeType)
    .u8(h.flags)
    .u32(h.messageId >>> 0)
    .u32(V1_HEADER_LENGTH + bodyLength)
    .finish();
}

/** A decoded message: the header and, when not encrypted, the payload chain. */
export interface V1Message {
  header: V1Header;
  /** The bytes after the header: the payload chain, or ciphertext when encrypted. */
  body: Uint8Array;
  /** Present when the E flag is clear. */
  chain?: V1Chain;
}

/**
 * Decodes a datagram. An unencrypted message must be exactly its payload chain (no trailing
 * bytes); an encrypted one is returned with its ciphertext for the caller to decrypt.
 */
export function decodeV1Message(bytes: Uint8Array): V1Message {
  const header = decodeV1Header(bytes);
  const body = bytes.subarray(V1_HEADER_LENGTH, header.length);
  if (header.flags & V1Flag.ENCRYPTION) return { header, body };
  const chain = decodeV1Chain(header.nextPayload, body, V1_HEADER_LENGTH);
  if (chain.end !== body.length)
    throw new ParseError(
      'ISAKMP message',
      V1_HEADER_LENGTH + chain.end,
      'bytes after the last payload',
    );
  return { header, body, chain };
}

/** Header fields the sender chooses (the version is always 1.0). */
export interface V1HeaderFields {
  cookieI: Uint8Array;
  cookieR: Uint8Array;
  exchangeType: number;
  flags: number;
  messageId: number;
}

/** Encodes a message from its header fields, the first payload's type and the body bytes. */
export function encodeV1Message(h: V1HeaderFields, first: number, body: Uint8Array): Uint8Array {
  const head = encodeV1Header({ ...h, nextPayload: first, version: ISAKMP_VERSION }, body.length);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}
