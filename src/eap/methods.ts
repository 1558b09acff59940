/**
 * The synchronous EAP methods of the peer: MD5-Challenge (RFC 3748 §5.4), Generic Token Card
 * (RFC 3748 §5.6) and EAP-MSCHAPv2 (draft-kamath-pppext-eap-mschapv2-02 over RFC 2759).
 *
 * A method sees the Type-Data of each Request of its type and returns the Type-Data of the
 * Response or a failure; the peer (peer.ts) frames packets, handles Identity, Notification, Nak,
 * retransmissions and EAP-Success/Failure, and asks the method whether Success may be accepted.
 */
import { createHash } from 'node:crypto';
import { concatBytes, wipe } from '../core/bytes.js';
import { VpnError } from '../core/errors.js';
import type { Random } from '../core/random.js';
import {
  MSCHAPV2_CHALLENGE_LEN,
  checkAuthenticatorResponse,
  generateNtResponse,
  hashNtPasswordHash,
  mschapUserName,
  mschapv2Msk,
  ntPasswordHash,
} from './mschapv2.js';
import { EapType } from './packet.js';

export type MethodStep =
  /** Answer with a Response of the method's Type carrying this Type-Data. */
  | { kind: 'respond'; data: Uint8Array }
  /** The method failed on our side (bad server proof, malformed Request, ...). */
  | { kind: 'fail'; error: VpnError };

export interface EapMethod {
  /** EAP method Type (RFC 3748 §5). */
  readonly type: number;
  readonly name: string;
  /** Handles the Type-Data of one Request of this method (a new one, not a retransmission). */
  process(identifier: number, data: Uint8Array): MethodStep;
  /** Whether the method has finished on our side so that EAP-Success may be accepted. */
  finished(): boolean;
  /** Why EAP-Success cannot be accepted yet (used when the gateway sends it too early). */
  unfinishedReason(): string;
  /** Whether the method authenticated the gateway (only once finished). */
  mutual(): boolean;
  /** The MSK once finished, or undefined for methods that derive none. */
  msk(): Uint8Array | undefined;
  /** What the gateway reported inside the method before EAP-Failure (MSCHAPv2's E= code). */
  failureReason(): string | undefined;
}

export interface MethodCredentials {
  /** Our EAP identity (the MSCHAPv2 Name). */
  identity: Uint8Array;
  /** The password as UTF-8. */
  password: Uint8Array;
  random: Random;
}

function eapError(message: string): VpnError {
  return new VpnError('ERR_EAP_FAILED', message);
}

function fail(message: string): MethodStep {
  return { kind: 'fail', error: eapError(message) };
}

/** Printable text from a gateway-supplied message: control characters replaced, length capped. */
export function printable(bytes: Uint8Array, max = 200): string {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes).replace(/\0+$/, '');
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

// -----------------------------------------------------------------------------------------------
// MD5-Challenge (RFC 3748 §5.4, RFC 1994 §4.1)

/**
 * EAP-MD5: each Request carries Value-Size, Value (the challenge) and an optional Name; the
 * Response is Value-Size 16 and MD5(Identifier ‖ secret ‖ challenge) (RFC 1994 §4.1), without a
 * Name, as strongSwan's and hostapd's peers send it. It does not authenticate the gateway and
 * derives no keys.
 */
export class Md5ChallengeMethod implements EapMethod {
  readonly type = EapType.MD5_CHALLENGE;
  readonly name = 'EAP-MD5';
  private readonly password: Uint8Array;
  private answered = false;

  constructor(password: Uint8Array) {
    this.password = password;
  }

  process(identifier: number, data: Uint8Array): MethodStep {
    const size = data[0];
    if (size === undefined || size === 0 || 1 + size > data.length) {
      return fail(
        `malformed EAP-MD5 Request: Value-Size ${size ?? 'missing'} with ${data.length} octets of Type-Data`,
      );
    }
    const challenge = data.subarray(1, 1 + size);
    const hash = createHash('md5')
      .update(Uint8Array.of(identifier))
      .update(this.password)
      .update(challenge)
      .digest();
    this.answered = true;
    return { kind: 'respond', data: concatBytes(Uint8Array.of(16), new Uint8Array(hash)) };
  }

