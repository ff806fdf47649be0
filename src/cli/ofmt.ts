/**
 * Tabular output in the manner of illumos libofmt.
 *
 * A table is a list of fields (upper-case name, width). Widths include the separating blank.
 * Human mode: a header row, repeated every `pageRows` data rows; each field padded to its width
 * except the last; when a value overflows its width the excess is taken back from the padding
 * of the fields after it; an empty value prints `--`, an unobtainable one `?`.
 * Parsable mode: no header, values joined by `:`, an empty value prints nothing, and when more
 * than one field is selected `:` and `\` inside values are escaped with `\`.
 */
import type { Out } from './common.js';

export interface OfmtField<R> {
  name: string;
  width: number;
  /** The value to print: '' when empty, undefined when it cannot be obtained. */
  get(row: R): string | undefined;
}

export interface OfmtSelection<R> {
  fields: OfmtField<R>[];
  /** Names in the -o list that match no field, as the user typed them. */
  unknown: string[];
}

/** Width limit for the default field selection. */
export const DEFAULT_LINE_WIDTH = 80;

/**
 * Picks the fields to print. No list: fields in table order while the running width stays
 * within 80. `all` (any case): every field. Otherwise the comma list, matched without case.
 */
export function selectFields<R>(table: readonly OfmtField<R>[], list: string | undefined): OfmtSelection<R> {
  if (list === undefined) {
    const fields: OfmtField<R>[] = [];
    let width = 0;
    for (const f of table) {
      width += f.width;
      if (width > DEFAULT_LINE_WIDTH) break;
      fields.push(f);
    }
    return { fields, unknown: [] };
  }
  if (list.toLowerCase() === 'all') return { fields: [...table], unknown: [] };
  const fields: OfmtField<R>[] = [];
  const unknown: string[] = [];
  for (const raw of list.split(',')) {
    const name = raw.trim();
    if (name === '') continue;
    const f = table.find((t) => t.name.toLowerCase() === name.toLowerCase());
    if (f) fields.push(f);
    else unknown.push(name);
  }
  return { fields, unknown };
}

/** The text ofmt gives for unknown -o names: a warning in human mode, an error in parsable. */
export function unknownFieldsMessage(unknown: string[], parsable: boolean): string {
  const plural = unknown.length > 1 ? 's' : '';
  const lead = parsable ? `unknown output field${plural}` : `ignoring unknown output field${plural}`;
  return `${lead}: ${unknown.join(' ')}`;
}

/** Escapes `:` and `\` for parsable output. */
export function escapeParsable(value: string): string {
  return value.replace(/[\\:]/g, (c) => `\\${c}`);
}

/** One human-mode line from already-obtained values. */
export function humanLine(values: readonly string[], widths: readonly number[]): string {
  let line = '';
  let overflow = 0;
  for (let i = 0; i < values.length; i++) {
    const value = values[i] === '' ? '--' : values[i];
    if (i === values.length - 1) {
      line += value;
      break;
    }
    let width = widths[i];
    if (value.length + overflow >= width) {
      overflow += value.length - width + 1;
      line += `${value} `;
      continue;
    }
    if (overflow > 0) {
      const take = Math.min(overflow, width - value.length);
      overflow -= take;
      width -= take;
    }
    line += value.padEnd(width);
  }
  return line;
}

/** One parsable line from already-obtained values. */
export function parsableLine(values: readonly string[]): string {
  if (values.length <= 1) return values[0] ?? '';
  return values.map(escapeParsable).join(':');
}

export interface OfmtOptions {
  parsable: boolean;
  out: Out;
  /** Data rows between headers (human mode). */
  pageRows: number;
  /** Called once per field name the first time one of its values cannot be obtained. */
  onUnobtainable?: (field: string) => void;
}

/** Rows between headers: the terminal height on a tty, 24 otherwise. */
export function pageRowsFor(out: Out): number {
  if (out.isTTY && typeof out.rows === 'number' && out.rows > 0) return out.rows;
  return 24;
}

/** A printer for one selection; keeps the row count so the header repeats on time. */
export class Ofmt<R> {
  private rows = 0;
  private readonly warned = new Set<string>();

  constructor(private readonly fields: readonly OfmtField<R>[], private readonly opts: OfmtOptions) {}

  /** The values of one row as printed in parsable mode before escaping ('?' when unobtainable). */
  values(row: R): string[] {
    return this.fields.map((f) => {
      const v = f.get(row);
      if (v !== undefined) return v;
      if (!this.warned.has(f.name)) {
        this.warned.add(f.name);
        this.opts.onUnobtainable?.(f.name);
      }
      return '?';
    });
  }

  print(row: R): void {
    const values = this.values(row);
    if (this.opts.parsable) {
      this.opts.out.write(`${parsableLine(values)}\n`);
      return;
    }
    const widths = this.fields.map((f) => f.width);
    if (this.rows % this.opts.pageRows === 0) {
      this.opts.out.write(`${humanLine(this.fields.map((f) => f.name), widths)}\n`);
    }
    this.rows++;
    this.opts.out.write(`${humanLine(values, widths)}\n`);
  }
}
