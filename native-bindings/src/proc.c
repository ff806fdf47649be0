/*
 * The process itself: re-execution with descriptors handed to the new image,
 * capability sets, what the kernel says about an inherited descriptor, and
 * sd_notify datagrams. Set-up calls only; all of them throw on failure except
 * sdNotify, which returns -errno.
 */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_IS_SET 1
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

#define MAX_EXEC_STRINGS 4096
#define MAX_KEEP_FDS 256

/* Frees a NULL-terminated array of malloc'd strings. */
static void free_strv(char **v) {
  if (v == NULL) return;
  for (char **p = v; *p != NULL; p++) free(*p);
  free(v);
}

/* A JS array of strings as a NULL-terminated malloc'd array; NULL with an exception pending. */
static char **read_strv(napi_env env, napi_value arr, const char *fn, const char *arg) {
  bool is_array = false;
  uint32_t n = 0;
  if (napi_is_array(env, arr, &is_array) != napi_ok || !is_array) {
    ipmp_throw_type(env, "%s: %s must be an array of strings", fn, arg);
    return NULL;
  }
  napi_get_array_length(env, arr, &n);
  if (n > MAX_EXEC_STRINGS) {
    ipmp_throw_range(env, "%s: %s has more than %d elements", fn, arg, MAX_EXEC_STRINGS);
    return NULL;
  }
  char **v = calloc((size_t)n + 1, sizeof *v);
  if (v == NULL) {
    ipmp_throw_errno(env, fn, ENOMEM);
    return NULL;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value el;
    napi_valuetype t;
    size_t len = 0;
    if (napi_get_element(env, arr, i, &el) != napi_ok || napi_typeof(env, el, &t) != napi_ok || t != napi_string) {
      free_strv(v);
      ipmp_throw_type(env, "%s: %s[%u] must be a string", fn, arg, i);
      return NULL;
    }
    napi_get_value_string_utf8(env, el, NULL, 0, &len);
    v[i] = malloc(len + 1);
    if (v[i] == NULL) {
      free_strv(v);
      ipmp_throw_errno(env, fn, ENOMEM);
      return NULL;
    }
    size_t got = 0;
    napi_get_value_string_utf8(env, el, v[i], len + 1, &got);
    if (strlen(v[i]) != got) {
      free_strv(v);
      ipmp_throw_type(env, "%s: %s[%u] must not contain NUL characters", fn, arg, i);
      return NULL;
    }
  }
  return v;
}

/*
 * execve(path, argv, env, keepFds) -> returns only on failure (throws).
 * The descriptors in keepFds lose FD_CLOEXEC so the new image inherits them;
 * every other descriptor keeps its flag. The calling thread's signal mask is
 * emptied, since the new image inherits it. On failure both are put back.
 */
static napi_value do_execve(napi_env env, napi_callback_info info) {
  static const char fn[] = "execve";
  napi_value argv[4];
  char path[4096];
  int32_t *fds;
  size_t nfds;
  CHECK(ipmp_args(env, info, 4, argv));
  CHECK(ipmp_arg_string(env, argv[0], fn, "path", path, sizeof path, NULL));
  CHECK(ipmp_arg_i32arr(env, argv[3], fn, "keepFds", &fds, &nfds));
  if (nfds > MAX_KEEP_FDS) return ipmp_throw_range(env, "%s: more than %d descriptors to keep", fn, MAX_KEEP_FDS);
  char **args = read_strv(env, argv[1], fn, "argv");
  if (args == NULL) return NULL;
  if (args[0] == NULL) {
    free_strv(args);
    return ipmp_throw_range(env, "%s: argv must not be empty", fn);
  }
  char **envp = read_strv(env, argv[2], fn, "env");
  if (envp == NULL) {
    free_strv(args);
    return NULL;
  }

  int saved[MAX_KEEP_FDS];
  size_t cleared = 0;
  int err = 0;
  char call[64] = "execve";
  for (; cleared < nfds; cleared++) {
    int fl = fcntl(fds[cleared], F_GETFD);
    if (fl < 0 || fcntl(fds[cleared], F_SETFD, fl & ~FD_CLOEXEC) < 0) {
      err = errno;
      snprintf(call, sizeof call, "execve: keep descriptor %d", fds[cleared]);
      break;
    }
    saved[cleared] = fl;
  }
  sigset_t none, old;
  sigemptyset(&none);
  if (!err) {
    pthread_sigmask(SIG_SETMASK, &none, &old);
    execve(path, args, envp);
    err = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    snprintf(call, sizeof call, "execve(%.40s)", path);
  }
  for (size_t i = 0; i < cleared; i++) fcntl(fds[i], F_SETFD, saved[i]);
  free_strv(args);
  free_strv(envp);
  return ipmp_throw_errno(env, call, err);
}

static int last_cap(void) {
  int last = CAP_LAST_CAP;
  FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
  if (f != NULL) {
    int v;
    if (fscanf(f, "%d", &v) == 1 && v > 0 && v < 64) last = v;
    fclose(f);
  }
  return last;
}

