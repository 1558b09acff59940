/**
 * CHILD_SA creation (RFC 7296 §1.2 with IKE_AUTH, §1.3.1 CREATE_CHILD_SA, §2.9 traffic
 * selectors, §2.17 keying material): the first CHILD_SA's SA/TSi/TSr, the responder's narrowing
 * check, installing CHILD_SAs in the data path, and the bound on how many are held (§1.4.1
 * DELETE of the surplus).
 */
import { VpnError } from '../../core/errors.js';
import { isAead } from '../../crypto/aead.js';
import { NotifyType, PayloadType, ProtocolId } from '../constants.js';
import { filterPayloads, findPayload } from '../codec/index.js';
import type {
  NotifyPayload,
  Payload,
  SaPayload,
  TrafficSelector,
  TsPayload,
} from '../codec/index.js';
import { buildProposals, formatChosen, selectResponderProposal } from '../sa/proposals.js';
import { checkNarrowed } from '../sa/traffic-selectors.js';
import { LIMITS, capSelectors } from '../limits.js';
import { u32 } from '../sa/ike-sa.js';
import type { ChildSa, SaContext } from '../sa/ike-sa.js';
import type { ChildSaInfo } from '../session-types.js';
import type { IkeContext } from '../context.js';
import type { ResponderTask, Reply } from './task.js';

export class CreateChildSa implements ResponderTask {
  private readonly c: IkeContext;
  /** The inbound SPI of the CHILD_SA that IKE_AUTH creates. */
  private childInboundSpi = 0;

  constructor(c: IkeContext) {
    this.c = c;
  }

  /** The first CHILD_SA's SAi2, TSi, TSr in IKE_AUTH (RFC 7296 §1.2, §2.9). */
  buildRequest(): Payload[] {
    this.childInboundSpi = this.c.newChildSpi();
    const sa: SaPayload = {
      type: PayloadType.SA,
      critical: false,
      proposals: buildProposals(this.c.cfg.espProposals, ProtocolId.ESP, u32(this.childInboundSpi)),
    };
    const tsi: TsPayload = {
      type: PayloadType.TSi,
      critical: false,
      selectors: this.c.cfg.tsLocal,
    };
    const tsr: TsPayload = {
      type: PayloadType.TSr,
      critical: false,
      selectors: this.c.cfg.tsRemote,
    };
    return [sa, tsi, tsr];
  }

  /**
   * The first CHILD_SA from the last IKE_AUTH response (§1.2): checks the gateway's choice and
   * selectors, derives the keys (§2.17) and installs it. Fails the SA and returns undefined when
   * it is unusable (errors leave the IKE SA up per §1.2, but a VPN client without a tunnel is
   * useless, so we close it cleanly).
   */
  processResponse(inner: Payload[], notifies: NotifyPayload[]): ChildSaInfo | undefined {
    const keymat = this.c.ike.sa.keymat!;
    if (notifies.some((n) => n.notifyType === NotifyType.USE_TRANSPORT_MODE)) {
      this.c.fail(
        new VpnError('ERR_IKE_PROTOCOL', 'gateway chose transport mode; tunnel mode was requested'),
      );
      return undefined;
    }
    const sa = inner.find((p): p is SaPayload => p.type === PayloadType.SA);
    const tsi = inner.find((p): p is TsPayload => p.type === PayloadType.TSi);
    const tsr = inner.find((p): p is TsPayload => p.type === PayloadType.TSr);
    if (!sa || !tsi || !tsr) {
      this.c.fail(
        new VpnError('ERR_IKE_PROTOCOL', 'IKE_AUTH response lacks SA/TSi/TSr for the CHILD_SA'),
      );
      return undefined;
    }
    const esp = selectResponderProposal(this.c.cfg.espProposals, sa.proposals, ProtocolId.ESP);
    if (typeof esp === 'string') {
      this.c.fail(new VpnError('ERR_IKE_PROTOCOL', `invalid ESP proposal from gateway: ${esp}`));
      return undefined;
    }
    if (esp.spi.length !== 4) {
      this.c.fail(
        new VpnError('ERR_IKE_PROTOCOL', `gateway's ESP SPI has ${esp.spi.length} bytes`),
      );
      return undefined;
    }
    const problem = this.checkResponderSelectors(this.c.cfg.tsLocal, this.c.cfg.tsRemote, tsi, tsr);
    if (problem) {
      this.c.fail(new VpnError('ERR_IKE_TS_UNACCEPTABLE', problem));
      return undefined;
    }
    if (!isAead(esp.encr.id)) {
      this.c.fail(
        new VpnError(
          'ERR_IKE_PROTOCOL',
          `ESP cipher ${esp.encr.id} is not supported by the data path`,
        ),
      );
      return undefined;
    }
    const encrLen = (esp.encr.keyBits ?? 256) / 8 + 4; // key ‖ salt (RFC 4106 §8.1, RFC 7634 §2)
    const keys = keymat.childKeys(this.c.ike.ni, this.c.ike.nr, encrLen, 0);
    const outboundSpi = new DataView(esp.spi.buffer, esp.spi.byteOffset, 4).getUint32(0);
    const child: ChildSaInfo = {
      inbound: {
        spi: this.childInboundSpi,
        encrId: esp.encr.id,
        keymat: keys.encrR,
        replayWindow: this.c.cfg.replayWindow,
      },
      outbound: { spi: outboundSpi, encrId: esp.encr.id, keymat: keys.encrI },
      tsLocal: tsi.selectors,
      tsRemote: tsr.selectors,
      proposal: formatChosen(esp),
    };
    this.addChild(child);
    return child;
  }

