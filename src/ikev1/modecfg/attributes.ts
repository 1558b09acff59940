/**
 * The IKEv1 Attribute payload body (payload type 14, draft-dukes-ike-mode-cfg-02 §3.2): Type,
 * RESERVED, Identifier, then data attributes in the ISAKMP form (RFC 2408 §3.3: the AF bit
 * marks a two-octet value in the header, else a length and the value follow). Carries Mode
 * Config, XAUTH (draft-beaulieu-ike-xauth-02 §6) and the Cisco Unity attributes.
 *
 * Pure functions, no I/O. The decoder bounds every length and count and throws only VpnError.
 */
import { Reader, Writer } from '../../core/bytes.js';
import { VpnError, isVpnError } from '../../core/errors.js';

/** draft-dukes-ike-mode-cfg-02 §3.2: Attribute payload types. */
export const CfgType = { REQUEST: 1, REPLY: 2, SET: 3, ACK: 4 } as const;

/** draft-dukes-ike-mode-cfg-02 §3.2 (Mode Config attribute types). */
export const ModeCfgAttr = {
  INTERNAL_IP4_ADDRESS: 1,
  INTERNAL_IP4_NETMASK: 2,
  INTERNAL_IP4_DNS: 3,
  INTERNAL_IP4_NBNS: 4,
  INTERNAL_ADDRESS_EXPIRY: 5,
  INTERNAL_IP4_DHCP: 6,
  APPLICATION_VERSION: 7,
  INTERNAL_IP6_ADDRESS: 8,
  INTERNAL_IP6_NETMASK: 9,
  INTERNAL_IP6_DNS: 10,
  INTERNAL_IP6_NBNS: 11,
  INTERNAL_IP6_DHCP: 12,
  INTERNAL_IP4_SUBNET: 13,
  SUPPORTED_ATTRIBUTES: 14,
  INTERNAL_IP6_SUBNET: 15,
} as const;

/** draft-beaulieu-ike-xauth-02 §6.1 (XAUTH attribute types). */
export const XauthAttr = {
  TYPE: 16520,
  USER_NAME: 16521,
  USER_PASSWORD: 16522,
  PASSCODE: 16523,
  MESSAGE: 16524,
  CHALLENGE: 16525,
  DOMAIN: 16526,
  STATUS: 16527,
  NEXT_PIN: 16528,
  ANSWER: 16529,
} as const;

/** draft-beaulieu-ike-xauth-02 §6.2: XAUTH-TYPE values. */
export const XauthType = { GENERIC: 0, RADIUS_CHAP: 1, OTP: 2, S_KEY: 3 } as const;

/** draft-beaulieu-ike-xauth-02 §6.1: XAUTH-STATUS values. */
export const XauthStatus = { FAIL: 0, OK: 1 } as const;

/**
 * Cisco Unity attributes (private range 28672–32767 of draft-dukes-ike-mode-cfg-02 §3.2), with
 * the numbers Cisco's client, vpnc, strongSwan and libreswan use.
 */
export const UnityAttr = {
  BANNER: 28672,
  SAVE_PASSWD: 28673,
  DEF_DOMAIN: 28674,
  SPLITDNS_NAME: 28675,
  SPLIT_INCLUDE: 28676,
  NATT_PORT: 28677,
  LOCAL_LAN: 28678,
  PFS: 28679,
  FW_TYPE: 28680,
  BACKUP_SERVERS: 28681,
  DDNS_HOSTNAME: 28682,
} as const;

/** Attribute types whose value is basic (two octets): encoded TV when the value has 2 octets. */
const BASIC: ReadonlySet<number> = new Set([
  XauthAttr.TYPE,
  XauthAttr.STATUS,
  UnityAttr.SAVE_PASSWD,
  UnityAttr.NATT_PORT,
  UnityAttr.PFS,
]);

/** Most attributes we decode from one payload. */
export const MAX_CFG_ATTRIBUTES = 256;

/** One attribute: TV form for the basic ones (value of 2 octets), TLV otherwise. */
export interface CfgAttribute {
  type: number;
  value: Uint8Array;
}

export interface AttributePayload {
  cfgType: number;
  identifier: number;
  attributes: CfgAttribute[];
}

function protocolError(msg: string, cause?: unknown): VpnError {
  return new VpnError('ERR_IKE_PROTOCOL', msg, cause === undefined ? undefined : { cause });
}

/**
 * Decodes an Attribute payload body (after the generic payload header).
 * @throws VpnError ERR_IKE_PROTOCOL on a malformed body (truncated attribute, unknown type).
 */
export function decodeAttributePayload(body: Uint8Array): AttributePayload {
  try {
    const r = new Reader(body);
    const cfgType = r.u8('attribute payload type');
    if (cfgType < CfgType.REQUEST || cfgType > CfgType.ACK)
      throw protocolError(`attribute payload has unknown type ${cfgType}`);
    r.u8('attribute payload reserved');
    const identifier = r.u16('attribute payload identifier');
    const attributes: CfgAttribute[] = [];
    while (r.remaining > 0) {
      if (attributes.length >= MAX_CFG_ATTRIBUTES)
        throw protocolError(`attribute payload has more than ${MAX_CFG_ATTRIBUTES} attributes`);
      const h = r.u16('attribute type');
      const type = h & 0x7fff;
      // RFC 2408 §3.3: AF = 1, the value is the two octets that would be the length.
      const value = h & 0x8000 ? r.copy(2, 'attribute value') : r.copy(r.u16('attribute length'));
      attributes.push({ type, value });
    }
    return { cfgType, identifier, attributes };
  } catch (e) {
    if (isVpnError(e) && e.code === 'ERR_IKE_PROTOCOL') throw e;
    throw protocolError(
      `malformed attribute payload: ${e instanceof Error ? e.message : String(e)}`,
      e,
    );
  }
}

/** Encodes an Attribute payload body: basic attributes with 2-octet values as TV, others TLV. */
export function encodeAttributePayload(p: AttributePayload): Uint8Array {
  const w = new Writer(64);
  w.u8(p.cfgType).u8(0).u16(p.identifier);
  for (const a of p.attributes) {
    if (!Number.isInteger(a.type) || a.type < 0 || a.type > 0x7fff)
      throw new VpnError('ERR_ARG', `attribute type ${a.type} out of range`);
    if (a.value.length > 0xffff)
      throw new VpnError('ERR_ARG', `attribute ${a.type} value longer than 65535 octets`);
    if (BASIC.has(a.type) && a.value.length === 2) w.u16(0x8000 | a.type).bytes(a.value);
    else w.u16(a.type).u16(a.value.length).bytes(a.value);
  }
  if (w.pos + 4 > 0xffff) throw new VpnError('ERR_ARG', 'attribute payload too long');
  return w.finish();
}

/** A basic attribute's value as two octets. */
export function u16Value(v: number): Uint8Array {
  return new Uint8Array([(v >> 8) & 0xff, v & 0xff]);
}

/** The numeric value of a basic attribute (1 to 4 octets), or undefined. */
export function numberValue(v: Uint8Array): number | undefined {
  if (v.length === 0 || v.length > 4) return undefined;
  let n = 0;
  for (const b of v) n = n * 256 + b;
  return n;
}
