/**
 * Proposals: parsing the strongSwan-style proposal strings administrators already know
 * (`aes256gcm16-prfsha256-x25519`), building our SA payload offers, and validating the
 * responder's choice (RFC 7296 §2.7, §3.3).
 */
import { VpnError } from '../../core/errors.js';
import {
  DhGroup,
  EncrId,
  EsnId,
  IntegId,
  PrfId,
  ProtocolId,
  TransformAttr,
  TransformType,
} from '../constants.js';
import type { Proposal, Transform } from '../codec/index.js';

/** One algorithm of a proposal, by transform type. `keyBits` only for variable-key ciphers. */
export interface Algorithm {
  type: number;
  id: number;
  keyBits?: number;
}

/** A parsed proposal: lists of algorithms per transform type, in preference order. */
export interface ProposalSpec {
  encr: Algorithm[];
  integ: Algorithm[];
  prf: Algorithm[];
  dh: Algorithm[];
  esn: Algorithm[];
  /**
   * RFC 9370 §2.2.1: Additional Key Exchange 1..7 (transform types 6..12), index 0 = ADDKE1;
   * an entry may include NONE (id 0), which makes that exchange optional. Absent: none.
   */
  addKe?: Algorithm[][];
}

/** RFC 9370 §2.2.1: transform types ADDKE1 (6) .. ADDKE7 (12). */
export const ADDKE_FIRST = TransformType.ADDKE1;
export const ADDKE_LAST = TransformType.ADDKE7;

export function isAddKeType(type: number): boolean {
  return type >= ADDKE_FIRST && type <= ADDKE_LAST;
}

interface Token {
  type: number;
  id: number;
  keyBits?: number;
  aead?: boolean;
}

const ENCR_TOKENS: Record<string, Token> = {};
for (const bits of [128, 192, 256]) {
  ENCR_TOKENS[`aes${bits}`] = { type: TransformType.ENCR, id: EncrId.AES_CBC, keyBits: bits };
  ENCR_TOKENS[`aes${bits}gcm16`] = {
    type: TransformType.ENCR,
    id: EncrId.AES_GCM_16,
    keyBits: bits,
    aead: true,
  };
  ENCR_TOKENS[`aes${bits}gcm128`] = ENCR_TOKENS[`aes${bits}gcm16`]!;
  ENCR_TOKENS[`aes${bits}gcm12`] = {
    type: TransformType.ENCR,
    id: EncrId.AES_GCM_12,
    keyBits: bits,
    aead: true,
  };
  ENCR_TOKENS[`aes${bits}gcm96`] = ENCR_TOKENS[`aes${bits}gcm12`]!;
  ENCR_TOKENS[`aes${bits}gcm8`] = {
    type: TransformType.ENCR,
    id: EncrId.AES_GCM_8,
    keyBits: bits,
    aead: true,
  };
  ENCR_TOKENS[`aes${bits}gcm64`] = ENCR_TOKENS[`aes${bits}gcm8`]!;
}
ENCR_TOKENS['aes'] = ENCR_TOKENS['aes128']!;
ENCR_TOKENS['aesgcm16'] = ENCR_TOKENS['aes128gcm16']!;
ENCR_TOKENS['chacha20poly1305'] = {
  type: TransformType.ENCR,
  id: EncrId.CHACHA20_POLY1305,
  aead: true,
};

const INTEG_TOKENS: Record<string, number> = {
  sha1: IntegId.HMAC_SHA1_96,
  sha256: IntegId.HMAC_SHA2_256_128,
  sha2_256: IntegId.HMAC_SHA2_256_128,
  sha384: IntegId.HMAC_SHA2_384_192,
  sha2_384: IntegId.HMAC_SHA2_384_192,
  sha512: IntegId.HMAC_SHA2_512_256,
  sha2_512: IntegId.HMAC_SHA2_512_256,
};

const PRF_TOKENS: Record<string, number> = {
  prfsha1: PrfId.HMAC_SHA1,
  prfsha256: PrfId.HMAC_SHA2_256,
  prfsha384: PrfId.HMAC_SHA2_384,
  prfsha512: PrfId.HMAC_SHA2_512,
};

