/*
 * ikev2-vpn engine benchmark: the far side of our data path, and the traffic generators.
 * Built by scripts/bench-engine at run time:  gcc -O2 -o esp-peer esp-peer.c -lcrypto
 *
 * ESP is AES-256-GCM with a 16-byte ICV in UDP (RFC 3948), byte for byte as src/esp/sa.ts writes
 * it (RFC 4106, 32-bit sequence numbers, tunnel mode):
 *
 *   SPI(4) ‖ seq(4) ‖ IV(8) = 0(4) ‖ seq(4) ‖ ciphertext ‖ ICV(16)      all big-endian
 *   plaintext = inner IPv4 packet ‖ padding 1, 2, 3 … ‖ pad length ‖ next header (4 = IPv4),
 *               padded so that pad length and next header end on a 4-byte boundary
 *   AAD = SPI ‖ seq, nonce = salt(4) ‖ IV(8), keymat = key(32) ‖ salt(4)
 *
 * Modes (each prints one JSON object on stdout when it ends; times are CLOCK_MONOTONIC seconds):
 *   sink   --keys F --sa out|in --bind IP:PORT [--ready FILE]
 *          receives ESP-in-UDP until SIGINT/SIGTERM, decrypts and verifies every packet (SPI, IV
 *          format, ICV, padding, next header, inner IPv4 length) and counts what verified
 *   source --keys F --sa out|in --bind IP:PORT --to IP:PORT --size N --seconds S
 *          [--src IP --dst IP --dport P] [--rate PPS] [--first-seq N]
 *          sends ESP packets carrying inner IPv4/UDP packets of N bytes (src → dst:dport; DF, the IP
 *          ID advancing per packet, UDP checksum set: what a Linux sender's kernel makes) as fast as
 *          it can (sendmmsg, 64 per call), or at PPS packets/s; sequence numbers from N (default 1),
 *          the last one used is reported as lastSeq
 *   gen    --to IP:PORT --size N --seconds S [--rate PPS]
 *          sends UDP datagrams whose IPv4 packet is N bytes (payload N - 28), sendmmsg 64 per call
 *   count  --bind IP:PORT [--ready FILE]
 *          receives UDP datagrams until SIGINT/SIGTERM and counts them (bytes = IPv4 packet length)
 *
 * Offloads, as real peers use them (bench-engine's default; --no-offload leaves them out):
 *   gen --gso, source --gso   one sendmmsg entry carries up to 64 equal datagrams with UDP_SEGMENT
 *                             (UDP GSO): the kernel segments them after one pass (gen: into the
 *                             TUN route, which takes them as one USO super-packet when the device
 *                             has USO; source: to our ESP socket, which may take them whole with
 *                             UDP GRO)
 *   sink --gro, count --gro   UDP_GRO on the socket: coalesced datagrams arrive as one buffer with
 *                             the segment size in a cmsg, split and counted one by one
 *
 * Key file (mode 600): lines name=hex, names out_spi, out_keymat, in_spi, in_keymat ("out" is the
 * SA our data path sends with, "in" the one it receives with).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define BUF 2048
#define GRO_BUF 65536 /* a coalesced datagram (UDP GRO) */
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

/* Segments per UDP GSO message: at most 64, and within 65000 bytes. */
static int gso_segments(int seg) {
  int k = 65000 / seg;
  return k > 64 ? 64 : k < 1 ? 1 : k;
}

static void set_gso(struct msghdr *h, char *ctl, size_t ctllen, int seg) {
  h->msg_control = ctl;
  h->msg_controllen = ctllen;
  struct cmsghdr *c = CMSG_FIRSTHDR(h);
  c->cmsg_level = SOL_UDP;
  c->cmsg_type = UDP_SEGMENT;
  c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  uint16_t v = (uint16_t)seg;
  memcpy(CMSG_DATA(c), &v, sizeof v);
}

/* The segment size of a coalesced datagram (UDP_GRO cmsg), or 0. */
static int gro_size(struct msghdr *h) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c))
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
      int v;
      memcpy(&v, CMSG_DATA(c), sizeof v);
      return v;
    }
  return 0;
}

static int has_flag(int argc, char **argv, const char *name) {
  for (int i = 2; i < argc; i++)
    if (strcmp(argv[i], name) == 0) return 1;
  return 0;
}

