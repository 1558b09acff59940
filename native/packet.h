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

/* ---- TUN offloads (IFF_VNET_HDR): the virtio_net_hdr in front of every packet ---- */

/* struct virtio_net_hdr (linux/virtio_net.h): 10 bytes, little-endian on the hosts we run on. */
#define VNET_HDR_LEN 10
#define VNET_F_NEEDS_CSUM 1
#define VNET_GSO_NONE 0
#define VNET_GSO_TCPV4 1
#define VNET_GSO_UDP 3 /* UFO: never asked for (TUN_F_UFO is not set) */
#define VNET_GSO_TCPV6 4
#define VNET_GSO_UDP_L4 5 /* USO (TUN_F_USO4 / TUN_F_USO6) */
#define VNET_GSO_ECN 0x80
/* At most this many segments from one super-packet (64 KiB / a 1024-byte MSS). */
#define VNET_MAX_SEGS 64

typedef struct {
  uint8_t flags, gso_type;
  uint16_t hdr_len, gso_size, csum_start, csum_offset;
} vnet_hdr_t;

typedef enum {
  GSO_OK = 0,
  GSO_BAD_HEADER,    /* short, unknown gso_type or flags, offsets beyond the packet */
  GSO_BAD_PACKET,    /* the IP/TCP/UDP headers disagree with the virtio header */
  GSO_BAD_SIZE,      /* gso_size 0, or a segment larger than the room for it */
  GSO_TOO_MANY_SEGS, /* more than max_segs segments */
} gso_err_t;

/* Parses the 10-byte virtio_net_hdr at p (len bytes available). */
PKT_HIDDEN gso_err_t pkt_vnet_parse(const uint8_t *p, size_t len, vnet_hdr_t *h);

/* Writes a virtio_net_hdr with gso_type NONE and no flags (a packet that is complete). */
PKT_HIDDEN void pkt_vnet_none(uint8_t *p);

/*
 * What a NIC does with a TSO/USO super-packet (the kernel's tcp_gso_segment / udp4_ufo_fragment
 * semantics, as wireguard-go's tun/offload_linux.go gsoSplit): splits the IP packet `pkt` (`len`
 * bytes, after its virtio header `h`) into segments of at most h->gso_size bytes of payload, the
 * i-th written at out + i * stride (at most `room` bytes each), its length in seg_len[i]:
 *   IPv4: total length, ID + i, header checksum; IPv6: payload length;
 *   TCP: sequence number + i * gso_size, PSH and FIN on the last segment only, CWR on the first
 *   only, checksum with the pseudo-header (RFC 9293 §3.1); UDP: length and checksum (RFC 768).
 * gso_type NONE: one segment, with the checksum completed when NEEDS_CSUM is set (the field holds
 * the pseudo-header sum; the sum from csum_start to the end goes there, complemented).
 * Returns the number of segments (≥ 1), or minus a gso_err_t; nothing is read outside pkt[0..len).
 */
PKT_HIDDEN int pkt_gso_split(const vnet_hdr_t *h, const uint8_t *pkt, size_t len, uint8_t *out,
                             size_t stride, size_t room, size_t *seg_len, int max_segs);

/* The Internet checksum (RFC 1071) of p[0..len) added to `initial`, folded, not complemented. */
PKT_HIDDEN uint16_t pkt_csum_fold(const uint8_t *p, size_t len, uint32_t initial);

/* ---- GRO: coalescing inbound packets into super-packets for a TUN with IFF_VNET_HDR ---- */

