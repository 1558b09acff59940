import { createRequire as __ikev2CreateRequire } from 'node:module';
const require = __ikev2CreateRequire(import.meta.url);

// src/core/errors.ts
var VpnError = class extends Error {
  code;
  constructor(code, message, options) {
    super(message, options);
    this.code = code;
    this.name = "VpnError";
  }
};
var ParseError = class extends VpnError {
  offset;
  what;
  constructor(what, offset, detail) {
    super("ERR_PARSE", `malformed ${what} at offset ${offset}${detail ? `: ${detail}` : ""}`);
    this.name = "ParseError";
    this.offset = offset;
    this.what = what;
  }
};
var CryptoError = class extends VpnError {
  constructor(message, options) {
    super("ERR_CRYPTO", message, options);
    this.name = "CryptoError";
  }
};
function isVpnError(e) {
  return e instanceof VpnError;
}

// src/ike/constants.ts
var ExchangeType = {
  IKE_SA_INIT: 34,
  IKE_AUTH: 35,
  CREATE_CHILD_SA: 36,
  INFORMATIONAL: 37,
  IKE_SESSION_RESUME: 38,
  IKE_INTERMEDIATE: 43,
  IKE_FOLLOWUP_KE: 44
};
var PayloadType = {
  NONE: 0,
  SA: 33,
  KE: 34,
  IDi: 35,
  IDr: 36,
  CERT: 37,
  CERTREQ: 38,
  AUTH: 39,
  NONCE: 40,
  NOTIFY: 41,
  DELETE: 42,
  VENDOR: 43,
  TSi: 44,
  TSr: 45,
  SK: 46,
  CP: 47,
  EAP: 48,
  SKF: 53
};
var HeaderFlag = {
  INITIATOR: 8,
  VERSION: 16,
  RESPONSE: 32
};
var ProtocolId = { IKE: 1, AH: 2, ESP: 3 };
var TransformType = {
  ENCR: 1,
  PRF: 2,
  INTEG: 3,
  DH: 4,
  ESN: 5,
  ADDKE1: 6,
  ADDKE2: 7,
  ADDKE3: 8,
  ADDKE4: 9,
  ADDKE5: 10,
  ADDKE6: 11,
  ADDKE7: 12
};
var EncrId = {
  DES_IV64: 1,
  DES: 2,
  "3DES": 3,
  RC5: 4,
  IDEA: 5,
  CAST: 6,
  BLOWFISH: 7,
  "3IDEA": 8,
  DES_IV32: 9,
  NULL: 11,
  AES_CBC: 12,
  AES_CTR: 13,
  AES_CCM_8: 14,
  AES_CCM_12: 15,
  AES_CCM_16: 16,
  AES_GCM_8: 18,
  AES_GCM_12: 19,
  AES_GCM_16: 20,
  NULL_AUTH_AES_GMAC: 21,
  CAMELLIA_CBC: 23,
  CAMELLIA_CTR: 24,
  CAMELLIA_CCM_8: 25,
  CAMELLIA_CCM_12: 26,
  CAMELLIA_CCM_16: 27,
  CHACHA20_POLY1305: 28
};
var PrfId = {
  HMAC_MD5: 1,
  HMAC_SHA1: 2,
  HMAC_TIGER: 3,
  AES128_XCBC: 4,
  HMAC_SHA2_256: 5,
  HMAC_SHA2_384: 6,
  HMAC_SHA2_512: 7,
  AES128_CMAC: 8
};
var IntegId = {
  NONE: 0,
  HMAC_MD5_96: 1,
  HMAC_SHA1_96: 2,
  DES_MAC: 3,
  KPDK_MD5: 4,
  AES_XCBC_96: 5,
  HMAC_MD5_128: 6,
  HMAC_SHA1_160: 7,
  AES_CMAC_96: 8,
  AES_128_GMAC: 9,
  AES_192_GMAC: 10,
  AES_256_GMAC: 11,
  HMAC_SHA2_256_128: 12,
  HMAC_SHA2_384_192: 13,
  HMAC_SHA2_512_256: 14
};
var DhGroup = {
  NONE: 0,
  MODP_768: 1,
  MODP_1024: 2,
  MODP_1536: 5,
  MODP_2048: 14,
  MODP_3072: 15,
  MODP_4096: 16,
  MODP_6144: 17,
  MODP_8192: 18,
  ECP_256: 19,
  ECP_384: 20,
  ECP_521: 21,
  MODP_1024_160: 22,
  MODP_2048_224: 23,
  MODP_2048_256: 24,
  ECP_192: 25,
  ECP_224: 26,
  ECP_224_BP: 27,
  ECP_256_BP: 28,
  ECP_384_BP: 29,
  ECP_512_BP: 30,
  CURVE25519: 31,
  CURVE448: 32,
  ML_KEM_512: 35,
  ML_KEM_768: 36,
  ML_KEM_1024: 37
};
var EsnId = { NO: 0, YES: 1 };
var TransformAttr = { KEY_LENGTH: 14 };
var IdType = {
  IPV4_ADDR: 1,
  FQDN: 2,
  RFC822_ADDR: 3,
  IPV6_ADDR: 5,
  DER_ASN1_DN: 9,
  DER_ASN1_GN: 10,
  KEY_ID: 11,
  FC_NAME: 12,
  NULL: 13
};
var AuthMethod = {
  RSA_SIG: 1,
  SHARED_KEY_MIC: 2,
  DSS_SIG: 3,
  ECDSA_SHA256_P256: 9,
  ECDSA_SHA384_P384: 10,
  ECDSA_SHA512_P521: 11,
  GENERIC_SECURE_PASSWORD: 12,
  NULL_AUTH: 13,
  DIGITAL_SIGNATURE: 14
};
var CertEncoding = {
  PKCS7_X509: 1,
  PGP: 2,
  DNS_SIGNED_KEY: 3,
  X509_SIG: 4,
  KERBEROS: 6,
  CRL: 7,
  ARL: 8,
  SPKI: 9,
  X509_ATTR: 10,
  RAW_RSA_KEY: 11,
  HASH_URL_X509: 12,
  HASH_URL_X509_BUNDLE: 13,
  OCSP_CONTENT: 14,
  RAW_PUBLIC_KEY: 15
};
var NotifyType = {
  UNSUPPORTED_CRITICAL_PAYLOAD: 1,
  INVALID_IKE_SPI: 4,
  INVALID_MAJOR_VERSION: 5,
  INVALID_SYNTAX: 7,
  INVALID_MESSAGE_ID: 9,
  INVALID_SPI: 11,
  NO_PROPOSAL_CHOSEN: 14,
  INVALID_KE_PAYLOAD: 17,
  AUTHENTICATION_FAILED: 24,
  SINGLE_PAIR_REQUIRED: 34,
  NO_ADDITIONAL_SAS: 35,
  INTERNAL_ADDRESS_FAILURE: 36,
  FAILED_CP_REQUIRED: 37,
  TS_UNACCEPTABLE: 38,
  INVALID_SELECTORS: 39,
  UNACCEPTABLE_ADDRESSES: 40,
  UNEXPECTED_NAT_DETECTED: 41,
  USE_ASSIGNED_HoA: 42,
  TEMPORARY_FAILURE: 43,
  CHILD_SA_NOT_FOUND: 44,
  INVALID_GROUP_ID: 45,
  AUTHORIZATION_FAILED: 46,
  STATE_NOT_FOUND: 47,
  INITIAL_CONTACT: 16384,
  SET_WINDOW_SIZE: 16385,
  ADDITIONAL_TS_POSSIBLE: 16386,
  IPCOMP_SUPPORTED: 16387,
  NAT_DETECTION_SOURCE_IP: 16388,
  NAT_DETECTION_DESTINATION_IP: 16389,
  COOKIE: 16390,
  USE_TRANSPORT_MODE: 16391,
  HTTP_CERT_LOOKUP_SUPPORTED: 16392,
  REKEY_SA: 16393,
  ESP_TFC_PADDING_NOT_SUPPORTED: 16394,
  NON_FIRST_FRAGMENTS_ALSO: 16395,
  MOBIKE_SUPPORTED: 16396,
  ADDITIONAL_IP4_ADDRESS: 16397,
  ADDITIONAL_IP6_ADDRESS: 16398,
  NO_ADDITIONAL_ADDRESSES: 16399,
  UPDATE_SA_ADDRESSES: 16400,
  COOKIE2: 16401,
  NO_NATS_ALLOWED: 16402,
  AUTH_LIFETIME: 16403,
  MULTIPLE_AUTH_SUPPORTED: 16404,
  ANOTHER_AUTH_FOLLOWS: 16405,
  REDIRECT_SUPPORTED: 16406,
  REDIRECT: 16407,
  REDIRECTED_FROM: 16408,
  TICKET_LT_OPAQUE: 16409,
  TICKET_REQUEST: 16410,
  TICKET_ACK: 16411,
  TICKET_NACK: 16412,
  TICKET_OPAQUE: 16413,
  LINK_ID: 16414,
  USE_WESP_MODE: 16415,
  ROHC_SUPPORTED: 16416,
  EAP_ONLY_AUTHENTICATION: 16417,
  CHILDLESS_IKEV2_SUPPORTED: 16418,
  QUICK_CRASH_DETECTION: 16419,
  IKEV2_MESSAGE_ID_SYNC_SUPPORTED: 16420,
  IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED: 16421,
  IKEV2_MESSAGE_ID_SYNC: 16422,
  IPSEC_REPLAY_COUNTER_SYNC: 16423,
  SECURE_PASSWORD_METHODS: 16424,
  PSK_PERSIST: 16425,
  PSK_CONFIRM: 16426,
  ERX_SUPPORTED: 16427,
  IFOM_CAPABILITY: 16428,
  SENDER_REQUEST_ID: 16429,
  IKEV2_FRAGMENTATION_SUPPORTED: 16430,
  SIGNATURE_HASH_ALGORITHMS: 16431,
  CLONE_IKE_SA_SUPPORTED: 16432,
  CLONE_IKE_SA: 16433,
  PUZZLE: 16434,
  USE_PPK: 16435,
  PPK_IDENTITY: 16436,
  NO_PPK_AUTH: 16437,
  INTERMEDIATE_EXCHANGE_SUPPORTED: 16438,
  IP4_ALLOWED: 16439,
  IP6_ALLOWED: 16440,
  ADDITIONAL_KEY_EXCHANGE: 16441,
  USE_AGGFRAG: 16442
};
var CfgType = { REQUEST: 1, REPLY: 2, SET: 3, ACK: 4 };
var CfgAttr = {
  INTERNAL_IP4_ADDRESS: 1,
  INTERNAL_IP4_NETMASK: 2,
  INTERNAL_IP4_DNS: 3,
  INTERNAL_IP4_NBNS: 4,
  INTERNAL_IP4_DHCP: 6,
  APPLICATION_VERSION: 7,
  INTERNAL_IP6_ADDRESS: 8,
  INTERNAL_IP6_DNS: 10,
  INTERNAL_IP6_DHCP: 12,
  INTERNAL_IP4_SUBNET: 13,
  SUPPORTED_ATTRIBUTES: 14,
  INTERNAL_IP6_SUBNET: 15,
  MIP6_HOME_PREFIX: 16,
  INTERNAL_IP6_LINK: 17,
  INTERNAL_IP6_PREFIX: 18,
  HOME_AGENT_ADDRESS: 19,
  P_CSCF_IP4_ADDRESS: 20,
  P_CSCF_IP6_ADDRESS: 21,
  FTT_KAT: 22,
  EXTERNAL_SOURCE_IP4_NAT_INFO: 23,
  TIMEOUT_PERIOD_FOR_LIVENESS_CHECK: 24,
  INTERNAL_DNS_DOMAIN: 25,
  INTERNAL_DNSSEC_TA: 26
};
var TsType = { TS_IPV4_ADDR_RANGE: 7, TS_IPV6_ADDR_RANGE: 8 };
var HashAlgorithm = {
  SHA1: 1,
  SHA2_256: 2,
  SHA2_384: 3,
  SHA2_512: 4,
  IDENTITY: 5
};
function nameOf(table, value) {
  for (const [k, v] of Object.entries(table)) if (v === value) return k;
  return `UNKNOWN(${value})`;
}

