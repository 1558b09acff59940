/**
 * Whole EAP conversations between the peer and authenticators written here: an MSCHAPv2
 * authenticator built on our RFC 2759 functions from the server's side (laying out its MSK the way
 * strongSwan's GenerateMSK does, in the server's names), plus hand-built MD5-Challenge, GTC,
 * Notification, Nak and malformed exchanges. EAP-MD5 answers are recomputed straight-line with
 * node:crypto MD5 over Identifier ‖ secret ‖ challenge (RFC 1994 §4.1).
 *
 * The EAP-MSCHAPv2 wire vector (Challenge Request → Response → Success Request → Success Response,
 * MSK) is AOSP's: packages/modules/IPsec, tests/iketests/src/java/com/android/internal/net/eap/
 * EapMsChapV2Test.java (RFC 2759 §9.2 inputs, Apache-2.0).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { concatBytes, equalBytes, fromHex, toHex } from '../../src/core/bytes.js';
import { SeededRandom, type Random } from '../../src/core/random.js';
import { isVpnError } from '../../src/core/errors.js';
import {
  generateAuthenticatorResponse,
  generateNtResponse,
  getAsymmetricStartKey,
  getMasterKey,
  hashNtPasswordHash,
  mschapUserName,
  ntPasswordHash,
} from '../../src/eap/mschapv2.js';
import { decodeEap, encodeEap, EapType } from '../../src/eap/packet.js';
import { createEapPeer, type EapPeerOptions } from '../../src/eap/peer.js';
import type { AsyncEapMethod, EapPeer, EapStep } from '../../src/eap/types.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const IDENTITY = 'alice@example.com';
const PASSWORD = 'correct horse ✓';

/** A Random that counts calls, to prove retransmissions do not re-run the method. */
class CountingRandom implements Random {
  calls = 0;
  private readonly inner = new SeededRandom(7);
  bytes(n: number): Uint8Array {
    this.calls++;
    return this.inner.bytes(n);
  }
}

/**
 * A peer with our test identity and password unless `over` says otherwise (null: no password),
 * talking to a gateway that proved its identity with AUTH (`unauthenticated`: one that did not).
 */
function peer(
  over: Omit<Partial<EapPeerOptions>, 'password'> & {
    password?: Uint8Array | null;
    unauthenticated?: boolean;
  } = {},
): EapPeer {
  const { password, unauthenticated, ...rest } = over;
  const pw = password === null ? {} : { password: password ?? utf8(PASSWORD) };
  const p = createEapPeer({
    identity: utf8(IDENTITY),
    methods: ['mschapv2', 'md5', 'gtc'],
    random: new SeededRandom(1),
    ...pw,
    ...rest,
  });
  if (unauthenticated !== true) p.gatewayAuthenticated();
  return p;
}

const request = (identifier: number, type: number, data: Uint8Array = new Uint8Array(0)) =>
  encodeEap({ code: 1, identifier, type, data });
const success = (identifier: number) => encodeEap({ code: 3, identifier });
const failure = (identifier: number) => encodeEap({ code: 4, identifier });

function responseOf(step: EapStep): Uint8Array {
  if (step.kind !== 'respond') {
    assert.fail(
      `expected a Response, got ${step.kind}${step.kind === 'failure' ? `: ${step.error.message}` : ''}`,
    );
  }
  return step.packet;
}

function failureOf(step: EapStep): string {
  if (step.kind !== 'failure') assert.fail(`expected a failure, got ${step.kind}`);
  assert.equal(step.error.code, 'ERR_EAP_FAILED');
  return step.error.message;
}

/** The Response as {identifier, type, data}, checking it is a Response. */
function parsed(packet: Uint8Array): { identifier: number; type: number; data: Uint8Array } {
  const p = decodeEap(packet);
  assert.equal(p.code, 2, 'a Response');
  assert.ok('data' in p);
  return p;
}

/**
 * An EAP-MSCHAPv2 authenticator (draft-kamath-pppext-eap-mschapv2-02) in the style of
 * strongSwan's server: Challenge with Name "strongSwan"; Success "S=<hex> M=Welcome2strongSwan"
 * with a trailing NUL; Failure "E=691 R=1 C=<hex> V=3 M=...".
 */
