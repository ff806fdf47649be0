import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TxPath } from '../../../src/dataplane/tx-path.js';
import { PendingQueue, PENDING_TIMEOUT_MS } from '../../../src/dataplane/pending.js';
import { Resolver } from '../../../src/dataplane/resolver.js';
import { TableReader } from '../../../src/dataplane/table-reader.js';
import { flowBucket } from '../../../src/dataplane/flowhash.js';
import { IP_OFF, SLOT_SIZE, VNET_OFF } from '../../../src/dataplane/layout.js';
import { D, X_ARP_REQUESTS } from '../../../src/tables/counters.js';
import { coarseNowMs } from '../../../src/tables/neighbours.js';
import { H_ACK_TX } from '../../../src/tables/shared-tables.js';
import { ARP_OP_REQUEST, arpOp, arpSpa, arpTpa } from '../../../src/wire/arp.js';
import { macToString } from '../../../src/wire/ethernet.js';
import { rd16 } from '../../../src/wire/bytes.js';
import { VIRTIO_NET_HDR_F_NEEDS_CSUM, vnetCsumStart, vnetCsumOffset, vnetHdrLen } from '../../../src/wire/vnet.js';
import { FakePacketPort, FakeTun, type SentFrame } from '../../fakes/ports.js';
import { icmpEcho4, ip4, key4, mac, tcp4, udp4, vnet } from '../../fakes/frames.js';
import { writeIpv6Header } from '../../../src/wire/ipv6.js';
import { parseIpv6 } from '../../../src/wire/ipv6-text.js';
import { ADDR0, ADDR1, FD0, FD1, FDS, GW, type Group, MACS, learn, setNics, splitBuckets, twoNicGroup } from '../../fakes/group.js';

const PEER = '198.18.0.50';
const PEER_MAC = mac('52:54:00:00:00:50');
const GW_MAC = mac('52:54:00:00:00:01');

interface Rig extends Group { tun: FakeTun; port: FakePacketPort; tx: TxPath }

function rig(): Rig {
  const g = twoNicGroup();
  const tun = new FakeTun();
  const port = new FakePacketPort();
  const tx = new TxPath(g.view, g.neigh, g.counters, tun, port);
  return { ...g, tun, port, tx };
}

/** The NIC slot the bucket table (even → 0, odd → 1) gives this packet. */
function bucketNic(ip: Uint8Array): number {
  const k = flowBucket(ip, 0, ip.length);
  assert.ok(k >= 0);
  return k & 1;
}

/** A TCP flow from src to dst whose bucket maps to NIC `nic`, searched by source port. */
function flowOn(nic: number, src: string, dst: string, from = 1024): Uint8Array {
  for (let sport = from; sport < from + 4096; sport++) {
    const p = tcp4({ src, dst, sport, dport: 443 });
    if (bucketNic(p) === nic) return p;
  }
  throw new Error('no flow found');
}

const dstMac = (f: SentFrame) => macToString(f.bytes, 10);
const srcMac = (f: SentFrame) => macToString(f.bytes, 16);
const ethType = (f: SentFrame) => rd16(f.bytes, 22);
const ipOf = (f: SentFrame) => f.bytes.subarray(24);

test('a TCP packet to a resolved neighbour leaves framed on its bucket NIC, IP bytes untouched', () => {
  const r = rig();
  const now = coarseNowMs();
  learn(r.neigh, PEER, PEER_MAC, now);
  for (const nic of [0, 1]) {
    r.port.sent.length = 0;
    const p = flowOn(nic, ADDR0, PEER, 2000 + nic * 5000);
    r.tun.push(p, vnet({ flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, csumStart: 20, csumOffset: 16 }));
    assert.equal(r.tx.runOnce(0), 1);
    assert.equal(r.port.sent.length, 1);
    const f = r.port.sent[0];
    assert.equal(f.fd, FDS[nic]);
    assert.equal(dstMac(f), macToString(PEER_MAC));
    assert.equal(srcMac(f), macToString(MACS[nic]));
    assert.equal(ethType(f), 0x0800);
    assert.deepEqual(ipOf(f), p);
    assert.equal(f.bytes[0], VIRTIO_NET_HDR_F_NEEDS_CSUM);
    assert.equal(vnetCsumStart(f.bytes, 0), 34, 'csum_start counts from the Ethernet header');
    assert.equal(vnetCsumOffset(f.bytes, 0), 16);
    assert.equal(r.counters.nicPkts(nic), 1);
    assert.equal(r.counters.nicBytes(nic), p.length);
  }
});

