/**
 * wire, from the TUN: the TX path's whole per-packet processing (TxPath.runOnce
 * with tx6, pending queue and resolver) through the in-memory TUN and packet
 * port of test/fakes, one packet per iteration.
 *
 * Input: [scenario][virtio_net_hdr, 10 bytes][IP packet]. Scenario bit 0: the
 * packet's possible next hops are known neighbours before it is read; bits
 * 1-3: 1 = NIC 1 inactive, 2 = carrier down, else both NICs active.
 *
 * Properties, per packet:
 *   - no exception; runOnce reads the one packet;
 *   - it is accounted exactly once: sent (counted on a NIC), queued for its
 *     next hop, or dropped with a known reason (Δ NIC packets + Δ drops +
 *     Δ queue = 1; packets released from the queue move between the three);
 *   - a data frame leaves on a group NIC with that NIC's MAC as source, the
 *     ethertype of its IP version, the destination MAC of its multicast or
 *     broadcast group or of a learnt neighbour, through the nominee for a group
 *     and through its flow bucket's NIC for unicast, the IP bytes unchanged, the
 *     vnet checksum start and header length moved by the Ethernet header, and
 *     no non-GSO packet over the MTU;
 *   - ARP requests and Neighbour Solicitations it sends are well formed, from a
 *     data address bound to the NIC they leave on (NS checksum valid);
 *   - the pure views give the same result whatever follows the packet.
 */
import fc from 'fast-check';
import { TxPath } from '../../../src/dataplane/tx-path.js';
import { flowBucket } from '../../../src/dataplane/flowhash.js';
import { coarseNowMs } from '../../../src/tables/neighbours.js';
import { rd16, rd16le, rd32 } from '../../../src/wire/bytes.js';
import { icmp6ChecksumOk } from '../../../src/wire/icmp6-nd.js';
import { FakePacketPort, FakeTun } from '../../../test/fakes/ports.js';
import type { Group } from '../../../test/fakes/group.js';
import { check, PropertyViolation, Tally, type FuzzTarget } from '../harness.js';
import { mutated } from '../mutate.js';
import { cat, ipPacket, MACS, V4, V6, vnetHeader } from '../packets.js';
import {
  applyState, dropsSnapshot, FDS, fuzzGroup, movedReason, NIC_MACS, totalDrops, totalNicPkts, type GroupState,
} from '../fuzz-group.js';
import { checkIpViews } from './views.js';

const MTU = 1500;

/** FakePacketPort that remembers which frames went out through sendBatch. */
class RecordingPort extends FakePacketPort {
  readonly batch: boolean[] = [];
  override sendBatch(fds: Int32Array, buf: Uint8Array, offs: Int32Array, lens: Int32Array, count: number): number {
    const r = super.sendBatch(fds, buf, offs, lens, count);
    while (this.batch.length < this.sent.length) this.batch.push(true);
    return r;
  }
  override send(fd: number, buf: Uint8Array, off: number, len: number): number {
    const r = super.send(fd, buf, off, len);
    while (this.batch.length < this.sent.length) this.batch.push(false);
    return r;
  }
  clear(): void {
    this.sent.length = 0;
    this.batch.length = 0;
  }
}

function macEq(b: Uint8Array, off: number, m: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (b[off + i] !== m[i]) return false;
  return true;
}

function nicOfFd(fd: number): number {
  const i = FDS.indexOf(fd);
  check(i >= 0, `frame sent on fd ${fd}, not a group NIC`);
  return i;
}

const DATA4 = [V4.data0, V4.data1];
const DATA6 = [V6.data0, V6.data1];

/** The bytes of `ip` that are sent: up to its IP length (trailing bytes are not). */
function sentLength(ip: Uint8Array): number {
  const v = ip[0]! >> 4;
  const declared = v === 4 ? rd16(ip, 2) : 40 + rd16(ip, 4);
  return Math.min(ip.length, declared);
}

