// Probe-based failure detection end to end in a lab: ipmpd in <P>-host with two NICs, each
// with an IPv4 test address, FAILURE_DETECTION_TIME 1000 ms. The daemon answers ARP for the
// test addresses and probes the peer itself (the host stack never sees the NICs' frames).
//
// - pinned target 198.18.0.1: `ipmpstat -t` shows it (mode routes), `-i` PROBE ok, `-p`
//   prints acked probes; a silent fault on eth0 (carrier stays up, frames dropped) is
//   detected within FDT + one probe interval + slack, the data addresses move to eth1 and
//   answer pings; a 100 pps ping to the address on eth0 and TCP to it from the peer run through
//   the fault: the outage ends within the same bound and the streams stay whole; after the
//   repair, "IP interface repair detected" within 2×FDT + slack.
// - discovered target: no targets (mode multicast) until a default route via 198.18.0.1
//   through the IPMP interface appears, then 198.18.0.1 (mode routes) and PROBE ok.
//
// The TUN gets a name unique to this process (ipp<n>) unless IPMP_TEST_TUN is set.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { withLab } from '../../src/lab/fixture.js';
import { execIn, hostNs, labFail, labRepair, peerNs, waitFor } from '../../src/lab/lab.js';
import { REPO, startDaemon, snapshot, type RunningDaemon, withLog } from './helpers/daemon.js';
import type { Snapshot } from '../../src/daemon/protocol.js';
import { join } from 'node:path';
import { assertStreamWhole, boundTo, gapText, longestGap, pingGaps, pingRun, startStream } from './helpers/failover.js';
import { probingGroupYaml } from './helpers/probe-helpers.js';

const skip = process.getuid?.() !== 0 ? 'needs root (network namespaces)' : false;
const TUN = process.env.IPMP_TEST_TUN || `ipp${process.pid % 100000}`;
const FDT_MS = 1000;
const PROBE_INT_MS = Math.floor(FDT_MS / 7);
const SLACK_MS = 500;
const DATA = ['198.18.0.10', '198.18.0.11'];
const PEER = '198.18.0.1';
const IPMPSTAT = join(REPO, 'bin', 'ipmpstat');

function config(pinned: boolean): string {
  return probingGroupYaml(TUN, FDT_MS, pinned ? PEER : null);
}


async function ipmpstat(p: string, d: RunningDaemon, args: string[]): Promise<string> {
  const r = await execIn(hostNs(p), [process.execPath, IPMPSTAT, '--socket', d.socket, ...args], { timeoutMs: 10_000 });
  return r.stdout;
}

