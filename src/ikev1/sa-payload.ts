/**
 * IKEv1 Security Association payload bodies (everything after the 4-byte generic payload header):
 * the Domain of Interpretation and Situation (RFC 2407 §4.6.1), Proposal and Transform payloads
 * (RFC 2408 §3.5–3.6) with their data attributes in TV and TLV form (RFC 2408 §3.3), the Phase 1
 * attribute classes (RFC 2409 Appendix A) and the IPsec DOI attributes of Quick Mode (RFC 2407
 * §4.5). Also the proposal strings (strongSwan's IKEv1 syntax) that produce our offers, and the
 * strict checks of the gateway's choice.
 *
 * Our data plane is AEAD only, so Phase 2 offers ESP with AES-GCM (RFC 4106 §8) and nothing else.
 *
 * Pure functions, no I/O. Decoders bound every length and count and throw only VpnError.
 */
import { Reader, Writer } from '../core/bytes.js';
import { VpnError, isVpnError } from '../core/errors.js';
import { DhGroup, EncrId } from '../ike/constants.js';
import { parseProposals } from '../ike/sa/proposals.js';

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
const NP_NONE = 0;
const NP_PROPOSAL = 2;
const NP_TRANSFORM = 3;

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
const ESP_TO_ENCR: Record<number, number> = {
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

// ---------------------------------------------------------------------------------------------
// Proposal strings (strongSwan IKEv1 syntax)

const P1_ENCR: Record<string, { encr: number; keyBits?: number; legacy?: boolean }> = {
  aes: { encr: V1Encr.AES_CBC, keyBits: 128 },
  aes128: { encr: V1Encr.AES_CBC, keyBits: 128 },
  aes192: { encr: V1Encr.AES_CBC, keyBits: 192 },
  aes256: { encr: V1Encr.AES_CBC, keyBits: 256 },
  '3des': { encr: V1Encr['3DES_CBC'], legacy: true },
};

const P1_HASH: Record<string, number> = {
  sha1: V1Hash.SHA1,
  sha: V1Hash.SHA1,
  sha256: V1Hash.SHA2_256,
  sha2_256: V1Hash.SHA2_256,
  sha384: V1Hash.SHA2_384,
  sha2_384: V1Hash.SHA2_384,
  sha512: V1Hash.SHA2_512,
  sha2_512: V1Hash.SHA2_512,
};

/** Group Description values: RFC 2409 App. A / RFC 3526 (MODP), RFC 5903 (ECP), RFC 8031 IDs. */
const P1_GROUP: Record<string, { group: number; legacy?: boolean }> = {
  modp1024: { group: DhGroup.MODP_1024, legacy: true },
  modp2048: { group: DhGroup.MODP_2048 },
  modp3072: { group: DhGroup.MODP_3072 },
  modp4096: { group: DhGroup.MODP_4096 },
  modp6144: { group: DhGroup.MODP_6144 },
  modp8192: { group: DhGroup.MODP_8192 },
  ecp256: { group: DhGroup.ECP_256 },
  ecp384: { group: DhGroup.ECP_384 },
  ecp521: { group: DhGroup.ECP_521 },
  x25519: { group: DhGroup.CURVE25519 },
  curve25519: { group: DhGroup.CURVE25519 },
  x448: { group: DhGroup.CURVE448 },
  curve448: { group: DhGroup.CURVE448 },
};

/** Groups a Phase 1 or PFS offer may name (the ones our key exchange code implements). */
const KNOWN_GROUPS = new Set(Object.values(P1_GROUP).map((g) => g.group));

/** Tokens we know but refuse in IKEv1, with the reason. */
const REFUSED: Record<string, string> = {
  md5: 'MD5 is broken and not supported',
  des: 'single DES is broken and not supported',
  modp768: 'MODP-768 is broken and not supported',
  modp1536: 'MODP-1536 is not supported',
};

function configError(msg: string): VpnError {
  return new VpnError('ERR_CONFIG', msg);
}

function checkLife(life: number | undefined, def: number): number {
  const v = life ?? def;
  if (!Number.isInteger(v) || v < 1 || v > 0xffffffff)
    throw configError(`IKEv1 lifetime ${v} s is out of range (1..4294967295)`);
  return v;
}

/**
 * Is this Phase 1 transform one that only `--ikev1-legacy` allows (3DES-CBC, MODP-1024)?
 * The CLI prints a warning when one is offered.
 */
export function isLegacyPhase1(spec: V1Phase1Spec): boolean {
  return spec.encr === V1Encr['3DES_CBC'] || spec.group === DhGroup.MODP_1024;
}

/**
 * Parses Phase 1 proposals in strongSwan's IKEv1 syntax: comma-separated proposals, each a
 * `-`-joined list of ciphers, hashes and groups (`aes256-sha256-modp2048`). IKEv1 transforms
 * carry one algorithm of each kind (RFC 2409 Appendix A), so each proposal expands to every
 * combination, in the order written (cipher, then hash, then group). The PRF is the HMAC of the
 * hash (RFC 2409 §5): prf tokens are refused. 3DES and MODP-1024 need `legacy`.
 * @throws VpnError ERR_CONFIG naming the offending token.
 */
export function parseV1Phase1Proposals(
  text: string,
  opts: { legacy: boolean; lifeSeconds?: number },
): V1Phase1Spec[] {
  const lifeSeconds = checkLife(opts.lifeSeconds, DEFAULT_V1_PHASE1_LIFE_SECONDS);
  const out: V1Phase1Spec[] = [];
  for (const raw of text.split(',')) {
    const p = raw.trim().toLowerCase();
    if (p === '') throw configError(`empty IKEv1 proposal in "${text}"`);
    const encrs: { encr: number; keyBits?: number }[] = [];
    const hashes: number[] = [];
    const groups: number[] = [];
    for (const tok of p.split('-')) {
      const e = P1_ENCR[tok];
      const h = P1_HASH[tok];
      const g = P1_GROUP[tok];
      if (e) {
        if (e.legacy && !opts.legacy)
          throw configError(`"${tok}" in IKEv1 proposal "${p}" is legacy: it needs --ikev1-legacy`);
        encrs.push(
          e.keyBits === undefined ? { encr: e.encr } : { encr: e.encr, keyBits: e.keyBits },
        );
      } else if (h !== undefined) {
        hashes.push(h);
      } else if (g) {
        if (g.legacy && !opts.legacy)
          throw configError(`"${tok}" in IKEv1 proposal "${p}" is legacy: it needs --ikev1-legacy`);
        groups.push(g.group);
      } else if (REFUSED[tok]) {
        throw configError(`"${tok}" in IKEv1 proposal "${p}": ${REFUSED[tok]}`);
      } else if (tok.startsWith('prf')) {
        throw configError(
          `"${tok}" in IKEv1 proposal "${p}": IKEv1 uses the HMAC of the hash as its PRF (RFC 2409 §5); drop the prf token`,
        );
      } else if (/gcm|ccm|chacha/.test(tok)) {
        throw configError(`"${tok}" in IKEv1 proposal "${p}": IKEv1 Phase 1 has no AEAD ciphers`);
      } else {
        throw configError(`unknown algorithm "${tok}" in IKEv1 proposal "${p}"`);
      }
    }
    if (encrs.length === 0) throw configError(`IKEv1 proposal "${p}" has no cipher (e.g. aes256)`);
    if (hashes.length === 0) throw configError(`IKEv1 proposal "${p}" has no hash (e.g. sha256)`);
    if (groups.length === 0)
      throw configError(`IKEv1 proposal "${p}" has no Diffie-Hellman group (e.g. modp2048)`);
    for (const e of encrs)
      for (const hash of hashes)
        for (const group of groups) {
          const s: V1Phase1Spec = { encr: e.encr, hash, group, lifeSeconds };
          if (e.keyBits !== undefined) s.keyBits = e.keyBits;
          if (!out.some((o) => samePhase1(o, s))) out.push(s);
        }
  }
  if (out.length > SA_LIMITS.maxOfferedTransforms)
    throw configError(
      `IKEv1 proposals "${text}" expand to ${out.length} transforms, more than ${SA_LIMITS.maxOfferedTransforms}`,
    );
  return out;
}

/**
 * Parses Phase 2 (ESP) proposals: AES-GCM only (`aes256gcm16`, `aes128gcm16-modp2048` with PFS),
 * with the IKEv2 parser's tokens. IKEv1 sends a single KE payload in Quick Mode (RFC 2409 §5.5),
 * so all proposals share one PFS group: the one named in the text, else `opts.pfsGroup`.
 * @throws VpnError ERR_CONFIG naming the problem.
 */
export function parseV1Phase2Proposals(
  text: string,
  opts: { pfsGroup?: number; lifeSeconds?: number },
): V1Phase2Spec[] {
  const lifeSeconds = checkLife(opts.lifeSeconds, DEFAULT_V1_PHASE2_LIFE_SECONDS);
  const specs = parseProposals(text, 'esp');
  const groups = new Set<number>();
  for (const s of specs) for (const d of s.dh) if (d.id !== DhGroup.NONE) groups.add(d.id);
  if (groups.size > 1)
    throw configError(
      `IKEv1 ESP proposals "${text}" name ${groups.size} PFS groups; Quick Mode carries one KE payload, so name one`,
    );
  const named = [...groups][0];
  if (named !== undefined && opts.pfsGroup !== undefined && opts.pfsGroup !== named)
    throw configError(
      `IKEv1 ESP proposals "${text}" name PFS group ${named}, but group ${opts.pfsGroup} was asked for too: name one`,
    );
  let pfsGroup: number | undefined = named ?? opts.pfsGroup;
  if (pfsGroup === DhGroup.NONE) pfsGroup = undefined;
  if (pfsGroup !== undefined && !KNOWN_GROUPS.has(pfsGroup))
    throw configError(`PFS group ${pfsGroup} is not supported with IKEv1`);
  const out: V1Phase2Spec[] = [];
  for (const s of specs) {
    if (s.addKe) throw configError(`IKEv1 ESP proposal "${text}": no additional key exchanges`);
    if (s.integ.length > 0)
      throw configError(
        `IKEv1 ESP proposal "${text}": only AES-GCM is supported (the data plane is AEAD only)`,
      );
    if (s.esn.some((e) => e.id !== 0))
      throw configError(`IKEv1 ESP proposal "${text}": extended sequence numbers not supported`);
    for (const e of s.encr) {
      const transformId = Object.entries(ESP_TO_ENCR).find(([, v]) => v === e.id)?.[0];
      if (transformId === undefined || e.keyBits === undefined)
        throw configError(
          `IKEv1 ESP proposal "${text}": only AES-GCM (aes128gcm16, aes256gcm16, ...) is supported`,
        );
      const spec: V1Phase2Spec = {
        transformId: Number(transformId),
        keyBits: e.keyBits,
        encrId: e.id,
        lifeSeconds,
      };
      if (pfsGroup !== undefined) spec.pfsGroup = pfsGroup;
      if (!out.some((o) => samePhase2(o, spec))) out.push(spec);
    }
  }
  if (out.length > SA_LIMITS.maxOfferedTransforms)
    throw configError(`IKEv1 ESP proposals "${text}" expand to too many transforms`);
  return out;
}

const ENCR_NAME: Record<number, string> = { [V1Encr.AES_CBC]: 'aes', [V1Encr['3DES_CBC']]: '3des' };
const HASH_NAME: Record<number, string> = {
  [V1Hash.SHA1]: 'sha1',
  [V1Hash.SHA2_256]: 'sha256',
  [V1Hash.SHA2_384]: 'sha384',
  [V1Hash.SHA2_512]: 'sha512',
};
const GROUP_NAME: Record<number, string> = Object.fromEntries(
  Object.entries(P1_GROUP)
    .filter(([k]) => !k.startsWith('curve'))
    .map(([k, v]) => [v.group, k]),
);

/** `aes256-sha256-modp2048` for a Phase 1 spec (status, summaries, errors). */
export function formatPhase1Spec(s: V1Phase1Spec): string {
  const e = ENCR_NAME[s.encr] ?? `encr${s.encr}`;
  const bits = s.encr === V1Encr.AES_CBC ? String(s.keyBits ?? 128) : '';
  return `${e}${bits}-${HASH_NAME[s.hash] ?? `hash${s.hash}`}-${GROUP_NAME[s.group] ?? `group${s.group}`}`;
}

/** `aes256gcm16-modp2048` for a Phase 2 spec. */
export function formatPhase2Spec(s: V1Phase2Spec): string {
  const icv = { 18: 8, 19: 12, 20: 16 }[s.transformId];
  const e = icv ? `aes${s.keyBits}gcm${icv}` : `esp${s.transformId}`;
  return s.pfsGroup === undefined ? e : `${e}-${GROUP_NAME[s.pfsGroup] ?? `group${s.pfsGroup}`}`;
}

function samePhase1(a: V1Phase1Spec, b: V1Phase1Spec): boolean {
  return a.encr === b.encr && a.keyBits === b.keyBits && a.hash === b.hash && a.group === b.group;
}

function samePhase2(a: V1Phase2Spec, b: V1Phase2Spec): boolean {
  return a.transformId === b.transformId && a.keyBits === b.keyBits && a.pfsGroup === b.pfsGroup;
}

// ---------------------------------------------------------------------------------------------
// Generic SA body codec (RFC 2408 §3.3–3.6)

/** A data attribute (RFC 2408 §3.3): `tv` is the AF bit (value ≤ 0xffff in the header). */
export interface V1DataAttribute {
  type: number;
  tv: boolean;
  value: Uint8Array;
}

export interface V1Transform {
  num: number;
  id: number;
  attributes: V1DataAttribute[];
}

export interface V1Proposal {
  num: number;
  protocol: number;
  spi: Uint8Array;
  transforms: V1Transform[];
}

/** An SA payload body with DOI IPsec and SIT_IDENTITY_ONLY (RFC 2407 §4.6.1). */
export interface V1SaBody {
  proposals: V1Proposal[];
}

/** A TV attribute (AF = 1) with a 16-bit value. */
export function tvAttr(type: number, value: number): V1DataAttribute {
  return { type, tv: true, value: new Uint8Array([value >> 8, value & 0xff]) };
}

/**
 * A numeric attribute in the shortest form: TV when the value fits in two octets, else TLV of
 * four (RFC 2409 Appendix A: "Variable length attributes MAY be encoded as basic attributes if
 * their value can fit into two octets").
 */
export function numAttr(type: number, value: number): V1DataAttribute {
  if (value <= 0xffff) return tvAttr(type, value);
  const v = new Uint8Array(4);
  new DataView(v.buffer).setUint32(0, value);
  return { type, tv: false, value: v };
}

/** The value of an attribute as a number (TV, or TLV of 1..8 octets whose value fits 2^32). */
export function attrNumber(a: V1DataAttribute): number | undefined {
  if (a.value.length === 0 || a.value.length > 8) return undefined;
  let n = 0;
  for (const b of a.value) {
    n = n * 256 + b;
    if (n > 0xffffffff) return undefined;
  }
  return n;
}

function protocolError(msg: string, cause?: unknown): VpnError {
  return new VpnError('ERR_IKE_PROTOCOL', msg, cause === undefined ? undefined : { cause });
}

function noProposal(msg: string): VpnError {
  return new VpnError('ERR_IKE_NO_PROPOSAL', msg);
}

/** Encodes an SA payload body (DOI IPsec, SIT_IDENTITY_ONLY, then the proposals). */
export function encodeSaBody(body: V1SaBody): Uint8Array {
  const w = new Writer(64);
  w.u32(DOI_IPSEC).u32(SIT_IDENTITY_ONLY);
  body.proposals.forEach((p, pi) => {
    // RFC 2408 §3.5 Proposal payload.
    const pStart = w.pos;
    w.u8(pi === body.proposals.length - 1 ? NP_NONE : NP_PROPOSAL)
      .u8(0)
      .u16(0);
    w.u8(p.num).u8(p.protocol).u8(p.spi.length).u8(p.transforms.length).bytes(p.spi);
    p.transforms.forEach((t, ti) => {
      // RFC 2408 §3.6 Transform payload.
      const tStart = w.pos;
      w.u8(ti === p.transforms.length - 1 ? NP_NONE : NP_TRANSFORM)
        .u8(0)
        .u16(0);
      w.u8(t.num).u8(t.id).u16(0);
      for (const a of t.attributes) {
        // RFC 2408 §3.3 Data Attributes.
        if (!Number.isInteger(a.type) || a.type < 0 || a.type > 0x7fff)
          throw new VpnError('ERR_ARG', `attribute type ${a.type} out of range`);
        if (a.tv) {
          if (a.value.length !== 2) throw new VpnError('ERR_ARG', 'TV attribute needs 2 octets');
          w.u16(0x8000 | a.type).bytes(a.value);
        } else {
          if (a.value.length > 0xffff)
            throw new VpnError('ERR_ARG', `attribute ${a.type} value longer than 65535 octets`);
          w.u16(a.type).u16(a.value.length).bytes(a.value);
        }
      }
      w.patchU16(tStart + 2, w.pos - tStart);
    });
    w.patchU16(pStart + 2, w.pos - pStart);
  });
  if (w.pos + 4 > 0xffff) throw new VpnError('ERR_ARG', 'SA payload longer than 65535 octets');
  return w.finish();
}

/**
 * Decodes an SA payload body: DOI must be IPsec and the Situation SIT_IDENTITY_ONLY (we never
 * offer labeled domains); proposals and transforms are chained by their next-payload fields,
 * each length must fit its parent, the transform counts must match, nothing may trail.
 * @throws VpnError ERR_IKE_PROTOCOL on anything malformed.
 */
export function decodeSaBody(body: Uint8Array): V1SaBody {
  try {
    return decodeSaBodyInner(body);
  } catch (e) {
    if (isVpnError(e) && e.code === 'ERR_IKE_PROTOCOL') throw e;
    throw protocolError(
      `malformed IKEv1 SA payload: ${e instanceof Error ? e.message : String(e)}`,
      e,
    );
  }
}

/** RFC 2408 §3.3: data attributes up to the end of the reader's window, bounded. */
function readDataAttributes(r: Reader, where: string): V1DataAttribute[] {
  const attributes: V1DataAttribute[] = [];
  while (r.remaining > 0) {
    if (attributes.length >= SA_LIMITS.maxAttributesPerTransform)
      throw protocolError(
        `${where} has more than ${SA_LIMITS.maxAttributesPerTransform} attributes`,
      );
    const th = r.u16('attribute type');
    const type = th & 0x7fff;
    if (th & 0x8000) {
      attributes.push({ type, tv: true, value: r.copy(2, 'attribute value') });
    } else {
      const vlen = r.u16('attribute length');
      if (vlen > SA_LIMITS.maxAttributeValue)
        throw protocolError(`attribute ${type} has a ${vlen}-octet value`);
      attributes.push({ type, tv: false, value: r.copy(vlen, 'attribute value') });
    }
  }
  return attributes;
}

function decodeSaBodyInner(body: Uint8Array): V1SaBody {
  const r = new Reader(body);
  const doi = r.u32('SA DOI');
  if (doi !== DOI_IPSEC) throw protocolError(`SA payload has DOI ${doi}, expected 1 (IPsec)`);
  const sit = r.u32('SA situation');
  if (sit !== SIT_IDENTITY_ONLY)
    throw protocolError(`SA payload has situation ${sit}, expected SIT_IDENTITY_ONLY (1)`);
  const proposals: V1Proposal[] = [];
  let next = r.remaining > 0 ? NP_PROPOSAL : NP_NONE;
  if (next === NP_NONE) throw protocolError('SA payload has no proposal');
  while (next !== NP_NONE) {
    if (next !== NP_PROPOSAL)
      throw protocolError(`proposal chain has next payload ${next}, expected 2 or 0`);
    if (proposals.length >= SA_LIMITS.maxProposals)
      throw protocolError(`SA payload has more than ${SA_LIMITS.maxProposals} proposals`);
    const hdr = r.offset;
    next = r.u8('proposal next payload');
    r.u8('proposal reserved');
    const len = r.u16('proposal length');
    if (len < 8) throw protocolError(`proposal at offset ${hdr} has length ${len} < 8`);
    const pr = r.sub(len - 4, 'proposal body');
    const num = pr.u8('proposal number');
    const protocol = pr.u8('protocol id');
    const spiSize = pr.u8('SPI size');
    const count = pr.u8('number of transforms');
    if (spiSize > SA_LIMITS.maxSpiSize)
      throw protocolError(`proposal #${num} has an SPI of ${spiSize} octets`);
    const spi = pr.copy(spiSize, 'SPI');
    const transforms: V1Transform[] = [];
    let tnext = NP_TRANSFORM;
    if (count === 0) throw protocolError(`proposal #${num} has no transform`);
    while (tnext !== NP_NONE) {
      if (tnext !== NP_TRANSFORM)
        throw protocolError(`transform chain has next payload ${tnext}, expected 3 or 0`);
      if (transforms.length >= count)
        throw protocolError(`proposal #${num} has more transforms than its count ${count}`);
      tnext = pr.u8('transform next payload');
      pr.u8('transform reserved');
      const tlen = pr.u16('transform length');
      if (tlen < 8) throw protocolError(`transform in proposal #${num} has length ${tlen} < 8`);
      const tr = pr.sub(tlen - 4, 'transform body');
      const tnum = tr.u8('transform number');
      const tid = tr.u8('transform id');
      tr.u16('transform reserved2');
      const attributes = readDataAttributes(tr, `transform #${tnum}`);
      transforms.push({ num: tnum, id: tid, attributes });
    }
    if (transforms.length !== count)
      throw protocolError(
        `proposal #${num} says ${count} transforms but carries ${transforms.length}`,
      );
    pr.expectEnd(`proposal #${num}`);
    proposals.push({ num, protocol, spi, transforms });
  }
  r.expectEnd('SA payload');
  return { proposals };
}

// ---------------------------------------------------------------------------------------------
// Phase 1 (RFC 2409 Appendix A)

function phase1Attributes(s: V1Phase1Spec, authMethod: number): V1DataAttribute[] {
  // Attribute order as strongSwan and most peers send it: cipher, key length, hash, group,
  // authentication method, life type, life duration.
  const a: V1DataAttribute[] = [tvAttr(Phase1Attr.ENCRYPTION_ALGORITHM, s.encr)];
  if (s.keyBits !== undefined) a.push(tvAttr(Phase1Attr.KEY_LENGTH, s.keyBits));
  a.push(tvAttr(Phase1Attr.HASH_ALGORITHM, s.hash));
  a.push(tvAttr(Phase1Attr.GROUP_DESCRIPTION, s.group));
  a.push(tvAttr(Phase1Attr.AUTH_METHOD, authMethod));
  a.push(tvAttr(Phase1Attr.LIFE_TYPE, V1LifeType.SECONDS));
  a.push(numAttr(Phase1Attr.LIFE_DURATION, s.lifeSeconds));
  if (s.lifeKilobytes !== undefined) {
    a.push(tvAttr(Phase1Attr.LIFE_TYPE, V1LifeType.KILOBYTES));
    a.push(numAttr(Phase1Attr.LIFE_DURATION, s.lifeKilobytes));
  }
  return a;
}

function checkU16(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff)
    throw new VpnError('ERR_ARG', `${what} ${v} does not fit an attribute`);
}

