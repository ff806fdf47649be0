/**
 * ICMPv4 / ICMPv6 echo views and the in.mpathd-style probe. Offsets relative
 * to the ICMP header `off`:
 *
 *   0 type  1 code  2 checksum  4 id  6 seq  8 data
 *
 * Probe body (exactly 20 bytes): type, code 0, checksum, id, seq,
 * timestamp (u64 ns, big-endian) at 8, mtype (u32, big-endian) at 16.
 */
import { rd16, rd32, wr16, wr32 } from './bytes.js';
import { checksumValid, inetChecksum, l4Checksum6, pseudoSum6 } from './checksum.js';
import { ETH_HLEN, ETHERTYPE_IPV4, ETHERTYPE_IPV6, writeEthHeader } from './ethernet.js';
import { ipv4ChecksumOk, IPV4_MIN_HLEN, validateIpv4, writeIpv4Header } from './ipv4.js';
import { IPV6_HLEN, validateIpv6, writeIpv6Header } from './ipv6.js';
import {
  ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST, IPPROTO_ICMP, IPPROTO_ICMPV6,
} from './l4.js';
import { WIRE_BAD_CHECKSUM, WIRE_TRUNCATED, WIRE_UNSUPPORTED } from './result.js';

export { ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST };

export const ICMP_HLEN = 8;
export const PROBE_ICMP_LEN = 20;
export const PROBE_FRAME4_LEN = ETH_HLEN + IPV4_MIN_HLEN + PROBE_ICMP_LEN;
export const PROBE_FRAME6_LEN = ETH_HLEN + IPV6_HLEN + PROBE_ICMP_LEN;

export function icmpType(b: Uint8Array, off: number): number {
  return b[off];
}
export function icmpCode(b: Uint8Array, off: number): number {
  return b[off + 1];
}
export function icmpChecksum(b: Uint8Array, off: number): number {
  return rd16(b, off + 2);
}
export function setIcmpChecksum(b: Uint8Array, off: number, v: number): void {
  wr16(b, off + 2, v);
}
export function icmpEchoId(b: Uint8Array, off: number): number {
  return rd16(b, off + 4);
}
export function icmpEchoSeq(b: Uint8Array, off: number): number {
  return rd16(b, off + 6);
}
export function setIcmpEchoId(b: Uint8Array, off: number, v: number): void {
  wr16(b, off + 4, v);
}
export function setIcmpEchoSeq(b: Uint8Array, off: number, v: number): void {
  wr16(b, off + 6, v);
}

/** Checked ICMPv4 message of len bytes at off: returns len, or a negative code (short, bad checksum). */
export function validateIcmp4(b: Uint8Array, off: number, len: number): number {
  if (len < ICMP_HLEN) return WIRE_TRUNCATED;
  return checksumValid(b, off, len) ? len : WIRE_BAD_CHECKSUM;
}

/** Writes the 20-byte probe body with a zero checksum. */
export function writeProbeBody(
  b: Uint8Array, off: number, type: number, id: number, seq: number, timestampNs: bigint, mtype: number,
): void {
  b[off] = type;
  b[off + 1] = 0;
  wr16(b, off + 2, 0);
  wr16(b, off + 4, id);
  wr16(b, off + 6, seq);
  const ts = BigInt.asUintN(64, timestampNs);
  wr32(b, off + 8, Number(ts >> 32n));
  wr32(b, off + 12, Number(ts & 0xffffffffn));
  wr32(b, off + 16, mtype);
}

/** ICMPv4 echo-request probe body (20 bytes) with its checksum. */
export function buildIcmpEchoProbe(id: number, seq: number, timestampNs: bigint, mtype: number): Uint8Array {
  const p = new Uint8Array(PROBE_ICMP_LEN);
  writeProbeBody(p, 0, ICMP_ECHO_REQUEST, id, seq, timestampNs, mtype);
  wr16(p, 2, inetChecksum(p, 0, PROBE_ICMP_LEN));
  return p;
}

/** Ethernet + IPv4 (TTL 1) + ICMPv4 probe frame, 54 bytes. Addresses as u32. */
export function buildIcmpProbeFrame4(
  dstMac: Uint8Array, srcMac: Uint8Array, srcIp: number, dstIp: number,
  id: number, seq: number, timestampNs: bigint, mtype: number, ipId = 0,
): Uint8Array {
  const f = new Uint8Array(PROBE_FRAME4_LEN);
  const ipOff = writeEthHeader(f, 0, dstMac, 0, srcMac, 0, ETHERTYPE_IPV4);
  const icmpOff = writeIpv4Header(f, ipOff, IPV4_MIN_HLEN + PROBE_ICMP_LEN, ipId, 1, IPPROTO_ICMP, srcIp, dstIp);
  writeProbeBody(f, icmpOff, ICMP_ECHO_REQUEST, id, seq, timestampNs, mtype);
  wr16(f, icmpOff + 2, inetChecksum(f, icmpOff, PROBE_ICMP_LEN));
  return f;
}

