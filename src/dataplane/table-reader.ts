/**
 * The forwarding workers' private copy of the shared tables. `refresh()` runs
 * once per batch: when the generation moved it copies buckets, NICs, data
 * addresses and routes into preallocated local arrays under the sequence lock,
 * and records the generation it now uses (so the writer knows when a removed
 * NIC's socket is no longer in use). No allocation after construction.
 */
import {
  A_BOUND, A_FAMILY, A_FLAGS, A_IP, A_PLEN, ADDR_SIZE, AF_TENTATIVE, AF_TEST, F_CARRIER, H_ADDRS, H_FLAGS, H_GEN, H_NICS, H_NOMINEE,
  H_ROUTES, H_SEQ, MAX_ADDRS, MAX_NICS, MAX_ROUTES, NBUCKETS, NF_ACTIVE, NF_PRESENT, NIC_FD, NIC_FLAGS,
  NIC_IFINDEX, NIC_MAC, NIC_MTU, NIC_SIZE, NO_NIC, OFF_ADDRS, OFF_BUCKETS, OFF_NICS, OFF_ROUTES, R_DST,
  R_FAMILY, R_GW, R_HASGW, R_PLEN, ROUTE_SIZE, TablesView,
} from '../tables/shared-tables.js';
import { rd32, wr32 } from '../wire/bytes.js';

export class TableReader {
  readonly view: TablesView;
  private readonly ackIndex: number;
  generation = -1;
  carrier = false;
  nominee = NO_NIC;

  readonly buckets = new Uint8Array(NBUCKETS);
  nicCount = 0;
  readonly nicFd = new Int32Array(MAX_NICS);
  readonly nicIfindex = new Int32Array(MAX_NICS);
  readonly nicActive = new Uint8Array(MAX_NICS);
  readonly nicPresent = new Uint8Array(MAX_NICS);
  readonly nicMtu = new Int32Array(MAX_NICS);
  readonly nicMac = new Uint8Array(MAX_NICS * 6);

  /** IPv4 data addresses: address, prefix mask, bound NIC slot. */
  addr4Count = 0;
  readonly addr4 = new Uint32Array(MAX_ADDRS);
  readonly addr4Mask = new Uint32Array(MAX_ADDRS);
  readonly addr4Bound = new Uint8Array(MAX_ADDRS);
  /** 1 while duplicate address detection of the address runs (AF_TENTATIVE). */
  readonly addr4Tentative = new Uint8Array(MAX_ADDRS);
  /** IPv6 data addresses: 4 words each. */
  addr6Count = 0;
  readonly addr6 = new Uint32Array(MAX_ADDRS * 4);
  readonly addr6Plen = new Uint8Array(MAX_ADDRS);
  readonly addr6Bound = new Uint8Array(MAX_ADDRS);
  readonly addr6Tentative = new Uint8Array(MAX_ADDRS);
  /** Test addresses and the NIC slot holding each: IPv4 as numbers, IPv6 as 4 words. */
  test4Count = 0;
  readonly test4 = new Uint32Array(MAX_ADDRS);
  readonly test4Nic = new Uint8Array(MAX_ADDRS);
  test6Count = 0;
  readonly test6 = new Uint32Array(MAX_ADDRS * 4);
  readonly test6Nic = new Uint8Array(MAX_ADDRS);

  /** IPv4 routes, longest prefix first: dst, mask, gateway (0 = on-link). */
  route4Count = 0;
  readonly route4Dst = new Uint32Array(MAX_ROUTES);
  readonly route4Mask = new Uint32Array(MAX_ROUTES);
  readonly route4Gw = new Uint32Array(MAX_ROUTES);
  /** IPv6 routes: dst and gateway 4 words each; hasGw flag; prefix length. */
  route6Count = 0;
  readonly route6Dst = new Uint32Array(MAX_ROUTES * 4);
  readonly route6Plen = new Uint8Array(MAX_ROUTES);
  readonly route6Gw = new Uint32Array(MAX_ROUTES * 4);
  readonly route6HasGw = new Uint8Array(MAX_ROUTES);

