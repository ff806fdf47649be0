// Bounded restarts of the probe worker, in a lab with two NICs, IPv4 test addresses, the pinned
// target 198.18.0.1 and FAILURE_DETECTION_TIME 1000 ms. The control socket's test hook
// probe-worker-crash-loop (IPMPD_TEST_HOOKS=1) makes every probe worker die once it has opened
// its packet sockets, until probe-worker-crash-loop-end:
//
// - the restarts back off as liveness.ts WORKER_RESTARTS says (100 ms doubling), one log line
//   per failure with its attempt, "keeps failing ...; probing is down" from the fifth, and each
//   next failure comes no earlier than the delay announced before it;
// - the snapshot's group `probing` says `failing` (with the failures and the last reason) and the
//   metrics say ipmp_probing_up 0 and count the restarts;
// - no NIC is declared failed for it, and the daemon holds as many descriptors of each kind
//   (packet sockets, event-loop descriptors of threads, pipes, files; UNIX sockets aside) after
//   the loop as before it;
// - once the loop ends the next worker probes again (acked probes on both NICs) and a silent
//   failure is detected within the FDT.
//
// The TUN gets a name unique to this process (ipr<n>) unless IPMP_TEST_TUN is set.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { withLab } from '../../src/lab/fixture.js';
import { execIn, hostNs, labFail, waitFor } from '../../src/lab/lab.js';
import { WORKER_RESTARTS } from '../../src/daemon/liveness.js';
import { groupMetric as metricOfGroup, scrapeMetrics, startDaemon, snapshot, type RunningDaemon } from './helpers/daemon.js';
import {
  ackedLines, descriptorKinds, iface, ipmpstatProbes, packetSockets, probingGroupYaml, testHook, waitProbeOk, withLog,
} from './helpers/probe-helpers.js';

const skip = process.getuid?.() !== 0 ? 'needs root (network namespaces)' : false;
const TUN = process.env.IPMP_TEST_TUN || `ipr${process.pid % 100000}`;
const FDT_MS = 1000;
const PROBE_INT_MS = Math.floor(FDT_MS / 7);
const SLACK_MS = 500;
const PEER = '198.18.0.1';
const NICS = ['eth0', 'eth1'];
const METRICS = '127.0.0.1:9433';
/** Failures watched: the fifth and sixth already say the worker keeps failing. */
const WATCHED = 6;
/**
 * Upper bound on the time from one failure to the next beyond the announced delay: starting a
 * worker thread (module load) on a busy two-core machine. A safety bound, not the rule.
 */
const START_BOUND_MS = 3_000;

function config(): string {
  return probingGroupYaml(TUN, FDT_MS, PEER);
}

function metrics(p: string): Promise<Map<string, number>> {
  return scrapeMetrics(p, METRICS);
}

function groupMetric(m: Map<string, number>, name: string): number {
  return metricOfGroup(m, name, TUN);
}

interface Failure { at: number; attempt: number; delayMs: number; line: string }

/**
 * Probe-worker failure lines as the daemon writes them, each stamped with the time its chunk
 * arrived here (the log has no time stamps of its own).
 */
function failureLines(d: RunningDaemon): { seen: Failure[]; unexpected: string[]; stop(): void } {
  const re = new RegExp(`^probe worker for ${TUN} (exited with code \\d+ \\(error: probe worker test hook: crash(?: loop)?\\)`
    + `|keeps failing \\(.*\\)); .* in (\\d+(?:\\.\\d)?) (ms|s) \\(attempt (\\d+)\\)$`);
  const seen: Failure[] = [];
  const unexpected: string[] = [];
  let partial = '';
  const onData = (b: Buffer): void => {
    const at = Date.now();
    const lines = (partial + b.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith(`probe worker for ${TUN} `) || !/restarting it|next attempt/.test(line)) continue;
      const m = re.exec(line);
      if (!m) { unexpected.push(line); continue; }
      seen.push({ at, attempt: Number(m[4]), delayMs: Number(m[2]) * (m[3] === 's' ? 1000 : 1), line });
    }
  };
  d.proc.stderr?.on('data', onData);
  return { seen, unexpected, stop: () => d.proc.stderr?.off('data', onData) };
}

