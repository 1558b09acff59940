/**
 * Our Phase 1 (RFC 2409 Appendix A) and Quick Mode (RFC 2407 §4.5) offers, and the strict checks
 * of the gateway's choice; RESPONDER-LIFETIME (RFC 2407 §4.6.3.1).
 */
import { Reader } from '../../core/bytes.js';
import { VpnError, isVpnError } from '../../core/errors.js';
import {
  attrNumber,
  decodeSaBody,
  encodeSaBody,
  noProposal,
  numAttr,
  protocolError,
  readDataAttributes,
  tvAttr,
} from './body.js';
import type { V1DataAttribute, V1Proposal, V1Transform } from './body.js';
import {
  ESP_TO_ENCR,
  KEY_IKE,
  Phase1Attr,
  Phase2Attr,
  SA_LIMITS,
  V1EncapMode,
  V1Encr,
  V1LifeType,
  V1Protocol,
} from './constants.js';
import type { V1Phase1Spec, V1Phase2Spec } from './constants.js';
import { formatPhase1Spec, formatPhase2Spec } from './proposal-text.js';

// ---------------------------------------------------------------------------------------------
// Phase 1 (RFC 2409 Appendix A)

function phase1Attributes(s: V1Phase1Spec, authMethod: number): V1DataAttribute[] {
  // Attribute order as strongSwan and most peers send it: cipher, key length, hash, group,
  // authentication method, life type, life duration.
  const a: V1DataAttribute[] = [tvAttr(Phase1Attr.ENCRYPTION_ALGORITHM, s.encr)];
  if (s.keyBits !== undefined) a.push(tvAttr(Phase1Attr.KEY_LENGTH, s.keyBits));
  a.push(tvAttr(Phase1Attr.HASH_ALGORITHM, s.hash));
  a.push(tvAttr(Phase1Attr.GROUP_DESCRIPTION, s.group));
  a.push(tvAttr(Phase1Attr.AUTH_METHOD, authMethod));
  a.push(tvAttr(Phase1Attr.LIFE_TYPE, V1LifeType.SECONDS));
  a.push(numAttr(Phase1Attr.LIFE_DURATION, s.lifeSeconds));
  if (s.lifeKilobytes !== undefined) {
    a.push(tvAttr(Phase1Attr.LIFE_TYPE, V1LifeType.KILOBYTES));
    a.push(numAttr(Phase1Attr.LIFE_DURATION, s.lifeKilobytes));
  }
  return a;
}

function checkU16(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff)
    throw new VpnError('ERR_ARG', `${what} ${v} does not fit an attribute`);
}

function checkLives(s: { lifeSeconds: number; lifeKilobytes?: number }): void {
  for (const v of [s.lifeSeconds, s.lifeKilobytes ?? 1])
    if (!Number.isInteger(v) || v < 1 || v > 0xffffffff)
      throw new VpnError('ERR_ARG', `lifetime ${v} out of range`);
}

function checkSpecs(specs: readonly unknown[], what: string): void {
  if (specs.length === 0) throw new VpnError('ERR_ARG', `no ${what} transform to offer`);
  if (specs.length > SA_LIMITS.maxOfferedTransforms)
    throw new VpnError('ERR_ARG', `${specs.length} ${what} transforms: too many to offer`);
}

/**
 * Our Phase 1 SA payload body: one ISAKMP proposal (#1, no SPI: the cookies identify the SA),
 * one KEY_IKE transform per spec numbered from 1, each with every attribute (RFC 2409 §5: the
 * Phase 1 transforms are alternatives; the responder picks one).
 */
export function encodePhase1Sa(specs: V1Phase1Spec[], authMethod: number): Uint8Array {
  checkSpecs(specs, 'Phase 1');
  checkU16(authMethod, 'authentication method');
  for (const s of specs) {
    checkU16(s.encr, 'cipher');
    checkU16(s.hash, 'hash');
    checkU16(s.group, 'group');
    if (s.keyBits !== undefined) checkU16(s.keyBits, 'key length');
    checkLives(s);
  }
  return encodeSaBody({
    proposals: [
      {
        num: 1,
        protocol: V1Protocol.ISAKMP,
        spi: new Uint8Array(0),
        transforms: specs.map((s, i) => ({
          num: i + 1,
          id: KEY_IKE,
          attributes: phase1Attributes(s, authMethod),
        })),
      },
    ],
  });
}

