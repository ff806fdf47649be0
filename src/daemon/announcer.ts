/**
 * Announcements when a data address moves (reference §9.3), sent through the
 * nominated NIC with its MAC as the Ethernet source:
 *   IPv4: gratuitous ARPs (ARP requests with sender IP = target IP, sender
 *         MAC = the bound NIC's MAC, to broadcast), ANNOUNCE_COUNT of them
 *         ANNOUNCE_INTERVAL_MS apart;
 *   IPv6: unsolicited Neighbour Advertisements to ff02::1 (Override set,
 *         target link-layer option = the bound NIC's MAC), ANNOUNCE6_COUNT
 *         of them ANNOUNCE6_INTERVAL_MS apart.
 * On the initial bind of an IPv6 address (ipmp0 holds it without kernel DAD)
 * the daemon runs Duplicate Address Detection first (RFC 4862 §5.4,
 * DupAddrDetectTransmits 1): one NS from :: to the address's solicited-node
 * group, carrying a fresh nonce (RFC 7527), then DAD_RETRANS_MS of waiting.
 * What the RX path reports in that window makes the address a duplicate: a
 * claim on it (an NA for it from another node), or another node's own DAD
 * probe for it (RFC 4862 §5.4.3: both are trying the address; a probe with our
 * nonce is our own, looped back). A duplicate is logged and never announced. The conflict ring is drained
 * when the probe goes out and again when the window closes, so the daemon's
 * periodic polling cannot move a claim out of the window. While an address is
 * tentative or duplicate, `tentative()` is true and the data plane treats it
 * as unbound (no answers, no defence).
 * A newer move of the same address cancels the rest of the older series (a
 * rebind during DAD only changes the MAC announced afterwards). One coarse
 * timer drives every series.
 */
import { VNET_LEN } from '../dataplane/layout.js';
import { ARP_FRAME_LEN, ARP_OP_REQUEST, writeArpBody } from '../wire/arp.js';
import { BROADCAST_MAC, ETHERTYPE_ARP, writeEthHeader } from '../wire/ethernet.js';
import {
  ALL_NODES6, ALL_NODES_MAC, NA_FLAG_OVERRIDE, ND_LL_LEN, ND_NONCE_LEN, writeDadSolicit, writeNeighborAdvertInPlace,
} from '../wire/icmp6-nd.js';
import { randomFillSync } from 'node:crypto';
import { parseIpv4 } from '../wire/ipv4.js';
import { parseIpv6 } from '../wire/ipv6.js';

export const ANNOUNCE_COUNT = 5;
export const ANNOUNCE_INTERVAL_MS = 2000;
export const ANNOUNCE6_COUNT = 3;
export const ANNOUNCE6_INTERVAL_MS = 2000;
/** RFC 4861 RetransTimer: how long DAD waits for an answer to its one probe. */
export const DAD_RETRANS_MS = 1000;
const NA_FRAME_LEN = 14 + 40 + ND_LL_LEN;

export interface AnnounceSink {
  /** Socket fd of the nominated NIC and its MAC, or null when none is active. */
  nominee(): { fd: number; mac: Uint8Array } | null;
  send(fd: number, frame: Uint8Array): number;
  onSent?(address: string): void;
  /** Reads the RX path's conflict reports now, feeding them to conflict(). */
  drainConflicts?(): void;
  /** DAD of an address ended: clean (announcements follow) or duplicate. */
  onDad?(address: string, duplicate: boolean, mac: string | null): void;
}

interface Series {
  address: string;
  family: 4 | 6;
  ip: number;
  ip6: Uint8Array | null;
  mac: Uint8Array;
  left: number;
  nextAt: number;
  /** While DAD runs: the end of its window (0 once it passed clean). */
  dadUntil: number;
  /** MAC of the node that claimed the address during DAD, null when none did. */
  dupMac: string | null;
  /** DAD probe not sent yet (the announcer is held). */
  probeDue: boolean;
  /** The nonce of this DAD run's probe (hex of `nonce`), '' without DAD. */
  nonceHex: string;
  nonce: Uint8Array | null;
}

