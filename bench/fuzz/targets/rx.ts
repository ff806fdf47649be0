/**
 * wire, from the NICs: the RX path's whole per-frame processing (RxPath.runOnce
 * with rx6: inbound rules, ARP responder and learning, Neighbour Discovery,
 * delivery to the TUN) through the in-memory packet port and TUN, one frame
 * per iteration.
 *
 * Input: [scenario][virtio_net_hdr, 10 bytes][Ethernet frame]. Scenario bit 0:
 * received on NIC 1 (else NIC 0, the nominee); bits 1-2: destination MAC
 * rewritten to 1 = the receiving NIC's MAC, 2 = broadcast, else kept; bits 3
 * 6 and 7: source MAC set to a group NIC's (our own frame looped back); bit 4: the
 * bytes are handed over raw, as one recv, even shorter than a vnet header.
 *
 * Properties, per frame:
 *   - no exception; runOnce receives the one frame;
 *   - it is delivered to the TUN (counted on its NIC), dropped with a known
 *     reason, or consumed without a drop, and consumed only when it is ARP or
 *     an IPv6 Neighbour Solicitation/Advertisement;
 *   - what reaches the TUN is the frame's IP packet, unchanged, of its IP
 *     length (Ethernet padding removed), never longer than the frame, and only
 *     a unicast frame to the receiving NIC's MAC for a data address, or a group
 *     frame on the nominee for a multicast or broadcast address;
 *   - ARP replies go out on the receiving NIC with its MAC as source and the
 *     bound NIC's MAC for the asked data address; NAs carry a valid ICMPv6
 *     checksum and the bound NIC's MAC in the target option;
 *   - the pure views give the same result whatever follows the frame.
 */
import fc from 'fast-check';
import { RxPath } from '../../../src/dataplane/rx-path.js';
import { rd16, rd32 } from '../../../src/wire/bytes.js';
import { icmp6ChecksumOk } from '../../../src/wire/icmp6-nd.js';
import { FakePacketPort, FakeTun } from '../../../test/fakes/ports.js';
import type { Group } from '../../../test/fakes/group.js';
import { check, PropertyViolation, Tally, type FuzzTarget } from '../harness.js';
import { mutated } from '../mutate.js';
import { cat, ethFrame, MACS, V4, V6, vnetHeader } from '../packets.js';
import { dropsSnapshot, FDS, fuzzGroup, movedReason, NIC_MACS, totalDrops, totalNicPkts } from '../fuzz-group.js';
import { checkFrameViews } from './views.js';

function macEq(b: Uint8Array, off: number, m: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (b[off + i] !== m[i]) return false;
  return true;
}

const DATA4 = [V4.data0, V4.data1];
const DATA6 = [V6.data0, V6.data1];

function boundNic4(a: number): number {
  return DATA4.indexOf(a);
}

function boundNic6(b: Uint8Array, off: number): number {
  for (let n = 0; n < 2; n++) if (DATA6[n]!.every((x, i) => b[off + i] === x)) return n;
  return -1;
}

/** ARP and IPv6 NS/NA are the frames RX may consume without delivering or dropping. */
function consumable(f: Uint8Array): boolean {
  if (f.length < 14) return false;
  const t = rd16(f, 12);
  if (t === 0x0806) return true;
  return t === 0x86dd && f.length > 14 + 40 && f[14 + 6] === 58 && (f[54] === 135 || f[54] === 136);
}

/**
 * A frame RX sent in answer: an ARP reply or solicited NA from the receiving NIC, a DAD
 * answer (NA to all-nodes) from the receiving NIC, or a defence of a claimed address
 * (gratuitous ARP, NA to all-nodes with Override) through the nominee (NIC 0). Every one
 * carries the bound NIC's MAC for the data address and the sending NIC's as source.
 */
function checkReply(bytes: Uint8Array, fd: number, rxNic: number, frame: Uint8Array): string {
  const k = FDS.indexOf(fd);
  check(k >= 0, `reply sent on fd ${fd}, not a group NIC`);
  check(macEq(bytes, 16, NIC_MACS[k]!), 'reply with a source MAC other than the NIC it leaves from');
  const type = rd16(bytes, 22);
  if (type === 0x0806) {
    check(bytes.length === 10 + 42, `ARP frame of ${bytes.length} bytes`);
    const op = rd16(bytes, 24 + 6);
    const spa = rd32(bytes, 24 + 14);
    const bound = boundNic4(spa);
    check(bound >= 0, 'ARP sent for an address that is not a data address');
    check(macEq(bytes, 24 + 8, NIC_MACS[bound]!), 'ARP sent without the bound NIC\'s MAC');
    if (op === 2) {
      check(k === rxNic, 'ARP reply sent on another NIC than the one the request came in on');
      check(frame.length >= 42 && rd32(frame, 14 + 24) === spa, 'ARP reply for another address than asked');
      return 'arp-reply';
    }
    check(op === 1 && rd32(bytes, 24 + 24) === spa && macEq(bytes, 10, MACS.bcast) && k === 0,
      'ARP sent is neither a reply nor a gratuitous defence through the nominee');
    return 'arp-defence';
  }
  check(type === 0x86dd && bytes[24 + 6] === 58 && bytes[24 + 40] === 136, `unexpected reply ethertype 0x${type.toString(16)}`);
  const plen = rd16(bytes, 24 + 4);
  check(bytes.length === 24 + 40 + plen, 'NA length does not match its payload length');
  check(icmp6ChecksumOk(bytes, 24, 64, plen), 'NA with a bad ICMPv6 checksum');
  const bound = boundNic6(bytes, 24 + 48);
  check(bound >= 0, 'NA for an address that is not a data address');
  check(bytes[24 + 64] === 2 && macEq(bytes, 24 + 66, NIC_MACS[bound]!), 'NA target option is not the bound NIC\'s MAC');
  check(k === rxNic || k === 0, 'NA sent neither on the receiving NIC nor through the nominee');
  return (bytes[24 + 44]! & 0x40) !== 0 ? 'na' : 'na-unsolicited';
}

