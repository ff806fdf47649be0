/**
 * The probe worker: one thread per group that runs every member's IPv4 probe engine, so a
 * busy or stalled main thread never delays a probe or a reply's timestamp.
 *
 *   main → worker   nics, routes (gateways via the IPMP interface), link up/down,
 *                   controller state (failed NICs, group failed), stats, stop
 *   worker → main   facts: failure (with every member's last success), repair, resolved
 *                   probes, target rows, the group FDT, log lines
 *
 * One timer, armed for the earliest engine deadline. Every turn first drains the sockets,
 * so a reply already queued always counts before its probe can time out. A heartbeat
 * measures how long this thread's loop did not run; such a stall is handed to the engines
 * so probes do not count as lost for time the worker could not observe.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadNative, type NativeAddon } from '../../io/native.js';
import {
  FAILURE_DETECTED, HOST_DISCOVERED, LOG, PROBE_RESOLVED, REPAIR_DETECTED, SEND, TARGET_DEAD, type ProbeAction,
} from '../../control/detectors/probe-defs.js';
import { GroupFdt } from '../../control/fdt.js';
import type { FamilyTimes } from '../../control/failure-decision.js';
import { NicProbe, RecvClock } from './nic-probe.js';
import type { FromWorker, NicFailState, ProbeWorkerData, ProberFact, ProberNic, ToWorker } from './messages.js';

const HEARTBEAT_MS = 50;
/** A gap between loop turns longer than this is a stall (well above the heartbeat). */
const STALL_NS = 150e6;

type Level = 'err' | 'info' | 'debug';

function levelOf(syslog: number): Level {
  return syslog <= 3 ? 'err' : syslog <= 6 ? 'info' : 'debug';
}

export class ProbeWorker {
  readonly fdt: GroupFdt;
  private readonly nics = new Map<number, NicProbe>();
  private gateways: string[] = [];
  private groupFailed = false;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private heartbeat: NodeJS.Timeout | null = null;
  private lastTurnNs: number;
  private readonly clock = new RecvClock();
  private readonly lag = monitorEventLoopDelay({ resolution: 10 });
  private stalls = 0;
  private maxStallMs = 0;
  private lastFdtMs: number;
  private readonly rows = new Map<number, string>();
  private stopped = false;

  constructor(
    private readonly native: NativeAddon,
    private readonly cfg: ProbeWorkerData,
    private readonly post: (m: FromWorker) => void,
  ) {
    this.fdt = new GroupFdt(cfg.fdtMs, cfg.group);
    this.lastFdtMs = this.fdt.fdtMs;
    this.lastTurnNs = this.now();
  }

  now(): number {
    return Number(this.native.monotonicNs());
  }

  start(): void {
    this.lag.enable();
    this.heartbeat = setInterval(() => this.turn(), HEARTBEAT_MS);
    this.post({ op: 'fact', fact: { kind: 'fdt', fdtMs: this.fdt.fdtMs } });
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.lag.disable();
    for (const np of this.nics.values()) np.close();
    this.nics.clear();
  }

  private fact(f: ProberFact): void {
    this.post({ op: 'fact', fact: f });
  }

  private log(level: Level, text: string): void {
    this.fact({ kind: 'log', level, text });
  }

  onMessage(m: ToWorker): void {
    if (this.stopped) return;
    switch (m.op) {
      case 'nics': this.setNics(m.nics); break;
      case 'routes': this.gateways = m.gateways; this.refreshTargets(); break;
      case 'link': this.linkChanged(m.slot, m.up); break;
      case 'state': this.setState(m.nics, m.groupFailed); break;
      case 'stats': this.post({ op: 'stats', id: m.id, stats: this.stats() }); return;
      case 'stop': this.stop(); this.post({ op: 'stopped' }); return;
    }
    this.turn();
  }

