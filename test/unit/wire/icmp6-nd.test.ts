import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildNeighborAdvert, buildNeighborSolicit, buildUnsolicitedNeighborAdvert, icmp6Checksum, icmp6ChecksumOk,
  NA_FLAG_OVERRIDE, NA_FLAG_ROUTER, NA_FLAG_SOLICITED, naFlags, ND_NEIGHBOR_ADVERT, ND_NEIGHBOR_SOLICIT,
  ND_OPT_SOURCE_LINKADDR, ND_OPT_TARGET_LINKADDR, ndFindLinkLayerOpt, ndTargetOffset, ndType, validateNd,
  writeNeighborAdvertInPlace,
} from '../../../src/wire/icmp6-nd.js';
import { ETHERTYPE_IPV6, getEthType, macToString, parseMac } from '../../../src/wire/ethernet.js';
import { ipv6HopLimit, ipv6ToString, parseIpv6 } from '../../../src/wire/ipv6.js';
import {
  WIRE_BAD_CHECKSUM, WIRE_BAD_FIELD, WIRE_NOT_FOUND, WIRE_TRUNCATED, WIRE_UNSUPPORTED,
} from '../../../src/wire/result.js';
import { refChecksum6, toHex } from './helpers.js';

const MAC = parseMac('02:00:00:00:00:01');
const PEER_MAC = parseMac('02:00:00:00:00:02');
const ME = parseIpv6('2001:db8::1:2:3');
const PEER = parseIpv6('2001:db8::99');

test('NS for address resolution goes to the solicited-node group with SLLA', () => {
  const f = buildNeighborSolicit(MAC, ME, PEER);
  assert.equal(f.length, 86);
  assert.equal(macToString(f, 0), '33:33:ff:00:00:99');
  assert.equal(macToString(f, 6), '02:00:00:00:00:01');
  assert.equal(getEthType(f, 0), ETHERTYPE_IPV6);
  assert.equal(ipv6ToString(f, 22), '2001:db8::1:2:3');
  assert.equal(ipv6ToString(f, 38), 'ff02::1:ff00:99');
  assert.equal(ipv6HopLimit(f, 14), 255);
  assert.equal(validateNd(f, 14, f.length - 14), 32);
  const icmp = 54;
  assert.equal(ndType(f, icmp), ND_NEIGHBOR_SOLICIT);
  assert.equal(ipv6ToString(f, ndTargetOffset(icmp)), '2001:db8::99');
  const o = ndFindLinkLayerOpt(f, icmp, 32, ND_OPT_SOURCE_LINKADDR);
  assert.equal(macToString(f, o), '02:00:00:00:00:01');
  assert.equal(ndFindLinkLayerOpt(f, icmp, 32, ND_OPT_TARGET_LINKADDR), WIRE_NOT_FOUND);
  // Checksum against the reference implementation.
  const l4 = f.slice(icmp);
  const stored = (l4[2] << 8) | l4[3];
  l4[2] = 0; l4[3] = 0;
  assert.equal(stored, refChecksum6(ME, f.subarray(38, 54), 58, l4));
});

test('DAD NS has no SLLA option', () => {
  const f = buildNeighborSolicit(MAC, parseIpv6('::'), ME);
  assert.equal(f.length, 78);
  assert.equal(validateNd(f, 14, 64), 24);
  assert.equal(ndFindLinkLayerOpt(f, 54, 24, ND_OPT_SOURCE_LINKADDR), WIRE_NOT_FOUND);
});

test('solicited NA with flags and TLLA; in-place writer matches', () => {
  const f = buildNeighborAdvert(MAC, ME, PEER_MAC, PEER, NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE);
  assert.equal(f.length, 86);
  assert.equal(macToString(f, 0), '02:00:00:00:00:02');
  assert.equal(ipv6ToString(f, 22), ipv6ToString(ME));
  assert.equal(ipv6ToString(f, 38), ipv6ToString(PEER));
  assert.equal(validateNd(f, 14, 72), 32);
  assert.equal(ndType(f, 54), ND_NEIGHBOR_ADVERT);
  assert.equal(naFlags(f, 54), NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE);
  assert.equal(macToString(f, ndFindLinkLayerOpt(f, 54, 32, ND_OPT_TARGET_LINKADDR)), '02:00:00:00:00:01');
  assert.ok(icmp6ChecksumOk(f, 14, 54, 32));

  const buf = new Uint8Array(200);
  const addrs = new Uint8Array(64);
  addrs.set(ME, 5); addrs.set(PEER, 30); addrs.set(MAC, 50); addrs.set(PEER_MAC, 57);
  assert.equal(writeNeighborAdvertInPlace(buf, 9, addrs, 50, addrs, 5, addrs, 57, addrs, 30,
    NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE), 86);
  assert.equal(toHex(buf, 9, 86), toHex(f));
});

test('unsolicited NA goes to all-nodes without the S flag', () => {
  const f = buildUnsolicitedNeighborAdvert(MAC, ME, NA_FLAG_OVERRIDE | NA_FLAG_SOLICITED | NA_FLAG_ROUTER);
  assert.equal(macToString(f, 0), '33:33:00:00:00:01');
  assert.equal(ipv6ToString(f, 38), 'ff02::1');
  assert.equal(naFlags(f, 54), NA_FLAG_OVERRIDE | NA_FLAG_ROUTER);
  assert.equal(validateNd(f, 14, 72), 32);
});

test('malformed ND: negative codes', () => {
  const f = buildNeighborAdvert(MAC, ME, PEER_MAC, PEER, NA_FLAG_SOLICITED);
  const hop = f.slice(); hop[21] = 64;
  assert.equal(validateNd(hop, 14, 72), WIRE_BAD_FIELD);
  const ck = f.slice(); ck[80] ^= 0xff;
  assert.equal(validateNd(ck, 14, 72), WIRE_BAD_CHECKSUM);
  const ty = f.slice(); ty[54] = 134;
  assert.equal(validateNd(ty, 14, 72), WIRE_UNSUPPORTED);
  assert.equal(validateNd(f, 14, 71), -4);
  // Zero-length option.
  const z = f.slice(); z[79] = 0;
  z[56] = 0; z[57] = 0;
  const c = icmp6Checksum(z, 14, 54, 32);
  z[56] = c >>> 8; z[57] = c & 0xff;
  assert.equal(validateNd(z, 14, 72), 32);
  assert.equal(ndFindLinkLayerOpt(z, 54, 32, ND_OPT_TARGET_LINKADDR), WIRE_BAD_FIELD);
  // Option overrunning the message.
  const o = f.slice(); o[79] = 2;
  assert.equal(ndFindLinkLayerOpt(o, 54, 32, ND_OPT_TARGET_LINKADDR), WIRE_TRUNCATED);
});
