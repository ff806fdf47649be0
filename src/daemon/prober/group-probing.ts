/**
 * Probe-based failure detection of one group, as the group runtime sees it: starts the probe
 * worker when a member has a test address (IPv4 `test-address`, IPv6 `test-address6`), keeps
 * it told about NICs, routes, links and the controller's failed and offline flags, and turns
 * its facts into state-machine events, `ipmpstat -t` rows (one per family that probes), the
 * group FDT and `ipmpstat -p` events.
 *
 * `test-address6: link-local` gives a NIC the link-local address it forms from its MAC
 * (modified EUI-64), as Solaris uses the underlying interface's link-local for IPv6 probes.
 */
import { EventKind, type GroupEvent } from '../../control/group.js';
import { GroupState, NicFlag, NicState } from '../../control/glossary.js';
import type { GroupModel } from '../../control/group-model.js';
import { eui64LinkLocal } from '../../control/detectors/addr.js';
import type { InterfaceConfig } from '../config-types.js';
import type { Nic } from '../nics.js';
import type { ProbeEvent, SnapshotTarget, WorkerStatus } from '../protocol.js';
import type { Family, ProbeWorkerHook, TestAddr } from './messages.js';
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
  /** Accept test hooks (IPMPD_TEST_HOOKS=1). */
  testHooks?: boolean;
}

type TargetRow = Extract<ProberFact, { kind: 'targets' }>;

export class GroupProbing {
  private prober: Prober | null = null;
  /** Target rows by `slot/family`. */
  private readonly rows = new Map<string, TargetRow>();
  private stopped = false;
  /** The group's current FDT; null while no member probes. */
  fdtMs: number | null = null;
  /** NIC name → its IPv6 test address, found duplicate by DAD (that family does not probe). */
  private readonly dup6 = new Map<string, string>();

  constructor(private readonly host: GroupProbingHost) {}

  private config(name: string): InterfaceConfig | undefined {
    return this.host.interfaces().find((i) => i.name === name);
  }

  /** The IPv4 test address configured for a NIC, or null. */
  testAddressOf(name: string): TestAddr | null {
    const t = this.config(name)?.testAddress;
    return t && t.family === 4 ? { address: t.address, prefixlen: t.prefixlen } : null;
  }

  /** The IPv6 test address of a NIC: configured, or its MAC's link-local; null when none (or no MAC yet). */
  testAddress6Of(name: string, mac: Uint8Array | null): TestAddr | null {
    const c = this.config(name);
    if (c?.testAddress6 && c.testAddress6.family === 6) return { address: c.testAddress6.address, prefixlen: c.testAddress6.prefixlen };
    if (c?.linkLocalTestAddress && mac && mac.length >= 6) return { address: eui64LinkLocal(mac), prefixlen: 64 };
    return null;
  }

  /** True when a NIC has a test address of either family configured (probe-enabled), not counting a duplicate IPv6 one. */
  probeEnabledFor(name: string): boolean {
    const c = this.config(name);
    const v6 = !!c && (c.testAddress6?.family === 6 || c.linkLocalTestAddress === true) && !this.dup6.has(name);
    return !!c && (c.testAddress?.family === 4 || v6);
  }

  /** The IPv6 test address of a NIC found duplicate by DAD, or null. */
  duplicateTestAddress6(name: string): string | null {
    return this.dup6.get(name) ?? null;
  }

  /** True while a probe worker runs for the group. */
  get running(): boolean {
    return this.prober !== null;
  }

  get enabled(): boolean {
    return this.host.interfaces().some((i) => this.probeEnabledFor(i.name));
  }

  private proberNics(nics: readonly Nic[]): ProberNic[] {
    const out: ProberNic[] = [];
    for (const n of nics) {
      if (!n.present || !n.mac || n.ifindex <= 0) continue;
      const ta = this.testAddressOf(n.name);
      const ta6 = this.testAddress6Of(n.name, n.mac);
      if (!ta && !ta6) continue;
      out.push({
        slot: n.slot, name: n.name, ifindex: n.ifindex, mac: n.mac.slice(0, 6), testAddress: ta, testAddress6: ta6,
        linkUp: n.linkUp,
      });
    }
    return out;
  }

  async start(nics: readonly Nic[], gateways: string[], gateways6: string[] = []): Promise<void> {
    this.stopped = false;
    if (!this.enabled) return;
    const p = new Prober({
      group: this.host.group, fdtMs: this.host.fdtMs, nics: this.proberNics(nics), targets: this.host.targets,
      log: this.host.log, testHooks: this.host.testHooks ?? false,
    }, (f) => this.onFact(f));
    this.prober = p;
    await p.start();
    p.setRoutes(gateways, gateways6);
    this.stateChanged();
  }

