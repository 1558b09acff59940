/**
 * Real strongSwan 5.9.8 IKEv1 exchanges (test/fixtures/ikev1, recorded by EDGES'
 * scripts/testbed/capture-ikev1.sh with charon's keys logged): every message decodes and
 * re-encodes byte-identically (issue 17, "It must show" 3), every encrypted message decrypts with
 * the logged Ka and the IV our Appendix B chain computes, re-encrypts to the same bytes, and every
 * HASH (HASH_I, Quick Mode HASH(1)/(2)/(3), Transaction and Informational HASH) verifies with our
 * keymat functions and the logged SKEYID / SKEYID_a.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { concatBytes, equalBytes, fromHex, toHex } from '../../src/core/bytes.js';
import {
  V1Cipher,
  decodeV1Chain,
  decodeV1Message,
  encodeV1Chain,
  encodeV1Message,
  findData,
  lastBlock,
  phase1Iv,
  phase2Iv,
} from '../../src/ikev1/codec/index.js';
import type { V1Chain, V1IdPayload } from '../../src/ikev1/codec/index.js';
import { encryptionKey, hashMid, phase1Hash, qmHash2, qmHash3 } from '../../src/ikev1/keymat.js';
import { attrNumber, decodeSaBody } from '../../src/ikev1/sa-payload.js';
import { findRepoFile } from '../support/paths.js';

interface Msg {
  from: 'initiator' | 'responder';
  exchangeType: number;
  messageId: number;
  encrypted?: boolean;
  hex: string;
  iv?: string;
  payloads?: string;
  padding?: string;
  fragment?: { id: number; number: number; last: boolean };
  reassembled?: string;
}

interface Capture {
  case: string;
  keys: Record<string, string>;
  messages: Msg[];
}

const dir = findRepoFile('test/fixtures/ikev1');
const captures: Capture[] = existsSync(dir)
  ? readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Capture)
  : [];

/** The whole message of a capture entry (reassembled from IKEv1 fragments when needed). */
function whole(m: Msg): Uint8Array | undefined {
  if (m.fragment) return m.reassembled ? fromHex(m.reassembled) : undefined;
  return fromHex(m.hex);
}

test('the capture fixtures are there (EDGES: scripts/testbed/capture-ikev1.sh)', (t) => {
  if (captures.length === 0) return t.skip('no test/fixtures/ikev1/*.json in this checkout');
  assert.ok(captures.length >= 5, `${captures.length} captures`);
});

