/**
 * ML-KEM (FIPS 203) as an IKEv2 key exchange method (draft-ietf-ipsecme-ikev2-mlkem §2-§3,
 * Transform Type 4 / ADDKE1..7 IDs 35, 36, 37 as IANA and strongSwan 6 assign them).
 *
 * The exchange is a KEM, not Diffie-Hellman: the initiator's KE payload carries an
 * encapsulation key (ek), the responder encapsulates a secret to it and returns the ciphertext,
 * and both ends use the 32-byte shared secret as the KE's "g^ir". Sizes (FIPS 203 Table 3):
 *
 *   ML-KEM-512:  ek 800 bytes,  ciphertext 768 bytes
 *   ML-KEM-768:  ek 1184 bytes, ciphertext 1088 bytes
 *   ML-KEM-1024: ek 1568 bytes, ciphertext 1568 bytes
 *
 * Choice: @noble/post-quantum (audited, pure TypeScript): Node 20's OpenSSL has no ML-KEM.
 * Key generation and encapsulation take their randomness (d ‖ z, m) from the injected Random, so
 * handshakes stay reproducible in tests. Both the responder's input check on ek (FIPS 203 §7.2:
 * length and modulus check) and the initiator's check on the ciphertext length (§7.3) are done
 * before any use; a bad value is a CryptoError, never a crash.
 */
import { ml_kem512, ml_kem768, ml_kem1024 } from '@noble/post-quantum/ml-kem.js';
import { CryptoError } from '../core/errors.js';
import type { Random } from '../core/random.js';

/** draft-ietf-ipsecme-ikev2-mlkem §5 (IANA "Key Exchange Method Transform IDs"). */
export const ML_KEM_512 = 35;
export const ML_KEM_768 = 36;
export const ML_KEM_1024 = 37;

interface Kem {
  keygen(seed: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array };
  encapsulate(ek: Uint8Array, m: Uint8Array): { cipherText: Uint8Array; sharedSecret: Uint8Array };
  decapsulate(ct: Uint8Array, dk: Uint8Array): Uint8Array;
}

interface KemParams {
  name: string;
  kem: Kem;
  ekLength: number;
  ctLength: number;
}

const KEMS: Record<number, KemParams> = {
  [ML_KEM_512]: { name: 'ML-KEM-512', kem: ml_kem512, ekLength: 800, ctLength: 768 },
  [ML_KEM_768]: { name: 'ML-KEM-768', kem: ml_kem768, ekLength: 1184, ctLength: 1088 },
  [ML_KEM_1024]: { name: 'ML-KEM-1024', kem: ml_kem1024, ekLength: 1568, ctLength: 1568 },
};

export function isMlKem(method: number): boolean {
  return KEMS[method] !== undefined;
}

/** "ML-KEM-768" for 36; undefined for other methods. */
export function mlKemName(method: number): string | undefined {
  return KEMS[method]?.name;
}

function params(method: number): KemParams {
  const p = KEMS[method];
  if (!p) throw new CryptoError(`key exchange method ${method} is not ML-KEM`);
  return p;
}

/** The KE payload sizes of a method: the initiator's ek and the responder's ciphertext. */
export function mlKemSizes(method: number): { ek: number; ct: number } {
  const p = params(method);
  return { ek: p.ekLength, ct: p.ctLength };
}

/**
 * Initiator side: a fresh key pair from 64 random bytes (FIPS 203 ML-KEM.KeyGen_internal(d, z)).
 * `publicValue` is ek; `computeSharedSecret(ct)` decapsulates the responder's ciphertext.
 */
export function mlKemInitiator(
  method: number,
  random: Random,
): {
  group: number;
  publicValue: Uint8Array;
  computeSharedSecret(peer: Uint8Array): Uint8Array;
} {
  const p = params(method);
  const { publicKey, secretKey } = p.kem.keygen(random.bytes(64));
  return {
    group: method,
    publicValue: publicKey,
    computeSharedSecret(peer) {
      // draft-ietf-ipsecme-ikev2-mlkem §3: the initiator checks the ciphertext's length
      // (FIPS 203 §7.3 input check); decapsulation itself never fails (implicit rejection).
      if (peer.length !== p.ctLength)
        throw new CryptoError(
          `${p.name} ciphertext of ${peer.length} bytes, expected ${p.ctLength}`,
        );
      try {
        return p.kem.decapsulate(peer, secretKey);
      } catch (e) {
        throw new CryptoError(`${p.name} decapsulation failed`, { cause: e });
      }
    },
  };
}

/**
 * Responder side: encapsulates to the initiator's ek (FIPS 203 ML-KEM.Encaps with m from the
 * injected Random). Returns the ciphertext for our KE payload and the shared secret.
 * @throws CryptoError when ek has the wrong length or fails the modulus check (FIPS 203 §7.2).
 */
export function mlKemResponder(
  method: number,
  ek: Uint8Array,
  random: Random,
): { publicValue: Uint8Array; sharedSecret: Uint8Array } {
  const p = params(method);
  if (ek.length !== p.ekLength)
    throw new CryptoError(
      `${p.name} encapsulation key of ${ek.length} bytes, expected ${p.ekLength}`,
    );
  try {
    const { cipherText, sharedSecret } = p.kem.encapsulate(ek, random.bytes(32));
    return { publicValue: cipherText, sharedSecret };
  } catch (e) {
    throw new CryptoError(`${p.name} encapsulation key is invalid (FIPS 203 §7.2 check)`, {
      cause: e,
    });
  }
}
