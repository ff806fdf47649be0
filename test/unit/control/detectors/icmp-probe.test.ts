import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FAILURE_DETECTED, HOST_DISCOVERED, LOG, PR_ACKED, PROBE_MULTI, PROBE_RESOLVED, PROBE_RTT, PROBE_UNI,
  REPAIR_DETECTED, SEND, TARGET_DEAD, probeIcmpId, type ProbeAction,
} from '../../../../src/control/detectors/probe-defs.js';
import { TG_DEAD } from '../../../../src/control/targets.js';
import { makeSim, MS, ofKind, S } from './probe-sim.js';

const R1 = '192.168.1.1';
const R2 = '192.168.1.2';

const uniSends = (acts: ProbeAction[]) => ofKind(acts, SEND).filter((a) => a.mtype === PROBE_UNI);
const resolved = (acts: ProbeAction[]) => ofKind(acts, PROBE_RESOLVED).map((a) => a.event);
const logs = (acts: ProbeAction[]) => ofKind(acts, LOG).map((a) => a.text);

test('probe id packs the pid and ifindex low bytes', () => {
  assert.equal(probeIcmpId(0x1234, 0x0203), 0x3403);
  assert.equal(probeIcmpId(99999, 300), ((99999 & 0xff) << 8) | (300 & 0xff));
});

test('one unicast probe per slot, in the second half of the slot', () => {
  for (const seed of [1, 2, 3]) {
    const sim = makeSim({ routers: [R1], seed });
    sim.run(60 * S);
    const starts = uniSends(sim.actions).map((a) => a.startNs);
    const pi = 1428 * MS;
    assert.ok(starts[0]! >= 0 && starts[0]! <= pi);
    for (let k = 1; k < starts.length; k++) {
      assert.ok(starts[k]! >= k * pi + pi / 2 && starts[k]! <= (k + 1) * pi, `slot ${k}: ${starts[k]}`);
    }
    assert.equal(starts.length, 42);
    assert.deepEqual(uniSends(sim.actions).slice(0, 3).map((a) => a.seq), [1, 2, 3]);
    assert.equal(sim.engine.stats.missed, 0);
  }
});

test('never more than two probes outstanding', () => {
  const sim = makeSim({ routers: [R1], answer: () => null });
  sim.targets.list[0]!.rtt.crtt = 10 * S;
  for (let t = 0; t < 30 * S; t += 100 * MS) {
    sim.run(t);
    assert.ok(sim.engine.ring.outstanding().length <= 2);
  }
  assert.ok(sim.engine.stats.lost > 10);
});

function dropAfter(n: number) {
  return (a: { seq: number }) => (a.seq <= n ? 1 * MS : null);
}

test('five consecutive losses mean failure', () => {
  const sim = makeSim({ routers: [R1], answer: dropAfter(3) });
  sim.run(20 * S);
  const first = sim.actions.findIndex((a) => a.kind === FAILURE_DETECTED);
  assert.ok(first > 0);
  const before = resolved(sim.actions.slice(0, first));
  assert.equal(before.filter((e) => !e.acked).length, 5);
  const fact = sim.actions[first] as Extract<ProbeAction, { kind: typeof FAILURE_DETECTED }>;
  assert.equal(fact.family, 4);
  assert.equal(fact.firstFailureNs, uniSends(sim.actions)[3]!.startNs);
  assert.ok(sim.engine.lossRun() >= 5);
});

test('four losses followed by an ack are not a failure', () => {
  const sim = makeSim({ routers: [R1], answer: (a) => (a.seq >= 4 && a.seq <= 7 ? null : 1 * MS) });
  sim.run(60 * S);
  assert.equal(ofKind(sim.actions, FAILURE_DETECTED).length, 0);
  assert.equal(sim.engine.stats.lost, 4);
});

