/*
 * Plain C tests of native/packet.c (no N-API, no OpenSSL): IPv4/IPv6 header parsing as
 * peekPacket of src/core/ip.ts, traffic-selector policies as src/esp/policy.ts (RFC 4301 §4.4.1,
 * §5.2), the NAT-T classifier (RFC 3948 §2), and a million random inputs that must neither crash
 * nor read out of bounds (built with ASan + UBSan by the Makefile).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "packet.h"

static int failures, checks;

#define CHECK(cond)                                                            \
  do {                                                                         \
    checks++;                                                                  \
    if (!(cond)) {                                                             \
      failures++;                                                              \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)

/* An IPv4 header (20 bytes) + 4 bytes of ports. */
static size_t ipv4(uint8_t *p, uint8_t proto, const uint8_t src[4], const uint8_t dst[4],
                   uint16_t sport, uint16_t dport, uint16_t frag) {
  memset(p, 0, 24);
  p[0] = 0x45;
  p[6] = (uint8_t)(frag >> 8);
  p[7] = (uint8_t)frag;
  p[9] = proto;
  memcpy(p + 12, src, 4);
  memcpy(p + 16, dst, 4);
  p[20] = (uint8_t)(sport >> 8);
  p[21] = (uint8_t)sport;
  p[22] = (uint8_t)(dport >> 8);
  p[23] = (uint8_t)dport;
  return 24;
}

static void test_ipv4(void) {
  uint8_t p[64];
  const uint8_t a[4] = {192, 0, 2, 1}, b[4] = {198, 51, 100, 7};
  pkt_info_t i;
  size_t n = ipv4(p, 17, a, b, 4500, 53, 0);
  CHECK(pkt_peek(p, n, &i) == 1);
  CHECK(i.version == 4 && i.proto == 17 && i.sport == 4500 && i.dport == 53);
  CHECK(memcmp(i.src, a, 4) == 0 && memcmp(i.dst, b, 4) == 0);
  /* ICMP: no ports */
  ipv4(p, 1, a, b, 4500, 53, 0);
  CHECK(pkt_peek(p, n, &i) == 1 && i.sport == 0 && i.dport == 0);
  /* a later fragment (offset 8): no ports, RFC 4301 §7 */
  ipv4(p, 6, a, b, 80, 443, 1);
  CHECK(pkt_peek(p, n, &i) == 1 && i.proto == 6 && i.sport == 0 && i.dport == 0);
  /* MF set, offset 0: the first fragment has the ports */
  ipv4(p, 6, a, b, 80, 443, 0x2000);
  CHECK(pkt_peek(p, n, &i) == 1 && i.sport == 80 && i.dport == 443);
  /* header only: no ports, still a packet */
  ipv4(p, 6, a, b, 80, 443, 0);
  CHECK(pkt_peek(p, 20, &i) == 1 && i.sport == 0);
  /* truncated, bad IHL, empty, version 5 */
  CHECK(pkt_peek(p, 19, &i) == 0);
  p[0] = 0x44;
  CHECK(pkt_peek(p, n, &i) == 0);
  p[0] = 0x4f; /* IHL 60 > 24 bytes */
  CHECK(pkt_peek(p, n, &i) == 0);
  CHECK(pkt_peek(p, 0, &i) == 0);
  p[0] = 0x55;
  CHECK(pkt_peek(p, n, &i) == 0);
}

static void test_ipv6(void) {
  uint8_t p[128];
  pkt_info_t i;
  memset(p, 0, sizeof p);
  p[0] = 0x60;
  p[6] = 0;    /* hop-by-hop */
  p[8] = 0x20; /* src 2001:db8::1 */
  p[9] = 0x01;
  p[10] = 0x0d;
  p[11] = 0xb8;
  p[23] = 1;
  p[24] = 0x20; /* dst 2001:db8::2 */
  p[25] = 0x01;
  p[26] = 0x0d;
  p[27] = 0xb8;
  p[39] = 2;
  p[40] = 44; /* hop-by-hop → fragment, 8 bytes */
  p[41] = 0;
  p[48] = 17; /* fragment → UDP, offset 0 */
  p[50] = 0;
  p[51] = 0;
  p[56] = 0x11; /* UDP 4500 → 500 */
  p[57] = 0x94;
  p[58] = 0x01;
  p[59] = 0xf4;
  CHECK(pkt_peek(p, 60, &i) == 1);
  CHECK(i.version == 6 && i.proto == 17 && i.sport == 4500 && i.dport == 500);
  CHECK(i.src == p + 8 && i.dst == p + 24);
  /* a later fragment: no ports */
  p[51] = 8 << 3;
  CHECK(pkt_peek(p, 60, &i) == 1 && i.proto == 17 && i.sport == 0 && i.dport == 0);
  /* the fragment header cut short */
  CHECK(pkt_peek(p, 50, &i) == 0);
  /* shorter than the fixed header */
  CHECK(pkt_peek(p, 39, &i) == 0);
  /* an extension header claiming more than there is: no ports, no over-read */
  p[6] = 60;
  p[40] = 6;
  p[41] = 200;
  CHECK(pkt_peek(p, 60, &i) == 1 && i.proto == 6 && i.sport == 0);
}

