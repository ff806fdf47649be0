/**
 * Failure detection time (FDT): parsing the configured value, the probe interval derived
 * from it, and the per-group adaptive FDT.
 *
 * All FDT and probe-interval values are integer milliseconds; round-trip times arrive in
 * nanoseconds on the daemon's monotonic clock.
 *
 * Adaptive FDT in short:
 * - raise: a target's crtt exceeds the group probe interval and it is not an exception
 *   → probeint = crtt × 2, fdt = probeint × 7, remember the time;
 * - lower: a target's crtt < probeint / 4, configured < current, last raise more than
 *   60 s ago, and every active target of every probe-capable, non-failed member has
 *   crtt ≤ probeint / 4 → fdt = max(fdt / 2, configured), probeint = fdt / 7 (the exact
 *   configured interval once back at the configured FDT).
 */

export const DEFAULT_FDT_MS = 10000;
export const MIN_FDT_MS = 100;
export const NUM_PROBE_FAILS = 5;
export const NUM_PROBE_REPAIRS = 10;
export const MIN_SETTLING_TIME_NS = 60e9;
export const NEXT_FDT_MULTIPLE = 2;
export const LOWER_FDT_TRIGGER = 4;
export const EXCEPTION_FACTOR = 2;
export const MIN_PROBE_TARGETS = 3;

const NS_PER_MS = 1e6;
const LONG_MAX = 2 ** 63 - 1;
const LONG_MIN = -(2 ** 63);

/** The result of parsing FAILURE_DETECTION_TIME: the value to use, and a log line if any. */
export interface FdtSetting {
  fdtMs: number;
  log?: string;
}

function digitValue(ch: string): number {
  const c = ch.toLowerCase().charCodeAt(0);
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 122) return c - 87;
  return 99;
}

/**
 * `strtol(s, NULL, 0)`: leading white space, an optional sign, then `0x` hex, leading-zero
 * octal or decimal; the parse stops at the first character that is not a digit of the base.
 * Returns 0 when no digits are found; saturates at the C long range like strtol.
 */
export function strtol0(s: string): number {
  let i = 0;
  while (i < s.length && ' \t\n\v\f\r'.includes(s[i]!)) i++;
  let sign = 1;
  if (s[i] === '+' || s[i] === '-') {
    if (s[i] === '-') sign = -1;
    i++;
  }
  let base = 10;
  if (s[i] === '0') {
    if ((s[i + 1] === 'x' || s[i + 1] === 'X') && i + 2 < s.length && digitValue(s[i + 2]!) < 16) {
      base = 16;
      i += 2;
    } else {
      base = 8;
    }
  }
  let value = 0;
  for (; i < s.length; i++) {
    const d = digitValue(s[i]!);
    if (d >= base) break;
    value = value * base + d;
  }
  return Math.min(LONG_MAX, Math.max(LONG_MIN, sign * value));
}

/** Interprets a FAILURE_DETECTION_TIME value (milliseconds) with the daemon's clamping rules. */
export function parseFdt(value: string): FdtSetting {
  const n = strtol0(value);
  if (n <= 0) {
    return {
      fdtMs: DEFAULT_FDT_MS,
      log: `Invalid failure detection time ${value}, assuming default of ${DEFAULT_FDT_MS} ms`,
    };
  }
  if (n < MIN_FDT_MS) {
    return {
      fdtMs: MIN_FDT_MS,
      log: `Too small failure detection time of ${value}, assuming minimum of ${MIN_FDT_MS} ms`,
    };
  }
  return { fdtMs: Math.min(n, 2 ** 31 - 1) };
}

/** The probe interval for an FDT: FDT / (NUM_PROBE_FAILS + 2), integer ms. */
export function probeIntervalMs(fdtMs: number): number {
  return Math.floor(fdtMs / (NUM_PROBE_FAILS + 2));
}

/**
 * True when a target whose crtt exceeds the probe interval is an exception: the instance has
 * at least MIN_PROBE_TARGETS + 1 active targets and every other active one answers within
 * probeint / EXCEPTION_FACTOR.
 */
