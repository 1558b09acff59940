/**
 * The post-quantum part of the decoder fuzzer (issue 16): whatever decodes from a fuzzed input
 * goes through the RFC 9370 / RFC 9242 code that reads peer data: the exchange rules of
 * IKE_INTERMEDIATE and IKE_FOLLOWUP_KE, the ADDKE (transform types 6-12) proposal checks on both
 * sides, the IntAuth input (RFC 9242 §3.3.2) and, for a sample of KE payloads, the ML-KEM input
 * checks (draft-ietf-ipsecme-ikev2-mlkem). The property: ParseError from the rules, CryptoError
 * from ML-KEM, nothing else; proposal checks never throw.
 */
import { CryptoError, ParseError } from '../../src/core/errors.js';
import { SeededRandom } from '../../src/core/random.js';
import { createKeyExchange, isSupportedGroup, respondKeyExchange } from '../../src/crypto/ke.js';
import { isMlKem, mlKemSizes } from '../../src/crypto/mlkem.js';
import { ExchangeType, NotifyType, ProtocolId } from '../../src/ike/constants.js';
import { checkExchangeRules } from '../../src/ike/codec/index.js';
import type { IkeHeader, Payload } from '../../src/ike/codec/index.js';
import { intAuthData } from '../../src/ike/multi-ke.js';
import {
  chooseFromOffer,
  parseProposals,
  selectResponderProposal,
} from '../../src/ike/sa/proposals.js';

const IKE = parseProposals(
  'aes256gcm16-prfsha384-x25519-ke1_mlkem768-ke1_mlkem1024-ke2_none-ke2_mlkem512,aes128gcm16-prfsha256-ecp256-ke1_mlkem768',
  'ike',
);
const ESP = parseProposals('aes256gcm16-x25519-ke1_mlkem768,aes256gcm16-mlkem1024', 'esp');
const rnd = new SeededRandom(5);
/** One ML-KEM key pair per method, made once (key generation is the slow part). */
const initiators = new Map<number, ReturnType<typeof createKeyExchange>>();
let sample = 0;
/** The outside of an encrypted message, for checking a chain as its inside. */
const SK: Payload[] = [{ type: 46, critical: false, firstInner: 0, body: new Uint8Array(0) }];

function allowed(e: unknown, ...kinds: (new (...a: never[]) => Error)[]): void {
  if (!kinds.some((k) => e instanceof k)) throw e;
}

/**
 * `header` for a decoded message (its own exchange's rules, IKE_INTERMEDIATE and IKE_FOLLOWUP_KE
 * included, are checked by the caller); undefined for a decoded inner payload chain, which is
 * checked here as the inside of an IKE_INTERMEDIATE / IKE_FOLLOWUP_KE request and response.
 */
export function exercisePq(header: IkeHeader | undefined, payloads: readonly Payload[]): void {
  if (!header) {
    for (const exchange of [ExchangeType.IKE_INTERMEDIATE, ExchangeType.IKE_FOLLOWUP_KE]) {
      try {
        checkExchangeRules(exchange, exchange === ExchangeType.IKE_FOLLOWUP_KE, SK, payloads);
      } catch (e) {
        allowed(e, ParseError);
      }
    }
  }
  for (const p of payloads) {
    if ('unknown' in p) continue;
    if (p.type === 33 && 'proposals' in p) {
      // Never throw: a string (the problem) or a choice.
      selectResponderProposal(IKE, p.proposals, ProtocolId.IKE);
      selectResponderProposal(ESP, p.proposals, ProtocolId.ESP);
      chooseFromOffer(p.proposals, IKE, ProtocolId.IKE, { acceptDh: isSupportedGroup });
      chooseFromOffer(p.proposals, ESP, ProtocolId.ESP, {
        dhGroup: 31,
        acceptDh: isSupportedGroup,
      });
    }
    if (p.type === 34 && 'dhGroup' in p && isMlKem(p.dhGroup)) {
      const sizes = mlKemSizes(p.dhGroup);
      const exact = p.data.length === sizes.ek || p.data.length === sizes.ct;
      // Wrong sizes are cheap to refuse; a sample of right-sized ones runs the full checks.
      if (exact && ++sample % 16 !== 0) continue;
      let i = initiators.get(p.dhGroup);
      if (!i) {
        i = createKeyExchange(p.dhGroup, rnd);
        initiators.set(p.dhGroup, i);
      }
      try {
        i.computeSharedSecret(p.data);
      } catch (e) {
        allowed(e, CryptoError);
      }
      try {
        respondKeyExchange(p.dhGroup, p.data, rnd);
      } catch (e) {
        allowed(e, CryptoError);
      }
    }
    if (p.type === 41 && 'notifyType' in p && p.notifyType === NotifyType.ADDITIONAL_KEY_EXCHANGE) {
      if (p.data.length > 65535) throw new Error('impossible link length');
    }
  }
  if (header) intAuthData(header, payloads[0]?.type ?? 0, new Uint8Array(16));
}
