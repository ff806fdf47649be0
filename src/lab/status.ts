// What the lab looks like right now, read from the kernel (not from the state file): carrier
// per NIC as the host namespace sees it, switch port state, tbf rates, and faults.
//   link fault   = switch-side port admin down (the host NIC loses carrier)
//   silent fault = switch-side port detached from its bridge (carrier stays up, no frames pass)
//   deleted      = a NIC's switch port is gone (its veth pair was deleted with it)

import { execIn, run } from './exec.js';
import { hostNs, swNs, type LabInfo } from './topology.js';
import { labNamespaces, readLabInfo } from './state.js';

export type FaultKind = 'none' | 'link' | 'silent' | 'deleted';

export interface PortStatus {
  name: string;
  /** Admin up. */
  up: boolean;
  /** Enslaved to its bridge. */
  attached: boolean;
  fault: FaultKind;
  /** tbf rate on the port's egress, in tc syntax (e.g. 500mbit), or null. */
  rate: string | null;
}

export interface LinkStatus {
  nic: string;
  mac: string | null;
  /** Carrier as seen in the host namespace; null when the NIC is missing or admin down. */
  carrier: boolean | null;
  operstate: string | null;
  standby: boolean;
  /** tbf rate on the host NIC's egress, or null. */
  rate: string | null;
  /** The switch-side port; null when the lab's description is unavailable. */
  port: PortStatus | null;
  /** per-nic switches: the uplink from the NIC's bridge into the core. */
  uplink: PortStatus | null;
}

export interface LabStatus {
  prefix: string;
  exists: boolean;
  namespaces: string[];
  /** The description written by `up`, or null when missing. */
  info: LabInfo | null;
  links: LinkStatus[];
  /** The peer's switch port. */
  peerPort: PortStatus | null;
}

interface IpLink { ifname: string; flags?: string[]; master?: string; operstate?: string; address?: string; link_type?: string }
interface TcQdisc { kind: string; dev: string; root?: boolean; options?: { rate?: number } }

async function ipLinks(ns: string): Promise<Map<string, IpLink>> {
  try {
    const { stdout } = await run(['ip', '-j', '-n', ns, 'link', 'show']);
    return new Map((JSON.parse(stdout) as IpLink[]).map((l) => [l.ifname, l]));
  } catch {
    return new Map();
  }
}

/** Formats bytes/s as tc would accept it. */
export function formatRate(bytesPerSec: number): string {
  const bits = bytesPerSec * 8;
  for (const [unit, f] of [['gbit', 1e9], ['mbit', 1e6], ['kbit', 1e3]] as const) {
    if (bits >= f) return `${Number((bits / f).toFixed(2))}${unit}`;
  }
  return `${bits}bit`;
}

async function tbfRates(ns: string): Promise<Map<string, string>> {
  try {
    const { stdout } = await run(['tc', '-j', '-n', ns, 'qdisc', 'show']);
    const out = new Map<string, string>();
    for (const q of JSON.parse(stdout) as TcQdisc[]) {
      if (q.kind === 'tbf' && q.options?.rate) out.set(q.dev, formatRate(q.options.rate));
    }
    return out;
  } catch {
    return new Map();
  }
}

/** Reads a host NIC's carrier as the host sees it (/sys/class/net/IF/carrier). */
export async function hostCarrier(prefix: string, ifname: string): Promise<boolean | null> {
  try {
    const { stdout } = await execIn(hostNs(prefix), ['cat', `/sys/class/net/${ifname}/carrier`]);
    return stdout.trim() === '1';
  } catch {
    return null; // admin down (EINVAL) or absent
  }
}

function portStatus(links: Map<string, IpLink>, rates: Map<string, string>, name: string): PortStatus | null {
  const l = links.get(name);
  if (!l) return null;
  const up = (l.flags ?? []).includes('UP');
  const attached = typeof l.master === 'string';
  return { name, up, attached, fault: !up ? 'link' : !attached ? 'silent' : 'none', rate: rates.get(name) ?? null };
}

export async function labStatus(prefix: string): Promise<LabStatus> {
  const namespaces = labNamespaces(prefix);
  const info = readLabInfo(prefix);
  const exists = namespaces.length > 0;
  const status: LabStatus = { prefix, exists, namespaces, info, links: [], peerPort: null };
  if (!exists) return status;
  const [hostLinks, swLinks, hostRates, swRates] = await Promise.all([
    ipLinks(hostNs(prefix)), ipLinks(swNs(prefix)), tbfRates(hostNs(prefix)), tbfRates(swNs(prefix)),
  ]);
  const nics = info
    ? info.nics
    : [...hostLinks.values()].filter((l) => l.link_type === 'ether').map((l) => ({ name: l.ifname, standby: false, switchPort: '', uplink: null }));
  for (const nic of nics) {
    const l = hostLinks.get(nic.name);
    status.links.push({
      nic: nic.name,
      mac: l?.address ?? null,
      carrier: l ? await hostCarrier(prefix, nic.name) : null,
      operstate: l?.operstate ?? null,
      standby: nic.standby,
      rate: hostRates.get(nic.name) ?? null,
      port: nic.switchPort
        ? portStatus(swLinks, swRates, nic.switchPort) ?? { name: nic.switchPort, up: false, attached: false, fault: 'deleted', rate: null }
        : null,
      uplink: nic.uplink ? portStatus(swLinks, swRates, nic.uplink.port) : null,
    });
  }
  status.peerPort = info ? portStatus(swLinks, swRates, info.peer.switchPort) : null;
  return status;
}
