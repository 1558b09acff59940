/**
 * IKE SA rekeying with CREATE_CHILD_SA (RFC 7296 §1.3.2, §2.18): ours and the gateway's, the
 * old SA's DELETE, and simultaneous IKE SA rekeys (§2.8.1, the lowest nonce loses).
 */
import { wipe } from '../../core/bytes.js';
import { createKeyExchange, isSupportedGroup, respondKeyExchange } from '../../crypto/ke.js';
import type { KeyExchange } from '../../crypto/ke.js';
import { ExchangeType, NotifyType, PayloadType, ProtocolId, nameOf } from '../constants.js';
import { filterPayloads, findPayload } from '../codec/index.js';
import type { KePayload, Payload, Proposal } from '../codec/index.js';
import { IkeKeymat } from '../sa/keymat.js';
import {
  buildProposals,
  chooseFromOffer,
  formatChosen,
  selectResponderProposal,
} from '../sa/proposals.js';
import type { ChosenProposal } from '../sa/proposals.js';
import { newContext } from '../sa/ike-sa.js';
import type { SaContext } from '../sa/ike-sa.js';
import type { IkeContext } from '../context.js';
import { IKE_REKEY_WHAT, OLD_IKE_DELETE } from './task.js';
import { runFollowupKe } from './followup-ke.js';

export class IkeRekey {
  private readonly c: IkeContext;
  /**
   * §2.8.1 simultaneous IKE SA rekey: the SA the gateway's rekey created while ours was in flight
   * (adopted if ours loses the nonce comparison; the loser the gateway deletes is ike.redundant).
   */
  private collision:
    { ctx: SaContext; ni: Uint8Array; nr: Uint8Array; proposal: ChosenProposal } | undefined;
  /** Our rekey, from its start (queued or in flight) until its response. */
  private ikeRekeying: { ni: Uint8Array; spiI: Uint8Array; ke: KeyExchange } | undefined;

  constructor(c: IkeContext) {
    this.c = c;
  }

