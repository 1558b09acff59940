/**
 * The PKI core, a plain X.509 library below IKE: DER, X.509 parsing, certification paths and
 * certificate names. Pure code (node:crypto only): no files, clocks or sockets; it imports only
 * src/core and src/crypto (enforced by eslint.config.js). IKE AUTH signatures, the gateway
 * certificate policy and IKE identities in certificates are in src/ike/auth/.
 */
export * from './der.js';
export * from './x509.js';
export * from './chain.js';
export * from './names.js';
