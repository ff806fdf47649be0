import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildIcmp6ProbeFrame, buildIcmpEchoProbe, buildIcmpProbeFrame4, checkProbeReply4, checkProbeReply6,
  ICMP_ECHO_REPLY, ICMPV6_ECHO_REPLY, icmpChecksum, icmpCode, icmpEchoId, icmpEchoSeq, icmpType,
  PROBE_FRAME4_LEN, PROBE_FRAME6_LEN, PROBE_ICMP_LEN, readProbeFields, setIcmpChecksum, validateIcmp4,
} from '../../../src/wire/icmp.js';
import { inetChecksum, l4Checksum6 } from '../../../src/wire/checksum.js';
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6, getEthType, macToString, parseMac } from '../../../src/wire/ethernet.js';
import { ipv4ChecksumOk, ipv4Dst, ipv4Protocol, ipv4Src, ipv4TotalLen, ipv4Ttl, parseIpv4, validateIpv4 } from '../../../src/wire/ipv4.js';
import { ipv6HopLimit, ipv6NextHeader, parseIpv6 } from '../../../src/wire/ipv6.js';
import { WIRE_BAD_CHECKSUM, WIRE_TRUNCATED, WIRE_UNSUPPORTED } from '../../../src/wire/result.js';
import { hex, refChecksum, refChecksum6, toHex } from './helpers.js';

const SRC_MAC = parseMac('02:00:00:00:00:01');
const DST_MAC = parseMac('02:00:00:00:00:02');
const TS = 0x0102030405060708n;

test('plain echo request fixture: checksum 0xf7fd', () => {
  const e = hex('0800 f7fd 0001 0001');
  assert.equal(validateIcmp4(e, 0, 8), 8);
  assert.equal(icmpType(e, 0), 8);
  assert.equal(icmpCode(e, 0), 0);
  assert.equal(icmpChecksum(e, 0), 0xf7fd);
  assert.equal(icmpEchoId(e, 0), 1);
  assert.equal(icmpEchoSeq(e, 0), 1);
  setIcmpChecksum(e, 0, 0);
  assert.equal(validateIcmp4(e, 0, 8), WIRE_BAD_CHECKSUM);
  assert.equal(validateIcmp4(e, 0, 7), WIRE_TRUNCATED);
});

test('probe body is exactly 20 bytes in the documented layout', () => {
  const p = buildIcmpEchoProbe(0x1234, 0x0007, TS, 2);
  assert.equal(p.length, PROBE_ICMP_LEN);
  const body = [8, 0, 0, 0, 0x12, 0x34, 0, 7, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 2];
  const ck = refChecksum(body);
  body[2] = ck >>> 8; body[3] = ck & 0xff;
  assert.equal(toHex(p), toHex(Uint8Array.from(body)));
  assert.equal(validateIcmp4(p, 0, 20), 20);
  const f = readProbeFields(p, 0, 20);
  assert.deepEqual(f, { type: 8, id: 0x1234, seq: 7, timestampNs: TS, mtype: 2 });
  assert.equal(readProbeFields(p, 0, 19), null);
  // Timestamps wrap to 64 bits.
  assert.equal(readProbeFields(buildIcmpEchoProbe(1, 1, (1n << 64n) + 5n, 0), 0, 20)?.timestampNs, 5n);
});

test('IPv4 probe frame: TTL 1, checksums valid, reply accepted', () => {
  const src = parseIpv4('192.0.2.10');
  const dst = parseIpv4('192.0.2.1');
  const f = buildIcmpProbeFrame4(DST_MAC, SRC_MAC, src, dst, 42, 9, TS, 1, 0x55aa);
  assert.equal(f.length, PROBE_FRAME4_LEN);
  assert.equal(getEthType(f, 0), ETHERTYPE_IPV4);
  assert.equal(macToString(f, 0), '02:00:00:00:00:02');
  assert.equal(validateIpv4(f, 14, f.length - 14), 20);
  assert.ok(ipv4ChecksumOk(f, 14));
  assert.equal(ipv4Ttl(f, 14), 1);
  assert.equal(ipv4Protocol(f, 14), 1);
  assert.equal(ipv4TotalLen(f, 14), 40);
  assert.equal(ipv4Src(f, 14), src);
  assert.equal(ipv4Dst(f, 14), dst);
  assert.equal(validateIcmp4(f, 34, 20), 20);
  assert.equal(toHex(f, 34), toHex(buildIcmpEchoProbe(42, 9, TS, 1)));
  // A request is not a reply.
  assert.equal(checkProbeReply4(f, 14, 40), WIRE_UNSUPPORTED);

  // Turn it into the echo reply a target would send.
  const r = f.slice(14);
  r.set(f.subarray(30, 34), 12); r.set(f.subarray(26, 30), 16);
  r[20] = ICMP_ECHO_REPLY; r[22] = 0; r[23] = 0;
  const c = inetChecksum(r, 20, 20);
  r[22] = c >>> 8; r[23] = c & 0xff;
  assert.equal(checkProbeReply4(r, 0, r.length), 20);
  assert.deepEqual(readProbeFields(r, 20, 20), { type: 0, id: 42, seq: 9, timestampNs: TS, mtype: 1 });
  r[39] ^= 1;
  assert.equal(checkProbeReply4(r, 0, r.length), WIRE_BAD_CHECKSUM);
  assert.equal(checkProbeReply4(r, 0, 30), -4);
});

test('IPv6 probe frame: hop limit 1, checksum over the pseudo-header, reply accepted', () => {
  const src = parseIpv6('fe80::1');
  const dst = parseIpv6('fe80::2');
  const f = buildIcmp6ProbeFrame(DST_MAC, SRC_MAC, src, dst, 7, 8, TS, 3);
  assert.equal(f.length, PROBE_FRAME6_LEN);
  assert.equal(getEthType(f, 0), ETHERTYPE_IPV6);
  assert.equal(ipv6HopLimit(f, 14), 1);
  assert.equal(ipv6NextHeader(f, 14), 58);
  assert.equal(f[54], 128);
  const l4 = f.slice(54);
  const stored = (l4[2] << 8) | l4[3];
  l4[2] = 0; l4[3] = 0;
  assert.equal(stored, refChecksum6(src, dst, 58, l4));

  const r = f.slice(14);
  r.set(dst, 8); r.set(src, 24);
  r[40] = ICMPV6_ECHO_REPLY; r[42] = 0; r[43] = 0;
  const c = l4Checksum6(r, 0, 40, 20, 58);
  r[42] = c >>> 8; r[43] = c & 0xff;
  assert.equal(checkProbeReply6(r, 0, r.length), 40);
  assert.deepEqual(readProbeFields(r, 40, 20), { type: 129, id: 7, seq: 8, timestampNs: TS, mtype: 3 });
  r[10] ^= 1; // source changes: pseudo-header checksum fails
  assert.equal(checkProbeReply6(r, 0, r.length), WIRE_BAD_CHECKSUM);
  assert.equal(checkProbeReply6(f, 14, f.length - 14), WIRE_UNSUPPORTED);
});
