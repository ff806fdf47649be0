/**
 * IPv4 probing on one NIC, inside the probe worker: its own packet socket, the ARP
 * responder for its test address, target MAC resolution, probe frames out and echo
 * replies in. The group logic (engine actions, facts, other members) lives in the worker.
 *
 *   socket (ARP + IPv4 ICMP, not for other hosts) → drain →
 *     ARP: learn targets' MACs; answer who-has <test address> with this NIC's MAC
 *     ICMP echo reply to the test address with our id → engine.onReply
 *   engine SEND → MAC (ARP cache, or 01:00:5e:00:00:01 for PROBE_MULTI) → frame → send
 *
 * The host stack never sees these frames (ingress drops them after the packet taps).
 */
import type { NativeAddon } from '../../io/native.js';
import { E } from '../../io/native.js';
import { assemble } from '../../dataplane/bpf.js';
import { IcmpProbeEngine } from '../../control/detectors/icmp-probe.js';
import { PROBE_MULTI, probeIcmpId, type ProbeAction, type SendAction } from '../../control/detectors/probe-defs.js';
import type { GroupFdt } from '../../control/fdt.js';
import { TargetList } from '../../control/targets.js';
import { ARP_OP_REQUEST, ARP_SHA, arpOp, arpSpa, arpTpa, buildArpRequest, validateArp, writeArpReplyInPlace } from '../../wire/arp.js';
import { rd16 } from '../../wire/bytes.js';
import { ETH_HLEN, ETH_SRC, ETHERTYPE_ARP, ETHERTYPE_IPV4 } from '../../wire/ethernet.js';
import { buildIcmpProbeFrame4, checkProbeReply4, readProbeFields } from '../../wire/icmp.js';
import { ipv4Dst, ipv4Src, ipv4ToString, parseIpv4 } from '../../wire/ipv4.js';
import { ArpCache } from './arp-cache.js';
import type { ProberNic } from './messages.js';

const ALL_HOSTS_MAC = new Uint8Array([0x01, 0x00, 0x5e, 0x00, 0x00, 0x01]);
const RX_BUF = 2048;
/** Frames read per readable event before yielding to the loop. */
const DRAIN_MAX = 256;
const SOCKBUF_BYTES = 256 * 1024;

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

/** Maps kernel receive times (CLOCK_REALTIME) onto the monotonic clock. */
export class RecvClock {
  private corrMs = 0;

  /** Wall-clock ms with sub-ms precision, re-aligned to Date.now() when they drift apart. */
  wallMs(): number {
    const est = performance.timeOrigin + performance.now() + this.corrMs;
    const d = Date.now() - est;
    if (d > 2 || d < -2) this.corrMs += d;
    return performance.timeOrigin + performance.now() + this.corrMs;
  }

  /** Monotonic ns of a kernel timestamp, given the monotonic and wall time now. */
  toMono(tsRealNs: bigint, nowMonoNs: number, nowWallMs: number): number {
    if (tsRealNs === 0n) return nowMonoNs;
    const delayNs = (nowWallMs - Number(tsRealNs) / 1e6) * 1e6;
    if (!(delayNs >= 0) || delayNs > 10e9) return nowMonoNs;
    return nowMonoNs - delayNs;
  }
}

export interface NicProbeCounters {
  rxFrames: number;
  arpRequestsAnswered: number;
  arpRequestsSent: number;
  probesSent: number;
  probesUnresolved: number;
  sendErrors: number;
  replies: number;
}

