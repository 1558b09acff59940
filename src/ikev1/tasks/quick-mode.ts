/**
 * IKEv1 Quick Mode (RFC 2409 §5.5): ours (HASH(1), SA, Ni, [KE], IDci, IDcr → HASH(2) … → HASH(3),
 * the KEYMAT of each direction, PFS optional), our rekey of the IPsec SA (make before break, then
 * DELETE of the old one), the gateway's rekey answered as responder, and the lifetime it chose or
 * announced in RESPONDER-LIFETIME (RFC 2407 §4.6.3.1).
 */
import { equalBytes, toHex } from '../../core/bytes.js';
import { VpnError } from '../../core/errors.js';
import { createKeyExchange } from '../../crypto/ke.js';
import type { KeyExchange } from '../../crypto/ke.js';
import type { TrafficSelector } from '../../ike/codec/index.js';
import { formatIdentity } from '../../ike/identity.js';
import { LIMITS } from '../../ike/limits.js';
import { checkNarrowed, formatTs } from '../../ike/sa/traffic-selectors.js';
import type { ChildSaInfo } from '../../ike/session-types.js';
import { IPSEC_DOI, V1Exchange as X, V1Notify, V1Payload as P, V1Protocol } from '../constants.js';
import { findData } from '../codec/index.js';
import type {
  V1Chain,
  V1DeletePayload,
  V1Header,
  V1IdPayload,
  V1PayloadAny,
} from '../codec/index.js';
import { hashMid, qmHash2, qmHash3, quickModeKeymat } from '../keymat.js';
import {
  V1EncapMode,
  decodePhase2Choice,
  decodeResponderLifetime,
  decodeSaBody,
  encodeSaBody,
  encodePhase2Sa,
  formatPhase1Spec,
  formatPhase2Spec,
} from '../sa-payload.js';
import type { V1Phase2Spec } from '../sa-payload.js';
import { idFromTs, tsFromId } from '../ts-id.js';

import { NONCE_LENGTH, u32 } from '../context.js';
import type { ChildV1, IsakmpSa, V1Context } from '../context.js';

export class QuickMode {
  private readonly c: V1Context;

  constructor(c: V1Context) {
    this.c = c;
  }

  /** Quick Mode in flight (ours): its nonce, key exchange and SPI. */
  qm: { mid: number; ni: Uint8Array; ke?: KeyExchange; spi: number; rekeyOf?: ChildV1 } | undefined;

  /** The lifetime of our newest IPsec SA as the gateway accepted it (0: unknown). */
  childLifeMs = 0;

  /** The gateway's Quick Mode we answered, waiting for its HASH(3). */
  peerQm:
    | {
        mid: number;
        ni: Uint8Array;
        nr: Uint8Array;
        spi: number;
        peerSpi: number;
        spec: V1Phase2Spec;
        tsLocal: TrafficSelector;
        tsRemote: TrafficSelector;
        gqm?: Uint8Array;
      }
    | undefined;

  /** Our last QM3 and the QM2 it answered (a retransmitted QM2 gets it again). */
  lastQm: { qm2: Uint8Array; qm3: Uint8Array } | undefined;

  // -------------------------------------------------------------------------------------------
  // Quick Mode (RFC 2409 §5.5)

  encapsulation(): number {
    if (!this.c.natT) return V1EncapMode.TUNNEL;
    return this.c.sa.peer.nattRfc ? V1EncapMode.UDP_TUNNEL : V1EncapMode.UDP_TUNNEL_DRAFT;
  }

  selectors(): { local: TrafficSelector; remote: TrafficSelector } {
    const remote = this.c.cfg.tsRemote[0];
    let local = this.c.cfg.tsLocal[0];
    if (!remote || !local)
      throw new VpnError(
        'ERR_CONFIG',
        'IKEv1 Quick Mode needs a local and a remote traffic selector',
      );
    if (this.c.vip && this.c.vip.length === local.startAddr.length) {
      // With Mode Config our side of the tunnel is the virtual IP (RFC 2409 §5.5 IDci).
      local = { ...local, startAddr: this.c.vip, endAddr: this.c.vip };
    }
    return { local, remote };
  }

