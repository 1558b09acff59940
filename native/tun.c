/*
 * ikev2-vpn: Linux TUN device binding (N-API, C; no node-addon-api).
 *
 * Opens /dev/net/tun as a layer-3 device (IFF_TUN | IFF_NO_PI: every read(2) and write(2) is one
 * bare IP packet; see the kernel's Documentation/networking/tuntap.rst), keeps the descriptor
 * non-blocking, watches it with a uv_poll handle on Node's own event loop and, on each wakeup,
 * reads up to BATCH packets and hands them to JavaScript in ONE callback call (an array of
 * Buffers), so the cost of crossing into JS is paid per wakeup rather than per packet.
 * Writes go straight to write(2); a full queue (EAGAIN) or any other failure is a return value,
 * never an exception. Every entry point validates its arguments and throws a JS error instead of
 * touching memory it was not given.
 *
 * Exports (all synchronous):
 *   open(name: string, {offload?: boolean}) -> { fd, name, offloads }
 *                                           name may hold "%d"; throws Error{code: "EPERM"|...}
 *                                           offload: IFF_VNET_HDR + TUNSETOFFLOAD, for the native
 *                                           data plane ONLY (reads and writes then carry a
 *                                           virtio_net_hdr); offloads: the TUN_F_* bits in use
 *                                           (0: not asked, or refused: a plain device)
 *   adopt(fd: number) -> { fd, name }       an already-open TUN descriptor (made non-blocking)
 *   startReading(fd, cb: (pkts: Buffer[], fatal?: string) => void) -> handle
 *                                           fatal: the errno name when the device became
 *                                           unusable (deleted under us: EBADFD, EIO...); reading
 *                                           has then stopped, and this is the last call
 *   stopReading(handle) -> undefined        idempotent; stops the poll before the fd is closed
 *   readErrors(handle) -> number            read(2) failures other than EAGAIN/EINTR (also after
 *                                           stopReading: the last count)
 *   write(fd, Uint8Array) -> number         bytes written, or -errno
 *   writeBatch(fd, Uint8Array[]) -> number  packets written completely
 *   close(fd) -> undefined                  stops the readers of fd first
 *   packetPair() -> [ours, theirs]          socketpair(AF_UNIX, SOCK_DGRAM): one IP packet per
 *                                           read/write, as a TUN device (proxy mode hands
 *                                           `theirs` to ocproxy where openconnect hands it its
 *                                           --script-tun socket). `ours` is non-blocking and
 *                                           tracked like an opened TUN descriptor (close it with
 *                                           close); `theirs` is blocking; both close-on-exec
 *   sendFd(sock, fd, Uint8Array) -> undefined   one datagram carrying `fd` (SCM_RIGHTS) and a
 *                                           short message (at most 256 bytes)
 *   recvFd(sock) -> { fd, data } | null     the next such datagram without blocking (null:
 *                                           none queued); the received fd is close-on-exec.
 *                                           A datagram without exactly one descriptor, or a
 *                                           truncated one, throws EPROTO (its fds are closed)
 *
 * Handles and descriptors after free (issue 11, finding 8):
 *   - a reader handle is an external tagged READER_TAG (napi_type_tag_object): any other value,
 *     a handle of the esp addon included, is a TypeError, never reinterpreted as a reader; the
 *     reader's memory lives until both its poll handle is closed and its JS handle is collected,
 *     so stopReading and readErrors after stopReading are safe (a no-op, the last count).
 *   - a TUN descriptor that open/adopt returned and close closed is remembered: a second close
 *     is a no-op, and write, writeBatch and startReading on it throw ERR_TUN_CLOSED, since its
 *     number may belong to another file by now (a write must not land there). The number is
 *     forgotten when open/adopt return it again. Other descriptors (test stand-ins) pass as
 *     before.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "napi_util.h"

/* Packets read per wakeup at most; the rest waits for the next loop iteration. */
#define BATCH 64
/* Largest packet a TUN device can hand us (the MTU may be raised after the device is opened). */
#define MAX_PACKET 65536

/* Marks reader handles, so that no other external (an ESP SA, a data plane) passes for one. */
static const napi_type_tag READER_TAG = {0x6b6576325f74756eULL, 0x5f7265616465725fULL};
#define READER_MAGIC 0x54554e52u /* "TUNR" */

