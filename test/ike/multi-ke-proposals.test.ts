/**
 * RFC 9370 §2.2.1 proposals with additional key exchanges (strongSwan's `ke1_` ... `ke7_`
 * syntax) and ML-KEM methods (draft-ietf-ipsecme-ikev2-mlkem): parsing, the SA payload
 * transforms (types 6-12), validating the responder's choice, formatting and naming.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VpnError } from '../../src/core/errors.js';
import { DhGroup, ProtocolId, TransformType } from '../../src/ike/constants.js';
import {
  applyPqMode,
  buildProposals,
  chooseFromOffer,
  describeKeyExchanges,
  formatChosen,
  formatSpecs,
  isPostQuantum,
  keyExchangesOfText,
  offersPostQuantum,
  parseProposals,
  selectResponderProposal,
} from '../../src/ike/sa/proposals.js';
import type { Proposal } from '../../src/ike/codec/index.js';

test('x25519-ke1_mlkem768: DH x25519, ADDKE1 ML-KEM-768 (transform type 6, ID 36)', () => {
  const [p] = parseProposals('aes256gcm16-prfsha384-x25519-ke1_mlkem768', 'ike');
  assert.deepEqual(
    p!.dh.map((a) => a.id),
    [DhGroup.CURVE25519],
  );
  assert.deepEqual(p!.addKe, [[{ type: TransformType.ADDKE1, id: DhGroup.ML_KEM_768 }]]);
  const [prop] = buildProposals([p!], ProtocolId.IKE, new Uint8Array(0));
  assert.deepEqual(
    prop!.transforms.map((t) => [t.type, t.id]),
    [
      [TransformType.ENCR, 20],
      [TransformType.PRF, 6],
      [TransformType.DH, 31],
      [6, 36],
    ],
  );
  assert.equal(formatSpecs([p!]), 'aes256gcm16-prfsha384-x25519-ke1_mlkem768');
  assert.equal(offersPostQuantum([p!]), true);
  assert.equal(offersPostQuantum(parseProposals('aes256gcm16-prfsha256-x25519', 'ike')), false);
});

test('ke1..ke3 in order, alternatives and NONE (optional exchanges)', () => {
  const [p] = parseProposals(
    'aes128gcm16-prfsha256-ecp256-ke1_mlkem768-ke1_mlkem1024-ke2_none-ke2_mlkem512-ke3_x25519',
    'ike',
  );
  assert.deepEqual(
    p!.addKe!.map((l) => l.map((a) => [a.type, a.id])),
    [
      [
        [6, 36],
        [6, 37],
      ],
      [
        [7, 0],
        [7, 35],
      ],
      [[8, 31]],
    ],
  );
});

test('bad ke tokens are configuration errors naming the problem', () => {
  assert.throws(
    () => parseProposals('aes256gcm16-prfsha256-x25519-ke2_mlkem768', 'ike'),
    /no ke1_/,
  );
  assert.throws(
    () => parseProposals('aes256gcm16-prfsha256-x25519-ke1_kyber', 'ike'),
    /unknown key exchange method "kyber"/,
  );
  assert.throws(() => parseProposals('aes256gcm16-prfsha256-x25519-ke8_mlkem768', 'ike'), VpnError);
  assert.throws(
    () => parseProposals('aes256gcm16-ke1_mlkem768', 'esp'),
    /additional key exchanges need a first one/,
  );
});

test('ESP with PFS: aes256gcm16-mlkem768 and aes256gcm16-x25519-ke1_mlkem768', () => {
  const [a] = parseProposals('aes256gcm16-mlkem768', 'esp');
  assert.deepEqual(
    a!.dh.map((x) => x.id),
    [DhGroup.ML_KEM_768],
  );
  const [b] = parseProposals('aes256gcm16-x25519-ke1_mlkem768', 'esp');
  assert.deepEqual(b!.addKe, [[{ type: 6, id: 36 }]]);
});

function answer(transforms: [number, number][], num = 1): Proposal[] {
  return [
    {
      num,
      protocol: ProtocolId.IKE,
      spi: new Uint8Array(0),
      transforms: transforms.map(([type, id]) => ({
        type,
        id,
        attributes: type === 1 ? [{ type: 14, value: 256 }] : [],
      })),
    },
  ];
}

test('the responder must choose one of each ADDKE type we offered, from our list', () => {
  const specs = parseProposals('aes256gcm16-prfsha384-x25519-ke1_mlkem768-ke1_mlkem1024', 'ike');
  const ok = selectResponderProposal(
    specs,
    answer([
      [1, 20],
      [2, 6],
      [4, 31],
      [6, 37],
    ]),
    ProtocolId.IKE,
  );
  assert.ok(typeof ok !== 'string', typeof ok === 'string' ? ok : '');
  assert.deepEqual(ok.addKe, [{ type: 6, id: 37 }]);
  assert.equal(formatChosen(ok), 'aes256gcm16-prfsha384-x25519-ke1_mlkem1024');
  assert.equal(describeKeyExchanges(ok), 'x25519 + ML-KEM-1024');
  assert.equal(isPostQuantum(ok), true);

  const missing = selectResponderProposal(
    specs,
    answer([
      [1, 20],
      [2, 6],
      [4, 31],
    ]),
    ProtocolId.IKE,
  );
  assert.equal(missing, 'responder chose no ADDKE1 transform');
  const other = selectResponderProposal(
    specs,
    answer([
      [1, 20],
      [2, 6],
      [4, 31],
      [6, 35],
    ]),
    ProtocolId.IKE,
  );
  assert.match(other as string, /ADDKE1 method 35 that we did not offer/);
  const twice = selectResponderProposal(
    specs,
    answer([
      [1, 20],
      [2, 6],
      [4, 31],
      [6, 36],
      [6, 37],
    ]),
    ProtocolId.IKE,
  );
  assert.match(twice as string, /two ADDKE1/);
  const notOffered = selectResponderProposal(
    parseProposals('aes256gcm16-prfsha384-x25519', 'ike'),
    answer([
      [1, 20],
      [2, 6],
      [4, 31],
      [7, 36],
    ]),
    ProtocolId.IKE,
  );
  assert.match(notOffered as string, /ADDKE2 method 36 that we did not offer/);
});

test('ke1_none lets the responder skip the exchange: classic x25519 only', () => {
  const specs = parseProposals('aes256gcm16-prfsha384-x25519-ke1_mlkem768-ke1_none', 'ike');
  const c = selectResponderProposal(
    specs,
    answer([
      [1, 20],
      [2, 6],
      [4, 31],
      [6, 0],
    ]),
    ProtocolId.IKE,
  );
  assert.ok(typeof c !== 'string');
  assert.equal(c.addKe, undefined);
  assert.equal(describeKeyExchanges(c), 'x25519');
  assert.equal(isPostQuantum(c), false);
});

test('responder side (a gateway rekey offer): ADDKE picked from our ESP proposals', () => {
  const ours = parseProposals('aes256gcm16-x25519-ke1_mlkem768', 'esp');
  const offer: Proposal[] = [
    {
      num: 1,
      protocol: ProtocolId.ESP,
      spi: Uint8Array.of(1, 2, 3, 4),
      transforms: [
        { type: 1, id: 20, attributes: [{ type: 14, value: 256 }] },
        { type: 4, id: 31, attributes: [] },
        { type: 6, id: 36, attributes: [] },
        { type: 5, id: 0, attributes: [] },
      ],
    },
  ];
  const r = chooseFromOffer(offer, ours, ProtocolId.ESP, {
    dhGroup: 31,
    acceptDh: () => true,
  });
  assert.ok(r);
  assert.deepEqual(r.chosen.addKe, [{ type: 6, id: 36 }]);
  assert.equal(r.transforms.length, 4);
});

test('--pq preferred: each proposal first with ML-KEM as ADDKE1, then as it was; required: only PQ', () => {
  const base = parseProposals('aes256gcm16-prfsha256-x25519-ecp256', 'ike');
  const pref = applyPqMode(base, 'preferred');
  assert.equal(
    formatSpecs(pref),
    'aes256gcm16-prfsha256-x25519-ecp256-ke1_mlkem768-ke1_mlkem1024-ke1_mlkem512, aes256gcm16-prfsha256-x25519-ecp256',
  );
  const req = applyPqMode(base, 'required');
  assert.equal(
    formatSpecs(req),
    'aes256gcm16-prfsha256-x25519-ecp256-ke1_mlkem768-ke1_mlkem1024-ke1_mlkem512',
  );
  assert.equal(applyPqMode(base, 'off'), base);
  // Proposals that already have ML-KEM are kept as they are, and not doubled.
  const hybrid = parseProposals('aes256gcm16-prfsha384-x25519-ke1_mlkem1024', 'ike');
  assert.equal(formatSpecs(applyPqMode(hybrid, 'preferred')), formatSpecs(hybrid));
  assert.equal(formatSpecs(applyPqMode(hybrid, 'required')), formatSpecs(hybrid));
  // A second ADDKE goes after an existing classic one.
  const two = applyPqMode(
    parseProposals('aes256gcm16-prfsha256-ecp256-ke1_x25519', 'ike'),
    'required',
  );
  assert.deepEqual(
    two[0]!.addKe!.map((l) => l.map((a) => [a.type, a.id])),
    [
      [[6, 31]],
      [
        [7, 36],
        [7, 37],
        [7, 35],
      ],
    ],
  );
});

test('key exchanges named from a chosen proposal string (status and summary)', () => {
  assert.deepEqual(keyExchangesOfText('aes256gcm16-prfsha384-x25519-ke1_mlkem768'), {
    keyExchanges: 'x25519 + ML-KEM-768',
    postQuantum: true,
  });
  assert.deepEqual(keyExchangesOfText('aes256gcm16-prfsha256-ecp256'), {
    keyExchanges: 'ecp256',
    postQuantum: false,
  });
  assert.deepEqual(keyExchangesOfText('aes256gcm16-prfsha256-mlkem1024'), {
    keyExchanges: 'ML-KEM-1024',
    postQuantum: true,
  });
  assert.deepEqual(keyExchangesOfText('garbage\u001b'), { keyExchanges: '', postQuantum: false });
});
