/**
 * The Solaris /etc/default/mpathd file: NAME=value lines read as defread(3C) reads
 * them (case-insensitive names, '#' comments, surrounding quotes stripped, first
 * occurrence wins), with the values checked as in.mpathd checks them. Problems are
 * warnings (log lines), never fatal, and the Solaris message texts are kept.
 */
import { printable } from './config-types.js';

export const DEFAULT_FDT_MS = 10000;
export const MIN_FDT_MS = 100;

/** Tunables found in the file; a name absent from the file is absent here. */
export interface MpathdTunables {
  fdtMs?: number;
  failback?: boolean;
  trackInterfacesOnlyWithGroups?: boolean;
}

const LONG_MAX = (1n << 63n) - 1n;
const LONG_MIN = -(1n << 63n);

/**
 * C `(int)strtol(text, NULL, 0)` on LP64: leading white space, optional sign,
 * "0x" hex, leading "0" octal, longest valid prefix, 0 when no digits, the long
 * result saturated and then truncated to 32 bits.
 */
export function cStrtolInt(text: string): number {
  let i = 0;
  while (i < text.length && ' \t\n\v\f\r'.includes(text[i]!)) i++;
  let neg = false;
  if (text[i] === '+' || text[i] === '-') { neg = text[i] === '-'; i++; }
  let base = 10;
  if (text[i] === '0' && (text[i + 1] === 'x' || text[i + 1] === 'X') && /[0-9a-fA-F]/.test(text[i + 2] ?? '')) {
    base = 16; i += 2;
  } else if (text[i] === '0') {
    base = 8;
  }
  let value = 0n;
  for (; i < text.length; i++) {
    const d = parseInt(text[i]!, 36);
    if (Number.isNaN(d) || d >= base) break;
    value = value * BigInt(base) + BigInt(d);
    if (value > LONG_MAX + 1n) value = LONG_MAX + 1n; // saturation below keeps it exact
  }
  if (neg) value = -value;
  if (value > LONG_MAX) value = LONG_MAX;
  if (value < LONG_MIN) value = LONG_MIN;
  return Number(BigInt.asIntN(32, value));
}

/** in.mpathd's check of FAILURE_DETECTION_TIME: the value to use and an optional log line. */
export function clampFdt(parsed: number, shown: string): { fdtMs: number; warning: string | null } {
  if (parsed <= 0) {
    return { fdtMs: DEFAULT_FDT_MS, warning: `Invalid failure detection time ${shown}, assuming default of ${DEFAULT_FDT_MS} ms` };
  }
  if (parsed < MIN_FDT_MS) {
    return { fdtMs: MIN_FDT_MS, warning: `Too small failure detection time of ${shown}, assuming minimum of ${MIN_FDT_MS} ms` };
  }
  return { fdtMs: parsed, warning: null };
}

/** in.mpathd compares the first 3 ("yes") or 2 ("no") characters, ignoring case. */
function yesNo(value: string): boolean | null {
  const v = value.toLowerCase();
  if (v.startsWith('yes')) return true;
  if (v.startsWith('no')) return false;
  return null;
}

function stripQuotes(v: string): string {
  if (v.length >= 2 && (v[0] === '"' || v[0] === "'") && v[v.length - 1] === v[0]) return v.slice(1, -1);
  return v;
}

/** Parses the file's text. `file` names it in the warnings that are not Solaris messages. */
export function parseMpathd(text: string, file: string): { tunables: MpathdTunables; warnings: string[] } {
  const tunables: MpathdTunables = {};
  const warnings: string[] = [];
  const seen = new Set<string>();
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) {
      warnings.push(`${file}:${n + 1}: ignoring a line that is not NAME=value`);
      continue;
    }
    const name = line.slice(0, eq).trim().toUpperCase();
    const value = stripQuotes(line.slice(eq + 1).trim());
    if (seen.has(name)) continue;
    seen.add(name);
    switch (name) {
      case 'FAILURE_DETECTION_TIME': {
        const r = clampFdt(cStrtolInt(value), value);
        tunables.fdtMs = r.fdtMs;
        if (r.warning) warnings.push(r.warning);
        break;
      }
      case 'FAILBACK': {
        const b = yesNo(value);
        if (b === null) warnings.push(`Invalid value for FAILBACK ${value}`);
        else tunables.failback = b;
        break;
      }
      case 'TRACK_INTERFACES_ONLY_WITH_GROUPS': {
        const b = yesNo(value);
        if (b === null) warnings.push(`Invalid value for TRACK_INTERFACES_ONLY_WITH_GROUPS ${value}`);
        else tunables.trackInterfacesOnlyWithGroups = b;
        break;
      }
      default:
        warnings.push(`${file}:${n + 1}: ignoring unknown setting ${line.slice(0, eq).trim()}`);
    }
  }
  return { tunables, warnings: warnings.map(printable) };
}
