// Bounded worker restarts (liveness.ts): the back-off between restarts, its reset after a
// healthy run, one log line per failure, and the switch to "keeps failing" lines once
// failures repeat; the scheduler under fake timers, as the forwarding and probe workers use it;
// the status both report from it (snapshot, metrics).
import { describe, it, beforeEach, afterEach, mock } from 'node:test';
import assert from 'node:assert/strict';
import { RestartBackoff, RestartScheduler, WORKER_RESTARTS, restartLine, workerStatus } from '../../../src/daemon/liveness.js';

describe('RestartBackoff', () => {
  it('doubles the delay from 100 ms up to 30 s', () => {
    const b = new RestartBackoff();
    const delays: number[] = [];
    let t = 0;
    for (let i = 0; i < 12; i++) {
      const s = b.failed(t, 'exited (code 1)');
      delays.push(s.delayMs);
      t += s.delayMs;
    }
    assert.deepEqual(delays, [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000, 30000]);
  });

  it('counts attempts in a series and failures in the last minute; five within a minute repeat', () => {
    const b = new RestartBackoff();
    const steps = [0, 100, 300, 700, 1500].map((t) => b.failed(t, 'x'));
    assert.deepEqual(steps.map((s) => s.attempt), [1, 2, 3, 4, 5]);
    assert.deepEqual(steps.map((s) => s.recent), [1, 2, 3, 4, 5]);
    assert.deepEqual(steps.map((s) => s.repeated), [false, false, false, false, true]);
    assert.equal(b.repeating(1500), true);
    // The first failure leaves the window after 60 s; the series still repeats.
    assert.equal(b.recent(60_000), 4);
    assert.equal(b.repeating(60_000), true);
    assert.equal(b.failures, 5);
    // Until a worker has run healthily for a minute.
    b.started(61_000);
    assert.equal(b.repeating(120_999), true);
    assert.equal(b.repeating(121_000), false);
  });

  it('five failures within a minute repeat even when each series is short', () => {
    const b = new RestartBackoff();
    let t = 0;
    for (let i = 0; i < 4; i++) { b.failed(t, 'x'); t += 1000; }
    assert.equal(b.failed(t, 'x').repeated, true);
    // Slow failures in one series: 30 s apart, yet the fifth attempt repeats.
    const c = new RestartBackoff();
    const steps = [0, 30_000, 60_000, 90_000, 120_000].map((at) => c.failed(at, 'x'));
    assert.deepEqual(steps.map((s) => s.repeated), [false, false, false, false, true]);
  });

  it('starts over after a worker ran healthily for a minute, not before', () => {
    const b = new RestartBackoff();
    b.failed(0, 'x');
    b.failed(100, 'x');
    b.started(400);
    // Ran 59.9 s: still the same series.
    const s3 = b.failed(60_300, 'x');
    assert.deepEqual([s3.attempt, s3.delayMs], [3, 400]);
    b.started(61_000);
    const s4 = b.failed(121_000, 'x');
    assert.deepEqual([s4.attempt, s4.delayMs], [1, 100]);
  });

  it('a failure without a start in between never counts as healthy', () => {
    const b = new RestartBackoff();
    b.failed(0, 'x');
    const s = b.failed(120_000, 'did not get ready');
    assert.deepEqual([s.attempt, s.delayMs], [2, 200]);
    assert.equal(b.lastReason, 'did not get ready');
  });
});

describe('restartLine', () => {
  it('one line with the reason, the delay and the attempt', () => {
    const b = new RestartBackoff();
    assert.equal(restartLine('forwarding worker both', 'exited (code 1)', b.failed(0, ''), 'forwarding is down'),
      'forwarding worker both exited (code 1); restarting it in 100 ms (attempt 1)');
  });

  it('once failures repeat: says so, and what is down', () => {
    const step = { attempt: 6, delayMs: 3200, recent: 6, repeated: true };
    assert.equal(restartLine('forwarding worker both', 'exited (code 1; error: boom)', step, 'forwarding is down'),
      'forwarding worker both keeps failing (6 failures in the last 60 s, the last: exited (code 1; error: boom)); '
      + 'forwarding is down until the next attempt in 3.2 s (attempt 6)');
  });
});

