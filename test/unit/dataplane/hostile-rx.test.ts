// Hostile frames from the wire through the RX path (fake ports): each class gets its verdict
// (delivered, answered, ignored) and the drop reason it is counted under. IPv4 and ARP here;
// Neighbour Discovery in hostile-nd.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RxPath } from '../../../src/dataplane/rx-path.js';
import { VLAN_MARK_LEN } from '../../../src/dataplane/bpf.js';
import { RL_SOURCE_BURST } from '../../../src/dataplane/ratelimit.js';
import { DROP_REASONS, X_ARP_REPLIES, X_DEFENCES } from '../../../src/tables/counters.js';
import { ConflictRing } from '../../../src/tables/conflicts.js';
import { LOOKUP_FRESH, LOOKUP_MISS, NEIGH_CAPACITY, coarseNowMs } from '../../../src/tables/neighbours.js';
import { SolicitTable } from '../../../src/tables/solicits.js';
import { AF_TEST } from '../../../src/tables/shared-tables.js';
import { ARP_OP_REPLY, ARP_OP_REQUEST, arpOp, arpSpa, arpTpa, writeArpBody } from '../../../src/wire/arp.js';
import { wr16 } from '../../../src/wire/bytes.js';
import { BROADCAST_MAC, ZERO_MAC, macToString } from '../../../src/wire/ethernet.js';
import { setIpv4Checksum } from '../../../src/wire/ipv4.js';
import { FakePacketPort, FakeTun } from '../../fakes/ports.js';
import { arpReplyFrame, arpRequestFrame, eth, ip4, key4, mac, udp4, withRouterAlert } from '../../fakes/frames.js';
import { ADDR0, ADDR1, FD0, FD1, type Group, MAC0, MAC1, twoNicGroup } from '../../fakes/group.js';

const PEER = '198.18.0.50';
const PEER_MAC = mac('52:54:00:00:00:50');
const EVIL_MAC = mac('02:de:ad:00:00:01');
const TEST0 = '198.18.0.100'; // NIC 0's test address
const IPV4 = 0x0800;
const ARP = 0x0806;

interface Rig extends Group { tun: FakeTun; port: FakePacketPort; rx: RxPath; ring: ConflictRing }

function rig(): Rig {
  const g = twoNicGroup();
  g.writer.update((w) => w.setAddresses([
    { family: 4, ip: key4(ADDR0), plen: 24, bound: 0 },
    { family: 4, ip: key4(ADDR1), plen: 24, bound: 1 },
    { family: 4, ip: key4(TEST0), plen: 24, bound: 0, flags: AF_TEST },
  ]));
  const tun = new FakeTun();
  const port = new FakePacketPort();
  const ring = new ConflictRing();
  const rx = new RxPath(g.view, g.neigh, g.counters, tun, port, new ConflictRing(ring.sab));
  return { ...g, tun, port, rx, ring };
}

function drops(r: Rig): Record<string, number> {
  const out: Record<string, number> = {};
  DROP_REASONS.forEach((n, i) => { if (r.counters.drops(i) > 0) out[n] = r.counters.drops(i); });
  return out;
}

function known(r: Rig, ip: string): string | null {
  const out = new Uint8Array(6);
  return r.neigh.lookup(4, key4(ip), 0, coarseNowMs(), out, 0) === LOOKUP_MISS ? null : macToString(out);
}

/** A gratuitous ARP (request form, or reply form) announcing ip at hw. */
function garp(hw: Uint8Array, ip: string, op = ARP_OP_REQUEST): Uint8Array {
  const f = eth(BROADCAST_MAC, hw, ARP, new Uint8Array(28));
  writeArpBody(f, 14, op, hw, 0, ip4(ip), op === ARP_OP_REQUEST ? ZERO_MAC : BROADCAST_MAC, 0, ip4(ip));
  return f;
}

test('VLAN: frames the socket filter marked as tagged, and in-band 802.1Q / 802.1ad tags, are dropped as vlan', () => {
  const r = rig();
  const ip = udp4({ src: PEER, dst: ADDR0 });
  r.port.deliver(FD0, eth(MAC0, PEER_MAC, IPV4, ip).subarray(0, VLAN_MARK_LEN));
  const tagged = new Uint8Array(4 + ip.length + 2);
  tagged.set([0x00, 0x64, 0x08, 0x00]);
  tagged.set(ip, 4);
  r.port.deliver(FD0, eth(MAC0, PEER_MAC, 0x8100, tagged));
  r.port.deliver(FD0, eth(MAC0, PEER_MAC, 0x88a8, tagged));
  r.port.deliver(FD0, eth(MAC0, PEER_MAC, IPV4, ip)); // forwarding continues
  r.rx.runOnce(0);
  assert.deepEqual(drops(r), { vlan: 3 });
  assert.equal(r.tun.written.length, 1);
  assert.deepEqual(r.tun.written[0].ip, ip);
});

