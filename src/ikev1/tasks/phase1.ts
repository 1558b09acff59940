/**
 * IKEv1 phase 1 (RFC 2409 §5): Main Mode (§5, six messages; IDii/HASH_I or CERT/SIG_I encrypted in
 * message 5, §5.1 and RFC 4754 §3 for ECDSA) and Aggressive Mode (§5, three messages, PSK only),
 * NAT-D and the float to port 4500 (RFC 3947 §3–4), vendor IDs (RFC 3947 §3.1, RFC 3706 §4, XAUTH,
 * Cisco Unity), INITIAL-CONTACT (RFC 2407 §4.6.3.3), then XAUTH / Mode Config / Quick Mode in
 * turn; and the phase 1 rekey: a new Main Mode beside the current ISAKMP SA, the old one deleted
 * once the gateway moved the IPsec SAs over.
 */
import { concatBytes, equalBytes, toHex } from '../../core/bytes.js';
import { VpnError } from '../../core/errors.js';
import { parseIpAddress } from '../../core/ip.js';
import { createKeyExchange } from '../../crypto/ke.js';
import type { ConfigReply } from '../../ike/config-payload.js';
import { formatIdentity, sameIdentity } from '../../ike/identity.js';
import type { Identity } from '../../ike/identity.js';
import type { Endpoint } from '../../ike/natd.js';
import { AuthMethodV1, authMethodFor, baseMethod, signV1, verifyV1 } from '../auth.js';
import {
  IPSEC_DOI,
  V1CertEncoding,
  V1Exchange as X,
  V1Notify,
  V1Payload as P,
  V1Protocol,
  VendorId,
} from '../constants.js';
import { allData, encodeV1Chain, encodeV1Message, findData, v1Hash } from '../codec/index.js';
import type {
  V1Chain,
  V1CertPayload,
  V1DeletePayload,
  V1Header,
  V1IdPayload,
  V1PayloadAny,
} from '../codec/index.js';
import { V1Keymat, authHashFor, derivePhase1Keys, phase1Hash } from '../keymat.js';
import { decodePhase1Choice, encodePhase1Sa, formatPhase1Spec } from '../sa-payload.js';
import type { V1Phase1Spec } from '../sa-payload.js';

import { NONCE_LENGTH, RETIRE_DELAY_MS, newSa } from '../context.js';
import type { IsakmpSa, V1Context } from '../context.js';

export class Phase1 {
  private readonly c: V1Context;

  constructor(c: V1Context) {
    this.c = c;
  }

  // -------------------------------------------------------------------------------------------
  // Phase 1: Main Mode and Aggressive Mode (RFC 2409 §5)

  start(local: Endpoint, remote: Endpoint): void {
    if (this.c.st !== 'created') return;
    this.c.local = local;
    this.c.remote = remote;
    this.c.lastAlive = this.c.now;
    this.c.setState('connecting');
    this.startPhase1(this.c.sa);
  }

  vendorIds(): V1PayloadAny[] {
    const hex: string[] = [
      VendorId.NATT_RFC,
      VendorId.NATT_DRAFT_03,
      VendorId.NATT_DRAFT_02N,
      VendorId.DPD,
    ];
    if (this.c.cfg.xauth) hex.push(VendorId.XAUTH);
    if (this.c.cfg.modeConfig) hex.push(VendorId.UNITY);
    return hex.map((h) => ({
      kind: 'data',
      type: P.VENDOR_ID,
      data: new Uint8Array(Buffer.from(h, 'hex')),
    }));
  }

