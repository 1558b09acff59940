import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

test('action bundles: action/dist is what npm run build:action makes from the sources now', () => {
  // GitHub runs action/dist/*.mjs from a checkout at a tag, with no build step: a source change
  // without a rebuild (and commit) of the bundles would ship the old code.
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/build-action.mjs'), '--check'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120000,
  });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
});

test('action bundles: they import nothing but Node built-ins and each other (no node_modules)', () => {
  const builtins = new Set(builtinModules);
  const dist = join(ROOT, 'action/dist');
  const files = readdirSync(dist, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
  assert.ok(files.includes(join(dist, 'main.mjs')) && files.includes(join(dist, 'post.mjs')));
  for (const f of files) {
    // Code lines only: JSDoc comments name types with import('./x').
    const text = readFileSync(f, 'utf8')
      .split('\n')
      .filter((l) => !/^\s*(\*|\/\/|\/\*)/.test(l))
      .join('\n');
    const specs = [
      ...text.matchAll(/^\s*(?:import|export)\s+(?:[^'";]*?\s+from\s+)?["']([^"']+)["']/gm),
      ...text.matchAll(/(?<![\w.])(?:require|import)\(\s*["']([^"']+)["']\s*\)/g),
    ].map((m) => m[1]!);
    const foreign = specs.filter((s) => {
      if (s.startsWith('node:') || builtins.has(s)) return false;
      // Another file of the bundle (a shared chunk), which must be there.
      if (s.startsWith('./') || s.startsWith('../')) return !existsSync(join(dirname(f), s));
      return true;
    });
    assert.deepEqual([...new Set(foreign)], [], `${f} imports packages or missing files`);
  }
});
