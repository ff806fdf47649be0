/**
 * JIT warm-up of a forwarding worker's paths.
 *
 * V8 optimises a function for the value types and branches it has seen. A packet of a kind the
 * optimised code has not met (the first ping after an hour of TCP, an IPv6 frame on an IPv4
 * link, a flow whose hash leaves the small-integer range) deoptimises it, and the function runs
 * unoptimised until it has been hot again for thousands of calls: at a low packet rate, seconds
 * of slower forwarding that touches more memory, which is what a sparse packet pays for most
 * (`bench/dataplane/cold.bench.ts`, the ping rows of `ipmp bench`).
 *
 * From its start, whenever a pass finds nothing to forward, a worker runs a slice of WarmUp: its
 * loop and paths over local sockets with private tables, neighbour table and counters (nothing
 * reaches a network device, no shared state changes), through a mix of the packets a group
 * carries: TCP, UDP and ICMP echo over IPv4 and IPv6, unicast, via a gateway, multicast and
 * broadcast, GSO super-packets, fragments; ARP, NS and NA; and frames the RX path drops. The
 * real loop, paths and ports are the same classes and the same port objects, so they start with
 * complete type feedback and optimised code.
 */
import { VNET_LEN } from './layout.js';
import { BothLoop } from './both-loop.js';
import { RxPath } from './rx-path.js';
import { TxPath } from './tx-path.js';
import type { NativeAddon } from '../io/native.js';
import type { NativeTunPort } from '../io/native-ports.js';
import type { PacketPort } from '../io/ports.js';
import { ConflictRing } from '../tables/conflicts.js';
import { Counters } from '../tables/counters.js';
import { NEIGH_EXPIRE_MS, NEIGH_STALE_MS, NeighbourTable, coarseNowMs } from '../tables/neighbours.js';
import { TablesView, TablesWriter } from '../tables/shared-tables.js';
import { SolicitTable } from '../tables/solicits.js';
import { buildArpReply, buildArpRequest, buildGratuitousArp } from '../wire/arp.js';
import { wr16 } from '../wire/bytes.js';
import { inetChecksum, l4Checksum4, l4Checksum6 } from '../wire/checksum.js';
import { ETH_HLEN, ETHERTYPE_IPV4, ETHERTYPE_IPV6, writeEthHeader } from '../wire/ethernet.js';
import { buildNeighborAdvert, buildNeighborSolicit, NA_FLAG_SOLICITED } from '../wire/icmp6-nd.js';
import { parseIpv4, writeIpv4Header } from '../wire/ipv4.js';
import { parseIpv6 } from '../wire/ipv6-text.js';
import { writeIpv6Header, writeMulticastMac6 } from '../wire/ipv6.js';
import { IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP } from '../wire/l4.js';
import { VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4 } from '../wire/vnet.js';

/**
 * Steps (a TX and an RX batch each) of a full warm-up. By about 1500 the loop, both paths, the
 * flow hash and the wire functions run optimised (node --trace-opt); it costs about 0.25 s of CPU
 * on this project's 2-core test machines, spent in slices while the worker is idle.
 */
export const WARMUP_STEPS = 1500;
/** Steps per slice: about 1.5 ms, the longest a real packet waits behind the warm-up. */
export const WARMUP_SLICE = 8;

const MAC0 = new Uint8Array([0x02, 0, 0, 0, 0, 0x0a]);
const MAC1 = new Uint8Array([0x02, 0, 0, 0, 0, 0x0b]);
const PEER_MAC = new Uint8Array([0x02, 0, 0, 0, 0, 0x50]);
const OTHER_MAC = new Uint8Array([0x02, 0, 0, 0, 0, 0x60]);
const ADDR0 = parseIpv4('198.18.0.10');
const ADDR1 = parseIpv4('198.18.0.11');
const PEER = parseIpv4('198.18.0.50');
const GW = parseIpv4('198.18.0.1');
const ADDR6 = parseIpv6('2001:db8::10');
const PEER6 = parseIpv6('2001:db8::50');
const ALL_NODES6 = parseIpv6('ff02::1');

