/**
 * IPv6 probing on one NIC (reference §3, §4): ICMPv6 echo probes from the NIC's link-local
 * test address (hop limit 1) to link-local targets, with this instance's own Neighbour
 * Discovery, since the host stack is kept off the NIC.
 *
 *   NS for the test address        → solicited NA (S, O) with this NIC's MAC, to the soliciter
 *   NS / NA from a tracked target  → learn its MAC (link-layer option, else the frame source)
 *   echo reply to the test address with our id, from a link-local → engine.onReply
 *   a target without a MAC         → NS from the test address to its solicited-node group
 *   PROBE_MULTI                    → ff02::1 at 33:33:00:00:00:01
 *
 * The socket joins the test address's solicited-node group, so a NIC that filters multicast
 * still hears the neighbours' solicitations for it. Checksums cover the IPv6 pseudo-header.
 *
 * Before the test address is used, duplicate address detection (RFC 4862, one probe) runs
 * when the worker asks for it (startDad): one NS from :: with a nonce (RFC 7527), then a
 * window in which the test address is tentative: it is not answered for and not probed
 * from. An NA for it, or another node's DAD probe for it (a nonce not ours), makes it a
 * duplicate: it is never probed from (the worker logs it and stops this family's probing).
 */
import type { ProbeAction, SendAction } from '../../control/detectors/probe-defs.js';
import { PROBE_MULTI } from '../../control/detectors/probe-defs.js';
import { assemble } from '../../dataplane/bpf.js';
import { ETH_HLEN, ETH_SRC, ETHERTYPE_IPV6, macToString } from '../../wire/ethernet.js';
import { buildIcmp6ProbeFrame, checkProbeReply6, ICMPV6_ECHO_REPLY, readProbeFields } from '../../wire/icmp.js';
import {
  ALL_NODES6, ALL_NODES_MAC, NA_FLAG_OVERRIDE, NA_FLAG_SOLICITED, ND_LL_LEN, ND_NEIGHBOR_ADVERT, ND_NEIGHBOR_SOLICIT,
  ND_NONCE_LEN, ND_OPT_SOURCE_LINKADDR, ND_OPT_TARGET_LINKADDR, buildNeighborSolicit, ndFindLinkLayerOpt, ndFindNonce,
  ndTargetOffset, validateNd, writeDadSolicit, writeNeighborAdvertInPlace,
} from '../../wire/icmp6-nd.js';
import { randomFillSync } from 'node:crypto';
import {
  IPV6_DST, IPV6_HLEN, IPV6_SRC, ipv6Equals, ipv6ToString, isLinkLocal6, isUnspecified6, parseIpv6, solicitedNodeMac,
  validateIpv6,
} from '../../wire/ipv6.js';
import { IPPROTO_ICMPV6 } from '../../wire/l4.js';
import { NicProbe, type NicProbeEnv, type RecvClock } from './nic-probe.js';
import type { ProberNic, TestAddr } from './messages.js';

/** IPv6 carrying ICMPv6 directly (no extension headers), not addressed to another host. */
export function probe6SocketFilter(): Uint8Array {
  const LD_H = 0x28, LD_B = 0x30, LD_W = 0x20, JEQ = 0x15, RET = 0x06;
  const PKTTYPE = (-0x1000 + 4) >>> 0;
  return assemble([
    [LD_H, 0, 0, 12],
    [JEQ, 0, 5, ETHERTYPE_IPV6],
    [LD_B, 0, 0, ETH_HLEN + 6],
    [JEQ, 0, 3, IPPROTO_ICMPV6],
    [LD_W, 0, 0, PKTTYPE],
    [JEQ, 1, 0, 3],
    [RET, 0, 0, 0xffff],
    [RET, 0, 0, 0],
  ]);
}

const IP6 = ETH_HLEN;
const ICMP6 = ETH_HLEN + IPV6_HLEN;