  private setNics(list: ProberNic[]): void {
    const now = this.now();
    const want = new Map(list.map((n) => [n.slot, n]));
    for (const [slot, np] of this.nics) {
      const n = want.get(slot);
      if (n && np.sameAs(n)) continue;
      np.close();
      this.nics.delete(slot);
      this.rows.delete(slot);
    }
    for (const n of list) {
      if (this.nics.has(n.slot)) continue;
      const np = new NicProbe(this.native, n, this.fdt, this.cfg.pid, now, (l, t) => this.log(l, t));
      try {
        np.open(() => this.turn());
      } catch (e) {
        np.close();
        this.log('err', `probe socket on ${n.name}: ${(e as Error).message}`);
        continue;
      }
      this.nics.set(n.slot, np);
    }
    this.refreshTargets();
  }

  private linkChanged(slot: number, up: boolean): void {
    const np = this.nics.get(slot);
    if (!np) return;
    const now = this.now();
    if (up) np.engine.onLinkUp(now);
    else np.engine.onLinkDown(now);
    if (up) np.resolveTargets(now);
  }

  private setState(states: NicFailState[], groupFailed: boolean): void {
    if (groupFailed && !this.groupFailed) {
      for (const np of this.nics.values()) np.targets.flushHosts();
    }
    this.groupFailed = groupFailed;
    for (const np of this.nics.values()) np.engine.groupFailed = groupFailed;
    for (const s of states) this.nics.get(s.slot)?.engine.setFailed(s.failed);
    this.refreshTargets();
  }

  /** Router or pinned targets on every member; members without targets copy others' hosts. */
  private refreshTargets(): void {
    const now = this.now();
    const pinned = this.cfg.targets;
    const routes = pinned ? [] : this.gateways.map((gateway) => ({ gateway, oifIsIpmp: true }));
    for (const np of this.nics.values()) np.targets.refreshRouters(routes, pinned ?? [], this.groupFailed, now);
    this.shareHosts(now);
    this.afterTargets(now);
  }

  private shareHosts(now: number): void {
    for (const np of this.nics.values()) {
      if (np.targets.list.length > 0) continue;
      for (const other of this.nics.values()) if (other !== np) np.targets.copyHostsFrom(other.targets, now);
    }
  }

  /** Resolves new targets, clears stats of members left without any, reports changed rows. */
  private afterTargets(now: number): void {
    for (const np of this.nics.values()) {
      if (np.targets.list.length === 0 && np.engine.ring.snxt !== 1) np.engine.clearStats();
      np.resolveTargets(now);
      const mode = np.targets.mode(true);
      const active = np.targets.active.map((t) => t.address);
      const key = `${mode}|${[...active].sort().join(',')}`;
      if (this.rows.get(np.slot) === key) continue;
      this.rows.set(np.slot, key);
      this.fact({
        kind: 'targets', slot: np.slot, hasTargets: np.targets.list.length > 0, mode,
        testaddr: np.ipText, targets: np.targets.firingOrder(),
      });
    }
    if (this.fdt.fdtMs !== this.lastFdtMs) {
      this.lastFdtMs = this.fdt.fdtMs;
      this.fact({ kind: 'fdt', fdtMs: this.fdt.fdtMs });
    }
  }

  /** One loop turn: stall check, drain, due engine ticks, actions, re-arm the timer. */
  private turn(): void {
    if (this.stopped) return;
    let now = this.now();
    const gap = now - this.lastTurnNs;
    if (gap > STALL_NS) {
      this.stalls++;
      this.maxStallMs = Math.max(this.maxStallMs, gap / 1e6);
      for (const np of this.nics.values()) np.engine.onStall(this.lastTurnNs + HEARTBEAT_MS * 1e6, now);
    }
    const out: Array<[NicProbe, ProbeAction[]]> = [];
    for (const np of this.nics.values()) {
      const acts: ProbeAction[] = [];
      np.drain(() => this.now(), this.clock, acts);
      if (acts.length > 0) out.push([np, acts]);
    }
    now = this.now();
    for (const np of this.nics.values()) {
      if (np.engine.nextDeadline() > now) continue;
      const acts = np.engine.tick(now);
      if (acts.length > 0) out.push([np, acts]);
    }
    let targetsMoved = false;
    for (const [np, acts] of out) if (this.handle(np, acts, now)) targetsMoved = true;
    if (targetsMoved || out.length > 0) this.afterTargets(now);
    this.lastTurnNs = this.now();
    this.arm();
  }

