/**
 * Address and name checks shared by the configuration loader.
 *
 * Every function returns either a value or a short "expected ..." text that the
 * caller turns into a one-line ConfigError naming the file, line and key.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** An address with its prefix length, canonicalised (IPv6 per RFC 5952, lower case). */
export interface IpPrefix {
  family: 4 | 6;
  address: string;
  prefixlen: number;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; expected: string };

const ok = <T>(value: T): Checked<T> => ({ ok: true, value });
const bad = <T>(expected: string): Checked<T> => ({ ok: false, expected });

/** Canonical text of an IPv4 or IPv6 address (no prefix), or null when invalid. */
export function canonicalAddress(text: string): { family: 4 | 6; address: string } | null {
  if (isIPv4(text)) return { family: 4, address: text };
  if (text.includes('%') || !isIPv6(text)) return null;
  const host = new URL(`http://[${text}]/`).hostname;
  return { family: 6, address: host.slice(1, -1) };
}

/** An address with a required "/PREFIXLEN" (IPv4 0–32, IPv6 0–128). */
export function parsePrefix(text: string): Checked<IpPrefix> {
  const slash = text.lastIndexOf('/');
  if (slash < 0) return bad('ADDRESS/PREFIXLEN');
  const addr = canonicalAddress(text.slice(0, slash));
  if (!addr) return bad('ADDRESS/PREFIXLEN with a valid IPv4 or IPv6 address');
  const plenText = text.slice(slash + 1);
  const max = addr.family === 4 ? 32 : 128;
  if (!/^[0-9]{1,3}$/.test(plenText) || Number(plenText) > max) {
    return bad(`a prefix length of 0-${max}`);
  }
  return ok({ family: addr.family, address: addr.address, prefixlen: Number(plenText) });
}

/** True for fe80::/10. `address` must be canonical IPv6. */
export function isLinkLocal6(address: string): boolean {
  const first = address.startsWith('::') ? 0 : parseInt(address.split(':')[0]!, 16);
  return (first & 0xffc0) === 0xfe80;
}

/**
 * Linux interface names: 1–15 bytes, no '/', ':' or whitespace, not "." or "..";
 * no control characters either (a NUL would cut the name short in the kernel).
 */
export function checkIfName(name: string): Checked<string> {
  const bytes = Buffer.byteLength(name);
  if (bytes < 1 || bytes > 15 || /[/:\s\x00-\x1f\x7f]/.test(name) || name === '.' || name === '..') {
    return bad('an interface name of 1-15 characters without "/", ":", whitespace or control characters');
  }
  return ok(name);
}

/** IPMP group names: 1–31 printable characters without whitespace (Solaris LIFGRNAMSIZ). */
export function checkGroupName(name: string): Checked<string> {
  if (name.length < 1 || name.length > 31 || /[\s\x00-\x1f\x7f]/.test(name)) {
    return bad('a group name of 1-31 characters without whitespace');
  }
  return ok(name);
}

/** "ADDRESS/PREFIXLEN", the key used to compare and report addresses. */
export function prefixText(p: IpPrefix): string {
  return `${p.address}/${p.prefixlen}`;
}
