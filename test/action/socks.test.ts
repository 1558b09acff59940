import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { socksConnect } from '../../src/action/socks.js';

/**
 * A SOCKS5 server on loopback (RFC 1928) that records the CONNECT requests and answers REP
 * `rep`, or nothing at all (`rep` undefined).
 */
function fakeProxy(
  rep: number | undefined,
): Promise<{ server: Server; addr: string; seen: Buffer[] }> {
  const seen: Buffer[] = [];
  const server = createServer((s) => {
    let stage = 0;
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => {
      if (stage === 0) {
        assert.deepEqual([...d], [5, 1, 0]); // version 5, one method: no authentication
        s.write(Buffer.from([5, 0]));
        stage = 1;
      } else {
        seen.push(d);
        if (rep !== undefined) s.write(Buffer.from([5, rep, 0, 1, 0, 0, 0, 0, 0, 0]));
      }
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, addr: `127.0.0.1:${(server.address() as AddressInfo).port}`, seen }),
    ),
  );
}

test('socksConnect: CONNECT by name through the proxy; true only on "succeeded"', async () => {
  const ok = await fakeProxy(0);
  try {
    assert.equal(await socksConnect(ok.addr, 'intranet.example.com:8080', 3000), true);
    const name = Buffer.from('intranet.example.com');
    assert.deepEqual(
      ok.seen[0],
      Buffer.concat([Buffer.from([5, 1, 0, 3, name.length]), name, Buffer.from([0x1f, 0x90])]),
    );
  } finally {
    ok.server.close();
  }
  const refused = await fakeProxy(5); // REP 5: connection refused
  try {
    assert.equal(await socksConnect(refused.addr, '10.1.0.10:80', 3000), false);
  } finally {
    refused.server.close();
  }
  const silent = await fakeProxy(undefined);
  try {
    const t0 = Date.now();
    assert.equal(await socksConnect(silent.addr, '10.1.0.10:80', 300), false);
    assert.ok(Date.now() - t0 < 3000, 'bounded by its timeout');
  } finally {
    silent.server.close();
  }
  // Nothing listening: false, not an exception.
  assert.equal(await socksConnect('127.0.0.1:1', '10.1.0.10:80', 1000), false);
});