typedef struct reader {
  uint32_t magic;
  int fd;
  int stopped;
  int released;        /* callback reference and async context already given back */
  int refs;            /* the poll handle (until on_closed) and the JS handle (until finalized) */
  struct reader *next; /* running readers, for close(fd) */
  uint32_t read_errors;
  uv_poll_t poll;
  napi_env env;
  napi_ref cb;
  napi_async_context ctx;
  uint8_t *buf; /* preallocated, MAX_PACKET bytes, reused for every read */
} reader_t;

/* ---- the TUN descriptors open/adopt returned, and those close closed (see the top) ---- */

enum { FD_OPEN = 1, FD_CLOSED = 2 };
typedef struct {
  int fd;
  int state;
} fd_entry_t;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER; /* workers may load the addon too */
static fd_entry_t *g_fds; /* one entry per descriptor number ever returned by open/adopt */
static size_t g_nfds, g_fds_cap;
static reader_t *g_readers; /* running readers (all environments) */

static fd_entry_t *fd_find(int fd) {
  for (size_t i = 0; i < g_nfds; i++)
    if (g_fds[i].fd == fd) return &g_fds[i];
  return NULL;
}

/* open/adopt returned fd: it is ours and open. 0 if out of memory. */
static int fd_track_open(int fd) {
  pthread_mutex_lock(&g_lock);
  fd_entry_t *e = fd_find(fd);
  if (!e && g_nfds == g_fds_cap) {
    size_t cap = g_fds_cap ? g_fds_cap * 2 : 16;
    fd_entry_t *n = realloc(g_fds, cap * sizeof *n);
    if (n) {
      g_fds = n;
      g_fds_cap = cap;
    }
  }
  if (!e && g_nfds < g_fds_cap) {
    e = &g_fds[g_nfds++];
    e->fd = fd;
  }
  if (e) e->state = FD_OPEN;
  pthread_mutex_unlock(&g_lock);
  return e != NULL;
}

/* Was fd a TUN descriptor of ours that close() closed (and open/adopt did not return again)? */
static int fd_was_closed(int fd) {
  pthread_mutex_lock(&g_lock);
  fd_entry_t *e = fd_find(fd);
  int closed = e && e->state == FD_CLOSED;
  pthread_mutex_unlock(&g_lock);
  return closed;
}

/* close(fd): 1 if it must be closed now, 0 if it is one of ours closed already (a no-op). */
static int fd_mark_closed(int fd) {
  pthread_mutex_lock(&g_lock);
  fd_entry_t *e = fd_find(fd);
  int do_close = !e || e->state == FD_OPEN;
  if (e) e->state = FD_CLOSED;
  pthread_mutex_unlock(&g_lock);
  return do_close;
}

static napi_value throw_closed(napi_env env, int fd, const char *what) {
  char msg[200];
  snprintf(msg, sizeof msg,
           "%s: TUN descriptor %d was closed by close() (its number may belong to another file "
           "now)",
           what, fd);
  napi_throw_error(env, "ERR_TUN_CLOSED", msg);
  return NULL;
}

static napi_value device_object(napi_env env, int fd, const char *name) {
  napi_value obj, fdv, namev;
  napi_create_object(env, &obj);
  napi_create_int32(env, fd, &fdv);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &namev);
  napi_set_named_property(env, obj, "fd", fdv);
  napi_set_named_property(env, obj, "name", namev);
  return obj;
}

/* USO arrived in Linux 6.2; older userspace headers lack the flags. */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

/*
 * A device opened with IFF_VNET_HDR: every read and write carries a 10-byte virtio_net_hdr
 * (TUNSETVNETHDRSZ), and TUNSETOFFLOAD lets the kernel hand us checksum-less packets (TUN_F_CSUM)
 * and TCP super-packets of up to 64 KiB (TSO4/TSO6), UDP ones too where it knows USO (Linux 6.2+,
 * EINVAL before). The data plane's outbound thread splits them (pkt_gso_split, native/packet.c).
 * The TUN_F_* bits in use, or 0 when the kernel refused (the caller then reopens a plain device).
 */