class MschapAuthenticator {
  id = 0x10;
  readonly msId = 0x42;
  readonly challenge = new Uint8Array(randomBytes(16));
  msk: Uint8Array | undefined;
  readonly password: string;
  constructor(password: string) {
    this.password = password;
  }

  next(): number {
    return ++this.id;
  }

  challengeRequest(): Uint8Array {
    const name = utf8('strongSwan');
    const data = concatBytes(Uint8Array.of(1, this.msId, 0, 0, 16), this.challenge, name);
    const msLength = data.length;
    data[2] = msLength >> 8;
    data[3] = msLength & 0xff;
    return request(this.next(), EapType.MSCHAPV2, data);
  }

  /** Checks the peer's Response and returns the Success or Failure Request. */
  answer(response: Uint8Array): Uint8Array {
    const r = parsed(response);
    assert.equal(r.identifier, this.id, 'Response Identifier = Request Identifier');
    assert.equal(r.type, EapType.MSCHAPV2);
    const d = r.data;
    assert.equal(d[0], 2, 'OpCode Response');
    assert.equal(d[1], this.msId, 'MS-CHAPv2-ID echoed');
    assert.equal((d[2]! << 8) | d[3]!, response.length - 5, 'MS-Length = Length - 5');
    assert.equal(d[4], 49, 'Value-Size');
    const peerChallenge = d.slice(5, 21);
    assert.equal(toHex(d.subarray(21, 29)), '0000000000000000', 'reserved');
    const nt = d.slice(29, 53);
    assert.equal(d[53], 0, 'Flags');
    const name = d.slice(54);
    const user = mschapUserName(name);
    const expected = generateNtResponse(this.challenge, peerChallenge, user, this.password);
    if (!equalBytes(nt, expected)) {
      const text = `E=691 R=1 C=${toHex(randomBytes(16)).toUpperCase()} V=3 M=Authentication failed`;
      return this.msRequest(4, utf8(text));
    }
    // The server's MSK as strongSwan lays it out: master_receive_key (Magic2: the server's
    // receive key) ‖ master_send_key (Magic3) ‖ 32 zero octets.
    const master = getMasterKey(hashNtPasswordHash(ntPasswordHash(this.password)), nt);
    this.msk = concatBytes(
      getAsymmetricStartKey(master, false, true),
      getAsymmetricStartKey(master, true, true),
      new Uint8Array(32),
    );
    const s = generateAuthenticatorResponse(this.password, nt, peerChallenge, this.challenge, user);
    return this.msRequest(3, concatBytes(utf8(`${s} M=Welcome2strongSwan`), Uint8Array.of(0)));
  }

  msRequest(opCode: number, message: Uint8Array): Uint8Array {
    const data = concatBytes(Uint8Array.of(opCode, this.msId, 0, 0), message);
    const msLength = data.length;
    data[2] = msLength >> 8;
    data[3] = msLength & 0xff;
    return request(this.next(), EapType.MSCHAPV2, data);
  }
}

// -----------------------------------------------------------------------------------------------
// EAP-MSCHAPv2

test('MSCHAPv2: Identity → Nak → Challenge → Response → Success Request → Success Response → EAP-Success', () => {
  const p = peer();
  const gw = new MschapAuthenticator(PASSWORD);
  assert.equal(p.methodName(), 'EAP');

  // Identity (RFC 3748 §5.1)
  let r = parsed(responseOf(p.handle(request(gw.next(), EapType.IDENTITY, utf8('Hello')))));
  assert.deepEqual([r.identifier, r.type, toHex(r.data)], [gw.id, 1, toHex(utf8(IDENTITY))]);

  // The gateway offers EAP-PEAP: legacy Nak with our methods in our order (§5.3.1).
  r = parsed(responseOf(p.handle(request(gw.next(), EapType.PEAP, Uint8Array.of(0x20)))));
  assert.deepEqual([r.identifier, r.type, toHex(r.data)], [gw.id, 3, '1a0406']);

  // Challenge → Response (checked by the authenticator) → Success Request
  const successRequest = gw.answer(responseOf(p.handle(gw.challengeRequest())));
  assert.equal(p.methodName(), 'EAP-MSCHAPv2');
  assert.equal(p.msk(), undefined, 'no MSK before EAP-Success');

  // Success Response: OpCode 3 only (draft-kamath §2.4)
  const sr = responseOf(p.handle(successRequest));
  assert.equal(toHex(sr), `02${gw.id.toString(16)}00061a03`);
  assert.equal(p.mutual(), false, 'not before EAP-Success');

  assert.deepEqual(p.handle(success(gw.id)), { kind: 'success' });
  assert.equal(p.mutual(), true);
  assert.equal(p.methodName(), 'EAP-MSCHAPv2');
  assert.equal(toHex(p.msk()!), toHex(gw.msk!), 'MSK as the gateway derives it');
  assert.equal(p.msk()!.length, 64);
  // A duplicate EAP-Success changes nothing.
  assert.deepEqual(p.handle(success(gw.id)), { kind: 'success' });
});

