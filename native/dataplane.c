/*
 * ikev2-vpn: the native threaded ESP data plane (part of the esp addon, C). This file holds the
 * threads and the events they post; its N-API side (the exports below, handles, lifecycle) is
 * native/dataplane_js.c, the packet parsing and policies native/packet.c (no N-API), the SA
 * crypto native/esp.c.
 *
 * Two threads of its own move ESP between a TUN descriptor and one UDP socket (ESP in UDP,
 * RFC 3948), so that no packet of the tunnel crosses into JavaScript:
 *
 *   outbound thread: poll(TUN, stop) → read up to BATCH packets → per packet: parse (as
 *     peekPacket, src/core/ip.ts) → newest outbound SA whose policy matches (as matchesOutbound,
 *     src/esp/policy.ts) → seal in place (native/esp.c) → one sendmmsg per batch to the peer
 *     (with UDP GSO, see below, for runs of equal-length packets)
 *   inbound thread: poll(socket, stop) → recvmmsg up to BATCH datagrams (with UDP GRO, each may
 *     be a run of datagrams of one size, split here) → per datagram: classify (RFC 3948 §2: IKE
 *     from port 500, NAT-keepalive, IKE behind the non-ESP marker, ESP) → SA by SPI → open in
 *     place with the anti-replay window (RFC 4303 §3.4.3) → parse the inner packet → inbound
 *     policy check (RFC 4301 §5.2) → write(2) to the TUN descriptor; with IFF_VNET_HDR, through
 *     GRO (pkt_gro_add, native/packet.c): the TCP (and, with USO, UDP) packets of one flow that
 *     follow each other go as one super-packet, one writev
 *
 * The IKE control plane stays on the JavaScript thread: datagrams that are not ESP reach it as
 * events, it sends through dpSend (the same socket), and it installs and removes SAs made by
 * `create` of native/esp.c. The SAs are the same structures as the batch API's, so the packets are
 * byte for byte those of src/esp/sa.ts (the tests compare them).
 *
 * Exports (every entry point checks its arguments and throws TypeError, or RangeError for values
 * of the right type but out of range, before touching anything):
 *   dpOpen(family: 4|6, localPort, limits: {bytes?, packets?}, onEvent) -> handle
 *       UDP socket of that family (IPv6: dual-stack), SO_RCVBUF/SO_SNDBUF 4 MiB (SO_*BUFFORCE
 *       when permitted), bound to the wildcard address : localPort (0 = ephemeral); starts the
 *       inbound thread. Throws Error{code: "EADDRINUSE"|"EACCES"|..., errno} when the socket
 *       cannot be made or bound. The handle's finalizer closes it as dpClose does.
 *   dpLocalPort(h) -> number
 *   dpSend(h, data: Uint8Array, addr: string, port) -> bytes sent | -errno   (IKE, keepalives)
 *   dpSetPeer(h, addr: string, port)         where the outbound thread sends ESP (any time)
 *   dpAttachTun(h, fd)                        starts the outbound thread on this TUN descriptor
 *                                             (IFF_TUN | IFF_NO_PI; made non-blocking; not
 *                                             closed by us: close it only after dpClose)
 *   dpSetOutbound(h, sa, policy: Uint8Array) -> evicted SA handle | undefined
 *                                             newest first, at most 4 (the oldest is evicted)
 *   dpRemoveOutbound(h, spi) -> boolean       removes the newest SA with this SPI
 *   dpAddInbound(h, sa, policy: Uint8Array) -> replaced SA handle | undefined
 *                                             by SPI, at most 8 (same SPI: replaced)
 *   dpRemoveInbound(h, spi) -> boolean
 *   dpAttachTun(h, fd, offloads)              offloads: the TUN_F_* bits tun.open({offload})
 *                                             enabled: the device has IFF_VNET_HDR, the outbound
 *                                             thread splits TSO/USO super-packets (packet.c) and
 *                                             the inbound one writes a virtio_net_hdr: GSO NONE,
 *                                             or TCPV4/TCPV6/UDP_L4 for a GRO super-packet
 *   dpStats(h, out: Float64Array)             the layout below; readable after dpClose too
 *   dpOffloadStats(h) -> [offloads, superPackets, segments, drops, groPackets, groSegments,
 *                         groChecksumErrors, udpGro, udpGroDatagrams, udpGroSegments, groRefused]
 *                                             (drops: inconsistent virtio headers or
 *                                             super-packets; udpGro: 1 if UDP_GRO is on;
 *                                             groRefused: 1 once the device refused a GRO
 *                                             super-packet with EINVAL, after which GRO is off)
 *   dpClose(h)                                idempotent; also from inside onEvent
 *   dpStatsFields: string[]                   the names of the stats slots, in order
 *   socketpairForTests() -> [fd, fd]          TEST ONLY: an AF_UNIX SOCK_SEQPACKET pair
 *                                             (non-blocking, 4 MiB buffers), a TUN stand-in with
 *                                             the same one-packet-per-read/write semantics
 *
 * Policy blob: 40 bytes per traffic selector (RFC 4301 §4.4.1, as src/esp/policy.ts):
 *   [0] side (0 local, 1 remote), [1] family 4|6, [2] protocol (0 any), [3] 0,
 *   [4..19] start address (IPv4 in the first 4 bytes), [20..35] end address,
 *   [36..37] start port (big-endian), [38..39] end port (big-endian).
 *
 * Stats (Float64Array, ≥ ST_LEN = 26 slots), counters updated with relaxed atomics:
 *    0 packetsOut      1 bytesOut (inner bytes)  2 packetsIn        3 bytesIn (inner bytes)
 *    4 msSinceEspOut (-1: never; CLOCK_MONOTONIC)
 *    5 msSinceEspIn (-1: never; only ESP whose ICV verified)
 *    6 keepalivesIn    7 sendErrors              8 tunReadErrors    9 tunWriteErrors
 *   10 eventsDropped  11 batchesOut             12 batchesIn
 *   13.. drops by reason: 13 malformed, 14 no-sa, 15 replay, 16 auth, 17 bad-padding,
 *        18 bad-next-header, 19 dummy, 20 seq-exhausted, 21 no-policy, 22 too-big (the
 *        EspDropReason values of src/esp/sa.ts), then ours: 23 no-tun (ESP arrived before a TUN
 *        was attached), 24 no-peer (a packet to send before dpSetPeer), 25 crypto-error (OpenSSL
 *        failed to seal; never seen in practice)
 *
 * Events (one napi_threadsafe_function, non-blocking calls, queue of EVENT_QUEUE; when it is
 * full the event is counted in eventsDropped and freed; a rekey event is then tried again with
 * the SA's next batch):
 *   onEvent(1, data: Buffer, fromAddr: string, fromPort)   a datagram for the IKE layer: all from
 *       port 500; from any other port those that start with the non-ESP marker (RFC 3948 §2.2),
 *       marker included (src/net/natt.ts classifyUdp4500 strips it)
 *   onEvent(2, spi)   rekey needed, once per installed SA: an outbound SA's sequence number passed
 *       SEQ_SOFT_LIMIT, or either direction passed the byte/packet limits of dpOpen (engine.ts)
 *   onEvent(3, message, "tun"|"socket", errnoName)   a fatal I/O error stopped that thread
 *
 * Threads and locks: out_lock is held by the outbound thread while it uses SAs, policies and the
 * peer for a batch, and by dpSetOutbound / dpRemoveOutbound / dpSetPeer; in_lock likewise for the
 * inbound side. So once dpRemove* returns, no thread touches the SA: JS may wipe it. An installed
 * SA has sa->installed set, and native/esp.c refuses every JS call on it (wipe included). The
 * threads never wait for the JS thread (events are non-blocking), so dpClose may join them from
 * anywhere on the JS thread, inside an event callback included.
 *
 * UDP GSO (UDP_SEGMENT, Linux ≥ 4.18): a run of consecutive equal-length ESP packets of a batch
 * (the last one may be shorter) goes to the kernel as one message of several segments, which it
 * splits into datagrams after one pass through the stack; identical on the wire. If the route's
 * device cannot do it (EIO), GSO is turned off for the data plane; if a segment exceeds the path
 * MTU (EINVAL), it is off for segments that large; the refused packets go out one datagram each.
 * VPN_DP_GSO=0 in the environment turns it off from the start (benchmarks, comparisons).
 *
 * UDP GRO (UDP_GRO, Linux ≥ 5.0, set at dpOpen; VPN_DP_GRO=0 or a refusal: off): the kernel may
 * hand the inbound thread a run of ESP datagrams of one flow and size as one buffer, the size in
 * a cmsg; each is classified and opened on its own, in place, exactly as if received alone.
 *
 * Memory: each thread has BATCH slots of SLOT_SIZE bytes, mapped (not touched) at open: only the
 * pages that packets were written to become resident, a few hundred KiB for MTU-sized packets.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <node_api.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "dp_internal.h"

/* Open data planes: the exit handler stops their threads before OpenSSL cleans up at exit. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static dp_t *g_open;
static int g_atexit;

/* ------------------------------------------------------------------------- events ---- */

