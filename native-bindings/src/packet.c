/*
 * AF_PACKET sockets on the physical interfaces: open/bind, multicast
 * membership, and the batched receive/send of the forwarding workers.
 */
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

static int setsockopt_int(int fd, int level, int name, int value) {
  return setsockopt(fd, level, name, &value, sizeof value);
}

/*
 * packetOpen(ifindex, opts) -> fd
 *
 * The socket is created with protocol 0, so it queues nothing until bind();
 * the filter is attached before bind() with ETH_P_ALL, which means no frame
 * ever reaches the queue without having passed the filter.
 */
static napi_value packet_open(napi_env env, napi_callback_info info) {
  static const char fn[] = "packetOpen";
  napi_value argv[2];
  int32_t ifindex, rcvbuf, sndbuf;
  bool vnet, ignore_out, nonblock;
  uint8_t *filter;
  size_t filter_len;
  CHECK(ipmp_args(env, info, 2, argv));
  CHECK(ipmp_arg_int32(env, argv[0], fn, "ifindex", &ifindex));
  CHECK(ipmp_arg_object(env, argv[1], fn, "opts"));
  CHECK(ipmp_opt_bool(env, argv[1], fn, "vnetHdr", &vnet));
  CHECK(ipmp_opt_int32(env, argv[1], fn, "rcvbuf", &rcvbuf));
  CHECK(ipmp_opt_int32(env, argv[1], fn, "sndbuf", &sndbuf));
  CHECK(ipmp_opt_bool(env, argv[1], fn, "ignoreOutgoing", &ignore_out));
  CHECK(ipmp_opt_u8(env, argv[1], fn, "filter", &filter, &filter_len));
  CHECK(ipmp_opt_bool(env, argv[1], fn, "nonblock", &nonblock));

  if (ifindex <= 0) return ipmp_throw_range(env, "%s: ifindex must be positive", fn);
  if (rcvbuf < 0 || sndbuf < 0) return ipmp_throw_range(env, "%s: rcvbuf/sndbuf must be >= 0", fn);
  if (filter_len % sizeof(struct sock_filter) != 0)
    return ipmp_throw_range(env, "%s: opts.filter length must be a multiple of %zu", fn,
                            sizeof(struct sock_filter));
  if (filter_len / sizeof(struct sock_filter) > BPF_MAXINSNS)
    return ipmp_throw_range(env, "%s: opts.filter has more than %d instructions", fn, BPF_MAXINSNS);

  char call[64];
  snprintf(call, sizeof call, "packetOpen(%d)", ifindex);
  char call2[96];

  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) return ipmp_throw_errno(env, call, errno);

  const char *step = NULL;
  int err = 0;

  if (filter_len > 0) {
    /* Copy into aligned memory: the typed array's bytes may be unaligned. */
    unsigned short n = (unsigned short)(filter_len / sizeof(struct sock_filter));
    struct sock_filter *ins = malloc(filter_len);
    if (ins == NULL) {
      close(fd);
      return ipmp_throw_errno(env, call, ENOMEM);
    }
    memcpy(ins, filter, filter_len);
    struct sock_fprog prog = {.len = n, .filter = ins};
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0) {
      err = errno;
      step = "SO_ATTACH_FILTER";
    }
    free(ins);
  }
  if (!err && vnet && setsockopt_int(fd, SOL_PACKET, PACKET_VNET_HDR, 1) < 0) {
    err = errno;
    step = "PACKET_VNET_HDR";
  }
  if (!err && ignore_out && setsockopt_int(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1) < 0) {
    err = errno;
    step = "PACKET_IGNORE_OUTGOING";
  }
  if (!err && rcvbuf > 0 && setsockopt_int(fd, SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf) < 0) {
    err = errno;
    step = "SO_RCVBUFFORCE";
  }
  if (!err && sndbuf > 0 && setsockopt_int(fd, SOL_SOCKET, SO_SNDBUFFORCE, sndbuf) < 0) {
    err = errno;
    step = "SO_SNDBUFFORCE";
  }
  if (!err && nonblock) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
      err = errno;
      step = "O_NONBLOCK";
    }
  }
  if (!err) {
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = ifindex;
    if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
      err = errno;
      step = "bind";
    }
  }
  if (err) {
    close(fd);
    snprintf(call2, sizeof call2, "%s %s", call, step);
    return ipmp_throw_errno(env, call2, err);
  }
  return ipmp_int32(env, fd);
}

