// The RX path's conflict guard with an explicit clock: one defence and one report per address
// per CONFLICT_INTERVAL_MS, and a bounded number of reports overall however many addresses
// are claimed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONFLICT_INTERVAL_MS, ConflictGuard } from '../../../src/dataplane/conflicts.js';
import { TableReader } from '../../../src/dataplane/table-reader.js';
import { Counters, D, X_DEFENCES } from '../../../src/tables/counters.js';
import { CK_DATA, ConflictRing } from '../../../src/tables/conflicts.js';
import { H_ACK_RX } from '../../../src/tables/shared-tables.js';
import { FakePacketPort } from '../../fakes/ports.js';
import { twoNicGroup } from '../../fakes/group.js';

function guard() {
  const g = twoNicGroup();
  const t = new TableReader(g.view, H_ACK_RX);
  t.refresh();
  const port = new FakePacketPort();
  const ring = new ConflictRing();
  const counters = new Counters();
  return { port, ring, counters, guard: new ConflictGuard(t, counters, port, new ConflictRing(ring.sab)) };
}

/** A buffer with an IPv4 address at 0 and a foreign MAC at 4. */
function claimBytes(last: number): Uint8Array {
  return new Uint8Array([198, 18, 0, last, 0x02, 0xde, 0xad, 0, 0, 1]);
}

test('one report and one defence per address per interval; every claim is counted', () => {
  const r = guard();
  const t0 = 1_000_000;
  const b = claimBytes(10);
  r.guard.claim(4, b, 0, 4, 0, CK_DATA, 0, t0);
  r.guard.claim(4, b, 0, 4, 0, CK_DATA, 0, t0 + 1);
  r.guard.claim(4, b, 0, 4, 0, CK_DATA, 0, t0 + CONFLICT_INTERVAL_MS - 1);
  assert.equal(r.ring.poll().reports.length, 1);
  assert.equal(r.port.sent.length, 1);
  r.guard.claim(4, b, 0, 4, 0, CK_DATA, 0, t0 + CONFLICT_INTERVAL_MS);
  assert.equal(r.ring.poll().reports.length, 1, 'reported again after the interval');
  assert.equal(r.port.sent.length, 2);
  assert.equal(r.counters.drops(D.conflict), 4);
  assert.equal(r.counters.extraValue(X_DEFENCES), 2);
});

test('claims on many addresses at once: at most 8 reports, then one per second', () => {
  const r = guard();
  const t0 = 2_000_000;
  for (let i = 0; i < 40; i++) r.guard.claim(4, claimBytes(20 + i), 0, 4, 0, CK_DATA, 0, t0);
  assert.equal(r.ring.poll().reports.length, 8);
  assert.equal(r.counters.drops(D.conflict), 40);
  for (let i = 0; i < 40; i++) r.guard.claim(4, claimBytes(100 + i), 0, 4, 0, CK_DATA, 0, t0 + 1000);
  assert.equal(r.ring.poll().reports.length, 1);
});

test('an unbound address is reported but not defended; a failed send is counted', () => {
  const r = guard();
  r.guard.claim(4, claimBytes(10), 0, 4, 0, CK_DATA, 255, 3_000_000);
  assert.deepEqual(r.ring.poll().reports.map((x) => x.defended), [false]);
  assert.equal(r.port.sent.length, 0);
  r.port.sendResult = -1;
  r.guard.claim(4, claimBytes(11), 0, 4, 0, CK_DATA, 0, 3_000_000);
  assert.deepEqual(r.ring.poll().reports.map((x) => x.defended), [false]);
  assert.equal(r.counters.drops(D.send_error), 1);
});
