/*
 * Plain C tests of native/packet.c (no N-API, no OpenSSL): IPv4/IPv6 header parsing as
 * peekPacket of src/core/ip.ts, traffic-selector policies as src/esp/policy.ts (RFC 4301 §4.4.1,
 * §5.2), the NAT-T classifier (RFC 3948 §2), and a million random inputs that must neither crash
 * nor read out of bounds (built with ASan + UBSan by the Makefile).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

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

/* ---- TUN offloads: pkt_gso_split (virtio_net_hdr TSO/USO segmentation) ---- */

/* A TCP or UDP super-packet: IPv4 (v6 = 0) or IPv6, l4 header, `payload` bytes of pattern. */
static size_t super_packet(uint8_t *p, int v6, int tcp, size_t payload, uint8_t tflags) {
  size_t iph = v6 ? 40 : 20, l4h = tcp ? 20 : 8, len = iph + l4h + payload;
  memset(p, 0, iph + l4h);
  if (v6) {
    p[0] = 0x60;
    p[4] = (uint8_t)((len - 40) >> 8);
    p[5] = (uint8_t)(len - 40);
    p[6] = tcp ? 6 : 17;
    p[7] = 64;
    p[8] = 0x20, p[9] = 0x01, p[10] = 0x0d, p[11] = 0xb8, p[23] = 1; /* 2001:db8::1 */
    p[24] = 0x20, p[25] = 0x01, p[26] = 0x0d, p[27] = 0xb8, p[39] = 2;
  } else {
    p[0] = 0x45;
    p[2] = (uint8_t)(len >> 8);
    p[3] = (uint8_t)len;
    p[4] = 0x12, p[5] = 0x34; /* ID 0x1234 */
    p[6] = 0x40;              /* DF */
    p[8] = 64;
    p[9] = tcp ? 6 : 17;
    p[12] = 192, p[13] = 0, p[14] = 2, p[15] = 1;
    p[16] = 198, p[17] = 51, p[18] = 100, p[19] = 7;
  }
  uint8_t *l4 = p + iph;
  l4[0] = 0x9c, l4[1] = 0x40, l4[2] = 0x01, l4[3] = 0xbb; /* 40000 -> 443 */
  if (tcp) {
    l4[4] = 0xff, l4[5] = 0xff, l4[6] = 0xf0, l4[7] = 0x00; /* seq 0xfffff000: wraps */
    l4[11] = 1;
    l4[12] = 0x50;
    l4[13] = tflags;
    l4[14] = 0xff;
  }
  for (size_t i = 0; i < payload; i++) l4[l4h + i] = (uint8_t)(i * 7 + (i >> 8));
  return len;
}

/* Does the segment's IPv4 header checksum and its TCP/UDP checksum verify? */
static int checksums_ok(const uint8_t *o, size_t len) {
  int v6 = (o[0] >> 4) == 6;
  size_t iph = v6 ? 40 : (size_t)(o[0] & 15) * 4;
  if (!v6 && pkt_csum_fold(o, iph, 0) != 0xffff) return 0;
  uint8_t proto = v6 ? o[6] : o[9];
  size_t l4len = len - iph;
  uint32_t ps =
      (v6 ? pkt_csum_fold(o + 8, 32, 0) : pkt_csum_fold(o + 12, 8, 0)) + proto + (uint32_t)l4len;
  return pkt_csum_fold(o + iph, l4len, ps) == 0xffff;
}

#define ROOM 1600
static uint8_t segs[VNET_MAX_SEGS * ROOM];