// src/ike/sa/proposals.ts
var ADDKE_FIRST = TransformType.ADDKE1;
var ADDKE_LAST = TransformType.ADDKE7;
function isAddKeType(type) {
  return type >= ADDKE_FIRST && type <= ADDKE_LAST;
}
var ENCR_TOKENS = {};
for (const bits of [128, 192, 256]) {
  ENCR_TOKENS[`aes${bits}`] = { type: TransformType.ENCR, id: EncrId.AES_CBC, keyBits: bits };
  ENCR_TOKENS[`aes${bits}gcm16`] = {
    type: TransformType.ENCR,
    id: EncrId.AES_GCM_16,
    keyBits: bits,
    aead: true
  };
  ENCR_TOKENS[`aes${bits}gcm128`] = ENCR_TOKENS[`aes${bits}gcm16`];
  ENCR_TOKENS[`aes${bits}gcm12`] = {
    type: TransformType.ENCR,
    id: EncrId.AES_GCM_12,
    keyBits: bits,
    aead: true
  };
  ENCR_TOKENS[`aes${bits}gcm96`] = ENCR_TOKENS[`aes${bits}gcm12`];
  ENCR_TOKENS[`aes${bits}gcm8`] = {
    type: TransformType.ENCR,
    id: EncrId.AES_GCM_8,
    keyBits: bits,
    aead: true
  };
  ENCR_TOKENS[`aes${bits}gcm64`] = ENCR_TOKENS[`aes${bits}gcm8`];
}
ENCR_TOKENS["aes"] = ENCR_TOKENS["aes128"];
ENCR_TOKENS["aesgcm16"] = ENCR_TOKENS["aes128gcm16"];
ENCR_TOKENS["chacha20poly1305"] = {
  type: TransformType.ENCR,
  id: EncrId.CHACHA20_POLY1305,
  aead: true
};
var INTEG_TOKENS = {
  sha1: IntegId.HMAC_SHA1_96,
  sha256: IntegId.HMAC_SHA2_256_128,
  sha2_256: IntegId.HMAC_SHA2_256_128,
  sha384: IntegId.HMAC_SHA2_384_192,
  sha2_384: IntegId.HMAC_SHA2_384_192,
  sha512: IntegId.HMAC_SHA2_512_256,
  sha2_512: IntegId.HMAC_SHA2_512_256
};
var PRF_TOKENS = {
  prfsha1: PrfId.HMAC_SHA1,
  prfsha256: PrfId.HMAC_SHA2_256,
  prfsha384: PrfId.HMAC_SHA2_384,
  prfsha512: PrfId.HMAC_SHA2_512
};
var DH_TOKENS = {
  modp2048: DhGroup.MODP_2048,
  modp3072: DhGroup.MODP_3072,
  modp4096: DhGroup.MODP_4096,
  ecp256: DhGroup.ECP_256,
  ecp384: DhGroup.ECP_384,
  ecp521: DhGroup.ECP_521,
  x25519: DhGroup.CURVE25519,
  curve25519: DhGroup.CURVE25519,
  x448: DhGroup.CURVE448,
  curve448: DhGroup.CURVE448,
  // draft-ietf-ipsecme-ikev2-mlkem (strongSwan 6 names them the same way)
  mlkem512: DhGroup.ML_KEM_512,
  mlkem768: DhGroup.ML_KEM_768,
  mlkem1024: DhGroup.ML_KEM_1024
};
var KE_NAMES = {
  [DhGroup.MODP_2048]: "modp2048",
  [DhGroup.MODP_3072]: "modp3072",
  [DhGroup.MODP_4096]: "modp4096",
  [DhGroup.ECP_256]: "ecp256",
  [DhGroup.ECP_384]: "ecp384",
  [DhGroup.ECP_521]: "ecp521",
  [DhGroup.CURVE25519]: "x25519",
  [DhGroup.CURVE448]: "x448",
  [DhGroup.ML_KEM_512]: "ML-KEM-512",
  [DhGroup.ML_KEM_768]: "ML-KEM-768",
  [DhGroup.ML_KEM_1024]: "ML-KEM-1024"
};
function isPostQuantumKe(id) {
  return id === DhGroup.ML_KEM_512 || id === DhGroup.ML_KEM_768 || id === DhGroup.ML_KEM_1024;
}
function keyExchangesOf(c) {
  return [...c.dh && c.dh.id !== 0 ? [c.dh.id] : [], ...(c.addKe ?? []).map((a) => a.id)];
}
function describeKeyExchanges(c) {
  return keyExchangesOf(c).map((id) => KE_NAMES[id] ?? `ke${id}`).join(" + ");
}
function isPostQuantum(c) {
  return keyExchangesOf(c).some(isPostQuantumKe);
}
function keyExchangesOfText(proposal) {
  try {
    const [spec] = parseProposals(proposal, "ike");
    const c = {
      num: 1,
      protocol: ProtocolId.IKE,
      spi: new Uint8Array(0),
      encr: spec.encr[0],
      ...spec.dh[0] ? { dh: spec.dh[0] } : {},
      ...spec.addKe ? { addKe: spec.addKe.map((l) => l[0]).filter((a) => a.id !== 0) } : {}
    };
    return { keyExchanges: describeKeyExchanges(c), postQuantum: isPostQuantum(c) };
  } catch {
    return { keyExchanges: "", postQuantum: false };
  }
}
function withMlKem(s) {
  if (s.dh.some((a) => isPostQuantumKe(a.id))) return s;
  if ((s.addKe ?? []).some((l) => l.some((a) => isPostQuantumKe(a.id)))) return s;
  const addKe = (s.addKe ?? []).map((l) => [...l]);
  if (addKe.length >= 7) return s;
  const type = ADDKE_FIRST + addKe.length;
  addKe.push(
    [DhGroup.ML_KEM_768, DhGroup.ML_KEM_1024, DhGroup.ML_KEM_512].map((id) => ({ type, id }))
  );
  return { ...s, addKe };
}
function applyPqMode(specs, mode) {
  if (mode === "off") return specs;
  const pq = specs.map(withMlKem);
  if (mode === "required") return pq.filter((s, i) => pq.indexOf(s) === i);
  const out = [];
  for (const s of [...pq, ...specs]) if (!out.includes(s)) out.push(s);
  return out;
}
var PRF_FOR_INTEG = {
  [IntegId.HMAC_SHA1_96]: PrfId.HMAC_SHA1,
  [IntegId.HMAC_SHA2_256_128]: PrfId.HMAC_SHA2_256,
  [IntegId.HMAC_SHA2_384_192]: PrfId.HMAC_SHA2_384,
  [IntegId.HMAC_SHA2_512_256]: PrfId.HMAC_SHA2_512
};
var DEFAULT_IKE_PROPOSALS = "aes256gcm16-aes128gcm16-chacha20poly1305-prfsha256-prfsha384-x25519-ecp256-ecp384-modp2048";
var DEFAULT_ESP_PROPOSALS = "aes256gcm16-aes128gcm16-chacha20poly1305";
function parseProposals(text, kind) {
  const specs = [];
  for (const raw of text.split(",")) {
    const p = raw.trim().toLowerCase();
    if (p === "") throw configError(`empty ${kind} proposal in "${text}"`);
    const spec = { encr: [], integ: [], prf: [], dh: [], esn: [] };
    let aead;
    for (const tok of p.split("-")) {
      const e = ENCR_TOKENS[tok];
      if (e) {
        const isAead = e.aead === true;
        if (aead !== void 0 && aead !== isAead) {
          throw configError(`proposal "${p}" mixes AEAD and non-AEAD ciphers (RFC 5282 §8)`);
        }
        aead = isAead;
        spec.encr.push(
          e.keyBits === void 0 ? { type: e.type, id: e.id } : { type: e.type, id: e.id, keyBits: e.keyBits }
        );
        continue;
      }
      const integ = INTEG_TOKENS[tok];
      if (integ !== void 0) {
        spec.integ.push({ type: TransformType.INTEG, id: integ });
        continue;
      }
      const prf = PRF_TOKENS[tok];
      if (prf !== void 0) {
        spec.prf.push({ type: TransformType.PRF, id: prf });
        continue;
      }
      const dh = DH_TOKENS[tok];
      if (dh !== void 0) {
        spec.dh.push({ type: TransformType.DH, id: dh });
        continue;
      }
      const addKe = /^ke([1-7])_([a-z0-9]+)$/.exec(tok);
      if (addKe) {
        const n = Number(addKe[1]);
        const id = addKe[2] === "none" ? 0 : DH_TOKENS[addKe[2]];
        if (id === void 0)
          throw configError(
            `unknown key exchange method "${addKe[2]}" in "${tok}" (${kind} proposal "${p}")`
          );
        spec.addKe ??= [];
        for (let i = spec.addKe.length; i < n; i++) spec.addKe.push([]);
        spec.addKe[n - 1].push({ type: ADDKE_FIRST + n - 1, id });
        continue;
      }
      if (tok === "esn" || tok === "noesn") {
        if (kind === "ike") throw configError(`"${tok}" is not valid in an IKE proposal`);
        spec.esn.push({ type: TransformType.ESN, id: tok === "esn" ? EsnId.YES : EsnId.NO });
        continue;
      }
      throw configError(`unknown algorithm "${tok}" in ${kind} proposal "${p}"`);
    }
    if (spec.encr.length === 0)
      throw configError(`${kind} proposal "${p}" has no encryption algorithm`);
    if (spec.addKe) {
      const gap = spec.addKe.findIndex((l) => l.length === 0);
      if (gap >= 0)
        throw configError(
          `proposal "${p}" names ke${spec.addKe.length}_ but no ke${gap + 1}_ (RFC 9370 §2.2.1: they run in order)`
        );
    }
    if (aead === true && spec.integ.length > 0) {
      throw configError(`proposal "${p}": AEAD ciphers take no integrity algorithm`);
    }
    if (aead === false && spec.integ.length === 0) {
      throw configError(`proposal "${p}": a non-AEAD cipher needs an integrity algorithm`);
    }
    if (kind === "ike") {
      if (spec.prf.length === 0) {
        for (const i of spec.integ) {
          const prfId = PRF_FOR_INTEG[i.id];
          if (prfId !== void 0 && !spec.prf.some((x) => x.id === prfId)) {
            spec.prf.push({ type: TransformType.PRF, id: prfId });
          }
        }
      }
      if (spec.prf.length === 0)
        throw configError(`IKE proposal "${p}" has no PRF (add e.g. prfsha256)`);
      if (spec.dh.length === 0)
        throw configError(`IKE proposal "${p}" has no key exchange group (add e.g. x25519)`);
      if (spec.dh.some((d) => d.id === 0))
        throw configError(`IKE proposal "${p}": IKE_SA_INIT needs a key exchange, not none`);
    } else {
      if (spec.prf.length > 0) throw configError(`ESP proposal "${p}" cannot contain a PRF`);
      if (spec.addKe && spec.dh.length === 0)
        throw configError(
          `ESP proposal "${p}": additional key exchanges need a first one (e.g. x25519-ke1_mlkem768, RFC 9370 §2.2.4)`
        );
      if (spec.esn.length === 0) spec.esn.push({ type: TransformType.ESN, id: EsnId.NO });
    }
    specs.push(spec);
  }
  return specs;
}
function configError(msg) {
  return new VpnError("ERR_CONFIG", msg);
}
function toTransform(a) {
  return {
    type: a.type,
    id: a.id,
    attributes: a.keyBits === void 0 ? [] : [{ type: TransformAttr.KEY_LENGTH, value: a.keyBits }]
  };
}
function buildProposals(specs, protocol, spi) {
  return specs.map((s, i) => ({
    num: i + 1,
    protocol,
    spi,
    transforms: [...s.encr, ...s.integ, ...s.prf, ...s.dh, ...(s.addKe ?? []).flat(), ...s.esn].map(
      toTransform
    )
  }));
}
function keyBitsOf(t) {
  for (const a of t.attributes) {
    if (a.type === TransformAttr.KEY_LENGTH && typeof a.value === "number") return a.value;
  }
  return void 0;
}
function sameAlg(a, t) {
  return a.id === t.id && a.keyBits === keyBitsOf(t);
}
function selectResponderProposal(offered, received, protocol) {
  if (received.length !== 1) return `responder returned ${received.length} proposals, expected 1`;
  const r = received[0];
  if (r.protocol !== protocol)
    return `responder chose protocol ${r.protocol}, expected ${protocol}`;
  const spec = offered[r.num - 1];
  if (!spec) return `responder chose proposal #${r.num}, we offered ${offered.length}`;
  const chosen = {};
  const lists = {
    [TransformType.ENCR]: ["encr", spec.encr],
    [TransformType.INTEG]: ["integ", spec.integ],
    [TransformType.PRF]: ["prf", spec.prf],
    [TransformType.DH]: ["dh", spec.dh],
    [TransformType.ESN]: ["esn", spec.esn]
  };
  const addKe = [];
  for (const t of r.transforms) {
    if (isAddKeType(t.type)) {
      const i = t.type - ADDKE_FIRST;
      if (addKe[i]) return `responder chose two ADDKE${i + 1} transforms`;
      const alg2 = spec.addKe?.[i]?.find((a) => a.id === t.id);
      if (!alg2) return `responder chose ADDKE${i + 1} method ${t.id} that we did not offer`;
      addKe[i] = alg2;
      continue;
    }
    const entry = lists[t.type];
    if (!entry) return `responder chose unknown transform type ${t.type}`;
    const [key, list] = entry;
    if (chosen[key]) return `responder chose two ${key} transforms`;
    if (key === "integ" && t.id === IntegId.NONE && list.length === 0) continue;
    const alg = list.find((a) => sameAlg(a, t));
    if (!alg)
      return `responder chose ${key} ${t.id}${keyBitsOf(t) ? `/${keyBitsOf(t)}` : ""} that we did not offer`;
    chosen[key] = alg;
  }
  if (!chosen.encr) return "responder chose no encryption algorithm";
  if (spec.integ.length > 0 && !chosen.integ) return "responder chose no integrity algorithm";
  if (spec.prf.length > 0 && !chosen.prf) return "responder chose no PRF";
  if (spec.dh.length > 0 && !chosen.dh && protocol === ProtocolId.IKE)
    return "responder chose no DH group";
  const offeredAddKe = spec.addKe ?? [];
  for (let i = 0; i < offeredAddKe.length; i++) {
    const list = offeredAddKe[i];
    if (list.length > 0 && !addKe[i] && protocol === ProtocolId.IKE && !list.some((a) => a.id === 0))
      return `responder chose no ADDKE${i + 1} transform`;
  }
  const out = { num: r.num, protocol: r.protocol, spi: r.spi, encr: chosen.encr };
  if (chosen.integ) out.integ = chosen.integ;
  if (chosen.prf) out.prf = chosen.prf;
  if (chosen.dh) out.dh = chosen.dh;
  if (chosen.esn) out.esn = chosen.esn;
  const used = addKe.filter((a) => a !== void 0 && a.id !== 0);
  if (used.length > 0) {
    if (!out.dh || out.dh.id === 0)
      return "responder chose additional key exchanges without a first one";
    out.addKe = used;
  }
  return out;
}
var ENCR_NAMES = {
  [EncrId.AES_CBC]: "aes",
  [EncrId.AES_GCM_16]: "aes%gcm16",
  [EncrId.AES_GCM_12]: "aes%gcm12",
  [EncrId.AES_GCM_8]: "aes%gcm8",
  [EncrId.CHACHA20_POLY1305]: "chacha20poly1305"
};
function formatChosen(c) {
  const parts = [];
  const e = ENCR_NAMES[c.encr.id] ?? `encr${c.encr.id}`;
  parts.push(
    e.includes("%") ? e.replace("%", String(c.encr.keyBits ?? "")) : `${e}${c.encr.id === EncrId.AES_CBC ? String(c.encr.keyBits ?? "") : ""}`
  );
  if (c.integ) parts.push(findKey(INTEG_TOKENS, c.integ.id) ?? `integ${c.integ.id}`);
  if (c.prf) parts.push(findKey(PRF_TOKENS, c.prf.id) ?? `prf${c.prf.id}`);
  if (c.dh) parts.push(findKey(DH_TOKENS, c.dh.id) ?? `dh${c.dh.id}`);
  for (const a of c.addKe ?? [])
    parts.push(`ke${a.type - ADDKE_FIRST + 1}_${findKey(DH_TOKENS, a.id) ?? String(a.id)}`);
  return parts.join("-");
}
function findKey(table, v) {
  for (const [k, x] of Object.entries(table)) if (x === v) return k;
  return void 0;
}
function formatSpecs(specs) {
  return specs.map(
    (s) => [...s.encr, ...s.integ, ...s.prf, ...s.dh, ...(s.addKe ?? []).flat()].map((a) => {
      if (isAddKeType(a.type))
        return `ke${a.type - ADDKE_FIRST + 1}_${a.id === 0 ? "none" : findKey(DH_TOKENS, a.id) ?? String(a.id)}`;
      const enc = ENCR_NAMES[a.id];
      if (a.type === TransformType.ENCR && enc)
        return enc.includes("%") ? enc.replace("%", String(a.keyBits ?? "")) : `${enc}${a.id === EncrId.AES_CBC ? String(a.keyBits ?? "") : ""}`;
      if (a.type === TransformType.INTEG) return findKey(INTEG_TOKENS, a.id) ?? String(a.id);
      if (a.type === TransformType.PRF) return findKey(PRF_TOKENS, a.id) ?? String(a.id);
      if (a.type === TransformType.DH) return findKey(DH_TOKENS, a.id) ?? String(a.id);
      return String(a.id);
    }).join("-")
  ).join(", ");
}
function chooseFromOffer(offered, ours, protocol, opts) {
  for (const p of offered) {
    if (p.protocol !== protocol) continue;
    for (const spec of ours) {
      const pick = {};
      const transforms = [];
      const addKe = [];
      let ok = true;
      const types = new Set(p.transforms.map((t) => t.type));
      for (const type of types) {
        if (isAddKeType(type)) {
          const ours2 = spec.addKe?.[type - ADDKE_FIRST] ?? [];
          const f = p.transforms.filter((t) => t.type === type).find(
            (t) => t.id === 0 ? ours2.length === 0 || ours2.some((a) => a.id === 0) : ours2.some((a) => a.id === t.id) || protocol !== ProtocolId.IKE && ours2.length > 0 && opts.acceptDh(t.id)
          );
          if (!f) {
            ok = false;
            break;
          }
          transforms.push(f);
          if (f.id !== 0) addKe.push({ type, id: f.id });
          continue;
        }
        const cands = p.transforms.filter((t) => t.type === type);
        let found;
        let key;
        switch (type) {
          case TransformType.ENCR:
            key = "encr";
            found = cands.find((t) => spec.encr.some((a) => sameAlg(a, t)));
            break;
          case TransformType.INTEG:
            key = "integ";
            found = cands.find(
              (t) => spec.integ.some((a) => a.id === t.id) || t.id === IntegId.NONE && spec.integ.length === 0
            );
            break;
          case TransformType.PRF:
            key = "prf";
            found = cands.find((t) => spec.prf.some((a) => a.id === t.id));
            break;
          case TransformType.DH:
            key = "dh";
            found = cands.find(
              (t) => opts.dhGroup !== void 0 ? t.id === opts.dhGroup && (spec.dh.some((a) => a.id === t.id) || protocol !== ProtocolId.IKE && opts.acceptDh(t.id)) : t.id === DhGroup.NONE || spec.dh.some((a) => a.id === t.id)
            );
            break;
          case TransformType.ESN:
            key = "esn";
            found = cands.find(
              (t) => (spec.esn.length ? spec.esn : [{ type: 5, id: EsnId.NO }]).some((a) => a.id === t.id)
            );
            break;
          default:
            ok = false;
            key = "encr";
        }
        if (!ok || !found) {
          ok = false;
          break;
        }
        const kb = keyBitsOf(found);
        pick[key] = kb === void 0 ? { type, id: found.id } : { type, id: found.id, keyBits: kb };
        transforms.push(found);
      }
      if (!ok || !pick.encr) continue;
      if (protocol === ProtocolId.IKE && (!pick.prf || !pick.dh)) continue;
      if (spec.integ.length > 0 && !pick.integ) continue;
      const chosen = { num: p.num, protocol, spi: p.spi, encr: pick.encr };
      if (pick.integ) chosen.integ = pick.integ;
      if (pick.prf) chosen.prf = pick.prf;
      if (pick.dh) chosen.dh = pick.dh;
      if (pick.esn) chosen.esn = pick.esn;
      if (addKe.length > 0) {
        if (!pick.dh || pick.dh.id === 0) continue;
        chosen.addKe = addKe;
      }
      return { chosen, transforms };
    }
  }
  return void 0;
}