static uint32_t tun_enable_offloads(int fd) {
  int sz = 10; /* sizeof(struct virtio_net_hdr), no num_buffers */
  if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) return 0;
  static const unsigned tries[] = {TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6,
                                   TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6, TUN_F_CSUM};
  for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++)
    if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)tries[i]) == 0) return tries[i];
  return 0;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_valuetype t;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_typeof(env, argv[0], &t) != napi_ok || t != napi_string)
    return nu_throw_type(env, "open(name): name must be a string");
  char name[IFNAMSIZ + 1];
  size_t len = 0;
  /* One byte more than the kernel allows, so an over-long name is detected, not truncated. */
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok)
    return nu_throw_type(env, "open(name): name must be a string");
  if (len >= IFNAMSIZ || strlen(name) != len)
    return nu_throw_errno(env, EINVAL, "invalid interface name");
  bool want_offload = false;
  if (argc >= 2) {
    napi_valuetype ot;
    napi_value v;
    bool has = false;
    if (napi_typeof(env, argv[1], &ot) != napi_ok ||
        (ot != napi_object && ot != napi_undefined && ot != napi_null))
      return nu_throw_type(env, "open(name, options): options must be an object");
    if (ot == napi_object && napi_has_named_property(env, argv[1], "offload", &has) == napi_ok &&
        has && napi_get_named_property(env, argv[1], "offload", &v) == napi_ok &&
        napi_get_value_bool(env, v, &want_offload) != napi_ok)
      return nu_throw_type(env, "open(name, options): options.offload must be a boolean");
  }
  struct ifreq ifr;
  int fd = -1;
  uint32_t offloads = 0;
  /* With offloads asked for: first with IFF_VNET_HDR, then (the kernel refused an offload
   * ioctl) once more without it, a plain device. */
  for (int attempt = want_offload ? 0 : 1; attempt < 2; attempt++) {
    fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return nu_throw_errno(env, errno, "cannot open /dev/net/tun");
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (attempt == 0 ? IFF_VNET_HDR : 0);
    memcpy(ifr.ifr_name, name, len); /* len < IFNAMSIZ, rest stays NUL */
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
      int err = errno;
      close(fd);
      if (attempt == 0 && err == EINVAL) continue;
      return nu_throw_errno(env, err, "TUNSETIFF");
    }
    if (attempt == 1) break;
    offloads = tun_enable_offloads(fd);
    if (offloads) break;
    close(fd); /* the device goes with it (not persistent): open it again, plain */
    fd = -1;
  }
  if (!fd_track_open(fd)) {
    close(fd);
    return nu_throw_errno(env, ENOMEM, "open");
  }
  char out[IFNAMSIZ + 1];
  memcpy(out, ifr.ifr_name, IFNAMSIZ);
  out[IFNAMSIZ] = 0;
  napi_value obj = device_object(env, fd, out), ov;
  napi_create_uint32(env, offloads, &ov);
  napi_set_named_property(env, obj, "offloads", ov);
  return obj;
}

static napi_value js_adopt(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      !nu_get_fd(env, argv[0], &fd))
    return nu_throw_type(env, "adopt(fd): fd must be a non-negative integer");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  if (ioctl(fd, TUNGETIFF, &ifr) < 0) return nu_throw_errno(env, errno, "TUNGETIFF");
  if ((ifr.ifr_flags & IFF_TUN) == 0 || (ifr.ifr_flags & IFF_NO_PI) == 0)
    return nu_throw_errno(env, EINVAL, "descriptor is not an IFF_TUN | IFF_NO_PI device");
  if (ifr.ifr_flags & IFF_VNET_HDR) /* every packet would carry a header no caller expects */
    return nu_throw_errno(env, EINVAL, "descriptor has IFF_VNET_HDR set");
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return nu_throw_errno(env, errno, "fcntl");
  if (!fd_track_open(fd)) return nu_throw_errno(env, ENOMEM, "adopt");
  char out[IFNAMSIZ + 1];
  memcpy(out, ifr.ifr_name, IFNAMSIZ);
  out[IFNAMSIZ] = 0;
  return device_object(env, fd, out);
}

static void release_js(reader_t *r) {
  if (r->released) return;
  r->released = 1;
  napi_delete_reference(r->env, r->cb);
  napi_async_destroy(r->env, r->ctx);
}

static void reader_unref(reader_t *r) {
  if (--r->refs > 0) return;
  free(r->buf);
  r->magic = 0;
  free(r);
}

static void on_closed(uv_handle_t *h) {
  reader_t *r = (reader_t *)h->data;
  release_js(r);
  reader_unref(r); /* the poll handle's reference */
}

static void unlist_reader(reader_t *r) {
  pthread_mutex_lock(&g_lock);
  for (reader_t **pp = &g_readers; *pp; pp = &(*pp)->next)
    if (*pp == r) {
      *pp = r->next;
      break;
    }
  pthread_mutex_unlock(&g_lock);
}

static void cleanup_hook(void *arg);

