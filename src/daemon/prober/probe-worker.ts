/**
 * The probe worker: one thread per group that runs every member's probe engines (IPv4 and
 * IPv6 instances), so a busy or stalled main thread never delays a probe or a reply's
 * timestamp.
 *
 *   main → worker   nics, routes (gateways via the IPMP interface, per family), link up/down,
 *                   controller state (failed and offline NICs, group failed), stats, stop
 *   worker → main   facts: failure (with every member's last success per family), repair,
 *                   resolved probes, target rows per family, the group FDT, log lines; and a
 *                   heartbeat (`alive`) the main thread's watchdog listens for
 *
 * The two instances of a NIC are each other's peer: a NIC fails only when every
 * probe-capable family has lost 5 in a row (reference §4.5), and either family's repair
 * repairs it. An offline NIC is not probed (§12); probing restarts on undo-offline.
 *
 * An IPv6 test address is used only after duplicate address detection (NicProbe6.startDad)
 * passed; a replacement worker skips it for families that had probes acked. A duplicate is
 * logged and that family does not probe on the NIC.
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
import { RecvClock, type Level, type NicProbeEnv } from './nic-probe.js';
import { ProbeMembers, type Instance, type Member } from './members.js';
import { heapReport } from '../../util/heap-report.js';
import { nameThread } from '../../util/thread-name.js';
import { NicProbe6 } from './nic-probe6.js';
import type {
  Family, FromWorker, NicFailState, ProbeWorkerData, ProbeWorkerHook, ProberFact, ProberNic, ToWorker,
} from './messages.js';

const HEARTBEAT_MS = 50;
/** How often the worker tells the main thread it is alive. */
export const ALIVE_MS = 200;
/** How often a probe socket that could not be opened is tried again. */
const OPEN_RETRY_NS = 1e9;
/** A gap between loop turns longer than this is a stall (well above the heartbeat). */
const STALL_NS = 150e6;
/** Duplicate address detection window of an IPv6 test address (RFC 4861 RetransTimer). */
export const TEST_DAD_MS = 1000;

function levelOf(syslog: number): Level {
  return syslog <= 3 ? 'err' : syslog <= 6 ? 'info' : 'debug';
}

export class ProbeWorker {
  readonly fdt: GroupFdt;
  private readonly members = new ProbeMembers();
  private gateways: Record<Family, string[]> = { 4: [], 6: [] };
  private groupFailed = false;
  private readonly offline = new Set<number>();
  /** NICs the controller holds failed (their engines look for repair, not failure). */
  private readonly failed = new Set<number>();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private heartbeat: NodeJS.Timeout | null = null;
  private lastTurnNs: number;
  private lastAliveNs = 0;
  private readonly clock = new RecvClock();
  private readonly lag = monitorEventLoopDelay({ resolution: 10 });
  private stalls = 0;
  private maxStallMs = 0;
  private lastFdtMs: number;
  private readonly rows = new Map<string, string>();
  private stopped = false;
  private nicList: ProberNic[] = [];
  /** `slot/family` of instances whose socket could not be opened. */
  private readonly openFailed = new Set<string>();
  private retryOpenAtNs = Infinity;
  private readonly env: NicProbeEnv;

