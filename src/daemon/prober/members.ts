/**
 * The probing members of a group inside the probe worker: per NIC its IPv4 and IPv6
 * instances (null where the family does not probe), made each other's peer so a NIC fails
 * only when every probe-capable family fails (reference §4.5). Also answers what the
 * instances ask about the group: is a frame from one of our NICs, is an address one of our
 * test addresses, and what a failure fact says about the other members.
 */
import { PR_LOST } from '../../control/detectors/probe-defs.js';
import { canonicalAddr } from '../../control/detectors/addr.js';
import type { FamilyTimes, ProbeFacts } from '../../control/failure-decision.js';
import { testAddrOf, type NicProbe, type NicProbeEnv } from './nic-probe.js';
import { NicProbe4 } from './nic-probe4.js';
import { NicProbe6 } from './nic-probe6.js';
import type { Family, ProberNic } from './messages.js';

export type Instance = NicProbe<number> | NicProbe<string>;

export interface Member {
  nic: ProberNic;
  v4: NicProbe4 | null;
  v6: NicProbe6 | null;
}

export class ProbeMembers {
  private readonly map = new Map<number, Member>();

  get(slot: number): Member | undefined {
    return this.map.get(slot);
  }

  *instances(): Generator<Instance> {
    for (const m of this.map.values()) {
      if (m.v4) yield m.v4;
      if (m.v6) yield m.v6;
    }
  }

  /** The packet sockets the instances hold. */
  fds(): number[] {
    return [...this.instances()].map((np) => np.fd).filter((fd) => fd >= 0);
  }

  /**
   * Brings the members in line with `list`: instances whose NIC, MAC or test address changed
   * are closed and made again (`open` opens one, or returns null when it cannot). Returns
   * the `slot/family` keys of the instances closed.
   */
  update(list: ProberNic[], env: NicProbeEnv, nowNs: number, open: <T extends Instance>(np: T) => T | null): string[] {
    const closed: string[] = [];
    const want = new Map(list.map((n) => [n.slot, n]));
    for (const [slot, m] of this.map) {
      const n = want.get(slot);
      for (const f of [4, 6] as const) {
        const np = f === 4 ? m.v4 : m.v6;
        if (!np || (n && np.sameAs(n))) continue;
        np.close();
        if (f === 4) m.v4 = null; else m.v6 = null;
        closed.push(`${slot}/${f}`);
      }
      if (n) m.nic = n;
      else this.map.delete(slot);
    }
    for (const n of list) {
      let m = this.map.get(n.slot);
      if (!m) {
        m = { nic: n, v4: null, v6: null };
        this.map.set(n.slot, m);
      }
      if (!m.v4 && n.testAddress) m.v4 = open(new NicProbe4(n, n.testAddress, env, nowNs));
      if (!m.v6 && n.testAddress6) m.v6 = open(new NicProbe6(n, n.testAddress6, env, nowNs));
      if (m.v4) m.v4.engine.peer = m.v6?.engine ?? null;
      if (m.v6) m.v6.engine.peer = m.v4?.engine ?? null;
    }
    return closed;
  }

  closeAll(): void {
    for (const np of this.instances()) np.close();
    this.map.clear();
  }

  /** True when the 6-byte MAC at b[off] is one of the members' (a frame looped back through the switch). */
  isOwnMac(b: Uint8Array, off: number): boolean {
    for (const m of this.map.values()) {
      const mac = m.nic.mac;
      if (mac[0] === b[off] && mac[1] === b[off + 1] && mac[2] === b[off + 2] && mac[3] === b[off + 3]
        && mac[4] === b[off + 4] && mac[5] === b[off + 5]) return true;
    }
    return false;
  }

  /** True for a canonical address that is a member's test address of that family. */
  isOwnAddress(family: Family, a: string): boolean {
    for (const m of this.map.values()) {
      const t = testAddrOf(m.nic, family);
      if (t && canonicalAddr(family, t.address) === a) return true;
    }
    return false;
  }

  /** The failing NIC's first lost probe per family, and every other member's last ack per family. */
  factsFor(slot: number): ProbeFacts {
    const m = this.map.get(slot);
    const first = (np: Instance | null | undefined): number | null => {
      if (!np || np.engine.lossRun() === 0) return null;
      return np.engine.ring.run(PR_LOST).oldest?.startNs ?? null;
    };
    const lastSuccessNs = new Map<number, FamilyTimes>();
    for (const [s, o] of this.map) {
      if (s === slot) continue;
      const v4 = o.v4?.engine.lastSuccessNs ?? null;
      const v6 = o.v6?.engine.lastSuccessNs ?? null;
      if (v4 !== null || v6 !== null) lastSuccessNs.set(s, { v4, v6 });
    }
    return { firstFailureNs: { v4: first(m?.v4), v6: first(m?.v6) }, lastSuccessNs };
  }
}
