/**
 * IKE_SA_INIT, initiator side (RFC 7296 §1.2): SA, KE, Ni and the NAT_DETECTION_* notifies
 * (§2.23), IKEV2_FRAGMENTATION_SUPPORTED (RFC 7383 §2.3) and SIGNATURE_HASH_ALGORITHMS
 * (RFC 7427 §4); restarts on N(COOKIE) (§2.6) and N(INVALID_KE_PAYLOAD) (§1.2, §2.7), bounded.
 * On success it derives the IKE SA's keys (§2.14), floats to port 4500 behind a NAT (RFC 3948)
 * and hands over to IKE_AUTH.
 */
import { wipe } from '../../core/bytes.js';
import { VpnError } from '../../core/errors.js';
import { createKeyExchange } from '../../crypto/ke.js';
import type { KeyExchange } from '../../crypto/ke.js';
import {
  DhGroup,
  ExchangeType,
  NotifyType,
  PayloadType,
  ProtocolId,
  nameOf,
} from '../constants.js';
import type {
  IkeHeader,
  KePayload,
  NoncePayload,
  NotifyPayload,
  Payload,
  SaPayload,
} from '../codec/index.js';
import { natdHash } from '../natd.js';
import { encodeGwAddress, redirectIn } from '../redirect.js';
import type { Endpoint } from '../natd.js';
import { IkeKeymat } from '../sa/keymat.js';
import {
  buildProposals,
  formatChosen,
  formatSpecs,
  selectResponderProposal,
} from '../sa/proposals.js';
import { supportedHashes } from '../auth/signature.js';
import type { IkeContext } from '../context.js';
import type { InitiatorTask } from './task.js';

/** RFC 7296 §2.23: the IKE port without the non-ESP marker. */
const IKE_PORT = 500;
/** RFC 3948 §1: NAT-T floats IKE (and ESP in UDP) to port 4500. */
const NATT_PORT = 4500;

export class IkeSaInit implements InitiatorTask {
  readonly exchange = ExchangeType.IKE_SA_INIT;
  readonly what = 'IKE_SA_INIT';
  private readonly c: IkeContext;
  private ke: KeyExchange | undefined;
  private dhGroup: number;
  private cookie: Uint8Array | undefined;
  private initRetries = 0;

  /** `dhGroup`: the group of our first KE payload (the first of our IKE proposals). */
  constructor(c: IkeContext, dhGroup: number) {
    this.c = c;
    this.dhGroup = dhGroup;
  }

  /** The SA is closing: forget the key exchange in progress. */
  abandon(): void {
    this.ke = undefined;
  }

  start(local: Endpoint, remote: Endpoint): void {
    if (this.c.ike.state !== 'created') return;
    this.c.ike.local = local;
    this.c.ike.remote = remote;
    // RFC 7296 §2.23: an initiator may use port 4500 (or any NAT-T port) from the start, and
    // then every IKE message carries the non-ESP marker (RFC 3948 §2.2), as strongSwan does for
    // any remote port other than 500. Without it a gateway listening there takes IKE_SA_INIT
    // for ESP, and its answers (marked) would be taken for ESP by us.
    if (remote.port !== IKE_PORT) this.c.ike.natT = true;
    this.c.ike.sa.spiI = this.c.randomNonZero(8);
    this.c.setState('connecting');
    this.sendInit();
  }

  /** HDR, [N(COOKIE),] SA, KE, Ni, N(NAT_DETECTION_*), N(FRAG_SUP), N(SIG_HASH) (§1.2). */
  private sendInit(): void {
    this.c.emit({ type: 'stage', stage: 'ike-sa-init' });
    this.c.xchg.initiate(this);
  }

