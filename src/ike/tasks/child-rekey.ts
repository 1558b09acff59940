/**
 * CHILD_SA rekeying with CREATE_CHILD_SA (RFC 7296 §1.3.3, §2.8; PFS §1.3.1; INVALID_KE §2.7):
 * ours (N(REKEY_SA), SA, Ni, [KEi], TSi, TSr) and the gateway's, make-before-break, and the
 * simultaneous-rekey rule (§2.8.1). Also answers the gateway's other CREATE_CHILD_SA requests
 * (IKE SA rekey → ike-rekey.ts; additional CHILD_SAs → NO_ADDITIONAL_SAS).
 */
import { wipe } from '../../core/bytes.js';
import { createKeyExchange, isSupportedGroup, respondKeyExchange } from '../../crypto/ke.js';
import { isAead } from '../../crypto/aead.js';
import { ExchangeType, NotifyType, PayloadType, ProtocolId, nameOf } from '../constants.js';
import { runFollowupKe } from './followup-ke.js';
import { filterPayloads, findPayload } from '../codec/index.js';
import type {
  KePayload,
  NoncePayload,
  NotifyPayload,
  Payload,
  SaPayload,
  TsPayload,
} from '../codec/index.js';
import { IkeKeymat } from '../sa/keymat.js';
import {
  buildProposals,
  chooseFromOffer,
  formatChosen,
  selectResponderProposal,
} from '../sa/proposals.js';
import type { ChosenProposal } from '../sa/proposals.js';
import { narrowTo } from '../sa/traffic-selectors.js';
import { capSelectors } from '../limits.js';
import { u32 } from '../sa/ike-sa.js';
import type { ChildSa } from '../sa/ike-sa.js';
import type { ChildSaInfo } from '../session-types.js';
import type { IkeContext } from '../context.js';
import type { Reply } from './task.js';

export class ChildRekey {
  private readonly c: IkeContext;

  constructor(c: IkeContext) {
    this.c = c;
  }

  /** CREATE_CHILD_SA { N(REKEY_SA), SA, Ni, TSi, TSr } for the active CHILD_SA. */
  startChildRekey(group?: number): void {
    if (this.c.ike.state !== 'established') return;
    const old = this.c.tasks.child.activeChild();
    if (!old || old.ours) return;
    // PFS (§1.3.1): when our ESP proposals name a key exchange group, the rekey carries a KE.
    const pfs = group ?? this.c.cfg.espProposals[0]?.dh.find((d) => d.id !== 0)?.id;
    old.ours =
      pfs === undefined
        ? { ni: this.c.random.bytes(32) }
        : { ni: this.c.random.bytes(32), ke: createKeyExchange(pfs, this.c.random) };
    this.c.xchg.enqueue(() => {
      const ours = old.ours;
      if (!ours || old.replaced) {
        old.ours = undefined;
        return;
      }
      const inboundSpi = this.c.newChildSpi();
      const rekey = {
        ...this.c.notify(NotifyType.REKEY_SA),
        protocol: ProtocolId.ESP,
        spi: u32(old.inboundSpi),
      };
      const inner: Payload[] = [
        rekey,
        {
          type: PayloadType.SA,
          critical: false,
          proposals: buildProposals(this.c.cfg.espProposals, ProtocolId.ESP, u32(inboundSpi)),
        },
        { type: PayloadType.NONCE, critical: false, data: ours.ni },
        ...(ours.ke
          ? [
              {
                type: PayloadType.KE,
                critical: false,
                dhGroup: ours.ke.group,
                data: ours.ke.publicValue,
              } as KePayload,
            ]
          : []),
        { type: PayloadType.TSi, critical: false, selectors: old.tsLocal },
        { type: PayloadType.TSr, critical: false, selectors: old.tsRemote },
      ];
      this.c.xchg.initiate({
        exchange: ExchangeType.CREATE_CHILD_SA,
        what: 'a CHILD_SA rekey',
        buildRequest: () => inner,
        processResponse: (_h, p) => this.processOwnChildRekey(old, inboundSpi, p),
      });
    });
  }

