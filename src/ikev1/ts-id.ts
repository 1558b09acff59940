/**
 * Quick Mode client identities (RFC 2409 §5.5, RFC 2407 §4.6.2): a traffic selector as an ID
 * payload (ID_IPV4_ADDR for one address, ID_IPV4_ADDR_SUBNET for a prefix, ID_IPV4_ADDR_RANGE
 * otherwise; IPv6 alike), with the IP protocol and port (0 = any), and back.
 */
import { ParseError } from '../core/errors.js';
import { TsType } from '../ike/constants.js';
import type { TrafficSelector } from '../ike/codec/index.js';
import { V1IdType, V1Payload } from './constants.js';
import type { V1IdPayload } from './codec/index.js';

function prefixOf(start: Uint8Array, end: Uint8Array): number | undefined {
  let p = 0;
  for (let i = 0; i < start.length; i++) {
    const x = start[i]! ^ end[i]!;
    // The differing bits must be a run of host bits: start has zeros there, end has ones.
    for (let b = 7; b >= 0; b--) {
      const bit = 1 << b;
      if (x & bit) {
        if (start[i]! & bit || !(end[i]! & bit)) return undefined;
      } else if (p === i * 8 + (7 - b)) {
        p++;
      } else {
        return undefined;
      }
    }
  }
  return p;
}

function mask(len: number, prefix: number): Uint8Array {
  const m = new Uint8Array(len);
  for (let i = 0; i < prefix; i++) m[i >> 3]! |= 0x80 >> (i & 7);
  return m;
}

/** A traffic selector as a Quick Mode IDci / IDcr payload. */
export function idFromTs(ts: TrafficSelector): V1IdPayload {
  const v6 = ts.startAddr.length === 16;
  const port = ts.startPort === ts.endPort ? ts.startPort : 0;
  const base = { kind: 'id' as const, type: V1Payload.ID, protocol: ts.ipProtocol, port };
  const same = ts.startAddr.every((b, i) => b === ts.endAddr[i]);
  if (same)
    return {
      ...base,
      idType: v6 ? V1IdType.IPV6_ADDR : V1IdType.IPV4_ADDR,
      data: ts.startAddr.slice(),
    };
  const p = prefixOf(ts.startAddr, ts.endAddr);
  if (p !== undefined) {
    const data = new Uint8Array(ts.startAddr.length * 2);
    data.set(ts.startAddr);
    data.set(mask(ts.startAddr.length, p), ts.startAddr.length);
    return { ...base, idType: v6 ? V1IdType.IPV6_ADDR_SUBNET : V1IdType.IPV4_ADDR_SUBNET, data };
  }
  const data = new Uint8Array(ts.startAddr.length * 2);
  data.set(ts.startAddr);
  data.set(ts.endAddr, ts.startAddr.length);
  return { ...base, idType: v6 ? V1IdType.IPV6_ADDR_RANGE : V1IdType.IPV4_ADDR_RANGE, data };
}

/** An IDci / IDcr payload as a traffic selector; ParseError for other ID types or sizes. */
export function tsFromId(id: V1IdPayload): TrafficSelector {
  const ports =
    id.port === 0 ? { startPort: 0, endPort: 65535 } : { startPort: id.port, endPort: id.port };
  const sel = (start: Uint8Array, end: Uint8Array): TrafficSelector => ({
    tsType: start.length === 4 ? TsType.TS_IPV4_ADDR_RANGE : TsType.TS_IPV6_ADDR_RANGE,
    ipProtocol: id.protocol,
    ...ports,
    startAddr: start,
    endAddr: end,
  });
  const n =
    id.idType === V1IdType.IPV4_ADDR ||
    id.idType === V1IdType.IPV4_ADDR_SUBNET ||
    id.idType === V1IdType.IPV4_ADDR_RANGE
      ? 4
      : 16;
  switch (id.idType) {
    case V1IdType.IPV4_ADDR:
    case V1IdType.IPV6_ADDR:
      if (id.data.length !== n) break;
      return sel(id.data.slice(), id.data.slice());
    case V1IdType.IPV4_ADDR_SUBNET:
    case V1IdType.IPV6_ADDR_SUBNET: {
      if (id.data.length !== 2 * n) break;
      const a = id.data.subarray(0, n);
      const m = id.data.subarray(n);
      const start = a.map((b, i) => b & m[i]!);
      const end = a.map((b, i) => (b & m[i]!) | (~m[i]! & 0xff));
      return sel(start, end);
    }
    case V1IdType.IPV4_ADDR_RANGE:
    case V1IdType.IPV6_ADDR_RANGE:
      if (id.data.length !== 2 * n) break;
      return sel(id.data.slice(0, n), id.data.slice(n));
  }
  throw new ParseError(
    'Quick Mode ID payload',
    0,
    `ID type ${id.idType} with ${id.data.length} bytes`,
  );
}
