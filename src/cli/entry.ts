/**
 * What bin/vpn.js runs: the CLI's entry and its exit helpers. esbuild bundles this module (with
 * every dependency, scripts/build-cli-bundle.mjs) into dist/bundle/cli/vpn.js, which bin/vpn.js
 * loads in preference to the unbundled dist/src/cli/entry.js: one file to read and compile
 * instead of ~190 modules (module resolution and loading was most of the connect time from exec).
 */
export { main } from './main.js';
export { exitAfterFlush, ignoreClosedPipes } from './flush.js';