/**
 * Descriptor counts by kind, leaving out UNIX sockets and TCP connections: control-socket clients
 * and metrics scrapes (this test's requests, closed by the daemon some time after the client) and
 * the forwarding worker's JIT warm-up socket pairs come and go with no relation to the probe
 * worker, which holds none of them.
 */
function steadyKinds(kinds: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(kinds).filter(([k]) => k !== 'unix' && k !== 'tcp connection')
    .sort(([a], [b]) => a.localeCompare(b)));
}

function noFailureSince(d: RunningDaemon, mark: number): void {
  assert.doesNotMatch(d.log().slice(mark), /IP interface failure detected|All IP interfaces in group/, 'no NIC or group failure');
}

describe('probe worker restarts', { skip, timeout: 120_000 }, () => {
  it('a probe worker crashing at every start: backed-off restarts, reported failing, no NIC failure or leak, probing after', async (t) => {
    await withLab({ nics: 2 }, async (lab) => {
      const p = lab.prefix;
      let d: RunningDaemon | undefined;
      try {
        d = await startDaemon(p, config(), { args: ['--metrics', METRICS], testHooks: true });
        const dd = d;
        await withLog(dd, async () => {
          await waitProbeOk(dd, NICS, 10_000);
          const s0 = await snapshot(dd.socket);
          assert.deepEqual(s0.groups[0].probing, { state: 'up', restarts: 0, recentFailures: 0, lastFailure: null });
          assert.equal(groupMetric(await metrics(p), 'ipmp_probing_up'), 1);
          // Descriptors before: a scrape and a snapshot have run, so nothing opens lazily later.
          const kinds0 = descriptorKinds(dd.pid);
          const fds0 = steadyKinds(kinds0);
          t.diagnostic(`descriptors before the loop: ${JSON.stringify(kinds0)}`);
          const sockets0 = packetSockets(dd.pid);
          assert.ok(sockets0 >= 4, `data and probe sockets on both NICs: ${sockets0}`);

          const mark = dd.log().length;
          const failures = failureLines(dd);
          try {
            await testHook(dd, TUN, 'probe-worker-crash-loop');
            await dd.waitLog('test hook: probe-worker-crash-loop', 5_000, mark);
            await waitFor(`${WATCHED} failures of the crashing probe worker`, () => failures.seen.length >= WATCHED, 30_000, 20);

            // Reported while it keeps failing: snapshot and metrics; the NICs stay as they were.
            const s = await snapshot(dd.socket);
            const pr = s.groups[0].probing;
            assert.equal(pr?.state, 'failing', JSON.stringify(pr));
            assert.ok((pr?.recentFailures ?? 0) >= 5, JSON.stringify(pr));
            assert.match(pr?.lastFailure ?? '', /^exited with code 1 \(error: probe worker test hook: crash loop\)$/);
            assert.equal(s.groups[0].state, 'ok');
            for (const n of NICS) assert.equal(iface(s, n).state, 'ok', `${n} while probing keeps failing`);
            const m = await metrics(p);
            assert.equal(groupMetric(m, 'ipmp_probing_up'), 0);
            assert.ok(groupMetric(m, 'ipmp_probe_worker_restarts_total') >= WATCHED, `restarts in the metrics: ${groupMetric(m, 'ipmp_probe_worker_restarts_total')}`);
            assert.equal(groupMetric(m, 'ipmp_forwarding_up'), 1, 'forwarding is not affected');
          } finally {
            const end = dd.log().length;
            await testHook(dd, TUN, 'probe-worker-crash-loop-end');
            await dd.waitLog('test hook: probe-worker-crash-loop-end', 5_000, end);
          }

          const six = failures.seen.slice(0, WATCHED);
          for (const [i, f] of six.entries()) t.diagnostic(`+${f.at - six[0].at} ms (gap ${i ? f.at - six[i - 1].at : 0}): ${f.line}`);
          const text = six.map((f) => f.line).join('\n');
          assert.deepEqual(six.map((f) => f.attempt), [1, 2, 3, 4, 5, 6], text);
          const delays = six.map((_, i) => Math.min(WORKER_RESTARTS.maxMs, WORKER_RESTARTS.minMs * 2 ** i));
          assert.deepEqual(six.map((f) => f.delayMs), delays, text);
          assert.deepEqual(six.map((f) => /keeps failing \(\d+ failures in the last 60 s, the last: exited/.test(f.line)),
            [false, false, false, false, true, true], text);
          assert.ok(six.slice(4).every((f) => f.line.includes('probing is down until the next attempt')), text);
          // The daemon keeps to the delays: the next failure comes no earlier than the delay
          // announced (less 20 ms for when the two lines reached this process), and a worker
          // start later at most.
          for (let i = 1; i < six.length; i++) {
            const gap = six[i].at - six[i - 1].at;
            assert.ok(gap >= six[i - 1].delayMs - 20, `failure ${i + 1} came ${gap} ms after failure ${i}, announced ${six[i - 1].delayMs} ms`);
            assert.ok(gap <= six[i - 1].delayMs + START_BOUND_MS, `failure ${i + 1} came ${gap} ms after failure ${i}, announced ${six[i - 1].delayMs} ms`);
          }

          // The loop ended: the next worker stays up and probes are acked again on both NICs (a
          // crashing worker dies before it reads a reply).
          let probes = '';
          await waitFor('acked probes on both NICs after the loop', async () => {
            probes = await ipmpstatProbes(p, dd, 1_200);
            return NICS.every((n) => ackedLines(probes, n, PEER).length >= 3);
          }, 25_000, 0).catch((e: Error) => { e.message += `\n${probes}`; throw e; });
          failures.stop();
          assert.deepEqual(failures.unexpected, [], 'every failure line is a crash of the loop');
          const last = failures.seen.at(-1)!;
          const after = dd.log().slice(dd.log().lastIndexOf(last.line));
          assert.match(after, new RegExp(`\nprobe worker for ${TUN} restarted \\(attempt ${last.attempt}\\)\n`), 'the last failure was followed by a restart');
          noFailureSince(dd, mark);

          const s1 = await snapshot(dd.socket);
          for (const n of NICS) assert.equal(iface(s1, n).state, 'ok', `${n} after the loop`);
          // Still counted as failing: no worker has run a healthy minute since.
          assert.equal(s1.groups[0].probing?.restarts, failures.seen.length, JSON.stringify(s1.groups[0].probing));
          assert.equal(s1.groups[0].probing?.state, 'failing');
          assert.equal(groupMetric(await metrics(p), 'ipmp_probe_worker_restarts_total'), failures.seen.length);

          // Every crashed worker's sockets and thread resources were released.
          let have: Record<string, number> = {};
          await waitFor('as many descriptors of each kind as before the loop', () => {
            have = steadyKinds(descriptorKinds(dd.pid));
            return JSON.stringify(have) === JSON.stringify(fds0);
          }, 5_000, 50).catch((e: Error) => {
            e.message += ` (now ${JSON.stringify(have)}, before ${JSON.stringify(fds0)})`;
            throw e;
          });

          // The worker after the loop detects a silent failure within the FDT (no quiet period).
          const mark2 = dd.log().length;
          const t1 = Date.now();
          await labFail(p, 'eth0', { silent: true });
          await dd.waitLog('IP interface failure detected on eth0 of group', FDT_MS + PROBE_INT_MS + SLACK_MS + 1_000, mark2);
          const detectMs = Date.now() - t1;
          t.diagnostic(`silent failure detected ${detectMs} ms after it began`);
          assert.ok(detectMs <= FDT_MS + PROBE_INT_MS + SLACK_MS, `detected after ${detectMs} ms`);
          assert.ok(dd.alive());
        });
      } finally {
        await d?.stop();
      }
    });
  });
});
