// The fault soak: a lab, ipmpd in its host namespace, long TCP transfers through the IPMP
// interface both ways, and a seeded series of faults (faults.ts), each checked against the
// daemon's snapshot. At the end the daemon stops with SIGTERM and the soak checks what is
// left behind (leaks.ts). Everything it creates goes with the lab, also on failure.

import { rmSync, writeFileSync } from 'node:fs';
import { execIn, hostNs, labRepair, peerNs } from '../../src/lab/lab.js';
import { run } from '../../src/lab/exec.js';
import { withLab } from '../../src/lab/fixture.js';
import { labNamespaces } from '../../src/lab/state.js';
import type { LabInfo } from '../../src/lab/topology.js';
import { writeConfigFile, type GroupSetup } from './daemon.js';
import { schedule, type Kind } from './faults.js';
import { compareHost, compareProc, hostState, stableStats, stateFiles, type HostState, type LeakCheck } from './leaks.js';
import { Rng } from './prng.js';
import { settled } from './states.js';
import { Traffic, type Path, type TransferRecord } from './traffic.js';
import { summarize, type SoakResult, type KillWindow } from './report.js';
import { SoakRun } from './runner.js';

export interface SoakOptions {
  faults: number;
  seed: number;
  nics: number;
  prefix: string;
  /** Concurrent transfers (alternating directions). */
  slots: number;
  /** Pacing of each transfer, Mbit/s. */
  rateMbit: number;
  transferSec: [number, number];
  holdMs: [number, number];
  gapMs: [number, number];
  fdtMs: number;
  rssLimitMb: number;
  /** The kinds of fault to draw from (KINDS, and ALL_DOWN when asked for). */
  kinds: Kind[];
  /** Where to write every ipmpd instance's whole log, with a marker line per fault. */
  logFile?: string;
  progress: (msg: string) => void;
}

const DATA = ['198.18.0.10/24', '198.18.0.11/24', '2001:db8::10/64'];
const PEER = ['198.18.0.1', '2001:db8::1'];
const REMOTE_NET = '198.19.0.0/24';
const REMOTE = '198.19.0.1';
/** Time allowed for the group to settle after start (ms). */
const START_SETTLE_MS = 30_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function paths(): Path[] {
  return [
    { dir: 'host→peer', src: '198.18.0.10', dst: PEER[0] },
    { dir: 'host→peer', src: '198.18.0.11', dst: REMOTE },
    { dir: 'host→peer', src: '2001:db8::10', dst: PEER[1] },
    { dir: 'peer→host', src: '', dst: '198.18.0.10' },
    { dir: 'peer→host', src: '', dst: '198.18.0.11' },
    { dir: 'peer→host', src: '', dst: '2001:db8::10' },
  ];
}

function initialSetup(o: SoakOptions, lab: LabInfo, tun: string): GroupSetup {
  return {
    tun, fdtMs: o.fdtMs, addresses: [...DATA], targets: [PEER[0]],
    nics: lab.nics.map((n, i) => ({ name: n.name, testAddress: n.testAddress, standby: o.nics >= 3 && i === o.nics - 1 })),
  };
}

function markKillSpans(transfers: TransferRecord[], kills: KillWindow[], end: number): void {
  for (const t of transfers) {
    const tEnd = t.endedAt < 0 ? end : t.endedAt;
    t.spansKill = kills.some((k) => t.startedAt <= (k.until < 0 ? end : k.until) && tEnd >= k.at);
  }
}

/** ipmpd up and settled, a route through the IPMP interface to the remote net, transfers running. */
async function startUp(r: SoakRun, traffic: Traffic): Promise<void> {
  const { o, setup } = r;
  const ns = hostNs(r.lab.prefix);
  writeConfigFile(r.configFile, setup);
  o.progress(`starting ipmpd (${setup.tun}, ${setup.nics.map((n) => n.name).join(' ')}, FDT ${o.fdtMs} ms)`);
  await r.startDaemon();
  await r.waitState('settled after start', (s) => settled(s, setup), START_SETTLE_MS);
  await run(['ip', '-n', ns, 'route', 'add', REMOTE_NET, 'via', PEER[0], 'dev', setup.tun]);
  await r.baseline();
  r.startSampling();
  await traffic.start();
  o.progress(`${o.slots} transfers running at ${o.rateMbit} Mbit/s each; injecting ${o.faults} faults (seed ${o.seed})`);
}