function key4(a: number): Uint8Array {
  return new Uint8Array([a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff]);
}

/** An IPv4 packet with an L4 header of l4Len bytes (filled by the caller) and `payload` bytes. */
function ip4(proto: number, src: number, dst: number, l4Len: number, payload: number): Uint8Array {
  const total = 20 + l4Len + payload;
  const b = new Uint8Array(total);
  writeIpv4Header(b, 0, total, 1, 64, proto, src, dst);
  return b;
}

/** An IPv6 packet with an L4 header of l4Len bytes (filled by the caller) and `payload` bytes. */
function ip6(next: number, src: Uint8Array, dst: Uint8Array, l4Len: number, payload: number): Uint8Array {
  const b = new Uint8Array(40 + l4Len + payload);
  writeIpv6Header(b, 0, l4Len + payload, next, 64, src, 0, dst, 0);
  return b;
}

/** Writes a TCP (ACK) or UDP header at l4 of b, with the checksum `sum` gives for it. */
function fillPorts(b: Uint8Array, l4: number, proto: number, sport: number, dport: number, sum: (b: Uint8Array) => number): Uint8Array {
  const tcp = proto === IPPROTO_TCP;
  wr16(b, l4, sport);
  wr16(b, l4 + 2, dport);
  if (tcp) { b[l4 + 12] = 0x50; b[l4 + 13] = 0x10; wr16(b, l4 + 14, 65535); } else wr16(b, l4 + 4, b.length - l4);
  wr16(b, l4 + (tcp ? 16 : 6), sum(b) || 0xffff);
  return b;
}

/** Writes an ICMP or ICMPv6 header of `type` (echo id and sequence) at l4 of b, with the checksum `sum` gives. */
function fillIcmp(b: Uint8Array, l4: number, type: number, id: number, seq: number, sum: (b: Uint8Array) => number): Uint8Array {
  b[l4] = type;
  wr16(b, l4 + 4, id);
  wr16(b, l4 + 6, seq);
  wr16(b, l4 + 2, sum(b));
  return b;
}

function ports4(proto: number, src: number, dst: number, sport: number, dport: number, payload: number): Uint8Array {
  return fillPorts(ip4(proto, src, dst, proto === IPPROTO_TCP ? 20 : 8, payload), 20, proto, sport, dport,
    (b) => l4Checksum4(b, 0, 20, b.length - 20, proto));
}

function echo4(src: number, dst: number, type: number, id: number, seq: number): Uint8Array {
  return fillIcmp(ip4(IPPROTO_ICMP, src, dst, 8, 56), 20, type, id, seq, (b) => inetChecksum(b, 20, b.length - 20));
}

function ports6(proto: number, src: Uint8Array, dst: Uint8Array, sport: number, dport: number, payload: number): Uint8Array {
  return fillPorts(ip6(proto, src, dst, proto === IPPROTO_TCP ? 20 : 8, payload), 40, proto, sport, dport,
    (b) => l4Checksum6(b, 0, 40, b.length - 40, proto));
}

function echo6(src: Uint8Array, dst: Uint8Array, type: number, id: number, seq: number): Uint8Array {
  return fillIcmp(ip6(IPPROTO_ICMPV6, src, dst, 8, 56), 40, type, id, seq, (b) => l4Checksum6(b, 0, 40, b.length - 40, IPPROTO_ICMPV6));
}

/** An Ethernet frame around an IP packet. */
function frame(dst: Uint8Array, src: Uint8Array, pkt: Uint8Array): Uint8Array {
  const f = new Uint8Array(ETH_HLEN + pkt.length);
  writeEthHeader(f, 0, dst, 0, src, 0, (pkt[0] >> 4) === 6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4);
  f.set(pkt, ETH_HLEN);
  return f;
}

interface TxItem { pkt: Uint8Array; vnet: Uint8Array | null }
interface RxItem { frame: Uint8Array; nic: number }

