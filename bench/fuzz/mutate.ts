/**
 * Mutation of valid seeds, as fast-check arbitraries (so mutations are seeded,
 * reproducible and shrink towards fewer, smaller changes).
 *
 * Byte mutations: bit flips, interesting values (0, 1, 0x7f, 0x80, 0xff,
 * 16/32-bit boundaries) in either byte order, small arithmetic, length fields
 * set to the remaining length ± a little, truncation, deletion, insertion,
 * duplication of a chunk, and splicing from another seed. Text mutations add
 * line-level edits (duplicate, delete, swap, re-indent) and insertion of
 * tokens from a dictionary (YAML and JSON punctuation, keywords, numbers).
 */
import fc from 'fast-check';

const I8 = [0, 1, 2, 0x0f, 0x10, 0x3f, 0x40, 0x7f, 0x80, 0x81, 0xfe, 0xff];
const I16 = [0, 1, 2, 8, 14, 20, 40, 0x7f, 0x80, 0xff, 0x100, 0x5dc, 0x5dd, 0x7fff, 0x8000, 0xfffe, 0xffff];
const I32 = [0, 1, 4, 16, 0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff];

/** One mutation: [kind, position seed, value seed, extra bytes]. */
export type Mutation = [number, number, number, Uint8Array];

const N_KINDS = 14;

const position = fc.oneof(
  { weight: 3, arbitrary: fc.nat(64) },
  { weight: 1, arbitrary: fc.nat(1 << 16) },
);

export const mutation: fc.Arbitrary<Mutation> = fc.tuple(
  fc.nat(N_KINDS - 1), position, fc.nat(0xffffffff >>> 0), fc.uint8Array({ maxLength: 16 }),
);

export function mutations(max = 6): fc.Arbitrary<Mutation[]> {
  return fc.array(mutation, { minLength: 1, maxLength: max });
}

function grow(b: Uint8Array, at: number, extra: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length + extra.length);
  out.set(b.subarray(0, at), 0);
  out.set(extra, at);
  out.set(b.subarray(at), at + extra.length);
  return out;
}

function cut(b: Uint8Array, at: number, n: number): Uint8Array {
  const out = new Uint8Array(b.length - n);
  out.set(b.subarray(0, at), 0);
  out.set(b.subarray(at + n), at);
  return out;
}

/** Applies one mutation; `other` is a second seed for splicing. */
export function applyMutation(b: Uint8Array, m: Mutation, other: Uint8Array, maxLen: number): Uint8Array {
  const [kind, p, v, extra] = m;
  const len = b.length;
  const at = len === 0 ? 0 : p % len;
  switch (kind) {
    case 0: // bit flip
      if (len > 0) b[at] ^= 1 << (v & 7);
      return b;
    case 1: // interesting byte
      if (len > 0) b[at] = (v & 0x100) !== 0 ? I8[(v >>> 9) % I8.length] : v & 0xff;
      return b;
    case 2: // interesting 16-bit, big-endian (wire length fields)
    case 3: { // little-endian (netlink, vnet)
      if (len < 2) return b;
      const o = p % (len - 1);
      const x = (v & 1) !== 0 ? I16[(v >>> 1) % I16.length] : (v >>> 8) & 0xffff;
      if (kind === 2) { b[o] = x >>> 8; b[o + 1] = x & 0xff; } else { b[o] = x & 0xff; b[o + 1] = x >>> 8; }
      return b;
    }
    case 4: { // interesting 32-bit little-endian
      if (len < 4) return b;
      const o = p % (len - 3);
      const x = (v & 1) !== 0 ? I32[(v >>> 1) % I32.length] : v;
      b[o] = x & 0xff; b[o + 1] = (x >>> 8) & 0xff; b[o + 2] = (x >>> 16) & 0xff; b[o + 3] = x >>> 24;
      return b;
    }
    case 5: // small arithmetic
      if (len > 0) b[at] = (b[at] + ((v % 33) - 16)) & 0xff;
      return b;
    case 6: { // a 16-bit length field set to the bytes after it ± a little, in either byte order
      if (len < 2) return b;
      const o = p % (len - 1);
      const x = Math.max(0, Math.min(0xffff, len - o + ((v >>> 1) % 9) - 4 - ((v >>> 5) % 2) * o));
      if ((v & 1) === 0) { b[o] = x >>> 8; b[o + 1] = x & 0xff; } else { b[o] = x & 0xff; b[o + 1] = x >>> 8; }
      return b;
    }
    case 7: // truncate
      return b.slice(0, len === 0 ? 0 : p % (len + 1));
    case 8: { // delete a range
      if (len === 0) return b;
      return cut(b, at, Math.min(len - at, 1 + (v % 16)));
    }
    case 9: // insert bytes
      return len + extra.length > maxLen ? b : grow(b, len === 0 ? 0 : p % (len + 1), extra);
    case 10: { // duplicate a chunk
      if (len === 0) return b;
      const n = Math.min(len - at, 1 + (v % 64));
      if (len + n > maxLen) return b;
      return grow(b, (v >>> 8) % (len + 1), b.slice(at, at + n));
    }
    case 11: { // splice a chunk of the other seed over this one
      if (other.length === 0 || len === 0) return b;
      const from = (v >>> 4) % other.length;
      const n = Math.min(other.length - from, len - at, 1 + (v & 0x3f));
      b.set(other.subarray(from, from + n), at);
      return b;
    }
    case 12: // overwrite with random bytes
      if (len > 0) b.set(extra.subarray(0, Math.min(extra.length, len - at)), at);
      return b;
    default: // append random bytes
      return len + extra.length > maxLen ? b : grow(b, len, extra);
  }
}

