import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TxPath } from '../../../src/dataplane/tx-path.js';
import { RxPath } from '../../../src/dataplane/rx-path.js';
import { ndMulticastMacs } from '../../../src/dataplane/rx6.js';
import { isLocalControl6 } from '../../../src/dataplane/tx6.js';
import { flowBucket } from '../../../src/dataplane/flowhash.js';
import { Announcer } from '../../../src/daemon/announcer.js';
import { D, X_ARP_REPLIES, X_ARP_REQUESTS } from '../../../src/tables/counters.js';
import { LOOKUP_FRESH, coarseNowMs } from '../../../src/tables/neighbours.js';
import { rd16, wr16 } from '../../../src/wire/bytes.js';
import { macToString } from '../../../src/wire/ethernet.js';
import {
  NA_FLAG_OVERRIDE, NA_FLAG_SOLICITED, ND_OPT_SOURCE_LINKADDR, ND_OPT_TARGET_LINKADDR, buildNeighborAdvert,
  buildNeighborSolicit, icmp6Checksum, icmp6ChecksumOk, ndFindLinkLayerOpt,
} from '../../../src/wire/icmp6-nd.js';
import { ipv6ToString, parseIpv6, solicitedNodeAddr, solicitedNodeMac, writeIpv6Header } from '../../../src/wire/ipv6.js';
import { FakePacketPort, FakeTun, type SentFrame } from '../../fakes/ports.js';
import { eth, key4, mac } from '../../fakes/frames.js';
import { ADDR0, ADDR1, FD0, FD1, FDS, MAC0, MAC1, MACS, type Group, twoNicGroup } from '../../fakes/group.js';

const A10 = parseIpv6('2001:db8::10'); // bound to NIC 0
const A11 = parseIpv6('2001:db8::11'); // bound to NIC 1
const PEER = parseIpv6('2001:db8::50');
const GW = parseIpv6('2001:db8::1');
const REMOTE = parseIpv6('2001:db8:1::99');
const PEER_MAC = mac('52:54:00:00:00:50');
const GW_MAC = mac('52:54:00:00:00:01');

/** The two-NIC fake group plus IPv6 data addresses and routes. */
function group6(): Group {
  const g = twoNicGroup();
  g.writer.update((w) => {
    w.setAddresses([
      { family: 4, ip: key4(ADDR0), plen: 24, bound: 0 },
      { family: 4, ip: key4(ADDR1), plen: 24, bound: 1 },
      { family: 6, ip: A10, plen: 64, bound: 0 },
      { family: 6, ip: A11, plen: 64, bound: 1 },
    ]);
    w.setRoutes([
      { family: 4, dst: key4('198.18.0.0'), plen: 24, gateway: null, metric: 0 },
      { family: 6, dst: parseIpv6('2001:db8::'), plen: 64, gateway: null, metric: 0 },
      { family: 6, dst: parseIpv6('2001:db8:1::'), plen: 64, gateway: GW, metric: 0 },
    ]);
  });
  return g;
}

/** ICMPv6 packet (type, 4 bytes of body) from src to dst, with a correct checksum; hbh adds a hop-by-hop header. */
function icmp6(src: Uint8Array, dst: Uint8Array, type: number, id = 7, hbh = false): Uint8Array {
  const ext = hbh ? 8 : 0;
  const p = new Uint8Array(40 + ext + 8);
  writeIpv6Header(p, 0, ext + 8, hbh ? 0 : 58, hbh ? 1 : 64, src, 0, dst, 0);
  if (hbh) { p[40] = 58; p[41] = 0; p[42] = 5; p[43] = 2; } // router alert
  const l4 = 40 + ext;
  p[l4] = type;
  wr16(p, l4 + 4, id);
  wr16(p, l4 + 6, 1);
  if (!hbh) wr16(p, l4 + 2, icmp6Checksum(p, 0, l4, 8));
  return p;
}
const echo6 = (src: Uint8Array, dst: Uint8Array, id = 7) => icmp6(src, dst, 128, id);

