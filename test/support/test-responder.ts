/**
 * A test-only IKEv2 responder built on our own codecs and crypto, for in-memory two-party exchange
 * tests (the idea of strongSwan's exchange_test_helper). It implements just what the tests need:
 * IKE_SA_INIT (optionally demanding a COOKIE or another KE group), IKE_AUTH with PSK, a certificate
 * signature or EAP-MD5 (RFC 7296 §2.16, no MSK: AUTH from SK_p), RFC 7383 fragments, a CP reply,
 * traffic selector narrowing, one ESP CHILD_SA, and INFORMATIONAL requests in both directions.
 * It is deliberately independent of src/ike/session.ts so a bug there is not mirrored here.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { FragmentReassembler, splitForFragments } from '../../src/ike/codec/fragments.js';
import { signAuth } from '../../src/ike/auth/signature.js';
import { concatBytes, equalBytes } from '../../src/core/bytes.js';
import type { Random } from '../../src/core/random.js';
import { parseIpAddress } from '../../src/core/ip.js';
import { createKeyExchange, respondKeyExchange } from '../../src/crypto/ke.js';
import { deriveChildKeys, deriveIkeKeys, deriveRekeyedIkeKeys } from '../../src/crypto/kdf.js';
import { prf, prfPlus } from '../../src/crypto/prf.js';
import { sha1 } from '../../src/crypto/hash.js';
import { createSkCrypter } from '../../src/crypto/sk.js';
import type { SkCrypter } from '../../src/crypto/sk.js';
import {
  AuthMethod,
  CertEncoding,
  CfgAttr,
  CfgType,
  ExchangeType,
  HeaderFlag,
  NotifyType,
  PayloadType,
  ProtocolId,
  TransformAttr,
  TransformType,
} from '../../src/ike/constants.js';
import {
  decodeMessage,
  decodePayloadChain,
  encodeMessage,
  encodePayloadChain,
  filterPayloads,
  findPayload,
} from '../../src/ike/codec/index.js';
import type {
  CfgAttribute,
  IkeHeader,
  NotifyPayload,
  Payload,
  Proposal,
  SkPayload,
  SkfPayload,
  TrafficSelector,
} from '../../src/ike/codec/index.js';
import { tsFromCidr } from '../../src/ike/sa/traffic-selectors.js';

export interface ResponderOptions {
  psk: Uint8Array;
  id: { type: number; data: Uint8Array };
  address: { address: string; port: number };
  /** Group the responder insists on (answers INVALID_KE_PAYLOAD otherwise). */
  requireGroup?: number;
  /** Demand a cookie on the first IKE_SA_INIT. */
  demandCookie?: boolean;
  /** Virtual IP to assign. */
  virtualIp?: string;
  dns?: string[];
  /** Local (protected) subnet; TSr is narrowed to it. */
  subnet?: string;
  /** Reply NO_PROPOSAL_CHOSEN to IKE_SA_INIT. */
  refuseIke?: boolean;
  /** Check the initiator's AUTH and answer AUTHENTICATION_FAILED when wrong (default true). */
  checkAuth?: boolean;
  /** Pretend the initiator is behind a NAT (wrong NAT_D destination hash). */
  natHere?: boolean;
  /** Authenticate with a signature and send these certificates instead of the PSK. */
  cert?: { key: KeyObject; certs: Uint8Array[] };
  /** Ask the client for EAP-MD5 with this password (RFC 3748 §5.4). */
  eapMd5Password?: string;
  /**
   * Run this EAP authenticator instead of EAP-MD5 (any method; a rogue one for negative tests):
   * `start` gives the first Request, `next` answers each EAP packet of the client, `msk` keys
   * the final AUTH once it succeeded (RFC 7296 §2.16; SK_p without one).
   */
  eapServer?: {
    start(): Uint8Array;
    next(response: Uint8Array): Uint8Array;
    msk(): Uint8Array | undefined;
  };
  /** Announce IKEv2 fragmentation and fragment our messages above this size (RFC 7383). */
  fragmentSize?: number;
  /** RFC 5998: with EAP, prove ourselves only through EAP (no AUTH in the first response). */
  eapOnly?: boolean;
  /** Announce MOBIKE and answer UPDATE_SA_ADDRESSES (RFC 4555). */
  mobike?: boolean;
  /**
   * RFC 9370 / RFC 9242: choose the first method of each ADDKE type the client offers and run
   * them in IKE_INTERMEDIATE exchanges (default true); false = ignore them (a responder without
   * RFC 9370, choosing none and not announcing INTERMEDIATE_EXCHANGE_SUPPORTED).
   */
  intermediate?: boolean;
  /** Announce INTERMEDIATE_EXCHANGE_SUPPORTED but leave it out (a broken responder): false. */
  announceIntermediate?: boolean;
  /** Resend the cached answer to a byte-identical retransmitted request (RFC 7296 §2.1). */
  cacheResponses?: boolean;
  /** A hostile or broken gateway (issue 11): each option breaks one rule. */
  hostile?: HostileOptions;
  /**
   * RFC 8784: announce USE_PPK and hold this PPK for this PPK ID (no `key`: announce support but
   * hold no PPK, so the client's NO_PPK_AUTH is used).
   */
  ppk?: { id: Uint8Array; key?: Uint8Array };
  /**
   * RFC 5685: send the client to this gateway in the IKE_SA_INIT response (`init`, with `nonce`
   * replacing the client's Ni when given) or in the IKE_AUTH response (`auth`). Raw GW identity
   * bytes (type, length, identity), so tests can send malformed ones.
   */
  redirect?: { init?: Uint8Array; nonce?: Uint8Array; auth?: Uint8Array };
  random: Random;
}

/** What a hostile gateway does; unset options behave like an honest responder. */
export interface HostileOptions {
  /** Add a payload of unknown type 200 with the critical bit to this response (RFC 7296 §2.5). */
  criticalIn?: 'IKE_SA_INIT' | 'IKE_AUTH';
  /** Answer every IKE_SA_INIT with a new COOKIE, forever. */
  cookieLoop?: boolean;
  /** Answer every IKE_SA_INIT with INVALID_KE_PAYLOAD naming these groups in turn, forever. */
  invalidKeLoop?: number[];
  /** Answer IKE_SA_INIT with INVALID_KE_PAYLOAD carrying these bytes (e.g. the group the client used). */
  invalidKeData?: (clientGroup: number) => Uint8Array;
  /** The KE data of our IKE_SA_INIT response (e.g. an all-zero X25519 point). */
  keData?: Uint8Array;
  /** Send an AUTH that does not verify. */
  badAuth?: boolean;
  /** Flip the last byte of every datagram we send (the ICV of SK/SKF: undecryptable). */
  corruptSk?: boolean;
  /** Cut every datagram we send to this many bytes. */
  truncateTo?: number;
  /** Send every datagram with this initiator SPI (forged SPIs: not the client's SA). */
  forgeSpiI?: Uint8Array;
  /** Add this to the message ID of every datagram we send. */
  midOffset?: number;
  /** CP reply: extra attributes (4,999 DNS servers and friends). */
  cp?: { dns4?: number; dns6?: number; domains?: number; junk?: number };
  /** Answer TSi / TSr with these CIDRs instead of narrowing (e.g. wider than asked). */
  tsi?: string[];
  tsr?: string[];
  /** Add a non-critical unknown payload of this many bytes to the IKE_AUTH response. */
  authPadding?: number;
  /** The KE data of our IKE_INTERMEDIATE response (e.g. a truncated ML-KEM ciphertext). */
  intermediateKeData?: Uint8Array;
  /** Answer IKE_INTERMEDIATE with a KE payload of this method instead of the one asked for. */
  intermediateKeMethod?: number;
}

export interface ResponderChild {
  /** Responder's inbound SPI (= initiator's outbound). */
  inSpi: number;
  outSpi: number;
  encrId: number;
  keyI: Uint8Array;
  keyR: Uint8Array;
}

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0);
  return b;
}

function notify(type: number, data: Uint8Array = new Uint8Array(0)): NotifyPayload {
  return {
    type: PayloadType.NOTIFY,
    critical: false,
    protocol: 0,
    spi: new Uint8Array(0),
    notifyType: type,
    data,
  };
}

/**
 * RFC 8784 §3, computed here with node:crypto HMAC on its own (not src/ike/ppk.ts), so the two
 * derivations check each other: SK_x = prf+ (PPK, SK_x'), as long as SK_x'.
 */
export function ppkMixed(
  prfId: number,
  ppk: Uint8Array,
  k: { skD: Uint8Array; skPi: Uint8Array; skPr: Uint8Array },
): { skD: Uint8Array; skPi: Uint8Array; skPr: Uint8Array } {
  const hash = ({ 2: 'sha1', 5: 'sha256', 6: 'sha384', 7: 'sha512' } as Record<number, string>)[
    prfId
  ]!;
  const plus = (seed: Uint8Array): Uint8Array => {
    const chunks: Buffer[] = [];
    let t = Buffer.alloc(0);
    for (let i = 1; Buffer.concat(chunks).length < seed.length; i++) {
      t = createHmac(hash, ppk).update(t).update(seed).update(Uint8Array.of(i)).digest();
      chunks.push(t);
    }
    return new Uint8Array(Buffer.concat(chunks).subarray(0, seed.length));
  };
  return { skD: plus(k.skD), skPi: plus(k.skPi), skPr: plus(k.skPr) };
}