// src/config/import.ts
import { X509Certificate } from "node:crypto";

// src/core/printable.ts
var UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
var UNSAFE_AFTER_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
function hex(code, width) {
  return code.toString(16).padStart(width, "0");
}
function printable(text) {
  return text.replace(UNSAFE, (ch) => {
    const c = ch.charCodeAt(0);
    return c < 128 ? `\\x${hex(c, 2)}` : `\\u${hex(c, 4)}`;
  });
}
function printableJson(value) {
  return (JSON.stringify(value) ?? "null").replace(
    UNSAFE_AFTER_JSON,
    (ch) => `\\u${hex(ch.charCodeAt(0), 4)}`
  );
}

// src/config/profile.ts
import {
  closeSync,
  constants,
  fstatSync,
  openSync,
  readFileSync,
  readdirSync,
  statSync
} from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";

// src/core/ip.ts
function parseIpAddress(s) {
  const v4 = parseV4(s);
  if (v4) return v4;
  const v6 = parseV6(s);
  if (v6) return v6;
  throw new VpnError("ERR_ARG", `"${s}" is not an IP address`);
}
function parseV4(s) {
  const parts = s.split(".");
  if (parts.length !== 4) return void 0;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return void 0;
    const n = Number(p);
    if (n > 255) return void 0;
    out[i] = n;
  }
  return out;
}
function parseV6(s) {
  if (!/^[0-9A-Fa-f:.]+$/.test(s) || s.length < 2) return void 0;
  const dbl = s.indexOf("::");
  if (dbl !== s.lastIndexOf("::")) return void 0;
  const words = [];
  const parseSide = (side) => {
    if (side === "") return [];
    const groups = side.split(":");
    const out2 = [];
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i];
      if (i === groups.length - 1 && g.includes(".")) {
        const v4 = parseV4(g);
        if (!v4) return void 0;
        out2.push(v4[0] << 8 | v4[1], v4[2] << 8 | v4[3]);
      } else {
        if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return void 0;
        out2.push(parseInt(g, 16));
      }
    }
    return out2;
  };
  if (dbl >= 0) {
    const head = parseSide(s.slice(0, dbl));
    const tail = parseSide(s.slice(dbl + 2));
    if (!head || !tail || head.length + tail.length > 7) return void 0;
    words.push(...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail);
  } else {
    const all = parseSide(s);
    if (!all || all.length !== 8) return void 0;
    words.push(...all);
  }
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 255;
  });
  return out;
}
function formatIpAddress(b) {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16)
    throw new VpnError("ERR_ARG", `"address" expected 4 or 16 bytes, got ${b.length}`);
  const w = [];
  for (let i = 0; i < 8; i++) w.push(b[2 * i] << 8 | b[2 * i + 1]);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex2 = (a) => a.map((x) => x.toString(16)).join(":");
  if (bestStart < 0) return hex2(w);
  return `${hex2(w.slice(0, bestStart))}::${hex2(w.slice(bestStart + bestLen))}`;
}
function prefixToRange(addr, prefixLen) {
  const bits = addr.length * 8;
  if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > bits) {
    throw new VpnError("ERR_ARG", `"prefixLen" expected 0..${bits}, got ${prefixLen}`);
  }
  const start = new Uint8Array(addr.length);
  const end = new Uint8Array(addr.length);
  for (let i = 0; i < addr.length; i++) {
    const keep = Math.max(0, Math.min(8, prefixLen - 8 * i));
    const mask = keep === 0 ? 0 : 255 << 8 - keep & 255;
    start[i] = addr[i] & mask;
    end[i] = addr[i] & mask | ~mask & 255;
  }
  return { start, end };
}
function compareAddr(a, b) {
  if (a.length !== b.length) return a.length - b.length;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    if (d !== 0) return d;
  }
  return 0;
}
function addrInRange(a, start, end) {
  return a.length === start.length && compareAddr(a, start) >= 0 && compareAddr(a, end) <= 0;
}
var PORTED = /* @__PURE__ */ new Set([6, 17, 132, 136]);
function peekPacket(p) {
  if (p.length < 1) return null;
  const version = p[0] >> 4;
  if (version === 4) {
    const ihl = (p[0] & 15) * 4;
    if (ihl < 20 || p.length < ihl) return null;
    const protocol = p[9];
    const fragOffset = (p[6] & 31) << 8 | p[7];
    const info = {
      version: 4,
      src: p.subarray(12, 16),
      dst: p.subarray(16, 20),
      protocol,
      srcPort: 0,
      dstPort: 0
    };
    if (fragOffset === 0 && PORTED.has(protocol) && p.length >= ihl + 4) {
      info.srcPort = p[ihl] << 8 | p[ihl + 1];
      info.dstPort = p[ihl + 2] << 8 | p[ihl + 3];
    }
    return info;
  }
  if (version === 6) {
    if (p.length < 40) return null;
    let next = p[6];
    let off = 40;
    let first = true;
    for (let guard = 0; guard < 8; guard++) {
      if (next === 0 || next === 43 || next === 60) {
        if (p.length < off + 2) return null;
        const len = (p[off + 1] + 1) * 8;
        next = p[off];
        off += len;
      } else if (next === 44) {
        if (p.length < off + 8) return null;
        const fragOff = (p[off + 2] << 8 | p[off + 3]) >> 3;
        if (fragOff !== 0) first = false;
        next = p[off];
        off += 8;
      } else break;
    }
    const info = {
      version: 6,
      src: p.subarray(8, 24),
      dst: p.subarray(24, 40),
      protocol: next,
      srcPort: 0,
      dstPort: 0
    };
    if (first && PORTED.has(next) && p.length >= off + 4) {
      info.srcPort = p[off] << 8 | p[off + 1];
      info.dstPort = p[off + 2] << 8 | p[off + 3];
    }
    return info;
  }
  return null;
}
var MAX_EXCLUDED = 32;
function checkExcluded(cidrs) {
  if (cidrs.length > MAX_EXCLUDED)
    throw new VpnError("ERR_CONFIG", `at most ${MAX_EXCLUDED} excluded networks`);
  return cidrs.map((c) => {
    const [a, l, ...rest] = c.split("/");
    let addr;
    try {
      if (a === void 0 || rest.length > 0) throw new Error();
      addr = parseIpAddress(a);
    } catch {
      throw new VpnError("ERR_CONFIG", `not a network: ${JSON.stringify(c.slice(0, 64))}`);
    }
    const bits = addr.length * 8;
    const len = l === void 0 ? bits : /^\d{1,3}$/.test(l) ? Number(l) : -1;
    if (len < 1 || len > bits)
      throw new VpnError(
        "ERR_CONFIG",
        `prefix length of ${JSON.stringify(c.slice(0, 64))}: 1..${bits} (a /0 would exclude everything)`
      );
    return `${formatIpAddress(prefixToRange(addr, len).start)}/${len}`;
  });
}

// src/pki/der.ts
var Tag = {
  BOOLEAN: 1,
  INTEGER: 2,
  BIT_STRING: 3,
  OCTET_STRING: 4,
  NULL: 5,
  OID: 6,
  UTF8_STRING: 12,
  PRINTABLE_STRING: 19,
  IA5_STRING: 22,
  UTC_TIME: 23,
  GENERALIZED_TIME: 24,
  BMP_STRING: 30,
  SEQUENCE: 48,
  SET: 49
};
function readDer(buf, offset = 0, what = "DER") {
  if (offset + 2 > buf.length) throw new ParseError(what, offset, "truncated TLV header");
  const tag = buf[offset];
  if ((tag & 31) === 31) throw new ParseError(what, offset, "high tag numbers not supported");
  let len = buf[offset + 1];
  let p = offset + 2;
  if (len & 128) {
    const n = len & 127;
    if (n === 0) throw new ParseError(what, offset, "indefinite length is not DER");
    if (n > 4) throw new ParseError(what, offset, "length too large");
    if (p + n > buf.length) throw new ParseError(what, offset, "truncated length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i];
    if (len < 128 || buf[p] === 0) throw new ParseError(what, offset, "non-minimal length");
    p += n;
  }
  if (p + len > buf.length) throw new ParseError(what, offset, `length ${len} past end`);
  return {
    der: {
      tag,
      constructed: (tag & 32) !== 0,
      value: buf.subarray(p, p + len),
      raw: buf.subarray(offset, p + len)
    },
    next: p + len
  };
}
function parseDer(buf, what = "DER") {
  const { der, next } = readDer(buf, 0, what);
  if (next !== buf.length) throw new ParseError(what, next, "trailing bytes");
  return der;
}
function children(d, what = "DER") {
  if (!d.constructed)
    throw new ParseError(what, 0, `tag 0x${d.tag.toString(16)} is not constructed`);
  const out = [];
  let p = 0;
  while (p < d.value.length) {
    const r = readDer(d.value, p, what);
    out.push(r.der);
    p = r.next;
  }
  return out;
}
function expectTag(d, tag, what) {
  if (!d) throw new ParseError(what, 0, `missing element (expected tag 0x${tag.toString(16)})`);
  if (d.tag !== tag)
    throw new ParseError(what, 0, `tag 0x${d.tag.toString(16)}, expected 0x${tag.toString(16)}`);
  return d;
}
function decodeOid(value) {
  if (value.length === 0) throw new ParseError("OID", 0, "empty");
  const arcs = [];
  let v = 0;
  for (let i = 0; i < value.length; i++) {
    const b = value[i];
    if (v === 0 && b === 128) throw new ParseError("OID", i, "non-minimal arc");
    v = v * 128 + (b & 127);
    if (v > Number.MAX_SAFE_INTEGER / 128) throw new ParseError("OID", i, "arc too large");
    if ((b & 128) === 0) {
      arcs.push(v);
      v = 0;
    } else if (i === value.length - 1) {
      throw new ParseError("OID", i, "truncated arc");
    }
  }
  const first = arcs[0];
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join(".");
}
function encodeOid(oid2) {
  const arcs = oid2.split(".").map((s) => {
    if (!/^\d+$/.test(s)) throw new RangeError(`bad OID ${oid2}`);
    return Number(s);
  });
  if (arcs.length < 2) throw new RangeError(`bad OID ${oid2}`);
  const out = [];
  const all = [arcs[0] * 40 + arcs[1], ...arcs.slice(2)];
  for (const a of all) {
    const bytes = [a & 127];
    let x = Math.floor(a / 128);
    while (x > 0) {
      bytes.unshift(x & 127 | 128);
      x = Math.floor(x / 128);
    }
    out.push(...bytes);
  }
  return Uint8Array.from(out);
}
function tlv(tag, value) {
  const len = value.length;
  let head;
  if (len < 128) head = [tag, len];
  else {
    const lb = [];
    for (let x = len; x > 0; x = Math.floor(x / 256)) lb.unshift(x & 255);
    head = [tag, 128 | lb.length, ...lb];
  }
  const out = new Uint8Array(head.length + len);
  out.set(head);
  out.set(value, head.length);
  return out;
}
function seq(...items) {
  return tlv(Tag.SEQUENCE, concat(items));
}
function oid(dotted) {
  return tlv(Tag.OID, encodeOid(dotted));
}
var DER_NULL = Uint8Array.of(Tag.NULL, 0);
function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
function decodeUnsigned(value) {
  if (value.length === 0) throw new ParseError("INTEGER", 0, "empty");
  if (value[0] & 128) throw new ParseError("INTEGER", 0, "negative");
  let v = 0n;
  for (const b of value) v = v << 8n | BigInt(b);
  return v;
}

// src/pki/dn.ts
var ATTRS = [
  ["C", "2.5.4.6"],
  ["ST", "2.5.4.8"],
  ["L", "2.5.4.7"],
  ["O", "2.5.4.10"],
  ["OU", "2.5.4.11"],
  ["CN", "2.5.4.3"],
  ["SN", "2.5.4.4"],
  ["GN", "2.5.4.42"],
  ["serialNumber", "2.5.4.5"],
  ["title", "2.5.4.12"],
  ["E", "1.2.840.113549.1.9.1"],
  ["DC", "0.9.2342.19200300.100.1.25"],
  ["UID", "0.9.2342.19200300.100.1.1"]
];
var BY_NAME = new Map(ATTRS.map(([n, o]) => [n.toLowerCase(), o]));
BY_NAME.set("emailaddress", "1.2.840.113549.1.9.1");
BY_NAME.set("s", "2.5.4.8");
var BY_OID = new Map(ATTRS.map(([n, o]) => [o, n]));
var utf8 = new TextEncoder();
var utf8d = new TextDecoder();
function parseDn(text) {
  const parts = splitRdns(text);
  if (parts.length === 0) throw new VpnError("ERR_CONFIG", `empty distinguished name "${text}"`);
  const rdns = parts.map((p) => {
    const eq = p.indexOf("=");
    if (eq <= 0) throw new VpnError("ERR_CONFIG", `"${p}" in "${text}" is not TYPE=value`);
    const name = p.slice(0, eq).trim();
    const value = p.slice(eq + 1).trim();
    const id = /^\d+(\.\d+)+$/.test(name) ? name : BY_NAME.get(name.toLowerCase());
    if (!id) throw new VpnError("ERR_CONFIG", `unknown attribute "${name}" in "${text}"`);
    const tag = id === "2.5.4.6" ? Tag.PRINTABLE_STRING : id === "1.2.840.113549.1.9.1" || id === "0.9.2342.19200300.100.1.25" ? Tag.IA5_STRING : Tag.UTF8_STRING;
    return tlv(Tag.SET, seq(oid(id), tlv(tag, utf8.encode(value))));
  });
  return seq(...rdns);
}
function splitRdns(text) {
  const sep = text.trim().startsWith("/") ? "/" : ",";
  const out = [];
  let cur = "";
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "\\" && i + 1 < text.length) {
      cur += text[++i];
      continue;
    }
    if (ch === sep) {
      if (cur.trim() !== "") out.push(cur.trim());
      cur = "";
      continue;
    }
    cur += ch;
  }
  if (cur.trim() !== "") out.push(cur.trim());
  return out;
}
function formatDn(der) {
  const name = expectTag(parseDer(der, "DN"), Tag.SEQUENCE, "DN");
  const parts = [];
  for (const rdn of children(name, "DN")) {
    expectTag(rdn, Tag.SET, "RDN");
    for (const atv of children(rdn, "RDN")) {
      const [type, value] = children(expectTag(atv, Tag.SEQUENCE, "attribute"), "attribute");
      const o = decodeOid(expectTag(type, Tag.OID, "attribute type").value);
      if (!value) throw new ParseError("attribute", 0, "no value");
      const text = value.tag === Tag.BMP_STRING ? decodeBmp(value.value) : utf8d.decode(value.value);
      parts.push(`${BY_OID.get(o) ?? o}=${text}`);
    }
  }
  return parts.join(", ");
}
function decodeBmp(b) {
  let s = "";
  for (let i = 0; i + 1 < b.length; i += 2) s += String.fromCharCode(b[i] << 8 | b[i + 1]);
  return s;
}

