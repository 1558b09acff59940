/**
 * XAUTH client, generic type only (draft-beaulieu-ike-xauth-02 §2–§6; as strongSwan's
 * `xauth-generic`): the gateway REQUESTs a user name and password, we REPLY; it SETs
 * XAUTH-STATUS, we ACK. Anything else a gateway may ask for (a passcode, a challenge, a new PIN,
 * RADIUS-CHAP/OTP/S-KEY types) ends the conversation with an error that says what was asked.
 *
 *   gateway                         us
 *   REQUEST(TYPE, USER-NAME, USER-PASSWORD[, MESSAGE])  -->
 *                              <--  REPLY(TYPE, USER-NAME=.., USER-PASSWORD=..)
 *   SET(STATUS=1)              -->
 *                              <--  ACK(STATUS)
 *
 * Pure and synchronous: the Transaction exchange crypto (HASH, IV per message ID) is the
 * session's (src/ikev1/transaction.ts).
 */
import { VpnError } from '../../core/errors.js';
import {
  CfgType,
  XauthAttr,
  XauthStatus,
  XauthType,
  numberValue,
  u16Value,
  type AttributePayload,
  type CfgAttribute,
} from './attributes.js';
import { MAX_MESSAGE_CHARS, untrustedText } from './text.js';

export interface XauthCredentials {
  user: string;
  password: Uint8Array;
}

/**
 * What to do after a gateway message:
 * - `reply`: send `payload` (our REPLY to its REQUEST);
 * - `done`: the gateway's SET STATUS=1: send `ack`, XAUTH succeeded;
 * - `failed`: STATUS=0 (wrong password: ERR_IKE_AUTH_FAILED; send `ack` first when present),
 *   an XAUTH type or request we do not support, or a message that makes no sense.
 * `message` is the gateway's XAUTH-MESSAGE text, escaped and bounded, when it sent one.
 */
export type XauthStep =
  | { kind: 'reply'; payload: AttributePayload; message?: string }
  | { kind: 'done'; ack: AttributePayload; message?: string }
  | { kind: 'failed'; error: VpnError; ack?: AttributePayload; message?: string };

/** Longest user name or password we send (octets); an Attribute payload must fit a message. */
export const MAX_XAUTH_CREDENTIAL = 1024;

/** Requests we answer before we call it a loop (a gateway re-asking after a wrong password). */
const MAX_REQUESTS = 4;

/** XAUTH requests we cannot answer with a user name and password, and how to say so. */
const UNSUPPORTED: Record<number, string> = {
  [XauthAttr.PASSCODE]: 'a passcode (token or one-time password)',
  [XauthAttr.CHALLENGE]: 'the answer to a challenge',
  [XauthAttr.NEXT_PIN]: 'a new PIN',
  [XauthAttr.ANSWER]: 'an answer to a question',
};

const TYPE_NAMES: Record<number, string> = {
  [XauthType.RADIUS_CHAP]: 'RADIUS-CHAP',
  [XauthType.OTP]: 'OTP',
  [XauthType.S_KEY]: 'S/KEY',
};

export class XauthClient {
  private readonly creds: XauthCredentials;
  private requests = 0;
  private passwordSent = false;
  /** The last XAUTH-MESSAGE the gateway sent (escaped, bounded). */
  lastMessage: string | undefined;

  constructor(creds: XauthCredentials) {
    this.creds = creds;
  }

  onMessage(p: AttributePayload): XauthStep {
    const m = p.attributes.find((a) => a.type === XauthAttr.MESSAGE);
    const message = m && m.value.length > 0 ? untrustedText(m.value, MAX_MESSAGE_CHARS) : undefined;
    if (message !== undefined) this.lastMessage = message;
    const withMessage = <T extends XauthStep>(s: T): T =>
      message === undefined ? s : { ...s, message };
    switch (p.cfgType) {
      case CfgType.REQUEST:
        return withMessage(this.onRequest(p, message));
      case CfgType.SET:
        return withMessage(this.onSet(p, message));
      default:
        return withMessage(
          failed('ERR_IKE_PROTOCOL', `unexpected XAUTH message of type ${p.cfgType} from gateway`),
        );
    }
  }