static void enable_gro(int s) {
  int one = 1;
  if (setsockopt(s, SOL_UDP, UDP_GRO, &one, sizeof one) < 0) {
    perror("esp-peer: UDP_GRO");
    exit(1);
  }
}
#define ICV 16
#define HDR 16 /* SPI ‖ seq ‖ IV */

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig) {
  (void)sig;
  stop_flag = 1;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *msg) {
  fprintf(stderr, "esp-peer: %s\n", msg);
  exit(1);
}

static void die_errno(const char *what) {
  fprintf(stderr, "esp-peer: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* ---- options ---- */
static const char *opt(int argc, char **argv, const char *name, const char *def) {
  for (int i = 2; i + 1 < argc; i++)
    if (strcmp(argv[i], name) == 0) return argv[i + 1];
  return def;
}

static const char *need(int argc, char **argv, const char *name) {
  const char *v = opt(argc, argv, name, NULL);
  if (!v) {
    fprintf(stderr, "esp-peer %s: missing %s\n", argv[1], name);
    exit(2);
  }
  return v;
}

static struct sockaddr_in endpoint(const char *s) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  char host[64];
  const char *colon = strrchr(s, ':');
  if (!colon || (size_t)(colon - s) >= sizeof host) die("expected IP:PORT");
  memcpy(host, s, (size_t)(colon - s));
  host[colon - s] = 0;
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) die("bad IPv4 address");
  a.sin_port = htons((uint16_t)atoi(colon + 1));
  return a;
}

/* ---- keys ---- */
typedef struct {
  uint32_t spi;
  uint8_t key[32];
  uint8_t salt[4];
  EVP_CIPHER_CTX *ctx;
} sa_t;

static int unhex(const char *h, uint8_t *out, size_t n) {
  if (strlen(h) != 2 * n) return -1;
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    if (sscanf(h + 2 * i, "%2x", &v) != 1) return -1;
    out[i] = (uint8_t)v;
  }
  return 0;
}

static void load_sa(const char *file, const char *which, sa_t *sa, int encrypt) {
  FILE *f = fopen(file, "r");
  if (!f) die_errno(file);
  char line[512], spi_name[32], km_name[32];
  snprintf(spi_name, sizeof spi_name, "%s_spi=", which);
  snprintf(km_name, sizeof km_name, "%s_keymat=", which);
  int got = 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = 0;
    if (strncmp(line, spi_name, strlen(spi_name)) == 0) {
      uint8_t b[4];
      if (unhex(line + strlen(spi_name), b, 4)) die("bad SPI in key file");
      sa->spi = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
      got |= 1;
    } else if (strncmp(line, km_name, strlen(km_name)) == 0) {
      uint8_t km[36];
      if (unhex(line + strlen(km_name), km, 36)) die("bad keymat in key file (72 hex digits)");
      memcpy(sa->key, km, 32);
      memcpy(sa->salt, km + 32, 4);
      got |= 2;
    }
  }
  fclose(f);
  if (got != 3) die("key file lacks the SA's spi or keymat");
  sa->ctx = EVP_CIPHER_CTX_new();
  if (!sa->ctx) die("EVP_CIPHER_CTX_new");
  int ok = encrypt ? EVP_EncryptInit_ex(sa->ctx, EVP_aes_256_gcm(), NULL, sa->key, NULL)
                   : EVP_DecryptInit_ex(sa->ctx, EVP_aes_256_gcm(), NULL, sa->key, NULL);
  if (ok != 1) die("EVP init failed");
}

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}
static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Builds an IPv4/UDP packet of `size` bytes (UDP checksum 0, i.e. none). */
/* The IPv4 ID (a sender's kernel advances it per datagram) and the header checksum. */
static void set_ip_id(uint8_t *p, uint16_t id) {
  p[4] = (uint8_t)(id >> 8);
  p[5] = (uint8_t)id;
  p[10] = p[11] = 0;
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += (uint32_t)p[i] << 8 | p[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  uint16_t c = (uint16_t)~sum;
  p[10] = (uint8_t)(c >> 8);
  p[11] = (uint8_t)c;
}

static void inner_packet(uint8_t *p, int size, const char *src, const char *dst, int dport) {
  memset(p, 0, (size_t)size);
  p[0] = 0x45;
  p[2] = (uint8_t)(size >> 8);
  p[3] = (uint8_t)size;
  p[6] = 0x40; /* DF, as a Linux UDP socket sends by default */
  p[8] = 64;   /* TTL */
  p[9] = 17;   /* UDP */
  if (inet_pton(AF_INET, src, p + 12) != 1 || inet_pton(AF_INET, dst, p + 16) != 1)
    die("bad inner address");
  uint8_t *u = p + 20;
  u[0] = 0x27; /* source port 9999 */
  u[1] = 0x0f;
  u[2] = (uint8_t)(dport >> 8);
  u[3] = (uint8_t)dport;
  u[4] = (uint8_t)((size - 20) >> 8);
  u[5] = (uint8_t)(size - 20);
  for (int i = 28; i < size; i++) p[i] = (uint8_t)i;
  /* The UDP checksum (RFC 768, with the pseudo-header), as a real sender's kernel computes it;
   * it does not depend on the IP ID, which set_ip_id changes per packet. */
  uint32_t sum = 0;
  for (int i = 12; i < 20; i += 2) sum += (uint32_t)p[i] << 8 | p[i + 1];
  sum += 17 + (uint32_t)(size - 20);
  for (int i = 20; i < size; i += 2) sum += (uint32_t)p[i] << 8 | (i + 1 < size ? p[i + 1] : 0);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  uint16_t c = (uint16_t)~sum;
  if (c == 0) c = 0xffff;
  u[6] = (uint8_t)(c >> 8);
  u[7] = (uint8_t)c;
  set_ip_id(p, 0);
}

static int udp_socket(void) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s < 0) die_errno("socket");
  int big = 16 << 20;
  /* FORCE needs CAP_NET_ADMIN (the script runs as root); fall back to the capped size */
  if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) < 0)
    setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  if (setsockopt(s, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big) < 0)
    setsockopt(s, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  return s;
}

