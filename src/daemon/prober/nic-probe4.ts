/**
 * IPv4 probing on one NIC: ARP for the targets and for the test address, ICMP echo probes
 * from the test address (TTL 1), echo replies to it.
 *
 *   ARP: learn targets' MACs; answer who-has <test address> with this NIC's MAC
 *   ICMP echo reply to the test address with our id → engine.onReply
 *   PROBE_MULTI → 224.0.0.1 at 01:00:5e:00:00:01
 */
import { assemble } from '../../dataplane/bpf.js';
import type { ProbeAction, SendAction } from '../../control/detectors/probe-defs.js';
import { ARP_OP_REQUEST, ARP_SHA, ARP_SPA, arpOp, arpSpa, arpTpa, buildArpRequest, validateArp, writeArpReplyInPlace } from '../../wire/arp.js';
import { ETH_HLEN, ETH_SRC, ETHERTYPE_ARP, ETHERTYPE_IPV4 } from '../../wire/ethernet.js';
import { buildIcmpProbeFrame4, checkProbeReply4, readProbeFields } from '../../wire/icmp.js';
import { ipv4Dst, ipv4Src, ipv4ToString, parseIpv4 } from '../../wire/ipv4.js';
import { NicProbe, type NicProbeEnv, type RecvClock } from './nic-probe.js';
import type { ProberNic, TestAddr } from './messages.js';

const ALL_HOSTS_MAC = new Uint8Array([0x01, 0x00, 0x5e, 0x00, 0x00, 0x01]);

/** ARP, and IPv4 carrying ICMP, not addressed to another host. */
export function probeSocketFilter(): Uint8Array {
  const LD_H = 0x28, LD_B = 0x30, LD_W = 0x20, JEQ = 0x15, RET = 0x06;
  const PKTTYPE = (-0x1000 + 4) >>> 0;
  return assemble([
    [LD_H, 0, 0, 12],
    [JEQ, 3, 0, ETHERTYPE_ARP],
    [JEQ, 0, 5, ETHERTYPE_IPV4],
    [LD_B, 0, 0, ETH_HLEN + 9],
    [JEQ, 0, 3, 1],
    [LD_W, 0, 0, PKTTYPE],
    [JEQ, 1, 0, 3],
    [RET, 0, 0, 0xffff],
    [RET, 0, 0, 0],
  ]);
}

export class NicProbe4 extends NicProbe<number> {
  readonly ip: number;
  protected readonly allNodesMac = ALL_HOSTS_MAC;
  private ipId = 0;

  constructor(nic: ProberNic, testAddr: TestAddr, env: NicProbeEnv, nowNs: number) {
    super(4, nic, testAddr, env, nowNs);
    this.ip = parseIpv4(this.ipText);
  }

  protected canonical(address: string): string {
    return ipv4ToString(parseIpv4(address));
  }

  protected socketFilter(): Uint8Array {
    return probeSocketFilter();
  }

  protected keyOf(target: string): number {
    return parseIpv4(target);
  }

  protected keyText(k: number): string {
    return ipv4ToString(k);
  }

  protected onFrame(type: number, len: number, nowNs: number, clock: RecvClock, out: ProbeAction[]): void {
    if (type === ETHERTYPE_ARP) this.onArp(len, nowNs);
    else if (type === ETHERTYPE_IPV4) this.onIpv4(len, nowNs, clock, out);
  }

  private onArp(len: number, nowNs: number): void {
    const b = this.rx;
    const a = ETH_HLEN;
    if (validateArp(b, a, len - a) < 0) return;
    const spa = arpSpa(b, a);
    if (spa !== 0 && spa !== this.ip) this.neigh.learn(spa, b, a + ARP_SHA, nowNs);
    if (arpOp(b, a) !== ARP_OP_REQUEST || arpTpa(b, a) !== this.ip || spa === this.ip) return;
    if (!this.mayAnswer(b, a + ARP_SHA, a + ARP_SPA, nowNs)) return;
    const flen = writeArpReplyInPlace(this.tx, 0, this.mac, 0, this.ip, b, a + ARP_SHA, spa);
    if (this.sendFrame(this.tx, flen)) this.counters.solicitsAnswered++;
  }

  private onIpv4(len: number, nowNs: number, clock: RecvClock, out: ProbeAction[]): void {
    const b = this.rx;
    const icmp = checkProbeReply4(b, ETH_HLEN, len - ETH_HLEN);
    if (icmp < 0 || ipv4Dst(b, ETH_HLEN) !== this.ip) return;
    const f = readProbeFields(b, icmp, len - icmp);
    if (f === null || f.id !== this.icmpId) return;
    const src = ipv4Src(b, ETH_HLEN);
    this.neigh.learn(src, b, ETH_SRC, nowNs);
    this.counters.replies++;
    const acts = this.engine.onReply({
      seq: f.seq, mtype: f.mtype, from: ipv4ToString(src), sentTimestampNs: Number(f.timestampNs),
      kernelRecvNs: this.kernelNs(nowNs, clock), processedNs: nowNs,
    });
    for (const x of acts) out.push(x);
  }

  protected sendSolicit(ip: number): boolean {
    return this.sendFrame(buildArpRequest(this.mac, this.ip, ip));
  }

  protected probeFrame(dstMac: Uint8Array, a: SendAction): Uint8Array {
    this.ipId = (this.ipId + 1) & 0xffff;
    return buildIcmpProbeFrame4(dstMac, this.mac, this.ip, parseIpv4(a.target), this.icmpId, a.seq,
      BigInt(Math.round(a.startNs)), a.mtype, this.ipId);
  }
}
