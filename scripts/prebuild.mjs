#!/usr/bin/env node
// `npm run build:prebuilds`: prebuilt addons for the npm package, made with prebuildify (the npm
// ecosystem's convention, loaded at run time by src/native/addons.ts with node-gyp-build's
// matching). One N-API binary per addon serves every Node version (NAPI_VERSION in binding.gyp):
//   prebuilds/linux-x64/tun.napi.glibc.node, prebuilds/linux-x64/esp.napi.glibc.node
//   prebuilds/linux-arm64/… (the same, when Debian's gcc-aarch64-linux-gnu is installed)
// prebuildify builds one addon per package directory, and binding.gyp has two targets: each
// target is built in a staging directory under build/prebuild/ with a copy of native/ and a
// binding.gyp holding only that target, so binding.gyp stays the one description of the build.
//   npm run build:prebuilds [-- --arch x64|arm64 ...]   (default: this machine's, plus arm64 on
//                                                       x64 when the cross-compiler is there)
// (Not named "prebuild": npm would run that before every `npm run build`.)
// Uses the machine's Node headers when present (no download), as scripts/build-addon.mjs does.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { arch as hostArch } from 'node:os';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const prebuildify = require('prebuildify');

/** Cross toolchains from Debian's packages, by Node's arch name. */
const CROSS = {
  arm64: { prefix: 'aarch64-linux-gnu-', debian: 'gcc-aarch64-linux-gnu g++-aarch64-linux-gnu' },
};

function onPath(cmd) {
  return (process.env.PATH ?? '').split(':').some((d) => d !== '' && existsSync(join(d, cmd)));
}

const argv = process.argv.slice(2);
const archs = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--arch' && argv[i + 1]) archs.push(argv[++i]);
  else if (argv[i].startsWith('--arch=')) archs.push(argv[i].slice(7));
  else {
    console.error(`prebuild: unknown argument ${JSON.stringify(argv[i])}`);
    process.exit(2);
  }
}
// npm runs scripts with its own node-gyp on PATH (a wrapper that needs npm_config_node_gyp).
if (!process.env.npm_config_node_gyp && !onPath('node-gyp')) {
  console.error(
    'prebuild: node-gyp not found: run it as `npm run build:prebuilds [-- --arch ARCH]`',
  );
  process.exit(2);
}
const explicit = archs.length > 0;
if (!explicit) {
  archs.push(hostArch());
  if (process.platform === 'linux' && hostArch() === 'x64') {
    if (onPath(`${CROSS.arm64.prefix}gcc`)) archs.push('arm64');
    else console.warn(`prebuild: linux-arm64 skipped (install ${CROSS.arm64.debian})`);
  }
}

const nodedir =
  process.env.npm_config_nodedir ||
  (existsSync('/usr/include/node/node_api.h')
    ? '/usr'
    : existsSync('/usr/local/include/node/node_api.h')
      ? '/usr/local'
      : '');

const gyp = JSON.parse(readFileSync(join(root, 'binding.gyp'), 'utf8'));
const stageRoot = join(root, 'build', 'prebuild');

function run(opts) {
  return new Promise((resolve, reject) =>
    prebuildify(opts, (err) => (err ? reject(err) : resolve())),
  );
}

/** ELF e_machine by Node's arch name (x86-64: EM_X86_64, arm64: EM_AARCH64). */
const ELF_MACHINE = { x64: 62, arm64: 183 };

/** The e_machine of an ELF file (little-endian), or undefined. */
function elfMachine(path) {
  const b = readFileSync(path).subarray(0, 20);
  if (b.length < 20 || b.readUInt32BE(0) !== 0x7f454c46) return undefined;
  return b.readUInt16LE(18);
}

let failed = false;
for (const arch of archs) {
  const cross = arch !== hostArch() ? CROSS[arch] : undefined;
  if (arch !== hostArch() && !cross) {
    console.error(`prebuild: no cross toolchain known for ${arch}`);
    failed = true;
    continue;
  }
  if (cross && !onPath(`${cross.prefix}gcc`)) {
    console.error(`prebuild: ${cross.prefix}gcc not found (install ${cross.debian})`);
    failed = true;
    continue;
  }
  // prebuildify hands node-gyp a copy of process.env (it has no option for it).
  const saved = { ...process.env };
  if (nodedir) process.env.npm_config_nodedir = nodedir;
  if (cross) {
    // node-gyp's Makefile compiles with CC and links with LINK (default: CXX); C only here.
    Object.assign(process.env, {
      CC: `${cross.prefix}gcc`,
      CXX: `${cross.prefix}g++`,
      LINK: `${cross.prefix}gcc`,
      AR: `${cross.prefix}ar`,
    });
  }
  const out = join(root, 'prebuilds', `${process.platform}-${arch}`);
  rmSync(out, { recursive: true, force: true });
  for (const target of gyp.targets) {
    const name = target.target_name;
    const stage = join(stageRoot, `${name}-${arch}`);
    rmSync(stage, { recursive: true, force: true });
    mkdirSync(stage, { recursive: true });
    cpSync(join(root, 'native'), join(stage, 'native'), {
      recursive: true,
      filter: (src) => !src.includes(`${join(root, 'native', 'test')}`),
    });
    writeFileSync(join(stage, 'binding.gyp'), JSON.stringify({ ...gyp, targets: [target] }));
    const t0 = Date.now();
    try {
      await run({
        cwd: stage,
        out: root,
        // <name>.napi.glibc.node: node-gyp-build reads the tags after the name.
        name: `${name}.napi`,
        napi: true,
        // A N-API build: the version only names the headers to build against (ours).
        targets: [process.versions.node],
        arch,
        tagLibc: true,
        strip: true,
        stripBin: cross ? `${cross.prefix}strip` : 'strip',
        quiet: !saved.PREBUILD_VERBOSE,
      });
    } catch (e) {
      console.error(`prebuild: ${name} for ${process.platform}-${arch} failed: ${e.message}`);
      console.error(
        'prebuild: PREBUILD_VERBOSE=1 npm run build:prebuilds shows the compiler output',
      );
      failed = true;
      continue;
    } finally {
      rmSync(stage, { recursive: true, force: true });
    }
    const file = readdirSync(out).find((f) => f.startsWith(`${name}.`));
    // A cross build that silently used the host's compiler would ship the wrong machine code.
    const machine = file ? elfMachine(join(out, file)) : undefined;
    if (machine !== ELF_MACHINE[arch]) {
      console.error(`prebuild: ${file ?? name} is not a ${arch} ELF file (e_machine ${machine})`);
      failed = true;
      continue;
    }
    const what = spawnSync('file', ['-b', join(out, file)], { encoding: 'utf8' });
    console.log(
      `prebuild: prebuilds/${process.platform}-${arch}/${file} in ${((Date.now() - t0) / 1000).toFixed(1)} s` +
        (what.status === 0 ? `: ${what.stdout.trim().split(',').slice(0, 2).join(',')}` : ''),
    );
  }
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
}
rmSync(stageRoot, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
