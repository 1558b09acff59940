/**
 * IKEv1 proposal strings in strongSwan's syntax (`aes256-sha256-modp2048`, `aes256gcm16-modp2048`)
 * → Phase 1 / Phase 2 specs, and back.
 */
import { VpnError } from '../../core/errors.js';
import { DhGroup } from '../../ike/constants.js';
import { parseProposals } from '../../ike/sa/proposals.js';
import {
  DEFAULT_V1_PHASE1_LIFE_SECONDS,
  DEFAULT_V1_PHASE2_LIFE_SECONDS,
  ESP_TO_ENCR,
  SA_LIMITS,
  V1Encr,
  V1Hash,
} from './constants.js';
import type { V1Phase1Spec, V1Phase2Spec } from './constants.js';

// ---------------------------------------------------------------------------------------------
// Proposal strings (strongSwan IKEv1 syntax)

const P1_ENCR: Record<string, { encr: number; keyBits?: number; legacy?: boolean }> = {
  aes: { encr: V1Encr.AES_CBC, keyBits: 128 },
  aes128: { encr: V1Encr.AES_CBC, keyBits: 128 },
  aes192: { encr: V1Encr.AES_CBC, keyBits: 192 },
  aes256: { encr: V1Encr.AES_CBC, keyBits: 256 },
  '3des': { encr: V1Encr['3DES_CBC'], legacy: true },
};

const P1_HASH: Record<string, number> = {
  sha1: V1Hash.SHA1,
  sha: V1Hash.SHA1,
  sha256: V1Hash.SHA2_256,
  sha2_256: V1Hash.SHA2_256,
  sha384: V1Hash.SHA2_384,
  sha2_384: V1Hash.SHA2_384,
  sha512: V1Hash.SHA2_512,
  sha2_512: V1Hash.SHA2_512,
};

/** Group Description values: RFC 2409 App. A / RFC 3526 (MODP), RFC 5903 (ECP), RFC 8031 IDs. */
const P1_GROUP: Record<string, { group: number; legacy?: boolean }> = {
  modp1024: { group: DhGroup.MODP_1024, legacy: true },
  modp2048: { group: DhGroup.MODP_2048 },
  modp3072: { group: DhGroup.MODP_3072 },
  modp4096: { group: DhGroup.MODP_4096 },
  modp6144: { group: DhGroup.MODP_6144 },
  modp8192: { group: DhGroup.MODP_8192 },
  ecp256: { group: DhGroup.ECP_256 },
  ecp384: { group: DhGroup.ECP_384 },
  ecp521: { group: DhGroup.ECP_521 },
  x25519: { group: DhGroup.CURVE25519 },
  curve25519: { group: DhGroup.CURVE25519 },
  x448: { group: DhGroup.CURVE448 },
  curve448: { group: DhGroup.CURVE448 },
};

/** Groups a Phase 1 or PFS offer may name (the ones our key exchange code implements). */
const KNOWN_GROUPS = new Set(Object.values(P1_GROUP).map((g) => g.group));

/** Tokens we know but refuse in IKEv1, with the reason. */
const REFUSED: Record<string, string> = {
  md5: 'MD5 is broken and not supported',
  des: 'single DES is broken and not supported',
  modp768: 'MODP-768 is broken and not supported',
  modp1536: 'MODP-1536 is not supported',
};

function configError(msg: string): VpnError {
  return new VpnError('ERR_CONFIG', msg);
}

function checkLife(life: number | undefined, def: number): number {
  const v = life ?? def;
  if (!Number.isInteger(v) || v < 1 || v > 0xffffffff)
    throw configError(`IKEv1 lifetime ${v} s is out of range (1..4294967295)`);
  return v;
}

/**
 * Is this Phase 1 transform one that only `--ikev1-legacy` allows (3DES-CBC, MODP-1024)?
 * The CLI prints a warning when one is offered.
 */
export function isLegacyPhase1(spec: V1Phase1Spec): boolean {
  return spec.encr === V1Encr['3DES_CBC'] || spec.group === DhGroup.MODP_1024;
}

