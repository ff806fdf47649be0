/**
 * IPv6 text forms: parsing (RFC 4291 section 2.2) and canonical formatting
 * (RFC 5952). Off the hot path; parseIpv6 throws on bad input.
 */
import { parseIpv4 } from './ipv4.js';

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function bad(str: string): Error {
  return new Error(`invalid IPv6 address: ${JSON.stringify(str)}`);
}

/** Groups of one side of "::" as 16-bit numbers; a dotted IPv4 tail counts as two. */
function parseGroups(str: string, side: string, allowV4Tail: boolean): number[] {
  if (side === '') return [];
  const parts = side.split(':');
  const out: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (i === parts.length - 1 && allowV4Tail && p.includes('.')) {
      const v4 = parseIpv4(p);
      out.push(v4 >>> 16, v4 & 0xffff);
    } else if (HEX_GROUP.test(p)) {
      out.push(parseInt(p, 16));
    } else {
      throw bad(str);
    }
  }
  return out;
}

/** Parses an IPv6 address ("2001:db8::1", "::ffff:192.0.2.1") into 16 bytes. */
export function parseIpv6(str: string): Uint8Array {
  const s = str.trim();
  const dbl = s.indexOf('::');
  let groups: number[];
  try {
    if (dbl < 0) {
      groups = parseGroups(s, s, true);
      if (groups.length !== 8) throw bad(str);
    } else {
      if (s.indexOf('::', dbl + 1) >= 0) throw bad(str);
      const head = parseGroups(s, s.slice(0, dbl), false);
      const tail = parseGroups(s, s.slice(dbl + 2), true);
      const fill = 8 - head.length - tail.length;
      // "::" stands for at least one zero group.
      if (fill < 1) throw bad(str);
      groups = head.concat(new Array<number>(fill).fill(0), tail);
    }
  } catch {
    throw bad(str);
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = groups[i] >>> 8;
    out[2 * i + 1] = groups[i] & 0xff;
  }
  return out;
}

/**
 * RFC 5952 canonical text: lowercase hex without leading zeros, the longest
 * run of two or more zero groups (the first on a tie) shortened to "::", and
 * IPv4-mapped addresses (::ffff:0:0/96) with a dotted-quad tail.
 */
export function ipv6ToString(b: Uint8Array, off = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[off + 2 * i] << 8) | b[off + 2 * i + 1]);
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${b[off + 12]}.${b[off + 13]}.${b[off + 14]}.${b[off + 15]}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  if (bestStart < 0) return g.map((x) => x.toString(16)).join(':');
  const head = g.slice(0, bestStart).map((x) => x.toString(16)).join(':');
  const tail = g.slice(bestStart + bestLen).map((x) => x.toString(16)).join(':');
  return `${head}::${tail}`;
}