test('without NEEDS_CSUM the vnet header is left alone; a GSO hdr_len is shifted', () => {
  const r = rig();
  learn(r.neigh, PEER, PEER_MAC, coarseNowMs());
  r.tun.push(udp4({ src: ADDR1, dst: PEER }), vnet({ csumStart: 7 }));
  r.tun.push(tcp4({ src: ADDR1, dst: PEER, payload: 3000 }),
    vnet({ flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, gsoType: 1, hdrLen: 40, gsoSize: 1448, csumStart: 20, csumOffset: 16 }));
  assert.equal(r.tx.runOnce(0), 2);
  assert.equal(r.port.sent.length, 2);
  assert.equal(vnetCsumStart(r.port.sent[0].bytes, 0), 7);
  assert.equal(vnetHdrLen(r.port.sent[1].bytes, 0), 54);
  assert.equal(vnetCsumStart(r.port.sent[1].bytes, 0), 34);
  assert.equal(r.counters.drops(D.too_big), 0, 'a GSO super-packet may exceed the MTU');
});

test('a non-GSO packet larger than the NIC MTU is dropped as too_big', () => {
  const r = rig();
  learn(r.neigh, PEER, PEER_MAC, coarseNowMs());
  r.tun.push(udp4({ src: ADDR0, dst: PEER, payload: 2000 }));
  r.tx.runOnce(0);
  assert.equal(r.port.sent.length, 0);
  assert.equal(r.counters.drops(D.too_big), 1);
});

test('an off-link destination is addressed to the gateway; no route drops it as no_route', () => {
  const r = rig();
  learn(r.neigh, GW, GW_MAC, coarseNowMs());
  const p = icmpEcho4({ src: ADDR0, dst: '198.19.0.77', sport: 9 });
  r.tun.push(p);
  r.tun.push(udp4({ src: ADDR0, dst: '203.0.113.9' }));
  assert.equal(r.tx.runOnce(0), 2);
  assert.equal(r.port.sent.length, 1);
  const f = r.port.sent[0];
  assert.equal(dstMac(f), macToString(GW_MAC));
  assert.equal(f.fd, FDS[bucketNic(p)]);
  assert.deepEqual(ipOf(f), p);
  assert.equal(r.counters.drops(D.no_route), 1);
  assert.equal(r.counters.drops(D.neigh_unresolved), 0);
});