/** An echo request from src to dst whose flow bucket maps to NIC `nic` (even → 0, odd → 1). */
function echoOn(nic: number, src: Uint8Array, dst: Uint8Array): Uint8Array {
  for (let id = 1; id < 4096; id++) {
    const p = echo6(src, dst, id);
    if ((flowBucket(p, 0, p.length) & 1) === nic) return p;
  }
  throw new Error('no flow found');
}

const dstMac = (f: SentFrame) => macToString(f.bytes, 10);
const srcMac = (f: SentFrame) => macToString(f.bytes, 16);
const ethType = (f: SentFrame) => rd16(f.bytes, 22);
const ip6 = (f: SentFrame) => f.bytes.subarray(24);
const v6 = (b: Uint8Array, off: number) => ipv6ToString(b.slice(off, off + 16));

function txRig() {
  const g = group6();
  const tun = new FakeTun();
  const port = new FakePacketPort();
  return { ...g, tun, port, tx: new TxPath(g.view, g.neigh, g.counters, tun, port) };
}

function rxRig() {
  const g = group6();
  const tun = new FakeTun();
  const port = new FakePacketPort();
  return { ...g, tun, port, rx: new RxPath(g.view, g.neigh, g.counters, tun, port) };
}

/** Checks an NS frame (vnet + Ethernet) sent for target from src with srcMac in the source option. */
function assertNs(f: SentFrame, target: Uint8Array, src: Uint8Array, smac: Uint8Array): void {
  const ip = ip6(f);
  assert.equal(ethType(f), 0x86dd);
  assert.equal(dstMac(f), macToString(solicitedNodeMac(target)));
  assert.equal(srcMac(f), macToString(smac));
  assert.equal(ip[7], 255, 'hop limit');
  assert.equal(v6(ip, 8), ipv6ToString(src));
  assert.equal(v6(ip, 24), ipv6ToString(solicitedNodeAddr(target)));
  assert.equal(ip[40], 135);
  assert.equal(v6(ip, 48), ipv6ToString(target));
  const sll = ndFindLinkLayerOpt(ip, 40, ip.length - 40, ND_OPT_SOURCE_LINKADDR);
  assert.ok(sll > 0);
  assert.equal(macToString(ip, sll), macToString(smac));
  assert.ok(icmp6ChecksumOk(ip, 0, 40, ip.length - 40));
}

// ---- TX ----

test('IPv6 to a resolved on-link neighbour leaves on its bucket NIC as 0x86dd, IP bytes untouched', () => {
  const r = txRig();
  const now = coarseNowMs();
  r.neigh.update(6, PEER, 0, PEER_MAC, 0, now);
  for (const nic of [0, 1]) {
    r.port.sent.length = 0;
    const p = echoOn(nic, A10, PEER);
    r.tun.push(p);
    assert.equal(r.tx.runOnce(0), 1);
    assert.equal(r.port.sent.length, 1);
    const f = r.port.sent[0];
    assert.equal(f.fd, FDS[nic]);
    assert.equal(dstMac(f), macToString(PEER_MAC));
    assert.equal(srcMac(f), macToString(MACS[nic]));
    assert.equal(ethType(f), 0x86dd);
    assert.deepEqual(ip6(f), p);
  }
});

test('IPv6 next hop: on-link is the destination, off-link the gateway, no route is dropped', () => {
  const r = txRig();
  const t = r.tx.tables;
  t.refresh();
  const out = new Uint8Array(16);
  assert.equal(t.nextHop6(PEER, 0, out, 0), true);
  assert.deepEqual(out, PEER);
  assert.equal(t.nextHop6(REMOTE, 0, out, 0), true);
  assert.deepEqual(out, GW);
  assert.equal(t.nextHop6(parseIpv6('2001:db9::1'), 0, out, 0), false);
  r.tun.push(echo6(A10, parseIpv6('2001:db9::1')));
  r.tx.runOnce(0);
  assert.equal(r.port.sent.length, 0);
  assert.equal(r.counters.drops(D.no_route), 1);
});

