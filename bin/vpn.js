#!/usr/bin/env node
// Entry point of the `vpn` command. `npm run build` makes two builds of the CLI: the modules of
// dist/src (tsc) and one esbuild bundle of them, dist/bundle/cli/vpn.js
// (scripts/build-cli-bundle.mjs), which starts faster (docs/performance.md, "Connect time").
// The bundle is used when it is there and not older than dist/src (a `tsc` alone after an edit
// leaves it stale); VPN_NO_BUNDLE=1 forces the modules.
import { statSync } from 'node:fs';

const BUNDLE = new URL('../dist/bundle/cli/vpn.js', import.meta.url);
const MODULES = new URL('../dist/src/cli/entry.js', import.meta.url);

/** Modification time in ms, or undefined when the file is absent. */
function mtime(url) {
  try {
    return statSync(url).mtimeMs;
  } catch {
    return undefined;
  }
}

function entry() {
  if (process.env.VPN_NO_BUNDLE === '1') return MODULES;
  const bundle = mtime(BUNDLE);
  if (bundle === undefined) return MODULES;
  const modules = mtime(MODULES);
  return modules === undefined || bundle >= modules ? BUNDLE : MODULES;
}

const { main, exitAfterFlush, ignoreClosedPipes } = await import(entry().href);
ignoreClosedPipes();
// Never process.exit() with output still pending: a pipe reader would lose it.
exitAfterFlush(await main(process.argv));
