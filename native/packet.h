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

#endif
