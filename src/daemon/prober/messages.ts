/**
 * The messages between the main thread's Prober handle and the probe worker, and the facts
 * the worker reports. Everything here crosses postMessage (structured clone): plain data,
 * Maps allowed, no class instances.
 */
import type { ProbeFacts } from '../../control/failure-decision.js';
import type { ProbeEvent } from '../protocol.js';

export type Family = 4 | 6;

/** A test address without the family: IPv4 dotted quad, or an IPv6 link-local. */
export interface TestAddr {
  address: string;
  prefixlen: number;
}

/** One NIC that probes: its kernel identity and its test addresses (one per family at most). */
export interface ProberNic {
  slot: number;
  name: string;
  ifindex: number;
  mac: Uint8Array;
  /** IPv4 test address, or null: no IPv4 probing. */
  testAddress: TestAddr | null;
  /** IPv6 link-local test address, or null: no IPv6 probing. */
  testAddress6?: TestAddr | null;
  /** Link state when handed over; default up (a down link is reported by linkChanged). */
  linkUp?: boolean;
  /**
   * Families whose quiet period already ended (an ack was seen), for a restarted worker:
   * their new engines start without the 40 s quiet period.
   */
  quietOver?: Family[];
}

/** The controller's view of one NIC, pushed to the worker whenever it changes. */
export interface NicFailState {
  slot: number;
  /** The NIC carries the FAILED flag or is in state FAILED. */
  failed: boolean;
  /** Offline (if_mpadm -d): not probed until the offline is undone. */
  offline: boolean;
}

export type ProberFact =
  | { kind: 'failure'; slot: number; family: Family; facts: ProbeFacts }
  | { kind: 'repair'; slot: number; family: Family }
  | { kind: 'probe'; event: ProbeEvent }
  | {
    kind: 'targets'; slot: number; family: Family; hasTargets: boolean; mode: 'routes' | 'multicast' | 'disabled';
    testaddr: string; targets: string[];
  }
  | { kind: 'fdt'; fdtMs: number }
  /** Duplicate address detection of an IPv6 test address ended; `duplicate`: another node holds it (MAC `node`). */
  | { kind: 'dad6'; slot: number; name: string; address: string; duplicate: boolean; node: string }
  | { kind: 'log'; level: 'err' | 'info' | 'debug'; text: string };

export interface ProbeWorkerData {
  group: string;
  fdtMs: number;
  /** Pinned targets from the configuration, or null for discovery. */
  targets: string[] | null;
  pid: number;
  /** Test hooks (IPMPD_TEST_HOOKS=1) are accepted. */
  testHooks?: boolean;
  /** Test hook probe-worker-crash-loop (with testHooks): the worker throws once it has opened the NICs' sockets. */
  crashLoop?: boolean;
  /** Duplicate address detection window of IPv6 test addresses (ms); 0 skips it. Default DAD_RETRANS_MS. */
  testDadMs?: number;
}

/** Test hooks: make the worker stop answering for `ms`, or die. */
export type ProbeWorkerHook = { hook: 'stall'; ms: number } | { hook: 'crash' };

/** Main thread → worker. */
export type ToWorker =
  | { op: 'nics'; nics: ProberNic[] }
  | { op: 'routes'; gateways: string[]; gateways6: string[] }
  | { op: 'link'; slot: number; up: boolean }
  | { op: 'state'; nics: NicFailState[]; groupFailed: boolean }
  | { op: 'stats'; id: number; gc?: boolean }
  | { op: 'hook'; hook: ProbeWorkerHook }
  | { op: 'stop' };

/** Worker → main thread. */
export type FromWorker =
  | { op: 'ready' }
  | { op: 'alive' }
  /** The packet sockets the worker holds now (closed by the main thread if the worker dies). */
  | { op: 'sockets'; fds: number[] }
  | { op: 'fact'; fact: ProberFact }
  | { op: 'stats'; id: number; stats: object }
  | { op: 'stopped' };
