/**
 * Probe-based failure detection of one group, as the group runtime sees it: starts the probe
 * worker when a member has an IPv4 test address, keeps it told about NICs, routes, links and
 * the controller's failed flags, and turns its facts into state-machine events, `ipmpstat -t`
 * rows, the group FDT and `ipmpstat -p` events.
 */
import { EventKind, type GroupEvent } from '../../control/group.js';
import { GroupState, NicFlag, NicState } from '../../control/glossary.js';
import type { GroupModel } from '../../control/group-model.js';
import type { InterfaceConfig } from '../config-types.js';
import type { Nic } from '../nics.js';
import type { ProbeEvent, SnapshotTarget } from '../protocol.js';
import { Prober, type ProberFact, type ProberNic } from './prober.js';

export interface GroupProbingHost {
  group: string;
  fdtMs: number;
  /** Pinned targets from the configuration, or null. */
  targets: string[] | null;
  interfaces: () => readonly InterfaceConfig[];
  feed: (ev: GroupEvent) => void;
  model: () => Readonly<GroupModel>;
  log: (level: 'err' | 'info' | 'debug', text: string) => void;
  onProbe: (ev: ProbeEvent) => void;
}

type TargetRow = Extract<ProberFact, { kind: 'targets' }>;

export class GroupProbing {
  private prober: Prober | null = null;
  private readonly rows = new Map<number, TargetRow>();
  private stopped = false;
  /** The group's current FDT; null while no member probes. */
  fdtMs: number | null = null;

  constructor(private readonly host: GroupProbingHost) {}

  /** The IPv4 test address configured for a NIC, or null. */
  testAddressOf(name: string): { address: string; prefixlen: number } | null {
    const t = this.host.interfaces().find((i) => i.name === name)?.testAddress;
    return t && t.family === 4 ? { address: t.address, prefixlen: t.prefixlen } : null;
  }

  get enabled(): boolean {
    return this.host.interfaces().some((i) => i.testAddress?.family === 4);
  }

  private proberNics(nics: readonly Nic[]): ProberNic[] {
    const out: ProberNic[] = [];
    for (const n of nics) {
      const ta = this.testAddressOf(n.name);
      if (!ta || !n.present || !n.mac || n.ifindex <= 0) continue;
      out.push({ slot: n.slot, name: n.name, ifindex: n.ifindex, mac: n.mac.slice(0, 6), testAddress: ta, linkUp: n.linkUp });
    }
    return out;
  }

  async start(nics: readonly Nic[], gateways: string[]): Promise<void> {
    if (!this.enabled) return;
    const p = new Prober({
      group: this.host.group, fdtMs: this.host.fdtMs, nics: this.proberNics(nics), targets: this.host.targets,
      log: this.host.log,
    }, (f) => this.onFact(f));
    await p.start();
    this.prober = p;
    p.setRoutes(gateways);
    this.stateChanged();
  }

  nicsChanged(nics: readonly Nic[]): void {
    if (!this.prober) return;
    const list = this.proberNics(nics);
    const keep = new Set(list.map((n) => n.slot));
    for (const slot of this.rows.keys()) if (!keep.has(slot)) this.rows.delete(slot);
    this.prober.setNics(list);
  }

  routesChanged(gateways: string[]): void {
    this.prober?.setRoutes(gateways);
  }

  linkChanged(slot: number, up: boolean): void {
    this.prober?.linkChanged(slot, up);
  }

  /** Tells the worker which NICs the controller holds failed (it sends only changes). */
  stateChanged(): void {
    if (!this.prober) return;
    const m = this.host.model();
    this.prober.setState(
      m.members.map((n) => ({ slot: n.id, failed: n.state === NicState.FAILED || (n.flags & NicFlag.FAILED) !== 0 })),
      m.state === GroupState.FAILED,
    );
  }

  private onFact(f: ProberFact): void {
    if (this.stopped) return;
    switch (f.kind) {
      case 'failure': this.host.feed({ kind: EventKind.PROBE_FAILURE, nic: f.slot, facts: f.facts }); break;
      case 'repair': this.host.feed({ kind: EventKind.PROBE_REPAIR, nic: f.slot }); break;
      case 'targets':
        this.rows.set(f.slot, f);
        this.host.feed({ kind: EventKind.TARGETS_CHANGED, nic: f.slot, hasTargets: f.hasTargets });
        break;
      case 'fdt': this.fdtMs = f.fdtMs; break;
      case 'probe': this.host.onProbe(f.event); break;
      case 'log': this.host.log(f.level, f.text); break;
    }
  }

  /** The `ipmpstat -t` row of one NIC. */
  targetRow(nic: Nic): SnapshotTarget {
    const r = this.prober ? this.rows.get(nic.slot) : undefined;
    if (!r) {
      const ta = this.prober ? this.testAddressOf(nic.name) : null;
      return { interface: nic.name, family: 4, mode: ta ? 'multicast' : 'disabled', testaddr: ta?.address ?? '', targets: [] };
    }
    return { interface: nic.name, family: 4, mode: r.mode, testaddr: r.testaddr, targets: r.targets };
  }

  stats(): Promise<object> {
    return this.prober ? this.prober.stats() : Promise.resolve({ enabled: false });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const p = this.prober;
    this.prober = null;
    await p?.stop();
  }
}
