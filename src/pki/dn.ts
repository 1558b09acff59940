/**
 * Distinguished names as users type them ("C=CH, O=Example, CN=gw.example.com", strongSwan's
 * notation) and as X.509 encodes them (RFC 5280 §4.1.2.4: a SEQUENCE of RDN SETs of
 * AttributeTypeAndValue), for ID_DER_ASN1_DN identities (RFC 7296 §3.5).
 */
import { ParseError, VpnError } from '../core/errors.js';
import { Tag, children, decodeOid, expectTag, oid, parseDer, seq, tlv } from './der.js';

/** Attribute short names and OIDs (RFC 4519, RFC 5280 Appendix A). */
const ATTRS: [string, string][] = [
  ['C', '2.5.4.6'],
  ['ST', '2.5.4.8'],
  ['L', '2.5.4.7'],
  ['O', '2.5.4.10'],
  ['OU', '2.5.4.11'],
  ['CN', '2.5.4.3'],
  ['SN', '2.5.4.4'],
  ['GN', '2.5.4.42'],
  ['serialNumber', '2.5.4.5'],
  ['title', '2.5.4.12'],
  ['E', '1.2.840.113549.1.9.1'],
  ['DC', '0.9.2342.19200300.100.1.25'],
  ['UID', '0.9.2342.19200300.100.1.1'],
];
const BY_NAME = new Map(ATTRS.map(([n, o]) => [n.toLowerCase(), o]));
BY_NAME.set('emailaddress', '1.2.840.113549.1.9.1');
BY_NAME.set('s', '2.5.4.8');
const BY_OID = new Map(ATTRS.map(([n, o]) => [o, n]));

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

/** Encodes "C=CH, O=Example, CN=host" as a DER Name; throws VpnError('ERR_CONFIG') if malformed. */
export function parseDn(text: string): Uint8Array {
  const parts = splitRdns(text);
  if (parts.length === 0) throw new VpnError('ERR_CONFIG', `empty distinguished name "${text}"`);
  const rdns = parts.map((p) => {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new VpnError('ERR_CONFIG', `"${p}" in "${text}" is not TYPE=value`);
    const name = p.slice(0, eq).trim();
    const value = p.slice(eq + 1).trim();
    const id = /^\d+(\.\d+)+$/.test(name) ? name : BY_NAME.get(name.toLowerCase());
    if (!id) throw new VpnError('ERR_CONFIG', `unknown attribute "${name}" in "${text}"`);
    // RFC 5280 §4.1.2.4: countryName and emailAddress have fixed string types; UTF8String
    // otherwise (what strongSwan's pki writes).
    const tag =
      id === '2.5.4.6'
        ? Tag.PRINTABLE_STRING
        : id === '1.2.840.113549.1.9.1' || id === '0.9.2342.19200300.100.1.25'
          ? Tag.IA5_STRING
          : Tag.UTF8_STRING;
    return tlv(Tag.SET, seq(oid(id), tlv(tag, utf8.encode(value))));
  });
  return seq(...rdns);
}

/** Splits at commas or slashes that are not escaped with a backslash. */
function splitRdns(text: string): string[] {
  const sep = text.trim().startsWith('/') ? '/' : ',';
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\' && i + 1 < text.length) {
      cur += text[++i]!;
      continue;
    }
    if (ch === sep) {
      if (cur.trim() !== '') out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (cur.trim() !== '') out.push(cur.trim());
  return out;
}

/** "C=CH, O=Example, CN=host" from a DER Name; throws ParseError if malformed. */
export function formatDn(der: Uint8Array): string {
  const name = expectTag(parseDer(der, 'DN'), Tag.SEQUENCE, 'DN');
  const parts: string[] = [];
  for (const rdn of children(name, 'DN')) {
    expectTag(rdn, Tag.SET, 'RDN');
    for (const atv of children(rdn, 'RDN')) {
      const [type, value] = children(expectTag(atv, Tag.SEQUENCE, 'attribute'), 'attribute');
      const o = decodeOid(expectTag(type, Tag.OID, 'attribute type').value);
      if (!value) throw new ParseError('attribute', 0, 'no value');
      const text =
        value.tag === Tag.BMP_STRING ? decodeBmp(value.value) : utf8d.decode(value.value);
      parts.push(`${BY_OID.get(o) ?? o}=${text}`);
    }
  }
  return parts.join(', ');
}

function decodeBmp(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i + 1 < b.length; i += 2) s += String.fromCharCode((b[i]! << 8) | b[i + 1]!);
  return s;
}