  /** §1.3.2 / §2.18: the gateway rekeys the IKE SA; the new SA's original initiator is the gateway. */
  respondIkeRekey(
    ctx: SaContext,
    keymat: IkeKeymat,
    offered: Proposal[],
    ni: Uint8Array,
    ke: KePayload | undefined,
  ): { reply: Payload[]; after?: () => void } {
    if (!ke) return { reply: [this.c.notify(NotifyType.INVALID_SYNTAX)] };
    const oursInFlight = this.c.ike.sa.outstanding?.what === IKE_REKEY_WHAT;
    if (this.c.ike.pendingNext || this.collision || (this.ikeRekeying && !oursInFlight)) {
      if (this.ikeRekeying && !oursInFlight && !this.c.ike.pendingNext && !this.collision) {
        // Ours is still queued: drop it and take the gateway's.
        this.ikeRekeying = undefined;
      } else {
        // Our rekey already finished (we are deleting the old SA): let the gateway retry (§2.25).
        return { reply: [this.c.notify(NotifyType.TEMPORARY_FAILURE)] };
      }
    }
    const choice = chooseFromOffer(offered, this.c.cfg.ikeProposals, ProtocolId.IKE, {
      dhGroup: ke.dhGroup,
      acceptDh: isSupportedGroup,
    });
    if (!choice) {
      // Maybe only the KE group is wrong: ask for one we both offered (§1.3.2 allows INVALID_KE_PAYLOAD).
      const other = chooseFromOffer(offered, this.c.cfg.ikeProposals, ProtocolId.IKE, {
        acceptDh: isSupportedGroup,
      });
      if (other?.chosen.dh && other.chosen.dh.id !== ke.dhGroup) {
        const g = new Uint8Array(2);
        new DataView(g.buffer).setUint16(0, other.chosen.dh.id);
        return { reply: [this.c.notify(NotifyType.INVALID_KE_PAYLOAD, g)] };
      }
      return { reply: [this.c.notify(NotifyType.NO_PROPOSAL_CHOSEN)] };
    }
    if (choice.chosen.spi.length !== 8)
      return { reply: [this.c.notify(NotifyType.INVALID_SYNTAX)] };
    const addKe = choice.chosen.addKe ?? [];
    // §2.8.1 with RFC 9370 follow-ups on both sides is not handled: let ours go first (§2.25).
    if (addKe.length > 0 && oursInFlight)
      return { reply: [this.c.notify(NotifyType.TEMPORARY_FAILURE)] };
    let mine: { publicValue: Uint8Array };
    let shared: Uint8Array;
    try {
      // ML-KEM answers with a ciphertext (draft-ietf-ipsecme-ikev2-mlkem), DH with a key pair.
      const r = respondKeyExchange(ke.dhGroup, ke.data, this.c.random);
      mine = r;
      shared = r.sharedSecret;
    } catch {
      return { reply: [this.c.notify(NotifyType.INVALID_SYNTAX)] };
    }
    const nr = this.c.random.bytes(32);
    const spiR = this.c.randomNonZero(8);
    const next = newContext(choice.chosen.spi.slice(), spiR, false);
    const derive = (additional: Uint8Array[]): void => {
      // §2.18; RFC 9370 §2.2.4: SKEYSEED = prf(SK_d, SK(0) | Ni | Nr | SK(1) | ... | SK(n)).
      next.keymat = new IkeKeymat({
        proposal: choice.chosen,
        weInitiated: false,
        rekeyOf: keymat.rekeySeed(),
        ni,
        nr,
        spiI: next.spiI,
        spiR,
        sharedSecret: shared,
        ...(additional.length > 0 ? { additional } : {}),
      });
      wipe(shared, ...additional);
    };
    if (addKe.length === 0) derive([]);
    const reply: Payload[] = [
      {
        type: PayloadType.SA,
        critical: false,
        proposals: [
          {
            num: choice.chosen.num,
            protocol: ProtocolId.IKE,
            spi: spiR,
            transforms: choice.transforms,
          },
        ],
      },
      { type: PayloadType.NONCE, critical: false, data: nr },
      { type: PayloadType.KE, critical: false, dhGroup: ke.dhGroup, data: mine.publicValue },
    ];
    if (oursInFlight) {
      // §2.8.1: both ends rekey at once. Answer; which new SA survives is decided by the nonces
      // once our own exchange completes (processOwnIkeRekey).
      this.collision = { ctx: next, ni: ni.slice(), nr, proposal: choice.chosen };
      return { reply };
    }
    const adopt = (): void => {
      // The CHILD_SAs move to the new IKE SA; the old one answers until the gateway deletes it.
      if (this.c.ike.retired) this.c.ike.retired.keymat?.wipe();
      this.c.ike.retired = ctx;
      this.c.ike.sa = next;
      this.c.ike.ikeProposal = choice.chosen;
      this.scheduleIkeRekey();
      this.c.counters.ikeRekeys++;
      this.c.emit({
        type: 'rekeyed',
        what: 'ike',
        by: 'peer',
        proposal: formatChosen(choice.chosen),
      });
    };
    if (addKe.length > 0) {
      // RFC 9370 §2.2.4: the gateway's IKE_FOLLOWUP_KE exchanges (on this, the old SA) come
      // first; the new SA is keyed and used once the last one is answered.
      const link = this.c.tasks.followup.expect(
        addKe.map((a) => a.id),
        (secrets) => {
          if (this.c.ike.sa !== ctx || this.c.ike.state !== 'established') {
            wipe(shared, ...secrets);
            return;
          }
          derive(secrets);
          adopt();
        },
        () => wipe(shared),
      );
      reply.push(this.c.notify(NotifyType.ADDITIONAL_KEY_EXCHANGE, link));
      return { reply };
    }
    return { reply, after: adopt };
  }

  scheduleIkeRekey(): void {
    if (this.c.cfg.ikeRekeyMs <= 0) return;
    const jitter = (new DataView(this.c.random.bytes(4).buffer).getUint32(0) / 0x100000000) * 0.1;
    this.c.out.push({
      kind: 'setTimer',
      timer: 'rekey-ike',
      at: this.c.now + this.c.cfg.ikeRekeyMs * (1 - jitter),
    });
  }

