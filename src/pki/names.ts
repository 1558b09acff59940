/**
 * Names in certificates: distinguished names (RFC 5280 §4.1.2.4, compared as §7.1 allows), DNS
 * names with RFC 6125 wildcards, and binding a dialled host to a certificate (RFC 6125 §6).
 * Binding an IKE identity to a certificate (RFC 4945 §3.1) lives with IKE, in
 * src/ike/auth/cert-identity.ts.
 *
 * Policy choices:
 * - `matchesHost` checks the host we dialled the way browsers did before RFC 6125 §6.4.4 made the
 *   commonName fallback optional: a host name is compared with the dNSName entries, an IP literal
 *   with the iPAddress entries; only when the certificate has no subjectAltName entry *of that
 *   kind* is the most specific (last) commonName of the subject compared instead. So a
 *   certificate with `DNS:gw.example.com` and `CN=192.0.2.1` matches the host 192.0.2.1 (it has
 *   no iPAddress entry), but one with `IP:192.0.2.2` and `CN=192.0.2.1` does not.
 * - Wildcards (`*.example.com`) are honoured only as the complete left-most label of a presented
 *   dNSName with at least two labels after it, and match exactly one non-empty label (RFC 6125
 *   §6.4.3). Reference names (what we look for) never contain wildcards: one that does matches
 *   nothing.
 * - DNS names and e-mail addresses compare ASCII case-insensitively (no Unicode case folding:
 *   U+212A KELVIN SIGN must not match "k"), ignoring one trailing dot of a DNS name.
 */
import { ParseError } from '../core/errors.js';
import { parseIpAddress } from '../core/ip.js';
import { Tag, children, decodeOid, expectTag, parseDer } from './der.js';
import type { Certificate } from './x509.js';

/** One AttributeTypeAndValue of a distinguished name (RFC 5280 §4.1.2.4). */
export interface NameAttribute {
  /** Attribute type, dotted decimal (2.5.4.3 is commonName). */
  oid: string;
  /** ASN.1 tag of the value (UTF8String, PrintableString, ...). */
  tag: number;
  /** Value bytes (without tag and length). */
  value: Uint8Array;
  /** The whole value TLV. */
  raw: Uint8Array;
  /** The value as text, when it is a string type that decodes cleanly. */
  text: string | undefined;
}

/** A relative distinguished name: a SET of one or more attributes. */
export type Rdn = NameAttribute[];

export const OID_COMMON_NAME = '2.5.4.3';

/** Decodes a DER Name into its RDNs; throws ParseError if malformed. */
export function parseName(der: Uint8Array): Rdn[] {
  const name = expectTag(parseDer(der, 'Name'), Tag.SEQUENCE, 'Name');
  return children(name, 'Name').map((rdn) => {
    expectTag(rdn, Tag.SET, 'RDN');
    const atvs = children(rdn, 'RDN');
    // RFC 5280 §4.1.2.4: RelativeDistinguishedName ::= SET SIZE (1..MAX)
    if (atvs.length === 0) throw new ParseError('RDN', 0, 'empty RDN');
    return atvs.map((atv) => {
      const parts = children(expectTag(atv, Tag.SEQUENCE, 'attribute'), 'attribute');
      if (parts.length !== 2) throw new ParseError('attribute', 0, 'expected type and value');
      const oid = decodeOid(expectTag(parts[0], Tag.OID, 'attribute type').value);
      const v = parts[1]!;
      return {
        oid,
        tag: v.tag,
        value: v.value,
        raw: v.raw,
        text: decodeDirectoryString(v.tag, v.value),
      };
    });
  });
}

const STRING_TAGS = {
  UTF8: 0x0c,
  NUMERIC: 0x12,
  PRINTABLE: 0x13,
  TELETEX: 0x14,
  IA5: 0x16,
  VISIBLE: 0x1a,
  UNIVERSAL: 0x1c,
  BMP: 0x1e,
} as const;

/**
 * The text of a string-typed attribute value (X.520 DirectoryString and the IA5/Printable/...
 * types), or undefined for other types and for encodings that do not decode.
 */
export function decodeDirectoryString(tag: number, v: Uint8Array): string | undefined {
  switch (tag) {
    case STRING_TAGS.UTF8:
      try {
        return new TextDecoder('utf-8', { fatal: true }).decode(v);
      } catch {
        return undefined;
      }
    case STRING_TAGS.NUMERIC:
    case STRING_TAGS.PRINTABLE:
    case STRING_TAGS.IA5:
    case STRING_TAGS.VISIBLE:
    case STRING_TAGS.TELETEX: // T.61; Latin-1 is what it carries in practice
      return latin1(v);
    case STRING_TAGS.BMP: {
      if (v.length % 2 !== 0) return undefined;
      let s = '';
      for (let i = 0; i < v.length; i += 2) s += String.fromCharCode((v[i]! << 8) | v[i + 1]!);
      return s;
    }
    case STRING_TAGS.UNIVERSAL: {
      if (v.length % 4 !== 0) return undefined;
      let s = '';
      for (let i = 0; i < v.length; i += 4) {
        const cp = ((v[i]! << 24) | (v[i + 1]! << 16) | (v[i + 2]! << 8) | v[i + 3]!) >>> 0;
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return undefined;
        s += String.fromCodePoint(cp);
      }
      return s;
    }
    default:
      return undefined;
  }
}

