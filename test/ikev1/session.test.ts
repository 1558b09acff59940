/**
 * Ikev1Session in memory against the scripted responder (gateway.ts): Main Mode with PSK, RSA and
 * ECDSA signatures, Aggressive Mode, NAT-T float, Quick Mode keys matching the gateway's, the
 * refusals with the IKEv2 client's error codes, DPD, DELETE both ways, informational hash checks,
 * retransmission, Quick Mode and phase 1 rekeys.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { equalBytes } from '../../src/core/bytes.js';
import { SeededRandom } from '../../src/core/random.js';
import { parseIdentity } from '../../src/ike/identity.js';
import { DEFAULT_RETRANSMIT } from '../../src/ike/session-types.js';
import type { ChildSaInfo, IkeEvent, IkeOutput } from '../../src/ike/session-types.js';
import { anyTs, tsFromCidr } from '../../src/ike/sa/traffic-selectors.js';
import { createCertValidator } from '../../src/ike/auth/validator.js';
import { pemToDer } from '../../src/pki/x509.js';
import { Ikev1Session } from '../../src/ikev1/session.js';
import type { Ikev1SessionConfig } from '../../src/ikev1/session.js';
import { decodeV1Message, encodeV1Chain, encodeV1Message } from '../../src/ikev1/codec/index.js';
import {
  encodePhase2Sa,
  parseV1Phase1Proposals,
  parseV1Phase2Proposals,
} from '../../src/ikev1/sa-payload.js';
import { V1Gateway } from './gateway.js';
import type { GatewayOptions } from './gateway.js';
import { findRepoFile } from '../support/paths.js';

const PSK = new TextEncoder().encode('group secret');
const CLIENT = { address: '192.0.2.2', port: 500 };
const GW = { address: '198.51.100.10', port: 500 };
const NAT_PUBLIC = { address: '203.0.113.5', port: 61000 };
const T2030 = Date.UTC(2030, 0, 1);

function config(over: Partial<Ikev1SessionConfig> = {}): Ikev1SessionConfig {
  return {
    localId: parseIdentity('client@test'),
    remoteId: parseIdentity('@gw.test'),
    auth: { kind: 'psk', psk: PSK },
    gatewayAuth: { psk: PSK },
    phase1: parseV1Phase1Proposals('aes256-sha256-modp2048,aes128-sha1-ecp256', { legacy: false }),
    phase2: parseV1Phase2Proposals('aes256gcm16', {}),
    aggressive: false,
    modeConfig: false,
    tsLocal: anyTs(false),
    tsRemote: [tsFromCidr('10.1.0.0/16')],
    forceEncap: false,
    retransmit: { ...DEFAULT_RETRANSMIT, tries: 2 },
    replayWindow: 64,
    dpdDelayMs: 0,
    childRekeyMs: 0,
    ikeRekeyMs: 0,
    ...over,
  };
}

function gateway(over: Partial<GatewayOptions> = {}): V1Gateway {
  return new V1Gateway({
    random: new SeededRandom(77),
    id: parseIdentity('@gw.test'),
    psk: PSK,
    address: GW,
    clientSeen: NAT_PUBLIC,
    ...over,
  });
}

interface Run {
  s: Ikev1Session;
  gw: V1Gateway;
  outputs: IkeOutput[];
  sent: Uint8Array[];
  now: number;
  /** Datagrams of the client the gateway never saw (dropped by `lose`). */
  lost: number;
  /** The gateway's datagrams, in order. */
  received: Uint8Array[];
}

function events(r: Run): IkeEvent[] {
  return r.outputs.flatMap((o) => (o.kind === 'event' ? [o.event] : []));
}

function closed(r: Run): Extract<IkeEvent, { type: 'closed' }> | undefined {
  return events(r).find((e): e is Extract<IkeEvent, { type: 'closed' }> => e.type === 'closed');
}

/** Feeds outputs to the gateway and its answers back until nothing moves. */
function pump(r: Run, outs: IkeOutput[], lose?: (d: Uint8Array, i: number) => boolean): void {
  const queue = [...outs];
  r.outputs.push(...outs);
  let i = 0;
  while (queue.length > 0) {
    const o = queue.shift()!;
    if (o.kind !== 'send') continue;
    r.sent.push(o.data);
    if (lose?.(o.data, i++)) {
      r.lost++;
      continue;
    }
    for (const answer of r.gw.receive(o.data)) {
      r.received.push(answer);
      const more = r.s.handle(
        { kind: 'datagram', data: answer, from: { address: GW.address, port: o.to.port } },
        r.now,
      );
      r.outputs.push(...more);
      queue.push(...more);
    }
  }
}

