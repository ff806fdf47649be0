/**
 * Token buckets for the ARP/ND responder: one per source in a small fixed
 * table, plus one for everything, so a flood costs a bounded number of
 * replies and neighbour-table writes per second whatever its sources.
 *
 * A source is its MAC and IP address, hashed into RL_SLOTS buckets; sources
 * that share a bucket share its budget (stricter, never looser). Each ARP
 * request we would answer, or ARP/ND frame we would learn from, takes one
 * token from its source's bucket and one from the overall bucket. Time is the
 * coarse millisecond clock of neighbours.ts, passed in. No allocation.
 */

/** Buckets in the per-source table. */
export const RL_SLOTS = 256;
/** Per source: burst, and tokens per second. A host asks for one address about once a minute. */
export const RL_SOURCE_BURST = 16;
export const RL_SOURCE_RATE = 8;
/** All sources together. */
export const RL_TOTAL_BURST = 256;
export const RL_TOTAL_RATE = 1000;

const WRAP = 0x7fffffff;

export class SourceLimiter {
  private readonly tokens = new Float64Array(RL_SLOTS + 1);
  private readonly stamp = new Int32Array(RL_SLOTS + 1);
  private readonly seen = new Uint8Array(RL_SLOTS + 1);

  constructor(
    private readonly burst = RL_SOURCE_BURST,
    private readonly rate = RL_SOURCE_RATE,
    private readonly totalBurst = RL_TOTAL_BURST,
    private readonly totalRate = RL_TOTAL_RATE,
  ) {}

  /** Bucket of the source with the 6-byte MAC at mac[macOff] and the IP whose last 4 bytes are at ip[ipOff]. */
  static slot(mac: Uint8Array, macOff: number, ip: Uint8Array, ipOff: number): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < 6; i++) { h ^= mac[macOff + i]; h = Math.imul(h, 0x01000193); }
    for (let i = 0; i < 4; i++) { h ^= ip[ipOff + i]; h = Math.imul(h, 0x01000193); }
    h ^= h >>> 13;
    return (h >>> 0) % RL_SLOTS;
  }

  /** Takes a token from bucket `slot` and from the overall bucket; false when either is empty. */
  allow(slot: number, now: number): boolean {
    if (!this.take(slot, now, this.burst, this.rate)) return false;
    if (this.take(RL_SLOTS, now, this.totalBurst, this.totalRate)) return true;
    this.tokens[slot] += 1; // not spent: the overall budget refused
    return false;
  }

  private take(i: number, now: number, burst: number, rate: number): boolean {
    let t = this.tokens[i];
    if (!this.seen[i]) {
      this.seen[i] = 1;
      t = burst;
    } else {
      const dt = (now - this.stamp[i] + WRAP) % WRAP;
      t += (dt * rate) / 1000;
      if (t > burst) t = burst;
    }
    this.stamp[i] = now;
    if (t < 1) { this.tokens[i] = t; return false; }
    this.tokens[i] = t - 1;
    return true;
  }
}
