/**
 * Transport-layer fields used for flow keys. Offsets are of the L4 header;
 * `avail` is the number of L4 bytes present.
 */
import { rd16, rd32 } from './bytes.js';

export const IPPROTO_HOPOPTS = 0;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ROUTING = 43;
export const IPPROTO_FRAGMENT = 44;
export const IPPROTO_ESP = 50;
export const IPPROTO_AH = 51;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_NONE = 59;
export const IPPROTO_DSTOPTS = 60;
export const IPPROTO_SCTP = 132;
export const IPPROTO_UDPLITE = 136;

export const ICMP_ECHO_REPLY = 0;
export const ICMP_ECHO_REQUEST = 8;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;

/** TCP, UDP, SCTP and UDP-Lite all start with 16-bit source and destination ports. */
export function hasPorts(proto: number): boolean {
  return proto === IPPROTO_TCP || proto === IPPROTO_UDP || proto === IPPROTO_SCTP || proto === IPPROTO_UDPLITE;
}

export function l4SrcPort(b: Uint8Array, l4Off: number): number {
  return rd16(b, l4Off);
}

export function l4DstPort(b: Uint8Array, l4Off: number): number {
  return rd16(b, l4Off + 2);
}

/**
 * Source and destination port as one u32 (sport << 16 | dport), or -1 when
 * fewer than 4 bytes are available.
 */
export function l4PortPair(b: Uint8Array, l4Off: number, avail: number): number {
  return avail < 4 ? -1 : rd32(b, l4Off);
}

/** True for ICMP (v4 or v6 per proto) echo request or reply types. */
export function isEchoType(proto: number, type: number): boolean {
  return proto === IPPROTO_ICMP
    ? type === ICMP_ECHO_REQUEST || type === ICMP_ECHO_REPLY
    : proto === IPPROTO_ICMPV6 && (type === ICMPV6_ECHO_REQUEST || type === ICMPV6_ECHO_REPLY);
}

/**
 * Echo identifier of an ICMP/ICMPv6 echo request or reply at l4Off, or -1
 * when the message is not an echo or fewer than 6 bytes are available.
 */
export function icmpEchoIdOf(b: Uint8Array, l4Off: number, avail: number, proto: number): number {
  if (avail < 6 || !isEchoType(proto, b[l4Off])) return -1;
  return rd16(b, l4Off + 4);
}
