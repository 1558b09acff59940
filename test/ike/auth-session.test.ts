/**
 * IKE_AUTH beyond PSK, in memory against the test responder: RFC 7383 fragmentation both ways,
 * EAP rounds (RFC 7296 §2.16) with an MSK-less method, and gateway certificates.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createPrivateKey, randomBytes } from 'node:crypto';
import { concatBytes, equalBytes } from '../../src/core/bytes.js';
import { SeededRandom } from '../../src/core/random.js';
import { ExchangeType, NotifyType, PayloadType } from '../../src/ike/constants.js';
import {
  decodeMessage,
  encodePayloadChain,
  filterPayloads,
  findPayload,
} from '../../src/ike/codec/index.js';
import { parseIdentity } from '../../src/ike/identity.js';
import { IkeSession, type IkeOutput } from '../../src/ike/session.js';
import { createEapPeer, type EapMethodName } from '../../src/eap/peer.js';
import { decodeEap, EapType } from '../../src/eap/packet.js';
import {
  generateAuthenticatorResponse,
  generateNtResponse,
  hashNtPasswordHash,
  mschapUserName,
  mschapv2Msk,
  ntPasswordHash,
} from '../../src/eap/mschapv2.js';
import { createEapTls } from '../../src/client/eap-tls.js';
import { createCertValidator } from '../../src/ike/auth/validator.js';
import { pemToDer } from '../../src/pki/x509.js';
import {
  CLIENT,
  GW,
  PSK,
  closedEvent,
  config,
  responder,
  start,
} from '../support/session-harness.js';
import { EapTlsServer } from '../support/eap-tls-server.js';
import { findRepoFile } from '../support/paths.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
/** EAP-TLS certificates (test/client/fixtures/eap-tls): a CA and a server named eap.test. */
const tlsFixture = (n: string): string =>
  readFileSync(findRepoFile(`test/client/fixtures/eap-tls/${n}`), 'utf8');
const TLS_CA = pemToDer(tlsFixture('ca.crt'))[0]!;

function installed(outputs: IkeOutput[]): boolean {
  return outputs.some((o) => o.kind === 'installChild');
}

test('RFC 7383: an IKE_AUTH larger than fragmentSize goes out in SKF fragments; the reply is reassembled', () => {
  const gw = gatewayCert();
  const run = start(
    config({
      fragmentSize: 576,
      gatewayAuth: { certs: createCertValidator({ anchors: gw.ca }) },
      auth: { kind: 'pubkey', key: gw.key, certs: gw.certs },
    }),
    responder({ fragmentSize: 576, cert: { key: gw.key, certs: gw.certs } }),
  );
  assert.equal(run.session.state, 'established', closedEvent(run)?.error?.message);
  assert.ok(installed(run.outputs));
  // Every datagram we sent after IKE_SA_INIT fits, and IKE_AUTH needed more than one.
  const auth = run.sent
    .slice(1)
    .filter((d) => decodeMessage(d).header.exchangeType === ExchangeType.IKE_AUTH);
  assert.ok(auth.length >= 2, `IKE_AUTH in ${auth.length} datagrams`);
  for (const d of auth) {
    assert.ok(d.length + 32 <= 576, `${d.length} bytes`);
    assert.ok(findPayload(decodeMessage(d).payloads, PayloadType.SKF));
  }
  assert.equal(run.resp.fragmentsReceived, auth.length);
  assert.equal(run.resp.fragmentedAnswers, 1, 'the gateway fragmented its answer too');
});

test('without the gateway announcing fragmentation, IKE_AUTH goes out whole', () => {
  const run = start(config({ fragmentSize: 360 }), responder());
  assert.equal(run.session.state, 'established');
  assert.equal(run.resp.fragmentsReceived, 0);
});

function eapConfig(password: string, eapOnly = false): ReturnType<typeof config> {
  return config({
    localId: parseIdentity('carol'),
    auth: {
      kind: 'eap',
      peer: createEapPeer({
        identity: new TextEncoder().encode('carol'),
        password: new TextEncoder().encode(password),
        methods: ['md5'],
        random: new SeededRandom(5),
      }),
    },
    gatewayAuth: { psk: new TextEncoder().encode('correct horse battery staple'), eapOnly },
  });
}

