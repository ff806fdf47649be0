/**
 * What the daemon and a forwarding worker share besides the tables: the worker's
 * start data and the words of its heartbeat buffer.
 */

export type ForwardingRole = 'both' | 'tx' | 'rx';

/** Words of the heartbeat buffer. */
export const HB_BEAT = 0;
/** Test hook command (only set when the daemon runs with IPMPD_TEST_HOOKS=1). */
export const HB_HOOK = 1;
export const HB_WORDS = 2;
export const HOOK_NONE = 0;
/** The worker stops looping (blocks) as if stuck in a call. */
export const HOOK_STALL = 1;
/** The worker throws, as on a bug. */
export const HOOK_CRASH = 2;
/** The worker posts `{ heap: HeapReport }` (util/heap-report.ts) to its owner. */
export const HOOK_HEAP = 3;
/** As HOOK_HEAP, after a full garbage collection. */
export const HOOK_HEAP_GC = 4;

export interface ForwardingWorkerData {
  role: ForwardingRole;
  tunFd: number;
  tables: SharedArrayBuffer;
  neighbours: SharedArrayBuffer;
  txCounters: SharedArrayBuffer;
  rxCounters: SharedArrayBuffer;
  /** Heartbeat: the worker bumps word HB_BEAT every loop so the owner can tell it is alive. */
  heartbeat: SharedArrayBuffer;
  /** Address conflict reports from the RX path (tables/conflicts.ts). */
  conflicts?: SharedArrayBuffer;
  /** The TX path's neighbour requests, read by the RX path (tables/solicits.ts). */
  solicits?: SharedArrayBuffer;
}