export function isExceptionTarget(activeCount: number, otherActiveCrttNs: number[], probeIntMs: number): boolean {
  if (activeCount < MIN_PROBE_TARGETS + 1) return false;
  const limit = (probeIntMs * NS_PER_MS) / EXCEPTION_FACTOR;
  return otherActiveCrttNs.every((c) => c <= limit);
}

/** A probing instance that the group asks before lowering its FDT. */
export interface FdtMember {
  /**
   * True when every active target has crtt ≤ limitNs, or when the instance does not count
   * (not probe-capable, or its NIC is failed).
   */
  crttsWithin(limitNs: number): boolean;
}

/** Per-group adaptive FDT (pg_fdt, pg_probeint). */
export class GroupFdt {
  readonly configuredFdtMs: number;
  readonly userProbeIntMs: number;
  fdtMs: number;
  probeIntMs: number;
  /** Monotonic ns of the last raise; null before any. */
  lastIncreaseNs: number | null = null;
  private readonly members = new Set<FdtMember>();

  /** `name` is the group name; the anonymous group adapts without logging. */
  constructor(configuredFdtMs: number, readonly name: string, readonly anonymous = false) {
    this.configuredFdtMs = configuredFdtMs;
    this.userProbeIntMs = probeIntervalMs(configuredFdtMs);
    this.fdtMs = configuredFdtMs;
    this.probeIntMs = this.userProbeIntMs;
  }

  get probeIntNs(): number {
    return this.probeIntMs * NS_PER_MS;
  }

  /** True while the group probes more slowly than configured. */
  get slowed(): boolean {
    return this.probeIntMs > this.userProbeIntMs;
  }

  attach(member: FdtMember): void {
    this.members.add(member);
  }

  detach(member: FdtMember): void {
    this.members.delete(member);
  }

  /** Slows the group down for a target with this crtt; returns the log line (null when silent). */
  raise(crttNs: number, nowNs: number, family: 4 | 6, ifname: string): string | null {
    this.probeIntMs = Math.ceil(crttNs / NS_PER_MS) * NEXT_FDT_MULTIPLE;
    this.fdtMs = this.probeIntMs * (NUM_PROBE_FAILS + 2);
    this.lastIncreaseNs = nowNs;
    if (this.anonymous) return null;
    return (
      `Cannot meet requested failure detection time of ${this.configuredFdtMs} ms on ` +
      `(${afStr(family)} ${ifname}) new failure detection time for group "${this.name}" is ${this.fdtMs} ms`
    );
  }

  /** True when a target with this crtt may trigger a reduction (before asking the members). */
  mayLower(crttNs: number, nowNs: number): boolean {
    if (crttNs >= this.probeIntNs / LOWER_FDT_TRIGGER) return false;
    if (this.configuredFdtMs >= this.fdtMs) return false;
    return this.lastIncreaseNs === null || nowNs - this.lastIncreaseNs > MIN_SETTLING_TIME_NS;
  }

  /**
   * Halves the FDT (not below the configured one) when `crttNs` and every member's targets
   * allow it; returns the log line, or null when nothing changed or the group is anonymous.
   */
  maybeLower(crttNs: number, nowNs: number, family: 4 | 6, ifname: string): string | null {
    if (!this.mayLower(crttNs, nowNs)) return null;
    const limit = this.probeIntNs / LOWER_FDT_TRIGGER;
    for (const m of this.members) if (!m.crttsWithin(limit)) return null;
    this.fdtMs = Math.max(Math.floor(this.fdtMs / NEXT_FDT_MULTIPLE), this.configuredFdtMs);
    this.probeIntMs =
      this.fdtMs === this.configuredFdtMs ? this.userProbeIntMs : probeIntervalMs(this.fdtMs);
    if (this.anonymous) return null;
    return `Improved failure detection time ${this.fdtMs} ms on (${afStr(family)} ${ifname}) for group "${this.name}"`;
  }
}

/** `inet` or `inet6`, as in the daemon's log lines. */
export function afStr(family: 4 | 6): string {
  return family === 4 ? 'inet' : 'inet6';
}
