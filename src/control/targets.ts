/**
 * Probe targets of one NIC instance (one address family).
 *
 * - A list holds either routers (next hops of routes, plus pinned targets from the
 *   configuration, which count as routers that never disappear) or hosts (responders to
 *   the all-hosts echo). A router always evicts the hosts; a host never joins a router list.
 * - New targets go to the head of the list. At most MAX_PROBE_TARGETS are ACTIVE; extra
 *   routers are UNUSED. Probes rotate over the ACTIVE ones in list order.
 * - When the cursor passes a target: a DEAD or SLOW one steps up (DEAD→SLOW→UNUSED) once
 *   60 s have passed since it was marked; an UNUSED one becomes ACTIVE when fewer than
 *   MAX_PROBE_TARGETS are active.
 * - When no active router is left, up to MIN_PROBE_TARGETS of the others are activated,
 *   best first: UNUSED, recovered SLOW, SLOW, recovered DEAD, DEAD.
 * - Routers that leave the routing table are deleted, except while the group is FAILED.
 */

import { canonicalAddr, inSubnet, isLinkLocalV6, isUnspecified, type Family } from './detectors/addr.js';
import { RttEstimator } from './detectors/rtt.js';
import { MIN_PROBE_TARGETS } from './fdt.js';

export const MAX_PROBE_TARGETS = 5;
export const MIN_RECOVERY_TIME_NS = 60e9;

export const TG_ACTIVE = 1;
export const TG_SLOW = 2;
export const TG_UNUSED = 3;
export const TG_DEAD = 4;

export type TargetModeWord = 'routes' | 'multicast' | 'disabled';

export interface Target {
  address: string;
  status: number;
  /** Monotonic ns of the last status change. */
  sinceNs: number;
  rtt: RttEstimator;
  pinned: boolean;
}

/** One route: its next hop, and whether its output interface is the group's IPMP interface. */
export interface RouteNextHop {
  gateway: string;
  oifIsIpmp: boolean;
}

export interface TestAddress {
  address: string;
  prefixLen: number;
}

export class TargetList {
  list: Target[] = [];
  areRouters = false;
  testAddr: TestAddress | null = null;
  private cursor: Target | null = null;
  private rttCursor: Target | null = null;

  /** `isOwnAddress` answers for canonical address text of this family. */
  constructor(
    readonly family: Family,
    private readonly isOwnAddress: (addr: string) => boolean = () => false,
  ) {}

  get activeCount(): number {
    let n = 0;
    for (const t of this.list) if (t.status === TG_ACTIVE) n++;
    return n;
  }

  get active(): Target[] {
    return this.list.filter((t) => t.status === TG_ACTIVE);
  }

  lookup(addr: string): Target | undefined {
    const a = canonicalAddr(this.family, addr);
    return this.list.find((t) => t.address === a);
  }

  /**
   * Canonical text of `addr` when it may be a target here: parses, is specified, is neither
   * our test address nor another own address, and lies in the test subnet.
   */
  acceptable(addr: string): string | null {
    const a = canonicalAddr(this.family, addr);
    if (a === null || this.testAddr === null || isUnspecified(this.family, a)) return null;
    if (this.isOwnAddress(a) || a === canonicalAddr(this.family, this.testAddr.address)) return null;
    if (!inSubnet(this.family, a, this.testAddr.address, this.testAddr.prefixLen)) return null;
    return a;
  }

  /** The next hops of `routes` that qualify as router targets on this instance. */
  routerCandidates(routes: RouteNextHop[]): string[] {
    const out: string[] = [];
    for (const r of routes) {
      if (this.family === 6 && (!isLinkLocalV6(r.gateway) || !r.oifIsIpmp)) continue;
      const a = this.acceptable(r.gateway);
      if (a !== null && !out.includes(a)) out.push(a);
    }
    return out;
  }

  /**
   * Re-reads the router targets from the routing table plus the pinned targets.
   * Returns true when the list changed.
   */
  refreshRouters(routes: RouteNextHop[], pinned: string[], groupFailed: boolean, nowNs: number): boolean {
    const fromRoutes = this.routerCandidates(routes);
    const pins = pinned.map((p) => this.acceptable(p)).filter((p): p is string => p !== null);
    const wanted = [...new Set([...fromRoutes, ...pins])];
    let changed = false;
    if (wanted.length > 0 && !this.areRouters) {
      changed = this.list.length > 0;
      this.clear();
      this.areRouters = true;
    }
    for (const a of wanted) {
      const existing = this.list.find((t) => t.address === a);
      if (existing) existing.pinned = pins.includes(a);
      else {
        this.insert(a, pins.includes(a), nowNs);
        changed = true;
      }
    }
    if (this.areRouters && !groupFailed) {
      for (const t of [...this.list]) {
        if (t.pinned || wanted.includes(t.address)) continue;
        this.delete(t, nowNs);
        changed = true;
      }
    }
    return changed;
  }

  /** Adds a responder to the all-hosts echo; returns its canonical text when added. */
  addHost(addr: string, nowNs: number): string | null {
    if (this.list.length > 0 && (this.areRouters || this.list.length >= MAX_PROBE_TARGETS)) return null;
    const a = this.acceptable(addr);
    if (a === null || this.list.some((t) => t.address === a)) return null;
    this.insert(a, false, nowNs);
    return a;
  }

