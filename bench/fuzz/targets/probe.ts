/**
 * wire, from the NICs: the probe worker's per-NIC receive path (NicProbe.drain:
 * ARP learning and the ARP responder for the test address, echo-reply checks,
 * probe field parsing, the engine's reply handling) on frames handed over by a
 * fake addon, with the engine ticking on a fake monotonic clock so probes are
 * in flight. Two NICs: one with a pinned target (198.18.0.1), one without
 * targets (multicast discovery).
 *
 * Input: [mode][kernel timestamp, 8 bytes][Ethernet frame]. Mode bits 0-4: the
 * clock advances by that many 50 ms steps first; bit 5: the frame is patched
 * into a reply to the newest probe in flight (addresses, id, sequence,
 * timestamp, checksums), so mutated fields meet a live probe; bit 6: the
 * kernel timestamp is used (else none); bit 7: the second NIC receives it.
 *
 * Properties: no exception; every frame the NIC sends is a well-formed ARP
 * request or reply from its test address and MAC, or an echo-request probe
 * with our id and valid checksums; log lines are one line; resolved probes
 * carry finite times; the engine's counters stay finite and non-negative.
 */
import fc from 'fast-check';
import { GroupFdt } from '../../../src/control/fdt.js';
import { LOG, PROBE_MULTI, PROBE_RESOLVED, PROBE_RTT, PROBE_UNI, SEND, probeIcmpId, type ProbeAction } from '../../../src/control/detectors/probe-defs.js';
import { NicProbe, RecvClock } from '../../../src/daemon/prober/nic-probe.js';
import type { NativeAddon } from '../../../src/io/native.js';
import { buildArpReply, buildArpRequest } from '../../../src/wire/arp.js';
import { rd16, rd32, wr16, wr32 } from '../../../src/wire/bytes.js';
import { checksumValid, inetChecksum } from '../../../src/wire/checksum.js';
import { buildIcmpProbeFrame4 } from '../../../src/wire/icmp.js';
import { ipv4ChecksumOk, parseIpv4, setIpv4Checksum } from '../../../src/wire/ipv4.js';
import { assertOneLine, check, PropertyViolation, Tally, type FuzzTarget } from '../harness.js';
import { mutated } from '../mutate.js';
import { cat, ethFrame, MACS } from '../packets.js';

const PID = 4242;
const NICS = [
  { slot: 0, name: 'eth0', ifindex: 7, mac: new Uint8Array([2, 0, 0, 0, 0, 0x0a]), testAddress: { address: '198.18.0.100', prefixlen: 24 } },
  { slot: 1, name: 'eth1', ifindex: 8, mac: new Uint8Array([2, 0, 0, 0, 0, 0x0b]), testAddress: { address: '198.18.0.101', prefixlen: 24 } },
];
const TARGET = '198.18.0.1';
const TARGET_IP = parseIpv4(TARGET);
const STEP_NS = 50e6;
const EAGAIN = 11;

/** The part of the addon NicProbe uses: one socket per NIC, frames in a queue, sends recorded. */
class FakeAddon {
  readonly inbox = new Map<number, Uint8Array[]>();
  readonly sent: Array<{ fd: number; bytes: Uint8Array }> = [];
  tsNs = 0n;
  private nextFd = 20;
  packetOpen(): number { const fd = this.nextFd++; this.inbox.set(fd, []); return fd; }
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

/** What a NIC may send: ARP request/reply from its test address, or a probe. */
function checkSent(f: Uint8Array, nic: typeof NICS[number], icmpId: number): string {
  const ip = parseIpv4(nic.testAddress.address);
  check(f.length >= 42 && macEq(f, 6, nic.mac), `${nic.name} sent a frame without its MAC as source`);
  const type = rd16(f, 12);
  if (type === 0x0806) {
    const op = rd16(f, 20);
    check(op === 1 || op === 2, `${nic.name} sent ARP op ${op}`);
    check(macEq(f, 22, nic.mac) && rd32(f, 28) === ip, `${nic.name} sent ARP not from its test address and MAC`);
    return op === 1 ? 'sent:arp-request' : 'sent:arp-reply';
  }
  check(type === 0x0800, `${nic.name} sent ethertype 0x${type.toString(16)}`);
  check(ipv4ChecksumOk(f, 14) && rd32(f, 26) === ip, `${nic.name} sent an IPv4 probe with a bad header or source`);
  const total = rd16(f, 16);
  check(f[23] === 1 && f[34] === 8 && rd16(f, 38) === icmpId, `${nic.name} sent something other than an echo-request probe`);
  check(checksumValid(f, 34, total - 20), `${nic.name} sent a probe with a bad ICMP checksum`);
  return 'sent:probe';
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
    check(parseIpv4(a.target) >= 0 && Number.isFinite(a.startNs), 'send action with a bad target or time');
    return;
  }
  tally.add(`action:${ACTION_NAMES[a.kind] ?? a.kind}`);
}

