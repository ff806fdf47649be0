/**
 * Failure and repair of one NIC (reference §7.5, §8).
 *
 * When a NIC meets the failure criteria, a named group decides between:
 *   interface failure  link case:  another member is RUNNING, with its link up, and the group
 *                                  is not FAILED
 *                      probe case: another member with its link up has no probing, or (RUNNING
 *                                  in a non-failed group) acked a probe after this NIC's first
 *                                  lost one, in the same family
 *   group failure      otherwise: every member gets FAILED, RUNNING ones go to state FAILED,
 *                      no per-interface log, the group goes FAILED
 * The anonymous group only has interface failures.
 */
import { GroupState, LinkState, LogLevel, NicFlag, NicState } from './glossary.js';
import { type NicRec, type StepCtx, hasFlag, isPolicyActive } from './group-model.js';
import { RunReason, activateAnother, transitionToRunning } from './policy.js';

/** Times in ns (the caller's monotonic clock) per address family; null when not known. */
export interface FamilyTimes {
  v4: number | null;
  v6: number | null;
}

/** What the prober knows when it reports a probe-detected failure. */
export interface ProbeFacts {
  /** Start of the failing NIC's current run of lost probes, per family. */
  firstFailureNs: FamilyTimes;
  /** Last acked probe of each other member, keyed by NIC id; absent = never. */
  lastSuccessNs: ReadonlyMap<number, FamilyTimes>;
}

export const FailureCause = { LINK: 0, PROBE: 1, VANISHED: 2 } as const;
export type FailureCause = (typeof FailureCause)[keyof typeof FailureCause];

const PHYINT_FAILURE = 0;
const GROUP_FAILURE = 1;

function later(a: number | null, b: number | null): boolean {
  return a !== null && b !== null && a > b;
}

function linkDecision(ctx: StepCtx, n: NicRec): number {
  const ok = ctx.g.members.some((m) => m !== n && m.state === NicState.RUNNING
    && ctx.g.state !== GroupState.FAILED && m.link === LinkState.UP);
  return ok ? PHYINT_FAILURE : GROUP_FAILURE;
}

function probeDecision(ctx: StepCtx, n: NicRec, facts: ProbeFacts): number {
  const first = facts.firstFailureNs;
  for (const m of ctx.g.members) {
    if (m === n || m.link !== LinkState.UP || !m.present) continue;
    if (!m.probeEnabled || m.state === NicState.OFFLINE) return PHYINT_FAILURE;
    if (m.state !== NicState.RUNNING || ctx.g.state === GroupState.FAILED) continue;
    const last = facts.lastSuccessNs.get(m.id);
    if (last !== undefined && (later(last.v4, first.v4) || later(last.v6, first.v6))) return PHYINT_FAILURE;
  }
  return GROUP_FAILURE;
}

/** True when a failure of n would be news: it is not already failed. */
export function canFail(n: NicRec): boolean {
  if (n.state === NicState.OFFLINE) return !hasFlag(n, NicFlag.FAILED);
  return n.state === NicState.RUNNING || n.state === NicState.NOTARGETS || n.state === NicState.INIT;
}

/** n met the failure criteria: decide interface vs group failure and act on it. */
export function checkForFailure(ctx: StepCtx, n: NicRec, cause: FailureCause, facts?: ProbeFacts): void {
  if (!canFail(n)) return;
  let decision = PHYINT_FAILURE;
  if (!ctx.g.anonymous && cause === FailureCause.LINK) decision = linkDecision(ctx, n);
  if (!ctx.g.anonymous && cause === FailureCause.PROBE && facts !== undefined) decision = probeDecision(ctx, n, facts);
  if (decision === PHYINT_FAILURE) interfaceFailure(ctx, n);
  else groupFailure(ctx);
}

export function interfaceFailure(ctx: StepCtx, n: NicRec): void {
  const wasActive = isPolicyActive(n);
  ctx.log(LogLevel.ERR, `IP interface failure detected ${ctx.onWhere(n)}`);
  ctx.apply(n, () => {
    n.flags = (n.flags | NicFlag.FAILED) & ~NicFlag.INACTIVE;
    if (n.state !== NicState.OFFLINE) n.state = NicState.FAILED;
  });
  if (wasActive && !ctx.g.anonymous) activateAnother(ctx, n);
  ctx.refreshGroupState();
}

export function groupFailure(ctx: StepCtx): void {
  for (const m of ctx.g.members) {
    ctx.apply(m, () => {
      m.flags = (m.flags | NicFlag.FAILED) & ~NicFlag.INACTIVE;
      if (m.state === NicState.RUNNING || m.state === NicState.INIT) m.state = NicState.FAILED;
    });
  }
  ctx.refreshGroupState();
}

/** True when n is failed and a repair would change it. */
export function canRepair(n: NicRec): boolean {
  return n.present && (n.state === NicState.FAILED || hasFlag(n, NicFlag.FAILED)) && n.link !== LinkState.DOWN;
}

export function repair(ctx: StepCtx, n: NicRec): void {
  if (!canRepair(n)) return;
  ctx.log(LogLevel.ERR, `IP interface repair detected ${ctx.onWhere(n)}`);
  if (n.state === NicState.OFFLINE) ctx.setFlags(n, 0, NicFlag.FAILED);
  else transitionToRunning(ctx, n, RunReason.REPAIR);
}
