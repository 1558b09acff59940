/**
 * IkeContext: what the exchange layer and every task share while one input is handled: the
 * configuration, the injected randomness, clock reading and logger, the IKE SA's plain data
 * (sa/ike-sa.ts), the counters and the outputs collected for the driver. It also holds the few
 * steps every task may take: emit an event, change the state, drop a datagram, fail or close.
 */
import { equalBytes } from '../core/bytes.js';
import { VpnError } from '../core/errors.js';
import type { ErrorCode } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { Random } from '../core/random.js';
import { ExchangeType, NotifyType, PayloadType, ProtocolId, nameOf } from './constants.js';
import type { DeletePayload, NotifyPayload } from './codec/index.js';
import { natdHash } from './natd.js';
import { formatSpecs } from './sa/proposals.js';
import { formatTs } from './sa/traffic-selectors.js';
import { newIkeSa } from './sa/ike-sa.js';
import type { IkeSa } from './sa/ike-sa.js';
import { emptyIkeCounters } from './session-types.js';
import type {
  IkeCounters,
  IkeEvent,
  IkeOutput,
  IkeSessionConfig,
  IkeState,
} from './session-types.js';
import type { Exchange } from './exchange.js';
import type { TaskSet } from './tasks/task.js';

export class IkeContext {
  readonly cfg: IkeSessionConfig;
  readonly random: Random;
  readonly log: Logger;
  readonly counters: IkeCounters = emptyIkeCounters();
  /** The IKE SA's state as plain data. */
  readonly ike: IkeSa = newIkeSa();
  /** Outputs for the driver, collected during one `handle` call. */
  out: IkeOutput[] = [];
  /** The time of the input being handled (injected, never read from a clock). */
  now = 0;
  /** Drops so far and the last one's reason, to tell "no answer" from "no valid answer". */
  dropTotal = 0;
  lastDrop = '';
  /** Wired by IkeSession right after construction. */
  xchg!: Exchange;
  tasks!: TaskSet;

  constructor(cfg: IkeSessionConfig, random: Random, log: Logger) {
    this.cfg = cfg;
    this.random = random;
    this.log = log;
  }

  emit(event: IkeEvent): void {
    this.out.push({ kind: 'event', event });
  }

  setState(state: IkeState, detail?: string): void {
    if (this.ike.state === state) return;
    this.ike.state = state;
    this.emit(detail === undefined ? { type: 'state', state } : { type: 'state', state, detail });
  }

  drop(reason: string, detail?: string): void {
    this.counters.dropped[reason] = (this.counters.dropped[reason] ?? 0) + 1;
    this.dropTotal++;
    this.lastDrop = detail === undefined ? reason : `${reason}: ${detail}`;
    this.log.debug(
      'ike',
      `dropped datagram: ${reason}`,
      detail === undefined ? undefined : { detail },
    );
  }

  transmit(data: Uint8Array): void {
    this.counters.sent++;
    this.out.push({ kind: 'send', data, to: this.ike.remote, nonEspMarker: this.ike.natT });
  }

  /** A printable warning for the driver: something the gateway sent was ignored beyond a bound. */
  warn(message: string): void {
    this.log.warn('ike', message);
    this.emit({ type: 'warning', message });
  }

  notify(type: number, data: Uint8Array = new Uint8Array(0)): NotifyPayload {
    return {
      type: PayloadType.NOTIFY,
      critical: false,
      protocol: 0,
      spi: new Uint8Array(0),
      notifyType: type,
      data,
    };
  }

  randomNonZero(n: number): Uint8Array {
    for (;;) {
      const b = this.random.bytes(n);
      if (b.some((x) => x !== 0)) return b;
    }
  }

  /** A fresh inbound ESP SPI, unused by our CHILD_SAs. */
  newChildSpi(): number {
    for (;;) {
      const v = new DataView(this.random.bytes(4).buffer).getUint32(0);
      // SPIs 1..255 are reserved by IANA (RFC 4303 §2.1).
      if (v > 255 && !this.ike.children.some((c) => c.inboundSpi === v)) return v;
    }
  }

  /** A jitter factor in [0, 0.1) so both ends rarely rekey at once (RFC 7296 §2.8). */
  rekeyJitter(): number {
    return (new DataView(this.random.bytes(4).buffer).getUint32(0) / 0x100000000) * 0.1;
  }

  deleteIkePayload(): DeletePayload {
    return {
      type: PayloadType.DELETE,
      critical: false,
      protocol: ProtocolId.IKE,
      spiSize: 0,
      spis: [],
    };
  }

  /** NAT_DETECTION_SOURCE_IP / _DESTINATION_IP for the current SA and endpoints (§2.23). */
  natdNotifies(): NotifyPayload[] {
    const { sa, local, remote } = this.ike;
    const src = this.cfg.forceEncap ? this.random.bytes(20) : natdHash(sa.spiI, sa.spiR, local);
    const dst = natdHash(sa.spiI, sa.spiR, remote);
    return [
      this.notify(NotifyType.NAT_DETECTION_SOURCE_IP, src),
      this.notify(NotifyType.NAT_DETECTION_DESTINATION_IP, dst),
    ];
  }