  private processOwnChildRekey(old: ChildSa, inboundSpi: number, inner: Payload[]): void {
    const ours = old.ours;
    const retry = (why: string): void => {
      this.c.log.info('ike', `CHILD_SA rekey not done (${why}); retrying in 10 s`);
      old.ours = undefined;
      if (!old.replaced)
        this.c.out.push({ kind: 'setTimer', timer: 'rekey-child', at: this.c.now + 10000 });
    };
    if (!ours) return;
    const notifies = filterPayloads(inner, PayloadType.NOTIFY);
    const invalidKe = notifies.find((n) => n.notifyType === NotifyType.INVALID_KE_PAYLOAD);
    if (invalidKe?.data.length === 2 && ours.ke) {
      // §1.3.1/§2.7: the gateway wants another PFS group; retry with it if we offered it.
      const wanted = (invalidKe.data[0]! << 8) | invalidKe.data[1]!;
      if (
        wanted !== ours.ke.group &&
        this.c.cfg.espProposals.some((p) => p.dh.some((d) => d.id === wanted))
      ) {
        old.ours = undefined;
        this.startChildRekey(wanted);
        return;
      }
    }
    const error = notifies.find((n) => n.notifyType < 16384);
    if (error) {
      retry(nameOf(NotifyType, error.notifyType));
      return;
    }
    const sa = findPayload(inner, PayloadType.SA);
    const nonce = findPayload(inner, PayloadType.NONCE);
    const tsi = findPayload(inner, PayloadType.TSi);
    const tsr = findPayload(inner, PayloadType.TSr);
    const chosen = sa
      ? selectResponderProposal(this.c.cfg.espProposals, sa.proposals, ProtocolId.ESP)
      : 'no SA';
    if (
      !nonce ||
      !tsi ||
      !tsr ||
      typeof chosen === 'string' ||
      chosen.spi.length !== 4 ||
      !isAead(chosen.encr.id)
    ) {
      retry(typeof chosen === 'string' ? chosen : 'malformed response');
      return;
    }
    const problem = this.c.tasks.child.checkResponderSelectors(old.tsLocal, old.tsRemote, tsi, tsr);
    if (problem) {
      retry(problem);
      return;
    }
    // §1.3.1: with PFS the gateway answers our KE with its own, in the group it chose.
    const kePayload = findPayload(inner, PayloadType.KE);
    let shared: Uint8Array | undefined;
    if (ours.ke) {
      if (!kePayload || chosen.dh?.id !== ours.ke.group || kePayload.dhGroup !== ours.ke.group) {
        retry('no matching KE in the answer to our PFS rekey');
        return;
      }
      try {
        shared = ours.ke.computeSharedSecret(kePayload.data);
      } catch (e) {
        retry(`invalid KE: ${(e as Error).message}`);
        return;
      }
    }
    const addKe = chosen.addKe ?? [];
    if (addKe.length > 0) {
      // RFC 9370 §2.2.4: the additional key exchanges follow in IKE_FOLLOWUP_KE exchanges; the
      // new CHILD_SA exists only once they are done.
      const link = notifies.find((n) => n.notifyType === NotifyType.ADDITIONAL_KEY_EXCHANGE);
      if (!shared || !link) {
        retry('additional key exchanges chosen without PFS or without ADDITIONAL_KEY_EXCHANGE');
        return;
      }
      const sk0 = shared;
      runFollowupKe(
        this.c,
        'a CHILD_SA rekey',
        addKe.map((a) => a.id),
        link.data.slice(),
        (o) => {
          if (!o.secrets) {
            wipe(sk0);
            retry(o.error ?? 'IKE_FOLLOWUP_KE failed');
            return;
          }
          this.finishOwnChildRekey(old, inboundSpi, chosen, nonce.data, tsi, tsr, sk0, o.secrets);
        },
      );
      return;
    }
    this.finishOwnChildRekey(old, inboundSpi, chosen, nonce.data, tsi, tsr, shared, []);
  }