  readVendorIds(sa: IsakmpSa, payloads: V1PayloadAny[]): void {
    for (const v of allData(payloads, P.VENDOR_ID)) {
      const h = toHex(v);
      if (h === VendorId.NATT_RFC) sa.peer.nattRfc = true;
      else if (h === VendorId.NATT_DRAFT_02N || h === VendorId.NATT_DRAFT_03)
        sa.peer.nattDraft = true;
      else if (h === VendorId.DPD) sa.peer.dpd = true;
      else if (h === VendorId.XAUTH) sa.peer.xauth = true;
      else if (h.startsWith(VendorId.UNITY.slice(0, 28))) sa.peer.unity = true;
    }
    sa.natdType = sa.peer.nattRfc || !sa.peer.nattDraft ? P.NAT_D : P.NAT_D_DRAFT;
  }

  idPayload(): V1IdPayload {
    // RFC 2407 §4.6.2: protocol and port 0 in phase 1 (we do not restrict them).
    const id = this.c.cfg.localId;
    return { kind: 'id', type: P.ID, idType: id.type, protocol: 0, port: 0, data: id.data };
  }

  idBody(p: V1IdPayload): Uint8Array {
    return concatBytes(Uint8Array.of(p.idType, p.protocol, p.port >> 8, p.port & 0xff), p.data);
  }

  startPhase1(sa: IsakmpSa): void {
    const cfg = this.c.cfg;
    sa.authMethod = authMethodFor(cfg.auth, cfg.xauth !== undefined);
    if (cfg.aggressive) {
      // RFC 2409 §5: the KE goes out with the SA, so every transform offered shares its group.
      const group = cfg.phase1[0]!.group;
      const specs = cfg.phase1.filter((s) => s.group === group);
      sa.saBody = encodePhase1Sa(specs, sa.authMethod);
      sa.ke = createKeyExchange(group, this.c.random);
      sa.ni = this.c.random.bytes(NONCE_LENGTH);
      this.c.log.warn(
        'ike',
        'IKEv1 Aggressive Mode sends a hash of the pre-shared key that an eavesdropper can attack offline',
      );
      this.c.emit({ type: 'stage', stage: 'ike-sa-init' }); // phase 1 (Aggressive Mode)
      const msg = this.plain(sa, X.AGGRESSIVE, [
        { kind: 'data', type: P.SA, data: sa.saBody },
        { kind: 'data', type: P.KE, data: sa.ke.publicValue },
        { kind: 'data', type: P.NONCE, data: sa.ni },
        this.idPayload(),
        ...this.vendorIds(),
      ]);
      this.c.request({
        exchange: X.AGGRESSIVE,
        mid: 0,
        data: msg,
        what: 'Aggressive Mode message 1',
        sa,
        onReply: (h, c) => this.onAm2(sa, h, c, specs),
      });
      return;
    }
    sa.saBody = encodePhase1Sa(cfg.phase1, sa.authMethod);
    this.c.emit({ type: 'stage', stage: 'ike-sa-init' }); // phase 1 (Main Mode)
    const msg = this.plain(sa, X.MAIN_MODE, [
      { kind: 'data', type: P.SA, data: sa.saBody },
      ...this.vendorIds(),
    ]);
    this.c.request({
      exchange: X.MAIN_MODE,
      mid: 0,
      data: msg,
      what: 'Main Mode message 1',
      sa,
      onReply: (h, c) => this.onMm2(sa, h, c),
    });
  }

  plain(sa: IsakmpSa, exchange: number, payloads: V1PayloadAny[]): Uint8Array {
    const { first, bytes } = encodeV1Chain(payloads);
    return encodeV1Message(
      { cookieI: sa.cookieI, cookieR: sa.cookieR, exchangeType: exchange, flags: 0, messageId: 0 },
      first,
      bytes,
    );
  }

  /** RFC 3947 §3.2: NAT-D = HASH(CKY-I | CKY-R | IP | Port), with the phase 1 hash. */
  natd(sa: IsakmpSa, ep: Endpoint): Uint8Array {
    const port = Uint8Array.of(ep.port >> 8, ep.port & 0xff);
    return v1Hash(
      sa.spec!.hash,
      concatBytes(sa.cookieI, sa.cookieR, parseIpAddress(ep.address), port),
    );
  }