export function applyMutations(seed: Uint8Array, ms: Mutation[], other: Uint8Array, maxLen: number): Uint8Array {
  let b: Uint8Array = seed.slice();
  for (const m of ms) b = applyMutation(b, m, other, maxLen);
  return b;
}

/** Seeds from `seeds`, mutated 1..maxOps times (splicing from a second seed). */
export function mutated(seeds: fc.Arbitrary<Uint8Array>, maxLen: number, maxOps = 6): fc.Arbitrary<Uint8Array> {
  return fc.tuple(seeds, seeds, mutations(maxOps)).map(([s, o, ms]) => applyMutations(s, ms, o, maxLen));
}

/** Fixed seed inputs as an arbitrary. */
export function oneOf(seeds: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  if (seeds.length === 0) throw new Error('oneOf: no seeds');
  return fc.constantFrom(...seeds).map((s) => s.slice());
}

// ---------------------------------------------------------------------------
// Text

const enc = new TextEncoder();

/** Line-level and token mutations of UTF-8 text, then byte mutations. */
export type TextMutation = [number, number, number, number];

export function textMutations(max = 5): fc.Arbitrary<TextMutation[]> {
  return fc.array(fc.tuple(fc.nat(7), fc.nat(1 << 16), fc.nat(1 << 16), fc.nat(1 << 16)), { minLength: 1, maxLength: max });
}

function applyTextMutation(s: string, m: TextMutation, dict: readonly string[]): string {
  const [kind, a, b, c] = m;
  const lines = s.split('\n');
  const i = a % lines.length;
  const j = b % lines.length;
  switch (kind) {
    case 0: lines.splice(i, 0, lines[j]!); break; // duplicate a line
    case 1: if (lines.length > 1) lines.splice(i, 1); break; // delete a line
    case 2: { const t = lines[i]!; lines[i] = lines[j]!; lines[j] = t; break; } // swap two lines
    case 3: lines[i] = ' '.repeat(c % 7) + lines[i]!.trimStart(); break; // re-indent
    case 4: { // insert a token in a line
      const l = lines[i]!;
      const at = l.length === 0 ? 0 : b % (l.length + 1);
      lines[i] = l.slice(0, at) + dict[c % dict.length]! + l.slice(at);
      break;
    }
    case 5: { // replace the value after the first ':' or '=' of a line
      const l = lines[i]!;
      const k = l.search(/[:=]/);
      if (k >= 0) lines[i] = `${l.slice(0, k + 1)} ${dict[c % dict.length]!}`;
      break;
    }
    case 6: { // replace a word
      const l = lines[i]!;
      const words = l.split(/(\s+)/);
      const w = (b % Math.max(1, words.length));
      words[w] = dict[c % dict.length]!;
      lines[i] = words.join('');
      break;
    }
    default: lines.splice(i, 0, dict[c % dict.length]!); // a token as a line of its own
  }
  return lines.join('\n');
}

/** Text seeds mutated at line/token level and then (sometimes) at byte level; the result is UTF-8 bytes. */
export function mutatedText(seeds: readonly string[], dict: readonly string[], maxLen: number): fc.Arbitrary<Uint8Array> {
  return fc.tuple(fc.constantFrom(...seeds), textMutations(), fc.option(mutations(3), { freq: 3 }))
    .map(([s, tms, bms]) => {
      let t = s;
      for (const m of tms) t = applyTextMutation(t, m, dict);
      let b: Uint8Array = enc.encode(t);
      if (b.length > maxLen) b = b.slice(0, maxLen);
      return bms ? applyMutations(b, bms, new Uint8Array(0), maxLen) : b;
    });
}

/** Strings from an arbitrary, as UTF-8 bytes. */
export function utf8(s: fc.Arbitrary<string>): fc.Arbitrary<Uint8Array> {
  return s.map((x) => enc.encode(x));
}

const dec = new TextDecoder('utf-8', { fatal: false });

/** How a file or socket would hand the bytes to a text parser. */
export function decodeUtf8(b: Uint8Array): string {
  return dec.decode(b);
}

const CODE_POINT = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x1f }) },
  { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0x10ffff }).map((c) => (c >= 0xd800 && c <= 0xdfff ? 0xfffd : c)) },
);

/**
 * Any text up to maxLength code points, mostly printable ASCII (fast-check's
 * string arbitraries precompute shrink tables per value, too slow here).
 */
export function anyText(maxLength: number): fc.Arbitrary<string> {
  return fc.array(CODE_POINT, { maxLength }).map((cps) => String.fromCodePoint(...cps));
}

/** Tokens from a dictionary, concatenated. */
export function tokenText(dict: readonly string[], maxLength: number): fc.Arbitrary<string> {
  return fc.array(fc.constantFrom(...dict), { maxLength }).map((a) => a.join(''));
}
