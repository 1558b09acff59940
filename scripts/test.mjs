#!/usr/bin/env node
// `npm test`: runs every compiled test file (dist/test/**/*.test.js) with `node --test`, and only
// those. Node 20's `node --test dist/test/` would also load each support module (fixtures,
// helpers, the test responder) as a test file and count it as a passing test, and Node 20's
// --test takes no globs. Arguments: folders or files to narrow the run (default: dist/test).
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const flags = process.argv.slice(2).filter((a) => a.startsWith('-'));
const roots = process.argv.slice(2).filter((a) => !a.startsWith('-'));

function collect(path, out) {
  const st = statSync(path);
  if (st.isFile()) {
    if (path.endsWith('.test.js')) out.push(path);
    return out;
  }
  for (const e of readdirSync(path, { withFileTypes: true }).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    if (e.isDirectory()) collect(join(path, e.name), out);
    else if (e.isFile() && e.name.endsWith('.test.js')) out.push(join(path, e.name));
  }
  return out;
}

const files = [];
for (const r of roots.length ? roots : [join(root, 'dist/test')]) collect(r, files);
if (files.length === 0) {
  console.error(`no *.test.js under ${roots.join(' ') || 'dist/test'}: run npm run build first`);
  process.exit(2);
}
console.error(`running ${files.length} test files`);
const child = spawn(
  process.execPath,
  ['--test', '--test-reporter=spec', ...flags, ...files.map((f) => relative(process.cwd(), f))],
  { stdio: 'inherit' },
);
// Ctrl-C reaches the test runner through the terminal; a SIGTERM to us is passed on.
process.on('SIGTERM', () => child.kill('SIGTERM'));
child.on('exit', (code, signal) => {
  process.exitCode = code ?? (signal === 'SIGINT' ? 130 : 1);
});
