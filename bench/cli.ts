// ipmp bench: the end-to-end benchmark on the lab. Three labs, one after the other, each torn
// down when its part ends (also on failure, SIGINT and SIGTERM):
//   <P>k  kernel baselines, no ipmpd: direct over eth0, ECMP over eth0 + eth1
//   <P>d  ipmpd over eth0 + eth1: forwarding, failover (link- and probe-based), trace, idle
//   <P>a  ipmpd over eth0 + eth1 limited to 500 Mbit/s each: aggregation
// Prints a table (medians, ranges, ratios, targets) on stdout and progress on stderr;
// --json FILE writes every run; --svg FILE (default bench/results/latest.svg in full mode)
// draws the failover trace and the bars against the baselines.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { hostNs, labDownSync, parseRate } from '../src/lab/lab.js';
import { withLab } from '../src/lab/fixture.js';
import { declareScenarios, runBaselines, type Params } from './e2e/baseline.js';
import { NICS, runAggregation, runForwarding, runIdle } from './e2e/forward.js';
import { runMemory, GROWTH_MB } from './e2e/memory.js';
import { runFailover, runTrace } from './e2e/failover.js';
import { ipmpdYaml, REPO, startIpmpd, type Daemon } from './e2e/tools.js';
import { NsAnchor, progress, sleep } from './e2e/sys.js';
import { Results, row, table, type Row } from './e2e/results.js';
import { renderSvg, type Bar } from './e2e/svg.js';

const USAGE = 'usage: ipmp bench [--quick] [--json FILE] [--svg FILE] [--runs N] [--soak-minutes N] [--only PARTS] [--prefix P]\n'
  + '       ipmp bench soak [--faults N] [--seed S] [--nics K] [--json FILE] ... (ipmp bench soak --help)\n'
  + '       ipmp bench fuzz [--runs N] [--only NAME[,NAME]] [--seed S] [--replay FILE] (parsers, see bench/fuzz/run.ts)\n'
  + 'PARTS: comma-separated, of kernel, forwarding, failover, probe, trace, idle, aggregation, memory (default: all;\n'
  + 'memory only with --soak-minutes: RSS under N minutes of load). Failover scenarios run 5 times in a full run.\n';
const PARTS = ['kernel', 'forwarding', 'failover', 'probe', 'trace', 'idle', 'aggregation', 'memory'] as const;
type Part = (typeof PARTS)[number];
const AGG_RATE = '500mbit';
const DATA = ['198.18.0.10/24', '198.18.0.11/24'];

interface Options {
  quick: boolean; json?: string; svg?: string; runs?: number; prefix: string; soakMinutes: number; only: Set<Part>;
}

function parseArgs(argv: string[]): Options | string {
  const o: Options = { quick: false, prefix: `ipb${process.pid % 10000}`, soakMinutes: 0, only: new Set(PARTS) };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`option ${a} requires a value`);
      return v;
    };
    try {
      if (a === '--quick') o.quick = true;
      else if (a === '--json') o.json = val();
      else if (a === '--svg') o.svg = val();
      else if (a === '--runs') o.runs = Number(val());
      else if (a === '--prefix') o.prefix = val();
      else if (a === '--soak-minutes') o.soakMinutes = Number(val());
      else if (a === '--only') {
        const want = val().split(',').map((x) => x.trim());
        const bad = want.find((x) => !(PARTS as readonly string[]).includes(x));
        if (bad !== undefined) return `--only: unknown part '${bad}' (expected ${PARTS.join(', ')})`;
        o.only = new Set(want as Part[]);
      }
      else if (a === '--help' || a === '-h') return '';
      else return `unrecognized argument '${a}'`;
    } catch (e) {
      return (e as Error).message;
    }
  }
  if (!/^[a-z][a-z0-9]{0,10}$/.test(o.prefix)) return `bad prefix '${o.prefix}': 1-11 of [a-z0-9], starting with a letter`;
  if (o.runs !== undefined && !(Number.isInteger(o.runs) && o.runs >= 1 && o.runs <= 20)) return '--runs: expected 1..20';
  if (!(Number.isInteger(o.soakMinutes) && o.soakMinutes >= 0 && o.soakMinutes <= 120)) return '--soak-minutes: expected 0..120';
  if (o.soakMinutes === 0) o.only.delete('memory');
  const partial = PARTS.some((x) => x !== 'memory' && !o.only.has(x));
  if (!o.quick && !partial && o.svg === undefined) o.svg = join(REPO, 'bench', 'results', 'latest.svg');
  return o;
}

