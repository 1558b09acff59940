/*
 * ikev2-vpn: host network configuration over rtnetlink (NETLINK_ROUTE), part of the tun addon.
 *
 * What src/tun/netcfg.ts did with one `ip` process per change (10-40 ms each on a loaded host,
 * most of the connect time after IKE) it does here with one netlink request and its
 * acknowledgement (microseconds): link MTU and state, addresses, routes (unicast and
 * `unreachable`), policy rules, the route the kernel uses to reach an address, and the main
 * table's default routes. Every call is synchronous and opens its own socket in the calling
 * thread's network namespace (the one `ip` would have worked in), closed before it returns.
 * Every change is acknowledged (NLM_F_ACK) and a negative ack is thrown as an Error with
 * .code = "EEXIST", "ESRCH", ... and message "<what>: <strerror>[: <kernel's extended ack>]",
 * the same strerror text iproute2 prints, so callers can keep matching "File exists" or "No such
 * process". Replies are bounds-checked (NLMSG_OK, RTA_OK) before anything is read from them; a
 * reply that is not ours (wrong sequence number, not from the kernel) is skipped; a kernel that
 * does not answer within 5 s is ETIMEDOUT, never a hang.
 *
 * Exports (registered by native/tun.c's init through netlink_register):
 *   rtGetLink(dev) -> { index, mtu, up } | null      null: no such device
 *   rtSetLink(dev, mtu, up) -> undefined            mtu 0: unchanged; up -1: unchanged, 0/1
 *   rtAddr(add: boolean, dev, address, prefixLen)   RTM_NEWADDR (NLM_F_EXCL) / RTM_DELADDR
 *   rtRoute(op, dst, prefixLen, dev|null, via|null, src|null, metric, table, unreachable)
 *                                                   op "add" (NLM_F_EXCL), "replace", "del";
 *                                                   metric/table -1: none (table: main)
 *   rtRouteGet(address) -> { dev, via?, src? }      RTM_GETROUTE for one address
 *   rtRule(add: boolean, from, table, priority, suppressPrefixlen)   suppress -1: none
 *   rtDefaultRoutes(v6: boolean) -> [{ dev, via?, src?, metric }]   the main table's /0 routes
 *
 * And one helper that is not netlink but belongs to the same start-up path:
 *   redirectOutput(fd) -> undefined   dup2(fd) onto stdout and stderr: a `vpn connect --background`
 *                                     tunnel process started before its log was known (bin/vpn.js)
 *                                     writes everything, a crash of Node's included, to the log
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/fib_rules.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "napi_util.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NLM_F_ACK_TLVS
#define NLM_F_ACK_TLVS 0x200
#endif
#ifndef NLMSGERR_ATTR_MSG
#define NLMSGERR_ATTR_MSG 1
#endif

/* A request: header, family header and attributes; 512 bytes hold the largest one we build. */
typedef struct {
  struct nlmsghdr h;
  char body[512];
} nlreq_t;

/* Replies are read into this much at a time (a route dump arrives in several reads). */
#define RECV_BUF 32768

static const char *err_name(int err) {
  switch (err) {
    case ESRCH: return "ESRCH";
    case ENETUNREACH: return "ENETUNREACH";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EPROTO: return "EPROTO";
    case ERANGE: return "ERANGE";
    default: return nu_errno_name(err);
  }
}