const DH_TOKENS: Record<string, number> = {
  modp2048: DhGroup.MODP_2048,
  modp3072: DhGroup.MODP_3072,
  modp4096: DhGroup.MODP_4096,
  ecp256: DhGroup.ECP_256,
  ecp384: DhGroup.ECP_384,
  ecp521: DhGroup.ECP_521,
  x25519: DhGroup.CURVE25519,
  curve25519: DhGroup.CURVE25519,
  x448: DhGroup.CURVE448,
  curve448: DhGroup.CURVE448,
  // draft-ietf-ipsecme-ikev2-mlkem (strongSwan 6 names them the same way)
  mlkem512: DhGroup.ML_KEM_512,
  mlkem768: DhGroup.ML_KEM_768,
  mlkem1024: DhGroup.ML_KEM_1024,
};

/** Printable names of key exchange methods, for summaries and status ("x25519 + ML-KEM-768"). */
const KE_NAMES: Record<number, string> = {
  [DhGroup.MODP_2048]: 'modp2048',
  [DhGroup.MODP_3072]: 'modp3072',
  [DhGroup.MODP_4096]: 'modp4096',
  [DhGroup.ECP_256]: 'ecp256',
  [DhGroup.ECP_384]: 'ecp384',
  [DhGroup.ECP_521]: 'ecp521',
  [DhGroup.CURVE25519]: 'x25519',
  [DhGroup.CURVE448]: 'x448',
  [DhGroup.ML_KEM_512]: 'ML-KEM-512',
  [DhGroup.ML_KEM_768]: 'ML-KEM-768',
  [DhGroup.ML_KEM_1024]: 'ML-KEM-1024',
};

/** Is this key exchange method post-quantum (ML-KEM, draft-ietf-ipsecme-ikev2-mlkem)? */
export function isPostQuantumKe(id: number): boolean {
  return id === DhGroup.ML_KEM_512 || id === DhGroup.ML_KEM_768 || id === DhGroup.ML_KEM_1024;
}

/** The key exchange methods a chosen proposal runs, in order: the DH group, then ADDKE1..7. */
export function keyExchangesOf(c: ChosenProposal): number[] {
  return [...(c.dh && c.dh.id !== 0 ? [c.dh.id] : []), ...(c.addKe ?? []).map((a) => a.id)];
}

/** "x25519 + ML-KEM-768" for a chosen proposal's key exchanges (empty when it has none). */
export function describeKeyExchanges(c: ChosenProposal): string {
  return keyExchangesOf(c)
    .map((id) => KE_NAMES[id] ?? `ke${id}`)
    .join(' + ');
}

/** Does any key exchange of a chosen proposal resist a quantum computer (ML-KEM)? */
export function isPostQuantum(c: ChosenProposal): boolean {
  return keyExchangesOf(c).some(isPostQuantumKe);
}

/**
 * The key exchanges named by a chosen proposal in strongSwan syntax (as formatChosen writes it):
 * "x25519 + ML-KEM-768", and whether one of them is post-quantum. Unparsable text: empty, false.
 */
export function keyExchangesOfText(proposal: string): {
  keyExchanges: string;
  postQuantum: boolean;
} {
  try {
    const [spec] = parseProposals(proposal, 'ike');
    const c: ChosenProposal = {
      num: 1,
      protocol: ProtocolId.IKE,
      spi: new Uint8Array(0),
      encr: spec!.encr[0]!,
      ...(spec!.dh[0] ? { dh: spec!.dh[0] } : {}),
      ...(spec!.addKe ? { addKe: spec!.addKe.map((l) => l[0]!).filter((a) => a.id !== 0) } : {}),
    };
    return { keyExchanges: describeKeyExchanges(c), postQuantum: isPostQuantum(c) };
  } catch {
    return { keyExchanges: '', postQuantum: false };
  }
}

export type PqMode = 'required' | 'preferred' | 'off';

/** A proposal with ML-KEM added as its next additional key exchange (RFC 9370), if it has none. */
function withMlKem(s: ProposalSpec): ProposalSpec {
  if (s.dh.some((a) => isPostQuantumKe(a.id))) return s;
  if ((s.addKe ?? []).some((l) => l.some((a) => isPostQuantumKe(a.id)))) return s;
  const addKe = (s.addKe ?? []).map((l) => [...l]);
  if (addKe.length >= 7) return s;
  const type = ADDKE_FIRST + addKe.length;
  addKe.push(
    [DhGroup.ML_KEM_768, DhGroup.ML_KEM_1024, DhGroup.ML_KEM_512].map((id) => ({ type, id })),
  );
  return { ...s, addKe };
}