  startQuickMode(rekeyOf?: ChildV1): void {
    this.c.step = rekeyOf ? this.c.step : 'quick';
    if (!rekeyOf && !this.c.cfg.xauth) this.c.emit({ type: 'stage', stage: 'ike-auth' });
    if (!this.c.natT && !this.c.cfg.forceEncap)
      this.c.log.warn(
        'ike',
        'no NAT between us and the gateway, and UDP encapsulation not forced: ESP needs it',
      );
    const sa = this.c.sa;
    const mid = this.c.newMid();
    const spi = this.c.newSpi();
    const ni = this.c.random.bytes(NONCE_LENGTH);
    const pfs = this.c.cfg.phase2[0]!.pfsGroup;
    const ke = pfs === undefined ? undefined : createKeyExchange(pfs, this.c.random);
    const { local, remote } = rekeyOf
      ? { local: rekeyOf.tsLocal, remote: rekeyOf.tsRemote }
      : this.selectors();
    const rest: V1PayloadAny[] = [
      {
        kind: 'data',
        type: P.SA,
        data: encodePhase2Sa(this.c.cfg.phase2, spi, this.encapsulation()),
      },
      { kind: 'data', type: P.NONCE, data: ni },
    ];
    if (ke) rest.push({ kind: 'data', type: P.KE, data: ke.publicValue });
    rest.push(idFromTs(local), idFromTs(remote));
    this.qm = { mid, ni, spi, ...(ke ? { ke } : {}), ...(rekeyOf ? { rekeyOf } : {}) };
    const msg = this.c.sealHashed(sa, X.QUICK_MODE, mid, rest);
    this.c.request({
      exchange: X.QUICK_MODE,
      mid,
      data: msg,
      what: rekeyOf ? 'Quick Mode rekey' : 'Quick Mode message 1',
      sa,
      onReply: (h, c, plain) => this.onQm2(h, c, plain, local, remote),
    });
  }

