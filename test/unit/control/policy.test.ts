/** §7.4: keeping the configured number of active interfaces. One test per rule. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventKind } from '../../../src/control/group.js';
import { active, group, iface, linkDown, linkUp, texts } from './fixtures.js';

test('activate another: the first STANDBY in list order is chosen', () => {
  const c = group([{}, { standby: true }, { standby: true }]); // list order: net2 net1 net0
  linkDown(c, 0);
  assert.deepEqual(active(c), ['net2']);
});

test('activate another: without a standby, the last INACTIVE non-standby in list order', () => {
  const c = group([{}, {}, {}], { failback: false }); // list: net2 net1 net0
  linkDown(c, 0);
  linkDown(c, 1);
  linkUp(c, 0);
  linkUp(c, 1);
  assert.deepEqual(active(c), ['net2']);
  assert.ok(iface(c, 0).flags.inactive && iface(c, 1).flags.inactive);
  linkDown(c, 2);
  assert.deepEqual(active(c), ['net0']);
});

test('activate another trigger: an active member fails', () => {
  const c = group([{}, { standby: true }]);
  assert.deepEqual(active(c), ['net0']);
  linkDown(c, 0);
  assert.deepEqual(active(c), ['net1']);
});

test('activate another trigger: an active member is offlined', () => {
  const c = group([{}, { standby: true }]);
  assert.deepEqual(c.offline(0, 1).result, { ok: true });
  assert.deepEqual(active(c), ['net1']);
});

test('activate another trigger: the last active member is removed', () => {
  const c = group([{}, {}], { failback: false });
  linkDown(c, 0);
  linkUp(c, 0); // INACTIVE under FAILBACK=no
  assert.deepEqual(active(c), ['net1']);
  c.removeNic(1, 3);
  assert.deepEqual(active(c), ['net0']);
});

test('activate another trigger: an active standby is removed', () => {
  const c = group([{}, { standby: true }, { standby: true }]);
  linkDown(c, 0); // net2 deployed (first standby in list order)
  c.removeNic(2, 3);
  assert.deepEqual(active(c), ['net1']);
});

test('removing an active non-standby while others are active deploys no standby', () => {
  const c = group([{}, {}, { standby: true }]);
  c.removeNic(0, 3);
  assert.deepEqual(active(c), ['net1']);
});

test('to running: a STANDBY member becomes INACTIVE when nactive ≥ nnonstandby', () => {
  const c = group([{}, { standby: true }]);
  assert.equal(iface(c, 1).flags.inactive, true);
  assert.equal(iface(c, 1).state, 'ok');
});

test('to running: a STANDBY member becomes active when nactive < nnonstandby', () => {
  const c = group([{}, { standby: true }]);
  linkDown(c, 1); // the idle standby fails: no takeover
  linkDown(c, 0); // nothing else running: group failure
  linkUp(c, 1);
  assert.deepEqual(active(c), ['net1']);
});

test('to running: a repaired non-standby with FAILBACK=yes becomes active and an active standby goes INACTIVE', () => {
  const c = group([{}, {}, { standby: true }]);
  linkDown(c, 0);
  assert.deepEqual(active(c), ['net1', 'net2']);
  linkUp(c, 0);
  assert.deepEqual(active(c), ['net0', 'net1']);
  assert.equal(iface(c, 2).flags.inactive, true);
});

test('to running: a repaired non-standby with FAILBACK=no becomes INACTIVE', () => {
  const c = group([{}, {}], { failback: false });
  linkDown(c, 0);
  const e = linkUp(c, 0);
  assert.deepEqual(texts(e), ['The link has come up on net0', 'IP interface repair detected on net0 of group g0']);
  assert.equal(iface(c, 0).flags.inactive, true);
  assert.equal(iface(c, 0).state, 'ok');
  assert.equal(c.snapshot().groups[0].state, 'ok');
  assert.deepEqual(e.moves, []);
});

test('to running: FAILBACK=no, initial creation makes non-standby members active', () => {
  const c = group([{}, {}], { failback: false });
  assert.deepEqual(active(c), ['net0', 'net1']);
});

test('to running: FAILBACK=no, a repair in a FAILED group makes the member active', () => {
  const c = group([{}, {}], { failback: false });
  linkDown(c, 0);
  linkDown(c, 1);
  assert.equal(c.snapshot().groups[0].state, 'failed');
  linkUp(c, 1);
  assert.deepEqual(active(c), ['net1']);
  linkUp(c, 0); // group is no longer FAILED: FAILBACK=no applies
  assert.equal(iface(c, 0).flags.inactive, true);
});

test('to running: onlining ignores FAILBACK=no', () => {
  const c = group([{}, {}], { failback: false });
  c.offline(0, 1);
  c.undoOffline(0, 2);
  assert.deepEqual(active(c), ['net0', 'net1']);
});

test('standby refresh: setting STANDBY on an active member when the others suffice makes it INACTIVE', () => {
  const c = group([{}, {}]);
  const e = c.setStandby(1, true, 1);
  assert.equal(e.changed, true);
  assert.deepEqual(active(c), ['net0']);
  assert.ok(iface(c, 1).flags.standby && iface(c, 1).flags.inactive);
});

test('standby refresh: setting STANDBY on the only active member keeps it active (nactive = 0)', () => {
  const c = group([{}, {}]);
  linkDown(c, 0);
  const e = c.setStandby(1, true, 2);
  assert.deepEqual(active(c), ['net1']);
  assert.deepEqual(e.moves, []);
  assert.deepEqual(e.bucketChanges.filter((b) => c.buckets.owner[b] !== 1), []);
});

test('standby refresh: clearing STANDBY on an INACTIVE standby activates it', () => {
  const c = group([{}, { standby: true }]);
  c.setStandby(1, false, 1);
  assert.deepEqual(active(c), ['net0', 'net1']);
});

test('standby refresh: unchanged flag is no change', () => {
  const c = group([{}, { standby: true }]);
  assert.equal(c.setStandby(1, true, 1).changed, false);
});

test('FAILBACK changed: stored without moving anything', () => {
  const c = group([{}, {}], { failback: false });
  linkDown(c, 0);
  linkUp(c, 0);
  const e = c.setFailback(true, 3);
  assert.equal(e.changed, true);
  assert.deepEqual(e.moves, []);
  assert.equal(iface(c, 0).flags.inactive, true);
  assert.equal(c.handle({ kind: EventKind.FAILBACK_CHANGED, failback: true }, 4).changed, false);
});