/* One 40-byte selector (RFC 4301 §4.4.1) of the policy blob. */
static void selector(uint8_t *s, int side, int family, int proto, const uint8_t *start,
                     const uint8_t *end, uint16_t sport, uint16_t eport) {
  memset(s, 0, SELECTOR_LEN);
  s[0] = (uint8_t)side;
  s[1] = (uint8_t)family;
  s[2] = (uint8_t)proto;
  memcpy(s + 4, start, family == 6 ? 16 : 4);
  memcpy(s + 20, end, family == 6 ? 16 : 4);
  s[36] = (uint8_t)(sport >> 8);
  s[37] = (uint8_t)sport;
  s[38] = (uint8_t)(eport >> 8);
  s[39] = (uint8_t)eport;
}

static void test_policy(void) {
  uint8_t blob[3 * SELECTOR_LEN];
  const uint8_t l0[4] = {10, 0, 0, 2}, l1[4] = {10, 0, 0, 2};
  const uint8_t r0[4] = {203, 0, 113, 0}, r1[4] = {203, 0, 113, 255};
  selector(blob, 0, 4, 0, l0, l1, 0, 65535);      /* local: 10.0.0.2, any */
  selector(blob + 40, 1, 4, 17, r0, r1, 53, 53);  /* remote: 203.0.113.0/24 UDP 53 */
  selector(blob + 80, 1, 4, 6, r0, r1, 0, 65535); /* remote: 203.0.113.0/24 TCP */
  policy_t pol;
  CHECK(pkt_policy_parse(blob, sizeof blob, &pol) == POLICY_OK && pol.n == 3);
  uint8_t p[64];
  pkt_info_t i;
  const uint8_t dst[4] = {203, 0, 113, 9}, other[4] = {198, 51, 100, 9};
  ipv4(p, 17, l0, dst, 40000, 53, 0);
  CHECK(pkt_peek(p, 24, &i) && pkt_policy_matches(&pol, &i, 0) == 1);
  ipv4(p, 17, l0, dst, 40000, 54, 0); /* UDP, port outside 53..53 */
  CHECK(pkt_peek(p, 24, &i) && pkt_policy_matches(&pol, &i, 0) == 0);
  ipv4(p, 6, l0, dst, 40000, 22, 0); /* TCP, any port */
  CHECK(pkt_peek(p, 24, &i) && pkt_policy_matches(&pol, &i, 0) == 1);
  ipv4(p, 6, l0, other, 40000, 22, 0); /* outside the remote range */
  CHECK(pkt_peek(p, 24, &i) && pkt_policy_matches(&pol, &i, 0) == 0);
  /* inbound (RFC 4301 §5.2): source remote, destination local */
  ipv4(p, 6, dst, l0, 22, 40000, 0);
  CHECK(pkt_peek(p, 24, &i) && pkt_policy_matches(&pol, &i, 1) == 1);
  CHECK(pkt_policy_matches(&pol, &i, 0) == 0);
  pkt_policy_free(&pol);
  CHECK(pol.sel == NULL && pol.n == 0);

  /* empty: parses, matches nothing */
  CHECK(pkt_policy_parse(blob, 0, &pol) == POLICY_OK && pol.n == 0);
  CHECK(pkt_policy_matches(&pol, &i, 1) == 0);
  /* bad lengths, bad selectors */
  CHECK(pkt_policy_parse(blob, 39, &pol) == POLICY_BAD_LENGTH && pol.sel == NULL);
  uint8_t *big = calloc(MAX_SELECTORS + 1, SELECTOR_LEN);
  CHECK(big != NULL);
  if (big) {
    for (int k = 0; k <= MAX_SELECTORS; k++)
      selector(big + k * SELECTOR_LEN, 0, 4, 0, l0, l1, 0, 9);
    CHECK(pkt_policy_parse(big, (size_t)MAX_SELECTORS * SELECTOR_LEN, &pol) == POLICY_OK);
    pkt_policy_free(&pol);
    CHECK(pkt_policy_parse(big, (size_t)(MAX_SELECTORS + 1) * SELECTOR_LEN, &pol) ==
          POLICY_BAD_LENGTH);
    free(big);
  }
  uint8_t bad[SELECTOR_LEN];
  selector(bad, 2, 4, 0, l0, l1, 0, 9);
  CHECK(pkt_policy_parse(bad, sizeof bad, &pol) == POLICY_BAD_SELECTOR && pol.sel == NULL);
  selector(bad, 0, 5, 0, l0, l1, 0, 9);
  CHECK(pkt_policy_parse(bad, sizeof bad, &pol) == POLICY_BAD_SELECTOR);
  selector(bad, 0, 4, 0, l0, l1, 0, 9);
  bad[3] = 1;
  CHECK(pkt_policy_parse(bad, sizeof bad, &pol) == POLICY_BAD_SELECTOR);
  /* an IPv6 selector never matches an IPv4 packet */
  uint8_t v6[SELECTOR_LEN * 2], z[16] = {0}, f[16];
  memset(f, 0xff, sizeof f);
  selector(v6, 0, 6, 0, z, f, 0, 65535);
  selector(v6 + 40, 1, 6, 0, z, f, 0, 65535);
  CHECK(pkt_policy_parse(v6, sizeof v6, &pol) == POLICY_OK);
  ipv4(p, 6, l0, dst, 1, 2, 0);
  CHECK(pkt_peek(p, 24, &i) && pkt_policy_matches(&pol, &i, 0) == 0);
  pkt_policy_free(&pol);
}

