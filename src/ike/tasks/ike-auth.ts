/**
 * IKE_AUTH, initiator side (RFC 7296 §1.2, §2.15): IDi, CERT/CERTREQ (§3.6, §3.7), AUTH with a
 * pre-shared key or a certificate signature (RFC 7427), INITIAL_CONTACT (§2.4) and
 * MOBIKE_SUPPORTED (RFC 4555 §3.1); verifies the gateway's IDr and AUTH, then completes the IKE
 * SA with the configuration payload (ike-config.ts) and the first CHILD_SA (create-child-sa.ts).
 * EAP (§2.16) is its own task, ike-auth-eap.ts.
 */
import { concatBytes } from '../../core/bytes.js';
import { VpnError } from '../../core/errors.js';
import {
  AuthMethod,
  CertEncoding,
  ExchangeType,
  NotifyType,
  PayloadType,
  nameOf,
} from '../constants.js';
import type {
  AuthPayload,
  CertPayload,
  CertReqPayload,
  IdPayload,
  IkeHeader,
  NotifyPayload,
  Payload,
} from '../codec/index.js';
import type { Identity } from '../identity.js';
import { formatIdentity, sameIdentity } from '../identity.js';
import { formatChosen } from '../sa/proposals.js';
import { formatTs } from '../sa/traffic-selectors.js';
import { signAuth, supportedHashes, verifyAuth } from '../auth/signature.js';
import { printable } from '../../core/printable.js';
import { encodePpkIdentity } from '../ppk.js';
import { redirectIn } from '../redirect.js';
import type { IkeContext } from '../context.js';
import type { InitiatorTask } from './task.js';

export class IkeAuth implements InitiatorTask {
  readonly exchange = ExchangeType.IKE_AUTH;
  readonly what = 'IKE_AUTH';
  private readonly c: IkeContext;
  /** IKE_AUTH in progress: our ID payload body, and the gateway's once it identified itself. */
  idiBody: Uint8Array = new Uint8Array(0);
  gw: { id: Identity; idBody: Uint8Array; authenticated: boolean } | undefined;

  constructor(c: IkeContext) {
    this.c = c;
  }

  private idPayload(type: 35 | 36, id: Identity): IdPayload {
    return { type, critical: false, idType: id.type, data: id.data };
  }

  private static idBody(p: IdPayload): Uint8Array {
    // RestOfIDPayload: ID Type (1) | RESERVED (3) | Identification Data (§2.15)
    const b = new Uint8Array(4 + p.data.length);
    b[0] = p.idType;
    b.set(p.data, 4);
    return b;
  }

  /** Starts IKE_AUTH once IKE_SA_INIT produced the keys. */
  sendAuth(): void {
    this.c.emit({ type: 'stage', stage: 'ike-auth' });
    this.c.xchg.initiate(this);
  }

