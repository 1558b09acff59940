#!/usr/bin/env node
// Builds the GitHub Action's committed bundles (action.yml runs them from a checkout of the
// repository at a tag, with no build step and no node_modules): esbuild bundles src/action/main.ts
// and post.ts, with @actions/core, into action/dist/main.mjs and post.mjs, and the whole `vpn`
// command into action/dist/cli/vpn.mjs (three folders below the root, like dist/src/tun/linux.js,
// so the client's own addon loaders find <root>/build/Release unchanged). The native addons stay
// out of the bundle: they are loaded at run time. `--check` builds in memory and exits 1 when a
// committed bundle differs (test/action/bundle.test.ts runs it).
import { build } from 'esbuild';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const check = process.argv.includes('--check');

const outputs = {
  'src/action/main.ts': 'action/dist/main.mjs',
  'src/action/post.ts': 'action/dist/post.mjs',
  'src/action/vpn-entry.ts': 'action/dist/cli/vpn.mjs',
};

let stale = 0;
for (const [entry, out] of Object.entries(outputs)) {
  const r = await build({
    absWorkingDir: root,
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    outfile: out,
    external: ['*.node'],
    // Paths as the checkout names them (node_modules may be a symbolic link): the same bundle
    // from every checkout, which the staleness test needs.
    preserveSymlinks: true,
    legalComments: 'eof',
    charset: 'utf8',
    logLevel: 'warning',
    // CommonJS dependencies (node-gyp-build) call require(): give the ES module one.
    banner: {
      js: "import { createRequire as __ikev2CreateRequire } from 'node:module';\nconst require = __ikev2CreateRequire(import.meta.url);",
    },
  });
  const text = r.outputFiles[0].text;
  const path = join(root, out);
  if (check) {
    let have = '';
    try {
      have = readFileSync(path, 'utf8');
    } catch {
      // missing
    }
    if (have !== text) {
      console.error(`${out} is stale: run npm run build:action and commit it`);
      stale++;
    }
  } else {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    console.error(`${relative(root, path)}: ${text.length} bytes`);
  }
}
process.exitCode = stale > 0 ? 1 : 0;
