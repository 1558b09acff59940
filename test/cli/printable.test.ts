/**
 * Finding 5 of issue 11: gateway-chosen text (its IKE identity, certificate subjects, error
 * messages quoting them) is escaped before it reaches a terminal or a log line, in every output
 * mode; JSON output stays valid JSON without raw C1 or bidi characters.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { printable, printableJson } from '../../src/core/printable.js';
import { VpnError } from '../../src/core/errors.js';
import { Ui, summaryLines } from '../../src/cli/ui.js';
import type { TunnelSummary } from '../../src/client/tunnel.js';

/** What the review's hostile gateway sends: OSC retitle, a one-character C1 CSI, an RLO. */
const HOSTILE = 'gw\x1b]0;pwned\x07 \u009b31m red \u202eevil';

/** Any character a terminal would act on rather than show. */

const RAW = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

test('printable escapes C0, DEL, C1 and bidi characters visibly, and nothing else', () => {
  assert.equal(printable(HOSTILE), 'gw\\x1b]0;pwned\\x07 \\u009b31m red \\u202eevil');
  assert.equal(printable('a\tb\r\nc\x7fd\u2066e\u2069'), 'a\\x09b\\x0d\\x0ac\\x7fd\\u2066e\\u2069');
  // Printable ASCII, other Unicode and backslashes stay as they are.
  const plain = 'user@example.com CN=Gateway Ünïcødé 网关 C:\\path';
  assert.equal(printable(plain), plain);
  // Idempotent: escaping twice changes nothing more.
  assert.equal(printable(printable(HOSTILE)), printable(HOSTILE));
  for (let c = 0; c < 0x3000; c++) {
    const ch = String.fromCharCode(c);
    assert.equal(RAW.test(printable(ch)), false, `U+${c.toString(16)}`);
  }
});

test('printableJson is valid JSON with the same value and no raw control or bidi character', () => {
  const value = { error: HOSTILE, nested: { list: ['\u0085', '\u2028', '\u200f'] } };
  const out = printableJson(value);
  assert.equal(RAW.test(out), false, out);
  assert.deepEqual(JSON.parse(out), value);
  assert.match(out, /\\u001b\]0;pwned\\u0007 \\u009b31m red \\u202eevil/);
});

/** Captures what a function writes to stdout and stderr. */
function capture(fn: () => void): { out: string; err: string } {
  const w = { out: '', err: '' };
  const o = process.stdout.write.bind(process.stdout);
  const e = process.stderr.write.bind(process.stderr);
  process.stdout.write = (s: string) => ((w.out += s), true);
  process.stderr.write = (s: string) => ((w.err += s), true);
  try {
    fn();
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
  }
  return w;
}

const summary: TunnelSummary = {
  gateway: 'vpn.example.com',
  gatewayAddress: '198.51.100.10',
  device: 'vpn0',
  mtu: 1400,
  virtualIp4: '192.0.2.7',
  dns: ['192.0.2.53'],
  domains: [HOSTILE],
  routes: ['0.0.0.0/0'],
  ike: {
    ikeProposal: 'AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519',
    espProposal: 'AES_GCM_16_256',
    remoteId: HOSTILE,
    localId: '192.0.2.1',
    natHere: false,
    natThere: false,
    remote: { address: '198.51.100.10', port: 4500 },
  } as unknown as TunnelSummary['ike'],
  connectMs: 120,
  espPath: 'js',
};

for (const mode of ['plain', 'tty', 'json'] as const) {
  test(`Ui (${mode}): errors, events, info and log lines carry no raw control character`, async () => {
    const ui = await Ui.create(mode, true);
    const w = capture(() => {
      ui.onEvent({ type: 'stage', stage: 'ike-auth', detail: HOSTILE });
      ui.onEvent({ type: 'reconnecting', attempt: 1, inMs: 1000, reason: HOSTILE });
      ui.onEvent({ type: 'roamed', local: HOSTILE, remote: HOSTILE, by: 'peer' });
      ui.onEvent({ type: 'rekeyed', what: 'child', by: 'peer', proposal: HOSTILE });
      ui.onEvent({ type: 'up', summary });
      ui.info(HOSTILE);
      ui.logger().error('ike', HOSTILE, { id: HOSTILE });
      ui.logger().info('ike', HOSTILE);
      ui.onEvent({
        type: 'down',
        byPeer: false,
        error: new VpnError('ERR_IKE_AUTH_FAILED', `gateway identified as "${HOSTILE}"`),
      });
      ui.fail(`another: ${HOSTILE}`);
    });
    // Output lines end in \n; inside them nothing raw. In a terminal ora draws its own colours and
    // cursor moves (CSI sequences ESC [ ... and CR); HOSTILE has none of those, so strip them.

    const ours = mode === 'tty' ? /\x1b\[[0-9;?]*[A-Za-z]|\r/g : /$^/g;
    for (const line of (w.out + w.err).replace(ours, '').split('\n'))
      assert.equal(RAW.test(line), false, JSON.stringify(line));
    if (mode === 'json') {
      const events = w.out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const err = events.find((e) => e['event'] === 'error')!;
      assert.equal(err['error'], `another: ${HOSTILE}`);
      const down = events.find((e) => e['event'] === 'down')!;
      assert.equal(down['error'], `gateway identified as "${HOSTILE}"`);
      assert.ok(events.some((e) => e['event'] === 'up'));
    } else {
      assert.ok(
        w.err.includes('gateway identified as "gw\\x1b]0;pwned\\x07 \\u009b31m red \\u202eevil"'),
      );
      assert.ok(w.err.includes('\\u009b31m'));
    }
  });
}

test('summaryLines (connect and vpn status text) escape the gateway ID and domains', () => {
  const lines = summaryLines(summary);
  for (const l of lines) assert.equal(RAW.test(l), false, l);
  assert.ok(lines.some((l) => l.includes('Gateway ID:  gw\\x1b]0;pwned\\x07')));
});
