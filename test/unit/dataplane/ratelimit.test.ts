import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RL_SLOTS, SourceLimiter } from '../../../src/dataplane/ratelimit.js';

test('per source: a full burst, then the refill rate; sources do not share a budget', () => {
  const l = new SourceLimiter(4, 10, 1000, 1000);
  let ok = 0;
  for (let i = 0; i < 20; i++) if (l.allow(3, 1000)) ok++;
  assert.equal(ok, 4, 'the burst');
  assert.equal(l.allow(3, 1050), false, 'half a token after 50 ms at 10/s');
  assert.equal(l.allow(3, 1100), true, 'one token after 100 ms');
  assert.equal(l.allow(3, 1100), false);
  assert.equal(l.allow(4, 1100), true, 'another bucket is full');
  let later = 0;
  for (let i = 0; i < 20; i++) if (l.allow(3, 60_000)) later++;
  assert.equal(later, 4, 'a long pause refills to the burst, not beyond');
});

test('overall: many sources together get at most the overall burst, and a refused source keeps its token', () => {
  const l = new SourceLimiter(4, 10, 50, 100);
  let ok = 0;
  for (let s = 0; s < RL_SLOTS; s++) if (l.allow(s, 5000)) ok++;
  assert.equal(ok, 50);
  // Bucket 200 was refused by the overall budget only: its own burst is intact once that refills.
  let got = 0;
  for (let i = 0; i < 4; i++) if (l.allow(200, 5040)) got++;
  assert.equal(got, 4);
});

test('the clock wraps at 2^31 - 1 without emptying or overfilling buckets', () => {
  const l = new SourceLimiter(2, 10, 100, 100);
  assert.equal(l.allow(1, 0x7fffffff - 50), true);
  assert.equal(l.allow(1, 0x7fffffff - 50), true);
  assert.equal(l.allow(1, 0x7fffffff - 50), false);
  assert.equal(l.allow(1, 60), true, '110 ms later across the wrap: one token');
  assert.equal(l.allow(1, 60), false);
});

test('slot: deterministic, within range, and spread over the table', () => {
  const mac = new Uint8Array([2, 0, 0, 0, 0, 1]);
  const ip = new Uint8Array(4);
  const seen = new Set<number>();
  for (let i = 0; i < 1000; i++) {
    ip[2] = i >> 8; ip[3] = i & 0xff;
    const s = SourceLimiter.slot(mac, 0, ip, 0);
    assert.ok(s >= 0 && s < RL_SLOTS);
    assert.equal(s, SourceLimiter.slot(mac, 0, ip, 0));
    seen.add(s);
  }
  assert.ok(seen.size > RL_SLOTS * 0.9, `${seen.size} of ${RL_SLOTS} buckets used`);
});
