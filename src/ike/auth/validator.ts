/**
 * The gateway-certificate check the IKE session runs (`CertValidator`, src/ike/auth.ts): the chain
 * to one of our trust anchors, validity dates at the session's clock, key usage, and names — the
 * gateway's IKE identity (IDr) and, by default, the host name or address we dialled, the way a
 * browser checks a server (RFC 7296 §2.15 leaves binding the ID to the certificate to the
 * implementation; RFC 4945 §3.1 says how).
 */
import { VpnError } from '../../core/errors.js';
import type { CertCheck, CertValidator } from '../auth.js';
import type { Identity } from '../identity.js';
import { formatIdentity } from '../identity.js';
import { checkExtendedKeyUsage, verifyChain } from '../../pki/chain.js';
import { matchesHost } from '../../pki/names.js';
import { Certificate, EkuOid } from '../../pki/x509.js';
import { matchesIdentity } from './cert-identity.js';

/**
 * Extended key usages that make a certificate fit for an IKE gateway (RFC 4945 §5.1.3.12 and what
 * strongSwan accepts): serverAuth, iKEIntermediate, id-kp-ipsecIKE (anyExtendedKeyUsage, or no
 * extendedKeyUsage extension, too). A certificate for clients only (clientAuth) or for another
 * purpose cannot stand for the gateway, however trusted its CA.
 */
export const GATEWAY_EKUS: readonly string[] = [
  EkuOid.SERVER_AUTH,
  EkuOid.IKE_INTERMEDIATE,
  EkuOid.IPSEC_IKE,
];

export interface CertValidatorOptions {
  /** Trust anchors, DER. */
  anchors: Uint8Array[];
  /** Host name or IP literal the end-entity certificate must also carry (the one we dialled). */
  host?: string;
  /** Longest chain accepted (end-entity + intermediates + anchor). */
  maxDepth?: number;
}

export function createCertValidator(opts: CertValidatorOptions): CertValidator {
  const anchors: Certificate[] = [];
  for (const der of opts.anchors) {
    try {
      anchors.push(Certificate.fromDer(der));
    } catch {
      // An unparsable anchor cannot vouch for anything; the loader reports such files.
    }
  }
  const keyIds = anchors.flatMap((a) => a.certreqKeyIds());
  return {
    certreqKeyIds: keyIds,
    validate(certs: Uint8Array[], id: Identity, now: number): CertCheck {
      let parsed: Certificate[];
      try {
        parsed = certs.map((der) => Certificate.fromDer(der));
      } catch (e) {
        return {
          ok: false,
          error: new VpnError(
            'ERR_CERT',
            `the gateway sent a certificate we cannot parse: ${(e as Error).message}`,
          ),
        };
      }
      const [leaf, ...intermediates] = parsed;
      if (!leaf) return { ok: false, error: new VpnError('ERR_CERT', 'no gateway certificate') };
      const chain = verifyChain({
        leaf,
        intermediates,
        anchors,
        now,
        ...(opts.maxDepth !== undefined ? { maxDepth: opts.maxDepth } : {}),
      });
      if (!chain.ok) return { ok: false, error: chain.error };
      const eku = checkExtendedKeyUsage(leaf, GATEWAY_EKUS, 'an IKE gateway');
      if (eku) return { ok: false, error: eku };
      const subject = leaf.subject;
      if (!matchesIdentity(leaf, id)) {
        return {
          ok: false,
          error: new VpnError(
            'ERR_CERT_NAME',
            `the gateway identified as "${formatIdentity(id)}", but its certificate "${subject}" does not carry that identity (${describeNames(leaf)})`,
          ),
        };
      }
      if (opts.host !== undefined && !matchesHost(leaf, opts.host)) {
        return {
          ok: false,
          error: new VpnError(
            'ERR_CERT_NAME',
            `the gateway's certificate "${subject}" is not valid for ${opts.host}, the host we dialled (${describeNames(leaf)}); check the address, or use --no-host-check with --remote-id`,
          ),
        };
      }
      return { ok: true, publicKey: leaf.publicKey, subject };
    },
  };
}

function describeNames(c: Certificate): string {
  const sans = c.subjectAltNames;
  const names = [
    ...sans.dns.map((d) => `DNS:${d}`),
    ...sans.ip.map((i) => `IP:${i}`),
    ...sans.email.map((m) => `email:${m}`),
  ];
  return names.length > 0 ? `it names ${names.join(', ')}` : 'it has no subjectAltName';
}
