/*
 * ikev2-vpn: the native threaded ESP data plane (part of the esp addon, N-API, C).
 *
 * Two threads of its own move ESP between a TUN descriptor and one UDP socket (ESP in UDP,
 * RFC 3948), so that no packet of the tunnel crosses into JavaScript:
 *
 *   outbound thread: poll(TUN, stop) → read up to BATCH packets → per packet: parse (as
 *     peekPacket, src/core/ip.ts) → newest outbound SA whose policy matches (as matchesOutbound,
 *     src/esp/policy.ts) → seal in place (native/esp.c) → one sendmmsg per batch to the peer
 *     (with UDP GSO, see below, for runs of equal-length packets)
 *   inbound thread: poll(socket, stop) → recvmmsg up to BATCH datagrams → per datagram: classify
 *     (RFC 3948 §2: IKE from port 500, NAT-keepalive, IKE behind the non-ESP marker, ESP) → SA by
 *     SPI → open in place with the anti-replay window (RFC 4303 §3.4.3) → parse the inner packet
 *     → inbound policy check (RFC 4301 §5.2) → write(2) to the TUN descriptor
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
 *   dpStats(h, out: Float64Array)             the layout below; readable after dpClose too
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

#include "esp_core.h"
#include "packet.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

#define BATCH 64
/* Room for any UDP datagram (inbound) and for 16 + 65535 + 5 + 16 bytes of ESP (outbound). */
#define SLOT_SIZE (65536 + 128)
#define HEADROOM (ESP_HDR + ESP_IV) /* a TUN packet is read here and sealed in place */
#define MAX_INNER 65535
#define MAX_OUT_SAS 4
#define MAX_IN_SAS 8
#define EVENT_QUEUE 1024
/* GSO: at most this many segments per message, and the whole of it within an IP datagram. */
#define GSO_MAX_SEGS 64
#define GSO_MAX_BYTES 65000
/* Consecutive failed TUN reads (other than EAGAIN) after which the outbound thread gives up. */
#define MAX_READ_ERRORS 1000

/* Our drop reasons, after the EspDropReason values (esp_core.h). */
enum { DROP_NO_TUN = 11, DROP_NO_PEER = 12, DROP_CRYPTO = 13, DROP_COUNT = 13 };

enum {
  ST_PACKETS_OUT,
  ST_BYTES_OUT,
  ST_PACKETS_IN,
  ST_BYTES_IN,
  ST_MS_ESP_OUT,
  ST_MS_ESP_IN,
  ST_KEEPALIVES_IN,
  ST_SEND_ERRORS,
  ST_TUN_READ_ERRORS,
  ST_TUN_WRITE_ERRORS,
  ST_EVENTS_DROPPED,
  ST_BATCHES_OUT,
  ST_BATCHES_IN,
  ST_DROPS, /* + code - 1 */
  ST_LEN = ST_DROPS + DROP_COUNT,
};

static const char *const STAT_NAMES[ST_LEN] = {
    "packetsOut",    "bytesOut",     "packetsIn",     "bytesIn",        "msSinceEspOut",
    "msSinceEspIn",  "keepalivesIn", "sendErrors",    "tunReadErrors",  "tunWriteErrors",
    "eventsDropped", "batchesOut",   "batchesIn",     "malformed",      "no-sa",
    "replay",        "auth",         "bad-padding",   "bad-next-header", "dummy",
    "seq-exhausted", "no-policy",    "too-big",       "no-tun",         "no-peer",
    "crypto-error",
};

enum { EV_DATAGRAM = 1, EV_REKEY = 2, EV_FATAL = 3 };

#define DP_MAGIC 0x44504c4eu /* "DPLN" */
static const napi_type_tag DP_TAG = {0x6b6576325f64706cULL, 0x5f68616e646c6531ULL};

typedef struct {
  sa_t *sa;
  napi_ref ref; /* keeps the SA's handle (and so the SA) alive while installed */
  policy_t pol;
  int rekey_sent; /* the rekey event went out for this SA */
} entry_t;

typedef struct {
  int kind;
  uint32_t spi;
  int port;
  char addr[INET6_ADDRSTRLEN];
  char text[200];
  const char *source;
  const char *code;
  size_t len;
  uint8_t data[];
} event_t;

