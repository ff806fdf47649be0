// Memory of ipmpd across NIC re-creation. The control socket's `memory` and `memory-gc` test
// hooks (IPMPD_TEST_HOOKS=1) report the V8 heap of each thread: the main thread, the
// forwarding worker and the probe worker. A NIC deleted and re-created gets a new ifindex,
// so the probe worker makes its probe instances and sockets again, the forwarding worker
// sees a new packet socket, and the main thread re-applies the host isolation; whatever
// one of them kept per re-creation would show as live heap (after a full collection) that
// grows with the number of faults. After a warm-up (the first faults compile code), the
// live heap without compiled code and bytecode, plus off-heap ArrayBuffer memory, must stay
// within a bound that one probe instance kept per fault would exceed.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { labUp, labDown, labDownSync, labFail, labRepair, waitFor, type LabInfo } from '../../src/lab/lab.js';
import { uniquePrefix } from '../../src/lab/fixture.js';
import { connectControl } from '../../src/cli/client.js';
import type { HeapReport } from '../../src/util/heap-report.js';
import type { Snapshot } from '../../src/daemon/protocol.js';
import { startDaemon, snapshot, withLog, type RunningDaemon } from './helpers/daemon.js';
import { probingGroupYaml } from './helpers/probe-helpers.js';

const skip = process.getuid?.() !== 0 ? 'needs root (network namespaces)' : false;
const TUN = `ipm${process.pid % 100000}`;
const PEER = '198.18.0.1';
const NICS = ['eth0', 'eth1'];
const WARMUP = 5;
const FAULTS = 12;
/**
 * Allowed growth of one thread's live heap (without code) plus ArrayBuffers over FAULTS
 * re-creations (kB). Measured: about 80 kB in the main thread and the probe worker (feedback
 * and other compiler metadata still accumulating), under 10 kB in the forwarding worker; a
 * probe worker that kept each replaced probe instance grows by about 260 kB.
 */
const GROWTH_LIMIT_KB = 160;

interface MemoryReply {
  pid: number;
  main: { heap: HeapReport; rss: number };
  forwarding: Array<{ role: string; restarts: number; heap: HeapReport | null }>;
  probe: { starts: number; heap: HeapReport | null };
}

async function memory(d: RunningDaemon, hook: 'memory' | 'memory-gc'): Promise<MemoryReply> {
  const c = await connectControl(d.socket);
  try {
    const r = await c.request({ op: 'test-hook', group: TUN, hook });
    if (!r.ok) throw new Error(`test-hook ${hook} refused: ${r.error} (${r.code})`);
    return r.result as MemoryReply;
  } finally {
    c.close();
  }
}

/** Live heap without compiled code and bytecode, and ArrayBuffer memory held off the heap (kB). */
function liveKb(h: HeapReport): number {
  return h.usedKb - h.codeKb + h.externalKb;
}

function threads(m: MemoryReply): Array<[string, HeapReport]> {
  const out: Array<[string, HeapReport]> = [['main', m.main.heap]];
  for (const f of m.forwarding) { assert.ok(f.heap, `forwarding worker ${f.role} reported its heap`); out.push([`forwarding ${f.role}`, f.heap]); }
  assert.ok(m.probe.heap, 'the probe worker reported its heap');
  out.push(['probe', m.probe.heap]);
  return out;
}

function settled(s: Snapshot): boolean {
  return NICS.every((n) => s.interfaces.some((i) => i.name === n && i.state === 'ok' && i.active && i.probe === 'ok'));
}

describe('memory across NIC re-creation', { skip, timeout: 150_000 }, () => {
  let lab: LabInfo;
  let d: RunningDaemon;
  const prefix = uniquePrefix();

  before(async () => {
    lab = await labUp({ prefix, nics: 2 });
    d = await startDaemon(prefix, probingGroupYaml(TUN, 1000, PEER), { testHooks: true });
    await waitFor('both NICs ok with probes', async () => settled(await snapshot(d.socket)), 20_000, 100);
  });

  after(async () => {
    try { if (d) await d.stop(); } finally {
      try { await labDown(prefix); } catch { labDownSync(prefix); }
    }
  });

  it('memory reports the heap of the main thread and of every worker; memory-gc collects first', async () => {
    await withLog(d, async () => {
      const m = await memory(d, 'memory');
      assert.equal(m.pid, d.pid);
      assert.ok(m.main.rss > 0, 'process.memoryUsage() is included');
      const list = threads(m);
      assert.equal(list.length, 3, 'main, one forwarding worker, the probe worker');
      for (const [who, h] of list) {
        assert.ok(h.totalKb > 0 && h.usedKb > 0 && h.usedKb <= h.totalKb, `${who}: used ${h.usedKb} of ${h.totalKb} kB`);
        assert.ok(h.spaces.old_space && h.spaces.old_space.usedKb > 0, `${who}: old space listed`);
      }
      // Each thread allocates between the two reports, but a full collection leaves less in
      // new space than the idle loops leave there between scavenges.
      const g = await memory(d, 'memory-gc');
      for (const [who, h] of threads(g)) {
        assert.ok(h.spaces.new_space.usedKb <= 64, `${who}: new space emptied by the collection (${h.spaces.new_space.usedKb} kB)`);
      }
    });
  });

  it(`the live heap of no thread grows with NIC re-creations (${FAULTS} after ${WARMUP} warm-up)`, async () => {
    await withLog(d, async () => {
      const cycle = async (): Promise<void> => {
        await labFail(prefix, 'eth1', { delete: true });
        await waitFor('eth1 failed', async () => (await snapshot(d.socket)).interfaces.some((i) => i.name === 'eth1' && i.state === 'failed'),
          10_000, 50);
        await labRepair(prefix, 'eth1');
        await waitFor('eth1 re-adopted and probing', async () => settled(await snapshot(d.socket)), 20_000, 100);
      };
      for (let i = 0; i < WARMUP; i++) await cycle();
      const base = await memory(d, 'memory-gc');
      for (let i = 0; i < FAULTS; i++) await cycle();
      const end = await memory(d, 'memory-gc');
      assert.equal(end.probe.starts, base.probe.starts, 'the probe worker was not restarted');
      assert.deepEqual(end.forwarding.map((f) => f.restarts), base.forwarding.map((f) => f.restarts), 'no forwarding worker restarted');
      const before = new Map(threads(base));
      const lines: string[] = [];
      let worst = 0;
      for (const [who, h] of threads(end)) {
        const grew = liveKb(h) - liveKb(before.get(who)!);
        worst = Math.max(worst, grew);
        lines.push(`${who}: ${liveKb(before.get(who)!)} → ${liveKb(h)} kB`);
      }
      assert.ok(worst <= GROWTH_LIMIT_KB, `live heap + ArrayBuffers after ${FAULTS} re-creations of eth1: ${lines.join('; ')} (limit +${GROWTH_LIMIT_KB} kB)`);
    });
  });
});
