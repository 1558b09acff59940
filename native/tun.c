/*
 * ikev2-vpn TUN device binding (N-API, C). Opens /dev/net/tun (IFF_TUN | IFF_NO_PI), watches the
 * descriptor with uv_poll and, on each wakeup, reads up to BATCH packets and hands them to
 * JavaScript in ONE callback (an array of Buffers), so the per-packet cost of crossing into JS
 * is amortised. Writes go straight to write(2); EAGAIN is reported as a return value, not thrown.
 *
 * Exports:
 *   open(name: string) -> { fd: number, name: string }         throws Error with .code = errno name
 *   startReading(fd: number, mtu: number, cb: (pkts: Buffer[]) => void) -> handle
 *   stopReading(handle) -> undefined                            idempotent
 *   write(fd: number, buf: Uint8Array) -> number                bytes written, or -errno
 *   writeBatch(fd: number, bufs: Uint8Array[]) -> number        packets written
 *   close(fd: number) -> undefined
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <uv.h>

#define BATCH 64

typedef struct {
  int fd;
  size_t mtu;
  uv_poll_t poll;
  napi_env env;
  napi_ref cb;
  napi_async_context ctx;
  int stopped;
  uint8_t *buf;
} reader_t;

static napi_value throw_errno(napi_env env, int err, const char *what) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value code, message, error;
  const char *name = err == EPERM ? "EPERM" : err == EACCES ? "EACCES" : err == ENOENT ? "ENOENT"
                   : err == ENODEV ? "ENODEV" : err == EBUSY ? "EBUSY" : err == EINVAL ? "EINVAL" : "EIO";
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_value errnoVal;
  napi_create_int32(env, err, &errnoVal);
  napi_set_named_property(env, error, "errno", errnoVal);
  napi_throw(env, error);
  return NULL;
}

static int get_int_arg(napi_env env, napi_value v, int32_t *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) return 0;
  return napi_get_value_int32(env, v, out) == napi_ok;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char name[IFNAMSIZ] = {0};
  size_t len = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "open(name): name must be a string");
    return NULL;
  }
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, errno, "cannot open /dev/net/tun");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "TUNSETIFF");
  }
  napi_value obj, fdv, namev;
  napi_create_object(env, &obj);
  napi_create_int32(env, fd, &fdv);
  napi_create_string_utf8(env, ifr.ifr_name, NAPI_AUTO_LENGTH, &namev);
  napi_set_named_property(env, obj, "fd", fdv);
  napi_set_named_property(env, obj, "name", namev);
  return obj;
}

static void on_closed(uv_handle_t *h) {
  reader_t *r = (reader_t *)h->data;
  free(r->buf);
  free(r);
}

static void stop_reader(reader_t *r) {
  if (r->stopped) return;
  r->stopped = 1;
  uv_poll_stop(&r->poll);
  napi_delete_reference(r->env, r->cb);
  napi_async_destroy(r->env, r->ctx);
  uv_close((uv_handle_t *)&r->poll, on_closed);
}

static void on_readable(uv_poll_t *h, int status, int events) {
  reader_t *r = (reader_t *)h->data;
  (void)events;
  if (r->stopped) return;
  if (status < 0) return;
  napi_env env = r->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value arr;
  napi_create_array(env, &arr);
  uint32_t n = 0;
  for (int i = 0; i < BATCH; i++) {
    ssize_t got = read(r->fd, r->buf, r->mtu);
    if (got < 0) {
      if (errno == EINTR) continue;
      break; /* EAGAIN: drained; other errors: surfaced by the next write or by close */
    }
    if (got == 0) break;
    napi_value b;
    void *data;
    if (napi_create_buffer_copy(env, (size_t)got, r->buf, &data, &b) != napi_ok) break;
    napi_set_element(env, arr, n++, b);
  }
  if (n > 0) {
    napi_value cb, global, result;
    napi_get_reference_value(env, r->cb, &cb);
    napi_get_global(env, &global);
    napi_make_callback(env, r->ctx, global, cb, 1, &arr, &result);
  }
  napi_close_handle_scope(env, scope);
}