function start(cfg: Ikev1SessionConfig, gw: V1Gateway, now = 1000): Run {
  const s = new Ikev1Session(cfg, new SeededRandom(5));
  const r: Run = { s, gw, outputs: [], sent: [], now, lost: 0, received: [] };
  pump(r, s.handle({ kind: 'start', local: CLIENT, remote: GW }, now));
  return r;
}

function input(
  r: Run,
  i: Parameters<Ikev1Session['handle']>[0],
  lose?: (d: Uint8Array, i: number) => boolean,
): IkeOutput[] {
  const outs = r.s.handle(i, r.now);
  pump(r, outs, lose);
  return outs;
}

function installs(r: Run): ChildSaInfo[] {
  return r.outputs.flatMap((o) => (o.kind === 'installChild' ? [o.child] : []));
}

/** Runs the retransmit timer until the session gives up (or `max` times). */
function timeOut(r: Run, max = 10): void {
  for (let i = 0; i < max && r.s.state !== 'closed'; i++) {
    r.now += 60000;
    input(r, { kind: 'timer', timer: 'retransmit' });
  }
}

test("PSK Main Mode + Quick Mode through a NAT: established, NAT-T float, ESP keys equal the gateway's", () => {
  const r = start(config(), gateway());
  assert.equal(r.s.state, 'established', closed(r)?.error?.message ?? JSON.stringify(r.s.counters));
  const est = events(r).find((e) => e.type === 'established');
  assert.ok(est && est.type === 'established');
  assert.equal(est.info.ikeVersion, 1);
  assert.equal(est.info.remoteId, 'gw.test');
  assert.equal(est.info.natHere, true);
  assert.match(est.info.ikeProposal, /aes256-sha256-modp2048/);
  // RFC 3947 §4: from Main Mode message 5 on, port 4500 with the non-ESP marker.
  const sends = r.outputs.filter(
    (o): o is Extract<IkeOutput, { kind: 'send' }> => o.kind === 'send',
  );
  assert.equal(sends[0]!.to.port, 500);
  assert.equal(sends[0]!.nonEspMarker, false);
  assert.equal(sends[1]!.to.port, 500); // MM3
  assert.equal(sends[2]!.to.port, 4500); // MM5
  assert.equal(sends[2]!.nonEspMarker, true);
  assert.equal(r.s.usesNatT, true);
  assert.equal(r.s.remoteEndpoint.port, 4500);
  // Quick Mode: both directions keyed as the gateway keyed them (RFC 2409 §5.5).
  const [child] = installs(r);
  assert.ok(child);
  const g = r.gw.children[0]!;
  assert.equal(child.inbound.spi, g.spiOut);
  assert.equal(child.outbound.spi, g.spiIn);
  assert.ok(equalBytes(child.inbound.keymat, g.keyOut));
  assert.ok(equalBytes(child.outbound.keymat, g.keyIn));
  assert.equal(child.inbound.keymat.length, 36, 'AES-256 key + 4-byte salt');
  assert.equal(child.inbound.encrId, 20);
  // INITIAL-CONTACT in a protected informational (RFC 2407 §4.6.3.3).
  assert.ok(r.gw.notifies.some((n) => n.notifyType === 24578));
});

test('close: DELETE of our IPsec SA (our inbound SPI) and of the ISAKMP SA, then closed', () => {
  const r = start(config(), gateway());
  const inSpi = installs(r)[0]!.inbound.spi;
  input(r, { kind: 'close' });
  assert.equal(r.s.state, 'closed');
  const dels = r.gw.deletes as { protocol: number; spis: Uint8Array[] }[];
  assert.equal(dels.length, 2);
  assert.equal(dels[0]!.protocol, 3);
  assert.equal(new DataView(dels[0]!.spis[0]!.buffer).getUint32(0), inSpi);
  assert.equal(dels[1]!.protocol, 1);
  assert.ok(equalBytes(dels[1]!.spis[0]!, r.gw.cookies()));
  assert.ok(r.outputs.some((o) => o.kind === 'removeChild' && o.inboundSpi === inSpi));
  assert.equal(closed(r)?.error, undefined);
});

