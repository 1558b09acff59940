/*
 * ikev2-vpn: the N-API side of the native data plane (the dp* exports of the esp addon): handles
 * (type-tagged externals), argument checks, SA installation under the threads' locks, the event
 * callback on the JS thread, and the lifecycle (dpClose, finalizers, the environment's cleanup).
 * The interface, the policy blob, the stats and the events are described at the top of
 * native/dataplane.c, which holds the threads.
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

#include "dataplane.h"
#include "dp_internal.h"

static const napi_type_tag DP_TAG = {0x6b6576325f64706cULL, 0x5f68616e646c6531ULL};

static const char *const STAT_NAMES[ST_LEN] = {
    "packetsOut", "bytesOut", "packetsIn", "bytesIn", "msSinceEspOut", "msSinceEspIn",
    "keepalivesIn", "sendErrors", "tunReadErrors", "tunWriteErrors", "eventsDropped", "batchesOut",
    "batchesIn",
    /* ST_DROPS + code - 1: the drop reasons of native/esp_drops.h */
    ESP_DROP_REASONS(ESP_DROP_STRING_) DP_DROP_REASONS(ESP_DROP_STRING_)};

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
  dp_stop_threads(dp);
  dp_unlist(dp);
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
  /* UDP GRO (Linux ≥ 5.0): the kernel may hand us runs of ESP datagrams of one flow as one
   * buffer with their segment size in a UDP_GRO cmsg; the inbound thread splits them. Refused
   * (an older kernel): one datagram per receive, as before. VPN_DP_GRO=0 turns it off. */
  const char *gro_env = getenv("VPN_DP_GRO");
  if (!(gro_env && strcmp(gro_env, "0") == 0)) {
    int one = 1;
    dp->udp_gro = setsockopt(sock, SOL_UDP, UDP_GRO, &one, sizeof one) == 0;
  }
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
  int rc = dp_start_inbound(dp);
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
  size_t argc = 3;
  napi_value argv[3];
  uint32_t fd, offloads = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2)
    return nu_throw_type(env, "dpAttachTun(handle, fd): bad arguments");
  dp_t *dp = get_dp(env, argv[0], 1);
  if (!dp) return NULL;
  if (!nu_get_uint(env, argv[1], 2147483647.0, &fd))
    return nu_throw_type(env, "dpAttachTun: fd must be a non-negative integer");
  /* The TUN_F_* bits tun.open enabled (IFF_VNET_HDR); 0 or absent: a plain device. */
  if (argc >= 3 && !nu_get_uint(env, argv[2], 255.0, &offloads))
    return nu_throw_type(env, "dpAttachTun: offloads must be an integer in 0..255");
  if (atomic_load(&dp->tun_fd) >= 0)
    return nu_throw_plain(env, "ERR_DP_TUN_ATTACHED", "a TUN descriptor is attached already");
  atomic_store(&dp->tun_offloads, offloads);
  int fl = fcntl((int)fd, F_GETFL);
  if (fl < 0) return nu_throw_errno(env, errno, "dpAttachTun");
  if (!(fl & O_NONBLOCK) && fcntl((int)fd, F_SETFL, fl | O_NONBLOCK) < 0)
    return nu_throw_errno(env, errno, "dpAttachTun: fcntl");
  atomic_store(&dp->tun_fd, (int)fd);
  int rc = dp_start_outbound(dp);
  if (rc != 0) {
    atomic_store(&dp->tun_fd, -1);
    atomic_store(&dp->tun_offloads, 0);
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

/* dpOffloadStats(h) -> [offloads (TUN_F_* bits), superPackets, segments, drops, groPackets,
 *   groSegments, groChecksumErrors, udpGro (0|1), udpGroDatagrams, udpGroSegments,
 *   groRefused (0|1)] */
static napi_value js_dp_offload_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], arr, v;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1)
    return nu_throw_type(env, "dpOffloadStats(handle): bad arguments");
  dp_t *dp = get_dp(env, argv[0], 0);
  if (!dp) return NULL;
  double vals[11] = {(double)atomic_load(&dp->tun_offloads),
                     (double)atomic_load_explicit(&dp->vnet_super, memory_order_relaxed),
                     (double)atomic_load_explicit(&dp->vnet_segments, memory_order_relaxed),
                     (double)atomic_load_explicit(&dp->vnet_drops, memory_order_relaxed),
                     (double)atomic_load_explicit(&dp->gro_super, memory_order_relaxed),
                     (double)atomic_load_explicit(&dp->gro_segments, memory_order_relaxed),
                     (double)atomic_load_explicit(&dp->gro_csum_bad, memory_order_relaxed),
                     (double)dp->udp_gro,
                     (double)atomic_load_explicit(&dp->udpgro_msgs, memory_order_relaxed),
                     (double)atomic_load_explicit(&dp->udpgro_segs, memory_order_relaxed),
                     (double)atomic_load_explicit(&dp->gro_refused, memory_order_relaxed)};
  napi_create_array_with_length(env, 11, &arr);
  for (uint32_t k = 0; k < 11; k++) {
    napi_create_double(env, vals[k], &v);
    napi_set_element(env, arr, k, v);
  }
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
      {"dpOffloadStats", NULL, js_dp_offload_stats, NULL, NULL, NULL, napi_default, NULL},
      {"dpClose", NULL, js_dp_close, NULL, NULL, NULL, napi_default, NULL},
      {"socketpairForTests", NULL, js_socketpair_for_tests, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props) == napi_ok;
}
