/**
 * IKE_FOLLOWUP_KE exchanges (RFC 9370 §2.2.4), initiator side: after a CREATE_CHILD_SA whose
 * responder chose additional key exchanges and answered with N(ADDITIONAL_KEY_EXCHANGE)(link),
 *
 *   HDR(IKE_FOLLOWUP_KE), SK {KEi(n), N(ADDITIONAL_KEY_EXCHANGE)(link n)}  -->
 *                   <--  HDR, SK {KEr(n), [N(ADDITIONAL_KEY_EXCHANGE)(link n+1)]}
 *
 * one per ADDKE method, in order; the last response carries no link. The shared secrets
 * SK(1..n) are handed to the caller, which derives the new SA's keys with them (CHILD_SA:
 * KEYMAT = prf+(SK_d, SK(0) | Ni | Nr | SK(1) | ... | SK(n)); IKE SA: SKEYSEED = prf(SK_d,
 * SK(0) | Ni | Nr | SK(1) | ... | SK(n))). Large KE payloads go in RFC 7383 fragments.
 */
import { equalBytes } from '../../core/bytes.js';
import { VpnError } from '../../core/errors.js';
import { createKeyExchange, respondKeyExchange } from '../../crypto/ke.js';
import { DhGroup, ExchangeType, NotifyType, PayloadType, nameOf } from '../constants.js';
import { filterPayloads, findPayload } from '../codec/index.js';
import type { Payload } from '../codec/index.js';
import type { IkeContext } from '../context.js';
import type { SaContext } from '../sa/ike-sa.js';
import type { Reply, ResponderTask } from './task.js';

/** RFC 9370 §3.2.2 leaves the link's size to the responder; bound what we echo. */
const MAX_LINK = 256;

export interface FollowupOutcome {
  /** SK(1) .. SK(n), in order. */
  secrets?: Uint8Array[];
  /** Why the exchanges failed (the caller retries later or fails). */
  error?: string;
}

/**
 * Runs the IKE_FOLLOWUP_KE exchanges for `methods` starting with the responder's first `link`,
 * then calls `done` once (with the secrets, or with the reason they could not be had).
 */
export function runFollowupKe(
  c: IkeContext,
  what: string,
  methods: number[],
  link: Uint8Array,
  done: (o: FollowupOutcome) => void,
): void {
  const secrets: Uint8Array[] = [];
  const step = (i: number, linkData: Uint8Array): void => {
    const method = methods[i]!;
    if (linkData.length === 0 || linkData.length > MAX_LINK) {
      done({
        error: `the gateway's ADDITIONAL_KEY_EXCHANGE link has ${linkData.length} bytes (RFC 9370 §3.2.2)`,
      });
      return;
    }
    const ke = createKeyExchange(method, c.random);
    c.xchg.initiate({
      exchange: ExchangeType.IKE_FOLLOWUP_KE,
      what: `${what}: IKE_FOLLOWUP_KE ${i + 1} (${nameOf(DhGroup, method)})`,
      buildRequest: (): Payload[] => [
        { type: PayloadType.KE, critical: false, dhGroup: method, data: ke.publicValue },
        c.notify(NotifyType.ADDITIONAL_KEY_EXCHANGE, linkData),
      ],
      processResponse: (_h, inner) => {
        const notifies = filterPayloads(inner, PayloadType.NOTIFY);
        const error = notifies.find((n) => n.notifyType < 16384);
        if (error) {
          done({ error: `IKE_FOLLOWUP_KE answered ${nameOf(NotifyType, error.notifyType)}` });
          return;
        }
        const kePayload = findPayload(inner, PayloadType.KE);
        if (kePayload?.dhGroup !== method) {
          done({ error: `IKE_FOLLOWUP_KE answer lacks a ${nameOf(DhGroup, method)} KE payload` });
          return;
        }
        try {
          secrets.push(ke.computeSharedSecret(kePayload.data));
        } catch (e) {
          done({ error: `invalid ${nameOf(DhGroup, method)} KE: ${(e as Error).message}` });
          return;
        }
        const next = notifies.find((n) => n.notifyType === NotifyType.ADDITIONAL_KEY_EXCHANGE);
        if (i + 1 < methods.length) {
          if (!next) {
            done({ error: 'IKE_FOLLOWUP_KE answer lacks the next ADDITIONAL_KEY_EXCHANGE link' });
            return;
          }
          step(i + 1, next.data.slice());
          return;
        }
        done({ secrets });
      },
    });
  };
  try {
    step(0, link);
  } catch (e) {
    done({ error: e instanceof VpnError ? e.message : (e as Error).message });
  }
}

/**
 * IKE_FOLLOWUP_KE as responder (RFC 9370 §2.2.4): after we answered the gateway's CREATE_CHILD_SA
 * with N(ADDITIONAL_KEY_EXCHANGE)(link), its IKE_FOLLOWUP_KE requests carry KEi(n) and that
 * link; we answer KEr(n) and the next link, or no link after the last one, and then hand the
 * shared secrets SK(1..n) to the waiting exchange. One such exchange at a time: a new one (or an
 * unknown link) ends the previous (STATE_NOT_FOUND, §2.2.4).
 */
export class FollowupResponder implements ResponderTask {
  private readonly c: IkeContext;
  private pending:
    | {
        link: Uint8Array;
        methods: number[];
        secrets: Uint8Array[];
        done: (secrets: Uint8Array[]) => void;
        abort: () => void;
      }
    | undefined;

  constructor(c: IkeContext) {
    this.c = c;
  }

  /** Waits for IKE_FOLLOWUP_KE exchanges running `methods`; returns the first link to send. */
  expect(methods: number[], done: (secrets: Uint8Array[]) => void, abort: () => void): Uint8Array {
    this.pending?.abort();
    const link = this.c.random.bytes(16);
    this.pending = { link, methods, secrets: [], done, abort };
    return link;
  }

  processRequest(_ctx: SaContext, inner: Payload[]): Reply {
    const p = this.pending;
    const ke = findPayload(inner, PayloadType.KE);
    const link = filterPayloads(inner, PayloadType.NOTIFY).find(
      (n) => n.notifyType === NotifyType.ADDITIONAL_KEY_EXCHANGE,
    );
    if (!p || !link || !equalBytes(link.data, p.link)) {
      // §2.2.4: an IKE_FOLLOWUP_KE we know nothing about.
      return { reply: [this.c.notify(NotifyType.STATE_NOT_FOUND)] };
    }
    const method = p.methods[p.secrets.length]!;
    if (ke?.dhGroup !== method) {
      this.pending = undefined;
      p.abort();
      return { reply: [this.c.notify(NotifyType.INVALID_SYNTAX)] };
    }
    let mine: { publicValue: Uint8Array; sharedSecret: Uint8Array };
    try {
      mine = respondKeyExchange(method, ke.data, this.c.random);
    } catch {
      this.pending = undefined;
      p.abort();
      return { reply: [this.c.notify(NotifyType.INVALID_SYNTAX)] };
    }
    p.secrets.push(mine.sharedSecret);
    const reply: Payload[] = [
      { type: PayloadType.KE, critical: false, dhGroup: method, data: mine.publicValue },
    ];
    if (p.secrets.length < p.methods.length) {
      p.link = this.c.random.bytes(16);
      reply.push(this.c.notify(NotifyType.ADDITIONAL_KEY_EXCHANGE, p.link));
      return { reply };
    }
    this.pending = undefined;
    return { reply, after: () => p.done(p.secrets) };
  }
}
