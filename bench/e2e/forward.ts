// The forwarding path through ipmpd: throughput (1 and 8 TCP streams), CPU per forwarded
// packet at a fixed UDP rate, small-packet rate, RTT, aggregation under a rate-limited lab,
// and the daemon's cost at rest. Traffic goes host → peer over ipmp0's data addresses.

import { hostNs, peerNs, type LabInfo } from '../../src/lab/lab.js';
import { generate, iperf, iperfServer, pingRtts, udpSink, waitNicsOk, type Daemon, type IperfResult } from './tools.js';
import { cpuMicros, deltas, median, NsAnchor, progress, rssKb, sleep, type NicCounters } from './sys.js';
import { FAST_PINGS, FAST_PING_S, MID_PINGS, SMALL, TCP8, udp1400, type Params } from './baseline.js';
import type { Results } from './results.js';

const PEER = '198.18.0.1';
export const NICS = ['eth0', 'eth1'];

export interface Measured {
  res: IperfResult;
  /** Host NIC counter deltas. */
  nics: Record<string, NicCounters>;
  /** Packets the peer's eth0 received during the load. */
  peerRxPackets: number;
  /** ipmpd CPU time (µs), 0 without a daemon. */
  cpuUs: number;
  wallS: number;
}

/** Runs one load while reading NIC counters (host and peer) and the daemon's CPU time. */
export async function measureLoad(host: NsAnchor, peer: NsAnchor, d: Daemon | null,
  load: () => Promise<IperfResult>): Promise<Measured> {
  const c0 = host.counters();
  const p0 = peer.counters();
  const cpu0 = d ? cpuMicros(d.pid) : 0;
  const t0 = performance.now();
  const res = await load();
  const wallS = (performance.now() - t0) / 1000;
  const cpuUs = d ? cpuMicros(d.pid) - cpu0 : 0;
  const peerRxPackets = deltas(p0, peer.counters(), ['eth0']).eth0.rxPackets;
  return { res, nics: deltas(c0, host.counters(), NICS), peerRxPackets, cpuUs, wallS };
}

function txSum(m: Measured, f: 'txBytes' | 'txPackets'): number {
  return NICS.reduce((s, n) => s + m.nics[n][f], 0);
}

/** Fraction of tx bytes on the busiest NIC. */
function maxShare(m: Measured): number {
  return Math.max(...NICS.map((n) => m.nics[n].txBytes)) / Math.max(1, txSum(m, 'txBytes'));
}

export async function runForwarding(lab: LabInfo, d: Daemon, anchor: NsAnchor, p: Params, r: Results): Promise<void> {
  const host = hostNs(lab.prefix);
  await iperfServer(peerNs(lab.prefix));
  await udpSink(peerNs(lab.prefix));
  const peerAnchor = new NsAnchor(peerNs(lab.prefix));
  await peerAnchor.ready();
  const measure = (load: () => Promise<IperfResult>): Promise<Measured> => measureLoad(anchor, peerAnchor, d, load);
  await waitNicsOk(d, NICS, 30_000);
  for (let i = 0; i < p.n; i++) {
    progress(`ipmp0 forwarding: run ${i + 1}/${p.n}`);
    // The sendmmsg generator into the peer's NIC sink: the forwarding path's own packet
    // rate and CPU per packet, with nothing downstream of the peer's NIC charged to ipmpd.
    const g64 = await measure(() => generate(host, PEER, 64, p.udpSec));
    r.add('small', 'ipmp_gen_kpps', 'kpps', g64.peerRxPackets / g64.res.seconds / 1000);
    r.add('small', 'gen_cpu_us_per_pkt', 'µs', g64.cpuUs / Math.max(1, txSum(g64, 'txPackets')));
    const g1400 = await measure(() => generate(host, PEER, 1400, p.udpSec));
    r.add('udp1400', 'ipmp_gen_kpps', 'kpps', g1400.peerRxPackets / g1400.res.seconds / 1000);
    r.add('udp1400', 'gen_cpu_us_per_pkt', 'µs', g1400.cpuUs / Math.max(1, txSum(g1400, 'txPackets')));

    const t1 = await measure(() => iperf(host, PEER, p.tcpSec));
    r.add('tcp1', 'ipmp_mbps', 'Mbit/s', t1.res.bps / 1e6);
    r.add('tcp1', 'ipmp_cpu_pct', '%', (100 * t1.cpuUs) / (t1.wallS * 1e6));

    const t8 = await measure(() => iperf(host, PEER, p.tcpSec, TCP8));
    r.add('tcp8', 'ipmp_mbps', 'Mbit/s', t8.res.bps / 1e6);
    r.add('tcp8', 'ipmp_eth0_share', '', t8.nics.eth0.txBytes / Math.max(1, txSum(t8, 'txBytes')));

    const u = await measure(() => iperf(host, PEER, p.udpSec, udp1400(p)));
    r.add('udp1400', 'ipmp_kpps', 'kpps', u.peerRxPackets / u.res.seconds / 1000);
    r.add('udp1400', 'ipmp_loss_pct', '%', (100 * (u.res.lost ?? 0)) / Math.max(1, u.res.packets ?? 1));
    r.add('udp1400', 'cpu_us_per_pkt', 'µs', u.cpuUs / Math.max(1, txSum(u, 'txPackets')));

    const s = await measure(() => iperf(host, PEER, p.udpSec, SMALL));
    r.add('small', 'ipmp_kpps', 'kpps', s.peerRxPackets / s.res.seconds / 1000);
    r.add('small', 'ipmp_fwd_kpps', 'kpps', txSum(s, 'txPackets') / s.res.seconds / 1000);
    r.add('small', 'ipmp_app_kpps', 'kpps', (s.res.rxPps ?? 0) / 1000);
    r.add('small', 'cpu_us_per_pkt', 'µs', s.cpuUs / Math.max(1, txSum(s, 'txPackets')));

    const rtt = await pingRtts(host, PEER, p.pingCount);
    r.add('latency', 'ipmp_us', 'µs', median(rtt));
    const fast = await pingRtts(host, PEER, FAST_PINGS, FAST_PING_S);
    r.add('latency', 'ipmp_fast_us', 'µs', median(fast));
    for (const m of MID_PINGS) r.add('latency', `ipmp_${m.key}_us`, 'µs', median(await pingRtts(host, PEER, m.count, m.intervalS)));
    r.raw.push({ scenario: 'ipmp-forwarding', run: i, gen64: g64, gen1400: g1400, tcp1: t1, tcp8: t8, udp1400: u, small: s, rttUs: rtt,
      fastRttUs: fast });
  }
  peerAnchor.stop();
}

