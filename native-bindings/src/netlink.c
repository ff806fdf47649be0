/*
 * Netlink sockets and the generic single-datagram send/recv used for
 * netlink, probe sockets and anything else that is not batched.
 */
#include "util.h"

#include <errno.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif

/* Receive buffer asked for on netlink sockets, so event bursts are not lost. */
#define NETLINK_RCVBUF (4 * 1024 * 1024)

/* netlinkOpen(protocol, groups) -> fd */
static napi_value netlink_open(napi_env env, napi_callback_info info) {
  static const char fn[] = "netlinkOpen";
  napi_value argv[2];
  int32_t proto;
  uint32_t groups;
  CHECK(ipmp_args(env, info, 2, argv));
  CHECK(ipmp_arg_int32(env, argv[0], fn, "protocol", &proto));
  CHECK(ipmp_arg_uint32(env, argv[1], fn, "groups", &groups));

  char call[64];
  snprintf(call, sizeof call, "netlinkOpen(%d)", proto);
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, proto);
  if (fd < 0) return ipmp_throw_errno(env, call, errno);

  int v = NETLINK_RCVBUF;
  /* SO_RCVBUFFORCE needs CAP_NET_ADMIN; without it the capped SO_RCVBUF is the best there is. */
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v) < 0)
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
  int one = 1;
  /* Extended acks carry the kernel's error text; older kernels lack them, which is harmless. */
  (void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);

  struct sockaddr_nl sa;
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  sa.nl_pid = 0; /* kernel assigns the port id */
  sa.nl_groups = groups;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int err = errno;
    close(fd);
    char call2[96];
    snprintf(call2, sizeof call2, "%s bind", call);
    return ipmp_throw_errno(env, call2, err);
  }
  return ipmp_int32(env, fd);
}

/* netlinkAddGroup(fd, group) */
static napi_value netlink_add_group(napi_env env, napi_callback_info info) {
  static const char fn[] = "netlinkAddGroup";
  napi_value argv[2];
  int32_t fd;
  uint32_t group;
  CHECK(ipmp_args(env, info, 2, argv));
  CHECK(ipmp_arg_int32(env, argv[0], fn, "fd", &fd));
  CHECK(ipmp_arg_uint32(env, argv[1], fn, "group", &group));
  if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0) {
    char call[64];
    snprintf(call, sizeof call, "%s(%u)", fn, group);
    return ipmp_throw_errno(env, call, errno);
  }
  return ipmp_undefined(env);
}

/* Validates (buf, off, len) and yields the byte range. */
static bool buf_range(napi_env env, napi_value *argv, const char *fn, int32_t *fd, uint8_t **p, size_t *n) {
  uint8_t *buf;
  size_t buflen;
  int32_t off, len;
  if (!ipmp_arg_int32(env, argv[0], fn, "fd", fd) || !ipmp_arg_u8(env, argv[1], fn, "buf", &buf, &buflen) ||
      !ipmp_arg_int32(env, argv[2], fn, "off", &off) || !ipmp_arg_int32(env, argv[3], fn, "len", &len))
    return false;
  if (off < 0 || len < 0 || (int64_t)off + len > (int64_t)buflen) {
    ipmp_throw_range(env, "%s: off %d + len %d outside buf (%zu bytes)", fn, off, len, buflen);
    return false;
  }
  *p = buf + off;
  *n = (size_t)len;
  return true;
}

/*
 * send(fd, buf, off, len) -> bytes | -errno
 * On a bound netlink socket with no destination this goes to the kernel. A
 * descriptor that is not a socket (pipe, TUN) is written to instead.
 */