  /** Copies the host targets of another member when this one has none. */
  copyHostsFrom(other: TargetList, nowNs: number): void {
    if (this.list.length > 0 || other.areRouters) return;
    for (let i = other.list.length - 1; i >= 0; i--) this.addHost(other.list[i]!.address, nowNs);
  }

  /** Drops a host list (the group failed); router lists are kept. */
  flushHosts(): void {
    if (!this.areRouters) this.clear();
  }

  clear(): void {
    this.list = [];
    this.areRouters = false;
    this.cursor = null;
    this.rttCursor = null;
  }

  delete(t: Target, nowNs: number): void {
    const i = this.list.indexOf(t);
    if (i < 0) return;
    const wasActive = t.status === TG_ACTIVE;
    t.status = TG_UNUSED;
    this.moveCursorsOff(t, nowNs);
    this.list.splice(i, 1);
    if (this.list.length === 0) this.clear();
    else if (wasActive) this.activateIfNone(nowNs);
  }

  /** A router that stopped answering while other targets answer. */
  markDead(t: Target, nowNs: number): void {
    this.demote(t, TG_DEAD, nowNs);
  }

  /** A router much slower than the others; its RTT state starts over. */
  markSlow(t: Target, nowNs: number): void {
    t.rtt.reset();
    this.demote(t, TG_SLOW, nowNs);
  }

  /** Forgets every target's RTT (the NIC failed). */
  resetRtt(): void {
    for (const t of this.list) t.rtt.reset();
  }

  /** The target for the next failure-detection probe; advances both cursors. */
  takeNext(nowNs: number): Target | null {
    if (this.cursor === null || this.cursor.status !== TG_ACTIVE) this.cursor = this.firstActive(nowNs);
    const t = this.cursor;
    if (t === null) return null;
    this.cursor = this.after(t, nowNs);
    this.rttCursor = this.cursor;
    return t;
  }

  /** The target for the next PROBE_RTT; advances the RTT cursor only. */
  takeNextRtt(nowNs: number): Target | null {
    if (this.rttCursor === null || this.rttCursor.status !== TG_ACTIVE) this.rttCursor = this.firstActive(nowNs);
    const t = this.rttCursor;
    if (t !== null) this.rttCursor = this.after(t, nowNs);
    return t;
  }

  /** The MODE word of `ipmpstat -t`. */
  mode(probingEnabled: boolean): TargetModeWord {
    if (!probingEnabled) return 'disabled';
    return this.areRouters ? 'routes' : 'multicast';
  }

  /** Active targets in firing order, starting at the next one to be probed. */
  firingOrder(): string[] {
    const act = this.active;
    const start = this.cursor && this.cursor.status === TG_ACTIVE ? act.indexOf(this.cursor) : 0;
    return [...act.slice(start), ...act.slice(0, start)].map((t) => t.address);
  }

  private insert(address: string, pinned: boolean, nowNs: number): Target {
    const status = this.activeCount < MAX_PROBE_TARGETS ? TG_ACTIVE : TG_UNUSED;
    const t: Target = { address, status, sinceNs: nowNs, rtt: new RttEstimator(), pinned };
    this.list.unshift(t);
    return t;
  }

  private demote(t: Target, status: number, nowNs: number): void {
    if (!this.list.includes(t)) return;
    t.status = status;
    t.sinceNs = nowNs;
    this.moveCursorsOff(t, nowNs);
    this.activateIfNone(nowNs);
  }

  private moveCursorsOff(t: Target, nowNs: number): void {
    if (this.cursor === t) this.cursor = this.after(t, nowNs, true);
    if (this.rttCursor === t) this.rttCursor = this.after(t, nowNs, true);
  }

  private activateIfNone(nowNs: number): void {
    if (!this.areRouters || this.activeCount > 0) return;
    const rank = (t: Target): number => {
      const recovered = nowNs - t.sinceNs >= MIN_RECOVERY_TIME_NS;
      if (t.status === TG_UNUSED) return 0;
      if (t.status === TG_SLOW) return recovered ? 1 : 2;
      return recovered ? 3 : 4;
    };
    const best = [...this.list].sort((a, b) => rank(a) - rank(b)).slice(0, MIN_PROBE_TARGETS);
    for (const t of best) {
      t.status = TG_ACTIVE;
      t.sinceNs = nowNs;
    }
  }

  private firstActive(nowNs: number): Target | null {
    const last = this.list[this.list.length - 1];
    return last ? this.after(last, nowNs) : null;
  }

  /** The next ACTIVE target after `t` in list order (wrapping), promoting on the way. */
  private after(t: Target, nowNs: number, skipSelf = false): Target | null {
    const n = this.list.length;
    const at = this.list.indexOf(t);
    for (let k = 1; k <= n; k++) {
      const c = this.list[(at + k + n) % n]!;
      if (c === t && skipSelf) continue;
      this.promote(c, nowNs);
      if (c.status === TG_ACTIVE) return c;
    }
    return null;
  }

  private promote(t: Target, nowNs: number): void {
    if ((t.status === TG_DEAD || t.status === TG_SLOW) && nowNs - t.sinceNs >= MIN_RECOVERY_TIME_NS) {
      t.status = t.status === TG_DEAD ? TG_SLOW : TG_UNUSED;
      t.sinceNs = nowNs;
    }
    if (t.status === TG_UNUSED && this.activeCount < MAX_PROBE_TARGETS) {
      t.status = TG_ACTIVE;
      t.sinceNs = nowNs;
    }
  }
}