/* Throws Error("<what>: <strerror>[: <detail>]") with .code and .errno; returns NULL. */
static napi_value throw_nl(napi_env env, int err, const char *what, const char *detail) {
  char msg[512];
  if (detail && detail[0])
    snprintf(msg, sizeof msg, "%s: %s: %s", what, strerror(err), detail);
  else
    snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value code, message, error, errno_val;
  if (napi_create_string_utf8(env, err_name(err), NAPI_AUTO_LENGTH, &code) != napi_ok ||
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

static void req_init(nlreq_t *r, uint16_t type, uint16_t flags, const void *fam, size_t famlen) {
  memset(r, 0, sizeof *r);
  r->h.nlmsg_len = NLMSG_LENGTH(famlen);
  r->h.nlmsg_type = type;
  r->h.nlmsg_flags = NLM_F_REQUEST | flags;
  memcpy(NLMSG_DATA(&r->h), fam, famlen);
}

/* Appends one attribute; 0 when it does not fit (a bug of ours: the request is refused). */
static int add_attr(nlreq_t *r, uint16_t type, const void *data, size_t len) {
  size_t at = NLMSG_ALIGN(r->h.nlmsg_len), total = RTA_LENGTH(len);
  if (at + RTA_ALIGN(total) > sizeof *r) return 0;
  struct rtattr *a = (struct rtattr *)((char *)r + at);
  a->rta_type = type;
  a->rta_len = (unsigned short)total;
  if (len) memcpy(RTA_DATA(a), data, len);
  r->h.nlmsg_len = (uint32_t)(at + RTA_ALIGN(total));
  return 1;
}

static int add_u32(nlreq_t *r, uint16_t type, uint32_t v) { return add_attr(r, type, &v, 4); }

typedef struct {
  int fd;
  uint32_t seq;
  char detail[200]; /* the kernel's extended ack message, if any */
} nlsock_t;

static int nl_open(nlsock_t *s) {
  memset(s, 0, sizeof *s);
  s->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (s->fd < 0) return -errno;
  struct timeval tv = {5, 0};
  (void)setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  int one = 1; /* best effort: kernels before 4.12 have no extended acks */
  (void)setsockopt(s->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  struct sockaddr_nl local = {.nl_family = AF_NETLINK};
  if (bind(s->fd, (struct sockaddr *)&local, sizeof local) < 0) {
    int err = errno;
    close(s->fd);
    return -err;
  }
  struct timeval now;
  gettimeofday(&now, NULL);
  s->seq = (uint32_t)now.tv_usec ^ (uint32_t)now.tv_sec;
  return 0;
}

/* The kernel's text in an extended ack (NLMSGERR_ATTR_MSG), copied printable and bounded. */
static void ext_ack(nlsock_t *s, const struct nlmsghdr *h, const struct nlmsgerr *e) {
  if (!(h->nlmsg_flags & NLM_F_ACK_TLVS)) return;
  /* After the error: the offending request, whole or (NLM_F_CAPPED) its header only. */
  size_t off = NLMSG_LENGTH(sizeof *e);
  if (!(h->nlmsg_flags & NLM_F_CAPPED)) {
    if (e->msg.nlmsg_len < sizeof(struct nlmsghdr)) return;
    off = NLMSG_LENGTH(NLMSG_ALIGN(sizeof(int) + (size_t)e->msg.nlmsg_len));
  }
  if (off >= h->nlmsg_len) return;
  int left = (int)(h->nlmsg_len - off);
  for (const struct rtattr *a = (const struct rtattr *)((const char *)h + off); RTA_OK(a, left);
       a = RTA_NEXT(a, left)) {
    if (a->rta_type != NLMSGERR_ATTR_MSG) continue;
    const char *t = RTA_DATA(a);
    size_t n = RTA_PAYLOAD(a), k = 0;
    for (size_t i = 0; i < n && t[i] && k + 1 < sizeof s->detail; i++)
      s->detail[k++] = (t[i] >= 0x20 && t[i] < 0x7f) ? t[i] : '?';
    s->detail[k] = 0;
    return;
  }
}

typedef int (*on_msg_t)(const struct nlmsghdr *h, void *arg);

/*
 * Sends `r` and reads until its ack (or, for a dump, NLMSG_DONE). Each reply message of type
 * `want` goes to `cb`. Returns 0 or -errno (the kernel's answer, or the socket's).
 */
static int nl_talk(nlsock_t *s, nlreq_t *r, uint16_t want, on_msg_t cb, void *arg) {
  r->h.nlmsg_seq = ++s->seq;
  int dump = (r->h.nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  ssize_t n;
  do n = sendto(s->fd, r, r->h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  static __thread char buf[RECV_BUF] __attribute__((aligned(8)));
  for (;;) {
    struct sockaddr_nl from;
    socklen_t fl = sizeof from;
    do n = recvfrom(s->fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    while (n < 0 && errno == EINTR);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
    if (n == 0) return -EPROTO;
    if (fl != sizeof from || from.nl_pid != 0) continue; /* not from the kernel */
    int left = (int)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_seq != s->seq) continue; /* an earlier request's late answer */
      if (h->nlmsg_type == NLMSG_ERROR) {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr))) return -EPROTO;
        const struct nlmsgerr *e = NLMSG_DATA(h);
        if (e->error == 0) return 0;
        ext_ack(s, h, e);
        return e->error < 0 && e->error > -4096 ? e->error : -EPROTO;
      }
      if (h->nlmsg_type == NLMSG_DONE) return 0;
      if (h->nlmsg_type == want && cb) {
        int rc = cb(h, arg);
        if (rc < 0) return rc;
        if (!dump && !(r->h.nlmsg_flags & NLM_F_ACK)) return 0; /* a get: one answer */
      }
    }
  }
}

/* ---- argument helpers ---- */

/* A device name argument (< IFNAMSIZ bytes, no NUL): 1, or 0 with a TypeError thrown. */
static int get_dev(napi_env env, napi_value v, char out[IFNAMSIZ]) {
  size_t len = 0;
  char tmp[IFNAMSIZ + 1];
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string ||
      napi_get_value_string_utf8(env, v, tmp, sizeof tmp, &len) != napi_ok || len == 0 ||
      len >= IFNAMSIZ || strlen(tmp) != len) {
    nu_throw_type(env, "expected an interface name");
    return 0;
  }
  memcpy(out, tmp, len + 1);
  return 1;
}

