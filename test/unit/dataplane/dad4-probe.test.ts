// IPv4 duplicate address detection seen by the RX path (fake ports): another node's ARP probe
// (sender IP 0.0.0.0) for a tentative (unbound) data address is reported to the conflict ring as
// a DAD probe and not answered; our own probe coming back (one of our MACs) is ignored; a
// request for a tentative address is never answered; a claim on a tentative address (the answer
// to our probe) is reported without a defence, and again after DAD_REPORT_INTERVAL_MS however
// recently the address was claimed before; a probe for a bound address is still answered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RxPath } from '../../../src/dataplane/rx-path.js';
import { CONFLICT_INTERVAL_MS, ConflictGuard, DAD_REPORT_INTERVAL_MS } from '../../../src/dataplane/conflicts.js';
import { TableReader } from '../../../src/dataplane/table-reader.js';
import { conflictText } from '../../../src/daemon/forwarding.js';
import { VNET_LEN } from '../../../src/dataplane/layout.js';
import { Counters, D } from '../../../src/tables/counters.js';
import { CK_DATA, ConflictRing } from '../../../src/tables/conflicts.js';
import { AF_TENTATIVE, H_ACK_RX, NO_NIC } from '../../../src/tables/shared-tables.js';
import { ARP_OP_REPLY, arpOp, arpSpa } from '../../../src/wire/arp.js';
import { macToString } from '../../../src/wire/ethernet.js';
import { ipv4ToString } from '../../../src/wire/ipv4.js';
import { FakePacketPort, FakeTun } from '../../fakes/ports.js';
import { arpReplyFrame, arpRequestFrame, key4, mac } from '../../fakes/frames.js';
import { ADDR1, FD0, MAC0, MAC1, twoNicGroup } from '../../fakes/group.js';

const TENTATIVE = '198.18.0.10';
const PEER_MAC = mac('52:54:00:00:00:50');

function rig() {
  const g = twoNicGroup();
  g.writer.update((w) => {
    w.setAddresses([
      { family: 4, ip: key4(TENTATIVE), plen: 24, bound: NO_NIC, flags: AF_TENTATIVE },
      { family: 4, ip: key4(ADDR1), plen: 24, bound: 1 },
    ]);
  });
  const port = new FakePacketPort();
  const ring = new ConflictRing();
  const reader = new ConflictRing(ring.sab);
  const rx = new RxPath(g.view, g.neigh, g.counters, new FakeTun(), port, ring);
  return { ...g, port, reader, rx };
}

/** An ARP probe for `target` (sender IP 0.0.0.0) with sender MAC `sha`, from Ethernet source `src`. */
function probe(sha: Uint8Array, target: string, src = sha): Uint8Array {
  const f = arpRequestFrame(sha, 0, target);
  f.set(src, 6);
  return f;
}

test('another node\'s ARP probe for a tentative address is reported as a DAD probe and not answered', () => {
  const r = rig();
  r.port.deliver(FD0, probe(PEER_MAC, TENTATIVE));
  r.rx.runOnce(0);
  assert.equal(r.port.sent.length, 0, 'a prober stays silent');
  assert.equal(r.counters.drops(D.conflict), 1);
  const { reports } = r.reader.poll();
  assert.deepEqual(reports, [{
    family: 4, address: TENTATIVE, mac: '52:54:00:00:00:50', nic: 0, kind: 'dad', defended: false, nonce: null,
  }]);
  assert.equal(conflictText(reports[0], 'eth0'),
    'node 52:54:00:00:00:50 is probing for our address 198.18.0.10 on eth0 (duplicate address detection)');
});

test('our own probe coming back (a member NIC\'s MAC as Ethernet source or ARP sender) is neither reported nor answered', () => {
  const r = rig();
  r.port.deliver(FD0, probe(MAC1, TENTATIVE));
  r.port.deliver(FD0, probe(MAC1, TENTATIVE, PEER_MAC));
  r.port.deliver(FD0, probe(MAC0, TENTATIVE, PEER_MAC));
  r.rx.runOnce(0);
  assert.deepEqual(r.reader.poll().reports, []);
  assert.equal(r.port.sent.length, 0);
  assert.equal(r.counters.drops(D.conflict), 0);
  assert.equal(r.counters.drops(D.own_frame), 1);
});