static event_t *event_new(int kind, size_t len) {
  event_t *ev = malloc(sizeof *ev + len);
  if (!ev) return NULL;
  memset(ev, 0, sizeof *ev);
  ev->kind = kind;
  ev->len = len;
  return ev;
}

/* Queues an event for the JS thread without blocking; 0 (and counted) when the queue is full. */
static int emit(dp_t *dp, event_t *ev) {
  if (!ev) {
    count(dp, ST_EVENTS_DROPPED, 1);
    return 0;
  }
  if (napi_call_threadsafe_function(dp->tsfn, ev, napi_tsfn_nonblocking) != napi_ok) {
    free(ev);
    count(dp, ST_EVENTS_DROPPED, 1);
    return 0;
  }
  return 1;
}

static void emit_fatal(dp_t *dp, const char *source, int err, const char *what) {
  event_t *ev = event_new(EV_FATAL, 0);
  if (ev) {
    snprintf(ev->text, sizeof ev->text, "%s: %s", what, strerror(err));
    ev->source = source;
    ev->code = nu_errno_name(err);
  }
  emit(dp, ev);
}

static void emit_datagram(dp_t *dp, const uint8_t *p, size_t len,
                          const struct sockaddr_storage *from) {
  event_t *ev = event_new(EV_DATAGRAM, len);
  if (ev) {
    memcpy(ev->data, p, len);
    if (from->ss_family == AF_INET) {
      const struct sockaddr_in *s = (const struct sockaddr_in *)from;
      inet_ntop(AF_INET, &s->sin_addr, ev->addr, sizeof ev->addr);
      ev->port = ntohs(s->sin_port);
    } else {
      const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)from;
      inet_ntop(AF_INET6, &s->sin6_addr, ev->addr, sizeof ev->addr);
      ev->port = ntohs(s->sin6_port);
    }
  }
  emit(dp, ev);
}