  /** RFC 7296 §1.2: HDR, SK {IDi, [CERT,] [CERTREQ,] [IDr,] AUTH, [CP,] SAi2, TSi, TSr}. */
  buildRequest(): Payload[] {
    const keymat = this.c.ike.sa.keymat!;
    const local = this.c.cfg.auth;
    const idi = this.idPayload(PayloadType.IDi, this.c.cfg.localId);
    this.idiBody = IkeAuth.idBody(idi);
    this.gw = undefined;
    this.c.tasks.eap.reset();
    const inner: Payload[] = [idi];
    if (local.kind === 'pubkey') {
      for (const der of local.certs) {
        const cert: CertPayload = {
          type: PayloadType.CERT,
          critical: false,
          encoding: CertEncoding.X509_SIG,
          data: der,
        };
        inner.push(cert);
      }
    }
    const keyIds = this.c.cfg.gatewayAuth.certs?.certreqKeyIds ?? [];
    if (keyIds.length > 0) {
      // §3.7: the Certification Authority field is a concatenation of SHA-1 hashes of the trusted
      // CAs' public keys (SubjectPublicKeyInfo).
      const req: CertReqPayload = {
        type: PayloadType.CERTREQ,
        critical: false,
        encoding: CertEncoding.X509_SIG,
        data: concatBytes(...keyIds),
      };
      inner.push(req);
    }
    inner.push(...this.c.tasks.reauth.initialContact());
    // RFC 4555 §3.1: MOBIKE support travels in the IKE_AUTH exchange.
    if (this.c.cfg.mobike !== false) inner.push(this.c.notify(NotifyType.MOBIKE_SUPPORTED));
    if (this.c.cfg.remoteId) inner.push(this.idPayload(PayloadType.IDr, this.c.cfg.remoteId));
    if (local.kind === 'eap') {
      // §2.16: leaving out AUTH asks for EAP; RFC 5998 §3 announces that we accept EAP-only.
      if (this.c.cfg.gatewayAuth.eapOnly)
        inner.push(this.c.notify(NotifyType.EAP_ONLY_AUTHENTICATION));
    } else {
      // RFC 8784 §3: with the gateway's USE_PPK our AUTH uses SK_pi mixed with the PPK.
      const ppk = this.c.cfg.ppk && this.c.ike.peerPpk ? this.c.cfg.ppk : undefined;
      if (ppk) keymat.preparePpk(ppk.key);
      const octetsFor = (withPpk: boolean): Uint8Array =>
        keymat.authOctets(
          'initiator',
          this.c.ike.initRequest,
          this.c.ike.nr,
          this.idiBody,
          withPpk,
        );
      const authData = (octets: Uint8Array): { method: number; data: Uint8Array } =>
        local.kind === 'psk'
          ? { method: AuthMethod.SHARED_KEY_MIC, data: keymat.pskAuth(local.psk, octets) }
          : signAuth(local.key, octets, { peerHashes: this.c.ike.peerHashes });
      const a = authData(octetsFor(ppk !== undefined));
      const auth: AuthPayload = {
        type: PayloadType.AUTH,
        critical: false,
        method: a.method,
        data: a.data,
      };
      inner.push(auth);
      if (ppk) {
        inner.push(this.c.notify(NotifyType.PPK_IDENTITY, encodePpkIdentity(ppk.id)));
        // RFC 8784 §3: unless the PPK is mandatory, the AUTH data computed without it lets a
        // gateway that has no PPK for this ID authenticate us anyway (strongSwan sends and
        // expects the bare Authentication Data, without the method octet).
        if (!ppk.required)
          inner.push(this.c.notify(NotifyType.NO_PPK_AUTH, authData(octetsFor(false)).data));
      }
    }
    // The first CHILD_SA's SA, TSi, TSr (its SPI drawn first) follow the CP request.
    const child = this.c.tasks.child.buildRequest();
    inner.push(...this.c.tasks.config.buildRequest(), ...child);
    return inner;
  }

  /** The first IKE_AUTH response: the gateway's identity and proof, then EAP or the CHILD_SA. */
  processResponse(_header: IkeHeader, inner: Payload[]): void {
    const notifies = inner.filter((p): p is NotifyPayload => p.type === PayloadType.NOTIFY);
    this.c.tasks.mobike.notePeerMobike(notifies);
    const auth = inner.find((p): p is AuthPayload => p.type === PayloadType.AUTH);
    const idr = inner.find((p): p is IdPayload => p.type === PayloadType.IDr);
    const eap = inner.find((p) => p.type === PayloadType.EAP);
    const error = notifies.find((n) => n.notifyType < 16384);
    if (!idr) {
      // Without IDr the exchange failed: an error notify says why (§2.21.2).
      this.c.finishCloseWith(
        error
          ? this.c.errorFromNotify(error, 'IKE_AUTH')
          : new VpnError('ERR_IKE_PROTOCOL', 'IKE_AUTH response lacks IDr'),
      );
      return;
    }
    const gwId: Identity = { type: idr.idType, data: idr.data };
    if (this.c.cfg.remoteId && !sameIdentity(gwId, this.c.cfg.remoteId)) {
      this.c.fail(
        new VpnError(
          'ERR_IKE_AUTH_FAILED',
          `gateway identified as "${formatIdentity(gwId)}", expected "${formatIdentity(this.c.cfg.remoteId)}"`,
        ),
      );
      return;
    }
    this.gw = { id: gwId, idBody: IkeAuth.idBody(idr), authenticated: false };
    if (!this.settlePpk(notifies)) return;
    const useEap = this.c.cfg.auth.kind === 'eap';
    if (auth) {
      if (!this.verifyGatewayAuth(auth, inner)) return;
      this.gw.authenticated = true;
      // Only now may EAP run methods that hand the gateway our password (RFC 5998 §4).
      if (this.c.cfg.auth.kind === 'eap') this.c.cfg.auth.peer.gatewayAuthenticated();
    } else if (!(useEap && eap)) {
      this.c.fail(
        error
          ? this.c.errorFromNotify(error, 'IKE_AUTH')
          : new VpnError('ERR_IKE_PROTOCOL', 'IKE_AUTH response lacks AUTH'),
      );
      return;
    } else if (!this.c.cfg.gatewayAuth.eapOnly) {
      // RFC 5998 §4: without AUTH the gateway proves itself through EAP alone; only on request.
      this.c.fail(
        new VpnError(
          'ERR_IKE_AUTH_FAILED',
          'the gateway did not authenticate itself (no AUTH payload): it wants EAP-only authentication (RFC 5998). --eap-only allows that with EAP-TLS alone: the gateway is then trusted on its TLS server certificate only, and whoever answers in its place learns our EAP identity; password methods (MSCHAPv2, MD5, GTC) are never run with a gateway that has not authenticated',
        ),
      );
      return;
    }
    if (useEap) {
      if (!eap || !('data' in eap)) {
        this.c.fail(
          error
            ? this.c.errorFromNotify(error, 'IKE_AUTH')
            : new VpnError(
                'ERR_IKE_PROTOCOL',
                'the gateway did not start EAP although we sent no AUTH payload (RFC 7296 §2.16)',
              ),
        );
        return;
      }
      this.c.tasks.eap.onEapPacket(eap.data);
      return;
    }
    this.completeAuth(inner);
  }