test('EAP-MD5: no AUTH in the first IKE_AUTH, a challenge round, then AUTH keyed with SK_pi (§2.16)', () => {
  const run = start(eapConfig('secret'), responder({ eapMd5Password: 'secret' }));
  assert.equal(run.session.state, 'established', JSON.stringify(closedEvent(run)?.error?.message));
  assert.ok(installed(run.outputs));
  assert.equal(run.resp.eapResponses.length, 1);
  const first = run.resp.decryptForTest(run.sent[1]!);
  assert.equal(findPayload(first, PayloadType.AUTH), undefined, 'first IKE_AUTH without AUTH');
});

test('EAP-MD5 with a wrong password: EAP-Failure ends it with ERR_EAP_FAILED, no CHILD_SA', () => {
  const run = start(eapConfig('wrong'), responder({ eapMd5Password: 'secret' }));
  assert.equal(run.session.state, 'closed');
  assert.equal(closedEvent(run)?.error?.code, 'ERR_EAP_FAILED');
  assert.ok(!installed(run.outputs));
});

test('RFC 5998: a gateway without AUTH is refused unless --eap-only, and then only for a mutual method', () => {
  const a = start(eapConfig('secret'), responder({ eapMd5Password: 'secret', eapOnly: true }));
  assert.equal(closedEvent(a)?.error?.code, 'ERR_IKE_AUTH_FAILED');
  assert.match(closedEvent(a)!.error!.message, /--eap-only/);
  // Opted in, but EAP-MD5 does not authenticate the gateway and its answer can be cracked
  // offline: refused before we answer the challenge (RFC 5998 §4).
  const b = start(
    eapConfig('secret', true),
    responder({ eapMd5Password: 'secret', eapOnly: true }),
  );
  assert.equal(closedEvent(b)?.error?.code, 'ERR_IKE_AUTH_FAILED');
  assert.match(closedEvent(b)!.error!.message, /has not proved its identity.*EAP-MD5/);
  assert.equal(b.resp.eapResponses.length, 0, 'no EAP-MD5 Response went out');
  assert.ok(!installed(b.outputs));
  const first = b.resp.decryptForTest(b.sent[1]!);
  assert.ok(
    filterPayloads(first, PayloadType.NOTIFY).some(
      (n) => n.notifyType === NotifyType.EAP_ONLY_AUTHENTICATION,
    ),
    'we announced EAP_ONLY_AUTHENTICATION',
  );
});

function gatewayCert(): {
  key: ReturnType<typeof createPrivateKey>;
  certs: Uint8Array[];
  ca: Uint8Array[];
} {
  const f = (n: string): string => readFileSync(findRepoFile(`test/pki/fixtures/${n}`), 'utf8');
  return {
    key: createPrivateKey(f('gw-rsa.key')),
    certs: pemToDer(f('gw-rsa.crt')),
    ca: pemToDer(f('root-ca.crt')),
  };
}

test('a gateway certificate that chains to our CA and names the gateway is accepted', () => {
  const gw = gatewayCert();
  const run = start(
    config({
      remoteId: parseIdentity('@gw.test'),
      gatewayAuth: { certs: createCertValidator({ anchors: gw.ca, host: '198.51.100.10' }) },
    }),
    responder({ cert: { key: gw.key, certs: gw.certs }, id: parseIdentity('@gw.test') }),
  );
  assert.equal(run.session.state, 'established', closedEvent(run)?.error?.message);
  const first = run.resp.decryptForTest(run.sent[1]!);
  const req = findPayload(first, PayloadType.CERTREQ);
  assert.ok(req && req.data.length === 20, 'CERTREQ with the SHA-1 key hash of our one CA');
});

