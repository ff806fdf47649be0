// Forwarding worker liveness: a forwarding worker that stops looping (stall) or dies (crash)
// is noticed by the daemon's watchdog, logged and replaced; traffic flows again with the same
// tables and no NIC is declared failed, even with probe-based failure detection whose
// detection time (1 s) is shorter than the stall. The fault comes from the control socket's
// test-hook op (the daemon runs with IPMPD_TEST_HOOKS=1); SIGUSR2 still upgrades in place.
// A worker that crashes at every start is restarted with a doubling delay, one log line per
// failure, reported as failing in the snapshot, and forwards again once it stops crashing.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { labUp, labDown, labDownSync, execIn, hostNs, waitFor, type LabInfo } from '../../src/lab/lab.js';
import { uniquePrefix } from '../../src/lab/fixture.js';
import { startDaemon, snapshot, type RunningDaemon } from './helpers/daemon.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { probingGroupYaml, testHook } from './helpers/probe-helpers.js';
import { MAX_NESTING } from '../../src/daemon/config-yaml.js';
import { STALL_MS } from '../../src/daemon/forwarding.js';
import type { TestHook } from '../../src/daemon/protocol.js';

const skip = process.getuid?.() !== 0 ? 'needs root (network namespaces)' : false;
const TUN = `ipl${process.pid % 100000}`;
const PEER = '198.18.0.1';
const NICS = ['eth0', 'eth1'];

async function pingOnce(ns: string, target: string, waitS = 1): Promise<boolean> {
  try {
    await execIn(ns, ['ping', '-n', '-q', '-c', '1', '-W', String(waitS), target], { timeoutMs: (waitS + 5) * 1000 });
    return true;
  } catch {
    return false;
  }
}

