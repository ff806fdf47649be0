/**
 * RX, IPv6 branch: one frame with ethertype 0x86dd that already passed the
 * Ethernet rules of rx-path.ts (unicast to the receiving NIC's MAC, or a group
 * address on the nominee).
 *
 *   NS for a data address  → learn the soliciter, answer with an NA carrying
 *                            the bound NIC's MAC, sent from the receiving NIC
 *   DAD NS (from ::)       → for a bound address: a defending NA to all-nodes;
 *                            for a tentative (unbound) one: reported as another
 *                            node's probe (conflicts.ts), unanswered; our own
 *                            probe looped back (one of our MACs) is ignored
 *   NA                     → learn target → MAC (target option or frame source)
 *   unicast to a data address, or multicast → strip L2, deliver to ipmp0
 *
 * The NICs run with IPv6 disabled, so this is the only Neighbour Discovery
 * the group's data addresses get (reference §9.4, §16).
 *
 * Hostile input, as for ARP in rx-path.ts: an NS sent from, or an NA for, one
 * of our addresses with a foreign MAC is a claim (conflicts.ts), never learnt;
 * soliciters and advertised targets are learnt only when on-link and within
 * their source's budget (ratelimit.ts); an unsolicited NA only refreshes a
 * neighbour we already know (RFC 4861 §7.2.5); link-layer options with a
 * group MAC, multicast sources, and DAD probes carrying a source link-layer
 * option are malformed.
 */
import { ETH_OFF, IP_OFF, VNET_LEN, VNET_OFF } from './layout.js';
import type { ConflictGuard } from './conflicts.js';
import { SourceLimiter } from './ratelimit.js';
import { TableReader } from './table-reader.js';
import { Counters, D, X_ARP_REPLIES, X_TUN_BYTES } from '../tables/counters.js';
import { CK_DATA, CK_TEST } from '../tables/conflicts.js';
import { SOLICIT_ANSWER_MS, SolicitTable } from '../tables/solicits.js';
import { LOOKUP_MISS, NeighbourTable } from '../tables/neighbours.js';
import { NO_NIC } from '../tables/shared-tables.js';
import type { PacketPort } from '../io/ports.js';
import { rd16 } from '../wire/bytes.js';
import { isUnicastMac } from '../wire/ethernet.js';
import {
  ALL_NODES6, ALL_NODES_MAC, NA_FLAG_OVERRIDE, NA_FLAG_SOLICITED, ND_LL_LEN, ND_NEIGHBOR_ADVERT,
  ND_NEIGHBOR_SOLICIT, ND_OPT_SOURCE_LINKADDR, ND_OPT_TARGET_LINKADDR, ndFindLinkLayerOpt, ndFindNonce, ndTargetOffset,
  validateNd, writeNeighborAdvertInPlace,
} from '../wire/icmp6-nd.js';
import { IPV6_DST, IPV6_HLEN, IPV6_SRC, isUnspecified6, solicitedNodeMac, validateIpv6 } from '../wire/ipv6.js';
import { IPPROTO_ICMPV6 } from '../wire/l4.js';
import { WIRE_NOT_FOUND } from '../wire/result.js';
import { shiftVnetOffsets } from '../wire/vnet.js';

const NA_FRAME_LEN = 14 + IPV6_HLEN + ND_LL_LEN;

export class Rx6 {
  private readonly reply = new Uint8Array(VNET_LEN + NA_FRAME_LEN);
  private readonly scratch = new Uint8Array(6);

  constructor(
    private readonly t: TableReader,
    private readonly neigh: NeighbourTable,
    private readonly counters: Counters,
    private readonly port: PacketPort,
    private readonly limiter: SourceLimiter,
    private readonly guard: ConflictGuard,
    private readonly solicits: SolicitTable,
  ) {}

