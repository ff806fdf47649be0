import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  GroupState, LinkState, NicFlag, NicState, groupStateWord, ifStateWord, isActiveWord, isFunctioning, isUsable,
  linkStateWord, probeStateWord,
} from '../../../src/control/glossary.js';

test('§7.3 STATE words', () => {
  assert.equal(ifStateWord(NicState.RUNNING, 0), 'ok');
  assert.equal(ifStateWord(NicState.FAILED, NicFlag.FAILED), 'failed');
  assert.equal(ifStateWord(NicState.NOTARGETS, NicFlag.FAILED), 'failed');
  assert.equal(ifStateWord(NicState.NOTARGETS, 0), 'unknown');
  assert.equal(ifStateWord(NicState.INIT, 0), 'unknown');
  assert.equal(ifStateWord(NicState.OFFLINE, NicFlag.OFFLINE), 'offline');
});

test('§7.3 PROBE, LINK and group words', () => {
  assert.equal(probeStateWord(NicState.RUNNING, false), 'disabled');
  assert.equal(probeStateWord(NicState.FAILED, true), 'failed');
  assert.equal(probeStateWord(NicState.NOTARGETS, true), 'unknown');
  assert.equal(probeStateWord(NicState.RUNNING, true), 'ok');
  assert.equal(linkStateWord(LinkState.UP), 'up');
  assert.equal(linkStateWord(LinkState.DOWN), 'down');
  assert.equal(linkStateWord(LinkState.UNKNOWN), 'unknown');
  assert.equal(groupStateWord(GroupState.OK), 'ok');
  assert.equal(groupStateWord(GroupState.DEGRADED), 'degraded');
  assert.equal(groupStateWord(GroupState.FAILED), 'failed');
});

test('§7.3 functioning, usable and ACTIVE', () => {
  assert.ok(isFunctioning(NicState.NOTARGETS, 0));
  assert.ok(!isFunctioning(NicState.NOTARGETS, NicFlag.FAILED));
  assert.ok(isUsable(NicState.RUNNING, NicFlag.INACTIVE));
  assert.ok(!isUsable(NicState.RUNNING, NicFlag.DOWN));
  assert.ok(!isActiveWord(NicState.RUNNING, NicFlag.INACTIVE));
  assert.ok(isActiveWord(NicState.RUNNING, NicFlag.STANDBY));
});