/* Is this SA past its soft sequence limit (outbound) or the volume limits (engine.ts)? */
static int over_limits(const dp_t *dp, const sa_t *sa) {
  if (!sa->inbound && sa->seq >= SEQ_SOFT_LIMIT) return 1;
  return (dp->limit_bytes >= 0 && (double)sa->bytes >= dp->limit_bytes) ||
         (dp->limit_packets >= 0 && (double)sa->packets >= dp->limit_packets);
}

/* Once per installed SA; retried with its next batch if the event queue was full. */
static void check_rekey(dp_t *dp, entry_t *e) {
  if (e->rekey_sent || !over_limits(dp, e->sa)) return;
  event_t *ev = event_new(EV_REKEY, 0);
  if (ev) ev->spi = e->sa->spi;
  if (emit(dp, ev)) e->rekey_sent = 1;
}

/* ----------------------------------------------------------------- outbound thread ---- */

typedef struct {
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    size_t align; /* cmsghdr alignment */
  } ctl[BATCH];
  size_t lens[BATCH];  /* inner packet lengths as read */
  size_t slens[BATCH]; /* sealed lengths, compacted */
  uint8_t *vbuf;       /* IFF_VNET_HDR: virtio_net_hdr ‖ super-packet, as read */
} out_scratch_t;

/*
 * IFF_VNET_HDR: splits what is in s->vbuf (got bytes) into the slots n, n+1, ... (at most the
 * BATCH - n left), as a NIC would (pkt_gso_split, native/packet.c). The number of packets, or
 * minus a gso_err_t (-GSO_TOO_MANY_SEGS: no room left in this batch).
 */
static int vnet_split(dp_t *dp, out_scratch_t *s, size_t got, int n) {
  vnet_hdr_t h;
  if (pkt_vnet_parse(s->vbuf, got, &h) != GSO_OK) return -GSO_BAD_HEADER;
  size_t len = got - VNET_HDR_LEN;
  if (len > MAX_INNER) return -GSO_BAD_SIZE;
  int k = pkt_gso_split(&h, s->vbuf + VNET_HDR_LEN, len,
                        dp->out_slots + (size_t)n * SLOT_SIZE + HEADROOM, SLOT_SIZE, MAX_INNER,
                        &s->lens[n], BATCH - n);
  if (k > 0 && (h.gso_type & ~VNET_GSO_ECN) != VNET_GSO_NONE) {
    atomic_fetch_add_explicit(&dp->vnet_super, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&dp->vnet_segments, (uint64_t)k, memory_order_relaxed);
  }
  return k;
}

/* Waits until the socket can take more (or stop / timeout). 1: try again. */
static int wait_writable(dp_t *dp) {
  struct pollfd pfd[2] = {{dp->sock, POLLOUT, 0}, {dp->evfd, POLLIN, 0}};
  int r = poll(pfd, 2, 1000);
  if (r <= 0) return r < 0 && errno == EINTR;
  if (pfd[1].revents) return 0;
  return 1;
}

/*
 * Sends the sealed packets (iov[0..m), in order) to the peer: one sendmmsg for the batch, a
 * message per datagram, or per run of equal-length datagrams with UDP GSO. Returns 0, or an errno
 * that makes the socket unusable.
 */
