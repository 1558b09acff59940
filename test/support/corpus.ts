/** Fuzz corpus: the strongSwan captures plus messages our own session and test responder build. */
import { SeededRandom } from '../../src/core/random.js';
import { IkeSession, DEFAULT_RETRANSMIT } from '../../src/ike/session.js';
import type { IkeOutput } from '../../src/ike/session.js';
import { parseProposals } from '../../src/ike/sa/proposals.js';
import { anyTs } from '../../src/ike/sa/traffic-selectors.js';
import { parseIdentity } from '../../src/ike/identity.js';
import { encodeMessage, encodePayloadChain } from '../../src/ike/codec/index.js';
import type { NotifyPayload } from '../../src/ike/codec/index.js';
import { encodeGwAddress, encodeGwIdentity } from '../../src/ike/redirect.js';
import { encodePpkIdentity } from '../../src/ike/ppk.js';
import { concatBytes } from '../../src/core/bytes.js';
import { TestResponder } from './test-responder.js';
import { v1Corpus } from './fuzz-v1.js';
import { readFileSync } from 'node:fs';
import { captures } from './vectors.js';
import { findRepoFile } from './paths.js';
import { pemToDer } from '../../src/pki/x509.js';

export function fuzzCorpus(): Uint8Array[] {
  const out = [...captures().values()];
  const psk = new TextEncoder().encode('fuzz');
  const session = new IkeSession(
    {
      localId: parseIdentity('client@test'),
      auth: { kind: 'psk', psk },
      gatewayAuth: { psk },
      fragmentSize: 1280,
      ikeProposals: parseProposals('aes256gcm16-prfsha256-x25519,aes128-sha256-modp2048', 'ike'),
      espProposals: parseProposals('aes256gcm16', 'esp'),
      request: { ip4: true, ip6: true, dns: true },
      tsLocal: anyTs(true),
      tsRemote: anyTs(true),
      forceEncap: true,
      retransmit: DEFAULT_RETRANSMIT,
      maxInitRetries: 5,
      replayWindow: 1024,
      dpdDelayMs: 0,
      childRekeyMs: 0,
      ikeRekeyMs: 0,
    },
    new SeededRandom(11),
  );
  const resp = new TestResponder({
    psk,
    id: parseIdentity('@gw.test'),
    address: { address: '198.51.100.10', port: 4500 },
    random: new SeededRandom(12),
  });
  const client = { address: '192.0.2.2', port: 500 };
  let outputs: IkeOutput[] = session.handle(
    { kind: 'start', local: client, remote: { address: '198.51.100.10', port: 500 } },
    0,
  );
  for (let i = 0; i < 4; i++) {
    const send = outputs.find((o): o is Extract<IkeOutput, { kind: 'send' }> => o.kind === 'send');
    if (!send) break;
    out.push(send.data);
    const answer = resp.receive(send.data, client);
    if (!answer) break;
    out.push(answer);
    outputs = session.handle(
      { kind: 'datagram', data: answer, from: { address: '198.51.100.10', port: send.to.port } },
      0,
    );
  }
  out.push(resp.request('delete-child'));
  out.push(...hybridMessages());
  // A fragmented message (RFC 7383) with two SKF payloads' worth of structure.
  out.push(
    encodeMessage(
      {
        spiI: new Uint8Array(8).fill(1),
        spiR: new Uint8Array(8).fill(2),
        version: 0x20,
        exchangeType: 35,
        flags: 0x08,
        messageId: 1,
      },
      [
        {
          type: 53,
          critical: false,
          firstInner: 35,
          fragmentNumber: 1,
          totalFragments: 2,
          body: new Uint8Array(40).fill(7),
        },
      ],
    ),
  );
  // RFC 5685 and RFC 8784 notifies: an IKE_SA_INIT response that is only a REDIRECT (with the
  // nonce), a payload chain of the others, and their notification data on its own.
  const n = (notifyType: number, data: Uint8Array): NotifyPayload => ({
    type: 41,
    critical: false,
    protocol: 0,
    spi: new Uint8Array(0),
    notifyType,
    data,
  });
  const redirect = encodeGwAddress('198.51.100.20', new Uint8Array(32).fill(5));
  out.push(
    encodeMessage(
      {
        spiI: new Uint8Array(8).fill(1),
        spiR: new Uint8Array(8),
        version: 0x20,
        exchangeType: 34,
        flags: 0x20,
        messageId: 0,
      },
      [n(16407, redirect)],
    ),
  );
  const fqdn = encodeGwIdentity({ kind: 'fqdn', value: 'gw2.example.net' });
  const ppkId = encodePpkIdentity(new TextEncoder().encode('ppk-id'));
  const chain = encodePayloadChain([
    n(16406, new Uint8Array(0)), // REDIRECT_SUPPORTED
    n(16407, fqdn), // REDIRECT (INFORMATIONAL, IKE_AUTH)
    n(16408, encodeGwAddress('2001:db8::1')), // REDIRECTED_FROM
    n(16435, new Uint8Array(0)), // USE_PPK
    n(16436, ppkId), // PPK_IDENTITY
    n(16437, new Uint8Array(32).fill(3)), // NO_PPK_AUTH
  ]).bytes;
  // The fuzzer decodes chains after a header's worth of bytes (28).
  out.push(concatBytes(new Uint8Array(28), chain), redirect, fqdn, ppkId);
  // X.509 certificates (the gateway sends them in CERT payloads) and EAP packets.
  for (const name of ['gw-rsa.crt', 'gw-ecdsa.crt', 'gw-ed25519.crt', 'gw-pss.crt', 'int-ca.crt']) {
    out.push(...pemToDer(readFileSync(findRepoFile(`test/pki/fixtures/${name}`), 'utf8')));
  }
  out.push(
    Uint8Array.of(1, 1, 0, 5, 1), // EAP Request/Identity
    Uint8Array.of(1, 2, 0, 22, 4, 16, ...new Uint8Array(16).fill(9)), // MD5-Challenge
    Uint8Array.of(1, 3, 0, 10, 26, 1, 3, 0, 5, 9), // MSCHAPv2-shaped
    Uint8Array.of(1, 4, 0, 6, 13, 0x20), // EAP-TLS Start
    Uint8Array.of(3, 5, 0, 4), // Success
  );
  // IKEv1 (issue 17): ISAKMP messages of our codec and strongSwan's IKEv1 captures.
  out.push(...v1Corpus());
  return out;
}

