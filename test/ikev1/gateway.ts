/**
 * A scripted IKEv1 responder for the in-memory tests, built from our own codec and keymat (and
 * ATTRS' SA payload codec): Main Mode and Aggressive Mode with PSK or signatures, Quick Mode,
 * Informational (DPD answers, DELETE), with knobs for the refusals. It is deliberately plain: it
 * checks what the RFCs require of the initiator's messages and records what it received.
 */
import type { KeyObject } from 'node:crypto';
import { concatBytes, equalBytes } from '../../src/core/bytes.js';
import type { Random } from '../../src/core/random.js';
import { parseIpAddress } from '../../src/core/ip.js';
import { createKeyExchange } from '../../src/crypto/ke.js';
import type { KeyExchange } from '../../src/crypto/ke.js';
import type { Identity } from '../../src/ike/identity.js';
import type { Endpoint } from '../../src/ike/natd.js';
import {
  decodeV1Message,
  encodeV1Chain,
  encodeV1Message,
  findData,
  openV1Body,
  v1Hash,
} from '../../src/ikev1/codec/index.js';
import type {
  V1Chain,
  V1Header,
  V1IdPayload,
  V1NotifyPayload,
  V1PayloadAny,
} from '../../src/ikev1/codec/index.js';
import { V1Exchange as X, V1Payload as P, VendorId } from '../../src/ikev1/constants.js';
import {
  V1Keymat,
  authHashFor,
  derivePhase1Keys,
  hashMid,
  phase1Hash,
  qmHash2,
  qmHash3,
  quickModeKeymat,
} from '../../src/ikev1/keymat.js';
import { baseMethod, signV1, verifyV1 } from '../../src/ikev1/auth.js';
import { attrNumber, decodeSaBody, encodeSaBody } from '../../src/ikev1/sa-payload.js';
import {
  CfgType,
  ModeCfgAttr,
  XauthAttr,
  decodeAttributePayload,
  encodeAttributePayload,
} from '../../src/ikev1/modecfg/index.js';
import type { AttributePayload } from '../../src/ikev1/modecfg/index.js';

export interface GatewayOptions {
  random: Random;
  id: Identity;
  psk?: Uint8Array;
  /** Signature authentication: our key and certificate (DER), and the client's expected key. */
  key?: KeyObject;
  cert?: Uint8Array;
  clientKey?: KeyObject;
  /** Our address as the client sees it, and the client's as we see it (NAT when they differ). */
  address: Endpoint;
  clientSeen?: Endpoint;
  /** Answer Main Mode message 1 with NO_PROPOSAL_CHOSEN. */
  refuseProposal?: boolean;
  /** Add N(RESPONDER-LIFETIME) with this many seconds to Quick Mode message 2 (RFC 2407 §4.6.3.1). */
  responderLifetime?: number;
  /** Answer an unreadable MM5 with an encrypted N(PAYLOAD_MALFORMED), as strongSwan does. */
  answerBadMm5?: boolean;
  /** Ignore the client's DPD (a stopped gateway). */
  silent?: boolean;
  /** XAUTH server: the credentials it accepts (it starts XAUTH right after Main Mode). */
  xauth?: { user: string; password: string };
  /** Mode Config push (draft-dukes-ike-mode-cfg-02 §3.4): SET after XAUTH, REQUESTs ignored. */
  push?: boolean;
  /** Mode Config: the virtual IP and DNS server it hands out. */
  vip?: string;
}

export interface GatewayChild {
  spiIn: number;
  spiOut: number;
  keyIn: Uint8Array;
  keyOut: Uint8Array;
}

const u32 = (v: number): Uint8Array =>
  Uint8Array.of(v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);

export class V1Gateway {
  readonly o: GatewayOptions;
  cookieI = new Uint8Array(8);
  cookieR: Uint8Array;
  hash = 0;
  authMethod = 0;
  saiB: Uint8Array = new Uint8Array(0);
  ke: KeyExchange | undefined;
  gxi: Uint8Array = new Uint8Array(0);
  ni: Uint8Array = new Uint8Array(0);
  nr: Uint8Array = new Uint8Array(0);
  km: V1Keymat | undefined;
  /** Received notifies and deletes (after their hash was checked). */
  readonly notifies: V1NotifyPayload[] = [];
  readonly deletes: V1PayloadAny[] = [];
  readonly children: GatewayChild[] = [];
  qm = new Map<
    number,
    { ni: Uint8Array; nr: Uint8Array; spiIn: number; spiOut: number; keyBits: number }
  >();
  phase1Done = false;
  lastReply: Uint8Array | undefined;
  clientIdOk = false;

