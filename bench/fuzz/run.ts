/**
 * The fuzzer: runs every parser target (targets/index.ts) over generated and
 * mutated inputs, each target in its own worker thread under a watchdog.
 *
 *   node dist/bench/fuzz/run.js [--runs N] [--only NAME[,NAME]] [--seed S] [--max-ms MS]
 *                               [--hang-ms MS] [--time-limit SEC] [--out DIR] [--json FILE]
 *   node dist/bench/fuzz/run.js --only NAME --replay FILE
 *   ipmp bench fuzz ...           (the same)
 *
 * N defaults to 1,000,000 inputs per target. The seed (random unless given) is
 * printed; the same seed and N give the same inputs. Per target it prints the
 * inputs run, time, rate, failures and the slowest input; a failure's input is
 * written as hex to DIR/<target>-<seed>.hex (default bench/results/fuzz) for
 * --replay. A target that stops making progress for --hang-ms (default 60 s)
 * is terminated and reported as a hang with the input it was on. Exit status:
 * 0 all passed, 1 a failure or hang, 2 usage.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { DEFAULT_MAX_INPUT_MS, fromHex, replayInput, toHex, type TargetResult } from './harness.js';
import { TARGETS } from './targets/index.js';
import type { WorkerJob } from './worker.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..', '..', '..');
const USAGE = 'usage: node dist/bench/fuzz/run.js [--runs N] [--only NAME[,NAME]] [--seed S] [--max-ms MS] [--hang-ms MS]\n'
  + '                                   [--time-limit SEC] [--out DIR] [--json FILE] [--replay FILE]\n'
  + `targets: ${Object.keys(TARGETS).join(', ')}\n`;
const INPUT_CAPACITY = 1 << 17;
/** Time a worker may take to load its target and start the first input. */
const STARTUP_MS = 120_000;

interface Options {
  runs: number;
  only: string[];
  seed: number;
  maxMs: number;
  hangMs: number;
  timeLimitSec?: number;
  out: string;
  json?: string;
  replay?: string;
}

function parseArgs(argv: string[]): Options | string {
  const o: Options = {
    runs: 1_000_000, only: Object.keys(TARGETS), seed: (Date.now() ^ (process.pid << 16)) >>> 0,
    maxMs: DEFAULT_MAX_INPUT_MS, hangMs: 60_000, out: join(REPO, 'bench', 'results', 'fuzz'),
  };
  const int = (a: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (v === undefined || !/^[0-9]+$/.test(v) || !Number.isSafeInteger(n) || n < min) throw new Error(`${a}: expected an integer >= ${min}, got ${JSON.stringify(v ?? '')}`);
    return n;
  };
  try {
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!;
      if (a === '--runs') o.runs = int(a, argv[++i], 1);
      else if (a === '--seed') o.seed = int(a, argv[++i], 0) >>> 0;
      else if (a === '--max-ms') o.maxMs = int(a, argv[++i], 1);
      else if (a === '--hang-ms') o.hangMs = int(a, argv[++i], 100);
      else if (a === '--time-limit') o.timeLimitSec = int(a, argv[++i], 1);
      else if (a === '--out') { const v = argv[++i]; if (!v) throw new Error('--out: expected a directory'); o.out = v; }
      else if (a === '--json') { const v = argv[++i]; if (!v) throw new Error('--json: expected a file'); o.json = v; }
      else if (a === '--replay') { const v = argv[++i]; if (!v) throw new Error('--replay: expected a file'); o.replay = v; }
      else if (a === '--only') {
        const v = argv[++i] ?? '';
        o.only = v.split(',').filter(Boolean);
        const bad = o.only.filter((n) => !TARGETS[n]);
        if (o.only.length === 0 || bad.length > 0) throw new Error(`--only: unknown target ${JSON.stringify(bad[0] ?? v)}`);
      } else if (a === '--help' || a === '-h') return '';
      else throw new Error(`unrecognized argument ${JSON.stringify(a)}`);
    }
  } catch (e) {
    return (e as Error).message;
  }
  if (o.replay && o.only.length !== 1) return '--replay needs exactly one target (--only NAME)';
  return o;
}

const progress = (m: string): void => { process.stderr.write(`fuzz: ${m}\n`); };

/**
 * Runs one target in a worker; a hang or a crash of the worker becomes a failure with
 * the current input. `module` (a file URL exporting TARGETS) defaults to targets/index.js.
 */
