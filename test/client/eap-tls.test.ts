/**
 * EAP-TLS peer (src/client/eap-tls.ts) against the in-memory EAP-TLS server of
 * test/support/eap-tls-server.ts: whole conversations in TLS 1.2 (RFC 5216) and TLS 1.3
 * (RFC 9190), fragmentation both ways, MSK agreement (and an independent MSK computation from the
 * TLS key log), certificate failures, and the framing limits with hand-made Requests.
 *
 * Certificates: test/client/fixtures/eap-tls, made once by scripts/make-eap-tls-fixtures.sh.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  X509Certificate,
} from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { VpnError } from '../../src/core/errors.js';
import type { AsyncEapMethod } from '../../src/eap/types.js';
import {
  createEapTls,
  EAP_TLS_FLAG_LENGTH,
  EAP_TLS_FLAG_MORE,
  EAP_TLS_FLAG_START,
  EAP_TYPE_TLS,
  type EapTlsOptions,
} from '../../src/client/eap-tls.js';
import { parseIdentity } from '../../src/ike/identity.js';
import {
  EapTlsServer,
  type EapTlsServerOptions,
  type ServerStep,
} from '../support/eap-tls-server.js';

// ---------------------------------------------------------------------------------------------
// Fixtures

const FIXTURES = 'test/client/fixtures/eap-tls';

/**
 * The fixtures: walk up from this module (the source, or any build output) to the directory with
 * package.json and the fixtures; from a build outside the repository, start from the source file
 * named in the source map, then from the working directory.
 */
function fixtureDir(): string {
  const here = fileURLToPath(import.meta.url);
  const starts = [dirname(here)];
  try {
    const map = JSON.parse(readFileSync(`${here}.map`, 'utf8')) as {
      sources?: string[];
      sourceRoot?: string;
    };
    const source = map.sources?.[0];
    if (source !== undefined)
      starts.push(dirname(resolve(dirname(here), map.sourceRoot ?? '', source)));
  } catch {
    // no source map: running from the source itself, or built without maps
  }
  starts.push(process.cwd());
  for (const start of starts) {
    let dir = start;
    for (;;) {
      if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, FIXTURES))) {
        return join(dir, FIXTURES);
      }
      const up = dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  throw new Error(`cannot find ${FIXTURES} above ${here} or ${process.cwd()}`);
}
const DIR = fixtureDir();
const pem = (name: string): string => readFileSync(join(DIR, name), 'utf8');
const der = (name: string): Uint8Array => new Uint8Array(new X509Certificate(pem(name)).raw);
const key = (name: string) => createPrivateKey(pem(name));

const CA = der('ca.crt');
const CLIENT = { cert: [der('client.crt')], key: key('client.key') };
/** A client under the intermediate CA: sends leaf + intermediate. */
const CLIENT_RSA = { cert: [der('client-rsa.crt'), der('int-ca.crt')], key: key('client-rsa.key') };
const SERVER = { cert: pem('server.crt'), key: pem('server.key') };
const SERVER_RSA = { cert: pem('server-rsa-chain.pem'), key: pem('server-rsa.key') };

// ---------------------------------------------------------------------------------------------
// Harness

type ClientEvent = { kind: 'response'; packet: Uint8Array } | { kind: 'failure'; error: VpnError };

/** Records the client's callbacks and checks they never run inside request(). */
class Probe {
  readonly events: ClientEvent[] = [];
  inRequest = false;
  syncCallbacks = 0;
  failures = 0;
  #waiter: ((e: ClientEvent) => void) | undefined;

  push(e: ClientEvent): void {
    if (this.inRequest) this.syncCallbacks++;
    if (e.kind === 'failure') this.failures++;
    const w = this.#waiter;
    if (w !== undefined) {
      this.#waiter = undefined;
      w(e);
    } else {
      this.events.push(e);
    }
  }

  next(ms = 5000): Promise<ClientEvent> {
    const queued = this.events.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        reject(new Error(`no callback from the EAP-TLS client within ${ms} ms`));
      }, ms);
      this.#waiter = (e) => {
        clearTimeout(timer);
        resolve(e);
      };
    });
  }
}

/** Options for the client under test; `serverName: null` leaves the name out (default eap.test). */
type ClientOverrides = Partial<Omit<EapTlsOptions, 'onResponse' | 'onFailure' | 'serverName'>> & {
  serverName?: string | null;
};

function makeClient(probe: Probe, overrides: ClientOverrides = {}): AsyncEapMethod {
  const { serverName, ...rest } = overrides;
  return createEapTls({
    ca: [CA],
    ...(serverName === null ? {} : { serverName: serverName ?? 'eap.test' }),
    ...rest,
    onResponse: (packet) => probe.push({ kind: 'response', packet }),
    onFailure: (error) => probe.push({ kind: 'failure', error }),
  });
}

function send(client: AsyncEapMethod, probe: Probe, packet: Uint8Array): void {
  probe.inRequest = true;
  try {
    client.request(packet);
  } finally {
    probe.inRequest = false;
  }
}

