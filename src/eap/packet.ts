/**
 * EAP packet codec (RFC 3748 §4): Code, Identifier, Length, and for Requests and Responses the
 * Type and Type-Data. Decoding raises only ParseError; bytes after Length are padding and ignored
 * (§4.1: "Octets outside the range of the Length field should be treated as Data Link Layer
 * padding and MUST be ignored upon reception").
 */
import { Reader, Writer } from '../core/bytes.js';
import { ParseError } from '../core/errors.js';

/** RFC 3748 §4 Code. */
export const EapCode = { REQUEST: 1, RESPONSE: 2, SUCCESS: 3, FAILURE: 4 } as const;

/** RFC 3748 §5 and the IANA "Method Types" registry (the ones we name in messages). */
export const EapType = {
  IDENTITY: 1,
  NOTIFICATION: 2,
  NAK: 3,
  MD5_CHALLENGE: 4,
  OTP: 5,
  GTC: 6,
  TLS: 13,
  LEAP: 17,
  SIM: 18,
  TTLS: 21,
  AKA: 23,
  PEAP: 25,
  MSCHAPV2: 26,
  FAST: 43,
  AKA_PRIME: 50,
  PWD: 52,
  TEAP: 55,
  EXPANDED: 254,
  EXPERIMENTAL: 255,
} as const;

const TYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [EapType.IDENTITY, 'EAP-Identity'],
  [EapType.NOTIFICATION, 'EAP-Notification'],
  [EapType.NAK, 'EAP-Nak'],
  [EapType.MD5_CHALLENGE, 'EAP-MD5'],
  [EapType.OTP, 'EAP-OTP'],
  [EapType.GTC, 'EAP-GTC'],
  [EapType.TLS, 'EAP-TLS'],
  [EapType.LEAP, 'EAP-LEAP'],
  [EapType.SIM, 'EAP-SIM'],
  [EapType.TTLS, 'EAP-TTLS'],
  [EapType.AKA, 'EAP-AKA'],
  [EapType.PEAP, 'EAP-PEAP'],
  [EapType.MSCHAPV2, 'EAP-MSCHAPv2'],
  [EapType.FAST, 'EAP-FAST'],
  [EapType.AKA_PRIME, "EAP-AKA'"],
  [EapType.PWD, 'EAP-pwd'],
  [EapType.TEAP, 'EAP-TEAP'],
  [EapType.EXPANDED, 'EAP-Expanded'],
  [EapType.EXPERIMENTAL, 'EAP-Experimental'],
]);

/** A method type's usual name ("EAP-MSCHAPv2"), or "EAP type N". */
export function eapTypeName(type: number): string {
  return TYPE_NAMES.get(type) ?? `EAP type ${type}`;
}

/** A Request or Response (RFC 3748 §4.1): it carries a Type. */
export interface EapMessage {
  code: typeof EapCode.REQUEST | typeof EapCode.RESPONSE;
  identifier: number;
  type: number;
  /** Type-Data: everything after the Type octet, up to Length. */
  data: Uint8Array;
}

/** A Success or Failure (RFC 3748 §4.2): no data. */
export interface EapResult {
  code: typeof EapCode.SUCCESS | typeof EapCode.FAILURE;
  identifier: number;
}

export type EapPacket = EapMessage | EapResult;

/** Code, Identifier, Length. */
export const EAP_HEADER_LEN = 4;

/**
 * Decodes one EAP packet. Malformed: fewer than 4 octets, Length < 4 or beyond the buffer, a
 * Request/Response without a Type octet, an unknown Code. Success/Failure carry no data (§4.2);
 * octets a sender put there anyway are ignored. The result owns its Type-Data (a copy).
 */
export function decodeEap(buf: Uint8Array): EapPacket {
  const r = new Reader(buf);
  const code = r.u8('EAP Code');
  const identifier = r.u8('EAP Identifier');
  const length = r.u16('EAP Length');
  if (length < EAP_HEADER_LEN) {
    throw new ParseError('EAP packet', 2, `Length ${length} is less than 4`);
  }
  if (length > buf.length) {
    throw new ParseError(
      'EAP packet',
      2,
      `Length ${length} exceeds the ${buf.length} octets received`,
    );
  }
  switch (code) {
    case EapCode.REQUEST:
    case EapCode.RESPONSE: {
      const body = new Reader(buf, EAP_HEADER_LEN, length);
      if (body.remaining < 1) {
        throw new ParseError(
          'EAP packet',
          EAP_HEADER_LEN,
          `${code === EapCode.REQUEST ? 'Request' : 'Response'} without a Type (Length ${length})`,
        );
      }
      const type = body.u8('EAP Type');
      return { code, identifier, type, data: body.copy(body.remaining, 'EAP Type-Data') };
    }
    case EapCode.SUCCESS:
    case EapCode.FAILURE:
      return { code, identifier };
    default:
      throw new ParseError('EAP packet', 0, `unknown Code ${code}`);
  }
}

/** Encodes an EAP packet; throws RangeError for out-of-range fields or a packet over 65535 octets. */
export function encodeEap(p: EapPacket): Uint8Array {
  const w = new Writer(EAP_HEADER_LEN + ('data' in p ? 1 + p.data.length : 0));
  w.u8(p.code).u8(p.identifier).u16(0);
  if ('data' in p) w.u8(p.type).bytes(p.data);
  w.patchU16(2, w.pos);
  return w.finish();
}
