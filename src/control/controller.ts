/**
 * GroupController: one group's state machine (group.ts) driving its flow-hash buckets
 * (buckets.ts) and data-address binding (binding.ts).
 *
 * handle(event, now) runs one step. When nothing changed it returns at once with
 * changed=false; otherwise it applies the activations in the order the step raised them,
 * bumps the generation and returns what the data plane and the log must see.
 */
import type { Snapshot } from '../daemon/protocol.js';
import { AddressBinding, type BindMove } from './binding.js';
import { BucketTable } from './buckets.js';
import { BucketActivity } from './bucket-activity.js';
import { type GroupState, type LogLevel, NicFlag } from './glossary.js';
import { ActionKind, type Action, type GroupModel, type OpResult } from './group-model.js';
import { EventKind, type GroupEvent, type NicConfig, newGroupModel, step } from './group.js';
import { snapshotOf, type TestFamilies } from './snapshot.js';

export interface ControllerConfig {
  ifname: string;
  groupname: string;
  failback: boolean;
  anonymous?: boolean;
  nics: NicConfig[];
  /** Data addresses, "198.18.0.10" or "198.18.0.10/24"; all start UP. */
  addresses: string[];
}

export interface LogEntry {
  level: LogLevel;
  text: string;
}

export interface Effects {
  logs: LogEntry[];
  /** Buckets whose owner changed, ascending. */
  bucketChanges: number[];
  moves: BindMove[];
  /** New multicast/broadcast nominee; undefined = unchanged. */
  nominee: number | null | undefined;
  /** New carrier of the IPMP interface; undefined = unchanged. */
  carrier: boolean | undefined;
  /** New group state; undefined = unchanged. */
  groupState: GroupState | undefined;
  changed: boolean;
  /** Outcome of offline / undo-offline. */
  result?: OpResult;
}

function noEffects(): Effects {
  return {
    logs: [], bucketChanges: [], moves: [], nominee: undefined, carrier: undefined, groupState: undefined,
    changed: false,
  };
}

function splitAddress(a: string): { address: string; prefixlen: number } {
  const [address, len] = a.split('/');
  return { address, prefixlen: len !== undefined ? Number(len) : address.includes(':') ? 128 : 32 };
}

export class GroupController {
  readonly buckets = new BucketTable();
  readonly binding = new AddressBinding();
  private readonly activity = new BucketActivity();
  private modelState: GroupModel;
  private gen = 0;
  private readonly prefixes = new Map<string, number>();

  constructor(cfg: ControllerConfig) {
    this.buckets.setBusy((b) => this.activity.busy(b));
    this.modelState = newGroupModel(cfg.ifname, cfg.groupname, cfg.failback, cfg.anonymous ?? false);
    for (const a of cfg.addresses) this.addAddress(a);
    for (const c of cfg.nics) this.handle({ kind: EventKind.NIC_ADDED, config: c }, 0);
  }

  get generation(): number {
    return this.gen;
  }

  get model(): Readonly<GroupModel> {
    return this.modelState;
  }

  nicId(name: string): number | undefined {
    return this.modelState.members.find((n) => n.name === name)?.id;
  }

  handle(event: GroupEvent, nowNs: number): Effects {
    const r = step(this.modelState, event, nowNs);
    const eff = noEffects();
    if (r.result !== undefined) eff.result = r.result;
    if (!r.changed) return eff;
    this.modelState = r.model;
    const before = { nominee: this.binding.nominee, carrier: this.binding.carrier };
    const changed = new Set<number>(this.syncMembers());
    for (const a of this.netActivations(r.actions)) {
      if (a.kind === ActionKind.LOG) eff.logs.push({ level: a.level, text: a.text });
      else if (a.kind === ActionKind.GROUP_STATE) eff.groupState = a.state;
      else if (a.kind === ActionKind.ACTIVATE) {
        for (const b of this.buckets.activate(a.nic)) changed.add(b);
        eff.moves.push(...this.binding.activate(a.nic).moves);
      } else {
        for (const b of this.buckets.deactivate(a.nic)) changed.add(b);
        eff.moves.push(...this.binding.deactivate(a.nic).moves);
      }
    }
    eff.bucketChanges = [...changed].sort((x, y) => x - y);
    eff.moves = netMoves(eff.moves);
    return this.finish(eff, before);
  }

  addNic(config: NicConfig, nowNs: number): Effects {
    return this.handle({ kind: EventKind.NIC_ADDED, config }, nowNs);
  }

  removeNic(nic: number, nowNs: number): Effects {
    return this.handle({ kind: EventKind.NIC_REMOVED, nic }, nowNs);
  }

  setStandby(nic: number, standby: boolean, nowNs: number): Effects {
    return this.handle({ kind: EventKind.STANDBY_CHANGED, nic, standby }, nowNs);
  }

  setFailback(failback: boolean, nowNs: number): Effects {
    return this.handle({ kind: EventKind.FAILBACK_CHANGED, failback }, nowNs);
  }