/**
 * `--pq` over the IKE proposals (draft-ietf-ipsecme-ikev2-mlkem with RFC 9370): `off` leaves them
 * as they are; `preferred` offers each one first with ML-KEM-768/1024/512 as an additional key
 * exchange (`-ke1_mlkem768-ke1_mlkem1024-ke1_mlkem512`) and then as it is, so a gateway without
 * ML-KEM picks the classic one; `required` offers only post-quantum proposals (those that have
 * ML-KEM, or each one with it added), and the session refuses a classic choice.
 */
export function applyPqMode(specs: ProposalSpec[], mode: PqMode): ProposalSpec[] {
  if (mode === 'off') return specs;
  const pq = specs.map(withMlKem);
  if (mode === 'required') return pq.filter((s, i) => pq.indexOf(s) === i);
  const out: ProposalSpec[] = [];
  for (const s of [...pq, ...specs]) if (!out.includes(s)) out.push(s);
  return out;
}

/** Does any of these proposals offer a post-quantum key exchange? */
export function offersPostQuantum(specs: ProposalSpec[]): boolean {
  return specs.some(
    (s) =>
      s.dh.some((a) => isPostQuantumKe(a.id)) ||
      (s.addKe ?? []).some((l) => l.some((a) => isPostQuantumKe(a.id))),
  );
}

/** Integrity algorithm implied by a PRF (strongSwan derives the PRF from integ the same way). */
const PRF_FOR_INTEG: Record<number, number> = {
  [IntegId.HMAC_SHA1_96]: PrfId.HMAC_SHA1,
  [IntegId.HMAC_SHA2_256_128]: PrfId.HMAC_SHA2_256,
  [IntegId.HMAC_SHA2_384_192]: PrfId.HMAC_SHA2_384,
  [IntegId.HMAC_SHA2_512_256]: PrfId.HMAC_SHA2_512,
};

export type ProposalKind = 'ike' | 'esp';

export const DEFAULT_IKE_PROPOSALS =
  'aes256gcm16-aes128gcm16-chacha20poly1305-prfsha256-prfsha384-x25519-ecp256-ecp384-modp2048';
export const DEFAULT_ESP_PROPOSALS = 'aes256gcm16-aes128gcm16-chacha20poly1305';

/**
 * Parses a comma-separated list of proposals, each a `-`-joined list of algorithm tokens in the
 * strongSwan syntax. IKE proposals need encryption, a PRF (derived from integrity when absent) and
 * a DH group; AEAD and non-AEAD ciphers cannot share one proposal (RFC 5282 §8).
 * @throws VpnError ERR_CONFIG naming the offending token.
 */