static void bind_to(int s, const char *ep) {
  struct sockaddr_in a = endpoint(ep);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) die_errno("bind");
}

static void connect_to(int s, const char *ep) {
  struct sockaddr_in a = endpoint(ep);
  if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) die_errno("connect");
}

static void signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal; /* no SA_RESTART: a blocked recvmmsg returns EINTR */
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

static void ready(int argc, char **argv) {
  const char *f = opt(argc, argv, "--ready", NULL);
  if (!f) return;
  FILE *fp = fopen(f, "w");
  if (!fp) die_errno(f);
  fprintf(fp, "%d\n", (int)getpid());
  fclose(fp);
}

/* Paces to `rate` packets/s (0 = unlimited): sleeps until packet `sent` is due. */
static void pace(double rate, double t0, uint64_t sent) {
  if (rate <= 0) return;
  double due = t0 + (double)sent / rate, t = now();
  if (due > t) {
    struct timespec ts = {(time_t)(due - t), (long)((due - t - (double)(time_t)(due - t)) * 1e9)};
    nanosleep(&ts, NULL);
  }
}

/* ---- sink: receive and verify ESP ---- */
static int run_sink(int argc, char **argv) {
  sa_t sa;
  load_sa(need(argc, argv, "--keys"), need(argc, argv, "--sa"), &sa, 0);
  int s = udp_socket();
  bind_to(s, need(argc, argv, "--bind"));
  struct timeval tv = {0, 100000};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  signals();
  ready(argc, argv);

  int gro = has_flag(argc, argv, "--gro");
  if (gro) enable_gro(s);
  size_t bufsz = gro ? GRO_BUF : BUF;
  uint8_t *bufs = malloc((size_t)BATCH * bufsz);
  if (!bufs) die("out of memory");
  static uint8_t pt[BUF];
  static char ctl[BATCH][CMSG_SPACE(sizeof(int))];
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  uint64_t packets = 0, bytes = 0, datagrams = 0, bad_spi = 0, bad_format = 0, bad_icv = 0,
           bad_trailer = 0, non_esp = 0, reordered = 0, coalesced = 0;
  uint32_t max_seq = 0;
  double first = 0, last = 0;
  uint8_t nonce[12];
  memcpy(nonce, sa.salt, 4);

  while (!stop_flag) {
    for (int i = 0; i < BATCH; i++) {
      iov[i].iov_base = bufs + (size_t)i * bufsz;
      iov[i].iov_len = bufsz;
      memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      if (gro) {
        msgs[i].msg_hdr.msg_control = ctl[i];
        msgs[i].msg_hdr.msg_controllen = sizeof ctl[i];
      }
    }
    int n = recvmmsg(s, msgs, BATCH, MSG_WAITFORONE, NULL);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      die_errno("recvmmsg");
    }
    double t = now();
    for (int i = 0; i < n; i++) {
      int mlen = (int)msgs[i].msg_len, seg = gro ? gro_size(&msgs[i].msg_hdr) : 0;
      if (seg > 0 && seg < mlen) coalesced++;
      if (seg <= 0 || seg >= mlen) seg = mlen > 0 ? mlen : 1;
      for (int off = 0; off < mlen; off += seg) {
      const uint8_t *p = bufs + (size_t)i * bufsz + off;
      int len = mlen - off < seg ? mlen - off : seg;
      datagrams++;
      if (len < 4 || get32(p) == 0) { /* keepalive (0xff) or non-ESP marker: IKE */
        non_esp++;
        continue;
      }
      if (len < HDR + 4 + ICV || (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)) {
        bad_format++;
        continue;
      }
      if (get32(p) != sa.spi) {
        bad_spi++;
        continue;
      }
      uint32_t seq = get32(p + 4);
      /* sa.ts: IV = 32 zero bits ‖ seq */
      if (get32(p + 8) != 0 || get32(p + 12) != seq) {
        bad_format++;
        continue;
      }
      memcpy(nonce + 4, p + 8, 8);
      int ctlen = len - HDR - ICV, outl = 0, fin = 0;
      if (EVP_DecryptInit_ex(sa.ctx, NULL, NULL, NULL, nonce) != 1 ||
          EVP_DecryptUpdate(sa.ctx, NULL, &outl, p, 8) != 1 ||
          EVP_DecryptUpdate(sa.ctx, pt, &outl, p + HDR, ctlen) != 1 ||
          EVP_CIPHER_CTX_ctrl(sa.ctx, EVP_CTRL_GCM_SET_TAG, ICV, (void *)(p + len - ICV)) != 1 ||
          EVP_DecryptFinal_ex(sa.ctx, pt + outl, &fin) != 1) {
        bad_icv++;
        continue;
      }
      int padlen = pt[ctlen - 2], nh = pt[ctlen - 1], end = ctlen - 2 - padlen, ok = 1;
      /* next header IPv4, the minimal padding sa.ts writes (to a 4-byte boundary), 1, 2, 3 … */
      if (nh != 4 || padlen > 3 || end < 20 || (ctlen & 3) != 0) ok = 0;
      for (int k = 0; ok && k < padlen; k++)
        if (pt[end + k] != k + 1) ok = 0;
      if (ok && ((pt[0] >> 4) != 4 || (pt[2] << 8 | pt[3]) != end)) ok = 0;
      if (!ok) {
        bad_trailer++;
        continue;
      }
      if (seq <= max_seq) reordered++;
      else max_seq = seq;
      if (packets == 0) first = t;
      last = t;
      packets++;
      bytes += (uint64_t)end;
      }
    }
  }
  printf("{\"mode\":\"sink\",\"coalesced\":%llu,\"packets\":%llu,\"bytes\":%llu,\"first\":%.6f,\"last\":%.6f,"
         "\"datagrams\":%llu,\"badSpi\":%llu,\"badFormat\":%llu,\"badIcv\":%llu,"
         "\"badTrailer\":%llu,\"nonEsp\":%llu,\"reordered\":%llu,\"maxSeq\":%u}\n",
         (unsigned long long)coalesced, (unsigned long long)packets, (unsigned long long)bytes, first, last,
         (unsigned long long)datagrams, (unsigned long long)bad_spi,
         (unsigned long long)bad_format, (unsigned long long)bad_icv,
         (unsigned long long)bad_trailer, (unsigned long long)non_esp,
         (unsigned long long)reordered, max_seq);
  return 0;
}

