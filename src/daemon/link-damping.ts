/**
 * Flap damping for one group's NICs at run time: a LinkDetector per NIC (src/control/detectors/
 * link.ts decides), the clock, the log line, and the timer that re-checks a NIC whose link-up
 * was refused for repair. When the re-check allows repair, `stable(slot)` is called so the
 * state machine can repair the NIC (EventKind.LINK_STABLE).
 */
import { LinkDetector } from '../control/detectors/link.js';

export interface LinkDampingDeps {
  /** Monotonic clock (ns). */
  now(): number;
  log(text: string): void;
  /** True when the NIC in this slot has probing enabled (damping does not apply then). */
  probing(slot: number): boolean;
  /** The NIC's link has been up long enough: it may be repaired now. */
  stable(slot: number): void;
}

export class LinkDamping {
  private readonly detectors = new Map<number, LinkDetector>();
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly deps: LinkDampingDeps) {}

  private detector(slot: number, name: string): LinkDetector {
    let d = this.detectors.get(slot);
    if (!d || d.ifname !== name) {
      d = new LinkDetector(name);
      this.detectors.set(slot, d);
    }
    return d;
  }

  /** The link went down. */
  linkDown(slot: number, name: string): void {
    this.cancel(slot);
    this.detector(slot, name).onLinkDown(this.deps.now());
  }

  /** The link came up: true when this up may repair the NIC. */
  linkUp(slot: number, name: string): boolean {
    const d = this.detector(slot, name).onLinkUp(this.deps.now(), this.deps.probing(slot));
    if (d.log) this.deps.log(d.log);
    if (!d.repairAllowed && d.recheckAtNs !== undefined) this.schedule(slot, d.recheckAtNs);
    return d.repairAllowed;
  }

  /** The NIC left the group or its device vanished: its history goes with it. */
  forget(slot: number): void {
    this.cancel(slot);
    this.detectors.delete(slot);
  }

  stop(): void {
    this.stopped = true;
    for (const slot of [...this.timers.keys()]) this.cancel(slot);
  }

  private cancel(slot: number): void {
    const t = this.timers.get(slot);
    if (t) clearTimeout(t);
    this.timers.delete(slot);
  }

  private schedule(slot: number, atNs: number): void {
    this.cancel(slot);
    if (this.stopped) return;
    const delayMs = Math.max(0, Math.ceil((atNs - this.deps.now()) / 1e6));
    const t = setTimeout(() => {
      this.timers.delete(slot);
      const det = this.detectors.get(slot);
      if (!det || this.stopped) return;
      const d = det.recheck(this.deps.now(), this.deps.probing(slot));
      if (d.log) this.deps.log(d.log);
      if (d.repairAllowed) this.deps.stable(slot);
      else if (d.recheckAtNs !== undefined) this.schedule(slot, d.recheckAtNs);
    }, delayMs);
    t.unref();
    this.timers.set(slot, t);
  }
}