/** Runs `ipmpstat -p` for ms milliseconds and returns what it printed. */
function ipmpstatProbes(p: string, d: RunningDaemon, ms: number): Promise<string> {
  const child = spawn('ip', ['netns', 'exec', hostNs(p), process.execPath, IPMPSTAT, '--socket', d.socket, '-p'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
  return new Promise((resolve) => {
    const hard = setTimeout(() => child.kill('SIGKILL'), ms + 5_000);
    setTimeout(() => child.kill('SIGINT'), ms);
    child.once('exit', () => { clearTimeout(hard); resolve(out); });
  });
}

function iface(s: Snapshot, name: string) {
  const i = s.interfaces.find((x) => x.name === name);
  assert.ok(i, `interface ${name} in snapshot`);
  return i;
}

async function waitProbeOk(d: RunningDaemon, timeoutMs: number): Promise<Snapshot> {
  let last: Snapshot | undefined;
  await waitFor('PROBE ok on eth0 and eth1', async () => {
    last = await snapshot(d.socket);
    return ['eth0', 'eth1'].every((n) => iface(last!, n).probe === 'ok' && iface(last!, n).state === 'ok');
  }, timeoutMs, 50).catch((e: Error) => { e.message += `\nlast snapshot: ${JSON.stringify(last)}`; throw e; });
  return last!;
}

async function ping(p: string, target: string): Promise<void> {
  await execIn(peerNs(p), ['ping', '-n', '-q', '-c', '3', '-i', '0.2', '-W', '1', target], { timeoutMs: 10_000 });
}

describe('probe-based failure detection (IPv4)', { skip }, () => {
  it('pinned target: targets, probe state, silent failure, failover, repair, ipmpstat -p', async () => {
    await withLab({ nics: 2 }, async (lab) => {
      const p = lab.prefix;
      const d = await startDaemon(p, config(true));
      try {
        await withLog(d, async () => {
          await waitProbeOk(d, 10_000);
          const t = await ipmpstat(p, d, ['-t']);
          const rows = t.split('\n').filter((l) => /^eth[01]\s/.test(l));
          assert.equal(rows.length, 2, `ipmpstat -t rows:\n${t}`);
          for (const i of [0, 1]) {
            const r = rows.find((l) => l.startsWith(`eth${i} `));
            assert.match(r ?? '', new RegExp(`^eth${i}\\s+routes\\s+198\\.18\\.0\\.10${i}\\s+198\\.18\\.0\\.1\\s*$`), t);
          }
          const iOut = await ipmpstat(p, d, ['-i', '-o', 'INTERFACE,PROBE,STATE', '-P']);
          assert.match(iOut, /^eth0:ok:ok$/m, iOut);
          assert.match(iOut, /^eth1:ok:ok$/m, iOut);
          const g = await ipmpstat(p, d, ['-g', '-o', 'FDT', '-P']);
          assert.equal(g.trim(), `${(FDT_MS / 1000).toFixed(2)}s`, `ipmpstat -g FDT: ${g}`);

          const probes = await ipmpstatProbes(p, d, 1500);
          // TIME INTERFACE PROBE NETRTT RTT RTTAVG TARGET; a lost probe shows -- for the RTTs.
          const acked = probes.split('\n').filter((l) => /^\S+\s+eth[01]\s+\d+\s+[\d.]+ms\s+[\d.]+ms\s+[\d.]+ms\s+198\.18\.0\.1$/.test(l.trim()));
          assert.ok(acked.length >= 4, `ipmpstat -p printed acked probes:\n${probes}`);

          for (const a of DATA) await ping(p, a);

          // Silent failure: carrier stays up, frames are dropped both ways. Traffic runs to the
          // address bound to eth0: a 100 pps ping and TCP from the peer.
          const onEth0 = boundTo(await snapshot(d.socket), DATA[0]) === 'eth0' ? DATA[0] : DATA[1];
          const stream = await startStream({ fromNs: peerNs(p), toNs: hostNs(p), to: onEth0, local: PEER, port: 5701,
            conns: 2, rate: 100_000, durationMs: 3_000 });
          const flood = pingRun(peerNs(p), onEth0, 300, 10);
          await waitFor('50 ping replies before the fault', () => flood.replies() >= 50, 5_000, 10);
          const mark = d.log().length;
          const t0 = Date.now();
          await labFail(p, 'eth0', { silent: true });
          await d.waitLog('IP interface failure detected on eth0 of group', FDT_MS + PROBE_INT_MS + SLACK_MS + 1_000, mark);
          const detectMs = Date.now() - t0;
          console.log(`# silent failure of eth0 detected after ${detectMs} ms (FDT ${FDT_MS} ms, probe interval ${PROBE_INT_MS} ms)`);
          assert.ok(detectMs <= FDT_MS + PROBE_INT_MS + SLACK_MS, `detected after ${detectMs} ms`);
          const [fr, sr] = await Promise.all([flood.result, stream.result]);
          const outage = longestGap(pingGaps(fr, 10), 'raw');
          console.log(`# silent failure: ping to ${onEth0}: ${fr.received}/${fr.sent} replies, longest gap ${gapText(outage, t0)}`);
          assert.ok(outage && outage.raw <= FDT_MS + PROBE_INT_MS + SLACK_MS, `traffic restored within the detection bound: ${gapText(outage, t0)}`);
          assert.ok(fr.times.at(-1)! > t0 + detectMs, 'replies after the failure was declared');
          assertStreamWhole('peer → host through the silent failure', sr);
          assert.match(d.log().slice(mark), new RegExp(`IP interface failure detected on eth0 of group ${TUN}`));
          const s = await snapshot(d.socket);
          assert.equal(iface(s, 'eth0').state, 'failed');
          assert.equal(iface(s, 'eth0').probe, 'failed');
          assert.equal(iface(s, 'eth1').state, 'ok');
          for (const a of s.addresses.filter((x) => DATA.includes(x.address))) {
            assert.equal(a.inbound, 'eth1', `${a.address} moved to eth1: ${JSON.stringify(s.addresses)}`);
          }
          for (const a of DATA) await ping(p, a);

          const mark2 = d.log().length;
          const t1 = Date.now();
          await labRepair(p, 'eth0');
          await d.waitLog('IP interface repair detected on eth0', 2 * FDT_MS + 2 * SLACK_MS + 2_000, mark2);
          const repairMs = Date.now() - t1;
          console.log(`# repair of eth0 detected after ${repairMs} ms (2 x FDT = ${2 * FDT_MS} ms)`);
          assert.ok(repairMs <= 2 * FDT_MS + 2 * SLACK_MS, `repair detected after ${repairMs} ms`);
          await waitProbeOk(d, 2_000);
          for (const a of DATA) await ping(p, a);
        });
      } finally {
        await d.stop();
      }
    });
  });

  it('targets discovered from a route via the IPMP interface', async () => {
    await withLab({ nics: 2 }, async (lab) => {
      const p = lab.prefix;
      const d = await startDaemon(p, config(false));
      try {
        await withLog(d, async () => {
          let last: Snapshot | undefined;
          await waitFor('PROBE unknown (no targets) on eth0 and eth1', async () => {
            last = await snapshot(d.socket);
            return ['eth0', 'eth1'].every((n) => iface(last!, n).probe === 'unknown');
          }, 5_000, 50).catch((e: Error) => { e.message += `\nlast snapshot: ${JSON.stringify(last)}`; throw e; });
          for (const t of last!.targets) {
            assert.equal(t.mode, 'multicast', JSON.stringify(t));
            assert.deepEqual(t.targets, [], `no targets yet: ${JSON.stringify(t)}`);
          }

          await execIn(hostNs(p), ['ip', 'route', 'add', 'default', 'via', PEER, 'dev', TUN]);
          await waitProbeOk(d, 10_000);
          const t = await ipmpstat(p, d, ['-t']);
          const rows = t.split('\n').filter((l) => /^eth[01]\s/.test(l));
          assert.equal(rows.length, 2, t);
          for (const r of rows) assert.match(r, /^eth([01])\s+routes\s+198\.18\.0\.10\1\s+198\.18\.0\.1\s*$/, t);

          await execIn(hostNs(p), ['ip', 'route', 'del', 'default', 'via', PEER, 'dev', TUN]);
          await waitFor('targets gone with the route', async () => {
            const s = await snapshot(d.socket);
            return s.targets.every((x) => x.targets.length === 0);
          }, 5_000, 50);
        });
      } finally {
        await d.stop();
      }
    });
  });
});