function checkLives(s: { lifeSeconds: number; lifeKilobytes?: number }): void {
  for (const v of [s.lifeSeconds, s.lifeKilobytes ?? 1])
    if (!Number.isInteger(v) || v < 1 || v > 0xffffffff)
      throw new VpnError('ERR_ARG', `lifetime ${v} out of range`);
}

function checkSpecs(specs: readonly unknown[], what: string): void {
  if (specs.length === 0) throw new VpnError('ERR_ARG', `no ${what} transform to offer`);
  if (specs.length > SA_LIMITS.maxOfferedTransforms)
    throw new VpnError('ERR_ARG', `${specs.length} ${what} transforms: too many to offer`);
}

/**
 * Our Phase 1 SA payload body: one ISAKMP proposal (#1, no SPI: the cookies identify the SA),
 * one KEY_IKE transform per spec numbered from 1, each with every attribute (RFC 2409 §5: the
 * Phase 1 transforms are alternatives; the responder picks one).
 */
export function encodePhase1Sa(specs: V1Phase1Spec[], authMethod: number): Uint8Array {
  checkSpecs(specs, 'Phase 1');
  checkU16(authMethod, 'authentication method');
  for (const s of specs) {
    checkU16(s.encr, 'cipher');
    checkU16(s.hash, 'hash');
    checkU16(s.group, 'group');
    if (s.keyBits !== undefined) checkU16(s.keyBits, 'key length');
    checkLives(s);
  }
  return encodeSaBody({
    proposals: [
      {
        num: 1,
        protocol: V1Protocol.ISAKMP,
        spi: new Uint8Array(0),
        transforms: specs.map((s, i) => ({
          num: i + 1,
          id: KEY_IKE,
          attributes: phase1Attributes(s, authMethod),
        })),
      },
    ],
  });
}

