/**
 * Binding an IKE identity (RFC 7296 §3.5) to a certificate (RFC 4945 §3.1), and the identities a
 * certificate gives us by default. The X.509 side (names, wildcards, DN comparison) is plain
 * src/pki; what an IKE identity means lives here, with IKE.
 *
 * Policy: `matchesIdentity` looks only where RFC 4945 §3.1 puts each identity type:
 * subjectAltName entries for ID_FQDN, ID_RFC822_ADDR and ID_IPV4/IPV6_ADDR, the subject for
 * ID_DER_ASN1_DN. It never falls back to the subject's commonName (strongSwan does not either).
 */
import { equalBytes } from '../../core/bytes.js';
import { asciiLower, matchesDnsName, sameDistinguishedName } from '../../pki/names.js';
import type { Certificate } from '../../pki/x509.js';
import { IdType } from '../constants.js';
import type { Identity } from '../identity.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

function textOf(b: Uint8Array): string | undefined {
  try {
    return utf8.decode(b);
  } catch {
    return undefined;
  }
}

/**
 * Whether `cert` carries the IKE identity `id` (RFC 4945 §3.1): ID_FQDN in a dNSName entry
 * (wildcards allowed in the certificate), ID_IPV4_ADDR/ID_IPV6_ADDR in an iPAddress entry,
 * ID_RFC822_ADDR in an rfc822Name entry (case-insensitive), ID_DER_ASN1_DN as the subject (see
 * `sameDistinguishedName`), ID_KEY_ID as the SHA-1 of the SubjectPublicKeyInfo or the subject key
 * identifier (as strongSwan matches key IDs). Other types never match.
 */
export function matchesIdentity(cert: Certificate, id: Identity): boolean {
  const sans = cert.subjectAltNames;
  switch (id.type) {
    case IdType.FQDN: {
      const name = textOf(id.data);
      return name !== undefined && sans.dns.some((p) => matchesDnsName(p, name));
    }
    case IdType.IPV4_ADDR:
    case IdType.IPV6_ADDR: {
      const want = id.type === IdType.IPV4_ADDR ? 4 : 16;
      if (id.data.length !== want) return false;
      return sans.ipBytes.some((a) => equalBytes(a, id.data));
    }
    case IdType.RFC822_ADDR: {
      const mail = textOf(id.data);
      if (mail === undefined || mail === '') return false;
      const m = asciiLower(mail);
      return sans.email.some((e) => asciiLower(e) === m);
    }
    case IdType.DER_ASN1_DN:
      return sameDistinguishedName(cert.subjectDer, id.data);
    case IdType.KEY_ID:
      return (
        id.data.length > 0 &&
        (equalBytes(cert.keyIdSha1(), id.data) ||
          (cert.subjectKeyId !== undefined && equalBytes(cert.subjectKeyId, id.data)))
      );
    default:
      return false;
  }
}

/**
 * The default IKE identity (IDi) for a client certificate: its subject DN as ID_DER_ASN1_DN
 * (strongSwan's default, RFC 4945 §3.1.5).
 */
export function identityFromCert(cert: Certificate): Identity {
  return { type: IdType.DER_ASN1_DN, data: cert.subjectDer.slice() };
}

/**
 * The identity of the certificate's first subjectAltName that IKE can express: a dNSName as
 * ID_FQDN, an rfc822Name as ID_RFC822_ADDR, an iPAddress as ID_IPV4_ADDR/ID_IPV6_ADDR; undefined
 * if there is none.
 */
export function sanIdentityFromCert(cert: Certificate): Identity | undefined {
  const enc = new TextEncoder();
  for (const n of cert.subjectAltNames.all) {
    switch (n.type) {
      case 'dns':
        return { type: IdType.FQDN, data: enc.encode(n.value) };
      case 'email':
        return { type: IdType.RFC822_ADDR, data: enc.encode(n.value) };
      case 'ip':
        if (n.raw.length === 4) return { type: IdType.IPV4_ADDR, data: n.raw.slice() };
        if (n.raw.length === 16) return { type: IdType.IPV6_ADDR, data: n.raw.slice() };
        break;
      case 'uri':
      case 'dirName':
      case 'other':
        break;
    }
  }
  return undefined;
}
