/** GroupController: effects, generation, buckets and bindings together, snapshot. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventKind } from '../../../src/control/group.js';
import { LogLevel } from '../../../src/control/glossary.js';
import { active, group, iface, linkDown, linkUp, nicConfig, texts } from './fixtures.js';

test('an event with no effect returns changed=false and keeps the generation', () => {
  const c = group([{}, {}]);
  const gen = c.generation;
  const e = linkUp(c, 0);
  assert.deepEqual(e, {
    logs: [], bucketChanges: [], moves: [], nominee: undefined, carrier: undefined, groupState: undefined,
    changed: false,
  });
  assert.equal(c.generation, gen);
  assert.equal(c.handle({ kind: EventKind.LINK_DOWN, nic: 42 }, 1).changed, false);
});

test('a change bumps the generation once', () => {
  const c = group([{}, {}]);
  const gen = c.generation;
  linkDown(c, 0);
  assert.equal(c.generation, gen + 1);
  assert.equal(c.snapshot().generation, gen + 1);
});

test('failover moves only the failed NIC’s buckets; logs are LOG_ERR', () => {
  const c = group([{}, {}, {}]);
  const before = Uint8Array.from(c.buckets.owner);
  const e = linkDown(c, 1);
  assert.ok(e.logs.every((l) => l.level === LogLevel.ERR));
  for (let b = 0; b < 256; b++) {
    if (before[b] === 1) assert.ok(e.bucketChanges.includes(b) && c.buckets.owner[b] !== 1);
    else assert.equal(c.buckets.owner[b], before[b]);
  }
  const back = linkUp(c, 1);
  assert.deepEqual(back.bucketChanges, e.bucketChanges);
  assert.deepEqual([...c.buckets.owner], [...before]);
});

test('standby deployed on failure and returned on repair', () => {
  const c = group([{}, {}, { standby: true }]);
  assert.equal(c.buckets.loadOf(2), 0);
  assert.equal(c.binding.boundTo(2).length, 0);
  linkDown(c, 0);
  assert.deepEqual(active(c), ['net1', 'net2']);
  assert.ok(c.buckets.loadOf(2) > 0);
  // net1 keeps its own home buckets; net2 takes net0's displaced ones until within 1.
  for (let b = 0; b < 256; b++) if (c.buckets.homeOf(b) === 1) assert.equal(c.buckets.owner[b], 1);
  const displacedOn1 = [...c.buckets.owner].filter((o, b) => o === 1 && c.buckets.homeOf(b) === 0).length;
  assert.ok(displacedOn1 === 0 || c.buckets.loadOf(1) - c.buckets.loadOf(2) <= 1);
  assert.equal(c.binding.boundTo(1).length, 2);
  assert.equal(c.binding.boundTo(2).length, 2);
  linkUp(c, 0);
  assert.equal(iface(c, 2).flags.inactive, true);
  assert.equal(c.buckets.loadOf(2), 0);
  assert.equal(c.binding.boundTo(2).length, 0);
  for (let b = 0; b < 256; b++) assert.equal(c.buckets.owner[b], c.buckets.homeOf(b));
});

test('all failed: carrier off and unbound; the first repair carries every address and bucket', () => {
  const c = group([{}, {}]);
  linkDown(c, 0);
  const down = linkDown(c, 1);
  assert.equal(down.carrier, false);
  assert.equal(down.nominee, null);
  assert.ok(c.snapshot().addresses.every((a) => a.inbound === '' && a.outbound.length === 0));
  const up = linkUp(c, 0);
  assert.equal(up.carrier, true);
  assert.ok(up.moves.every((m) => m.to === 0 && m.initial));
  assert.ok(c.buckets.owner.every((o) => o === 0));
  assert.ok(c.snapshot().addresses.every((a) => a.inbound === 'net0'));
});

test('snapshot: group list order has new members at the head; flags and words', () => {
  const c = group([{}, { standby: true }]);
  c.addNic(nicConfig(2, { probe: true }), 1);
  const s = c.snapshot();
  assert.deepEqual(s.groups[0], {
    ifname: 'ipmp0', groupname: 'g0', state: 'ok', fdtMs: null, interfaces: ['net2', 'net1', 'net0'],
  });
  const n1 = iface(c, 1);
  assert.deepEqual(n1.flags, {
    inactive: true, standby: true, mcast4: false, bcast4: false, mcast6: false, down: false, hwaddrdup: false,
  });
  assert.equal(n1.active, false);
  assert.equal(n1.state, 'ok');
  assert.equal(iface(c, 0).flags.mcast4, true);
  assert.equal(iface(c, 2).probe, 'ok');
  assert.equal(iface(c, 0).probe, 'disabled');
  assert.equal(iface(c, 0).link, 'up');
  assert.equal(iface(c, 0).mac, '02:00:00:00:00:00');
  const a = s.addresses[0];
  assert.equal(a.address, '198.18.0.1');
  assert.equal(a.prefixlen, 24);
  assert.equal(a.group, 'ipmp0');
  assert.deepEqual([...a.outbound].sort(), ['net0', 'net2']);
});

test('a NIC missing at start is tracked as failed until it appears', () => {
  const c = group([{}, { mac: null }]);
  assert.equal(iface(c, 1).state, 'failed');
  assert.equal(iface(c, 1).mac, '');
  assert.equal(c.snapshot().groups[0].state, 'degraded');
  const e = c.handle({ kind: EventKind.NIC_APPEARED, nic: 1, mac: '02:00:00:00:00:01', ifindex: 7 }, 5);
  assert.equal(e.changed, true);
  assert.deepEqual(active(c), ['net0', 'net1']);
  assert.equal(iface(c, 1).ifindex, 7);
  assert.equal(c.snapshot().groups[0].state, 'ok');
});

test('a NIC that appears with its link down is failed at once', () => {
  const c = group([{}, { mac: null }]);
  c.handle({ kind: EventKind.NIC_APPEARED, nic: 1, mac: '02:00:00:00:00:01', linkUp: false }, 5);
  assert.equal(iface(c, 1).state, 'failed');
  assert.equal(iface(c, 1).link, 'down');
});

test('a NIC whose device vanishes is an interface failure', () => {
  const c = group([{}, {}]);
  const e = c.handle({ kind: EventKind.NIC_VANISHED, nic: 0 }, 5);
  assert.ok(texts(e).includes('IP interface failure detected on net0 of group g0'));
  assert.deepEqual(active(c), ['net1']);
  assert.equal(iface(c, 0).link, 'unknown');
});

test('the first NIC of an empty group brings the carrier up', () => {
  const c = group([], { addresses: ['198.18.0.9'] });
  assert.equal(c.snapshot().groups[0].state, 'failed');
  const e = c.addNic(nicConfig(4), 1);
  assert.equal(e.carrier, true);
  assert.equal(e.nominee, 4);
  assert.deepEqual(e.moves, [{ address: '198.18.0.9', from: null, to: 4, initial: true }]);
  assert.ok(texts(e).includes('At least 1 IP interface (net4) in group g0 is now usable'));
  assert.equal(e.bucketChanges.length, 256);
});

test('add, take down, bring up and remove a data address', () => {
  const c = group([{}, {}], { addresses: [] });
  const add = c.addAddress('2001:db8::10');
  assert.deepEqual(add.moves, [{ address: '2001:db8::10', from: null, to: 0, initial: true }]);
  assert.equal(c.snapshot().addresses[0].prefixlen, 128);
  assert.equal(c.addAddress('2001:db8::10').changed, false);
  assert.deepEqual(c.setAddressUp('2001:db8::10', false).moves, [{ address: '2001:db8::10', from: 0, to: null, initial: false }]);
  assert.equal(c.snapshot().addresses[0].inbound, '');
  assert.equal(c.setAddressUp('2001:db8::10', true).moves[0].initial, true);
  assert.equal(c.removeAddress('2001:db8::10').changed, true);
  assert.deepEqual(c.snapshot().addresses, []);
});

test('administrative DOWN takes a NIC out of the data path and degrades the group', () => {
  const c = group([{}, {}]);
  const e = c.handle({ kind: EventKind.ADMIN_CHANGED, nic: 0, up: false }, 1);
  assert.ok(e.moves.every((m) => m.from === 0));
  assert.equal(iface(c, 0).flags.down, true);
  assert.equal(iface(c, 0).active, false);
  assert.equal(c.snapshot().groups[0].state, 'degraded');
});

test('removing a NIC drops its buckets and its place in the list', () => {
  const c = group([{}, {}, {}]);
  const e = c.removeNic(1, 1);
  assert.ok(e.bucketChanges.length > 0);
  assert.ok(!c.buckets.owner.includes(1));
  assert.deepEqual(c.snapshot().groups[0].interfaces, ['net2', 'net0']);
  assert.equal(c.removeNic(1, 2).changed, false);
});
