/**
 * The PKI core: X.509 parsing, certification paths, certificate names and IKE identities, and IKE
 * AUTH signatures. Pure code (node:crypto only): no files, clocks or sockets.
 */
export * from './der.js';
export * from './x509.js';
export * from './chain.js';
export * from './names.js';
export * from './signature.js';