static void test_csum_vectors(void) {
  /* RFC 1071 §3 example: 0001 f203 f4f5 f6f7 sums to ddf2 */
  const uint8_t a[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  CHECK(pkt_csum_fold(a, 8, 0) == 0xddf2);
  /* A classic IPv4 header (192.168.0.1 -> 192.168.0.199, UDP, len 0x73): checksum b861 */
  const uint8_t ip[20] = {0x45, 0, 0,   0x73, 0, 0, 0x40, 0,   0x40, 0x11,
                          0,    0, 192, 168,  0, 1, 192,  168, 0,    199};
  uint16_t c = (uint16_t)~pkt_csum_fold(ip, 20, 0);
  CHECK(c == 0xb861);
  /* the word-at-a-time sum equals RFC 1071's 16-bit one at every length, alignment, initial */
  static uint8_t buf[3000];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)next();
  for (int r = 0; r < 20000; r++) {
    size_t off = (size_t)(next() % 8), len = (size_t)(next() % (sizeof buf - 8));
    uint32_t init = (uint32_t)(next() % 0x40000);
    uint64_t ref = init;
    for (size_t i = 0; i + 1 < len; i += 2)
      ref += (uint32_t)((buf[off + i] << 8) | buf[off + i + 1]);
    if (len & 1) ref += (uint32_t)buf[off + len - 1] << 8;
    while (ref >> 16) ref = (ref & 0xffff) + (ref >> 16);
    CHECK(pkt_csum_fold(buf + off, len, init) == ref);
  }
  /* odd length: the last byte is the high half of a word */
  const uint8_t odd[3] = {0x01, 0x02, 0x03};
  CHECK(pkt_csum_fold(odd, 3, 0) == 0x0402);
}

/* A hand-checked TSO4 case: 40 + 2500 bytes, MSS 1000 -> 1040, 1040, 540. */
static void test_gso_vector(void) {
  static uint8_t p[70000];
  size_t len = super_packet(p, 0, 1, 2500, 0x80 | 0x18 | 0x01); /* CWR PSH ACK FIN */
  vnet_hdr_t h = {VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, 40, 1000, 20, 16};
  size_t sl[VNET_MAX_SEGS];
  int n = pkt_gso_split(&h, p, len, segs, ROOM, ROOM, sl, VNET_MAX_SEGS);
  CHECK(n == 3);
  if (n != 3) return;
  CHECK(sl[0] == 1040 && sl[1] == 1040 && sl[2] == 540);
  const uint8_t *s0 = segs, *s1 = segs + ROOM, *s2 = segs + 2 * ROOM;
  /* total length, ID 0x1234, 0x1235, 0x1236 */
  CHECK(s0[2] == 0x04 && s0[3] == 0x10 && s0[4] == 0x12 && s0[5] == 0x34);
  CHECK(s1[2] == 0x04 && s1[3] == 0x10 && s1[4] == 0x12 && s1[5] == 0x35);
  CHECK(s2[2] == 0x02 && s2[3] == 0x1c && s2[4] == 0x12 && s2[5] == 0x36);
  /* seq fffff000, fffff3e8, fffff7d0 */
  CHECK(s0[24] == 0xff && s0[25] == 0xff && s0[26] == 0xf0 && s0[27] == 0x00);
  CHECK(s1[24] == 0xff && s1[25] == 0xff && s1[26] == 0xf3 && s1[27] == 0xe8);
  CHECK(s2[24] == 0xff && s2[25] == 0xff && s2[26] == 0xf7 && s2[27] == 0xd0);
  /* flags: CWR|ACK first, ACK, PSH|ACK|FIN last */
  CHECK(s0[33] == 0x90 && s1[33] == 0x10 && s2[33] == 0x19);
  for (int i = 0; i < 3; i++) CHECK(checksums_ok(segs + i * ROOM, sl[i]));
  /* The first segment's IPv4 header checksum from its words, summed independently of
   * pkt_csum_fold: 4500 0410 1234 4000 4006 (0000) c000 0201 c633 6407. */
  uint32_t sum = 0x4500 + 0x0410 + 0x1234 + 0x4000 + 0x4006 + 0xc000 + 0x0201 + 0xc633 + 0x6407;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  CHECK(((s0[10] << 8) | s0[11]) == (uint16_t)~sum);
}