test('wrong PSK: the gateway cannot read message 5 → ERR_IKE_AUTH_FAILED', () => {
  const r = start(config(), gateway({ psk: new TextEncoder().encode('other') }));
  assert.equal(r.s.state, 'connecting');
  timeOut(r);
  assert.equal(closed(r)?.error?.code, 'ERR_IKE_AUTH_FAILED');
  assert.match(closed(r)!.error!.message, /pre-shared key/);
});

test('wrong PSK, strongSwan style: its N(PAYLOAD_MALFORMED) under other keys fails at once with ERR_IKE_AUTH_FAILED', () => {
  const r = start(
    config(),
    gateway({ psk: new TextEncoder().encode('other'), answerBadMm5: true }),
  );
  assert.equal(r.s.state, 'closed');
  assert.equal(r.s.counters.retransmits, 0, 'no need to wait for the retransmissions');
  assert.equal(closed(r)?.error?.code, 'ERR_IKE_AUTH_FAILED');
  assert.match(closed(r)!.error!.message, /Main Mode message 5.*pre-shared key/);
});

test('no proposal chosen → ERR_IKE_NO_PROPOSAL', () => {
  const r = start(config(), gateway({ refuseProposal: true }));
  assert.equal(r.s.state, 'closed');
  assert.equal(closed(r)?.error?.code, 'ERR_IKE_NO_PROPOSAL');
});

test('the gateway answering with another identity → ERR_IKE_AUTH_FAILED', () => {
  const r = start(config({ remoteId: parseIdentity('@other.test') }), gateway());
  assert.equal(closed(r)?.error?.code, 'ERR_IKE_AUTH_FAILED');
});

test('Aggressive Mode with PSK (cfg.aggressive): three messages, then Quick Mode', () => {
  const r = start(config({ aggressive: true }), gateway());
  assert.equal(r.s.state, 'established', closed(r)?.error?.message);
  assert.equal(decodeV1Message(r.sent[0]!).header.exchangeType, 4);
  assert.ok(r.gw.phase1Done, 'the gateway verified HASH_I in message 3');
  assert.equal(installs(r).length, 1);
  assert.ok(equalBytes(installs(r)[0]!.inbound.keymat, r.gw.children[0]!.keyOut));
});

function pki(name: string): { key: ReturnType<typeof createPrivateKey>; cert: Uint8Array } {
  const f = (n: string): string => readFileSync(findRepoFile(`test/pki/fixtures/${n}`), 'utf8');
  return { key: createPrivateKey(f(`${name}.key`)), cert: pemToDer(f(`${name}.crt`))[0]! };
}

const ROOT = (): Uint8Array[] =>
  pemToDer(readFileSync(findRepoFile('test/pki/fixtures/root-ca.crt'), 'utf8'));
const INT = (): Uint8Array =>
  pemToDer(readFileSync(findRepoFile('test/pki/fixtures/int-ca.crt'), 'utf8'))[0]!;

test('RSA certificates (method 3): SIG over HASH_I/HASH_R, the gateway certificate validated', () => {
  const client = pki('client-rsa');
  const gw = pki('gw-rsa');
  const r = start(
    config({
      auth: { kind: 'pubkey', key: client.key, certs: [client.cert] },
      gatewayAuth: { certs: createCertValidator({ anchors: ROOT() }) },
    }),
    gateway({
      key: gw.key,
      cert: gw.cert,
      clientKey: createPublicKey(client.key),
      psk: new Uint8Array(0),
    }),
    T2030,
  );
  assert.equal(r.s.state, 'established', closed(r)?.error?.message);
  assert.ok(r.gw.clientIdOk, 'the gateway verified our signature');
});

test('ECDSA certificates (RFC 4754 method 9): both signatures verify', () => {
  const client = pki('client-ecdsa');
  const gw = pki('gw-ecdsa');
  const validator = createCertValidator({ anchors: ROOT() });
  const r = start(
    config({
      remoteId: parseIdentity('@gw-ecdsa.test'),
      auth: { kind: 'pubkey', key: client.key, certs: [client.cert] },
      gatewayAuth: {
        certs: {
          certreqKeyIds: [],
          validate: (c, id, now) => validator.validate([...c, INT()], id, now),
        },
      },
    }),
    gateway({
      id: parseIdentity('@gw-ecdsa.test'),
      key: gw.key,
      cert: gw.cert,
      clientKey: createPublicKey(client.key),
      psk: new Uint8Array(0),
    }),
    T2030,
  );
  assert.equal(r.s.state, 'established', closed(r)?.error?.message);
  assert.ok(r.gw.clientIdOk);
});