/** Bytes as Latin-1 text (each byte one code point), for IA5String and friends. */
export function latin1(v: Uint8Array): string {
  let s = '';
  for (const b of v) s += String.fromCharCode(b);
  return s;
}

/** RFC 5280 §7.1 / RFC 4518 (simplified): compatibility-normalized, case-folded, spaces collapsed. */
function canonicalText(s: string): string {
  return s.normalize('NFKC').toLowerCase().trim().replace(/\s+/gu, ' ');
}

function canonicalAttribute(a: NameAttribute): string {
  // String values compare by canonical text whatever their string type; others byte for byte.
  const v = a.text !== undefined ? `s:${canonicalText(a.text)}` : `b:${hex(a.raw)}`;
  return `${a.oid}=${v}`;
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/**
 * Whether two DER Names denote the same entity: byte-equal, or equal RDN by RDN after comparing
 * string values case-insensitively with whitespace collapsed (RFC 5280 §7.1; attributes of a
 * multi-valued RDN in any order). Malformed names are equal only if byte-equal.
 */
export function sameDistinguishedName(a: Uint8Array, b: Uint8Array): boolean {
  if (bytesEqual(a, b)) return true;
  let ra: Rdn[];
  let rb: Rdn[];
  try {
    ra = parseName(a);
    rb = parseName(b);
  } catch {
    return false;
  }
  if (ra.length !== rb.length) return false;
  for (let i = 0; i < ra.length; i++) {
    const x = ra[i]!.map(canonicalAttribute).sort();
    const y = rb[i]!.map(canonicalAttribute).sort();
    if (x.length !== y.length || x.some((v, j) => v !== y[j])) return false;
  }
  return true;
}

/** The commonName values of a DER Name, in order (most specific last); [] if malformed. */
export function commonNames(nameDer: Uint8Array): string[] {
  try {
    return parseName(nameDer)
      .flat()
      .filter((a) => a.oid === OID_COMMON_NAME && a.text !== undefined)
      .map((a) => a.text!);
  } catch {
    return [];
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** ASCII-only lower case (no Unicode case folding of host names or mailboxes). */
export function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

function normalizeDns(s: string): string | undefined {
  let n = asciiLower(s);
  if (n.endsWith('.')) n = n.slice(0, -1);
  return n === '' ? undefined : n;
}

/**
 * Whether a presented dNSName (`pattern`, possibly `*.example.com`) matches the reference name
 * `name` (RFC 6125 §6.4.1, §6.4.3): ASCII case-insensitive, one trailing dot ignored, a wildcard
 * only as the whole left-most label of a pattern with at least two more labels, matching exactly
 * one non-empty label.
 */
export function matchesDnsName(pattern: string, name: string): boolean {
  const p = normalizeDns(pattern);
  const n = normalizeDns(name);
  if (p === undefined || n === undefined) return false;
  if (n.includes('*')) return false;
  if (!p.includes('*')) return p === n;
  const pl = p.split('.');
  const nl = n.split('.');
  if (pl[0] !== '*' || pl.slice(1).some((l) => l.includes('*') || l === '')) return false;
  if (pl.length < 3) return false; // "*.com" and "*" are too broad
  if (nl.length !== pl.length || nl[0] === '') return false;
  return pl.slice(1).join('.') === nl.slice(1).join('.');
}

/** The address bytes of an IP literal (brackets around IPv6 allowed), or undefined. */
function ipLiteral(s: string): Uint8Array | undefined {
  let h = s.trim();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (!/^[0-9.]+$/.test(h) && !h.includes(':')) return undefined;
  try {
    return parseIpAddress(h);
  } catch {
    return undefined;
  }
}

/**
 * Whether `cert` is valid for the host we dialled: a host name against the dNSName entries, an IP
 * literal against the iPAddress entries; the subject's last commonName only if the certificate has
 * no entries of that kind (see the module comment).
 */
export function matchesHost(cert: Certificate, host: string): boolean {
  const sans = cert.subjectAltNames;
  const cns = commonNames(cert.subjectDer);
  const cn = cns[cns.length - 1];
  const ip = ipLiteral(host);
  if (ip) {
    if (sans.ipBytes.length > 0) return sans.ipBytes.some((a) => bytesEqual(a, ip));
    const cnIp = cn === undefined ? undefined : ipLiteral(cn);
    return cnIp !== undefined && bytesEqual(cnIp, ip);
  }
  const name = host.trim();
  if (name === '') return false;
  if (sans.dns.length > 0) return sans.dns.some((p) => matchesDnsName(p, name));
  return cn !== undefined && ipLiteral(cn) === undefined && matchesDnsName(cn, name);
}
