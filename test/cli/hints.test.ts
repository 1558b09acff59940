/** The AUTHENTICATION_FAILED hint names every flag that can cause it, --remote-id included. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VpnError } from '../../src/core/errors.js';
import { withHint } from '../../src/cli/hints.js';

const refused = new VpnError(
  'ERR_IKE_AUTH_FAILED',
  'the gateway rejected our credentials (AUTHENTICATION_FAILED): check the pre-shared key and --id',
);

test('AUTHENTICATION_FAILED: the hint names the PSK, --id and --remote-id', () => {
  const e = withHint(refused, { hostCheck: true, remoteId: '@gw.wrong' });
  assert.equal(e.code, 'ERR_IKE_AUTH_FAILED');
  assert.match(
    e.message,
    /\(AUTHENTICATION_FAILED\): check the pre-shared key, --id .* --remote-id/,
  );
  assert.match(e.message, /"@gw\.wrong"/);
  const none = withHint(refused, { hostCheck: true });
  assert.match(none.message, /--remote-id/);
});

test('AUTHENTICATION_FAILED with a certificate or EAP names those, not a PSK', () => {
  const cert = withHint(refused, { hostCheck: true, cert: 'c.pem', key: 'k.pem' });
  assert.match(cert.message, /our certificate .*--id .*--remote-id/);
  assert.doesNotMatch(cert.message, /pre-shared/);
  const eap = withHint(refused, { hostCheck: true, eapIdentity: 'bob' });
  assert.match(eap.message, /EAP identity and password/);
});

test('other errors are left as they are', () => {
  const other = new VpnError('ERR_IKE_AUTH_FAILED', 'gateway identified as "x", expected "y"');
  assert.equal(withHint(other, { hostCheck: true }), other);
  const timeout = new VpnError('ERR_IKE_TIMEOUT', 'no answer');
  assert.equal(withHint(timeout, { hostCheck: true }), timeout);
});