/* ---- source: generate ESP ---- */
static int run_source(int argc, char **argv) {
  sa_t sa;
  load_sa(need(argc, argv, "--keys"), need(argc, argv, "--sa"), &sa, 1);
  int size = atoi(need(argc, argv, "--size"));
  double seconds = atof(need(argc, argv, "--seconds"));
  double rate = atof(opt(argc, argv, "--rate", "0"));
  if (size < 28 || size > BUF - HDR - ICV - 8) die("--size must be 28..2000");
  int s = udp_socket();
  bind_to(s, need(argc, argv, "--bind"));
  connect_to(s, need(argc, argv, "--to"));
  signals();

  /* plaintext template: inner packet ‖ padding ‖ pad length ‖ next header */
  static uint8_t ptx[BUF];
  inner_packet(ptx, size, opt(argc, argv, "--src", "203.0.113.10"),
               opt(argc, argv, "--dst", "203.0.113.130"), atoi(opt(argc, argv, "--dport", "9")));
  int padlen = (4 - ((size + 2) & 3)) & 3, ptlen = size + padlen + 2;
  for (int k = 0; k < padlen; k++) ptx[size + k] = (uint8_t)(k + 1);
  ptx[ptlen - 2] = (uint8_t)padlen;
  ptx[ptlen - 1] = 4;
  int pktlen = HDR + ptlen + ICV;

  static uint8_t bufs[BATCH][BUF];
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  static char ctl[BATCH][CMSG_SPACE(sizeof(uint16_t))];
  /* --gso: messages of k equal ESP datagrams each (UDP_SEGMENT) instead of one each */
  int k = has_flag(argc, argv, "--gso") ? gso_segments(pktlen) : 1;
  uint8_t nonce[12];
  memcpy(nonce, sa.salt, 4);
  /* the data path's replay window outlives one run: continue where the previous run stopped */
  uint32_t seq = (uint32_t)strtoul(opt(argc, argv, "--first-seq", "1"), NULL, 10) - 1;
  uint64_t sent = 0, errors = 0, calls = 0;
  double t0 = now(), end = t0 + seconds, t = t0;
  while (!stop_flag && (t = now()) < end) {
    pace(rate, t0, sent);
    for (int i = 0; i < BATCH; i++) {
      uint8_t *p = bufs[i];
      seq++;
      set_ip_id(ptx, (uint16_t)seq);
      put32(p, sa.spi);
      put32(p + 4, seq);
      put32(p + 8, 0);
      put32(p + 12, seq);
      memcpy(nonce + 4, p + 8, 8);
      int outl = 0, fin = 0;
      if (EVP_EncryptInit_ex(sa.ctx, NULL, NULL, NULL, nonce) != 1 ||
          EVP_EncryptUpdate(sa.ctx, NULL, &outl, p, 8) != 1 ||
          EVP_EncryptUpdate(sa.ctx, p + HDR, &outl, ptx, ptlen) != 1 ||
          EVP_EncryptFinal_ex(sa.ctx, p + HDR + outl, &fin) != 1 ||
          EVP_CIPHER_CTX_ctrl(sa.ctx, EVP_CTRL_GCM_GET_TAG, ICV, p + HDR + ptlen) != 1)
        die("AES-GCM encryption failed");
      iov[i].iov_base = p;
      iov[i].iov_len = (size_t)pktlen;
    }
    int nmsg = 0;
    for (int i = 0; i < BATCH; i += k, nmsg++) {
      struct msghdr *h = &msgs[nmsg].msg_hdr;
      memset(h, 0, sizeof *h);
      h->msg_iov = &iov[i];
      h->msg_iovlen = (size_t)(BATCH - i < k ? BATCH - i : k);
      if (h->msg_iovlen > 1) set_gso(h, ctl[nmsg], sizeof ctl[nmsg], pktlen);
    }
    int off = 0;
    while (off < nmsg) {
      int n = sendmmsg(s, msgs + off, (unsigned)(nmsg - off), 0);
      calls++;
      if (n <= 0) { /* ENOBUFS, ECONNREFUSED (ICMP from an earlier packet), EINTR: drop the rest */
        for (int j = off; j < nmsg; j++) errors += msgs[j].msg_hdr.msg_iovlen;
        break;
      }
      for (int j = off; j < off + n; j++) sent += msgs[j].msg_hdr.msg_iovlen;
      off += n;
    }
  }
  printf("{\"mode\":\"source\",\"sent\":%llu,\"bytes\":%llu,\"errors\":%llu,\"seconds\":%.6f,"
         "\"start\":%.6f,\"lastSeq\":%u,\"espLength\":%d}\n",
         (unsigned long long)sent, (unsigned long long)sent * (unsigned long long)size,
         (unsigned long long)errors, t - t0, t0, seq, pktlen);
  (void)calls;
  return 0;
}