  finished(): boolean {
    return this.answered;
  }

  unfinishedReason(): string {
    return 'the gateway sent EAP-Success before we answered its EAP-MD5 challenge';
  }

  mutual(): boolean {
    return false;
  }

  msk(): undefined {
    return undefined;
  }

  failureReason(): undefined {
    return undefined;
  }
}

// -----------------------------------------------------------------------------------------------
// Generic Token Card (RFC 3748 §5.6)

/**
 * EAP-GTC: the Request's Type-Data is a displayable prompt; the Response carries the password
 * (RFC 3748 §5.6, as strongSwan's eap-gtc peer sends it; its server hands it to PAM or another
 * XAuth backend). Each Request is answered the same way. No gateway authentication, no keys.
 */
export class GtcMethod implements EapMethod {
  readonly type = EapType.GTC;
  readonly name = 'EAP-GTC';
  private readonly password: Uint8Array;
  private answered = false;

  constructor(password: Uint8Array) {
    this.password = password;
  }

  process(): MethodStep {
    this.answered = true;
    return { kind: 'respond', data: this.password.slice() };
  }

  finished(): boolean {
    return this.answered;
  }

  unfinishedReason(): string {
    return 'the gateway sent EAP-Success before we answered its EAP-GTC request';
  }

  mutual(): boolean {
    return false;
  }

  msk(): undefined {
    return undefined;
  }

  failureReason(): undefined {
    return undefined;
  }
}

// -----------------------------------------------------------------------------------------------
// EAP-MSCHAPv2 (draft-kamath-pppext-eap-mschapv2-02, RFC 2759)

/** draft-kamath-pppext-eap-mschapv2-02 §2 OpCodes. */
export const MschapOpCode = { CHALLENGE: 1, RESPONSE: 2, SUCCESS: 3, FAILURE: 4 } as const;

/** Value-Size of a Response: Peer-Challenge 16, Reserved 8, NT-Response 24, Flags 1 (RFC 2759 §4). */
const RESPONSE_VALUE_SIZE = 49;
/** OpCode, MS-CHAPv2-ID, MS-Length. */
const MS_HEADER_LEN = 4;

/** RFC 2759 §6 failure codes (and strongSwan's names for them). */
const MSCHAP_ERRORS: ReadonlyMap<number, string> = new Map([
  [646, 'logon is not allowed at this time (restricted logon hours)'],
  [647, 'the account is disabled'],
  [648, 'the password has expired'],
  [649, 'the account has no dial-in permission'],
  [691, 'wrong user name or password'],
  [709, 'changing the password failed'],
]);

/** Parsed "E=eeeeeeeeee R=r C=cccc... V=vvvvvvvvvv M=<msg>" of a Failure Request (RFC 2759 §6). */
export interface MschapFailure {
  code: number | undefined;
  retry: boolean;
  message: string | undefined;
}

/** Parses the text of an MS-CHAPv2 Failure packet (RFC 2759 §6). */
export function parseMschapFailure(text: string): MschapFailure {
  const e = /(?:^|\s)E=(\d+)/.exec(text);
  const r = /(?:^|\s)R=([01])/.exec(text);
  // M= is the last field and its text may contain spaces.
  const m = /(?:^|\s)M=(.*)$/s.exec(text);
  return {
    code: e ? Number(e[1]) : undefined,
    retry: r?.[1] === '1',
    message: m?.[1],
  };
}

/** A human sentence for an MS-CHAPv2 failure: "wrong user name or password (E=691)". */
export function describeMschapFailure(f: MschapFailure): string {
  const what =
    f.code === undefined
      ? 'the gateway reported a failure without an error code'
      : `${MSCHAP_ERRORS.get(f.code) ?? 'error'} (E=${f.code})`;
  return f.message ? `${what}; the gateway says "${f.message}"` : what;
}

type MschapState = 'challenge' | 'result' | 'done' | 'failed';