/** A payload of unknown type 200 with the critical bit set (RFC 7296 §2.5). */
function criticalUnknown(): Payload {
  return { type: 200, critical: true, unknown: true, body: Uint8Array.of(1, 2, 3, 4) };
}

/** CP attributes of a hostile CFG_REPLY: many DNS servers, domains and junk (empty, type 0x7f00). */
function hostileAttributes(cp: NonNullable<HostileOptions['cp']>): CfgAttribute[] {
  const out: CfgAttribute[] = [];
  for (let i = 0; i < (cp.dns4 ?? 0); i++)
    out.push({
      type: CfgAttr.INTERNAL_IP4_DNS,
      value: Uint8Array.of(10, (i >> 16) & 255, (i >> 8) & 255, i & 255),
    });
  for (let i = 0; i < (cp.dns6 ?? 0); i++) {
    const v = new Uint8Array(16);
    v.set([0x20, 0x01, 0x0d, 0xb8]);
    new DataView(v.buffer).setUint32(12, i + 1);
    out.push({ type: CfgAttr.INTERNAL_IP6_DNS, value: v });
  }
  for (let i = 0; i < (cp.domains ?? 0); i++)
    out.push({
      type: CfgAttr.INTERNAL_DNS_DOMAIN,
      value: new TextEncoder().encode(`d${i}.example`),
    });
  for (let i = 0; i < (cp.junk ?? 0); i++) out.push({ type: 0x7f00, value: new Uint8Array(0) });
  return out;
}

export class TestResponder {
  readonly opts: ResponderOptions;
  spiI: Uint8Array = new Uint8Array(8);
  spiR: Uint8Array = new Uint8Array(8);
  private ni: Uint8Array = new Uint8Array(0);
  private nr: Uint8Array = new Uint8Array(0);
  private initReq: Uint8Array = new Uint8Array(0);
  private initResp: Uint8Array = new Uint8Array(0);
  private prfId = 0;
  private crypter: SkCrypter | undefined;
  private keys: ReturnType<typeof deriveIkeKeys> | undefined;
  private cookieSecret = new Uint8Array(16).fill(7);
  child: ResponderChild | undefined;
  /** Message ID of our next request to the initiator. */
  private myMid = 0;
  lastAuthError: string | undefined;
  informationalsReceived: Payload[][] = [];
  deleted = false;
  /** After the gateway rekeyed the IKE SA it is the new SA's original initiator (RFC 7296 §2.18). */
  private gwInitiated = false;
  private pending:
    | { kind: 'child'; ni: Uint8Array; newSpi: number; ke?: ReturnType<typeof createKeyExchange> }
    | { kind: 'ike'; ni: Uint8Array; newSpiI: Uint8Array; ke: ReturnType<typeof createKeyExchange> }
    | undefined;
  /** The IKE SA replaced by our rekey, to send its DELETE. */
  private old:
    | {
        spiI: Uint8Array;
        spiR: Uint8Array;
        keys: ReturnType<typeof deriveIkeKeys>;
        gwInitiated: boolean;
        myMid: number;
      }
    | undefined;
  previousChild: ResponderChild | undefined;
  /** SPIs in the client's CHILD_SA DELETE requests (the client's inbound SPIs). */
  childDeletes: number[] = [];
  /** CREATE_CHILD_SA requests the client started (its rekeys), with our nonce. */
  clientRekeys: { ni: Uint8Array; nr: Uint8Array }[] = [];

  /** Requests the client sent in fragments, and how many fragments the last one had. */
  private readonly reassembler = new FragmentReassembler();
  private preopened: Payload[] | undefined;
  fragmentsReceived = 0;
  /** Answers we had to send in fragments. */
  fragmentedAnswers = 0;
  /** Datagrams of our last answer when it had to be fragmented (receive() returns the first). */
  lastDatagrams: Uint8Array[] = [];
  /** EAP state: the first IKE_AUTH request (SA, TS, IDi), our EAP identifier, success. */
  private eap: { first: Payload[]; id: number; challenge: Uint8Array; ok: boolean } | undefined;
  /** EAP packets the client answered with. */
  eapResponses: Uint8Array[] = [];
  /** Notify types of the last IKE_SA_INIT request, and its REDIRECTED_FROM data (RFC 5685). */
  initNotifyTypes: number[] = [];
  redirectedFrom: Uint8Array | undefined;
  /** RFC 8784: the client asked for a PPK, and whether we used it (else its NO_PPK_AUTH). */
  private ppkNegotiated = false;
  ppkUsed = false;
  /** The client's PPK_IDENTITY and NO_PPK_AUTH notify data in its IKE_AUTH request. */
  ppkIdentity: Uint8Array | undefined;
  noPpkAuth: Uint8Array | undefined;
  /** RFC 9370: ADDKE methods chosen in IKE_SA_INIT still to run, in order. */
  private addKePending: number[] = [];
  /** IKE_INTERMEDIATE requests answered: message ID, method and the sizes of both KE values. */
  intermediates: { mid: number; method: number; fragments: number; keiLength: number }[] = [];
  /** RFC 9242 §3.3.2: IntAuth_iN and IntAuth_rN so far, and the first IKE_AUTH message ID. */
  private intAuthI = new Uint8Array(0);
  private intAuthR = new Uint8Array(0);
  private ikeAuthMid: number | undefined;
  /** The plaintext inner payloads of the last request opened (for IntAuth). */
  private lastPlain: { first: number; bytes: Uint8Array } | undefined;
  /** fragmentsReceived when the last whole request was handled. */
  private fragmentsBefore = 0;
  /** INFORMATIONAL requests we could not decrypt (dropped). */
  undecryptable = 0;
  /** The chosen IKE proposal's transforms (for assertions). */
  chosenIke: Proposal | undefined;

  constructor(opts: ResponderOptions) {
    this.opts = opts;
  }

  /** Like receive(), returning every datagram of a fragmented answer. */
  receiveAll(data: Uint8Array, from: { address: string; port: number }): Uint8Array[] {
    if (this.opts.cacheResponses && this.cached && equalBytes(this.cached.request, data)) {
      this.cacheHits++;
      return this.cached.answer;
    }
    this.lastDatagrams = [];
    const first = this.receive(data, from);
    const answer = (this.lastDatagrams.length > 0 ? this.lastDatagrams : first ? [first] : []).map(
      (d) => this.mangle(d),
    );
    if (this.opts.cacheResponses && answer.length > 0)
      this.cached = { request: data.slice(), answer };
    return answer;
  }

  /** The last request we answered and our answer, when `cacheResponses` is on. */
  private cached: { request: Uint8Array; answer: Uint8Array[] } | undefined;
  /** Retransmitted requests answered from the cache. */
  cacheHits = 0;

  /** Applies the hostile options that damage whole datagrams. */
  private mangle(d: Uint8Array): Uint8Array {
    const h = this.opts.hostile;
    if (!h) return d;
    let out = d.slice();
    if (h.forgeSpiI) out.set(h.forgeSpiI, 0);
    if (h.midOffset) {
      const dv = new DataView(out.buffer, out.byteOffset);
      dv.setUint32(20, (dv.getUint32(20) + h.midOffset) >>> 0);
    }
    if (h.corruptSk) out[out.length - 1]! ^= 0x01;
    if (h.truncateTo !== undefined) out = out.slice(0, h.truncateTo);
    return out;
  }

  /**
   * An SK message around arbitrary inner bytes (first inner payload type `first`), sealed with
   * our keys: for feeding mutated-but-authentic plaintext to the client's parsers.
   */
  sealInner(
    exchange: number,
    mid: number,
    response: boolean,
    first: number,
    plain: Uint8Array,
  ): Uint8Array {
    const crypter = this.crypter!;
    const k = this.keys!;
    const bodyLength = crypter.bodyLength(plain.length);
    const msg = encodeMessage(
      {
        spiI: this.spiI,
        spiR: this.spiR,
        version: 0x20,
        exchangeType: exchange,
        flags: (response ? HeaderFlag.RESPONSE : 0) | (this.gwInitiated ? HeaderFlag.INITIATOR : 0),
        messageId: mid,
      },
      [
        {
          type: PayloadType.SK,
          critical: false,
          firstInner: first,
          body: new Uint8Array(bodyLength),
        },
      ],
    );
    const aadLen = msg.length - bodyLength;
    const keys = this.gwInitiated
      ? { encr: k.skEi, ...(k.skAi.length ? { integ: k.skAi } : {}) }
      : { encr: k.skEr, ...(k.skAr.length ? { integ: k.skAr } : {}) };
    msg.set(crypter.seal(keys, msg.subarray(0, aadLen), plain, this.opts.random), aadLen);
    return msg;
  }