test('MSCHAPv2: AOSP wire vector (RFC 2759 §9.2 inputs): Response bytes, Success Response, MSK', () => {
  const p = createEapPeer({
    identity: utf8('User'),
    password: utf8('clientPass'),
    methods: ['mschapv2'],
    random: { bytes: () => fromHex('21402324255E262A28295F2B3A337C7E') },
  });
  p.gatewayAuthenticated();
  const challengeRequest = fromHex(
    '01110033' +
      '1A0142' +
      '002E10' +
      '5B5D7C7D7B3F2F3E3C2C602132262628' +
      '61757468656E74696361746F7240616E64726F69642E6E6574',
  );
  const expectedResponse =
    '0211003F' +
    '1A0242' +
    '003A31' +
    '21402324255E262A28295F2B3A337C7E' +
    '0000000000000000' +
    '82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF' +
    '00' +
    '55736572';
  assert.equal(toHex(responseOf(p.handle(challengeRequest))), expectedResponse.toLowerCase());
  const successRequest = fromHex(
    '01120047' +
      '1A03420042' +
      '533D' +
      '3430374135353839313135464430443632303946' +
      '3531304645394330343536363933324344413536' +
      '204D3D' +
      '7465737420416E64726F69642031323334',
  );
  assert.equal(toHex(responseOf(p.handle(successRequest))), '021200061a03');
  assert.deepEqual(p.handle(success(0x12)), { kind: 'success' });
  assert.equal(
    toHex(p.msk()!.subarray(0, 32)),
    'd5f0e9521e3ea9589645e86051c822268b7cdc149b993a1ba118cb153f56dccb',
  );
  assert.equal(toHex(p.msk()!.subarray(32)), '00'.repeat(32));
});

test('MSCHAPv2: wrong password → Failure Request (E=691) → Failure Response → EAP-Failure names the reason', () => {
  const p = peer({ password: utf8('wrong password') });
  const gw = new MschapAuthenticator(PASSWORD);
  responseOf(p.handle(request(gw.next(), EapType.IDENTITY)));
  const failureRequest = gw.answer(responseOf(p.handle(gw.challengeRequest())));
  // Failure Response: OpCode 4 only (draft-kamath §2.6)
  assert.equal(toHex(responseOf(p.handle(failureRequest))), `02${gw.id.toString(16)}00061a04`);
  const msg = failureOf(p.handle(failure(gw.id)));
  assert.match(msg, /EAP-MSCHAPv2/);
  assert.match(msg, /wrong user name or password \(E=691\)/);
  assert.match(msg, /"Authentication failed"/);
  assert.equal(p.msk(), undefined);
  assert.equal(p.mutual(), false);
  // The conversation is over: anything else keeps failing.
  failureOf(p.handle(success(gw.id)));

  // A gateway that sends a new Challenge after our Failure Response instead of EAP-Failure.
  const q = peer({ password: utf8('wrong password') });
  const gw2 = new MschapAuthenticator(PASSWORD);
  responseOf(q.handle(gw2.answer(responseOf(q.handle(gw2.challengeRequest())))));
  assert.match(
    failureOf(q.handle(gw2.challengeRequest())),
    /failed: wrong user name or password \(E=691\)/,
  );
});

