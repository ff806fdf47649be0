/**
 * ipmpstat field tables (reference §11.2): per mode, the columns with their widths and how each
 * value is rendered from a snapshot row. A getter returns '' for an empty value and undefined
 * when the snapshot does not carry what it needs (printed `?`).
 */
import type {
  ProbeEvent, Snapshot, SnapshotAddress, SnapshotGroup, SnapshotInterface, SnapshotTarget,
} from '../daemon/protocol.js';
import type { OfmtField } from './ofmt.js';

export type Mode = 'a' | 'g' | 'i' | 'p' | 't';

function word(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function list(v: unknown): string | undefined {
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v.join(' ') : undefined;
}

// -a -------------------------------------------------------------------------------------

/** Data addresses with duplicates removed; when an address appears twice an up copy wins. */
export function addressRows(s: Snapshot): SnapshotAddress[] {
  const byKey = new Map<string, SnapshotAddress>();
  for (const a of s.addresses ?? []) {
    const key = String(a.address).toLowerCase();
    const seen = byKey.get(key);
    if (!seen) byKey.set(key, a);
    else if (!seen.up && a.up) byKey.set(key, a);
  }
  return [...byKey.values()];
}

export const ADDRESS_FIELDS: readonly OfmtField<SnapshotAddress>[] = [
  { name: 'ADDRESS', width: 26, get: (a) => word(a.address) },
  { name: 'STATE', width: 7, get: (a) => typeof a.up === 'boolean' ? (a.up ? 'up' : 'down') : undefined },
  { name: 'GROUP', width: 12, get: (a) => word(a.group) },
  { name: 'INBOUND', width: 12, get: (a) => a.up === false ? '' : word(a.inbound) },
  {
    name: 'OUTBOUND', width: 23,
    get: (a) => (a.up === false || a.inbound === '' ? '' : list(a.outbound)),
  },
];

// -g -------------------------------------------------------------------------------------

export interface GroupRow {
  group: SnapshotGroup;
  members: Map<string, SnapshotInterface>;
}

export function groupRows(s: Snapshot): GroupRow[] {
  const members = new Map((s.interfaces ?? []).map((i) => [i.name, i] as const));
  return (s.groups ?? []).map((group) => ({ group, members }));
}

/** `active (inactive ...) [unusable ...]` in group list order; unknown members are skipped. */
export function groupInterfaces(row: GroupRow): string | undefined {
  if (!Array.isArray(row.group.interfaces)) return undefined;
  const active: string[] = [];
  const inactive: string[] = [];
  const unusable: string[] = [];
  for (const name of row.group.interfaces) {
    const ifc = row.members.get(name);
    if (!ifc) continue;
    if (ifc.active) active.push(name);
    else if (ifc.flags?.inactive) inactive.push(name);
    else unusable.push(name);
  }
  const parts = [...active];
  if (inactive.length > 0) parts.push(`(${inactive.join(' ')})`);
  if (unusable.length > 0) parts.push(`[${unusable.join(' ')}]`);
  return parts.join(' ');
}

export function formatFdt(fdtMs: number | null | undefined): string | undefined {
  if (fdtMs === null) return '';
  if (typeof fdtMs !== 'number') return undefined;
  return `${(fdtMs / 1000).toFixed(2)}s`;
}

export const GROUP_FIELDS: readonly OfmtField<GroupRow>[] = [
  { name: 'GROUP', width: 12, get: (r) => word(r.group.ifname) },
  { name: 'GROUPNAME', width: 12, get: (r) => word(r.group.groupname) },
  { name: 'STATE', width: 10, get: (r) => word(r.group.state) },
  { name: 'FDT', width: 10, get: (r) => formatFdt(r.group.fdtMs) },
  { name: 'INTERFACES', width: 30, get: groupInterfaces },
];

// -i -------------------------------------------------------------------------------------

/** The 7-character `ismbMdh` string, `-` where a flag is unset. */
export function formatFlags(i: SnapshotInterface): string | undefined {
  const f = i.flags;
  if (!f || typeof f !== 'object') return undefined;
  return [
    f.inactive ? 'i' : '-', f.standby ? 's' : '-', f.mcast4 ? 'm' : '-', f.bcast4 ? 'b' : '-',
    f.mcast6 ? 'M' : '-', f.down ? 'd' : '-', f.hwaddrdup ? 'h' : '-',
  ].join('');
}

export const INTERFACE_FIELDS: readonly OfmtField<SnapshotInterface>[] = [
  { name: 'INTERFACE', width: 12, get: (i) => word(i.name) },
  { name: 'ACTIVE', width: 8, get: (i) => typeof i.active === 'boolean' ? (i.active ? 'yes' : 'no') : undefined },
  { name: 'GROUP', width: 12, get: (i) => word(i.group) },
  { name: 'FLAGS', width: 10, get: formatFlags },
  { name: 'LINK', width: 10, get: (i) => word(i.link) },
  { name: 'PROBE', width: 10, get: (i) => word(i.probe) },
  { name: 'STATE', width: 10, get: (i) => word(i.state) },
];

// -t -------------------------------------------------------------------------------------

/**
 * One row per family with probing enabled, or a single `disabled` row for an interface with
 * neither; interfaces in snapshot order, then rows for interfaces the snapshot does not list.
 */
export function targetRows(s: Snapshot): SnapshotTarget[] {
  const all = s.targets ?? [];
  const rows: SnapshotTarget[] = [];
  const rowsFor = (name: string): SnapshotTarget[] => {
    const mine = all.filter((t) => t.interface === name);
    const enabled = mine.filter((t) => t.mode !== 'disabled');
    if (enabled.length > 0) return enabled;
    return [mine[0] ?? { interface: name, family: 4, mode: 'disabled', testaddr: '', targets: [] }];
  };
  const names = (s.interfaces ?? []).map((i) => i.name);
  for (const name of names) rows.push(...rowsFor(name));
  const extra = [...new Set(all.map((t) => t.interface))].filter((n) => !names.includes(n));
  for (const name of extra) rows.push(...rowsFor(name));
  return rows;
}

/** True when at least one member probes (some -t row is not `disabled`). */
export function probingEnabled(s: Snapshot): boolean {
  return targetRows(s).some((t) => t.mode !== 'disabled');
}

export const TARGET_FIELDS: readonly OfmtField<SnapshotTarget>[] = [
  { name: 'INTERFACE', width: 12, get: (t) => word(t.interface) },
  { name: 'MODE', width: 10, get: (t) => word(t.mode) },
  { name: 'TESTADDR', width: 20, get: (t) => (t.mode === 'disabled' ? '' : word(t.testaddr)) },
  { name: 'TARGETS', width: 38, get: (t) => (t.mode === 'disabled' ? '' : list(t.targets)) },
];

// -p -------------------------------------------------------------------------------------

export interface ProbeRow {
  ev: ProbeEvent;
  /** When ipmpstat started, on the same clock as ev.startMs. */
  startedMs: number;
}

function ms(v: number | null | undefined, emptyWhenZero: boolean): string | undefined {
  if (v === null) return '';
  if (typeof v !== 'number') return undefined;
  if (emptyWhenZero && v === 0) return '';
  return `${v.toFixed(2)}ms`;
}

export const PROBE_FIELDS: readonly OfmtField<ProbeRow>[] = [
  {
    name: 'TIME', width: 10,
    get: (r) => (typeof r.ev.startMs === 'number' ? `${((r.ev.startMs - r.startedMs) / 1000).toFixed(2)}s` : undefined),
  },
  { name: 'INTERFACE', width: 12, get: (r) => word(r.ev.interface) },
  { name: 'PROBE', width: 7, get: (r) => (typeof r.ev.id === 'number' ? String(r.ev.id) : undefined) },
  { name: 'NETRTT', width: 10, get: (r) => (r.ev.state === 'lost' ? '' : ms(r.ev.netrttMs, false)) },
  { name: 'RTT', width: 10, get: (r) => (r.ev.state === 'lost' ? '' : ms(r.ev.rttMs, false)) },
  { name: 'RTTAVG', width: 10, get: (r) => ms(r.ev.rttavgMs, true) },
  { name: 'TARGET', width: 20, get: (r) => word(r.ev.target) },
  { name: 'RTTDEV', width: 10, get: (r) => ms(r.ev.rttdevMs, true) },
];