  /**
   * Handles the IPv6 frame in slot `base` of b (ipLen bytes after the Ethernet
   * header) received on NIC `nic`. Returns the IP length to deliver to the TUN
   * (the vnet header already shifted), or 0 when it was consumed or dropped.
   */
  classify(b: Uint8Array, base: number, ipLen: number, nic: number, group: boolean, now: number): number {
    const ip = base + IP_OFF;
    if (validateIpv6(b, ip, ipLen) < 0) { this.counters.drop(D.malformed); return 0; }
    if (b[ip + 6] === IPPROTO_ICMPV6 && ipLen > IPV6_HLEN) {
      const type = b[ip + IPV6_HLEN];
      if (type === ND_NEIGHBOR_SOLICIT || type === ND_NEIGHBOR_ADVERT) {
        this.onNd(b, base, ipLen, nic, now);
        return 0;
      }
    }
    const plen = rd16(b, ip + 4);
    if (plen !== 0 && IPV6_HLEN + plen < ipLen) ipLen = IPV6_HLEN + plen; // Ethernet padding
    if (b[ip + IPV6_DST] === 0xff) {
      if (!group) { this.counters.drop(D.not_ours); return 0; }
    } else if (group || this.t.findAddr6(b, ip + IPV6_DST) < 0) {
      this.counters.drop(D.not_ours);
      return 0;
    }
    if (!shiftVnetOffsets(b, base + VNET_OFF, -(IP_OFF - ETH_OFF))) { this.counters.drop(D.malformed); return 0; }
    this.counters.extra(X_TUN_BYTES, ipLen);
    return ipLen;
  }

  private onNd(b: Uint8Array, base: number, ipLen: number, nic: number, now: number): void {
    const ip = base + IP_OFF;
    const icmpLen = validateNd(b, ip, ipLen);
    if (icmpLen < 0 || b[ip + IPV6_SRC] === 0xff) { this.counters.drop(D.malformed); return; }
    const icmp = ip + IPV6_HLEN;
    const target = ndTargetOffset(icmp);
    if (b[icmp] === ND_NEIGHBOR_SOLICIT) this.onSolicit(b, base, icmp, icmpLen, target, nic, now);
    else this.onAdvert(b, base, icmp, icmpLen, target, nic, now);
  }

  /**
   * A link-layer option of type `type` (its MAC offset), the frame's source
   * MAC when absent, or -1 after counting a malformed option list or a group MAC.
   */
  private linkAddr(b: Uint8Array, base: number, icmp: number, icmpLen: number, type: number): number {
    const o = ndFindLinkLayerOpt(b, icmp, icmpLen, type);
    if (o < 0 && o !== WIRE_NOT_FOUND) { this.counters.drop(D.malformed); return -1; }
    const mac = o >= 0 ? o : base + ETH_OFF + 6;
    if (!isUnicastMac(b, mac)) { this.counters.drop(D.malformed); return -1; }
    return mac;
  }

  /**
   * A claim on one of our addresses (at b[addr]) by the MAC at b[mac], unless
   * the MAC is one of ours. Returns true when addr is ours (data or test).
   */
  private ours(b: Uint8Array, addr: number, mac: number, nic: number, now: number): boolean {
    const t = this.t;
    const a = t.findAddr6(b, addr);
    const test = a < 0 ? t.findTest6(b, addr) : -1;
    if (a < 0 && test < 0) return false;
    if (!this.isOwnMac(b, mac)) {
      this.guard.claim(6, b, addr, mac, nic, a >= 0 ? CK_DATA : CK_TEST, a >= 0 ? t.addr6Bound[a] : t.test6Nic[test], now,
        a >= 0 && t.addr6Tentative[a] === 1);
    }
    return true;
  }

  private isOwnMac(b: Uint8Array, off: number): boolean {
    const t = this.t;
    for (let s = 0; s < t.nicCount; s++) {
      if (!t.nicPresent[s]) continue;
      let j = 0;
      while (j < 6 && b[off + j] === t.nicMac[s * 6 + j]) j++;
      if (j === 6) return true;
    }
    return false;
  }

  /** An on-link source within its budget; counts the drop otherwise. */
  private admit(b: Uint8Array, addr: number, mac: number, now: number): boolean {
    if (!this.t.onLinkHost6(b, addr)) { this.counters.drop(D.off_link); return false; }
    if (!this.limiter.allow(SourceLimiter.slot(b, mac, b, addr + 12), now)) { this.counters.drop(D.rate_limited); return false; }
    return true;
  }

