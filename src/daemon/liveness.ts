import type { WorkerStatus } from './protocol.js';

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

/**
 * Restarts of a worker thread (forwarding, probing). The delay before a restart starts at
 * minMs and doubles per failure up to maxMs; a worker that ran healthily for healthyMs
 * before failing starts the series over. `burst` failures within windowMs, or in one
 * series, count as repeated failure: the worker cannot be kept running (a broken addon, a
 * bug at start). That lasts until a worker has run healthily for healthyMs.
 */
export interface RestartPolicy {
  minMs: number;
  maxMs: number;
  healthyMs: number;
  burst: number;
  windowMs: number;
}

export const WORKER_RESTARTS: RestartPolicy = { minMs: 100, maxMs: 30_000, healthyMs: 60_000, burst: 5, windowMs: 60_000 };

/** What a failure leads to. */
export interface RestartStep {
  /** Failures in the current series (1 for the first after a healthy run). */
  attempt: number;
  /** Wait before the next start (ms). */
  delayMs: number;
  /** Failures within the policy's window, this one included. */
  recent: number;
  /** recent or attempt reached the policy's burst. */
  repeated: boolean;
}

/** Pure part of the restart logic: fed the times (ms) of starts and failures. */
export class RestartBackoff {
  private nextDelayMs: number;
  private runningSince: number | null = null;
  private series = 0;
  private readonly times: number[] = [];
  /** Failures since creation. */
  failures = 0;
  /** The reason given with the last failure, for status. */
  lastReason: string | null = null;

  constructor(readonly policy: RestartPolicy = WORKER_RESTARTS) {
    this.nextDelayMs = policy.minMs;
  }

  /** A worker got ready at `now`. */
  started(now: number): void {
    this.runningSince = now;
  }

  /** The worker failed at `now` (exited, stalled, or did not get ready). */
  failed(now: number, reason: string): RestartStep {
    if (this.runningSince !== null && now - this.runningSince >= this.policy.healthyMs) {
      this.nextDelayMs = this.policy.minMs;
      this.series = 0;
    }
    this.runningSince = null;
    this.times.push(now);
    this.failures++;
    this.series++;
    this.lastReason = reason;
    const delayMs = this.nextDelayMs;
    this.nextDelayMs = Math.min(this.policy.maxMs, delayMs * 2);
    const recent = this.recent(now);
    return { attempt: this.series, delayMs, recent, repeated: recent >= this.policy.burst || this.series >= this.policy.burst };
  }

  /** Failures within the window before `now`. */
  recent(now: number): number {
    while (this.times.length > 0 && now - this.times[0] >= this.policy.windowMs) this.times.shift();
    return this.times.length;
  }

  /** True while failures repeat: a burst within the window, or in a series not yet ended by a healthy run. */
  repeating(now: number): boolean {
    const healthy = this.runningSince !== null && now - this.runningSince >= this.policy.healthyMs;
    return this.recent(now) >= this.policy.burst || (this.series >= this.policy.burst && !healthy);
  }
}

function msText(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/**
 * The one log line of a failure: `WHO REASON; restarting it in T (attempt N)`, or once
 * failures repeat, `WHO keeps failing (K failures in the last 60 s, the last: REASON);
 * DOWN until the next attempt in T (attempt N)`.
 */
export function restartLine(who: string, reason: string, step: RestartStep, down: string, p: RestartPolicy = WORKER_RESTARTS): string {
  const next = `${msText(step.delayMs)} (attempt ${step.attempt})`;
  if (!step.repeated) return `${who} ${reason}; restarting it in ${next}`;
  return `${who} keeps failing (${step.recent} failures in the last ${p.windowMs / 1000} s, the last: ${reason}); `
    + `${down} until the next attempt in ${next}`;
}

/**
 * Restarts of one worker: on each failure one log line (restartLine) and, after the
 * back-off delay, `start`. A failure reported while a restart is pending is the same
 * failure seen twice (an exit after a terminate) and is ignored.
 */
export class RestartScheduler {
  readonly backoff: RestartBackoff;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly who: string, private readonly down: string,
    private readonly log: (level: 'err' | 'info', text: string) => void, policy: RestartPolicy = WORKER_RESTARTS) {
    this.backoff = new RestartBackoff(policy);
  }

  /** A restart is waiting for its delay. */
  get pending(): boolean {
    return this.timer !== null;
  }

  /** The worker got ready. */
  started(): void {
    this.backoff.started(Date.now());
  }

  /** Logs the failure and schedules `start`; null when a restart is already pending. */
  failed(reason: string, start: (step: RestartStep) => void): RestartStep | null {
    if (this.timer) return null;
    const step = this.backoff.failed(Date.now(), reason);
    this.log('err', restartLine(this.who, reason, step, this.down, this.backoff.policy));
    this.timer = setTimeout(() => { this.timer = null; start(step); }, step.delayMs);
    return step;
  }

  /** Drops a pending restart (stop). */
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/**
 * The state of a group's workers of one kind for the snapshot and the metrics: `failing`
 * while any of them fails repeatedly (RestartBackoff.repeating), else `restarting` while one
 * is not running, else `up`; failures counted over all of them.
 */
export function workerStatus(restarts: readonly RestartScheduler[], allRunning: boolean, now = Date.now()): WorkerStatus {
  const failing = restarts.some((r) => r.backoff.repeating(now));
  return {
    state: failing ? 'failing' : allRunning ? 'up' : 'restarting',
    restarts: restarts.reduce((n, r) => n + r.backoff.failures, 0),
    recentFailures: restarts.reduce((n, r) => n + r.backoff.recent(now), 0),
    lastFailure: restarts.map((r) => r.backoff.lastReason).find((x) => x !== null) ?? null,
  };
}
