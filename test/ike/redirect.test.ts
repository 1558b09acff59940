/**
 * RFC 5685 IKEv2 redirects: our IkeSession against the test-only responder, which redirects in
 * its IKE_SA_INIT response (§3), in its IKE_AUTH response (§6) or by an INFORMATIONAL on the
 * established SA (§5); malformed and unauthenticated redirects are refused.
 */
import { test } from 'node:test';
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { concatBytes } from '../../src/core/bytes.js';
import { SeededRandom } from '../../src/core/random.js';
import { ExchangeType, HeaderFlag, NotifyType, PayloadType } from '../../src/ike/constants.js';
import { decodeMessage, filterPayloads } from '../../src/ike/codec/index.js';
import {
  encodeGwAddress,
  encodeGwIdentity,
  parseGwIdentity,
  redirectIn,
} from '../../src/ike/redirect.js';
import type { IkeEvent } from '../../src/ike/session.js';
import { GW, closedEvent, config, pump, responder, start } from '../support/session-harness.js';
import type { Run } from '../support/session-harness.js';

const GW2 = encodeGwAddress('198.51.100.20');

function redirects(run: Run): Extract<IkeEvent, { type: 'redirect' }>[] {
  return run.events.filter(
    (e): e is Extract<IkeEvent, { type: 'redirect' }> => e.type === 'redirect',
  );
}

test('GW identities: IPv4, IPv6 and FQDN parse; bad lengths, types and names are refused', () => {
  assert.deepEqual(parseGwIdentity(GW2).gw, { kind: 'ipv4', value: '198.51.100.20' });
  assert.deepEqual(parseGwIdentity(encodeGwAddress('2001:db8::20')).gw, {
    kind: 'ipv6',
    value: '2001:db8::20',
  });
  const named = encodeGwIdentity({ kind: 'fqdn', value: 'gw2.example.net' }, Uint8Array.of(1, 2));
  const p = parseGwIdentity(named);
  assert.deepEqual(p.gw, { kind: 'fqdn', value: 'gw2.example.net' });
  assert.deepEqual([...p.rest], [1, 2]);
  assert.throws(() => parseGwIdentity(Uint8Array.of(1)), /too short/);
  assert.throws(() => parseGwIdentity(Uint8Array.of(1, 9, 1, 2, 3, 4)), /beyond the notify/);
  assert.throws(() => parseGwIdentity(Uint8Array.of(1, 3, 1, 2, 3)), /IPv4 of 3 bytes/);
  assert.throws(() => parseGwIdentity(Uint8Array.of(9, 1, 1)), /unknown GW Ident Type 9/);
  const esc = concatBytes(Uint8Array.of(3, 8), new TextEncoder().encode('gw\x1b[2Jx.'));
  assert.throws(() => parseGwIdentity(esc), /non-printable/);
  const bad = concatBytes(Uint8Array.of(3, 6), new TextEncoder().encode('a_b;rm'));
  assert.throws(() => parseGwIdentity(bad), /not a host name/);
  // In IKE_SA_INIT the nonce data must be our Ni; elsewhere nothing may follow the identity.
  const n = (data: Uint8Array) => [
    {
      type: PayloadType.NOTIFY,
      critical: false,
      protocol: 0,
      spi: new Uint8Array(0),
      notifyType: NotifyType.REDIRECT,
      data,
    } as const,
  ];
  const wrongNonce = redirectIn(n(concatBytes(GW2, Uint8Array.of(7))), Uint8Array.of(8));
  assert.equal(typeof wrongNonce, 'string');
  assert.match(wrongNonce as string, /nonce/);
  const trailing = redirectIn(n(concatBytes(GW2, Uint8Array.of(7))), undefined);
  assert.equal(typeof trailing, 'string');
  assert.match(trailing as string, /1 bytes follow/);
  assert.deepEqual(redirectIn(n(GW2), undefined), { kind: 'ipv4', value: '198.51.100.20' });
});

