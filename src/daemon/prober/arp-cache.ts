/**
 * Link-layer addresses of one NIC's probe targets, learnt from ARP (IPv4) or Neighbour
 * Discovery (IPv6) and from echo replies. Keys are IPv4 addresses as u32 or canonical IPv6 text.
 * Pure bookkeeping with the clock passed in; the owner sends the requests it asks for.
 *
 * - Only wanted addresses (the current targets) have entries; `retain` drops the rest, so
 *   the cache never holds more than the target list.
 * - A MAC is used while it was confirmed within STALE_NS; after that it is forgotten and
 *   probes to the target are not sent (they count as lost) until ARP answers again.
 * - A request is due when the MAC is unknown (at most one per RETRY_NS) or was last
 *   confirmed more than REFRESH_NS ago (at most one per REFRESH_RETRY_NS).
 */
import { copyBytes, bytesEqual } from '../../wire/bytes.js';

export const STALE_NS = 60e9;
export const REFRESH_NS = 30e9;
export const RETRY_NS = 100e6;
export const REFRESH_RETRY_NS = 5e9;

interface Entry {
  mac: Uint8Array;
  known: boolean;
  confirmedNs: number;
  requestedNs: number;
}

export class NeighbourCache<K> {
  private readonly entries = new Map<K, Entry>();

  get size(): number {
    return this.entries.size;
  }

  /** Starts tracking ip (a target). */
  want(ip: K): void {
    if (!this.entries.has(ip)) {
      this.entries.set(ip, { mac: new Uint8Array(6), known: false, confirmedNs: 0, requestedNs: -Infinity });
    }
  }

  /** Keeps only the entries of `ips`. */
  retain(ips: ReadonlySet<K>): void {
    for (const ip of this.entries.keys()) if (!ips.has(ip)) this.entries.delete(ip);
  }

  has(ip: K): boolean {
    return this.entries.has(ip);
  }

  /** ip is at b[off..off+6] (seen in ARP/ND or in a reply from it); only tracked addresses are kept. */
  learn(ip: K, b: Uint8Array, off: number, nowNs: number): void {
    const e = this.entries.get(ip);
    if (!e) return;
    if (!e.known || !bytesEqual(e.mac, 0, b, off, 6)) copyBytes(e.mac, 0, b, off, 6);
    e.known = true;
    e.confirmedNs = nowNs;
  }

  /** The MAC to send to, or null when unknown or stale. */
  macOf(ip: K, nowNs: number): Uint8Array | null {
    const e = this.entries.get(ip);
    if (!e || !e.known) return null;
    if (nowNs - e.confirmedNs > STALE_NS) {
      e.known = false;
      return null;
    }
    return e.mac;
  }

  /** True when a request for ip should go out now; records it as sent. */
  requestDue(ip: K, nowNs: number): boolean {
    const e = this.entries.get(ip);
    if (!e) return false;
    const known = this.macOf(ip, nowNs) !== null;
    const due = known
      ? nowNs - e.confirmedNs > REFRESH_NS && nowNs - e.requestedNs > REFRESH_RETRY_NS
      : nowNs - e.requestedNs > RETRY_NS;
    if (due) e.requestedNs = nowNs;
    return due;
  }

  /** For stats: ip → MAC text or "incomplete". */
  dump(format: (ip: K) => string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [ip, e] of this.entries) {
      out[format(ip)] = e.known ? Array.from(e.mac, (x) => x.toString(16).padStart(2, '0')).join(':') : 'incomplete';
    }
    return out;
  }
}

/** The IPv4 cache (ARP). */
export class ArpCache extends NeighbourCache<number> {}
