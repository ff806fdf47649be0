/**
 * The fuzzing harness: runs one target over N inputs from its fast-check
 * arbitrary (seeded, so a run is reproducible from its seed), times every
 * input, and turns the first failure into a reproducible record.
 *
 * A target's input is always bytes (text parsers decode them as UTF-8, as
 * they would a file or a socket), so every failing input can be written as
 * hex and replayed with `run.js --replay FILE`.
 *
 * A failure is:
 *   - an exception other than the target's declared error type, or a declared
 *     error whose message is not one non-empty line (checked by the target);
 *   - a violated invariant (the target throws PropertyViolation);
 *   - an input that takes longer than the per-input bound twice in a row
 *     (the second run rules out a pause of the whole process).
 * A true hang never returns; the runner (run.ts) watches each target's worker
 * and reports the input it is stuck on.
 */
import fc from 'fast-check';

/** An invariant of the parser or path under test does not hold. */
export class PropertyViolation extends Error {
  override readonly name = 'PropertyViolation';
}

export interface FuzzTarget {
  name: string;
  /** One line: what is fuzzed and which properties are checked. */
  about: string;
  /** Generated and mutated inputs. */
  input(): fc.Arbitrary<Uint8Array>;
  /** Builds the state the runs share (fakes, tables, servers). */
  setup?(): void | Promise<void>;
  /** Runs one input; throws PropertyViolation (or anything unexpected) on failure. */
  run(input: Uint8Array): void | Promise<void>;
  teardown?(): void | Promise<void>;
  /** Async targets are awaited per input. */
  async?: boolean;
  /** Outcome counts (verdicts, error kinds) so a report shows how deep the inputs went. */
  outcomes?(): Record<string, number>;
}

export interface RunOptions {
  runs: number;
  seed: number;
  /** An input slower than this (ms), twice, is a failure. */
  maxInputMs?: number;
  /** Stop generating new inputs after this long (ms); the runs done are reported. */
  timeLimitMs?: number;
  /** Time allowed for shrinking a failure (ms). */
  shrinkMs?: number;
  /** Called before each input (the runner copies it where its watchdog can see it). */
  onInput?(input: Uint8Array, index: number): void;
}

export interface FailureRecord {
  message: string;
  /** The smallest failing input found (hex). */
  hex: string;
  /** The first failing input as generated (hex), when shrinking changed it. */
  originalHex: string | null;
}

export interface TargetResult {
  name: string;
  runs: number;
  ms: number;
  seed: number;
  failure: FailureRecord | null;
  slowestMs: number;
  slowestHex: string;
  outcomes: Record<string, number>;
}

export const DEFAULT_MAX_INPUT_MS = 2000;
const DEFAULT_SHRINK_MS = 30_000;

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function fromHex(s: string): Uint8Array {
  const t = s.replace(/\s+/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(t)) throw new Error('replay file: expected hex digits');
  return new Uint8Array(Buffer.from(t, 'hex'));
}

/** A message as one line, bounded, for reports. */
export function messageOf(e: unknown): string {
  const m = e instanceof Error ? `${e.name}: ${e.message}` : `thrown non-error: ${String(e)}`;
  return m.length > 500 ? `${m.slice(0, 500)}…` : m;
}

/** The stack of an unexpected exception (first frames), for the failure record. */
function detailOf(e: unknown): string {
  if (!(e instanceof Error) || e instanceof PropertyViolation || !e.stack) return messageOf(e);
  return e.stack.split('\n').slice(0, 8).join('\n');
}

class Runner {
  runs = 0;
  slowestMs = 0;
  slowestInput: Uint8Array = new Uint8Array(0);
  firstFailure: { input: Uint8Array; message: string } | null = null;
  lastFailure: { input: Uint8Array; message: string } | null = null;
  shrinkUntil = Infinity;
  private readonly maxMs: number;

  constructor(private readonly t: FuzzTarget, private readonly o: RunOptions) {
    this.maxMs = o.maxInputMs ?? DEFAULT_MAX_INPUT_MS;
  }

  /** Whether this input passes; records timing and failures. */
  private note(input: Uint8Array, ms: number, err: unknown): boolean {
    if (this.firstFailure === null) {
      this.runs++;
      if (ms > this.slowestMs) { this.slowestMs = ms; this.slowestInput = input.slice(); }
    }
    if (err === undefined) return true;
    const f = { input: input.slice(), message: detailOf(err) };
    if (this.firstFailure === null) {
      this.firstFailure = f;
      this.shrinkUntil = performance.now() + (this.o.shrinkMs ?? DEFAULT_SHRINK_MS);
    }
    this.lastFailure = f;
    return false;
  }

