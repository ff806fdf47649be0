/**
 * The calling thread's V8 heap in kB: committed, used and resident totals, off-heap
 * (`external`, `malloced`) and each space. Used only by the `memory` test hook
 * (IPMPD_TEST_HOOKS=1), which asks the main thread and every worker for it, so a growing
 * RSS can be put down to one isolate and one space. `memory-gc` runs a full garbage
 * collection in each thread first, so `usedKb` is what is live.
 */
import { getHeapCodeStatistics, getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface HeapReport {
  totalKb: number;
  usedKb: number;
  physicalKb: number;
  externalKb: number;
  mallocedKb: number;
  peakMallocedKb: number;
  contexts: number;
  /** Compiled code and bytecode with their metadata (part of usedKb; grows as functions are compiled). */
  codeKb: number;
  /** Per space: committed, used, resident. */
  spaces: Record<string, { sizeKb: number; usedKb: number; physicalKb: number }>;
}

const kb = (n: number): number => Math.round(n / 1024);

let gcFn: (() => void) | null = null;

/** A full garbage collection of the calling thread's isolate. */
function collect(): void {
  if (!gcFn) {
    // Only a context made after the flag is set gets `gc`; the flag stays off for everything else.
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
    setFlagsFromString('--no-expose-gc');
  }
  gcFn();
}

export function heapReport(gc = false): HeapReport {
  if (gc) collect();
  const h = getHeapStatistics();
  const c = getHeapCodeStatistics();
  const spaces: HeapReport['spaces'] = {};
  for (const s of getHeapSpaceStatistics()) {
    spaces[s.space_name] = { sizeKb: kb(s.space_size), usedKb: kb(s.space_used_size), physicalKb: kb(s.physical_space_size) };
  }
  return {
    totalKb: kb(h.total_heap_size), usedKb: kb(h.used_heap_size), physicalKb: kb(h.total_physical_size),
    externalKb: kb(h.external_memory), mallocedKb: kb(h.malloced_memory), peakMallocedKb: kb(h.peak_malloced_memory),
    contexts: h.number_of_native_contexts,
    codeKb: kb(c.code_and_metadata_size + c.bytecode_and_metadata_size), spaces,
  };
}
