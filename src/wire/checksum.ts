/**
 * Internet checksum (RFC 1071) helpers. Sums are kept unfolded in a JS number
 * (well below 2^53 for any packet size) and folded once at the end.
 */

/**
 * One's-complement partial sum of len bytes at off, added to initial.
 * An odd trailing byte is padded with a zero low byte. Not folded.
 */
export function sum16(b: Uint8Array, off: number, len: number, initial = 0): number {
  let s = initial;
  const end = off + (len & ~1);
  let i = off;
  // Four words per iteration; each term < 2^16, so s stays an exact integer.
  for (; i + 8 <= end; i += 8) {
    s += ((b[i] << 8) | b[i + 1]) + ((b[i + 2] << 8) | b[i + 3]) +
      ((b[i + 4] << 8) | b[i + 5]) + ((b[i + 6] << 8) | b[i + 7]);
  }
  for (; i < end; i += 2) s += (b[i] << 8) | b[i + 1];
  if (len & 1) s += b[off + len - 1] << 8;
  return s;
}

/** Folds a partial sum to 16 bits (end-around carry). */
export function fold16(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** Final checksum value (complement of the folded sum) of len bytes at off. */
export function inetChecksum(b: Uint8Array, off: number, len: number, initial = 0): number {
  return ~fold16(sum16(b, off, len, initial)) & 0xffff;
}

/**
 * True when a range that already contains its checksum field sums to 0xffff
 * (i.e. the stored checksum is correct).
 */
export function checksumValid(b: Uint8Array, off: number, len: number, initial = 0): boolean {
  return fold16(sum16(b, off, len, initial)) === 0xffff;
}

/** Partial sum of the IPv4 pseudo-header (src, dst as u32; proto; L4 length). */
export function pseudoSum4(src: number, dst: number, proto: number, l4Len: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + proto + l4Len;
}

/** Partial sum of the IPv6 pseudo-header with 16-byte addresses at the given offsets. */
export function pseudoSum6(
  src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, proto: number, l4Len: number,
): number {
  return sum16(src, srcOff, 16, sum16(dst, dstOff, 16, 0)) +
    Math.floor(l4Len / 0x10000) + (l4Len & 0xffff) + proto;
}

/**
 * Checksum for an L4 segment inside an IPv6 packet: pseudo-header from the
 * addresses at ip6Off+8 / ip6Off+24, then l4Len bytes at l4Off. Zero the
 * segment's checksum field before computing; over a segment that already
 * holds a correct checksum the result is 0.
 */
export function l4Checksum6(b: Uint8Array, ip6Off: number, l4Off: number, l4Len: number, proto: number): number {
  return inetChecksum(b, l4Off, l4Len, pseudoSum6(b, ip6Off + 8, b, ip6Off + 24, proto, l4Len));
}

/** Same as l4Checksum6 for an L4 segment inside an IPv4 packet at ip4Off. */
export function l4Checksum4(b: Uint8Array, ip4Off: number, l4Off: number, l4Len: number, proto: number): number {
  const src = ((b[ip4Off + 12] << 24) | (b[ip4Off + 13] << 16) | (b[ip4Off + 14] << 8) | b[ip4Off + 15]) >>> 0;
  const dst = ((b[ip4Off + 16] << 24) | (b[ip4Off + 17] << 16) | (b[ip4Off + 18] << 8) | b[ip4Off + 19]) >>> 0;
  return inetChecksum(b, l4Off, l4Len, pseudoSum4(src, dst, proto, l4Len));
}

/**
 * Incremental update (RFC 1624, eqn. 3): new checksum after a 16-bit word
 * covered by it changes from oldWord to newWord.
 */
export function csumReplace16(cksum: number, oldWord: number, newWord: number): number {
  return ~fold16((~cksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff)) & 0xffff;
}

/** Incremental update for a changed 32-bit value (e.g. an IPv4 address). */
export function csumReplace32(cksum: number, oldVal: number, newVal: number): number {
  const s = (~cksum & 0xffff) +
    (~(oldVal >>> 16) & 0xffff) + (~oldVal & 0xffff) +
    ((newVal >>> 16) & 0xffff) + (newVal & 0xffff);
  return ~fold16(s) & 0xffff;
}
