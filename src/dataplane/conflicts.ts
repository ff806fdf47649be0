/**
 * What the RX worker does when a frame from a foreign MAC claims one of our
 * addresses (a gratuitous ARP, an ARP or NS sent from it, an NA for it):
 *
 *   count (drop reason `conflict`) → first claim on this address for
 *   CONFLICT_INTERVAL_MS? → defend: one gratuitous ARP (IPv4) or unsolicited
 *   NA with Override (IPv6) carrying our MAC, as on a rebind (reference §9.3)
 *   → report it to the control plane through the conflict ring, which logs it.
 *
 * Later claims on the same address within the interval are only counted, so
 * a flood of claims produces one defence and one log line per address per
 * interval (RFC 5227 §2.4 (c) defends at most once per 10 s), and at most
 * REPORT_BURST reports in a burst overall. The claim itself is never learnt.
 *
 * Another node's DAD probe (IPv6: NS from ::; IPv4: ARP probe, sender IP
 * 0.0.0.0) for a data address we hold tentative is not a claim to defend: it
 * means both nodes are trying the address (RFC 4862 §5.4.3, RFC 5227
 * §2.1.1), so it is reported (kind CK_DAD, with an IPv6 probe's nonce) for the
 * control plane's duplicate address detection. Reports on an address under
 * DAD (probes, and claims that may answer our own probes) are keyed apart and
 * limited to one per DAD_REPORT_INTERVAL_MS, so a claim reported shortly
 * before DAD started cannot hide the answer to its probes. No allocation.
 */
import { VNET_LEN } from './layout.js';
import { TableReader } from './table-reader.js';
import { Counters, D, X_DEFENCES } from '../tables/counters.js';
import { CK_DAD, CK_TEST, ConflictRing } from '../tables/conflicts.js';
import { NO_NIC } from '../tables/shared-tables.js';
import type { PacketPort } from '../io/ports.js';
import { ARP_OP_REQUEST, writeArpBody } from '../wire/arp.js';
import { rd32 } from '../wire/bytes.js';
import { BROADCAST_MAC, ETHERTYPE_ARP, writeEthHeader } from '../wire/ethernet.js';
import { ALL_NODES6, ALL_NODES_MAC, NA_FLAG_OVERRIDE, writeNeighborAdvertInPlace } from '../wire/icmp6-nd.js';

/** One defence and one report per address per interval (RFC 5227 DEFEND_INTERVAL). */
export const CONFLICT_INTERVAL_MS = 10_000;
/**
 * DAD probes for one address are reported at most this often: a node repeating
 * its probe (DupAddrDetectTransmits > 1, RetransTimer 1 s) has each probe seen
 * by a DAD window of ours that starts between two of them.
 */
export const DAD_REPORT_INTERVAL_MS = 500;
const GUARD_SLOTS = 64;
/** Reports overall: burst and refill per second. */
const REPORT_BURST = 8;
const REPORT_RATE = 1;
const WRAP = 0x7fffffff;
/** Family bits that key DAD probe reports, and claims on tentative addresses, apart from other claims. */
const DAD_KEY = 0x80;
const TENTATIVE_KEY = 0x40;

export class ConflictGuard {
  private readonly keys = new Uint8Array(GUARD_SLOTS * 16);
  private readonly family = new Uint8Array(GUARD_SLOTS);
  private readonly at = new Int32Array(GUARD_SLOTS);
  private reportTokens = REPORT_BURST;
  private reportStamp = 0;
  private readonly frame = new Uint8Array(VNET_LEN + 14 + 40 + 32);

  constructor(
    private readonly t: TableReader,
    private readonly counters: Counters,
    private readonly port: PacketPort,
    private readonly ring: ConflictRing | null,
  ) {}

  /**
   * A claim heard on NIC `nic` on the address (4 or 16 bytes at b[addrOff]) by
   * the MAC at b[macOff]. `owner` is the NIC slot whose MAC the address has
   * (the bound NIC of a data address, the NIC of a test address; NO_NIC when
   * unbound); `kind` is CK_DATA or CK_TEST; `tentative`: a data address under DAD.
   */
  claim(family: 4 | 6, b: Uint8Array, addrOff: number, macOff: number, nic: number, kind: number, owner: number,
    now: number, tentative = false): void {
    this.counters.drop(D.conflict);
    const first = tentative
      ? this.firstInInterval(family | TENTATIVE_KEY, b, addrOff, now, DAD_REPORT_INTERVAL_MS)
      : this.firstInInterval(family, b, addrOff, now, CONFLICT_INTERVAL_MS);
    if (!first) return;
    const defended = owner !== NO_NIC && this.defend(family, b, addrOff, kind, owner);
    this.ring?.write(family, b, addrOff, b, macOff, nic, kind, defended);
  }

