import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupFdt, isExceptionTarget, parseFdt, probeIntervalMs, strtol0, type FdtMember } from '../../../src/control/fdt.js';

const MS = 1e6;
const S = 1e9;

test('strtol0 follows C strtol with base 0', () => {
  assert.equal(strtol0('0x3e8'), 1000);
  assert.equal(strtol0('0X3E8'), 1000);
  assert.equal(strtol0('010'), 8);
  assert.equal(strtol0('10'), 10);
  assert.equal(strtol0('  42abc'), 42);
  assert.equal(strtol0('-5'), -5);
  assert.equal(strtol0('+7'), 7);
  assert.equal(strtol0('abc'), 0);
  assert.equal(strtol0(''), 0);
  assert.equal(strtol0('0x'), 0);
  assert.equal(strtol0('08'), 0);
  assert.equal(strtol0('0x1g'), 1);
});

test('parseFdt accepts hex and decimal values', () => {
  assert.deepEqual(parseFdt('0x3e8'), { fdtMs: 1000 });
  assert.deepEqual(parseFdt('20000'), { fdtMs: 20000 });
  assert.deepEqual(parseFdt('100'), { fdtMs: 100 });
});

test('parseFdt clamps small values to 100 ms with the message', () => {
  assert.deepEqual(parseFdt('10'), {
    fdtMs: 100,
    log: 'Too small failure detection time of 10, assuming minimum of 100 ms',
  });
  assert.deepEqual(parseFdt('010'), {
    fdtMs: 100,
    log: 'Too small failure detection time of 010, assuming minimum of 100 ms',
  });
});

test('parseFdt replaces invalid values by the default with the message', () => {
  for (const v of ['garbage', '0', '-1', '', '08']) {
    assert.deepEqual(parseFdt(v), {
      fdtMs: 10000,
      log: `Invalid failure detection time ${v}, assuming default of 10000 ms`,
    });
  }
  assert.equal(parseFdt('5000ms').fdtMs, 5000);
});

test('probe interval is FDT / 7 in whole ms', () => {
  assert.equal(probeIntervalMs(10000), 1428);
  assert.equal(probeIntervalMs(100), 14);
  assert.equal(new GroupFdt(10000, 'g').probeIntMs, 1428);
});

test('exception target needs 4 active targets and fast others', () => {
  assert.equal(isExceptionTarget(4, [100 * MS, 200 * MS, 714 * MS], 1428), true);
  assert.equal(isExceptionTarget(4, [100 * MS, 200 * MS, 715 * MS], 1428), false);
  assert.equal(isExceptionTarget(3, [100 * MS, 200 * MS], 1428), false);
});

test('raise doubles the slow crtt and logs the group message', () => {
  const g = new GroupFdt(10000, 'g0');
  const log = g.raise(2000 * MS, 5 * S, 4, 'eth1');
  assert.equal(g.probeIntMs, 4000);
  assert.equal(g.fdtMs, 28000);
  assert.equal(g.lastIncreaseNs, 5 * S);
  assert.equal(g.slowed, true);
  assert.equal(
    log,
    'Cannot meet requested failure detection time of 10000 ms on (inet eth1) new failure detection time for group "g0" is 28000 ms',
  );
});

test('the anonymous group adapts silently', () => {
  const g = new GroupFdt(10000, '', true);
  assert.equal(g.raise(2000 * MS, 0, 6, 'eth1'), null);
  assert.equal(g.fdtMs, 28000);
  assert.equal(g.maybeLower(1 * MS, 61 * S, 6, 'eth1'), null);
  assert.equal(g.fdtMs, 14000);
});

test('lowering waits 60 s after a raise and halves down to the configured FDT', () => {
  const g = new GroupFdt(10000, 'g0');
  g.raise(2000 * MS, 0, 6, 'eth2');
  assert.equal(g.maybeLower(10 * MS, 60 * S, 6, 'eth2'), null, 'within settling time');
  assert.equal(g.maybeLower(1000 * MS, 61 * S, 6, 'eth2'), null, 'crtt not below probeint/4');
  assert.equal(g.maybeLower(10 * MS, 61 * S, 6, 'eth2'), 'Improved failure detection time 14000 ms on (inet6 eth2) for group "g0"');
  assert.equal(g.probeIntMs, 2000);
  assert.equal(g.maybeLower(10 * MS, 62 * S, 6, 'eth2'), 'Improved failure detection time 10000 ms on (inet6 eth2) for group "g0"');
  assert.equal(g.probeIntMs, 1428);
  assert.equal(g.slowed, false);
  assert.equal(g.maybeLower(10 * MS, 63 * S, 6, 'eth2'), null, 'already at the configured FDT');
});

test('lowering needs every member within probeint/4', () => {
  const g = new GroupFdt(10000, 'g0');
  let fast = false;
  const member: FdtMember = { crttsWithin: (limit) => fast && limit === 1000 * MS };
  g.attach(member);
  g.raise(2000 * MS, 0, 4, 'eth1');
  assert.equal(g.maybeLower(10 * MS, 100 * S, 4, 'eth1'), null);
  fast = true;
  assert.notEqual(g.maybeLower(10 * MS, 100 * S, 4, 'eth1'), null);
  g.detach(member);
});
