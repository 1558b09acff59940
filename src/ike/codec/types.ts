/**
 * The decoded shape of IKEv2 messages (RFC 7296 §3, RFC 7383). All IANA-registered fields are
 * plain numbers so unknown values survive a decode/encode round trip byte for byte.
 */

/** RFC 7296 §3.1 */
export interface IkeHeader {
  /** 8 bytes. */
  spiI: Uint8Array;
  /** 8 bytes; zero in the first IKE_SA_INIT request. */
  spiR: Uint8Array;
  nextPayload: number;
  /** Major version in the high nibble (0x20 for IKEv2). */
  version: number;
  exchangeType: number;
  flags: number;
  messageId: number;
  length: number;
}

/** A transform attribute: a number is the TV format (AF=1), bytes the TLV format (AF=0). */
export interface TransformAttribute {
  type: number;
  value: number | Uint8Array;
}

export interface Transform {
  type: number;
  id: number;
  attributes: TransformAttribute[];
}

export interface Proposal {
  num: number;
  protocol: number;
  spi: Uint8Array;
  transforms: Transform[];
}

export interface TrafficSelector {
  tsType: number;
  ipProtocol: number;
  startPort: number;
  endPort: number;
  /** 4 or 16 bytes for the known types; empty for unknown types (see `raw`). */
  startAddr: Uint8Array;
  endAddr: Uint8Array;
  /** For an unknown TS type: every byte after the selector length field, kept verbatim. */
  raw?: Uint8Array;
}

export interface CfgAttribute {
  type: number;
  value: Uint8Array;
}

interface Base {
  critical: boolean;
}

export interface SaPayload extends Base {
  type: 33;
  proposals: Proposal[];
}
export interface KePayload extends Base {
  type: 34;
  dhGroup: number;
  data: Uint8Array;
}
export interface IdPayload extends Base {
  type: 35 | 36;
  idType: number;
  data: Uint8Array;
}
export interface CertPayload extends Base {
  type: 37;
  encoding: number;
  data: Uint8Array;
}
export interface CertReqPayload extends Base {
  type: 38;
  encoding: number;
  data: Uint8Array;
}
export interface AuthPayload extends Base {
  type: 39;
  method: number;
  data: Uint8Array;
}
export interface NoncePayload extends Base {
  type: 40;
  data: Uint8Array;
}
export interface NotifyPayload extends Base {
  type: 41;
  protocol: number;
  spi: Uint8Array;
  notifyType: number;
  data: Uint8Array;
}
export interface DeletePayload extends Base {
  type: 42;
  protocol: number;
  spiSize: number;
  spis: Uint8Array[];
}
export interface VendorPayload extends Base {
  type: 43;
  data: Uint8Array;
}
export interface TsPayload extends Base {
  type: 44 | 45;
  selectors: TrafficSelector[];
}
export interface SkPayload extends Base {
  type: 46;
  /** The Next Payload field of SK names the first payload inside it (§3.14). */
  firstInner: number;
  /** IV ‖ ciphertext ‖ ICV, opaque to the codec. */
  body: Uint8Array;
}
export interface CpPayload extends Base {
  type: 47;
  cfgType: number;
  attributes: CfgAttribute[];
}
export interface EapPayload extends Base {
  type: 48;
  /** The whole EAP packet (RFC 3748 §4). */
  data: Uint8Array;
}
export interface SkfPayload extends Base {
  type: 53;
  /** First inner payload type; only meaningful in fragment 1, zero in others (RFC 7383 §2.5). */
  firstInner: number;
  fragmentNumber: number;
  totalFragments: number;
  body: Uint8Array;
}
/** A payload type we do not implement; kept verbatim. */
export interface UnknownPayload extends Base {
  type: number;
  unknown: true;
  body: Uint8Array;
}

export type KnownPayload =
  | SaPayload
  | KePayload
  | IdPayload
  | CertPayload
  | CertReqPayload
  | AuthPayload
  | NoncePayload
  | NotifyPayload
  | DeletePayload
  | VendorPayload
  | TsPayload
  | SkPayload
  | CpPayload
  | EapPayload
  | SkfPayload;

export type Payload = KnownPayload | UnknownPayload;

/** Payload interface by type number, for the typed `find`/`filter` helpers. */
export interface PayloadMap {
  33: SaPayload;
  34: KePayload;
  35: IdPayload;
  36: IdPayload;
  37: CertPayload;
  38: CertReqPayload;
  39: AuthPayload;
  40: NoncePayload;
  41: NotifyPayload;
  42: DeletePayload;
  43: VendorPayload;
  44: TsPayload;
  45: TsPayload;
  46: SkPayload;
  47: CpPayload;
  48: EapPayload;
  53: SkfPayload;
}

export function isUnknown(p: Payload): p is UnknownPayload {
  return 'unknown' in p;
}

/** The first payload of a known type, typed. */
export function findPayload<T extends keyof PayloadMap>(
  payloads: readonly Payload[],
  type: T,
): PayloadMap[T] | undefined {
  for (const p of payloads) if (p.type === type && !isUnknown(p)) return p as PayloadMap[T];
  return undefined;
}

/** Every payload of a known type, typed. */
export function filterPayloads<T extends keyof PayloadMap>(
  payloads: readonly Payload[],
  type: T,
): PayloadMap[T][] {
  return payloads.filter((p) => p.type === type && !isUnknown(p)) as PayloadMap[T][];
}