  /** Our NAT-D payloads: the gateway's address first, then ours (faked with forceEncap). */
  natdPayloads(sa: IsakmpSa): V1PayloadAny[] {
    const mine = this.c.cfg.forceEncap
      ? this.c.random.bytes(v1Hash(sa.spec!.hash, new Uint8Array(0)).length)
      : this.natd(sa, this.c.local);
    return [
      { kind: 'data', type: sa.natdType, data: this.natd(sa, this.c.remote) },
      { kind: 'data', type: sa.natdType, data: mine },
    ];
  }

  /** RFC 3947 §3.2: is there a NAT before us or before the gateway? Then float to 4500 (§4). */
  detectNat(sa: IsakmpSa, payloads: V1PayloadAny[]): void {
    if (!sa.peer.nattRfc && !sa.peer.nattDraft) return;
    const list = payloads
      .filter((p) => p.kind === 'data' && (p.type === P.NAT_D || p.type === P.NAT_D_DRAFT))
      .map((p) => (p as { data: Uint8Array }).data);
    if (list.length < 2) return;
    const [dst, ...srcs] = list;
    this.c.natHere = !equalBytes(dst!, this.natd(sa, this.c.local));
    const them = this.natd(sa, this.c.remote);
    this.c.natThere = !srcs.some((s) => equalBytes(s, them));
    this.c.emit({ type: 'nat', natHere: this.c.natHere, natThere: this.c.natThere });
    if ((this.c.natHere || this.c.natThere) && !this.c.natT) {
      this.c.natT = true;
      this.c.remote = { address: this.c.remote.address, port: 4500 };
      this.c.log.info(
        'ike',
        `NAT detected (${this.c.natHere ? 'here' : 'at the gateway'}): moving to UDP port 4500 (RFC 3947 §4)`,
      );
    }
  }

  onMm2(sa: IsakmpSa, h: V1Header, c: V1Chain): void {
    const sab = findData(c.payloads, P.SA);
    if (!sab) return this.dropPhase1(c, 'Main Mode message 2 without an SA payload');
    if (h.cookieR.every((b) => b === 0)) return this.c.drop('zero responder cookie');
    const spec = decodePhase1Choice(sab, this.c.cfg.phase1, sa.authMethod);
    this.c.settle();
    sa.cookieR = h.cookieR.slice();
    sa.spec = spec;
    this.readVendorIds(sa, c.payloads);
    sa.ke = createKeyExchange(spec.group, this.c.random);
    sa.ni = this.c.random.bytes(NONCE_LENGTH);
    const payloads: V1PayloadAny[] = [
      { kind: 'data', type: P.KE, data: sa.ke.publicValue },
      { kind: 'data', type: P.NONCE, data: sa.ni },
    ];
    if (baseMethod(sa.authMethod) !== AuthMethodV1.PSK && this.c.cfg.gatewayAuth.certs) {
      // RFC 2408 §3.10: a CERTREQ without a CA asks for the gateway's X.509 certificate.
      const cr: V1CertPayload = {
        kind: 'cert',
        type: P.CERTREQ,
        encoding: V1CertEncoding.X509_SIG,
        data: new Uint8Array(0),
      };
      payloads.push(cr);
    }
    if (sa.peer.nattRfc || sa.peer.nattDraft) payloads.push(...this.natdPayloads(sa));
    const msg = this.plain(sa, X.MAIN_MODE, payloads);
    this.c.request({
      exchange: X.MAIN_MODE,
      mid: 0,
      data: msg,
      what: 'Main Mode message 3',
      sa,
      onReply: (h2, c2) => this.onMm4(sa, h2, c2),
    });
  }