test('IKE_SA_INIT carries REDIRECT_SUPPORTED; a REDIRECT with our Ni sends us on (RFC 5685 §3)', () => {
  const run = start(config(), responder({ redirect: { init: GW2 } }));
  assert.ok(run.resp.initNotifyTypes.includes(NotifyType.REDIRECT_SUPPORTED));
  assert.equal(run.session.state, 'closed');
  assert.deepEqual(
    redirects(run).map((r) => [r.during, r.gateway.value]),
    [['IKE_SA_INIT', '198.51.100.20']],
  );
  assert.equal(closedEvent(run)?.error, undefined);
  assert.equal(run.sent.length, 1, 'nothing more sent to the redirecting gateway');
});

test('a REDIRECT in IKE_SA_INIT whose nonce is not our Ni is refused (RFC 5685 §3)', () => {
  const run = start(
    config(),
    responder({ redirect: { init: GW2, nonce: new Uint8Array(32).fill(0x5a) } }),
  );
  assert.equal(redirects(run).length, 0);
  const err = closedEvent(run)?.error;
  assert.equal(err?.code, 'ERR_IKE_PROTOCOL');
  assert.match(err.message, /not the nonce of our IKE_SA_INIT request/);
});

test('once redirected, IKE_SA_INIT names the old gateway in REDIRECTED_FROM instead', () => {
  const run = start(config({ redirectedFrom: '198.51.100.10' }), responder());
  assert.equal(run.session.state, 'established');
  assert.ok(!run.resp.initNotifyTypes.includes(NotifyType.REDIRECT_SUPPORTED));
  assert.deepEqual(run.resp.redirectedFrom, encodeGwAddress('198.51.100.10'));
});

test('--no-redirect: no REDIRECT_SUPPORTED, and a gateway that redirects anyway is refused', () => {
  const run = start(config({ redirect: false }), responder({ redirect: { init: GW2 } }));
  assert.ok(!run.resp.initNotifyTypes.includes(NotifyType.REDIRECT_SUPPORTED));
  // The responder redirects only clients that announced support: this one connects.
  assert.equal(run.session.state, 'established');
  const forced = start(config({ redirect: false }), responder({ redirect: { auth: GW2 } }));
  assert.equal(redirects(forced).length, 0);
  assert.match(closedEvent(forced)!.error!.message, /--no-redirect/);
});

test('REDIRECT in the IKE_AUTH response, after the gateway authenticated: DELETE, then on (§6)', () => {
  const run = start(config(), responder({ redirect: { auth: GW2 } }));
  assert.deepEqual(
    redirects(run).map((r) => [r.during, r.gateway.value]),
    [['IKE_AUTH', '198.51.100.20']],
  );
  assert.equal(run.session.state, 'closed');
  assert.equal(run.resp.deleted, true, 'the IKE SA with the redirecting gateway is deleted');
});

test('REDIRECT in an IKE_AUTH response whose AUTH does not verify is not followed', () => {
  const run = start(config(), responder({ redirect: { auth: GW2 }, hostile: { badAuth: true } }));
  assert.equal(redirects(run).length, 0);
  assert.equal(closedEvent(run)?.error?.code, 'ERR_IKE_AUTH_FAILED');
});

test('INFORMATIONAL REDIRECT of an established SA: empty answer, DELETE, then on (§5)', () => {
  const run = start();
  assert.equal(run.session.state, 'established');
  const sentBefore = run.sent.length;
  const req = run.resp.redirectRequest(
    encodeGwIdentity({ kind: 'fqdn', value: 'gw2.example.net' }),
  );
  pump(
    run,
    run.session.handle({ kind: 'datagram', data: req, from: { ...GW, port: 4500 } }, run.now),
  );
  const answer = decodeMessage(run.sent[sentBefore]!);
  assert.equal(answer.header.exchangeType, ExchangeType.INFORMATIONAL);
  assert.ok(answer.header.flags & HeaderFlag.RESPONSE);
  assert.deepEqual(run.resp.decryptForTest(run.sent[sentBefore]!), []);
  assert.deepEqual(
    redirects(run).map((r) => [r.during, r.gateway.kind, r.gateway.value]),
    [['INFORMATIONAL', 'fqdn', 'gw2.example.net']],
  );
  assert.equal(run.resp.deleted, true);
  assert.equal(run.session.state, 'closed');
  assert.equal(closedEvent(run)?.error, undefined);
});