static bool read_mask(napi_env env, napi_value v, const char *fn, const char *arg, uint64_t *out) {
  napi_valuetype t;
  double d;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number || napi_get_value_double(env, v, &d) != napi_ok ||
      d < 0 || d > 9007199254740991.0 || d != (double)(uint64_t)d) {
    ipmp_throw_type(env, "%s: %s must be a capability bit mask (a non-negative integer)", fn, arg);
    return false;
  }
  *out = (uint64_t)d;
  return true;
}

static bool set_mask(napi_env env, napi_value obj, const char *key, uint64_t mask) {
  napi_value v;
  return napi_create_double(env, (double)mask, &v) == napi_ok && napi_set_named_property(env, obj, key, v) == napi_ok;
}

/* capState() -> {effective, permitted, inheritable, bounding, ambient, lastCap} (bit masks) */
static napi_value cap_state(napi_env env, napi_callback_info info) {
  struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  if (syscall(SYS_capget, &hdr, data) < 0) return ipmp_throw_errno(env, "capget", errno);
  uint64_t eff = data[0].effective | ((uint64_t)data[1].effective << 32);
  uint64_t perm = data[0].permitted | ((uint64_t)data[1].permitted << 32);
  uint64_t inh = data[0].inheritable | ((uint64_t)data[1].inheritable << 32);
  uint64_t bnd = 0, amb = 0;
  int last = last_cap();
  for (int c = 0; c <= last; c++) {
    if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1) bnd |= 1ULL << c;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) == 1) amb |= 1ULL << c;
  }
  napi_value obj, jlast;
  NAPI_CALL(env, napi_create_object(env, &obj));
  NAPI_CALL(env, napi_create_int32(env, last, &jlast));
  if (!set_mask(env, obj, "effective", eff) || !set_mask(env, obj, "permitted", perm) ||
      !set_mask(env, obj, "inheritable", inh) || !set_mask(env, obj, "bounding", bnd) ||
      !set_mask(env, obj, "ambient", amb) || napi_set_named_property(env, obj, "lastCap", jlast) != napi_ok) {
    ipmp_throw_napi_failure(env, "capState result");
    return NULL;
  }
  return obj;
}

/* capSet(effective, permitted, inheritable): capset(2) of the calling thread. */
static napi_value cap_set(napi_env env, napi_callback_info info) {
  static const char fn[] = "capSet";
  napi_value argv[3];
  uint64_t eff, perm, inh;
  CHECK(ipmp_args(env, info, 3, argv));
  CHECK(read_mask(env, argv[0], fn, "effective", &eff));
  CHECK(read_mask(env, argv[1], fn, "permitted", &perm));
  CHECK(read_mask(env, argv[2], fn, "inheritable", &inh));
  struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2];
  data[0].effective = (uint32_t)eff;
  data[1].effective = (uint32_t)(eff >> 32);
  data[0].permitted = (uint32_t)perm;
  data[1].permitted = (uint32_t)(perm >> 32);
  data[0].inheritable = (uint32_t)inh;
  data[1].inheritable = (uint32_t)(inh >> 32);
  if (syscall(SYS_capset, &hdr, data) < 0) return ipmp_throw_errno(env, fn, errno);
  return ipmp_undefined(env);
}

/* capBoundingKeep(mask): drops every capability outside mask from the bounding set. */
static napi_value cap_bounding_keep(napi_env env, napi_callback_info info) {
  static const char fn[] = "capBoundingKeep";
  napi_value argv[1];
  uint64_t keep;
  CHECK(ipmp_args(env, info, 1, argv));
  CHECK(read_mask(env, argv[0], fn, "mask", &keep));
  int last = last_cap();
  for (int c = 0; c <= last; c++) {
    if (keep & (1ULL << c)) continue;
    if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 1) continue;
    if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) {
      char call[48];
      snprintf(call, sizeof call, "%s: PR_CAPBSET_DROP %d", fn, c);
      return ipmp_throw_errno(env, call, errno);
    }
  }
  return ipmp_undefined(env);
}

/* capAmbientSet(mask): the ambient set becomes exactly mask (each must be permitted and inheritable). */
static napi_value cap_ambient_set(napi_env env, napi_callback_info info) {
  static const char fn[] = "capAmbientSet";
  napi_value argv[1];
  uint64_t mask;
  CHECK(ipmp_args(env, info, 1, argv));
  CHECK(read_mask(env, argv[0], fn, "mask", &mask));
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) return ipmp_throw_errno(env, fn, errno);
  for (int c = 0; c < 64; c++) {
    if (!(mask & (1ULL << c))) continue;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0) {
      char call[48];
      snprintf(call, sizeof call, "%s: raise %d", fn, c);
      return ipmp_throw_errno(env, call, errno);
    }
  }
  return ipmp_undefined(env);
}

