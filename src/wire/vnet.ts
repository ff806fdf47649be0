/**
 * struct virtio_net_hdr (10 bytes, no num_buffers), fields in host order
 * (little-endian on the platforms we run on):
 *
 *   0 flags u8   1 gso_type u8   2 hdr_len u16   4 gso_size u16
 *   6 csum_start u16   8 csum_offset u16
 *
 * csum_start and hdr_len count from the first byte of the packet that follows
 * the header: the IP header on the TUN, the Ethernet header on a packet socket.
 */
import { rd16le, wr16le } from './bytes.js';

export const VNET_HDR_LEN = 10;

export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;

export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
export const VIRTIO_NET_HDR_GSO_UDP = 3;
export const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
export const VIRTIO_NET_HDR_GSO_UDP_L4 = 5;
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;

export function vnetFlags(b: Uint8Array, off: number): number {
  return b[off];
}
export function setVnetFlags(b: Uint8Array, off: number, v: number): void {
  b[off] = v;
}
export function vnetGsoType(b: Uint8Array, off: number): number {
  return b[off + 1];
}
export function setVnetGsoType(b: Uint8Array, off: number, v: number): void {
  b[off + 1] = v;
}
export function vnetHdrLen(b: Uint8Array, off: number): number {
  return rd16le(b, off + 2);
}
export function setVnetHdrLen(b: Uint8Array, off: number, v: number): void {
  wr16le(b, off + 2, v);
}
export function vnetGsoSize(b: Uint8Array, off: number): number {
  return rd16le(b, off + 4);
}
export function setVnetGsoSize(b: Uint8Array, off: number, v: number): void {
  wr16le(b, off + 4, v);
}
export function vnetCsumStart(b: Uint8Array, off: number): number {
  return rd16le(b, off + 6);
}
export function setVnetCsumStart(b: Uint8Array, off: number, v: number): void {
  wr16le(b, off + 6, v);
}
export function vnetCsumOffset(b: Uint8Array, off: number): number {
  return rd16le(b, off + 8);
}
export function setVnetCsumOffset(b: Uint8Array, off: number, v: number): void {
  wr16le(b, off + 8, v);
}

/** True when the packet carries a partial checksum the receiver must finish. */
export function vnetNeedsCsum(b: Uint8Array, off: number): boolean {
  return (b[off] & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0;
}

/** True when the packet is a GSO super-packet (gso_type other than NONE, ECN bit ignored). */
export function vnetIsGso(b: Uint8Array, off: number): boolean {
  return (b[off + 1] & ~VIRTIO_NET_HDR_GSO_ECN & 0xff) !== VIRTIO_NET_HDR_GSO_NONE;
}

/** Zeroes the 10 header bytes (no offload: a plain, complete packet). */
export function clearVnetHdr(b: Uint8Array, off: number): void {
  for (let i = 0; i < VNET_HDR_LEN; i++) b[off + i] = 0;
}

/**
 * Moves the header's packet offsets by delta bytes (e.g. +14 when an Ethernet
 * header is put in front of an IP packet, -14 when it is stripped): csum_start
 * when NEEDS_CSUM is set, hdr_len when it is nonzero. Returns false, leaving
 * the header untouched, when a shifted value would fall outside 0..65535 (or
 * hdr_len would drop to zero or below).
 */
export function shiftVnetOffsets(b: Uint8Array, off: number, delta: number): boolean {
  const needs = (b[off] & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0;
  const cs = rd16le(b, off + 6) + delta;
  if (needs && (cs < 0 || cs > 0xffff)) return false;
  const hl0 = rd16le(b, off + 2);
  const hl = hl0 + delta;
  if (hl0 !== 0 && (hl <= 0 || hl > 0xffff)) return false;
  if (needs) wr16le(b, off + 6, cs);
  if (hl0 !== 0) wr16le(b, off + 2, hl);
  return true;
}
