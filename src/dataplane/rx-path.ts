/**
 * RX: NICs → ipmp0. One batch: receive frames from every NIC's packet socket,
 * answer ARP for data addresses, learn neighbours, strip the Ethernet header
 * of IP frames for data addresses and write the batch into the TUN.
 *
 *   NIC → packet batch recv → ARP responder, or strip L2 → tun batch write → ipmp0
 *
 * Inbound rules (reference §9.4): unicast frames are accepted on the NIC whose
 * MAC they carry; broadcast and multicast only on the nominated NIC, so nothing
 * is delivered twice; frames we sent ourselves (looped back by the switch) and
 * frames for other hosts are dropped. IPv6 and Neighbour Discovery are
 * handled by rx6.ts.
 *
 * Hostile input: every frame the loop does not deliver or answer is counted
 * by reason (counters.ts). ARP is learnt and answered only for on-link
 * senders, within a per-source budget (ratelimit.ts); a claim on one of our
 * addresses by a foreign MAC is never learnt, but counted, defended and
 * reported (conflicts.ts). Frames tagged for a VLAN arrive marked by the
 * socket filter (bpf.ts) and are dropped.
 */
import { BATCH, ETH_OFF, IP_OFF, POLL_MS, SLOT_SIZE, VNET_LEN, VNET_OFF } from './layout.js';
import { VLAN_MARK_LEN } from './bpf.js';
import { ConflictGuard } from './conflicts.js';
import { SourceLimiter } from './ratelimit.js';
import { TableReader } from './table-reader.js';
import { Rx6 } from './rx6.js';
import { Counters, D, X_ARP_REPLIES, X_BATCHES, X_TUN_BYTES, X_TUN_PKTS } from '../tables/counters.js';
import { CK_DATA, CK_TEST, ConflictRing } from '../tables/conflicts.js';
import { SOLICIT_ANSWER_MS, SolicitTable } from '../tables/solicits.js';
import { LOOKUP_MISS, NeighbourTable, coarseNowMs } from '../tables/neighbours.js';
import { H_ACK_RX, MAX_NICS, NO_NIC, TablesView } from '../tables/shared-tables.js';
import type { PacketPort, TunPort } from '../io/ports.js';
import {
  ARP_OP_REPLY, ARP_OP_REQUEST, ARP_SHA, ARP_SPA, ARP_TPA, arpOp, arpSpa, arpTpa, validateArp, writeArpReplyInPlace,
} from '../wire/arp.js';
import {
  ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_QINQ, ETHERTYPE_VLAN, isUnicastMac,
} from '../wire/ethernet.js';
import { validateIpv4 } from '../wire/ipv4.js';
import { shiftVnetOffsets } from '../wire/vnet.js';


export class RxPath {
  readonly tables: TableReader;
  readonly counters: Counters;
  private readonly neigh: NeighbourTable;
  private readonly tun: TunPort;
  private readonly port: PacketPort;
  readonly buf = new Uint8Array(BATCH * SLOT_SIZE);
  private readonly lens = new Int32Array(BATCH);
  private readonly srcIdx = new Int32Array(BATCH);
  private readonly fds = new Int32Array(MAX_NICS);
  private readonly fdSlot = new Uint8Array(MAX_NICS);
  private nfds = 0;
  private fdGeneration = -1;
  private readonly wVnet = new Int32Array(BATCH);
  private readonly wOffs = new Int32Array(BATCH);
  private readonly wLens = new Int32Array(BATCH);
  private readonly reply = new Uint8Array(VNET_LEN + 42);
  private readonly scratch = new Uint8Array(6);
  private readonly rx6: Rx6;
  readonly limiter = new SourceLimiter();
  private readonly guard: ConflictGuard;

  private readonly solicits: SolicitTable;

  /**
   * `conflicts`: where address conflicts are reported (none in tests that do not look);
   * `solicits`: the TX path's requests, to recognise answers to them.
   */
  constructor(view: TablesView, neigh: NeighbourTable, counters: Counters, tun: TunPort, port: PacketPort,
    conflicts: ConflictRing | null = null, solicits = new SolicitTable()) {
    this.tables = new TableReader(view, H_ACK_RX);
    this.neigh = neigh;
    this.counters = counters;
    this.tun = tun;
    this.port = port;
    this.solicits = solicits;
    this.guard = new ConflictGuard(this.tables, counters, port, conflicts);
    this.rx6 = new Rx6(this.tables, neigh, counters, port, this.limiter, this.guard, solicits);
  }

