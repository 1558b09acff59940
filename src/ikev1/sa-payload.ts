/**
 * IKEv1 Security Association payload bodies (everything after the 4-byte generic payload header):
 * the Domain of Interpretation and Situation (RFC 2407 §4.6.1), Proposal and Transform payloads
 * (RFC 2408 §3.5–3.6) with their data attributes in TV and TLV form (RFC 2408 §3.3), the Phase 1
 * attribute classes (RFC 2409 Appendix A) and the IPsec DOI attributes of Quick Mode (RFC 2407
 * §4.5). Also the proposal strings (strongSwan's IKEv1 syntax) that produce our offers, and the
 * strict checks of the gateway's choice.
 *
 * Our data plane is AEAD only, so Phase 2 offers ESP with AES-GCM (RFC 4106 §8) and nothing else.
 *
 * Pure functions, no I/O. Decoders bound every length and count and throw only VpnError.
 */
// The code lives in ./sa/ (constants, proposal strings, the body codec, offers and choices); this
// module is the one import for the rest of IKEv1.
export * from './sa/constants.js';
export * from './sa/proposal-text.js';
export * from './sa/body.js';
export * from './sa/choice.js';
