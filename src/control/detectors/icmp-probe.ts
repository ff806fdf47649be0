/**
 * ICMP probe engine for one NIC instance (one address family). Pure logic: the owner calls
 * `tick(now)` at `nextDeadline()`, feeds parsed replies to `onReply`, and acts on the
 * returned actions and facts. Times are monotonic nanoseconds.
 *
 * Loss: an unacked probe is lost once now > start + timeout, where the timeout is the
 * target's crtt at send time, or the group probe interval when crtt is unknown. When a new
 * failure-detection probe is due, every outstanding probe but the newest is forced lost.
 * A late reply to a lost probe still turns it into an ack.
 *
 * Failure (while RUNNING, link up, outside the 40 s quiet period that the first ack ends):
 * checked whenever a probe is lost; the newest resolved probe is lost and
 * - its target alone has ≥ 5 consecutive losses while the instance run is < 5 → the target
 *   is dead (router: DEAD; host: deleted plus a PROBE_MULTI), TARGET_DEAD;
 * - the instance run across all targets is ≥ 5, and the peer family (when probe-capable)
 *   shows ≥ 5 too → FAILURE_DETECTED. It is emitted at every loss that passes the check
 *   until the owner calls `setFailed(true)`; the owner's state machine ignores repeats.
 * Repair (while FAILED, link up): checked on each ack; ≥ 10 consecutive acks on this
 * instance, or ≥ 10 from the acked target → REPAIR_DETECTED. The owner reports either
 * family's repair for the NIC.
 *
 * Daemon stalls: a probe's timeout is counted in time the daemon was running. The owner
 * passes the measured lag to `tick(now, lagNs)`, meaning the daemon's loop did not run
 * during [now − lag, now] (measure it from an event-loop heartbeat or the last loop turn,
 * not only from how late this timer fired), or calls `onStall(from, to)`; it should also
 * drain the probe sockets before ticking after a stall. Every outstanding probe whose window [start, lostAt]
 * overlaps the stall gets lostAt = to + (lostAt − max(from, start)), i.e. the part of its
 * timeout that fell inside or after the stall starts again when the daemon runs. A
 * stall-extended probe that is forced out by the two-outstanding rule becomes VOID instead
 * of LOST: it counts neither as a loss nor as an ack (runs skip it), produces no
 * PROBE_RESOLVED, and a late reply still acks it.
 */

import { ALL_HOSTS_V4, ALL_HOSTS_V6, FAILURE_DETECTED, FAILURE_DETECTION_QP_NS, LOG, LOG_DEBUG,
  PR_ACKED, PR_LOST, PR_VOID, PROBE_MULTI, PROBE_RESOLVED, PROBE_RTT, PROBE_UNI, REPAIR_DETECTED, SEND,
  TARGET_DEAD, type ProbeAction, type ProbeReply, type ProbeStats } from './probe-defs.js';
import { ProbeRing, type ProbeRecord } from './probe-stats.js';
import { ProbeSchedule } from './probe-schedule.js';
import { handleReply } from './probe-replies.js';
import type { Family } from './addr.js';
import { NUM_PROBE_FAILS, NUM_PROBE_REPAIRS, type FdtMember, type GroupFdt } from '../fdt.js';
import { TG_ACTIVE, type Target, type TargetList } from '../targets.js';

export interface ProbeEngineOptions {
  family: Family;
  ifname: string;
  group: GroupFdt;
  targets: TargetList;
  rand: () => number;
  /** Creation time: starts the quiet period and the probe timer. */
  nowNs: number;
  linkUp?: boolean;
}

export class IcmpProbeEngine implements FdtMember {
  readonly family: Family;
  readonly ifname: string;
  readonly group: GroupFdt;
  readonly targets: TargetList;
  readonly ring = new ProbeRing();
  /** The other family's engine of the same NIC, set by the owner. */
  peer: IcmpProbeEngine | null = null;
  /** Probe-enabled: a socket and a unique test address (change it with `setEnabled`). */
  enabled = true;
  /** Set by the owner while the group is FAILED (RTT is not updated then). */
  groupFailed = false;
  linkUp: boolean;
  /** Monotonic ns when the last ack was processed; null before any. */
  lastSuccessNs: number | null = null;
  /** Start of the oldest probe of the loss run that last triggered FAILURE_DETECTED. */
  firstFailureNs: number | null = null;
  failed = false;
  qpEndNs: number;
  readonly schedule: ProbeSchedule;

