// The soak's result: what was injected and how each fault went, the transfers (those that
// ran across a daemon kill apart from the others), daemon crashes, leak checks; the verdict;
// and the text summary printed at the end.

import type { ProcStats } from './daemon.js';
import { ALL_DOWN, KINDS } from './faults.js';
import type { LeakCheck } from './leaks.js';
import type { TransferRecord } from './traffic.js';

export interface FaultRecord {
  n: number;
  kind: string;
  nic: string;
  detail: string;
  /** ms since the soak's start. */
  at: number;
  detectMs: number | null;
  holdMs: number;
  settleMs: number | null;
  ok: boolean;
  error: string;
  /** The daemon's log from the fault's start, when it failed. */
  log: string;
  /** The fault went wrong and only a daemon restart brought the group back. */
  recoveredByRestart: boolean;
  /** The fault was undone before it went wrong. */
  undone: boolean;
}

export interface CrashRecord { at: number; exit: string; log: string }
export interface KillWindow { at: number; until: number }
export interface InstanceRecord {
  n: number;
  pid: number;
  startedAt: number;
  /** ms since the soak's start when it was killed or stopped, -1 while it runs. */
  endedAt: number;
  base: ProcStats | null;
  end: ProcStats | null;
  peakRssKb: number;
  /** RSS at its last sample. */
  lastRssKb: number;
  /** [seconds since this instance started, VmRSS kB], every few seconds. */
  rss: [number, number][];
}

/**
 * RSS trend of one instance: least-squares slope over the second half of its samples (the
 * first half is warm-up: heap growth to its working size), in MB per minute.
 */
export function rssSlopeMbPerMin(samples: readonly [number, number][]): number | null {
  const xs = samples.slice(Math.floor(samples.length / 2));
  if (xs.length < 6) return null;
  const n = xs.length;
  const mt = xs.reduce((a, [t]) => a + t, 0) / n;
  const mr = xs.reduce((a, [, r]) => a + r, 0) / n;
  let num = 0;
  let den = 0;
  for (const [t, r] of xs) { num += (t - mt) * (r - mr); den += (t - mt) ** 2; }
  return den > 0 ? ((num / den) * 60) / 1024 : null;
}

export interface KindStats {
  injected: number;
  ok: number;
  detectMs: { median: number; max: number } | null;
  settleMs: { median: number; max: number } | null;
}

export interface TransferStats {
  transfers: number;
  completed: number;
  /** Still running when the soak stopped early; not counted as failed. */
  unfinished: number;
  failed: number;
  bytesVerified: number;
  /** Transfers where an end saw ECONNRESET or EPIPE. */
  resets: number;
  timeouts: number;
  codes: Record<string, number>;
  failures: { id: number; dir: string; src: string; dst: string; startedAt: number; endedAt: number; why: string }[];
}

export interface SoakResult {
  seed: number;
  options: object;
  seconds: number;
  tun: string;
  faults: FaultRecord[];
  transfers: TransferRecord[];
  orphanReceives: number;
  kills: KillWindow[];
  crashes: CrashRecord[];
  instances: InstanceRecord[];
  leaks: LeakCheck[];
  problems: string[];
  logTail: string;
  namespacesLeft: string[];
  byKind?: Record<string, KindStats>;
  /** Transfers that did not span a daemon kill. */
  clean?: TransferStats;
  /** Transfers that were running while a daemon was killed and restarted. */
  acrossKill?: TransferStats;
  ok?: boolean;
}

function spread(xs: number[]): { median: number; max: number } | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor((s.length - 1) / 2)], max: s[s.length - 1] };
}

function transferStats(ts: TransferRecord[]): TransferStats {
  const codes: Record<string, number> = {};
  for (const t of ts) for (const c of t.codes) codes[c] = (codes[c] ?? 0) + 1;
  const has = (t: TransferRecord, cs: string[]): boolean => t.codes.some((c) => cs.includes(c));
  const failed = ts.filter((t) => !t.ok && !t.unfinished);
  const unfinished = ts.filter((t) => t.unfinished).length;
  return {
    transfers: ts.length,
    completed: ts.length - failed.length - unfinished,
    unfinished,
    failed: failed.length,
    bytesVerified: ts.filter((t) => t.ok).reduce((a, t) => a + (t.recv?.bytes ?? 0), 0),
    resets: ts.filter((t) => has(t, ['ECONNRESET', 'EPIPE'])).length,
    timeouts: ts.filter((t) => has(t, ['TIMEOUT', 'ETIMEDOUT'])).length,
    codes,
    failures: failed.map((t) => ({ id: t.id, dir: t.dir, src: t.src, dst: t.dst, startedAt: t.startedAt, endedAt: t.endedAt, why: t.failure })),
  };
}

