/**
 * IKE_INTERMEDIATE exchanges (RFC 9242) carrying RFC 9370's additional key exchanges, initiator
 * side, between IKE_SA_INIT and IKE_AUTH:
 *
 *   HDR(IKE_INTERMEDIATE, mid n), SK {KEi(n)}  -->          (RFC 9370 §2.2.2)
 *                                <--  HDR, SK {KEr(n)}
 *
 * one exchange per ADDKE transform the gateway chose, in order ADDKE1..7 (NONE skipped), message
 * IDs 1, 2, ... (IKE_AUTH takes the next one, RFC 9242 §3.2). After each exchange the IKE SA's
 * keys are recomputed, SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni | Nr) and {SK_d(n) | ...} =
 * prf+(SKEYSEED(n), Ni | Nr | SPIi | SPIr) (RFC 9370 §2.2.2). Each message's IntAuth value
 * (RFC 9242 §3.3.2) is chained with the keys that protected it; the last pair and the IKE_AUTH
 * message ID end up in both AUTH payloads (keymat.intAuth). Large KE payloads (ML-KEM-1024) go in
 * RFC 7383 fragments like IKE_AUTH (exchange.ts).
 */
import { wipe } from '../../core/bytes.js';
import { VpnError } from '../../core/errors.js';
import { createKeyExchange } from '../../crypto/ke.js';
import type { KeyExchange } from '../../crypto/ke.js';
import { DhGroup, ExchangeType, HeaderFlag, PayloadType, nameOf } from '../constants.js';
import { encodePayloadChain, filterPayloads, findPayload } from '../codec/index.js';
import type { IkeHeader, KePayload, Payload } from '../codec/index.js';
import { finalIntAuth, intAuthData } from '../multi-ke.js';
import { IkeKeymat } from '../sa/keymat.js';
import { describeKeyExchanges, formatChosen, isPostQuantum } from '../sa/proposals.js';
import type { IkeContext } from '../context.js';
import type { InitiatorTask } from './task.js';

export class IkeIntermediate implements InitiatorTask {
  readonly exchange = ExchangeType.IKE_INTERMEDIATE;
  readonly what = 'IKE_INTERMEDIATE (additional key exchange)';
  private readonly c: IkeContext;
  /** The methods still to run, ADDKE order. */
  private pending: number[] = [];
  private ke: KeyExchange | undefined;
  /** RFC 9242 §3.3.2: IntAuth_iN-1 and IntAuth_rN-1 (empty before the first exchange). */
  private intAuthI: Uint8Array = new Uint8Array(0);
  private intAuthR: Uint8Array = new Uint8Array(0);
  /** IKE_INTERMEDIATE exchanges completed on this SA. */
  done = 0;

  constructor(c: IkeContext) {
    this.c = c;
  }

  /** After IKE_SA_INIT: run the chosen additional key exchanges, then IKE_AUTH. */
  start(): void {
    const chosen = this.c.ike.ikeProposal;
    if (this.c.cfg.pqRequired && (!chosen || !isPostQuantum(chosen))) {
      this.c.fail(
        new VpnError(
          'ERR_IKE_NO_PROPOSAL',
          `the gateway chose ${chosen ? formatChosen(chosen) : 'no proposal'}, without a post-quantum key exchange, and --pq required is set (it must choose ML-KEM, e.g. x25519-ke1_mlkem768)`,
        ),
      );
      return;
    }
    this.pending = (chosen?.addKe ?? []).map((a) => a.id);
    this.intAuthI = new Uint8Array(0);
    this.intAuthR = new Uint8Array(0);
    this.done = 0;
    if (this.pending.length === 0) {
      this.c.tasks.auth.sendAuth();
      return;
    }
    this.c.log.info(
      'ike',
      `key exchanges: ${describeKeyExchanges(chosen!)} (RFC 9370, ${this.pending.length} IKE_INTERMEDIATE exchange${this.pending.length === 1 ? '' : 's'})`,
    );
    this.c.xchg.initiate(this);
  }

