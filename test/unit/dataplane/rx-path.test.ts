import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RxPath } from '../../../src/dataplane/rx-path.js';
import { DROP_REASONS, D, X_ARP_REPLIES } from '../../../src/tables/counters.js';
import { LOOKUP_FRESH, LOOKUP_MISS, coarseNowMs } from '../../../src/tables/neighbours.js';
import { ARP_OP_REPLY, arpOp, arpSpa, arpTpa, validateArp } from '../../../src/wire/arp.js';
import { macToString } from '../../../src/wire/ethernet.js';
import { rd16 } from '../../../src/wire/bytes.js';
import { VIRTIO_NET_HDR_F_NEEDS_CSUM, vnetCsumStart, vnetCsumOffset } from '../../../src/wire/vnet.js';
import { FakePacketPort, FakeTun } from '../../fakes/ports.js';
import { arpReplyFrame, arpRequestFrame, eth, icmpEcho4, ip4, key4, mac, tcp4, udp4, vnet } from '../../fakes/frames.js';
import { ADDR0, ADDR1, FD0, FD1, FDS, type Group, MAC0, MAC1, MACS, twoNicGroup } from '../../fakes/group.js';

const PEER = '198.18.0.50';
const PEER_MAC = mac('52:54:00:00:00:50');
const BCAST = mac('ff:ff:ff:ff:ff:ff');
const MDNS_MAC = mac('01:00:5e:00:00:fb');
const IPV4 = 0x0800;
const ARP = 0x0806;

interface Rig extends Group { tun: FakeTun; port: FakePacketPort; rx: RxPath }

function rig(): Rig {
  const g = twoNicGroup();
  const tun = new FakeTun();
  const port = new FakePacketPort();
  const rx = new RxPath(g.view, g.neigh, g.counters, tun, port);
  return { ...g, tun, port, rx };
}

function totalDrops(r: Rig): number {
  return DROP_REASONS.reduce((s, _n, i) => s + r.counters.drops(i), 0);
}

test('unicast IPv4 to a data address on the NIC whose MAC it carries reaches the TUN without its Ethernet header', () => {
  const r = rig();
  const p0 = tcp4({ src: PEER, dst: ADDR0, sport: 443, dport: 50000, payload: 100 });
  const p1 = udp4({ src: PEER, dst: ADDR1 });
  r.port.deliver(FD0, eth(MAC0, PEER_MAC, IPV4, p0), vnet({ flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, csumStart: 34, csumOffset: 16 }));
  r.port.deliver(FD1, eth(MAC1, PEER_MAC, IPV4, p1));
  assert.equal(r.rx.runOnce(0), 2);
  assert.equal(r.tun.written.length, 2);
  const [w0, w1] = r.tun.written;
  assert.deepEqual(w0.ip, p0);
  assert.equal(w0.vnet![0], VIRTIO_NET_HDR_F_NEEDS_CSUM);
  assert.equal(vnetCsumStart(w0.vnet!, 0), 20, 'csum_start counts from the IP header');
  assert.equal(vnetCsumOffset(w0.vnet!, 0), 16);
  assert.deepEqual(w1.ip, p1);
  assert.equal(vnetCsumStart(w1.vnet!, 0), 0);
  assert.equal(r.counters.nicPkts(0), 1);
  assert.equal(r.counters.nicPkts(1), 1);
  assert.equal(totalDrops(r), 0);
});

test('unicast to another MAC, or to an address that is not a data address, is not_ours', () => {
  const r = rig();
  r.port.deliver(FD0, eth(mac('02:00:00:00:00:99'), PEER_MAC, IPV4, udp4({ src: PEER, dst: ADDR0 })));
  r.port.deliver(FD0, eth(MAC0, PEER_MAC, IPV4, udp4({ src: PEER, dst: '198.18.0.200' })));
  // NIC 1's MAC arriving on NIC 0: not the MAC of the NIC it came in on.
  r.port.deliver(FD0, eth(MAC1, PEER_MAC, IPV4, udp4({ src: PEER, dst: ADDR1 })));
  r.rx.runOnce(0);
  assert.equal(r.tun.written.length, 0);
  assert.equal(r.counters.drops(D.not_ours), 3);
});