static void test_classifier(void) {
  uint8_t esp[16] = {0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1};
  uint8_t ike[16] = {0, 0, 0, 0, 1, 2, 3, 4};
  uint8_t ka[1] = {0xff};
  CHECK(pkt_classify_udp(4500, esp, sizeof esp) == UDP_ESP);
  CHECK(pkt_classify_udp(500, esp, sizeof esp) == UDP_IKE);  /* port 500: no marker (§2.23) */
  CHECK(pkt_classify_udp(4500, ike, sizeof ike) == UDP_IKE); /* non-ESP marker (§2.2) */
  CHECK(pkt_classify_udp(4500, ka, 1) == UDP_KEEPALIVE);     /* §2.3 */
  CHECK(pkt_classify_udp(4500, esp, 1) == UDP_MALFORMED);
  CHECK(pkt_classify_udp(4500, esp, 7) == UDP_MALFORMED);
  CHECK(pkt_classify_udp(4500, esp, 0) == UDP_MALFORMED);
  CHECK(pkt_classify_udp(4500, esp, 8) == UDP_ESP);
  CHECK(pkt_classify_udp(500, ka, 1) == UDP_IKE);
}

/* xorshift64*: deterministic random inputs */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next(void) {
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 0x2545f4914f6cdd1dULL;
}

/* Random and mutated packets into every entry point: exact-size heap copies, so that ASan sees
 * any read past the end. */
static void test_random(long rounds) {
  uint8_t seed[64];
  const uint8_t a[4] = {10, 0, 0, 2}, b[4] = {203, 0, 113, 9};
  uint8_t blob[2 * SELECTOR_LEN];
  selector(blob, 0, 4, 0, a, a, 0, 65535);
  selector(blob + 40, 1, 4, 0, b, b, 0, 65535);
  policy_t pol;
  pkt_policy_parse(blob, sizeof blob, &pol);
  long accepted = 0;
  for (long r = 0; r < rounds; r++) {
    size_t len = (size_t)(next() % 96);
    uint8_t *p = malloc(len ? len : 1);
    if (!p) break;
    if (r & 1) {
      for (size_t k = 0; k < len; k++) p[k] = (uint8_t)next();
      if (len > 0) p[0] = (uint8_t)((p[0] & 0x0f) | (r & 2 ? 0x40 : 0x60));
    } else {
      ipv4(seed, (uint8_t)next(), a, b, 1, 2, 0);
      memset(seed + 24, 0, sizeof seed - 24);
      memcpy(p, seed, len < sizeof seed ? len : sizeof seed);
      if (len > 0) p[next() % len] ^= (uint8_t)(1u << (next() % 8));
    }
    pkt_info_t i;
    if (pkt_peek(p, len, &i)) {
      accepted++;
      /* the addresses lie inside the packet */
      size_t alen = i.version == 4 ? 4 : 16;
      CHECK(i.src >= p && i.src + alen <= p + len && i.dst >= p && i.dst + alen <= p + len);
      pkt_policy_matches(&pol, &i, (int)(r & 1));
    }
    pkt_classify_udp((uint16_t)next(), p, len);
    uint8_t *blob2 = malloc(len ? len : 1);
    if (blob2) {
      memcpy(blob2, p, len);
      policy_t q;
      if (pkt_policy_parse(blob2, len, &q) == POLICY_OK) pkt_policy_free(&q);
      free(blob2);
    }
    free(p);
  }
  pkt_policy_free(&pol);
  CHECK(accepted > 0);
  printf("packet_test: %ld random inputs, %ld parsed as IP\n", rounds, accepted);
}

int main(int argc, char **argv) {
  long rounds = argc > 1 ? atol(argv[1]) : 1000000;
  test_ipv4();
  test_ipv6();
  test_policy();
  test_classifier();
  test_random(rounds);
  printf("packet_test: %d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}