export function parseProposals(text: string, kind: ProposalKind): ProposalSpec[] {
  const specs: ProposalSpec[] = [];
  for (const raw of text.split(',')) {
    const p = raw.trim().toLowerCase();
    if (p === '') throw configError(`empty ${kind} proposal in "${text}"`);
    const spec: ProposalSpec = { encr: [], integ: [], prf: [], dh: [], esn: [] };
    let aead: boolean | undefined;
    for (const tok of p.split('-')) {
      const e = ENCR_TOKENS[tok];
      if (e) {
        const isAead = e.aead === true;
        if (aead !== undefined && aead !== isAead) {
          throw configError(`proposal "${p}" mixes AEAD and non-AEAD ciphers (RFC 5282 §8)`);
        }
        aead = isAead;
        spec.encr.push(
          e.keyBits === undefined
            ? { type: e.type, id: e.id }
            : { type: e.type, id: e.id, keyBits: e.keyBits },
        );
        continue;
      }
      const integ = INTEG_TOKENS[tok];
      if (integ !== undefined) {
        spec.integ.push({ type: TransformType.INTEG, id: integ });
        continue;
      }
      const prf = PRF_TOKENS[tok];
      if (prf !== undefined) {
        spec.prf.push({ type: TransformType.PRF, id: prf });
        continue;
      }
      const dh = DH_TOKENS[tok];
      if (dh !== undefined) {
        spec.dh.push({ type: TransformType.DH, id: dh });
        continue;
      }
      // RFC 9370 §2.2.1, strongSwan syntax: ke1_mlkem768 ... ke7_<method>, ke<n>_none.
      const addKe = /^ke([1-7])_([a-z0-9]+)$/.exec(tok);
      if (addKe) {
        const n = Number(addKe[1]);
        const id = addKe[2] === 'none' ? 0 : DH_TOKENS[addKe[2]!];
        if (id === undefined)
          throw configError(
            `unknown key exchange method "${addKe[2]}" in "${tok}" (${kind} proposal "${p}")`,
          );
        spec.addKe ??= [];
        for (let i = spec.addKe.length; i < n; i++) spec.addKe.push([]);
        spec.addKe[n - 1]!.push({ type: ADDKE_FIRST + n - 1, id });
        continue;
      }
      if (tok === 'esn' || tok === 'noesn') {
        if (kind === 'ike') throw configError(`"${tok}" is not valid in an IKE proposal`);
        spec.esn.push({ type: TransformType.ESN, id: tok === 'esn' ? EsnId.YES : EsnId.NO });
        continue;
      }
      throw configError(`unknown algorithm "${tok}" in ${kind} proposal "${p}"`);
    }
    if (spec.encr.length === 0)
      throw configError(`${kind} proposal "${p}" has no encryption algorithm`);
    if (spec.addKe) {
      const gap = spec.addKe.findIndex((l) => l.length === 0);
      if (gap >= 0)
        throw configError(
          `proposal "${p}" names ke${spec.addKe.length}_ but no ke${gap + 1}_ (RFC 9370 §2.2.1: they run in order)`,
        );
    }
    if (aead === true && spec.integ.length > 0) {
      throw configError(`proposal "${p}": AEAD ciphers take no integrity algorithm`);
    }
    if (aead === false && spec.integ.length === 0) {
      throw configError(`proposal "${p}": a non-AEAD cipher needs an integrity algorithm`);
    }
    if (kind === 'ike') {
      if (spec.prf.length === 0) {
        for (const i of spec.integ) {
          const prfId = PRF_FOR_INTEG[i.id];
          if (prfId !== undefined && !spec.prf.some((x) => x.id === prfId)) {
            spec.prf.push({ type: TransformType.PRF, id: prfId });
          }
        }
      }
      if (spec.prf.length === 0)
        throw configError(`IKE proposal "${p}" has no PRF (add e.g. prfsha256)`);
      if (spec.dh.length === 0)
        throw configError(`IKE proposal "${p}" has no key exchange group (add e.g. x25519)`);
      if (spec.dh.some((d) => d.id === 0))
        throw configError(`IKE proposal "${p}": IKE_SA_INIT needs a key exchange, not none`);
    } else {
      if (spec.prf.length > 0) throw configError(`ESP proposal "${p}" cannot contain a PRF`);
      if (spec.addKe && spec.dh.length === 0)
        throw configError(
          `ESP proposal "${p}": additional key exchanges need a first one (e.g. x25519-ke1_mlkem768, RFC 9370 §2.2.4)`,
        );
      if (spec.esn.length === 0) spec.esn.push({ type: TransformType.ESN, id: EsnId.NO });
    }
    specs.push(spec);
  }
  return specs;
}

function configError(msg: string): VpnError {
  return new VpnError('ERR_CONFIG', msg);
}

function toTransform(a: Algorithm): Transform {
  return {
    type: a.type,
    id: a.id,
    attributes:
      a.keyBits === undefined ? [] : [{ type: TransformAttr.KEY_LENGTH, value: a.keyBits }],
  };
}

/** Builds SA payload proposals (numbered from 1) for the given protocol and SPI. */
export function buildProposals(
  specs: ProposalSpec[],
  protocol: number,
  spi: Uint8Array,
): Proposal[] {
  return specs.map((s, i) => ({
    num: i + 1,
    protocol,
    spi,
    transforms: [...s.encr, ...s.integ, ...s.prf, ...s.dh, ...(s.addKe ?? []).flat(), ...s.esn].map(
      toTransform,
    ),
  }));
}