test('an unresolved neighbour: ARP request from the source address NIC, the packet waits, then leaves once learnt', () => {
  const r = rig();
  const target = '198.18.0.77';
  const targetMac = mac('52:54:00:00:00:77');
  // Source ADDR1 is bound to NIC 1; choose a flow whose bucket is NIC 0 so the two choices differ.
  const p = flowOn(0, ADDR1, target);
  r.tun.push(p, vnet({ flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, csumStart: 20, csumOffset: 16 }));
  r.tun.push(p);
  r.tx.runOnce(0);
  assert.equal(r.tx.pending.size(), 2);
  assert.equal(r.port.sent.length, 1, 'one request, rate-limited per next hop');
  const req = r.port.sent[0];
  assert.equal(req.fd, FD1);
  assert.equal(dstMac(req), 'ff:ff:ff:ff:ff:ff');
  assert.equal(srcMac(req), macToString(MACS[1]));
  assert.equal(ethType(req), 0x0806);
  const arp = 24;
  assert.equal(arpOp(req.bytes, arp), ARP_OP_REQUEST);
  assert.equal(macToString(req.bytes, arp + 8), macToString(MACS[1]), 'sender hardware address');
  assert.equal(arpSpa(req.bytes, arp), ip4(ADDR1));
  assert.equal(arpTpa(req.bytes, arp), ip4(target));
  assert.equal(r.counters.extraValue(X_ARP_REQUESTS), 1);

  // Nothing learnt yet: the next iteration sends nothing.
  r.tx.runOnce(0);
  assert.equal(r.port.sent.length, 1);

  learn(r.neigh, target, targetMac, coarseNowMs());
  r.tx.runOnce(0);
  assert.equal(r.tx.pending.size(), 0);
  const out = r.port.sent.slice(1);
  assert.equal(out.length, 2);
  for (const f of out) {
    assert.equal(f.fd, FD0, 'queued packets leave on their bucket NIC');
    assert.equal(dstMac(f), macToString(targetMac));
    assert.equal(srcMac(f), macToString(MACS[0]));
    assert.equal(ethType(f), 0x0800);
    assert.deepEqual(ipOf(f), p);
  }
  assert.equal(vnetCsumStart(out[0].bytes, 0), 34);
  assert.equal(r.counters.drops(D.neigh_unresolved), 0);
});

test('a stale neighbour is still used and re-validated with one ARP request', () => {
  const r = rig();
  const now = coarseNowMs();
  learn(r.neigh, PEER, PEER_MAC, now - 40_000);
  const p = udp4({ src: ADDR0, dst: PEER });
  r.tun.push(p).push(p);
  r.tx.runOnce(0);
  const data = r.port.sent.filter((f) => ethType(f) === 0x0800);
  const reqs = r.port.sent.filter((f) => ethType(f) === 0x0806);
  assert.equal(data.length, 2);
  assert.equal(dstMac(data[0]), macToString(PEER_MAC));
  assert.equal(reqs.length, 1);
  assert.equal(reqs[0].fd, FD0);
  assert.equal(arpTpa(reqs[0].bytes, 24), ip4(PEER));
});

test('a waiting packet is dropped as neigh_unresolved after PENDING_TIMEOUT_MS (explicit clock)', () => {
  const g = twoNicGroup();
  const port = new FakePacketPort();
  const t = new TableReader(g.view, H_ACK_TX);
  t.refresh();
  const resolver = new Resolver(t, port, g.counters);
  const q = new PendingQueue(t, g.neigh, port, g.counters, resolver);
  const buf = new Uint8Array(SLOT_SIZE);
  const p = tcp4({ src: ADDR0, dst: '198.18.0.99' });
  buf.set(p, IP_OFF);
  const t0 = 1_000_000;
  q.enqueue(ip4('198.18.0.99'), 0, buf, VNET_OFF, p.length, t0);
  assert.equal(q.size(), 1);
  assert.equal(port.sent.length, 1, 'request at enqueue');
  q.service(t0 + 500);
  assert.equal(port.sent.length, 1, 'no repeat within a second');
  q.service(t0 + 1500);
  assert.equal(port.sent.length, 2, 'repeated while waiting');
  q.service(t0 + PENDING_TIMEOUT_MS);
  assert.equal(q.size(), 1);
  assert.equal(g.counters.drops(D.neigh_unresolved), 0);
  q.service(t0 + PENDING_TIMEOUT_MS + 1);
  assert.equal(q.size(), 0);
  assert.equal(g.counters.drops(D.neigh_unresolved), 1);
  // Learnt too late: nothing is sent.
  learn(g.neigh, '198.18.0.99', PEER_MAC, t0 + PENDING_TIMEOUT_MS + 2);
  q.service(t0 + PENDING_TIMEOUT_MS + 2);
  assert.equal(port.sent.filter((f) => rd16(f.bytes, 22) === 0x0800).length, 0);
});

