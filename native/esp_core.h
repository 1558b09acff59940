/*
 * ikev2-vpn: what native/esp.c (the ESP SAs: seal/open, batches) gives native/dataplane*.c (the
 * threaded data plane built into the same addon) and native/addon.c: the SA structure, the
 * per-packet seal and open, the drop codes (native/esp_drops.h) and esp_register. It declares
 * nothing of the data plane: the dependency goes one way.
 *
 * Everything declared here is hidden (not exported from esp.node): the node binary exports many
 * symbols of its own, and a symbol of ours must never be interposed by one of them.
 */
#ifndef IKEV2_ESP_CORE_H
#define IKEV2_ESP_CORE_H

#include <node_api.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <stddef.h>
#include <stdint.h>

#include "esp_drops.h"
#include "napi_util.h"

#if !defined(OPENSSL_VERSION_MAJOR) || OPENSSL_VERSION_MAJOR < 3
#error "native/esp.c needs the OpenSSL 3 headers that ship with Node.js >= 18"
#endif

#define ESP_INTERNAL __attribute__((visibility("hidden")))

/* Bumped when the addon's JS interface changes (src/esp/native.ts checks it). */
#define API_VERSION 3

#define ESP_HDR 8  /* SPI ‖ sequence number (RFC 4303 §2) */
#define ESP_IV 8   /* explicit IV (RFC 4106 §3.1, RFC 7634 §2) */
#define SALT_LEN 4 /* RFC 4106 §8.1, RFC 7634 §2 */
#define NONCE_LEN (SALT_LEN + ESP_IV)
#define SEQ_MAX 0xffffffffu
/* Sequence numbers after which the IKE layer should rekey (SEQ_SOFT_LIMIT of src/esp/sa.ts). */
#define SEQ_SOFT_LIMIT 0xf0000000u
/* The largest payload we accept: far above any IP packet, far below INT_MAX (EVP lengths). */
#define MAX_PAYLOAD 0x3fffffff
/* Offsets and lengths travel in an Int32Array. */
#define MAX_BATCH_BYTES 0x7fffffff

#define STATE_LEN 5

#define NH_IPV4 4
#define NH_IPV6 41
#define NH_NONE 59 /* RFC 4303 §2.6: dummy packet */

/* Drop codes 1-10 (native/esp_drops.h, the one list): DROP_MALFORMED ... DROP_TOO_BIG. */
enum { ESP_DROP_REASONS(ESP_DROP_ENUM_) };

#define SA_MAGIC 0x45535053u /* "ESPS" */

typedef struct {
  const uint8_t *data;
  size_t len;
} span_t;

typedef struct {
  uint32_t magic;
  int inbound;
  int wiped;
  EVP_CIPHER_CTX *ctx; /* keyed once at create; per packet only the nonce changes */
  size_t icv_len;
  uint32_t spi;
  uint8_t nonce[NONCE_LEN]; /* salt ‖ IV; the IV half is rewritten per packet */
  uint64_t packets;
  uint64_t bytes;
  /* outbound: last sequence number used (0 before the first packet) */
  uint32_t seq;
  /* inbound: RFC 6479 window, as src/esp/replay.ts */
  uint32_t top;
  uint32_t window_bits;
  uint32_t nwords;
  uint32_t *words;
  /* per-batch scratch (elements, input spans, next headers), grown only for a larger batch */
  napi_value *vals;
  span_t *spans;
  uint8_t *nhs;
  uint32_t scratch_cap;
  /*
   * Set while a batch reads its arrays: napi_get_element may run JS (an accessor), which must
   * not re-enter or wipe this SA; pointers into the elements are taken only afterwards, when no
   * JS can run until the call returns, so none can be detached or freed under us.
   */
  int busy;
  /*
   * Non-zero while a data plane holds the SA (native/dataplane.c): a data-plane thread may be
   * using it at any moment, so every JS entry point (seal, open, batches, the window, wipe)
   * refuses it. Changed on the JS thread only (install and removal), read there too.
   */
  int installed;
} sa_t;

/* ---- handles (native/esp.c) ---- */
/*
 * The SA behind a handle made by `create`, whatever its state (wiped, busy, installed), or NULL
 * when `v` is not one. Throws nothing.
 */
ESP_INTERNAL sa_t *esp_sa_of(napi_env env, napi_value v);
/*
 * An SA handle of the wanted direction that JS may use or install: throws (and returns NULL) if
 * it is not one, is wiped, is inside a batch call, or is already installed in a data plane.
 */
ESP_INTERNAL sa_t *esp_get_sa(napi_env env, napi_value v, int inbound);

/* ---- the crypto (native/esp.c) ---- */

/* RFC 4303 §2.4: padding that makes pad length ‖ next header end on a 4-byte boundary. */
static inline size_t esp_pad_len(size_t len) { return (4 - ((len + 2) & 3)) & 3; }

/* Bytes of the ESP packet for a payload of `len` bytes. */
static inline size_t esp_sealed_len(const sa_t *sa, size_t len) {
  return ESP_HDR + ESP_IV + len + esp_pad_len(len) + 2 + sa->icv_len;
}

static inline void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static inline uint32_t get_be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/*
 * Seals one payload with sequence number sa->seq + 1 into `out` (esp_sealed_len bytes; `out`
 * may overlap the payload, e.g. the payload read to out + 16 and sealed in place). The caller
 * checks sa->seq < SEQ_MAX first. Returns 1, or 0 if OpenSSL failed.
 */
ESP_INTERNAL int esp_seal_one(sa_t *sa, const uint8_t *payload, size_t len, uint8_t nh,
                              uint8_t *out);
/*
 * Opens one ESP packet of `len` bytes (RFC 4303 §3.4, replay window included) into `out`, which
 * has room for len - 16 - ICV bytes and may be p + 16 (in place). Returns 0 with *payload_len and
 * *nh set, or a drop code; a dropped packet leaves `out` zeroed past the ICV check.
 */
ESP_INTERNAL int esp_open_one(sa_t *sa, const uint8_t *p, size_t len, uint8_t *out,
                              size_t *payload_len, uint8_t *nh);

/* ---- the addon entry (native/addon.c) ---- */

/* Adds the ESP exports (create, seal, open, the batches, the window, wipe) to the exports. */
ESP_INTERNAL int esp_register(napi_env env, napi_value exports);

#endif
