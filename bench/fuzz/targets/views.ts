/**
 * Checks shared by the wire targets: the pure views (validators, extension
 * header walk, flow hash, ND option walk) must give the same answer whatever
 * lies after the packet in the buffer (so they never read past the length
 * they were given), and the lengths they return must lie inside the packet.
 */
import { flowBucket } from '../../../src/dataplane/flowhash.js';
import { validateArp } from '../../../src/wire/arp.js';
import { ethHeaderLen } from '../../../src/wire/ethernet.js';
import { checkProbeReply4, validateIcmp4 } from '../../../src/wire/icmp.js';
import { ND_OPT_SOURCE_LINKADDR, ND_OPT_TARGET_LINKADDR, ndFindLinkLayerOpt, validateNd } from '../../../src/wire/icmp6-nd.js';
import { validateIpv4 } from '../../../src/wire/ipv4.js';
import { newIpv6Walk, validateIpv6, walkExtHeaders } from '../../../src/wire/ipv6.js';
import { rd16 } from '../../../src/wire/bytes.js';
import { check } from '../harness.js';

const PAD = 64;
const SIZE = 70_000;
const A = new Uint8Array(SIZE);
const B = new Uint8Array(SIZE).fill(0xff);
const walkA = newIpv6Walk();
const walkB = newIpv6Walk();
const OFF = 8;

function place(p: Uint8Array): number {
  const n = Math.min(p.length, SIZE - OFF - PAD);
  A.set(p.subarray(0, n), OFF);
  B.set(p.subarray(0, n), OFF);
  return n;
}

function restore(n: number): void {
  A.fill(0, OFF, OFF + n + PAD);
  B.fill(0xff, OFF, OFF + n + PAD);
}

function same(what: string, a: number, b: number): void {
  check(a === b, () => `${what} reads past the packet: ${a} with zeros after it, ${b} with 0xff`);
}

/** IP packet views (TX side, and the IP part of received frames). */
export function checkIpViews(p: Uint8Array): void {
  const n = place(p);
  try {
    const v4a = validateIpv4(A, OFF, n);
    same('validateIpv4', v4a, validateIpv4(B, OFF, n));
    if (v4a >= 0) {
      const total = rd16(A, OFF + 2);
      check(v4a >= 20 && v4a <= total && total <= n, `validateIpv4 accepted header ${v4a} / total ${total} / len ${n}`);
      same('checkProbeReply4', checkProbeReply4(A, OFF, n), checkProbeReply4(B, OFF, n));
      same('validateIcmp4', validateIcmp4(A, OFF + v4a, total - v4a), validateIcmp4(B, OFF + v4a, total - v4a));
    }
    const v6a = validateIpv6(A, OFF, n);
    same('validateIpv6', v6a, validateIpv6(B, OFF, n));
    if (v6a >= 0) {
      check(40 + rd16(A, OFF + 4) <= n, 'validateIpv6 accepted a payload length past the packet');
      const pa = walkExtHeaders(A, OFF, n, walkA);
      const pb = walkExtHeaders(B, OFF, n, walkB);
      same('walkExtHeaders', pa, pb);
      if (pa >= 0) {
        same('walkExtHeaders l4Off', walkA.l4Off, walkB.l4Off);
        same('walkExtHeaders l4Len', walkA.l4Len, walkB.l4Len);
        check(walkA.l4Off >= OFF + 40 && walkA.l4Len >= 0 && walkA.l4Off + walkA.l4Len <= OFF + n,
          () => `walkExtHeaders: upper layer [${walkA.l4Off - OFF}, +${walkA.l4Len}) outside the ${n}-byte packet`);
      }
      const nd = validateNd(A, OFF, n);
      same('validateNd', nd, validateNd(B, OFF, n));
      if (nd >= 0) {
        check(40 + nd <= n, `validateNd: ICMPv6 length ${nd} past the ${n}-byte packet`);
        for (const t of [ND_OPT_SOURCE_LINKADDR, ND_OPT_TARGET_LINKADDR]) {
          const o = ndFindLinkLayerOpt(A, OFF + 40, nd, t);
          same('ndFindLinkLayerOpt', o, ndFindLinkLayerOpt(B, OFF + 40, nd, t));
          if (o >= 0) check(o + 6 <= OFF + 40 + nd, `ndFindLinkLayerOpt: option MAC at ${o - OFF} past the ICMPv6 message`);
        }
      }
    }
    const k = flowBucket(A, OFF, n);
    same('flowBucket', k, flowBucket(B, OFF, n));
    check(Number.isInteger(k) && k >= -1 && k <= 255, `flowBucket returned ${k}`);
  } finally {
    restore(n);
  }
}

/** Ethernet-level views of a received frame. */
export function checkFrameViews(f: Uint8Array): void {
  const n = place(f);
  try {
    const h = ethHeaderLen(A, OFF, n);
    same('ethHeaderLen', h, ethHeaderLen(B, OFF, n));
    if (h >= 0) check(h <= n, `ethHeaderLen ${h} past the ${n}-byte frame`);
    if (n >= 14) {
      const arp = validateArp(A, OFF + 14, n - 14);
      same('validateArp', arp, validateArp(B, OFF + 14, n - 14));
      if (arp >= 0) check(arp <= n - 14, `validateArp ${arp} past the frame`);
    }
  } finally {
    restore(n);
  }
  if (f.length > 14) checkIpViews(f.subarray(14));
}
