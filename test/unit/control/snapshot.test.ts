/** Snapshot nominee flags (§11.2): m and b for IPv4, M for IPv6, only where the group uses the family. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { group } from './fixtures.js';
import type { GroupController } from '../../../src/control/controller.js';
import type { TestFamilies } from '../../../src/control/snapshot.js';

function flagsOf(c: GroupController, tf?: TestFamilies): string[] {
  return c.snapshot(tf).interfaces.map((i) => `${i.name}:${i.flags.mcast4 ? 'm' : '-'}${i.flags.bcast4 ? 'b' : '-'}${i.flags.mcast6 ? 'M' : '-'}`);
}

test('IPv4 data addresses only: m and b on the nominee, no M', () => {
  assert.deepEqual(flagsOf(group([{}, {}])), ['net1:---', 'net0:mb-']);
});

test('IPv6 data addresses only: M on the nominee, no m or b', () => {
  assert.deepEqual(flagsOf(group([{}, {}], { addresses: ['2001:db8::10/64'] })), ['net1:---', 'net0:--M']);
});

test('both families in data addresses: m, b and M', () => {
  assert.deepEqual(flagsOf(group([{}, {}], { addresses: ['198.18.0.10/24', '2001:db8::10/64'] })), ['net1:---', 'net0:mbM']);
});

test('test addresses count: an IPv6 test address brings M to an IPv4 group, an IPv4 one m and b to an IPv6 group', () => {
  assert.deepEqual(flagsOf(group([{}, {}]), { v4: true, v6: true }), ['net1:---', 'net0:mbM']);
  assert.deepEqual(flagsOf(group([{}, {}], { addresses: ['2001:db8::10/64'] }), { v4: true, v6: false }), ['net1:---', 'net0:mbM']);
});

test('no addresses at all: the IPMP interface counts as IPv4 only', () => {
  assert.deepEqual(flagsOf(group([{}, {}], { addresses: [] })), ['net1:---', 'net0:mb-']);
});