  /** CREATE_CHILD_SA { SA(IKE, new SPIi), Ni, KEi } on the current IKE SA. */
  startIkeRekey(group?: number): void {
    if (
      this.c.ike.state !== 'established' ||
      this.ikeRekeying ||
      this.c.ike.pendingNext ||
      !this.c.ike.ikeProposal?.dh
    )
      return;
    const dh = group ?? this.c.ike.ikeProposal.dh.id;
    this.ikeRekeying = {
      ni: this.c.random.bytes(32),
      spiI: this.c.randomNonZero(8),
      ke: createKeyExchange(dh, this.c.random),
    };
    this.c.xchg.enqueue(() => {
      const r = this.ikeRekeying;
      if (!r) return;
      const inner: Payload[] = [
        {
          type: PayloadType.SA,
          critical: false,
          proposals: buildProposals(this.c.cfg.ikeProposals, ProtocolId.IKE, r.spiI),
        },
        { type: PayloadType.NONCE, critical: false, data: r.ni },
        { type: PayloadType.KE, critical: false, dhGroup: r.ke.group, data: r.ke.publicValue },
      ];
      this.c.xchg.initiate({
        exchange: ExchangeType.CREATE_CHILD_SA,
        what: IKE_REKEY_WHAT,
        buildRequest: () => inner,
        processResponse: (_h, p) => this.processOwnIkeRekey(p),
      });
    });
  }

  private processOwnIkeRekey(inner: Payload[]): void {
    const r = this.ikeRekeying;
    this.ikeRekeying = undefined;
    const old = this.c.ike.sa;
    if (!r || !old.keymat) return;
    const retryLater = (why: string): void => {
      this.c.log.info('ike', `IKE SA rekey not done (${why}); retrying in 10 s`);
      this.c.out.push({ kind: 'setTimer', timer: 'rekey-ike', at: this.c.now + 10000 });
    };
    const notifies = filterPayloads(inner, PayloadType.NOTIFY);
    const invalidKe = notifies.find((n) => n.notifyType === NotifyType.INVALID_KE_PAYLOAD);
    if (invalidKe && invalidKe.data.length === 2) {
      const wanted = new DataView(invalidKe.data.buffer, invalidKe.data.byteOffset, 2).getUint16(0);
      if (
        wanted !== r.ke.group &&
        this.c.cfg.ikeProposals.some((p) => p.dh.some((d) => d.id === wanted))
      ) {
        this.startIkeRekey(wanted);
        return;
      }
    }
    const error = notifies.find((n) => n.notifyType < 16384);
    if (error) {
      if (this.collision) {
        // The gateway refused ours (it saw the collision too): its rekey stands.
        this.adoptCollision(old);
        return;
      }
      retryLater(nameOf(NotifyType, error.notifyType));
      return;
    }
    const sa = findPayload(inner, PayloadType.SA);
    const nonce = findPayload(inner, PayloadType.NONCE);
    const ke = findPayload(inner, PayloadType.KE);
    const chosen = sa
      ? selectResponderProposal(this.c.cfg.ikeProposals, sa.proposals, ProtocolId.IKE)
      : 'no SA';
    if (this.collision && (!nonce || typeof chosen === 'string')) {
      this.adoptCollision(old);
      return;
    }
    if (
      !nonce ||
      !ke ||
      typeof chosen === 'string' ||
      chosen.spi.length !== 8 ||
      chosen.dh?.id !== r.ke.group ||
      ke.dhGroup !== r.ke.group
    ) {
      retryLater(typeof chosen === 'string' ? chosen : 'malformed response');
      return;
    }
    let shared: Uint8Array;
    try {
      shared = r.ke.computeSharedSecret(ke.data);
    } catch (e) {
      retryLater((e as Error).message);
      return;
    }
    const addKe = chosen.addKe ?? [];
    if (addKe.length > 0) {
      // RFC 9370 §2.2.4: additional key exchanges in IKE_FOLLOWUP_KE, then the new SA's keys.
      const link = notifies.find((n) => n.notifyType === NotifyType.ADDITIONAL_KEY_EXCHANGE);
      if (!link) {
        wipe(shared);
        retryLater('additional key exchanges chosen without ADDITIONAL_KEY_EXCHANGE');
        return;
      }
      const sk0 = shared;
      runFollowupKe(
        this.c,
        IKE_REKEY_WHAT,
        addKe.map((a) => a.id),
        link.data.slice(),
        (o) => {
          if (!o.secrets) {
            wipe(sk0);
            retryLater(o.error ?? 'IKE_FOLLOWUP_KE failed');
            return;
          }
          if (this.c.ike.sa !== old || !old.keymat) return;
          this.finishOwnIkeRekey(old, r, chosen, nonce.data, sk0, o.secrets);
        },
      );
      return;
    }
    this.finishOwnIkeRekey(old, r, chosen, nonce.data, shared, []);
  }

