/*
 * ikev2-vpn: what the data plane's two halves share: native/dataplane.c (the threads: TUN →
 * seal → sendmmsg, recvmmsg → open → TUN, and the events they post) and native/dataplane_js.c
 * (the N-API side: dp* entry points, handles, the lifecycle). See the top of dataplane.c.
 * Everything here is hidden (ESP_INTERNAL).
 */
#ifndef IKEV2_DP_INTERNAL_H
#define IKEV2_DP_INTERNAL_H

#include <netinet/in.h>
#include <node_api.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "esp_core.h"
#include "packet.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
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
/* Inbound: packets (ESP datagrams, after UDP GRO splitting) one GRO table holds before it is
 * written out; a batch of BATCH coalesced datagrams of up to 64 segments fits. */
#define IN_MAX_PKTS (BATCH * 64)
/* Consecutive failed TUN reads (other than EAGAIN) after which the outbound thread gives up. */
#define MAX_READ_ERRORS 1000

/* Our drop reasons, after the ESP ones (native/esp_drops.h): DROP_NO_TUN ... DROP_CRYPTO. */
enum { DP_DROP_REASONS(ESP_DROP_ENUM_) };
enum { DROP_COUNT = 0 ESP_DROP_REASONS(ESP_DROP_ONE_) DP_DROP_REASONS(ESP_DROP_ONE_) };
/* The codes are 1 … DROP_COUNT, consecutive: they index the stats and the drops[] arrays. */
_Static_assert((int)DROP_CRYPTO == (int)DROP_COUNT && (int)DROP_TOO_BIG + 1 == (int)DROP_NO_TUN,
               "native/esp_drops.h: codes must be consecutive from 1");

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

enum { EV_DATAGRAM = 1, EV_REKEY = 2, EV_FATAL = 3 };

#define DP_MAGIC 0x44504c4eu /* "DPLN" */

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
  /* TUN offloads (IFF_VNET_HDR): the TUN_F_* bits in use, 0 for a plain device (set before the
   * outbound thread starts); super-packets read, segments made of them, and refused ones. */
  _Atomic uint32_t tun_offloads;
  _Atomic uint64_t vnet_super, vnet_segments, vnet_drops;
  /* Inbound GRO (IFF_VNET_HDR): super-packets written, the packets in them, packets refused for
   * a bad checksum. UDP GRO on the socket (set at dpOpen unless refused or VPN_DP_GRO=0), the
   * coalesced datagrams received and the ESP packets they held. */
  _Atomic uint64_t gro_super, gro_segments, gro_csum_bad;
  _Atomic int gro_refused; /* the device refused a super-packet: GRO is off */
  int udp_gro;
  _Atomic uint64_t udpgro_msgs, udpgro_segs;
  struct dp *next; /* open data planes, for the exit handler */
} dp_t;

/* Open data planes: the exit handler stops their threads before OpenSSL cleans up at exit. */

static inline void count(dp_t *dp, int slot, uint64_t n) {
  if (n) atomic_fetch_add_explicit(&dp->st[slot], n, memory_order_relaxed);
}

static inline void count_drop(dp_t *dp, int code, uint64_t n) { count(dp, ST_DROPS + code - 1, n); }

static inline int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- the threads (native/dataplane.c) ---- */

/* Lists the data plane for the exit handler and starts its inbound thread: 0 or an errno. */
ESP_INTERNAL int dp_start_inbound(dp_t *dp);
/* Starts the outbound thread on dp->tun_fd: 0 or an errno. */
ESP_INTERNAL int dp_start_outbound(dp_t *dp);
/* Stops and joins the threads (any thread may call this: the JS one or the exit handler). */
ESP_INTERNAL void dp_stop_threads(dp_t *dp);
/* Takes the data plane off the exit handler's list. */
ESP_INTERNAL void dp_unlist(dp_t *dp);

#endif
