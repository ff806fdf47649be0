// Failover gaps: a 1 kHz UDP flow each way (host → peer through ipmp0, and peer → the data
// address bound to the NIC that fails) while that NIC fails; each receiver reports its
// longest gap between arrivals. Link-based: the switch port goes down (carrier loss).
// Probe-based: the port is detached silently (carrier stays up) and only probes can notice.
// A control run of the same flows without a failure gives the longest gap the machine causes
// by itself, the baseline of the link-based gaps. Also the throughput trace for the SVG: 8 TCP streams with per-NIC tx sampled every
// 100 ms through a failure and a repair of eth0.

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { hostNs, labFail, labRepair, peerNs, spawnIn, type LabInfo } from '../../src/lab/lab.js';
import { iperf, waitNicsOk, type Daemon } from './tools.js';
import { deltas, NsAnchor, progress, sleep } from './sys.js';
import { NICS } from './forward.js';
import { LINK_FLAP_WINDOW_NS, LINK_UP_PERMIN } from '../../src/control/detectors/link.js';
import { TCP8, type Params } from './baseline.js';
import type { Results, Trace } from './results.js';

const FLOW = join(dirname(fileURLToPath(import.meta.url)), 'udpflow.js');
const PEER = '198.18.0.1';
const HZ = 1000;

interface FlowOut { received: number; lost: number; maxGapMs: number; gapAtMs: number }

/**
 * Link-ups the bench caused per NIC (performance.now() ms). ipmpd damps link flapping like
 * in.mpathd: without probing, a third link-up within a minute is not taken as a repair until
 * the minute has passed. Each link-based failure waits, when needed, so that the repair that
 * follows it is not damped (a damped repair would leave the NIC failed for the next run).
 */
const linkUps = new Map<string, number[]>();
const FLAP_WINDOW_MS = LINK_FLAP_WINDOW_NS / 1e6;

async function waitUndamped(nics: readonly string[]): Promise<void> {
  let until = 0;
  for (const n of nics) {
    const ups = linkUps.get(n) ?? [];
    if (ups.length >= LINK_UP_PERMIN) until = Math.max(until, ups[ups.length - LINK_UP_PERMIN] + FLAP_WINDOW_MS + 500);
  }
  const wait = until - performance.now();
  if (wait <= 0) return;
  progress(`waiting ${(wait / 1000).toFixed(0)} s: a repair now would be damped as link flapping`);
  await sleep(wait);
}

function recordUp(nic: string): void {
  const ups = linkUps.get(nic) ?? [];
  ups.push(performance.now());
  linkUps.set(nic, ups.slice(-LINK_UP_PERMIN));
}

/** Starts a udpflow end in `ns`; resolves with the child and a promise of its JSON line. */
function flow(ns: string, args: string[], timeoutMs: number): { child: ChildProcess; done: Promise<string> } {
  const child = spawnIn(ns, [process.execPath, FLOW, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (b: Buffer) => { out += b.toString(); });
  const done = new Promise<string>((res, rej) => {
    const t = setTimeout(() => { child.kill('SIGKILL'); rej(new Error(`udpflow ${args[0]} timed out`)); }, timeoutMs);
    child.once('exit', () => { clearTimeout(t); res(out); });
  });
  return { child, done };
}

function listening(c: ChildProcess): Promise<void> {
  return new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error('udpflow receiver did not start')), 5_000);
    c.stderr?.on('data', (b: Buffer) => { if (b.toString().includes('listening')) { clearTimeout(t); res(); } });
  });
}

