/**
 * IKE SA key material and everything computed from it (RFC 7296 §2.14, §2.15, §2.17).
 * Keys stay inside this object: tasks ask it to protect/unprotect messages and compute AUTH
 * octets, and never touch SK_* themselves (the keymat boundary of strongSwan's keymat_v2).
 */
import { timingSafeEqual } from 'node:crypto';
import { concatBytes, wipe } from '../../core/bytes.js';
import { CryptoError } from '../../core/errors.js';
import type { Random } from '../../core/random.js';
import { deriveChildKeys, deriveIkeKeys, deriveRekeyedIkeKeys } from '../../crypto/kdf.js';
import { prf, prfOutputLength } from '../../crypto/prf.js';
import { createSkCrypter } from '../../crypto/sk.js';
import type { SkCrypter } from '../../crypto/sk.js';
import { mixPpk } from '../ppk.js';
import type { ChosenProposal } from './proposals.js';

const KEY_PAD = new TextEncoder().encode('Key Pad for IKEv2');

export interface IkeKeymatInput {
  proposal: ChosenProposal;
  /** Are we the original initiator of this IKE SA (RFC 7296 §2.18: the rekey initiator becomes it)? */
  weInitiated: boolean;
  /** For a rekeyed IKE SA (§2.18): SK_d and PRF of the SA being replaced. */
  rekeyOf?: { skD: Uint8Array; prfId: number };
  ni: Uint8Array;
  nr: Uint8Array;
  spiI: Uint8Array;
  spiR: Uint8Array;
  sharedSecret: Uint8Array;
  /** RFC 9370 §2.2.4: for a rekey, SK(1..n) of the IKE_FOLLOWUP_KE exchanges. */
  additional?: Uint8Array[];
}

export class IkeKeymat {
  readonly prfId: number;
  readonly crypter: SkCrypter;
  readonly weInitiated: boolean;
  private skD: Uint8Array;
  private readonly skAi: Uint8Array;
  private readonly skAr: Uint8Array;
  private readonly skEi: Uint8Array;
  private readonly skEr: Uint8Array;
  private skPi: Uint8Array;
  private skPr: Uint8Array;
  /** RFC 8784 §3: SK_d, SK_pi, SK_pr with the PPK mixed in, until IKE_AUTH says which set holds. */
  private withPpk: { skD: Uint8Array; skPi: Uint8Array; skPr: Uint8Array } | undefined;
  /**
   * RFC 9242 §3.3.2: IntAuth (IntAuth_iN | IntAuth_rN | IKE_AUTH_MID) after IKE_INTERMEDIATE
   * exchanges, appended to both AUTH payloads' signed octets; empty without them.
   */
  intAuth: Uint8Array = new Uint8Array(0);

  constructor(input: IkeKeymatInput) {
    const { proposal } = input;
    if (!proposal.prf) throw new CryptoError('IKE proposal without PRF');
    this.prfId = proposal.prf.id;
    this.crypter = createSkCrypter(
      proposal.encr.id,
      proposal.encr.keyBits ?? 256,
      proposal.integ?.id ?? 0,
    );
    this.weInitiated = input.weInitiated;
    const params = {
      prfId: this.prfId,
      encrKeyLength: this.crypter.encrKeyLength,
      integKeyLength: this.crypter.integKeyLength,
      ni: input.ni,
      nr: input.nr,
      spiI: input.spiI,
      spiR: input.spiR,
      sharedSecret: input.sharedSecret,
    };
    // RFC 7296 §2.14: SKEYSEED = prf(Ni | Nr, g^ir); {SK_d | SK_ai | ...} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)
    // §2.18 (rekey): SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr)
    const k = input.rekeyOf
      ? deriveRekeyedIkeKeys({
          ...params,
          oldSkD: input.rekeyOf.skD,
          oldPrfId: input.rekeyOf.prfId,
          ...(input.additional ? { additional: input.additional } : {}),
        })
      : deriveIkeKeys(params);
    wipe(k.skeyseed);
    this.skD = k.skD;
    this.skAi = k.skAi;
    this.skAr = k.skAr;
    this.skEi = k.skEi;
    this.skEr = k.skEr;
    this.skPi = k.skPi;
    this.skPr = k.skPr;
  }

  /** Seals inner payload bytes for a message we send (SK_ei/SK_ai if we are the original initiator). */
  sealOutbound(aad: Uint8Array, inner: Uint8Array, random: Random): Uint8Array {
    return this.crypter.seal(
      this.weInitiated ? this.initiatorKeys() : this.responderKeys(),
      aad,
      inner,
      random,
    );
  }

  /** Opens an SK body the peer sent. @throws CryptoError on ICV or padding failure. */
  openInbound(aad: Uint8Array, body: Uint8Array): Uint8Array {
    return this.crypter.open(
      this.weInitiated ? this.responderKeys() : this.initiatorKeys(),
      aad,
      body,
    );
  }

  /** SK_d and the PRF, for deriving the keys of a rekeyed IKE SA (§2.18). */
  rekeySeed(): { skD: Uint8Array; prfId: number } {
    return { skD: this.skD, prfId: this.prfId };
  }

  private initiatorKeys(): { encr: Uint8Array; integ?: Uint8Array } {
    return this.skAi.length > 0 ? { encr: this.skEi, integ: this.skAi } : { encr: this.skEi };
  }