/** Life attributes of a transform: the seconds value (if any) and whether kilobytes appeared. */
interface Lives {
  seconds?: number;
  kilobytes?: number;
}

/**
 * Reads the attributes of a chosen transform into a map, pairing each Life Type with the Life
 * Duration that follows it (RFC 2409 App. A, RFC 2407 §4.5). Duplicates and unpaired durations
 * are refused.
 */
function readAttributes(
  t: V1Transform,
  lifeType: number,
  lifeDuration: number,
  phase: string,
): { values: Map<number, number>; lives: Lives } {
  const values = new Map<number, number>();
  const lives: Lives = {};
  let pending: number | undefined;
  for (const a of t.attributes) {
    const v = attrNumber(a);
    if (v === undefined)
      throw noProposal(`${phase}: gateway sent attribute ${a.type} with an unusable value`);
    if (a.type === lifeType) {
      if (pending !== undefined)
        throw noProposal(`${phase}: gateway sent a life type without its duration`);
      if (v !== V1LifeType.SECONDS && v !== V1LifeType.KILOBYTES)
        throw noProposal(`${phase}: gateway sent unknown life type ${v}`);
      pending = v;
      continue;
    }
    if (a.type === lifeDuration) {
      if (pending === undefined)
        throw noProposal(`${phase}: gateway sent a life duration without a life type`);
      const key = pending === V1LifeType.SECONDS ? 'seconds' : 'kilobytes';
      if (lives[key] !== undefined) throw noProposal(`${phase}: gateway sent two ${key} lifetimes`);
      lives[key] = v;
      pending = undefined;
      continue;
    }
    if (values.has(a.type))
      throw noProposal(`${phase}: gateway sent attribute ${a.type} twice in its transform`);
    values.set(a.type, v);
  }
  if (pending !== undefined)
    throw noProposal(`${phase}: gateway sent a life type without its duration`);
  return { values, lives };
}

/**
 * The lifetimes of the chosen SA: our seconds, or the lower value the gateway answered with; a
 * byte lifetime where we offered none (no limit) lowers it too, and is returned (strongSwan and
 * libreswan accept one as initiators; Cisco and FortiGate responders may set one).
 */
function chosenLife<T extends { lifeSeconds: number; lifeKilobytes?: number }>(
  spec: T,
  lives: Lives,
  phase: string,
): T {
  const offered = spec.lifeSeconds;
  const out: T = { ...spec };
  if (lives.seconds !== undefined) {
    if (lives.seconds === 0) throw noProposal(`${phase}: gateway chose a lifetime of 0 s`);
    if (lives.seconds > offered)
      throw noProposal(
        `${phase}: gateway chose a lifetime of ${lives.seconds} s, longer than the ${offered} s we offered`,
      );
    out.lifeSeconds = lives.seconds;
  }
  if (lives.kilobytes !== undefined) {
    if (lives.kilobytes === 0) throw noProposal(`${phase}: gateway chose a lifetime of 0 kB`);
    if (spec.lifeKilobytes !== undefined && lives.kilobytes > spec.lifeKilobytes)
      throw noProposal(
        `${phase}: gateway chose a lifetime of ${lives.kilobytes} kB, longer than the ${spec.lifeKilobytes} kB we offered`,
      );
    out.lifeKilobytes = lives.kilobytes;
  }
  return out;
}

function decodeChoice(body: Uint8Array, protocol: number, phase: string): V1Proposal {
  const sa = decodeSaBody(body);
  // RFC 2408 §4.2: the responder returns exactly one proposal with one transform.
  if (sa.proposals.length !== 1)
    throw noProposal(`${phase}: gateway returned ${sa.proposals.length} proposals, expected 1`);
  const p = sa.proposals[0]!;
  if (p.protocol !== protocol)
    throw noProposal(`${phase}: gateway chose protocol ${p.protocol}, expected ${protocol}`);
  if (p.num !== 1) throw noProposal(`${phase}: gateway chose proposal #${p.num}, we offered #1`);
  if (p.transforms.length !== 1)
    throw noProposal(`${phase}: gateway returned ${p.transforms.length} transforms, expected 1`);
  return p;
}