/* ---- gen: plain UDP into the TUN route ---- */
static int run_gen(int argc, char **argv) {
  int size = atoi(need(argc, argv, "--size"));
  double seconds = atof(need(argc, argv, "--seconds"));
  double rate = atof(opt(argc, argv, "--rate", "0"));
  if (size < 28 || size > BUF) die("--size must be 28..2048");
  int s = udp_socket();
  connect_to(s, need(argc, argv, "--to"));
  signals();
  static uint8_t payload[BUF];
  for (int i = 0; i < size - 28; i++) payload[i] = (uint8_t)i;
  struct mmsghdr msgs[BATCH];
  /* --gso: each message k equal datagrams (UDP_SEGMENT), as a bulk UDP sender does */
  int seg = size - 28, k = has_flag(argc, argv, "--gso") && seg > 0 ? gso_segments(seg) : 1;
  struct iovec iov[64];
  for (int i = 0; i < k; i++) iov[i] = (struct iovec){payload, (size_t)seg};
  static char ctl[BATCH][CMSG_SPACE(sizeof(uint16_t))];
  for (int i = 0; i < BATCH; i++) {
    memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
    msgs[i].msg_hdr.msg_iov = iov;
    msgs[i].msg_hdr.msg_iovlen = (size_t)k;
    if (k > 1) set_gso(&msgs[i].msg_hdr, ctl[i], sizeof ctl[i], seg);
  }
  int per_call = k > 1 ? 1 : BATCH; /* a GSO message is already up to 64 datagrams */
  uint64_t sent = 0, errors = 0;
  double t0 = now(), end = t0 + seconds, t = t0;
  while (!stop_flag && (t = now()) < end) {
    pace(rate, t0, sent);
    int n = sendmmsg(s, msgs, (unsigned)per_call, 0);
    if (n <= 0) {
      errors += (uint64_t)per_call * (uint64_t)k;
      continue;
    }
    sent += (uint64_t)n * (uint64_t)k;
  }
  printf("{\"mode\":\"gen\",\"sent\":%llu,\"bytes\":%llu,\"errors\":%llu,\"seconds\":%.6f,"
         "\"start\":%.6f}\n",
         (unsigned long long)sent, (unsigned long long)sent * (unsigned long long)size,
         (unsigned long long)errors, t - t0, t0);
  return 0;
}

