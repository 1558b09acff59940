/** The ISAKMP codec (RFC 2408 §3): header, payload chain and bodies, message encryption. */
export * from './types.js';
export * from './payloads.js';
export * from './message.js';
export * from './crypt.js';
