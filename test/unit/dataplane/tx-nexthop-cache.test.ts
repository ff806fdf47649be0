// The TX path reuses the last fresh next-hop MAC while the neighbour table is unchanged:
// a changed entry, and packets to other next hops, must still get the right MAC.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TxPath } from '../../../src/dataplane/tx-path.js';
import { coarseNowMs } from '../../../src/tables/neighbours.js';
import { macToString } from '../../../src/wire/ethernet.js';
import { FakePacketPort, FakeTun } from '../../fakes/ports.js';
import { mac, udp4 } from '../../fakes/frames.js';
import { ADDR0, GW, learn, twoNicGroup } from '../../fakes/group.js';

const PEER = '198.18.0.50';
const OTHER = '198.18.0.51';

function rig() {
  const g = twoNicGroup();
  const tun = new FakeTun();
  const port = new FakePacketPort();
  return { ...g, tun, port, tx: new TxPath(g.view, g.neigh, g.counters, tun, port) };
}

const dstMacs = (port: FakePacketPort): string[] => port.sent.map((f) => macToString(f.bytes, 10));

test('a neighbour whose MAC changes is addressed with the new MAC from the next packet on', () => {
  const r = rig();
  const a = mac('52:54:00:00:00:aa');
  const b = mac('52:54:00:00:00:bb');
  learn(r.neigh, PEER, a, coarseNowMs());
  r.tun.push(udp4({ src: ADDR0, dst: PEER, sport: 1 }));
  r.tun.push(udp4({ src: ADDR0, dst: PEER, sport: 2 }));
  assert.equal(r.tx.runOnce(0), 2);
  learn(r.neigh, PEER, b, coarseNowMs());
  r.tun.push(udp4({ src: ADDR0, dst: PEER, sport: 3 }));
  assert.equal(r.tx.runOnce(0), 1);
  assert.deepEqual(dstMacs(r.port), [macToString(a), macToString(a), macToString(b)]);
});

test('packets to different next hops in one batch each get their own MAC', () => {
  const r = rig();
  const now = coarseNowMs();
  const m = [mac('52:54:00:00:00:01'), mac('52:54:00:00:00:02'), mac('52:54:00:00:00:03')];
  learn(r.neigh, PEER, m[0], now);
  learn(r.neigh, OTHER, m[1], now);
  learn(r.neigh, GW, m[2], now);
  const dsts = [PEER, PEER, OTHER, PEER, '198.19.0.9', OTHER, '198.19.0.10'];
  dsts.forEach((d, i) => r.tun.push(udp4({ src: ADDR0, dst: d, sport: 100 + i })));
  assert.equal(r.tx.runOnce(0), dsts.length);
  const want = dsts.map((d) => macToString(d === PEER ? m[0] : d === OTHER ? m[1] : m[2]));
  assert.deepEqual(dstMacs(r.port), want);
});
