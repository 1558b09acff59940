/**
 * The IKEv1 (ISAKMP, RFC 2408) decoders in the shared fuzzer: the message decoder, the payload
 * chain from any first type, and decryption of an encrypted body with the padding check. Property:
 * a value or a ParseError, nothing else.
 */
import { ParseError, isVpnError } from '../../src/core/errors.js';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { concatBytes, fromHex } from '../../src/core/bytes.js';
import {
  V1Cipher,
  V1Encr,
  decodeV1Chain,
  decodeV1Message,
  encodeV1Chain,
  encodeV1Message,
  openV1Body,
} from '../../src/ikev1/codec/index.js';
import type { V1PayloadAny } from '../../src/ikev1/codec/index.js';
import {
  V1AuthMethod,
  V1EncapMode,
  decodePhase1Choice,
  decodePhase2Choice,
  decodeResponderLifetime,
  decodeSaBody,
  defaultV1Phase1Proposals,
  parseV1Phase1Proposals,
  parseV1Phase2Proposals,
} from '../../src/ikev1/sa-payload.js';
import {
  ModeConfigClient,
  XauthClient,
  decodeAttributePayload,
} from '../../src/ikev1/modecfg/index.js';
import { findRepoFile } from './paths.js';

const aes = new V1Cipher(V1Encr.AES_CBC, new Uint8Array(16).fill(0x5a));
const tdes = new V1Cipher(
  V1Encr.TDES_CBC,
  Uint8Array.from({ length: 24 }, (_, i) => i + 1),
);

const P1 = parseV1Phase1Proposals(defaultV1Phase1Proposals(true), { legacy: true });
const P2 = parseV1Phase2Proposals('aes256gcm16-aes128gcm16-modp2048', {});

/** SA and Attribute payload decoders (src/ikev1/sa, src/ikev1/modecfg): a value or a VpnError. */
function onlyVpn(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!isVpnError(e)) throw e;
  }
}

function only(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof ParseError)) throw e;
  }
}

/** One input through every IKEv1 decoder; throws only what the property forbids (a crash). */
export function exerciseV1(input: Uint8Array, first: number): void {
  only(() => decodeV1Message(input));
  // First payload types of ISAKMP (1..21, the draft NAT-D/NAT-OA and fragments): map any byte.
  const v1first = first % 22;
  only(() => decodeV1Chain(v1first, input.subarray(Math.min(input.length, 28)), 28));
  // The bodies of the SA (type 1), Notification data and Attribute (type 14) payloads.
  onlyVpn(() => decodeSaBody(input));
  onlyVpn(() => decodePhase1Choice(input, P1, V1AuthMethod.PSK));
  onlyVpn(() => decodePhase2Choice(input, P2, V1EncapMode.UDP_TUNNEL));
  onlyVpn(() => decodeResponderLifetime(input, ((first & 1) + 1) as 1 | 2, 3600));
  onlyVpn(() => {
    const attrs = decodeAttributePayload(input);
    new XauthClient({ user: 'u', password: new Uint8Array(4) }).onMessage(attrs);
    const mc = new ModeConfigClient({ identifier: attrs.identifier, unity: true });
    mc.request();
    mc.onReply(attrs);
    mc.onSet(attrs);
  });
  if (input.length > 28) {
    const body = input.subarray(28);
    only(() => openV1Body(aes, new Uint8Array(16), v1first, body));
    only(() => openV1Body(tdes, new Uint8Array(8), v1first, body));
  }
}

/**
 * IKEv1 corpus entries: Main Mode, Quick Mode and Informational shaped messages of our own codec,
 * an encrypted one, and the real strongSwan IKEv1 captures in test/fixtures/ikev1/*.json (EDGES'
 * capture-ikev1.sh), when present.
 */