  buildRequest(): Payload[] {
    this.ke = createKeyExchange(this.dhGroup, this.c.random);
    this.c.ike.ni = this.c.random.bytes(32);
    const zeroSpi = new Uint8Array(8);
    // Put the group we will use first inside our proposals? No: the KE payload names it; the SA
    // offers all groups (RFC 7296 §1.2).
    const payloads: Payload[] = [];
    if (this.cookie) payloads.push(this.c.notify(NotifyType.COOKIE, this.cookie)); // §2.6: COOKIE first
    const sa: SaPayload = {
      type: PayloadType.SA,
      critical: false,
      proposals: buildProposals(this.c.cfg.ikeProposals, ProtocolId.IKE, new Uint8Array(0)),
    };
    const ke: KePayload = {
      type: PayloadType.KE,
      critical: false,
      dhGroup: this.dhGroup,
      data: this.ke.publicValue,
    };
    const nonce: NoncePayload = { type: PayloadType.NONCE, critical: false, data: this.c.ike.ni };
    const srcHash = this.c.cfg.forceEncap
      ? this.c.random.bytes(20)
      : natdHash(this.c.ike.sa.spiI, zeroSpi, this.c.ike.local);
    const dstHash = natdHash(this.c.ike.sa.spiI, zeroSpi, this.c.ike.remote);
    // RFC 7427 §4: the hashes we accept in Digital Signature AUTH payloads.
    const hashes = supportedHashes();
    const sigHash = new Uint8Array(2 * hashes.length);
    const dv = new DataView(sigHash.buffer);
    hashes.forEach((h, i) => dv.setUint16(2 * i, h));
    payloads.push(
      sa,
      ke,
      nonce,
      this.c.notify(NotifyType.NAT_DETECTION_SOURCE_IP, srcHash),
      this.c.notify(NotifyType.NAT_DETECTION_DESTINATION_IP, dstHash),
      this.c.notify(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED),
      this.c.notify(NotifyType.SIGNATURE_HASH_ALGORITHMS, sigHash),
    );
    // RFC 5685 §3: we follow redirects; once redirected, REDIRECTED_FROM names the gateway that
    // sent us here instead (§9.3).
    if (this.c.cfg.redirect !== false) {
      payloads.push(
        this.c.cfg.redirectedFrom
          ? this.c.notify(NotifyType.REDIRECTED_FROM, encodeGwAddress(this.c.cfg.redirectedFrom))
          : this.c.notify(NotifyType.REDIRECT_SUPPORTED),
      );
    }
    // RFC 8784 §3: we want to mix a post-quantum preshared key into the IKE SA.
    if (this.c.cfg.ppk) payloads.push(this.c.notify(NotifyType.USE_PPK));
    // RFC 9370 §2.2.1 / RFC 9242 §3.1: additional key exchanges run in IKE_INTERMEDIATE.
    if (this.c.cfg.ikeProposals.some((p) => p.addKe?.some((l) => l.length > 0)))
      payloads.push(this.c.notify(NotifyType.INTERMEDIATE_EXCHANGE_SUPPORTED));
    // A new IKE_SA_INIT (also after COOKIE or INVALID_KE) has no responder SPI and message ID 0.
    this.c.ike.sa.spiR = new Uint8Array(8);
    this.c.ike.sa.nextMid = 0;
    return payloads;
  }