/* An IP address argument: its family (AF_INET/AF_INET6) and bytes; 0 with a TypeError thrown. */
static int get_ip(napi_env env, napi_value v, int *family, uint8_t out[16]) {
  char tmp[64];
  size_t len = 0;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) == napi_ok && t == napi_string &&
      napi_get_value_string_utf8(env, v, tmp, sizeof tmp, &len) == napi_ok &&
      len < sizeof tmp - 1 && strlen(tmp) == len) {
    if (inet_pton(AF_INET, tmp, out) == 1) {
      *family = AF_INET;
      return 1;
    }
    if (inet_pton(AF_INET6, tmp, out) == 1) {
      *family = AF_INET6;
      return 1;
    }
  }
  nu_throw_type(env, "expected an IPv4 or IPv6 address");
  return 0;
}

static int is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) == napi_ok && (t == napi_null || t == napi_undefined);
}

/* An integer in [-1, max]: -1 means "none". 1, or 0 with a RangeError thrown. */
static int get_opt_int(napi_env env, napi_value v, double max, int64_t *out) {
  double d;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number ||
      napi_get_value_double(env, v, &d) != napi_ok || !(d >= -1 && d <= max) ||
      d != (double)(int64_t)d) {
    nu_throw_range(env, "expected an integer (or -1 for none)");
    return 0;
  }
  *out = (int64_t)d;
  return 1;
}

static int get_bool(napi_env env, napi_value v, bool *out) {
  if (napi_get_value_bool(env, v, out) == napi_ok) return 1;
  nu_throw_type(env, "expected a boolean");
  return 0;
}

static int ifindex_of(const char *dev) { return (int)if_nametoindex(dev); }

#define ARGS(n)                                                                      \
  size_t argc = (n);                                                                 \
  napi_value argv[(n)];                                                              \
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < (n)) \
    return nu_throw_type(env, "missing arguments");

static napi_value set_str(napi_env env, napi_value obj, const char *key, const char *val) {
  napi_value v;
  if (napi_create_string_utf8(env, val, NAPI_AUTO_LENGTH, &v) == napi_ok)
    napi_set_named_property(env, obj, key, v);
  return obj;
}

