// SIGHUP while traffic runs: the group starts with eth0 and eth1 of a three-NIC lab; a new
// configuration adds eth2 and a data address while eight paced TCP connections run from a data
// address to the peer. No connection is reset or damaged, none changes NIC (per-flow counters
// on the switch ports), retransmissions stay bounded, and eth2 and the new address carry
// traffic afterwards.
//
// The local ports are chosen so that four connections hash into flow buckets whose home
// becomes eth2 (computed with the daemon's own flow hash and rendezvous homes; eth0, eth1 and
// eth2 get NIC slots 0, 1, 2): those must stay where they run, and once idle the buckets go
// to eth2, so new connections in them leave through eth2.
//
// A second reload gives eth1 and eth2 test addresses (none at start): probing starts on them
// alone, with a router target from a route via the peer, without moving any traffic; a silent
// failure of eth2 is then found by its probes.
//
// The TUN gets a name unique to this process (iph<n>) unless IPMP_TEST_TUN is set.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { uniquePrefix } from '../../src/lab/fixture.js';
import { execIn, hostNs, labDown, labDownSync, labFail, labRepair, labUp, peerNs, waitFor } from '../../src/lab/lab.js';
import type { LabInfo } from '../../src/lab/lab.js';
import { startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { ackedLines, ipmpstatProbes } from './helpers/probe-helpers.js';
import {
  FlowMeter, assertStreamWhole, boundTo, flowPorts, iface, nicStat, peerNeighbour, pickPorts, pingRun, reachable,
  skipUnlessRoot, startStream, tcpSnmp, waitSnap, withLog,
} from './helpers/failover.js';

const TUN = process.env.IPMP_TEST_TUN || `iph${process.pid % 100000}`;
const DATA = ['198.18.0.10', '198.18.0.11'];
const NEW_ADDR = '198.18.0.12';
const PEER = '198.18.0.1';

const STREAM_PORT = 5503;
const LATER_PORT = 5504;

function rxPackets(p: string, nic: string): Promise<number> {
  return nicStat(p, nic, 'rx_packets');
}

const FDT_MS = 1000;

function config(nics: string[], addrs: string[], tests: Record<string, string> = {}): string {
  return [
    `FAILURE_DETECTION_TIME: ${FDT_MS}`,
    'groups:',
    `  ${TUN}:`,
    `    interfaces: { ${nics.map((n) => `${n}: {${tests[n] ? ` test-address: ${tests[n]}/24 ` : ''}}`).join(', ')} }`,
    `    addresses: [${addrs.map((a) => `${a}/24`).join(', ')}]`,
    '',
  ].join('\n');
}

describe('SIGHUP with TCP streams running', { skip: skipUnlessRoot, timeout: 120_000 }, () => {
  const p = uniquePrefix();
  let lab: LabInfo;
  let d: RunningDaemon | undefined;

  before(async () => {
    lab = await labUp({ prefix: p, nics: 3 });
    d = await startDaemon(p, config(['eth0', 'eth1'], DATA));
    await withLog(d, () => waitSnap(d!, 'eth0 and eth1 active', (s) =>
      ['eth0', 'eth1'].every((n) => iface(s, n).active) && DATA.every((a) => boundTo(s, a) !== '')));
  });

  after(async () => {
    try {
      await d?.stop();
    } finally {
      await labDown(p).catch(() => labDownSync(p));
    }
  });

  it('SIGHUP adds a NIC and an address; running TCP streams stay whole on their NICs', async (t) => {
    await withLog(d, async () => {
      const flow = { src: DATA[0], dst: PEER, homes: [0, 1, 2], home: 2 };
      const toEth2 = pickPorts({ ...flow, dport: STREAM_PORT }, 41000, 4, true);
      const stay = pickPorts({ ...flow, dport: STREAM_PORT }, 42000, 4, false);
      const later = pickPorts({ ...flow, dport: LATER_PORT }, 43000, 4, true);
      const srcPorts = [...toEth2, ...stay];
      const meter = new FlowMeter(p, lab.nics.map((n) => n.switchPort), [...srcPorts, ...later]);
      await meter.install();
      const retrans0 = (await tcpSnmp(hostNs(p))).RetransSegs;
      const stream = await startStream({ fromNs: hostNs(p), toNs: peerNs(p), to: PEER, local: DATA[0], port: STREAM_PORT,
        conns: srcPorts.length, rate: 100_000, durationMs: 5_000, lports: srcPorts });
      // Before: each connection on exactly one port, none on eth2's.
      const c0 = await meter.read();
      let seen = new Map<number, string[]>();
      await waitFor('every connection seen on the switch', async () => {
        seen = flowPorts(c0, await meter.read(), srcPorts, 20);
        return [...seen.values()].every((ports) => ports.length === 1);
      }, 5_000, 50).catch(async (e: Error) => {
        e.message += `: ${JSON.stringify([...seen])} ${JSON.stringify(await meter.read())} `;
        throw e;
      });
      const c1 = await meter.read();
      const mark = d!.log().length;
      writeFileSync(join(d!.dir, 'ipmp.yaml'), config(['eth0', 'eth1', 'eth2'], [...DATA, NEW_ADDR]));
      process.kill(d!.pid, 'SIGHUP');
      await waitSnap(d!, 'eth2 active and the new address bound', (s) =>
        s.interfaces.some((i) => i.name === 'eth2' && i.active) && boundTo(s, NEW_ADDR) !== '');
      const c2 = await meter.read();
      const r = await stream.result;
      const c3 = await meter.read();
      const retrans = (await tcpSnmp(hostNs(p))).RetransSegs - retrans0;

      assertStreamWhole('host → peer through SIGHUP', r);
      const before1 = flowPorts(c0, c1, srcPorts);
      const after1 = flowPorts(c2, c3, srcPorts);
      const moved = srcPorts.filter((sp) => JSON.stringify(before1.get(sp)) !== JSON.stringify(after1.get(sp)));
      t.diagnostic(`switch port per connection before ${JSON.stringify([...before1])}, after ${JSON.stringify([...after1])}; ` +
        `retransmitted segments ${retrans}`);
      for (const sp of srcPorts) assert.equal(before1.get(sp)?.length, 1, `connection from port ${sp} on one NIC before`);
      assert.deepEqual(moved, [], 'no connection changed NIC');
      assert.ok(retrans <= 20, `retransmitted segments during the reload: ${retrans}`);
      assert.match(d!.log().slice(mark), /SIGHUP: rereading the configuration/, 'the reload is logged');

      // The stream has ended: its buckets go idle and are handed to eth2; new connections in
      // buckets whose home is eth2 leave through eth2.
      await d!.waitLog(/\d+ idle flow buckets handed to their home NICs/, 5_000, mark);
      const c4 = await meter.read();
      const next = await startStream({ fromNs: hostNs(p), toNs: peerNs(p), to: PEER, local: DATA[0], port: LATER_PORT,
        conns: later.length, rate: 100_000, durationMs: 1_000, lports: later });
      assertStreamWhole('new connections after the reload', await next.result);
      const onNic = flowPorts(c4, await meter.read(), later);
      for (const sp of later) assert.deepEqual(onNic.get(sp), ['swp2'], `new connection from port ${sp} leaves through eth2: ${JSON.stringify([...onNic])}`);

      // eth2 carries traffic: the new address, bound to it, answers the peer at eth2's MAC.
      const s = await waitSnap(d!, `${NEW_ADDR} bound to eth2`, (x) => boundTo(x, NEW_ADDR) === 'eth2');
      const rx0 = await rxPackets(p, 'eth2');
      const ping = await pingRun(peerNs(p), NEW_ADDR, 20, 20).result;
      assert.equal(ping.received, 20, `${NEW_ADDR} answered every ping:\n${ping.output}`);
      assert.ok((await rxPackets(p, 'eth2')) - rx0 >= 20, 'eth2 received the echo requests');
      assert.equal(await peerNeighbour(p, NEW_ADDR), iface(s, 'eth2').mac.toLowerCase());
      for (const a of DATA) assert.ok(await reachable(peerNs(p), a), `${a} still answers`);
    });
  });

  it('SIGHUP gives NICs test addresses: probing starts on them alone, and finds a silent failure', async (t) => {
    await withLog(d, async () => {
      const tests = { eth1: '198.18.0.101', eth2: '198.18.0.102' };
      await execIn(hostNs(p), ['ip', 'route', 'replace', '198.19.0.0/24', 'via', PEER, 'dev', TUN]);
      const before = await waitSnap(d!, 'all three active', (s) => ['eth0', 'eth1', 'eth2'].every((n) => iface(s, n).active));
      const mark = d!.log().length;
      writeFileSync(join(d!.dir, 'ipmp.yaml'), config(['eth0', 'eth1', 'eth2'], [...DATA, NEW_ADDR], tests));
      process.kill(d!.pid, 'SIGHUP');
      const s = await waitSnap(d!, 'eth1 and eth2 probing their router target', (x) =>
        ['eth1', 'eth2'].every((n) => x.targets.some((r) => r.interface === n && r.family === 4
          && r.testaddr === tests[n as 'eth1' | 'eth2'] && r.targets.includes(PEER)) && iface(x, n).probe === 'ok'), 20_000);
      t.diagnostic(`targets after the reload: ${JSON.stringify(s.targets)}`);
      assert.equal(iface(s, 'eth0').probe, 'disabled', 'eth0 has no test address and is not probed');
      for (const n of ['eth0', 'eth1', 'eth2']) assert.ok(iface(s, n).active, `${n} still active`);
      for (const a of [...DATA, NEW_ADDR]) assert.equal(boundTo(s, a), boundTo(before, a), `${a} did not move`);
      assert.doesNotMatch(d!.log().slice(mark), /failure detected/, 'no failure from starting to probe');
      // Answers heard on eth2 end its quiet period: from then on losses count.
      let probes = '';
      await waitFor('acked probes on eth2', async () => {
        probes = await ipmpstatProbes(p, d!, 600);
        return ackedLines(probes, 'eth2', PEER).length >= 2;
      }, 10_000, 0).catch((e: Error) => { e.message += `\n${probes}`; throw e; });

      await labFail(p, 'eth2', { silent: true });
      try {
        await d!.waitLog(`IP interface failure detected on eth2 of group ${TUN}`, 5 * FDT_MS, mark);
      } finally {
        await labRepair(p, 'eth2');
      }
      await d!.waitLog(`IP interface repair detected on eth2 of group ${TUN}`, 10 * FDT_MS, mark);
      assert.doesNotMatch(d!.log().slice(mark), /failure detected on eth[01]/, 'eth0 and eth1 did not fail');
    });
  });
});