test('the pending queue holds at most 8 packets per next hop', () => {
  const r = rig();
  const p = udp4({ src: ADDR0, dst: '198.18.0.88' });
  for (let i = 0; i < 10; i++) r.tun.push(p);
  r.tx.runOnce(0);
  assert.equal(r.tx.pending.size(), 8);
  assert.equal(r.counters.drops(D.neigh_unresolved), 2);
});

test('broadcast and multicast leave through the nominee only', () => {
  const r = rig();
  r.writer.update((w) => w.setNominee(1));
  const cases: Array<[string, string]> = [
    ['198.18.0.255', 'ff:ff:ff:ff:ff:ff'],
    ['255.255.255.255', 'ff:ff:ff:ff:ff:ff'],
    ['224.0.0.251', '01:00:5e:00:00:fb'],
    ['239.200.1.2', '01:00:5e:48:01:02'],
  ];
  for (const [dst, hw] of cases) {
    r.port.sent.length = 0;
    for (let sport = 5000; sport < 5032; sport++) r.tun.push(udp4({ src: ADDR0, dst, sport, dport: 5353 }));
    r.tx.runOnce(0);
    assert.equal(r.port.sent.length, 32, dst);
    for (const f of r.port.sent) {
      assert.equal(f.fd, FD1, dst);
      assert.equal(dstMac(f), hw, dst);
      assert.equal(srcMac(f), macToString(MACS[1]), dst);
    }
  }
  assert.equal(r.counters.extraValue(X_ARP_REQUESTS), 0);
});

test('broadcast with no nominee is dropped as no_active_nic', () => {
  const r = rig();
  r.writer.update((w) => w.setNominee(null));
  r.tun.push(udp4({ src: ADDR0, dst: '255.255.255.255' }));
  r.tx.runOnce(0);
  assert.equal(r.port.sent.length, 0);
  assert.equal(r.counters.drops(D.no_active_nic), 1);
});

test('no carrier, or a bucket naming an inactive NIC: dropped as no_active_nic', () => {
  const r = rig();
  learn(r.neigh, PEER, PEER_MAC, coarseNowMs());
  r.writer.update((w) => w.setCarrier(false));
  r.tun.push(tcp4({ src: ADDR0, dst: PEER }));
  r.tx.runOnce(0);
  assert.equal(r.port.sent.length, 0);
  assert.equal(r.counters.drops(D.no_active_nic), 1);

  r.writer.update((w) => { w.setCarrier(true); setNics(w, [true, false]); });
  r.tun.push(flowOn(1, ADDR0, PEER));
  r.tun.push(flowOn(0, ADDR0, PEER));
  r.tx.runOnce(0);
  assert.equal(r.counters.drops(D.no_active_nic), 2);
  assert.equal(r.port.sent.length, 1);
  assert.equal(r.port.sent[0].fd, FD0);
});

test('malformed IPv4 is counted, never thrown', () => {
  const r = rig();
  learn(r.neigh, PEER, PEER_MAC, coarseNowMs());
  const badIhl = tcp4({ src: ADDR0, dst: PEER });
  badIhl[0] = 0x44;
  const longTotal = tcp4({ src: ADDR0, dst: PEER });
  longTotal[2] = 0x05; longTotal[3] = 0xdc; // 1500 > 40 bytes read
  const short = tcp4({ src: ADDR0, dst: PEER }).subarray(0, 12);
  const badVersion = tcp4({ src: ADDR0, dst: PEER });
  badVersion[0] = 0x55;
  r.tun.push(badIhl).push(longTotal).push(short).push(new Uint8Array(0));
  assert.doesNotThrow(() => r.tx.runOnce(0));
  assert.equal(r.port.sent.length, 0);
  assert.equal(r.counters.drops(D.malformed), 4);
  r.tun.push(badVersion);
  r.tx.runOnce(0);
  assert.equal(r.port.sent.length, 0);
  assert.equal(r.counters.drops(D.malformed) + r.counters.drops(D.unsupported), 5);
});