test('an untrusted gateway certificate → ERR_CERT_UNTRUSTED', () => {
  const client = pki('client-rsa');
  const evil = pki('evil-gw');
  const r = start(
    config({
      auth: { kind: 'pubkey', key: client.key, certs: [client.cert] },
      gatewayAuth: { certs: createCertValidator({ anchors: ROOT() }) },
    }),
    gateway({
      key: evil.key,
      cert: evil.cert,
      clientKey: createPublicKey(client.key),
      psk: new Uint8Array(0),
    }),
    T2030,
  );
  assert.equal(closed(r)?.error?.code, 'ERR_CERT_UNTRUSTED');
});

test('DPD (RFC 3706): R-U-THERE after the delay, the ACK settles it; a silent gateway → ERR_IKE_TIMEOUT', () => {
  const r = start(config({ dpdDelayMs: 10000 }), gateway());
  assert.equal(r.s.state, 'established');
  r.now += 11000;
  input(r, { kind: 'timer', timer: 'dpd' });
  assert.ok(
    r.gw.notifies.some((n) => n.notifyType === 36136),
    'R-U-THERE sent',
  );
  assert.equal(r.s.counters.dpdSent, 1);
  assert.equal(r.s.state, 'established');
  assert.equal(
    (r.s as unknown as { outstanding?: unknown }).outstanding,
    undefined,
    'the ACK settled it',
  );
  // Now the gateway stops answering.
  r.gw.o.silent = true;
  r.now += 11000;
  input(r, { kind: 'timer', timer: 'dpd' });
  timeOut(r);
  assert.equal(closed(r)?.error?.code, 'ERR_IKE_TIMEOUT');
  assert.match(closed(r)!.error!.message, /dead peer detection/);
});

test("the gateway's protected DELETE of the ISAKMP SA closes the session (byPeer, ERR_IKE_DELETED)", () => {
  const r = start(config(), gateway());
  const del = r.gw.informational([
    { kind: 'delete', type: 12, doi: 1, protocol: 1, spiSize: 16, spis: [r.gw.cookies()] },
  ]);
  input(r, { kind: 'datagram', data: del, from: { ...GW, port: 4500 } });
  const c = closed(r);
  assert.equal(c?.byPeer, true);
  assert.equal(c?.error?.code, 'ERR_IKE_DELETED');
});

test('an informational with a bad hash, or unprotected, is counted and dropped (hash checked before acting)', () => {
  const r = start(config(), gateway());
  const del = r.gw.informational([
    { kind: 'delete', type: 12, doi: 1, protocol: 1, spiSize: 16, spis: [r.gw.cookies()] },
  ]);
  // Flip a bit of the ciphertext's first block: the HASH no longer matches.
  const bad = del.slice();
  bad[30]! ^= 1;
  input(r, { kind: 'datagram', data: bad, from: { ...GW, port: 4500 } });
  assert.equal(r.s.state, 'established');
  const dropped = r.s.counters.dropped;
  assert.ok(
    (dropped['bad informational hash'] ?? 0) +
      (dropped['undecryptable'] ?? 0) +
      (dropped['malformed'] ?? 0) >=
      1,
    JSON.stringify(dropped),
  );
  // Unprotected DELETE (E flag clear).
  const chain = encodeV1Chain([
    { kind: 'delete', type: 12, doi: 1, protocol: 1, spiSize: 16, spis: [r.gw.cookies()] },
  ]);
  const plainDel = encodeV1Message(
    { cookieI: r.gw.cookieI, cookieR: r.gw.cookieR, exchangeType: 5, flags: 0, messageId: 1 },
    chain.first,
    chain.bytes,
  );
  input(r, { kind: 'datagram', data: plainDel, from: { ...GW, port: 4500 } });
  assert.equal(r.s.state, 'established');
  assert.equal(r.s.counters.dropped['unprotected informational'], 1);
  // The genuine one still works afterwards (the IV chain did not move on the bad ones).
  input(r, { kind: 'datagram', data: del, from: { ...GW, port: 4500 } });
  assert.equal(r.s.state, 'closed');
});

