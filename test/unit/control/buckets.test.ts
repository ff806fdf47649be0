import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BucketTable } from '../../../src/control/buckets.js';
import { BUCKET_COUNT, NO_NIC } from '../../../src/control/glossary.js';

function loads(t: BucketTable): Map<number, number> {
  const m = new Map<number, number>();
  for (const o of t.owner) m.set(o, (m.get(o) ?? 0) + 1);
  return m;
}

test('no active NIC: every bucket owned by none', () => {
  const t = new BucketTable([0, 1], [2]);
  assert.ok(t.owner.every((o) => o === NO_NIC));
});

test('first active NIC takes every bucket; later ones take back their homes', () => {
  const t = new BucketTable([0, 1, 2], []);
  assert.equal(t.activate(1).length, BUCKET_COUNT);
  t.activate(0);
  t.activate(2);
  for (let b = 0; b < BUCKET_COUNT; b++) assert.equal(t.owner[b], t.homeOf(b));
});

test('deactivate moves only that NIC’s buckets, spread evenly', () => {
  const t = new BucketTable([0, 1, 2], []);
  [0, 1, 2].forEach((n) => t.activate(n));
  const before = Uint8Array.from(t.owner);
  const changed = t.deactivate(0);
  for (let b = 0; b < BUCKET_COUNT; b++) {
    if (before[b] !== 0) assert.equal(t.owner[b], before[b]);
    else assert.ok(changed.includes(b) && t.owner[b] !== 0);
  }
  const min = Math.min(t.loadOf(1), t.loadOf(2));
  for (const b of changed) assert.ok(t.loadOf(t.owner[b]) <= min + 1);
});

test('a deployed standby takes displaced buckets until even, and returns them on repair', () => {
  const t = new BucketTable([0, 1], [2]);
  [0, 1].forEach((n) => t.activate(n));
  t.deactivate(0);
  t.activate(2);
  const l = loads(t);
  const displacedOn1 = [...t.owner].filter((o, b) => o === 1 && t.homeOf(b) === 0).length;
  assert.ok(l.get(2)! >= 1);
  assert.ok(l.get(1)! - l.get(2)! <= 1 || displacedOn1 === 0);
  t.activate(0);
  assert.equal(t.loadOf(2), 0);
  t.deactivate(2);
  for (let b = 0; b < BUCKET_COUNT; b++) assert.equal(t.owner[b], t.homeOf(b));
});

test('setMembers: adding a NIC moves only buckets whose home becomes that NIC', () => {
  const t = new BucketTable([0, 1], []);
  [0, 1].forEach((n) => t.activate(n));
  const before = Uint8Array.from(t.owner);
  t.activate(2); // homeless: takes nothing from home holders
  assert.deepEqual([...t.owner], [...before]);
  const changed = t.setMembers([0, 1, 2], []);
  for (let b = 0; b < BUCKET_COUNT; b++) {
    if (changed.includes(b)) assert.equal(t.owner[b], 2);
    else assert.equal(t.owner[b], before[b]);
  }
});

test('setMembers: removing an active NIC deactivates it', () => {
  const t = new BucketTable([0, 1], []);
  [0, 1].forEach((n) => t.activate(n));
  t.setMembers([1], []);
  assert.ok(t.owner.every((o) => o === 1));
});

type Ev = { op: 'act' | 'deact'; nic: number } | { op: 'members'; mask: number; standbyMask: number };

const evArb: fc.Arbitrary<Ev> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constantFrom('act' as const, 'deact' as const), nic: fc.integer({ min: 0, max: 5 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('members' as const), mask: fc.integer({ min: 0, max: 63 }), standbyMask: fc.integer({ min: 0, max: 63 }) }) },
);

function membersOf(mask: number, standbyMask: number): { ns: number[]; sb: number[] } {
  const ns: number[] = [];
  const sb: number[] = [];
  for (let n = 0; n < 6; n++) {
    if (!(mask & (1 << n))) continue;
    (standbyMask & (1 << n) ? sb : ns).push(n);
  }
  return { ns, sb };
}

interface Before { owner: Uint8Array; homes: number[]; active: Set<number> }

function snapshotOf(t: BucketTable): Before {
  return {
    owner: Uint8Array.from(t.owner),
    homes: Array.from({ length: BUCKET_COUNT }, (_, b) => t.homeOf(b)),
    active: new Set(t.activeIds()),
  };
}