test('unknown ethertypes (as the filter passes them: the header only) and 802.3 length frames are unsupported', () => {
  const r = rig();
  r.port.deliver(FD0, eth(MAC0, PEER_MAC, 0x88cc, new Uint8Array(0))); // LLDP
  r.port.deliver(FD0, eth(BROADCAST_MAC, PEER_MAC, 0x8035, new Uint8Array(0))); // RARP
  r.port.deliver(FD0, eth(mac('01:80:c2:00:00:00'), PEER_MAC, 38, new Uint8Array(0))); // STP (LLC)
  r.rx.runOnce(0);
  assert.deepEqual(drops(r), { unsupported: 3 });
  assert.equal(r.tun.written.length + r.port.sent.length, 0);
});

test('truncated frames, bad IHL, bad total lengths and a wrong version are malformed; the good frame still goes through', () => {
  const r = rig();
  const good = udp4({ src: PEER, dst: ADDR0, payload: 40 });
  const frame = (ip: Uint8Array) => eth(MAC0, PEER_MAC, IPV4, ip);
  const mutate = (f: (p: Uint8Array) => void) => { const p = good.slice(); f(p); return frame(p); };
  r.port.deliver(FD0, frame(good).subarray(0, 14)); // Ethernet header only
  r.port.deliver(FD0, frame(good).subarray(0, 14 + 19)); // 19 bytes of IPv4
  r.port.deliver(FD0, mutate((p) => { p[0] = 0x44; })); // IHL 4
  r.port.deliver(FD0, mutate((p) => { p[0] = 0x4f; wr16(p, 2, 40); })); // IHL 60 > total 40
  r.port.deliver(FD0, mutate((p) => { wr16(p, 2, 2000); })); // total beyond the frame
  r.port.deliver(FD0, mutate((p) => { wr16(p, 2, 10); })); // total below the header
  r.port.deliver(FD0, mutate((p) => { p[0] = 0x65; })); // version 6 in an IPv4 frame
  r.port.deliver(FD0, frame(good));
  r.rx.runOnce(0);
  assert.deepEqual(drops(r), { malformed: 7 });
  assert.equal(r.tun.written.length, 1);
  assert.deepEqual(r.tun.written[0].ip, good);
});

test('bytes after the IP total length (padding or junk) are not delivered', () => {
  const r = rig();
  const p = udp4({ src: PEER, dst: ADDR0, payload: 100 });
  const junk = new Uint8Array(p.length + 900).fill(0xee);
  junk.set(p);
  r.port.deliver(FD0, eth(MAC0, PEER_MAC, IPV4, junk));
  r.rx.runOnce(0);
  assert.equal(r.tun.written.length, 1);
  assert.deepEqual(r.tun.written[0].ip, p);
});

test('IP options and fragments for a data address are delivered intact (the host reassembles and judges options)', () => {
  const r = rig();
  const base = udp4({ src: PEER, dst: ADDR0, payload: 16 });
  // Router alert option: IHL 6.
  const opts = withRouterAlert(base);
  const first = base.slice();
  first[6] = 0x20; // MF
  setIpv4Checksum(first, 0);
  const last = base.slice();
  wr16(last, 6, 185); // offset 1480, no MF
  setIpv4Checksum(last, 0);
  for (const p of [opts, first, last]) r.port.deliver(FD0, eth(MAC0, PEER_MAC, IPV4, p));
  r.rx.runOnce(0);
  assert.deepEqual(drops(r), {});
  assert.deepEqual(r.tun.written.map((w) => w.ip), [opts, first, last]);
});

test('ARP from a sender on none of our subnets, or a martian sender, is neither answered nor learnt (off_link)', () => {
  const r = rig();
  r.port.deliver(FD0, arpRequestFrame(PEER_MAC, '203.0.113.5', ADDR0));
  r.port.deliver(FD0, arpReplyFrame(PEER_MAC, '203.0.113.6', MAC0, ADDR0));
  for (const martian of ['127.0.0.1', '224.0.0.5', '198.18.0.255', '255.255.255.255']) {
    r.port.deliver(FD0, arpRequestFrame(PEER_MAC, martian, ADDR0));
  }
  r.port.deliver(FD0, arpRequestFrame(PEER_MAC, PEER, ADDR0)); // on-link: answered
  r.rx.runOnce(0);
  assert.deepEqual(drops(r), { off_link: 6 });
  assert.equal(r.port.sent.length, 1);
  assert.equal(arpTpa(r.port.sent[0].bytes, 24), ip4(PEER));
  assert.equal(known(r, '203.0.113.5'), null);
  assert.equal(known(r, '203.0.113.6'), null);
  assert.equal(known(r, PEER), macToString(PEER_MAC));
});