  /**
   * RFC 8784 §3: the gateway's PPK_IDENTITY says it used the PPK (its AUTH, SK_d and all later
   * keys use the mixed keys); without it, it authenticated us by NO_PPK_AUTH and the plain keys
   * stay — refused with --ppk-required. False when the SA failed.
   */
  private settlePpk(notifies: NotifyPayload[]): boolean {
    const keymat = this.c.ike.sa.keymat!;
    if (!keymat.ppkPending) return true;
    const used = notifies.some((n) => n.notifyType === NotifyType.PPK_IDENTITY);
    keymat.settlePpk(used);
    this.c.ike.ppkUsed = used;
    if (used) {
      this.c.log.info('ike', 'the gateway uses our post-quantum preshared key (RFC 8784)');
      return true;
    }
    const id = printable(Buffer.from(this.c.cfg.ppk!.id).toString('latin1'));
    if (this.c.cfg.ppk!.required) {
      this.c.fail(
        new VpnError(
          'ERR_IKE_AUTH_FAILED',
          `the gateway did not use the post-quantum preshared key "${id}" (no PPK_IDENTITY in its IKE_AUTH response, RFC 8784 §3), and --ppk-required is set`,
        ),
      );
      return false;
    }
    this.c.warn(
      `the gateway has no post-quantum preshared key "${id}" and accepted us without it (NO_PPK_AUTH): continuing without the PPK`,
    );
    return true;
  }

  /** Checks the gateway's AUTH payload (RFC 7296 §2.15): a PSK MAC or a certificate signature. */
  private verifyGatewayAuth(auth: AuthPayload, inner: Payload[]): boolean {
    const keymat = this.c.ike.sa.keymat!;
    const gw = this.gw!;
    const octets = keymat.authOctets(
      'responder',
      this.c.ike.initResponse,
      this.c.ike.ni,
      gw.idBody,
    );
    const policy = this.c.cfg.gatewayAuth;
    if (auth.method === AuthMethod.SHARED_KEY_MIC) {
      if (!policy.psk) {
        this.c.fail(
          new VpnError(
            'ERR_IKE_AUTH_FAILED',
            'the gateway authenticated with a pre-shared key, but we expect a certificate from it',
          ),
        );
        return false;
      }
      if (!keymat.verifyPskAuth(policy.psk, octets, auth.data)) {
        this.c.fail(
          new VpnError(
            'ERR_IKE_AUTH_FAILED',
            "the gateway's AUTH does not match our pre-shared key: the PSKs differ (or someone is in the middle)",
          ),
        );
        return false;
      }
      return true;
    }
    const method = nameOf(AuthMethod, auth.method);
    if (!policy.certs) {
      this.c.fail(
        new VpnError(
          'ERR_IKE_AUTH_FAILED',
          `the gateway authenticated with ${method} (a certificate); this connection expects a pre-shared key from it`,
        ),
      );
      return false;
    }
    const certs = inner
      .filter((p): p is CertPayload => p.type === PayloadType.CERT)
      .filter((c) => c.encoding === CertEncoding.X509_SIG)
      .map((c) => c.data);
    if (certs.length === 0) {
      this.c.fail(
        new VpnError(
          'ERR_CERT',
          'the gateway signed its AUTH but sent no X.509 certificate (CERT payload); we cannot check its identity',
        ),
      );
      return false;
    }
    const checked = policy.certs.validate(certs, gw.id, this.c.now);
    if (!checked.ok) {
      this.c.fail(checked.error);
      return false;
    }
    const v = verifyAuth(checked.publicKey, auth.method, auth.data, octets, {
      ourHashes: supportedHashes(),
    });
    if (!v.ok) {
      this.c.fail(
        new VpnError(
          'ERR_IKE_AUTH_FAILED',
          `the gateway's signature (${method}) does not verify with the key of "${checked.subject}": ${v.reason}`,
        ),
      );
      return false;
    }
    this.c.log.info(
      'ike',
      `gateway authenticated by certificate "${checked.subject}" (${v.description})`,
    );
    return true;
  }

