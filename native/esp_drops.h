/*
 * ikev2-vpn: THE list of ESP drop reasons. Everything else derives from it: the DROP_* codes of
 * native/esp_core.h and native/dp_internal.h, the data plane's stats names (dpStatsFields), and —
 * checked by test/esp/native.test.ts, which parses this file — ESP_DROP_REASONS of src/esp/sa.ts
 * (the JavaScript path and the native batch calls) and DATA_PLANE_DROP_REASONS of
 * src/fastpath/dataplane.ts. Codes are consecutive from 1 in this order; change it only together
 * with those two arrays (the test says where they differ).
 *
 * X(NAME, code, "name as JavaScript counts it")
 */
#ifndef IKEV2_ESP_DROPS_H
#define IKEV2_ESP_DROPS_H

/* RFC 4303 §3.4 (in the order InboundSa.open checks them), then the outbound ones. */
#define ESP_DROP_REASONS(X)                \
  X(MALFORMED, 1, "malformed")             \
  X(NO_SA, 2, "no-sa")                     \
  X(REPLAY, 3, "replay")                   \
  X(AUTH, 4, "auth")                       \
  X(BAD_PADDING, 5, "bad-padding")         \
  X(BAD_NEXT_HEADER, 6, "bad-next-header") \
  X(DUMMY, 7, "dummy")                     \
  X(SEQ_EXHAUSTED, 8, "seq-exhausted")     \
  X(NO_POLICY, 9, "no-policy")             \
  X(TOO_BIG, 10, "too-big")

/* The threaded data plane's own, after those. */
#define DP_DROP_REASONS(X)  \
  X(NO_TUN, 11, "no-tun")   \
  X(NO_PEER, 12, "no-peer") \
  X(CRYPTO, 13, "crypto-error")

#define ESP_DROP_ENUM_(name, code, js) DROP_##name = code,
#define ESP_DROP_ONE_(name, code, js) +1
#define ESP_DROP_STRING_(name, code, js) js,

#endif
