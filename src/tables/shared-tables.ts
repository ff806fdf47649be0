/**
 * The forwarding tables shared between the control plane (the single writer)
 * and the forwarding workers (readers), in one SharedArrayBuffer.
 *
 * Consistency: a sequence lock. The writer makes `seq` odd, writes, then makes
 * it even and bumps `generation`. A reader copies what it needs when the
 * generation changed since its last batch, and retries while `seq` is odd or
 * moved during the copy. Readers never write here; worker counters live in
 * their own buffers (see counters.ts).
 *
 * Layout (byte offsets):
 *   0    Int32 header[16]: seq, generation, flags, nicCount, addrCount, routeCount,
 *        nominee, stop, epochAck[TX], epochAck[RX], reserved...
 *   64   Uint8 buckets[256]: NIC slot per flow bucket, NO_NIC when none
 *   320  NIC slots[MAX_NICS] of NIC_SIZE bytes
 *   ...  data addresses[MAX_ADDRS] of ADDR_SIZE bytes
 *   ...  routes[MAX_ROUTES] of ROUTE_SIZE bytes
 */

export const MAX_NICS = 32;
export const MAX_ADDRS = 256;
export const MAX_ROUTES = 512;
export const NBUCKETS = 256;
export const NO_NIC = 255;

export const H_SEQ = 0;
export const H_GEN = 1;
export const H_FLAGS = 2;
export const H_NICS = 3;
export const H_ADDRS = 4;
export const H_ROUTES = 5;
export const H_NOMINEE = 6;
export const H_STOP = 7;
/** Generation last seen by each worker (TX at 8, RX at 9): lets the writer know a NIC's fd is no longer in use. */
export const H_ACK_TX = 8;
export const H_ACK_RX = 9;

/** Header flag bits. */
export const F_CARRIER = 1;

export const OFF_BUCKETS = 64;
export const OFF_NICS = OFF_BUCKETS + NBUCKETS;
/** NIC slot: ifindex i32 @0, fd i32 @4, flags i32 @8, mtu i32 @12, mac[6] @16. */
export const NIC_SIZE = 32;
export const NIC_IFINDEX = 0;
export const NIC_FD = 4;
export const NIC_FLAGS = 8;
export const NIC_MTU = 12;
export const NIC_MAC = 16;
/** NIC flag bits. */
export const NF_PRESENT = 1;
export const NF_ACTIVE = 2;

export const OFF_ADDRS = OFF_NICS + MAX_NICS * NIC_SIZE;
/**
 * Address: family u8 @0 (4|6), plen u8 @1, bound slot u8 @2 (NO_NIC = unbound), flags u8 @3, ip[16] @4.
 * A test address (flag AF_TEST) is held by the NIC in `bound`; the data plane never answers or
 * delivers for it, but keeps foreign claims on it out of the neighbour table and reports them.
 * A data address under duplicate address detection (flag AF_TENTATIVE, unbound) has every claim
 * on it reported, at most once per DAD_REPORT_INTERVAL_MS, as a possible answer to our probes.
 */
export const ADDR_SIZE = 20;
export const A_FAMILY = 0;
export const A_PLEN = 1;
export const A_BOUND = 2;
export const A_FLAGS = 3;
export const A_IP = 4;
/** Address flag bits. */
export const AF_TEST = 1;
export const AF_TENTATIVE = 2;

export const OFF_ROUTES = OFF_ADDRS + MAX_ADDRS * ADDR_SIZE;
/** Route: family u8 @0, plen u8 @1, hasGw u8 @2, pad, metric u32 @4, dst[16] @8, gw[16] @24. */
export const ROUTE_SIZE = 40;
export const R_FAMILY = 0;
export const R_PLEN = 1;
export const R_HASGW = 2;
export const R_METRIC = 4;
export const R_DST = 8;
export const R_GW = 24;

export const TABLES_BYTES = OFF_ROUTES + MAX_ROUTES * ROUTE_SIZE;

export interface NicEntry {
  slot: number;
  ifindex: number;
  fd: number;
  present: boolean;
  active: boolean;
  mtu: number;
  mac: Uint8Array;
}

export interface AddrEntry {
  family: 4 | 6;
  /** 4 or 16 bytes. */
  ip: Uint8Array;
  plen: number;
  bound: number;
  /** AF_TEST for a NIC's test address; AF_TENTATIVE for a data address under duplicate address detection. */
  flags?: number;
}

export interface RouteEntry {
  family: 4 | 6;
  dst: Uint8Array;
  plen: number;
  gateway: Uint8Array | null;
  metric: number;
}

/** Views over one tables buffer; shared by writer and readers. */
export class TablesView {
  readonly sab: SharedArrayBuffer;
  readonly header: Int32Array;
  readonly bytes: Uint8Array;
  readonly dv: DataView;
  readonly buckets: Uint8Array;

