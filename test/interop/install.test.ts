/**
 * Issue 13, "It must show" 5: `npm pack`, then `npm install -g` of the tarball on a machine
 * without a C compiler (PATH holds only node and sh: no cc, gcc, g++, make, clang, python3)
 * installs a working `vpn` on this platform from the prebuilt addons (prebuilds/, made by `npm
 * run build:prebuilds`): `vpn --version`, `vpn doctor` naming the prebuilt files it loaded, and a
 * real `vpn connect` through the strongSwan test bed (root). Without a prebuild the install still
 * succeeds with one line, ESP falls back to JavaScript and TUN mode is a clear error.
 *
 * Offline against the local npm cache (~/.npm after `npm ci`); when the registry's package
 * documents are not cached there, npm may fetch them once (--prefer-offline), or the test skips.
 * The install and pack tests need no root; the connect test needs the test bed.
 */
import { after, before, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Bed, GW, LAN_HOST, ROOT, skipReason, tcpTransfer, waitExit } from './support.js';

const HOST = `${process.platform}-${process.arch}`;
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
};

/** A command on the PATH of this test (not the stripped one), resolved. */
function which(cmd: string): string | undefined {
  for (const d of (process.env['PATH'] ?? '').split(delimiter)) {
    const p = join(d, cmd);
    if (d !== '' && existsSync(p)) return realpathSync(p);
  }
  return undefined;
}

const NPM_CLI = which('npm');
const TAR = which('tar');

let work = '';
let tarball = '';
let packFiles: string[] = [];
let why: string | undefined;
/** Env for npm and vpn: PATH of node and sh only, no compiler variables, no npm_* of a parent. */
let bareEnv: NodeJS.ProcessEnv = {};
let npmFlags: string[] = [];
const installs = new Map<string, { code: number | null; out: string; root: string }>();

/** The host's prebuilds are missing or older than a native source: rebuild them. */
function prebuildsStale(): boolean {
  const dir = join(ROOT, 'prebuilds', HOST);
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.node')) : [];
  if (!['tun', 'esp'].every((n) => files.some((f) => f.startsWith(`${n}.`)))) return true;
  const oldest = Math.min(...files.map((f) => statSync(join(dir, f)).mtimeMs));
  const sources = readdirSync(join(ROOT, 'native'))
    .filter((f) => /\.[ch]$/.test(f))
    .map((f) => join(ROOT, 'native', f));
  return [...sources, join(ROOT, 'binding.gyp')].some((f) => statSync(f).mtimeMs > oldest);
}

function setup(): string | undefined {
  if (process.platform !== 'linux' || !['x64', 'arm64'].includes(process.arch))
    return `prebuilds are made for linux-x64 and linux-arm64, not ${HOST}`;
  if (!NPM_CLI) return 'npm not found on PATH';
  if (!TAR) return 'tar not installed';
  if (!existsSync(join(ROOT, 'dist/src/cli/main.js'))) return 'dist/ not built (npm run build)';
  if (prebuildsStale()) {
    // What .ci/run does before the tests; here only for this platform (the tarball ships the
    // others when they were built).
    const r = spawnSync('npm', ['run', 'build:prebuilds', '--', '--arch', process.arch], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 240000,
    });
    if (r.status !== 0)
      return `npm run build:prebuilds failed (no compiler here?): ${r.stdout}${r.stderr}`;
  }
  work = mkdtempSync(join(tmpdir(), 'vpn-install-'));
  chmodSync(work, 0o755);
  const pack = spawnSync(
    NPM_CLI,
    ['pack', '--ignore-scripts', '--json', '--pack-destination', work],
    { cwd: ROOT, encoding: 'utf8', timeout: 60000 },
  );
  if (pack.status !== 0) throw new Error(`npm pack failed: ${pack.stderr}`);
  const info = (JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[])[0]!;
  tarball = join(work, info.filename);
  packFiles = info.files.map((f) => f.path);

  // A PATH with node and sh only: no compiler, no make, no python.
  const bin = join(work, 'bin');
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  symlinkSync(which('sh') ?? '/bin/sh', join(bin, 'sh'));
  bareEnv = { HOME: process.env['HOME'] ?? work, PATH: bin, LANG: 'C.UTF-8' };
  // TLS settings of the machine (a proxy's CA) reach npm as they would a user's shell.
  for (const k of ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'HTTPS_PROXY', 'https_proxy'])
    if (process.env[k]) bareEnv[k] = process.env[k];
  // --prefix moves npm's global config (registry, cafile) with it: keep the machine's.
  const gc = spawnSync(NPM_CLI, ['config', 'get', 'globalconfig'], { encoding: 'utf8' });
  const globalconfig = gc.stdout.trim();
  npmFlags = [
    '--no-audit',
    '--no-fund',
    '--foreground-scripts',
    // npm ≥ 11 runs no install script of a global package unless allowed: allow ours, so the
    // test sees what it does (nothing, with a prebuild) where it does run.
    '--dangerously-allow-all-scripts',
    ...(globalconfig && existsSync(globalconfig) ? [`--globalconfig=${globalconfig}`] : []),
  ];
  return undefined;
}