static int send_out(dp_t *dp, out_scratch_t *s, int m, const struct sockaddr_storage *peer,
                    socklen_t peer_len) {
  int nmsg = 0, i = 0;
  size_t gso_max = (size_t)atomic_load_explicit(&dp->gso_max, memory_order_relaxed);
  int pkts_in_msg[BATCH];
  while (i < m) {
    int k = 1;
    size_t seg = s->slens[i], total = seg;
    if (seg <= gso_max) /* a run of seg-sized packets, ended by one of any size up to seg */
      while (i + k < m && k < GSO_MAX_SEGS && s->slens[i + k - 1] == seg &&
             s->slens[i + k] <= seg && total + s->slens[i + k] <= GSO_MAX_BYTES) {
        total += s->slens[i + k];
        k++;
      }
    struct msghdr *h = &s->msgs[nmsg].msg_hdr;
    memset(h, 0, sizeof *h);
    h->msg_name = (void *)peer;
    h->msg_namelen = peer_len;
    h->msg_iov = &s->iov[i];
    h->msg_iovlen = (size_t)k;
    if (k > 1) {
      h->msg_control = s->ctl[nmsg].buf;
      h->msg_controllen = sizeof s->ctl[nmsg].buf;
      struct cmsghdr *c = CMSG_FIRSTHDR(h);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      uint16_t gs = (uint16_t)seg;
      memcpy(CMSG_DATA(c), &gs, sizeof gs);
    }
    pkts_in_msg[nmsg++] = k;
    i += k;
  }
  int off = 0;
  uint64_t sent = 0, errors = 0;
  int fatal = 0;
  while (off < nmsg) {
    int r = sendmmsg(dp->sock, s->msgs + off, (unsigned)(nmsg - off), 0);
    if (r > 0) {
      for (int j = off; j < off + r; j++) sent += (uint64_t)pkts_in_msg[j];
      off += r;
      continue;
    }
    int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      /* The socket buffer is full: wait (back-pressure to the TUN queue) rather than drop. */
      if (wait_writable(dp)) continue;
      for (int j = off; j < nmsg; j++) errors += (uint64_t)pkts_in_msg[j];
      break;
    }
    if (err == EBADF || err == ENOTSOCK) {
      fatal = err;
      for (int j = off; j < nmsg; j++) errors += (uint64_t)pkts_in_msg[j];
      break;
    }
    if (pkts_in_msg[off] > 1 && (err == EIO || err == EINVAL || err == EOPNOTSUPP)) {
      /*
       * The kernel refused the GSO message: the route's device cannot offload the checksum (EIO)
       * — no GSO from now on — or a segment plus headers exceeds the path MTU (EINVAL) — no GSO
       * for segments this large. This run goes out one datagram each.
       */
      struct msghdr *h = &s->msgs[off].msg_hdr;
      int lower = err == EINVAL ? (int)h->msg_iov[0].iov_len - 1 : 0;
      if (lower < atomic_load(&dp->gso_max)) atomic_store(&dp->gso_max, lower);
      for (size_t q = 0; q < h->msg_iovlen; q++) {
        ssize_t w;
        do
          w = sendto(dp->sock, h->msg_iov[q].iov_base, h->msg_iov[q].iov_len, 0,
                     (const struct sockaddr *)peer, peer_len);
        while (w < 0 && errno == EINTR);
        if (w < 0)
          errors++;
        else
          sent++;
      }
      off++;
      continue;
    }
    /* This message failed (EMSGSIZE, ENETUNREACH, EPERM from a firewall...): skip it. */
    errors += (uint64_t)pkts_in_msg[off];
    off++;
  }
  count(dp, ST_SEND_ERRORS, errors);
  if (sent) atomic_store_explicit(&dp->last_out_ns, now_ns(), memory_order_relaxed);
  return fatal;
}