test('MSCHAPv2: other Failure codes (E=646..649, unknown) and their messages', () => {
  const cases: [string, RegExp][] = [
    [
      'E=648 R=0 V=3 M=Password expired',
      /the password has expired \(E=648\); the gateway says "Password expired"/,
    ],
    ['E=647 R=0 V=3', /the account is disabled \(E=647\)$/],
    ['E=646 R=0 V=3', /restricted logon hours/],
    ['E=649 R=0 V=3 M=no dial-in', /no dial-in permission \(E=649\)/],
    ['E=1234 R=0', /error \(E=1234\)/],
    ['M=nothing else', /without an error code; the gateway says "nothing else"/],
  ];
  for (const [text, re] of cases) {
    const p = peer();
    const gw = new MschapAuthenticator(PASSWORD);
    responseOf(p.handle(gw.challengeRequest()));
    responseOf(p.handle(gw.msRequest(4, utf8(text))));
    assert.match(failureOf(p.handle(failure(gw.id))), re, text);
  }
});

test('MSCHAPv2: a Success Request without a valid S= fails at once (the gateway proved nothing)', () => {
  const variants = [
    'S=0000000000000000000000000000000000000000 M=Welcome', // wrong value
    'M=Welcome', // no S=
    'S=407A5589 M=short', // too short
    '', // nothing
  ];
  for (const text of variants) {
    const p = peer();
    const gw = new MschapAuthenticator(PASSWORD);
    gw.answer(responseOf(p.handle(gw.challengeRequest())));
    const msg = failureOf(p.handle(gw.msRequest(3, utf8(text))));
    assert.match(msg, /authenticator response|did not prove/, text);
    assert.equal(p.msk(), undefined);
    // A following EAP-Success is not believed either.
    failureOf(p.handle(success(gw.id)));
    assert.equal(p.msk(), undefined);
    assert.equal(p.mutual(), false);
  }
});

test('EAP-Success before the method finished is refused', () => {
  // After the MSCHAPv2 Response, before the Success Request.
  {
    const p = peer();
    const gw = new MschapAuthenticator(PASSWORD);
    gw.answer(responseOf(p.handle(gw.challengeRequest())));
    const msg = failureOf(p.handle(success(gw.id)));
    assert.match(msg, /claimed success without proving it knows the password/);
    assert.equal(p.msk(), undefined);
  }
  // Right after Identity: no method ran at all.
  {
    const p = peer();
    responseOf(p.handle(request(1, EapType.IDENTITY)));
    assert.match(failureOf(p.handle(success(1))), /before any authentication method ran/);
  }
  // As the very first packet.
  assert.match(failureOf(peer().handle(success(0))), /before any authentication method ran/);
});

test('retransmitted Requests get the same Response without re-running the method (RFC 3748 §4.1)', () => {
  const random = new CountingRandom();
  const p = peer({ random });
  const gw = new MschapAuthenticator(PASSWORD);
  const identity = request(gw.next(), EapType.IDENTITY);
  const first = responseOf(p.handle(identity));
  assert.equal(toHex(responseOf(p.handle(identity))), toHex(first));

  const challenge = gw.challengeRequest();
  const response = responseOf(p.handle(challenge));
  assert.equal(random.calls, 1);
  // The same Request again (also with link-layer padding after Length): the same Response.
  assert.equal(toHex(responseOf(p.handle(challenge))), toHex(response));
  assert.equal(
    toHex(responseOf(p.handle(concatBytes(challenge, Uint8Array.of(0, 0))))),
    toHex(response),
  );
  assert.equal(random.calls, 1, 'no new Peer-Challenge');

  const successRequest = gw.answer(response);
  const sr = responseOf(p.handle(successRequest));
  assert.equal(toHex(responseOf(p.handle(successRequest))), toHex(sr));
  assert.deepEqual(p.handle(success(gw.id)), { kind: 'success' });
});

test('Notification Requests get an empty Notification Response; the text shows in a failure', () => {
  const p = peer();
  const gw = new MschapAuthenticator(PASSWORD);
  responseOf(p.handle(request(gw.next(), EapType.IDENTITY)));
  const n = responseOf(
    p.handle(request(gw.next(), EapType.NOTIFICATION, utf8('Password expires soon'))),
  );
  assert.equal(toHex(n), `02${gw.id.toString(16)}000502`);
  // Notification in the middle of the method is fine too (RFC 3748 §2.1).
  gw.answer(responseOf(p.handle(gw.challengeRequest())));
  responseOf(p.handle(request(gw.next(), EapType.NOTIFICATION, utf8('\u0007bell'))));
  const msg = failureOf(p.handle(failure(gw.id)));
  assert.match(msg, /rejected our EAP-MSCHAPv2/);
  assert.match(msg, /gateway notification: "\?bell"/);
});

