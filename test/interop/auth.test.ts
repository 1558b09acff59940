/**
 * Certificates and EAP against a real gateway: strongSwan 5.9.8 in the test bed, with a test CA
 * made by strongSwan's `pki` tool (scripts/testbed/pki.sh). Each gateway connection has its own
 * identity, which the client selects with --remote-id:
 *   rsa / ecdsa / frag  — certificate both ways (frag: RSA-4096 chain through an intermediate CA)
 *   mschap / md5 / tls  — the gateway shows a certificate; the client uses EAP
 *   expired / wrongname / evil — gateway certificates the client must refuse
 */
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Bed,
  LAN_HOST,
  missingTools,
  skipReason,
  sleep,
  tcpTransfer,
  waitExit,
} from './support.js';
import { EXIT } from '../../src/cli/exit-codes.js';

const skip = skipReason();
const PKI = process.env['TB_PKI_DIR'] ?? '/tmp/ikev2-vpn-testbed-pki';
const pki = (f: string): string => join(PKI, f);
const CA = ['--ca', pki('ca.crt')];
const EAP_PASSWORD = "carol's EAP password";

describe('interop: certificates and EAP with strongSwan', { skip }, () => {
  const bed = new Bed('auth');
  let baseline = '';
  let eapPw = '';
  let wrongPw = '';
  let fragChain = '';

  before(() => {
    bed.up();
    baseline = bed.snapshot();
    eapPw = join(bed.dir, 'eap-password');
    writeFileSync(eapPw, EAP_PASSWORD + '\n', { mode: 0o600 });
    wrongPw = join(bed.dir, 'wrong-password');
    writeFileSync(wrongPw, 'not the password\n', { mode: 0o600 });
    // The client's RSA-4096 certificate and the intermediate CA that issued it, in one file.
    fragChain = join(bed.dir, 'client-frag-chain.pem');
    writeFileSync(
      fragChain,
      readFileSync(pki('client-frag.crt'), 'utf8') + readFileSync(pki('im.crt'), 'utf8'),
    );
    chmodSync(fragChain, 0o644);
  });
  after(() => bed.down());
  // A failed assertion leaves its vpn running: end it (host restored) before the next test.
  afterEach(() => bed.stopAll());

  /** Connects, pings the LAN host, moves 1 MiB over TCP with a checksum, disconnects cleanly. */
  async function tunnelWorks(
    name: string,
    args: string[],
    expected = baseline,
  ): Promise<Record<string, unknown>> {
    const r = await bed.connect([...args, '--name', name, '-v']);
    try {
      return await carryTraffic(name, r, expected);
    } finally {
      // SIGTERM first: the host is restored, so a failure here does not fail the next test too.
      await bed.stop(r.proc);
    }
  }

  async function carryTraffic(
    name: string,
    r: Awaited<ReturnType<Bed['connect']>>,
    expected: string,
  ): Promise<Record<string, unknown>> {
    assert.ok(r.up, `no "up" event:\n${r.lines.join('\n')}`);
    const ping = bed.exec(['ping', '-c', '2', '-i', '0.2', '-W', '2', LAN_HOST]);
    assert.equal(ping.code, 0, ping.out + ping.err);
    const { sent, received, output } = await tcpTransfer(bed, 1 << 20);
    assert.ok(sent.length === 64, output);
    assert.equal(received, sent, 'checksum of 1 MiB through the tunnel');
    const d = bed.vpn(['disconnect', '--name', name]);
    assert.equal(d.code, 0, d.err);
    assert.equal(await waitExit(r.proc), 0);
    await sleep(200);
    assert.equal(bed.snapshot(), expected, 'client namespace restored exactly');
    return { ...(r.up as object), log: r.lines.join('\n') };
  }

  /** Connects expecting a refusal: the exit code, a message matching `msg`, nothing changed. */
  async function refused(name: string, args: string[], code: number, msg: RegExp): Promise<void> {
    const r = await bed.connect([...args, '--name', name]);
    assert.equal(r.up, undefined, `tunnel came up:\n${r.lines.join('\n')}`);
    const exit = r.code ?? (await waitExit(r.proc));
    const text = r.lines.join('\n');
    assert.equal(exit, code, text);
    assert.match(text, msg);
    assert.equal(bed.snapshot(), baseline, 'nothing changed on the client');
  }

  test('RSA client certificate; the gateway proves itself with an RSA certificate', async () => {
    const up = await tunnelWorks('rsa', [
      '--remote-id',
      '@rsa.gw.test',
      ...CA,
      '--cert',
      pki('client-rsa.crt'),
      '--key',
      pki('client-rsa.p8'),
    ]);
    assert.match(String(up['log']), /gateway authenticated by certificate/);
    assert.match(JSON.stringify(up['summary']), /CN=client-rsa/);
  });

  test('ECDSA P-384 client certificate; ECDSA P-256 gateway certificate', async () => {
    await tunnelWorks('ecdsa', [
      '--remote-id',
      '@ecdsa.gw.test',
      ...CA,
      '--cert',
      pki('client-ecdsa.crt'),
      '--key',
      pki('client-ecdsa.p8'),
    ]);
  });

  test('EAP-MSCHAPv2 (password from a file)', async () => {
    await tunnelWorks('mschap', [
      '--remote-id',
      '@mschap.gw.test',
      ...CA,
      '--eap-identity',
      'carol',
      '--eap',
      'mschapv2',
      '--eap-password-file',
      eapPw,
    ]);
  });

  test('EAP-MD5', async () => {
    await tunnelWorks('md5', [
      '--remote-id',
      '@md5.gw.test',
      ...CA,
      '--eap-identity',
      'carol',
      '--eap',
      'md5',
      '--eap-password-file',
      eapPw,
    ]);
  });

  test('EAP-TLS with a client certificate', async () => {
    await tunnelWorks('tls', [
      '--remote-id',
      '@tls.gw.test',
      ...CA,
      '--eap-identity',
      'carol-tls@test',
      '--eap',
      'tls',
      '--cert',
      pki('client-tls.crt'),
      '--key',
      pki('client-tls.p8'),
    ]);
  });

  test(
    'IKE_AUTH fragmented both ways at MTU 1280 (RSA-4096 chains), IP fragments dropped',
    { skip: missingTools('nft') },
    async () => {
      const cliIf = `${bed.prefix.slice(0, 8)}c0`;
      const natIf = `${bed.prefix.slice(0, 8)}n0`;
      bed.exec(['ip', 'link', 'set', 'dev', cliIf, 'mtu', '1280']);
      bed.exec(['ip', 'link', 'set', 'dev', natIf, 'mtu', '1280'], bed.ns('nat'));
      // Drop IP fragments before the NAT reassembles them: only IKE fragmentation gets through.
      const nft = (args: string): void => {
        const r = bed.exec(['nft', ...args.split(' ')], bed.ns('nat'));
        assert.equal(r.code, 0, r.err);
      };
      nft('add table ip nofrag');
      nft('add chain ip nofrag pre { type filter hook prerouting priority -500 ; }');
      nft('add rule ip nofrag pre ip frag-off & 0x3fff != 0 counter drop');
      try {
        const up = await tunnelWorks(
          'frag',
          [
            '--remote-id',
            '@frag.gw.test',
            ...CA,
            '--cert',
            fragChain,
            '--key',
            pki('client-frag.p8'),
          ],
          bed.snapshot(),
        );
        assert.match(String(up['log']), /IKE_AUTH sent in \d+ fragments/);
        const log = readFileSync(`/tmp/${bed.prefix}/gw/charon.log`, 'utf8');
        assert.match(log, /received fragment #1 of \d+/, 'the gateway reassembled our fragments');
        assert.match(
          log,
          /splitting IKE message \(\d+ bytes\) into \d+ fragments/,
          'the gateway fragmented its response',
        );
      } finally {
        bed.exec(['nft', 'delete', 'table', 'ip', 'nofrag'], bed.ns('nat'));
        bed.exec(['ip', 'link', 'set', 'dev', cliIf, 'mtu', '1500']);
        bed.exec(['ip', 'link', 'set', 'dev', natIf, 'mtu', '1500'], bed.ns('nat'));
      }
    },
  );

  const clientCert = ['--cert', pki('client-rsa.crt'), '--key', pki('client-rsa.p8')];

  test('a gateway certificate from an untrusted CA: exit 13', async () => {
    await refused(
      'evil',
      ['--remote-id', '@evil.gw.test', ...CA, ...clientCert],
      EXIT.CERT_UNTRUSTED,
      /not trusted/,
    );
  });

  test('an expired gateway certificate: exit 14', async () => {
    await refused(
      'expired',
      ['--remote-id', '@expired.gw.test', ...CA, ...clientCert],
      EXIT.CERT_EXPIRED,
      /expired/,
    );
  });

  test('a gateway certificate that does not name the host we dialled: exit 15', async () => {
    await refused(
      'wrongname',
      ['--remote-id', '@wrongname.gw.test', ...CA, ...clientCert],
      EXIT.CERT_NAME,
      /not valid for 198\.51\.100\.10/,
    );
  });

  test('a wrong EAP password: exit 16', async () => {
    await refused(
      'badpw',
      [
        '--remote-id',
        '@mschap.gw.test',
        ...CA,
        '--eap-identity',
        'carol',
        '--eap',
        'mschapv2',
        '--eap-password-file',
        wrongPw,
      ],
      EXIT.EAP_FAILED,
      /EAP-MSCHAPv2/,
    );
  });

  test('a client certificate the gateway does not trust: exit 4', async () => {
    await refused(
      'evilclient',
      [
        '--remote-id',
        '@rsa.gw.test',
        ...CA,
        '--cert',
        pki('client-evil.crt'),
        '--key',
        pki('client-evil.p8'),
      ],
      EXIT.AUTH_FAILED,
      /AUTHENTICATION_FAILED/,
    );
  });
});
