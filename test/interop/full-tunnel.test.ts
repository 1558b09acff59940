/**
 * Full tunnel (issue 13, "it must show" 2): with a default route through the tunnel
 * (`--remote-net 0.0.0.0/0`, the gateway offering 0.0.0.0/0), a TCP connection opened before the
 * connect to a host outside the tunnel (a listener in the NAT router's namespace, the test bed's
 * "internet") survives it and still exchanges data, the gateway stays reachable, new traffic
 * goes through the tunnel, and after the disconnect the client namespace is exactly as before.
 */
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Bed, GW, LAN_HOST, ROOT, firstOutput, skipReason, waitExit } from './support.js';

const skip = skipReason();
const ID = ['--id', 'client@test', '--remote-id', '@gw.test'];
/** The NAT router's address on the gateway's side: outside the tunnel, reached via the uplink. */
const INTERNET_HOST = '198.51.100.1';
const FIXTURE = join(ROOT, 'test/interop/fixtures/echo-line.mjs');

/** Sends `line` on the kept-open connection; resolves with the fixture's verdict line. */
function roundTrip(client: ChildProcess, line: string): Promise<string> {
  return new Promise((resolve) => {
    let buf = '';
    const onData = (d: Buffer): void => {
      buf += d.toString();
      const m = new RegExp(`^(ok|timeout) ${line}$|^error .*$`, 'm').exec(buf);
      if (m) {
        client.stdout?.off('data', onData);
        clearTimeout(t);
        resolve(m[0]);
      }
    };
    // The fixture answers within 5 s; this bound only guards against a dead fixture.
    const t = setTimeout(() => {
      client.stdout?.off('data', onData);
      resolve(`no verdict for ${line}: ${buf}`);
    }, 15000);
    client.stdout?.on('data', onData);
    client.stdin?.write(`${line}\n`);
  });
}

describe('interop: full tunnel keeps the gateway and existing connections', { skip }, () => {
  const bed = new Bed('full');
  let baseline = '';

  before(() => {
    bed.up({ TB_PSK_TS: '0.0.0.0/0' });
    baseline = bed.snapshot();
  });
  after(() => bed.down());
  afterEach(() => bed.stopAll());

  test('a TCP connection opened before connect survives it; the gateway stays reachable', async () => {
    const server = bed.spawnIn(bed.ns('nat'), [
      process.execPath,
      FIXTURE,
      'server',
      INTERNET_HOST,
      '7101',
    ]);
    await firstOutput(server, 'echo server');
    const client = bed.track(
      spawn(
        'ip',
        ['netns', 'exec', bed.cli, process.execPath, FIXTURE, 'client', INTERNET_HOST, '7101'],
        { stdio: ['pipe', 'pipe', 'pipe'] },
      ),
    );
    await firstOutput(client, 'echo client');
    assert.equal(await roundTrip(client, 'before'), 'ok before');

    const r = await bed.connect([...ID, '--psk-file', bed.psk, '--remote-net', '0.0.0.0/0']);
    assert.ok(r.up, `no "up" event:\n${r.lines.join('\n')}`);
    const summary = (r.up as { summary: { routes: string[]; device: string } }).summary;
    assert.deepEqual(summary.routes, ['0.0.0.0/0']);

    // New traffic goes through the tunnel: the route to the "internet" host is the TUN device.
    const get = bed.exec(['ip', '-j', 'route', 'get', INTERNET_HOST]);
    assert.equal((JSON.parse(get.out) as { dev: string }[])[0]?.dev, summary.device, get.out);
    // ... and the LAN host behind the gateway answers through it.
    assert.equal(bed.exec(['ping', '-c1', '-W3', LAN_HOST]).code, 0, 'LAN host through the tunnel');
    // The gateway itself stays reachable outside the tunnel (pinned host route).
    const gwRoute = bed.exec(['ip', '-j', 'route', 'get', GW]);
    assert.notEqual((JSON.parse(gwRoute.out) as { dev: string }[])[0]?.dev, summary.device);
    assert.equal(bed.exec(['ping', '-c1', '-W3', GW]).code, 0, 'gateway reachable');
    // The connection opened before the tunnel still carries data, both ways.
    assert.equal(await roundTrip(client, 'during1'), 'ok during1');
    assert.equal(await roundTrip(client, 'during2'), 'ok during2');

    await bed.stop(r.proc);
    assert.equal(await waitExit(r.proc), 0);
    assert.equal(await roundTrip(client, 'after'), 'ok after');
    assert.equal(bed.snapshot(), baseline, 'client namespace restored exactly (rules too)');
    client.stdin?.end();
  });
  test('--exclude keeps a network outside the full tunnel: new connections to it take the usual path', async () => {
    const server = bed.spawnIn(bed.ns('nat'), [
      process.execPath,
      FIXTURE,
      'server',
      INTERNET_HOST,
      '7102',
    ]);
    await firstOutput(server, 'echo server');
    const r = await bed.connect([
      ...ID,
      '--psk-file',
      bed.psk,
      '--remote-net',
      '0.0.0.0/0',
      '--exclude',
      `${INTERNET_HOST}/32`,
    ]);
    assert.ok(r.up, `no "up" event:\n${r.lines.join('\n')}`);
    const summary = (r.up as { summary: { device: string } }).summary;
    // The excluded host is routed outside the tunnel, the LAN host through it.
    const get = bed.exec(['ip', '-j', 'route', 'get', INTERNET_HOST]);
    assert.notEqual((JSON.parse(get.out) as { dev: string }[])[0]?.dev, summary.device, get.out);
    const lan = bed.exec(['ip', '-j', 'route', 'get', LAN_HOST]);
    assert.equal((JSON.parse(lan.out) as { dev: string }[])[0]?.dev, summary.device, lan.out);
    // A connection opened after the tunnel came up reaches the excluded host.
    const client = bed.track(
      spawn(
        'ip',
        ['netns', 'exec', bed.cli, process.execPath, FIXTURE, 'client', INTERNET_HOST, '7102'],
        { stdio: ['pipe', 'pipe', 'pipe'] },
      ),
    );
    await firstOutput(client, 'echo client');
    assert.equal(await roundTrip(client, 'excluded'), 'ok excluded');
    assert.equal(bed.exec(['ping', '-c1', '-W3', LAN_HOST]).code, 0, 'LAN host through the tunnel');
    client.stdin?.end();
    await bed.stop(r.proc);
    assert.equal(await waitExit(r.proc), 0);
    assert.equal(
      bed.snapshot(),
      baseline,
      'client namespace restored exactly (the excluded route too)',
    );
  });
});