/* packetMembership(fd, ifindex, mac, add) */
static napi_value packet_membership(napi_env env, napi_callback_info info) {
  static const char fn[] = "packetMembership";
  napi_value argv[4];
  int32_t fd, ifindex;
  uint8_t *mac;
  size_t maclen;
  bool add;
  CHECK(ipmp_args(env, info, 4, argv));
  CHECK(ipmp_arg_int32(env, argv[0], fn, "fd", &fd));
  CHECK(ipmp_arg_int32(env, argv[1], fn, "ifindex", &ifindex));
  CHECK(ipmp_arg_u8(env, argv[2], fn, "mac", &mac, &maclen));
  CHECK(ipmp_arg_bool(env, argv[3], fn, "add", &add));
  if (maclen != 6) return ipmp_throw_range(env, "%s: mac must be 6 bytes (got %zu)", fn, maclen);

  struct packet_mreq mr;
  memset(&mr, 0, sizeof mr);
  mr.mr_ifindex = ifindex;
  mr.mr_type = PACKET_MR_MULTICAST;
  mr.mr_alen = 6;
  memcpy(mr.mr_address, mac, 6);
  if (setsockopt(fd, SOL_PACKET, add ? PACKET_ADD_MEMBERSHIP : PACKET_DROP_MEMBERSHIP, &mr, sizeof mr) < 0) {
    char call[96];
    snprintf(call, sizeof call, "%s(%s %02x:%02x:%02x:%02x:%02x:%02x)", fn, add ? "add" : "drop", mac[0],
             mac[1], mac[2], mac[3], mac[4], mac[5]);
    return ipmp_throw_errno(env, call, errno);
  }
  return ipmp_undefined(env);
}

/* Rotates the first socket drained per call so no interface starves the others. */
static __thread unsigned int recv_rotor;

/*
 * packetRecvBatch(fds, nfds, buf, slotSize, dataOff, maxPkts, lens, srcIdx, timeoutMs[, ready])
 * With timeoutMs 0 and `ready` (a Uint8Array parallel to fds, from a poll the caller
 * already made), only the sockets marked ready are read.
 */
