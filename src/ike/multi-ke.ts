/**
 * Pure helpers for RFC 9242 (IKE_INTERMEDIATE) and RFC 9370 (multiple key exchanges): the
 * IntAuth input of one IKE_INTERMEDIATE message (RFC 9242 §3.3.2), and the key derivations that
 * mix the additional shared secrets in (RFC 9370 §2.2.2, §2.2.4). No I/O, no state.
 */
import { concatBytes } from '../core/bytes.js';
import { PayloadType } from './constants.js';
import type { IkeHeader } from './codec/index.js';

/**
 * RFC 9242 §3.3.2: IntAuth_[i|r]N_A | IntAuth_[i|r]N_P of one IKE_INTERMEDIATE message: the IKE
 * header and the Encrypted payload's header as if the message were not encrypted (the IKE
 * header's Next Payload is SK even for RFC 7383 fragments, §3.3.3; both lengths count only the
 * plaintext inner payloads, no IV, padding or ICV), followed by those inner payloads.
 */
export function intAuthData(
  header: Pick<IkeHeader, 'spiI' | 'spiR' | 'version' | 'exchangeType' | 'flags' | 'messageId'>,
  firstInner: number,
  innerBytes: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(28 + 4 + innerBytes.length);
  const dv = new DataView(out.buffer);
  out.set(header.spiI, 0);
  out.set(header.spiR, 8);
  out[16] = PayloadType.SK;
  out[17] = header.version;
  out[18] = header.exchangeType;
  out[19] = header.flags;
  dv.setUint32(20, header.messageId >>> 0);
  dv.setUint32(24, out.length);
  // The Encrypted payload header: Next Payload = the first inner payload, C = 0, its length.
  out[28] = firstInner;
  out[29] = 0;
  dv.setUint16(30, 4 + innerBytes.length);
  out.set(innerBytes, 32);
  return out;
}

/** RFC 9242 §3.3.2: IntAuth = IntAuth_iN | IntAuth_rN | IKE_AUTH_MID (the first IKE_AUTH request's). */
export function finalIntAuth(iN: Uint8Array, rN: Uint8Array, ikeAuthMid: number): Uint8Array {
  const mid = new Uint8Array(4);
  new DataView(mid.buffer).setUint32(0, ikeAuthMid >>> 0);
  return concatBytes(iN, rN, mid);
}

/**
 * RFC 9370 §2.2.4: the key material input of a CREATE_CHILD_SA with additional key exchanges:
 * SK(0) | Ni | Nr | SK(1) | ... | SK(n), where SK(0) is the shared secret of the KE payload (or
 * nothing) and SK(1..n) those of the IKE_FOLLOWUP_KE exchanges, in order.
 */
export function followupSeed(
  first: Uint8Array | undefined,
  ni: Uint8Array,
  nr: Uint8Array,
  additional: readonly Uint8Array[],
): Uint8Array {
  return concatBytes(...(first ? [first] : []), ni, nr, ...additional);
}