test('a gateway certificate from a CA we do not trust: ERR_CERT_UNTRUSTED, nothing installed', () => {
  const gw = gatewayCert();
  const other = pemToDer(readFileSync(findRepoFile('test/pki/fixtures/evil-ca.crt'), 'utf8'));
  const run = start(
    config({ gatewayAuth: { certs: createCertValidator({ anchors: other }) } }),
    responder({ cert: { key: gw.key, certs: gw.certs }, id: parseIdentity('@gw.test') }),
  );
  assert.equal(closedEvent(run)?.error?.code, 'ERR_CERT_UNTRUSTED');
  assert.ok(!installed(run.outputs));
});

test('a PSK connection refuses a gateway that signs instead, and a cert connection a PSK MAC', () => {
  const gw = gatewayCert();
  const a = start(
    config(),
    responder({ cert: { key: gw.key, certs: gw.certs }, id: parseIdentity('@gw.test') }),
  );
  assert.equal(closedEvent(a)?.error?.code, 'ERR_IKE_AUTH_FAILED');
  const b = start(
    config({ gatewayAuth: { certs: createCertValidator({ anchors: gw.ca }) } }),
    responder(),
  );
  assert.equal(closedEvent(b)?.error?.code, 'ERR_IKE_AUTH_FAILED');
  assert.match(closedEvent(b)!.error!.message, /pre-shared key/);
});

// ---------------------------------------------------------------------------------------------
// RFC 5998 §4: EAP credentials never go to a gateway that has not proved who it is

const EAP_PASSWORD = 'carol: not for rogues';

/** An EAP packet (RFC 3748 §4): Code, Identifier, Length, [Type, Type-Data]. */
function eapPacket(
  code: number,
  id: number,
  type?: number,
  data: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const body = type === undefined ? new Uint8Array(0) : concatBytes(Uint8Array.of(type), data);
  const len = 4 + body.length;
  return concatBytes(Uint8Array.of(code, id, len >> 8, len & 0xff), body);
}

/** An MSCHAPv2 Challenge Request's Type-Data (draft-kamath-pppext-eap-mschapv2-02 §2.1). */
function mschapChallenge(challenge: Uint8Array): Uint8Array {
  const d = concatBytes(Uint8Array.of(1, 0x42, 0, 0, 16), challenge, utf8('rogue'));
  d[3] = d.length;
  return d;
}

const PASSWORD_METHODS: [string, number, () => Uint8Array][] = [
  ['EAP-GTC', EapType.GTC, () => utf8('Password: ')],
  ['EAP-MD5', EapType.MD5_CHALLENGE, () => concatBytes(Uint8Array.of(16), randomBytes(16))],
  ['EAP-MSCHAPv2', EapType.MSCHAPV2, () => mschapChallenge(randomBytes(16))],
];

/**
 * A rogue authenticator: Identity, then `type` — and `type` again after a Nak, insisting — then
 * EAP-Failure. It never succeeds; it only wants what the client answers.
 */
function rogueEap(type: number, data: () => Uint8Array) {
  let id = 1;
  return {
    start: () => eapPacket(1, id, EapType.IDENTITY),
    next: () => {
      if (id >= 4) return eapPacket(4, id);
      return eapPacket(1, ++id, type, data());
    },
    msk: () => undefined,
  };
}

/** A client EAP peer with the password, `methods`, and EAP-TLS set up when `methods` names it. */
function eapClient(
  methods: EapMethodName[],
  eapOnly: boolean,
): { cfg: ReturnType<typeof config>; close: () => void } {
  const asyncMethods = methods.includes('tls')
    ? [
        createEapTls({
          ca: [TLS_CA],
          serverName: 'eap.test',
          onResponse: () => undefined,
          onFailure: () => undefined,
        }),
      ]
    : [];
  const cfg = config({
    localId: parseIdentity('carol'),
    auth: {
      kind: 'eap',
      peer: createEapPeer({
        identity: utf8('carol'),
        password: utf8(EAP_PASSWORD),
        methods,
        random: new SeededRandom(5),
        asyncMethods,
      }),
    },
    gatewayAuth: { psk: PSK, eapOnly },
  });
  return { cfg, close: () => asyncMethods.forEach((m) => m.close()) };
}

