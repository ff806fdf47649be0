/**
 * Entry point of a forwarding worker thread.
 *
 * Role `both` (the default) serves both directions in one thread: one poll over
 * the TUN and every NIC's packet socket, then a TX batch (ipmp0 → NICs) when the
 * TUN is readable and an RX batch (NICs → ipmp0) when a NIC is. A reply the kernel
 * produced while a batch was sent (a ping answered by a peer, a TCP ACK) is already
 * queued when the loop polls again, so it is forwarded without a thread wake-up.
 * Roles `tx` and `rx` run one direction each, in two threads. Every loop is bounded
 * by POLL_MS, so the stop flag and the tables are looked at regularly; the
 * forwarding never runs on the daemon's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadNative } from '../io/native.js';
import { nativePacketPort, nativeTunPort } from '../io/native-ports.js';
import { Counters } from '../tables/counters.js';
import { ConflictRing } from '../tables/conflicts.js';
import { SolicitTable } from '../tables/solicits.js';
import { ageMs, coarseNowMs, NeighbourTable } from '../tables/neighbours.js';
import { MAX_NICS, TablesView } from '../tables/shared-tables.js';
import { POLL_MS } from './layout.js';
import { RxPath } from './rx-path.js';
import { TxPath } from './tx-path.js';
import { HB_BEAT, HB_HOOK, HOOK_CRASH, HOOK_NONE, HOOK_STALL, type ForwardingWorkerData } from './worker-protocol.js';

/** How long TX may go without servicing its pending (ARP/ND) queue while only RX is busy. */
const TX_SERVICE_MS = 10;

function main(): void {
  const d = workerData as ForwardingWorkerData;
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
  parentPort?.postMessage({ ready: d.role });
  if (tx && rx) loopBoth(native, view, d.tunFd, tx, rx, beat);
  else {
    const path = (tx ?? rx) as TxPath | RxPath;
    while (!view.stopRequested()) {
      path.runOnce();
      Atomics.add(beat, HB_BEAT, 1);
      if (Atomics.load(beat, HB_HOOK) !== HOOK_NONE) testHook(beat);
    }
  }
  parentPort?.postMessage({ stopped: d.role });
}

function loopBoth(native: ReturnType<typeof loadNative>, view: TablesView, tunFd: number, tx: TxPath, rx: RxPath,
  beat: Int32Array): void {
  // fds[0] is the TUN, fds[1..] the present NICs' packet sockets.
  const fds = new Int32Array(1 + MAX_NICS);
  const ready = new Uint8Array(1 + MAX_NICS);
  // The NICs' flags, in the order RxPath lists its sockets (the tables' present NICs).
  const nicReady = ready.subarray(1);
  fds[0] = tunFd;
  let nfds = 1;
  let gen = -1;
  let lastTx = coarseNowMs();
  while (!view.stopRequested()) {
    tx.tables.refresh();
    rx.tables.refresh();
    const t = tx.tables;
    if (t.generation !== gen) {
      gen = t.generation;
      nfds = 1;
      for (let s = 0; s < t.nicCount; s++) if (t.nicPresent[s] && t.nicFd[s] >= 0) fds[nfds++] = t.nicFd[s];
    }
    // poll returns at once when anything is readable, so after a batch the answer the
    // kernel produced while the batch was sent (a ping reply, a TCP ACK) is taken without
    // a sleep and a wake-up.
    const n = native.pollFds(fds, nfds, ready, POLL_MS);
    const now = coarseNowMs();
    if ((n > 0 && ready[0]) || ageMs(now, lastTx) >= TX_SERVICE_MS) {
      tx.runOnce(0);
      lastTx = now;
    }
    if (n > 0) {
      let nic = false;
      for (let i = 1; i < nfds; i++) if (ready[i]) { nic = true; break; }
      // RxPath orders its sockets as fds[1..] are (present NICs by slot) once both tables
      // readers are at the same generation; otherwise every socket is tried.
      if (nic) {
        rx.runOnce(0, rx.tables.generation === gen ? nicReady : undefined);
        // Packets waiting for a neighbour leave as soon as RX has learnt it, not at the next wake-up.
        if (tx.pending.size() > 0) { tx.runOnce(0); lastTx = now; }
      }
    } else if (nfds === 1) {
      rx.runOnce(0);
    }
    Atomics.add(beat, HB_BEAT, 1);
    if (Atomics.load(beat, HB_HOOK) !== HOOK_NONE) testHook(beat);
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
}

main();
