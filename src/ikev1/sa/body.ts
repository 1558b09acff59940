/**
 * The SA payload body codec (RFC 2408 §3.4–3.6): DOI, Situation, Proposal and Transform payloads
 * with their data attributes in TV and TLV form (§3.3). Bounded; throws only VpnError.
 */
import { Reader, Writer } from '../../core/bytes.js';
import { VpnError, isVpnError } from '../../core/errors.js';
import {
  DOI_IPSEC,
  NP_NONE,
  NP_PROPOSAL,
  NP_TRANSFORM,
  SA_LIMITS,
  SIT_IDENTITY_ONLY,
} from './constants.js';

// ---------------------------------------------------------------------------------------------
// Generic SA body codec (RFC 2408 §3.3–3.6)

/** A data attribute (RFC 2408 §3.3): `tv` is the AF bit (value ≤ 0xffff in the header). */
export interface V1DataAttribute {
  type: number;
  tv: boolean;
  value: Uint8Array;
}

export interface V1Transform {
  num: number;
  id: number;
  attributes: V1DataAttribute[];
}

export interface V1Proposal {
  num: number;
  protocol: number;
  spi: Uint8Array;
  transforms: V1Transform[];
}

/** An SA payload body with DOI IPsec and SIT_IDENTITY_ONLY (RFC 2407 §4.6.1). */
export interface V1SaBody {
  proposals: V1Proposal[];
}

/** A TV attribute (AF = 1) with a 16-bit value. */
export function tvAttr(type: number, value: number): V1DataAttribute {
  return { type, tv: true, value: new Uint8Array([value >> 8, value & 0xff]) };
}

/**
 * A numeric attribute in the shortest form: TV when the value fits in two octets, else TLV of
 * four (RFC 2409 Appendix A: "Variable length attributes MAY be encoded as basic attributes if
 * their value can fit into two octets").
 */
export function numAttr(type: number, value: number): V1DataAttribute {
  if (value <= 0xffff) return tvAttr(type, value);
  const v = new Uint8Array(4);
  new DataView(v.buffer).setUint32(0, value);
  return { type, tv: false, value: v };
}

/** The value of an attribute as a number (TV, or TLV of 1..8 octets whose value fits 2^32). */
export function attrNumber(a: V1DataAttribute): number | undefined {
  if (a.value.length === 0 || a.value.length > 8) return undefined;
  let n = 0;
  for (const b of a.value) {
    n = n * 256 + b;
    if (n > 0xffffffff) return undefined;
  }
  return n;
}

export function protocolError(msg: string, cause?: unknown): VpnError {
  return new VpnError('ERR_IKE_PROTOCOL', msg, cause === undefined ? undefined : { cause });
}

export function noProposal(msg: string): VpnError {
  return new VpnError('ERR_IKE_NO_PROPOSAL', msg);
}

/** Encodes an SA payload body (DOI IPsec, SIT_IDENTITY_ONLY, then the proposals). */
export function encodeSaBody(body: V1SaBody): Uint8Array {
  const w = new Writer(64);
  w.u32(DOI_IPSEC).u32(SIT_IDENTITY_ONLY);
  body.proposals.forEach((p, pi) => {
    // RFC 2408 §3.5 Proposal payload.
    const pStart = w.pos;
    w.u8(pi === body.proposals.length - 1 ? NP_NONE : NP_PROPOSAL)
      .u8(0)
      .u16(0);
    w.u8(p.num).u8(p.protocol).u8(p.spi.length).u8(p.transforms.length).bytes(p.spi);
    p.transforms.forEach((t, ti) => {
      // RFC 2408 §3.6 Transform payload.
      const tStart = w.pos;
      w.u8(ti === p.transforms.length - 1 ? NP_NONE : NP_TRANSFORM)
        .u8(0)
        .u16(0);
      w.u8(t.num).u8(t.id).u16(0);
      for (const a of t.attributes) {
        // RFC 2408 §3.3 Data Attributes.
        if (!Number.isInteger(a.type) || a.type < 0 || a.type > 0x7fff)
          throw new VpnError('ERR_ARG', `attribute type ${a.type} out of range`);
        if (a.tv) {
          if (a.value.length !== 2) throw new VpnError('ERR_ARG', 'TV attribute needs 2 octets');
          w.u16(0x8000 | a.type).bytes(a.value);
        } else {
          if (a.value.length > 0xffff)
            throw new VpnError('ERR_ARG', `attribute ${a.type} value longer than 65535 octets`);
          w.u16(a.type).u16(a.value.length).bytes(a.value);
        }
      }
      w.patchU16(tStart + 2, w.pos - tStart);
    });
    w.patchU16(pStart + 2, w.pos - pStart);
  });
  if (w.pos + 4 > 0xffff) throw new VpnError('ERR_ARG', 'SA payload longer than 65535 octets');
  return w.finish();
}

