/*
 * The latency floor of `ipmp bench`: a forwarder between a TUN and one NIC's
 * packet socket written in C, with the sockets ipmpd uses (TUN with
 * IFF_VNET_HDR, AF_PACKET with PACKET_VNET_HDR) and the same system calls per
 * packet (poll, readv from the TUN, a send on the packet socket; recv, writev
 * into the TUN), but no JavaScript, no tables and one fixed next hop. The
 * round-trip time through it is what any userspace forwarder of this design
 * adds on the machine; ipmpd's own figure is compared against it. Not used by
 * the daemon.
 */
#include "util.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define FLOOR_VNET 10
#define FLOOR_ETH 14
#define FLOOR_IP_OFF (FLOOR_VNET + FLOOR_ETH)
#define FLOOR_DATA 65536
#define FLOOR_MAX_SECONDS 120.0
#define FLOOR_POLL_MS 20

/* Moves the virtio header's offsets by delta bytes (the Ethernet header added or taken away). */
static void shift_vnet(uint8_t *h, int delta) {
  if (h[0] & 1) { /* VIRTIO_NET_HDR_F_NEEDS_CSUM */
    unsigned cs = (unsigned)(h[6] | (h[7] << 8)) + (unsigned)delta;
    h[6] = (uint8_t)cs;
    h[7] = (uint8_t)(cs >> 8);
  }
  unsigned hl = (unsigned)(h[2] | (h[3] << 8));
  if (hl) {
    hl += (unsigned)delta;
    h[2] = (uint8_t)hl;
    h[3] = (uint8_t)(hl >> 8);
  }
}

/*
 * floorForward(tunFd, pktFd, ownMac, peerMac, seconds, stopFd) -> {toNic, toTun, seconds}
 * Packets read from the TUN leave on the packet socket framed from ownMac to peerMac;
 * IPv4 and IPv6 frames received for ownMac go into the TUN. Both fds must be non-blocking.
 * Blocks the calling thread for `seconds`, or until stopFd (when >= 0) becomes readable or
 * hangs up (a pipe whose writer closed).
 */
static napi_value floor_forward(napi_env env, napi_callback_info info) {
  static const char fn[] = "floorForward";
  napi_value argv[6];
  int32_t tun, pkt, stop;
  uint8_t *own, *peer;
  size_t ownLen, peerLen;
  double seconds;
  CHECK(ipmp_args(env, info, 6, argv));
  CHECK(ipmp_arg_int32(env, argv[0], fn, "tunFd", &tun));
  CHECK(ipmp_arg_int32(env, argv[1], fn, "pktFd", &pkt));
  CHECK(ipmp_arg_u8(env, argv[2], fn, "ownMac", &own, &ownLen));
  CHECK(ipmp_arg_u8(env, argv[3], fn, "peerMac", &peer, &peerLen));
  NAPI_CALL(env, napi_get_value_double(env, argv[4], &seconds));
  CHECK(ipmp_arg_int32(env, argv[5], fn, "stopFd", &stop));
  if (ownLen != 6 || peerLen != 6) return ipmp_throw_range(env, "%s: MACs must be 6 bytes", fn);
  if (!(seconds > 0 && seconds <= FLOOR_MAX_SECONDS))
    return ipmp_throw_range(env, "%s: seconds must be within (0, %g]", fn, FLOOR_MAX_SECONDS);

  uint8_t *b = malloc(FLOOR_IP_OFF + FLOOR_DATA);
  if (!b) return ipmp_throw_errno(env, fn, ENOMEM);
  uint8_t eth[FLOOR_ETH];
  memcpy(eth, peer, 6);
  memcpy(eth + 6, own, 6);

  double t0 = ipmp_mono_s(), t = t0, toNic = 0, toTun = 0;
  struct pollfd pfd[3] = {{.fd = tun, .events = POLLIN}, {.fd = pkt, .events = POLLIN}, {.fd = stop, .events = POLLIN}};
  while ((t = ipmp_mono_s()) - t0 < seconds) {
    int r = poll(pfd, stop >= 0 ? 3 : 2, FLOOR_POLL_MS);
    if (r < 0 && errno != EINTR) break;
    if (r <= 0) continue;
    if (stop >= 0 && pfd[2].revents) break;
    if (pfd[0].revents & POLLIN) {
      for (;;) {
        struct iovec in[2] = {{b, FLOOR_VNET}, {b + FLOOR_IP_OFF, FLOOR_DATA}};
        ssize_t n = readv(tun, in, 2);
        if (n < 0 && errno == EINTR) continue;
        if (n <= FLOOR_VNET) break;
        size_t ipLen = (size_t)n - FLOOR_VNET;
        memcpy(b + FLOOR_VNET, eth, FLOOR_ETH);
        uint8_t v = b[FLOOR_IP_OFF] >> 4;
        b[FLOOR_VNET + 12] = v == 6 ? 0x86 : 0x08;
        b[FLOOR_VNET + 13] = v == 6 ? 0xdd : 0x00;
        shift_vnet(b, FLOOR_ETH);
        if (send(pkt, b, FLOOR_IP_OFF + ipLen, MSG_DONTWAIT) > 0) toNic++;
      }
    }
    if (pfd[1].revents & POLLIN) {
      for (;;) {
        ssize_t n = recv(pkt, b, FLOOR_IP_OFF + FLOOR_DATA, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        if (n < FLOOR_IP_OFF + 20 || memcmp(b + FLOOR_VNET, own, 6) != 0) continue;
        uint16_t type = (uint16_t)((b[FLOOR_VNET + 12] << 8) | b[FLOOR_VNET + 13]);
        if (type != 0x0800 && type != 0x86dd) continue;
        shift_vnet(b, -FLOOR_ETH);
        struct iovec out[2] = {{b, FLOOR_VNET}, {b + FLOOR_IP_OFF, (size_t)n - FLOOR_IP_OFF}};
        if (writev(tun, out, 2) > 0) toTun++;
      }
    }
  }
  free(b);

  napi_value obj;
  NAPI_CALL(env, napi_create_object(env, &obj));
  ipmp_set_number(env, obj, "toNic", toNic);
  ipmp_set_number(env, obj, "toTun", toTun);
  ipmp_set_number(env, obj, "seconds", t - t0);
  return obj;
}

bool ipmp_register_floor(napi_env env, napi_value exports) {
  return ipmp_export(env, exports, "floorForward", floor_forward);
}
