// Another node's duplicate address detection probe (NS from ::) through the RX path (fake ports):
// for a tentative (unbound) data address it is reported to the conflict ring with its nonce and
// not answered; our own probe looped back (one of our NICs' MACs) is ignored; for a bound
// address it is answered with a defending NA to all-nodes and not reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RxPath } from '../../../src/dataplane/rx-path.js';
import { D } from '../../../src/tables/counters.js';
import { CK_DAD, ConflictRing } from '../../../src/tables/conflicts.js';
import { conflictText } from '../../../src/daemon/forwarding.js';
import { macToString } from '../../../src/wire/ethernet.js';
import {
  NA_FLAG_OVERRIDE, ND_NEIGHBOR_ADVERT, ND_NEIGHBOR_SOLICIT, ND_NONCE_LEN, ND_OPT_NONCE, ND_OPT_SOURCE_LINKADDR,
  buildNeighborSolicit, ndFindLinkLayerOpt, ndFindNonce, ndTargetOffset, validateNd, writeDadSolicit,
} from '../../../src/wire/icmp6-nd.js';
import { ipv6ToString, parseIpv6 } from '../../../src/wire/ipv6.js';
import { WIRE_NOT_FOUND } from '../../../src/wire/result.js';
import { FakePacketPort, FakeTun } from '../../fakes/ports.js';
import { mac } from '../../fakes/frames.js';
import { FD0, MAC0, MAC1, twoNicGroup } from '../../fakes/group.js';
import { VNET_LEN } from '../../../src/dataplane/layout.js';
import { NO_NIC } from '../../../src/tables/shared-tables.js';

const TENTATIVE = parseIpv6('2001:db8::10');
const BOUND = parseIpv6('2001:db8::11');
const PEER_MAC = mac('52:54:00:00:00:50');
const NONCE = new Uint8Array([1, 2, 3, 4, 5, 6]);

function rig() {
  const g = twoNicGroup();
  g.writer.update((w) => {
    w.setAddresses([
      { family: 6, ip: TENTATIVE, plen: 64, bound: NO_NIC },
      { family: 6, ip: BOUND, plen: 64, bound: 1 },
    ]);
    w.setRoutes([{ family: 6, dst: parseIpv6('2001:db8::'), plen: 64, gateway: null, metric: 0 }]);
  });
  const port = new FakePacketPort();
  const ring = new ConflictRing();
  const reader = new ConflictRing(ring.sab);
  const rx = new RxPath(g.view, g.neigh, g.counters, new FakeTun(), port, ring);
  return { ...g, port, reader, rx };
}

function dadProbe(src: Uint8Array, target: Uint8Array, nonce: Uint8Array | null): Uint8Array {
  if (nonce === null) return buildNeighborSolicit(src, new Uint8Array(16), target);
  const f = new Uint8Array(86);
  assert.equal(writeDadSolicit(f, 0, src, 0, target, 0, nonce, 0), 86);
  return f;
}

test('writeDadSolicit: NS from :: to the solicited-node group, no source option, one nonce option, valid', () => {
  const f = dadProbe(MAC0, TENTATIVE, NONCE);
  assert.equal(macToString(f, 0), '33:33:ff:00:00:10');
  assert.equal(ipv6ToString(f, 22), '::');
  assert.equal(ipv6ToString(f, 38), 'ff02::1:ff00:10');
  assert.equal(validateNd(f, 14, 72), 32);
  assert.equal(f[54], ND_NEIGHBOR_SOLICIT);
  assert.equal(ipv6ToString(f, ndTargetOffset(54)), '2001:db8::10');
  assert.equal(ndFindLinkLayerOpt(f, 54, 32, ND_OPT_SOURCE_LINKADDR), WIRE_NOT_FOUND);
  const n = ndFindNonce(f, 54, 32);
  assert.equal(f[n - 2], ND_OPT_NONCE);
  assert.equal(f[n - 1], 1);
  assert.deepEqual([...f.subarray(n, n + ND_NONCE_LEN)], [...NONCE]);
});

test('another node\'s DAD probe for a tentative address is reported with its nonce and not answered', () => {
  const r = rig();
  r.port.deliver(FD0, dadProbe(PEER_MAC, TENTATIVE, NONCE));
  r.rx.runOnce(0);
  assert.equal(r.port.sent.length, 0, 'no answer for a tentative address');
  assert.equal(r.counters.drops(D.conflict), 1);
  const { reports } = r.reader.poll();
  assert.deepEqual(reports, [{
    family: 6, address: '2001:db8::10', mac: '52:54:00:00:00:50', nic: 0, kind: 'dad', defended: false, nonce: '010203040506',
  }]);
  assert.equal(conflictText(reports[0], 'eth0'),
    'node 52:54:00:00:00:50 is probing for our address 2001:db8::10 on eth0 (duplicate address detection)');
  assert.equal(CK_DAD, 2);
});

test('a probe without a nonce is reported with nonce null; a flood is reported once per interval', () => {
  const r = rig();
  for (let i = 0; i < 5; i++) r.port.deliver(FD0, dadProbe(PEER_MAC, TENTATIVE, null));
  r.rx.runOnce(0);
  const { reports } = r.reader.poll();
  assert.equal(reports.length, 1);
  assert.equal(reports[0].kind, 'dad');
  assert.equal(reports[0].nonce, null);
  assert.equal(r.counters.drops(D.conflict), 5);
  assert.equal(r.port.sent.length, 0);
});

test('our own probe looped back through the switch (a member NIC\'s MAC) is neither reported nor answered', () => {
  const r = rig();
  r.port.deliver(FD0, dadProbe(MAC0, TENTATIVE, NONCE));
  r.port.deliver(FD0, dadProbe(MAC1, TENTATIVE, null));
  r.port.deliver(FD0, dadProbe(MAC1, BOUND, NONCE));
  r.rx.runOnce(0);
  assert.deepEqual(r.reader.poll().reports, []);
  assert.equal(r.port.sent.length, 0);
  assert.equal(r.counters.drops(D.conflict), 0);
});

test('a DAD probe for a bound (preferred) address gets a defending NA to all-nodes and is not reported', () => {
  const r = rig();
  r.port.deliver(FD0, dadProbe(PEER_MAC, BOUND, NONCE));
  r.rx.runOnce(0);
  assert.deepEqual(r.reader.poll().reports, []);
  assert.equal(r.port.sent.length, 1);
  const f = r.port.sent[0].bytes.subarray(VNET_LEN);
  assert.equal(macToString(f, 0), '33:33:00:00:00:01');
  assert.equal(f[54], ND_NEIGHBOR_ADVERT);
  assert.equal(f[58] & 0xe0, NA_FLAG_OVERRIDE, 'Override, not Solicited');
  assert.equal(ipv6ToString(f, 38), 'ff02::1');
  assert.equal(ipv6ToString(f, ndTargetOffset(54)), '2001:db8::11');
  assert.equal(macToString(f, ndFindLinkLayerOpt(f, 54, 32, 2)), macToString(MAC1), 'the bound NIC\'s MAC');
});