/** Fills byKind, clean, acrossKill and the verdict. */
export function summarize(r: SoakResult): SoakResult {
  const byKind: Record<string, KindStats> = {};
  const kinds: string[] = r.faults.some((f) => f.kind === ALL_DOWN) ? [...KINDS, ALL_DOWN] : [...KINDS];
  for (const k of kinds) {
    const fs = r.faults.filter((f) => f.kind === k);
    byKind[k] = {
      injected: fs.length,
      ok: fs.filter((f) => f.ok).length,
      detectMs: spread(fs.filter((f) => f.detectMs !== null).map((f) => f.detectMs as number)),
      settleMs: spread(fs.filter((f) => f.ok && f.settleMs !== null).map((f) => f.settleMs as number)),
    };
  }
  r.byKind = byKind;
  r.clean = transferStats(r.transfers.filter((t) => !t.spansKill));
  r.acrossKill = transferStats(r.transfers.filter((t) => t.spansKill));
  const why = [...r.problems];
  const badFaults = r.faults.filter((f) => !f.ok);
  if (badFaults.length) why.push(`${badFaults.length} fault(s) did not produce the expected state`);
  if (r.clean.failed) why.push(`${r.clean.failed} transfer(s) not spanning a kill failed`);
  if (r.clean.completed === 0) why.push('no transfer completed');
  if (r.crashes.length) why.push(`ipmpd died ${r.crashes.length} time(s)`);
  for (const l of r.leaks) if (!l.ok) why.push(`leak check '${l.what}': ${l.detail}`);
  r.problems = why;
  r.ok = why.length === 0;
  return r;
}

function ms(x: { median: number; max: number } | null): string {
  return x ? `${x.median} / ${x.max}` : '-';
}

function gb(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

function transferLine(label: string, t: TransferStats): string {
  const codes = Object.entries(t.codes).map(([c, n]) => `${c} ${n}`).join(', ');
  return `${label}: ${t.transfers} transfers, ${t.completed} completed byte-identical, ${t.failed} failed`
    + `${t.unfinished ? `, ${t.unfinished} unfinished` : ''}; `
    + `${gb(t.bytesVerified)} verified; resets ${t.resets}, timeouts ${t.timeouts}${codes ? ` (${codes})` : ''}`;
}

export function formatSummary(r: SoakResult): string {
  const out: string[] = [];
  out.push(`ipmp soak: seed ${r.seed}, ${r.faults.length} faults, ${r.seconds.toFixed(0)} s — ${r.ok ? 'PASS' : 'FAIL'}`);
  out.push('', 'fault     injected  ok   detect ms (median / max)  settle ms (median / max)');
  for (const [k, s] of Object.entries(r.byKind ?? {})) {
    out.push(`${k.padEnd(9)} ${String(s.injected).padStart(8)}  ${String(s.ok).padStart(3)}   ${ms(s.detectMs).padEnd(26)}${ms(s.settleMs)}`);
  }
  out.push('');
  if (r.clean) out.push(transferLine('transfers', r.clean));
  if (r.acrossKill) out.push(transferLine('across a kill -9', r.acrossKill));
  for (const f of [...(r.clean?.failures ?? []), ...(r.acrossKill?.failures ?? [])].slice(0, 10)) {
    out.push(`  #${f.id} ${f.dir} ${f.src || '*'}→${f.dst} [${(f.startedAt / 1000).toFixed(1)}–${(f.endedAt / 1000).toFixed(1)} s]: ${f.why}`);
  }
  out.push(`ipmpd instances: ${r.instances.length} (restarts after kill -9 or for recovery: ${r.kills.length}, crashes: ${r.crashes.length})`);
  const life = (i: InstanceRecord): number => (i.endedAt < 0 ? r.seconds * 1000 : i.endedAt) - i.startedAt;
  const longest = [...r.instances].sort((a, b) => life(b) - life(a))[0];
  if (longest?.base) {
    const mb = (kb: number): string => (kb / 1024).toFixed(1);
    const slope = rssSlopeMbPerMin(longest.rss);
    out.push(`longest-lived ipmpd #${longest.n}: ${(life(longest) / 1000).toFixed(0)} s, RSS ${mb(longest.base.rssKb)} MB after start, `
      + `${mb(longest.lastRssKb)} MB at its last sample, peak ${mb(longest.peakRssKb)} MB`
      + `${slope === null ? '' : `, trend over its second half ${slope >= 0 ? '+' : ''}${slope.toFixed(2)} MB/min`}`);
  }
  out.push('', 'leak checks:');
  for (const l of r.leaks) out.push(`  ${l.ok ? 'ok  ' : 'FAIL'} ${l.what}: ${l.detail}`);
  const bad = r.faults.filter((f) => !f.ok);
  if (bad.length) {
    out.push('', 'faults that went wrong:');
    for (const f of bad.slice(0, 10)) {
      out.push(`  #${f.n} ${f.kind} ${f.nic} at ${(f.at / 1000).toFixed(1)} s${f.recoveredByRestart ? ' (recovered by restarting ipmpd)' : ''}: ${f.error}`);
    }
  }
  if (!r.ok) out.push('', 'problems:', ...r.problems.map((p) => `  ${p}`));
  return `${out.join('\n')}\n`;
}