/**
 * Decodes an SA payload body: DOI must be IPsec and the Situation SIT_IDENTITY_ONLY (we never
 * offer labeled domains); proposals and transforms are chained by their next-payload fields,
 * each length must fit its parent, the transform counts must match, nothing may trail.
 * @throws VpnError ERR_IKE_PROTOCOL on anything malformed.
 */
export function decodeSaBody(body: Uint8Array): V1SaBody {
  try {
    return decodeSaBodyInner(body);
  } catch (e) {
    if (isVpnError(e) && e.code === 'ERR_IKE_PROTOCOL') throw e;
    throw protocolError(
      `malformed IKEv1 SA payload: ${e instanceof Error ? e.message : String(e)}`,
      e,
    );
  }
}

/** RFC 2408 §3.3: data attributes up to the end of the reader's window, bounded. */
export function readDataAttributes(r: Reader, where: string): V1DataAttribute[] {
  const attributes: V1DataAttribute[] = [];
  while (r.remaining > 0) {
    if (attributes.length >= SA_LIMITS.maxAttributesPerTransform)
      throw protocolError(
        `${where} has more than ${SA_LIMITS.maxAttributesPerTransform} attributes`,
      );
    const th = r.u16('attribute type');
    const type = th & 0x7fff;
    if (th & 0x8000) {
      attributes.push({ type, tv: true, value: r.copy(2, 'attribute value') });
    } else {
      const vlen = r.u16('attribute length');
      if (vlen > SA_LIMITS.maxAttributeValue)
        throw protocolError(`attribute ${type} has a ${vlen}-octet value`);
      attributes.push({ type, tv: false, value: r.copy(vlen, 'attribute value') });
    }
  }
  return attributes;
}

function decodeSaBodyInner(body: Uint8Array): V1SaBody {
  const r = new Reader(body);
  const doi = r.u32('SA DOI');
  if (doi !== DOI_IPSEC) throw protocolError(`SA payload has DOI ${doi}, expected 1 (IPsec)`);
  const sit = r.u32('SA situation');
  if (sit !== SIT_IDENTITY_ONLY)
    throw protocolError(`SA payload has situation ${sit}, expected SIT_IDENTITY_ONLY (1)`);
  const proposals: V1Proposal[] = [];
  let next = r.remaining > 0 ? NP_PROPOSAL : NP_NONE;
  if (next === NP_NONE) throw protocolError('SA payload has no proposal');
  while (next !== NP_NONE) {
    if (next !== NP_PROPOSAL)
      throw protocolError(`proposal chain has next payload ${next}, expected 2 or 0`);
    if (proposals.length >= SA_LIMITS.maxProposals)
      throw protocolError(`SA payload has more than ${SA_LIMITS.maxProposals} proposals`);
    const hdr = r.offset;
    next = r.u8('proposal next payload');
    r.u8('proposal reserved');
    const len = r.u16('proposal length');
    if (len < 8) throw protocolError(`proposal at offset ${hdr} has length ${len} < 8`);
    const pr = r.sub(len - 4, 'proposal body');
    const num = pr.u8('proposal number');
    const protocol = pr.u8('protocol id');
    const spiSize = pr.u8('SPI size');
    const count = pr.u8('number of transforms');
    if (spiSize > SA_LIMITS.maxSpiSize)
      throw protocolError(`proposal #${num} has an SPI of ${spiSize} octets`);
    const spi = pr.copy(spiSize, 'SPI');
    const transforms: V1Transform[] = [];
    let tnext = NP_TRANSFORM;
    if (count === 0) throw protocolError(`proposal #${num} has no transform`);
    while (tnext !== NP_NONE) {
      if (tnext !== NP_TRANSFORM)
        throw protocolError(`transform chain has next payload ${tnext}, expected 3 or 0`);
      if (transforms.length >= count)
        throw protocolError(`proposal #${num} has more transforms than its count ${count}`);
      tnext = pr.u8('transform next payload');
      pr.u8('transform reserved');
      const tlen = pr.u16('transform length');
      if (tlen < 8) throw protocolError(`transform in proposal #${num} has length ${tlen} < 8`);
      const tr = pr.sub(tlen - 4, 'transform body');
      const tnum = tr.u8('transform number');
      const tid = tr.u8('transform id');
      tr.u16('transform reserved2');
      const attributes = readDataAttributes(tr, `transform #${tnum}`);
      transforms.push({ num: tnum, id: tid, attributes });
    }
    if (transforms.length !== count)
      throw protocolError(
        `proposal #${num} says ${count} transforms but carries ${transforms.length}`,
      );
    pr.expectEnd(`proposal #${num}`);
    proposals.push({ num, protocol, spi, transforms });
  }
  r.expectEnd('SA payload');
  return { proposals };
}
