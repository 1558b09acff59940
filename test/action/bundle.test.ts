import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
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

test('action bundles: they import nothing but Node built-ins (a checkout has no node_modules)', () => {
  const builtins = new Set(builtinModules);
  for (const f of ['action/dist/main.mjs', 'action/dist/post.mjs', 'action/dist/cli/vpn.mjs']) {
    // Code lines only: JSDoc comments name types with import('./x').
    const text = readFileSync(join(ROOT, f), 'utf8')
      .split('\n')
      .filter((l) => !/^\s*(\*|\/\/|\/\*)/.test(l))
      .join('\n');
    const specs = [
      ...text.matchAll(/^\s*import\s+(?:[^'";]*?\s+from\s+)?["']([^"']+)["']/gm),
      ...text.matchAll(/(?<![\w.])(?:require|import)\(\s*["']([^"']+)["']\s*\)/g),
    ].map((m) => m[1]!);
    assert.ok(specs.length > 0, `${f}: no imports found`);
    const foreign = specs.filter((s) => !s.startsWith('node:') && !builtins.has(s));
    assert.deepEqual([...new Set(foreign)], [], `${f} imports packages`);
  }
});
