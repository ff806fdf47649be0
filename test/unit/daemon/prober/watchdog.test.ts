/** The probe worker watchdog: silence counts only while the main thread runs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Watchdog } from '../../../../src/daemon/prober/watchdog.js';

const MS = 1e6;

function wd(): Watchdog {
  return new Watchdog(0, 3000 * MS, 250 * MS, 250 * MS);
}

test('a worker that keeps posting is never stuck', () => {
  const w = wd();
  for (let t = 250; t <= 60_000; t += 250) {
    if (t % 500 === 0) w.alive();
    assert.equal(w.tick(t * MS), false, `at ${t} ms`);
  }
});

test('a silent worker is stuck after 3 s of ticks on time', () => {
  const w = wd();
  let at = -1;
  for (let t = 250; t <= 10_000 && at < 0; t += 250) if (w.tick(t * MS)) at = t;
  assert.equal(at, 3000);
});

test('a main-thread stall does not count: only the expected tick interval of a late tick', () => {
  const w = wd();
  assert.equal(w.tick(250 * MS), false);
  // The main thread stalls for 20 s: the worker's heartbeats queue up meanwhile.
  assert.equal(w.tick(20_250 * MS), false);
  assert.equal(w.silenceNs, 500 * MS);
  w.alive();
  assert.equal(w.silenceNs, 0);
  assert.equal(w.tick(20_500 * MS), false);
});

test('a tick late by less than the slack counts in full; reset starts over', () => {
  const w = wd();
  w.tick(400 * MS);
  assert.equal(w.silenceNs, 400 * MS);
  w.reset(500 * MS);
  assert.equal(w.silenceNs, 0);
  assert.equal(w.tick(750 * MS), false);
  assert.equal(w.silenceNs, 250 * MS);
});