/* Policy lookup and sealing of n packets read into the slots; then sends them. */
static int process_out(dp_t *dp, out_scratch_t *s, int n) {
  uint64_t drops[DROP_COUNT + 1] = {0};
  uint64_t pk = 0, by = 0;
  int m = 0;
  struct sockaddr_storage peer;
  socklen_t peer_len = 0;
  size_t peer_max = 0;
  pthread_mutex_lock(&dp->out_lock);
  int has_peer = dp->has_peer;
  if (has_peer) {
    peer = dp->peer;
    peer_len = dp->peer_len;
    peer_max = dp->peer_max;
  }
  for (int i = 0; i < n; i++) {
    uint8_t *slot = dp->out_slots + (size_t)i * SLOT_SIZE;
    uint8_t *pkt = slot + HEADROOM;
    size_t len = s->lens[i];
    pkt_info_t info;
    if (!pkt_peek(pkt, len, &info)) {
      drops[DROP_MALFORMED]++;
      continue;
    }
    entry_t *e = NULL;
    for (int j = 0; j < dp->nout; j++)
      if (pkt_policy_matches(&dp->out[j].pol, &info, 0)) {
        e = &dp->out[j];
        break;
      }
    if (!e) {
      drops[DROP_NO_POLICY]++;
      continue;
    }
    sa_t *sa = e->sa;
    if (sa->seq >= SEQ_MAX) { /* RFC 4303 §3.3.3: never reuse a sequence number */
      drops[DROP_SEQ_EXHAUSTED]++;
      continue;
    }
    size_t slen = esp_sealed_len(sa, len);
    if (!has_peer) {
      drops[DROP_NO_PEER]++;
      continue;
    }
    if (slen > peer_max) {
      drops[DROP_TOO_BIG]++;
      continue;
    }
    if (!esp_seal_one(sa, pkt, len, info.version == 4 ? NH_IPV4 : NH_IPV6, slot)) {
      drops[DROP_CRYPTO]++;
      continue;
    }
    s->iov[m].iov_base = slot;
    s->iov[m].iov_len = slen;
    s->slens[m] = slen;
    m++;
    pk++;
    by += len;
  }
  for (int j = 0; j < dp->nout; j++) check_rekey(dp, &dp->out[j]);
  pthread_mutex_unlock(&dp->out_lock);
  count(dp, ST_PACKETS_OUT, pk);
  count(dp, ST_BYTES_OUT, by);
  count(dp, ST_BATCHES_OUT, 1);
  for (int c = 1; c <= DROP_COUNT; c++) count_drop(dp, c, drops[c]);
  if (m == 0) return 0;
  return send_out(dp, s, m, &peer, peer_len);
}

/*
 * Waits until pfd[0] (the TUN descriptor or the socket) is readable: 1. Or 0 when the thread must
 * end: dpClose signalled pfd[1] (the eventfd), or the descriptor failed (reported as fatal).
 */
static int wait_readable(dp_t *dp, struct pollfd pfd[2], const char *source, const char *what) {
  for (;;) {
    if (poll(pfd, 2, -1) < 0) {
      if (errno == EINTR) continue;
      emit_fatal(dp, source, errno, "poll");
      return 0;
    }
    if (pfd[1].revents) return 0; /* dpClose */
    if (pfd[0].revents & POLLNVAL) {
      emit_fatal(dp, source, EBADF, what);
      return 0;
    }
    return 1;
  }
}

static void *out_main(void *arg) {
  dp_t *dp = (dp_t *)arg;
  int tun = atomic_load(&dp->tun_fd);
  out_scratch_t *s = calloc(1, sizeof *s);
  if (!s) {
    emit_fatal(dp, "tun", ENOMEM, "outbound thread");
    return NULL;
  }
  int vnet = dp->tun_offloads != 0;
  if (vnet && !(s->vbuf = malloc(VNET_HDR_LEN + MAX_INNER + 1))) {
    free(s);
    emit_fatal(dp, "tun", ENOMEM, "outbound thread");
    return NULL;
  }
  struct pollfd pfd[2] = {{tun, POLLIN, 0}, {dp->evfd, POLLIN, 0}};
  int read_errors = 0;
  /* An AF_UNIX SOCK_DGRAM pair in place of the TUN device (proxy mode: ocproxy at the other
   * end) has no end of file: a 0-byte read is an empty datagram, ocproxy's once-a-second check
   * that we are alive. Skip it. (SOCK_SEQPACKET stand-ins in tests do signal EOF with 0.) */
  int sotype = 0;
  socklen_t solen = sizeof sotype;
  int dgram = getsockopt(tun, SOL_SOCKET, SO_TYPE, &sotype, &solen) == 0 && sotype == SOCK_DGRAM;
  while (!atomic_load_explicit(&dp->stop, memory_order_relaxed)) {
    if (!wait_readable(dp, pfd, "tun", "TUN descriptor")) break;
    int fatal = 0;
    /* Drain the TUN queue a batch at a time, looking at the stop flag between batches. */
    while (!fatal && !atomic_load_explicit(&dp->stop, memory_order_relaxed)) {
      int n = 0, drained = 0;
      while (n < BATCH) {
        ssize_t got =
            vnet ? read(tun, s->vbuf, VNET_HDR_LEN + MAX_INNER + 1)
                 : read(tun, dp->out_slots + (size_t)n * SLOT_SIZE + HEADROOM, MAX_INNER + 1);
        if (got > 0 && vnet) {
          read_errors = 0;
          int k = vnet_split(dp, s, (size_t)got, n);
          if (k == -GSO_TOO_MANY_SEGS && n > 0) {
            /* Not enough slots left in this batch: send what it holds, then split. */
            int err = process_out(dp, s, n);
            n = 0;
            if (err) {
              emit_fatal(dp, "socket", err, "sendmmsg");
              fatal = 1;
              break;
            }
            k = vnet_split(dp, s, (size_t)got, 0);
          }
          if (k > 0)
            n += k;
          else /* an inconsistent virtio header or super-packet: a counted drop */
            atomic_fetch_add_explicit(&dp->vnet_drops, 1, memory_order_relaxed);
          continue;
        }
        if (got > 0) {
          s->lens[n++] = (size_t)got;
          read_errors = 0;
          continue;
        }
        if (got < 0 && errno == EINTR) continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          drained = 1;
          break;
        }
        if (got == 0 && dgram) continue;
        if (got == 0) { /* end of file: not a TUN device (a closed socketpair in tests) */
          emit_fatal(dp, "tun", EBADF, "TUN descriptor reached end of file");
          fatal = 1;
          break;
        }
        int err = errno;
        count(dp, ST_TUN_READ_ERRORS, 1);
        if (err == EBADF || err == EBADFD || err == EINVAL || err == EFAULT ||
            ++read_errors >= MAX_READ_ERRORS) {
          emit_fatal(dp, "tun", err, "TUN read");
          fatal = 1;
        }
        drained = 1;
        break;
      }
      if (n > 0) {
        int err = process_out(dp, s, n);
        if (err) {
          emit_fatal(dp, "socket", err, "sendmmsg");
          fatal = 1;
        }
      }
      if (drained || n < BATCH) break;
    }
    if (fatal) break;
  }
  free(s->vbuf);
  free(s);
  return NULL;
}