typedef struct dp {
  uint32_t magic;
  napi_env env;
  int family;
  int sock;
  int evfd;
  uint16_t port;
  _Atomic int tun_fd;
  _Atomic int stop;
  _Atomic int gso_max; /* UDP GSO for ESP packets up to this size (0: off; lowered on refusals) */
  int closed;
  int hook_added;
  int refs; /* the handle's finalizer and the threadsafe function's each hold one */
  pthread_t in_thr, out_thr;
  int in_started, out_started; /* cleared once joined (under g_lock) */
  pthread_mutex_t out_lock, in_lock;
  entry_t out[MAX_OUT_SAS]; /* newest first */
  int nout;
  entry_t in[MAX_IN_SAS];
  int nin;
  /* where ESP goes (under out_lock) */
  struct sockaddr_storage peer;
  socklen_t peer_len;
  size_t peer_max; /* largest UDP payload towards the peer */
  int has_peer;
  double limit_bytes, limit_packets; /* < 0: none */
  napi_threadsafe_function tsfn;
  _Atomic uint64_t st[ST_LEN];
  _Atomic int64_t last_out_ns, last_in_ns; /* 0: never */
  uint8_t *out_slots, *in_slots;
  struct dp *next; /* open data planes, for the exit handler */
} dp_t;

/* Open data planes: the exit handler stops their threads before OpenSSL cleans up at exit. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static dp_t *g_open;
static int g_atexit;

/* ------------------------------------------------------------------------- helpers ---- */

static inline void count(dp_t *dp, int slot, uint64_t n) {
  if (n) atomic_fetch_add_explicit(&dp->st[slot], n, memory_order_relaxed);
}

static inline void count_drop(dp_t *dp, int code, uint64_t n) { count(dp, ST_DROPS + code - 1, n); }

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static dp_t *get_dp(napi_env env, napi_value v, int open_only) {
  dp_t *dp = nu_get_tagged(env, v, &DP_TAG);
  if (dp == NULL || dp->magic != DP_MAGIC) {
    nu_throw_type(env, "expected a data plane handle");
    return NULL;
  }
  if (open_only && dp->closed) {
    nu_throw_plain(env, "ERR_DP_CLOSED", "the data plane is closed");
    return NULL;
  }
  return dp;
}

/* An IP address of the data plane's family (IPv4 also on an IPv6 socket: mapped) and a port. */
static int get_endpoint(napi_env env, dp_t *dp, napi_value addr_v, napi_value port_v,
                        struct sockaddr_storage *ss, socklen_t *len, size_t *max_payload) {
  char addr[INET6_ADDRSTRLEN + 1];
  size_t alen = 0;
  napi_valuetype t;
  uint32_t port;
  if (napi_typeof(env, addr_v, &t) != napi_ok || t != napi_string ||
      napi_get_value_string_utf8(env, addr_v, addr, sizeof addr, &alen) != napi_ok ||
      alen >= sizeof addr - 1 || strlen(addr) != alen) {
    nu_throw_type(env, "address must be an IP address string");
    return 0;
  }
  if (!nu_get_uint(env, port_v, 65535, &port)) {
    nu_throw_type(env, "port must be an integer from 1 to 65535");
    return 0;
  }
  if (port == 0) {
    nu_throw_range(env, "port must be an integer from 1 to 65535");
    return 0;
  }
  memset(ss, 0, sizeof *ss);
  struct in_addr a4;
  if (dp->family == 4) {
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1) {
      nu_throw_type(env, "address must be an IPv4 address (the data plane's family)");
      return 0;
    }
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    *len = sizeof *sin;
    *max_payload = 65535 - 20 - 8;
    return 1;
  }
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons((uint16_t)port);
  *len = sizeof *sin6;
  if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
    *max_payload = IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) ? 65535 - 20 - 8 : 65535 - 8;
    return 1;
  }
  if (inet_pton(AF_INET, addr, &a4) == 1) {
    sin6->sin6_addr.s6_addr[10] = 0xff;
    sin6->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&sin6->sin6_addr.s6_addr[12], &a4, 4);
    *max_payload = 65535 - 20 - 8;
    return 1;
  }
  nu_throw_type(env, "address must be an IP address");
  return 0;
}

/* Parses a policy blob (see the top); throws and returns 0 when it is not one. */
static int parse_policy(napi_env env, napi_value v, policy_t *pol) {
  const uint8_t *b;
  size_t len;
  pol->sel = NULL;
  pol->n = 0;
  if (!nu_get_bytes(env, v, 0, &b, &len)) {
    nu_throw_type(env, "policy must be a Uint8Array (40 bytes per traffic selector)");
    return 0;
  }
  switch (pkt_policy_parse(b, len, pol)) {
    case POLICY_OK: return 1;
    case POLICY_BAD_LENGTH:
      nu_throw_range(env, "policy: expected a multiple of 40 bytes, at most 256 selectors");
      return 0;
    case POLICY_BAD_SELECTOR:
      nu_throw_range(env, "policy: a selector has a bad side, family or reserved byte");
      return 0;
    default: nu_throw_plain(env, "ENOMEM", "out of memory"); return 0;
  }
}

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