/* Properties over many sizes: segments reassemble to the payload, checksums verify, lengths. */
static void test_gso_properties(void) {
  static uint8_t p[70000];
  size_t sl[VNET_MAX_SEGS];
  long cases = 0;
  for (int v6 = 0; v6 <= 1; v6++)
    for (int tcp = 0; tcp <= 1; tcp++)
      for (size_t mss = 500; mss <= 1460; mss += 137)
        for (size_t payload = 1; payload <= 20000; payload = payload * 3 + 1) {
          size_t iph = v6 ? 40 : 20, l4h = tcp ? 20 : 8, hdr = iph + l4h;
          size_t len = super_packet(p, v6, tcp, payload, 0x18);
          uint8_t type = tcp ? (v6 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4) : VNET_GSO_UDP_L4;
          vnet_hdr_t h = {VNET_F_NEEDS_CSUM, type,          (uint16_t)hdr,
                          (uint16_t)mss,     (uint16_t)iph, tcp ? 16 : 6};
          int n = pkt_gso_split(&h, p, len, segs, ROOM, ROOM, sl, VNET_MAX_SEGS);
          size_t want = (payload + mss - 1) / mss;
          if (want > VNET_MAX_SEGS) {
            CHECK(n == -GSO_TOO_MANY_SEGS);
            continue;
          }
          CHECK(n == (int)want);
          if (n != (int)want) continue;
          cases++;
          size_t got = 0;
          for (int i = 0; i < n; i++) {
            const uint8_t *o = segs + (size_t)i * ROOM;
            CHECK(sl[i] <= hdr + mss && sl[i] > hdr);
            CHECK(checksums_ok(o, sl[i]));
            CHECK(memcmp(o + hdr, p + hdr + got, sl[i] - hdr) == 0);
            if (tcp) {
              uint32_t seq = ((uint32_t)o[iph + 4] << 24) | ((uint32_t)o[iph + 5] << 16) |
                             ((uint32_t)o[iph + 6] << 8) | o[iph + 7];
              CHECK(seq == 0xfffff000u + (uint32_t)got);
              CHECK((o[iph + 13] & 0x08) == (i == n - 1 ? 0x08 : 0)); /* PSH last only */
            }
            got += sl[i] - hdr;
          }
          CHECK(got == payload);
        }
  CHECK(cases > 100);
}

