// The lab's plan (names, MACs, addresses: a pure function of the options) and the commands
// that build it. Everything is created inside the lab's namespaces; veths are created with
// their peer end placed directly into the other namespace, so the machine's own namespace
// never sees a lab link.
//
//   <P>-host   eth0..eth<N-1>  veth, admin up, no addresses (IPv6 addrgenmode none), lo up
//                 |
//   <P>-sw     swp<i> ── br0 ── peerp0                       (--switches one)
//              swp<i> ── br<i> ── upl<i> ═ cpl<i> ── core ── peerp0   (--switches per-nic)
//                 |                                              |
//   <P>-peer   eth0 198.18.0.1/24 .2 .3, 2001:db8::1/64; rem0 (dummy, or veth to rem0x
//              where the kernel has no dummy driver) 198.19.0.1/24,
//              2001:db8:1::1/64; IPv4/IPv6 forwarding on
//
// Bridges: no netfilter on bridged frames, STP off, forward_delay 0, default ageing,
// multicast snooping off (so IPv6 ND for addresses answered from userspace, which sends no
// MLD reports, is always flooded).
// The peer's eth0 has checksum/segmentation offloads off, so frames reaching the host NICs
// are complete and no larger than the MTU, as from a physical wire.
//
// --rate RATE: tc tbf on each host NIC's egress and on its switch port's egress (both ways),
// burst = RATE × 4 ms clamped to [32 KiB, 4 MiB], latency 25 ms (queue bound; far above the
// lab's sub-millisecond RTT, so TCP can fill the link).

import { existsSync } from 'node:fs';
import { run, LabError } from './exec.js';

export type SwitchMode = 'one' | 'per-nic';

export interface LabOptions {
  nics?: number;
  standby?: number;
  switches?: SwitchMode;
  rate?: string | null;
  prefix?: string;
  /** Tear down an existing lab with the same prefix first. */
  force?: boolean;
}

export interface NicInfo {
  index: number;
  /** Name in the host namespace (eth<i>). */
  name: string;
  mac: string;
  /** Switch-side veth end in <P>-sw (swp<i>): what `fail`/`repair` act on. */
  switchPort: string;
  switchPortMac: string;
  /** Bridge the switch port belongs to. */
  bridge: string;
  /** per-nic mode: the uplink pair from bridge br<i> into the core bridge. */
  uplink: { port: string; corePort: string } | null;
  /** The last K NICs are standby (for configurations written by tests and the demo). */
  standby: boolean;
  /** Suggested IPMP test address, unique per NIC. */
  testAddress: string;
}

export interface LabInfo {
  prefix: string;
  namespaces: { host: string; sw: string; peer: string };
  switches: SwitchMode;
  bridges: string[];
  rate: string | null;
  nics: NicInfo[];
  peer: {
    ifname: string; mac: string; switchPort: string; switchPortMac: string; bridge: string;
    addresses: string[]; remoteIfname: string; remoteAddresses: string[];
  };
  /** Next hops for off-link destinations, on the peer. */
  gateway: { v4: string; v6: string };
  /** Peer addresses usable as probe targets. */
  targets: string[];
  /** Suggested data addresses for ipmp0. */
  dataAddresses: string[];
  /** Off-link addresses reachable through the peer. */
  remote: { v4: string; v6: string; net4: string; net6: string };
  createdAt: string;
}

export const MAX_NICS = 32;
export const DEFAULT_PREFIX = 'ipmp';
const PREFIX_RE = /^[a-z][a-z0-9]{0,11}$/;
const RATE_RE = /^(\d+(?:\.\d+)?)(bit|kbit|mbit|gbit|tbit|bps|kbps|mbps|gbps|tbps)?$/i;
const RATE_UNIT: Record<string, number> = {
  bit: 1 / 8, kbit: 1e3 / 8, mbit: 1e6 / 8, gbit: 1e9 / 8, tbit: 1e12 / 8,
  bps: 1, kbps: 1e3, mbps: 1e6, gbps: 1e9, tbps: 1e12,
};
/** tbf queue bound. */
export const TBF_LATENCY = '25ms';

export function hostNs(prefix: string): string { return `${prefix}-host`; }
export function swNs(prefix: string): string { return `${prefix}-sw`; }
export function peerNs(prefix: string): string { return `${prefix}-peer`; }

function hex2(n: number): string { return n.toString(16).padStart(2, '0'); }