/* Runs on the JS thread; env is NULL when the function is torn down with events queued. */
static void call_js(napi_env env, napi_value cb, void *context, void *data) {
  (void)context;
  event_t *ev = (event_t *)data;
  if (env != NULL && cb != NULL) {
    napi_value argv[4], global, result;
    size_t argc = 0;
    napi_create_int32(env, ev->kind, &argv[argc++]);
    if (ev->kind == EV_DATAGRAM) {
      void *copy;
      napi_create_buffer_copy(env, ev->len, ev->data, &copy, &argv[argc++]);
      napi_create_string_utf8(env, ev->addr, NAPI_AUTO_LENGTH, &argv[argc++]);
      napi_create_int32(env, ev->port, &argv[argc++]);
    } else if (ev->kind == EV_REKEY) {
      napi_create_uint32(env, ev->spi, &argv[argc++]);
    } else {
      napi_create_string_utf8(env, ev->text, NAPI_AUTO_LENGTH, &argv[argc++]);
      napi_create_string_utf8(env, ev->source, NAPI_AUTO_LENGTH, &argv[argc++]);
      napi_create_string_utf8(env, ev->code, NAPI_AUTO_LENGTH, &argv[argc++]);
    }
    napi_get_global(env, &global);
    if (napi_call_function(env, global, cb, argc, argv, &result) == napi_pending_exception) {
      /* Nothing up the stack can catch it: report it like any uncaught exception. */
      napi_value exc;
      if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
    }
  }
  free(ev);
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
} out_scratch_t;

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
        do w = sendto(dp->sock, h->msg_iov[q].iov_base, h->msg_iov[q].iov_len, 0,
                      (const struct sockaddr *)peer, peer_len);
        while (w < 0 && errno == EINTR);
        if (w < 0) errors++;
        else sent++;
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
  struct pollfd pfd[2] = {{tun, POLLIN, 0}, {dp->evfd, POLLIN, 0}};
  int read_errors = 0;
  while (!atomic_load_explicit(&dp->stop, memory_order_relaxed)) {
    if (!wait_readable(dp, pfd, "tun", "TUN descriptor")) break;
    int fatal = 0;
    /* Drain the TUN queue a batch at a time, looking at the stop flag between batches. */
    while (!fatal && !atomic_load_explicit(&dp->stop, memory_order_relaxed)) {
      int n = 0, drained = 0;
      while (n < BATCH) {
        ssize_t got = read(tun, dp->out_slots + (size_t)n * SLOT_SIZE + HEADROOM, MAX_INNER + 1);
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
  free(s);
  return NULL;
}

/* ------------------------------------------------------------------ inbound thread ---- */

typedef struct {
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  struct sockaddr_storage from[BATCH];
  const uint8_t *wr[BATCH]; /* inner packets to write to the TUN, in order */
  size_t wr_len[BATCH];
} in_scratch_t;

static inline uint16_t port_of(const struct sockaddr_storage *ss) {
  if (ss->ss_family == AF_INET) return ntohs(((const struct sockaddr_in *)ss)->sin_port);
  if (ss->ss_family == AF_INET6) return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
  return 0;
}

static void process_in(dp_t *dp, in_scratch_t *s, int n) {
  uint64_t drops[DROP_COUNT + 1] = {0};
  uint64_t pk = 0, by = 0, keepalives = 0;
  int nwr = 0, authenticated = 0;
  int tun = atomic_load_explicit(&dp->tun_fd, memory_order_relaxed);
  pthread_mutex_lock(&dp->in_lock);
  for (int i = 0; i < n; i++) {
    uint8_t *p = dp->in_slots + (size_t)i * SLOT_SIZE;
    size_t len = s->msgs[i].msg_len;
    if (s->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
      drops[DROP_MALFORMED]++;
      continue;
    }
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
    /* RFC 4303 §3.4: length, SPI, replay check, ICV, replay commit (§3.4.3), padding, NH. */
    int code = esp_open_one(e->sa, p, len, p + HEADROOM, &plen, &nh);
    if (code == 0 || code > DROP_AUTH) authenticated = 1;
    if (code) {
      drops[code]++;
      continue;
    }
    const uint8_t *inner = p + HEADROOM;
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
    s->wr[nwr] = inner;
    s->wr_len[nwr++] = plen;
  }
  pthread_mutex_unlock(&dp->in_lock);
  if (authenticated) atomic_store_explicit(&dp->last_in_ns, now_ns(), memory_order_relaxed);
  count(dp, ST_PACKETS_IN, pk);
  count(dp, ST_BYTES_IN, by);
  count(dp, ST_KEEPALIVES_IN, keepalives);
  count(dp, ST_BATCHES_IN, 1);
  for (int c = 1; c <= DROP_COUNT; c++) count_drop(dp, c, drops[c]);
  uint64_t werr = 0;
  for (int k = 0; k < nwr; k++) {
    ssize_t w;
    do w = write(tun, s->wr[k], s->wr_len[k]);
    while (w < 0 && errno == EINTR);
    if (w != (ssize_t)s->wr_len[k]) werr++; /* EAGAIN included: the packet is dropped */
  }
  count(dp, ST_TUN_WRITE_ERRORS, werr);
}

static void *in_main(void *arg) {
  dp_t *dp = (dp_t *)arg;
  in_scratch_t *s = calloc(1, sizeof *s);
  if (!s) {
    emit_fatal(dp, "socket", ENOMEM, "inbound thread");
    return NULL;
  }
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

/* ------------------------------------------------------------------- lifecycle ---- */

static void entry_release(napi_env env, entry_t *e) {
  if (e->sa) e->sa->installed--;
  if (e->ref && env) napi_delete_reference(env, e->ref);
  pkt_policy_free(&e->pol);
  memset(e, 0, sizeof *e);
}

static void dp_free(dp_t *dp) {
  size_t slots = (size_t)BATCH * SLOT_SIZE;
  if (dp->out_slots) munmap(dp->out_slots, slots);
  if (dp->in_slots) munmap(dp->in_slots, slots);
  pthread_mutex_destroy(&dp->out_lock);
  pthread_mutex_destroy(&dp->in_lock);
  OPENSSL_cleanse(dp, sizeof *dp);
  free(dp);
}

static void dp_unref(dp_t *dp) {
  if (--dp->refs == 0) dp_free(dp);
}

/* Stops and joins the threads (any thread may call this: the JS one or the exit handler). */
static void stop_threads(dp_t *dp) {
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
    stop_threads(dp);
  }
}

static void unlist(dp_t *dp) {
  pthread_mutex_lock(&g_lock);
  for (dp_t **pp = &g_open; *pp; pp = &(*pp)->next)
    if (*pp == dp) {
      *pp = dp->next;
      break;
    }
  pthread_mutex_unlock(&g_lock);
}

static void env_cleanup(void *arg);

/*
 * dpClose: threads first (after the joins nothing else touches the SAs, the socket or the
 * function), then the socket, the SA references, and the threadsafe function (queued events are
 * discarded). `env` is NULL from the environment's cleanup hook, where references are left to
 * the environment's own teardown.
 */
static void dp_close(napi_env env, dp_t *dp) {
  if (dp->closed) return;
  dp->closed = 1;
  stop_threads(dp);
  unlist(dp);
  if (dp->hook_added && env) napi_remove_env_cleanup_hook(env, env_cleanup, dp);
  dp->hook_added = 0;
  if (dp->sock >= 0) close(dp->sock);
  if (dp->evfd >= 0) close(dp->evfd);
  dp->sock = dp->evfd = -1;
  for (int j = 0; j < dp->nout; j++) entry_release(env, &dp->out[j]);
  for (int j = 0; j < dp->nin; j++) entry_release(env, &dp->in[j]);
  dp->nout = dp->nin = 0;
  if (dp->tsfn) napi_release_threadsafe_function(dp->tsfn, napi_tsfn_abort);
}

static void env_cleanup(void *arg) {
  dp_t *dp = (dp_t *)arg;
  dp->hook_added = 0;
  dp_close(NULL, dp);
}

static void tsfn_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  dp_t *dp = (dp_t *)data;
  dp->tsfn = NULL;
  dp_unref(dp);
}

static void dp_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  dp_t *dp = (dp_t *)data;
  dp_close(env, dp);
  dp_unref(dp);
}