/** The single algorithm per type a responder chose. */
export interface ChosenProposal {
  num: number;
  protocol: number;
  spi: Uint8Array;
  encr: Algorithm;
  integ?: Algorithm;
  prf?: Algorithm;
  dh?: Algorithm;
  esn?: Algorithm;
  /** RFC 9370: the additional key exchanges chosen, in order (NONE left out). */
  addKe?: Algorithm[];
}

function keyBitsOf(t: Transform): number | undefined {
  for (const a of t.attributes) {
    if (a.type === TransformAttr.KEY_LENGTH && typeof a.value === 'number') return a.value;
  }
  return undefined;
}

function sameAlg(a: Algorithm, t: Transform): boolean {
  return a.id === t.id && a.keyBits === keyBitsOf(t);
}

/**
 * Validates the responder's SA payload against our offer (RFC 7296 §2.7: exactly one proposal,
 * one transform per type, each one we offered, with the proposal number we used).
 * Returns a description of the problem instead of throwing, so the caller can fail the exchange
 * with a clear message.
 */
export function selectResponderProposal(
  offered: ProposalSpec[],
  received: Proposal[],
  protocol: number,
): ChosenProposal | string {
  if (received.length !== 1) return `responder returned ${received.length} proposals, expected 1`;
  const r = received[0]!;
  if (r.protocol !== protocol)
    return `responder chose protocol ${r.protocol}, expected ${protocol}`;
  const spec = offered[r.num - 1];
  if (!spec) return `responder chose proposal #${r.num}, we offered ${offered.length}`;
  const chosen: Partial<Record<'encr' | 'integ' | 'prf' | 'dh' | 'esn', Algorithm>> = {};
  const lists: Record<number, ['encr' | 'integ' | 'prf' | 'dh' | 'esn', Algorithm[]]> = {
    [TransformType.ENCR]: ['encr', spec.encr],
    [TransformType.INTEG]: ['integ', spec.integ],
    [TransformType.PRF]: ['prf', spec.prf],
    [TransformType.DH]: ['dh', spec.dh],
    [TransformType.ESN]: ['esn', spec.esn],
  };
  const addKe: (Algorithm | undefined)[] = [];
  for (const t of r.transforms) {
    if (isAddKeType(t.type)) {
      // RFC 9370 §2.2.1: one transform of each ADDKE type we offered, possibly NONE.
      const i = t.type - ADDKE_FIRST;
      if (addKe[i]) return `responder chose two ADDKE${i + 1} transforms`;
      const alg = spec.addKe?.[i]?.find((a) => a.id === t.id);
      if (!alg) return `responder chose ADDKE${i + 1} method ${t.id} that we did not offer`;
      addKe[i] = alg;
      continue;
    }
    const entry = lists[t.type];
    if (!entry) return `responder chose unknown transform type ${t.type}`;
    const [key, list] = entry;
    if (chosen[key]) return `responder chose two ${key} transforms`;
    // An integrity transform NONE may be sent with AEAD; accept it when we offered none.
    if (key === 'integ' && t.id === IntegId.NONE && list.length === 0) continue;
    const alg = list.find((a) => sameAlg(a, t));
    if (!alg)
      return `responder chose ${key} ${t.id}${keyBitsOf(t) ? `/${keyBitsOf(t)}` : ''} that we did not offer`;
    chosen[key] = alg;
  }
  if (!chosen.encr) return 'responder chose no encryption algorithm';
  if (spec.integ.length > 0 && !chosen.integ) return 'responder chose no integrity algorithm';
  if (spec.prf.length > 0 && !chosen.prf) return 'responder chose no PRF';
  if (spec.dh.length > 0 && !chosen.dh && protocol === ProtocolId.IKE)
    return 'responder chose no DH group';
  const offeredAddKe = spec.addKe ?? [];
  for (let i = 0; i < offeredAddKe.length; i++) {
    // For ESP in IKE_AUTH the key exchanges are left out (RFC 9370 §2.2.3); a rekey checks its own.
    // An omitted ADDKE type we offered NONE for reads as NONE (a responder without RFC 9370).
    const list = offeredAddKe[i]!;
    if (
      list.length > 0 &&
      !addKe[i] &&
      protocol === ProtocolId.IKE &&
      !list.some((a) => a.id === 0)
    )
      return `responder chose no ADDKE${i + 1} transform`;
  }
  const out: ChosenProposal = { num: r.num, protocol: r.protocol, spi: r.spi, encr: chosen.encr };
  if (chosen.integ) out.integ = chosen.integ;
  if (chosen.prf) out.prf = chosen.prf;
  if (chosen.dh) out.dh = chosen.dh;
  if (chosen.esn) out.esn = chosen.esn;
  const used = addKe.filter((a): a is Algorithm => a !== undefined && a.id !== 0);
  if (used.length > 0) {
    // RFC 9370 §2.2.2: additional key exchanges need a first one to follow.
    if (!out.dh || out.dh.id === 0)
      return 'responder chose additional key exchanges without a first one';
    out.addKe = used;
  }
  return out;
}

