/** §12 offline / undo-offline refusals and §7.7 duplicate hardware addresses. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventKind } from '../../../src/control/group.js';
import { active, group, iface, linkDown, nicConfig, texts } from './fixtures.js';

test('offline an unknown interface: EUNKIF', () => {
  const c = group([{}, {}]);
  assert.deepEqual(c.offline(9, 1).result, {
    ok: false, code: 'EUNKIF', error: 'not a physical interface or not in an IPMP group',
  });
});

test('offline twice: "interface %s is already offline"', () => {
  const c = group([{}, {}]);
  c.offline(0, 1);
  const e = c.offline(0, 2);
  assert.deepEqual(e.result, { ok: false, code: 'EALREADY', error: 'interface net0 is already offline' });
  assert.equal(e.changed, false);
});

test('offline the last usable member: EMINRED', () => {
  const c = group([{}, {}]);
  linkDown(c, 1);
  const gen = c.generation;
  const e = c.offline(0, 2);
  assert.deepEqual(e.result, {
    ok: false, code: 'EMINRED', error: 'cannot offline net0: no other functioning interfaces are in its IPMP group',
  });
  assert.equal(e.changed, false);
  assert.equal(c.generation, gen);
});

test('offline: INACTIVE members count as usable', () => {
  const c = group([{}, { standby: true }]);
  assert.deepEqual(c.offline(0, 1).result, { ok: true });
  assert.equal(iface(c, 0).state, 'offline');
  assert.equal(iface(c, 0).probe, 'disabled');
  assert.equal(c.snapshot().groups[0].state, 'degraded');
});

test('offline in a FAILED group: any non-offline member counts', () => {
  const c = group([{}, {}]);
  linkDown(c, 1);
  linkDown(c, 0);
  assert.equal(c.snapshot().groups[0].state, 'failed');
  assert.deepEqual(c.offline(0, 3).result, { ok: true });
  assert.equal(c.offline(1, 4).result?.ok, false);
});

test('offline in the anonymous group is always refused with EMINRED', () => {
  const c = group([{}, {}], { anonymous: true });
  assert.deepEqual(c.offline(0, 1).result, {
    ok: false, code: 'EMINRED', error: 'cannot offline net0: no other functioning interfaces are in its IPMP group',
  });
});

test('undo-offline of a member that is not offline: "interface %s is not offline"', () => {
  const c = group([{}, {}]);
  assert.deepEqual(c.undoOffline(0, 1).result, { ok: false, code: 'ENOTOFFLINE', error: 'interface net0 is not offline' });
});

test('undo-offline of an unknown member: EUNKIF', () => {
  const c = group([{}]);
  assert.equal(c.undoOffline(7, 1).result?.ok, false);
});

test('offline then undo-offline: active again and addresses rebalanced', () => {
  const c = group([{}, {}]);
  const off = c.offline(0, 1);
  assert.ok(off.moves.every((m) => m.from === 0 && m.to === 1));
  const on = c.undoOffline(0, 2);
  assert.deepEqual(on.result, { ok: true });
  assert.deepEqual(active(c), ['net0', 'net1']);
  assert.equal(on.moves.length, 2);
  assert.ok(on.moves.every((m) => m.from === 1 && m.to === 0 && !m.initial));
});

test('duplicate MAC: a newcomer with an online member’s MAC is offlined with h', () => {
  const c = group([{}, {}]);
  const e = c.addNic(nicConfig(2, { mac: '02:00:00:00:00:01' }), 1);
  assert.deepEqual(texts(e), ['IP interface net2 has a hardware address which is not unique in group g0; offlining']);
  assert.equal(iface(c, 2).state, 'offline');
  assert.equal(iface(c, 2).flags.hwaddrdup, true);
  assert.equal(iface(c, 2).active, false);
});

test('duplicate MAC: undo-offline is refused with EHWADDRDUP', () => {
  const c = group([{}, {}]);
  c.addNic(nicConfig(2, { mac: '02:00:00:00:00:01' }), 1);
  assert.deepEqual(c.undoOffline(2, 2).result, {
    ok: false, code: 'EHWADDRDUP', error: 'interface has duplicate hardware address',
  });
});

test('duplicate MAC: the member is onlined once its MAC is unique', () => {
  const c = group([{}, {}]);
  c.addNic(nicConfig(2, { mac: '02:00:00:00:00:01' }), 1);
  const e = c.handle({ kind: EventKind.MAC_CHANGED, nic: 2, mac: '02:00:00:00:00:22' }, 2);
  assert.deepEqual(texts(e), ['IP interface net2 now has a unique hardware address in group g0; onlining']);
  assert.equal(iface(c, 2).state, 'ok');
  assert.equal(iface(c, 2).flags.hwaddrdup, false);
  assert.deepEqual(active(c), ['net0', 'net1', 'net2']);
});

test('duplicate MAC: a MAC change onto a member’s MAC offlines it', () => {
  const c = group([{}, {}]);
  const e = c.handle({ kind: EventKind.MAC_CHANGED, nic: 1, mac: '02:00:00:00:00:00' }, 2);
  assert.ok(texts(e)[0].includes('net1 has a hardware address which is not unique'));
  assert.deepEqual(active(c), ['net0']);
});

test('duplicate MAC: removing the original onlines the duplicate', () => {
  const c = group([{}, {}]);
  c.addNic(nicConfig(2, { mac: '02:00:00:00:00:01' }), 1);
  const e = c.removeNic(1, 2);
  assert.ok(texts(e).includes('IP interface net2 now has a unique hardware address in group g0; onlining'));
  assert.deepEqual(active(c), ['net0', 'net2']);
});

test('duplicate MAC: offlining the original onlines the duplicate', () => {
  const c = group([{}, {}]);
  c.addNic(nicConfig(2, { mac: '02:00:00:00:00:01' }), 1);
  c.offline(1, 2);
  assert.deepEqual(active(c), ['net0', 'net2']);
  assert.equal(c.undoOffline(1, 3).result?.ok, false);
});