test('retransmission: a lost Main Mode message 1 is resent byte for byte', () => {
  const s = new Ikev1Session(config(), new SeededRandom(5));
  const gw = gateway();
  const r: Run = { s, gw, outputs: [], sent: [], now: 1000, lost: 0, received: [] };
  pump(r, s.handle({ kind: 'start', local: CLIENT, remote: GW }, 1000), (_d, i) => i === 0);
  assert.equal(r.lost, 1);
  assert.equal(s.state, 'connecting');
  r.now += 3000;
  input(r, { kind: 'timer', timer: 'retransmit' });
  assert.ok(equalBytes(r.sent[0]!, r.sent[1]!));
  assert.equal(s.counters.retransmits, 1);
  assert.equal(s.state, 'established', closed(r)?.error?.message);
});

test('a retransmitted Quick Mode message 2 is answered with the same HASH(3)', () => {
  const r = start(config(), gateway());
  // QM1 and QM3 went out; a retransmitted QM2 gets QM3 again.
  const qmSent = r.sent.filter((d) => decodeV1Message(d).header.exchangeType === 32);
  assert.equal(qmSent.length, 2);
  const outs = r.s.handle(
    { kind: 'datagram', data: r.gw.lastReply!, from: { ...GW, port: 4500 } },
    r.now,
  );
  const resent = outs.find((o) => o.kind === 'send');
  assert.ok(resent && resent.kind === 'send');
  assert.ok(equalBytes(resent.data, qmSent[1]!));
});

test('Quick Mode rekey: new SA installed before the old one is deleted (make before break)', () => {
  const r = start(config({ childRekeyMs: 60000 }), gateway());
  const first = installs(r)[0]!;
  r.now += 60000;
  input(r, { kind: 'timer', timer: 'rekey-child' });
  const all = installs(r);
  assert.equal(all.length, 2);
  const iInstall = r.outputs.findIndex((o) => o.kind === 'installChild' && o.child === all[1]);
  const iRemove = r.outputs.findIndex(
    (o) => o.kind === 'removeChild' && o.inboundSpi === first.inbound.spi,
  );
  assert.ok(iInstall >= 0 && iRemove > iInstall, 'install, then remove');
  assert.ok(r.gw.deletes.some((d) => d.kind === 'delete' && d.protocol === 3));
  assert.ok(events(r).some((e) => e.type === 'rekeyed' && e.what === 'child'));
  assert.equal(r.s.counters.childRekeys, 1);
  assert.equal(r.s.state, 'established');
});

/** The cookies of the ISAKMP SA a client datagram belongs to, as hex. */
const cookiesOf = (d: Uint8Array): string => Buffer.from(d.subarray(0, 16)).toString('hex');

test('phase 1 rekey: a new Main Mode, the old ISAKMP SA deleted a little later, the IPsec SA kept', () => {
  const r = start(config({ ikeRekeyMs: 60000 }), gateway());
  const oldCookies = Buffer.from(r.gw.cookies()).toString('hex');
  const gw1 = r.gw;
  const gw2 = gateway({ random: new SeededRandom(99) });
  r.gw = gw2; // the gateway answers the new Main Mode with a new ISAKMP SA
  r.now += 60000;
  input(r, { kind: 'timer', timer: 'rekey-ike' });
  assert.equal(r.s.state, 'established', closed(r)?.error?.message);
  assert.ok(events(r).some((e) => e.type === 'rekeyed' && e.what === 'ike'));
  assert.equal(r.s.counters.ikeRekeys, 1);
  assert.ok(!r.outputs.some((o) => o.kind === 'removeChild'));
  // The old ISAKMP SA is deleted only when the retire timer fires (strongSwan adopts the IPsec
  // SAs into the new ISAKMP SA meanwhile).
  const before = r.sent.filter((d) => cookiesOf(d) === oldCookies).length;
  const retire = r.outputs.filter((o) => o.kind === 'setTimer' && o.timer === 'rekey-ike').pop();
  assert.ok(retire && retire.kind === 'setTimer' && retire.at === r.now + 2000);
  r.gw = gw1;
  r.now += 2000;
  input(r, { kind: 'timer', timer: 'rekey-ike' });
  assert.equal(r.sent.filter((d) => cookiesOf(d) === oldCookies).length, before + 1);
  assert.ok(gw1.deletes.some((d) => d.kind === 'delete' && d.protocol === 1));
  r.gw = gw2;
  // DPD now runs over the new SA: the new gateway state answers it.
  input(r, { kind: 'probe' });
  assert.ok(gw2.notifies.some((n) => n.notifyType === 36136));
});