static void set_num(napi_env env, napi_value obj, const char *key, double val) {
  napi_value v;
  if (napi_create_double(env, val, &v) == napi_ok) napi_set_named_property(env, obj, key, v);
}

/* ---- links ---- */

typedef struct {
  int found;
  int index;
  uint32_t mtu;
  unsigned flags;
} link_t;

static int on_link(const struct nlmsghdr *h, void *arg) {
  link_t *l = arg;
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg))) return -EPROTO;
  const struct ifinfomsg *ifi = NLMSG_DATA(h);
  l->found = 1;
  l->index = ifi->ifi_index;
  l->flags = ifi->ifi_flags;
  int left = (int)IFLA_PAYLOAD(h);
  for (const struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, left); a = RTA_NEXT(a, left))
    if (a->rta_type == IFLA_MTU && RTA_PAYLOAD(a) >= 4) memcpy(&l->mtu, RTA_DATA(a), 4);
  return 0;
}

static napi_value js_get_link(napi_env env, napi_callback_info info) {
  ARGS(1);
  char dev[IFNAMSIZ];
  if (!get_dev(env, argv[0], dev)) return NULL;
  nlsock_t s;
  int rc = nl_open(&s);
  if (rc < 0) return throw_nl(env, -rc, "netlink socket", NULL);
  nlreq_t r;
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
  req_init(&r, RTM_GETLINK, 0, &ifi, sizeof ifi);
  add_attr(&r, IFLA_IFNAME, dev, strlen(dev) + 1);
  link_t l = {0};
  rc = nl_talk(&s, &r, RTM_NEWLINK, on_link, &l);
  close(s.fd);
  napi_value out;
  if (rc == -ENODEV || (rc == 0 && !l.found)) {
    napi_get_null(env, &out);
    return out;
  }
  if (rc < 0) return throw_nl(env, -rc, "RTM_GETLINK", s.detail);
  napi_create_object(env, &out);
  set_num(env, out, "index", l.index);
  set_num(env, out, "mtu", l.mtu);
  napi_value up;
  napi_get_boolean(env, (l.flags & IFF_UP) != 0, &up);
  napi_set_named_property(env, out, "up", up);
  return out;
}

static napi_value js_set_link(napi_env env, napi_callback_info info) {
  ARGS(3);
  char dev[IFNAMSIZ];
  int64_t mtu, up;
  if (!get_dev(env, argv[0], dev) || !get_opt_int(env, argv[1], 65535, &mtu) ||
      !get_opt_int(env, argv[2], 1, &up))
    return NULL;
  int index = ifindex_of(dev);
  if (index == 0) return throw_nl(env, ENODEV, "RTM_NEWLINK", dev);
  nlsock_t s;
  int rc = nl_open(&s);
  if (rc < 0) return throw_nl(env, -rc, "netlink socket", NULL);
  nlreq_t r;
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = index};
  if (up >= 0) {
    ifi.ifi_change = IFF_UP;
    ifi.ifi_flags = up ? IFF_UP : 0;
  }
  req_init(&r, RTM_NEWLINK, NLM_F_ACK, &ifi, sizeof ifi);
  if (mtu > 0) add_u32(&r, IFLA_MTU, (uint32_t)mtu);
  rc = nl_talk(&s, &r, 0, NULL, NULL);
  close(s.fd);
  if (rc < 0) return throw_nl(env, -rc, "RTM_NEWLINK", s.detail);
  return nu_undefined(env);
}

/* ---- addresses ---- */