  /** While shrinking past its time budget, every candidate "passes" so fast-check stops. */
  private shrinkOver(): boolean {
    return this.firstFailure !== null && performance.now() > this.shrinkUntil;
  }

  private slow(ms: number): PropertyViolation {
    return new PropertyViolation(`input took ${ms.toFixed(1)} ms twice (bound ${this.maxMs} ms)`);
  }

  sync(input: Uint8Array): boolean {
    if (this.shrinkOver()) return true;
    this.o.onInput?.(input, this.runs);
    let err: unknown;
    const t0 = performance.now();
    try { this.t.run(input); } catch (e) { err = e ?? new Error('thrown undefined'); }
    let ms = performance.now() - t0;
    if (err === undefined && ms > this.maxMs) {
      const t1 = performance.now();
      try { this.t.run(input); } catch (e) { err = e ?? new Error('thrown undefined'); }
      ms = performance.now() - t1;
      if (err === undefined && ms > this.maxMs) err = this.slow(ms);
    }
    return this.note(input, ms, err);
  }

  async async(input: Uint8Array): Promise<boolean> {
    if (this.shrinkOver()) return true;
    this.o.onInput?.(input, this.runs);
    let err: unknown;
    const t0 = performance.now();
    try { await this.t.run(input); } catch (e) { err = e ?? new Error('thrown undefined'); }
    let ms = performance.now() - t0;
    if (err === undefined && ms > this.maxMs) {
      const t1 = performance.now();
      try { await this.t.run(input); } catch (e) { err = e ?? new Error('thrown undefined'); }
      ms = performance.now() - t1;
      if (err === undefined && ms > this.maxMs) err = this.slow(ms);
    }
    return this.note(input, ms, err);
  }
}

/** Runs a target for opts.runs inputs (or until the time limit); never throws for a failing input. */
export async function runTarget(t: FuzzTarget, opts: RunOptions): Promise<TargetResult> {
  const r = new Runner(t, opts);
  await t.setup?.();
  const t0 = performance.now();
  const params: fc.Parameters<[Uint8Array]> = {
    numRuns: opts.runs,
    seed: opts.seed,
    ...(opts.timeLimitMs !== undefined ? { interruptAfterTimeLimit: opts.timeLimitMs } : {}),
  };
  try {
    if (t.async) await fc.check(fc.asyncProperty(t.input(), (x) => r.async(x)), params);
    else fc.check(fc.property(t.input(), (x) => r.sync(x)), params);
  } finally {
    await t.teardown?.();
  }
  const ms = performance.now() - t0;
  const best = r.lastFailure ?? r.firstFailure;
  let failure: FailureRecord | null = null;
  if (best && r.firstFailure) {
    const same = toHex(best.input) === toHex(r.firstFailure.input);
    failure = { message: best.message, hex: toHex(best.input), originalHex: same ? null : toHex(r.firstFailure.input) };
  }
  return {
    name: t.name, runs: r.runs, ms, seed: opts.seed, failure, slowestMs: r.slowestMs,
    slowestHex: toHex(r.slowestInput), outcomes: t.outcomes?.() ?? {},
  };
}

/** Runs one input once (a replay): the failure text, or null when it passes. */
export async function replayInput(t: FuzzTarget, input: Uint8Array): Promise<string | null> {
  await t.setup?.();
  try {
    await t.run(input);
    return null;
  } catch (e) {
    return detailOf(e);
  } finally {
    await t.teardown?.();
  }
}

/** Counts outcomes by name; targets keep one and report it through outcomes(). */
export class Tally {
  private readonly m = new Map<string, number>();
  add(k: string, n = 1): void { this.m.set(k, (this.m.get(k) ?? 0) + n); }
  toJSON(): Record<string, number> { return Object.fromEntries([...this.m].sort((a, b) => b[1] - a[1])); }
}

/** One non-empty line: the shape every declared error message must have. */
export function assertOneLine(what: string, msg: string): void {
  if (msg.length === 0) throw new PropertyViolation(`${what}: empty message`);
  if (/[\r\n]/.test(msg)) throw new PropertyViolation(`${what}: message is not one line: ${JSON.stringify(msg.slice(0, 300))}`);
}

export function check(cond: boolean, text: string | (() => string)): asserts cond {
  if (!cond) throw new PropertyViolation(typeof text === 'string' ? text : text());
}
