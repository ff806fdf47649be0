/**
 * TX: ipmp0 → NICs. One batch: read packets from the TUN, choose each
 * packet's NIC through its flow bucket, resolve the next hop's MAC, write the
 * Ethernet header into the headroom and send the whole batch.
 *
 *   tun batch read → view → flow hash → bucket → NIC → frame in headroom → packet batch send
 *
 * Broadcast and multicast leave through the nominated NIC (reference §9.5).
 * Packets to a next hop without a MAC wait in a bounded queue while an ARP
 * request goes out (pending.ts). IPv6 packets are framed by tx6.ts.
 */
import { flowBucket } from './flowhash.js';
import { BATCH, ETH_OFF, IP_OFF, POLL_MS, SLOT_SIZE, VNET_OFF } from './layout.js';
import { TableReader } from './table-reader.js';
import { PendingQueue } from './pending.js';
import { Resolver } from './resolver.js';
import { Tx6 } from './tx6.js';
import { Counters, D, X_BATCHES, X_TUN_BYTES, X_TUN_PKTS } from '../tables/counters.js';
import { LOOKUP_FRESH, LOOKUP_MISS, NeighbourTable, coarseNowMs } from '../tables/neighbours.js';
import { H_ACK_TX, NO_NIC, TablesView } from '../tables/shared-tables.js';
import type { SolicitTable } from '../tables/solicits.js';
import type { PacketPort, TunPort } from '../io/ports.js';
import { shiftVnetOffsets, vnetIsGso } from '../wire/vnet.js';
import { ETHERTYPE_IPV4 } from '../wire/ethernet.js';
import { validateIpv4 } from '../wire/ipv4.js';

/**
 * How long a fresh next-hop MAC is reused without a neighbour lookup (while the table is
 * unchanged): consecutive packets of a batch mostly share a next hop. An entry that turns
 * stale in this window has its refresh request sent at most this much later.
 */
const NH_CACHE_MS = 50;

export class TxPath {
  readonly tables: TableReader;
  readonly counters: Counters;
  private readonly neigh: NeighbourTable;
  private readonly tun: TunPort;
  private readonly port: PacketPort;
  readonly buf = new Uint8Array(BATCH * SLOT_SIZE);
  private readonly lens = new Int32Array(BATCH);
  private readonly outFds = new Int32Array(BATCH);
  private readonly outOffs = new Int32Array(BATCH);
  private readonly outLens = new Int32Array(BATCH);
  private readonly outNic = new Uint8Array(BATCH);
  private readonly key = new Uint8Array(16);
  /** The last fresh IPv4 next hop and its MAC: reused while the neighbour table has not changed. */
  private nhCached = -1;
  private nhVersion = -1;
  private nhAt = 0;
  private readonly nhMac = new Uint8Array(6);
  readonly pending: PendingQueue;
  readonly resolver: Resolver;
  private readonly tx6: Tx6;

  constructor(view: TablesView, neigh: NeighbourTable, counters: Counters, tun: TunPort, port: PacketPort,
    solicits?: SolicitTable) {
    this.tables = new TableReader(view, H_ACK_TX);
    this.neigh = neigh;
    this.counters = counters;
    this.tun = tun;
    this.port = port;
    this.resolver = new Resolver(this.tables, port, counters, solicits);
    this.pending = new PendingQueue(this.tables, neigh, port, counters, this.resolver);
    this.tx6 = new Tx6(this.tables, neigh, counters, this.pending, this.resolver);
  }

  /**
   * One iteration: returns the number of packets read from the TUN. `clock`: the coarse time
   * (coarseNowMs) when the caller has just read it, or -1 to read it here.
   */
  runOnce(timeoutMs = POLL_MS, clock = -1): number {
    this.tables.refresh();
    const now = clock >= 0 ? clock : coarseNowMs();
    this.pending.service(now);
    const n = this.tun.readBatch(this.buf, SLOT_SIZE, VNET_OFF, IP_OFF, BATCH, this.lens, timeoutMs);
    if (n <= 0) return 0;
    this.tables.refresh();
    this.counters.extra(X_BATCHES);
    let out = 0;
    for (let i = 0; i < n; i++) {
      if (this.frame(i, now)) {
        const base = i * SLOT_SIZE;
        const nic = this.outNic[i];
        this.outFds[out] = this.tables.nicFd[nic];
        this.outOffs[out] = base + VNET_OFF;
        this.outLens[out] = IP_OFF - VNET_OFF + this.lens[i];
        out++;
        this.counters.nic(nic, 1, this.lens[i]);
      }
    }
    this.counters.extra(X_TUN_PKTS, n);
    if (out > 0) {
      const sent = this.port.sendBatch(this.outFds, this.buf, this.outOffs, this.outLens, out);
      const lost = sent < 0 ? out : out - sent;
      if (lost > 0) this.counters.drop(D.send_error, lost);
    }
    return n;
  }