test('EAP credentials are refused for IKEv1 (ERR_CONFIG)', () => {
  assert.throws(
    () =>
      new Ikev1Session(config({ auth: { kind: 'eap', peer: {} as never } }), new SeededRandom(1)),
    (e: Error & { code?: string }) => e.code === 'ERR_CONFIG',
  );
});

test('PSK + XAUTH + Mode Config (remote access): credentials, virtual IP as IDci, DNS', () => {
  const r = start(
    config({
      xauth: { user: 'alice', password: new TextEncoder().encode('wonderland') },
      modeConfig: true,
    }),
    gateway({ xauth: { user: 'alice', password: 'wonderland' }, vip: '10.3.0.7' }),
  );
  assert.equal(r.s.state, 'established', closed(r)?.error?.message ?? JSON.stringify(r.s.counters));
  assert.equal(r.gw.xauthOk, true);
  assert.equal(r.gw.authMethod, 65001, 'XAUTHInitPreShared');
  const est = events(r).find((e) => e.type === 'established');
  assert.ok(est && est.type === 'established');
  assert.equal(est.info.config.ip4, '10.3.0.7');
  assert.deepEqual(est.info.config.dns4, ['10.1.0.53']);
  // RFC 2409 §5.5: our side of the Quick Mode is the virtual IP (ID_IPV4_ADDR).
  const idci = r.gw.qmIds[0]!;
  assert.equal(idci.idType, 1);
  assert.deepEqual([...idci.data], [10, 3, 0, 7]);
  assert.deepEqual(est.info.tsLocal, ['10.3.0.7/32']);
  // The ACK of the SET came back to the gateway.
  assert.ok(r.gw.attrs.some((a) => a.cfgType === 4));
});

test("wrong XAUTH password → ERR_IKE_AUTH_FAILED (after ACKing the gateway's SET STATUS=0)", () => {
  const r = start(
    config({
      xauth: { user: 'alice', password: new TextEncoder().encode('wrong') },
      modeConfig: true,
    }),
    gateway({ xauth: { user: 'alice', password: 'wonderland' } }),
  );
  assert.equal(r.gw.xauthOk, false);
  assert.equal(closed(r)?.error?.code, 'ERR_IKE_AUTH_FAILED');
  assert.ok(
    r.gw.attrs.some((a) => a.cfgType === 4),
    'ACK sent',
  );
});

test('a gateway that never starts XAUTH → ERR_IKE_TIMEOUT', () => {
  const r = start(
    config({ xauth: { user: 'alice', password: new TextEncoder().encode('x') } }),
    gateway(),
  );
  assert.equal(r.s.state, 'connecting');
  timeOut(r, 1);
  assert.equal(closed(r)?.error?.code, 'ERR_IKE_TIMEOUT');
  assert.match(closed(r)!.error!.message, /XAUTH/);
});

test('phase 1 rekey with XAUTH: XAUTH again on the new ISAKMP SA, the old one deleted only after it', () => {
  const xauth = { user: 'alice', password: 'wonderland' };
  const r = start(
    config({
      ikeRekeyMs: 60000,
      xauth: { user: 'alice', password: new TextEncoder().encode('wonderland') },
    }),
    gateway({ xauth }),
  );
  assert.equal(r.s.state, 'established', closed(r)?.error?.message);
  const gw2 = gateway({ random: new SeededRandom(99), xauth });
  r.gw = gw2;
  r.now += 60000;
  input(r, { kind: 'timer', timer: 'rekey-ike' });
  assert.equal(r.s.state, 'established', closed(r)?.error?.message);
  assert.equal(gw2.xauthOk, true, 'XAUTH ran on the new SA with fresh state');
  assert.ok(
    r.gw.attrs.some((a) => a.cfgType === 4),
    'its SET was ACKed',
  );
  const retire = r.outputs.filter((o) => o.kind === 'setTimer' && o.timer === 'rekey-ike').pop();
  assert.ok(retire && retire.kind === 'setTimer' && retire.at === r.now + 2000);
});