  onQm2(
    h: V1Header,
    c: V1Chain,
    plain: Uint8Array,
    localTs: TrafficSelector,
    remoteTs: TrafficSelector,
  ): void {
    let local = localTs;
    let remote = remoteTs;
    const qm = this.qm!;
    const sa = this.c.sa;
    const km = sa.keymat!;
    const first = c.payloads[0];
    const rest = plain.subarray(c.spans[0]?.[1] ?? 0, c.end);
    if (
      !first ||
      first.kind !== 'data' ||
      first.type !== P.HASH ||
      !equalBytes(first.data, qmHash2(km.hash, km.skeyidA, h.messageId, qm.ni, rest))
    ) {
      // An error notification in place of QM2 comes as a separate Informational.
      return this.c.drop('bad Quick Mode HASH(2)');
    }
    const sab = findData(c.payloads, P.SA);
    const nr = findData(c.payloads, P.NONCE);
    if (!sab || !nr) return this.c.drop('Quick Mode message 2 lacks SA or nonce');
    if (nr.length < 8 || nr.length > 256)
      return this.c.drop('bad nonce', `nonce of ${nr.length} bytes`);
    this.c.settle();
    // HASH(2) verified: QM3 continues this message ID's IV chain from QM2's last block.
    this.c.acceptIv();
    const { spec, spi: peerSpi } = decodePhase2Choice(sab, this.c.cfg.phase2, this.encapsulation());
    let gqm: Uint8Array | undefined;
    if (qm.ke) {
      const ke = findData(c.payloads, P.KE);
      if (!ke)
        throw new VpnError(
          'ERR_IKE_NO_PROPOSAL',
          'the gateway answered our PFS Quick Mode without a KE payload',
        );
      try {
        gqm = qm.ke.computeSharedSecret(ke);
      } catch (e) {
        throw new VpnError(
          'ERR_IKE_PROTOCOL',
          `the gateway's Quick Mode key exchange value is invalid: ${(e as Error).message}`,
        );
      }
    }
    // IDci / IDcr, when the gateway sends them (RFC 2409 §5.5): ours, or narrowed within ours as
    // strongSwan's responder does; never wider.
    const ids = c.payloads.filter((p): p is V1IdPayload => p.kind === 'id');
    if (ids.length === 2) {
      const [ci, cr] = ids.map((i) => tsFromId(i));
      const problem =
        checkNarrowed([local], [ci!], 'local') ?? checkNarrowed([remote], [cr!], 'remote');
      if (problem)
        throw new VpnError(
          'ERR_IKE_TS_UNACCEPTABLE',
          `Quick Mode: the gateway ${problem.replace('responder ', '')} (${formatTs(ci!)} === ${formatTs(cr!)})`,
        );
      local = ci!;
      remote = cr!;
    }
    // HASH(3), then the keys (RFC 2409 §5.5).
    const qm3 = this.c.seal(sa, X.QUICK_MODE, h.messageId, [
      { kind: 'data', type: P.HASH, data: qmHash3(km.hash, km.skeyidA, h.messageId, qm.ni, nr) },
    ]);
    this.c.transmit(qm3);
    this.lastQm = { qm2: this.c.lastDatagram!, qm3 };
    km.forget(h.messageId);
    const len = spec.keyBits / 8 + 4; // AES-GCM key + 4-byte salt (RFC 4106 §8.1)
    const inKey = quickModeKeymat(km.hash, km.skeyidD, V1Protocol.ESP, qm.spi, qm.ni, nr, len, gqm);
    const outKey = quickModeKeymat(
      km.hash,
      km.skeyidD,
      V1Protocol.ESP,
      peerSpi,
      qm.ni,
      nr,
      len,
      gqm,
    );
    gqm?.fill(0);
    // RFC 2407 §4.6.3.1: the gateway may shorten the lifetime in a RESPONDER-LIFETIME notify (as
    // it may in its SA choice); we then rekey before it expires there.
    let lifeS = spec.lifeSeconds;
    for (const n of c.payloads) {
      if (n.kind !== 'notify' || n.notifyType !== V1Notify.RESPONDER_LIFETIME) continue;
      try {
        lifeS = decodeResponderLifetime(n.data, 2, lifeS).lifeSeconds;
      } catch (e) {
        this.c.log.warn('ike', `ignored a malformed RESPONDER-LIFETIME: ${(e as Error).message}`);
      }
    }
    this.childLifeMs = lifeS * 1000;
    const child: ChildV1 = {
      inboundSpi: qm.spi,
      outboundSpi: peerSpi,
      spec,
      tsLocal: local,
      tsRemote: remote,
      replaced: false,
    };
    const info: ChildSaInfo = {
      inbound: {
        spi: qm.spi,
        encrId: spec.encrId,
        keymat: inKey,
        replayWindow: this.c.cfg.replayWindow,
      },
      outbound: { spi: peerSpi, encrId: spec.encrId, keymat: outKey },
      tsLocal: [local],
      tsRemote: [remote],
      proposal: formatPhase2Spec(spec),
    };
    this.c.push({ kind: 'installChild', child: info });
    this.c.children.push(child);
    const old = qm.rekeyOf;
    this.qm = undefined;
    if (old) {
      // Make before break: the new SA is installed, now DELETE the old one (RFC 2409 §5.5).
      old.replaced = true;
      this.deleteChild(old);
      this.c.counters.childRekeys++;
      this.c.emit({ type: 'rekeyed', what: 'child', by: 'us', proposal: info.proposal });
      this.armChildRekey();
      return;
    }
    this.onEstablished(child);
  }