test('a malformed INFORMATIONAL REDIRECT is answered and ignored, with a warning', () => {
  const run = start(config(), responder({ random: new SeededRandom(7) }));
  const req = run.resp.redirectRequest(Uint8Array.of(3, 4, 0x1b, 0x5b, 0x32, 0x4a));
  pump(
    run,
    run.session.handle({ kind: 'datagram', data: req, from: { ...GW, port: 4500 } }, run.now),
  );
  assert.equal(run.session.state, 'established');
  assert.equal(redirects(run).length, 0);
  const w = run.events.filter((e) => e.type === 'warning');
  assert.equal(w.length, 1);
  assert.match((w[0] as { message: string }).message, /malformed REDIRECT.*non-printable/);
  const last = run.resp.informationalsReceived.at(-1);
  assert.deepEqual(last !== undefined ? filterPayloads(last, PayloadType.NOTIFY) : [], []);
});

test('--no-redirect: an INFORMATIONAL REDIRECT is answered, and the tunnel stays', () => {
  const run = start(config({ redirect: false }), responder());
  const req = run.resp.redirectRequest(GW2);
  pump(
    run,
    run.session.handle({ kind: 'datagram', data: req, from: { ...GW, port: 4500 } }, run.now),
  );
  assert.equal(run.session.state, 'established');
  assert.equal(redirects(run).length, 0);
});

const PRINTABLE_GW = /^[\x21-\x7e]+$/;

test('fuzz: any REDIRECT data in IKE_SA_INIT ends in a redirect to a printable gateway or a clear error', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 300 }),
        // Mostly well-formed headers with random identities, to get past the first checks.
        fc
          .tuple(fc.integer({ min: 0, max: 4 }), fc.uint8Array({ maxLength: 40 }))
          .map(([t, id]) => concatBytes(Uint8Array.of(t, id.length), id)),
      ),
      (data) => {
        const run = start(config(), responder({ redirect: { init: data } }));
        assert.equal(run.session.state, 'closed');
        const r = redirects(run);
        if (r.length === 1) {
          assert.match(r[0]!.gateway.value, PRINTABLE_GW);
          assert.equal(closedEvent(run)?.error, undefined);
        } else {
          assert.equal(r.length, 0);
          assert.equal(closedEvent(run)?.error?.code, 'ERR_IKE_PROTOCOL');
        }
      },
    ),
    { numRuns: 150, seed: 5685 },
  );
});

test('fuzz: any REDIRECT data on an established SA is followed or answered with a printable warning', () => {
  fc.assert(
    fc.property(
      fc
        .tuple(fc.integer({ min: 0, max: 4 }), fc.uint8Array({ maxLength: 40 }), fc.boolean())
        .map(([t, id, extra]) =>
          concatBytes(
            Uint8Array.of(t, id.length),
            id,
            extra ? Uint8Array.of(0) : new Uint8Array(0),
          ),
        ),
      (data) => {
        const run = start();
        const req = run.resp.redirectRequest(data);
        pump(
          run,
          run.session.handle({ kind: 'datagram', data: req, from: { ...GW, port: 4500 } }, run.now),
        );
        const r = redirects(run);
        if (r.length === 1) {
          assert.match(r[0]!.gateway.value, PRINTABLE_GW);
          assert.equal(run.session.state, 'closed');
        } else {
          assert.equal(run.session.state, 'established');
          const w = run.events.filter(
            (e): e is Extract<IkeEvent, { type: 'warning' }> => e.type === 'warning',
          );
          assert.equal(w.length, 1);
          assert.doesNotMatch(w[0]!.message, /[\u0000-\u001f\u007f-\u009f]/);
        }
      },
    ),
    { numRuns: 25, seed: 8784 },
  );
});