function params(o: Options): Params {
  return o.quick
    ? { quick: true, n: o.runs ?? 1, failoverN: o.runs ?? 1, tcpSec: 2, udpSec: 2, udpRate: '200M', pingCount: 200,
      idleSec: 3, linkFlowMs: 2500, probeFlowMs: 4500, traceSec: 6, soakMinutes: o.soakMinutes }
    : { quick: false, n: o.runs ?? 3, failoverN: Math.max(5, o.runs ?? 3), tcpSec: 4, udpSec: 3, udpRate: '200M',
      pingCount: 200, idleSec: 10, linkFlowMs: 3000, probeFlowMs: 5000, traceSec: 9, soakMinutes: o.soakMinutes };
}

async function withDaemon(prefix: string, yaml: string, fn: (d: Daemon, a: NsAnchor) => Promise<void>): Promise<void> {
  const anchor = new NsAnchor(hostNs(prefix));
  await anchor.ready();
  const d = await startIpmpd(hostNs(prefix), yaml);
  try {
    await fn(d, anchor);
  } finally {
    await d.stop();
    anchor.stop();
  }
}

/** Probe-based detection is measured only when the daemon reports probing as working. */
async function probesWork(d: Daemon): Promise<string | null> {
  let states = '';
  for (let i = 0; i < 60; i++) {
    const s = await d.snapshot();
    states = s.interfaces.map((x) => `${x.name}=${x.probe}`).join(' ');
    if (NICS.every((n) => s.interfaces.some((x) => x.name === n && x.probe === 'ok'))) return null;
    await sleep(100);
  }
  return `probe state not ok after 6 s with test addresses (${states})`;
}

async function runAll(o: Options, p: Params, r: Results, tun: string): Promise<void> {
  const has = (...parts: Part[]): boolean => parts.some((x) => o.only.has(x));
  if (has('kernel')) await withLab({ prefix: `${o.prefix}k`, nics: 2 }, (lab) => runBaselines(lab, p, r));

  if (has('forwarding', 'failover', 'trace', 'idle', 'memory', 'probe')) await withLab({ prefix: `${o.prefix}d`, nics: 2 }, async (lab) => {
    if (has('forwarding', 'failover', 'trace', 'idle', 'memory')) {
      progress('starting ipmpd');
      await withDaemon(lab.prefix, ipmpdYaml({ tun, nics: NICS, addresses: DATA }), async (d, anchor) => {
        if (has('forwarding')) await runForwarding(lab, d, anchor, p, r);
        if (has('failover')) await runFailover(lab, d, anchor, p, r, 'link');
        if (o.svg && has('trace')) await runTrace(lab, d, anchor, p, r);
        if (has('idle')) await runIdle(d, p, r);
        if (has('memory')) await runMemory(lab, d, anchor, p, r);
      });
    }
    if (!has('probe')) return;
    progress('starting ipmpd with probe-based failure detection');
    const probe = { fdtMs: 1000, testAddresses: lab.nics.map((n) => n.testAddress), targets: ['198.18.0.1'] };
    await withDaemon(lab.prefix, ipmpdYaml({ tun, nics: NICS, addresses: DATA, probe }), async (d, anchor) => {
      const why = await probesWork(d);
      if (why) { r.skip('failover_probe', 'failover, probe-based', why); progress(`probe-based failover skipped: ${why}`); return; }
      await runFailover(lab, d, anchor, p, r, 'probe');
    });
  });

  if (has('aggregation')) await withLab({ prefix: `${o.prefix}a`, nics: 2, rate: AGG_RATE }, async (lab) => {
    progress(`starting ipmpd (NICs limited to ${AGG_RATE})`);
    await withDaemon(lab.prefix, ipmpdYaml({ tun, nics: NICS, addresses: DATA }), (d, anchor) =>
      runAggregation(lab, d, anchor, parseRate(AGG_RATE) * 8, p, r));
  });
}

