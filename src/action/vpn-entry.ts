/**
 * The `vpn` command as the GitHub Action bundles it (action/dist/cli/vpn.mjs, built by
 * scripts/build-action.mjs): bin/vpn.js, with the --background child started from this bundle.
 * It lives three folders below the repository root, like dist/src/tun/linux.js, so the addon
 * loaders find <root>/build/Release (and the package root) unchanged.
 */
import { fileURLToPath } from 'node:url';
import { main, setDaemonEntry } from '../cli/main.js';
import { exitAfterFlush, ignoreClosedPipes } from '../cli/flush.js';

setDaemonEntry(fileURLToPath(import.meta.url));
ignoreClosedPipes();
exitAfterFlush(await main(process.argv));