/**
 * The gateway's Phase 1 answer: exactly one proposal with one KEY_IKE transform, whose cipher,
 * key length, hash, group and authentication method equal one we offered and which carries no
 * attribute we did not offer. A lower lifetime, or a byte lifetime where we offered none, is
 * accepted and returned in the spec.
 * @throws VpnError ERR_IKE_NO_PROPOSAL with the reason (ERR_IKE_PROTOCOL if malformed).
 */
export function decodePhase1Choice(
  body: Uint8Array,
  offered: V1Phase1Spec[],
  authMethod: number,
): V1Phase1Spec {
  const phase = 'Phase 1';
  const p = decodeChoice(body, V1Protocol.ISAKMP, phase);
  const t = p.transforms[0]!;
  if (t.id !== KEY_IKE)
    throw noProposal(`${phase}: gateway chose transform ID ${t.id}, not KEY_IKE`);
  const { values, lives } = readAttributes(
    t,
    Phase1Attr.LIFE_TYPE,
    Phase1Attr.LIFE_DURATION,
    phase,
  );
  for (const type of values.keys()) {
    if (
      type !== Phase1Attr.ENCRYPTION_ALGORITHM &&
      type !== Phase1Attr.KEY_LENGTH &&
      type !== Phase1Attr.HASH_ALGORITHM &&
      type !== Phase1Attr.GROUP_DESCRIPTION &&
      type !== Phase1Attr.AUTH_METHOD
    )
      throw noProposal(`${phase}: gateway added attribute ${type} that we did not offer`);
  }
  const encr = values.get(Phase1Attr.ENCRYPTION_ALGORITHM);
  const hash = values.get(Phase1Attr.HASH_ALGORITHM);
  const group = values.get(Phase1Attr.GROUP_DESCRIPTION);
  const auth = values.get(Phase1Attr.AUTH_METHOD);
  let keyBits = values.get(Phase1Attr.KEY_LENGTH);
  if (encr === undefined || hash === undefined || group === undefined || auth === undefined)
    throw noProposal(`${phase}: gateway's transform lacks a cipher, hash, group or auth method`);
  if (auth !== authMethod)
    throw noProposal(
      `${phase}: gateway chose authentication method ${auth}, we offered ${authMethod}`,
    );
  // RFC 3602 §5.3 drafts allowed AES without Key Length, meaning 128 (strongSwan reads it so).
  if (encr === V1Encr.AES_CBC && keyBits === undefined) keyBits = 128;
  // 3DES has one key size; a peer naming it (192) means the same cipher.
  if (encr === V1Encr['3DES_CBC'] && keyBits === 192) keyBits = undefined;
  const candidates = offered.filter(
    (s) => s.encr === encr && s.keyBits === keyBits && s.hash === hash && s.group === group,
  );
  if (candidates.length === 0) {
    const chosen: V1Phase1Spec = { encr, hash, group, lifeSeconds: 0 };
    if (keyBits !== undefined) chosen.keyBits = keyBits;
    throw noProposal(`${phase}: gateway chose ${formatPhase1Spec(chosen)}, which we did not offer`);
  }
  const spec = candidates.find((s) => offered.indexOf(s) === t.num - 1) ?? candidates[0]!;
  return chosenLife(spec, lives, phase);
}

// ---------------------------------------------------------------------------------------------
// Phase 2 (RFC 2407 §4.5)

const TUNNEL_MODES: ReadonlySet<number> = new Set([
  V1EncapMode.TUNNEL,
  V1EncapMode.UDP_TUNNEL,
  V1EncapMode.UDP_TUNNEL_DRAFT,
]);

function phase2Attributes(s: V1Phase2Spec, encapsulation: number): V1DataAttribute[] {
  // RFC 4106 §8: Key Length is required for AES-GCM; an AEAD transform takes no Authentication
  // Algorithm attribute (the ICV is part of the cipher), as strongSwan and libreswan send it.
  const a: V1DataAttribute[] = [tvAttr(Phase2Attr.KEY_LENGTH, s.keyBits)];
  if (s.pfsGroup !== undefined) a.push(tvAttr(Phase2Attr.GROUP_DESCRIPTION, s.pfsGroup));
  a.push(tvAttr(Phase2Attr.ENCAPSULATION_MODE, encapsulation));
  a.push(tvAttr(Phase2Attr.SA_LIFE_TYPE, V1LifeType.SECONDS));
  a.push(numAttr(Phase2Attr.SA_LIFE_DURATION, s.lifeSeconds));
  if (s.lifeKilobytes !== undefined) {
    a.push(tvAttr(Phase2Attr.SA_LIFE_TYPE, V1LifeType.KILOBYTES));
    a.push(numAttr(Phase2Attr.SA_LIFE_DURATION, s.lifeKilobytes));
  }
  return a;
}

