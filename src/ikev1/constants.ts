/**
 * ISAKMP (RFC 2408) and IKEv1 (RFC 2409, RFC 2407 IPsec DOI) numbers: exchange types, payload
 * types, notify message types, identification types, and the extensions we speak (RFC 3947 NAT-T,
 * RFC 3706 DPD, draft-beaulieu-ike-xauth-02, draft-dukes-ike-mode-cfg-02).
 */

/** RFC 2408 §3.1: ISAKMP version 1.0 (major 1, minor 0). */
export const ISAKMP_VERSION = 0x10;

/** RFC 2408 §3.1 Exchange Type; RFC 2409 §5, draft-dukes-ike-mode-cfg-02 §3.2 (Transaction). */
export const V1Exchange = {
  BASE: 1,
  MAIN_MODE: 2, // Identity Protection
  AUTH_ONLY: 3,
  AGGRESSIVE: 4,
  INFORMATIONAL: 5,
  TRANSACTION: 6,
  QUICK_MODE: 32,
  NEW_GROUP: 33,
} as const;

/** RFC 2408 §3.1 Flags. */
export const V1Flag = { ENCRYPTION: 0x01, COMMIT: 0x02, AUTH_ONLY: 0x04 } as const;

/** RFC 2408 §3.1 Next Payload types, RFC 3947 §3.1/§5 (NAT-D, NAT-OA) and their draft numbers. */
export const V1Payload = {
  NONE: 0,
  SA: 1,
  PROPOSAL: 2,
  TRANSFORM: 3,
  KE: 4,
  ID: 5,
  CERT: 6,
  CERTREQ: 7,
  HASH: 8,
  SIG: 9,
  NONCE: 10,
  NOTIFY: 11,
  DELETE: 12,
  VENDOR_ID: 13,
  ATTRIBUTE: 14, // draft-dukes-ike-mode-cfg-02 §3.2
  NAT_D: 20, // RFC 3947 §3.2
  NAT_OA: 21, // RFC 3947 §5.2
  NAT_D_DRAFT: 130, // draft-ietf-ipsec-nat-t-ike-02/03
  NAT_OA_DRAFT: 131,
  FRAGMENT: 132, // Cisco/strongSwan IKEv1 fragmentation (opaque to us)
} as const;

/** RFC 2407 §4.6.2.1 Identification Type Values. */
export const V1IdType = {
  IPV4_ADDR: 1,
  FQDN: 2,
  USER_FQDN: 3,
  IPV4_ADDR_SUBNET: 4,
  IPV6_ADDR: 5,
  IPV6_ADDR_SUBNET: 6,
  IPV4_ADDR_RANGE: 7,
  IPV6_ADDR_RANGE: 8,
  DER_ASN1_DN: 9,
  DER_ASN1_GN: 10,
  KEY_ID: 11,
} as const;

/** RFC 2408 §3.9 Certificate Encoding. */
export const V1CertEncoding = { X509_SIG: 4 } as const;

/** RFC 2408 §3.14.1 (errors), RFC 2407 §4.6.3 (status), RFC 3706 §5 (DPD). */
export const V1Notify = {
  INVALID_PAYLOAD_TYPE: 1,
  DOI_NOT_SUPPORTED: 2,
  SITUATION_NOT_SUPPORTED: 3,
  INVALID_COOKIE: 4,
  INVALID_MAJOR_VERSION: 5,
  INVALID_MINOR_VERSION: 6,
  INVALID_EXCHANGE_TYPE: 7,
  INVALID_FLAGS: 8,
  INVALID_MESSAGE_ID: 9,
  INVALID_PROTOCOL_ID: 10,
  INVALID_SPI: 11,
  INVALID_TRANSFORM_ID: 12,
  ATTRIBUTES_NOT_SUPPORTED: 13,
  NO_PROPOSAL_CHOSEN: 14,
  BAD_PROPOSAL_SYNTAX: 15,
  PAYLOAD_MALFORMED: 16,
  INVALID_KEY_INFORMATION: 17,
  INVALID_ID_INFORMATION: 18,
  INVALID_CERT_ENCODING: 19,
  INVALID_CERTIFICATE: 20,
  CERT_TYPE_UNSUPPORTED: 21,
  INVALID_CERT_AUTHORITY: 22,
  INVALID_HASH_INFORMATION: 23,
  AUTHENTICATION_FAILED: 24,
  INVALID_SIGNATURE: 25,
  ADDRESS_NOTIFICATION: 26,
  NOTIFY_SA_LIFETIME: 27,
  CERTIFICATE_UNAVAILABLE: 28,
  UNSUPPORTED_EXCHANGE_TYPE: 29,
  UNEQUAL_PAYLOAD_LENGTHS: 30,
  CONNECTED: 16384,
  RESPONDER_LIFETIME: 24576, // RFC 2407 §4.6.3.1
  REPLAY_STATUS: 24577,
  INITIAL_CONTACT: 24578, // RFC 2407 §4.6.3.3
  DPD_R_U_THERE: 36136, // RFC 3706 §5
  DPD_R_U_THERE_ACK: 36137,
} as const;

/** RFC 2408 §3.4 / RFC 2407 §4.4.1 Protocol IDs. */
export const V1Protocol = { ISAKMP: 1, AH: 2, ESP: 3 } as const;

/** RFC 2407 §4.2 IPsec DOI. */
export const IPSEC_DOI = 1;

/** Vendor IDs we send or recognise (RFC 3947 §3.1, RFC 3706 §4, xauth/unity conventions). */
export const VendorId = {
  /** MD5("RFC 3947") */
  NATT_RFC: '4a131c81070358455c5728f20e95452f',
  /** MD5("draft-ietf-ipsec-nat-t-ike-02\n") */
  NATT_DRAFT_02N: '90cb80913ebb696e086381b5ec427b1f',
  /** MD5("draft-ietf-ipsec-nat-t-ike-03") */
  NATT_DRAFT_03: '7d9419a65310ca6f2c179d9215529d56',
  /** RFC 3706 §4: DPD vendor ID, version 1.0 */
  DPD: 'afcad71368a1f1c96b8696fc77570100',
  /** draft-beaulieu-ike-xauth-02 (MD5 of "draft-ietf-ipsra-isakmp-xauth-06.txt", as every implementation sends) */
  XAUTH: '09002689dfd6b712',
  /** Cisco Unity 1.0 */
  UNITY: '12f5f28c457168a9702d9fe274cc0100',
} as const;

/** Names for logs and errors. */
export function v1Name(table: Record<string, number>, value: number): string {
  for (const [k, v] of Object.entries(table)) if (v === value) return k;
  return String(value);
}
