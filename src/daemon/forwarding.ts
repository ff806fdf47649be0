/**
 * Starts and stops the forwarding worker(s) and keeps them alive. They share the
 * tables, the neighbour table and their counters with the control plane through
 * SharedArrayBuffers, so a worker that is replaced loses nothing: the new one
 * starts from the same tables, neighbours and counters.
 *
 * By default one worker serves both directions; IPMPD_FORWARDING_THREADS=2 runs
 * one TX and one RX worker instead. A watchdog reads every worker's heartbeat:
 * a worker that exits, or whose heartbeat does not move for STALL_MS (it beats at
 * least every POLL_MS while healthy), is logged and replaced. Forwarding is
 * interrupted for the time of the restart; the NICs' states are not touched, so a
 * stuck worker never causes a failover.
 *
 * Restarts back off (liveness.ts WORKER_RESTARTS): 100 ms doubling to 30 s, starting over
 * after a minute of healthy running, one log line per failure with its reason and attempt.
 * Five failures within a minute, or five in a row without a healthy minute between, are
 * reported as forwarding being down: in that line, in status() (the snapshot's group
 * `forwarding`: `failing`), and in the metrics (ipmp_forwarding_up 0).
 *
 * The RX path's address conflict reports come through a ring (tables/conflicts.ts)
 * polled here and logged with the Solaris text.
 *
 * Test hooks (the control socket's `test-hook` op, only with IPMPD_TEST_HOOKS=1):
 * `forwarding-stall` blocks the first worker's loop, `forwarding-crash` makes it throw,
 * `forwarding-crash-loop` makes every worker started throw until `forwarding-crash-loop-end`.
 * The `memory` hook asks every worker for its heap (heapReports).
 */
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { Counters, X_ARP_REPLIES, X_ARP_REQUESTS, X_DEFENCES, X_REQUESTS_LIMITED, type DropReason } from '../tables/counters.js';
import { ConflictRing, type ConflictReport } from '../tables/conflicts.js';
import { SolicitTable } from '../tables/solicits.js';
import { NeighbourTable } from '../tables/neighbours.js';
import { TablesWriter } from '../tables/shared-tables.js';
import { RestartScheduler, workerStatus } from './liveness.js';
import type { HeapReport } from '../util/heap-report.js';
import type { ForwardingStatus } from './protocol.js';
import {
  HB_BEAT, HB_HOOK, HB_WORDS, HOOK_CRASH, HOOK_HEAP, HOOK_HEAP_GC, HOOK_STALL,
  type ForwardingRole, type ForwardingWorkerData,
} from '../dataplane/worker-protocol.js';

const WORKER_URL = new URL('../dataplane/forwarding-worker.js', import.meta.url);
const STOP_TIMEOUT_MS = 3000;
const START_TIMEOUT_MS = 10_000;
/** A worker whose heartbeat has not moved for this long is stuck. */
export const STALL_MS = 2000;
/** How often the watchdog looks. */
const WATCH_MS = 250;
/** How often the conflict ring is read: its 32 records cover far more than the RX path reports in this time. */
const CONFLICT_POLL_MS = 250;

type Log = (level: 'err' | 'info' | 'debug', text: string) => void;

interface Slot {
  role: ForwardingRole;
  worker: Worker | null;
  /** The worker said it is ready. */
  ready: boolean;
  /** The current worker's last uncaught error, given as the reason when it exits. */
  lastError: string | null;
  beat: Int32Array;
  lastBeat: number;
  lastMove: number;
  restarts: number;
  restart: RestartScheduler;
}

/** Roles from IPMPD_FORWARDING_THREADS: 1 (default) or 2. */
export function forwardingRoles(env: NodeJS.ProcessEnv = process.env): ForwardingRole[] {
  return env.IPMPD_FORWARDING_THREADS === '2' ? ['tx', 'rx'] : ['both'];
}