static int set_buffer(int sock, int force_opt, int opt, int size) {
  if (setsockopt(sock, SOL_SOCKET, force_opt, &size, sizeof size) == 0) return 1;
  return setsockopt(sock, SOL_SOCKET, opt, &size, sizeof size) == 0;
}

static int get_limit(napi_env env, napi_value obj, const char *name, double *out) {
  napi_value v;
  napi_valuetype t;
  bool has = false;
  *out = -1;
  if (napi_has_named_property(env, obj, name, &has) != napi_ok) return 0;
  if (!has) return 1;
  if (napi_get_named_property(env, obj, name, &v) != napi_ok || napi_typeof(env, v, &t) != napi_ok)
    return 0;
  if (t == napi_undefined) return 1;
  if (t != napi_number || napi_get_value_double(env, v, out) != napi_ok) return 0;
  return *out >= 0 && *out <= 1.8446744073709552e19; /* not NaN, not negative */
}

static napi_value js_dp_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  uint32_t family, port;
  napi_valuetype t;
  double lb = -1, lp = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4)
    return nu_throw_type(env, "dpOpen(family, localPort, limits, onEvent): bad arguments");
  if (!nu_get_uint(env, argv[0], 6, &family) || (family != 4 && family != 6))
    return nu_throw_type(env, "dpOpen: family must be 4 or 6");
  if (!nu_get_uint(env, argv[1], 65535, &port))
    return nu_throw_type(env, "dpOpen: localPort must be an integer from 0 to 65535");
  if (napi_typeof(env, argv[2], &t) != napi_ok || (t != napi_object && t != napi_undefined))
    return nu_throw_type(env, "dpOpen: limits must be an object { bytes?, packets? }");
  if (t == napi_object &&
      (!get_limit(env, argv[2], "bytes", &lb) || !get_limit(env, argv[2], "packets", &lp))) {
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return NULL;
    return nu_throw_type(env, "dpOpen: limits.bytes and limits.packets must be numbers >= 0");
  }
  if (napi_typeof(env, argv[3], &t) != napi_ok || t != napi_function)
    return nu_throw_type(env, "dpOpen: onEvent must be a function");

  int af = family == 4 ? AF_INET : AF_INET6;
  int sock = socket(af, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (sock < 0) return nu_throw_errno(env, errno, "socket");
  int zero = 0;
  if (af == AF_INET6) setsockopt(sock, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  set_buffer(sock, SO_RCVBUFFORCE, SO_RCVBUF, 4 << 20);
  set_buffer(sock, SO_SNDBUFFORCE, SO_SNDBUF, 4 << 20);
  struct sockaddr_storage ss;
  socklen_t sl;
  memset(&ss, 0, sizeof ss);
  if (af == AF_INET) {
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_ANY);
    sin->sin_port = htons((uint16_t)port);
    sl = sizeof *sin;
  } else {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_addr = in6addr_any;
    sin6->sin6_port = htons((uint16_t)port);
    sl = sizeof *sin6;
  }
  if (bind(sock, (struct sockaddr *)&ss, sl) < 0) {
    int err = errno;
    close(sock);
    return nu_throw_errno(env, err, "bind");
  }
  sl = sizeof ss;
  if (getsockname(sock, (struct sockaddr *)&ss, &sl) < 0) {
    int err = errno;
    close(sock);
    return nu_throw_errno(env, err, "getsockname");
  }
  int evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (evfd < 0) {
    int err = errno;
    close(sock);
    return nu_throw_errno(env, err, "eventfd");
  }
  dp_t *dp = calloc(1, sizeof *dp);
  size_t slots = (size_t)BATCH * SLOT_SIZE;
  void *out_slots = mmap(NULL, slots, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  void *in_slots = mmap(NULL, slots, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (!dp || out_slots == MAP_FAILED || in_slots == MAP_FAILED) {
    if (out_slots != MAP_FAILED) munmap(out_slots, slots);
    if (in_slots != MAP_FAILED) munmap(in_slots, slots);
    free(dp);
    close(sock);
    close(evfd);
    return nu_throw_errno(env, ENOMEM, "dpOpen");
  }
  dp->magic = DP_MAGIC;
  dp->env = env;
  dp->family = (int)family;
  dp->sock = sock;
  dp->evfd = evfd;
  dp->port = ntohs(af == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                 : ((struct sockaddr_in6 *)&ss)->sin6_port);
  atomic_init(&dp->tun_fd, -1);
  const char *gso_env = getenv("VPN_DP_GSO");
  atomic_init(&dp->gso_max, gso_env && strcmp(gso_env, "0") == 0 ? 0 : SLOT_SIZE);
  dp->limit_bytes = lb;
  dp->limit_packets = lp;
  dp->out_slots = out_slots;
  dp->in_slots = in_slots;
  pthread_mutex_init(&dp->out_lock, NULL);
  pthread_mutex_init(&dp->in_lock, NULL);
  dp->refs = 1; /* this call's, handed to the handle below */

  napi_value name;
  napi_create_string_utf8(env, "ikev2-vpn:dataplane", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[3], NULL, name, EVENT_QUEUE, 1, dp, tsfn_finalize,
                                      NULL, call_js, &dp->tsfn) != napi_ok) {
    dp->closed = 1;
    close(sock);
    close(evfd);
    dp_unref(dp);
    return nu_throw_plain(env, "ERR_DP_NATIVE", "dpOpen: cannot create the event function");
  }
  dp->refs++; /* the threadsafe function's (tsfn_finalize) */
  napi_value ext;
  if (napi_create_external(env, dp, dp_finalize, NULL, &ext) != napi_ok ||
      napi_type_tag_object(env, ext, &DP_TAG) != napi_ok) {
    /* Without a handle nobody can close it: do it now (the external, if any, still unrefs). */
    dp_close(env, dp);
    return nu_throw_plain(env, "ERR_DP_NATIVE", "dpOpen: cannot create the handle");
  }
  napi_add_env_cleanup_hook(env, env_cleanup, dp);
  dp->hook_added = 1;
  pthread_mutex_lock(&g_lock);
  if (!g_atexit) g_atexit = atexit(stop_all_at_exit) == 0;
  dp->next = g_open;
  g_open = dp;
  int rc = pthread_create(&dp->in_thr, NULL, in_main, dp);
  if (rc == 0) dp->in_started = 1;
  pthread_mutex_unlock(&g_lock);
  if (rc != 0) {
    dp_close(env, dp);
    return nu_throw_errno(env, rc, "dpOpen: cannot start the inbound thread");
  }
  return ext;
}

static napi_value js_dp_local_port(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1)
    return nu_throw_type(env, "dpLocalPort(handle): bad arguments");
  dp_t *dp = get_dp(env, argv[0], 0);
  if (!dp) return NULL;
  napi_create_uint32(env, dp->port, &out);
  return out;
}

