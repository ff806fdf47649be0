/**
 * The group, interface and address parts of a protocol Snapshot for one group: the edge
 * where numeric states become words (§7.3, §9.1, §9.5).
 *
 * The nominee flags follow §11.2: `m`/`b` mark the IPv4 multicast/broadcast nominee and `M`
 * the IPv6 one, and a family has a nominee only where the group uses it. A group uses IPv6
 * when it has an IPv6 data address or a member has an IPv6 test address; it uses IPv4 when
 * it has an IPv4 data or test address, or does not use IPv6 at all (IPv4 is the default,
 * as for an IPMP interface plumbed with no addresses yet).
 */
import type { Snapshot, SnapshotAddress, SnapshotGroup, SnapshotInterface } from '../daemon/protocol.js';
import type { AddressBinding } from './binding.js';
import {
  NicFlag, groupStateWord, ifStateWord, isActiveWord, linkStateWord, probeStateWord,
} from './glossary.js';
import type { GroupModel, NicRec } from './group-model.js';

/** Which families a group uses apart from its data addresses (test addresses). */
export interface TestFamilies {
  v4: boolean;
  v6: boolean;
}

function interfaceOf(g: GroupModel, n: NicRec, nominee: number | null, v4: boolean, v6: boolean): SnapshotInterface {
  const nom = nominee === n.id;
  return {
    name: n.name,
    group: g.anonymous ? '' : g.ifname,
    groupname: g.groupname,
    active: n.present && isActiveWord(n.state, n.flags),
    flags: {
      inactive: (n.flags & NicFlag.INACTIVE) !== 0,
      standby: (n.flags & NicFlag.STANDBY) !== 0,
      mcast4: nom && v4,
      bcast4: nom && v4,
      mcast6: nom && v6,
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
  testFamilies: TestFamilies = { v4: false, v6: false },
): Omit<Snapshot, 'targets'> {
  const data = [...prefixes.keys()];
  const v6 = testFamilies.v6 || data.some((a) => a.includes(':'));
  const v4 = testFamilies.v4 || data.some((a) => !a.includes(':')) || !v6;
  const group: SnapshotGroup = {
    ifname: g.ifname,
    groupname: g.groupname,
    state: groupStateWord(g.state),
    fdtMs: null,
    interfaces: g.members.map((n) => n.name),
  };
  const interfaces = g.members.map((n) => interfaceOf(g, n, binding.nominee, v4, v6));
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
