/*
 * TUN device: open/attach, per-device ioctls, and the batched read/write
 * used by the forwarding workers.
 */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

/* tunOpen(name, {vnetHdr, multiQueue, persist}) -> {fd, ifindex, name} */
static napi_value tun_open(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char name[256];
  bool vnet, mq, persist;
  CHECK(ipmp_args(env, info, 2, argv));
  CHECK(ipmp_arg_string(env, argv[0], "tunOpen", "name", name, sizeof name, NULL));
  CHECK(ipmp_arg_object(env, argv[1], "tunOpen", "opts"));
  CHECK(ipmp_opt_bool(env, argv[1], "tunOpen", "vnetHdr", &vnet));
  CHECK(ipmp_opt_bool(env, argv[1], "tunOpen", "multiQueue", &mq));
  CHECK(ipmp_opt_bool(env, argv[1], "tunOpen", "persist", &persist));

  char call[sizeof name + 16];
  snprintf(call, sizeof call, "tunOpen(%s)", name);
  /* The kernel would reject it too; checked here so it is never truncated. */
  if (strlen(name) >= IFNAMSIZ) return ipmp_throw_errno(env, call, EINVAL);

  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return ipmp_throw_errno(env, call, errno);

  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name, strlen(name));
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  if (vnet) ifr.ifr_flags |= IFF_VNET_HDR;
  if (mq) ifr.ifr_flags |= IFF_MULTI_QUEUE;

  int err = 0;
  const char *step = NULL;
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    err = errno;
  } else {
    /* Offload bits persist on the device, so they are always set explicitly. */
    unsigned int offload = 0;
    if (vnet) {
      int hdrsz = IPMP_VNET_HDR_LEN;
      if (ioctl(fd, TUNSETVNETHDRSZ, &hdrsz) < 0) {
        err = errno;
        step = "TUNSETVNETHDRSZ";
      }
      offload = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
    }
    if (!err && ioctl(fd, TUNSETOFFLOAD, (unsigned long)offload) < 0) {
      err = errno;
      step = "TUNSETOFFLOAD";
    }
    /* persist=false leaves an existing persistent device as it is. */
    if (!err && persist && ioctl(fd, TUNSETPERSIST, 1UL) < 0) {
      err = errno;
      step = "TUNSETPERSIST";
    }
  }
  if (err) {
    close(fd);
    if (step) {
      char call2[sizeof call + 24];
      snprintf(call2, sizeof call2, "%s %s", call, step);
      return ipmp_throw_errno(env, call2, err);
    }
    return ipmp_throw_errno(env, call, err);
  }

  /* The kernel may have completed a name template such as "tun%d". */
  char actual[IFNAMSIZ];
  memcpy(actual, ifr.ifr_name, IFNAMSIZ);
  actual[IFNAMSIZ - 1] = '\0';
  unsigned int ifindex = if_nametoindex(actual);
  if (ifindex == 0) {
    err = errno;
    close(fd);
    char call2[sizeof call + 24];
    snprintf(call2, sizeof call2, "%s if_nametoindex", call);
    return ipmp_throw_errno(env, call2, err ? err : ENODEV);
  }

  napi_value obj, jname, jidx, jfd;
  if (napi_create_object(env, &obj) != napi_ok ||
      napi_create_int32(env, fd, &jfd) != napi_ok ||
      napi_create_uint32(env, ifindex, &jidx) != napi_ok ||
      napi_create_string_utf8(env, actual, NAPI_AUTO_LENGTH, &jname) != napi_ok ||
      napi_set_named_property(env, obj, "fd", jfd) != napi_ok ||
      napi_set_named_property(env, obj, "ifindex", jidx) != napi_ok ||
      napi_set_named_property(env, obj, "name", jname) != napi_ok) {
    close(fd);
    ipmp_throw_napi_failure(env, "tunOpen result");
    return NULL;
  }
  return obj;
}