describe('forwarding worker liveness', { skip, timeout: 90_000 }, () => {
  let lab: LabInfo;
  let d: RunningDaemon;
  const prefix = uniquePrefix();

  before(async () => {
    lab = await labUp({ prefix, nics: 2 });
    d = await startDaemon(prefix, probingGroupYaml(TUN, 1000, PEER), { testHooks: true });
    await waitFor('both NICs ok with probes', async () => {
      const s = await snapshot(d.socket);
      return NICS.every((n) => s.interfaces.some((i) => i.name === n && i.state === 'ok' && i.probe === 'ok'));
    }, 20_000, 100);
    await waitFor('ping through ipmp0', () => pingOnce(hostNs(prefix), PEER), 10_000, 100);
  });

  after(async () => {
    try { if (d) await d.stop(); } finally {
      try { await labDown(prefix); } catch { labDownSync(prefix); }
    }
  });

  async function fault(hook: TestHook, logged: RegExp): Promise<void> {
    const from = d.log().length;
    await testHook(d, TUN, hook);
    await d.waitLog(`test hook: ${hook}`, 5_000, from);
    const t0 = Date.now();
    await d.waitLog(logged, STALL_MS + 8_000, from);
    await d.waitLog(/forwarding worker \w+ restarted/, 10_000, from);
    const restartMs = Date.now() - t0;
    // Traffic flows again, through the same tables (addresses, routes, neighbours).
    await waitFor('ping after the restart', () => pingOnce(hostNs(prefix), PEER), 10_000, 50);
    const s = await snapshot(d.socket);
    for (const n of NICS) {
      const i = s.interfaces.find((x) => x.name === n);
      assert.equal(i?.state, 'ok', `${n} after the ${hook} (${restartMs} ms): ${JSON.stringify(i)}`);
      assert.equal(i?.active, true);
    }
    assert.equal(s.groups[0].state, 'ok');
    assert.equal(s.addresses.filter((a) => a.inbound !== '').length, 2, JSON.stringify(s.addresses));
    const since = d.log().slice(from);
    assert.doesNotMatch(since, /IP interface failure detected|All IP interfaces in group/, d.tail(30));
  }

  it('replaces a stalled worker: logged, traffic again, no NIC failure', async () => {
    const from = d.log().length;
    const stalled = fault('forwarding-stall', /forwarding worker \w+ stalled \(no progress for \d+ ms\); restarting it in 100 ms \(attempt 1\)\n/);
    // While the worker is stuck nothing is forwarded: the stall is real.
    await d.waitLog('test hook: forwarding-stall', 5_000, from);
    assert.equal(await pingOnce(hostNs(prefix), PEER, 1), false, 'a ping went through a stalled worker');
    await stalled;
  });

  it('replaces a crashed worker: logged, traffic again, no NIC failure', async () => {
    await fault('forwarding-crash',
      /forwarding worker \w+ exited \(code 1; error: test hook: forwarding worker crash\); restarting it in 200 ms \(attempt 2\)\n/);
  });

  it('the daemon is still whole: snapshot answers and the log names each restart once', async () => {
    const restarts = d.log().match(/forwarding worker \w+ restarted/g) ?? [];
    assert.equal(restarts.length, 2, d.tail(20));
    assert.ok(d.alive());
  });

  it('SIGHUP with a configuration nested 1000 levels deep: refused with its line, the running one stays', async () => {
    const file = join(d.dir, 'ipmp.yaml');
    const running = readFileSync(file, 'utf8');
    const before = await snapshot(d.socket);
    const from = d.log().length;
    try {
      writeFileSync(file, `groups: ${'['.repeat(1000)}${']'.repeat(1000)}\n`);
      process.kill(d.pid, 'SIGHUP');
      await d.waitLog('keeping the running configuration', 10_000, from);
    } finally {
      writeFileSync(file, running);
    }
    const since = d.log().slice(from);
    assert.match(since, new RegExp(`SIGHUP: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:1: nesting deeper than ${MAX_NESTING} levels; keeping the running configuration\n`));
    assert.doesNotMatch(since, /call stack/);
    const after = await snapshot(d.socket);
    assert.deepEqual(after.interfaces.map((i) => [i.name, i.state]), before.interfaces.map((i) => [i.name, i.state]));
    assert.deepEqual(after.addresses.map((a) => a.address), before.addresses.map((a) => a.address));
    assert.ok(await pingOnce(hostNs(prefix), PEER, 2), 'traffic after the refused reload');
  });

  it('SIGUSR2 still upgrades in place while test hooks are on', async () => {
    const from = d.log().length;
    process.kill(d.pid, 'SIGUSR2');
    await d.waitLog(`SIGUSR2: re-executing in place (pid ${d.pid})`, 30_000, from);
    await d.waitLog('ipmpd: ready', 30_000, from);
    assert.doesNotMatch(d.log().slice(from), /test hook:/);
    await waitFor('ping after the upgrade', () => pingOnce(hostNs(prefix), PEER), 10_000, 50);
    assert.ok(d.alive());
  });

  it('a worker crashing at every start: restarts back off, one line each, "failing" in the snapshot, traffic once it stops', async (t) => {
    // Runs on the upgraded image: its restart series starts afresh.
    const from = d.log().length;
    const seen: { at: number; attempt: number; delayMs: number; line: string }[] = [];
    const failure = /^forwarding worker \w+ (exited \(code 1; error: test hook: forwarding worker crash\)|keeps failing \(.*\)); .* in (\d+(?:\.\d)?) (ms|s) \(attempt (\d+)\)$/;
    const collect = (): typeof seen => {
      const lines = d.log().slice(from).split('\n').filter((l) => /^forwarding worker \w+ (exited|keeps failing|stalled)/.test(l));
      for (let i = seen.length; i < lines.length; i++) {
        const m = failure.exec(lines[i]);
        assert.ok(m, `unexpected failure line: ${lines[i]}`);
        seen.push({ at: Date.now(), attempt: Number(m[4]), delayMs: Number(m[2]) * (m[3] === 's' ? 1000 : 1), line: lines[i] });
      }
      return seen;
    };
    await testHook(d, TUN, 'forwarding-crash-loop');
    await waitFor('six failures of the crashing worker', () => collect().length >= 6, 30_000, 10);
    const s = await snapshot(d.socket);
    const fw = s.groups[0].forwarding;
    assert.equal(fw?.state, 'failing', JSON.stringify(fw));
    assert.ok((fw?.recentFailures ?? 0) >= 5, JSON.stringify(fw));
    assert.match(fw?.lastFailure ?? '', /test hook: forwarding worker crash/);
    for (const n of NICS) assert.equal(s.interfaces.find((x) => x.name === n)?.state, 'ok', `${n} while forwarding fails`);
    await testHook(d, TUN, 'forwarding-crash-loop-end');
    const six = seen.slice(0, 6);
    // The delay doubles from 100 ms; from the fifth failure the line says it keeps failing.
    assert.deepEqual(six.map((f) => f.attempt), [1, 2, 3, 4, 5, 6], six.map((f) => f.line).join('\n'));
    assert.deepEqual(six.map((f) => f.delayMs), [100, 200, 400, 800, 1600, 3200]);
    assert.deepEqual(six.map((f) => /keeps failing \(\d+ failures in the last 60 s, the last: exited/.test(f.line)),
      [false, false, false, false, true, true]);
    assert.ok(six.slice(4).every((f) => f.line.includes('forwarding is down until the next attempt')));
    // The daemon keeps to the delays: each next failure is seen no earlier than the delay
    // announced before it (less 50 ms for when this process saw the earlier line).
    for (let i = 1; i < six.length; i++) {
      const gap = six[i].at - six[i - 1].at;
      assert.ok(gap >= six[i - 1].delayMs - 50, `failure ${i + 1} came ${gap} ms after failure ${i}, announced ${six[i - 1].delayMs} ms`);
    }
    for (const [i, f] of six.entries()) t.diagnostic(`+${f.at - six[0].at} ms (gap ${i ? f.at - six[i - 1].at : 0}): ${f.line}`);
    // Once the hook stops, the next restart holds and traffic flows again.
    await waitFor('ping once the worker stops crashing', () => pingOnce(hostNs(prefix), PEER), 30_000, 50);
    collect();
    const after = await snapshot(d.socket);
    assert.equal(after.groups[0].forwarding?.restarts, seen.length, d.tail(20));
    const restarted = d.log().slice(from).match(/forwarding worker \w+ restarted \(attempt \d+/g) ?? [];
    assert.ok(restarted.length >= seen.length, `${restarted.length} restarts logged for ${seen.length} failures`);
    assert.doesNotMatch(d.log().slice(from), /IP interface failure detected|All IP interfaces in group/);
    assert.ok(d.alive());
  });
});