export function probeTarget(): FuzzTarget {
  let addon: FakeAddon;
  let probes: NicProbe[];
  let nowNs = 1e12;
  const clock = new RecvClock();
  const tally = new Tally();
  const lastProbe: Array<{ seq: number; startNs: number; mtype: number; target: string } | null> = [null, null];

  const handle = (i: number, acts: ProbeAction[]): void => {
    for (const a of acts) {
      checkAction(a, tally);
      if (a.kind === SEND) {
        probes[i]!.send(a, nowNs);
        lastProbe[i] = { seq: a.seq, startNs: a.startNs, mtype: a.mtype, target: a.target };
      }
    }
  };

  const icmpIds = NICS.map((n) => probeIcmpId(PID, n.ifindex));

  function patchReply(f: Uint8Array, i: number): void {
    const p = lastProbe[i];
    if (!p || f.length < 14 + 20 + 20) return;
    const hlen = (f[14]! & 0x0f) * 4;
    if (hlen < 20 || f.length < 14 + hlen + 20) return;
    const icmp = 14 + hlen;
    f.set(NICS[i]!.mac, 0);
    wr32(f, 26, p.target === TARGET ? TARGET_IP : parseIpv4('198.18.0.77'));
    wr32(f, 30, parseIpv4(NICS[i]!.testAddress.address));
    setIpv4Checksum(f, 14);
    wr16(f, icmp + 4, icmpIds[i]!);
    wr16(f, icmp + 6, p.seq);
    const ts = BigInt.asUintN(64, BigInt(Math.round(p.startNs)));
    wr32(f, icmp + 8, Number(ts >> 32n));
    wr32(f, icmp + 12, Number(ts & 0xffffffffn));
    wr32(f, icmp + 16, p.mtype);
    const total = Math.min(rd16(f, 16), f.length - 14);
    if (total > hlen) {
      wr16(f, icmp + 2, 0);
      wr16(f, icmp + 2, inetChecksum(f, icmp, total - hlen));
    }
  }

  return {
    name: 'probe',
    about: 'probe worker receive path (ARP, echo replies, probe fields, engine replies) on a fake clock: well-formed sends, finite stats',
    input: () => {
      const reply = fc.record({
        nic: fc.nat(1), seq: fc.nat(60), ts: fc.bigUintN(64), mtype: fc.constantFrom(PROBE_UNI, PROBE_MULTI, PROBE_RTT, 0),
        from: fc.constantFrom(TARGET_IP, parseIpv4('198.18.0.77'), parseIpv4('198.18.0.100')), ipId: fc.nat(0xffff),
      }).map((r) => {
        const f = buildIcmpProbeFrame4(NICS[r.nic]!.mac, MACS.gw, r.from, parseIpv4(NICS[r.nic]!.testAddress.address),
          icmpIds[r.nic]!, r.seq, r.ts, r.mtype, r.ipId);
        f[34] = 0;
        wr16(f, 36, 0);
        wr16(f, 36, inetChecksum(f, 34, 20));
        return f;
      });
      const arp = fc.tuple(fc.nat(1), fc.boolean()).map(([n, req]) => (req
        ? buildArpRequest(MACS.gw, TARGET_IP, parseIpv4(NICS[n]!.testAddress.address))
        : buildArpReply(MACS.gw, TARGET_IP, NICS[n]!.mac, parseIpv4(NICS[n]!.testAddress.address))));
      const frame = fc.oneof({ weight: 3, arbitrary: reply }, { weight: 2, arbitrary: arp }, { weight: 2, arbitrary: ethFrame });
      const generated = fc.tuple(fc.nat(255), fc.uint8Array({ minLength: 8, maxLength: 8 }), frame).map(([m, ts, f]) => cat(Uint8Array.of(m), ts, f));
      return fc.oneof(
        { weight: 3, arbitrary: generated },
        { weight: 6, arbitrary: mutated(generated, 2200) },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 120 }) },
      );
    },
    setup() {
      addon = new FakeAddon();
      nowNs = 1e12;
      const fdt = new GroupFdt(1000, 'fuzz');
      probes = NICS.map((n) => {
        const np = new NicProbe(addon as unknown as NativeAddon, n, fdt, PID, nowNs, (_l, t) => assertOneLine('probe log', t));
        np.open(() => {});
        return np;
      });
      probes[0]!.targets.refreshRouters([], [TARGET], false, nowNs);
      for (const np of probes) np.resolveTargets(nowNs);
      addon.sent.length = 0;
    },
    run(input) {
      const mode = input.length > 0 ? input[0]! : 0;
      const i = mode >> 7;
      nowNs += (mode & 0x1f) * STEP_NS;
      addon.tsNs = (mode & 0x40) !== 0 && input.length >= 9
        ? BigInt.asIntN(64, Buffer.from(input.buffer, input.byteOffset + 1, 8).readBigUInt64LE(0)) : 0n;
      const frame = input.subarray(Math.min(9, input.length)).slice();
      if (mode & 0x20) patchReply(frame, i);
      addon.sent.length = 0;
      for (let k = 0; k < probes.length; k++) {
        const np = probes[k]!;
        if (np.engine.nextDeadline() <= nowNs) handle(k, np.engine.tick(nowNs));
      }
      addon.inbox.get(probes[i]!.fd)!.push(frame);
      const acts: ProbeAction[] = [];
      probes[i]!.drain(() => nowNs, clock, acts);
      check(addon.inbox.get(probes[i]!.fd)!.length === 0, 'drain left the frame queued');
      handle(i, acts);
      for (const np of probes) np.resolveTargets(nowNs);
      for (const s of addon.sent) {
        const k = probes.findIndex((p) => p.fd === s.fd);
        if (k < 0) throw new PropertyViolation(`frame sent on an unknown fd ${s.fd}`);
        tally.add(checkSent(s.bytes, NICS[k]!, icmpIds[k]!));
      }
      for (const np of probes) {
        for (const [k, v] of Object.entries(np.engine.stats)) {
          check(typeof v !== 'number' || (Number.isFinite(v) && v >= 0), `${np.name} probe stats ${k} = ${v}`);
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