test('losses are ignored for 40 s after creation unless an ack ends the quiet period', () => {
  const silent = makeSim({ routers: [R1], answer: () => null });
  silent.run(39 * S);
  assert.equal(ofKind(silent.actions, FAILURE_DETECTED).length, 0);
  assert.ok(silent.engine.lossRun() >= 20);
  silent.run(42 * S);
  assert.ok(ofKind(silent.actions, FAILURE_DETECTED).length > 0);

  const early = makeSim({ routers: [R1], answer: dropAfter(1) });
  early.run(15 * S);
  assert.ok(ofKind(early.actions, FAILURE_DETECTED).length > 0);
});

test('ten consecutive acks repair a failed instance', () => {
  let up = true;
  const sim = makeSim({ routers: [R1], answer: (a) => (up && a.seq !== 3 ? 1 * MS : null) });
  sim.run(5 * S);
  up = false;
  sim.run(20 * S);
  assert.ok(ofKind(sim.actions, FAILURE_DETECTED).length > 0);
  sim.engine.setFailed(true);
  up = true;
  const from = sim.actions.length;
  sim.run(60 * S);
  const after = sim.actions.slice(from);
  const at = after.findIndex((a) => a.kind === REPAIR_DETECTED);
  assert.ok(at > 0);
  assert.equal(resolved(after.slice(0, at)).filter((e) => e.acked).length, 10);
  assert.equal(ofKind(after, FAILURE_DETECTED).length, 0, 'no failure check while FAILED');
});

test('a silent router among answering ones is marked dead, not the NIC', () => {
  const sim = makeSim({ routers: [R1, R2], answer: (a) => (a.target === R2 ? null : 1 * MS) });
  sim.run(30 * S);
  const dead = ofKind(sim.actions, TARGET_DEAD);
  assert.deepEqual(dead.map((d) => [d.target, d.router]), [[R2, true]]);
  assert.equal(sim.targets.lookup(R2)!.status, TG_DEAD);
  assert.equal(ofKind(sim.actions, FAILURE_DETECTED).length, 0);
  assert.deepEqual(sim.targets.firingOrder(), [R1]);
});

test('a silent host target is deleted and a multicast probe follows', () => {
  const sim = makeSim({ answer: (a) => (a.target === '192.168.1.51' ? null : 1 * MS) });
  sim.targets.addHost('192.168.1.50', 0);
  sim.targets.addHost('192.168.1.51', 0);
  sim.run(30 * S);
  const i = sim.actions.findIndex((a) => a.kind === TARGET_DEAD);
  assert.ok(i > 0);
  assert.deepEqual(sim.actions[i], { kind: TARGET_DEAD, target: '192.168.1.51', router: false });
  const next = sim.actions.slice(i).find((a) => a.kind === SEND);
  assert.equal(next && next.kind === SEND && next.mtype, PROBE_MULTI);
  assert.equal(sim.targets.lookup('192.168.1.51'), undefined);
});

test('both families must fail when the other one is probe-capable', () => {
  const v6 = makeSim({ routers: [R2] });
  v6.run(10 * S);
  const sim = makeSim({ routers: [R1], answer: dropAfter(2) });
  sim.engine.peer = v6.engine;
  sim.run(10 * S);
  assert.equal(ofKind(sim.actions, FAILURE_DETECTED).length, 0);
  assert.ok(sim.engine.lossRun() >= 5);
  v6.answer = () => null;
  v6.run(20 * S);
  sim.run(20 * S);
  assert.ok(ofKind(sim.actions, FAILURE_DETECTED).length > 0);
});

test('acks feed the RTT estimate and the resolved-probe event', () => {
  const sim = makeSim({ routers: [R1], answer: () => 1 * MS });
  sim.run(2 * S);
  const [ev] = resolved(sim.actions);
  assert.deepEqual(ev, {
    seq: 1, target: R1, acked: true, startNs: ev!.startNs, netrttNs: 1 * MS, rttNs: 1 * MS,
    rttavgNs: 1 * MS, rttdevNs: 0.5 * MS,
  });
  assert.equal(sim.targets.lookup(R1)!.rtt.crtt, 3 * MS);
  sim.engine.setFailed(true);
  assert.equal(sim.targets.lookup(R1)!.rtt.crtt, 0, 'failure resets crtt');
});

