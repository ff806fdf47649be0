import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  escapeParsable, humanLine, Ofmt, pageRowsFor, parsableLine, selectFields, unknownFieldsMessage,
} from '../../../src/cli/ofmt.js';
import type { OfmtField } from '../../../src/cli/ofmt.js';
import { capture } from './fake.js';

type Row = Record<string, string | undefined>;
const f = (name: string, width: number): OfmtField<Row> => ({ name, width, get: (r) => r[name] });

describe('ofmt human lines', () => {
  it('pads every field but the last to its width', () => {
    assert.equal(humanLine(['a', 'b', 'c'], [4, 4, 4]), 'a   b   c');
  });
  it('prints -- for an empty value, also in the last field', () => {
    assert.equal(humanLine(['', 'x', ''], [4, 4, 4]), '--  x   --');
  });
  it('lets later fields absorb an overflow', () => {
    // "abcdef" overflows a width of 4 by 3 (including its blank); b and c give theirs back.
    assert.equal(humanLine(['abcdef', 'b', 'c', 'd'], [4, 4, 4, 4]), 'abcdef b c  d');
  });
  it('prints a value exactly as wide as its field followed by one blank', () => {
    assert.equal(humanLine(['abcd', 'x'], [4, 4]), 'abcd x');
  });
  it('keeps overflow across several fields', () => {
    assert.equal(humanLine(['abcdefgh', 'ijklmn', 'o', 'p'], [4, 4, 8, 1]), 'abcdefgh ijklmn o p');
  });
});

describe('ofmt parsable lines', () => {
  it('escapes : and \\ only with more than one field', () => {
    assert.equal(escapeParsable('a:b\\c'), 'a\\:b\\\\c');
    assert.equal(parsableLine(['fe80::1', 'x']), 'fe80\\:\\:1:x');
    assert.equal(parsableLine(['fe80::1']), 'fe80::1');
    assert.equal(parsableLine(['', 'x', '']), ':x:');
  });
});

describe('ofmt field selection', () => {
  const table = [f('A', 30), f('B', 30), f('C', 20), f('D', 1)];
  it('takes fields in order while the total stays within 80', () => {
    assert.deepEqual(selectFields(table, undefined).fields.map((x) => x.name), ['A', 'B', 'C']);
  });
  it('all shows every field, in any case', () => {
    assert.equal(selectFields(table, 'ALL').fields.length, 4);
    assert.equal(selectFields(table, 'All').fields.length, 4);
  });
  it('matches a list without case and reports unknown names', () => {
    const sel = selectFields(table, 'd,a,zz');
    assert.deepEqual(sel.fields.map((x) => x.name), ['D', 'A']);
    assert.deepEqual(sel.unknown, ['zz']);
  });
  it('words the unknown-field message per mode', () => {
    assert.equal(unknownFieldsMessage(['x'], false), 'ignoring unknown output field: x');
    assert.equal(unknownFieldsMessage(['x', 'y'], true), 'unknown output fields: x y');
  });
});

describe('ofmt printer', () => {
  it('repeats the header every page and marks unobtainable values', () => {
    const out = capture();
    const warned: string[] = [];
    const p = new Ofmt([f('A', 3), f('B', 3)], { parsable: false, out, pageRows: 2, onUnobtainable: (n) => warned.push(n) });
    for (const r of [{ A: '1', B: '2' }, { A: '3' }, { A: '5', B: '' }]) p.print(r);
    assert.equal(out.text, 'A  B\n1  2\n3  ?\nA  B\n5  --\n');
    assert.deepEqual(warned, ['B']);
  });
  it('uses the terminal height on a tty and 24 otherwise', () => {
    assert.equal(pageRowsFor(capture()), 24);
    assert.equal(pageRowsFor(capture({ rows: 40 })), 40);
  });
});