  buildRequest(): Payload[] {
    const method = this.pending[0]!;
    this.ke = createKeyExchange(method, this.c.random);
    const inner: Payload[] = [
      { type: PayloadType.KE, critical: false, dhGroup: method, data: this.ke.publicValue },
    ];
    // IntAuth_iN over the request as it is sent (the exchange layer encodes the same chain).
    const chain = encodePayloadChain(inner);
    const sa = this.c.ike.sa;
    const data = intAuthData(
      {
        spiI: sa.spiI,
        spiR: sa.spiR,
        version: 0x20,
        exchangeType: this.exchange,
        flags: HeaderFlag.INITIATOR,
        messageId: sa.nextMid,
      },
      chain.first,
      chain.bytes,
    );
    this.intAuthI = sa.keymat!.intAuthStep('initiator', this.intAuthI, data);
    return inner;
  }

  processResponse(header: IkeHeader, inner: Payload[]): void {
    const method = this.pending[0];
    const ke = this.ke;
    const keymat = this.c.ike.sa.keymat;
    const plain = this.c.xchg.lastInner;
    if (method === undefined || !ke || !keymat || !plain) {
      this.c.fail(new VpnError('ERR_IKE_PROTOCOL', 'unexpected IKE_INTERMEDIATE response'));
      return;
    }
    const error = filterPayloads(inner, PayloadType.NOTIFY).find((n) => n.notifyType < 16384);
    if (error) {
      this.c.fail(this.c.errorFromNotify(error, 'IKE_INTERMEDIATE'));
      return;
    }
    const kePayload: KePayload | undefined = findPayload(inner, PayloadType.KE);
    if (!kePayload || kePayload.dhGroup !== method) {
      this.c.fail(
        new VpnError(
          'ERR_IKE_PROTOCOL',
          kePayload
            ? `the gateway answered our ${nameOf(DhGroup, method)} IKE_INTERMEDIATE key exchange with a ${nameOf(DhGroup, kePayload.dhGroup)} KE payload (RFC 9370 §2.2.2)`
            : 'the gateway answered IKE_INTERMEDIATE without a KE payload (RFC 9370 §2.2.2)',
        ),
      );
      return;
    }
    let shared: Uint8Array;
    try {
      shared = ke.computeSharedSecret(kePayload.data);
    } catch (e) {
      this.c.fail(
        new VpnError(
          'ERR_IKE_PROTOCOL',
          `the gateway's ${nameOf(DhGroup, method)} key exchange value is invalid: ${(e as Error).message}`,
        ),
      );
      return;
    }
    this.ke = undefined;
    // IntAuth_rN with the keys that protected this exchange, before they are replaced.
    this.intAuthR = keymat.intAuthStep(
      'responder',
      this.intAuthR,
      intAuthData(header, plain.first, plain.bytes),
    );
    // RFC 9370 §2.2.2: SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni | Nr); the rest as RFC 7296 §2.14.
    const sa = this.c.ike.sa;
    const next = new IkeKeymat({
      proposal: this.c.ike.ikeProposal!,
      weInitiated: true,
      rekeyOf: keymat.rekeySeed(),
      ni: this.c.ike.ni,
      nr: this.c.ike.nr,
      spiI: sa.spiI,
      spiR: sa.spiR,
      sharedSecret: shared,
    });
    wipe(shared);
    keymat.wipe();
    sa.keymat = next;
    this.done++;
    this.pending.shift();
    this.c.log.debug('ike', `IKE_INTERMEDIATE ${this.done}: ${nameOf(DhGroup, method)} mixed in`);
    if (this.pending.length > 0) {
      this.c.xchg.initiate(this);
      return;
    }
    // RFC 9242 §3.3.2: IntAuth = IntAuth_iN | IntAuth_rN | IKE_AUTH_MID (the next message ID).
    next.intAuth = finalIntAuth(this.intAuthI, this.intAuthR, sa.nextMid);
    this.c.tasks.auth.sendAuth();
  }
}
