// Seeded pseudo-random numbers for the soak: Rng draws the fault schedule, the hold times and
// the transfers' seeds, so a seed reproduces the same sequence of decisions; StreamGen gives
// the bytes of a transfer, addressable by offset, so the receiver regenerates what the
// sender wrote and compares it chunk by chunk.

/** mulberry32: small, fast, seeded; good enough for schedules (not for cryptography). */
export class Rng {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + this.next() * (hi - lo);
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)];
  }

  /** A 32-bit value, e.g. a transfer's stream seed. */
  u32(): number {
    return Math.floor(this.next() * 4294967296) >>> 0;
  }

  /** Fisher-Yates, in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }
}

/** Stream block size: the unit the generator fills at once. */
export const BLOCK = 4096;
const WORDS = BLOCK / 4;

/** murmur3's 32-bit finaliser: spreads the seed and block number over all bits. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The bytes of stream `seed`: block k is 1024 xorshift32 words from a state derived from
 * (seed, k). Any offset can be produced without producing what comes before it.
 */
export class StreamGen {
  private readonly bytes = Buffer.alloc(BLOCK);
  private readonly words = new Uint32Array(this.bytes.buffer, this.bytes.byteOffset, WORDS);
  private block = -1;

  constructor(readonly seed: number) {}

  private fill(k: number): void {
    let x = fmix32((this.seed ^ Math.imul(k >>> 0, 0x9e3779b1) ^ fmix32(Math.floor(k / 4294967296) + 1)) >>> 0) || 1;
    const w = this.words;
    for (let i = 0; i < WORDS; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      w[i] = x >>> 0;
    }
    this.block = k;
  }

  /** Writes the stream's bytes [offset, offset + n) into dst at dstOffset. */
  read(offset: number, dst: Buffer, dstOffset: number, n: number): void {
    while (n > 0) {
      const k = Math.floor(offset / BLOCK);
      const o = offset - k * BLOCK;
      if (k !== this.block) this.fill(k);
      const m = Math.min(n, BLOCK - o);
      this.bytes.copy(dst, dstOffset, o, o + m);
      offset += m;
      dstOffset += m;
      n -= m;
    }
  }
}