  /** The new IKE SA of our rekey (§2.18; RFC 9370 §2.2.4 with `additional`), then the old one's DELETE. */
  private finishOwnIkeRekey(
    old: SaContext,
    r: { ni: Uint8Array; spiI: Uint8Array },
    chosen: ChosenProposal,
    nr: Uint8Array,
    shared: Uint8Array,
    additional: Uint8Array[],
  ): void {
    const next = newContext(r.spiI, chosen.spi.slice(), true);
    next.keymat = new IkeKeymat({
      proposal: chosen,
      weInitiated: true,
      rekeyOf: old.keymat!.rekeySeed(),
      ni: r.ni,
      nr,
      spiI: r.spiI,
      spiR: next.spiR,
      sharedSecret: shared,
      ...(additional.length > 0 ? { additional } : {}),
    });
    wipe(shared, ...additional);
    const c = this.collision;
    if (c) {
      this.collision = undefined;
      // §2.8.1: "the SA created with the lowest of the four nonces ... SHOULD be closed by the
      // endpoint that created it"; the other one carries on.
      const lowest = [r.ni, nr, c.ni, c.nr].reduce((a, b) => (Buffer.compare(a, b) <= 0 ? a : b));
      const oursLoses = lowest === r.ni || lowest === nr;
      if (oursLoses) {
        this.c.log.info(
          'ike',
          "simultaneous IKE SA rekey: the gateway's wins (lower nonce); deleting ours",
        );
        // Ours is redundant: delete it (on itself, §1.4.1) and take the gateway's.
        try {
          this.c.transmit(
            this.c.xchg.buildEncrypted(
              ExchangeType.INFORMATIONAL,
              0,
              false,
              [this.c.deleteIkePayload()],
              next,
            ),
          );
        } catch {
          // best effort: the gateway expires it otherwise
        }
        next.keymat?.wipe();
        this.collision = c;
        this.adoptCollision(old);
        return;
      }
      this.c.log.info('ike', 'simultaneous IKE SA rekey: ours wins (lower nonce on theirs)');
      // The gateway deletes the SA its exchange made; keep it to answer that DELETE.
      if (this.c.ike.redundant) this.c.ike.redundant.keymat?.wipe();
      this.c.ike.redundant = c.ctx;
    }
    this.c.ike.pendingNext = next;
    this.c.ike.ikeProposal = chosen;
    this.c.counters.ikeRekeys++;
    this.c.emit({ type: 'rekeyed', what: 'ike', by: 'us', proposal: formatChosen(chosen) });
    // §2.18: the rekey's initiator deletes the old IKE SA; the CHILD_SAs now belong to the new one.
    // Still on the old SA (`old` is ike.sa), with its next message ID.
    this.c.xchg.initiate(
      {
        exchange: ExchangeType.INFORMATIONAL,
        what: OLD_IKE_DELETE,
        buildRequest: () => [this.c.deleteIkePayload()],
        processResponse: () => this.switchToNext(),
      },
      () => {
        if (!this.c.ike.pendingNext) return false;
        // The gateway never confirmed the old SA's deletion: use the new SA anyway.
        this.switchToNext();
        this.c.xchg.runQueue();
        return true;
      },
    );
  }

  /** Takes the IKE SA the gateway's colliding rekey made; the gateway deletes the old one. */
  private adoptCollision(old: SaContext): void {
    const c = this.collision;
    this.collision = undefined;
    if (!c) return;
    if (this.c.ike.retired) this.c.ike.retired.keymat?.wipe();
    this.c.ike.retired = old;
    this.c.ike.sa = c.ctx;
    this.c.ike.ikeProposal = c.proposal;
    this.scheduleIkeRekey();
    this.c.counters.ikeRekeys++;
    this.c.emit({ type: 'rekeyed', what: 'ike', by: 'peer', proposal: formatChosen(c.proposal) });
    this.c.xchg.runQueue();
  }

  private switchToNext(): void {
    const next = this.c.ike.pendingNext;
    if (!next) return;
    this.c.ike.sa.keymat?.wipe();
    this.c.ike.sa = next;
    this.c.ike.pendingNext = undefined;
    this.scheduleIkeRekey();
  }
}
