/**
 * wire, from the NICs: the probe worker's per-NIC receive path for both families
 * (NicProbe4: ARP learning, the ARP responder for the test address, echo replies;
 * NicProbe6: Neighbour Discovery for the test address and the targets, ICMPv6
 * echo replies; both: probe field parsing and the engine's reply handling) on
 * frames handed over by a fake addon, with the engines ticking on a fake
 * monotonic clock so probes are in flight. Four instances: NIC 0 and NIC 1,
 * each with an IPv4 and an IPv6 link-local test address; NIC 0 has pinned
 * targets (198.18.0.1, fe80::1), NIC 1 discovers (multicast).
 *
 * Input: [mode][flags][kernel timestamp, 8 bytes][Ethernet frame]. Mode bits
 * 0-4: the clock advances by that many 50 ms steps first; bit 5: the frame is
 * patched into a reply to the newest probe in flight of the receiving instance
 * (addresses, id, sequence, timestamp, checksums), so mutated fields meet a
 * live probe; bits 6-7: the receiving instance (NIC 0 v4, NIC 1 v4, NIC 0 v6,
 * NIC 1 v6). Flags bit 0: the kernel timestamp is used (else none).
 *
 * Properties: no exception; every frame an instance sends is well formed and
 * from its own test address and MAC: ARP request or reply, NS or NA (valid
 * ICMPv6 checksum), or an echo-request probe with our id and valid checksums;
 * log lines are one line; resolved probes carry finite times; the engines'
 * counters stay finite and non-negative and the targets' RTTs finite.
 */
import fc from 'fast-check';
import { GroupFdt } from '../../../src/control/fdt.js';
import { LOG, PROBE_MULTI, PROBE_RESOLVED, PROBE_RTT, PROBE_UNI, SEND, probeIcmpId, type ProbeAction } from '../../../src/control/detectors/probe-defs.js';
import { RecvClock, type NicProbe, type NicProbeEnv } from '../../../src/daemon/prober/nic-probe.js';
import { NicProbe4 } from '../../../src/daemon/prober/nic-probe4.js';
import { NicProbe6 } from '../../../src/daemon/prober/nic-probe6.js';
import type { ProberNic } from '../../../src/daemon/prober/messages.js';
import type { NativeAddon } from '../../../src/io/native.js';
import { buildArpReply, buildArpRequest } from '../../../src/wire/arp.js';
import { rd16, rd32, wr16, wr32 } from '../../../src/wire/bytes.js';
import { checksumValid, inetChecksum, l4Checksum6 } from '../../../src/wire/checksum.js';
import { buildIcmp6ProbeFrame, buildIcmpProbeFrame4 } from '../../../src/wire/icmp.js';
import { buildNeighborAdvert, buildNeighborSolicit, icmp6ChecksumOk } from '../../../src/wire/icmp6-nd.js';
import { ipv4ChecksumOk, parseIpv4, setIpv4Checksum } from '../../../src/wire/ipv4.js';
import { parseIpv6 } from '../../../src/wire/ipv6-text.js';
import { assertOneLine, check, PropertyViolation, Tally, type FuzzTarget } from '../harness.js';
import { mutated } from '../mutate.js';
import { cat, ethFrame, MACS } from '../packets.js';

const PID = 4242;
const NICS: ProberNic[] = [
  { slot: 0, name: 'eth0', ifindex: 7, mac: new Uint8Array([2, 0, 0, 0, 0, 0x0a]),
    testAddress: { address: '198.18.0.100', prefixlen: 24 }, testAddress6: { address: 'fe80::a', prefixlen: 64 } },
  { slot: 1, name: 'eth1', ifindex: 8, mac: new Uint8Array([2, 0, 0, 0, 0, 0x0b]),
    testAddress: { address: '198.18.0.101', prefixlen: 24 }, testAddress6: { address: 'fe80::b', prefixlen: 64 } },
];
/** Instance i: NIC i & 1, family 4 for i < 2, else 6. */
const INSTANCES = [0, 1, 2, 3].map((i) => ({ nic: NICS[i & 1]!, family: (i < 2 ? 4 : 6) as 4 | 6 }));
const TARGET4 = parseIpv4('198.18.0.1');
const OTHER4 = parseIpv4('198.18.0.77');
const TARGET6 = parseIpv6('fe80::1');
const OTHER6 = parseIpv6('fe80::77');
const TEST4 = NICS.map((n) => parseIpv4(n.testAddress!.address));
const TEST6 = NICS.map((n) => parseIpv6(n.testAddress6!.address));
const STEP_NS = 50e6;
const EAGAIN = 11;

