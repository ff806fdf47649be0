/**
 * The group, interface and address parts of a protocol Snapshot for one group: the edge
 * where numeric states become words (§7.3, §9.1, §9.5).
 */
import type { Snapshot, SnapshotAddress, SnapshotGroup, SnapshotInterface } from '../daemon/protocol.js';
import type { AddressBinding } from './binding.js';
import {
  NicFlag, groupStateWord, ifStateWord, isActiveWord, linkStateWord, probeStateWord,
} from './glossary.js';
import type { GroupModel, NicRec } from './group-model.js';

function interfaceOf(g: GroupModel, n: NicRec, nominee: number | null): SnapshotInterface {
  const nom = nominee === n.id;
  return {
    name: n.name,
    group: g.anonymous ? '' : g.ifname,
    groupname: g.groupname,
    active: n.present && isActiveWord(n.state, n.flags),
    flags: {
      inactive: (n.flags & NicFlag.INACTIVE) !== 0,
      standby: (n.flags & NicFlag.STANDBY) !== 0,
      mcast4: nom,
      bcast4: nom,
      mcast6: nom,
      down: (n.flags & NicFlag.DOWN) !== 0,
      hwaddrdup: (n.flags & NicFlag.HWADDRDUP) !== 0,
    },
    link: linkStateWord(n.link),
    probe: probeStateWord(n.state, n.probeEnabled),
    state: ifStateWord(n.state, n.flags),
    mac: n.present && n.mac !== null ? n.mac : '',
    ifindex: n.ifindex,
  };
}

export function snapshotOf(
  g: GroupModel, binding: AddressBinding, prefixes: ReadonlyMap<string, number>, generation: number,
): Omit<Snapshot, 'targets'> {
  const group: SnapshotGroup = {
    ifname: g.ifname,
    groupname: g.groupname,
    state: groupStateWord(g.state),
    fdtMs: null,
    interfaces: g.members.map((n) => n.name),
  };
  const interfaces = g.members.map((n) => interfaceOf(g, n, binding.nominee));
  const outbound = interfaces.filter((i) => i.active).map((i) => i.name);
  const nameOf = new Map(g.members.map((n) => [n.id, n.name]));
  const addresses: SnapshotAddress[] = binding.addresses().map((address) => {
    const up = binding.isUp(address);
    const nic = binding.bindingOf(address);
    const inbound = up && nic !== null ? nameOf.get(nic) ?? '' : '';
    return {
      address, prefixlen: prefixes.get(address) ?? 32, up, group: g.ifname, inbound,
      outbound: inbound === '' ? [] : outbound,
    };
  });
  return { generation, groups: [group], interfaces, addresses };
}