// -----------------------------------------------------------------------------------------------
// MD5-Challenge and GTC

test('EAP-MD5: Response = MD5(Identifier ‖ secret ‖ challenge), Value-Size 16, then EAP-Success', () => {
  const p = peer({ methods: ['md5'] });
  const challenge = new Uint8Array(randomBytes(16));
  const req = request(
    0x33,
    EapType.MD5_CHALLENGE,
    concatBytes(Uint8Array.of(16), challenge, utf8('gw')),
  );
  const r = parsed(responseOf(p.handle(req)));
  const expected = createHash('md5')
    .update(Buffer.from([0x33]))
    .update(PASSWORD)
    .update(challenge)
    .digest();
  assert.equal(r.identifier, 0x33);
  assert.equal(r.type, EapType.MD5_CHALLENGE);
  assert.equal(toHex(r.data), `10${expected.toString('hex')}`);
  assert.equal(p.methodName(), 'EAP-MD5');
  assert.deepEqual(p.handle(success(0x33)), { kind: 'success' });
  assert.equal(p.msk(), undefined, 'EAP-MD5 derives no MSK');
  assert.equal(p.mutual(), false);
});

test('EAP-MD5: malformed Value-Size fails; EAP-Failure names the method', () => {
  assert.match(
    failureOf(peer().handle(request(1, EapType.MD5_CHALLENGE, Uint8Array.of(20, 1, 2)))),
    /malformed EAP-MD5/,
  );
  assert.match(
    failureOf(peer().handle(request(1, EapType.MD5_CHALLENGE, new Uint8Array(0)))),
    /malformed EAP-MD5/,
  );
  const p = peer();
  responseOf(p.handle(request(1, EapType.MD5_CHALLENGE, Uint8Array.of(1, 0xaa))));
  assert.match(failureOf(p.handle(failure(1))), /rejected our EAP-MD5 authentication/);
});

test('EAP-GTC: each Request is answered with the password; EAP-Success after that', () => {
  const p = peer({ methods: ['gtc'] });
  responseOf(p.handle(request(1, EapType.IDENTITY)));
  assert.match(failureOf(peer({ methods: ['gtc'] }).handle(success(1))), /before any/);
  const r = parsed(responseOf(p.handle(request(2, EapType.GTC, utf8('Password: ')))));
  assert.deepEqual([r.identifier, r.type, toHex(r.data)], [2, 6, toHex(utf8(PASSWORD))]);
  assert.equal(p.methodName(), 'EAP-GTC');
  assert.deepEqual(p.handle(success(2)), { kind: 'success' });
  assert.equal(p.msk(), undefined);
  assert.equal(p.mutual(), false);
});

// -----------------------------------------------------------------------------------------------
// Method negotiation

test('Nak: a method we do not allow is refused with our list; asked again → failure', () => {
  const p = peer({ methods: ['gtc', 'mschapv2'] });
  // MD5 is implemented but not allowed here.
  const r = parsed(responseOf(p.handle(request(5, EapType.MD5_CHALLENGE, Uint8Array.of(1, 0)))));
  assert.deepEqual([r.identifier, r.type, toHex(r.data)], [5, 3, '061a']);
  const msg = failureOf(p.handle(request(6, EapType.MD5_CHALLENGE, Uint8Array.of(1, 0))));
  assert.match(msg, /asked again for EAP-MD5, which we refused/);
  assert.match(msg, /EAP-GTC, EAP-MSCHAPv2/);
});

test('Nak, then EAP-Failure: "no common EAP method" with both lists', () => {
  const p = peer({ methods: ['mschapv2'] });
  responseOf(p.handle(request(1, EapType.IDENTITY)));
  responseOf(p.handle(request(2, EapType.TTLS, Uint8Array.of(0x20))));
  responseOf(p.handle(request(3, EapType.PEAP, Uint8Array.of(0x20))));
  const msg = failureOf(p.handle(failure(3)));
  assert.match(
    msg,
    /no common EAP method: the gateway offered EAP-TTLS, EAP-PEAP, we proposed EAP-MSCHAPv2/,
  );
});

