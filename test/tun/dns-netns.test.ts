/**
 * File-mode DNS with tunnels in two network namespaces (issue 11, "Hostile gateway"): each
 * `ip netns exec` sees its own /etc/resolv.conf (bind-mounted from /etc/netns/<ns>/), but the old
 * backup path /etc/resolv.conf.ikev2-vpn.bak was one file for the whole host — the second tunnel
 * overwrote the first one's backup and the first disconnect restored the wrong file. Each tunnel
 * now keeps its own backup (runtime directory, keyed by tunnel and namespace).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIST, Netns, nsSkipReason } from './helpers.js';

test(
  'two tunnels in two namespaces, disconnected in the order they connected, each restore their own resolv.conf',
  { skip: nsSkipReason() },
  async () => {
    const a = new Netns();
    const b = new Netns();
    const base = mkdtempSync(join(tmpdir(), 'vpn-dnsns-'));
    try {
      const run = join(base, 'run');
      mkdirSync(run, { mode: 0o700 });
      for (const [ns, text] of [
        [a, 'nameserver 192.0.2.1 # A original\n'],
        [b, 'nameserver 192.0.2.2 # B original\n'],
      ] as const) {
        mkdirSync(ns.etc, { recursive: true });
        writeFileSync(join(ns.etc, 'resolv.conf'), text);
      }
      const fa = a.spawnFixture('dns-file.mjs', [DIST, join(run, 'ta.journal'), '10.0.0.53']);
      const fb = b.spawnFixture('dns-file.mjs', [DIST, join(run, 'tb.journal'), '10.1.0.53']);
      fa.send('set');
      await fa.next('set');
      fb.send('set');
      await fb.next('set');
      assert.match(readFileSync(join(a.etc, 'resolv.conf'), 'utf8'), /10\.0\.0\.53/);
      assert.match(readFileSync(join(b.etc, 'resolv.conf'), 'utf8'), /10\.1\.0\.53/);
      fa.send('restore');
      assert.deepEqual((await fa.next('restored'))['errors'], []);
      fb.send('restore');
      assert.deepEqual((await fb.next('restored'))['errors'], []);
      assert.equal(
        readFileSync(join(a.etc, 'resolv.conf'), 'utf8'),
        'nameserver 192.0.2.1 # A original\n',
      );
      assert.equal(
        readFileSync(join(b.etc, 'resolv.conf'), 'utf8'),
        'nameserver 192.0.2.2 # B original\n',
      );
    } finally {
      a.close();
      b.close();
      rmSync(base, { recursive: true, force: true });
    }
  },
);