static napi_value js_dp_send(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], out;
  const uint8_t *data;
  size_t len, max;
  struct sockaddr_storage ss;
  socklen_t sl;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4)
    return nu_throw_type(env, "dpSend(handle, data, address, port): bad arguments");
  dp_t *dp = get_dp(env, argv[0], 0);
  if (!dp) return NULL;
  if (!nu_get_bytes(env, argv[1], 0, &data, &len))
    return nu_throw_type(env, "dpSend: data must be a Uint8Array");
  if (!get_endpoint(env, dp, argv[2], argv[3], &ss, &sl, &max)) return NULL;
  ssize_t n;
  if (dp->closed) {
    n = -1;
    errno = EBADF;
  } else {
    do n = sendto(dp->sock, data, len, 0, (struct sockaddr *)&ss, sl);
    while (n < 0 && errno == EINTR);
  }
  if (n < 0) {
    int err = errno;
    count(dp, ST_SEND_ERRORS, 1);
    napi_create_int32(env, -err, &out);
  } else {
    napi_create_int32(env, (int32_t)n, &out);
  }
  return out;
}

static napi_value js_dp_set_peer(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  struct sockaddr_storage ss;
  socklen_t sl;
  size_t max;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3)
    return nu_throw_type(env, "dpSetPeer(handle, address, port): bad arguments");
  dp_t *dp = get_dp(env, argv[0], 1);
  if (!dp) return NULL;
  if (!get_endpoint(env, dp, argv[1], argv[2], &ss, &sl, &max)) return NULL;
  pthread_mutex_lock(&dp->out_lock);
  dp->peer = ss;
  dp->peer_len = sl;
  dp->peer_max = max;
  dp->has_peer = 1;
  pthread_mutex_unlock(&dp->out_lock);
  return NULL;
}

