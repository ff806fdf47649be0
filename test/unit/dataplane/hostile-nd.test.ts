// Hostile Neighbour Discovery through the RX path (fake ports): claims on our IPv6 addresses,
// malformed link-layer options and sources, off-link soliciters, unsolicited advertisements
// and NS floods. Each case asserts the verdict and the drop reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RxPath } from '../../../src/dataplane/rx-path.js';
import { RL_SOURCE_BURST } from '../../../src/dataplane/ratelimit.js';
import { DROP_REASONS, X_ARP_REPLIES, X_DEFENCES } from '../../../src/tables/counters.js';
import { ConflictRing } from '../../../src/tables/conflicts.js';
import { LOOKUP_MISS, coarseNowMs } from '../../../src/tables/neighbours.js';
import { AF_TEST } from '../../../src/tables/shared-tables.js';
import { wr16 } from '../../../src/wire/bytes.js';
import { macToString } from '../../../src/wire/ethernet.js';
import {
  NA_FLAG_OVERRIDE, NA_FLAG_SOLICITED, ND_OPT_TARGET_LINKADDR, buildNeighborAdvert, buildNeighborSolicit,
  buildUnsolicitedNeighborAdvert, icmp6Checksum, ndFindLinkLayerOpt,
} from '../../../src/wire/icmp6-nd.js';
import { ipv6ToString, parseIpv6, writeIpv6Header } from '../../../src/wire/ipv6.js';
import { FakePacketPort, FakeTun } from '../../fakes/ports.js';
import { eth, key4, mac } from '../../fakes/frames.js';
import { ADDR0, ADDR1, FD0, type Group, MAC0, MAC1, twoNicGroup } from '../../fakes/group.js';

const A10 = parseIpv6('2001:db8::10'); // bound to NIC 0
const A11 = parseIpv6('2001:db8::11'); // bound to NIC 1
const TEST6 = parseIpv6('fe80::100'); // NIC 1's IPv6 test address
const PEER = parseIpv6('2001:db8::50');
const PEER_LL = parseIpv6('fe80::50');
const PEER_MAC = mac('52:54:00:00:00:50');
const EVIL_MAC = mac('02:de:ad:00:00:06');

interface Rig extends Group { tun: FakeTun; port: FakePacketPort; rx: RxPath; ring: ConflictRing }

function rig(): Rig {
  const g = twoNicGroup();
  g.writer.update((w) => {
    w.setAddresses([
      { family: 4, ip: key4(ADDR0), plen: 24, bound: 0 },
      { family: 4, ip: key4(ADDR1), plen: 24, bound: 1 },
      { family: 6, ip: A10, plen: 64, bound: 0 },
      { family: 6, ip: A11, plen: 64, bound: 1 },
      { family: 6, ip: TEST6, plen: 64, bound: 1, flags: AF_TEST },
    ]);
    w.setRoutes([{ family: 6, dst: parseIpv6('2001:db8::'), plen: 64, gateway: null, metric: 0 }]);
  });
  const tun = new FakeTun();
  const port = new FakePacketPort();
  const ring = new ConflictRing();
  return { ...g, tun, port, ring, rx: new RxPath(g.view, g.neigh, g.counters, tun, port, new ConflictRing(ring.sab)) };
}

function drops(r: Rig): Record<string, number> {
  const out: Record<string, number> = {};
  DROP_REASONS.forEach((n, i) => { if (r.counters.drops(i) > 0) out[n] = r.counters.drops(i); });
  return out;
}

function known(r: Rig, a: Uint8Array): string | null {
  const out = new Uint8Array(6);
  return r.neigh.lookup(6, a, 0, coarseNowMs(), out, 0) === LOOKUP_MISS ? null : macToString(out);
}

/** Rewrites the ICMPv6 checksum of an Ethernet + IPv6 + ICMPv6 frame after an edit. */
function fixSum(f: Uint8Array): Uint8Array {
  const icmpLen = (f[18] << 8) | f[19];
  wr16(f, 56, 0);
  wr16(f, 56, icmp6Checksum(f, 14, 54, icmpLen));
  return f;
}

test('an unsolicited NA claiming a data address: conflict, not learnt, one NA defence with our MAC via the nominee', () => {
  const r = rig();
  r.port.deliver(FD0, buildUnsolicitedNeighborAdvert(EVIL_MAC, A11));
  r.port.deliver(FD0, buildUnsolicitedNeighborAdvert(EVIL_MAC, A11));
  r.rx.runOnce(0);
  assert.deepEqual(drops(r), { conflict: 2 });
  assert.equal(known(r, A11), null);
  assert.equal(r.port.sent.length, 1);
  const d = r.port.sent[0].bytes;
  assert.equal(r.port.sent[0].fd, FD0);
  assert.equal(macToString(d, 10), '33:33:00:00:00:01');
  assert.equal(macToString(d, 16), macToString(MAC0));
  const ip = d.subarray(24);
  assert.equal(ip[40], 136);
  assert.equal(ip[44], NA_FLAG_OVERRIDE);
  assert.equal(ipv6ToString(ip.slice(48, 64)), '2001:db8::11');
  const tll = ndFindLinkLayerOpt(ip, 40, ip.length - 40, ND_OPT_TARGET_LINKADDR);
  assert.equal(macToString(ip, tll), macToString(MAC1), 'target option: the bound NIC');
  assert.equal(r.counters.extraValue(X_DEFENCES), 1);
  assert.deepEqual(r.ring.poll().reports, [{ family: 6, address: '2001:db8::11', mac: '02:de:ad:00:00:06', nic: 0, kind: 'data', defended: true }]);
});