export function rxTarget(): FuzzTarget {
  let g: Group;
  let tun: FakeTun;
  let port: FakePacketPort;
  let rx: RxPath;
  const tally = new Tally();

  return {
    name: 'rx',
    about: 'RX path from the NICs (ARP, IPv4, IPv6, ND, VLAN, other ethertypes): accounted once, exact delivery, well-formed replies',
    input: () => {
      const generated = fc.tuple(fc.nat(255), vnetHeader, ethFrame).map(([s, v, f]) => cat(Uint8Array.of(s & 0xef), v, f));
      return fc.oneof(
        { weight: 3, arbitrary: generated },
        { weight: 6, arbitrary: mutated(generated, 2000) },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 120 }) },
      );
    },
    setup() {
      g = fuzzGroup();
      tun = new FakeTun();
      port = new FakePacketPort();
      rx = new RxPath(g.view, g.neigh, g.counters, tun, port);
    },
    run(input) {
      const scen = input.length > 0 ? input[0]! : 0;
      const nic = scen & 1;
      const raw = (scen & 0x10) !== 0;
      const bytes = input.subarray(1).slice();
      if (!raw && bytes.length >= 10 + 12) {
        const dm = (scen >> 1) & 3;
        if (dm === 1) bytes.set(NIC_MACS[nic]!, 10);
        else if (dm === 2) bytes.set(MACS.bcast, 10);
        if ((scen & 0xc8) === 0xc8) bytes.set(NIC_MACS[(scen >> 5) & 1]!, 16);
      }
      const frame = bytes.subarray(Math.min(10, bytes.length));
      if (!raw) checkFrameViews(frame);

      const c = g.counters;
      const nic0 = totalNicPkts(c);
      const drops0 = totalDrops(c);
      const before = dropsSnapshot(c);
      port.sent.length = 0;
      tun.written.length = 0;
      port.deliverRaw(FDS[nic]!, bytes);
      const n = rx.runOnce(0);
      check(n === 1, `runOnce received ${n} frames, expected 1`);
      check(port.queued(FDS[nic]!) === 0, 'the frame was left in the socket');
      const dNic = totalNicPkts(c) - nic0;
      const dDrops = totalDrops(c) - drops0;
      const written = tun.written.length;
      check(dNic === written, `${written} packets written to the TUN but ${dNic} counted`);
      check(written + dDrops <= 1, () => `frame accounted ${written + dDrops} times (delivered ${written}, dropped ${dDrops})`);
      if (written + dDrops === 0) {
        check(bytes.length >= 10 && consumable(frame), 'frame neither delivered, dropped nor consumed as ARP or ND');
      }
      if (written === 1) {
        const p = tun.written[0]!.ip;
        check(frame.length >= 14 + p.length, `delivered ${p.length} bytes from a ${frame.length}-byte frame`);
        for (let i = 0; i < p.length; i++) if (p[i] !== frame[14 + i]) throw new PropertyViolation(`delivered IP byte ${i} changed`);
        const v = p[0]! >> 4;
        const group = (frame[0]! & 1) !== 0;
        check(!group || nic === 0, 'a group frame delivered from a NIC other than the nominee');
        check(group || macEq(frame, 0, NIC_MACS[nic]!), 'a unicast frame delivered that is not for the receiving NIC');
        if (v === 4) {
          check(p.length === rd16(p, 2), `delivered ${p.length} bytes of an IPv4 packet of total length ${rd16(p, 2)}`);
          const dst = rd32(p, 16);
          if (group) check((dst >>> 28) === 14 || dst === 0xffffffff || dst === V4.subnetBcast, 'group frame delivered for a unicast address');
          else check(boundNic4(dst) >= 0, 'unicast IPv4 delivered for an address that is not a data address');
        } else {
          check(v === 6, `delivered an IPv${v} packet`);
          const want = 40 + rd16(p, 4);
          check(p.length === want || (rd16(p, 4) === 0 && p.length === frame.length - 14),
            `delivered ${p.length} bytes of an IPv6 packet with payload length ${rd16(p, 4)}`);
          if (group) check(p[24] === 0xff, 'group frame delivered for a unicast IPv6 address');
          else check(boundNic6(p, 24) >= 0, 'unicast IPv6 delivered for an address that is not a data address');
        }
        tally.add(`delivered:ipv${v}`);
      } else if (dDrops === 1) {
        tally.add(`dropped:${movedReason(before, c) ?? '?'}`);
      } else {
        tally.add(rd16(frame, 12) === 0x0806 ? 'consumed:arp' : 'consumed:nd');
      }
      for (const s of port.sent) tally.add(checkReply(s.bytes, s.fd, nic, frame));
      check(port.sent.length <= 1, 'one frame produced several replies');
    },
    outcomes: () => tally.toJSON(),
  };
}
