// The two-thread forwarding mode (IPMPD_FORWARDING_THREADS=2, set for this daemon alone): one
// TX and one RX worker thread, named ipmp-tx and ipmp-rx in /proc/PID/task. With two NICs,
// two IPv4 and two IPv6 data addresses and link-based failure detection it forwards pings
// both ways on both families; TCP flows from one address land on the NIC of their bucket's
// home (both NICs carry flows) and streams to two addresses bound to different NICs arrive
// on those NICs, over IPv6 too, every byte intact; a link failure moves the traffic with the same bound on
// the ping gap as in the one-thread mode; a crash of the TX worker (test hook) is logged and
// the worker replaced by a new thread while the RX thread runs on, and traffic resumes.
//
// The TUN gets a name unique to this process (ipw<n>).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { uniquePrefix } from '../../src/lab/fixture.js';
import { execIn, hostNs, labDown, labDownSync, labRepair, labUp, peerNs, waitFor } from '../../src/lab/lab.js';
import type { Snapshot } from '../../src/daemon/protocol.js';
import { namedThreads, startDaemon, snapshot, type RunningDaemon } from './helpers/daemon.js';
import {
  FlowMeter, assertStreamWhole, boundTo, flowPorts, gapText, iface, linkFailureUnderTraffic, nicStat, pickPorts, skipUnlessRoot,
  startStream, waitSnap, withLog,
} from './helpers/failover.js';
import { testHook } from './helpers/probe-helpers.js';

const TUN = `ipw${process.pid % 100000}`;
const DATA = ['198.18.0.10', '198.18.0.11'];
const DATA6 = ['2001:db8::10', '2001:db8::11'];
const PEER = '198.18.0.1';
const PEER6 = '2001:db8::1';
const NICS = ['eth0', 'eth1'];
/** Longest allowed ping gap across a link failure (ms): the one-thread mode's bound (failover-link.test.ts). */
const MAX_GAP_MS = 100;
const PING_INTERVAL_MS = 10;

function config(): string {
  return [
    'FAILBACK: yes',
    'groups:',
    `  ${TUN}:`,
    '    interfaces: { eth0: {}, eth1: {} }',
    `    addresses: [${DATA.map((a) => `${a}/24`).join(', ')}, ${DATA6.map((a) => `${a}/64`).join(', ')}]`,
    '',
  ].join('\n');
}

/** Both NICs active, every data address bound, both NICs with addresses bound to them. */
function settled(s: Snapshot): boolean {
  const bound = [...DATA, ...DATA6].map((a) => boundTo(s, a));
  return NICS.every((n) => s.interfaces.some((i) => i.name === n && i.active && i.state === 'ok'))
    && bound.every((b) => NICS.includes(b)) && NICS.every((n) => bound.includes(n));
}

/** For each NIC, a data address bound to it. */
function addressPerNic(s: Snapshot): string[] {
  return NICS.map((n) => [...DATA, ...DATA6].find((a) => boundTo(s, a) === n)!);
}

/** The forwarding threads: exactly one ipmp-tx and one ipmp-rx, no ipmp-both; their thread ids. */
function forwardingThreads(pid: number): { tx: number; rx: number } {
  const t = namedThreads(pid);
  const text = JSON.stringify([...t]);
  assert.equal(t.get('ipmp-tx')?.length, 1, `one thread ipmp-tx: ${text}`);
  assert.equal(t.get('ipmp-rx')?.length, 1, `one thread ipmp-rx: ${text}`);
  assert.equal(t.get('ipmp-both'), undefined, `no thread ipmp-both: ${text}`);
  return { tx: t.get('ipmp-tx')![0], rx: t.get('ipmp-rx')![0] };
}

function rxBytes(p: string, nic: string): Promise<number> {
  return nicStat(p, nic, 'rx_bytes');
}

/** Pings that must all be answered: first one through (neighbours resolved), then `count` of `count`. */
async function pingAll(ns: string, target: string, from?: string, count = 5): Promise<void> {
  const src = from ? ['-I', from] : [];
  const once = async (n: number): Promise<string> => (await execIn(ns,
    ['ping', '-n', '-q', '-c', String(n), '-i', '0.1', '-W', '1', ...src, target], { timeoutMs: 15_000 }).catch((e: Error) => ({ stdout: e.message }))).stdout;
  await waitFor(`a ping ${from ?? ns} → ${target}`, async () => / 1 received/.test(await once(1)), 10_000, 50);
  const out = await once(count);
  assert.match(out, new RegExp(` ${count} received`), `${from ?? ns} → ${target}: every ping answered:\n${out}`);
}