test('ARP with a group or zero sender MAC is malformed and teaches nothing', () => {
  const r = rig();
  const f = arpRequestFrame(PEER_MAC, PEER, ADDR0);
  f.set(BROADCAST_MAC, 14 + 8);
  const z = arpReplyFrame(PEER_MAC, PEER, MAC0, ADDR0);
  z.set(ZERO_MAC, 14 + 8);
  r.port.deliver(FD0, f).deliver(FD0, z);
  r.rx.runOnce(0);
  assert.deepEqual(drops(r), { malformed: 2 });
  assert.equal(r.port.sent.length, 0);
  assert.equal(known(r, PEER), null);
});

test('a gratuitous ARP claiming a data address: counted, never learnt, defended once with our MAC, reported once', () => {
  const r = rig();
  r.port.deliver(FD0, garp(EVIL_MAC, ADDR1));
  r.port.deliver(FD0, garp(EVIL_MAC, ADDR1, ARP_OP_REPLY));
  r.port.deliver(FD0, arpRequestFrame(EVIL_MAC, ADDR1, PEER)); // asking as if it were ADDR1
  r.rx.runOnce(0);
  assert.deepEqual(drops(r), { conflict: 3 });
  assert.equal(known(r, ADDR1), null, 'our own address never enters the neighbour table');
  assert.equal(r.port.sent.length, 1, 'one defence for the three claims');
  const d = r.port.sent[0];
  assert.equal(d.fd, FD0, 'through the nominee');
  assert.equal(macToString(d.bytes, 10), 'ff:ff:ff:ff:ff:ff');
  assert.equal(macToString(d.bytes, 16), macToString(MAC0), 'Ethernet source: the nominee');
  assert.equal(arpOp(d.bytes, 24), ARP_OP_REQUEST);
  assert.equal(macToString(d.bytes, 24 + 8), macToString(MAC1), 'sender MAC: the NIC ADDR1 is bound to');
  assert.equal(arpSpa(d.bytes, 24), ip4(ADDR1));
  assert.equal(arpTpa(d.bytes, 24), ip4(ADDR1));
  assert.equal(r.counters.extraValue(X_DEFENCES), 1);
  const { reports, missed } = r.ring.poll();
  assert.equal(missed, 0);
  assert.deepEqual(reports, [{ family: 4, address: ADDR1, mac: '02:de:ad:00:00:01', nic: 0, kind: 'data', defended: true }]);
  // The binding still answers with our MAC.
  r.port.sent.length = 0;
  r.port.deliver(FD0, arpRequestFrame(PEER_MAC, PEER, ADDR1));
  r.rx.runOnce(0);
  const replies = r.port.sent.filter((s) => arpOp(s.bytes, 24) === ARP_OP_REPLY);
  assert.equal(replies.length, 1);
  assert.equal(macToString(replies[0].bytes, 24 + 8), macToString(MAC1));
});

test('a claim on a test address is reported as such and defended through its own NIC', () => {
  const r = rig();
  r.writer.update((w) => w.setNominee(1));
  r.port.deliver(FD1, garp(EVIL_MAC, TEST0));
  r.rx.runOnce(0);
  assert.deepEqual(drops(r), { conflict: 1 });
  assert.equal(known(r, TEST0), null);
  assert.equal(r.port.sent.length, 1);
  assert.equal(r.port.sent[0].fd, FD0);
  assert.equal(macToString(r.port.sent[0].bytes, 16), macToString(MAC0));
  assert.equal(macToString(r.port.sent[0].bytes, 24 + 8), macToString(MAC0));
  assert.deepEqual(r.ring.poll().reports.map((x) => [x.address, x.kind, x.nic]), [[TEST0, 'test', 1]]);
});

test('our own announcements are not conflicts; a spoofed Ethernet source with our MAC in the body teaches nothing', () => {
  const r = rig();
  r.port.deliver(FD0, garp(MAC1, ADDR1)); // looped back: own_frame
  const spoof = garp(MAC1, ADDR1);
  spoof.set(EVIL_MAC, 6);
  r.port.deliver(FD0, spoof);
  r.rx.runOnce(0);
  assert.deepEqual(drops(r), { own_frame: 1 });
  assert.equal(r.port.sent.length, 0);
  assert.equal(known(r, ADDR1), null);
  assert.equal(r.ring.poll().reports.length, 0);
});

