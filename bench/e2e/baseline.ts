// Kernel baselines, in a lab of their own with no ipmpd: "kernel direct" gives the host NIC
// eth0 an address (198.18.0.50/24) and sends to the peer over the kernel's own path; "kernel
// ECMP" adds 198.18.0.51/24 on eth1 and a multipath route to 198.19.0.0/24 over both NICs
// (L4 hash policy) and runs the multi-stream test to 198.19.0.1.

import { execIn, hostNs, peerNs, type LabInfo } from '../../src/lab/lab.js';
import { generate, iperf, iperfServer, pingRtts, recvCost, startFloor, udpSink } from './tools.js';
import { deltas, median, NsAnchor, progress } from './sys.js';
import { measureLoad } from './forward.js';
import type { Results } from './results.js';

export interface Params {
  quick: boolean;
  /** Runs per scenario (the median is reported). */
  n: number;
  /** Runs of each failover scenario (at least 5 in a full run). */
  failoverN: number;
  /** iperf3 duration (s) for throughput tests. */
  tcpSec: number;
  udpSec: number;
  /** Offered rate for the 1400-byte UDP test. */
  udpRate: string;
  pingCount: number;
  idleSec: number;
  /** Failover flow durations (ms). */
  linkFlowMs: number;
  probeFlowMs: number;
  traceSec: number;
  /** Soak under load, minutes (0: none). */
  soakMinutes: number;
}

const PEER = '198.18.0.1';
const REMOTE = '198.19.0.1';

export const TCP8 = ['-P', '8'];
export function udp1400(p: Params): string[] { return ['-u', '-l', '1400', '-b', p.udpRate]; }
export const SMALL = ['-u', '-l', '64', '-b', '0'];
/**
 * Pings 0.5 ms apart: the forwarding path's own latency with warm caches (after 10 ms idle
 * every path, the kernel's own too, runs from cold caches and TLBs and takes several times longer).
 */
export const FAST_PINGS = 1000;
export const FAST_PING_S = 0.0005;
/** Pings between those two: where the cost of a cold start after idle sets in. */
export const MID_PINGS: readonly { key: string; count: number; intervalS: number }[] = [
  { key: '2ms', count: 500, intervalS: 0.002 },
  { key: '5ms', count: 300, intervalS: 0.005 },
];

/** Registers the scenarios, so their order in the table is fixed. */
export function declareScenarios(r: Results): void {
  r.scenario('tcp1', 'TCP 1 stream');
  r.scenario('tcp8', 'TCP 8 streams, 2 NICs');
  r.scenario('udp1400', 'UDP 1400 B');
  r.scenario('small', 'UDP 64 B, highest rate');
  r.scenario('latency', 'ping RTT');
  r.scenario('callback', 'receive 64 B at 100 kpps');
  r.scenario('aggregation', 'aggregation, 2×500 Mbit/s');
  r.scenario('failover_link', 'failover, link-based');
  r.scenario('failover_probe', 'failover, probe-based');
  r.scenario('idle', 'cost at rest');
}

/** Offered rate and UDP port of the receive-cost comparison (port 9 is the NIC sink's). */
const CALLBACK_PPS = 100_000;
const CALLBACK_PORT = 10;

/**
 * The receive cost of one JavaScript callback per packet (raw-socket, the shape the design
 * card's raw-socket and cap give a forwarding path) against the addon's batches, on the peer
 * receiving 64-byte UDP from the host over the direct path at CALLBACK_PPS. Skipped when the
 * optional raw-socket package is not installed.
 */
