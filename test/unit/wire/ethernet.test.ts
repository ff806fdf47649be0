import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ETH_HLEN, ETHERTYPE_IPV6, ETHERTYPE_VLAN, ethHeaderLen, ethInnerType, getEthDst, getEthSrc, getEthType,
  isBroadcast, isBroadcastMac, isMulticast, macEquals, macToString, parseMac, setEthDst, setEthSrc, setEthType,
  writeEthHeader,
} from '../../../src/wire/ethernet.js';
import { WIRE_TOO_MANY_HEADERS, WIRE_TRUNCATED } from '../../../src/wire/result.js';
import { hex, toHex } from './helpers.js';

test('MAC parse/format round trip', () => {
  const m = parseMac('02:AB:cd:0:1:ff');
  assert.equal(macToString(m), '02:ab:cd:00:01:ff');
  assert.equal(macToString(parseMac('02-00-5e-10-00-01')), '02:00:5e:10:00:01');
  for (const bad of ['', '02:00:00:00:00', '02:00:00:00:00:00:00', 'zz:00:00:00:00:00', '020:0:0:0:0:0']) {
    assert.throws(() => parseMac(bad), /invalid MAC/);
  }
});

test('writeEthHeader at an offset and getters/setters', () => {
  const b = new Uint8Array(4 + ETH_HLEN);
  const src = parseMac('02:00:00:00:00:01');
  const dst = hex('ff 33 33 00 00 00 01');
  assert.equal(writeEthHeader(b, 4, dst, 1, src, 0, ETHERTYPE_IPV6), 4 + ETH_HLEN);
  assert.equal(toHex(b, 4), '333300000001' + '020000000001' + '86dd');
  assert.equal(getEthType(b, 4), ETHERTYPE_IPV6);
  assert.ok(isMulticast(b, 4));
  assert.ok(!isBroadcast(b, 4));
  const o = new Uint8Array(6);
  getEthSrc(b, 4, o, 0);
  assert.ok(macEquals(o, 0, src, 0));
  getEthDst(b, 4, o, 0);
  assert.equal(macToString(o), '33:33:00:00:00:01');
  setEthDst(b, 4, parseMac('ff:ff:ff:ff:ff:ff'), 0);
  setEthSrc(b, 4, dst, 1);
  setEthType(b, 4, 0x0806);
  assert.ok(isBroadcast(b, 4));
  assert.ok(isBroadcastMac(b, 4));
  assert.equal(toHex(b, 4), 'ffffffffffff' + '333300000001' + '0806');
  assert.ok(!isMulticast(hex('020000000001'), 0));
});

test('ethHeaderLen skips up to two VLAN tags', () => {
  const plain = hex('ffffffffffff 020000000001 0800');
  assert.equal(ethHeaderLen(plain, 0, plain.length), 14);
  const one = hex('ffffffffffff 020000000001 8100 0064 86dd');
  assert.equal(ethHeaderLen(one, 0, one.length), 18);
  assert.equal(ethInnerType(one, 0, 18), ETHERTYPE_IPV6);
  const two = hex('ffffffffffff 020000000001 88a8 0001 8100 0064 0800');
  assert.equal(ethHeaderLen(two, 0, two.length), 22);
  assert.equal(ethInnerType(two, 0, 22), 0x0800);
  const three = hex('ffffffffffff 020000000001 88a8 0001 8100 0064 8100 0002 0800');
  assert.equal(ethHeaderLen(three, 0, three.length), WIRE_TOO_MANY_HEADERS);
  assert.equal(ethHeaderLen(one, 0, 16), WIRE_TRUNCATED);
  assert.equal(ethHeaderLen(plain, 0, 13), WIRE_TRUNCATED);
  assert.equal(ETHERTYPE_VLAN, 0x8100);
});
