import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  LOOKUP_FRESH, LOOKUP_MISS, LOOKUP_STALE, NEIGH_CAPACITY, NEIGH_EXPIRE_MS, NEIGH_STALE_MS, NeighbourTable, ageMs, coarseNowMs,
} from '../../../src/tables/neighbours.js';

const T0 = 1_000_000;

function k4(a: number, b: number, c: number, d: number): Uint8Array {
  return new Uint8Array([a, b, c, d]);
}

function hw(n: number): Uint8Array {
  return new Uint8Array([0x52, 0x54, 0, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

/** Start index of a key's probe window: the table's FNV-1a + finaliser, restated here to build collisions. */
function startIndex(family: number, key: Uint8Array): number {
  const n = family === 4 ? 4 : 16;
  let h = 0x811c9dc5 ^ family;
  for (let i = 0; i < n; i++) {
    h ^= key[i];
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return (h >>> 0) % NEIGH_CAPACITY;
}

/** IPv4 keys 10.x.y.z that all start probing at the same index. */
function collidingKeys(count: number): Uint8Array[] {
  const byStart = new Map<number, Uint8Array[]>();
  for (let i = 0; i < 1 << 20; i++) {
    const k = k4(10, (i >>> 16) & 0xff, (i >>> 8) & 0xff, i & 0xff);
    const s = startIndex(4, k);
    const list = byStart.get(s) ?? [];
    list.push(k);
    byStart.set(s, list);
    if (list.length === count) return list;
  }
  throw new Error('no collision set found');
}

function lookup(t: NeighbourTable, family: number, key: Uint8Array, now: number): [number, Uint8Array] {
  const mac = new Uint8Array(6);
  return [t.lookup(family, key, 0, now, mac, 0), mac];
}

test('insert then lookup returns the MAC; an unknown key misses', () => {
  const t = new NeighbourTable();
  const v0 = t.version();
  t.update(4, k4(198, 18, 0, 50), 0, hw(50), 0, T0);
  assert.ok(t.version() > v0);
  const [r, mac] = lookup(t, 4, k4(198, 18, 0, 50), T0);
  assert.equal(r, LOOKUP_FRESH);
  assert.deepEqual(mac, hw(50));
  assert.equal(lookup(t, 4, k4(198, 18, 0, 51), T0)[0], LOOKUP_MISS);
});

test('key and MAC are read at their offsets', () => {
  const t = new NeighbourTable();
  const buf = new Uint8Array(32);
  buf.set(k4(10, 1, 2, 3), 5);
  buf.set(hw(7), 20);
  t.update(4, buf, 5, buf, 20, T0);
  const out = new Uint8Array(16);
  assert.equal(t.lookup(4, buf, 5, T0, out, 9), LOOKUP_FRESH);
  assert.deepEqual(out.subarray(9, 15), hw(7));
});

test('FRESH up to NEIGH_STALE_MS, STALE up to NEIGH_EXPIRE_MS, then MISS', () => {
  const t = new NeighbourTable();
  const k = k4(198, 18, 0, 9);
  t.update(4, k, 0, hw(9), 0, T0);
  assert.equal(lookup(t, 4, k, T0 + NEIGH_STALE_MS)[0], LOOKUP_FRESH);
  assert.equal(lookup(t, 4, k, T0 + NEIGH_STALE_MS + 1)[0], LOOKUP_STALE);
  assert.equal(lookup(t, 4, k, T0 + NEIGH_EXPIRE_MS)[0], LOOKUP_STALE);
  assert.equal(lookup(t, 4, k, T0 + NEIGH_EXPIRE_MS + 1)[0], LOOKUP_MISS);
});

test('ages are computed across the 2^31 wrap of the coarse clock', () => {
  const t = new NeighbourTable();
  const k = k4(198, 18, 0, 10);
  const late = 0x7fffffff - 1000;
  t.update(4, k, 0, hw(10), 0, late);
  assert.equal(lookup(t, 4, k, 500)[0], LOOKUP_FRESH);
  assert.equal(lookup(t, 4, k, (late + NEIGH_STALE_MS + 10) % 0x7fffffff)[0], LOOKUP_STALE);
});

test('an update of a known key replaces MAC and time in place', () => {
  const t = new NeighbourTable();
  const k = k4(198, 18, 0, 11);
  t.update(4, k, 0, hw(1), 0, T0);
  t.update(4, k, 0, hw(2), 0, T0 + NEIGH_STALE_MS + 5);
  const [r, mac] = lookup(t, 4, k, T0 + NEIGH_STALE_MS + 5);
  assert.equal(r, LOOKUP_FRESH);
  assert.deepEqual(mac, hw(2));
  assert.equal(t.entries(T0).length, 1);
});

test('many entries, including a full window of keys with one start index, are all found', () => {
  const t = new NeighbourTable();
  const colliding = collidingKeys(16);
  colliding.forEach((k, i) => t.update(4, k, 0, hw(1000 + i), 0, T0));
  const spread: Uint8Array[] = [];
  for (let i = 0; i < 400; i++) spread.push(k4(172, 16, i >>> 8, i & 0xff));
  spread.forEach((k, i) => t.update(4, k, 0, hw(i), 0, T0));
  colliding.forEach((k, i) => {
    const [r, mac] = lookup(t, 4, k, T0);
    assert.equal(r, LOOKUP_FRESH, `colliding key ${i}`);
    assert.deepEqual(mac, hw(1000 + i));
  });
  spread.forEach((k, i) => {
    const [r, mac] = lookup(t, 4, k, T0);
    assert.equal(r, LOOKUP_FRESH, `key ${i}`);
    assert.deepEqual(mac, hw(i));
  });
  assert.equal(t.entries(T0).length, 416);
});

test('a full probe window: a new key replaces the oldest entry', () => {
  const t = new NeighbourTable();
  const keys = collidingKeys(17);
  for (let i = 0; i < 16; i++) t.update(4, keys[i], 0, hw(i), 0, T0 + i * 10);
  // keys[3] is refreshed, so keys[0] is now the oldest.
  t.update(4, keys[3], 0, hw(3), 0, T0 + 500);
  t.update(4, keys[16], 0, hw(16), 0, T0 + 1000);
  assert.equal(lookup(t, 4, keys[0], T0 + 1000)[0], LOOKUP_MISS);
  for (let i = 1; i <= 16; i++) {
    const [r, mac] = lookup(t, 4, keys[i], T0 + 1000);
    assert.equal(r, LOOKUP_FRESH, `key ${i}`);
    assert.deepEqual(mac, hw(i));
  }
  // Next eviction takes keys[1], the oldest left.
  t.update(4, keys[0], 0, hw(0), 0, T0 + 2000);
  assert.equal(lookup(t, 4, keys[1], T0 + 2000)[0], LOOKUP_MISS);
  assert.equal(lookup(t, 4, keys[0], T0 + 2000)[0], LOOKUP_FRESH);
});

test('a full probe window of fresh entries: an unsolicited key finds no place; a stale entry gives way', () => {
  const t = new NeighbourTable();
  const keys = collidingKeys(18);
  for (let i = 0; i < 16; i++) t.update(4, keys[i], 0, hw(i), 0, T0 + i * 10);
  assert.equal(t.update(4, keys[16], 0, hw(16), 0, T0 + 1000, false), false);
  assert.equal(lookup(t, 4, keys[16], T0 + 1000)[0], LOOKUP_MISS);
  for (let i = 0; i < 16; i++) assert.equal(lookup(t, 4, keys[i], T0 + 1000)[0], LOOKUP_FRESH, `key ${i} kept`);
  // A known key is still refreshed in place.
  assert.equal(t.update(4, keys[5], 0, hw(99), 0, T0 + 1000, false), true);
  assert.deepEqual(lookup(t, 4, keys[5], T0 + 1000)[1], hw(99));
  // Once keys[0] is stale, the unsolicited key takes its place; the others stay.
  const later = T0 + NEIGH_STALE_MS + 5;
  for (let i = 1; i < 16; i++) t.update(4, keys[i], 0, hw(i), 0, later - 1);
  assert.equal(t.update(4, keys[16], 0, hw(16), 0, later, false), true);
  assert.equal(lookup(t, 4, keys[0], later)[0], LOOKUP_MISS);
  assert.equal(lookup(t, 4, keys[16], later)[0], LOOKUP_FRESH);
  // A solicited key (evictFresh) still takes the oldest fresh place.
  assert.equal(t.update(4, keys[17], 0, hw(17), 0, later + 1, true), true);
  assert.equal(lookup(t, 4, keys[17], later + 1)[0], LOOKUP_FRESH);
});

test('IPv4 and IPv6 keys with the same leading bytes are distinct entries', () => {
  const t = new NeighbourTable();
  const v4 = k4(32, 1, 13, 184);
  const v6 = new Uint8Array(16);
  v6.set(v4, 0);
  t.update(4, v4, 0, hw(4), 0, T0);
  t.update(6, v6, 0, hw(6), 0, T0);
  assert.deepEqual(lookup(t, 4, v4, T0)[1], hw(4));
  assert.deepEqual(lookup(t, 6, v6, T0)[1], hw(6));
  const other6 = v6.slice();
  other6[15] = 1;
  assert.equal(lookup(t, 6, other6, T0)[0], LOOKUP_MISS);
  const entries = t.entries(T0);
  assert.equal(entries.length, 2);
  assert.deepEqual(entries.map((e) => e.family).sort(), [4, 6]);
  assert.equal(entries.find((e) => e.family === 6)!.key.length, 16);
});

test('a table over the same buffer sees the writer’s entries', () => {
  const w = new NeighbourTable();
  const r = new NeighbourTable(w.sab);
  w.update(4, k4(198, 18, 0, 60), 0, hw(60), 0, T0);
  assert.equal(r.version(), w.version());
  assert.deepEqual(lookup(r, 4, k4(198, 18, 0, 60), T0)[1], hw(60));
});

test('an entry stamped a little after the reader\'s clock (another thread) is fresh, not expired', () => {
  const t = new NeighbourTable();
  const ip = new Uint8Array([198, 18, 0, 1]);
  const mac = new Uint8Array([2, 0, 0, 0, 0, 9]);
  t.update(4, ip, 0, mac, 0, 1_000_005);
  const got = new Uint8Array(6);
  assert.equal(t.lookup(4, ip, 0, 1_000_000, got, 0), LOOKUP_FRESH);
  assert.equal(ageMs(1_000_000, 1_000_005), 0);
  assert.equal(ageMs(1_000_005, 1_000_000), 5);
  assert.equal(ageMs(5, 0x7fffffff - 10), 15, 'across the wrap');
});

test('the coarse clock is the monotonic clock in ms, read alike by another thread', async () => {
  const { loadNative } = await import('../../../src/io/native.js');
  const { Worker } = await import('node:worker_threads');
  const mono = (): number => Number((loadNative().monotonicNs() / 1_000_000n) % 0x7fffffffn);
  const a = coarseNowMs();
  const m = mono();
  assert.ok(Number.isInteger(a) && a >= 0 && a < 0x7fffffff, String(a));
  assert.ok(ageMs(m, a) <= 5, `coarse ${a} vs monotonic ${m}`);
  const url = new URL('../../../src/tables/neighbours.js', import.meta.url).href;
  const w = new Worker(`import(${JSON.stringify(url)}).then((m) => require('node:worker_threads').parentPort.postMessage(m.coarseNowMs()))`,
    { eval: true });
  const other = await new Promise<number>((res, rej) => { w.once('message', res); w.once('error', rej); });
  await w.terminate();
  assert.ok(ageMs(coarseNowMs(), other) <= 1000, `worker read ${other}, this thread ${coarseNowMs()}`);
});
