// Probing under administration and faults of the daemon itself, in a lab with two NICs, IPv4
// test addresses and the pinned target 198.18.0.1, FAILURE_DETECTION_TIME 1000 ms.
//
// - offline (if_mpadm -d eth0): tcpdump on eth0's switch port sees no echo request from eth0,
//   `ipmpstat -p` prints no probe on eth0 while eth1 keeps probing, `ipmpstat -t` shows eth0
//   disabled; after if_mpadm -r eth0 the probes come back on the wire and in `ipmpstat -p`.
// - the probe worker (test hooks, IPMPD_TEST_HOOKS=1): a 1.5 s pause (longer than the FDT) is
//   absorbed without a restart or a failure; a worker stuck for 6 s is found by the watchdog
//   and restarted, a crashed one too; neither fails a NIC, probing resumes with no socket
//   left behind and its thread (ipmp-probe) replaced by one new thread, and a silent fault right after the restart is detected within the FDT.
//
// The TUN gets a name unique to this process (ipo<n>) unless IPMP_TEST_TUN is set.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { withLab } from '../../src/lab/fixture.js';
import { labFail, swNs, waitFor } from '../../src/lab/lab.js';
import { namedThreads, startDaemon, snapshot, type RunningDaemon } from './helpers/daemon.js';
import { tcpdump } from './helpers/tcpdump.js';
import {
  ackedLines, iface, ifMpadm, ipmpstat, ipmpstatProbes, packetSockets, probingGroupYaml, testHook, waitProbeOk, withLog,
} from './helpers/probe-helpers.js';

const skip = process.getuid?.() !== 0 ? 'needs root (network namespaces)' : false;
const TUN = process.env.IPMP_TEST_TUN || `ipo${process.pid % 100000}`;
const FDT_MS = 1000;
const PROBE_INT_MS = Math.floor(FDT_MS / 7);
const SLACK_MS = 500;
const PEER = '198.18.0.1';
const NICS = ['eth0', 'eth1'];
const ETH0_MAC = '02:00:00:00:00:01';
/** The watchdog's limit (src/daemon/prober/prober.ts STUCK_MS) plus a tick and slack. */
const RESTART_BOUND_MS = 3_000 + 2_000;

function config(): string {
  return probingGroupYaml(TUN, FDT_MS, PEER);
}

/** Counts ICMP echo requests from eth0's MAC seen on its switch port during ms. */
async function echoFromEth0(p: string, ms: number): Promise<number> {
  const cap = tcpdump(swNs(p), ['-n', '-e', '-l', '-i', 'swp0', `ether src ${ETH0_MAC} and icmp[icmptype] == icmp-echo`]);
  try {
    await cap.ready;
    await new Promise((r) => setTimeout(r, ms));
  } finally {
    await cap.stop();
  }
  return cap.out().split('\n').filter((l) => l.includes('ICMP echo request')).length;
}

async function samePacketSockets(pid: number, want: number, what: string): Promise<void> {
  let have = -1;
  await waitFor(what, () => (have = packetSockets(pid)) === want, 3_000, 50)
    .catch((e: Error) => { e.message += ` (${have} packet sockets, ${want} before)`; throw e; });
}

function noFailureSince(d: RunningDaemon, mark: number): void {
  const log = d.log().slice(mark);
  assert.doesNotMatch(log, /IP interface failure detected|All IP interfaces in group/, 'no NIC or group failure');
}

/** Acked probes on both NICs within ms (a paused worker resumes within it). */
async function probesResume(p: string, d: RunningDaemon, ms = 1200): Promise<void> {
  const out = await ipmpstatProbes(p, d, ms);
  for (const n of NICS) assert.ok(ackedLines(out, n, PEER).length >= 3, `acked probes on ${n} after the restart:\n${out}`);
}

/** The id of the daemon's one probe thread (named ipmp-probe; one group). */
function oneProbeThread(pid: number): number {
  const tids = namedThreads(pid).get('ipmp-probe') ?? [];
  assert.equal(tids.length, 1, `one ipmp-probe thread: ${JSON.stringify([...namedThreads(pid)])}`);
  return tids[0];
}

/** Waits until the one probe thread is a new one (`old` has ended, none is left over); its id. */
async function replacedProbeThread(pid: number, old: number, what: string): Promise<number> {
  let tids: number[] = [];
  await waitFor(`${what}'s thread replaced by one new ipmp-probe thread`, () => {
    tids = namedThreads(pid).get('ipmp-probe') ?? [];
    return tids.length === 1 && tids[0] !== old;
  }, 5_000, 50).catch((e: Error) => { e.message += ` (ipmp-probe threads ${JSON.stringify(tids)}, the old one ${old})`; throw e; });
  return tids[0];
}