export class NicProbe {
  readonly slot: number;
  readonly name: string;
  readonly ifindex: number;
  readonly mac: Uint8Array;
  readonly ip: number;
  readonly ipText: string;
  readonly prefixlen: number;
  readonly icmpId: number;
  readonly targets: TargetList;
  readonly engine: IcmpProbeEngine;
  readonly counters: NicProbeCounters = {
    rxFrames: 0, arpRequestsAnswered: 0, arpRequestsSent: 0, probesSent: 0, probesUnresolved: 0, sendErrors: 0, replies: 0,
  };
  fd = -1;
  private watchId = -1;
  private ipId = 0;
  private readonly arp = new ArpCache();
  private readonly rx = new Uint8Array(RX_BUF);
  private readonly tx = new Uint8Array(64);
  private readonly ts = new BigInt64Array(1);

  constructor(
    private readonly native: NativeAddon,
    readonly nic: ProberNic,
    group: GroupFdt,
    pid: number,
    nowNs: number,
    private readonly log: (level: 'err' | 'info' | 'debug', text: string) => void,
  ) {
    this.slot = nic.slot;
    this.name = nic.name;
    this.ifindex = nic.ifindex;
    this.mac = nic.mac.slice(0, 6);
    this.ip = parseIpv4(nic.testAddress.address);
    this.ipText = ipv4ToString(this.ip);
    this.prefixlen = nic.testAddress.prefixlen;
    this.icmpId = probeIcmpId(pid, nic.ifindex);
    this.targets = new TargetList(4);
    this.targets.testAddr = { address: this.ipText, prefixLen: this.prefixlen };
    this.engine = new IcmpProbeEngine({
      family: 4, ifname: nic.name, group, targets: this.targets, rand: Math.random, nowNs, linkUp: nic.linkUp ?? true,
    });
  }

  /** Opens the socket and starts watching it; `onReadable` runs on the worker's loop. */
  open(onReadable: () => void): void {
    this.fd = this.native.packetOpen(this.ifindex, {
      vnetHdr: false, rcvbuf: SOCKBUF_BYTES, sndbuf: SOCKBUF_BYTES, ignoreOutgoing: true,
      filter: probeSocketFilter(), nonblock: true,
    });
    this.native.setTimestamping(this.fd, true);
    this.watchId = this.native.watch(this.fd, onReadable);
  }

  close(): void {
    this.engine.dispose();
    if (this.watchId >= 0) this.native.unwatch(this.watchId);
    this.watchId = -1;
    if (this.fd >= 0) this.native.close(this.fd);
    this.fd = -1;
  }

  /** True when this NIC is the same kernel device with the same test address. */
  sameAs(n: ProberNic): boolean {
    return n.ifindex === this.ifindex && n.testAddress.address === this.nic.testAddress.address
      && n.testAddress.prefixlen === this.prefixlen && n.mac.length >= 6
      && n.mac.subarray(0, 6).every((x, i) => x === this.mac[i]);
  }

  /** Reads every queued frame; engine actions from replies go to `out`. */
  drain(nowNs: () => number, clock: RecvClock, out: ProbeAction[]): void {
    if (this.fd < 0) return;
    for (let i = 0; i < DRAIN_MAX; i++) {
      const n = this.native.recv(this.fd, this.rx, 0, RX_BUF, this.ts);
      if (n < 0) {
        if (n !== -E.EAGAIN && n !== -E.EINTR) this.log('debug', `probe socket on ${this.name}: ${this.native.strerror(n)}`);
        return;
      }
      this.counters.rxFrames++;
      if (n < ETH_HLEN) continue;
      const type = rd16(this.rx, 12);
      const now = nowNs();
      if (type === ETHERTYPE_ARP) this.onArp(n, now);
      else if (type === ETHERTYPE_IPV4) this.onIpv4(n, now, clock.toMono(this.ts[0], now, clock.wallMs()), out);
    }
  }

  private onArp(len: number, nowNs: number): void {
    const b = this.rx;
    const a = ETH_HLEN;
    if (validateArp(b, a, len - a) < 0) return;
    const spa = arpSpa(b, a);
    if (spa !== 0 && spa !== this.ip) this.arp.learn(spa, b, a + ARP_SHA, nowNs);
    if (arpOp(b, a) !== ARP_OP_REQUEST || arpTpa(b, a) !== this.ip || spa === this.ip) return;
    const flen = writeArpReplyInPlace(this.tx, 0, this.mac, 0, this.ip, b, a + ARP_SHA, spa);
    if (this.native.send(this.fd, this.tx, 0, flen) >= 0) this.counters.arpRequestsAnswered++;
    else this.counters.sendErrors++;
  }