static napi_value js_addr(napi_env env, napi_callback_info info) {
  ARGS(4);
  bool add;
  char dev[IFNAMSIZ];
  int family;
  uint8_t addr[16];
  int64_t plen;
  if (!get_bool(env, argv[0], &add) || !get_dev(env, argv[1], dev) ||
      !get_ip(env, argv[2], &family, addr) || !get_opt_int(env, argv[3], 128, &plen))
    return NULL;
  size_t alen = family == AF_INET ? 4 : 16;
  if (plen < 0 || plen > (int64_t)alen * 8) return nu_throw_range(env, "bad prefix length");
  const char *what = add ? "RTM_NEWADDR" : "RTM_DELADDR";
  int index = ifindex_of(dev);
  if (index == 0) return throw_nl(env, ENODEV, what, dev);
  nlsock_t s;
  int rc = nl_open(&s);
  if (rc < 0) return throw_nl(env, -rc, "netlink socket", NULL);
  nlreq_t r;
  struct ifaddrmsg ifa = {.ifa_family = (uint8_t)family,
                          .ifa_prefixlen = (uint8_t)plen,
                          .ifa_scope = RT_SCOPE_UNIVERSE,
                          .ifa_index = (uint32_t)index};
  req_init(&r, add ? RTM_NEWADDR : RTM_DELADDR, NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0),
           &ifa, sizeof ifa);
  add_attr(&r, IFA_LOCAL, addr, alen);
  add_attr(&r, IFA_ADDRESS, addr, alen);
  rc = nl_talk(&s, &r, 0, NULL, NULL);
  close(s.fd);
  if (rc < 0) return throw_nl(env, -rc, what, s.detail);
  return nu_undefined(env);
}

/* ---- routes ---- */

static napi_value js_route(napi_env env, napi_callback_info info) {
  ARGS(9);
  char op[16], dev[IFNAMSIZ];
  size_t oplen = 0;
  int family, vfam = 0, sfam = 0, index = 0;
  uint8_t dst[16], via[16], src[16];
  int64_t plen, metric, table;
  bool unreachable, has_dev = false, has_via = false, has_src = false;
  if (napi_get_value_string_utf8(env, argv[0], op, sizeof op, &oplen) != napi_ok)
    return nu_throw_type(env, "op must be add, replace or del");
  int cmd_add = strcmp(op, "add") == 0, cmd_replace = strcmp(op, "replace") == 0,
      cmd_del = strcmp(op, "del") == 0;
  if (!cmd_add && !cmd_replace && !cmd_del)
    return nu_throw_type(env, "op must be add, replace or del");
  if (!get_ip(env, argv[1], &family, dst) || !get_opt_int(env, argv[2], 128, &plen)) return NULL;
  size_t alen = family == AF_INET ? 4 : 16;
  if (plen < 0 || plen > (int64_t)alen * 8) return nu_throw_range(env, "bad prefix length");
  if (!is_nullish(env, argv[3])) {
    if (!get_dev(env, argv[3], dev)) return NULL;
    has_dev = true;
  }
  if (!is_nullish(env, argv[4])) {
    if (!get_ip(env, argv[4], &vfam, via)) return NULL;
    if (vfam != family) return nu_throw_type(env, "next hop of another address family");
    has_via = true;
  }
  if (!is_nullish(env, argv[5])) {
    if (!get_ip(env, argv[5], &sfam, src)) return NULL;
    if (sfam != family) return nu_throw_type(env, "source of another address family");
    has_src = true;
  }
  if (!get_opt_int(env, argv[6], 4294967295.0, &metric) ||
      !get_opt_int(env, argv[7], 4294967295.0, &table) || !get_bool(env, argv[8], &unreachable))
    return NULL;
  const char *what = cmd_del ? "RTM_DELROUTE" : "RTM_NEWROUTE";
  if (has_dev && (index = ifindex_of(dev)) == 0) return throw_nl(env, ENODEV, what, dev);
  nlsock_t s;
  int rc = nl_open(&s);
  if (rc < 0) return throw_nl(env, -rc, "netlink socket", NULL);
  uint32_t tab = table < 0 ? RT_TABLE_MAIN : (uint32_t)table;
  struct rtmsg rtm = {.rtm_family = (uint8_t)family,
                      .rtm_dst_len = (uint8_t)plen,
                      .rtm_table = tab < 256 ? (uint8_t)tab : RT_TABLE_UNSPEC,
                      .rtm_protocol = RTPROT_BOOT, /* what `ip route add` uses */
                      .rtm_scope = cmd_del ? RT_SCOPE_NOWHERE : RT_SCOPE_UNIVERSE,
                      .rtm_type = unreachable ? RTN_UNREACHABLE : RTN_UNICAST};
  /* As iproute2 does: an IPv4 unicast route without a gateway is link-scope (on-link). */
  if (!cmd_del && !unreachable && !has_via && family == AF_INET) rtm.rtm_scope = RT_SCOPE_LINK;
  if (cmd_del) rtm.rtm_protocol = 0;
  uint16_t flags = NLM_F_ACK;
  if (cmd_add) flags |= NLM_F_CREATE | NLM_F_EXCL;
  if (cmd_replace) flags |= NLM_F_CREATE | NLM_F_REPLACE;
  nlreq_t r;
  req_init(&r, cmd_del ? RTM_DELROUTE : RTM_NEWROUTE, flags, &rtm, sizeof rtm);
  int ok = add_attr(&r, RTA_DST, dst, alen) && add_u32(&r, RTA_TABLE, tab);
  if (has_dev) ok = ok && add_u32(&r, RTA_OIF, (uint32_t)index);
  if (has_via) ok = ok && add_attr(&r, RTA_GATEWAY, via, alen);
  if (has_src) ok = ok && add_attr(&r, RTA_PREFSRC, src, alen);
  if (metric >= 0) ok = ok && add_u32(&r, RTA_PRIORITY, (uint32_t)metric);
  if (!ok) {
    close(s.fd);
    return throw_nl(env, ENOBUFS, what, "request too long");
  }
  rc = nl_talk(&s, &r, 0, NULL, NULL);
  close(s.fd);
  if (rc < 0) return throw_nl(env, -rc, what, s.detail);
  return nu_undefined(env);
}