  constructor(o: GatewayOptions) {
    this.o = o;
    this.cookieR = o.random.bytes(8);
  }

  private msg(
    exchange: number,
    mid: number,
    payloads: V1PayloadAny[],
    encrypt: boolean,
  ): Uint8Array {
    const { first, bytes } = encodeV1Chain(payloads);
    let body = bytes;
    if (encrypt) {
      const km = this.km!;
      body = km.cipher.encrypt(km.ivFor(mid), bytes);
      km.advance(mid, body);
    }
    return encodeV1Message(
      {
        cookieI: this.cookieI,
        cookieR: this.cookieR,
        exchangeType: exchange,
        flags: encrypt ? 1 : 0,
        messageId: mid,
      },
      first,
      body,
    );
  }

  private natd(ep: Endpoint): Uint8Array {
    const port = Uint8Array.of(ep.port >> 8, ep.port & 255);
    return v1Hash(
      this.hash,
      concatBytes(this.cookieI, this.cookieR, parseIpAddress(ep.address), port),
    );
  }

  private choose(saBody: Uint8Array): Uint8Array {
    const sa = decodeSaBody(saBody);
    const p = sa.proposals[0]!;
    const t = p.transforms[0]!;
    for (const a of t.attributes) {
      const v = attrNumber(a);
      if (a.type === 2 && v !== undefined) this.hash = v;
      if (a.type === 3 && v !== undefined) this.authMethod = v;
    }
    return encodeSaBody({ proposals: [{ ...p, transforms: [t] }] });
  }

  private group(saBody: Uint8Array): number {
    const t = decodeSaBody(saBody).proposals[0]!.transforms[0]!;
    return attrNumber(t.attributes.find((a) => a.type === 4)!)!;
  }

  private encr(saBody: Uint8Array): { encr: number; keyBits?: number } {
    const t = decodeSaBody(saBody).proposals[0]!.transforms[0]!;
    const encr = attrNumber(t.attributes.find((a) => a.type === 1)!)!;
    const kl = t.attributes.find((a) => a.type === 14);
    return kl ? { encr, keyBits: attrNumber(kl)! } : { encr };
  }

  private derive(gxi: Uint8Array): void {
    const ke = this.ke!;
    const gxy = ke.computeSharedSecret(gxi);
    const { encr, keyBits } = this.encr(this.saiB);
    const keys = derivePhase1Keys({
      hash: this.hash,
      auth:
        this.o.psk && baseMethod(this.authMethod) === 1
          ? { kind: 'psk', psk: this.o.psk }
          : { kind: 'sig' },
      ni: this.ni,
      nr: this.nr,
      gxy,
      cookieI: this.cookieI,
      cookieR: this.cookieR,
      encr,
      ...(keyBits === undefined ? {} : { keyBits }),
    });
    this.km = new V1Keymat(
      keys,
      this.hash,
      authHashFor(this.hash, baseMethod(this.authMethod)),
      encr,
      gxi,
      ke.publicValue,
    );
  }

  private idPayload(): V1IdPayload {
    return {
      kind: 'id',
      type: P.ID,
      idType: this.o.id.type,
      protocol: 0,
      port: 0,
      data: this.o.id.data,
    };
  }

  private idBody(p: V1IdPayload): Uint8Array {
    return concatBytes(Uint8Array.of(p.idType, p.protocol, p.port >> 8, p.port & 255), p.data);
  }

  private authR(): V1PayloadAny[] {
    const km = this.km!;
    const id = this.idPayload();
    const hashR = phase1Hash(
      km.authHash,
      km.skeyid,
      'R',
      this.gxi,
      this.ke!.publicValue,
      this.cookieI,
      this.cookieR,
      this.saiB,
      this.idBody(id),
    );
    if (baseMethod(this.authMethod) === 1) return [id, { kind: 'data', type: P.HASH, data: hashR }];
    return [
      id,
      { kind: 'cert', type: P.CERT, encoding: 4, data: this.o.cert! },
      { kind: 'data', type: P.SIG, data: signV1(this.o.key!, this.authMethod, hashR) },
    ];
  }