  deriveKeys(sa: IsakmpSa, gxr: Uint8Array): void {
    const spec = sa.spec!;
    let gxy: Uint8Array;
    try {
      gxy = sa.ke!.computeSharedSecret(gxr);
    } catch (e) {
      throw new VpnError(
        'ERR_IKE_PROTOCOL',
        `the gateway's key exchange value is invalid: ${(e as Error).message}`,
      );
    }
    sa.gxr = gxr.slice();
    const psk = this.c.cfg.auth.kind === 'psk' ? this.c.cfg.auth.psk : undefined;
    const keys = derivePhase1Keys({
      hash: spec.hash,
      auth: psk ? { kind: 'psk', psk } : { kind: 'sig' },
      ni: sa.ni,
      nr: sa.nr,
      gxy,
      cookieI: sa.cookieI,
      cookieR: sa.cookieR,
      encr: spec.encr,
      ...(spec.keyBits === undefined ? {} : { keyBits: spec.keyBits }),
    });
    gxy.fill(0);
    sa.keymat = new V1Keymat(
      keys,
      spec.hash,
      authHashFor(spec.hash, baseMethod(sa.authMethod)),
      spec.encr,
      sa.ke!.publicValue,
      gxr,
    );
  }

  onMm4(sa: IsakmpSa, _h: V1Header, c: V1Chain): void {
    const ke = findData(c.payloads, P.KE);
    const nr = findData(c.payloads, P.NONCE);
    if (!ke || !nr) return this.dropPhase1(c, 'Main Mode message 4 without KE and nonce');
    if (nr.length < 8 || nr.length > 256)
      return this.c.drop('bad nonce', `nonce of ${nr.length} bytes`);
    this.c.settle();
    sa.nr = nr.slice();
    this.deriveKeys(sa, ke);
    if (sa === this.c.sa) this.detectNat(sa, c.payloads);
    // MM5: IDii, [CERT], HASH_I | SIG_I, encrypted (RFC 2409 §5.1, §5.4).
    const id = this.idPayload();
    const payloads: V1PayloadAny[] = [id, ...this.authPayloads(sa, this.idBody(id))];
    const msg = this.c.seal(sa, X.MAIN_MODE, 0, payloads);
    this.c.request({
      exchange: X.MAIN_MODE,
      mid: 0,
      data: msg,
      what: 'Main Mode message 5',
      sa,
      onReply: (h2, c2) => this.onMm6(sa, h2, c2),
      onTimeout: (o) => this.authTimeout(o.what),
    });
  }

  /** HASH_I, or our certificates and SIG_I (RFC 2409 §5). */
  authPayloads(sa: IsakmpSa, idiiB: Uint8Array): V1PayloadAny[] {
    const km = sa.keymat!;
    const hashI = phase1Hash(
      km.authHash,
      km.skeyid,
      'I',
      sa.ke!.publicValue,
      sa.gxr,
      sa.cookieI,
      sa.cookieR,
      sa.saBody,
      idiiB,
    );
    const auth = this.c.cfg.auth;
    if (auth.kind !== 'pubkey') return [{ kind: 'data', type: P.HASH, data: hashI }];
    const certs: V1PayloadAny[] = auth.certs.map((d) => ({
      kind: 'cert',
      type: P.CERT,
      encoding: V1CertEncoding.X509_SIG,
      data: d,
    }));
    return [...certs, { kind: 'data', type: P.SIG, data: signV1(auth.key, sa.authMethod, hashI) }];
  }

  /** No answer to our authentication: with a PSK, the gateway could not decrypt it (wrong key). */
  authTimeout(what: string, why = `no valid answer to ${what}`): VpnError {
    if (this.c.cfg.auth.kind === 'psk')
      return new VpnError(
        'ERR_IKE_AUTH_FAILED',
        `the gateway did not accept our authentication (${why}): the pre-shared key (or our identity) is probably wrong`,
      );
    return new VpnError(
      'ERR_IKE_AUTH_FAILED',
      `the gateway did not accept our authentication (${why})`,
    );
  }

