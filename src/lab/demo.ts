// `ipmp lab demo`: builds a lab, starts ipmpd with two data addresses, runs iperf3 and a
// 20/s ping through the group, prints per-NIC throughput from the kernel counters every
// second, fails eth0 (link down) and repairs it, then removes everything: after a normal
// run, on any error, and on SIGINT/SIGTERM. --keep leaves the lab and ipmpd running.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labDown, labDownSync, labFail, labRepair, labUp, LabError, hostNs, peerNs, execIn, spawnIn, waitFor } from './lab.js';
import type { LabInfo } from './lab.js';
import { labNamespaces } from './state.js';
import { after, indent, phaseMean, rateLine, Sampler, summaryLines, type Rate } from './demo-counters.js';
import { DaemonProc, ipmpstat, statColumn, PingProc, Tail, waitExit } from './demo-procs.js';
import { buildConfig, DATA_ADDRESSES, parseDemoArgs, USAGE, type DemoOptions } from './demo-config.js';

/** Seconds of traffic shown in each phase (spread, eth0 failed, repaired after detection). */
const PHASE_TICKS = 5;
/** Bounds (ms). */
const READY_MS = 15_000;
const DETECT_MS = 5_000;
/** Probe-based repair needs several answered probes in a row. */
const REPAIR_MS = 10_000;
const PROBE_SETTLE_MS = 10_000;
/** Daemon lines relayed before the rest is left to the log file. */
const MAX_RELAYED = 24;
const FAILED_NIC = 'eth0';

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

class Demo {
  private info: LabInfo | null = null;
  private dir: string | null = null;
  private daemon: DaemonProc | null = null;
  private ping: PingProc | null = null;
  private iperfServer: Tail | null = null;
  private iperfClient: Tail | null = null;
  private sampler: Sampler | null = null;
  private phase = 'spread';
  private relayed = 0;
  private lastPing = { received: 0, missed: 0 };
  private kept = false;
  private readonly host: string;
  private readonly peer: string;
  /** TCP streams: enough that each NIC very likely gets some of the flow hash. */
  private readonly flows: number;

  constructor(private readonly opts: DemoOptions) {
    this.host = hostNs(opts.prefix);
    this.peer = peerNs(opts.prefix);
    this.flows = Math.max(8, 4 * opts.nics);
  }

  private relay = (text: string): void => {
    this.relayed++;
    if (this.relayed <= MAX_RELAYED) say(`  ipmpd | ${text}`);
    else if (this.relayed === MAX_RELAYED + 1) say(`  ipmpd | (further lines in ${this.daemon?.logPath ?? 'the log'})`);
  };

  private async stat(args: string[]): Promise<void> {
    const out = await ipmpstat(this.host, this.daemon!.socket, args);
    say(`  $ ipmpstat ${args.join(' ')}\n${indent(out)}`);
  }

  async run(): Promise<void> {
    const { prefix, nics } = this.opts;
    if (labNamespaces(prefix).length > 0) say(`removing a previous lab '${prefix}'`);
    this.info = await labUp({ prefix, nics, force: true });
    const names = this.info.nics.map((n) => n.name);
    say(`[1/5] lab '${prefix}' up: ${this.host} (${names.join(' ')}) - ${this.info.namespaces.sw} (switch) - `
      + `${this.peer} (198.18.0.1)`);
    this.dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
    await this.startDaemon();

    say('[2/5] group state:');
    await this.stat(['-g']);
    await this.stat(['-i']);
    await this.stat(['-a']);

    await this.startTraffic();
    say(`[3/5] iperf3 -P ${this.flows} to 198.18.0.1 and ping 20/s from the peer to ${this.ping!.target}; `
      + 'per-NIC Mbit/s (tx+rx, kernel counters):');
    this.sampler = new Sampler(this.host, names, () => this.phase, (r) => this.tick(r, names), 40);
    await this.sampler.start();
    await this.waitTicks('spread', PHASE_TICKS);
    const spread = phaseMean(this.sampler.rates, 'spread', names.length)!;
    const share = spread.reduce((a, b) => a + b, 0) / names.length;
    const idle = names.filter((_, i) => spread[i] < 0.05 * share);
    if (idle.length > 0) say(`  load is NOT spread: ${idle.join(', ')} carried almost no traffic (under 5% of an even share)`);

    say(`[4/5] failing ${FAILED_NIC}: its switch port goes down, the NIC loses carrier`);
    const failAt = Date.now();
    this.phase = 'failed';
    await labFail(prefix, FAILED_NIC);
    const detected = await this.daemon!.waitLine(new RegExp(`IP interface failure detected on ${FAILED_NIC}\\b`),
      failAt, DETECT_MS);
    if (detected !== null) say(`  ipmpd detected the failure ${after(detected - failAt)} after the link went down`);
    else {
      const group = this.daemon!.lines.some((l) => l.at >= failAt && /All IP interfaces in group .* unusable/.test(l.text));
      say(`  ipmpd reported NO interface failure on ${FAILED_NIC} within ${DETECT_MS / 1000} s`
        + `${group ? ' (it declared the whole group failed)' : ''}; the counters below show the effect`);
    }
    await this.stat(['-i']);
    await this.stat(['-a']);
    await this.waitTicks('failed', PHASE_TICKS);

    say(`[5/5] repairing ${FAILED_NIC}`);
    const repairAt = Date.now();
    this.phase = 'repairing';
    await labRepair(prefix, FAILED_NIC);
    const repaired = await this.daemon!.waitLine(new RegExp(`IP interface repair detected on ${FAILED_NIC}\\b`),
      repairAt, REPAIR_MS);
    this.phase = 'repaired';
    if (repaired !== null) say(`  ipmpd detected the repair ${after(repaired - repairAt)} after the link came up`);
    else say(`  ipmpd reported NO repair on ${FAILED_NIC} within ${REPAIR_MS / 1000} s`);
    await this.waitTicks('repaired', PHASE_TICKS - 1);
    await this.stat(['-g']);
    await this.summary(names);
  }