/** Life attributes of a transform: the seconds value (if any) and whether kilobytes appeared. */
interface Lives {
  seconds?: number;
  kilobytes?: number;
}

/**
 * Reads the attributes of a chosen transform into a map, pairing each Life Type with the Life
 * Duration that follows it (RFC 2409 App. A, RFC 2407 §4.5). Duplicates and unpaired durations
 * are refused.
 */
function readAttributes(
  t: V1Transform,
  lifeType: number,
  lifeDuration: number,
  phase: string,
): { values: Map<number, number>; lives: Lives } {
  const values = new Map<number, number>();
  const lives: Lives = {};
  let pending: number | undefined;
  for (const a of t.attributes) {
    const v = attrNumber(a);
    if (v === undefined)
      throw noProposal(`${phase}: gateway sent attribute ${a.type} with an unusable value`);
    if (a.type === lifeType) {
      if (pending !== undefined)
        throw noProposal(`${phase}: gateway sent a life type without its duration`);
      if (v !== V1LifeType.SECONDS && v !== V1LifeType.KILOBYTES)
        throw noProposal(`${phase}: gateway sent unknown life type ${v}`);
      pending = v;
      continue;
    }
    if (a.type === lifeDuration) {
      if (pending === undefined)
        throw noProposal(`${phase}: gateway sent a life duration without a life type`);
      const key = pending === V1LifeType.SECONDS ? 'seconds' : 'kilobytes';
      if (lives[key] !== undefined) throw noProposal(`${phase}: gateway sent two ${key} lifetimes`);
      lives[key] = v;
      pending = undefined;
      continue;
    }
    if (values.has(a.type))
      throw noProposal(`${phase}: gateway sent attribute ${a.type} twice in its transform`);
    values.set(a.type, v);
  }
  if (pending !== undefined)
    throw noProposal(`${phase}: gateway sent a life type without its duration`);
  return { values, lives };
}