/** The part of the addon the probe instances use: one socket each, frames in a queue, sends recorded. */
class FakeAddon {
  readonly inbox = new Map<number, Uint8Array[]>();
  readonly sent: Array<{ fd: number; bytes: Uint8Array }> = [];
  tsNs = 0n;
  private nextFd = 20;
  packetOpen(): number { const fd = this.nextFd++; this.inbox.set(fd, []); return fd; }
  packetMembership(): void {}
  setTimestamping(): void {}
  watch(): number { return 1; }
  unwatch(): void {}
  close(): number { return 0; }
  strerror(e: number): string { return `errno ${-e}`; }
  recv(fd: number, buf: Uint8Array, off: number, len: number, ts?: BigInt64Array): number {
    const f = this.inbox.get(fd)?.shift();
    if (!f) return -EAGAIN;
    const n = Math.min(f.length, len);
    buf.set(f.subarray(0, n), off);
    if (ts) ts[0] = this.tsNs;
    return n;
  }
  send(fd: number, buf: Uint8Array, off: number, len: number): number {
    this.sent.push({ fd, bytes: buf.slice(off, off + len) });
    return len;
  }
}

function macEq(b: Uint8Array, off: number, m: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (b[off + i] !== m[i]) return false;
  return true;
}

function bytesEq(b: Uint8Array, off: number, x: Uint8Array): boolean {
  for (let i = 0; i < x.length; i++) if (b[off + i] !== x[i]) return false;
  return true;
}

/** What an instance may send: its family's resolution frames or a probe, from its test address and MAC. */
function checkSent(f: Uint8Array, i: number, icmpId: number): string {
  const { nic, family } = INSTANCES[i]!;
  const k = nic.slot;
  check(f.length >= 42 && macEq(f, 6, nic.mac), `${nic.name}/v${family} sent a frame without its MAC as source`);
  const type = rd16(f, 12);
  if (family === 4) {
    if (type === 0x0806) {
      const op = rd16(f, 20);
      check(op === 1 || op === 2, `${nic.name} sent ARP op ${op}`);
      check(macEq(f, 22, nic.mac) && rd32(f, 28) === TEST4[k], `${nic.name} sent ARP not from its test address and MAC`);
      return op === 1 ? 'sent:arp-request' : 'sent:arp-reply';
    }
    check(type === 0x0800, `${nic.name}/v4 sent ethertype 0x${type.toString(16)}`);
    check(ipv4ChecksumOk(f, 14) && rd32(f, 26) === TEST4[k], `${nic.name} sent an IPv4 probe with a bad header or source`);
    check(f[23] === 1 && f[34] === 8 && rd16(f, 38) === icmpId, `${nic.name} sent IPv4 other than an echo-request probe`);
    check(checksumValid(f, 34, rd16(f, 16) - 20), `${nic.name} sent a probe with a bad ICMP checksum`);
    return 'sent:probe4';
  }
  check(type === 0x86dd && f[14 + 6] === 58, `${nic.name}/v6 sent something other than ICMPv6`);
  const plen = rd16(f, 18);
  check(f.length === 54 + plen && icmp6ChecksumOk(f, 14, 54, plen), `${nic.name}/v6 sent ICMPv6 with a bad length or checksum`);
  check(bytesEq(f, 22, TEST6[k]!), `${nic.name}/v6 sent from another address than its test address`);
  const t = f[54]!;
  if (t === 135) return 'sent:ns';
  if (t === 136) {
    check(f[54 + 24] === 2 && macEq(f, 54 + 26, nic.mac), `${nic.name} sent an NA without its MAC as target option`);
    return 'sent:na';
  }
  check(t === 128 && rd16(f, 54 + 4) === icmpId, `${nic.name}/v6 sent ICMPv6 type ${t}`);
  return 'sent:probe6';
}

const ACTION_NAMES: Record<number, string> = { 2: 'failure', 3: 'repair', 4: 'target-dead', 6: 'host-discovered' };

function checkAction(a: ProbeAction, tally: Tally): void {
  if (a.kind === LOG) { assertOneLine('probe log line', a.text); tally.add('log'); return; }
  if (a.kind === PROBE_RESOLVED) {
    const e = a.event;
    for (const [k, v] of Object.entries(e)) {
      if (typeof v === 'number') check(Number.isFinite(v), `resolved probe: ${k} is ${v}`);
    }
    check(Number.isInteger(e.seq) && e.seq >= 0, `resolved probe: seq ${e.seq}`);
    tally.add(e.acked ? 'probe:acked' : 'probe:lost');
    return;
  }
  if (a.kind === SEND) {
    check(typeof a.target === 'string' && Number.isFinite(a.startNs), 'send action with a bad target or time');
    return;
  }
  tally.add(`action:${ACTION_NAMES[a.kind] ?? a.kind}`);
}

