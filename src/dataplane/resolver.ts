/**
 * Next-hop resolution for the TX path: sends ARP requests for IPv4 next hops
 * and Neighbour Solicitations (to the solicited-node group) for IPv6 ones.
 * The RX worker hears the replies and writes the neighbour table.
 *
 * A request carries a data address as sender and leaves through the NIC that
 * address is bound to, with that NIC's MAC, so the peer's cache entry for the
 * data address stays consistent with the binding (reference §9.4).
 * Requests are spaced per next hop (the solicit table, which the RX path also
 * reads to recognise answers to them) and limited overall to a budget, so a
 * host that scans its subnet through ipmp0 cannot turn the daemon into a
 * broadcast storm. Off the per-packet path: it runs only on a neighbour miss
 * or a stale entry. No allocation.
 */
import { ETH_OFF, VNET_LEN } from './layout.js';
import { TableReader } from './table-reader.js';
import { Counters, D, X_ARP_REQUESTS, X_REQUESTS_LIMITED } from '../tables/counters.js';
import { SolicitTable } from '../tables/solicits.js';
import { NO_NIC } from '../tables/shared-tables.js';
import type { PacketPort } from '../io/ports.js';
import { ARP_FRAME_LEN, ARP_OP_REQUEST, writeArpBody } from '../wire/arp.js';
import { BROADCAST_MAC, ETHERTYPE_ARP, ZERO_MAC, writeEthHeader } from '../wire/ethernet.js';
import { ND_LL_LEN, writeNeighborSolicit } from '../wire/icmp6-nd.js';

/** Minimum spacing of requests for one next hop while it is unresolved (ms). */
export const RESOLVE_INTERVAL_MS = 1000;
/** Spacing of re-validation requests for a stale entry still in use (ms). */
export const REFRESH_INTERVAL_MS = 5000;
/** Requests overall (ARP and NS): burst, and per second. */
export const REQUEST_BURST = 128;
export const REQUEST_RATE = 500;
const NS_FRAME_LEN = 14 + 40 + ND_LL_LEN;
const WRAP = 0x7fffffff;

export class Resolver {
  private readonly t: TableReader;
  private readonly port: PacketPort;
  private readonly counters: Counters;
  readonly solicits: SolicitTable;
  private readonly frame = new Uint8Array(VNET_LEN + ARP_FRAME_LEN);
  private readonly key4 = new Uint8Array(4);
  private readonly frame6 = new Uint8Array(VNET_LEN + NS_FRAME_LEN);
  private readonly src6 = new Uint8Array(16);
  private tokens = REQUEST_BURST;
  private stamp = -1;

  constructor(t: TableReader, port: PacketPort, counters: Counters, solicits = new SolicitTable()) {
    this.t = t;
    this.port = port;
    this.counters = counters;
    this.solicits = solicits;
  }

  /** Takes a token from the overall request budget; counts the request withheld when there is none. */
  private budget(now: number): boolean {
    if (this.stamp >= 0) {
      this.tokens = Math.min(REQUEST_BURST, this.tokens + (((now - this.stamp + WRAP) % WRAP) * REQUEST_RATE) / 1000);
    }
    this.stamp = now;
    if (this.tokens < 1) { this.counters.extra(X_REQUESTS_LIMITED); return false; }
    this.tokens -= 1;
    return true;
  }

  /** Asks for nh now unless a request went out within `interval` ms. Returns false when none could be sent. */
  request4(nh: number, srcHint: number, now: number, interval = RESOLVE_INTERVAL_MS): boolean {
    const k = this.key4;
    k[0] = nh >>> 24; k[1] = (nh >>> 16) & 0xff; k[2] = (nh >>> 8) & 0xff; k[3] = nh & 0xff;
    const age = this.solicits.age(4, k, 0, now);
    if (age >= 0 && age < interval) return true;
    const a = this.senderIndex(nh, srcHint);
    if (a < 0) { this.counters.drop(D.neigh_unresolved); return false; }
    const nic = this.t.addr4Bound[a];
    if (nic === NO_NIC || !this.t.nicActive[nic]) return false;
    if (!this.budget(now)) return false;
    const f = this.frame;
    f.fill(0, 0, VNET_LEN);
    writeEthHeader(f, ETH_OFF - 0, BROADCAST_MAC, 0, this.t.nicMac, nic * 6, ETHERTYPE_ARP);
    writeArpBody(f, ETH_OFF + 14, ARP_OP_REQUEST, this.t.nicMac, nic * 6, this.t.addr4[a], ZERO_MAC, 0, nh);
    const r = this.port.send(this.t.nicFd[nic], f, 0, f.length);
    if (r < 0) { this.counters.drop(D.send_error); return false; }
    this.solicits.record(4, k, 0, now);
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

  /**
   * Solicits the IPv6 next hop at nh[nhOff] unless a solicitation went out
   * within `interval` ms: an NS to its solicited-node group from a data
   * address (the packet's source at src[srcOff] when it is a bound one), via
   * the NIC that address is bound to, with that NIC's MAC in the source
   * link-layer option. Returns false when none could be sent.
   */
  request6(nh: Uint8Array, nhOff: number, src: Uint8Array, srcOff: number, now: number, interval = RESOLVE_INTERVAL_MS): boolean {
    const age = this.solicits.age(6, nh, nhOff, now);
    if (age >= 0 && age < interval) return true;
    const t = this.t;
    const a = this.senderIndex6(nh, nhOff, src, srcOff);
    if (a < 0) { this.counters.drop(D.neigh_unresolved); return false; }
    const nic = t.addr6Bound[a];
    if (nic === NO_NIC || !t.nicActive[nic]) return false;
    if (!this.budget(now)) return false;
    t.addr6Bytes(a, this.src6, 0);
    const f = this.frame6;
    f.fill(0, 0, VNET_LEN);
    const n = writeNeighborSolicit(f, VNET_LEN, t.nicMac, nic * 6, this.src6, 0, nh, nhOff);
    const r = this.port.send(t.nicFd[nic], f, 0, VNET_LEN + n);
    if (r < 0) { this.counters.drop(D.send_error); return false; }
    this.solicits.record(6, nh, nhOff, now);
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
