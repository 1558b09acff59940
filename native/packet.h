/*
 * ikev2-vpn: the data plane's packet logic with no N-API and no OpenSSL, so that a plain C test
 * (native/test/packet_test.c) links it: IP header parsing (as peekPacket of src/core/ip.ts),
 * traffic-selector policies (RFC 4301 §4.4.1, as src/esp/policy.ts) and the classifier of
 * datagrams on the NAT-T port (RFC 3948 §2).
 */
#ifndef IKEV2_PACKET_H
#define IKEV2_PACKET_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define PKT_HIDDEN __attribute__((visibility("hidden")))
#else
#define PKT_HIDDEN
#endif

/* Policy blob: 40 bytes per traffic selector (see native/dataplane.c), at most 256. */
#define SELECTOR_LEN 40
#define MAX_SELECTORS 256

typedef struct {
  uint8_t side; /* 0 local, 1 remote */
  uint8_t alen; /* 4 or 16 */
  uint8_t proto;
  uint8_t start[16], end[16];
  uint16_t sport, eport;
} sel_t;

typedef struct {
  sel_t *sel;
  uint32_t n;
} policy_t;

typedef struct {
  int version;
  const uint8_t *src, *dst;
  uint8_t proto;
  uint16_t sport, dport;
} pkt_info_t;

/*
 * Addresses, upper-layer protocol and ports of an IP packet: 1, or 0 if it is not one. Mirrors
 * peekPacket of src/core/ip.ts step for step (the tests compare them on random packets).
 */
PKT_HIDDEN int pkt_peek(const uint8_t *p, size_t len, pkt_info_t *info);

/*
 * Outbound (matchesOutbound of src/esp/policy.ts): source in a local selector, destination in a
 * remote one. Inbound (matchesInbound, RFC 4301 §5.2 step 4): source in a remote selector,
 * destination in a local one. An empty policy matches nothing.
 */
PKT_HIDDEN int pkt_policy_matches(const policy_t *pol, const pkt_info_t *info, int inbound);

typedef enum {
  POLICY_OK = 0,
  POLICY_BAD_LENGTH,   /* not a multiple of 40 bytes, or more than 256 selectors */
  POLICY_BAD_SELECTOR, /* a bad side, family or reserved byte */
  POLICY_NO_MEMORY,
} policy_err_t;

/* Parses a policy blob into *pol (pkt_policy_free frees it); *pol is empty on error. */
PKT_HIDDEN policy_err_t pkt_policy_parse(const uint8_t *blob, size_t len, policy_t *pol);
PKT_HIDDEN void pkt_policy_free(policy_t *pol);

typedef enum {
  UDP_ESP,       /* an ESP packet: SPI ‖ sequence number ‖ ... (RFC 3948 §2.1) */
  UDP_IKE,       /* for the IKE layer: from port 500, or behind the non-ESP marker (§2.2) */
  UDP_KEEPALIVE, /* a NAT-keepalive, the single byte 0xff (§2.3) */
  UDP_MALFORMED, /* shorter than an ESP header and not a keepalive */
} udp_class_t;

/* RFC 3948 §2 and RFC 7296 §2.23: what a datagram from `src_port` of `len` bytes is. */
PKT_HIDDEN udp_class_t pkt_classify_udp(uint16_t src_port, const uint8_t *p, size_t len);

#endif