function summarize(r: Results): { rows: Row[]; bars: Bar[] } {
  const rows: (Row | null)[] = [];
  const vs = (key: string, ipmp: string, base: string, baseName: string, what: string, target?: number): Row | null => {
    const b = r.med(key, base);
    const x = row(r, key, ipmp, what, { baseline: { name: baseName, value: b } });
    if (!x) return null;
    x.ratio = x.value / b;
    if (target !== undefined) { x.target = `≥${target}×`; x.met = x.ratio >= target; }
    return x;
  };
  const abs = (key: string, metric: string, what: string, op: '≤' | '≥', target?: number): Row | null => {
    const x = row(r, key, metric, what);
    if (x && target !== undefined) {
      x.target = `${op}${target}`;
      x.met = op === '≤' ? x.value <= target : x.value >= target;
    }
    return x;
  };
  rows.push(vs('tcp1', 'ipmp_mbps', 'direct_mbps', 'direct', 'goodput', 0.75));
  rows.push(abs('tcp1', 'ipmp_cpu_pct', 'ipmpd CPU', '≤'));
  rows.push(vs('tcp8', 'ipmp_mbps', 'direct_mbps', 'direct', 'goodput', 0.4));
  rows.push(vs('tcp8', 'ipmp_mbps', 'ecmp_mbps', 'ECMP', 'goodput vs ECMP'));
  rows.push(vs('tcp8', 'ipmp_eth0_share', 'ecmp_eth0_share', 'ECMP', 'eth0 share of tx bytes'));
  rows.push(abs('udp1400', 'gen_cpu_us_per_pkt', 'ipmpd CPU per packet, highest rate (loadgen → NIC sink)', '≤', 5));
  rows.push(vs('udp1400', 'ipmp_gen_kpps', 'direct_gen_kpps', 'direct', 'highest rate, received at peer NIC (loadgen)'));
  rows.push(abs('udp1400', 'cpu_us_per_pkt', 'ipmpd CPU per packet at 200 Mbit/s (iperf3; peer stack inline)', '≤'));
  rows.push(vs('udp1400', 'ipmp_kpps', 'direct_kpps', 'direct', 'at 200 Mbit/s, received at peer NIC (iperf3)'));
  rows.push(vs('udp1400', 'ipmp_loss_pct', 'direct_loss_pct', 'direct', 'loss at 200 Mbit/s (iperf3)'));
  const small = vs('small', 'ipmp_gen_kpps', 'direct_gen_kpps', 'direct', 'received at peer NIC (loadgen → NIC sink)');
  if (small) { small.target = '≥200 kpps'; small.met = small.value >= 200; }
  rows.push(small, abs('small', 'gen_cpu_us_per_pkt', 'ipmpd CPU per packet (loadgen)', '≤'),
    vs('small', 'ipmp_kpps', 'direct_kpps', 'direct', 'received at peer NIC (iperf3)'),
    vs('small', 'ipmp_app_kpps', 'direct_app_kpps', 'direct', 'received by iperf3'),
    abs('small', 'ipmp_fwd_kpps', 'forwarded by ipmpd (iperf3)', '≥'), abs('small', 'cpu_us_per_pkt', 'ipmpd CPU per packet (iperf3)', '≤'));
  const lat = vs('latency', 'ipmp_us', 'direct_us', 'direct', 'RTT median, pings 10 ms apart');
  if (lat && lat.baseline) {
    const added = lat.value - lat.baseline.value;
    lat.target = `≤+100 µs (+${added.toFixed(0)})`;
    lat.met = added <= 100;
  }
  rows.push(lat, vs('latency', 'ipmp_5ms_us', 'direct_5ms_us', 'direct', 'RTT median, pings 5 ms apart'),
    vs('latency', 'ipmp_2ms_us', 'direct_2ms_us', 'direct', 'RTT median, pings 2 ms apart'),
    vs('latency', 'ipmp_fast_us', 'direct_fast_us', 'direct', 'RTT median, pings 0.5 ms apart'),
    vs('latency', 'ipmp_us', 'floor_us', 'C fwd', 'RTT, 10 ms apart, vs a C forwarder (floor)'),
    vs('latency', 'ipmp_fast_us', 'floor_fast_us', 'C fwd', 'RTT, 0.5 ms apart, vs a C forwarder (floor)'));
  rows.push(vs('callback', 'callback_us_per_pkt', 'batched_us_per_pkt', 'batched', 'CPU per packet, raw-socket callback'),
    abs('callback', 'callback_rx_pct', 'raw-socket: share of packets received', '≥'));
  rows.push(abs('aggregation', 'tcp8_pct_of_sum', '8 streams goodput / sum of rates', '≥', 90));
  rows.push(abs('aggregation', 'tcp8_l2_pct_of_sum', '8 streams L2 tx / sum of rates', '≥'));
  rows.push(abs('aggregation', 'tcp1_max_nic_share', '1 stream: busiest NIC share', '≥', 0.95));
  for (const k of ['failover_link', 'failover_probe']) {
    const gap = (metric: string, quiet: string, what: string): Row | null => (k === 'failover_link'
      ? vs(k, metric, quiet, 'no failure', what) : abs(k, metric, what, '≤'));
    rows.push(gap('out_gap_ms', 'quiet_out_gap_ms', 'longest gap host→peer'), gap('in_gap_ms', 'quiet_in_gap_ms', 'longest gap peer→host'),
      abs(k, 'lost_pkts', 'datagrams lost (both ways)', '≤'));
  }
  rows.push(abs('idle', 'cpu_pct', 'ipmpd CPU at rest', '≤', 1), abs('idle', 'rss_mb', 'ipmpd RSS', '≤', 80));
  rows.push(abs('memory', 'rss_start_mb', 'RSS at the start of the load', '≤'), abs('memory', 'rss_end_mb', 'RSS at the end', '≤', 80),
    abs('memory', 'rss_max_mb', 'RSS maximum', '≤'), abs('memory', 'rss_growth_mb', 'RSS growth (end − start)', '≤', GROWTH_MB));
  const bar = (label: string, key: string, ipmp: string, base: string, baseName: string, unit: string): Bar[] => {
    const a = r.med(key, ipmp);
    const b = r.med(key, base);
    return Number.isFinite(a) && Number.isFinite(b) ? [{ label, ipmp: a, base: b, baseName, unit }] : [];
  };
  const bars = [
    ...bar('TCP 1 stream', 'tcp1', 'ipmp_mbps', 'direct_mbps', 'kernel direct', 'Mbit/s'),
    ...bar('TCP 8 streams', 'tcp8', 'ipmp_mbps', 'direct_mbps', 'kernel direct', 'Mbit/s'),
    ...bar('TCP 8 streams, 2 NICs', 'tcp8', 'ipmp_mbps', 'ecmp_mbps', 'kernel ECMP', 'Mbit/s'),
    ...bar('UDP 1400 B (offered 200M)', 'udp1400', 'ipmp_kpps', 'direct_kpps', 'kernel direct', 'kpps'),
    ...bar('UDP 1400 B, highest rate', 'udp1400', 'ipmp_gen_kpps', 'direct_gen_kpps', 'kernel direct', 'kpps'),
    ...bar('UDP 64 B', 'small', 'ipmp_gen_kpps', 'direct_gen_kpps', 'kernel direct', 'kpps'),
    ...bar('ping RTT (lower is better)', 'latency', 'ipmp_us', 'direct_us', 'kernel direct', 'µs'),
  ];
  return { rows: rows.filter((x): x is Row => x !== null), bars };
}

