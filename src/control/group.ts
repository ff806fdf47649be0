/**
 * The in.mpathd state machine of one group: step(model, event, now) → { model, actions }.
 *
 * Transition table (n = the event's NIC; "fail" = checkForFailure, §8 decides interface vs group):
 *
 *   event               condition                                   effect
 *   LINK_DOWN           link was not down                           log link down; fail(LINK)
 *   LINK_UP             link was not up                             log link up; if repair allowed,
 *                                                                   no probing and n failed: repair
 *   LINK_STABLE         link up (flap damping let go)               no probing and n failed: repair
 *   PROBE_FAILURE       n RUNNING/NOTARGETS/INIT, link not down     fail(PROBE, facts)
 *   PROBE_REPAIR        n failed, link not down                     repair
 *   NIC_ADDED           new id                                      insert at head; missing → FAILED;
 *                                                                   duplicate MAC → offline (h);
 *                                                                   else run (initial)
 *   NIC_REMOVED         known id                                    deactivate; remove; activate
 *                                                                   another if it was the last active
 *                                                                   or an active standby; online
 *                                                                   duplicate partners
 *   NIC_APPEARED        n missing                                   present; re-created (initial run),
 *                                                                   but a NIC that failed when it went
 *                                                                   and is back with its link down
 *                                                                   stays failed (no second failure)
 *   NIC_VANISHED        n present                                   absent; interface failure
 *   STANDBY_CHANGED     flag differs                                refreshStandby (§7.4)
 *   FAILBACK_CHANGED    value differs                               stored (no timed failback)
 *   OFFLINE             §12 checks pass                             offline, activate another
 *   UNDO_OFFLINE        §12 checks pass                             online (or FAILED if it failed)
 *   MAC_CHANGED         MAC differs                                 duplicate check both ways
 *   ADMIN_CHANGED       DOWN differs                                set/clear DOWN
 *   TARGETS_CHANGED     probing has / lost targets                  RUNNING ↔ NOTARGETS; a failed
 *                                                                   NIC without targets NOTARGETS
 * Every event with no effect leaves changed=false.
 */
import { GroupState, LinkState, LogLevel, NicFlag, NicState } from './glossary.js';
import {
  type Action, type GroupModel, type NicRec, type OpResult, StepCtx, cloneModel, hasFlag, isPolicyActive,
} from './group-model.js';
import { FailureCause, type ProbeFacts, canRepair, checkForFailure, interfaceFailure, repair } from './failure-decision.js';
export type { FamilyTimes, ProbeFacts } from './failure-decision.js';
import { offline, offlineIfDuplicate, onlineUniqueMacs, undoOffline } from './offline.js';
import { RunReason, activateAnother, refreshStandby, runningState, transitionToRunning } from './policy.js';

export const EventKind = {
  LINK_UP: 0, LINK_DOWN: 1, PROBE_FAILURE: 2, PROBE_REPAIR: 3, NIC_ADDED: 4, NIC_REMOVED: 5,
  NIC_APPEARED: 6, NIC_VANISHED: 7, STANDBY_CHANGED: 8, FAILBACK_CHANGED: 9, OFFLINE: 10,
  UNDO_OFFLINE: 11, MAC_CHANGED: 12, ADMIN_CHANGED: 13, TARGETS_CHANGED: 14, LINK_STABLE: 15,
  PROBE_CONFIG_CHANGED: 16,
} as const;

export interface NicConfig {
  id: number;
  name: string;
  standby: boolean;
  /** Null when the device is missing. */
  mac: string | null;
  probeEnabled: boolean;
  ifindex?: number;
  /** Link state when first seen; default up (the first link pass reports a down link). */
  linkUp?: boolean;
}