/** `npm install -g --prefix <work>/<name> <tgz>` under the bare PATH; the package's folder. */
function install(name: string, tgz: string): { code: number | null; out: string; root: string } {
  const prefix = join(work, name);
  const run = (mode: string[]) =>
    spawnSync(
      process.execPath,
      [NPM_CLI!, 'install', '-g', '--prefix', prefix, tgz, ...mode, ...npmFlags],
      { env: bareEnv, encoding: 'utf8', timeout: 120000, killSignal: 'SIGKILL' },
    );
  let r = run(['--offline']);
  if (r.status !== 0 && /ENOTCACHED/.test(r.stdout + r.stderr))
    r = run(['--prefer-offline', '--fetch-timeout=30000', '--fetch-retries=1']);
  const res = {
    code: r.status,
    out: r.stdout + r.stderr,
    root: join(prefix, 'lib/node_modules', PKG.name),
  };
  installs.set(name, res);
  return res;
}

/** Skips when npm could not get the dependencies (no cache, no registry): not our failure. */
function skipIfOffline(t: TestContext, r: { code: number | null; out: string }): boolean {
  if (r.code !== 0 && /ENOTCACHED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNREFUSED/.test(r.out)) {
    t.skip(`dependencies neither in the npm cache nor reachable: ${r.out.split('\n')[0]}`);
    return true;
  }
  return false;
}