static napi_value js_dp_attach_tun(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  uint32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2)
    return nu_throw_type(env, "dpAttachTun(handle, fd): bad arguments");
  dp_t *dp = get_dp(env, argv[0], 1);
  if (!dp) return NULL;
  if (!nu_get_uint(env, argv[1], 2147483647.0, &fd))
    return nu_throw_type(env, "dpAttachTun: fd must be a non-negative integer");
  if (atomic_load(&dp->tun_fd) >= 0)
    return nu_throw_plain(env, "ERR_DP_TUN_ATTACHED", "a TUN descriptor is attached already");
  int fl = fcntl((int)fd, F_GETFL);
  if (fl < 0) return nu_throw_errno(env, errno, "dpAttachTun");
  if (!(fl & O_NONBLOCK) && fcntl((int)fd, F_SETFL, fl | O_NONBLOCK) < 0)
    return nu_throw_errno(env, errno, "dpAttachTun: fcntl");
  atomic_store(&dp->tun_fd, (int)fd);
  pthread_mutex_lock(&g_lock);
  int rc = pthread_create(&dp->out_thr, NULL, out_main, dp);
  if (rc == 0) dp->out_started = 1;
  pthread_mutex_unlock(&g_lock);
  if (rc != 0) {
    atomic_store(&dp->tun_fd, -1);
    return nu_throw_errno(env, rc, "dpAttachTun: cannot start the outbound thread");
  }
  return NULL;
}

