/**
 * IPv6 header view. Offsets relative to the header start `off`.
 *
 *   0 ver/tc/flow(4)  4 payload length  6 next header  7 hop limit  8 src(16)  24 dst(16)
 */
import { copyBytes, rd16, rd32, wr16, wr32 } from './bytes.js';
import { WIRE_BAD_TOTAL_LEN, WIRE_BAD_VERSION, WIRE_TOO_MANY_HEADERS, WIRE_TRUNCATED } from './result.js';

export const IPV6_HLEN = 40;
export const IPV6_SRC = 8;
export const IPV6_DST = 24;
/** Extension headers followed before giving up. */
export const IPV6_MAX_EXT_HEADERS = 8;

/**
 * Checked view of untrusted input: returns 40 when len bytes at off hold an
 * IPv6 header whose payload length fits, else a negative reason code.
 */
export function validateIpv6(b: Uint8Array, off: number, len: number): number {
  if (len < IPV6_HLEN) return WIRE_TRUNCATED;
  if (b[off] >>> 4 !== 6) return WIRE_BAD_VERSION;
  if (IPV6_HLEN + rd16(b, off + 4) > len) return WIRE_BAD_TOTAL_LEN;
  return IPV6_HLEN;
}

export function ipv6TrafficClass(b: Uint8Array, off: number): number {
  return ((b[off] & 0x0f) << 4) | (b[off + 1] >>> 4);
}
export function ipv6FlowLabel(b: Uint8Array, off: number): number {
  return ((b[off + 1] & 0x0f) << 16) | (b[off + 2] << 8) | b[off + 3];
}
export function ipv6PayloadLen(b: Uint8Array, off: number): number {
  return rd16(b, off + 4);
}
export function setIpv6PayloadLen(b: Uint8Array, off: number, v: number): void {
  wr16(b, off + 4, v);
}
export function ipv6NextHeader(b: Uint8Array, off: number): number {
  return b[off + 6];
}
export function ipv6HopLimit(b: Uint8Array, off: number): number {
  return b[off + 7];
}

