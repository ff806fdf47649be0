/**
 * Typed face of the native addon (native-bindings/, built by node-gyp).
 *
 * The addon does system calls only; every parse and every decision lives in
 * TypeScript. Set-up calls throw an Error whose message names the call and the
 * errno text. Hot-path calls (batches, sends, receives) never throw: they return
 * a count, or a negative errno.
 *
 * Buffers are allocated once by JS and passed in; the addon never allocates
 * per packet and crosses the JS/native boundary once per batch.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Size of struct virtio_net_hdr (no mergeable buffers). */
export const VNET_HDR_LEN = 10;

export interface TunOpenOptions {
  /** IFF_VNET_HDR, and TUNSETOFFLOAD(TUN_F_CSUM|TUN_F_TSO4|TUN_F_TSO6) when true. */
  vnetHdr: boolean;
  /** IFF_MULTI_QUEUE. */
  multiQueue: boolean;
  /** TUNSETPERSIST after attaching. */
  persist: boolean;
}

export interface TunHandle {
  fd: number;
  ifindex: number;
  name: string;
}

export interface PacketOpenOptions {
  /** PACKET_VNET_HDR. */
  vnetHdr: boolean;
  /** SO_RCVBUFFORCE / SO_SNDBUFFORCE in bytes; 0 leaves the default. */
  rcvbuf: number;
  sndbuf: number;
  /** PACKET_IGNORE_OUTGOING. */
  ignoreOutgoing: boolean;
  /** Classic BPF program: 8 bytes per instruction (u16 code, u8 jt, u8 jf, u32 k, host order). Empty: no filter. */
  filter: Uint8Array;
  /** O_NONBLOCK on the socket. */
  nonblock: boolean;
}

export interface CapState {
  effective: number;
  permitted: number;
  inheritable: number;
  bounding: number;
  ambient: number;
  /** Highest capability number the kernel knows. */
  lastCap: number;
}

export interface NativeAddon {
  // ---- TUN (setup; throws) ----
  tunOpen(name: string, opts: TunOpenOptions): TunHandle;
  /** TUNSETPERSIST. */
  tunSetPersist(fd: number, on: boolean): void;
  /** TUNSETCARRIER. */
  tunSetCarrier(fd: number, on: boolean): void;
  /** TUNSETOFFLOAD with the raw TUN_F_* bit mask. */
  tunSetOffload(fd: number, flags: number): void;

  // ---- AF_PACKET (setup; throws) ----
  /** socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)) bound to ifindex. */
  packetOpen(ifindex: number, opts: PacketOpenOptions): number;
  /** PACKET_ADD_MEMBERSHIP / PACKET_DROP_MEMBERSHIP (PACKET_MR_MULTICAST) for a 6-byte MAC. */
  packetMembership(fd: number, ifindex: number, mac: Uint8Array, add: boolean): void;

