#!/usr/bin/env node
// Bundles the `vpn` command (src/cli/entry.ts and every module and dependency it loads) with
// esbuild into dist/bundle/cli/vpn.js, which bin/vpn.js loads in preference to the ~190 separate
// modules of dist/src (faster start-up: see docs/performance.md, "Connect time"). `npm run build`
// runs it after tsc. The bundle lives three folders below the package root, like
// dist/src/cli/main.js, so paths relative to a module (bin/vpn.js for the --background child,
// systemd/, the addons' package root) resolve unchanged; the user-namespace helper, which runs
// as its own process, is a second entry next to it. The native addons stay out of the bundle
// (loaded at run time from prebuilds/ or build/Release). Modules that a command loads with
// import() stay separate chunks, loaded only by that command.
// `--check` builds in memory and exits 1 when dist/bundle differs (a stale bundle).
import { build } from 'esbuild';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const check = process.argv.includes('--check');
const outdir = join(root, 'dist', 'bundle');

const r = await build({
  absWorkingDir: root,
  entryPoints: {
    'cli/vpn': 'src/cli/entry.ts',
    'cli/userns-helper': 'src/client/userns-helper.ts',
  },
  bundle: true,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  write: false,
  outdir,
  external: ['*.node'],
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
    if (
      text === undefined ||
      !have.includes(name) ||
      readFileSync(join(outdir, name), 'utf8') !== text
    ) {
      console.error(`dist/bundle/${name} is stale or missing: run npm run build`);
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
  }
  console.error(
    `dist/bundle: ${built.size} files, ${[...built.values()].reduce((n, t) => n + Buffer.byteLength(t), 0)} bytes`,
  );
}