static napi_value packet_recv_batch(napi_env env, napi_callback_info info) {
  static const char fn[] = "packetRecvBatch";
  napi_value argv[10];
  int32_t *fds, *lens, *src;
  size_t nfds_len, nlens, nsrc, buflen, nready = 0;
  int32_t nfds, slot, doff, maxp, timeout;
  uint8_t *buf, *ready = NULL;
  CHECK(ipmp_args(env, info, 10, argv));
  CHECK(ipmp_arg_i32arr(env, argv[0], fn, "fds", &fds, &nfds_len));
  CHECK(ipmp_arg_int32(env, argv[1], fn, "nfds", &nfds));
  CHECK(ipmp_arg_u8(env, argv[2], fn, "buf", &buf, &buflen));
  CHECK(ipmp_arg_int32(env, argv[3], fn, "slotSize", &slot));
  CHECK(ipmp_arg_int32(env, argv[4], fn, "dataOff", &doff));
  CHECK(ipmp_arg_int32(env, argv[5], fn, "maxPkts", &maxp));
  CHECK(ipmp_arg_i32arr(env, argv[6], fn, "lens", &lens, &nlens));
  CHECK(ipmp_arg_i32arr(env, argv[7], fn, "srcIdx", &src, &nsrc));
  CHECK(ipmp_arg_int32(env, argv[8], fn, "timeoutMs", &timeout));
  napi_valuetype rt;
  NAPI_CALL(env, napi_typeof(env, argv[9], &rt));
  if (rt != napi_undefined) CHECK(ipmp_arg_u8(env, argv[9], fn, "ready", &ready, &nready));

  if (nfds < 0 || nfds > IPMP_MAX_FDS || (size_t)nfds > nfds_len)
    return ipmp_throw_range(env, "%s: nfds must be within 0..min(fds.length, %d)", fn, IPMP_MAX_FDS);
  if (slot <= 0) return ipmp_throw_range(env, "%s: slotSize must be positive", fn);
  if (doff < 0 || doff >= slot) return ipmp_throw_range(env, "%s: dataOff must be within 0..slotSize-1", fn);
  if (maxp < 0 || maxp > IPMP_MAX_BATCH)
    return ipmp_throw_range(env, "%s: maxPkts must be within 0..%d", fn, IPMP_MAX_BATCH);
  if ((int64_t)maxp * slot > (int64_t)buflen)
    return ipmp_throw_range(env, "%s: maxPkts*slotSize (%lld) exceeds buf length (%zu)", fn,
                            (long long)maxp * slot, buflen);
  if ((size_t)maxp > nlens || (size_t)maxp > nsrc)
    return ipmp_throw_range(env, "%s: lens/srcIdx have fewer than maxPkts elements", fn);
  if (ready && nready < (size_t)nfds) return ipmp_throw_range(env, "%s: ready has fewer than nfds elements", fn);
  if (maxp == 0 || nfds == 0) return ipmp_int32(env, 0);

  struct pollfd pfd[IPMP_MAX_FDS];
  for (int i = 0; i < nfds; i++) {
    pfd[i].fd = fds[i];
    pfd[i].events = POLLIN;
    /* timeoutMs 0: no poll; every socket (or every one marked ready) is tried once with MSG_DONTWAIT. */
    pfd[i].revents = timeout == 0 && (!ready || ready[i]) ? POLLIN : 0;
  }
  if (timeout != 0) {
    int pr = poll(pfd, (nfds_t)nfds, timeout);
    if (pr < 0) return ipmp_int32(env, errno == EINTR ? 0 : -errno);
    if (pr == 0) return ipmp_int32(env, 0);
  }

  struct mmsghdr msgs[IPMP_MAX_BATCH];
  struct iovec iov[IPMP_MAX_BATCH];
  size_t cap = (size_t)(slot - doff);
  for (int i = 0; i < maxp; i++) {
    iov[i].iov_base = buf + (size_t)i * (size_t)slot + (size_t)doff;
    iov[i].iov_len = cap;
    memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_len = 0;
  }

  int n = 0, first_err = 0;
  unsigned int start = recv_rotor++ % (unsigned int)nfds;
  for (int k = 0; k < nfds && n < maxp; k++) {
    int i = (int)((start + (unsigned int)k) % (unsigned int)nfds);
    short rev = pfd[i].revents;
    if (rev == 0) continue;
    if (rev & POLLNVAL) {
      if (!first_err) first_err = EBADF;
      continue;
    }
    /* POLLERR without data is drained too: recvmmsg reports (and clears) the error. */
    for (;;) {
      int r = recvmmsg(pfd[i].fd, msgs + n, (unsigned int)(maxp - n), MSG_DONTWAIT, NULL);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK && !first_err) first_err = errno;
        break;
      }
      for (int j = 0; j < r; j++) {
        lens[n + j] = (int32_t)msgs[n + j].msg_len;
        src[n + j] = i;
      }
      n += r;
      break;
    }
  }
  if (n == 0 && first_err) return ipmp_int32(env, -first_err);
  return ipmp_int32(env, n);
}

/*
 * pollFds(fds, nfds, ready, timeoutMs) -> number of ready fds | 0 | -errno
 * ready[i] = 1 when fds[i] is readable (or has an error or hangup to report), else 0.
 * The single wait of a loop that serves several descriptors.
 */
