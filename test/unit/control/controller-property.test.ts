/** Random event sequences through GroupController: the tables always agree with the flags. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { GroupController } from '../../../src/control/controller.js';
import { EventKind, type GroupEvent } from '../../../src/control/group.js';
import { NicFlag, NO_NIC } from '../../../src/control/glossary.js';
import { isDataActive } from '../../../src/control/group-model.js';
import { nicConfig } from './fixtures.js';

const nic = fc.integer({ min: 0, max: 3 });
const eventArb: fc.Arbitrary<GroupEvent> = fc.oneof(
  nic.map((n) => ({ kind: EventKind.LINK_DOWN, nic: n }) as GroupEvent),
  fc.tuple(nic, fc.boolean()).map(([n, ok]) => ({ kind: EventKind.LINK_UP, nic: n, linkUpRepairAllowed: ok }) as GroupEvent),
  nic.map((n) => ({ kind: EventKind.LINK_STABLE, nic: n }) as GroupEvent),
  fc.tuple(nic, fc.boolean()).map(([n, on]) => ({ kind: EventKind.PROBE_CONFIG_CHANGED, nic: n, probeEnabled: on }) as GroupEvent),
  nic.map((n) => ({ kind: EventKind.OFFLINE, nic: n }) as GroupEvent),
  nic.map((n) => ({ kind: EventKind.UNDO_OFFLINE, nic: n }) as GroupEvent),
  fc.tuple(nic, fc.boolean()).map(([n, s]) => ({ kind: EventKind.STANDBY_CHANGED, nic: n, standby: s }) as GroupEvent),
  fc.boolean().map((f) => ({ kind: EventKind.FAILBACK_CHANGED, failback: f }) as GroupEvent),
  fc.tuple(nic, fc.integer({ min: 0, max: 2 })).map(([n, m]) => ({
    kind: EventKind.MAC_CHANGED, nic: n, mac: `02:00:00:00:00:0${m}`,
  }) as GroupEvent),
  nic.map((n) => ({ kind: EventKind.NIC_REMOVED, nic: n }) as GroupEvent),
  nic.map((n) => ({ kind: EventKind.NIC_ADDED, config: nicConfig(n, { standby: n === 3 }) }) as GroupEvent),
);

function checkInvariants(c: GroupController): void {
  const members = c.model.members;
  const activeIds = new Set(members.filter(isDataActive).map((m) => m.id));
  for (const m of members) {
    assert.ok(!((m.flags & NicFlag.FAILED) && (m.flags & NicFlag.INACTIVE)), 'FAILED and INACTIVE together');
  }
  assert.deepEqual(new Set(c.binding.activeNics()), activeIds);
  assert.equal(c.binding.carrier, activeIds.size > 0);
  for (const o of c.buckets.owner) {
    if (activeIds.size === 0) assert.equal(o, NO_NIC);
    else assert.ok(activeIds.has(o), `bucket owned by ${o}`);
  }
  for (const a of c.binding.addresses()) {
    const to = c.binding.bindingOf(a);
    if (activeIds.size === 0) assert.equal(to, null);
    else assert.ok(to !== null && activeIds.has(to));
  }
  if (activeIds.size > 0) assert.ok(c.binding.nominee !== null && activeIds.has(c.binding.nominee));
  const counts = [...activeIds].map((id) => c.binding.boundTo(id).length);
  if (counts.length > 0) assert.ok(Math.max(...counts) - Math.min(...counts) <= 2);
}

test('property: buckets, bindings, nominee and carrier follow the active set under any event sequence', () => {
  fc.assert(fc.property(fc.boolean(), fc.array(eventArb, { maxLength: 40 }), (failback, events) => {
    const c = new GroupController({
      ifname: 'ipmp0', groupname: 'g0', failback,
      nics: [nicConfig(0), nicConfig(1), nicConfig(2), nicConfig(3, { standby: true })],
      addresses: ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5'],
    });
    checkInvariants(c);
    let t = 1;
    for (const ev of events) {
      const gen = c.generation;
      const e = c.handle(ev, t++);
      assert.equal(c.generation, e.changed ? gen + 1 : gen);
      checkInvariants(c);
    }
  }), { numRuns: 300 });
});
