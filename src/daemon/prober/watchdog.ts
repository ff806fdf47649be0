/**
 * Liveness of the probe worker as the main thread sees it. Pure: the clock is passed in.
 *
 * The worker posts `alive` every ALIVE_MS; the main thread calls `alive(now)` for each and
 * `tick(now)` every `tickNs`. The worker is stuck once it has been silent for `stuckNs` of
 * time the main thread itself was running: a tick that comes late by more than `slackNs`
 * means the main thread stalled (its messages were queued meanwhile), so only the expected
 * tick interval of that gap counts. A main-thread stall therefore never looks like a stuck
 * worker; a worker whose loop does not turn is found within about stuckNs + tickNs.
 */
export class Watchdog {
  private silentNs = 0;
  private lastTickNs: number;

  constructor(nowNs: number, readonly stuckNs: number, readonly tickNs: number, readonly slackNs: number) {
    this.lastTickNs = nowNs;
  }

  /** How long the worker has been silent, in main-thread running time. */
  get silenceNs(): number {
    return this.silentNs;
  }

  alive(): void {
    this.silentNs = 0;
  }

  /** True when the worker counts as stuck. */
  tick(nowNs: number): boolean {
    const gap = Math.max(0, nowNs - this.lastTickNs);
    this.lastTickNs = nowNs;
    this.silentNs += gap > this.tickNs + this.slackNs ? this.tickNs : gap;
    return this.silentNs >= this.stuckNs;
  }

  /** Starts over (a new worker). */
  reset(nowNs: number): void {
    this.silentNs = 0;
    this.lastTickNs = nowNs;
  }
}