static napi_value poll_fds(napi_env env, napi_callback_info info) {
  static const char fn[] = "pollFds";
  napi_value argv[4];
  int32_t *fds, nfds, timeout;
  size_t nfds_len, nready;
  uint8_t *ready;
  CHECK(ipmp_args(env, info, 4, argv));
  CHECK(ipmp_arg_i32arr(env, argv[0], fn, "fds", &fds, &nfds_len));
  CHECK(ipmp_arg_int32(env, argv[1], fn, "nfds", &nfds));
  CHECK(ipmp_arg_u8(env, argv[2], fn, "ready", &ready, &nready));
  CHECK(ipmp_arg_int32(env, argv[3], fn, "timeoutMs", &timeout));
  if (nfds < 0 || nfds > IPMP_MAX_FDS || (size_t)nfds > nfds_len || (size_t)nfds > nready)
    return ipmp_throw_range(env, "%s: nfds must be within 0..min(fds.length, ready.length, %d)", fn, IPMP_MAX_FDS);
  struct pollfd pfd[IPMP_MAX_FDS];
  for (int i = 0; i < nfds; i++) {
    pfd[i].fd = fds[i];
    pfd[i].events = POLLIN;
    pfd[i].revents = 0;
  }
  int pr = poll(pfd, (nfds_t)nfds, timeout);
  if (pr < 0) return ipmp_int32(env, errno == EINTR ? 0 : -errno);
  for (int i = 0; i < nfds; i++) ready[i] = pfd[i].revents != 0;
  return ipmp_int32(env, pr);
}

/* packetSendBatch(fds, buf, offs, lens, count) */
static napi_value packet_send_batch(napi_env env, napi_callback_info info) {
  static const char fn[] = "packetSendBatch";
  napi_value argv[5];
  int32_t *fds, *offs, *lens;
  size_t nf, no, nl, buflen;
  int32_t count;
  uint8_t *buf;
  CHECK(ipmp_args(env, info, 5, argv));
  CHECK(ipmp_arg_i32arr(env, argv[0], fn, "fds", &fds, &nf));
  CHECK(ipmp_arg_u8(env, argv[1], fn, "buf", &buf, &buflen));
  CHECK(ipmp_arg_i32arr(env, argv[2], fn, "offs", &offs, &no));
  CHECK(ipmp_arg_i32arr(env, argv[3], fn, "lens", &lens, &nl));
  CHECK(ipmp_arg_int32(env, argv[4], fn, "count", &count));

  if (count < 0 || count > IPMP_MAX_BATCH)
    return ipmp_throw_range(env, "%s: count must be within 0..%d", fn, IPMP_MAX_BATCH);
  if ((size_t)count > nf || (size_t)count > no || (size_t)count > nl)
    return ipmp_throw_range(env, "%s: fds/offs/lens have fewer than count elements", fn);

  struct mmsghdr msgs[IPMP_MAX_BATCH];
  struct iovec iov[IPMP_MAX_BATCH];
  for (int i = 0; i < count; i++) {
    if (offs[i] < 0 || lens[i] < 0 || (int64_t)offs[i] + lens[i] > (int64_t)buflen)
      return ipmp_throw_range(env, "%s: frame %d (off %d, len %d) outside buf (%zu bytes)", fn, i,
                              offs[i], lens[i], buflen);
    iov[i].iov_base = buf + offs[i];
    iov[i].iov_len = (size_t)lens[i];
    memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_len = 0;
  }

  int sent = 0, first_err = 0;
  int i = 0;
  while (i < count) {
    int fd = fds[i];
    int end = i + 1;
    while (end < count && fds[end] == fd) end++;
    int pos = i;
    while (pos < end) {
      int r = sendmmsg(fd, msgs + pos, (unsigned int)(end - pos), MSG_DONTWAIT);
      if (r > 0) {
        sent += r;
        pos += r;
        continue;
      }
      if (r < 0 && errno == EINTR) continue;
      int e = r < 0 ? errno : EAGAIN;
      if (!first_err) first_err = e;
      /* A frame the device cannot take is skipped; anything else ends this run. */
      if (e == EMSGSIZE || e == EINVAL) {
        pos++;
        continue;
      }
      break;
    }
    i = end;
  }
  if (sent == 0 && first_err) return ipmp_int32(env, -first_err);
  return ipmp_int32(env, sent);
}

bool ipmp_register_packet(napi_env env, napi_value exports) {
  return ipmp_export(env, exports, "packetOpen", packet_open) &&
         ipmp_export(env, exports, "packetMembership", packet_membership) &&
         ipmp_export(env, exports, "packetRecvBatch", packet_recv_batch) &&
         ipmp_export(env, exports, "packetSendBatch", packet_send_batch) &&
         ipmp_export(env, exports, "pollFds", poll_fds);
}
