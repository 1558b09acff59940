#!/usr/bin/env node
// Builds the GitHub Action's committed bundles (action.yml runs them from a checkout of the
// repository at a tag, with no build step and no node_modules): esbuild bundles src/action/main.ts
// and post.ts, with @actions/core, into action/dist/main.mjs and post.mjs, and the whole `vpn`
// command into action/dist/cli/vpn.mjs (three folders below the root, like dist/src/tun/linux.js,
// so the client's own addon loaders find <root>/build/Release unchanged). The native addons stay
// out of the bundle: they are loaded at run time. `--check` builds in memory and exits 1 when a
// committed bundle differs (test/action/bundle.test.ts runs it).
import { build } from 'esbuild';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const check = process.argv.includes('--check');

const outdir = join(root, 'action', 'dist');
const r = await build({
  absWorkingDir: root,
  // main and post share @actions/core and the action's helpers: one chunk, not two copies.
  entryPoints: {
    main: 'src/action/main.ts',
    post: 'src/action/post.ts',
    'cli/vpn': 'src/action/vpn-entry.ts',
  },
  bundle: true,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  platform: 'node',
  format: 'esm',
  target: 'node20',
  write: false,
  outdir,
  external: ['*.node'],
  // Paths as the checkout names them (node_modules may be a symbolic link): the same bundle
  // from every checkout, which the staleness test needs.
  preserveSymlinks: true,
  legalComments: 'eof',
  charset: 'utf8',
  logLevel: 'warning',
  // CommonJS dependencies (node-gyp-build) call require(): give each ES module one.
  banner: {
    js: "import { createRequire as __ikev2CreateRequire } from 'node:module';\nconst require = __ikev2CreateRequire(import.meta.url);",
  },
});

/** Every file under `dir`, relative to it. */
function files(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath ?? e.path, e.name)))
    .sort();
}

const built = new Map(r.outputFiles.map((f) => [relative(outdir, f.path), f.text]));
if (check) {
  let stale = 0;
  const have = files(outdir);
  for (const name of new Set([...have, ...built.keys()])) {
    const text = built.get(name);
    if (text === undefined) {
      console.error(
        `action/dist/${name} is not made by the build any more: run npm run build:action`,
      );
      stale++;
    } else if (!have.includes(name) || readFileSync(join(outdir, name), 'utf8') !== text) {
      console.error(`action/dist/${name} is stale: run npm run build:action and commit it`);
      stale++;
    }
  }
  process.exitCode = stale > 0 ? 1 : 0;
} else {
  rmSync(outdir, { recursive: true, force: true });
  for (const [name, text] of built) {
    const path = join(outdir, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    console.error(`action/dist/${name}: ${Buffer.byteLength(text)} bytes`);
  }
}