  /** ipmpd with test addresses and FAILURE_DETECTION_TIME; without test addresses if refused. */
  private async startDaemon(): Promise<void> {
    const dir = this.dir!;
    const config = join(dir, 'ipmp.yaml');
    for (const withTest of [true, false]) {
      writeFileSync(config, buildConfig(this.info!, withTest), { mode: 0o644 });
      const log = join(dir, withTest ? 'ipmpd.log' : 'ipmpd-2.log');
      this.daemon = new DaemonProc(this.host, config, join(dir, 'ipmpd.sock'), log, this.relay);
      say(`  starting ipmpd (config ${config}${withTest ? ', test addresses 198.18.0.100+, FDT 2000 ms' : ''})`);
      const ready = await this.daemon.waitLine(/ipmpd: ready/, 0, READY_MS);
      if (ready !== null) {
        if (withTest) await this.settleProbes(ready);
        return;
      }
      const texts = this.daemon.lines.map((l) => l.text.trim());
      const last = texts.find((t) => /^ipmpd: |Error\b/.test(t)) ?? texts.at(-1) ?? 'no output';
      await this.daemon.stop();
      if (withTest) {
        say(`  ipmpd exited before ready with test addresses (${last}); retrying without them`);
        continue;
      }
      throw new LabError(`ipmpd did not become ready: ${last}`);
    }
  }

  /** Waits (bounded) until every NIC's probe state is known, and says what it is. */
  private async settleProbes(since: number): Promise<void> {
    let probe = new Map<string, string>();
    const settled = await waitFor('probe states', async () => {
      probe = await statColumn(this.host, this.daemon!.socket, '-i', 'interface', 'probe');
      return probe.size > 0 && [...probe.values()].every((v) => v !== 'unknown');
    }, PROBE_SETTLE_MS, 250).then(() => true, () => false);
    const states = [...probe].map(([nic, v]) => `${nic} ${v}`).sort().join(', ') || 'not shown';
    const targets = await statColumn(this.host, this.daemon!.socket, '-t', 'interface', 'targets');
    const t = [...new Set(targets.values())].join('; ') || 'none';
    if (settled) say(`  probing targets ${t}: ${states} (${after(Date.now() - since)} after ready)`);
    else say(`  probe state after ${PROBE_SETTLE_MS / 1000} s: ${states}; failure detection relies on the link state`);
  }

  private async startTraffic(): Promise<void> {
    this.iperfServer = new Tail(spawnIn(this.peer, ['iperf3', '-s', '-1']));
    await waitFor('iperf3 server', async () => {
      if (!this.iperfServer!.running) throw new LabError(`iperf3 -s: ${this.iperfServer!.lastLine()}`);
      const { stdout } = await execIn(this.peer, ['ss', '-Hltn', 'sport = :5201']);
      return stdout.trim() !== '';
    }, 5_000, 100);
    // Ping the data address received on the NIC that will fail, so its move is visible.
    const inbound = await statColumn(this.host, this.daemon!.socket, '-a', 'address', 'inbound');
    const target = DATA_ADDRESSES.map((a) => a.split('/')[0]).find((a) => inbound.get(a) === FAILED_NIC)
      ?? DATA_ADDRESSES[1].split('/')[0];
    this.ping = new PingProc(this.peer, target);
    this.iperfClient = new Tail(spawnIn(this.host,
      ['iperf3', '-c', '198.18.0.1', '-P', String(this.flows), '-t', '30', '-i', '1', '--connect-timeout', '3000']));
  }

