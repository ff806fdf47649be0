/**
 * Packets waiting for their next hop's MAC. A fixed pool of slots allocated
 * once: at most PENDING_PER_NEIGH packets per next hop and PENDING_SLOTS in
 * all; a packet still unresolved after PENDING_TIMEOUT_MS is dropped
 * (counted as neigh_unresolved). Requests are repeated every second while
 * packets wait. Slots hold IPv4 next hops (4-byte keys, ARP) and IPv6 next
 * hops (16-byte keys, Neighbour Solicitation) alike.
 */
import { flowBucket } from './flowhash.js';
import { ETH_OFF, IP_OFF, SLOT_SIZE, VNET_OFF } from './layout.js';
import { TableReader } from './table-reader.js';
import { Resolver } from './resolver.js';
import { Counters, D } from '../tables/counters.js';
import { LOOKUP_MISS, NeighbourTable } from '../tables/neighbours.js';
import { NO_NIC } from '../tables/shared-tables.js';
import type { PacketPort } from '../io/ports.js';
import { shiftVnetOffsets } from '../wire/vnet.js';
import { copyBytes } from '../wire/bytes.js';
import { ipv6Equals } from '../wire/ipv6.js';

export const PENDING_SLOTS = 32;
export const PENDING_PER_NEIGH = 8;
export const PENDING_TIMEOUT_MS = 3000;

export class PendingQueue {
  private readonly t: TableReader;
  private readonly neigh: NeighbourTable;
  private readonly port: PacketPort;
  private readonly counters: Counters;
  private readonly resolver: Resolver;
  private readonly pool = new Uint8Array(PENDING_SLOTS * SLOT_SIZE);
  private readonly used = new Uint8Array(PENDING_SLOTS);
  private readonly nh = new Uint32Array(PENDING_SLOTS);
  private readonly family = new Uint8Array(PENDING_SLOTS);
  private readonly nh6 = new Uint8Array(PENDING_SLOTS * 16);
  private readonly len = new Int32Array(PENDING_SLOTS);
  private readonly since = new Int32Array(PENDING_SLOTS);
  private readonly key = new Uint8Array(4);
  private count = 0;
  private seenVersion = -1;

  constructor(t: TableReader, neigh: NeighbourTable, port: PacketPort, counters: Counters, resolver: Resolver) {
    this.t = t;
    this.neigh = neigh;
    this.port = port;
    this.counters = counters;
    this.resolver = resolver;
  }

  size(): number {
    return this.count;
  }

  /** Copies the packet in slot `base` of b (vnet header + IP, len bytes of IP) and asks for nh. */
  enqueue(nh: number, _nic: number, b: Uint8Array, base: number, len: number, now: number): void {
    let free = -1;
    let same = 0;
    for (let s = 0; s < PENDING_SLOTS; s++) {
      if (!this.used[s]) { if (free < 0) free = s; continue; }
      if (this.family[s] === 4 && this.nh[s] === nh) same++;
    }
    const src = ((b[base + IP_OFF + 12] << 24) | (b[base + IP_OFF + 13] << 16) | (b[base + IP_OFF + 14] << 8) | b[base + IP_OFF + 15]) >>> 0;
    this.resolver.request4(nh, src, now);
    if (free < 0 || same >= PENDING_PER_NEIGH) { this.counters.drop(D.neigh_unresolved); return; }
    this.store(free, 4, b, base, len, now);
    this.nh[free] = nh;
  }