test('an NS sent from one of our addresses by a foreign MAC is a conflict; from a test address too', () => {
  const r = rig();
  r.port.deliver(FD0, buildNeighborSolicit(EVIL_MAC, A10, PEER));
  r.port.deliver(FD0, buildNeighborSolicit(EVIL_MAC, TEST6, PEER_LL));
  r.rx.runOnce(0);
  assert.deepEqual(drops(r), { conflict: 2 });
  assert.equal(known(r, A10), null);
  assert.deepEqual(r.ring.poll().reports.map((x) => [x.address, x.kind]), [['2001:db8::10', 'data'], ['fe80::100', 'test']]);
  // The test address is defended through its own NIC (1) with its MAC.
  const test = r.port.sent.find((s) => s.fd === 11);
  assert.ok(test, 'a defence on NIC 1');
  assert.equal(macToString(test.bytes, 16), macToString(MAC1));
});

test('link-layer options with a group MAC, multicast sources, DAD probes with a source option, solicited NAs to a group are malformed', () => {
  const r = rig();
  r.port.deliver(FD0, buildNeighborSolicit(mac('33:33:00:00:00:01'), PEER, A10)); // sll = group MAC
  const fromMcast = buildNeighborSolicit(PEER_MAC, PEER, A10);
  fromMcast.set(parseIpv6('ff02::1'), 14 + 8);
  r.port.deliver(FD0, fixSum(fromMcast));
  const dadOpt = buildNeighborSolicit(PEER_MAC, PEER, A10);
  dadOpt.fill(0, 14 + 8, 14 + 24); // source :: but the option stays
  r.port.deliver(FD0, fixSum(dadOpt));
  r.port.deliver(FD0, buildNeighborAdvert(PEER_MAC, PEER, mac('33:33:00:00:00:01'), parseIpv6('ff02::1'), NA_FLAG_SOLICITED));
  r.rx.runOnce(0);
  assert.deepEqual(drops(r), { malformed: 4 });
  assert.equal(r.port.sent.length, 0);
  assert.equal(r.neigh.entries(coarseNowMs()).length, 0);
});

test('an NS from an off-link global source is neither answered nor learnt; from a link-local source it is', () => {
  const r = rig();
  r.port.deliver(FD0, buildNeighborSolicit(PEER_MAC, parseIpv6('2001:db8:99::5'), A10));
  r.port.deliver(FD0, buildNeighborSolicit(PEER_MAC, PEER_LL, A10));
  r.rx.runOnce(0);
  assert.deepEqual(drops(r), { off_link: 1 });
  assert.equal(r.port.sent.length, 1);
  assert.equal(known(r, parseIpv6('2001:db8:99::5')), null);
  assert.equal(known(r, PEER_LL), macToString(PEER_MAC));
});

test('an unsolicited NA for an unknown neighbour is ignored; a solicited one to us is learnt', () => {
  const r = rig();
  r.port.deliver(FD0, buildUnsolicitedNeighborAdvert(PEER_MAC, PEER));
  r.rx.runOnce(0);
  assert.equal(known(r, PEER), null);
  r.port.deliver(FD0, buildNeighborAdvert(PEER_MAC, PEER, MAC0, A10, NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE));
  r.rx.runOnce(0);
  assert.equal(known(r, PEER), macToString(PEER_MAC));
  assert.deepEqual(drops(r), {});
});

test('an NS flood from one source gets RL_SOURCE_BURST answers; the rest are rate_limited', () => {
  const r = rig();
  for (let i = 0; i < 50; i++) r.port.deliver(FD0, buildNeighborSolicit(PEER_MAC, PEER, A10));
  r.rx.runOnce(0);
  assert.equal(r.counters.extraValue(X_ARP_REPLIES), RL_SOURCE_BURST);
  assert.deepEqual(drops(r), { rate_limited: 50 - RL_SOURCE_BURST });
});

test('IPv6 from the wire: truncated header, payload length beyond the frame, a wrong version are malformed; the good one is delivered', () => {
  const r = rig();
  const good = new Uint8Array(40 + 16);
  writeIpv6Header(good, 0, 16, 17, 64, PEER, 0, A10, 0);
  const frame = (ip: Uint8Array) => eth(MAC0, PEER_MAC, 0x86dd, ip);
  r.port.deliver(FD0, frame(good.subarray(0, 39)));
  const long = good.slice();
  wr16(long, 4, 1000);
  r.port.deliver(FD0, frame(long));
  const v4 = good.slice();
  v4[0] = 0x45;
  r.port.deliver(FD0, frame(v4));
  r.port.deliver(FD0, frame(good));
  r.rx.runOnce(0);
  assert.deepEqual(drops(r), { malformed: 3 });
  assert.equal(r.tun.written.length, 1);
  assert.deepEqual(r.tun.written[0].ip, good);
});
