// Fault injection on switch-side ports (in <P>-sw), so the host namespace is never touched:
//   fail IF           the port is set admin down: the host NIC's veth loses carrier.
//   fail IF --silent  the port is detached from its bridge (`ip link set PORT nomaster`):
//                     carrier stays up, and frames are dropped both ways (the port has no
//                     addresses and no IPv6 link-local, so the switch namespace answers
//                     nothing). The state is visible in `ip link` (no master), so status
//                     reads faults from the kernel and needs no bookkeeping.
//   fail IF --delete  the NIC is deleted (its veth pair, so the switch port goes too): the
//                     host namespace sees the link vanish, as when a NIC is unplugged or its
//                     driver unloaded. Only for host NICs.
//   repair IF         re-creates a deleted NIC (same name, MAC, bridge and rate), admin up;
//                     otherwise re-attaches the port to its bridge and sets it up. With
//                     linkDown a deleted NIC comes back with its switch port down (no carrier).
// IF is a host NIC (eth<i>, meaning its switch port swp<i>) or a switch-side port by name:
// swp<i>, peerp0, and with per-nic switches the uplink upl<i> (NIC bridge side) or cpl<i>
// (core side); failing an uplink cuts the NIC off while its carrier stays up.

import { LabError, run, waitFor } from './exec.js';
import { readLabInfo, stateFile } from './state.js';
import { hostCarrier } from './status.js';
import { buildNicLink, type LabInfo, type NicInfo } from './topology.js';

/** Time allowed for the host NIC's carrier to follow a link fault or repair (ms). */
const CARRIER_TIMEOUT_MS = 5_000;

interface Target {
  port: string;
  bridge: string;
  /** The host NIC whose carrier follows the port, when the port is a NIC's switch port. */
  nic: NicInfo | null;
}

function requireInfo(prefix: string): LabInfo {
  const info = readLabInfo(prefix);
  if (!info) throw new LabError(`no lab '${prefix}' (${stateFile(prefix)} missing); run 'ipmp lab up --prefix ${prefix}'`);
  return info;
}

/** Maps a user-given interface name to the switch-side port it stands for. */
export function resolveTarget(info: LabInfo, ifname: string): Target {
  for (const nic of info.nics) {
    if (ifname === nic.name || ifname === nic.switchPort) return { port: nic.switchPort, bridge: nic.bridge, nic };
    if (nic.uplink && ifname === nic.uplink.port) return { port: ifname, bridge: nic.bridge, nic: null };
    if (nic.uplink && ifname === nic.uplink.corePort) return { port: ifname, bridge: 'core', nic: null };
  }
  if (ifname === info.peer.switchPort) return { port: ifname, bridge: info.peer.bridge, nic: null };
  const names = info.nics.flatMap((n) => [n.name, n.switchPort, ...(n.uplink ? [n.uplink.port, n.uplink.corePort] : [])]);
  throw new LabError(`unknown interface '${ifname}': expected one of ${[...names, info.peer.switchPort].join(', ')}`);
}

async function waitCarrier(prefix: string, nic: NicInfo | null, want: boolean): Promise<void> {
  if (!nic) return;
  await waitFor(`carrier ${want ? 'up' : 'down'} on ${nic.name}`,
    async () => (await hostCarrier(prefix, nic.name)) === want, CARRIER_TIMEOUT_MS);
}

/** Time allowed for a deleted NIC to disappear from the host namespace (ms). */
const DELETE_TIMEOUT_MS = 5_000;

export interface FailOptions {
  /** Carrier stays up, frames are dropped both ways. */
  silent?: boolean;
  /** The NIC is deleted. */
  delete?: boolean;
}

async function linkExists(ns: string, ifname: string): Promise<boolean> {
  try {
    await run(['ip', '-n', ns, 'link', 'show', 'dev', ifname]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Injects a link fault (carrier loss), with silent a probe-only fault (frames dropped), or
 * with delete removes the NIC.
 */
export async function labFail(prefix: string, ifname: string, opts: FailOptions = {}): Promise<void> {
  const info = requireInfo(prefix);
  const t = resolveTarget(info, ifname);
  const sw = info.namespaces.sw;
  if (opts.silent && opts.delete) throw new LabError('fail: --silent and --delete exclude each other');
  if (opts.delete) {
    if (!t.nic) throw new LabError(`fail --delete: '${ifname}' is not a host NIC or its switch port`);
    const nic = t.nic;
    if (!(await linkExists(sw, nic.switchPort))) throw new LabError(`fail --delete: ${nic.name} is already deleted`);
    await run(['ip', '-n', sw, 'link', 'del', nic.switchPort]);
    await waitFor(`${nic.name} gone from ${info.namespaces.host}`,
      async () => !(await linkExists(info.namespaces.host, nic.name)), DELETE_TIMEOUT_MS);
    return;
  }
  if (opts.silent) {
    await run(['ip', '-n', sw, 'link', 'set', t.port, 'nomaster']);
    await run(['ip', '-n', sw, 'link', 'set', t.port, 'up']);
    await waitCarrier(prefix, t.nic, true);
  } else {
    await run(['ip', '-n', sw, 'link', 'set', t.port, 'down']);
    await waitCarrier(prefix, t.nic, false);
  }
}

/**
 * Undoes any fault: a deleted NIC is re-created; the port goes back into its bridge, admin up.
 * With linkDown a deleted NIC is re-created with its switch port down, so it appears without
 * carrier (a further repair brings the port up).
 */
export async function labRepair(prefix: string, ifname: string, opts: { linkDown?: boolean } = {}): Promise<void> {
  const info = requireInfo(prefix);
  const t = resolveTarget(info, ifname);
  const sw = info.namespaces.sw;
  if (t.nic && !(await linkExists(sw, t.port))) {
    const nic = t.nic;
    // A half-deleted pair cannot exist (deleting one veth end deletes both), but the host end
    // may have been renamed or moved by hand: refuse rather than guess.
    if (await linkExists(info.namespaces.host, nic.name)) {
      throw new LabError(`repair: ${nic.name} exists in ${info.namespaces.host} but its switch port ${nic.switchPort} does not`);
    }
    await buildNicLink(info, nic, !opts.linkDown);
    await run(['ip', '-n', info.namespaces.host, 'link', 'set', nic.name, 'up']);
    await waitCarrier(prefix, nic, !opts.linkDown);
    return;
  }
  await run(['ip', '-n', sw, 'link', 'set', t.port, 'master', t.bridge]);
  await run(['ip', '-n', sw, 'link', 'set', t.port, 'up']);
  await waitCarrier(prefix, t.nic, true);
}