  /**
   * While our authentication (MM5 / AM3) is outstanding, an encrypted Informational from the
   * gateway that our keys cannot open or verify means the keys differ: strongSwan answers an MM5
   * it cannot decrypt with N(PAYLOAD_MALFORMED) under its own keys. With a PSK that is a wrong
   * key; fail now rather than after the whole retransmission schedule.
   */
  keysDiffer(sa: IsakmpSa, h: V1Header): boolean {
    const o = this.c.outstanding;
    if (!o || o.sa !== sa || !o.onTimeout || sa.ready || h.exchangeType !== X.INFORMATIONAL)
      return false;
    if (sa === this.c.nextSa) {
      this.c.nextSa = undefined;
      this.c.outstanding = undefined;
      this.c.log.warn('ike', 'phase 1 rekey: the gateway could not read our authentication');
      return true;
    }
    this.c.finishCloseWith(
      this.authTimeout(
        o.what,
        `it answered ${o.what} with a message our keys cannot open or verify`,
      ),
    );
    return true;
  }

  /** HASH_R or the gateway's certificate and SIG_R, and its identity (RFC 2409 §5). */
  verifyGateway(sa: IsakmpSa, payloads: V1PayloadAny[], idr: V1IdPayload): boolean {
    const km = sa.keymat!;
    const gwId: Identity = { type: idr.idType, data: idr.data };
    sa.gwId = gwId;
    if (this.c.cfg.remoteId && !sameIdentity(gwId, this.c.cfg.remoteId)) {
      this.c.fail(
        new VpnError(
          'ERR_IKE_AUTH_FAILED',
          `gateway identified as "${formatIdentity(gwId)}", expected "${formatIdentity(this.c.cfg.remoteId)}"`,
        ),
      );
      return false;
    }
    const hashR = phase1Hash(
      km.authHash,
      km.skeyid,
      'R',
      sa.ke!.publicValue,
      sa.gxr,
      sa.cookieI,
      sa.cookieR,
      sa.saBody,
      this.idBody(idr),
    );
    if (baseMethod(sa.authMethod) === AuthMethodV1.PSK) {
      const got = findData(payloads, P.HASH);
      if (!got || !equalBytes(got, hashR)) {
        this.c.fail(
          new VpnError(
            'ERR_IKE_AUTH_FAILED',
            "the gateway's HASH_R does not match our pre-shared key: the PSKs differ (or someone is in the middle)",
          ),
        );
        return false;
      }
      return true;
    }
    const policy = this.c.cfg.gatewayAuth;
    if (!policy.certs) {
      this.c.fail(
        new VpnError(
          'ERR_IKE_AUTH_FAILED',
          'the gateway authenticated with a certificate; this connection has no trust anchors for it',
        ),
      );
      return false;
    }
    const certs = payloads
      .filter(
        (p): p is V1CertPayload =>
          p.kind === 'cert' && p.type === P.CERT && p.encoding === V1CertEncoding.X509_SIG,
      )
      .slice(0, 8)
      .map((p) => p.data);
    const sig = findData(payloads, P.SIG);
    if (certs.length === 0 || !sig) {
      this.c.fail(
        new VpnError(
          'ERR_CERT',
          'the gateway sent no X.509 certificate and signature; we cannot check its identity',
        ),
      );
      return false;
    }
    const checked = policy.certs.validate(certs, gwId, this.c.now);
    if (!checked.ok) {
      this.c.fail(checked.error);
      return false;
    }
    const v = verifyV1(checked.publicKey, sa.authMethod, hashR, sig);
    if (!v.ok) {
      this.c.fail(
        new VpnError(
          'ERR_IKE_AUTH_FAILED',
          `the gateway's signature does not verify with the key of "${checked.subject}": ${v.reason}`,
        ),
      );
      return false;
    }
    this.c.log.info('ike', `gateway authenticated by certificate "${checked.subject}"`);
    return true;
  }