/**
 * Our Quick Mode SA payload body: one ESP proposal (#1) with our inbound SPI, one transform per
 * spec numbered from 1. `encapsulation`: 1 Tunnel, 3 UDP-Tunnel (RFC 3947 §5) behind a NAT, or
 * 61443 when the peer announced only the draft NAT-T vendor IDs.
 */
export function encodePhase2Sa(
  specs: V1Phase2Spec[],
  spi: number,
  encapsulation: number,
): Uint8Array {
  checkSpecs(specs, 'Phase 2');
  if (!TUNNEL_MODES.has(encapsulation))
    throw new VpnError('ERR_ARG', `encapsulation mode ${encapsulation} is not a tunnel mode`);
  if (!Number.isInteger(spi) || spi < 256 || spi > 0xffffffff)
    throw new VpnError('ERR_ARG', `ESP SPI ${spi} out of range`);
  const groups = new Set(specs.map((s) => s.pfsGroup));
  if (groups.size > 1)
    throw new VpnError(
      'ERR_ARG',
      'Quick Mode has one KE payload: all transforms need one PFS group',
    );
  for (const s of specs) {
    if (ESP_TO_ENCR[s.transformId] === undefined)
      throw new VpnError('ERR_ARG', `ESP transform ${s.transformId} is not AES-GCM`);
    checkU16(s.keyBits, 'key length');
    if (s.pfsGroup !== undefined) checkU16(s.pfsGroup, 'group');
    checkLives(s);
  }
  const spiBytes = new Uint8Array(4);
  new DataView(spiBytes.buffer).setUint32(0, spi);
  return encodeSaBody({
    proposals: [
      {
        num: 1,
        protocol: V1Protocol.IPSEC_ESP,
        spi: spiBytes,
        transforms: specs.map((s, i) => ({
          num: i + 1,
          id: s.transformId,
          attributes: phase2Attributes(s, encapsulation),
        })),
      },
    ],
  });
}

/**
 * The gateway's Quick Mode answer: one ESP proposal with its 4-octet SPI and one transform equal
 * to one we offered (transform ID, key length, PFS group), in the encapsulation mode we asked for,
 * with no attribute we did not offer (an Authentication Algorithm beside AES-GCM, ESN ...). A
 * lower lifetime, or a byte lifetime where we offered none, is accepted and returned.
 * @throws VpnError ERR_IKE_NO_PROPOSAL with the reason (ERR_IKE_PROTOCOL if malformed).
 */
export function decodePhase2Choice(
  body: Uint8Array,
  offered: V1Phase2Spec[],
  encapsulation: number,
): { spec: V1Phase2Spec; spi: number } {
  const phase = 'Quick Mode';
  const p = decodeChoice(body, V1Protocol.IPSEC_ESP, phase);
  if (p.spi.length !== 4)
    throw noProposal(`${phase}: gateway's ESP SPI has ${p.spi.length} octets, expected 4`);
  const spi = new DataView(p.spi.buffer, p.spi.byteOffset, 4).getUint32(0);
  // RFC 4303 §2.1: SPIs 1..255 are reserved, 0 is never sent.
  if (spi < 256) throw noProposal(`${phase}: gateway chose the reserved ESP SPI ${spi}`);
  const t = p.transforms[0]!;
  const { values, lives } = readAttributes(
    t,
    Phase2Attr.SA_LIFE_TYPE,
    Phase2Attr.SA_LIFE_DURATION,
    phase,
  );
  for (const type of values.keys()) {
    if (type === Phase2Attr.AUTH_ALGORITHM)
      throw noProposal(
        `${phase}: gateway chose authentication algorithm ${values.get(type)!}; we offered AES-GCM only`,
      );
    if (
      type !== Phase2Attr.KEY_LENGTH &&
      type !== Phase2Attr.GROUP_DESCRIPTION &&
      type !== Phase2Attr.ENCAPSULATION_MODE
    )
      throw noProposal(`${phase}: gateway added attribute ${type} that we did not offer`);
  }
  const keyBits = values.get(Phase2Attr.KEY_LENGTH);
  const group = values.get(Phase2Attr.GROUP_DESCRIPTION);
  const mode = values.get(Phase2Attr.ENCAPSULATION_MODE);
  if (mode !== encapsulation)
    throw noProposal(
      `${phase}: gateway chose encapsulation mode ${mode ?? 'none'}, we asked for ${encapsulation}`,
    );
  const candidates = offered.filter(
    (s) => s.transformId === t.id && s.keyBits === keyBits && s.pfsGroup === group,
  );
  if (candidates.length === 0) {
    const what =
      ESP_TO_ENCR[t.id] !== undefined && keyBits !== undefined
        ? formatPhase2Spec({
            transformId: t.id,
            keyBits,
            encrId: 0,
            lifeSeconds: 0,
            ...(group === undefined ? {} : { pfsGroup: group }),
          })
        : `ESP transform ${t.id}${keyBits === undefined ? '' : `/${keyBits}`}${group === undefined ? '' : ` group ${group}`}`;
    throw noProposal(`${phase}: gateway chose ${what}, which we did not offer`);
  }
  const spec = candidates.find((s) => offered.indexOf(s) === t.num - 1) ?? candidates[0]!;
  return { spec: chosenLife(spec, lives, phase), spi };
}