  private checkI(c: V1Chain): boolean {
    const km = this.km!;
    const id = c.payloads.find((p): p is V1IdPayload => p.kind === 'id');
    if (!id) return false;
    const hashI = phase1Hash(
      km.authHash,
      km.skeyid,
      'I',
      this.gxi,
      this.ke!.publicValue,
      this.cookieI,
      this.cookieR,
      this.saiB,
      this.idBody(id),
    );
    if (baseMethod(this.authMethod) === 1) {
      const got = findData(c.payloads, P.HASH);
      return got !== undefined && equalBytes(got, hashI);
    }
    const sig = findData(c.payloads, P.SIG);
    return sig !== undefined && verifyV1(this.o.clientKey!, this.authMethod, hashI, sig).ok;
  }

  private vids(): V1PayloadAny[] {
    return [VendorId.NATT_RFC, VendorId.DPD, VendorId.XAUTH].map((h) => ({
      kind: 'data',
      type: P.VENDOR_ID,
      data: new Uint8Array(Buffer.from(h, 'hex')),
    }));
  }

  private decrypt(
    h: V1Header,
    body: Uint8Array,
  ): { chain: V1Chain; plain: Uint8Array } | undefined {
    const km = this.km!;
    const mid = h.exchangeType === X.MAIN_MODE || h.exchangeType === X.AGGRESSIVE ? 0 : h.messageId;
    try {
      const { chain, plain } = openV1Body(km.cipher, km.ivFor(mid), h.nextPayload, body);
      km.advance(mid, body);
      return { chain, plain };
    } catch {
      return undefined;
    }
  }

