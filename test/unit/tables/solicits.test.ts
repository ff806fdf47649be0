import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SOLICIT_SLOTS, SolicitTable } from '../../../src/tables/solicits.js';

const T0 = 5_000_000;
const k4 = (d: number) => new Uint8Array([198, 18, 0, d]);

test('a recorded request is seen by a reader of the same buffer, with its age; others are not', () => {
  const w = new SolicitTable();
  const r = new SolicitTable(w.sab);
  assert.equal(r.age(4, k4(1), 0, T0), -1);
  w.record(4, k4(1), 0, T0);
  assert.equal(r.age(4, k4(1), 0, T0 + 250), 250);
  assert.equal(r.wanted(4, k4(1), 0, T0 + 250, 1000), true);
  assert.equal(r.wanted(4, k4(1), 0, T0 + 1000, 1000), false);
  assert.equal(r.age(4, k4(2), 0, T0), -1);
  const a6 = new Uint8Array(16);
  a6.set([198, 18, 0, 1]);
  assert.equal(r.age(6, a6, 0, T0), -1, 'families are distinct');
  w.record(6, a6, 0, T0 + 10);
  assert.equal(r.age(6, a6, 0, T0 + 20), 10);
});

test('keys at an offset; ages across the clock wrap; a colliding key takes the slot over', () => {
  const t = new SolicitTable();
  const buf = new Uint8Array(10);
  buf.set([198, 18, 0, 9], 6);
  t.record(4, buf, 6, 0x7fffffff - 5);
  assert.equal(t.age(4, k4(9), 0, 10), 15);
  let found = false;
  for (let d = 0; d < 64 * SOLICIT_SLOTS && !found; d++) {
    const other = new Uint8Array([10, 0, d >> 8, d & 0xff]);
    t.record(4, other, 0, 20);
    if (t.age(4, k4(9), 0, 20) === -1) {
      found = true;
      assert.equal(t.age(4, other, 0, 20), 0);
    }
  }
  assert.ok(found, 'some key shares the slot');
});
