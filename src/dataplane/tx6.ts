/**
 * TX, IPv6 branch: frames one IPv6 packet read from ipmp0 in place.
 *
 *   validate → ND/MLD from the kernel? drop → multicast? nominee, 33:33:xx:xx:xx:xx
 *            → else flow bucket → NIC, next hop (nextHop6), neighbour (family 6)
 *            → miss: queue + Neighbour Solicitation (pending.ts, resolver.ts)
 *
 * ipmp0 has no link layer, so the kernel's own Neighbour Discovery, router
 * solicitations and MLD reports that reach the TUN are not forwarded: the
 * daemon does ND itself for the data addresses, and multicast membership is
 * the nominee's packet-socket membership (reference §9.5, §16).
 */
import { flowBucket } from './flowhash.js';
import { ETH_OFF, IP_OFF, VNET_OFF } from './layout.js';
import { TableReader } from './table-reader.js';
import { PendingQueue } from './pending.js';
import { Resolver } from './resolver.js';
import { Counters, D } from '../tables/counters.js';
import { LOOKUP_FRESH, LOOKUP_MISS, NeighbourTable } from '../tables/neighbours.js';
import { NO_NIC } from '../tables/shared-tables.js';
import { ETHERTYPE_IPV6 } from '../wire/ethernet.js';
import { IPV6_DST, newIpv6Walk, validateIpv6, walkExtHeaders } from '../wire/ipv6.js';
import { IPPROTO_ICMPV6 } from '../wire/l4.js';
import { shiftVnetOffsets, vnetIsGso } from '../wire/vnet.js';

/**
 * ICMPv6 types the daemon does not forward from the TUN: MLD query, report,
 * done (130–132), router/neighbour solicitation and advertisement, redirect
 * (133–137), MLDv2 report (143).
 */
export function isLocalControl6(type: number): boolean {
  return (type >= 130 && type <= 137) || type === 143;
}

export class Tx6 {
  private readonly walk = newIpv6Walk();
  private readonly nh = new Uint8Array(16);

  constructor(
    private readonly t: TableReader,
    private readonly neigh: NeighbourTable,
    private readonly counters: Counters,
    private readonly pending: PendingQueue,
    private readonly resolver: Resolver,
  ) {}

  /**
   * Frames the IPv6 packet in slot `base` of b (len bytes of IP). Returns the
   * NIC slot to send it on, or -1 when it was dropped or queued.
   */
  frame(b: Uint8Array, base: number, len: number, now: number): number {
    const t = this.t;
    const ip = base + IP_OFF;
    if (validateIpv6(b, ip, len) < 0) { this.counters.drop(D.malformed); return -1; }
    const proto = walkExtHeaders(b, ip, len, this.walk);
    if (proto < 0) { this.counters.drop(D.malformed); return -1; }
    if (proto === IPPROTO_ICMPV6 && !this.walk.isFragment && this.walk.l4Len > 0 && isLocalControl6(b[this.walk.l4Off])) {
      this.counters.drop(D.unsupported);
      return -1;
    }
    if (!t.carrier) { this.counters.drop(D.no_active_nic); return -1; }
    const eth = base + ETH_OFF;
    const dst = ip + IPV6_DST;
    let nic: number;
    if (b[dst] === 0xff) {
      nic = t.nominee;
      b[eth] = 0x33; b[eth + 1] = 0x33;
      b[eth + 2] = b[dst + 12]; b[eth + 3] = b[dst + 13]; b[eth + 4] = b[dst + 14]; b[eth + 5] = b[dst + 15];
    } else {
      const bucket = flowBucket(b, ip, len);
      nic = bucket < 0 ? NO_NIC : t.buckets[bucket];
      if (nic === NO_NIC || !t.nicActive[nic]) { this.counters.drop(D.no_active_nic); return -1; }
      this.counters.bucket(bucket);
      const nh = this.nh;
      if (!t.nextHop6(b, dst, nh, 0)) { this.counters.drop(D.no_route); return -1; }
      const r = this.neigh.lookup(6, nh, 0, now, b, eth);
      if (r === LOOKUP_MISS) {
        this.pending.enqueue6(nh, 0, b, base, len, now);
        return -1;
      }
      if (r !== LOOKUP_FRESH) this.resolver.refresh6(nh, 0, b, ip, now);
    }
    if (nic === NO_NIC || !t.nicActive[nic]) { this.counters.drop(D.no_active_nic); return -1; }
    const mac = t.nicMac;
    for (let j = 0; j < 6; j++) b[eth + 6 + j] = mac[nic * 6 + j];
    b[eth + 12] = ETHERTYPE_IPV6 >> 8;
    b[eth + 13] = ETHERTYPE_IPV6 & 0xff;
    if (!shiftVnetOffsets(b, base + VNET_OFF, IP_OFF - ETH_OFF)) { this.counters.drop(D.malformed); return -1; }
    if (!vnetIsGso(b, base + VNET_OFF) && len > t.nicMtu[nic] && t.nicMtu[nic] > 0) {
      this.counters.drop(D.too_big);
      return -1;
    }
    return nic;
  }
}