// src/ike/identity.ts
var utf82 = new TextEncoder();
var utf8d2 = new TextDecoder();
function parseIdentity(text) {
  const s = text.trim();
  if (s === "") throw new VpnError("ERR_CONFIG", "empty identity");
  if (/^[0-9.]+$/.test(s) || s.includes(":")) {
    try {
      const a = parseIpAddress(s);
      return { type: a.length === 4 ? IdType.IPV4_ADDR : IdType.IPV6_ADDR, data: a };
    } catch {
      if (!s.includes(":"))
        throw new VpnError("ERR_CONFIG", `identity "${s}" is not a valid IP address`);
    }
  }
  if (s.startsWith("@#")) {
    const hex2 = s.slice(2);
    if (!/^([0-9a-fA-F]{2})+$/.test(hex2))
      throw new VpnError("ERR_CONFIG", `identity "${s}": bad key ID hex`);
    return { type: IdType.KEY_ID, data: new Uint8Array(Buffer.from(hex2, "hex")) };
  }
  if (s.startsWith("@")) return { type: IdType.FQDN, data: utf82.encode(s.slice(1)) };
  if (s.includes("@")) return { type: IdType.RFC822_ADDR, data: utf82.encode(s) };
  if (s.includes("=")) return { type: IdType.DER_ASN1_DN, data: parseDn(s) };
  return { type: IdType.FQDN, data: utf82.encode(s) };
}
function formatIdentity(id) {
  switch (id.type) {
    case IdType.IPV4_ADDR:
    case IdType.IPV6_ADDR:
      try {
        return formatIpAddress(id.data);
      } catch {
        return `<bad address>`;
      }
    case IdType.FQDN:
    case IdType.RFC822_ADDR:
      return utf8d2.decode(id.data);
    case IdType.KEY_ID:
      return `@#${Buffer.from(id.data).toString("hex")}`;
    case IdType.DER_ASN1_DN:
      try {
        return formatDn(id.data);
      } catch {
        return "<bad distinguished name>";
      }
    default:
      return `<id type ${id.type}, ${id.data.length} bytes>`;
  }
}
function sameIdentity(a, b) {
  return a.type === b.type && Buffer.from(a.data).equals(Buffer.from(b.data));
}

// src/ike/sa/traffic-selectors.ts
function tsFromCidr(cidr, ipProtocol = 0, startPort = 0, endPort = 65535) {
  const [addr, len] = cidr.split("/");
  const bytes = parseIpAddress(addr ?? "");
  const max = bytes.length * 8;
  const prefix = len === void 0 ? max : Number(len);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) {
    throw new VpnError("ERR_CONFIG", `bad prefix length in "${cidr}"`);
  }
  const { start, end } = prefixToRange(bytes, prefix);
  return {
    tsType: bytes.length === 4 ? TsType.TS_IPV4_ADDR_RANGE : TsType.TS_IPV6_ADDR_RANGE,
    ipProtocol,
    startPort,
    endPort,
    startAddr: start,
    endAddr: end
  };
}
function anyTs(ip6) {
  const out = [tsFromCidr("0.0.0.0/0")];
  if (ip6) out.push(tsFromCidr("::/0"));
  return out;
}
function within(inner, outer) {
  if (inner.tsType !== outer.tsType) return false;
  if (outer.ipProtocol !== 0 && inner.ipProtocol !== outer.ipProtocol) return false;
  if (inner.startPort < outer.startPort || inner.endPort > outer.endPort) return false;
  if (inner.startPort > inner.endPort) return false;
  return compareAddr(inner.startAddr, outer.startAddr) >= 0 && compareAddr(inner.endAddr, outer.endAddr) <= 0 && compareAddr(inner.startAddr, inner.endAddr) <= 0;
}
function checkNarrowed(proposed, chosen, side) {
  if (chosen.length === 0) return `responder returned no ${side} traffic selectors`;
  for (const c of chosen) {
    if (c.tsType !== TsType.TS_IPV4_ADDR_RANGE && c.tsType !== TsType.TS_IPV6_ADDR_RANGE) {
      return `responder returned ${side} selector of unknown type ${c.tsType}`;
    }
    if (!proposed.some((p) => within(c, p)))
      return `responder widened ${side} selector ${formatTs(c)}`;
  }
  return null;
}
function narrowTo(allowed, offered) {
  const out = [];
  for (const c of offered) {
    if (c.tsType !== TsType.TS_IPV4_ADDR_RANGE && c.tsType !== TsType.TS_IPV6_ADDR_RANGE) continue;
    for (const p of allowed) {
      const i = intersect(c, p);
      if (i) out.push(i);
    }
  }
  return out;
}
function intersect(a, b) {
  if (a.tsType !== b.tsType || a.startAddr.length !== b.startAddr.length) return void 0;
  if (a.ipProtocol !== 0 && b.ipProtocol !== 0 && a.ipProtocol !== b.ipProtocol) return void 0;
  const startAddr = compareAddr(a.startAddr, b.startAddr) >= 0 ? a.startAddr : b.startAddr;
  const endAddr = compareAddr(a.endAddr, b.endAddr) <= 0 ? a.endAddr : b.endAddr;
  const startPort = Math.max(a.startPort, b.startPort);
  const endPort = Math.min(a.endPort, b.endPort);
  if (compareAddr(startAddr, endAddr) > 0 || startPort > endPort) return void 0;
  return {
    tsType: a.tsType,
    ipProtocol: a.ipProtocol || b.ipProtocol,
    startPort,
    endPort,
    startAddr: startAddr.slice(),
    endAddr: endAddr.slice()
  };
}
function formatTs(ts) {
  const a = formatIpAddress(ts.startAddr);
  const b = formatIpAddress(ts.endAddr);
  let range = `${a}-${b}`;
  for (let p = 0; p <= ts.startAddr.length * 8; p++) {
    const r = prefixToRange(ts.startAddr, p);
    if (compareAddr(r.start, ts.startAddr) === 0 && compareAddr(r.end, ts.endAddr) === 0) {
      range = `${a}/${p}`;
      break;
    }
  }
  const proto = ts.ipProtocol === 0 ? "" : `[${ts.ipProtocol}${ts.startPort === 0 && ts.endPort === 65535 ? "" : `/${ts.startPort}-${ts.endPort}`}]`;
  return range + proto;
}

// src/ikev1/sa/constants.ts
var DOI_IPSEC = 1;
var SIT_IDENTITY_ONLY = 1;
var V1Protocol = { ISAKMP: 1, IPSEC_AH: 2, IPSEC_ESP: 3, IPCOMP: 4 };
var KEY_IKE = 1;
var NP_NONE = 0;
var NP_PROPOSAL = 2;
var NP_TRANSFORM = 3;
var Phase1Attr = {
  ENCRYPTION_ALGORITHM: 1,
  HASH_ALGORITHM: 2,
  AUTH_METHOD: 3,
  GROUP_DESCRIPTION: 4,
  GROUP_TYPE: 5,
  GROUP_PRIME: 6,
  GROUP_GENERATOR_ONE: 7,
  GROUP_GENERATOR_TWO: 8,
  GROUP_CURVE_A: 9,
  GROUP_CURVE_B: 10,
  LIFE_TYPE: 11,
  LIFE_DURATION: 12,
  PRF: 13,
  KEY_LENGTH: 14,
  FIELD_SIZE: 15,
  GROUP_ORDER: 16
};
var Phase2Attr = {
  SA_LIFE_TYPE: 1,
  SA_LIFE_DURATION: 2,
  GROUP_DESCRIPTION: 3,
  ENCAPSULATION_MODE: 4,
  AUTH_ALGORITHM: 5,
  KEY_LENGTH: 6,
  KEY_ROUNDS: 7,
  COMPRESS_DICTIONARY_SIZE: 8,
  COMPRESS_PRIVATE_ALGORITHM: 9,
  // ECN Tunnel (RFC 4301's IANA registration) and Extended Sequence Number (RFC 4304 §2)
  ECN_TUNNEL: 10,
  EXTENDED_SEQUENCE_NUMBER: 11
};
var V1Encr = {
  DES_CBC: 1,
  IDEA_CBC: 2,
  BLOWFISH_CBC: 3,
  RC5_R16_B64_CBC: 4,
  "3DES_CBC": 5,
  CAST_CBC: 6,
  AES_CBC: 7,
  CAMELLIA_CBC: 8
};
var V1Hash = {
  MD5: 1,
  SHA1: 2,
  TIGER: 3,
  SHA2_256: 4,
  SHA2_384: 5,
  SHA2_512: 6
};
var V1LifeType = { SECONDS: 1, KILOBYTES: 2 };
var V1EncapMode = {
  TUNNEL: 1,
  TRANSPORT: 2,
  UDP_TUNNEL: 3,
  UDP_TRANSPORT: 4,
  UDP_TUNNEL_DRAFT: 61443,
  UDP_TRANSPORT_DRAFT: 61444
};
var EspTransformId = { AES_GCM_8: 18, AES_GCM_12: 19, AES_GCM_16: 20 };
var ESP_TO_ENCR = {
  [EspTransformId.AES_GCM_8]: EncrId.AES_GCM_8,
  [EspTransformId.AES_GCM_12]: EncrId.AES_GCM_12,
  [EspTransformId.AES_GCM_16]: EncrId.AES_GCM_16
};
var SA_LIMITS = {
  /** Transforms we put in one offer (each is a full Phase 1 suite; keeps message 1 small). */
  maxOfferedTransforms: 64,
  /** Proposals we decode in one SA payload body. */
  maxProposals: 32,
  /** Attributes we decode in one transform. */
  maxAttributesPerTransform: 32,
  /** Largest TLV attribute value we accept (group primes etc. are refused anyway). */
  maxAttributeValue: 1024,
  /** Longest SPI in a Proposal payload (RFC 2408 §3.5; 16 = both cookies). */
  maxSpiSize: 16
};
var DEFAULT_V1_PHASE1_LIFE_SECONDS = 28800;
var DEFAULT_V1_PHASE2_LIFE_SECONDS = 3600;
var DEFAULT_V1_PHASE1_PROPOSALS = "aes256-aes128-sha256-sha1-ecp256-modp2048";
var V1_LEGACY_PHASE1_PROPOSALS = "aes256-aes128-3des-sha1-modp1024,3des-sha256-sha1-modp2048";
function defaultV1Phase1Proposals(legacy) {
  return legacy ? `${DEFAULT_V1_PHASE1_PROPOSALS},${V1_LEGACY_PHASE1_PROPOSALS}` : DEFAULT_V1_PHASE1_PROPOSALS;
}
var DEFAULT_V1_PHASE2_PROPOSALS = "aes256gcm16-aes128gcm16";

