/**
 * Flow hash: maps an IP packet to one of 256 buckets (the bucket table maps
 * buckets to NICs). Keys:
 *   - TCP, UDP, SCTP, UDP-Lite: (src, dst, proto, sport, dport)
 *   - ICMP / ICMPv6 echo request or reply: (src, dst, proto, echo id)
 *   - any fragment (IPv4: MF set or offset != 0, the first fragment included;
 *     IPv6: a Fragment header present) and every other protocol: (src, dst),
 *     so all fragments of a datagram share a bucket.
 * The mix is murmur3's 32-bit block step and finalizer over the key words,
 * keyed by a per-process seed. Direction is not symmetric. No allocation.
 */
import { rd16, rd32 } from '../wire/bytes.js';
import { validateIpv4 } from '../wire/ipv4.js';
import { newIpv6Walk, validateIpv6, walkExtHeaders } from '../wire/ipv6.js';
import { hasPorts, IPPROTO_ICMP, IPPROTO_ICMPV6, isEchoType } from '../wire/l4.js';

export const FLOW_BUCKETS = 256;

let seed = 0x2545f491;
const walk = newIpv6Walk();

/**
 * Sets the hash seed. Every worker that hashes packets of the same flows must
 * use the same seed (module state is per worker thread).
 */
export function setFlowSeed(n: number): void {
  seed = n | 0;
}

export function getFlowSeed(): number {
  return seed >>> 0;
}

function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function fmix(h: number, nWords: number): number {
  h ^= nWords << 2;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function hash4(b: Uint8Array, ipOff: number, len: number): number {
  const hlen = validateIpv4(b, ipOff, len);
  if (hlen < 0) return -1;
  let h = mix(mix(seed, rd32(b, ipOff + 12)), rd32(b, ipOff + 16));
  // MF or fragment offset: hash the address pair only.
  if ((rd16(b, ipOff + 6) & 0x3fff) !== 0) return fmix(h, 2);
  const proto = b[ipOff + 9];
  const l4Off = ipOff + hlen;
  const avail = rd16(b, ipOff + 2) - hlen;
  if (hasPorts(proto)) {
    if (avail < 4) return fmix(h, 2);
    h = mix(mix(h, proto), rd32(b, l4Off));
    return fmix(h, 4);
  }
  if (proto === IPPROTO_ICMP && avail >= 6 && isEchoType(proto, b[l4Off])) {
    h = mix(mix(h, proto), rd16(b, l4Off + 4));
    return fmix(h, 4);
  }
  return fmix(h, 2);
}

function hash6(b: Uint8Array, ipOff: number, len: number): number {
  if (validateIpv6(b, ipOff, len) < 0) return -1;
  let h = seed;
  for (let o = ipOff + 8; o < ipOff + 40; o += 4) h = mix(h, rd32(b, o));
  const proto = walkExtHeaders(b, ipOff, len, walk);
  if (proto < 0) return -1;
  if (walk.isFragment) return fmix(h, 8);
  const l4Off = walk.l4Off;
  const avail = walk.l4Len;
  if (hasPorts(proto)) {
    if (avail < 4) return fmix(h, 8);
    h = mix(mix(h, proto), rd32(b, l4Off));
    return fmix(h, 10);
  }
  if (proto === IPPROTO_ICMPV6 && avail >= 6 && isEchoType(proto, b[l4Off])) {
    h = mix(mix(h, proto), rd16(b, l4Off + 4));
    return fmix(h, 10);
  }
  return fmix(h, 8);
}

/**
 * 32-bit flow hash of the IPv4/IPv6 packet at ipOff (len bytes available),
 * or -1 when the IP header (or IPv6 extension chain) is malformed.
 */
export function flowHash(b: Uint8Array, ipOff: number, len: number): number {
  if (len < 1) return -1;
  const v = b[ipOff] >>> 4;
  if (v === 4) return hash4(b, ipOff, len);
  if (v === 6) return hash6(b, ipOff, len);
  return -1;
}

/** Bucket 0..255 of the packet at ipOff, or -1 when malformed. */
export function flowBucket(b: Uint8Array, ipOff: number, len: number): number {
  const h = flowHash(b, ipOff, len);
  return h < 0 ? -1 : h >>> 24;
}
