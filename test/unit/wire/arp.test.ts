import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ARP_FRAME_LEN, ARP_OP_REPLY, ARP_OP_REQUEST, arpIsGratuitous, arpIsProbe, arpOp, arpShaOffset, arpSpa,
  arpThaOffset, arpTpa, buildArpReply, buildArpRequest, buildGratuitousArp, getArpSha, getArpTha, validateArp,
  writeArpReplyInPlace,
} from '../../../src/wire/arp.js';
import { ETH_HLEN, macToString, parseMac } from '../../../src/wire/ethernet.js';
import { parseIpv4 } from '../../../src/wire/ipv4.js';
import { WIRE_BAD_FIELD, WIRE_TRUNCATED, WIRE_UNSUPPORTED } from '../../../src/wire/result.js';
import { hex, toHex } from './helpers.js';

const MAC_A = parseMac('02:00:00:00:00:01');
const MAC_B = parseMac('02:00:00:00:00:02');
const IP_A = parseIpv4('192.0.2.10');
const IP_B = parseIpv4('192.0.2.20');

test('gratuitous ARP matches the fixture', () => {
  const f = buildGratuitousArp(MAC_A, IP_A);
  assert.equal(toHex(f),
    'ffffffffffff' + '020000000001' + '0806' +
    '0001' + '0800' + '06' + '04' + '0001' +
    '020000000001' + 'c000020a' + 'ffffffffffff' + 'c000020a');
  assert.equal(validateArp(f, ETH_HLEN, f.length - ETH_HLEN), 28);
  assert.ok(arpIsGratuitous(f, ETH_HLEN));
});

test('request and reply fields', () => {
  const rq = buildArpRequest(MAC_A, IP_A, IP_B);
  assert.equal(rq.length, ARP_FRAME_LEN);
  assert.equal(toHex(rq, 0, 6), 'ffffffffffff');
  assert.equal(arpOp(rq, 14), ARP_OP_REQUEST);
  assert.equal(arpSpa(rq, 14), IP_A);
  assert.equal(arpTpa(rq, 14), IP_B);
  assert.equal(macToString(rq, arpShaOffset(14)), '02:00:00:00:00:01');
  assert.equal(macToString(rq, arpThaOffset(14)), '00:00:00:00:00:00');
  assert.ok(!arpIsGratuitous(rq, 14));

  const rp = buildArpReply(MAC_B, IP_B, MAC_A, IP_A);
  assert.equal(toHex(rp),
    '020000000001' + '020000000002' + '0806' + '0001080006040002' +
    '020000000002' + 'c0000214' + '020000000001' + 'c000020a');
  assert.equal(arpOp(rp, 14), ARP_OP_REPLY);
  const sha = new Uint8Array(6);
  getArpSha(rp, 14, sha, 0);
  assert.equal(macToString(sha), '02:00:00:00:00:02');
  getArpTha(rp, 14, sha, 0);
  assert.equal(macToString(sha), '02:00:00:00:00:01');
});

test('writeArpReplyInPlace writes at an offset and matches buildArpReply', () => {
  const buf = new Uint8Array(100).fill(0xee);
  const macs = new Uint8Array(20);
  macs.set(MAC_B, 3); macs.set(MAC_A, 11);
  assert.equal(writeArpReplyInPlace(buf, 7, macs, 3, IP_B, macs, 11, IP_A), 42);
  assert.equal(toHex(buf, 7, 42), toHex(buildArpReply(MAC_B, IP_B, MAC_A, IP_A)));
  assert.equal(buf[6], 0xee);
  assert.equal(buf[49], 0xee);
});

test('validateArp rejects malformed packets with negative codes', () => {
  const good = buildArpRequest(MAC_A, 0, IP_B).slice(14);
  assert.ok(arpIsProbe(good, 0));
  assert.equal(validateArp(good, 0, 27), WIRE_TRUNCATED);
  for (const [i, v] of [[1, 6], [2, 0x86], [4, 8], [5, 16]] as const) {
    const b = good.slice(); b[i] = v;
    assert.equal(validateArp(b, 0, 28), WIRE_UNSUPPORTED, `byte ${i}`);
  }
  const op = good.slice(); op[7] = 3;
  assert.equal(validateArp(op, 0, 28), WIRE_BAD_FIELD);
  assert.equal(validateArp(hex('00'), 0, 1), WIRE_TRUNCATED);
});