test('Expanded Request (Type 254) gets an Expanded Nak (RFC 3748 §5.3.2)', () => {
  const p = peer({ methods: ['mschapv2', 'md5'] });
  const req = request(9, EapType.EXPANDED, fromHex('00137f0000000a00'));
  const r = parsed(responseOf(p.handle(req)));
  assert.equal(r.type, EapType.EXPANDED);
  // Vendor-Id 0, Vendor-Type 3 (Nak), then 254/0/26 and 254/0/4.
  assert.equal(
    toHex(r.data),
    '000000' + '00000003' + 'fe000000' + '0000001a' + 'fe000000' + '00000004',
  );
});

test('password methods without a password are not offered; nothing usable → clear failure', () => {
  const p = peer({ password: null, methods: ['mschapv2', 'md5'] });
  const msg = failureOf(
    p.handle(request(1, EapType.MSCHAPV2, fromHex('01010015' + '10' + '00'.repeat(16)))),
  );
  assert.match(msg, /asks for EAP-MSCHAPv2/);
  assert.match(msg, /EAP-MSCHAPv2 needs a password; EAP-MD5 needs a password/);
  // With another usable method, the Nak proposes only that one.
  const async = fakeAsync();
  const q = peer({ password: null, methods: ['mschapv2', 'tls'], asyncMethods: [async] });
  const r = parsed(responseOf(q.handle(request(1, EapType.MSCHAPV2, fromHex('01')))));
  assert.deepEqual([r.type, toHex(r.data)], [3, '0d']);
});

test('the gateway may not switch methods, ask for Identity mid-method, send Responses or Nak Requests', () => {
  {
    const p = peer();
    const gw = new MschapAuthenticator(PASSWORD);
    responseOf(p.handle(gw.challengeRequest()));
    assert.match(
      failureOf(p.handle(request(50, EapType.MD5_CHALLENGE, Uint8Array.of(1, 0)))),
      /switched from EAP-MSCHAPv2 to EAP-MD5/,
    );
  }
  {
    const p = peer();
    const gw = new MschapAuthenticator(PASSWORD);
    responseOf(p.handle(gw.challengeRequest()));
    assert.match(failureOf(p.handle(request(50, EapType.IDENTITY))), /identity again/);
  }
  assert.match(
    failureOf(
      peer().handle(encodeEap({ code: 2, identifier: 1, type: 1, data: new Uint8Array(0) })),
    ),
    /EAP Response/,
  );
  assert.match(failureOf(peer().handle(request(1, EapType.NAK, Uint8Array.of(26)))), /Nak Request/);
  // A second MSCHAPv2 Challenge where Success/Failure was expected.
  {
    const p = peer();
    const gw = new MschapAuthenticator(PASSWORD);
    responseOf(p.handle(gw.challengeRequest()));
    assert.match(failureOf(p.handle(gw.challengeRequest())), /unexpected EAP-MSCHAPv2 OpCode 1/);
  }
});

test('malformed packets end in an ERR_EAP_FAILED failure, never an exception (property)', () => {
  assert.match(failureOf(peer().handle(fromHex('0101'))), /malformed EAP/);
  assert.match(failureOf(peer().handle(fromHex('010100ff01'))), /Length 255 exceeds/);
  assert.match(
    failureOf(
      peer().handle(request(1, EapType.MSCHAPV2, fromHex('01010015' + '08' + '00'.repeat(16)))),
    ),
    /Value-Size 8/,
  );
  assert.match(
    failureOf(peer().handle(request(1, EapType.MSCHAPV2, fromHex('0101')))),
    /malformed EAP-MSCHAPv2 Challenge/,
  );
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 80 }), { maxLength: 6 }), (packets) => {
      const p = peer({ methods: ['mschapv2', 'md5', 'gtc', 'tls'], asyncMethods: [fakeAsync()] });
      for (const bytes of packets) {
        // Make many of them Requests of a method we run, to get past the header checks.
        if (bytes.length >= 5) {
          bytes[0] = 1;
          bytes[2] = 0;
          bytes[3] = Math.min(bytes.length, bytes[3]!);
        }
        const step = p.handle(bytes);
        assert.ok(['respond', 'pending', 'success', 'failure'].includes(step.kind));
        if (step.kind === 'failure')
          assert.ok(isVpnError(step.error) && step.error.code === 'ERR_EAP_FAILED');
      }
    }),
    { numRuns: 2000 },
  );
});

