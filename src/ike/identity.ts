/**
 * IKE identities (RFC 7296 §3.5) from the strings users type, following strongSwan's conventions:
 * an IP literal is ID_IPV4_ADDR/ID_IPV6_ADDR, `@host` forces ID_FQDN, `user@host` is ID_RFC822_ADDR,
 * `@#hex` is ID_KEY_ID, anything else with a dot or without `=` is ID_FQDN.
 */
import { VpnError } from '../core/errors.js';
import { formatIpAddress, parseIpAddress } from '../core/ip.js';
import { IdType } from './constants.js';
import { formatDn, parseDn } from '../pki/dn.js';

export interface Identity {
  type: number;
  data: Uint8Array;
}

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

export function parseIdentity(text: string): Identity {
  const s = text.trim();
  if (s === '') throw new VpnError('ERR_CONFIG', 'empty identity');
  if (/^[0-9.]+$/.test(s) || s.includes(':')) {
    try {
      const a = parseIpAddress(s);
      return { type: a.length === 4 ? IdType.IPV4_ADDR : IdType.IPV6_ADDR, data: a };
    } catch {
      if (!s.includes(':'))
        throw new VpnError('ERR_CONFIG', `identity "${s}" is not a valid IP address`);
    }
  }
  if (s.startsWith('@#')) {
    const hex = s.slice(2);
    if (!/^([0-9a-fA-F]{2})+$/.test(hex))
      throw new VpnError('ERR_CONFIG', `identity "${s}": bad key ID hex`);
    return { type: IdType.KEY_ID, data: new Uint8Array(Buffer.from(hex, 'hex')) };
  }
  if (s.startsWith('@')) return { type: IdType.FQDN, data: utf8.encode(s.slice(1)) };
  if (s.includes('@')) return { type: IdType.RFC822_ADDR, data: utf8.encode(s) };
  // "C=CH, O=Example, CN=name" (strongSwan's notation) is an ID_DER_ASN1_DN.
  if (s.includes('=')) return { type: IdType.DER_ASN1_DN, data: parseDn(s) };
  return { type: IdType.FQDN, data: utf8.encode(s) };
}

export function formatIdentity(id: Identity): string {
  switch (id.type) {
    case IdType.IPV4_ADDR:
    case IdType.IPV6_ADDR:
      try {
        return formatIpAddress(id.data);
      } catch {
        return `<bad address>`;
      }
    case IdType.FQDN:
    case IdType.RFC822_ADDR:
      return utf8d.decode(id.data);
    case IdType.KEY_ID:
      return `@#${Buffer.from(id.data).toString('hex')}`;
    case IdType.DER_ASN1_DN:
      try {
        return formatDn(id.data);
      } catch {
        return '<bad distinguished name>';
      }
    default:
      return `<id type ${id.type}, ${id.data.length} bytes>`;
  }
}

export function sameIdentity(a: Identity, b: Identity): boolean {
  return a.type === b.type && Buffer.from(a.data).equals(Buffer.from(b.data));
}
