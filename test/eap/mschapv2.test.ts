/**
 * MS-CHAPv2 and MPPE key derivation known answers (see test/vectors/README.md):
 *  - RFC 2759 §9.2 "Hash Example": user "User", password "clientPass", AuthenticatorChallenge,
 *    PeerChallenge → ChallengeHash, PasswordHash, NT-Response, PasswordHashHash,
 *    AuthenticatorResponse.
 *  - RFC 3079 §3.5.3 "Sample 128-bit Key Derivation": MasterKey FDECE371..., SendStartKey128
 *    8B7CDC14... The RFC computes that start key as GetAsymmetricStartKey(IsSend = TRUE,
 *    IsServer = TRUE), i.e. with Magic3, which is also the client's *receive* key. The client's
 *    send key (Magic2) D5F0E952... is not printed in the RFC; it is the value AOSP's IKE/EAP
 *    library asserts for the same inputs (packages/modules/IPsec,
 *    tests/iketests/src/java/com/android/internal/net/eap/EapMsChapV2Test.java, the 32-octet MSK
 *    D5F0...DCCB = send ‖ receive).
 *  - The MSK layout of strongSwan 5.9.8's eap-mschapv2 GenerateMSK() (src/libcharon/plugins/
 *    eap_mschapv2/eap_mschapv2.c lines 428-505): receive(Magic2) ‖ send(Magic3) ‖ 32 zero octets
 *    in the server's names = the peer's send ‖ receive ‖ 0^32.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { concatBytes, fromHex, toHex } from '../../src/core/bytes.js';
import {
  challengeHash,
  challengeResponse,
  checkAuthenticatorResponse,
  generateAuthenticatorResponse,
  generateNtResponse,
  getAsymmetricStartKey,
  getMasterKey,
  hashNtPasswordHash,
  mschapUserName,
  mschapv2Msk,
  ntPasswordHash,
} from '../../src/eap/mschapv2.js';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

// RFC 2759 §9.2
const USER = ascii('User');
const PASSWORD = 'clientPass';
const AUTH_CHALLENGE = fromHex('5B5D7C7D7B3F2F3E3C2C602132262628');
const PEER_CHALLENGE = fromHex('21402324255E262A28295F2B3A337C7E');
const NT_RESPONSE = '82309ecd8d708b5ea08faa3981cd83544233114a3d85d6df';

test('RFC 2759 §9.2: ChallengeHash, PasswordHash, NT-Response, PasswordHashHash', () => {
  assert.equal(toHex(challengeHash(PEER_CHALLENGE, AUTH_CHALLENGE, USER)), 'd02e4386bce91226');
  const passwordHash = ntPasswordHash(PASSWORD);
  assert.equal(toHex(passwordHash), '44ebba8d5312b8d611474411f56989ae');
  assert.equal(toHex(challengeResponse(fromHex('d02e4386bce91226'), passwordHash)), NT_RESPONSE);
  assert.equal(
    toHex(generateNtResponse(AUTH_CHALLENGE, PEER_CHALLENGE, USER, PASSWORD)),
    NT_RESPONSE,
  );
  assert.equal(toHex(hashNtPasswordHash(passwordHash)), '41c00c584bd2d91c4017a2a12fa59f3f');
});

test('RFC 2759 §9.2: AuthenticatorResponse, and CheckAuthenticatorResponse (§8.8)', () => {
  const nt = fromHex(NT_RESPONSE);
  const expected = 'S=407A5589115FD0D6209F510FE9C04566932CDA56';
  assert.equal(
    generateAuthenticatorResponse(PASSWORD, nt, PEER_CHALLENGE, AUTH_CHALLENGE, USER),
    expected,
  );
  const check = (s: string, password = PASSWORD): boolean =>
    checkAuthenticatorResponse(password, nt, PEER_CHALLENGE, AUTH_CHALLENGE, USER, s);
  assert.equal(check(expected), true);
  assert.equal(check(expected.toLowerCase().replace('s=', 'S=')), true, 'hex of either case');
  assert.equal(check(expected, 'clientPasS'), false, 'another password');
  assert.equal(check('S=407A5589115FD0D6209F510FE9C04566932CDA57'), false, 'last digit');
  assert.equal(check('S=407A5589115FD0D6209F510FE9C04566932CDA5'), false, 'too short');
  assert.equal(check('S=407A5589115FD0D6209F510FE9C04566932CDA566'), false, 'too long');
  assert.equal(check('407A5589115FD0D6209F510FE9C04566932CDA56'), false, 'no S=');
  assert.equal(check('S=407A5589115FD0D6209F510FE9C04566932CDAZZ'), false, 'not hex');
  assert.equal(check(''), false);
});

test('RFC 3079 §3.5.3: MasterKey and the 128-bit start keys', () => {
  const passwordHashHash = hashNtPasswordHash(ntPasswordHash(PASSWORD));
  const master = getMasterKey(passwordHashHash, fromHex(NT_RESPONSE));
  assert.equal(toHex(master), 'fdece3717a8c838cb388e527ae3cdd31');
  // The RFC's SendStartKey128: the server's send key (Magic3) ...
  assert.equal(
    toHex(getAsymmetricStartKey(master, true, true)),
    '8b7cdc149b993a1ba118cb153f56dccb',
  );
  // ... which is the client's receive key.
  assert.equal(
    toHex(getAsymmetricStartKey(master, false, false)),
    '8b7cdc149b993a1ba118cb153f56dccb',
  );
  // The client's send key = the server's receive key (Magic2); see the header for its source.
  assert.equal(
    toHex(getAsymmetricStartKey(master, true, false)),
    'd5f0e9521e3ea9589645e86051c82226',
  );
  assert.equal(
    toHex(getAsymmetricStartKey(master, false, true)),
    'd5f0e9521e3ea9589645e86051c82226',
  );
});

test("MSK: the peer's send key ‖ receive key ‖ 32 zero octets, as strongSwan's GenerateMSK lays it out", () => {
  const passwordHashHash = hashNtPasswordHash(ntPasswordHash(PASSWORD));
  const msk = mschapv2Msk(passwordHashHash, fromHex(NT_RESPONSE));
  assert.equal(msk.length, 64);
  // strongSwan's names (server side): master_receive_key (Magic2) ‖ master_send_key (Magic3).
  const master = getMasterKey(passwordHashHash, fromHex(NT_RESPONSE));
  const serverReceive = getAsymmetricStartKey(master, false, true);
  const serverSend = getAsymmetricStartKey(master, true, true);
  assert.equal(toHex(msk), toHex(concatBytes(serverReceive, serverSend, new Uint8Array(32))));
  // AOSP's 32-octet MSK for the same inputs is our first half.
  assert.equal(
    toHex(msk.subarray(0, 32)),
    'd5f0e9521e3ea9589645e86051c822268b7cdc149b993a1ba118cb153f56dccb',
  );
});

test('NtPasswordHash hashes UTF-16LE: non-ASCII and astral characters', () => {
  // "ä" is U+00E4 → e4 00; "😀" is U+1F600 → surrogates 3d d8 00 de.
  assert.equal(
    toHex(ntPasswordHash('pä😀')),
    toHex(ntPasswordHash(String.fromCharCode(0x70, 0xe4, 0xd83d, 0xde00))),
  );
  assert.notEqual(toHex(ntPasswordHash('pä')), toHex(ntPasswordHash('pa')));
  // The empty password is MD4 of nothing (RFC 1320 §A.5).
  assert.equal(toHex(ntPasswordHash('')), '31d6cfe0d16ae931b73c59d7e0c089c0');
});

test('the ChallengeHash user name drops a "DOMAIN\\" prefix (RFC 2759 §8.2)', () => {
  assert.equal(toHex(mschapUserName(ascii('CORP\\User'))), toHex(USER));
  assert.equal(toHex(mschapUserName(USER)), toHex(USER));
  assert.equal(toHex(mschapUserName(ascii('user@example.com'))), toHex(ascii('user@example.com')));
  assert.equal(mschapUserName(ascii('CORP\\')).length, 0);
});

test('wrong lengths are programmer errors', () => {
  assert.throws(() => challengeHash(new Uint8Array(15), AUTH_CHALLENGE, USER), RangeError);
  assert.throws(() => challengeResponse(new Uint8Array(8), new Uint8Array(15)), RangeError);
  assert.throws(() => getMasterKey(new Uint8Array(16), new Uint8Array(23)), RangeError);
  assert.throws(() => getAsymmetricStartKey(new Uint8Array(8), true, false), RangeError);
});