/*
 * The entry dpSetOutbound / dpAddInbound install: the SA, its parsed policy and a reference that
 * keeps the SA's handle alive while installed. 0 (with a JS exception pending) on failure.
 */
static int make_entry(napi_env env, napi_value sa_v, sa_t *sa, napi_value policy_v, entry_t *e) {
  policy_t pol;
  if (!parse_policy(env, policy_v, &pol)) return 0;
  *e = (entry_t){sa, NULL, pol, 0};
  if (napi_create_reference(env, sa_v, 1, &e->ref) != napi_ok) {
    pkt_policy_free(&pol);
    nu_throw_plain(env, "ERR_DP_NATIVE", "cannot reference the SA");
    return 0;
  }
  sa->installed++;
  return 1;
}

/* The handle of an entry being dropped (for the caller to wipe), then the entry released. */
static napi_value release_returning(napi_env env, entry_t *e) {
  napi_value h = NULL;
  if (e->ref) napi_get_reference_value(env, e->ref, &h);
  entry_release(env, e);
  return h ? h : nu_undefined(env);
}

static napi_value js_dp_set_outbound(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3)
    return nu_throw_type(env, "dpSetOutbound(handle, sa, policy): bad arguments");
  dp_t *dp = get_dp(env, argv[0], 1);
  if (!dp) return NULL;
  sa_t *sa = esp_get_sa(env, argv[1], 0);
  entry_t e;
  if (!sa || !make_entry(env, argv[1], sa, argv[2], &e)) return NULL;
  entry_t evicted;
  int has_evicted = 0;
  pthread_mutex_lock(&dp->out_lock);
  if (dp->nout == MAX_OUT_SAS) {
    evicted = dp->out[MAX_OUT_SAS - 1];
    has_evicted = 1;
    dp->nout--;
  }
  memmove(&dp->out[1], &dp->out[0], (size_t)dp->nout * sizeof dp->out[0]);
  dp->out[0] = e;
  dp->nout++;
  pthread_mutex_unlock(&dp->out_lock);
  return has_evicted ? release_returning(env, &evicted) : nu_undefined(env);
}

static napi_value js_dp_add_inbound(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3)
    return nu_throw_type(env, "dpAddInbound(handle, sa, policy): bad arguments");
  dp_t *dp = get_dp(env, argv[0], 1);
  if (!dp) return NULL;
  sa_t *sa = esp_get_sa(env, argv[1], 1);
  if (!sa) return NULL;
  int slot = -1;
  for (int j = 0; j < dp->nin; j++)
    if (dp->in[j].sa->spi == sa->spi) slot = j;
  if (slot < 0 && dp->nin == MAX_IN_SAS)
    return nu_throw_range(env, "dpAddInbound: at most 8 inbound SAs");
  entry_t e;
  if (!make_entry(env, argv[1], sa, argv[2], &e)) return NULL;
  entry_t replaced;
  pthread_mutex_lock(&dp->in_lock);
  if (slot >= 0) {
    replaced = dp->in[slot];
    dp->in[slot] = e;
  } else {
    dp->in[dp->nin++] = e;
  }
  pthread_mutex_unlock(&dp->in_lock);
  return slot >= 0 ? release_returning(env, &replaced) : nu_undefined(env);
}

static napi_value remove_sa(napi_env env, napi_callback_info info, int inbound) {
  size_t argc = 2;
  napi_value argv[2], out;
  uint32_t spi;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2)
    return nu_throw_type(env, "dpRemove*(handle, spi): bad arguments");
  dp_t *dp = get_dp(env, argv[0], 0);
  if (!dp) return NULL;
  if (!nu_get_uint(env, argv[1], 4294967295.0, &spi))
    return nu_throw_type(env, "dpRemove*: spi must be an integer from 0 to 2^32 - 1");
  entry_t removed;
  int found = 0;
  pthread_mutex_t *lock = inbound ? &dp->in_lock : &dp->out_lock;
  entry_t *list = inbound ? dp->in : dp->out;
  int *n = inbound ? &dp->nin : &dp->nout;
  pthread_mutex_lock(lock);
  for (int j = 0; j < *n; j++)
    if (list[j].sa->spi == spi) { /* outbound: the newest with this SPI, as engine.ts */
      removed = list[j];
      memmove(&list[j], &list[j + 1], (size_t)(*n - j - 1) * sizeof list[0]);
      (*n)--;
      found = 1;
      break;
    }
  pthread_mutex_unlock(lock);
  /* From here on no thread can reach the SA: JS may wipe it. */
  if (found) entry_release(env, &removed);
  napi_get_boolean(env, found, &out);
  return out;
}

static napi_value js_dp_remove_outbound(napi_env env, napi_callback_info info) {
  return remove_sa(env, info, 0);
}