  /**
   * The gateway's Quick Mode (it rekeys the IPsec SA, RFC 2409 §5.5), as responder:
   *   <-- HASH(1), SA, Ni, [KE], [IDci, IDcr]    HASH(2), SA, Nr, [KE], [IDci, IDcr] -->
   *   <-- HASH(3)   then the new SA is installed; the gateway deletes the old one.
   */
  onPeerQuickMode(sa: IsakmpSa, h: V1Header, c: V1Chain, plain: Uint8Array): void {
    const km = sa.keymat!;
    const mid = h.messageId;
    const first = c.payloads[0];
    const rest = plain.subarray(c.spans[0]?.[1] ?? 0, c.end);
    const pend = this.peerQm;
    if (pend && pend.mid === mid) {
      // QM3: HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b).
      if (
        !first ||
        first.kind !== 'data' ||
        first.type !== P.HASH ||
        !equalBytes(first.data, qmHash3(km.hash, km.skeyidA, mid, pend.ni, pend.nr))
      ) {
        this.c.rejectIv();
        return this.c.drop('bad Quick Mode HASH(3)');
      }
      this.c.acceptIv();
      km.forget(mid);
      this.peerQm = undefined;
      this.installPeerChild(pend);
      return;
    }
    if (this.c.st !== 'established') {
      this.c.rejectIv();
      return this.c.drop('Quick Mode from the gateway before we are established');
    }
    if (
      !first ||
      first.kind !== 'data' ||
      first.type !== P.HASH ||
      !equalBytes(first.data, hashMid(km.hash, km.skeyidA, mid, rest))
    ) {
      this.c.rejectIv();
      return this.c.drop('bad Quick Mode HASH(1)');
    }
    const sab = findData(c.payloads, P.SA);
    const ni = findData(c.payloads, P.NONCE);
    if (!sab || !ni || ni.length < 8 || ni.length > 256) {
      this.c.rejectIv();
      return this.c.drop('Quick Mode message 1 lacks SA or nonce');
    }
    this.c.acceptIv();
    const encap = this.encapsulation();
    // Each of the gateway's ESP transforms on its own, against ours (any lifetime it wants).
    const offered = this.c.cfg.phase2.map((x) => ({ ...x, lifeSeconds: 0xffffffff }));
    let chosen: { spec: V1Phase2Spec; spi: number } | undefined;
    try {
      for (const prop of decodeSaBody(sab).proposals) {
        for (const t of prop.transforms) {
          try {
            chosen = decodePhase2Choice(
              encodeSaBody({ proposals: [{ ...prop, num: 1, transforms: [t] }] }),
              offered,
              encap,
            );
            break;
          } catch {
            // not one of ours: try the next
          }
        }
        if (chosen) break;
      }
    } catch (e) {
      return this.c.drop('malformed Quick Mode SA', (e as Error).message);
    }
    if (!chosen) {
      this.c.log.warn('ike', "the gateway's Quick Mode offers no ESP transform we accept");
      this.c.sendInformational(sa, [
        this.c.notify(V1Notify.NO_PROPOSAL_CHOSEN, V1Protocol.ESP, new Uint8Array(0)),
      ]);
      km.forget(mid);
      return;
    }
    const spec = chosen.spec;
    const cur = this.c.children.find((x) => !x.replaced);
    const ids = c.payloads.filter((p): p is V1IdPayload => p.kind === 'id');
    let tsLocal: TrafficSelector;
    let tsRemote: TrafficSelector;
    try {
      // The gateway initiates: its IDci is its side, IDcr ours.
      tsRemote = ids.length === 2 ? tsFromId(ids[0]!) : cur!.tsRemote;
      tsLocal = ids.length === 2 ? tsFromId(ids[1]!) : cur!.tsLocal;
    } catch (e) {
      return this.c.drop('bad Quick Mode identities', (e as Error).message);
    }
    const spi = this.c.newSpi();
    const nr = this.c.random.bytes(NONCE_LENGTH);
    let gqm: Uint8Array | undefined;
    let ourKe: Uint8Array | undefined;
    const theirKe = findData(c.payloads, P.KE);
    if (spec.pfsGroup !== undefined) {
      if (!theirKe) return this.c.drop('PFS Quick Mode without a KE payload');
      const ke = createKeyExchange(spec.pfsGroup, this.c.random);
      try {
        gqm = ke.computeSharedSecret(theirKe);
      } catch (e) {
        return this.c.drop('bad Quick Mode KE', (e as Error).message);
      }
      ourKe = ke.publicValue;
    }
    const rest2: V1PayloadAny[] = [
      { kind: 'data', type: P.SA, data: encodePhase2Sa([spec], spi, encap) },
      { kind: 'data', type: P.NONCE, data: nr },
    ];
    if (ourKe) rest2.push({ kind: 'data', type: P.KE, data: ourKe });
    rest2.push(...ids);
    const qm2 = this.c.sealHashed(sa, X.QUICK_MODE, mid, rest2, (b) =>
      qmHash2(km.hash, km.skeyidA, mid, ni, b),
    );
    this.c.transmit(qm2);
    sa.lastIn = this.c.lastDatagram;
    sa.lastOut = qm2;
    this.peerQm = {
      mid,
      ni: ni.slice(),
      nr,
      spi,
      peerSpi: chosen.spi,
      spec,
      tsLocal,
      tsRemote,
      ...(gqm ? { gqm } : {}),
    };
  }