  onMm6(sa: IsakmpSa, _h: V1Header, c: V1Chain): void {
    const idr = c.payloads.find((p): p is V1IdPayload => p.kind === 'id');
    if (!idr) return this.dropPhase1(c, 'Main Mode message 6 without IDir');
    this.c.settle();
    if (!this.verifyGateway(sa, c.payloads, idr)) return;
    // Accepted: MM6's last block is the phase 1 IV from which later exchanges start.
    this.c.acceptIv();
    this.phase1Done(sa);
  }

  onAm2(sa: IsakmpSa, h: V1Header, c: V1Chain, specs: V1Phase1Spec[]): void {
    const sab = findData(c.payloads, P.SA);
    const ke = findData(c.payloads, P.KE);
    const nr = findData(c.payloads, P.NONCE);
    const idr = c.payloads.find((p): p is V1IdPayload => p.kind === 'id');
    if (!sab || !ke || !nr || !idr)
      return this.dropPhase1(c, 'Aggressive Mode message 2 lacks SA, KE, nonce or ID');
    if (nr.length < 8 || nr.length > 256)
      return this.c.drop('bad nonce', `nonce of ${nr.length} bytes`);
    const spec = decodePhase1Choice(sab, specs, sa.authMethod);
    this.c.settle();
    sa.cookieR = h.cookieR.slice();
    sa.spec = spec;
    sa.nr = nr.slice();
    this.readVendorIds(sa, c.payloads);
    this.deriveKeys(sa, ke);
    if (!this.verifyGateway(sa, c.payloads, idr)) return;
    this.detectNat(sa, c.payloads);
    // AM3: HASH_I and our NAT-D, encrypted (RFC 2409 §5, RFC 3947 §4: already on port 4500).
    const id = this.idPayload();
    const payloads: V1PayloadAny[] = [...this.authPayloads(sa, this.idBody(id))];
    if (sa.peer.nattRfc || sa.peer.nattDraft) payloads.push(...this.natdPayloads(sa));
    const am3 = this.c.seal(sa, X.AGGRESSIVE, 0, payloads);
    this.c.transmit(am3);
    // A retransmitted AM2 means the gateway lost AM3: answer it again.
    sa.lastOut = am3;
    this.phase1Done(sa);
  }

  /** Phase 1 refusals arrive as unprotected Informationals; anything else unexpected is dropped. */
  dropPhase1(_c: V1Chain, why: string): void {
    this.c.drop('malformed phase 1 message', why);
  }

  phase1Done(sa: IsakmpSa): void {
    sa.ready = true;
    this.c.lastAlive = this.c.now;
    this.c.log.info(
      'ike',
      `ISAKMP SA established with ${formatIdentity(sa.gwId!)} (${formatPhase1Spec(sa.spec!)})`,
    );
    if (sa !== this.c.sa) {
      this.finishIkeRekey(sa);
      return;
    }
    if (this.c.cfg.initialContact !== false) {
      // RFC 2407 §4.6.3.3: INITIAL-CONTACT, protected, with both cookies as the SPI.
      this.c.sendInformational(sa, [
        this.c.notify(V1Notify.INITIAL_CONTACT, V1Protocol.ISAKMP, this.c.cookies(sa)),
      ]);
    }
    this.afterPhase1();
  }

  afterPhase1(): void {
    if (this.c.cfg.xauth) {
      this.c.step = 'xauth';
      this.c.emit({ type: 'stage', stage: 'ike-auth' }); // XAUTH, then Mode Config and Quick Mode
      // The gateway starts XAUTH (draft-beaulieu-ike-xauth-02 §2.1); give it the usual time.
      this.c.push({
        kind: 'setTimer',
        timer: 'retransmit',
        at: this.c.now + this.c.totalTimeoutMs(),
      });
      return;
    }
    this.afterXauth();
  }

  /** XAUTH succeeded (or was not configured): Mode Config, then Quick Mode. */
  afterXauth(): void {
    if (this.c.cfg.modeConfig) {
      this.c.step = 'modecfg';
      this.c.tasks.tx.startModeConfig(this.c.sa);
      return;
    }
    this.c.tasks.quick.startQuickMode();
  }

