// NIC deletion and re-creation in a lab: the host NIC's veth pair is deleted (which removes
// its switch port too), then made again exactly as `ipmp lab up` made it: same names and
// MACs, no IPv6 link-local, the switch port in its bridge, both ends up.

import { run, waitFor } from '../../src/lab/exec.js';
import { hostCarrier } from '../../src/lab/status.js';
import type { LabInfo, NicInfo } from '../../src/lab/topology.js';

const CARRIER_TIMEOUT_MS = 5_000;

function nicOf(lab: LabInfo, name: string): NicInfo {
  const nic = lab.nics.find((n) => n.name === name);
  if (!nic) throw new Error(`unknown NIC '${name}': expected one of ${lab.nics.map((n) => n.name).join(', ')}`);
  return nic;
}

async function exists(ns: string, ifname: string): Promise<boolean> {
  try {
    await run(['ip', '-n', ns, 'link', 'show', 'dev', ifname]);
    return true;
  } catch {
    return false;
  }
}

/** Deletes host NIC `name` (and with it its switch port); resolves once both are gone. */
export async function deleteNic(lab: LabInfo, name: string): Promise<void> {
  const nic = nicOf(lab, name);
  await run(['ip', '-n', lab.namespaces.host, 'link', 'del', nic.name]);
  await waitFor(`${nic.name} and ${nic.switchPort} deleted`, async () =>
    !(await exists(lab.namespaces.host, nic.name)) && !(await exists(lab.namespaces.sw, nic.switchPort)),
  CARRIER_TIMEOUT_MS);
}

/** Re-creates host NIC `name` as the lab made it; resolves once it has carrier. */
export async function recreateNic(lab: LabInfo, name: string): Promise<void> {
  const nic = nicOf(lab, name);
  const { host, sw } = lab.namespaces;
  await run(['ip', '-n', host, 'link', 'add', nic.name, 'address', nic.mac, 'type', 'veth',
    'peer', 'name', nic.switchPort, 'address', nic.switchPortMac, 'netns', sw]);
  await run(['ip', '-n', host, 'link', 'set', nic.name, 'addrgenmode', 'none']);
  await run(['ip', '-n', sw, 'link', 'set', nic.switchPort, 'addrgenmode', 'none']);
  await run(['ip', '-n', sw, 'link', 'set', nic.switchPort, 'master', nic.bridge]);
  await run(['ip', '-n', sw, 'link', 'set', nic.switchPort, 'up']);
  await run(['ip', '-n', host, 'link', 'set', nic.name, 'up']);
  await waitFor(`carrier on re-created ${nic.name}`, async () => (await hostCarrier(lab.prefix, nic.name)) === true,
    CARRIER_TIMEOUT_MS);
}

/** True when the host NIC exists. */
export function nicExists(lab: LabInfo, name: string): Promise<boolean> {
  return exists(lab.namespaces.host, name);
}
