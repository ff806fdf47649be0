import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  computeIpv4Checksum, inSubnet4, ipv4Checksum, ipv4ChecksumOk, ipv4DontFragment, ipv4Dst, ipv4FragOffset,
  ipv4HeaderLen, ipv4Id, ipv4IsFragment, ipv4MoreFragments, ipv4Protocol, ipv4Src, ipv4ToString,
  ipv4TotalLen, ipv4Ttl, isLimitedBroadcast4, isMulticast4, parseIpv4, prefixMask4, setIpv4Checksum,
  setIpv4Dst, validateIpv4, writeIpv4Header,
} from '../../../src/wire/ipv4.js';
import { WIRE_BAD_HEADER_LEN, WIRE_BAD_TOTAL_LEN, WIRE_BAD_VERSION, WIRE_TRUNCATED } from '../../../src/wire/result.js';
import { hex, toHex } from './helpers.js';

// 192.168.0.1 -> 192.168.0.199, UDP, DF, TTL 64, total 0x73, checksum 0xb861.
const FIXTURE = '4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7';

test('fixture header fields', () => {
  const p = new Uint8Array(0x73);
  p.set(hex(FIXTURE));
  assert.equal(validateIpv4(p, 0, p.length), 20);
  assert.equal(ipv4HeaderLen(p, 0), 20);
  assert.equal(ipv4TotalLen(p, 0), 0x73);
  assert.equal(ipv4Id(p, 0), 0);
  assert.ok(ipv4DontFragment(p, 0));
  assert.ok(!ipv4MoreFragments(p, 0));
  assert.ok(!ipv4IsFragment(p, 0));
  assert.equal(ipv4Ttl(p, 0), 64);
  assert.equal(ipv4Protocol(p, 0), 17);
  assert.equal(ipv4Checksum(p, 0), 0xb861);
  assert.equal(computeIpv4Checksum(p, 0), 0xb861);
  assert.ok(ipv4ChecksumOk(p, 0));
  assert.equal(ipv4Src(p, 0), 0xc0a80001);
  assert.equal(ipv4Dst(p, 0), 0xc0a800c7);
  assert.ok(ipv4Dst(p, 0) > 0, 'addresses are unsigned');
  setIpv4Dst(p, 0, parseIpv4('10.0.0.1'));
  assert.ok(!ipv4ChecksumOk(p, 0));
  setIpv4Checksum(p, 0);
  assert.ok(ipv4ChecksumOk(p, 0));
});

test('writeIpv4Header emits the fixture', () => {
  const b = new Uint8Array(22);
  assert.equal(writeIpv4Header(b, 2, 0x73, 0, 64, 17, 0xc0a80001, 0xc0a800c7, true), 22);
  assert.equal(toHex(b, 2), toHex(hex(FIXTURE)));
});

test('fragments: MF or a nonzero offset', () => {
  const p = hex(FIXTURE);
  p[6] = 0x20; p[7] = 0; // MF, offset 0 (first fragment)
  assert.ok(ipv4IsFragment(p, 0));
  assert.equal(ipv4FragOffset(p, 0), 0);
  p[6] = 0x00; p[7] = 0xb9; // last fragment, offset 185*8
  assert.ok(ipv4IsFragment(p, 0));
  assert.ok(!ipv4MoreFragments(p, 0));
  assert.equal(ipv4FragOffset(p, 0), 1480);
});

test('validateIpv4 returns negative reasons, never throws', () => {
  const p = hex('4500 0014 0000 0000 4001 0000 0a00 0001 0a00 0002');
  assert.equal(validateIpv4(p, 0, 20), 20);
  assert.equal(validateIpv4(p, 0, 19), WIRE_TRUNCATED);
  const v = p.slice(); v[0] = 0x65;
  assert.equal(validateIpv4(v, 0, 20), WIRE_BAD_VERSION);
  const ihl = p.slice(); ihl[0] = 0x44;
  assert.equal(validateIpv4(ihl, 0, 20), WIRE_BAD_HEADER_LEN);
  const big = p.slice(); big[3] = 0x15;
  assert.equal(validateIpv4(big, 0, 20), WIRE_BAD_TOTAL_LEN);
  const opt = p.slice(); opt[0] = 0x46; // IHL 24 > total 20
  assert.equal(validateIpv4(opt, 0, 20), WIRE_BAD_HEADER_LEN);
  assert.equal(validateIpv4(new Uint8Array(0), 0, 0), WIRE_TRUNCATED);
});

test('parse/format dotted quads', () => {
  for (const s of ['0.0.0.0', '10.1.2.3', '192.0.2.255', '255.255.255.255']) {
    assert.equal(ipv4ToString(parseIpv4(s)), s);
  }
  assert.equal(parseIpv4('255.255.255.255'), 0xffffffff);
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1.2.3.-4', 'a.b.c.d', '1..2.3', ' ']) {
    assert.throws(() => parseIpv4(bad), /invalid IPv4/, bad);
  }
});

test('multicast, broadcast, subnets', () => {
  assert.ok(isMulticast4(parseIpv4('224.0.0.1')));
  assert.ok(isMulticast4(parseIpv4('239.255.255.255')));
  assert.ok(!isMulticast4(parseIpv4('240.0.0.1')));
  assert.ok(isLimitedBroadcast4(0xffffffff));
  assert.equal(prefixMask4(24), 0xffffff00);
  assert.equal(prefixMask4(0), 0);
  assert.equal(prefixMask4(32), 0xffffffff);
  const net = parseIpv4('192.0.2.0');
  assert.ok(inSubnet4(parseIpv4('192.0.2.77'), net, 24));
  assert.ok(!inSubnet4(parseIpv4('192.0.3.1'), net, 24));
  assert.ok(inSubnet4(parseIpv4('203.0.113.1'), net, 0));
  assert.ok(inSubnet4(parseIpv4('200.0.0.1'), parseIpv4('200.0.0.1'), 32));
  assert.ok(inSubnet4(parseIpv4('250.1.1.1'), parseIpv4('240.0.0.0'), 4));
});
