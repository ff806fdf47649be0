import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  hasPorts, icmpEchoIdOf, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE,
  isEchoType, l4DstPort, l4PortPair, l4SrcPort,
} from '../../../src/wire/l4.js';
import { hex } from './helpers.js';

test('ports', () => {
  for (const p of [IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP, IPPROTO_UDPLITE]) assert.ok(hasPorts(p));
  assert.ok(!hasPorts(IPPROTO_ICMP));
  const b = hex('00 04d2 0050');
  assert.equal(l4SrcPort(b, 1), 1234);
  assert.equal(l4DstPort(b, 1), 80);
  assert.equal(l4PortPair(b, 1, 4), (1234 << 16) | 80);
  assert.equal(l4PortPair(b, 1, 3), -1);
  assert.ok(l4PortPair(hex('ffff ffff'), 0, 4) > 0);
});

test('echo ids', () => {
  assert.ok(isEchoType(IPPROTO_ICMP, 8) && isEchoType(IPPROTO_ICMP, 0));
  assert.ok(isEchoType(IPPROTO_ICMPV6, 128) && isEchoType(IPPROTO_ICMPV6, 129));
  assert.ok(!isEchoType(IPPROTO_ICMP, 128) && !isEchoType(IPPROTO_ICMPV6, 8) && !isEchoType(IPPROTO_TCP, 8));
  assert.equal(icmpEchoIdOf(hex('0800 f7fd 0001 0001'), 0, 8, IPPROTO_ICMP), 1);
  assert.equal(icmpEchoIdOf(hex('0300 0000 0001 0001'), 0, 8, IPPROTO_ICMP), -1);
  assert.equal(icmpEchoIdOf(hex('8000 0000 abcd'), 0, 6, IPPROTO_ICMPV6), 0xabcd);
  assert.equal(icmpEchoIdOf(hex('8000 0000 ab'), 0, 5, IPPROTO_ICMPV6), -1);
});