/**
 * Parses Phase 1 proposals in strongSwan's IKEv1 syntax: comma-separated proposals, each a
 * `-`-joined list of ciphers, hashes and groups (`aes256-sha256-modp2048`). IKEv1 transforms
 * carry one algorithm of each kind (RFC 2409 Appendix A), so each proposal expands to every
 * combination, in the order written (cipher, then hash, then group). The PRF is the HMAC of the
 * hash (RFC 2409 §5): prf tokens are refused. 3DES and MODP-1024 need `legacy`.
 * @throws VpnError ERR_CONFIG naming the offending token.
 */
export function parseV1Phase1Proposals(
  text: string,
  opts: { legacy: boolean; lifeSeconds?: number },
): V1Phase1Spec[] {
  const lifeSeconds = checkLife(opts.lifeSeconds, DEFAULT_V1_PHASE1_LIFE_SECONDS);
  const out: V1Phase1Spec[] = [];
  for (const raw of text.split(',')) {
    const p = raw.trim().toLowerCase();
    if (p === '') throw configError(`empty IKEv1 proposal in "${text}"`);
    const encrs: { encr: number; keyBits?: number }[] = [];
    const hashes: number[] = [];
    const groups: number[] = [];
    for (const tok of p.split('-')) {
      const e = P1_ENCR[tok];
      const h = P1_HASH[tok];
      const g = P1_GROUP[tok];
      if (e) {
        if (e.legacy && !opts.legacy)
          throw configError(`"${tok}" in IKEv1 proposal "${p}" is legacy: it needs --ikev1-legacy`);
        encrs.push(
          e.keyBits === undefined ? { encr: e.encr } : { encr: e.encr, keyBits: e.keyBits },
        );
      } else if (h !== undefined) {
        hashes.push(h);
      } else if (g) {
        if (g.legacy && !opts.legacy)
          throw configError(`"${tok}" in IKEv1 proposal "${p}" is legacy: it needs --ikev1-legacy`);
        groups.push(g.group);
      } else if (REFUSED[tok]) {
        throw configError(`"${tok}" in IKEv1 proposal "${p}": ${REFUSED[tok]}`);
      } else if (tok.startsWith('prf')) {
        throw configError(
          `"${tok}" in IKEv1 proposal "${p}": IKEv1 uses the HMAC of the hash as its PRF (RFC 2409 §5); drop the prf token`,
        );
      } else if (/gcm|ccm|chacha/.test(tok)) {
        throw configError(`"${tok}" in IKEv1 proposal "${p}": IKEv1 Phase 1 has no AEAD ciphers`);
      } else {
        throw configError(`unknown algorithm "${tok}" in IKEv1 proposal "${p}"`);
      }
    }
    if (encrs.length === 0) throw configError(`IKEv1 proposal "${p}" has no cipher (e.g. aes256)`);
    if (hashes.length === 0) throw configError(`IKEv1 proposal "${p}" has no hash (e.g. sha256)`);
    if (groups.length === 0)
      throw configError(`IKEv1 proposal "${p}" has no Diffie-Hellman group (e.g. modp2048)`);
    for (const e of encrs)
      for (const hash of hashes)
        for (const group of groups) {
          const s: V1Phase1Spec = { encr: e.encr, hash, group, lifeSeconds };
          if (e.keyBits !== undefined) s.keyBits = e.keyBits;
          if (!out.some((o) => samePhase1(o, s))) out.push(s);
        }
  }
  if (out.length > SA_LIMITS.maxOfferedTransforms)
    throw configError(
      `IKEv1 proposals "${text}" expand to ${out.length} transforms, more than ${SA_LIMITS.maxOfferedTransforms}`,
    );
  return out;
}

/**
 * Parses Phase 2 (ESP) proposals: AES-GCM only (`aes256gcm16`, `aes128gcm16-modp2048` with PFS),
 * with the IKEv2 parser's tokens. IKEv1 sends a single KE payload in Quick Mode (RFC 2409 §5.5),
 * so all proposals share one PFS group: the one named in the text, else `opts.pfsGroup`.
 * @throws VpnError ERR_CONFIG naming the problem.
 */