test('an ordinary request for a tentative address is not answered; one for a bound address is', () => {
  const r = rig();
  r.port.deliver(FD0, arpRequestFrame(PEER_MAC, '198.18.0.99', TENTATIVE));
  r.rx.runOnce(0);
  assert.equal(r.port.sent.length, 0, 'no answer while tentative');
  assert.deepEqual(r.reader.poll().reports, []);
  r.port.deliver(FD0, arpRequestFrame(PEER_MAC, '198.18.0.99', ADDR1));
  r.rx.runOnce(0);
  assert.equal(r.port.sent.length, 1);
  assert.equal(arpOp(r.port.sent[0].bytes, VNET_LEN + 14), ARP_OP_REPLY);
  assert.equal(ipv4ToString(arpSpa(r.port.sent[0].bytes, VNET_LEN + 14)), ADDR1);
});

test('another node\'s probe for a bound address is answered (RFC 5227: the holder defends), not reported', () => {
  const r = rig();
  r.port.deliver(FD0, probe(PEER_MAC, ADDR1));
  r.rx.runOnce(0);
  assert.deepEqual(r.reader.poll().reports, []);
  assert.equal(r.port.sent.length, 1);
  const f = r.port.sent[0].bytes.subarray(VNET_LEN);
  assert.equal(macToString(f, 0), '52:54:00:00:00:50');
  assert.equal(macToString(f, 14 + 8), macToString(MAC1), 'the bound NIC\'s MAC');
});

test('the holder\'s answer to our probe (a reply from the address) is reported as a claim, not defended', () => {
  const r = rig();
  // A Linux holder answers a probe with a reply from the address to the prober's MAC, target IP 0.
  r.port.deliver(FD0, arpReplyFrame(PEER_MAC, TENTATIVE, MAC0, 0));
  r.rx.runOnce(0);
  const { reports } = r.reader.poll();
  assert.deepEqual(reports.map((x) => [x.kind, x.address, x.mac, x.defended]), [['data', TENTATIVE, '52:54:00:00:00:50', false]]);
  assert.equal(r.port.sent.length, 0);
});

test('claims on a tentative address are reported once per DAD interval, apart from the claim interval', () => {
  const g = twoNicGroup();
  const t = new TableReader(g.view, H_ACK_RX);
  t.refresh();
  const ring = new ConflictRing();
  const guard = new ConflictGuard(t, new Counters(), new FakePacketPort(), new ConflictRing(ring.sab));
  const b = new Uint8Array([198, 18, 0, 10, 0x52, 0x54, 0, 0, 0, 0x50]);
  const t0 = 5_000_000;
  // Claimed while it was unbound (not under DAD): reported, and not again within the interval.
  guard.claim(4, b, 0, 4, 0, CK_DATA, NO_NIC, t0);
  guard.claim(4, b, 0, 4, 0, CK_DATA, NO_NIC, t0 + 100);
  assert.equal(ring.poll().reports.length, 1);
  // DAD starts: the answer to its probe is reported although the address was claimed 1 s ago.
  guard.claim(4, b, 0, 4, 0, CK_DATA, NO_NIC, t0 + 1000, true);
  guard.claim(4, b, 0, 4, 0, CK_DATA, NO_NIC, t0 + 1000 + DAD_REPORT_INTERVAL_MS - 1, true);
  assert.equal(ring.poll().reports.length, 1);
  guard.claim(4, b, 0, 4, 0, CK_DATA, NO_NIC, t0 + 1000 + DAD_REPORT_INTERVAL_MS, true);
  assert.equal(ring.poll().reports.length, 1, 'again after the DAD interval');
  guard.claim(4, b, 0, 4, 0, CK_DATA, NO_NIC, t0 + CONFLICT_INTERVAL_MS - 1);
  assert.equal(ring.poll().reports.length, 0, 'the claim interval is untouched');
});