/** A few event-loop turns and a timer tick: time for late (wrong) callbacks to show up. */
async function quiet(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((r) => setImmediate(r));
  await new Promise<void>((r) => setTimeout(r, 20));
}

interface Conversation {
  done: boolean;
  msk: Uint8Array | undefined;
  clientError: VpnError | undefined;
  step: ServerStep | undefined;
  server: EapTlsServer;
  /** The client's Responses, in order. */
  responses: Uint8Array[];
}

/** Runs Start → … → Success/Failure between a fresh client and server. */
async function converse(
  serverOpts: Partial<EapTlsServerOptions> = {},
  clientOpts: ClientOverrides = {},
): Promise<Conversation> {
  const server = new EapTlsServer({ ...SERVER, ...serverOpts });
  const probe = new Probe();
  const client = makeClient(probe, clientOpts);
  const responses: Uint8Array[] = [];
  let packet = server.start();
  let step: ServerStep | undefined;
  let clientError: VpnError | undefined;
  try {
    for (let i = 0; i < 300; i++) {
      send(client, probe, packet);
      const ev = await probe.next();
      if (ev.kind === 'failure') {
        clientError = ev.error;
        break;
      }
      responses.push(ev.packet);
      step = await server.handle(ev.packet);
      if (step.kind !== 'request') break;
      packet = step.packet;
    }
    await quiet();
    assert.equal(probe.syncCallbacks, 0, 'a callback ran synchronously inside request()');
    assert.deepEqual(probe.events, [], 'no callbacks beyond one per Request');
    assert.ok(probe.failures <= 1, 'at most one onFailure');
    return { done: client.done(), msk: client.msk(), clientError, step, server, responses };
  } finally {
    client.close();
    server.close();
  }
}

/** Asserts a successful conversation with identical 64-byte MSKs on both sides. */
function assertSuccess(c: Conversation): Uint8Array {
  assert.equal(c.clientError, undefined, `client failed: ${c.clientError?.message}`);
  assert.equal(c.step?.kind, 'success', c.step?.kind === 'failure' ? c.step.reason : undefined);
  assert.equal(c.done, true);
  assert.ok(c.msk !== undefined);
  assert.equal(c.msk.length, 64);
  const serverMsk = c.server.msk();
  assert.ok(serverMsk !== undefined);
  assert.deepEqual(Buffer.from(c.msk), Buffer.from(serverMsk), 'both sides derive the same MSK');
  assert.notDeepEqual(Buffer.from(c.msk), Buffer.alloc(64));
  return c.msk;
}

function assertClientFailure(c: Conversation, code: string, message?: RegExp): VpnError {
  assert.ok(
    c.clientError !== undefined,
    `expected ${code}, the conversation ended with ${c.step?.kind}`,
  );
  assert.equal(c.clientError.code, code, c.clientError.message);
  if (message !== undefined) assert.match(c.clientError.message, message);
  assert.equal(c.done, false);
  assert.equal(c.msk, undefined);
  return c.clientError;
}

/** An EAP-TLS Request (RFC 5216 §3.1). */
function request(id: number, flags: number, data: Uint8Array, tlsLength?: number): Uint8Array {
  const extra = tlsLength === undefined ? 0 : 4;
  const p = new Uint8Array(6 + extra + data.length);
  const dv = new DataView(p.buffer);
  p[0] = 1;
  p[1] = id;
  dv.setUint16(2, p.length);
  p[4] = EAP_TYPE_TLS;
  p[5] = flags;
  if (tlsLength !== undefined) dv.setUint32(6, tlsLength);
  p.set(data, 6 + extra);
  return p;
}
const START = (id: number): Uint8Array => request(id, EAP_TLS_FLAG_START, new Uint8Array(0));

/** A client that has answered the Start with its ClientHello. */
async function startedClient(
  overrides: ClientOverrides = {},
): Promise<{ client: AsyncEapMethod; probe: Probe; hello: Uint8Array }> {
  const probe = new Probe();
  const client = makeClient(probe, overrides);
  send(client, probe, START(7));
  const ev = await probe.next();
  assert.equal(ev.kind, 'response');
  if (ev.kind !== 'response') throw new Error('unreachable');
  return { client, probe, hello: ev.packet };
}

async function expectFailure(probe: Probe, code: string, message: RegExp): Promise<VpnError> {
  const ev = await probe.next();
  assert.equal(ev.kind, 'failure', ev.kind === 'response' ? 'got a Response instead' : '');
  if (ev.kind !== 'failure') throw new Error('unreachable');
  assert.equal(ev.error.code, code);
  assert.match(ev.error.message, message);
  await quiet();
  assert.equal(probe.failures, 1);
  assert.deepEqual(probe.events, []);
  assert.equal(probe.syncCallbacks, 0);
  return ev.error;
}

function isAck(packet: Uint8Array, id: number): boolean {
  return Buffer.from(packet).equals(Buffer.from([2, id, 0, 6, EAP_TYPE_TLS, 0]));
}

