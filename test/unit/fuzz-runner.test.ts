/**
 * The fuzz runner itself: a failing input is found, shrunk and replayable; a
 * slow input is a failure only when it is slow twice; a hang is stopped by the
 * watchdog and reported with the input it was on; an exception outside any
 * input is reported, not lost.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromHex, replayInput, runTarget } from '../../bench/fuzz/harness.js';
import { runInWorker } from '../../bench/fuzz/run.js';
import { TARGETS } from './fuzz-runner-fixtures.js';

const FIXTURES = new URL('./fuzz-runner-fixtures.js', import.meta.url).href;

test('an unexpected exception is a failure, shrunk to a minimal input that replays', async () => {
  const r = await runTarget(TARGETS.throws!(), { runs: 2000, seed: 1 });
  assert.ok(r.failure, 'the failing input was found');
  assert.match(r.failure.message, /TypeError/);
  assert.equal(r.failure.hex, 'c9', 'shrunk to the smallest failing input');
  assert.ok(r.runs < 2000);
  const again = await replayInput(TARGETS.throws!(), fromHex(r.failure.hex));
  assert.match(again ?? '', /TypeError/);
  assert.equal(await replayInput(TARGETS.throws!(), fromHex('c8')), null);
});

test('an input slower than the bound twice is a failure; the slowest input is reported', async () => {
  const r = await runTarget(TARGETS.slow!(), { runs: 3000, seed: 2, maxInputMs: 30 });
  assert.ok(r.failure);
  assert.match(r.failure.message, /took .* ms twice \(bound 30 ms\)/);
  assert.ok(r.failure.hex.startsWith('ff'));
  const ok = await runTarget(TARGETS.slow!(), { runs: 300, seed: 2, maxInputMs: 1000 });
  assert.equal(ok.failure, null);
  if (ok.slowestHex.startsWith('ff')) assert.ok(ok.slowestMs >= 60);
});

test('a hang is stopped by the watchdog and reported with its input', async () => {
  const r = await runInWorker('hang', { runs: 1000, seed: 3, maxMs: 1000, hangMs: 2000 }, FIXTURES);
  assert.ok(r.failure);
  assert.match(r.failure.message, /^hang: no progress for 2000 ms on input 50/);
  assert.equal(r.runs, 49);
  assert.ok(r.failure.hex.length >= 2);
});

test('an exception outside any input (from a timer) is reported as a failure', async () => {
  const r = await runInWorker('crashes', { runs: 100000, seed: 4, maxMs: 1000, hangMs: 5000 }, FIXTURES);
  assert.ok(r.failure);
  assert.match(r.failure.message, /thrown from a timer/);
});