async function injectAll(r: SoakRun, traffic: Traffic): Promise<void> {
  const { o, rng } = r;
  const plan = schedule(rng, o.faults, o.kinds);
  for (let i = 0; i < plan.length; i++) {
    await r.runFault(i + 1, plan[i]);
    const f = r.faults[r.faults.length - 1];
    o.progress(`fault ${i + 1}/${plan.length} ${f.kind} ${f.nic} ${f.ok ? 'ok' : 'FAILED'} (${f.detail || f.error.slice(0, 80)})`);
    await sleep(rng.int(o.gapMs[0], o.gapMs[1]));
  }
  o.progress(`faults done; waiting for ${traffic.inFlight().length} transfers to finish`);
  await traffic.finish();
}

/** The final instance's fds, sockets, RSS; then SIGTERM and what the stop left behind. */
async function stopAndCheck(r: SoakRun, traffic: Traffic, before: HostState): Promise<LeakCheck[]> {
  const { o, setup } = r;
  const ns = hostNs(r.lab.prefix);
  const leaks: LeakCheck[] = [];
  await r.waitState('settled at the end', (s) => settled(s, setup), r.settleBound());
  r.stopSampling();
  const gaps = (await Promise.all(setup.nics.map(async (n) => { const g = await r.isolationGap(n.name); return g ? `${n.name}: ${g}` : ''; })))
    .filter(Boolean);
  leaks.push({ what: 'isolation at the end', ok: gaps.length === 0, detail: gaps.join('; ') || 'every NIC isolated from the host stack' });
  const end = await stableStats(() => r.d.stats());
  const inst = r.instances[r.instances.length - 1];
  inst.end = end;
  r.sample();
  leaks.push(...compareProc(inst.base, end, o.rssLimitMb));
  await traffic.stop();
  inst.endedAt = r.now();
  const code = await r.d.term();
  leaks.push({ what: 'clean stop', ok: code === 0, detail: code === null ? 'did not exit within 10 s of SIGTERM' : `exit code ${code}` });
  const tunLink = await execIn(ns, ['ip', 'link', 'show', 'dev', setup.tun]).then(() => true, () => false);
  leaks.push(...compareHost(before, await hostState(ns, setup.nics.map((n) => n.name)), tunLink, setup.tun));
  const files = stateFiles(setup.tun);
  leaks.push({ what: 'state file', ok: files.length === 0, detail: files.length ? `left: ${files.join(', ')}` : 'removed' });
  return leaks;
}

async function soakInLab(o: SoakOptions, lab: LabInfo, tun: string): Promise<Omit<SoakResult, 'namespacesLeft'>> {
  const rng = new Rng(o.seed);
  const nics = lab.nics.map((n) => n.name);
  const before = await hostState(hostNs(lab.prefix), nics);
  const r = new SoakRun(o, lab, initialSetup(o, lab, tun), rng);
  const traffic = new Traffic({
    hostNs: hostNs(lab.prefix), peerNs: peerNs(lab.prefix), paths: paths(), slots: o.slots, rate: (o.rateMbit * 1e6) / 8,
    durationSec: o.transferSec, t0: r.t0, lifetimeMs: 6 * 3600_000,
  }, new Rng(rng.u32()));
  const leaks: LeakCheck[] = [];
  const problems: string[] = [];
  try {
    await startUp(r, traffic);
    await injectAll(r, traffic);
    leaks.push(...await stopAndCheck(r, traffic, before));
  } catch (e) {
    problems.push(`soak aborted: ${(e as Error).message}`);
    o.progress(`soak aborted: ${(e as Error).message}\n${r.log.tail(30)}`);
  } finally {
    r.stopSampling();
    await traffic.stop().catch(() => undefined);
    await r.d?.kill9().catch(() => undefined);
    for (const n of nics) await labRepair(lab.prefix, n).catch(() => undefined);
    rmSync(r.dir, { recursive: true, force: true });
    if (o.logFile) writeFileSync(o.logFile, r.log.all());
  }
  markKillSpans(traffic.records, r.kills, r.now());
  return {
    seed: o.seed, options: o, seconds: r.now() / 1000, tun, faults: r.faults, transfers: traffic.records,
    orphanReceives: traffic.orphanRecv.length, kills: r.kills, crashes: r.crashes, instances: r.instances,
    leaks, problems, logTail: r.log.tail(60),
  };
}

/** Runs the whole soak; the lab is always removed. */
export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const tun = `isk${process.pid % 100000}`;
  const part = await withLab({ prefix: o.prefix, nics: o.nics }, (lab) => soakInLab(o, lab, tun));
  const left = labNamespaces(o.prefix);
  const result: SoakResult = { ...part, namespacesLeft: left };
  result.leaks.push({ what: 'namespaces', ok: left.length === 0, detail: left.length ? `left: ${left.join(', ')}` : 'none left' });
  return summarize(result);
}