for (const cap of captures) {
  test(`${cap.case}: every datagram decodes and re-encodes byte-identically`, () => {
    let n = 0;
    for (const m of cap.messages) {
      for (const bytes of [fromHex(m.hex), ...(m.reassembled ? [fromHex(m.reassembled)] : [])]) {
        const d = decodeV1Message(bytes);
        const h = d.header;
        const fields = {
          cookieI: h.cookieI,
          cookieR: h.cookieR,
          exchangeType: h.exchangeType,
          flags: h.flags,
          messageId: h.messageId,
        };
        const body = d.chain ? encodeV1Chain(d.chain.payloads).bytes : d.body;
        assert.equal(toHex(encodeV1Message(fields, h.nextPayload, body)), toHex(bytes));
        n++;
      }
    }
    assert.ok(n >= 4);
  });

  test(`${cap.case}: decryption with the logged Ka and our IV chain, HASHes with our keymat`, () => {
    const keys = cap.keys;
    const skeyid = fromHex(keys['SKEYID']!);
    const skeyidA = fromHex(keys['SKEYID_a']!);
    const skeyidE = fromHex(keys['SKEYID_e']!);
    const msgs = cap.messages
      .map((m) => ({ m, bytes: whole(m) }))
      .filter((x): x is { m: Msg; bytes: Uint8Array } => x.bytes !== undefined);
    // The first IKE SA: the messages with the first initiator cookie.
    const cookieI = decodeV1Message(msgs[0]!.bytes).header.cookieI;
    const first = msgs.filter((x) => equalBytes(decodeV1Message(x.bytes).header.cookieI, cookieI));
    const plain = first
      .filter((x) => !(decodeV1Message(x.bytes).header.flags & 1))
      .map((x) => decodeV1Message(x.bytes));
    // Phase 1 parameters from the responder's SA choice (ATTRS' codec) and the KE payloads.
    const mm1 = plain[0]!;
    const saiB = findData(mm1.chain!.payloads, 1)!;
    const choice = decodeSaBody(findData(plain[1]!.chain!.payloads, 1)!).proposals[0]!
      .transforms[0]!;
    const attr = (t: number): number | undefined => {
      const a = choice.attributes.find((x) => x.type === t);
      return a ? attrNumber(a) : undefined;
    };
    const hash = attr(2)!;
    const encr = attr(1)!;
    const keyBits = attr(14);
    const kes = plain
      .map((p) => p.chain && findData(p.chain.payloads, 4))
      .filter((k): k is Uint8Array => k !== undefined);
    const nonces = plain
      .map((p) => p.chain && findData(p.chain.payloads, 10))
      .filter((k): k is Uint8Array => k !== undefined);
    const [gxi, gxr] = [kes[0]!, kes[1]!];
    assert.ok(nonces.length >= 2, 'both phase 1 nonces');
    const ka = encryptionKey(hash, skeyidE, V1Cipher.keyLength(encr, keyBits));
    assert.equal(toHex(ka), keys['encryption key Ka']);
    const cipher = new V1Cipher(encr, ka);
    const bs = cipher.blockSize;
    // RFC 2409 Appendix B: the phase 1 IV is hash(g^xi | g^xr).
    assert.equal(toHex(phase1Iv(hash, gxi, gxr, bs)), keys['initial IV']);
    let p1Iv = phase1Iv(hash, gxi, gxr, bs);
    const ivs = new Map<number, Uint8Array>();
    const qmNonces = new Map<number, { ni?: Uint8Array; nr?: Uint8Array }>();
    let checked = 0;
    let phase1Over = false;
    for (const { m, bytes } of first) {
      const d = decodeV1Message(bytes);
      const h = d.header;
      if (!(h.flags & 1)) continue;
      const mid = h.messageId;
      if (mid !== 0) phase1Over = true;
      const iv = mid === 0 ? p1Iv : (ivs.get(mid) ?? phase2Iv(hash, p1Iv, mid, bs));
      if (m.iv) assert.equal(toHex(iv), m.iv, `IV of ${m.from} message ${mid}`);
      const pt = cipher.decrypt(iv, d.body);
      assert.equal(
        toHex(pt),
        (m.payloads ?? '') + (m.padding ?? ''),
        'decrypts to the logged plaintext',
      );
      // strongSwan pads with zeros to the next block, as we do: re-encrypting gives the same bytes.
      assert.equal(
        toHex(cipher.encrypt(iv, fromHex(m.payloads ?? ''))),
        toHex(d.body),
        're-encrypts identically',
      );
      const chain: V1Chain = decodeV1Chain(h.nextPayload, pt);
      assert.equal(
        toHex(encodeV1Chain(chain.payloads).bytes),
        m.payloads,
        'the inner chain re-encodes',
      );
      if (mid === 0) {
        if (!phase1Over) p1Iv = lastBlock(d.body, bs);
        if (m.from === 'initiator' && h.exchangeType === 2) {
          // HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b) (PSK only: a SIG otherwise).
          const id = chain.payloads.find((p): p is V1IdPayload => p.kind === 'id')!;
          const idB = concatBytes(
            Uint8Array.of(id.idType, id.protocol, id.port >> 8, id.port & 255),
            id.data,
          );
          const got = findData(chain.payloads, 8);
          if (got) {
            assert.equal(
              toHex(phase1Hash(hash, skeyid, 'I', gxi, gxr, h.cookieI, h.cookieR, saiB, idB)),
              toHex(got),
              'HASH_I',
            );
            checked++;
          }
        }
        continue;
      }
      ivs.set(mid, lastBlock(d.body, bs));
      const hp = chain.payloads[0]!;
      assert.equal(hp.type, 8, 'a HASH first');
      const hashGot = (hp as { data: Uint8Array }).data;
      const rest = pt.subarray(chain.spans[0]![1], chain.end);
      if (h.exchangeType === 32) {
        const q = qmNonces.get(mid) ?? {};
        qmNonces.set(mid, q);
        const nonce = findData(chain.payloads, 10) ?? new Uint8Array(0);
        if (!q.ni) {
          q.ni = nonce;
          assert.equal(
            toHex(hashMid(hash, skeyidA, mid, rest)),
            toHex(hashGot),
            'Quick Mode HASH(1)',
          );
        } else if (!q.nr) {
          q.nr = nonce;
          assert.equal(
            toHex(qmHash2(hash, skeyidA, mid, q.ni, rest)),
            toHex(hashGot),
            'Quick Mode HASH(2)',
          );
        } else {
          assert.equal(
            toHex(qmHash3(hash, skeyidA, mid, q.ni, q.nr)),
            toHex(hashGot),
            'Quick Mode HASH(3)',
          );
        }
      } else {
        assert.equal(
          toHex(hashMid(hash, skeyidA, mid, rest)),
          toHex(hashGot),
          `HASH of exchange ${h.exchangeType}`,
        );
      }
      checked++;
    }
    assert.ok(checked >= 3, `${checked} hashes checked`);
  });
}