/* setKeepCaps(on): PR_SET_KEEPCAPS of the calling thread. */
static napi_value set_keep_caps(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  bool on;
  CHECK(ipmp_args(env, info, 1, argv));
  CHECK(ipmp_arg_bool(env, argv[0], "setKeepCaps", "on", &on));
  if (prctl(PR_SET_KEEPCAPS, on ? 1 : 0, 0, 0, 0) < 0) return ipmp_throw_errno(env, "setKeepCaps", errno);
  return ipmp_undefined(env);
}

/* tunInfo(fd) -> {name, flags}: TUNGETIFF on an attached TUN descriptor. */
static napi_value tun_info(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  CHECK(ipmp_args(env, info, 1, argv));
  CHECK(ipmp_arg_int32(env, argv[0], "tunInfo", "fd", &fd));
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
    char call[48];
    snprintf(call, sizeof call, "tunInfo(%d)", fd);
    return ipmp_throw_errno(env, call, errno);
  }
  ifr.ifr_name[IFNAMSIZ - 1] = '\0';
  napi_value obj, name, flags;
  NAPI_CALL(env, napi_create_object(env, &obj));
  NAPI_CALL(env, napi_create_string_utf8(env, ifr.ifr_name, NAPI_AUTO_LENGTH, &name));
  NAPI_CALL(env, napi_create_uint32(env, (uint32_t)(uint16_t)ifr.ifr_flags, &flags));
  NAPI_CALL(env, napi_set_named_property(env, obj, "name", name));
  NAPI_CALL(env, napi_set_named_property(env, obj, "flags", flags));
  return obj;
}

/* packetIfindex(fd) -> ifindex the AF_PACKET socket is bound to. */
static napi_value packet_ifindex(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  CHECK(ipmp_args(env, info, 1, argv));
  CHECK(ipmp_arg_int32(env, argv[0], "packetIfindex", "fd", &fd));
  struct sockaddr_ll sll;
  socklen_t len = sizeof sll;
  memset(&sll, 0, sizeof sll);
  char call[48];
  snprintf(call, sizeof call, "packetIfindex(%d)", fd);
  if (getsockname(fd, (struct sockaddr *)&sll, &len) < 0) return ipmp_throw_errno(env, call, errno);
  if (sll.sll_family != AF_PACKET) return ipmp_throw_errno(env, call, EAFNOSUPPORT);
  return ipmp_int32(env, sll.sll_ifindex);
}

/*
 * sdNotify(path, text) -> 0 | -errno: one datagram to systemd's notification
 * socket. A path starting with '@' is in the abstract namespace.
 */
static napi_value sd_notify(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
  char text[4096];
  size_t plen, tlen;
  CHECK(ipmp_args(env, info, 2, argv));
  CHECK(ipmp_arg_string(env, argv[0], "sdNotify", "path", path, sizeof path, &plen));
  CHECK(ipmp_arg_string(env, argv[1], "sdNotify", "text", text, sizeof text, &tlen));
  if (plen == 0) return ipmp_int32(env, -EINVAL);
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, path, plen);
  if (path[0] == '@') sa.sun_path[0] = '\0';
  socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen + (path[0] == '@' ? 0 : 1));
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ipmp_int32(env, -errno);
  ssize_t r = sendto(fd, text, tlen, MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
  int err = r < 0 ? errno : 0;
  close(fd);
  return ipmp_int32(env, -err);
}

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/*
 * netnsCookie() -> bigint: SO_NETNS_COOKIE of the calling thread's network
 * namespace. Unlike the namespace's inode number it is never reused while the
 * system runs, so state named after it cannot be mistaken for a later
 * namespace's.
 */
static napi_value netns_cookie(napi_env env, napi_callback_info info) {
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ipmp_throw_errno(env, "netnsCookie", errno);
  uint64_t cookie = 0;
  socklen_t len = sizeof cookie;
  int r = getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len);
  int err = errno;
  close(fd);
  if (r < 0) return ipmp_throw_errno(env, "netnsCookie", err);
  napi_value v;
  NAPI_CALL(env, napi_create_bigint_uint64(env, cookie, &v));
  return v;
}

bool ipmp_register_proc(napi_env env, napi_value exports) {
  return ipmp_export(env, exports, "execve", do_execve) && ipmp_export(env, exports, "capState", cap_state) &&
         ipmp_export(env, exports, "capSet", cap_set) &&
         ipmp_export(env, exports, "capBoundingKeep", cap_bounding_keep) &&
         ipmp_export(env, exports, "capAmbientSet", cap_ambient_set) &&
         ipmp_export(env, exports, "setKeepCaps", set_keep_caps) && ipmp_export(env, exports, "tunInfo", tun_info) &&
         ipmp_export(env, exports, "packetIfindex", packet_ifindex) &&
         ipmp_export(env, exports, "sdNotify", sd_notify) && ipmp_export(env, exports, "netnsCookie", netns_cookie);
}