/** Aggregation in a lab whose NICs are limited to `rateBps` each (both NICs active). */
export async function runAggregation(lab: LabInfo, d: Daemon, anchor: NsAnchor, rateBps: number, p: Params,
  r: Results): Promise<void> {
  const host = hostNs(lab.prefix);
  await iperfServer(peerNs(lab.prefix));
  const sum = rateBps * NICS.length;
  const peerAnchor = new NsAnchor(peerNs(lab.prefix));
  await peerAnchor.ready();
  const measure = (load: () => Promise<IperfResult>): Promise<Measured> => measureLoad(anchor, peerAnchor, d, load);
  await waitNicsOk(d, NICS, 30_000);
  for (let i = 0; i < p.n; i++) {
    progress(`aggregation: run ${i + 1}/${p.n}`);
    const t8 = await measure(() => iperf(host, PEER, p.tcpSec, TCP8));
    r.add('aggregation', 'tcp8_mbps', 'Mbit/s', t8.res.bps / 1e6);
    r.add('aggregation', 'tcp8_pct_of_sum', '%', (100 * t8.res.bps) / sum);
    r.add('aggregation', 'tcp8_l2_pct_of_sum', '%', (100 * txSum(t8, 'txBytes') * 8) / (sum * t8.wallS));
    const t1 = await measure(() => iperf(host, PEER, p.tcpSec));
    r.add('aggregation', 'tcp1_mbps', 'Mbit/s', t1.res.bps / 1e6);
    r.add('aggregation', 'tcp1_max_nic_share', '', maxShare(t1));
    r.raw.push({ scenario: 'aggregation', run: i, rateBps, tcp8: t8, tcp1: t1 });
  }
  peerAnchor.stop();
}

/** ipmpd's CPU use over `idleSec` with no traffic, and its resident memory. */
export async function runIdle(d: Daemon, p: Params, r: Results): Promise<void> {
  progress(`cost at rest: ${p.idleSec} s`);
  await sleep(1000);
  const c0 = cpuMicros(d.pid);
  const t0 = performance.now();
  await sleep(p.idleSec * 1000);
  const pct = (100 * (cpuMicros(d.pid) - c0)) / ((performance.now() - t0) * 1000);
  const rss = rssKb(d.pid) / 1024;
  r.add('idle', 'cpu_pct', '%', pct);
  r.add('idle', 'rss_mb', 'MB', rss);
  r.raw.push({ scenario: 'idle', run: 0, cpuPct: pct, rssMb: rss, seconds: p.idleSec });
}