// src/ikev1/sa/proposal-text.ts
var P1_ENCR = {
  aes: { encr: V1Encr.AES_CBC, keyBits: 128 },
  aes128: { encr: V1Encr.AES_CBC, keyBits: 128 },
  aes192: { encr: V1Encr.AES_CBC, keyBits: 192 },
  aes256: { encr: V1Encr.AES_CBC, keyBits: 256 },
  "3des": { encr: V1Encr["3DES_CBC"], legacy: true }
};
var P1_HASH = {
  sha1: V1Hash.SHA1,
  sha: V1Hash.SHA1,
  sha256: V1Hash.SHA2_256,
  sha2_256: V1Hash.SHA2_256,
  sha384: V1Hash.SHA2_384,
  sha2_384: V1Hash.SHA2_384,
  sha512: V1Hash.SHA2_512,
  sha2_512: V1Hash.SHA2_512
};
var P1_GROUP = {
  modp1024: { group: DhGroup.MODP_1024, legacy: true },
  modp2048: { group: DhGroup.MODP_2048 },
  modp3072: { group: DhGroup.MODP_3072 },
  modp4096: { group: DhGroup.MODP_4096 },
  modp6144: { group: DhGroup.MODP_6144 },
  modp8192: { group: DhGroup.MODP_8192 },
  ecp256: { group: DhGroup.ECP_256 },
  ecp384: { group: DhGroup.ECP_384 },
  ecp521: { group: DhGroup.ECP_521 },
  x25519: { group: DhGroup.CURVE25519 },
  curve25519: { group: DhGroup.CURVE25519 },
  x448: { group: DhGroup.CURVE448 },
  curve448: { group: DhGroup.CURVE448 }
};
var KNOWN_GROUPS = new Set(Object.values(P1_GROUP).map((g) => g.group));
var REFUSED = {
  md5: "MD5 is broken and not supported",
  des: "single DES is broken and not supported",
  modp768: "MODP-768 is broken and not supported",
  modp1536: "MODP-1536 is not supported"
};
function configError2(msg) {
  return new VpnError("ERR_CONFIG", msg);
}
function checkLife(life, def) {
  const v = life ?? def;
  if (!Number.isInteger(v) || v < 1 || v > 4294967295)
    throw configError2(`IKEv1 lifetime ${v} s is out of range (1..4294967295)`);
  return v;
}
function isLegacyPhase1(spec) {
  return spec.encr === V1Encr["3DES_CBC"] || spec.group === DhGroup.MODP_1024;
}
function parseV1Phase1Proposals(text, opts) {
  const lifeSeconds = checkLife(opts.lifeSeconds, DEFAULT_V1_PHASE1_LIFE_SECONDS);
  const out = [];
  for (const raw of text.split(",")) {
    const p = raw.trim().toLowerCase();
    if (p === "") throw configError2(`empty IKEv1 proposal in "${text}"`);
    const encrs = [];
    const hashes = [];
    const groups = [];
    for (const tok of p.split("-")) {
      const e = P1_ENCR[tok];
      const h = P1_HASH[tok];
      const g = P1_GROUP[tok];
      if (e) {
        if (e.legacy && !opts.legacy)
          throw configError2(`"${tok}" in IKEv1 proposal "${p}" is legacy: it needs --ikev1-legacy`);
        encrs.push(
          e.keyBits === void 0 ? { encr: e.encr } : { encr: e.encr, keyBits: e.keyBits }
        );
      } else if (h !== void 0) {
        hashes.push(h);
      } else if (g) {
        if (g.legacy && !opts.legacy)
          throw configError2(`"${tok}" in IKEv1 proposal "${p}" is legacy: it needs --ikev1-legacy`);
        groups.push(g.group);
      } else if (REFUSED[tok]) {
        throw configError2(`"${tok}" in IKEv1 proposal "${p}": ${REFUSED[tok]}`);
      } else if (tok.startsWith("prf")) {
        throw configError2(
          `"${tok}" in IKEv1 proposal "${p}": IKEv1 uses the HMAC of the hash as its PRF (RFC 2409 §5); drop the prf token`
        );
      } else if (/gcm|ccm|chacha/.test(tok)) {
        throw configError2(`"${tok}" in IKEv1 proposal "${p}": IKEv1 Phase 1 has no AEAD ciphers`);
      } else {
        throw configError2(`unknown algorithm "${tok}" in IKEv1 proposal "${p}"`);
      }
    }
    if (encrs.length === 0) throw configError2(`IKEv1 proposal "${p}" has no cipher (e.g. aes256)`);
    if (hashes.length === 0) throw configError2(`IKEv1 proposal "${p}" has no hash (e.g. sha256)`);
    if (groups.length === 0)
      throw configError2(`IKEv1 proposal "${p}" has no Diffie-Hellman group (e.g. modp2048)`);
    for (const e of encrs)
      for (const hash of hashes)
        for (const group of groups) {
          const s = { encr: e.encr, hash, group, lifeSeconds };
          if (e.keyBits !== void 0) s.keyBits = e.keyBits;
          if (!out.some((o) => samePhase1(o, s))) out.push(s);
        }
  }
  if (out.length > SA_LIMITS.maxOfferedTransforms)
    throw configError2(
      `IKEv1 proposals "${text}" expand to ${out.length} transforms, more than ${SA_LIMITS.maxOfferedTransforms}`
    );
  return out;
}
function parseV1Phase2Proposals(text, opts) {
  const lifeSeconds = checkLife(opts.lifeSeconds, DEFAULT_V1_PHASE2_LIFE_SECONDS);
  const specs = parseProposals(text, "esp");
  const groups = /* @__PURE__ */ new Set();
  for (const s of specs) for (const d of s.dh) if (d.id !== DhGroup.NONE) groups.add(d.id);
  if (groups.size > 1)
    throw configError2(
      `IKEv1 ESP proposals "${text}" name ${groups.size} PFS groups; Quick Mode carries one KE payload, so name one`
    );
  const named = [...groups][0];
  if (named !== void 0 && opts.pfsGroup !== void 0 && opts.pfsGroup !== named)
    throw configError2(
      `IKEv1 ESP proposals "${text}" name PFS group ${named}, but group ${opts.pfsGroup} was asked for too: name one`
    );
  let pfsGroup = named ?? opts.pfsGroup;
  if (pfsGroup === DhGroup.NONE) pfsGroup = void 0;
  if (pfsGroup !== void 0 && !KNOWN_GROUPS.has(pfsGroup))
    throw configError2(`PFS group ${pfsGroup} is not supported with IKEv1`);
  const out = [];
  for (const s of specs) {
    if (s.addKe) throw configError2(`IKEv1 ESP proposal "${text}": no additional key exchanges`);
    if (s.integ.length > 0)
      throw configError2(
        `IKEv1 ESP proposal "${text}": only AES-GCM is supported (the data plane is AEAD only)`
      );
    if (s.esn.some((e) => e.id !== 0))
      throw configError2(`IKEv1 ESP proposal "${text}": extended sequence numbers not supported`);
    for (const e of s.encr) {
      const transformId = Object.entries(ESP_TO_ENCR).find(([, v]) => v === e.id)?.[0];
      if (transformId === void 0 || e.keyBits === void 0)
        throw configError2(
          `IKEv1 ESP proposal "${text}": only AES-GCM (aes128gcm16, aes256gcm16, ...) is supported`
        );
      const spec = {
        transformId: Number(transformId),
        keyBits: e.keyBits,
        encrId: e.id,
        lifeSeconds
      };
      if (pfsGroup !== void 0) spec.pfsGroup = pfsGroup;
      if (!out.some((o) => samePhase2(o, spec))) out.push(spec);
    }
  }
  if (out.length > SA_LIMITS.maxOfferedTransforms)
    throw configError2(`IKEv1 ESP proposals "${text}" expand to too many transforms`);
  return out;
}
var ENCR_NAME = { [V1Encr.AES_CBC]: "aes", [V1Encr["3DES_CBC"]]: "3des" };
var HASH_NAME = {
  [V1Hash.SHA1]: "sha1",
  [V1Hash.SHA2_256]: "sha256",
  [V1Hash.SHA2_384]: "sha384",
  [V1Hash.SHA2_512]: "sha512"
};
var GROUP_NAME = Object.fromEntries(
  Object.entries(P1_GROUP).filter(([k]) => !k.startsWith("curve")).map(([k, v]) => [v.group, k])
);
function formatPhase1Spec(s) {
  const e = ENCR_NAME[s.encr] ?? `encr${s.encr}`;
  const bits = s.encr === V1Encr.AES_CBC ? String(s.keyBits ?? 128) : "";
  return `${e}${bits}-${HASH_NAME[s.hash] ?? `hash${s.hash}`}-${GROUP_NAME[s.group] ?? `group${s.group}`}`;
}
function formatPhase2Spec(s) {
  const icv = { 18: 8, 19: 12, 20: 16 }[s.transformId];
  const e = icv ? `aes${s.keyBits}gcm${icv}` : `esp${s.transformId}`;
  return s.pfsGroup === void 0 ? e : `${e}-${GROUP_NAME[s.pfsGroup] ?? `group${s.pfsGroup}`}`;
}
function samePhase1(a, b) {
  return a.encr === b.encr && a.keyBits === b.keyBits && a.hash === b.hash && a.group === b.group;
}
function samePhase2(a, b) {
  return a.transformId === b.transformId && a.keyBits === b.keyBits && a.pfsGroup === b.pfsGroup;
}

// src/core/bytes.ts
var Reader = class _Reader {
  buf;
  /** Absolute position of the cursor in `buf`. */
  pos;
  /** Absolute end (exclusive) of the readable window. */
  end;
  /** Position of buf[0] in the outermost buffer, for error offsets. */
  base;
  view;
  constructor(buf, start = 0, end = buf.length, base = 0) {
    if (start < 0 || end > buf.length || start > end) {
      throw new RangeError(`Reader window [${start}, ${end}) outside buffer of ${buf.length}`);
    }
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.base = base;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  get remaining() {
    return this.end - this.pos;
  }
  /** Offset of the cursor in the outermost buffer (for error messages). */
  get offset() {
    return this.base + this.pos;
  }
  need(n, what) {
    if (n < 0 || this.pos + n > this.end) {
      throw new ParseError(what, this.offset, `need ${n} bytes, have ${this.remaining}`);
    }
  }
  u8(what = "u8") {
    this.need(1, what);
    return this.view.getUint8(this.pos++);
  }
  u16(what = "u16") {
    this.need(2, what);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }
  u32(what = "u32") {
    this.need(4, what);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }
  u64(what = "u64") {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos);
    this.pos += 8;
    return v;
  }
  /** A view (not a copy) of the next `n` bytes. */
  bytes(n, what = "bytes") {
    this.need(n, what);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  /** A copy of the next `n` bytes (use for data kept beyond the input's lifetime). */
  copy(n, what = "bytes") {
    return this.bytes(n, what).slice();
  }
  /** The rest of the window as a view. */
  rest() {
    return this.bytes(this.remaining, "rest");
  }
  skip(n, what = "skip") {
    this.need(n, what);
    this.pos += n;
  }
  /** A reader over the next `n` bytes; the cursor of this reader moves past them. */
  sub(n, what = "sub") {
    this.need(n, what);
    const r = new _Reader(this.buf, this.pos, this.pos + n, this.base);
    this.pos += n;
    return r;
  }
  /** Throws if any bytes are left in the window. */
  expectEnd(what) {
    if (this.pos !== this.end) {
      throw new ParseError(what, this.offset, `${this.remaining} trailing bytes`);
    }
  }
  fail(what, detail) {
    throw new ParseError(what, this.offset, detail);
  }
};
var Writer = class {
  buf;
  view;
  pos = 0;
  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
    this.view = new DataView(this.buf.buffer);
  }
  ensure(n) {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v) {
    checkUint(v, 255, "u8");
    this.ensure(1);
    this.view.setUint8(this.pos++, v);
    return this;
  }
  u16(v) {
    checkUint(v, 65535, "u16");
    this.ensure(2);
    this.view.setUint16(this.pos, v);
    this.pos += 2;
    return this;
  }
  u32(v) {
    checkUint(v, 4294967295, "u32");
    this.ensure(4);
    this.view.setUint32(this.pos, v);
    this.pos += 4;
    return this;
  }
  u64(v) {
    if (v < 0n || v > 0xffffffffffffffffn) throw new RangeError(`"u64" out of range: ${v}`);
    this.ensure(8);
    this.view.setBigUint64(this.pos, v);
    this.pos += 8;
    return this;
  }
  bytes(b) {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }
  zeros(n) {
    this.ensure(n);
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
    return this;
  }
  /** Overwrite a u16 written earlier (length fields). */
  patchU16(at, v) {
    checkUint(v, 65535, "u16");
    if (at + 2 > this.pos)
      throw new RangeError(`patchU16 at ${at} past written length ${this.pos}`);
    this.view.setUint16(at, v);
  }
  patchU32(at, v) {
    checkUint(v, 4294967295, "u32");
    if (at + 4 > this.pos)
      throw new RangeError(`patchU32 at ${at} past written length ${this.pos}`);
    this.view.setUint32(at, v);
  }
  patchU8(at, v) {
    checkUint(v, 255, "u8");
    if (at + 1 > this.pos) throw new RangeError(`patchU8 at ${at} past written length ${this.pos}`);
    this.view.setUint8(at, v);
  }
  /** A copy of everything written so far. */
  finish() {
    return this.buf.slice(0, this.pos);
  }
};
function checkUint(v, max, what) {
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new RangeError(`"${what}" expected integer 0..${max}, got ${v}`);
  }
}
function concatBytes(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}
function toHex(b) {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}
function fromHex(s) {
  const clean = s.replace(/\s+/g, "");
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) {
    throw new RangeError(
      `"hex" expected an even-length hex string, got ${JSON.stringify(s.slice(0, 40))}`
    );
  }
  return new Uint8Array(Buffer.from(clean, "hex"));
}
function u32be(v) {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v);
  return b;
}
function wipe(...arrays) {
  for (const a of arrays) a?.fill(0);
}

// src/ikev1/sa/body.ts
function tvAttr(type, value) {
  return { type, tv: true, value: new Uint8Array([value >> 8, value & 255]) };
}
function numAttr(type, value) {
  if (value <= 65535) return tvAttr(type, value);
  const v = new Uint8Array(4);
  new DataView(v.buffer).setUint32(0, value);
  return { type, tv: false, value: v };
}
function attrNumber(a) {
  if (a.value.length === 0 || a.value.length > 8) return void 0;
  let n = 0;
  for (const b of a.value) {
    n = n * 256 + b;
    if (n > 4294967295) return void 0;
  }
  return n;
}
function protocolError(msg, cause) {
  return new VpnError("ERR_IKE_PROTOCOL", msg, cause === void 0 ? void 0 : { cause });
}
function noProposal(msg) {
  return new VpnError("ERR_IKE_NO_PROPOSAL", msg);
}
function encodeSaBody(body) {
  const w = new Writer(64);
  w.u32(DOI_IPSEC).u32(SIT_IDENTITY_ONLY);
  body.proposals.forEach((p, pi) => {
    const pStart = w.pos;
    w.u8(pi === body.proposals.length - 1 ? NP_NONE : NP_PROPOSAL).u8(0).u16(0);
    w.u8(p.num).u8(p.protocol).u8(p.spi.length).u8(p.transforms.length).bytes(p.spi);
    p.transforms.forEach((t, ti) => {
      const tStart = w.pos;
      w.u8(ti === p.transforms.length - 1 ? NP_NONE : NP_TRANSFORM).u8(0).u16(0);
      w.u8(t.num).u8(t.id).u16(0);
      for (const a of t.attributes) {
        if (!Number.isInteger(a.type) || a.type < 0 || a.type > 32767)
          throw new VpnError("ERR_ARG", `attribute type ${a.type} out of range`);
        if (a.tv) {
          if (a.value.length !== 2) throw new VpnError("ERR_ARG", "TV attribute needs 2 octets");
          w.u16(32768 | a.type).bytes(a.value);
        } else {
          if (a.value.length > 65535)
            throw new VpnError("ERR_ARG", `attribute ${a.type} value longer than 65535 octets`);
          w.u16(a.type).u16(a.value.length).bytes(a.value);
        }
      }
      w.patchU16(tStart + 2, w.pos - tStart);
    });
    w.patchU16(pStart + 2, w.pos - pStart);
  });
  if (w.pos + 4 > 65535) throw new VpnError("ERR_ARG", "SA payload longer than 65535 octets");
  return w.finish();
}
function decodeSaBody(body) {
  try {
    return decodeSaBodyInner(body);
  } catch (e) {
    if (isVpnError(e) && e.code === "ERR_IKE_PROTOCOL") throw e;
    throw protocolError(
      `malformed IKEv1 SA payload: ${e instanceof Error ? e.message : String(e)}`,
      e
    );
  }
}
function readDataAttributes(r, where) {
  const attributes = [];
  while (r.remaining > 0) {
    if (attributes.length >= SA_LIMITS.maxAttributesPerTransform)
      throw protocolError(
        `${where} has more than ${SA_LIMITS.maxAttributesPerTransform} attributes`
      );
    const th = r.u16("attribute type");
    const type = th & 32767;
    if (th & 32768) {
      attributes.push({ type, tv: true, value: r.copy(2, "attribute value") });
    } else {
      const vlen = r.u16("attribute length");
      if (vlen > SA_LIMITS.maxAttributeValue)
        throw protocolError(`attribute ${type} has a ${vlen}-octet value`);
      attributes.push({ type, tv: false, value: r.copy(vlen, "attribute value") });
    }
  }
  return attributes;
}
function decodeSaBodyInner(body) {
  const r = new Reader(body);
  const doi = r.u32("SA DOI");
  if (doi !== DOI_IPSEC) throw protocolError(`SA payload has DOI ${doi}, expected 1 (IPsec)`);
  const sit = r.u32("SA situation");
  if (sit !== SIT_IDENTITY_ONLY)
    throw protocolError(`SA payload has situation ${sit}, expected SIT_IDENTITY_ONLY (1)`);
  const proposals = [];
  let next = r.remaining > 0 ? NP_PROPOSAL : NP_NONE;
  if (next === NP_NONE) throw protocolError("SA payload has no proposal");
  while (next !== NP_NONE) {
    if (next !== NP_PROPOSAL)
      throw protocolError(`proposal chain has next payload ${next}, expected 2 or 0`);
    if (proposals.length >= SA_LIMITS.maxProposals)
      throw protocolError(`SA payload has more than ${SA_LIMITS.maxProposals} proposals`);
    const hdr = r.offset;
    next = r.u8("proposal next payload");
    r.u8("proposal reserved");
    const len = r.u16("proposal length");
    if (len < 8) throw protocolError(`proposal at offset ${hdr} has length ${len} < 8`);
    const pr = r.sub(len - 4, "proposal body");
    const num = pr.u8("proposal number");
    const protocol = pr.u8("protocol id");
    const spiSize = pr.u8("SPI size");
    const count = pr.u8("number of transforms");
    if (spiSize > SA_LIMITS.maxSpiSize)
      throw protocolError(`proposal #${num} has an SPI of ${spiSize} octets`);
    const spi = pr.copy(spiSize, "SPI");
    const transforms = [];
    let tnext = NP_TRANSFORM;
    if (count === 0) throw protocolError(`proposal #${num} has no transform`);
    while (tnext !== NP_NONE) {
      if (tnext !== NP_TRANSFORM)
        throw protocolError(`transform chain has next payload ${tnext}, expected 3 or 0`);
      if (transforms.length >= count)
        throw protocolError(`proposal #${num} has more transforms than its count ${count}`);
      tnext = pr.u8("transform next payload");
      pr.u8("transform reserved");
      const tlen = pr.u16("transform length");
      if (tlen < 8) throw protocolError(`transform in proposal #${num} has length ${tlen} < 8`);
      const tr = pr.sub(tlen - 4, "transform body");
      const tnum = tr.u8("transform number");
      const tid = tr.u8("transform id");
      tr.u16("transform reserved2");
      const attributes = readDataAttributes(tr, `transform #${tnum}`);
      transforms.push({ num: tnum, id: tid, attributes });
    }
    if (transforms.length !== count)
      throw protocolError(
        `proposal #${num} says ${count} transforms but carries ${transforms.length}`
      );
    pr.expectEnd(`proposal #${num}`);
    proposals.push({ num, protocol, spi, transforms });
  }
  r.expectEnd("SA payload");
  return { proposals };
}

