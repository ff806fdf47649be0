// Fault injection on switch-side ports (in <P>-sw), so the host namespace is never touched:
//   fail IF           the port is set admin down: the host NIC's veth loses carrier.
//   fail IF --silent  the port is detached from its bridge (`ip link set PORT nomaster`):
//                     carrier stays up, and frames are dropped both ways (the port has no
//                     addresses and no IPv6 link-local, so the switch namespace answers
//                     nothing). The state is visible in `ip link` (no master), so status
//                     reads faults from the kernel and needs no bookkeeping.
//   repair IF         re-attaches the port to its bridge and sets it up (undoes either).
// IF is a host NIC (eth<i>, meaning its switch port swp<i>) or a switch-side port by name:
// swp<i>, peerp0, and with per-nic switches the uplink upl<i> (NIC bridge side) or cpl<i>
// (core side); failing an uplink cuts the NIC off while its carrier stays up.

import { LabError, run, waitFor } from './exec.js';
import { readLabInfo, stateFile } from './state.js';
import { hostCarrier } from './status.js';
import type { LabInfo, NicInfo } from './topology.js';

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

/** Injects a link fault (carrier loss) or, with silent, a probe-only fault (frames dropped). */
export async function labFail(prefix: string, ifname: string, opts: { silent?: boolean } = {}): Promise<void> {
  const info = requireInfo(prefix);
  const t = resolveTarget(info, ifname);
  const sw = info.namespaces.sw;
  if (opts.silent) {
    await run(['ip', '-n', sw, 'link', 'set', t.port, 'nomaster']);
    await run(['ip', '-n', sw, 'link', 'set', t.port, 'up']);
    await waitCarrier(prefix, t.nic, true);
  } else {
    await run(['ip', '-n', sw, 'link', 'set', t.port, 'down']);
    await waitCarrier(prefix, t.nic, false);
  }
}

/** Undoes either fault: the port goes back into its bridge, admin up. */
export async function labRepair(prefix: string, ifname: string): Promise<void> {
  const info = requireInfo(prefix);
  const t = resolveTarget(info, ifname);
  const sw = info.namespaces.sw;
  await run(['ip', '-n', sw, 'link', 'set', t.port, 'master', t.bridge]);
  await run(['ip', '-n', sw, 'link', 'set', t.port, 'up']);
  await waitCarrier(prefix, t.nic, true);
}
