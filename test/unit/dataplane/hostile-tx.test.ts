// Malformed packets from the host into ipmp0 through the TX path (fake TUN): each kind is
// counted as malformed and the good packets around it in the same batch still leave.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TxPath } from '../../../src/dataplane/tx-path.js';
import { flowBucket } from '../../../src/dataplane/flowhash.js';
import { REQUEST_BURST, REQUEST_RATE, Resolver } from '../../../src/dataplane/resolver.js';
import { TableReader } from '../../../src/dataplane/table-reader.js';
import { DROP_REASONS, X_REQUESTS_LIMITED } from '../../../src/tables/counters.js';
import { H_ACK_TX } from '../../../src/tables/shared-tables.js';
import { coarseNowMs } from '../../../src/tables/neighbours.js';
import { wr16 } from '../../../src/wire/bytes.js';
import { setIpv4Checksum } from '../../../src/wire/ipv4.js';
import { parseIpv6, writeIpv6Header } from '../../../src/wire/ipv6.js';
import { FakePacketPort, FakeTun } from '../../fakes/ports.js';
import { ip4, key4, mac, udp4, withRouterAlert } from '../../fakes/frames.js';
import { ADDR0, ADDR1, type Group, learn, twoNicGroup } from '../../fakes/group.js';

const PEER = '198.18.0.50';
const PEER_MAC = mac('52:54:00:00:00:50');
const A10 = parseIpv6('2001:db8::10');
const PEER6 = parseIpv6('2001:db8::50');

interface Rig extends Group { tun: FakeTun; port: FakePacketPort; tx: TxPath }

function rig(): Rig {
  const g = twoNicGroup();
  g.writer.update((w) => {
    w.setAddresses([
      { family: 4, ip: key4(ADDR0), plen: 24, bound: 0 },
      { family: 4, ip: key4(ADDR1), plen: 24, bound: 1 },
      { family: 6, ip: A10, plen: 64, bound: 0 },
    ]);
    w.setRoutes([
      { family: 4, dst: key4('198.18.0.0'), plen: 24, gateway: null, metric: 0 },
      { family: 6, dst: parseIpv6('2001:db8::'), plen: 64, gateway: null, metric: 0 },
    ]);
  });
  learn(g.neigh, PEER, PEER_MAC, coarseNowMs());
  g.neigh.update(6, PEER6, 0, PEER_MAC, 0, coarseNowMs());
  const tun = new FakeTun();
  const port = new FakePacketPort();
  return { ...g, tun, port, tx: new TxPath(g.view, g.neigh, g.counters, tun, port) };
}

function drops(r: Rig): Record<string, number> {
  const out: Record<string, number> = {};
  DROP_REASONS.forEach((n, i) => { if (r.counters.drops(i) > 0) out[n] = r.counters.drops(i); });
  return out;
}

/** UDP over IPv6 with `ext` destination-options headers (8 bytes each) before it. */
function udp6(ext = 0, payload = 8): Uint8Array {
  const p = new Uint8Array(40 + ext * 8 + 8 + payload);
  writeIpv6Header(p, 0, p.length - 40, ext > 0 ? 60 : 17, 64, A10, 0, PEER6, 0);
  for (let i = 0; i < ext; i++) { const o = 40 + i * 8; p[o] = i === ext - 1 ? 17 : 60; p[o + 1] = 0; p[o + 2] = 1; p[o + 3] = 4; }
  const u = 40 + ext * 8;
  wr16(p, u, 40000); wr16(p, u + 2, 53); wr16(p, u + 4, 8 + payload);
  return p;
}

test('zero-length, short, bad-version, bad-IHL and bad-total-length IPv4 are malformed; the good ones in the batch leave', () => {
  const r = rig();
  const good = udp4({ src: ADDR0, dst: PEER, payload: 20 }); // 48 bytes
  const m = (f: (p: Uint8Array) => void) => { const p = good.slice(); f(p); return p; };
  const bad = [
    new Uint8Array(0),
    good.subarray(0, 1),
    good.subarray(0, 19),
    m((p) => { p[0] = 0x55; }), // version 5
    m((p) => { p[0] = 0x05; }), // version 0
    m((p) => { p[0] = 0x43; }), // IHL 3
    m((p) => { p[0] = 0x4f; }), // IHL 60 > total
    m((p) => { wr16(p, 2, good.length + 1); }), // total beyond the read
    m((p) => { wr16(p, 2, 0); }),
  ];
  for (const p of bad) r.tun.push(p).push(good);
  r.tx.runOnce(0);
  assert.deepEqual(drops(r), { malformed: bad.length });
  assert.equal(r.port.sent.length, bad.length);
  for (const s of r.port.sent) assert.deepEqual(s.bytes.subarray(24), good);
});

