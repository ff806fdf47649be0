import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RttEstimator } from '../../../../src/control/detectors/rtt.js';

const MS = 1e6;
const PI = 1428 * MS;

test('first sample gives crtt = 3m, later samples smooth', () => {
  const r = new RttEstimator();
  assert.equal(r.crtt, 0);
  r.sample(1 * MS, true, PI);
  assert.deepEqual([r.sa, r.sv, r.crtt], [8 * MS, 2 * MS, 3 * MS]);
  r.sample(2 * MS, true, PI);
  assert.deepEqual([r.sa, r.sv, r.crtt], [9 * MS, 2.5 * MS, 3.625 * MS]);
  r.sample(1 * MS, true, PI);
  // err = 1 - 1.125 = -0.125; sa = 8.875; sv = 2.5 + 0.125 - 0.625 = 2.0
  assert.deepEqual([r.sa, r.sv], [8.875 * MS, 2 * MS]);
  assert.equal(r.crtt, Math.floor((8.875 * MS) / 8) + 2 * MS);
  assert.equal(r.avgNs, Math.floor((8.875 * MS) / 8));
  assert.equal(r.devNs, 0.5 * MS);
});

test('the average never goes negative', () => {
  const r = new RttEstimator();
  r.sample(8, true, PI);
  r.sample(0, true, PI);
  assert.ok(r.sa >= 0);
});

test('one suspect sample is deferred, the next one folds both in', () => {
  const r = new RttEstimator();
  const pi = 10 * MS;
  r.sample(1 * MS, true, pi);
  assert.equal(r.sample(20 * MS, true, pi), false);
  assert.equal(r.crtt, 3 * MS, 'deferred');
  assert.equal(r.sample(20 * MS, true, pi), true);
  // 1 ms → sa 8, sv 2; 20 ms → err 19, sa 27, sv 2 + 19 - 0.5 = 20.5; 20 ms → err 16.625, sa 43.625, sv 20.5 + 16.625 - 5.125 = 32
  assert.deepEqual([r.sa, r.sv], [43.625 * MS, 32 * MS]);
});

test('a normal sample drops a deferred one', () => {
  const r = new RttEstimator();
  const pi = 10 * MS;
  r.sample(1 * MS, true, pi);
  r.sample(20 * MS, true, pi);
  r.sample(1 * MS, true, pi);
  assert.equal(r.crtt, Math.floor((8 * MS) / 8) + Math.floor(2 * MS - 0.5 * MS));
  assert.equal(r.sample(20 * MS, true, pi), false, 'deferred again, not folded');
});

test('RTT probes only lower crtt', () => {
  const r = new RttEstimator();
  assert.equal(r.sample(1 * MS, false, PI), false, 'unknown crtt is not lowered');
  r.sample(4 * MS, true, PI);
  assert.equal(r.sample(8 * MS, false, PI), false);
  assert.equal(r.crtt, 12 * MS);
  assert.equal(r.sample(4 * MS, false, PI), true);
  assert.equal(r.crtt, 10 * MS);
  r.reset();
  assert.deepEqual([r.sa, r.sv, r.crtt], [-1, 0, 0]);
});