/*
 * Stops the poll synchronously (the fd may be closed right after) and frees the reader once libuv
 * has closed the handle. The callback reference and async context are released in that close
 * callback, not here: stopReading may be called from inside the very callback they run.
 */
static void stop_reader(reader_t *r, int from_hook) {
  if (r->stopped) return;
  r->stopped = 1;
  unlist_reader(r);
  if (from_hook)
    release_js(r); /* the environment will be gone before on_closed runs */
  else
    napi_remove_env_cleanup_hook(r->env, cleanup_hook, r);
  uv_poll_stop(&r->poll);
  uv_close((uv_handle_t *)&r->poll, on_closed);
}

/* The environment is going away (process or worker exit) with the reader still running. */
static void cleanup_hook(void *arg) { stop_reader((reader_t *)arg, 1); }

static void on_readable(uv_poll_t *h, int status, int events) {
  reader_t *r = (reader_t *)h->data;
  (void)events;
  if (r->stopped) return;
  napi_env env = r->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value arr;
  uint32_t n = 0;
  /* errno that made the device unusable (it was deleted, or closed behind our back): reading
   * stops rather than spins, and JS hears of it once. */
  int fatal = 0;
  napi_create_array(env, &arr);
  if (status < 0) {
    r->read_errors++;
    fatal = EBADF;
  }
  for (int i = 0; !fatal && i < BATCH; i++) {
    ssize_t got = read(r->fd, r->buf, MAX_PACKET);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break; /* drained */
      r->read_errors++;
      if (errno == EBADF || errno == EBADFD || errno == EIO || errno == ENXIO || errno == ENODEV)
        fatal = errno;
      break;
    }
    if (got == 0) break;
    napi_value b;
    void *data;
    if (napi_create_buffer_copy(env, (size_t)got, r->buf, &data, &b) != napi_ok) break;
    napi_set_element(env, arr, n++, b);
  }
  if (fatal) uv_poll_stop(&r->poll);
  if (n > 0 || fatal) {
    napi_value cb, global, result;
    napi_value argv[2];
    size_t argc = 1;
    argv[0] = arr;
    if (fatal &&
        napi_create_string_utf8(env, nu_errno_name(fatal), NAPI_AUTO_LENGTH, &argv[1]) == napi_ok)
      argc = 2;
    napi_get_reference_value(env, r->cb, &cb);
    napi_get_global(env, &global);
    if (napi_make_callback(env, r->ctx, global, cb, argc, argv, &result) ==
        napi_pending_exception) {
      /* Nothing up the stack can catch it: report it like any uncaught exception. */
      napi_value exc;
      if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void finalize_reader(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  /* The JS handle's reference; the poll handle holds the other until stopReading (or the
   * cleanup hook) closed it. */
  reader_unref((reader_t *)data);
}

static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int fd;
  napi_valuetype t;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      !nu_get_fd(env, argv[0], &fd) || napi_typeof(env, argv[1], &t) != napi_ok ||
      t != napi_function)
    return nu_throw_type(env, "startReading(fd, callback): bad arguments");
  if (fd_was_closed(fd)) return throw_closed(env, fd, "startReading");
  reader_t *r = calloc(1, sizeof *r);
  if (!r) return nu_throw_errno(env, ENOMEM, "startReading");
  r->buf = malloc(MAX_PACKET);
  if (!r->buf) {
    free(r);
    return nu_throw_errno(env, ENOMEM, "startReading");
  }
  r->magic = READER_MAGIC;
  r->fd = fd;
  r->env = env;
  r->refs = 1; /* the poll handle's */
  uv_loop_t *loop;
  int rc;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok)
    rc = UV_EINVAL;
  else
    rc = uv_poll_init(loop, &r->poll, fd);
  if (rc != 0) {
    free(r->buf);
    free(r);
    return nu_throw_errno(env, -rc, "uv_poll_init");
  }
  r->poll.data = r;
  napi_value resname;
  napi_create_string_utf8(env, "ikev2-vpn:tun", NAPI_AUTO_LENGTH, &resname);
  napi_create_reference(env, argv[1], 1, &r->cb);
  napi_async_init(env, NULL, resname, &r->ctx);
  rc = uv_poll_start(&r->poll, UV_READABLE, on_readable);
  if (rc != 0) {
    r->stopped = 1;
    uv_close((uv_handle_t *)&r->poll, on_closed);
    return nu_throw_errno(env, -rc, "uv_poll_start");
  }
  napi_add_env_cleanup_hook(env, cleanup_hook, r);
  pthread_mutex_lock(&g_lock);
  r->next = g_readers;
  g_readers = r;
  pthread_mutex_unlock(&g_lock);
  napi_value ext;
  if (napi_create_external(env, r, finalize_reader, NULL, &ext) != napi_ok) {
    stop_reader(r, 0);
    return nu_throw_errno(env, ENOMEM, "startReading");
  }
  r->refs++; /* the JS handle's, given back by finalize_reader */
  if (napi_type_tag_object(env, ext, &READER_TAG) != napi_ok) {
    stop_reader(r, 0);
    napi_throw_error(env, "ERR_TUN_NATIVE", "startReading: cannot tag the reader handle");
    return NULL;
  }
  return ext;
}