test('IPv6 with a route and a resolved neighbour leaves framed as 0x86dd (or is unsupported where IPv6 is not forwarded)', () => {
  const r = rig();
  const a6 = parseIpv6('2001:db8::10');
  const peer6 = parseIpv6('2001:db8::50');
  r.writer.update((w) => {
    w.setAddresses([
      { family: 4, ip: key4(ADDR0), plen: 24, bound: 0 },
      { family: 4, ip: key4(ADDR1), plen: 24, bound: 1 },
      { family: 6, ip: a6, plen: 64, bound: 0 },
    ]);
    w.setRoutes([
      { family: 4, dst: key4('198.18.0.0'), plen: 24, gateway: null, metric: 0 },
      { family: 6, dst: parseIpv6('2001:db8::'), plen: 64, gateway: null, metric: 0 },
    ]);
  });
  r.neigh.update(6, peer6, 0, PEER_MAC, 0, coarseNowMs());
  const p = new Uint8Array(48);
  writeIpv6Header(p, 0, 8, 17, 64, a6, 0, peer6, 0);
  p[40] = 0x9c; p[41] = 0x40; p[42] = 0x00; p[43] = 0x35; p[45] = 8;
  r.tun.push(p);
  assert.doesNotThrow(() => r.tx.runOnce(0));
  const forwardsV6 = r.counters.drops(D.unsupported) === 0;
  if (!forwardsV6) {
    assert.equal(r.port.sent.length, 0);
    assert.equal(r.counters.drops(D.unsupported), 1);
    return;
  }
  assert.equal(r.port.sent.length, 1);
  const f = r.port.sent[0];
  assert.equal(f.fd, FDS[bucketNic(p)]);
  assert.equal(dstMac(f), macToString(PEER_MAC));
  assert.equal(srcMac(f), macToString(MACS[bucketNic(p)]));
  assert.equal(ethType(f), 0x86dd);
  assert.deepEqual(ipOf(f), p);
});

test('a failed batch send is counted as send_error', () => {
  const r = rig();
  learn(r.neigh, PEER, PEER_MAC, coarseNowMs());
  r.port.sendBatchResult = -105;
  r.tun.push(udp4({ src: ADDR0, dst: PEER })).push(udp4({ src: ADDR1, dst: PEER }));
  r.tx.runOnce(0);
  assert.equal(r.counters.drops(D.send_error), 2);
});

test('a flow always leaves on one NIC; after NIC 1 buckets move to NIC 0, NIC 0 flows keep their NIC', () => {
  const r = rig();
  learn(r.neigh, PEER, PEER_MAC, coarseNowMs());
  const flows: Uint8Array[] = [];
  for (let sport = 30000; sport < 30040; sport++) flows.push(tcp4({ src: ADDR0, dst: PEER, sport }));
  const before = new Map<number, number>();
  for (let round = 0; round < 3; round++) {
    r.port.sent.length = 0;
    flows.forEach((p) => r.tun.push(p));
    r.tx.runOnce(0);
    assert.equal(r.port.sent.length, flows.length);
    r.port.sent.forEach((f, i) => {
      if (round === 0) before.set(i, f.fd);
      else assert.equal(f.fd, before.get(i), `flow ${i} moved`);
      assert.equal(f.fd, FDS[bucketNic(flows[i])]);
    });
  }
  const nics = new Set(before.values());
  assert.equal(nics.size, 2, 'the flows use both NICs');

  const failed = splitBuckets();
  for (let i = 0; i < 256; i++) if (failed[i] === 1) failed[i] = 0;
  r.writer.update((w) => { setNics(w, [true, false]); w.setBuckets(failed); });
  r.port.sent.length = 0;
  flows.forEach((p) => r.tun.push(p));
  r.tx.runOnce(0);
  assert.equal(r.port.sent.length, flows.length);
  r.port.sent.forEach((f, i) => {
    assert.equal(f.fd, FD0);
    assert.equal(srcMac(f), macToString(MACS[0]));
    if (before.get(i) === FD0) assert.equal(f.fd, FD0);
  });
  assert.equal(r.counters.drops(D.no_active_nic), 0);
});
