/**
 * Main-thread handle of one group's probe worker: forwards NIC identities, route gateways,
 * link changes and the controller's failed and offline flags to the worker, and hands the
 * worker's facts to `onFact`. The worker computes failure facts itself (it runs every
 * member's engines, so it knows their last successful probes).
 *
 * Liveness: the worker posts a heartbeat; a watchdog (watchdog.ts) that discounts the main
 * thread's own stalls finds a worker that stopped turning its loop, which is then terminated
 * and started again, as is a worker that exited on its own. The new worker gets the current
 * NICs, routes, links and controller state, so a NIC the controller holds failed stays
 * failed (repair needs fresh acks). Its engines start with empty probe records, so the gap
 * itself can never count as lost probes; only families that had acked before skip the
 * quiet period, so a failure after the restart is still found within the FDT.
 * Restarts back off as the forwarding worker's do (liveness.ts WORKER_RESTARTS), one log
 * line per failure; status() reports them as the forwarding workers' status does (the
 * snapshot's group `probing`, the metrics' ipmp_probing_up).
 *
 * Test hooks (IPMPD_TEST_HOOKS=1): a stall or a crash of the current worker (hook()), and a
 * crash loop (crashLoop()): every worker started dies once it has opened its sockets, until
 * the loop is ended.
 */
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { loadNative } from '../../io/native.js';
import type {
  FromWorker, NicFailState, ProbeWorkerData, ProbeWorkerHook, ProberFact, ProberNic, ToWorker,
} from './messages.js';
import { Watchdog } from './watchdog.js';
import { RestartScheduler, workerStatus } from '../liveness.js';
import type { WorkerStatus } from '../protocol.js';

export type { ProberFact, ProberNic, NicFailState } from './messages.js';

const WORKER_URL = new URL('./probe-worker.js', import.meta.url);
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 3_000;
const STATS_TIMEOUT_MS = 2_000;
/** The worker counts as stuck after this much silence (it posts a heartbeat every 200 ms). */
export const STUCK_MS = 3_000;
const WATCH_TICK_MS = 250;
/** A watchdog tick later than this means the main thread itself stalled. */
const WATCH_SLACK_MS = 250;

export interface ProberOptions {
  group: string;
  fdtMs: number;
  nics: ProberNic[];
  /** Pinned targets, or null for discovery (routes, else multicast). */
  targets: string[] | null;
  log: (level: 'err' | 'info' | 'debug', text: string) => void;
  /** Accept test hooks (IPMPD_TEST_HOOKS=1). */
  testHooks?: boolean;
}

function monoNs(): number {
  return Number(process.hrtime.bigint());
}

export class Prober {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, (s: object) => void>();
  private stopping = false;
  private lastState: { nics: NicFailState[]; groupFailed: boolean } | null = null;
  private lastStateKey = '';
  private nics: ProberNic[];
  private readonly links = new Map<number, boolean>();
  private routes: { gateways: string[]; gateways6: string[] } = { gateways: [], gateways6: [] };
  /** `name/family` of instances that acked a probe (their quiet period is over). */
  private readonly acked = new Set<string>();
  private readonly watchdog = new Watchdog(monoNs(), STUCK_MS * 1e6, WATCH_TICK_MS * 1e6, WATCH_SLACK_MS * 1e6);
  private watchTimer: NodeJS.Timeout | null = null;
  private readonly restart: RestartScheduler;
  /** The current worker's last uncaught error, given as the reason when it exits. */
  private lastError: string | null = null;
  private everReady = false;
  /** The current worker got ready (false while a restart is pending or starting). */
  private ready = false;
  /** Test hook: every worker started dies once its sockets are open. */
  private crashing = false;
  /** Packet sockets of the current worker, closed here when it is killed or dies. */
  private fds: number[] = [];
  /** Workers started so far (1 after start). */
  starts = 0;

