/**
 * `vpn connect --background` starts Node twice (the command, then the tunnel process). bin/vpn.js
 * now starts the tunnel process before it loads the CLI, so that both start-ups overlap (issue
 * 15 item 3: connect time with --background); the command takes it over (src/cli/early-child.ts).
 * Here the CLI is a stand-in bundle that records how it was started, so what bin/vpn.js itself
 * does is seen: the child's arguments and environment, that it can talk to the command over IPC,
 * and that it goes away on its own when the command exits without handing it the secrets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/**
 * The stand-in CLI (a CommonJS wrapper function, as scripts/build-cli-bundle.mjs makes
 * vpn.cjs): records argv and environment; the child waits for the command to leave.
 */
const STAND_IN = `(function (exports, require, module) {
const fs = require('node:fs');
const child = process.argv.includes('--daemon-child');
const rec = (o) => fs.appendFileSync(process.env.MARK, JSON.stringify(o) + '\\n');
rec({ child, argv: process.argv.slice(2), psk: process.env.VPN_PSK ?? null,
  xauth: process.env.VPN_XAUTH_PASSWORD ?? null, early: process.env.VPN_EARLY_CHILD ?? null,
  ipc: typeof process.send === 'function' });
module.exports = {
  ignoreClosedPipes() {},
  exitAfterFlush(code) { process.exitCode = code; },
  async main() {
    if (!child) return 3;
    if (process.connected) await new Promise((resolve) => process.once('disconnect', resolve));
    rec({ childDone: true });
    return 0;
  },
};
})`;

function layout(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'vpn-early-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'bin'));
  mkdirSync(join(dir, 'dist/bundle/cli'), { recursive: true });
  cpSync(join(ROOT, 'bin/vpn.js'), join(dir, 'bin/vpn.js'));
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  writeFileSync(join(dir, 'dist/bundle/cli/vpn.cjs'), STAND_IN);
  return dir;
}

/** Runs bin/vpn.js with `args`; the records of the command and of any child, once settled. */
async function run(dir: string, args: string[], env: Record<string, string> = {}) {
  const mark = join(dir, 'mark.jsonl');
  rmSync(mark, { force: true });
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [join(dir, 'bin/vpn.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, MARK: mark, VPN_PSK: 'secret-psk', VPN_XAUTH_PASSWORD: 'pw', ...env },
    timeout: 20000,
  });
  const commandMs = Date.now() - t0;
  const records = (): Record<string, unknown>[] =>
    existsSync(mark)
      ? readFileSync(mark, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Record<string, unknown>)
      : [];
  // A child records its start (maybe after the command exited) and, later, its end.
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline) {
    const recs = records();
    const started = recs.some((x) => x['child'] === true);
    if (!started && Date.now() - t0 > 1500) break; // none was started
    if (started && recs.some((x) => x['childDone'] === true)) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { code: r.status, commandMs, records: records() };
}

test('connect --background: bin/vpn.js starts the tunnel process before the CLI loads', async (t) => {
  const dir = layout(t);
  const r = await run(dir, ['connect', '192.0.2.1', '--background', '--name', 'x']);
  assert.equal(r.code, 3); // the command's own exit code, not the child's
  const child = r.records.find((x) => x['child'] === true);
  assert.ok(child, `no tunnel process started: ${JSON.stringify(r.records)}`);
  // The arguments the command itself would give it; secrets never in its environment.
  assert.deepEqual(child['argv'], ['connect', '192.0.2.1', '--name', 'x', '--daemon-child']);
  assert.equal(child['psk'], '');
  assert.equal(child['xauth'], '');
  assert.equal(child['early'], '1');
  assert.equal(child['ipc'], true);
  // The command did not wait for it, and it left when the command did.
  assert.ok(
    r.records.some((x) => x['childDone'] === true),
    JSON.stringify(r.records),
  );
  const command = r.records.find((x) => x['child'] === false);
  assert.equal(command?.['psk'], 'secret-psk');
});

test('no early tunnel process without --background, for other commands, or with VPN_NO_EARLY_CHILD=1', async (t) => {
  const dir = layout(t);
  for (const [args, env] of [
    [['connect', '192.0.2.1'], {}],
    [['status', '--background'], {}],
    [['connect', '192.0.2.1', '--background'], { VPN_NO_EARLY_CHILD: '1' }],
  ] as const) {
    const r = await run(dir, [...args], env);
    assert.equal(r.code, 3);
    assert.deepEqual(
      r.records.filter((x) => x['child'] === true),
      [],
      `${args.join(' ')} started a child`,
    );
  }
});