/* ------------------------------------------------------------------ inbound thread ---- */

typedef struct {
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  struct sockaddr_storage from[BATCH];
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    size_t align; /* cmsghdr alignment */
  } ctl[BATCH];
  /* Inner packets to write to the TUN, in order: a plain device takes them one write each; with
   * IFF_VNET_HDR they go through the GRO table (pkt_gro_add, native/packet.c). */
  const uint8_t *wr[IN_MAX_PKTS];
  size_t wr_len[IN_MAX_PKTS];
  int nwr;
  gro_table_t gro;
  gro_item_t gro_items[IN_MAX_PKTS];
  gro_frag_t gro_frags[IN_MAX_PKTS];
  struct iovec wiov[2 + GRO_MAX_SEGS];
} in_scratch_t;

static inline uint16_t port_of(const struct sockaddr_storage *ss) {
  if (ss->ss_family == AF_INET) return ntohs(((const struct sockaddr_in *)ss)->sin_port);
  if (ss->ss_family == AF_INET6) return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
  return 0;
}

/* The segment size of a coalesced datagram (UDP GRO cmsg), or 0. */
static size_t gro_segment_size(struct msghdr *h) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c))
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO &&
        c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int v;
      memcpy(&v, CMSG_DATA(c), sizeof v);
      return v > 0 ? (size_t)v : 0;
    }
  return 0;
}

/*
 * Writes what s holds to the TUN device and empties it: with IFF_VNET_HDR each GRO item as one
 * writev (virtio_net_hdr ‖ first packet ‖ appended payloads); else one write per packet.
 */
static void in_flush(dp_t *dp, in_scratch_t *s, int tun) {
  uint64_t werr = 0, super = 0, segs = 0;
  if (dp->tun_offloads) {
    uint8_t vnet[VNET_HDR_LEN];
    for (int k = 0; k < s->gro.n; k++) {
      int n = pkt_gro_finish(&s->gro, k, vnet, s->wiov, 2 + GRO_MAX_SEGS);
      if (n < 2) { /* cannot happen: an item has at most GRO_MAX_SEGS packets */
        werr++;
        continue;
      }
      size_t want = 0;
      for (int q = 0; q < n; q++) want += s->wiov[q].iov_len;
      ssize_t w;
      do w = writev(tun, s->wiov, n);
      while (w < 0 && errno == EINTR);
      int nseg = s->gro.items[k].nseg;
      if (w < 0 && errno == EINVAL && nseg > 1) {
        /* The device refused a GSO super-packet: no GRO from now on (these packets are lost,
         * TCP sends them again); single packets behind a GSO NONE header still go. */
        s->gro.off = 1;
        atomic_store_explicit(&dp->gro_refused, 1, memory_order_relaxed);
      }
      if (w != (ssize_t)want) /* EAGAIN included: the packets are dropped */
        werr += (uint64_t)nseg;
      else if (nseg > 1) {
        super++;
        segs += (uint64_t)nseg;
      }
    }
    count(dp, ST_TUN_WRITE_ERRORS, werr);
    if (super) {
      atomic_fetch_add_explicit(&dp->gro_super, super, memory_order_relaxed);
      atomic_fetch_add_explicit(&dp->gro_segments, segs, memory_order_relaxed);
    }
    if (s->gro.checks_failed) {
      atomic_fetch_add_explicit(&dp->gro_csum_bad, s->gro.checks_failed, memory_order_relaxed);
      s->gro.checks_failed = 0;
    }
    pkt_gro_reset(&s->gro);
    return;
  }
  for (int k = 0; k < s->nwr; k++) {
    ssize_t w;
    do w = write(tun, s->wr[k], s->wr_len[k]);
    while (w < 0 && errno == EINTR);
    if (w != (ssize_t)s->wr_len[k]) werr++; /* EAGAIN included: the packet is dropped */
  }
  count(dp, ST_TUN_WRITE_ERRORS, werr);
  s->nwr = 0;
}

