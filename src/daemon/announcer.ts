/**
 * Announcements when a data address moves (reference §9.3): gratuitous ARPs
 * (ARP requests with sender IP = target IP, sender MAC = the bound NIC's MAC,
 * to broadcast), ANNOUNCE_COUNT of them ANNOUNCE_INTERVAL_MS apart, sent
 * through the nominated NIC. A newer move of the same address cancels the
 * rest of the older series. One coarse timer drives every series.
 */
import { VNET_LEN } from '../dataplane/layout.js';
import { ARP_FRAME_LEN, ARP_OP_REQUEST, writeArpBody } from '../wire/arp.js';
import { BROADCAST_MAC, ETHERTYPE_ARP, writeEthHeader } from '../wire/ethernet.js';
import { parseIpv4 } from '../wire/ipv4.js';

export const ANNOUNCE_COUNT = 5;
export const ANNOUNCE_INTERVAL_MS = 2000;

export interface AnnounceSink {
  /** Socket fd of the nominated NIC and its MAC, or null when none is active. */
  nominee(): { fd: number; mac: Uint8Array } | null;
  send(fd: number, frame: Uint8Array): number;
  onSent?(address: string): void;
}

interface Series {
  address: string;
  ip: number;
  mac: Uint8Array;
  left: number;
  nextAt: number;
}

export class Announcer {
  private readonly series = new Map<string, Series>();
  private timer: NodeJS.Timeout | null = null;
  private readonly frame = new Uint8Array(VNET_LEN + ARP_FRAME_LEN);
  sent = 0;

  constructor(private readonly sink: AnnounceSink, private readonly count = ANNOUNCE_COUNT,
    private readonly intervalMs = ANNOUNCE_INTERVAL_MS) {}

  /** Starts (or restarts) the series for an IPv4 address now bound to `mac`. */
  announce(address: string, mac: Uint8Array, now = Date.now()): void {
    if (address.includes(':')) return; // IPv6 announcements are unsolicited NAs, sent elsewhere.
    this.series.set(address, { address, ip: parseIpv4(address), mac: mac.slice(0, 6), left: this.count, nextAt: now });
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
        s.nextAt = now + this.intervalMs;
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

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.series.clear();
  }
}
