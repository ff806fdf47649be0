/**
 * ARP for Ethernet/IPv4 (RFC 826). Offsets relative to the ARP header `off`
 * (i.e. after the Ethernet header):
 *
 *   0 htype  2 ptype  4 hlen  5 plen  6 op  8 sha(6)  14 spa(4)  18 tha(6)  24 tpa(4)
 */
import { copyBytes, rd16, rd32, wr16, wr32 } from './bytes.js';
import { BROADCAST_MAC, ETH_HLEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, ZERO_MAC, writeEthHeader } from './ethernet.js';
import { WIRE_BAD_FIELD, WIRE_TRUNCATED, WIRE_UNSUPPORTED } from './result.js';

export const ARP_LEN = 28;
/** Ethernet + ARP frame length (unpadded). */
export const ARP_FRAME_LEN = ETH_HLEN + ARP_LEN;
export const ARP_HTYPE_ETHER = 1;
export const ARP_OP_REQUEST = 1;
export const ARP_OP_REPLY = 2;
export const ARP_SHA = 8;
export const ARP_SPA = 14;
export const ARP_THA = 18;
export const ARP_TPA = 24;

/**
 * Checked view: returns ARP_LEN for an Ethernet/IPv4 ARP packet with len bytes
 * available at off, else a negative reason code. Ops other than request and
 * reply are reported as WIRE_BAD_FIELD.
 */
export function validateArp(b: Uint8Array, off: number, len: number): number {
  if (len < ARP_LEN) return WIRE_TRUNCATED;
  if (rd16(b, off) !== ARP_HTYPE_ETHER || rd16(b, off + 2) !== ETHERTYPE_IPV4 ||
    b[off + 4] !== 6 || b[off + 5] !== 4) return WIRE_UNSUPPORTED;
  const op = rd16(b, off + 6);
  if (op !== ARP_OP_REQUEST && op !== ARP_OP_REPLY) return WIRE_BAD_FIELD;
  return ARP_LEN;
}

export function arpOp(b: Uint8Array, off: number): number {
  return rd16(b, off + 6);
}
/** Sender IPv4 address as an unsigned u32. */
export function arpSpa(b: Uint8Array, off: number): number {
  return rd32(b, off + ARP_SPA);
}
/** Target IPv4 address as an unsigned u32. */
export function arpTpa(b: Uint8Array, off: number): number {
  return rd32(b, off + ARP_TPA);
}
/** Offset of the sender hardware address (the MAC can be read in place). */
export function arpShaOffset(off: number): number {
  return off + ARP_SHA;
}
/** Offset of the target hardware address. */
export function arpThaOffset(off: number): number {
  return off + ARP_THA;
}
/** Copies the sender hardware address into out[outOff..+6]. */
export function getArpSha(b: Uint8Array, off: number, out: Uint8Array, outOff: number): void {
  copyBytes(out, outOff, b, off + ARP_SHA, 6);
}
/** Copies the target hardware address into out[outOff..+6]. */
export function getArpTha(b: Uint8Array, off: number, out: Uint8Array, outOff: number): void {
  copyBytes(out, outOff, b, off + ARP_THA, 6);
}
/** Sender IP equals target IP: a gratuitous ARP (request or reply form). */
export function arpIsGratuitous(b: Uint8Array, off: number): boolean {
  return rd32(b, off + ARP_SPA) === rd32(b, off + ARP_TPA);
}
/** Sender IP 0.0.0.0: an address probe (RFC 5227). */
export function arpIsProbe(b: Uint8Array, off: number): boolean {
  return rd32(b, off + ARP_SPA) === 0;
}

/** Writes the 28-byte ARP body at off. */
export function writeArpBody(
  b: Uint8Array, off: number, op: number,
  sha: Uint8Array, shaOff: number, spa: number, tha: Uint8Array, thaOff: number, tpa: number,
): void {
  wr16(b, off, ARP_HTYPE_ETHER);
  wr16(b, off + 2, ETHERTYPE_IPV4);
  b[off + 4] = 6;
  b[off + 5] = 4;
  wr16(b, off + 6, op);
  copyBytes(b, off + ARP_SHA, sha, shaOff, 6);
  wr32(b, off + ARP_SPA, spa);
  copyBytes(b, off + ARP_THA, tha, thaOff, 6);
  wr32(b, off + ARP_TPA, tpa);
}

/**
 * Writes a complete Ethernet + ARP reply frame at out[outOff] without
 * allocating (for the RX loop's responder). The reply goes from srcMac/srcIp
 * (ours) to dstMac/dstIp (the requester). Returns the frame length (42).
 */
export function writeArpReplyInPlace(
  out: Uint8Array, outOff: number, srcMac: Uint8Array, srcMacOff: number, srcIp: number,
  dstMac: Uint8Array, dstMacOff: number, dstIp: number,
): number {
  writeEthHeader(out, outOff, dstMac, dstMacOff, srcMac, srcMacOff, ETHERTYPE_ARP);
  writeArpBody(out, outOff + ETH_HLEN, ARP_OP_REPLY, srcMac, srcMacOff, srcIp, dstMac, dstMacOff, dstIp);
  return ARP_FRAME_LEN;
}

/** Broadcast who-has targetIp, tell srcIp. Full Ethernet frame. */
export function buildArpRequest(srcMac: Uint8Array, srcIp: number, targetIp: number): Uint8Array {
  const f = new Uint8Array(ARP_FRAME_LEN);
  writeEthHeader(f, 0, BROADCAST_MAC, 0, srcMac, 0, ETHERTYPE_ARP);
  writeArpBody(f, ETH_HLEN, ARP_OP_REQUEST, srcMac, 0, srcIp, ZERO_MAC, 0, targetIp);
  return f;
}

/** Unicast reply srcIp is-at srcMac, to dstMac/dstIp. Full Ethernet frame. */
export function buildArpReply(srcMac: Uint8Array, srcIp: number, dstMac: Uint8Array, dstIp: number): Uint8Array {
  const f = new Uint8Array(ARP_FRAME_LEN);
  writeArpReplyInPlace(f, 0, srcMac, 0, srcIp, dstMac, 0, dstIp);
  return f;
}

/**
 * Gratuitous ARP announcing ip at mac: an ARP request with sender IP = target
 * IP and target hardware address ff:ff:ff:ff:ff:ff, sent to broadcast.
 */
export function buildGratuitousArp(mac: Uint8Array, ip: number): Uint8Array {
  const f = new Uint8Array(ARP_FRAME_LEN);
  writeEthHeader(f, 0, BROADCAST_MAC, 0, mac, 0, ETHERTYPE_ARP);
  writeArpBody(f, ETH_HLEN, ARP_OP_REQUEST, mac, 0, ip, BROADCAST_MAC, 0, ip);
  return f;
}
