/**
 * The state of one group as the state machine sees it, and the one place that changes it.
 *
 * Every flag or state change goes through StepCtx.apply(), which compares whether the NIC is
 * active in the data path before and after and raises ACTIVATE / DEACTIVATE actions in the
 * order the changes happen. Group state is refreshed with refreshGroupState(), which logs the
 * §13 group messages on entering and leaving FAILED.
 */
import type { ErrorCode } from '../daemon/protocol.js';
import {
  GroupState, LinkState, LogLevel, NicFlag, NicState, NOT_ACTIVE_FLAGS, isFunctioning, isUsable,
} from './glossary.js';

export interface NicRec {
  id: number;
  name: string;
  state: NicState;
  flags: number;
  link: LinkState;
  probeEnabled: boolean;
  /** False until the prober reports no targets; only meaningful with probing enabled. */
  noTargets: boolean;
  mac: string | null;
  /** The device exists; a configured NIC that is missing is tracked as failed. */
  present: boolean;
  /** The device has been present since the NIC joined (a NIC missing at start has not). */
  everPresent: boolean;
  ifindex: number;
}

export interface GroupModel {
  ifname: string;
  /** Empty for the anonymous group. */
  groupname: string;
  anonymous: boolean;
  failback: boolean;
  state: GroupState;
  /** Group list order: new members are inserted at the head. */
  members: NicRec[];
}

export const ActionKind = { ACTIVATE: 0, DEACTIVATE: 1, LOG: 2, GROUP_STATE: 3 } as const;

export type Action =
  | { kind: typeof ActionKind.ACTIVATE; nic: number }
  | { kind: typeof ActionKind.DEACTIVATE; nic: number }
  | { kind: typeof ActionKind.LOG; level: LogLevel; text: string }
  | { kind: typeof ActionKind.GROUP_STATE; state: GroupState };

/** Outcome of an administrative request (offline / undo-offline). */
export type OpResult = { ok: true } | { ok: false; code: ErrorCode; error: string };

/** In the data path: present, past creation, none of FAILED, INACTIVE, OFFLINE, DOWN. */
export function isDataActive(n: NicRec): boolean {
  return n.present && n.state !== NicState.INIT && (n.flags & NOT_ACTIVE_FLAGS) === 0;
}

/** Counted in nactive (§7.4): functioning and not INACTIVE. */
export function isPolicyActive(n: NicRec): boolean {
  return isFunctioning(n.state, n.flags) && (n.flags & NicFlag.INACTIVE) === 0;
}

export function hasFlag(n: NicRec, flag: number): boolean {
  return (n.flags & flag) !== 0;
}

export function cloneModel(g: GroupModel): GroupModel {
  return { ...g, members: g.members.map((n) => ({ ...n })) };
}

export class StepCtx {
  readonly actions: Action[] = [];
  changed = false;
  result: OpResult | undefined;

  constructor(readonly g: GroupModel, readonly nowNs: number) {}

  find(id: number): NicRec | undefined {
    return this.g.members.find((n) => n.id === id);
  }

  /** Runs a change on one NIC and raises activation actions if its data-path status moved. */
  apply(n: NicRec, change: () => void): void {
    const before = isDataActive(n);
    const snap = `${n.state}/${n.flags}/${n.link}/${n.present}/${n.mac}/${n.noTargets}`;
    change();
    if (n.flags & NicFlag.FAILED) n.flags &= ~NicFlag.INACTIVE;
    const after = isDataActive(n);
    if (snap !== `${n.state}/${n.flags}/${n.link}/${n.present}/${n.mac}/${n.noTargets}`) this.changed = true;
    if (before && !after) this.actions.push({ kind: ActionKind.DEACTIVATE, nic: n.id });
    if (!before && after) this.actions.push({ kind: ActionKind.ACTIVATE, nic: n.id });
  }

  setFlags(n: NicRec, set: number, clear: number): void {
    this.apply(n, () => {
      n.flags = (n.flags & ~clear) | set;
    });
  }

  setState(n: NicRec, state: NicState): void {
    this.apply(n, () => {
      n.state = state;
    });
  }

  log(level: LogLevel, text: string): void {
    this.actions.push({ kind: ActionKind.LOG, level, text });
    this.changed = true;
  }

  fail(code: ErrorCode, error: string): void {
    this.result = { ok: false, code, error };
  }

  /** nactive and nnonstandby over the members other than `except`. */
  counts(except: NicRec | null): { nactive: number; nnonstandby: number } {
    let nactive = 0;
    let nnonstandby = 0;
    for (const m of this.g.members) {
      if (m === except) continue;
      if (isPolicyActive(m)) nactive++;
      if (!hasFlag(m, NicFlag.STANDBY)) nnonstandby++;
    }
    return { nactive, nnonstandby };
  }

  /** "on %s of group %s", or "on %s" in the anonymous group. */
  onWhere(n: NicRec): string {
    return this.g.anonymous ? `on ${n.name}` : `on ${n.name} of group ${this.g.groupname}`;
  }

  refreshGroupState(): void {
    const g = this.g;
    if (g.anonymous) return;
    const usable = g.members.filter((m) => isUsable(m.state, m.flags) && m.present);
    const next: GroupState = usable.length === 0 ? GroupState.FAILED
      : usable.length === g.members.length ? GroupState.OK : GroupState.DEGRADED;
    if (next === g.state) return;
    const prev = g.state;
    g.state = next;
    this.changed = true;
    this.actions.push({ kind: ActionKind.GROUP_STATE, state: next });
    if (next === GroupState.FAILED) {
      this.log(LogLevel.ERR, `All IP interfaces in group ${g.groupname} are now unusable`);
    } else if (prev === GroupState.FAILED) {
      this.log(LogLevel.ERR, `At least 1 IP interface (${usable[0].name}) in group ${g.groupname} is now usable`);
    }
  }
}