/**
 * EAP-MSCHAPv2 peer (draft-kamath-pppext-eap-mschapv2-02 §2, RFC 2759 §3-§6):
 *
 *  1. Challenge Request (OpCode 1: MS-CHAPv2-ID, MS-Length, Value-Size 16, Challenge, Name) →
 *     Response (OpCode 2, the same MS-CHAPv2-ID, MS-Length = EAP Length − 5, Value-Size 49,
 *     Peer-Challenge from the injected Random, 8 zero octets, NT-Response, Flags 0, Name = our
 *     identity).
 *  2. Success Request (OpCode 3, "S=<40 hex> M=<msg>") → verified with CheckAuthenticatorResponse
 *     (RFC 2759 §8.8); if it matches, a Success Response (OpCode 3 only) and the method is done;
 *     if not, the gateway does not know our password hash and we fail at once.
 *     Failure Request (OpCode 4, "E=... R=... C=... V=... M=...") → Failure Response (OpCode 4
 *     only), and the reason is kept for the EAP-Failure that follows. We never retry (R=1) or
 *     change the password: without a new password a retry would only fail again.
 */
export class MschapV2Method implements EapMethod {
  readonly type = EapType.MSCHAPV2;
  readonly name = 'EAP-MSCHAPv2';
  private readonly identity: Uint8Array;
  private readonly password: string;
  private readonly random: Random;
  private state: MschapState = 'challenge';
  private authenticatorChallenge: Uint8Array | undefined;
  private peerChallenge: Uint8Array | undefined;
  private ntResponse: Uint8Array | undefined;
  private key: Uint8Array | undefined;
  private failure: string | undefined;

  constructor(creds: MethodCredentials) {
    this.identity = creds.identity;
    // RFC 2759 §8.3: the password is hashed as unicode; ours comes as UTF-8.
    this.password = new TextDecoder('utf-8', { fatal: true }).decode(creds.password);
    this.random = creds.random;
  }

  process(_identifier: number, data: Uint8Array): MethodStep {
    if (data.length < 1) return fail('malformed EAP-MSCHAPv2 Request: no OpCode');
    const opCode = data[0]!;
    switch (this.state) {
      case 'challenge':
        if (opCode === MschapOpCode.CHALLENGE) return this.onChallenge(data);
        break;
      case 'result':
        if (opCode === MschapOpCode.SUCCESS) return this.onSuccess(data);
        if (opCode === MschapOpCode.FAILURE) return this.onFailure(data);
        break;
      case 'done':
      case 'failed':
        break;
    }
    if (this.state === 'failed' && this.failure) {
      return fail(`EAP-MSCHAPv2 authentication failed: ${this.failure}`);
    }
    return fail(`unexpected EAP-MSCHAPv2 OpCode ${opCode} (${this.expecting()})`);
  }

  private expecting(): string {
    switch (this.state) {
      case 'challenge':
        return 'expected a Challenge';
      case 'result':
        return 'expected Success or Failure';
      case 'done':
        return 'the method had already succeeded';
      case 'failed':
        return 'the method had already failed';
    }
  }