export interface ForwardingDump {
  /** Drops by reason: in = NICs → ipmp0 (RX), out = ipmp0 → NICs (TX). */
  drops: { in: Record<DropReason, number>; out: Record<DropReason, number> };
  /** ARP replies and solicited NAs sent for data addresses. */
  arpNdReplies: number;
  /** ARP requests and NSs sent to resolve next hops. */
  neighbourRequests: number;
  /** Requests withheld: over the overall request budget. */
  neighbourRequestsLimited: number;
  /** Gratuitous ARPs / unsolicited NAs sent to defend an address against a conflict. */
  conflictDefences: number;
  /** Conflicts logged. */
  conflictsReported: number;
}

export class Forwarding {
  readonly txCounters = new Counters();
  readonly rxCounters = new Counters();
  readonly neighbours = new NeighbourTable();
  readonly conflicts = new ConflictRing();
  /** Neighbour requests of the TX path, read by the RX path: lives as long as the workers' tables. */
  readonly solicits = new SolicitTable();
  /** Conflict reports logged, and reports overwritten in the ring before they were read. */
  readonly conflictStats = { reported: 0, missed: 0 };
  /** Names a NIC slot in conflict log lines. */
  nicName: (slot: number) => string | undefined = () => undefined;
  /** Told of each conflict report as it is read (duplicate address detection listens). */
  onConflict: (r: ConflictReport) => void = () => undefined;
  private conflictTimer: NodeJS.Timeout | null = null;
  private slots: Slot[] = [];
  private watchdog: NodeJS.Timeout | null = null;
  private lastWatch = 0;
  private stopping = false;
  /** Test hook forwarding-crash-loop: every worker started crashes at its first loop turn. */
  private crashLoop = false;
  /** Test hook memory: the answer each worker is asked for. */
  private readonly heapWaiters = new Map<Worker, (h: HeapReport) => void>();

  constructor(private readonly tables: TablesWriter, private readonly tunFd: number, private readonly log: Log,
    private readonly roles: ForwardingRole[] = forwardingRoles()) {}

  async start(): Promise<void> {
    this.stopping = false;
    this.slots = this.roles.map((role) => ({
      role, worker: null, ready: false, lastError: null, beat: new Int32Array(new SharedArrayBuffer(4 * HB_WORDS)),
      lastBeat: 0, lastMove: Date.now(), restarts: 0,
      restart: new RestartScheduler(`forwarding worker ${role}`, 'forwarding is down', this.log),
    }));
    await Promise.all(this.slots.map((s) => this.spawn(s)));
    for (const s of this.slots) s.restart.started();
    this.lastWatch = Date.now();
    this.watchdog = setInterval(() => this.watch(), WATCH_MS);
    this.watchdog.unref();
    this.conflictTimer = setInterval(() => this.pollConflicts(), CONFLICT_POLL_MS);
    this.conflictTimer.unref();
  }

  /** Logs what the RX path reported since the last poll. */
  pollConflicts(): ConflictReport[] {
    const { reports, missed } = this.conflicts.poll();
    for (const r of reports) {
      this.log('err', conflictText(r, this.nicName(r.nic) ?? `NIC slot ${r.nic}`));
      this.onConflict(r);
    }
    if (missed > 0) this.log('err', `${missed} more address conflict reports were not read in time`);
    this.conflictStats.reported += reports.length;
    this.conflictStats.missed += missed;
    return reports;
  }

  /** The forwarding counters as plain numbers, for the SIGUSR1 dump. */
  dump(): ForwardingDump {
    return {
      drops: { in: this.rxCounters.dropsByReason(), out: this.txCounters.dropsByReason() },
      arpNdReplies: this.rxCounters.extraValue(X_ARP_REPLIES),
      neighbourRequests: this.txCounters.extraValue(X_ARP_REQUESTS),
      neighbourRequestsLimited: this.txCounters.extraValue(X_REQUESTS_LIMITED),
      conflictDefences: this.rxCounters.extraValue(X_DEFENCES),
      conflictsReported: this.conflictStats.reported,
    };
  }