/**
 * RFC 9370 / ML-KEM messages (issue 16): a hybrid IKE_SA_INIT exchange (ADDKE transforms,
 * INTERMEDIATE_EXCHANGE_SUPPORTED) and an IKE_FOLLOWUP_KE-shaped message in the clear (KE with
 * an ML-KEM method, N(ADDITIONAL_KEY_EXCHANGE)) whose payloads the mutations reach.
 */
function hybridMessages(): Uint8Array[] {
  const psk = new TextEncoder().encode('fuzz');
  const session = new IkeSession(
    {
      localId: parseIdentity('client@test'),
      auth: { kind: 'psk', psk },
      gatewayAuth: { psk },
      fragmentSize: 1280,
      ikeProposals: parseProposals(
        'aes256gcm16-prfsha384-x25519-ke1_mlkem768-ke1_mlkem1024-ke2_none-ke2_mlkem512',
        'ike',
      ),
      espProposals: parseProposals('aes256gcm16-x25519-ke1_mlkem768', 'esp'),
      request: { ip4: true, ip6: false, dns: true },
      tsLocal: anyTs(false),
      tsRemote: anyTs(false),
      forceEncap: true,
      retransmit: DEFAULT_RETRANSMIT,
      maxInitRetries: 5,
      replayWindow: 1024,
      dpdDelayMs: 0,
      childRekeyMs: 0,
      ikeRekeyMs: 0,
    },
    new SeededRandom(13),
  );
  const resp = new TestResponder({
    psk,
    id: parseIdentity('@gw.test'),
    address: { address: '198.51.100.10', port: 4500 },
    random: new SeededRandom(14),
  });
  const client = { address: '192.0.2.2', port: 500 };
  const out: Uint8Array[] = [];
  const first = session
    .handle({ kind: 'start', local: client, remote: { address: '198.51.100.10', port: 500 } }, 0)
    .find((o): o is Extract<IkeOutput, { kind: 'send' }> => o.kind === 'send');
  if (first) {
    out.push(first.data);
    const answer = resp.receive(first.data, client);
    if (answer) out.push(answer);
  }
  out.push(
    encodeMessage(
      {
        spiI: new Uint8Array(8).fill(3),
        spiR: new Uint8Array(8).fill(4),
        version: 0x20,
        exchangeType: 44,
        flags: 0x08,
        messageId: 3,
      },
      [
        { type: 34, critical: false, dhGroup: 36, data: new Uint8Array(48).fill(0x5a) },
        {
          type: 41,
          critical: false,
          protocol: 0,
          spi: new Uint8Array(0),
          notifyType: 16441,
          data: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8),
        },
      ],
    ),
  );
  return out;
}