async function runCallbackCost(host: string, peer: string, p: Params, r: Results): Promise<void> {
  const load = (): Promise<unknown> => generate(host, PEER, 64, p.udpSec, CALLBACK_PPS, 1, CALLBACK_PORT);
  for (let i = 0; i < p.n; i++) {
    progress(`receive cost, callback per packet vs batch: run ${i + 1}/${p.n}`);
    const cb = await recvCost(peer, 'raw-socket', 'eth0', p.udpSec + 1, load);
    if (!cb) { r.skip('callback', 'receive 64 B at 100 kpps', 'raw-socket (optional dependency) is not installed'); return; }
    const b = await recvCost(peer, 'batched', 'eth0', p.udpSec + 1, load);
    if (!b) return;
    r.add('callback', 'callback_us_per_pkt', 'µs', cb.cpuUs / Math.max(1, cb.packets));
    r.add('callback', 'batched_us_per_pkt', 'µs', b.cpuUs / Math.max(1, b.packets));
    r.add('callback', 'callback_rx_pct', '%', (100 * cb.packets) / (CALLBACK_PPS * p.udpSec));
    r.raw.push({ scenario: 'callback-cost', run: i, callback: cb, batched: b });
  }
}

/** The floor forwarder's TUN address (the direct path's 198.18.0.50 is taken off eth0 meanwhile). */
const FLOOR_ADDR = '198.18.0.60';

/**
 * The latency floor: the ping rows through a forwarder in C (floor.ts, the addon's
 * floorForward) with ipmpd's sockets and system calls but no JavaScript, between a TUN in the
 * host and eth0. The peer reaches the TUN's address through a static neighbour entry.
 */
async function runFloor(host: string, peer: string, p: Params, r: Results): Promise<void> {
  const mac = async (ns: string): Promise<string> => (await execIn(ns, ['cat', '/sys/class/net/eth0/address'])).stdout.trim();
  const hostMac = await mac(host);
  const peerMac = await mac(peer);
  const pingS = p.pingCount * 0.01 + FAST_PINGS * FAST_PING_S + MID_PINGS.reduce((a, m) => a + m.count * m.intervalS, 0);
  await execIn(host, ['ip', 'addr', 'del', '198.18.0.50/24', 'dev', 'eth0']);
  await execIn(peer, ['ip', 'neigh', 'replace', FLOOR_ADDR, 'lladdr', hostMac, 'dev', 'eth0', 'nud', 'permanent']);
  try {
    for (let i = 0; i < p.n; i++) {
      progress(`latency floor, C forwarder: run ${i + 1}/${p.n}`);
      const fwd = await startFloor(host, 'eth0', `${FLOOR_ADDR}/24`, peerMac, Math.min(120, Math.ceil(pingS * 2) + 30));
      let rtt: number[] = [];
      let fast: number[] = [];
      try {
        rtt = await pingRtts(host, PEER, p.pingCount);
        r.add('latency', 'floor_us', 'µs', median(rtt));
        fast = await pingRtts(host, PEER, FAST_PINGS, FAST_PING_S);
        r.add('latency', 'floor_fast_us', 'µs', median(fast));
        for (const m of MID_PINGS) r.add('latency', `floor_${m.key}_us`, 'µs', median(await pingRtts(host, PEER, m.count, m.intervalS)));
      } finally {
        const counts = await fwd.stop();
        r.raw.push({ scenario: 'latency-floor', run: i, rttUs: rtt, fastRttUs: fast, forwarded: counts });
      }
    }
  } finally {
    await execIn(peer, ['ip', 'neigh', 'del', FLOOR_ADDR, 'dev', 'eth0']).catch(() => undefined);
    await execIn(host, ['ip', 'addr', 'add', '198.18.0.50/24', 'dev', 'eth0']);
  }
}

