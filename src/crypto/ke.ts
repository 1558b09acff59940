/**
 * Key exchange groups (RFC 7296 §3.4, RFC 3526 MODP, RFC 5903 ECP, RFC 8031 Curve25519/Curve448).
 *
 * Choices: MODP and ECP use node:crypto (OpenSSL), which validates ECP points on import and takes
 * a private key we generate from the injected Random (so handshakes are reproducible in tests).
 * Curve25519 too: the raw scalar goes in as a PKCS#8 key (RFC 8410 §7, no public half needed);
 * OpenSSL takes ~0.1 ms where @noble/curves' BigInt arithmetic took 40-60 ms and its garbage on a
 * loaded 2-core host, a fifth of the connect time (issue 15 item 3). Curve448 (rare) stays on
 * @noble/curves, which takes raw scalars.
 */
import {
  createDiffieHellman,
  createECDH,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  getDiffieHellman,
} from 'node:crypto';
import { x25519 } from '@noble/curves/ed25519.js';
import { x448 } from '@noble/curves/ed448.js';
import { CryptoError } from '../core/errors.js';
import type { Random } from '../core/random.js';
import { isMlKem, mlKemInitiator, mlKemResponder } from './mlkem.js';

export interface KeyExchange {
  readonly group: number;
  /** Our public value as it goes in the KE payload. */
  readonly publicValue: Uint8Array;
  /** @throws CryptoError when the peer's value is invalid for the group. */
  computeSharedSecret(peer: Uint8Array): Uint8Array;
}

const ECP: Record<number, { curve: string; len: number }> = {
  19: { curve: 'prime256v1', len: 32 },
  20: { curve: 'secp384r1', len: 48 },
  21: { curve: 'secp521r1', len: 66 },
};

const MODP: Record<number, string> = {
  // RFC 2409 §6.2, the second Oakley group (MODP-1024): only IKEv1's --ikev1-legacy offers it;
  // IKEv2's proposal parser has no token for it.
  2: 'modp2',
  14: 'modp14',
  15: 'modp15',
  16: 'modp16',
  17: 'modp17',
  18: 'modp18',
};

export function isSupportedGroup(group: number): boolean {
  return (
    group === 31 ||
    group === 32 ||
    ECP[group] !== undefined ||
    MODP[group] !== undefined ||
    isMlKem(group)
  );
}

/**
 * The initiator's half of a key exchange: our KE value now, the shared secret from the peer's.
 * For ML-KEM (a KEM, draft-ietf-ipsecme-ikev2-mlkem) our value is the encapsulation key and the
 * peer's is the ciphertext.
 */
export function createKeyExchange(group: number, random: Random): KeyExchange {
  if (isMlKem(group)) return mlKemInitiator(group, random);
  if (group === 31) return x25519Native(random) ?? montgomery(group, x25519, 32, random);
  if (group === 32) return montgomery(group, x448, 56, random);
  const ecp = ECP[group];
  if (ecp) return ecpGroup(group, ecp.curve, ecp.len, random);
  const modp = MODP[group];
  if (modp) return modpGroup(group, modp, random);
  throw new CryptoError(`key exchange group ${group} is not supported`);
}

interface Montgomery {
  getPublicKey(priv: Uint8Array): Uint8Array;
  getSharedSecret(priv: Uint8Array, pub: Uint8Array): Uint8Array;
}

function montgomery(group: number, curve: Montgomery, len: number, random: Random): KeyExchange {
  const priv = random.bytes(len);
  return {
    group,
    publicValue: curve.getPublicKey(priv),
    computeSharedSecret(peer) {
      if (peer.length !== len)
        throw new CryptoError(
          `group ${group} public value of ${peer.length} bytes, expected ${len}`,
        );
      let s: Uint8Array;
      try {
        s = curve.getSharedSecret(priv, peer);
      } catch (e) {
        throw new CryptoError(`invalid group ${group} public value`, { cause: e });
      }
      // RFC 8031 §2.3 / RFC 7748 §6: an all-zero result means a low-order point.
      if (s.every((b) => b === 0))
        throw new CryptoError(`group ${group} shared secret is all zero (low-order point)`);
      return s;
    },
  };
}

/** RFC 8410 §7 PKCS#8 and SPKI prefixes of an X25519 key (OID 1.3.101.110) before its 32 bytes. */
const X25519_PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const X25519_SPKI = Buffer.from('302a300506032b656e032100', 'hex');

