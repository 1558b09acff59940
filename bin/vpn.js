#!/usr/bin/env node
// Entry point of the `vpn` command. `npm run build` makes three builds of the CLI: the modules of
// dist/src (tsc) and, with esbuild (scripts/build-cli-bundle.mjs), one ES module bundle
// (dist/bundle/cli/vpn.js) and the same as one CommonJS file (dist/bundle/cli/vpn.cjs), which
// start faster (docs/performance.md, "Connect time"). The CommonJS one is preferred: it is
// compiled with vm.Script and a V8 code cache kept next to it (vpn.cjs.cache), so a start skips
// most of parsing and compiling. A bundle is used when it is there and not older than dist/src (a
// `tsc` alone after an edit leaves it stale); VPN_NO_BUNDLE=1 forces the modules,
// VPN_NO_CODE_CACHE=1 the ES module bundle.
//
// The code cache is trusted only after checks (a stale or foreign one must never run): it is read
// only from the bundle's own folder, which must be owned by root or by us and writable by no one
// else; the file must be a regular file (not a link) of the same owners, not group- or
// world-writable, at most 64 MiB, and start with a header naming the SHA-256 of the bundle's
// source, the Node version and the architecture. V8 then checks its own version, flags and the
// source length, and a cache it rejects (script.cachedDataRejected) is replaced after the run —
// only by the folder's owner (root for a global install), through an exclusive temporary file
// and a rename.
//
// `vpn connect --background` starts Node twice, the command and the tunnel process: the tunnel
// process is started here, before the CLI loads, so that both start-ups overlap; the command
// takes it over (src/cli/early-child.ts). VPN_NO_EARLY_CHILD=1 leaves that to the command.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  lstatSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

const BUNDLE = new URL('../dist/bundle/cli/vpn.js', import.meta.url);
const CJS = new URL('../dist/bundle/cli/vpn.cjs', import.meta.url);
const MODULES = new URL('../dist/src/cli/entry.js', import.meta.url);
const MAX_CACHE = 64 << 20;

/** Modification time in ms, or undefined when the file is absent. */
function mtime(url) {
  try {
    return statSync(url).mtimeMs;
  } catch {
    return undefined;
  }
}

/** The build to load: 'cjs', 'esm' (the bundles) or 'modules' (dist/src). */
function entry() {
  if (process.env.VPN_NO_BUNDLE === '1') return 'modules';
  const modules = mtime(MODULES);
  const fresh = (t) => t !== undefined && (modules === undefined || t >= modules);
  // `vpn import` needs the .mobileconfig parser, which only the ES module bundle has.
  const cjs = process.env.VPN_NO_CODE_CACHE !== '1' && !process.argv.includes('import');
  if (cjs && fresh(mtime(CJS))) return 'cjs';
  return fresh(mtime(BUNDLE)) ? 'esm' : 'modules';
}

const uid = process.getuid?.() ?? -1;
/** Owned by root or by us, and writable by no one else. */
const safe = (st) => (st.uid === 0 || st.uid === uid) && (st.mode & 0o022) === 0;

