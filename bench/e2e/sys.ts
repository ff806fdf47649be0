// Measurement plumbing for the end-to-end benchmark: NIC counters of a namespace (read from
// /proc/<pid>/net/dev of a process living there, so sampling spawns nothing), process CPU
// time and RSS, statistics, progress output, and bounded sleeps.

import { readFileSync, readdirSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { spawnIn } from '../../src/lab/lab.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Progress line on stderr. */
export function progress(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

export interface NicCounters {
  txBytes: number;
  txPackets: number;
  rxBytes: number;
  rxPackets: number;
}

/**
 * A long-lived idle process inside a namespace; its /proc/<pid>/net/dev shows that namespace's
 * interface counters. The process ends with the lab (spawnIn children are killed by labDown)
 * and is bounded in time anyway.
 */
export class NsAnchor {
  private readonly proc: ChildProcess;
  constructor(ns: string) {
    this.proc = spawnIn(ns, ['sleep', '1800'], { stdio: 'ignore' });
  }

  get pid(): number { return this.proc.pid ?? -1; }

  /** Counters of every interface in the namespace, by name. */
  counters(): Map<string, NicCounters> {
    const text = readFileSync(`/proc/${this.pid}/net/dev`, 'utf8');
    const out = new Map<string, NicCounters>();
    for (const line of text.split('\n').slice(2)) {
      const m = /^\s*([^:]+):\s*(.*)$/.exec(line);
      if (!m) continue;
      const f = m[2].trim().split(/\s+/).map(Number);
      out.set(m[1], { rxBytes: f[0], rxPackets: f[1], txBytes: f[8], txPackets: f[9] });
    }
    return out;
  }

  /** Waits until the anchor has entered the namespace (ip netns exec has exec'd sleep). */
  async ready(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      try {
        if (readFileSync(`/proc/${this.pid}/comm`, 'utf8').trim() === 'sleep') return;
      } catch { /* not yet */ }
      await sleep(20);
    }
    throw new Error('namespace anchor did not start');
  }

  stop(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }
}

/** Per-NIC deltas between two counter snapshots. */
export function deltas(a: Map<string, NicCounters>, b: Map<string, NicCounters>, nics: readonly string[]):
  Record<string, NicCounters> {
  const out: Record<string, NicCounters> = {};
  for (const n of nics) {
    const x = a.get(n);
    const y = b.get(n);
    if (!x || !y) { out[n] = { txBytes: 0, txPackets: 0, rxBytes: 0, rxPackets: 0 }; continue; }
    out[n] = {
      txBytes: y.txBytes - x.txBytes, txPackets: y.txPackets - x.txPackets,
      rxBytes: y.rxBytes - x.rxBytes, rxPackets: y.rxPackets - x.rxPackets,
    };
  }
  return out;
}

const CLK_TCK = 100;

/** CPU time (user + system, all threads, in µs) of a process from /proc/PID/stat. */
export function cpuMicros(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state); utime and stime are fields 14 and 15.
  return ((Number(f[11]) + Number(f[12])) * 1e6) / CLK_TCK;
}

/** On-CPU time in µs summed over the threads alive now (ns resolution, from schedstat). */
export function schedMicros(pid: number): number {
  let ns = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try { ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]); } catch { /* gone */ }
  }
  return ns / 1000;
}

/** Resident set size in kB (VmRSS). */
export function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

export function median(xs: readonly number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

export function range(xs: readonly number[]): [number, number] {
  const v = xs.filter((x) => Number.isFinite(x));
  return v.length ? [Math.min(...v), Math.max(...v)] : [NaN, NaN];
}
