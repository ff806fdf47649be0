/**
 * ICMPv6 Neighbour Discovery (RFC 4861) for address resolution: Neighbour
 * Solicitation (135) and Advertisement (136). Offsets relative to the ICMPv6
 * header `icmpOff`:
 *
 *   0 type  1 code  2 checksum  4 NA flags (R S O) / reserved  8 target(16)  24 options
 *
 * Options: type(1) length(1, units of 8 bytes) data; link-layer options carry a MAC at +2.
 */
import { copyBytes, rd16, wr16, wr32 } from './bytes.js';
import { checksumValid, l4Checksum6, pseudoSum6 } from './checksum.js';
import { ETH_HLEN, ETHERTYPE_IPV6, writeEthHeader } from './ethernet.js';
import { IPV6_HLEN, isUnspecified6, validateIpv6, writeIpv6Header, writeSolicitedNode } from './ipv6.js';
import { IPPROTO_ICMPV6 } from './l4.js';
import {
  WIRE_BAD_CHECKSUM, WIRE_BAD_FIELD, WIRE_NOT_FOUND, WIRE_TRUNCATED, WIRE_UNSUPPORTED,
} from './result.js';

export const ND_NEIGHBOR_SOLICIT = 135;
export const ND_NEIGHBOR_ADVERT = 136;
export const ND_OPT_SOURCE_LINKADDR = 1;
export const ND_OPT_TARGET_LINKADDR = 2;
/** Nonce option (RFC 7527): tells a node's own looped-back DAD probe from another node's. */
export const ND_OPT_NONCE = 14;
/** Bytes of nonce this code sends (the option's data in one 8-byte unit). */
export const ND_NONCE_LEN = 6;
export const NA_FLAG_ROUTER = 0x80;
export const NA_FLAG_SOLICITED = 0x40;
export const NA_FLAG_OVERRIDE = 0x20;
/** NS/NA without options. */
export const ND_MIN_LEN = 24;
/** NS/NA with one link-layer address option. */
export const ND_LL_LEN = 32;
export const ND_HOP_LIMIT = 255;