  private readonly dst6 = new Uint32Array(4);

  constructor(view: TablesView, ackIndex: number) {
    this.view = view;
    this.ackIndex = ackIndex;
  }

  /** Returns true when a new generation was loaded. */
  refresh(): boolean {
    const h = this.view.header;
    const gen = Atomics.load(h, H_GEN);
    if (gen === this.generation) return false;
    for (let attempt = 0; attempt < 1000; attempt++) {
      const s1 = Atomics.load(h, H_SEQ);
      if (s1 & 1) continue;
      this.copy();
      if (Atomics.load(h, H_SEQ) === s1) {
        this.generation = Atomics.load(h, H_GEN);
        Atomics.store(h, this.ackIndex, this.generation);
        return true;
      }
    }
    return false;
  }

  private copy(): void {
    const v = this.view;
    const h = v.header;
    const b = v.bytes;
    const dv = v.dv;
    this.carrier = (Atomics.load(h, H_FLAGS) & F_CARRIER) !== 0;
    this.nominee = Atomics.load(h, H_NOMINEE);
    this.buckets.set(b.subarray(OFF_BUCKETS, OFF_BUCKETS + NBUCKETS));
    const nics = Math.min(Atomics.load(h, H_NICS), MAX_NICS);
    this.nicCount = nics;
    for (let s = 0; s < nics; s++) {
      const base = OFF_NICS + s * NIC_SIZE;
      const flags = dv.getInt32(base + NIC_FLAGS, true);
      this.nicIfindex[s] = dv.getInt32(base + NIC_IFINDEX, true);
      this.nicFd[s] = dv.getInt32(base + NIC_FD, true);
      this.nicPresent[s] = flags & NF_PRESENT ? 1 : 0;
      this.nicActive[s] = flags & NF_ACTIVE ? 1 : 0;
      this.nicMtu[s] = dv.getInt32(base + NIC_MTU, true);
      for (let i = 0; i < 6; i++) this.nicMac[s * 6 + i] = b[base + NIC_MAC + i];
    }
    this.copyAddresses(Math.min(Atomics.load(h, H_ADDRS), MAX_ADDRS));
    this.copyRoutes(Math.min(Atomics.load(h, H_ROUTES), MAX_ROUTES));
  }

  private copyAddresses(n: number): void {
    const b = this.view.bytes;
    const dv = this.view.dv;
    let n4 = 0;
    let n6 = 0;
    let t4 = 0;
    let t6 = 0;
    for (let i = 0; i < n; i++) {
      const base = OFF_ADDRS + i * ADDR_SIZE;
      const plen = b[base + A_PLEN];
      const test = (b[base + A_FLAGS] & AF_TEST) !== 0;
      if (b[base + A_FAMILY] === 4) {
        if (test) {
          this.test4[t4] = dv.getUint32(base + A_IP, false);
          this.test4Nic[t4++] = b[base + A_BOUND];
          continue;
        }
        this.addr4[n4] = dv.getUint32(base + A_IP, false);
        this.addr4Mask[n4] = plen === 0 ? 0 : (0xffffffff << (32 - plen)) >>> 0;
        this.addr4Bound[n4] = b[base + A_BOUND];
        this.addr4Tentative[n4] = (b[base + A_FLAGS] & AF_TENTATIVE) !== 0 ? 1 : 0;
        n4++;
      } else if (b[base + A_FAMILY] === 6) {
        if (test) {
          for (let w = 0; w < 4; w++) this.test6[t6 * 4 + w] = dv.getUint32(base + A_IP + w * 4, false);
          this.test6Nic[t6++] = b[base + A_BOUND];
          continue;
        }
        for (let w = 0; w < 4; w++) this.addr6[n6 * 4 + w] = dv.getUint32(base + A_IP + w * 4, false);
        this.addr6Plen[n6] = plen;
        this.addr6Bound[n6] = b[base + A_BOUND];
        this.addr6Tentative[n6] = (b[base + A_FLAGS] & AF_TENTATIVE) !== 0 ? 1 : 0;
        n6++;
      }
    }
    this.addr4Count = n4;
    this.addr6Count = n6;
    this.test4Count = t4;
    this.test6Count = t6;
  }