// src/ikev1/sa/choice.ts
function phase1Attributes(s, authMethod) {
  const a = [tvAttr(Phase1Attr.ENCRYPTION_ALGORITHM, s.encr)];
  if (s.keyBits !== void 0) a.push(tvAttr(Phase1Attr.KEY_LENGTH, s.keyBits));
  a.push(tvAttr(Phase1Attr.HASH_ALGORITHM, s.hash));
  a.push(tvAttr(Phase1Attr.GROUP_DESCRIPTION, s.group));
  a.push(tvAttr(Phase1Attr.AUTH_METHOD, authMethod));
  a.push(tvAttr(Phase1Attr.LIFE_TYPE, V1LifeType.SECONDS));
  a.push(numAttr(Phase1Attr.LIFE_DURATION, s.lifeSeconds));
  if (s.lifeKilobytes !== void 0) {
    a.push(tvAttr(Phase1Attr.LIFE_TYPE, V1LifeType.KILOBYTES));
    a.push(numAttr(Phase1Attr.LIFE_DURATION, s.lifeKilobytes));
  }
  return a;
}
function checkU16(v, what) {
  if (!Number.isInteger(v) || v < 0 || v > 65535)
    throw new VpnError("ERR_ARG", `${what} ${v} does not fit an attribute`);
}
function checkLives(s) {
  for (const v of [s.lifeSeconds, s.lifeKilobytes ?? 1])
    if (!Number.isInteger(v) || v < 1 || v > 4294967295)
      throw new VpnError("ERR_ARG", `lifetime ${v} out of range`);
}
function checkSpecs(specs, what) {
  if (specs.length === 0) throw new VpnError("ERR_ARG", `no ${what} transform to offer`);
  if (specs.length > SA_LIMITS.maxOfferedTransforms)
    throw new VpnError("ERR_ARG", `${specs.length} ${what} transforms: too many to offer`);
}
function encodePhase1Sa(specs, authMethod) {
  checkSpecs(specs, "Phase 1");
  checkU16(authMethod, "authentication method");
  for (const s of specs) {
    checkU16(s.encr, "cipher");
    checkU16(s.hash, "hash");
    checkU16(s.group, "group");
    if (s.keyBits !== void 0) checkU16(s.keyBits, "key length");
    checkLives(s);
  }
  return encodeSaBody({
    proposals: [
      {
        num: 1,
        protocol: V1Protocol.ISAKMP,
        spi: new Uint8Array(0),
        transforms: specs.map((s, i) => ({
          num: i + 1,
          id: KEY_IKE,
          attributes: phase1Attributes(s, authMethod)
        }))
      }
    ]
  });
}
function readAttributes(t, lifeType, lifeDuration, phase) {
  const values = /* @__PURE__ */ new Map();
  const lives = {};
  let pending;
  for (const a of t.attributes) {
    const v = attrNumber(a);
    if (v === void 0)
      throw noProposal(`${phase}: gateway sent attribute ${a.type} with an unusable value`);
    if (a.type === lifeType) {
      if (pending !== void 0)
        throw noProposal(`${phase}: gateway sent a life type without its duration`);
      if (v !== V1LifeType.SECONDS && v !== V1LifeType.KILOBYTES)
        throw noProposal(`${phase}: gateway sent unknown life type ${v}`);
      pending = v;
      continue;
    }
    if (a.type === lifeDuration) {
      if (pending === void 0)
        throw noProposal(`${phase}: gateway sent a life duration without a life type`);
      const key = pending === V1LifeType.SECONDS ? "seconds" : "kilobytes";
      if (lives[key] !== void 0) throw noProposal(`${phase}: gateway sent two ${key} lifetimes`);
      lives[key] = v;
      pending = void 0;
      continue;
    }
    if (values.has(a.type))
      throw noProposal(`${phase}: gateway sent attribute ${a.type} twice in its transform`);
    values.set(a.type, v);
  }
  if (pending !== void 0)
    throw noProposal(`${phase}: gateway sent a life type without its duration`);
  return { values, lives };
}
function chosenLife(spec, lives, phase) {
  const offered = spec.lifeSeconds;
  const out = { ...spec };
  if (lives.seconds !== void 0) {
    if (lives.seconds === 0) throw noProposal(`${phase}: gateway chose a lifetime of 0 s`);
    if (lives.seconds > offered)
      throw noProposal(
        `${phase}: gateway chose a lifetime of ${lives.seconds} s, longer than the ${offered} s we offered`
      );
    out.lifeSeconds = lives.seconds;
  }
  if (lives.kilobytes !== void 0) {
    if (lives.kilobytes === 0) throw noProposal(`${phase}: gateway chose a lifetime of 0 kB`);
    if (spec.lifeKilobytes !== void 0 && lives.kilobytes > spec.lifeKilobytes)
      throw noProposal(
        `${phase}: gateway chose a lifetime of ${lives.kilobytes} kB, longer than the ${spec.lifeKilobytes} kB we offered`
      );
    out.lifeKilobytes = lives.kilobytes;
  }
  return out;
}
function decodeChoice(body, protocol, phase) {
  const sa = decodeSaBody(body);
  if (sa.proposals.length !== 1)
    throw noProposal(`${phase}: gateway returned ${sa.proposals.length} proposals, expected 1`);
  const p = sa.proposals[0];
  if (p.protocol !== protocol)
    throw noProposal(`${phase}: gateway chose protocol ${p.protocol}, expected ${protocol}`);
  if (p.num !== 1) throw noProposal(`${phase}: gateway chose proposal #${p.num}, we offered #1`);
  if (p.transforms.length !== 1)
    throw noProposal(`${phase}: gateway returned ${p.transforms.length} transforms, expected 1`);
  return p;
}
function decodePhase1Choice(body, offered, authMethod) {
  const phase = "Phase 1";
  const p = decodeChoice(body, V1Protocol.ISAKMP, phase);
  const t = p.transforms[0];
  if (t.id !== KEY_IKE)
    throw noProposal(`${phase}: gateway chose transform ID ${t.id}, not KEY_IKE`);
  const { values, lives } = readAttributes(
    t,
    Phase1Attr.LIFE_TYPE,
    Phase1Attr.LIFE_DURATION,
    phase
  );
  for (const type of values.keys()) {
    if (type !== Phase1Attr.ENCRYPTION_ALGORITHM && type !== Phase1Attr.KEY_LENGTH && type !== Phase1Attr.HASH_ALGORITHM && type !== Phase1Attr.GROUP_DESCRIPTION && type !== Phase1Attr.AUTH_METHOD)
      throw noProposal(`${phase}: gateway added attribute ${type} that we did not offer`);
  }
  const encr = values.get(Phase1Attr.ENCRYPTION_ALGORITHM);
  const hash = values.get(Phase1Attr.HASH_ALGORITHM);
  const group = values.get(Phase1Attr.GROUP_DESCRIPTION);
  const auth = values.get(Phase1Attr.AUTH_METHOD);
  let keyBits = values.get(Phase1Attr.KEY_LENGTH);
  if (encr === void 0 || hash === void 0 || group === void 0 || auth === void 0)
    throw noProposal(`${phase}: gateway's transform lacks a cipher, hash, group or auth method`);
  if (auth !== authMethod)
    throw noProposal(
      `${phase}: gateway chose authentication method ${auth}, we offered ${authMethod}`
    );
  if (encr === V1Encr.AES_CBC && keyBits === void 0) keyBits = 128;
  if (encr === V1Encr["3DES_CBC"] && keyBits === 192) keyBits = void 0;
  const candidates = offered.filter(
    (s) => s.encr === encr && s.keyBits === keyBits && s.hash === hash && s.group === group
  );
  if (candidates.length === 0) {
    const chosen = { encr, hash, group, lifeSeconds: 0 };
    if (keyBits !== void 0) chosen.keyBits = keyBits;
    throw noProposal(`${phase}: gateway chose ${formatPhase1Spec(chosen)}, which we did not offer`);
  }
  const spec = candidates.find((s) => offered.indexOf(s) === t.num - 1) ?? candidates[0];
  return chosenLife(spec, lives, phase);
}
var TUNNEL_MODES = /* @__PURE__ */ new Set([
  V1EncapMode.TUNNEL,
  V1EncapMode.UDP_TUNNEL,
  V1EncapMode.UDP_TUNNEL_DRAFT
]);
function phase2Attributes(s, encapsulation) {
  const a = [tvAttr(Phase2Attr.KEY_LENGTH, s.keyBits)];
  if (s.pfsGroup !== void 0) a.push(tvAttr(Phase2Attr.GROUP_DESCRIPTION, s.pfsGroup));
  a.push(tvAttr(Phase2Attr.ENCAPSULATION_MODE, encapsulation));
  a.push(tvAttr(Phase2Attr.SA_LIFE_TYPE, V1LifeType.SECONDS));
  a.push(numAttr(Phase2Attr.SA_LIFE_DURATION, s.lifeSeconds));
  if (s.lifeKilobytes !== void 0) {
    a.push(tvAttr(Phase2Attr.SA_LIFE_TYPE, V1LifeType.KILOBYTES));
    a.push(numAttr(Phase2Attr.SA_LIFE_DURATION, s.lifeKilobytes));
  }
  return a;
}
function encodePhase2Sa(specs, spi, encapsulation) {
  checkSpecs(specs, "Phase 2");
  if (!TUNNEL_MODES.has(encapsulation))
    throw new VpnError("ERR_ARG", `encapsulation mode ${encapsulation} is not a tunnel mode`);
  if (!Number.isInteger(spi) || spi < 256 || spi > 4294967295)
    throw new VpnError("ERR_ARG", `ESP SPI ${spi} out of range`);
  const groups = new Set(specs.map((s) => s.pfsGroup));
  if (groups.size > 1)
    throw new VpnError(
      "ERR_ARG",
      "Quick Mode has one KE payload: all transforms need one PFS group"
    );
  for (const s of specs) {
    if (ESP_TO_ENCR[s.transformId] === void 0)
      throw new VpnError("ERR_ARG", `ESP transform ${s.transformId} is not AES-GCM`);
    checkU16(s.keyBits, "key length");
    if (s.pfsGroup !== void 0) checkU16(s.pfsGroup, "group");
    checkLives(s);
  }
  const spiBytes = new Uint8Array(4);
  new DataView(spiBytes.buffer).setUint32(0, spi);
  return encodeSaBody({
    proposals: [
      {
        num: 1,
        protocol: V1Protocol.IPSEC_ESP,
        spi: spiBytes,
        transforms: specs.map((s, i) => ({
          num: i + 1,
          id: s.transformId,
          attributes: phase2Attributes(s, encapsulation)
        }))
      }
    ]
  });
}
function decodePhase2Choice(body, offered, encapsulation) {
  const phase = "Quick Mode";
  const p = decodeChoice(body, V1Protocol.IPSEC_ESP, phase);
  if (p.spi.length !== 4)
    throw noProposal(`${phase}: gateway's ESP SPI has ${p.spi.length} octets, expected 4`);
  const spi = new DataView(p.spi.buffer, p.spi.byteOffset, 4).getUint32(0);
  if (spi < 256) throw noProposal(`${phase}: gateway chose the reserved ESP SPI ${spi}`);
  const t = p.transforms[0];
  const { values, lives } = readAttributes(
    t,
    Phase2Attr.SA_LIFE_TYPE,
    Phase2Attr.SA_LIFE_DURATION,
    phase
  );
  for (const type of values.keys()) {
    if (type === Phase2Attr.AUTH_ALGORITHM)
      throw noProposal(
        `${phase}: gateway chose authentication algorithm ${values.get(type)}; we offered AES-GCM only`
      );
    if (type !== Phase2Attr.KEY_LENGTH && type !== Phase2Attr.GROUP_DESCRIPTION && type !== Phase2Attr.ENCAPSULATION_MODE)
      throw noProposal(`${phase}: gateway added attribute ${type} that we did not offer`);
  }
  const keyBits = values.get(Phase2Attr.KEY_LENGTH);
  const group = values.get(Phase2Attr.GROUP_DESCRIPTION);
  const mode = values.get(Phase2Attr.ENCAPSULATION_MODE);
  if (mode !== encapsulation)
    throw noProposal(
      `${phase}: gateway chose encapsulation mode ${mode ?? "none"}, we asked for ${encapsulation}`
    );
  const candidates = offered.filter(
    (s) => s.transformId === t.id && s.keyBits === keyBits && s.pfsGroup === group
  );
  if (candidates.length === 0) {
    const what = ESP_TO_ENCR[t.id] !== void 0 && keyBits !== void 0 ? formatPhase2Spec({
      transformId: t.id,
      keyBits,
      encrId: 0,
      lifeSeconds: 0,
      ...group === void 0 ? {} : { pfsGroup: group }
    }) : `ESP transform ${t.id}${keyBits === void 0 ? "" : `/${keyBits}`}${group === void 0 ? "" : ` group ${group}`}`;
    throw noProposal(`${phase}: gateway chose ${what}, which we did not offer`);
  }
  const spec = candidates.find((s) => offered.indexOf(s) === t.num - 1) ?? candidates[0];
  return { spec: chosenLife(spec, lives, phase), spi };
}
function decodeResponderLifetime(data, phase, offeredSeconds) {
  const lifeType = phase === 1 ? Phase1Attr.LIFE_TYPE : Phase2Attr.SA_LIFE_TYPE;
  const lifeDuration = phase === 1 ? Phase1Attr.LIFE_DURATION : Phase2Attr.SA_LIFE_DURATION;
  const what = "RESPONDER-LIFETIME";
  let attrs;
  try {
    attrs = readDataAttributes(new Reader(data), what);
  } catch (e) {
    if (isVpnError(e) && e.code === "ERR_IKE_PROTOCOL") throw e;
    throw protocolError(`malformed ${what}: ${e instanceof Error ? e.message : String(e)}`, e);
  }
  let pending;
  let seconds;
  let kilobytes;
  for (const a of attrs) {
    const v = attrNumber(a);
    if (v === void 0) throw protocolError(`${what}: attribute ${a.type} has an unusable value`);
    if (a.type === lifeType) {
      if (pending !== void 0 || v !== V1LifeType.SECONDS && v !== V1LifeType.KILOBYTES)
        throw protocolError(`${what}: unexpected life type ${v}`);
      pending = v;
    } else if (a.type === lifeDuration) {
      if (pending === void 0) throw protocolError(`${what}: a duration without a life type`);
      if (v === 0) throw protocolError(`${what}: a lifetime of 0`);
      if (pending === V1LifeType.SECONDS) seconds = Math.min(seconds ?? v, v);
      else kilobytes = Math.min(kilobytes ?? v, v);
      pending = void 0;
    }
  }
  if (pending !== void 0) throw protocolError(`${what}: a life type without its duration`);
  const out = {
    lifeSeconds: Math.min(offeredSeconds, seconds ?? offeredSeconds)
  };
  if (kilobytes !== void 0) out.kilobytes = kilobytes;
  return out;
}