/* Inconsistent virtio headers are refused, never read beyond the packet. */
static void test_gso_refusals(void) {
  static uint8_t p[70000];
  size_t sl[VNET_MAX_SEGS];
  size_t len = super_packet(p, 0, 1, 3000, 0x10);
  vnet_hdr_t ok = {VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, 40, 1000, 20, 16}, h;
  CHECK(pkt_gso_split(&ok, p, len, segs, ROOM, ROOM, sl, VNET_MAX_SEGS) == 3);
  h = ok, h.gso_size = 0;
  CHECK(pkt_gso_split(&h, p, len, segs, ROOM, ROOM, sl, VNET_MAX_SEGS) == -GSO_BAD_SIZE);
  h = ok, h.gso_size = 2000; /* a segment larger than the room for it */
  CHECK(pkt_gso_split(&h, p, len, segs, ROOM, ROOM, sl, VNET_MAX_SEGS) == -GSO_BAD_SIZE);
  h = ok, h.hdr_len = (uint16_t)(len + 1);
  CHECK(pkt_gso_split(&h, p, len, segs, ROOM, ROOM, sl, VNET_MAX_SEGS) == -GSO_BAD_HEADER);
  h = ok, h.gso_type = VNET_GSO_TCPV6; /* an IPv4 packet */
  CHECK(pkt_gso_split(&h, p, len, segs, ROOM, ROOM, sl, VNET_MAX_SEGS) == -GSO_BAD_PACKET);
  h = ok, h.gso_type = VNET_GSO_UDP;
  CHECK(pkt_gso_split(&h, p, len, segs, ROOM, ROOM, sl, VNET_MAX_SEGS) == -GSO_BAD_HEADER);
  h = ok, h.csum_start = 24;
  CHECK(pkt_gso_split(&h, p, len, segs, ROOM, ROOM, sl, VNET_MAX_SEGS) == -GSO_BAD_PACKET);
  h = ok, h.flags = 0;
  CHECK(pkt_gso_split(&h, p, len, segs, ROOM, ROOM, sl, VNET_MAX_SEGS) == -GSO_BAD_HEADER);
  CHECK(pkt_gso_split(&ok, p, len, segs, ROOM, ROOM, sl, 2) == -GSO_TOO_MANY_SEGS);
  p[9] = 17; /* UDP under a TCP gso type */
  CHECK(pkt_gso_split(&ok, p, len, segs, ROOM, ROOM, sl, VNET_MAX_SEGS) == -GSO_BAD_PACKET);
  p[9] = 6;
  p[32] = 0xf0; /* TCP data offset 60: still inside, fine */
  CHECK(pkt_gso_split(&ok, p, 40 + 20, segs, ROOM, ROOM, sl, VNET_MAX_SEGS) == -GSO_BAD_PACKET);
  p[32] = 0x50;
  CHECK(pkt_gso_split(&ok, p, 30, segs, ROOM, ROOM, sl, VNET_MAX_SEGS) == -GSO_BAD_HEADER);
  h = ok, h.hdr_len = 20; /* a TCP header cut short */
  CHECK(pkt_gso_split(&h, p, 30, segs, ROOM, ROOM, sl, VNET_MAX_SEGS) == -GSO_BAD_PACKET);
  /* NEEDS_CSUM only: the checksum is completed from the pseudo-header sum in the field */
  size_t ulen = super_packet(p, 0, 0, 333, 0);
  uint16_t ps = pkt_csum_fold(p + 12, 8, 17 + (uint32_t)(ulen - 20));
  p[26] = (uint8_t)(ps >> 8), p[27] = (uint8_t)ps;
  p[24] = (uint8_t)((ulen - 20) >> 8), p[25] = (uint8_t)(ulen - 20);
  p[10] = 0, p[11] = 0;
  uint16_t ipc = (uint16_t)~pkt_csum_fold(p, 20, 0);
  p[10] = (uint8_t)(ipc >> 8), p[11] = (uint8_t)ipc;
  vnet_hdr_t none = {VNET_F_NEEDS_CSUM, VNET_GSO_NONE, 0, 0, 20, 6};
  CHECK(pkt_gso_split(&none, p, ulen, segs, ROOM, ROOM, sl, VNET_MAX_SEGS) == 1);
  CHECK(sl[0] == ulen && checksums_ok(segs, ulen));
  none.csum_offset = (uint16_t)(ulen - 21); /* the field beyond the packet */
  CHECK(pkt_gso_split(&none, p, ulen, segs, ROOM, ROOM, sl, VNET_MAX_SEGS) == -GSO_BAD_HEADER);
  /* random virtio headers over random packets: no crash, no read beyond (ASan) */
  for (int r = 0; r < 200000; r++) {
    uint64_t x = next(), y = next();
    size_t plen = (size_t)(y % 3000);
    uint8_t *q = malloc(plen ? plen : 1);
    for (size_t i = 0; i < plen; i++) q[i] = (uint8_t)(i < 60 && (x & 1) ? p[i] : next());
    uint8_t raw[VNET_HDR_LEN];
    for (int i = 0; i < VNET_HDR_LEN; i++) raw[i] = (uint8_t)(x >> (i * 6));
    raw[0] &= 1;
    raw[1] = (uint8_t)((raw[1] & 7) == 2 ? 1 : raw[1] & 7);
    vnet_hdr_t rh;
    CHECK(pkt_vnet_parse(raw, sizeof raw, &rh) == GSO_OK);
    rh.csum_start %= 64, rh.csum_offset %= 32, rh.gso_size %= 1600;
    int n = pkt_gso_split(&rh, q, plen, segs, ROOM, ROOM, sl, VNET_MAX_SEGS);
    CHECK(n != 0 && n <= VNET_MAX_SEGS);
    free(q);
  }
}

/* ---- GRO: pkt_gro_add / pkt_gro_finish (inbound coalescing) ---- */

#define GRO_CAP 256
static gro_item_t gro_items[GRO_CAP];
static gro_frag_t gro_frags[GRO_CAP];

static void gro_init(gro_table_t *t, int udp) {
  memset(t, 0, sizeof *t);
  t->items = gro_items;
  t->frags = gro_frags;
  t->cap = GRO_CAP;
  t->udp = udp;
  pkt_gro_reset(t);
}

