/**
 * The 256 flow-hash buckets of one group and the NIC each points at.
 *
 * Each bucket has a *home*: the configured non-standby NIC with the highest rendezvous weight
 * for it, so adding or removing a NIC from the configuration changes the homes of that NIC's
 * buckets only. Buckets whose home is not active are *displaced* and spread over the active
 * NICs. A bucket whose home is active is owned by its home, or it is *lent*: a NIC that joined
 * (or a home that changed) while the bucket carried traffic on another active NIC leaves it
 * there, so no running flow moves off a healthy NIC; handOver() gives it to its home once it
 * has been idle (busy() false, fed by the data plane's per-bucket packet counts).
 *
 *   deactivate(n)  only n's buckets move, each to its home when that is active, else to the
 *                  least-loaded remaining active NIC
 *   activate(n)    first active NIC after none: takes every bucket. A NIC that was active
 *                  before (a repair, failback, undo-offline) takes back its home buckets, then
 *                  displaced buckets from the most-loaded holders until it is within 1 of them.
 *                  A NIC active for the first time since it joined does the same, except
 *                  that its busy home buckets stay lent (displaced buckets belong to no
 *                  healthy NIC and move either way)
 *   setMembers     recomputes homes; buckets move only where a home changed, busy ones held by
 *                  an active NIC stay lent
 *   handOver()     lent buckets that are idle now go to their homes
 *
 * A bucket held by an active NIC that is its home never changes owner while that NIC stays
 * active and configured. Every method returns the indices of the buckets that changed owner.
 */
import { BUCKET_COUNT, NO_NIC } from './glossary.js';