export async function benchMain(argv: string[]): Promise<number> {
  if (argv[0] === 'soak') return (await import('./soak/run.js')).soakMain(argv.slice(1));
  if (argv[0] === 'fuzz') return (await import('./fuzz/run.js')).fuzzMain(argv.slice(1));
  const o = parseArgs(argv);
  if (typeof o === 'string') {
    process.stderr.write(o ? `ipmp bench: ${o}\n${USAGE}` : USAGE);
    return o ? 2 : 0;
  }
  if (process.getuid?.() !== 0) { process.stderr.write('ipmp bench: needs root (network namespaces)\n'); return 1; }
  const p = params(o);
  const r = new Results();
  declareScenarios(r);
  if (o.only.has('memory')) r.scenario('memory', 'memory under load');
  const tun = `ipb${process.pid % 100000}`;
  const onSignal = (sig: NodeJS.Signals): void => {
    for (const s of ['k', 'd', 'a']) labDownSync(`${o.prefix}${s}`);
    process.stderr.write(`ipmp bench: ${sig}: labs removed\n`);
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const started = new Date();
  const t0 = performance.now();
  let failed: unknown = null;
  try {
    progress(`${o.quick ? 'quick' : 'full'} run, ${p.n} run(s) per scenario, labs ${o.prefix}{k,d,a}`);
    await runAll(o, p, r, tun);
  } catch (e) {
    failed = e;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  const seconds = (performance.now() - t0) / 1000;
  const { rows, bars } = summarize(r);
  const skipped = Object.values(r.scenarios).filter((s) => s.skipped).map((s) => ({ title: s.title, why: s.skipped ?? '' }));
  const mode = `${o.quick ? 'quick' : 'full'}, N=${p.n}, ${started.toISOString().slice(0, 10)}, ${seconds.toFixed(0)} s`;
  process.stdout.write(`ipmp bench (${mode})\n${table(rows, skipped)}\n`);
  if (o.json) {
    mkdirSync(dirname(o.json), { recursive: true });
    writeFileSync(o.json, `${JSON.stringify({
      date: started.toISOString(), mode: o.quick ? 'quick' : 'full', params: p, prefix: o.prefix, seconds,
      error: failed ? String((failed as Error).message ?? failed) : null,
      scenarios: r.scenarios, summary: rows, raw: r.raw, trace: r.trace,
    }, null, 1)}\n`);
    progress(`wrote ${o.json}`);
  }
  if (o.svg) {
    mkdirSync(dirname(o.svg), { recursive: true });
    writeFileSync(o.svg, renderSvg(r, bars, mode));
    progress(`wrote ${o.svg}`);
  }
  if (failed) {
    process.stderr.write(`ipmp bench: ${failed instanceof Error ? failed.message : String(failed)}\n`);
    return 1;
  }
  return 0;
}