/* Item i flattened into out (virtio header in *h): its length. */
static size_t gro_flat(gro_table_t *t, int i, vnet_hdr_t *h, uint8_t *out) {
  uint8_t vnet[VNET_HDR_LEN];
  struct iovec iov[2 + GRO_MAX_SEGS];
  int n = pkt_gro_finish(t, i, vnet, iov, 2 + GRO_MAX_SEGS);
  CHECK(n >= 2 && iov[0].iov_base == vnet && iov[0].iov_len == VNET_HDR_LEN);
  CHECK(pkt_vnet_parse(vnet, VNET_HDR_LEN, h) == GSO_OK);
  size_t len = 0;
  for (int k = 1; k < n; k++) {
    memcpy(out + len, iov[k].iov_base, iov[k].iov_len);
    len += iov[k].iov_len;
  }
  return len;
}

static uint8_t segs2[VNET_MAX_SEGS * ROOM], segs3[VNET_MAX_SEGS * ROOM];

/*
 * Round trip: a super-packet split as the kernel would (pkt_gso_split), its segments coalesced
 * again, must give one item with the same bytes (the checksum fields aside: the pseudo-header
 * sum, as the kernel hands it to a device) and a virtio header that splits into byte-identical
 * segments.
 */
static void test_gro_roundtrip(void) {
  static uint8_t p[70000], flat[70000];
  size_t sl[VNET_MAX_SEGS], sl2[VNET_MAX_SEGS];
  gro_table_t t;
  long cases = 0;
  for (int v6 = 0; v6 <= 1; v6++)
    for (int tcp = 0; tcp <= 1; tcp++)
      for (size_t mss = 536; mss <= 1460; mss += 231)
        for (size_t payload = mss + 1; payload <= 60000; payload = payload * 2 + 77) {
          size_t iph = v6 ? 40 : 20, l4h = tcp ? 20 : 8, hdr = iph + l4h;
          size_t len = super_packet(p, v6, tcp, payload, tcp ? 0x18 : 0);
          uint8_t type = tcp ? (v6 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4) : VNET_GSO_UDP_L4;
          vnet_hdr_t h = {VNET_F_NEEDS_CSUM, type,          (uint16_t)hdr,
                          (uint16_t)mss,     (uint16_t)iph, tcp ? 16 : 6};
          int n = pkt_gso_split(&h, p, len, segs, ROOM, ROOM, sl, VNET_MAX_SEGS);
          if (n < 2) continue;
          memcpy(segs3, segs, (size_t)n * ROOM); /* the segments as split: GRO rewrites the first */
          gro_init(&t, 1);
          for (int i = 0; i < n; i++)
            CHECK(pkt_gro_add(&t, segs + (size_t)i * ROOM, sl[i]) == (i > 0));
          CHECK(t.n == 1 && t.items[0].nseg == n);
          vnet_hdr_t g;
          size_t glen = gro_flat(&t, 0, &g, flat);
          CHECK(glen == len);
          CHECK(g.flags == VNET_F_NEEDS_CSUM && g.gso_type == type && g.gso_size == mss);
          CHECK(g.csum_start == iph && g.csum_offset == (tcp ? 16 : 6) && g.hdr_len == hdr);
          /* the same bytes as the super-packet but for the checksum fields (super_packet leaves
           * the UDP length 0: a kernel's USO packet has it) */
          if (!tcp) p[iph + 4] = (uint8_t)((len - iph) >> 8), p[iph + 5] = (uint8_t)(len - iph);
          size_t co = iph + (tcp ? 16 : 6);
          CHECK(memcmp(flat + 12, p + 12, co - 12) == 0 &&
                memcmp(flat + co + 2, p + co + 2, len - co - 2) == 0);
          CHECK(v6 ? memcmp(flat, p, 8) == 0 : memcmp(flat, p, 10) == 0);
          CHECK(v6 || pkt_csum_fold(flat, 20, 0) == 0xffff);
          /* the checksum field is the pseudo-header sum: completing it gives a valid packet */
          uint16_t c = (uint16_t)~pkt_csum_fold(flat + iph, glen - iph, 0);
          uint8_t save[2] = {flat[co], flat[co + 1]};
          flat[co] = (uint8_t)(c >> 8), flat[co + 1] = (uint8_t)c;
          CHECK(checksums_ok(flat, glen));
          flat[co] = save[0], flat[co + 1] = save[1];
          /* split again: byte-identical segments */
          int n2 = pkt_gso_split(&g, flat, glen, segs2, ROOM, ROOM, sl2, VNET_MAX_SEGS);
          CHECK(n2 == n);
          for (int i = 0; i < n && i < n2; i++)
            CHECK(sl2[i] == sl[i] &&
                  memcmp(segs2 + (size_t)i * ROOM, segs3 + (size_t)i * ROOM, sl[i]) == 0);
          cases++;
        }
  CHECK(cases > 40);
}