  private copyRoutes(n: number): void {
    const b = this.view.bytes;
    const dv = this.view.dv;
    let n4 = 0;
    let n6 = 0;
    for (let i = 0; i < n; i++) {
      const base = OFF_ROUTES + i * ROUTE_SIZE;
      const plen = b[base + R_PLEN];
      const hasGw = b[base + R_HASGW];
      if (b[base + R_FAMILY] === 4) {
        this.route4Dst[n4] = dv.getUint32(base + R_DST, false);
        this.route4Mask[n4] = plen === 0 ? 0 : (0xffffffff << (32 - plen)) >>> 0;
        this.route4Gw[n4] = hasGw ? dv.getUint32(base + R_GW, false) : 0;
        n4++;
      } else if (b[base + R_FAMILY] === 6) {
        for (let w = 0; w < 4; w++) {
          this.route6Dst[n6 * 4 + w] = dv.getUint32(base + R_DST + w * 4, false);
          this.route6Gw[n6 * 4 + w] = hasGw ? dv.getUint32(base + R_GW + w * 4, false) : 0;
        }
        this.route6Plen[n6] = plen;
        this.route6HasGw[n6] = hasGw;
        n6++;
      }
    }
    this.route4Count = n4;
    this.route6Count = n6;
  }

  /** Index of the IPv4 data address equal to ip, or -1. */
  findAddr4(ip: number): number {
    for (let i = 0; i < this.addr4Count; i++) if (this.addr4[i] === ip) return i;
    return -1;
  }

  /** Index of the IPv4 test address equal to ip, or -1. */
  findTest4(ip: number): number {
    for (let i = 0; i < this.test4Count; i++) if (this.test4[i] === ip) return i;
    return -1;
  }

  /**
   * True when ip can be a neighbour on the group's link: covered by an on-link
   * route through the IPMP interface or by a data address's subnet, and not a
   * martian (0/8, 127/8, multicast, limited or subnet broadcast).
   */
  onLinkHost4(ip: number): boolean {
    const top = ip >>> 24;
    if (top === 0 || top === 127 || top >= 224 || this.isSubnetBroadcast4(ip)) return false;
    for (let i = 0; i < this.addr4Count; i++) {
      if (((ip & this.addr4Mask[i]) >>> 0) === ((this.addr4[i] & this.addr4Mask[i]) >>> 0)) return true;
    }
    return this.nextHop4(ip) === ip;
  }

  /** True when ip is the directed broadcast of one of the data addresses' subnets. */
  isSubnetBroadcast4(ip: number): boolean {
    for (let i = 0; i < this.addr4Count; i++) {
      const m = this.addr4Mask[i];
      if (m !== 0xffffffff && m !== 0xfffffffe && ((this.addr4[i] | ~m) >>> 0) === ip) return true;
    }
    return false;
  }

  /**
   * IPv4 next hop for dst: the gateway of the longest matching route, dst itself
   * for an on-link route, or -1 when no route matches.
   */
  nextHop4(dst: number): number {
    for (let i = 0; i < this.route4Count; i++) {
      if (((dst & this.route4Mask[i]) >>> 0) === this.route4Dst[i]) {
        const gw = this.route4Gw[i];
        return gw === 0 ? dst : gw;
      }
    }
    return -1;
  }

  /** Index of the IPv6 data address equal to the 16 bytes at b[off], or -1. */
  findAddr6(b: Uint8Array, off: number): number {
    const w0 = rd32(b, off), w1 = rd32(b, off + 4), w2 = rd32(b, off + 8), w3 = rd32(b, off + 12);
    const a = this.addr6;
    for (let i = 0; i < this.addr6Count; i++) {
      const k = i * 4;
      if (a[k + 3] === w3 && a[k + 2] === w2 && a[k + 1] === w1 && a[k] === w0) return i;
    }
    return -1;
  }

