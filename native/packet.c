/* ikev2-vpn: IP parsing, traffic-selector policies and the NAT-T classifier (see packet.h). */
#include "packet.h"

#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

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

/* ------------------------------------------------------------ TUN offloads (vnet hdr) ---- */

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline void wr16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static inline uint16_t rd16le(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

gso_err_t pkt_vnet_parse(const uint8_t *p, size_t len, vnet_hdr_t *h) {
  if (len < VNET_HDR_LEN) return GSO_BAD_HEADER;
  h->flags = p[0];
  h->gso_type = p[1];
  h->hdr_len = rd16le(p + 2);
  h->gso_size = rd16le(p + 4);
  h->csum_start = rd16le(p + 6);
  h->csum_offset = rd16le(p + 8);
  return GSO_OK;
}

void pkt_vnet_none(uint8_t *p) { memset(p, 0, VNET_HDR_LEN); }

uint16_t pkt_csum_fold(const uint8_t *p, size_t len, uint32_t initial) {
  /* RFC 1071 §2 (B), (C): the sum does not depend on the word size or the byte order, so 32-bit
   * words in host order go into a 64-bit accumulator (four at a time), folded to 16 bits and
   * swapped to network order at the end; an odd last byte is the high half of a zero-padded
   * word. */
  uint64_t a = 0, b = 0, c = 0, d = 0;
  size_t i = 0;
  for (; i + 16 <= len; i += 16) {
    uint32_t w[4];
    memcpy(w, p + i, 16);
    a += w[0], b += w[1], c += w[2], d += w[3];
  }
  uint64_t sum = a + b + c + d; /* each grows by < 2^32 per 16 bytes: no overflow */
  for (; i + 4 <= len; i += 4) {
    uint32_t w;
    memcpy(&w, p + i, 4);
    sum += w;
  }
  uint8_t tail[4] = {0, 0, 0, 0};
  memcpy(tail, p + i, len - i);
  uint32_t w;
  memcpy(&w, tail, 4);
  sum += w;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  uint16_t s = (uint16_t)sum;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  s = (uint16_t)((s >> 8) | (s << 8));
#endif
  uint32_t t = (uint32_t)s + initial;
  while (t >> 16) t = (t & 0xffff) + (t >> 16);
  return (uint16_t)t;
}

/* The pseudo-header sum of RFC 9293 §3.1 / RFC 8200 §8.1, for an upper-layer length. */
static uint32_t pseudo_sum(const uint8_t *ip, int v6, uint8_t proto, size_t l4len) {
  uint32_t s = v6 ? pkt_csum_fold(ip + 8, 32, 0) : pkt_csum_fold(ip + 12, 8, 0);
  s += proto;
  s += (uint32_t)(l4len & 0xffff) + (uint32_t)(l4len >> 16);
  return s;
}

int pkt_gso_split(const vnet_hdr_t *h, const uint8_t *pkt, size_t len, uint8_t *out, size_t stride,
                  size_t room, size_t *seg_len, int max_segs) {
  if (max_segs < 1 || room > stride) return -GSO_BAD_SIZE;
  if (h->flags & ~VNET_F_NEEDS_CSUM) return -GSO_BAD_HEADER; /* DATA_VALID etc.: never on TX */
  uint8_t type = h->gso_type & (uint8_t)~VNET_GSO_ECN;
  if (type == VNET_GSO_NONE) {
    if (len > room) return -GSO_BAD_SIZE;
    memcpy(out, pkt, len);
    if (h->flags & VNET_F_NEEDS_CSUM) {
      size_t cs = h->csum_start, co = (size_t)h->csum_start + h->csum_offset;
      if (cs >= len || co + 2 > len) return -GSO_BAD_HEADER;
      /* The field holds the pseudo-header sum: the sum of everything from csum_start. */
      uint16_t c = (uint16_t)~pkt_csum_fold(out + cs, len - cs, 0);
      wr16(out + co, c);
    }
    seg_len[0] = len;
    return 1;
  }
  int tcp = type == VNET_GSO_TCPV4 || type == VNET_GSO_TCPV6;
  if (!tcp && type != VNET_GSO_UDP_L4) return -GSO_BAD_HEADER;
  if (!(h->flags & VNET_F_NEEDS_CSUM)) return -GSO_BAD_HEADER; /* GSO implies CHECKSUM_PARTIAL */
  if (h->gso_size == 0) return -GSO_BAD_SIZE;
  if (len < 20 || h->hdr_len > len) return -GSO_BAD_HEADER;
  int version = pkt[0] >> 4;
  if ((type == VNET_GSO_TCPV4 && version != 4) || (type == VNET_GSO_TCPV6 && version != 6) ||
      (version != 4 && version != 6))
    return -GSO_BAD_PACKET;
  int v6 = version == 6;
  size_t iph = v6 ? 40 : (size_t)(pkt[0] & 0x0f) * 4;
  uint8_t proto = v6 ? (len >= 40 ? pkt[6] : 0) : pkt[9];
  /* No IPv6 extension headers and no IPv4 options beyond the IHL: the L4 header starts where
   * the virtio header says the checksum starts. */
  if (iph < 20 || len < iph || h->csum_start != iph) return -GSO_BAD_PACKET;
  if (proto != (tcp ? 6 : 17) || h->csum_offset != (tcp ? 16 : 6)) return -GSO_BAD_PACKET;
  if (!v6 && ((pkt[6] & 0x3f) != 0 || pkt[7] != 0)) return -GSO_BAD_PACKET; /* a fragment */
  size_t l4h;
  if (tcp) {
    if (len < iph + 20) return -GSO_BAD_PACKET;
    l4h = (size_t)(pkt[iph + 12] >> 4) * 4;
    if (l4h < 20) return -GSO_BAD_PACKET;
  } else
    l4h = 8;
  /* The kernel's hdr_len is a hint only (wireguard-go recomputes it too): ours is exact. */
  size_t hdr = iph + l4h;
  if (hdr > len) return -GSO_BAD_PACKET;
  size_t payload = len - hdr, mss = h->gso_size;
  size_t nseg = payload == 0 ? 1 : (payload + mss - 1) / mss;
  if (nseg > (size_t)max_segs) return -GSO_TOO_MANY_SEGS;
  if (hdr + (payload < mss ? payload : mss) > room || hdr + mss > 65535) return -GSO_BAD_SIZE;
  uint16_t id = v6 ? 0 : rd16(pkt + 4);
  uint32_t seq = tcp ? ((uint32_t)rd16(pkt + iph + 4) << 16) | rd16(pkt + iph + 6) : 0;
  uint8_t tflags = tcp ? pkt[iph + 13] : 0;
  for (size_t i = 0; i < nseg; i++) {
    size_t off = i * mss, n = payload - off < mss ? payload - off : mss;
    uint8_t *o = out + i * stride;
    memcpy(o, pkt, hdr);
    memcpy(o + hdr, pkt + hdr + off, n);
    size_t total = hdr + n;
    if (v6) {
      wr16(o + 4, (uint16_t)(total - 40)); /* RFC 8200 §3: payload length */
    } else {
      wr16(o + 2, (uint16_t)total);
      wr16(o + 4, (uint16_t)(id + i)); /* RFC 6864 §4.1: the ID advances per segment */
      wr16(o + 10, 0);
      wr16(o + 10, (uint16_t)~pkt_csum_fold(o, iph, 0)); /* RFC 791 §3.1 */
    }
    uint8_t *l4 = o + iph;
    size_t l4len = total - iph;
    if (tcp) {
      uint32_t s = seq + (uint32_t)off; /* RFC 9293 §3.4: sequence numbers count payload bytes */
      wr16(l4 + 4, (uint16_t)(s >> 16));
      wr16(l4 + 6, (uint16_t)s);
      uint8_t f = tflags;
      if (i + 1 < nseg) f &= (uint8_t)~0x09; /* FIN 0x01, PSH 0x08: the last segment only */
      if (i > 0) f &= (uint8_t)~0x80;        /* CWR (RFC 3168 §6.1.2): the first only */
      l4[13] = f;
      wr16(l4 + 16, 0);
      uint16_t c = (uint16_t)~pkt_csum_fold(l4, l4len, pseudo_sum(o, v6, 6, l4len));
      wr16(l4 + 16, c);
    } else {
      wr16(l4 + 4, (uint16_t)l4len); /* RFC 768 */
      wr16(l4 + 6, 0);
      uint16_t c = (uint16_t)~pkt_csum_fold(l4, l4len, pseudo_sum(o, v6, 17, l4len));
      wr16(l4 + 6, c == 0 ? 0xffff : c); /* RFC 768: a computed zero is sent as all ones */
    }
    seg_len[i] = total;
  }
  return (int)nseg;
}

/* ------------------------------------------------------------------ GRO (inbound) ---- */

void pkt_gro_reset(gro_table_t *t) {
  t->n = 0;
  t->nfrag = 0;
  t->floor = 0;
}

/* The flow of a packet: 1 with *iph and *l4h set when it is IPv4 (not a fragment) or IPv6 with
 * TCP/UDP right after the fixed header, and the TCP/UDP header is whole; 0 otherwise. */
static int gro_flow(const uint8_t *p, size_t len, size_t *iph, size_t *l4h, uint8_t *proto) {
  if (len < 20) return 0;
  int v = p[0] >> 4;
  if (v == 4) {
    *iph = (size_t)(p[0] & 0x0f) * 4;
    if (*iph < 20 || ((p[6] & 0x3f) | p[7]) != 0) return 0; /* MF or an offset: a fragment */
    *proto = p[9];
  } else if (v == 6) {
    if (len < 40) return 0;
    *iph = 40;
    *proto = p[6];
  } else
    return 0;
  if (*proto == 6) {
    if (len < *iph + 20) return 0;
    *l4h = (size_t)(p[*iph + 12] >> 4) * 4;
    if (*l4h < 20 || len < *iph + *l4h) return 0;
  } else if (*proto == 17) {
    *l4h = 8;
    if (len < *iph + 8) return 0;
  } else
    return 0;
  return 1;
}

/* Same flow: version, addresses, protocol, ports (both packets passed gro_flow). */
static int gro_same_flow(const uint8_t *a, size_t aiph, const uint8_t *b, size_t biph) {
  if ((a[0] >> 4) != (b[0] >> 4)) return 0;
  if ((a[0] >> 4) == 4) {
    if (a[9] != b[9] || memcmp(a + 12, b + 12, 8) != 0) return 0;
  } else if (a[6] != b[6] || memcmp(a + 8, b + 8, 32) != 0)
    return 0;
  return memcmp(a + aiph, b + biph, 4) == 0;
}

/* The TCP/UDP checksum of a whole packet verifies (RFC 9293 §3.1, RFC 768, RFC 8200 §8.1). */
static int gro_l4_csum_ok(const uint8_t *p, size_t len, size_t iph, uint8_t proto) {
  size_t l4len = len - iph;
  return pkt_csum_fold(p + iph, l4len, pseudo_sum(p, (p[0] >> 4) == 6, proto, l4len)) == 0xffff;
}

static int gro_csum_ok(const uint8_t *p, size_t len, size_t iph, uint8_t proto) {
  if ((p[0] >> 4) == 4 && pkt_csum_fold(p, iph, 0) != 0xffff) return 0; /* RFC 791 §3.1 */
  return gro_l4_csum_ok(p, len, iph, proto);
}

/* May `p` (a packet of the item's flow) be appended to item `it`? (Checksums aside.) */
static int gro_can_append(const gro_item_t *it, const uint8_t *p, size_t len, size_t iph,
                          size_t l4h) {
  const uint8_t *h = it->pkt;
  if (it->closed || it->kind == GRO_NONE || iph != it->iph || l4h != it->l4h) return 0;
  if (it->nseg >= GRO_MAX_SEGS) return 0;
  size_t payload = len - iph - l4h;
  if (payload == 0 || payload > it->gso_size || it->total + payload > 65535) return 0;
  /* The IP length agrees with the packet: no trailing bytes would be taken for payload. */
  if ((p[0] >> 4) == 4 ? rd16(p + 2) != len : rd16(p + 4) != len - 40) return 0;
  if ((p[0] >> 4) == 4) {
    /* TOS, DF/reserved bits, TTL equal; the ID the next one (RFC 6864 §4.1). */
    if (iph != 20 || p[1] != h[1] || (p[6] >> 5) != (h[6] >> 5) || p[8] != h[8]) return 0;
    /* The ID one more than the last one's; or, for DF packets (atomic datagrams, RFC 6864 §4.1:
     * their ID means nothing), the same ID throughout, as the kernel's GRO also accepts. */
    uint16_t id = rd16(p + 4);
    int incr = id == it->next_id, fixed = (h[6] & 0x40) && id == rd16(h + 4);
    if (!(incr && it->id_mode != 2) && !(fixed && it->id_mode != 1)) return 0;
  } else if (memcmp(p, h, 4) != 0 || p[7] != h[7])
    return 0; /* version, traffic class, flow label; hop limit */
  const uint8_t *l4 = p + iph, *hl4 = h + it->iph;
  if (it->kind == GRO_TCP) {
    uint8_t f = l4[13];
    if (f != 0x10 && f != 0x18) return 0; /* ACK, or PSH|ACK */
    uint32_t seq = ((uint32_t)rd16(l4 + 4) << 16) | rd16(l4 + 6);
    if (seq != it->next_seq) return 0;
    /* ACK number, data offset/flags byte 12, window, and the options (timestamps) equal. */
    if (memcmp(l4 + 8, hl4 + 8, 4) != 0 || l4[12] != hl4[12] || memcmp(l4 + 14, hl4 + 14, 2) != 0)
      return 0;
    if (l4h > 20 && memcmp(l4 + 20, hl4 + 20, l4h - 20) != 0) return 0;
    if (l4[18] | l4[19]) return 0; /* urgent pointer */
  } else {
    if (rd16(l4 + 4) != len - iph) return 0; /* UDP length agrees */
    if ((l4[6] | l4[7]) == 0) return 0;      /* no checksum (IPv4): cannot go with NEEDS_CSUM */
  }
  return 1;
}

int pkt_gro_add(gro_table_t *t, uint8_t *p, size_t len) {
  if (t->n >= t->cap) return -1;
  size_t iph = 0, l4h = 0;
  uint8_t proto = 0;
  int keyed = !t->off && len <= 65535 && gro_flow(p, len, &iph, &l4h, &proto), bad = 0;
  if (keyed) {
    /* The newest item of this flow, if any is still open. */
    for (int i = t->n - 1; i >= t->floor; i--) {
      gro_item_t *it = &t->items[i];
      if (!it->keyed || !gro_same_flow(it->pkt, it->iph, p, iph)) continue;
      if (t->nfrag < t->cap && gro_can_append(it, p, len, iph, l4h)) {
        uint8_t pr = it->kind == GRO_TCP ? 6 : 17;
        if (!it->csum_ok) {
          if (!gro_csum_ok(it->pkt, it->len, it->iph, pr)) {
            it->closed = 1;
            t->checks_failed++;
            break;
          }
          it->csum_ok = 1;
        }
        if (!gro_csum_ok(p, len, iph, pr)) {
          t->checks_failed++;
          bad = 1;
          break; /* alone, after it, and nothing joins it: the kernel will drop it */
        }
        size_t payload = len - iph - l4h;
        gro_frag_t *f = &t->frags[t->nfrag];
        f->base = p + iph + l4h;
        f->len = payload;
        f->next = -1;
        if (it->last_frag >= 0)
          t->frags[it->last_frag].next = t->nfrag;
        else
          it->first_frag = t->nfrag;
        it->last_frag = t->nfrag++;
        it->total += payload;
        it->nseg++;
        if ((p[0] >> 4) == 4) it->id_mode = rd16(p + 4) == it->next_id ? 1 : 2;
        it->next_id = (uint16_t)(it->next_id + 1);
        if (it->kind == GRO_TCP) {
          it->next_seq += (uint32_t)payload;
          if (p[iph + 13] & 0x08) { /* PSH ends a GRO packet, and goes on it (tcp_gro_receive) */
            it->pkt[it->iph + 13] |= 0x08;
            it->closed = 1;
          }
        }
        if (payload < it->gso_size) it->closed = 1; /* a short segment is the last */
        t->merged++;
        return 1;
      }
      break; /* only the newest item of a flow may grow */
    }
  }
  gro_item_t *it = &t->items[t->n++];
  memset(it, 0, sizeof *it);
  it->pkt = p;
  it->len = it->total = len;
  it->first_frag = it->last_frag = -1;
  it->nseg = 1;
  it->keyed = (uint8_t)keyed;
  if (!keyed) {
    t->floor = t->n; /* nothing after this packet joins anything before it */
    return 0;
  }
  it->iph = (uint8_t)iph;
  it->l4h = (uint8_t)l4h;
  it->closed = (uint8_t)bad;
  size_t payload = len - iph - l4h;
  int v4 = (p[0] >> 4) == 4;
  int len_ok = v4 ? rd16(p + 2) == len : rd16(p + 4) == len - 40;
  const uint8_t *l4 = p + iph;
  if (!len_ok || payload == 0 || (v4 && iph != 20)) {
    it->kind = GRO_NONE;
  } else if (proto == 6) {
    uint8_t f = l4[13];
    it->kind = (f == 0x10 || f == 0x18) && !(l4[18] | l4[19]) ? GRO_TCP : GRO_NONE;
    it->next_seq = (((uint32_t)rd16(l4 + 4) << 16) | rd16(l4 + 6)) + (uint32_t)payload;
    if (f & 0x08) it->closed = 1;
  } else {
    it->kind = t->udp && rd16(l4 + 4) == len - iph && (l4[6] | l4[7]) ? GRO_UDP : GRO_NONE;
  }
  if (payload > 0xffff) it->kind = GRO_NONE;
  it->gso_size = (uint16_t)payload;
  it->next_id = v4 ? (uint16_t)(rd16(p + 4) + 1) : 0;
  return 0;
}

int pkt_gro_finish(gro_table_t *t, int i, uint8_t vnet[VNET_HDR_LEN], struct iovec *iov, int max) {
  gro_item_t *it = &t->items[i];
  if (max < 2 + (it->nseg - 1)) return -1;
  memset(vnet, 0, VNET_HDR_LEN);
  iov[0].iov_base = vnet;
  iov[0].iov_len = VNET_HDR_LEN;
  iov[1].iov_base = it->pkt;
  iov[1].iov_len = it->len;
  if (it->nseg == 1) return 2;
  uint8_t *p = it->pkt;
  int v6 = (p[0] >> 4) == 6;
  size_t iph = it->iph, total = it->total;
  int tcp = it->kind == GRO_TCP;
  if (v6) {
    wr16(p + 4, (uint16_t)(total - 40)); /* RFC 8200 §3 */
  } else {
    wr16(p + 2, (uint16_t)total);
    wr16(p + 10, 0);
    wr16(p + 10, (uint16_t)~pkt_csum_fold(p, iph, 0)); /* RFC 791 §3.1 */
  }
  uint8_t *l4 = p + iph;
  size_t l4len = total - iph;
  if (!tcp) wr16(l4 + 4, (uint16_t)l4len); /* RFC 768 */
  /* The checksum field holds the pseudo-header sum, folded, not complemented: the kernel (or
   * the device it forwards to) completes it over csum_start..end (CHECKSUM_PARTIAL). */
  uint32_t ps = pseudo_sum(p, v6, tcp ? 6 : 17, l4len);
  while (ps >> 16) ps = (ps & 0xffff) + (ps >> 16);
  wr16(l4 + (tcp ? 16 : 6), (uint16_t)ps);
  vnet[0] = VNET_F_NEEDS_CSUM;
  vnet[1] = tcp ? (v6 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4) : VNET_GSO_UDP_L4;
  uint16_t hdr_len = (uint16_t)(iph + it->l4h);
  uint16_t fields[4] = {hdr_len, it->gso_size, (uint16_t)iph, (uint16_t)(tcp ? 16 : 6)};
  for (int k = 0; k < 4; k++) {
    vnet[2 + 2 * k] = (uint8_t)fields[k];
    vnet[3 + 2 * k] = (uint8_t)(fields[k] >> 8);
  }
  int n = 2;
  for (int f = it->first_frag; f >= 0; f = t->frags[f].next) {
    iov[n].iov_base = (void *)t->frags[f].base;
    iov[n].iov_len = t->frags[f].len;
    n++;
  }
  return n;
}
