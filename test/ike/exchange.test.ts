/**
 * The exchange layer on its own (src/ike/exchange.ts): message IDs, the window of one request,
 * retransmission of the same bytes, the give-up hook, and matching responses to the request
 * (RFC 7296 §2.1–§2.3). Requests are unprotected IKE_SA_INIT messages here, so no keys are needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { equalBytes } from '../../src/core/bytes.js';
import { NOOP_LOGGER } from '../../src/core/log.js';
import { SeededRandom } from '../../src/core/random.js';
import { ExchangeType, HeaderFlag, NotifyType, PayloadType } from '../../src/ike/constants.js';
import { decodeMessage, encodeMessage } from '../../src/ike/codec/index.js';
import type { Payload } from '../../src/ike/codec/index.js';
import { IkeContext } from '../../src/ike/context.js';
import { Exchange } from '../../src/ike/exchange.js';
import type { IkeOutput } from '../../src/ike/session.js';
import type { InitiatorTask, TaskSet } from '../../src/ike/tasks/task.js';
import { CLIENT, GW, config } from '../support/session-harness.js';

const SPI_I = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
const SPI_R = Uint8Array.of(9, 9, 9, 9, 9, 9, 9, 9);

function setup(): { c: IkeContext; xchg: Exchange } {
  const cfg = config({ retransmit: { timeoutMs: 1000, base: 2, tries: 2, maxTimeoutMs: 10000 } });
  const c = new IkeContext(cfg, new SeededRandom(1), NOOP_LOGGER);
  const xchg = new Exchange(c, () => undefined);
  c.xchg = xchg;
  // Closing touches only the IKE_SA_INIT task (to forget its key exchange).
  c.tasks = { init: { abandon: () => undefined } } as unknown as TaskSet;
  c.ike.state = 'connecting';
  c.ike.local = CLIENT;
  c.ike.remote = GW;
  c.ike.sa.spiI = SPI_I;
  return { c, xchg };
}

function probe(what: string, got: Payload[][]): InitiatorTask {
  return {
    exchange: ExchangeType.IKE_SA_INIT,
    what,
    buildRequest: () => [],
    processResponse: (_h, p) => got.push(p),
  };
}

function sends(out: IkeOutput[]): Uint8Array[] {
  return out.flatMap((o) => (o.kind === 'send' ? [o.data] : []));
}

function response(mid: number): Uint8Array {
  const n: Payload = {
    type: PayloadType.NOTIFY,
    critical: false,
    protocol: 0,
    spi: new Uint8Array(0),
    notifyType: NotifyType.NO_PROPOSAL_CHOSEN,
    data: new Uint8Array(0),
  };
  return encodeMessage(
    {
      spiI: SPI_I,
      spiR: SPI_R,
      version: 0x20,
      exchangeType: ExchangeType.IKE_SA_INIT,
      flags: HeaderFlag.RESPONSE,
      messageId: mid,
    },
    [n],
  );
}

test('a request takes the next message ID and is retransmitted byte for byte on its timer', () => {
  const { c, xchg } = setup();
  xchg.initiate(probe('a probe', []));
  const [first] = sends(c.out);
  assert.ok(first);
  const { header } = decodeMessage(first);
  assert.equal(header.messageId, 0);
  assert.equal(header.flags, HeaderFlag.INITIATOR);
  assert.deepEqual(c.out.at(-1), { kind: 'setTimer', timer: 'retransmit', at: 1000 });
  assert.ok(equalBytes(c.ike.initRequest, first), 'IKE_SA_INIT kept for the AUTH payload');

  c.out = [];
  c.now = 1000;
  xchg.onRetransmitTimer();
  const [again] = sends(c.out);
  assert.ok(again && equalBytes(again, first));
  assert.deepEqual(c.out.at(-1), { kind: 'setTimer', timer: 'retransmit', at: 3000 });
  assert.equal(c.counters.retransmits, 1);
});

test('when the retransmissions run out, the give-up hook decides; without one the SA fails', () => {
  for (const handled of [true, false]) {
    const { c, xchg } = setup();
    let calls = 0;
    xchg.initiate(probe('a probe', []), () => {
      calls++;
      return handled;
    });
    for (let i = 0; i < 3; i++) xchg.onRetransmitTimer();
    assert.equal(calls, 1);
    assert.equal(c.counters.retransmits, 2);
    assert.equal(c.ike.sa.outstanding, undefined);
    // The abandoned request keeps its message ID (RFC 7296 §2.1).
    assert.equal(c.ike.sa.nextMid, 1);
    const closed = c.out.flatMap((o) =>
      o.kind === 'event' && o.event.type === 'closed' ? [o.event] : [],
    );
    if (handled) {
      assert.equal(c.ike.state, 'connecting');
      assert.equal(closed.length, 0);
    } else {
      assert.equal(c.ike.state, 'closed');
      assert.equal(closed[0]?.error?.code, 'ERR_IKE_TIMEOUT');
      assert.match(closed[0]?.error?.message ?? '', /to a probe after 3 attempts/);
    }
  }
});

test('only the response with the outstanding message ID reaches the task', () => {
  const { c, xchg } = setup();
  const got: Payload[][] = [];
  xchg.initiate(probe('a probe', got));
  xchg.onDatagramCounted(response(1), GW);
  assert.equal(got.length, 0);
  assert.equal(c.counters.dropped['unexpected-response'], 1);
  assert.equal(c.ike.sa.outstanding?.bad?.count, 1, 'counted for the time-out message');

  c.out = [];
  xchg.onDatagramCounted(response(0), GW);
  assert.equal(got.length, 1);
  assert.equal(got[0]?.[0]?.type, PayloadType.NOTIFY);
  assert.equal(c.ike.sa.nextMid, 1);
  assert.deepEqual(c.out, [{ kind: 'clearTimer', timer: 'retransmit' }]);
  // A duplicate of the response finds no request waiting.
  xchg.onDatagramCounted(response(0), GW);
  assert.equal(got.length, 1);
  assert.equal(c.counters.dropped['unexpected-response'], 2);
});

test('window of one: a queued request starts only after the outstanding one is answered', () => {
  const { c, xchg } = setup();
  c.ike.state = 'established';
  const first: Payload[][] = [];
  const second: Payload[][] = [];
  xchg.initiate(probe('the first', first));
  xchg.enqueue(() => xchg.initiate(probe('the second', second)));
  assert.equal(sends(c.out).length, 1);
  assert.equal(xchg.idle(), false);

  c.out = [];
  xchg.onDatagramCounted(response(0), GW);
  assert.equal(first.length, 1);
  const next = sends(c.out);
  assert.equal(next.length, 1);
  assert.equal(decodeMessage(next[0]!).header.messageId, 1);
  assert.equal(c.ike.sa.outstanding?.what, 'the second');
  assert.equal(xchg.idle(), true);
});
