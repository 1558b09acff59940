/**
 * The credentials of one connection attempt (src/client/auth.ts) and the library's check that
 * turning the host check off (`gatewayName: false`, --no-host-check) comes with the gateway's
 * expected identity (`remoteId`, --remote-id): otherwise any certificate from a trusted CA would
 * be accepted as the gateway.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SeededRandom } from '../../src/core/random.js';
import { NOOP_LOGGER } from '../../src/core/log.js';
import { isVpnError } from '../../src/core/errors.js';
import { parseIdentity } from '../../src/ike/identity.js';
import { pemToDer } from '../../src/pki/x509.js';
import {
  checkCredentials,
  checkGatewayNaming,
  credentialsForAttempt,
} from '../../src/client/auth.js';
import type { Credentials } from '../../src/client/auth.js';
import { Tunnel } from '../../src/client/tunnel.js';
import { findRepoFile } from '../support/paths.js';

const CA = pemToDer(readFileSync(findRepoFile('test/pki/fixtures/root-ca.crt'), 'utf8'));
const SINK = { onResponse: () => undefined, onFailure: () => undefined };

function configError(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isVpnError(e), String(e));
    assert.equal(e.code, 'ERR_CONFIG');
    assert.match(e.message, message);
    return true;
  });
}

test('checkGatewayNaming: no host check needs the remote identity', () => {
  configError(() => checkGatewayNaming(false, undefined), /--no-host-check needs --remote-id/);
  checkGatewayNaming(false, '@gw.test');
  checkGatewayNaming(false, parseIdentity('@gw.test'));
  checkGatewayNaming(undefined, undefined);
  checkGatewayNaming('gw.test', undefined);
});

test('credentialsForAttempt refuses gatewayName false without remoteId, for every kind of credentials', () => {
  const kinds: Credentials['auth'][] = [
    { kind: 'psk', psk: new Uint8Array(16) },
    { kind: 'eap', identity: 'carol', password: new Uint8Array(4), methods: ['mschapv2'] },
  ];
  for (const auth of kinds) {
    const cred: Credentials = { auth, anchors: CA, gatewayName: false };
    configError(
      () => credentialsForAttempt(cred, 'gw.test', new SeededRandom(1), SINK, NOOP_LOGGER),
      /any certificate from a trusted CA/,
    );
    const ok = credentialsForAttempt(
      cred,
      'gw.test',
      new SeededRandom(1),
      SINK,
      NOOP_LOGGER,
      parseIdentity('@gw.test'),
    );
    assert.ok(ok.gatewayAuth.certs, 'certificates are still checked (against IDr)');
    ok.close();
  }
});

test('EAP-TLS with --no-host-check --remote-id: set up with the identity (it used to need a host name)', () => {
  const cred: Credentials = {
    auth: { kind: 'eap', identity: 'carol', methods: ['tls'] },
    anchors: CA,
    gatewayName: false,
  };
  const a = credentialsForAttempt(
    cred,
    'gw.test',
    new SeededRandom(1),
    SINK,
    NOOP_LOGGER,
    parseIdentity('@gw.test'),
  );
  assert.equal(a.auth.kind, 'eap');
  a.close();
});

test('Tunnel.connect: noHostCheck (gatewayName false) without remoteId is refused before anything happens', async () => {
  const tunnel = new Tunnel({
    gateway: '192.0.2.1',
    credentials: { auth: { kind: 'psk', psk: new Uint8Array(16) }, gatewayName: false },
  });
  await assert.rejects(tunnel.connect(), (e: unknown) => {
    assert.ok(isVpnError(e), String(e));
    assert.equal(e.code, 'ERR_CONFIG');
    assert.match(e.message, /--no-host-check needs --remote-id/);
    return true;
  });
});

test('eapOnly (--eap-only) without EAP-TLS among the methods is refused: nothing could run', () => {
  const eap = (methods: ('mschapv2' | 'md5' | 'gtc' | 'tls')[]): Credentials => ({
    auth: { kind: 'eap', identity: 'carol', password: new Uint8Array(4), methods },
    anchors: CA,
    eapOnly: true,
  });
  configError(
    () => checkCredentials(eap(['mschapv2', 'gtc']), undefined),
    /--eap-only needs EAP-TLS.*mschapv2, gtc would hand it our password/,
  );
  configError(
    () => credentialsForAttempt(eap(['md5']), 'gw.test', new SeededRandom(1), SINK, NOOP_LOGGER),
    /--eap-only needs EAP-TLS/,
  );
  checkCredentials(eap(['mschapv2', 'tls']), undefined);
  checkCredentials({ ...eap(['mschapv2']), eapOnly: false }, undefined);
});