export function v1Corpus(): Uint8Array[] {
  const out: Uint8Array[] = [];
  const cookieI = new Uint8Array(8).fill(0x11);
  const cookieR = new Uint8Array(8).fill(0x22);
  const msg = (
    exchangeType: number,
    mid: number,
    payloads: V1PayloadAny[],
    zeroR = false,
  ): Uint8Array => {
    const { first, bytes } = encodeV1Chain(payloads);
    return encodeV1Message(
      {
        cookieI,
        cookieR: zeroR ? new Uint8Array(8) : cookieR,
        exchangeType,
        flags: 0,
        messageId: mid,
      },
      first,
      bytes,
    );
  };
  const sa = Uint8Array.from([
    0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 40, 1, 1, 0, 1, 0, 0, 0, 32, 1, 1, 0, 0, 0x80, 1, 0, 7, 0x80,
    0x0e, 1, 0, 0x80, 2, 0, 4, 0x80, 3, 0, 1, 0x80, 4, 0, 14,
  ]);
  out.push(
    msg(
      2,
      0,
      [
        { kind: 'data', type: 1, data: sa },
        { kind: 'data', type: 13, data: new Uint8Array(16).fill(0x4a) },
        { kind: 'data', type: 13, data: Uint8Array.of(9, 0, 0x26, 0x89, 0xdf, 0xd6, 0xb7, 0x12) },
      ],
      true,
    ),
    msg(2, 0, [
      { kind: 'data', type: 4, data: new Uint8Array(256).fill(3) },
      { kind: 'data', type: 10, data: new Uint8Array(32).fill(4) },
      { kind: 'data', type: 20, data: new Uint8Array(32).fill(5) },
      { kind: 'data', type: 20, data: new Uint8Array(32).fill(6) },
    ]),
    msg(2, 0, [
      {
        kind: 'id',
        type: 5,
        idType: 2,
        protocol: 17,
        port: 500,
        data: new TextEncoder().encode('gw.test'),
      },
      { kind: 'cert', type: 6, encoding: 4, data: new Uint8Array(40).fill(0x30) },
      { kind: 'data', type: 9, data: new Uint8Array(64).fill(7) },
    ]),
    msg(32, 0x01020304, [
      { kind: 'data', type: 8, data: new Uint8Array(32) },
      { kind: 'data', type: 1, data: sa },
      { kind: 'data', type: 10, data: new Uint8Array(32) },
      { kind: 'id', type: 5, idType: 4, protocol: 0, port: 0, data: new Uint8Array(8) },
      { kind: 'id', type: 5, idType: 4, protocol: 0, port: 0, data: new Uint8Array(8) },
      { kind: 'natoa', type: 21, idType: 1, address: Uint8Array.of(192, 0, 2, 1) },
    ]),
    msg(5, 0x55667788, [
      { kind: 'data', type: 8, data: new Uint8Array(20) },
      {
        kind: 'notify',
        type: 11,
        doi: 1,
        protocol: 1,
        spi: concatBytes(cookieI, cookieR),
        notifyType: 36136,
        data: Uint8Array.of(0, 0, 0, 1),
      },
      {
        kind: 'delete',
        type: 12,
        doi: 1,
        protocol: 3,
        spiSize: 4,
        spis: [Uint8Array.of(1, 2, 3, 4)],
      },
    ]),
    msg(6, 0x0a0b0c0d, [
      { kind: 'data', type: 8, data: new Uint8Array(20) },
      {
        kind: 'data',
        type: 14,
        data: Uint8Array.of(1, 0, 0, 1, 0x40, 0x88, 0, 0, 0x40, 0x89, 0, 0),
      },
    ]),
  );
  const { first, bytes } = encodeV1Chain([{ kind: 'data', type: 8, data: new Uint8Array(20) }]);
  out.push(
    encodeV1Message(
      { cookieI, cookieR, exchangeType: 32, flags: 1, messageId: 9 },
      first,
      aes.encrypt(new Uint8Array(16), bytes),
    ),
  );
  let dir: string | undefined;
  try {
    dir = findRepoFile('test/fixtures/ikev1');
  } catch {
    dir = undefined;
  }
  if (dir && existsSync(dir)) {
    for (const f of readdirSync(dir).sort()) {
      if (!f.endsWith('.json')) continue;
      try {
        const cap = JSON.parse(readFileSync(join(dir, f), 'utf8')) as {
          messages?: { hex?: string; reassembled?: string; payloads?: string }[];
        };
        for (const m of cap.messages ?? []) {
          for (const h of [m.hex, m.reassembled]) if (typeof h === 'string') out.push(fromHex(h));
          // Decrypted chains too, after a header's worth of bytes (the fuzzer's chain offset).
          if (typeof m.payloads === 'string')
            out.push(concatBytes(new Uint8Array(28), fromHex(m.payloads)));
        }
      } catch {
        // not a capture: skip
      }
    }
  }
  return out;
}
