/**
 * The neighbour table: IP → MAC of the hosts on the group's link, in a
 * SharedArrayBuffer. The RX worker is the single writer (it hears ARP replies
 * and requests); the TX worker reads it to address frames.
 *
 * Open addressing with linear probing over NEIGH_CAPACITY entries; each entry
 * has its own sequence lock so a reader never sees half an update. Entries are
 * never deleted, only aged: a reader treats an entry older than NEIGH_EXPIRE_MS
 * as absent and one older than NEIGH_STALE_MS as due for re-resolution. When the
 * probe window is full the oldest entry in it is overwritten, but only for a
 * neighbour we asked for; an unsolicited one never displaces a fresh entry.
 *
 * Entry (NEIGH_SIZE bytes): seq i32 @0, family u8 @4, used u8 @5, pad, time i32 @8
 * (ms, coarse clock modulo 2^31), key[16] @12, mac[6] @28.
 */
import { loadNative, type NativeAddon } from '../io/native.js';

export const NEIGH_CAPACITY = 1024;
export const NEIGH_SIZE = 36;
export const NEIGH_STALE_MS = 30_000;
export const NEIGH_EXPIRE_MS = 300_000;
const PROBE_WINDOW = 16;

const E_SEQ = 0;
const E_FAMILY = 4;
const E_USED = 5;
const E_TIME = 8;
const E_KEY = 12;
const E_MAC = 28;

export const NEIGH_BYTES = 16 + NEIGH_CAPACITY * NEIGH_SIZE;

export const LOOKUP_MISS = 0;
export const LOOKUP_FRESH = 1;
export const LOOKUP_STALE = 2;

/**
 * Age of an entry stamped at `t`, seen at `now` (both coarseNowMs, modulo 2^31-1). Clocks read
 * on different threads can put `t` a little after `now`: up to a minute ahead counts as age 0,
 * not as an entry 24 days old.
 */
export function ageMs(now: number, t: number): number {
  const age = (now - t + 0x7fffffff) % 0x7fffffff;
  return age > 0x7fffffff - 60_000 ? 0 : age;
}

let native: NativeAddon | undefined;

/**
 * Coarse millisecond clock that fits an Int32 and is comparable within ~24 days: the monotonic
 * clock, read alike by every thread (the forwarding worker stamps entries the control thread ages).
 */
export function coarseNowMs(): number {
  return (native ??= loadNative()).coarseMs();
}