export type GroupEvent =
  | { kind: typeof EventKind.LINK_UP; nic: number; linkUpRepairAllowed: boolean }
  | { kind: typeof EventKind.LINK_DOWN; nic: number }
  /** A link held back by flap damping (its link-up refused for repair) may count for repair now. */
  | { kind: typeof EventKind.LINK_STABLE; nic: number }
  | { kind: typeof EventKind.PROBE_FAILURE; nic: number; facts: ProbeFacts }
  | { kind: typeof EventKind.PROBE_REPAIR; nic: number }
  | { kind: typeof EventKind.NIC_ADDED; config: NicConfig }
  | { kind: typeof EventKind.NIC_REMOVED; nic: number }
  | { kind: typeof EventKind.NIC_APPEARED; nic: number; mac: string; ifindex?: number; linkUp?: boolean }
  | { kind: typeof EventKind.NIC_VANISHED; nic: number }
  | { kind: typeof EventKind.STANDBY_CHANGED; nic: number; standby: boolean }
  | { kind: typeof EventKind.FAILBACK_CHANGED; failback: boolean }
  | { kind: typeof EventKind.OFFLINE; nic: number }
  | { kind: typeof EventKind.UNDO_OFFLINE; nic: number }
  | { kind: typeof EventKind.MAC_CHANGED; nic: number; mac: string | null }
  | { kind: typeof EventKind.ADMIN_CHANGED; nic: number; up: boolean }
  | { kind: typeof EventKind.TARGETS_CHANGED; nic: number; hasTargets: boolean }
  /** A test address was configured on a NIC that had none, or its last one was removed. */
  | { kind: typeof EventKind.PROBE_CONFIG_CHANGED; nic: number; probeEnabled: boolean };

export interface StepResult {
  model: GroupModel;
  actions: Action[];
  changed: boolean;
  /** Set for OFFLINE / UNDO_OFFLINE. */
  result?: OpResult;
}

export function newGroupModel(ifname: string, groupname: string, failback: boolean, anonymous = false): GroupModel {
  return {
    ifname, groupname: anonymous ? '' : groupname, anonymous, failback,
    state: anonymous ? GroupState.OK : GroupState.FAILED, members: [],
  };
}

export function step(model: GroupModel, ev: GroupEvent, nowNs: number): StepResult {
  const ctx = new StepCtx(cloneModel(model), nowNs);
  dispatch(ctx, ev);
  const out: StepResult = { model: ctx.g, actions: ctx.actions, changed: ctx.changed };
  if (ctx.result !== undefined) out.result = ctx.result;
  return out;
}

function dispatch(ctx: StepCtx, ev: GroupEvent): void {
  switch (ev.kind) {
    case EventKind.NIC_ADDED: return addNic(ctx, ev.config);
    case EventKind.FAILBACK_CHANGED:
      if (ctx.g.failback !== ev.failback) { ctx.g.failback = ev.failback; ctx.changed = true; }
      return;
    case EventKind.OFFLINE: return offline(ctx, ctx.find(ev.nic));
    case EventKind.UNDO_OFFLINE: return undoOffline(ctx, ctx.find(ev.nic));
    default: break;
  }
  const n = ctx.find(ev.nic);
  if (n === undefined) return;
  switch (ev.kind) {
    case EventKind.LINK_DOWN: return linkDown(ctx, n);
    case EventKind.LINK_UP: return linkUp(ctx, n, ev.linkUpRepairAllowed);
    case EventKind.LINK_STABLE: return linkStable(ctx, n);
    case EventKind.PROBE_FAILURE:
      if (n.link !== LinkState.DOWN) checkForFailure(ctx, n, FailureCause.PROBE, ev.facts);
      return;
    case EventKind.PROBE_REPAIR: return repair(ctx, n);
    case EventKind.NIC_REMOVED: return removeNic(ctx, n);
    case EventKind.NIC_APPEARED: return appeared(ctx, n, ev.mac, ev.ifindex, ev.linkUp ?? true);
    case EventKind.NIC_VANISHED: return vanished(ctx, n);
    case EventKind.STANDBY_CHANGED: return refreshStandby(ctx, n, ev.standby);
    case EventKind.MAC_CHANGED: return macChanged(ctx, n, ev.mac);
    case EventKind.ADMIN_CHANGED: return adminChanged(ctx, n, ev.up);
    case EventKind.TARGETS_CHANGED: return targetsChanged(ctx, n, ev.hasTargets);
    case EventKind.PROBE_CONFIG_CHANGED: return probeConfigChanged(ctx, n, ev.probeEnabled);
  }
}