/** Every EAP packet we sent inside IKE_AUTH, read from the datagrams themselves. */
function eapSent(run: ReturnType<typeof start>): Uint8Array[] {
  return run.sent
    .filter((d) => decodeMessage(d).header.exchangeType === ExchangeType.IKE_AUTH)
    .flatMap((d) => filterPayloads(run.resp.decryptForTest(d), PayloadType.EAP))
    .map((p) => p.data);
}

/** Every plaintext payload body we sent after IKE_SA_INIT, concatenated, to search for secrets. */
function plaintextSent(run: ReturnType<typeof start>): Buffer {
  return Buffer.concat(
    run.sent
      .filter((d) => decodeMessage(d).header.exchangeType === ExchangeType.IKE_AUTH)
      .map((d) => encodePayloadChain(run.resp.decryptForTest(d)).bytes),
  );
}

const PASSWORD_TYPES = new Set<number>([EapType.GTC, EapType.MD5_CHALLENGE, EapType.MSCHAPV2]);

for (const [name, type, data] of PASSWORD_METHODS) {
  test(`RFC 5998: an EAP-only gateway (no AUTH) asking for ${name} gets no ${name} Response, and a clear error`, () => {
    const { cfg, close } = eapClient(['mschapv2', 'md5', 'gtc'], true);
    try {
      const run = start(cfg, responder({ eapOnly: true, eapServer: rogueEap(type, data) }));
      assert.equal(run.session.state, 'closed');
      const err = closedEvent(run)?.error;
      assert.equal(err?.code, 'ERR_IKE_AUTH_FAILED', err?.message);
      assert.match(err.message, /has not proved its identity/);
      assert.match(err.message, type === EapType.GTC ? /password in clear/ : /cracked offline/);
      assert.ok(!installed(run.outputs));
      const sent = eapSent(run).map((p) => decodeEap(p));
      // The Identity Response went out; nothing of the password method did.
      assert.deepEqual(
        sent.map((p) => [p.code, 'type' in p ? p.type : undefined]),
        [[2, EapType.IDENTITY]],
      );
      assert.equal(run.resp.eapResponses.length, 1);
      assert.equal(plaintextSent(run).indexOf(Buffer.from(EAP_PASSWORD)), -1);
    } finally {
      close();
    }
  });

  test(`RFC 5998: with EAP-TLS enabled (the default list), an EAP-only gateway asking for ${name} gets a Nak for EAP-TLS only`, () => {
    const { cfg, close } = eapClient(['mschapv2', 'md5', 'gtc', 'tls'], true);
    try {
      const run = start(cfg, responder({ eapOnly: true, eapServer: rogueEap(type, data) }));
      assert.equal(run.session.state, 'closed');
      assert.match(closedEvent(run)!.error!.message, /asked again for/);
      const sent = eapSent(run).map((p) => decodeEap(p));
      for (const p of sent) {
        assert.equal(p.code, 2);
        assert.ok('type' in p);
        assert.ok(!PASSWORD_TYPES.has(p.type), `sent a ${p.type} Response`);
      }
      const nak = sent.find((p) => 'type' in p && p.type === EapType.NAK);
      assert.ok(nak && 'data' in nak);
      assert.deepEqual([...nak.data], [EapType.TLS], 'the Nak proposes EAP-TLS alone');
      assert.equal(plaintextSent(run).indexOf(Buffer.from(EAP_PASSWORD)), -1);
    } finally {
      close();
    }
  });
}

test('a gateway without AUTH and without --eap-only: the error says what --eap-only risks', () => {
  const { cfg } = eapClient(['mschapv2', 'gtc'], false);
  const run = start(
    cfg,
    responder({ eapOnly: true, eapServer: rogueEap(EapType.GTC, () => utf8('')) }),
  );
  const err = closedEvent(run)?.error;
  assert.equal(err?.code, 'ERR_IKE_AUTH_FAILED');
  assert.match(err.message, /--eap-only allows that with EAP-TLS alone/);
  assert.match(err.message, /trusted on its TLS server certificate only/);
  assert.match(err.message, /never run with a gateway that has not authenticated/);
  assert.equal(eapSent(run).length, 0);
});

