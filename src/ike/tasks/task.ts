/**
 * Tasks: each IKEv2 exchange's payload work (RFC 7296 §1.2–§1.5), in the spirit of strongSwan's
 * task manager. The exchange layer (../exchange.ts) owns message IDs, the window, retransmission,
 * the response cache, SK protection and fragmentation; a task only builds and reads payloads:
 *
 *   initiator:  buildRequest() → [exchange layer sends, retransmits, matches] → processResponse()
 *   responder:  processRequest() → its Reply (the response's payloads, built while processing,
 *               and what to do once it is sent) → [exchange layer protects, caches and sends]
 *
 * One file per exchange, named after it (ike-sa-init.ts, ike-auth.ts, create-child-sa.ts, ...).
 * The tasks of one session reach each other through the TaskSet in the shared IkeContext.
 */
import type { IkeHeader, Payload } from '../codec/index.js';
import type { Endpoint } from '../natd.js';
import type { SaContext } from '../sa/ike-sa.js';
import type { ChildRekey } from './child-rekey.js';
import type { CreateChildSa } from './create-child-sa.js';
import type { Delete } from './delete.js';
import type { Dpd } from './dpd.js';
import type { IkeAuthEap } from './ike-auth-eap.js';
import type { IkeAuth } from './ike-auth.js';
import type { IkeConfig } from './ike-config.js';
import type { IkeIntermediate } from './ike-intermediate.js';
import type { FollowupResponder } from './followup-ke.js';
import type { IkeRekey } from './ike-rekey.js';
import type { IkeSaInit } from './ike-sa-init.js';
import type { Mobike } from './mobike.js';
import type { Reauth } from './reauth.js';

/** What a request is, in logs and time-out errors; the exchange layer's give-up rules test them. */
export const DPD_WHAT = 'a liveness check (DPD)';
export const OLD_IKE_DELETE = 'the DELETE of the rekeyed IKE SA';
export const IKE_REKEY_WHAT = 'an IKE SA rekey';

/** A responder's answer: the response's payloads, and what to do once it has been sent. */
export interface Reply {
  reply: Payload[];
  after?: () => void;
}

/** The initiator's half of an exchange: the exchange layer sends the request and matches its response. */
export interface InitiatorTask {
  /** The exchange type of the request (RFC 7296 §3.1). */
  readonly exchange: number;
  /** What the request is, for logs and time-out errors. */
  readonly what: string;
  /** The request's payloads (inside SK except in IKE_SA_INIT). */
  buildRequest(): Payload[];
  /** The response's payloads, authenticated, decrypted and rule-checked. */
  processResponse(header: IkeHeader, inner: Payload[]): void;
}

/** The responder's half: a request of the gateway's, authenticated, decrypted and rule-checked. */
export interface ResponderTask {
  processRequest(ctx: SaContext, inner: Payload[], from: Endpoint): Reply;
}

/** The tasks of one IKE session. */
export interface TaskSet {
  init: IkeSaInit;
  intermediate: IkeIntermediate;
  followup: FollowupResponder;
  auth: IkeAuth;
  eap: IkeAuthEap;
  config: IkeConfig;
  child: CreateChildSa;
  childRekey: ChildRekey;
  ikeRekey: IkeRekey;
  dpd: Dpd;
  del: Delete;
  mobike: Mobike;
  reauth: Reauth;
}
