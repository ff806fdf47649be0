/**
 * The next hops the TX path asked for (ARP request or Neighbour
 * Solicitation), with the time of the last request, in a SharedArrayBuffer.
 * The resolver (TX) is the single writer and spaces its requests per next hop
 * with it; the RX path reads it to tell an answer to our own request (which
 * may take the place of a fresh neighbour entry) from an unsolicited one
 * (which may only fill a free or stale place, so a flood of strangers cannot
 * push out the neighbours in use).
 *
 * Direct-mapped: SOLICIT_SLOTS slots by key hash; a colliding next hop takes
 * the slot over (its earlier request is forgotten: at worst one more request,
 * or one answer treated as unsolicited). Each slot has a sequence lock.
 *
 * Slot (SLOT_BYTES): seq i32 @0, family u8 @4 (0 = empty), time i32 @8 (coarse
 * ms clock of neighbours.ts), key[16] @12.
 */

export const SOLICIT_SLOTS = 1024;
/** An answer counts as solicited this long after our last request (past the pending queue's 3 s). */
export const SOLICIT_ANSWER_MS = 5000;
const SLOT_BYTES = 28;
const S_FAMILY = 4;
const S_TIME = 8;
const S_KEY = 12;
export const SOLICIT_BYTES = SOLICIT_SLOTS * SLOT_BYTES;
const WRAP = 0x7fffffff;

function slotOf(family: number, key: Uint8Array, off: number): number {
  const n = family === 4 ? 4 : 16;
  let h = 0x811c9dc5 ^ family;
  for (let i = 0; i < n; i++) { h ^= key[off + i]; h = Math.imul(h, 0x01000193); }
  h ^= h >>> 15;
  return (h >>> 0) % SOLICIT_SLOTS;
}

export class SolicitTable {
  readonly sab: SharedArrayBuffer;
  private readonly i32: Int32Array;
  private readonly u8: Uint8Array;

  constructor(sab?: SharedArrayBuffer) {
    this.sab = sab ?? new SharedArrayBuffer(SOLICIT_BYTES);
    this.i32 = new Int32Array(this.sab);
    this.u8 = new Uint8Array(this.sab);
  }

  /** Writer only: records a request for key (4 or 16 bytes at key[off]) at `now`. */
  record(family: number, key: Uint8Array, off: number, now: number): void {
    const base = slotOf(family, key, off) * SLOT_BYTES;
    const seq = base >> 2;
    Atomics.add(this.i32, seq, 1);
    this.u8[base + S_FAMILY] = family;
    this.i32[(base + S_TIME) >> 2] = now;
    const n = family === 4 ? 4 : 16;
    for (let i = 0; i < 16; i++) this.u8[base + S_KEY + i] = i < n ? key[off + i] : 0;
    Atomics.add(this.i32, seq, 1);
  }

  /** Milliseconds since the last request for key, or -1 when none is remembered. */
  age(family: number, key: Uint8Array, off: number, now: number): number {
    const base = slotOf(family, key, off) * SLOT_BYTES;
    const seq = base >> 2;
    const n = family === 4 ? 4 : 16;
    for (let attempt = 0; attempt < 4; attempt++) {
      const s1 = Atomics.load(this.i32, seq);
      if (s1 & 1) continue;
      let same = this.u8[base + S_FAMILY] === family;
      for (let i = 0; same && i < n; i++) if (this.u8[base + S_KEY + i] !== key[off + i]) same = false;
      const t = this.i32[(base + S_TIME) >> 2];
      if (Atomics.load(this.i32, seq) !== s1) continue;
      return same ? (now - t + WRAP) % WRAP : -1;
    }
    return -1;
  }

  /** True when key was asked for within `withinMs`. */
  wanted(family: number, key: Uint8Array, off: number, now: number, withinMs: number): boolean {
    const a = this.age(family, key, off, now);
    return a >= 0 && a < withinMs;
  }
}