typedef struct {
  int found;
  int family;
  uint8_t dst_len;
  uint8_t table;
  uint8_t type;
  uint32_t table32;
  int oif;
  int has_gw, has_src;
  uint8_t gw[16], src[16];
  uint32_t metric;
} route_t;

static int parse_route(const struct nlmsghdr *h, route_t *o) {
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct rtmsg))) return -EPROTO;
  const struct rtmsg *rtm = NLMSG_DATA(h);
  memset(o, 0, sizeof *o);
  o->found = 1;
  o->family = rtm->rtm_family;
  o->dst_len = rtm->rtm_dst_len;
  o->table = rtm->rtm_table;
  o->table32 = rtm->rtm_table;
  o->type = rtm->rtm_type;
  size_t alen = rtm->rtm_family == AF_INET6 ? 16 : 4;
  int left = (int)RTM_PAYLOAD(h);
  for (const struct rtattr *a = RTM_RTA(rtm); RTA_OK(a, left); a = RTA_NEXT(a, left)) {
    size_t n = RTA_PAYLOAD(a);
    switch (a->rta_type) {
      case RTA_OIF:
        if (n >= 4) memcpy(&o->oif, RTA_DATA(a), 4);
        break;
      case RTA_GATEWAY:
        if (n == alen) {
          memcpy(o->gw, RTA_DATA(a), alen);
          o->has_gw = 1;
        }
        break;
      case RTA_PREFSRC:
        if (n == alen) {
          memcpy(o->src, RTA_DATA(a), alen);
          o->has_src = 1;
        }
        break;
      case RTA_PRIORITY:
        if (n >= 4) memcpy(&o->metric, RTA_DATA(a), 4);
        break;
      case RTA_TABLE:
        if (n >= 4) memcpy(&o->table32, RTA_DATA(a), 4);
        break;
    }
  }
  return 0;
}