test('an identity with a "DOMAIN\\" prefix: the whole name is sent, the user part is hashed', () => {
  const identity = 'CORP\\alice';
  const p = peer({ identity: utf8(identity) });
  const gw = new MschapAuthenticator(PASSWORD);
  const response = responseOf(p.handle(gw.challengeRequest()));
  assert.equal(toHex(parsed(response).data.subarray(54)), toHex(utf8(identity)));
  // The authenticator hashes mschapUserName(name) = "alice" and accepts.
  const successRequest = gw.answer(response);
  responseOf(p.handle(successRequest));
  assert.deepEqual(p.handle(success(gw.id)), { kind: 'success' });
});

// -----------------------------------------------------------------------------------------------
// Asynchronous methods (EAP-TLS)

function fakeAsync(): AsyncEapMethod & { requests: Uint8Array[]; finished: boolean } {
  const m = {
    type: EapType.TLS,
    name: 'EAP-TLS',
    requests: [] as Uint8Array[],
    finished: false,
    request(packet: Uint8Array): void {
      m.requests.push(packet);
    },
    done(): boolean {
      return m.finished;
    },
    msk(): Uint8Array | undefined {
      return m.finished ? new Uint8Array(64).fill(0x5a) : undefined;
    },
    close(): void {},
  };
  return m;
}

test('async method: its Requests are forwarded (pending); EAP-Success only once it is done', () => {
  const tls = fakeAsync();
  const p = peer({ methods: ['tls'], asyncMethods: [tls] });
  responseOf(p.handle(request(1, EapType.IDENTITY)));
  const start = request(2, EapType.TLS, Uint8Array.of(0x20));
  assert.deepEqual(p.handle(start), { kind: 'pending' });
  assert.equal(tls.requests.length, 1);
  assert.equal(toHex(tls.requests[0]!), toHex(start));
  assert.equal(p.methodName(), 'EAP-TLS');
  // A duplicate of the same Request is not forwarded again.
  assert.deepEqual(p.handle(start), { kind: 'pending' });
  assert.equal(tls.requests.length, 1);
  assert.deepEqual(p.handle(request(3, EapType.TLS, Uint8Array.of(0x00, 1, 2))), {
    kind: 'pending',
  });
  assert.equal(tls.requests.length, 2);
  tls.finished = true;
  assert.deepEqual(p.handle(success(3)), { kind: 'success' });
  assert.equal(p.mutual(), true);
  assert.equal(toHex(p.msk()!), '5a'.repeat(64));
});

test('async method: EAP-Success before it is done is refused; not allowed → Nak', () => {
  const tls = fakeAsync();
  const p = peer({ methods: ['tls'], asyncMethods: [tls] });
  assert.deepEqual(p.handle(request(2, EapType.TLS, Uint8Array.of(0x20))), { kind: 'pending' });
  assert.match(failureOf(p.handle(success(2))), /before EAP-TLS finished/);
  assert.equal(p.msk(), undefined);
  // 'tls' not in methods: the async method is not used.
  const unused = fakeAsync();
  const q = peer({ methods: ['mschapv2'], asyncMethods: [unused] });
  const r = parsed(responseOf(q.handle(request(4, EapType.TLS, Uint8Array.of(0x20)))));
  assert.deepEqual([r.type, toHex(r.data)], [3, '1a']);
  assert.equal(unused.requests.length, 0);
});

test('a password that is not UTF-8 fails MSCHAPv2 with a clear error', () => {
  const p = peer({ password: Uint8Array.of(0xff, 0xfe) });
  const gw = new MschapAuthenticator(PASSWORD);
  assert.match(failureOf(p.handle(gw.challengeRequest())), /not valid UTF-8/);
});

// -----------------------------------------------------------------------------------------------
// A gateway that has not proved its identity (EAP-only, RFC 5998 §4)

