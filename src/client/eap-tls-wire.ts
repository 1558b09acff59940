/**
 * EAP-TLS packets (RFC 5216 §3.1): the header, flags and TLS Message Length, parsed and built.
 * Pure functions; the peer that uses them is eap-tls.ts.
 */

/** EAP method type of EAP-TLS (RFC 5216 §3.1). */
export const EAP_TYPE_TLS = 13;
/** EAP Codes (RFC 3748 §4). */
export const EAP_CODE_REQUEST = 1;
export const EAP_CODE_RESPONSE = 2;

/** EAP-TLS Flags (RFC 5216 §3.1): Length included, More fragments, Start. */
export const EAP_TLS_FLAG_LENGTH = 0x80;
export const EAP_TLS_FLAG_MORE = 0x40;
export const EAP_TLS_FLAG_START = 0x20;

/** Code, Identifier, Length (2), Type, Flags (RFC 5216 §3.1). */
export const HEADER_LEN = 6;
/** The TLS Message Length field present when L is set (RFC 5216 §3.1). */
export const TLS_LENGTH_LEN = 4;

/**
 * Largest TLS message (all fragments of one flight) we reassemble. RFC 5216 §2.1.5 leaves the
 * limit to implementations; 64 KiB holds any sane certificate chain (strongSwan allows 72 KiB).
 */
export const EAP_TLS_MAX_MESSAGE = 64 * 1024;
/** Default TLS data per outgoing fragment (strongSwan uses 1024-byte EAP packets). */
export const EAP_TLS_DEFAULT_FRAGMENT_SIZE = 1000;
export const MIN_FRAGMENT_SIZE = 16;
/** The EAP Length field is 16 bits (RFC 3748 §4.1). */
export const MAX_FRAGMENT_SIZE = 0xffff - HEADER_LEN - TLS_LENGTH_LEN;

/** One parsed EAP-TLS Request (RFC 5216 §3.1). */
export interface EapTlsRequest {
  id: number;
  flags: number;
  /** The TLS Message Length field, present when the L flag is set. */
  tlsLength: number | undefined;
  data: Uint8Array;
}

/** Parses one EAP-TLS Request; returns a message describing the problem if it is not one. */
export function parseRequest(packet: Uint8Array): EapTlsRequest | string {
  if (packet.length < HEADER_LEN) {
    return `EAP-TLS Request too short (${packet.length} bytes)`;
  }
  const code = packet[0]!;
  const id = packet[1]!;
  const length = (packet[2]! << 8) | packet[3]!;
  const type = packet[4]!;
  const flags = packet[5]!;
  if (code !== EAP_CODE_REQUEST) return `expected an EAP Request, got Code ${code}`;
  // RFC 3748 §4.1: octets beyond Length are padding; a Length beyond the packet is an error.
  if (length < HEADER_LEN || length > packet.length) {
    return `EAP-TLS Request Length ${length} does not fit the ${packet.length}-byte packet`;
  }
  if (type !== EAP_TYPE_TLS) return `expected an EAP-TLS Request (Type 13), got Type ${type}`;
  let offset = HEADER_LEN;
  let tlsLength: number | undefined;
  if ((flags & EAP_TLS_FLAG_LENGTH) !== 0) {
    if (length < HEADER_LEN + TLS_LENGTH_LEN) {
      return 'EAP-TLS Request has the L flag but no TLS Message Length field';
    }
    tlsLength = packet[6]! * 0x1000000 + ((packet[7]! << 16) | (packet[8]! << 8) | packet[9]!);
    offset += TLS_LENGTH_LEN;
  }
  // The remaining flag bits are reserved (RFC 5216 §3.1; RFC 9190 §2.1) and ignored on receipt.
  return { id, flags, tlsLength, data: packet.subarray(offset, length) };
}

/** Builds an EAP-TLS packet (RFC 5216 §3.1). */
export function encodePacket(
  code: number,
  id: number,
  flags: number,
  tlsLength: number | undefined,
  data: Uint8Array,
): Uint8Array {
  const extra = tlsLength === undefined ? 0 : TLS_LENGTH_LEN;
  const length = HEADER_LEN + extra + data.length;
  const out = new Uint8Array(length);
  out[0] = code;
  out[1] = id;
  out[2] = length >> 8;
  out[3] = length & 0xff;
  out[4] = EAP_TYPE_TLS;
  out[5] = flags;
  if (tlsLength !== undefined) {
    new DataView(out.buffer).setUint32(HEADER_LEN, tlsLength);
  }
  out.set(data, HEADER_LEN + extra);
  return out;
}

export function concat(parts: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function flagNames(flags: number): string {
  let s = '';
  if ((flags & EAP_TLS_FLAG_LENGTH) !== 0) s += 'L';
  if ((flags & EAP_TLS_FLAG_MORE) !== 0) s += 'M';
  if ((flags & EAP_TLS_FLAG_START) !== 0) s += 'S';
  return s === '' ? '-' : s;
}
