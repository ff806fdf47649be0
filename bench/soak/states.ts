// What the soak expects to see in the daemon's snapshot, as predicates returning '' when the
// expectation holds and otherwise the first thing that does not, so a timed-out wait can say
// what was wrong.

import type { Snapshot, SnapshotInterface } from '../../src/daemon/protocol.js';
import type { GroupSetup } from './daemon.js';

function bare(prefix: string): string {
  return prefix.split('/')[0];
}

function iface(s: Snapshot, name: string): SnapshotInterface | undefined {
  return s.interfaces.find((i) => i.name === name);
}

/** Every configured data address is up and bound to an active NIC other than `avoid`. */
function addressesBound(s: Snapshot, g: GroupSetup, avoid: string): string {
  for (const a of g.addresses.map(bare)) {
    const x = s.addresses.find((y) => y.address === a);
    if (!x) return `${a} missing`;
    if (!x.up) return `${a} down`;
    if (!x.inbound) return `${a} unbound`;
    if (x.inbound === avoid) return `${a} still bound to ${avoid}`;
    const nic = iface(s, x.inbound);
    if (!nic?.active) return `${a} bound to ${x.inbound}, which is not active`;
  }
  return '';
}

function groupOf(s: Snapshot, g: GroupSetup): Snapshot['groups'][number] | undefined {
  return s.groups.find((x) => x.ifname === g.tun);
}

/** NIC `name` is out of service with `state`; the group carries on without it. */
export function outOfService(s: Snapshot, g: GroupSetup, name: string, state: 'failed' | 'offline'): string {
  const grp = groupOf(s, g);
  if (!grp) return `group ${g.tun} missing`;
  if (grp.state === 'failed') return `group ${g.tun} failed`;
  const nic = iface(s, name);
  if (!nic) return `${name} missing`;
  if (nic.state !== state) return `${name} is ${nic.state}, not ${state}`;
  if (nic.active) return `${name} still active`;
  return addressesBound(s, g, name);
}

/** Every NIC failed and the group failed (all links down). */
export function groupDown(s: Snapshot, g: GroupSetup): string {
  const grp = groupOf(s, g);
  if (!grp) return `group ${g.tun} missing`;
  if (grp.state !== 'failed') return `group ${g.tun} ${grp.state}`;
  for (const n of g.nics) {
    const x = iface(s, n.name);
    if (!x) return `${n.name} missing`;
    if (x.state !== 'failed') return `${n.name} ${x.state}`;
  }
  return '';
}

/**
 * Everything as configured: group ok; every NIC ok; non-standby NICs active, standby NICs
 * inactive (FAILBACK=yes brings the group back to its configured shape); exactly the
 * configured data addresses, each up and bound to an active NIC.
 */
export function settled(s: Snapshot, g: GroupSetup): string {
  const grp = groupOf(s, g);
  if (!grp) return `group ${g.tun} missing`;
  if (grp.state !== 'ok') return `group ${g.tun} ${grp.state}`;
  const nonStandby = g.nics.filter((n) => !n.standby).length;
  for (const n of g.nics) {
    const x = iface(s, n.name);
    if (!x) return `${n.name} missing`;
    if (x.state !== 'ok') return `${n.name} ${x.state}`;
    if (x.flags.standby !== n.standby) return `${n.name} standby flag ${String(x.flags.standby)}, configured ${String(n.standby)}`;
    if (!n.standby && !x.active) return `${n.name} not active`;
    if (n.standby && nonStandby > 0 && x.active) return `standby ${n.name} active`;
  }
  const want = new Set(g.addresses.map(bare));
  for (const a of s.addresses) {
    if (a.group === g.tun && !want.has(a.address)) return `unexpected address ${a.address}`;
  }
  return addressesBound(s, g, '');
}

/** One line: group state, each NIC's state and activity, each address's binding. */
export function describe(s: Snapshot | null, g: GroupSetup): string {
  if (!s) return 'no snapshot';
  const grp = groupOf(s, g);
  const nics = s.interfaces.map((i) => `${i.name}=${i.state}${i.active ? '+' : ''}${i.flags.standby ? '(s)' : ''}/${i.link}/${i.probe}`);
  const addrs = s.addresses.map((a) => `${a.address}→${a.inbound || '-'}${a.up ? '' : '(down)'}`);
  return `group ${grp?.state ?? 'missing'}; ${nics.join(' ')}; ${addrs.join(' ')}`;
}
