/**
 * Liveness of the control thread. A coarse timer measures how late each of its turns
 * comes: the lateness is time the event loop could not run (netlink events, probe facts
 * and control requests wait meanwhile). A stall longer than the bound is logged, at most
 * once per LOG_EVERY_MS with the number of further stalls. Under systemd the same timer
 * sends WATCHDOG=1, so a control thread that stops turning stops the pings and systemd
 * restarts the daemon (the persistent TUN keeps the host's connections).
 */

/** Stalls above this are logged (ms). Well above a garbage-collection pause. */
export const LAG_BOUND_MS = 500;
export const TICK_MS = 100;
const LOG_EVERY_MS = 10_000;

/** Pure part: fed the time of every tick (ms), says what to log. */
export class LagMonitor {
  private last: number | null = null;
  private lastLog = -Infinity;
  private suppressed = 0;
  /** Largest lateness seen since start (ms). */
  maxLagMs = 0;
  stalls = 0;

  constructor(private readonly tickMs = TICK_MS, private readonly boundMs = LAG_BOUND_MS) {}

  /** Returns a log line when this tick came more than the bound late. */
  tick(now: number): string | null {
    const prev = this.last;
    this.last = now;
    if (prev === null) return null;
    const lag = now - prev - this.tickMs;
    if (lag > this.maxLagMs) this.maxLagMs = lag;
    if (lag <= this.boundMs) return null;
    this.stalls++;
    if (now - this.lastLog < LOG_EVERY_MS) { this.suppressed++; return null; }
    this.lastLog = now;
    const more = this.suppressed > 0 ? ` (${this.suppressed} more since the last report)` : '';
    this.suppressed = 0;
    return `control thread event loop stalled for ${Math.round(lag)} ms (bound ${this.boundMs} ms)${more}`;
  }
}

export interface LivenessOptions {
  log: (text: string) => void;
  /** Called every watchdogMs from the event loop (WATCHDOG=1), when set. */
  ping?: () => void;
  watchdogMs?: number | null;
}

/** Runs the monitor on an unref'd timer; stop() ends it. */
export function watchLiveness(o: LivenessOptions): { monitor: LagMonitor; stop(): void } {
  const monitor = new LagMonitor();
  let lastPing = performance.now();
  // The first turn is measured from now: a stall before it counts too.
  monitor.tick(lastPing);
  const timer = setInterval(() => {
    const now = performance.now();
    const line = monitor.tick(now);
    if (line) o.log(line);
    if (o.ping && o.watchdogMs && now - lastPing >= o.watchdogMs) {
      lastPing = now;
      o.ping();
    }
  }, TICK_MS);
  timer.unref();
  if (o.ping && o.watchdogMs) o.ping();
  return { monitor, stop: () => clearInterval(timer) };
}
