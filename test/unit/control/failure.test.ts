/** §7.5 transitions and §8 interface-versus-group failure. One test per row. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventKind } from '../../../src/control/group.js';
import { GroupState } from '../../../src/control/glossary.js';
import {
  active, facts, group, iface, linkDown, linkUp, probeFail, probeRepair, texts,
} from './fixtures.js';

test('link failure, other members fine: FAILED, INACTIVE cleared, logged, another activated', () => {
  const c = group([{}, { standby: true }]);
  const e = linkDown(c, 0);
  assert.deepEqual(texts(e), ['The link has gone down on net0', 'IP interface failure detected on net0 of group g0']);
  assert.equal(iface(c, 0).state, 'failed');
  assert.equal(iface(c, 0).flags.inactive, false);
  assert.deepEqual(active(c), ['net1']);
  assert.equal(e.groupState, GroupState.DEGRADED);
});

test('failure of an INACTIVE member: FAILED replaces INACTIVE and nothing is taken over', () => {
  const c = group([{}, { standby: true }]);
  const e = linkDown(c, 1);
  assert.equal(iface(c, 1).state, 'failed');
  assert.equal(iface(c, 1).flags.inactive, false);
  assert.deepEqual(e.moves, []);
  assert.deepEqual(e.bucketChanges, []);
});

test('failure of an OFFLINE interface: FAILED set, state stays OFFLINE', () => {
  const c = group([{}, {}]);
  c.offline(0, 1);
  linkDown(c, 0);
  assert.equal(iface(c, 0).state, 'offline');
  c.undoOffline(0, 3);
  assert.equal(iface(c, 0).state, 'failed');
});

test('repair: logged, then transition to running', () => {
  const c = group([{}, {}]);
  linkDown(c, 0);
  const e = linkUp(c, 0);
  assert.deepEqual(texts(e), ['The link has come up on net0', 'IP interface repair detected on net0 of group g0']);
  assert.equal(iface(c, 0).state, 'ok');
  assert.deepEqual(active(c), ['net0', 'net1']);
});

test('repair of an OFFLINE interface only clears FAILED', () => {
  const c = group([{}, {}]);
  c.offline(0, 1);
  linkDown(c, 0);
  const e = linkUp(c, 0);
  assert.ok(texts(e).includes('IP interface repair detected on net0 of group g0'));
  assert.equal(iface(c, 0).state, 'offline');
  c.undoOffline(0, 3);
  assert.deepEqual(active(c), ['net0', 'net1']);
});

test('link up with repair not allowed (flapping) logs but does not repair', () => {
  const c = group([{}, {}]);
  linkDown(c, 0);
  const e = linkUp(c, 0, 2, false);
  assert.deepEqual(texts(e), ['The link has come up on net0']);
  assert.equal(iface(c, 0).state, 'failed');
});

test('link stable after a refused link-up: repair', () => {
  const c = group([{}, {}]);
  linkDown(c, 0);
  linkUp(c, 0, 2, false);
  const e = c.handle({ kind: EventKind.LINK_STABLE, nic: 0 }, 3);
  assert.deepEqual(texts(e), ['IP interface repair detected on net0 of group g0']);
  assert.equal(iface(c, 0).state, 'ok');
  assert.deepEqual(active(c), ['net0', 'net1']);
});

test('link stable changes nothing while the link is down, when not failed, or with probing', () => {
  const down = group([{}, {}]);
  linkDown(down, 0);
  assert.equal(down.handle({ kind: EventKind.LINK_STABLE, nic: 0 }, 3).changed, false);
  assert.equal(iface(down, 0).state, 'failed');
  const fine = group([{}, {}]);
  assert.equal(fine.handle({ kind: EventKind.LINK_STABLE, nic: 0 }, 3).changed, false);
  const probing = group([{ probe: true }, {}]);
  linkDown(probing, 0);
  linkUp(probing, 0);
  assert.equal(probing.handle({ kind: EventKind.LINK_STABLE, nic: 0 }, 3).changed, false);
  assert.equal(iface(probing, 0).state, 'failed');
});

test('test address removed from a NIC failed by probes with its link up: repaired at once', () => {
  const c = group([{ probe: true }, { probe: true }]);
  linkDown(c, 0);
  linkUp(c, 0);
  assert.equal(iface(c, 0).state, 'failed');
  const e = c.handle({ kind: EventKind.PROBE_CONFIG_CHANGED, nic: 0, probeEnabled: false }, 3);
  assert.deepEqual(texts(e), ['IP interface repair detected on net0 of group g0']);
  assert.equal(iface(c, 0).state, 'ok');
  assert.deepEqual(active(c), ['net0', 'net1']);
});

test('test address added or removed on a healthy NIC or a NIC with its link down: no state change', () => {
  const c = group([{}, {}]);
  const on = c.handle({ kind: EventKind.PROBE_CONFIG_CHANGED, nic: 0, probeEnabled: true }, 3);
  assert.deepEqual(texts(on), []);
  assert.equal(iface(c, 0).state, 'ok');
  assert.equal(c.model.members.find((m) => m.id === 0)?.probeEnabled, true, 'the change is kept');
  assert.equal(c.handle({ kind: EventKind.PROBE_CONFIG_CHANGED, nic: 0, probeEnabled: true }, 4).changed, false);
  linkDown(c, 1);
  c.handle({ kind: EventKind.PROBE_CONFIG_CHANGED, nic: 1, probeEnabled: true }, 5);
  const off = c.handle({ kind: EventKind.PROBE_CONFIG_CHANGED, nic: 1, probeEnabled: false }, 6);
  assert.deepEqual(texts(off), []);
  assert.equal(iface(c, 1).state, 'failed');
});

test('link up with probing enabled waits for the probe repair', () => {
  const c = group([{ probe: true }, {}]);
  linkDown(c, 0);
  linkUp(c, 0);
  assert.equal(iface(c, 0).state, 'failed');
  assert.ok(texts(probeRepair(c, 0)).includes('IP interface repair detected on net0 of group g0'));
  assert.equal(iface(c, 0).state, 'ok');
});

test('§8 link case: another RUNNING member with link up → interface failure', () => {
  const c = group([{}, {}]);
  linkDown(c, 0);
  assert.equal(c.snapshot().groups[0].state, 'degraded');
  assert.equal(iface(c, 1).state, 'ok');
});

test('§8 link case: no other RUNNING member with link up → group failure', () => {
  const c = group([{}, {}, { standby: true }]);
  linkDown(c, 1);
  linkDown(c, 2);
  const e = linkDown(c, 0);
  assert.deepEqual(texts(e), ['The link has gone down on net0', 'All IP interfaces in group g0 are now unusable']);
  assert.equal(e.groupState, GroupState.FAILED);
  assert.equal(e.carrier, false);
  assert.equal(e.nominee, null);
  assert.ok(e.moves.every((m) => m.to === null));
  assert.ok(c.buckets.owner.every((o) => o === 255));
});

test('§8 link case: a single-member group losing its link is a group failure', () => {
  const c = group([{}]);
  const e = linkDown(c, 0);
  assert.ok(!texts(e).some((t) => t.startsWith('IP interface failure')));
  assert.equal(c.snapshot().groups[0].state, 'failed');
});

test('§8 link case: other members in NOTARGETS do not count → group failure marks all FAILED', () => {
  const c = group([{ probe: true }, { probe: true }]);
  c.handle({ kind: EventKind.TARGETS_CHANGED, nic: 0, hasTargets: false }, 1);
  c.handle({ kind: EventKind.TARGETS_CHANGED, nic: 1, hasTargets: false }, 1);
  assert.equal(iface(c, 1).state, 'unknown');
  assert.equal(iface(c, 1).probe, 'unknown');
  linkDown(c, 0);
  assert.equal(iface(c, 1).state, 'failed');
  assert.equal(c.snapshot().groups[0].state, 'failed');
});

test('§8 probe case: another member acked after our first loss → interface failure', () => {
  const c = group([{ probe: true }, { probe: true }]);
  const e = probeFail(c, 0, facts({ v4: 100, v6: null }, { 1: { v4: 150, v6: null } }));
  assert.ok(texts(e).includes('IP interface failure detected on net0 of group g0'));
  assert.equal(iface(c, 1).state, 'ok');
  assert.equal(iface(c, 0).probe, 'failed');
});

test('§8 probe case: nobody acked after our first loss → group failure, all FAILED', () => {
  const c = group([{ probe: true }, { probe: true }, { probe: true, standby: true }]);
  const e = probeFail(c, 0, facts({ v4: 100, v6: 100 }, { 1: { v4: 90, v6: 99 }, 2: { v4: 10, v6: null } }));
  assert.deepEqual(texts(e), ['All IP interfaces in group g0 are now unusable']);
  for (const id of [0, 1, 2]) assert.equal(iface(c, id).state, 'failed');
  assert.equal(e.carrier, false);
});

test('§8 probe case: families are compared separately', () => {
  const c = group([{ probe: true }, { probe: true }]);
  probeFail(c, 0, facts({ v4: null, v6: 100 }, { 1: { v4: 500, v6: 50 } }));
  assert.equal(c.snapshot().groups[0].state, 'failed');
});

test('§8 probe case: another member with link up and no probing → interface failure', () => {
  const c = group([{ probe: true }, { probe: false }]);
  probeFail(c, 0, facts({ v4: 100, v6: null }, {}));
  assert.equal(c.snapshot().groups[0].state, 'degraded');
});

test('§8 probe case: members with the link down do not count', () => {
  const c = group([{ probe: true }, { probe: false }, { probe: true }]);
  linkDown(c, 1);
  probeFail(c, 0, facts({ v4: 100, v6: null }, { 2: { v4: 50, v6: null } }));
  assert.equal(c.snapshot().groups[0].state, 'failed');
});

test('probe failure is ignored while the link is down or the NIC already failed', () => {
  const c = group([{ probe: true }, { probe: true }]);
  linkDown(c, 0);
  assert.equal(probeFail(c, 0, facts({ v4: 1, v6: null }, {})).changed, false);
});

test('group failure: an OFFLINE member gets FAILED but stays OFFLINE', () => {
  const c = group([{}, {}, {}]);
  c.offline(2, 1);
  linkDown(c, 1);
  linkDown(c, 0);
  assert.equal(iface(c, 2).state, 'offline');
  assert.equal(c.snapshot().groups[0].state, 'failed');
  c.undoOffline(2, 5);
  assert.equal(iface(c, 2).state, 'failed');
});

test('group repair: the first repaired member carries everything regardless of FAILBACK', () => {
  const c = group([{}, {}, { standby: true }], { failback: false });
  linkDown(c, 1);
  linkDown(c, 2);
  linkDown(c, 0);
  const e = linkUp(c, 1);
  assert.deepEqual(texts(e), [
    'The link has come up on net1',
    'IP interface repair detected on net1 of group g0',
    'At least 1 IP interface (net1) in group g0 is now usable',
  ]);
  assert.equal(e.carrier, true);
  assert.equal(e.nominee, 1);
  assert.equal(e.moves.length, 4);
  assert.ok(e.moves.every((m) => m.to === 1 && m.initial));
  assert.ok(c.buckets.owner.every((o) => o === 1));
  linkUp(c, 0);
  assert.equal(iface(c, 0).flags.inactive, true);
  assert.deepEqual(active(c), ['net1']);
});

test('anonymous group: interface failures only, no takeover, never INACTIVE', () => {
  const c = group([{}, { standby: true }], { anonymous: true });
  assert.deepEqual(active(c), ['net0', 'net1']);
  linkDown(c, 1);
  const e = linkDown(c, 0);
  assert.deepEqual(texts(e), ['The link has gone down on net0', 'IP interface failure detected on net0']);
  assert.equal(c.snapshot().groups[0].state, 'ok');
  assert.equal(iface(c, 0).group, '');
  assert.equal(iface(c, 0).groupname, '');
  assert.ok(texts(linkUp(c, 0)).includes('IP interface repair detected on net0'));
});

test('one move per address in a step: a NIC appearing with its link down moves no address', () => {
  const c = group([{}, { mac: null }]);
  const e = c.handle({ kind: EventKind.NIC_APPEARED, nic: 1, mac: '02:00:00:00:00:01', linkUp: false }, 5);
  assert.deepEqual(texts(e), ['The link has gone down on net1', 'IP interface failure detected on net1 of group g0']);
  assert.deepEqual(e.moves, [], 'no address is bound to net1 and back within the step');
  assert.equal(iface(c, 1).state, 'failed');
});

test('a NIC that failed and went away, back with its link down: the same failure, not logged again', () => {
  for (const first of ['link-down', 'vanished'] as const) {
    const c = group([{}, {}]);
    if (first === 'link-down') linkDown(c, 1);
    const gone = c.handle({ kind: EventKind.NIC_VANISHED, nic: 1 }, 5);
    assert.deepEqual(texts(gone), first === 'link-down' ? [] : ['IP interface failure detected on net1 of group g0']);
    const back = c.handle({ kind: EventKind.NIC_APPEARED, nic: 1, mac: '02:00:00:00:00:01', ifindex: 9, linkUp: false }, 6);
    assert.deepEqual(texts(back), [], `${first}: nothing new to log`);
    assert.deepEqual(back.moves, []);
    assert.equal(iface(c, 1).state, 'failed');
    assert.equal(iface(c, 1).link, 'down');
    assert.equal(iface(c, 1).ifindex, 9);
    assert.deepEqual(active(c), ['net0']);
    assert.equal(c.snapshot().groups[0].state, 'degraded');
    // Its link coming up repairs it, as for any link failure.
    assert.ok(texts(linkUp(c, 1)).includes('IP interface repair detected on net1 of group g0'));
    assert.deepEqual(active(c), ['net0', 'net1']);
  }
});

test('a NIC that went away and is back with its link up is re-created and runs', () => {
  const c = group([{}, {}]);
  c.handle({ kind: EventKind.NIC_VANISHED, nic: 1 }, 5);
  c.handle({ kind: EventKind.NIC_APPEARED, nic: 1, mac: '02:00:00:00:00:01', linkUp: true }, 6);
  assert.equal(iface(c, 1).state, 'ok');
  assert.deepEqual(active(c), ['net0', 'net1']);
});

test('one move per address in a step: on a failure with a standby deployed each address moves once', () => {
  const c = group([{}, {}, { standby: true }]);
  const e = linkDown(c, 0);
  const addrs = e.moves.map((m) => m.address);
  assert.equal(new Set(addrs).size, addrs.length, `one move per address: ${JSON.stringify(e.moves)}`);
  for (const m of e.moves) {
    assert.equal(m.from, 0);
    assert.equal(c.binding.bindingOf(m.address), m.to, 'the move ends where the address is bound');
  }
  assert.ok(e.moves.length > 0);
});
