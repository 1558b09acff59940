/* ikev2-vpn: N-API helpers shared by the addons (see napi_util.h). */
#include "napi_util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

const char *nu_errno_name(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOENT: return "ENOENT";
    case ENODEV: return "ENODEV";
    case ENXIO: return "ENXIO";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case EBADFD: return "EBADFD";
    case ENOTTY: return "ENOTTY";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOMEM: return "ENOMEM";
    case EIO: return "EIO";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case ENOBUFS: return "ENOBUFS";
    case ENOTSOCK: return "ENOTSOCK";
    case EFAULT: return "EFAULT";
    case EAGAIN: return "EAGAIN";
    default: return "EUNKNOWN";
  }
}

napi_value nu_throw_errno(napi_env env, int err, const char *what) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value code, message, error, errno_val;
  if (napi_create_string_utf8(env, nu_errno_name(err), NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message) != napi_ok ||
      napi_create_error(env, code, message, &error) != napi_ok) {
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
  if (napi_create_int32(env, err, &errno_val) == napi_ok)
    napi_set_named_property(env, error, "errno", errno_val);
  napi_throw(env, error);
  return NULL;
}

napi_value nu_throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

napi_value nu_throw_range(napi_env env, const char *msg) {
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
  return NULL;
}

napi_value nu_throw_plain(napi_env env, const char *code, const char *msg) {
  napi_throw_error(env, code, msg);
  return NULL;
}

napi_value nu_undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

int nu_get_bytes(napi_env env, napi_value v, int allow_clamped, const uint8_t **data, size_t *len) {
  bool is_typed = false;
  napi_typedarray_type tt;
  napi_value ab;
  size_t off;
  void *d = NULL;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) return 0;
  /* Asking for the data materialises an on-heap typed array's store: the pointer is stable. */
  if (napi_get_typedarray_info(env, v, &tt, len, &d, &ab, &off) != napi_ok) return 0;
  if (tt != napi_uint8_array && !(allow_clamped && tt == napi_uint8_clamped_array)) return 0;
  if (*len > 0 && d == NULL) return 0;
  *data = (const uint8_t *)d;
  return 1;
}

int nu_get_typed(napi_env env, napi_value v, napi_typedarray_type want, size_t min, void **data,
                 size_t *len) {
  bool is_typed = false;
  napi_typedarray_type tt;
  napi_value ab;
  size_t off;
  *data = NULL;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) return 0;
  if (napi_get_typedarray_info(env, v, &tt, len, data, &ab, &off) != napi_ok) return 0;
  if (tt != want || *len < min) return 0;
  if (*len > 0 && *data == NULL) return 0;
  return 1;
}

int nu_get_uint(napi_env env, napi_value v, double max, uint32_t *out) {
  napi_valuetype t;
  double d;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) return 0;
  if (napi_get_value_double(env, v, &d) != napi_ok) return 0;
  if (!(d >= 0 && d <= max) || d != (double)(uint32_t)d) return 0;
  *out = (uint32_t)d;
  return 1;
}

int nu_get_fd(napi_env env, napi_value v, int *out) {
  uint32_t u;
  if (!nu_get_uint(env, v, 2147483647.0, &u)) return 0;
  *out = (int)u;
  return 1;
}

void *nu_get_tagged(napi_env env, napi_value v, const napi_type_tag *tag) {
  napi_valuetype t;
  bool tagged = false;
  void *p = NULL;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external ||
      napi_check_object_type_tag(env, v, tag, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, v, &p) != napi_ok)
    return NULL;
  return p;
}