  /** The IKE SA is authenticated: take the CP reply and the first CHILD_SA (§1.2, §2.19). */
  completeAuth(inner: Payload[]): void {
    const gwId = this.gw!.id;
    const notifies = inner.filter((p): p is NotifyPayload => p.type === PayloadType.NOTIFY);
    // RFC 5685 §6: an authenticated gateway may send us elsewhere instead of a CHILD_SA; we
    // delete this IKE SA and connect to the new gateway.
    const redirect = redirectIn(notifies, undefined);
    if (redirect !== undefined) {
      if (typeof redirect === 'string') {
        this.c.fail(
          new VpnError(
            'ERR_IKE_PROTOCOL',
            `invalid REDIRECT in the IKE_AUTH response: ${redirect}`,
          ),
        );
      } else if (this.c.cfg.redirect === false) {
        this.c.fail(
          new VpnError(
            'ERR_IKE_PEER_ERROR',
            `the gateway redirects us to ${redirect.value}, but redirects are refused (--no-redirect)`,
          ),
        );
      } else {
        this.c.emit({ type: 'redirect', gateway: redirect, during: 'IKE_AUTH' });
        this.c.fail(
          new VpnError(
            'ERR_IKE_PEER_ERROR',
            `the gateway redirects us to ${redirect.value} (RFC 5685 §6)`,
          ),
        );
      }
      return;
    }
    this.c.tasks.mobike.notePeerMobike(notifies);
    const authLifetime = this.c.tasks.reauth.authLifetime(notifies);
    // The IKE SA is authenticated. Now the CHILD_SA (errors here leave the IKE SA up, §1.2, but a
    // VPN client without a tunnel is useless, so we close it cleanly).
    const config = this.c.tasks.config.processResponse(inner);
    const childError = notifies.find((n) => n.notifyType < 16384);
    if (childError) {
      this.c.fail(this.c.errorFromNotify(childError, 'CHILD_SA'));
      return;
    }
    if (this.c.cfg.request.ip4 && !config.ip4 && !config.ip6) {
      this.c.fail(new VpnError('ERR_IKE_PROTOCOL', 'gateway assigned no virtual IP address'));
      return;
    }
    const child = this.c.tasks.child.processResponse(inner, notifies);
    if (!child) return;
    this.c.setState('established');
    this.c.ike.lastAlive = this.c.now;
    this.c.tasks.dpd.scheduleDpd();
    this.c.tasks.ikeRekey.scheduleIkeRekey();
    this.c.emit({
      type: 'established',
      info: {
        localId: formatIdentity(this.c.cfg.localId),
        remoteId: formatIdentity(gwId),
        ikeProposal: formatChosen(this.c.ike.ikeProposal!),
        espProposal: child.proposal,
        natHere: this.c.ike.natHere,
        natThere: this.c.ike.natThere,
        config,
        ...(authLifetime !== undefined ? { authLifetimeS: authLifetime } : {}),
        tsLocal: child.tsLocal.map(formatTs),
        tsRemote: child.tsRemote.map(formatTs),
        spiI: Buffer.from(this.c.ike.sa.spiI).toString('hex'),
        spiR: Buffer.from(this.c.ike.sa.spiR).toString('hex'),
        remote: this.c.ike.remote,
        ...(this.c.cfg.ppk ? { ppk: this.c.ike.ppkUsed } : {}),
      },
    });
  }
}