  private onRequest(p: AttributePayload, message: string | undefined): XauthStep {
    this.requests++;
    const said = message === undefined ? '' : ` (gateway says: "${message}")`;
    if (this.requests > MAX_REQUESTS)
      return failed(
        'ERR_IKE_AUTH_FAILED',
        `gateway asked for XAUTH credentials ${this.requests} times`,
      );
    const asked = new Set(p.attributes.map((a) => a.type));
    const typeAttr = p.attributes.find((a) => a.type === XauthAttr.TYPE);
    // §6.2: an empty XAUTH-TYPE in a request reads as generic.
    const type =
      typeAttr && typeAttr.value.length > 0 ? numberValue(typeAttr.value) : XauthType.GENERIC;
    if (type !== XauthType.GENERIC)
      return failed(
        'ERR_IKE_AUTH_FAILED',
        `gateway asks for XAUTH type ${type === undefined ? '(malformed)' : (TYPE_NAMES[type] ?? String(type))}; only generic user name and password XAUTH is supported${said}`,
      );
    for (const [t, what] of Object.entries(UNSUPPORTED)) {
      if (asked.has(Number(t)))
        return failed(
          'ERR_IKE_AUTH_FAILED',
          `gateway asks for ${what} in XAUTH, which is not supported (only user name and password)${said}`,
        );
    }
    const wantsUser = asked.has(XauthAttr.USER_NAME);
    const wantsPassword = asked.has(XauthAttr.USER_PASSWORD);
    if (!wantsUser && !wantsPassword)
      return failed(
        'ERR_IKE_PROTOCOL',
        `gateway's XAUTH request asks for neither a user name nor a password${said}`,
      );
    if (wantsPassword && this.passwordSent)
      // A gateway re-asks (Cisco does, up to three times) when the password was wrong.
      return failed(
        'ERR_IKE_AUTH_FAILED',
        `XAUTH failed: the gateway asked for the password again (wrong user name or password?)${said}`,
      );
    const user = new TextEncoder().encode(this.creds.user);
    if (
      (wantsUser && user.length > MAX_XAUTH_CREDENTIAL) ||
      (wantsPassword && this.creds.password.length > MAX_XAUTH_CREDENTIAL)
    )
      return failed(
        'ERR_CONFIG',
        `the XAUTH user name and password must be at most ${MAX_XAUTH_CREDENTIAL} bytes each`,
      );
    const attributes: CfgAttribute[] = [];
    if (typeAttr) attributes.push({ type: XauthAttr.TYPE, value: u16Value(XauthType.GENERIC) });
    if (wantsUser) attributes.push({ type: XauthAttr.USER_NAME, value: user });
    if (wantsPassword) {
      attributes.push({ type: XauthAttr.USER_PASSWORD, value: this.creds.password });
      this.passwordSent = true;
    }
    return {
      kind: 'reply',
      payload: { cfgType: CfgType.REPLY, identifier: p.identifier, attributes },
    };
  }

  private onSet(p: AttributePayload, message: string | undefined): XauthStep {
    const said = message === undefined ? '' : ` (gateway says: "${message}")`;
    const s = p.attributes.find((a) => a.type === XauthAttr.STATUS);
    const status = s ? numberValue(s.value) : undefined;
    if (status === undefined)
      return failed('ERR_IKE_PROTOCOL', 'gateway sent an XAUTH SET without a usable XAUTH-STATUS');
    // §2.2: the ACK echoes the attribute it acknowledges (value empty, as strongSwan sends it).
    const ack: AttributePayload = {
      cfgType: CfgType.ACK,
      identifier: p.identifier,
      attributes: [{ type: XauthAttr.STATUS, value: new Uint8Array(0) }],
    };
    if (status === XauthStatus.OK) return { kind: 'done', ack };
    if (status === XauthStatus.FAIL)
      return {
        kind: 'failed',
        ack,
        error: new VpnError(
          'ERR_IKE_AUTH_FAILED',
          `XAUTH failed: the gateway rejected the user name or password${said}`,
        ),
      };
    return {
      kind: 'failed',
      ack,
      error: new VpnError('ERR_IKE_PROTOCOL', `gateway sent unknown XAUTH-STATUS ${status}`),
    };
  }
}

function failed(
  code: 'ERR_IKE_AUTH_FAILED' | 'ERR_IKE_PROTOCOL' | 'ERR_CONFIG',
  msg: string,
): XauthStep {
  return { kind: 'failed', error: new VpnError(code, msg) };
}