  /** Acts on one engine's actions; true when a target list may have changed. */
  private handle(np: NicProbe, acts: ProbeAction[], now: number): boolean {
    let moved = false;
    for (const a of acts) {
      switch (a.kind) {
        case SEND: np.send(a, now); break;
        case FAILURE_DETECTED: this.fact({ kind: 'failure', slot: np.slot, facts: this.factsFor(np, a.firstFailureNs) }); break;
        case REPAIR_DETECTED: this.fact({ kind: 'repair', slot: np.slot }); break;
        case TARGET_DEAD: moved = true; break;
        case HOST_DISCOVERED:
          for (const other of this.nics.values()) if (other !== np) other.targets.addHost(a.address, now);
          moved = true;
          break;
        case PROBE_RESOLVED: this.fact({ kind: 'probe', event: this.probeEvent(np, a.event, now) }); break;
        case LOG: this.log(levelOf(a.level), a.text); break;
      }
    }
    return moved;
  }

  private factsFor(np: NicProbe, firstFailureNs: number) {
    const lastSuccessNs = new Map<number, FamilyTimes>();
    for (const other of this.nics.values()) {
      if (other !== np && other.engine.lastSuccessNs !== null) lastSuccessNs.set(other.slot, { v4: other.engine.lastSuccessNs, v6: null });
    }
    return { firstFailureNs: { v4: firstFailureNs, v6: null }, lastSuccessNs };
  }

  private probeEvent(np: NicProbe, e: { seq: number; target: string; acked: boolean; startNs: number;
    netrttNs: number | null; rttNs: number | null; rttavgNs: number; rttdevNs: number }, now: number) {
    const ms = (ns: number | null): number | null => (ns === null ? null : ns / 1e6);
    return {
      id: e.seq, interface: np.name, family: 4 as const, target: e.target, state: e.acked ? 'acked' as const : 'lost' as const,
      startMs: this.clock.wallMs() - (now - e.startNs) / 1e6, netrttMs: ms(e.netrttNs), rttMs: ms(e.rttNs),
      rttavgMs: Math.max(0, e.rttavgNs) / 1e6, rttdevMs: Math.max(0, e.rttdevNs) / 1e6,
    };
  }

  private arm(): void {
    let at = Infinity;
    for (const np of this.nics.values()) at = Math.min(at, np.engine.nextDeadline());
    if (at === this.timerAt && this.timer) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = at;
    if (at === Infinity) return;
    const ms = Math.max(0, Math.ceil((at - this.now()) / 1e6));
    this.timer = setTimeout(() => { this.timer = null; this.turn(); }, ms);
  }

  stats(): object {
    return {
      group: this.cfg.group, fdtMs: this.fdt.fdtMs, probeIntMs: this.fdt.probeIntMs, groupFailed: this.groupFailed,
      loop: {
        stalls: this.stalls, maxStallMs: this.maxStallMs,
        delayMaxMs: this.lag.max / 1e6, delayMeanMs: Number.isNaN(this.lag.mean) ? 0 : this.lag.mean / 1e6,
      },
      nics: [...this.nics.values()].map((np) => np.stats()),
    };
  }
}

function main(): void {
  const port = parentPort;
  if (!port) return;
  const w = new ProbeWorker(loadNative(), workerData as ProbeWorkerData, (m) => port.postMessage(m));
  port.on('message', (m: ToWorker) => {
    try {
      w.onMessage(m);
    } catch (e) {
      port.postMessage({ op: 'fact', fact: { kind: 'log', level: 'err', text: `probe worker: ${(e as Error).stack ?? e}` } });
    }
    if (m.op === 'stop') port.close();
  });
  w.start();
  port.postMessage({ op: 'ready' });
}

main();
