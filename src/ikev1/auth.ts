/**
 * IKEv1 phase 1 authentication (RFC 2409 §5.1, §5.4; RFC 4754 §3 for ECDSA): which Authentication
 * Method attribute our credentials mean, and signatures over HASH_I / HASH_R.
 *
 * RSA (method 3): the HASH is signed as is with PKCS#1 v1.5 type 1 padding, without a DigestInfo
 * (RFC 2409 §5.1: "the signature is over HASH_I"; every implementation does it this way).
 * ECDSA (methods 9/10/11, RFC 4754 §3, §7): the HASH (computed with HMAC of the curve's hash) is
 * signed without further hashing, as r | s of the field size each.
 */
import { constants, privateEncrypt, publicDecrypt } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { p256, p384, p521 } from '@noble/curves/nist.js';
import { equalBytes } from '../core/bytes.js';
import { VpnError } from '../core/errors.js';
import type { LocalAuth } from '../ike/auth.js';

/** RFC 2409 Appendix A, RFC 4754 §3, draft-beaulieu-ike-xauth-02 §7.2. */
export const AuthMethodV1 = {
  PSK: 1,
  RSA_SIG: 3,
  ECDSA_256: 9,
  ECDSA_384: 10,
  ECDSA_521: 11,
  XAUTH_INIT_PSK: 65001,
  XAUTH_INIT_RSA: 65005,
} as const;

const CURVES = {
  9: { curve: p256, crv: 'P-256', size: 32 },
  10: { curve: p384, crv: 'P-384', size: 48 },
  11: { curve: p521, crv: 'P-521', size: 66 },
} as const;

function curveMethod(key: KeyObject): 9 | 10 | 11 | undefined {
  const c = key.asymmetricKeyDetails?.namedCurve;
  if (c === 'prime256v1' || c === 'P-256') return 9;
  if (c === 'secp384r1' || c === 'P-384') return 10;
  if (c === 'secp521r1' || c === 'P-521') return 11;
  return undefined;
}

/** The Authentication Method attribute for our credentials (with XAUTH: 65001 / 65005). */
export function authMethodFor(auth: LocalAuth, xauth: boolean): number {
  if (auth.kind === 'psk') return xauth ? AuthMethodV1.XAUTH_INIT_PSK : AuthMethodV1.PSK;
  if (auth.kind === 'eap')
    throw new VpnError(
      'ERR_CONFIG',
      'IKEv1 has no EAP: use a pre-shared key (with XAUTH) or a certificate',
    );
  const kt = auth.key.asymmetricKeyType;
  if (kt === 'rsa') return xauth ? AuthMethodV1.XAUTH_INIT_RSA : AuthMethodV1.RSA_SIG;
  if (kt === 'ec') {
    const m = curveMethod(auth.key);
    if (m === undefined)
      throw new VpnError('ERR_CONFIG', 'IKEv1 ECDSA needs a P-256, P-384 or P-521 key (RFC 4754)');
    if (xauth)
      throw new VpnError(
        'ERR_CONFIG',
        'IKEv1 XAUTH is defined for pre-shared keys and RSA certificates only',
      );
    return m;
  }
  throw new VpnError(
    'ERR_CONFIG',
    `IKEv1 cannot authenticate with a ${String(kt)} key (RSA or ECDSA needed)`,
  );
}

/** The base method without XAUTH (65001 → 1, 65005 → 3). */
export function baseMethod(method: number): number {
  if (method === AuthMethodV1.XAUTH_INIT_PSK) return AuthMethodV1.PSK;
  if (method === AuthMethodV1.XAUTH_INIT_RSA) return AuthMethodV1.RSA_SIG;
  return method;
}

function b64u(s: string | undefined): Uint8Array {
  if (s === undefined) throw new VpnError('ERR_CERT', 'EC key without its coordinates');
  return new Uint8Array(Buffer.from(s, 'base64url'));
}

function leftPad(b: Uint8Array, n: number): Uint8Array {
  if (b.length >= n) return b;
  const out = new Uint8Array(n);
  out.set(b, n - b.length);
  return out;
}

/** Signs HASH_I with our private key for `method` (3, 9, 10, 11; XAUTH variants of 3). */
export function signV1(key: KeyObject, method: number, hash: Uint8Array): Uint8Array {
  const m = baseMethod(method);
  if (m === AuthMethodV1.RSA_SIG) {
    return new Uint8Array(privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, hash));
  }
  if (!CURVES[m as 9 | 10 | 11])
    throw new VpnError('ERR_CONFIG', `authentication method ${method} is not a signature method`);
  // Signed on our key's own curve (the method may name the peer's, see verifyV1).
  const own = key.asymmetricKeyType === 'ec' ? curveMethod(key) : undefined;
  if (own === undefined)
    throw new VpnError('ERR_CONFIG', 'IKEv1 ECDSA needs a P-256, P-384 or P-521 key');
  const c = CURVES[own];
  const jwk = key.export({ format: 'jwk' });
  const d = leftPad(b64u(jwk.d), c.size);
  return c.curve.sign(hash, d, { prehash: false, format: 'compact', lowS: false });
}

/** Verifies the gateway's SIG over HASH_R with the key of its certificate; never throws. */
export function verifyV1(
  key: KeyObject,
  method: number,
  hash: Uint8Array,
  sig: Uint8Array,
): { ok: true } | { ok: false; reason: string } {
  try {
    const m = baseMethod(method);
    if (m === AuthMethodV1.RSA_SIG) {
      if (key.asymmetricKeyType !== 'rsa')
        return {
          ok: false,
          reason: `RSA signature, but the certificate has a ${String(key.asymmetricKeyType)} key`,
        };
      const out = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, sig);
      return equalBytes(new Uint8Array(out), hash)
        ? { ok: true }
        : { ok: false, reason: 'RSA signature does not verify' };
    }
    if (!CURVES[m as 9 | 10 | 11])
      return { ok: false, reason: `authentication method ${method} is not a signature method` };
    // The negotiated method names the initiator's curve (it sets the HASH's prf, RFC 4754 §3);
    // the gateway signs with its own key, whose curve may differ (strongSwan does exactly that).
    const own = key.asymmetricKeyType === 'ec' ? curveMethod(key) : undefined;
    if (own === undefined)
      return {
        ok: false,
        reason: `ECDSA signature, but the certificate has a ${String(key.asymmetricKeyType)} key`,
      };
    const c = CURVES[own];
    if (sig.length !== 2 * c.size)
      return {
        ok: false,
        reason: `ECDSA signature of ${sig.length} bytes, expected ${2 * c.size}`,
      };
    const jwk = key.export({ format: 'jwk' });
    const pub = new Uint8Array(1 + 2 * c.size);
    pub[0] = 4;
    pub.set(leftPad(b64u(jwk.x), c.size), 1);
    pub.set(leftPad(b64u(jwk.y), c.size), 1 + c.size);
    return c.curve.verify(sig, hash, pub, { prehash: false, format: 'compact', lowS: false })
      ? { ok: true }
      : { ok: false, reason: `ECDSA ${c.crv} signature does not verify` };
  } catch (e) {
    return { ok: false, reason: e instanceof Error ? e.message : String(e) };
  }
}