export class Announcer {
  private readonly series = new Map<string, Series>();
  private timer: NodeJS.Timeout | null = null;
  private readonly frame = new Uint8Array(VNET_LEN + ARP_FRAME_LEN);
  private readonly frame6 = new Uint8Array(VNET_LEN + NA_FRAME_LEN);
  /** IPv6 addresses found duplicate by DAD, with the claiming MAC: never announced until re-added. */
  private readonly duplicates = new Map<string, string>();
  /** IPv6 addresses whose DAD is about to start (tentative already). */
  private readonly expecting = new Set<string>();
  private held = false;
  sent = 0;
  dadProbes = 0;

  constructor(private readonly sink: AnnounceSink, private readonly count = ANNOUNCE_COUNT,
    private readonly intervalMs = ANNOUNCE_INTERVAL_MS, private readonly count6 = ANNOUNCE6_COUNT,
    private readonly interval6Ms = ANNOUNCE6_INTERVAL_MS, private readonly dadMs = DAD_RETRANS_MS,
    private readonly clock: () => number = Date.now) {}

  /**
   * Starts (or restarts) the series for an IPv4 or IPv6 address now bound to
   * `mac`. `initial` (an initial bind) runs DAD first for an IPv6 address.
   */
  announce(address: string, mac: Uint8Array, now = this.clock(), initial = false): void {
    const v6 = address.includes(':');
    const cur = this.series.get(address);
    if (v6 && !initial && cur && cur.dadUntil > 0) { cur.mac = mac.slice(0, 6); return; }
    if (v6 && !initial && this.duplicates.has(address)) return;
    const dad = v6 && initial;
    if (dad) this.duplicates.delete(address);
    const s: Series = {
      address, family: v6 ? 6 : 4, ip: v6 ? 0 : parseIpv4(address), ip6: v6 ? parseIpv6(address) : null,
      mac: mac.slice(0, 6), left: v6 ? this.count6 : this.count, nextAt: now,
      dadUntil: 0, dupMac: null, probeDue: false, nonceHex: '', nonce: null,
    };
    this.expecting.delete(address);
    if (dad) {
      // Claims heard before the probe are not answers to it.
      this.series.delete(address);
      s.dadUntil = s.nextAt = now + this.dadMs;
      s.probeDue = true;
      s.nonce = randomFillSync(new Uint8Array(ND_NONCE_LEN));
      s.nonceHex = Buffer.from(s.nonce).toString('hex');
      if (!this.held) { this.sink.drainConflicts?.(); this.sendDadProbe(s); }
    }
    this.series.set(address, s);
    if (!this.held) this.tick(now);
  }

  /** Marks an address tentative ahead of its announce() with `initial` (so tables published first leave it unbound). */
  expectDad(address: string): void {
    if (address.includes(':')) this.expecting.add(address);
  }

  /**
   * Holds every series until release(): at start, the RX path that hears the
   * answers to DAD probes is not running yet.
   */
  hold(): void {
    this.held = true;
  }

  /** Sends the held DAD probes (their windows start now) and the held announcements. */
  release(now = this.clock()): void {
    if (!this.held) return;
    this.held = false;
    let drained = false;
    for (const s of this.series.values()) {
      if (!s.probeDue) continue;
      if (!drained) { this.sink.drainConflicts?.(); drained = true; }
      s.dadUntil = s.nextAt = now + this.dadMs;
      this.sendDadProbe(s);
    }
    this.tick(now);
  }

  /**
   * A claim on `address` by `mac`, or (with `dadNonce` given, null when it had
   * none) another node's DAD probe for it, reported by the RX path: a duplicate
   * while its DAD runs, unless the probe carries this run's own nonce.
   */
  conflict(address: string, mac: string, dadNonce?: string | null): void {
    if (!address.includes(':')) return;
    const ip6 = parseIpv6(address);
    for (const s of this.series.values()) {
      if (s.dadUntil === 0 || s.dupMac !== null || s.ip6 === null || !s.ip6.every((v, i) => v === ip6[i])) continue;
      if (dadNonce !== undefined && dadNonce !== null && dadNonce === s.nonceHex) continue;
      s.dupMac = mac;
    }
  }