  /**
   * Another node's DAD probe for the tentative data address at b[addrOff], sent
   * from the MAC at b[macOff]; `nonceOff` is the offset of its nonce bytes, or
   * negative when it carried none (always for IPv4). Counted as a conflict and
   * reported, never defended.
   */
  dadProbe(family: 4 | 6, b: Uint8Array, addrOff: number, macOff: number, nonceOff: number, nic: number, now: number): void {
    this.counters.drop(D.conflict);
    // Keyed apart from claims on the same address, so a claim cannot hide a probe.
    if (!this.firstInInterval(family | DAD_KEY, b, addrOff, now, DAD_REPORT_INTERVAL_MS)) return;
    this.ring?.write(family, b, addrOff, b, macOff, nic, CK_DAD, false, nonceOff >= 0 ? b : null, Math.max(0, nonceOff));
  }

  /** True (and remembered) when this address was not claimed within the interval and the overall budget allows. */
  private firstInInterval(family: number, b: Uint8Array, off: number, now: number, intervalMs: number): boolean {
    const n = (family & 0x3f) === 4 ? 4 : 16;
    let h = 0x811c9dc5 ^ family;
    for (let i = 0; i < n; i++) { h ^= b[off + i]; h = Math.imul(h, 0x01000193); }
    const s = ((h ^ (h >>> 15)) >>> 0) % GUARD_SLOTS;
    const k = this.keys;
    let same = this.family[s] === family;
    for (let i = 0; same && i < n; i++) if (k[s * 16 + i] !== b[off + i]) same = false;
    if (same && (now - this.at[s] + WRAP) % WRAP < intervalMs) return false;
    // Overall budget, so colliding or many addresses cannot turn a flood into a log flood.
    const dt = (now - this.reportStamp + WRAP) % WRAP;
    this.reportStamp = now;
    this.reportTokens = Math.min(REPORT_BURST, this.reportTokens + (dt * REPORT_RATE) / 1000);
    if (this.reportTokens < 1) return false;
    this.reportTokens -= 1;
    this.family[s] = family;
    for (let i = 0; i < 16; i++) k[s * 16 + i] = i < n ? b[off + i] : 0;
    this.at[s] = now;
    return true;
  }

  /**
   * Announces the address with our MAC: a data address through the nominee
   * (as the announcer does), a test address through its own NIC.
   */
  private defend(family: number, b: Uint8Array, addrOff: number, kind: number, owner: number): boolean {
    const t = this.t;
    const via = kind === CK_TEST || t.nominee === NO_NIC ? owner : t.nominee;
    if (via >= t.nicCount || !t.nicPresent[via] || t.nicFd[via] < 0) return false;
    const f = this.frame;
    f.fill(0, 0, VNET_LEN);
    let len: number;
    if (family === 4) {
      const ip = rd32(b, addrOff);
      writeEthHeader(f, VNET_LEN, BROADCAST_MAC, 0, t.nicMac, via * 6, ETHERTYPE_ARP);
      writeArpBody(f, VNET_LEN + 14, ARP_OP_REQUEST, t.nicMac, owner * 6, ip, BROADCAST_MAC, 0, ip);
      len = VNET_LEN + 42;
    } else {
      len = VNET_LEN + writeNeighborAdvertInPlace(f, VNET_LEN, t.nicMac, owner * 6, b, addrOff, ALL_NODES_MAC, 0,
        ALL_NODES6, 0, NA_FLAG_OVERRIDE);
      for (let j = 0; j < 6; j++) f[VNET_LEN + 6 + j] = t.nicMac[via * 6 + j];
    }
    if (this.port.send(t.nicFd[via], f, 0, len) < 0) { this.counters.drop(D.send_error); return false; }
    this.counters.extra(X_DEFENCES);
    return true;
  }
}