  private tick(r: Rate, names: string[]): void {
    const p = this.ping!;
    const got = p.received - this.lastPing.received;
    const missed = p.missed - this.lastPing.missed;
    this.lastPing = { received: p.received, missed: p.missed };
    // ping -O reports a request still unanswered when the next one is sent (50 ms later);
    // a late reply still counts as received in the summary.
    let status = got > 0 ? `ping ok (${got})` : 'ping: no replies';
    if (missed > 0) status += `, ${missed} unanswered after 50 ms`;
    if (!this.iperfClient!.running) status += `  [iperf3 exited: ${this.iperfClient!.lastLine()}]`;
    say(rateLine(r, names, status));
  }

  /** Waits (bounded) until `n` samples of `phase` have been printed. */
  private async waitTicks(phase: string, n: number): Promise<void> {
    await waitFor(`${n} samples (${phase})`, () => this.sampler!.rates.filter((r) => r.phase === phase).length >= n,
      (n + 5) * 1000, 50);
  }

  private async summary(names: string[]): Promise<void> {
    await this.sampler!.stop();
    const pings = await this.ping!.stop();
    const iperfEarly = !this.iperfClient!.running && this.iperfClient!.child.exitCode !== 0;
    say(summaryLines(this.sampler!, names, FAILED_NIC, `ping ${this.ping!.target}: ${pings.sent} sent, `
      + `${pings.received} received, ${Math.max(0, pings.sent - pings.received)} lost`));
    if (iperfEarly) throw new LabError(`iperf3 stopped early: ${this.iperfClient!.lastLine()}`);
    if (pings.received === 0) throw new LabError(`no ping replies from ${this.ping!.target}`);
  }

  /** Stops the traffic and the daemon and removes the lab (keeps the lab and ipmpd with keep). */
  async teardown(keep: boolean): Promise<void> {
    await this.sampler?.stop().catch(() => undefined);
    await this.ping?.stop().catch(() => undefined);
    for (const t of [this.iperfClient, this.iperfServer]) {
      if (t?.running) { t.child.kill('SIGKILL'); await waitExit(t.child, 1_000); }
    }
    if (keep && this.daemon?.running && this.info) {
      this.kept = true;
      this.daemon.detach();
      const p = this.opts.prefix;
      say(`kept: lab '${p}' and ipmpd (pid ${this.daemon.pid}) are running`);
      say(`  ip netns exec ${this.host} bin/ipmpstat --socket ${this.daemon.socket} -i`);
      say(`  ipmp lab fail eth1 --prefix ${p}; ipmp lab repair eth1 --prefix ${p}   (ipmpd log: ${this.daemon.logPath})`);
      say(`  remove: ipmp lab down --prefix ${p} (also stops ipmpd); rm -r ${this.dir}`);
      return;
    }
    await this.daemon?.stop();
    try {
      await labDown(this.opts.prefix);
    } catch {
      labDownSync(this.opts.prefix);
    }
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    say(`teardown: ipmpd stopped, lab '${this.opts.prefix}' removed`);
  }

  /** For signal handlers and process exit: kill everything now, remove the lab. */
  teardownSync(): void {
    if (this.kept) return;
    this.daemon?.killNow();
    for (const t of [this.iperfClient, this.iperfServer, this.ping]) {
      if (t?.running) t.child.kill('SIGKILL');
    }
    labDownSync(this.opts.prefix);
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Entry point for `ipmp lab demo [--nics N] [--keep] [--prefix P]`; returns the exit code. */
export async function runDemo(argv: string[]): Promise<number> {
  let opts: DemoOptions | 'help';
  try {
    opts = parseDemoArgs(argv);
  } catch (err) {
    process.stderr.write(`ipmp lab demo: ${(err as Error).message} (see 'ipmp lab demo --help')\n`);
    return 2;
  }
  if (opts === 'help') { say(USAGE); return 0; }
  if (process.getuid?.() !== 0) {
    process.stderr.write('ipmp lab demo: needs root (network namespaces)\n');
    return 1;
  }
  const demo = new Demo(opts);
  const onSignal = (sig: NodeJS.Signals): void => {
    say(`\ninterrupted (${sig}): removing the lab`);
    demo.teardownSync();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  const onExit = (): void => demo.teardownSync();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.once('exit', onExit);
  const started = Date.now();
  let ok = false;
  let error = '';
  try {
    await demo.run();
    ok = true;
  } catch (err) {
    error = String((err as Error)?.message ?? err).split('\n')[0];
  } finally {
    try {
      await demo.teardown(ok && opts.keep);
    } catch (err) {
      error ||= `teardown: ${String((err as Error)?.message ?? err).split('\n')[0]}`;
      ok = false;
    }
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('exit', onExit);
  }
  if (!ok) {
    process.stderr.write(`ipmp lab demo: ${error}\n`);
    return 1;
  }
  say(`demo done (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  return 0;
}