/** Rate string in tc syntax (e.g. 500mbit) to bytes per second; throws on bad input. */
export function parseRate(rate: string): number {
  const m = RATE_RE.exec(rate.trim());
  const bps = m ? Number(m[1]) * RATE_UNIT[(m[2] ?? 'bit').toLowerCase()] : NaN;
  if (!m || !(bps >= 1000)) throw new LabError(`bad rate '${rate}': expected e.g. 500mbit, 1gbit (at least 8kbit)`);
  return bps;
}

/** tbf parameters for a rate: burst in bytes and latency. */
export function tbfParams(rate: string): { burst: number; latency: string } {
  const bytesPerSec = parseRate(rate);
  const burst = Math.min(4 << 20, Math.max(32 << 10, Math.ceil(bytesPerSec * 0.004)));
  return { burst, latency: TBF_LATENCY };
}

/** Validates options and computes every name and address of the lab. */
export function planLab(opts: LabOptions = {}): LabInfo {
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  const n = opts.nics ?? 2;
  const k = opts.standby ?? 0;
  const switches = opts.switches ?? 'one';
  const rate = opts.rate ?? null;
  if (!PREFIX_RE.test(prefix)) throw new LabError(`bad prefix '${prefix}': expected 1-12 of [a-z0-9], starting with a letter`);
  if (!Number.isInteger(n) || n < 1 || n > MAX_NICS) throw new LabError(`bad --nics ${n}: expected 1..${MAX_NICS}`);
  if (!Number.isInteger(k) || k < 0 || k >= n) throw new LabError(`bad --standby ${k}: expected 0..${n - 1} (at least one active NIC)`);
  if (switches !== 'one' && switches !== 'per-nic') throw new LabError(`bad --switches '${String(switches)}': expected one or per-nic`);
  if (rate !== null) parseRate(rate);
  const perNic = switches === 'per-nic';
  const nics: NicInfo[] = [];
  for (let i = 0; i < n; i++) {
    nics.push({
      index: i, name: `eth${i}`, mac: `02:00:00:00:${hex2(i)}:01`,
      switchPort: `swp${i}`, switchPortMac: `02:00:00:00:${hex2(i)}:02`,
      bridge: perNic ? `br${i}` : 'br0',
      uplink: perNic ? { port: `upl${i}`, corePort: `cpl${i}` } : null,
      standby: i >= n - k,
      testAddress: `198.18.0.${100 + i}/24`,
    });
  }
  return {
    prefix,
    namespaces: { host: hostNs(prefix), sw: swNs(prefix), peer: peerNs(prefix) },
    switches,
    bridges: perNic ? [...nics.map((x) => x.bridge), 'core'] : ['br0'],
    rate,
    nics,
    peer: {
      ifname: 'eth0', mac: '02:00:00:00:ff:01', switchPort: 'peerp0', switchPortMac: '02:00:00:00:ff:02',
      bridge: perNic ? 'core' : 'br0',
      addresses: ['198.18.0.1/24', '198.18.0.2/24', '198.18.0.3/24', '2001:db8::1/64'],
      remoteIfname: 'rem0', remoteAddresses: ['198.19.0.1/24', '2001:db8:1::1/64'],
    },
    gateway: { v4: '198.18.0.1', v6: '2001:db8::1' },
    targets: ['198.18.0.1', '198.18.0.2', '198.18.0.3'],
    dataAddresses: ['198.18.0.10/24', '198.18.0.11/24', '2001:db8::10/64'],
    remote: { v4: '198.19.0.1', v6: '2001:db8:1::1', net4: '198.19.0.0/24', net6: '2001:db8:1::/64' },
    createdAt: new Date().toISOString(),
  };
}

/** `ip -n NS ...` */
function ipn(ns: string, ...args: string[]): Promise<unknown> {
  return run(['ip', '-n', ns, ...args]);
}

/** Creates a veth pair from namespace `ns` with the peer end moved into `peerNsName`. */
async function addVeth(ns: string, name: string, mac: string, peerName: string, peerMac: string,
  peerNsName: string): Promise<void> {
  const args = ['link', 'add', name, 'address', mac, 'type', 'veth', 'peer', 'name', peerName, 'address', peerMac];
  if (peerNsName !== ns) args.push('netns', peerNsName);
  await ipn(ns, ...args);
}

/** Makes a link silent at L3 (no IPv6 link-local) and enslaves it to a bridge; up unless told. */
async function attachPort(sw: string, port: string, bridge: string, up = true): Promise<void> {
  await ipn(sw, 'link', 'set', port, 'addrgenmode', 'none');
  await ipn(sw, 'link', 'set', port, 'master', bridge);
  if (up) await ipn(sw, 'link', 'set', port, 'up');
}

async function sysctl(ns: string, key: string, value: string): Promise<void> {
  await run(['ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w', `${key}=${value}`]);
}

