/**
 * The difference between two configurations, as the minimal list of changes a
 * SIGHUP applies live. Order is safe to apply from first to last: tunables, then
 * every removal (addresses, interfaces, groups), then in-place changes, then every
 * addition (groups, interfaces, addresses). So an interface or address moving
 * between groups leaves the old one before it joins the new one.
 */
import { prefixText } from './config-addr.js';
import type { IpPrefix } from './config-addr.js';
import type { DaemonConfig, GroupConfig, InterfaceConfig } from './config-types.js';

export type ConfigChange =
  | { kind: 'fdt'; from: number; to: number }
  | { kind: 'failback'; from: boolean; to: boolean }
  | { kind: 'track-interfaces-only-with-groups'; from: boolean; to: boolean }
  | { kind: 'address-removed'; group: string; address: IpPrefix }
  | { kind: 'interface-removed'; group: string; name: string }
  | { kind: 'group-removed'; group: string }
  | { kind: 'groupname-changed'; group: string; from: string; to: string }
  | {
    kind: 'interface-changed'; group: string; name: string; from: InterfaceConfig; to: InterfaceConfig;
    /** Which properties differ. */
    standby: boolean; testAddress: boolean; testAddress6: boolean;
  }
  | { kind: 'interfaces-reordered'; group: string; order: string[] }
  | { kind: 'targets-changed'; group: string; from: string[] | null; to: string[] | null }
  | { kind: 'group-added'; group: string; config: GroupConfig }
  | { kind: 'interface-added'; group: string; config: InterfaceConfig }
  | { kind: 'address-added'; group: string; address: IpPrefix };

const pfx = (p: IpPrefix | null | undefined): string => (p ? prefixText(p) : '');

function sameList(a: readonly string[] | null, b: readonly string[] | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Per-group removals, changes and additions, appended to the three lists. */
function diffGroup(a: GroupConfig, b: GroupConfig, rm: ConfigChange[], ch: ConfigChange[], add: ConfigChange[]): void {
  const group = b.ifname;
  const aAddr = new Set(a.addresses.map(prefixText));
  const bAddr = new Set(b.addresses.map(prefixText));
  for (const x of a.addresses) if (!bAddr.has(prefixText(x))) rm.push({ kind: 'address-removed', group, address: x });
  const aIf = new Map(a.interfaces.map((i) => [i.name, i]));
  const bIf = new Map(b.interfaces.map((i) => [i.name, i]));
  for (const i of a.interfaces) if (!bIf.has(i.name)) rm.push({ kind: 'interface-removed', group, name: i.name });

  if (a.groupname !== b.groupname) ch.push({ kind: 'groupname-changed', group, from: a.groupname, to: b.groupname });
  for (const to of b.interfaces) {
    const from = aIf.get(to.name);
    if (!from) continue;
    const standby = from.standby !== to.standby;
    const testAddress = pfx(from.testAddress) !== pfx(to.testAddress);
    const testAddress6 = pfx(from.testAddress6) !== pfx(to.testAddress6)
      || (from.linkLocalTestAddress ?? false) !== (to.linkLocalTestAddress ?? false);
    if (standby || testAddress || testAddress6) {
      ch.push({ kind: 'interface-changed', group, name: to.name, from, to, standby, testAddress, testAddress6 });
    }
  }
  const keptOld = a.interfaces.filter((i) => bIf.has(i.name)).map((i) => i.name);
  const keptNew = b.interfaces.filter((i) => aIf.has(i.name)).map((i) => i.name);
  if (!sameList(keptOld, keptNew)) ch.push({ kind: 'interfaces-reordered', group, order: b.interfaces.map((i) => i.name) });
  if (!sameList(a.targets, b.targets)) ch.push({ kind: 'targets-changed', group, from: a.targets, to: b.targets });

  for (const i of b.interfaces) if (!aIf.has(i.name)) add.push({ kind: 'interface-added', group, config: i });
  for (const x of b.addresses) if (!aAddr.has(prefixText(x))) add.push({ kind: 'address-added', group, address: x });
}

/** The changes that turn `before` into `after`; empty when they are equivalent. */
export function diffConfig(before: DaemonConfig, after: DaemonConfig): ConfigChange[] {
  const out: ConfigChange[] = [];
  if (before.fdtMs !== after.fdtMs) out.push({ kind: 'fdt', from: before.fdtMs, to: after.fdtMs });
  if (before.failback !== after.failback) out.push({ kind: 'failback', from: before.failback, to: after.failback });
  if (before.trackInterfacesOnlyWithGroups !== after.trackInterfacesOnlyWithGroups) {
    out.push({
      kind: 'track-interfaces-only-with-groups',
      from: before.trackInterfacesOnlyWithGroups, to: after.trackInterfacesOnlyWithGroups,
    });
  }
  const rm: ConfigChange[] = [];
  const ch: ConfigChange[] = [];
  const add: ConfigChange[] = [];
  const beforeGroups = new Map(before.groups.map((g) => [g.ifname, g]));
  const afterGroups = new Map(after.groups.map((g) => [g.ifname, g]));
  for (const g of before.groups) {
    const next = afterGroups.get(g.ifname);
    if (next) diffGroup(g, next, rm, ch, add);
  }
  const gone = before.groups.filter((g) => !afterGroups.has(g.ifname)).map((g): ConfigChange => ({ kind: 'group-removed', group: g.ifname }));
  const born = after.groups.filter((g) => !beforeGroups.has(g.ifname)).map((g): ConfigChange => ({ kind: 'group-added', group: g.ifname, config: g }));
  return [...out, ...rm, ...gone, ...ch, ...born, ...add];
}