// ---------------------------------------------------------------------------------------------
// RESPONDER-LIFETIME (RFC 2407 §4.6.3.1)

/** RFC 2407 §4.6.3: the IPsec DOI status notification RESPONDER-LIFETIME. */
export const RESPONDER_LIFETIME = 24576;

/**
 * The lifetimes in a RESPONDER-LIFETIME notification's data (RFC 2407 §4.6.3.1: a list of life
 * type / life duration attributes; the Phase 1 classes 11/12 for the ISAKMP SA, the IPsec ones
 * 1/2 for a Quick Mode SA). A responder may only shorten what we offered (RFC 2409 §4.5), so the
 * result is the shorter of `offeredSeconds` and what it says; kilobyte lifetimes are reported
 * for the caller to log (our data plane rekeys by time).
 * @throws VpnError ERR_IKE_PROTOCOL when the data is malformed.
 */
export function decodeResponderLifetime(
  data: Uint8Array,
  phase: 1 | 2,
  offeredSeconds: number,
): { lifeSeconds: number; kilobytes?: number } {
  const lifeType = phase === 1 ? Phase1Attr.LIFE_TYPE : Phase2Attr.SA_LIFE_TYPE;
  const lifeDuration = phase === 1 ? Phase1Attr.LIFE_DURATION : Phase2Attr.SA_LIFE_DURATION;
  const what = 'RESPONDER-LIFETIME';
  let attrs: V1DataAttribute[];
  try {
    attrs = readDataAttributes(new Reader(data), what);
  } catch (e) {
    if (isVpnError(e) && e.code === 'ERR_IKE_PROTOCOL') throw e;
    throw protocolError(`malformed ${what}: ${e instanceof Error ? e.message : String(e)}`, e);
  }
  let pending: number | undefined;
  let seconds: number | undefined;
  let kilobytes: number | undefined;
  for (const a of attrs) {
    const v = attrNumber(a);
    if (v === undefined) throw protocolError(`${what}: attribute ${a.type} has an unusable value`);
    if (a.type === lifeType) {
      if (pending !== undefined || (v !== V1LifeType.SECONDS && v !== V1LifeType.KILOBYTES))
        throw protocolError(`${what}: unexpected life type ${v}`);
      pending = v;
    } else if (a.type === lifeDuration) {
      if (pending === undefined) throw protocolError(`${what}: a duration without a life type`);
      if (v === 0) throw protocolError(`${what}: a lifetime of 0`);
      if (pending === V1LifeType.SECONDS) seconds = Math.min(seconds ?? v, v);
      else kilobytes = Math.min(kilobytes ?? v, v);
      pending = undefined;
    }
    // Other attributes (an ESP transform's others, echoed by some peers) carry no lifetime.
  }
  if (pending !== undefined) throw protocolError(`${what}: a life type without its duration`);
  const out: { lifeSeconds: number; kilobytes?: number } = {
    lifeSeconds: Math.min(offeredSeconds, seconds ?? offeredSeconds),
  };
  if (kilobytes !== undefined) out.kilobytes = kilobytes;
  return out;
}