/** A data frame (from the batch or released from the queue) for packet `ip`. */
function checkDataFrame(f: Uint8Array, fd: number, ip: Uint8Array, vnetIn: Uint8Array | null): void {
  const nic = nicOfFd(fd);
  const n = sentLength(ip);
  check(f.length === 24 + n, `data frame of ${f.length} bytes for a packet of IP length ${n} (${ip.length} read)`);
  check(macEq(f, 16, NIC_MACS[nic]!), `data frame on NIC ${nic} with another source MAC`);
  const v = ip[0]! >> 4;
  check(rd16(f, 22) === (v === 6 ? 0x86dd : 0x0800), `IPv${v} packet framed with ethertype 0x${rd16(f, 22).toString(16)}`);
  for (let i = 0; i < n; i++) if (f[24 + i] !== ip[i]) throw new PropertyViolation(`IP byte ${i} changed on the way out`);
  // Groups leave through the nominee (NIC 0); unicast through its flow bucket's NIC (even → 0, odd → 1).
  const onBucketNic = (): void => {
    const k = flowBucket(ip, 0, n);
    check(k >= 0 && nic === (k & 1), `unicast on NIC ${nic}, its flow bucket ${k} is NIC ${k & 1}`);
  };
  if (v === 4) {
    const dst = rd32(ip, 16);
    if ((dst >>> 28) === 14) {
      check(f[10] === 1 && f[11] === 0 && f[12] === 0x5e && f[13] === ((dst >>> 16) & 0x7f) && f[14] === ((dst >>> 8) & 0xff)
        && f[15] === (dst & 0xff), 'IPv4 multicast with a wrong group MAC');
      check(nic === 0, 'IPv4 multicast not sent through the nominee');
    } else if (dst === 0xffffffff || dst === V4.subnetBcast) {
      check(macEq(f, 10, MACS.bcast), 'IPv4 broadcast not sent to ff:ff:ff:ff:ff:ff');
      check(nic === 0, 'IPv4 broadcast not sent through the nominee');
    } else {
      check(macEq(f, 10, MACS.peer), 'IPv4 unicast sent to a MAC that was never learnt');
      onBucketNic();
    }
  } else if (ip[24] === 0xff) {
    check(f[10] === 0x33 && f[11] === 0x33 && f[12] === ip[36] && f[13] === ip[37] && f[14] === ip[38] && f[15] === ip[39],
      'IPv6 multicast with a wrong group MAC');
    check(nic === 0, 'IPv6 multicast not sent through the nominee');
  } else {
    check(macEq(f, 10, MACS.peer), 'IPv6 unicast sent to a MAC that was never learnt');
    onBucketNic();
  }
  if (vnetIn !== null) {
    const gso = vnetIn[1]! !== 0;
    check(gso || n <= MTU, `non-GSO packet of ${n} bytes sent over an MTU of ${MTU}`);
    if ((vnetIn[0]! & 1) !== 0) {
      check(rd16le(f, 6) === rd16le(vnetIn, 6) + 14, 'vnet csum_start not moved by the Ethernet header');
    }
    const hl = rd16le(vnetIn, 2);
    if (hl !== 0) check(rd16le(f, 2) === hl + 14, 'vnet hdr_len not moved by the Ethernet header');
  }
}

/** An ARP request or Neighbour Solicitation from the resolver. */
function checkRequest(f: Uint8Array, fd: number): 'arp' | 'ns' {
  const nic = nicOfFd(fd);
  check(macEq(f, 16, NIC_MACS[nic]!), 'request with a source MAC other than its NIC');
  const type = rd16(f, 22);
  if (type === 0x0806) {
    check(f.length === 10 + 42, `ARP request of ${f.length} bytes`);
    check(macEq(f, 10, MACS.bcast) && rd16(f, 24 + 6) === 1, 'ARP request not a broadcast who-has');
    check(macEq(f, 24 + 8, NIC_MACS[nic]!), 'ARP request with a sender MAC other than its NIC');
    check(rd32(f, 24 + 14) === DATA4[nic], 'ARP request from an address not bound to its NIC');
    return 'arp';
  }
  check(type === 0x86dd && f[24 + 6] === 58 && f[24 + 40] === 135, `unexpected frame from the resolver (ethertype 0x${type.toString(16)})`);
  const plen = rd16(f, 24 + 4);
  check(f.length === 10 + 14 + 40 + plen, 'NS length does not match its payload length');
  check(icmp6ChecksumOk(f, 24, 64, plen), 'NS with a bad ICMPv6 checksum');
  const src = f.subarray(24 + 8, 24 + 24);
  check(src.every((x, i) => x === DATA6[nic]![i]), 'NS from an address not bound to its NIC');
  return 'ns';
}

