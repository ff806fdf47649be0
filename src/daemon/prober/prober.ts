/**
 * Main-thread handle of one group's probe worker: forwards NIC identities, route gateways,
 * link changes and the controller's failed flags to the worker, and hands the worker's
 * facts to `onFact`. The worker computes failure facts itself (it runs every member's
 * engine, so it knows their last successful probes).
 */
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import type { FromWorker, NicFailState, ProbeWorkerData, ProberFact, ProberNic, ToWorker } from './messages.js';

export type { ProberFact, ProberNic, NicFailState } from './messages.js';

const WORKER_URL = new URL('./probe-worker.js', import.meta.url);
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 3_000;
const STATS_TIMEOUT_MS = 2_000;

export interface ProberOptions {
  group: string;
  fdtMs: number;
  nics: ProberNic[];
  /** Pinned targets, or null for discovery (routes, else multicast). */
  targets: string[] | null;
  log: (level: 'err' | 'info' | 'debug', text: string) => void;
}

export class Prober {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, (s: object) => void>();
  private stopping = false;
  private lastState = '';

  constructor(private readonly opts: ProberOptions, private readonly onFact: (f: ProberFact) => void) {}

  async start(): Promise<void> {
    const data: ProbeWorkerData = { group: this.opts.group, fdtMs: this.opts.fdtMs, targets: this.opts.targets, pid: process.pid };
    const w = new Worker(fileURLToPath(WORKER_URL), { workerData: data, name: `ipmp-probe-${this.opts.group}` });
    this.worker = w;
    w.on('error', (e) => this.opts.log('err', `probe worker for ${this.opts.group} failed: ${e.message}`));
    w.on('exit', (code) => {
      this.worker = null;
      for (const r of this.pending.values()) r({ error: 'probe worker exited' });
      this.pending.clear();
      if (!this.stopping) this.opts.log('err', `probe worker for ${this.opts.group} exited with ${code}`);
    });
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`probe worker for ${this.opts.group} did not start`)), START_TIMEOUT_MS);
      w.on('message', (m: FromWorker) => {
        if (m.op !== 'ready') { this.onMessage(m); return; }
        clearTimeout(t);
        resolve();
      });
      w.once('exit', (code) => { clearTimeout(t); reject(new Error(`probe worker exited with ${code}`)); });
    });
    this.setNics(this.opts.nics);
  }

  private onMessage(m: FromWorker): void {
    if (m.op === 'fact') this.onFact(m.fact);
    else if (m.op === 'stats') {
      this.pending.get(m.id)?.(m.stats);
      this.pending.delete(m.id);
    }
  }

  private send(m: ToWorker): void {
    this.worker?.postMessage(m);
  }

  /** The NICs that probe, with their current identity (re-created when ifindex, MAC or address change). */
  setNics(nics: ProberNic[]): void {
    this.send({ op: 'nics', nics });
  }

  /** IPv4 next hops of the routes through the IPMP interface. */
  setRoutes(gateways: string[]): void {
    this.send({ op: 'routes', gateways });
  }

  linkChanged(slot: number, up: boolean): void {
    this.send({ op: 'link', slot, up });
  }

  /** The controller's failed NICs and group state; sent only when it differs from the last. */
  setState(nics: NicFailState[], groupFailed: boolean): void {
    const key = JSON.stringify([nics, groupFailed]);
    if (key === this.lastState) return;
    this.lastState = key;
    this.send({ op: 'state', nics, groupFailed });
  }

  stats(): Promise<object> {
    if (!this.worker) return Promise.resolve({ error: 'probe worker not running' });
    const id = this.nextId++;
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.pending.delete(id); resolve({ error: 'probe worker did not answer' }); }, STATS_TIMEOUT_MS);
      this.pending.set(id, (s) => { clearTimeout(t); resolve(s); });
      this.send({ op: 'stats', id });
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
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