  /** Derives and installs the CHILD_SA our rekey created, then deletes the old one (§2.17, §1.3.3). */
  private finishOwnChildRekey(
    old: ChildSa,
    inboundSpi: number,
    chosen: ChosenProposal,
    nr: Uint8Array,
    tsi: TsPayload,
    tsr: TsPayload,
    shared: Uint8Array | undefined,
    additional: Uint8Array[],
  ): void {
    const ours = old.ours;
    if (!ours || this.c.ike.state !== 'established') return;
    // §2.17: we initiated this exchange, so our nonce is Ni and our outbound keys come first;
    // KEYMAT = prf+(SK_d, g^ir (new) | Ni | Nr) with PFS, RFC 9370 §2.2.4 appends SK(1..n).
    const keys = this.c.ike.sa.keymat!.childKeys(
      ours.ni,
      nr,
      (chosen.encr.keyBits ?? 256) / 8 + 4,
      0,
      shared,
      additional,
    );
    if (shared) wipe(shared);
    wipe(...additional);
    const info: ChildSaInfo = {
      inbound: {
        spi: inboundSpi,
        encrId: chosen.encr.id,
        keymat: keys.encrR,
        replayWindow: this.c.cfg.replayWindow,
      },
      outbound: {
        spi: new DataView(chosen.spi.buffer, chosen.spi.byteOffset, 4).getUint32(0),
        encrId: chosen.encr.id,
        keymat: keys.encrI,
      },
      tsLocal: tsi.selectors,
      tsRemote: tsr.selectors,
      proposal: formatChosen(chosen),
    };
    ours.nr = nr.slice();
    ours.child = this.c.tasks.child.addChild(info);
    old.replaced = true;
    this.c.counters.childRekeys++;
    this.c.emit({ type: 'rekeyed', what: 'child', by: 'us', proposal: info.proposal });
    if (!this.resolveRekeyCollision(old)) this.c.tasks.del.deleteChild(old);
  }

  /**
   * §2.8.1: when both ends rekeyed the same CHILD_SA, the new SA from the exchange holding the
   * lowest of the four nonces is redundant and is deleted by that exchange's initiator; the other
   * exchange's initiator deletes the old SA. Returns true when it handled a collision.
   */
  private resolveRekeyCollision(old: ChildSa): boolean {
    const ours = old.ours;
    const theirs = old.theirs;
    if (!ours?.child || !ours.nr || !theirs) return false;
    const min = (a: Uint8Array, b: Uint8Array): Uint8Array => (Buffer.compare(a, b) <= 0 ? a : b);
    const weLose = Buffer.compare(min(ours.ni, ours.nr), min(theirs.ni, theirs.nr)) < 0;
    this.c.log.info(
      'ike',
      `simultaneous CHILD_SA rekey: ${weLose ? 'ours' : "the gateway's"} is redundant`,
    );
    if (weLose) this.c.tasks.del.deleteChild(ours.child);
    else this.c.tasks.del.deleteChild(old);
    return true;
  }

