/**
 * EAP inside IKE_AUTH (RFC 7296 §2.16, RFC 3748; EAP-only authentication RFC 5998): relays the
 * gateway's EAP Requests to the local EAP peer, sends its Responses, and after EAP-Success
 * proves the MSK-derived AUTH and checks the gateway's.
 */
import { equalBytes } from '../../core/bytes.js';
import { VpnError } from '../../core/errors.js';
import { AuthMethod, ExchangeType, NotifyType, PayloadType } from '../constants.js';
import type { AuthPayload, NotifyPayload, Payload } from '../codec/index.js';
import type { IkeContext } from '../context.js';

export class IkeAuthEap {
  private readonly c: IkeContext;
  /** An asynchronous EAP method is working on its Response. */
  eapPending = false;
  private eapRounds = 0;

  constructor(c: IkeContext) {
    this.c = c;
  }

  /** A new IKE_AUTH starts: no EAP round yet. */
  reset(): void {
    this.eapRounds = 0;
  }

  onEapPacket(packet: Uint8Array): void {
    const peer = this.c.cfg.auth.kind === 'eap' ? this.c.cfg.auth.peer : undefined;
    if (!peer) return;
    if (++this.eapRounds > 50) {
      this.c.fail(new VpnError('ERR_EAP_FAILED', 'EAP did not finish within 50 rounds'));
      return;
    }
    const step = peer.handle(packet);
    switch (step.kind) {
      case 'respond':
        this.sendEap(step.packet);
        return;
      case 'pending':
        this.eapPending = true;
        return;
      case 'success':
        this.sendEapAuth();
        return;
      case 'failure':
        // The exchange is over on the gateway's side too: nothing to delete.
        this.c.finishCloseWith(step.error);
        return;
    }
  }

  onAsyncEap(packet: Uint8Array): void {
    if (!this.eapPending || this.c.ike.state !== 'connecting') return;
    this.eapPending = false;
    this.sendEap(packet);
  }

  private sendEap(packet: Uint8Array): void {
    const inner: Payload[] = [{ type: PayloadType.EAP, critical: false, data: packet }];
    this.c.xchg.initiate({
      exchange: ExchangeType.IKE_AUTH,
      what: 'IKE_AUTH (EAP)',
      buildRequest: () => inner,
      processResponse: (_h, p) => this.processEapResponse(p),
    });
  }

  private processEapResponse(inner: Payload[]): void {
    const eap = inner.find((p) => p.type === PayloadType.EAP);
    if (!eap || !('data' in eap)) {
      this.c.finishCloseWith(
        this.eapExchangeError(
          inner,
          `the gateway rejected our ${this.eapMethodName()} credentials`,
          'IKE_AUTH response during EAP lacks an EAP payload',
        ),
      );
      return;
    }
    this.onEapPacket(eap.data);
  }

  /**
   * Why an IKE_AUTH response during or after EAP lacks what we expected: AUTHENTICATION_FAILED
   * (an EAP failure, `refused`), another error notify, or a protocol error (`missing`).
   */
  private eapExchangeError(inner: Payload[], refused: string, missing: string): VpnError {
    const error = inner
      .filter((p): p is NotifyPayload => p.type === PayloadType.NOTIFY && !('unknown' in p))
      .find((n) => n.notifyType < 16384);
    if (error?.notifyType === NotifyType.AUTHENTICATION_FAILED)
      return new VpnError('ERR_EAP_FAILED', `${refused} (AUTHENTICATION_FAILED)`);
    return error
      ? this.c.errorFromNotify(error, 'IKE_AUTH')
      : new VpnError('ERR_IKE_PROTOCOL', missing);
  }

  private eapMethodName(): string {
    return this.c.cfg.auth.kind === 'eap' ? this.c.cfg.auth.peer.methodName() : 'EAP';
  }

  /** §2.16: after EAP-Success, AUTH = prf(prf(MSK or SK_pi, "Key Pad for IKEv2"), octets). */
  private sendEapAuth(): void {
    if (this.c.cfg.auth.kind !== 'eap') return;
    const keymat = this.c.ike.sa.keymat!;
    const octets = keymat.authOctets(
      'initiator',
      this.c.ike.initRequest,
      this.c.ike.nr,
      this.c.tasks.auth.idiBody,
    );
    const auth: AuthPayload = {
      type: PayloadType.AUTH,
      critical: false,
      method: AuthMethod.SHARED_KEY_MIC,
      data: keymat.eapAuth(this.c.cfg.auth.peer.msk(), 'initiator', octets),
    };
    this.c.xchg.initiate({
      exchange: ExchangeType.IKE_AUTH,
      what: 'IKE_AUTH (after EAP)',
      buildRequest: () => [auth],
      processResponse: (_h, p) => this.processEapAuthResponse(p),
    });
  }

  private processEapAuthResponse(inner: Payload[]): void {
    if (this.c.cfg.auth.kind !== 'eap') return;
    const peer = this.c.cfg.auth.peer;
    const keymat = this.c.ike.sa.keymat!;
    const gw = this.c.tasks.auth.gw!;
    const auth = inner.find((p): p is AuthPayload => p.type === PayloadType.AUTH);
    if (!auth) {
      this.c.finishCloseWith(
        this.eapExchangeError(
          inner,
          `the gateway refused the AUTH derived from ${peer.methodName()}`,
          'final IKE_AUTH response lacks AUTH',
        ),
      );
      return;
    }
    const octets = keymat.authOctets(
      'responder',
      this.c.ike.initResponse,
      this.c.ike.ni,
      gw.idBody,
    );
    const expected = keymat.eapAuth(peer.msk(), 'responder', octets);
    if (
      auth.method !== AuthMethod.SHARED_KEY_MIC ||
      expected.length !== auth.data.length ||
      !equalBytes(expected, auth.data)
    ) {
      this.c.fail(
        new VpnError(
          'ERR_IKE_AUTH_FAILED',
          `the gateway's final AUTH does not match the ${peer.methodName()} key: it does not hold the EAP session`,
        ),
      );
      return;
    }
    if (!gw.authenticated && !peer.mutual()) {
      this.c.fail(
        new VpnError(
          'ERR_IKE_AUTH_FAILED',
          `EAP-only authentication needs a mutual method; ${peer.methodName()} does not authenticate the gateway`,
        ),
      );
      return;
    }
    gw.authenticated = true;
    this.c.tasks.auth.completeAuth(inner);
  }
}