/** Applies one membership or activation event; null when it does not apply to this table. */
function apply(t: BucketTable, ev: Ev): number[] | null {
  if (ev.op === 'act') {
    if (!t.members().nonStandby.includes(ev.nic) && !t.members().standby.includes(ev.nic)) return null;
    return t.activate(ev.nic);
  }
  if (ev.op === 'deact') return t.deactivate(ev.nic);
  if (ev.op === 'members') {
    const { ns, sb } = membersOf(ev.mask, ev.standbyMask);
    return t.setMembers(ns, sb);
  }
  return null;
}

/**
 * The invariants of every step: each bucket is owned by an active NIC (or none when none is
 * active), every moved bucket is reported, and a home bucket of a NIC that stays active stays.
 * Returns the active set after the step.
 */
function checkStep(t: BucketTable, before: Before, changed: number[]): Set<number> {
  const active = new Set(t.activeIds());
  for (let b = 0; b < BUCKET_COUNT; b++) {
    if (active.size > 0) assert.ok(active.has(t.owner[b]), `bucket ${b} owned by inactive ${t.owner[b]}`);
    else assert.equal(t.owner[b], NO_NIC);
    if (before.owner[b] !== t.owner[b]) assert.ok(changed.includes(b));
    const o = before.owner[b];
    if (before.active.has(o) && active.has(o) && before.homes[b] === o && t.homeOf(b) === o) {
      assert.equal(t.owner[b], o, `home bucket ${b} moved`);
    }
  }
  return active;
}

test('property: buckets always owned by an active NIC; home buckets of NICs that stay active never move; even after activation', () => {
  fc.assert(fc.property(fc.array(evArb, { maxLength: 60 }), (events) => {
    const t = new BucketTable([0, 1, 2, 3, 4, 5], []);
    for (const ev of events) {
      const before = snapshotOf(t);
      const changed = apply(t, ev);
      if (!changed) continue;
      const active = checkStep(t, before, changed);
      const activeBefore = before.active;
      if (ev.op === 'act' && activeBefore.size > 0 && !activeBefore.has(ev.nic)) {
        for (const n of active) {
          const holdsDisplaced = [...t.owner].some((o, b) => o === n && !active.has(t.homeOf(b)));
          if (n !== ev.nic && holdsDisplaced) assert.ok(t.loadOf(n) <= t.loadOf(ev.nic) + 1, 'uneven after activation');
        }
      }
    }
  }), { numRuns: 300 });
});

test('property: deactivation spreads the freed buckets least-loaded first', () => {
  fc.assert(fc.property(fc.subarray([0, 1, 2, 3, 4], { minLength: 2 }), fc.nat(), (nics, pick) => {
    const t = new BucketTable(nics, []);
    nics.forEach((n) => t.activate(n));
    const victim = nics[pick % nics.length];
    t.deactivate(victim);
    const rest = nics.filter((n) => n !== victim);
    const ls = rest.map((n) => t.loadOf(n));
    // Every NIC that received freed buckets ends no more than 1 above the least loaded.
    for (const n of rest) {
      const got = [...t.owner].some((o, b) => o === n && t.homeOf(b) === victim);
      if (got) assert.ok(t.loadOf(n) <= Math.min(...ls) + 1);
    }
  }), { numRuns: 200 });
});

/** A table over NICs 0 and 1 (active) with NIC 2 configured; `busy` marks buckets with traffic. */
function withNewcomer(busy: Set<number>): BucketTable {
  const t = new BucketTable([0, 1], []);
  [0, 1].forEach((n) => t.activate(n));
  t.setBusy((b) => busy.has(b));
  t.setMembers([0, 1, 2], []);
  return t;
}

function homesOf(t: BucketTable, nic: number): number[] {
  return Array.from({ length: BUCKET_COUNT }, (_, b) => b).filter((b) => t.homeOf(b) === nic);
}

test('a NIC that joins leaves busy home buckets lent to their holders, takes the idle ones, and the rest once idle', () => {
  const busy = new Set<number>();
  const probe = withNewcomer(busy);
  const home2 = homesOf(probe, 2);
  assert.ok(home2.length > 10);
  const busyHomes = home2.filter((_, i) => i % 2 === 0);
  busyHomes.forEach((b) => busy.add(b));
  const t = withNewcomer(busy);
  const before = Uint8Array.from(t.owner);
  const changed = t.activate(2);
  for (const b of home2) {
    if (busy.has(b)) assert.equal(t.owner[b], before[b], `busy bucket ${b} stays on its holder`);
    else assert.equal(t.owner[b], 2, `idle bucket ${b} goes to its home`);
  }
  assert.deepEqual(changed, home2.filter((b) => !busy.has(b)));
  assert.equal(t.lentCount(), busyHomes.length);
  for (const b of busyHomes) assert.equal(t.isLent(b), true);
  // Still busy: nothing moves. Idle: every lent bucket goes home, and only those.
  assert.deepEqual(t.handOver(), []);
  busy.clear();
  assert.deepEqual(t.handOver(), busyHomes);
  assert.equal(t.lentCount(), 0);
  for (let b = 0; b < BUCKET_COUNT; b++) assert.equal(t.owner[b], t.homeOf(b));
});