/* The reader behind a handle made by startReading (stopped or not), or NULL with a TypeError. */
static reader_t *get_reader(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  reader_t *r = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      (r = nu_get_tagged(env, argv[0], &READER_TAG)) == NULL || r->magic != READER_MAGIC) {
    nu_throw_type(env, "expected a TUN reader handle (from startReading)");
    return NULL;
  }
  return r;
}

static napi_value js_stop(napi_env env, napi_callback_info info) {
  reader_t *r = get_reader(env, info);
  if (r) stop_reader(r, 0);
  return NULL;
}

static napi_value js_read_errors(napi_env env, napi_callback_info info) {
  reader_t *r = get_reader(env, info);
  if (!r) return NULL;
  napi_value out;
  napi_create_uint32(env, r->read_errors, &out);
  return out;
}

static napi_value js_write(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int fd;
  const uint8_t *data;
  size_t len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      !nu_get_fd(env, argv[0], &fd) || !nu_get_bytes(env, argv[1], 1, &data, &len))
    return nu_throw_type(env, "write(fd, Uint8Array): bad arguments");
  if (fd_was_closed(fd)) return throw_closed(env, fd, "write");
  ssize_t n;
  do n = write(fd, data, len);
  while (n < 0 && errno == EINTR);
  napi_value out;
  napi_create_int32(env, n < 0 ? -errno : (int32_t)n, &out);
  return out;
}

static napi_value js_write_batch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int fd;
  bool is_arr = false;
  uint32_t count = 0, ok = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      !nu_get_fd(env, argv[0], &fd) || napi_is_array(env, argv[1], &is_arr) != napi_ok || !is_arr ||
      napi_get_array_length(env, argv[1], &count) != napi_ok)
    return nu_throw_type(env, "writeBatch(fd, Uint8Array[]): bad arguments");
  if (fd_was_closed(fd)) return throw_closed(env, fd, "writeBatch");
  /* Validate everything first so a bad element cannot leave the batch half-written. */
  for (uint32_t i = 0; i < count; i++) {
    napi_value el;
    const uint8_t *data;
    size_t len;
    if (napi_get_element(env, argv[1], i, &el) != napi_ok || !nu_get_bytes(env, el, 1, &data, &len))
      return nu_throw_type(env, "writeBatch(fd, Uint8Array[]): every element must be a Uint8Array");
  }
  for (uint32_t i = 0; i < count; i++) {
    napi_value el;
    const uint8_t *data;
    size_t len;
    napi_get_element(env, argv[1], i, &el);
    nu_get_bytes(env, el, 1, &data, &len);
    ssize_t n;
    do n = write(fd, data, len);
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)len) ok++;
  }
  napi_value out;
  napi_create_uint32(env, ok, &out);
  return out;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      !nu_get_fd(env, argv[0], &fd))
    return nu_throw_type(env, "close(fd): fd must be a non-negative integer");
  /* libuv must stop polling a descriptor before it is closed: stop this env's readers of fd. */
  for (;;) {
    reader_t *r;
    pthread_mutex_lock(&g_lock);
    for (r = g_readers; r && !(r->fd == fd && r->env == env); r = r->next) {}
    pthread_mutex_unlock(&g_lock);
    if (!r) break;
    stop_reader(r, 0);
  }
  if (fd_mark_closed(fd)) close(fd);
  return NULL;
}

/* ---- packet socket pairs and descriptor passing (proxy mode, unprivileged vpn exec) ---- */

/* Socket buffers of a packet pair: room for a few hundred full-size packets either way. */
#define PAIR_BUF (4 * 1024 * 1024)
/* Largest message sendFd/recvFd carry next to the descriptor (an interface name, a tag). */
#define FD_MSG_MAX 256

