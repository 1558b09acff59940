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
// A third output, dist/bundle/cli/vpn.cjs, is the same CLI as one CommonJS file (nothing split
// off): bin/vpn.js compiles it with vm.Script so that V8 can keep a code cache of it next to it
// (vpn.cjs.cache, written after a run by bin/vpn.js; this script makes the first one by running
// `vpn --version`). Node 20 has no module.enableCompileCache, and ES modules take no cachedData.
// `--check` builds in memory and exits 1 when dist/bundle differs (a stale bundle); the code
// cache, a product of the machine's Node, is not compared.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
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

// The CommonJS build for the code cache: the file IS the CommonJS wrapper function that
// bin/vpn.js compiles (no copy of the source to wrap it); import.meta.url becomes the file's own
// URL; import() of bundled modules is inlined, except the .mobileconfig parser (plist, XML DOM:
// 0.6 MB), which only `vpn import` needs and which bin/vpn.js runs from the ES module bundle.
// ASCII only (other characters escaped, comments dropped): V8 keeps the source as one byte per
// character, not two.
const mobileconfigStub = {
  name: 'mobileconfig-stub',
  setup(b) {
    b.onResolve({ filter: /import-mobileconfig\.js$/ }, () => ({
      path: 'import-mobileconfig',
      namespace: 'stub',
    }));
    b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({
      contents:
        "const no = () => { throw new Error('internal: vpn import runs from the ES module bundle'); };\n" +
        'export const fromMobileconfig = no;\nexport const parseMobileconfigXml = no;\n',
      loader: 'js',
    }));
  },
};
const cjs = await build({
  absWorkingDir: root,
  entryPoints: { 'cli/vpn': 'src/cli/entry.ts' },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  write: false,
  outdir,
  outExtension: { '.js': '.cjs' },
  external: ['*.node'],
  preserveSymlinks: true,
  legalComments: 'eof',
  charset: 'ascii',
  // No comments (some hold non-ASCII characters) and less to read; names are kept.
  minifyWhitespace: true,
  logLevel: 'warning',
  plugins: [mobileconfigStub],
  define: { 'import.meta.url': '__ikev2ImportMetaUrl' },
  banner: {
    js: "(function (exports, require, module, __filename, __dirname) {const __ikev2ImportMetaUrl = require('node:url').pathToFileURL(__filename).href;",
  },
  footer: { js: '})' },
});

/** Every file under `dir`, relative to it. */
function files(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath ?? e.path, e.name)))
    .filter((name) => !name.endsWith('.cache'))
    .sort();
}

const built = new Map(
  [...r.outputFiles, ...cjs.outputFiles].map((f) => [relative(outdir, f.path), f.text]),
);
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
  // The first code cache (bin/vpn.js writes it after the command when none is there).
  const v = spawnSync(process.execPath, [join(root, 'bin/vpn.js'), '--version'], {
    encoding: 'utf8',
    env: { ...process.env, VPN_NO_BUNDLE: '' },
  });
  if (v.status !== 0) console.error(`bin/vpn.js --version failed: ${v.stderr}`);
  console.error(
    `dist/bundle: ${built.size} files, ${[...built.values()].reduce((n, t) => n + Buffer.byteLength(t), 0)} bytes`,
  );
}