test("the gateway's R-U-THERE is answered with R-U-THERE-ACK carrying its sequence number (RFC 3706 §5)", () => {
  const r = start(config(), gateway());
  const seq = Uint8Array.of(0, 0, 0x12, 0x34);
  const ask = r.gw.informational([
    {
      kind: 'notify',
      type: 11,
      doi: 1,
      protocol: 1,
      spi: r.gw.cookies(),
      notifyType: 36136,
      data: seq,
    },
  ]);
  const before = r.gw.notifies.length;
  input(r, { kind: 'datagram', data: ask, from: { ...GW, port: 4500 } });
  const ack = r.gw.notifies.slice(before).find((n) => n.notifyType === 36137);
  assert.ok(ack, 'ACK received by the gateway (its hash verified)');
  assert.deepEqual([...ack.data], [...seq]);
  assert.ok(equalBytes(ack.spi, r.gw.cookies()));
  assert.equal(r.s.state, 'established');
});

test("the gateway's Quick Mode rekey is answered (RFC 2409 §5.5 as responder): keys equal the gateway's, the old SA goes on its DELETE", () => {
  const r = start(config(), gateway());
  const old = installs(r)[0]!;
  const gwSpi = 0x7000;
  const offer = encodePhase2Sa(parseV1Phase2Proposals('aes128gcm16-aes256gcm16', {}), gwSpi, 3);
  const ids = r.gw.qmIds.slice(0, 2).reverse(); // the gateway's IDci is its side
  const qm1 = r.gw.startQuickMode(offer, ids);
  input(r, { kind: 'datagram', data: qm1, from: { ...GW, port: 4500 } });
  const res = r.gw.ourQmResult;
  assert.ok(res, 'our QM2 verified by the gateway (HASH(2))');
  assert.equal(installs(r).length, 1, 'nothing installed before HASH(3)');
  input(r, { kind: 'datagram', data: res.qm3, from: { ...GW, port: 4500 } });
  const all = installs(r);
  assert.equal(all.length, 2);
  const child = all[1]!;
  assert.equal(child.inbound.spi, res.spiClient);
  assert.equal(child.outbound.spi, gwSpi);
  assert.ok(equalBytes(child.inbound.keymat, res.child.keyOut));
  assert.ok(equalBytes(child.outbound.keymat, res.child.keyIn));
  assert.equal(child.proposal, 'aes256gcm16', "the transform we offer, from the gateway's list");
  assert.ok(events(r).some((e) => e.type === 'rekeyed' && e.what === 'child' && e.by === 'peer'));
  // The gateway deletes the old SA (its inbound SPI = our outbound one).
  const del = r.gw.informational([
    {
      kind: 'delete',
      type: 12,
      doi: 1,
      protocol: 3,
      spiSize: 4,
      spis: [
        Uint8Array.of(
          old.outbound.spi >>> 24,
          (old.outbound.spi >>> 16) & 255,
          (old.outbound.spi >>> 8) & 255,
          old.outbound.spi & 255,
        ),
      ],
    },
  ]);
  input(r, { kind: 'datagram', data: del, from: { ...GW, port: 4500 } });
  assert.ok(r.outputs.some((o) => o.kind === 'removeChild' && o.inboundSpi === old.inbound.spi));
  assert.equal(r.s.state, 'established');
});

test('RESPONDER-LIFETIME in Quick Mode message 2 makes us rekey before the gateway expires the SA', () => {
  const r = start(config({ childRekeyMs: 3600000 }), gateway({ responderLifetime: 60 }));
  assert.equal(r.s.state, 'established', closed(r)?.error?.message);
  const t = r.outputs.filter((o) => o.kind === 'setTimer' && o.timer === 'rekey-child').pop();
  assert.ok(t && t.kind === 'setTimer');
  assert.ok(t.at <= r.now + 54000 && t.at >= r.now + 48600, `rekey at +${t.at - r.now} ms`);
});

test("a retransmitted XAUTH request of the gateway's is answered again with the identical reply", () => {
  const r = start(
    config({ xauth: { user: 'alice', password: new TextEncoder().encode('wonderland') } }),
    gateway({ xauth: { user: 'alice', password: 'wonderland' } }),
  );
  assert.equal(r.s.state, 'established', closed(r)?.error?.message);
  // The gateway's last transaction datagram (its SET) and our ACK to it.
  const set = r.received.filter((d) => decodeV1Message(d).header.exchangeType === 6).pop()!;
  const ack = r.sent.filter((d) => decodeV1Message(d).header.exchangeType === 6).pop()!;
  const outs = r.s.handle({ kind: 'datagram', data: set, from: { ...GW, port: 4500 } }, r.now);
  const again = outs.find((o) => o.kind === 'send');
  assert.ok(again && again.kind === 'send');
  assert.ok(equalBytes(again.data, ack), 'the cached ACK, byte for byte');
  assert.equal(r.s.state, 'established');
});