/** Pings host → peer from every data address and peer → every data address, IPv4 and IPv6. */
async function pingBothWays(p: string): Promise<void> {
  for (const a of DATA) await pingAll(hostNs(p), PEER, a);
  for (const a of DATA6) await pingAll(hostNs(p), PEER6, a);
  for (const a of [...DATA, ...DATA6]) await pingAll(peerNs(p), a);
}

describe('two forwarding threads (IPMPD_FORWARDING_THREADS=2)', { skip: skipUnlessRoot, timeout: 120_000 }, () => {
  const p = uniquePrefix();
  let d: RunningDaemon | undefined;

  before(async () => {
    await labUp({ prefix: p, nics: 2 });
    d = await startDaemon(p, config(), { testHooks: true, env: { IPMPD_FORWARDING_THREADS: '2' } });
    await withLog(d, () => waitSnap(d!, 'both NICs active, every address bound', settled));
  });

  after(async () => {
    try {
      await d?.stop();
    } finally {
      await labDown(p).catch(() => labDownSync(p));
    }
  });

  it('runs a TX and an RX thread, and forwards pings both ways on IPv4 and IPv6', async () => {
    await withLog(d, async () => {
      forwardingThreads(d!.pid);
      await pingBothWays(p);
      const s = await snapshot(d!.socket);
      assert.equal(s.groups[0].forwarding?.state, 'up', JSON.stringify(s.groups[0].forwarding));
    });
  });

  it('TCP: flows from one address on both NICs by bucket home, streams to two addresses on their NICs, IPv6 too, all whole', async () => {
    await withLog(d, async () => {
      const s = await snapshot(d!.socket);
      const targets = addressPerNic(s);
      // Host → peer from DATA[0]: two connections whose bucket's home is eth0, two whose home is eth1.
      const flow = { src: DATA[0], dst: PEER, dport: 5601, homes: [0, 1] };
      const home0 = pickPorts({ ...flow, home: 0 }, 42000, 2);
      const home1 = pickPorts({ ...flow, home: 1 }, 42100, 2);
      const ports = [...home0, ...home1];
      const meter = new FlowMeter(p, ['swp0', 'swp1'], ports);
      await meter.install();
      const c0 = await meter.read();
      const rx0 = await Promise.all(NICS.map((n) => rxBytes(p, n)));
      const out = await startStream({ fromNs: hostNs(p), toNs: peerNs(p), to: PEER, local: DATA[0], port: 5601,
        conns: ports.length, rate: 300_000, durationMs: 2_000, lports: ports });
      // Peer → an address bound to each NIC, and host → peer over IPv6.
      const inb = await Promise.all(targets.map((a, i) => startStream({ fromNs: peerNs(p), toNs: hostNs(p), to: a,
        local: a.includes(':') ? PEER6 : PEER, port: 5602 + i, conns: 2, rate: 300_000, durationMs: 2_000 })));
      const out6 = await startStream({ fromNs: hostNs(p), toNs: peerNs(p), to: PEER6, local: DATA6[0], port: 5604,
        conns: 2, rate: 300_000, durationMs: 2_000 });
      const [outR, in0, in1, out6R] = await Promise.all([out.result, inb[0].result, inb[1].result, out6.result]);
      assertStreamWhole('host → peer', outR);
      assertStreamWhole(`peer → ${targets[0]}`, in0);
      assertStreamWhole(`peer → ${targets[1]}`, in1);
      assertStreamWhole('host → peer over IPv6', out6R);

      const seen = flowPorts(c0, await meter.read(), ports, 10);
      for (const sp of home0) assert.deepEqual(seen.get(sp), ['swp0'], `flow from port ${sp} on eth0: ${JSON.stringify([...seen])}`);
      for (const sp of home1) assert.deepEqual(seen.get(sp), ['swp1'], `flow from port ${sp} on eth1: ${JSON.stringify([...seen])}`);
      // Each NIC received at least the records sent to the address bound to it.
      const rx1 = await Promise.all(NICS.map((n) => rxBytes(p, n)));
      [in0, in1].forEach((r, k) => {
        const bytes = r.sender.sent.reduce((x, y) => x + y, 0) * 1024;
        assert.ok(bytes > 0, `records sent to ${targets[k]}`);
        assert.ok(rx1[k] - rx0[k] >= bytes, `${NICS[k]} (bound to ${targets[k]}) received ${rx1[k] - rx0[k]} bytes, ${bytes} sent to it`);
      });
    });
  });

  it('link failure under a 100 pps ping and TCP both ways: gap ≤ 100 ms, streams whole, address rebound', async (t) => {
    await withLog(d, async () => {
      const s0 = await snapshot(d!.socket);
      const addr = DATA[0];
      const nic = boundTo(s0, addr);
      const survivor = NICS.find((n) => n !== nic)!;
      const { tFail, tDeclared, ping: pr, atFault, out: outR, inb: inR } = await linkFailureUnderTraffic(p, d!, {
        group: TUN, nic, addr, peer: PEER, ports: [5611, 5612], durationMs: 3_000, pings: 300, pingIntervalMs: PING_INTERVAL_MS, warmReplies: 50,
      });
      t.diagnostic(`ping ${addr}: ${pr.received}/${pr.sent} replies; failure declared ${tDeclared - tFail} ms after the fault; ` +
        `longest gap in the failure window ${gapText(atFault, tFail)}`);
      assert.ok(pr.received > 250, `ping kept getting replies: ${pr.received}/${pr.sent}`);
      assert.ok(atFault !== null, 'replies in the failure window');
      assert.ok(atFault.path <= MAX_GAP_MS, `longest ping gap at the failure ${gapText(atFault, tFail)} > ${MAX_GAP_MS} ms`);
      assertStreamWhole('host → peer', outR);
      assertStreamWhole('peer → host', inR);
      const s1 = await snapshot(d!.socket);
      assert.equal(iface(s1, nic).state, 'failed');
      assert.equal(boundTo(s1, addr), survivor, `${addr} rebound to ${survivor}`);

      const mark2 = d!.log().length;
      await labRepair(p, nic);
      await d!.waitLog(`IP interface repair detected on ${nic} of group ${TUN}`, 5_000, mark2);
      await waitSnap(d!, 'both NICs active again', settled);
      await pingBothWays(p);
    });
  });

  it('a crashed TX worker is replaced by a new thread, the RX thread runs on, traffic resumes', async () => {
    await withLog(d, async () => {
      const was = forwardingThreads(d!.pid);
      const from = d!.log().length;
      // TCP both ways across the crash: the connections survive the outage.
      const out = await startStream({ fromNs: hostNs(p), toNs: peerNs(p), to: PEER, local: DATA[1], port: 5621, conns: 2,
        rate: 100_000, durationMs: 3_000 });
      const inb = await startStream({ fromNs: peerNs(p), toNs: hostNs(p), to: DATA6[1], local: PEER6, port: 5622, conns: 2,
        rate: 100_000, durationMs: 3_000 });
      await testHook(d!, TUN, 'forwarding-crash');
      await d!.waitLog(/forwarding worker tx exited \(code 1; error: test hook: forwarding worker crash\); restarting it in \d+ ms \(attempt 1\)\n/,
        10_000, from);
      await d!.waitLog(/forwarding worker tx restarted \(attempt 1; 1 restart\(s\) since start\)/, 10_000, from);
      assertStreamWhole('host → peer across the crash', await out.result);
      assertStreamWhole('peer → host over IPv6 across the crash', await inb.result);
      await pingBothWays(p);

      const now = forwardingThreads(d!.pid);
      assert.notEqual(now.tx, was.tx, 'the TX worker runs in a new thread');
      assert.equal(now.rx, was.rx, 'the RX worker runs on in its thread');
      const s = await snapshot(d!.socket);
      assert.equal(s.groups[0].forwarding?.state, 'up', JSON.stringify(s.groups[0].forwarding));
      assert.equal(s.groups[0].forwarding?.restarts, 1, JSON.stringify(s.groups[0].forwarding));
      for (const n of NICS) assert.equal(iface(s, n).state, 'ok', `${n} after the crash`);
      const since = d!.log().slice(from);
      assert.doesNotMatch(since, /forwarding worker rx (exited|stalled|restarted)/, 'the RX worker was not touched');
      assert.doesNotMatch(since, /IP interface failure detected|All IP interfaces in group/);
    });
  });
});