/** Reads the source address as 4 big-endian u32 words into out[outIdx..+4]. */
export function readIpv6Src(b: Uint8Array, off: number, out: Uint32Array, outIdx: number): void {
  readIpv6Words(b, off + IPV6_SRC, out, outIdx);
}
/** Reads the destination address as 4 big-endian u32 words into out[outIdx..+4]. */
export function readIpv6Dst(b: Uint8Array, off: number, out: Uint32Array, outIdx: number): void {
  readIpv6Words(b, off + IPV6_DST, out, outIdx);
}
/** Reads 16 address bytes at addrOff as 4 u32 words. */
export function readIpv6Words(b: Uint8Array, addrOff: number, out: Uint32Array, outIdx: number): void {
  out[outIdx] = rd32(b, addrOff);
  out[outIdx + 1] = rd32(b, addrOff + 4);
  out[outIdx + 2] = rd32(b, addrOff + 8);
  out[outIdx + 3] = rd32(b, addrOff + 12);
}
/** Compares 16 address bytes at aOff with 4 words at w[wIdx..+4]. */
export function ipv6EqualsWords(b: Uint8Array, aOff: number, w: Uint32Array, wIdx: number): boolean {
  return rd32(b, aOff) === w[wIdx] && rd32(b, aOff + 4) === w[wIdx + 1] &&
    rd32(b, aOff + 8) === w[wIdx + 2] && rd32(b, aOff + 12) === w[wIdx + 3];
}
/** Compares two 16-byte addresses in place. */
export function ipv6Equals(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): boolean {
  for (let i = 0; i < 16; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  return true;
}

/** Writes a 40-byte header (traffic class and flow label 0); returns the payload offset. */
export function writeIpv6Header(
  b: Uint8Array, off: number, payloadLen: number, nextHeader: number, hopLimit: number,
  src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number,
): number {
  wr32(b, off, 0x60000000);
  wr16(b, off + 4, payloadLen);
  b[off + 6] = nextHeader;
  b[off + 7] = hopLimit;
  copyBytes(b, off + IPV6_SRC, src, srcOff, 16);
  copyBytes(b, off + IPV6_DST, dst, dstOff, 16);
  return off + IPV6_HLEN;
}

/** Result of walkExtHeaders; allocate one per loop with newIpv6Walk() and reuse it. */
export interface Ipv6Walk {
  /** Upper-layer protocol (or 44 for a non-first fragment, 50 ESP, 59 no-next). */
  proto: number;
  /** Offset of the upper-layer header in b (meaningful only for a first or unfragmented packet). */
  l4Off: number;
  /** Upper-layer bytes available from l4Off. */
  l4Len: number;
  /** A Fragment header was present. */
  isFragment: boolean;
  /** Fragment identification (valid when isFragment). */
  fragId: number;
  /** Fragment offset in bytes (valid when isFragment). */
  fragOffset: number;
  /** M flag (valid when isFragment). */
  moreFragments: boolean;
}

export function newIpv6Walk(): Ipv6Walk {
  return { proto: 0, l4Off: 0, l4Len: 0, isFragment: false, fragId: 0, fragOffset: 0, moreFragments: false };
}

const sharedWalk = newIpv6Walk();

/**
 * Follows the extension-header chain of the IPv6 packet at off (len bytes
 * available, bounded further by the payload length): hop-by-hop (0),
 * routing (43), fragment (44), destination options (60), AH (51). Stops at
 * ESP (50), no-next-header (59), any other protocol, or a non-first fragment
 * (whose following header is not present). Returns the protocol or a negative
 * reason code; details go into `out` (a module-level object when omitted).
 * Assumes validateIpv6 passed.
 */
export function walkExtHeaders(b: Uint8Array, off: number, len: number, out: Ipv6Walk = sharedWalk): number {
  const plen = rd16(b, off + 4);
  const end = off + (IPV6_HLEN + plen < len ? IPV6_HLEN + plen : len);
  let nh = b[off + 6];
  let p = off + IPV6_HLEN;
  out.isFragment = false;
  out.fragId = 0;
  out.fragOffset = 0;
  out.moreFragments = false;
  for (let i = 0; i <= IPV6_MAX_EXT_HEADERS; i++) {
    let hl: number;
    if (nh === 0 || nh === 43 || nh === 60) {
      if (p + 2 > end) return WIRE_TRUNCATED;
      hl = (b[p + 1] + 1) << 3;
    } else if (nh === 51) {
      if (p + 2 > end) return WIRE_TRUNCATED;
      hl = (b[p + 1] + 2) << 2;
    } else if (nh === 44) {
      if (p + 8 > end) return WIRE_TRUNCATED;
      hl = 8;
      const fo = rd16(b, p + 2);
      out.isFragment = true;
      out.fragOffset = fo & 0xfff8;
      out.moreFragments = (fo & 1) !== 0;
      out.fragId = rd32(b, p + 4);
      if (out.fragOffset !== 0) {
        out.proto = b[p];
        out.l4Off = p + 8;
        out.l4Len = end - p - 8;
        return out.proto;
      }
    } else {
      out.proto = nh;
      out.l4Off = p;
      out.l4Len = end - p;
      return nh;
    }
    if (p + hl > end) return WIRE_TRUNCATED;
    nh = b[p];
    p += hl;
  }
  return WIRE_TOO_MANY_HEADERS;
}

/** ff00::/8. */
export function isMulticast6(b: Uint8Array, off: number): boolean {
  return b[off] === 0xff;
}
/** fe80::/10. */
export function isLinkLocal6(b: Uint8Array, off: number): boolean {
  return b[off] === 0xfe && (b[off + 1] & 0xc0) === 0x80;
}
/** ::. */
export function isUnspecified6(b: Uint8Array, off: number): boolean {
  for (let i = 0; i < 16; i++) if (b[off + i] !== 0) return false;
  return true;
}

/** Writes the solicited-node multicast address ff02::1:ffXX:XXXX of addr into out. */
export function writeSolicitedNode(addr: Uint8Array, addrOff: number, out: Uint8Array, outOff: number): void {
  out[outOff] = 0xff;
  out[outOff + 1] = 0x02;
  for (let i = 2; i < 11; i++) out[outOff + i] = 0;
  out[outOff + 11] = 0x01;
  out[outOff + 12] = 0xff;
  out[outOff + 13] = addr[addrOff + 13];
  out[outOff + 14] = addr[addrOff + 14];
  out[outOff + 15] = addr[addrOff + 15];
}

/** Solicited-node multicast address of addr (16 new bytes). */
export function solicitedNodeAddr(addr: Uint8Array, addrOff = 0): Uint8Array {
  const out = new Uint8Array(16);
  writeSolicitedNode(addr, addrOff, out, 0);
  return out;
}

/** Writes the Ethernet address 33:33:xx:xx:xx:xx of the IPv6 multicast group at grpOff. */
export function writeMulticastMac6(grp: Uint8Array, grpOff: number, out: Uint8Array, outOff: number): void {
  out[outOff] = 0x33;
  out[outOff + 1] = 0x33;
  copyBytes(out, outOff + 2, grp, grpOff + 12, 4);
}

/** 33:33:ff:xx:xx:xx for the solicited-node group of addr (6 new bytes). */
export function solicitedNodeMac(addr: Uint8Array, addrOff = 0): Uint8Array {
  const out = new Uint8Array(6);
  out[0] = 0x33;
  out[1] = 0x33;
  out[2] = 0xff;
  out[3] = addr[addrOff + 13];
  out[4] = addr[addrOff + 14];
  out[5] = addr[addrOff + 15];
  return out;
}

export { parseIpv6, ipv6ToString } from './ipv6-text.js';