test('broadcast and multicast are accepted on the nominee only, so they are delivered once', () => {
  const r = rig();
  const cases: Array<[Uint8Array, Uint8Array]> = [
    [BCAST, udp4({ src: PEER, dst: '198.18.0.255', dport: 137 })],
    [BCAST, udp4({ src: '0.0.0.0', dst: '255.255.255.255', sport: 68, dport: 67 })],
    [MDNS_MAC, udp4({ src: PEER, dst: '224.0.0.251', sport: 5353, dport: 5353 })],
  ];
  for (const [hw, p] of cases) {
    r.port.deliver(FD0, eth(hw, PEER_MAC, IPV4, p));
    r.port.deliver(FD1, eth(hw, PEER_MAC, IPV4, p));
  }
  r.rx.runOnce(0);
  assert.equal(r.tun.written.length, 3);
  cases.forEach(([, p], i) => assert.deepEqual(r.tun.written[i].ip, p));
  assert.equal(r.counters.drops(D.not_nominee), 3);
  assert.equal(r.counters.nicPkts(0), 3);
  assert.equal(r.counters.nicPkts(1), 0);

  // The nominee moves to NIC 1: now NIC 1 delivers and NIC 0 drops.
  r.writer.update((w) => w.setNominee(1));
  r.tun.written.length = 0;
  r.port.deliver(FD0, eth(BCAST, PEER_MAC, IPV4, cases[0][1]));
  r.port.deliver(FD1, eth(BCAST, PEER_MAC, IPV4, cases[0][1]));
  r.rx.runOnce(0);
  assert.equal(r.tun.written.length, 1);
  assert.equal(r.counters.nicPkts(1), 1);
  assert.equal(r.counters.drops(D.not_nominee), 4);
});

test('a broadcast frame carrying a unicast IP to someone else is not_ours', () => {
  const r = rig();
  r.port.deliver(FD0, eth(BCAST, PEER_MAC, IPV4, udp4({ src: PEER, dst: '198.18.0.77' })));
  r.rx.runOnce(0);
  assert.equal(r.tun.written.length, 0);
  assert.equal(r.counters.drops(D.not_ours), 1);
});

test('our own frames looped back are own_frame', () => {
  const r = rig();
  r.port.deliver(FD0, eth(BCAST, MAC1, IPV4, udp4({ src: ADDR1, dst: '255.255.255.255' })));
  r.port.deliver(FD1, eth(MAC1, MAC0, IPV4, udp4({ src: ADDR0, dst: ADDR1 })));
  r.port.deliver(FD0, arpRequestFrame(MAC0, ADDR0, PEER));
  r.rx.runOnce(0);
  assert.equal(r.tun.written.length, 0);
  assert.equal(r.port.sent.length, 0);
  assert.equal(r.counters.drops(D.own_frame), 3);
});

test('ARP request for a data address bound to NIC 1, heard on the nominee NIC 0, is answered on NIC 0 with NIC 1 in the body', () => {
  const r = rig();
  r.port.deliver(FD0, arpRequestFrame(PEER_MAC, PEER, ADDR1));
  r.port.deliver(FD1, arpRequestFrame(PEER_MAC, PEER, ADDR1));
  r.rx.runOnce(0);
  assert.equal(r.port.sent.length, 1);
  const f = r.port.sent[0];
  assert.equal(f.fd, FD0);
  assert.equal(f.bytes.length, 10 + 42);
  assert.deepEqual([...f.bytes.subarray(0, 10)], new Array(10).fill(0));
  const e = 10;
  const a = e + 14;
  assert.equal(macToString(f.bytes, e), macToString(PEER_MAC), 'Ethernet destination: the requester');
  assert.equal(macToString(f.bytes, e + 6), macToString(MAC0), 'Ethernet source: the NIC it leaves from');
  assert.equal(rd16(f.bytes, e + 12), ARP);
  assert.ok(validateArp(f.bytes, a, 28) > 0);
  assert.equal(arpOp(f.bytes, a), ARP_OP_REPLY);
  assert.equal(macToString(f.bytes, a + 8), macToString(MAC1), 'sender hardware: the bound NIC');
  assert.equal(arpSpa(f.bytes, a), ip4(ADDR1));
  assert.equal(macToString(f.bytes, a + 18), macToString(PEER_MAC));
  assert.equal(arpTpa(f.bytes, a), ip4(PEER));
  assert.equal(r.counters.extraValue(X_ARP_REPLIES), 1);
  assert.equal(r.counters.drops(D.not_nominee), 1);
  assert.equal(r.tun.written.length, 0);

  const out = new Uint8Array(6);
  assert.equal(r.neigh.lookup(4, key4(PEER), 0, coarseNowMs(), out, 0), LOOKUP_FRESH, 'the requester is learnt');
  assert.equal(macToString(out), macToString(PEER_MAC));
});

test('ARP request for another IP gets no reply and teaches nothing; an ARP reply to us is learnt', () => {
  const r = rig();
  r.port.deliver(FD0, arpRequestFrame(PEER_MAC, PEER, '198.18.0.200'));
  r.rx.runOnce(0);
  assert.equal(r.port.sent.length, 0);
  const out = new Uint8Array(6);
  assert.equal(r.neigh.lookup(4, key4(PEER), 0, coarseNowMs(), out, 0), LOOKUP_MISS);

  const gwMac = mac('52:54:00:00:00:01');
  r.port.deliver(FD1, arpReplyFrame(gwMac, '198.18.0.1', MAC1, ADDR1));
  r.rx.runOnce(0);
  assert.equal(r.port.sent.length, 0);
  assert.equal(r.neigh.lookup(4, key4('198.18.0.1'), 0, coarseNowMs(), out, 0), LOOKUP_FRESH);
  assert.equal(macToString(out), macToString(gwMac));
});