  /** One datagram from the client; returns our answers. */
  receive(data: Uint8Array): Uint8Array[] {
    const m = decodeV1Message(data);
    const h = m.header;
    if (h.exchangeType === X.MAIN_MODE && !(h.flags & 1)) {
      const c = m.chain!;
      const sa = findData(c.payloads, P.SA);
      if (sa) {
        this.cookieI = h.cookieI.slice();
        if (this.o.refuseProposal) {
          const n: V1NotifyPayload = {
            kind: 'notify',
            type: P.NOTIFY,
            doi: 1,
            protocol: 1,
            spi: new Uint8Array(0),
            notifyType: 14,
            data: new Uint8Array(0),
          };
          // strongSwan: an unprotected Informational with its own cookie and a random message ID.
          return [this.msg(X.INFORMATIONAL, 0x2b66e1d3, [n], false)];
        }
        this.saiB = sa.slice();
        const choice = this.choose(sa);
        return [
          this.msg(
            X.MAIN_MODE,
            0,
            [{ kind: 'data', type: P.SA, data: choice }, ...this.vids()],
            false,
          ),
        ];
      }
      const ke = findData(c.payloads, P.KE)!;
      this.gxi = ke.slice();
      this.ni = findData(c.payloads, P.NONCE)!.slice();
      this.nr = this.o.random.bytes(32);
      this.ke = createKeyExchange(this.group(this.saiB), this.o.random);
      this.derive(ke);
      const seen = this.o.clientSeen;
      const natd: V1PayloadAny[] = seen
        ? [
            { kind: 'data', type: P.NAT_D, data: this.natd(seen) },
            { kind: 'data', type: P.NAT_D, data: this.natd(this.o.address) },
          ]
        : [];
      return [
        this.msg(
          X.MAIN_MODE,
          0,
          [
            { kind: 'data', type: P.KE, data: this.ke.publicValue },
            { kind: 'data', type: P.NONCE, data: this.nr },
            ...natd,
          ],
          false,
        ),
      ];
    }
    if (h.exchangeType === X.MAIN_MODE) {
      const d = this.decrypt(h, m.body);
      if (!d || !this.checkI(d.chain)) {
        // strongSwan answers an MM5 it cannot decrypt with N(PAYLOAD_MALFORMED) under its keys.
        if (!this.o.answerBadMm5) return [];
        const n: V1NotifyPayload = {
          kind: 'notify',
          type: P.NOTIFY,
          doi: 1,
          protocol: 1,
          spi: new Uint8Array(0),
          notifyType: 16,
          data: new Uint8Array(0),
        };
        return [this.informational([n])];
      }
      this.clientIdOk = true;
      this.phase1Done = true;
      const notifies = d.chain.payloads.filter((p): p is V1NotifyPayload => p.kind === 'notify');
      this.notifies.push(...notifies);
      const mm6 = this.msg(X.MAIN_MODE, 0, this.authR(), true);
      if (!this.o.xauth) return [mm6];
      // XAUTH (draft-beaulieu-ike-xauth-02 §2.1): the gateway asks right after phase 1.
      this.xauthMid = 0x5a5a0001;
      return [
        mm6,
        this.transaction(this.xauthMid, {
          cfgType: CfgType.REQUEST,
          identifier: 7,
          attributes: [
            { type: XauthAttr.USER_NAME, value: new Uint8Array(0) },
            { type: XauthAttr.USER_PASSWORD, value: new Uint8Array(0) },
          ],
        }),
      ];
    }
    if (h.exchangeType === X.AGGRESSIVE && !(h.flags & 1)) {
      const c = m.chain!;
      this.cookieI = h.cookieI.slice();
      const sa = findData(c.payloads, P.SA)!;
      this.saiB = sa.slice();
      const choice = this.choose(sa);
      const idi = c.payloads.find((p): p is V1IdPayload => p.kind === 'id')!;
      this.aggrIdiB = this.idBody(idi);
      const ke = findData(c.payloads, P.KE)!;
      this.gxi = ke.slice();
      this.ni = findData(c.payloads, P.NONCE)!.slice();
      this.nr = this.o.random.bytes(32);
      this.ke = createKeyExchange(this.group(sa), this.o.random);
      this.derive(ke);
      return [
        this.msg(
          X.AGGRESSIVE,
          0,
          [
            { kind: 'data', type: P.SA, data: choice },
            { kind: 'data', type: P.KE, data: this.ke.publicValue },
            { kind: 'data', type: P.NONCE, data: this.nr },
            ...this.authR(),
            ...this.vids(),
          ],
          false,
        ),
      ];
    }
    if (h.exchangeType === X.AGGRESSIVE) {
      const d = this.decrypt(h, m.body);
      const km = this.km!;
      const hashI = findData(d?.chain.payloads ?? [], P.HASH);
      // RFC 2409 §5: HASH_I over IDii_b from message 1.
      const want = phase1Hash(
        km.authHash,
        km.skeyid,
        'I',
        this.gxi,
        this.ke!.publicValue,
        this.cookieI,
        this.cookieR,
        this.saiB,
        this.aggrIdiB,
      );
      this.phase1Done = hashI !== undefined && equalBytes(hashI, want);
      this.clientIdOk = this.phase1Done;
      return [];
    }
    if (!(h.flags & 1) || !this.km) return [];
    const d = this.decrypt(h, m.body);
    if (!d) return [];
    const km = this.km;
    const first = d.chain.payloads[0];
    const rest = d.plain.subarray(d.chain.spans[0]?.[1] ?? 0, d.chain.end);
    if (h.exchangeType === X.INFORMATIONAL) {
      if (
        !first ||
        first.kind !== 'data' ||
        !equalBytes(first.data, hashMid(km.hash, km.skeyidA, h.messageId, rest))
      )
        return [];
      km.forget(h.messageId);
      const out: Uint8Array[] = [];
      for (const p of d.chain.payloads.slice(1)) {
        if (p.kind === 'notify') {
          this.notifies.push(p);
          if (p.notifyType === 36136 && !this.o.silent) {
            const ack: V1NotifyPayload = { ...p, notifyType: 36137 };
            out.push(this.informational([ack]));
          }
        }
        if (p.kind === 'delete') this.deletes.push(p);
      }
      return out;
    }
    if (h.exchangeType === X.TRANSACTION) {
      if (
        !first ||
        first.kind !== 'data' ||
        !equalBytes(first.data, hashMid(km.hash, km.skeyidA, h.messageId, rest))
      )
        return [];
      const body = findData(d.chain.payloads, P.ATTRIBUTE)!;
      const a = decodeAttributePayload(body);
      this.attrs.push(a);
      if (h.messageId === this.xauthMid && a.cfgType === CfgType.REPLY) {
        const text = (t: number): string =>
          new TextDecoder().decode(
            a.attributes.find((x) => x.type === t)?.value ?? new Uint8Array(0),
          );
        const ok =
          text(XauthAttr.USER_NAME) === this.o.xauth!.user &&
          text(XauthAttr.USER_PASSWORD) === this.o.xauth!.password;
        this.xauthOk = ok;
        return [
          this.transaction(h.messageId, {
            cfgType: CfgType.SET,
            identifier: 8,
            attributes: [{ type: XauthAttr.STATUS, value: Uint8Array.of(0, ok ? 1 : 0) }],
          }),
        ];
      }
      if (h.messageId === this.xauthMid && a.cfgType === CfgType.ACK) {
        km.forget(h.messageId);
        if (!this.o.push) return [];
        return [
          this.transaction(0x5a5a0002, {
            cfgType: CfgType.SET,
            identifier: 9,
            attributes: [
              {
                type: ModeCfgAttr.INTERNAL_IP4_ADDRESS,
                value: parseIpAddress(this.o.vip ?? '10.3.0.1'),
              },
              { type: ModeCfgAttr.INTERNAL_IP4_DNS, value: parseIpAddress('10.1.0.53') },
            ],
          }),
        ];
      }
      if (a.cfgType === CfgType.REQUEST && this.o.push) return [];
      if (a.cfgType === CfgType.REQUEST) {
        const ip = (t: string): Uint8Array => parseIpAddress(t);
        return [
          this.transaction(h.messageId, {
            cfgType: CfgType.REPLY,
            identifier: a.identifier,
            attributes: [
              { type: ModeCfgAttr.INTERNAL_IP4_ADDRESS, value: ip(this.o.vip ?? '10.3.0.1') },
              { type: ModeCfgAttr.INTERNAL_IP4_DNS, value: ip('10.1.0.53') },
            ],
          }),
        ];
      }
      return [];
    }
    if (h.exchangeType === X.QUICK_MODE && this.ourQm && h.messageId === this.ourQm.mid) {
      const q = this.ourQm;
      const nr = findData(d.chain.payloads, P.NONCE)!;
      if (
        !first ||
        first.kind !== 'data' ||
        !equalBytes(first.data, qmHash2(km.hash, km.skeyidA, q.mid, q.ni, rest))
      )
        return [];
      const sa = decodeSaBody(findData(d.chain.payloads, P.SA)!);
      const p = sa.proposals[0]!;
      const keyBits = attrNumber(p.transforms[0]!.attributes.find((a) => a.type === 6)!)!;
      const spiClient = new DataView(p.spi.buffer, p.spi.byteOffset).getUint32(0);
      const qm3 = this.msg(
        X.QUICK_MODE,
        q.mid,
        [{ kind: 'data', type: P.HASH, data: qmHash3(km.hash, km.skeyidA, q.mid, q.ni, nr) }],
        true,
      );
      const len = keyBits / 8 + 4;
      const spiIn = 0x7000;
      this.ourQmResult = {
        spiClient,
        qm3,
        child: {
          spiIn,
          spiOut: spiClient,
          keyIn: quickModeKeymat(km.hash, km.skeyidD, 3, spiIn, q.ni, nr, len),
          keyOut: quickModeKeymat(km.hash, km.skeyidD, 3, spiClient, q.ni, nr, len),
        },
      };
      return [];
    }
    if (h.exchangeType === X.QUICK_MODE) {
      const known = this.qm.get(h.messageId);
      if (known) {
        // QM3: HASH(3)
        if (
          !first ||
          first.kind !== 'data' ||
          !equalBytes(first.data, qmHash3(km.hash, km.skeyidA, h.messageId, known.ni, known.nr))
        )
          return [];
        const len = known.keyBits / 8 + 4;
        this.children.push({
          spiIn: known.spiIn,
          spiOut: known.spiOut,
          keyIn: quickModeKeymat(km.hash, km.skeyidD, 3, known.spiIn, known.ni, known.nr, len),
          keyOut: quickModeKeymat(km.hash, km.skeyidD, 3, known.spiOut, known.ni, known.nr, len),
        });
        km.forget(h.messageId);
        return [];
      }
      if (
        !first ||
        first.kind !== 'data' ||
        !equalBytes(first.data, hashMid(km.hash, km.skeyidA, h.messageId, rest))
      )
        return [];
      const saB = findData(d.chain.payloads, P.SA)!;
      const ni = findData(d.chain.payloads, P.NONCE)!.slice();
      const sa = decodeSaBody(saB);
      const p = sa.proposals[0]!;
      const t = p.transforms[0]!;
      const keyBits = attrNumber(t.attributes.find((a) => a.type === 6)!)!;
      const spiOut = new DataView(p.spi.buffer, p.spi.byteOffset).getUint32(0);
      const spiIn = 0x10000 + (this.o.random.bytes(2)[0]! << 8);
      const choice = encodeSaBody({ proposals: [{ ...p, spi: u32(spiIn), transforms: [t] }] });
      const nr = this.o.random.bytes(32);
      const ids = d.chain.payloads.filter((x): x is V1IdPayload => x.kind === 'id');
      this.qmIds.push(...ids);
      const rest2: V1PayloadAny[] = [
        { kind: 'data', type: P.SA, data: choice },
        { kind: 'data', type: P.NONCE, data: nr },
        ...ids,
      ];
      const life = this.o.responderLifetime;
      if (life !== undefined)
        rest2.push({
          kind: 'notify',
          type: P.NOTIFY,
          doi: 1,
          protocol: 3,
          spi: u32(spiIn),
          notifyType: 24576,
          data: Uint8Array.of(0x80, 1, 0, 1, 0x80, 2, life >> 8, life & 255),
        });
      const restBytes = encodeV1Chain(rest2).bytes;
      const h2 = qmHash2(km.hash, km.skeyidA, h.messageId, ni, restBytes);
      this.qm.set(h.messageId, { ni, nr, spiIn, spiOut, keyBits });
      const reply = this.msg(
        X.QUICK_MODE,
        h.messageId,
        [{ kind: 'data', type: P.HASH, data: h2 }, ...rest2],
        true,
      );
      this.lastReply = reply;
      return [reply];
    }
    return [];
  }