/** Rendezvous weight of (bucket, nic): a 32-bit mix of both. */
export function rendezvousWeight(bucket: number, nic: number): number {
  let h = Math.imul(bucket + 1, 0x9e3779b1) ^ Math.imul(nic + 1, 0x85ebca77);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

export class BucketTable {
  /** Bucket index → owning NIC id, or NO_NIC (255) when no NIC is active. Read by the data path. */
  readonly owner = new Uint8Array(BUCKET_COUNT).fill(NO_NIC);
  private readonly home = new Uint8Array(BUCKET_COUNT).fill(NO_NIC);
  private readonly load = new Uint16Array(256);
  private readonly active = new Set<number>();
  private nonStandby: number[] = [];
  private standby: number[] = [];
  /** NICs that have been active since they became members. */
  private readonly wasActive = new Set<number>();
  /** True when the bucket carried packets lately; by default every bucket is idle. */
  private busy: (bucket: number) => boolean = () => false;

  constructor(nonStandbyIds: readonly number[] = [], standbyIds: readonly number[] = []) {
    this.setMembers(nonStandbyIds, standbyIds);
  }

  isActive(nic: number): boolean {
    return this.active.has(nic);
  }

  activeIds(): number[] {
    return [...this.active];
  }

  homeOf(bucket: number): number {
    return this.home[bucket];
  }

  loadOf(nic: number): number {
    return this.load[nic];
  }

  members(): { nonStandby: number[]; standby: number[] } {
    return { nonStandby: [...this.nonStandby], standby: [...this.standby] };
  }

  /** Sets where busy() comes from (the data plane's recent per-bucket activity). */
  setBusy(busy: (bucket: number) => boolean): void {
    this.busy = busy;
  }

  /** True when the bucket's home is active and another active NIC holds it. */
  isLent(b: number): boolean {
    const h = this.home[b];
    return h !== NO_NIC && this.active.has(h) && this.owner[b] !== h && this.owner[b] !== NO_NIC;
  }

  lentCount(): number {
    let n = 0;
    for (let b = 0; b < BUCKET_COUNT; b++) if (this.isLent(b)) n++;
    return n;
  }

  activate(nic: number): number[] {
    if (this.active.has(nic)) return [];
    const changed: number[] = [];
    const first = this.active.size === 0;
    const newcomer = !first && !this.wasActive.has(nic);
    this.active.add(nic);
    this.wasActive.add(nic);
    for (let b = 0; b < BUCKET_COUNT; b++) {
      if (this.owner[b] === nic || !(first || this.home[b] === nic)) continue;
      if (newcomer && this.busy(b)) continue;
      this.move(b, nic, changed);
    }
    if (!first) this.takeDisplaced(nic, changed);
    return sortedUnique(changed);
  }

  deactivate(nic: number): number[] {
    if (!this.active.has(nic)) return [];
    this.active.delete(nic);
    const changed: number[] = [];
    for (let b = 0; b < BUCKET_COUNT; b++) {
      if (this.owner[b] !== nic) continue;
      const h = this.home[b];
      this.move(b, h !== NO_NIC && this.active.has(h) ? h : this.leastLoaded(), changed);
    }
    return changed;
  }

  /** Gives lent buckets that are idle now to their homes. */
  handOver(): number[] {
    const changed: number[] = [];
    for (let b = 0; b < BUCKET_COUNT; b++) {
      if (this.isLent(b) && !this.busy(b)) this.move(b, this.home[b], changed);
    }
    return changed;
  }

  /** Replaces the configured members; NICs no longer configured are deactivated first. */
  setMembers(nonStandbyIds: readonly number[], standbyIds: readonly number[]): number[] {
    const changed: number[] = [];
    const configured = new Set([...nonStandbyIds, ...standbyIds]);
    for (const nic of [...this.active]) {
      if (!configured.has(nic)) changed.push(...this.deactivate(nic));
    }
    for (const nic of [...this.wasActive]) if (!configured.has(nic)) this.wasActive.delete(nic);
    this.nonStandby = [...nonStandbyIds];
    this.standby = [...standbyIds];
    const homesBefore = Uint8Array.from(this.home);
    this.computeHomes();
    for (let b = 0; b < BUCKET_COUNT; b++) {
      const h = this.home[b];
      if (h === NO_NIC || !this.active.has(h) || this.owner[b] === h) continue;
      // A running flow on a healthy NIC stays; it goes to its new home once idle.
      if (h !== homesBefore[b] && this.active.has(this.owner[b]) && this.busy(b)) continue;
      this.move(b, h, changed);
    }
    return sortedUnique(changed);
  }

  private computeHomes(): void {
    for (let b = 0; b < BUCKET_COUNT; b++) {
      let best = NO_NIC;
      let bestW = -1;
      for (const nic of this.nonStandby) {
        const w = rendezvousWeight(b, nic);
        if (w > bestW || (w === bestW && nic > best)) {
          best = nic;
          bestW = w;
        }
      }
      this.home[b] = best;
    }
  }

  private isDisplaced(b: number): boolean {
    const h = this.home[b];
    return h === NO_NIC || !this.active.has(h);
  }

  /** Moves displaced buckets from the most-loaded holders to nic until within 1 of them. */
  private takeDisplaced(nic: number, changed: number[]): void {
    for (;;) {
      const donor = this.mostLoadedDisplacedHolder(nic);
      if (donor === NO_NIC || this.load[donor] <= this.load[nic] + 1) return;
      for (let b = BUCKET_COUNT - 1; b >= 0; b--) {
        if (this.owner[b] === donor && this.isDisplaced(b)) {
          this.move(b, nic, changed);
          break;
        }
      }
    }
  }

  private mostLoadedDisplacedHolder(except: number): number {
    const holders = new Set<number>();
    for (let b = 0; b < BUCKET_COUNT; b++) {
      if (this.owner[b] !== except && this.owner[b] !== NO_NIC && this.isDisplaced(b)) holders.add(this.owner[b]);
    }
    let best = NO_NIC;
    for (const nic of this.active) {
      if (holders.has(nic) && (best === NO_NIC || this.load[nic] > this.load[best])) best = nic;
    }
    return best;
  }

  /** The active NIC with the fewest buckets, earliest activated on ties; NO_NIC when none. */
  private leastLoaded(): number {
    let best = NO_NIC;
    for (const nic of this.active) {
      if (best === NO_NIC || this.load[nic] < this.load[best]) best = nic;
    }
    return best;
  }

  private move(b: number, to: number, changed: number[]): void {
    const from = this.owner[b];
    if (from === to) return;
    if (from !== NO_NIC) this.load[from]--;
    if (to !== NO_NIC) this.load[to]++;
    this.owner[b] = to;
    changed.push(b);
  }
}

function sortedUnique(xs: number[]): number[] {
  return [...new Set(xs)].sort((a, b) => a - b);
}
