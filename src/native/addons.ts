/**
 * Where the native addons of binding.gyp (tun: native/tun.c; esp: native/esp.c with the data
 * plane) are found. Candidates, best first:
 *
 *   1. a prebuilt binary shipped in the package (`npm run build:prebuilds`, scripts/prebuild.mjs, with
 *      prebuildify): prebuilds/<platform>-<arch>/<name>.napi.<libc>.node. N-API, so one file serves
 *      every Node version; chosen with node-gyp-build's own matching of the platform/arch folder
 *      and of the tags (libc glibc/musl, armv, runtime, ABI), so a glibc binary is never offered on
 *      musl. node-gyp-build itself loads one addon per package: we add the name filter.
 *   2. a local build: build/Release/<name>.node (node-gyp at `npm install` when no prebuild
 *      matched, or `npm run build:addon`). In a git checkout it comes first (see
 *      addonCandidates).
 *
 * Callers load them in this order and go on to the next when one does not load (a prebuild for a
 * newer glibc, a stale build): src/tun/linux.ts (TUN mode cannot work without one) and
 * src/esp/native.ts (without one ESP runs on the JavaScript path).
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type AddonName = 'tun' | 'esp';

/** A file that may hold the addon, and where it comes from. */
export interface AddonCandidate {
  /** 'prebuild': shipped in prebuilds/; 'build': compiled here into build/Release/. */
  source: 'prebuild' | 'build';
  path: string;
}

/** What a loader reports: the file it loaded, or why none. */
export type AddonStatus =
  | { available: true; source: AddonCandidate['source']; path: string }
  | { available: false; reason: string };

/** The parts of node-gyp-build (a dependency) we use: its exported matching functions. */
interface Tuple {
  name: string;
}
interface Tags {
  file: string;
}
interface NodeGypBuild {
  parseTuple(name: string): Tuple | undefined;
  matchTuple(platform: string, arch: string): (t: Tuple | undefined) => boolean;
  compareTuples(a: Tuple, b: Tuple): number;
  parseTags(file: string): Tags | undefined;
  matchTags(runtime: string, abi: string): (t: Tags | undefined) => boolean;
  compareTags(runtime: string): (a: Tags, b: Tags) => number;
}

const req = createRequire(import.meta.url);
let ngb: NodeGypBuild | undefined;

function nodeGypBuild(): NodeGypBuild | undefined {
  if (ngb) return ngb;
  try {
    const m = req('node-gyp-build') as Partial<NodeGypBuild>;
    if (typeof m.parseTags === 'function' && typeof m.matchTuple === 'function') {
      ngb = m as NodeGypBuild;
    }
  } catch {
    // Not installed: only local builds are found.
  }
  return ngb;
}

/**
 * The package root: the first directory above this module (dist/src/native/ in a build or an
 * installed package) that holds package.json and binding.gyp.
 */
export function packageRoot(
  from: string = dirname(fileURLToPath(import.meta.url)),
): string | undefined {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'binding.gyp'))) return dir;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Where node-gyp-build looks: npm_config_arch / npm_config_platform override the host's. */
function target(): { platform: string; arch: string } {
  return {
    platform: process.env['npm_config_platform'] || process.platform,
    arch: process.env['npm_config_arch'] || process.arch,
  };
}

/**
 * The prebuilt binaries of `name` under `root`/prebuilds that fit this machine, best first, by
 * node-gyp-build's rules (single-arch folder before a multi-arch one; runtime- and ABI-specific
 * before N-API; more tags before fewer).
 */
export function prebuildCandidates(name: AddonName, root: string): string[] {
  const g = nodeGypBuild();
  if (!g) return [];
  const { platform, arch } = target();
  const tuples = list(join(root, 'prebuilds'))
    .map((d) => g.parseTuple(d))
    .filter(g.matchTuple(platform, arch))
    .filter((t): t is Tuple => t !== undefined)
    .sort((a, b) => g.compareTuples(a, b));
  const out: string[] = [];
  for (const t of tuples) {
    const dir = join(root, 'prebuilds', t.name);
    const tags = list(dir)
      // prebuildify names a file <name>.<tag>….node: the name is ours, the tags node-gyp-build's.
      .filter((f) => f.split('.')[0] === name)
      .map((f) => g.parseTags(f))
      .filter(g.matchTags('node', process.versions.modules))
      .filter((x): x is Tags => x !== undefined)
      .sort(g.compareTags('node'));
    for (const x of tags) out.push(join(dir, x.file));
  }
  return out;
}

/**
 * Every file that may hold addon `name`, best first (see the top of this file). In a git
 * checkout (root/.git exists; an installed package has none) the local build comes first: `npm
 * ci` there always builds it from the sources in front of you, and prebuilds/ may be older.
 */
export function addonCandidates(name: AddonName, root = packageRoot()): AddonCandidate[] {
  if (root === undefined) return [];
  const out: AddonCandidate[] = prebuildCandidates(name, root).map((path) => ({
    source: 'prebuild',
    path,
  }));
  const built = join(root, 'build', 'Release', `${name}.node`);
  if (existsSync(built)) {
    const local: AddonCandidate = { source: 'build', path: built };
    if (existsSync(join(root, '.git'))) out.unshift(local);
    else out.push(local);
  }
  return out;
}

/** Why no candidate exists, for an error message. */
export function noAddonReason(name: AddonName, root = packageRoot()): string {
  if (root === undefined) return 'package root (package.json, binding.gyp) not found';
  const { platform, arch } = target();
  return `no prebuilt ${name} addon for ${platform}-${arch} in ${join(root, 'prebuilds')} and ${join(root, 'build', 'Release', `${name}.node`)} is not built`;
}