/** X25519 (RFC 7748 §5, RFC 8031) through OpenSSL; undefined when this Node's OpenSSL lacks it. */
function x25519Native(random: Random): KeyExchange | undefined {
  const priv = random.bytes(32);
  let privateKey: ReturnType<typeof createPrivateKey>;
  let spki: Buffer;
  try {
    privateKey = createPrivateKey({
      key: Buffer.concat([X25519_PKCS8, priv]),
      format: 'der',
      type: 'pkcs8',
    });
    spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  } catch {
    return undefined;
  }
  return {
    group: 31,
    publicValue: new Uint8Array(spki.subarray(spki.length - 32)),
    computeSharedSecret(peer) {
      if (peer.length !== 32)
        throw new CryptoError(`group 31 public value of ${peer.length} bytes, expected 32`);
      let s: Buffer;
      try {
        const publicKey = createPublicKey({
          key: Buffer.concat([X25519_SPKI, peer]),
          format: 'der',
          type: 'spki',
        });
        s = diffieHellman({ privateKey, publicKey });
      } catch (e) {
        // OpenSSL refuses an all-zero result itself (RFC 7748 §6.1): a low-order point.
        throw new CryptoError('invalid group 31 public value (a low-order point?)', { cause: e });
      }
      // RFC 8031 §2.3 / RFC 7748 §6: an all-zero result means a low-order point.
      if (s.every((b) => b === 0))
        throw new CryptoError('group 31 shared secret is all zero (low-order point)');
      return new Uint8Array(s);
    },
  };
}

function ecpGroup(group: number, curve: string, len: number, random: Random): KeyExchange {
  const ecdh = createECDH(curve);
  for (let i = 0; ; i++) {
    try {
      const d = random.bytes(len);
      if (group === 21) d[0]! &= 0x01; // P-521 scalars are 521 bits
      ecdh.setPrivateKey(d);
      break;
    } catch (e) {
      if (i > 16) throw new CryptoError('cannot generate an ECP private key', { cause: e });
    }
  }
  const pub = ecdh.getPublicKey(); // 0x04 ‖ x ‖ y
  return {
    group,
    // RFC 5903 §7: the KE data is x ‖ y, without the point-format octet.
    publicValue: new Uint8Array(pub.subarray(1)),
    computeSharedSecret(peer) {
      if (peer.length !== 2 * len)
        throw new CryptoError(
          `group ${group} public value of ${peer.length} bytes, expected ${2 * len}`,
        );
      const point = new Uint8Array(1 + peer.length);
      point[0] = 4;
      point.set(peer, 1);
      try {
        // OpenSSL rejects points not on the curve and the point at infinity.
        return new Uint8Array(ecdh.computeSecret(point)); // the x coordinate (RFC 5903 §7)
      } catch (e) {
        throw new CryptoError(`group ${group} public value is not a point on the curve`, {
          cause: e,
        });
      }
    },
  };
}

function modpGroup(group: number, name: string, random: Random): KeyExchange {
  const prime = getDiffieHellman(name).getPrime();
  const len = prime.length;
  const dh = createDiffieHellman(prime, Uint8Array.of(2));
  // A 512-bit exponent exceeds twice the security strength of every MODP group here.
  dh.setPrivateKey(Buffer.from(random.bytes(64)));
  const pub = leftPad(dh.generateKeys(), len);
  const pMinus1 = Buffer.from(prime);
  // p - 1: subtract one from the big-endian prime (its last byte is odd, 0xff for these groups).
  pMinus1[len - 1]! -= 1;
  return {
    group,
    publicValue: pub,
    computeSharedSecret(peer) {
      if (peer.length !== len)
        throw new CryptoError(
          `group ${group} public value of ${peer.length} bytes, expected ${len}`,
        );
      const y = Buffer.from(peer);
      // Reject 0, 1 and anything ≥ p-1 (RFC 6989 §2.1 style checks: 1 < y < p-1).
      const one = Buffer.alloc(len);
      one[len - 1] = 1;
      if (Buffer.compare(y, one) <= 0 || Buffer.compare(y, pMinus1) >= 0) {
        throw new CryptoError(`group ${group} public value out of range`);
      }
      return leftPad(dh.computeSecret(y), len);
    },
  };
}

function leftPad(b: Uint8Array, len: number): Uint8Array {
  if (b.length === len) return new Uint8Array(b);
  const out = new Uint8Array(len);
  out.set(b, len - b.length);
  return out;
}

/**
 * The responder's half (RFC 7296 §1.3, RFC 9370 §2.2.4): our KE value and the shared secret
 * from the initiator's value. For Diffie-Hellman groups a fresh key pair; for ML-KEM an
 * encapsulation to the initiator's key, whose ciphertext is our KE value.
 * @throws CryptoError when the initiator's value is invalid for the method.
 */
export function respondKeyExchange(
  group: number,
  peer: Uint8Array,
  random: Random,
): { publicValue: Uint8Array; sharedSecret: Uint8Array } {
  if (isMlKem(group)) return mlKemResponder(group, peer, random);
  const mine = createKeyExchange(group, random);
  return { publicValue: mine.publicValue, sharedSecret: mine.computeSharedSecret(peer) };
}