/* What must not be coalesced, and flows that interleave. */
/* Recomputes the IPv4 header checksum and the TCP/UDP one of a packet (after an edit). */
static void fix_csums(uint8_t *o, size_t len) {
  int v6 = (o[0] >> 4) == 6;
  size_t iph = v6 ? 40 : 20, co = iph + ((v6 ? o[6] : o[9]) == 6 ? 16 : 6);
  if (!v6) {
    o[10] = o[11] = 0;
    uint16_t c = (uint16_t)~pkt_csum_fold(o, 20, 0);
    o[10] = (uint8_t)(c >> 8), o[11] = (uint8_t)c;
  }
  o[co] = o[co + 1] = 0;
  uint32_t ps = (v6 ? pkt_csum_fold(o + 8, 32, 0) : pkt_csum_fold(o + 12, 8, 0)) +
                (v6 ? o[6] : o[9]) + (uint32_t)(len - iph);
  uint16_t c = (uint16_t)~pkt_csum_fold(o + iph, len - iph, ps);
  o[co] = (uint8_t)(c >> 8), o[co + 1] = (uint8_t)c;
}

static void test_gro_refusals(void) {
  static uint8_t p[70000];
  size_t sl[VNET_MAX_SEGS];
  gro_table_t t;
  size_t len = super_packet(p, 0, 1, 4000, 0x18);
  vnet_hdr_t h = {VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, 40, 1000, 20, 16};
  CHECK(pkt_gso_split(&h, p, len, segs, ROOM, ROOM, sl, VNET_MAX_SEGS) == 4);
  uint8_t *s0 = segs, *s1 = segs + ROOM, *s2 = segs + 2 * ROOM, *s3 = segs + 3 * ROOM;
#define RESPLIT() CHECK(pkt_gso_split(&h, p, len, segs, ROOM, ROOM, sl, VNET_MAX_SEGS) == 4)
  /* in order: one item of 4 */
  gro_init(&t, 0);
  for (int i = 0; i < 4; i++) pkt_gro_add(&t, segs + (size_t)i * ROOM, sl[i]);
  CHECK(t.n == 1 && t.items[0].nseg == 4);
  RESPLIT();
  /* out of order: 0, 2 | 1 alone | 3 not after 1... : never across a gap */
  gro_init(&t, 0);
  CHECK(pkt_gro_add(&t, s0, sl[0]) == 0);
  CHECK(pkt_gro_add(&t, s2, sl[2]) == 0);
  CHECK(pkt_gro_add(&t, s1, sl[1]) == 0); /* the newest item of the flow is 2's */
  CHECK(pkt_gro_add(&t, s3, sl[3]) == 0);
  CHECK(t.n == 4);
  RESPLIT();
  /* a bad TCP checksum: alone, and counted */
  gro_init(&t, 0);
  s1[100] ^= 0x40;
  CHECK(pkt_gro_add(&t, s0, sl[0]) == 0);
  CHECK(pkt_gro_add(&t, s1, sl[1]) == 0);
  CHECK(pkt_gro_add(&t, s2, sl[2]) == 0); /* nothing joins the bad one either */
  CHECK(t.checks_failed == 1 && t.n == 3);
  s1[100] ^= 0x40;
  RESPLIT();
  /* a bad first packet: nothing joins it */
  gro_init(&t, 0);
  s0[100] ^= 1;
  CHECK(pkt_gro_add(&t, s0, sl[0]) == 0);
  CHECK(pkt_gro_add(&t, s1, sl[1]) == 0);
  CHECK(pkt_gro_add(&t, s2, sl[2]) == 1); /* 1 and 2 are fine together */
  CHECK(t.n == 2 && t.items[1].nseg == 2);
  s0[100] ^= 1;
  RESPLIT();
  /* PSH on a middle segment ends the item */
  gro_init(&t, 0);
  s1[33] |= 0x08;
  fix_csums(s1, sl[1]);
  CHECK(checksums_ok(s1, sl[1]));
  CHECK(pkt_gro_add(&t, s0, sl[0]) == 0 && pkt_gro_add(&t, s1, sl[1]) == 1);
  CHECK(pkt_gro_add(&t, s2, sl[2]) == 0);
  CHECK((t.items[0].pkt[33] & 0x08) != 0); /* PSH goes on the super-packet */
  RESPLIT();
  /* an ICMP packet between two segments: nothing after it joins what came before */
  static uint8_t icmp[28];
  const uint8_t a[4] = {192, 0, 2, 1}, b[4] = {198, 51, 100, 7};
  ipv4(icmp, 1, a, b, 0, 0, 0);
  icmp[2] = 0, icmp[3] = 28;
  gro_init(&t, 0);
  CHECK(pkt_gro_add(&t, s0, sl[0]) == 0 && pkt_gro_add(&t, icmp, 28) == 0);
  CHECK(pkt_gro_add(&t, s1, sl[1]) == 0 && pkt_gro_add(&t, s2, sl[2]) == 1);
  CHECK(t.n == 3);
  /* two flows interleaved: each coalesces on its own */
  static uint8_t q[70000];
  size_t qlen = super_packet(q, 0, 1, 3000, 0x10);
  q[21] = 0x41; /* another source port */
  int m = pkt_gso_split(&h, q, qlen, segs2, ROOM, ROOM, sl, VNET_MAX_SEGS);
  CHECK(m == 3);
  size_t sl0[4];
  CHECK(pkt_gso_split(&h, p, len, segs, ROOM, ROOM, sl0, VNET_MAX_SEGS) == 4);
  gro_init(&t, 0);
  for (int i = 0; i < 4; i++) {
    pkt_gro_add(&t, segs + (size_t)i * ROOM, sl0[i]);
    if (i < 3) pkt_gro_add(&t, segs2 + (size_t)i * ROOM, sl[i]);
  }
  CHECK(t.n == 2 && t.items[0].nseg == 4 && t.items[1].nseg == 3);
  /* another ACK number, window, TTL or a non-incrementing IPv4 ID: not coalesced */
  const int fields[] = {28, 34, 8, 4};
  for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
    CHECK(pkt_gso_split(&h, p, len, segs, ROOM, ROOM, sl0, VNET_MAX_SEGS) == 4);
    s1[fields[k]] ^= 0x01;
    fix_csums(s1, sl0[1]);
    CHECK(checksums_ok(s1, sl0[1]));
    gro_init(&t, 0);
    pkt_gro_add(&t, s0, sl0[0]);
    CHECK(pkt_gro_add(&t, s1, sl0[1]) == 0);
  }
  /* a packet whose IP length is shorter than its bytes (trailing bytes) is not appended */
  CHECK(pkt_gso_split(&h, p, len, segs, ROOM, ROOM, sl0, VNET_MAX_SEGS) == 4);
  s1[3] = (uint8_t)(s1[3] - 4);
  fix_csums(s1, sl0[1]);
  gro_init(&t, 0);
  pkt_gro_add(&t, s0, sl0[0]);
  CHECK(pkt_gro_add(&t, s1, sl0[1]) == 0);
  /* DF packets with one fixed ID (atomic datagrams) coalesce; without DF they do not; and an
   * item of advancing IDs takes no fixed one */
  for (int df = 0; df <= 1; df++) {
    CHECK(pkt_gso_split(&h, p, len, segs, ROOM, ROOM, sl0, VNET_MAX_SEGS) == 4);
    for (int i = 0; i < 4; i++) {
      uint8_t *o = segs + (size_t)i * ROOM;
      o[4] = 0, o[5] = 0, o[6] = df ? 0x40 : 0;
      fix_csums(o, sl0[i]);
    }
    gro_init(&t, 0);
    for (int i = 0; i < 4; i++) pkt_gro_add(&t, segs + (size_t)i * ROOM, sl0[i]);
    CHECK(t.n == (df ? 1 : 4));
  }
  CHECK(pkt_gso_split(&h, p, len, segs, ROOM, ROOM, sl0, VNET_MAX_SEGS) == 4);
  s2[4] = s0[4], s2[5] = s0[5]; /* 0, 1, then 0 again: neither advancing nor fixed */
  fix_csums(s2, sl0[2]);
  gro_init(&t, 0);
  for (int i = 0; i < 3; i++) pkt_gro_add(&t, segs + (size_t)i * ROOM, sl0[i]);
  CHECK(t.n == 2 && t.items[0].nseg == 2);
  /* UDP only with udp set (the device accepts USO) */
  len = super_packet(p, 1, 0, 2500, 0);
  vnet_hdr_t hu = {VNET_F_NEEDS_CSUM, VNET_GSO_UDP_L4, 48, 1000, 40, 6};
  CHECK(pkt_gso_split(&hu, p, len, segs, ROOM, ROOM, sl0, VNET_MAX_SEGS) == 3);
  gro_init(&t, 0);
  for (int i = 0; i < 3; i++) CHECK(pkt_gro_add(&t, segs + (size_t)i * ROOM, sl0[i]) == 0);
  gro_init(&t, 1);
  for (int i = 0; i < 3; i++) CHECK(pkt_gro_add(&t, segs + (size_t)i * ROOM, sl0[i]) == (i > 0));
  /* a larger UDP datagram after a smaller one starts a new item */
  gro_init(&t, 1);
  CHECK(pkt_gro_add(&t, s2, sl0[2]) == 0 && pkt_gro_add(&t, s0, sl0[0]) == 0);
  /* off (the device refused a super-packet): every packet alone */
  CHECK(pkt_gso_split(&hu, p, len, segs, ROOM, ROOM, sl0, VNET_MAX_SEGS) == 3);
  gro_init(&t, 1);
  t.off = 1;
  for (int i = 0; i < 3; i++) CHECK(pkt_gro_add(&t, segs + (size_t)i * ROOM, sl0[i]) == 0);
  CHECK(t.n == 3);
  /* a full table says so */
  gro_items[0].nseg = 0;
  gro_table_t small = {.items = gro_items, .frags = gro_frags, .cap = 1, .udp = 1};
  pkt_gro_reset(&small);
  CHECK(pkt_gro_add(&small, icmp, 28) == 0 && pkt_gro_add(&small, icmp, 28) == -1);
  /* random packets: no crash, no read beyond (ASan); whatever the table makes, its items
   * account for every byte added */
  for (int r = 0; r < 20000; r++) {
    gro_init(&t, (int)(r & 1));
    static uint8_t bufs[8][1600];
    size_t total = 0, outlen = 0;
    for (int i = 0; i < 8; i++) {
      size_t l = 20 + (size_t)(next() % 1500);
      uint64_t x = next();
      for (size_t k = 0; k < l; k++) bufs[i][k] = (uint8_t)(k < 60 && (x & 1) ? segs[k] : next());
      if (x & 2) memcpy(bufs[i], segs + (size_t)(i % 3) * ROOM, sl0[i % 3] < l ? sl0[i % 3] : l);
      int rc = pkt_gro_add(&t, bufs[i], l);
      CHECK(rc == 0 || rc == 1);
      total += l;
    }
    for (int i = 0; i < t.n; i++) {
      vnet_hdr_t g;
      static uint8_t flat2[70000];
      outlen += gro_flat(&t, i, &g, flat2);
    }
    CHECK(outlen <= total && outlen > 0); /* appended packets lose their headers only */
  }
}

int main(int argc, char **argv) {
  long rounds = argc > 1 ? atol(argv[1]) : 1000000;
  test_ipv4();
  test_ipv6();
  test_policy();
  test_classifier();
  test_random(rounds);
  test_csum_vectors();
  test_gso_vector();
  test_gso_properties();
  test_gso_refusals();
  test_gro_roundtrip();
  test_gro_refusals();
  printf("packet_test: %d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}
