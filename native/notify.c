/*
 * ikev2-vpn: sd_notify(3) for the esp addon: one datagram to the AF_UNIX socket systemd names in
 * $NOTIFY_SOCKET ("READY=1", "STATUS=...", "STOPPING=1"). Node has no AF_UNIX datagram sockets,
 * hence these few lines of C. The protocol (systemd's sd_notify(3), "Notify socket"): a path
 * beginning with '/' is a filesystem socket, one beginning with '@' an abstract one (the '@'
 * becomes a NUL byte); the message is sent in one datagram. Each call opens, sends and closes a
 * socket, as libsystemd does; nothing is kept between calls.
 *
 *   notify(path: string, message: Uint8Array): number   (bytes sent; throws an errno Error)
 *
 * The caller (src/cli/sd-notify.ts) reads and checks the environment; this side checks again
 * that the path fits sockaddr_un and starts with '/' or '@', and bounds the message.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "napi_util.h"
#include "notify.h"

/* Larger than any message we send; systemd itself accepts up to its buffer size. */
#define NOTIFY_MAX_MESSAGE 4096

static napi_value js_notify(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2)
    return nu_throw_type(env, "notify(path, message)");
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  char path[sizeof sa.sun_path + 1];
  size_t plen = 0;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &plen) != napi_ok)
    return nu_throw_type(env, "notify: path must be a string");
  /* A path that fills the buffer was cut: too long for sockaddr_un. */
  if (plen < 2 || plen >= sizeof sa.sun_path || (path[0] != '/' && path[0] != '@'))
    return nu_throw_range(env, "notify: the socket path must start with / or @ and fit 107 bytes");
  if (strlen(path) != plen) return nu_throw_range(env, "notify: NUL byte in the socket path");
  memcpy(sa.sun_path, path, plen);
  if (path[0] == '@') sa.sun_path[0] = '\0';
  /* Abstract names are exactly plen bytes long; a filesystem path is NUL-terminated. */
  socklen_t salen =
      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen + (path[0] == '/' ? 1 : 0));

  const uint8_t *msg;
  size_t mlen;
  if (!nu_get_bytes(env, argv[1], 0, &msg, &mlen))
    return nu_throw_type(env, "notify: message must be a Uint8Array");
  if (mlen == 0 || mlen > NOTIFY_MAX_MESSAGE)
    return nu_throw_range(env, "notify: message must be 1 to 4096 bytes");

  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return nu_throw_errno(env, errno, "notify: socket");
  ssize_t n;
  do {
    n = sendto(fd, msg, mlen, MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&sa, salen);
  } while (n < 0 && errno == EINTR);
  int err = errno;
  close(fd);
  if (n < 0) return nu_throw_errno(env, err, "notify: sendto");
  napi_value out;
  if (napi_create_uint32(env, (uint32_t)n, &out) != napi_ok) return NULL;
  return out;
}

int notify_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"notify", NULL, js_notify, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, 1, props) == napi_ok;
}
