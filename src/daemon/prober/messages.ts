/**
 * The messages between the main thread's Prober handle and the probe worker, and the facts
 * the worker reports. Everything here crosses postMessage (structured clone): plain data,
 * Maps allowed, no class instances.
 */
import type { ProbeFacts } from '../../control/failure-decision.js';
import type { ProbeEvent } from '../protocol.js';

/** One NIC that probes over IPv4: its kernel identity and its test address. */
export interface ProberNic {
  slot: number;
  name: string;
  ifindex: number;
  mac: Uint8Array;
  testAddress: { address: string; prefixlen: number };
  /** Link state when handed over; default up (a down link is reported by linkChanged). */
  linkUp?: boolean;
}

/** The controller's view of one NIC, pushed to the worker whenever it changes. */
export interface NicFailState {
  slot: number;
  /** The NIC carries the FAILED flag or is in state FAILED. */
  failed: boolean;
}

export type ProberFact =
  | { kind: 'failure'; slot: number; facts: ProbeFacts }
  | { kind: 'repair'; slot: number }
  | { kind: 'probe'; event: ProbeEvent }
  | {
    kind: 'targets'; slot: number; hasTargets: boolean; mode: 'routes' | 'multicast' | 'disabled';
    testaddr: string; targets: string[];
  }
  | { kind: 'fdt'; fdtMs: number }
  | { kind: 'log'; level: 'err' | 'info' | 'debug'; text: string };

export interface ProbeWorkerData {
  group: string;
  fdtMs: number;
  /** Pinned targets from the configuration, or null for discovery. */
  targets: string[] | null;
  pid: number;
}

/** Main thread → worker. */
export type ToWorker =
  | { op: 'nics'; nics: ProberNic[] }
  | { op: 'routes'; gateways: string[] }
  | { op: 'link'; slot: number; up: boolean }
  | { op: 'state'; nics: NicFailState[]; groupFailed: boolean }
  | { op: 'stats'; id: number }
  | { op: 'stop' };

/** Worker → main thread. */
export type FromWorker =
  | { op: 'ready' }
  | { op: 'fact'; fact: ProberFact }
  | { op: 'stats'; id: number; stats: object }
  | { op: 'stopped' };