describe('RestartScheduler under fake timers', () => {
  let lines: string[];
  beforeEach(() => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
    lines = [];
  });
  afterEach(() => mock.timers.reset());

  const log = (level: 'err' | 'info', text: string) => { lines.push(`${level} ${text}`); };

  it('a worker that dies at every start: spaced restarts, one line each, "keeps failing" from the fifth', () => {
    const r = new RestartScheduler('forwarding worker both', 'forwarding is down', log);
    const starts: number[] = [];
    const start = (): void => {
      starts.push(Date.now());
      r.failed('exited (code 1; error: Cannot find module)', start);
    };
    const t0 = Date.now();
    r.failed('exited (code 1)', start);
    // Ten minutes of fake time, in steps of the shortest delay (every delay is a multiple of it).
    for (let i = 0; i < 6000; i++) mock.timers.tick(100);
    const gaps = starts.map((t, i) => t - (i === 0 ? t0 : starts[i - 1]));
    assert.deepEqual(gaps.slice(0, 11), [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000]);
    assert.ok(gaps.slice(9).every((g) => g === 30_000));
    // One line per failure, no more.
    assert.equal(lines.length, starts.length + 1);
    assert.ok(starts.length < 30, `${starts.length} restarts in ten minutes`);
    assert.match(lines[0], /^err forwarding worker both exited \(code 1\); restarting it in 100 ms \(attempt 1\)$/);
    assert.match(lines[3], /^err forwarding worker both exited .*; restarting it in 800 ms \(attempt 4\)$/);
    assert.match(lines[4], /^err forwarding worker both keeps failing \(5 failures in the last 60 s, the last: exited \(code 1; error: Cannot find module\)\); forwarding is down until the next attempt in 1\.6 s \(attempt 5\)$/);
    assert.ok(lines.slice(4).every((l) => /keeps failing/.test(l)), 'every later line says it keeps failing');
    r.cancel();
  });

  it('a failure reported twice before its restart is one failure', () => {
    const r = new RestartScheduler('probe worker for g', 'probing is down', log);
    let starts = 0;
    assert.ok(r.failed('is not responding (silent for 3000 ms)', () => { starts++; }));
    assert.equal(r.failed('exited with code 1', () => { starts++; }), null);
    assert.equal(r.pending, true);
    mock.timers.tick(100);
    assert.equal(starts, 1);
    assert.equal(lines.length, 1);
    assert.equal(r.pending, false);
  });

  it('after a healthy minute the next failure restarts after 100 ms again', () => {
    const r = new RestartScheduler('forwarding worker both', 'forwarding is down', log);
    let starts = 0;
    const start = (): void => { starts++; };
    for (let i = 0; i < 4; i++) {
      r.failed('exited (code 1)', start);
      mock.timers.tick(WORKER_RESTARTS.maxMs);
    }
    assert.equal(starts, 4);
    r.started();
    mock.timers.tick(WORKER_RESTARTS.healthyMs);
    const s = r.failed('exited (code 1)', start);
    assert.deepEqual([s?.attempt, s?.delayMs], [1, 100]);
    mock.timers.tick(99);
    assert.equal(starts, 4);
    mock.timers.tick(1);
    assert.equal(starts, 5);
  });

  it('cancel drops the pending restart', () => {
    const r = new RestartScheduler('forwarding worker both', 'forwarding is down', log);
    let starts = 0;
    r.failed('exited (code 1)', () => { starts++; });
    r.cancel();
    mock.timers.tick(60_000);
    assert.equal(starts, 0);
  });

  it('workerStatus: up, restarting while a worker is not running, failing while failures repeat', () => {
    const a = new RestartScheduler('forwarding worker tx', 'forwarding is down', log);
    const b = new RestartScheduler('forwarding worker rx', 'forwarding is down', log);
    assert.deepEqual(workerStatus([a, b], true), { state: 'up', restarts: 0, recentFailures: 0, lastFailure: null });
    a.failed('exited (code 1)', () => undefined);
    assert.deepEqual(workerStatus([a, b], false), { state: 'restarting', restarts: 1, recentFailures: 1, lastFailure: 'exited (code 1)' });
    mock.timers.tick(100);
    a.started();
    assert.equal(workerStatus([a, b], true).state, 'up');
    for (let i = 0; i < 4; i++) {
      b.failed(`stalled ${i}`, () => undefined);
      mock.timers.tick(1000);
    }
    // Each worker's failures count on their own: four of b and one of a are not repeated failure.
    let s = workerStatus([a, b], true);
    assert.deepEqual([s.state, s.restarts, s.recentFailures], ['up', 5, 5]);
    b.failed('stalled 4', () => undefined);
    s = workerStatus([a, b], false);
    assert.deepEqual([s.state, s.restarts, s.recentFailures], ['failing', 6, 6]);
    assert.equal(s.lastFailure, 'exited (code 1)');
    assert.equal(workerStatus([b], false).lastFailure, 'stalled 4');
    // Failing until b has run healthily for a minute.
    mock.timers.tick(WORKER_RESTARTS.maxMs);
    b.started();
    mock.timers.tick(WORKER_RESTARTS.healthyMs - 1);
    assert.equal(workerStatus([a, b], true).state, 'failing');
    mock.timers.tick(1);
    assert.deepEqual(workerStatus([a, b], true), { state: 'up', restarts: 6, recentFailures: 0, lastFailure: 'exited (code 1)' });
  });
});
