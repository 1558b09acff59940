/** The IKEv2 wire format: types, payload codecs, messages, exchange rules and fragments. */
export * from './types.js';
export * from './message.js';
export { checkExchangeRules } from './rules.js';
export * from './fragments.js';
