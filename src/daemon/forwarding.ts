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
 * The RX path's address conflict reports come through a ring (tables/conflicts.ts)
 * polled here and logged with the Solaris text.
 *
 * Test hooks (the control socket's `test-hook` op, only with IPMPD_TEST_HOOKS=1):
 * `forwarding-stall` blocks the first worker's loop, `forwarding-crash` makes it throw.
 */
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { Counters, X_ARP_REPLIES, X_ARP_REQUESTS, X_DEFENCES, X_REQUESTS_LIMITED, type DropReason } from '../tables/counters.js';
import { ConflictRing, type ConflictReport } from '../tables/conflicts.js';
import { SolicitTable } from '../tables/solicits.js';
import { NeighbourTable } from '../tables/neighbours.js';
import { TablesWriter } from '../tables/shared-tables.js';
import {
  HB_BEAT, HB_HOOK, HB_WORDS, HOOK_CRASH, HOOK_STALL,
  type ForwardingRole, type ForwardingWorkerData,
} from '../dataplane/worker-protocol.js';

const WORKER_URL = new URL('../dataplane/forwarding-worker.js', import.meta.url);
const STOP_TIMEOUT_MS = 3000;
const START_TIMEOUT_MS = 10_000;
/** A worker whose heartbeat has not moved for this long is stuck. */
export const STALL_MS = 2000;
/** How often the watchdog looks. */
const WATCH_MS = 250;
/** Restart delay after a failure; doubles while failures follow each other, up to RESTART_MAX_MS. */
const RESTART_MIN_MS = 50;
const RESTART_MAX_MS = 5000;
/** A worker that ran this long before failing resets the restart delay. */
const STABLE_MS = 30_000;
/** How often the conflict ring is read: its 32 records cover far more than the RX path reports in this time. */
const CONFLICT_POLL_MS = 250;

type Log = (level: 'err' | 'info' | 'debug', text: string) => void;

interface Slot {
  role: ForwardingRole;
  worker: Worker | null;
  beat: Int32Array;
  lastBeat: number;
  lastMove: number;
  startedAt: number;
  restarts: number;
  delayMs: number;
  timer: NodeJS.Timeout | null;
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

  constructor(private readonly tables: TablesWriter, private readonly tunFd: number, private readonly log: Log,
    private readonly roles: ForwardingRole[] = forwardingRoles()) {}

  async start(): Promise<void> {
    this.stopping = false;
    this.slots = this.roles.map((role) => ({
      role, worker: null, beat: new Int32Array(new SharedArrayBuffer(4 * HB_WORDS)), lastBeat: 0,
      lastMove: Date.now(), startedAt: Date.now(), restarts: 0, delayMs: RESTART_MIN_MS, timer: null,
    }));
    await Promise.all(this.slots.map((s) => this.spawn(s)));
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

  private spawn(slot: Slot): Promise<void> {
    const data: ForwardingWorkerData = {
      role: slot.role, tunFd: this.tunFd, tables: this.tables.view.sab, neighbours: this.neighbours.sab,
      txCounters: this.txCounters.sab, rxCounters: this.rxCounters.sab, heartbeat: slot.beat.buffer as SharedArrayBuffer,
      conflicts: this.conflicts.sab, solicits: this.solicits.sab,
    };
    Atomics.store(slot.beat, HB_HOOK, 0);
    const w = new Worker(fileURLToPath(WORKER_URL), { workerData: data, name: `ipmp-${slot.role}` });
    slot.worker = w;
    slot.startedAt = Date.now();
    slot.lastMove = slot.startedAt;
    slot.lastBeat = Atomics.load(slot.beat, HB_BEAT);
    w.on('error', (e) => this.log('err', `forwarding worker ${slot.role} failed: ${e.message}`));
    w.on('exit', (code) => {
      if (slot.worker !== w) return;
      slot.worker = null;
      if (this.stopping || !this.watchdog) return;
      this.log('err', `forwarding worker ${slot.role} exited (code ${code}): restarting it`);
      this.scheduleRestart(slot);
    });
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`forwarding worker ${slot.role} did not start`)), START_TIMEOUT_MS);
      w.once('message', () => { clearTimeout(t); resolve(); });
      w.once('exit', (code) => { clearTimeout(t); reject(new Error(`forwarding worker ${slot.role} exited with ${code}`)); });
    });
  }

  private scheduleRestart(slot: Slot): void {
    if (slot.timer || this.stopping) return;
    if (Date.now() - slot.startedAt >= STABLE_MS) slot.delayMs = RESTART_MIN_MS;
    const delay = slot.delayMs;
    slot.delayMs = Math.min(RESTART_MAX_MS, slot.delayMs * 2);
    slot.timer = setTimeout(() => {
      slot.timer = null;
      if (this.stopping) return;
      slot.restarts++;
      this.spawn(slot).then(
        () => this.log('info', `forwarding worker ${slot.role} restarted (${slot.restarts} restart(s))`),
        (e: Error) => { this.log('err', e.message); this.scheduleRestart(slot); });
    }, delay);
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
      this.log('err', `forwarding worker ${s.role} stalled (no progress for ${now - s.lastMove} ms): restarting it`);
      s.worker = null;
      void w.terminate();
      this.scheduleRestart(s);
    }
  }

  /**
   * Test hook: `forwarding-stall` or `forwarding-crash` in the first worker, at its next
   * loop turn. False when the name is not a forwarding hook or no worker runs.
   */
  testHook(name: string): boolean {
    const cmd = name === 'forwarding-stall' ? HOOK_STALL : name === 'forwarding-crash' ? HOOK_CRASH : 0;
    const slot = this.slots[0];
    if (!cmd || !slot?.worker) return false;
    this.log('info', `test hook: ${name}`);
    Atomics.store(slot.beat, HB_HOOK, cmd);
    return true;
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
    for (const s of this.slots) if (s.timer) { clearTimeout(s.timer); s.timer = null; }
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