/** The Request of each password method a rogue gateway might send first. */
const PASSWORD_METHOD_REQUESTS: [string, number, Uint8Array][] = [
  ['EAP-GTC', EapType.GTC, utf8('Password: ')],
  ['EAP-MD5', EapType.MD5_CHALLENGE, concatBytes(Uint8Array.of(16), randomBytes(16))],
  ['EAP-MSCHAPv2', EapType.MSCHAPV2, new MschapAuthenticator(PASSWORD).challengeRequest()],
];

for (const [name, type, data] of PASSWORD_METHOD_REQUESTS) {
  test(`gateway not authenticated: ${name} is refused before any Response; only EAP-TLS could run`, () => {
    const p = peer({ unauthenticated: true });
    // The identity is no secret (IKE sent it already); it is answered.
    responseOf(p.handle(request(1, EapType.IDENTITY)));
    // The MSCHAPv2 entry is a whole packet; the others are Type-Data.
    const req = type === EapType.MSCHAPV2 ? data : request(2, type, data);
    const step = p.handle(req);
    assert.equal(step.kind, 'failure', `no Response to ${name}`);
    assert.ok(step.kind === 'failure');
    assert.equal(step.error.code, 'ERR_IKE_AUTH_FAILED');
    assert.match(step.error.message, new RegExp(`asks for ${name}, which would`));
    assert.match(
      step.error.message,
      type === EapType.GTC ? /password in clear/ : /cracked offline/,
    );
    assert.match(step.error.message, /only EAP-TLS may run/);
    // Nothing follows: the conversation is over.
    assert.equal(p.handle(req).kind, 'failure');
    assert.equal(p.msk(), undefined);
  });
}

test('gateway not authenticated, EAP-TLS enabled: a password method gets a Nak proposing EAP-TLS only', () => {
  const tls = fakeAsync();
  const p = peer({
    unauthenticated: true,
    methods: ['mschapv2', 'md5', 'gtc', 'tls'],
    asyncMethods: [tls],
  });
  responseOf(p.handle(request(1, EapType.IDENTITY)));
  const nak = parsed(responseOf(p.handle(request(2, EapType.GTC, utf8('Password: ')))));
  assert.deepEqual([nak.type, toHex(nak.data)], [EapType.NAK, '0d']);
  // Expanded Nak too: EAP-TLS only.
  const q = peer({ unauthenticated: true, methods: ['mschapv2', 'tls'], asyncMethods: [tls] });
  const ex = parsed(
    responseOf(q.handle(request(9, EapType.EXPANDED, fromHex('00137f0000000a00')))),
  );
  assert.equal(toHex(ex.data), '000000' + '00000003' + 'fe000000' + '0000000d');
  // Insisting on the password method ends it, still without an answer.
  const again = p.handle(request(3, EapType.MSCHAPV2, fromHex('01')));
  assert.equal(again.kind, 'respond', 'a second, different method gets a Nak too');
  assert.equal(toHex(parsed(responseOf(again)).data), '0d');
  assert.match(failureOf(p.handle(request(4, EapType.GTC, utf8('Password: ')))), /asked again/);
  // EAP-TLS itself runs.
  const r = peer({ unauthenticated: true, methods: ['gtc', 'tls'], asyncMethods: [tls] });
  assert.deepEqual(r.handle(request(5, EapType.TLS, Uint8Array.of(0x20))), { kind: 'pending' });
  assert.equal(tls.requests.length, 1);
});

test('gateway not authenticated: a method we lack, with no EAP-TLS, ends it naming the reason', () => {
  const p = peer({ unauthenticated: true });
  const step = p.handle(request(2, EapType.PEAP, Uint8Array.of(0x20)));
  assert.ok(step.kind === 'failure');
  assert.equal(step.error.code, 'ERR_IKE_AUTH_FAILED');
  assert.match(step.error.message, /has not proved its identity/);
  assert.match(step.error.message, /none of our methods \(EAP-MSCHAPv2, EAP-MD5, EAP-GTC\)/);
});

test('gatewayAuthenticated(): every configured method runs again', () => {
  const p = peer({ unauthenticated: true });
  p.gatewayAuthenticated();
  const r = parsed(responseOf(p.handle(request(2, EapType.GTC, utf8('Password: ')))));
  assert.equal(r.type, EapType.GTC);
  assert.equal(new TextDecoder().decode(r.data), PASSWORD);
});