test('Mode Config push (SET after XAUTH) is ACKed and used: virtual IP, then Quick Mode', () => {
  const r = start(
    config({
      xauth: { user: 'alice', password: new TextEncoder().encode('wonderland') },
      modeConfig: true,
    }),
    gateway({ xauth: { user: 'alice', password: 'wonderland' }, vip: '10.3.0.9', push: true }),
  );
  assert.equal(r.s.state, 'established', closed(r)?.error?.message ?? JSON.stringify(r.s.counters));
  const est = events(r).find((e) => e.type === 'established');
  assert.ok(est && est.type === 'established');
  assert.equal(est.info.config.ip4, '10.3.0.9');
  assert.ok(r.gw.attrs.filter((a) => a.cfgType === 4).length >= 2, 'XAUTH and Mode Config ACKed');
});

test('a gateway that asks for XAUTH without credentials configured → ERR_IKE_AUTH_FAILED naming the options', () => {
  const r = start(config(), gateway({ xauth: { user: 'alice', password: 'wonderland' } }));
  assert.equal(closed(r)?.error?.code, 'ERR_IKE_AUTH_FAILED');
  assert.match(closed(r)!.error!.message, /--xauth-user/);
});

test('fuzz: mutated gateway datagrams never crash an established session nor end it with an internal error', () => {
  const rng = new SeededRandom(4242);
  const pick = (n: number): number => (rng.bytes(4).reduce((a, b) => a * 256 + b, 0) >>> 0) % n;
  for (let round = 0; round < 6; round++) {
    const r = start(
      config({ dpdDelayMs: 1000 }),
      gateway({ random: new SeededRandom(500 + round) }),
    );
    assert.equal(r.s.state, 'established');
    const seeds = [
      ...r.received,
      r.gw.informational([
        {
          kind: 'notify',
          type: 11,
          doi: 1,
          protocol: 1,
          spi: r.gw.cookies(),
          notifyType: 36136,
          data: Uint8Array.of(0, 0, 0, 1),
        },
      ]),
    ];
    for (let i = 0; i < 400 && r.s.state === 'established'; i++) {
      const m = seeds[pick(seeds.length)]!.slice();
      const kind = pick(4);
      if (kind === 0) m[pick(m.length)]! ^= 1 << pick(8);
      else if (kind === 1) m[28 + pick(Math.max(1, m.length - 28))] = pick(256);
      else if (kind === 2) m[pick(28)] = pick(256);
      const data = kind === 3 ? m.subarray(0, pick(m.length + 1)) : m;
      const outs = r.s.handle({ kind: 'datagram', data, from: { ...GW, port: 4500 } }, r.now);
      const c = outs.find((o) => o.kind === 'event' && o.event.type === 'closed');
      if (c && c.kind === 'event' && c.event.type === 'closed')
        assert.doesNotMatch(c.event.error?.message ?? '', /internal error/);
    }
  }
});

test('without rekey times configured we still rekey before the lifetimes the gateway accepted run out (it does not rekey for us)', () => {
  const r = start(
    config({
      phase1: parseV1Phase1Proposals('aes256-sha256-modp2048', {
        legacy: false,
        lifeSeconds: 1000,
      }),
      phase2: parseV1Phase2Proposals('aes256gcm16', { lifeSeconds: 100 }),
    }),
    gateway(),
  );
  assert.equal(r.s.state, 'established', closed(r)?.error?.message);
  const at = (timer: string): number => {
    const t = r.outputs.filter((o) => o.kind === 'setTimer' && o.timer === timer).pop();
    assert.ok(t && t.kind === 'setTimer', `${timer} armed`);
    return t.at - r.now;
  };
  const child = at('rekey-child');
  assert.ok(child <= 90000 && child >= 81000, `child rekey at +${child} ms`);
  const ike = at('rekey-ike');
  assert.ok(ike <= 900000 && ike >= 810000, `phase 1 rekey at +${ike} ms`);
});