/** Echo replies to instance i from its target (or another host), with any sequence, timestamp and probe type. */
function replyFrame(i: number, seq: number, ts: bigint, mtype: number, fromTarget: boolean, ipId: number): Uint8Array {
  const { nic, family } = INSTANCES[i]!;
  const id = probeIcmpId(PID, nic.ifindex);
  if (family === 4) {
    const f = buildIcmpProbeFrame4(nic.mac, MACS.gw, fromTarget ? TARGET4 : OTHER4, TEST4[nic.slot]!, id, seq, ts, mtype, ipId);
    f[34] = 0;
    wr16(f, 36, 0);
    wr16(f, 36, inetChecksum(f, 34, 20));
    return f;
  }
  const f = buildIcmp6ProbeFrame(nic.mac, MACS.gw, fromTarget ? TARGET6 : OTHER6, TEST6[nic.slot]!, id, seq, ts, mtype);
  f[54] = 129;
  wr16(f, 56, 0);
  wr16(f, 56, l4Checksum6(f, 14, 54, 20, 58));
  return f;
}

/** ARP or ND to instance i: its target asking for the test address, or announcing itself. */
function resolutionFrame(i: number, ask: boolean): Uint8Array {
  const { nic, family } = INSTANCES[i]!;
  if (family === 4) {
    return ask ? buildArpRequest(MACS.gw, TARGET4, TEST4[nic.slot]!) : buildArpReply(MACS.gw, TARGET4, nic.mac, TEST4[nic.slot]!);
  }
  return ask ? buildNeighborSolicit(MACS.gw, TARGET6, TEST6[nic.slot]!) : buildNeighborAdvert(MACS.gw, TARGET6, nic.mac, TEST6[nic.slot]!, 0x60);
}

