// Per-NIC throughput for `ipmp lab demo`, from the kernel counters of the host NICs
// (/sys/class/net/<nic>/statistics/{tx,rx}_bytes, read with one `cat` inside the host
// namespace per sample), grouped by the phase of the demo the sample was taken in; and the
// demo's output formatting.

import { execIn } from './exec.js';

export interface Sample {
  /** Monotonic time of the read (ms). */
  atMs: number;
  /** tx_bytes + rx_bytes per NIC, in NIC order. */
  bytes: number[];
}

export interface Rate {
  /** Seconds since the traffic started, at the end of the interval. */
  t: number;
  phase: string;
  /** Mbit/s per NIC over the interval (tx + rx). */
  mbps: number[];
}

function nowMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}

/** Reads tx_bytes + rx_bytes of each NIC in `ns` with one command. */
export async function readCounters(ns: string, nics: readonly string[]): Promise<Sample> {
  const files = nics.flatMap((n) => [`/sys/class/net/${n}/statistics/tx_bytes`, `/sys/class/net/${n}/statistics/rx_bytes`]);
  const { stdout } = await execIn(ns, ['cat', ...files], { timeoutMs: 3_000 });
  const values = stdout.trim().split(/\s+/).map(Number);
  if (values.length !== files.length || values.some((v) => !Number.isFinite(v))) {
    throw new Error(`unexpected counter output from ${ns}: ${stdout.trim().slice(0, 80)}`);
  }
  return { atMs: nowMs(), bytes: nics.map((_, i) => values[2 * i] + values[2 * i + 1]) };
}

/** Mbit/s per NIC between two samples. */
export function rates(a: Sample, b: Sample): number[] {
  const sec = Math.max(1e-3, (b.atMs - a.atMs) / 1000);
  return b.bytes.map((v, i) => ((v - a.bytes[i]) * 8) / sec / 1e6);
}

/** Fixed-width Mbit/s figure: "  4120". */
export function mbit(v: number): string {
  return Math.round(v).toString().padStart(6);
}

/** One status line: `t= 3s  eth0   4120  eth1   3980 Mbit/s  ping ok`. */
export function rateLine(r: Rate, nics: readonly string[], ping: string): string {
  const cols = nics.map((n, i) => `${n} ${mbit(r.mbps[i])}`).join('  ');
  return `  t=${String(r.t).padStart(2)}s  ${cols} Mbit/s  ${ping}`;
}

/**
 * Mean Mbit/s per NIC over the samples of one phase, leaving out its first `skip` samples
 * (the transition); null when the phase has no samples left.
 */
export function phaseMean(all: readonly Rate[], phase: string, nicCount: number, skip = 0): number[] | null {
  const rs = all.filter((r) => r.phase === phase).slice(skip);
  if (rs.length === 0) return null;
  return Array.from({ length: nicCount }, (_, i) => rs.reduce((s, r) => s + r.mbps[i], 0) / rs.length);
}

/**
 * Samples every second until stopped, calling onRate with each interval's rates. The clock
 * is fixed at start, so a slow read shifts one interval, not the ones after it.
 */
export class Sampler {
  readonly rates: Rate[] = [];
  private stopped = false;
  private loop: Promise<void> | null = null;
  first: Sample | null = null;
  last: Sample | null = null;

  constructor(private readonly ns: string, private readonly nics: readonly string[],
    private readonly phase: () => string, private readonly onRate: (r: Rate) => void,
    private readonly maxTicks: number) {}

  async start(): Promise<void> {
    this.first = await readCounters(this.ns, this.nics);
    this.last = this.first;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    const t0 = this.first!.atMs;
    for (let tick = 1; tick <= this.maxTicks && !this.stopped; tick++) {
      const wait = t0 + tick * 1000 - nowMs();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (this.stopped) break;
      const s = await readCounters(this.ns, this.nics);
      const r: Rate = { t: Math.round((s.atMs - t0) / 1000), phase: this.phase(), mbps: rates(this.last!, s) };
      this.last = s;
      this.rates.push(r);
      this.onRate(r);
    }
  }

  /** Stops after the sample in progress; rejects with the sampling error, if any. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  /** Bytes per NIC (tx + rx) between the first and the last sample. */
  totals(): number[] {
    if (!this.first || !this.last) return this.nics.map(() => 0);
    return this.last.bytes.map((v, i) => v - this.first!.bytes[i]);
  }
}

/** The summary: mean Mbit/s per phase, bytes per NIC, and the given ping line. */
export function summaryLines(s: Sampler, nics: readonly string[], failed: string, ping: string): string {
  const fmt = (m: number[] | null): string => (m ? nics.map((n, i) => `${n} ${Math.round(m[i])}`).join(' / ') : 'n/a');
  const totals = s.totals().map((b, i) => `${nics[i]} ${(b / 1e9).toFixed(2)} GB`).join(', ');
  return [
    'summary:',
    `  mean Mbit/s: before ${fmt(phaseMean(s.rates, 'spread', nics.length))};  `
      + `${failed} failed ${fmt(phaseMean(s.rates, 'failed', nics.length, 1))};  `
      + `repaired ${fmt(phaseMean(s.rates, 'repaired', nics.length, 1))}`,
    `  total ${totals}; ${ping}`,
  ].join('\n');
}

export function indent(block: string, pad = '    '): string {
  return block.split('\n').map((l) => `${pad}${l}`).join('\n');
}

/** A delay measured against a log polled every 50-100 ms. */
export function after(ms: number): string {
  return ms < 100 ? 'within 0.1 s' : `${(ms / 1000).toFixed(1)} s`;
}
