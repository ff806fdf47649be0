// Collected measurements: every run's value per scenario and metric, the raw per-run records
// for --json, and the summary table (medians, ranges, ratios against the baselines, targets).

import { median, range } from './sys.js';

export interface Metric {
  unit: string;
  runs: number[];
}

export interface Scenario {
  title: string;
  metrics: Record<string, Metric>;
  /** Set when the scenario could not run (with the reason). */
  skipped?: string;
}

export interface TraceSample {
  /** Seconds since the start of the trace. */
  t: number;
  /** Mbit/s sent on each NIC over the last interval. */
  mbps: Record<string, number>;
}

export interface Trace {
  nics: string[];
  samples: TraceSample[];
  events: { t: number; what: string }[];
}

export class Results {
  readonly scenarios: Record<string, Scenario> = {};
  readonly raw: { scenario: string; run: number; [k: string]: unknown }[] = [];
  trace: Trace | null = null;

  scenario(key: string, title: string): Scenario {
    this.scenarios[key] ??= { title, metrics: {} };
    return this.scenarios[key];
  }

  add(key: string, metric: string, unit: string, value: number): void {
    const s = this.scenarios[key];
    if (!s) throw new Error(`unknown scenario ${key}`);
    s.metrics[metric] ??= { unit, runs: [] };
    s.metrics[metric].runs.push(value);
  }

  skip(key: string, title: string, why: string): void {
    this.scenario(key, title).skipped = why;
  }

  med(key: string, metric: string): number {
    return median(this.scenarios[key]?.metrics[metric]?.runs ?? []);
  }
}

/** One line of the summary table. */
export interface Row {
  scenario: string;
  what: string;
  value: number;
  lo: number;
  hi: number;
  unit: string;
  baseline?: { name: string; value: number };
  /** Value compared with the target: a ratio, or the metric itself. */
  ratio?: number;
  target?: string;
  met?: boolean;
}

export function row(r: Results, key: string, metric: string, what: string, extra: Partial<Row> = {}): Row | null {
  const m = r.scenarios[key]?.metrics[metric];
  if (!m || m.runs.length === 0) return null;
  const [lo, hi] = range(m.runs);
  return { scenario: r.scenarios[key].title, what, value: median(m.runs), lo, hi, unit: m.unit, ...extra };
}

export function fmt(x: number | undefined, digits = 3): string {
  if (x === undefined || !Number.isFinite(x)) return '-';
  const a = Math.abs(x);
  if (a >= 1000) return x.toFixed(0);
  if (a >= 100) return x.toFixed(Math.max(0, digits - 3));
  if (a >= 10) return x.toFixed(Math.max(1, digits - 2));
  return x.toFixed(Math.max(2, digits - 1));
}

/** A plain-text table (also valid Markdown). */
export function table(rows: Row[], skipped: { title: string; why: string }[]): string {
  const head = ['scenario', 'measure', 'ipmp median', 'range', 'baseline', 'ratio', 'target', 'met'];
  const body = rows.map((x) => [
    x.scenario,
    x.what,
    `${fmt(x.value)} ${x.unit}`,
    `${fmt(x.lo)}–${fmt(x.hi)}`,
    x.baseline ? `${x.baseline.name} ${fmt(x.baseline.value)}` : '',
    x.ratio !== undefined ? `${fmt(x.ratio)}` : '',
    x.target ?? '',
    x.met === undefined ? '' : x.met ? 'yes' : 'NO',
  ]);
  for (const s of skipped) body.push([s.title, `skipped: ${s.why}`, '', '', '', '', '', '']);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(w[i])).join(' | ')} |`;
  return [line(head), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...body.map(line)].join('\n');
}