  private responderKeys(): { encr: Uint8Array; integ?: Uint8Array } {
    return this.skAr.length > 0 ? { encr: this.skEr, integ: this.skAr } : { encr: this.skEr };
  }

  /**
   * RFC 7296 §2.15: the octets an AUTH payload signs or MACs.
   * InitiatorSignedOctets = RealMessage1 | NonceRData | prf(SK_pi, RestOfInitIDPayload)
   * ResponderSignedOctets = RealMessage2 | NonceIData | prf(SK_pr, RestOfRespIDPayload)
   * RFC 8784 §3: with a PPK pending, SK_pi/SK_pr are the PPK-mixed ones unless `withPpk` is false
   * (NO_PPK_AUTH, and the gateway's AUTH when it did not use the PPK).
   * RFC 9242 §3.3.2: after IKE_INTERMEDIATE exchanges both end with IntAuth.
   */
  authOctets(
    side: 'initiator' | 'responder',
    realMessage: Uint8Array,
    peerNonce: Uint8Array,
    idBody: Uint8Array,
    withPpk = this.withPpk !== undefined,
  ): Uint8Array {
    const keys = withPpk && this.withPpk ? this.withPpk : { skPi: this.skPi, skPr: this.skPr };
    const key = side === 'initiator' ? keys.skPi : keys.skPr;
    return concatBytes(realMessage, peerNonce, prf(this.prfId, key, idBody), this.intAuth);
  }

  /**
   * RFC 9242 §3.3.2: IntAuth_[i|r]N = prf(SK_p[i|r]N, IntAuth_[i|r]N-1 | IntAuth_[i|r]N_A |
   * IntAuth_[i|r]N_P), with the SK_p of the keys that protect that IKE_INTERMEDIATE exchange.
   */
  intAuthStep(side: 'initiator' | 'responder', prev: Uint8Array, data: Uint8Array): Uint8Array {
    return prf(this.prfId, side === 'initiator' ? this.skPi : this.skPr, concatBytes(prev, data));
  }

  /** RFC 8784 §3: derive the PPK-mixed SK_d, SK_pi and SK_pr (kept aside until `settlePpk`). */
  preparePpk(ppk: Uint8Array): void {
    this.settlePpk(false);
    this.withPpk = mixPpk(this.prfId, ppk, { skD: this.skD, skPi: this.skPi, skPr: this.skPr });
  }

  /** Is a PPK-mixed key set waiting for the gateway's answer? */
  get ppkPending(): boolean {
    return this.withPpk !== undefined;
  }

  /**
   * The gateway's IKE_AUTH answer decided (RFC 8784 §3): with its PPK_IDENTITY the PPK-mixed keys
   * replace SK_d, SK_pi and SK_pr; without it the plain keys stay (it used NO_PPK_AUTH).
   */
  settlePpk(used: boolean): void {
    const p = this.withPpk;
    if (!p) return;
    this.withPpk = undefined;
    if (used) {
      wipe(this.skD, this.skPi, this.skPr);
      this.skD = p.skD;
      this.skPi = p.skPi;
      this.skPr = p.skPr;
    } else wipe(p.skD, p.skPi, p.skPr);
  }

  /** RFC 7296 §2.15: AUTH = prf( prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>) */
  pskAuth(secret: Uint8Array, octets: Uint8Array): Uint8Array {
    return prf(this.prfId, prf(this.prfId, secret, KEY_PAD), octets);
  }

  /** Constant-time check of a peer's PSK (or MSK-based) AUTH value. */
  verifyPskAuth(secret: Uint8Array, octets: Uint8Array, received: Uint8Array): boolean {
    const expected = this.pskAuth(secret, octets);
    return expected.length === received.length && timingSafeEqual(expected, received);
  }

  /**
   * RFC 7296 §2.16: after EAP, AUTH is computed like a PSK AUTH with the MSK as the shared secret,
   * or, for methods that derive no key, with SK_pi (our side) / SK_pr (the gateway's side).
   */
  eapAuth(
    msk: Uint8Array | undefined,
    side: 'initiator' | 'responder',
    octets: Uint8Array,
  ): Uint8Array {
    return this.pskAuth(msk ?? (side === 'initiator' ? this.skPi : this.skPr), octets);
  }

  /** RFC 7296 §2.17: KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr), initiator→responder first. */
  childKeys(
    ni: Uint8Array,
    nr: Uint8Array,
    encrKeyLength: number,
    integKeyLength: number,
    sharedSecret?: Uint8Array,
    additional?: readonly Uint8Array[],
  ): { encrI: Uint8Array; integI: Uint8Array; encrR: Uint8Array; integR: Uint8Array } {
    return deriveChildKeys({
      prfId: this.prfId,
      skD: this.skD,
      ni,
      nr,
      encrKeyLength,
      integKeyLength,
      ...(sharedSecret ? { sharedSecret } : {}),
      // RFC 9370 §2.2.4: SK(1..n) of the IKE_FOLLOWUP_KE exchanges.
      ...(additional ? { additional } : {}),
    });
  }

  get prfLength(): number {
    return prfOutputLength(this.prfId);
  }

  /** Best-effort zeroing of all keys (JS may hold copies we cannot reach). */
  wipe(): void {
    this.settlePpk(false);
    wipe(this.skD, this.skAi, this.skAr, this.skEi, this.skEr, this.skPi, this.skPr);
  }
}
