/**
 * IKE_AUTH beyond PSK, in memory against the test responder: RFC 7383 fragmentation both ways,
 * EAP rounds (RFC 7296 §2.16) with an MSK-less method, and gateway certificates.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { SeededRandom } from '../../src/core/random.js';
import { ExchangeType, NotifyType, PayloadType } from '../../src/ike/constants.js';
import { decodeMessage, filterPayloads, findPayload } from '../../src/ike/codec/index.js';
import { parseIdentity } from '../../src/ike/identity.js';
import type { IkeOutput } from '../../src/ike/session.js';
import { createEapPeer } from '../../src/eap/peer.js';
import { createCertValidator } from '../../src/pki/validator.js';
import { pemToDer } from '../../src/pki/x509.js';
import { closedEvent, config, responder, start } from '../support/session-harness.js';
import { findRepoFile } from '../support/paths.js';

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
  // Opted in, but EAP-MD5 does not authenticate the gateway: refused after EAP.
  const b = start(
    eapConfig('secret', true),
    responder({ eapMd5Password: 'secret', eapOnly: true }),
  );
  assert.equal(closedEvent(b)?.error?.code, 'ERR_IKE_AUTH_FAILED');
  assert.match(closedEvent(b)!.error!.message, /mutual/);
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
