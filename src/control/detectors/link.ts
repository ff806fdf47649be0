/**
 * Link detector with flap damping.
 *
 * Link state is a fact reported by netlink; this file only decides whether a link-up may
 * count towards repair. Damping applies only when no probing is enabled on either family:
 * a link-up is refused for repair when the older of the last LINK_UP_PERMIN recorded ups
 * is less than 60 s old (a third up within a minute). The refusal is logged once until a
 * repair is allowed again, and the caller re-checks at `recheckAtNs`.
 *
 * On link-up the repair decision is taken first and the up time recorded afterwards.
 */

export const LINK_UP_PERMIN = 2;
export const LINK_FLAP_WINDOW_NS = 60e9;

export interface LinkUpDecision {
  repairAllowed: boolean;
  /** When refused: the monotonic ns at which to call `recheck`. */
  recheckAtNs?: number;
  /** A line to log at LOG_ERR, at most once per unstable period. */
  log?: string;
}

export class LinkDetector {
  up = true;
  /** The last LINK_UP_PERMIN up times, oldest first. */
  private readonly upTimes: number[] = [];
  private warned = false;

  constructor(readonly ifname: string) {}

  /** The link went down at `nowNs`. */
  onLinkDown(_nowNs: number): void {
    this.up = false;
  }

  /** The link came up at `nowNs`; decides repair, then records the up time. */
  onLinkUp(nowNs: number, probingEnabled: boolean): LinkUpDecision {
    this.up = true;
    const decision = this.recheck(nowNs, probingEnabled);
    this.upTimes.push(nowNs);
    if (this.upTimes.length > LINK_UP_PERMIN) this.upTimes.shift();
    return decision;
  }

  /** Re-evaluates repair without recording an up (the timer path while damped). */
  recheck(nowNs: number, probingEnabled: boolean): LinkUpDecision {
    if (!this.up) return { repairAllowed: false };
    if (probingEnabled || this.upTimes.length < LINK_UP_PERMIN) return this.allowed();
    const oldest = this.upTimes[0]!;
    if (nowNs - oldest >= LINK_FLAP_WINDOW_NS) return this.allowed();
    const decision: LinkUpDecision = { repairAllowed: false, recheckAtNs: oldest + LINK_FLAP_WINDOW_NS };
    if (!this.warned) {
      this.warned = true;
      decision.log =
        `The link has come up on ${this.ifname} more than ${LINK_UP_PERMIN} times in the last minute; ` +
        'disabling repair until it stabilizes';
    }
    return decision;
  }

  private allowed(): LinkUpDecision {
    this.warned = false;
    return { repairAllowed: true };
  }
}
