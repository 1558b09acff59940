/**
 * Certification path building and validation (RFC 5280 §6, profiled for IKE by RFC 4945 §5):
 * from an end-entity certificate through the intermediates the peer sent (in any order, unrelated
 * extras ignored) to one of our trust anchors, checking every signature, the validity dates of
 * every certificate on the path (the anchor's too) at the injected time, that every issuer is a CA
 * allowed to sign certificates, pathLen constraints, and that the end-entity key may make
 * signatures. Revocation (CRL/OCSP), name constraints and policies are not processed; a
 * certificate marking such an extension critical is refused (RFC 5280 §4.2).
 *
 * Errors: ERR_CERT_UNTRUSTED when no path reaches an anchor, ERR_CERT_EXPIRED for a date outside a
 * certificate's validity, ERR_CERT for everything else (bad signature, not a CA, key usage, path
 * too long, unsupported critical extension, MD5 signature).
 */
import { VpnError } from '../core/errors.js';
import { sameDistinguishedName } from './names.js';
import { Certificate, EkuOid, WEAK_SIGNATURE_ALGORITHMS, ekuName, keyUsageNames } from './x509.js';

export interface VerifyChainOptions {
  /** The end-entity certificate. */
  leaf: Certificate;
  /** Other certificates the peer sent, in any order; unrelated ones are ignored. */
  intermediates: Certificate[];
  /** Trust anchors (e.g. --ca). */
  anchors: Certificate[];
  /** Time of validation, ms since the epoch. The only clock this module uses. */
  now: number;
  /** Longest accepted path, counting the end-entity and the anchor (default 8). */
  maxDepth?: number;
}

export type ChainResult = { ok: true; path: Certificate[] } | { ok: false; error: VpnError };

export const DEFAULT_MAX_DEPTH = 8;

/** Intermediates considered at most (a peer may send junk); signature checks at most. */
const MAX_INTERMEDIATES = 32;
const MAX_SIGNATURE_CHECKS = 256;
const MAX_CANDIDATE_PATHS = 16;

/**
 * Builds a path leaf → intermediates → anchor and validates it. Returns the path (end-entity
 * first, anchor last; just `[leaf]` when the leaf itself is an anchor).
 */
export function verifyChain(opts: VerifyChainOptions): ChainResult {
  const { leaf, anchors, now } = opts;
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  if (!Number.isFinite(now)) throw new VpnError('ERR_ARG', 'verifyChain: now is not a time');
  if (!Number.isInteger(maxDepth) || maxDepth < 1)
    throw new VpnError('ERR_ARG', 'verifyChain: maxDepth must be a positive integer');

  // The leaf itself is trusted: the same certificate, or the same subject and key.
  if (anchors.some((a) => isSameAnchor(a, leaf))) {
    const err = validatePath([leaf], now, maxDepth, true);
    return err ? { ok: false, error: err } : { ok: true, path: [leaf] };
  }

  // A CA certificate the peer sent along that we also trust is found among the anchors.
  const intermediates = dedupe(
    opts.intermediates.filter((c) => !c.equals(leaf) && !anchors.some((a) => a.equals(c))),
  ).slice(0, MAX_INTERMEDIATES);

  const search = new PathSearch(anchors, intermediates, maxDepth);
  search.extend([leaf]);

  // Shortest first; the first path that validates wins, else the first one's error.
  const paths = search.found.sort((a, b) => a.length - b.length);
  let firstError: VpnError | undefined;
  for (const p of paths) {
    const err = validatePath(p, now, maxDepth, false);
    if (!err) return { ok: true, path: p };
    firstError ??= err;
  }
  if (firstError) return { ok: false, error: firstError };

  const bad = search.badSignature;
  if (bad) {
    return {
      ok: false,
      error: new VpnError(
        'ERR_CERT',
        `the signature of certificate "${bad.cert.describe()}" does not verify with the key of ${bad.anchor ? 'trusted CA' : 'CA certificate'} "${bad.issuer.describe()}" (forged, corrupted, or from another CA of the same name)`,
      ),
    };
  }
  const top = search.deepest[search.deepest.length - 1] ?? leaf;
  const via =
    search.deepest.length > 1
      ? ` (via ${search.deepest
          .slice(1)
          .map((c) => `"${c.describe()}"`)
          .join(', ')})`
      : '';
  return {
    ok: false,
    error: new VpnError(
      'ERR_CERT_UNTRUSTED',
      `certificate ${leaf.describe()} issued by ${leaf.issuer || '(empty name)'} is not trusted: no trust anchor for ${top.issuer || '(empty name)'}${via}; pass --ca`,
    ),
  };
}

