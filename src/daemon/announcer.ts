/**
 * Announcements when a data address moves (reference §9.3), sent through the
 * nominated NIC with its MAC as the Ethernet source:
 *   IPv4: gratuitous ARPs (ARP requests with sender IP = target IP, sender
 *         MAC = the bound NIC's MAC, to broadcast), ANNOUNCE_COUNT of them
 *         ANNOUNCE_INTERVAL_MS apart;
 *   IPv6: unsolicited Neighbour Advertisements to ff02::1 (Override set,
 *         target link-layer option = the bound NIC's MAC), ANNOUNCE6_COUNT
 *         of them ANNOUNCE6_INTERVAL_MS apart.
 *
 * On the initial bind of an address (it is brought up, or the first NIC
 * becomes active after a total failure; never on a rebind) the daemon runs
 * Duplicate Address Detection first, as ipmp0 holds its addresses without the
 * kernel's:
 *   IPv6 (RFC 4862 §5.4, DupAddrDetectTransmits 1): one NS from :: to the
 *         address's solicited-node group through the nominee, carrying a
 *         fresh nonce (RFC 7527), then DAD_RETRANS_MS of listening;
 *   IPv4 (RFC 5227 §2.1, Solaris fast mode: our NICs report link state):
 *         after a random delay below DAD4_MAX_DELAY_MS, DAD4_PROBES ARP probes
 *         (sender IP 0.0.0.0, sender MAC = the bound NIC's, target IP = the
 *         address, target MAC zero, to broadcast) from the bound NIC,
 *         DAD4_PROBE_INTERVAL_MS apart, then DAD4_WAIT_MS of listening.
 * Every probe series of an address shares one shape: probes still to send,
 * the time of the next one, and the end of the listening window after the
 * last one. What the RX path reports from the moment the series starts makes
 * the address a duplicate: a claim on it (IPv4: an ARP whose sender IP is the
 * address; IPv6: an NA for it) from a MAC that is not one of the group's, or
 * another node's own probe for it (RFC 5227 §2.1.1, RFC 4862 §5.4.3: both are
 * trying the address; an IPv6 probe with our nonce is our own, looped back).
 * Once a claim is known no further probe goes out; a duplicate is reported
 * once and never announced. The conflict ring is drained when the series
 * starts (what it held is older than the series and not an answer to it),
 * before each probe, and when the window closes, so the daemon's periodic
 * polling cannot move a claim out of the window. While an address is tentative or duplicate,
 * `tentative()` is true and the data plane treats it as unbound (no answers,
 * no defence, never an ARP/NS sender).
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
/** IPv4 DAD (reference tunables: Solaris _arp_fastprobe_count, _arp_fastprobe_interval). */
export const DAD4_PROBES = 3;
export const DAD4_PROBE_INTERVAL_MS = 150;
/** The first IPv4 probe goes out after a random delay below this (Solaris _arp_fastprobe_delay). */
export const DAD4_MAX_DELAY_MS = 100;
/**
 * Listening after the last IPv4 probe: one more probe interval, as Solaris
 * completes DAD when the timer of a probe count already at zero fires. RFC
 * 5227's ANNOUNCE_WAIT (2 s) is sized for its 1–2 s probe spacing; with link
 * state known, an answer to the first probe has 450 ms to arrive.
 */
export const DAD4_WAIT_MS = DAD4_PROBE_INTERVAL_MS;
const NA_FRAME_LEN = 14 + 40 + ND_LL_LEN;
const ZERO_MAC = new Uint8Array(6);

/** IPv4 DAD timing; `random` gives [0, 1) for the initial delay. */
export interface Dad4Timing {
  probes: number;
  intervalMs: number;
  maxDelayMs: number;
  waitMs: number;
  random: () => number;
}

export interface AnnounceSink {
  /** Socket fd of the nominated NIC and its MAC, or null when none is active. */
  nominee(): { fd: number; mac: Uint8Array } | null;
  /** Socket fd and MAC of the NIC an address is bound to (IPv4 DAD probes leave from it); the nominee when absent. */
  bound?(address: string): { fd: number; mac: Uint8Array } | null;
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
  /** DAD runs: probes are still to send, or the window after the last one is open. */
  dad: boolean;
  /** DAD probes still to send, the next one at probeAt. */
  probes: number;
  probeAt: number;
  /** End of the listening window, once the last probe went out (0 before). */
  dadUntil: number;
  /** Reports count for this series (false until the conflict ring was drained after it started). */
  listening: boolean;
  /** MAC of the node that claimed the address during DAD, null when none did. */
  dupMac: string | null;
  /** The nonce of this IPv6 DAD run's probe (hex of `nonce`), '' without one. */
  nonceHex: string;
  nonce: Uint8Array | null;
}