test('a gratuitous ARP from a neighbour refreshes it only when known; unsolicited broadcast replies likewise', () => {
  const r = rig();
  const newMac = mac('52:54:00:00:00:77');
  r.port.deliver(FD0, garp(newMac, '198.18.0.60'));
  r.port.deliver(FD0, garp(newMac, '198.18.0.61', ARP_OP_REPLY));
  r.rx.runOnce(0);
  assert.equal(known(r, '198.18.0.60'), null);
  assert.equal(known(r, '198.18.0.61'), null);
  r.neigh.update(4, key4('198.18.0.60'), 0, PEER_MAC, 0, coarseNowMs());
  r.port.deliver(FD0, garp(newMac, '198.18.0.60'));
  r.rx.runOnce(0);
  assert.equal(known(r, '198.18.0.60'), macToString(newMac));
  assert.deepEqual(drops(r), {});
});

test('an ARP request flood from one source gets RL_SOURCE_BURST replies; another source is still answered', () => {
  const r = rig();
  for (let i = 0; i < 60; i++) r.port.deliver(FD0, arpRequestFrame(PEER_MAC, PEER, ADDR0));
  r.port.deliver(FD0, arpRequestFrame(mac('52:54:00:00:00:51'), '198.18.0.51', ADDR0));
  assert.equal(r.rx.runOnce(0), 61);
  assert.equal(r.counters.extraValue(X_ARP_REPLIES), RL_SOURCE_BURST + 1);
  assert.deepEqual(drops(r), { rate_limited: 60 - RL_SOURCE_BURST });
  assert.equal(arpTpa(r.port.sent.at(-1)!.bytes, 24), ip4('198.18.0.51'));
  assert.equal(r.neigh.lookup(4, key4('198.18.0.51'), 0, coarseNowMs(), new Uint8Array(6), 0), LOOKUP_FRESH);
});

test('ARP probes (sender 0.0.0.0) for a data address are answered, not learnt, and not conflicts', () => {
  const r = rig();
  r.port.deliver(FD0, arpRequestFrame(PEER_MAC, '0.0.0.0', ADDR0));
  r.rx.runOnce(0);
  assert.deepEqual(drops(r), {});
  assert.equal(r.port.sent.length, 1);
  assert.equal(arpTpa(r.port.sent[0].bytes, 24), 0);
  assert.equal(r.neigh.entries(coarseNowMs()).length, 0);
  assert.equal(r.ring.poll().reports.length, 0);
});

test('with the neighbour table full of fresh entries, strangers are answered but not learnt; the answer to our request is', () => {
  const g = twoNicGroup();
  const tun = new FakeTun();
  const port = new FakePacketPort();
  const solicits = new SolicitTable();
  const rx = new RxPath(g.view, g.neigh, g.counters, tun, port, null, solicits);
  const now = coarseNowMs();
  const hw = mac('52:54:00:00:99:99');
  for (let i = 0; i < 20 * NEIGH_CAPACITY; i++) g.neigh.update(4, new Uint8Array([10, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff]), 0, hw, 0, now);
  assert.equal(g.neigh.entries(now).length, NEIGH_CAPACITY);
  port.deliver(FD0, arpRequestFrame(PEER_MAC, '198.18.0.60', ADDR0));
  rx.runOnce(0);
  assert.equal(port.sent.length, 1, 'answered');
  assert.equal(g.neigh.lookup(4, key4('198.18.0.60'), 0, coarseNowMs(), new Uint8Array(6), 0), LOOKUP_MISS, 'not learnt');
  solicits.record(4, key4('198.18.0.61'), 0, coarseNowMs());
  port.deliver(FD0, arpReplyFrame(PEER_MAC, '198.18.0.61', MAC0, ADDR0));
  rx.runOnce(0);
  assert.equal(g.neigh.lookup(4, key4('198.18.0.61'), 0, coarseNowMs(), new Uint8Array(6), 0), LOOKUP_FRESH, 'learnt');
  // An unsolicited reply finds no place either.
  port.deliver(FD0, arpReplyFrame(PEER_MAC, '198.18.0.62', MAC0, ADDR0));
  rx.runOnce(0);
  assert.equal(g.neigh.lookup(4, key4('198.18.0.62'), 0, coarseNowMs(), new Uint8Array(6), 0), LOOKUP_MISS);
});
