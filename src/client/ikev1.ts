/**
 * The driver's IKEv1 side (issue 17): the Ikev1Session's configuration from the tunnel options,
 * and, for `--ike-version auto`, how a gateway that does not speak IKEv2 is recognised (RFC 7296
 * §1.5: INVALID_MAJOR_VERSION; an ISAKMP message answering our IKE_SA_INIT).
 */
import { VpnError } from '../core/errors.js';
import type { TrafficSelector } from '../ike/codec/index.js';
import type { Identity } from '../ike/identity.js';
import type { RetransmitPolicy } from '../ike/session-types.js';
import { tsFromCidr } from '../ike/sa/traffic-selectors.js';
import { Ikev1Session } from '../ikev1/session.js';
import type { Ikev1SessionConfig } from '../ikev1/session.js';
import {
  DEFAULT_V1_PHASE2_PROPOSALS,
  defaultV1Phase1Proposals,
  parseV1Phase1Proposals,
  parseV1Phase2Proposals,
} from '../ikev1/sa-payload.js';
import type { Logger } from '../core/log.js';
import type { Random } from '../core/random.js';
import type { AttemptAuth } from './auth.js';
import type { TunnelOptions, TunnelStage } from './tunnel-types.js';

export type Ikev1Base = Omit<Ikev1SessionConfig, 'auth' | 'gatewayAuth'>;

/** The ESP proposal text IKEv1 offers (AES-GCM only: the IKEv2 default adds ChaCha20). */
export function ikev1EspText(opts: TunnelOptions): string {
  return opts.espProposals ?? DEFAULT_V1_PHASE2_PROPOSALS;
}

/**
 * Everything of the Ikev1Session's configuration but the credentials (a new attempt gets fresh
 * ones). Parsing errors are ERR_CONFIG, raised before anything on the host is touched.
 */
export function ikev1Base(
  opts: TunnelOptions,
  ids: { localId: Identity; remoteId?: Identity },
  ts: { local: TrafficSelector[]; remote: TrafficSelector[] },
  retransmit: RetransmitPolicy,
): Ikev1Base {
  const v1 = opts.ikev1 ?? {};
  if (v1.aggressive && opts.credentials.auth.kind !== 'psk')
    throw new VpnError('ERR_CONFIG', 'IKEv1 Aggressive Mode works with a pre-shared key only');
  return {
    localId: ids.localId,
    ...(ids.remoteId ? { remoteId: ids.remoteId } : {}),
    phase1: parseV1Phase1Proposals(
      opts.ikeProposals ?? defaultV1Phase1Proposals(v1.legacy === true),
      {
        legacy: v1.legacy === true,
      },
    ),
    phase2: parseV1Phase2Proposals(
      ikev1EspText(opts),
      v1.pfsGroup !== undefined ? { pfsGroup: v1.pfsGroup } : {},
    ),
    aggressive: v1.aggressive === true,
    ...(v1.xauth ? { xauth: v1.xauth } : {}),
    // Mode Config pull (draft-dukes-ike-mode-cfg-02): a virtual IP, and DNS unless --dns off.
    modeConfig: true,
    tsLocal: ts.local,
    tsRemote: ts.remote,
    forceEncap: true,
    retransmit,
    replayWindow: 1024,
    dpdDelayMs: opts.dpdMs ?? 30000,
    childRekeyMs: opts.rekeyMs ?? 50 * 60 * 1000,
    ikeRekeyMs: opts.ikeRekeyMs ?? 3.5 * 3600 * 1000,
    initialContact: true,
  };
}

export function newIkev1Session(
  base: Ikev1Base,
  attempt: AttemptAuth,
  random: Random,
  log: Logger,
): Ikev1Session {
  if (attempt.auth.kind === 'eap')
    throw new VpnError('ERR_CONFIG', 'EAP is IKEv2 only; IKEv1 gateways take XAUTH instead');
  return new Ikev1Session(
    { ...base, auth: attempt.auth, gatewayAuth: attempt.gatewayAuth },
    random,
    log,
  );
}

/**
 * Cisco Unity split include (UNITY_SPLIT_INCLUDE, in ConfigReply.subnets from Mode Config): the
 * networks the gateway wants through the tunnel. IKEv1 has no narrowing (strongSwan echoes our
 * 0.0.0.0/0 in IDcr and installs its own narrower policy), so without `--remote-net` the routes
 * follow the split include, each network kept only when our Quick Mode selectors cover it.
 * Undefined when there is none (the selectors decide, as with IKEv2).
 */
export function splitIncludeSelectors(
  subnets: readonly string[],
  child: readonly TrafficSelector[],
): TrafficSelector[] | undefined {
  const out: TrafficSelector[] = [];
  for (const cidr of subnets) {
    let ts: TrafficSelector;
    try {
      ts = tsFromCidr(cidr);
    } catch {
      continue; // the codec bounded and formatted it; anything odd is skipped, not routed
    }
    const covered = child.some(
      (c) =>
        c.startAddr.length === ts.startAddr.length &&
        Buffer.compare(c.startAddr, ts.startAddr) <= 0 &&
        Buffer.compare(ts.endAddr, c.endAddr) <= 0,
    );
    if (covered) out.push(ts);
  }
  return out.length > 0 ? out : undefined;
}

/** The Ikev1Session's stages (it reuses IKEv2's names) by their IKEv1 names. */
export function v1Stage(stage: 'ike-sa-init' | 'ike-auth', opts: TunnelOptions): TunnelStage {
  if (stage === 'ike-auth') return 'quick-mode';
  return opts.ikev1?.aggressive ? 'aggressive-mode' : 'main-mode';
}

/** RFC 7296 §3.10.1 INVALID_MAJOR_VERSION. */
const INVALID_MAJOR_VERSION = 5;
const NOTIFY = 41;

/**
 * Does this datagram, received while our IKEv2 IKE_SA_INIT is unanswered, say the gateway does
 * not speak IKEv2? Either an IKEv2 notification INVALID_MAJOR_VERSION (RFC 7296 §1.5) or any
 * ISAKMP (IKEv1, major version 1) message, each carrying our IKE SPI as its initiator SPI (so a
 * blind sender cannot make us fall back). Returns the reason, or undefined. Bounds-checked: any
 * bytes are fine.
 */
export function refusesIkev2(data: Uint8Array, ourSpi: Uint8Array | undefined): string | undefined {
  if (!ourSpi || ourSpi.length !== 8 || data.length < 28) return undefined;
  for (let i = 0; i < 8; i++) if (data[i] !== ourSpi[i]) return undefined;
  const major = data[17]! >> 4;
  if (major === 1) return 'the gateway answered IKEv2 with an IKEv1 (ISAKMP) message';
  // IKE header (28), then the first payload: a Notify (RFC 7296 §3.10): generic header (4),
  // protocol ID, SPI size, notify message type.
  if (major === 2 && data[16] === NOTIFY && data.length >= 36) {
    const type = (data[34]! << 8) | data[35]!;
    if (type === INVALID_MAJOR_VERSION) return 'the gateway answered INVALID_MAJOR_VERSION';
  }
  return undefined;
}