  /**
   * The gateway's CREATE_CHILD_SA { N(REKEY_SA), SA, Ni, [KEi], TSi, TSr } rekeying one of our
   * CHILD_SAs (RFC 7296 §1.3.3); create-child-sa.ts routes it here.
   */
  respond(
    inner: Payload[],
    keymat: IkeKeymat,
    sa: SaPayload,
    nonce: NoncePayload,
    ke: KePayload | undefined,
    rekey: NotifyPayload,
  ): Reply {
    const old =
      rekey.spi.length === 4
        ? new DataView(rekey.spi.buffer, rekey.spi.byteOffset, 4).getUint32(0)
        : -1;
    const child = this.c.ike.children.find((c) => c.outboundSpi === old || c.inboundSpi === old);
    if (!child || child.theirs) {
      // §2.25: the SA to rekey is gone (e.g. we just deleted it).
      const n = this.c.notify(NotifyType.CHILD_SA_NOT_FOUND);
      return { reply: [{ ...n, protocol: ProtocolId.ESP, spi: rekey.spi }] };
    }
    const tsi = findPayload(inner, PayloadType.TSi);
    const tsr = findPayload(inner, PayloadType.TSr);
    // The gateway initiates this exchange: its TSi is its side, its TSr is ours (§2.9). We may
    // only narrow, and the new SA keeps the old one's selectors (§2.9.2), at most 32 per side.
    const theirSide = tsi
      ? capSelectors(narrowTo(child.tsRemote, tsi.selectors), 'TSi')
      : undefined;
    const ourSide = tsr ? capSelectors(narrowTo(child.tsLocal, tsr.selectors), 'TSr') : undefined;
    if (!tsi || !tsr || !theirSide?.selectors.length || !ourSide?.selectors.length) {
      return { reply: [this.c.notify(NotifyType.TS_UNACCEPTABLE)] };
    }
    tsi.selectors = theirSide.selectors;
    tsr.selectors = ourSide.selectors;
    const choice = chooseFromOffer(sa.proposals, this.c.cfg.espProposals, ProtocolId.ESP, {
      ...(ke ? { dhGroup: ke.dhGroup } : {}),
      acceptDh: isSupportedGroup,
    });
    if (!choice || choice.chosen.spi.length !== 4 || !isAead(choice.chosen.encr.id)) {
      return { reply: [this.c.notify(NotifyType.NO_PROPOSAL_CHOSEN)] };
    }
    if (choice.chosen.addKe && !ke) {
      // RFC 9370 §2.2.4: additional key exchanges follow a first one in CREATE_CHILD_SA.
      return { reply: [this.c.notify(NotifyType.INVALID_SYNTAX)] };
    }
    const nr = this.c.random.bytes(32);
    let shared: Uint8Array | undefined;
    const reply: Payload[] = [];
    const inboundSpi = this.c.newChildSpi();
    reply.push({
      type: PayloadType.SA,
      critical: false,
      proposals: [
        {
          num: choice.chosen.num,
          protocol: ProtocolId.ESP,
          spi: u32(inboundSpi),
          transforms: choice.transforms,
        },
      ],
    });
    reply.push({ type: PayloadType.NONCE, critical: false, data: nr });
    if (ke) {
      try {
        // ML-KEM answers with a ciphertext (draft-ietf-ipsecme-ikev2-mlkem), DH with a key pair.
        const mine = respondKeyExchange(ke.dhGroup, ke.data, this.c.random);
        shared = mine.sharedSecret;
        reply.push({
          type: PayloadType.KE,
          critical: false,
          dhGroup: ke.dhGroup,
          data: mine.publicValue,
        });
      } catch {
        return { reply: [this.c.notify(NotifyType.INVALID_SYNTAX)] };
      }
    }
    reply.push(tsi, tsr);
    const install = (additional: Uint8Array[]): void => {
      // §2.17: the exchange initiator's nonce comes first; its direction's keys come first.
      const encrLen = (choice.chosen.encr.keyBits ?? 256) / 8 + 4;
      const keys = keymat.childKeys(nonce.data, nr, encrLen, 0, shared, additional);
      if (shared) wipe(shared);
      wipe(...additional);
      const outboundSpi = new DataView(
        choice.chosen.spi.buffer,
        choice.chosen.spi.byteOffset,
        4,
      ).getUint32(0);
      const info: ChildSaInfo = {
        inbound: {
          spi: inboundSpi,
          encrId: choice.chosen.encr.id,
          keymat: keys.encrI,
          replayWindow: this.c.cfg.replayWindow,
        },
        outbound: { spi: outboundSpi, encrId: choice.chosen.encr.id, keymat: keys.encrR },
        tsLocal: tsr.selectors,
        tsRemote: tsi.selectors,
        proposal: formatChosen(choice.chosen),
      };
      // Make-before-break: the new SA is used from now on; the old one stays until deleted.
      const created = this.c.tasks.child.addChild(info);
      child.replaced = true;
      child.theirs = { ni: nonce.data.slice(), nr, child: created };
      this.c.counters.childRekeys++;
      this.c.emit({ type: 'rekeyed', what: 'child', by: 'peer', proposal: info.proposal });
      this.resolveRekeyCollision(child);
    };
    const addKe = choice.chosen.addKe ?? [];
    if (addKe.length > 0) {
      // RFC 9370 §2.2.4: the gateway continues with IKE_FOLLOWUP_KE exchanges (followup-ke.ts);
      // the new CHILD_SA exists once the last one is answered. Until then it is only "theirs".
      const link = this.c.tasks.followup.expect(
        addKe.map((a) => a.id),
        install,
        () => {
          if (shared) wipe(shared);
        },
      );
      reply.push(this.c.notify(NotifyType.ADDITIONAL_KEY_EXCHANGE, link));
      return { reply };
    }
    return { reply, after: () => install([]) };
  }
}
