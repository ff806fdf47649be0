/**
 * Per-target round-trip estimate (Jacobson/Karels), all values in nanoseconds.
 *
 * - `sa` is 8 × the smoothed RTT, `sv` is 4 × the mean deviation; `sa = -1` means no sample.
 * - First sample m: sa = 8m, sv = 2m. Later: err = m − sa/8, sa += err (≥ 0),
 *   sv += |err| − sv/4. crtt = sa/8 + sv (so the first sample gives crtt = 3m).
 * - A PROBE_UNI sample that alone would push crtt above the group probe interval is
 *   deferred (up to MAXDEFERREDRTT); the next such sample folds all of them in. A normal
 *   sample drops the deferred ones.
 * - A PROBE_RTT sample is applied only when it lowers crtt.
 */

export const MAXDEFERREDRTT = 1;

export class RttEstimator {
  sa = -1;
  sv = 0;
  /** Conservative RTT; 0 when unknown. */
  crtt = 0;
  private deferred: number[] = [];

  /** Smoothed average (sa/8), 0 when unknown. */
  get avgNs(): number {
    return this.sa < 0 ? 0 : Math.floor(this.sa / 8);
  }

  /** Mean deviation (sv/4). */
  get devNs(): number {
    return Math.floor(this.sv / 4);
  }

  reset(): void {
    this.sa = -1;
    this.sv = 0;
    this.crtt = 0;
    this.deferred = [];
  }

  /**
   * Applies one sample `m` (ns). `uni` is true for failure-detection probes and false for
   * PROBE_RTT. Returns true when crtt changed.
   */
  sample(m: number, uni: boolean, probeIntNs: number): boolean {
    const next = fold(this.sa, this.sv, m);
    if (uni && next.crtt > probeIntNs) {
      if (this.deferred.length < MAXDEFERREDRTT) {
        this.deferred.push(m);
        return false;
      }
      for (const d of [...this.deferred, m]) this.apply(fold(this.sa, this.sv, d));
      this.deferred = [];
      return true;
    }
    if (!uni && !(next.crtt < this.crtt)) return false;
    this.apply(next);
    if (uni) this.deferred = [];
    return true;
  }

  private apply(v: { sa: number; sv: number; crtt: number }): void {
    this.sa = v.sa;
    this.sv = v.sv;
    this.crtt = v.crtt;
  }
}

/** One Jacobson/Karels step from (sa, sv) with measurement m. */
export function fold(sa: number, sv: number, m: number): { sa: number; sv: number; crtt: number } {
  if (sa < 0) {
    sa = 8 * m;
    sv = 2 * m;
  } else {
    const err = m - Math.floor(sa / 8);
    sa = Math.max(0, sa + err);
    sv += Math.abs(err) - Math.floor(sv / 4);
  }
  return { sa, sv, crtt: Math.floor(sa / 8) + sv };
}