describe('probing and administration', { skip }, () => {
  it('an offline NIC is not probed; undo-offline resumes probing', async () => {
    await withLab({ nics: 2 }, async (lab) => {
      const p = lab.prefix;
      let d: RunningDaemon | undefined;
      try {
        d = await startDaemon(p, config());
        const dd = d;
        await withLog(dd, async () => {
          await waitProbeOk(dd, NICS, 10_000);
          assert.ok(await echoFromEth0(p, 800) >= 3, 'eth0 probes on the wire before the offline');

          await ifMpadm(p, dd, ['-d', 'eth0']);
          const s = await snapshot(dd.socket);
          assert.equal(iface(s, 'eth0').state, 'offline');
          assert.equal(iface(s, 'eth0').probe, 'disabled');
          const t = await ipmpstat(p, dd, ['-t', '-o', 'INTERFACE,MODE,TESTADDR,TARGETS', '-P']);
          assert.match(t, /^eth0:disabled::$/m, t);
          assert.match(t, /^eth1:routes:198\.18\.0\.101:198\.18\.0\.1$/m, t);
          const [onWire, probes] = await Promise.all([echoFromEth0(p, 1500), ipmpstatProbes(p, dd, 1500)]);
          assert.equal(onWire, 0, 'no echo request from eth0 while it is offline');
          assert.equal(probes.split('\n').filter((l) => /^\S+\s+eth0\s/.test(l.trim())).length, 0, `no eth0 probe:\n${probes}`);
          assert.ok(ackedLines(probes, 'eth1', PEER).length >= 3, `eth1 keeps probing:\n${probes}`);

          await ifMpadm(p, dd, ['-r', 'eth0']);
          const [back, probes2] = await Promise.all([echoFromEth0(p, 1500), ipmpstatProbes(p, dd, 1500)]);
          assert.ok(back >= 3, `eth0 probes on the wire again: ${back}`);
          assert.ok(ackedLines(probes2, 'eth0', PEER).length >= 3, `eth0 probes acked again:\n${probes2}`);
          await waitProbeOk(dd, NICS, 2_000);
          const t2 = await ipmpstat(p, dd, ['-t', '-o', 'INTERFACE,MODE', '-P']);
          assert.match(t2, /^eth0:routes$/m, t2);
        });
      } finally {
        await d?.stop();
      }
    });
  });

  it('probe worker: a pause is absorbed; a stuck or crashed worker is restarted without a failure', async () => {
    await withLab({ nics: 2 }, async (lab) => {
      const p = lab.prefix;
      let d: RunningDaemon | undefined;
      try {
        d = await startDaemon(p, config(), { testHooks: true });
        const dd = d;
        await withLog(dd, async () => {
          await waitProbeOk(dd, NICS, 10_000);
          const sockets = packetSockets(dd.pid);
          assert.ok(sockets >= 4, `data and probe sockets on both NICs: ${sockets}`);
          let probeThread = oneProbeThread(dd.pid);

          // A pause longer than the FDT but shorter than the watchdog's limit.
          let mark = dd.log().length;
          await testHook(dd, TUN, 'probe-worker-pause');
          await probesResume(p, dd, 1_500 + 2_000);
          noFailureSince(dd, mark);
          assert.doesNotMatch(dd.log().slice(mark), /probe worker .* (not responding|exited)/);

          // Stuck: the watchdog terminates and restarts it.
          mark = dd.log().length;
          const t0 = Date.now();
          await testHook(dd, TUN, 'probe-worker-stall');
          await dd.waitLog(new RegExp(`probe worker for ${TUN} is not responding \\(silent for \\d+ ms\\); restarting it`),
            RESTART_BOUND_MS, mark);
          await dd.waitLog(`probe worker for ${TUN} restarted`, 5_000, mark);
          console.log(`# stuck probe worker restarted ${Date.now() - t0} ms after the stall began`);
          await probesResume(p, dd);
          noFailureSince(dd, mark);
          let s = await snapshot(dd.socket);
          for (const n of NICS) assert.equal(iface(s, n).state, 'ok', `${n} ok after the restart`);
          await samePacketSockets(dd.pid, sockets, 'the stuck worker\'s sockets closed');
          probeThread = await replacedProbeThread(dd.pid, probeThread, 'the stuck worker');

          // Crashed: restarted too.
          mark = dd.log().length;
          await testHook(dd, TUN, 'probe-worker-crash');
          await dd.waitLog(new RegExp(`probe worker for ${TUN} exited with code \\d+ \\(error: probe worker test hook: crash\\); restarting it`), 5_000, mark);
          await dd.waitLog(`probe worker for ${TUN} restarted`, 5_000, mark);
          await probesResume(p, dd);
          noFailureSince(dd, mark);
          s = await snapshot(dd.socket);
          for (const n of NICS) assert.equal(iface(s, n).state, 'ok', `${n} ok after the crash`);
          await samePacketSockets(dd.pid, sockets, 'the crashed worker\'s sockets closed');
          await replacedProbeThread(dd.pid, probeThread, 'the crashed worker');

          // The restarted worker still detects a failure within the FDT (no new quiet period).
          mark = dd.log().length;
          const t1 = Date.now();
          await labFail(p, 'eth0', { silent: true });
          await dd.waitLog('IP interface failure detected on eth0 of group', FDT_MS + PROBE_INT_MS + SLACK_MS + 1_000, mark);
          const detectMs = Date.now() - t1;
          assert.ok(detectMs <= FDT_MS + PROBE_INT_MS + SLACK_MS, `detected after ${detectMs} ms`);
        });
      } finally {
        await d?.stop();
      }
    });
  });
});
