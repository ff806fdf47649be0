/**
 * Probing on one NIC for one address family, inside the probe worker: its own packet
 * socket, the neighbour resolution of its targets, probe frames out and echo replies in.
 * The family parts (ARP or Neighbour Discovery, frame layouts, socket filter) live in the
 * subclasses NicProbe4 and NicProbe6; the group logic (engine actions, facts, the other
 * members) lives in the worker.
 *
 *   socket (the family's resolution and ICMP frames, not for other hosts) → drain →
 *     frames sent by a member of the group are ignored (they loop back through the switch)
 *     resolution: learn targets' MACs; answer for the test address with this NIC's MAC
 *     echo reply to the test address with our id → engine.onReply
 *   engine SEND → MAC (neighbour cache, or the all-nodes MAC for PROBE_MULTI) → frame → send
 *
 * While probing is off (the NIC is offline, reference §12) nothing is sent and the test
 * address is not answered for, as when if_mpadm has brought the test address down.
 * The host stack never sees these frames (ingress drops them after the packet taps).
 */
import { SourceLimiter } from '../../dataplane/ratelimit.js';
import type { NativeAddon } from '../../io/native.js';
import { E } from '../../io/native.js';
import { IcmpProbeEngine } from '../../control/detectors/icmp-probe.js';
import { PROBE_MULTI, probeIcmpId, type ProbeAction, type SendAction } from '../../control/detectors/probe-defs.js';
import type { GroupFdt } from '../../control/fdt.js';
import { TargetList } from '../../control/targets.js';
import { rd16 } from '../../wire/bytes.js';
import { ETH_HLEN } from '../../wire/ethernet.js';
import { NeighbourCache } from './arp-cache.js';
import type { Family, ProberNic, TestAddr } from './messages.js';

const RX_BUF = 2048;
/** Frames read per readable event before yielding to the loop. */
const DRAIN_MAX = 256;
const SOCKBUF_BYTES = 256 * 1024;

export type Level = 'err' | 'info' | 'debug';

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
  ownFrames: number;
  solicitsAnswered: number;
  solicitsSent: number;
  probesSent: number;
  probesUnresolved: number;
  sendErrors: number;
  replies: number;
  /** ARP requests / NSs for the test address not answered: over their source's budget. */
  answersLimited: number;
}

/** What a NIC instance asks of the worker. */
export interface NicProbeEnv {
  native: NativeAddon;
  group: GroupFdt;
  pid: number;
  log: (level: Level, text: string) => void;
  /** True when the 6-byte MAC at b[off] belongs to a member of the group. */
  isOwnMac: (b: Uint8Array, off: number) => boolean;
  /** True for a canonical address that is a test address of the group. */
  isOwnAddress: (family: Family, address: string) => boolean;
}

/** The test address of `family` that `n` carries, or null. */
export function testAddrOf(n: ProberNic, family: Family): TestAddr | null {
  return (family === 4 ? n.testAddress : n.testAddress6) ?? null;
}

export abstract class NicProbe<K> {
  readonly slot: number;
  readonly name: string;
  readonly ifindex: number;
  readonly mac: Uint8Array;
  readonly ipText: string;
  readonly prefixlen: number;
  readonly icmpId: number;
  readonly targets: TargetList;
  readonly engine: IcmpProbeEngine;
  readonly counters: NicProbeCounters = {
    rxFrames: 0, ownFrames: 0, solicitsAnswered: 0, solicitsSent: 0, probesSent: 0, probesUnresolved: 0,
    sendErrors: 0, replies: 0, answersLimited: 0,
  };
  /** Answers per source (MAC and address), as on the data path, so a flood is not echoed 1:1. */
  private readonly limiter = new SourceLimiter();
  fd = -1;
  private watchId = -1;
  protected readonly native: NativeAddon;
  protected readonly log: (level: Level, text: string) => void;
  protected readonly neigh = new NeighbourCache<K>();
  protected readonly rx = new Uint8Array(RX_BUF);
  protected readonly tx = new Uint8Array(128);
  private readonly ts = new BigInt64Array(1);

  constructor(
    readonly family: Family,
    readonly nic: ProberNic,
    testAddr: TestAddr,
    private readonly env: NicProbeEnv,
    nowNs: number,
  ) {
    this.native = env.native;
    this.log = env.log;
    this.slot = nic.slot;
    this.name = nic.name;
    this.ifindex = nic.ifindex;
    this.mac = nic.mac.slice(0, 6);
    this.ipText = this.canonical(testAddr.address);
    this.prefixlen = testAddr.prefixlen;
    this.icmpId = probeIcmpId(env.pid, nic.ifindex);
    this.targets = new TargetList(family, (a) => env.isOwnAddress(family, a));
    this.targets.testAddr = { address: this.ipText, prefixLen: this.prefixlen };
    this.engine = new IcmpProbeEngine({
      family, ifname: nic.name, group: env.group, targets: this.targets, rand: Math.random, nowNs, linkUp: nic.linkUp ?? true,
    });
    if (nic.quietOver?.includes(family)) this.engine.qpEndNs = nowNs;
  }

  /** Canonical text of an address of this family. */
  protected abstract canonical(address: string): string;
  /** Classic BPF program for the socket. */
  protected abstract socketFilter(): Uint8Array;
  /** The cache key of a canonical target address. */
  protected abstract keyOf(target: string): K;
  /** One received frame of `len` bytes in this.rx (not from a member); reply actions go to `out`. */
  protected abstract onFrame(type: number, len: number, nowNs: number, clock: RecvClock, out: ProbeAction[]): void;
  /** Sends a resolution request (ARP request, Neighbour Solicitation) for key. */
  protected abstract sendSolicit(key: K): boolean;
  /** The probe frame for a send action, to dstMac. */
  protected abstract probeFrame(dstMac: Uint8Array, a: SendAction): Uint8Array;
  /** The MAC a PROBE_MULTI goes to. */
  protected abstract readonly allNodesMac: Uint8Array;
  /** Text of a cache key, for stats. */
  protected abstract keyText(k: K): string;