function isSameAnchor(anchor: Certificate, c: Certificate): boolean {
  return (
    anchor.equals(c) ||
    (sameDistinguishedName(anchor.subjectDer, c.subjectDer) &&
      bytesEqual(anchor.spkiDer, c.spkiDer))
  );
}

function dedupe(certs: Certificate[]): Certificate[] {
  const out: Certificate[] = [];
  for (const c of certs) if (!out.some((o) => o.equals(c))) out.push(c);
  return out;
}

/** Depth-first search over issuer candidates (name match, then signature), memoizing checks. */
class PathSearch {
  readonly found: Certificate[][] = [];
  /** The longest partial path that reached no anchor. */
  deepest: Certificate[] = [];
  /** An issuer whose name matched but whose key did not verify the signature. */
  badSignature: { cert: Certificate; issuer: Certificate; anchor: boolean } | undefined;
  private checks = 0;
  private readonly memo = new Map<Certificate, Map<Certificate, boolean>>();

  private readonly anchors: Certificate[];
  private readonly intermediates: Certificate[];
  private readonly maxDepth: number;

  constructor(anchors: Certificate[], intermediates: Certificate[], maxDepth: number) {
    this.anchors = anchors;
    this.intermediates = intermediates;
    this.maxDepth = maxDepth;
  }

  private signs(issuer: Certificate, subject: Certificate): boolean {
    let m = this.memo.get(subject);
    if (!m) {
      m = new Map();
      this.memo.set(subject, m);
    }
    const known = m.get(issuer);
    if (known !== undefined) return known;
    this.checks++;
    const ok = subject.signedBy(issuer.publicKey);
    m.set(issuer, ok);
    return ok;
  }

  private budgetLeft(): boolean {
    return this.checks < MAX_SIGNATURE_CHECKS && this.found.length < MAX_CANDIDATE_PATHS;
  }

  extend(path: Certificate[]): void {
    const top = path[path.length - 1]!;
    let reached = false;
    for (const a of this.anchors) {
      if (!this.budgetLeft()) return;
      if (!sameDistinguishedName(top.issuerDer, a.subjectDer)) continue;
      if (this.signs(a, top)) {
        this.found.push([...path, a]);
        reached = true;
      } else {
        this.badSignature ??= { cert: top, issuer: a, anchor: true };
      }
    }
    // One step past maxDepth so that a too-long path is reported as such, not as untrusted.
    if (!reached && path.length <= this.maxDepth) {
      for (const c of this.intermediates) {
        if (!this.budgetLeft()) return;
        if (path.includes(c)) continue;
        if (!sameDistinguishedName(top.issuerDer, c.subjectDer)) continue;
        if (this.signs(c, top)) {
          this.extend([...path, c]);
        } else {
          this.badSignature ??= { cert: top, issuer: c, anchor: false };
        }
      }
    }
    if (!reached && path.length > this.deepest.length) this.deepest = path;
  }
}

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

function role(i: number, n: number, leafIsAnchor: boolean): string {
  if (i === 0) return leafIsAnchor ? 'trusted certificate' : 'certificate';
  return i === n - 1 ? 'trust anchor' : 'intermediate CA certificate';
}

/**
 * Validates a built path (signatures already checked): RFC 5280 §6.1.3–6.1.4 as far as we
 * implement them, RFC 4945 §5.1.3.2 for the end-entity's keyUsage. Returns the first problem.
 */
