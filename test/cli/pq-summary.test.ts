/**
 * The connect summary and `vpn status` text name the key exchanges and whether the tunnel is
 * post-quantum protected (issue 16 item 5); `--pq` is a connect flag and a profile key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summaryLines } from '../../src/cli/ui.js';
import type { TunnelSummary } from '../../src/client/tunnel.js';
import { keyExchangesOfText } from '../../src/ike/sa/proposals.js';
import { PROFILE_KEYS } from '../../src/config/profile.js';

function summary(ikeProposal: string): TunnelSummary {
  return {
    gateway: 'vpn.example.com',
    gatewayAddress: '198.51.100.10',
    device: 'vpn0',
    mtu: 1400,
    virtualIp4: '192.0.2.7',
    dns: [],
    domains: [],
    routes: ['0.0.0.0/0'],
    ike: {
      ikeProposal,
      espProposal: 'aes256gcm16',
      remoteId: 'gw.test',
      localId: 'client@test',
      natHere: false,
      natThere: false,
      remote: { address: '198.51.100.10', port: 4500 },
      ...keyExchangesOfText(ikeProposal),
    } as unknown as TunnelSummary['ike'],
    connectMs: 120,
    espPath: 'js',
  };
}

test('summary: "Key exchange: x25519 + ML-KEM-768 (post-quantum protected)"', () => {
  const lines = summaryLines(summary('aes256gcm16-prfsha384-x25519-ke1_mlkem768'));
  assert.ok(
    lines.includes('Key exchange: x25519 + ML-KEM-768 (post-quantum protected)'),
    lines.join('\n'),
  );
});

test('summary of a classic tunnel says it is not post-quantum', () => {
  const lines = summaryLines(summary('aes256gcm16-prfsha256-x25519'));
  assert.ok(
    lines.includes('Key exchange: x25519 (not post-quantum: classic only)'),
    lines.join('\n'),
  );
});

test('pq is a profile key with the --pq choices', () => {
  assert.deepEqual(PROFILE_KEYS['pq'], {
    kind: 'choice',
    choices: ['required', 'preferred', 'off'],
  });
});
