// Standby deployment, FAILBACK and whole-group failure, with traffic through the IPMP
// interface. One three-NIC lab (eth2 standby), link-based detection only:
//
// - FAILBACK=yes: eth2 starts inactive and carries nothing; eth0 fails and eth2 is deployed and
//   carries traffic; eth0 is repaired, eth2 goes back to inactive and carries nothing again.
// - FAILBACK=no: after the same failure and repair eth0 stays inactive (ipmpstat -i, -g) and the
//   traffic stays on eth1 and eth2.
// - every NIC down: group failed, ipmp0 without carrier, the data addresses unbound and silent;
//   eth0 back (under FAILBACK=no): the group works again over eth0 alone.
//
// "Carries traffic" is measured on the NICs' tx byte counters while paced TCP streams run from
// the data addresses to the peer and the peer pings them.
//
// The TUN gets a name unique to this process (ips<n>) unless IPMP_TEST_TUN is set.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { uniquePrefix } from '../../src/lab/fixture.js';
import { hostNs, labDown, labDownSync, labFail, labRepair, labUp, peerNs, waitFor } from '../../src/lab/lab.js';
import type { Snapshot } from '../../src/daemon/protocol.js';
import { startDaemon, snapshot, type RunningDaemon } from './helpers/daemon.js';
import {
  assertStreamWhole, boundTo, iface, ipmpstat, pingRun, reachable, skipUnlessRoot, startStream, tunCarrier, txBytes,
  waitSnap, withLog,
} from './helpers/failover.js';

const TUN = process.env.IPMP_TEST_TUN || `ips${process.pid % 100000}`;
const DATA = ['198.18.0.10', '198.18.0.11'];
const PEER = '198.18.0.1';
const NICS = ['eth0', 'eth1', 'eth2'];
/** A NIC "carries traffic" when it sends at least this share of the bytes during a window. */
const CARRIES = 0.05;
/** ... and "carries nothing" when it sends no more than this many bytes (no data frame fits). */
const NOTHING_BYTES = 0;

function config(failback: boolean): string {
  return [
    `FAILBACK: ${failback ? 'yes' : 'no'}`,
    'groups:',
    `  ${TUN}:`,
    '    interfaces:',
    '      eth0: {}',
    '      eth1: {}',
    '      eth2: { standby: true }',
    `    addresses: [${DATA.map((a) => `${a}/24`).join(', ')}]`,
    '',
  ].join('\n');
}

function activeSet(s: Snapshot): string {
  return NICS.filter((n) => iface(s, n).active).join(',');
}

let port = 5600;

/**
 * Runs paced TCP from both data addresses to the peer (4 connections each) and pings both
 * addresses from the peer, for about 1.5 s; returns the tx bytes each NIC sent meanwhile.
 */
async function trafficWindow(p: string): Promise<Record<string, number>> {
  const before = await Promise.all(NICS.map((n) => txBytes(p, n)));
  const streams = [];
  for (const a of DATA) {
    streams.push(await startStream({ fromNs: hostNs(p), toNs: peerNs(p), to: PEER, local: a, port: port++, conns: 4,
      rate: 100_000, durationMs: 1_500 }));
  }
  const pings = await Promise.all(DATA.map((a) => pingRun(peerNs(p), a, 30, 50).result));
  for (const [i, s] of streams.entries()) assertStreamWhole(`from ${DATA[i]}`, await s.result);
  pings.forEach((r, i) => assert.equal(r.received, r.sent, `${DATA[i]} answered every ping:\n${r.output}`));
  const after = await Promise.all(NICS.map((n) => txBytes(p, n)));
  return Object.fromEntries(NICS.map((n, i) => [n, after[i] - before[i]]));
}

function assertCarrying(tx: Record<string, number>, want: string[]): void {
  const total = Object.values(tx).reduce((a, b) => a + b, 0);
  const info = `tx bytes during the window: ${JSON.stringify(tx)}`;
  for (const n of NICS) {
    if (want.includes(n)) assert.ok(tx[n] >= CARRIES * total, `${n} carries traffic: ${info}`);
    else assert.ok(tx[n] <= NOTHING_BYTES, `${n} carries nothing: ${info}`);
  }
}

async function failAndWait(p: string, d: RunningDaemon, nic: string): Promise<void> {
  const mark = d.log().length;
  await labFail(p, nic);
  await d.waitLog(new RegExp(`IP interface failure detected on ${nic} |All IP interfaces in group ${TUN} are now unusable`), 5_000, mark);
}

async function repairAndWait(p: string, d: RunningDaemon, nic: string): Promise<void> {
  const mark = d.log().length;
  await labRepair(p, nic);
  await d.waitLog(`IP interface repair detected on ${nic} of group ${TUN}`, 5_000, mark);
}

