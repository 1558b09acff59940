#!/usr/bin/env node
// The addons of binding.gyp: tun (native/tun.c) and the optional ESP fast path esp (native/esp.c,
// with the threaded data plane native/dataplane.c).
//
// At `npm install` (package.json "install"): when the package ships a prebuilt binary of every
// addon for this machine that loads (prebuilds/<platform>-<arch>/, made by `npm run
// build:prebuilds`), nothing to do. Otherwise build them with the node-gyp that npm bundles, its output in
// build-addon.log; a failed build (no compiler) does NOT fail the install: one line says what
// follows (ESP on the JavaScript path; TUN mode needs the addon) and we exit 0.
//
// `npm run build:addon` always builds, with the compiler's output on the terminal (a checkout,
// scripts/sanitize.sh). Uses the machine's Node headers when present (no download).
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
process.chdir(root);
const require = createRequire(import.meta.url);
const atInstall = process.env.npm_lifecycle_event === 'install';
const names = JSON.parse(readFileSync('binding.gyp', 'utf8')).targets.map((t) => t.target_name);
const platformArch = `${process.platform}-${process.arch}`;

/**
 * The prebuilt binaries of `name` for this machine, best first: node-gyp-build's matching of
 * the folder and tags (the same as src/native/addons.ts), filtered by our addon name.
 */
function prebuilds(name) {
  let g;
  try {
    g = require('node-gyp-build');
  } catch {
    return [];
  }
  const ls = (d) => {
    try {
      return readdirSync(d);
    } catch {
      return [];
    }
  };
  const platform = process.env.npm_config_platform || process.platform;
  const arch = process.env.npm_config_arch || process.arch;
  const out = [];
  const tuples = ls('prebuilds')
    .map(g.parseTuple)
    .filter(g.matchTuple(platform, arch))
    .sort(g.compareTuples);
  for (const t of tuples) {
    const dir = join('prebuilds', t.name);
    ls(dir)
      .filter((f) => f.split('.')[0] === name)
      .map(g.parseTags)
      .filter(g.matchTags('node', process.versions.modules))
      .sort(g.compareTags('node'))
      .forEach((x) => out.push(join(root, dir, x.file)));
  }
  return out;
}

function loads(path) {
  try {
    require(path);
    return true;
  } catch {
    return false;
  }
}

// node-gyp-build's convention: --build-from-source (npm_config_build_from_source) skips prebuilds.
// A git checkout (`npm ci` there) always builds: its tests load build/Release/ directly.
const fromSource =
  process.env.npm_config_build_from_source === 'true' || existsSync(join(root, '.git'));
if (atInstall && !fromSource && names.every((n) => prebuilds(n).some(loads))) process.exit(0);

const args = ['rebuild'];
const nodedir =
  process.env.npm_config_nodedir ||
  (existsSync('/usr/include/node/node_api.h')
    ? '/usr'
    : existsSync('/usr/local/include/node/node_api.h')
      ? '/usr/local'
      : '');
if (nodedir) args.push(`--nodedir=${nodedir}`);

// At install the compiler's output goes to a log (npm hides a script's output anyway); the log
// lives outside build/, which `node-gyp rebuild` deletes first.
const logPath = join(root, 'build-addon.log');
const log = atInstall ? openSync(logPath, 'w', 0o644) : undefined;
const stdio = log === undefined ? 'inherit' : ['ignore', log, log];
const gyp = (a) => {
  const r = spawnSync('node-gyp', a, { stdio, shell: false });
  if (r.error) {
    const msg = `node-gyp ${a.join(' ')}: ${r.error.message}\n`;
    if (log === undefined) process.stderr.write(msg);
    else writeSync(log, msg);
  }
  return r.status === 0;
};

const ok = gyp(args);
// make stops at the first failing target: if that was esp, build tun alone (it must not depend
// on the optional one).
const tunBuilt =
  ok ||
  existsSync('build/Release/tun.node') ||
  (existsSync('build/Makefile') && gyp(['build', 'tun']));
if (log !== undefined) closeSync(log);
if (ok && log !== undefined) rmSync(logPath, { force: true });

const log_ = atInstall ? `; log: ${logPath}` : '';
if (!ok && tunBuilt) {
  console.warn(
    `ikev2-vpn: no prebuilt ESP addon for ${platformArch} and building it failed (${log_.slice(2) || 'see above'}): ESP uses the JavaScript path.`,
  );
} else if (!ok && atInstall) {
  console.warn(
    `ikev2-vpn: no prebuilt addon for ${platformArch} and building it failed (no C compiler?${log_}): ESP will use the JavaScript path; TUN mode (vpn connect, vpn exec) needs the addon: install make, gcc and python3, then run \`npm rebuild -g ikev2-vpn\`.`,
  );
} else if (!ok) {
  console.warn(
    'ikev2-vpn: building the TUN addon failed; `vpn connect` will not be able to open a TUN device.',
  );
  console.warn(
    'ikev2-vpn: install make, g++ and python3, then run `npm rebuild ikev2-vpn` (or `npm run build:addon`).',
  );
}
