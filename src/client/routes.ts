/**
 * Converting traffic-selector address ranges into the CIDR prefixes routes need. A selector
 * range need not be a prefix (RFC 7296 §3.13.1 allows any start..end), so it is covered by the
 * minimal list of prefixes.
 */
import { formatIpAddress } from '../core/ip.js';

function toBig(b: Uint8Array): bigint {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

function fromBig(v: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** Minimal CIDR cover of [start, end] (inclusive); both 4 or both 16 bytes. */
export function rangeToCidrs(start: Uint8Array, end: Uint8Array): string[] {
  if (start.length !== end.length) return [];
  const bits = start.length * 8;
  let lo = toBig(start);
  const hi = toBig(end);
  const out: string[] = [];
  while (lo <= hi) {
    // Largest block aligned at lo that fits within [lo, hi].
    let size = 0;
    while (size < bits) {
      const next = 1n << BigInt(size + 1);
      if (lo % next !== 0n || lo + next - 1n > hi) break;
      size++;
    }
    out.push(`${formatIpAddress(fromBig(lo, start.length))}/${bits - size}`);
    lo += 1n << BigInt(size);
  }
  return out;
}

/** Is `ip` (4 or 16 bytes) inside the prefix `cidr`? */
export function cidrContainsBytes(net: Uint8Array, prefix: number, ip: Uint8Array): boolean {
  if (net.length !== ip.length) return false;
  const bits = net.length * 8;
  const shift = BigInt(bits - prefix);
  return toBig(net) >> shift === toBig(ip) >> shift;
}