/** Installs tbf on one device's egress. */
export async function setRate(ns: string, dev: string, rate: string): Promise<void> {
  const { burst, latency } = tbfParams(rate);
  await run(['tc', '-n', ns, 'qdisc', 'replace', 'dev', dev, 'root', 'tbf',
    'rate', rate, 'burst', String(burst), 'latency', latency]);
}

/** Runs every command that makes the planned lab. The caller tears down on failure. */
export async function buildLab(lab: LabInfo): Promise<void> {
  const { host, sw, peer } = lab.namespaces;
  for (const ns of [host, sw, peer]) {
    await run(['ip', 'netns', 'add', ns]);
    await ipn(ns, 'link', 'set', 'lo', 'up');
  }
  // A switch forwards frames without running them through the IP firewall: where
  // br_netfilter is loaded, its per-namespace default would pass every bridged frame
  // through netfilter, paid for in the CPU time of whoever sent it.
  for (const t of ['iptables', 'ip6tables', 'arptables']) {
    if (existsSync(`/proc/sys/net/bridge/bridge-nf-call-${t}`)) await sysctl(sw, `net.bridge.bridge-nf-call-${t}`, '0');
  }
  for (const br of lab.bridges) {
    await ipn(sw, 'link', 'add', br, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0', 'mcast_snooping', '0');
    await ipn(sw, 'link', 'set', br, 'addrgenmode', 'none');
    await ipn(sw, 'link', 'set', br, 'up');
  }
  for (const nic of lab.nics) {
    await buildNicLink(lab, nic);
    if (nic.uplink) {
      const { port, corePort } = nic.uplink;
      await addVeth(sw, port, `02:00:00:01:${hex2(nic.index)}:01`, corePort, `02:00:00:01:${hex2(nic.index)}:02`, sw);
      await attachPort(sw, port, nic.bridge);
      await attachPort(sw, corePort, 'core');
    }
    await ipn(host, 'link', 'set', nic.name, 'up');
  }
  await buildPeer(lab);
}

/**
 * One host NIC and its switch port: the veth pair, attached to the NIC's bridge, with the
 * lab's rate. The host end is left admin down (the caller sets it up). Also used to re-create
 * a NIC deleted at run time, with the same names and MACs; with portUp false the switch port
 * stays down, so the NIC has no carrier.
 */
export async function buildNicLink(lab: LabInfo, nic: NicInfo, portUp = true): Promise<void> {
  const { host, sw } = lab.namespaces;
  await addVeth(host, nic.name, nic.mac, nic.switchPort, nic.switchPortMac, sw);
  await ipn(host, 'link', 'set', nic.name, 'addrgenmode', 'none');
  await attachPort(sw, nic.switchPort, nic.bridge, portUp);
  if (lab.rate) {
    await setRate(host, nic.name, lab.rate);
    await setRate(sw, nic.switchPort, lab.rate);
  }
}

/**
 * The "remote" network's interface: a dummy, or where the kernel lacks the dummy driver, one
 * end of a veth pair kept inside the peer namespace (both ends up, so it has carrier).
 */
async function addRemoteLink(peer: string, name: string): Promise<void> {
  try {
    await ipn(peer, 'link', 'add', name, 'type', 'dummy');
  } catch {
    await ipn(peer, 'link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}x`);
    await ipn(peer, 'link', 'set', `${name}x`, 'addrgenmode', 'none');
    await ipn(peer, 'link', 'set', `${name}x`, 'up');
  }
}

async function buildPeer(lab: LabInfo): Promise<void> {
  const { sw, peer } = lab.namespaces;
  const p = lab.peer;
  await addVeth(peer, p.ifname, p.mac, p.switchPort, p.switchPortMac, sw);
  await attachPort(sw, p.switchPort, p.bridge);
  await run(['ip', 'netns', 'exec', peer, 'ethtool', '-K', p.ifname, 'tx', 'off', 'tso', 'off', 'gso', 'off']);
  for (const a of p.addresses) {
    await ipn(peer, 'addr', 'add', a, 'dev', p.ifname, ...(a.includes(':') ? ['nodad'] : []));
  }
  await ipn(peer, 'link', 'set', p.ifname, 'up');
  await addRemoteLink(peer, p.remoteIfname);
  for (const a of p.remoteAddresses) {
    await ipn(peer, 'addr', 'add', a, 'dev', p.remoteIfname, ...(a.includes(':') ? ['nodad'] : []));
  }
  await ipn(peer, 'link', 'set', p.remoteIfname, 'up');
  await sysctl(peer, 'net.ipv4.ip_forward', '1');
  await sysctl(peer, 'net.ipv6.conf.all.forwarding', '1');
}