  /**
   * NAT-D (RFC 7296 §2.23; in MOBIKE exchanges RFC 4555 §3.5): is there a NAT on either side?
   * Returns false when the notifies are absent.
   */
  updateNatFrom(notifies: NotifyPayload[]): boolean {
    const ike = this.ike;
    const srcs = notifies.filter((n) => n.notifyType === NotifyType.NAT_DETECTION_SOURCE_IP);
    const dsts = notifies.filter((n) => n.notifyType === NotifyType.NAT_DETECTION_DESTINATION_IP);
    if (srcs.length === 0 || dsts.length === 0) return false;
    const expectRemote = natdHash(ike.sa.spiI, ike.sa.spiR, ike.remote);
    const expectLocal = natdHash(ike.sa.spiI, ike.sa.spiR, ike.local);
    ike.natThere = !srcs.some((n) => equalBytes(n.data, expectRemote));
    ike.natHere = !dsts.some((n) => equalBytes(n.data, expectLocal));
    this.emit({ type: 'nat', natHere: ike.natHere, natThere: ike.natThere });
    return true;
  }

  /** Ends the SA with an error, telling the gateway (INFORMATIONAL DELETE) if it knows the SA. */
  fail(error: VpnError): void {
    const ike = this.ike;
    if (ike.state === 'closed') return;
    this.log.warn('ike', error.message);
    // Tell the gateway we are going away if we have an SA it knows about.
    if (
      ike.sa.keymat &&
      (ike.state === 'established' || ike.state === 'connecting') &&
      ike.initResponse.length > 0
    ) {
      try {
        const mid = ike.sa.outstanding ? ike.sa.outstanding.mid + 1 : ike.sa.nextMid;
        this.transmit(
          this.xchg.buildEncrypted(ExchangeType.INFORMATIONAL, mid, false, [
            this.deleteIkePayload(),
          ]),
        );
      } catch {
        // best effort
      }
    }
    this.finishClose(error, false);
  }

  finishClose(error: VpnError | undefined, byPeer: boolean): void {
    const ike = this.ike;
    if (ike.state === 'closed') return;
    ike.sa.outstanding = undefined;
    this.out.push({ kind: 'clearTimer', timer: 'retransmit' });
    this.out.push({ kind: 'clearTimer', timer: 'dpd' });
    this.out.push({ kind: 'clearTimer', timer: 'rekey-child' });
    this.out.push({ kind: 'clearTimer', timer: 'rekey-ike' });
    this.xchg.clearQueue();
    for (const c of ike.children.splice(0)) {
      this.out.push({ kind: 'removeChild', inboundSpi: c.inboundSpi, outboundSpi: c.outboundSpi });
    }
    ike.sa.keymat?.wipe();
    this.tasks.init.abandon();
    this.setState('closed', error?.message);
    this.emit(error === undefined ? { type: 'closed', byPeer } : { type: 'closed', error, byPeer });
  }

  /** Close without sending anything (the gateway already failed the exchange). */
  finishCloseWith(error: VpnError): void {
    this.log.warn('ike', error.message);
    this.finishClose(error, false);
  }

  errorFromNotify(n: NotifyPayload, during: string): VpnError {
    const name = nameOf(NotifyType, n.notifyType);
    const map: Partial<Record<number, [ErrorCode, string]>> = {
      [NotifyType.AUTHENTICATION_FAILED]: [
        'ERR_IKE_AUTH_FAILED',
        'the gateway rejected our credentials (AUTHENTICATION_FAILED): check the pre-shared key and --id',
      ],
      [NotifyType.NO_PROPOSAL_CHOSEN]: [
        'ERR_IKE_NO_PROPOSAL',
        `the gateway accepted none of our ${during === 'IKE_SA_INIT' ? 'IKE' : 'ESP'} proposals (NO_PROPOSAL_CHOSEN); we offered: ${formatSpecs(during === 'IKE_SA_INIT' ? this.cfg.ikeProposals : this.cfg.espProposals)}`,
      ],
      [NotifyType.TS_UNACCEPTABLE]: [
        'ERR_IKE_TS_UNACCEPTABLE',
        `the gateway refused our traffic selectors (TS_UNACCEPTABLE): ${this.cfg.tsLocal.map(formatTs).join(',')} === ${this.cfg.tsRemote.map(formatTs).join(',')}`,
      ],
      [NotifyType.INTERNAL_ADDRESS_FAILURE]: [
        'ERR_IKE_PEER_ERROR',
        'the gateway could not assign a virtual IP (INTERNAL_ADDRESS_FAILURE): its address pool may be exhausted',
      ],
      [NotifyType.FAILED_CP_REQUIRED]: [
        'ERR_IKE_PEER_ERROR',
        'the gateway requires a configuration request (FAILED_CP_REQUIRED)',
      ],
    };
    const m = map[n.notifyType];
    if (m) return new VpnError(m[0], m[1]);
    return new VpnError('ERR_IKE_PEER_ERROR', `the gateway answered ${during} with error ${name}`);
  }
}
