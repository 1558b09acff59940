/**
 * bin/vpn.js loads the esbuild bundle of the CLI (dist/bundle/cli/vpn.js, made by `npm run build`
 * with scripts/build-cli-bundle.mjs) when it is there and current, and the modules of dist/src
 * otherwise. Each case runs a copy of bin/vpn.js in a package laid out in a temporary folder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const BUNDLE_DIR = join(ROOT, 'dist/bundle');
const THROWER = "throw new Error('the stale bundle was loaded');\n";

/** A package in a temporary folder: bin/vpn.js, package.json, binding.gyp, node_modules. */
function layout(
  t: { after(fn: () => void): void },
  parts: { bundle?: boolean; modules?: boolean },
) {
  const dir = mkdtempSync(join(tmpdir(), 'vpn-bundle-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'bin'));
  mkdirSync(join(dir, 'dist'));
  cpSync(join(ROOT, 'bin/vpn.js'), join(dir, 'bin/vpn.js'));
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  cpSync(join(ROOT, 'binding.gyp'), join(dir, 'binding.gyp'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  if (existsSync(join(ROOT, 'build'))) symlinkSync(join(ROOT, 'build'), join(dir, 'build'));
  if (parts.bundle) cpSync(BUNDLE_DIR, join(dir, 'dist/bundle'), { recursive: true });
  if (parts.modules) symlinkSync(join(ROOT, 'dist/src'), join(dir, 'dist/src'));
  return dir;
}

function run(dir: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [join(dir, 'bin/vpn.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 20000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const skipNoBundle = existsSync(join(BUNDLE_DIR, 'cli/vpn.js'))
  ? false
  : 'no dist/bundle: run npm run build';

test(
  'npm run build makes the bundle, and the one in dist/bundle is current',
  { skip: skipNoBundle },
  () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
      files: string[];
    };
    assert.match(pkg.scripts['build']!, /node scripts\/build-cli-bundle\.mjs/);
    assert.ok(pkg.files.includes('dist/bundle/**/*.js'), 'the bundle is packed');
    // Built in memory and compared: a bundle older than the sources fails here.
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts/build-cli-bundle.mjs'), '--check'], {
      encoding: 'utf8',
      timeout: 60000,
    });
    assert.equal(r.status, 0, r.stderr);
  },
);

test(
  'the bundle alone runs the CLI and finds the native addons from its folder',
  { skip: skipNoBundle },
  (t) => {
    const dir = layout(t, { bundle: true });
    assert.equal(existsSync(join(dir, 'dist/src')), false);
    const v = run(dir, ['--version']);
    assert.equal(v.code, 0, v.err);
    assert.equal(v.out.trim(), '0.1.0');
    const d = run(dir, ['doctor', '--json']);
    const rep = JSON.parse(d.out) as {
      addons: Record<string, { available: boolean; path?: string }>;
    };
    for (const name of ['tun', 'esp']) {
      const a = rep.addons[name]!;
      if (!existsSync(join(ROOT, `build/Release/${name}.node`))) continue;
      assert.equal(a.available, true, JSON.stringify(a));
      assert.equal(a.path, join(dir, `build/Release/${name}.node`));
    }
  },
);

test('without a bundle bin/vpn.js falls back to dist/src', (t) => {
  const dir = layout(t, { modules: true });
  const v = run(dir, ['--version']);
  assert.equal(v.code, 0, v.err);
  assert.equal(v.out.trim(), '0.1.0');
});

test('a bundle older than dist/src is not loaded; VPN_NO_BUNDLE=1 skips a current one', (t) => {
  const dir = layout(t, { modules: true });
  const bundle = join(dir, 'dist/bundle/cli/vpn.js');
  mkdirSync(join(dir, 'dist/bundle/cli'), { recursive: true });
  writeFileSync(bundle, THROWER);
  const old = new Date(Date.now() - 86400_000 * 365 * 20);
  utimesSync(bundle, old, old);
  const stale = run(dir, ['--version']);
  assert.equal(stale.code, 0, stale.err);
  assert.equal(stale.out.trim(), '0.1.0');
  // Current: it would be loaded (and throw) unless told not to.
  const now = new Date(Date.now() + 60_000);
  utimesSync(bundle, now, now);
  const loaded = run(dir, ['--version']);
  assert.notEqual(loaded.code, 0);
  assert.match(loaded.err, /the stale bundle was loaded/);
  const forced = run(dir, ['--version'], { VPN_NO_BUNDLE: '1' });
  assert.equal(forced.code, 0, forced.err);
  assert.equal(forced.out.trim(), '0.1.0');
});

test(
  'the bundle that every start loads leaves out what only `vpn import` needs (plist, XML DOM)',
  { skip: skipNoBundle },
  () => {
    const main = readFileSync(join(BUNDLE_DIR, 'cli/vpn.js'), 'utf8');
    assert.doesNotMatch(main, /XMLDocumentCB|DOMImplementation/);
    // ...but it is in the bundle, as a chunk of its own loaded by `vpn import`.
    const chunks = readdirSync(join(BUNDLE_DIR, 'chunks')).map((f) =>
      readFileSync(join(BUNDLE_DIR, 'chunks', f), 'utf8'),
    );
    assert.ok(chunks.some((c) => /DOMImplementation/.test(c)));
  },
);