/**
 * The lifetimes of the chosen SA: our seconds, or the lower value the gateway answered with; a
 * byte lifetime where we offered none (no limit) lowers it too, and is returned (strongSwan and
 * libreswan accept one as initiators; Cisco and FortiGate responders may set one).
 */
function chosenLife<T extends { lifeSeconds: number; lifeKilobytes?: number }>(
  spec: T,
  lives: Lives,
  phase: string,
): T {
  const offered = spec.lifeSeconds;
  const out: T = { ...spec };
  if (lives.seconds !== undefined) {
    if (lives.seconds === 0) throw noProposal(`${phase}: gateway chose a lifetime of 0 s`);
    if (lives.seconds > offered)
      throw noProposal(
        `${phase}: gateway chose a lifetime of ${lives.seconds} s, longer than the ${offered} s we offered`,
      );
    out.lifeSeconds = lives.seconds;
  }
  if (lives.kilobytes !== undefined) {
    if (lives.kilobytes === 0) throw noProposal(`${phase}: gateway chose a lifetime of 0 kB`);
    if (spec.lifeKilobytes !== undefined && lives.kilobytes > spec.lifeKilobytes)
      throw noProposal(
        `${phase}: gateway chose a lifetime of ${lives.kilobytes} kB, longer than the ${spec.lifeKilobytes} kB we offered`,
      );
    out.lifeKilobytes = lives.kilobytes;
  }
  return out;
}