  /** draft-kamath §2.1 Challenge Request → §2.2 Response. */
  private onChallenge(data: Uint8Array): MethodStep {
    // OpCode, MS-CHAPv2-ID, MS-Length (2), Value-Size, Challenge (16), Name (RFC 2759 §3).
    if (data.length < MS_HEADER_LEN + 1 + MSCHAPV2_CHALLENGE_LEN) {
      return fail(`malformed EAP-MSCHAPv2 Challenge: ${data.length} octets of Type-Data`);
    }
    const msId = data[1]!;
    const valueSize = data[MS_HEADER_LEN]!;
    if (valueSize !== MSCHAPV2_CHALLENGE_LEN) {
      return fail(`malformed EAP-MSCHAPv2 Challenge: Value-Size ${valueSize}, expected 16`);
    }
    const start = MS_HEADER_LEN + 1;
    this.authenticatorChallenge = data.slice(start, start + MSCHAPV2_CHALLENGE_LEN);
    this.peerChallenge = this.random.bytes(MSCHAPV2_CHALLENGE_LEN);
    if (this.peerChallenge.length !== MSCHAPV2_CHALLENGE_LEN) {
      throw new RangeError('Random returned the wrong number of bytes');
    }
    this.ntResponse = generateNtResponse(
      this.authenticatorChallenge,
      this.peerChallenge,
      mschapUserName(this.identity),
      this.password,
    );
    // The MSK is fixed by the NT-Response; it is handed out only after the gateway's proof.
    this.key = mschapv2Msk(hashNtPasswordHash(ntPasswordHash(this.password)), this.ntResponse);

    // Type-Data: OpCode, MS-CHAPv2-ID, MS-Length, Value-Size, Response (49), Name.
    const out = new Uint8Array(MS_HEADER_LEN + 1 + RESPONSE_VALUE_SIZE + this.identity.length);
    const msLength = out.length; // draft-kamath §2: MS-Length = EAP Length − 5 = Type-Data length.
    if (msLength > 0xffff - 5) return fail('our EAP identity is too long for EAP-MSCHAPv2');
    out[0] = MschapOpCode.RESPONSE;
    out[1] = msId;
    out[2] = msLength >>> 8;
    out[3] = msLength & 0xff;
    out[4] = RESPONSE_VALUE_SIZE;
    out.set(this.peerChallenge, 5);
    // 8 reserved zero octets at 21..28.
    out.set(this.ntResponse, 29);
    out[53] = 0; // Flags
    out.set(this.identity, 54);
    this.state = 'result';
    return { kind: 'respond', data: out };
  }

  /** draft-kamath §2.3 Success Request → §2.4 Success Response, after RFC 2759 §8.8. */
  private onSuccess(data: Uint8Array): MethodStep {
    // "S=<auth_string> M=<message>" (RFC 2759 §5); strongSwan ends it with a NUL.
    const text = new TextDecoder('latin1').decode(data.subarray(MS_HEADER_LEN)).replace(/\0+$/, '');
    const auth = /^S=([0-9A-Fa-f]{40})(?:\s|$)/.exec(text);
    const verified =
      auth !== null &&
      checkAuthenticatorResponse(
        this.password,
        this.ntResponse!,
        this.peerChallenge!,
        this.authenticatorChallenge!,
        mschapUserName(this.identity),
        `S=${auth[1]!}`,
      );
    if (!verified) {
      this.state = 'failed';
      this.wipeKey();
      return fail(
        auth === null
          ? 'EAP-MSCHAPv2 Success Request without a valid authenticator response ("S=" and 40 hex digits): the gateway did not prove it knows the password'
          : 'the gateway\'s EAP-MSCHAPv2 authenticator response ("S=") does not verify: it does not know our password (or someone is in between)',
      );
    }
    this.state = 'done';
    return { kind: 'respond', data: Uint8Array.of(MschapOpCode.SUCCESS) };
  }

  /** draft-kamath §2.5 Failure Request → §2.6 Failure Response. */
  private onFailure(data: Uint8Array): MethodStep {
    const text = printable(data.subarray(MS_HEADER_LEN), 400);
    this.failure = describeMschapFailure(parseMschapFailure(text));
    this.state = 'failed';
    this.wipeKey();
    return { kind: 'respond', data: Uint8Array.of(MschapOpCode.FAILURE) };
  }

  private wipeKey(): void {
    wipe(this.key);
    this.key = undefined;
  }

  finished(): boolean {
    return this.state === 'done';
  }

  unfinishedReason(): string {
    return this.state === 'failed' && this.failure
      ? `the gateway sent EAP-Success after an EAP-MSCHAPv2 Failure (${this.failure})`
      : 'the gateway sent EAP-Success before EAP-MSCHAPv2 finished: it claimed success without proving it knows the password';
  }

  mutual(): boolean {
    return this.state === 'done';
  }

  msk(): Uint8Array | undefined {
    return this.state === 'done' && this.key ? this.key.slice() : undefined;
  }

  failureReason(): string | undefined {
    return this.failure;
  }
}
