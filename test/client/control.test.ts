/**
 * The control socket's directory and a dead tunnel's leftovers, as library calls (issue 11:
 * finding 3 and "Exits"). The CLI side is in test/cli/host-runtime.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ControlServer,
  findLeftovers,
  restoreLeftovers,
  tunnelSocketPath,
} from '../../src/client/control.js';
import { VpnError } from '../../src/core/errors.js';
import { netnsKey } from '../../src/tun/netcfg.js';
import type { CommandRunner } from '../../src/tun/netcfg.js';

function tmpRun(): { base: string; dir: string } {
  const base = mkdtempSync(join(tmpdir(), 'vpn-control-'));
  const dir = join(base, 'run');
  mkdirSync(dir, { mode: 0o700 });
  return { base, dir };
}

function journal(dir: string, name: string, pid: number): void {
  writeFileSync(
    join(dir, `${name}.journal`),
    JSON.stringify({
      version: 2,
      pid,
      netns: netnsKey(),
      entries: [
        { kind: 'addr', dev: 'vpn0', cidr: '10.0.0.2/32' },
        { kind: 'route', dest: '0.0.0.0/1', dev: 'vpn0' },
      ],
    }),
    { mode: 0o600 },
  );
}

test('tunnel names that would leave the runtime directory are refused', () => {
  for (const bad of ['../etc/x', '..', 'a/b', '', 'x'.repeat(33), 'a b']) {
    assert.throws(
      () => tunnelSocketPath(bad, '/nonexistent'),
      (e: unknown) => e instanceof VpnError && e.code === 'ERR_CONFIG',
      bad,
    );
  }
  assert.equal(tunnelSocketPath('work-1', '/nonexistent'), '/nonexistent/work-1.sock');
});

test('the control socket is not used from a directory others can enter', async () => {
  const t = tmpRun();
  try {
    chmodSync(t.dir, 0o777);
    assert.throws(() => tunnelSocketPath('default', t.dir), /refusing to use runtime directory/);
    await assert.rejects(
      ControlServer.listen(join(t.dir, 'default.sock'), () => Promise.resolve({})),
      /refusing to use runtime directory/,
    );
    chmodSync(t.dir, 0o700);
    // Something that is not a socket in its place is not deleted.
    writeFileSync(join(t.dir, 'default.sock'), 'x');
    await assert.rejects(
      ControlServer.listen(join(t.dir, 'default.sock'), () => Promise.resolve({})),
      /not a control socket/,
    );
  } finally {
    rmSync(t.base, { recursive: true, force: true });
  }
});

test("findLeftovers describes a dead tunnel's changes; a live one's journal is left alone", async () => {
  const t = tmpRun();
  try {
    assert.equal(findLeftovers('none', { dir: t.dir }), undefined);
    journal(t.dir, 'live', process.ppid);
    assert.equal(findLeftovers('live', { dir: t.dir }), undefined);
    journal(t.dir, 'dead', 999999999);
    const left = findLeftovers('dead', { dir: t.dir });
    assert.deepEqual(left?.changes, ['address 10.0.0.2/32 on vpn0', 'route 0.0.0.0/1 dev vpn0']);
    const calls: string[] = [];
    const run: CommandRunner = (cmd, args, input) => {
      calls.push(`${cmd} ${args.join(' ')} <${input ?? ''}`);
      return Promise.resolve({ stdout: '' });
    };
    assert.deepEqual((await restoreLeftovers('dead', { dir: t.dir, run }))?.changes, left?.changes);
    assert.deepEqual(calls, [
      'ip -4 -force -batch - <route del 0.0.0.0/1 dev vpn0\naddr del 10.0.0.2/32 dev vpn0\n',
    ]);
    assert.equal(findLeftovers('dead', { dir: t.dir }), undefined);
    assert.equal(await restoreLeftovers('dead', { dir: t.dir, run }), undefined);
  } finally {
    rmSync(t.base, { recursive: true, force: true });
  }
});
