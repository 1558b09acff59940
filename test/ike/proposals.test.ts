import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_ESP_PROPOSALS,
  DEFAULT_IKE_PROPOSALS,
  buildProposals,
  formatChosen,
  formatSpecs,
  parseProposals,
  selectResponderProposal,
} from '../../src/ike/sa/proposals.js';
import {
  DhGroup,
  EncrId,
  EsnId,
  IntegId,
  PrfId,
  ProtocolId,
  TransformType,
} from '../../src/ike/constants.js';
import { VpnError } from '../../src/core/errors.js';

test('default IKE proposal: AES-GCM-16 256/128 and ChaCha20-Poly1305, SHA-256/384 PRFs, x25519 > ecp256 > ecp384 > modp2048', () => {
  const [p] = parseProposals(DEFAULT_IKE_PROPOSALS, 'ike');
  assert.ok(p);
  assert.deepEqual(
    p.encr.map((a) => [a.id, a.keyBits]),
    [
      [EncrId.AES_GCM_16, 256],
      [EncrId.AES_GCM_16, 128],
      [EncrId.CHACHA20_POLY1305, undefined],
    ],
  );
  assert.deepEqual(
    p.prf.map((a) => a.id),
    [PrfId.HMAC_SHA2_256, PrfId.HMAC_SHA2_384],
  );
  assert.deepEqual(
    p.dh.map((a) => a.id),
    [DhGroup.CURVE25519, DhGroup.ECP_256, DhGroup.ECP_384, DhGroup.MODP_2048],
  );
  assert.equal(p.integ.length, 0);
});

test('ESP proposals get ESN=no by default and refuse a PRF', () => {
  const specs = parseProposals(DEFAULT_ESP_PROPOSALS, 'esp');
  assert.deepEqual(
    specs[0]!.esn.map((a) => a.id),
    [EsnId.NO],
  );
  assert.throws(() => parseProposals('aes256gcm16-prfsha256', 'esp'), VpnError);
});

test('CBC proposals need integrity; the PRF is derived from it when absent (strongSwan behaviour)', () => {
  const [p] = parseProposals('aes256-sha384-ecp384', 'ike');
  assert.deepEqual(
    p!.integ.map((a) => a.id),
    [IntegId.HMAC_SHA2_384_192],
  );
  assert.deepEqual(
    p!.prf.map((a) => a.id),
    [PrfId.HMAC_SHA2_384],
  );
  assert.throws(() => parseProposals('aes256-prfsha256-x25519', 'ike'), /needs an integrity/);
});

test('bad proposal strings fail with ERR_CONFIG naming the problem', () => {
  const cases: [string, RegExp][] = [
    ['aes256gcm16-prfsha256-x25519-blowfish', /unknown algorithm "blowfish"/],
    ['aes256gcm16-prfsha256', /no key exchange group/],
    ['prfsha256-x25519', /no encryption/],
    ['aes256gcm16-aes256-sha256-prfsha256-x25519', /mixes AEAD/],
    ['aes256gcm16-sha256-prfsha256-x25519', /take no integrity/],
    ['aes256gcm16-prfsha256-x25519,', /empty/],
  ];
  for (const [text, re] of cases) {
    assert.throws(
      () => parseProposals(text, 'ike'),
      (e: unknown) => e instanceof VpnError && e.code === 'ERR_CONFIG' && re.test(e.message),
      text,
    );
  }
});

test('buildProposals numbers proposals and carries key lengths as attributes', () => {
  const specs = parseProposals(
    'aes128gcm16-prfsha256-x25519,chacha20poly1305-prfsha512-ecp256',
    'ike',
  );
  const props = buildProposals(specs, ProtocolId.IKE, new Uint8Array(0));
  assert.deepEqual(
    props.map((p) => p.num),
    [1, 2],
  );
  const encr = props[0]!.transforms[0]!;
  assert.equal(encr.type, TransformType.ENCR);
  assert.deepEqual(encr.attributes, [{ type: 14, value: 128 }]);
  assert.deepEqual(props[1]!.transforms[0]!.attributes, []);
});

const problem = (r: ReturnType<typeof selectResponderProposal>): string =>
  typeof r === 'string' ? r : 'accepted';

test('selectResponderProposal accepts a valid single choice and rejects everything else', () => {
  const specs = parseProposals(DEFAULT_IKE_PROPOSALS, 'ike');
  const t = (type: number, id: number, bits?: number) => ({
    type,
    id,
    attributes: bits === undefined ? [] : [{ type: 14, value: bits }],
  });
  const good = {
    num: 1,
    protocol: ProtocolId.IKE,
    spi: new Uint8Array(0),
    transforms: [t(1, EncrId.AES_GCM_16, 128), t(2, PrfId.HMAC_SHA2_384), t(4, DhGroup.ECP_256)],
  };
  const chosen = selectResponderProposal(specs, [good], ProtocolId.IKE);
  assert.ok(typeof chosen !== 'string');
  assert.equal(formatChosen(chosen), 'aes128gcm16-prfsha384-ecp256');
  const bad = (transforms: ReturnType<typeof t>[], num = 1) =>
    selectResponderProposal(specs, [{ ...good, num, transforms }], ProtocolId.IKE);
  assert.match(problem(bad([t(1, EncrId.AES_GCM_16, 192), t(2, 5), t(4, 19)])), /did not offer/);
  assert.match(problem(bad([t(1, 20, 128), t(1, 20, 256), t(2, 5), t(4, 19)])), /two encr/);
  assert.match(problem(bad([t(1, 20, 128), t(4, 19)])), /no PRF/);
  assert.match(problem(bad([t(1, 20, 128), t(2, 5), t(4, 19)], 2)), /proposal #2/);
  assert.match(
    problem(selectResponderProposal(specs, [good, good], ProtocolId.IKE)),
    /2 proposals/,
  );
  assert.match(problem(selectResponderProposal(specs, [], ProtocolId.IKE)), /0 proposals/);
});

test('formatSpecs prints our offer in the syntax users typed', () => {
  assert.equal(
    formatSpecs(parseProposals('aes256gcm16-prfsha256-x25519,aes128-sha256-modp2048', 'ike')),
    'aes256gcm16-prfsha256-x25519, aes128-sha256-prfsha256-modp2048',
  );
});
