/**
 * Post-quantum preshared keys, RFC 8784: the PPK_IDENTITY notify and the key update that mixes a
 * PPK into SK_d, SK_pi and SK_pr. Pure functions; the IKE_SA_INIT and IKE_AUTH tasks use them.
 */
import { ParseError } from '../core/errors.js';
import { prfPlus } from '../crypto/prf.js';

/** RFC 8784 §5.1 PPK_ID types: an opaque ID, or one that names a fixed PPK (the one we send). */
export const PPK_ID_OPAQUE = 1;
export const PPK_ID_FIXED = 2;

/** Bounds on what we send and accept: a PPK ID is a short name, a PPK a key (RFC 8784 §3). */
export const MAX_PPK_ID_BYTES = 255;
export const MIN_PPK_BYTES = 16;
export const MAX_PPK_BYTES = 1024;

/** What we are configured with: the PPK, its ID, and whether the tunnel may go up without it. */
export interface PpkConfig {
  id: Uint8Array;
  key: Uint8Array;
  required: boolean;
}

/** RFC 8784 §5.1: the PPK_IDENTITY notification data we send: PPK_ID_FIXED ‖ the ID. */
export function encodePpkIdentity(id: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + id.length);
  out[0] = PPK_ID_FIXED;
  out.set(id, 1);
  return out;
}

/**
 * RFC 8784 §5.1: a PPK_IDENTITY received in a request (type ‖ ID). A responder answers with an
 * empty one (§3), which this does not parse.
 * @throws ParseError when empty, over-long or of an unknown type.
 */
export function parsePpkIdentity(data: Uint8Array): { type: number; id: Uint8Array } {
  if (data.length < 2) throw new ParseError('PPK_IDENTITY', 0, `${data.length} bytes`);
  if (data.length > 1 + MAX_PPK_ID_BYTES)
    throw new ParseError('PPK_IDENTITY', 0, `PPK ID of ${data.length - 1} bytes`);
  const type = data[0]!;
  if (type !== PPK_ID_OPAQUE && type !== PPK_ID_FIXED)
    throw new ParseError('PPK_IDENTITY', 0, `unknown PPK_ID type ${type}`);
  return { type, id: data.slice(1) };
}

/**
 * RFC 8784 §3 (key derivation):
 *   SK_d  = prf+ (PPK, SK_d')
 *   SK_pi = prf+ (PPK, SK_pi')
 *   SK_pr = prf+ (PPK, SK_pr')
 * each as long as the key it replaces (the PRF's output length).
 */
export function mixPpk(
  prfId: number,
  ppk: Uint8Array,
  keys: { skD: Uint8Array; skPi: Uint8Array; skPr: Uint8Array },
): { skD: Uint8Array; skPi: Uint8Array; skPr: Uint8Array } {
  return {
    skD: prfPlus(prfId, ppk, keys.skD, keys.skD.length).slice(),
    skPi: prfPlus(prfId, ppk, keys.skPi, keys.skPi.length).slice(),
    skPr: prfPlus(prfId, ppk, keys.skPr, keys.skPr.length).slice(),
  };
}
