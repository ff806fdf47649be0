/**
 * Entry point of a forwarding worker thread.
 *
 * Role `both` (the default) serves both directions in one thread (both-loop.ts).
 * Roles `tx` and `rx` run one direction each, in two threads. Every loop is bounded
 * by POLL_MS, so the stop flag and the tables are looked at regularly; the
 * forwarding never runs on the daemon's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadNative } from '../io/native.js';
import { nativePacketPort, nativeTunPort, type NativeTunPort } from '../io/native-ports.js';
import type { PacketPort } from '../io/ports.js';
import { Counters } from '../tables/counters.js';
import { ConflictRing } from '../tables/conflicts.js';
import { SolicitTable } from '../tables/solicits.js';
import { NeighbourTable } from '../tables/neighbours.js';
import { TablesView } from '../tables/shared-tables.js';
import { BothLoop } from './both-loop.js';
import { POLL_MS } from './layout.js';
import { RxPath } from './rx-path.js';
import { TxPath } from './tx-path.js';
import { WARMUP_SLICE, WarmUp, type WarmRole } from './warmup.js';
import { HB_BEAT, HB_HOOK, HOOK_CRASH, HOOK_HEAP, HOOK_HEAP_GC, HOOK_NONE, HOOK_STALL, type ForwardingWorkerData } from './worker-protocol.js';
import { heapReport } from '../util/heap-report.js';
import { nameThread } from '../util/thread-name.js';

function main(): void {
  const d = workerData as ForwardingWorkerData;
  nameThread(`ipmp-${d.role}`); // ipmp-both, ipmp-tx, ipmp-rx
  const native = loadNative();
  const view = new TablesView(d.tables);
  const neigh = new NeighbourTable(d.neighbours);
  const tun = nativeTunPort(native, d.tunFd);
  const port = nativePacketPort(native);
  const beat = new Int32Array(d.heartbeat);
  const solicits = new SolicitTable(d.solicits);
  const tx = d.role === 'rx' ? null : new TxPath(view, neigh, new Counters(d.txCounters), tun, port, solicits);
  const rx = d.role === 'tx' ? null
    : new RxPath(view, neigh, new Counters(d.rxCounters), tun, port, d.conflicts ? new ConflictRing(d.conflicts) : null, solicits);
  // The JIT warm-up runs in slices whenever a pass finds nothing to do (warmup.ts).
  const warm = startWarmUp(native, d.role, tun, port);
  let warming = warm !== null;
  parentPort?.postMessage({ ready: d.role });
  const loop = tx && rx ? new BothLoop(native, tx, rx, d.tunFd) : null;
  const path = (tx ?? rx) as TxPath | RxPath;
  try {
    while (!view.stopRequested()) {
      const timeoutMs = warming ? 0 : POLL_MS;
      const busy = loop !== null ? loop.pass(timeoutMs) : path.runOnce(timeoutMs);
      if (warming && busy === 0) warming = (warm as WarmUp).step(WARMUP_SLICE);
      Atomics.add(beat, HB_BEAT, 1);
      if (Atomics.load(beat, HB_HOOK) !== HOOK_NONE) testHook(beat);
    }
  } finally {
    warm?.close();
  }
  parentPort?.postMessage({ stopped: d.role });
}

/** The warm-up, or null when its local sockets cannot be had (the worker then forwards without it). */
function startWarmUp(native: ReturnType<typeof loadNative>, role: WarmRole, tun: NativeTunPort, port: PacketPort): WarmUp | null {
  try {
    return new WarmUp(native, role, tun, port);
  } catch {
    return null;
  }
}

/** Test hooks (see HB_HOOK): set by the owner only on a test-hook request (IPMPD_TEST_HOOKS=1). */
function testHook(beat: Int32Array): void {
  const cmd = Atomics.exchange(beat, HB_HOOK, HOOK_NONE);
  if (cmd === HOOK_STALL) {
    // Blocks until terminated, without heartbeats, like a worker stuck in a call.
    const never = new Int32Array(new SharedArrayBuffer(4));
    for (;;) Atomics.wait(never, 0, 0);
  }
  if (cmd === HOOK_CRASH) throw new Error('test hook: forwarding worker crash');
  if (cmd === HOOK_HEAP || cmd === HOOK_HEAP_GC) parentPort?.postMessage({ heap: heapReport(cmd === HOOK_HEAP_GC) });
}

main();
