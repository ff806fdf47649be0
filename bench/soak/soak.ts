// The fault soak: a lab, ipmpd in its host namespace, long TCP transfers through the IPMP
// interface both ways, and a seeded series of faults (faults.ts), each checked against the
// daemon's snapshot. At the end the daemon stops with SIGTERM and the soak checks what is
// left behind (leaks.ts). Everything it creates goes with the lab, also on failure.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execIn, hostNs, labRepair, peerNs } from '../../src/lab/lab.js';
import { run } from '../../src/lab/exec.js';
import { withLab } from '../../src/lab/fixture.js';
import { labNamespaces } from '../../src/lab/state.js';
import type { LabInfo } from '../../src/lab/topology.js';
import type { Snapshot } from '../../src/daemon/protocol.js';
import { DaemonLog, Ipmpd, writeConfigFile, type GroupSetup, type ProcStats } from './daemon.js';
import { ALL_DOWN, inject, KINDS, schedule, type FaultCtx, type Kind } from './faults.js';
import { compareHost, compareProc, hookedDevices, hostState, stableStats, stateFiles, type LeakCheck } from './leaks.js';
import { Rng } from './prng.js';
import { describe, settled } from './states.js';
import { Traffic, type Path, type TransferRecord } from './traffic.js';
import { summarize, type SoakResult, type FaultRecord, type CrashRecord, type KillWindow, type InstanceRecord } from './report.js';

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
  /** Add the deliberate all-NICs-down fault to the mix. */
  allDown: boolean;
  progress: (msg: string) => void;
}

const DATA = ['198.18.0.10/24', '198.18.0.11/24', '2001:db8::10/64'];
const EXTRA = '198.18.0.12/24';
const PEER = ['198.18.0.1', '2001:db8::1'];
const REMOTE_NET = '198.19.0.0/24';
const REMOTE = '198.19.0.1';
/** Time allowed for the group to settle after start (ms). */
const START_SETTLE_MS = 30_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class DaemonDied extends Error {}

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

/** The running soak: the current daemon instance and the bookkeeping the report needs. */
class Run {
  readonly t0 = Date.now();
  readonly log = new DaemonLog();
  readonly faults: FaultRecord[] = [];
  readonly crashes: CrashRecord[] = [];
  readonly kills: KillWindow[] = [];
  readonly instances: InstanceRecord[] = [];
  d!: Ipmpd;
  readonly dir = mkdtempSync(join(tmpdir(), 'ipmp-soak-'));
  readonly configFile = join(this.dir, 'ipmp.yaml');
  readonly socket = join(this.dir, 'ipmpd.sock');
  last: Snapshot | null = null;

  constructor(readonly o: SoakOptions, readonly lab: LabInfo, readonly setup: GroupSetup, readonly rng: Rng) {}

  now(): number { return Date.now() - this.t0; }

  async startDaemon(): Promise<void> {
    const n = this.instances.length + 1;
    const prev = this.instances[this.instances.length - 1];
    if (prev && prev.endedAt < 0) prev.endedAt = this.now();
    this.d = await Ipmpd.start(hostNs(this.lab.prefix), this.configFile, this.socket, this.log, n);
    this.instances.push({ n, pid: this.d.pid, startedAt: this.now(), endedAt: -1, base: null, end: null, peakRssKb: 0, lastRssKb: 0 });
  }

  /** Records the current instance's fds, sockets, RSS once they are stable (after settling). */
  async baseline(): Promise<void> {
    const inst = this.instances[this.instances.length - 1];
    inst.base = await stableStats(() => this.d.stats());
    this.sample();
  }

  sample(): ProcStats | null {
    const st = this.d.stats();
    const inst = this.instances[this.instances.length - 1];
    if (st && inst) {
      inst.peakRssKb = Math.max(inst.peakRssKb, st.rssKb);
      inst.lastRssKb = st.rssKb;
    }
    return st;
  }