// ---------------------------------------------------------------------------------------------
// Independent key derivations from the NSS key log

function hmac(hash: string, k: Uint8Array, data: Uint8Array): Buffer {
  return createHmac(hash, k).update(data).digest();
}

/** RFC 5246 §5: P_hash, the TLS 1.2 PRF. */
function tls12Prf(hash: string, secret: Uint8Array, label: string, seed: Uint8Array, n: number) {
  const s = Buffer.concat([Buffer.from(label, 'latin1'), seed]);
  let a: Buffer = s;
  const out: Buffer[] = [];
  let len = 0;
  while (len < n) {
    a = hmac(hash, secret, a);
    const block = hmac(hash, secret, Buffer.concat([a, s]));
    out.push(block);
    len += block.length;
  }
  return Buffer.concat(out).subarray(0, n);
}

/** RFC 8446 §7.1 HKDF-Expand-Label. */
function hkdfExpandLabel(
  hash: string,
  secret: Uint8Array,
  label: string,
  ctx: Uint8Array,
  n: number,
) {
  const full = Buffer.from(`tls13 ${label}`, 'latin1');
  const info = Buffer.concat([
    Buffer.from([n >> 8, n & 0xff, full.length]),
    full,
    Buffer.from([ctx.length]),
    ctx,
  ]);
  const out: Buffer[] = [];
  let t: Buffer = Buffer.alloc(0);
  for (let i = 1; Buffer.concat(out).length < n; i++) {
    t = hmac(hash, secret, Buffer.concat([t, info, Buffer.from([i])]));
    out.push(t);
  }
  return Buffer.concat(out).subarray(0, n);
}

/** RFC 8446 §7.5 TLS-Exporter. */
function tls13Exporter(
  hash: string,
  exporterSecret: Uint8Array,
  label: string,
  ctx: Uint8Array,
  n: number,
) {
  const empty = createHash(hash).digest();
  const derived = hkdfExpandLabel(hash, exporterSecret, label, empty, empty.length);
  return hkdfExpandLabel(hash, derived, 'exporter', createHash(hash).update(ctx).digest(), n);
}

function keylogSecret(server: EapTlsServer, label: string): Buffer {
  const line = server.keylog.find((l) => l.startsWith(`${label} `));
  assert.ok(line !== undefined, `no ${label} in the key log`);
  return Buffer.from(line.split(' ')[2]!, 'hex');
}

function prfHash(server: EapTlsServer): string {
  const name = server.cipher?.standardName ?? '';
  return name.endsWith('SHA384') ? 'sha384' : 'sha256';
}

/** client.random from the ClientHello, server.random from the ServerHello (RFC 5246 §7.4.1). */
function helloRandom(flight: Uint8Array | undefined, handshakeType: number): Buffer {
  assert.ok(flight !== undefined);
  assert.equal(flight[0], 22, 'handshake record');
  assert.equal(flight[5], handshakeType);
  return Buffer.from(flight.subarray(11, 43));
}

// ---------------------------------------------------------------------------------------------
// Whole conversations

test('TLS 1.2 with client certificate: MSK agrees and equals PRF(master, "client EAP encryption", randoms)', async () => {
  const c = await converse({ ca: [pem('ca.crt')] }, CLIENT);
  const msk = assertSuccess(c);
  assert.equal(c.server.protocol, 'TLSv1.2');
  assert.match(c.server.clientSubject ?? '', /CN=carol/);
  // RFC 5216 §2.3, computed from the master secret in the key log: this checks that node's
  // exportKeyingMaterial without context is the RFC 5216 formula (RFC 5705 without context).
  const master = keylogSecret(c.server, 'CLIENT_RANDOM');
  const clientRandom = helloRandom(c.server.clientFlights[0], 1);
  const serverRandom = helloRandom(c.server.serverFlights[0], 2);
  const expected = tls12Prf(
    prfHash(c.server),
    master,
    'client EAP encryption',
    Buffer.concat([clientRandom, serverRandom]),
    128,
  ).subarray(0, 64);
  assert.deepEqual(Buffer.from(msk), expected);
  // RFC 5216 §2.1.1: the peer answers the server's final flight (CCS, Finished) with an empty
  // Response, to which the server sends EAP-Success.
  const last = c.responses.at(-1)!;
  assert.equal(last.length, 6);
});