  private onIpv4(len: number, nowNs: number, kernelNs: number, out: ProbeAction[]): void {
    const b = this.rx;
    const icmp = checkProbeReply4(b, ETH_HLEN, len - ETH_HLEN);
    if (icmp < 0 || ipv4Dst(b, ETH_HLEN) !== this.ip) return;
    const f = readProbeFields(b, icmp, len - icmp);
    if (f === null || f.id !== this.icmpId) return;
    const src = ipv4Src(b, ETH_HLEN);
    this.arp.learn(src, b, ETH_SRC, nowNs);
    this.counters.replies++;
    const acts = this.engine.onReply({
      seq: f.seq, mtype: f.mtype, from: ipv4ToString(src), sentTimestampNs: Number(f.timestampNs),
      kernelRecvNs: kernelNs, processedNs: nowNs,
    });
    for (const x of acts) out.push(x);
  }

  /** Tracks the MACs of the current targets and asks for the ones that are due. */
  resolveTargets(nowNs: number): void {
    const ips = new Set<number>();
    for (const t of this.targets.list) ips.add(parseIpv4(t.address));
    this.arp.retain(ips);
    for (const ip of ips) {
      this.arp.want(ip);
      if (this.engine.linkUp && this.arp.requestDue(ip, nowNs)) this.sendArpRequest(ip);
    }
  }

  private sendArpRequest(ip: number): void {
    if (this.fd < 0) return;
    const f = buildArpRequest(this.mac, this.ip, ip);
    if (this.native.send(this.fd, f, 0, f.length) >= 0) this.counters.arpRequestsSent++;
    else this.counters.sendErrors++;
  }

  /** Sends one probe. A unicast target without a known MAC gets an ARP request instead. */
  send(a: SendAction, nowNs: number): void {
    if (this.fd < 0) return;
    const dst = parseIpv4(a.target);
    let mac: Uint8Array | null = ALL_HOSTS_MAC;
    if (a.mtype !== PROBE_MULTI) {
      this.arp.want(dst);
      mac = this.arp.macOf(dst, nowNs);
      if (this.arp.requestDue(dst, nowNs)) this.sendArpRequest(dst);
      if (mac === null) {
        this.counters.probesUnresolved++;
        return;
      }
    }
    this.ipId = (this.ipId + 1) & 0xffff;
    const f = buildIcmpProbeFrame4(mac, this.mac, this.ip, dst, this.icmpId, a.seq, BigInt(Math.round(a.startNs)),
      a.mtype, this.ipId);
    const r = this.native.send(this.fd, f, 0, f.length);
    if (r >= 0 || r === -E.EAGAIN) this.counters.probesSent++;
    else {
      this.counters.sendErrors++;
      this.log('err', `probe: probe sendto: ${this.native.strerror(r)} on ${this.name}`);
    }
  }

  stats(): object {
    return {
      name: this.name, slot: this.slot, ifindex: this.ifindex, testaddr: `${this.ipText}/${this.prefixlen}`,
      icmpId: this.icmpId, linkUp: this.engine.linkUp, failed: this.engine.failed, probe: this.engine.stats,
      lossRun: this.engine.lossRun(), ackRun: this.engine.ackRun(),
      targets: this.targets.list.map((t) => ({
        address: t.address, status: t.status, crttMs: t.rtt.crtt / 1e6, pinned: t.pinned,
      })),
      routers: this.targets.areRouters,
      arp: this.arp.dump(ipv4ToString), counters: this.counters,
    };
  }
}