  async waitState(what: string, pred: (s: Snapshot) => string, timeoutMs: number): Promise<number> {
    const t = Date.now();
    let why = 'no snapshot yet';
    for (;;) {
      if (!this.d.alive()) throw new DaemonDied(`ipmpd exited (${this.d.exitDescription()}) while waiting for ${what}`);
      try {
        this.last = await this.d.snapshot();
        why = pred(this.last);
        if (!why) return Date.now() - t;
      } catch (e) {
        why = `snapshot: ${(e as Error).message}`;
      }
      if (Date.now() - t > timeoutMs) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${why} [${describe(this.last, this.setup)}]`);
      }
      await sleep(100);
    }
  }

  settleBound(): number { return this.o.fdtMs * 4 + 15_000; }

  async killAndRestart(): Promise<{ downMs: number; settleMs: number }> {
    const win: KillWindow = { at: this.now(), until: -1 };
    this.kills.push(win);
    const t = Date.now();
    this.log.mark('SIGKILL');
    await this.d.kill9();
    await sleep(this.rng.int(0, 1000));
    await this.startDaemon();
    const downMs = Date.now() - t;
    const settleMs = await this.waitState('settled after restart', (s) => settled(s, this.setup), this.settleBound());
    win.until = this.now();
    await this.baseline();
    return { downMs, settleMs };
  }

  ctx(): FaultCtx {
    const fdt = this.o.fdtMs;
    return {
      lab: this.lab, setup: this.setup, rng: this.rng, holdMs: this.o.holdMs, extraAddress: EXTRA,
      daemon: () => this.d,
      waitState: (w, p, ms) => this.waitState(w, p, ms),
      detectBoundMs: (k: Kind) => (k === 'silent' ? fdt * 3 + 10_000 : 10_000),
      settleBoundMs: () => this.settleBound(),
      writeConfig: () => writeConfigFile(this.configFile, this.setup),
      killAndRestart: () => this.killAndRestart(),
      isolationGap: (nic) => this.isolationGap(nic),
      pingFromPeer: async (addr) => {
        try {
          await execIn(peerNs(this.lab.prefix), ['ping', '-n', '-q', '-c', '3', '-i', '0.2', '-W', '2', addr], { timeoutMs: 15_000 });
          return true;
        } catch {
          return false;
        }
      },
    };
  }

  /** '' when the host stack is kept off `nic`: disable_ipv6 set, and the nft ingress chain hooks it. */
  async isolationGap(nic: string): Promise<string> {
    const ns = hostNs(this.lab.prefix);
    const gaps: string[] = [];
    const v = (await execIn(ns, ['cat', `/proc/sys/net/ipv6/conf/${nic}/disable_ipv6`])).stdout.trim();
    if (v !== '1') gaps.push(`disable_ipv6 is ${v}, not 1`);
    const table = `ipmp_${this.setup.tun}`;
    const text = (await execIn(ns, ['nft', 'list', 'table', 'netdev', table])).stdout;
    const devices = hookedDevices(text);
    if (!devices.includes(nic)) gaps.push(`nft table ${table} does not hook ${nic} (devices: ${devices.join(' ') || 'none'})`);
    return gaps.join('; ');
  }

  /**
   * After a fault that went wrong: the daemon running, every NIC back and in service, the
   * group settled. When it does not settle, the daemon is restarted (recorded as a
   * recovery restart, a kill window for the transfers); when that does not help either,
   * the soak stops.
   */
  async recover(rec: FaultRecord): Promise<void> {
    const crashed = !this.d.alive();
    if (crashed) {
      this.crashes.push({ at: this.now(), exit: this.d.exitDescription(), log: this.log.tail(40) });
      this.o.progress(`ipmpd died (${this.d.exitDescription()}); restarting`);
      const win: KillWindow = { at: this.now(), until: -1 };
      this.kills.push(win);
      await this.startDaemon();
      win.until = this.now();
    }
    if (!rec.undone) {
      for (const n of this.lab.nics) {
        await labRepair(this.lab.prefix, n.name);
        const s = this.last?.interfaces.find((i) => i.name === n.name);
        if (s?.state === 'offline') await this.d.request({ op: 'undo-offline', ifname: n.name }).catch(() => undefined);
      }
    }
    if (crashed || !rec.undone) {
      try {
        await this.waitState('settled after recovery', (s) => settled(s, this.setup), this.settleBound());
        return;
      } catch (e) {
        this.o.progress(`not settled after undoing the fault (${(e as Error).message})`);
      }
    }
    this.o.progress('restarting ipmpd to bring the group back');
    rec.recoveredByRestart = true;
    await this.killAndRestart();
  }

  async runFault(n: number, kind: Kind): Promise<void> {
    const rec: FaultRecord = {
      n, kind, nic: '', detail: '', at: this.now(), detectMs: null, holdMs: 0, settleMs: null, ok: false, error: '', log: '', recoveredByRestart: false, undone: false,
    };
    this.faults.push(rec);
    const from = this.log.length();
    this.log.mark(`fault ${n} ${kind}`);
    try {
      await this.waitState('settled before the fault', (s) => settled(s, this.setup), this.settleBound());
      this.sample();
      const out = await inject(this.ctx(), kind, rec);
      Object.assign(rec, out, { ok: true });
    } catch (e) {
      rec.error = (e as Error).message;
      rec.log = this.log.tail(25, from);
      this.o.progress(`fault ${n} (${kind}) FAILED: ${rec.error}`);
      await this.recover(rec);
    }
  }
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

async function soakInLab(o: SoakOptions, lab: LabInfo, tun: string): Promise<Omit<SoakResult, 'namespacesLeft'>> {
  const rng = new Rng(o.seed);
  const nics = lab.nics.map((n) => n.name);
  const ns = hostNs(lab.prefix);
  const before = await hostState(ns, nics);
  const r = new Run(o, lab, initialSetup(o, lab, tun), rng);
  const leaks: LeakCheck[] = [];
  const problems: string[] = [];
  let traffic: Traffic | null = null;
  try {
    writeConfigFile(r.configFile, r.setup);
    o.progress(`starting ipmpd (${tun}, ${nics.join(' ')}, FDT ${o.fdtMs} ms)`);
    await r.startDaemon();
    await r.waitState('settled after start', (s) => settled(s, r.setup), START_SETTLE_MS);
    await run(['ip', '-n', ns, 'route', 'add', REMOTE_NET, 'via', PEER[0], 'dev', tun]);
    await r.baseline();
    traffic = new Traffic({
      hostNs: ns, peerNs: peerNs(lab.prefix), paths: paths(), slots: o.slots, rate: (o.rateMbit * 1e6) / 8,
      durationSec: o.transferSec, t0: r.t0, lifetimeMs: 6 * 3600_000,
    }, new Rng(rng.u32()));
    await traffic.start();
    o.progress(`${o.slots} transfers running at ${o.rateMbit} Mbit/s each; injecting ${o.faults} faults (seed ${o.seed})`);
    const plan = schedule(rng, o.faults, o.allDown ? [...KINDS, ALL_DOWN] : KINDS);
    for (let i = 0; i < plan.length; i++) {
      await r.runFault(i + 1, plan[i]);
      const f = r.faults[r.faults.length - 1];
      o.progress(`fault ${i + 1}/${plan.length} ${f.kind} ${f.nic} ${f.ok ? 'ok' : 'FAILED'} (${f.detail || f.error.slice(0, 80)})`);
      await sleep(rng.int(o.gapMs[0], o.gapMs[1]));
    }
    o.progress(`faults done; waiting for ${traffic.inFlight().length} transfers to finish`);
    await traffic.finish();
    await r.waitState('settled at the end', (s) => settled(s, r.setup), r.settleBound());
    const end = await stableStats(() => r.d.stats());
    const inst = r.instances[r.instances.length - 1];
    inst.end = end;
    r.sample();
    leaks.push(...compareProc(inst.base, end, o.rssLimitMb));
    await traffic.stop();
    inst.endedAt = r.now();
    const code = await r.d.term();
    leaks.push({ what: 'clean stop', ok: code === 0, detail: code === null ? 'did not exit within 10 s of SIGTERM' : `exit code ${code}` });
    const tunLink = await execIn(ns, ['ip', 'link', 'show', 'dev', tun]).then(() => true, () => false);
    leaks.push(...compareHost(before, await hostState(ns, nics), tunLink, tun));
    const files = stateFiles(tun);
    leaks.push({ what: 'state file', ok: files.length === 0, detail: files.length ? `left: ${files.join(', ')}` : 'removed' });
  } catch (e) {
    problems.push(`soak aborted: ${(e as Error).message}`);
    o.progress(`soak aborted: ${(e as Error).message}\n${r.log.tail(30)}`);
  } finally {
    await traffic?.stop().catch(() => undefined);
    await r.d?.kill9().catch(() => undefined);
    for (const n of nics) await labRepair(lab.prefix, n).catch(() => undefined);
    rmSync(r.dir, { recursive: true, force: true });
  }
  const transfers = traffic?.records ?? [];
  markKillSpans(transfers, r.kills, r.now());
  return {
    seed: o.seed, options: o, seconds: r.now() / 1000, tun, faults: r.faults, transfers,
    orphanReceives: traffic?.orphanRecv.length ?? 0, kills: r.kills, crashes: r.crashes, instances: r.instances,
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