test('an unresolved IPv6 next hop queues the packet and solicits it from the source address via its bound NIC', () => {
  const r = txRig();
  for (const [src, nic] of [[A10, 0], [A11, 1]] as const) {
    r.port.sent.length = 0;
    const peer = nic === 0 ? PEER : parseIpv6('2001:db8::51');
    const p = echo6(src, peer);
    r.tun.push(p);
    r.tx.runOnce(0);
    assert.equal(r.port.sent.length, 1, 'only the NS leaves');
    const ns = r.port.sent[0];
    assert.equal(ns.fd, FDS[nic]);
    assertNs(ns, peer, src, MACS[nic]);
    assert.equal(r.tx.pending.size(), nic + 1);
  }
  assert.equal(r.counters.extraValue(X_ARP_REQUESTS), 2);
  // The advertisement arrives (the RX worker writes the table): the queued packet leaves.
  r.port.sent.length = 0;
  r.neigh.update(6, PEER, 0, PEER_MAC, 0, coarseNowMs());
  r.tx.runOnce(0);
  const data = r.port.sent.filter((f) => ip6(f)[40] === 128);
  assert.equal(data.length, 1);
  assert.equal(dstMac(data[0]), macToString(PEER_MAC));
  assert.equal(ethType(data[0]), 0x86dd);
  assert.equal(r.tx.pending.size(), 1);
});

test('off-link IPv6 resolves the gateway; a packet from a non-data source solicits from a data address on its prefix', () => {
  const r = txRig();
  r.tun.push(echo6(parseIpv6('2001:db8:5::1'), REMOTE));
  r.tx.runOnce(0);
  assert.equal(r.port.sent.length, 1);
  assertNs(r.port.sent[0], GW, A10, MAC0);
  r.port.sent.length = 0;
  r.neigh.update(6, GW, 0, GW_MAC, 0, coarseNowMs());
  r.tun.push(echoOn(1, A11, REMOTE));
  r.tx.runOnce(0);
  const data = r.port.sent.filter((f) => ip6(f)[40] === 128);
  assert.equal(data.length, 2, 'queued and new packet');
  for (const f of data) assert.equal(dstMac(f), macToString(GW_MAC));
});

test('IPv6 multicast leaves through the nominee with 33:33 + the group\'s last 4 bytes', () => {
  const r = txRig();
  const p = new Uint8Array(48);
  writeIpv6Header(p, 0, 8, 17, 1, A11, 0, parseIpv6('ff02::fb'), 0);
  r.tun.push(p);
  r.tx.runOnce(0);
  assert.equal(r.port.sent.length, 1);
  assert.equal(r.port.sent[0].fd, FD0);
  assert.equal(dstMac(r.port.sent[0]), '33:33:00:00:00:fb');
  assert.equal(srcMac(r.port.sent[0]), macToString(MAC0));
});

test('the kernel\'s own ND, RS and MLD from the TUN are dropped as unsupported, echo is not', () => {
  for (const t of [130, 131, 132, 133, 134, 135, 136, 137, 143]) assert.ok(isLocalControl6(t), String(t));
  for (const t of [1, 2, 3, 4, 128, 129, 138]) assert.ok(!isLocalControl6(t), String(t));
  const r = txRig();
  r.neigh.update(6, PEER, 0, PEER_MAC, 0, coarseNowMs());
  r.tun.push(icmp6(A10, parseIpv6('ff02::1:ff00:50'), 135));
  r.tun.push(icmp6(A10, parseIpv6('ff02::2'), 133));
  r.tun.push(icmp6(A10, parseIpv6('ff02::16'), 143, 0, true));
  r.tun.push(echo6(A10, PEER));
  r.tx.runOnce(0);
  assert.equal(r.counters.drops(D.unsupported), 3);
  assert.equal(r.port.sent.length, 1);
  assert.equal(ip6(r.port.sent[0])[40], 128);
});

test('malformed IPv6 from the TUN is dropped', () => {
  const r = txRig();
  const p = echo6(A10, PEER);
  wr16(p, 4, 200); // payload length beyond the packet
  r.tun.push(p);
  r.tx.runOnce(0);
  assert.equal(r.counters.drops(D.malformed), 1);
  assert.equal(r.port.sent.length, 0);
});

// ---- RX ----

const ethV6 = (dst: Uint8Array, src: Uint8Array, ip: Uint8Array) => eth(dst, src, 0x86dd, ip);