export function probeTarget(): FuzzTarget {
  let addon: FakeAddon;
  let probes: NicProbe<unknown>[];
  let nowNs = 1e12;
  const clock = new RecvClock();
  const tally = new Tally();
  const lastProbe: Array<{ seq: number; startNs: number; mtype: number; target: string } | null> = [null, null, null, null];
  const icmpIds = INSTANCES.map((x) => probeIcmpId(PID, x.nic.ifindex));

  const handle = (i: number, acts: ProbeAction[]): void => {
    for (const a of acts) {
      checkAction(a, tally);
      if (a.kind === SEND) {
        probes[i]!.send(a, nowNs);
        lastProbe[i] = { seq: a.seq, startNs: a.startNs, mtype: a.mtype, target: a.target };
      }
    }
  };

  function patchFields(f: Uint8Array, icmp: number, i: number): void {
    const p = lastProbe[i]!;
    wr16(f, icmp + 4, icmpIds[i]!);
    wr16(f, icmp + 6, p.seq);
    const ts = BigInt.asUintN(64, BigInt(Math.round(p.startNs)));
    wr32(f, icmp + 8, Number(ts >> 32n));
    wr32(f, icmp + 12, Number(ts & 0xffffffffn));
    wr32(f, icmp + 16, p.mtype);
  }

  /** Makes f a reply to instance i's newest probe where the frame is long enough. */
  function patchReply(f: Uint8Array, i: number): void {
    const p = lastProbe[i];
    const { nic, family } = INSTANCES[i]!;
    if (!p || f.length < 14) return;
    f.set(nic.mac, 0);
    if (family === 4) {
      if (f.length < 14 + 20 + 20) return;
      const hlen = (f[14]! & 0x0f) * 4;
      if (hlen < 20 || f.length < 14 + hlen + 20) return;
      const icmp = 14 + hlen;
      wr32(f, 26, p.target === '198.18.0.1' ? TARGET4 : OTHER4);
      wr32(f, 30, TEST4[nic.slot]!);
      setIpv4Checksum(f, 14);
      patchFields(f, icmp, i);
      const total = Math.min(rd16(f, 16), f.length - 14);
      if (total > hlen) { wr16(f, icmp + 2, 0); wr16(f, icmp + 2, inetChecksum(f, icmp, total - hlen)); }
      return;
    }
    if (f.length < 54 + 20) return;
    f.set(p.target === 'fe80::1' || p.mtype === PROBE_MULTI ? TARGET6 : OTHER6, 22);
    f.set(TEST6[nic.slot]!, 38);
    patchFields(f, 54, i);
    const plen = Math.min(rd16(f, 18), f.length - 54);
    if (plen >= 4) { wr16(f, 56, 0); wr16(f, 56, l4Checksum6(f, 14, 54, plen, 58)); }
  }

  return {
    name: 'probe',
    about: 'probe worker receive path, IPv4 and IPv6 (ARP, ND, echo replies, engine replies) on a fake clock: well-formed sends, finite stats',
    input: () => {
      const reply = fc.record({
        i: fc.nat(3), seq: fc.nat(60), ts: fc.bigUintN(64), mtype: fc.constantFrom(PROBE_UNI, PROBE_MULTI, PROBE_RTT, 0),
        fromTarget: fc.boolean(), ipId: fc.nat(0xffff),
      }).map((r) => [r.i, replyFrame(r.i, r.seq, r.ts, r.mtype, r.fromTarget, r.ipId)] as const);
      const resolution = fc.tuple(fc.nat(3), fc.boolean()).map(([i, ask]) => [i, resolutionFrame(i, ask)] as const);
      const other = fc.tuple(fc.nat(3), ethFrame);
      const frame = fc.oneof({ weight: 3, arbitrary: reply }, { weight: 2, arbitrary: resolution }, { weight: 2, arbitrary: other });
      const generated = fc.tuple(fc.nat(63), fc.nat(255), fc.uint8Array({ minLength: 8, maxLength: 8 }), frame)
        .map(([m, flags, ts, [i, f]]) => cat(Uint8Array.of(m | (i << 6), flags), ts, f));
      return fc.oneof(
        { weight: 3, arbitrary: generated },
        { weight: 6, arbitrary: mutated(generated, 2200) },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 120 }) },
      );
    },
    setup() {
      addon = new FakeAddon();
      nowNs = 1e12;
      const macs = NICS.map((n) => n.mac);
      const env: NicProbeEnv = {
        native: addon as unknown as NativeAddon, group: new GroupFdt(1000, 'fuzz'), pid: PID,
        log: (_l, t) => assertOneLine('probe log', t),
        isOwnMac: (b, off) => macs.some((m) => macEq(b, off, m)),
        isOwnAddress: (family, a) => NICS.some((n) => (family === 4 ? n.testAddress?.address : n.testAddress6?.address) === a),
      };
      probes = INSTANCES.map(({ nic, family }) => {
        const np = family === 4 ? new NicProbe4(nic, nic.testAddress!, env, nowNs) : new NicProbe6(nic, nic.testAddress6!, env, nowNs);
        np.open(() => {});
        return np as NicProbe<unknown>;
      });
      probes[0]!.targets.refreshRouters([], ['198.18.0.1'], false, nowNs);
      probes[2]!.targets.refreshRouters([], ['fe80::1'], false, nowNs);
      for (const np of probes) np.resolveTargets(nowNs);
      addon.sent.length = 0;
    },
    run(input) {
      const mode = input.length > 0 ? input[0]! : 0;
      const flags = input.length > 1 ? input[1]! : 0;
      const i = mode >> 6;
      nowNs += (mode & 0x1f) * STEP_NS;
      addon.tsNs = (flags & 1) !== 0 && input.length >= 10
        ? Buffer.from(input.buffer, input.byteOffset + 2, 8).readBigInt64LE(0) : 0n;
      const frame = input.subarray(Math.min(10, input.length)).slice();
      if (mode & 0x20) patchReply(frame, i);
      addon.sent.length = 0;
      for (let k = 0; k < probes.length; k++) {
        const np = probes[k]!;
        if (np.engine.nextDeadline() <= nowNs) handle(k, np.engine.tick(nowNs));
      }
      const inbox = addon.inbox.get(probes[i]!.fd)!;
      inbox.push(frame);
      const acts: ProbeAction[] = [];
      probes[i]!.drain(() => nowNs, clock, acts);
      check(inbox.length === 0, 'drain left the frame queued');
      handle(i, acts);
      for (const np of probes) np.resolveTargets(nowNs);
      for (const s of addon.sent) {
        const k = probes.findIndex((p) => p.fd === s.fd);
        if (k < 0) throw new PropertyViolation(`frame sent on an unknown fd ${s.fd}`);
        tally.add(checkSent(s.bytes, k, icmpIds[k]!));
      }
      for (const np of probes) {
        for (const [k, v] of Object.entries(np.engine.stats)) {
          check(typeof v !== 'number' || (Number.isFinite(v) && v >= 0), `${np.name}/v${np.family} probe stats ${k} = ${v}`);
        }
        for (const t of np.targets.list) check(Number.isFinite(t.rtt.crtt), `${np.name} target ${t.address} crtt ${t.rtt.crtt}`);
      }
    },
    teardown() {
      for (const np of probes) np.close();
    },
    outcomes: () => tally.toJSON(),
  };
}
