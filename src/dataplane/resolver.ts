/**
 * Next-hop resolution for the TX path: sends ARP requests for IPv4 next hops
 * and Neighbour Solicitations (to the solicited-node group) for IPv6 ones.
 * The RX worker hears the replies and writes the neighbour table.
 *
 * A request carries a data address as sender and leaves through the NIC that
 * address is bound to, with that NIC's MAC, so the peer's cache entry for the
 * data address stays consistent with the binding (reference §9.4).
 * Requests are rate-limited per next hop. Off the per-packet path: it runs only
 * on a neighbour miss or a stale entry.
 */
import { ETH_OFF, VNET_LEN } from './layout.js';
import { TableReader } from './table-reader.js';
import { Counters, D, X_ARP_REQUESTS } from '../tables/counters.js';
import { NO_NIC } from '../tables/shared-tables.js';
import type { PacketPort } from '../io/ports.js';
import { ARP_FRAME_LEN, ARP_OP_REQUEST, writeArpBody } from '../wire/arp.js';
import { BROADCAST_MAC, ETHERTYPE_ARP, ZERO_MAC, writeEthHeader } from '../wire/ethernet.js';
import { ND_LL_LEN, writeNeighborSolicit } from '../wire/icmp6-nd.js';
import { ipv6Equals } from '../wire/ipv6.js';

/** Minimum spacing of requests for one next hop while it is unresolved (ms). */
export const RESOLVE_INTERVAL_MS = 1000;
/** Spacing of re-validation requests for a stale entry still in use (ms). */
export const REFRESH_INTERVAL_MS = 5000;
const MAX_TRACKED = 4096;
/** IPv6 next hops whose last solicitation time is remembered (oldest slot reused). */
const TRACKED6 = 64;
const NS_FRAME_LEN = 14 + 40 + ND_LL_LEN;

export class Resolver {
  private readonly t: TableReader;
  private readonly port: PacketPort;
  private readonly counters: Counters;
  private readonly frame = new Uint8Array(VNET_LEN + ARP_FRAME_LEN);
  private readonly lastSent = new Map<number, number>();
  private readonly frame6 = new Uint8Array(VNET_LEN + NS_FRAME_LEN);
  private readonly src6 = new Uint8Array(16);
  private readonly sent6Key = new Uint8Array(TRACKED6 * 16);
  private readonly sent6At = new Float64Array(TRACKED6);
  private sent6Next = 0;

  constructor(t: TableReader, port: PacketPort, counters: Counters) {
    this.t = t;
    this.port = port;
    this.counters = counters;
  }

  /** Asks for nh now unless a request went out within `interval` ms. Returns false when none could be sent. */
  request4(nh: number, srcHint: number, now: number, interval = RESOLVE_INTERVAL_MS): boolean {
    const last = this.lastSent.get(nh);
    if (last !== undefined && now - last >= 0 && now - last < interval) return true;
    const a = this.senderIndex(nh, srcHint);
    if (a < 0) { this.counters.drop(D.neigh_unresolved); return false; }
    const nic = this.t.addr4Bound[a];
    if (nic === NO_NIC || !this.t.nicActive[nic]) return false;
    const f = this.frame;
    f.fill(0, 0, VNET_LEN);
    writeEthHeader(f, ETH_OFF - 0, BROADCAST_MAC, 0, this.t.nicMac, nic * 6, ETHERTYPE_ARP);
    writeArpBody(f, ETH_OFF + 14, ARP_OP_REQUEST, this.t.nicMac, nic * 6, this.t.addr4[a], ZERO_MAC, 0, nh);
    const r = this.port.send(this.t.nicFd[nic], f, 0, f.length);
    if (r < 0) { this.counters.drop(D.send_error); return false; }
    if (this.lastSent.size >= MAX_TRACKED) this.lastSent.clear();
    this.lastSent.set(nh, now);
    this.counters.extra(X_ARP_REQUESTS);
    return true;
  }