/* { dev, via?, src? } of a parsed route, or NULL with an error thrown (an unnamed device). */
static napi_value route_object(napi_env env, const route_t *o, const char *what) {
  char name[IF_NAMESIZE];
  if (o->oif <= 0 || !if_indextoname((unsigned)o->oif, name))
    return throw_nl(env, ENODEV, what, "route without a device");
  napi_value out;
  napi_create_object(env, &out);
  set_str(env, out, "dev", name);
  char text[INET6_ADDRSTRLEN];
  if (o->has_gw && inet_ntop(o->family, o->gw, text, sizeof text)) set_str(env, out, "via", text);
  if (o->has_src && inet_ntop(o->family, o->src, text, sizeof text)) set_str(env, out, "src", text);
  return out;
}

static int on_route_get(const struct nlmsghdr *h, void *arg) { return parse_route(h, arg); }

static napi_value js_route_get(napi_env env, napi_callback_info info) {
  ARGS(1);
  int family;
  uint8_t addr[16];
  if (!get_ip(env, argv[0], &family, addr)) return NULL;
  size_t alen = family == AF_INET ? 4 : 16;
  nlsock_t s;
  int rc = nl_open(&s);
  if (rc < 0) return throw_nl(env, -rc, "netlink socket", NULL);
  nlreq_t r;
  struct rtmsg rtm = {.rtm_family = (uint8_t)family, .rtm_dst_len = (uint8_t)(alen * 8)};
  req_init(&r, RTM_GETROUTE, 0, &rtm, sizeof rtm);
  add_attr(&r, RTA_DST, addr, alen);
  route_t o = {0};
  rc = nl_talk(&s, &r, RTM_NEWROUTE, on_route_get, &o);
  close(s.fd);
  if (rc < 0) return throw_nl(env, -rc, "RTM_GETROUTE", s.detail);
  if (!o.found) return throw_nl(env, ENETUNREACH, "RTM_GETROUTE", "no answer");
  if (o.type != RTN_UNICAST && o.type != RTN_LOCAL)
    return throw_nl(env, ENETUNREACH, "RTM_GETROUTE", NULL);
  return route_object(env, &o, "RTM_GETROUTE");
}

typedef struct {
  napi_env env;
  napi_value arr;
  uint32_t n;
  int failed;
} dump_t;

/* Each main-table unicast /0 route with a device: { dev, via?, src?, metric }. */
static int on_default_route(const struct nlmsghdr *h, void *arg) {
  dump_t *d = arg;
  route_t o;
  int rc = parse_route(h, &o);
  if (rc < 0) return rc;
  if (o.dst_len != 0 || o.table32 != RT_TABLE_MAIN || o.type != RTN_UNICAST || o.oif <= 0) return 0;
  if (d->n >= 256) return 0; /* bound what a hostile host table could make us allocate */
  char name[IF_NAMESIZE];
  if (!if_indextoname((unsigned)o.oif, name)) return 0;
  napi_value obj;
  if (napi_create_object(d->env, &obj) != napi_ok) return -ENOMEM;
  set_str(d->env, obj, "dev", name);
  char text[INET6_ADDRSTRLEN];
  if (o.has_gw && inet_ntop(o.family, o.gw, text, sizeof text)) set_str(d->env, obj, "via", text);
  if (o.has_src && inet_ntop(o.family, o.src, text, sizeof text)) set_str(d->env, obj, "src", text);
  set_num(d->env, obj, "metric", o.metric);
  napi_set_element(d->env, d->arr, d->n++, obj);
  return 0;
}

static napi_value js_default_routes(napi_env env, napi_callback_info info) {
  ARGS(1);
  bool v6;
  if (!get_bool(env, argv[0], &v6)) return NULL;
  nlsock_t s;
  int rc = nl_open(&s);
  if (rc < 0) return throw_nl(env, -rc, "netlink socket", NULL);
  nlreq_t r;
  struct rtmsg rtm = {.rtm_family = v6 ? AF_INET6 : AF_INET};
  req_init(&r, RTM_GETROUTE, NLM_F_DUMP, &rtm, sizeof rtm);
  dump_t d = {env, NULL, 0, 0};
  napi_create_array(env, &d.arr);
  rc = nl_talk(&s, &r, RTM_NEWROUTE, on_default_route, &d);
  close(s.fd);
  if (rc < 0) return throw_nl(env, -rc, "RTM_GETROUTE dump", s.detail);
  return d.arr;
}

