/** Snapshots and probe events with awkward values for the CLI golden tests. */
import type { ProbeEvent, Snapshot, SnapshotFlags, SnapshotInterface } from '../../../src/daemon/protocol.js';

const NOFLAGS: SnapshotFlags = {
  inactive: false, standby: false, mcast4: false, bcast4: false, mcast6: false, down: false, hwaddrdup: false,
};

function nic(name: string, group: string, more: Partial<SnapshotInterface> & { f?: Partial<SnapshotFlags> } = {}): SnapshotInterface {
  const { f, ...rest } = more;
  return {
    name, group, groupname: group, active: true, flags: { ...NOFLAGS, ...f },
    link: 'up', probe: 'ok', state: 'ok', mac: '02:00:00:00:00:01', ifindex: 2, ...rest,
  };
}

/** 15 characters, the Linux maximum. */
export const LONG_IF = 'enp0s31f6abcdef';
export const LONG_GROUP = 'ipmp-long-name1';

export const SNAP: Snapshot = {
  generation: 42,
  groups: [
    {
      ifname: 'ipmp0', groupname: 'web', state: 'degraded', fdtMs: 10000,
      interfaces: ['eth0', 'eth4', 'eth1', LONG_IF, 'eth3', 'eth5', 'ghost0'],
    },
    { ifname: 'ipmp1', groupname: '', state: 'failed', fdtMs: null, interfaces: ['eth9', 'eth8', 'eth10'] },
    { ifname: LONG_GROUP, groupname: 'a-rather-long-group-name', state: 'ok', fdtMs: 1234.5, interfaces: ['veth7'] },
    { ifname: 'ipmp3', groupname: 'empty', state: 'failed', fdtMs: 0, interfaces: [] },
  ],
  interfaces: [
    nic('eth0', 'ipmp0', { f: { mcast4: true, bcast4: true, mcast6: true } }),
    nic('eth1', 'ipmp0'),
    nic(LONG_IF, 'ipmp0', { link: 'unknown', probe: 'unknown', state: 'unknown' }),
    nic('eth3', 'ipmp0', { active: false, probe: 'disabled', state: 'offline' }),
    nic('eth4', 'ipmp0', { active: false, f: { inactive: true, standby: true } }),
    nic('eth5', 'ipmp0', { active: false, link: 'down', probe: 'failed', state: 'failed', f: { standby: true } }),
    nic('eth8', 'ipmp1', { active: false, link: 'down', probe: 'disabled', state: 'failed', f: { down: true } }),
    nic('eth9', 'ipmp1', { active: false, state: 'offline', probe: 'disabled', f: { hwaddrdup: true } }),
    nic('eth10', 'ipmp1', { active: false, f: { inactive: true } }),
    nic('veth7', LONG_GROUP, { f: { mcast4: true, bcast4: true } }),
  ],
  addresses: [
    { address: '198.18.0.10', prefixlen: 24, up: true, group: 'ipmp0', inbound: 'eth0', outbound: ['eth0', 'eth1', LONG_IF] },
    { address: '2001:db8:1234:5678:9abc:def0:1234:5678', prefixlen: 64, up: true, group: 'ipmp0', inbound: LONG_IF, outbound: ['eth0', 'eth1', LONG_IF] },
    { address: '198.18.0.11', prefixlen: 24, up: false, group: 'ipmp0', inbound: 'eth1', outbound: ['eth0'] },
    { address: '198.18.0.12', prefixlen: 24, up: false, group: 'ipmp0', inbound: '', outbound: [] },
    { address: '2001:db8::10', prefixlen: 64, up: true, group: 'ipmp0', inbound: 'eth1', outbound: ['eth0', 'eth1'] },
    { address: '198.18.0.12', prefixlen: 24, up: true, group: 'ipmp0', inbound: 'eth1', outbound: ['eth0', 'eth1'] },
    { address: '198.18.2.1', prefixlen: 24, up: true, group: 'ipmp1', inbound: '', outbound: [] },
    { address: '198.18.3.1', prefixlen: 24, up: true, group: LONG_GROUP, inbound: 'veth7', outbound: ['veth7'] },
  ],
  targets: [
    { interface: 'eth0', family: 4, mode: 'routes', testaddr: '198.18.0.100', targets: ['198.18.0.1', '198.18.0.2', '198.18.0.3', '198.18.0.4', '198.18.0.5'] },
    { interface: 'eth0', family: 6, mode: 'multicast', testaddr: 'fe80::ff:fe00:1', targets: ['fe80::1', 'fe80::2:3'] },
    { interface: 'eth1', family: 4, mode: 'routes', testaddr: '198.18.0.101', targets: ['198.18.0.1'] },
    { interface: LONG_IF, family: 4, mode: 'disabled', testaddr: '', targets: [] },
    { interface: LONG_IF, family: 6, mode: 'multicast', testaddr: 'fe80::aaaa:bbbb:cccc:dddd', targets: [] },
    { interface: 'eth3', family: 4, mode: 'disabled', testaddr: '', targets: [] },
    { interface: 'eth5', family: 4, mode: 'routes', testaddr: '198.18.0.105', targets: ['198.18.0.1'] },
  ],
};

/** Every member link-only: -t shows only `disabled` rows. */
export const LINK_ONLY: Snapshot = {
  generation: 1,
  groups: [{ ifname: 'ipmp0', groupname: 'ipmp0', state: 'ok', fdtMs: null, interfaces: ['eth0', 'eth1'] }],
  interfaces: [nic('eth0', 'ipmp0', { probe: 'disabled' }), nic('eth1', 'ipmp0', { probe: 'disabled' })],
  addresses: [],
  targets: [{ interface: 'eth0', family: 4, mode: 'disabled', testaddr: '', targets: [] }],
};

/** Values the CLI cannot obtain (fields missing from the daemon's reply). */
export const BROKEN: Snapshot = {
  generation: 1,
  groups: [],
  interfaces: [{ ...nic('eth0', 'ipmp0'), flags: undefined, link: undefined } as unknown as SnapshotInterface],
  addresses: [],
  targets: [],
};

/** A snapshot with many interfaces, for header repetition. */
export function manyInterfaces(n: number): Snapshot {
  const interfaces = Array.from({ length: n }, (_, i) => nic(`eth${i}`, 'ipmp0'));
  return { generation: 1, groups: [], interfaces, addresses: [], targets: [] };
}

/** ipmpstat's start, as given by the tests' clock. */
export const T0 = 1_700_000_000_000;

export const EVENTS: ProbeEvent[] = [
  { id: 1, interface: 'eth0', family: 4, target: '198.18.0.1', state: 'acked', startMs: T0 - 1250, netrttMs: 0.123, rttMs: 0.456, rttavgMs: 0, rttdevMs: 0 },
  { id: 2, interface: LONG_IF, family: 6, target: 'fe80::aaaa:bbbb:cccc:dddd:eeee', state: 'acked', startMs: T0 + 1430, netrttMs: 12.3456, rttMs: 13.5, rttavgMs: 12.75, rttdevMs: 0.5 },
  { id: 3, interface: 'eth1', family: 4, target: '198.18.0.1', state: 'lost', startMs: T0 + 2860, netrttMs: null, rttMs: null, rttavgMs: 1.5, rttdevMs: 0.25 },
  { id: 65535, interface: 'eth0', family: 4, target: '198.18.0.2', state: 'acked', startMs: T0 + 123456, netrttMs: 1000.5, rttMs: 1001.25, rttavgMs: 999.99, rttdevMs: 0 },
];