  /**
   * Starts the slot's worker; resolves once it is ready. When it exits or does not get ready
   * in time the promise rejects, and once the watchdog runs (after start()) the failure is
   * also logged and a restart scheduled, exactly once per worker.
   */
  private spawn(slot: Slot): Promise<void> {
    const data: ForwardingWorkerData = {
      role: slot.role, tunFd: this.tunFd, tables: this.tables.view.sab, neighbours: this.neighbours.sab,
      txCounters: this.txCounters.sab, rxCounters: this.rxCounters.sab, heartbeat: slot.beat.buffer as SharedArrayBuffer,
      conflicts: this.conflicts.sab, solicits: this.solicits.sab,
    };
    Atomics.store(slot.beat, HB_HOOK, this.crashLoop && slot === this.slots[0] ? HOOK_CRASH : 0);
    const w = new Worker(fileURLToPath(WORKER_URL), { workerData: data, name: `ipmp-${slot.role}` });
    slot.worker = w;
    slot.ready = false;
    slot.lastError = null;
    slot.lastMove = Date.now();
    slot.lastBeat = Atomics.load(slot.beat, HB_BEAT);
    w.on('error', (e) => { if (slot.worker === w) slot.lastError = e.message.split('\n')[0]; });
    w.on('message', (m: { heap?: HeapReport }) => { if (m.heap) this.heapWaiters.get(w)?.(m.heap); });
    w.on('exit', (code) => {
      if (slot.worker !== w) return;
      slot.worker = null;
      slot.ready = false;
      const error = slot.lastError ? `; error: ${slot.lastError}` : '';
      this.failed(slot, `exited (code ${code}${error})`);
    });
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        reject(new Error(`forwarding worker ${slot.role} did not start`));
        if (slot.worker !== w) return;
        slot.worker = null;
        void w.terminate();
        this.failed(slot, `did not get ready within ${START_TIMEOUT_MS / 1000} s`);
      }, START_TIMEOUT_MS);
      w.once('message', () => { clearTimeout(t); if (slot.worker === w) slot.ready = true; resolve(); });
      w.once('exit', (code) => { clearTimeout(t); reject(new Error(`forwarding worker ${slot.role} exited with ${code}`)); });
    });
  }

  /** A worker is gone: one log line, and its restart after the back-off delay. */
  private failed(slot: Slot, reason: string): void {
    if (this.stopping || !this.watchdog) return;
    slot.restart.failed(reason, (step) => {
      if (this.stopping) return;
      slot.restarts++;
      this.spawn(slot).then(() => {
        slot.restart.started();
        this.log('info', `forwarding worker ${slot.role} restarted (attempt ${step.attempt}; ${slot.restarts} restart(s) since start)`);
      }, () => undefined /* logged and rescheduled by the exit or start timeout */);
    });
  }

  /** The watchdog: replaces a worker whose heartbeat stopped moving. */
  private watch(): void {
    const now = Date.now();
    // A late tick means this thread did not run either (the process or the machine was
    // stopped or starved): a worker that made no progress meanwhile is not judged on it.
    const late = now - this.lastWatch > STALL_MS / 2;
    this.lastWatch = now;
    for (const s of this.slots) {
      const b = Atomics.load(s.beat, HB_BEAT);
      if (b !== s.lastBeat || late) { s.lastBeat = b; s.lastMove = now; continue; }
      const w = s.worker;
      if (!w || this.stopping || now - s.lastMove < STALL_MS) continue;
      s.worker = null;
      s.ready = false;
      void w.terminate();
      this.failed(s, `stalled (no progress for ${now - s.lastMove} ms)`);
    }
  }

  /**
   * Test hook: `forwarding-stall` or `forwarding-crash` in the first worker, at its next
   * loop turn; `forwarding-crash-loop` there and in every worker started until
   * `forwarding-crash-loop-end`. False when the name is not a forwarding hook or no worker runs.
   */
  testHook(name: string): boolean {
    const slot = this.slots[0];
    if (!slot) return false;
    if (name === 'forwarding-crash-loop' || name === 'forwarding-crash-loop-end') {
      this.crashLoop = name === 'forwarding-crash-loop';
      this.log('info', `test hook: ${name}`);
      if (this.crashLoop && slot.worker) Atomics.store(slot.beat, HB_HOOK, HOOK_CRASH);
      return true;
    }
    const cmd = name === 'forwarding-stall' ? HOOK_STALL : name === 'forwarding-crash' ? HOOK_CRASH : 0;
    if (!cmd || !slot.worker) return false;
    this.log('info', `test hook: ${name}`);
    Atomics.store(slot.beat, HB_HOOK, cmd);
    return true;
  }

  /**
   * Test hooks `memory` and `memory-gc`: each running worker's heap (HOOK_HEAP, HOOK_HEAP_GC),
   * asked at its next loop turn; a worker that does not answer within a second is reported as such.
   */
  heapReports(gc = false): Promise<Array<{ role: ForwardingRole; restarts: number; heap: HeapReport | null }>> {
    return Promise.all(this.slots.map(async (s) => {
      const w = s.worker;
      if (!w || !s.ready) return { role: s.role, restarts: s.restarts, heap: null };
      const heap = await new Promise<HeapReport | null>((resolve) => {
        const t = setTimeout(() => { this.heapWaiters.delete(w); resolve(null); }, 1000);
        this.heapWaiters.set(w, (h) => { clearTimeout(t); this.heapWaiters.delete(w); resolve(h); });
        Atomics.store(s.beat, HB_HOOK, gc ? HOOK_HEAP_GC : HOOK_HEAP);
      });
      return { role: s.role, restarts: s.restarts, heap };
    }));
  }

  /**
   * The workers' state for the snapshot: `failing` while failures repeat (five within a
   * minute, or in a row without a healthy minute: forwarding is down, or keeps going down),
   * else `restarting` while a worker is not running, else `up`.
   */
  status(now = Date.now()): ForwardingStatus {
    return workerStatus(this.slots.map((s) => s.restart), this.slots.every((s) => s.ready), now);
  }

  /** Heartbeat counters of the workers: they move while the workers loop. */
  heartbeats(): number[] {
    return this.slots.map((s) => Atomics.load(s.beat, HB_BEAT));
  }

  /** Restarts of each worker since start. */
  restarts(): number[] {
    return this.slots.map((s) => s.restarts);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    if (this.conflictTimer) clearInterval(this.conflictTimer);
    this.conflictTimer = null;
    for (const s of this.slots) s.restart.cancel();
    this.tables.requestStop();
    await Promise.all(this.slots.map((s) => {
      const w = s.worker;
      if (!w) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const t = setTimeout(() => { void w.terminate().then(() => resolve()); }, STOP_TIMEOUT_MS);
        w.once('exit', () => { clearTimeout(t); resolve(); });
      });
    }));
    this.slots = [];
  }
}

/**
 * The log line for a conflict: the Solaris kernel's text for a foreign node
 * using one of our addresses ("node MAC is using our IP address ADDR on IF"),
 * plus what kind of address it is and whether it was defended; another node's
 * DAD probe for one of our addresses is named as such.
 */
export function conflictText(r: ConflictReport, ifname: string): string {
  if (r.kind === 'dad') return `node ${r.mac} is probing for our address ${r.address} on ${ifname} (duplicate address detection)`;
  const what = r.kind === 'test' ? 'test address' : 'data address';
  const defended = r.defended ? `; defended with ${r.family === 4 ? 'a gratuitous ARP' : 'an unsolicited NA'}` : '';
  return `node ${r.mac} is using our IP address ${r.address} on ${ifname} (${what}${defended})`;
}