test('a NIC active before (repair, failback) takes its home buckets back even when busy', () => {
  const busy = new Set<number>(Array.from({ length: BUCKET_COUNT }, (_, b) => b));
  const t = new BucketTable([0, 1], []);
  [0, 1].forEach((n) => t.activate(n));
  t.setBusy((b) => busy.has(b));
  t.deactivate(0);
  t.activate(0);
  assert.equal(t.lentCount(), 0);
  for (let b = 0; b < BUCKET_COUNT; b++) assert.equal(t.owner[b], t.homeOf(b));
});

test('a holder of lent buckets that goes away gives them to their home', () => {
  const busy = new Set<number>(Array.from({ length: BUCKET_COUNT }, (_, b) => b));
  const t = withNewcomer(busy);
  t.activate(2);
  const lentOn1 = Array.from({ length: BUCKET_COUNT }, (_, b) => b).filter((b) => t.isLent(b) && t.owner[b] === 1);
  assert.ok(lentOn1.length > 0);
  const lentOn0 = t.lentCount() - lentOn1.length;
  t.deactivate(1);
  for (const b of lentOn1) assert.equal(t.owner[b], 2, `bucket ${b} goes to its home 2`);
  assert.equal(t.lentCount(), lentOn0, 'buckets lent by NIC 0 stay lent');
});

test('a lent bucket whose home fails is displaced again, not lent', () => {
  const busy = new Set<number>(Array.from({ length: BUCKET_COUNT }, (_, b) => b));
  const t = withNewcomer(busy);
  t.activate(2);
  assert.ok(t.lentCount() > 0);
  t.deactivate(2);
  assert.equal(t.lentCount(), 0);
  assert.deepEqual(t.handOver(), []);
  busy.clear();
  assert.deepEqual(t.handOver(), []);
});

test('setMembers: a home that changes to an active NIC leaves busy buckets where they run', () => {
  const busy = new Set<number>();
  const t = new BucketTable([0, 1], []);
  [0, 1].forEach((n) => t.activate(n));
  t.setBusy((b) => busy.has(b));
  t.activate(2); // active, homeless (e.g. a deployed standby)
  const before = Uint8Array.from(t.owner);
  for (let b = 0; b < BUCKET_COUNT; b += 2) busy.add(b);
  t.setMembers([0, 1, 2], []);
  for (let b = 0; b < BUCKET_COUNT; b++) {
    if (t.homeOf(b) !== 2) assert.equal(t.owner[b], before[b]);
    else if (busy.has(b)) assert.equal(t.owner[b], before[b], `busy bucket ${b} stays`);
    else assert.equal(t.owner[b], 2);
  }
  busy.clear();
  t.handOver();
  for (let b = 0; b < BUCKET_COUNT; b++) assert.equal(t.owner[b], t.homeOf(b));
});

test('property: with busy buckets and hand-overs, buckets are owned by active NICs and home buckets never move', () => {
  type BEv = Ev | { op: 'handover' } | { op: 'busy'; seed: number };
  const arb: fc.Arbitrary<BEv> = fc.oneof(
    { weight: 5, arbitrary: evArb },
    { weight: 1, arbitrary: fc.constant({ op: 'handover' as const }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('busy' as const), seed: fc.integer() }) },
  );
  fc.assert(fc.property(fc.array(arb, { maxLength: 60 }), (events) => {
    let busySeed = 0;
    const t = new BucketTable([0, 1, 2, 3, 4, 5], []);
    t.setBusy((b) => ((Math.imul(b + 1, 0x9e3779b1) ^ busySeed) & 3) === 0);
    for (const ev of events) {
      if (ev.op === 'busy') { busySeed = ev.seed; continue; }
      const before = snapshotOf(t);
      const changed = ev.op === 'handover' ? t.handOver() : apply(t, ev);
      if (!changed) continue;
      const active = checkStep(t, before, changed);
      for (let b = 0; b < BUCKET_COUNT; b++) {
        // A bucket is either with its home, lent (home active, held elsewhere), or displaced.
        const h = t.homeOf(b);
        if (h !== NO_NIC && active.has(h) && t.owner[b] !== h) assert.ok(t.isLent(b));
      }
    }
  }), { numRuns: 300 });
});