  /** Called once the socket is open. */
  protected afterOpen(): void {}

  /** Probing is on: the engine is enabled (it is off while the NIC is offline). */
  get probing(): boolean {
    return this.engine.enabled;
  }

  /** The test address may be used as a source (not tentative or duplicate; see NicProbe6). */
  usable(): boolean {
    return true;
  }

  /** Frames are read while probing is off (duplicate address detection of the test address runs). */
  protected listening(): boolean {
    return false;
  }

  /** Ends a duplicate address detection window that is due; true when one ended now. */
  finishDad(_nowNs: number): boolean {
    return false;
  }

  /** Opens the socket and starts watching it; `onReadable` runs on the worker's loop. */
  open(onReadable: () => void): void {
    this.fd = this.native.packetOpen(this.ifindex, {
      vnetHdr: false, rcvbuf: SOCKBUF_BYTES, sndbuf: SOCKBUF_BYTES, ignoreOutgoing: true,
      filter: this.socketFilter(), nonblock: true,
    });
    this.native.setTimestamping(this.fd, true);
    this.afterOpen();
    this.watchId = this.native.watch(this.fd, onReadable);
  }

  close(): void {
    this.engine.dispose();
    if (this.watchId >= 0) this.native.unwatch(this.watchId);
    this.watchId = -1;
    if (this.fd >= 0) this.native.close(this.fd);
    this.fd = -1;
  }

  /**
   * Takes a token for answering the source with the MAC at b[macOff] and the address whose
   * last 4 bytes are at b[ipOff]; counts the answer withheld when its budget is spent.
   */
  protected mayAnswer(b: Uint8Array, macOff: number, ipOff: number, nowNs: number): boolean {
    if (this.limiter.allow(SourceLimiter.slot(b, macOff, b, ipOff), Math.floor(nowNs / 1e6) % 0x7fffffff)) return true;
    this.counters.answersLimited++;
    return false;
  }

  /** True when `n` is the same kernel device with the same test address of this family. */
  sameAs(n: ProberNic): boolean {
    const t = testAddrOf(n, this.family);
    return t !== null && n.ifindex === this.ifindex && this.canonical(t.address) === this.ipText
      && t.prefixlen === this.prefixlen && n.mac.length >= 6
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
      if (this.env.isOwnMac(this.rx, 6)) { this.counters.ownFrames++; continue; }
      if (!this.probing && !this.listening()) continue;
      const now = nowNs();
      this.onFrame(rd16(this.rx, 12), n, now, clock, out);
    }
  }

  /** The kernel receive time of the frame just read, on the monotonic clock. */
  protected kernelNs(nowNs: number, clock: RecvClock): number {
    return clock.toMono(this.ts[0]!, nowNs, clock.wallMs());
  }

  /** Sends len bytes of f (default all); counts a send error. */
  protected sendFrame(f: Uint8Array, len = f.length): boolean {
    if (this.native.send(this.fd, f, 0, len) >= 0) return true;
    this.counters.sendErrors++;
    return false;
  }

  /** Tracks the MACs of the current targets and asks for the ones that are due. */
  resolveTargets(nowNs: number): void {
    const keys = new Set<K>();
    for (const t of this.targets.list) keys.add(this.keyOf(t.address));
    this.neigh.retain(keys);
    if (!this.probing) return;
    for (const k of keys) {
      this.neigh.want(k);
      if (this.engine.linkUp && this.neigh.requestDue(k, nowNs)) this.solicit(k);
    }
  }

  private solicit(k: K): void {
    if (this.fd >= 0 && this.sendSolicit(k)) this.counters.solicitsSent++;
  }

  /** Sends one probe. A unicast target without a known MAC gets a resolution request instead. */
  send(a: SendAction, nowNs: number): void {
    if (this.fd < 0 || !this.probing) return;
    let mac: Uint8Array | null = this.allNodesMac;
    if (a.mtype !== PROBE_MULTI) {
      const k = this.keyOf(a.target);
      this.neigh.want(k);
      mac = this.neigh.macOf(k, nowNs);
      if (this.neigh.requestDue(k, nowNs)) this.solicit(k);
      if (mac === null) {
        this.counters.probesUnresolved++;
        return;
      }
    }
    const f = this.probeFrame(mac, a);
    const r = this.native.send(this.fd, f, 0, f.length);
    if (r >= 0 || r === -E.EAGAIN) this.counters.probesSent++;
    else {
      this.counters.sendErrors++;
      this.log('err', `probe: probe sendto: ${this.native.strerror(r)} on ${this.name}`);
    }
  }

  stats(): object {
    return {
      name: this.name, family: this.family, slot: this.slot, ifindex: this.ifindex, testaddr: `${this.ipText}/${this.prefixlen}`,
      icmpId: this.icmpId, probing: this.probing, linkUp: this.engine.linkUp, failed: this.engine.failed,
      probe: this.engine.stats, lossRun: this.engine.lossRun(), ackRun: this.engine.ackRun(),
      targets: this.targets.list.map((t) => ({
        address: t.address, status: t.status, crttMs: t.rtt.crtt / 1e6, pinned: t.pinned,
      })),
      routers: this.targets.areRouters,
      neighbours: this.neigh.dump((k) => this.keyText(k)), counters: this.counters,
    };
  }
}