/* ---- policy rules ---- */

static napi_value js_rule(napi_env env, napi_callback_info info) {
  ARGS(5);
  bool add;
  int family;
  uint8_t from[16];
  int64_t table, prio, suppress;
  if (!get_bool(env, argv[0], &add) || !get_ip(env, argv[1], &family, from) ||
      !get_opt_int(env, argv[2], 4294967295.0, &table) ||
      !get_opt_int(env, argv[3], 4294967295.0, &prio) || !get_opt_int(env, argv[4], 128, &suppress))
    return NULL;
  if (table < 0 || prio < 0) return nu_throw_range(env, "a rule needs a table and a priority");
  size_t alen = family == AF_INET ? 4 : 16;
  const char *what = add ? "RTM_NEWRULE" : "RTM_DELRULE";
  nlsock_t s;
  int rc = nl_open(&s);
  if (rc < 0) return throw_nl(env, -rc, "netlink socket", NULL);
  struct fib_rule_hdr frh = {.family = (uint8_t)family,
                             .src_len = (uint8_t)(alen * 8),
                             .table = table < 256 ? (uint8_t)table : RT_TABLE_UNSPEC,
                             .action = FR_ACT_TO_TBL};
  nlreq_t r;
  req_init(&r, add ? RTM_NEWRULE : RTM_DELRULE, NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0),
           &frh, sizeof frh);
  int ok = add_attr(&r, FRA_SRC, from, alen) && add_u32(&r, FRA_TABLE, (uint32_t)table) &&
           add_u32(&r, FRA_PRIORITY, (uint32_t)prio);
  if (suppress >= 0) ok = ok && add_u32(&r, FRA_SUPPRESS_PREFIXLEN, (uint32_t)suppress);
  if (!ok) {
    close(s.fd);
    return throw_nl(env, ENOBUFS, what, "request too long");
  }
  rc = nl_talk(&s, &r, 0, NULL, NULL);
  close(s.fd);
  if (rc < 0) return throw_nl(env, -rc, what, s.detail);
  return nu_undefined(env);
}

/* ---- output redirection (see the top) ---- */

static napi_value js_redirect_output(napi_env env, napi_callback_info info) {
  ARGS(1);
  int fd;
  if (!nu_get_fd(env, argv[0], &fd)) return nu_throw_type(env, "redirectOutput(fd): bad fd");
  if (fd <= 2) return nu_throw_range(env, "redirectOutput(fd): fd must not be 0, 1 or 2");
  for (int target = 1; target <= 2; target++) {
    int rc;
    do rc = dup2(fd, target);
    while (rc < 0 && errno == EINTR);
    if (rc < 0) return throw_nl(env, errno, "dup2", NULL);
  }
  return nu_undefined(env);
}

NU_HIDDEN void netlink_register(napi_env env, napi_value exports);

void netlink_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"rtGetLink", NULL, js_get_link, NULL, NULL, NULL, napi_default, NULL},
      {"rtSetLink", NULL, js_set_link, NULL, NULL, NULL, napi_default, NULL},
      {"rtAddr", NULL, js_addr, NULL, NULL, NULL, napi_default, NULL},
      {"rtRoute", NULL, js_route, NULL, NULL, NULL, napi_default, NULL},
      {"rtRouteGet", NULL, js_route_get, NULL, NULL, NULL, napi_default, NULL},
      {"rtRule", NULL, js_rule, NULL, NULL, NULL, napi_default, NULL},
      {"rtDefaultRoutes", NULL, js_default_routes, NULL, NULL, NULL, napi_default, NULL},
      {"redirectOutput", NULL, js_redirect_output, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