  // ---- hot path (never throws; returns count or -errno) ----
  /**
   * Waits up to timeoutMs for the TUN fd to be readable (poll), then reads up to
   * maxPkts packets without blocking. Packet i goes to slot i of buf (slot base
   * i*slotSize): with vnetOff >= 0 it is a readv of VNET_HDR_LEN bytes at
   * base+vnetOff and the rest at base+dataOff; with vnetOff < 0 a plain read at
   * base+dataOff. lens[i] receives the length of the data part (excluding the
   * vnet header). Returns the number of packets (0 on timeout) or -errno.
   * timeoutMs 0 does not poll: it reads what is there (the fd is non-blocking).
   */
  tunReadBatch(fd: number, buf: Uint8Array, slotSize: number, vnetOff: number, dataOff: number,
    maxPkts: number, lens: Int32Array, timeoutMs: number): number;
  /**
   * Writes count packets to the TUN fd. Packet i: when vnetOffs[i] >= 0 a writev of
   * VNET_HDR_LEN bytes at vnetOffs[i] and lens[i] bytes at offs[i]; else a write of
   * lens[i] bytes at offs[i]. Continues past per-packet errors; returns the number
   * written or -errno when none was.
   */
  tunWriteBatch(fd: number, buf: Uint8Array, vnetOffs: Int32Array, offs: Int32Array, lens: Int32Array,
    count: number): number;
  /**
   * Waits up to timeoutMs for any of fds[0..nfds) to be readable (poll), then
   * drains each readable socket with recvmmsg(MSG_DONTWAIT) into consecutive
   * slots of buf (slot base i*slotSize, data written at base+dataOff) until maxPkts.
   * lens[i] = bytes received (vnet header included when the socket has one),
   * srcIdx[i] = index into fds of the socket it came from. Returns count or -errno.
   * timeoutMs 0 does not poll: each socket is tried once without waiting, or only those
   * marked in `ready` (parallel to fds, from the caller's own poll) when it is given.
   */
  packetRecvBatch(fds: Int32Array, nfds: number, buf: Uint8Array, slotSize: number, dataOff: number,
    maxPkts: number, lens: Int32Array, srcIdx: Int32Array, timeoutMs: number, ready?: Uint8Array): number;
  /**
   * Sends count frames: frame i is lens[i] bytes at offs[i] on socket fds[i].
   * Consecutive frames on the same fd go out in one sendmmsg. Returns the number
   * sent or -errno when none was.
   */
  packetSendBatch(fds: Int32Array, buf: Uint8Array, offs: Int32Array, lens: Int32Array, count: number): number;
  /**
   * Waits up to timeoutMs (0: does not wait) for any of fds[0..nfds) to be readable;
   * ready[i] = 1 for each readable one (error and hangup included), else 0.
   * Returns the number ready, 0 on timeout, or -errno.
   */
  pollFds(fds: Int32Array, nfds: number, ready: Uint8Array, timeoutMs: number): number;
  /** One send (MSG_DONTWAIT) of len bytes at off. Returns bytes or -errno. */
  send(fd: number, buf: Uint8Array, off: number, len: number): number;
  /**
   * One recv (MSG_DONTWAIT) into buf at off, at most len bytes. Returns bytes or
   * -errno (-EAGAIN when empty). When tsNs is given (BigInt64Array of 1) it
   * receives the kernel receive timestamp (SO_TIMESTAMPNS, CLOCK_REALTIME ns) or 0.
   */
  recv(fd: number, buf: Uint8Array, off: number, len: number, tsNs?: BigInt64Array): number;

  // ---- netlink (setup throws; send/recv return -errno) ----
  /** socket(AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC, protocol), bound with nl_groups = groups (RTMGRP_* bit mask). */
  netlinkOpen(protocol: number, groups: number): number;
  /** setsockopt NETLINK_ADD_MEMBERSHIP for group numbers above 31 (e.g. RTNLGRP_IPV6_ROUTE). */
  netlinkAddGroup(fd: number, group: number): void;

  // ---- misc ----
  /** Sets SO_TIMESTAMPNS on a socket. Throws. */
  setTimestamping(fd: number, on: boolean): void;
  /** poll() one fd for POLLIN up to timeoutMs. Returns 1 readable, 0 timeout, -errno. */
  pollIn(fd: number, timeoutMs: number): number;
  /**
   * Calls cb() on the main loop whenever fd becomes readable (libuv uv_poll).
   * Returns a watcher id for unwatch. Throws.
   */
  watch(fd: number, cb: () => void): number;
  unwatch(id: number): void;
  /** close(2); returns 0 or -errno. */
  close(fd: number): number;
  /** SO_PEERCRED of a connected UNIX socket fd. Throws. */
  peerCred(fd: number): { pid: number; uid: number; gid: number };
  /** if_nametoindex; 0 when absent. */
  ifNameToIndex(name: string): number;
  /** CLOCK_MONOTONIC in ns. */
  /**
   * CLOCK_MONOTONIC in ms modulo 2^31-1 (an int32, alike in every thread and process; no
   * allocation, unlike performance.now(), which validates its receiver on every call).
   */
  coarseMs(): number;
  /**
   * A connected pair of non-blocking AF_UNIX SOCK_SEQPACKET sockets (one packet per read, as
   * a TUN or packet socket), each with bufBytes of send and receive buffer (0: the defaults).
   */
  socketPair(bufBytes: number): [number, number];
  monotonicNs(): bigint;
  /** Raw errno name for a negative return, e.g. -11 → "EAGAIN". */
  errnoName(negErrno: number): string;
  /** strerror text for a negative return. */
  strerror(negErrno: number): string;