test('TLS 1.2 with a SHA-256 PRF suite (RSA server): MSK agrees with the PRF', async () => {
  const c = await converse(
    { ...SERVER_RSA, ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' },
    { fragmentSize: 400 },
  );
  const msk = assertSuccess(c);
  assert.equal(c.server.cipher?.standardName, 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256');
  const expected = tls12Prf(
    'sha256',
    keylogSecret(c.server, 'CLIENT_RANDOM'),
    'client EAP encryption',
    Buffer.concat([
      helloRandom(c.server.clientFlights[0], 1),
      helloRandom(c.server.serverFlights[0], 2),
    ]),
    64,
  );
  assert.deepEqual(Buffer.from(msk), expected);
});

for (const suite of ['TLS_AES_256_GCM_SHA384', 'TLS_AES_128_GCM_SHA256']) {
  test(`TLS 1.3 (${suite}) with client certificate and commitment: MSK = TLS-Exporter("EXPORTER_EAP_TLS_Key_Material", 0x0D)`, async () => {
    const c = await converse(
      { ca: [pem('ca.crt')], ciphers: suite },
      { ...CLIENT, maxVersion: 'TLSv1.3' },
    );
    const msk = assertSuccess(c);
    assert.equal(c.server.protocol, 'TLSv1.3');
    assert.equal(c.server.cipher?.standardName, suite);
    const hash = suite.endsWith('SHA384') ? 'sha384' : 'sha256';
    const expected = tls13Exporter(
      hash,
      keylogSecret(c.server, 'EXPORTER_SECRET'),
      'EXPORTER_EAP_TLS_Key_Material',
      Uint8Array.of(13),
      128,
    ).subarray(0, 64);
    assert.deepEqual(Buffer.from(msk), expected);
    // RFC 9190 §2.1.1: the commitment message is answered with an empty Response.
    assert.equal(c.responses.at(-1)!.length, 6);
  });
}

test('maxVersion defaults to TLS 1.2 even when the server offers TLS 1.3', async () => {
  const c = await converse({ maxVersion: 'TLSv1.3' });
  assertSuccess(c);
  assert.equal(c.server.protocol, 'TLSv1.2');
});

test('minVersion TLSv1.3 against a TLS 1.2-only server fails the handshake', async () => {
  const c = await converse(
    { maxVersion: 'TLSv1.2' },
    { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' },
  );
  assertClientFailure(c, 'ERR_EAP_FAILED', /protocol version/);
});

test('server-only authentication (no client certificate requested) in TLS 1.2 and 1.3', async () => {
  assertSuccess(await converse({}, {}));
  assertSuccess(await converse({}, { maxVersion: 'TLSv1.3' }));
});

for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
  test(`${version}: 200-byte fragments both ways, chains on both sides, ACKs and identifiers`, async () => {
    const c = await converse(
      { ...SERVER_RSA, ca: [pem('ca.crt')], fragmentSize: 200, firstIdentifier: 250 },
      { ...CLIENT_RSA, fragmentSize: 200, maxVersion: version },
    );
    assertSuccess(c);
    assert.equal(c.server.protocol, version);
    assert.match(c.server.clientSubject ?? '', /CN=dave/);
    // The server's fragments were acknowledged with bare 6-octet Responses (RFC 5216 §2.1.5).
    const reqs = c.server.requests;
    let serverFragmentAcks = 0;
    for (let i = 0; i < c.responses.length; i++) {
      const req = reqs[i]!;
      const resp = c.responses[i]!;
      // RFC 3748 §4.1: the Response carries the Identifier of the Request it answers.
      assert.equal(resp[1], req[1]);
      if ((req[5]! & EAP_TLS_FLAG_MORE) !== 0) {
        assert.ok(isAck(resp, req[1]!), `Response ${i} must be an ACK`);
        serverFragmentAcks++;
      }
    }
    assert.ok(serverFragmentAcks >= 3, `server sent ${serverFragmentAcks + 1}+ fragments`);
    // The identifiers wrapped around 255 → 0.
    assert.ok(reqs.some((r) => r[1] === 0));
    // Our fragments: at most 200 octets of TLS data, L with the total on the first only, M on all
    // but the last of each message.
    let inMessage = false;
    let total = 0;
    let got = 0;
    let ourFragments = 0;
    for (const r of c.responses) {
      const flags = r[5]!;
      const hasL = (flags & EAP_TLS_FLAG_LENGTH) !== 0;
      const more = (flags & EAP_TLS_FLAG_MORE) !== 0;
      const dataLen = r.length - 6 - (hasL ? 4 : 0);
      assert.ok(dataLen <= 200, `fragment of ${dataLen} bytes`);
      assert.equal(flags & ~(EAP_TLS_FLAG_LENGTH | EAP_TLS_FLAG_MORE), 0);
      if (!inMessage) {
        if (more) {
          assert.ok(hasL, 'first fragment carries L');
          total = new DataView(r.buffer, r.byteOffset).getUint32(6);
          got = dataLen;
          inMessage = true;
          ourFragments++;
        } else {
          assert.ok(!hasL, 'unfragmented messages go without L');
        }
      } else {
        assert.ok(!hasL, 'L only on the first fragment');
        got += dataLen;
        ourFragments++;
        if (!more) {
          assert.equal(got, total);
          inMessage = false;
        }
      }
    }
    assert.ok(ourFragments >= 4, `we sent ${ourFragments} fragments`);
    // Every client TLS message the server reassembled arrived whole.
    assert.ok(c.server.clientFlights.length >= 2);
  });
}

test('servers that put L on every fragment, or on no unfragmented message, are accepted', async () => {
  assertSuccess(
    await converse({ fragmentSize: 300, lengthOnEveryFragment: true }, { fragmentSize: 300 }),
  );
  assertSuccess(await converse({ lengthOnSingle: false }, {}));
  assertSuccess(
    await converse(
      { fragmentSize: 100, lengthOnEveryFragment: true, maxVersion: 'TLSv1.3' },
      { maxVersion: 'TLSv1.3' },
    ),
  );
});

test('TLS 1.3 without the commitment message (strongSwan 5.9.8 style): never done, no MSK', async () => {
  const c = await converse({ commitment: false }, { maxVersion: 'TLSv1.3' });
  // The server ends with EAP-Success, but the peer must not accept it (RFC 9190 §2.1.1).
  assert.equal(c.step?.kind, 'success');
  assert.equal(c.clientError, undefined);
  assert.equal(c.done, false);
  assert.equal(c.msk, undefined);
});

test('TLS 1.3 commitment with a wrong value fails', async () => {
  const c = await converse({ commitmentData: Uint8Array.of(1) }, { maxVersion: 'TLSv1.3' });
  assertClientFailure(c, 'ERR_EAP_FAILED', /1 byte of unexpected TLS application data.*0x00/);
});

// ---------------------------------------------------------------------------------------------
// Certificates

for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
  test(`${version}: a server certificate from an untrusted CA → ERR_CERT_UNTRUSTED`, async () => {
    const c = await converse(
      { cert: pem('server-evil.crt'), key: pem('server-evil.key') },
      { ...CLIENT, maxVersion: version },
    );
    assertClientFailure(c, 'ERR_CERT_UNTRUSTED', /not trusted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
  });

  test(`${version}: an expired server certificate → ERR_CERT_EXPIRED`, async () => {
    const c = await converse(
      { cert: pem('server-expired.crt'), key: pem('server-expired.key') },
      { maxVersion: version },
    );
    assertClientFailure(c, 'ERR_CERT_EXPIRED', /has expired \(CERT_HAS_EXPIRED\)/);
  });

  test(`${version}: a server name mismatch → ERR_CERT_NAME`, async () => {
    const c = await converse({}, { serverName: 'other.test', maxVersion: version });
    assertClientFailure(c, 'ERR_CERT_NAME', /does not name other\.test/);
  });
}

test('a not-yet-valid server certificate → ERR_CERT_EXPIRED', async () => {
  const c = await converse({ cert: pem('server-future.crt'), key: pem('server-future.key') });
  assertClientFailure(c, 'ERR_CERT_EXPIRED', /not yet valid \(CERT_NOT_YET_VALID\)/);
});

test('a self-signed server certificate → ERR_CERT_UNTRUSTED', async () => {
  const c = await converse({
    cert: pem('server-selfsigned.crt'),
    key: pem('server-selfsigned.key'),
  });
  assertClientFailure(c, 'ERR_CERT_UNTRUSTED', /DEPTH_ZERO_SELF_SIGNED_CERT/);
});

test('the untrusted CA in the chain the server sends → ERR_CERT_UNTRUSTED', async () => {
  const c = await converse({
    cert: pem('server-evil.crt') + pem('evil-ca.crt'),
    key: pem('server-evil.key'),
  });
  assertClientFailure(c, 'ERR_CERT_UNTRUSTED', /SELF_SIGNED_CERT_IN_CHAIN/);
});

test('the server chain through an intermediate verifies against the root only', async () => {
  assertSuccess(await converse(SERVER_RSA));
  // Without the intermediate in the server's chain there is no path.
  const c = await converse({ cert: pem('server-rsa.crt'), key: pem('server-rsa.key') });
  assertClientFailure(c, 'ERR_CERT_UNTRUSTED', /UNABLE_TO_(GET_ISSUER_CERT_LOCALLY|VERIFY_LEAF)/);
});

test('server names: IP address SAN, wrong IP', async () => {
  assertSuccess(await converse({}, { serverName: '192.0.2.10' }));
  assertClientFailure(
    await converse({}, { serverName: '192.0.2.11' }),
    'ERR_CERT_NAME',
    /192\.0\.2\.11/,
  );
});

test("the gateway's IKE identity (serverIdentity, --no-host-check --remote-id) instead of or with the name", async () => {
  const byId: ClientOverrides = { serverName: null, serverIdentity: parseIdentity('@eap.test') };
  assertSuccess(await converse({}, byId));
  assertClientFailure(
    await converse({}, { serverName: null, serverIdentity: parseIdentity('@other.test') }),
    'ERR_CERT_NAME',
    /does not carry the gateway's identity "other\.test"/,
  );
  // With both, both must match.
  assertClientFailure(
    await converse({}, { serverIdentity: parseIdentity('@other.test') }),
    'ERR_CERT_NAME',
  );
  assertSuccess(await converse({}, { serverIdentity: parseIdentity('192.0.2.10') }));
  // The identity check never replaces the chain check.
  assertClientFailure(
    await converse({ cert: pem('server-evil.crt'), key: pem('server-evil.key') }, byId),
    'ERR_CERT_UNTRUSTED',
  );
});

test('a client certificate (EKU clientAuth only) from our CA is refused as the EAP-TLS server → ERR_CERT', async () => {
  // A colleague's certificate, trusted CA, and the identity it carries: still not a server.
  const c = await converse(
    { cert: pem('client.crt'), key: pem('client.key') },
    { serverName: null, serverIdentity: parseIdentity('carol@vpn.test') },
  );
  const err = assertClientFailure(c, 'ERR_CERT');
  assert.match(err.message, /serverAuth/);
});

for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
  test(`${version}: no client certificate when the server requires one → ERR_EAP_FAILED with the alert`, async () => {
    const c = await converse({ ca: [pem('ca.crt')] }, { maxVersion: version });
    assertClientFailure(
      c,
      'ERR_EAP_FAILED',
      /aborted the TLS handshake with alert ".+"; it probably requires a client certificate and none is configured/,
    );
  });

  test(`${version}: a client certificate the server does not trust → server Failure, client not done`, async () => {
    const c = await converse(
      { ca: [pem('ca.crt')] },
      { cert: [der('client-evil.crt')], key: key('client-evil.key'), maxVersion: version },
    );
    // node's server verifies the client chain once its handshake is done and then drops the
    // connection without an alert: the server ends with EAP-Failure, and the client, which never
    // saw the server's Finished (1.2) or the commitment message (1.3), is not done.
    assert.equal(c.clientError, undefined);
    assert.equal(c.step?.kind, 'failure');
    if (c.step.kind === 'failure') {
      assert.match(c.step.reason, /client certificate rejected: UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
    }
    assert.equal(c.done, false);
    assert.equal(c.msk, undefined);
  });
}

// ---------------------------------------------------------------------------------------------
// Framing (hand-made Requests)

test('the Start request is answered with a ClientHello in a Response with the same Identifier', async () => {
  const { client, probe, hello } = await startedClient();
  assert.equal(hello[0], 2);
  assert.equal(hello[1], 7);
  assert.equal((hello[2]! << 8) | hello[3]!, hello.length);
  assert.equal(hello[4], 13);
  assert.equal(hello[5], 0, 'a ClientHello fits one fragment: no flags');
  assert.equal(hello[6], 22, 'TLS handshake record');
  assert.equal(hello[11], 1, 'ClientHello');
  assert.equal(probe.syncCallbacks, 0);
  client.close();
});

test('a ClientHello larger than the fragment size goes out in fragments paced by ACKs', async () => {
  const { client, probe, hello } = await startedClient({ fragmentSize: 64 });
  assert.equal(hello[5], EAP_TLS_FLAG_LENGTH | EAP_TLS_FLAG_MORE);
  const total = new DataView(hello.buffer, hello.byteOffset).getUint32(6);
  let got = hello.length - 10;
  let id = 7;
  for (;;) {
    id++;
    send(client, probe, request(id, 0, new Uint8Array(0))); // the server's ACK
    const ev = await probe.next();
    assert.equal(ev.kind, 'response');
    if (ev.kind !== 'response') break;
    assert.equal(ev.packet[1], id);
    assert.ok(ev.packet.length <= 6 + 64);
    got += ev.packet.length - 6;
    if ((ev.packet[5]! & EAP_TLS_FLAG_MORE) === 0) {
      assert.equal(ev.packet[5], 0);
      break;
    }
    assert.equal(ev.packet[5], EAP_TLS_FLAG_MORE);
  }
  assert.equal(got, total);
  // With nothing left to send, another empty Request is a protocol error.
  send(client, probe, request(id + 1, 0, new Uint8Array(0)));
  await expectFailure(probe, 'ERR_EAP_FAILED', /empty EAP-TLS Request/);
  client.close();
});

test('while our fragments are pending, a Request with data instead of an ACK fails', async () => {
  const { client, probe } = await startedClient({ fragmentSize: 64 });
  send(client, probe, request(8, 0, Uint8Array.of(22, 3, 3, 0, 1, 0)));
  await expectFailure(probe, 'ERR_EAP_FAILED', /acknowledge our fragment/);
  client.close();
});

test('incoming fragments are acknowledged with bare empty Responses', async () => {
  const { client, probe } = await startedClient();
  send(
    client,
    probe,
    request(8, EAP_TLS_FLAG_LENGTH | EAP_TLS_FLAG_MORE, new Uint8Array(100), 300),
  );
  let ev = await probe.next();
  assert.ok(ev.kind === 'response' && isAck(ev.packet, 8));
  send(client, probe, request(9, EAP_TLS_FLAG_MORE, new Uint8Array(100)));
  ev = await probe.next();
  assert.ok(ev.kind === 'response' && isAck(ev.packet, 9));
  assert.equal(probe.syncCallbacks, 0);
  client.close();
});

async function framingFailure(packets: Uint8Array[], message: RegExp): Promise<void> {
  const { client, probe } = await startedClient();
  let id = 8;
  for (const [i, p] of packets.entries()) {
    const copy = Uint8Array.from(p);
    copy[1] = id++;
    send(client, probe, copy);
    if (i < packets.length - 1) {
      const ev = await probe.next();
      assert.ok(ev.kind === 'response' && isAck(ev.packet, copy[1]), `fragment ${i} ACKed`);
    }
  }
  await expectFailure(probe, 'ERR_EAP_FAILED', message);
  assert.equal(client.done(), false);
  assert.equal(client.msk(), undefined);
  client.close();
}

const bytes = (n: number): Uint8Array => new Uint8Array(n).fill(0x16);
const LM = EAP_TLS_FLAG_LENGTH | EAP_TLS_FLAG_MORE;
const MORE = EAP_TLS_FLAG_MORE;

test('L above 64 KiB is refused', async () => {
  await framingFailure(
    [request(0, LM, bytes(100), 65537)],
    /65537-byte TLS message.*65536-byte limit/,
  );
  await framingFailure([request(0, LM, bytes(100), 0xffffffff)], /limit/);
});

test('inconsistent L values are refused', async () => {
  // Less than the first fragment holds.
  await framingFailure(
    [request(0, LM, bytes(100), 50)],
    /inconsistent EAP-TLS Length: 50 announced/,
  );
  // An unfragmented message whose L disagrees with its length.
  await framingFailure([request(0, EAP_TLS_FLAG_LENGTH, bytes(100), 120)], /inconsistent/);
  // A later fragment announcing another total.
  await framingFailure(
    [request(0, LM, bytes(100), 300), request(0, LM, bytes(100), 400)],
    /fragment announces 400 bytes, the first announced 300/,
  );
  // M on a first fragment that already holds everything.
  await framingFailure([request(0, LM, bytes(100), 100)], /already holds all 100/);
});

test('fragments beyond the announced total are refused', async () => {
  // More data than announced.
  await framingFailure(
    [request(0, LM, bytes(100), 150), request(0, 0, bytes(100))],
    /more than the 150 announced bytes/,
  );
  // The total is reached but M says more follow.
  await framingFailure(
    [request(0, LM, bytes(100), 200), request(0, MORE, bytes(100))],
    /more fragments after all 200 bytes/,
  );
  // The last fragment ends short of the total.
  await framingFailure(
    [request(0, LM, bytes(100), 300), request(0, 0, bytes(100))],
    /ends the TLS message at 200 bytes, 300 were announced/,
  );
  // An empty fragment with M set would never end.
  await framingFailure(
    [request(0, LM, bytes(100), 300), request(0, MORE, bytes(0))],
    /empty EAP-TLS fragment/,
  );
});

test('fragments without L are capped at 64 KiB', async () => {
  const packets = Array.from({ length: 66 }, () => request(0, MORE, bytes(1000)));
  await framingFailure(packets, /exceeds the 65536-byte limit/);
});

test('garbage TLS data fails with a TLS error', async () => {
  const junk = new TextEncoder().encode('this is not a TLS record at all, just some text');
  await framingFailure(
    [request(0, 0, junk)],
    /TLS failed: wrong version number \(ERR_SSL_WRONG_VERSION_NUMBER\)$/,
  );
});

test('a fragmented garbage message is reassembled, then fails in TLS', async () => {
  const junk = new Uint8Array(500).fill(0x41);
  await framingFailure(
    [
      request(0, LM, junk.subarray(0, 200), 500),
      request(0, MORE, junk.subarray(200, 400)),
      request(0, 0, junk.subarray(400)),
    ],
    /TLS failed/,
  );
});

test('malformed or unexpected Requests fail', async () => {
  const cases: [Uint8Array, RegExp][] = [
    [Uint8Array.of(1, 1, 0, 4), /too short/],
    [Uint8Array.of(2, 1, 0, 6, 13, 0x20), /expected an EAP Request, got Code 2/],
    [Uint8Array.of(1, 1, 0, 6, 4, 0x20), /Type 13\), got Type 4/],
    [Uint8Array.of(1, 1, 0, 9, 13, 0x20), /Length 9 does not fit the 6-byte packet/],
    [Uint8Array.of(1, 1, 0, 8, 13, 0x80, 0, 0), /L flag but no TLS Message Length/],
    [request(1, 0, bytes(10)), /before the Start request/],
  ];
  for (const [packet, message] of cases) {
    const probe = new Probe();
    const client = makeClient(probe);
    send(client, probe, packet);
    await expectFailure(probe, 'ERR_EAP_FAILED', message);
    client.close();
  }
  // A second Start.
  const { client, probe } = await startedClient();
  send(client, probe, START(8));
  await expectFailure(probe, 'ERR_EAP_FAILED', /second EAP-TLS Start/);
  client.close();
});

test('padding beyond the EAP Length is ignored (RFC 3748 §4.1)', async () => {
  const probe = new Probe();
  const client = makeClient(probe);
  send(client, probe, Uint8Array.of(1, 3, 0, 6, 13, 0x20, 0xee, 0xee));
  const ev = await probe.next();
  assert.equal(ev.kind, 'response');
  client.close();
});

test('a Request before the previous one was answered fails once', async () => {
  const probe = new Probe();
  const client = makeClient(probe);
  send(client, probe, START(1));
  send(client, probe, START(2));
  await expectFailure(probe, 'ERR_EAP_FAILED', /before the previous one was answered/);
  client.close();
});

test('a Request after the exchange completed fails', async () => {
  const server = new EapTlsServer({ ...SERVER });
  const probe = new Probe();
  const client = makeClient(probe);
  let packet = server.start();
  for (;;) {
    send(client, probe, packet);
    const ev = await probe.next();
    assert.equal(ev.kind, 'response');
    if (ev.kind !== 'response') break;
    const step = await server.handle(ev.packet);
    if (step.kind !== 'request') break;
    packet = step.packet;
  }
  assert.equal(client.done(), true);
  send(client, probe, request(99, 0, bytes(20)));
  await expectFailure(probe, 'ERR_EAP_FAILED', /after the handshake completed/);
  assert.equal(client.done(), false);
  client.close();
  server.close();
});

// ---------------------------------------------------------------------------------------------
// Lifecycle and options

test('close() is idempotent, silences the method and ignores later Requests', async () => {
  const probe = new Probe();
  const client = makeClient(probe);
  send(client, probe, START(1));
  client.close(); // before the ClientHello was produced
  client.close();
  send(client, probe, START(2));
  await quiet();
  assert.deepEqual(probe.events, []);
  assert.equal(client.done(), false);
  assert.equal(client.msk(), undefined);

  // Mid-handshake, with a fragment outstanding.
  const started = await startedClient({ fragmentSize: 64 });
  started.client.close();
  send(started.client, started.probe, request(8, 0, new Uint8Array(0)));
  await quiet();
  assert.deepEqual(started.probe.events, []);
});

test('msk() returns a copy; close() forgets the key', async () => {
  const server = new EapTlsServer({ ...SERVER });
  const probe = new Probe();
  const client = makeClient(probe);
  let packet = server.start();
  for (;;) {
    send(client, probe, packet);
    const ev = await probe.next();
    if (ev.kind !== 'response') assert.fail('client failed');
    const step = await server.handle(ev.packet);
    if (step.kind !== 'request') break;
    packet = step.packet;
  }
  const a = client.msk();
  assert.ok(a !== undefined);
  a.fill(0);
  assert.deepEqual(Buffer.from(client.msk()!), Buffer.from(server.msk()!));
  assert.equal(client.type, 13);
  assert.equal(client.name, 'EAP-TLS');
  client.close();
  assert.equal(client.done(), false);
  assert.equal(client.msk(), undefined);
  server.close();
});

test('unusable options are refused when the method is created', () => {
  const cb = { onResponse: () => undefined, onFailure: () => undefined };
  const code = (f: () => unknown, c: string, m: RegExp) =>
    assert.throws(f, (e: unknown) => (e as VpnError).code === c && m.test((e as Error).message));
  // Neither a name nor an identity: no certificate is accepted for its CA alone.
  code(() => createEapTls({ ca: [CA], ...cb }), 'ERR_CONFIG', /serverName.*serverIdentity/);
  code(() => createEapTls({ ca: [], serverName: 'eap.test', ...cb }), 'ERR_CONFIG', /CA/);
  code(
    () => createEapTls({ ca: [Uint8Array.of(1, 2, 3)], serverName: 'eap.test', ...cb }),
    'ERR_CERT',
    /CA certificate 1 is not a valid DER certificate/,
  );
  code(
    () => createEapTls({ ca: [CA], serverName: 'eap.test', cert: CLIENT.cert, ...cb }),
    'ERR_CONFIG',
    /together/,
  );
  code(
    () => createEapTls({ ca: [CA], serverName: 'eap.test', fragmentSize: 0, ...cb }),
    'ERR_CONFIG',
    /fragment size/,
  );
  code(
    () =>
      createEapTls({
        ca: [CA],
        serverName: 'eap.test',
        minVersion: 'TLSv1.3',
        maxVersion: 'TLSv1.2',
        ...cb,
      }),
    'ERR_CONFIG',
    /minVersion/,
  );
  code(() => createEapTls({ ca: [CA], serverName: '', ...cb }), 'ERR_CONFIG', /empty/);
  code(
    () =>
      createEapTls({
        ca: [CA],
        serverName: 'eap.test',
        cert: CLIENT.cert,
        key: CLIENT_RSA.key,
        ...cb,
      }),
    'ERR_CERT',
    /private key does not belong to the client certificate/,
  );
  code(
    () =>
      createEapTls({
        ca: [CA],
        serverName: 'eap.test',
        cert: CLIENT.cert,
        key: CLIENT.key.type === 'private' ? createPublicKey(CLIENT.key) : CLIENT.key,
        ...cb,
      }),
    'ERR_CONFIG',
    /private key/,
  );
});