/* Shared body of the three fd + value ioctls. */
static napi_value tun_ioctl(napi_env env, napi_callback_info info, const char *fn,
                            unsigned long req, bool boolean_arg) {
  napi_value argv[2];
  int32_t fd;
  CHECK(ipmp_args(env, info, 2, argv));
  CHECK(ipmp_arg_int32(env, argv[0], fn, "fd", &fd));
  int rc;
  if (boolean_arg) {
    bool on;
    CHECK(ipmp_arg_bool(env, argv[1], fn, "on", &on));
    if (req == TUNSETCARRIER) {
      int v = on ? 1 : 0;
      rc = ioctl(fd, req, &v);
    } else {
      rc = ioctl(fd, req, on ? 1UL : 0UL);
    }
  } else {
    uint32_t flags;
    CHECK(ipmp_arg_uint32(env, argv[1], fn, "flags", &flags));
    rc = ioctl(fd, req, (unsigned long)flags);
  }
  if (rc < 0) return ipmp_throw_errno(env, fn, errno);
  return ipmp_undefined(env);
}

static napi_value tun_set_persist(napi_env env, napi_callback_info info) {
  return tun_ioctl(env, info, "tunSetPersist", TUNSETPERSIST, true);
}

static napi_value tun_set_carrier(napi_env env, napi_callback_info info) {
  return tun_ioctl(env, info, "tunSetCarrier", TUNSETCARRIER, true);
}

static napi_value tun_set_offload(napi_env env, napi_callback_info info) {
  return tun_ioctl(env, info, "tunSetOffload", TUNSETOFFLOAD, false);
}

/* Waits for POLLIN on one fd. 1 ready, 0 timeout or signal, -errno. */
static int poll_one(int fd, int timeout_ms) {
  struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
  int r = poll(&p, 1, timeout_ms);
  if (r < 0) return errno == EINTR ? 0 : -errno;
  if (r == 0) return 0;
  if (p.revents & POLLNVAL) return -EBADF;
  return 1;
}

/*
 * tunReadBatch(fd, buf, slotSize, vnetOff, dataOff, maxPkts, lens, timeoutMs)
 * Packet i lands in slot i (base i*slotSize); see src/io/native.ts.
 */
static napi_value tun_read_batch(napi_env env, napi_callback_info info) {
  static const char fn[] = "tunReadBatch";
  napi_value argv[8];
  int32_t fd, slot, voff, doff, maxp, timeout;
  uint8_t *buf;
  size_t buflen, nlens;
  int32_t *lens;
  CHECK(ipmp_args(env, info, 8, argv));
  CHECK(ipmp_arg_int32(env, argv[0], fn, "fd", &fd));
  CHECK(ipmp_arg_u8(env, argv[1], fn, "buf", &buf, &buflen));
  CHECK(ipmp_arg_int32(env, argv[2], fn, "slotSize", &slot));
  CHECK(ipmp_arg_int32(env, argv[3], fn, "vnetOff", &voff));
  CHECK(ipmp_arg_int32(env, argv[4], fn, "dataOff", &doff));
  CHECK(ipmp_arg_int32(env, argv[5], fn, "maxPkts", &maxp));
  CHECK(ipmp_arg_i32arr(env, argv[6], fn, "lens", &lens, &nlens));
  CHECK(ipmp_arg_int32(env, argv[7], fn, "timeoutMs", &timeout));

  if (slot <= 0) return ipmp_throw_range(env, "%s: slotSize must be positive", fn);
  if (maxp < 0 || maxp > IPMP_MAX_BATCH)
    return ipmp_throw_range(env, "%s: maxPkts must be within 0..%d", fn, IPMP_MAX_BATCH);
  if (doff < 0 || doff >= slot)
    return ipmp_throw_range(env, "%s: dataOff must be within 0..slotSize-1", fn);
  if (voff >= 0 && (int64_t)voff + IPMP_VNET_HDR_LEN > slot)
    return ipmp_throw_range(env, "%s: vnetOff+%d exceeds slotSize", fn, IPMP_VNET_HDR_LEN);
  if ((int64_t)maxp * slot > (int64_t)buflen)
    return ipmp_throw_range(env, "%s: maxPkts*slotSize (%lld) exceeds buf length (%zu)", fn,
                            (long long)maxp * slot, buflen);
  if ((size_t)maxp > nlens)
    return ipmp_throw_range(env, "%s: lens has fewer than maxPkts elements", fn);
  if (maxp == 0) return ipmp_int32(env, 0);

  /* timeoutMs 0: the caller already knows (or only asks) whether data is there; the fd is
     non-blocking, so the first read answers without a poll. */
  if (timeout != 0) {
    int r = poll_one(fd, timeout);
    if (r <= 0) return ipmp_int32(env, r);
  }

  int n = 0, first_err = 0;
  size_t data_cap = (size_t)(slot - doff);
  while (n < maxp) {
    uint8_t *base = buf + (size_t)n * (size_t)slot;
    ssize_t got;
    if (voff >= 0) {
      struct iovec iov[2] = {
        {.iov_base = base + voff, .iov_len = IPMP_VNET_HDR_LEN},
        {.iov_base = base + doff, .iov_len = data_cap},
      };
      got = readv(fd, iov, 2);
    } else {
      got = read(fd, base + doff, data_cap);
    }
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) first_err = errno;
      break;
    }
    if (voff >= 0) got = got >= IPMP_VNET_HDR_LEN ? got - IPMP_VNET_HDR_LEN : 0;
    /* TUN reports the full packet length even when it did not fit: never past the slot. */
    if ((size_t)got > data_cap) got = (ssize_t)data_cap;
    lens[n++] = (int32_t)got;
  }
  if (n == 0 && first_err) return ipmp_int32(env, -first_err);
  return ipmp_int32(env, n);
}

