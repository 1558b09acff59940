/* ikev2-vpn: IP parsing, traffic-selector policies and the NAT-T classifier (see packet.h). */
#include "packet.h"

#include <stdlib.h>
#include <string.h>

static inline int ported(uint8_t p) { return p == 6 || p == 17 || p == 132 || p == 136; }

int pkt_peek(const uint8_t *p, size_t len, pkt_info_t *info) {
  if (len < 1) return 0;
  int version = p[0] >> 4;
  if (version == 4) {
    size_t ihl = (size_t)(p[0] & 0x0f) * 4;
    if (ihl < 20 || len < ihl) return 0;
    unsigned frag = ((unsigned)(p[6] & 0x1f) << 8) | p[7];
    info->version = 4;
    info->src = p + 12;
    info->dst = p + 16;
    info->proto = p[9];
    info->sport = info->dport = 0;
    if (frag == 0 && ported(info->proto) && len >= ihl + 4) {
      info->sport = (uint16_t)((p[ihl] << 8) | p[ihl + 1]);
      info->dport = (uint16_t)((p[ihl + 2] << 8) | p[ihl + 3]);
    }
    return 1;
  }
  if (version == 6) {
    if (len < 40) return 0;
    uint8_t next = p[6];
    size_t off = 40;
    int first = 1;
    /* Walk hop-by-hop (0), routing (43), fragment (44) and destination options (60). */
    for (int guard = 0; guard < 8; guard++) {
      if (next == 0 || next == 43 || next == 60) {
        if (len < off + 2) return 0;
        size_t hl = ((size_t)p[off + 1] + 1) * 8;
        next = p[off];
        off += hl;
      } else if (next == 44) {
        if (len < off + 8) return 0;
        unsigned fo = (((unsigned)p[off + 2] << 8) | p[off + 3]) >> 3;
        if (fo != 0) first = 0;
        next = p[off];
        off += 8;
      } else
        break;
    }
    info->version = 6;
    info->src = p + 8;
    info->dst = p + 24;
    info->proto = next;
    info->sport = info->dport = 0;
    if (first && ported(next) && len >= off + 4) {
      info->sport = (uint16_t)((p[off] << 8) | p[off + 1]);
      info->dport = (uint16_t)((p[off + 2] << 8) | p[off + 3]);
    }
    return 1;
  }
  return 0;
}

/* matchOne of src/esp/policy.ts: address in range (same family), protocol, port range. */
static inline int match_one(const sel_t *s, const uint8_t *addr, int alen, uint8_t proto,
                            uint16_t port) {
  if (s->alen != alen) return 0;
  if (memcmp(addr, s->start, (size_t)alen) < 0 || memcmp(addr, s->end, (size_t)alen) > 0) return 0;
  if (s->proto != 0 && s->proto != proto) return 0;
  if (s->sport == 0 && s->eport == 65535) return 1;
  return port >= s->sport && port <= s->eport;
}

int pkt_policy_matches(const policy_t *pol, const pkt_info_t *i, int inbound) {
  int alen = i->version == 4 ? 4 : 16;
  uint8_t src_side = inbound ? 1 : 0, dst_side = inbound ? 0 : 1;
  int src_ok = 0, dst_ok = 0;
  for (uint32_t k = 0; k < pol->n && !src_ok; k++)
    src_ok =
        pol->sel[k].side == src_side && match_one(&pol->sel[k], i->src, alen, i->proto, i->sport);
  if (!src_ok) return 0;
  for (uint32_t k = 0; k < pol->n && !dst_ok; k++)
    dst_ok =
        pol->sel[k].side == dst_side && match_one(&pol->sel[k], i->dst, alen, i->proto, i->dport);
  return dst_ok;
}

policy_err_t pkt_policy_parse(const uint8_t *b, size_t len, policy_t *pol) {
  pol->sel = NULL;
  pol->n = 0;
  if (len % SELECTOR_LEN != 0 || len / SELECTOR_LEN > MAX_SELECTORS) return POLICY_BAD_LENGTH;
  uint32_t n = (uint32_t)(len / SELECTOR_LEN);
  if (n == 0) return POLICY_OK; /* matches nothing, as empty selector lists do in policy.ts */
  sel_t *sel = calloc(n, sizeof *sel);
  if (!sel) return POLICY_NO_MEMORY;
  for (uint32_t k = 0; k < n; k++) {
    const uint8_t *s = b + (size_t)k * SELECTOR_LEN;
    if (s[0] > 1 || (s[1] != 4 && s[1] != 6) || s[3] != 0) {
      free(sel);
      return POLICY_BAD_SELECTOR;
    }
    sel[k].side = s[0];
    sel[k].alen = s[1] == 4 ? 4 : 16;
    sel[k].proto = s[2];
    memcpy(sel[k].start, s + 4, 16);
    memcpy(sel[k].end, s + 20, 16);
    sel[k].sport = (uint16_t)((s[36] << 8) | s[37]);
    sel[k].eport = (uint16_t)((s[38] << 8) | s[39]);
  }
  pol->sel = sel;
  pol->n = n;
  return POLICY_OK;
}

void pkt_policy_free(policy_t *pol) {
  free(pol->sel);
  pol->sel = NULL;
  pol->n = 0;
}

udp_class_t pkt_classify_udp(uint16_t src_port, const uint8_t *p, size_t len) {
  /* RFC 3948 §2 and RFC 7296 §2.23: IKE from port 500 comes without a marker. */
  if (src_port == 500) return UDP_IKE;
  if (len == 1 && p[0] == 0xff) return UDP_KEEPALIVE; /* RFC 3948 §2.3 NAT-keepalive */
  if (len < 8) return UDP_MALFORMED;
  /* RFC 3948 §2.2: the non-ESP marker (SPI 0) precedes IKE; JS strips it. */
  if (p[0] == 0 && p[1] == 0 && p[2] == 0 && p[3] == 0) return UDP_IKE;
  return UDP_ESP;
}