  private refresh(): void {
    this.tables.refresh();
    const t = this.tables;
    if (t.generation === this.fdGeneration) return;
    this.fdGeneration = t.generation;
    let n = 0;
    for (let s = 0; s < t.nicCount; s++) {
      if (!t.nicPresent[s] || t.nicFd[s] < 0) continue;
      this.fds[n] = t.nicFd[s];
      this.fdSlot[n] = s;
      n++;
    }
    this.nfds = n;
  }

  /**
   * One iteration: returns the number of frames received. `ready` (with timeoutMs 0): a
   * readiness flag per socket in the order of the tables' present NICs, from the caller's poll;
   * `clock`: the coarse time the caller read after that poll, or -1 to read it here.
   */
  runOnce(timeoutMs = POLL_MS, ready?: Uint8Array, clock = -1): number {
    this.refresh();
    if (this.nfds === 0) {
      // Nothing to listen on: wait like a poll timeout would, without spinning.
      const h = this.tables.view.header;
      Atomics.wait(h, 0, Atomics.load(h, 0), timeoutMs);
      return 0;
    }
    const n = this.port.recvBatch(this.fds, this.nfds, this.buf, SLOT_SIZE, VNET_OFF, BATCH, this.lens, this.srcIdx, timeoutMs,
      ready);
    if (n <= 0) return 0;
    this.refresh();
    this.counters.extra(X_BATCHES);
    const now = clock >= 0 ? clock : coarseNowMs();
    let w = 0;
    for (let i = 0; i < n; i++) {
      const nic = this.fdSlot[this.srcIdx[i]];
      const ipLen = this.classify(i, nic, now);
      if (ipLen > 0) {
        const base = i * SLOT_SIZE;
        this.wVnet[w] = base + VNET_OFF;
        this.wOffs[w] = base + IP_OFF;
        this.wLens[w] = ipLen;
        w++;
        this.counters.nic(nic, 1, ipLen);
      }
    }
    if (w > 0) {
      const r = this.tun.writeBatch(this.buf, this.wVnet, this.wOffs, this.wLens, w);
      if (r < 0) this.counters.drop(D.send_error, w);
      else if (r < w) this.counters.drop(D.send_error, w - r);
      else { this.counters.extra(X_TUN_PKTS, w); }
    }
    return n;
  }

  /** Returns the IP length to deliver for frame i, or 0 when it was consumed or dropped. */
  private classify(i: number, nic: number, now: number): number {
    const b = this.buf;
    const t = this.tables;
    const base = i * SLOT_SIZE;
    const eth = base + ETH_OFF;
    const flen = this.lens[i] - VNET_LEN;
    if (flen < 14) { this.counters.drop(flen === VLAN_MARK_LEN ? D.vlan : D.malformed); return 0; }
    if (this.isOwnMac(b, eth + 6)) { this.counters.drop(D.own_frame); return 0; }
    const group = (b[eth] & 1) !== 0;
    if (group) {
      if (t.nominee !== NO_NIC && nic !== t.nominee) { this.counters.drop(D.not_nominee); return 0; }
    } else if (!this.macIs(b, eth, nic)) {
      this.counters.drop(D.not_ours);
      return 0;
    }
    const type = (b[eth + 12] << 8) | b[eth + 13];
    if (type === ETHERTYPE_ARP) { this.onArp(eth + 14, flen - 14, nic, group, now); return 0; }
    if (type === ETHERTYPE_IPV6) return this.rx6.classify(b, base, flen - 14, nic, group, now);
    if (type !== ETHERTYPE_IPV4) {
      this.counters.drop(type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ ? D.vlan : D.unsupported);
      return 0;
    }
    const ip = eth + 14;
    if (validateIpv4(b, ip, flen - 14) < 0) { this.counters.drop(D.malformed); return 0; }
    // The IP total length, not the frame: short frames carry Ethernet padding.
    const ipLen = (b[ip + 2] << 8) | b[ip + 3];
    const dst = ((b[ip + 16] << 24) | (b[ip + 17] << 16) | (b[ip + 18] << 8) | b[ip + 19]) >>> 0;
    if (group) {
      if ((dst >>> 28) !== 14 && dst !== 0xffffffff && !t.isSubnetBroadcast4(dst)) { this.counters.drop(D.not_ours); return 0; }
    } else if (t.findAddr4(dst) < 0) {
      this.counters.drop(D.not_ours);
      return 0;
    }
    if (!shiftVnetOffsets(b, base + VNET_OFF, -(IP_OFF - ETH_OFF))) { this.counters.drop(D.malformed); return 0; }
    this.counters.extra(X_TUN_BYTES, ipLen);
    return ipLen;
  }

