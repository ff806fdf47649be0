/**
 * The ring of the last PROBE_STATS_COUNT unicast probes of one instance, indexed by the
 * 16-bit circular sequence number, and the run counts the failure and repair rules read.
 *
 * `snxt` is the sequence of the next probe (starting at 1); the newest record has
 * sequence snxt − 1. A reply is in the window when 1 ≤ (snxt − seq) mod 2^16 ≤ 52.
 * Runs walk back from the newest record: VOID records (stall-excused) and records still
 * outstanding are skipped; a LOST run stops at an ACKED or UNUSED record; an ACKED run
 * stops at a LOST or UNUSED record.
 */

import {
  PR_ACKED,
  PR_LOST,
  PR_UNACKED,
  PR_UNUSED,
  PR_VOID,
  PROBE_STATS_COUNT,
  type ProbeStats,
} from './probe-defs.js';

export interface ProbeRecord {
  status: number;
  seq: number;
  target: string;
  /** Identity of the target object probed (a re-learnt address is a new target). */
  ref: object | null;
  startNs: number;
  /** Deadline after which an unacked probe is lost. */
  lostAtNs: number;
  /** True once a stall overlapped its timeout window. */
  stalled: boolean;
  ackRecvNs: number;
  ackProcNs: number;
}

function emptyRecord(): ProbeRecord {
  return { status: PR_UNUSED, seq: 0, target: '', ref: null, startNs: 0, lostAtNs: 0, stalled: false, ackRecvNs: 0, ackProcNs: 0 };
}

export class ProbeRing {
  readonly records: ProbeRecord[] = Array.from({ length: PROBE_STATS_COUNT }, emptyRecord);
  /** Index of the slot the next probe will use. */
  next = 0;
  snxt = 1;
  readonly stats: ProbeStats = { sent: 0, acked: 0, lost: 0, unacked: 0, ambiguous: 0, missed: 0, voided: 0 };

  /** Records a sent PROBE_UNI and returns its record. */
  add(target: string, ref: object, startNs: number, lostAtNs: number): ProbeRecord {
    const r = this.records[this.next]!;
    if (r.status === PR_UNACKED) this.stats.unacked--;
    Object.assign(r, emptyRecord(), { status: PR_UNACKED, seq: this.snxt, target, ref, startNs, lostAtNs });
    this.next = (this.next + 1) % PROBE_STATS_COUNT;
    this.snxt = (this.snxt + 1) & 0xffff;
    this.stats.sent++;
    this.stats.unacked++;
    return r;
  }

  /** The record for `seq`, or null when out of window. */
  bySeq(seq: number): ProbeRecord | null {
    const back = (this.snxt - seq) & 0xffff;
    if (back < 1 || back > PROBE_STATS_COUNT) return null;
    return this.records[(this.next - back + PROBE_STATS_COUNT) % PROBE_STATS_COUNT]!;
  }

  /** Records from newest to oldest. */
  *newestFirst(): Generator<ProbeRecord> {
    for (let k = 1; k <= PROBE_STATS_COUNT; k++) {
      yield this.records[(this.next - k + PROBE_STATS_COUNT) % PROBE_STATS_COUNT]!;
    }
  }

  /** Outstanding records, newest first. */
  outstanding(): ProbeRecord[] {
    const out: ProbeRecord[] = [];
    for (const r of this.newestFirst()) if (r.status === PR_UNACKED) out.push(r);
    return out;
  }

  /** The newest record that is acked or lost. */
  newestResolved(): ProbeRecord | null {
    for (const r of this.newestFirst()) {
      if (r.status === PR_ACKED || r.status === PR_LOST) return r;
      if (r.status === PR_UNUSED) return null;
    }
    return null;
  }

  resolve(r: ProbeRecord, status: number): void {
    if (r.status === PR_UNACKED) this.stats.unacked--;
    if (r.status === PR_LOST) this.stats.lost--;
    if (r.status === PR_VOID) this.stats.voided--;
    r.status = status;
    if (status === PR_LOST) this.stats.lost++;
    else if (status === PR_ACKED) this.stats.acked++;
    else if (status === PR_VOID) this.stats.voided++;
  }

  /**
   * Length of the run of `want` (PR_LOST or PR_ACKED) from the newest resolved record,
   * counting only records for target `ref` when given; also the oldest record of the run.
   */
  run(want: number, ref?: object | null): { count: number; oldest: ProbeRecord | null } {
    let count = 0;
    let oldest: ProbeRecord | null = null;
    for (const r of this.newestFirst()) {
      if (r.status === PR_UNUSED) break;
      if (r.status === PR_VOID || r.status === PR_UNACKED) continue;
      if (ref !== undefined && r.ref !== ref) continue;
      if (r.status !== want) break;
      count++;
      oldest = r;
    }
    return { count, oldest };
  }

  /** Forgets every record (link down, or no targets); the sequence number carries on. */
  clear(): void {
    for (const r of this.records) {
      if (r.status === PR_UNACKED) this.stats.unacked--;
      Object.assign(r, emptyRecord());
    }
  }
}