/* ---- count: plain UDP sink ---- */
static int run_count(int argc, char **argv) {
  int s = udp_socket();
  bind_to(s, need(argc, argv, "--bind"));
  struct timeval tv = {0, 100000};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  signals();
  ready(argc, argv);
  int gro = has_flag(argc, argv, "--gro");
  if (gro) enable_gro(s);
  size_t bufsz = gro ? GRO_BUF : BUF;
  uint8_t *bufs = malloc((size_t)BATCH * bufsz);
  if (!bufs) die("out of memory");
  static char ctl[BATCH][CMSG_SPACE(sizeof(int))];
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = bufs + (size_t)i * bufsz;
    iov[i].iov_len = bufsz;
  }
  uint64_t packets = 0, bytes = 0;
  double first = 0, last = 0;
  while (!stop_flag) {
    for (int i = 0; i < BATCH; i++) {
      memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      if (gro) {
        msgs[i].msg_hdr.msg_control = ctl[i];
        msgs[i].msg_hdr.msg_controllen = sizeof ctl[i];
      }
    }
    int n = recvmmsg(s, msgs, BATCH, MSG_WAITFORONE, NULL);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      die_errno("recvmmsg");
    }
    double t = now();
    if (packets == 0) first = t;
    last = t;
    for (int i = 0; i < n; i++) {
      /* a coalesced datagram (UDP GRO): mlen bytes of seg-byte datagrams, the last shorter */
      size_t mlen = msgs[i].msg_len, seg = gro ? (size_t)gro_size(&msgs[i].msg_hdr) : 0;
      if (seg == 0 || seg >= mlen) {
        packets++;
        bytes += mlen + 28;
        continue;
      }
      for (size_t off = 0; off < mlen; off += seg) {
        packets++;
        bytes += (mlen - off < seg ? mlen - off : seg) + 28;
      }
    }
  }
  printf("{\"mode\":\"count\",\"packets\":%llu,\"bytes\":%llu,\"first\":%.6f,\"last\":%.6f}\n",
         (unsigned long long)packets, (unsigned long long)bytes, first, last);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) {
    fprintf(stderr, "usage: esp-peer sink|source|gen|count [options] (see the top of esp-peer.c)\n");
    return 2;
  }
  if (strcmp(argv[1], "sink") == 0) return run_sink(argc, argv);
  if (strcmp(argv[1], "source") == 0) return run_source(argc, argv);
  if (strcmp(argv[1], "gen") == 0) return run_gen(argc, argv);
  if (strcmp(argv[1], "count") == 0) return run_count(argc, argv);
  fprintf(stderr, "esp-peer: unknown mode %s\n", argv[1]);
  return 2;
}
