/**
 * IKEv1 SA payloads: constants of ISAKMP (RFC 2408), the IPsec DOI (RFC 2407) and the Phase 1
 * attribute classes (RFC 2409 Appendix A); default offers; the Phase 1 / Phase 2 spec types.
 */
import { EncrId } from '../../ike/constants.js';

// ---------------------------------------------------------------------------------------------
// Constants

/** RFC 2407 §4.2: the IPsec Domain of Interpretation. */
export const DOI_IPSEC = 1;
/** RFC 2407 §4.2: Situation SIT_IDENTITY_ONLY (no labeled domains follow). */
export const SIT_IDENTITY_ONLY = 1;

/** RFC 2407 §4.4.1: protocol identifiers of a Proposal payload. */
export const V1Protocol = { ISAKMP: 1, IPSEC_AH: 2, IPSEC_ESP: 3, IPCOMP: 4 } as const;
/** RFC 2407 §4.4.2: the one ISAKMP transform identifier. */
export const KEY_IKE = 1;

/** RFC 2408 §3.1 next-payload values used inside an SA payload body. */
export const NP_NONE = 0;
export const NP_PROPOSAL = 2;
export const NP_TRANSFORM = 3;

/** RFC 2409 Appendix A: Phase 1 attribute classes. */
export const Phase1Attr = {
  ENCRYPTION_ALGORITHM: 1,
  HASH_ALGORITHM: 2,
  AUTH_METHOD: 3,
  GROUP_DESCRIPTION: 4,
  GROUP_TYPE: 5,
  GROUP_PRIME: 6,
  GROUP_GENERATOR_ONE: 7,
  GROUP_GENERATOR_TWO: 8,
  GROUP_CURVE_A: 9,
  GROUP_CURVE_B: 10,
  LIFE_TYPE: 11,
  LIFE_DURATION: 12,
  PRF: 13,
  KEY_LENGTH: 14,
  FIELD_SIZE: 15,
  GROUP_ORDER: 16,
} as const;

/** RFC 2407 §4.5: IPsec DOI (Phase 2) attribute classes. */
export const Phase2Attr = {
  SA_LIFE_TYPE: 1,
  SA_LIFE_DURATION: 2,
  GROUP_DESCRIPTION: 3,
  ENCAPSULATION_MODE: 4,
  AUTH_ALGORITHM: 5,
  KEY_LENGTH: 6,
  KEY_ROUNDS: 7,
  COMPRESS_DICTIONARY_SIZE: 8,
  COMPRESS_PRIVATE_ALGORITHM: 9,
  // ECN Tunnel (RFC 4301's IANA registration) and Extended Sequence Number (RFC 4304 §2)
  ECN_TUNNEL: 10,
  EXTENDED_SEQUENCE_NUMBER: 11,
} as const;

/** RFC 2409 Appendix A: Encryption Algorithm values (7 AES-CBC: RFC 3602 §5.1). */
export const V1Encr = {
  DES_CBC: 1,
  IDEA_CBC: 2,
  BLOWFISH_CBC: 3,
  RC5_R16_B64_CBC: 4,
  '3DES_CBC': 5,
  CAST_CBC: 6,
  AES_CBC: 7,
  CAMELLIA_CBC: 8,
} as const;

/** RFC 2409 Appendix A Hash Algorithm values; SHA2 ones from RFC 4868's IANA registration. */
export const V1Hash = {
  MD5: 1,
  SHA1: 2,
  TIGER: 3,
  SHA2_256: 4,
  SHA2_384: 5,
  SHA2_512: 6,
} as const;

/**
 * Authentication Method attribute values: RFC 2409 Appendix A (1–5), RFC 4754 §3 (ECDSA 9–11),
 * draft-beaulieu-ike-xauth-02 §7.2 (XAUTH 65001–65010) and the hybrid modes
 * (draft-ietf-ipsec-isakmp-hybrid-auth-05, 64221–64226).
 */
export const V1AuthMethod = {
  PSK: 1,
  DSS_SIG: 2,
  RSA_SIG: 3,
  RSA_ENC: 4,
  RSA_ENC_REV: 5,
  ECDSA_256: 9,
  ECDSA_384: 10,
  ECDSA_521: 11,
  HYBRID_INIT_RSA: 64221,
  HYBRID_RESP_RSA: 64222,
  HYBRID_INIT_DSS: 64223,
  HYBRID_RESP_DSS: 64224,
  XAUTH_INIT_PSK: 65001,
  XAUTH_RESP_PSK: 65002,
  XAUTH_INIT_DSS: 65003,
  XAUTH_RESP_DSS: 65004,
  XAUTH_INIT_RSA: 65005,
  XAUTH_RESP_RSA: 65006,
  XAUTH_INIT_RSA_ENC: 65007,
  XAUTH_RESP_RSA_ENC: 65008,
  XAUTH_INIT_RSA_REV: 65009,
  XAUTH_RESP_RSA_REV: 65010,
} as const;

/** RFC 2409 Appendix A / RFC 2407 §4.5: Life Type values. */
export const V1LifeType = { SECONDS: 1, KILOBYTES: 2 } as const;

/**
 * RFC 2407 §4.5 Encapsulation Mode (1, 2), RFC 3947 §5 UDP-Encapsulated modes (3, 4), and the
 * values of draft-ietf-ipsec-nat-t-ike-02/03 (61443, 61444) still used by peers that announce
 * only the draft NAT-T vendor IDs.
 */
