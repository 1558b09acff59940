/**
 * ISAKMP message and payload shapes (RFC 2408 §3). The SA and Attribute payload bodies are opaque
 * here: sa-payload.ts and modecfg/ encode and decode them.
 */

/** RFC 2408 §3.1 ISAKMP header. */
export interface V1Header {
  cookieI: Uint8Array;
  cookieR: Uint8Array;
  nextPayload: number;
  /** Major version in the high nibble, minor in the low one (0x10). */
  version: number;
  exchangeType: number;
  flags: number;
  messageId: number;
  length: number;
}

/** Payloads whose body is one opaque field: SA and ATTRIBUTE (bodies for their own codecs), KE, HASH, SIG, NONCE, VENDOR ID, NAT-D. */
export interface V1DataPayload {
  kind: 'data';
  type: number;
  data: Uint8Array;
}

/** RFC 2407 §4.6.2 Identification payload (phase 1 and Quick Mode IDci/IDcr). */
export interface V1IdPayload {
  kind: 'id';
  type: 5;
  idType: number;
  protocol: number;
  port: number;
  data: Uint8Array;
}

/** RFC 2408 §3.9 CERT and §3.10 CERTREQ: an encoding byte and the data. */
export interface V1CertPayload {
  kind: 'cert';
  type: 6 | 7;
  encoding: number;
  data: Uint8Array;
}

/** RFC 2408 §3.14 Notification. */
export interface V1NotifyPayload {
  kind: 'notify';
  type: 11;
  doi: number;
  protocol: number;
  spi: Uint8Array;
  notifyType: number;
  data: Uint8Array;
}

/** RFC 2408 §3.15 Delete. */
export interface V1DeletePayload {
  kind: 'delete';
  type: 12;
  doi: number;
  protocol: number;
  spiSize: number;
  spis: Uint8Array[];
}

/** RFC 3947 §5.2 NAT-OA: an ID type, three reserved bytes, the address. */
export interface V1NatOaPayload {
  kind: 'natoa';
  type: 21 | 131;
  idType: number;
  address: Uint8Array;
}

/** A payload type we do not interpret, kept verbatim so re-encoding is byte-identical. */
export interface V1UnknownPayload {
  kind: 'unknown';
  type: number;
  body: Uint8Array;
}

export type V1PayloadAny =
  | V1DataPayload
  | V1IdPayload
  | V1CertPayload
  | V1NotifyPayload
  | V1DeletePayload
  | V1NatOaPayload
  | V1UnknownPayload;

/** A decoded chain: the payloads, where each one starts and ends, and where the chain ends. */
export interface V1Chain {
  payloads: V1PayloadAny[];
  /** [start, end) of each payload (generic header included) in the chain's bytes. */
  spans: [number, number][];
  /** Offset just past the last payload; anything after it is padding. */
  end: number;
}
