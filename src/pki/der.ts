/**
 * A minimal DER reader and writer (ITU-T X.690 §8, §10): enough for X.509 certificates, PKCS#8,
 * PKCS#12 and the AlgorithmIdentifiers of RFC 7427. Decoding is strict (definite lengths only,
 * minimal length encoding) and throws only `ParseError`.
 */
import { ParseError } from '../core/errors.js';

/** Universal tags used by the PKI code. */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** One decoded TLV. `raw` is the whole encoding (tag, length and value). */
export interface Der {
  tag: number;
  /** Constructed encoding (bit 6 of the tag). */
  constructed: boolean;
  value: Uint8Array;
  raw: Uint8Array;
}

/** Decodes the TLV at `offset` of `buf`; returns it and the offset after it. */
export function readDer(buf: Uint8Array, offset = 0, what = 'DER'): { der: Der; next: number } {
  if (offset + 2 > buf.length) throw new ParseError(what, offset, 'truncated TLV header');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new ParseError(what, offset, 'high tag numbers not supported');
  let len = buf[offset + 1]!;
  let p = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw new ParseError(what, offset, 'indefinite length is not DER');
    if (n > 4) throw new ParseError(what, offset, 'length too large');
    if (p + n > buf.length) throw new ParseError(what, offset, 'truncated length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    if (len < 0x80 || buf[p] === 0) throw new ParseError(what, offset, 'non-minimal length');
    p += n;
  }
  if (p + len > buf.length) throw new ParseError(what, offset, `length ${len} past end`);
  return {
    der: {
      tag,
      constructed: (tag & 0x20) !== 0,
      value: buf.subarray(p, p + len),
      raw: buf.subarray(offset, p + len),
    },
    next: p + len,
  };
}

/** Decodes exactly one TLV filling `buf`. */
export function parseDer(buf: Uint8Array, what = 'DER'): Der {
  const { der, next } = readDer(buf, 0, what);
  if (next !== buf.length) throw new ParseError(what, next, 'trailing bytes');
  return der;
}

/** The TLVs inside a constructed value, in order. */
export function children(d: Der, what = 'DER'): Der[] {
  if (!d.constructed)
    throw new ParseError(what, 0, `tag 0x${d.tag.toString(16)} is not constructed`);
  const out: Der[] = [];
  let p = 0;
  while (p < d.value.length) {
    const r = readDer(d.value, p, what);
    out.push(r.der);
    p = r.next;
  }
  return out;
}

/** Asserts the tag of `d` and returns it (for chained reads). */
export function expectTag(d: Der | undefined, tag: number, what: string): Der {
  if (!d) throw new ParseError(what, 0, `missing element (expected tag 0x${tag.toString(16)})`);
  if (d.tag !== tag)
    throw new ParseError(what, 0, `tag 0x${d.tag.toString(16)}, expected 0x${tag.toString(16)}`);
  return d;
}

/** Dotted-decimal form of an OBJECT IDENTIFIER's value (X.690 §8.19). */
export function decodeOid(value: Uint8Array): string {
  if (value.length === 0) throw new ParseError('OID', 0, 'empty');
  const arcs: number[] = [];
  let v = 0;
  for (let i = 0; i < value.length; i++) {
    const b = value[i]!;
    if (v === 0 && b === 0x80) throw new ParseError('OID', i, 'non-minimal arc');
    v = v * 128 + (b & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER / 128) throw new ParseError('OID', i, 'arc too large');
    if ((b & 0x80) === 0) {
      arcs.push(v);
      v = 0;
    } else if (i === value.length - 1) {
      throw new ParseError('OID', i, 'truncated arc');
    }
  }
  const first = arcs[0]!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join('.');
}

/** The value bytes of an OBJECT IDENTIFIER in dotted-decimal form. */
export function encodeOid(oid: string): Uint8Array {
  const arcs = oid.split('.').map((s) => {
    if (!/^\d+$/.test(s)) throw new RangeError(`bad OID ${oid}`);
    return Number(s);
  });
  if (arcs.length < 2) throw new RangeError(`bad OID ${oid}`);
  const out: number[] = [];
  const all = [arcs[0]! * 40 + arcs[1]!, ...arcs.slice(2)];
  for (const a of all) {
    const bytes = [a & 0x7f];
    let x = Math.floor(a / 128);
    while (x > 0) {
      bytes.unshift((x & 0x7f) | 0x80);
      x = Math.floor(x / 128);
    }
    out.push(...bytes);
  }
  return Uint8Array.from(out);
}

/** Encodes one TLV. */
export function tlv(tag: number, value: Uint8Array): Uint8Array {
  const len = value.length;
  let head: number[];
  if (len < 0x80) head = [tag, len];
  else {
    const lb: number[] = [];
    for (let x = len; x > 0; x = Math.floor(x / 256)) lb.unshift(x & 0xff);
    head = [tag, 0x80 | lb.length, ...lb];
  }
  const out = new Uint8Array(head.length + len);
  out.set(head);
  out.set(value, head.length);
  return out;
}

/** A SEQUENCE of already-encoded elements. */
export function seq(...items: Uint8Array[]): Uint8Array {
  return tlv(Tag.SEQUENCE, concat(items));
}

/** An OBJECT IDENTIFIER TLV. */
export function oid(dotted: string): Uint8Array {
  return tlv(Tag.OID, encodeOid(dotted));
}

export const DER_NULL = Uint8Array.of(Tag.NULL, 0);

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A non-negative INTEGER's value as a bigint (leading sign byte allowed). */
export function decodeUnsigned(value: Uint8Array): bigint {
  if (value.length === 0) throw new ParseError('INTEGER', 0, 'empty');
  if (value[0]! & 0x80) throw new ParseError('INTEGER', 0, 'negative');
  let v = 0n;
  for (const b of value) v = (v << 8n) | BigInt(b);
  return v;
}
