/**
 * Probe slot timing for one instance (times in monotonic ns).
 *
 * - Start (creation or link up): the first probe goes out U[0, 1] × group probe interval
 *   after the start; the slot base is the start time.
 * - Every later slot: base += user probe interval, send at base + U[0.5, 1.0] × interval.
 * - Late by more than a slot: the missed slots are skipped in whole intervals and counted.
 * - While the group probe interval is raised, a slot carries a failure-detection probe only
 *   when its base has reached `fdBase`, which then moves one group interval past that base;
 *   the other slots carry PROBE_RTT.
 */

import { MAX_RANDOM_FACTOR, MIN_RANDOM_FACTOR } from './probe-defs.js';

export class ProbeSchedule {
  /** Monotonic ns of the next send; Infinity when stopped. */
  sendAtNs = Infinity;
  private baseNs = 0;
  private fdBaseNs = 0;

  constructor(private readonly rand: () => number) {}

  start(nowNs: number, groupIntNs: number): void {
    this.baseNs = nowNs;
    this.fdBaseNs = nowNs;
    this.sendAtNs = nowNs + Math.floor(this.rand() * groupIntNs);
  }

  stop(): void {
    this.sendAtNs = Infinity;
  }

  /** True when the current slot should carry a failure-detection probe. */
  isFdSlot(slowed: boolean): boolean {
    return !slowed || this.baseNs >= this.fdBaseNs;
  }

  /** Records that the current slot carried a failure-detection probe. */
  fdSent(groupIntNs: number): void {
    this.fdBaseNs = this.baseNs + groupIntNs;
  }

  /** Moves to the next slot after a send at `nowNs`; returns how many slots were skipped. */
  advance(nowNs: number, userIntNs: number): number {
    this.baseNs += userIntNs;
    let missed = 0;
    if (this.baseNs + userIntNs <= nowNs) {
      missed = Math.floor((nowNs - this.baseNs) / userIntNs);
      this.baseNs += missed * userIntNs;
      this.fdBaseNs = Math.min(this.fdBaseNs, this.baseNs);
    }
    const factor = MIN_RANDOM_FACTOR + this.rand() * (MAX_RANDOM_FACTOR - MIN_RANDOM_FACTOR);
    this.sendAtNs = this.baseNs + Math.floor(factor * userIntNs);
    return missed;
  }
}