/** The cached data after `header` in `path` if every check passes, else why not. */
function trustedCache(path, header) {
  let fd;
  try {
    const dir = lstatSync(dirname(path));
    if (!dir.isDirectory() || !safe(dir)) return { why: 'untrusted folder' };
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const st = fstatSync(fd);
    if (!st.isFile() || !safe(st)) return { why: 'untrusted file' };
    if (st.size > MAX_CACHE || st.size <= header.length + 1) return { why: 'bad size' };
    const data = readFileSync(fd);
    if (!data.subarray(0, header.length).equals(header)) return { why: 'stale' };
    // One byte after the header: 'F' made by a run that lasted (a connect: its functions are
    // compiled and in the cache), 'B' by a brief command (mostly the top level).
    const full = data[header.length] === 0x46;
    return { data: data.subarray(header.length + 1), full };
  } catch (e) {
    // none yet (ENOENT), a symbolic link (ELOOP), unreadable: compile without
    return { why: e.code === 'ENOENT' ? 'none' : `unreadable (${e.code})` };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Writes the code cache of `script` (after it ran) when the bundle's folder is ours. */
function saveCache(script, path, header, full) {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const dir = lstatSync(dirname(path));
    if (!dir.isDirectory() || dir.uid !== uid || (dir.mode & 0o022) !== 0) return;
    const tag = Buffer.from(full ? 'F' : 'B');
    writeFileSync(tmp, Buffer.concat([header, tag, script.createCachedData()]), {
      flag: 'wx',
      mode: 0o644,
    });
    renameSync(tmp, path);
  } catch {
    try {
      unlinkSync(tmp);
    } catch {
      // never created
    }
  }
}

/** Runs the CommonJS bundle with its code cache; returns its exports. */
function loadCjs() {
  const file = fileURLToPath(CJS);
  const source = readFileSync(file, 'utf8');
  // V8 refuses a cache made under other flags: one file per set of Node options (the tunnel
  // process of --background runs with --lite-mode, see below).
  const opts = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join('\0');
  const tag = opts === '' ? '' : `.${createHash('sha256').update(opts).digest('hex').slice(0, 12)}`;
  const cachePath = `${file}${tag}.cache`;
  const hash = createHash('sha256').update(source).digest('hex');
  const header = Buffer.from(
    `ikev2-vpn code cache 1 ${hash} ${process.version} ${process.arch}\n`,
    'latin1',
  );
  const { data: cachedData, full, why } = trustedCache(cachePath, header);
  // The file is a CommonJS wrapper function (scripts/build-cli-bundle.mjs), compiled as it is.
  const script = new Script(source, { filename: file, ...(cachedData ? { cachedData } : {}) });
  if (process.env.VPN_CODE_CACHE_DEBUG === '1') {
    const state = cachedData ? (script.cachedDataRejected ? 'rejected' : 'accepted') : why;
    process.stderr.write(`code cache: ${state}\n`);
  }
  const module = { exports: {} };
  script
    .runInThisContext()
    .call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  // A new cache when there is none (or V8 refused it): at exit (the command's functions are
  // compiled by then), or after 2 s for one that keeps running (a tunnel), whichever comes
  // first. A cache made by a brief command is replaced once by one of a connect.
  const missing = !cachedData || script.cachedDataRejected === true;
  const connect = process.argv[2] === 'connect';
  if (missing || (!full && connect)) {
    let done = false;
    const save = (lasted) => {
      if (done) return;
      done = true;
      saveCache(script, cachePath, header, lasted);
    };
    setTimeout(() => save(true), 2000).unref();
    process.once('exit', () => save(connect));
  }
  return module.exports;
}

/**
 * Node options of a --background tunnel process (src/cli/early-child.ts has the same rule):
 * --lite-mode (no optimizing compilers; docs/performance.md "Where the memory goes": ~10 MB less
 * resident memory) when the native data plane is there to carry the traffic (the JavaScript ESP
 * path would run interpreted); VPN_NODE_LITE=0 turns it off.
 */
function tunnelNodeFlags() {
  if (process.env.VPN_NODE_LITE === '0') return [];
  const root = fileURLToPath(new URL('..', import.meta.url));
  const prebuilds = `${root}prebuilds/${process.platform}-${process.arch}`;
  let native = existsSync(`${root}build/Release/esp.node`);
  try {
    native ||= readdirSync(prebuilds).some((f) => f.startsWith('esp') && f.endsWith('.node'));
  } catch {
    // no prebuilds for this platform
  }
  return native ? ['--lite-mode'] : [];
}

/**
 * `vpn connect ... --background`: start the tunnel process now (`--daemon-child`, the arguments
 * the command would give it), without output and without secrets in its environment; it waits
 * for the command to hand it the secrets and exits when the command goes away without doing so.
 */
function startEarlyChild() {
  const args = process.argv.slice(2);
  if (args[0] !== 'connect' || !args.includes('--background') || args.includes('--daemon-child')) {
    return;
  }
  if (process.env.VPN_NO_EARLY_CHILD === '1') return;
  const env = { ...process.env, VPN_EARLY_CHILD: '1' };
  for (const k of Object.keys(env)) {
    if (/^VPN_\w*(PSK|PASSWORD|PASSPHRASE|SECRET|TOKEN)/.test(k)) env[k] = '';
  }
  const child = spawn(
    process.execPath,
    [
      ...tunnelNodeFlags(),
      fileURLToPath(import.meta.url),
      ...args.filter((a) => a !== '--background'),
      '--daemon-child',
    ],
    { detached: true, stdio: ['ignore', 'ignore', 'ignore', 'ipc'], env },
  );
  child.on('error', () => undefined);
  // Until the command takes it over: an early exit of the command (a bad flag) does not wait.
  child.unref();
  child.channel?.unref?.();
  globalThis[Symbol.for('ikev2-vpn.earlyDaemonChild')] = child;
}

startEarlyChild();
const kind = entry();
const cli = kind === 'cjs' ? loadCjs() : await import((kind === 'esm' ? BUNDLE : MODULES).href);
const { main, exitAfterFlush, ignoreClosedPipes } = cli;
ignoreClosedPipes();
const code = await main(process.argv);
// Never process.exit() with output still pending: a pipe reader would lose it.
exitAfterFlush(code);