export class Announcer {
  private readonly series = new Map<string, Series>();
  private timer: NodeJS.Timeout | null = null;
  private readonly frame = new Uint8Array(VNET_LEN + ARP_FRAME_LEN);
  private readonly frame6 = new Uint8Array(VNET_LEN + NA_FRAME_LEN);
  /** Addresses found duplicate by DAD, with the claiming MAC: never announced until re-added. */
  private readonly duplicates = new Map<string, string>();
  /** Addresses whose DAD is about to start (tentative already). */
  private readonly expecting = new Set<string>();
  private readonly dad4: Dad4Timing;
  private held = false;
  sent = 0;
  dadProbes = 0;

  constructor(private readonly sink: AnnounceSink, private readonly count = ANNOUNCE_COUNT,
    private readonly intervalMs = ANNOUNCE_INTERVAL_MS, private readonly count6 = ANNOUNCE6_COUNT,
    private readonly interval6Ms = ANNOUNCE6_INTERVAL_MS, private readonly dadMs = DAD_RETRANS_MS,
    private readonly clock: () => number = Date.now, dad4: Partial<Dad4Timing> = {}) {
    this.dad4 = {
      probes: DAD4_PROBES, intervalMs: DAD4_PROBE_INTERVAL_MS, maxDelayMs: DAD4_MAX_DELAY_MS, waitMs: DAD4_WAIT_MS,
      random: Math.random, ...dad4,
    };
  }

  /**
   * Starts (or restarts) the series for an IPv4 or IPv6 address now bound to
   * `mac`. `initial` (an initial bind) runs DAD first.
   */
  announce(address: string, mac: Uint8Array, now = this.clock(), initial = false): void {
    const v6 = address.includes(':');
    const cur = this.series.get(address);
    if (!initial && cur?.dad) { cur.mac = mac.slice(0, 6); return; }
    if (!initial && this.duplicates.has(address)) return;
    if (initial) this.duplicates.delete(address);
    const s: Series = {
      address, family: v6 ? 6 : 4, ip: v6 ? 0 : parseIpv4(address), ip6: v6 ? parseIpv6(address) : null,
      mac: mac.slice(0, 6), left: v6 ? this.count6 : this.count, nextAt: now,
      dad: initial, probes: 0, probeAt: now, dadUntil: 0, listening: !initial, dupMac: null, nonceHex: '', nonce: null,
    };
    this.expecting.delete(address);
    if (initial) {
      s.probes = v6 ? 1 : this.dad4.probes;
      if (v6) {
        s.nonce = randomFillSync(new Uint8Array(ND_NONCE_LEN));
        s.nonceHex = Buffer.from(s.nonce).toString('hex');
      }
    }
    this.series.set(address, s);
    if (this.held) return;
    if (initial) this.startDad([s], now);
    this.tick(now);
  }

  /** Marks an address tentative ahead of its announce() with `initial` (so tables published first leave it unbound). */
  expectDad(address: string): void {
    this.expecting.add(address);
  }

  /**
   * Holds every series until release(): at start, the RX path that hears the
   * answers to DAD probes is not running yet.
   */
  hold(): void {
    this.held = true;
  }

  /** Starts the held DAD runs (their probes and windows count from now) and sends the held announcements. */
  release(now = this.clock()): void {
    if (!this.held) return;
    this.held = false;
    const waiting = [...this.series.values()].filter((s) => s.dad && !s.listening);
    if (waiting.length > 0) this.startDad(waiting, now);
    this.tick(now);
  }

  /**
   * DAD of these series starts: what the conflict ring holds now is older
   * than them (not an answer to their probes); from here on reports count.
   * The first IPv4 probe waits a random delay (reference §9.3), an IPv6 probe
   * goes at once.
   */
  private startDad(list: Series[], now: number): void {
    this.sink.drainConflicts?.();
    for (const s of list) {
      s.listening = true;
      s.probeAt = now + (s.family === 4 ? Math.floor(this.dad4.random() * this.dad4.maxDelayMs) : 0);
    }
  }