function decodeChoice(body: Uint8Array, protocol: number, phase: string): V1Proposal {
  const sa = decodeSaBody(body);
  // RFC 2408 §4.2: the responder returns exactly one proposal with one transform.
  if (sa.proposals.length !== 1)
    throw noProposal(`${phase}: gateway returned ${sa.proposals.length} proposals, expected 1`);
  const p = sa.proposals[0]!;
  if (p.protocol !== protocol)
    throw noProposal(`${phase}: gateway chose protocol ${p.protocol}, expected ${protocol}`);
  if (p.num !== 1) throw noProposal(`${phase}: gateway chose proposal #${p.num}, we offered #1`);
  if (p.transforms.length !== 1)
    throw noProposal(`${phase}: gateway returned ${p.transforms.length} transforms, expected 1`);
  return p;
}

/**
 * The gateway's Phase 1 answer: exactly one proposal with one KEY_IKE transform, whose cipher,
 * key length, hash, group and authentication method equal one we offered and which carries no
 * attribute we did not offer. A lower lifetime, or a byte lifetime where we offered none, is
 * accepted and returned in the spec.
 * @throws VpnError ERR_IKE_NO_PROPOSAL with the reason (ERR_IKE_PROTOCOL if malformed).
 */
export function decodePhase1Choice(
  body: Uint8Array,
  offered: V1Phase1Spec[],
  authMethod: number,
): V1Phase1Spec {
  const phase = 'Phase 1';
  const p = decodeChoice(body, V1Protocol.ISAKMP, phase);
  const t = p.transforms[0]!;
  if (t.id !== KEY_IKE)
    throw noProposal(`${phase}: gateway chose transform ID ${t.id}, not KEY_IKE`);
  const { values, lives } = readAttributes(
    t,
    Phase1Attr.LIFE_TYPE,
    Phase1Attr.LIFE_DURATION,
    phase,
  );
  for (const type of values.keys()) {
    if (
      type !== Phase1Attr.ENCRYPTION_ALGORITHM &&
      type !== Phase1Attr.KEY_LENGTH &&
      type !== Phase1Attr.HASH_ALGORITHM &&
      type !== Phase1Attr.GROUP_DESCRIPTION &&
      type !== Phase1Attr.AUTH_METHOD
    )
      throw noProposal(`${phase}: gateway added attribute ${type} that we did not offer`);
  }
  const encr = values.get(Phase1Attr.ENCRYPTION_ALGORITHM);
  const hash = values.get(Phase1Attr.HASH_ALGORITHM);
  const group = values.get(Phase1Attr.GROUP_DESCRIPTION);
  const auth = values.get(Phase1Attr.AUTH_METHOD);
  let keyBits = values.get(Phase1Attr.KEY_LENGTH);
  if (encr === undefined || hash === undefined || group === undefined || auth === undefined)
    throw noProposal(`${phase}: gateway's transform lacks a cipher, hash, group or auth method`);
  if (auth !== authMethod)
    throw noProposal(
      `${phase}: gateway chose authentication method ${auth}, we offered ${authMethod}`,
    );
  // RFC 3602 §5.3 drafts allowed AES without Key Length, meaning 128 (strongSwan reads it so).
  if (encr === V1Encr.AES_CBC && keyBits === undefined) keyBits = 128;
  // 3DES has one key size; a peer naming it (192) means the same cipher.
  if (encr === V1Encr['3DES_CBC'] && keyBits === 192) keyBits = undefined;
  const candidates = offered.filter(
    (s) => s.encr === encr && s.keyBits === keyBits && s.hash === hash && s.group === group,
  );
  if (candidates.length === 0) {
    const chosen: V1Phase1Spec = { encr, hash, group, lifeSeconds: 0 };
    if (keyBits !== undefined) chosen.keyBits = keyBits;
    throw noProposal(`${phase}: gateway chose ${formatPhase1Spec(chosen)}, which we did not offer`);
  }
  const spec = candidates.find((s) => offered.indexOf(s) === t.num - 1) ?? candidates[0]!;
  return chosenLife(spec, lives, phase);
}