  /** Opens a message we sealed ourselves (for tests that mutate its plaintext). */
  openOwn(data: Uint8Array): { first: number; plain: Uint8Array } {
    const { payloads } = decodeMessage(data);
    const sk = payloads.find((p): p is SkPayload => p.type === PayloadType.SK)!;
    const k = this.keys!;
    const keys = this.gwInitiated
      ? { encr: k.skEi, ...(k.skAi.length ? { integ: k.skAi } : {}) }
      : { encr: k.skEr, ...(k.skAr.length ? { integ: k.skAr } : {}) };
    const aadLen = data.length - sk.body.length;
    return {
      first: sk.firstInner,
      plain: this.crypter!.open(keys, data.subarray(0, aadLen), sk.body),
    };
  }

  /** Gateway-initiated requests for hostile tests: `n` DELETEs of these ESP SPIs (a storm). */
  deleteStorm(n: number, spis: number[]): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      out.push(
        this.seal(ExchangeType.INFORMATIONAL, this.myMid++, false, [
          {
            type: PayloadType.DELETE,
            critical: false,
            protocol: ProtocolId.ESP,
            spiSize: 4,
            spis: spis.map(u32),
          },
        ]),
      );
    }
    return out;
  }

  /** Handles one datagram from the initiator; returns our answer (or none). */
  receive(data: Uint8Array, from: { address: string; port: number }): Uint8Array | undefined {
    const { header, payloads } = decodeMessage(data);
    if (
      this.old &&
      equalBytes(header.spiI, this.old.spiI) &&
      equalBytes(header.spiR, this.old.spiR)
    ) {
      return this.withOld(() => this.receive(data, from));
    }
    const skf = payloads.find((p): p is SkfPayload => p.type === PayloadType.SKF);
    if (skf) {
      // RFC 7383 §2.6: open each fragment, reassemble, then handle the whole message.
      this.fragmentsReceived++;
      const aadLen = data.length - skf.body.length;
      const plain = this.crypter!.open(this.initiatorKeys(), data.subarray(0, aadLen), skf.body);
      const r = this.reassembler.add({
        messageId: header.messageId,
        fragmentNumber: skf.fragmentNumber,
        totalFragments: skf.totalFragments,
        firstInner: skf.firstInner,
        plaintext: plain,
      });
      if (r.status !== 'complete') return undefined;
      this.preopened = decodePayloadChain(r.first, r.bytes, 0);
      this.lastPlain = { first: r.first, bytes: r.bytes };
    }
    if ((header.flags & HeaderFlag.RESPONSE) !== 0) {
      // A response to a request we made: decrypt and record it.
      const inner = this.open(data, payloads);
      this.informationalsReceived.push(inner);
      if (header.exchangeType === ExchangeType.CREATE_CHILD_SA) return this.completeRekey(inner);
      if (header.exchangeType === ExchangeType.IKE_FOLLOWUP_KE)
        return this.continueOwnFollowup(inner);
      return undefined;
    }
    switch (header.exchangeType) {
      case ExchangeType.IKE_SA_INIT:
        return this.onInit(header, payloads, data, from);
      case ExchangeType.IKE_AUTH:
        return this.onAuth(header, payloads, data);
      case ExchangeType.INFORMATIONAL: {
        let inner: Payload[];
        try {
          inner = this.open(data, payloads);
        } catch {
          // E.g. the client's DELETE under the keys before an IKE_INTERMEDIATE it then refused.
          this.undecryptable++;
          return undefined;
        }
        this.informationalsReceived.push(inner);
        const d = findPayload(inner, PayloadType.DELETE);
        if (d?.protocol === ProtocolId.IKE) this.deleted = true;
        const ns = filterPayloads(inner, PayloadType.NOTIFY);
        if (this.opts.mobike && ns.some((n) => n.notifyType === NotifyType.UPDATE_SA_ADDRESSES)) {
          // RFC 4555 §3.5: move to where the update came from; echo COOKIE2, send NAT-D.
          this.addressUpdates.push(from);
          const cookie2 = ns.find((n) => n.notifyType === NotifyType.COOKIE2);
          return this.seal(header.exchangeType, header.messageId, true, [
            notify(NotifyType.NAT_DETECTION_SOURCE_IP, this.opts.random.bytes(20)),
            notify(NotifyType.NAT_DETECTION_DESTINATION_IP, this.opts.random.bytes(20)),
            ...(cookie2 && !this.breakCookie2 ? [notify(NotifyType.COOKIE2, cookie2.data)] : []),
          ]);
        }
        // Answer a CHILD_SA delete with our inbound SPI of the same SA (RFC 7296 §1.4.1).
        if (d?.protocol === ProtocolId.ESP) {
          const spi = new DataView(d.spis[0]!.buffer, d.spis[0]!.byteOffset, 4).getUint32(0);
          const mine = [this.child, this.previousChild].find((c) => c?.outSpi === spi);
          this.childDeletes.push(spi);
          return this.seal(
            header.exchangeType,
            header.messageId,
            true,
            mine
              ? [
                  {
                    type: PayloadType.DELETE,
                    critical: false,
                    protocol: ProtocolId.ESP,
                    spiSize: 4,
                    spis: [u32(mine.inSpi)],
                  },
                ]
              : [],
          );
        }
        return this.seal(header.exchangeType, header.messageId, true, []);
      }
      case ExchangeType.CREATE_CHILD_SA:
        return this.onCreateChild(header, payloads, data);
      case ExchangeType.IKE_INTERMEDIATE:
        return this.onIntermediate(header, payloads, data);
      case ExchangeType.IKE_FOLLOWUP_KE:
        return this.onFollowup(header, payloads, data);
      default:
        return undefined;
    }
  }

  private onInit(
    header: IkeHeader,
    payloads: Payload[],
    data: Uint8Array,
    from: { address: string; port: number },
  ): Uint8Array {
    const hdr = (spiR: Uint8Array): Omit<IkeHeader, 'nextPayload' | 'length'> => ({
      spiI: header.spiI,
      spiR,
      version: 0x20,
      exchangeType: ExchangeType.IKE_SA_INIT,
      flags: HeaderFlag.RESPONSE,
      messageId: 0,
    });
    const zero = new Uint8Array(8);
    if (this.opts.refuseIke)
      return encodeMessage(hdr(zero), [notify(NotifyType.NO_PROPOSAL_CHOSEN)]);
    const notifies = filterPayloads(payloads, PayloadType.NOTIFY);
    this.initNotifyTypes = notifies.map((n) => n.notifyType);
    this.redirectedFrom = notifies.find((n) => n.notifyType === NotifyType.REDIRECTED_FROM)?.data;
    this.ppkNegotiated =
      this.opts.ppk !== undefined && notifies.some((n) => n.notifyType === NotifyType.USE_PPK);
    const redirectOk = notifies.some(
      (n) =>
        n.notifyType === NotifyType.REDIRECT_SUPPORTED ||
        n.notifyType === NotifyType.REDIRECTED_FROM,
    );
    if (this.opts.redirect?.init && redirectOk) {
      // RFC 5685 §3: REDIRECT with the client's nonce, and nothing else.
      const ni = findPayload(payloads, PayloadType.NONCE)?.data ?? new Uint8Array(0);
      return encodeMessage(hdr(zero), [
        notify(
          NotifyType.REDIRECT,
          concatBytes(this.opts.redirect.init, this.opts.redirect.nonce ?? ni),
        ),
      ]);
    }
    if (this.opts.demandCookie) {
      const expected = createHmac('sha256', this.cookieSecret)
        .update(header.spiI)
        .digest()
        .subarray(0, 16);
      const c = notifies.find((n) => n.notifyType === NotifyType.COOKIE);
      if (!c || !equalBytes(c.data, expected)) {
        return encodeMessage(hdr(zero), [notify(NotifyType.COOKIE, new Uint8Array(expected))]);
      }
    }
    const sa = findPayload(payloads, PayloadType.SA);
    const ke = findPayload(payloads, PayloadType.KE);
    const nonce = findPayload(payloads, PayloadType.NONCE);
    if (!sa || !ke || !nonce) {
      throw new Error('responder: bad IKE_SA_INIT');
    }
    const h = this.opts.hostile;
    if (h?.cookieLoop) {
      this.initsSeen++;
      return encodeMessage(hdr(zero), [notify(NotifyType.COOKIE, this.opts.random.bytes(16))]);
    }
    if (h?.invalidKeLoop) {
      const g = new Uint8Array(2);
      new DataView(g.buffer).setUint16(
        0,
        h.invalidKeLoop[this.initsSeen++ % h.invalidKeLoop.length]!,
      );
      return encodeMessage(hdr(zero), [notify(NotifyType.INVALID_KE_PAYLOAD, g)]);
    }
    if (h?.invalidKeData) {
      this.initsSeen++;
      return encodeMessage(hdr(zero), [
        notify(NotifyType.INVALID_KE_PAYLOAD, h.invalidKeData(ke.dhGroup)),
      ]);
    }
    if (this.opts.requireGroup !== undefined && ke.dhGroup !== this.opts.requireGroup) {
      const g = new Uint8Array(2);
      new DataView(g.buffer).setUint16(0, this.opts.requireGroup);
      return encodeMessage(hdr(zero), [notify(NotifyType.INVALID_KE_PAYLOAD, g)]);
    }
    // Choose the first transform of each type from the first proposal.
    const p = sa.proposals[0]!;
    const pick = (type: number) => p.transforms.find((t) => t.type === type);
    const encr = pick(TransformType.ENCR)!;
    const prfT = pick(TransformType.PRF)!;
    const dhT = p.transforms.find((t) => t.type === TransformType.DH && t.id === ke.dhGroup)!;
    const integ = pick(TransformType.INTEG);
    // RFC 9370 §2.2.1: the first method of each ADDKE type offered (types 6..12, in order).
    const wantsIntermediate = notifies.some(
      (n) => n.notifyType === NotifyType.INTERMEDIATE_EXCHANGE_SUPPORTED,
    );
    const addKe =
      this.opts.intermediate === false
        ? []
        : [6, 7, 8, 9, 10, 11, 12]
            .map((type) => p.transforms.find((t) => t.type === type))
            .filter((t): t is NonNullable<typeof t> => t !== undefined);
    this.addKePending = addKe.filter((t) => t.id !== 0).map((t) => t.id);
    this.intermediates = [];
    this.intAuthI = new Uint8Array(0);
    this.intAuthR = new Uint8Array(0);
    this.ikeAuthMid = undefined;
    const chosen: Proposal = {
      num: p.num,
      protocol: ProtocolId.IKE,
      spi: new Uint8Array(0),
      transforms: [encr, ...(integ ? [integ] : []), prfT, dhT, ...addKe],
    };
    this.chosenIke = chosen;
    this.spiI = header.spiI.slice();
    this.spiR = this.opts.random.bytes(8);
    this.ni = nonce.data.slice();
    this.nr = this.opts.random.bytes(32);
    // DH: our key pair; ML-KEM (draft-ietf-ipsecme-ikev2-mlkem): a ciphertext to their key.
    const myKe = respondKeyExchange(ke.dhGroup, ke.data, this.opts.random);
    const shared = myKe.sharedSecret;
    const keyBits = encr.attributes.find((a) => a.type === TransformAttr.KEY_LENGTH)?.value;
    this.crypter = createSkCrypter(
      encr.id,
      typeof keyBits === 'number' ? keyBits : 256,
      integ?.id ?? 0,
    );
    this.prfId = prfT.id;
    this.keys = deriveIkeKeys({
      prfId: this.prfId,
      encrKeyLength: this.crypter.encrKeyLength,
      integKeyLength: this.crypter.integKeyLength,
      ni: this.ni,
      nr: this.nr,
      spiI: this.spiI,
      spiR: this.spiR,
      sharedSecret: shared,
    });
    const port = new Uint8Array(2);
    const natd = (addr: string, portNo: number): Uint8Array => {
      new DataView(port.buffer).setUint16(0, portNo);
      return sha1(concatBytes(this.spiI, this.spiR, parseIpAddress(addr), port));
    };
    const srcHash = natd(this.opts.address.address, this.opts.address.port);
    const dstHash = this.opts.natHere ? this.opts.random.bytes(20) : natd(from.address, from.port);
    this.initReq = data.slice();
    this.initResp = encodeMessage(hdr(this.spiR), [
      { type: PayloadType.SA, critical: false, proposals: [chosen] },
      {
        type: PayloadType.KE,
        critical: false,
        dhGroup: ke.dhGroup,
        data: h?.keData ?? myKe.publicValue,
      },
      ...(h?.criticalIn === 'IKE_SA_INIT' ? [criticalUnknown()] : []),
      { type: PayloadType.NONCE, critical: false, data: this.nr },
      notify(NotifyType.NAT_DETECTION_SOURCE_IP, srcHash),
      notify(NotifyType.NAT_DETECTION_DESTINATION_IP, dstHash),
      ...(this.opts.fragmentSize !== undefined
        ? [notify(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED)]
        : []),
      // RFC 7427 §4: SHA2-256/384/512 and Identity.
      notify(NotifyType.SIGNATURE_HASH_ALGORITHMS, Uint8Array.of(0, 2, 0, 3, 0, 4, 0, 5)),
      ...(this.ppkNegotiated ? [notify(NotifyType.USE_PPK)] : []),
      ...(wantsIntermediate &&
      this.opts.intermediate !== false &&
      this.opts.announceIntermediate !== false
        ? [notify(NotifyType.INTERMEDIATE_EXCHANGE_SUPPORTED)]
        : []),
    ]);
    return this.initResp;
  }

  /** Decrypts a message the client sent, without acting on it (for assertions). */
  decryptForTest(data: Uint8Array): Payload[] {
    const { header, payloads } = decodeMessage(data);
    if (
      this.old &&
      equalBytes(header.spiI, this.old.spiI) &&
      equalBytes(header.spiR, this.old.spiR)
    ) {
      return this.withOld(() => this.open(data, payloads));
    }
    return this.open(data, payloads);
  }

  private initiatorKeys(): { encr: Uint8Array; integ?: Uint8Array } {
    const k = this.keys!;
    return k.skAi.length ? { encr: k.skEi, integ: k.skAi } : { encr: k.skEi };
  }

  private open(data: Uint8Array, payloads: Payload[]): Payload[] {
    if (this.preopened) {
      const p = this.preopened;
      this.preopened = undefined;
      return p;
    }
    const sk = payloads.find((p): p is SkPayload => p.type === PayloadType.SK);
    if (!sk || !this.crypter || !this.keys) throw new Error('responder: no SK');
    const aadLen = data.length - sk.body.length;
    const k = this.keys;
    const keys = this.gwInitiated
      ? k.skAr.length
        ? { encr: k.skEr, integ: k.skAr }
        : { encr: k.skEr }
      : k.skAi.length
        ? { encr: k.skEi, integ: k.skAi }
        : { encr: k.skEi };
    const inner = this.crypter.open(keys, data.subarray(0, aadLen), sk.body);
    this.lastPlain = { first: sk.firstInner, bytes: inner };
    return decodePayloadChain(sk.firstInner, inner, aadLen);
  }

  private seal(exchange: number, mid: number, response: boolean, inner: Payload[]): Uint8Array {
    const crypter = this.crypter!;
    const k = this.keys!;
    const chain = encodePayloadChain(inner);
    const bodyLength = crypter.bodyLength(chain.bytes.length);
    const msg = encodeMessage(
      {
        spiI: this.spiI,
        spiR: this.spiR,
        version: 0x20,
        exchangeType: exchange,
        flags: (response ? HeaderFlag.RESPONSE : 0) | (this.gwInitiated ? HeaderFlag.INITIATOR : 0),
        messageId: mid,
      },
      [
        {
          type: PayloadType.SK,
          critical: false,
          firstInner: chain.first,
          body: new Uint8Array(bodyLength),
        },
      ],
    );
    const aadLen = msg.length - bodyLength;
    const keys = this.gwInitiated
      ? k.skAi.length
        ? { encr: k.skEi, integ: k.skAi }
        : { encr: k.skEi }
      : k.skAr.length
        ? { encr: k.skEr, integ: k.skAr }
        : { encr: k.skEr };
    msg.set(crypter.seal(keys, msg.subarray(0, aadLen), chain.bytes, this.opts.random), aadLen);
    const max = this.opts.fragmentSize;
    if (max === undefined || msg.length + 32 <= max) return msg;
    // RFC 7383 §2.5: each fragment encrypted on its own; the header and SKF header are the AAD.
    const pieces = splitForFragments(chain.bytes, max - 32 - 36 - 64);
    this.fragmentedAnswers++;
    this.lastDatagrams = pieces.map((piece, i) => {
      const bl = crypter.bodyLength(piece.length);
      const frag = encodeMessage(
        {
          spiI: this.spiI,
          spiR: this.spiR,
          version: 0x20,
          exchangeType: exchange,
          flags:
            (response ? HeaderFlag.RESPONSE : 0) | (this.gwInitiated ? HeaderFlag.INITIATOR : 0),
          messageId: mid,
        },
        [
          {
            type: PayloadType.SKF,
            critical: false,
            firstInner: i === 0 ? chain.first : 0,
            fragmentNumber: i + 1,
            totalFragments: pieces.length,
            body: new Uint8Array(bl),
          },
        ],
      );
      const al = frag.length - bl;
      frag.set(crypter.seal(keys, frag.subarray(0, al), piece, this.opts.random), al);
      return frag;
    });
    return this.lastDatagrams[0]!;
  }

  private authOctets(
    realMessage: Uint8Array,
    nonce: Uint8Array,
    key: Uint8Array,
    idType: number,
    idData: Uint8Array,
  ): Uint8Array {
    const body = concatBytes(Uint8Array.of(idType, 0, 0, 0), idData);
    // RFC 9242 §3.3.2: after IKE_INTERMEDIATE, IntAuth_iN | IntAuth_rN | IKE_AUTH's message ID.
    const intAuth =
      this.intermediates.length > 0
        ? concatBytes(this.intAuthI, this.intAuthR, u32(this.ikeAuthMid ?? 0))
        : new Uint8Array(0);
    return concatBytes(realMessage, nonce, prf(this.prfId, key, body), intAuth);
  }

  private pskAuth(octets: Uint8Array): Uint8Array {
    return prf(
      this.prfId,
      prf(this.prfId, this.opts.psk, new TextEncoder().encode('Key Pad for IKEv2')),
      octets,
    );
  }

  /** Our IDr, [CERT,] AUTH: a PSK MAC, or a signature with our certificate's key. */
  private myIdentityProof(): Payload[] {
    const k = this.keys!;
    const octets = this.authOctets(
      this.initResp,
      this.ni,
      k.skPr,
      this.opts.id.type,
      this.opts.id.data,
    );
    const idr = {
      type: PayloadType.IDr,
      critical: false,
      idType: this.opts.id.type,
      data: this.opts.id.data,
    } as const;
    const c = this.opts.cert;
    if (!c) {
      return [
        idr,
        {
          type: PayloadType.AUTH,
          critical: false,
          method: AuthMethod.SHARED_KEY_MIC,
          data: this.pskAuth(octets),
        },
      ];
    }
    const sig = signAuth(c.key, octets, { peerHashes: [2, 3, 4, 5] });
    return [
      idr,
      ...c.certs.map(
        (der) =>
          ({
            type: PayloadType.CERT,
            critical: false,
            encoding: CertEncoding.X509_SIG,
            data: der,
          }) as const,
      ),
      { type: PayloadType.AUTH, critical: false, method: sig.method, data: sig.data },
    ];
  }

  private eapPacket(code: number, id: number, type?: number, data?: Uint8Array): Uint8Array {
    const body = type === undefined ? new Uint8Array(0) : concatBytes(Uint8Array.of(type), data!);
    const len = 4 + body.length;
    return concatBytes(Uint8Array.of(code, id, len >> 8, len & 0xff), body);
  }

  /** EAP-MD5 (RFC 3748 §5.4) inside IKE_AUTH (RFC 7296 §2.16), no MSK: AUTH keyed with SK_p. */
  private onEapAuth(header: IkeHeader, inner: Payload[]): Uint8Array {
    const k = this.keys!;
    const eapP = findPayload(inner, PayloadType.EAP);
    const auth = findPayload(inner, PayloadType.AUTH);
    const seal = (p: Payload[]): Uint8Array =>
      this.seal(ExchangeType.IKE_AUTH, header.messageId, true, p);
    if (!this.eap) {
      // First IKE_AUTH without AUTH: prove ourselves and send an MD5-Challenge.
      const challenge = this.opts.random.bytes(16);
      this.eap = { first: inner, id: 1, challenge, ok: false };
      const proof = this.myIdentityProof();
      return seal([
        ...(this.opts.eapOnly ? proof.filter((p) => p.type === PayloadType.IDr) : proof),
        {
          type: PayloadType.EAP,
          critical: false,
          data:
            this.opts.eapServer?.start() ??
            this.eapPacket(1, 1, 4, concatBytes(Uint8Array.of(16), challenge)),
        },
      ]);
    }
    if (eapP && this.opts.eapServer) {
      this.eapResponses.push(eapP.data);
      const answer = this.opts.eapServer.next(eapP.data);
      this.eap.ok = answer[0] === 3;
      return seal([{ type: PayloadType.EAP, critical: false, data: answer }]);
    }
    if (eapP) {
      this.eapResponses.push(eapP.data);
      const d = eapP.data;
      // Response, our identifier, type MD5 (4): Value-Size, Value = MD5(id ‖ secret ‖ challenge).
      const expected = createHash('md5')
        .update(Uint8Array.of(this.eap.id))
        .update(this.opts.eapMd5Password!)
        .update(this.eap.challenge)
        .digest();
      const ok =
        d[0] === 2 &&
        d[1] === this.eap.id &&
        d[4] === 4 &&
        d[5] === 16 &&
        timingSafeEqual(Buffer.from(d.subarray(6, 22)), expected);
      this.eap.ok = ok;
      return seal([
        { type: PayloadType.EAP, critical: false, data: this.eapPacket(ok ? 3 : 4, 2) },
      ]);
    }
    if (!auth || !this.eap.ok) return seal([notify(NotifyType.AUTHENTICATION_FAILED)]);
    const idi = findPayload(this.eap.first, PayloadType.IDi)!;
    // §2.16: the MSK keys both AUTHs; without one, SK_pi (theirs) and SK_pr (ours).
    const msk = this.opts.eapServer?.msk();
    const expected = prf(
      this.prfId,
      prf(this.prfId, msk ?? k.skPi, new TextEncoder().encode('Key Pad for IKEv2')),
      this.authOctets(this.initReq, this.nr, k.skPi, idi.idType, idi.data),
    );
    if (expected.length !== auth.data.length || !timingSafeEqual(expected, auth.data)) {
      this.lastAuthError = 'EAP AUTH mismatch';
      return seal([notify(NotifyType.AUTHENTICATION_FAILED)]);
    }
    const mine = prf(
      this.prfId,
      prf(this.prfId, msk ?? k.skPr, new TextEncoder().encode('Key Pad for IKEv2')),
      this.authOctets(this.initResp, this.ni, k.skPr, this.opts.id.type, this.opts.id.data),
    );
    return seal([
      { type: PayloadType.AUTH, critical: false, method: AuthMethod.SHARED_KEY_MIC, data: mine },
      ...this.childReply(this.eap.first),
    ]);
  }

  private onAuth(header: IkeHeader, payloads: Payload[], data: Uint8Array): Uint8Array {
    this.ikeAuthMid ??= header.messageId;
    const inner = this.open(data, payloads);
    if (this.opts.eapMd5Password !== undefined || this.opts.eapServer)
      return this.onEapAuth(header, inner);
    const idi = findPayload(inner, PayloadType.IDi);
    const auth = findPayload(inner, PayloadType.AUTH);
    if (!idi || !auth) throw new Error('responder: no IDi/AUTH');
    let authData = auth.data;
    const innerNotifies = filterPayloads(inner, PayloadType.NOTIFY);
    this.ppkIdentity = innerNotifies.find((n) => n.notifyType === NotifyType.PPK_IDENTITY)?.data;
    this.noPpkAuth = innerNotifies.find((n) => n.notifyType === NotifyType.NO_PPK_AUTH)?.data;
    this.ppkUsed = false;
    if (this.ppkNegotiated) {
      const ppk = this.opts.ppk!;
      // RFC 8784 §3: PPK_ID_FIXED (2) ‖ ID names our PPK: mix it into SK_d, SK_pi, SK_pr.
      const named =
        this.ppkIdentity !== undefined &&
        this.ppkIdentity[0] === 2 &&
        equalBytes(this.ppkIdentity.subarray(1), ppk.id);
      if (named && ppk.key) {
        this.keys = { ...this.keys!, ...ppkMixed(this.prfId, ppk.key, this.keys!) };
        this.ppkUsed = true;
      } else if (this.noPpkAuth) {
        authData = this.noPpkAuth;
      } else {
        return this.seal(ExchangeType.IKE_AUTH, header.messageId, true, [
          notify(NotifyType.AUTHENTICATION_FAILED),
        ]);
      }
    }
    const k = this.keys!;
    const expected = this.pskAuth(
      this.authOctets(this.initReq, this.nr, k.skPi, idi.idType, idi.data),
    );
    if (
      auth.method === AuthMethod.SHARED_KEY_MIC &&
      this.opts.checkAuth !== false &&
      (expected.length !== authData.length || !timingSafeEqual(expected, authData))
    ) {
      this.lastAuthError = 'AUTH mismatch';
      return this.seal(ExchangeType.IKE_AUTH, header.messageId, true, [
        notify(NotifyType.AUTHENTICATION_FAILED),
      ]);
    }
    const h = this.opts.hostile;
    const proof = this.myIdentityProof();
    if (h?.badAuth) {
      for (const p of proof) if (p.type === PayloadType.AUTH && 'data' in p) p.data[0]! ^= 0x80;
    }
    if (this.opts.redirect?.auth) {
      // RFC 5685 §6: authenticated, then sent elsewhere: no CP, SA or TS.
      return this.seal(ExchangeType.IKE_AUTH, header.messageId, true, [
        ...proof,
        notify(NotifyType.REDIRECT, this.opts.redirect.auth),
      ]);
    }
    return this.seal(ExchangeType.IKE_AUTH, header.messageId, true, [
      ...proof,
      ...(this.ppkUsed ? [notify(NotifyType.PPK_IDENTITY)] : []),
      ...(this.opts.mobike ? [notify(NotifyType.MOBIKE_SUPPORTED)] : []),
      ...(h?.criticalIn === 'IKE_AUTH' ? [criticalUnknown()] : []),
      ...(h?.authPadding
        ? [
            {
              type: 201,
              critical: false,
              unknown: true,
              body: new Uint8Array(h.authPadding),
            } as const,
          ]
        : []),
      ...this.childReply(inner),
    ]);
  }

  /** CP reply, SA and narrowed TS for the first CHILD_SA requested in `inner`. */
  private childReply(inner: Payload[]): Payload[] {
    const k = this.keys!;
    const sa = findPayload(inner, PayloadType.SA);
    const tsi = findPayload(inner, PayloadType.TSi);
    const tsr = findPayload(inner, PayloadType.TSr);
    if (!sa || !tsi || !tsr) {
      throw new Error('responder: no SA/TS');
    }
    const p = sa.proposals[0]!;
    const encr = p.transforms.find((t) => t.type === TransformType.ENCR)!;
    const esn = p.transforms.find((t) => t.type === TransformType.ESN);
    const inSpi = new DataView(this.opts.random.bytes(4).buffer).getUint32(0) | 0x100;
    const keyBits = encr.attributes.find((a) => a.type === TransformAttr.KEY_LENGTH)?.value;
    const encrLen = (typeof keyBits === 'number' ? keyBits : 256) / 8 + 4;
    const ck = deriveChildKeys({
      prfId: this.prfId,
      skD: k.skD,
      ni: this.ni,
      nr: this.nr,
      encrKeyLength: encrLen,
      integKeyLength: 0,
    });
    this.child = {
      inSpi: inSpi >>> 0,
      outSpi: new DataView(p.spi.buffer, p.spi.byteOffset, 4).getUint32(0),
      encrId: encr.id,
      keyI: ck.encrI,
      keyR: ck.encrR,
    };
    const vip = this.opts.virtualIp ?? '203.0.113.130';
    const h = this.opts.hostile;
    const narrowedI: TrafficSelector[] = h?.tsi
      ? h.tsi.map((c) => tsFromCidr(c))
      : [tsFromCidr(`${vip}/32`)];
    const narrowedR: TrafficSelector[] = h?.tsr
      ? h.tsr.map((c) => tsFromCidr(c))
      : [tsFromCidr(this.opts.subnet ?? '203.0.113.0/25')];
    const attrs: CfgAttribute[] = [
      { type: CfgAttr.INTERNAL_IP4_ADDRESS, value: parseIpAddress(vip) },
    ];
    for (const d of this.opts.dns ?? ['203.0.113.53'])
      attrs.push({ type: CfgAttr.INTERNAL_IP4_DNS, value: parseIpAddress(d) });
    if (h?.cp) attrs.push(...hostileAttributes(h.cp));
    return [
      { type: PayloadType.CP, critical: false, cfgType: CfgType.REPLY, attributes: attrs },
      {
        type: PayloadType.SA,
        critical: false,
        proposals: [
          {
            num: p.num,
            protocol: ProtocolId.ESP,
            spi: u32(this.child.inSpi),
            transforms: [encr, ...(esn ? [esn] : [])],
          },
        ],
      },
      { type: PayloadType.TSi, critical: false, selectors: narrowedI },
      { type: PayloadType.TSr, critical: false, selectors: narrowedR },
    ];
  }

  /** RFC 5685 §5: INFORMATIONAL { N(REDIRECT, GW identity `gw`) } on the established SA. */
  redirectRequest(gw: Uint8Array): Uint8Array {
    return this.seal(ExchangeType.INFORMATIONAL, this.myMid++, false, [
      notify(NotifyType.REDIRECT, gw),
    ]);
  }

  /** Builds a request from the gateway: an empty INFORMATIONAL (liveness) or a DELETE. */
  request(kind: 'dpd' | 'delete-ike' | 'delete-child'): Uint8Array {
    const mid = this.myMid++;
    const inner: Payload[] =
      kind === 'dpd'
        ? []
        : kind === 'delete-ike'
          ? [
              {
                type: PayloadType.DELETE,
                critical: false,
                protocol: ProtocolId.IKE,
                spiSize: 0,
                spis: [],
              },
            ]
          : [
              {
                type: PayloadType.DELETE,
                critical: false,
                protocol: ProtocolId.ESP,
                spiSize: 4,
                spis: [u32(this.child!.inSpi)],
              },
            ];
    return this.seal(ExchangeType.INFORMATIONAL, mid, false, inner);
  }

  /** Swaps in the IKE SA replaced by our rekey for the duration of `fn`. */
  private withOld<T>(fn: () => T): T {
    const o = this.old!;
    const cur = {
      spiI: this.spiI,
      spiR: this.spiR,
      keys: this.keys!,
      gwInitiated: this.gwInitiated,
      myMid: this.myMid,
    };
    this.old = undefined;
    Object.assign(this, {
      spiI: o.spiI,
      spiR: o.spiR,
      keys: o.keys,
      gwInitiated: o.gwInitiated,
      myMid: o.myMid,
    });
    try {
      return fn();
    } finally {
      o.myMid = this.myMid;
      Object.assign(this, cur);
      this.old = o;
    }
  }

  /**
   * CREATE_CHILD_SA { N(REKEY_SA), SA, Ni, [KEi], TSi, TSr } rekeying the CHILD_SA (§1.3.3);
   * `addKe`: ADDKE1.. methods offered with the PFS group (RFC 9370 §2.2.4, then IKE_FOLLOWUP_KE).
   */
  rekeyChild(pfsGroup?: number, addKe: number[] = []): Uint8Array {
    const child = this.child!;
    const ni = this.opts.random.bytes(32);
    const newSpi = (new DataView(this.opts.random.bytes(4).buffer).getUint32(0) | 0x100) >>> 0;
    const ke = pfsGroup === undefined ? undefined : createKeyExchange(pfsGroup, this.opts.random);
    this.pending = ke ? { kind: 'child', ni, newSpi, ke } : { kind: 'child', ni, newSpi };
    const transforms = [
      {
        type: TransformType.ENCR,
        id: 20,
        attributes: [{ type: TransformAttr.KEY_LENGTH, value: 256 }],
      },
      ...(pfsGroup === undefined ? [] : [{ type: TransformType.DH, id: pfsGroup, attributes: [] }]),
      ...addKe.map((id, i) => ({ type: 6 + i, id, attributes: [] })),
      { type: TransformType.ESN, id: 0, attributes: [] },
    ];
    const vip = this.opts.virtualIp ?? '203.0.113.130';
    const inner: Payload[] = [
      { ...notify(NotifyType.REKEY_SA), protocol: ProtocolId.ESP, spi: u32(child.inSpi) },
      {
        type: PayloadType.SA,
        critical: false,
        proposals: [{ num: 1, protocol: ProtocolId.ESP, spi: u32(newSpi), transforms }],
      },
      { type: PayloadType.NONCE, critical: false, data: ni },
      ...(ke
        ? [
            {
              type: PayloadType.KE,
              critical: false,
              dhGroup: pfsGroup!,
              data: ke.publicValue,
            } as const,
          ]
        : []),
      {
        type: PayloadType.TSi,
        critical: false,
        selectors: [tsFromCidr(this.opts.subnet ?? '203.0.113.0/25')],
      },
      { type: PayloadType.TSr, critical: false, selectors: [tsFromCidr(`${vip}/32`)] },
    ];
    return this.seal(ExchangeType.CREATE_CHILD_SA, this.myMid++, false, inner);
  }

  /** CREATE_CHILD_SA { SA(IKE), Ni, KEi } rekeying the IKE SA (§1.3.2). */
  rekeyIke(group = 31): Uint8Array {
    const ni = this.opts.random.bytes(32);
    const newSpiI = this.opts.random.bytes(8);
    const ke = createKeyExchange(group, this.opts.random);
    this.pending = { kind: 'ike', ni, newSpiI, ke };
    const transforms = [
      {
        type: TransformType.ENCR,
        id: 20,
        attributes: [{ type: TransformAttr.KEY_LENGTH, value: 256 }],
      },
      { type: TransformType.PRF, id: 5, attributes: [] },
      { type: TransformType.DH, id: group, attributes: [] },
    ];
    const inner: Payload[] = [
      {
        type: PayloadType.SA,
        critical: false,
        proposals: [{ num: 1, protocol: ProtocolId.IKE, spi: newSpiI, transforms }],
      },
      { type: PayloadType.NONCE, critical: false, data: ni },
      { type: PayloadType.KE, critical: false, dhGroup: group, data: ke.publicValue },
    ];
    return this.seal(ExchangeType.CREATE_CHILD_SA, this.myMid++, false, inner);
  }

  /** INFORMATIONAL { D(IKE) } on the IKE SA our rekey replaced. */
  deleteOldIke(): Uint8Array {
    return this.withOld(() =>
      this.seal(ExchangeType.INFORMATIONAL, this.myMid++, false, [
        {
          type: PayloadType.DELETE,
          critical: false,
          protocol: ProtocolId.IKE,
          spiSize: 0,
          spis: [],
        },
      ]),
    );
  }

  /** INFORMATIONAL { D(ESP spi) } for one of our inbound SPIs. */
  deleteChild(spi: number): Uint8Array {
    return this.seal(ExchangeType.INFORMATIONAL, this.myMid++, false, [
      {
        type: PayloadType.DELETE,
        critical: false,
        protocol: ProtocolId.ESP,
        spiSize: 4,
        spis: [u32(spi)],
      },
    ]);
  }

  /** Our CHILD_SA rekey waiting for its IKE_FOLLOWUP_KE exchanges (RFC 9370 §2.2.4). */
  private ownFollowup:
    | {
        methods: number[];
        secrets: Uint8Array[];
        ke: ReturnType<typeof createKeyExchange>;
        finish: (secrets: Uint8Array[]) => void;
      }
    | undefined;

  /** An IKE_FOLLOWUP_KE request with a link the client never gave (hostile or stale). */
  strayFollowup(): Uint8Array {
    return this.seal(ExchangeType.IKE_FOLLOWUP_KE, this.myMid++, false, [
      { type: PayloadType.KE, critical: false, dhGroup: 31, data: new Uint8Array(32).fill(9) },
      notify(NotifyType.ADDITIONAL_KEY_EXCHANGE, Uint8Array.of(1, 2, 3)),
    ]);
  }

  /** IKE_FOLLOWUP_KE { KEi(n), N(ADDITIONAL_KEY_EXCHANGE)(link) } of ours. */
  private ownFollowupRequest(link: Uint8Array): Uint8Array {
    const f = this.ownFollowup!;
    const method = f.methods[f.secrets.length]!;
    f.ke = createKeyExchange(method, this.opts.random);
    return this.seal(ExchangeType.IKE_FOLLOWUP_KE, this.myMid++, false, [
      { type: PayloadType.KE, critical: false, dhGroup: method, data: f.ke.publicValue },
      notify(NotifyType.ADDITIONAL_KEY_EXCHANGE, link),
    ]);
  }

  private continueOwnFollowup(inner: Payload[]): Uint8Array | undefined {
    const f = this.ownFollowup;
    const ke = findPayload(inner, PayloadType.KE);
    if (!f || !ke) return undefined;
    f.secrets.push(f.ke.computeSharedSecret(ke.data));
    const link = filterPayloads(inner, PayloadType.NOTIFY).find(
      (n) => n.notifyType === NotifyType.ADDITIONAL_KEY_EXCHANGE,
    );
    if (f.secrets.length < f.methods.length)
      return link ? this.ownFollowupRequest(link.data) : undefined;
    this.ownFollowup = undefined;
    f.finish(f.secrets);
    return undefined;
  }

  private completeRekey(inner: Payload[]): Uint8Array | undefined {
    const p = this.pending;
    this.pending = undefined;
    const sa = findPayload(inner, PayloadType.SA);
    const nonce = findPayload(inner, PayloadType.NONCE);
    if (!p || !sa || !nonce) return undefined;
    const ke = findPayload(inner, PayloadType.KE);
    const k = this.keys!;
    if (p.kind === 'child') {
      const shared = p.ke && ke ? p.ke.computeSharedSecret(ke.data) : undefined;
      const link = filterPayloads(inner, PayloadType.NOTIFY).find(
        (n) => n.notifyType === NotifyType.ADDITIONAL_KEY_EXCHANGE,
      );
      const chosenAddKe = sa.proposals[0]!.transforms.filter((t) => t.type >= 6 && t.type <= 12);
      if (link && shared && chosenAddKe.length > 0) {
        // RFC 9370 §2.2.4: KEYMAT = prf+(SK_d, SK(0) | Ni | Nr | SK(1) | ... | SK(n)).
        this.ownFollowup = {
          methods: chosenAddKe.map((t) => t.id),
          secrets: [],
          ke: p.ke!,
          finish: (secrets) => {
            const km = prfPlus(
              this.prfId,
              k.skD,
              concatBytes(shared, p.ni, nonce.data, ...secrets),
              72,
            );
            const spi = sa.proposals[0]!.spi;
            this.previousChild = this.child;
            this.child = {
              inSpi: p.newSpi,
              outSpi: new DataView(spi.buffer, spi.byteOffset, 4).getUint32(0),
              encrId: 20,
              keyI: km.slice(36, 72),
              keyR: km.slice(0, 36),
            };
            this.followupRekeys++;
          },
        };
        return this.ownFollowupRequest(link.data);
      }
      // §2.17: we initiated this exchange, so our nonce is Ni and our direction's keys come first.
      const ck = deriveChildKeys({
        prfId: this.prfId,
        skD: k.skD,
        ni: p.ni,
        nr: nonce.data,
        ...(shared ? { sharedSecret: shared } : {}),
        encrKeyLength: 36,
        integKeyLength: 0,
      });
      const spi = sa.proposals[0]!.spi;
      this.previousChild = this.child;
      this.child = {
        inSpi: p.newSpi,
        outSpi: new DataView(spi.buffer, spi.byteOffset, 4).getUint32(0),
        encrId: 20,
        keyI: ck.encrR,
        keyR: ck.encrI,
      };
      return undefined;
    }
    const spiR = sa.proposals[0]!.spi.slice();
    const shared = p.ke.computeSharedSecret(ke!.data);
    const crypter = this.crypter!;
    this.old = {
      spiI: this.spiI,
      spiR: this.spiR,
      keys: k,
      gwInitiated: this.gwInitiated,
      myMid: this.myMid,
    };
    this.keys = deriveRekeyedIkeKeys({
      prfId: 5,
      oldSkD: k.skD,
      encrKeyLength: crypter.encrKeyLength,
      integKeyLength: crypter.integKeyLength,
      ni: p.ni,
      nr: nonce.data,
      spiI: p.newSpiI,
      spiR,
      sharedSecret: shared,
    });
    this.spiI = p.newSpiI;
    this.spiR = spiR;
    this.gwInitiated = true;
    this.myMid = 0;
    return undefined;
  }

  /** The client rekeys its CHILD_SA: { N(REKEY_SA), SA, Ni, TSi, TSr } → { SA, Nr, TSi, TSr }. */
  private onCreateChild(header: IkeHeader, payloads: Payload[], data: Uint8Array): Uint8Array {
    const inner = this.open(data, payloads);
    const sa = findPayload(inner, PayloadType.SA)!;
    const ni = findPayload(inner, PayloadType.NONCE)!.data;
    const p = sa.proposals[0]!;
    if (p.protocol === ProtocolId.IKE) return this.onIkeRekey(header, inner, p, ni);
    const encr = p.transforms.find((t) => t.type === TransformType.ENCR)!;
    const esn = p.transforms.find((t) => t.type === TransformType.ESN);
    const nr = this.opts.random.bytes(32);
    const inSpi = (new DataView(this.opts.random.bytes(4).buffer).getUint32(0) | 0x100) >>> 0;
    // PFS (§1.3.1): answer a KE with ours in the same group; KEYMAT then includes g^ir.
    const theirKe = findPayload(inner, PayloadType.KE);
    const dh = theirKe
      ? p.transforms.find((t) => t.type === TransformType.DH && t.id === theirKe.dhGroup)
      : undefined;
    const myKe = theirKe
      ? respondKeyExchange(theirKe.dhGroup, theirKe.data, this.opts.random)
      : undefined;
    const shared = myKe?.sharedSecret;
    this.pfsRekeys += shared ? 1 : 0;
    // RFC 9370 §2.2.4: with PFS, the first method of each ADDKE type offered runs afterwards in
    // IKE_FOLLOWUP_KE; the new CHILD_SA exists only once they are done.
    const addKe = shared
      ? [6, 7, 8, 9, 10, 11, 12]
          .map((type) => p.transforms.find((t) => t.type === type && t.id !== 0))
          .filter((t): t is NonNullable<typeof t> => t !== undefined)
      : [];
    if (addKe.length > 0) {
      const link = this.opts.random.bytes(8);
      this.followup = {
        link,
        methods: addKe.map((t) => t.id),
        secrets: [],
        finish: (secrets) => {
          // KEYMAT = prf+(SK_d, SK(0) | Ni | Nr | SK(1) | ... | SK(n)), written out here.
          const km = prfPlus(
            this.prfId,
            this.keys!.skD,
            concatBytes(shared!, ni, nr, ...secrets),
            72,
          );
          this.previousChild = this.child;
          this.child = {
            inSpi,
            outSpi: new DataView(p.spi.buffer, p.spi.byteOffset, 4).getUint32(0),
            encrId: encr.id,
            keyI: km.slice(0, 36),
            keyR: km.slice(36, 72),
          };
          this.followupRekeys++;
        },
      };
      this.clientRekeys.push({ ni: ni.slice(), nr });
      return this.seal(ExchangeType.CREATE_CHILD_SA, header.messageId, true, [
        {
          type: PayloadType.SA,
          critical: false,
          proposals: [
            {
              num: p.num,
              protocol: ProtocolId.ESP,
              spi: u32(inSpi),
              transforms: [encr, dh!, ...addKe, ...(esn ? [esn] : [])],
            },
          ],
        },
        { type: PayloadType.NONCE, critical: false, data: nr },
        {
          type: PayloadType.KE,
          critical: false,
          dhGroup: theirKe!.dhGroup,
          data: myKe!.publicValue,
        },
        notify(NotifyType.ADDITIONAL_KEY_EXCHANGE, link),
        findPayload(inner, PayloadType.TSi)!,
        findPayload(inner, PayloadType.TSr)!,
      ]);
    }
    const ck = deriveChildKeys({
      prfId: this.prfId,
      skD: this.keys!.skD,
      ni,
      nr,
      ...(shared ? { sharedSecret: shared } : {}),
      encrKeyLength: 36,
      integKeyLength: 0,
    });
    this.previousChild = this.child;
    this.child = {
      inSpi,
      outSpi: new DataView(p.spi.buffer, p.spi.byteOffset, 4).getUint32(0),
      encrId: encr.id,
      keyI: ck.encrI,
      keyR: ck.encrR,
    };
    this.clientRekeys.push({ ni: ni.slice(), nr });
    return this.seal(ExchangeType.CREATE_CHILD_SA, header.messageId, true, [
      {
        type: PayloadType.SA,
        critical: false,
        proposals: [
          {
            num: p.num,
            protocol: ProtocolId.ESP,
            spi: u32(inSpi),
            transforms: [encr, ...(dh ? [dh] : []), ...(esn ? [esn] : [])],
          },
        ],
      },
      { type: PayloadType.NONCE, critical: false, data: nr },
      ...(myKe && theirKe
        ? [
            {
              type: PayloadType.KE,
              critical: false,
              dhGroup: theirKe.dhGroup,
              data: myKe.publicValue,
            } as const,
          ]
        : []),
      findPayload(inner, PayloadType.TSi)!,
      findPayload(inner, PayloadType.TSr)!,
    ]);
  }

  /** The client rekeys the IKE SA (§1.3.2): answer, then use the new SA; the old one awaits its DELETE. */
  private onIkeRekey(header: IkeHeader, inner: Payload[], p: Proposal, ni: Uint8Array): Uint8Array {
    const ke = findPayload(inner, PayloadType.KE)!;
    const pick = (type: number) => p.transforms.find((t) => t.type === type)!;
    const dh = p.transforms.find((t) => t.type === TransformType.DH && t.id === ke.dhGroup)!;
    const transforms = [pick(TransformType.ENCR), pick(TransformType.PRF), dh];
    const nr = this.opts.random.bytes(32);
    const spiR = this.opts.random.bytes(8);
    const mine = createKeyExchange(ke.dhGroup, this.opts.random);
    const shared = mine.computeSharedSecret(ke.data);
    const reply = this.seal(ExchangeType.CREATE_CHILD_SA, header.messageId, true, [
      {
        type: PayloadType.SA,
        critical: false,
        proposals: [{ num: p.num, protocol: ProtocolId.IKE, spi: spiR, transforms }],
      },
      { type: PayloadType.NONCE, critical: false, data: nr },
      { type: PayloadType.KE, critical: false, dhGroup: ke.dhGroup, data: mine.publicValue },
    ]);
    const crypter = this.crypter!;
    this.old = {
      spiI: this.spiI,
      spiR: this.spiR,
      keys: this.keys!,
      gwInitiated: this.gwInitiated,
      myMid: this.myMid,
    };
    this.keys = deriveRekeyedIkeKeys({
      prfId: 5,
      oldSkD: this.keys!.skD,
      encrKeyLength: crypter.encrKeyLength,
      integKeyLength: crypter.integKeyLength,
      ni,
      nr,
      spiI: p.spi,
      spiR,
      sharedSecret: shared,
    });
    this.spiI = p.spi.slice();
    this.spiR = spiR;
    this.gwInitiated = false;
    this.myMid = 0;
    this.ikeRekeysByClient++;
    this.lastClientIkeRekey = { ni: ni.slice(), nr, spiI: p.spi.slice() };
    return reply;
  }

  /**
   * RFC 9242 IKE_INTERMEDIATE with an RFC 9370 additional key exchange: answer KEi(n) with
   * KEr(n) under the current keys, chain IntAuth (§3.3.2) over both messages' plaintext, then
   * SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni | Nr) and new SK_* (RFC 9370 §2.2.2).
   */
  private onIntermediate(header: IkeHeader, payloads: Payload[], data: Uint8Array): Uint8Array {
    const fragments = this.fragmentsBefore;
    this.fragmentsBefore = this.fragmentsReceived;
    const inner = this.open(data, payloads);
    const plain = this.lastPlain!;
    const k = this.keys!;
    const method = this.addKePending.shift();
    const ke = findPayload(inner, PayloadType.KE);
    if (method === undefined || !ke || ke.dhGroup !== method)
      return this.seal(ExchangeType.IKE_INTERMEDIATE, header.messageId, true, [
        notify(NotifyType.INVALID_SYNTAX),
      ]);
    // IntAuth_[i|r]N_A: the IKE header (Next Payload SK, length without IV/padding/ICV) and the
    // Encrypted payload header, then the inner payloads (IntAuth_[i|r]N_P).
    const aOf = (h: IkeHeader, first: number, bytes: Uint8Array): Uint8Array => {
      const a = new Uint8Array(32);
      const dv = new DataView(a.buffer);
      a.set(h.spiI, 0);
      a.set(h.spiR, 8);
      a[16] = 46;
      a[17] = 0x20;
      a[18] = h.exchangeType;
      a[19] = h.flags;
      dv.setUint32(20, h.messageId);
      dv.setUint32(24, 32 + bytes.length);
      a[28] = first;
      dv.setUint16(30, 4 + bytes.length);
      return concatBytes(a, bytes);
    };
    this.intAuthI = new Uint8Array(
      createHmac(this.hashOfPrf(), k.skPi)
        .update(this.intAuthI)
        .update(aOf(header, plain.first, plain.bytes))
        .digest(),
    );
    const r = respondKeyExchange(method, ke.data, this.opts.random);
    const h = this.opts.hostile;
    const reply: Payload[] = [
      {
        type: PayloadType.KE,
        critical: false,
        dhGroup: h?.intermediateKeMethod ?? method,
        data: h?.intermediateKeData ?? r.publicValue,
      },
    ];
    const answer = this.seal(ExchangeType.IKE_INTERMEDIATE, header.messageId, true, reply);
    const chain = encodePayloadChain(reply);
    this.intAuthR = new Uint8Array(
      createHmac(this.hashOfPrf(), k.skPr)
        .update(this.intAuthR)
        .update(aOf({ ...header, flags: HeaderFlag.RESPONSE }, chain.first, chain.bytes))
        .digest(),
    );
    const crypter = this.crypter!;
    this.keys = deriveRekeyedIkeKeys({
      prfId: this.prfId,
      oldSkD: k.skD,
      encrKeyLength: crypter.encrKeyLength,
      integKeyLength: crypter.integKeyLength,
      ni: this.ni,
      nr: this.nr,
      spiI: this.spiI,
      spiR: this.spiR,
      sharedSecret: r.sharedSecret,
    });
    this.intermediates.push({
      mid: header.messageId,
      method,
      fragments: this.fragmentsReceived - fragments,
      keiLength: ke.data.length,
    });
    return answer;
  }

  /** A CREATE_CHILD_SA waiting for its IKE_FOLLOWUP_KE exchanges (RFC 9370 §2.2.4). */
  private followup:
    | {
        link: Uint8Array;
        methods: number[];
        secrets: Uint8Array[];
        finish: (secrets: Uint8Array[]) => void;
      }
    | undefined;
  /** CHILD_SA rekeys completed through IKE_FOLLOWUP_KE, and the methods those ran. */
  followupRekeys = 0;
  followupMethods: number[] = [];

  /** IKE_FOLLOWUP_KE { KEi(n), N(ADDITIONAL_KEY_EXCHANGE)(link) } → { KEr(n), [N(link n+1)] }. */
  private onFollowup(header: IkeHeader, payloads: Payload[], data: Uint8Array): Uint8Array {
    const inner = this.open(data, payloads);
    const f = this.followup;
    const ke = findPayload(inner, PayloadType.KE);
    const link = filterPayloads(inner, PayloadType.NOTIFY).find(
      (n) => n.notifyType === NotifyType.ADDITIONAL_KEY_EXCHANGE,
    );
    const method = f?.methods[f.secrets.length];
    if (!f || !ke || !link || !equalBytes(link.data, f.link) || ke.dhGroup !== method)
      return this.seal(ExchangeType.IKE_FOLLOWUP_KE, header.messageId, true, [
        notify(NotifyType.STATE_NOT_FOUND),
      ]);
    const r = respondKeyExchange(method, ke.data, this.opts.random);
    f.secrets.push(r.sharedSecret);
    this.followupMethods.push(method);
    const more = f.secrets.length < f.methods.length;
    if (more) f.link = this.opts.random.bytes(8);
    else {
      this.followup = undefined;
      f.finish(f.secrets);
    }
    return this.seal(ExchangeType.IKE_FOLLOWUP_KE, header.messageId, true, [
      { type: PayloadType.KE, critical: false, dhGroup: method, data: r.publicValue },
      ...(more ? [notify(NotifyType.ADDITIONAL_KEY_EXCHANGE, f.link)] : []),
    ]);
  }

  /** The hash of the negotiated HMAC PRF (RFC 4868), for IntAuth computed with node:crypto. */
  private hashOfPrf(): string {
    const h = { 2: 'sha1', 5: 'sha256', 6: 'sha384', 7: 'sha512' }[this.prfId];
    if (!h) throw new Error(`responder: PRF ${this.prfId} unsupported for IntAuth`);
    return h;
  }

  ikeRekeysByClient = 0;
  /** IKE_SA_INIT requests a hostile loop answered. */
  initsSeen = 0;
  /** Client CHILD_SA rekeys that carried a KE (PFS). */
  pfsRekeys = 0;
  /** Where the client's MOBIKE updates came from. */
  addressUpdates: { address: string; port: number }[] = [];
  /** Answer updates without COOKIE2 (a broken or forged answer). */
  breakCookie2 = false;
  /** Nonces and new initiator SPI of the client's last IKE SA rekey. */
  lastClientIkeRekey: { ni: Uint8Array; nr: Uint8Array; spiI: Uint8Array } | undefined;
}