  /** Mode Config answered: keep the virtual IP and DNS, then Quick Mode. */
  modeConfigDone(config: ConfigReply, ip4: string | undefined): void {
    this.c.config = config;
    if (ip4) this.c.vip = parseIpAddress(ip4);
    this.c.tasks.quick.startQuickMode();
  }

  /**
   * Our phase 1 rekey: after cfg.ikeRekeyMs, or at 90 % of the lifetime the gateway chose in its
   * SA (RFC 2409 Appendix A Life Duration) when that is shorter; minus up to 10 % jitter.
   */
  armIkeRekey(): void {
    const chosen = this.c.sa.spec?.lifeSeconds;
    const life = chosen !== undefined && chosen > 0 ? chosen * 1000 * 0.9 : 0;
    const cfg = this.c.cfg.ikeRekeyMs;
    const after = cfg > 0 && life > 0 ? Math.min(cfg, life) : cfg > 0 ? cfg : life;
    if (after > 0)
      this.c.push({
        kind: 'setTimer',
        timer: 'rekey-ike',
        at: this.c.now + this.c.jitter(after),
      });
  }

  /** Phase 1 rekey: a new Main Mode with fresh cookies beside the current ISAKMP SA. */
  startIkeRekey(): void {
    if (this.c.st !== 'established' || this.c.nextSa) return;
    if (this.c.outstanding) {
      this.c.push({ kind: 'setTimer', timer: 'rekey-ike', at: this.c.now + 1000 });
      return;
    }
    const next = newSa(this.c.randomNonZero(8));
    this.c.nextSa = next;
    this.startPhase1(next);
  }

  /**
   * The new ISAKMP SA is up; our IPsec SAs keep running. The old ISAKMP SA is deleted a little
   * later (RETIRE_DELAY_MS), and with XAUTH only after XAUTH succeeded on the new one: strongSwan
   * moves the IPsec SAs to the new ISAKMP SA only once it is fully established ("adopting
   * children"), and deleting the old one before that deletes the IPsec SAs with it.
   */
  finishIkeRekey(next: IsakmpSa): void {
    this.c.retiring = this.c.sa;
    this.c.sa = next;
    this.c.nextSa = undefined;
    this.c.counters.ikeRekeys++;
    this.c.emit({ type: 'rekeyed', what: 'ike', by: 'us', proposal: formatPhase1Spec(next.spec!) });
    // With XAUTH the gateway starts it again on the new SA; xauthSucceeded() goes on from there.
    if (!this.c.cfg.xauth) this.scheduleRetire();
  }

  /** XAUTH succeeded on `sa`: continue connecting, or retire the SA a phase 1 rekey replaced. */
  xauthSucceeded(sa: IsakmpSa): void {
    if (this.c.step === 'xauth' && sa === this.c.sa) {
      this.c.push({ kind: 'clearTimer', timer: 'retransmit' });
      this.afterXauth();
      return;
    }
    if (this.c.retiring && sa === this.c.sa) this.scheduleRetire();
  }

  scheduleRetire(): void {
    this.c.push({ kind: 'setTimer', timer: 'rekey-ike', at: this.c.now + RETIRE_DELAY_MS });
  }

  /** DELETE of the replaced ISAKMP SA, protected by itself (RFC 2408 §3.15), then the next rekey. */
  retireOld(): void {
    const old = this.c.retiring;
    if (!old) return;
    this.c.retiring = undefined;
    const d: V1DeletePayload = {
      kind: 'delete',
      type: P.DELETE,
      doi: IPSEC_DOI,
      protocol: V1Protocol.ISAKMP,
      spiSize: 16,
      spis: [this.c.cookies(old)],
    };
    this.c.sendInformational(old, [d]);
    old.keymat?.wipe();
    this.armIkeRekey();
  }
}
