/**
 * Entry point of a forwarding worker thread. Role `tx` runs ipmp0 → NICs,
 * role `rx` runs NICs → ipmp0. Each loops on one blocking batched native call
 * (bounded by POLL_MS) until the control plane sets the stop flag, so the
 * forwarding never runs on the daemon's event loop and the reverse.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadNative } from '../io/native.js';
import { nativePacketPort, nativeTunPort } from '../io/native-ports.js';
import { Counters } from '../tables/counters.js';
import { NeighbourTable } from '../tables/neighbours.js';
import { TablesView } from '../tables/shared-tables.js';
import { RxPath } from './rx-path.js';
import { TxPath } from './tx-path.js';

export interface ForwardingWorkerData {
  role: 'tx' | 'rx';
  tunFd: number;
  tables: SharedArrayBuffer;
  neighbours: SharedArrayBuffer;
  counters: SharedArrayBuffer;
  /** Heartbeat: the worker bumps word 0 every loop so the owner can tell it is alive. */
  heartbeat: SharedArrayBuffer;
}

function main(): void {
  const d = workerData as ForwardingWorkerData;
  const native = loadNative();
  const view = new TablesView(d.tables);
  const neigh = new NeighbourTable(d.neighbours);
  const counters = new Counters(d.counters);
  const tun = nativeTunPort(native, d.tunFd);
  const port = nativePacketPort(native);
  const beat = new Int32Array(d.heartbeat);
  const path = d.role === 'tx'
    ? new TxPath(view, neigh, counters, tun, port)
    : new RxPath(view, neigh, counters, tun, port);
  parentPort?.postMessage({ ready: d.role });
  while (!view.stopRequested()) {
    path.runOnce();
    Atomics.add(beat, 0, 1);
  }
  parentPort?.postMessage({ stopped: d.role });
}

main();
