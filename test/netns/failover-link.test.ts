// Link-based failover end to end, with traffic through the IPMP interface. One lab (two
// NICs, link-based detection only), one daemon at a time:
//
// - link failure of the NIC a data address is bound to, under a 100 pps ping from the peer to
//   that address and paced TCP streams both ways: the longest ping gap is at most 100 ms, every
//   stream ends cleanly with every byte intact, the address is rebound and the peer's ARP entry
//   moves to the surviving NIC's MAC; the repair is detected;
// - a NIC deleted at run time is failed and its address moves; re-created with the same name
//   and its link down it stays failed without a second failure line; once its link comes up
//   it is re-adopted, carries traffic again, and the host stack stays off it (IPv6 disabled,
//   no ARP answer from the kernel);
// - a NIC missing at start is tracked as failed and adopted when it appears, likewise.
//
// The TUN gets a name unique to this process (ipl<n>) unless IPMP_TEST_TUN is set.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { uniquePrefix } from '../../src/lab/fixture.js';
import { execIn, hostNs, labDown, labDownSync, labFail, labRepair, labUp, peerNs, waitFor } from '../../src/lab/lab.js';
import type { LabInfo } from '../../src/lab/lab.js';
import type { Snapshot } from '../../src/daemon/protocol.js';
import { startDaemon, snapshot, type RunningDaemon } from './helpers/daemon.js';
import {
  FlowMeter, assertStreamWhole, boundTo, flowPorts, gapText, iface, linkFailureUnderTraffic, longestGap, nicStat, pickPorts, ipmpstat, peerNeighbour, pingRun, reachable, skipUnlessRoot, startStream,
  waitSnap, withLog,
} from './helpers/failover.js';

const TUN = process.env.IPMP_TEST_TUN || `ipl${process.pid % 100000}`;
const DATA = ['198.18.0.10', '198.18.0.11'];
const PEER = '198.18.0.1';
/** Longest allowed ping gap across a link failure (ms). */
const MAX_GAP_MS = 100;
const PING_INTERVAL_MS = 10;

function config(nics: string[], addrs: string[]): string {
  return [
    'FAILBACK: yes',
    'groups:',
    `  ${TUN}:`,
    `    interfaces: { ${nics.map((n) => `${n}: {}`).join(', ')} }`,
    `    addresses: [${addrs.map((a) => `${a}/24`).join(', ')}]`,
    '',
  ].join('\n');
}

function other(nic: string): string {
  return nic === 'eth0' ? 'eth1' : 'eth0';
}

function macOf(s: Snapshot, nic: string): string {
  return iface(s, nic).mac.toLowerCase();
}

/** Both NICs active and every data address bound, on different NICs. */
function settled(s: Snapshot, addrs = DATA, nics = ['eth0', 'eth1']): boolean {
  const bound = addrs.map((a) => boundTo(s, a));
  return nics.every((n) => s.interfaces.some((i) => i.name === n && i.active && i.state === 'ok'))
    && bound.every((b) => nics.includes(b)) && new Set(bound).size === Math.min(addrs.length, nics.length);
}

function rxPackets(p: string, nic: string): Promise<number> {
  return nicStat(p, nic, 'rx_packets');
}

/**
 * `nic` carries traffic: a data address bound to it answers 20 pings from the peer, the peer
 * resolves it to nic's MAC, and nic received those echo requests.
 */
async function assertCarries(p: string, d: RunningDaemon, nic: string): Promise<void> {
  const s = await waitSnap(d, `a data address bound to ${nic}`, (x) => x.addresses.some((a) => a.inbound === nic));
  const addr = s.addresses.find((a) => a.inbound === nic)!.address;
  const rx0 = await rxPackets(p, nic);
  const ping = await pingRun(peerNs(p), addr, 20, 20).result;
  assert.equal(ping.received, 20, `${addr} (bound to ${nic}) answered every ping:\n${ping.output}`);
  assert.ok((await rxPackets(p, nic)) - rx0 >= 20, `${nic} received the echo requests for ${addr}`);
  assert.equal(await peerNeighbour(p, addr), macOf(s, nic), `the peer resolves ${addr} to ${nic}'s MAC`);
}

/**
 * The host stack stays off `nic`: IPv6 disabled on it, and with the daemon stopped (SIGSTOP)
 * an ARP request for a data address gets no answer (the kernel would answer it, for an
 * address of ipmp0, if frames from `nic` reached it).
 */
