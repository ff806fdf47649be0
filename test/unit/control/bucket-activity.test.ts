import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BucketActivity, BUCKET_IDLE_NS } from '../../../src/control/bucket-activity.js';
import { BUCKET_COUNT } from '../../../src/control/glossary.js';
import { EventKind } from '../../../src/control/group.js';
import { group, nicConfig } from './fixtures.js';

test('a bucket is busy from the sample where its count moved until BUCKET_IDLE_NS later', () => {
  const a = new BucketActivity();
  const counts = new Float64Array(BUCKET_COUNT);
  a.observe(0, counts);
  assert.equal(a.busy(7), false, 'never moved: idle');
  counts[7] = 3;
  a.observe(100, counts);
  assert.equal(a.busy(7), true);
  assert.equal(a.busy(8), false);
  a.observe(100 + BUCKET_IDLE_NS - 1, counts);
  assert.equal(a.busy(7), true);
  a.observe(100 + BUCKET_IDLE_NS, counts);
  assert.equal(a.busy(7), false);
  counts[7] = 4;
  a.observe(200 + BUCKET_IDLE_NS, counts);
  assert.equal(a.busy(7), true);
});

test('controller: a NIC added while its home buckets carry traffic gets them once they are idle', () => {
  const c = group([{}, {}]);
  const counts = new Float64Array(BUCKET_COUNT).fill(1);
  c.observeBuckets(10, counts);
  const before = Uint8Array.from(c.buckets.owner);
  const fx = c.addNic(nicConfig(2), 10);
  assert.deepEqual(fx.bucketChanges, [], 'every bucket is busy: nothing moves');
  assert.deepEqual([...c.buckets.owner], [...before]);
  assert.ok(c.lentBuckets() > 0);
  const gen = c.generation;
  c.observeBuckets(10 + BUCKET_IDLE_NS / 2, counts);
  assert.equal(c.handOverIdle().changed, false);
  c.observeBuckets(10 + BUCKET_IDLE_NS, counts);
  const h = c.handOverIdle();
  assert.equal(h.changed, true);
  assert.ok(h.bucketChanges.length > 0);
  assert.equal(c.generation, gen + 1);
  for (const b of h.bucketChanges) assert.equal(c.buckets.owner[b], 2);
  assert.equal(c.lentBuckets(), 0);
});

test('controller: a NIC that appears with its link down and comes up later still leaves busy buckets where they are', () => {
  const c = group([{}, {}, { mac: null }]);
  const counts = new Float64Array(BUCKET_COUNT).fill(1);
  c.observeBuckets(10, counts);
  const before = Uint8Array.from(c.buckets.owner);
  const appeared = c.handle({ kind: EventKind.NIC_APPEARED, nic: 2, mac: '02:00:00:00:00:02', linkUp: false }, 10);
  assert.deepEqual(appeared.bucketChanges, [], 'activated and failed within one step: no bucket moves');
  assert.deepEqual(appeared.moves, []);
  const up = c.handle({ kind: EventKind.LINK_UP, nic: 2, linkUpRepairAllowed: true }, 20);
  assert.deepEqual(up.bucketChanges, [], 'busy buckets stay with their holders');
  assert.deepEqual([...c.buckets.owner], [...before]);
  assert.ok(c.lentBuckets() > 0);
});