// ---------------------------------------------------------------------------------------------
// Phase 2 (RFC 2407 §4.5)

const TUNNEL_MODES: ReadonlySet<number> = new Set([
  V1EncapMode.TUNNEL,
  V1EncapMode.UDP_TUNNEL,
  V1EncapMode.UDP_TUNNEL_DRAFT,
]);

function phase2Attributes(s: V1Phase2Spec, encapsulation: number): V1DataAttribute[] {
  // RFC 4106 §8: Key Length is required for AES-GCM; an AEAD transform takes no Authentication
  // Algorithm attribute (the ICV is part of the cipher), as strongSwan and libreswan send it.
  const a: V1DataAttribute[] = [tvAttr(Phase2Attr.KEY_LENGTH, s.keyBits)];
  if (s.pfsGroup !== undefined) a.push(tvAttr(Phase2Attr.GROUP_DESCRIPTION, s.pfsGroup));
  a.push(tvAttr(Phase2Attr.ENCAPSULATION_MODE, encapsulation));
  a.push(tvAttr(Phase2Attr.SA_LIFE_TYPE, V1LifeType.SECONDS));
  a.push(numAttr(Phase2Attr.SA_LIFE_DURATION, s.lifeSeconds));
  if (s.lifeKilobytes !== undefined) {
    a.push(tvAttr(Phase2Attr.SA_LIFE_TYPE, V1LifeType.KILOBYTES));
    a.push(numAttr(Phase2Attr.SA_LIFE_DURATION, s.lifeKilobytes));
  }
  return a;
}