  // ---- the process (setup; throw, except sdNotify) ----
  /**
   * execve(2): returns only on failure (throws). keepFds lose FD_CLOEXEC so the new
   * image inherits them; the calling thread's signal mask is emptied first.
   */
  execve(path: string, argv: string[], env: string[], keepFds: Int32Array): never;
  /** The calling thread's capability sets as bit masks (bit n = capability n). */
  capState(): CapState;
  /** capset(2) of the calling thread. */
  capSet(effective: number, permitted: number, inheritable: number): void;
  /** Drops every capability outside mask from the bounding set (needs CAP_SETPCAP). */
  capBoundingKeep(mask: number): void;
  /** Makes the ambient set exactly mask (each must be permitted and inheritable). */
  capAmbientSet(mask: number): void;
  /** PR_SET_KEEPCAPS of the calling thread. */
  setKeepCaps(on: boolean): void;
  /** TUNGETIFF on an attached TUN descriptor: its interface name and IFF_* flags. */
  tunInfo(fd: number): { name: string; flags: number };
  /** The ifindex an AF_PACKET socket is bound to. Throws for any other descriptor. */
  packetIfindex(fd: number): number;
  /** One sd_notify datagram to path ('@' = abstract namespace). Returns 0 or -errno. */
  sdNotify(path: string, text: string): number;
  /** SO_NETNS_COOKIE of this thread's network namespace (never reused while the system runs). Throws. */
  netnsCookie(): bigint;

  // ---- the benchmark's load generator (never used by the daemon) ----
  /**
   * Sends len-byte UDP datagrams to dst:port with sendmmsg in batches of 64, from `flows`
   * sockets in turn, for `seconds` (at most 120); pps 0 = as fast as the stack takes them.
   * Blocks the calling thread for the whole run. Throws on bad arguments or socket errors.
   */
  udpGenerate(dst: string, port: number, len: number, seconds: number, pps: number, flows: number):
    { sent: number; errors: number; seconds: number };

  // ---- benchmark latency floor (not used by the daemon) ----
  /**
   * A forwarder in C between a TUN (IFF_VNET_HDR) and one NIC's packet socket (PACKET_VNET_HDR),
   * both non-blocking: TUN packets leave framed from ownMac to peerMac, IPv4/IPv6 frames for
   * ownMac go into the TUN. Blocks the calling thread for `seconds` (at most 120), or until
   * stopFd (-1: none) is readable or hung up.
   */
  floorForward(tunFd: number, pktFd: number, ownMac: Uint8Array, peerMac: Uint8Array, seconds: number, stopFd: number):
    { toNic: number; toTun: number; seconds: number };
}

let cached: NativeAddon | undefined;

/** Loads the addon built by node-gyp. Throws a one-line error when it is missing. */
export function loadNative(): NativeAddon {
  if (cached) return cached;
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/src/io → repository root
  const root = join(here, '..', '..', '..');
  const candidates = [
    join(root, 'native-bindings', 'build', 'Release', 'ipmp_native.node'),
    join(root, 'native-bindings', 'build', 'Debug', 'ipmp_native.node'),
  ];
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    throw new Error('native addon not built: run `npm run build:native` (native-bindings/build/Release/ipmp_native.node missing)');
  }
  const require = createRequire(import.meta.url);
  const addon = require(path) as NativeAddon;
  // The newest export: an addon built from older sources lacks it.
  if (typeof addon.socketPair !== 'function') {
    throw new Error(`native addon is older than the code (no socketPair): run \`npm run build:native\` (${path})`);
  }
  cached = addon;
  return cached;
}

/** Common errno values the hot path compares against (x86_64/aarch64 Linux). */
export const E = {
  EPERM: 1, ENOENT: 2, EINTR: 4, EIO: 5, EBADF: 9, EAGAIN: 11, ENOMEM: 12, EBUSY: 16,
  ENODEV: 19, EINVAL: 22, ENOBUFS: 105, EMSGSIZE: 90, ENETDOWN: 100, ENXIO: 6,
} as const;