/** A real EAP-GTC authenticator: Identity, GTC, then Success for the right password. */
function gtcServer() {
  let id = 1;
  return {
    start: () => eapPacket(1, id, EapType.IDENTITY),
    next: (response: Uint8Array) => {
      const r = decodeEap(response);
      if ('type' in r && r.type === EapType.IDENTITY) return eapPacket(1, ++id, EapType.GTC);
      const ok =
        'type' in r &&
        r.type === EapType.GTC &&
        Buffer.from(r.data).equals(Buffer.from(EAP_PASSWORD));
      return eapPacket(ok ? 3 : 4, id);
    },
    msk: () => undefined,
  };
}

/** A real EAP-MSCHAPv2 authenticator on our RFC 2759 functions (server side), with its MSK. */
function mschapServer() {
  let id = 1;
  const challenge = randomBytes(16);
  let msk: Uint8Array | undefined;
  let succeeded = false;
  return {
    start: () => eapPacket(1, id, EapType.IDENTITY),
    next: (response: Uint8Array) => {
      const r = decodeEap(response);
      if (!('type' in r)) return eapPacket(4, id);
      if (r.type === EapType.IDENTITY) {
        return eapPacket(1, ++id, EapType.MSCHAPV2, mschapChallenge(challenge));
      }
      if (r.type !== EapType.MSCHAPV2) return eapPacket(4, id);
      if (r.data[0] === 3 && succeeded) return eapPacket(3, id);
      const peerChallenge = r.data.slice(5, 21);
      const nt = r.data.slice(29, 53);
      const user = mschapUserName(r.data.slice(54));
      if (!equalBytes(nt, generateNtResponse(challenge, peerChallenge, user, EAP_PASSWORD))) {
        return eapPacket(4, id);
      }
      succeeded = true;
      msk = mschapv2Msk(hashNtPasswordHash(ntPasswordHash(EAP_PASSWORD)), nt);
      const s = generateAuthenticatorResponse(EAP_PASSWORD, nt, peerChallenge, challenge, user);
      const text = utf8(`${s} M=welcome`);
      const d = concatBytes(Uint8Array.of(3, 0x42, 0, 0), text);
      d[3] = d.length;
      return eapPacket(1, ++id, EapType.MSCHAPV2, d);
    },
    msk: () => msk,
  };
}

for (const [name, server] of [
  ['EAP-MSCHAPv2', mschapServer],
  ['EAP-GTC', gtcServer],
] as const) {
  for (const eapOnly of [false, true]) {
    test(`a gateway that authenticated with AUTH may still use ${name}${eapOnly ? ' (with --eap-only set)' : ''}`, () => {
      const { cfg, close } = eapClient(['mschapv2', 'md5', 'gtc', 'tls'], eapOnly);
      try {
        const run = start(cfg, responder({ eapServer: server() }));
        assert.equal(run.session.state, 'established', closedEvent(run)?.error?.message);
        assert.ok(installed(run.outputs));
        const types = eapSent(run)
          .map((p) => decodeEap(p))
          .map((p) => ('type' in p ? p.type : 0));
        assert.ok(types.includes(name === 'EAP-GTC' ? EapType.GTC : EapType.MSCHAPV2));
      } finally {
        close();
      }
    });
  }
}