/* tunWriteBatch(fd, buf, vnetOffs, offs, lens, count) */
static napi_value tun_write_batch(napi_env env, napi_callback_info info) {
  static const char fn[] = "tunWriteBatch";
  napi_value argv[6];
  int32_t fd, count;
  uint8_t *buf;
  size_t buflen, nv, no, nl;
  int32_t *voffs, *offs, *lens;
  CHECK(ipmp_args(env, info, 6, argv));
  CHECK(ipmp_arg_int32(env, argv[0], fn, "fd", &fd));
  CHECK(ipmp_arg_u8(env, argv[1], fn, "buf", &buf, &buflen));
  CHECK(ipmp_arg_i32arr(env, argv[2], fn, "vnetOffs", &voffs, &nv));
  CHECK(ipmp_arg_i32arr(env, argv[3], fn, "offs", &offs, &no));
  CHECK(ipmp_arg_i32arr(env, argv[4], fn, "lens", &lens, &nl));
  CHECK(ipmp_arg_int32(env, argv[5], fn, "count", &count));

  if (count < 0 || count > IPMP_MAX_BATCH)
    return ipmp_throw_range(env, "%s: count must be within 0..%d", fn, IPMP_MAX_BATCH);
  if ((size_t)count > nv || (size_t)count > no || (size_t)count > nl)
    return ipmp_throw_range(env, "%s: vnetOffs/offs/lens have fewer than count elements", fn);
  for (int i = 0; i < count; i++) {
    if (offs[i] < 0 || lens[i] < 0 || (int64_t)offs[i] + lens[i] > (int64_t)buflen)
      return ipmp_throw_range(env, "%s: packet %d (off %d, len %d) outside buf (%zu bytes)", fn, i,
                              offs[i], lens[i], buflen);
    if (voffs[i] >= 0 && (int64_t)voffs[i] + IPMP_VNET_HDR_LEN > (int64_t)buflen)
      return ipmp_throw_range(env, "%s: vnet header %d (off %d) outside buf", fn, i, voffs[i]);
  }

  int written = 0, first_err = 0;
  for (int i = 0; i < count; i++) {
    ssize_t r;
    do {
      if (voffs[i] >= 0) {
        struct iovec iov[2] = {
          {.iov_base = buf + voffs[i], .iov_len = IPMP_VNET_HDR_LEN},
          {.iov_base = buf + offs[i], .iov_len = (size_t)lens[i]},
        };
        r = writev(fd, iov, 2);
      } else {
        r = write(fd, buf + offs[i], (size_t)lens[i]);
      }
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
      if (!first_err) first_err = errno;
      /* A bad descriptor fails every packet alike. */
      if (errno == EBADF) break;
      continue;
    }
    written++;
  }
  if (written == 0 && first_err) return ipmp_int32(env, -first_err);
  return ipmp_int32(env, written);
}

bool ipmp_register_tun(napi_env env, napi_value exports) {
  return ipmp_export(env, exports, "tunOpen", tun_open) &&
         ipmp_export(env, exports, "tunSetPersist", tun_set_persist) &&
         ipmp_export(env, exports, "tunSetCarrier", tun_set_carrier) &&
         ipmp_export(env, exports, "tunSetOffload", tun_set_offload) &&
         ipmp_export(env, exports, "tunReadBatch", tun_read_batch) &&
         ipmp_export(env, exports, "tunWriteBatch", tun_write_batch);
}
