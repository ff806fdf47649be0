import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FLOW_BUCKETS, flowBucket, flowHash, getFlowSeed, setFlowSeed } from '../../../src/dataplane/flowhash.js';
import { parseIpv4, writeIpv4Header } from '../../../src/wire/ipv4.js';
import { parseIpv6, writeIpv6Header } from '../../../src/wire/ipv6.js';

const A4 = parseIpv4('10.0.0.1');
const B4 = parseIpv4('10.0.0.2');
const A6 = parseIpv6('2001:db8::1');
const B6 = parseIpv6('2001:db8::2');

/** IPv4 packet with an 8-byte L4 header: ports or ICMP type/code/cksum/id/seq. */
function v4(proto: number, w0: number, w1: number, opts: { src?: number; dst?: number; frag?: number; off?: number } = {}): Uint8Array {
  const off = opts.off ?? 0;
  const b = new Uint8Array(off + 28);
  writeIpv4Header(b, off, 28, 77, 64, proto, opts.src ?? A4, opts.dst ?? B4);
  b[off + 6] = (opts.frag ?? 0) >>> 8;
  b[off + 7] = (opts.frag ?? 0) & 0xff;
  b[off + 20] = w0 >>> 24; b[off + 21] = w0 >>> 16; b[off + 22] = w0 >>> 8; b[off + 23] = w0;
  b[off + 24] = w1 >>> 24; b[off + 25] = w1 >>> 16; b[off + 26] = w1 >>> 8; b[off + 27] = w1;
  return b;
}

/** IPv6 packet; with frag set, a Fragment header (offset frag<<3... given raw) precedes the L4 header. */
function v6(proto: number, w0: number, w1: number, frag?: number): Uint8Array {
  const ext = frag === undefined ? 0 : 8;
  const b = new Uint8Array(40 + ext + 8);
  writeIpv6Header(b, 0, ext + 8, frag === undefined ? proto : 44, 64, A6, 0, B6, 0);
  let p = 40;
  if (frag !== undefined) {
    b[40] = proto; b[42] = frag >>> 8; b[43] = frag & 0xff; b[47] = 0x99;
    p = 48;
  }
  b[p] = w0 >>> 24; b[p + 1] = w0 >>> 16; b[p + 2] = w0 >>> 8; b[p + 3] = w0;
  b[p + 4] = w1 >>> 24; b[p + 5] = w1 >>> 16; b[p + 6] = w1 >>> 8; b[p + 7] = w1;
  return b;
}

const ports = (s: number, d: number) => ((s << 16) | d) >>> 0;

test('stable for the same key, independent of payload and offset', () => {
  const a = flowBucket(v4(6, ports(40000, 443), 1), 0, 28);
  const b = flowBucket(v4(6, ports(40000, 443), 0xdeadbeef), 0, 28);
  const c = flowBucket(v4(6, ports(40000, 443), 1, { off: 10 }), 10, 28);
  assert.ok(a >= 0 && a < FLOW_BUCKETS);
  assert.equal(a, b);
  assert.equal(a, c);
  assert.equal(flowBucket(v6(17, ports(5000, 53), 1), 0, 56), flowBucket(v6(17, ports(5000, 53), 2), 0, 56));
});

test('different ports spread and all 256 buckets are reachable', () => {
  for (const [name, mk] of [
    ['tcp4', (p: number) => v4(6, ports(p, 443), 0)],
    ['udp4', (p: number) => v4(17, ports(53, p), 0)],
    ['sctp4', (p: number) => v4(132, ports(p, 9), 0)],
    ['udplite4', (p: number) => v4(136, ports(p, 9), 0)],
    ['tcp6', (p: number) => v6(6, ports(p, 443), 0)],
  ] as const) {
    const counts = new Array<number>(256).fill(0);
    for (let p = 1024; p < 1024 + 8192; p++) {
      const pk = mk(p);
      counts[flowBucket(pk, 0, pk.length)]++;
    }
    assert.equal(counts.filter((c) => c > 0).length, 256, name);
    // 32 per bucket on average; no bucket wildly over-full.
    assert.ok(Math.max(...counts) < 80, `${name} max ${Math.max(...counts)}`);
  }
});

test('protocol is part of the 5-tuple key', () => {
  let differ = 0;
  for (let p = 1; p < 200; p++) {
    if (flowHash(v4(6, ports(p, 80), 0), 0, 28) !== flowHash(v4(17, ports(p, 80), 0), 0, 28)) differ++;
  }
  assert.equal(differ, 199);
});

