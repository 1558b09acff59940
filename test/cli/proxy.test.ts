/**
 * Proxy mode's refusals (`vpn connect --socks5`), checked before any secret is asked for or any
 * packet sent, so they run anywhere without root; and its listen-address parser.
 * The tunnel itself: test/interop/proxy.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT } from '../../src/cli/exit-codes.js';
import { findOcproxy, parseListen } from '../../src/client/proxy.js';

const BIN = fileURLToPath(new URL('../../../bin/vpn.js', import.meta.url));

/** An executable stand-in for ocproxy (never run: these cases stop before the tunnel). */
function fakeOcproxy(dir: string): string {
  const p = join(dir, 'ocproxy');
  writeFileSync(p, '#!/bin/sh\nexit 0\n');
  chmodSync(p, 0o755);
  return p;
}

function vpn(args: string[], env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'vpn-proxy-'));
  try {
    const r = spawnSync(
      process.execPath,
      // 192.0.2.1 (TEST-NET-1) is never contacted: every case here fails before resolving it.
      [BIN, 'connect', '192.0.2.1', '--psk-file', '/nonexistent/psk', ...args],
      {
        encoding: 'utf8',
        env: { ...process.env, VPN_PSK: '', VPN_RUNTIME_DIR: join(dir, 'run'), ...env },
        timeout: 20000,
      },
    );
    return { code: r.status, out: r.stdout + r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('parseListen: PORT, ADDR:PORT and localhost:PORT; anything else is refused', () => {
  assert.deepEqual(parseListen('1080'), { host: '127.0.0.1', port: 1080 });
  assert.deepEqual(parseListen('127.0.0.2:9050'), { host: '127.0.0.2', port: 9050 });
  assert.deepEqual(parseListen('localhost:1'), { host: '127.0.0.1', port: 1 });
  for (const bad of ['', '0', '65536', ':1080', 'host:1080', '[::1]:1080', '1.2.3:80', 'x'])
    assert.throws(() => parseListen(bad), /expected \[ADDRESS:\]PORT/, bad);
});

test('findOcproxy: VPN_OCPROXY (absolute, executable), else the PATH; nothing else', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vpn-ocproxy-'));
  try {
    const p = fakeOcproxy(dir);
    assert.equal(findOcproxy({ PATH: `/nonexistent:${dir}` }), p);
    assert.equal(findOcproxy({ PATH: '/nonexistent' }), undefined);
    assert.equal(findOcproxy({ PATH: 'relative/dir' }), undefined);
    assert.equal(findOcproxy({ VPN_OCPROXY: p, PATH: '/nonexistent' }), p);
    assert.equal(findOcproxy({ VPN_OCPROXY: 'ocproxy', PATH: dir }), undefined);
    assert.equal(findOcproxy({ VPN_OCPROXY: dir, PATH: dir }), undefined, 'a folder is not it');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('without ocproxy: exit 18 and the package to install', () => {
  const r = vpn(['--socks5', '127.0.0.1:1080'], { PATH: '/nonexistent' });
  assert.equal(r.code, EXIT.PROXY_MISSING, r.out);
  assert.match(r.out, /apt-get install ocproxy/);
});

test('--http-proxy is refused (ocproxy serves SOCKS5 only), with what to use instead', () => {
  const r = vpn(['--socks5', '1080', '--http-proxy', '127.0.0.1:3128']);
  assert.equal(r.code, EXIT.USAGE, r.out);
  assert.match(r.out, /--http-proxy is not available.*SOCKS5 only.*socks5h:\/\//);
});

test('--socks5 refuses --kill-switch and a bad address: exit 2', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vpn-ocproxy-'));
  try {
    const env = { VPN_OCPROXY: fakeOcproxy(dir) };
    const k = vpn(['--socks5', '1080', '--kill-switch'], env);
    assert.equal(k.code, EXIT.USAGE, k.out);
    assert.match(k.out, /--kill-switch does not apply to --socks5/);
    const b = vpn(['--socks5', 'example.com:1080'], env);
    assert.equal(b.code, EXIT.USAGE, b.out);
    assert.match(b.out, /expected \[ADDRESS:\]PORT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--socks5 on a port that is taken: exit 2 before connecting', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vpn-ocproxy-'));
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const port = (srv.address() as { port: number }).port;
    const r = vpn(['--socks5', `127.0.0.1:${port}`], { VPN_OCPROXY: fakeOcproxy(dir) });
    assert.equal(r.code, EXIT.USAGE, r.out);
    assert.match(r.out, /cannot listen on 127\.0\.0\.1:\d+ for SOCKS5 \(EADDRINUSE\)/);
  } finally {
    srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
