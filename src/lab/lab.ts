// The lab's public API: bring up, tear down, fault injection, status, and running programs
// inside the lab's namespaces. See topology.ts for the network itself.

import { spawnSync } from 'node:child_process';
import { execIn, killSpawned, LabError, run, tryRun, waitFor, type ExecResult, type ExecOptions } from './exec.js';
import { buildLab, planLab, hostNs, type LabInfo, type LabOptions } from './topology.js';
import { hostCarrier } from './status.js';
import { labNamespaces, readLabInfo, removeLabInfo, stateFile, writeLabInfo } from './state.js';

export { execIn, spawnIn, LabError, waitFor } from './exec.js';
export type { ExecResult, ExecOptions } from './exec.js';
export { hostNs, peerNs, swNs, planLab, parseRate, tbfParams, DEFAULT_PREFIX } from './topology.js';
export type { LabInfo, LabOptions, NicInfo, SwitchMode } from './topology.js';
export { readLabInfo, stateFile } from './state.js';
export { labFail, labRepair } from './faults.js';
export type { FailOptions } from './faults.js';
export { labStatus, hostCarrier } from './status.js';
export type { LabStatus, LinkStatus, PortStatus, FaultKind } from './status.js';

/** Time allowed for host NICs to report carrier after `up` (ms). */
const CARRIER_TIMEOUT_MS = 5_000;

/**
 * Builds the lab. Fails with a one-line LabError when a lab with this prefix exists (unless
 * opts.force, which tears it down first); tears down whatever it made when a step fails.
 */
export async function labUp(opts: LabOptions = {}): Promise<LabInfo> {
  const info = planLab(opts);
  const existing = labNamespaces(info.prefix);
  if (existing.length > 0 || readLabInfo(info.prefix)) {
    if (!opts.force) {
      const what = existing.length > 0 ? `namespaces ${existing.join(', ')}` : stateFile(info.prefix);
      throw new LabError(`lab '${info.prefix}' already exists (${what}); use --force or 'ipmp lab down --prefix ${info.prefix}'`);
    }
    await labDown(info.prefix);
  }
  try {
    await buildLab(info);
    for (const nic of info.nics) {
      await waitFor(`carrier on ${nic.name}`, async () => (await hostCarrier(info.prefix, nic.name)) === true,
        CARRIER_TIMEOUT_MS);
    }
    writeLabInfo(info);
  } catch (err) {
    await labDown(info.prefix).catch(() => undefined);
    throw err;
  }
  return info;
}

/** Ends processes running inside a namespace (iperf3, ping, a daemon started there). */
async function killNamespacePids(ns: string): Promise<void> {
  const pids = async (): Promise<number[]> => {
    try {
      const { stdout } = await run(['ip', 'netns', 'pids', ns]);
      return stdout.split(/\s+/).filter(Boolean).map(Number).filter((p) => p > 1 && p !== process.pid);
    } catch {
      return [];
    }
  };
  const signal = (list: number[], sig: NodeJS.Signals): void => {
    for (const p of list) { try { process.kill(p, sig); } catch { /* already gone */ } }
  };
  const first = await pids();
  if (first.length === 0) return;
  signal(first, 'SIGTERM');
  try {
    await waitFor(`processes in ${ns} to exit`, async () => (await pids()).length === 0, 2_000);
  } catch {
    signal(await pids(), 'SIGKILL');
  }
}

/**
 * Removes the lab: ends processes in its namespaces, deletes every `<prefix>-*` namespace
 * (with the state file or without), removes the state file. Succeeds quietly when nothing
 * exists.
 */
export async function labDown(prefix: string): Promise<void> {
  killSpawned((ns) => ns.startsWith(`${prefix}-`));
  const failures: string[] = [];
  for (const ns of labNamespaces(prefix)) {
    await killNamespacePids(ns);
    if (!(await tryRun(['ip', 'netns', 'del', ns]))) failures.push(ns);
  }
  removeLabInfo(prefix);
  if (failures.length > 0) throw new LabError(`ip netns del: could not delete ${failures.join(', ')}`);
}

/** Synchronous teardown for process 'exit' and signal handlers (no waiting on processes). */
export function labDownSync(prefix: string): void {
  killSpawned((ns) => ns.startsWith(`${prefix}-`));
  for (const ns of labNamespaces(prefix)) {
    const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', timeout: 5_000 });
    for (const p of (r.stdout ?? '').split(/\s+/).filter(Boolean).map(Number)) {
      if (p > 1 && p !== process.pid) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
    }
    spawnSync('ip', ['netns', 'del', ns], { timeout: 5_000 });
  }
  removeLabInfo(prefix);
}

/** Runs argv in the lab's host namespace (the machine under test). */
export function labHostExec(prefix: string, argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return execIn(hostNs(prefix), argv, opts);
}