  nicsChanged(nics: readonly Nic[]): void {
    if (!this.prober) return;
    const list = this.proberNics(nics);
    const keep = new Set(list.flatMap((n) => [
      ...(n.testAddress ? [`${n.slot}/4`] : []), ...(n.testAddress6 ? [`${n.slot}/6`] : []),
    ]));
    for (const k of this.rows.keys()) if (!keep.has(k)) this.rows.delete(k);
    this.prober.setNics(list);
  }

  routesChanged(gateways: string[], gateways6: string[] = []): void {
    this.prober?.setRoutes(gateways, gateways6);
  }

  linkChanged(slot: number, up: boolean): void {
    this.prober?.linkChanged(slot, up);
  }

  /** Tells the worker which NICs the controller holds failed or offline (it sends only changes). */
  stateChanged(): void {
    if (!this.prober) return;
    const m = this.host.model();
    this.prober.setState(
      m.members.map((n) => ({
        slot: n.id, failed: n.state === NicState.FAILED || (n.flags & NicFlag.FAILED) !== 0,
        offline: n.state === NicState.OFFLINE,
      })),
      m.state === GroupState.FAILED,
    );
  }

  /** Runs a test hook in the probe worker; false when hooks are off or nothing probes. */
  hook(h: ProbeWorkerHook): boolean {
    return this.prober?.hook(h) ?? false;
  }

  /** Test hook: every probe worker started crashes, until crashLoop(false); false when hooks are off or nothing probes. */
  crashLoop(on: boolean): boolean {
    return this.prober?.crashLoop(on) ?? false;
  }

  /** The probe worker's restarts, or null while nothing probes. */
  workerStatus(now = Date.now()): WorkerStatus | null {
    return this.prober?.status(now) ?? null;
  }

  /** Workers started so far (restarts included); 0 when nothing probes. */
  get workerStarts(): number {
    return this.prober?.starts ?? 0;
  }

  private onFact(f: ProberFact): void {
    if (this.stopped) return;
    switch (f.kind) {
      case 'failure': this.host.feed({ kind: EventKind.PROBE_FAILURE, nic: f.slot, facts: f.facts }); break;
      case 'repair': this.host.feed({ kind: EventKind.PROBE_REPAIR, nic: f.slot }); break;
      case 'targets': {
        this.rows.set(`${f.slot}/${f.family}`, f);
        const other = this.rows.get(`${f.slot}/${f.family === 4 ? 6 : 4}`);
        this.host.feed({ kind: EventKind.TARGETS_CHANGED, nic: f.slot, hasTargets: f.hasTargets || (other?.hasTargets ?? false) });
        break;
      }
      case 'fdt': this.fdtMs = f.fdtMs; break;
      case 'dad6': {
        const was = this.dup6.has(f.name);
        if (f.duplicate) this.dup6.set(f.name, f.address); else this.dup6.delete(f.name);
        if (was !== f.duplicate) this.host.feed({ kind: EventKind.PROBE_CONFIG_CHANGED, nic: f.slot, probeEnabled: this.probeEnabledFor(f.name) });
        break;
      }
      case 'probe': this.host.onProbe(f.event); break;
      case 'log': this.host.log(f.level, f.text); break;
    }
  }

  /** The `ipmpstat -t` rows of one NIC: one per family that probes, else one `disabled` row. */
  targetRows(nic: Nic): SnapshotTarget[] {
    const out: SnapshotTarget[] = [];
    const offline = this.host.model().members.find((m) => m.id === nic.slot)?.state === NicState.OFFLINE;
    const fams: Array<[Family, TestAddr | null]> = [
      [4, this.testAddressOf(nic.name)], [6, this.testAddress6Of(nic.name, nic.mac)],
    ];
    for (const [family, ta] of fams) {
      if (!ta || !this.prober || offline) continue;
      const r = this.rows.get(`${nic.slot}/${family}`);
      if (r && r.mode !== 'disabled') out.push({ interface: nic.name, family, mode: r.mode, testaddr: r.testaddr, targets: r.targets });
      else if (!r) out.push({ interface: nic.name, family, mode: 'multicast', testaddr: ta.address, targets: [] });
    }
    if (out.length === 0) out.push({ interface: nic.name, family: 4, mode: 'disabled', testaddr: '', targets: [] });
    return out;
  }

  stats(gc = false): Promise<object> {
    return this.prober ? this.prober.stats(gc) : Promise.resolve({ enabled: false });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const p = this.prober;
    this.prober = null;
    await p?.stop();
  }
}