/**
 * Our Quick Mode SA payload body: one ESP proposal (#1) with our inbound SPI, one transform per
 * spec numbered from 1. `encapsulation`: 1 Tunnel, 3 UDP-Tunnel (RFC 3947 §5) behind a NAT, or
 * 61443 when the peer announced only the draft NAT-T vendor IDs.
 */
export function encodePhase2Sa(
  specs: V1Phase2Spec[],
  spi: number,
  encapsulation: number,
): Uint8Array {
  checkSpecs(specs, 'Phase 2');
  if (!TUNNEL_MODES.has(encapsulation))
    throw new VpnError('ERR_ARG', `encapsulation mode ${encapsulation} is not a tunnel mode`);
  if (!Number.isInteger(spi) || spi < 256 || spi > 0xffffffff)
    throw new VpnError('ERR_ARG', `ESP SPI ${spi} out of range`);
  const groups = new Set(specs.map((s) => s.pfsGroup));
  if (groups.size > 1)
    throw new VpnError(
      'ERR_ARG',
      'Quick Mode has one KE payload: all transforms need one PFS group',
    );
  for (const s of specs) {
    if (ESP_TO_ENCR[s.transformId] === undefined)
      throw new VpnError('ERR_ARG', `ESP transform ${s.transformId} is not AES-GCM`);
    checkU16(s.keyBits, 'key length');
    if (s.pfsGroup !== undefined) checkU16(s.pfsGroup, 'group');
    checkLives(s);
  }
  const spiBytes = new Uint8Array(4);
  new DataView(spiBytes.buffer).setUint32(0, spi);
  return encodeSaBody({
    proposals: [
      {
        num: 1,
        protocol: V1Protocol.IPSEC_ESP,
        spi: spiBytes,
        transforms: specs.map((s, i) => ({
          num: i + 1,
          id: s.transformId,
          attributes: phase2Attributes(s, encapsulation),
        })),
      },
    ],
  });
}

/**
 * The gateway's Quick Mode answer: one ESP proposal with its 4-octet SPI and one transform equal
 * to one we offered (transform ID, key length, PFS group), in the encapsulation mode we asked for,
 * with no attribute we did not offer (an Authentication Algorithm beside AES-GCM, ESN ...). A
 * lower lifetime, or a byte lifetime where we offered none, is accepted and returned.
 * @throws VpnError ERR_IKE_NO_PROPOSAL with the reason (ERR_IKE_PROTOCOL if malformed).
 */