/** What the TUN hands the TX path: IP packets, a few with a GSO vnet header. */
function txMix(): TxItem[] {
  const out: TxItem[] = [];
  const add = (pkt: Uint8Array, vnet: Uint8Array | null = null): void => { out.push({ pkt, vnet }); };
  // Flows spread over the whole hash range (both signs of a 32-bit hash).
  for (let f = 0; f < 16; f++) {
    add(ports4(IPPROTO_TCP, ADDR0, PEER, 40000 + f * 997, 5201, 1400));
    add(ports4(IPPROTO_UDP, ADDR1, PEER, 50000 + f * 131, 9, 36));
    add(echo4(ADDR0, PEER, 8, 1000 + f * 37, f));
    add(ports6(IPPROTO_TCP, ADDR6, PEER6, 40000 + f * 997, 5201, 1200));
    add(ports6(IPPROTO_UDP, ADDR6, PEER6, 50000 + f * 131, 9, 36));
    add(echo6(ADDR6, PEER6, 128, 1000 + f * 37, f));
  }
  add(ports4(IPPROTO_TCP, ADDR0, parseIpv4('198.19.0.5'), 40001, 443, 100));
  add(ports4(IPPROTO_UDP, ADDR0, parseIpv4('224.0.0.251'), 5353, 5353, 40));
  add(ports4(IPPROTO_UDP, ADDR0, 0xffffffff, 68, 67, 40));
  add(ports4(IPPROTO_UDP, ADDR0, parseIpv4('198.18.0.255'), 137, 137, 40));
  add(ports6(IPPROTO_UDP, ADDR6, ALL_NODES6, 521, 521, 40));
  const unreach = echo4(ADDR0, PEER, 3, 0, 0);
  add(unreach);
  const frag = ports4(IPPROTO_UDP, ADDR0, PEER, 40002, 9, 1000);
  wr16(frag, 6, 0x2000);
  add(frag);
  // A TCP super-packet with checksum offload, as a peer using TSO writes into the TUN.
  const gso = ports4(IPPROTO_TCP, ADDR0, PEER, 40003, 5201, 8000);
  const v = new Uint8Array(VNET_LEN);
  v[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  v[1] = VIRTIO_NET_HDR_GSO_TCPV4;
  wr16le(v, 2, 40);
  wr16le(v, 4, 1448);
  wr16le(v, 6, 20);
  wr16le(v, 8, 16);
  add(gso, v);
  add(new Uint8Array([0x45, 0, 0]));
  // ND and MLD the host's kernel sends through ipmp0 (dropped: the daemon does its own).
  for (const type of [133, 135, 136, 143]) add(echo6(ADDR6, ALL_NODES6, type, 0, 0));
  // Next hops the neighbour table does not know (resolved by the RX mix's answers) or holds stale.
  for (let i = 0; i < UNKNOWN; i++) {
    add(ports4(IPPROTO_UDP, ADDR0, UNKNOWN4 + i, 40000 + i, 9, 20));
    add(ports6(IPPROTO_UDP, ADDR6, unknown6(i), 40000 + i, 9, 20));
  }
  add(ports4(IPPROTO_UDP, ADDR0, STALE4, 40000, 9, 20));
  return out;
}

/** Next hops the warm-up's neighbour table starts without (198.18.0.100 on, 2001:db8::100 on). */
const UNKNOWN = 4;
const UNKNOWN4 = parseIpv4('198.18.0.100');
const STALE4 = parseIpv4('198.18.0.99');

function unknown6(i: number): Uint8Array {
  const a = parseIpv6('2001:db8::100');
  a[15] += i;
  return a;
}

function wr16le(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
}

/** What the NICs' packet sockets hand the RX path. */
function rxMix(): RxItem[] {
  const out: RxItem[] = [];
  const add = (f: Uint8Array, nic = 0): void => { out.push({ frame: f, nic }); };
  for (let f = 0; f < 16; f++) {
    add(frame(MAC0, PEER_MAC, ports4(IPPROTO_TCP, PEER, ADDR0, 5201, 40000 + f * 997, f & 1 ? 0 : 1400)));
    add(frame(MAC1, PEER_MAC, ports4(IPPROTO_UDP, PEER, ADDR1, 9, 50000 + f * 131, 36)), 1);
    add(frame(MAC0, PEER_MAC, echo4(PEER, ADDR0, 0, 1000 + f * 37, f)));
    add(frame(MAC0, PEER_MAC, ports6(IPPROTO_TCP, PEER6, ADDR6, 5201, 40000 + f * 997, 0)));
    add(frame(MAC0, PEER_MAC, echo6(PEER6, ADDR6, 129, 1000 + f * 37, f)));
  }
  add(buildArpRequest(PEER_MAC, PEER, ADDR0));
  add(buildArpReply(PEER_MAC, PEER, MAC0, ADDR0));
  add(buildGratuitousArp(PEER_MAC, PEER));
  add(frame(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), PEER_MAC, ports4(IPPROTO_UDP, PEER, parseIpv4('198.18.0.255'), 137, 137, 40)));
  const mc = new Uint8Array(6);
  writeMulticastMac6(ALL_NODES6, 0, mc, 0);
  add(frame(mc, PEER_MAC, ports6(IPPROTO_UDP, PEER6, ALL_NODES6, 521, 521, 40)));
  add(buildNeighborSolicit(PEER_MAC, PEER6, ADDR6));
  add(buildNeighborAdvert(PEER_MAC, PEER6, MAC0, ADDR6, NA_FLAG_SOLICITED));
  add(frame(MAC0, MAC1, ports4(IPPROTO_UDP, ADDR1, PEER, 1, 2, 10)));
  add(frame(OTHER_MAC, PEER_MAC, ports4(IPPROTO_UDP, PEER, ADDR0, 1, 2, 10)));
  for (let i = 0; i < UNKNOWN; i++) {
    add(buildArpReply(PEER_MAC, UNKNOWN4 + i, MAC0, ADDR0));
    add(buildNeighborAdvert(PEER_MAC, unknown6(i), MAC0, ADDR6, NA_FLAG_SOLICITED));
  }
  return out;
}