static napi_value generic_send(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t fd;
  uint8_t *p;
  size_t n;
  CHECK(ipmp_args(env, info, 4, argv));
  CHECK(buf_range(env, argv, "send", &fd, &p, &n));
  ssize_t r;
  do {
    r = send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (r < 0 && errno == EINTR);
  if (r < 0 && errno == ENOTSOCK) {
    do {
      r = write(fd, p, n);
    } while (r < 0 && errno == EINTR);
  }
  return ipmp_int32(env, r < 0 ? -errno : (int32_t)r);
}

/*
 * recv(fd, buf, off, len, tsNs?) -> bytes | -errno
 * One datagram per call. With tsNs, the SO_TIMESTAMPNS control message (if any)
 * is stored as CLOCK_REALTIME nanoseconds, else 0.
 */
static napi_value generic_recv(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int32_t fd;
  uint8_t *p;
  size_t n;
  CHECK(ipmp_args(env, info, 5, argv));
  CHECK(buf_range(env, argv, "recv", &fd, &p, &n));

  int64_t *ts = NULL;
  napi_valuetype t;
  NAPI_CALL(env, napi_typeof(env, argv[4], &t));
  if (t != napi_undefined && t != napi_null) {
    size_t nts;
    CHECK(ipmp_arg_i64arr(env, argv[4], "recv", "tsNs", &ts, &nts));
    if (nts < 1) return ipmp_throw_range(env, "recv: tsNs must have at least 1 element");
  }

  ssize_t r;
  if (ts == NULL) {
    do {
      r = recv(fd, p, n, MSG_DONTWAIT);
    } while (r < 0 && errno == EINTR);
    if (r < 0 && errno == ENOTSOCK) {
      do {
        r = read(fd, p, n);
      } while (r < 0 && errno == EINTR);
    }
    return ipmp_int32(env, r < 0 ? -errno : (int32_t)r);
  }

  union {
    char buf[CMSG_SPACE(sizeof(struct timespec)) + 64];
    struct cmsghdr align;
  } ctrl;
  struct iovec iov = {.iov_base = p, .iov_len = n};
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = ctrl.buf;
  mh.msg_controllen = sizeof ctrl.buf;
  do {
    r = recvmsg(fd, &mh, MSG_DONTWAIT);
  } while (r < 0 && errno == EINTR);
  ts[0] = 0;
  if (r < 0) return ipmp_int32(env, -errno);
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS &&
        c->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
      struct timespec tsv;
      memcpy(&tsv, CMSG_DATA(c), sizeof tsv);
      ts[0] = (int64_t)tsv.tv_sec * 1000000000LL + tsv.tv_nsec;
    }
  }
  return ipmp_int32(env, (int32_t)r);
}

/* setTimestamping(fd, on): SO_TIMESTAMPNS. */
static napi_value set_timestamping(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  bool on;
  CHECK(ipmp_args(env, info, 2, argv));
  CHECK(ipmp_arg_int32(env, argv[0], "setTimestamping", "fd", &fd));
  CHECK(ipmp_arg_bool(env, argv[1], "setTimestamping", "on", &on));
  int v = on ? 1 : 0;
  if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &v, sizeof v) < 0)
    return ipmp_throw_errno(env, "setTimestamping", errno);
  return ipmp_undefined(env);
}

/* pollIn(fd, timeoutMs) -> 1 | 0 | -errno. Error/hangup conditions count as readable. */
static napi_value poll_in(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd, timeout;
  CHECK(ipmp_args(env, info, 2, argv));
  CHECK(ipmp_arg_int32(env, argv[0], "pollIn", "fd", &fd));
  CHECK(ipmp_arg_int32(env, argv[1], "pollIn", "timeoutMs", &timeout));
  struct pollfd pfd = {.fd = fd, .events = POLLIN, .revents = 0};
  int r = poll(&pfd, 1, timeout);
  if (r < 0) return ipmp_int32(env, errno == EINTR ? 0 : -errno);
  if (r == 0) return ipmp_int32(env, 0);
  if (pfd.revents & POLLNVAL) return ipmp_int32(env, -EBADF);
  return ipmp_int32(env, 1);
}

bool ipmp_register_netlink(napi_env env, napi_value exports) {
  return ipmp_export(env, exports, "netlinkOpen", netlink_open) &&
         ipmp_export(env, exports, "netlinkAddGroup", netlink_add_group) &&
         ipmp_export(env, exports, "send", generic_send) &&
         ipmp_export(env, exports, "recv", generic_recv) &&
         ipmp_export(env, exports, "setTimestamping", set_timestamping) &&
         ipmp_export(env, exports, "pollIn", poll_in);
}
