/**
 * Liveness of the control thread: the lag monitor reports stalls above its bound (rate
 * limited, counting the ones it held back) and nothing below it; sd_notify watchdog
 * intervals come from WATCHDOG_USEC only when systemd watches this PID.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LagMonitor } from '../../../src/daemon/liveness.js';
import { SdNotify } from '../../../src/daemon/sd-notify.js';

test('ticks on time or late within the bound log nothing', () => {
  const m = new LagMonitor(100, 500);
  assert.equal(m.tick(0), null);
  assert.equal(m.tick(100), null);
  assert.equal(m.tick(700), null, '500 ms late is within the bound');
  assert.equal(m.stalls, 0);
  assert.equal(m.maxLagMs, 500);
});

test('a stall above the bound is logged with its length', () => {
  const m = new LagMonitor(100, 500);
  m.tick(0);
  assert.equal(m.tick(1300), 'control thread event loop stalled for 1200 ms (bound 500 ms)');
  assert.equal(m.stalls, 1);
});

test('stalls are reported at most every 10 s, with the count held back', () => {
  const m = new LagMonitor(100, 500);
  m.tick(0);
  assert.match(m.tick(1000) ?? '', /stalled for 900 ms/);
  assert.equal(m.tick(2000), null);
  assert.equal(m.tick(3000), null);
  let t = 3000;
  for (; t < 11_000; t += 100) assert.equal(m.tick(t + 100), null);
  assert.equal(m.tick(t + 1000), `control thread event loop stalled for 900 ms (bound 500 ms) (2 more since the last report)`);
  assert.equal(m.stalls, 4);
});

test('watchdog interval: half of WATCHDOG_USEC, only for this PID and with a notify socket', () => {
  const native = { sdNotify: () => 0 };
  assert.equal(new SdNotify(native, { NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '10000000' }).watchdogIntervalMs(), 5000);
  assert.equal(new SdNotify(native, { NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '10000000', WATCHDOG_PID: String(process.pid) })
    .watchdogIntervalMs(), 5000);
  assert.equal(new SdNotify(native, { NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '10000000', WATCHDOG_PID: '1' }).watchdogIntervalMs(), null);
  assert.equal(new SdNotify(native, { WATCHDOG_USEC: '10000000' }).watchdogIntervalMs(), null);
  assert.equal(new SdNotify(native, { NOTIFY_SOCKET: '/run/x' }).watchdogIntervalMs(), null);
});

test('notifications go to NOTIFY_SOCKET; none without it', () => {
  const sent: string[] = [];
  const native = { sdNotify: (p: string, t: string) => { sent.push(`${p}|${t}`); return 0; } };
  assert.equal(new SdNotify(native, {}).ready('x'), false);
  assert.equal(sent.length, 0);
  assert.equal(new SdNotify(native, { NOTIFY_SOCKET: '@sd' }).ready('up'), true);
  assert.deepEqual(sent, [`@sd|READY=1\nSTATUS=up\nMAINPID=${process.pid}`]);
});