/**
 * A neighbour table as a busy link fills it: FILLER IPv4 and IPv6 entries, so lookups also walk
 * past other keys, and one entry old enough to be re-resolved.
 */
const FILLER = 300;

function fillNeighbours(neigh: NeighbourTable, now: number): void {
  for (let i = 0; i < FILLER; i++) {
    neigh.update(4, key4(parseIpv4('198.18.2.0') + i), 0, OTHER_MAC, 0, now);
    const a = parseIpv6('2001:db8::2:0');
    a[14] = i >> 8;
    a[15] = i & 0xff;
    neigh.update(6, a, 0, OTHER_MAC, 0, now);
  }
  neigh.update(4, key4(STALE4), 0, PEER_MAC, 0, now - 2 * NEIGH_STALE_MS);
}

/**
 * Private tables: two active NICs on the given sockets, IPv4 and IPv6 data addresses and routes.
 * `flip` exchanges the NICs' buckets, so a republished table changes what the readers copy.
 */
function publishTables(writer: TablesWriter, fd0: number, fd1: number, flip: boolean): void {
  writer.update((w) => {
    w.setNic({ slot: 0, ifindex: 2, fd: fd0, present: true, active: true, mtu: 1500, mac: MAC0 });
    w.setNic({ slot: 1, ifindex: 3, fd: fd1, present: true, active: true, mtu: 1500, mac: MAC1 });
    const buckets = new Uint8Array(256);
    for (let i = 0; i < 256; i++) buckets[i] = flip ? 1 - (i & 1) : i & 1;
    w.setBuckets(buckets);
    w.setNominee(0);
    w.setCarrier(true);
    w.setAddresses([
      { family: 4, ip: key4(ADDR0), plen: 24, bound: 0 },
      { family: 4, ip: key4(ADDR1), plen: 24, bound: 1 },
      { family: 6, ip: ADDR6, plen: 64, bound: 0 },
    ]);
    w.setRoutes([
      { family: 4, dst: key4(parseIpv4('198.18.0.0')), plen: 24, gateway: null, metric: 0 },
      { family: 4, dst: key4(parseIpv4('198.19.0.0')), plen: 24, gateway: key4(GW), metric: 0 },
      { family: 6, dst: parseIpv6('2001:db8::'), plen: 64, gateway: null, metric: 0 },
    ]);
  });
}