test('RFC 5998: EAP-TLS with --eap-only still works against a gateway without AUTH (MSK-keyed AUTH)', async () => {
  const tlsServer = new EapTlsServer({
    cert: tlsFixture('server.crt'),
    key: tlsFixture('server.key'),
  });
  // The responder is synchronous and the TLS server is not: each EAP Response of ours is given
  // to the TLS server before the datagram reaches the responder, which then sends its answer.
  let nextEap: Uint8Array | undefined;
  const resp = responder({
    eapOnly: true,
    eapServer: {
      start: () => tlsServer.start(),
      next: () => {
        const n = nextEap!;
        nextEap = undefined;
        return n;
      },
      msk: () => tlsServer.msk(),
    },
  });
  const inbox: IkeOutput[] = [];
  // The session is made after the EAP-TLS method whose callbacks feed it.
  const holder: { session?: IkeSession } = {};
  const now = Date.UTC(2030, 0, 1);
  const tls = createEapTls({
    ca: [TLS_CA],
    serverName: 'eap.test',
    onResponse: (packet) =>
      inbox.push(...holder.session!.handle({ kind: 'eapResponse', packet }, now)),
    onFailure: (error) => inbox.push(...holder.session!.handle({ kind: 'eapFailed', error }, now)),
  });
  const cfg = config({
    localId: parseIdentity('carol'),
    auth: {
      kind: 'eap',
      peer: createEapPeer({
        identity: utf8('carol'),
        password: utf8(EAP_PASSWORD),
        methods: ['mschapv2', 'md5', 'gtc', 'tls'],
        random: new SeededRandom(5),
        asyncMethods: [tls],
      }),
    },
    gatewayAuth: { psk: PSK, eapOnly: true },
  });
  const session = new IkeSession(cfg, new SeededRandom(1));
  holder.session = session;
  const outputs: IkeOutput[] = [];
  const sent: Uint8Array[] = [];
  try {
    inbox.push(...session.handle({ kind: 'start', local: CLIENT, remote: GW }, now));
    for (let round = 0; round < 200 && session.state === 'connecting'; round++) {
      if (inbox.length === 0) {
        // EAP-TLS answers asynchronously.
        await new Promise((r) => setTimeout(r, 2));
        continue;
      }
      const o = inbox.shift()!;
      outputs.push(o);
      if (o.kind !== 'send') continue;
      sent.push(o.data);
      if (decodeMessage(o.data).header.exchangeType === ExchangeType.IKE_AUTH) {
        const eap = findPayload(resp.decryptForTest(o.data), PayloadType.EAP);
        if (eap) nextEap = (await tlsServer.handle(eap.data)).packet;
      }
      for (const answer of resp.receiveAll(o.data, CLIENT)) {
        inbox.push(
          ...session.handle(
            { kind: 'datagram', data: answer, from: { address: GW.address, port: o.to.port } },
            now,
          ),
        );
      }
    }
    outputs.push(...inbox.splice(0));
    const closed = outputs.find((o) => o.kind === 'event' && o.event.type === 'closed');
    assert.equal(session.state, 'established', JSON.stringify(closed));
    assert.ok(installed(outputs));
    assert.equal(tls.done(), true);
    // The gateway never sent AUTH before EAP; every EAP packet we sent was EAP-TLS.
    const eapTypes = sent
      .filter((d) => decodeMessage(d).header.exchangeType === ExchangeType.IKE_AUTH)
      .flatMap((d) => filterPayloads(resp.decryptForTest(d), PayloadType.EAP))
      .map((p) => decodeEap(p.data))
      .map((p) => ('type' in p ? p.type : p.code));
    assert.ok(eapTypes.length >= 3);
    assert.ok(
      eapTypes.every((t) => t === EapType.TLS),
      `EAP types sent: ${eapTypes.join(',')}`,
    );
  } finally {
    tls.close();
    tlsServer.close();
  }
});

test('a gateway signing with a client certificate (EKU clientAuth only) that names it: ERR_CERT, nothing installed', () => {
  const f = (n: string): string => readFileSync(findRepoFile(`test/pki/fixtures/${n}`), 'utf8');
  const gw = gatewayCert();
  const run = start(
    config({
      gatewayAuth: { certs: createCertValidator({ anchors: gw.ca, host: '198.51.100.10' }) },
    }),
    responder({
      cert: {
        key: createPrivateKey(f('eku-client-gw.key')),
        certs: pemToDer(f('eku-client-gw.crt')),
      },
      id: parseIdentity('@gw.test'),
    }),
  );
  assert.equal(closedEvent(run)?.error?.code, 'ERR_CERT');
  assert.match(closedEvent(run)!.error!.message, /it is a client certificate/);
  assert.ok(!installed(run.outputs));
});
