// Flap damping with link-based detection only (no test addresses): eth0's link goes down and
// up three times within a minute while the peer pings both data addresses. The first two ups
// repair eth0; the third is held back (reference §6: a third up within 60 s, logged once), so
// eth0 stays failed with its link up, no data address is bound to it, and both addresses keep
// answering through eth1. (The repair once the minute has passed is covered by the unit tests
// of the damping timer.)
//
// The TUN gets a name unique to this process (ipd<n>) unless IPMP_TEST_TUN is set.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { withLab } from '../../src/lab/fixture.js';
import { labFail, labRepair, peerNs } from '../../src/lab/lab.js';
import { startDaemon, snapshot } from './helpers/daemon.js';
import { boundTo, iface, ipmpstat, pingRun, skipUnlessRoot, waitSnap, withLog } from './helpers/failover.js';

const TUN = process.env.IPMP_TEST_TUN || `ipd${process.pid % 100000}`;
const DATA = ['198.18.0.10', '198.18.0.11'];
const FLAP_LOG = 'The link has come up on eth0 more than 2 times in the last minute; disabling repair until it stabilizes';

const CONFIG = [
  'FAILBACK: yes',
  'groups:',
  `  ${TUN}:`,
  '    interfaces: { eth0: {}, eth1: {} }',
  `    addresses: [${DATA.map((a) => `${a}/24`).join(', ')}]`,
  '',
].join('\n');

describe('flap damping (link-based detection only)', { skip: skipUnlessRoot, timeout: 120_000 }, () => {
  it('the third link-up within a minute does not repair; traffic stays on the other NIC', async () => {
    await withLab({ nics: 2 }, async (lab) => {
      const p = lab.prefix;
      const d = await startDaemon(p, CONFIG);
      try {
        await withLog(d, async () => {
          await waitSnap(d, 'both NICs active', (s) => ['eth0', 'eth1'].every((n) => iface(s, n).active));
          // Background traffic to both addresses over the whole sequence (50 pps each, bounded).
          const bg = DATA.map((a) => pingRun(peerNs(p), a, 600, 20));
          for (let up = 1; up <= 3; up++) {
            const mark = d.log().length;
            await labFail(p, 'eth0');
            await d.waitLog('IP interface failure detected on eth0', 5_000, mark);
            const markUp = d.log().length;
            await labRepair(p, 'eth0');
            await d.waitLog('The link has come up on eth0', 5_000, markUp);
            if (up < 3) {
              await d.waitLog(`IP interface repair detected on eth0 of group ${TUN}`, 5_000, markUp);
              await waitSnap(d, 'eth0 active again', (s) => iface(s, 'eth0').active);
            } else {
              await d.waitLog(FLAP_LOG, 5_000, markUp);
            }
          }
          // Held back: over a 1.5 s window of pings, eth0 stays failed with its link up, and
          // both addresses answer every ping through eth1.
          const window = DATA.map((a) => pingRun(peerNs(p), a, 30, 50));
          const samples: string[] = [];
          for (;;) {
            const s = await snapshot(d.socket);
            const e0 = iface(s, 'eth0');
            samples.push(`${e0.state}/${e0.link}/${DATA.map((a) => boundTo(s, a)).join(',')}`);
            assert.equal(e0.state, 'failed', `eth0 stays failed: ${samples.join(' ')}`);
            assert.equal(e0.link, 'up', `eth0's link is up: ${samples.join(' ')}`);
            for (const a of DATA) assert.equal(boundTo(s, a), 'eth1', `${a} stays on eth1: ${samples.join(' ')}`);
            if (window.every((w) => w.child.exitCode !== null || w.child.signalCode !== null)) break;
            await new Promise((r) => setTimeout(r, 100));
          }
          const results = await Promise.all(window.map((w) => w.result));
          results.forEach((r, i) => assert.equal(r.received, 30, `${DATA[i]} answered every ping while eth0 is held back:\n${r.output}`));
          const i = await ipmpstat(p, d, ['-i', '-o', 'INTERFACE,ACTIVE,LINK,STATE', '-P']);
          assert.match(i, /^eth0:no:up:failed$/m, i);
          assert.match(i, /^eth1:yes:up:ok$/m, i);
          assert.equal(d.log().split(FLAP_LOG).length - 1, 1, 'the damping message is logged once');
          for (const b of bg) b.child.kill('SIGINT');
          const bgr = await Promise.all(bg.map((b) => b.result));
          bgr.forEach((r, k) => assert.ok(r.received > 0 && r.maxGapMs <= 1_000,
            `${DATA[k]}: traffic kept flowing through the flaps (longest gap ${r.maxGapMs.toFixed(0)} ms)`));
        });
      } finally {
        await d.stop();
      }
    });
  });
});