  /**
   * Frames packet i in place. Returns true when it is ready to send (its NIC in
   * outNic[i]); false when it was dropped or queued.
   */
  private frame(i: number, now: number): boolean {
    const b = this.buf;
    const base = i * SLOT_SIZE;
    const ip = base + IP_OFF;
    let len = this.lens[i];
    this.counters.extra(X_TUN_BYTES, len);
    if (len >= 1 && (b[ip] >> 4) === 6) {
      // Bytes after the payload length are not sent (they would spoil an offloaded checksum);
      // payload length 0 with bytes after it would be a jumbogram, which ipmp0 never carries.
      const end = 40 + ((b[ip + 4] << 8) | b[ip + 5]);
      if (len > end) {
        if (end === 40) { this.counters.drop(D.malformed); return false; }
        this.lens[i] = len = end;
      }
      const nic6 = this.tx6.frame(b, base, len, now);
      if (nic6 < 0) return false;
      this.outNic[i] = nic6;
      return true;
    }
    if (len < 1 || (b[ip] >> 4) !== 4) { this.counters.drop(D.malformed); return false; }
    if (validateIpv4(b, ip, len) < 0) { this.counters.drop(D.malformed); return false; }
    const total = (b[ip + 2] << 8) | b[ip + 3];
    if (total < len) this.lens[i] = len = total;
    const t = this.tables;
    if (!t.carrier) { this.counters.drop(D.no_active_nic); return false; }
    const dst = ((b[ip + 16] << 24) | (b[ip + 17] << 16) | (b[ip + 18] << 8) | b[ip + 19]) >>> 0;
    const eth = base + ETH_OFF;
    let nic: number;
    if ((dst >>> 28) === 14) {
      nic = t.nominee;
      b[eth] = 0x01; b[eth + 1] = 0x00; b[eth + 2] = 0x5e;
      b[eth + 3] = (dst >>> 16) & 0x7f; b[eth + 4] = (dst >>> 8) & 0xff; b[eth + 5] = dst & 0xff;
    } else if (dst === 0xffffffff || t.isSubnetBroadcast4(dst)) {
      nic = t.nominee;
      b.fill(0xff, eth, eth + 6);
    } else {
      const bucket = flowBucket(b, ip, len);
      nic = bucket < 0 ? NO_NIC : t.buckets[bucket];
      if (nic === NO_NIC || !t.nicActive[nic]) { this.counters.drop(D.no_active_nic); return false; }
      this.counters.bucket(bucket);
      const nh = t.nextHop4(dst);
      if (nh < 0) { this.counters.drop(D.no_route); return false; }
      const ver = this.neigh.version();
      const c = this.nhMac;
      if (nh === this.nhCached && ver === this.nhVersion && now - this.nhAt < NH_CACHE_MS && now >= this.nhAt) {
        for (let j = 0; j < 6; j++) b[eth + j] = c[j];
      } else {
        const k = this.key;
        k[0] = nh >>> 24; k[1] = (nh >>> 16) & 0xff; k[2] = (nh >>> 8) & 0xff; k[3] = nh & 0xff;
        const r = this.neigh.lookup(4, k, 0, now, b, eth);
        if (r === LOOKUP_MISS) {
          this.pending.enqueue(nh, nic, b, base, len, now);
          return false;
        }
        if (r !== LOOKUP_FRESH) {
          this.resolver.refresh4(nh, b, ip, now);
          this.nhCached = -1;
        } else {
          // The table's version was read before the lookup: any later write invalidates this.
          this.nhCached = nh; this.nhVersion = ver; this.nhAt = now;
          for (let j = 0; j < 6; j++) c[j] = b[eth + j];
        }
      }
    }
    if (nic === NO_NIC || !t.nicActive[nic]) { this.counters.drop(D.no_active_nic); return false; }
    this.outNic[i] = nic;
    const mac = t.nicMac;
    for (let j = 0; j < 6; j++) b[eth + 6 + j] = mac[nic * 6 + j];
    b[eth + 12] = ETHERTYPE_IPV4 >> 8;
    b[eth + 13] = ETHERTYPE_IPV4 & 0xff;
    if (!shiftVnetOffsets(b, base + VNET_OFF, IP_OFF - ETH_OFF)) { this.counters.drop(D.malformed); return false; }
    if (!vnetIsGso(b, base + VNET_OFF) && len > t.nicMtu[nic] && t.nicMtu[nic] > 0) {
      this.counters.drop(D.too_big);
      return false;
    }
    return true;
  }
}