describe('standby, FAILBACK and group failure with traffic', { skip: skipUnlessRoot, timeout: 180_000 }, () => {
  const p = uniquePrefix();
  let d: RunningDaemon | undefined;

  before(async () => {
    await labUp({ prefix: p, nics: 3, standby: 1 });
  });

  after(async () => {
    try {
      await d?.stop();
    } finally {
      await labDown(p).catch(() => labDownSync(p));
    }
  });

  it('FAILBACK=yes: the standby is deployed on failure and returned to inactive on repair', async (t) => {
    d = await startDaemon(p, config(true));
    await withLog(d, async () => {
      const s0 = await waitSnap(d!, 'eth0 and eth1 active, eth2 inactive', (s) => activeSet(s) === 'eth0,eth1'
        && DATA.every((a) => boundTo(s, a) !== ''));
      assert.equal(iface(s0, 'eth2').flags.inactive, true);
      assert.equal(iface(s0, 'eth2').flags.standby, true);
      const tx0 = await trafficWindow(p);
      t.diagnostic(`before the failure: ${JSON.stringify(tx0)}`);
      assertCarrying(tx0, ['eth0', 'eth1']);

      await failAndWait(p, d!, 'eth0');
      const s1 = await waitSnap(d!, 'eth2 deployed', (s) => activeSet(s) === 'eth1,eth2');
      assert.equal(iface(s1, 'eth2').flags.inactive, false);
      const i1 = await ipmpstat(p, d!, ['-i', '-o', 'INTERFACE,ACTIVE,FLAGS,STATE', '-P']);
      assert.match(i1, /^eth2:yes:-s\S{5}:ok$/m, i1);
      assert.match(i1, /^eth0:no:--\S{5}:failed$/m, i1);
      const tx1 = await trafficWindow(p);
      t.diagnostic(`eth0 failed: ${JSON.stringify(tx1)}`);
      assertCarrying(tx1, ['eth1', 'eth2']);

      await repairAndWait(p, d!, 'eth0');
      const s2 = await waitSnap(d!, 'eth0 back, eth2 inactive again', (s) => activeSet(s) === 'eth0,eth1');
      assert.equal(iface(s2, 'eth2').flags.inactive, true, 'eth2 is inactive again');
      for (const a of DATA) assert.notEqual(boundTo(s2, a), 'eth2', `${a} left eth2`);
      const i2 = await ipmpstat(p, d!, ['-i', '-o', 'INTERFACE,ACTIVE,FLAGS', '-P']);
      assert.match(i2, /^eth2:no:is\S{5}$/m, i2);
      const tx2 = await trafficWindow(p);
      t.diagnostic(`eth0 repaired: ${JSON.stringify(tx2)}`);
      assertCarrying(tx2, ['eth0', 'eth1']);
      assert.equal(await d!.stop(), 0);
      d = undefined;
    });
  });

  it('FAILBACK=no: the repaired NIC stays inactive and traffic stays on the others', async (t) => {
    d = await startDaemon(p, config(false));
    await withLog(d, async () => {
      await waitSnap(d!, 'eth0 and eth1 active', (s) => activeSet(s) === 'eth0,eth1' && DATA.every((a) => boundTo(s, a) !== ''));
      await failAndWait(p, d!, 'eth0');
      await waitSnap(d!, 'eth2 deployed', (s) => activeSet(s) === 'eth1,eth2');
      await repairAndWait(p, d!, 'eth0');
      const s = await snapshot(d!.socket);
      assert.equal(activeSet(s), 'eth1,eth2', 'eth0 is not made active again');
      assert.equal(iface(s, 'eth0').state, 'ok');
      assert.equal(iface(s, 'eth0').flags.inactive, true);
      for (const a of DATA) assert.notEqual(boundTo(s, a), 'eth0', `${a} not on eth0`);
      const i = await ipmpstat(p, d!, ['-i', '-o', 'INTERFACE,ACTIVE,FLAGS,STATE', '-P']);
      assert.match(i, /^eth0:no:i-\S{5}:ok$/m, i);
      assert.match(i, /^eth2:yes:-s\S{5}:ok$/m, i);
      const g = await ipmpstat(p, d!, ['-g', '-o', 'STATE,INTERFACES', '-P']);
      assert.match(g.trim(), /^ok:(eth1 eth2|eth2 eth1) \(eth0\)$/, 'group ok, eth0 listed as inactive');
      const tx = await trafficWindow(p);
      t.diagnostic(`eth0 repaired under FAILBACK=no: ${JSON.stringify(tx)}`);
      assertCarrying(tx, ['eth1', 'eth2']);
    });
  });

  it('every NIC down: group failed, no carrier on ipmp0; one NIC back: traffic flows over it', async () => {
    await withLog(d, async () => {
      assert.equal(await tunCarrier(p, TUN), true, `${TUN} has carrier while NICs are active`);
      for (const n of ['eth1', 'eth2', 'eth0']) await failAndWait(p, d!, n);
      const s = await waitSnap(d!, 'group failed', (x) => x.groups[0].state === 'failed');
      for (const n of NICS) assert.equal(iface(s, n).state, 'failed', `${n} failed`);
      for (const a of DATA) assert.equal(boundTo(s, a), '', `${a} unbound`);
      await waitFor(`no carrier on ${TUN}`, async () => !(await tunCarrier(p, TUN)), 5_000, 20);
      const g = await ipmpstat(p, d!, ['-g', '-o', 'STATE', '-P']);
      assert.equal(g.trim(), 'failed');
      for (const a of DATA) assert.equal(await reachable(peerNs(p), a), false, `${a} does not answer with every NIC down`);

      // eth0 was the inactive one under FAILBACK=no; a failed group takes it back regardless.
      await repairAndWait(p, d!, 'eth0');
      const s2 = await waitSnap(d!, 'eth0 active, addresses on it', (x) => activeSet(x) === 'eth0'
        && DATA.every((a) => boundTo(x, a) === 'eth0'));
      assert.equal(s2.groups[0].state, 'degraded');
      await waitFor(`carrier on ${TUN}`, () => tunCarrier(p, TUN), 5_000, 20);
      const tx = await trafficWindow(p);
      assertCarrying(tx, ['eth0']);
    });
  });
});