export class NicProbe6 extends NicProbe<string> {
  /** The test address, 16 bytes. */
  readonly ip: Uint8Array;
  protected readonly allNodesMac = ALL_NODES_MAC;
  /** Duplicate address detection of the test address: 'ok' when it passed or did not run. */
  dad: 'tentative' | 'ok' | 'duplicate' = 'ok';
  /** End of the DAD window (monotonic ns). */
  dadUntilNs = 0;
  /** MAC of the node found holding the test address ('' while none). */
  dupMac = '';
  private readonly nonce = randomFillSync(new Uint8Array(ND_NONCE_LEN));

  constructor(nic: ProberNic, testAddr: TestAddr, env: NicProbeEnv, nowNs: number) {
    super(6, nic, testAddr, env, nowNs);
    this.ip = parseIpv6(this.ipText);
  }

  /**
   * Starts duplicate address detection of the test address: probing stops until the window of
   * windowNs ends (finishDad), and one DAD probe goes out.
   */
  startDad(nowNs: number, windowNs: number): void {
    this.dad = 'tentative';
    this.dupMac = '';
    this.dadUntilNs = nowNs + windowNs;
    this.engine.setEnabled(false, nowNs);
    const f = new Uint8Array(ETH_HLEN + IPV6_HLEN + ND_LL_LEN);
    if (this.fd >= 0) this.sendFrame(f, writeDadSolicit(f, 0, this.mac, 0, this.ip, 0, this.nonce, 0));
  }

  override finishDad(nowNs: number): boolean {
    if (this.dad !== 'tentative' || nowNs < this.dadUntilNs) return false;
    this.dad = this.dupMac === '' ? 'ok' : 'duplicate';
    return true;
  }

  override usable(): boolean {
    return this.dad === 'ok';
  }

  protected override listening(): boolean {
    return this.dad === 'tentative';
  }

  /** In the DAD window: an NA for the test address, or another node's DAD probe for it (frames from members never get here). */
  private onDadFrame(icmpLen: number): void {
    const b = this.rx;
    const target = ndTargetOffset(ICMP6);
    if (this.dupMac !== '' || !ipv6Equals(b, target, this.ip, 0)) return;
    if (b[ICMP6] === ND_NEIGHBOR_ADVERT) {
      const opt = ndFindLinkLayerOpt(b, ICMP6, icmpLen, ND_OPT_TARGET_LINKADDR);
      this.dupMac = macToString(b, opt >= 0 ? opt : ETH_SRC);
      return;
    }
    if (!isUnspecified6(b, IP6 + IPV6_SRC)) return;
    const n = ndFindNonce(b, ICMP6, icmpLen);
    if (n >= 0 && this.nonce.every((x, i) => b[n + i] === x)) return; // our own probe
    this.dupMac = macToString(b, ETH_SRC);
  }

  protected canonical(address: string): string {
    return ipv6ToString(parseIpv6(address));
  }

  protected socketFilter(): Uint8Array {
    return probe6SocketFilter();
  }

  protected keyOf(target: string): string {
    return target;
  }

  protected keyText(k: string): string {
    return k;
  }

  protected override afterOpen(): void {
    try {
      this.native.packetMembership(this.fd, this.ifindex, solicitedNodeMac(this.ip), true);
    } catch (e) {
      this.log('err', `probe socket on ${this.name}: cannot join the solicited-node group of ${this.ipText}: ${(e as Error).message}`);
    }
  }

  protected onFrame(type: number, len: number, nowNs: number, clock: RecvClock, out: ProbeAction[]): void {
    const b = this.rx;
    if (type !== ETHERTYPE_IPV6 || validateIpv6(b, IP6, len - IP6) < 0 || b[IP6 + 6] !== IPPROTO_ICMPV6) return;
    if (len < ICMP6 + 4) return;
    const t = b[ICMP6];
    if (this.dad !== 'ok') {
      if (this.dad === 'tentative' && (t === ND_NEIGHBOR_SOLICIT || t === ND_NEIGHBOR_ADVERT)) {
        const icmpLen = validateNd(b, IP6, len - IP6);
        if (icmpLen >= 0) this.onDadFrame(icmpLen);
      }
      return;
    }
    if (t === ND_NEIGHBOR_SOLICIT || t === ND_NEIGHBOR_ADVERT) this.onNd(len, nowNs);
    else if (t === ICMPV6_ECHO_REPLY) this.onEchoReply(len, nowNs, clock, out);
  }