  processResponse(header: IkeHeader, payloads: Payload[]): void {
    const notifies = payloads.filter((p): p is NotifyPayload => p.type === PayloadType.NOTIFY);
    const cookie = notifies.find((n) => n.notifyType === NotifyType.COOKIE);
    if (cookie) {
      if (++this.initRetries > this.c.cfg.maxInitRetries) {
        this.c.fail(new VpnError('ERR_IKE_PROTOCOL', 'gateway keeps demanding cookies; giving up'));
        return;
      }
      if (cookie.data.length < 1 || cookie.data.length > 64) {
        this.c.fail(
          new VpnError('ERR_IKE_PROTOCOL', `gateway sent a COOKIE of ${cookie.data.length} bytes`),
        );
        return;
      }
      this.c.log.info('ike', 'gateway requested a cookie; retrying IKE_SA_INIT');
      this.cookie = cookie.data.slice();
      this.sendInit();
      return;
    }
    const invalidKe = notifies.find((n) => n.notifyType === NotifyType.INVALID_KE_PAYLOAD);
    if (invalidKe) {
      const wanted =
        invalidKe.data.length === 2
          ? new DataView(invalidKe.data.buffer, invalidKe.data.byteOffset, 2).getUint16(0)
          : -1;
      const offered = this.c.cfg.ikeProposals.some((p) => p.dh.some((d) => d.id === wanted));
      if (wanted < 0) {
        this.c.fail(
          new VpnError(
            'ERR_IKE_PROTOCOL',
            `gateway sent a malformed INVALID_KE_PAYLOAD (${invalidKe.data.length} bytes of data, RFC 7296 §3.10.1 wants a 2-byte group number)`,
          ),
        );
        return;
      }
      if (wanted === this.dhGroup) {
        // §1.2: INVALID_KE_PAYLOAD names the group the responder wants; asking for the one we
        // just sent is a broken (or hostile) answer, not a proposal mismatch.
        this.c.fail(
          new VpnError(
            'ERR_IKE_PROTOCOL',
            `gateway answered INVALID_KE_PAYLOAD asking for key exchange group ${nameOf(DhGroup, wanted)}, the group our KE payload already used`,
          ),
        );
        return;
      }
      if (!offered) {
        this.c.fail(
          new VpnError(
            'ERR_IKE_NO_PROPOSAL',
            `gateway asked for key exchange group ${nameOf(DhGroup, wanted)}, which we did not offer (offered: ${formatSpecs(this.c.cfg.ikeProposals)})`,
          ),
        );
        return;
      }
      if (++this.initRetries > this.c.cfg.maxInitRetries) {
        this.c.fail(
          new VpnError(
            'ERR_IKE_PROTOCOL',
            `gateway kept answering INVALID_KE_PAYLOAD (${this.initRetries - 1} retries, last asking for ${nameOf(DhGroup, wanted)}); giving up`,
          ),
        );
        return;
      }
      this.c.log.info(
        'ike',
        `gateway prefers group ${nameOf(DhGroup, wanted)}; retrying IKE_SA_INIT`,
      );
      this.dhGroup = wanted;
      this.sendInit();
      return;
    }
    // RFC 5685 §3: the gateway sends us to another one before creating any state.
    const redirect = redirectIn(notifies, this.c.ike.ni);
    if (redirect !== undefined) {
      if (typeof redirect === 'string' || this.c.cfg.redirect === false) {
        this.c.fail(
          new VpnError(
            'ERR_IKE_PROTOCOL',
            typeof redirect === 'string'
              ? `the gateway answered IKE_SA_INIT with an invalid REDIRECT: ${redirect}`
              : `the gateway redirects us to ${redirect.value}, but redirects are refused (--no-redirect)`,
          ),
        );
        return;
      }
      this.c.log.info('ike', `the gateway redirects us to ${redirect.value} (RFC 5685 §3)`);
      this.c.emit({ type: 'redirect', gateway: redirect, during: 'IKE_SA_INIT' });
      this.c.finishClose(undefined, false);
      return;
    }
    const error = notifies.find((n) => n.notifyType < 16384);
    if (error) {
      this.c.fail(this.c.errorFromNotify(error, 'IKE_SA_INIT'));
      return;
    }
    const sa = payloads.find((p): p is SaPayload => p.type === PayloadType.SA);
    const ke = payloads.find((p): p is KePayload => p.type === PayloadType.KE);
    const nonce = payloads.find((p): p is NoncePayload => p.type === PayloadType.NONCE);
    if (!sa || !ke || !nonce) {
      this.c.fail(new VpnError('ERR_IKE_PROTOCOL', 'IKE_SA_INIT response lacks SA, KE or Nonce'));
      return;
    }
    if (header.spiR.every((b) => b === 0)) {
      this.c.fail(
        new VpnError('ERR_IKE_PROTOCOL', 'IKE_SA_INIT response with a zero responder SPI'),
      );
      return;
    }
    const chosen = selectResponderProposal(this.c.cfg.ikeProposals, sa.proposals, ProtocolId.IKE);
    if (typeof chosen === 'string') {
      this.c.fail(new VpnError('ERR_IKE_PROTOCOL', `invalid IKE proposal from gateway: ${chosen}`));
      return;
    }
    if (
      chosen.addKe &&
      !notifies.some((n) => n.notifyType === NotifyType.INTERMEDIATE_EXCHANGE_SUPPORTED)
    ) {
      // RFC 9370 §2.2.1: additional key exchanges need IKE_INTERMEDIATE (RFC 9242 §3.1).
      this.c.fail(
        new VpnError(
          'ERR_IKE_PROTOCOL',
          `the gateway chose additional key exchanges (${formatChosen(chosen)}) without announcing INTERMEDIATE_EXCHANGE_SUPPORTED (RFC 9370 §2.2.1)`,
        ),
      );
      return;
    }
    if (!chosen.dh || chosen.dh.id !== this.dhGroup || ke.dhGroup !== this.dhGroup) {
      this.c.fail(
        new VpnError(
          'ERR_IKE_PROTOCOL',
          `gateway's KE group ${ke.dhGroup} does not match ours (${this.dhGroup})`,
        ),
      );
      return;
    }
    // RFC 8784 §3: without USE_PPK in the answer the gateway will not use a PPK.
    this.c.ike.peerPpk = notifies.some((n) => n.notifyType === NotifyType.USE_PPK);
    const ppk = this.c.cfg.ppk;
    if (ppk && !this.c.ike.peerPpk) {
      if (ppk.required) {
        this.c.fail(
          new VpnError(
            'ERR_IKE_AUTH_FAILED',
            'the gateway does not support post-quantum preshared keys (no USE_PPK in its IKE_SA_INIT response, RFC 8784 §3), and --ppk-required is set',
          ),
        );
        return;
      }
      this.c.warn(
        'the gateway does not support post-quantum preshared keys (no USE_PPK, RFC 8784): continuing without the PPK',
      );
    }
    const ikeKe = this.ke;
    if (!ikeKe) throw new VpnError('ERR_IKE_PROTOCOL', 'no key exchange in progress');
    let shared: Uint8Array;
    try {
      shared = ikeKe.computeSharedSecret(ke.data);
    } catch (e) {
      this.c.fail(
        new VpnError(
          'ERR_IKE_PROTOCOL',
          `gateway's key exchange value is invalid: ${(e as Error).message}`,
        ),
      );
      return;
    }
    this.c.ike.sa.spiR = header.spiR.slice();
    this.c.ike.nr = nonce.data.slice();
    this.c.ike.ikeProposal = chosen;
    this.c.ike.sa.keymat = new IkeKeymat({
      proposal: chosen,
      weInitiated: true,
      ni: this.c.ike.ni,
      nr: this.c.ike.nr,
      spiI: this.c.ike.sa.spiI,
      spiR: this.c.ike.sa.spiR,
      sharedSecret: shared,
    });
    wipe(shared);
    this.ke = undefined;

    // RFC 7296 §2.23: compare NAT-D hashes.
    if (this.c.updateNatFrom(notifies)) {
      if (this.c.ike.natHere || this.c.ike.natThere || this.c.cfg.forceEncap) {
        // RFC 7296 §2.23 / RFC 3948: float to port 4500 with the non-ESP marker.
        this.c.ike.natT = true;
        if (this.c.ike.remote.port === IKE_PORT)
          this.c.ike.remote = { address: this.c.ike.remote.address, port: NATT_PORT };
      }
    } else if (this.c.cfg.forceEncap) {
      this.c.fail(
        new VpnError(
          'ERR_IKE_PROTOCOL',
          'gateway does not support NAT traversal, which userspace ESP needs',
        ),
      );
      return;
    }
    this.c.ike.peerFragmentation = notifies.some(
      (n) => n.notifyType === NotifyType.IKEV2_FRAGMENTATION_SUPPORTED,
    );
    // RFC 7427 §4: the hash algorithms the gateway accepts in our signatures.
    this.c.ike.peerHashes = [];
    for (const n of notifies.filter((x) => x.notifyType === NotifyType.SIGNATURE_HASH_ALGORITHMS)) {
      for (let i = 0; i + 1 < n.data.length; i += 2)
        this.c.ike.peerHashes.push((n.data[i]! << 8) | n.data[i + 1]!);
    }
    this.c.log.info(
      'ike',
      `IKE_SA_INIT done: ${formatChosen(chosen)}${this.c.ike.natT ? ', NAT-T on port 4500' : ''}`,
    );
    // RFC 9370 §2.2.2: IKE_INTERMEDIATE key exchanges (if any were chosen) come before IKE_AUTH.
    this.c.tasks.intermediate.start();
  }
}
