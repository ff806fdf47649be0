/**
 * Starts and stops the forwarding workers (one TX, one RX) and watches their
 * heartbeats. They share the tables, the neighbour table and their counters
 * with the control plane through SharedArrayBuffers.
 */
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { Counters } from '../tables/counters.js';
import { NeighbourTable } from '../tables/neighbours.js';
import { TablesWriter } from '../tables/shared-tables.js';
import type { ForwardingWorkerData } from '../dataplane/forwarding-worker.js';

const WORKER_URL = new URL('../dataplane/forwarding-worker.js', import.meta.url);
const STOP_TIMEOUT_MS = 3000;

export class Forwarding {
  readonly txCounters = new Counters();
  readonly rxCounters = new Counters();
  readonly neighbours = new NeighbourTable();
  private workers: Worker[] = [];
  private readonly beats: Int32Array[] = [];

  constructor(private readonly tables: TablesWriter, private readonly tunFd: number,
    private readonly log: (level: 'err' | 'info' | 'debug', text: string) => void) {}

  async start(): Promise<void> {
    const roles: Array<'tx' | 'rx'> = ['tx', 'rx'];
    await Promise.all(roles.map((role) => this.spawn(role)));
  }

  private spawn(role: 'tx' | 'rx'): Promise<void> {
    const heartbeat = new SharedArrayBuffer(4);
    const data: ForwardingWorkerData = {
      role, tunFd: this.tunFd, tables: this.tables.view.sab, neighbours: this.neighbours.sab,
      counters: role === 'tx' ? this.txCounters.sab : this.rxCounters.sab, heartbeat,
    };
    const w = new Worker(fileURLToPath(WORKER_URL), { workerData: data, name: `ipmp-${role}` });
    this.workers.push(w);
    this.beats.push(new Int32Array(heartbeat));
    w.on('error', (e) => this.log('err', `forwarding worker ${role} failed: ${e.message}`));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`forwarding worker ${role} did not start`)), 10_000);
      w.once('message', () => { clearTimeout(t); resolve(); });
      w.once('exit', (code) => { clearTimeout(t); reject(new Error(`forwarding worker ${role} exited with ${code}`)); });
    });
  }

  /** Sum of the workers' heartbeat counters: moves while both loop. */
  heartbeats(): number[] {
    return this.beats.map((b) => Atomics.load(b, 0));
  }

  async stop(): Promise<void> {
    this.tables.requestStop();
    await Promise.all(this.workers.map((w) => new Promise<void>((resolve) => {
      const t = setTimeout(() => { void w.terminate().then(() => resolve()); }, STOP_TIMEOUT_MS);
      w.once('exit', () => { clearTimeout(t); resolve(); });
    })));
    this.workers = [];
  }
}
