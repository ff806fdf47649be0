/** The run-time flap damping: refused link-ups, the re-check timer, and repair once stable. */
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { LinkDamping } from '../../../src/daemon/link-damping.js';

const S = 1e9;
const FLAP = 'The link has come up on eth0 more than 2 times in the last minute; disabling repair until it stabilizes';

function harness(probing = false) {
  let nowNs = 1000 * S;
  const logs: string[] = [];
  const stable: number[] = [];
  const damping = new LinkDamping({
    now: () => nowNs, log: (t) => logs.push(t), probing: () => probing, stable: (slot) => stable.push(slot),
  });
  const advance = (ms: number): void => { nowNs += ms * 1e6; mock.timers.tick(ms); };
  const bounce = (ms: number): boolean => {
    advance(ms);
    damping.linkDown(0, 'eth0');
    return damping.linkUp(0, 'eth0');
  };
  return { damping, logs, stable, advance, bounce };
}

test('the third up within a minute is refused, logged once, and repaired when the minute has passed', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const h = harness();
    assert.equal(h.bounce(0), true);
    assert.equal(h.bounce(1_000), true);
    assert.equal(h.bounce(1_000), false);
    assert.deepEqual(h.logs, [FLAP]);
    // The refused up counts too: the last two ups are now at 1 s and 2 s, so repair is allowed
    // 60 s after the one at 1 s.
    h.advance(58_999);
    assert.deepEqual(h.stable, [], 'still held back just before the minute ends');
    h.advance(1);
    assert.deepEqual(h.stable, [0], 'repair allowed 60 s after the older of the last two ups');
    assert.deepEqual(h.logs, [FLAP]);
  } finally {
    mock.timers.reset();
  }
});

test('a link that goes down while held back cancels the re-check', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const h = harness();
    h.bounce(0);
    h.bounce(1_000);
    assert.equal(h.bounce(1_000), false);
    h.damping.linkDown(0, 'eth0');
    h.advance(120_000);
    assert.deepEqual(h.stable, []);
  } finally {
    mock.timers.reset();
  }
});

test('further ups while held back push the re-check out; the message is not repeated', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const h = harness();
    h.bounce(0);
    h.bounce(10_000);
    assert.equal(h.bounce(10_000), false);
    assert.equal(h.bounce(10_000), false);
    h.advance(40_000);
    assert.deepEqual(h.stable, [], 'at 60 s after the first up the later ups still hold it back');
    h.advance(20_000);
    assert.deepEqual(h.stable, [0]);
    assert.deepEqual(h.logs, [FLAP]);
  } finally {
    mock.timers.reset();
  }
});

test('no damping with probing enabled, and none after the NIC is forgotten', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const p = harness(true);
    for (let i = 0; i < 5; i++) assert.equal(p.bounce(100), true);
    assert.deepEqual(p.logs, []);
    const h = harness();
    h.bounce(0);
    h.bounce(100);
    h.damping.forget(0);
    assert.equal(h.bounce(100), true, 'a re-created NIC starts without history');
  } finally {
    mock.timers.reset();
  }
});

test('stop cancels pending re-checks', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const h = harness();
    h.bounce(0);
    h.bounce(100);
    assert.equal(h.bounce(100), false);
    h.damping.stop();
    h.advance(120_000);
    assert.deepEqual(h.stable, []);
  } finally {
    mock.timers.reset();
  }
});