  installPeerChild(q: NonNullable<QuickMode['peerQm']>): void {
    const km = this.c.sa.keymat!;
    const len = q.spec.keyBits / 8 + 4;
    // Our inbound SA is keyed with our SPI, the outbound with the gateway's (RFC 2409 §5.5).
    const inKey = quickModeKeymat(
      km.hash,
      km.skeyidD,
      V1Protocol.ESP,
      q.spi,
      q.ni,
      q.nr,
      len,
      q.gqm,
    );
    const outKey = quickModeKeymat(
      km.hash,
      km.skeyidD,
      V1Protocol.ESP,
      q.peerSpi,
      q.ni,
      q.nr,
      len,
      q.gqm,
    );
    q.gqm?.fill(0);
    const old = this.c.children.find((x) => !x.replaced);
    if (old) old.replaced = true; // the gateway deletes it next
    if (this.c.children.length >= LIMITS.childSas) {
      const oldest = this.c.children.find((x) => x.replaced);
      if (oldest) this.c.removeChild(oldest);
    }
    const child: ChildV1 = {
      inboundSpi: q.spi,
      outboundSpi: q.peerSpi,
      spec: q.spec,
      tsLocal: q.tsLocal,
      tsRemote: q.tsRemote,
      replaced: false,
    };
    this.c.children.push(child);
    const proposal = formatPhase2Spec(q.spec);
    this.c.push({
      kind: 'installChild',
      child: {
        inbound: {
          spi: q.spi,
          encrId: q.spec.encrId,
          keymat: inKey,
          replayWindow: this.c.cfg.replayWindow,
        },
        outbound: { spi: q.peerSpi, encrId: q.spec.encrId, keymat: outKey },
        tsLocal: [q.tsLocal],
        tsRemote: [q.tsRemote],
        proposal,
      },
    });
    this.c.counters.childRekeys++;
    this.c.emit({ type: 'rekeyed', what: 'child', by: 'peer', proposal });
  }

  onEstablished(child: ChildV1): void {
    this.c.step = 'done';
    const sa = this.c.sa;
    this.c.setState('established');
    this.c.emit({
      type: 'established',
      info: {
        localId: formatIdentity(this.c.cfg.localId),
        remoteId: formatIdentity(sa.gwId!),
        ikeProposal: formatPhase1Spec(sa.spec!),
        espProposal: formatPhase2Spec(child.spec),
        natHere: this.c.natHere,
        natThere: this.c.natThere,
        config: this.c.config,
        tsLocal: [formatTs(child.tsLocal)],
        tsRemote: [formatTs(child.tsRemote)],
        spiI: toHex(sa.cookieI),
        spiR: toHex(sa.cookieR),
        remote: this.c.remote,
        ikeVersion: 1,
      },
    });
    this.c.tasks.info.armDpd();
    this.armChildRekey();
    this.c.tasks.phase1.armIkeRekey();
  }

  deleteChild(c: ChildV1): void {
    const d: V1DeletePayload = {
      kind: 'delete',
      type: P.DELETE,
      doi: IPSEC_DOI,
      protocol: V1Protocol.ESP,
      spiSize: 4,
      spis: [u32(c.inboundSpi)],
    };
    this.c.sendInformational(this.c.sa, [d]);
    this.c.removeChild(c);
  }

  /**
   * Our rekey of the IPsec SA: after cfg.childRekeyMs, or at 90 % of the lifetime the gateway
   * chose when that is shorter (minus up to 10 % jitter).
   */
  armChildRekey(): void {
    const life = this.childLifeMs > 0 ? this.childLifeMs * 0.9 : 0;
    const cfg = this.c.cfg.childRekeyMs;
    const after = cfg > 0 && life > 0 ? Math.min(cfg, life) : cfg > 0 ? cfg : life;
    if (after > 0)
      this.c.push({
        kind: 'setTimer',
        timer: 'rekey-child',
        at: this.c.now + this.c.jitter(after),
      });
  }

  startChildRekey(): void {
    if (this.c.st !== 'established') return;
    const cur = this.c.children.find((c) => !c.replaced);
    if (!cur) return;
    if (this.c.outstanding) {
      // One exchange of ours at a time: try again shortly.
      this.c.push({ kind: 'setTimer', timer: 'rekey-child', at: this.c.now + 1000 });
      return;
    }
    this.startQuickMode(cur);
  }
}
