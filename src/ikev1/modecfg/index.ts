/**
 * IKEv1 Attribute payloads and the two conversations they carry: XAUTH
 * (draft-beaulieu-ike-xauth-02) and Mode Config (draft-dukes-ike-mode-cfg-02), with the Cisco
 * Unity attributes. Contract 2 of issue 17 (CORE runs the Transaction exchange around them).
 */
export {
  CfgType,
  MAX_CFG_ATTRIBUTES,
  ModeCfgAttr,
  UnityAttr,
  XauthAttr,
  XauthStatus,
  XauthType,
  decodeAttributePayload,
  encodeAttributePayload,
  numberValue,
  u16Value,
} from './attributes.js';
export type { AttributePayload, CfgAttribute } from './attributes.js';
export { MAX_XAUTH_CREDENTIAL, XauthClient } from './xauth.js';
export type { XauthCredentials, XauthStep } from './xauth.js';
export {
  MAX_NBNS,
  MAX_SPLIT_INCLUDE,
  ModeConfigClient,
  parseModeCfgAttributes,
  toConfigReply,
} from './modecfg.js';
export type { ModeCfgResult } from './modecfg.js';
export { MAX_BANNER_CHARS, MAX_MESSAGE_CHARS, untrustedText } from './text.js';