  constructor(private readonly opts: ProberOptions, private readonly onFact: (f: ProberFact) => void) {
    this.nics = opts.nics;
    this.restart = new RestartScheduler(`probe worker for ${opts.group}`, 'probing is down', opts.log);
  }

  async start(): Promise<void> {
    if (!(await this.spawn())) throw new Error(`probe worker for ${this.opts.group} did not start`);
    this.watchTimer = setInterval(() => this.watch(), WATCH_TICK_MS);
  }

  /**
   * Starts a worker and replays the current state into it once it is ready. False when it
   * exited or did not get ready in time (then it is gone), or was replaced meanwhile.
   */
  private async spawn(): Promise<boolean> {
    const data: ProbeWorkerData = {
      group: this.opts.group, fdtMs: this.opts.fdtMs, targets: this.opts.targets, pid: process.pid,
      testHooks: this.opts.testHooks ?? false, crashLoop: (this.opts.testHooks ?? false) && this.crashing,
    };
    const w = new Worker(fileURLToPath(WORKER_URL), { workerData: data, name: `ipmp-probe-${this.opts.group}` });
    this.worker = w;
    this.ready = false;
    this.fds = [];
    this.starts++;
    this.lastError = null;
    this.watchdog.reset(monoNs());
    w.on('error', (e) => { if (w === this.worker) this.lastError = e.message.split('\n')[0]; });
    w.on('exit', (code) => this.onExit(w, code));
    const ready = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), START_TIMEOUT_MS);
      w.on('message', (m: FromWorker) => {
        if (w !== this.worker) return;
        this.watchdog.alive();
        if (m.op !== 'ready') { this.onMessage(m); return; }
        clearTimeout(t);
        resolve(true);
      });
      w.once('exit', () => { clearTimeout(t); resolve(false); });
    });
    if (!ready) {
      if (w === this.worker) this.kill();
      return false;
    }
    if (w !== this.worker) return false;
    this.everReady = true;
    this.ready = true;
    this.restart.started();
    this.replay();
    return true;
  }

  private replay(): void {
    this.send({ op: 'nics', nics: this.currentNics() });
    this.send({ op: 'routes', ...this.routes });
    if (this.lastState) this.send({ op: 'state', ...this.lastState });
  }

  private currentNics(): ProberNic[] {
    return this.nics.map((n) => {
      const quietOver = ([4, 6] as const).filter((f) => this.acked.has(`${n.name}/${f}`));
      const up = this.links.get(n.slot);
      return { ...n, linkUp: up ?? n.linkUp, quietOver };
    });
  }

  private onExit(w: Worker, code: number): void {
    if (w !== this.worker) return;
    this.worker = null;
    this.ready = false;
    this.failPending();
    if (this.stopping) return;
    this.closeSockets(this.fds);
    this.fds = [];
    if (!this.everReady) return;
    this.failed(`exited with code ${code}${this.lastError ? ` (error: ${this.lastError})` : ''}`);
  }

  private failPending(): void {
    for (const r of this.pending.values()) r({ error: 'probe worker exited' });
    this.pending.clear();
  }

  /** The worker is gone: one log line, and a new one after the back-off delay. */
  private failed(reason: string): void {
    if (this.stopping) return;
    this.restart.failed(reason, (step) => {
      if (this.stopping) return;
      void this.spawn().then((ok) => {
        if (ok) this.opts.log('info', `probe worker for ${this.opts.group} restarted (attempt ${step.attempt})`);
        else if (!this.worker && !this.restart.pending) this.failed('did not get ready');
      });
    });
  }

  /** Watchdog tick: a worker that stopped turning its loop is terminated and restarted. */
  private watch(): void {
    if (this.stopping || !this.worker) return;
    if (!this.watchdog.tick(monoNs())) return;
    const ms = Math.round(this.watchdog.silenceNs / 1e6);
    this.kill();
    this.failed(`is not responding (silent for ${ms} ms)`);
  }

  /** Terminates the current worker without treating its exit as a crash. */
  private kill(): void {
    const w = this.worker;
    const fds = this.fds;
    this.worker = null;
    this.ready = false;
    this.fds = [];
    this.failPending();
    if (w) void w.terminate().then(() => this.closeSockets(fds));
  }

  /** Closes the sockets a dead worker left open (it is gone, so nothing else uses them). */
  private closeSockets(fds: number[]): void {
    const native = loadNative();
    for (const fd of fds) native.close(fd);
  }

  private onMessage(m: FromWorker): void {
    if (m.op === 'fact') {
      const f = m.fact;
      if (f.kind === 'probe' && f.event.state === 'acked') this.acked.add(`${f.event.interface}/${f.event.family}`);
      this.onFact(f);
    } else if (m.op === 'sockets') {
      this.fds = m.fds;
    } else if (m.op === 'stats') {
      this.pending.get(m.id)?.(m.stats);
      this.pending.delete(m.id);
    }
  }

  private send(m: ToWorker): void {
    this.worker?.postMessage(m);
  }

  /** The NICs that probe, with their current identity (re-created when ifindex, MAC or address change). */
  setNics(nics: ProberNic[]): void {
    this.nics = nics;
    for (const n of nics) if (n.linkUp !== undefined) this.links.set(n.slot, n.linkUp);
    const names = new Set(nics.map((n) => n.name));
    for (const k of this.acked) if (!names.has(k.slice(0, k.lastIndexOf('/')))) this.acked.delete(k);
    this.send({ op: 'nics', nics });
  }

  /** Next hops of the routes through the IPMP interface, per family. */
  setRoutes(gateways: string[], gateways6: string[] = []): void {
    this.routes = { gateways, gateways6 };
    this.send({ op: 'routes', gateways, gateways6 });
  }

  linkChanged(slot: number, up: boolean): void {
    this.links.set(slot, up);
    this.send({ op: 'link', slot, up });
  }

  /** The controller's failed and offline NICs and group state; sent only when it differs from the last. */
  setState(nics: NicFailState[], groupFailed: boolean): void {
    const key = JSON.stringify([nics, groupFailed]);
    if (key === this.lastStateKey) return;
    this.lastStateKey = key;
    this.lastState = { nics, groupFailed };
    this.send({ op: 'state', nics, groupFailed });
  }

  /** Runs a test hook in the worker; false when hooks are off or no worker runs. */
  hook(h: ProbeWorkerHook): boolean {
    if (!this.opts.testHooks || !this.worker) return false;
    this.send({ op: 'hook', hook: h });
    return true;
  }

  /**
   * Test hook: from now on every worker started dies once it has opened its sockets (the
   * current one at once), until crashLoop(false). False when hooks are off.
   */
  crashLoop(on: boolean): boolean {
    if (!this.opts.testHooks) return false;
    this.crashing = on;
    if (on) this.send({ op: 'hook', hook: { hook: 'crash' } });
    return true;
  }

  /** The worker's restarts: `up`, `restarting` while it is replaced, `failing` while failures repeat. */
  status(now = Date.now()): WorkerStatus {
    return workerStatus([this.restart], this.ready, now);
  }

  /** The worker's stats; `gc` (test hooks only) collects its garbage before its heap is read. */
  stats(gc = false): Promise<object> {
    if (!this.worker) return Promise.resolve({ error: 'probe worker not running' });
    const id = this.nextId++;
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.pending.delete(id); resolve({ error: 'probe worker did not answer' }); }, STATS_TIMEOUT_MS);
      this.pending.set(id, (s) => { clearTimeout(t); resolve(s); });
      this.send({ op: 'stats', id, ...(gc ? { gc } : {}) });
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.restart.cancel();
    this.watchTimer = null;
    const w = this.worker;
    if (!w) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => { void w.terminate().then(() => resolve()); }, STOP_TIMEOUT_MS);
      w.once('exit', () => { clearTimeout(t); resolve(); });
      w.postMessage({ op: 'stop' } satisfies ToWorker);
    });
    this.worker = null;
  }
}