/** Ethernet + IPv6 (hop limit 1) + ICMPv6 probe frame, 74 bytes, checksum over the pseudo-header. */
export function buildIcmp6ProbeFrame(
  dstMac: Uint8Array, srcMac: Uint8Array, srcIp: Uint8Array, dstIp: Uint8Array,
  id: number, seq: number, timestampNs: bigint, mtype: number,
): Uint8Array {
  const f = new Uint8Array(PROBE_FRAME6_LEN);
  const ipOff = writeEthHeader(f, 0, dstMac, 0, srcMac, 0, ETHERTYPE_IPV6);
  const icmpOff = writeIpv6Header(f, ipOff, PROBE_ICMP_LEN, IPPROTO_ICMPV6, 1, srcIp, 0, dstIp, 0);
  writeProbeBody(f, icmpOff, ICMPV6_ECHO_REQUEST, id, seq, timestampNs, mtype);
  wr16(f, icmpOff + 2, l4Checksum6(f, ipOff, icmpOff, PROBE_ICMP_LEN, IPPROTO_ICMPV6));
  return f;
}

/** Fields of a probe echo (request or reply). */
export interface ProbeFields {
  type: number;
  id: number;
  seq: number;
  timestampNs: bigint;
  mtype: number;
}

/** Reads the probe fields of an ICMP message at off with len bytes; null when shorter than 20. */
export function readProbeFields(b: Uint8Array, off: number, len: number): ProbeFields | null {
  if (len < PROBE_ICMP_LEN) return null;
  return {
    type: b[off],
    id: rd16(b, off + 4),
    seq: rd16(b, off + 6),
    timestampNs: (BigInt(rd32(b, off + 8)) << 32n) | BigInt(rd32(b, off + 12)),
    mtype: rd32(b, off + 16),
  };
}

/**
 * Checks an IPv4 packet at ipOff (len bytes) for an ICMP echo reply with a
 * probe body: header and ICMP checksums valid. Returns the ICMP offset or a
 * negative code; read the fields with readProbeFields(b, result, ...).
 */
export function checkProbeReply4(b: Uint8Array, ipOff: number, len: number): number {
  const hlen = validateIpv4(b, ipOff, len);
  if (hlen < 0) return hlen;
  if (!ipv4ChecksumOk(b, ipOff)) return WIRE_BAD_CHECKSUM;
  const icmpOff = ipOff + hlen;
  const icmpLen = rd16(b, ipOff + 2) - hlen;
  if (b[ipOff + 9] !== IPPROTO_ICMP || (rd16(b, ipOff + 6) & 0x3fff) !== 0) return WIRE_UNSUPPORTED;
  if (icmpLen < PROBE_ICMP_LEN) return WIRE_TRUNCATED;
  if (b[icmpOff] !== ICMP_ECHO_REPLY || b[icmpOff + 1] !== 0) return WIRE_UNSUPPORTED;
  if (!checksumValid(b, icmpOff, icmpLen)) return WIRE_BAD_CHECKSUM;
  return icmpOff;
}

/** IPv6 counterpart of checkProbeReply4 (no extension headers expected). */
export function checkProbeReply6(b: Uint8Array, ipOff: number, len: number): number {
  const r = validateIpv6(b, ipOff, len);
  if (r < 0) return r;
  if (b[ipOff + 6] !== IPPROTO_ICMPV6) return WIRE_UNSUPPORTED;
  const icmpOff = ipOff + IPV6_HLEN;
  const icmpLen = rd16(b, ipOff + 4);
  if (icmpLen < PROBE_ICMP_LEN) return WIRE_TRUNCATED;
  if (b[icmpOff] !== ICMPV6_ECHO_REPLY || b[icmpOff + 1] !== 0) return WIRE_UNSUPPORTED;
  const ps = pseudoSum6(b, ipOff + 8, b, ipOff + 24, IPPROTO_ICMPV6, icmpLen);
  if (!checksumValid(b, icmpOff, icmpLen, ps)) return WIRE_BAD_CHECKSUM;
  return icmpOff;
}
