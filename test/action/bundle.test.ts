import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
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