  private macIs(b: Uint8Array, off: number, nic: number): boolean {
    const m = this.tables.nicMac;
    for (let j = 0; j < 6; j++) if (b[off + j] !== m[nic * 6 + j]) return false;
    return true;
  }

  /** True when the MAC at b[off] is one of the group's NICs'. */
  isOwnMac(b: Uint8Array, off: number): boolean {
    for (let s = 0; s < this.tables.nicCount; s++) if (this.tables.nicPresent[s] && this.macIs(b, off, s)) return true;
    return false;
  }

  /**
   * ARP. A claim on one of our addresses by a foreign MAC goes to the conflict
   * guard, and so does another node's ARP probe (sender IP 0.0.0.0) for a data
   * address we hold unbound (under duplicate address detection, RFC 5227
   * §2.1.1); an unbound address is never answered for. Otherwise, for an on-link sender within its budget: learn it when it
   * asks for a data address or answers us (unicast), refresh it when it
   * announces itself (gratuitous ARP or broadcast reply) and we know it, and
   * answer requests for bound data addresses with the bound NIC's MAC.
   * ARP between other hosts is ignored without cost.
   */
  private onArp(arp: number, len: number, nic: number, group: boolean, now: number): void {
    const b = this.buf;
    const t = this.tables;
    if (validateArp(b, arp, len) < 0 || !isUnicastMac(b, arp + ARP_SHA)) { this.counters.drop(D.malformed); return; }
    const op = arpOp(b, arp);
    const spa = arpSpa(b, arp);
    const tpa = arpTpa(b, arp);
    if (spa !== 0) {
      const own = t.findAddr4(spa);
      const test = own < 0 ? t.findTest4(spa) : -1;
      if (own >= 0 || test >= 0) {
        // Our own announcements carry one of our MACs; anything else claims the address.
        if (!this.isOwnMac(b, arp + ARP_SHA)) {
          this.guard.claim(4, b, arp + ARP_SPA, arp + ARP_SHA, nic, own >= 0 ? CK_DATA : CK_TEST,
            own >= 0 ? t.addr4Bound[own] : t.test4Nic[test], now, own >= 0 && t.addr4Tentative[own] === 1);
        }
        return;
      }
    }
    const target = t.findAddr4(tpa);
    if (spa === 0 && op === ARP_OP_REQUEST && target >= 0 && t.addr4Bound[target] === NO_NIC) {
      // Our own probes come back with one of our MACs.
      if (!this.isOwnMac(b, arp + ARP_SHA)) this.guard.dadProbe(4, b, arp + ARP_TPA, arp + ARP_SHA, -1, nic, now);
      return;
    }
    const answer = op === ARP_OP_REQUEST && target >= 0 && t.addr4Bound[target] !== NO_NIC;
    const replyToUs = op === ARP_OP_REPLY && !group;
    let learn = spa !== 0 && ((op === ARP_OP_REQUEST && target >= 0) || replyToUs);
    if (!learn && spa !== 0 && (op === ARP_OP_REPLY || spa === tpa)) {
      learn = this.neigh.lookup(4, b, arp + ARP_SPA, now, this.scratch, 0) !== LOOKUP_MISS;
    }
    if (!answer && !learn) return;
    if (spa !== 0 && !t.onLinkHost4(spa)) { this.counters.drop(D.off_link); return; }
    if (!this.limiter.allow(SourceLimiter.slot(b, arp + ARP_SHA, b, arp + ARP_SPA), now)) {
      this.counters.drop(D.rate_limited);
      return;
    }
    // spa as 4 key bytes sits in the packet itself: no copy needed. Only the answer to one of
    // our requests may take the place of a fresh entry.
    if (learn) {
      const asked = replyToUs && this.solicits.wanted(4, b, arp + ARP_SPA, now, SOLICIT_ANSWER_MS);
      this.neigh.update(4, b, arp + ARP_SPA, b, arp + ARP_SHA, now, asked);
    }
    if (!answer) return;
    const bound = t.addr4Bound[target];
    const r = this.reply;
    r.fill(0, 0, VNET_LEN);
    writeArpReplyInPlace(r, VNET_LEN, t.nicMac, bound * 6, tpa, b, arp + ARP_SHA, spa);
    // The Ethernet source of a reply is the NIC it leaves from; the ARP body carries the bound MAC.
    for (let j = 0; j < 6; j++) r[VNET_LEN + 6 + j] = t.nicMac[nic * 6 + j];
    if (this.port.send(t.nicFd[nic], r, 0, r.length) < 0) this.counters.drop(D.send_error);
    else this.counters.extra(X_ARP_REPLIES);
  }
}
