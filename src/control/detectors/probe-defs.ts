/**
 * Constants and the action/fact shapes of the ICMP probe engine.
 *
 * The engine never does I/O: `tick` and `onReply` return actions (probes to send, lines to
 * log) and facts (failure, repair, a dead target, a resolved probe) for the owner.
 */

import type { Family } from './addr.js';

export const PROBE_UNI = 0x1234;
export const PROBE_MULTI = 0x5678;
export const PROBE_RTT = 0x9abc;

export const PROBE_STATS_COUNT = 52;
export const FAILURE_DETECTION_QP_NS = 40e9;
export const MIN_RANDOM_FACTOR = 0.5;
export const MAX_RANDOM_FACTOR = 1.0;

export const ALL_HOSTS_V4 = '224.0.0.1';
export const ALL_HOSTS_V6 = 'ff02::1';

/** syslog levels used by LOG actions. */
export const LOG_ERR = 3;
export const LOG_INFO = 6;
export const LOG_DEBUG = 7;

/** Action and fact kinds. */
export const SEND = 1;
export const FAILURE_DETECTED = 2;
export const REPAIR_DETECTED = 3;
export const TARGET_DEAD = 4;
export const PROBE_RESOLVED = 5;
export const HOST_DISCOVERED = 6;
export const LOG = 7;

/** Probe record states (numbering follows the daemon's trace output). */
export const PR_UNUSED = 0;
export const PR_UNACKED = 1;
export const PR_ACKED = 2;
export const PR_LOST = 3;
/** Neither acked nor lost: its timeout window was eaten by a daemon stall. */
export const PR_VOID = 4;

/** The ICMP echo identifier of a NIC's probes: ((pid & 0xFF) << 8) | (ifindex & 0xFF). */
export function probeIcmpId(pid: number, ifindex: number): number {
  return ((pid & 0xff) << 8) | (ifindex & 0xff);
}

export interface SendAction {
  kind: typeof SEND;
  mtype: typeof PROBE_UNI | typeof PROBE_MULTI | typeof PROBE_RTT;
  /** Canonical target address, or the all-hosts group for PROBE_MULTI. */
  target: string;
  seq: number;
  /** Monotonic ns to write into the payload timestamp. */
  startNs: number;
}

export interface FailureDetected {
  kind: typeof FAILURE_DETECTED;
  family: Family;
  /** Start time of the oldest probe of the current loss run. */
  firstFailureNs: number;
}

export interface RepairDetected {
  kind: typeof REPAIR_DETECTED;
  family: Family;
}

export interface TargetDead {
  kind: typeof TARGET_DEAD;
  target: string;
  /** True for a router (kept as DEAD), false for a host (deleted). */
  router: boolean;
}

/** One resolved probe, for `ipmpstat -p`. Times in monotonic ns; null when lost. */
export interface ProbeOutcome {
  seq: number;
  target: string;
  acked: boolean;
  startNs: number;
  netrttNs: number | null;
  rttNs: number | null;
  rttavgNs: number;
  rttdevNs: number;
}

export interface ProbeResolved {
  kind: typeof PROBE_RESOLVED;
  event: ProbeOutcome;
}

/** A host answered the all-hosts echo; the owner adds it to the other group members. */
export interface HostDiscovered {
  kind: typeof HOST_DISCOVERED;
  address: string;
}

export interface LogAction {
  kind: typeof LOG;
  level: number;
  text: string;
}

export type ProbeAction =
  | SendAction
  | FailureDetected
  | RepairDetected
  | TargetDead
  | ProbeResolved
  | HostDiscovered
  | LogAction;

/** A parsed echo reply for this instance (id already matched). */
export interface ProbeReply {
  seq: number;
  mtype: number;
  from: string;
  /** The timestamp carried back in the payload. */
  sentTimestampNs: number;
  /** Kernel receive time (SO_TIMESTAMPNS) on the same monotonic scale. */
  kernelRecvNs: number;
  /** When the daemon processed the reply. */
  processedNs: number;
}

/** Cumulative per-instance counters for SIGUSR1 dumps. */
export interface ProbeStats {
  sent: number;
  acked: number;
  lost: number;
  /** Outstanding right now. */
  unacked: number;
  /** Rejected replies (out of window, fake, duplicate). */
  ambiguous: number;
  /** Probe slots skipped because the daemon ran late. */
  missed: number;
  /** Probes neither acked nor lost because a stall ate their timeout. */
  voided: number;
}
