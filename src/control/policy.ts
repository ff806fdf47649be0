/**
 * Active-count policy of one group (reference §7.4): keep nactive at nnonstandby, at least 1.
 *
 *   activateAnother      another functioning INACTIVE member takes over: the first STANDBY in
 *                        list order, else the last INACTIVE non-standby
 *   transitionToRunning  creation / repair / onlining:
 *                          STANDBY          → INACTIVE if nactive ≥ nnonstandby, else active
 *                          onlining, FAILBACK=yes, creation or a FAILED group
 *                                           → active; at or over capacity one active STANDBY
 *                                             goes INACTIVE
 *                          repair under FAILBACK=no → INACTIVE
 *                        (counts are over the other members)
 *   refreshStandby       STANDBY changed: the kernel sets INACTIVE with STANDBY (unless FAILED)
 *                        and clears it without; then a functioning member is activated when
 *                        nactive is 0 or below nnonstandby and deactivated above it
 */
import { GroupState, NicFlag, NicState, isFunctioning } from './glossary.js';
import { type NicRec, type StepCtx, hasFlag, isPolicyActive } from './group-model.js';

export const RunReason = { INITIAL: 0, REPAIR: 1, ONLINE: 2 } as const;
export type RunReason = (typeof RunReason)[keyof typeof RunReason];

export function activateAnother(ctx: StepCtx, except: NicRec | null): void {
  const candidates = ctx.g.members.filter(
    (m) => m !== except && m.present && isFunctioning(m.state, m.flags) && hasFlag(m, NicFlag.INACTIVE),
  );
  const pick = candidates.find((m) => hasFlag(m, NicFlag.STANDBY))
    ?? candidates.filter((m) => !hasFlag(m, NicFlag.STANDBY)).at(-1);
  if (pick !== undefined) ctx.setFlags(pick, 0, NicFlag.INACTIVE);
}

/** The state a functioning NIC settles in: NOTARGETS when probing has no targets. */
export function runningState(n: NicRec): NicState {
  return n.probeEnabled && n.noTargets ? NicState.NOTARGETS : NicState.RUNNING;
}

export function transitionToRunning(ctx: StepCtx, n: NicRec, reason: RunReason): void {
  const g = ctx.g;
  const initial = n.state === NicState.INIT || reason === RunReason.INITIAL;
  const { nactive, nnonstandby } = ctx.counts(n);
  const clear = NicFlag.FAILED | (reason === RunReason.ONLINE ? NicFlag.OFFLINE | NicFlag.HWADDRDUP : 0);
  let inactive: boolean;
  let displaceStandby = false;
  if (g.anonymous) {
    inactive = false;
  } else if (hasFlag(n, NicFlag.STANDBY)) {
    inactive = nactive >= nnonstandby;
  } else if (reason === RunReason.ONLINE || g.failback || initial || g.state === GroupState.FAILED) {
    inactive = false;
    displaceStandby = nactive >= nnonstandby;
  } else {
    inactive = true;
  }
  ctx.apply(n, () => {
    n.flags = (n.flags & ~clear & ~NicFlag.INACTIVE) | (inactive ? NicFlag.INACTIVE : 0);
    n.state = runningState(n);
  });
  if (displaceStandby) {
    const standby = g.members.find((m) => m !== n && hasFlag(m, NicFlag.STANDBY) && isPolicyActive(m));
    if (standby !== undefined) ctx.setFlags(standby, NicFlag.INACTIVE, 0);
  }
  ctx.refreshGroupState();
}

export function refreshStandby(ctx: StepCtx, n: NicRec, standby: boolean): void {
  if (hasFlag(n, NicFlag.STANDBY) === standby) return;
  let flags = n.flags;
  if (standby) {
    flags |= NicFlag.STANDBY;
    if (!hasFlag(n, NicFlag.FAILED)) flags |= NicFlag.INACTIVE;
  } else {
    flags &= ~(NicFlag.STANDBY | NicFlag.INACTIVE);
  }
  if (ctx.g.anonymous) {
    flags &= ~NicFlag.INACTIVE;
  } else if (isFunctioning(n.state, flags)) {
    const { nactive, nnonstandby } = ctx.counts(n);
    if (nactive === 0 || nactive < nnonstandby) flags &= ~NicFlag.INACTIVE;
    else if (nactive > nnonstandby) flags |= NicFlag.INACTIVE;
  }
  ctx.apply(n, () => {
    n.flags = flags;
  });
  ctx.refreshGroupState();
}