  xauthMid = 0;
  aggrIdiB: Uint8Array = new Uint8Array(0);
  xauthOk: boolean | undefined;
  readonly attrs: AttributePayload[] = [];
  /** Quick Mode IDci/IDcr the client proposed. */
  readonly qmIds: V1IdPayload[] = [];

  /** A Transaction message of ours (draft-dukes-ike-mode-cfg-02 §3.2): HASH, ATTR. */
  private transaction(mid: number, a: AttributePayload): Uint8Array {
    const km = this.km!;
    const attr: V1PayloadAny = { kind: 'data', type: P.ATTRIBUTE, data: encodeAttributePayload(a) };
    const restBytes = encodeV1Chain([attr]).bytes;
    return this.msg(
      X.TRANSACTION,
      mid,
      [{ kind: 'data', type: P.HASH, data: hashMid(km.hash, km.skeyidA, mid, restBytes) }, attr],
      true,
    );
  }

  /** Our own Quick Mode (a rekey by the gateway, RFC 2409 §5.5): message 1. */
  startQuickMode(saBody: Uint8Array, ids: V1IdPayload[]): Uint8Array {
    const km = this.km!;
    const mid = 0x0c0ffee0;
    const ni = this.o.random.bytes(32);
    const rest: V1PayloadAny[] = [
      { kind: 'data', type: P.SA, data: saBody },
      { kind: 'data', type: P.NONCE, data: ni },
      ...ids,
    ];
    const restBytes = encodeV1Chain(rest).bytes;
    this.ourQm = { mid, ni };
    return this.msg(
      X.QUICK_MODE,
      mid,
      [{ kind: 'data', type: P.HASH, data: hashMid(km.hash, km.skeyidA, mid, restBytes) }, ...rest],
      true,
    );
  }

  ourQm: { mid: number; ni: Uint8Array } | undefined;
  /** The client's answer to our Quick Mode, after its HASH(2) checked: its SPI, keys, and our QM3. */
  ourQmResult: { spiClient: number; qm3: Uint8Array; child: GatewayChild } | undefined;

  /** A protected Informational of ours (new message ID). */
  informational(payloads: V1PayloadAny[]): Uint8Array {
    const km = this.km!;
    const mid = this.o.random.bytes(4).reduce((a, b) => a * 256 + b, 0) >>> 0 || 1;
    const restBytes = encodeV1Chain(payloads).bytes;
    const msg = this.msg(
      X.INFORMATIONAL,
      mid,
      [
        { kind: 'data', type: P.HASH, data: hashMid(km.hash, km.skeyidA, mid, restBytes) },
        ...payloads,
      ],
      true,
    );
    km.forget(mid);
    return msg;
  }

  /** The ISAKMP SA's cookies, as DELETE and DPD carry them. */
  cookies(): Uint8Array {
    return concatBytes(this.cookieI, this.cookieR);
  }
}