/* Queues an opened inner packet for the TUN device (flushing first when the table is full). */
static void in_queue(dp_t *dp, in_scratch_t *s, int tun, uint8_t *inner, size_t len) {
  if (dp->tun_offloads) {
    if (pkt_gro_add(&s->gro, inner, len) >= 0) return;
    in_flush(dp, s, tun);
    pkt_gro_add(&s->gro, inner, len); /* an empty table always takes it */
    return;
  }
  if (s->nwr == IN_MAX_PKTS) in_flush(dp, s, tun);
  s->wr[s->nwr] = inner;
  s->wr_len[s->nwr++] = len;
}

static void process_in(dp_t *dp, in_scratch_t *s, int n) {
  uint64_t drops[DROP_COUNT + 1] = {0};
  uint64_t pk = 0, by = 0, keepalives = 0, gro_msgs = 0, gro_segs = 0;
  int authenticated = 0;
  int tun = atomic_load_explicit(&dp->tun_fd, memory_order_acquire); /* then tun_offloads */
  /* USO on the device: UDP may be coalesced too (the kernel takes GSO_UDP_L4 from Linux 6.2). */
  s->gro.udp = (dp->tun_offloads & (0x20 | 0x40)) == (0x20 | 0x40);
  pthread_mutex_lock(&dp->in_lock);
  for (int i = 0; i < n; i++) {
    uint8_t *msg = dp->in_slots + (size_t)i * SLOT_SIZE;
    size_t mlen = s->msgs[i].msg_len;
    if (s->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
      drops[DROP_MALFORMED]++;
      continue;
    }
    /* UDP GRO: mlen bytes of datagrams of seg bytes each (the last may be shorter). */
    size_t seg = dp->udp_gro ? gro_segment_size(&s->msgs[i].msg_hdr) : 0;
    if (seg == 0 || seg >= mlen)
      seg = mlen;
    else {
      gro_msgs++;
      gro_segs += (mlen + seg - 1) / seg;
    }
    for (size_t off = 0; off < mlen || (mlen == 0 && off == 0); off += seg ? seg : 1) {
      uint8_t *p = msg + off;
      size_t len = mlen - off < seg ? mlen - off : seg;
      switch (pkt_classify_udp(port_of(&s->from[i]), p, len)) { /* RFC 3948 §2 */
        case UDP_IKE: emit_datagram(dp, p, len, &s->from[i]); continue;
        case UDP_KEEPALIVE: keepalives++; continue;
        case UDP_MALFORMED: drops[DROP_MALFORMED]++; continue;
        case UDP_ESP: break;
      }
      uint32_t spi = get_be32(p);
      entry_t *e = NULL;
      for (int j = 0; j < dp->nin; j++)
        if (dp->in[j].sa->spi == spi) {
          e = &dp->in[j];
          break;
        }
      if (!e) {
        drops[DROP_NO_SA]++;
        continue;
      }
      size_t plen = 0;
      uint8_t nh = 0;
      /* RFC 4303 §3.4: length, SPI, replay check, ICV, replay commit (§3.4.3), padding, NH.
       * The inner packet is written in place, inside this datagram's own bytes. */
      int code = esp_open_one(e->sa, p, len, p + HEADROOM, &plen, &nh);
      if (code == 0 || code > DROP_AUTH) authenticated = 1;
      if (code) {
        drops[code]++;
        continue;
      }
      uint8_t *inner = p + HEADROOM;
      pkt_info_t info;
      if (!pkt_peek(inner, plen, &info) || (info.version == 4) != (nh == NH_IPV4)) {
        drops[DROP_MALFORMED]++;
        continue;
      }
      /* RFC 4301 §5.2: the inner packet must match the SA's selectors. */
      if (!pkt_policy_matches(&e->pol, &info, 1)) {
        drops[DROP_NO_POLICY]++;
        continue;
      }
      check_rekey(dp, e);
      if (tun < 0) {
        drops[DROP_NO_TUN]++;
        continue;
      }
      pk++;
      by += plen;
      in_queue(dp, s, tun, inner, plen);
    }
  }
  pthread_mutex_unlock(&dp->in_lock);
  if (authenticated) atomic_store_explicit(&dp->last_in_ns, now_ns(), memory_order_relaxed);
  count(dp, ST_PACKETS_IN, pk);
  count(dp, ST_BYTES_IN, by);
  count(dp, ST_KEEPALIVES_IN, keepalives);
  count(dp, ST_BATCHES_IN, 1);
  for (int c = 1; c <= DROP_COUNT; c++) count_drop(dp, c, drops[c]);
  if (gro_msgs) {
    atomic_fetch_add_explicit(&dp->udpgro_msgs, gro_msgs, memory_order_relaxed);
    atomic_fetch_add_explicit(&dp->udpgro_segs, gro_segs, memory_order_relaxed);
  }
  if (tun >= 0) in_flush(dp, s, tun);
}