export function parseV1Phase2Proposals(
  text: string,
  opts: { pfsGroup?: number; lifeSeconds?: number },
): V1Phase2Spec[] {
  const lifeSeconds = checkLife(opts.lifeSeconds, DEFAULT_V1_PHASE2_LIFE_SECONDS);
  const specs = parseProposals(text, 'esp');
  const groups = new Set<number>();
  for (const s of specs) for (const d of s.dh) if (d.id !== DhGroup.NONE) groups.add(d.id);
  if (groups.size > 1)
    throw configError(
      `IKEv1 ESP proposals "${text}" name ${groups.size} PFS groups; Quick Mode carries one KE payload, so name one`,
    );
  const named = [...groups][0];
  if (named !== undefined && opts.pfsGroup !== undefined && opts.pfsGroup !== named)
    throw configError(
      `IKEv1 ESP proposals "${text}" name PFS group ${named}, but group ${opts.pfsGroup} was asked for too: name one`,
    );
  let pfsGroup: number | undefined = named ?? opts.pfsGroup;
  if (pfsGroup === DhGroup.NONE) pfsGroup = undefined;
  if (pfsGroup !== undefined && !KNOWN_GROUPS.has(pfsGroup))
    throw configError(`PFS group ${pfsGroup} is not supported with IKEv1`);
  const out: V1Phase2Spec[] = [];
  for (const s of specs) {
    if (s.addKe) throw configError(`IKEv1 ESP proposal "${text}": no additional key exchanges`);
    if (s.integ.length > 0)
      throw configError(
        `IKEv1 ESP proposal "${text}": only AES-GCM is supported (the data plane is AEAD only)`,
      );
    if (s.esn.some((e) => e.id !== 0))
      throw configError(`IKEv1 ESP proposal "${text}": extended sequence numbers not supported`);
    for (const e of s.encr) {
      const transformId = Object.entries(ESP_TO_ENCR).find(([, v]) => v === e.id)?.[0];
      if (transformId === undefined || e.keyBits === undefined)
        throw configError(
          `IKEv1 ESP proposal "${text}": only AES-GCM (aes128gcm16, aes256gcm16, ...) is supported`,
        );
      const spec: V1Phase2Spec = {
        transformId: Number(transformId),
        keyBits: e.keyBits,
        encrId: e.id,
        lifeSeconds,
      };
      if (pfsGroup !== undefined) spec.pfsGroup = pfsGroup;
      if (!out.some((o) => samePhase2(o, spec))) out.push(spec);
    }
  }
  if (out.length > SA_LIMITS.maxOfferedTransforms)
    throw configError(`IKEv1 ESP proposals "${text}" expand to too many transforms`);
  return out;
}

const ENCR_NAME: Record<number, string> = { [V1Encr.AES_CBC]: 'aes', [V1Encr['3DES_CBC']]: '3des' };
const HASH_NAME: Record<number, string> = {
  [V1Hash.SHA1]: 'sha1',
  [V1Hash.SHA2_256]: 'sha256',
  [V1Hash.SHA2_384]: 'sha384',
  [V1Hash.SHA2_512]: 'sha512',
};
const GROUP_NAME: Record<number, string> = Object.fromEntries(
  Object.entries(P1_GROUP)
    .filter(([k]) => !k.startsWith('curve'))
    .map(([k, v]) => [v.group, k]),
);

/** `aes256-sha256-modp2048` for a Phase 1 spec (status, summaries, errors). */
export function formatPhase1Spec(s: V1Phase1Spec): string {
  const e = ENCR_NAME[s.encr] ?? `encr${s.encr}`;
  const bits = s.encr === V1Encr.AES_CBC ? String(s.keyBits ?? 128) : '';
  return `${e}${bits}-${HASH_NAME[s.hash] ?? `hash${s.hash}`}-${GROUP_NAME[s.group] ?? `group${s.group}`}`;
}

/** `aes256gcm16-modp2048` for a Phase 2 spec. */
export function formatPhase2Spec(s: V1Phase2Spec): string {
  const icv = { 18: 8, 19: 12, 20: 16 }[s.transformId];
  const e = icv ? `aes${s.keyBits}gcm${icv}` : `esp${s.transformId}`;
  return s.pfsGroup === undefined ? e : `${e}-${GROUP_NAME[s.pfsGroup] ?? `group${s.pfsGroup}`}`;
}

function samePhase1(a: V1Phase1Spec, b: V1Phase1Spec): boolean {
  return a.encr === b.encr && a.keyBits === b.keyBits && a.hash === b.hash && a.group === b.group;
}

function samePhase2(a: V1Phase2Spec, b: V1Phase2Spec): boolean {
  return a.transformId === b.transformId && a.keyBits === b.keyBits && a.pfsGroup === b.pfsGroup;
}