export function runInWorker(name: string, o: Pick<Options, 'runs' | 'seed' | 'maxMs' | 'hangMs' | 'timeLimitSec'>,
  module?: string): Promise<TargetResult> {
  const status = new SharedArrayBuffer(8);
  const input = new SharedArrayBuffer(INPUT_CAPACITY);
  const st = new Int32Array(status);
  const job: WorkerJob = {
    name, status, input, ...(module ? { module } : {}),
    opts: { runs: o.runs, seed: o.seed, maxInputMs: o.maxMs, ...(o.timeLimitSec ? { timeLimitMs: o.timeLimitSec * 1000 } : {}) },
  };
  const w = new Worker(join(HERE, 'worker.js'), { workerData: job });
  const t0 = performance.now();
  const current = (): string => toHex(new Uint8Array(input, 0, Math.min(Atomics.load(st, 1), INPUT_CAPACITY)));
  const failed = (message: string): TargetResult => ({
    name, runs: Math.max(0, Atomics.load(st, 0) - 1), ms: performance.now() - t0, seed: o.seed,
    failure: { message, hex: current(), originalHex: null }, slowestMs: 0, slowestHex: '', outcomes: {},
  });
  return new Promise((done) => {
    let last = -1;
    let lastMove = performance.now();
    let lastReport = performance.now();
    let settled = false;
    const finish = (r: TargetResult): void => {
      if (settled) return;
      settled = true;
      clearInterval(timer);
      void w.terminate();
      done(r);
    };
    const timer = setInterval(() => {
      const n = Atomics.load(st, 0);
      const now = performance.now();
      // Loading and setting up the target (before input 1) gets the start-up bound.
      const bound = n === 0 ? Math.max(o.hangMs, STARTUP_MS) : o.hangMs;
      if (n !== last) { last = n; lastMove = now; }
      else if (now - lastMove > bound) finish(failed(n === 0 ? `no input started within ${bound} ms` : `hang: no progress for ${bound} ms on input ${n}`));
      if (now - lastReport > 30_000) {
        lastReport = now;
        progress(`${name}: ${n} inputs, ${((now - t0) / 1000).toFixed(0)} s`);
      }
    }, 200);
    w.on('message', (m: TargetResult | { fatal: string }) => {
      if ('fatal' in m) finish(failed(`target error outside any input: ${m.fatal}`));
      else finish(m);
    });
    w.on('error', (e) => finish(failed(`worker crashed: ${e.stack ?? e.message}`)));
    w.on('exit', (code) => finish(failed(`worker exited (code ${code}) before reporting`)));
  });
}

function fmtRate(r: TargetResult): string {
  return r.ms > 0 ? `${Math.round(r.runs / (r.ms / 1000))}` : '-';
}

function table(rs: TargetResult[]): string {
  const head = ['target', 'inputs', 'time s', 'inputs/s', 'failures', 'slowest ms'];
  const rows = rs.map((r) => [r.name, String(r.runs), (r.ms / 1000).toFixed(1), fmtRate(r), r.failure ? '1' : '0', r.slowestMs.toFixed(1)]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((x) => x[i]!.length)));
  const line = (c: string[]): string => c.map((x, i) => (i === 0 ? x.padEnd(w[i]!) : x.padStart(w[i]!))).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

export async function fuzzMain(argv: string[]): Promise<number> {
  const o = parseArgs(argv);
  if (typeof o === 'string') {
    process.stderr.write(o ? `fuzz: ${o}\n${USAGE}` : USAGE);
    return o ? 2 : 0;
  }
  if (o.replay) {
    let input: Uint8Array;
    try {
      input = fromHex(readFileSync(o.replay, 'utf8'));
    } catch (e) {
      process.stderr.write(`fuzz: ${o.replay}: ${(e as Error).message.split('\n')[0]}\n`);
      return 2;
    }
    const name = o.only[0]!;
    const failure = await replayInput(TARGETS[name]!(), input);
    process.stdout.write(failure === null ? `${name}: the input passes\n` : `${name}: ${failure}\n`);
    return failure === null ? 0 : 1;
  }
  progress(`seed ${o.seed}, ${o.runs} inputs per target, targets ${o.only.join(', ')}`);
  const results: TargetResult[] = [];
  for (const name of o.only) {
    const r = await runInWorker(name, o);
    results.push(r);
    progress(`${name}: ${r.runs} inputs in ${(r.ms / 1000).toFixed(1)} s${r.failure ? ', FAILED' : ''}`);
  }
  process.stdout.write(`fuzz (seed ${o.seed}, ${o.runs} inputs per target)\n${table(results)}\n`);
  for (const r of results) {
    const top = Object.entries(r.outcomes).slice(0, 6).map(([k, v]) => `${k} ${v}`).join(', ');
    process.stdout.write(`\n${r.name}: slowest input ${r.slowestMs.toFixed(1)} ms: ${r.slowestHex.slice(0, 160)}${r.slowestHex.length > 160 ? '…' : ''}\n`);
    if (top) process.stdout.write(`${r.name}: outcomes: ${top}\n`);
    if (!r.failure) continue;
    mkdirSync(o.out, { recursive: true });
    const file = join(o.out, `${r.name}-${o.seed}.hex`);
    writeFileSync(file, `${r.failure.hex}\n`);
    process.stdout.write(`${r.name}: FAILURE: ${r.failure.message}\n${r.name}: input written to ${file}; replay: `
      + `node dist/bench/fuzz/run.js --only ${r.name} --replay ${file}\n`);
  }
  if (o.json) {
    mkdirSync(dirname(o.json), { recursive: true });
    writeFileSync(o.json, `${JSON.stringify({ date: new Date().toISOString(), seed: o.seed, runs: o.runs, results }, null, 1)}\n`);
  }
  return results.some((r) => r.failure) ? 1 : 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  fuzzMain(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e: unknown) => {
    process.stderr.write(`fuzz: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