  offline(nic: number, nowNs: number): Effects {
    return this.handle({ kind: EventKind.OFFLINE, nic }, nowNs);
  }

  undoOffline(nic: number, nowNs: number): Effects {
    return this.handle({ kind: EventKind.UNDO_OFFLINE, nic }, nowNs);
  }

  /** Adds a data address ("a.b.c.d[/len]") and brings it up. */
  addAddress(spec: string): Effects {
    const { address, prefixlen } = splitAddress(spec);
    if (this.prefixes.has(address)) return noEffects();
    this.prefixes.set(address, prefixlen);
    this.binding.addAddress(address);
    return this.bindingChange(() => this.binding.addressUp(address).moves);
  }

  removeAddress(spec: string): Effects {
    const { address } = splitAddress(spec);
    if (!this.prefixes.delete(address)) return noEffects();
    return this.bindingChange(() => this.binding.removeAddress(address).moves, true);
  }

  setAddressUp(spec: string, up: boolean): Effects {
    const { address } = splitAddress(spec);
    if (!this.prefixes.has(address) || this.binding.isUp(address) === up) return noEffects();
    return this.bindingChange(() => (up ? this.binding.addressUp(address) : this.binding.addressDown(address)).moves);
  }

  /**
   * A sample of the data plane's per-bucket packet counts (monotonic). Busy buckets are not
   * taken from healthy NICs by a NIC that joins; call before events that may activate one.
   */
  observeBuckets(nowNs: number, counts: ArrayLike<number>): void {
    this.activity.observe(nowNs, counts);
  }

  /** Buckets lent to another NIC, waiting to be idle to go to their home. */
  lentBuckets(): number {
    return this.buckets.lentCount();
  }

  /** Hands lent buckets that are idle now (at the last observeBuckets) to their homes. */
  handOverIdle(): Effects {
    const before = { nominee: this.binding.nominee, carrier: this.binding.carrier };
    const eff = noEffects();
    eff.bucketChanges = this.buckets.handOver();
    if (eff.bucketChanges.length === 0) return eff;
    return this.finish(eff, before);
  }

  /** `testFamilies`: the families the members' test addresses use (for the nominee flags). */
  snapshot(testFamilies?: TestFamilies): Omit<Snapshot, 'targets'> {
    return snapshotOf(this.modelState, this.binding, this.prefixes, this.gen, testFamilies);
  }

  private bindingChange(run: () => BindMove[], force = false): Effects {
    const before = { nominee: this.binding.nominee, carrier: this.binding.carrier };
    const eff = noEffects();
    eff.moves = run();
    if (eff.moves.length === 0 && !force) return eff;
    return this.finish(eff, before);
  }

  private finish(eff: Effects, before: { nominee: number | null; carrier: boolean }): Effects {
    if (this.binding.nominee !== before.nominee) eff.nominee = this.binding.nominee;
    if (this.binding.carrier !== before.carrier) eff.carrier = this.binding.carrier;
    eff.changed = true;
    this.gen++;
    return eff;
  }

  /**
   * A step is atomic: of a NIC's activations and deactivations only the last is kept, and only
   * when it changes the NIC's state (a NIC that appears with its link down is activated and
   * failed within one step, and must not move buckets or addresses, nor count as having been
   * active). Other actions keep their order.
   */
  private netActivations(actions: Action[]): Action[] {
    const last = new Map<number, number>();
    actions.forEach((a, i) => { if (a.kind === ActionKind.ACTIVATE || a.kind === ActionKind.DEACTIVATE) last.set(a.nic, i); });
    return actions.filter((a, i) => {
      if (a.kind !== ActionKind.ACTIVATE && a.kind !== ActionKind.DEACTIVATE) return true;
      return last.get(a.nic) === i && (a.kind === ActionKind.ACTIVATE) !== this.binding.isActive(a.nic);
    });
  }

  /** Brings the bucket table's members in line with the group's (before activations). */
  private syncMembers(): number[] {
    const nonStandby: number[] = [];
    const standby: number[] = [];
    for (const n of this.modelState.members) ((n.flags & NicFlag.STANDBY) !== 0 ? standby : nonStandby).push(n.id);
    const cur = this.buckets.members();
    if (same(cur.nonStandby, nonStandby) && same(cur.standby, standby)) return [];
    return this.buckets.setMembers(nonStandby, standby);
  }
}

/**
 * One move per address for a whole step: where it was before and where it ends up (an address
 * that moves twice in a step, e.g. to a NIC that fails again at once, is announced once, at the
 * final NIC); none when it ends where it was.
 */
function netMoves(moves: BindMove[]): BindMove[] {
  const net = new Map<string, BindMove>();
  for (const m of moves) {
    const first = net.get(m.address);
    net.set(m.address, first ? { address: m.address, from: first.from, to: m.to, initial: first.initial } : m);
  }
  return [...net.values()].filter((m) => m.from !== m.to);
}

function same(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