export function txTarget(): FuzzTarget {
  let g: Group;
  let tun: FakeTun;
  let port: RecordingPort;
  let tx: TxPath;
  let state: GroupState = { nic1: true, carrier: true };
  const tally = new Tally();
  const key = new Uint8Array(4);

  function learn(family: 4 | 6, k: Uint8Array, now: number): void {
    g.neigh.update(family, k, 0, MACS.peer, 0, now);
  }

  function learnHops(ip: Uint8Array, now: number): void {
    const v = ip[0]! >> 4;
    if (v === 4 && ip.length >= 20) {
      key.set(ip.subarray(16, 20));
      learn(4, key, now);
      const gw = new Uint8Array([V4.gw >>> 24, (V4.gw >>> 16) & 0xff, (V4.gw >>> 8) & 0xff, V4.gw & 0xff]);
      learn(4, gw, now);
    } else if (v === 6 && ip.length >= 40) {
      learn(6, ip.subarray(24, 40), now);
      learn(6, V6.gw, now);
    }
  }

  return {
    name: 'tx',
    about: 'TX path from the TUN (IPv4/IPv6, vnet headers, pending queue, resolver): exact per-packet accounting, well-formed frames',
    input: () => {
      const generated = fc.tuple(fc.nat(255), vnetHeader, ipPacket).map(([s, v, p]) => cat(Uint8Array.of(s), v, p));
      return fc.oneof(
        { weight: 3, arbitrary: generated },
        { weight: 6, arbitrary: mutated(generated, 2000) },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 120 }) },
      );
    },
    setup() {
      g = fuzzGroup();
      tun = new FakeTun();
      port = new RecordingPort();
      tx = new TxPath(g.view, g.neigh, g.counters, tun, port);
      state = { nic1: true, carrier: true };
    },
    run(input) {
      const scen = input.length > 0 ? input[0]! : 0;
      const vnet = input.length >= 11 ? input.subarray(1, 11) : null;
      const ip = input.length > 11 ? input.subarray(11) : new Uint8Array(0);
      const mode = (scen >> 1) & 7;
      const want: GroupState = { nic1: mode !== 1, carrier: mode !== 2 };
      if (want.nic1 !== state.nic1 || want.carrier !== state.carrier) { applyState(g.writer, want); state = want; }
      if (scen & 1) learnHops(ip, coarseNowMs());
      checkIpViews(ip);

      const c = g.counters;
      const nic0 = totalNicPkts(c);
      const drops0 = totalDrops(c);
      const pend0 = tx.pending.size();
      const before = dropsSnapshot(c);
      port.clear();
      const vnetBytes = vnet ?? new Uint8Array(10);
      tun.push(ip, vnetBytes);
      const n = tx.runOnce(0);
      check(n === 1, `runOnce read ${n} packets, expected 1`);
      check(tun.inbox.length === 0, 'the packet was left in the TUN');
      const dNic = totalNicPkts(c) - nic0;
      const dDrops = totalDrops(c) - drops0;
      const dPend = tx.pending.size() - pend0;
      check(dNic + dDrops + dPend === 1,
        () => `packet accounted ${dNic + dDrops + dPend} times (sent ${dNic}, dropped ${dDrops}, queued ${dPend})`);
      check(Number.isFinite(dDrops) && dDrops >= 0, 'drop counters went backwards or are not numbers');

      let sent = false;
      for (let i = 0; i < port.sent.length; i++) {
        const f = port.sent[i]!;
        if (port.batch[i]) { checkDataFrame(f.bytes, f.fd, ip, vnetBytes); sent = true; continue; }
        const type = f.bytes.length >= 24 ? rd16(f.bytes, 22) : -1;
        const isReq = type === 0x0806 || (type === 0x86dd && f.bytes.length > 64 && f.bytes[24 + 6] === 58 && f.bytes[24 + 40] === 135);
        if (isReq) tally.add(`request:${checkRequest(f.bytes, f.fd)}`);
        else { nicOfFd(f.fd); tally.add('released-from-queue'); }
      }
      check(!sent || port.sent.filter((_, i) => port.batch[i]).length === 1, 'one packet produced several data frames');
      if (sent) tally.add('sent');
      else if (dPend > 0) tally.add('queued');
      else tally.add(`dropped:${movedReason(before, c) ?? 'none'}`);
      port.clear();
    },
    outcomes: () => tally.toJSON(),
  };
}
