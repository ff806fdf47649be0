/**
 * Small IP address helpers for the probing logic: parse, canonical text, subnet test.
 * IPv4 values are uint32 numbers, IPv6 values are 128-bit bigints. Canonical IPv6 text is
 * RFC 5952 (lower case, longest zero run compressed); a `%zone` suffix is dropped.
 */

import { ipv4ToString, parseIpv4 } from '../../wire/ipv4.js';
import { ipv6ToString, parseIpv6 } from '../../wire/ipv6-text.js';

export type Family = 4 | 6;

/** Parses dotted-quad IPv4; null when malformed. */
export function parseV4(s: string): number | null {
  try {
    return parseIpv4(s);
  } catch {
    return null;
  }
}

/** Parses IPv6 text (with optional `::`, embedded IPv4 and `%zone`); null when malformed. */
export function parseV6(text: string): bigint | null {
  let b: Uint8Array;
  try {
    b = parseIpv6(text.split('%')[0]!);
  } catch {
    return null;
  }
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

export function formatV4(v: number): string {
  return ipv4ToString(v);
}

export function formatV6(v: bigint): string {
  const b = new Uint8Array(16);
  for (let i = 15; i >= 0; i--, v >>= 8n) b[i] = Number(v & 0xffn);
  return ipv6ToString(b);
}

/** Canonical text of an address of `family`, or null when it does not parse. */
export function canonicalAddr(family: Family, s: string): string | null {
  if (family === 4) {
    const v = parseV4(s);
    return v === null ? null : formatV4(v);
  }
  const v = parseV6(s);
  return v === null ? null : formatV6(v);
}

/** True when `addr` lies inside `net`/`prefixLen`; false when either does not parse. */
export function inSubnet(family: Family, addr: string, net: string, prefixLen: number): boolean {
  if (family === 4) {
    const a = parseV4(addr);
    const n = parseV4(net);
    if (a === null || n === null) return false;
    if (prefixLen <= 0) return true;
    const shift = 32 - Math.min(prefixLen, 32);
    return Math.floor(a / 2 ** shift) === Math.floor(n / 2 ** shift);
  }
  const a = parseV6(addr);
  const n = parseV6(net);
  if (a === null || n === null) return false;
  const shift = BigInt(128 - Math.max(0, Math.min(prefixLen, 128)));
  return a >> shift === n >> shift;
}

/** 0.0.0.0 or :: (or unparsable). */
export function isUnspecified(family: Family, s: string): boolean {
  return family === 4 ? !parseV4(s) : !parseV6(s);
}

/** fe80::/10. */
export function isLinkLocalV6(s: string): boolean {
  const v = parseV6(s);
  return v !== null && v >> 118n === 0x3fan;
}

/**
 * The link-local address a NIC forms from its MAC (modified EUI-64, RFC 4291 appendix A):
 * fe80::/64 with the MAC split by ff:fe and the universal/local bit inverted.
 */
export function eui64LinkLocal(mac: Uint8Array): string {
  const b = new Uint8Array(16);
  b[0] = 0xfe;
  b[1] = 0x80;
  b[8] = mac[0]! ^ 0x02;
  b[9] = mac[1]!;
  b[10] = mac[2]!;
  b[11] = 0xff;
  b[12] = 0xfe;
  b[13] = mac[3]!;
  b[14] = mac[4]!;
  b[15] = mac[5]!;
  return ipv6ToString(b);
}
