/**
 * Small IP address helpers for the probing logic: parse, canonical text, subnet test.
 * IPv4 values are uint32 numbers, IPv6 values are 128-bit bigints. Canonical IPv6 text is
 * RFC 5952 (lower case, longest zero run compressed); a `%zone` suffix is dropped.
 */

export type Family = 4 | 6;

/** Parses dotted-quad IPv4; null when malformed. */
export function parseV4(s: string): number | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  let v = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    v = v * 256 + n;
  }
  return v;
}

function parseGroups(s: string): number[] | null {
  if (s === '') return [];
  const out: number[] = [];
  const parts = s.split(':');
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (i === parts.length - 1 && p.includes('.')) {
      const v4 = parseV4(p);
      if (v4 === null) return null;
      out.push(v4 >>> 16, v4 & 0xffff);
    } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) {
      out.push(parseInt(p, 16));
    } else {
      return null;
    }
  }
  return out;
}

/** Parses IPv6 text (with optional `::`, embedded IPv4 and `%zone`); null when malformed. */
export function parseV6(text: string): bigint | null {
  const s = text.split('%')[0]!;
  const dbl = s.indexOf('::');
  let groups: number[] | null;
  if (dbl >= 0) {
    if (s.indexOf('::', dbl + 1) >= 0) return null;
    const head = parseGroups(s.slice(0, dbl));
    const tail = parseGroups(s.slice(dbl + 2));
    if (!head || !tail || head.length + tail.length > 7) return null;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    groups = parseGroups(s);
    if (!groups || groups.length !== 8) return null;
  }
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  return v;
}

export function formatV4(v: number): string {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

export function formatV6(v: bigint): string {
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestAt < 0) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`;
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