  /** NS: learn the soliciter's link-layer address, answer for a bound data address. */
  private onSolicit(b: Uint8Array, base: number, icmp: number, icmpLen: number, target: number, nic: number, now: number): void {
    const t = this.t;
    const ip = base + IP_OFF;
    const dad = isUnspecified6(b, ip + IPV6_SRC);
    const hasSll = ndFindLinkLayerOpt(b, icmp, icmpLen, ND_OPT_SOURCE_LINKADDR) >= 0;
    if (dad && hasSll) { this.counters.drop(D.malformed); return; }
    const sll = this.linkAddr(b, base, icmp, icmpLen, ND_OPT_SOURCE_LINKADDR);
    if (sll < 0) return;
    if (!dad && this.ours(b, ip + IPV6_SRC, sll, nic, now)) return;
    const a = t.findAddr6(b, target);
    if (a < 0) return;
    const bound = t.addr6Bound[a];
    if (dad) {
      // Our own probe looped back through the switch is nobody else's.
      if (this.isOwnMac(b, sll)) return;
      // Another node's probe for an address we hold tentative: both try it (RFC 4862 §5.4.3).
      if (bound === NO_NIC) { this.guard.dadProbe(6, b, target, sll, ndFindNonce(b, icmp, icmpLen), nic, now); return; }
    }
    const learn = !dad && hasSll;
    if (bound === NO_NIC && !learn) return;
    if (dad) {
      if (!this.limiter.allow(SourceLimiter.slot(b, sll, b, target + 12), now)) { this.counters.drop(D.rate_limited); return; }
    } else if (!this.admit(b, ip + IPV6_SRC, sll, now)) {
      return;
    }
    if (learn) this.neigh.update(6, b, ip + IPV6_SRC, b, sll, now, false);
    if (bound === NO_NIC) return;
    const r = this.reply;
    r.fill(0, 0, VNET_LEN);
    // A DAD probe for our address is answered to all-nodes (RFC 4861 §7.2.4), defending the binding.
    if (dad) {
      writeNeighborAdvertInPlace(r, VNET_LEN, t.nicMac, bound * 6, b, target, ALL_NODES_MAC, 0, ALL_NODES6, 0, NA_FLAG_OVERRIDE);
    } else {
      writeNeighborAdvertInPlace(r, VNET_LEN, t.nicMac, bound * 6, b, target, b, sll, b, ip + IPV6_SRC,
        NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE);
    }
    // The frame's source is the NIC it leaves from; the target option carries the bound MAC.
    for (let j = 0; j < 6; j++) r[VNET_LEN + 6 + j] = t.nicMac[nic * 6 + j];
    if (this.port.send(t.nicFd[nic], r, 0, r.length) < 0) this.counters.drop(D.send_error);
    else this.counters.extra(X_ARP_REPLIES);
  }

  /**
   * NA: target → MAC from the target link-layer option, else the frame's
   * source. A solicited NA to us creates the entry; any other only refreshes one.
   */
  private onAdvert(b: Uint8Array, base: number, icmp: number, icmpLen: number, target: number, nic: number, now: number): void {
    const ip = base + IP_OFF;
    const toGroup = b[ip + IPV6_DST] === 0xff;
    const solicited = (b[icmp + 4] & NA_FLAG_SOLICITED) !== 0;
    if (b[target] === 0xff || (toGroup && solicited)) { this.counters.drop(D.malformed); return; }
    if (isUnspecified6(b, target)) return;
    const tll = this.linkAddr(b, base, icmp, icmpLen, ND_OPT_TARGET_LINKADDR);
    if (tll < 0) return;
    if (this.ours(b, target, tll, nic, now)) return;
    if (!solicited && this.neigh.lookup(6, b, target, now, this.scratch, 0) === LOOKUP_MISS) return;
    if (!this.admit(b, target, tll, now)) return;
    // Only the answer to one of our solicitations may take the place of a fresh entry.
    this.neigh.update(6, b, target, b, tll, now, solicited && this.solicits.wanted(6, b, target, now, SOLICIT_ANSWER_MS));
  }
}

/**
 * The multicast MACs the nominee's packet socket must hear for the IPv6 data
 * addresses given as 16-byte arrays: all-nodes and each solicited-node group.
 * Off the hot path (called by the control plane on changes).
 */
export function ndMulticastMacs(addrs: readonly Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [ALL_NODES_MAC.slice()];
  const seen = new Set<string>([ALL_NODES_MAC.join(':')]);
  for (const a of addrs) {
    const m = solicitedNodeMac(a);
    const k = m.join(':');
    if (!seen.has(k)) { seen.add(k); out.push(m); }
  }
  return out;
}
