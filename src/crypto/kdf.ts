/**
 * IKEv2 key derivation: SKEYSEED and SK_* (RFC 7296 §2.14), rekeyed SKEYSEED (§2.18) and CHILD_SA
 * KEYMAT (§2.17).
 */
import { concatBytes } from '../core/bytes.js';
import { prf, prfOutputLength, prfPlus } from './prf.js';

export interface IkeKeys {
  skeyseed: Uint8Array;
  skD: Uint8Array;
  skAi: Uint8Array;
  skAr: Uint8Array;
  skEi: Uint8Array;
  skEr: Uint8Array;
  skPi: Uint8Array;
  skPr: Uint8Array;
}

export interface IkeKeyInput {
  prfId: number;
  /** SK_e length in bytes (for AEAD: key ‖ salt). */
  encrKeyLength: number;
  /** SK_a length in bytes (0 for AEAD). */
  integKeyLength: number;
  ni: Uint8Array;
  nr: Uint8Array;
  spiI: Uint8Array;
  spiR: Uint8Array;
  sharedSecret: Uint8Array;
}

function split(prfId: number, skeyseed: Uint8Array, input: IkeKeyInput): IkeKeys {
  const p = prfOutputLength(prfId);
  const { encrKeyLength: e, integKeyLength: a } = input;
  // {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+ (SKEYSEED, Ni | Nr | SPIi | SPIr)
  const km = prfPlus(
    prfId,
    skeyseed,
    concatBytes(input.ni, input.nr, input.spiI, input.spiR),
    3 * p + 2 * a + 2 * e,
  );
  let o = 0;
  const take = (n: number): Uint8Array => {
    const s = km.slice(o, o + n);
    o += n;
    return s;
  };
  return {
    skeyseed,
    skD: take(p),
    skAi: take(a),
    skAr: take(a),
    skEi: take(e),
    skEr: take(e),
    skPi: take(p),
    skPr: take(p),
  };
}

/** RFC 7296 §2.14: SKEYSEED = prf(Ni | Nr, g^ir). */
export function deriveIkeKeys(input: IkeKeyInput): IkeKeys {
  const skeyseed = prf(input.prfId, concatBytes(input.ni, input.nr), input.sharedSecret);
  return split(input.prfId, skeyseed, input);
}

/**
 * RFC 7296 §2.18: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr), using the old SA's PRF; the
 * rest as §2.14 with the new SA's PRF, nonces and SPIs.
 */
export function deriveRekeyedIkeKeys(
  input: IkeKeyInput & {
    oldSkD: Uint8Array;
    oldPrfId?: number;
    /** RFC 9370 §2.2.4: SK(1..n) of IKE_FOLLOWUP_KE, after Ni | Nr. */
    additional?: readonly Uint8Array[];
  },
): IkeKeys {
  const skeyseed = prf(
    input.oldPrfId ?? input.prfId,
    input.oldSkD,
    concatBytes(input.sharedSecret, input.ni, input.nr, ...(input.additional ?? [])),
  );
  return split(input.prfId, skeyseed, input);
}

export interface ChildKeys {
  encrI: Uint8Array;
  integI: Uint8Array;
  encrR: Uint8Array;
  integR: Uint8Array;
}

/**
 * RFC 7296 §2.17: KEYMAT = prf+(SK_d, Ni | Nr), or prf+(SK_d, g^ir (new) | Ni | Nr) with PFS;
 * RFC 9370 §2.2.4: prf+(SK_d, SK(0) | Ni | Nr | SK(1) | ... | SK(n)) with additional key exchanges.
 * Keys are taken initiator→responder first, encryption before integrity.
 */
export function deriveChildKeys(input: {
  prfId: number;
  skD: Uint8Array;
  ni: Uint8Array;
  nr: Uint8Array;
  sharedSecret?: Uint8Array;
  additional?: readonly Uint8Array[];
  encrKeyLength: number;
  integKeyLength: number;
}): ChildKeys {
  const seed = input.sharedSecret
    ? concatBytes(input.sharedSecret, input.ni, input.nr, ...(input.additional ?? []))
    : concatBytes(input.ni, input.nr);
  const e = input.encrKeyLength;
  const a = input.integKeyLength;
  const km = prfPlus(input.prfId, input.skD, seed, 2 * (e + a));
  return {
    encrI: km.slice(0, e),
    integI: km.slice(e, e + a),
    encrR: km.slice(e + a, 2 * e + a),
    integR: km.slice(2 * e + a, 2 * (e + a)),
  };
}