function validatePath(
  path: Certificate[],
  now: number,
  maxDepth: number,
  leafIsAnchor: boolean,
): VpnError | undefined {
  const n = path.length;
  const leaf = path[0]!;
  if (n > maxDepth) {
    return new VpnError(
      'ERR_CERT',
      `the certificate chain of ${leaf.describe()} has ${n} certificates, more than the limit of ${maxDepth}`,
    );
  }
  const anchorIndex = leafIsAnchor ? 0 : n - 1;

  for (let i = 0; i < n; i++) {
    const c = path[i]!;
    const what = `${role(i, n, leafIsAnchor)} "${c.describe()}"`;
    // Anchors are trusted as configured; everything we verified a signature on is checked.
    if (i !== anchorIndex) {
      if (c.unhandledCriticalExtensions.length > 0) {
        return new VpnError(
          'ERR_CERT',
          `${what} has a critical extension we do not process (${c.unhandledCriticalExtensions.join(', ')}); RFC 5280 §4.2 requires refusing it`,
        );
      }
      if (WEAK_SIGNATURE_ALGORITHMS.has(c.signatureAlgorithm)) {
        return new VpnError(
          'ERR_CERT',
          `${what} is signed with ${c.signatureAlgorithmName}, which is not accepted`,
        );
      }
    }
    if (i >= 1) {
      // RFC 5280 §6.1.4 (k): an issuer must be a CA; (n): if keyUsage is present, keyCertSign.
      // A self-signed X.509 v1 trust anchor (no extensions possible) is accepted as a CA.
      const bc = c.basicConstraints;
      const v1Root = i === anchorIndex && c.version === 1 && c.selfSigned;
      const below = path[i - 1]!;
      if (!(bc?.cA === true || v1Root)) {
        return new VpnError(
          'ERR_CERT',
          `${what} is not a CA certificate (${bc ? 'basicConstraints cA is false' : 'no basicConstraints'}), yet it signed "${below.describe()}"`,
        );
      }
      if (c.keyUsage && !c.keyUsage.keyCertSign) {
        return new VpnError(
          'ERR_CERT',
          `${what} may not sign certificates: its keyUsage (${keyUsageNames(c.keyUsage).join(', ') || 'none'}) lacks keyCertSign, yet it signed "${below.describe()}"`,
        );
      }
      // RFC 5280 §6.1.4 (l)-(m): pathLenConstraint counts the non-self-issued intermediate CA
      // certificates that follow this one on the path (toward the end entity).
      const pathLen = bc?.pathLen;
      if (pathLen !== undefined) {
        const cas = path.slice(1, i).filter((x) => !x.selfIssued).length;
        if (cas > pathLen) {
          return new VpnError(
            'ERR_CERT',
            `${what} allows ${pathLen} intermediate CA certificate${pathLen === 1 ? '' : 's'} below it (pathLen ${pathLen}), but the chain of "${leaf.describe()}" has ${cas}`,
          );
        }
      }
    }
  }

  // RFC 4945 §5.1.3.2: an end-entity keyUsage must allow signatures (digitalSignature, or
  // nonRepudiation as strongSwan and RFC 4945 also accept) for IKE AUTH.
  const ku = leaf.keyUsage;
  if (ku && !ku.digitalSignature && !ku.nonRepudiation) {
    return new VpnError(
      'ERR_CERT',
      `certificate "${leaf.describe()}" may not be used for signatures: its keyUsage (${keyUsageNames(ku).join(', ') || 'none'}) lacks digitalSignature`,
    );
  }

  // RFC 5280 §6.1.3 (a)(2): the time of validation lies within every certificate's validity.
  for (let i = 0; i < n; i++) {
    const c = path[i]!;
    const what = `${role(i, n, leafIsAnchor)} "${c.describe()}"`;
    if (now > c.notAfter) {
      return new VpnError(
        'ERR_CERT_EXPIRED',
        `${what} expired on ${iso(c.notAfter)} (valid from ${iso(c.notBefore)}; it is now ${iso(now)})`,
      );
    }
    if (now < c.notBefore) {
      return new VpnError(
        'ERR_CERT_EXPIRED',
        `${what} is not valid before ${iso(c.notBefore)} (it is now ${iso(now)}; check the clock)`,
      );
    }
  }
  return undefined;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * RFC 5280 §4.2.1.12: when an end-entity certificate has an extendedKeyUsage extension, it may be
 * used only for the purposes listed there (anyExtendedKeyUsage allows every purpose); without the
 * extension it is not restricted. Returns an ERR_CERT error unless one of `accepted` is listed;
 * `use` says what we wanted it for ("an IKE gateway"), `hint` what the purposes mean.
 */
export function checkExtendedKeyUsage(
  cert: Certificate,
  accepted: readonly string[],
  use: string,
): VpnError | undefined {
  const eku = cert.extendedKeyUsage;
  if (eku === undefined) return undefined;
  if (eku.includes(EkuOid.ANY) || accepted.some((oid) => eku.includes(oid))) return undefined;
  const has = eku.map(ekuName).join(', ');
  const want = accepted.map(ekuName).join(', ');
  const client = eku.includes(EkuOid.CLIENT_AUTH) ? ': it is a client certificate' : '';
  return new VpnError(
    'ERR_CERT',
    `certificate "${cert.describe()}" may not be used as ${use}${client} (extended key usage ${has}; one of ${want} or anyExtendedKeyUsage, or no extended key usage at all, is required)`,
  );
}