  /** IPv6 variant: the next hop is the 16 bytes at nh6[nhOff]; asks with a Neighbour Solicitation. */
  enqueue6(nh6: Uint8Array, nhOff: number, b: Uint8Array, base: number, len: number, now: number): void {
    let free = -1;
    let same = 0;
    for (let s = 0; s < PENDING_SLOTS; s++) {
      if (!this.used[s]) { if (free < 0) free = s; continue; }
      if (this.family[s] === 6 && ipv6Equals(this.nh6, s * 16, nh6, nhOff)) same++;
    }
    this.resolver.request6(nh6, nhOff, b, base + IP_OFF + 8, now);
    if (free < 0 || same >= PENDING_PER_NEIGH) { this.counters.drop(D.neigh_unresolved); return; }
    this.store(free, 6, b, base, len, now);
    for (let j = 0; j < 16; j++) this.nh6[free * 16 + j] = nh6[nhOff + j];
  }

  private store(s: number, family: number, b: Uint8Array, base: number, len: number, now: number): void {
    const dst = s * SLOT_SIZE;
    copyBytes(this.pool, dst + VNET_OFF, b, base + VNET_OFF, 10);
    copyBytes(this.pool, dst + IP_OFF, b, base + IP_OFF, len);
    this.used[s] = 1;
    this.family[s] = family;
    this.len[s] = len;
    this.since[s] = now;
    this.count++;
  }

  /** Sends what has become resolvable, drops what waited too long, repeats requests. */
  service(now: number): void {
    if (this.count === 0) return;
    const version = this.neigh.version();
    const changed = version !== this.seenVersion;
    this.seenVersion = version;
    for (let s = 0; s < PENDING_SLOTS; s++) {
      if (!this.used[s]) continue;
      const age = now - this.since[s];
      if (changed && this.trySend(s, now)) continue;
      if (age > PENDING_TIMEOUT_MS || age < 0) {
        this.release(s);
        this.counters.drop(D.neigh_unresolved);
        continue;
      }
      const base = s * SLOT_SIZE;
      const p = this.pool;
      if (this.family[s] === 6) { this.resolver.request6(this.nh6, s * 16, p, base + IP_OFF + 8, now); continue; }
      const src = ((p[base + IP_OFF + 12] << 24) | (p[base + IP_OFF + 13] << 16) | (p[base + IP_OFF + 14] << 8) | p[base + IP_OFF + 15]) >>> 0;
      this.resolver.request4(this.nh[s], src, now);
    }
  }

  private trySend(s: number, now: number): boolean {
    const p = this.pool;
    const base = s * SLOT_SIZE;
    const v6 = this.family[s] === 6;
    if (v6) {
      if (this.neigh.lookup(6, this.nh6, s * 16, now, p, base + ETH_OFF) === LOOKUP_MISS) return false;
    } else {
      const nh = this.nh[s];
      const k = this.key;
      k[0] = nh >>> 24; k[1] = (nh >>> 16) & 0xff; k[2] = (nh >>> 8) & 0xff; k[3] = nh & 0xff;
      if (this.neigh.lookup(4, k, 0, now, p, base + ETH_OFF) === LOOKUP_MISS) return false;
    }
    const bucket = flowBucket(p, base + IP_OFF, this.len[s]);
    const nic = bucket < 0 ? NO_NIC : this.t.buckets[bucket];
    if (nic === NO_NIC || !this.t.nicActive[nic]) {
      this.release(s);
      this.counters.drop(D.no_active_nic);
      return true;
    }
    for (let j = 0; j < 6; j++) p[base + ETH_OFF + 6 + j] = this.t.nicMac[nic * 6 + j];
    p[base + ETH_OFF + 12] = v6 ? 0x86 : 0x08;
    p[base + ETH_OFF + 13] = v6 ? 0xdd : 0x00;
    shiftVnetOffsets(p, base + VNET_OFF, IP_OFF - ETH_OFF);
    const r = this.port.send(this.t.nicFd[nic], p, base + VNET_OFF, IP_OFF - VNET_OFF + this.len[s]);
    if (r < 0) this.counters.drop(D.send_error);
    else this.counters.nic(nic, 1, this.len[s]);
    this.release(s);
    return true;
  }

  private release(s: number): void {
    this.used[s] = 0;
    this.count--;
  }
}