/** One failover run; returns the gaps (ms) each way and the NIC that failed. */
async function failoverRun(lab: LabInfo, d: Daemon, anchor: NsAnchor, flowMs: number, silent: boolean, fail = true):
  Promise<{ nic: string; out: FlowOut; in: FlowOut; inAddr: string }> {
  const host = hostNs(lab.prefix);
  const peer = peerNs(lab.prefix);
  // Which NIC carries the flow is known only once it runs: both must be free to fail.
  if (!silent && fail) await waitUndamped(NICS);
  const bound = flowMs + 20_000;
  const rxOut = flow(peer, ['recv', '6001', String(flowMs)], bound);
  const rxIn = flow(host, ['recv', '6002', String(flowMs)], bound);
  await Promise.all([listening(rxOut.child), listening(rxIn.child)]);
  const c0 = anchor.counters();
  const txOut = flow(host, ['send', PEER, '6001', String(HZ), String(flowMs - 300)], bound);
  await sleep(300);
  const dd = deltas(c0, anchor.counters(), NICS);
  const nic = NICS.reduce((a, b) => (dd[b].txPackets > dd[a].txPackets ? b : a));
  const snap = await d.snapshot();
  const inAddr = snap.addresses.find((a) => a.inbound === nic)?.address ?? snap.addresses[0].address;
  const txIn = flow(peer, ['send', inAddr, '6002', String(HZ), String(flowMs - 700)], bound);
  await sleep(Math.min(1000, flowMs / 4));
  if (fail) await labFail(lab.prefix, nic, { silent });
  const [o, i] = await Promise.all([rxOut.done, rxIn.done, txOut.done, txIn.done]);
  if (fail) {
    await labRepair(lab.prefix, nic);
    if (!silent) recordUp(nic);
  }
  return { nic, out: JSON.parse(o) as FlowOut, in: JSON.parse(i) as FlowOut, inAddr };
}

export async function runFailover(lab: LabInfo, d: Daemon, anchor: NsAnchor, p: Params, r: Results,
  kind: 'link' | 'probe'): Promise<void> {
  const key = kind === 'link' ? 'failover_link' : 'failover_probe';
  if (kind === 'link') {
    // The same flows without a failure: the longest gap the machine itself causes
    // (scheduling of the senders, receivers and ipmpd), to read the failover gaps against.
    await waitNicsOk(d, NICS, 30_000);
    progress('failover flows without a failure (control run)');
    const c = await failoverRun(lab, d, anchor, p.linkFlowMs, false, false);
    r.add(key, 'quiet_out_gap_ms', 'ms', c.out.maxGapMs);
    r.add(key, 'quiet_in_gap_ms', 'ms', c.in.maxGapMs);
    r.raw.push({ scenario: `${key}_control`, run: 0, ...c });
  }
  for (let i = 0; i < p.failoverN; i++) {
    await waitNicsOk(d, NICS, 30_000);
    progress(`failover (${kind}-based): run ${i + 1}/${p.failoverN}`);
    const x = await failoverRun(lab, d, anchor, kind === 'link' ? p.linkFlowMs : p.probeFlowMs, kind === 'probe');
    r.add(key, 'out_gap_ms', 'ms', x.out.maxGapMs);
    r.add(key, 'in_gap_ms', 'ms', x.in.maxGapMs);
    r.add(key, 'lost_pkts', 'pkts', x.out.lost + x.in.lost);
    r.raw.push({ scenario: key, run: i, ...x });
  }
  await waitNicsOk(d, NICS, 30_000);
}

/** Per-NIC throughput every 100 ms through a failure of eth0 at 1/3 and a repair at 2/3. */
export async function runTrace(lab: LabInfo, d: Daemon, anchor: NsAnchor, p: Params, r: Results): Promise<void> {
  await waitUndamped(['eth0']);
  await waitNicsOk(d, NICS, 30_000);
  progress(`throughput trace through eth0 failure and repair: ${p.traceSec} s`);
  const trace: Trace = { nics: NICS, samples: [], events: [] };
  const t0 = performance.now();
  let prev = anchor.counters();
  let prevT = t0;
  const timer = setInterval(() => {
    const now = performance.now();
    const c = anchor.counters();
    const dd = deltas(prev, c, NICS);
    const mbps: Record<string, number> = {};
    for (const n of NICS) mbps[n] = (dd[n].txBytes * 8) / ((now - prevT) * 1000);
    trace.samples.push({ t: (now - t0) / 1000, mbps });
    prev = c;
    prevT = now;
  }, 100);
  try {
    const load = iperf(hostNs(lab.prefix), PEER, p.traceSec, TCP8);
    await sleep((p.traceSec * 1000) / 3);
    trace.events.push({ t: (performance.now() - t0) / 1000, what: 'eth0 fails' });
    await labFail(lab.prefix, 'eth0');
    await sleep(Math.max(0, (2 * p.traceSec * 1000) / 3 - (performance.now() - t0)));
    trace.events.push({ t: (performance.now() - t0) / 1000, what: 'eth0 repaired' });
    await labRepair(lab.prefix, 'eth0');
    recordUp('eth0');
    await load.catch(() => undefined);
    await sleep(300);
  } finally {
    clearInterval(timer);
  }
  r.trace = trace;
}