  /**
   * A claim on `address` by `mac`, or (with `dadNonce` given, null when it had
   * none) another node's DAD probe for it, reported by the RX path: a duplicate
   * while its DAD runs, unless the probe carries this run's own nonce.
   */
  conflict(address: string, mac: string, dadNonce?: string | null): void {
    const s = this.series.get(address) ?? this.findSeries(address);
    if (!s || !s.dad || !s.listening || s.dupMac !== null) return;
    if (dadNonce !== undefined && dadNonce !== null && dadNonce === s.nonceHex) return;
    s.dupMac = mac;
  }

  /** The series of an address written another way (IPv6 text has several forms), or undefined. */
  private findSeries(address: string): Series | undefined {
    if (address.includes(':')) {
      const ip6 = parseIpv6(address);
      for (const s of this.series.values()) if (s.ip6 !== null && s.ip6.every((v, i) => v === ip6[i])) return s;
      return undefined;
    }
    const ip = parseIpv4(address);
    for (const s of this.series.values()) if (s.ip6 === null && s.ip === ip) return s;
    return undefined;
  }

  /** The MAC of the node that holds an address found duplicate by DAD, or null when it is not one. */
  duplicateOf(address: string): string | null {
    return this.duplicates.get(address) ?? null;
  }

  /** True while DAD of the address runs, or after it found a duplicate. */
  tentative(address: string): boolean {
    return this.probing(address) || this.duplicates.has(address);
  }

  /** True while DAD of the address runs (or is about to). */
  probing(address: string): boolean {
    return this.expecting.has(address) || (this.series.get(address)?.dad ?? false);
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
      if (s.dad) {
        if (!s.listening) continue;
        // Reports are read before each probe, so an answer to the previous one stops the series.
        if (s.dupMac === null && s.probes > 0 && s.probeAt <= now && !drained) { this.sink.drainConflicts?.(); drained = true; }
        if (s.dupMac === null && s.probes > 0 && s.probeAt <= now) {
          this.sendProbe(s);
          s.probes--;
          if (s.probes > 0) s.probeAt = now + this.dad4.intervalMs;
          else s.dadUntil = now + (s.family === 6 ? this.dadMs : this.dad4.waitMs);
        }
        const closes = s.dupMac !== null || (s.probes === 0 && s.dadUntil <= now);
        if (closes && !drained && s.dupMac === null) { this.sink.drainConflicts?.(); drained = true; }
        if (!closes) { next = Math.min(next, s.probes > 0 ? s.probeAt : s.dadUntil); continue; }
        s.dad = false;
        if (s.dupMac !== null) {
          this.series.delete(s.address);
          this.duplicates.set(s.address, s.dupMac);
          this.sink.onDad?.(s.address, true, s.dupMac);
          continue;
        }
        this.sink.onDad?.(s.address, false, null);
        s.nextAt = now;
      }
      if (s.nextAt <= now) {
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

  /**
   * One DAD probe for s. IPv6: NS from :: to the solicited-node group through
   * the nominee, no source link-layer option, s's nonce. IPv4: ARP probe from
   * the bound NIC (RFC 5227 §2.1.1).
   */
  private sendProbe(s: Series): void {
    if (s.ip6 === null) { this.sendArpProbe(s); return; }
    const nom = this.sink.nominee();
    if (!nom || s.nonce === null) return;
    const f = this.frame6;
    f.fill(0, 0, VNET_LEN);
    const n = writeDadSolicit(f, VNET_LEN, nom.mac, 0, s.ip6, 0, s.nonce, 0);
    if (this.sink.send(nom.fd, f.subarray(0, VNET_LEN + n)) >= 0) this.dadProbes++;
  }

  private sendArpProbe(s: Series): void {
    const nic = this.sink.bound ? this.sink.bound(s.address) : this.sink.nominee();
    if (!nic) return;
    const f = this.frame;
    f.fill(0, 0, VNET_LEN);
    writeEthHeader(f, VNET_LEN, BROADCAST_MAC, 0, nic.mac, 0, ETHERTYPE_ARP);
    writeArpBody(f, VNET_LEN + 14, ARP_OP_REQUEST, s.mac, 0, 0, ZERO_MAC, 0, s.ip);
    if (this.sink.send(nic.fd, f) >= 0) this.dadProbes++;
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
