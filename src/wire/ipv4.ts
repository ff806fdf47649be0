/**
 * IPv4 header view. Offsets relative to the header start `off`.
 *
 *   0 ver/ihl  1 tos  2 total length  4 id  6 flags/frag offset  8 ttl
 *   9 protocol  10 header checksum  12 src  16 dst  20 options
 *
 * Addresses are unsigned 32-bit numbers (a.b.c.d = a<<24 | ... >>> 0).
 */
import { rd16, rd32, wr16, wr32 } from './bytes.js';
import { checksumValid, inetChecksum } from './checksum.js';
import { WIRE_BAD_HEADER_LEN, WIRE_BAD_TOTAL_LEN, WIRE_BAD_VERSION, WIRE_TRUNCATED } from './result.js';

export const IPV4_MIN_HLEN = 20;
export const IPV4_SRC = 12;
export const IPV4_DST = 16;
export const IPV4_FLAG_DF = 0x4000;
export const IPV4_FLAG_MF = 0x2000;
export const IPV4_FRAG_MASK = 0x1fff;

/**
 * Checked view of untrusted input: len bytes are available at off. Returns the
 * header length (IHL*4) or a negative reason code: version 4, IHL >= 5, total
 * length <= len, IHL*4 <= total length.
 */
export function validateIpv4(b: Uint8Array, off: number, len: number): number {
  if (len < IPV4_MIN_HLEN) return WIRE_TRUNCATED;
  const vi = b[off];
  if (vi >>> 4 !== 4) return WIRE_BAD_VERSION;
  const hlen = (vi & 0x0f) << 2;
  if (hlen < IPV4_MIN_HLEN) return WIRE_BAD_HEADER_LEN;
  const total = rd16(b, off + 2);
  if (total > len) return WIRE_BAD_TOTAL_LEN;
  if (hlen > total) return WIRE_BAD_HEADER_LEN;
  return hlen;
}

export function ipv4HeaderLen(b: Uint8Array, off: number): number {
  return (b[off] & 0x0f) << 2;
}
export function ipv4Tos(b: Uint8Array, off: number): number {
  return b[off + 1];
}
export function ipv4TotalLen(b: Uint8Array, off: number): number {
  return rd16(b, off + 2);
}
export function setIpv4TotalLen(b: Uint8Array, off: number, v: number): void {
  wr16(b, off + 2, v);
}
export function ipv4Id(b: Uint8Array, off: number): number {
  return rd16(b, off + 4);
}
/** Raw 16-bit flags + fragment offset field. */
export function ipv4FlagsFrag(b: Uint8Array, off: number): number {
  return rd16(b, off + 6);
}
/** Fragment offset in bytes. */
export function ipv4FragOffset(b: Uint8Array, off: number): number {
  return (rd16(b, off + 6) & IPV4_FRAG_MASK) << 3;
}
export function ipv4MoreFragments(b: Uint8Array, off: number): boolean {
  return (b[off + 6] & 0x20) !== 0;
}
export function ipv4DontFragment(b: Uint8Array, off: number): boolean {
  return (b[off + 6] & 0x40) !== 0;
}
/** True for any fragment of a datagram (MF set or offset nonzero), the first included. */
export function ipv4IsFragment(b: Uint8Array, off: number): boolean {
  return (rd16(b, off + 6) & (IPV4_FLAG_MF | IPV4_FRAG_MASK)) !== 0;
}
export function ipv4Ttl(b: Uint8Array, off: number): number {
  return b[off + 8];
}
export function ipv4Protocol(b: Uint8Array, off: number): number {
  return b[off + 9];
}
export function ipv4Checksum(b: Uint8Array, off: number): number {
  return rd16(b, off + 10);
}
export function ipv4Src(b: Uint8Array, off: number): number {
  return rd32(b, off + IPV4_SRC);
}
export function ipv4Dst(b: Uint8Array, off: number): number {
  return rd32(b, off + IPV4_DST);
}
export function setIpv4Src(b: Uint8Array, off: number, v: number): void {
  wr32(b, off + IPV4_SRC, v);
}
export function setIpv4Dst(b: Uint8Array, off: number, v: number): void {
  wr32(b, off + IPV4_DST, v);
}

/** Header checksum computed over the header at off, treating the stored checksum as zero. */
export function computeIpv4Checksum(b: Uint8Array, off: number): number {
  const hlen = (b[off] & 0x0f) << 2;
  let s = 0;
  for (let i = 0; i < hlen; i += 2) if (i !== 10) s += (b[off + i] << 8) | b[off + i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** Writes a fresh header checksum. */
export function setIpv4Checksum(b: Uint8Array, off: number): void {
  wr16(b, off + 10, 0);
  wr16(b, off + 10, inetChecksum(b, off, (b[off] & 0x0f) << 2));
}

/** True when the stored header checksum is correct. */
export function ipv4ChecksumOk(b: Uint8Array, off: number): boolean {
  return checksumValid(b, off, (b[off] & 0x0f) << 2);
}

/**
 * Writes a 20-byte header (no options, TOS 0) with its checksum; returns the
 * payload offset. For builders off the hot path.
 */
export function writeIpv4Header(
  b: Uint8Array, off: number, totalLen: number, id: number, ttl: number, proto: number,
  src: number, dst: number, dontFragment = false,
): number {
  b[off] = 0x45;
  b[off + 1] = 0;
  wr16(b, off + 2, totalLen);
  wr16(b, off + 4, id);
  wr16(b, off + 6, dontFragment ? IPV4_FLAG_DF : 0);
  b[off + 8] = ttl;
  b[off + 9] = proto;
  wr16(b, off + 10, 0);
  wr32(b, off + 12, src);
  wr32(b, off + 16, dst);
  wr16(b, off + 10, inetChecksum(b, off, IPV4_MIN_HLEN));
  return off + IPV4_MIN_HLEN;
}

/** Dotted quad for an unsigned 32-bit address. */
export function ipv4ToString(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`;
}

const DEC_OCTET = /^(0|[1-9][0-9]{0,2})$/;

/** Parses a strict dotted quad ("10.0.0.1") to an unsigned u32; throws on bad input. */
export function parseIpv4(str: string): number {
  const parts = str.split('.');
  if (parts.length !== 4) throw new Error(`invalid IPv4 address: ${JSON.stringify(str)}`);
  let a = 0;
  for (const p of parts) {
    if (!DEC_OCTET.test(p)) throw new Error(`invalid IPv4 address: ${JSON.stringify(str)}`);
    const n = Number(p);
    if (n > 255) throw new Error(`invalid IPv4 address: ${JSON.stringify(str)}`);
    a = a * 256 + n;
  }
  return a >>> 0;
}

/** 224.0.0.0/4. */
export function isMulticast4(a: number): boolean {
  return (a >>> 28) === 0xe;
}

/** 255.255.255.255. */
export function isLimitedBroadcast4(a: number): boolean {
  return (a >>> 0) === 0xffffffff;
}

/** Network mask for a prefix length 0..32 as an unsigned u32. */
export function prefixMask4(plen: number): number {
  return plen <= 0 ? 0 : plen >= 32 ? 0xffffffff : (0xffffffff << (32 - plen)) >>> 0;
}

/** True when addr lies in net/plen. */
export function inSubnet4(addr: number, net: number, plen: number): boolean {
  const m = prefixMask4(plen);
  return ((addr & m) >>> 0) === ((net & m) >>> 0);
}