  constructor(opts: ProbeEngineOptions) {
    this.family = opts.family;
    this.ifname = opts.ifname;
    this.group = opts.group;
    this.targets = opts.targets;
    this.linkUp = opts.linkUp ?? true;
    this.qpEndNs = opts.nowNs + FAILURE_DETECTION_QP_NS;
    this.schedule = new ProbeSchedule(opts.rand);
    this.group.attach(this);
    if (this.linkUp) this.schedule.start(opts.nowNs, this.group.probeIntNs);
  }

  dispose(): void {
    this.group.detach(this);
  }

  get stats(): ProbeStats {
    return this.ring.stats;
  }

  get allHosts(): string {
    return this.family === 4 ? ALL_HOSTS_V4 : ALL_HOSTS_V6;
  }

  /** Probe-capable: probe-enabled with at least one active target. */
  isProbeCapable(): boolean {
    return this.enabled && this.targets.activeCount > 0;
  }

  /** Consecutive lost probes, newest first, across all targets. */
  lossRun(): number {
    return this.ring.run(PR_LOST).count;
  }

  /** Consecutive acked probes, newest first, across all targets. */
  ackRun(): number {
    return this.ring.run(PR_ACKED).count;
  }

  crttsWithin(limitNs: number): boolean {
    if (!this.isProbeCapable() || this.failed) return true;
    return this.targets.active.every((t) => t.rtt.crtt <= limitNs);
  }

  /** The earliest time `tick` has work to do (a send, or the first ns a probe counts as lost); Infinity when idle. */
  nextDeadline(): number {
    if (!this.enabled || !this.linkUp) return Infinity;
    let at = this.schedule.sendAtNs;
    for (const r of this.ring.outstanding()) at = Math.min(at, r.lostAtNs + 1);
    return at;
  }

  tick(nowNs: number, lagNs = 0): ProbeAction[] {
    const out: ProbeAction[] = [];
    if (lagNs > 0) this.onStall(nowNs - lagNs, nowNs);
    if (!this.enabled || !this.linkUp) return out;
    this.expire(nowNs, out);
    if (nowNs >= this.schedule.sendAtNs) this.runSlot(nowNs, out);
    return out;
  }

  /** The daemon did not run during [fromNs, toNs]: give outstanding probes their time back. */
  onStall(fromNs: number, toNs: number): void {
    for (const r of this.ring.outstanding()) {
      if (r.startNs >= toNs || r.lostAtNs <= fromNs) continue;
      r.lostAtNs = toNs + (r.lostAtNs - Math.max(fromNs, r.startNs));
      r.stalled = true;
    }
  }

  onReply(reply: ProbeReply): ProbeAction[] {
    const out: ProbeAction[] = [];
    if (!this.linkUp) return out;
    handleReply(this, reply, out);
    return out;
  }

  onLinkDown(_nowNs: number): void {
    this.linkUp = false;
    this.ring.clear();
    this.schedule.stop();
  }

  onLinkUp(nowNs: number): void {
    if (this.linkUp) return;
    this.linkUp = true;
    this.schedule.start(nowNs, this.group.probeIntNs);
  }

  /** Probing turned on or off (test address found, lost or duplicate); restarts the timer. */
  setEnabled(enabled: boolean, nowNs: number): void {
    if (enabled === this.enabled) return;
    this.enabled = enabled;
    this.ring.clear();
    if (enabled && this.linkUp) this.schedule.start(nowNs, this.group.probeIntNs);
    else this.schedule.stop();
  }

  /** The owner's NIC state: entering FAILED forgets every target's RTT. */
  setFailed(failed: boolean): void {
    if (failed && !this.failed) this.targets.resetRtt();
    this.failed = failed;
  }

  /** Forgets the probe records (no targets left). */
  clearStats(): void {
    this.ring.clear();
  }

  /** A fresh probe record was acked at `nowNs`: ends the quiet period, checks repair. */
  ackedAt(r: ProbeRecord, nowNs: number, out: ProbeAction[]): void {
    this.lastSuccessNs = nowNs;
    if (this.qpEndNs > nowNs) this.qpEndNs = nowNs;
    if (!this.failed || !this.linkUp) return;
    if (this.ring.newestResolved() !== r) return;
    if (this.ackRun() >= NUM_PROBE_REPAIRS || this.ring.run(PR_ACKED, r.ref).count >= NUM_PROBE_REPAIRS) {
      out.push({ kind: REPAIR_DETECTED, family: this.family });
    }
  }