const ENCR_NAMES: Record<number, string> = {
  [EncrId.AES_CBC]: 'aes',
  [EncrId.AES_GCM_16]: 'aes%gcm16',
  [EncrId.AES_GCM_12]: 'aes%gcm12',
  [EncrId.AES_GCM_8]: 'aes%gcm8',
  [EncrId.CHACHA20_POLY1305]: 'chacha20poly1305',
};

/** Formats a chosen proposal back into strongSwan syntax, e.g. `aes256gcm16-prfsha256-x25519`. */
export function formatChosen(c: ChosenProposal): string {
  const parts: string[] = [];
  const e = ENCR_NAMES[c.encr.id] ?? `encr${c.encr.id}`;
  parts.push(
    e.includes('%')
      ? e.replace('%', String(c.encr.keyBits ?? ''))
      : `${e}${c.encr.id === EncrId.AES_CBC ? String(c.encr.keyBits ?? '') : ''}`,
  );
  if (c.integ) parts.push(findKey(INTEG_TOKENS, c.integ.id) ?? `integ${c.integ.id}`);
  if (c.prf) parts.push(findKey(PRF_TOKENS, c.prf.id) ?? `prf${c.prf.id}`);
  if (c.dh) parts.push(findKey(DH_TOKENS, c.dh.id) ?? `dh${c.dh.id}`);
  for (const a of c.addKe ?? [])
    parts.push(`ke${a.type - ADDKE_FIRST + 1}_${findKey(DH_TOKENS, a.id) ?? String(a.id)}`);
  return parts.join('-');
}

function findKey(table: Record<string, number>, v: number): string | undefined {
  for (const [k, x] of Object.entries(table)) if (x === v) return k;
  return undefined;
}

/** Formats specs (our offer) for error messages. */
export function formatSpecs(specs: ProposalSpec[]): string {
  return specs
    .map((s) =>
      [...s.encr, ...s.integ, ...s.prf, ...s.dh, ...(s.addKe ?? []).flat()]
        .map((a) => {
          if (isAddKeType(a.type))
            return `ke${a.type - ADDKE_FIRST + 1}_${a.id === 0 ? 'none' : (findKey(DH_TOKENS, a.id) ?? String(a.id))}`;
          const enc = ENCR_NAMES[a.id];
          if (a.type === TransformType.ENCR && enc)
            return enc.includes('%')
              ? enc.replace('%', String(a.keyBits ?? ''))
              : `${enc}${a.id === EncrId.AES_CBC ? String(a.keyBits ?? '') : ''}`;
          if (a.type === TransformType.INTEG) return findKey(INTEG_TOKENS, a.id) ?? String(a.id);
          if (a.type === TransformType.PRF) return findKey(PRF_TOKENS, a.id) ?? String(a.id);
          if (a.type === TransformType.DH) return findKey(DH_TOKENS, a.id) ?? String(a.id);
          return String(a.id);
        })
        .join('-'),
    )
    .join(', ');
}

/** A proposal we picked, as responder, from the peer's offer (RFC 7296 §2.7, §3.3.6). */
export interface ResponderChoice {
  chosen: ChosenProposal;
  /** The single-proposal SA payload content we answer with (SPI filled in by the caller). */
  transforms: Transform[];
}