// src/config/profile.ts
var PROFILE_KEYS = {
  gateway: { kind: "string" },
  id: { kind: "string" },
  "remote-id": { kind: "string" },
  "psk-file": { kind: "path" },
  psk: { kind: "secret" },
  ca: { kind: "path" },
  cert: { kind: "path" },
  key: { kind: "path" },
  "key-passphrase-file": { kind: "path" },
  "key-passphrase": { kind: "secret" },
  p12: { kind: "path" },
  "p12-password-file": { kind: "path" },
  "p12-password": { kind: "secret" },
  "eap-identity": { kind: "string" },
  eap: { kind: "string" },
  "eap-password-file": { kind: "path" },
  "eap-password": { kind: "secret" },
  "eap-only": { kind: "bool" },
  "host-check": { kind: "bool" },
  "ppk-file": { kind: "path" },
  "ppk-id": { kind: "string" },
  "ppk-required": { kind: "bool" },
  // IKEv1 (issue 17)
  "ike-version": { kind: "choice", choices: ["1", "2", "auto"] },
  "group-psk-file": { kind: "path" },
  "xauth-user": { kind: "string" },
  "xauth-password-file": { kind: "path" },
  "xauth-password": { kind: "secret" },
  "ikev1-aggressive": { kind: "bool" },
  "ikev1-legacy": { kind: "bool" },
  pfs: { kind: "string" },
  redirect: { kind: "bool" },
  "ike-fragment-size": { kind: "int", min: 576, max: 65535 },
  port: { kind: "int", min: 1, max: 65535 },
  ike: { kind: "string" },
  esp: { kind: "string" },
  dns: { kind: "choice", choices: ["auto", "off"] },
  pq: { kind: "choice", choices: ["required", "preferred", "off"] },
  "remote-net": { kind: "list" },
  exclude: { kind: "list" },
  ipv6: { kind: "bool" },
  mtu: { kind: "int", min: 576, max: 9e3 },
  keepalive: { kind: "int", min: 0, max: 3600 },
  retry: { kind: "retry" },
  "ike-rekey": { kind: "int", min: 0, max: 30 * 86400 },
  rekey: { kind: "int", min: 0, max: 7 * 86400 },
  "rekey-bytes": { kind: "size" },
  "rekey-packets": { kind: "int", min: 1, max: 2 ** 32 - 1 },
  dpd: { kind: "int", min: 0, max: 3600 },
  timeout: { kind: "int", min: 1, max: 600 },
  name: { kind: "name" },
  "kill-switch": { kind: "bool" },
  socks5: { kind: "string" },
  "http-proxy": { kind: "string" },
  background: { kind: "bool" },
  json: { kind: "bool" },
  verbose: { kind: "bool" }
};
var SECRET_KEYS = {
  psk: "psk-file",
  "key-passphrase": "key-passphrase-file",
  "p12-password": "p12-password-file",
  "eap-password": "eap-password-file",
  "xauth-password": "xauth-password-file"
};
var PROFILE_NAME = /^[A-Za-z0-9_-]{1,32}$/;
var MAX_PROFILE_BYTES = 64 * 1024;
function err(path, line, message) {
  const cut = message.indexOf("; ");
  const [problem, fix] = cut < 0 ? [message, ""] : [message.slice(0, cut), message.slice(cut)];
  return new VpnError("ERR_CONFIG", `${problem} at ${path}${line ? `:${line}` : ""}${fix}`);
}
function distance(a, b) {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length];
}
function nearestKey(key) {
  const norm = key.toLowerCase().replace(/_/g, "-");
  let best = "";
  let bestD = Infinity;
  for (const k of Object.keys(PROFILE_KEYS)) {
    const dd = distance(norm, k);
    if (dd < bestD) [best, bestD] = [k, dd];
  }
  return best;
}
function q(s) {
  return JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}…` : s).slice(1, -1);
}
function typed(t, key, raw, at) {
  const bad = (want) => at(`${key} = '${q(raw)}' is invalid; write ${want}`);
  switch (t.kind) {
    case "string":
    case "path":
    case "secret":
      if (raw === "") throw at(`${key} is empty; give a value or delete the line`);
      if (t.kind === "string" && /[\u0000-\u001f\u007f]/.test(raw))
        throw bad("it without control characters");
      return raw;
    case "bool":
      if (/^(true|yes|on|1)$/i.test(raw)) return true;
      if (/^(false|no|off|0)$/i.test(raw)) return false;
      throw bad("true or false");
    case "int": {
      const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n) || n < t.min || n > t.max)
        throw bad(`an integer from ${t.min} to ${t.max}`);
      return n;
    }
    case "size": {
      const m = /^(\d+)([KMGT]?)B?$/i.exec(raw);
      const mult = m ? { "": 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }[m[2].toUpperCase()] : NaN;
      const n = m ? Number(m[1]) * mult : NaN;
      if (!Number.isSafeInteger(n) || n < 1) throw bad("a byte count such as 1000000, 500M or 4G");
      return n;
    }
    case "choice":
      if (!t.choices.includes(raw)) throw bad(`one of ${t.choices.join(", ")}`);
      return raw;
    case "retry": {
      if (raw === "forever") return "forever";
      const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
      if (!(n <= 1e3)) throw bad('a number from 0 to 1000 or "forever"');
      return n;
    }
    case "list": {
      const items = raw.split(",").map((s) => s.trim());
      if (items.some((s) => s === "")) throw bad("a comma-separated list without empty items");
      return items;
    }
    case "name":
      if (!/^[A-Za-z0-9_.-]{1,32}$/.test(raw))
        throw bad("a tunnel name: up to 32 letters, digits, _ . -");
      return raw;
  }
}
var EAP_METHOD_NAMES = ["mschapv2", "md5", "gtc", "tls"];
var CHECKS = {
  gateway: (v) => /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.:-]{1,253})$/.test(v) ? void 0 : "write a host name or an IP address",
  // IKEv2 syntax, or IKEv1's (issue 17: `ike-version = 1`; 3DES and MODP-1024 need ikev1-legacy,
  // which vpn connect checks).
  ike: (v) => reason(
    () => either(
      () => parseProposals(v, "ike"),
      () => parseV1Phase1Proposals(v, { legacy: true })
    ),
    "IKE proposals, e.g. aes256gcm16-prfsha256-x25519"
  ),
  esp: (v) => reason(() => parseProposals(v, "esp"), "ESP proposals, e.g. aes256gcm16"),
  id: (v) => reason(() => parseIdentity(v), "an identity: user@example.com, @host, an IP or a DN"),
  "remote-id": (v) => reason(() => parseIdentity(v), "an identity such as @gw.example.com"),
  "remote-net": (v) => reason(() => v.forEach((c) => tsFromCidr(c)), "networks such as 10.0.0.0/8"),
  exclude: (v) => reason(() => checkExcluded(v), "networks such as 192.0.2.0/24 or 203.0.113.7/32"),
  pfs: (v) => reason(() => pfsGroupOf(v), "a Diffie-Hellman group such as ecp256 or modp2048"),
  eap: (v) => v.split(",").every((m) => EAP_METHOD_NAMES.includes(m.trim().toLowerCase().replace(/^eap-/, ""))) ? void 0 : `write EAP methods from ${EAP_METHOD_NAMES.join(", ")}`
};
function pfsGroupOf(name) {
  const group = parseV1Phase2Proposals(`aes256gcm16-${name}`, {})[0]?.pfsGroup;
  if (group === void 0) throw new VpnError("ERR_CONFIG", `${name} is not a group`);
  return group;
}
function either(a, b) {
  try {
    a();
  } catch (e) {
    try {
      b();
    } catch {
      throw e;
    }
  }
}
function reason(check, want) {
  try {
    check();
    return void 0;
  } catch (e) {
    return `${e.message}: write ${want}`;
  }
}
function parseProfile(name, path, text) {
  const values = {};
  const lines = {};
  const dir = dirname(path);
  const src = text.split("\n");
  let sectionSeen = false;
  for (let i = 0; i < src.length; i++) {
    const n = i + 1;
    const at = (m) => err(path, n, m);
    const line = src[i].replace(/\r$/, "").trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    if (line.startsWith("[")) {
      if (line !== "[connect]" || sectionSeen)
        throw at(`unexpected section '${q(line)}'; the only section is [connect] (or none)`);
      sectionSeen = true;
      continue;
    }
    const eq = line.indexOf("=");
    if (eq < 0)
      throw at(
        `expected 'key = value', got '${q(line)}'; write key = value, or start a comment with #`
      );
    const key = line.slice(0, eq).trim();
    let raw = line.slice(eq + 1).trim();
    if (raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"')) {
      try {
        raw = JSON.parse(raw);
      } catch {
        throw at(`bad quoted value for ${q(key)}; use JSON string escapes`);
      }
    }
    const t = PROFILE_KEYS[key];
    if (t === void 0)
      throw new VpnError(
        "ERR_CONFIG",
        `unknown key '${q(key)}' at ${path}:${n}; did you mean '${nearestKey(key)}'?`
      );
    const v = typed(t, key, raw, at);
    const fix = CHECKS[key]?.(v);
    if (fix !== void 0)
      throw at(`${key} = '${q(raw)}' is invalid; ${printable(fix.slice(0, 200))}`);
    if (t.kind === "list") {
      values[key] = [...values[key] ?? [], ...v];
      lines[key] ??= n;
      continue;
    }
    if (key in values)
      throw at(`${key} is set twice (first at line ${lines[key]}); delete one of the lines`);
    values[key] = t.kind === "path" && !isAbsolute(v) ? resolve(dir, v) : v;
    lines[key] = n;
  }
  if ("psk" in values && "group-psk-file" in values)
    throw err(
      path,
      lines["psk"],
      `both psk and group-psk-file are set (group-psk-file at line ${lines["group-psk-file"]}); keep one`
    );
  if ("psk-file" in values && "group-psk-file" in values)
    throw err(
      path,
      lines["group-psk-file"],
      `group-psk-file is another name for psk-file (line ${lines["psk-file"]}); keep one`
    );
  for (const [secret, file] of Object.entries(SECRET_KEYS)) {
    if (secret in values && file in values)
      throw err(
        path,
        lines[secret],
        `both ${secret} and ${file} are set (${file} at line ${lines[file]}); keep one`
      );
  }
  return { name, path, values, lines };
}
var PRIVATE_FILE_KEYS = [
  "psk-file",
  "group-psk-file",
  "xauth-password-file",
  "key",
  "key-passphrase-file",
  "p12",
  "p12-password-file",
  "eap-password-file"
];
function privateMode(f) {
  const mode = f.mode & 511;
  return (mode & 63) === 0 || f.uid === 0 && f.gid === 0 && (mode & 7) === 0;
}
function checkSecretFileMode(p, f) {
  const secret = Object.keys(SECRET_KEYS).find((k) => k in p.values);
  if (secret === void 0) return;
  const m = (f.mode & 511).toString(8).padStart(4, "0");
  if (!privateMode(f))
    throw err(
      p.path,
      p.lines[secret],
      `${secret} in a file others can read (mode ${m}); run: chmod 600 ${p.path}, or name a file holding it with ${SECRET_KEYS[secret]} = PATH`
    );
}
function checkWriters(path, f, uid) {
  const mode = f.mode & 511;
  if ((mode & 18) !== 0)
    throw err(
      path,
      void 0,
      `profile writable by others (mode ${mode.toString(8).padStart(4, "0")}); run: chmod go-w ${path}`
    );
  if (f.uid !== uid && f.uid !== 0)
    throw err(
      path,
      void 0,
      `profile owned by uid ${f.uid}, not by us (uid ${uid}) or root; run: chown ${uid} ${path}`
    );
}
function loadProfile(name, path, io) {
  const f = io.read(path);
  checkWriters(path, f, io.uid);
  const p = parseProfile(name, path, f.text);
  checkSecretFileMode(p, f);
  for (const [key, t] of Object.entries(PROFILE_KEYS)) {
    if (t.kind !== "path" || !(key in p.values)) continue;
    const file = p.values[key];
    if (!io.exists(file))
      throw err(
        path,
        p.lines[key],
        `${key} names ${q(file)}, which does not exist; create it or fix the path`
      );
    const st = PRIVATE_FILE_KEYS.includes(key) ? io.stat?.(file) : void 0;
    if (st && !privateMode(st)) {
      const m = (st.mode & 511).toString(8).padStart(4, "0");
      throw err(
        path,
        p.lines[key],
        `${key} names ${q(file)}, which others can read (mode ${m}); run: chmod 600 ${q(file)}`
      );
    }
  }
  return p;
}
function profileDirs(env, uid, home) {
  const override = env["VPN_PROFILE_DIR"];
  if (override) return [override];
  if (uid === 0) return ["/etc/ikev2-vpn"];
  const xdg = env["XDG_CONFIG_HOME"] || join(home, ".config");
  return [join(xdg, "ikev2-vpn"), "/etc/ikev2-vpn"];
}
var fsIo = {
  uid: process.getuid?.() ?? -1,
  read(path) {
    let fd;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (e) {
      throw new VpnError("ERR_CONFIG", `cannot read profile ${path}: ${e.message}`);
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new VpnError("ERR_CONFIG", `profile ${path} is not a regular file`);
      if (st.size > MAX_PROFILE_BYTES)
        throw new VpnError("ERR_CONFIG", `profile ${path} is larger than 64 KiB`);
      return { text: readFileSync(fd, "utf8"), mode: st.mode, uid: st.uid, gid: st.gid };
    } finally {
      closeSync(fd);
    }
  },
  exists(path) {
    try {
      statSync(path);
      return true;
    } catch {
      return false;
    }
  },
  stat(path) {
    try {
      const st = statSync(path);
      return st.isFile() ? { mode: st.mode, uid: st.uid, gid: st.gid } : void 0;
    } catch {
      return void 0;
    }
  },
  list(dir) {
    try {
      return readdirSync(dir).filter((f) => f.endsWith(".conf") && PROFILE_NAME.test(f.slice(0, -5))).map((f) => f.slice(0, -5)).sort();
    } catch {
      return [];
    }
  },
  dirs() {
    return profileDirs(process.env, process.getuid?.() ?? -1, homedir());
  }
};
function findProfile(name, dirs, exists) {
  if (!PROFILE_NAME.test(name)) return void 0;
  for (const d of dirs) {
    const p = join(d, `${name}.conf`);
    if (exists(p)) return p;
  }
  return void 0;
}