  private onNd(len: number, nowNs: number): void {
    const b = this.rx;
    const icmpLen = validateNd(b, IP6, len - IP6);
    if (icmpLen < 0) return;
    const target = ndTargetOffset(ICMP6);
    if (b[ICMP6] === ND_NEIGHBOR_ADVERT) {
      const opt = ndFindLinkLayerOpt(b, ICMP6, icmpLen, ND_OPT_TARGET_LINKADDR);
      if (!ipv6Equals(b, target, this.ip, 0)) this.neigh.learn(ipv6ToString(b, target), b, opt >= 0 ? opt : ETH_SRC, nowNs);
      return;
    }
    const opt = ndFindLinkLayerOpt(b, ICMP6, icmpLen, ND_OPT_SOURCE_LINKADDR);
    const fromUnspecified = isUnspecified6(b, IP6 + IPV6_SRC);
    if (!fromUnspecified && opt >= 0) this.neigh.learn(ipv6ToString(b, IP6 + IPV6_SRC), b, opt, nowNs);
    if (!ipv6Equals(b, target, this.ip, 0) || ipv6Equals(b, IP6 + IPV6_SRC, this.ip, 0)) return;
    if (!this.mayAnswer(b, opt >= 0 ? opt : ETH_SRC, IP6 + IPV6_SRC + 12, nowNs)) return;
    // Duplicate address detection by someone else gets the answer at all-nodes (RFC 4861 §7.2.4).
    const flen = fromUnspecified
      ? writeNeighborAdvertInPlace(this.tx, 0, this.mac, 0, this.ip, 0, ALL_NODES_MAC, 0, ALL_NODES6, 0, NA_FLAG_OVERRIDE)
      : writeNeighborAdvertInPlace(this.tx, 0, this.mac, 0, this.ip, 0, b, opt >= 0 ? opt : ETH_SRC,
        b, IP6 + IPV6_SRC, NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE);
    if (this.sendFrame(this.tx, flen)) this.counters.solicitsAnswered++;
  }

  private onEchoReply(len: number, nowNs: number, clock: RecvClock, out: ProbeAction[]): void {
    const b = this.rx;
    const icmp = checkProbeReply6(b, IP6, len - IP6);
    if (icmp < 0 || !ipv6Equals(b, IP6 + IPV6_DST, this.ip, 0)) return;
    const f = readProbeFields(b, icmp, len - icmp);
    if (f === null || f.id !== this.icmpId) return;
    const from = ipv6ToString(b, IP6 + IPV6_SRC);
    if (!isLinkLocal6(b, IP6 + IPV6_SRC)) {
      this.log('info', `ICMPv6 echo reply source address not linklocal from ${from} on ${this.name}`);
      return;
    }
    this.neigh.learn(from, b, ETH_SRC, nowNs);
    this.counters.replies++;
    const acts = this.engine.onReply({
      seq: f.seq, mtype: f.mtype, from, sentTimestampNs: Number(f.timestampNs),
      kernelRecvNs: this.kernelNs(nowNs, clock), processedNs: nowNs,
    });
    for (const x of acts) out.push(x);
  }

  protected sendSolicit(target: string): boolean {
    return this.sendFrame(buildNeighborSolicit(this.mac, this.ip, parseIpv6(target)));
  }

  protected probeFrame(dstMac: Uint8Array, a: SendAction): Uint8Array {
    const dst = a.mtype === PROBE_MULTI ? ALL_NODES6 : parseIpv6(a.target);
    return buildIcmp6ProbeFrame(dstMac, this.mac, this.ip, dst, this.icmpId, a.seq, BigInt(Math.round(a.startNs)), a.mtype);
  }
}