static void *in_main(void *arg) {
  dp_t *dp = (dp_t *)arg;
  in_scratch_t *s = calloc(1, sizeof *s);
  if (!s) {
    emit_fatal(dp, "socket", ENOMEM, "inbound thread");
    return NULL;
  }
  s->gro.items = s->gro_items;
  s->gro.frags = s->gro_frags;
  s->gro.cap = IN_MAX_PKTS;
  pkt_gro_reset(&s->gro);
  for (int i = 0; i < BATCH; i++) {
    s->iov[i].iov_base = dp->in_slots + (size_t)i * SLOT_SIZE;
    s->iov[i].iov_len = SLOT_SIZE;
  }
  struct pollfd pfd[2] = {{dp->sock, POLLIN, 0}, {dp->evfd, POLLIN, 0}};
  while (!atomic_load_explicit(&dp->stop, memory_order_relaxed)) {
    if (!wait_readable(dp, pfd, "socket", "UDP socket")) break;
    int fatal = 0;
    while (!atomic_load_explicit(&dp->stop, memory_order_relaxed)) {
      for (int i = 0; i < BATCH; i++) {
        struct msghdr *h = &s->msgs[i].msg_hdr;
        memset(h, 0, sizeof *h);
        h->msg_name = &s->from[i];
        h->msg_namelen = sizeof s->from[i];
        h->msg_iov = &s->iov[i];
        h->msg_iovlen = 1;
        if (dp->udp_gro) {
          h->msg_control = s->ctl[i].buf;
          h->msg_controllen = sizeof s->ctl[i].buf;
        }
      }
      int n = recvmmsg(dp->sock, s->msgs, BATCH, MSG_DONTWAIT, NULL);
      if (n < 0) {
        int err = errno;
        if (err == EINTR) continue;
        if (err == EAGAIN || err == EWOULDBLOCK) break;
        if (err == EBADF || err == ENOTSOCK || err == EFAULT || err == EINVAL) {
          emit_fatal(dp, "socket", err, "recvmmsg");
          fatal = 1;
        }
        break; /* a reported ICMP error (ECONNREFUSED...): poll again */
      }
      if (n == 0) break;
      process_in(dp, s, n);
      if (n < BATCH) break;
    }
    if (fatal) break;
  }
  free(s);
  return NULL;
}

/* ---------------------------------------------------------------- thread lifecycle ---- */

void dp_stop_threads(dp_t *dp) {
  atomic_store(&dp->stop, 1);
  if (dp->evfd >= 0) {
    uint64_t one = 1;
    ssize_t w = write(dp->evfd, &one, sizeof one);
    (void)w;
  }
  pthread_mutex_lock(&g_lock);
  if (dp->in_started) pthread_join(dp->in_thr, NULL);
  if (dp->out_started) pthread_join(dp->out_thr, NULL);
  dp->in_started = dp->out_started = 0;
  pthread_mutex_unlock(&g_lock);
}

/* At exit (process.exit included): no thread of ours may run while OpenSSL cleans up. */
static void stop_all_at_exit(void) {
  for (;;) {
    pthread_mutex_lock(&g_lock);
    dp_t *dp = g_open;
    if (dp) g_open = dp->next;
    pthread_mutex_unlock(&g_lock);
    if (!dp) return;
    dp_stop_threads(dp);
  }
}

void dp_unlist(dp_t *dp) {
  pthread_mutex_lock(&g_lock);
  for (dp_t **pp = &g_open; *pp; pp = &(*pp)->next)
    if (*pp == dp) {
      *pp = dp->next;
      break;
    }
  pthread_mutex_unlock(&g_lock);
}

int dp_start_inbound(dp_t *dp) {
  pthread_mutex_lock(&g_lock);
  if (!g_atexit) g_atexit = atexit(stop_all_at_exit) == 0;
  dp->next = g_open;
  g_open = dp;
  int rc = pthread_create(&dp->in_thr, NULL, in_main, dp);
  if (rc == 0) dp->in_started = 1;
  pthread_mutex_unlock(&g_lock);
  return rc;
}

int dp_start_outbound(dp_t *dp) {
  pthread_mutex_lock(&g_lock);
  int rc = pthread_create(&dp->out_thr, NULL, out_main, dp);
  if (rc == 0) dp->out_started = 1;
  pthread_mutex_unlock(&g_lock);
  return rc;
}
