import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { validateArp } from '../../../src/wire/arp.js';
import { ethHeaderLen } from '../../../src/wire/ethernet.js';
import { checkProbeReply4, checkProbeReply6, readProbeFields, validateIcmp4 } from '../../../src/wire/icmp.js';
import { ndFindLinkLayerOpt, validateNd } from '../../../src/wire/icmp6-nd.js';
import { ipv6ToString, validateIpv6, walkExtHeaders } from '../../../src/wire/ipv6.js';
import { validateIpv4 } from '../../../src/wire/ipv4.js';
import { shiftVnetOffsets } from '../../../src/wire/vnet.js';
import { flowBucket } from '../../../src/dataplane/flowhash.js';

const bytes = fc.uint8Array({ minLength: 0, maxLength: 200 });

test('no validator or view throws on random bytes', () => {
  fc.assert(fc.property(bytes, fc.nat(8), (b, off0) => {
    const off = Math.min(off0, b.length);
    const len = b.length - off;
    for (const r of [
      validateArp(b, off, len), ethHeaderLen(b, off, len), validateIcmp4(b, off, len),
      checkProbeReply4(b, off, len), checkProbeReply6(b, off, len), validateNd(b, off, len),
      validateIpv4(b, off, len), validateIpv6(b, off, len),
    ]) assert.equal(typeof r, 'number');
    if (validateIpv6(b, off, len) > 0) walkExtHeaders(b, off, len);
    if (validateNd(b, off, len) > 0) ndFindLinkLayerOpt(b, off + 40, len - 40, 1);
    readProbeFields(b, off, len);
    shiftVnetOffsets(b, off, 14);
    const k = flowBucket(b, off, len);
    assert.ok(k >= -1 && k <= 255 && Number.isInteger(k));
  }), { numRuns: 3000 });
});

test('random IPv4/IPv6-looking packets hash to -1..255', () => {
  const pkt = fc.tuple(fc.constantFrom(0x45, 0x46, 0x4f, 0x60, 0x6f), bytes).map(([v, rest]) => {
    const b = new Uint8Array(rest.length + 1);
    b[0] = v;
    b.set(rest, 1);
    // Plausible lengths so the deeper paths are reached.
    if (v >>> 4 === 4 && b.length >= 4) { b[2] = b.length >>> 8; b[3] = b.length & 0xff; }
    if (v >>> 4 === 6 && b.length >= 40) { b[4] = (b.length - 40) >>> 8; b[5] = (b.length - 40) & 0xff; }
    return b;
  });
  fc.assert(fc.property(pkt, (b) => {
    const k = flowBucket(b, 0, b.length);
    assert.ok(k >= -1 && k <= 255);
  }), { numRuns: 5000 });
});

test('ipv6ToString accepts any 16 bytes', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (a) => {
    assert.equal(typeof ipv6ToString(a), 'string');
  }));
});