test('bytes after the IPv4 total length are not sent', () => {
  const r = rig();
  const p = udp4({ src: ADDR0, dst: PEER, payload: 10 });
  const long = new Uint8Array(p.length + 100).fill(0xee);
  long.set(p);
  r.tun.push(long);
  r.tx.runOnce(0);
  assert.equal(r.port.sent.length, 1);
  assert.deepEqual(r.port.sent[0].bytes.subarray(24), p);
  assert.deepEqual(drops(r), {});
});

test('IPv6: payload length beyond the read, 0 with bytes after it, endless extension chains are malformed; trailing bytes are cut', () => {
  const r = rig();
  const good = udp6(2);
  const beyond = udp6();
  wr16(beyond, 4, beyond.length); // 40 bytes more than there are
  const jumbo = udp6();
  wr16(jumbo, 4, 0);
  const endless = udp6(200); // 200 destination-options headers
  const trailing = new Uint8Array(good.length + 30).fill(0xee);
  trailing.set(good);
  for (const p of [beyond, jumbo, endless, udp6(9), good.subarray(0, 39)]) r.tun.push(p).push(good);
  r.tun.push(trailing);
  r.tx.runOnce(0);
  assert.deepEqual(drops(r), { malformed: 5 });
  assert.equal(r.port.sent.length, 6);
  for (const s of r.port.sent) assert.deepEqual(s.bytes.subarray(24), good);
});

test('IPv4 with options and every fragment of one datagram leave, all fragments on one NIC', () => {
  const r = rig();
  const base = udp4({ src: ADDR0, dst: PEER, payload: 64 });
  const opts = withRouterAlert(base);
  const frags = [0x2000, 0x2000 | 10, 20].map((ff, i) => {
    const f = udp4({ src: ADDR0, dst: PEER, sport: 1000 + i, dport: 2000 + i, payload: 64 });
    wr16(f, 4, 77);
    wr16(f, 6, ff);
    setIpv4Checksum(f, 0);
    return f;
  });
  r.tun.push(opts);
  for (const f of frags) r.tun.push(f);
  r.tx.runOnce(0);
  assert.deepEqual(drops(r), {});
  assert.equal(r.port.sent.length, 4);
  assert.deepEqual(r.port.sent[0].bytes.subarray(24), opts);
  const fds = new Set(r.port.sent.slice(1).map((s) => s.fd));
  assert.equal(fds.size, 1, 'fragments share a NIC even with different port bytes');
  assert.equal(new Set(frags.map((f) => flowBucket(f, 0, f.length))).size, 1);
});

test('a host scanning its subnet through ipmp0: ARP requests stop at the overall budget and resume as it refills', () => {
  const g = twoNicGroup();
  const port = new FakePacketPort();
  const t = new TableReader(g.view, H_ACK_TX);
  t.refresh();
  const resolver = new Resolver(t, port, g.counters);
  const t0 = 2_000_000;
  for (let i = 0; i < REQUEST_BURST + 50; i++) resolver.request4(ip4(`198.18.${1 + (i >> 8)}.${i & 0xff}`), ip4(ADDR0), t0);
  assert.equal(port.sent.length, REQUEST_BURST);
  assert.equal(g.counters.extraValue(X_REQUESTS_LIMITED), 50);
  // 100 ms later: REQUEST_RATE / 10 more.
  for (let i = 0; i < 100; i++) resolver.request4(ip4(`198.18.9.${i}`), ip4(ADDR0), t0 + 100);
  assert.equal(port.sent.length, REQUEST_BURST + REQUEST_RATE / 10);
  // A next hop asked for within the last second is not asked again, and costs no budget.
  const before = g.counters.extraValue(X_REQUESTS_LIMITED);
  assert.equal(resolver.request4(ip4('198.18.1.0'), ip4(ADDR0), t0 + 200), true);
  assert.equal(g.counters.extraValue(X_REQUESTS_LIMITED), before);
});