async function assertIsolated(p: string, d: RunningDaemon, nic: string): Promise<void> {
  const v6 = (await execIn(hostNs(p), ['cat', `/proc/sys/net/ipv6/conf/${nic}/disable_ipv6`])).stdout.trim();
  assert.equal(v6, '1', `disable_ipv6 on ${nic}`);
  process.kill(d.pid, 'SIGSTOP');
  try {
    await execIn(peerNs(p), ['ip', 'neigh', 'flush', 'all']);
    await Promise.all(DATA.map((a) => reachable(peerNs(p), a)));
    const n = await Promise.all(DATA.map((a) => peerNeighbour(p, a)));
    assert.deepEqual(n, DATA.map(() => ''), `no ARP answer for the data addresses while the daemon is stopped: ${n.join(' ')}`);
  } finally {
    process.kill(d.pid, 'SIGCONT');
  }
}

describe('link failover with traffic through the IPMP interface', { skip: skipUnlessRoot, timeout: 180_000 }, () => {
  const p = uniquePrefix();
  let lab: LabInfo;
  let d: RunningDaemon | undefined;

  before(async () => {
    lab = await labUp({ prefix: p, nics: 2 });
    d = await startDaemon(p, config(['eth0', 'eth1'], DATA));
    await withLog(d, () => waitSnap(d!, 'both NICs active, addresses on different NICs', (s) => settled(s)));
  });

  after(async () => {
    try {
      await d?.stop();
    } finally {
      await labDown(p).catch(() => labDownSync(p));
    }
  });

  it('link failure under a 100 pps ping and TCP both ways: gap ≤ 100 ms, streams whole, ARP follows', async (t) => {
    await withLog(d, async () => {
      const s0 = await snapshot(d!.socket);
      const addr = DATA[0];
      const nic = boundTo(s0, addr);
      const survivor = other(nic);
      // Host → peer from the address on the failing NIC, and peer → that address.
      const { tFail, tDeclared, ping: pr, gaps, atFault, out: outR, inb: inR } = await linkFailureUnderTraffic(p, d!, {
        group: TUN, nic, addr, peer: PEER, ports: [5501, 5502], durationMs: 4_000, pings: 400, pingIntervalMs: PING_INTERVAL_MS, warmReplies: 100,
      });
      t.diagnostic(`ping ${addr}: ${pr.received}/${pr.sent} replies; failure declared ${tDeclared - tFail} ms after the fault; ` +
        `longest gap in the failure window ${gapText(atFault, tFail)}; over the whole run ${gapText(longestGap(gaps, 'raw'), tFail)}`);
      console.log(`# link failover gap ${atFault ? atFault.path.toFixed(1) : '-'} ms`);
      assert.ok(pr.received > 300, `ping kept getting replies: ${pr.received}/${pr.sent}`);
      assert.ok(atFault !== null, 'replies in the failure window');
      assert.ok(atFault.path <= MAX_GAP_MS, `longest ping gap at the failure ${gapText(atFault, tFail)} > ${MAX_GAP_MS} ms`);
      assertStreamWhole('host → peer', outR);
      assertStreamWhole('peer → host', inR);
      t.diagnostic(`longest receive pause: host → peer ${Math.max(...outR.receiver.conns.map((c) => c.maxPauseMs))} ms, ` +
        `peer → host ${Math.max(...inR.receiver.conns.map((c) => c.maxPauseMs))} ms`);

      const s1 = await snapshot(d!.socket);
      assert.equal(iface(s1, nic).state, 'failed');
      assert.equal(boundTo(s1, addr), survivor, `${addr} rebound to ${survivor}`);
      assert.equal(await peerNeighbour(p, addr), macOf(s1, survivor), `the peer's ARP entry for ${addr} is ${survivor}'s MAC`);
      const g = await ipmpstat(p, d!, ['-g', '-o', 'STATE', '-P']);
      assert.equal(g.trim(), 'degraded');

      const mark2 = d!.log().length;
      await labRepair(p, nic);
      await d!.waitLog(`IP interface repair detected on ${nic} of group ${TUN}`, 5_000, mark2);
      await waitSnap(d!, 'both NICs active again', (s) => settled(s));
    });
  });

  it('a NIC deleted at run time is failed (logged once, also when it re-appears with its link down); re-created, it is re-adopted and carries traffic', async () => {
    await withLog(d, async () => {
      const s0 = await snapshot(d!.socket);
      const addr = DATA[1];
      const nic = boundTo(s0, addr);
      const survivor = other(nic);
      const mark = d!.log().length;
      await labFail(p, nic, { delete: true });
      await d!.waitLog(`IP interface failure detected on ${nic} of group ${TUN}`, 5_000, mark);
      const s1 = await waitSnap(d!, `${nic} failed and ${addr} on ${survivor}`,
        (s) => iface(s, nic).state === 'failed' && boundTo(s, addr) === survivor);
      assert.equal(iface(s1, nic).active, false);
      const i = await ipmpstat(p, d!, ['-i', '-o', 'INTERFACE,ACTIVE,STATE', '-P']);
      assert.match(i, new RegExp(`^${nic}:no:failed$`, 'm'), i);
      assert.ok(await reachable(peerNs(p), addr), `${addr} answers through ${survivor}`);

      // Back with its link down: the same failure, not a new one.
      const recreated0 = lab.nics.find((n) => n.name === nic)!;
      await labRepair(p, nic, { linkDown: true });
      await waitSnap(d!, `${nic} present again, link down, still failed`,
        (s) => iface(s, nic).mac === recreated0.mac && iface(s, nic).link === 'down' && iface(s, nic).state === 'failed');

      await labRepair(p, nic);
      // The repair is logged in a later step than the appearance: every line of that one precedes it.
      await d!.waitLog(`IP interface repair detected on ${nic} of group ${TUN}`, 5_000, mark);
      const failures = d!.log().slice(mark).match(new RegExp(`IP interface failure detected on ${nic} of group ${TUN}\n`, 'g')) ?? [];
      assert.equal(failures.length, 1, `the failure of ${nic} is logged once:\n${d!.log().slice(mark)}`);
      const s2 = await waitSnap(d!, `${nic} re-adopted and active`, (s) => settled(s));
      const recreated = lab.nics.find((n) => n.name === nic)!;
      assert.equal(macOf(s2, nic), recreated.mac);
      await assertCarries(p, d!, nic);
      await assertIsolated(p, d!, nic);
    });
  });

  it('a NIC missing at start is tracked as failed and adopted when it appears; running flows stay', async () => {
    await d!.stop();
    d = undefined;
    await labFail(p, 'eth1', { delete: true });
    d = await startDaemon(p, config(['eth0', 'eth1'], DATA));
    await withLog(d, async () => {
      const s = await waitSnap(d!, 'eth1 failed, eth0 active', (x) => iface(x, 'eth1').state === 'failed' && iface(x, 'eth0').active);
      assert.equal(iface(s, 'eth1').mac, '', 'an absent NIC has no MAC');
      for (const a of DATA) assert.equal(boundTo(s, a), 'eth0', `${a} bound to eth0`);
      const g = await ipmpstat(p, d!, ['-g', '-o', 'STATE,INTERFACES', '-P']);
      assert.equal(g.trim(), 'degraded:eth0 [eth1]');
      for (const a of DATA) assert.ok(await reachable(peerNs(p), a), `${a} answers through eth0`);

      // TCP connections in buckets whose home is eth1 run on eth0 while eth1 is missing; they
      // stay on eth0 when eth1 appears (it takes them once they are idle).
      const ports = pickPorts({ src: DATA[0], dst: PEER, dport: 5504, homes: [0, 1], home: 1 }, 44000, 4);
      const meter = new FlowMeter(p, ['swp0', 'swp1'], ports);
      await meter.install();
      const stream = await startStream({ fromNs: hostNs(p), toNs: peerNs(p), to: PEER, local: DATA[0], port: 5504,
        conns: ports.length, rate: 100_000, durationMs: 3_000, lports: ports });
      const c0 = await meter.read();
      await waitFor('the connections on eth0', async () =>
        [...flowPorts(c0, await meter.read(), ports, 10).values()].every((x) => x.join() === 'swp0'), 5_000, 50);
      await labRepair(p, 'eth1');
      await waitSnap(d!, 'eth1 adopted and active', (x) => settled(x));
      assertStreamWhole('host → peer while eth1 appears', await stream.result);
      const all = flowPorts(c0, await meter.read(), ports);
      for (const sp of ports) assert.deepEqual(all.get(sp), ['swp0'], `connection from port ${sp} stayed on eth0: ${JSON.stringify([...all])}`);
      await assertCarries(p, d!, 'eth1');
      await assertIsolated(p, d!, 'eth1');
    });
  });
});
