/**
 * Offline / undo-offline (reference §12) and duplicate hardware addresses (§7.7).
 *
 *   offline       refused: unknown NIC (EUNKIF), already offline (EALREADY), anonymous group or
 *                 no other usable member (EMINRED; in a FAILED group any non-offline member
 *                 counts). Otherwise OFFLINE set, INACTIVE cleared, state OFFLINE, duplicate-MAC
 *                 partners onlined, another member activated if this one was active.
 *   undo-offline  refused: unknown (EUNKIF), not offline (ENOTOFFLINE), MAC duplicates an online
 *                 member or offlined for that (EHWADDRDUP). A NIC that failed while offline
 *                 becomes FAILED; otherwise it is onlined (active whatever FAILBACK says).
 *   duplicate MAC a member whose MAC equals an online member's is offlined with HWADDRDUP; it
 *                 is onlined once its MAC is unique again.
 */
import { GroupState, LogLevel, NicFlag, NicState, isUsable } from './glossary.js';
import { type NicRec, type StepCtx, hasFlag, isPolicyActive } from './group-model.js';
import { RunReason, activateAnother, transitionToRunning } from './policy.js';

const EUNKIF_TEXT = 'not a physical interface or not in an IPMP group';
const EHWADDRDUP_TEXT = 'interface has duplicate hardware address';

export function offline(ctx: StepCtx, n: NicRec | undefined): void {
  if (n === undefined) return ctx.fail('EUNKIF', EUNKIF_TEXT);
  if (n.state === NicState.OFFLINE) return ctx.fail('EALREADY', `interface ${n.name} is already offline`);
  const groupFailed = ctx.g.state === GroupState.FAILED;
  const other = ctx.g.members.some((m) => m !== n && m.present
    && (groupFailed ? m.state !== NicState.OFFLINE : isUsable(m.state, m.flags)));
  if (ctx.g.anonymous || !other) {
    return ctx.fail('EMINRED', `cannot offline ${n.name}: no other functioning interfaces are in its IPMP group`);
  }
  takeOffline(ctx, n, 0);
  ctx.result = { ok: true };
}

export function undoOffline(ctx: StepCtx, n: NicRec | undefined): void {
  if (n === undefined) return ctx.fail('EUNKIF', EUNKIF_TEXT);
  if (n.state !== NicState.OFFLINE) return ctx.fail('ENOTOFFLINE', `interface ${n.name} is not offline`);
  if (hasFlag(n, NicFlag.HWADDRDUP) || duplicateOf(ctx, n) !== undefined) {
    return ctx.fail('EHWADDRDUP', EHWADDRDUP_TEXT);
  }
  bringOnline(ctx, n);
  ctx.result = { ok: true };
}

function takeOffline(ctx: StepCtx, n: NicRec, extra: number): void {
  const wasActive = isPolicyActive(n);
  ctx.apply(n, () => {
    n.flags = (n.flags | NicFlag.OFFLINE | extra) & ~NicFlag.INACTIVE;
    n.state = NicState.OFFLINE;
  });
  onlineUniqueMacs(ctx);
  if (wasActive && !ctx.g.anonymous) activateAnother(ctx, n);
  ctx.refreshGroupState();
}

function bringOnline(ctx: StepCtx, n: NicRec): void {
  if (hasFlag(n, NicFlag.FAILED) || !n.present) {
    ctx.apply(n, () => {
      n.flags &= ~(NicFlag.OFFLINE | NicFlag.HWADDRDUP);
      n.state = NicState.FAILED;
    });
    ctx.refreshGroupState();
  } else {
    transitionToRunning(ctx, n, RunReason.ONLINE);
  }
}

/** Another present, not offline member with the same MAC as n. */
export function duplicateOf(ctx: StepCtx, n: NicRec): NicRec | undefined {
  if (n.mac === null || ctx.g.anonymous) return undefined;
  return ctx.g.members.find((m) => m !== n && m.present && m.state !== NicState.OFFLINE && m.mac === n.mac);
}

/** Offlines n when its MAC duplicates an online member's; true when it did. */
export function offlineIfDuplicate(ctx: StepCtx, n: NicRec): boolean {
  if (n.state === NicState.OFFLINE || duplicateOf(ctx, n) === undefined) return false;
  ctx.log(LogLevel.ERR,
    `IP interface ${n.name} has a hardware address which is not unique in group ${ctx.g.groupname}; offlining`);
  takeOffline(ctx, n, NicFlag.HWADDRDUP);
  return true;
}

/** Onlines, one by one in list order, members offlined for a MAC that is now unique. */
export function onlineUniqueMacs(ctx: StepCtx): void {
  for (const m of ctx.g.members) {
    if (!hasFlag(m, NicFlag.HWADDRDUP) || m.state !== NicState.OFFLINE) continue;
    if (duplicateOf(ctx, m) !== undefined) continue;
    ctx.log(LogLevel.ERR,
      `IP interface ${m.name} now has a unique hardware address in group ${ctx.g.groupname}; onlining`);
    bringOnline(ctx, m);
  }
}
