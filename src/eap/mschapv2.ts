/**
 * MS-CHAP-V2 primitives (RFC 2759 §8) and the MPPE key derivation from MS-CHAP-V2 credentials
 * (RFC 3079 §3.4), for EAP-MSCHAPv2 (draft-kamath-pppext-eap-mschapv2-02).
 *
 * Names follow the RFCs' pseudo-code. User names are bytes as sent on the wire (RFC 2759 §8.2
 * calls them "0-to-256-char ASCII"); passwords are strings, hashed as UTF-16LE ("unicode",
 * RFC 2759 §8.3). MD4 and DES are the pure TypeScript ones from src/crypto.
 */
import { concatBytes, equalBytes, fromHex, toHex } from '../core/bytes.js';
import { desEncryptBlock, desKeyFrom56 } from '../crypto/des.js';
import { sha1 } from '../crypto/hash.js';
import { md4 } from '../crypto/md4.js';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

/** RFC 2759 §8.7 GenerateAuthenticatorResponse Magic1 (39 octets). */
const AUTH_MAGIC1 = ascii('Magic server to client signing constant');
/** RFC 2759 §8.7 GenerateAuthenticatorResponse Magic2 (41 octets). */
const AUTH_MAGIC2 = ascii('Pad to make it do more than one iteration');

/** RFC 3079 §3.4 GetMasterKey Magic1 (27 octets). */
const MPPE_MAGIC1 = ascii('This is the MPPE Master Key');
/** RFC 3079 §3.4 GetAsymmetricStartKey Magic2 (84 octets): client send / server receive key. */
const MPPE_MAGIC2 = ascii(
  'On the client side, this is the send key; on the server side, it is the receive key.',
);
/** RFC 3079 §3.4 GetAsymmetricStartKey Magic3 (84 octets): client receive / server send key. */
const MPPE_MAGIC3 = ascii(
  'On the client side, this is the receive key; on the server side, it is the send key.',
);
/** RFC 3079 §3.4 SHSpad1 (40 × 0x00) and SHSpad2 (40 × 0xF2). */
const SHS_PAD1 = new Uint8Array(40);
const SHS_PAD2 = new Uint8Array(40).fill(0xf2);

/** Lengths fixed by RFC 2759 §4 and §8. */
export const MSCHAPV2_CHALLENGE_LEN = 16;
export const MSCHAPV2_NT_RESPONSE_LEN = 24;
/** Length of the "S=" + 40 hex digits authenticator response string (RFC 2759 §5). */
export const MSCHAPV2_AUTH_RESPONSE_LEN = 42;

function check(b: Uint8Array, len: number, what: string): void {
  if (b.length !== len) throw new RangeError(`${what} must be ${len} bytes, got ${b.length}`);
}

/**
 * RFC 2759 §8.2 ChallengeHash: the first 8 octets of SHA1(PeerChallenge ‖ AuthenticatorChallenge
 * ‖ UserName). The user name excludes any "DOMAIN\" prefix (see {@link mschapUserName}).
 */
export function challengeHash(
  peerChallenge: Uint8Array,
  authenticatorChallenge: Uint8Array,
  userName: Uint8Array,
): Uint8Array {
  check(peerChallenge, MSCHAPV2_CHALLENGE_LEN, 'PeerChallenge');
  check(authenticatorChallenge, MSCHAPV2_CHALLENGE_LEN, 'AuthenticatorChallenge');
  return sha1(concatBytes(peerChallenge, authenticatorChallenge, userName)).slice(0, 8);
}

/** RFC 2759 §8.3 NtPasswordHash: MD4 of the password in UTF-16LE. */
export function ntPasswordHash(password: string): Uint8Array {
  return md4(utf16le(password));
}

/** RFC 2759 §8.4 HashNtPasswordHash: MD4(PasswordHash). */
export function hashNtPasswordHash(passwordHash: Uint8Array): Uint8Array {
  check(passwordHash, 16, 'PasswordHash');
  return md4(passwordHash);
}

/**
 * RFC 2759 §8.6 DesEncrypt: DES-encrypt 8 octets of Clear with a 7-octet key (expanded to DES's
 * 8-octet form with parity bits).
 */
export function desEncrypt(clear: Uint8Array, key7: Uint8Array): Uint8Array {
  return desEncryptBlock(desKeyFrom56(key7), clear);
}

/**
 * RFC 2759 §8.5 ChallengeResponse: the PasswordHash zero-padded to 21 octets, split into three
 * 7-octet DES keys, each encrypting the 8-octet Challenge.
 */
export function challengeResponse(challenge: Uint8Array, passwordHash: Uint8Array): Uint8Array {
  check(challenge, 8, 'Challenge');
  check(passwordHash, 16, 'PasswordHash');
  const z = new Uint8Array(21);
  z.set(passwordHash);
  return concatBytes(
    desEncrypt(challenge, z.subarray(0, 7)),
    desEncrypt(challenge, z.subarray(7, 14)),
    desEncrypt(challenge, z.subarray(14, 21)),
  );
}

/** RFC 2759 §8.1 GenerateNTResponse: the 24-octet NT-Response. */
export function generateNtResponse(
  authenticatorChallenge: Uint8Array,
  peerChallenge: Uint8Array,
  userName: Uint8Array,
  password: string,
): Uint8Array {
  const challenge = challengeHash(peerChallenge, authenticatorChallenge, userName);
  return challengeResponse(challenge, ntPasswordHash(password));
}

/**
 * RFC 2759 §8.7 GenerateAuthenticatorResponse: "S=" followed by 40 upper-case hex digits, the
 * authenticator's proof that it knows the password hash.
 */