  /**
   * CREATE_CHILD_SA started by the gateway (RFC 7296 §1.3): rekeying our CHILD_SA (§1.3.3,
   * N(REKEY_SA), child-rekey.ts) or the IKE SA (§1.3.2, SA with protocol IKE, ike-rekey.ts).
   * Other requests for additional CHILD_SAs are refused with NO_ADDITIONAL_SAS: this client
   * carries one tunnel.
   */
  processRequest(ctx: SaContext, inner: Payload[]): Reply {
    const sa = findPayload(inner, PayloadType.SA);
    const nonce = findPayload(inner, PayloadType.NONCE);
    const ke = findPayload(inner, PayloadType.KE);
    const keymat = ctx.keymat;
    if (!sa || !nonce || !keymat || ctx !== this.c.ike.sa)
      return { reply: [this.c.notify(NotifyType.NO_ADDITIONAL_SAS)] };
    if (sa.proposals.some((p) => p.protocol === ProtocolId.IKE))
      return this.c.tasks.ikeRekey.respondIkeRekey(ctx, keymat, sa.proposals, nonce.data, ke);
    const rekey = filterPayloads(inner, PayloadType.NOTIFY).find(
      (n) => n.notifyType === NotifyType.REKEY_SA,
    );
    if (!rekey) {
      this.c.log.info('ike', 'gateway offered an additional CHILD_SA; answering NO_ADDITIONAL_SAS');
      return { reply: [this.c.notify(NotifyType.NO_ADDITIONAL_SAS)] };
    }
    return this.c.tasks.childRekey.respond(inner, keymat, sa, nonce, ke, rekey);
  }

  /** Installs a CHILD_SA in the data path and arms its rekey timer. */
  addChild(info: ChildSaInfo): ChildSa {
    this.evictSurplusChildren();
    const c: ChildSa = {
      inboundSpi: info.inbound.spi,
      outboundSpi: info.outbound.spi,
      tsLocal: info.tsLocal,
      tsRemote: info.tsRemote,
      replaced: false,
    };
    this.c.ike.children.push(c);
    this.c.out.push({ kind: 'installChild', child: info });
    if (this.c.cfg.childRekeyMs > 0) {
      const jitter = (new DataView(this.c.random.bytes(4).buffer).getUint32(0) / 0x100000000) * 0.1;
      this.c.out.push({
        kind: 'setTimer',
        timer: 'rekey-child',
        at: this.c.now + this.c.cfg.childRekeyMs * (1 - jitter),
      });
    }
    return c;
  }

  activeChild(): ChildSa | undefined {
    for (let i = this.c.ike.children.length - 1; i >= 0; i--)
      if (!this.c.ike.children[i]!.replaced) return this.c.ike.children[i];
    return undefined;
  }

  /**
   * The responder's TSi/TSr must narrow what we proposed (RFC 7296 §2.9): a selector wider than
   * ours refuses the CHILD_SA, never installed wider. Accepted lists are capped at 32 per side.
   */
  checkResponderSelectors(
    local: TrafficSelector[],
    remote: TrafficSelector[],
    tsi: TsPayload,
    tsr: TsPayload,
  ): string | null {
    const problem =
      checkNarrowed(local, tsi.selectors, 'TSi') ?? checkNarrowed(remote, tsr.selectors, 'TSr');
    if (problem) return problem;
    for (const [p, side] of [
      [tsi, 'TSi'],
      [tsr, 'TSr'],
    ] as const) {
      const capped = capSelectors(p.selectors, side);
      if (capped.warning) this.c.warn(`gateway's CHILD_SA: ${capped.warning}`);
      p.selectors = capped.selectors;
    }
    return null;
  }

  /**
   * Keeps at most LIMITS.childSas CHILD_SAs (a gateway rekeying without deleting must not grow
   * the data plane's SA table): makes room for one more by removing the oldest rekeyed ones
   * from the data path at once and sending our DELETE for each (§1.4.1).
   */
  private evictSurplusChildren(): void {
    while (this.c.ike.children.length >= LIMITS.childSas) {
      const victim = this.c.ike.children.find((c) => c.replaced) ?? this.c.ike.children[0]!;
      this.c.ike.children.splice(this.c.ike.children.indexOf(victim), 1);
      this.c.out.push({
        kind: 'removeChild',
        inboundSpi: victim.inboundSpi,
        outboundSpi: victim.outboundSpi,
      });
      this.c.warn(
        `the gateway keeps rekeyed CHILD_SAs without deleting them: deleted the oldest (SPI ${victim.inboundSpi.toString(16).padStart(8, '0')}) to stay within ${LIMITS.childSas}`,
      );
      if (victim.deleteSent) continue;
      victim.deleteSent = true;
      // Already gone from the data path: the answer has nothing left to remove.
      this.c.xchg.enqueue(() =>
        this.c.xchg.initiate(this.c.tasks.del.childDeleteRequest(victim, () => undefined)),
      );
    }
  }
}
