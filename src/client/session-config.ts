/**
 * The tunnel's configuration, parsed before anything on the host is touched (errors are
 * ERR_CONFIG and leave nothing behind): the IKE version, proposals, traffic selectors, identities,
 * and the IKEv2 session's configuration without credentials (a new attempt gets fresh ones).
 */
import { VpnError } from '../core/errors.js';
import { checkExcluded } from '../core/ip.js';
import type { TrafficSelector } from '../ike/codec/index.js';
import { parseIdentity } from '../ike/identity.js';
import type { Identity } from '../ike/identity.js';
import {
  DEFAULT_ESP_PROPOSALS,
  DEFAULT_IKE_PROPOSALS,
  applyPqMode,
  parseProposals,
} from '../ike/sa/proposals.js';
import type { ProposalSpec } from '../ike/sa/proposals.js';
import { anyTs, tsFromCidr } from '../ike/sa/traffic-selectors.js';
import { DEFAULT_RETRANSMIT } from '../ike/session.js';
import type { IkeSessionConfig, RetransmitPolicy } from '../ike/session.js';
import { checkCredentials } from './auth.js';
import { ikev1Base, ikev1EspText } from './ikev1.js';
import type { Ikev1Base } from './ikev1.js';
import type { TunnelOptions } from './tunnel-types.js';

export type IkeV2Base = Omit<IkeSessionConfig, 'auth' | 'gatewayAuth'>;

export interface ParsedConfig {
  wanted: 1 | 2 | 'auto';
  ikeProposals: ProposalSpec[];
  /** The data path's ESP algorithms: IKEv2's offer, or IKEv1's (AES-GCM). */
  espProposals: ProposalSpec[];
  remoteTs: TrafficSelector[];
  remoteId: Identity | undefined;
  retransmit: RetransmitPolicy;
  /** IKEv1's configuration, its local identity still to be filled in. */
  v1Base: Ikev1Base | undefined;
  /** `excludeNetworks`, checked and canonical (core/ip.ts checkExcluded). */
  excluded: string[];
}

export function parseTunnelConfig(opts: TunnelOptions): ParsedConfig {
  const wanted = opts.ikeVersion ?? 2;
  const ikeProposals =
    wanted === 1
      ? []
      : applyPqMode(
          parseProposals(opts.ikeProposals ?? DEFAULT_IKE_PROPOSALS, 'ike'),
          opts.pq ?? 'off',
        );
  const espProposals = parseProposals(
    wanted === 1 ? ikev1EspText(opts) : (opts.espProposals ?? DEFAULT_ESP_PROPOSALS),
    'esp',
  );
  const remoteTs: TrafficSelector[] = opts.remoteNetworks?.length
    ? opts.remoteNetworks.map((c) => tsFromCidr(c))
    : anyTs(opts.ip6 === true);
  const remoteId = opts.remoteId === undefined ? undefined : parseIdentity(opts.remoteId);
  checkCredentials(opts.credentials, remoteId);
  const retransmit = { ...DEFAULT_RETRANSMIT, ...opts.retransmit };
  // IKEv1 (issue 17): IPv4 selectors only (Mode Config assigns an IPv4 address).
  const v1Base =
    wanted === 2
      ? undefined
      : ikev1Base(
          opts,
          { localId: { type: 0, data: new Uint8Array(0) }, ...(remoteId ? { remoteId } : {}) },
          { local: anyTs(false), remote: remoteTs.filter((t) => t.startAddr.length === 4) },
          retransmit,
        );
  // Checked before anything is touched; the routes follow the tunnel's (installRoutes).
  const excluded = checkExcluded(opts.excludeNetworks ?? []);
  if (excluded.length > 0 && opts.killSwitch)
    throw new VpnError(
      'ERR_CONFIG',
      '--exclude and --kill-switch contradict each other: the kill switch lets nothing out of the tunnel',
    );
  return {
    wanted,
    ikeProposals,
    espProposals,
    remoteTs,
    remoteId,
    retransmit,
    v1Base,
    excluded,
  };
}

/** The IKEv2 session's configuration without credentials. */
export function ikev2Base(opts: TunnelOptions, p: ParsedConfig, localId: Identity): IkeV2Base {
  return {
    localId,
    ...(p.remoteId ? { remoteId: p.remoteId } : {}),
    fragmentSize: opts.ikeFragmentSize ?? 1280,
    mobike: opts.mobike !== false,
    ikeProposals: p.ikeProposals,
    espProposals: p.espProposals,
    request: { ip4: true, ip6: opts.ip6 === true, dns: opts.dns !== 'off' },
    tsLocal: anyTs(opts.ip6 === true),
    tsRemote: p.remoteTs,
    forceEncap: true,
    retransmit: p.retransmit,
    maxInitRetries: 5,
    replayWindow: 1024,
    dpdDelayMs: opts.dpdMs ?? 30000,
    childRekeyMs: opts.rekeyMs ?? 50 * 60 * 1000,
    ikeRekeyMs: opts.ikeRekeyMs ?? 3.5 * 3600 * 1000,
    ...(opts.ppk ? { ppk: opts.ppk } : {}),
    ...(opts.redirect === false ? { redirect: false } : {}),
    ...(opts.pq === 'required' ? { pqRequired: true } : {}),
  };
}
