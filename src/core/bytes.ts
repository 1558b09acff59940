/**
 * Bounds-checked big-endian byte reader and writer. These two classes are the only places that
 * index raw bytes in the codecs; everything else goes through them, so every length field is
 * distrusted until the Reader has checked it.
 */
import { ParseError } from './errors.js';

export class Reader {
  readonly buf: Uint8Array;
  /** Absolute position of the cursor in `buf`. */
  pos: number;
  /** Absolute end (exclusive) of the readable window. */
  readonly end: number;
  /** Position of buf[0] in the outermost buffer, for error offsets. */
  readonly base: number;
  private readonly view: DataView;

  constructor(buf: Uint8Array, start = 0, end = buf.length, base = 0) {
    if (start < 0 || end > buf.length || start > end) {
      throw new RangeError(`Reader window [${start}, ${end}) outside buffer of ${buf.length}`);
    }
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.base = base;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** Offset of the cursor in the outermost buffer (for error messages). */
  get offset(): number {
    return this.base + this.pos;
  }

  private need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.end) {
      throw new ParseError(what, this.offset, `need ${n} bytes, have ${this.remaining}`);
    }
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.view.getUint8(this.pos++);
  }

  u16(what = 'u16'): number {
    this.need(2, what);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  u32(what = 'u32'): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  u64(what = 'u64'): bigint {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos);
    this.pos += 8;
    return v;
  }

  /** A view (not a copy) of the next `n` bytes. */
  bytes(n: number, what = 'bytes'): Uint8Array {
    this.need(n, what);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** A copy of the next `n` bytes (use for data kept beyond the input's lifetime). */
  copy(n: number, what = 'bytes'): Uint8Array {
    return this.bytes(n, what).slice();
  }

  /** The rest of the window as a view. */
  rest(): Uint8Array {
    return this.bytes(this.remaining, 'rest');
  }

  skip(n: number, what = 'skip'): void {
    this.need(n, what);
    this.pos += n;
  }

  /** A reader over the next `n` bytes; the cursor of this reader moves past them. */
  sub(n: number, what = 'sub'): Reader {
    this.need(n, what);
    const r = new Reader(this.buf, this.pos, this.pos + n, this.base);
    this.pos += n;
    return r;
  }

  /** Throws if any bytes are left in the window. */
  expectEnd(what: string): void {
    if (this.pos !== this.end) {
      throw new ParseError(what, this.offset, `${this.remaining} trailing bytes`);
    }
  }

  fail(what: string, detail?: string): never {
    throw new ParseError(what, this.offset, detail);
  }
}

export class Writer {
  private buf: Uint8Array;
  private view: DataView;
  pos = 0;

  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
    this.view = new DataView(this.buf.buffer);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): this {
    checkUint(v, 0xff, 'u8');
    this.ensure(1);
    this.view.setUint8(this.pos++, v);
    return this;
  }

  u16(v: number): this {
    checkUint(v, 0xffff, 'u16');
    this.ensure(2);
    this.view.setUint16(this.pos, v);
    this.pos += 2;
    return this;
  }

  u32(v: number): this {
    checkUint(v, 0xffffffff, 'u32');
    this.ensure(4);
    this.view.setUint32(this.pos, v);
    this.pos += 4;
    return this;
  }

  u64(v: bigint): this {
    if (v < 0n || v > 0xffffffffffffffffn) throw new RangeError(`"u64" out of range: ${v}`);
    this.ensure(8);
    this.view.setBigUint64(this.pos, v);
    this.pos += 8;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  zeros(n: number): this {
    this.ensure(n);
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
    return this;
  }

  /** Overwrite a u16 written earlier (length fields). */
  patchU16(at: number, v: number): void {
    checkUint(v, 0xffff, 'u16');
    if (at + 2 > this.pos)
      throw new RangeError(`patchU16 at ${at} past written length ${this.pos}`);
    this.view.setUint16(at, v);
  }

  patchU32(at: number, v: number): void {
    checkUint(v, 0xffffffff, 'u32');
    if (at + 4 > this.pos)
      throw new RangeError(`patchU32 at ${at} past written length ${this.pos}`);
    this.view.setUint32(at, v);
  }

  patchU8(at: number, v: number): void {
    checkUint(v, 0xff, 'u8');
    if (at + 1 > this.pos) throw new RangeError(`patchU8 at ${at} past written length ${this.pos}`);
    this.view.setUint8(at, v);
  }

  /** A copy of everything written so far. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

function checkUint(v: number, max: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new RangeError(`"${what}" expected integer 0..${max}, got ${v}`);
  }
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function fromHex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) {
    throw new RangeError(
      `"hex" expected an even-length hex string, got ${JSON.stringify(s.slice(0, 40))}`,
    );
  }
  return new Uint8Array(Buffer.from(clean, 'hex'));
}

export function u32be(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v);
  return b;
}

/** Best-effort zeroing of key material (JS cannot guarantee no copies remain). */
export function wipe(...arrays: (Uint8Array | undefined)[]): void {
  for (const a of arrays) a?.fill(0);
}