/*
 * A table of the packets of one batch, in arrival order: each becomes an item (written alone) or
 * is appended to the newest item of its flow, which then goes to the TUN device as one
 * super-packet behind a virtio_net_hdr (GSO_TCPV4/TCPV6 or GSO_UDP_L4, NEEDS_CSUM), as a NIC's
 * GRO would hand it to the kernel (the kernel's tcp_gro_receive / udp_gro_receive rules,
 * wireguard-go's tun/offload_linux.go handleGRO). A packet is appended only when:
 *   - same flow: IP version, addresses, protocol, ports; and it is the newest item of the flow
 *     (so nothing of a flow is ever reordered), and no packet without ports (ICMP, a fragment, an
 *     IPv6 extension header) came in between (that closes every open item);
 *   - IPv4 without options, not a fragment, the same TOS, TTL and DF, the ID one more than the
 *     last one's (so the kernel's own segmentation, if it forwards the super-packet, gives back
 *     the original headers) or, with DF, the same ID throughout (RFC 6864 §4.1); IPv6 with TCP/UDP
 * right after the fixed header, the same first word (traffic class, flow label) and hop limit;
 * header lengths consistent with the packet;
 *   - TCP: flags ACK or ACK|PSH only, the same ACK number, window and header length with the same
 *     option bytes (timestamps equal), sequence number = the item's next one, a payload of 1 up
 *     to the item's segment size; an item with PSH, or whose last segment was short, is closed;
 *   - UDP (only with `udp` set: the device accepts USO): payload 1 up to the item's segment size,
 *     none after a short one, a non-zero checksum;
 *   - its checksum (and the item's first packet's, and the IPv4 header checksum) verifies: the
 *     super-packet goes up with NEEDS_CSUM (CHECKSUM_PARTIAL), so the kernel will not check it
 *     again — a packet with a bad checksum goes alone and the kernel drops it;
 *   - the super-packet stays within 65535 bytes and GRO_MAX_SEGS segments.
 * Packets are not copied: an item is its first packet (whose headers pkt_gro_finish rewrites)
 * and the payloads appended to it, as pointers; they must stay valid until the table is written.
 */
#define GRO_MAX_SEGS 64

typedef struct {
  uint8_t *pkt;      /* the first packet */
  size_t len;        /* its length; the super-packet's is len + the appended payloads */
  size_t total;      /* length of the super-packet so far */
  int first_frag;    /* index of the first appended payload in the table's frags, or -1 */
  int last_frag;     /* the last one */
  uint16_t nseg;     /* packets in this item */
  uint16_t gso_size; /* payload of the first packet */
  uint16_t next_id;  /* IPv4: the ID the next segment must have */
  uint8_t kind;      /* GRO_NONE (alone), GRO_TCP, GRO_UDP */
  uint8_t iph, l4h;  /* header lengths */
  uint8_t closed;    /* nothing more may be appended */
  uint8_t csum_ok;   /* the first packet's checksum was verified */
  uint8_t keyed;     /* has a flow key: addresses, protocol, ports */
  uint8_t id_mode;   /* IPv4 IDs of the segments: 0 one segment, 1 advancing, 2 fixed (DF) */
  uint32_t next_seq; /* TCP: the sequence number that may follow */
} gro_item_t;

typedef struct {
  const uint8_t *base;
  size_t len;
  int next; /* the next payload of the same item, or -1 */
} gro_frag_t;

typedef struct {
  gro_item_t *items;
  gro_frag_t *frags;
  int cap;   /* room for cap items and cap frags */
  int n;     /* items */
  int nfrag; /* frags */
  int floor; /* items below this index are closed (a packet without ports came after them) */
  int udp;   /* coalesce UDP too (the device has USO) */
  int off;   /* coalesce nothing: every packet its own item (the device refused a super-packet) */
  uint64_t merged, checks_failed;
} gro_table_t;

enum { GRO_NONE = 0, GRO_TCP = 1, GRO_UDP = 2 };

/* Empties the table (items and frags: arrays of cap entries owned by the caller). */
PKT_HIDDEN void pkt_gro_reset(gro_table_t *t);

/*
 * Adds the IP packet pkt[0..len) (a complete, parsed inner packet: its length agrees with its IP
 * header) to the table: appended to an item (1) or a new item (0); -1 when the table is full
 * (the caller writes it out, resets and adds again). The headers of an item's first packet may
 * be rewritten later (pkt_gro_finish); appended packets are only read.
 */
PKT_HIDDEN int pkt_gro_add(gro_table_t *t, uint8_t *pkt, size_t len);

/*
 * Item i ready to write: the virtio_net_hdr into vnet (NONE for a single packet; for a
 * super-packet GSO_TCPV4/TCPV6/UDP_L4 with NEEDS_CSUM, csum_start = IP header length, the IP
 * total/payload length, IPv4 header checksum, UDP length, and the TCP/UDP checksum field set to
 * the pseudo-header sum as a NIC leaves it), then iov[0] = vnet, iov[1] = the first packet,
 * iov[2...] = the appended payloads. Returns the number of iovecs (≤ 1 + GRO_MAX_SEGS), or -1 if
 * max is too small.
 */
struct iovec;
PKT_HIDDEN int pkt_gro_finish(gro_table_t *t, int i, uint8_t vnet[VNET_HDR_LEN], struct iovec *iov,
                              int max);

#endif