export async function runBaselines(lab: LabInfo, p: Params, r: Results): Promise<void> {
  const host = hostNs(lab.prefix);
  const anchor = new NsAnchor(host);
  await anchor.ready();
  const peerAnchor = new NsAnchor(peerNs(lab.prefix));
  await peerAnchor.ready();
  await iperfServer(peerNs(lab.prefix));
  await udpSink(peerNs(lab.prefix));
  await execIn(host, ['ip', 'addr', 'add', '198.18.0.50/24', 'dev', 'eth0']);
  await execIn(host, ['sysctl', '-qw', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']);

  for (let i = 0; i < p.n; i++) {
    progress(`kernel direct: run ${i + 1}/${p.n}`);
    const g64 = await measureLoad(anchor, peerAnchor, null, () => generate(host, PEER, 64, p.udpSec));
    r.add('small', 'direct_gen_kpps', 'kpps', g64.peerRxPackets / g64.res.seconds / 1000);
    const g1400 = await measureLoad(anchor, peerAnchor, null, () => generate(host, PEER, 1400, p.udpSec));
    r.add('udp1400', 'direct_gen_kpps', 'kpps', g1400.peerRxPackets / g1400.res.seconds / 1000);
    const t1 = await iperf(host, PEER, p.tcpSec);
    r.add('tcp1', 'direct_mbps', 'Mbit/s', t1.bps / 1e6);
    const t8 = await iperf(host, PEER, p.tcpSec, TCP8);
    r.add('tcp8', 'direct_mbps', 'Mbit/s', t8.bps / 1e6);
    const u = await measureLoad(anchor, peerAnchor, null, () => iperf(host, PEER, p.udpSec, udp1400(p)));
    r.add('udp1400', 'direct_kpps', 'kpps', u.peerRxPackets / u.res.seconds / 1000);
    r.add('udp1400', 'direct_loss_pct', '%', (100 * (u.res.lost ?? 0)) / Math.max(1, u.res.packets ?? 1));
    const s = await measureLoad(anchor, peerAnchor, null, () => iperf(host, PEER, p.udpSec, SMALL));
    r.add('small', 'direct_kpps', 'kpps', s.peerRxPackets / s.res.seconds / 1000);
    r.add('small', 'direct_app_kpps', 'kpps', (s.res.rxPps ?? 0) / 1000);
    const rtt = await pingRtts(host, PEER, p.pingCount);
    r.add('latency', 'direct_us', 'µs', median(rtt));
    const fast = await pingRtts(host, PEER, FAST_PINGS, FAST_PING_S);
    r.add('latency', 'direct_fast_us', 'µs', median(fast));
    for (const m of MID_PINGS) r.add('latency', `direct_${m.key}_us`, 'µs', median(await pingRtts(host, PEER, m.count, m.intervalS)));
    r.raw.push({ scenario: 'kernel-direct', run: i, gen64: g64, gen1400: g1400, tcp1: t1, tcp8: t8, udp1400: u, small: s, rttUs: rtt, fastRttUs: fast });
  }

  await runCallbackCost(host, peerNs(lab.prefix), p, r);
  await runFloor(host, peerNs(lab.prefix), p, r);

  await execIn(host, ['ip', 'addr', 'add', '198.18.0.51/24', 'dev', 'eth1']);
  await execIn(host, ['ip', 'route', 'add', '198.19.0.0/24', 'nexthop', 'via', PEER, 'dev', 'eth0',
    'nexthop', 'via', PEER, 'dev', 'eth1']);
  await execIn(host, ['sysctl', '-qw', 'net.ipv4.fib_multipath_hash_policy=1']);
  for (let i = 0; i < p.n; i++) {
    progress(`kernel ECMP: run ${i + 1}/${p.n}`);
    const a = anchor.counters();
    const t8 = await iperf(host, REMOTE, p.tcpSec, TCP8);
    const d = deltas(a, anchor.counters(), ['eth0', 'eth1']);
    const total = d.eth0.txBytes + d.eth1.txBytes;
    r.add('tcp8', 'ecmp_mbps', 'Mbit/s', t8.bps / 1e6);
    r.add('tcp8', 'ecmp_eth0_share', '', d.eth0.txBytes / Math.max(1, total));
    r.raw.push({ scenario: 'kernel-ecmp', run: i, tcp8: t8, nics: d });
  }
  anchor.stop();
  peerAnchor.stop();
}