  /** The MAC of the node that holds an address found duplicate by DAD, or null when it is not one. */
  duplicateOf(address: string): string | null {
    return this.duplicates.get(address) ?? null;
  }

  /** True while DAD of the address runs, or after it found a duplicate. */
  tentative(address: string): boolean {
    return this.expecting.has(address) || (this.series.get(address)?.dadUntil ?? 0) > 0 || this.duplicates.has(address);
  }

  /** Stops the series of an address that was unbound. */
  cancel(address: string): void {
    this.series.delete(address);
    this.expecting.delete(address);
  }

  /** Stops the series of a removed address and forgets a duplicate verdict on it. */
  forget(address: string): void {
    this.series.delete(address);
    this.expecting.delete(address);
    this.duplicates.delete(address);
  }

  pending(): number {
    return this.series.size;
  }

  private tick(now = this.clock()): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    if (this.held) return;
    let next = Infinity;
    let drained = false;
    for (const s of this.series.values()) {
      if (s.dadUntil > 0 && s.dadUntil <= now) {
        if (!drained) { this.sink.drainConflicts?.(); drained = true; }
        s.dadUntil = 0;
        if (s.dupMac !== null) {
          this.series.delete(s.address);
          this.duplicates.set(s.address, s.dupMac);
          this.sink.onDad?.(s.address, true, s.dupMac);
          continue;
        }
        this.sink.onDad?.(s.address, false, null);
      }
      if (s.dadUntil === 0 && s.nextAt <= now) {
        this.sendOne(s);
        s.left--;
        s.nextAt = now + (s.family === 6 ? this.interval6Ms : this.intervalMs);
        if (s.left <= 0) { this.series.delete(s.address); continue; }
      }
      next = Math.min(next, s.nextAt);
    }
    if (next !== Infinity) {
      this.timer = setTimeout(() => this.tick(), Math.max(0, next - this.clock()));
      this.timer.unref();
    }
  }

  private sendOne(s: Series): void {
    const nom = this.sink.nominee();
    if (!nom) return;
    if (s.ip6 !== null) { this.sendNa(s, s.ip6, nom); return; }
    const f = this.frame;
    f.fill(0, 0, VNET_LEN);
    // The frame's source is the NIC it leaves from (so switches learn each MAC on its own port);
    // the ARP sender hardware address is the bound NIC's MAC.
    writeEthHeader(f, VNET_LEN, BROADCAST_MAC, 0, nom.mac, 0, ETHERTYPE_ARP);
    writeArpBody(f, VNET_LEN + 14, ARP_OP_REQUEST, s.mac, 0, s.ip, BROADCAST_MAC, 0, s.ip);
    if (this.sink.send(nom.fd, f) >= 0) {
      this.sent++;
      this.sink.onSent?.(s.address);
    }
  }

  /** DAD probe for s: NS from :: to the solicited-node group, no source link-layer option, s's nonce. */
  private sendDadProbe(s: Series): void {
    const nom = this.sink.nominee();
    if (!nom || s.ip6 === null || s.nonce === null) return;
    s.probeDue = false;
    const f = this.frame6;
    f.fill(0, 0, VNET_LEN);
    const n = writeDadSolicit(f, VNET_LEN, nom.mac, 0, s.ip6, 0, s.nonce, 0);
    if (this.sink.send(nom.fd, f.subarray(0, VNET_LEN + n)) >= 0) this.dadProbes++;
  }

  /** Unsolicited NA for s: target option = the bound MAC, Ethernet source = the nominee's MAC. */
  private sendNa(s: Series, ip6: Uint8Array, nom: { fd: number; mac: Uint8Array }): void {
    const f = this.frame6;
    f.fill(0, 0, VNET_LEN);
    writeNeighborAdvertInPlace(f, VNET_LEN, s.mac, 0, ip6, 0, ALL_NODES_MAC, 0, ALL_NODES6, 0, NA_FLAG_OVERRIDE);
    f.set(nom.mac.subarray(0, 6), VNET_LEN + 6);
    if (this.sink.send(nom.fd, f) >= 0) {
      this.sent++;
      this.sink.onSent?.(s.address);
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.series.clear();
    this.duplicates.clear();
    this.expecting.clear();
    this.held = false;
  }
}