function linkDown(ctx: StepCtx, n: NicRec): void {
  if (n.link === LinkState.DOWN || !n.present) return;
  ctx.apply(n, () => { n.link = LinkState.DOWN; n.flags &= ~NicFlag.RUNNING; });
  ctx.log(LogLevel.ERR, `The link has gone down on ${n.name}`);
  checkForFailure(ctx, n, FailureCause.LINK);
}

function linkUp(ctx: StepCtx, n: NicRec, repairAllowed: boolean): void {
  if (n.link === LinkState.UP || !n.present) return;
  ctx.apply(n, () => { n.link = LinkState.UP; n.flags |= NicFlag.RUNNING; });
  ctx.log(LogLevel.ERR, `The link has come up on ${n.name}`);
  const probing = n.probeEnabled && n.state !== NicState.OFFLINE;
  if (repairAllowed && !probing && canRepair(n)) repair(ctx, n);
}

function linkStable(ctx: StepCtx, n: NicRec): void {
  if (n.link !== LinkState.UP || !n.present) return;
  const probing = n.probeEnabled && n.state !== NicState.OFFLINE;
  if (!probing && canRepair(n)) repair(ctx, n);
}

function newRec(c: NicConfig): NicRec {
  const present = c.mac !== null;
  const up = present && (c.linkUp ?? true);
  return {
    id: c.id, name: c.name, state: NicState.INIT,
    flags: (c.standby ? NicFlag.STANDBY : 0) | (up ? NicFlag.RUNNING : 0),
    link: !present ? LinkState.UNKNOWN : up ? LinkState.UP : LinkState.DOWN,
    probeEnabled: c.probeEnabled, noTargets: false, mac: c.mac, present, everPresent: present, ifindex: c.ifindex ?? 0,
  };
}

function addNic(ctx: StepCtx, c: NicConfig): void {
  if (ctx.find(c.id) !== undefined) return;
  const n = newRec(c);
  ctx.g.members.unshift(n);
  ctx.changed = true;
  if (!n.present) {
    ctx.apply(n, () => { n.state = NicState.FAILED; n.flags |= NicFlag.FAILED; });
    ctx.refreshGroupState();
    return;
  }
  startNic(ctx, n);
}

/** Creation of a present NIC: duplicate-MAC check, initial run, then a down link fails it. */
function startNic(ctx: StepCtx, n: NicRec): void {
  if (offlineIfDuplicate(ctx, n)) return;
  if (n.state === NicState.OFFLINE) {
    if (hasFlag(n, NicFlag.FAILED)) ctx.setFlags(n, 0, NicFlag.FAILED);
    ctx.refreshGroupState();
    return;
  }
  ctx.setState(n, NicState.INIT);
  transitionToRunning(ctx, n, RunReason.INITIAL);
  if (n.link === LinkState.DOWN) {
    ctx.log(LogLevel.ERR, `The link has gone down on ${n.name}`);
    checkForFailure(ctx, n, FailureCause.LINK);
  }
}

function removeNic(ctx: StepCtx, n: NicRec): void {
  const wasActive = isPolicyActive(n);
  const lastActive = wasActive && ctx.counts(n).nactive === 0;
  const activeStandby = wasActive && hasFlag(n, NicFlag.STANDBY);
  ctx.apply(n, () => { n.present = false; });
  ctx.g.members.splice(ctx.g.members.indexOf(n), 1);
  ctx.changed = true;
  if ((lastActive || activeStandby) && !ctx.g.anonymous) activateAnother(ctx, null);
  onlineUniqueMacs(ctx);
  ctx.refreshGroupState();
}