export function generateAuthenticatorResponse(
  password: string,
  ntResponse: Uint8Array,
  peerChallenge: Uint8Array,
  authenticatorChallenge: Uint8Array,
  userName: Uint8Array,
): string {
  check(ntResponse, MSCHAPV2_NT_RESPONSE_LEN, 'NT-Response');
  const passwordHashHash = hashNtPasswordHash(ntPasswordHash(password));
  const first = sha1(concatBytes(passwordHashHash, ntResponse, AUTH_MAGIC1));
  const challenge = challengeHash(peerChallenge, authenticatorChallenge, userName);
  const digest = sha1(concatBytes(first, challenge, AUTH_MAGIC2));
  return `S=${toHex(digest).toUpperCase()}`;
}

/**
 * RFC 2759 §8.8 CheckAuthenticatorResponse: whether `receivedResponse` ("S=" + 40 hex digits, of
 * either case) is the authenticator response we expect. Compared in constant time.
 */
export function checkAuthenticatorResponse(
  password: string,
  ntResponse: Uint8Array,
  peerChallenge: Uint8Array,
  authenticatorChallenge: Uint8Array,
  userName: Uint8Array,
  receivedResponse: string,
): boolean {
  if (!/^S=[0-9A-Fa-f]{40}$/.test(receivedResponse)) return false;
  const expected = generateAuthenticatorResponse(
    password,
    ntResponse,
    peerChallenge,
    authenticatorChallenge,
    userName,
  );
  return equalBytes(fromHex(expected.slice(2)), fromHex(receivedResponse.slice(2)));
}

/**
 * The user name that enters ChallengeHash: RFC 2759 §8.2 uses the name "as presented by the peer
 * and excluding any prepended domain name", i.e. what follows the first backslash of
 * "DOMAIN\user" (strongSwan's eap-mschapv2 does the same on both sides). The Name field of the
 * Response still carries the whole identity.
 */
export function mschapUserName(identity: Uint8Array): Uint8Array {
  const i = identity.indexOf(0x5c);
  return i < 0 ? identity : identity.subarray(i + 1);
}

/** RFC 3079 §3.4 GetMasterKey: the first 16 octets of SHA1(PasswordHashHash ‖ NT-Response ‖ Magic1). */
export function getMasterKey(passwordHashHash: Uint8Array, ntResponse: Uint8Array): Uint8Array {
  check(passwordHashHash, 16, 'PasswordHashHash');
  check(ntResponse, MSCHAPV2_NT_RESPONSE_LEN, 'NT-Response');
  return sha1(concatBytes(passwordHashHash, ntResponse, MPPE_MAGIC1)).slice(0, 16);
}

/**
 * RFC 3079 §3.4 GetAsymmetricStartKey for 128-bit keys (SessionKeyLength 16): the first 16 octets
 * of SHA1(MasterKey ‖ SHSpad1 ‖ s ‖ SHSpad2), where s is Magic2 for the client's send key (= the
 * server's receive key) and Magic3 for the client's receive key (= the server's send key).
 */
export function getAsymmetricStartKey(
  masterKey: Uint8Array,
  isSend: boolean,
  isServer: boolean,
): Uint8Array {
  check(masterKey, 16, 'MasterKey');
  const magic = isSend !== isServer ? MPPE_MAGIC2 : MPPE_MAGIC3;
  return sha1(concatBytes(masterKey, SHS_PAD1, magic, SHS_PAD2)).slice(0, 16);
}

/**
 * The EAP-MSCHAPv2 MSK as the peer derives it, laid out the way the gateway (strongSwan 5.9.8)
 * derives it, since both sides key IKEv2's AUTH (RFC 7296 §2.16) with it:
 *
 *   MSK = MasterSendKey ‖ MasterReceiveKey ‖ 32 zero octets          (peer's point of view)
 *       = GetAsymmetricStartKey(Magic2) ‖ GetAsymmetricStartKey(Magic3) ‖ 0^32   (64 octets)
 *
 * Source: strongSwan 5.9.8, src/libcharon/plugins/eap_mschapv2/eap_mschapv2.c, GenerateMSK()
 * (lines 428-505 at tag 5.9.8), which both its peer and its server run: master_key =
 * SHA1(PasswordHashHash ‖ NT-Response ‖ magic1)[0..16]; "master_receive_key" =
 * SHA1(master ‖ shapad1 ‖ magic2 ‖ shapad2), where magic2 is "On the client side, this is the send
 * key; on the server side, it is the receive key."; "master_send_key" = the same with magic3; and
 * `msk = master_receive_key[0..16] ‖ master_send_key[0..16] ‖ keypad ‖ keypad` with keypad 16 zero
 * octets. strongSwan names the keys from the server's side, so its first half (Magic2) is the
 * peer's send key. This is also [MS-CHAP] §3.1.5.1's "MSK = MasterReceiveKey + MasterSendKey +
 * 32 bytes zeroes" (the authenticator's names) and hostapd's peer order (send key, receive key).
 */
export function mschapv2Msk(passwordHashHash: Uint8Array, ntResponse: Uint8Array): Uint8Array {
  const master = getMasterKey(passwordHashHash, ntResponse);
  const send = getAsymmetricStartKey(master, true, false);
  const receive = getAsymmetricStartKey(master, false, false);
  return concatBytes(send, receive, new Uint8Array(32));
}

/** UTF-16LE code units of a string (RFC 2759 §8.3 "unicode" password). */
function utf16le(s: string): Uint8Array {
  const out = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out[2 * i] = c & 0xff;
    out[2 * i + 1] = c >>> 8;
  }
  return out;
}