/** Send/receive buffer of each local socket: room for a batch of the largest warm-up packets. */
const PAIR_BUF = 1 << 20;

/** The warm-up's view of a forwarding worker: which paths it runs. */
export type WarmRole = 'both' | 'tx' | 'rx';

/**
 * Runs a worker's paths over local sockets: the same classes (TxPath, RxPath, BothLoop) and
 * the same port objects as the real ones, with AF_UNIX SOCK_SEQPACKET pairs standing in for
 * the TUN and the NICs' packet sockets, so the system calls are real and nothing reaches a
 * network device. step() runs a slice, so the worker can forward real
 * packets between slices; the sockets are closed when the last step has run (or on close()).
 */
export class WarmUp {
  /** Packets the TX path sent to the local NIC sockets. */
  txSent = 0;
  /** Packets the RX path wrote to the local TUN socket. */
  rxDelivered = 0;
  steps = 0;
  private readonly pairs: [number, number][] = [];
  private readonly tunEnd: number;
  private readonly tunPeer: number;
  private readonly nicPeers: number[];
  private readonly neigh = new NeighbourTable();
  private readonly writer: TablesWriter;
  // Released by close(), so a worker that has finished its warm-up does not keep them.
  private tx: TxPath | null;
  private rx: RxPath | null;
  private loop: BothLoop | null;
  private txMsgs: Uint8Array[];
  private rxMsgs: { msg: Uint8Array; nic: number }[];
  private readonly drainFds: Int32Array;
  private drainBuf = new Uint8Array(DRAIN_BATCH * DRAIN_SLOT);
  private readonly drainLens = new Int32Array(DRAIN_BATCH);
  private readonly drainSrc = new Int32Array(DRAIN_BATCH);
  private nextTx = 0;
  private nextRx = 0;
  private closed = false;

  /**
   * `tun` and `port`: the worker's own port objects. The warm-up's paths call the very functions
   * the real ones do (an optimised call site checks its target); the TUN port is pointed at a
   * local socket during each slice and back at the TUN after it.
   */
  constructor(private readonly native: NativeAddon, role: WarmRole, private readonly tun: NativeTunPort,
    port: PacketPort, private readonly total = WARMUP_STEPS) {
    try {
      for (let i = 0; i < 3; i++) this.pairs.push(native.socketPair(PAIR_BUF));
    } catch (e) {
      this.close();
      throw e;
    }
    const [tunEnd, tunPeer] = this.pairs[0];
    this.tunEnd = tunEnd;
    this.tunPeer = tunPeer;
    this.nicPeers = [this.pairs[1][1], this.pairs[2][1]];
    const view = new TablesView();
    this.writer = new TablesWriter(view);
    publishTables(this.writer, this.pairs[1][0], this.pairs[2][0], false);
    fillNeighbours(this.neigh, coarseNowMs());
    const solicits = new SolicitTable();
    this.tx = role === 'rx' ? null : new TxPath(view, this.neigh, new Counters(), this.tun, port, solicits);
    this.rx = role === 'tx' ? null : new RxPath(view, this.neigh, new Counters(), this.tun, port, new ConflictRing(), solicits);
    this.loop = this.tx && this.rx ? new BothLoop(native, this.tx, this.rx, tunEnd) : null;
    this.txMsgs = txMix().map((it) => message(it.vnet ?? new Uint8Array(VNET_LEN), it.pkt));
    this.rxMsgs = rxMix().map((it) => ({ msg: message(new Uint8Array(VNET_LEN), it.frame), nic: it.nic }));
    this.drainFds = new Int32Array([tunPeer, this.nicPeers[0], this.nicPeers[1]]);
  }