// src/config/import.ts
var MAX_IMPORT_BYTES = 1024 * 1024;
var MAX_CERT_BYTES = 64 * 1024;
var MAX_P12_BYTES = 256 * 1024;
function isObject(v) {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}
var Doc = class {
  used = /* @__PURE__ */ new Set();
  root;
  /** Prefix of every path in messages, e.g. `PayloadContent[1].` */
  prefix;
  unmapped;
  constructor(root, prefix, unmapped) {
    this.root = root;
    this.prefix = prefix;
    this.unmapped = unmapped;
  }
  has(path) {
    return this.lookup(path) !== void 0;
  }
  /** The raw value, not marked as consumed. */
  lookup(path) {
    let v = this.root;
    for (const seg of path.split(".")) {
      if (!isObject(v) || !Object.prototype.hasOwnProperty.call(v, seg)) return void 0;
      v = v[seg];
    }
    return v;
  }
  /** The raw value, marked as consumed. */
  get(path) {
    this.used.add(path);
    return this.lookup(path);
  }
  /** Lists `path` as not mapped (when present), with the reason. */
  skip(path, reason2) {
    if (!this.has(path)) return;
    this.used.add(path);
    this.unmapped.push({ path: this.prefix + path, reason: reason2 });
  }
  wrongType(path, want, v) {
    const got = v instanceof Uint8Array ? "data" : Array.isArray(v) ? "array" : typeof v;
    this.unmapped.push({ path: this.prefix + path, reason: `expected ${want}, found ${got}` });
    return void 0;
  }
  str(path) {
    const v = this.get(path);
    if (v === void 0) return void 0;
    if (typeof v === "string") return v;
    return this.wrongType(path, "a string", v);
  }
  /** An integer (a numeric string too: some generators quote everything). */
  int(path) {
    const v = this.get(path);
    if (v === void 0) return void 0;
    if (typeof v === "number" && Number.isSafeInteger(v)) return v;
    if (typeof v === "string" && /^\d{1,9}$/.test(v)) return Number(v);
    return this.wrongType(path, "an integer", v);
  }
  /** A boolean; plists and JSON generators also write 0/1. */
  bool(path) {
    const v = this.get(path);
    if (v === void 0) return void 0;
    if (typeof v === "boolean") return v;
    if (v === 0 || v === 1) return v === 1;
    return this.wrongType(path, "true or false", v);
  }
  /** Every leaf not consumed (nor under a consumed key), listed with `reason`. */
  rest(reason2) {
    const walk = (v, path) => {
      if (path !== "" && this.used.has(path)) return;
      if (isObject(v)) {
        for (const k of Object.keys(v)) walk(v[k], path === "" ? k : `${path}.${k}`);
        return;
      }
      this.unmapped.push({ path: this.prefix + path, reason: reason2(path) });
    };
    walk(this.root, "");
  }
};
var Settings = class {
  list = [];
  unmapped;
  constructor(unmapped) {
    this.unmapped = unmapped;
  }
  put(key, value, from) {
    const v = Array.isArray(value) ? value : String(value);
    try {
      parseProfile("import", "import", `${key} = ${renderValue(v)}
`);
    } catch (e) {
      const reason2 = e.message.replace(/ at import:1/, "");
      this.unmapped.push({ path: from, reason: reason2 });
      return false;
    }
    const i = this.list.findIndex((s) => s.key === key);
    if (i >= 0) this.list[i] = { key, value: v };
    else this.list.push({ key, value: v });
    return true;
  }
  get(key) {
    return this.list.find((s) => s.key === key)?.value;
  }
};
function renderValue(v) {
  if (Array.isArray(v)) return v.join(", ");
  if (/^[!$-~]([ -~]*[!-~])?$/.test(v)) return v;
  return JSON.stringify(v).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`
  );
}
function decodeBase64(s, max) {
  const clean = s.replace(/[\r\n\t ]/g, "");
  if (clean.length === 0 || clean.length > Math.ceil(max / 3) * 4 + 4) return void 0;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(clean)) return void 0;
  return new Uint8Array(Buffer.from(clean, "base64"));
}
function certificatesToPem(data, what) {
  if (data.length > MAX_CERT_BYTES) throw new VpnError("ERR_CONFIG", `${what}: larger than 64 KiB`);
  const text = Buffer.from(data).toString("latin1");
  const blocks = text.includes("-----BEGIN CERTIFICATE-----") ? text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [] : [data];
  const certs = [];
  for (const b of blocks) {
    try {
      certs.push(new X509Certificate(typeof b === "string" ? b : Buffer.from(b)));
    } catch {
      throw new VpnError("ERR_CONFIG", `${what} is not a certificate (PEM or DER)`);
    }
  }
  if (certs.length === 0) throw new VpnError("ERR_CONFIG", `${what} holds no certificate`);
  return {
    pem: certs.map((c) => c.toString()).join(""),
    ca: certs.every((c) => c.ca),
    subjects: certs.map((c) => c.subject.replace(/\n/g, ", "))
  };
}
function checkP12(data, what) {
  if (data === void 0) throw new VpnError("ERR_CONFIG", `${what} is not valid base64`);
  if (data.length > MAX_P12_BYTES) throw new VpnError("ERR_CONFIG", `${what}: larger than 256 KiB`);
  if (data.length < 32 || data[0] !== 48)
    throw new VpnError("ERR_CONFIG", `${what} is not a PKCS#12 file (DER)`);
  return data;
}
var PASSWORD_EAP = "mschapv2,md5,gtc";
function fromSswan(text) {
  let json;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new VpnError(
      "ERR_CONFIG",
      `not a .sswan profile: invalid JSON (${e.message})`
    );
  }
  if (!isObject(json)) throw new VpnError("ERR_CONFIG", "not a .sswan profile: not a JSON object");
  const unmapped = [];
  const doc = new Doc(json, "", unmapped);
  const s = new Settings(unmapped);
  const files = [];
  const notes = [];
  const type = doc.str("type");
  const types = ["ikev2-eap", "ikev2-cert", "ikev2-cert-eap", "ikev2-eap-tls", "ikev2-byod-eap"];
  if (type === void 0 || !types.includes(type))
    throw new VpnError(
      "ERR_CONFIG",
      `.sswan type ${type === void 0 ? "is missing" : `'${printable(type.slice(0, 40))}' is not supported`}; it must be one of ${types.join(", ")}`
    );
  const title = doc.str("name");
  doc.get("uuid");
  const addr = doc.str("remote.addr");
  if (addr === void 0 || !s.put("gateway", addr, "remote.addr"))
    throw new VpnError("ERR_CONFIG", `.sswan remote.addr (the gateway) is missing or invalid`);
  const port = doc.int("remote.port");
  if (port !== void 0) s.put("port", port, "remote.port");
  const rid = doc.str("remote.id");
  if (rid !== void 0) s.put("remote-id", rid, "remote.id");
  const cert = doc.str("remote.cert");
  if (cert !== void 0) {
    const c = certificatesToPem(
      decodeBase64(cert, MAX_CERT_BYTES * 2) ?? new Uint8Array(),
      ".sswan remote.cert"
    );
    files.push({ key: "ca", suffix: "-ca.pem", data: new TextEncoder().encode(c.pem) });
    if (!c.ca)
      notes.push(
        `remote.cert (${c.subjects.join("; ")}) is not a CA certificate: it is trusted as the gateway's own certificate (pinned), so a renewed gateway certificate needs a new import`
      );
  } else notes.push("no remote.cert: the gateway certificate is checked against the system CAs");
  if (doc.bool("remote.certreq") === false)
    doc.skip("remote.certreq", "vpn always sends certificate requests for its CAs");
  for (const k of ["crl", "ocsp", "strict"])
    if (doc.bool(`remote.revocation.${k}`) === true)
      unmapped.push({
        path: `remote.revocation.${k}`,
        reason: "revocation checking (CRL/OCSP) is not implemented"
      });
  const id = doc.str("local.id");
  const eapId = doc.str("local.eap_id");
  const p12 = doc.str("local.p12");
  const addP12 = () => {
    if (p12 === void 0) {
      notes.push(
        "no local.p12: add your certificate with p12 = FILE (or cert = FILE and key = FILE)"
      );
      return;
    }
    files.push({
      key: "p12",
      suffix: ".p12",
      data: checkP12(decodeBase64(p12, MAX_P12_BYTES), ".sswan local.p12")
    });
    notes.push(
      "the PKCS#12 password is not in a .sswan file: set VPN_P12_PASSWORD, add p12-password-file = FILE, or answer the prompt"
    );
  };
  const addEapUser = () => {
    const user = eapId ?? id;
    if (user !== void 0)
      s.put("eap-identity", user, eapId !== void 0 ? "local.eap_id" : "local.id");
    else notes.push("no local.eap_id: add eap-identity = YOUR-USER-NAME");
  };
  switch (type) {
    case "ikev2-eap":
    case "ikev2-byod-eap":
      s.put("eap", PASSWORD_EAP, "type");
      addEapUser();
      if (type === "ikev2-byod-eap")
        unmapped.push({
          path: "type",
          reason: "ikev2-byod-eap: the BYOD health checks (TNC/IMC) are not supported; imported as ikev2-eap"
        });
      notes.push(
        "the EAP password is not in a .sswan file: set VPN_EAP_PASSWORD, add eap-password-file = FILE, or answer the prompt"
      );
      break;
    case "ikev2-cert":
      addP12();
      break;
    case "ikev2-eap-tls":
      s.put("eap", "tls", "type");
      addEapUser();
      addP12();
      break;
    case "ikev2-cert-eap":
      s.put("eap", PASSWORD_EAP, "type");
      addEapUser();
      doc.skip(
        "local.p12",
        "ikev2-cert-eap needs a certificate round before EAP (RFC 4739 multiple authentication), which vpn does not implement: imported as EAP only"
      );
      notes.push(
        "the EAP password is not in a .sswan file: set VPN_EAP_PASSWORD, add eap-password-file = FILE, or answer the prompt"
      );
      break;
  }
  if (id !== void 0 && !(eapId === void 0 && s.get("eap-identity") === id))
    s.put("id", id, "local.id");
  if (doc.bool("local.rsa-pss") === true)
    doc.skip("local.rsa-pss", "the signature scheme is negotiated (RFC 7427), not configured");
  const ike = doc.str("ike-proposal");
  if (ike !== void 0) s.put("ike", ike, "ike-proposal");
  const esp = doc.str("esp-proposal");
  if (esp !== void 0) s.put("esp", esp, "esp-proposal");
  const subnets = doc.str("split-tunneling.subnets");
  if (subnets !== void 0) {
    const nets = subnets.split(/[\s,]+/).filter((n) => n !== "");
    const ok = nets.filter((n) => {
      try {
        parseProfile("import", "import", `remote-net = ${n}
`);
        return true;
      } catch (e) {
        unmapped.push({
          path: "split-tunneling.subnets",
          reason: e.message.replace(/ at import:1/, "")
        });
        return false;
      }
    });
    if (ok.length > 0) s.put("remote-net", ok, "split-tunneling.subnets");
  }
  doc.skip("split-tunneling.excluded", "excluding networks from the tunnel is not supported");
  for (const k of ["block-ipv4", "block-ipv6"]) {
    const b = doc.bool(`split-tunneling.${k}`);
    if (b === true)
      unmapped.push({
        path: `split-tunneling.${k}`,
        reason: "blocking one address family is not supported (see kill-switch)"
      });
  }
  doc.skip("dns-servers", "vpn uses the DNS servers the gateway assigns (dns = auto)");
  const mtu = doc.int("mtu");
  if (mtu !== void 0) s.put("mtu", mtu, "mtu");
  const ka = doc.int("nat-keepalive");
  if (ka !== void 0) s.put("keepalive", ka, "nat-keepalive");
  doc.skip("proxy", "HTTP proxy settings are not applied");
  for (const k of ["apps", "excluded-apps", "selected-apps", "selected-apps-list"])
    doc.skip(k, "per-app VPN is an Android feature");
  doc.rest(() => "not a .sswan key vpn knows");
  return {
    format: "sswan",
    ...title !== void 0 ? { title } : {},
    settings: s.list,
    files,
    unmapped,
    notes
  };
}
function profileNameFrom(s) {
  const n = s.replace(/\.[A-Za-z]+$/, "").replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 32);
  return n === "" ? "imported" : n;
}
function renderProfile(imp, source, fileNames, signature) {
  const c = (s) => `# ${printable(s)}`;
  const lines = [
    c(`Imported by vpn import from ${source}`),
    c(
      `(${imp.format === "sswan" ? "strongSwan .sswan profile" : "Apple .mobileconfig"}${imp.title !== void 0 ? ` "${imp.title.slice(0, 80)}"` : ""}; ${signature})`
    ),
    "[connect]"
  ];
  for (const { key, value } of imp.settings) lines.push(`${key} = ${renderValue(value)}`);
  for (const [key, file] of Object.entries(fileNames)) lines.push(`${key} = ${renderValue(file)}`);
  if (imp.unmapped.length > 0) {
    lines.push(c("Not imported:"));
    for (const u of imp.unmapped) lines.push(c(`  ${u.path}: ${u.reason}`));
  }
  return lines.join("\n") + "\n";
}

export {
  VpnError,
  ParseError,
  CryptoError,
  isVpnError,
  parseIpAddress,
  formatIpAddress,
  addrInRange,
  peekPacket,
  checkExcluded,
  ExchangeType,
  PayloadType,
  HeaderFlag,
  ProtocolId,
  DhGroup,
  IdType,
  AuthMethod,
  CertEncoding,
  NotifyType,
  CfgType,
  CfgAttr,
  TsType,
  HashAlgorithm,
  nameOf,
  Tag,
  readDer,
  parseDer,
  children,
  expectTag,
  decodeOid,
  tlv,
  seq,
  oid,
  DER_NULL,
  decodeUnsigned,
  formatDn,
  parseIdentity,
  formatIdentity,
  sameIdentity,
  Reader,
  Writer,
  concatBytes,
  equalBytes,
  toHex,
  fromHex,
  u32be,
  wipe,
  describeKeyExchanges,
  isPostQuantum,
  keyExchangesOfText,
  applyPqMode,
  DEFAULT_IKE_PROPOSALS,
  DEFAULT_ESP_PROPOSALS,
  parseProposals,
  buildProposals,
  selectResponderProposal,
  formatChosen,
  formatSpecs,
  chooseFromOffer,
  tsFromCidr,
  anyTs,
  checkNarrowed,
  narrowTo,
  formatTs,
  printable,
  printableJson,
  V1EncapMode,
  defaultV1Phase1Proposals,
  DEFAULT_V1_PHASE2_PROPOSALS,
  isLegacyPhase1,
  parseV1Phase1Proposals,
  parseV1Phase2Proposals,
  formatPhase1Spec,
  formatPhase2Spec,
  encodeSaBody,
  decodeSaBody,
  encodePhase1Sa,
  decodePhase1Choice,
  encodePhase2Sa,
  decodePhase2Choice,
  decodeResponderLifetime,
  SECRET_KEYS,
  PROFILE_NAME,
  loadProfile,
  fsIo,
  findProfile,
  MAX_IMPORT_BYTES,
  Doc,
  Settings,
  decodeBase64,
  certificatesToPem,
  checkP12,
  fromSswan,
  profileNameFrom,
  renderProfile
};