  /** Index of the IPv6 test address equal to the 16 bytes at b[off], or -1. */
  findTest6(b: Uint8Array, off: number): number {
    const w0 = rd32(b, off), w1 = rd32(b, off + 4), w2 = rd32(b, off + 8), w3 = rd32(b, off + 12);
    const a = this.test6;
    for (let i = 0; i < this.test6Count; i++) {
      const k = i * 4;
      if (a[k + 3] === w3 && a[k + 2] === w2 && a[k + 1] === w1 && a[k] === w0) return i;
    }
    return -1;
  }

  /**
   * True when the IPv6 unicast address at b[off] can be a neighbour on the
   * group's link: link-local, on a data address's prefix, or covered by an
   * on-link route. Multicast, unspecified and loopback are not.
   */
  onLinkHost6(b: Uint8Array, off: number): boolean {
    const w0 = rd32(b, off);
    if ((w0 >>> 24) === 0xff) return false;
    if ((w0 >>> 22) === (0xfe80 >>> 6)) return true;
    const d = this.dst6;
    d[0] = w0; d[1] = rd32(b, off + 4); d[2] = rd32(b, off + 8); d[3] = rd32(b, off + 12);
    if (d[0] === 0 && d[1] === 0 && d[2] === 0 && (d[3] === 0 || d[3] === 1)) return false;
    for (let i = 0; i < this.addr6Count; i++) if (prefixMatch6(d, this.addr6, i * 4, this.addr6Plen[i])) return true;
    for (let i = 0; i < this.route6Count; i++) {
      if (!this.route6HasGw[i] && prefixMatch6(d, this.route6Dst, i * 4, this.route6Plen[i])) return true;
    }
    return false;
  }

  /** Writes IPv6 data address i as 16 bytes into out[outOff]. */
  addr6Bytes(i: number, out: Uint8Array, outOff: number): void {
    for (let w = 0; w < 4; w++) wr32(out, outOff + w * 4, this.addr6[i * 4 + w]);
  }

  /**
   * IPv6 next hop for the 16-byte dst at b[off], written into out[outOff..+16]:
   * the gateway of the longest matching route, or dst itself for an on-link
   * route. Returns false when no route matches. No allocation.
   */
  nextHop6(b: Uint8Array, off: number, out: Uint8Array, outOff: number): boolean {
    const d = this.dst6;
    for (let w = 0; w < 4; w++) d[w] = rd32(b, off + w * 4);
    for (let i = 0; i < this.route6Count; i++) {
      if (!prefixMatch6(d, this.route6Dst, i * 4, this.route6Plen[i])) continue;
      if (this.route6HasGw[i]) for (let w = 0; w < 4; w++) wr32(out, outOff + w * 4, this.route6Gw[i * 4 + w]);
      else for (let w = 0; w < 4; w++) wr32(out, outOff + w * 4, d[w]);
      return true;
    }
    return false;
  }

  /** True when the IPv6 address at b[off] shares data address i's prefix. */
  onLink6(i: number, b: Uint8Array, off: number): boolean {
    const d = this.dst6;
    for (let w = 0; w < 4; w++) d[w] = rd32(b, off + w * 4);
    return prefixMatch6(d, this.addr6, i * 4, this.addr6Plen[i]);
  }
}

/** True when the first plen bits of the 4 words a equal those of p[pIdx..+4]. */
export function prefixMatch6(a: Uint32Array, p: Uint32Array, pIdx: number, plen: number): boolean {
  for (let w = 0; w < 4; w++) {
    const bits = plen - w * 32;
    if (bits <= 0) return true;
    const mask = bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
    if (((a[w] & mask) >>> 0) !== ((p[pIdx + w] & mask) >>> 0)) return false;
  }
  return true;
}