  sendMulti(nowNs: number, out: ProbeAction[]): void {
    out.push({ kind: SEND, mtype: PROBE_MULTI, target: this.allHosts, seq: this.ring.snxt, startNs: nowNs });
  }

  private expire(nowNs: number, out: ProbeAction[]): void {
    let lost = false;
    for (const r of this.ring.outstanding()) {
      if (nowNs > r.lostAtNs) {
        this.lose(r, out);
        lost = true;
      }
    }
    if (lost) this.checkFailure(nowNs, out);
  }

  private lose(r: ProbeRecord, out: ProbeAction[]): void {
    this.ring.resolve(r, PR_LOST);
    const t = r.ref as Target;
    out.push({
      kind: PROBE_RESOLVED,
      event: { seq: r.seq, target: r.target, acked: false, startNs: r.startNs, netrttNs: null, rttNs: null,
        rttavgNs: t.rtt.avgNs, rttdevNs: t.rtt.devNs },
    });
  }

  private runSlot(nowNs: number, out: ProbeAction[]): void {
    const userInt = this.group.userProbeIntMs * 1e6;
    if (this.schedule.isFdSlot(this.group.slowed)) {
      this.forceOutstanding(nowNs, out);
      this.sendUni(nowNs, out);
      this.schedule.fdSent(this.group.probeIntNs);
    } else {
      const t = this.targets.takeNextRtt(nowNs);
      if (t) out.push({ kind: SEND, mtype: PROBE_RTT, target: t.address, seq: this.ring.snxt, startNs: nowNs });
    }
    const missed = this.schedule.advance(nowNs, userInt);
    if (missed > 0) {
      this.ring.stats.missed += missed;
      out.push({ kind: LOG, level: LOG_DEBUG, text: `missed sending ${missed} probes on ${this.ifname}` });
    }
  }

  /** At most two outstanding: all but the newest are resolved before a new probe. */
  private forceOutstanding(nowNs: number, out: ProbeAction[]): void {
    let lost = false;
    for (const r of this.ring.outstanding().slice(1)) {
      if (r.stalled) this.ring.resolve(r, PR_VOID);
      else {
        this.lose(r, out);
        lost = true;
      }
    }
    if (lost) this.checkFailure(nowNs, out);
  }

  private sendUni(nowNs: number, out: ProbeAction[]): void {
    const t = this.targets.takeNext(nowNs);
    if (!t) {
      this.sendMulti(nowNs, out);
      return;
    }
    const timeout = t.rtt.crtt > 0 ? t.rtt.crtt : this.group.probeIntNs;
    const r = this.ring.add(t.address, t, nowNs, nowNs + timeout);
    out.push({ kind: SEND, mtype: PROBE_UNI, target: t.address, seq: r.seq, startNs: nowNs });
    if (!this.targets.areRouters && this.targets.list.length === 1) this.sendMulti(nowNs, out);
  }

  private checkFailure(nowNs: number, out: ProbeAction[]): void {
    if (this.failed || !this.linkUp || nowNs < this.qpEndNs) return;
    const newest = this.ring.newestResolved();
    if (!newest || newest.status !== PR_LOST) return;
    const all = this.ring.run(PR_LOST);
    if (all.count < NUM_PROBE_FAILS) {
      if (this.ring.run(PR_LOST, newest.ref).count >= NUM_PROBE_FAILS) this.targetDied(newest, nowNs, out);
      return;
    }
    const peer = this.peer;
    if (peer && peer.isProbeCapable() && peer.lossRun() < NUM_PROBE_FAILS) return;
    this.firstFailureNs = all.oldest!.startNs;
    out.push({ kind: FAILURE_DETECTED, family: this.family, firstFailureNs: this.firstFailureNs });
  }

  private targetDied(r: ProbeRecord, nowNs: number, out: ProbeAction[]): void {
    const t = r.ref as Target;
    if (!this.targets.list.includes(t) || t.status !== TG_ACTIVE) return;
    const router = this.targets.areRouters;
    if (router) this.targets.markDead(t, nowNs);
    else this.targets.delete(t, nowNs);
    out.push({ kind: TARGET_DEAD, target: t.address, router });
    out.push({ kind: LOG, level: LOG_DEBUG, text: `target ${t.address} on ${this.ifname} is dead` });
    if (!router) this.sendMulti(nowNs, out);
  }
}