export function decodePhase2Choice(
  body: Uint8Array,
  offered: V1Phase2Spec[],
  encapsulation: number,
): { spec: V1Phase2Spec; spi: number } {
  const phase = 'Quick Mode';
  const p = decodeChoice(body, V1Protocol.IPSEC_ESP, phase);
  if (p.spi.length !== 4)
    throw noProposal(`${phase}: gateway's ESP SPI has ${p.spi.length} octets, expected 4`);
  const spi = new DataView(p.spi.buffer, p.spi.byteOffset, 4).getUint32(0);
  // RFC 4303 §2.1: SPIs 1..255 are reserved, 0 is never sent.
  if (spi < 256) throw noProposal(`${phase}: gateway chose the reserved ESP SPI ${spi}`);
  const t = p.transforms[0]!;
  const { values, lives } = readAttributes(
    t,
    Phase2Attr.SA_LIFE_TYPE,
    Phase2Attr.SA_LIFE_DURATION,
    phase,
  );
  for (const type of values.keys()) {
    if (type === Phase2Attr.AUTH_ALGORITHM)
      throw noProposal(
        `${phase}: gateway chose authentication algorithm ${values.get(type)!}; we offered AES-GCM only`,
      );
    if (
      type !== Phase2Attr.KEY_LENGTH &&
      type !== Phase2Attr.GROUP_DESCRIPTION &&
      type !== Phase2Attr.ENCAPSULATION_MODE
    )
      throw noProposal(`${phase}: gateway added attribute ${type} that we did not offer`);
  }
  const keyBits = values.get(Phase2Attr.KEY_LENGTH);
  const group = values.get(Phase2Attr.GROUP_DESCRIPTION);
  const mode = values.get(Phase2Attr.ENCAPSULATION_MODE);
  if (mode !== encapsulation)
    throw noProposal(
      `${phase}: gateway chose encapsulation mode ${mode ?? 'none'}, we asked for ${encapsulation}`,
    );
  const candidates = offered.filter(
    (s) => s.transformId === t.id && s.keyBits === keyBits && s.pfsGroup === group,
  );
  if (candidates.length === 0) {
    const what =
      ESP_TO_ENCR[t.id] !== undefined && keyBits !== undefined
        ? formatPhase2Spec({
            transformId: t.id,
            keyBits,
            encrId: 0,
            lifeSeconds: 0,
            ...(group === undefined ? {} : { pfsGroup: group }),
          })
        : `ESP transform ${t.id}${keyBits === undefined ? '' : `/${keyBits}`}${group === undefined ? '' : ` group ${group}`}`;
    throw noProposal(`${phase}: gateway chose ${what}, which we did not offer`);
  }
  const spec = candidates.find((s) => offered.indexOf(s) === t.num - 1) ?? candidates[0]!;
  return { spec: chosenLife(spec, lives, phase), spi };
}

// ---------------------------------------------------------------------------------------------
// RESPONDER-LIFETIME (RFC 2407 §4.6.3.1)

/** RFC 2407 §4.6.3: the IPsec DOI status notification RESPONDER-LIFETIME. */
export const RESPONDER_LIFETIME = 24576;

/**
 * The lifetimes in a RESPONDER-LIFETIME notification's data (RFC 2407 §4.6.3.1: a list of life
 * type / life duration attributes; the Phase 1 classes 11/12 for the ISAKMP SA, the IPsec ones
 * 1/2 for a Quick Mode SA). A responder may only shorten what we offered (RFC 2409 §4.5), so the
 * result is the shorter of `offeredSeconds` and what it says; kilobyte lifetimes are reported
 * for the caller to log (our data plane rekeys by time).
 * @throws VpnError ERR_IKE_PROTOCOL when the data is malformed.
 */
export function decodeResponderLifetime(
  data: Uint8Array,
  phase: 1 | 2,
  offeredSeconds: number,
): { lifeSeconds: number; kilobytes?: number } {
  const lifeType = phase === 1 ? Phase1Attr.LIFE_TYPE : Phase2Attr.SA_LIFE_TYPE;
  const lifeDuration = phase === 1 ? Phase1Attr.LIFE_DURATION : Phase2Attr.SA_LIFE_DURATION;
  const what = 'RESPONDER-LIFETIME';
  let attrs: V1DataAttribute[];
  try {
    attrs = readDataAttributes(new Reader(data), what);
  } catch (e) {
    if (isVpnError(e) && e.code === 'ERR_IKE_PROTOCOL') throw e;
    throw protocolError(`malformed ${what}: ${e instanceof Error ? e.message : String(e)}`, e);
  }
  let pending: number | undefined;
  let seconds: number | undefined;
  let kilobytes: number | undefined;
  for (const a of attrs) {
    const v = attrNumber(a);
    if (v === undefined) throw protocolError(`${what}: attribute ${a.type} has an unusable value`);
    if (a.type === lifeType) {
      if (pending !== undefined || (v !== V1LifeType.SECONDS && v !== V1LifeType.KILOBYTES))
        throw protocolError(`${what}: unexpected life type ${v}`);
      pending = v;
    } else if (a.type === lifeDuration) {
      if (pending === undefined) throw protocolError(`${what}: a duration without a life type`);
      if (v === 0) throw protocolError(`${what}: a lifetime of 0`);
      if (pending === V1LifeType.SECONDS) seconds = Math.min(seconds ?? v, v);
      else kilobytes = Math.min(kilobytes ?? v, v);
      pending = undefined;
    }
    // Other attributes (an ESP transform's others, echoed by some peers) carry no lifetime.
  }
  if (pending !== undefined) throw protocolError(`${what}: a life type without its duration`);
  const out: { lifeSeconds: number; kilobytes?: number } = {
    lifeSeconds: Math.min(offeredSeconds, seconds ?? offeredSeconds),
  };
  if (kilobytes !== undefined) out.kilobytes = kilobytes;
  return out;
}
