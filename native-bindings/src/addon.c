/*
 * Module registration and the small system-call wrappers that do not belong
 * to a subsystem: close, peer credentials, interface index, clock, errno text.
 */
#include "util.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* close(fd) -> 0 | -errno */
static napi_value do_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  CHECK(ipmp_args(env, info, 1, argv));
  CHECK(ipmp_arg_int32(env, argv[0], "close", "fd", &fd));
  ipmp_watch_fd_closing(env, fd);
  /* Linux releases the descriptor even when close reports EINTR: never retry. */
  int r = close(fd);
  return ipmp_int32(env, r < 0 ? -errno : 0);
}

/* peerCred(fd) -> {pid, uid, gid} */
static napi_value peer_cred(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  CHECK(ipmp_args(env, info, 1, argv));
  CHECK(ipmp_arg_int32(env, argv[0], "peerCred", "fd", &fd));
  struct ucred uc;
  socklen_t len = sizeof uc;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0) {
    char call[48];
    snprintf(call, sizeof call, "peerCred(%d)", fd);
    return ipmp_throw_errno(env, call, errno);
  }
  napi_value obj, pid, uid, gid;
  NAPI_CALL(env, napi_create_object(env, &obj));
  NAPI_CALL(env, napi_create_int32(env, uc.pid, &pid));
  NAPI_CALL(env, napi_create_uint32(env, uc.uid, &uid));
  NAPI_CALL(env, napi_create_uint32(env, uc.gid, &gid));
  NAPI_CALL(env, napi_set_named_property(env, obj, "pid", pid));
  NAPI_CALL(env, napi_set_named_property(env, obj, "uid", uid));
  NAPI_CALL(env, napi_set_named_property(env, obj, "gid", gid));
  return obj;
}

/* ifNameToIndex(name) -> ifindex | 0 */
static napi_value if_name_to_index(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char name[256];
  CHECK(ipmp_args(env, info, 1, argv));
  CHECK(ipmp_arg_string(env, argv[0], "ifNameToIndex", "name", name, sizeof name, NULL));
  unsigned int idx = strlen(name) < IF_NAMESIZE ? if_nametoindex(name) : 0;
  napi_value r;
  NAPI_CALL(env, napi_create_uint32(env, idx, &r));
  return r;
}

/* monotonicNs() -> bigint */
static napi_value monotonic_ns(napi_env env, napi_callback_info info) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  napi_value r;
  NAPI_CALL(env, napi_create_bigint_int64(env, (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec, &r));
  return r;
}

/*
 * coarseMs() -> CLOCK_MONOTONIC in milliseconds modulo 2^31-1: an int32 every thread and
 * process on the machine reads alike, for ages in the shared tables.
 */
static napi_value coarse_ms(napi_env env, napi_callback_info info) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
  return ipmp_int32(env, (int32_t)(ms % 0x7fffffffu));
}

/* errnoName(-errno) -> "EAGAIN"; the sign is ignored. */
static napi_value errno_name(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t e;
  CHECK(ipmp_args(env, info, 1, argv));
  CHECK(ipmp_arg_int32(env, argv[0], "errnoName", "negErrno", &e));
  char scratch[32];
  napi_value r;
  NAPI_CALL(env, napi_create_string_utf8(env, ipmp_errno_name(e, scratch, sizeof scratch), NAPI_AUTO_LENGTH, &r));
  return r;
}

/* strerror(-errno) -> text; the sign is ignored. */
static napi_value str_error(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t e;
  CHECK(ipmp_args(env, info, 1, argv));
  CHECK(ipmp_arg_int32(env, argv[0], "strerror", "negErrno", &e));
  char scratch[128];
  napi_value r;
  NAPI_CALL(env, napi_create_string_utf8(env, ipmp_strerror(e, scratch, sizeof scratch), NAPI_AUTO_LENGTH, &r));
  return r;
}

/*
 * socketPair(bufBytes) -> [fd, fd]
 * A connected pair of non-blocking AF_UNIX SOCK_SEQPACKET sockets (message boundaries kept, so
 * a read returns one packet as a TUN or packet socket does), with bufBytes of send and receive
 * buffer each (0: the defaults). Used to run the forwarding paths over local sockets.
 */
static napi_value socket_pair(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t buf;
  CHECK(ipmp_args(env, info, 1, argv));
  CHECK(ipmp_arg_int32(env, argv[0], "socketPair", "bufBytes", &buf));
  if (buf < 0) return ipmp_throw_range(env, "socketPair: bufBytes must not be negative");
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
    return ipmp_throw_errno(env, "socketPair", errno);
  for (int i = 0; buf > 0 && i < 2; i++) {
    setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  }
  napi_value arr, a, b;
  NAPI_CALL(env, napi_create_array_with_length(env, 2, &arr));
  NAPI_CALL(env, napi_create_int32(env, sv[0], &a));
  NAPI_CALL(env, napi_create_int32(env, sv[1], &b));
  NAPI_CALL(env, napi_set_element(env, arr, 0, a));
  NAPI_CALL(env, napi_set_element(env, arr, 1, b));
  return arr;
}

bool ipmp_register_misc(napi_env env, napi_value exports) {
  return ipmp_export(env, exports, "close", do_close) && ipmp_export(env, exports, "peerCred", peer_cred) &&
         ipmp_export(env, exports, "ifNameToIndex", if_name_to_index) &&
         ipmp_export(env, exports, "monotonicNs", monotonic_ns) && ipmp_export(env, exports, "coarseMs", coarse_ms) &&
         ipmp_export(env, exports, "errnoName", errno_name) && ipmp_export(env, exports, "strerror", str_error) &&
         ipmp_export(env, exports, "socketPair", socket_pair);
}

/* Context-aware registration: runs once per environment, workers included. */
NAPI_MODULE_INIT() {
  if (!ipmp_register_watch(env, exports) || !ipmp_register_tun(env, exports) ||
      !ipmp_register_packet(env, exports) || !ipmp_register_netlink(env, exports) ||
      !ipmp_register_misc(env, exports) || !ipmp_register_proc(env, exports) ||
      !ipmp_register_loadgen(env, exports) || !ipmp_register_floor(env, exports))
    return NULL;
  return exports;
}