test('out-of-window, fake and duplicate replies are rejected and logged', () => {
  const sim = makeSim({ routers: [R1], answer: () => null });
  assert.deepEqual(logs(sim.deliver({ seq: 1, from: R1 })), ['out of window probe seq 1 snxt 1 on eth1 from 192.168.1.1']);
  sim.run(sim.engine.nextDeadline());
  assert.equal(sim.engine.ring.snxt, 2);
  assert.deepEqual(logs(sim.deliver({ seq: 1, from: '192.168.1.99' })), [
    'probe status 1 Fake probe reply seq 1 snxt 2 on eth1 from 192.168.1.99',
  ]);
  assert.equal(resolved(sim.deliver({ seq: 1, from: R1 }))[0]!.acked, true);
  assert.deepEqual(logs(sim.deliver({ seq: 1, from: R1 })), [
    'probe status 2 Duplicate probe reply seq 1 snxt 2 on eth1 from 192.168.1.1',
  ]);
  assert.deepEqual(logs(sim.deliver({ seq: 2, from: R1 })), ['out of window probe seq 2 snxt 2 on eth1 from 192.168.1.1']);
  assert.deepEqual(logs(sim.deliver({ seq: 0, from: R1 })), [
    'probe status 0 Fake probe reply seq 0 snxt 2 on eth1 from 192.168.1.1',
  ]);
  assert.deepEqual(logs(sim.deliver({ seq: 1, from: R1, mtype: 7 })), ['probe reply type: 7 from 192.168.1.1 on eth1']);
  assert.equal(sim.engine.stats.ambiguous, 5);
});

test('the sequence window is 52 probes wide and wraps at 16 bits', () => {
  const sim = makeSim({ routers: [R1], answer: () => null });
  sim.engine.ring.snxt = 0xfff0;
  sim.run(120 * S);
  const sent = uniSends(sim.actions);
  assert.ok(sent.some((a) => a.seq === 0) && sent.some((a) => a.seq === 0xffff));
  const snxt = sim.engine.ring.snxt;
  const oldest = (snxt - 52) & 0xffff;
  assert.equal(ofKind(sim.deliver({ seq: oldest, from: R1 }), PROBE_RESOLVED).length, 1);
  assert.equal(logs(sim.deliver({ seq: (snxt - 53) & 0xffff, from: R1 }))[0]!.startsWith('out of window'), true);
});

test('a late reply turns a lost probe into an ack', () => {
  const sim = makeSim({ routers: [R1], answer: () => null });
  sim.run(4 * S);
  assert.ok(sim.engine.stats.lost >= 1);
  const lost = sim.engine.stats.lost;
  sim.deliver({ seq: 1, from: R1 });
  assert.equal(sim.engine.stats.lost, lost - 1);
  assert.equal(sim.engine.ring.bySeq(1)!.status, PR_ACKED);
});

test('a slow network raises the group FDT, RTT probes fill the slow slots, and it comes back down', () => {
  let rtt = 600 * MS;
  const sim = makeSim({ routers: [R1], answer: () => rtt });
  sim.run(5 * S);
  assert.deepEqual(logs(sim.actions), [
    'Cannot meet requested failure detection time of 10000 ms on (inet eth1) new failure detection time for group "g0" is 21000 ms',
  ]);
  assert.equal(sim.group.probeIntMs, 3000);
  rtt = 1 * MS;
  sim.run(200 * S);
  const sends = ofKind(sim.actions, SEND);
  assert.ok(sends.some((a) => a.mtype === PROBE_RTT));
  assert.deepEqual(logs(sim.actions).slice(1), [
    'Improved failure detection time 10500 ms on (inet eth1) for group "g0"',
    'Improved failure detection time 10000 ms on (inet eth1) for group "g0"',
  ]);
  assert.equal(sim.group.probeIntMs, 1428);
  assert.equal(ofKind(sim.actions, FAILURE_DETECTED).length, 0);
});