  /** True once every step has run. */
  get done(): boolean {
    return this.closed;
  }

  /** Runs up to n more steps; returns true while there are steps left. */
  step(n: number): boolean {
    if (this.closed) return false;
    const realFd = this.tun.fd;
    this.tun.fd = this.tunEnd;
    try {
      this.runSteps(n);
    } finally {
      this.tun.fd = realFd;
    }
    if (this.steps >= this.total) this.close();
    return !this.closed;
  }

  private runSteps(n: number): void {
    const native = this.native;
    for (let k = 0; k < n && this.steps < this.total; k++, this.steps++) {
      // Now and then a new generation of the tables, as the daemon publishes on every change.
      if (this.steps % 200 === 199) publishTables(this.writer, this.pairs[1][0], this.pairs[2][0], (this.steps / 200 & 1) === 0);
      // Known neighbours, so TX frames rather than queues; refreshed, as the table ages them.
      if ((this.steps & 255) === 0) {
        const now = coarseNowMs();
        this.neigh.update(4, key4(PEER), 0, PEER_MAC, 0, now);
        this.neigh.update(4, key4(GW), 0, PEER_MAC, 0, now);
        this.neigh.update(6, PEER6, 0, PEER_MAC, 0, now);
      }
      // Batches of 1 to 8 packets, so both the single-packet and the batch shapes are seen.
      const size = 1 + (this.steps % 8);
      if (this.tx) {
        for (let i = 0; i < size; i++, this.nextTx = (this.nextTx + 1) % this.txMsgs.length) {
          if (this.nextTx === 0) this.forgetUnknown();
          const m = this.txMsgs[this.nextTx];
          native.send(this.tunPeer, m, 0, m.length);
        }
      }
      if (this.rx) {
        for (let i = 0; i < size; i++, this.nextRx = (this.nextRx + 1) % this.rxMsgs.length) {
          const m = this.rxMsgs[this.nextRx];
          native.send(this.nicPeers[m.nic], m.msg, 0, m.msg.length);
        }
      }
      if (this.loop) this.loop.pass(0);
      else if (this.tx) this.tx.runOnce(0);
      else if (this.rx) this.rx.runOnce(0);
      this.drain();
    }
  }

  /**
   * Ages the mix's unknown next hops out of the neighbour table, so every round of the TX mix
   * meets them unresolved again (queued, solicited, then sent once the RX mix answers).
   */
  private forgetUnknown(): void {
    const old = coarseNowMs() - 2 * NEIGH_EXPIRE_MS;
    for (let i = 0; i < UNKNOWN; i++) {
      this.neigh.update(4, key4(UNKNOWN4 + i), 0, PEER_MAC, 0, old);
      this.neigh.update(6, unknown6(i), 0, PEER_MAC, 0, old);
    }
  }

  /** Closes the local sockets (also before the last step). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [a, b] of this.pairs) { this.native.close(a); this.native.close(b); }
    this.tx = this.rx = this.loop = null;
    this.txMsgs = [];
    this.rxMsgs = [];
    this.drainBuf = new Uint8Array(0);
  }

  private drain(): void {
    for (;;) {
      const got = this.native.packetRecvBatch(this.drainFds, 3, this.drainBuf, DRAIN_SLOT, 0, DRAIN_BATCH, this.drainLens, this.drainSrc, 0);
      if (got <= 0) return;
      for (let i = 0; i < got; i++) {
        if (this.drainSrc[i] === 0) this.rxDelivered++;
        else this.txSent++;
      }
    }
  }
}

/** Largest message the warm-up drains (its GSO packet with headers), and messages per drain call. */
const DRAIN_SLOT = 16384;
const DRAIN_BATCH = 16;

function message(vnet: Uint8Array, body: Uint8Array): Uint8Array {
  const m = new Uint8Array(VNET_LEN + body.length);
  m.set(vnet.subarray(0, VNET_LEN));
  m.set(body, VNET_LEN);
  return m;
}