/** The NA in a sent frame: its IPv6 bytes, flags, target and target option MAC. */
function naOf(f: SentFrame) {
  const ip = ip6(f);
  assert.equal(ethType(f), 0x86dd);
  assert.equal(ip[40], 136);
  assert.equal(ip[7], 255);
  assert.ok(icmp6ChecksumOk(ip, 0, 40, ip.length - 40), 'checksum');
  const tll = ndFindLinkLayerOpt(ip, 40, ip.length - 40, ND_OPT_TARGET_LINKADDR);
  assert.ok(tll > 0);
  return { ip, flags: ip[44], target: v6(ip, 48), tll: macToString(ip, tll), dst: v6(ip, 24) };
}

test('unicast IPv6 to a data address is delivered to the TUN without L2 or padding; others are not ours', () => {
  const r = rxRig();
  const p = echo6(PEER, A11);
  const padded = new Uint8Array(p.length + 6);
  padded.set(p);
  r.port.deliver(FD1, ethV6(MAC1, PEER_MAC, padded));
  r.port.deliver(FD0, ethV6(MAC0, PEER_MAC, echo6(PEER, parseIpv6('2001:db8::99'))));
  r.rx.runOnce(0);
  assert.equal(r.tun.written.length, 1);
  assert.deepEqual(r.tun.written[0].ip, p);
  assert.equal(r.counters.drops(D.not_ours), 1);
});

test('IPv6 multicast is delivered only on the nominee', () => {
  const r = rxRig();
  const p = new Uint8Array(48);
  writeIpv6Header(p, 0, 8, 17, 1, PEER, 0, parseIpv6('ff02::fb'), 0);
  const f = ethV6(mac('33:33:00:00:00:fb'), PEER_MAC, p);
  r.port.deliver(FD0, f).deliver(FD1, f);
  r.rx.runOnce(0);
  assert.equal(r.tun.written.length, 1);
  assert.equal(r.counters.drops(D.not_nominee), 1);
});

test('a multicast NS for a data address on the nominee is answered with the bound NIC\'s MAC and the soliciter learned', () => {
  const r = rxRig();
  const now = coarseNowMs();
  r.port.deliver(FD0, buildNeighborSolicit(PEER_MAC, PEER, A11));
  r.port.deliver(FD1, buildNeighborSolicit(PEER_MAC, PEER, A11));
  r.rx.runOnce(0);
  assert.equal(r.counters.drops(D.not_nominee), 1, 'the copy on the other NIC');
  assert.equal(r.port.sent.length, 1);
  const f = r.port.sent[0];
  assert.equal(f.fd, FD0, 'sent on the receiving NIC');
  assert.equal(srcMac(f), macToString(MAC0));
  assert.equal(dstMac(f), macToString(PEER_MAC));
  const na = naOf(f);
  assert.equal(na.flags, NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE);
  assert.equal(na.target, '2001:db8::11');
  assert.equal(na.tll, macToString(MAC1), 'target option = bound NIC');
  assert.equal(na.dst, '2001:db8::50');
  assert.equal(v6(na.ip, 8), '2001:db8::11');
  assert.equal(r.counters.extraValue(X_ARP_REPLIES), 1);
  const got = new Uint8Array(6);
  assert.equal(r.neigh.lookup(6, PEER, 0, now, got, 0), LOOKUP_FRESH);
  assert.equal(macToString(got), macToString(PEER_MAC));
  assert.equal(r.tun.written.length, 0, 'ND is not delivered to ipmp0');
});

test('a unicast NS is answered on the NIC whose MAC it carries; an NS for another host is ignored', () => {
  const r = rxRig();
  const ns = buildNeighborSolicit(PEER_MAC, PEER, A10);
  ns.set(MAC1, 0); // unicast to NIC 1 (NUD after a move)
  r.port.deliver(FD1, ns);
  r.port.deliver(FD0, buildNeighborSolicit(PEER_MAC, PEER, parseIpv6('2001:db8::77')));
  r.rx.runOnce(0);
  assert.equal(r.port.sent.length, 1);
  assert.equal(r.port.sent[0].fd, FD1);
  assert.equal(srcMac(r.port.sent[0]), macToString(MAC1));
  assert.equal(naOf(r.port.sent[0]).tll, macToString(MAC0));
});

