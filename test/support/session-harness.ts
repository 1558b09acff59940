/**
 * In-memory two-party harness: our IkeSession against the test-only responder, with seeded
 * randomness and a fake clock; answers (every fragment of them) are pumped back until quiet.
 */
import { SeededRandom } from '../../src/core/random.js';
import { IkeSession, DEFAULT_RETRANSMIT } from '../../src/ike/session.js';
import type { IkeOutput, IkeSessionConfig, IkeEvent } from '../../src/ike/session.js';
import { parseProposals } from '../../src/ike/sa/proposals.js';
import { anyTs } from '../../src/ike/sa/traffic-selectors.js';
import { parseIdentity } from '../../src/ike/identity.js';
import { TestResponder } from './test-responder.js';
import type { ResponderOptions } from './test-responder.js';

export const PSK = new TextEncoder().encode('correct horse battery staple');
export const CLIENT = { address: '192.0.2.2', port: 40000 };
export const GW = { address: '198.51.100.10', port: 500 };

export function config(over: Partial<IkeSessionConfig> = {}): IkeSessionConfig {
  return {
    localId: parseIdentity('client@test'),
    remoteId: parseIdentity('@gw.test'),
    auth: { kind: 'psk', psk: PSK },
    gatewayAuth: { psk: PSK },
    fragmentSize: 1280,
    ikeProposals: parseProposals('aes256gcm16-prfsha256-x25519-ecp256', 'ike'),
    espProposals: parseProposals('aes256gcm16,chacha20poly1305', 'esp'),
    request: { ip4: true, ip6: false, dns: true },
    tsLocal: anyTs(false),
    tsRemote: anyTs(false),
    forceEncap: true,
    retransmit: DEFAULT_RETRANSMIT,
    maxInitRetries: 5,
    replayWindow: 1024,
    dpdDelayMs: 30000,
    childRekeyMs: 0,
    ikeRekeyMs: 0,
    ...over,
  };
}

export function responder(over: Partial<ResponderOptions> = {}): TestResponder {
  return new TestResponder({
    psk: PSK,
    id: parseIdentity('@gw.test'),
    address: { address: GW.address, port: 4500 },
    random: new SeededRandom(99),
    ...over,
  });
}

export interface Run {
  session: IkeSession;
  resp: TestResponder;
  outputs: IkeOutput[];
  events: IkeEvent[];
  sent: Uint8Array[];
  now: number;
}

/** Delivers every `send` output to the responder and its answers back, until quiet. */
export function pump(run: Run, outputs: IkeOutput[], deliver = true): void {
  const queue = [...outputs];
  while (queue.length > 0) {
    const o = queue.shift()!;
    run.outputs.push(o);
    if (o.kind === 'event') run.events.push(o.event);
    if (o.kind !== 'send') continue;
    run.sent.push(o.data);
    if (!deliver) continue;
    for (const answer of run.resp.receiveAll(o.data, CLIENT)) {
      queue.push(
        ...run.session.handle(
          { kind: 'datagram', data: answer, from: { address: GW.address, port: o.to.port } },
          run.now,
        ),
      );
    }
  }
}

export function start(cfg = config(), resp = responder(), seed = 1): Run {
  const session = new IkeSession(cfg, new SeededRandom(seed));
  const run: Run = { session, resp, outputs: [], events: [], sent: [], now: Date.UTC(2030, 0, 1) };
  pump(run, session.handle({ kind: 'start', local: CLIENT, remote: GW }, run.now));
  return run;
}

export function closedEvent(run: Run): Extract<IkeEvent, { type: 'closed' }> | undefined {
  return run.events.find((e): e is Extract<IkeEvent, { type: 'closed' }> => e.type === 'closed');
}