test('a daemon stall does not turn a pending reply into a loss', () => {
  for (const reportLag of [true, false]) {
    const sim = makeSim({ routers: [R1] });
    sim.run(5 * S);
    sim.answer = () => null;
    const sendAt = sim.engine.nextDeadline();
    const probe = uniSends(sim.run(sendAt))[0]!;
    // The daemon last ran right after sending; the reply reaches the kernel 1 ms later.
    const wake = sendAt + 10 * S;
    const acts = sim.engine.tick(wake, reportLag ? wake - sendAt : 0);
    const lost = resolved(acts).filter((e) => !e.acked);
    sim.deliver({ seq: probe.seq, from: R1, sentTimestampNs: sendAt, kernelRecvNs: sendAt + MS, processedNs: wake });
    if (reportLag) {
      assert.deepEqual(lost, [], 'stall reported: no loss');
      assert.ok(sim.engine.stats.missed > 0);
      assert.equal(sim.engine.stats.lost, 0);
    } else {
      assert.equal(lost.length, 1, 'without the lag the probe times out');
    }
  }
});

test('a probe forced out after a stall is void, not lost', () => {
  const sim = makeSim({ routers: [R1] });
  sim.run(5 * S);
  sim.answer = () => null;
  sim.targets.list[0]!.rtt.crtt = 5 * S;
  const sendAt = sim.engine.nextDeadline();
  sim.run(sendAt);
  const wake = sendAt + 4 * S;
  sim.engine.tick(wake, 3.9 * S);
  sim.run(wake + 3 * S);
  assert.equal(sim.engine.stats.voided, 1);
  assert.ok(resolved(sim.actions).every((e) => e.acked || e.startNs > sendAt));
});

test('link down clears the probe records and stops probing', () => {
  const sim = makeSim({ routers: [R1] });
  sim.run(10 * S);
  assert.ok(sim.engine.ackRun() > 0);
  sim.engine.onLinkDown(10 * S);
  assert.equal(sim.engine.ackRun(), 0);
  assert.equal(sim.engine.nextDeadline(), Infinity);
  assert.deepEqual(sim.engine.tick(11 * S), []);
  assert.deepEqual(sim.deliver({ seq: 3, from: R1 }), []);
  sim.engine.onLinkUp(20 * S);
  const d = sim.engine.nextDeadline();
  assert.ok(d >= 20 * S && d <= 20 * S + 1428 * MS);
});

test('multicast discovery: all-hosts probes with no targets, then unicast plus multicast with one host', () => {
  const sim = makeSim();
  sim.run(10 * S);
  const sends = ofKind(sim.actions, SEND);
  assert.ok(sends.length >= 6 && sends.every((a) => a.mtype === PROBE_MULTI && a.target === '224.0.0.1'));
  sim.responders.push('192.168.1.50', '0.0.0.0', '10.1.1.1', '192.168.1.10');
  sim.run(14 * S);
  assert.deepEqual(ofKind(sim.actions, HOST_DISCOVERED).map((a) => a.address), ['192.168.1.50']);
  const from = sim.actions.length;
  sim.run(20 * S);
  const kinds = ofKind(sim.actions.slice(from), SEND).map((a) => a.mtype);
  assert.deepEqual(kinds.slice(0, 4), [PROBE_UNI, PROBE_MULTI, PROBE_UNI, PROBE_MULTI]);
  sim.responders.push('192.168.1.51');
  sim.run(25 * S);
  const later = sim.actions.length;
  sim.run(35 * S);
  assert.ok(ofKind(sim.actions.slice(later), SEND).every((a) => a.mtype === PROBE_UNI));
});

test('disabling probing stops the timer; enabling restarts it', () => {
  const sim = makeSim({ routers: [R1] });
  sim.run(5 * S);
  sim.engine.setEnabled(false, 5 * S);
  assert.equal(sim.engine.nextDeadline(), Infinity);
  sim.engine.setEnabled(true, 100 * S);
  const d = sim.engine.nextDeadline();
  assert.ok(d >= 100 * S && d <= 100 * S + 1428 * MS);
  sim.run(110 * S);
  assert.equal(sim.engine.stats.missed, 0);
});