/** ff02::1 (all nodes). Shared constant: never write into it. */
export const ALL_NODES6: Uint8Array = new Uint8Array([0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
/** 33:33:00:00:00:01. Shared constant: never write into it. */
export const ALL_NODES_MAC: Uint8Array = new Uint8Array([0x33, 0x33, 0, 0, 0, 1]);

/** ICMPv6 checksum of l4Len bytes at l4Off in the IPv6 packet at ip6Off (checksum field must be zero). */
export function icmp6Checksum(b: Uint8Array, ip6Off: number, l4Off: number, l4Len: number): number {
  return l4Checksum6(b, ip6Off, l4Off, l4Len, IPPROTO_ICMPV6);
}

/** True when the stored ICMPv6 checksum is correct. */
export function icmp6ChecksumOk(b: Uint8Array, ip6Off: number, l4Off: number, l4Len: number): boolean {
  return checksumValid(b, l4Off, l4Len, pseudoSum6(b, ip6Off + 8, b, ip6Off + 24, IPPROTO_ICMPV6, l4Len));
}

/**
 * Checked view of an NS or NA in the IPv6 packet at ip6Off (len bytes):
 * ICMPv6 directly after the fixed header, hop limit 255, code 0, at least 24
 * bytes, valid checksum. Returns the ICMPv6 length (its offset is ip6Off + 40)
 * or a negative reason code.
 */
export function validateNd(b: Uint8Array, ip6Off: number, len: number): number {
  const r = validateIpv6(b, ip6Off, len);
  if (r < 0) return r;
  if (b[ip6Off + 6] !== IPPROTO_ICMPV6) return WIRE_UNSUPPORTED;
  const icmpOff = ip6Off + IPV6_HLEN;
  const icmpLen = rd16(b, ip6Off + 4);
  if (icmpLen < ND_MIN_LEN) return WIRE_TRUNCATED;
  const t = b[icmpOff];
  if (t !== ND_NEIGHBOR_SOLICIT && t !== ND_NEIGHBOR_ADVERT) return WIRE_UNSUPPORTED;
  if (b[ip6Off + 7] !== ND_HOP_LIMIT || b[icmpOff + 1] !== 0) return WIRE_BAD_FIELD;
  if (!icmp6ChecksumOk(b, ip6Off, icmpOff, icmpLen)) return WIRE_BAD_CHECKSUM;
  return icmpLen;
}

export function ndType(b: Uint8Array, icmpOff: number): number {
  return b[icmpOff];
}
/** Offset of the 16-byte target address. */
export function ndTargetOffset(icmpOff: number): number {
  return icmpOff + 8;
}
/** R/S/O flag byte of an NA. */
export function naFlags(b: Uint8Array, icmpOff: number): number {
  return b[icmpOff + 4] & 0xe0;
}

/**
 * Offset of the MAC in the first link-layer option of optType (1 source,
 * 2 target) in the NS/NA at icmpOff of icmpLen bytes; WIRE_NOT_FOUND when
 * absent, or a negative code for a malformed option list (zero-length or
 * overrunning option). Each step advances at least 8 bytes, so the walk is
 * bounded by icmpLen / 8.
 */
export function ndFindLinkLayerOpt(b: Uint8Array, icmpOff: number, icmpLen: number, optType: number): number {
  const end = icmpOff + icmpLen;
  let p = icmpOff + ND_MIN_LEN;
  while (p + 2 <= end) {
    const olen = b[p + 1] << 3;
    if (olen === 0) return WIRE_BAD_FIELD;
    if (p + olen > end) return WIRE_TRUNCATED;
    if (b[p] === optType) return p + 2;
    p += olen;
  }
  return WIRE_NOT_FOUND;
}

function writeNdBody(
  b: Uint8Array, off: number, type: number, flags: number, target: Uint8Array, targetOff: number,
  optType: number, mac: Uint8Array | null, macOff: number,
): number {
  b[off] = type;
  b[off + 1] = 0;
  wr16(b, off + 2, 0);
  wr32(b, off + 4, 0);
  b[off + 4] = flags;
  copyBytes(b, off + 8, target, targetOff, 16);
  if (mac === null) return ND_MIN_LEN;
  b[off + 24] = optType;
  b[off + 25] = 1;
  copyBytes(b, off + 26, mac, macOff, 6);
  return ND_LL_LEN;
}

/**
 * Addresses the frame at off to target's solicited-node group: the group in the IPv6
 * destination, its MAC (33:33 + the group's last 4 bytes) and srcMac in the Ethernet header.
 */
function writeToSolicitedNode(out: Uint8Array, off: number, srcMac: Uint8Array, srcMacOff: number, target: Uint8Array,
  targetOff: number): void {
  const ipOff = off + ETH_HLEN;
  writeSolicitedNode(target, targetOff, out, ipOff + 24);
  out[off] = 0x33;
  out[off + 1] = 0x33;
  copyBytes(out, off + 2, out, ipOff + 36, 4);
  writeEthHeader(out, off, out, off, srcMac, srcMacOff, ETHERTYPE_IPV6);
}

/**
 * Writes an Ethernet + IPv6 + NS frame for address resolution of target, to
 * its solicited-node group (33:33:ff:xx:xx:xx). With an unspecified srcIp
 * (duplicate address detection) the source link-layer option is left out.
 * Returns the frame length (86, or 78 for DAD).
 */
export function writeNeighborSolicit(
  out: Uint8Array, off: number, srcMac: Uint8Array, srcMacOff: number, srcIp: Uint8Array, srcIpOff: number,
  target: Uint8Array, targetOff: number,
): number {
  const ipOff = off + ETH_HLEN;
  const icmpOff = ipOff + IPV6_HLEN;
  const dad = isUnspecified6(srcIp, srcIpOff);
  const icmpLen = writeNdBody(out, icmpOff, ND_NEIGHBOR_SOLICIT, 0, target, targetOff,
    ND_OPT_SOURCE_LINKADDR, dad ? null : srcMac, srcMacOff);
  writeToSolicitedNode(out, off, srcMac, srcMacOff, target, targetOff);
  writeIpv6Header(out, ipOff, icmpLen, IPPROTO_ICMPV6, ND_HOP_LIMIT, srcIp, srcIpOff, out, ipOff + 24);
  wr16(out, icmpOff + 2, icmp6Checksum(out, ipOff, icmpOff, icmpLen));
  return ETH_HLEN + IPV6_HLEN + icmpLen;
}

/**
 * Writes a duplicate address detection probe (RFC 4862 §5.4.2): an NS from ::
 * for target to its solicited-node group, with no source link-layer option and
 * a nonce option (RFC 7527) carrying the ND_NONCE_LEN bytes at nonce[nonceOff].
 * Returns the frame length (86).
 */
export function writeDadSolicit(
  out: Uint8Array, off: number, srcMac: Uint8Array, srcMacOff: number, target: Uint8Array, targetOff: number,
  nonce: Uint8Array, nonceOff: number,
): number {
  const ipOff = off + ETH_HLEN;
  const icmpOff = ipOff + IPV6_HLEN;
  writeNdBody(out, icmpOff, ND_NEIGHBOR_SOLICIT, 0, target, targetOff, 0, null, 0);
  out[icmpOff + ND_MIN_LEN] = ND_OPT_NONCE;
  out[icmpOff + ND_MIN_LEN + 1] = 1;
  copyBytes(out, icmpOff + ND_MIN_LEN + 2, nonce, nonceOff, ND_NONCE_LEN);
  writeToSolicitedNode(out, off, srcMac, srcMacOff, target, targetOff);
  for (let i = 0; i < 16; i++) out[ipOff + 8 + i] = 0;
  writeIpv6Header(out, ipOff, ND_LL_LEN, IPPROTO_ICMPV6, ND_HOP_LIMIT, out, ipOff + 8, out, ipOff + 24);
  wr16(out, icmpOff + 2, icmp6Checksum(out, ipOff, icmpOff, ND_LL_LEN));
  return ETH_HLEN + IPV6_HLEN + ND_LL_LEN;
}

/**
 * Offset of the nonce bytes (ND_NONCE_LEN of them) of the NS at icmpOff, WIRE_NOT_FOUND
 * without a nonce option, or a negative code for a malformed option list.
 */
export function ndFindNonce(b: Uint8Array, icmpOff: number, icmpLen: number): number {
  return ndFindLinkLayerOpt(b, icmpOff, icmpLen, ND_OPT_NONCE);
}

/** NS frame (see writeNeighborSolicit) in a new buffer. */
export function buildNeighborSolicit(srcMac: Uint8Array, srcIp: Uint8Array, target: Uint8Array): Uint8Array {
  const f = new Uint8Array(ETH_HLEN + IPV6_HLEN + ND_LL_LEN);
  const n = writeNeighborSolicit(f, 0, srcMac, 0, srcIp, 0, target, 0);
  return n === f.length ? f : f.slice(0, n);
}

/**
 * Writes an Ethernet + IPv6 + NA frame without allocating (for the RX loop's
 * responder): target is our address (also the IPv6 source), srcMac our MAC
 * (also the target link-layer option), flags a mix of NA_FLAG_*. Returns the
 * frame length (86).
 */
export function writeNeighborAdvertInPlace(
  out: Uint8Array, off: number, srcMac: Uint8Array, srcMacOff: number, target: Uint8Array, targetOff: number,
  dstMac: Uint8Array, dstMacOff: number, dstIp: Uint8Array, dstIpOff: number, flags: number,
): number {
  const ipOff = writeEthHeader(out, off, dstMac, dstMacOff, srcMac, srcMacOff, ETHERTYPE_IPV6);
  const icmpOff = writeIpv6Header(out, ipOff, ND_LL_LEN, IPPROTO_ICMPV6, ND_HOP_LIMIT,
    target, targetOff, dstIp, dstIpOff);
  writeNdBody(out, icmpOff, ND_NEIGHBOR_ADVERT, flags, target, targetOff, ND_OPT_TARGET_LINKADDR, srcMac, srcMacOff);
  wr16(out, icmpOff + 2, icmp6Checksum(out, ipOff, icmpOff, ND_LL_LEN));
  return ETH_HLEN + IPV6_HLEN + ND_LL_LEN;
}

/** Solicited NA (or any NA with given flags) in a new buffer. */
export function buildNeighborAdvert(
  srcMac: Uint8Array, target: Uint8Array, dstMac: Uint8Array, dstIp: Uint8Array, flags: number,
): Uint8Array {
  const f = new Uint8Array(ETH_HLEN + IPV6_HLEN + ND_LL_LEN);
  writeNeighborAdvertInPlace(f, 0, srcMac, 0, target, 0, dstMac, 0, dstIp, 0, flags);
  return f;
}

/** Unsolicited NA to all-nodes (after failover), Override set by default. */
export function buildUnsolicitedNeighborAdvert(mac: Uint8Array, target: Uint8Array, flags = NA_FLAG_OVERRIDE): Uint8Array {
  return buildNeighborAdvert(mac, target, ALL_NODES_MAC, ALL_NODES6, flags & ~NA_FLAG_SOLICITED);
}
