/*
 * ikev2-vpn: the N-API helpers both addons share (native/tun.c for tun.node; native/esp.c and
 * native/dataplane*.c for esp.node): errno names, errors thrown the same way everywhere, and
 * argument checks that throw nothing (the caller throws with its own message).
 *
 * Every symbol is hidden: the node binary exports many symbols of its own, and a symbol of ours
 * must never be interposed by one of them (nor one addon's by the other's).
 */
#ifndef IKEV2_NAPI_UTIL_H
#define IKEV2_NAPI_UTIL_H

#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

#define NU_HIDDEN __attribute__((visibility("hidden")))

/* "EPERM", "EADDRINUSE", ...; "EUNKNOWN" for the ones we do not expect. */
NU_HIDDEN const char *nu_errno_name(int err);
/* Throws Error(message = "<what>: <strerror>") with .code = "E..." and .errno = err; NULL. */
NU_HIDDEN napi_value nu_throw_errno(napi_env env, int err, const char *what);
/* TypeError with code ERR_INVALID_ARG_TYPE; NULL. */
NU_HIDDEN napi_value nu_throw_type(napi_env env, const char *msg);
/* RangeError with code ERR_OUT_OF_RANGE (right type, value out of range); NULL. */
NU_HIDDEN napi_value nu_throw_range(napi_env env, const char *msg);
/* Error with the given code; NULL. */
NU_HIDDEN napi_value nu_throw_plain(napi_env env, const char *code, const char *msg);
NU_HIDDEN napi_value nu_undefined(napi_env env);

/*
 * A Uint8Array (Buffer included; Uint8ClampedArray too when allow_clamped): its bytes and length.
 * Returns 1, or 0 (nothing thrown).
 */
NU_HIDDEN int nu_get_bytes(napi_env env, napi_value v, int allow_clamped, const uint8_t **data,
                           size_t *len);
/* A typed array of the given type with at least `min` elements. Returns 1, or 0. */
NU_HIDDEN int nu_get_typed(napi_env env, napi_value v, napi_typedarray_type want, size_t min,
                           void **data, size_t *len);
/* A number that is an integer in [0, max]. Returns 1, or 0 (nothing thrown). */
NU_HIDDEN int nu_get_uint(napi_env env, napi_value v, double max, uint32_t *out);
/* A non-negative int32 (a file descriptor). Returns 1, or 0 (nothing thrown). */
NU_HIDDEN int nu_get_fd(napi_env env, napi_value v, int *out);
/*
 * The pointer behind an external tagged `tag` (napi_type_tag_object), or NULL (nothing thrown)
 * for any other value: another addon's handle, a plain object, an untagged external.
 */
NU_HIDDEN void *nu_get_tagged(napi_env env, napi_value v, const napi_type_tag *tag);

#endif
