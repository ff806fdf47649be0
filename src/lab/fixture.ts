// A lab for tests and benchmarks: withLab brings one up under a prefix unique to this
// process, runs the body, and always tears it down: after the body (also when it throws),
// and on process exit, SIGINT or SIGTERM while the body runs.

import { labDown, labDownSync, labUp } from './lab.js';
import type { LabInfo, LabOptions } from './topology.js';

let counter = 0;
const live = new Set<string>();
let hooksInstalled = false;

/** A short prefix unique within this machine's running processes: ipt<pid%10000><n>. */
export function uniquePrefix(): string {
  counter += 1;
  return `ipt${process.pid % 10000}${counter}`;
}

function cleanupAllSync(): void {
  for (const prefix of live) labDownSync(prefix);
  live.clear();
}

function onSignal(sig: NodeJS.Signals): void {
  cleanupAllSync();
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
  process.kill(process.pid, sig);
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', cleanupAllSync);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/** Brings a lab up (prefix chosen here unless opts.prefix is given), runs fn, tears it down. */
export async function withLab<T>(opts: LabOptions, fn: (lab: LabInfo) => Promise<T> | T): Promise<T> {
  const prefix = opts.prefix ?? uniquePrefix();
  installHooks();
  live.add(prefix);
  try {
    const lab = await labUp({ ...opts, prefix });
    return await fn(lab);
  } finally {
    try {
      await labDown(prefix);
    } catch {
      labDownSync(prefix);
    }
    live.delete(prefix);
  }
}
