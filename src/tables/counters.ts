/**
 * Forwarding counters. Each worker owns one Counters buffer (its single
 * writer); the control plane reads them for metrics, dumps and ipmpstat.
 * Plain Float64 slots: exact to 2^53, written without atomics (a reader may
 * see a value one batch old, never a torn one on 64-bit platforms).
 */
import { MAX_NICS } from './shared-tables.js';

/** Per-NIC counters. */
export const C_PKTS = 0;
export const C_BYTES = 1;
const PER_NIC = 2;

/** Drop reasons, in metrics order. */
export const DROP_REASONS = [
  'malformed',        // failed validation (length, version, header length)
  'no_active_nic',    // nothing active in the group
  'no_route',         // no route via the IPMP interface
  'neigh_unresolved', // neighbour queue full or resolution failed
  'unsupported',      // protocol or ethertype we do not forward (VLAN, unknown)
  'not_ours',         // frame for another host / not a data address
  'not_nominee',      // broadcast or multicast on a NIC that is not the nominee
  'own_frame',        // our own frame looped back from another member
  'send_error',       // the send or write system call failed
  'too_big',          // larger than the NIC MTU without GSO
  'rate_limited',     // ARP/ND over the per-source (or overall) budget: neither learnt nor answered
  'vlan',             // tagged for a VLAN (id other than 0): the NICs are untagged members
  'off_link',         // ARP/ND from a sender on none of our on-link subnets, or a martian sender
  'conflict',         // ARP/ND claiming one of our addresses with a foreign MAC (logged, defended)
] as const;
export type DropReason = (typeof DROP_REASONS)[number];
export const D = Object.fromEntries(DROP_REASONS.map((r, i) => [r, i])) as { [K in DropReason]: number };

const OFF_DROPS = MAX_NICS * PER_NIC;
const OFF_EXTRA = OFF_DROPS + DROP_REASONS.length;
/** Extra counters. */
export const X_BATCHES = 0;
export const X_ARP_REPLIES = 1;
export const X_ARP_REQUESTS = 2;
export const X_TUN_PKTS = 3;
export const X_TUN_BYTES = 4;
export const X_LOOPS = 5;
/** Defensive announcements sent after a conflict (gratuitous ARP / unsolicited NA with our MAC). */
export const X_DEFENCES = 6;
/** ARP requests / neighbour solicitations withheld: over the overall request budget (resolver.ts). */
export const X_REQUESTS_LIMITED = 7;
const N_EXTRA = 8;
/** Packets sent per flow bucket (TX): the control plane tells busy buckets from idle ones. */
const OFF_BUCKET_PKTS = OFF_EXTRA + N_EXTRA;
const N_BUCKETS = 256;
export const COUNTERS_SLOTS = OFF_BUCKET_PKTS + N_BUCKETS;

export class Counters {
  readonly sab: SharedArrayBuffer;
  readonly f: Float64Array;
  /** Packets sent per flow bucket, a view into f. */
  readonly bucketPkts: Float64Array;

  constructor(sab?: SharedArrayBuffer) {
    this.sab = sab ?? new SharedArrayBuffer(COUNTERS_SLOTS * 8);
    this.f = new Float64Array(this.sab);
    this.bucketPkts = this.f.subarray(OFF_BUCKET_PKTS, OFF_BUCKET_PKTS + N_BUCKETS);
  }

  nic(slot: number, pkts: number, bytes: number): void {
    const i = slot * PER_NIC;
    this.f[i + C_PKTS] += pkts;
    this.f[i + C_BYTES] += bytes;
  }

  drop(reason: number, n = 1): void {
    this.f[OFF_DROPS + reason] += n;
  }

  extra(which: number, n = 1): void {
    this.f[OFF_EXTRA + which] += n;
  }

  bucket(b: number): void {
    this.f[OFF_BUCKET_PKTS + b] += 1;
  }

  nicPkts(slot: number): number { return this.f[slot * PER_NIC + C_PKTS]; }
  nicBytes(slot: number): number { return this.f[slot * PER_NIC + C_BYTES]; }
  drops(reason: number): number { return this.f[OFF_DROPS + reason]; }
  extraValue(which: number): number { return this.f[OFF_EXTRA + which]; }

  dropsByReason(): Record<DropReason, number> {
    const out = {} as Record<DropReason, number>;
    DROP_REASONS.forEach((r, i) => { out[r] = this.f[OFF_DROPS + i]; });
    return out;
  }
}
