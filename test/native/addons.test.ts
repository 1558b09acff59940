/**
 * Where the addons are found (src/native/addons.ts): the package's prebuilt binaries first,
 * chosen by node-gyp-build's matching plus our addon name, then the local build; a candidate that
 * does not load gives way to the next (src/esp/native.ts). Runs in a temporary package root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { addonCandidates, noAddonReason, packageRoot } from '../../src/native/addons.js';
import { nativeEspStatus } from '../../src/esp/native.js';

const HOST = `${process.platform}-${process.arch}`;
const OTHER = `${process.platform}-${process.arch === 'arm64' ? 'x64' : 'arm64'}`;
/** node-gyp-build decides glibc/musl the same way. */
const LIBC = existsSync('/etc/alpine-release') ? 'musl' : 'glibc';
const NOT_LIBC = LIBC === 'glibc' ? 'musl' : 'glibc';

/** A package root with the given files (relative path → content). */
function fakePackage(files: Record<string, string | Buffer>): string {
  const root = mkdtempSync(join(tmpdir(), 'vpn-addons-'));
  writeFileSync(join(root, 'package.json'), '{"name":"ikev2-vpn"}');
  writeFileSync(join(root, 'binding.gyp'), '{"targets":[]}');
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), content);
  }
  return root;
}

/** A real esp addon to copy: the local build or the prebuild of this checkout. */
function realEspAddon(): string | undefined {
  const root = packageRoot();
  if (!root) return undefined;
  const built = join(root, 'build/Release/esp.node');
  if (existsSync(built)) return built;
  return addonCandidates('esp', root)[0]?.path;
}

test('prebuilds of this platform come first, by name and libc, then build/Release', () => {
  const root = fakePackage({
    [`prebuilds/${HOST}/tun.napi.${LIBC}.node`]: 'x',
    [`prebuilds/${HOST}/esp.napi.${LIBC}.node`]: 'x',
    [`prebuilds/${HOST}/esp.napi.${NOT_LIBC}.node`]: 'x',
    [`prebuilds/${OTHER}/esp.napi.${LIBC}.node`]: 'x',
    [`prebuilds/${HOST}/README`]: 'not an addon',
    'build/Release/esp.node': 'x',
  });
  try {
    assert.deepEqual(addonCandidates('esp', root), [
      { source: 'prebuild', path: join(root, `prebuilds/${HOST}/esp.napi.${LIBC}.node`) },
      { source: 'build', path: join(root, 'build/Release/esp.node') },
    ]);
    // tun: its own prebuild only (never esp's file), and no local build of it.
    assert.deepEqual(addonCandidates('tun', root), [
      { source: 'prebuild', path: join(root, `prebuilds/${HOST}/tun.napi.${LIBC}.node`) },
    ]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('no prebuild for this platform: the local build; neither: none, and the reason names both', () => {
  const root = fakePackage({
    [`prebuilds/${OTHER}/tun.napi.${LIBC}.node`]: 'x',
    'build/Release/tun.node': 'x',
  });
  try {
    assert.deepEqual(addonCandidates('tun', root), [
      { source: 'build', path: join(root, 'build/Release/tun.node') },
    ]);
    assert.deepEqual(addonCandidates('esp', root), []);
    const why = noAddonReason('esp', root);
    assert.ok(why.includes(HOST) && why.includes(join(root, 'prebuilds')), why);
    assert.ok(why.includes(join(root, 'build/Release/esp.node')), why);
    const st = nativeEspStatus({ root });
    assert.equal(st.available, false);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the prebuilt esp addon is loaded before a local build', (t) => {
  const real = realEspAddon();
  if (!real) return t.skip('esp addon not built (npm run build:addon)');
  const root = fakePackage({});
  try {
    const pre = join(root, `prebuilds/${HOST}/esp.napi.${LIBC}.node`);
    mkdirSync(dirname(pre), { recursive: true });
    copyFileSync(real, pre);
    mkdirSync(join(root, 'build/Release'), { recursive: true });
    copyFileSync(real, join(root, 'build/Release/esp.node'));
    const st = nativeEspStatus({ root });
    assert.ok(st.available, JSON.stringify(st));
    assert.equal(st.source, 'prebuild');
    assert.equal(st.path, pre);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a prebuild that does not load gives way to the local build', (t) => {
  const real = realEspAddon();
  if (!real) return t.skip('esp addon not built (npm run build:addon)');
  const root = fakePackage({
    // Not an ELF file: dlopen refuses it, as it would a binary for a newer glibc.
    [`prebuilds/${HOST}/esp.napi.${LIBC}.node`]: Buffer.from('not a shared object'),
  });
  try {
    mkdirSync(join(root, 'build/Release'), { recursive: true });
    copyFileSync(real, join(root, 'build/Release/esp.node'));
    const st = nativeEspStatus({ root });
    assert.ok(st.available, JSON.stringify(st));
    assert.equal(st.source, 'build');
    assert.equal(st.path, join(root, 'build/Release/esp.node'));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('in a git checkout the local build comes before the prebuilds (which may be older)', () => {
  const root = fakePackage({
    '.git': 'gitdir: /elsewhere\n',
    [`prebuilds/${HOST}/tun.napi.${LIBC}.node`]: 'x',
    'build/Release/tun.node': 'x',
  });
  try {
    assert.deepEqual(addonCandidates('tun', root), [
      { source: 'build', path: join(root, 'build/Release/tun.node') },
      { source: 'prebuild', path: join(root, `prebuilds/${HOST}/tun.napi.${LIBC}.node`) },
    ]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
