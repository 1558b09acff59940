/**
 * RFC 8784 post-quantum preshared keys: our IkeSession against the test-only responder, whose PPK
 * derivation is written separately with node:crypto HMAC (test/support/test-responder.ts,
 * ppkMixed), so matching CHILD_SA keys and AUTH values show both sides mixed the PPK the same way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { toHex } from '../../src/core/bytes.js';
import { NotifyType } from '../../src/ike/constants.js';
import { mixPpk, parsePpkIdentity, encodePpkIdentity } from '../../src/ike/ppk.js';
import type { IkeEvent, IkeOutput } from '../../src/ike/session.js';
import { CLIENT, GW, closedEvent, config, responder, start } from '../support/session-harness.js';
import type { Run } from '../support/session-harness.js';
import { ppkMixed } from '../support/test-responder.js';

const PPK_ID = new TextEncoder().encode('ppk-2026');
const PPK = new TextEncoder().encode('a post-quantum preshared key of 32+ bytes');
const OTHER_PPK = new TextEncoder().encode('another post-quantum preshared key, 32 b');

function established(run: Run): Extract<IkeEvent, { type: 'established' }> | undefined {
  return run.events.find(
    (e): e is Extract<IkeEvent, { type: 'established' }> => e.type === 'established',
  );
}

function childKeysMatch(run: Run): void {
  const install = run.outputs.find(
    (o): o is Extract<IkeOutput, { kind: 'installChild' }> => o.kind === 'installChild',
  );
  assert.ok(install, 'CHILD_SA installed');
  assert.equal(toHex(install.child.outbound.keymat), toHex(run.resp.child!.keyI));
  assert.equal(toHex(install.child.inbound.keymat), toHex(run.resp.child!.keyR));
}

function warnings(run: Run): string[] {
  return run.events
    .filter((e): e is Extract<IkeEvent, { type: 'warning' }> => e.type === 'warning')
    .map((e) => e.message);
}

test("RFC 8784 §3 key update: SK_x = prf+(PPK, SK_x'), checked against HMAC by hand", () => {
  const skD = new Uint8Array(32).fill(1);
  const skPi = new Uint8Array(32).fill(2);
  const skPr = new Uint8Array(32).fill(3);
  const m = mixPpk(5, PPK, { skD, skPi, skPr });
  // prf+ with a 32-byte output: T1 = HMAC-SHA256(PPK, SK_x' | 0x01) is the whole key.
  const t1 = (s: Uint8Array): string =>
    createHmac('sha256', PPK).update(s).update(Uint8Array.of(1)).digest('hex');
  assert.equal(toHex(m.skD), t1(skD));
  assert.equal(toHex(m.skPi), t1(skPi));
  assert.equal(toHex(m.skPr), t1(skPr));
  // A key longer than one PRF output takes T2 = prf(PPK, T1 | SK_x' | 0x02) (RFC 7296 §2.13).
  const long = new Uint8Array(64).fill(9);
  const t1b = createHmac('sha256', PPK).update(long).update(Uint8Array.of(1)).digest();
  const t2b = createHmac('sha256', PPK).update(t1b).update(long).update(Uint8Array.of(2)).digest();
  const m2 = mixPpk(5, PPK, { skD: long, skPi, skPr });
  assert.equal(toHex(m2.skD), Buffer.concat([t1b, t2b]).toString('hex'));
  // The test responder's own derivation agrees.
  assert.equal(toHex(ppkMixed(5, PPK, { skD: long, skPi, skPr }).skD), toHex(m2.skD));
});

test('PPK_IDENTITY encodes PPK_ID_FIXED and parses only known types within bounds', () => {
  assert.equal(toHex(encodePpkIdentity(PPK_ID)), `02${toHex(PPK_ID)}`);
  assert.deepEqual(parsePpkIdentity(encodePpkIdentity(PPK_ID)).id, PPK_ID);
  assert.throws(() => parsePpkIdentity(Uint8Array.of(2)), /PPK_IDENTITY/);
  assert.throws(() => parsePpkIdentity(Uint8Array.of(7, 1)), /unknown PPK_ID type 7/);
  assert.throws(() => parsePpkIdentity(new Uint8Array(300).fill(2)), /PPK ID of 299 bytes/);
});

test('PPK both ways: USE_PPK, PPK_IDENTITY and NO_PPK_AUTH sent; the mixed keys agree (RFC 8784 §3)', () => {
  const run = start(
    config({ ppk: { id: PPK_ID, key: PPK, required: false } }),
    responder({ ppk: { id: PPK_ID, key: PPK } }),
  );
  assert.equal(run.session.state, 'established');
  assert.ok(run.resp.initNotifyTypes.includes(NotifyType.USE_PPK));
  assert.equal(toHex(run.resp.ppkIdentity!), `02${toHex(PPK_ID)}`);
  assert.ok(run.resp.noPpkAuth && run.resp.noPpkAuth.length === 32, 'NO_PPK_AUTH: a PSK MAC');
  assert.equal(run.resp.ppkUsed, true);
  // The responder checked our AUTH with its own PPK-mixed SK_pi, we checked its AUTH with ours,
  // and the CHILD_SA keys come from the PPK-mixed SK_d on both sides.
  childKeysMatch(run);
  assert.equal(established(run)!.info.ppk, true);
  assert.deepEqual(warnings(run), []);
});

test('--ppk-required: PPK_IDENTITY without NO_PPK_AUTH, tunnel up with the PPK', () => {
  const run = start(
    config({ ppk: { id: PPK_ID, key: PPK, required: true } }),
    responder({ ppk: { id: PPK_ID, key: PPK } }),
  );
  assert.equal(run.session.state, 'established');
  assert.equal(run.resp.noPpkAuth, undefined);
  assert.equal(run.resp.ppkUsed, true);
  childKeysMatch(run);
});

test('a gateway with USE_PPK but no PPK for our ID takes NO_PPK_AUTH: up with a warning, plain keys', () => {
  const run = start(
    config({ ppk: { id: PPK_ID, key: PPK, required: false } }),
    responder({ ppk: { id: PPK_ID } }),
  );
  assert.equal(run.session.state, 'established');
  assert.equal(run.resp.ppkUsed, false);
  childKeysMatch(run);
  assert.equal(established(run)!.info.ppk, false);
  assert.ok(warnings(run).some((w) => /no post-quantum preshared key "ppk-2026"/.test(w)));
});

test('a gateway with USE_PPK but no PPK for our ID, with --ppk-required: AUTHENTICATION_FAILED, exit 4', () => {
  const run = start(
    config({ ppk: { id: PPK_ID, key: PPK, required: true } }),
    responder({ ppk: { id: PPK_ID } }),
  );
  assert.equal(run.session.state, 'closed');
  assert.equal(closedEvent(run)?.error?.code, 'ERR_IKE_AUTH_FAILED');
});

test('a different PPK at the gateway: its check of our AUTH fails (AUTHENTICATION_FAILED)', () => {
  const run = start(
    config({ ppk: { id: PPK_ID, key: OTHER_PPK, required: false } }),
    responder({ ppk: { id: PPK_ID, key: PPK } }),
  );
  assert.equal(run.session.state, 'closed');
  assert.equal(closedEvent(run)?.error?.code, 'ERR_IKE_AUTH_FAILED');
  assert.equal(run.resp.lastAuthError, 'AUTH mismatch');
});

test('a gateway without USE_PPK: up with a warning and no PPK notifies; --ppk-required refuses it', () => {
  const run = start(config({ ppk: { id: PPK_ID, key: PPK, required: false } }), responder());
  assert.equal(run.session.state, 'established');
  assert.ok(run.resp.initNotifyTypes.includes(NotifyType.USE_PPK));
  assert.equal(run.resp.ppkIdentity, undefined);
  assert.equal(run.resp.noPpkAuth, undefined);
  assert.equal(established(run)!.info.ppk, false);
  assert.ok(warnings(run).some((w) => /no USE_PPK/.test(w)));
  childKeysMatch(run);

  const strict = start(config({ ppk: { id: PPK_ID, key: PPK, required: true } }), responder());
  assert.equal(strict.session.state, 'closed');
  const err = closedEvent(strict)?.error;
  assert.equal(err?.code, 'ERR_IKE_AUTH_FAILED');
  assert.match(err.message, /--ppk-required/);
});

test('without a PPK configured: no USE_PPK, and established info says nothing about PPK', () => {
  const run = start(config(), responder({ ppk: { id: PPK_ID, key: PPK } }));
  assert.equal(run.session.state, 'established');
  assert.ok(!run.resp.initNotifyTypes.includes(NotifyType.USE_PPK));
  assert.equal(established(run)!.info.ppk, undefined);
});

test('after PPK: a CHILD_SA rekey and an IKE SA rekey keep using the PPK-mixed SK_d on both sides', () => {
  const run = start(
    config({ ppk: { id: PPK_ID, key: PPK, required: true } }),
    responder({ ppk: { id: PPK_ID, key: PPK } }),
  );
  assert.equal(run.resp.ppkUsed, true);
  const from = { address: GW.address, port: 4500 };
  const answer = (outs: IkeOutput[]): Uint8Array =>
    outs.find((o): o is Extract<IkeOutput, { kind: 'send' }> => o.kind === 'send')!.data;
  // CHILD_SA rekey: KEYMAT = prf+(SK_d, Ni | Nr) with the mixed SK_d (RFC 7296 §2.17).
  const outs = run.session.handle({ kind: 'datagram', data: run.resp.rekeyChild(), from }, 5000);
  run.resp.receive(answer(outs), CLIENT);
  const install = outs.find(
    (o): o is Extract<IkeOutput, { kind: 'installChild' }> => o.kind === 'installChild',
  );
  assert.ok(install);
  assert.equal(toHex(install.child.outbound.keymat), toHex(run.resp.child!.keyI));
  assert.equal(toHex(install.child.inbound.keymat), toHex(run.resp.child!.keyR));
  // IKE SA rekey: SKEYSEED = prf(SK_d (old, mixed), g^ir | Ni | Nr) (§2.18); the new SA works.
  const ike = run.session.handle({ kind: 'datagram', data: run.resp.rekeyIke(), from }, 6000);
  run.resp.receive(answer(ike), CLIENT);
  const dpd = run.session.handle({ kind: 'datagram', data: run.resp.request('dpd'), from }, 6200);
  run.resp.receive(answer(dpd), CLIENT);
  assert.deepEqual(run.resp.informationalsReceived.at(-1), []);
  assert.equal(run.session.state, 'established');
});
