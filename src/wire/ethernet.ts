/**
 * Ethernet II header view. Offsets are relative to the frame start `off`.
 *
 *   0  dst MAC (6)   6  src MAC (6)   12  ethertype (2)   14  payload
 *
 * 802.1Q / 802.1ad tags insert 4 bytes (TPID, TCI) before the inner ethertype.
 */
import { copyBytes, rd16, wr16 } from './bytes.js';
import { WIRE_TRUNCATED, WIRE_TOO_MANY_HEADERS } from './result.js';

export const ETH_HLEN = 14;
export const ETH_ALEN = 6;
export const ETH_DST = 0;
export const ETH_SRC = 6;
export const ETH_TYPE = 12;
export const VLAN_HLEN = 4;
/** Minimum frame length without FCS (shorter frames are padded on the wire). */
export const ETH_ZLEN = 60;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_QINQ = 0x88a8;

/** ff:ff:ff:ff:ff:ff. Shared constant: never write into it. */
export const BROADCAST_MAC: Uint8Array = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
/** 00:00:00:00:00:00. Shared constant: never write into it. */
export const ZERO_MAC: Uint8Array = new Uint8Array(6);

export function getEthType(b: Uint8Array, off: number): number {
  return rd16(b, off + ETH_TYPE);
}

export function setEthType(b: Uint8Array, off: number, type: number): void {
  wr16(b, off + ETH_TYPE, type);
}

/** Copies the destination MAC of the frame at off into out[outOff..+6]. */
export function getEthDst(b: Uint8Array, off: number, out: Uint8Array, outOff: number): void {
  copyBytes(out, outOff, b, off + ETH_DST, ETH_ALEN);
}

export function getEthSrc(b: Uint8Array, off: number, out: Uint8Array, outOff: number): void {
  copyBytes(out, outOff, b, off + ETH_SRC, ETH_ALEN);
}

export function setEthDst(b: Uint8Array, off: number, mac: Uint8Array, macOff: number): void {
  copyBytes(b, off + ETH_DST, mac, macOff, ETH_ALEN);
}

export function setEthSrc(b: Uint8Array, off: number, mac: Uint8Array, macOff: number): void {
  copyBytes(b, off + ETH_SRC, mac, macOff, ETH_ALEN);
}

/** True when the 6 bytes at off are ff:ff:ff:ff:ff:ff. */
export function isBroadcastMac(b: Uint8Array, off: number): boolean {
  return (b[off] & b[off + 1] & b[off + 2] & b[off + 3] & b[off + 4] & b[off + 5]) === 0xff;
}

/** True when the MAC at off has the group bit set (multicast, including broadcast). */
export function isMulticastMac(b: Uint8Array, off: number): boolean {
  return (b[off] & 1) === 1;
}

/** Destination of the frame at off is broadcast. */
export function isBroadcast(b: Uint8Array, off: number): boolean {
  return isBroadcastMac(b, off + ETH_DST);
}

/** Destination of the frame at off is a group address (multicast or broadcast). */
export function isMulticast(b: Uint8Array, off: number): boolean {
  return isMulticastMac(b, off + ETH_DST);
}

/** A MAC a neighbour can have: not a group address, not all zeros. */
export function isUnicastMac(b: Uint8Array, off: number): boolean {
  return (b[off] & 1) === 0 && (b[off] | b[off + 1] | b[off + 2] | b[off + 3] | b[off + 4] | b[off + 5]) !== 0;
}

export function macEquals(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): boolean {
  return a[aOff] === b[bOff] && a[aOff + 1] === b[bOff + 1] && a[aOff + 2] === b[bOff + 2] &&
    a[aOff + 3] === b[bOff + 3] && a[aOff + 4] === b[bOff + 4] && a[aOff + 5] === b[bOff + 5];
}

/** Writes a 14-byte Ethernet header at off; returns the payload offset (off + 14). */
export function writeEthHeader(
  b: Uint8Array, off: number, dstMac: Uint8Array, dstOff: number, srcMac: Uint8Array, srcOff: number, type: number,
): number {
  copyBytes(b, off, dstMac, dstOff, ETH_ALEN);
  copyBytes(b, off + ETH_SRC, srcMac, srcOff, ETH_ALEN);
  wr16(b, off + ETH_TYPE, type);
  return off + ETH_HLEN;
}

/**
 * Checked header length of the frame at off with len bytes available,
 * skipping up to two VLAN tags: 14, 18 or 22, or a negative reason code.
 * The inner ethertype is at off + result - 2 (see ethInnerType).
 */
export function ethHeaderLen(b: Uint8Array, off: number, len: number): number {
  if (len < ETH_HLEN) return WIRE_TRUNCATED;
  let hlen = ETH_HLEN;
  for (let tags = 0; ; tags++) {
    const t = rd16(b, off + hlen - 2);
    if (t !== ETHERTYPE_VLAN && t !== ETHERTYPE_QINQ) return hlen;
    if (tags === 2) return WIRE_TOO_MANY_HEADERS;
    hlen += VLAN_HLEN;
    if (len < hlen) return WIRE_TRUNCATED;
  }
}

/** Ethertype after any VLAN tags, given the length from ethHeaderLen. */
export function ethInnerType(b: Uint8Array, off: number, hlen: number): number {
  return rd16(b, off + hlen - 2);
}

function hex2(n: number): string {
  return (n < 16 ? '0' : '') + n.toString(16);
}

/** "aa:bb:cc:dd:ee:ff" for the 6 bytes at off. */
export function macToString(mac: Uint8Array, off = 0): string {
  let s = hex2(mac[off]);
  for (let i = 1; i < ETH_ALEN; i++) s += ':' + hex2(mac[off + i]);
  return s;
}

const MAC_RE = /^([0-9a-fA-F]{1,2})[:-]([0-9a-fA-F]{1,2})[:-]([0-9a-fA-F]{1,2})[:-]([0-9a-fA-F]{1,2})[:-]([0-9a-fA-F]{1,2})[:-]([0-9a-fA-F]{1,2})$/;

/** Parses "aa:bb:cc:dd:ee:ff" (or '-' separated); throws on bad input. */
export function parseMac(str: string): Uint8Array {
  const m = MAC_RE.exec(str.trim());
  if (m === null) throw new Error(`invalid MAC address: ${JSON.stringify(str)}`);
  const out = new Uint8Array(ETH_ALEN);
  for (let i = 0; i < ETH_ALEN; i++) out[i] = parseInt(m[i + 1], 16);
  return out;
}
