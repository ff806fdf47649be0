/** Test helpers: hex fixtures and an independent, naive internet checksum. */

export function hex(s: string): Uint8Array {
  const clean = s.replace(/[\s:]/g, '');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toHex(b: Uint8Array, off = 0, len = b.length - off): string {
  let s = '';
  for (let i = off; i < off + len; i++) s += b[i].toString(16).padStart(2, '0');
  return s;
}

/** Reference checksum: byte list, pad, sum words, fold, complement. */
export function refChecksum(bytes: number[]): number {
  const a = bytes.length % 2 ? [...bytes, 0] : bytes;
  let s = 0;
  for (let i = 0; i < a.length; i += 2) s += a[i] * 256 + a[i + 1];
  while (s > 0xffff) s = (s % 65536) + Math.floor(s / 65536);
  return 0xffff - s;
}

/** Reference ICMPv6/UDP checksum over the IPv6 pseudo-header. */
export function refChecksum6(src: Uint8Array, dst: Uint8Array, proto: number, l4: Uint8Array): number {
  const len = l4.length;
  const ph = [...src, ...dst, (len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff, 0, 0, 0, proto];
  return refChecksum([...ph, ...l4]);
}