export const V1EncapMode = {
  TUNNEL: 1,
  TRANSPORT: 2,
  UDP_TUNNEL: 3,
  UDP_TRANSPORT: 4,
  UDP_TUNNEL_DRAFT: 61443,
  UDP_TRANSPORT_DRAFT: 61444,
} as const;

/** RFC 4106 §8 (Phase 2 identifiers): ESP transform IDs of AES-GCM with an 8-octet IV. */
export const EspTransformId = { AES_GCM_8: 18, AES_GCM_12: 19, AES_GCM_16: 20 } as const;

/** Our ESP engine's algorithm (IKEv2 transform ID) for each IKEv1 ESP transform ID we offer. */
export const ESP_TO_ENCR: Record<number, number> = {
  [EspTransformId.AES_GCM_8]: EncrId.AES_GCM_8,
  [EspTransformId.AES_GCM_12]: EncrId.AES_GCM_12,
  [EspTransformId.AES_GCM_16]: EncrId.AES_GCM_16,
};

/** Bounds on what we build and on what we accept from a peer. */
export const SA_LIMITS = {
  /** Transforms we put in one offer (each is a full Phase 1 suite; keeps message 1 small). */
  maxOfferedTransforms: 64,
  /** Proposals we decode in one SA payload body. */
  maxProposals: 32,
  /** Attributes we decode in one transform. */
  maxAttributesPerTransform: 32,
  /** Largest TLV attribute value we accept (group primes etc. are refused anyway). */
  maxAttributeValue: 1024,
  /** Longest SPI in a Proposal payload (RFC 2408 §3.5; 16 = both cookies). */
  maxSpiSize: 16,
} as const;

/** Default lifetimes offered (RFC 2407 §4.5 names 28800 s as the default SA lifetime). */
export const DEFAULT_V1_PHASE1_LIFE_SECONDS = 28800;
export const DEFAULT_V1_PHASE2_LIFE_SECONDS = 3600;

/**
 * Our default Phase 1 offer: AES-CBC 256/128 × SHA2-256/SHA1 × ECP-256/MODP-2048, each of which a
 * strongSwan 5.9.8 IKEv1 responder accepts with its default proposals (and Cisco, FortiGate and
 * libreswan too). Eight transforms, strongest first.
 */
export const DEFAULT_V1_PHASE1_PROPOSALS = 'aes256-aes128-sha256-sha1-ecp256-modp2048';
/**
 * What `--ikev1-legacy` adds after the default offer when no `--ike` is given: AES and 3DES with
 * SHA1 over MODP-1024 (group 2), and 3DES over MODP-2048, for the old gateways that know nothing
 * better. A stock strongSwan 5.9.8 refuses MODP-1024 (it must be configured) and accepts 3DES.
 */
export const V1_LEGACY_PHASE1_PROPOSALS =
  'aes256-aes128-3des-sha1-modp1024,3des-sha256-sha1-modp2048';

/** The Phase 1 proposal text to offer when the user gave none. */
export function defaultV1Phase1Proposals(legacy: boolean): string {
  return legacy
    ? `${DEFAULT_V1_PHASE1_PROPOSALS},${V1_LEGACY_PHASE1_PROPOSALS}`
    : DEFAULT_V1_PHASE1_PROPOSALS;
}
/** Our default Phase 2 offer: ESP AES-GCM-16 256/128 (PFS added when configured). */
export const DEFAULT_V1_PHASE2_PROPOSALS = 'aes256gcm16-aes128gcm16';

// ---------------------------------------------------------------------------------------------
// Specs (contract 1)

/** One Phase 1 transform (RFC 2409 App. A). */
export interface V1Phase1Spec {
  /** 7 AES-CBC, 5 3DES-CBC (legacy only). */
  encr: number;
  /** AES: 128/192/256. */
  keyBits?: number;
  /** 2 SHA1, 4 SHA2-256, 5 SHA2-384, 6 SHA2-512 (PRF = HMAC of it). */
  hash: number;
  /** 14, 15, 16, 19, 20, 21, 31 (curve25519) ...; 2 (modp1024) legacy only. */
  group: number;
  lifeSeconds: number;
  /**
   * A byte lifetime (RFC 2409 App. A life type kilobytes) the gateway set in its answer: we
   * offer none (no limit), and a responder may lower a lifetime. Absent in our offers.
   */
  lifeKilobytes?: number;
}

/** One ESP transform (RFC 2407 §4.5); our data plane is AEAD only. */
export interface V1Phase2Spec {
  /** ESP_AES_GCM_16 = 20 (RFC 4106 §8), ESP_AES_GCM_8 = 18, ESP_AES_GCM_12 = 19. */
  transformId: number;
  /** 128/256 (192 too). */
  keyBits: number;
  /** The IKEv2 transform ID our ESP engine uses (EncrId.AES_GCM_16 ...). */
  encrId: number;
  /** Group Description attribute when PFS is on. */
  pfsGroup?: number;
  lifeSeconds: number;
  /** A byte lifetime (RFC 2407 §4.5 SA life type kilobytes) the gateway set; none in our offers. */
  lifeKilobytes?: number;
}
