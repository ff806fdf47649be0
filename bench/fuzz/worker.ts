/**
 * Runs one fuzz target in a worker thread for run.ts. Before each input it
 * copies the input and bumps a counter in shared memory, so the runner's
 * watchdog can name the input a hung target is stuck on and terminate it.
 *
 *   shared Int32Array: [0] inputs started, [1] current input length
 *   shared Uint8Array: the current input (up to its capacity)
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runTarget, type RunOptions } from './harness.js';
import type { FuzzTarget } from './harness.js';

export interface WorkerJob {
  name: string;
  /** Module (file URL) exporting TARGETS; default targets/index.js. */
  module?: string;
  opts: Omit<RunOptions, 'onInput'>;
  status: SharedArrayBuffer;
  input: SharedArrayBuffer;
}

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('bench/fuzz/worker.js runs only as a worker of run.js');
  const job = workerData as WorkerJob;
  const status = new Int32Array(job.status);
  const buf = new Uint8Array(job.input);
  const mod = (await import(job.module ?? './targets/index.js')) as { TARGETS: Record<string, () => FuzzTarget> };
  const make = mod.TARGETS[job.name];
  if (!make) throw new Error(`unknown fuzz target ${job.name}`);
  const result = await runTarget(make(), {
    ...job.opts,
    onInput(input) {
      const n = Math.min(input.length, buf.length);
      buf.set(input.subarray(0, n), 0);
      Atomics.store(status, 1, input.length);
      Atomics.add(status, 0, 1);
    },
  });
  port.postMessage(result);
}

void main().catch((e: unknown) => {
  // An error outside any input (setup, teardown): the runner reports it with the current input.
  parentPort?.postMessage({ fatal: e instanceof Error ? (e.stack ?? e.message) : String(e) });
});