static void finalize_reader(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  (void)hint;
  /* The reader is freed by stopReading (uv_close); nothing to do if JS drops the handle first. */
}

static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd, mtu;
  napi_valuetype t;
  if (argc < 3 || !get_int_arg(env, argv[0], &fd) || !get_int_arg(env, argv[1], &mtu) ||
      napi_typeof(env, argv[2], &t) != napi_ok || t != napi_function || fd < 0 || mtu < 68 || mtu > 65535) {
    napi_throw_type_error(env, NULL, "startReading(fd, mtu, callback): bad arguments");
    return NULL;
  }
  reader_t *r = calloc(1, sizeof *r);
  if (!r) return throw_errno(env, ENOMEM, "startReading");
  r->fd = fd;
  r->mtu = (size_t)mtu + 64;
  r->buf = malloc(r->mtu);
  r->env = env;
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  if (!r->buf || uv_poll_init(loop, &r->poll, fd) != 0) {
    free(r->buf);
    free(r);
    return throw_errno(env, EINVAL, "uv_poll_init");
  }
  r->poll.data = r;
  napi_create_reference(env, argv[2], 1, &r->cb);
  napi_value resname;
  napi_create_string_utf8(env, "ikev2-vpn:tun", NAPI_AUTO_LENGTH, &resname);
  napi_async_init(env, NULL, resname, &r->ctx);
  uv_poll_start(&r->poll, UV_READABLE, on_readable);
  napi_value ext;
  napi_create_external(env, r, finalize_reader, NULL, &ext);
  return ext;
}

static napi_value js_stop(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *p = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], &p) != napi_ok || !p) {
    napi_throw_type_error(env, NULL, "stopReading(handle): bad handle");
    return NULL;
  }
  stop_reader((reader_t *)p);
  return NULL;
}

static napi_value js_write(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  void *data;
  size_t len;
  bool isTyped;
  if (argc < 2 || !get_int_arg(env, argv[0], &fd) || napi_is_typedarray(env, argv[1], &isTyped) != napi_ok || !isTyped) {
    napi_throw_type_error(env, NULL, "write(fd, Uint8Array): bad arguments");
    return NULL;
  }
  napi_typedarray_type tt;
  napi_value ab;
  size_t off;
  napi_get_typedarray_info(env, argv[1], &tt, &len, &data, &ab, &off);
  ssize_t n = write(fd, data, len);
  napi_value out;
  napi_create_int32(env, n < 0 ? -errno : (int32_t)n, &out);
  return out;
}

static napi_value js_write_batch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  bool isArr;
  if (argc < 2 || !get_int_arg(env, argv[0], &fd) || napi_is_array(env, argv[1], &isArr) != napi_ok || !isArr) {
    napi_throw_type_error(env, NULL, "writeBatch(fd, Uint8Array[]): bad arguments");
    return NULL;
  }
  uint32_t count, ok = 0;
  napi_get_array_length(env, argv[1], &count);
  for (uint32_t i = 0; i < count; i++) {
    napi_value el;
    bool isTyped;
    napi_get_element(env, argv[1], i, &el);
    if (napi_is_typedarray(env, el, &isTyped) != napi_ok || !isTyped) continue;
    napi_typedarray_type tt;
    napi_value ab;
    size_t off, len;
    void *data;
    napi_get_typedarray_info(env, el, &tt, &len, &data, &ab, &off);
    if (write(fd, data, len) == (ssize_t)len) ok++;
  }
  napi_value out;
  napi_create_uint32(env, ok, &out);
  return out;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  if (argc < 1 || !get_int_arg(env, argv[0], &fd)) {
    napi_throw_type_error(env, NULL, "close(fd): bad arguments");
    return NULL;
  }
  if (fd >= 0) close(fd);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"startReading", NULL, js_start, NULL, NULL, NULL, napi_default, NULL},
      {"stopReading", NULL, js_stop, NULL, NULL, NULL, napi_default, NULL},
      {"write", NULL, js_write, NULL, NULL, NULL, napi_default, NULL},
      {"writeBatch", NULL, js_write_batch, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
