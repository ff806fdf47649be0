/** Builders shared by the control-plane tests: a controller over NICs named net0, net1, ... */
import { GroupController, type Effects } from '../../../src/control/controller.js';
import { EventKind, type NicConfig } from '../../../src/control/group.js';
import type { SnapshotInterface } from '../../../src/daemon/protocol.js';
import type { FamilyTimes, ProbeFacts } from '../../../src/control/failure-decision.js';

export interface NicSpec {
  standby?: boolean;
  probe?: boolean;
  mac?: string | null;
}

export function nicConfig(id: number, spec: NicSpec = {}): NicConfig {
  const mac = spec.mac === undefined ? `02:00:00:00:00:${id.toString(16).padStart(2, '0')}` : spec.mac;
  return { id, name: `net${id}`, standby: spec.standby ?? false, mac, probeEnabled: spec.probe ?? false };
}

export function group(
  nics: NicSpec[],
  opts: { failback?: boolean; anonymous?: boolean; addresses?: string[] } = {},
): GroupController {
  return new GroupController({
    ifname: 'ipmp0',
    groupname: 'g0',
    failback: opts.failback ?? true,
    anonymous: opts.anonymous,
    nics: nics.map((s, i) => nicConfig(i, s)),
    addresses: opts.addresses ?? ['198.18.0.1/24', '198.18.0.2/24', '198.18.0.3/24', '198.18.0.4/24'],
  });
}

export function iface(c: GroupController, id: number): SnapshotInterface {
  const s = c.snapshot().interfaces.find((i) => i.name === `net${id}`);
  if (s === undefined) throw new Error(`no net${id}`);
  return s;
}

/** Names of the NICs with the ACTIVE flag. */
export function active(c: GroupController): string[] {
  return c.snapshot().interfaces.filter((i) => i.active).map((i) => i.name).sort();
}

export function texts(e: Effects): string[] {
  return e.logs.map((l) => l.text);
}

export const linkDown = (c: GroupController, nic: number, now = 1): Effects =>
  c.handle({ kind: EventKind.LINK_DOWN, nic }, now);

export const linkUp = (c: GroupController, nic: number, now = 2, allowed = true): Effects =>
  c.handle({ kind: EventKind.LINK_UP, nic, linkUpRepairAllowed: allowed }, now);

export const probeRepair = (c: GroupController, nic: number, now = 3): Effects =>
  c.handle({ kind: EventKind.PROBE_REPAIR, nic }, now);

export function facts(first: FamilyTimes, last: Record<number, FamilyTimes>): ProbeFacts {
  return { firstFailureNs: first, lastSuccessNs: new Map(Object.entries(last).map(([k, v]) => [Number(k), v])) };
}

export const probeFail = (c: GroupController, nic: number, f: ProbeFacts, now = 4): Effects =>
  c.handle({ kind: EventKind.PROBE_FAILURE, nic, facts: f }, now);

/** Every bucket's owner, as NIC names. */
export function bucketOwners(c: GroupController): Set<number> {
  return new Set(c.buckets.owner);
}