static napi_value js_packet_pair(napi_env env, napi_callback_info info) {
  (void)info;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0)
    return nu_throw_errno(env, errno, "socketpair");
  for (int i = 0; i < 2; i++) {
    int sz = PAIR_BUF;
    /* Best effort: the kernel caps these at net.core.[rw]mem_max without privilege. */
    (void)setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    (void)setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  }
  int fl = fcntl(sv[0], F_GETFL);
  if (fl < 0 || fcntl(sv[0], F_SETFL, fl | O_NONBLOCK) < 0 || !fd_track_open(sv[0])) {
    int err = fl < 0 ? errno : ENOMEM;
    close(sv[0]);
    close(sv[1]);
    return nu_throw_errno(env, err, "packetPair");
  }
  napi_value arr, a, b;
  napi_create_array_with_length(env, 2, &arr);
  napi_create_int32(env, sv[0], &a);
  napi_create_int32(env, sv[1], &b);
  napi_set_element(env, arr, 0, a);
  napi_set_element(env, arr, 1, b);
  return arr;
}

static napi_value js_send_fd(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int sock, fd;
  const uint8_t *data;
  size_t len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 ||
      !nu_get_fd(env, argv[0], &sock) || !nu_get_fd(env, argv[1], &fd) ||
      !nu_get_bytes(env, argv[2], 1, &data, &len))
    return nu_throw_type(env, "sendFd(sock, fd, Uint8Array): bad arguments");
  if (len == 0 || len > FD_MSG_MAX)
    return nu_throw_range(env, "sendFd: the message must be 1 to 256 bytes");
  struct iovec iov = {(void *)data, len};
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
  } u;
  memset(&u, 0, sizeof u);
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = u.buf;
  msg.msg_controllen = sizeof u.buf;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  ssize_t n;
  do n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) return nu_throw_errno(env, errno, "sendFd");
  if ((size_t)n != len) return nu_throw_errno(env, EMSGSIZE, "sendFd");
  return NULL;
}

/* Closes every descriptor an SCM_RIGHTS message brought (a message we refuse). */
static void close_passed(struct msghdr *msg) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      close(fd);
    }
  }
}

static napi_value js_recv_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int sock;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      !nu_get_fd(env, argv[0], &sock))
    return nu_throw_type(env, "recvFd(sock): sock must be a non-negative integer");
  uint8_t data[FD_MSG_MAX + 1];
  struct iovec iov = {data, sizeof data};
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(4 * sizeof(int))]; /* room to see (and close) a few extra fds */
  } u;
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = u.buf;
  msg.msg_controllen = sizeof u.buf;
  ssize_t n;
  do n = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      napi_value nul;
      napi_get_null(env, &nul);
      return nul;
    }
    return nu_throw_errno(env, errno, "recvFd");
  }
  int fd = -1, count = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      if (k >= 1) memcpy(&fd, CMSG_DATA(c), sizeof fd);
      count += (int)k;
    }
  }
  if (count != 1 || n == 0 || n > FD_MSG_MAX || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
    close_passed(&msg);
    return nu_throw_errno(env, EPROTO, "recvFd: expected one descriptor and a short message");
  }
  napi_value out, fdv, datav;
  void *copy;
  napi_create_object(env, &out);
  napi_create_int32(env, fd, &fdv);
  napi_create_buffer_copy(env, (size_t)n, data, &copy, &datav);
  napi_set_named_property(env, out, "fd", fdv);
  napi_set_named_property(env, out, "data", datav);
  return out;
}

NU_HIDDEN void netlink_register(napi_env env, napi_value exports);

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"adopt", NULL, js_adopt, NULL, NULL, NULL, napi_default, NULL},
      {"startReading", NULL, js_start, NULL, NULL, NULL, napi_default, NULL},
      {"stopReading", NULL, js_stop, NULL, NULL, NULL, napi_default, NULL},
      {"readErrors", NULL, js_read_errors, NULL, NULL, NULL, napi_default, NULL},
      {"write", NULL, js_write, NULL, NULL, NULL, napi_default, NULL},
      {"writeBatch", NULL, js_write_batch, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"packetPair", NULL, js_packet_pair, NULL, NULL, NULL, napi_default, NULL},
      {"sendFd", NULL, js_send_fd, NULL, NULL, NULL, napi_default, NULL},
      {"recvFd", NULL, js_recv_fd, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  netlink_register(env, exports); /* rt*: rtnetlink host configuration (native/netlink.c) */
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