  /** Re-validates a stale entry: one request per REFRESH_INTERVAL_MS, sender from the packet's source. */
  refresh4(nh: number, b: Uint8Array, ip: number, now: number): void {
    const src = ((b[ip + 12] << 24) | (b[ip + 13] << 16) | (b[ip + 14] << 8) | b[ip + 15]) >>> 0;
    this.request4(nh, src, now, REFRESH_INTERVAL_MS);
  }

  /** The data address to send as: the packet's source if it is one and bound, else a bound one on nh's subnet, else any bound one. */
  private senderIndex(nh: number, srcHint: number): number {
    const t = this.t;
    const hint = t.findAddr4(srcHint);
    if (hint >= 0 && t.addr4Bound[hint] !== NO_NIC) return hint;
    let any = -1;
    for (let i = 0; i < t.addr4Count; i++) {
      if (t.addr4Bound[i] === NO_NIC) continue;
      if (((t.addr4[i] & t.addr4Mask[i]) >>> 0) === ((nh & t.addr4Mask[i]) >>> 0)) return i;
      if (any < 0) any = i;
    }
    return any;
  }

  forget(nh: number): void {
    this.lastSent.delete(nh);
  }

  /**
   * Solicits the IPv6 next hop at nh[nhOff] unless a solicitation went out
   * within `interval` ms: an NS to its solicited-node group from a data
   * address (the packet's source at src[srcOff] when it is a bound one), via
   * the NIC that address is bound to, with that NIC's MAC in the source
   * link-layer option. Returns false when none could be sent.
   */
  request6(nh: Uint8Array, nhOff: number, src: Uint8Array, srcOff: number, now: number, interval = RESOLVE_INTERVAL_MS): boolean {
    let slot = -1;
    for (let i = 0; i < TRACKED6; i++) {
      if (this.sent6At[i] !== 0 && ipv6Equals(this.sent6Key, i * 16, nh, nhOff)) { slot = i; break; }
    }
    if (slot >= 0) {
      const last = this.sent6At[slot];
      if (now - last >= 0 && now - last < interval) return true;
    }
    const t = this.t;
    const a = this.senderIndex6(nh, nhOff, src, srcOff);
    if (a < 0) { this.counters.drop(D.neigh_unresolved); return false; }
    const nic = t.addr6Bound[a];
    if (nic === NO_NIC || !t.nicActive[nic]) return false;
    t.addr6Bytes(a, this.src6, 0);
    const f = this.frame6;
    f.fill(0, 0, VNET_LEN);
    const n = writeNeighborSolicit(f, VNET_LEN, t.nicMac, nic * 6, this.src6, 0, nh, nhOff);
    const r = this.port.send(t.nicFd[nic], f, 0, VNET_LEN + n);
    if (r < 0) { this.counters.drop(D.send_error); return false; }
    if (slot < 0) {
      slot = this.sent6Next;
      this.sent6Next = (this.sent6Next + 1) % TRACKED6;
      for (let j = 0; j < 16; j++) this.sent6Key[slot * 16 + j] = nh[nhOff + j];
    }
    this.sent6At[slot] = now === 0 ? 1 : now;
    this.counters.extra(X_ARP_REQUESTS);
    return true;
  }

  /** Re-validates a stale IPv6 entry: one solicitation per REFRESH_INTERVAL_MS. */
  refresh6(nh: Uint8Array, nhOff: number, b: Uint8Array, ip6: number, now: number): void {
    this.request6(nh, nhOff, b, ip6 + 8, now, REFRESH_INTERVAL_MS);
  }

  /** The IPv6 data address to solicit from: the hint if bound, else a bound one on nh's prefix, else any bound one. */
  private senderIndex6(nh: Uint8Array, nhOff: number, src: Uint8Array, srcOff: number): number {
    const t = this.t;
    const hint = t.findAddr6(src, srcOff);
    if (hint >= 0 && t.addr6Bound[hint] !== NO_NIC) return hint;
    let any = -1;
    for (let i = 0; i < t.addr6Count; i++) {
      if (t.addr6Bound[i] === NO_NIC) continue;
      if (t.onLink6(i, nh, nhOff)) return i;
      if (any < 0) any = i;
    }
    return any;
  }
}