  constructor(
    private readonly native: NativeAddon,
    private readonly cfg: ProbeWorkerData,
    private readonly post: (m: FromWorker) => void,
  ) {
    this.fdt = new GroupFdt(cfg.fdtMs, cfg.group);
    this.lastFdtMs = this.fdt.fdtMs;
    this.lastTurnNs = this.now();
    this.env = {
      native, group: this.fdt, pid: cfg.pid, log: (l, t) => this.log(l, t),
      isOwnMac: (b, off) => this.members.isOwnMac(b, off),
      isOwnAddress: (family, a) => this.members.isOwnAddress(family, a),
    };
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
    this.members.closeAll();
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
      case 'nics': this.setNics(m.nics); this.crashLoopHook(); break;
      case 'routes': this.gateways = { 4: m.gateways, 6: m.gateways6 }; this.refreshTargets(); break;
      case 'link': this.linkChanged(m.slot, m.up); break;
      case 'state': this.setState(m.nics, m.groupFailed); break;
      case 'stats': this.post({ op: 'stats', id: m.id, stats: this.stats(m.gc === true) }); return;
      case 'hook': this.runHook(m.hook); return;
      case 'stop': this.stop(); this.post({ op: 'stopped' }); return;
    }
    this.turn();
  }

  /** Test hooks (only when the daemon runs with IPMPD_TEST_HOOKS=1). */
  private runHook(h: ProbeWorkerHook): void {
    if (!this.cfg.testHooks) return;
    if (h.hook === 'crash') {
      setImmediate(() => { throw new Error('probe worker test hook: crash'); });
      return;
    }
    const until = Date.now() + h.ms;
    while (Date.now() < until) { /* the loop does not run: a stuck worker */ }
  }

  /** Test hook probe-worker-crash-loop: this worker dies once its sockets are open and reported. */
  private crashLoopHook(): void {
    if (this.cfg.testHooks && this.cfg.crashLoop) setImmediate(() => { throw new Error('probe worker test hook: crash loop'); });
  }

  private setNics(list: ProberNic[]): void {
    const now = this.now();
    this.nicList = list;
    const want = new Set(list.flatMap((n) => [...(n.testAddress ? [`${n.slot}/4`] : []), ...(n.testAddress6 ? [`${n.slot}/6`] : [])]));
    for (const k of this.openFailed) if (!want.has(k)) this.openFailed.delete(k);
    for (const k of this.members.update(list, this.env, now, (np) => this.open(np, now))) this.rows.delete(k);
    for (const n of list) {
      const m = this.members.get(n.slot);
      if (!m) continue;
      // A NIC made again (new ifindex or MAC) keeps the controller's view of it.
      for (const np of [m.v4, m.v6]) np?.engine.setFailed(this.failed.has(n.slot));
      if (this.offline.has(n.slot)) this.setProbing(m, false, now);
    }
    this.post({ op: 'sockets', fds: this.members.fds() });
    this.refreshTargets();
  }

  /**
   * Opens an instance's socket. One that cannot be opened (e.g. the NIC is still down after
   * being re-created) is tried again every OPEN_RETRY_NS and when its link comes up; the
   * error is logged once until it opens.
   */
  private open<T extends Instance>(np: T, now: number): T | null {
    const key = `${np.slot}/${np.family}`;
    const what = `probe socket on ${np.name} (${np.family === 4 ? 'inet' : 'inet6'})`;
    try {
      np.open(() => this.turn());
      if (this.openFailed.delete(key)) this.log('info', `${what} is open`);
      const dadMs = this.cfg.testDadMs ?? TEST_DAD_MS;
      // A family that had probes acked (a replacement worker) used its address already.
      if (np instanceof NicProbe6 && dadMs > 0 && !np.nic.quietOver?.includes(6)) np.startDad(now, dadMs * 1e6);
      return np;
    } catch (e) {
      np.close();
      if (!this.openFailed.has(key)) this.log('err', `${what}: ${(e as Error).message}; trying again`);
      this.openFailed.add(key);
      this.retryOpenAtNs = now + OPEN_RETRY_NS;
      return null;
    }
  }

  /** Tries the instances that could not be opened again. */
  private retryOpen(): void {
    this.retryOpenAtNs = Infinity;
    if (this.openFailed.size > 0) this.setNics(this.nicList);
  }

  private linkChanged(slot: number, up: boolean): void {
    if (up && (this.openFailed.has(`${slot}/4`) || this.openFailed.has(`${slot}/6`))) this.retryOpen();
    const m = this.members.get(slot);
    if (!m) return;
    const now = this.now();
    for (const np of [m.v4, m.v6]) {
      if (!np) continue;
      if (up) np.engine.onLinkUp(now);
      else np.engine.onLinkDown(now);
      if (up) np.resolveTargets(now);
    }
  }

  /** Offline stops probing on a NIC (reference §12); undo-offline starts it again. */
  private setProbing(m: Member, on: boolean, now: number): void {
    for (const np of [m.v4, m.v6]) np?.engine.setEnabled(on && np.usable(), now);
  }

  /** Ends the due DAD windows of test addresses: probing starts, or the duplicate is logged. True when one ended. */
  private finishDad(now: number): boolean {
    let ended = false;
    for (const np of this.members.instances()) {
      if (!np.finishDad(now) || !(np instanceof NicProbe6)) continue;
      ended = true;
      const duplicate = np.dad === 'duplicate';
      if (duplicate) {
        this.log('err', `duplicate test address ${np.ipText} on ${np.name} (node ${np.dupMac}); not probing with it`);
      } else {
        this.log('debug', `${np.name}: test address ${np.ipText} passed duplicate address detection`);
        np.engine.setEnabled(!this.offline.has(np.slot), now);
      }
      this.fact({ kind: 'dad6', slot: np.slot, name: np.name, address: np.ipText, duplicate, node: np.dupMac });
    }
    return ended;
  }

  private setState(states: NicFailState[], groupFailed: boolean): void {
    if (groupFailed && !this.groupFailed) {
      for (const np of this.members.instances()) np.targets.flushHosts();
    }
    this.groupFailed = groupFailed;
    const now = this.now();
    for (const np of this.members.instances()) np.engine.groupFailed = groupFailed;
    for (const s of states) {
      if (s.offline) this.offline.add(s.slot); else this.offline.delete(s.slot);
      if (s.failed) this.failed.add(s.slot); else this.failed.delete(s.slot);
      const m = this.members.get(s.slot);
      if (!m) continue;
      for (const np of [m.v4, m.v6]) np?.engine.setFailed(s.failed);
      this.setProbing(m, !s.offline, now);
    }
    this.refreshTargets();
  }

  /** Router or pinned targets on every instance; instances without targets copy others' hosts. */
  private refreshTargets(): void {
    const now = this.now();
    const pinned = this.cfg.targets;
    for (const np of this.members.instances()) {
      const routes = pinned ? [] : this.gateways[np.family].map((gateway) => ({ gateway, oifIsIpmp: true }));
      np.targets.refreshRouters(routes, pinned ?? [], this.groupFailed, now);
    }
    this.shareHosts(now);
    this.afterTargets(now);
  }

  private shareHosts(now: number): void {
    for (const np of this.members.instances()) {
      if (np.targets.list.length > 0) continue;
      for (const other of this.members.instances()) {
        if (other !== np && other.family === np.family) np.targets.copyHostsFrom(other.targets, now);
      }
    }
  }

  /** Resolves new targets, clears stats of instances left without any, reports changed rows. */
  private afterTargets(now: number): void {
    for (const np of this.members.instances()) {
      if (np.targets.list.length === 0 && np.engine.ring.snxt !== 1) np.engine.clearStats();
      np.resolveTargets(now);
      const mode = np.targets.mode(np.probing);
      const active = np.targets.active.map((t) => t.address);
      const key = `${mode}|${[...active].sort().join(',')}`;
      const rowKey = `${np.slot}/${np.family}`;
      if (this.rows.get(rowKey) === key) continue;
      this.rows.set(rowKey, key);
      this.fact({
        kind: 'targets', slot: np.slot, family: np.family, hasTargets: np.targets.list.length > 0, mode,
        testaddr: np.ipText, targets: np.probing ? np.targets.firingOrder() : [],
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
      for (const np of this.members.instances()) np.engine.onStall(this.lastTurnNs + HEARTBEAT_MS * 1e6, now);
    }
    if (now - this.lastAliveNs >= ALIVE_MS * 1e6) {
      this.lastAliveNs = now;
      this.post({ op: 'alive' });
    }
    if (now >= this.retryOpenAtNs) this.retryOpen();
    const out: Array<[Instance, ProbeAction[]]> = [];
    for (const np of this.members.instances()) {
      const acts: ProbeAction[] = [];
      np.drain(() => this.now(), this.clock, acts);
      if (acts.length > 0) out.push([np, acts]);
    }
    now = this.now();
    const dadEnded = this.finishDad(now);
    for (const np of this.members.instances()) {
      if (np.engine.nextDeadline() > now) continue;
      const acts = np.engine.tick(now);
      if (acts.length > 0) out.push([np, acts]);
    }
    let targetsMoved = false;
    for (const [np, acts] of out) if (this.handle(np, acts, now)) targetsMoved = true;
    if (targetsMoved || out.length > 0 || dadEnded) this.afterTargets(now);
    this.lastTurnNs = this.now();
    this.arm();
  }

  /** Acts on one engine's actions; true when a target list may have changed. */
  private handle(np: Instance, acts: ProbeAction[], now: number): boolean {
    let moved = false;
    for (const a of acts) {
      switch (a.kind) {
        case SEND: np.send(a, now); break;
        case FAILURE_DETECTED: this.fact({ kind: 'failure', slot: np.slot, family: np.family, facts: this.members.factsFor(np.slot) }); break;
        case REPAIR_DETECTED: this.fact({ kind: 'repair', slot: np.slot, family: np.family }); break;
        case TARGET_DEAD: moved = true; break;
        case HOST_DISCOVERED:
          for (const other of this.members.instances()) {
            if (other !== np && other.family === np.family) other.targets.addHost(a.address, now);
          }
          moved = true;
          break;
        case PROBE_RESOLVED: this.fact({ kind: 'probe', event: this.probeEvent(np, a.event, now) }); break;
        case LOG: this.log(levelOf(a.level), a.text); break;
      }
    }
    return moved;
  }

  private probeEvent(np: Instance, e: { seq: number; target: string; acked: boolean; startNs: number;
    netrttNs: number | null; rttNs: number | null; rttavgNs: number; rttdevNs: number }, now: number) {
    // Kernel and monotonic clocks are aligned within microseconds: a hair below zero is zero.
    const ms = (ns: number | null): number | null => (ns === null ? null : Math.max(0, ns) / 1e6);
    return {
      id: e.seq, interface: np.name, family: np.family, target: e.target, state: e.acked ? 'acked' as const : 'lost' as const,
      startMs: this.clock.wallMs() - (now - e.startNs) / 1e6, netrttMs: ms(e.netrttNs), rttMs: ms(e.rttNs),
      rttavgMs: Math.max(0, e.rttavgNs) / 1e6, rttdevMs: Math.max(0, e.rttdevNs) / 1e6,
    };
  }

  private arm(): void {
    let at = Infinity;
    for (const np of this.members.instances()) at = Math.min(at, np.engine.nextDeadline());
    // The heartbeat turns the loop at least every HEARTBEAT_MS anyway.
    if (at === this.timerAt && this.timer) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = at;
    if (at === Infinity) return;
    const ms = Math.max(0, Math.ceil((at - this.now()) / 1e6));
    this.timer = setTimeout(() => { this.timer = null; this.turn(); }, ms);
  }

  /** `gc`: with test hooks on, a full garbage collection before the heap is read (`memory-gc`). */
  stats(gc = false): object {
    return {
      group: this.cfg.group, fdtMs: this.fdt.fdtMs, probeIntMs: this.fdt.probeIntMs, groupFailed: this.groupFailed,
      loop: {
        stalls: this.stalls, maxStallMs: this.maxStallMs,
        delayMaxMs: this.lag.max / 1e6, delayMeanMs: Number.isNaN(this.lag.mean) ? 0 : this.lag.mean / 1e6,
      },
      nics: [...this.members.instances()].map((np) => np.stats()),
      // The `memory` test hook reads this thread's heap from here.
      ...(this.cfg.testHooks ? { heap: heapReport(gc) } : {}),
    };
  }
}

function main(): void {
  const port = parentPort;
  if (!port) return;
  nameThread('ipmp-probe');
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
