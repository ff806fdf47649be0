import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checksumValid, csumReplace16, csumReplace32, fold16, inetChecksum, l4Checksum4, pseudoSum4, sum16,
} from '../../../src/wire/checksum.js';
import { hex, refChecksum } from './helpers.js';

test('RFC 1071 example sums to 0xddf2', () => {
  const b = hex('0001 f203 f4f5 f6f7');
  assert.equal(fold16(sum16(b, 0, b.length)), 0xddf2);
  assert.equal(inetChecksum(b, 0, b.length), 0x220d);
});

test('known IPv4 header checksum 0xb861', () => {
  const h = hex('4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7');
  assert.equal(inetChecksum(h, 0, 20), 0xb861);
  h[10] = 0xb8; h[11] = 0x61;
  assert.ok(checksumValid(h, 0, 20));
  h[19] ^= 1;
  assert.ok(!checksumValid(h, 0, 20));
});

test('odd length pads with a zero byte, at any offset', () => {
  const b = hex('ff 01 02 03 04 05');
  assert.equal(inetChecksum(b, 1, 5), refChecksum([1, 2, 3, 4, 5]));
  for (let n = 0; n < 40; n++) {
    const a = Array.from({ length: n }, (_, i) => (i * 37 + 11) & 0xff);
    assert.equal(inetChecksum(Uint8Array.from(a), 0, n), refChecksum(a), `len ${n}`);
  }
});

test('large buffers fold correctly', () => {
  const b = new Uint8Array(65535).fill(0xff);
  assert.equal(inetChecksum(b, 0, b.length), refChecksum(Array.from(b)));
});

test('incremental 16 and 32-bit updates match recomputation', () => {
  const h = hex('4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7');
  const c0 = inetChecksum(h, 0, 20);
  // TTL/proto word 0x4011 -> 0x3f11
  h[8] = 0x3f;
  assert.equal(csumReplace16(c0, 0x4011, 0x3f11), inetChecksum(h, 0, 20));
  const c1 = inetChecksum(h, 0, 20);
  h[12] = 10; h[13] = 1; h[14] = 2; h[15] = 3;
  assert.equal(csumReplace32(c1, 0xc0a80001, 0x0a010203), inetChecksum(h, 0, 20));
});

test('IPv4 pseudo-header: UDP checksum of a known datagram verifies', () => {
  // IPv4 10.0.0.1 -> 10.0.0.2, UDP 1234 -> 80, payload "hi"
  const p = hex('4500 001e 0000 0000 4011 0000 0a00 0001 0a00 0002 04d2 0050 000a 0000 6869');
  const c = l4Checksum4(p, 0, 20, 10, 17);
  const ph = [10, 0, 0, 1, 10, 0, 0, 2, 0, 17, 0, 10];
  assert.equal(c, refChecksum([...ph, ...p.slice(20)]));
  p[26] = c >>> 8; p[27] = c & 0xff;
  assert.ok(checksumValid(p, 20, 10, pseudoSum4(0x0a000001, 0x0a000002, 17, 10)));
});