function appeared(ctx: StepCtx, n: NicRec, mac: string, ifindex: number | undefined, linkUp: boolean): void {
  if (n.present) return macChanged(ctx, n, mac);
  // Its failure was logged when it went (or before): coming back with the link still down is
  // the same failure. A NIC missing since start has had no failure logged yet.
  const sameFailure = !linkUp && n.everPresent && n.state === NicState.FAILED;
  ctx.apply(n, () => {
    n.present = true;
    n.everPresent = true;
    n.mac = mac;
    n.ifindex = ifindex ?? n.ifindex;
    n.link = linkUp ? LinkState.UP : LinkState.DOWN;
    n.flags = linkUp ? n.flags | NicFlag.RUNNING : n.flags & ~NicFlag.RUNNING;
  });
  if (sameFailure) {
    if (!offlineIfDuplicate(ctx, n)) ctx.refreshGroupState();
    return;
  }
  startNic(ctx, n);
}

function vanished(ctx: StepCtx, n: NicRec): void {
  if (!n.present) return;
  ctx.apply(n, () => { n.present = false; n.link = LinkState.UNKNOWN; n.flags &= ~NicFlag.RUNNING; });
  if (hasFlag(n, NicFlag.FAILED)) ctx.refreshGroupState();
  else interfaceFailure(ctx, n);
  onlineUniqueMacs(ctx);
  ctx.refreshGroupState();
}

function macChanged(ctx: StepCtx, n: NicRec, mac: string | null): void {
  if (n.mac === mac) return;
  ctx.apply(n, () => { n.mac = mac; });
  if (!hasFlag(n, NicFlag.HWADDRDUP)) offlineIfDuplicate(ctx, n);
  onlineUniqueMacs(ctx);
}

function adminChanged(ctx: StepCtx, n: NicRec, up: boolean): void {
  if (hasFlag(n, NicFlag.DOWN) === !up) return;
  ctx.setFlags(n, up ? 0 : NicFlag.DOWN, up ? NicFlag.DOWN : 0);
  ctx.refreshGroupState();
}

/**
 * Probing switched on or off for a NIC (its test addresses changed live). Switched on, the NIC
 * keeps its state until probes decide. Switched off, only the link judges it: a NIC failed by
 * probes with its link up is repaired at once, and NOTARGETS no longer applies.
 */
function probeConfigChanged(ctx: StepCtx, n: NicRec, enabled: boolean): void {
  if (n.probeEnabled === enabled) return;
  ctx.changed = true;
  ctx.apply(n, () => {
    n.probeEnabled = enabled;
    n.noTargets = false;
    if (!enabled && n.state === NicState.NOTARGETS) n.state = hasFlag(n, NicFlag.FAILED) ? NicState.FAILED : runningState(n);
  });
  if (!enabled && n.present && n.link !== LinkState.DOWN && n.state !== NicState.OFFLINE && canRepair(n)) repair(ctx, n);
  ctx.refreshGroupState();
}

function targetsChanged(ctx: StepCtx, n: NicRec, hasTargets: boolean): void {
  if (n.noTargets === !hasTargets) return;
  ctx.apply(n, () => {
    n.noTargets = !hasTargets;
    if (!n.probeEnabled) return;
    if (hasTargets && n.state === NicState.NOTARGETS) {
      n.state = hasFlag(n, NicFlag.FAILED) ? NicState.FAILED : runningState(n);
    } else if (!hasTargets && (n.state === NicState.RUNNING || n.state === NicState.FAILED)) {
      n.state = NicState.NOTARGETS;
    }
  });
  ctx.refreshGroupState();
}
