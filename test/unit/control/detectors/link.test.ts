import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LinkDetector } from '../../../../src/control/detectors/link.js';

const S = 1e9;
const FLAP = 'The link has come up on eth1 more than 2 times in the last minute; disabling repair until it stabilizes';

function bounce(d: LinkDetector, at: number, probing = false) {
  d.onLinkDown(at - 1);
  return d.onLinkUp(at, probing);
}

test('the third link-up within a minute is refused without probing, logged once', () => {
  const d = new LinkDetector('eth1');
  assert.deepEqual(bounce(d, 0), { repairAllowed: true });
  assert.deepEqual(bounce(d, 10 * S), { repairAllowed: true });
  assert.deepEqual(bounce(d, 20 * S), { repairAllowed: false, recheckAtNs: 60 * S, log: FLAP });
  assert.deepEqual(bounce(d, 30 * S), { repairAllowed: false, recheckAtNs: 70 * S });
  assert.deepEqual(d.recheck(60 * S, false), { repairAllowed: false, recheckAtNs: 80 * S });
  assert.deepEqual(d.recheck(80 * S, false), { repairAllowed: true });
});

test('once stable the message can be logged again', () => {
  const d = new LinkDetector('eth1');
  bounce(d, 0);
  bounce(d, 1 * S);
  assert.equal(bounce(d, 2 * S).log, FLAP);
  assert.equal(d.recheck(200 * S, false).repairAllowed, true);
  bounce(d, 201 * S);
  bounce(d, 202 * S);
  assert.equal(bounce(d, 203 * S).log, FLAP);
});

test('no damping when probing is enabled', () => {
  const d = new LinkDetector('eth1');
  for (let i = 0; i < 5; i++) assert.deepEqual(bounce(d, i * S, true), { repairAllowed: true });
});

test('ups spaced over a minute apart are accepted', () => {
  const d = new LinkDetector('eth1');
  for (let i = 0; i < 5; i++) assert.equal(bounce(d, i * 31 * S).repairAllowed, true);
});

test('no repair while the link is down', () => {
  const d = new LinkDetector('eth1');
  d.onLinkDown(0);
  assert.equal(d.recheck(100 * S, false).repairAllowed, false);
});