function hashKey(family: number, key: Uint8Array, off: number): number {
  const n = family === 4 ? 4 : 16;
  let h = 0x811c9dc5 ^ family;
  for (let i = 0; i < n; i++) {
    h ^= key[off + i];
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return (h >>> 0) % NEIGH_CAPACITY;
}

export class NeighbourTable {
  readonly sab: SharedArrayBuffer;
  private readonly i32: Int32Array;
  private readonly u8: Uint8Array;

  constructor(sab?: SharedArrayBuffer) {
    this.sab = sab ?? new SharedArrayBuffer(NEIGH_BYTES);
    this.i32 = new Int32Array(this.sab);
    this.u8 = new Uint8Array(this.sab);
  }

  /** Header word 0 counts writes, so a reader can tell cheaply whether anything changed. */
  version(): number {
    return Atomics.load(this.i32, 0);
  }

  private base(idx: number): number {
    return 16 + idx * NEIGH_SIZE;
  }

  private keyEquals(base: number, family: number, key: Uint8Array, off: number): boolean {
    const u8 = this.u8;
    if (u8[base + E_USED] === 0 || u8[base + E_FAMILY] !== family) return false;
    const n = family === 4 ? 4 : 16;
    for (let i = 0; i < n; i++) if (u8[base + E_KEY + i] !== key[off + i]) return false;
    return true;
  }

  /**
   * Looks up key (4 or 16 bytes at key[off]) and copies the MAC to mac[macOff].
   * Returns LOOKUP_MISS, LOOKUP_FRESH or LOOKUP_STALE. No allocation.
   */
  lookup(family: number, key: Uint8Array, off: number, now: number, mac: Uint8Array, macOff: number): number {
    const start = hashKey(family, key, off);
    for (let p = 0; p < PROBE_WINDOW; p++) {
      const base = this.base((start + p) % NEIGH_CAPACITY);
      for (let attempt = 0; attempt < 4; attempt++) {
        const s1 = Atomics.load(this.i32, (base + E_SEQ) >> 2);
        if (s1 & 1) continue;
        if (!this.keyEquals(base, family, key, off)) {
          if (Atomics.load(this.i32, (base + E_SEQ) >> 2) !== s1) continue;
          break;
        }
        const t = this.i32[(base + E_TIME) >> 2];
        for (let i = 0; i < 6; i++) mac[macOff + i] = this.u8[base + E_MAC + i];
        if (Atomics.load(this.i32, (base + E_SEQ) >> 2) !== s1) continue;
        const age = ageMs(now, t);
        if (age > NEIGH_EXPIRE_MS) return LOOKUP_MISS;
        return age > NEIGH_STALE_MS ? LOOKUP_STALE : LOOKUP_FRESH;
      }
    }
    return LOOKUP_MISS;
  }

  /**
   * Writer only: inserts or refreshes key → mac[macOff..+6]. A new key takes a
   * free place in its probe window, else the oldest entry's; with
   * `evictFresh` false (an unsolicited neighbour) it takes only a free place or
   * one older than NEIGH_STALE_MS, so entries in use are never pushed out by
   * strangers. Returns false when the key found no place.
   */
  update(family: number, key: Uint8Array, off: number, mac: Uint8Array, macOff: number, now: number,
    evictFresh = true): boolean {
    const start = hashKey(family, key, off);
    let victim = -1;
    let victimAge = -1;
    let slot = -1;
    for (let p = 0; p < PROBE_WINDOW; p++) {
      const idx = (start + p) % NEIGH_CAPACITY;
      const base = this.base(idx);
      if (this.keyEquals(base, family, key, off)) { slot = idx; break; }
      if (this.u8[base + E_USED] === 0) { if (victim < 0 || victimAge < Infinity) { victim = idx; victimAge = Infinity; } continue; }
      const age = ageMs(now, this.i32[(base + E_TIME) >> 2]);
      if (age > victimAge) { victim = idx; victimAge = age; }
    }
    if (slot < 0) {
      if (!evictFresh && victimAge <= NEIGH_STALE_MS) return false;
      slot = victim;
    }
    const base = this.base(slot);
    const seqIdx = (base + E_SEQ) >> 2;
    Atomics.add(this.i32, seqIdx, 1);
    this.u8[base + E_FAMILY] = family;
    this.u8[base + E_USED] = 1;
    this.i32[(base + E_TIME) >> 2] = now;
    const n = family === 4 ? 4 : 16;
    for (let i = 0; i < 16; i++) this.u8[base + E_KEY + i] = i < n ? key[off + i] : 0;
    for (let i = 0; i < 6; i++) this.u8[base + E_MAC + i] = mac[macOff + i];
    Atomics.add(this.i32, seqIdx, 1);
    Atomics.add(this.i32, 0, 1);
    return true;
  }

  /** Off the hot path: every live entry, for dumps and tests. */
  entries(now: number): Array<{ family: number; key: Uint8Array; mac: Uint8Array; ageMs: number }> {
    const out: Array<{ family: number; key: Uint8Array; mac: Uint8Array; ageMs: number }> = [];
    for (let idx = 0; idx < NEIGH_CAPACITY; idx++) {
      const base = this.base(idx);
      if (this.u8[base + E_USED] === 0) continue;
      const family = this.u8[base + E_FAMILY];
      const n = family === 4 ? 4 : 16;
      out.push({
        family,
        key: this.u8.slice(base + E_KEY, base + E_KEY + n),
        mac: this.u8.slice(base + E_MAC, base + E_MAC + 6),
        ageMs: ageMs(now, this.i32[(base + E_TIME) >> 2]),
      });
    }
    return out;
  }
}