function vpn(prefix: string, args: string[], env: NodeJS.ProcessEnv = bareEnv) {
  const r = spawnSync(join(work, prefix, 'bin/vpn'), args, {
    env,
    encoding: 'utf8',
    timeout: 30000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

before(() => {
  why = setup();
  if (why) console.log(`# install tests skipped: ${why}`);
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test('npm pack ships dist, bin, the prebuilt addons and the native sources, no tests', (t) => {
  if (why) return t.skip(why);
  for (const f of [
    'package.json',
    'README.md',
    'bin/vpn.js',
    'dist/src/cli/main.js',
    'dist/src/native/addons.js',
    `prebuilds/${HOST}/tun.napi.glibc.node`,
    `prebuilds/${HOST}/esp.napi.glibc.node`,
    'native/tun.c',
    'native/esp.c',
    'binding.gyp',
    'scripts/build-addon.mjs',
  ])
    assert.ok(packFiles.includes(f), `${f} not in the tarball`);
  const unwanted = packFiles.filter((f) =>
    /^(test\/|dist\/test\/|native\/test\/|build\/|node_modules\/)|\.ts$|\.map$/.test(f),
  );
  assert.deepEqual(unwanted, []);
});

test('npm install -g of the tarball without a compiler: vpn runs on the prebuilt addons', (t) => {
  if (why) return t.skip(why);
  // The bare PATH really has no toolchain.
  const tools = spawnSync('sh', ['-c', 'command -v cc gcc g++ c++ make clang python3 python'], {
    env: bareEnv,
    encoding: 'utf8',
  });
  assert.equal(tools.stdout.trim(), '', 'a compiler is on the bare PATH');

  const r = install('with', tarball);
  if (skipIfOffline(t, r)) return;
  assert.equal(r.code, 0, r.out);
  // The install script ran (npm printed its banner) and had nothing to do: no line of ours, no
  // build, no log.
  if (r.out.includes(`${PKG.name}@${PKG.version} install`))
    assert.doesNotMatch(r.out, /^ikev2-vpn:/m, r.out);
  assert.ok(!existsSync(join(r.root, 'build')), 'the install compiled something');
  assert.ok(!existsSync(join(r.root, 'build-addon.log')));

  const v = vpn('with', ['--version']);
  assert.equal(v.code, 0, v.err);
  assert.equal(v.out.trim(), PKG.version);

  const d = vpn('with', ['doctor', '--json']);
  assert.equal(d.code, 0, d.out + d.err);
  const rep = JSON.parse(d.out) as {
    addons: Record<string, { available: boolean; source?: string; path?: string }>;
    espPath: string;
    tunMode: boolean;
  };
  const root = realpathSync(r.root);
  for (const name of ['tun', 'esp']) {
    const a = rep.addons[name]!;
    t.diagnostic(`${name} addon loaded from ${a.path ?? '(none)'}`);
    assert.equal(a.source, 'prebuild', JSON.stringify(a));
    assert.equal(a.path, join(root, `prebuilds/${HOST}/${name}.napi.glibc.node`));
  }
  assert.equal(rep.espPath, 'threaded');
  assert.equal(rep.tunMode, true);
});

test('without a prebuild and without a compiler: the install succeeds with one line; ESP on JavaScript, no TUN mode', (t) => {
  if (why) return t.skip(why);
  // The same tarball less prebuilds/.
  const dir = join(work, 'repack');
  mkdirSync(dir);
  const x = spawnSync(TAR!, ['-xzf', tarball, '-C', dir]);
  assert.equal(x.status, 0);
  rmSync(join(dir, 'package/prebuilds'), { recursive: true, force: true });
  const bare = join(work, 'no-prebuilds.tgz');
  assert.equal(spawnSync(TAR!, ['-czf', bare, '-C', dir, 'package']).status, 0);

  const r = install('without', bare);
  if (skipIfOffline(t, r)) return;
  assert.equal(r.code, 0, r.out);
  if (r.out.includes(`${PKG.name}@${PKG.version} install`)) {
    const ours = r.out.split('\n').filter((l) => l.startsWith('ikev2-vpn:'));
    assert.equal(ours.length, 1, r.out);
    assert.match(ours[0]!, /JavaScript path/);
    assert.match(ours[0]!, /TUN mode/);
  }
  const d = vpn('without', ['doctor', '--json']);
  assert.equal(d.code, 8, d.out + d.err);
  const rep = JSON.parse(d.out) as {
    addons: Record<string, { available: boolean; reason?: string }>;
    espPath: string;
    tunMode: boolean;
  };
  assert.equal(rep.addons['tun']!.available, false);
  assert.match(rep.addons['tun']!.reason ?? '', /TUN addon is missing/);
  assert.equal(rep.espPath, 'js');
  assert.equal(rep.tunMode, false);
});

/** `vpn connect --json` of an installed copy in the bed's client namespace, until 'up' or exit. */
function connect(
  bed: Bed,
  vpnBin: string,
): Promise<{
  proc: ChildProcess;
  up?: Record<string, unknown>;
  code?: number | null;
  out: string;
}> {
  const proc = bed.track(
    spawn(
      'ip',
      [
        ...['netns', 'exec', bed.cli, vpnBin, 'connect', GW, '--json', '--verbose'],
        ...['--id', 'client@test', '--remote-id', '@gw.test', '--psk-file', bed.psk],
      ],
      // At run time vpn needs ip(8) and the like, not a compiler: the test's own PATH.
      {
        env: { ...bed.env(), PATH: `${join(work, 'bin')}${delimiter}${process.env['PATH'] ?? ''}` },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    ),
  );
  let out = '';
  let buf = '';
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ proc, out }), 40000);
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let ev: Record<string, unknown>;
        try {
          ev = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        if (ev['event'] === 'up') {
          clearTimeout(timer);
          resolve({ proc, up: ev, out });
        }
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ proc, code, out });
    });
  });
}

test('the installed vpn connects through the test bed on its prebuilt addons; without them, a clear error', async (t) => {
  if (why) return t.skip(why);
  const skip = skipReason();
  if (skip) return t.skip(skip);
  const withPrebuilds = installs.get('with');
  if (withPrebuilds?.code !== 0) return t.skip('the install test did not install the package');
  const bed = new Bed('inst');
  try {
    bed.up();
    const c = await connect(bed, join(work, 'with/bin/vpn'));
    assert.ok(c.up, `no 'up' event: ${c.out}`);
    // ESP on the native data plane: the prebuilt esp addon; the TUN device: the prebuilt tun.
    assert.equal((c.up['summary'] as { espPath?: string }).espPath, 'threaded', c.out);
    assert.match(
      c.out,
      /native data plane.* from prebuild \S+\/prebuilds\/linux-\w+\/esp\.napi\.glibc\.node/,
    );
    assert.equal(bed.exec(['ping', '-c', '1', '-W', '3', LAN_HOST]).code, 0);
    const x = await tcpTransfer(bed, 1 << 20);
    assert.ok(x.sent.length === 64 && x.sent === x.received, x.output);
    await bed.stop(c.proc);
    assert.equal(await waitExit(c.proc), 0);

    const without = installs.get('without');
    if (without?.code === 0) {
      const before = bed.snapshot();
      const n = await connect(bed, join(work, 'without/bin/vpn'));
      assert.equal(n.up, undefined);
      assert.equal(n.code, 8, n.out);
      assert.match(n.out, /TUN addon is missing/);
      assert.equal(bed.snapshot(), before);
    }
  } finally {
    await bed.stopAll();
    bed.down();
  }
});
