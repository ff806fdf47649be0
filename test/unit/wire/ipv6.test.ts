import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ipv6Equals, ipv6EqualsWords, ipv6FlowLabel, ipv6HopLimit, ipv6NextHeader, ipv6PayloadLen, ipv6ToString,
  ipv6TrafficClass, isLinkLocal6, isMulticast6, isUnspecified6, newIpv6Walk, parseIpv6, readIpv6Dst,
  readIpv6Src, solicitedNodeAddr, solicitedNodeMac, validateIpv6, walkExtHeaders, writeIpv6Header,
} from '../../../src/wire/ipv6.js';
import { macToString } from '../../../src/wire/ethernet.js';
import {
  WIRE_BAD_TOTAL_LEN, WIRE_BAD_VERSION, WIRE_TOO_MANY_HEADERS, WIRE_TRUNCATED,
} from '../../../src/wire/result.js';
import { hex, toHex } from './helpers.js';

test('RFC 5952 canonical formatting', () => {
  const cases: [string, string][] = [
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of equal runs
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // single zero group not shortened
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // longest run wins
    ['2001:DB8::AbCd', '2001:db8::abcd'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['fe80::0200:00ff:fe00:0001', 'fe80::200:ff:fe00:1'],
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
    ['0:0:0:0:0:ffff:c000:0201', '::ffff:192.0.2.1'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ['ff02::1:ff00:1', 'ff02::1:ff00:1'],
  ];
  for (const [input, canon] of cases) {
    assert.equal(ipv6ToString(parseIpv6(input)), canon, input);
    assert.equal(ipv6ToString(parseIpv6(canon)), canon, canon);
  }
});

test('parseIpv6 bytes and rejects bad input', () => {
  assert.equal(toHex(parseIpv6('2001:db8::1')), '20010db8000000000000000000000001');
  const bad = ['', ':', ':::', '1:2:3:4:5:6:7:8:9', '1::2::3', '12345::', 'g::', '1:2:3:4:5:6:7',
    '::1.2.3', '1.2.3.4::', '::ffff:256.1.1.1', '1:2:3:4:5:6:7:8::', 'fe80::1%eth0', ':1::', '1::2:'];
  for (const s of bad) assert.throws(() => parseIpv6(s), /invalid IPv6/, s);
  assert.equal(ipv6ToString(new Uint8Array(20).fill(0).fill(1, 4), 2), '0:101:101:101:101:101:101:101');
});

test('header fields, writer and word reads', () => {
  const b = new Uint8Array(48);
  const src = parseIpv6('2001:db8::a');
  const dst = parseIpv6('2001:db8::b');
  assert.equal(writeIpv6Header(b, 0, 8, 17, 64, src, 0, dst, 0), 40);
  assert.equal(validateIpv6(b, 0, 48), 40);
  assert.equal(ipv6PayloadLen(b, 0), 8);
  assert.equal(ipv6NextHeader(b, 0), 17);
  assert.equal(ipv6HopLimit(b, 0), 64);
  assert.equal(ipv6TrafficClass(b, 0), 0);
  assert.equal(ipv6FlowLabel(b, 0), 0);
  const tc = hex('6ab12345'); // tc 0xab, flow 0x12345
  assert.equal(ipv6TrafficClass(tc, 0), 0xab);
  assert.equal(ipv6FlowLabel(tc, 0), 0x12345);
  const w = new Uint32Array(8);
  readIpv6Src(b, 0, w, 0);
  readIpv6Dst(b, 0, w, 4);
  assert.deepEqual(Array.from(w), [0x20010db8, 0, 0, 0xa, 0x20010db8, 0, 0, 0xb]);
  assert.ok(ipv6EqualsWords(b, 8, w, 0));
  assert.ok(!ipv6EqualsWords(b, 24, w, 0));
  assert.ok(ipv6Equals(b, 24, dst, 0));
});

test('validateIpv6 negative codes', () => {
  const b = new Uint8Array(40);
  b[0] = 0x60;
  assert.equal(validateIpv6(b, 0, 40), 40);
  assert.equal(validateIpv6(b, 0, 39), WIRE_TRUNCATED);
  b[0] = 0x40;
  assert.equal(validateIpv6(b, 0, 40), WIRE_BAD_VERSION);
  b[0] = 0x60; b[5] = 1;
  assert.equal(validateIpv6(b, 0, 40), WIRE_BAD_TOTAL_LEN);
});

function pkt(nh: number, exts: number[]): Uint8Array {
  const b = new Uint8Array(40 + exts.length);
  b[0] = 0x60;
  b[4] = exts.length >>> 8; b[5] = exts.length & 0xff;
  b[6] = nh;
  b.set(exts, 40);
  return b;
}

test('walkExtHeaders follows HBH, routing, dst-opts, AH and fragment headers', () => {
  const w = newIpv6Walk();
  // HBH(8) -> routing(8) -> dstopts(16) -> AH(12 = (1+2)*4) -> TCP(4 bytes of ports)
  const b = pkt(0, [
    43, 0, 0, 0, 0, 0, 0, 0,
    60, 0, 0, 0, 0, 0, 0, 0,
    51, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    6, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0x04, 0xd2, 0x00, 0x50,
  ]);
  assert.equal(walkExtHeaders(b, 0, b.length, w), 6);
  assert.equal(w.l4Off, 40 + 8 + 8 + 16 + 12);
  assert.equal(w.l4Len, 4);
  assert.equal(w.isFragment, false);

  // First fragment: offset 0, M set, id 0x01020304, then UDP.
  const f1 = pkt(44, [17, 0, 0x00, 0x01, 1, 2, 3, 4, 0, 53, 0, 53]);
  assert.equal(walkExtHeaders(f1, 0, f1.length, w), 17);
  assert.ok(w.isFragment);
  assert.ok(w.moreFragments);
  assert.equal(w.fragOffset, 0);
  assert.equal(w.fragId, 0x01020304);
  assert.equal(w.l4Off, 48);

  // Later fragment: offset 1448 (181 << 3), M clear.
  const f2 = pkt(44, [17, 0, 0x05, 0xa8, 1, 2, 3, 4, 9, 9, 9, 9]);
  assert.equal(walkExtHeaders(f2, 0, f2.length, w), 17);
  assert.ok(w.isFragment);
  assert.ok(!w.moreFragments);
  assert.equal(w.fragOffset, 1448);

  assert.equal(walkExtHeaders(pkt(50, [0, 0, 0, 1]), 0, 44, w), 50);
  assert.equal(walkExtHeaders(pkt(59, []), 0, 40, w), 59);
  assert.equal(walkExtHeaders(pkt(0, [59, 0, 0, 0, 0, 0, 0, 0]), 0, 48), 59);
});

test('walkExtHeaders is bounded and reports truncation', () => {
  const w = newIpv6Walk();
  assert.equal(walkExtHeaders(pkt(0, [6, 1, 0, 0, 0, 0, 0, 0]), 0, 48, w), WIRE_TRUNCATED);
  assert.equal(walkExtHeaders(pkt(44, [17, 0, 0, 0]), 0, 44, w), WIRE_TRUNCATED);
  assert.equal(walkExtHeaders(pkt(60, [6]), 0, 41, w), WIRE_TRUNCATED);
  const chain: number[] = [];
  for (let i = 0; i < 20; i++) chain.push(60, 0, 0, 0, 0, 0, 0, 0);
  assert.equal(walkExtHeaders(pkt(60, chain), 0, 40 + chain.length, w), WIRE_TOO_MANY_HEADERS);
  // Payload length bounds the walk even when more bytes are available.
  const b = pkt(0, [6, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
  b[5] = 4;
  assert.equal(walkExtHeaders(b, 0, b.length, w), WIRE_TRUNCATED);
});

test('address classes and solicited-node group', () => {
  assert.ok(isMulticast6(parseIpv6('ff02::1'), 0));
  assert.ok(!isMulticast6(parseIpv6('fe80::1'), 0));
  assert.ok(isLinkLocal6(parseIpv6('fe80::1'), 0));
  assert.ok(isLinkLocal6(parseIpv6('febf::1'), 0));
  assert.ok(!isLinkLocal6(parseIpv6('fec0::1'), 0));
  assert.ok(isUnspecified6(parseIpv6('::'), 0));
  const a = parseIpv6('2001:db8::12:3456:789a');
  assert.equal(ipv6ToString(solicitedNodeAddr(a)), 'ff02::1:ff56:789a');
  assert.equal(macToString(solicitedNodeMac(a)), '33:33:ff:56:78:9a');
});