/**
 * Responder side of negotiation: the first proposal of the peer's offer (its preference order)
 * for which every transform type it contains has a value we accept; one transform per type.
 * `dhGroup`, when given, must be the group chosen (the group of the KE payload sent with it).
 * For ESP, a DH transform (PFS) is accepted when `acceptDh` says we implement the group.
 */
export function chooseFromOffer(
  offered: Proposal[],
  ours: ProposalSpec[],
  protocol: number,
  opts: { dhGroup?: number; acceptDh: (group: number) => boolean },
): ResponderChoice | undefined {
  for (const p of offered) {
    if (p.protocol !== protocol) continue;
    for (const spec of ours) {
      const pick: Partial<Record<'encr' | 'integ' | 'prf' | 'dh' | 'esn', Algorithm>> = {};
      const transforms: Transform[] = [];
      const addKe: Algorithm[] = [];
      let ok = true;
      const types = new Set(p.transforms.map((t) => t.type));
      for (const type of types) {
        if (isAddKeType(type)) {
          // RFC 9370 §2.2.1: our list for this ADDKE type (NONE if we have none and it is offered).
          const ours = spec.addKe?.[type - ADDKE_FIRST] ?? [];
          const f = p.transforms
            .filter((t) => t.type === type)
            .find((t) =>
              t.id === 0
                ? ours.length === 0 || ours.some((a) => a.id === 0)
                : ours.some((a) => a.id === t.id) ||
                  (protocol !== ProtocolId.IKE && ours.length > 0 && opts.acceptDh(t.id)),
            );
          if (!f) {
            ok = false;
            break;
          }
          transforms.push(f);
          if (f.id !== 0) addKe.push({ type, id: f.id });
          continue;
        }
        const cands = p.transforms.filter((t) => t.type === type);
        let found: Transform | undefined;
        let key: 'encr' | 'integ' | 'prf' | 'dh' | 'esn';
        switch (type) {
          case TransformType.ENCR:
            key = 'encr';
            found = cands.find((t) => spec.encr.some((a) => sameAlg(a, t)));
            break;
          case TransformType.INTEG:
            key = 'integ';
            found = cands.find(
              (t) =>
                spec.integ.some((a) => a.id === t.id) ||
                (t.id === IntegId.NONE && spec.integ.length === 0),
            );
            break;
          case TransformType.PRF:
            key = 'prf';
            found = cands.find((t) => spec.prf.some((a) => a.id === t.id));
            break;
          case TransformType.DH:
            key = 'dh';
            found = cands.find((t) =>
              opts.dhGroup !== undefined
                ? t.id === opts.dhGroup &&
                  (spec.dh.some((a) => a.id === t.id) ||
                    (protocol !== ProtocolId.IKE && opts.acceptDh(t.id)))
                : t.id === DhGroup.NONE || spec.dh.some((a) => a.id === t.id),
            );
            break;
          case TransformType.ESN:
            key = 'esn';
            found = cands.find((t) =>
              (spec.esn.length ? spec.esn : [{ type: 5, id: EsnId.NO }]).some((a) => a.id === t.id),
            );
            break;
          default:
            ok = false;
            key = 'encr';
        }
        if (!ok || !found) {
          ok = false;
          break;
        }
        const kb = keyBitsOf(found);
        pick[key] = kb === undefined ? { type, id: found.id } : { type, id: found.id, keyBits: kb };
        transforms.push(found);
      }
      if (!ok || !pick.encr) continue;
      if (protocol === ProtocolId.IKE && (!pick.prf || !pick.dh)) continue;
      if (spec.integ.length > 0 && !pick.integ) continue;
      const chosen: ChosenProposal = { num: p.num, protocol, spi: p.spi, encr: pick.encr };
      if (pick.integ) chosen.integ = pick.integ;
      if (pick.prf) chosen.prf = pick.prf;
      if (pick.dh) chosen.dh = pick.dh;
      if (pick.esn) chosen.esn = pick.esn;
      if (addKe.length > 0) {
        if (!pick.dh || pick.dh.id === 0) continue;
        chosen.addKe = addKe;
      }
      return { chosen, transforms };
    }
  }
  return undefined;
}