static napi_value js_dp_remove_inbound(napi_env env, napi_callback_info info) {
  return remove_sa(env, info, 1);
}

static napi_value js_dp_stats(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  bool is_typed = false;
  napi_typedarray_type tt;
  size_t len, off;
  void *data = NULL;
  napi_value ab;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2)
    return nu_throw_type(env, "dpStats(handle, out): bad arguments");
  dp_t *dp = get_dp(env, argv[0], 0);
  if (!dp) return NULL;
  if (napi_is_typedarray(env, argv[1], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[1], &tt, &len, &data, &ab, &off) != napi_ok ||
      tt != napi_float64_array || len < ST_LEN || data == NULL)
    return nu_throw_type(env,
                          "dpStats: out must be a Float64Array of dpStatsFields.length or more");
  double *out = (double *)data;
  for (int k = 0; k < ST_LEN; k++)
    out[k] = (double)atomic_load_explicit(&dp->st[k], memory_order_relaxed);
  int64_t now = now_ns();
  int64_t lo = atomic_load_explicit(&dp->last_out_ns, memory_order_relaxed);
  int64_t li = atomic_load_explicit(&dp->last_in_ns, memory_order_relaxed);
  out[ST_MS_ESP_OUT] = lo ? (double)(now - lo) / 1e6 : -1;
  out[ST_MS_ESP_IN] = li ? (double)(now - li) / 1e6 : -1;
  return NULL;
}

static napi_value js_dp_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1)
    return nu_throw_type(env, "dpClose(handle): bad arguments");
  dp_t *dp = get_dp(env, argv[0], 0);
  if (!dp) return NULL;
  dp_close(env, dp);
  return NULL;
}

/* TEST ONLY: a TUN stand-in, two ends of an AF_UNIX SOCK_SEQPACKET pair (one packet per call). */
static napi_value js_socketpair_for_tests(napi_env env, napi_callback_info info) {
  (void)info;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
    return nu_throw_errno(env, errno, "socketpair");
  for (int k = 0; k < 2; k++) {
    set_buffer(sv[k], SO_SNDBUFFORCE, SO_SNDBUF, 4 << 20);
    set_buffer(sv[k], SO_RCVBUFFORCE, SO_RCVBUF, 4 << 20);
  }
  napi_value arr, a, b;
  napi_create_array_with_length(env, 2, &arr);
  napi_create_int32(env, sv[0], &a);
  napi_create_int32(env, sv[1], &b);
  napi_set_element(env, arr, 0, a);
  napi_set_element(env, arr, 1, b);
  return arr;
}

int dp_register(napi_env env, napi_value exports) {
  napi_value fields;
  if (napi_create_array_with_length(env, ST_LEN, &fields) != napi_ok) return 0;
  for (uint32_t k = 0; k < ST_LEN; k++) {
    napi_value s;
    if (napi_create_string_utf8(env, STAT_NAMES[k], NAPI_AUTO_LENGTH, &s) != napi_ok ||
        napi_set_element(env, fields, k, s) != napi_ok)
      return 0;
  }
  napi_object_freeze(env, fields);
  napi_property_descriptor props[] = {
      {"dpStatsFields", NULL, NULL, NULL, NULL, fields, napi_enumerable, NULL},
      {"dpOpen", NULL, js_dp_open, NULL, NULL, NULL, napi_default, NULL},
      {"dpLocalPort", NULL, js_dp_local_port, NULL, NULL, NULL, napi_default, NULL},
      {"dpSend", NULL, js_dp_send, NULL, NULL, NULL, napi_default, NULL},
      {"dpSetPeer", NULL, js_dp_set_peer, NULL, NULL, NULL, napi_default, NULL},
      {"dpAttachTun", NULL, js_dp_attach_tun, NULL, NULL, NULL, napi_default, NULL},
      {"dpSetOutbound", NULL, js_dp_set_outbound, NULL, NULL, NULL, napi_default, NULL},
      {"dpRemoveOutbound", NULL, js_dp_remove_outbound, NULL, NULL, NULL, napi_default, NULL},
      {"dpAddInbound", NULL, js_dp_add_inbound, NULL, NULL, NULL, napi_default, NULL},
      {"dpRemoveInbound", NULL, js_dp_remove_inbound, NULL, NULL, NULL, napi_default, NULL},
      {"dpStats", NULL, js_dp_stats, NULL, NULL, NULL, napi_default, NULL},
      {"dpClose", NULL, js_dp_close, NULL, NULL, NULL, napi_default, NULL},
      {"socketpairForTests", NULL, js_socketpair_for_tests, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props) == napi_ok;
}
