/*
 * The load generator of `ipmp bench`: UDP datagrams sent with sendmmsg(2) in
 * batches of 64, so the sender is not what limits a small-packet measurement
 * (iperf3 sends one datagram per system call and tops out below what the
 * forwarding path carries). Not used by the daemon.
 */
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define GEN_BATCH 64
#define GEN_MAX_FLOWS 64
#define GEN_MAX_SECONDS 120.0
#define GEN_MAX_LEN 8972

/*
 * udpGenerate(dst, port, len, seconds, pps, flows) -> {sent, errors, seconds}
 * Sends len-byte datagrams to dst:port (IPv4 or IPv6 literal) from `flows`
 * sockets (one source port each, taken in turn per batch) for `seconds`; pps 0
 * sends as fast as the stack takes them, otherwise on a catch-up schedule at
 * pps. Blocks the calling thread for the whole run.
 */
static napi_value udp_generate(napi_env env, napi_callback_info info) {
  static const char fn[] = "udpGenerate";
  napi_value argv[6];
  char dst[64];
  int32_t port, len, flows;
  double seconds, pps;
  CHECK(ipmp_args(env, info, 6, argv));
  CHECK(ipmp_arg_string(env, argv[0], fn, "dst", dst, sizeof dst, NULL));
  CHECK(ipmp_arg_int32(env, argv[1], fn, "port", &port));
  CHECK(ipmp_arg_int32(env, argv[2], fn, "len", &len));
  NAPI_CALL(env, napi_get_value_double(env, argv[3], &seconds));
  NAPI_CALL(env, napi_get_value_double(env, argv[4], &pps));
  CHECK(ipmp_arg_int32(env, argv[5], fn, "flows", &flows));
  if (port < 1 || port > 65535) return ipmp_throw_range(env, "%s: port must be within 1..65535", fn);
  if (len < 0 || len > GEN_MAX_LEN) return ipmp_throw_range(env, "%s: len must be within 0..%d", fn, GEN_MAX_LEN);
  if (!(seconds > 0 && seconds <= GEN_MAX_SECONDS))
    return ipmp_throw_range(env, "%s: seconds must be within (0, %g]", fn, GEN_MAX_SECONDS);
  if (!(pps >= 0 && pps <= 1e8)) return ipmp_throw_range(env, "%s: pps must be within 0..1e8", fn);
  if (flows < 1 || flows > GEN_MAX_FLOWS) return ipmp_throw_range(env, "%s: flows must be within 1..%d", fn, GEN_MAX_FLOWS);

  struct sockaddr_storage ss;
  socklen_t sslen;
  memset(&ss, 0, sizeof ss);
  struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, dst, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    sslen = sizeof *a4;
  } else if (inet_pton(AF_INET6, dst, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    sslen = sizeof *a6;
  } else {
    return ipmp_throw_type(env, "%s: dst '%s' is not an IPv4 or IPv6 address", fn, dst);
  }

  int fds[GEN_MAX_FLOWS];
  int opened = 0, err = 0;
  for (; opened < flows; opened++) {
    int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) { err = errno; break; }
    fds[opened] = fd;
    int sb = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sb, sizeof sb);
    if (connect(fd, (struct sockaddr *)&ss, sslen) < 0) { err = errno; opened++; break; }
  }
  if (err) {
    for (int i = 0; i < opened; i++) close(fds[i]);
    return ipmp_throw_errno(env, fn, err);
  }

  static __thread uint8_t payload[GEN_MAX_LEN];
  struct iovec iov[GEN_BATCH];
  struct mmsghdr msgs[GEN_BATCH];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < GEN_BATCH; i++) {
    iov[i].iov_base = payload;
    iov[i].iov_len = (size_t)len;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }

  double t0 = ipmp_mono_s(), t = t0, sent = 0, errors = 0;
  int f = 0;
  while ((t = ipmp_mono_s()) - t0 < seconds) {
    unsigned int want = GEN_BATCH;
    if (pps > 0) {
      double due = (t - t0) * pps - sent;
      if (due < 1) {
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
        continue;
      }
      if (due < GEN_BATCH) want = (unsigned int)due;
    }
    int r = sendmmsg(fds[f], msgs, want, 0);
    if (r > 0) sent += r;
    else if (errno != EINTR) errors++;
    f = (f + 1) % flows;
  }
  for (int i = 0; i < flows; i++) close(fds[i]);

  napi_value obj;
  NAPI_CALL(env, napi_create_object(env, &obj));
  ipmp_set_number(env, obj, "sent", sent);
  ipmp_set_number(env, obj, "errors", errors);
  ipmp_set_number(env, obj, "seconds", t - t0);
  return obj;
}

bool ipmp_register_loadgen(napi_env env, napi_value exports) {
  return ipmp_export(env, exports, "udpGenerate", udp_generate);
}