test('an ARP request for a data address with no bound NIC is not answered', () => {
  const r = rig();
  r.writer.update((w) => w.setAddresses([
    { family: 4, ip: key4(ADDR0), plen: 24, bound: 0 },
    { family: 4, ip: key4(ADDR1), plen: 24, bound: 255 },
  ]));
  r.port.deliver(FD0, arpRequestFrame(PEER_MAC, PEER, ADDR1));
  r.rx.runOnce(0);
  assert.equal(r.port.sent.length, 0);
});

test('truncated frames and garbage are counted, never thrown', () => {
  const r = rig();
  const good = eth(MAC0, PEER_MAC, IPV4, icmpEcho4({ src: PEER, dst: ADDR0 }));
  r.port.deliverRaw(FD0, new Uint8Array(0));
  r.port.deliverRaw(FD0, new Uint8Array(5));
  r.port.deliverRaw(FD0, new Uint8Array(10 + 13));
  r.port.deliver(FD0, good.subarray(0, 14));
  r.port.deliver(FD0, good.subarray(0, 30));
  r.port.deliver(FD0, arpRequestFrame(PEER_MAC, PEER, ADDR0).subarray(0, 30));
  const badIhl = good.slice();
  badIhl[14] = 0x43;
  r.port.deliver(FD0, badIhl);
  r.port.deliver(FD0, eth(MAC0, PEER_MAC, 0x8100, new Uint8Array(46)));
  assert.doesNotThrow(() => r.rx.runOnce(0));
  assert.equal(r.tun.written.length, 0);
  assert.equal(r.port.sent.length, 0);
  assert.equal(r.counters.drops(D.malformed), 7);
  assert.equal(r.counters.drops(D.vlan), 1);
});

test('Ethernet padding after a short IPv4 packet is not delivered to the TUN',
  () => {
    const r = rig();
    const p = icmpEcho4({ src: PEER, dst: ADDR0 });
    const padded = new Uint8Array(60);
    padded.set(eth(MAC0, PEER_MAC, IPV4, p));
    r.port.deliver(FD0, padded);
    r.rx.runOnce(0);
    assert.equal(r.tun.written.length, 1);
    assert.equal(r.tun.written[0].ip.length, p.length);
  });

test('a failed TUN write is counted as send_error', () => {
  const r = rig();
  r.tun.writeResult = -5;
  r.port.deliver(FD0, eth(MAC0, PEER_MAC, IPV4, udp4({ src: PEER, dst: ADDR0 })));
  r.rx.runOnce(0);
  assert.equal(r.counters.drops(D.send_error), 1);
});

test('random frames on random fds never throw; each is delivered, counted as a drop, or taken by ARP', () => {
  const macArb = fc.oneof(
    fc.constant(MAC0), fc.constant(MAC1), fc.constant(BCAST), fc.constant(MDNS_MAC),
    fc.uint8Array({ minLength: 6, maxLength: 6 }),
  );
  const typeArb = fc.oneof(fc.constant(IPV4), fc.constant(ARP), fc.integer({ min: 0, max: 0xffff }));
  const frameArb = fc.record({
    fdIdx: fc.nat(1),
    dst: macArb,
    src: fc.oneof(fc.constant(PEER_MAC), macArb),
    type: typeArb,
    body: fc.uint8Array({ minLength: 0, maxLength: 80 }),
    cut: fc.option(fc.nat(120), { nil: undefined }),
  });
  fc.assert(fc.property(fc.array(frameArb, { minLength: 1, maxLength: 40 }), (frames) => {
    const r = rig();
    let arpTaken = 0;
    for (const f of frames) {
      let bytes = new Uint8Array(10 + 14 + f.body.length);
      bytes.set(eth(f.dst, f.src, f.type, f.body), 10);
      if (f.cut !== undefined) bytes = bytes.subarray(0, Math.min(f.cut, bytes.length));
      r.port.deliverRaw(FDS[f.fdIdx], bytes);
      if (reachesArp(bytes, f.fdIdx) && validateArp(bytes, 24, bytes.length - 24) > 0) arpTaken++;
    }
    let received = 0;
    assert.doesNotThrow(() => { received = r.rx.runOnce(0); });
    assert.equal(received, frames.length);
    // Every frame is delivered or counted as a drop, except valid ARP, which may also be taken without a count.
    const silent = frames.length - r.tun.written.length - totalDrops(r);
    assert.ok(silent >= 0 && silent <= arpTaken, `${silent} frames neither delivered nor counted (${arpTaken} valid ARP)`);
  }), { numRuns: 400 });
});

/** The inbound filter in front of the ARP responder: length, not our own source, nominee or own MAC, ethertype ARP. */
function reachesArp(b: Uint8Array, nic: number): boolean {
  if (b.length < 24) return false;
  const src = macToString(b, 16);
  if (src === macToString(MAC0) || src === macToString(MAC1)) return false;
  const group = (b[10] & 1) !== 0;
  if (group ? nic !== 0 : macToString(b, 10) !== macToString(MACS[nic])) return false;
  return rd16(b, 22) === ARP;
}
