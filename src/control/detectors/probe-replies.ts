/**
 * Echo-reply handling for the probe engine.
 *
 * PROBE_UNI replies are checked against the ring: out of window (seq ≥ snxt or
 * seq < snxt − 52), Fake (the slot was never used or probed another address) and Duplicate
 * (already acked) are rejected, logged at LOG_INFO and counted as ambiguous. An accepted
 * reply acks the slot (also a slot already declared lost or void) and, while the NIC is
 * RUNNING in a non-failed group, feeds its network RTT (kernel receive time minus payload
 * timestamp) to the target's estimator when it is the target's newest ack and
 * 0 ≤ rtt ≤ 52 × probe interval. Then the adaptive-FDT rules run (exception target, raise,
 * lower).
 * PROBE_RTT replies from a known target may only lower its crtt, then may lower the FDT.
 * PROBE_MULTI replies add host targets.
 */

import { canonicalAddr } from './addr.js';
import {
  HOST_DISCOVERED, LOG, LOG_ERR, LOG_INFO, PR_ACKED, PR_UNUSED, PROBE_MULTI, PROBE_RESOLVED, PROBE_RTT,
  PROBE_STATS_COUNT, PROBE_UNI, type ProbeAction, type ProbeReply,
} from './probe-defs.js';
import type { ProbeRecord, ProbeRing } from './probe-stats.js';
import type { IcmpProbeEngine } from './icmp-probe.js';
import { isExceptionTarget } from '../fdt.js';
import { TG_ACTIVE, type Target } from '../targets.js';

export function handleReply(e: IcmpProbeEngine, reply: ProbeReply, out: ProbeAction[]): void {
  const from = canonicalAddr(e.family, reply.from) ?? reply.from;
  if (reply.mtype === PROBE_UNI) onEchoReply(e, reply, from, out);
  else if (reply.mtype === PROBE_MULTI) onMulticastReply(e, reply, from, out);
  else if (reply.mtype === PROBE_RTT) onRttReply(e, reply, from, out);
  else info(out, `probe reply type: ${reply.mtype} from ${from} on ${e.ifname}`);
}

function info(out: ProbeAction[], text: string): void {
  out.push({ kind: LOG, level: LOG_INFO, text });
}

/** The reply's slot, or null after logging why it was rejected. */
function acceptedSlot(e: IcmpProbeEngine, seq: number, from: string, out: ProbeAction[]): ProbeRecord | null {
  const ring = e.ring;
  const r = ring.bySeq(seq);
  let why: string | null = null;
  if (r === null) why = `out of window probe seq ${seq} snxt ${ring.snxt} on ${e.ifname} from ${from}`;
  else if (r.status === PR_UNUSED || r.target !== from) why = 'Fake';
  else if (r.status === PR_ACKED) why = 'Duplicate';
  if (why === null) return r;
  ring.stats.ambiguous++;
  if (r !== null) {
    why = `probe status ${r.status} ${why} probe reply seq ${seq} snxt ${ring.snxt} on ${e.ifname} from ${from}`;
  }
  info(out, why);
  return null;
}

/** True when no newer probe to the same target has been acked. */
function isNewestAck(ring: ProbeRing, r: ProbeRecord): boolean {
  for (const x of ring.newestFirst()) {
    if (x === r) return true;
    if (x.ref === r.ref && x.status === PR_ACKED) return false;
  }
  return true;
}

function onEchoReply(e: IcmpProbeEngine, reply: ProbeReply, from: string, out: ProbeAction[]): void {
  const r = acceptedSlot(e, reply.seq, from, out);
  if (r === null) return;
  const newest = isNewestAck(e.ring, r);
  r.ackRecvNs = reply.kernelRecvNs;
  r.ackProcNs = reply.processedNs;
  e.ring.resolve(r, PR_ACKED);
  const t = r.ref as Target;
  const m = reply.kernelRecvNs - reply.sentTimestampNs;
  const probeInt = e.group.probeIntNs;
  const sane = m >= 0 && m <= PROBE_STATS_COUNT * probeInt;
  if (!e.failed && !e.groupFailed && newest && sane && e.targets.list.includes(t)) {
    t.rtt.sample(m, true, probeInt);
    adaptFdt(e, t, reply.processedNs, out);
  }
  out.push({
    kind: PROBE_RESOLVED,
    event: {
      seq: r.seq, target: r.target, acked: true, startNs: r.startNs,
      netrttNs: reply.kernelRecvNs - r.startNs, rttNs: reply.processedNs - r.startNs,
      rttavgNs: t.rtt.avgNs, rttdevNs: t.rtt.devNs,
    },
  });
  e.ackedAt(r, reply.processedNs, out);
}

/** Exception target, FDT raise or FDT lower after a unicast RTT sample. */
function adaptFdt(e: IcmpProbeEngine, t: Target, nowNs: number, out: ProbeAction[]): void {
  const g = e.group;
  if (t.rtt.crtt > g.probeIntNs) {
    const others = e.targets.active.filter((x) => x !== t).map((x) => x.rtt.crtt);
    if (t.status === TG_ACTIVE && isExceptionTarget(e.targets.activeCount, others, g.probeIntMs)) {
      if (e.targets.areRouters) e.targets.markSlow(t, nowNs);
      else {
        e.targets.delete(t, nowNs);
        e.sendMulti(nowNs, out);
      }
      return;
    }
    const text = g.raise(t.rtt.crtt, nowNs, e.family, e.ifname);
    if (text) info(out, text);
    return;
  }
  const text = g.maybeLower(t.rtt.crtt, nowNs, e.family, e.ifname);
  if (text) info(out, text);
}

function onRttReply(e: IcmpProbeEngine, reply: ProbeReply, from: string, out: ProbeAction[]): void {
  const t = e.targets.lookup(from);
  const m = reply.kernelRecvNs - reply.sentTimestampNs;
  if (!t || m < 0 || e.failed || e.groupFailed) return;
  t.rtt.sample(m, false, e.group.probeIntNs);
  const text = e.group.maybeLower(t.rtt.crtt, reply.processedNs, e.family, e.ifname);
  if (text) out.push({ kind: LOG, level: LOG_ERR, text });
}

function onMulticastReply(e: IcmpProbeEngine, reply: ProbeReply, from: string, out: ProbeAction[]): void {
  const added = e.targets.addHost(from, reply.processedNs);
  if (added !== null) out.push({ kind: HOST_DISCOVERED, address: added });
}
