/**
 * Which flow buckets carried traffic lately, from the data plane's per-bucket packet counts.
 * The caller samples the counts with its clock (observe); a bucket is busy when its count moved
 * at a sample less than BUCKET_IDLE_NS before the latest one. A bucket never seen moving is
 * idle. Busy buckets are not taken from a healthy NIC by a NIC that joins (buckets.ts).
 */
import { BUCKET_COUNT } from './glossary.js';

/** A bucket with no packet for this long counts as idle: nothing of its flows is in flight. */
export const BUCKET_IDLE_NS = 1e9;

export class BucketActivity {
  private readonly last = new Float64Array(BUCKET_COUNT);
  private readonly movedAt = new Float64Array(BUCKET_COUNT).fill(-Infinity);
  private nowNs = -Infinity;

  /** Takes a sample: counts[b] is bucket b's packet count so far (monotonic). */
  observe(nowNs: number, counts: ArrayLike<number>): void {
    for (let b = 0; b < BUCKET_COUNT; b++) {
      const c = counts[b] ?? 0;
      if (c !== this.last[b]) {
        this.last[b] = c;
        this.movedAt[b] = nowNs;
      }
    }
    this.nowNs = nowNs;
  }

  busy(b: number): boolean {
    return this.nowNs - this.movedAt[b] < BUCKET_IDLE_NS;
  }
}