test('a DAD NS for a data address is not learned and is answered to all-nodes', () => {
  const r = rxRig();
  r.port.deliver(FD0, buildNeighborSolicit(PEER_MAC, new Uint8Array(16), A10));
  r.rx.runOnce(0);
  assert.equal(r.neigh.entries(coarseNowMs()).length, 0);
  assert.equal(r.port.sent.length, 1);
  const na = naOf(r.port.sent[0]);
  assert.equal(na.dst, 'ff02::1');
  assert.equal(na.flags, NA_FLAG_OVERRIDE);
  assert.equal(dstMac(r.port.sent[0]), '33:33:00:00:00:01');
});

test('an NA updates the neighbour: target option first, else the frame source; a bad checksum is malformed', () => {
  const r = rxRig();
  const other = mac('52:54:00:00:00:99');
  // The unsolicited NA below only refreshes a neighbour already known (RFC 4861 §7.2.5).
  r.neigh.update(6, GW, 0, GW_MAC, 0, coarseNowMs());
  r.port.deliver(FD0, buildNeighborAdvert(PEER_MAC, PEER, MAC0, A10, NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE));
  const noOpt = buildNeighborAdvert(other, GW, mac('33:33:00:00:00:01'), parseIpv6('ff02::1'), NA_FLAG_OVERRIDE);
  // Drop the option: payload 24, recompute the checksum.
  const f = noOpt.slice(0, 14 + 40 + 24);
  wr16(f, 18, 24);
  wr16(f, 56, 0);
  wr16(f, 56, icmp6Checksum(f, 14, 54, 24));
  r.port.deliver(FD0, f);
  const bad = buildNeighborAdvert(PEER_MAC, REMOTE, MAC0, A10, 0);
  bad[60] ^= 1;
  r.port.deliver(FD0, bad);
  r.rx.runOnce(0);
  const got = new Uint8Array(6);
  const now = coarseNowMs();
  assert.equal(r.neigh.lookup(6, PEER, 0, now, got, 0), LOOKUP_FRESH);
  assert.equal(macToString(got), macToString(PEER_MAC));
  assert.equal(r.neigh.lookup(6, GW, 0, now, got, 0), LOOKUP_FRESH);
  assert.equal(macToString(got), macToString(other));
  assert.equal(r.counters.drops(D.malformed), 1);
  assert.equal(r.port.sent.length, 0);
});

// ---- announcements and membership ----

test('an IPv6 rebind sends 3 unsolicited NAs via the nominee: Override, target option = bound MAC', async () => {
  const frames: Array<{ fd: number; f: Uint8Array }> = [];
  const nomMac = MAC0;
  const a = new Announcer({ nominee: () => ({ fd: FD0, mac: nomMac }), send: (fd, f) => { frames.push({ fd, f: f.slice() }); return f.length; } },
    5, 5, 3, 5);
  a.announce('2001:db8::11', MAC1);
  for (let i = 0; i < 50 && a.pending() > 0; i++) await new Promise((res) => setTimeout(res, 5));
  a.stop();
  assert.equal(frames.length, 3);
  for (const { fd, f } of frames) {
    const s: SentFrame = { fd, bytes: f };
    assert.equal(fd, FD0);
    assert.equal(dstMac(s), '33:33:00:00:00:01');
    assert.equal(srcMac(s), macToString(nomMac));
    const na = naOf(s);
    assert.equal(na.flags, NA_FLAG_OVERRIDE);
    assert.equal(na.target, '2001:db8::11');
    assert.equal(na.dst, 'ff02::1');
    assert.equal(na.tll, macToString(MAC1));
  }
});

test('the nominee hears all-nodes and each data address\'s solicited-node group once', () => {
  const macs = ndMulticastMacs([A10, A11, parseIpv6('2001:db8:1::11')]).map((m) => macToString(m));
  assert.deepEqual(macs, ['33:33:00:00:00:01', '33:33:ff:00:00:10', '33:33:ff:00:00:11']);
});