test('IPv4: first and later fragments of one datagram share a bucket', () => {
  const first = v4(17, ports(1111, 2222), 0, { frag: 0x2000 });            // MF, offset 0, has ports
  const middle = v4(17, 0x12345678, 0x9abcdef0, { frag: 0x2000 | 185 });   // MF, offset 1480
  const last = v4(17, 0xcafebabe, 0, { frag: 370 });                       // offset 2960
  const k = flowBucket(first, 0, 28);
  assert.equal(flowBucket(middle, 0, 28), k);
  assert.equal(flowBucket(last, 0, 28), k);
  // Fragments of datagrams with other ports land in the same pair bucket too.
  assert.equal(flowBucket(v4(17, ports(3333, 4444), 0, { frag: 0x2000 }), 0, 28), k);
  // DF alone is not fragmentation.
  const df = v4(17, ports(1111, 2222), 0, { frag: 0x4000 });
  assert.equal(flowHash(df, 0, 28), flowHash(v4(17, ports(1111, 2222), 0), 0, 28));
});

test('IPv6: a Fragment header means address-pair hashing', () => {
  const first = v6(17, ports(1111, 2222), 0, 0x0001);        // offset 0, M
  const later = v6(17, 0x11223344, 0x55667788, 0x05a8);      // offset 1448
  const atomic = v6(17, ports(9999, 8888), 0, 0x0000);
  const k = flowBucket(first, 0, first.length);
  assert.equal(flowBucket(later, 0, later.length), k);
  assert.equal(flowBucket(atomic, 0, atomic.length), k);
  // The pair key differs from the 5-tuple key of an unfragmented packet (almost surely).
  const plain = v6(17, ports(1111, 2222), 0);
  assert.notEqual(flowHash(plain, 0, plain.length), flowHash(first, 0, first.length));
});

test('ICMP echo is keyed by id, not by sequence; other ICMP by address pair', () => {
  const echo = (type: number, id: number, seq: number) => v4(1, (type << 24) >>> 0, ((id << 16) | seq) >>> 0);
  const k = flowHash(echo(8, 7, 1), 0, 28);
  assert.equal(flowHash(echo(8, 7, 2), 0, 28), k);
  assert.notEqual(flowHash(echo(8, 8, 1), 0, 28), k);
  const ids = new Set<number>();
  for (let id = 0; id < 4096; id++) ids.add(flowBucket(echo(8, id, 0), 0, 28));
  assert.equal(ids.size, 256);
  // Unreachable messages use the pair, whatever their contents.
  assert.equal(flowHash(v4(1, 0x03010000, 1), 0, 28), flowHash(v4(1, 0x03030000, 2), 0, 28));
  assert.equal(flowHash(v4(1, 0x03010000, 1), 0, 28), flowHash(v4(47, 5, 6), 0, 28));

  const e6 = (id: number, seq: number) => v6(58, (128 << 24) >>> 0, ((id << 16) | seq) >>> 0);
  assert.equal(flowHash(e6(5, 1), 0, 56), flowHash(e6(5, 99), 0, 56));
  assert.notEqual(flowHash(e6(5, 1), 0, 56), flowHash(e6(6, 1), 0, 56));
});

test('seed changes the mapping; same seed, same mapping', () => {
  const old = getFlowSeed();
  const pk = v4(6, ports(1234, 80), 0);
  const base: number[] = [];
  for (let p = 0; p < 64; p++) base.push(flowBucket(v4(6, ports(p, 80), 0), 0, 28));
  setFlowSeed(12345);
  assert.equal(getFlowSeed(), 12345);
  const h1 = flowHash(pk, 0, 28);
  const seeded: number[] = [];
  for (let p = 0; p < 64; p++) seeded.push(flowBucket(v4(6, ports(p, 80), 0), 0, 28));
  assert.notDeepEqual(seeded, base);
  setFlowSeed(12345);
  assert.equal(flowHash(pk, 0, 28), h1);
  setFlowSeed(old);
  assert.equal(flowBucket(v4(6, ports(0, 80), 0), 0, 28), base[0]);
});

test('malformed and truncated packets return -1 and never throw', () => {
  const good = v4(6, ports(1, 2), 0);
  assert.equal(flowBucket(good, 0, 19), -1);
  assert.equal(flowBucket(good, 0, 27), -1); // total length exceeds available
  assert.equal(flowBucket(new Uint8Array(0), 0, 0), -1);
  assert.equal(flowBucket(Uint8Array.from([0x50, 0, 0]), 0, 3), -1);
  const badIhl = good.slice(); badIhl[0] = 0x43;
  assert.equal(flowBucket(badIhl, 0, 28), -1);
  assert.equal(flowBucket(v6(6, 0, 0), 0, 47), -1);
  // Ports cut off by the total length: falls back to the pair, still a bucket.
  const short = v4(6, ports(1, 2), 0);
  short[3] = 22;
  short[10] = 0; short[11] = 0;
  const k = flowBucket(short, 0, 28);
  assert.ok(k >= 0);
  assert.equal(k, flowBucket(v4(47, 0, 0), 0, 28));
  // Truncated IPv6 extension chain.
  const ext = v6(17, 0, 0, 0);
  ext[5] = 4;
  assert.equal(flowBucket(ext, 0, ext.length), -1);
});
