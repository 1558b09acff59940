/**
 * bin/vpn.js runs the CommonJS bundle of the CLI (dist/bundle/cli/vpn.cjs) with a V8 code cache
 * kept next to it (vpn.cjs.cache; issue 15 item 3, connect time). The cache is written by the
 * folder's owner after a run and used only when every check passes: from the bundle's own folder,
 * owned by root or the user and writable by no one else, a regular file (never a link) of those
 * owners, with a header naming the SHA-256 of this very bundle; V8's own verdict
 * (cachedDataRejected) decides the rest, and a refused cache is replaced. Each case runs a copy of
 * the package in a temporary folder; VPN_CODE_CACHE_DEBUG=1 makes bin/vpn.js say what it did.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const CJS = join(ROOT, 'dist/bundle/cli/vpn.cjs');
const skip = existsSync(CJS) ? false : 'no dist/bundle/cli/vpn.cjs: run npm run build';

/** A package in a temporary folder with the bundles and no code cache yet. */
function layout(t: { after(fn: () => void): void }): { dir: string; cache: string } {
  const dir = mkdtempSync(join(tmpdir(), 'vpn-cc-'));
  chmodSync(dir, 0o755);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'bin'));
  mkdirSync(join(dir, 'dist'));
  cpSync(join(ROOT, 'bin/vpn.js'), join(dir, 'bin/vpn.js'));
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  cpSync(join(ROOT, 'binding.gyp'), join(dir, 'binding.gyp'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  cpSync(join(ROOT, 'dist/bundle'), join(dir, 'dist/bundle'), {
    recursive: true,
    filter: (src) => !src.endsWith('.cache'),
  });
  chmodSync(join(dir, 'dist/bundle/cli'), 0o755);
  return { dir, cache: join(dir, 'dist/bundle/cli/vpn.cjs.cache') };
}

/** `vpn --version` in the copy: what bin/vpn.js said about the cache. */
function run(dir: string, env: Record<string, string> = {}): string {
  const r = spawnSync(process.execPath, [join(dir, 'bin/vpn.js'), '--version'], {
    encoding: 'utf8',
    // No NODE_OPTIONS: the cache's file name depends on the Node options.
    env: { ...process.env, NODE_OPTIONS: '', VPN_CODE_CACHE_DEBUG: '1', ...env },
    timeout: 20000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), '0.1.0');
  return /code cache: (.*)/.exec(r.stderr)?.[1] ?? 'not used';
}

test('the first run writes a code cache for this bundle, the next one uses it', { skip }, (t) => {
  const { dir, cache } = layout(t);
  assert.equal(run(dir), 'none');
  assert.ok(existsSync(cache));
  const text = readFileSync(cache).subarray(0, 200).toString('latin1');
  assert.match(text, /^ikev2-vpn code cache 1 [0-9a-f]{64} v\d+\.\d+\.\d+ \w+\nB/);
  assert.equal(statSync(cache).mode & 0o777, 0o644);
  assert.equal(run(dir), 'accepted');
  // VPN_NO_CODE_CACHE=1: the ES module bundle, no cache involved.
  assert.equal(run(dir, { VPN_NO_CODE_CACHE: '1' }), 'not used');
  // Other Node options (V8 would refuse this cache): a cache file of their own.
  assert.equal(run(dir, { NODE_OPTIONS: '--max-semi-space-size=2' }), 'none');
  assert.equal(run(dir, { NODE_OPTIONS: '--max-semi-space-size=2' }), 'accepted');
  assert.equal(run(dir), 'accepted');
});

test('a cache of another bundle (stale) is not given to V8, and is replaced', { skip }, (t) => {
  const { dir, cache } = layout(t);
  run(dir);
  const old = readFileSync(cache);
  appendFileSync(join(dir, 'dist/bundle/cli/vpn.cjs'), '// rebuilt\n');
  assert.equal(run(dir), 'stale');
  assert.notDeepEqual(readFileSync(cache), old);
  assert.equal(run(dir), 'accepted');
});

test('a cache V8 refuses (right header, foreign data) is replaced', { skip }, (t) => {
  const { dir, cache } = layout(t);
  run(dir);
  const data = readFileSync(cache);
  const head = data.indexOf(0x0a) + 2; // header line and tag byte
  for (let i = head; i < data.length; i += 7) data[i] = data[i]! ^ 0x5a;
  writeFileSync(cache, data);
  assert.equal(run(dir), 'rejected');
  assert.equal(run(dir), 'accepted');
});

test(
  'a cache others could have written is never loaded: group- or world-writable, a link, a foreign owner, an open folder',
  { skip },
  (t) => {
    const { dir, cache } = layout(t);
    run(dir);
    chmodSync(cache, 0o666);
    assert.equal(run(dir), 'untrusted file');
    // (replaced by a file of ours with mode 0644)
    assert.equal(statSync(cache).mode & 0o777, 0o644);
    assert.equal(run(dir), 'accepted');
    renameSync(cache, join(dir, 'elsewhere.cache'));
    symlinkSync(join(dir, 'elsewhere.cache'), cache);
    assert.match(run(dir), /^unreadable \(ELOOP\)$/);
    if (process.getuid?.() === 0) {
      rmSync(cache, { force: true });
      run(dir);
      chownSync(cache, 65534, 65534);
      assert.equal(run(dir), 'untrusted file');
    }
    chmodSync(join(dir, 'dist/bundle/cli'), 0o777);
    const before = readFileSync(cache);
    assert.equal(run(dir), 'untrusted folder');
    // ...and nothing is written into a folder others can write.
    assert.deepEqual(readFileSync(cache), before);
  },
);
