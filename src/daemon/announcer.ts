/**
 * Announcements when a data address moves (reference §9.3), sent through the
 * nominated NIC with its MAC as the Ethernet source:
 *   IPv4: gratuitous ARPs (ARP requests with sender IP = target IP, sender
 *         MAC = the bound NIC's MAC, to broadcast), ANNOUNCE_COUNT of them
 *         ANNOUNCE_INTERVAL_MS apart;
 *   IPv6: unsolicited Neighbour Advertisements to ff02::1 (Override set,
 *         target link-layer option = the bound NIC's MAC), ANNOUNCE6_COUNT
 *         of them ANNOUNCE6_INTERVAL_MS apart. The address is added without
 *         DAD, so an initial bind announces at once too.
 * A newer move of the same address cancels the rest of the older series. One
 * coarse timer drives every series.
 */
import { VNET_LEN } from '../dataplane/layout.js';
import { ARP_FRAME_LEN, ARP_OP_REQUEST, writeArpBody } from '../wire/arp.js';
import { BROADCAST_MAC, ETHERTYPE_ARP, writeEthHeader } from '../wire/ethernet.js';
import { ALL_NODES6, ALL_NODES_MAC, NA_FLAG_OVERRIDE, ND_LL_LEN, writeNeighborAdvertInPlace } from '../wire/icmp6-nd.js';
import { parseIpv4 } from '../wire/ipv4.js';
import { parseIpv6 } from '../wire/ipv6.js';

export const ANNOUNCE_COUNT = 5;
export const ANNOUNCE_INTERVAL_MS = 2000;
export const ANNOUNCE6_COUNT = 3;
export const ANNOUNCE6_INTERVAL_MS = 2000;
const NA_FRAME_LEN = 14 + 40 + ND_LL_LEN;

export interface AnnounceSink {
  /** Socket fd of the nominated NIC and its MAC, or null when none is active. */
  nominee(): { fd: number; mac: Uint8Array } | null;
  send(fd: number, frame: Uint8Array): number;
  onSent?(address: string): void;
}

interface Series {
  address: string;
  family: 4 | 6;
  ip: number;
  ip6: Uint8Array | null;
  mac: Uint8Array;
  left: number;
  nextAt: number;
}

export class Announcer {
  private readonly series = new Map<string, Series>();
  private timer: NodeJS.Timeout | null = null;
  private readonly frame = new Uint8Array(VNET_LEN + ARP_FRAME_LEN);
  private readonly frame6 = new Uint8Array(VNET_LEN + NA_FRAME_LEN);
  sent = 0;

  constructor(private readonly sink: AnnounceSink, private readonly count = ANNOUNCE_COUNT,
    private readonly intervalMs = ANNOUNCE_INTERVAL_MS, private readonly count6 = ANNOUNCE6_COUNT,
    private readonly interval6Ms = ANNOUNCE6_INTERVAL_MS) {}

  /** Starts (or restarts) the series for an IPv4 or IPv6 address now bound to `mac`. */
  announce(address: string, mac: Uint8Array, now = Date.now()): void {
    const v6 = address.includes(':');
    this.series.set(address, {
      address, family: v6 ? 6 : 4, ip: v6 ? 0 : parseIpv4(address), ip6: v6 ? parseIpv6(address) : null,
      mac: mac.slice(0, 6), left: v6 ? this.count6 : this.count, nextAt: now,
    });
    this.tick(now);
  }

  /** Stops the series of an address that was unbound or removed. */
  cancel(address: string): void {
    this.series.delete(address);
  }

  pending(): number {
    return this.series.size;
  }

  private tick(now = Date.now()): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    let next = Infinity;
    for (const s of this.series.values()) {
      if (s.nextAt <= now) {
        this.sendOne(s);
        s.left--;
        s.nextAt = now + (s.family === 6 ? this.interval6Ms : this.intervalMs);
        if (s.left <= 0) { this.series.delete(s.address); continue; }
      }
      next = Math.min(next, s.nextAt);
    }
    if (next !== Infinity) {
      this.timer = setTimeout(() => this.tick(), Math.max(0, next - Date.now()));
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
  }
}