  constructor(sab?: SharedArrayBuffer) {
    this.sab = sab ?? new SharedArrayBuffer(TABLES_BYTES);
    this.header = new Int32Array(this.sab, 0, 16);
    this.bytes = new Uint8Array(this.sab);
    this.dv = new DataView(this.sab);
    this.buckets = new Uint8Array(this.sab, OFF_BUCKETS, NBUCKETS);
    if (!sab) {
      this.buckets.fill(NO_NIC);
      Atomics.store(this.header, H_NOMINEE, NO_NIC);
    }
  }

  generation(): number {
    return Atomics.load(this.header, H_GEN);
  }

  stopRequested(): boolean {
    return Atomics.load(this.header, H_STOP) !== 0;
  }
}

/**
 * The writer side. Only the control plane holds one. Every mutation happens
 * inside `update(fn)`, which publishes a new generation when fn returns.
 */
export class TablesWriter {
  readonly view: TablesView;
  private writing = false;

  constructor(view = new TablesView()) {
    this.view = view;
  }

  update(fn: (w: TablesWriter) => void): number {
    const h = this.view.header;
    if (this.writing) {
      fn(this);
      return Atomics.load(h, H_GEN);
    }
    this.writing = true;
    Atomics.add(h, H_SEQ, 1); // odd: readers retry
    try {
      fn(this);
    } finally {
      Atomics.add(h, H_SEQ, 1);
      this.writing = false;
    }
    return Atomics.add(h, H_GEN, 1) + 1;
  }

  setCarrier(on: boolean): void {
    const h = this.view.header;
    const f = Atomics.load(h, H_FLAGS);
    Atomics.store(h, H_FLAGS, on ? f | F_CARRIER : f & ~F_CARRIER);
  }

  setNominee(slot: number | null): void {
    Atomics.store(this.view.header, H_NOMINEE, slot ?? NO_NIC);
  }

  setBucket(i: number, slot: number | null): void {
    this.view.buckets[i] = slot ?? NO_NIC;
  }

  setBuckets(owner: Uint8Array): void {
    this.view.buckets.set(owner);
  }

  setNic(e: NicEntry): void {
    if (e.slot < 0 || e.slot >= MAX_NICS) throw new RangeError(`NIC slot ${e.slot} out of range`);
    const base = OFF_NICS + e.slot * NIC_SIZE;
    const dv = this.view.dv;
    dv.setInt32(base + NIC_IFINDEX, e.ifindex, true);
    dv.setInt32(base + NIC_FD, e.fd, true);
    dv.setInt32(base + NIC_FLAGS, (e.present ? NF_PRESENT : 0) | (e.active ? NF_ACTIVE : 0), true);
    dv.setInt32(base + NIC_MTU, e.mtu, true);
    this.view.bytes.set(e.mac.subarray(0, 6), base + NIC_MAC);
    const h = this.view.header;
    if (e.slot + 1 > Atomics.load(h, H_NICS)) Atomics.store(h, H_NICS, e.slot + 1);
  }

  setAddresses(list: readonly AddrEntry[]): void {
    if (list.length > MAX_ADDRS) throw new RangeError(`at most ${MAX_ADDRS} data and test addresses`);
    const b = this.view.bytes;
    b.fill(0, OFF_ADDRS, OFF_ADDRS + MAX_ADDRS * ADDR_SIZE);
    list.forEach((a, i) => {
      const base = OFF_ADDRS + i * ADDR_SIZE;
      b[base + A_FAMILY] = a.family;
      b[base + A_PLEN] = a.plen;
      b[base + A_BOUND] = a.bound;
      b[base + A_FLAGS] = a.flags ?? 0;
      b.set(a.ip, base + A_IP);
    });
    Atomics.store(this.view.header, H_ADDRS, list.length);
  }

  setRoutes(list: readonly RouteEntry[]): void {
    const n = Math.min(list.length, MAX_ROUTES);
    const b = this.view.bytes;
    const dv = this.view.dv;
    b.fill(0, OFF_ROUTES, OFF_ROUTES + MAX_ROUTES * ROUTE_SIZE);
    // Longest prefix first, then lowest metric, so readers take the first match.
    const sorted = [...list].sort((x, y) => y.plen - x.plen || x.metric - y.metric).slice(0, n);
    sorted.forEach((r, i) => {
      const base = OFF_ROUTES + i * ROUTE_SIZE;
      b[base + R_FAMILY] = r.family;
      b[base + R_PLEN] = r.plen;
      b[base + R_HASGW] = r.gateway ? 1 : 0;
      dv.setUint32(base + R_METRIC, r.metric >>> 0, true);
      b.set(r.dst, base + R_DST);
      if (r.gateway) b.set(r.gateway, base + R_GW);
    });
    Atomics.store(this.view.header, H_ROUTES, n);
  }

  requestStop(): void {
    Atomics.store(this.view.header, H_STOP, 1);
  }

  /** Lets forwarding workers run again after requestStop() (forwarding resumed on the same tables). */
  clearStop(): void {
    Atomics.store(this.view.header, H_STOP, 0);
  }
}
